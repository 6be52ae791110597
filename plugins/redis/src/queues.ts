import { randomUUID } from 'node:crypto';
import type { SharedQueues } from '@atrium/core';
import type { Connection } from './connection.ts';
import { defineScript, type Script } from './script.ts';

// Moves the item at ARGV[1] (0-based) to the back — only if the items up to and including it are
// still those the caller saw (ARGV[3..]). The caller's choice depended on exactly those items (it
// refused the ones before and accepted this one), so when they are unchanged, committing it is the
// same as having chosen with the queue locked. The item is first overwritten with a unique marker
// (ARGV[2]) so that LREM removes this position, not an equal item earlier in the list.
const MOVE_TO_BACK = `
local index = tonumber(ARGV[1])
local seen = redis.call('LRANGE', KEYS[1], 0, index)
if #seen ~= index + 1 then return 0 end
for i = 1, index + 1 do
  if seen[i] ~= ARGV[i + 2] then return 0 end
end
redis.call('LSET', KEYS[1], index, ARGV[2])
redis.call('LREM', KEYS[1], 1, ARGV[2])
redis.call('RPUSH', KEYS[1], seen[index + 1])
return 1
`;

/** How often `rotate` starts over because other instances changed the queue meanwhile, before it gives up. */
const MAX_ATTEMPTS = 100;

/**
 * Round-robin queues as Redis lists, shared by every instance. `rotate` is optimistic: it reads the
 * queue, asks `accept` about the items in order (in JS, possibly slowly — no lock is held), and
 * commits the move with a script that checks nothing it looked at has changed; if something has, it
 * starts over with the new order (so `accept` may be called more than once for an item: keep it free
 * of side effects). Two instances rotating at once therefore never take the same item from the same
 * position. Errors (Redis down) propagate to the caller.
 */
export class RedisSharedQueues implements SharedQueues {
  readonly #connection: Connection;
  readonly #prefix: string;
  readonly #moveToBack: Script<number>;

  constructor(connection: Connection, prefix: string) {
    this.#connection = connection;
    this.#prefix = `${prefix}queue:`;
    this.#moveToBack = defineScript(connection, MOVE_TO_BACK);
  }

  async replace(name: string, items: string[]): Promise<void> {
    await this.#connection.usable();
    const key = this.#prefix + name;
    const transaction = this.#connection.redis.multi().del(key);
    if (items.length > 0) transaction.rpush(key, ...items);
    const results = await transaction.exec();
    const failed = results?.find(([error]) => error);
    if (!results || failed) throw failed?.[0] ?? new Error(`replacing queue ${name} was aborted`);
  }

  async items(name: string): Promise<string[]> {
    await this.#connection.usable();
    return this.#connection.redis.lrange(this.#prefix + name, 0, -1);
  }

  async rotate(name: string, accept: (item: string) => boolean | Promise<boolean>): Promise<string | null> {
    const key = this.#prefix + name;
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const queue = await this.items(name);
      let index = 0;
      while (index < queue.length && !(await accept(queue[index]!))) index++;
      if (index === queue.length) return null;
      const marker = `\u0000atrium-rotate:${randomUUID()}`;
      if ((await this.#moveToBack(key, index, marker, ...queue.slice(0, index + 1))) === 1) return queue[index]!;
    }
    throw new Error(`rotate(${name}): the queue kept changing under ${MAX_ATTEMPTS} attempts`);
  }
}
