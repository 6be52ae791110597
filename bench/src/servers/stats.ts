import { setImmediate as nextTurn } from 'node:timers/promises';

/** What a server of the memory scenario holds: open WebSockets, and subscriptions started so far. */
export interface Held {
  sockets: number;
  subscriptions: number;
}

/** A server's answer to the runner's `{ type: 'stats' }` request. */
export interface Stats extends Held {
  type: 'stats';
  /** Whether a full GC ran first (the server was started with `--expose-gc`). */
  collected: boolean;
  memory: NodeJS.MemoryUsage;
}

/**
 * Answers the runner's `{ type: 'stats', gc }` requests over IPC with `held()` and the process's
 * memory, after full garbage collections when `gc` is asked for and `--expose-gc` is on.
 */
export function serveStats(held: () => Held): void {
  process.on('message', async (message: { type?: string; gc?: boolean }) => {
    if (message?.type !== 'stats') return;
    const collect = message.gc === true && typeof gc === 'function';
    if (collect) {
      // Twice, a turn apart: what the first collection's finalizers release goes in the second.
      gc!();
      await nextTurn();
      gc!();
    }
    const stats: Stats = { type: 'stats', ...held(), collected: collect, memory: process.memoryUsage() };
    process.send?.(stats);
  });
}
