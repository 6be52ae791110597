import Fastify from 'fastify';
import mercurius from 'mercurius';

/** The cold-start peer: bare fastify + mercurius with an (almost) empty schema, logging like Atrium. */
const app = Fastify({ logger: true });
await app.register(mercurius, { schema: 'type Query { ok: Boolean! }', resolvers: { Query: { ok: () => true } } });
await app.listen({ port: Number(process.env.PORT ?? 0), host: '127.0.0.1' });
