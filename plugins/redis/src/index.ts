/**
 * `@atrium/plugin-redis` — what several Atrium instances share, in Redis: the subscriptions emitter
 * (mqemitter-redis), rate-limit counters, presence and round-robin queues.
 *
 * ```ts
 * await runApp(() => createApp({ modules, infrastructure: redisInfrastructure() }));
 * ```
 * @packageDocumentation
 */
import type { Redis, RedisOptions } from 'ioredis';
import type { Infrastructure } from '@atrium/core';
import { Connection } from './connection.ts';
import { createEmitter, type RedisEmitter } from './emitter.ts';
import { RedisRateLimiter } from './rate-limiter.ts';
import { RedisPresenceStore } from './presence.ts';
import { RedisSharedQueues } from './queues.ts';

export { RedisUnavailableError } from './connection.ts';
export { RedisRateLimiter } from './rate-limiter.ts';
export { RedisPresenceStore } from './presence.ts';
export { RedisSharedQueues } from './queues.ts';
export type { RedisEmitter, Message } from './emitter.ts';

export interface RedisInfrastructureOptions {
  /** `redis://[[user]:password@]host[:port][/db]` or `rediss://…` (default: `REDIS_URL`). */
  url?: string;
  /** Namespace of every key and pub/sub channel (default `atrium:`): apps sharing a Redis keep apart. */
  prefix?: string;
  /**
   * When Redis cannot answer, rate limiting lets attempts through (true, the default) or refuses
   * them (false). Presence and queues always propagate the error.
   */
  failOpen?: boolean;
  /**
   * How long a command may wait for an answer before it fails, and how long one issued before the
   * first connection waits for it (default 1000 ms).
   */
  commandTimeoutMs?: number;
  /** Where connection problems go (default `console.error`); an outage is reported once per connection. */
  onError?: (error: Error) => void;
  /** More ioredis options (TLS, `retryStrategy`, …); the plugin's own settings take precedence. */
  redisOptions?: RedisOptions;
}

/** Infrastructure backed by Redis, with every part present, and its connections' health. */
export interface RedisInfrastructure extends Required<Infrastructure> {
  emitter: RedisEmitter;
  rateLimiter: RedisRateLimiter;
  presence: RedisPresenceStore;
  queues: RedisSharedQueues;
  /**
   * The commands connection, lent to the kernel for its HTTP rate limits (@fastify/rate-limit). It
   * fails at once while Redis is down (no offline queue); keys written through it are not under
   * `prefix` unless the user adds it.
   */
  redis: Redis;
  /** The namespace of every key and channel. */
  readonly prefix: string;
  /** True while both connections (commands and publishing; subscriptions) are ready. */
  readonly connected: boolean;
  /** Each connection's ioredis status: `ready` when usable, `reconnecting` during an outage, `end` once closed. */
  readonly status: { readonly commands: string; readonly subscriber: string };
  /**
   * Resolves once both connections are ready and have answered a PING — after start-up, or after an
   * outage (subscriptions are renewed by then, so events published afterwards arrive).
   */
  ready(): Promise<void>;
}

const CLOSE_TIMEOUT_MS = 2000;

/**
 * Connects to Redis and returns the shared state for `createApp({ infrastructure })`. Two connections
 * per instance: one for commands and publishing, one for subscriptions (Redis reserves a subscribed
 * connection for pub/sub). Both reconnect on their own; while one is down, commands fail at once
 * instead of waiting for it (see the README for what each part does then).
 */
export function redisInfrastructure(options: RedisInfrastructureOptions = {}): RedisInfrastructure {
  const url = options.url ?? process.env.REDIS_URL;
  if (!url) throw new Error('redisInfrastructure needs a Redis URL: pass { url } or set REDIS_URL');
  const prefix = options.prefix ?? 'atrium:';
  const report = options.onError ?? ((error: Error) => console.error(`[@atrium/plugin-redis] ${error.message}`));
  const commandTimeout = options.commandTimeoutMs ?? 1000;
  // ioredis arms this timer when a connection is closed while Redis is down, for a socket that has
  // already closed: its default (2 s) keeps the process alive that long after close().
  const common: RedisOptions = { ...options.redisOptions, disconnectTimeout: 100 };

  const commands = new Connection('atrium-commands', url, {
    ...common,
    // Nothing waits in ioredis' offline queue: while Redis is down a command fails at once (the
    // plugin's own commands wait for the very first connection in Connection.usable instead). This
    // client is also lent to the kernel as `redis` (HTTP rate limits), which gets the same behaviour.
    enableOfflineQueue: false,
    // A command in flight when Redis goes away fails after commandTimeout instead of hanging.
    commandTimeout,
    maxRetriesPerRequest: 1,
  }, commandTimeout, report);
  const subscriber = new Connection('atrium-subscriber', url, {
    ...common,
    // SUBSCRIBE issued while Redis is down waits for it: ioredis only renews subscriptions it saw
    // succeed, and mqemitter-redis never retries one that failed.
    maxRetriesPerRequest: null,
  }, commandTimeout, report);

  let closing: Promise<void> | undefined;
  return {
    emitter: createEmitter(commands, subscriber, `${prefix}pubsub:`, report),
    rateLimiter: new RedisRateLimiter(commands, prefix, options.failOpen ?? true, report),
    presence: new RedisPresenceStore(commands, prefix),
    queues: new RedisSharedQueues(commands, prefix),
    redis: commands.redis,
    prefix,
    get connected() {
      return commands.ready && subscriber.ready;
    },
    get status() {
      return { commands: commands.status, subscriber: subscriber.status };
    },
    async ready() {
      await Promise.all([commands.whenReady(), subscriber.whenReady()]);
    },
    close() {
      closing ??= Promise.all([commands.close(CLOSE_TIMEOUT_MS), subscriber.close(CLOSE_TIMEOUT_MS)]).then(() => {});
      return closing;
    },
  };
}
