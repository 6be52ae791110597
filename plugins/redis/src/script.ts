import type { Connection } from './connection.ts';

/** A Lua script run atomically by Redis on one key. */
export type Script<Result> = (key: string, ...args: (string | number)[]) => Promise<Result>;

let scripts = 0;

/**
 * Registers a Lua script on a connection (ioredis sends EVALSHA and falls back to EVAL once when
 * Redis does not know the script yet, e.g. after a restart). Every call fails at once while Redis
 * is down (see Connection.usable).
 */
export function defineScript<Result>(connection: Connection, lua: string): Script<Result> {
  const name = `atriumScript${++scripts}`;
  connection.redis.defineCommand(name, { numberOfKeys: 1, lua });
  const command = (connection.redis as unknown as Record<string, (...args: (string | number)[]) => Promise<Result>>)[name]!;
  return async (key, ...args) => {
    await connection.usable();
    return command.call(connection.redis, key, ...args);
  };
}

/** The Redis server's clock in milliseconds, inside a script: every instance judges expiry by the same clock. */
export const LUA_NOW_MS = `local time = redis.call('TIME'); local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)`;
