import type { EntityManager } from '@mikro-orm/sql';
import type { MikroORM } from '@mikro-orm/core';
import type { AtriumConfig } from '../app/config.ts';
import type { ResolvedPlugin } from '../plugin/registry.ts';
import type { PermissionRegistry } from '../access/permissions.ts';
import type { Viewer } from '../access/viewer.ts';
import type { RateLimiter } from '../shared/rate-limit.ts';
import type { PresenceStore } from '../shared/presence.ts';
import type { SharedQueues } from '../shared/queue.ts';
import type { AccessTokenSigner } from '../auth/tokens.ts';
import { afterCommit } from '../db/after-commit.ts';
import { arrayParam } from '../db/array-param.ts';
import type { AtriumError } from '../graphql/errors.ts';
import type { EventRegistry } from '../events/outbox.ts';

/** The kernel's shared services, one per app. */
export interface Kernel {
  config: AtriumConfig;
  /** For work across companies (sign-up, sign-in, the platform API): never a request's scope. */
  orm: MikroORM;
  modules: readonly ResolvedPlugin[];
  permissions: PermissionRegistry;
  /** Attempt counters (login, messages per minute…), shared between instances when Redis is on. */
  limiter: RateLimiter;
  /** Who is online, shared between instances when Redis is on. */
  presence: PresenceStore;
  /** Small round-robin queues, shared between instances when Redis is on. */
  queues: SharedQueues;
  tokens: AccessTokenSigner;
  /** Declared events; `emit` writes one into a unit of work. */
  events: EventRegistry;
  /** A hash of a random password with the configured cost: unknown e-mails are checked against it. */
  decoyPasswordHash: Promise<string>;
  /**
   * Built viewers by user id, valid while their access stamp holds; the stamp itself is re-read at
   * most every `auth.accessRecheckMs`. Changes made on this instance drop the entries at once
   * (`forgetViewers`); other instances notice within that interval.
   */
  viewerCache: Map<string, { stamp: string; checkedAt: number; viewer: Viewer }>;
  /**
   * Moves with every `forgetViewers`: a viewer read begun before it is neither cached nor shared with
   * later callers, and live sockets read their access again before their next event.
   */
  viewerEpoch: number;
}

/** Drops cached viewers after an access change: one user's, or every user's of the given companies. */
export function forgetViewers(kernel: Kernel, change: { userId?: string; companyIds?: string[] }): void {
  kernel.viewerEpoch++;
  if (change.userId) kernel.viewerCache.delete(change.userId);
  if (change.companyIds?.length) {
    const companies = new Set(change.companyIds);
    for (const [userId, entry] of kernel.viewerCache) if (companies.has(entry.viewer.companyId)) kernel.viewerCache.delete(userId);
  }
}

/**
 * Drops cached viewers after an access change written in `em`'s transaction: at once, and again
 * when it commits — a re-read in between still saw the committed access stamp and cached the viewer
 * as it was before the change (for `auth.accessRecheckMs`).
 */
export function forgetViewersOnCommit(em: EntityManager, kernel: Kernel, change: { userId?: string; companyIds?: string[] }): void {
  forgetViewers(kernel, change);
  if (em.isInTransaction()) void afterCommit(em, () => forgetViewers(kernel, change));
}

/**
 * Records, in `em`'s transaction, that something deciding these users' access changed (a fact a
 * module grants access by, read with `viewerFact`): their access stamps move, so every instance
 * builds their viewers again — this one at once and when the transaction commits, the others within
 * `auth.accessRecheckMs`. A rollback leaves the stamps as they were.
 */
export async function accessChanged(em: EntityManager, kernel: Kernel, userIds: readonly string[]): Promise<void> {
  if (!userIds.length) return;
  await em.execute('update app_user set access_version = access_version + 1 where id = any(?::uuid[])', [arrayParam(userIds)]);
  for (const userId of userIds) forgetViewersOnCommit(em, kernel, { userId });
}

/**
 * An EntityManager outside any company's scope: no tenant filter, no row-level security role. Only
 * for the kernel's work across companies — whatever credentials the request also carried. (Forks of
 * the global EntityManager skip MikroORM's context resolution: inside a transaction's async context
 * they would otherwise resolve to that transaction.)
 */
export const systemEm = (kernel: Kernel): EntityManager => kernel.orm.em.fork({ disableContextResolution: true }) as EntityManager;

/**
 * Scopes an EntityManager to one company as a signed-in request's is: reads filtered, writes stamped,
 * SQL under row-level security. For work a company is known for without a signed-in caller (a public
 * widget's token, a job).
 */
export function scopeToCompany(em: EntityManager, kernel: Kernel, companyId: string): EntityManager {
  em.setFilterParams('tenant', { companyId });
  // The role as a variable too (session-context.ts writes it as `set local role`).
  if (kernel.config.rowLevelSecurity) em.setSessionContext({ variables: { role: 'atrium_tenant', 'app.company_id': companyId } });
  return em;
}

/** A fresh EntityManager scoped to one company (see `scopeToCompany`). */
export const companyEm = (kernel: Kernel, companyId: string): EntityManager => scopeToCompany(systemEm(kernel), kernel, companyId);

/** What a kernel service works with: a request's EntityManager, its caller, the kernel. */
export interface ServiceContext {
  em: EntityManager;
  kernel: Kernel;
  viewer: Viewer | null;
  /** The caller presented the platform operator key. */
  platform: boolean;
  /** Why the credentials presented were refused, if they were. */
  authError?: AtriumError;
  /** The client address, for rate limits. */
  ip: string;
}
