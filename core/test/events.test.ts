import t from 'tap';
import { companyEm, createApp, insertEvents, newId } from '@atrium/core';
import { createTestApp, createTestDatabase, postgresOnly, recordMessages, type TestApp } from '@atrium/core/testing';
import { statementOf } from '../src/db/prepared.ts';
import { notes } from './fixtures/notes.ts';
import { audit, calls, failuresLeft } from './fixtures/audit.ts';

const CREATE_NOTE = 'mutation ($input: CreateNoteInput!) { createNote(input: $input) { id } }';

t.test('domain events through the outbox', async (t) => {
  const test = await createTestApp({ modules: [notes, audit], config: { events: { pollMs: 50, retryBaseMs: 20 } } });
  t.teardown(() => test.close());
  const company = await test.createCompany();
  const as = { token: company.owner.token };
  const note = (title: string) => test.gql(CREATE_NOTE, { input: { title, branchId: company.defaultBranchId } }, as);

  t.test('a committed event reaches subscribers and listeners', async (t) => {
    const live = await test.subscribe('subscription { noteEvents { id name title } }', {}, as);
    t.equal((await note('hello')).errors, undefined);
    const received = await live.next();
    t.match(received, { data: { noteEvents: { name: 'notes.note.created', title: 'hello' } } });
    await test.app.dispatcher.idle();
    const [entry] = await test.sql<{ event_id: string; company_id: string }>(`select event_id, company_id from audit_entry where title = 'hello'`);
    t.equal(entry?.company_id, company.id, 'the listener ran in the event’s company');
    t.equal(entry?.event_id, received.data!.noteEvents.id, 'with the event’s id');
    await live.close();
  });

  t.test('a rolled-back change publishes nothing', async (t) => {
    const live = await test.subscribe('subscription { noteEvents { title } }', {}, as);
    t.equal((await note('rollback')).errors?.[0]?.extensions?.code, 'INTERNAL');
    await note('after');
    t.same(await live.next(), { data: { noteEvents: { title: 'after' } } }, 'the next event is the committed one');
    await test.app.dispatcher.idle();
    t.same(await test.sql(`select * from atrium_event where payload->>'title' = 'rollback'`), []);
    t.same(await test.sql(`select * from note where title = 'rollback'`), []);
    t.notOk(calls.includes('rollback'));
    await live.close();
  });

  t.test('a listener that fails twice, then succeeds, leaves exactly one effect', async (t) => {
    failuresLeft.set('flaky', 2);
    await note('flaky');
    await test.app.dispatcher.idle();
    t.same(calls.filter((title) => title === 'flaky'), ['flaky', 'flaky', 'flaky'], 'three attempts');
    t.same(await test.sql(`select count(*)::int as n from audit_entry where title = 'flaky'`), [{ n: 1 }]);
    const [delivery] = await test.sql<{ attempts: number; done_at: Date | null; last_error: string | null }>(
      `select d.attempts, d.done_at, d.last_error from atrium_event_delivery d join atrium_event e on e.id = d.event_id where e.payload->>'title' = 'flaky'`,
    );
    t.equal(delivery?.attempts, 3);
    t.ok(delivery?.done_at);
    t.equal(delivery?.last_error, null);
  });

  t.test('an event with an undeclared name or a bad payload is refused', async (t) => {
    const em = test.app.orm.em.fork() as never;
    t.throws(() => test.app.kernel.events.emit(em, 'notes.note.burned', {}), /not declared by any installed module/);
    t.throws(() => test.app.kernel.events.emit(em, 'notes.note.created', { noteId: 7 }), /invalid payload: data\/noteId must be string, data must have required property 'title'|invalid payload/);
  });
});

/** An app whose notes nobody listens to (no audit module), the poll out of the way, and a way to write a note. */
async function notesAlone(tap: Pick<typeof t, 'teardown'>): Promise<{ test: TestApp; note: (title: string) => Promise<unknown> }> {
  const test = await createTestApp({ modules: [notes], config: { events: { pollMs: 600_000 } } });
  tap.teardown(() => test.close());
  const company = await test.createCompany();
  await test.app.dispatcher.idle();
  return { test, note: (title) => test.gql(CREATE_NOTE, { input: { title, branchId: company.defaultBranchId } }, { token: company.owner.token }) };
}

t.test('an event nobody listens to costs the dispatcher one statement', async (t) => {
  const { test, note } = await notesAlone(t);
  const sent: string[] = [];
  const stop = test.onQuery((sql) => sent.push(sql));
  await note('quiet');
  // The commit wakes the dispatcher: wait for its dispatch, then for its run to end.
  while (!(await test.sql(`select 1 from atrium_event where dispatched_at is not null and payload->>'title' = 'quiet'`)).length) await new Promise((resolve) => setTimeout(resolve, 10));
  await test.app.dispatcher.idle();
  stop();
  t.equal(sent.filter((sql) => /with claimed as/.test(sql)).length, 1, 'one dispatch');
  t.same(sent.filter((sql) => /with due as/.test(sql)), [], 'no look for due deliveries: it recorded none');
});

