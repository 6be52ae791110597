import t from 'tap';
import { assertEdgeInputs, assertTenantIsolation, createTestApp } from '@atrium/core/testing';
import guestbook from '@atrium/example-custom-module';

const SIGN = /* GraphQL */ `
  mutation Sign($input: SignGuestbookInput!) {
    signGuestbook(input: $input) { id author message createdAt }
  }
`;
const LIST = /* GraphQL */ `
  query List($first: Int, $after: String) {
    guestbookEntries(first: $first, after: $after) {
      totalCount
      edges { cursor node { author message } }
      pageInfo { hasNextPage endCursor }
    }
  }
`;

t.test('the guestbook module end to end', async (t) => {
  const test = await createTestApp({ modules: [guestbook] });
  t.teardown(() => test.close());
  const company = await test.createCompany();
  const owner = { token: company.owner.token };

  t.test('its migration is applied and recorded', async (t) => {
    const ledger = await test.sql<{ module: string; name: string }>(`select module, name from atrium_migration where module = 'guestbook'`);
    t.same(ledger, [{ module: 'guestbook', name: '20261121000000_guestbook_entry.sql' }]);
    const columns = await test.sql<{ column_name: string }>(
      `select column_name from information_schema.columns where table_name = 'guestbook_entry' and table_schema = current_schema() order by ordinal_position`,
    );
    t.same(columns.map((c) => c.column_name), ['id', 'company_id', 'author', 'message', 'created_at']);
  });

  t.test('a subscriber sees a signature made by a mutation', async (t) => {
    const live = await test.subscribe('subscription { guestbookSigned { author message } }', {}, owner);
    t.teardown(() => live.close());
    const signed = await test.gql(SIGN, { input: { author: 'Ada', message: 'Hello' } }, owner);
    t.equal(signed.errors, undefined);
    t.match(signed.data.signGuestbook, { id: /^[0-9a-f-]{36}$/, author: 'Ada', message: 'Hello', createdAt: /Z$/ });
    t.same(await live.next(), { data: { guestbookSigned: { author: 'Ada', message: 'Hello' } } });

    const one = await test.gql('query ($id: ID!) { guestbookEntry(id: $id) { author } }', { id: signed.data.signGuestbook.id }, owner);
    t.same(one.data, { guestbookEntry: { author: 'Ada' } });
    const [row] = await test.sql<{ company_id: string }>('select company_id from guestbook_entry where id = $1', [signed.data.signGuestbook.id]);
    t.equal(row?.company_id, company.id, 'the company is stamped by the kernel');
  });

  t.test('bad input answers BAD_USER_INPUT with fields and writes nothing', async (t) => {
    const [{ count: before }] = await test.sql<{ count: number }>('select count(*)::int as count from guestbook_entry');
    const res = await test.gql(SIGN, { input: { author: '   ', message: '' } }, owner);
    t.equal(res.errors?.[0]?.extensions?.code, 'BAD_USER_INPUT');
    t.same(res.errors?.[0]?.extensions?.fields, { 'input.author': 'must match pattern "\\S"', 'input.message': 'must NOT have fewer than 1 characters' });
    t.equal(res.data, null);
    const forged = await test.gql('mutation { signGuestbook(input: { author: "x", message: "y", companyId: "0190a1b2-0000-7000-8000-000000000000" }) { id } }', {}, owner);
    t.equal(forged.errors?.[0]?.extensions?.code, 'BAD_USER_INPUT', 'a companyId in input is refused');
    const [{ count: after }] = await test.sql<{ count: number }>('select count(*)::int as count from guestbook_entry');
    t.equal(after, before);
  });

  t.test('lists page with opaque cursors, newest first', async (t) => {
    for (const author of ['B', 'C', 'D']) await test.gql(SIGN, { input: { author, message: 'hi' } }, owner);
    const first = await test.gql(LIST, { first: 2 }, owner);
    t.equal(first.data.guestbookEntries.totalCount, 4);
    t.same(first.data.guestbookEntries.edges.map((e: any) => e.node.author), ['D', 'C']);
    t.equal(first.data.guestbookEntries.pageInfo.hasNextPage, true);
    const second = await test.gql(LIST, { first: 2, after: first.data.guestbookEntries.pageInfo.endCursor }, owner);
    t.same(second.data.guestbookEntries.edges.map((e: any) => e.node.author), ['B', 'Ada']);
    t.equal(second.data.guestbookEntries.pageInfo.hasNextPage, false);

    const tooMany = await test.gql(LIST, { first: 101 }, owner);
    t.equal(tooMany.errors?.[0]?.extensions?.code, 'BAD_USER_INPUT');
    t.same(tooMany.errors?.[0]?.extensions?.fields, { first: 'must be between 1 and 100' });
    const forged = await test.gql(LIST, { first: 2, after: 'not-a-cursor' }, owner);
    t.equal(forged.errors?.[0]?.extensions?.code, 'BAD_USER_INPUT');
  });

  t.test('an unknown or malformed id is simply absent', async (t) => {
    const missing = await test.gql('{ a: guestbookEntry(id: "0190a1b2-0000-7000-8000-000000000000") { id } b: guestbookEntry(id: "nope") { id } }', {}, owner);
    t.same(missing.data, { a: null, b: null });
    t.equal(missing.errors, undefined);
  });

  t.test('permission keys decide who reads and who signs', async (t) => {
    const reader = await test.createUser({ company, permissions: ['guestbook.entry.read'] });
    const nobody = await test.createUser({ company });
    t.equal((await test.gql(LIST, {}, { token: reader.token })).data.guestbookEntries.totalCount, 4);
    t.equal((await test.gql(SIGN, { input: { author: 'R', message: 'x' } }, { token: reader.token })).errors?.[0]?.extensions?.code, 'FORBIDDEN');
    t.equal((await test.gql(LIST, {}, { token: nobody.token })).errors?.[0]?.extensions?.code, 'FORBIDDEN');
    t.equal((await test.gql(LIST, {})).errors?.[0]?.extensions?.code, 'UNAUTHENTICATED');
  });

  t.test('company B sees and changes nothing of company A', async (t) => {
    await assertTenantIsolation(t, test, {
      async seed(a) {
        const signed = await test.gql(SIGN, { input: { author: 'A', message: 'private' } }, { token: a.owner.token });
        return { id: signed.data.signGuestbook.id as string };
      },
      operations: [
        { name: 'guestbookEntry', query: 'query ($id: ID!) { guestbookEntry(id: $id) { id message } }', variables: (seed) => seed },
        { name: 'guestbookEntries', query: LIST },
      ],
    });
  });

  t.test('edge inputs get data or a clear error, and a refused signature writes nothing', async (t) => {
    await assertEdgeInputs(t, test, {
      module: 'guestbook',
      seed: async (company) => {
        const signed = await test.gql(SIGN, { input: { author: 'Ada', message: 'Hello' } }, { token: company.owner.token });
        return { id: signed.data.signGuestbook.id as string };
      },
      operations: {
        'Query.guestbookEntries': () => ({ first: 10, after: null }),
        'Query.guestbookEntry': ({ id }) => ({ id }),
        'Subscription.guestbookSigned': () => ({}),
        'Mutation.signGuestbook': () => ({ input: { author: 'Ada', message: 'Hello again' } }),
      },
    });
  });
});
