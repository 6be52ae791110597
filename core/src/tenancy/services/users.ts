import { LockMode } from '@mikro-orm/core';
import { flushOrConflict } from '../../db/unique.ts';
import { AtriumError, BadUserInputError, forbidden, notFound } from '../../graphql/errors.ts';
import { isId } from '../../db/ids.ts';
import { createValidator } from '../../validation.ts';
import { paginate, type Connection, type ConnectionArgs } from '../../graphql/connection.ts';
import { hashPassword } from '../../auth/passwords.ts';
import { revokeUserSessions } from '../../auth/tokens.ts';
import { accessibleWhere, assertReadableFields } from '../../access/ability.ts';
import { requirePermission, requireViewer, type Viewer } from '../../access/viewer.ts';
import { Branch, Company, Plan, Role, User, type SystemRole } from '../entities.ts';
import { forgetViewers, forgetViewersOnCommit, type ServiceContext } from '../kernel.ts';
import { emailSchema, emailTaken, normalizeEmail, passwordSchema } from './auth.ts';

const RANK: Record<SystemRole, number> = { MEMBER: 1, ADMIN: 2, OWNER: 3 };

const idList = { type: 'array', items: { type: 'string', format: 'uuid' }, uniqueItems: true, maxItems: 100 };
const displayName = { type: 'string', minLength: 1, maxLength: 200, pattern: '\\S' };

interface CreateUserInput {
  email: string;
  password: string;
  displayName: string;
  systemRole: SystemRole;
  roleIds?: string[] | null;
  branchIds?: string[] | null;
}
const validateCreate = createValidator<CreateUserInput>({
  type: 'object',
  additionalProperties: false,
  required: ['email', 'password', 'displayName', 'systemRole'],
  properties: {
    email: emailSchema,
    password: passwordSchema,
    displayName,
    systemRole: { enum: ['OWNER', 'ADMIN', 'MEMBER'] },
    roleIds: { ...idList, type: ['array', 'null'] },
    branchIds: { ...idList, type: ['array', 'null'] },
  },
});

interface UpdateUserInput {
  displayName?: string | null;
  systemRole?: SystemRole | null;
  roleIds?: string[] | null;
  branchIds?: string[] | null;
}
const validateUpdate = createValidator<UpdateUserInput>({
  type: 'object',
  additionalProperties: false,
  properties: {
    displayName,
    systemRole: { enum: ['OWNER', 'ADMIN', 'MEMBER'] },
    roleIds: { ...idList, type: ['array', 'null'] },
    branchIds: { ...idList, type: ['array', 'null'] },
  },
});

/** A system role the caller may hand out: never OWNER (see transferOwnership), never above its own. */
function assertAssignableRole(viewer: Viewer, role: SystemRole, field: string): void {
  if (role === 'OWNER') throw new BadUserInputError({ [field]: 'OWNER cannot be assigned; transfer ownership instead' });
  if (RANK[role] > RANK[viewer.systemRole]) throw forbidden(`You may not make someone ${role}`);
}

/**
 * Who may change whom: nobody the OWNER (ownership moves by transfer); an OWNER or ADMIN any ADMIN or
 * MEMBER (ADMINs manage everything but plan and ownership); a MEMBER holding core.user.manage only
 * MEMBERs all of whose branches are its own.
 */
async function assertManageable(viewer: Viewer, target: User): Promise<void> {
  if (target.systemRole === 'OWNER') throw forbidden('The owner can only be changed by transferring ownership');
  if (viewer.systemRole !== 'MEMBER') return;
  if (target.systemRole !== 'MEMBER') throw forbidden(`You may not change a ${target.systemRole}`);
  const branches = await target.branches.loadItems();
  if (branches.some((branch) => !viewer.branchIds.includes(branch.id))) throw forbidden('You may only change members of your own branches');
}

/** Roles of the company, all of whose keys the caller holds (nobody grants a key it lacks). */
async function grantableRoles(context: ServiceContext, viewer: Viewer, roleIds: string[]): Promise<Role[]> {
  const roles = roleIds.length ? await context.em.find(Role, { id: { $in: roleIds } }) : [];
  if (roles.length !== roleIds.length) throw new BadUserInputError({ 'input.roleIds': 'contains an unknown role' });
  for (const role of roles) {
    const missing = role.permissions.filter((key) => !viewer.keys.has(key));
    if (missing.length > 0) throw forbidden(`You may not grant the role ${role.name}: it holds keys you lack (${missing.join(', ')})`);
  }
  return roles;
}

