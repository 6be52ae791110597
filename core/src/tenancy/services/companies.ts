import type { EntityManager } from '@mikro-orm/sql';
import { AtriumError, BadUserInputError, notFound } from '../../graphql/errors.ts';
import { isId, newId } from '../../db/ids.ts';
import { arrayParam } from '../../db/array-param.ts';
import { createValidator } from '../../validation.ts';
import { enabledModules, loadOverrides } from '../../access/viewer.ts';
import { Company, Plan, type PlanLimits } from '../entities.ts';
import { forgetViewersOnCommit, systemEm, type Kernel, type ServiceContext } from '../kernel.ts';

/** The plan new companies get unless configured otherwise: every installed module. */
export const DEFAULT_PLAN_CODE = 'default';

/** AtriumError FORBIDDEN unless the caller presented the platform key. */
export function requirePlatform(context: ServiceContext): void {
  if (!context.platform) throw new AtriumError('FORBIDDEN', 'This needs the platform operator key');
}

/** The plan a new company starts on; the built-in default plan is created on first use. */
export async function planForNewCompany(em: EntityManager, kernel: Kernel): Promise<Plan> {
  const code = kernel.config.defaultPlan;
  const existing = await em.findOne(Plan, { code });
  if (existing) return existing;
  if (code !== DEFAULT_PLAN_CODE) throw new AtriumError('INTERNAL', `The configured default plan "${code}" does not exist`);
  // Two first sign-ups at once: the unique code keeps one plan; the loser reads it back.
  const modules = kernel.modules.map(({ plugin }) => plugin.name);
  await em.execute(`insert into plan (id, code, name, modules) values (?, ?, 'Default', ?) on conflict (code) do nothing`, [newId(), code, arrayParam(modules)], 'run');
  return em.findOneOrFail(Plan, { code });
}

/** Modules enabled for a company now. */
export async function companyModules(em: EntityManager, kernel: Kernel, company: Company): Promise<Set<string>> {
  const plan = await em.findOneOrFail(Plan, { id: company.plan.id });
  return enabledModules(kernel.modules, plan.modules, await loadOverrides(em, company.id));
}

/**
 * Runs `onEnable` for each module enabled for the company that never was before, in dependency
 * order and inside the caller's transaction. A marker row per (company, module) makes it run once,
 * even when two changes race.
 */
export async function runOnEnable(em: EntityManager, kernel: Kernel, companyId: string, enabled: ReadonlySet<string>): Promise<string[]> {
  const ran: string[] = [];
  for (const { plugin } of kernel.modules) {
    if (!enabled.has(plugin.name)) continue;
    const marked: { module: string }[] = await em.execute(
      `insert into company_module (company_id, module, first_enabled_at) values (?, ?, now())
       on conflict (company_id, module) do update set first_enabled_at = now() where company_module.first_enabled_at is null
       returning module`,
      [companyId, plugin.name],
      'all',
    );
    if (marked.length === 0) continue;
    if (plugin.onEnable) {
      // A fork scoped to the company that stays inside the caller's transaction.
      const tenantEm = em.fork({ clear: true, useContext: false });
      const transaction = em.getTransactionContext();
      if (transaction) tenantEm.setTransactionContext(transaction);
      tenantEm.setFilterParams('tenant', { companyId });
      await plugin.onEnable({ companyId, em: tenantEm });
      await tenantEm.flush();
    }
    ran.push(plugin.name);
  }
  return ran;
}

/** Something every member's abilities depend on changed: cached abilities are stale. */
export async function bumpCompanyAccess(em: EntityManager, kernel: Kernel, companyIds: string | string[]): Promise<void> {
  const ids = Array.isArray(companyIds) ? companyIds : [companyIds];
  if (ids.length === 0) return;
  forgetViewersOnCommit(em, kernel, { companyIds: ids });
  await em.execute(
    `update company set access_version = access_version + 1 where id in (${ids.map(() => '?').join(', ')})`,
    ids,
    'run',
  );
}

interface PlanInput {
  code?: string;
  name?: string;
  modules?: string[];
  limits?: PlanLimits | null;
}

const limitsSchema = {
  type: ['object', 'null'],
  additionalProperties: false,
  properties: { maxUsers: { type: ['integer', 'null'], minimum: 1 }, maxBranches: { type: ['integer', 'null'], minimum: 1 } },
};
const validateCreatePlan = createValidator<Required<Pick<PlanInput, 'code' | 'name' | 'modules'>> & PlanInput>({
  type: 'object',
  additionalProperties: false,
  required: ['code', 'name', 'modules'],
  properties: {
    code: { type: 'string', pattern: '^[a-z0-9][a-z0-9_-]{0,63}$' },
    name: { type: 'string', minLength: 1, maxLength: 200 },
    modules: { type: 'array', items: { type: 'string' }, uniqueItems: true },
    limits: limitsSchema,
  },
});
const validateUpdatePlan = createValidator<PlanInput>({
  type: 'object',
  additionalProperties: false,
  properties: {
    name: { type: 'string', minLength: 1, maxLength: 200 },
    modules: { type: 'array', items: { type: 'string' }, uniqueItems: true },
    limits: limitsSchema,
  },
});

