import t from 'tap';
import { createTestApp } from '@atrium/core/testing';
import pg from 'pg';
import { arrayParam, type BadUserInputError, Branch, companyEm, CORE_VERSION, createValidator, type EntityManager, isId, newId } from '@atrium/core';
import { textArrayReader } from '../src/db/array-param.ts';

t.test('the kernel answers its info query', async (t) => {
  const started = Date.now();
  const test = await createTestApp();
  t.comment(`app started in ${Date.now() - started} ms`);
  t.teardown(() => test.close());
  const res = await test.gql('{ atrium { version modules { name } } }');
  t.equal(res.statusCode, 200);
  t.same(res.data, { atrium: { version: CORE_VERSION, modules: [] } });
});

t.test("the test kit's statements() counts what the operation asks for, not the clock-driven access re-read", async (t) => {
  // Every request re-reads the caller's access stamp here: statements() must not count it.
  const test = await createTestApp({ config: { auth: { accessRecheckMs: 0 } } });
  t.teardown(() => test.close());
  const company = await test.createCompany();
  const issued: string[] = [];
  t.teardown(
    test.onQuery((sql) => {
      issued.push(sql);
    }),
  );
  const counted = await test.statements(() => test.gql('{ me { id } }', {}, company.owner));
  const stamp = (sql: string) => sql.includes('access_version as uv');
  t.equal(issued.filter(stamp).length, 1, 'the stamp was read');
  t.same(counted.filter(stamp), [], 'and left out');
  t.ok(counted.some((sql) => sql.includes('from "app_user"')), "the operation's own read is counted");
});

t.test('loaded entities keep their fields as plain data, and changes to them are still flushed', async (t) => {
  const test = await createTestApp();
  t.teardown(() => test.close());
  const company = await test.createCompany({ name: 'Plain' });
  const em = companyEm(test.app.kernel, company.id);
  const [loaded] = await em.find(Branch, { id: company.defaultBranchId });
  // MikroORM's propagationOnPrototype would define a getter and setter on every loaded row per field
  // (the largest cost of reading a list); our relations are one-way and need none.
  t.ok('value' in Object.getOwnPropertyDescriptor(loaded!, 'name')!, 'a field is an own data property');
  loaded!.name = 'Renamed';
  await em.flush();
  t.same(await test.sql('select name from branch where id = $1', [company.defaultBranchId]), [{ name: 'Renamed' }], 'a change is found by the unit of work');
});

t.test("textArrayReader reads every text array as pg's own parser does, the unquoted ones without it", async (t) => {
  const generic: (text: string) => unknown = pg.types.getTypeParser(1009 as never); // text[]: not among the builtins of its typings
  let genericCalls = 0;
  const read = textArrayReader((text) => {
    genericCalls++;
    return generic(text);
  });
  const unquoted = ['{}', '{vip}', '{vip,lead,NULL}', '{NULL}', '{a.b@c,x-y_z,42,Ünïcode}'];
  for (const text of unquoted) t.same(read(text), generic(text), text);
  t.equal(genericCalls, 0, 'the unquoted arrays are read without the generic parser');
  t.same(read('{vip,NULL,lead}'), ['vip', null, 'lead'], 'NULL unquoted is the null element');
  const quoted = ['{"NULL",null}', '{""}', '{"with, comma","{braces}","a \\"quote\\"","back\\\\slash","two words"}', '{{a,b},{c,d}}', '[0:1]={a,b}'];
  for (const text of quoted) t.same(read(text), generic(text), text);
  t.equal(genericCalls, quoted.length, 'every quoted, nested or bounded array goes to the generic parser');
});

t.test('text arrays read from the database come back element for element', async (t) => {
  const test = await createTestApp();
  t.teardown(() => test.close());
  const em = test.app.orm.em.fork() as EntityManager;
  const values = ['vip', 'NULL as text', 'null', 'with, comma', '{braces}', 'a "quote"', 'back\\slash', '', ' padded '];
  for (const list of [[], ['vip', 'lead'], values]) {
    const [row] = await em.execute<{ text: string[]; varchar: string[] }[]>('select ?::text[] as text, ?::varchar[] as varchar', [arrayParam(list), arrayParam(list)]);
    t.same(row, { text: list, varchar: list }, JSON.stringify(list));
  }
  const [withNull] = await em.execute<{ a: (string | null)[]; b: (string | null)[] }[]>("select array['x', null] as a, array['x', null, 'NULL'] as b");
  t.same(withNull, { a: ['x', null], b: ['x', null, 'NULL'] }, 'a null element, and the text NULL, stay apart');
});

t.test('arrayParam binds a list as one array parameter, every element whole', async (t) => {
  const test = await createTestApp();
  t.teardown(() => test.close());
  const values = ['plain', 'with, comma', '{braces}', 'a "quote"', 'back\\slash', ''];
  const em = test.app.orm.em.fork() as EntityManager;
  const [text] = await em.execute<{ a: string[] }[]>('select ?::text[] as a', [arrayParam(values)]);
  t.same(text!.a, values);
  const [numbers] = await em.execute<{ a: number[] }[]>('select ?::int[] as a', [arrayParam([3, 1, 2])]);
  t.same(numbers!.a, [3, 1, 2]);
  const [empty] = await em.execute<{ n: number }[]>('select cardinality(?::uuid[]) as n', [arrayParam([])]);
  t.equal(empty!.n, 0);
});

t.test("createValidator's date formats refuse what PostgreSQL cannot store: a day before the year 1", async (t) => {
  const check = createValidator<{ day?: string; at?: string }>({ type: 'object', properties: { day: { type: 'string', format: 'date' }, at: { type: 'string', format: 'date-time' } } });
  const refused = (input: object) => {
    try {
      check(input);
      return [];
    } catch (error) {
      return Object.keys((error as BadUserInputError).extensions.fields as object);
    }
  };
  for (const day of ['0001-01-01', '2026-02-28', '9999-12-31']) t.same(refused({ day }), [], `${day} is a day`);
  for (const day of ['0000-12-31', '0000-01-01', '2026-02-30']) t.same(refused({ day }), ['input.day'], `${day} is not`);
  for (const at of ['0001-01-01T00:00:00Z', '2026-12-07T10:00:00+05:00']) t.same(refused({ at }), [], `${at} is a time`);
  // The year 1 at 00:00 one hour east of UTC is still the year 0 in UTC.
  for (const at of ['0000-12-31T23:59:59Z', '0001-01-01T00:00:00+01:00']) t.same(refused({ at }), ['input.at'], `${at} is not`);
});

t.test('an id is the lower-case UUID PostgreSQL answers with: isId and the uuid format refuse other spellings', async (t) => {
  const check = createValidator<{ id?: string }>({ type: 'object', properties: { id: { type: 'string', format: 'uuid' } } });
  const refusal = (id: string) => {
    try {
      check({ id });
      return undefined;
    } catch (error) {
      return (error as BadUserInputError).extensions.fields;
    }
  };
  const id = newId();
  t.ok(isId(id), 'a new id is one');
  t.equal(refusal(id), undefined);
  // Services compare ids as strings: an upper-case spelling of a row's id would not equal the row's own.
  for (const other of [id.toUpperCase(), `urn:uuid:${id}`, `{${id}}`, id.replaceAll('-', '')]) {
    t.notOk(isId(other), `${other} is not an id`);
    t.same(refusal(other), { 'input.id': 'is not an id (a lower-case UUID)' }, `${other} is refused by name`);
  }
});
