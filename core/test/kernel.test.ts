import t from 'tap';
import { createTestApp } from '@atrium/core/testing';
import { CORE_VERSION } from '@atrium/core';

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