/** Branches of the company; a MEMBER may only hand out its own. */
async function grantableBranches(context: ServiceContext, viewer: Viewer, branchIds: string[]): Promise<Branch[]> {
  const branches = branchIds.length ? await context.em.find(Branch, { id: { $in: branchIds } }) : [];
  if (branches.length !== branchIds.length) throw new BadUserInputError({ 'input.branchIds': 'contains an unknown branch' });
  if (viewer.systemRole === 'MEMBER' && branches.some((b) => !viewer.branchIds.includes(b.id))) throw forbidden('You may only assign your own branches');
  return branches;
}

export async function createUser(context: ServiceContext, input: unknown): Promise<User> {
  const viewer = requirePermission(context, 'core.user.manage');
  const data = validateCreate(input);
  assertAssignableRole(viewer, data.systemRole, 'input.systemRole');
  const roles = await grantableRoles(context, viewer, data.roleIds ?? []);
  const branches = await grantableBranches(context, viewer, data.branchIds ?? []);
  const passwordHash = await hashPassword(data.password, context.kernel.config.auth.passwordCost);
  const email = normalizeEmail(data.email);
  return context.em.transactional(async (em) => {
    // The company row lock serialises user creation per company, so the plan limit holds under races.
    const company = await em.findOneOrFail(Company, { id: viewer.companyId }, { lockMode: LockMode.PESSIMISTIC_WRITE });
    const plan = await em.findOneOrFail(Plan, { id: company.plan.id });
    const maxUsers = plan.limits.maxUsers;
    if (maxUsers !== undefined && (await em.count(User, { active: true })) >= maxUsers) {
      throw new AtriumError('PLAN_LIMIT', `Your plan allows ${maxUsers} active users`, { limit: 'maxUsers', max: maxUsers });
    }
    const user = em.create(User, { companyId: viewer.companyId, email, passwordHash, displayName: data.displayName.trim(), systemRole: data.systemRole, active: true, accessVersion: 1 });
    for (const role of roles) user.roles.add(em.getReference(Role, role.id));
    for (const branch of branches) user.branches.add(em.getReference(Branch, branch.id));
    // Addresses are unique across companies (sign-in needs no company): the index decides.
    await flushOrConflict(em, emailTaken);
    return user;
  });
}

export async function updateUser(context: ServiceContext, id: string, input: unknown): Promise<User> {
  const viewer = requireViewer(context);
  const data = validateUpdate(input);
  const self = id === viewer.id;
  const changesAccess = data.systemRole != null || data.roleIds != null || data.branchIds != null;
  if (!self || changesAccess) requirePermission(context, 'core.user.manage');
  const user = await findUserOrFail(context, id);
  if (self && changesAccess) throw forbidden('You may not change your own role, roles or branches');
  if (!self) await assertManageable(viewer, user);
  if (data.systemRole != null) assertAssignableRole(viewer, data.systemRole, 'input.systemRole');
  const roles = data.roleIds != null ? await grantableRoles(context, viewer, data.roleIds) : undefined;
  if (roles) {
    // Taking a role away is as much a change of its keys as handing it out.
    const current = await user.roles.loadItems();
    await grantableRoles(context, viewer, current.filter((role) => !data.roleIds!.includes(role.id)).map((role) => role.id));
  }
  const branches = data.branchIds != null ? await grantableBranches(context, viewer, data.branchIds) : undefined;
  if (data.displayName != null) user.displayName = data.displayName.trim();
  if (data.systemRole != null) user.systemRole = data.systemRole;
  if (roles) user.roles.set(roles.map((r) => context.em.getReference(Role, r.id)));
  if (branches) user.branches.set(branches.map((b) => context.em.getReference(Branch, b.id)));
  if (changesAccess) user.accessVersion += 1;
  await context.em.flush();
  if (changesAccess) forgetViewers(context.kernel, { userId: user.id });
  return user;
}

export async function deactivateUser(context: ServiceContext, id: string): Promise<User> {
  const viewer = requirePermission(context, 'core.user.manage');
  const user = await findUserOrFail(context, id);
  if (user.id === viewer.id) throw forbidden('You may not deactivate yourself');
  await assertManageable(viewer, user);
  if (!user.active) return user;
  return context.em.transactional(async (em) => {
    const managed = em.merge(user);
    managed.active = false;
    managed.deactivatedAt = new Date();
    managed.accessVersion += 1;
    await em.flush();
    await revokeUserSessions(em, user.id);
    forgetViewersOnCommit(em, context.kernel, { userId: user.id });
    return managed;
  });
}

