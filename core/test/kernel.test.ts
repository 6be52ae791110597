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
