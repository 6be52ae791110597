/**
 * Scenario 6's load generator, its own process (spawned by memory.ts on the runner's core): opens
 * `count` WebSockets to one server and holds them, idle, until it is stopped. Over IPC it reports
 * `{ type: 'opened' }` once every socket is open (graphql-ws: acknowledged, and its subscription
 * sent), or `{ type: 'failed', message }` as soon as a socket fails or is closed by the server.
 */
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';

/** What to open, from the BENCH_SOCKETS environment variable (JSON). */
export interface SocketJob {
  url: string;
  count: number;
  /** `graphql-ws`: a graphql-ws client with one subscription per socket; `ws`: a bare WebSocket. */
  protocol: 'graphql-ws' | 'ws';
  /** The subscription each graphql-ws socket starts. */
  query?: string;
  /** Sent as `{ authorization: 'Bearer <token>' }` in connection_init. */
  token?: string;
  /** Sockets being opened at once. */
  concurrency: number;
  /** Sockets per source address (127.0.0.2, 127.0.0.3, …), to stay clear of ephemeral port limits. */
  perAddress: number;
}

export type LoadMessage = { type: 'opened'; count: number; ms: number } | { type: 'failed'; message: string };

const job = JSON.parse(process.env.BENCH_SOCKETS ?? 'null') as SocketJob | null;
if (!job) throw new Error('BENCH_SOCKETS is not set');
// The runner going away ends the load too.
process.on('disconnect', () => process.exit(0));

const report = (message: LoadMessage) => process.send?.(message);
let failed = false;
const fail = (message: string) => {
  if (failed) return;
  failed = true;
  report({ type: 'failed', message });
};

/** The source address of socket `index`: 127.0.0.2 onwards, `perAddress` sockets each. */
function sourceAddress(index: number): string {
  const n = 2 + Math.floor(index / job!.perAddress);
  if (n > 254) throw new Error(`too many sockets for 127.0.0.x source addresses (${job!.count} at ${job!.perAddress} each)`);
  return `127.0.0.${n}`;
}

/** graphql-ws builds its sockets as `new Impl(url, protocol)`: a subclass binds them to an address. */
const boundClasses = new Map<string, unknown>();
function boundWebSocket(localAddress: string): unknown {
  let bound = boundClasses.get(localAddress);
  if (!bound) {
    bound = class extends WebSocket {
      constructor(address: string, protocols?: string | string[]) {
        super(address, protocols, { localAddress, perMessageDeflate: false });
      }
    };
    boundClasses.set(localAddress, bound);
  }
  return bound;
}

const describe = (event: unknown): string => {
  const { code, reason } = (event ?? {}) as { code?: number; reason?: unknown };
  return code === undefined ? String((event as Error)?.message ?? event) : `${code}${reason ? ` ${String(reason)}` : ''}`;
};

/** Kept referenced for as long as the process holds them. */
const held: (Client | WebSocket)[] = [];

function openGraphqlWs(index: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let acknowledged = false;
    const client = createClient({
      url: job!.url,
      webSocketImpl: boundWebSocket(sourceAddress(index)),
      retryAttempts: 0,
      lazy: true,
      connectionParams: job!.token ? { authorization: `Bearer ${job!.token}` } : {},
      on: {
        connected: () => {
          acknowledged = true;
          resolve();
        },
        closed: (event) => {
          if (acknowledged) fail(`socket ${index} closed by the server: ${describe(event)}`);
          else reject(new Error(`socket ${index} closed before connection_ack: ${describe(event)}`));
        },
      },
    });
    held.push(client);
    client.subscribe(
      { query: job!.query! },
      {
        next: (result) => {
          if (result.errors) fail(`socket ${index}: ${JSON.stringify(result.errors)}`);
        },
        error: (error) => fail(`socket ${index}: subscription failed: ${Array.isArray(error) ? JSON.stringify(error) : describe(error)}`),
        complete: () => fail(`socket ${index}: subscription completed by the server`),
      },
    );
  });
}

function openWs(index: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let open = false;
    const socket = new WebSocket(job!.url, { localAddress: sourceAddress(index), perMessageDeflate: false });
    held.push(socket);
    socket.once('open', () => {
      open = true;
      resolve();
    });
    socket.on('error', (error) => (open ? fail(`socket ${index}: ${error.message}`) : reject(error)));
    socket.once('close', (code, reason) => {
      if (open) fail(`socket ${index} closed by the server: ${code} ${reason.toString()}`);
    });
  });
}

const began = performance.now();
const open = job.protocol === 'graphql-ws' ? openGraphqlWs : openWs;
let next = 0;
try {
  await Promise.all(
    Array.from({ length: Math.min(job.concurrency, job.count) }, async () => {
      while (next < job.count && !failed) await open(next++);
    }),
  );
  if (!failed) report({ type: 'opened', count: job.count, ms: performance.now() - began });
} catch (error) {
  fail((error as Error).message);
}
