import { createServer } from 'node:http';
import { createSchema, createYoga } from 'graphql-yoga';
import { resolvers, typeDefs } from '../data.ts';
import { announce } from './announce.ts';

/** graphql-yoga on node:http. */
const yoga = createYoga({ schema: createSchema({ typeDefs, resolvers }), graphqlEndpoint: '/graphql', logging: false, graphiql: false });
const server = createServer(yoga);
server.listen(0, '127.0.0.1', () => announce((server.address() as { port: number }).port));
