import { createApp, definePlugin, requireViewer, type AtriumRequestContext } from '@atrium/core';
import { authors, md5, type Author, type Book } from '../data.ts';
import { announce } from './announce.ts';

/**
 * Atrium with one module serving the fixture. `authors` needs a signed-in caller, so every request
 * runs the kernel pipeline: JWT auth, viewer and ability, module gating, error formatting.
 */
const benchModule = definePlugin({
  name: 'bench',
  version: '1.0.0',
  graphql: {
    typeDefs: /* GraphQL */ `
      type Book {
        id: ID!
        title: String!
        md5: String!
      }

      type Author {
        id: ID!
        name: String!
        books: [Book!]!
      }

      extend type Query {
        authors: [Author!]!
      }
    `,
    resolvers: {
      Query: {
        authors: (_root: unknown, _args: unknown, context: AtriumRequestContext): Author[] => {
          requireViewer(context);
          return authors;
        },
      },
      Book: { md5: (book: Book): string => md5(book.title) },
    },
  },
});

const app = createApp({
  modules: [benchModule],
  env: 'production',
  auth: { jwtSecret: 'bench-secret-bench-secret-bench-secret-0123' },
  logLevel: 'silent',
  httpRateLimit: 0,
  host: '127.0.0.1',
  port: 0,
});
await app.start();
announce(Number(new URL(app.url).port));
