import t from 'tap';
import { redisInfrastructure } from '../src/index.ts';
import { emit, listen, randomPrefix, REDIS_URL } from './helpers.ts';

t.test('messages cross instances that share a prefix, and only those', async (t) => {
  const prefix = randomPrefix();
  const a = redisInfrastructure({ url: REDIS_URL, prefix });
  const b = redisInfrastructure({ url: REDIS_URL, prefix });
  const stranger = redisInfrastructure({ url: REDIS_URL, prefix: randomPrefix() });
  t.teardown(() => Promise.all([a.close(), b.close(), stranger.close()]));

  const onB = await listen(b.emitter, 'notes:c1:created');
  const onA = await listen(a.emitter, 'notes:c1:created');
  await emit(stranger.emitter, { topic: 'notes:c1:created', payload: 'another app' });
  await emit(a.emitter, { topic: 'notes:c1:created', payload: 'from A' });
  t.same(await onB.next(), { topic: 'notes:c1:created', payload: 'from A' }, 'B got A’s message with its topic unprefixed, and never the other app’s');
  t.same(await onA.next(), { topic: 'notes:c1:created', payload: 'from A' }, 'A’s own subscribers get it too (through Redis)');
});

t.test('close ends both connections and is idempotent', async (t) => {
  const infra = redisInfrastructure({ url: REDIS_URL, prefix: randomPrefix() });
  await infra.ready();
  t.same(infra.status, { commands: 'ready', subscriber: 'ready' });
  await Promise.all([infra.close(), infra.close()]);
  t.same(infra.status, { commands: 'end', subscriber: 'end' });
  await t.rejects(emit(infra.emitter, { topic: 'x' }), /closed/);
});

t.test('a Redis URL is required', async (t) => {
  const saved = process.env.REDIS_URL;
  delete process.env.REDIS_URL;
  t.teardown(() => {
    if (saved !== undefined) process.env.REDIS_URL = saved;
  });
  t.throws(() => redisInfrastructure(), /needs a Redis URL/);
});
