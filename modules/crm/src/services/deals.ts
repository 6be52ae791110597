import {
  accessibleWhere,
  AtriumError,
  BadUserInputError,
  Branch,
  conflict,
  createValidator,
  flushOrConflict,
  forbidden,
  isId,
  LockMode,
  notFound,
  paginate,
  raw,
  topic,
  User,
  type AtriumRequestContext,
  type Connection,
  type ConnectionArgs,
  type EntityManager,
  type FilterQuery,
  type LoaderQuery,
  type Publish,
  type Topic,
  type Viewer,
  MONEY_PATTERN,
} from '@atrium/core';
import type { Contact } from '../entities/contact.ts';
import { Deal, DEAL_STATUSES, DealStageChange, Pipeline, PipelineStage, type DealStatus } from '../entities/deals.ts';
import { recordActivity } from './activity.ts';
import { findContact } from './contacts.ts';
import type { CrmContext } from './context.ts';

export interface DealContext extends CrmContext {
  publish: Publish;
}

/** The currency of a deal created without one. */
export const DEFAULT_CURRENCY = 'USD';
/** Deals per board column when the client does not say. */
export const DEFAULT_DEALS_PER_STAGE = 20;
export const MAX_DEALS_PER_STAGE = 100;

// ---------------------------------------------------------------------------------------------
// Validation

// ajv words pattern errors with the regular expression itself: people get these instead.
const patternMessages: Record<string, string> = {
  name: 'must be 1 to 100 characters, not only spaces',
  title: 'must be 1 to 200 characters, not only spaces',
  amount: 'must be an amount of at least 0 and at most 999999999999.99, with at most 2 decimal places',
  currency: 'must be a three-letter ISO 4217 code, e.g. USD',
};

const validator = <T>(schema: Record<string, unknown>, root = 'input') => createValidator<T>(schema, root, patternMessages);


const uuid = { type: 'string', format: 'uuid' };
const nullableUuid = { type: ['string', 'null'], format: 'uuid' };
const stageName = { type: 'string', pattern: '^(?=[\\s\\S]*\\S)[\\s\\S]{1,100}$' };
const probability = { type: ['integer', 'null'], minimum: 0, maximum: 100 };

export interface PipelineStageInput {
  id?: string;
  name: string;
  probability?: number | null;
}

export interface PipelineInput {
  name?: string;
  stages?: PipelineStageInput[];
}

const validateCreatePipeline = validator<Required<PipelineInput>>({
  type: 'object',
  additionalProperties: false,
  required: ['name', 'stages'],
  properties: {
    name: stageName,
    stages: {
      type: 'array',
      minItems: 1,
      maxItems: 50,
      items: { type: 'object', additionalProperties: false, required: ['name'], properties: { name: stageName, probability } },
    },
  },
});

const validateUpdatePipeline = validator<PipelineInput>({
  type: 'object',
  additionalProperties: false,
  properties: {
    name: stageName,
    stages: {
      type: 'array',
      minItems: 1,
      maxItems: 50,
      items: { type: 'object', additionalProperties: false, required: ['name'], properties: { id: uuid, name: stageName, probability } },
    },
  },
});

export interface DealInput {
  title?: string;
  pipelineId?: string;
  stageId?: string | null;
  contactId?: string | null;
  ownerId?: string | null;
  amount?: string | null;
  currency?: string | null;
  expectedCloseDate?: string | null;
  branchId?: string | null;
}

const dealFields = {
  title: { type: 'string', pattern: '^(?=[\\s\\S]*\\S)[\\s\\S]{1,200}$' },
  contactId: nullableUuid,
  ownerId: nullableUuid,
  // numeric(14,2): twelve digits before the point at most, two after, never negative.
  amount: { type: ['string', 'null'], pattern: MONEY_PATTERN },
  currency: { type: ['string', 'null'], pattern: '^[A-Za-z]{3}$' },
  expectedCloseDate: { type: ['string', 'null'], format: 'date' },
  branchId: nullableUuid,
};

