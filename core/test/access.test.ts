import t from 'tap';
import { accessChanged, accessibleSql, accessibleWhere, buildAbility, companyEm, definePlugin, notify, requireViewer, viewerFact, type PermissionDefinition } from '@atrium/core';
import type { EntityManager } from '@mikro-orm/sql';
import { createMongoAbility, subject, type RawRuleOf, type MongoAbility } from '@casl/ability';
import { assertTenantIsolation, createTestApp, postgresOnly, TEST_PASSWORD } from '@atrium/core/testing';
import { authenticate } from '../src/access/authenticate.ts';
import { forgetViewers } from '../src/tenancy/kernel.ts';
import { bumpCompanyAccess } from '../src/tenancy/services/companies.ts';
import { notes } from './fixtures/notes.ts';
import { recorder } from './fixtures/recorder.ts';

const NOTES = 'query ($secret: String) { notes(first: 50, secret: $secret) { totalCount edges { node { title secret } } } }';
const CREATE_NOTE = 'mutation ($input: CreateNoteInput!) { createNote(input: $input) { id title } }';
const titles = (res: { data?: any }) => res.data.notes.edges.map((e: any) => e.node.title).sort();
const MISSING = '0190a1b2-0000-7000-8000-000000000000';

/** An app of the notes module with a company and one of its users who may read notes. */
async function appWithReader(t: { teardown(fn: () => unknown): void }) {
  const test = await createTestApp({ modules: [notes] });
  t.teardown(() => test.close());
  const company = await test.createCompany();
  const reader = await test.createUser({ company, permissions: ['notes.note.read'] });
  return { test, company, reader, kernel: test.app.kernel };
}

