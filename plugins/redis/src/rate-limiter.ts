import type { RateLimiter, RateLimitResult } from '@atrium/core';
import { RedisUnavailableError, type Connection } from './connection.ts';
import { defineScript, type Script } from './script.ts';

// One fixed window per key: the first hit creates the counter with the window as its time to live.
// INCR and PEXPIRE run in one script, so a counter never outlives its window (a crash between the
// two commands would leave a counter without expiry: a key locked out for good). A counter found
// without a time to live gets one, for the same reason.
const HIT = `
local count = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return { count, ttl }
`;

/** How soon a refused client may try again when the limiter fails closed (Redis is down, not the client). */
const FAIL_CLOSED_RETRY_MS = 1000;

/**
 * Fixed-window counters in Redis, shared by every instance. When Redis cannot answer, `failOpen`
 * decides: allow the attempt (true) or refuse it (false).
 */
export class RedisRateLimiter implements RateLimiter {
  readonly #connection: Connection;
  readonly #prefix: string;
  readonly #failOpen: boolean;
  readonly #report: (error: Error) => void;
  readonly #hit: Script<[number, number]>;

  constructor(connection: Connection, prefix: string, failOpen: boolean, report: (error: Error) => void) {
    this.#connection = connection;
    this.#prefix = `${prefix}rate:`;
    this.#failOpen = failOpen;
    this.#report = report;
    this.#hit = defineScript(connection, HIT);
  }

  async hit(key: string, limit: number, windowMs: number): Promise<RateLimitResult> {
    const window = Math.max(1, Math.ceil(windowMs));
    try {
      const [count, ttl] = await this.#hit(this.#prefix + key, window);
      return { allowed: count <= limit, remaining: Math.max(0, limit - count), resetInMs: ttl };
    } catch (error) {
      this.#reportUnexpected(error as Error);
      return this.#failOpen
        ? { allowed: true, remaining: Math.max(0, limit - 1), resetInMs: window }
        : { allowed: false, remaining: 0, resetInMs: Math.min(window, FAIL_CLOSED_RETRY_MS) };
    }
  }

  async reset(key: string): Promise<void> {
    try {
      await this.#connection.usable();
      await this.#connection.redis.del(this.#prefix + key);
    } catch (error) {
      // Failing open, a counter that could not be reset still expires with its window.
      if (!this.#failOpen) throw error;
      this.#reportUnexpected(error as Error);
    }
  }

  /** An outage is reported once by its connection; other failures (a timeout, a script error) each time. */
  #reportUnexpected(error: Error): void {
    if (!(error instanceof RedisUnavailableError)) this.#report(error);
  }
}