/** A plan code the caller names (to find a plan by): one PostgreSQL cannot hold (a NUL) is refused by field, not by the database as an internal error. */
const validateCode = (field: string) => createValidator<string>({ type: 'string' }, field);
const validateUpdatedCode = validateCode('code');
const validatePlanCode = validateCode('planCode');

function assertKnownModules(kernel: Kernel, modules: string[] | undefined, field = 'input.modules'): void {
  const installed = new Set(kernel.modules.map(({ plugin }) => plugin.name));
  const unknown = (modules ?? []).filter((m) => !installed.has(m));
  if (unknown.length > 0) throw new BadUserInputError({ [field]: `unknown modules: ${unknown.join(', ')}` });
}

const cleanLimits = (limits: PlanLimits | null | undefined): PlanLimits =>
  Object.fromEntries(Object.entries(limits ?? {}).filter(([, v]) => v !== null && v !== undefined)) as PlanLimits;

export async function createPlan(context: ServiceContext, input: unknown): Promise<Plan> {
  requirePlatform(context);
  const data = validateCreatePlan(input);
  assertKnownModules(context.kernel, data.modules);
  const em = systemEm(context.kernel);
  if (await em.findOne(Plan, { code: data.code })) throw new AtriumError('CONFLICT', `A plan with code "${data.code}" exists`);
  const plan = em.create(Plan, { code: data.code, name: data.name, modules: data.modules, limits: cleanLimits(data.limits) });
  await em.flush();
  return plan;
}

/** Changes a plan; its companies follow at once, and newly included modules run their onEnable. */
export async function updatePlan(context: ServiceContext, code: string, input: unknown): Promise<Plan> {
  requirePlatform(context);
  validateUpdatedCode(code);
  const data = validateUpdatePlan(input);
  assertKnownModules(context.kernel, data.modules);
  return systemEm(context.kernel).transactional(async (em) => {
    const plan = await em.findOne(Plan, { code });
    if (!plan) throw notFound('Plan');
    if (data.name !== undefined) plan.name = data.name;
    if (data.modules !== undefined) plan.modules = data.modules;
    if (data.limits !== undefined) plan.limits = cleanLimits(data.limits);
    await em.flush();
    const companies = await em.find(Company, { plan: plan.id });
    for (const company of companies) await runOnEnable(em, context.kernel, company.id, await companyModules(em, context.kernel, company));
    await bumpCompanyAccess(em, context.kernel, companies.map((c) => c.id));
    return plan;
  });
}

export async function setCompanyPlan(context: ServiceContext, companyId: string, planCode: string): Promise<Company> {
  requirePlatform(context);
  validatePlanCode(planCode);
  return systemEm(context.kernel).transactional(async (em) => {
    const company = isId(companyId) ? await em.findOne(Company, { id: companyId }) : null;
    if (!company) throw notFound('Company');
    const plan = await em.findOne(Plan, { code: planCode });
    if (!plan) throw new BadUserInputError({ planCode: `no plan "${planCode}"` });
    company.plan = em.getReference(Plan, plan.id);
    await em.flush();
    await runOnEnable(em, context.kernel, company.id, await companyModules(em, context.kernel, company));
    await bumpCompanyAccess(em, context.kernel, company.id);
    return company;
  });
}

export async function setCompanyModule(context: ServiceContext, companyId: string, module: string, enabled: boolean | null): Promise<Company> {
  requirePlatform(context);
  assertKnownModules(context.kernel, [module], 'module');
  return systemEm(context.kernel).transactional(async (em) => {
    const company = isId(companyId) ? await em.findOne(Company, { id: companyId }) : null;
    if (!company) throw notFound('Company');
    await em.execute(
      `insert into company_module (company_id, module, enabled) values (?, ?, ?)
       on conflict (company_id, module) do update set enabled = excluded.enabled`,
      [company.id, module, enabled],
      'run',
    );
    em.clear();
    const reloaded = await em.findOneOrFail(Company, { id: company.id });
    await runOnEnable(em, context.kernel, company.id, await companyModules(em, context.kernel, reloaded));
    await bumpCompanyAccess(em, context.kernel, company.id);
    return reloaded;
  });
}

/** Every installed module and whether it is on for the company. */
export async function listCompanyModules(em: EntityManager, kernel: Kernel, company: Company): Promise<{ name: string; enabled: boolean }[]> {
  const enabled = await companyModules(em, kernel, company);
  return kernel.modules.map(({ plugin }) => ({ name: plugin.name, enabled: enabled.has(plugin.name) }));
}

