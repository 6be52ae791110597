import { referenceLoader, requireViewer, User, type Loaders, type Resolvers } from '@atrium/core';
import { Product } from '@atrium/crm';
import { AgentTransfer } from '../entities/transfers.ts';
import { agentAnalytics, productFlows, salesByDay, salesByProduct, transferBalances, type AnalyticsScope } from '../services/analytics.ts';

/** Each figure is its own aggregate query, run only when selected. */
export const analyticsResolvers: Resolvers = {
  Query: {
    agentAnalytics: (_root, { agentId, from, to }: { agentId: string; from: Date; to: Date }, context) => agentAnalytics(context.em, requireViewer(context), agentId, from, to),
  },
  AgentAnalytics: {
    products: (scope: AnalyticsScope, _args, context) => productFlows(context.em, scope),
    salesByProduct: (scope: AnalyticsScope, _args, context) => salesByProduct(context.em, scope),
    salesByDay: (scope: AnalyticsScope, _args, context) => salesByDay(context.em, scope),
    topProducts: (scope: AnalyticsScope, { limit }: { limit?: number | null }, context) => salesByProduct(context.em, scope, limit ?? 5),
    transfers: (scope: AnalyticsScope, _args, context) => transferBalances(context.em, scope),
  },
};

const product = referenceLoader(Product, (row: { productId: string }) => row.productId);

export const analyticsLoaders: Loaders = {
  AgentAnalytics: { agent: referenceLoader(User, (scope: AnalyticsScope) => scope.agentId) },
  AgentProductFlow: { product },
  AgentProductSales: { product },
  AgentTransferBalance: { transfer: referenceLoader(AgentTransfer, (row: { transferId: string }) => row.transferId) },
};
