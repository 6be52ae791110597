import type { PermissionDeclaration } from '@atrium/core';

export const TRANSFER_MANAGE = 'agentSales.transfer.manage';
export const SALE_CREATE = 'agentSales.sale.create';
export const ANALYTICS_READ = 'agentSales.analytics.read';

/** The keys a company's roles can grant for agent sales (OWNER and ADMIN hold them all). */
export const permissions: PermissionDeclaration[] = [
  {
    key: TRANSFER_MANAGE,
    subject: 'AgentTransfer',
    actions: ['create', 'update', 'read'],
    description: "The office: hand goods to agents, record returns and refunds, see every agent's stock, transfers and sales",
  },
  {
    key: SALE_CREATE,
    subject: 'AgentSale',
    actions: ['create'],
    description: 'An agent: accept or reject transfers to oneself, sell one’s own stock from one’s carts, return and refund one’s own goods and sales',
  },
  { key: ANALYTICS_READ, subject: 'AgentAnalytics', actions: ['read'], description: "See every agent's stock, transfers, sales and analytics" },
];
