import t from 'tap';
import { redisFixture } from './helpers.ts';

t.test('fixed windows shared through Redis', async (t) => {
  const { prefix, infra, redis } = redisFixture(t);
  const { rateLimiter } = infra;

  t.test('counts hits until the limit, then refuses', async (t) => {
    const results = [];
    for (let i = 0; i < 3; i++) results.push(await rateLimiter.hit('login:a', 2, 60_000));
    t.same(results.map((r) => [r.allowed, r.remaining]), [[true, 1], [true, 0], [false, 0]]);
    for (const { resetInMs } of results) t.ok(resetInMs > 0 && resetInMs <= 60_000, `resetInMs ${resetInMs} within the window`);
    t.match(await rateLimiter.hit('login:b', 2, 60_000), { allowed: true, remaining: 1 }, 'another key counts apart');
  });

  t.test('the counter expires with its window', async (t) => {
    await rateLimiter.hit('short', 1, 50);
    const ttl = await redis.pttl(`${prefix}rate:short`);
    t.ok(ttl > 0 && ttl <= 50, `the key lives at most one window (${ttl} ms)`);
    t.equal((await rateLimiter.hit('short', 1, 50)).allowed, false);
    while ((await redis.exists(`${prefix}rate:short`)) === 1) await new Promise((resolve) => setTimeout(resolve, 10));
    t.match(await rateLimiter.hit('short', 1, 50), { allowed: true, remaining: 0 }, 'a new window starts from zero');
  });

  t.test('reset forgets the counter', async (t) => {
    await rateLimiter.hit('reset-me', 1, 60_000);
    t.equal((await rateLimiter.hit('reset-me', 1, 60_000)).allowed, false);
    await rateLimiter.reset('reset-me');
    t.equal((await rateLimiter.hit('reset-me', 1, 60_000)).allowed, true);
  });

  t.test('a counter left without expiry gets one (it would lock the key out for good)', async (t) => {
    await redis.set(`${prefix}rate:orphan`, '7');
    t.match(await rateLimiter.hit('orphan', 10, 60_000), { allowed: true, remaining: 2 });
    const ttl = await redis.pttl(`${prefix}rate:orphan`);
    t.ok(ttl > 0 && ttl <= 60_000, `expiry set (${ttl} ms)`);
  });
});
