import { execute, Kind, print, type DocumentNode, type ExecutionResult, type GraphQLResolveInfo, type OperationDefinitionNode } from 'graphql';
import type { Viewer } from '../access/viewer.ts';
import { entryOf } from '../shared/entry.ts';

/**
 * Live delivery without mercurius' per-subscriber pipeline. mercurius gives every subscription an
 * emitter listener, a stream, and a GraphQL execution per event, then serialises the message: at
 * thousands of sockets on one conversation that is most of the cost of an event. Here an instance
 * listens once per topic; per event it decides once for subscribers who decide alike (one access,
 * field, arguments and selection: access, plan gate, permission, filter — filter answers shared per
 * viewer), executes the selection once per group of subscribers who see the same thing (same
 * selection, variables, company and permission set), serialises that once, and writes it to each
 * socket of the group. mercurius still runs the protocol: subscribe, complete, close.
 */

/** The mqemitter interface (the in-memory one, or mqemitter-redis between instances). */
export interface Emitter {
  on(topic: string, listener: (message: { topic: string; payload: unknown }, done: () => void) => void, callback?: (error?: Error) => void): unknown;
  removeListener(topic: string, listener: (message: { topic: string; payload: unknown }, done: () => void) => void, callback?: () => void): unknown;
  emit(message: { topic: string; payload: unknown }, callback?: (error?: Error) => void): unknown;
}

/** One published message as the hub hands it to each subscriber: the key of what they share about it. */
export interface DeliveryEvent {
  readonly payload: unknown;
}

/**
 * What a subscriber decides about an event: not for it (false), the serialised `data` to send (its
 * UTF-8 bytes), to deliver it on its own (null: its group's execution failed), or first to wait for
 * something.
 */
type Decision = false | Buffer | null | Promise<unknown>;

interface Subscriber {
  /** Subscribers with the same `share` decide the same about every event: the hub asks one of them. */
  readonly share: object | undefined;
  /** Decides about the event; a promise: what it waits for (mostly shared: an access re-read, a filter's answer, a group's execution). */
  decide(event: DeliveryEvent): Decision;
  /** Sends the decided `data`. */
  send(data: Buffer): void;
  /** Delivers the event on its own (its own execution, its own errors); a promise: wait, then call again. */
  alone(event: DeliveryEvent): undefined | Promise<unknown>;
}

interface TopicListeners {
  subscribers: Set<Subscriber>;
  listener: (message: { topic: string; payload: unknown }, done: () => void) => void;
  listening: Promise<void>;
  /** Events of a topic are delivered one after another: each subscriber gets them in order. */
  delivering: Promise<void>;
}

/** One instance's subscribers by topic. */
export class SubscriptionHub {
  readonly #topics = new Map<string, TopicListeners>();
  readonly #emitter: Emitter;
  readonly #log: (error: unknown) => void;

  constructor(emitter: Emitter, log: (error: unknown) => void) {
    this.#emitter = emitter;
    this.#log = log;
  }

