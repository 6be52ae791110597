/**
 * The runner's side of a subscription scenario's server (scenarios 3 and 6): a child process on the
 * server core that announces its port and answers `stats` requests over IPC (servers/stats.ts).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { ChildProcess } from 'node:child_process';
import { benchDir, spawnNode } from './proc.ts';
import type { Stats } from './servers/stats.ts';

export interface Server {
  child: ChildProcess;
  port: number;
  /** The server's sockets, subscriptions and memory (after full GCs with `gc`). */
  stats(gc?: boolean): Promise<Stats>;
}

/** Starts `src/servers/<file>` (with `--expose-gc`, and `nodeArgs`); resolves once it listens. */
export function startServer(name: string, file: string, options: { env?: NodeJS.ProcessEnv; nodeArgs?: string[] } = {}): Promise<Server> {
  const child = spawnNode(['--expose-gc', '--conditions=development', ...(options.nodeArgs ?? []), `${benchDir}/src/servers/${file}`], { ipc: true, env: options.env });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const stats = (gc = false) =>
    new Promise<Stats>((resolve, reject) => {
      const onMessage = (message: Stats) => {
        if (message?.type !== 'stats') return;
        child.off('message', onMessage);
        child.off('exit', onExit);
        resolve(message);
      };
      const onExit = (code: number | null) => reject(new Error(`${name} exited (${code}):\n${stderr}`));
      child.on('message', onMessage);
      child.once('exit', onExit);
      child.send({ type: 'stats', gc });
    });
  return new Promise((resolve, reject) => {
    const onExit = (code: number | null) => reject(new Error(`${name} exited (${code}) before listening:\n${stderr}`));
    child.once('exit', onExit);
    child.once('message', (message: { port: number }) => {
      child.off('exit', onExit);
      resolve({ child, port: message.port, stats });
    });
  });
}

/** Polls the server until `done(stats)` holds. */
export async function until(server: Server, what: string, done: (stats: Stats) => boolean, timeoutMs = 60_000): Promise<Stats> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const stats = await server.stats();
    if (done(stats)) return stats;
    if (Date.now() > deadline) throw new Error(`${what}: still ${stats.sockets} sockets, ${stats.subscriptions} subscriptions after ${timeoutMs} ms`);
    await sleep(100);
  }
}
