import type { IResolvers } from 'mercurius';
import { requireViewer } from '../access/viewer.ts';
import { Company, Plan, User, type Role } from './entities.ts';
import { systemEm, type ServiceContext } from './kernel.ts';
import type { TenantFilterParams } from '../db/orm.ts';
import { login, logout, refreshSession, signedInUsers, signUp } from './services/auth.ts';
import { createPlan, listCompanyModules, requirePlatform, setCompanyModule, setCompanyPlan, updatePlan } from './services/companies.ts';
import { createBranch, listBranches, updateBranch } from './services/branches.ts';
import { createUser, deactivateUser, findUser, listUsers, transferOwnership, updateUser, type UserListArgs } from './services/users.ts';
import { createRole, deleteRole, listRoles, updateRole } from './services/roles.ts';
import { createApiKey, listApiKeys, revokeApiKey } from './services/api-keys.ts';

type Resolver<Args = Record<string, never>, Root = unknown> = (root: Root, args: Args, context: ServiceContext) => unknown;
type WithInput = { input: unknown };
type WithId = { id: string };

const query: Record<string, Resolver<any>> = {
  me: (_root, _args, context) => context.em.findOneOrFail(User, { id: requireViewer(context).id }),
  company: (_root, _args, context) => context.em.findOneOrFail(Company, { id: requireViewer(context).companyId }),
  branches: (_root, _args, context) => listBranches(context),
  users: (_root, args: UserListArgs, context) => listUsers(context, args),
  user: (_root, { id }: WithId, context) => findUser(context, id),
  roles: (_root, _args, context) => listRoles(context),
  permissionCatalog: (_root, _args, context) => {
    requireViewer(context);
    return context.kernel.permissions.all();
  },
  apiKeys: (_root, _args, context) => listApiKeys(context),
  plans: (_root, _args, context) => {
    requirePlatform(context);
    return systemEm(context.kernel).find(Plan, {}, { orderBy: { code: 'asc' } });
  },
};

const mutation: Record<string, Resolver<any>> = {
  signUp: (_root, { input }: WithInput, context) => signUp(context, input),
  login: (_root, { input }: WithInput, context) => login(context, input),
  refreshSession: (_root, { refreshToken }: { refreshToken: string }, context) => refreshSession(context, refreshToken),
  logout: (_root, { refreshToken }: { refreshToken: string }, context) => logout(context, refreshToken),
  createBranch: (_root, { input }: WithInput, context) => createBranch(context, input),
  updateBranch: (_root, { id, input }: WithId & WithInput, context) => updateBranch(context, id, input),
  createUser: (_root, { input }: WithInput, context) => createUser(context, input),
  updateUser: (_root, { id, input }: WithId & WithInput, context) => updateUser(context, id, input),
  deactivateUser: (_root, { id }: WithId, context) => deactivateUser(context, id),
  transferOwnership: (_root, { userId }: { userId: string }, context) => transferOwnership(context, userId),
  createRole: (_root, { input }: WithInput, context) => createRole(context, input),
  updateRole: (_root, { id, input }: WithId & WithInput, context) => updateRole(context, id, input),
  deleteRole: (_root, { id }: WithId, context) => deleteRole(context, id),
  createApiKey: (_root, { input }: WithInput, context) => createApiKey(context, input),
  revokeApiKey: (_root, { id }: WithId, context) => revokeApiKey(context, id),
  createPlan: (_root, { input }: WithInput, context) => createPlan(context, input),
  updatePlan: (_root, { code, input }: { code: string } & WithInput, context) => updatePlan(context, code, input),
  setCompanyPlan: (_root, { companyId, planCode }: { companyId: string; planCode: string }, context) => setCompanyPlan(context, companyId, planCode),
  setCompanyModule: (_root, args: { companyId: string; module: string; enabled: boolean | null }, context) =>
    setCompanyModule(context, args.companyId, args.module, args.enabled ?? null),
};

/** The tenant filter set to the user's company. */
const ownCompany = (user: User) => ({ tenant: { companyId: user.companyId } satisfies TenantFilterParams });

/** Resolvers of the kernel's identity and tenancy types. */
export const tenancyResolvers = {
  Query: query,
  Mutation: mutation,
  User: {
    // Field-level rule: the address is visible to holders of core.user.readContact, and to the user.
    email: (user: User, _args: unknown, context: ServiceContext) =>
      signedInUsers.has(user) || context.viewer?.ability.can('read', user, 'email') ? user.email : null,
    // In the user's own company: login and refreshSession read the user outside any company scope.
    roles: async (user: User) => (user.roles.isInitialized() ? user.roles.getItems() : user.roles.loadItems({ filters: ownCompany(user) })),
    branches: async (user: User) => (user.branches.isInitialized() ? user.branches.getItems() : user.branches.loadItems({ filters: ownCompany(user) })),
  },
  // A company reached here was already authorised (the caller's own, or the platform API's): its plan
  // and module state are read by id, outside any request scope.
  Company: {
    plan: (company: Company, _args: unknown, context: ServiceContext) => systemEm(context.kernel).findOneOrFail(Plan, { id: company.plan.id }),
    modules: (company: Company, _args: unknown, context: ServiceContext) => listCompanyModules(systemEm(context.kernel), context.kernel, company),
  },
  Role: {
    permissions: (role: Role) => role.permissions,
  },
  PermissionDefinition: {
    branchScoped: (definition: { branchScoped?: boolean }) => definition.branchScoped ?? false,
  },
} as unknown as IResolvers;
