import { AtriumError, conflict, notFound } from '../../graphql/errors.ts';
import { isId } from '../../db/ids.ts';
import { createValidator } from '../../validation.ts';
import { requirePermission, requireViewer } from '../../access/viewer.ts';
import { LockMode } from '@mikro-orm/core';
import { Branch, Company, Plan } from '../entities.ts';
import type { ServiceContext } from '../kernel.ts';
import { flushOrConflict } from '../../db/unique.ts';

const validateBranch = createValidator<{ name: string }>({
  type: 'object',
  additionalProperties: false,
  required: ['name'],
  properties: { name: { type: 'string', minLength: 1, maxLength: 200, pattern: '\\S' } },
});

/** Branch names are unique per company, whatever their case (a unique index). */
const nameTaken = (name: string) => () => conflict(`A branch named "${name}" exists`, { fields: { 'input.name': 'is taken' } });

export async function createBranch(context: ServiceContext, input: unknown): Promise<Branch> {
  const viewer = requirePermission(context, 'core.branch.manage');
  const name = validateBranch(input).name.trim();
  return context.em.transactional(async (em) => {
    const company = await em.findOneOrFail(Company, { id: viewer.companyId }, { lockMode: LockMode.PESSIMISTIC_WRITE });
    const plan = await em.findOneOrFail(Plan, { id: company.plan.id });
    const max = plan.limits.maxBranches;
    if (max !== undefined && (await em.count(Branch, {})) >= max) {
      throw new AtriumError('PLAN_LIMIT', `Your plan allows ${max} branches`, { limit: 'maxBranches', max });
    }
    const branch = em.create(Branch, { companyId: viewer.companyId, name });
    await flushOrConflict(em, nameTaken(name));
    return branch;
  });
}

export async function updateBranch(context: ServiceContext, id: string, input: unknown): Promise<Branch> {
  const viewer = requirePermission(context, 'core.branch.manage');
  const name = validateBranch(input).name.trim();
  const branch = isId(id) ? await context.em.findOne(Branch, { id }) : null;
  if (!branch || (viewer.systemRole === 'MEMBER' && !viewer.branchIds.includes(branch.id))) throw notFound('Branch');
  branch.name = name;
  await flushOrConflict(context.em, nameTaken(name));
  return branch;
}

/** The company's branches; a MEMBER sees its own. */
export async function listBranches(context: ServiceContext): Promise<Branch[]> {
  const viewer = requireViewer(context);
  const where = viewer.systemRole === 'MEMBER' ? { id: { $in: [...viewer.branchIds] } } : {};
  return context.em.find(Branch, where, { orderBy: { createdAt: 'asc', id: 'asc' } });
}
