import { definePlugin } from '@atrium/core';
import { GuestbookEntry } from './entities/guestbook-entry.ts';
import { typeDefs } from './schema.ts';
import { resolvers } from './resolvers/index.ts';
import { permissions } from './permissions.ts';

export { GuestbookEntry } from './entities/guestbook-entry.ts';
export { entrySigned } from './services/guestbook.ts';

/** The guestbook module: sign it, list it, watch it live. */
export default definePlugin({
  name: 'guestbook',
  version: '1.0.0',
  entities: [GuestbookEntry],
  migrations: new URL('../migrations/', import.meta.url),
  permissions,
  graphql: { typeDefs, resolvers },
});