t.test('roles, branches and permission keys', async (t) => {
  const test = await createTestApp({ modules: [notes] });
  t.teardown(() => test.close());
  const company = await test.createCompany();
  const owner = { token: company.owner.token };
  const north = company.defaultBranchId;
  const south = (await test.gql('mutation { createBranch(input: { name: "South" }) { id } }', {}, owner)).data.createBranch.id;
  for (const [title, branchId] of [['N1', north], ['N2', north], ['S1', south]]) {
    await test.gql(CREATE_NOTE, { input: { title, branchId, secret: `${title}-secret` } }, owner);
  }

  t.test('a MEMBER with a key does what the key allows, only in its branches, and nothing else', async (t) => {
    const reader = await test.createUser({ company, permissions: ['notes.note.read'], branches: [north] });
    const as = { token: reader.token };
    const list = await test.gql(NOTES, {}, as);
    t.equal(list.data.notes.totalCount, 3, 'Welcome (seeded by onEnable in Main) and N1, N2 — not S1');
    t.same(titles(list), ['N1', 'N2', 'Welcome']);
    t.same(list.data.notes.edges.map((e: any) => e.node.secret), [null, null, null], 'no key for the secret field');
    const southNote = (await test.sql<{ id: string }>("select id from note where title = 'S1'"))[0]!.id;
    t.same((await test.gql('query ($id: ID!) { note(id: $id) { id } }', { id: southNote }, as)).data, { note: null }, 'another branch is out of reach');

    const before = (await test.sql('select id from note')).length;
    t.equal((await test.gql(CREATE_NOTE, { input: { title: 'x', branchId: north } }, as)).errors?.[0]?.extensions?.code, 'FORBIDDEN', 'reading does not allow writing');
    t.equal((await test.gql('{ users { totalCount } }', {}, as)).data.users.totalCount, 1, 'without core.user.read it sees only itself');
    t.equal((await test.gql('{ roles { id } }', {}, as)).errors?.[0]?.extensions?.code, 'FORBIDDEN');
    t.equal((await test.gql('mutation { createBranch(input: { name: "East" }) { id } }', {}, as)).errors?.[0]?.extensions?.code, 'FORBIDDEN');
    t.equal((await test.sql('select id from note')).length, before, 'nothing written');

    const writer = await test.createUser({ company, permissions: ['notes.note.read', 'notes.note.manage', 'notes.note.readSecret'], branches: [south] });
    const w = { token: writer.token };
    t.same(titles(await test.gql(NOTES, {}, w)), ['S1']);
    t.equal((await test.gql(NOTES, {}, w)).data.notes.edges[0].node.secret, 'S1-secret', 'the field-level key shows the secret');
    // Plain rows (paginateRows) are judged as entities are: the same rows, the same fields.
    const ROWS = '{ noteRows(first: 50) { totalCount edges { node { title secret } } } }';
    t.same((await test.gql(ROWS, {}, as)).data.noteRows, list.data.notes, 'as rows: the same page for the reader');
    t.same((await test.gql(ROWS, {}, w)).data.noteRows.edges, [{ node: { title: 'S1', secret: 'S1-secret' } }], 'and for the holder of the secret key');
    t.equal((await test.gql(CREATE_NOTE, { input: { title: 'S2', branchId: south } }, w)).errors, undefined);
    t.equal((await test.gql(CREATE_NOTE, { input: { title: 'N3', branchId: north } }, w)).errors?.[0]?.extensions?.code, 'FORBIDDEN', 'not in its branch');
    t.equal((await test.sql("select id from note where title = 'N3'")).length, 0);
  });

  t.test('filtering or counting by a field the role cannot read is refused', async (t) => {
    const reader = await test.createUser({ company, permissions: ['notes.note.read', 'core.user.read'] });
    const as = { token: reader.token };
    t.equal((await test.gql(NOTES, { secret: 'N1-secret' }, as)).errors?.[0]?.extensions?.code, 'FORBIDDEN');
    const byEmail = await test.gql('query ($email: String) { users(filter: { email: $email }) { totalCount } }', { email: company.owner.email }, as);
    t.equal(byEmail.errors?.[0]?.extensions?.code, 'FORBIDDEN', 'totalCount over a hidden field would reveal it');
    t.equal((await test.gql('{ users(orderBy: { field: EMAIL, direction: ASC }) { totalCount } }', {}, as)).errors?.[0]?.extensions?.code, 'FORBIDDEN');
    const visible = await test.gql('{ users(first: 100) { totalCount edges { node { id email displayName } } } }', {}, as);
    t.ok(visible.data.users.totalCount >= 2);
    const emails = visible.data.users.edges.filter((e: any) => e.node.id !== reader.id).map((e: any) => e.node.email);
    t.ok(emails.every((email: unknown) => email === null), "others' addresses are hidden");
    const contact = await test.createUser({ company, permissions: ['core.user.read', 'core.user.readContact'] });
    t.equal((await test.gql('query ($email: String) { users(filter: { email: $email }) { totalCount } }', { email: company.owner.email }, { token: contact.token })).data.users.totalCount, 1);
    // PostgreSQL stores no NUL in text: a filter holding one is refused by field, not by the database as an internal error.
    const nul = await test.gql('query ($filter: UserFilter) { users(filter: $filter) { totalCount } }', { filter: { search: 'Ann\u0000', email: 'ann\u0000@example.test' } }, { token: contact.token });
    t.same(nul.errors?.[0]?.extensions, {
      code: 'BAD_USER_INPUT',
      fields: { 'filter.search': 'must not contain the NUL character (\\u0000)', 'filter.email': 'must not contain the NUL character (\\u0000)' },
    });
  });

  t.test('a user who loses a key loses it on the next request', async (t) => {
    const role = (await test.gql('mutation { createRole(input: { name: "Readers", permissions: ["notes.note.read"] }) { id } }', {}, owner)).data.createRole.id;
    const created = await test.gql(
      'mutation ($input: CreateUserInput!) { createUser(input: $input) { id } }',
      { input: { email: 'reader2@example.test', password: TEST_PASSWORD, displayName: 'R', systemRole: 'MEMBER', roleIds: [role], branchIds: [north] } },
      owner,
    );
    t.equal(created.errors, undefined);
    const token = (await test.gql('mutation { login(input: { email: "reader2@example.test", password: "correct horse battery staple" }) { accessToken } }')).data.login.accessToken;
    t.equal((await test.gql(NOTES, {}, { token })).errors, undefined);
    await test.gql('mutation ($id: ID!) { updateRole(id: $id, input: { permissions: [] }) { id } }', { id: role }, owner);
    t.equal((await test.gql(NOTES, {}, { token })).errors?.[0]?.extensions?.code, 'FORBIDDEN');
  });

  t.test('a member moved out of a branch loses its rows on the next request', async (t) => {
    const reader = await test.createUser({ company, permissions: ['notes.note.read'], branches: [north, south] });
    t.same(titles(await test.gql(NOTES, {}, reader)).includes('S1'), true);
    await test.gql('mutation ($id: ID!, $branches: [ID!]) { updateUser(id: $id, input: { branchIds: $branches }) { id } }', { id: reader.id, branches: [north] }, owner);
    t.notOk(titles(await test.gql(NOTES, {}, reader)).includes('S1'), 'same token, the South notes are gone');
  });

  t.test('privilege escalation is refused and writes nothing', async (t) => {
    const manager = await test.createUser({ company, permissions: ['core.user.manage', 'core.role.manage', 'core.role.read'] });
    const as = { token: manager.token };
    const snapshot = async () => JSON.stringify(await test.sql('select id, system_role, access_version from app_user order by id')) + JSON.stringify(await test.sql('select id, permissions from role order by id'));
    const before = await snapshot();
    const code = async (query: string, variables: Record<string, unknown>) => (await test.gql(query, variables, as)).errors?.[0]?.extensions?.code;

    t.equal(await code('mutation ($id: ID!) { updateUser(id: $id, input: { systemRole: ADMIN }) { id } }', { id: manager.id }), 'FORBIDDEN', 'self-promotion');
    t.equal(await code('mutation { createRole(input: { name: "Mine", permissions: ["notes.note.manage"] }) { id } }', {}), 'FORBIDDEN', 'granting a key it lacks');
    t.equal(await code('mutation { createRole(input: { name: "Ghost", permissions: ["notes.note.fly"] }) { id } }', {}), 'BAD_USER_INPUT', 'an unknown key');
    const userInput = (systemRole: string) => ({ input: { email: `x-${systemRole}@example.test`, password: TEST_PASSWORD, displayName: 'X', systemRole } });
    t.equal(await code('mutation ($input: CreateUserInput!) { createUser(input: $input) { id } }', userInput('ADMIN')), 'FORBIDDEN', 'a MEMBER making an ADMIN');
    t.equal(await code('mutation ($input: CreateUserInput!) { createUser(input: $input) { id } }', userInput('OWNER')), 'BAD_USER_INPUT', 'nobody makes an OWNER');
    t.equal(await code('mutation ($id: ID!) { updateUser(id: $id, input: { displayName: "Pwned" }) { id } }', { id: company.owner.id }), 'FORBIDDEN', 'touching the owner');
    t.equal(await code('mutation ($id: ID!) { deactivateUser(id: $id) { id } }', { id: company.owner.id }), 'FORBIDDEN');
    t.equal(await code('mutation ($id: ID!) { transferOwnership(userId: $id) { id } }', { id: manager.id }), 'FORBIDDEN');
    const powerful = (await test.gql('mutation { createRole(input: { name: "Power", permissions: ["notes.note.manage"] }) { id } }', {}, owner)).data.createRole.id;
    t.equal(await code('mutation ($id: ID!, $roles: [ID!]) { updateUser(id: $id, input: { roleIds: $roles }) { id } }', { id: manager.id, roles: [powerful] }), 'FORBIDDEN', 'own roles');
    t.equal(
      await code('mutation ($input: CreateUserInput!) { createUser(input: $input) { id } }', { input: { ...userInput('MEMBER').input, roleIds: [powerful] } }),
      'FORBIDDEN',
      'handing out a role with keys it lacks',
    );
    t.equal(await code('mutation ($id: ID!) { updateRole(id: $id, input: { permissions: [] }) { id } }', { id: powerful }), 'FORBIDDEN', 'stripping a role above it');
    t.equal(
      await code('mutation { createUser(input: { email: "y@example.test", password: "correct horse battery staple", displayName: "Y", systemRole: MEMBER, companyId: "0190a1b2-0000-7000-8000-000000000000" }) { id } }', {}),
      'BAD_USER_INPUT',
      'a companyId in input',
    );
    const elsewhere = await test.createUser({ company, branches: [south] });
    t.equal(await code('mutation ($id: ID!) { updateUser(id: $id, input: { displayName: "Moved" }) { id } }', { id: elsewhere.id }), 'FORBIDDEN', 'a member of another branch');
    const holder = await test.createUser({ company });
    await test.gql('mutation ($id: ID!, $roles: [ID!]) { updateUser(id: $id, input: { roleIds: $roles }) { id } }', { id: holder.id, roles: [powerful] }, owner);
    t.equal(await code('mutation ($id: ID!) { updateUser(id: $id, input: { roleIds: [] }) { id } }', { id: holder.id }), 'FORBIDDEN', 'taking away a role with keys it lacks');
    await test.gql('mutation ($id: ID!) { updateUser(id: $id, input: { roleIds: [] }) { id } }', { id: holder.id }, owner);
    await test.gql('mutation ($id: ID!) { deleteRole(id: $id) }', { id: powerful }, owner);
    const after = JSON.parse(`[${(await snapshot()).replace('][', '],[')}]`) as { id: string }[][];
    const previous = JSON.parse(`[${before.replace('][', '],[')}]`) as { id: string }[][];
    const created = new Set([elsewhere.id, holder.id]);
    t.same(after[0]!.filter((u) => !created.has(u.id)), previous[0], 'no user was changed');
    t.same(after[1], previous[1], 'no role was changed');
  });

  t.test('ownership moves only by transfer', async (t) => {
    const admin = await test.createUser({ company, systemRole: 'ADMIN' });
    const res = await test.gql('mutation ($id: ID!) { transferOwnership(userId: $id) { id systemRole } }', { id: admin.id }, owner);
    t.same(res.data, { transferOwnership: { id: admin.id, systemRole: 'OWNER' } });
    t.same((await test.gql('{ me { systemRole } }', {}, owner)).data, { me: { systemRole: 'ADMIN' } });
    await test.gql('mutation ($id: ID!) { transferOwnership(userId: $id) { id } }', { id: company.owner.id }, { token: admin.token });
  });

  t.test('updating, deactivating and handing ownership to a user refuse bad input and write nothing', async (t) => {
    const member = await test.createUser({ company, permissions: ['notes.note.read'] });
    const gone = await test.createUser({ company });
    t.equal((await test.gql('mutation ($id: ID!) { deactivateUser(id: $id) { id } }', { id: gone.id }, owner)).errors, undefined);
    const snapshot = async () => ({
      users: await test.sql('select id, display_name, system_role, active, access_version from app_user where company_id = $1 order by id', [company.id]),
      roles: await test.sql('select user_id, role_id from user_role order by 1, 2'),
      branches: await test.sql('select user_id, branch_id from user_branch order by 1, 2'),
      sessions: await test.sql('select id, revoked_at from refresh_token order by id'),
    });
    const before = await snapshot();
    const UPDATE = 'mutation ($id: ID!, $input: UpdateUserInput!) { updateUser(id: $id, input: $input) { id } }';
    const errorOf = async (query: string, variables: Record<string, unknown>) => (await test.gql(query, variables, owner)).errors?.[0]?.extensions;

    const invalid = await errorOf(UPDATE, { id: member.id, input: { displayName: ' ', roleIds: ['not-an-id'] } });
    t.equal(invalid?.code, 'BAD_USER_INPUT');
    t.same(Object.keys(invalid?.fields ?? {}).sort(), ['input.displayName', 'input.roleIds.0']);
    // ajv-formats' uuid takes a urn:uuid: prefix, which PostgreSQL refuses: the kernel's format does not.
    const urn = await errorOf(UPDATE, { id: member.id, input: { roleIds: [`urn:uuid:${MISSING}`] } });
    t.same(Object.keys(urn?.fields ?? {}), ['input.roleIds.0'], 'an id with a urn:uuid: prefix is bad input');
    // PostgreSQL stores no NUL in text: refused by field, not by the database as an internal error.
    t.same(await errorOf(UPDATE, { id: member.id, input: { displayName: 'Ann\u0000' } }), {
      code: 'BAD_USER_INPUT',
      fields: { 'input.displayName': 'must not contain the NUL character (\\u0000)' },
    });
    t.same(await errorOf(UPDATE, { id: member.id, input: { roleIds: [MISSING] } }), { code: 'BAD_USER_INPUT', fields: { 'input.roleIds': 'contains an unknown role' } });
    t.same(
      await errorOf(UPDATE, { id: member.id, input: { displayName: 'Renamed', branchIds: [north, MISSING] } }),
      { code: 'BAD_USER_INPUT', fields: { 'input.branchIds': 'contains an unknown branch' } },
      'an unknown branch refuses the whole change, the valid name too',
    );
    t.same(await errorOf(UPDATE, { id: member.id, input: { systemRole: 'OWNER' } }), {
      code: 'BAD_USER_INPUT',
      fields: { 'input.systemRole': 'OWNER cannot be assigned; transfer ownership instead' },
    });
    t.equal((await errorOf(UPDATE, { id: MISSING, input: { displayName: 'Nobody' } }))?.code, 'NOT_FOUND');
    t.equal((await errorOf(UPDATE, { id: 'not-an-id', input: { displayName: 'Nobody' } }))?.code, 'NOT_FOUND');

    const DEACTIVATE = 'mutation ($id: ID!) { deactivateUser(id: $id) { id } }';
    t.equal((await errorOf(DEACTIVATE, { id: MISSING }))?.code, 'NOT_FOUND');
    t.equal((await errorOf(DEACTIVATE, { id: 'not-an-id' }))?.code, 'NOT_FOUND');
    t.equal((await errorOf(DEACTIVATE, { id: company.owner.id }))?.code, 'FORBIDDEN', 'nobody deactivates themselves');

    const TRANSFER = 'mutation ($id: ID!) { transferOwnership(userId: $id) { id } }';
    t.equal((await errorOf(TRANSFER, { id: MISSING }))?.code, 'NOT_FOUND');
    t.equal((await errorOf(TRANSFER, { id: 'not-an-id' }))?.code, 'NOT_FOUND');
    t.same(await errorOf(TRANSFER, { id: gone.id }), { code: 'BAD_USER_INPUT', fields: { userId: 'is deactivated' } }, 'a deactivated user cannot become the owner');
    t.same(await snapshot(), before, 'nothing written');
  });

  t.test('updating and deleting roles refuse bad input and write nothing', async (t) => {
    const editors = (await test.gql('mutation { createRole(input: { name: "Editors", permissions: ["notes.note.read"] }) { id } }', {}, owner)).data.createRole.id;
    t.equal((await test.gql('mutation { createRole(input: { name: "Viewers", permissions: [] }) { id } }', {}, owner)).errors, undefined);
    const holder = await test.createUser({ company });
    await test.gql('mutation ($id: ID!, $roles: [ID!]) { updateUser(id: $id, input: { roleIds: $roles }) { id } }', { id: holder.id, roles: [editors] }, owner);
    const snapshot = async () => ({
      roles: await test.sql('select id, name, permissions from role where company_id = $1 order by id', [company.id]),
      holders: await test.sql('select user_id, role_id from user_role order by 1, 2'),
      access: await test.sql('select access_version from company where id = $1', [company.id]),
    });
    const before = await snapshot();
    const UPDATE = 'mutation ($id: ID!, $input: UpdateRoleInput!) { updateRole(id: $id, input: $input) { id } }';
    const DELETE = 'mutation ($id: ID!) { deleteRole(id: $id) }';
    const errorOf = async (query: string, variables: Record<string, unknown>) => (await test.gql(query, variables, owner)).errors?.[0]?.extensions;

    const invalid = await errorOf(UPDATE, { id: editors, input: { name: ' ', permissions: ['notes.note.read', 'notes.note.read'] } });
    t.equal(invalid?.code, 'BAD_USER_INPUT');
    t.same(Object.keys(invalid?.fields ?? {}).sort(), ['input.name', 'input.permissions']);
    t.same(await errorOf(UPDATE, { id: editors, input: { permissions: ['notes.note.fly'] } }), {
      code: 'BAD_USER_INPUT',
      fields: { 'input.permissions': 'unknown permission keys: notes.note.fly' },
    });
    t.same(await errorOf(UPDATE, { id: editors, input: { name: 'VIEWERS', permissions: [] } }), { code: 'CONFLICT', fields: { 'input.name': 'is taken' } }, 'a taken name rolls the whole change back');
    for (const [name, id] of [['unknown', MISSING], ['malformed', 'not-an-id']] as const) {
      t.equal((await errorOf(UPDATE, { id, input: { name: 'Other' } }))?.code, 'NOT_FOUND', `updating an ${name} role`);
      t.equal((await errorOf(DELETE, { id }))?.code, 'NOT_FOUND', `deleting an ${name} role`);
    }
    t.same(await snapshot(), before, 'no role, holder or access stamp was changed');
  });

  t.test('duplicate names and addresses answer CONFLICT and write nothing', async (t) => {
    const count = async (table: string) => (await test.sql<{ n: number }>(`select count(*)::int as n from ${table}`))[0]!.n;
    const [roles, branches, users] = [await count('role'), await count('branch'), await count('app_user')];
    const role = await test.gql('mutation { createRole(input: { name: "readers", permissions: [] }) { id } }', {}, owner);
    t.same(role.errors?.[0]?.extensions, { code: 'CONFLICT', fields: { 'input.name': 'is taken' } }, 'role names ignore case');
    const branch = await test.gql('mutation { createBranch(input: { name: "south" }) { id } }', {}, owner);
    t.equal(branch.errors?.[0]?.extensions?.code, 'CONFLICT');
    const renamed = await test.gql('mutation ($id: ID!) { updateBranch(id: $id, input: { name: "SOUTH " }) { id } }', { id: north }, owner);
    t.equal(renamed.errors?.[0]?.extensions?.code, 'CONFLICT');
    const other = await test.createCompany();
    const user = await test.gql(
      'mutation ($input: CreateUserInput!) { createUser(input: $input) { id } }',
      { input: { email: other.owner.email.toUpperCase(), password: TEST_PASSWORD, displayName: 'Twin', systemRole: 'MEMBER' } },
      owner,
    );
    t.same(user.errors?.[0]?.extensions, { code: 'CONFLICT', fields: { 'input.email': 'is already registered' } }, "another company's address too");
    t.same([await count('role'), await count('branch'), await count('app_user')], [roles, branches + 1, users + 1], 'only the other company was added');
    t.same((await test.sql<{ name: string }>('select name from branch where id = $1', [north]))[0]?.name, 'Main');
  });

  t.test('the catalog lists every installed key', async (t) => {
    const res = await test.gql('{ permissionCatalog { key module branchScoped } }', {}, owner);
    t.match(res.data.permissionCatalog, [{ key: 'core.user.read', module: 'core', branchScoped: false }]);
    t.ok(res.data.permissionCatalog.some((p: any) => p.key === 'notes.note.manage' && p.module === 'notes' && p.branchScoped));
  });
});

