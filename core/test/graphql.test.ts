import t from 'tap';
import { createTestApp } from '@atrium/core/testing';
import { batchCalls, ping, probe } from './fixtures/modules.ts';
import { notes } from './fixtures/notes.ts';
import { DateTimeScalar, isoString } from '../src/graphql/scalars.ts';

t.test("DateTime writes every date as toISOString does, whatever day came before", async (t) => {
  const edges = [
    0, -1, 1, Date.UTC(1969, 11, 31, 23, 59, 59, 999), Date.UTC(2024, 1, 29, 12, 0, 0, 5), Date.UTC(2026, 11, 31, 23, 59, 59, 999),
    Date.UTC(2027, 0, 1), Date.UTC(1000, 0, 1), Date.UTC(1000, 0, 1) - 1, Date.UTC(9999, 11, 31, 23, 59, 59, 999), Date.UTC(9999, 11, 31, 23, 59, 59, 999) + 1,
    Date.UTC(1, 5, 6, 7, 8, 9, 10), -8.64e15, 8.64e15,
  ];
  let seed = 7;
  const random = () => {
    seed = (seed * 48271) % 2147483647;
    return seed / 2147483647;
  };
  const times = [...edges];
  for (let i = 0; i < 2000; i++) times.push(Math.floor(Date.UTC(1950, 0, 1) + random() * 120 * 365.25 * 86_400_000));
  // Neighbours on one day, then back to an earlier one: the cached day must never leak.
  for (let i = 0; i < 200; i++) times.push(Date.UTC(2026, 10, 21) + Math.floor(random() * 3 * 86_400_000) - 86_400_000);
  const wrong = times.filter((time) => isoString(new Date(time)) !== new Date(time).toISOString());
  t.same(wrong.map((time) => new Date(time).toISOString()), [], `${times.length} dates written alike`);
  t.equal(DateTimeScalar.serialize(new Date(Date.UTC(2026, 0, 31, 10, 30))), '2026-01-31T10:30:00.000Z');
  t.equal(DateTimeScalar.serialize('2026-01-31 12:30:00+02'), '2026-01-31T10:30:00.000Z', 'text is read as a date first');
  t.throws(() => DateTimeScalar.serialize(new Date(Number.NaN)), TypeError, 'an invalid date is refused');
});

