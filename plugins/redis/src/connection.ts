import { Redis, type RedisOptions } from 'ioredis';

/** Thrown at once, instead of waiting, when Redis cannot be reached. */
export class RedisUnavailableError extends Error {
  constructor(name: string, status: string) {
    super(`Redis is unavailable (${name} connection ${status})`);
    this.name = 'RedisUnavailableError';
  }
}

/**
 * One ioredis connection and what the plugin needs to know about its health. ioredis reconnects on
 * its own; `usable()` adds the rule that a command fails at once while a connection that was up is
 * down, rather than waiting in ioredis' offline queue — a request must not hang on an outage.
 */
export class Connection {
  readonly redis: Redis;
  readonly name: string;
  readonly #firstReady: Promise<void>;
  readonly #startupWaitMs: number;
  #everReady = false;
  #reported = false;
  #closing = false;

  /** `startupWaitMs`: how long a command issued before the first connect waits for it. */
  constructor(name: string, url: string, options: RedisOptions, startupWaitMs: number, report: (error: Error) => void) {
    this.name = name;
    this.#startupWaitMs = startupWaitMs;
    this.redis = new Redis(url, { connectionName: name, ...options });
    this.#firstReady = new Promise((resolve) => this.redis.once('ready', resolve));
    this.redis.on('ready', () => {
      this.#everReady = true;
      this.#reported = false;
    });
    // Without an 'error' listener ioredis prints every failed reconnect; one report per outage is enough.
    this.redis.on('error', (error: Error) => {
      if (this.#closing || this.#reported) return;
      this.#reported = true;
      report(new Error(`Redis ${name} connection: ${error.message}`, { cause: error }));
    });
  }

  get ready(): boolean {
    return !this.#closing && this.redis.status === 'ready';
  }

  /** The ioredis status, except that a closed connection says `end` (see `close`). */
  get status(): string {
    return this.#closing ? 'end' : this.redis.status;
  }

  /**
   * Resolves when a command can be sent now; otherwise throws RedisUnavailableError — at once when
   * the connection was ready before (an outage), after at most `startupWaitMs` when it is still
   * making its first connection (so that a command issued right after start-up is not refused).
   */
  async usable(): Promise<void> {
    if (this.#closing) throw new Error(`Redis ${this.name} connection is closed`);
    if (this.ready) return;
    if (!this.#everReady) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([this.#firstReady, new Promise((resolve) => (timer = setTimeout(resolve, this.#startupWaitMs)))]);
      clearTimeout(timer);
      if (this.ready) return;
    }
    throw new RedisUnavailableError(this.name, this.redis.status);
  }

  /**
   * Resolves once the connection is ready and a PING has been answered. On a subscriber connection
   * the PING is answered after the subscriptions ioredis renews on reconnect, so events published
   * afterwards reach this instance.
   */
  async whenReady(): Promise<void> {
    if (this.#closing) throw new Error(`Redis ${this.name} connection is closed`);
    if (!this.ready) {
      await new Promise<void>((resolve, reject) => {
        const onReady = () => {
          this.redis.off('end', onEnd);
          resolve();
        };
        const onEnd = () => {
          this.redis.off('ready', onReady);
          reject(new Error(`Redis ${this.name} connection is closed`));
        };
        this.redis.once('ready', onReady);
        this.redis.once('end', onEnd);
      });
    }
    await this.redis.ping();
  }

  /**
   * Closes the connection: QUIT when it is up (replies in flight still arrive), otherwise just stops
   * reconnecting. Never waits for a Redis that is gone: ioredis' QUIT would queue until it is back,
   * and a connection stopped while reconnecting never emits 'end' (its status stays 'reconnecting').
   */
  async close(timeoutMs: number): Promise<void> {
    if (this.#closing) return;
    this.#closing = true;
    const { redis } = this;
    if (redis.status === 'ready') {
      const ended = new Promise((resolve) => redis.once('end', resolve));
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise((resolve) => (timer = setTimeout(resolve, timeoutMs)));
      await Promise.race([redis.quit().then(() => ended, () => {}), timeout]);
      clearTimeout(timer);
    }
    // Not on an ended connection: ioredis would arm a timer for a stream that already closed.
    if (redis.status !== 'end') redis.disconnect();
  }
}