t.test("assertTenantIsolation keeps B's own ids (own) in both runs, and checks them for no leak", async (t) => {
  const test = await createTestApp();
  t.teardown(() => test.close());
  const { checks, recorded } = recorder();
  let ownUserId = '';
  await assertTenantIsolation(recorded, test, {
    seed: async (a) => ({ userId: a.owner.id }),
    async own(b) {
      ownUserId = b.owner.id;
      return { userId: b.owner.id };
    },
    // Were B's id replaced like A's, the second run would answer null where the first answers B's owner.
    operations: [{ name: "B's own user", query: 'query ($id: ID!) { user(id: $id) { id } }', variables: (_seed, own) => ({ id: own.userId }) }],
  });
  t.ok(ownUserId, 'own ran, for company B');
  t.same(checks.filter((check) => !check.passed), [], 'every check of the helper passed');
  t.same(checks.map((check) => check.message), [
    'the seed returns the ids of A’s records',
    "B's own user: A's ids behave like ids that do not exist",
    "B's own user: no id of A's reaches B",
    "A's rows are unchanged",
  ]);
});

t.test("assertTenantIsolation sees a change to A's rows in a table without a company_id (a join table)", async (t) => {
  // Joins the caller to any branch it is given, A's too; a missing branch fails its foreign key, and
  // is answered the same (true), so only A's rows can tell.
  const careless = definePlugin({
    name: 'careless',
    version: '1.0.0',
    graphql: {
      typeDefs: 'extend type Mutation { joinBranch(id: ID!): Boolean! }',
      resolvers: {
        Mutation: {
          joinBranch: async (_root: unknown, { id }: { id: string }, context) => {
            const viewer = requireViewer(context);
            await context.em
              .transactional((tx) => tx.execute('insert into user_branch (user_id, branch_id) values (?, ?)', [viewer.id, id]))
              .catch(() => undefined);
            return true;
          },
        },
      },
    },
  });
  const test = await createTestApp({ modules: [careless] });
  t.teardown(() => test.close());
  const { checks, recorded } = recorder();
  await assertTenantIsolation(recorded, test, {
    seed: async (a) => ({ branchId: a.defaultBranchId }),
    operations: [{ name: 'joinBranch', query: 'mutation ($id: ID!) { joinBranch(id: $id) }', variables: (s) => ({ id: s.branchId }) }],
  });
  t.same(checks.filter((check) => !check.passed).map((check) => check.message), ["A's rows are unchanged"], "B's row in A's branch is found");
});

