import { timingSafeEqual } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/sql';
import type { AtriumError } from '../graphql/errors.ts';
import { unauthenticated, type AccessClaims } from '../auth/tokens.ts';
import { buildViewer, type Viewer, type ViewerFacts } from './viewer.ts';
import { hashApiKeySecret, parseApiKey } from '../tenancy/services/api-keys.ts';
import type { Kernel } from '../tenancy/kernel.ts';
import type { SystemRole } from '../tenancy/entities.ts';
import { entryOf } from '../shared/entry.ts';
import { arrayParam } from '../db/array-param.ts';
import { isId } from '../db/ids.ts';

/** The outcome of reading a request's credentials. */
export interface Authentication {
  viewer: Viewer | null;
  platform: boolean;
  /** Set when credentials were presented and refused; raised when the caller needs a viewer. */
  error?: AtriumError;
}

const MAX_CACHED_VIEWERS = 10_000;

/** The re-read of users' access stamps (at most every `auth.accessRecheckMs` per user; those asked for together, in one statement). */
export const ACCESS_STAMP_SQL =
  'select u.id, u.company_id, u.active, u.system_role, u.access_version as uv, c.access_version as cv from app_user u join company c on c.id = u.company_id where u.id = any(?::uuid[])';

interface AccessStamp {
  id: string;
  company_id: string;
  active: boolean;
  system_role: SystemRole;
  uv: number;
  cv: number;
}

/** Stamps asked for but not yet read, per kernel: read together once the current task yields. */
const stampBatches = new WeakMap<Kernel, Map<string, PromiseWithResolvers<AccessStamp | undefined>>>();

/**
 * A user's access stamp. The stamps asked for in one go — a live event offered to the sockets of
 * many users, whose re-reads fall due together — are read with one statement.
 */
function readStamp(kernel: Kernel, connection: Connection, userId: string): Promise<AccessStamp | undefined> {
  if (!isId(userId)) return Promise.resolve(undefined);
  let batch = stampBatches.get(kernel);
  if (!batch) {
    const pending = new Map<string, PromiseWithResolvers<AccessStamp | undefined>>();
    stampBatches.set(kernel, pending);
    batch = pending;
    queueMicrotask(() => {
      stampBatches.delete(kernel);
      rows<AccessStamp>(connection, ACCESS_STAMP_SQL, [arrayParam([...pending.keys()])]).then(
        (found) => {
          const byId = new Map(found.map((row) => [row.id, row]));
          for (const [id, waiting] of pending) waiting.resolve(byId.get(id));
        },
        (error: unknown) => {
          for (const waiting of pending.values()) waiting.reject(error);
        },
      );
    });
  }
  return entryOf(batch, userId, () => Promise.withResolvers<AccessStamp | undefined>()).promise;
}

/** The ORM's connection: credentials are read with plain SQL, outside any request's unit of work. */
type Connection = ReturnType<EntityManager['getConnection']>;

async function rows<T>(connection: Connection, sql: string, params: unknown[]): Promise<T[]> {
  return connection.execute(sql, params, 'all');
}

/** Whether the presented platform key is the configured one (constant time). */
export function isPlatformKey(kernel: Kernel, presented: string | undefined): boolean {
  const expected = kernel.config.platformKey;
  if (!expected || !presented) return false;
  const a = Buffer.from(presented);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * Reads `authorization: Bearer <access token>` or `authorization: ApiKey <key>`. A user's access stamp
 * (user and company versions) is re-read at most every `auth.accessRecheckMs` (at once after an access
 * change on this instance), and the built ability is reused while it is unchanged; an API key's state
 * is read on every call. Answers without a promise when the user's cached viewer is fresh (it runs per
 * request, and per live event for each subscriber); throws UNAUTHENTICATED.
 */
export function authenticate(kernel: Kernel, authorization: string | undefined): Viewer | null | Promise<Viewer | null> {
  if (!authorization) return null;
  const [scheme, credential] = authorization.trim().split(/\s+/, 2);
  if (!credential) throw unauthenticated('Malformed authorization header');
  if (/^bearer$/i.test(scheme!)) return userViewer(kernel, credential);
  if (/^apikey$/i.test(scheme!)) return apiKeyViewer(kernel, connectionOf(kernel), credential);
  throw unauthenticated('Unsupported authorization scheme');
}

const connectionOf = (kernel: Kernel): Connection => (kernel.orm.em as EntityManager).getConnection();

