import { decimal, referenceLoader, requireViewer, User, type Loaders, type ResolverContext, type Resolvers } from '@atrium/core';
import { Contact, contactsWhere, Product } from '@atrium/crm';
import type { AgentCartLine, AgentRefund, AgentSale } from '../entities/sales.ts';
import { requireAgent } from '../services/access.ts';
import { addToAgentCart, cartLinesOf, cartTotalsOf, findCart, lineTotal, listOpenCarts, openAgentCart, removeFromAgentCart } from '../services/carts.ts';
import { checkoutAgentCart } from '../services/checkout.ts';
import { refundAgentSale } from '../services/refunds.ts';
import {
  allocationLayersOf,
  findSale,
  lineAllocationsOf,
  listSales,
  refundedQuantitiesOf,
  refundLinesOf,
  refundsOf,
  saleAllocationsOf,
  saleLinesOf,
  saleOfCarts,
} from '../services/sales.ts';

type WithId = { id: string };

const agent = (context: ResolverContext) => ({ em: context.em, viewer: requireAgent(context), emit: context.emit, publish: context.publish });

const product = referenceLoader(Product, (row: { productId: string }) => row.productId);

export const saleResolvers: Resolvers = {
  Query: {
    agentCart: (_root, { id }: WithId, context) => findCart(context.em, requireAgent(context), id),
    agentCarts: (_root, _args, context) => listOpenCarts(context.em, requireAgent(context)),
    agentSale: (_root, { id }: WithId, context) => findSale(context.em, requireViewer(context), id),
    agentSales: (_root, args: { first?: number | null; after?: string | null; filter?: { agentId?: string | null } | null }, context) =>
      listSales(context.em, requireViewer(context), args),
  },
  Mutation: {
    openAgentCart: (_root, _args, context) => openAgentCart(agent(context)),
    addToAgentCart: (_root, { input }: { input: unknown }, context) => addToAgentCart(agent(context), input),
    removeFromAgentCart: (_root, { lineId }: { lineId: string }, context) => removeFromAgentCart(agent(context), lineId),
    checkoutAgentCart: (_root, { input }: { input: unknown }, context) => checkoutAgentCart(agent(context), input),
    // The office refunds any sale, an agent their own (the service checks which).
    refundAgentSale: (_root, { id, lines }: WithId & { lines?: unknown }, context) =>
      refundAgentSale({ em: context.em, viewer: requireViewer(context), emit: context.emit, publish: context.publish }, id, lines ?? null),
  },
  AgentCartLine: {
    total: (line: AgentCartLine) => decimal(lineTotal(line)),
  },
};

export const saleLoaders: Loaders = {
  AgentCart: {
    lines: cartLinesOf,
    total: cartTotalsOf,
    sale: saleOfCarts,
  },
  AgentCartLine: { product },
  AgentSale: {
    agent: referenceLoader(User, (sale: AgentSale) => sale.agentId),
    customer: referenceLoader(Contact, (sale: AgentSale) => sale.customerId, (context) => (context.viewer ? contactsWhere(context.viewer) : null)),
    lines: saleLinesOf,
    allocations: saleAllocationsOf,
    refunds: refundsOf,
  },
  AgentSaleLine: {
    product,
    allocations: lineAllocationsOf,
    refundedQuantity: refundedQuantitiesOf,
  },
  AgentAllocation: {
    transferLine: allocationLayersOf,
  },
  AgentRefund: {
    createdBy: referenceLoader(User, (refund: AgentRefund) => refund.createdById),
    lines: refundLinesOf,
  },
};