t.test('company B sees and changes nothing of company A through the kernel API', async (t) => {
  const test = await createTestApp({ modules: [notes] });
  t.teardown(() => test.close());
  interface Seed { userId: string; roleId: string; branchId: string; apiKeyId: string; noteId: string; webhookId: string; notificationId: string }
  interface Own { userId: string }
  // A webhook for an event nobody emits here: no delivery is attempted.
  const webhookInput = { url: 'http://127.0.0.1:9/hook', events: ['notes.note.created'], secret: 'a webhook secret of some length' };
  const CREATE_WEBHOOK = 'mutation ($input: CreateWebhookInput!) { createWebhook(input: $input) { id } }';
  await assertTenantIsolation<Seed, Own>(t, test, {
    async seed(a) {
      const as = { token: a.owner.token };
      const roleId = (await test.gql('mutation { createRole(input: { name: "A role", permissions: ["notes.note.read"] }) { id } }', {}, as)).data.createRole.id;
      const branchId = (await test.gql('mutation { createBranch(input: { name: "A branch" }) { id } }', {}, as)).data.createBranch.id;
      const user = await test.createUser({ company: a, permissions: ['notes.note.read'], branches: [branchId] });
      const apiKeyId = (await test.gql('mutation { createApiKey(input: { name: "A key", permissions: [] }) { apiKey { id } } }', {}, as)).data.createApiKey.apiKey.id;
      const noteId = (await test.gql(CREATE_NOTE, { input: { title: 'A note', branchId } }, as)).data.createNote.id;
      const webhookId = (await test.gql(CREATE_WEBHOOK, { input: webhookInput }, as)).data.createWebhook.id;
      const notificationId = await companyEm(test.app.kernel, a.id).transactional(async (em) => notify(em, { userId: a.owner.id, type: 'test.isolation', title: 'For A' }).id);
      return { userId: user.id, roleId, branchId, apiKeyId, noteId, webhookId, notificationId };
    },
    async own(b) {
      const user = await test.createUser({ company: b, permissions: ['notes.note.read'] });
      // B's own webhook, so that its delivery log is resolved too.
      await test.gql(CREATE_WEBHOOK, { input: webhookInput }, { token: b.owner.token });
      return { userId: user.id };
    },
    operations: [
      { name: 'user', query: 'query ($id: ID!) { user(id: $id) { id email } }', variables: (s) => ({ id: s.userId }) },
      { name: 'users', query: '{ users(first: 100) { totalCount edges { node { id } } } }' },
      { name: 'roles', query: '{ roles { id } }' },
      { name: 'branches', query: '{ branches { id } }' },
      { name: 'apiKeys', query: '{ apiKeys { id } }' },
      { name: 'notes', query: NOTES },
      { name: 'note', query: 'query ($id: ID!) { note(id: $id) { id } }', variables: (s) => ({ id: s.noteId }) },
      { name: 'rawNoteCount', query: '{ rawNoteCount }' },
      { name: 'updateUser', query: 'mutation ($id: ID!) { updateUser(id: $id, input: { displayName: "B" }) { id } }', variables: (s) => ({ id: s.userId }) },
      { name: 'deactivateUser', query: 'mutation ($id: ID!) { deactivateUser(id: $id) { id } }', variables: (s) => ({ id: s.userId }) },
      { name: 'transferOwnership', query: 'mutation ($id: ID!) { transferOwnership(userId: $id) { id } }', variables: (s) => ({ id: s.userId }) },
      { name: 'updateRole', query: 'mutation ($id: ID!) { updateRole(id: $id, input: { name: "B" }) { id } }', variables: (s) => ({ id: s.roleId }) },
      { name: 'deleteRole', query: 'mutation ($id: ID!) { deleteRole(id: $id) }', variables: (s) => ({ id: s.roleId }) },
      { name: 'updateBranch', query: 'mutation ($id: ID!) { updateBranch(id: $id, input: { name: "B" }) { id } }', variables: (s) => ({ id: s.branchId }) },
      { name: 'revokeApiKey', query: 'mutation ($id: ID!) { revokeApiKey(id: $id) }', variables: (s) => ({ id: s.apiKeyId }) },
      { name: 'deleteNote', query: 'mutation ($id: ID!) { deleteNote(id: $id) }', variables: (s) => ({ id: s.noteId }) },
      {
        name: 'createUser with A roles and branches',
        query: 'mutation ($input: CreateUserInput!) { createUser(input: $input) { id } }',
        variables: (s) => ({ input: { email: 'intruder@example.test', password: TEST_PASSWORD, displayName: 'I', systemRole: 'MEMBER', roleIds: [s.roleId], branchIds: [s.branchId] } }),
      },
      { name: 'createNote in an A branch', query: CREATE_NOTE, variables: (s) => ({ input: { title: 'intrusion', branchId: s.branchId } }) },
      {
        name: 'users in an A branch',
        query: 'query ($branchId: ID) { users(first: 100, filter: { branchId: $branchId }) { totalCount edges { node { id } } } }',
        variables: (s) => ({ branchId: s.branchId }),
      },
      {
        name: 'updateUser of a B user with A roles',
        query: 'mutation ($id: ID!, $roles: [ID!]) { updateUser(id: $id, input: { roleIds: $roles }) { id } }',
        variables: (s, own) => ({ id: own.userId, roles: [s.roleId] }),
      },
      {
        name: 'updateUser of a B user with A branches',
        query: 'mutation ($id: ID!, $branches: [ID!]) { updateUser(id: $id, input: { branchIds: $branches }) { id } }',
        variables: (s, own) => ({ id: own.userId, branches: [s.branchId] }),
      },
      { name: 'webhooks and their deliveries', query: '{ webhooks { url deliveries { totalCount edges { node { eventId } } } } }' },
      { name: 'updateWebhook', query: 'mutation ($id: ID!) { updateWebhook(id: $id, input: { active: false }) { id } }', variables: (s) => ({ id: s.webhookId }) },
      { name: 'deleteWebhook', query: 'mutation ($id: ID!) { deleteWebhook(id: $id) }', variables: (s) => ({ id: s.webhookId }) },
      { name: 'notifications', query: '{ notifications(first: 50) { totalCount edges { node { id title } } } }' },
      { name: 'markNotificationsRead with A ids', query: 'mutation ($ids: [ID!]) { markNotificationsRead(ids: $ids) }', variables: (s) => ({ ids: [s.notificationId] }) },
      { name: 'markNotificationsRead of all', query: 'mutation { markNotificationsRead }' },
    ],
  });
});

