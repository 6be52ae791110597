import type { AtriumPlugin } from '@atrium/core';
import agentSales from '@atrium/agent-sales';
import crm from '@atrium/crm';
import { defineMessenger } from '@atrium/messenger';

/**
 * Every module in this repository. The quickstart serves them all; `npm run schema` composes the
 * published schema (docs/schema.graphql) from the same list.
 */
export const modules: AtriumPlugin<any>[] = [
  crm,
  // A team room for the VIP desk: roles holding `messenger.room.vip` enter it.
  defineMessenger({ rooms: [{ name: 'vip', description: 'Enter the VIP customers team room' }] }),
  agentSales,
];
