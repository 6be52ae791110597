import type { RateLimiter } from './rate-limit.ts';
import type { PresenceStore } from './presence.ts';
import type { SharedQueues } from './queue.ts';

/**
 * What several instances must share. Without it an app runs alone with in-memory implementations;
 * `@atrium/plugin-redis` provides Redis-backed ones behind the same interfaces.
 */
export interface Infrastructure {
  /** An mqemitter-compatible emitter for subscriptions (e.g. mqemitter-redis). */
  emitter?: object;
  rateLimiter?: RateLimiter;
  presence?: PresenceStore;
  queues?: SharedQueues;
  /** An ioredis client: HTTP rate limits (@fastify/rate-limit) count in it across instances. */
  redis?: unknown;
  /** Namespace of the keys the kernel writes through `redis` (default `atrium:`). */
  prefix?: string;
  /** Releases connections when the app stops. */
  close?: () => Promise<void>;
}
