import Fastify from 'fastify';
import { authors, md5 } from '../data.ts';
import { announce } from './announce.ts';

/** The floor: the same data (md5 computed per request) from a plain Fastify JSON route. */
const app = Fastify({ logger: false });
app.get('/authors', async () => ({
  data: {
    authors: authors.map((author) => ({
      id: author.id,
      name: author.name,
      books: author.books.map((book) => ({ id: book.id, title: book.title, md5: md5(book.title) })),
    })),
  },
}));
await app.listen({ port: 0, host: '127.0.0.1' });
announce((app.server.address() as { port: number }).port);
