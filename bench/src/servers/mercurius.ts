import Fastify from 'fastify';
import mercurius from 'mercurius';
import { resolvers, typeDefs } from '../data.ts';
import { announce } from './announce.ts';

/** Bare fastify + mercurius with graphql-jit from the second execution on. */
const app = Fastify({ logger: false });
await app.register(mercurius, { schema: typeDefs, resolvers, jit: 1, graphiql: false });
await app.listen({ port: 0, host: '127.0.0.1' });
announce((app.server.address() as { port: number }).port);
