/**
 * Scenario 6's load generator, its own process (spawned by memory.ts on the runner's core): opens
 * `count` WebSockets to one server and holds them, idle, until it is stopped. Over IPC it reports
 * `{ type: 'opened' }` once every socket is open (graphql-ws: acknowledged, and its subscription
 * sent), or `{ type: 'failed', message }` as soon as a socket fails or is closed by the server.
 */
import type WebSocket from 'ws';
import { loadGenerator, openAll, openSocket, type SocketOptions } from './sockets.ts';

/** What to open, from the BENCH_SOCKETS environment variable (JSON). */
export interface SocketJob extends SocketOptions {
  count: number;
  /** Sent as `{ authorization: 'Bearer <token>' }` in connection_init. */
  token?: string;
  /** Sockets being opened at once. */
  concurrency: number;
}

export type LoadMessage = { type: 'opened'; count: number; ms: number } | { type: 'failed'; message: string };

const { job, report, fail, failed } = loadGenerator<SocketJob, LoadMessage>('BENCH_SOCKETS');

/** Kept referenced for as long as the process holds them. */
const held: WebSocket[] = [];

const began = performance.now();
try {
  await openAll(job.count, job.concurrency, async (index) => void held.push(await openSocket(index, job, { token: job.token, fail })), failed);
  if (!failed()) report({ type: 'opened', count: job.count, ms: performance.now() - began });
} catch (error) {
  fail((error as Error).message);
}
