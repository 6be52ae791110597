import { definePlugin } from '@atrium/core';
import { entities } from './entities/index.ts';
import { events } from './events.ts';
import { permissions } from './permissions.ts';
import { loaders, resolvers } from './resolvers/index.ts';
import { typeDefs } from './schema/index.ts';

export * from './public.ts';

/**
 * Goods on consignment to field sales agents: transfers, acceptance, returns, carts, checkout with
 * FIFO allocation across the agent's accepted transfers, refunds and analytics. Products are CRM
 * products, customers CRM contacts, agents the company's users. See the module's README.
 */
export default definePlugin({
  name: 'agentSales',
  version: '1.0.0',
  dependsOn: ['crm@^1'],
  entities,
  migrations: new URL('../migrations/', import.meta.url),
  permissions,
  events,
  graphql: { typeDefs, resolvers, loaders },
});
