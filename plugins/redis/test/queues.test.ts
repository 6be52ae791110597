import t from 'tap';
import { MemorySharedQueues, type SharedQueues } from '@atrium/core';
import { redisInfrastructure } from '../src/index.ts';
import { randomPrefix, REDIS_URL } from './helpers.ts';

/** Accepts only the n-th item it is asked about (counting from 1). */
const nth = (n: number) => {
  let asked = 0;
  return () => ++asked === n;
};

/** The same script of calls against any SharedQueues; answers what each call returned. */
async function script(queues: SharedQueues): Promise<unknown[]> {
  const log: unknown[] = [];
  const step = async (label: string, call: Promise<unknown>) => log.push([label, await call, await queues.items('q')]);
  await step('replace', queues.replace('q', ['a', 'b', 'c']).then(() => undefined));
  await step('accept all', queues.rotate('q', () => true));
  await step('skip b', queues.rotate('q', (item) => item !== 'b'));
  await step('async accept', queues.rotate('q', async (item) => (await Promise.resolve(item)) === 'a'));
  await step('refuse all', queues.rotate('q', () => false));
  await step('duplicates', queues.replace('q', ['x', 'y', 'x']).then(() => undefined));
  // The second x (third item) is accepted: it is that position that moves, not the first x.
  await step('second of equal items', queues.rotate('q', nth(3)));
  await step('unknown queue', queues.rotate('none', () => true));
  await step('emptied', queues.replace('q', []).then(() => undefined));
  await step('empty queue', queues.rotate('q', () => true));
  return log;
}

t.test('Redis queues answer like the in-memory ones', async (t) => {
  const infra = redisInfrastructure({ url: REDIS_URL, prefix: randomPrefix() });
  t.teardown(() => infra.close());
  const expected = await script(new MemorySharedQueues());
  t.same(await script(infra.queues), expected);
  t.same(expected[1], ['accept all', 'a', ['b', 'c', 'a']], 'the in-memory reference behaves as documented');
  t.same(expected[6], ['second of equal items', 'x', ['x', 'y', 'x']]);
});

t.test('a rotation whose view went stale starts over instead of taking the same item', async (t) => {
  const prefix = randomPrefix();
  const a = redisInfrastructure({ url: REDIS_URL, prefix });
  const b = redisInfrastructure({ url: REDIS_URL, prefix });
  t.teardown(() => Promise.all([a.close(), b.close()]));
  await a.queues.replace('agents', ['1', '2', '3']);
  const asked: string[] = [];
  // While A is deciding about '1', B rotates: B takes '1'. A's commit must notice and start over.
  const taken = await a.queues.rotate('agents', async (item) => {
    asked.push(item);
    if (asked.length === 1) t.equal(await b.queues.rotate('agents', () => true), '1', 'B took the head meanwhile');
    return true;
  });
  t.equal(taken, '2', 'A took the next item, not the one B took');
  t.same(asked, ['1', '2'], 'A asked again about the new head');
  t.same(await a.queues.items('agents'), ['3', '1', '2']);
});

t.test('a queue that keeps changing makes rotate give up rather than spin', async (t) => {
  const prefix = randomPrefix();
  const a = redisInfrastructure({ url: REDIS_URL, prefix });
  const b = redisInfrastructure({ url: REDIS_URL, prefix });
  t.teardown(() => Promise.all([a.close(), b.close()]));
  await a.queues.replace('busy', ['1', '2']);
  let version = 0;
  await t.rejects(
    a.queues.rotate('busy', async () => {
      version += 1;
      await b.queues.replace('busy', [`v${version}`, 'other']);
      return true;
    }),
    /kept changing/,
  );
});
