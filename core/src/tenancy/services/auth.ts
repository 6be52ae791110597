import type { EntityManager } from '@mikro-orm/sql';
import { AtriumError, conflict } from '../../graphql/errors.ts';
import { createValidator } from '../../validation.ts';
import { hashPassword, verifyPassword } from '../../auth/passwords.ts';
import { revokeSession, rotateRefreshToken, startSession, unauthenticated } from '../../auth/tokens.ts';
import { Branch, Company, Plan, User } from '../entities.ts';
import { flushOrConflict } from '../../db/unique.ts';
import { systemEm, type Kernel, type ServiceContext } from '../kernel.ts';
import { companyModules, planForNewCompany, runOnEnable } from './companies.ts';

export interface AuthPayload {
  accessToken: string;
  refreshToken: string;
  user: User;
}

/** Passwords: at least 10 characters (NIST SP 800-63B allows long passphrases; the cap bounds hashing cost). */
export const passwordSchema = { type: 'string', minLength: 10, maxLength: 256 };
export const emailSchema = { type: 'string', format: 'email', maxLength: 254 };
export const normalizeEmail = (email: string): string => email.trim().toLowerCase();

/** CONFLICT for an address some account (of any company) already has. */
export const emailTaken = (): AtriumError => conflict('This e-mail address is already registered', { fields: { 'input.email': 'is already registered' } });

const validateSignUp = createValidator<{ companyName: string; email: string; password: string; displayName: string }>({
  type: 'object',
  additionalProperties: false,
  required: ['companyName', 'email', 'password', 'displayName'],
  properties: {
    companyName: { type: 'string', minLength: 1, maxLength: 200, pattern: '\\S' },
    email: emailSchema,
    password: passwordSchema,
    displayName: { type: 'string', minLength: 1, maxLength: 200, pattern: '\\S' },
  },
});

const validateLogin = createValidator<{ email: string; password: string }>({
  type: 'object',
  additionalProperties: false,
  required: ['email', 'password'],
  properties: { email: { type: 'string', maxLength: 254 }, password: { type: 'string', maxLength: 256 } },
});

/** Users that an AuthPayload is answering for: they see their own e-mail address before any token is used. */
export const signedInUsers = new WeakSet<User>();

/** An access token and a new session for a user. */
export async function issueTokens(em: EntityManager, kernel: Kernel, user: User): Promise<AuthPayload> {
  const accessToken = kernel.tokens.sign({ sub: user.id, cid: user.companyId }, kernel.config.auth.accessTokenTtlSeconds);
  const refreshToken = await startSession(em, user.id, kernel.config.auth.refreshTokenTtlSeconds);
  signedInUsers.add(user);
  return { accessToken, refreshToken, user };
}

async function limit(kernel: Kernel, key: string, max: number, windowMs: number): Promise<void> {
  const result = await kernel.limiter.hit(key, max, windowMs);
  if (!result.allowed) {
    throw new AtriumError('RATE_LIMITED', 'Too many attempts; try again later', { retryAfterSeconds: Math.ceil(result.resetInMs / 1000) });
  }
}

/** Creates a company on the default plan, its first branch and its OWNER, and signs the owner in. */
export async function signUp(context: ServiceContext, input: unknown): Promise<AuthPayload> {
  const data = validateSignUp(input);
  const { kernel } = context;
  await limit(kernel, `signup:ip:${context.ip}`, kernel.config.auth.signUpsPerHourPerIp, 3_600_000);
  const passwordHash = await hashPassword(data.password, kernel.config.auth.passwordCost);
  const email = normalizeEmail(data.email);
  return systemEm(kernel).transactional(async (em) => {
    const plan = await planForNewCompany(em, kernel);
    const company = em.create(Company, { name: data.companyName.trim(), plan: em.getReference(Plan, plan.id), accessVersion: 1 });
    // companyId is a plain column to the ORM: the company must exist before rows that point to it.
    await em.flush();
    const branch = em.create(Branch, { companyId: company.id, name: 'Main' });
    const user = em.create(User, {
      companyId: company.id,
      email,
      passwordHash,
      displayName: data.displayName.trim(),
      systemRole: 'OWNER',
      active: true,
      accessVersion: 1,
    });
    user.branches.add(branch);
    // One address, one account: the unique index decides, also between two sign-ups at once.
    await flushOrConflict(em, emailTaken);
    await runOnEnable(em, kernel, company.id, await companyModules(em, kernel, company));
    return issueTokens(em, kernel, user);
  });
}

/**
 * Signs in. An unknown e-mail, a wrong password and a deactivated user answer the same error after
 * the same work (a password check against a decoy hash); attempts are limited per IP and per e-mail.
 */
export async function login(context: ServiceContext, input: unknown): Promise<AuthPayload> {
  const data = validateLogin(input);
  const { kernel } = context;
  const email = normalizeEmail(data.email);
  const { loginAttemptsPerIp, loginAttemptsPerEmail, loginWindowSeconds } = kernel.config.auth;
  await limit(kernel, `login:ip:${context.ip}`, loginAttemptsPerIp, loginWindowSeconds * 1000);
  await limit(kernel, `login:email:${email}`, loginAttemptsPerEmail, loginWindowSeconds * 1000);
  const em = systemEm(kernel);
  const user = await em.findOne(User, { email }, { filters: false, populate: ['passwordHash'] });
  const valid = await verifyPassword(data.password, user?.passwordHash ?? (await kernel.decoyPasswordHash));
  if (!user || !valid || !user.active) throw unauthenticated('Wrong e-mail or password');
  return em.transactional((tx) => issueTokens(tx, kernel, user));
}

/** Spends a refresh token for a new access token and refresh token. */
export async function refreshSession(context: ServiceContext, refreshToken: string): Promise<AuthPayload> {
  const { kernel } = context;
  // The family revocation on reuse must persist even though the call then fails.
  const em = systemEm(kernel);
  const rotated = await em.transactional((tx) => rotateRefreshToken(tx, refreshToken, kernel.config.auth.refreshTokenTtlSeconds).catch((error) => ({ error })));
  if ('error' in rotated) throw rotated.error;
  const user = await em.findOne(User, { id: rotated.userId }, { filters: false });
  if (!user?.active) throw unauthenticated();
  const accessToken = kernel.tokens.sign({ sub: user.id, cid: user.companyId }, kernel.config.auth.accessTokenTtlSeconds);
  signedInUsers.add(user);
  return { accessToken, refreshToken: rotated.refreshToken, user };
}

export function logout(context: ServiceContext, refreshToken: string): Promise<boolean> {
  return systemEm(context.kernel).transactional((em) => revokeSession(em, refreshToken));
}
