/**
 * What the load generators of the subscription scenarios (memory-load.ts, fan-out-load.ts) share:
 * many WebSockets to one server, spread over source addresses, opened a few at a time.
 */
import WebSocket from 'ws';

/**
 * The source address of socket `index`: 127.0.0.2 onwards, `perAddress` sockets each, to stay clear
 * of ephemeral-port limits (Linux routes all of 127.0.0.0/8 to the loopback).
 */
export function sourceAddress(index: number, perAddress: number): string {
  const n = 2 + Math.floor(index / perAddress);
  if (n > 254) throw new Error(`too many sockets for 127.0.0.x source addresses (socket ${index} at ${perAddress} each)`);
  return `127.0.0.${n}`;
}

/**
 * A load generator's side of its runner: the job (JSON in the environment variable `variable`),
 * messages back over IPC, and the first failure reported once (`failed()` holds from then on). The
 * runner going away ends the load too.
 */
export function loadGenerator<Job, Message>(variable: string) {
  const job = JSON.parse(process.env[variable] ?? 'null') as Job | null;
  if (!job) throw new Error(`${variable} is not set`);
  process.on('disconnect', () => process.exit(0));
  const report = (message: Message | { type: 'failed'; message: string }) => process.send?.(message);
  let failed = false;
  const fail = (message: string) => {
    if (failed) return;
    failed = true;
    report({ type: 'failed', message });
  };
  return { job, report, fail, failed: () => failed };
}

/** Opens sockets 0 … count − 1 with `open`, `concurrency` at a time; stops early once `failed()` holds. */
export async function openAll(count: number, concurrency: number, open: (index: number) => Promise<void>, failed: () => boolean): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, count) }, async () => {
      while (next < count && !failed()) await open(next++);
    }),
  );
}

/** How each socket is opened (from a load generator's job). */
export interface SocketOptions {
  url: string;
  /** `graphql-ws`: one subscription per socket over the graphql-transport-ws protocol; `ws`: results only. */
  protocol: 'graphql-ws' | 'ws';
  /** The subscription each graphql-ws socket starts, and its variables. */
  query?: string;
  variables?: Record<string, unknown>;
  /** Sockets per source address (127.0.0.2, 127.0.0.3, …). */
  perAddress: number;
}

export interface SocketHandlers {
  /** Sent as `{ authorization: 'Bearer <token>' }` in connection_init. */
  token?: string;
  /** Something went wrong after the socket opened (closed by the server, an error result…). */
  fail(message: string): void;
  /**
   * The `data` of each result: graphql-ws `next` messages; for a bare socket, every message is
   * expected to be a graphql-ws `next` message too (`{ payload: { data } }`).
   */
  data?(data: unknown): void;
}

/**
 * Opens socket `index`; resolves with it once open (graphql-ws: acknowledged, and its subscription
 * sent). Every peer's sockets are bare `ws` sockets taking in a message the same way (JSON.parse,
 * one handler), so that the load generator's own cost per message is the same whichever server it
 * measures; for `graphql-ws` the socket speaks the protocol (graphql-transport-ws) itself:
 * connection_init with the token, the subscription once acknowledged, pong to ping.
 */
export function openSocket(index: number, options: SocketOptions, { token, fail, data }: SocketHandlers): Promise<WebSocket> {
  const graphqlWs = options.protocol === 'graphql-ws';
  return new Promise((resolve, reject) => {
    let ready = false;
    const socket = new WebSocket(options.url, graphqlWs ? 'graphql-transport-ws' : [], {
      localAddress: sourceAddress(index, options.perAddress),
      perMessageDeflate: false,
    });
    const send = (message: object) => socket.send(JSON.stringify(message));
    const opened = () => {
      ready = true;
      resolve(socket);
    };
    socket.once('open', () => (graphqlWs ? send({ type: 'connection_init', payload: token ? { authorization: `Bearer ${token}` } : {} }) : opened()));
    socket.on('message', (raw) => {
      const message = JSON.parse(raw.toString()) as { type?: string; payload?: { data?: unknown; errors?: unknown } };
      // The bare `ws` peer sends nothing but results.
      switch (graphqlWs ? message.type : 'next') {
        case 'connection_ack':
          send({ id: '1', type: 'subscribe', payload: { query: options.query, variables: options.variables } });
          return opened();
        case 'ping':
          return send({ type: 'pong' });
        case 'pong':
          return;
        case 'next':
          if (message.payload?.errors) return fail(`socket ${index}: ${JSON.stringify(message.payload.errors)}`);
          if (message.payload?.data === undefined) return fail(`socket ${index}: not a result: ${raw.toString().slice(0, 200)}`);
          return data?.(message.payload.data);
        case 'error':
          return fail(`socket ${index}: subscription failed: ${JSON.stringify(message.payload)}`);
        case 'complete':
          return fail(`socket ${index}: subscription completed by the server`);
        default:
          return fail(`socket ${index}: unexpected message: ${raw.toString().slice(0, 200)}`);
      }
    });
    socket.on('error', (error) => (ready ? fail(`socket ${index}: ${error.message}`) : reject(error)));
    socket.once('close', (code, reason) => {
      if (ready) fail(`socket ${index} closed by the server: ${code} ${reason.toString()}`);
      else reject(new Error(`socket ${index} closed before it was ready: ${code} ${reason.toString()}`));
    });
  });
}