t.test('accessibleWhere agrees with ability.can row by row', async (t) => {
  const grants: PermissionDefinition[] = [
    { key: 'notes.note.read', subject: 'Note', actions: ['read'], branchScoped: true, description: '', module: 'notes' },
  ];
  const ability = buildAbility({ userId: 'u1', systemRole: 'MEMBER', branchIds: ['b1', 'b2'], grants });
  const where = accessibleWhere(ability, 'read', 'Note');
  t.same(where, { branchId: { $in: ['b1', 'b2'] } });
  const rows = ['b1', 'b2', 'b3'].map((branchId) => ({ __typename: 'Note', branchId }));
  t.same(rows.map((row) => ability.can('read', row)), [true, true, false]);
  t.same(accessibleWhere(ability, 'delete', 'Note'), null, 'nothing allowed is null');
  const admin = buildAbility({ systemRole: 'ADMIN', branchIds: [], grants });
  t.same(accessibleWhere(admin, 'read', 'Note'), {}, 'an unconditional rule matches every row');
  const withCannot = createMongoAbility([{ action: 'read', subject: 'Note', conditions: { branchId: 'b1' } }, { action: 'read', subject: 'Note', inverted: true, conditions: { ownerId: 'u2' } }]);
  t.same(accessibleWhere(withCannot, 'read', 'Note'), { $and: [{ branchId: 'b1' }, { $not: { ownerId: 'u2' } }] }, 'a cannot rule subtracts');
});