const validateCreateDeal = validator<DealInput & { title: string; pipelineId: string }>({
  type: 'object',
  additionalProperties: false,
  required: ['title', 'pipelineId'],
  properties: { ...dealFields, pipelineId: uuid, stageId: nullableUuid },
});

// Only contact, owner and expectedCloseDate can be cleared with null.
const validateUpdateDeal = validator<Omit<DealInput, 'pipelineId' | 'stageId'>>({
  type: 'object',
  additionalProperties: false,
  properties: { ...dealFields, amount: { ...dealFields.amount, type: 'string' }, currency: { ...dealFields.currency, type: 'string' }, branchId: uuid },
});

const validateMove = validator<{ stageId: string }>({ type: 'object', additionalProperties: false, required: ['stageId'], properties: { stageId: uuid } }, '');
const validateLose = validator<{ reason?: string | null }>(
  { type: 'object', additionalProperties: false, properties: { reason: { type: ['string', 'null'], maxLength: 500 } } },
  '',
);

export interface DealFilter {
  pipelineId?: string | null;
  stageId?: string | null;
  status?: DealStatus | null;
  contactId?: string | null;
  ownerId?: string | null;
  branchId?: string | null;
  search?: string | null;
}

const validateFilter = validator<DealFilter>(
  {
    type: 'object',
    additionalProperties: false,
    properties: {
      pipelineId: nullableUuid,
      stageId: nullableUuid,
      status: { enum: [...DEAL_STATUSES, null] },
      contactId: nullableUuid,
      ownerId: nullableUuid,
      branchId: nullableUuid,
      search: { type: ['string', 'null'], maxLength: 200 },
    },
  },
  'filter',
);

/** `12.5` → `12.50`: amounts are answered as the database stores them, with two decimals. */
function normaliseAmount(amount: string): string {
  const [whole, fraction = ''] = amount.split('.');
  return `${whole}.${fraction.padEnd(2, '0')}`;
}

const actorOf = (viewer: Viewer): string | null => (viewer.kind === 'user' ? viewer.id : null);

// ---------------------------------------------------------------------------------------------
// Pipelines

/** Pipelines are company-wide: whoever reads deals reads them, and so does whoever edits them. */
export function canReadPipelines(viewer: Viewer): boolean {
  return viewer.keys.has('crm.deal.read') || viewer.keys.has('crm.pipeline.manage');
}

export async function listPipelines(em: EntityManager, viewer: Viewer): Promise<Pipeline[]> {
  if (!canReadPipelines(viewer)) throw forbidden('This needs the permission crm.deal.read');
  return em.find(Pipeline, {}, { orderBy: { createdAt: 'asc', id: 'asc' } });
}

/** A pipeline the viewer may read, or null. */
export async function findPipeline(em: EntityManager, viewer: Viewer, id: string): Promise<Pipeline | null> {
  return canReadPipelines(viewer) && isId(id) ? em.findOne(Pipeline, { id }) : null;
}

/** The live stages of a batch of pipelines, in order (Pipeline.stages: one query per response level). */
export async function stagesOf(queries: LoaderQuery<Pipeline>[], context: AtriumRequestContext): Promise<PipelineStage[][]> {
  const ids = [...new Set(queries.map((query) => query.obj.id))];
  const stages = await context.em.find(PipelineStage, { pipelineId: { $in: ids }, removedAt: null }, { orderBy: { pipelineId: 'asc', position: 'asc' } });
  return queries.map((query) => stages.filter((stage) => stage.pipelineId === query.obj.id));
}

/** Stage names are unique within a pipeline, whatever their case and surrounding spaces. */
function checkStageNames(stages: PipelineStageInput[]): void {
  const fields: Record<string, string> = {};
  const seenNames = new Set<string>();
  const seenIds = new Set<string>();
  stages.forEach((stage, index) => {
    const key = stage.name.trim().toLowerCase();
    if (seenNames.has(key)) fields[`input.stages.${index}.name`] = 'repeats the name of another stage of this pipeline';
    seenNames.add(key);
    if (stage.id && seenIds.has(stage.id)) fields[`input.stages.${index}.id`] = 'repeats another stage of this list';
    if (stage.id) seenIds.add(stage.id);
  });
  if (Object.keys(fields).length) throw new BadUserInputError(fields);
}

