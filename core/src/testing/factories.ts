import { randomBytes, randomUUID } from 'node:crypto';
import type { GqlResponse, RequestOptions } from './index.ts';

/** A signed-in user made by the test kit. */
export interface TestUser {
  id: string;
  email: string;
  password: string;
  /** Access token: pass as `{ token }` to `gql` and `subscribe`. */
  token: string;
  refreshToken: string;
}

/** A company made by the test kit, with its OWNER signed in. */
export interface TestCompany {
  id: string;
  name: string;
  owner: TestUser;
  /** The branch every company starts with. */
  defaultBranchId: string;
}

export interface CreateCompanyOptions {
  name?: string;
  /** A plan code, or the modules and limits of a plan made for this company. Default: the default plan. */
  plan?: string | { modules: string[]; limits?: { maxUsers?: number; maxBranches?: number } };
}

export interface CreateUserOptions {
  company: TestCompany;
  systemRole?: 'ADMIN' | 'MEMBER';
  /** Permission keys, granted through a role made for this user. */
  permissions?: string[];
  /** Branch ids (default: the company's default branch). */
  branches?: string[];
  displayName?: string;
}

type Gql = <Data = any>(query: string, variables?: Record<string, unknown>, options?: RequestOptions) => Promise<GqlResponse<Data>>;

const unique = (): string => randomBytes(6).toString('hex');
export const TEST_PASSWORD = 'correct horse battery staple';

/** Fails loudly when a setup call did not succeed. */
function expectData<T>(response: GqlResponse<T>, what: string): T {
  if (response.errors?.length || !response.data) throw new Error(`${what} failed: ${JSON.stringify(response.errors)}`);
  return response.data;
}

const AUTH_FIELDS = 'accessToken refreshToken user { id email }';

export async function createCompany(gql: Gql, platformKey: string, options: CreateCompanyOptions = {}): Promise<TestCompany> {
  const name = options.name ?? `Company ${unique()}`;
  const email = `owner-${unique()}@example.test`;
  const signed = expectData(
    await gql(`mutation ($input: SignUpInput!) { signUp(input: $input) { ${AUTH_FIELDS} } }`, {
      input: { companyName: name, email, password: TEST_PASSWORD, displayName: 'Owner' },
    }),
    'signUp',
  ).signUp;
  const owner: TestUser = { id: signed.user.id, email, password: TEST_PASSWORD, token: signed.accessToken, refreshToken: signed.refreshToken };
  const company = expectData(await gql('{ company { id } branches { id } }', {}, { token: owner.token }), 'company');
  if (options.plan) {
    const platform = { headers: { 'x-atrium-platform-key': platformKey } };
    let code = options.plan as string;
    if (typeof options.plan === 'object') {
      code = `test-${unique()}`;
      expectData(
        await gql('mutation ($input: CreatePlanInput!) { createPlan(input: $input) { code } }', { input: { code, name: code, modules: options.plan.modules, limits: options.plan.limits ?? {} } }, platform),
        'createPlan',
      );
    }
    expectData(await gql('mutation ($id: ID!, $code: String!) { setCompanyPlan(companyId: $id, planCode: $code) { id } }', { id: company.company.id, code }, platform), 'setCompanyPlan');
  }
  return { id: company.company.id, name, owner, defaultBranchId: company.branches[0].id };
}

export async function createUser(gql: Gql, options: CreateUserOptions): Promise<TestUser> {
  const owner = { token: options.company.owner.token };
  const roleIds: string[] = [];
  if (options.permissions?.length) {
    const role = expectData(
      await gql('mutation ($input: CreateRoleInput!) { createRole(input: $input) { id } }', { input: { name: `role-${unique()}`, permissions: options.permissions } }, owner),
      'createRole',
    );
    roleIds.push(role.createRole.id);
  }
  const email = `user-${unique()}@example.test`;
  const created = expectData(
    await gql(
      'mutation ($input: CreateUserInput!) { createUser(input: $input) { id } }',
      {
        input: {
          email,
          password: TEST_PASSWORD,
          displayName: options.displayName ?? `User ${unique()}`,
          systemRole: options.systemRole ?? 'MEMBER',
          roleIds,
          branchIds: options.branches ?? [options.company.defaultBranchId],
        },
      },
      owner,
    ),
    'createUser',
  );
  const session = expectData(await gql(`mutation ($input: LoginInput!) { login(input: $input) { ${AUTH_FIELDS} } }`, { input: { email, password: TEST_PASSWORD } }), 'login').login;
  return { id: created.createUser.id, email, password: TEST_PASSWORD, token: session.accessToken, refreshToken: session.refreshToken };
}

/** Every UUID in a value. */
export function uuidsIn(value: unknown): Set<string> {
  return new Set(JSON.stringify(value ?? null).match(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi) ?? []);
}

/** The value with every UUID in `ids` replaced by a fresh random one (the same one each time it occurs). */
export function withFreshIds<T>(value: T, ids: Set<string>): T {
  const fresh = new Map([...ids].map((id) => [id, randomUUID()]));
  return JSON.parse(JSON.stringify(value ?? null).replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi, (id) => fresh.get(id) ?? id));
}
