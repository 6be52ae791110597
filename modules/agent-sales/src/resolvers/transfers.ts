import { referenceLoader, requirePermission, requireViewer, subscription, User, type AtriumRequestContext, type Loaders, type ResolverContext, type Resolvers } from '@atrium/core';
import { Product } from '@atrium/crm';
import { TRANSFER_MANAGE } from '../permissions.ts';
import { AgentTransfer, AgentTransferLine, type AgentReturn } from '../entities/transfers.ts';
import { canSeeAgent, requireAgent, requireVisibleAgent } from '../services/access.ts';
import { agentOnHand, agentStockTopic, type AgentStock } from '../services/stock.ts';
import {
  acceptAgentTransfer,
  createAgentTransfer,
  findTransfer,
  linesOf,
  listTransfers,
  rejectAgentTransfer,
  returnFromAgent,
  returnsOf,
  sendAgentTransfer,
  transferLinesWhere,
  transfersWhere,
  type TransferFilter,
} from '../services/transfers.ts';

type WithId = { id: string };
type ConnectionArgs = { first?: number | null; after?: string | null };

/** The request's parts a service uses, once `viewer` passed its check. */
const parts = (context: ResolverContext, viewer: ReturnType<typeof requireViewer>) => ({ em: context.em, viewer, emit: context.emit, publish: context.publish });
const office = (context: ResolverContext) => parts(context, requirePermission(context, TRANSFER_MANAGE));
const agent = (context: ResolverContext) => parts(context, requireAgent(context));

/** Products of the records one may see are shown with them (an agent may hold no catalog key). */
const product = referenceLoader(Product, (row: { productId: string }) => row.productId);

export const transferResolvers: Resolvers = {
  Query: {
    agentTransfer: (_root, { id }: WithId, context) => findTransfer(context.em, requireViewer(context), id),
    agentTransfers: (_root, args: ConnectionArgs & { filter?: TransferFilter | null }, context) => listTransfers(context.em, requireViewer(context), args),
    agentOnHand: (_root, { agentId }: { agentId: string }, context) => agentOnHand(context.em, requireViewer(context), agentId),
  },
  Mutation: {
    createAgentTransfer: (_root, { input }: { input: unknown }, context) => createAgentTransfer(office(context), input),
    sendAgentTransfer: (_root, { id }: WithId, context) => sendAgentTransfer(office(context), id),
    acceptAgentTransfer: (_root, { id, lines }: WithId & { lines: unknown }, context) => acceptAgentTransfer(agent(context), id, lines),
    rejectAgentTransfer: (_root, { id, reason }: WithId & { reason?: unknown }, context) => rejectAgentTransfer(agent(context), id, reason),
    // The office, or the agent for their own lines (the service checks which).
    returnFromAgent: (_root, { input }: { input: unknown }, context) => returnFromAgent(parts(context, requireViewer(context)), input),
  },
  Subscription: {
    // Checked at the start and again before each event, with the subscriber's current keys.
    agentStockChanged: subscription(
      async ({ agentId }: { agentId: string }, context) => {
        const viewer = requireViewer(context);
        await requireVisibleAgent(context.em, viewer, agentId);
        return agentStockTopic(viewer.companyId, agentId);
      },
      { filter: (_change, { agentId }, context) => !!context.viewer && canSeeAgent(context.viewer, agentId) },
    ),
  },
};

const visibleTransfers = (context: AtriumRequestContext) => (context.viewer ? transfersWhere(context.viewer) : null);
const visibleLines = (context: AtriumRequestContext) => (context.viewer ? transferLinesWhere(context.viewer) : null);

export const transferLoaders: Loaders = {
  AgentTransfer: {
    agent: referenceLoader(User, (transfer: AgentTransfer) => transfer.agentId),
    createdBy: referenceLoader(User, (transfer: AgentTransfer) => transfer.createdById),
    lines: linesOf,
  },
  AgentTransferLine: {
    transfer: referenceLoader(AgentTransfer, (line: AgentTransferLine) => line.transferId, visibleTransfers),
    product,
    returns: returnsOf,
  },
  AgentReturn: {
    transferLine: referenceLoader(AgentTransferLine, (row: AgentReturn) => row.transferLineId, visibleLines),
    product,
    recordedBy: referenceLoader(User, (row: AgentReturn) => row.recordedById),
  },
  AgentStock: {
    product: referenceLoader(Product, (stock: AgentStock) => stock.productId),
  },
};

/** Transfer lines expose the stored names under the schema's. */
export const transferFieldResolvers: Resolvers = {
  AgentTransferLine: {
    quantitySent: (line: AgentTransferLine) => line.qtySent,
    quantityAccepted: (line: AgentTransferLine) => line.qtyAccepted,
  },
};