t.test('accessibleSql agrees with ability.can row by row, on the database', async (t) => {
  const test = await createTestApp({ modules: [notes] });
  t.teardown(() => test.close());
  const grants: PermissionDefinition[] = [{ key: 'notes.note.read', subject: 'Row', actions: ['read'], branchScoped: true, description: '', module: 'notes' }];
  const rows: { id: number; branchId: string | null; ownerId: string | null; score: number }[] = [];
  for (const branchId of ['b1', 'b2', 'b3', null]) for (const ownerId of ['u1', 'u2', null]) rows.push({ id: rows.length, branchId, ownerId, score: rows.length % 6 });
  const columns: Record<string, string> = { branchId: 'branch_id', ownerId: 'owner_id', score: 'score' };
  const table = `(values ${rows.map(() => '(?::int, ?::text, ?::text, ?::int)').join(', ')}) as row (id, branch_id, owner_id, score)`;
  const tableParams = rows.flatMap((row) => [row.id, row.branchId, row.ownerId, row.score]);
  const em = test.app.orm.em.fork() as EntityManager;
  const rowsAllowed = async (ability: MongoAbility) => {
    const condition = accessibleSql(ability, 'read', 'Row', (field) => columns[field]!);
    if (!condition) return null;
    const found = await em.execute<{ id: number }[]>(`select id from ${table} where ${condition.sql} order by id`, [...tableParams, ...condition.params]);
    return found.map((row) => row.id);
  };
  const rules = (...list: RawRuleOf<MongoAbility>[]) => createMongoAbility(list);
  const abilities: [string, MongoAbility][] = [
    ['a MEMBER of two branches', buildAbility({ userId: 'u1', systemRole: 'MEMBER', branchIds: ['b1', 'b2'], grants })],
    ['an ADMIN (unconditional)', buildAbility({ systemRole: 'ADMIN', branchIds: [], grants })],
    ['a MEMBER of no branch', buildAbility({ userId: 'u1', systemRole: 'MEMBER', branchIds: [], grants })],
    ['in, with null listed', rules({ action: 'read', subject: 'Row', conditions: { branchId: { $in: ['b1', null] } } })],
    ['equal to null', rules({ action: 'read', subject: 'Row', conditions: { ownerId: null } })],
    ['not equal (null differs)', rules({ action: 'read', subject: 'Row', conditions: { ownerId: { $ne: 'u1' } } })],
    ['a cannot over nin', rules({ action: 'read', subject: 'Row' }, { action: 'read', subject: 'Row', inverted: true, conditions: { branchId: { $nin: ['b1', 'b2'] } } })],
    ['a cannot over an equality (null rows stay)', rules({ action: 'read', subject: 'Row' }, { action: 'read', subject: 'Row', inverted: true, conditions: { ownerId: 'u2' } })],
    ['two rules, either', rules({ action: 'read', subject: 'Row', conditions: { branchId: 'b3' } }, { action: 'read', subject: 'Row', conditions: { score: { $gte: 2, $lt: 4 } } })],
    ['comparisons', rules({ action: 'read', subject: 'Row', conditions: { score: { $gt: 1, $lte: 3 }, ownerId: { $in: ['u1', 'u2'] } } })],
  ];
  for (const [name, ability] of abilities) {
    const expected = rows.filter((row) => ability.can('read', subject('Row', { __typename: 'Row', ...row }))).map((row) => row.id);
    t.same(await rowsAllowed(ability), expected, name);
  }
  t.equal(await rowsAllowed(rules({ action: 'update', subject: 'Row' })), null, 'nothing allowed is null');
  t.throws(
    () => accessibleSql(rules({ action: 'read', subject: 'Row', conditions: { 'owner.id': 'u1' } }), 'read', 'Row', (field) => field),
    { code: 'INTERNAL' },
    "a related entity's field needs the ORM's filters",
  );
});

