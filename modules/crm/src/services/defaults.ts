import type { TenantContext } from '@atrium/core';
import { addPipeline, type PipelineStageInput } from './deals.ts';

/** The pipeline every company starts with (rename, reorder or replace its stages with updatePipeline). */
export const DEFAULT_PIPELINE: { name: string; stages: PipelineStageInput[] } = {
  name: 'Sales',
  stages: [
    { name: 'Lead', probability: 10 },
    { name: 'Qualified', probability: 25 },
    { name: 'Proposal', probability: 50 },
    { name: 'Negotiation', probability: 75 },
  ],
};

/**
 * The CRM's `onEnable`: seeds a company that just got the module with its defaults. Runs once per
 * company, inside the enabling transaction, which flushes what is added here.
 */
export async function seedDefaults({ companyId, em }: TenantContext): Promise<void> {
  addPipeline(em, companyId, DEFAULT_PIPELINE.name, DEFAULT_PIPELINE.stages);
}
