import { createApp, definePlugin, requireViewer, type AtriumRequestContext } from '@atrium/core';
import { authors, md5, typeDefs, type Author, type Book } from '../data.ts';
import { announce } from './announce.ts';

/**
 * Atrium with one module serving the fixture. `authors` needs a signed-in caller, so every request
 * runs the kernel pipeline: JWT auth, viewer and ability, module gating, error formatting.
 */
const benchModule = definePlugin({
  name: 'bench',
  version: '1.0.0',
  graphql: {
    // The peers' SDL as it is: a module's `type Query` is composed as an extension of the kernel's.
    typeDefs,
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
