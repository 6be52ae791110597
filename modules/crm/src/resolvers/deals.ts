import {
  Branch,
  notFound,
  referenceLoader,
  requirePermission,
  requireViewer,
  subscription,
  User,
  type Loaders,
  type ResolverContext,
  type Resolvers,
} from '@atrium/core';
import { Contact } from '../entities/contact.ts';
import { Pipeline, PipelineStage, type DealStageChange, type DealStatus } from '../entities/deals.ts';
import { contactsWhere } from '../services/contacts.ts';
import {
  canReadDeal,
  createDeal,
  createPipeline,
  dealUpdatedTopic,
  findDeal,
  findPipeline,
  historyOf,
  listDeals,
  listPipelines,
  loseDeal,
  moveDeal,
  pipelineBoard,
  reopenDeal,
  stagesOf,
  updateDeal,
  updatePipeline,
  winDeal,
  type DealListArgs,
  type DealSnapshot,
} from '../services/deals.ts';

type WithId = { id: string };
type WithInput = { input: unknown };
/** A Deal entity, or the snapshot a subscription published: both carry the reference ids. */
type DealRefs = Pick<DealSnapshot, 'contactId' | 'ownerId' | 'branchId' | 'pipelineId' | 'stageId'>;

/** The request's parts a mutation uses, once the permission `key` is checked. */
const withPermission = (context: ResolverContext, key: string) => ({ em: context.em, viewer: requirePermission(context, key), emit: context.emit, publish: context.publish });
const managePipelines = (context: ResolverContext) => withPermission(context, 'crm.pipeline.manage');
const manageDeals = (context: ResolverContext) => withPermission(context, 'crm.deal.manage');

export const dealResolvers: Resolvers = {
  Query: {
    pipelines: (_root, _args, context) => listPipelines(context.em, requireViewer(context)),
    pipeline: (_root, { id }: WithId, context) => findPipeline(context.em, requireViewer(context), id),
    deal: (_root, { id }: WithId, context) => findDeal(context.em, requireViewer(context), id),
    deals: (_root, args: DealListArgs, context) => listDeals(context.em, requireViewer(context), args),
    pipelineBoard: (_root, args: { pipelineId: string; dealsPerStage?: number | null; status?: DealStatus | null }, context) =>
      pipelineBoard(context.em, requireViewer(context), args),
  },
  Mutation: {
    createPipeline: (_root, { input }: WithInput, context) => createPipeline(managePipelines(context), input),
    updatePipeline: (_root, { id, input }: WithId & WithInput, context) => updatePipeline(managePipelines(context), id, input),
    createDeal: (_root, { input }: WithInput, context) => createDeal(manageDeals(context), input),
    updateDeal: (_root, { id, input }: WithId & WithInput, context) => updateDeal(manageDeals(context), id, input),
    moveDeal: (_root, { id, stageId }: WithId & { stageId: string }, context) => moveDeal(manageDeals(context), id, stageId),
    winDeal: (_root, { id }: WithId, context) => winDeal(manageDeals(context), id),
    loseDeal: (_root, { id, reason }: WithId & { reason?: string | null }, context) => loseDeal(manageDeals(context), id, reason),
    reopenDeal: (_root, { id }: WithId, context) => reopenDeal(manageDeals(context), id),
  },
  Subscription: {
    // The key is checked at the start and again before each event; each event is filtered by the
    // subscriber's current access, so a MEMBER receives only the deals of their branches.
    dealUpdated: subscription(
      async ({ pipelineId }: { pipelineId: string }, context) => {
        const viewer = requirePermission(context, 'crm.deal.read');
        if (!(await findPipeline(context.em, viewer, pipelineId))) throw notFound('Pipeline');
        return dealUpdatedTopic(viewer.companyId, pipelineId);
      },
      { permission: 'crm.deal.read', filter: (deal, _args, context) => canReadDeal(context.viewer, deal) },
    ),
  },
};

/** References of pipelines, deals and their history: one query per field and response level. */
export const dealLoaders: Loaders = {
  Pipeline: {
    stages: stagesOf,
  },
  Deal: {
    // A contact of a branch the viewer may not read resolves to null.
    contact: referenceLoader(Contact, (deal: DealRefs) => deal.contactId, (context) => (context.viewer ? contactsWhere(context.viewer) : null)),
    owner: referenceLoader(User, (deal: DealRefs) => deal.ownerId),
    branch: referenceLoader(Branch, (deal: DealRefs) => deal.branchId),
    pipeline: referenceLoader(Pipeline, (deal: DealRefs) => deal.pipelineId),
    stage: referenceLoader(PipelineStage, (deal: DealRefs) => deal.stageId),
    history: historyOf,
  },
  DealStageChange: {
    fromStage: referenceLoader(PipelineStage, (change: DealStageChange) => change.fromStageId),
    toStage: referenceLoader(PipelineStage, (change: DealStageChange) => change.toStageId),
    changedBy: referenceLoader(User, (change: DealStageChange) => change.changedById),
  },
};
