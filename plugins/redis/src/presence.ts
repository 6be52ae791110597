import type { PresenceStore } from '@atrium/core';
import type { Connection } from './connection.ts';
import { defineScript, LUA_NOW_MS, type Script } from './script.ts';

// One sorted set per scope: member → expiry (ms, by the Redis server's clock, so that instances with
// skewed clocks agree on who is online). Expired members are swept on writes and listings, and the
// whole key expires with its last member, so an abandoned scope leaves nothing behind.
const SET = `
${LUA_NOW_MS}
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
redis.call('PEXPIREAT', KEYS[1], last[2])
return 1
`;

const IS_ONLINE = `
local expiry = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not expiry then return 0 end
${LUA_NOW_MS}
if tonumber(expiry) > now then return 1 end
return 0
`;

const ONLINE = `
${LUA_NOW_MS}
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
return redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. now, '+inf')
`;

/** Presence in Redis, shared by every instance. Errors (Redis down) propagate to the caller. */
export class RedisPresenceStore implements PresenceStore {
  readonly #connection: Connection;
  readonly #prefix: string;
  readonly #set: Script<number>;
  readonly #isOnline: Script<number>;
  readonly #online: Script<string[]>;

  constructor(connection: Connection, prefix: string) {
    this.#connection = connection;
    this.#prefix = `${prefix}presence:`;
    this.#set = defineScript(connection, SET);
    this.#isOnline = defineScript(connection, IS_ONLINE);
    this.#online = defineScript(connection, ONLINE);
  }

  async set(scope: string, member: string, ttlMs: number): Promise<void> {
    await this.#set(this.#prefix + scope, member, Math.max(1, Math.ceil(ttlMs)));
  }

  async remove(scope: string, member: string): Promise<void> {
    await this.#connection.usable();
    await this.#connection.redis.zrem(this.#prefix + scope, member);
  }

  async isOnline(scope: string, member: string): Promise<boolean> {
    return (await this.#isOnline(this.#prefix + scope, member)) === 1;
  }

  online(scope: string): Promise<string[]> {
    return this.#online(this.#prefix + scope);
  }
}
