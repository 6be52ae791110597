import t from 'tap';
import { randomBytes, randomUUID } from 'node:crypto';
import { assertEdgeInputs, createTestApp, TEST_PASSWORD, type GqlResponse, type RequestOptions, type TestApp, type TestCompany } from '@atrium/core/testing';
import { notes } from './fixtures/notes.ts';

/**
 * The kernel's own root queries and mutations (module `core`) answer edge inputs with data or a
 * clear error: the company's fields as its owner and as a MEMBER holding the core keys, ownership's
 * transfer as the owner alone, the plans API as the platform operator.
 */

const unique = (): string => randomBytes(6).toString('hex');

/** Fails loudly when a setup request did not succeed. */
function dataOf<T = any>(response: GqlResponse<T>, what: string): T {
  if (response.errors?.length || !response.data) throw new Error(`${what} failed: ${JSON.stringify(response.errors)}`);
  return response.data;
}

const PLATFORM_FIELDS = ['Query.plans', 'Mutation.createPlan', 'Mutation.updatePlan', 'Mutation.setCompanyPlan', 'Mutation.setCompanyModule'];
const OWNER_FIELDS = ['Mutation.transferOwnership'];
const COMPANY_FIELDS = [
  'Query.atrium',
  'Query.me',
  'Query.company',
  'Query.branches',
  'Query.users',
  'Query.user',
  'Query.roles',
  'Query.permissionCatalog',
  'Query.apiKeys',
  'Query.notifications',
  'Query.webhooks',
  'Subscription.notificationCreated',
  'Mutation.signUp',
  'Mutation.login',
  'Mutation.refreshSession',
  'Mutation.logout',
  'Mutation.createBranch',
  'Mutation.updateBranch',
  'Mutation.createUser',
  'Mutation.updateUser',
  'Mutation.deactivateUser',
  'Mutation.createRole',
  'Mutation.updateRole',
  'Mutation.deleteRole',
  'Mutation.createApiKey',
  'Mutation.revokeApiKey',
  'Mutation.markNotificationsRead',
  'Mutation.createWebhook',
  'Mutation.updateWebhook',
  'Mutation.deleteWebhook',
];

const skipped = (fields: string[], reason: string): Record<string, string> => Object.fromEntries(fields.map((field) => [field, reason]));

/** The core keys the MEMBER caller holds (and a module key, for roles and API keys it may grant). */
const MEMBER_KEYS = [
  'core.user.read',
  'core.user.readContact',
  'core.user.manage',
  'core.role.read',
  'core.role.manage',
  'core.branch.manage',
  'core.apiKey.manage',
  'core.webhook.manage',
  'notes.note.read',
];

const LOGIN = 'mutation ($input: LoginInput!) { login(input: $input) { refreshToken } }';
const CREATE_USER = 'mutation ($input: CreateUserInput!) { createUser(input: $input) { id } }';
const CREATE_ROLE = 'mutation ($input: CreateRoleInput!) { createRole(input: $input) { id } }';

/** Everything the company's fields refer to, made with the owner's token. */
async function seedCompany(company: TestCompany, test: TestApp) {
  const owner: RequestOptions = { token: company.owner.token };
  const gql = async (query: string, variables: Record<string, unknown>, what: string, as: RequestOptions = owner) => dataOf(await test.gql(query, variables, as), what);

  const branchId = dataOf(await test.gql('mutation { createBranch(input: { name: "Edge branch" }) { id } }', {}, owner), 'createBranch').createBranch.id as string;
  const branchIds = [company.defaultBranchId, branchId];
  const member = await test.createUser({ company, permissions: MEMBER_KEYS, branches: branchIds });
  /** A role both callers may grant, change and delete: it holds a key both hold. */
  const newRole = async () => (await gql(CREATE_ROLE, { input: { name: `Role ${unique()}`, permissions: ['notes.note.read'] } }, 'createRole')).createRole.id as string;
  const roleId = await newRole();
  /** A MEMBER of both callers' branches: each may change and deactivate it. */
  const newMember = async () =>
    (
      await gql(
        CREATE_USER,
        { input: { email: `member-${unique()}@example.test`, password: TEST_PASSWORD, displayName: 'Edge member', systemRole: 'MEMBER', roleIds: [roleId], branchIds: [company.defaultBranchId] } },
        'createUser',
      )
    ).createUser.id as string;
  const memberId = await newMember();
  /** A user only ever signed in (login, refreshSession, logout). */
  const signedIn = await test.createUser({ company });
  const refreshToken = async () => (await gql(LOGIN, { input: { email: signedIn.email, password: TEST_PASSWORD } }, 'login', {})).login.refreshToken as string;
  const newApiKey = async () =>
    (await gql('mutation ($input: CreateApiKeyInput!) { createApiKey(input: $input) { apiKey { id } } }', { input: { name: 'Doomed key', permissions: ['notes.note.read'] } }, 'createApiKey')).createApiKey
      .apiKey.id as string;
  const webhookInput = { url: 'https://hooks.example.test/atrium', events: ['notes.note.created'], secret: 's'.repeat(16) };
  const newWebhook = async () => (await gql('mutation ($input: CreateWebhookInput!) { createWebhook(input: $input) { id } }', { input: webhookInput }, 'createWebhook')).createWebhook.id as string;
  const webhookId = await newWebhook();
  /** An unread notification for each caller (markNotificationsRead marks the caller's own). */
  const newNotifications = async () => {
    const ids = [randomUUID(), randomUUID()];
    await test.sql(`insert into notification (id, company_id, user_id, type, title) values ($1, $3, $4, 'edge.test', 'Hello'), ($2, $3, $5, 'edge.test', 'Hello')`, [
      ...ids,
      company.id,
      company.owner.id,
      member.id,
    ]);
    return ids;
  };
  await newNotifications();
  // A cursor of the users list (each field of a filter and an order is probed with it).
  const usersPage = await gql('{ users(first: 1) { pageInfo { endCursor } } }', {}, 'users');
  const notificationsPage = await gql('{ notifications(first: 1) { pageInfo { endCursor } } }', {}, 'notifications');
  return {
    company,
    member,
    branchId,
    roleId,
    memberId,
    webhookId,
    webhookInput,
    usersCursor: usersPage.users.pageInfo.endCursor as string,
    notificationsCursor: notificationsPage.notifications.pageInfo.endCursor as string,
    newRole,
    newMember,
    refreshToken,
    newApiKey,
    newWebhook,
    newNotifications,
  };
}

