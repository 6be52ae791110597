import Fastify from 'fastify';
import mercurius, { type MercuriusContext } from 'mercurius';
import { announce } from './announce.ts';
import { serveStats } from './stats.ts';

/** Scenario 6's GraphQL peer: bare fastify + mercurius with one trivial subscription, no auth. */
const app = Fastify({ logger: false });
let subscriptions = 0;
await app.register(mercurius, {
  schema: 'type Query { ok: Boolean! } type Subscription { tick: Int! }',
  resolvers: {
    Query: { ok: () => true },
    Subscription: {
      tick: {
        subscribe: async (_root: unknown, _args: unknown, { pubsub }: MercuriusContext) => {
          const stream = await pubsub.subscribe('tick');
          subscriptions += 1;
          return stream;
        },
      },
    },
  },
  subscription: true,
  graphiql: false,
});
// mercurius keeps its WebSocket server to itself: count the upgraded sockets on the HTTP server.
let sockets = 0;
app.server.on('upgrade', (_request, socket) => {
  sockets += 1;
  socket.once('close', () => {
    sockets -= 1;
  });
});
await app.listen({ port: 0, host: '127.0.0.1' });
serveStats(() => ({ sockets, subscriptions }));
announce((app.server.address() as { port: number }).port);
