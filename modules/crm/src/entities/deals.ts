import { createdAt, defineEntity, money, p, primaryId, type InferEntity } from '@atrium/core';

export const DEAL_STATUSES = ['OPEN', 'WON', 'LOST'] as const;
export type DealStatus = (typeof DEAL_STATUSES)[number];

/** A sales pipeline of the company: an ordered list of stages deals move through. Company-wide (not branch-scoped). */
export const Pipeline = defineEntity({
  name: 'Pipeline',
  tableName: 'crm_pipeline',
  // The queries each index serves are named in the migration.
  indexes: [{ name: 'crm_pipeline_company_created_at_idx', properties: ['companyId', 'createdAt', 'id'] }],
  uniques: [{ name: 'crm_pipeline_company_name_key', expression: 'create unique index crm_pipeline_company_name_key on crm_pipeline (company_id, lower(name))' }],
  properties: {
    id: primaryId(),
    companyId: p.uuid(),
    name: p.string().length(100),
    createdAt: createdAt(),
  },
});
export type Pipeline = InferEntity<typeof Pipeline>;

/**
 * A stage of a pipeline. A stage taken out of its pipeline keeps its row (`removedAt`), so that the
 * deals' stage history still names it.
 */
export const PipelineStage = defineEntity({
  name: 'PipelineStage',
  tableName: 'crm_pipeline_stage',
  indexes: [{ name: 'crm_pipeline_stage_pipeline_position_idx', properties: ['pipelineId', 'position'] }],
  uniques: [{ name: 'crm_pipeline_stage_pipeline_id_key', properties: ['pipelineId', 'id'] }],
  checks: [{ name: 'crm_pipeline_stage_probability_check', expression: 'probability >= 0 and probability <= 100' }],
  properties: {
    id: primaryId(),
    companyId: p.uuid(),
    pipelineId: p.uuid(),
    name: p.string().length(100),
    /** 0-based order of the stage in its pipeline. */
    position: p.integer(),
    /** Chance (0..100 %) that a deal in this stage is won, for weighted forecasts. */
    probability: p.smallint().nullable(),
    removedAt: p.datetime().nullable(),
    createdAt: createdAt(),
  },
});
export type PipelineStage = InferEntity<typeof PipelineStage>;

/** A deal: a possible sale moving through a pipeline's stages until it is won or lost. Branch-scoped. */
export const Deal = defineEntity({
  name: 'Deal',
  tableName: 'crm_deal',
  indexes: [
    { name: 'crm_deal_company_created_at_idx', properties: ['companyId', 'createdAt', 'id'] },
    { name: 'crm_deal_board_idx', properties: ['pipelineId', 'status', 'stageId', 'createdAt', 'id'] },
    { name: 'crm_deal_stage_idx', properties: ['stageId'] },
    { name: 'crm_deal_contact_idx', properties: ['contactId'] },
    { name: 'crm_deal_owner_idx', properties: ['ownerId'] },
  ],
  checks: [
    { name: 'crm_deal_amount_check', expression: 'amount >= 0' },
    { name: 'crm_deal_currency_check', expression: "currency ~ '^[A-Z]{3}$'" },
  ],
  properties: {
    id: primaryId(),
    companyId: p.uuid(),
    branchId: p.uuid(),
    pipelineId: p.uuid(),
    stageId: p.uuid(),
    title: p.string().length(200),
    contactId: p.uuid().nullable(),
    ownerId: p.uuid().nullable(),
    amount: money().defaultRaw('0'),
    /** ISO 4217 code, e.g. USD. */
    currency: p.string().length(3).columnType('char(3)'),
    status: p.enum(DEAL_STATUSES).columnType('text').default('OPEN'),
    lostReason: p.text().nullable(),
    /** A calendar day (YYYY-MM-DD). */
    expectedCloseDate: p.date().nullable(),
    /** When the deal was won or lost; null while open. */
    closedAt: p.datetime().nullable(),
    createdAt: createdAt(),
    updatedAt: p.datetime().defaultRaw('now()').onCreate(() => new Date()).onUpdate(() => new Date()),
  },
});
export type Deal = InferEntity<typeof Deal>;

/** One move of a deal into a stage (its creation included, `fromStageId` null): the deal's stage history. */
export const DealStageChange = defineEntity({
  name: 'DealStageChange',
  tableName: 'crm_deal_stage_change',
  indexes: [{ name: 'crm_deal_stage_change_deal_idx', properties: ['dealId', 'changedAt', 'id'] }],
  properties: {
    id: primaryId(),
    companyId: p.uuid(),
    dealId: p.uuid(),
    fromStageId: p.uuid().nullable(),
    toStageId: p.uuid(),
    /** The user who moved it; null when an API key did. */
    changedById: p.uuid().nullable(),
    changedAt: p.datetime().defaultRaw('now()').onCreate(() => new Date()),
  },
});
export type DealStageChange = InferEntity<typeof DealStageChange>;