const pipelineConflict = () => conflict('Another pipeline of your company has this name', { field: 'input.name' });

/** Adds a pipeline and its stages to the unit of work (stages in the given order). */
export function addPipeline(em: EntityManager, companyId: string, name: string, stages: PipelineStageInput[]): Pipeline {
  const pipeline = em.create(Pipeline, { companyId, name: name.trim() } as Pipeline);
  stages.forEach((stage, position) => {
    em.create(PipelineStage, { companyId, pipelineId: pipeline.id, name: stage.name.trim(), position, probability: stage.probability ?? null } as PipelineStage);
  });
  return pipeline;
}

export async function createPipeline({ em, viewer }: DealContext, input: unknown): Promise<Pipeline> {
  const { name, stages } = validateCreatePipeline(input);
  checkStageNames(stages);
  return em.transactional(async (tx) => {
    const pipeline = addPipeline(tx, viewer.companyId, name, stages);
    await flushOrConflict(tx, pipelineConflict);
    return pipeline;
  });
}

/**
 * Locks rows `for no key update` (MikroORM's lock modes stop at `for update`): it queues behind
 * another such lock and behind the `for share` lock a deal entering a stage takes, but not behind
 * the key-share locks that writing a deal or its history takes on its pipeline and stages through
 * their foreign keys — `for update` would, and deadlock with them. Answers the ids locked.
 */
async function lockRows(tx: EntityManager, table: 'crm_pipeline' | 'crm_pipeline_stage', companyId: string, ids: string[]): Promise<string[]> {
  const rows = await tx
    .getConnection()
    .execute<{ id: string }[]>(`select id from ${table} where company_id = ? and id in (${ids.map(() => '?').join(', ')}) for no key update`, [companyId, ...ids], 'all', tx.getTransactionContext());
  return rows.map((row) => row.id);
}

/**
 * Renames a pipeline and replaces its list of stages: a listed stage with an id is kept (renamed,
 * moved to its place in the list), one without an id is added, a stage left out is removed — unless
 * deals are in it (CONFLICT). The pipeline is locked, so that changes of one pipeline run one at a
 * time, and so are the stages to remove, so that no deal enters them meanwhile (see stageOf).
 */
export async function updatePipeline({ em, viewer }: DealContext, id: string, input: unknown): Promise<Pipeline> {
  const changes = validateUpdatePipeline(input);
  if (changes.stages) checkStageNames(changes.stages);
  return em.transactional(async (tx) => {
    const locked = isId(id) ? await lockRows(tx, 'crm_pipeline', viewer.companyId, [id]) : [];
    const pipeline = locked.length ? await tx.findOne(Pipeline, { id }) : null;
    if (!pipeline) throw notFound('Pipeline');
    if (changes.name !== undefined) pipeline.name = changes.name.trim();
    if (changes.stages) {
      const current = await tx.find(PipelineStage, { pipelineId: pipeline.id, removedAt: null }, { orderBy: { position: 'asc' } });
      const byId = new Map(current.map((stage) => [stage.id, stage]));
      const unknown = Object.fromEntries(
        changes.stages.flatMap((stage, index) => (stage.id && !byId.has(stage.id) ? [[`input.stages.${index}.id`, 'is not a stage of this pipeline']] : [])),
      );
      if (Object.keys(unknown).length) throw new BadUserInputError(unknown);
      const kept = new Set(changes.stages.map((stage) => stage.id).filter(Boolean));
      const removed = current.filter((stage) => !kept.has(stage.id));
      if (removed.length) {
        const removedIds = removed.map((stage) => stage.id);
        await lockRows(tx, 'crm_pipeline_stage', viewer.companyId, removedIds);
        // Deals of every branch and status count: a closed deal still sits in its stage.
        if (await tx.count(Deal, { stageId: { $in: removedIds } })) {
          throw conflict('A stage holding deals cannot be removed: move its deals to another stage first', { field: 'input.stages' });
        }
        for (const stage of removed) stage.removedAt = new Date();
      }
      changes.stages.forEach((entry, position) => {
        const stage = entry.id ? byId.get(entry.id)! : tx.create(PipelineStage, { companyId: pipeline.companyId, pipelineId: pipeline.id, name: entry.name, position } as PipelineStage);
        stage.name = entry.name.trim();
        stage.position = position;
        if (entry.probability !== undefined || !entry.id) stage.probability = entry.probability ?? null;
      });
    }
    await flushOrConflict(tx, pipelineConflict);
    return pipeline;
  });
}