export async function transferOwnership(context: ServiceContext, userId: string): Promise<User> {
  const viewer = requireViewer(context);
  if (viewer.systemRole !== 'OWNER' || viewer.kind !== 'user') throw forbidden('Only the owner can transfer ownership');
  const target = await findUserOrFail(context, userId);
  if (target.id === viewer.id) return target;
  if (!target.active) throw new BadUserInputError({ userId: 'is deactivated' });
  const owner = await context.em.findOneOrFail(User, { id: viewer.id });
  target.systemRole = 'OWNER';
  owner.systemRole = 'ADMIN';
  target.accessVersion += 1;
  owner.accessVersion += 1;
  await context.em.flush();
  forgetViewers(context.kernel, { userId: target.id });
  forgetViewers(context.kernel, { userId: owner.id });
  return target;
}

/** A user of the caller's company the caller may see, or null (foreign and unknown ids alike). */
export async function findUser(context: ServiceContext, id: string): Promise<User | null> {
  const viewer = requireViewer(context);
  if (!isId(id)) return null;
  const where = accessibleWhere(viewer.ability, 'read', 'User');
  if (!where) return null;
  return context.em.findOne(User, { $and: [{ id }, where] } as never);
}

async function findUserOrFail(context: ServiceContext, id: string): Promise<User> {
  const user = isId(id) ? await context.em.findOne(User, { id }) : null;
  if (!user) throw notFound('User');
  return user;
}

export interface UserListArgs extends ConnectionArgs {
  filter?: { search?: string | null; email?: string | null; systemRole?: SystemRole | null; active?: boolean | null; branchId?: string | null } | null;
  orderBy?: { field: 'CREATED_AT' | 'DISPLAY_NAME' | 'EMAIL'; direction: 'ASC' | 'DESC' } | null;
}

const ORDER_FIELDS = { CREATED_AT: 'createdAt', DISPLAY_NAME: 'displayName', EMAIL: 'email' } as const;

/** The filter's text reaches PostgreSQL: one it cannot hold (a NUL) is refused by field, not by the database as an internal error. */
const validateFilter = createValidator<NonNullable<UserListArgs['filter']>>(
  {
    type: 'object',
    properties: { search: { type: ['string', 'null'] }, email: { type: ['string', 'null'] }, branchId: { type: ['string', 'null'] } },
  },
  'filter',
);

/** Users the caller may see, filtered and counted in SQL; filtering or sorting by a hidden field is refused. */
export async function listUsers(context: ServiceContext, args: UserListArgs): Promise<Connection<User>> {
  const viewer = requireViewer(context);
  const ability = viewer.ability;
  const filter = validateFilter(args.filter ?? {});
  const order = args.orderBy ?? { field: 'CREATED_AT', direction: 'ASC' };
  const orderField = ORDER_FIELDS[order.field];
  const used = new Set<string>([orderField]);
  if (filter.email != null) used.add('email');
  if (filter.systemRole != null) used.add('systemRole');
  if (filter.active != null) used.add('active');
  if (filter.branchId != null) used.add('branches');
  if (filter.search != null) used.add('displayName');
  assertReadableFields(ability, 'User', used);

  const where = accessibleWhere(ability, 'read', 'User');
  if (!where) throw forbidden('This needs the permission core.user.read');
  const conditions: Record<string, unknown>[] = [where];
  if (filter.email != null) conditions.push({ email: normalizeEmail(filter.email) });
  if (filter.systemRole != null) conditions.push({ systemRole: filter.systemRole });
  if (filter.active != null) conditions.push({ active: filter.active });
  if (filter.branchId != null) conditions.push({ branches: isId(filter.branchId) ? filter.branchId : null });
  if (filter.search != null && filter.search.trim() !== '') {
    const pattern = `%${filter.search.trim().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    const searchable: Record<string, unknown>[] = [{ displayName: { $ilike: pattern } }];
    if (ability.can('read', 'User', 'email')) searchable.push({ email: { $ilike: pattern } });
    conditions.push({ $or: searchable });
  }
  const direction = order.direction === 'DESC' ? 'desc' : 'asc';
  return paginate(context.em, User, {
    first: args.first,
    after: args.after,
    where: { $and: conditions } as never,
    orderBy: { [orderField]: direction, id: direction } as never,
    populate: ['roles', 'branches'],
  });
}