t.test("on PostgreSQL the workers' statements run prepared", { skip: postgresOnly }, async (t) => {
  const { test, note } = await notesAlone(t);
  const { sent, stop } = recordMessages();
  t.teardown(stop);
  for (const title of ['first', 'second']) {
    await note(title);
    await test.app.dispatcher.idle();
  }
  await test.app.jobs.tick();
  // A connection's first run of a statement prepares it in the same message: `prepare …; execute …`.
  const byName = sent.flatMap((sql) => [...sql.matchAll(/\bexecute atrium_[0-9a-f]{16}\b/g)].map(([run]) => statementOf(run)));
  t.ok(byName.some((sql) => /^with claimed as/.test(sql)), 'a dispatch runs by name');
  t.ok(byName.some((sql) => /^with due as \(\s*select id from atrium_job/.test(sql)), "the job runner's look for due jobs too");
  t.notOk(sent.some((sql) => /^\s*(with (claimed|due) as|update atrium_schedule)/.test(sql)), 'neither sent as text to plan');
  t.same((await test.sql(`select payload->>'title' as title from atrium_event where dispatched_at is null`)), [], 'both dispatched');
});

t.test("insertEvents: events written by a module's own statement are delivered as flushed ones", async (t) => {
  // The poll is ten minutes away: only the commit's wake can deliver them.
  const test = await createTestApp({ modules: [notes, audit], config: { events: { pollMs: 600_000 } } });
  t.teardown(() => test.close());
  const company = await test.createCompany();
  await test.app.dispatcher.idle();
  await companyEm(test.app.kernel, company.id).transactional(async (tx) => {
    const emit = (title: string) => test.app.kernel.events.emit(tx, 'notes.note.created', { noteId: newId(), title });
    const written = insertEvents(tx, [emit('by statement')]);
    const skipped = insertEvents(tx, [emit('not written')], 'false');
    await tx.execute(`with written as (${written.sql}) ${skipped.sql}`, [...written.params, ...skipped.params]);
  });
  // They left the unit of work: the flush before the commit wrote neither.
  t.same(await test.sql(`select payload->>'title' as title, company_id from atrium_event where payload->>'title' <> 'Welcome' order by title`), [{ title: 'by statement', company_id: company.id }]);
  for (let waited = 0; waited < 500 && !(await test.sql(`select 1 from audit_entry where title = 'by statement'`)).length; waited += 1) await new Promise((resolve) => setTimeout(resolve, 10));
  t.same(await test.sql(`select title from audit_entry where title = 'by statement'`), [{ title: 'by statement' }], 'the commit woke the dispatcher: the listener ran');
});

t.test('events left in the outbox by a stopped app are delivered at the next start', async (t) => {
  const database = await createTestDatabase([notes, audit]);
  t.teardown(() => database.drop());
  const options = { modules: [notes, audit], database: database.target, port: 0, logLevel: 'silent' as const, environment: {}, platformKey: 'p'.repeat(32), events: { pollMs: 50 } };
  const first = createApp(options);
  await first.start();
  await database.afterStart();
  // The app stops dispatching, as if it crashed right after the commit.
  await first.dispatcher.stop();
  const signUp = await first.fastify.inject({
    method: 'POST',
    url: '/graphql',
    headers: { 'content-type': 'application/json' },
    payload: JSON.stringify({ query: 'mutation { signUp(input: { companyName: "C", email: "c@example.test", password: "correct horse battery staple", displayName: "C" }) { accessToken } }' }),
  });
  const token = signUp.json().data.signUp.accessToken;
  const branch = (await database.sql<{ id: string }>('select id from branch'))[0]!.id;
  await first.fastify.inject({
    method: 'POST',
    url: '/graphql',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    payload: JSON.stringify({ query: CREATE_NOTE, variables: { input: { title: 'survivor', branchId: branch } } }),
  });
  await first.stop();
  t.same(await database.sql(`select count(*)::int as n from atrium_event where dispatched_at is null`), [{ n: 1 }], 'the event waits in the outbox');
  t.same(await database.sql(`select count(*)::int as n from audit_entry where title = 'survivor'`), [{ n: 0 }]);

  const second = createApp(options);
  await second.start();
  await second.dispatcher.idle();
  t.same(await database.sql(`select count(*)::int as n from audit_entry where title = 'survivor'`), [{ n: 1 }], 'delivered after the restart');
  await second.stop();
});

t.test('dispatched events are pruned after the retention period', async (t) => {
  // No polls: the commit wakes the dispatcher, and the periodic pruning job (due in a database made
  // from the test template) does not run before the test prunes.
  const test = await createTestApp({ modules: [notes, audit], config: { events: { pollMs: 60_000, retentionDays: 0 } } });
  t.teardown(() => test.close());
  const company = await test.createCompany();
  await test.gql(CREATE_NOTE, { input: { title: 'old', branchId: company.defaultBranchId } }, { token: company.owner.token });
  await test.app.dispatcher.idle();
  t.ok((await test.sql('select id from atrium_event')).length > 0);
  await test.app.dispatcher.prune();
  t.same(await test.sql('select id from atrium_event'), []);
});

t.test('the periodic pruning job runs inside its own transaction without waiting on itself', async (t) => {
  const test = await createTestApp({ modules: [notes, audit], config: { events: { retentionDays: 0 } } });
  t.teardown(() => test.close());
  const company = await test.createCompany();
  await test.gql(CREATE_NOTE, { input: { title: 'due', branchId: company.defaultBranchId } }, { token: company.owner.token });
  await test.app.dispatcher.idle();
  await test.sql(`update atrium_schedule set next_run_at = now() - interval '1 second' where name = 'core.pruneEvents'`);
  await test.app.jobs.tick();
  const [schedule] = await test.sql<{ last_run_at: Date | null; last_error: string | null }>(`select last_run_at, last_error from atrium_schedule where name = 'core.pruneEvents'`);
  t.ok(schedule?.last_run_at, 'it ran');
  t.equal(schedule?.last_error, null);
  t.same(await test.sql('select id from atrium_event'), [], 'and pruned');
});
