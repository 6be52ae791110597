import t from 'tap';
import { afterCommit, type EntityManager } from '@atrium/core';
import { createTestApp } from '@atrium/core/testing';

t.test('afterCommit runs a step once the outermost transaction commits, never after a rollback', async (t) => {
  const test = await createTestApp({ config: { logLevel: 'silent' } });
  t.teardown(() => test.close());
  const em = () => test.app.orm.em.fork() as EntityManager;
  const ran: string[] = [];
  const step = (name: string) => () => {
    ran.push(name);
  };

  await em().transactional(async (tx) => {
    await afterCommit(tx as EntityManager, step('committed'));
    t.same(ran, [], 'not inside the transaction');
  });
  t.same(ran.splice(0), ['committed'], 'once the transaction committed');

  await em()
    .transactional(async (tx) => {
      await afterCommit(tx as EntityManager, step('rolled back'));
      throw new Error('roll back');
    })
    .catch(() => undefined);
  t.same(ran.splice(0), [], 'a rollback drops it');

  await em().transactional(async (outer) => {
    await outer.transactional(async (inner) => {
      await afterCommit(inner as EntityManager, step('inner'));
    });
    t.same(ran, [], 'a savepoint released is not a commit');
    await afterCommit(outer as EntityManager, step('outer'));
  });
  t.same(ran.splice(0), ['inner', 'outer'], 'the caller’s commit runs both, in order');

  await em()
    .transactional(async (outer) => {
      await outer.transactional(async (inner) => {
        await afterCommit(inner as EntityManager, step('inner of a rolled-back caller'));
      });
      throw new Error('the caller rolls back');
    })
    .catch(() => undefined);
  t.same(ran.splice(0), [], 'the caller’s rollback drops what a savepoint registered');

  await em().transactional(async (outer) => {
    await outer
      .transactional(async (inner) => {
        await afterCommit(inner as EntityManager, step('rolled-back savepoint'));
        throw new Error('the savepoint rolls back');
      })
      .catch(() => undefined);
  });
  t.same(ran.splice(0), [], 'a savepoint’s rollback drops its steps, whatever the caller does');

  let seen: unknown;
  await em().transactional(async (tx) => {
    await afterCommit(tx as EntityManager, async () => {
      seen = await em().execute('select 1 as one');
    });
  });
  t.same(seen, [{ one: 1 }], 'a step may use the database (the transaction has let its connection go)');

  await afterCommit(em(), step('no transaction'));
  t.same(ran.splice(0), ['no transaction'], 'outside a transaction it runs at once');

  const [row] = await em().transactional(async (tx) => {
    await afterCommit(tx as EntityManager, () => {
      throw new Error('a failing step');
    });
    return tx.execute<{ one: number }[]>('select 1 as one');
  });
  t.same(row, { one: 1 }, 'a failing step leaves the commit standing');
});
