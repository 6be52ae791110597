import { createServer } from 'node:http';
import { buildSchema } from 'graphql';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer } from 'ws';
import { announce } from './announce.ts';
import { publishRoute, type ConversationEvent } from './conversation-event.ts';
import { serveStats } from './stats.ts';

/**
 * Scenario 3's GraphQL peer: graphql-ws (`useServer`) on a raw `ws` server, graphql-js `subscribe`
 * per subscriber (and graphql-js executing every event for every subscriber), fed by a plain
 * async-iterator pub/sub. The schema is the part of Atrium's that the scenario selects; no auth.
 */
const schema = buildSchema(/* GraphQL */ `
  type Query { ok: Boolean }
  enum ConversationEventType { MESSAGE_CREATED }
  enum MessageSenderType { USER }
  type Message { id: ID! content: String createdAt: String! senderType: MessageSenderType! }
  type ConversationEvent { type: ConversationEventType! conversationId: ID! message: Message }
  type Subscription { conversationEvents(conversationId: ID!): ConversationEvent! }
`);

/** Per topic, the push function of each open iterator. */
const topics = new Map<string, Set<(event: ConversationEvent) => void>>();

/** An async iterator over a topic's events, with a queue of its own (what a pub/sub library hands out). */
function subscribe(topic: string): AsyncIterableIterator<ConversationEvent> {
  const queue: ConversationEvent[] = [];
  let waiting: ((result: IteratorResult<ConversationEvent>) => void) | undefined;
  const listeners = topics.get(topic) ?? new Set();
  topics.set(topic, listeners);
  const push = (event: ConversationEvent) => {
    if (waiting) {
      const wake = waiting;
      waiting = undefined;
      wake({ value: event, done: false });
    } else queue.push(event);
  };
  listeners.add(push);
  const finished: IteratorResult<ConversationEvent> = { value: undefined, done: true };
  return {
    next: () => (queue.length > 0 ? Promise.resolve({ value: queue.shift()!, done: false }) : new Promise((resolve) => (waiting = resolve))),
    return: () => {
      listeners.delete(push);
      waiting?.(finished);
      return Promise.resolve(finished);
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  };
}

let subscriptions = 0;
const field = schema.getSubscriptionType()!.getFields().conversationEvents!;
field.subscribe = (_root: unknown, args: { conversationId: string }) => {
  subscriptions += 1;
  return subscribe(`conversation:${args.conversationId}`);
};
field.resolve = (event: ConversationEvent) => event;

const server = createServer(
  publishRoute((event) => {
    for (const push of topics.get(`conversation:${event.conversationId}`) ?? []) push(event);
  }),
);
const sockets = new WebSocketServer({ server, path: '/graphql', perMessageDeflate: false });
useServer({ schema }, sockets);
server.listen(0, '127.0.0.1', () => {
  serveStats(() => ({ sockets: sockets.clients.size, subscriptions }));
  announce((server.address() as { port: number }).port);
});
