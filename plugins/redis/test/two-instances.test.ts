import t from 'tap';
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { createTestApp, createTestDatabase } from '@atrium/core/testing';
import { noteCreated, notes } from '../../../core/test/fixtures/notes.ts';
import { redisInfrastructure } from '../src/index.ts';
import { randomPrefix, REDIS_URL } from './helpers.ts';

const CREATE_NOTE = 'mutation ($input: CreateNoteInput!) { createNote(input: $input) { id title } }';
const LOGIN = 'mutation ($input: LoginInput!) { login(input: $input) { accessToken } }';

/**
 * Two instances of one app, as a load balancer would see them: one database, one Redis (same
 * prefix), the same platform key and JWT secret — and nothing else in common.
 */
t.test('two instances sharing PostgreSQL and Redis', async (t) => {
  const modules = [notes];
  const database = await createTestDatabase(modules);
  t.teardown(() => database.drop());
  const prefix = randomPrefix();
  const platformKey = randomBytes(24).toString('base64url');
  const config = { auth: { jwtSecret: randomBytes(48).toString('base64url'), loginAttemptsPerEmail: 3 } };
  const start = () => createTestApp({ modules, database, platformKey, config, infrastructure: redisInfrastructure({ url: REDIS_URL, prefix }) });
  const a = await start();
  t.teardown(() => a.close());
  const b = await start();
  t.teardown(() => b.close());
  const company = await a.createCompany();
  const owner = company.owner;

  t.test('a mutation on A reaches a subscriber on B', async (t) => {
    const live = await b.subscribe('subscription { noteCreated { id title } }', {}, owner);
    const sent = performance.now();
    const created = await a.gql(CREATE_NOTE, { input: { title: 'from A', branchId: company.defaultBranchId } }, owner);
    const answered = performance.now();
    t.equal(created.errors, undefined);
    const event = await live.next();
    const received = performance.now();
    t.same(event, { data: { noteCreated: { id: created.data.createNote.id, title: 'from A' } } });
    t.comment(`mutation on A answered in ${(answered - sent).toFixed(1)} ms; B's subscriber had the event ${(received - sent).toFixed(1)} ms after it was sent`);

    // Publish → delivery over the WebSocket on the other instance, without the database in the way.
    const latencies: number[] = [];
    for (let i = 0; i < 20; i++) {
      const before = performance.now();
      await a.app.publish(noteCreated(company.id), { id: `n${i}`, title: `ping ${i}` } as never);
      t.match(await live.next(), { data: { noteCreated: { title: `ping ${i}` } } });
      latencies.push(performance.now() - before);
    }
    latencies.sort((x, y) => x - y);
    t.comment(`publish on A → event on B's WebSocket: median ${latencies[10]!.toFixed(2)} ms, max ${latencies[19]!.toFixed(2)} ms (20 events)`);
    await live.close();
  });

  t.test('a subscriber on B receives only its own company’s events', async (t) => {
    const other = await b.createCompany();
    const mine = await b.subscribe('subscription { noteCreated { title } }', {}, owner);
    await a.gql(CREATE_NOTE, { input: { title: 'someone else', branchId: other.defaultBranchId } }, other.owner);
    await a.gql(CREATE_NOTE, { input: { title: 'mine', branchId: company.defaultBranchId } }, owner);
    t.same(await mine.next(), { data: { noteCreated: { title: 'mine' } } }, 'the other company’s event never arrived first');
    await mine.close();
  });

  t.test('presence set on A is seen from B', async (t) => {
    const scope = company.id;
    await a.app.kernel.presence.set(scope, owner.id, 60_000);
    t.equal(await b.app.kernel.presence.isOnline(scope, owner.id), true);
    t.same(await b.app.kernel.presence.online(scope), [owner.id]);
    await b.app.kernel.presence.remove(scope, owner.id);
    t.equal(await a.app.kernel.presence.isOnline(scope, owner.id), false, 'and removed from B, it is gone on A');
  });

  t.test('rate-limit counters are shared', async (t) => {
    const [onA, onB] = [a.app.kernel.limiter, b.app.kernel.limiter];
    const hits = [await onA.hit('shared', 3, 60_000), await onB.hit('shared', 3, 60_000), await onA.hit('shared', 3, 60_000), await onB.hit('shared', 3, 60_000)];
    t.same(hits.map((hit) => hit.allowed), [true, true, true, false], 'the fourth hit, on B, is over the limit of three');
    t.same(hits.map((hit) => hit.remaining), [2, 1, 0, 0]);

    // The kernel's own sign-in limit (3 per e-mail here) counts attempts on both instances together.
    const attempt = (app: typeof a) => app.gql(LOGIN, { input: { email: owner.email, password: 'wrong password' } });
    const codes = [];
    for (const app of [a, b, a, b]) codes.push((await attempt(app)).errors?.[0]?.extensions?.code);
    t.same(codes, ['UNAUTHENTICATED', 'UNAUTHENTICATED', 'UNAUTHENTICATED', 'RATE_LIMITED']);
  });

  t.test('round-robin from both instances at once hands out every item once per round', async (t) => {
    const agents = Array.from({ length: 12 }, (_, i) => `agent-${String(i).padStart(2, '0')}`);
    await a.app.kernel.queues.replace('inbox', agents);
    // accept() yields, as a real one (is the agent online?) would: the rotations interleave.
    const accept = async () => {
      await new Promise((resolve) => setImmediate(resolve));
      return true;
    };
    for (let round = 1; round <= 3; round++) {
      const rotations = agents.map((_, i) => (i % 2 === 0 ? a : b).app.kernel.queues.rotate('inbox', accept));
      const taken = await Promise.all(rotations);
      t.same([...taken].sort(), agents, `round ${round}: each agent exactly once`);
      t.same(await b.app.kernel.queues.items('inbox'), agents, `round ${round}: a full round brings the queue back to its order`);
    }
  });
});
