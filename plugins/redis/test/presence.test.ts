import t from 'tap';
import { redisFixture } from './helpers.ts';

t.test('presence in a sorted set per scope', async (t) => {
  const { prefix, infra, redis } = redisFixture(t);
  const { presence } = infra;

  t.test('set, isOnline, online and remove', async (t) => {
    await presence.set('company-1', 'ada', 60_000);
    await presence.set('company-1', 'bob', 60_000);
    await presence.set('company-2', 'eve', 60_000);
    t.same((await presence.online('company-1')).sort(), ['ada', 'bob']);
    t.equal(await presence.isOnline('company-1', 'ada'), true);
    t.equal(await presence.isOnline('company-1', 'eve'), false, 'scopes are apart');
    await presence.remove('company-1', 'ada');
    t.same(await presence.online('company-1'), ['bob']);
    t.equal(await presence.isOnline('company-1', 'ada'), false);
    t.same(await presence.online('nobody-here'), []);
  });

  t.test('a member not refreshed in time goes offline, and is swept', async (t) => {
    await presence.set('company-3', 'stays', 60_000);
    await presence.set('company-3', 'leaves', 30);
    t.equal(await presence.isOnline('company-3', 'leaves'), true);
    while (await presence.isOnline('company-3', 'leaves')) await new Promise((resolve) => setTimeout(resolve, 10));
    t.same(await presence.online('company-3'), ['stays']);
    t.equal(await redis.zscore(`${prefix}presence:company-3`, 'leaves'), null, 'the expired member is gone from Redis');
  });

  t.test('setting again extends, and the key expires with its last member', async (t) => {
    await presence.set('company-4', 'ada', 40);
    await presence.set('company-4', 'ada', 60_000);
    const ttl = await redis.pttl(`${prefix}presence:company-4`);
    t.ok(ttl > 40 && ttl <= 60_000, `the key lives as long as its longest member (${ttl} ms)`);
    await presence.set('company-5', 'brief', 30);
    while ((await redis.exists(`${prefix}presence:company-5`)) === 1) await new Promise((resolve) => setTimeout(resolve, 10));
    t.pass('an abandoned scope leaves no key behind');
  });
});
