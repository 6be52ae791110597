import t from 'tap';
import { createTestApp, TEST_PASSWORD } from '@atrium/core/testing';
import { enabledFor, notes } from './fixtures/notes.ts';

t.test('plans switch modules on and off per company', async (t) => {
  // New companies start on "basic", which leaves the notes module out.
  const test = await createTestApp({ modules: [notes], config: { defaultPlan: 'basic' } });
  t.teardown(() => test.close());
  const platform = { headers: { 'x-atrium-platform-key': test.platformKey } };
  /** Plans, which plan each company is on, its module overrides and access stamps: what the platform API writes. */
  const platformState = async () => ({
    plans: await test.sql('select id, code, name, modules, limits from plan order by code'),
    companies: await test.sql('select id, plan_id, access_version from company order by id'),
    overrides: await test.sql('select company_id, module, enabled, first_enabled_at from company_module order by 1, 2'),
  });
  await test.gql('mutation { createPlan(input: { code: "basic", name: "Basic", modules: [] }) { code } } ', {}, platform);
  await test.gql('mutation { createPlan(input: { code: "default", name: "Everything", modules: ["notes"] }) { code } } ', {}, platform);
  const basic = await test.createCompany();
  const as = { token: basic.owner.token };

  t.test('a module outside the plan answers MODULE_DISABLED everywhere it reaches', async (t) => {
    const root = await test.gql('{ notes { totalCount } }', {}, as);
    t.same(root.errors?.[0]?.extensions, { module: 'notes', code: 'MODULE_DISABLED' });
    t.equal((await test.gql('mutation { createNote(input: { title: "x", branchId: "0190a1b2-0000-7000-8000-000000000000" }) { id } }', {}, as)).errors?.[0]?.extensions?.code, 'MODULE_DISABLED');
    const added = await test.gql('{ me { id noteCount } }', {}, as);
    t.equal(added.errors?.[0]?.extensions?.code, 'MODULE_DISABLED', 'the field it adds to the kernel User type');
    t.same(added.errors?.[0]?.path, ['me', 'noteCount']);
    const loaded = await test.gql('{ me { id batchedNoteCount } }', {}, as);
    t.equal(loaded.errors?.[0]?.extensions?.code, 'MODULE_DISABLED', 'and the one it adds through a loader');
    t.same(loaded.errors?.[0]?.path, ['me', 'batchedNoteCount']);
    const live = await test.subscribe('subscription { noteCreated { id } }', {}, as);
    const refusal = await live.next();
    t.equal(refusal.errors?.[0]?.extensions?.code, 'MODULE_DISABLED', `its subscriptions are refused: ${JSON.stringify(refusal)}`);
    await live.close();
    t.same((await test.gql('{ company { modules { name enabled } } }', {}, as)).data.company.modules, [{ name: 'notes', enabled: false }]);
    t.equal((await test.gql('{ notes { totalCount } }')).errors?.[0]?.extensions?.code, 'UNAUTHENTICATED', 'anonymous callers are asked to sign in');
  });

  t.test("a disabled module's keys grant nothing", async (t) => {
    const role = await test.gql('mutation { createRole(input: { name: "Notes", permissions: ["notes.note.read"] }) { id } }', {}, as);
    t.equal(role.errors?.[0]?.extensions?.code, 'FORBIDDEN', 'even the owner does not hold keys of a module that is off');
  });

  t.test('switching the plan on calls onEnable once, and the module works at once', async (t) => {
    t.equal(enabledFor.get(basic.id), undefined);
    const moved = await test.gql('mutation ($id: ID!) { setCompanyPlan(companyId: $id, planCode: "default") { modules { name enabled } } }', { id: basic.id }, platform);
    t.same(moved.data.setCompanyPlan.modules, [{ name: 'notes', enabled: true }]);
    t.equal(enabledFor.get(basic.id), 1);
    const seeded = await test.gql('{ notes { totalCount edges { node { title } } } me { noteCount batchedNoteCount } }', {}, as);
    t.same(seeded.data, { notes: { totalCount: 1, edges: [{ node: { title: 'Welcome' } }] }, me: { noteCount: 1, batchedNoteCount: 1 } }, 'same token, new abilities');
    const off = await test.gql('mutation ($id: ID!) { setCompanyModule(companyId: $id, module: "notes", enabled: false) { modules { enabled } } }', { id: basic.id }, platform);
    t.same(off.data.setCompanyModule.modules, [{ enabled: false }]);
    t.equal((await test.gql('{ notes { totalCount } }', {}, as)).errors?.[0]?.extensions?.code, 'MODULE_DISABLED', 'an override switches it off');
    await test.gql('mutation ($id: ID!) { setCompanyModule(companyId: $id, module: "notes", enabled: null) { id } }', { id: basic.id }, platform);
    t.equal((await test.gql('{ notes { totalCount } }', {}, as)).data.notes.totalCount, 1);
    t.equal(enabledFor.get(basic.id), 1, 'onEnable ran once');
  });

  t.test('plan limits', async (t) => {
    const small = await test.createCompany({ plan: { modules: ['notes'], limits: { maxUsers: 2, maxBranches: 1 } } });
    const owner = { token: small.owner.token };
    const create = (n: number) =>
      test.gql('mutation ($input: CreateUserInput!) { createUser(input: $input) { id } }', {
        input: { email: `limit-${n}-${small.id}@example.test`, password: TEST_PASSWORD, displayName: `U${n}`, systemRole: 'MEMBER' },
      }, owner);
    t.equal((await create(1)).errors, undefined);
    const users = async () => (await test.sql<{ n: number }>('select count(*)::int as n from app_user where company_id = $1', [small.id]))[0]!.n;
    const before = await users();
    const refused = await create(2);
    t.equal(refused.errors?.[0]?.extensions?.code, 'PLAN_LIMIT');
    t.equal(refused.errors?.[0]?.extensions?.limit, 'maxUsers');
    t.equal(await users(), before, 'nothing written');
    const branch = await test.gql('mutation { createBranch(input: { name: "Second" }) { id } }', {}, owner);
    t.equal(branch.errors?.[0]?.extensions?.code, 'PLAN_LIMIT');
    t.equal((await test.sql('select id from branch where company_id = $1', [small.id])).length, 1);
  });

  t.test('the platform key manages plans and grants nothing inside a company', async (t) => {
    t.equal((await test.gql('{ me { id } }', {}, platform)).errors?.[0]?.extensions?.code, 'UNAUTHENTICATED');
    t.equal((await test.gql('{ users { totalCount } }', {}, platform)).errors?.[0]?.extensions?.code, 'UNAUTHENTICATED');
    t.equal((await test.gql('{ plans { code } }', {}, as)).errors?.[0]?.extensions?.code, 'FORBIDDEN', 'a company owner is no platform operator');
    t.equal((await test.gql('{ plans { code } }', {}, { headers: { 'x-atrium-platform-key': 'x'.repeat(32) } })).errors?.[0]?.extensions?.code, 'FORBIDDEN');
    const created = await test.gql('mutation { createPlan(input: { code: "pro", name: "Pro", modules: ["notes"], limits: { maxUsers: 50 } }) { code modules limits { maxUsers maxBranches } } }', {}, platform);
    t.same(created.data.createPlan, { code: 'pro', modules: ['notes'], limits: { maxUsers: 50, maxBranches: null } });
    const beforeCreates = await platformState();
    t.equal((await test.gql('mutation { createPlan(input: { code: "pro", name: "Again", modules: [] }) { code } }', {}, platform)).errors?.[0]?.extensions?.code, 'CONFLICT');
    t.equal((await test.gql('mutation { createPlan(input: { code: "bad", name: "Bad", modules: ["cafe"] }) { code } }', {}, platform)).errors?.[0]?.extensions?.code, 'BAD_USER_INPUT');
    const invalid = await test.gql('mutation { createPlan(input: { code: "Not A Code", name: "", modules: [], limits: { maxUsers: 0 } }) { code } }', {}, platform);
    t.equal(invalid.errors?.[0]?.extensions?.code, 'BAD_USER_INPUT');
    t.same(Object.keys(invalid.errors?.[0]?.extensions?.fields ?? {}).sort(), ['input.code', 'input.limits.maxUsers', 'input.name']);
    t.same(await platformState(), beforeCreates, 'refused plans write nothing, and "pro" keeps its name');
    const updated = await test.gql('mutation { updatePlan(code: "pro", input: { name: "Professional" }) { name } }', {}, platform);
    t.same(updated.data, { updatePlan: { name: 'Professional' } });
    t.ok((await test.gql('{ plans { code } }', {}, platform)).data.plans.some((p: { code: string }) => p.code === 'pro'));
    const beforeMoves = await platformState();
    t.equal((await test.gql('mutation { setCompanyPlan(companyId: "0190a1b2-0000-7000-8000-000000000000", planCode: "pro") { id } }', {}, platform)).errors?.[0]?.extensions?.code, 'NOT_FOUND');
    t.equal((await test.gql('mutation { setCompanyPlan(companyId: "not-an-id", planCode: "pro") { id } }', {}, platform)).errors?.[0]?.extensions?.code, 'NOT_FOUND');
    const noPlan = await test.gql('mutation ($id: ID!) { setCompanyPlan(companyId: $id, planCode: "gold") { id } }', { id: basic.id }, platform);
    t.same(noPlan.errors?.[0]?.extensions, { code: 'BAD_USER_INPUT', fields: { planCode: 'no plan "gold"' } });
    // PostgreSQL stores no NUL in text: a code holding one is refused by field, not by the database as an internal error.
    const nulCode = await test.gql('mutation ($id: ID!, $code: String!) { setCompanyPlan(companyId: $id, planCode: $code) { id } }', { id: basic.id, code: 'pro\u0000' }, platform);
    t.same(nulCode.errors?.[0]?.extensions, { code: 'BAD_USER_INPUT', fields: { planCode: 'must not contain the NUL character (\\u0000)' } });
    t.same(await platformState(), beforeMoves, 'no company moved');
  });

  t.test('updatePlan and setCompanyModule refuse bad input and write nothing', async (t) => {
    const before = await platformState();
    const UPDATE = 'mutation ($code: String!, $input: UpdatePlanInput!) { updatePlan(code: $code, input: $input) { code } }';
    const MODULE = 'mutation ($id: ID!, $module: String!, $enabled: Boolean) { setCompanyModule(companyId: $id, module: $module, enabled: $enabled) { id } }';
    const errorOf = async (query: string, variables: Record<string, unknown>, options: { token?: string; headers?: Record<string, string> } = platform) =>
      (await test.gql(query, variables, options)).errors?.[0]?.extensions;

    t.equal((await errorOf(UPDATE, { code: 'gold', input: { name: 'Gold' } }))?.code, 'NOT_FOUND');
    t.same(await errorOf(UPDATE, { code: 'default\u0000', input: { name: 'Gold' } }), { code: 'BAD_USER_INPUT', fields: { code: 'must not contain the NUL character (\\u0000)' } }, 'a code PostgreSQL cannot hold is bad input, not an internal error');
    t.same(await errorOf(UPDATE, { code: 'default', input: { modules: ['notes', 'cafe'] } }), { code: 'BAD_USER_INPUT', fields: { 'input.modules': 'unknown modules: cafe' } });
    const invalid = await errorOf(UPDATE, { code: 'default', input: { name: '', limits: { maxUsers: 0 } } });
    t.equal(invalid?.code, 'BAD_USER_INPUT');
    t.same(Object.keys(invalid?.fields ?? {}).sort(), ['input.limits.maxUsers', 'input.name']);
    t.equal((await errorOf(UPDATE, { code: 'default', input: { name: 'Mine' } }, as))?.code, 'FORBIDDEN', 'a company owner is no platform operator');

    t.same(await errorOf(MODULE, { id: basic.id, module: 'cafe', enabled: true }), { code: 'BAD_USER_INPUT', fields: { module: 'unknown modules: cafe' } });
    t.equal((await errorOf(MODULE, { id: '0190a1b2-0000-7000-8000-000000000000', module: 'notes', enabled: false }))?.code, 'NOT_FOUND');
    t.equal((await errorOf(MODULE, { id: 'not-an-id', module: 'notes', enabled: false }))?.code, 'NOT_FOUND');
    t.equal((await errorOf(MODULE, { id: basic.id, module: 'notes', enabled: false }, as))?.code, 'FORBIDDEN');
    t.same(await platformState(), before, 'nothing written');
  });
});
