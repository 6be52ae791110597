import Fastify from 'fastify';
import { ApolloServer } from '@apollo/server';
import fastifyApollo, { fastifyApolloDrainPlugin } from '@as-integrations/fastify';
import { resolvers, typeDefs } from '../data.ts';
import { announce } from './announce.ts';

/** @apollo/server 5 on Fastify 5 through @as-integrations/fastify. */
const app = Fastify({ logger: false });
const apollo = new ApolloServer({ typeDefs, resolvers, plugins: [fastifyApolloDrainPlugin(app)] });
await apollo.start();
await app.register(fastifyApollo(apollo), { path: '/graphql' });
await app.listen({ port: 0, host: '127.0.0.1' });
announce((app.server.address() as { port: number }).port);
