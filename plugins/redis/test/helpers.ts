import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { Redis } from 'ioredis';
import { redisInfrastructure, type Message, type RedisEmitter } from '../src/index.ts';

/** The shared Redis of the test machine (REDIS_URL, or the default local one). */
export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/** A key prefix of its own per test, so that tests running at once never see each other's keys. */
export const randomPrefix = (): string => `atrium-test:${randomBytes(6).toString('hex')}:`;

/** Resolves once `condition()` holds, checking every few milliseconds (the test's timeout bounds it). */
export async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setTimeout(resolve, 5));
}

/** A plain client for looking at what the plugin wrote; closed by the caller. */
export const inspector = (url = REDIS_URL): Redis => new Redis(url, { maxRetriesPerRequest: 1 });

/** The plugin on the shared Redis under a prefix of its own, and an inspector; both closed at teardown. */
export function redisFixture(t: { teardown(fn: () => unknown): void }) {
  const prefix = randomPrefix();
  const infra = redisInfrastructure({ url: REDIS_URL, prefix });
  const redis = inspector();
  t.teardown(async () => {
    await infra.close();
    redis.disconnect();
  });
  return { prefix, infra, redis };
}

async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  server.close();
  await once(server, 'close');
  return port;
}

/** A redis-server of the test's own, which the test can stop and start again on the same port. */
export interface PrivateRedis {
  url: string;
  /** Kills the server (SIGKILL: as abrupt as a crash) and waits until it has exited. */
  stop(): Promise<void>;
  /** Starts it again, empty, and waits until it accepts connections. */
  start(): Promise<void>;
}

export async function privateRedis(): Promise<PrivateRedis> {
  const port = await freePort();
  let child: ChildProcess | undefined;
  const start = async () => {
    const server = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: ['ignore', 'pipe', 'pipe'] });
    child = server;
    // A test process that ends abruptly must not leave its server behind.
    const reap = () => server.kill('SIGKILL');
    process.once('exit', reap);
    server.once('exit', () => process.off('exit', reap));
    let output = '';
    await new Promise<void>((resolve, reject) => {
      server.stdout!.on('data', (chunk) => {
        output += chunk;
        if (output.includes('Ready to accept connections')) resolve();
      });
      server.once('exit', (code) => reject(new Error(`redis-server exited (${code}): ${output}`)));
    });
  };
  const stop = async () => {
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, 'exit');
    child.kill('SIGKILL');
    await exited;
  };
  await start();
  return { url: `redis://127.0.0.1:${port}`, start, stop };
}

/** Subscribes to a topic; resolves once Redis confirmed the subscription. */
export async function listen(emitter: RedisEmitter, topic: string): Promise<{ next(): Promise<Message> }> {
  const received: Message[] = [];
  const waiting: ((message: Message) => void)[] = [];
  await new Promise<void>((resolve) =>
    emitter.on(
      topic,
      (message, done) => {
        const waiter = waiting.shift();
        if (waiter) waiter(message);
        else received.push(message);
        done();
      },
      resolve,
    ),
  );
  return { next: () => (received.length > 0 ? Promise.resolve(received.shift()!) : new Promise((resolve) => waiting.push(resolve))) };
}

export const emit = (emitter: RedisEmitter, message: Message) => new Promise<void>((resolve, reject) => emitter.emit(message, (error) => (error ? reject(error) : resolve())));