t.test('a re-read of access while a change is being written does not keep the old access cached', { skip: postgresOnly }, async (t) => {
  const { test, company, reader, kernel } = await appWithReader(t);
  const bearer = `Bearer ${reader.token}`;
  const canRead = async () => (await authenticate(kernel, bearer))!.keys.has('notes.note.read');
  t.ok(await canRead());
  await (test.app.orm.em.fork() as EntityManager).transactional(async (em) => {
    await bumpCompanyAccess(em, kernel, company.id);
    await em.execute("update role set permissions = '{}' where company_id = ?", [company.id]);
    // Another request re-reads meanwhile (on another connection): it sees the committed access.
    t.ok(await canRead(), 'before the commit: the access as committed');
  });
  t.notOk(await canRead(), 'after the commit: the key is gone at once, not after accessRecheckMs');
});

t.test('a re-read of access that began before a change committed answers its own callers only: it is neither cached nor shared', async (t) => {
  const { reader, kernel } = await appWithReader(t);
  const bearer = `Bearer ${reader.token}`;
  // The change is forgotten (as at its commit) while a read that began before it is under way.
  const readAcrossAChange = () => {
    forgetViewers(kernel, { userId: reader.id });
    const begun = authenticate(kernel, bearer);
    forgetViewers(kernel, { userId: reader.id });
    return begun;
  };

  const begun = readAcrossAChange();
  t.ok(begun instanceof Promise, 'nothing was cached: the stamp is read');
  t.ok(await begun, 'its caller gets the viewer');
  t.notOk(kernel.viewerCache.has(reader.id), 'but it is not cached');

  const earlier = readAcrossAChange();
  const later = authenticate(kernel, bearer);
  t.not(later, earlier, 'a caller after the change does not share the read begun before it');
  await Promise.all([earlier, later]);
  t.equal(kernel.viewerCache.get(reader.id)?.viewer, await later, 'the read begun after the change is cached');
});