t.test('the GraphQL endpoint', async (t) => {
  const test = await createTestApp({ modules: [probe], config: { env: 'development', graphql: { maxDepth: 5, maxComplexity: 200, maxAliases: 3 } } });
  t.teardown(() => test.close());

  t.test('an unexpected error answers INTERNAL, without stack, SQL or paths', async (t) => {
    const res = await test.gql('{ failing }');
    t.same(res.errors, [{ message: 'Internal server error', path: ['failing'], extensions: { code: 'INTERNAL' } }]);
    t.same(res.data, { failing: null });
    t.notMatch(JSON.stringify(res), /secret_table|constraint|\/srv|stack/);
  });

  t.test('an AtriumError keeps its code and message', async (t) => {
    const res = await test.gql('{ refused }');
    t.same(res.errors, [{ message: 'You may not see this', path: ['refused'], extensions: { code: 'FORBIDDEN' } }]);
  });

  t.test('ajv-validated input answers BAD_USER_INPUT with fields', async (t) => {
    const res = await test.gql('mutation { echo(input: { text: "", count: 0 }) { text } }');
    t.equal(res.errors?.[0]?.extensions?.code, 'BAD_USER_INPUT');
    t.same(res.errors?.[0]?.extensions?.fields, { 'input.text': 'must NOT have fewer than 1 characters', 'input.count': 'must be >= 1' });
  });

  t.test('malformed operations answer BAD_USER_INPUT', async (t) => {
    const syntax = await test.gql('{ atrium { ');
    t.equal(syntax.statusCode, 200, 'application/json answers 200 for a well-formed request (GraphQL over HTTP)');
    t.equal(syntax.errors?.[0]?.extensions?.code, 'BAD_USER_INPUT');
    const unknown = await test.gql('{ atrum { version } }');
    t.equal(unknown.errors?.[0]?.extensions?.code, 'BAD_USER_INPUT');
    t.match(unknown.errors?.[0]?.message, /Did you mean "atrium"\?/, 'suggestions are on in development');
  });

  t.test('depth, complexity and alias limits', async (t) => {
    const deep = await test.gql('{ a: atrium { modules { name } } }');
    t.equal(deep.errors, undefined);
    const tooDeep = await test.gql('{ __schema { types { fields { type { ofType { ofType { name } } } } } } }');
    t.equal(tooDeep.errors?.[0]?.extensions?.code, 'BAD_USER_INPUT');
    t.match(tooDeep.errors?.[0]?.message, /depth/);
    const complex = await test.gql('{ items(first: 150) { id double } }');
    t.match(complex.errors?.[0]?.message, /too complex: cost 301 is above the limit of 200/);
    const aliases = await test.gql('{ a: atrium { version } b: atrium { version } c: atrium { version } d: atrium { version } }');
    t.match(aliases.errors?.[0]?.message, /4 aliases, more than the limit of 3/);
  });

  t.test('loaders batch per request', async (t) => {
    batchCalls.length = 0;
    const res = await test.gql('{ items(first: 3) { id double } }');
    t.same(res.data, { items: [{ id: 1, double: 2 }, { id: 2, double: 4 }, { id: 3, double: 6 }] });
    t.same(batchCalls, [[1, 2, 3]], 'one batch for the whole list');
  });

  t.test('scalars', async (t) => {
    const ok = await test.gql('query ($at: DateTime!) { scalars(at: $at, amount: "12.50", data: { a: [1, "x"] }) { at amount data } }', { at: '2026-01-31T12:30:00+02:00' });
    t.same(ok.data, { scalars: { at: '2026-01-31T10:30:00.000Z', amount: '12.50', data: { a: [1, 'x'] } } });
    const badDate = await test.gql('{ scalars(at: "yesterday", amount: "1") { at } }');
    t.equal(badDate.errors?.[0]?.extensions?.code, 'BAD_USER_INPUT');
    const badDecimal = await test.gql('query ($amount: Decimal!) { scalars(at: "2026-01-01T00:00:00Z", amount: $amount) { at } }', { amount: 12.5 });
    t.equal(badDecimal.errors?.[0]?.extensions?.code, 'BAD_USER_INPUT');
  });

  t.test('HTTP protections', async (t) => {
    const get = await test.app.fastify.inject({ method: 'GET', url: `/graphql?query=${encodeURIComponent('mutation { echo(input: { text: "x", count: 1 }) { text } }')}`, headers: { 'mercurius-require-preflight': '1' } });
    t.equal(get.statusCode, 405, 'no mutations over GET');
    const simple = await test.app.fastify.inject({ method: 'POST', url: '/graphql', headers: { 'content-type': 'text/plain' }, payload: JSON.stringify({ query: '{ atrium { version } }' }) });
    t.equal(simple.statusCode, 400, 'a CSRF-able simple request is refused');
    t.equal(simple.json().errors[0].extensions.code, 'BAD_USER_INPUT');
    const batch = await test.app.fastify.inject({ method: 'POST', url: '/graphql', headers: { 'content-type': 'application/json' }, payload: JSON.stringify([{ query: '{ atrium { version } }' }, { query: '{ atrium { version } }' }]) });
    t.equal(batch.statusCode, 400, 'batched queries are off');
    const huge = await test.app.fastify.inject({ method: 'POST', url: '/graphql', headers: { 'content-type': 'application/json' }, payload: JSON.stringify({ query: `{ atrium { version } } # ${'x'.repeat(1024 * 1024)}` }) });
    t.equal(huge.statusCode, 413, 'bodies above the limit are refused');
  });

  t.test('health', async (t) => {
    t.same((await test.app.fastify.inject('/health/live')).json(), { status: 'ok' });
    const ready = await test.app.fastify.inject('/health/ready');
    t.equal(ready.statusCode, 200);
    t.same(ready.json(), { status: 'ok' });
  });

  t.test('publish() reaches a graphql-ws subscriber over a real WebSocket', async (t) => {
    const { owner } = await test.createCompany();
    const first = await test.subscribe('subscription { pinged }', {}, owner);
    const second = await test.subscribe('subscription { pinged }', {}, owner);
    await test.app.publish(ping, 'hello');
    t.same(await first.next(), { data: { pinged: 'hello' } });
    t.same(await second.next(), { data: { pinged: 'hello' } });
    await first.close();
    await test.app.publish(ping, 'again');
    t.same(await second.next(), { data: { pinged: 'again' } });
    await second.close();
  });

  t.test('a subscription that fails to start answers INTERNAL without details', async (t) => {
    const { owner } = await test.createCompany();
    const broken = await test.subscribe('subscription { broken }', {}, owner);
    const answer = await broken.next();
    t.match(answer, { errors: [{ message: 'Internal server error', extensions: { code: 'INTERNAL' } }] });
    t.notMatch(JSON.stringify(answer), /secret_table|\/srv/);
    await broken.close();
  });
});