  /** Resolves once events of the topic reach the subscriber. */
  add(topic: string, subscriber: Subscriber): Promise<void> {
    const entry = entryOf(this.#topics, topic, () => {
      const created: TopicListeners = {
        subscribers: new Set(),
        listening: Promise.resolve(),
        delivering: Promise.resolve(),
        listener: ({ payload }, done) => {
          created.delivering = created.delivering.then(() => this.#deliver(created.subscribers, { payload }));
          done();
        },
      };
      created.listening = new Promise((resolve, reject) => this.#emitter.on(topic, created.listener, (error) => (error ? reject(error) : resolve())));
      return created;
    });
    entry.subscribers.add(subscriber);
    return entry.listening;
  }

  /**
   * Resolves once every event received so far has been offered to every subscriber and decided for
   * each (for tests: after it, what a socket has not received, it will not).
   */
  async idle(): Promise<void> {
    for (;;) {
      const awaited = new Set([...this.#topics.values()].map((entry) => entry.delivering));
      await Promise.all(awaited);
      // Done when no event arrived meanwhile: every topic's chain is one already awaited.
      if ([...this.#topics.values()].every((entry) => awaited.has(entry.delivering))) return;
    }
  }

  remove(topic: string, subscriber: Subscriber): void {
    const entry = this.#topics.get(topic);
    if (!entry?.subscribers.delete(subscriber) || entry.subscribers.size) return;
    this.#topics.delete(topic);
    this.#emitter.removeListener(topic, entry.listener);
  }

  /**
   * Offers the event to every subscriber, asking one subscriber of each share for the decision;
   * those that must wait are offered it again once what they wait for settled. An event costs a few
   * promises and a decision per share, then a write per subscriber.
   */
  async #deliver(subscribers: Iterable<Subscriber>, event: DeliveryEvent): Promise<void> {
    let round = subscribers;
    for (;;) {
      const waits = new Set<Promise<unknown>>();
      const again: Subscriber[] = [];
      const decided = new Map<object, Decision>();
      for (const subscriber of round) {
        try {
          const share = subscriber.share;
          let decision = share === undefined ? undefined : decided.get(share);
          if (decision === undefined) {
            decision = subscriber.decide(event);
            if (share !== undefined) decided.set(share, decision);
          }
          if (decision === false) continue;
          if (Buffer.isBuffer(decision)) {
            subscriber.send(decision);
            continue;
          }
          const wait = decision === null ? subscriber.alone(event) : decision;
          if (wait) {
            waits.add(wait);
            again.push(subscriber);
          }
        } catch (error) {
          this.#log(error);
        }
      }
      if (!again.length) return;
      // A rejection is its maker's to report (a filter logs its own failure): here it only means "settled".
      await Promise.allSettled(waits);
      round = again;
    }
  }
}

/** What onConnect sees of mercurius' per-socket connection (it calls onConnect as its method). */
export interface SubscriptionConnection {
  socket: DeliverySocket;
  protocolMessageTypes: { GQL_DATA: string };
  context: unknown;
  errorFormatter(result: ExecutionResult, context: unknown): { response: unknown };
  /** mercurius' answer to a subscription that could not start. */
  sendError(error: unknown, id: unknown): void;
}

/** ws' WebSocket, as delivery writes to it. */
interface DeliverySocket {
  readyState: number;
  bufferedAmount: number;
  send(data: string | Buffer, options?: { binary: boolean }): void;
}

const SENDER = Symbol('atrium.sender');
const CHECKS = Symbol('atrium.deliveryChecks');
const OPEN = 1;
/** A message written as bytes is still a text frame (graphql-ws reads text). */
const TEXT = { binary: false };
const MESSAGE_END = Buffer.from('}}');

/** A socket's writer of subscription messages, kept in its context. */
interface Sender {
  hub: SubscriptionHub;
  socket: DeliverySocket;
  /** The bytes a `next` message of this subscription starts with, up to its `data`. */
  prefix(id: string): Buffer;
  keepingUp(queued: number): boolean;
  /** Writes a `next` message of one subscriber's own result (errors formatted as for HTTP). */
  result(id: string, result: ExecutionResult): void;
}

/**
 * Writes a message unless the socket is closed or its client is not keeping up: `keepingUp` is asked
 * how many messages of this size the socket still buffers (its unsent bytes; none is the usual case).
 * No callback per message (it costs as much as the rest of a delivery); a failed write closes the
 * socket through its 'error' event.
 */
function write(socket: DeliverySocket, keepingUp: (queued: number) => boolean, message: string | Buffer, length: number): void {
  if (socket.readyState !== OPEN) return;
  const buffered = socket.bufferedAmount;
  if (buffered > 0 && !keepingUp(Math.ceil(buffered / length))) return;
  socket.send(message, TEXT);
}

/**
 * The socket context's part that lets its subscriptions be delivered directly. `keepingUp` is asked,
 * before a message, how many the socket still buffers (in messages of this size) when it buffers any.
 */
export function socketSender(connection: SubscriptionConnection, hub: SubscriptionHub, keepingUp: (queued: number) => boolean): { [SENDER]: Sender } {
  const type = JSON.stringify(connection.protocolMessageTypes.GQL_DATA);
  return {
    [SENDER]: {
      hub,
      socket: connection.socket,
      keepingUp,
      prefix: (id) => Buffer.from(`{"type":${type},"id":${JSON.stringify(id)},"payload":{"data":`),
      result: (id, result) => {
        const payload = result.errors?.length ? connection.errorFormatter(result, connection.context).response : result;
        const message = JSON.stringify({ type: connection.protocolMessageTypes.GQL_DATA, id, payload });
        write(connection.socket, keepingUp, message, message.length);
      },
    },
  };
}

/** A condition the subscriber must meet for each event (the module gate adds its own). */
export type DeliveryCheck = (viewer: Viewer | null) => boolean;

interface DeliveryContext {
  [SENDER]?: Sender;
  [CHECKS]?: DeliveryCheck[];
  /** The subscription's id on its socket (set by mercurius). */
  id?: string;
  viewer?: Viewer | null;
}

/** Adds a condition every event must meet before it reaches this subscription. */
export function deliverOnlyWhile(context: object, check: DeliveryCheck): void {
  const delivery = context as DeliveryContext;
  delivery[CHECKS] ??= [];
  delivery[CHECKS].push(check);
}

/** Whether the subscription's added conditions hold for the viewer. */
export function deliveryChecksPass(context: object, viewer: Viewer | null): boolean {
  return ((context as DeliveryContext)[CHECKS] ?? []).every((check) => check(viewer));
}

/**
 * A resolution of one event: its `data` serialised once (as bytes) when it succeeded; otherwise the
 * result with its errors, or the exception the execution threw.
 */
interface Resolution {
  done: Promise<void>;
  settled: boolean;
  data?: Buffer;
  result?: ExecutionResult;
  failed?: boolean;
  failure?: unknown;
}

/**
 * Per event, per selection (printed with its variables), per group: the resolution. A subscriber
 * whose group's execution failed is its own group (keyed by its subscriber object).
 */
const resolutions = new WeakMap<DeliveryEvent, Map<string, Map<string | object, Resolution>>>();
const groupKeys = new WeakMap<Viewer, string>();

/** Who a subscriber is to a shared resolution: company, system role, keys and branches (not which user). */
function groupOf(viewer: Viewer | null | undefined): string {
  if (!viewer) return 'anonymous';
  return entryOf(groupKeys, viewer, () => JSON.stringify([viewer.companyId, viewer.systemRole, [...viewer.keys].sort(), [...viewer.branchIds].sort()]));
}

function resolutionOf(event: DeliveryEvent, selection: string, group: string | object, execution: (event: DeliveryEvent) => ExecutionResult | Promise<ExecutionResult>): Resolution {
  const bySelection = entryOf(resolutions, event, () => new Map<string, Map<string | object, Resolution>>());
  return entryOf(entryOf(bySelection, selection, () => new Map<string | object, Resolution>()), group, () => {
    const resolution: Resolution = { settled: false, done: Promise.resolve() };
    resolution.done = Promise.resolve(event)
      .then(execution)
      .then(
        (result) => {
          if (result.errors?.length) resolution.result = result;
          else resolution.data = Buffer.from(JSON.stringify(result.data));
        },
        (error: unknown) => {
          resolution.failed = true;
          resolution.failure = error;
        },
      )
      .finally(() => {
        resolution.settled = true;
      });
    return resolution;
  });
}

/**
 * A subscription delivered directly. Per event, what a subscriber of a share that has decided costs
 * is this object and its socket: the message is its own first bytes (up to `data`, with its id) and
 * the group's data bytes copied into one buffer — no string built and encoded per socket — written
 * from fields rather than through closures (at thousands of sockets, every object an event touches
 * per socket is a likely cache miss).
 */
class DirectSubscriber implements Subscriber {
  readonly share: object | undefined;
  readonly decide: (event: DeliveryEvent) => Decision;
  readonly alone: (event: DeliveryEvent) => undefined | Promise<unknown>;
  readonly #socket: DeliverySocket;
  readonly #prefix: Buffer;
  readonly #keepingUp: (queued: number) => boolean;

  constructor(share: object | undefined, decide: Subscriber['decide'], alone: Subscriber['alone'], sender: Sender, id: string) {
    this.share = share;
    this.decide = decide;
    this.alone = alone;
    this.#socket = sender.socket;
    this.#prefix = sender.prefix(id);
    this.#keepingUp = sender.keepingUp;
  }

  /** Writes the `next` message around the `data` every subscriber of the group shares. */
  send(data: Buffer): void {
    const length = this.#prefix.length + data.length + MESSAGE_END.length;
    write(this.#socket, this.#keepingUp, Buffer.concat([this.#prefix, data, MESSAGE_END], length), length);
  }
}

/**
 * Registers one subscription for direct delivery and answers the stream mercurius waits on: it
 * yields nothing (messages go straight to the socket) and ends when mercurius returns it (the client
 * completed, the socket closed). `deliverable` decides per event, or answers what it must wait for
 * first (it is asked again then); the subscription field's selection is executed with the payload as
 * root value, once per group (see the top of this file). Payload fields must depend only on the
 * payload and the group, not on which user subscribed. `shareOf` (given the selection) names what
 * makes subscribers decide alike — e.g. one access, field and arguments — so that one decides for
 * all. Every step stays synchronous when its answer is known: at thousands of subscribers an
 * event's cost is mostly what is done per subscriber.
 */
export async function deliverDirectly<Payload>(
  context: object,
  topic: string,
  info: GraphQLResolveInfo,
  deliverable: (payload: Payload, event: DeliveryEvent) => boolean | Promise<unknown>,
  shareOf?: (selection: string) => object,
): Promise<AsyncIterable<Payload>> {
  const subscriberContext = context as DeliveryContext;
  const sender = subscriberContext[SENDER];
  const id = subscriberContext.id;
  if (!sender || id === undefined) throw new Error('Subscriptions are delivered over the WebSocket of /graphql only');
  const document: DocumentNode = { kind: Kind.DOCUMENT, definitions: [info.operation, ...Object.values(info.fragments)] };
  const selection = `${print(info.operation as OperationDefinitionNode)}\n${JSON.stringify(info.variableValues)}`;
  const execution = (event: DeliveryEvent) =>
    execute({ schema: info.schema, document, rootValue: event.payload, contextValue: context, variableValues: info.variableValues });
  const share = shareOf?.(selection);
  const decide = (event: DeliveryEvent): Decision => {
    const allowed = deliverable(event.payload as Payload, event);
    if (allowed === false) return false;
    if (allowed !== true) return allowed;
    const shared = resolutionOf(event, selection, groupOf(subscriberContext.viewer), execution);
    if (!shared.settled) return shared.done;
    return shared.data ?? null;
  };
  const alone = (event: DeliveryEvent): undefined | Promise<unknown> => {
    const allowed = deliverable(event.payload as Payload, event);
    if (allowed === false) return undefined;
    if (allowed !== true) return allowed;
    const own = resolutionOf(event, selection, subscriber, execution);
    if (!own.settled) return own.done;
    if (own.failed) throw own.failure;
    if (own.data !== undefined) subscriber.send(own.data);
    else sender.result(id, own.result!);
    return undefined;
  };
  const subscriber = new DirectSubscriber(share, decide, alone, sender, id);

  let end!: () => void;
  const ended = new Promise<IteratorResult<Payload>>((resolve) => {
    end = () => resolve({ done: true, value: undefined });
  });
  const stop = () => {
    sender.hub.remove(topic, subscriber);
    end();
  };
  await sender.hub.add(topic, subscriber);
  return {
    [Symbol.asyncIterator]: () => ({
      next: () => ended,
      return: () => {
        stop();
        return ended;
      },
    }),
  };
}