t.test("a module's access fact is read once per built viewer, and again once accessChanged commits", async (t) => {
  const { test, company, reader: member, kernel } = await appWithReader(t);
  const viewerNow = async () => (await authenticate(kernel, `Bearer ${member.token}`))!;
  const stamp = async () => (await test.sql<{ v: number }>('select access_version as v from app_user where id = $1', [member.id]))[0]!.v;
  let reads = 0;
  const fact = async () => viewerFact(await viewerNow(), 'test.fact', async () => ++reads);

  t.equal(await fact(), 1);
  t.equal(await fact(), 1, 'answered from memory for the same viewer');
  const failing = await viewerNow();
  await t.rejects(viewerFact(failing, 'test.failing', () => Promise.reject(new Error('down'))), /down/);
  t.equal(await viewerFact(failing, 'test.failing', async () => 'read again'), 'read again', 'a failed read is not kept');
  for (let i = 0; i < 1000; i++) await viewerFact(failing, `test.many.${i}`, async () => i);
  t.equal(await viewerFact(failing, 'test.failing', async () => 'read once more'), 'read once more', 'a viewer keeps at most 1000 facts');

  const before = await stamp();
  await t.rejects(
    companyEm(kernel, company.id).transactional(async (em) => {
      await accessChanged(em, kernel, [member.id]);
      throw new Error('rolled back');
    }),
  );
  t.equal(await stamp(), before, 'a rollback leaves the stamp');
  const first = await viewerNow();
  await companyEm(kernel, company.id).transactional((em) => accessChanged(em, kernel, [member.id]));
  t.equal(await stamp(), before + 1, 'a commit moves it (other instances rebuild the viewer)');
  t.not(await viewerNow(), first, 'this instance builds the viewer again at once');
  t.equal(await fact(), 2, 'so the fact is read again');
});