t.test('in production: no introspection, no suggestions, no GraphiQL', async (t) => {
  const test = await createTestApp({ modules: [probe], config: { env: 'production', auth: { jwtSecret: 'a production secret of at least 32 chars' } } });
  t.teardown(() => test.close());
  const introspection = await test.gql('{ __schema { queryType { name } } }');
  t.equal(introspection.errors?.[0]?.extensions?.code, 'BAD_USER_INPUT');
  t.match(introspection.errors?.[0]?.message, /introspection/i);
  const typo = await test.gql('{ atrum { version } }');
  t.equal(typo.errors?.[0]?.message, 'Cannot query field "atrum" on type "Query".');
  t.equal((await test.app.fastify.inject('/graphiql')).statusCode, 404);
});

t.test('in development GraphiQL is served', async (t) => {
  const test = await createTestApp({ config: { env: 'development' } });
  t.teardown(() => test.close());
  t.equal((await test.app.fastify.inject('/graphiql')).statusCode, 200);
});

t.test('HTTP requests are rate-limited per client', async (t) => {
  const test = await createTestApp({ config: { httpRateLimit: 3 } });
  t.teardown(() => test.close());
  for (let i = 0; i < 3; i++) t.equal((await test.gql('{ atrium { version } }')).statusCode, 200);
  const limited = await test.gql('{ atrium { version } }');
  t.equal(limited.statusCode, 429);
  t.equal(limited.errors?.[0]?.extensions?.code, 'RATE_LIMITED');
  t.ok((limited.errors?.[0]?.extensions?.retryAfterSeconds as number) > 0);
  t.equal((await test.app.fastify.inject('/health/ready')).statusCode, 200, 'health checks are not limited');
});

t.test('GraphQL over HTTP: media types and status codes', async (t) => {
  const test = await createTestApp();
  t.teardown(() => test.close());
  const post = (query: string, accept?: string) =>
    test.app.fastify.inject({ method: 'POST', url: '/graphql', headers: { 'content-type': 'application/json', ...(accept ? { accept } : {}) }, payload: JSON.stringify({ query }) });

  const modern = await post('{ atrium { version } }', 'application/graphql-response+json, application/json;q=0.9');
  t.equal(modern.statusCode, 200);
  t.match(modern.headers['content-type'], /^application\/graphql-response\+json/);
  const invalid = await post('{ nope }', 'application/graphql-response+json');
  t.equal(invalid.statusCode, 400, 'a request refused before execution is 4xx under the new media type');
  t.notOk('data' in invalid.json(), 'and carries no data entry');
  t.equal(invalid.json().errors[0].extensions.code, 'BAD_USER_INPUT');

  const legacy = await post('{ nope }');
  t.equal(legacy.statusCode, 200, 'application/json keeps 200');
  t.match(legacy.headers['content-type'], /^application\/json/);
  t.notOk('data' in legacy.json());
  const preferJson = await post('{ atrium { version } }', 'application/json, application/graphql-response+json;q=0.5');
  t.match(preferJson.headers['content-type'], /^application\/json/);
});

t.test('a cursor that is not one of the list is BAD_USER_INPUT on after, on both kinds of list', async (t) => {
  const test = await createTestApp({ modules: [notes] });
  t.teardown(() => test.close());
  const company = await test.createCompany();
  const owner = { token: company.owner.token };
  for (const title of ['One', 'Two', 'Three']) {
    await test.gql('mutation ($input: CreateNoteInput!) { createNote(input: $input) { id } }', { input: { title, branchId: company.defaultBranchId } }, owner);
  }
  const cursor = (values: unknown) => Buffer.from(JSON.stringify(values)).toString('base64url');
  // notes: paginate (MikroORM's findByCursor); noteRows: paginateRows (SQL of its own).
  for (const list of ['notes', 'noteRows']) {
    const page = async (after: string) => test.gql(`query ($after: String) { ${list}(first: 1, after: $after) { edges { node { title } } } }`, { after }, owner);
    const first = await test.gql(`{ ${list}(first: 1) { pageInfo { endCursor } } }`, {}, owner);
    const second = await page(first.data[list].pageInfo.endCursor);
    // The module's welcome note comes first.
    t.same(second.data[list].edges.map((edge: any) => edge.node.title), ['One'], `${list}: its own cursor pages on`);
    // Values of the wrong types (the order is createdAt, id), of the wrong number, or no JSON array at all.
    for (const after of [cursor(['x', 'y']), cursor([1, 2]), cursor([true]), cursor([{}, []]), cursor(['2026-12-07T00:00:00.000Z', 'x']), 'not-a-cursor', cursor({ a: 1 })]) {
      const refused = await page(after);
      t.same(refused.errors?.map((error) => error.extensions), [{ code: 'BAD_USER_INPUT', fields: { after: 'is not a cursor of this list' } }], `${list}: ${Buffer.from(after, 'base64url').toString()}`);
    }
  }
});
