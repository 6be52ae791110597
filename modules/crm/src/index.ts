import { definePlugin } from '@atrium/core';
import { entities } from './entities/index.ts';
import { events } from './events.ts';
import { permissions } from './permissions.ts';
import { seedDefaults } from './services/defaults.ts';
import { loaders, resolvers } from './resolvers/index.ts';
import { typeDefs } from './schema/index.ts';

export * from './public.ts';

/**
 * The CRM every vertical builds on: contacts, products, pipelines and deals, tasks and notes, debts
 * and payments. See the module's README for what it owns, its permission keys and its events.
 */
export default definePlugin({
  name: 'crm',
  version: '1.0.0',
  entities,
  migrations: new URL('../migrations/', import.meta.url),
  permissions,
  events,
  graphql: { typeDefs, resolvers, loaders },
  // A new company starts with a Sales pipeline.
  onEnable: seedDefaults,
});