/** Not async: a viewer cached and still fresh is answered without a promise of its own (it runs on every request). */
function userViewer(kernel: Kernel, token: string): Viewer | Promise<Viewer> {
  let claims: AccessClaims;
  try {
    claims = kernel.tokens.verify(token);
  } catch {
    throw unauthenticated('Invalid or expired access token');
  }
  const cachedEntry = kernel.viewerCache.get(claims.sub);
  if (cachedEntry && cachedEntry.viewer.companyId === claims.cid && Date.now() - cachedEntry.checkedAt < kernel.config.auth.accessRecheckMs) {
    return cachedEntry.viewer;
  }
  // One re-read per user at a time: a user's many sockets re-checking at once share it.
  const reading = entryOf(inFlight, kernel, () => new Map<string, Promise<Viewer>>());
  const key = `${claims.sub}:${claims.cid}:${kernel.viewerEpoch}`;
  return entryOf(reading, key, () => readViewer(kernel, connectionOf(kernel), claims).finally(() => reading.delete(key)));
}

const inFlight = new WeakMap<Kernel, Map<string, Promise<Viewer>>>();

/** Reads the user's access stamp; rebuilds the viewer only when it changed. */
async function readViewer(kernel: Kernel, connection: Connection, claims: AccessClaims): Promise<Viewer> {
  const epoch = kernel.viewerEpoch;
  const cachedEntry = kernel.viewerCache.get(claims.sub);
  const state = await readStamp(kernel, connection, claims.sub);
  if (!state?.active || state.company_id !== claims.cid) throw unauthenticated('Invalid or expired access token');
  const stamp = `${state.uv}:${state.cv}`;
  // An access change on this instance since the read began may have been committed after it: the
  // answer is good for those who asked before, not to be trusted for `accessRecheckMs`.
  const current = () => kernel.viewerEpoch === epoch;
  if (cachedEntry?.stamp === stamp) {
    if (current()) cachedEntry.checkedAt = Date.now();
    return cachedEntry.viewer;
  }

  const [roleRows, branchRows, company] = await Promise.all([
    rows<{ permissions: string[] }>(connection, 'select r.permissions from user_role ur join role r on r.id = ur.role_id where ur.user_id = ?', [claims.sub]),
    rows<{ branch_id: string }>(connection, 'select branch_id from user_branch where user_id = ?', [claims.sub]),
    companyFacts(connection, state.company_id),
  ]);
  const viewer = buildViewer(
    {
      kind: 'user',
      id: claims.sub,
      companyId: state.company_id,
      systemRole: state.system_role,
      branchIds: branchRows.map((r) => r.branch_id),
      roleKeys: roleRows.flatMap((r) => r.permissions),
      ...company,
    },
    kernel.modules,
    kernel.permissions,
  );
  if (!current()) return viewer;
  if (kernel.viewerCache.size >= MAX_CACHED_VIEWERS) kernel.viewerCache.clear();
  kernel.viewerCache.set(claims.sub, { stamp, checkedAt: Date.now(), viewer });
  return viewer;
}

async function companyFacts(connection: Connection, companyId: string): Promise<Pick<ViewerFacts, 'planModules' | 'overrides'>> {
  const [plan] = await rows<{ modules: string[] }>(connection, 'select p.modules from company c join plan p on p.id = c.plan_id where c.id = ?', [companyId]);
  const overrides = await rows<{ module: string; enabled: boolean | null }>(connection, 'select module, enabled from company_module where company_id = ?', [companyId]);
  return { planModules: plan?.modules ?? [], overrides };
}

async function apiKeyViewer(kernel: Kernel, connection: Connection, key: string): Promise<Viewer> {
  const parsed = parseApiKey(key);
  const [row] = parsed
    ? await rows<{ id: string; company_id: string; key_hash: string; permissions: string[]; revoked_at: Date | null }>(connection, 'select * from api_key where id = ?', [parsed.id])
    : [];
  const expected = Buffer.from(row?.key_hash ?? '0'.repeat(64), 'hex');
  const actual = Buffer.from(hashApiKeySecret(parsed?.secret ?? ''), 'hex');
  if (!row || row.revoked_at || !timingSafeEqual(expected, actual)) throw unauthenticated('Invalid API key');
  await connection.execute('update api_key set last_used_at = now() where id = ?', [row.id], 'run');
  const branches = await rows<{ id: string }>(connection, 'select id from branch where company_id = ?', [row.company_id]);
  return buildViewer(
    {
      kind: 'apiKey',
      id: row.id,
      companyId: row.company_id,
      systemRole: 'MEMBER',
      branchIds: branches.map((b) => b.id),
      roleKeys: row.permissions,
      ...(await companyFacts(connection, row.company_id)),
    },
    kernel.modules,
    kernel.permissions,
  );
}