// A thousand-odd requests, each mutation's with a digest of the company's rows before and after: past
// tap's 120 s on a busy machine.
t.setTimeout(600_000);

t.test("the kernel's root fields answer edge inputs clearly, as the owner and as a member", async (t) => {
  // The HTTP limit (1200 requests a minute per address, left on by createTestApp) would refuse the
  // probe's own valid requests: it has a test of its own.
  const test = await createTestApp({ modules: [notes], config: { httpRateLimit: 0 } });
  t.teardown(() => test.close());
  await assertEdgeInputs(t, test, {
    module: 'core',
    seed: seedCompany,
    callers: (seed, company) => ({ owner: { token: company.owner.token }, member: { token: seed.member.token } }),
    operations: {
      'Query.atrium': () => ({}),
      'Query.me': () => ({}),
      'Query.company': () => ({}),
      'Query.branches': () => ({}),
      'Query.users': ({ company, member, usersCursor }) => ({
        first: 10,
        after: usersCursor,
        filter: { search: 'e', email: member.email, systemRole: 'MEMBER', active: true, branchId: company.defaultBranchId },
        orderBy: { field: 'CREATED_AT', direction: 'ASC' },
      }),
      'Query.user': ({ memberId }) => ({ id: memberId }),
      'Query.roles': () => ({}),
      'Query.permissionCatalog': () => ({}),
      'Query.apiKeys': () => ({}),
      'Query.notifications': ({ notificationsCursor }) => ({ first: 10, after: notificationsCursor, unreadOnly: true }),
      'Query.webhooks': () => ({}),
      'Subscription.notificationCreated': () => ({}),
      // A fresh address each time: every valid sign-up makes a company.
      'Mutation.signUp': () => ({ input: { companyName: 'Edge company', email: `signup-${unique()}@example.test`, password: TEST_PASSWORD, displayName: 'Edge owner' } }),
      'Mutation.login': ({ member }) => ({ input: { email: member.email, password: TEST_PASSWORD } }),
      // Refresh tokens are single use: a fresh session each time.
      'Mutation.refreshSession': async ({ refreshToken }) => ({ refreshToken: await refreshToken() }),
      'Mutation.logout': async ({ refreshToken }) => ({ refreshToken: await refreshToken() }),
      'Mutation.createBranch': () => ({ input: { name: `Branch ${unique()}` } }),
      'Mutation.updateBranch': ({ branchId }) => ({ id: branchId, input: { name: 'Edge branch' } }),
      'Mutation.createUser': ({ company, roleId }) => ({
        input: { email: `created-${unique()}@example.test`, password: TEST_PASSWORD, displayName: 'Created', systemRole: 'MEMBER', roleIds: [roleId], branchIds: [company.defaultBranchId] },
      }),
      // A MEMBER again each time: a probe that made it ADMIN would put it out of the MEMBER caller's reach.
      'Mutation.updateUser': async ({ company, roleId, memberId }) => {
        await test.sql(`update app_user set system_role = 'MEMBER' where id = $1`, [memberId]);
        return { id: memberId, input: { displayName: 'Renamed', systemRole: 'MEMBER', roleIds: [roleId], branchIds: [company.defaultBranchId] } };
      },
      'Mutation.deactivateUser': async ({ newMember }) => ({ id: await newMember() }),
      'Mutation.createRole': () => ({ input: { name: `Role ${unique()}`, permissions: ['notes.note.read'] } }),
      'Mutation.updateRole': ({ roleId }) => ({ id: roleId, input: { name: 'Edge role', permissions: ['notes.note.read'] } }),
      'Mutation.deleteRole': async ({ newRole }) => ({ id: await newRole() }),
      'Mutation.createApiKey': () => ({ input: { name: 'Edge key', permissions: ['notes.note.read'] } }),
      'Mutation.revokeApiKey': async ({ newApiKey }) => ({ id: await newApiKey() }),
      'Mutation.markNotificationsRead': async ({ newNotifications }) => ({ ids: await newNotifications() }),
      'Mutation.createWebhook': ({ webhookInput }) => ({ input: webhookInput }),
      'Mutation.updateWebhook': ({ webhookId, webhookInput }) => ({ id: webhookId, input: { ...webhookInput, active: true } }),
      'Mutation.deleteWebhook': async ({ newWebhook }) => ({ id: await newWebhook() }),
    },
    skip: {
      ...skipped(OWNER_FIELDS, 'OWNER only: probed as the owner alone (the MEMBER caller is refused it whatever the input)'),
      ...skipped(PLATFORM_FIELDS, 'the platform operator API: probed with the platform key'),
    },
  });
});

