import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/sql';
import { AtriumError } from '../graphql/errors.ts';
import { newId, isId } from '../db/ids.ts';

/** Signs and verifies access tokens (JWT, via @fastify/jwt). */
export interface AccessTokenSigner {
  sign(claims: AccessClaims, expiresInSeconds: number): string;
  /** Throws on a forged, malformed, `alg: none` or expired token. */
  verify(token: string): AccessClaims & { exp: number };
}

/** What an access token says. */
export interface AccessClaims {
  /** User id. */
  sub: string;
  /** Company id. */
  cid: string;
}

export const unauthenticated = (message = 'Invalid or expired credentials'): AtriumError => new AtriumError('UNAUTHENTICATED', message);

/**
 * Remembers the tokens `verify` accepted, keyed by the whole token, until their `exp`: a request
 * with a known token skips the signature check. (fast-jwt's own cache hashes every token with
 * SHA-256 to look it up, and @fastify/jwt merges its options on every call: together most of the
 * kernel's own cost per request.) Refusals are not kept; at most `size` tokens, the oldest evicted.
 */
export function cachingVerifier(verify: AccessTokenSigner['verify'], size = 1000, now: () => number = Date.now): AccessTokenSigner['verify'] {
  const verified = new Map<string, AccessClaims & { exp: number }>();
  return (token) => {
    const known = verified.get(token);
    if (known) {
      if (now() < known.exp * 1000) return known;
      verified.delete(token);
    }
    const claims = verify(token);
    if (typeof claims.exp === 'number') {
      if (verified.size >= size) verified.delete(verified.keys().next().value!);
      // Handed to every request with this token: nobody may change it.
      verified.set(token, Object.freeze(claims));
    }
    return claims;
  };
}

const sha256 = (value: string): string => createHash('sha256').update(value).digest('hex');

interface TokenRow {
  id: string;
  family_id: string;
  user_id: string;
  token_hash: string;
  expires_at: Date | string;
  used_at: Date | string | null;
  revoked_at: Date | string | null;
}

/** A new refresh token `<row id>.<secret>`; only the secret's hash is stored. */
export async function issueRefreshToken(em: EntityManager, userId: string, familyId: string, ttlSeconds: number): Promise<string> {
  const id = newId();
  const secret = randomBytes(32).toString('base64url');
  await em.execute(
    'insert into refresh_token (id, family_id, user_id, token_hash, expires_at) values (?, ?, ?, ?, ?)',
    [id, familyId, userId, sha256(secret), new Date(Date.now() + ttlSeconds * 1000)],
    'run',
  );
  return `${id}.${secret}`;
}

/** Starts a login session: a new family. */
export function startSession(em: EntityManager, userId: string, ttlSeconds: number): Promise<string> {
  return issueRefreshToken(em, userId, newId(), ttlSeconds);
}

async function findToken(em: EntityManager, token: string): Promise<TokenRow | undefined> {
  const [id, secret] = token.split('.');
  if (!id || !secret || !isId(id)) return undefined;
  const rows: TokenRow[] = await em.execute('select * from refresh_token where id = ?', [id], 'all');
  const row = rows[0];
  if (!row) return undefined;
  const expected = Buffer.from(row.token_hash, 'hex');
  const actual = Buffer.from(sha256(secret), 'hex');
  return expected.length === actual.length && timingSafeEqual(expected, actual) ? row : undefined;
}

async function revokeFamily(em: EntityManager, familyId: string): Promise<void> {
  await em.execute(
    'update refresh_token set revoked_at = now() where family_id = ? and revoked_at is null',
    [familyId],
    'run',
  );
}

/**
 * Uses a refresh token: it is spent and a new one of the same family returned. Presenting a token
 * already spent means it leaked: the whole family is revoked. The spend is a conditional update, so
 * two concurrent uses cannot both succeed.
 */
export async function rotateRefreshToken(em: EntityManager, token: string, ttlSeconds: number): Promise<{ userId: string; refreshToken: string }> {
  const row = await findToken(em, token);
  if (!row || row.revoked_at || new Date(row.expires_at).getTime() <= Date.now()) throw unauthenticated();
  if (row.used_at) {
    await revokeFamily(em, row.family_id);
    throw unauthenticated('This session was ended because a refresh token was used twice; sign in again');
  }
  const spent = await em.execute(
    'update refresh_token set used_at = now() where id = ? and used_at is null and revoked_at is null',
    [row.id],
    'run',
  );
  if ((spent as { affectedRows?: number }).affectedRows !== 1) {
    await revokeFamily(em, row.family_id);
    throw unauthenticated('This session was ended because a refresh token was used twice; sign in again');
  }
  return { userId: row.user_id, refreshToken: await issueRefreshToken(em, row.user_id, row.family_id, ttlSeconds) };
}

/** Ends the session a refresh token belongs to. False when the token is unknown. */
export async function revokeSession(em: EntityManager, token: string): Promise<boolean> {
  const row = await findToken(em, token);
  if (!row) return false;
  await revokeFamily(em, row.family_id);
  return true;
}

/** Ends every session of a user (deactivation). */
export async function revokeUserSessions(em: EntityManager, userId: string): Promise<void> {
  await em.execute(
    'update refresh_token set revoked_at = now() where user_id = ? and revoked_at is null',
    [userId],
    'run',
  );
}