// ---------------------------------------------------------------------------------------------
// Deals: reading

/** What the viewer may do with deals, as a SQL filter; `null` when nothing. */
export function dealsWhere(viewer: Viewer, action: 'read' | 'update' = 'read'): FilterQuery<Deal> | null {
  return accessibleWhere(viewer.ability, action, 'Deal') as FilterQuery<Deal> | null;
}

function readableDeals(viewer: Viewer): FilterQuery<Deal> {
  const where = dealsWhere(viewer);
  if (!where) throw forbidden('This needs the permission crm.deal.read');
  return where;
}

/** A deal the viewer may read, or null — another company's id is simply not found. */
export async function findDeal(em: EntityManager, viewer: Viewer, id: string): Promise<Deal | null> {
  const where = dealsWhere(viewer);
  return where && isId(id) ? em.findOne(Deal, { $and: [{ id }, where] }) : null;
}

/** Whether the viewer may read a deal (an entity, or a published snapshot). */
export function canReadDeal(viewer: Viewer | null, deal: Pick<Deal, 'branchId'>): boolean {
  return !!viewer?.ability.can('read', { ...deal, __typename: 'Deal' });
}

export interface DealListArgs extends ConnectionArgs {
  filter?: DealFilter | null;
}

/** `%` and `_` typed in a search match themselves. */
const likePattern = (text: string): string => `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;

/** A page of the deals the viewer may read, newest first, filtered in SQL. */
export function listDeals(em: EntityManager, viewer: Viewer, args: DealListArgs): Promise<Connection<Deal>> {
  const where: FilterQuery<Deal>[] = [readableDeals(viewer)];
  const filter = validateFilter(args.filter ?? {});
  for (const key of ['pipelineId', 'stageId', 'status', 'contactId', 'ownerId', 'branchId'] as const) {
    if (filter[key] != null) where.push({ [key]: filter[key] });
  }
  const search = filter.search?.trim();
  if (search) where.push({ title: { $ilike: likePattern(search) } });
  return paginate(em, Deal, { ...args, where: { $and: where }, orderBy: { createdAt: 'desc', id: 'desc' } });
}

/** One move of each of a batch of deals, oldest first (Deal.history: one query per response level). */
export async function historyOf(queries: LoaderQuery<Pick<Deal, 'id'>>[], context: AtriumRequestContext): Promise<DealStageChange[][]> {
  const ids = [...new Set(queries.map((query) => query.obj.id))];
  const changes = await context.em.find(DealStageChange, { dealId: { $in: ids } }, { orderBy: { changedAt: 'asc', id: 'asc' } });
  return queries.map((query) => changes.filter((change) => change.dealId === query.obj.id));
}

// ---------------------------------------------------------------------------------------------
// The board

export interface BoardColumn {
  stage: PipelineStage;
  deals: Deal[];
  totalCount: number;
  totalAmount: string;
  totals: { currency: string; amount: string; count: number }[];
}

export interface PipelineBoard {
  pipeline: Pipeline;
  columns: BoardColumn[];
}

const validateBoard = validator<{ dealsPerStage: number; status: DealStatus }>(
  {
    type: 'object',
    additionalProperties: false,
    properties: { dealsPerStage: { type: 'integer', minimum: 0, maximum: MAX_DEALS_PER_STAGE }, status: { enum: [...DEAL_STATUSES] } },
  },
  '',
);

/**
 * A pipeline's deals grouped by stage — the deals the viewer may read, the newest `dealsPerStage` of
 * each stage — with each column's count and totals. A fixed number of statements whatever the
 * sizes: the pipeline, its stages, the columns' deals (ranked per stage by a window function), and
 * the counts and totals (one grouping-sets query).
 */
export async function pipelineBoard(
  em: EntityManager,
  viewer: Viewer,
  args: { pipelineId: string; dealsPerStage?: number | null; status?: DealStatus | null },
): Promise<PipelineBoard | null> {
  const readable = readableDeals(viewer);
  const { dealsPerStage, status } = validateBoard({ dealsPerStage: args.dealsPerStage ?? DEFAULT_DEALS_PER_STAGE, status: args.status ?? 'OPEN' });
  const pipeline = await findPipeline(em, viewer, args.pipelineId);
  if (!pipeline) return null;
  const stages = await em.find(PipelineStage, { pipelineId: pipeline.id, removedAt: null }, { orderBy: { position: 'asc' } });
  // MikroORM mutates the where objects it is given: each query gets its own.
  const inPipeline = () => ({ $and: [{ pipelineId: pipeline.id, status }, structuredClone(readable)] });

  let deals: Deal[] = [];
  if (dealsPerStage > 0) {
    const ranked = em
      .createQueryBuilder(Deal, 'd')
      .select(['*', raw('row_number() over (partition by d.stage_id order by d.created_at desc, d.id desc) as stage_rank')])
      .where(inPipeline() as never);
    await ranked.applyFilters();
    deals = await em.createQueryBuilder(ranked, 'ranked').select('*').where(raw('ranked.stage_rank <= ?', [dealsPerStage])).orderBy({ createdAt: 'desc', id: 'desc' }).getResultList();
  }

  const totals = em
    .createQueryBuilder(Deal, 'd')
    .select([
      raw('d.stage_id as stage_id'),
      raw('d.currency as currency'),
      raw('count(*)::int as count'),
      raw('sum(d.amount)::text as amount'),
      raw('grouping(d.currency) as all_currencies'),
    ])
    .where(inPipeline() as never)
    .groupBy(raw('grouping sets ((d.stage_id), (d.stage_id, d.currency))'));
  await totals.applyFilters();
  const rows = await totals.execute<{ stage_id: string; currency: string | null; count: number; amount: string; all_currencies: number }[]>('all', false);

  return {
    pipeline,
    columns: stages.map((stage) => {
      const mine = rows.filter((row) => row.stage_id === stage.id);
      const all = mine.find((row) => Number(row.all_currencies) === 1);
      return {
        stage,
        deals: deals.filter((deal) => deal.stageId === stage.id),
        totalCount: all?.count ?? 0,
        totalAmount: all ? normaliseAmount(all.amount) : '0.00',
        totals: mine
          .filter((row) => Number(row.all_currencies) === 0)
          .map((row) => ({ currency: row.currency!, amount: normaliseAmount(row.amount), count: row.count }))
          .sort((a, b) => a.currency.localeCompare(b.currency)),
      };
    }),
  };
}

// ---------------------------------------------------------------------------------------------
// Deals: changing

/** What subscribers of a pipeline's board receive: the deal as plain data (it crosses processes as JSON). */
export interface DealSnapshot {
  id: string;
  branchId: string;
  pipelineId: string;
  stageId: string;
  title: string;
  contactId: string | null;
  ownerId: string | null;
  amount: string;
  currency: string;
  status: DealStatus;
  lostReason: string | null;
  expectedCloseDate: string | null;
  closedAt: string | null;
  createdAt: string;
  updatedAt: string;
}

/** Every change of a deal of one pipeline (created, edited, moved, won, lost, reopened), after commit. */
export const dealUpdatedTopic = (companyId: string, pipelineId: string): Topic<DealSnapshot> => topic<DealSnapshot>('crm', companyId, 'pipeline', pipelineId, 'deal');

const iso = (date: Date | string | null | undefined): string | null => (date == null ? null : new Date(date).toISOString());

export function snapshotOf(deal: Deal): DealSnapshot {
  return {
    id: deal.id,
    branchId: deal.branchId,
    pipelineId: deal.pipelineId,
    stageId: deal.stageId,
    title: deal.title,
    contactId: deal.contactId ?? null,
    ownerId: deal.ownerId ?? null,
    amount: deal.amount,
    currency: deal.currency,
    status: deal.status,
    lostReason: deal.lostReason ?? null,
    expectedCloseDate: deal.expectedCloseDate ?? null,
    closedAt: iso(deal.closedAt),
    createdAt: iso(deal.createdAt)!,
    updatedAt: iso(deal.updatedAt)!,
  };
}

const publishDeal = (publish: Publish, viewer: Viewer, deal: Deal) => publish(dealUpdatedTopic(viewer.companyId, deal.pipelineId), snapshotOf(deal));

/** Problems found with the ids an input references, by input path: all reported together. */
type Problems = Record<string, string>;

function reportProblems(problems: Problems): void {
  if (Object.keys(problems).length) throw new BadUserInputError(problems);
}

/**
 * A live stage of the pipeline (its first when no id is given), share-locked until the transaction
 * ends: updatePipeline locks the stages it removes, so a deal never lands in a stage removed meanwhile.
 */
async function stageOf(tx: EntityManager, pipelineId: string, stageId: string | null | undefined, field: string, problems: Problems): Promise<PipelineStage | null> {
  const stage = stageId
    ? await tx.findOne(PipelineStage, { id: stageId }, { lockMode: LockMode.PESSIMISTIC_READ })
    : (await tx.find(PipelineStage, { pipelineId, removedAt: null }, { orderBy: { position: 'asc' }, limit: 1, lockMode: LockMode.PESSIMISTIC_READ }))[0];
  if (stage && stage.pipelineId === pipelineId && !stage.removedAt) return stage;
  problems[field] = 'is not a stage of this pipeline';
  return null;
}

/** A live contact the viewer may read (looked up with the viewer's access: another branch's contact is unknown). */
async function contactOf(tx: EntityManager, viewer: Viewer, contactId: string, problems: Problems): Promise<Contact | null> {
  const contact = await findContact(tx, viewer, contactId, { lock: LockMode.PESSIMISTIC_WRITE });
  if (!contact) problems['input.contactId'] = 'is not a contact you can see';
  else if (contact.deletedAt) problems['input.contactId'] = 'is a deleted contact';
  return contact && !contact.deletedAt ? contact : null;
}

async function checkOwner(tx: EntityManager, ownerId: string, problems: Problems): Promise<void> {
  // Looked up through the tenant filter: a user of another company is unknown here.
  if (!(await tx.findOne(User, { id: ownerId, active: true }))) problems['input.ownerId'] = 'is not an active user of your company';
}

async function checkBranch(tx: EntityManager, branchId: string, problems: Problems): Promise<void> {
  if (!(await tx.findOne(Branch, { id: branchId }))) problems['input.branchId'] = 'is not a branch of your company';
}

/** The branch of a deal created without one: its contact's, else the viewer's first, else the company's first. */
async function defaultBranch(tx: EntityManager, viewer: Viewer, contact: Contact | null): Promise<string> {
  if (contact) return contact.branchId;
  if (viewer.branchIds[0]) return viewer.branchIds[0];
  const [branch] = await tx.find(Branch, {}, { orderBy: { createdAt: 'asc', id: 'asc' }, limit: 1 });
  if (!branch) throw new AtriumError('INTERNAL', 'The company has no branch');
  return branch.id;
}

function recordMove(tx: EntityManager, viewer: Viewer, deal: Deal, fromStageId: string | null, toStageId: string): void {
  tx.create(DealStageChange, { companyId: deal.companyId, dealId: deal.id, fromStageId, toStageId, changedById: actorOf(viewer) } as DealStageChange);
}

/** A timeline entry on the deal's contact, if it has one. */
async function onTimeline(tx: EntityManager, viewer: Viewer, deal: Deal, kind: string, title: string, data: Record<string, unknown> = {}): Promise<void> {
  if (!deal.contactId) return;
  await recordActivity(tx, { contactId: deal.contactId, kind, title, subjectType: 'Deal', subjectId: deal.id, actorId: actorOf(viewer), data: { pipelineId: deal.pipelineId, ...data } });
}

export async function createDeal({ em, viewer, emit, publish }: DealContext, input: unknown): Promise<Deal> {
  const data = validateCreateDeal(input);
  const deal = await em.transactional(async (tx) => {
    const problems: Problems = {};
    const pipeline = await tx.findOne(Pipeline, { id: data.pipelineId });
    if (!pipeline) problems['input.pipelineId'] = 'is not a pipeline of your company';
    const found = pipeline ? await stageOf(tx, pipeline.id, data.stageId, 'input.stageId', problems) : null;
    const contact = data.contactId ? await contactOf(tx, viewer, data.contactId, problems) : null;
    if (data.ownerId) await checkOwner(tx, data.ownerId, problems);
    if (data.branchId) await checkBranch(tx, data.branchId, problems);
    reportProblems(problems);
    // Without problems, both were found.
    const stage = found!;
    const deal = tx.create(Deal, {
      companyId: viewer.companyId,
      branchId: data.branchId ?? (await defaultBranch(tx, viewer, contact)),
      pipelineId: stage.pipelineId,
      stageId: stage.id,
      title: data.title.trim(),
      contactId: contact?.id ?? null,
      // A deal belongs to whoever creates it unless told otherwise.
      ownerId: data.ownerId !== undefined ? data.ownerId : actorOf(viewer),
      amount: normaliseAmount(data.amount ?? '0'),
      currency: (data.currency ?? DEFAULT_CURRENCY).toUpperCase(),
      status: 'OPEN',
      lostReason: null,
      expectedCloseDate: data.expectedCloseDate ?? null,
      closedAt: null,
    } as Deal);
    if (!viewer.ability.can('create', deal)) throw forbidden('You may not add deals to this branch');
    recordMove(tx, viewer, deal, null, stage.id);
    await onTimeline(tx, viewer, deal, 'crm.deal.created', `Deal "${deal.title}" opened in ${stage.name}`, { stageId: stage.id });
    emit(tx, 'crm.deal.created', { dealId: deal.id, pipelineId: deal.pipelineId, stageId: deal.stageId });
    await tx.flush();
    return deal;
  });
  await publishDeal(publish, viewer, deal);
  return deal;
}

/** A deal the viewer may change, locked; NOT_FOUND when it cannot be seen, FORBIDDEN when it can only be read. */
async function dealToChange(tx: EntityManager, viewer: Viewer, id: string): Promise<Deal> {
  const deal = isId(id) ? await tx.findOne(Deal, { $and: [{ id }, dealsWhere(viewer) ?? { id: null }] }, { lockMode: LockMode.PESSIMISTIC_WRITE }) : null;
  if (!deal) throw notFound('Deal');
  if (!viewer.ability.can('update', deal)) throw forbidden('You may not change deals of this branch');
  return deal;
}

/** Runs a change of one deal in a transaction with the deal locked, then tells the board's subscribers. */
async function changeDeal({ em, viewer, publish }: DealContext, id: string, change: (tx: EntityManager, deal: Deal) => Promise<boolean>): Promise<Deal> {
  let changed = false;
  const deal = await em.transactional(async (tx) => {
    const deal = await dealToChange(tx, viewer, id);
    changed = await change(tx, deal);
    if (changed) await tx.flush();
    return deal;
  });
  if (changed) await publishDeal(publish, viewer, deal);
  return deal;
}

/** Edits a deal's fields (not its stage — see moveDeal — nor its status). */
export async function updateDeal(context: DealContext, id: string, input: unknown): Promise<Deal> {
  const data = validateUpdateDeal(input);
  const { viewer } = context;
  return changeDeal(context, id, async (tx, deal) => {
    const problems: Problems = {};
    if (data.contactId) await contactOf(tx, viewer, data.contactId, problems);
    if (data.ownerId) await checkOwner(tx, data.ownerId, problems);
    if (data.branchId) await checkBranch(tx, data.branchId, problems);
    reportProblems(problems);
    const changes: Partial<Deal> = {};
    if (data.title !== undefined) changes.title = data.title.trim();
    if (data.contactId !== undefined) changes.contactId = data.contactId;
    if (data.ownerId !== undefined) changes.ownerId = data.ownerId;
    if (data.amount) changes.amount = normaliseAmount(data.amount);
    if (data.currency) changes.currency = data.currency.toUpperCase();
    if (data.expectedCloseDate !== undefined) changes.expectedCloseDate = data.expectedCloseDate;
    if (data.branchId) changes.branchId = data.branchId;
    const changed = Object.entries(changes).some(([key, value]) => deal[key as keyof Deal] !== value);
    tx.assign(deal, changes);
    // Moving a deal to another branch needs the right in the branch it goes to as well.
    if (!viewer.ability.can('update', deal)) throw forbidden('You may not move deals to this branch');
    return changed;
  });
}

const refuseClosed = (deal: Deal): void => {
  if (deal.status !== 'OPEN') throw new BadUserInputError({ id: `is a ${deal.status === 'WON' ? 'won' : 'lost'} deal: reopen it first` });
};

/** Moves an open deal to another stage of its pipeline, recording the move in its history. */
export async function moveDeal(context: DealContext, id: string, stageId: unknown): Promise<Deal> {
  const args = validateMove({ stageId });
  const { viewer, emit } = context;
  return changeDeal(context, id, async (tx, deal) => {
    refuseClosed(deal);
    const problems: Problems = {};
    const stage = await stageOf(tx, deal.pipelineId, args.stageId, 'stageId', problems);
    reportProblems(problems);
    if (!stage || stage.id === deal.stageId) return false;
    const from = await tx.findOneOrFail(PipelineStage, { id: deal.stageId });
    recordMove(tx, viewer, deal, deal.stageId, stage.id);
    emit(tx, 'crm.deal.stageChanged', { dealId: deal.id, pipelineId: deal.pipelineId, fromStageId: deal.stageId, toStageId: stage.id });
    deal.stageId = stage.id;
    await onTimeline(tx, viewer, deal, 'crm.deal.stageChanged', `Deal "${deal.title}" moved from ${from.name} to ${stage.name}`, { fromStageId: from.id, toStageId: stage.id });
    return true;
  });
}

/** Marks an open deal won (a won deal stays as it is). */
export async function winDeal(context: DealContext, id: string): Promise<Deal> {
  const { viewer, emit } = context;
  return changeDeal(context, id, async (tx, deal) => {
    if (deal.status === 'WON') return false;
    refuseClosed(deal);
    deal.status = 'WON';
    deal.closedAt = new Date();
    emit(tx, 'crm.deal.won', { dealId: deal.id, pipelineId: deal.pipelineId });
    await onTimeline(tx, viewer, deal, 'crm.deal.won', `Deal "${deal.title}" won`, { amount: deal.amount, currency: deal.currency });
    return true;
  });
}

/** Marks an open deal lost, with an optional reason (a lost deal stays as it is). */
export async function loseDeal(context: DealContext, id: string, reason: unknown): Promise<Deal> {
  const args = validateLose(reason === undefined ? {} : { reason });
  const { viewer, emit } = context;
  return changeDeal(context, id, async (tx, deal) => {
    if (deal.status === 'LOST') return false;
    refuseClosed(deal);
    const lostReason = args.reason?.trim() || null;
    deal.status = 'LOST';
    deal.lostReason = lostReason;
    deal.closedAt = new Date();
    emit(tx, 'crm.deal.lost', { dealId: deal.id, pipelineId: deal.pipelineId, reason: lostReason });
    await onTimeline(tx, viewer, deal, 'crm.deal.lost', `Deal "${deal.title}" lost`, { reason: lostReason });
    return true;
  });
}

/** Opens a won or lost deal again, in the stage it was closed in. */
export async function reopenDeal(context: DealContext, id: string): Promise<Deal> {
  return changeDeal(context, id, async (_tx, deal) => {
    if (deal.status === 'OPEN') return false;
    deal.status = 'OPEN';
    deal.lostReason = null;
    deal.closedAt = null;
    return true;
  });
}