t.test('transferOwnership answers edge inputs clearly, as the owner', async (t) => {
  const test = await createTestApp({ modules: [notes], config: { httpRateLimit: 0 } });
  t.teardown(() => test.close());
  await assertEdgeInputs(t, test, {
    module: 'core',
    async seed(company) {
      /** Each target's token: the next request hands ownership back with it. */
      const tokens = new Map<string, string>();
      return { company, tokens };
    },
    operations: {
      // Ownership goes to a fresh member each time, and back to the company's first owner before that.
      'Mutation.transferOwnership': async ({ company, tokens }) => {
        const [current] = await test.sql<{ id: string }>(`select id from app_user where company_id = $1 and system_role = 'OWNER'`, [company.id]);
        if (current!.id !== company.owner.id) {
          dataOf(await test.gql('mutation ($userId: ID!) { transferOwnership(userId: $userId) { id } }', { userId: company.owner.id }, { token: tokens.get(current!.id)! }), 'transferOwnership back');
        }
        const target = await test.createUser({ company });
        tokens.set(target.id, target.token);
        return { userId: target.id };
      },
    },
    skip: {
      ...skipped(
        COMPANY_FIELDS.filter((field) => field !== 'Mutation.transferOwnership'),
        'probed as the owner and as a member',
      ),
      ...skipped(PLATFORM_FIELDS, 'the platform operator API: probed with the platform key'),
    },
  });
});

t.test("the kernel's platform fields answer edge inputs clearly, with the platform key", async (t) => {
  const test = await createTestApp({ modules: [notes], config: { httpRateLimit: 0 } });
  t.teardown(() => test.close());
  const platform = { headers: { 'x-atrium-platform-key': test.platformKey } };
  await assertEdgeInputs(t, test, {
    module: 'core',
    async seed(company) {
      const planCode = `edge-${unique()}`;
      dataOf(await test.gql('mutation ($input: CreatePlanInput!) { createPlan(input: $input) { code } }', { input: { code: planCode, name: 'Edge plan', modules: ['notes'] } }, platform), 'createPlan');
      // The company is on the plan: a change of the plan reaches it.
      dataOf(await test.gql('mutation ($id: ID!, $code: String!) { setCompanyPlan(companyId: $id, planCode: $code) { id } }', { id: company.id, code: planCode }, platform), 'setCompanyPlan');
      return { company, planCode };
    },
    callers: () => ({ platform }),
    operations: {
      'Query.plans': () => ({}),
      'Mutation.createPlan': () => ({ input: { code: `plan-${unique()}`, name: 'Edge plan', modules: ['notes'], limits: { maxUsers: 10, maxBranches: 10 } } }),
      'Mutation.updatePlan': ({ planCode }) => ({ code: planCode, input: { name: 'Edge plan', modules: ['notes'], limits: { maxUsers: 10, maxBranches: 10 } } }),
      'Mutation.setCompanyPlan': ({ company, planCode }) => ({ companyId: company.id, planCode }),
      'Mutation.setCompanyModule': ({ company }) => ({ companyId: company.id, module: 'notes', enabled: true }),
    },
    skip: {
      ...skipped(COMPANY_FIELDS, "a company's own field: probed as its owner and as a member"),
      ...skipped(OWNER_FIELDS, "a company's own field: probed as its owner"),
    },
  });
});
