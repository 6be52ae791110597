import type { EntityManager } from '@mikro-orm/sql';
import type { AtriumConfig } from './config.ts';
import type { Publish } from '../graphql/subscriptions.ts';
import type { Viewer } from '../access/viewer.ts';
import type { Kernel } from '../tenancy/kernel.ts';
import type { AtriumError } from '../graphql/errors.ts';
import type { Emit } from '../events/outbox.ts';

/** What every resolver finds in its GraphQL context, next to mercurius' own fields. */
export interface AtriumRequestContext {
  /**
   * An EntityManager forked for this request (or subscription), scoped to the caller's company:
   * reads are filtered, writes stamped, and SQL runs under row-level security.
   */
  em: EntityManager;
  /** Who is calling; null when nobody signed in. */
  viewer: Viewer | null;
  /** Why presented credentials were refused (raised when a field needs a caller). */
  authError?: AtriumError;
  /** The caller presented the platform operator key. */
  platform: boolean;
  /** The client address. */
  ip: string;
  kernel: Kernel;
  config: AtriumConfig;
  publish: Publish;
  /** Writes a domain event into a unit of work: it commits (and is then dispatched) with the change. */
  emit: Emit;
  /** Called by `subscription()` once a subscription listens to its topic. */
  subscriptionStarted(): void;
  /**
   * Re-reads the caller's access (a subscription does, before delivering each event): a user who
   * lost a key or was deactivated stops receiving. Answers the current viewer — at once, unless the
   * user's access is being read from the database: then a promise to wait for before asking again
   * (one read shared by all the user's sockets; the next call answers).
   */
  refreshViewer(): Viewer | null | Promise<unknown>;
  /**
   * Subscriptions only: whether a socket that still buffers this many messages (its unsent bytes, in
   * messages of the size about to be sent) may take one more; past `subscriptionMaxQueuedEvents` it
   * is closed with 1013 (try again later).
   */
  keepingUp(queued: number): boolean;
}

declare module 'mercurius' {
  interface MercuriusContext extends AtriumRequestContext {}
}
