/**
 * What the load generators of the subscription scenarios (memory-load.ts, fan-out-load.ts) share:
 * many WebSockets to one server, spread over source addresses, opened a few at a time.
 */
import { createClient, type Client } from 'graphql-ws';
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

/** A close event or an error, as text. */
const describe = (event: unknown): string => {
  const { code, reason } = (event ?? {}) as { code?: number; reason?: unknown };
  return code === undefined ? String((event as Error)?.message ?? event) : `${code}${reason ? ` ${String(reason)}` : ''}`;
};

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
  /** `graphql-ws`: a graphql-ws client with one subscription per socket; `ws`: a bare WebSocket. */
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

/** Opens socket `index`; resolves with it once open (graphql-ws: acknowledged, and its subscription sent). */
export function openSocket(index: number, options: SocketOptions, handlers: SocketHandlers): Promise<Client | WebSocket> {
  return options.protocol === 'graphql-ws' ? openGraphqlWs(index, options, handlers) : openWs(index, options, handlers);
}

function openGraphqlWs(index: number, options: SocketOptions, { token, fail, data }: SocketHandlers): Promise<Client> {
  return new Promise((resolve, reject) => {
    let acknowledged = false;
    const client = createClient({
      url: options.url,
      webSocketImpl: boundWebSocket(sourceAddress(index, options.perAddress)),
      retryAttempts: 0,
      lazy: true,
      connectionParams: token ? { authorization: `Bearer ${token}` } : {},
      on: {
        connected: () => {
          acknowledged = true;
          resolve(client);
        },
        closed: (event) => {
          if (acknowledged) fail(`socket ${index} closed by the server: ${describe(event)}`);
          else reject(new Error(`socket ${index} closed before connection_ack: ${describe(event)}`));
        },
      },
    });
    client.subscribe(
      { query: options.query!, variables: options.variables },
      {
        next: (result) => {
          if (result.errors) fail(`socket ${index}: ${JSON.stringify(result.errors)}`);
          else data?.(result.data);
        },
        error: (error) => fail(`socket ${index}: subscription failed: ${Array.isArray(error) ? JSON.stringify(error) : describe(error)}`),
        complete: () => fail(`socket ${index}: subscription completed by the server`),
      },
    );
  });
}

function openWs(index: number, options: SocketOptions, { fail, data }: SocketHandlers): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    let open = false;
    const socket = new WebSocket(options.url, { localAddress: sourceAddress(index, options.perAddress), perMessageDeflate: false });
    socket.once('open', () => {
      open = true;
      resolve(socket);
    });
    socket.on('message', (raw) => {
      const message = JSON.parse(raw.toString()) as { payload?: { data?: unknown } };
      if (message.payload?.data === undefined) fail(`socket ${index}: not a result: ${raw.toString().slice(0, 200)}`);
      else data?.(message.payload.data);
    });
    socket.on('error', (error) => (open ? fail(`socket ${index}: ${error.message}`) : reject(error)));
    socket.once('close', (code, reason) => {
      if (open) fail(`socket ${index} closed by the server: ${code} ${reason.toString()}`);
    });
  });
}
