import t from 'tap';
import { randomBytes } from 'node:crypto';
import { createTestApp, createTestDatabase } from '@atrium/core/testing';
import { notes } from '../../../core/test/fixtures/notes.ts';
import { audit } from '../../../core/test/fixtures/audit.ts';
import { redisInfrastructure, RedisUnavailableError, type RedisInfrastructure } from '../src/index.ts';
import { emit, listen, privateRedis, randomPrefix, until } from './helpers.ts';

const CREATE_NOTE = 'mutation ($input: CreateNoteInput!) { createNote(input: $input) { id } }';
const SUBSCRIBE = 'subscription { noteCreated { title } }';

/** Both connections have noticed that Redis is gone. */
const down = (infra: RedisInfrastructure) => infra.status.commands !== 'ready' && infra.status.subscriber !== 'ready';

t.test('Redis stops and comes back while two instances serve', async (t) => {
  const redis = await privateRedis();
  t.teardown(() => redis.stop());
  const modules = [notes, audit];
  const database = await createTestDatabase(modules);
  t.teardown(() => database.drop());
  const prefix = randomPrefix();
  const reports: string[] = [];
  const infraA = redisInfrastructure({ url: redis.url, prefix, onError: (error) => reports.push(error.message) });
  const infraB = redisInfrastructure({ url: redis.url, prefix, onError: (error) => reports.push(error.message) });
  const platformKey = randomBytes(24).toString('base64url');
  const config = { auth: { jwtSecret: randomBytes(48).toString('base64url') } };
  const a = await createTestApp({ modules, database, platformKey, config, infrastructure: infraA });
  t.teardown(() => a.close());
  const b = await createTestApp({ modules, database, platformKey, config, infrastructure: infraB });
  t.teardown(() => b.close());
  const company = await a.createCompany();
  const note = (title: string) => a.gql(CREATE_NOTE, { input: { title, branchId: company.defaultBranchId } }, company.owner);

  const onA = await a.subscribe(SUBSCRIBE, {}, company.owner);
  const onB = await b.subscribe(SUBSCRIBE, {}, company.owner);
  await note('before');
  t.same(await onB.next(), { data: { noteCreated: { title: 'before' } } }, 'B hears A while Redis is up');
  t.same(await onA.next(), { data: { noteCreated: { title: 'before' } } });

  await redis.stop();
  await until(() => down(infraA) && down(infraB));

  // Every request passes the kernel's HTTP rate limit, kept in Redis too: it must not fail closed.
  const probe = await a.gql('{ atrium { version } }');
  t.match(probe, { statusCode: 200, data: { atrium: { version: String } } }, 'HTTP requests are still answered');
  if (probe.errors) return void t.comment(`the request failed: ${JSON.stringify(probe.errors)}`);

  const during = await note('during the outage');
  t.equal(during.errors, undefined, 'the mutation answers (it does not wait for Redis)');
  t.same(await a.sql('select title from note where id = $1', [during.data.createNote.id]), [{ title: 'during the outage' }], 'and its row is committed');
  await a.app.dispatcher.idle();
  t.same(await a.sql(`select count(*)::int as n from audit_entry where title = 'during the outage'`), [{ n: 1 }], 'the outbox listener ran');
  t.same(await onA.next(), { data: { noteCreated: { title: 'during the outage' } } }, 'subscribers on the publishing instance still get the event');

  await t.rejects(a.app.kernel.presence.set(company.id, company.owner.id, 60_000), RedisUnavailableError, 'presence fails at once');
  await t.rejects(a.app.kernel.queues.rotate('inbox', () => true), RedisUnavailableError, 'queues fail at once');
  t.equal((await a.app.kernel.limiter.hit('during', 1, 60_000)).allowed, true, 'rate limiting fails open by default');
  const login = await b.gql('mutation ($input: LoginInput!) { login(input: $input) { accessToken } }', { input: { email: company.owner.email, password: company.owner.password } });
  t.equal(login.errors, undefined, 'so signing in still works');

  await redis.start();
  await Promise.all([infraA.ready(), infraB.ready()]);
  await note('after');
  t.same(await onB.next(), { data: { noteCreated: { title: 'after' } } }, 'B hears A again — and never got the event of the outage');
  t.same(await onA.next(), { data: { noteCreated: { title: 'after' } } });
  await a.app.kernel.presence.set(company.id, company.owner.id, 60_000);
  t.equal(await b.app.kernel.presence.isOnline(company.id, company.owner.id), true, 'the stores work again (their scripts reloaded into the new server)');
  t.same(reports.filter((message) => /connection: /.test(message)).length, 4, 'the outage was reported once per connection');
});

t.test('while Redis is down, an event reaches the publishing instance’s subscribers only', async (t) => {
  const redis = await privateRedis();
  t.teardown(() => redis.stop());
  const prefix = randomPrefix();
  const a = redisInfrastructure({ url: redis.url, prefix, onError: () => {} });
  const b = redisInfrastructure({ url: redis.url, prefix, onError: () => {} });
  t.teardown(() => Promise.all([a.close(), b.close()]));
  const onA = await listen(a.emitter, 'topic');
  const onB = await listen(b.emitter, 'topic');

  await redis.stop();
  await until(() => down(a) && down(b));
  await emit(a.emitter, { topic: 'topic', payload: 'during' });
  t.same(await onA.next(), { topic: 'topic', payload: 'during' }, 'delivered on A, without waiting for Redis');

  await redis.start();
  await Promise.all([a.ready(), b.ready()]);
  await emit(a.emitter, { topic: 'topic', payload: 'after' });
  t.same(await onB.next(), { topic: 'topic', payload: 'after' }, 'B’s subscription was renewed, and the event of the outage never reached it');
  t.same(await onA.next(), { topic: 'topic', payload: 'after' });
});

t.test('failing closed, and closing while Redis is down', async (t) => {
  const redis = await privateRedis();
  t.teardown(() => redis.stop());
  const quiet = () => {};
  const open = redisInfrastructure({ url: redis.url, prefix: randomPrefix(), onError: quiet });
  const closed = redisInfrastructure({ url: redis.url, prefix: randomPrefix(), failOpen: false, onError: quiet });
  await Promise.all([open.ready(), closed.ready()]);
  t.match(await closed.rateLimiter.hit('k', 5, 60_000), { allowed: true, remaining: 4 });

  await redis.stop();
  await until(() => down(open) && down(closed));
  t.match(await open.rateLimiter.hit('k', 5, 60_000), { allowed: true, resetInMs: 60_000 }, 'failing open: allowed');
  t.match(await closed.rateLimiter.hit('k', 5, 60_000), { allowed: false, remaining: 0, resetInMs: 1000 }, 'failing closed: refused, try again soon');
  await t.resolves(open.rateLimiter.reset('k'), 'failing open, a reset that cannot happen is no error');
  await t.rejects(closed.rateLimiter.reset('k'), RedisUnavailableError);
  await t.rejects(closed.presence.online('scope'), RedisUnavailableError);
  await t.rejects(closed.queues.items('q'), RedisUnavailableError);

  // ioredis' own QUIT would wait for Redis to come back; close must not.
  await Promise.all([open.close(), closed.close()]);
  t.same([open.status, closed.status], [{ commands: 'end', subscriber: 'end' }, { commands: 'end', subscriber: 'end' }]);
});
