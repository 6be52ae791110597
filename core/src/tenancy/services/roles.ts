import { BadUserInputError, conflict, forbidden, notFound } from '../../graphql/errors.ts';
import { isId } from '../../db/ids.ts';
import { createValidator } from '../../validation.ts';
import { requirePermission, type Viewer } from '../../access/viewer.ts';
import { Role } from '../entities.ts';
import type { ServiceContext } from '../kernel.ts';
import { bumpCompanyAccess } from './companies.ts';
import { flushOrConflict } from '../../db/unique.ts';

const roleFields = {
  name: { type: 'string', minLength: 1, maxLength: 100, pattern: '\\S' },
  permissions: { type: 'array', items: { type: 'string', maxLength: 200 }, uniqueItems: true, maxItems: 500 },
};
const validateCreate = createValidator<{ name: string; permissions: string[] }>({
  type: 'object',
  additionalProperties: false,
  required: ['name', 'permissions'],
  properties: roleFields,
});
const validateUpdate = createValidator<{ name?: string | null; permissions?: string[] | null }>({
  type: 'object',
  additionalProperties: false,
  properties: { name: roleFields.name, permissions: { ...roleFields.permissions, type: ['array', 'null'] } },
});

/** Keys must exist, and the caller must hold every one of them: nobody grants a key it lacks. */
function assertGrantable(context: ServiceContext, viewer: Viewer, keys: string[]): void {
  const unknown = keys.filter((key) => !context.kernel.permissions.get(key));
  if (unknown.length > 0) throw new BadUserInputError({ 'input.permissions': `unknown permission keys: ${unknown.join(', ')}` });
  const missing = keys.filter((key) => !viewer.keys.has(key));
  if (missing.length > 0) throw forbidden(`You may not grant keys you lack: ${missing.join(', ')}`);
}

/** Role names are unique per company, whatever their case (a unique index). */
const nameTaken = (name: string) => () => conflict(`A role named "${name}" exists`, { fields: { 'input.name': 'is taken' } });

export async function createRole(context: ServiceContext, input: unknown): Promise<Role> {
  const viewer = requirePermission(context, 'core.role.manage');
  const data = validateCreate(input);
  assertGrantable(context, viewer, data.permissions);
  const role = context.em.create(Role, { companyId: viewer.companyId, name: data.name.trim(), permissions: data.permissions });
  await flushOrConflict(context.em, nameTaken(role.name));
  return role;
}

async function findRoleOrFail(context: ServiceContext, id: string): Promise<Role> {
  const role = isId(id) ? await context.em.findOne(Role, { id }) : null;
  if (!role) throw notFound('Role');
  return role;
}

export async function updateRole(context: ServiceContext, id: string, input: unknown): Promise<Role> {
  const viewer = requirePermission(context, 'core.role.manage');
  const data = validateUpdate(input);
  const role = await findRoleOrFail(context, id);
  // Changing a role that holds keys the caller lacks would let it strip or hand out what it cannot.
  assertGrantable(context, viewer, role.permissions.filter((key) => context.kernel.permissions.get(key)));
  if (data.permissions != null) assertGrantable(context, viewer, data.permissions);
  return context.em.transactional(async (em) => {
    const managed = em.merge(role);
    if (data.name != null) managed.name = data.name.trim();
    if (data.permissions != null) managed.permissions = data.permissions;
    await flushOrConflict(em, nameTaken(managed.name));
    await bumpCompanyAccess(em, context.kernel, viewer.companyId);
    return managed;
  });
}

export async function deleteRole(context: ServiceContext, id: string): Promise<boolean> {
  const viewer = requirePermission(context, 'core.role.manage');
  const role = await findRoleOrFail(context, id);
  assertGrantable(context, viewer, role.permissions.filter((key) => context.kernel.permissions.get(key)));
  await context.em.transactional(async (em) => {
    await em.nativeDelete(Role, { id: role.id });
    await bumpCompanyAccess(em, context.kernel, viewer.companyId);
  });
  return true;
}

export async function listRoles(context: ServiceContext): Promise<Role[]> {
  requirePermission(context, 'core.role.read');
  return context.em.find(Role, {}, { orderBy: { name: 'asc', id: 'asc' } });
}

