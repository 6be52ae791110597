import t from 'tap';
import { createTestApp, createTestDatabase } from '@atrium/core/testing';
import { chores, committedRuns, failuresLeft, heldRuns } from './fixtures/chores.ts';
import { notes } from './fixtures/notes.ts';
import { audit } from './fixtures/audit.ts';

const runsOf = (test: { sql: (q: string) => Promise<any[]> }, job: string) =>
  test.sql(`select slot, payload from chore_run where job = '${job}' order by slot`);

async function until(check: () => Promise<boolean>): Promise<void> {
  while (!(await check())) await new Promise((resolve) => setTimeout(resolve, 20));
}

t.test('one-off jobs', async (t) => {
  const test = await createTestApp({ modules: [chores] });
  t.teardown(() => test.close());
  const company = await test.createCompany();

  t.test('an enqueued job runs after commit, retried until it succeeds', async (t) => {
    failuresLeft.set('flaky', 1);
    t.same((await test.gql('mutation { scheduleChore(label: "flaky") }', {}, company.owner)).data, { scheduleChore: true });
    await until(async () => (await test.sql(`select 1 from atrium_job where done_at is not null and payload->>'label' = 'flaky'`)).length > 0);
    const [job] = await test.sql<{ attempts: number; last_error: string | null; company_id: string }>(`select attempts, last_error, company_id from atrium_job where payload->>'label' = 'flaky'`);
    t.same(job, { attempts: 2, last_error: null, company_id: company.id }, 'one failure, one success, in the company that enqueued it');
    t.equal((await runsOf(test, 'chores.once')).length, 1, 'the failed attempt left no trace');
    t.same(committedRuns, ['flaky'], 'after-commit steps ran for the committed attempt only');
  });

  t.test('a job enqueued in a rolled-back transaction never runs', async (t) => {
    t.equal((await test.gql('mutation { scheduleChore(label: "ghost", rollback: true) }', {}, company.owner)).errors?.[0]?.extensions?.code, 'INTERNAL');
    t.same(await test.sql(`select id from atrium_job where payload->>'label' = 'ghost'`), []);
  });
});

t.test('a periodic job runs at most once per period across instances', async (t) => {
  const database = await createTestDatabase([chores]);
  t.teardown(() => database.drop());
  const first = await createTestApp({ modules: [chores], database, config: { events: { pollMs: 10 } } });
  t.teardown(() => first.close());
  await database.afterStart();
  const second = await createTestApp({ modules: [chores], database, config: { events: { pollMs: 10 } } });
  t.teardown(() => second.close());
  await until(async () => (await runsOf(first, 'chores.sweep')).length >= 8);
  const runs = await runsOf(first, 'chores.sweep');
  const slots = runs.map((run) => new Date(run.slot).toISOString());
  t.equal(new Set(slots).size, slots.length, `${slots.length} runs, each of its own period`);
  // One assertion for all the gaps: how many runs there are by now depends on the machine's speed.
  const gaps = runs.slice(1).map((run, i) => new Date(run.slot).getTime() - new Date(runs[i].slot).getTime());
  t.same(gaps.filter((gap) => gap < 40), [], 'each run a period after the one before');
});

t.test('a tick asked for while a pass is under way waits for a pass that looks again', async (t) => {
  // The poll stays out of the way: every pass here is one the test started.
  const test = await createTestApp({ modules: [chores], config: { events: { pollMs: 60_000 } } });
  t.teardown(() => test.close());
  const company = await test.createCompany();
  let release!: () => void;
  const reached = new Promise<void>((resolve) => {
    heldRuns.set('held', { reached: resolve, release: new Promise<void>((done) => (release = done)) });
  });
  t.teardown(() => heldRuns.delete('held'));
  await test.gql('mutation { scheduleChore(label: "held") }', {}, company.owner);
  await reached; // a pass woken by the commit is now held after its periodic jobs
  await test.sql(`update atrium_schedule set next_run_at = now() - interval '1 second' where name = 'chores.sweep'`);
  const before = (await runsOf(test, 'chores.sweep')).length;
  const asked = test.app.jobs.tick();
  release();
  await asked;
  t.equal((await runsOf(test, 'chores.sweep')).length, before + 1, 'the periodic job that became due during the held pass ran');
});

t.test('a commit wakes the worker of what it wrote: an event wakes the dispatcher, not the job runner', async (t) => {
  // The polls stay out of the way: only wakes run the workers here.
  const test = await createTestApp({ modules: [notes, audit, chores], config: { events: { pollMs: 60_000 } } });
  t.teardown(() => test.close());
  const company = await test.createCompany();
  const issued: string[] = [];
  t.teardown(
    test.onQuery((sql) => {
      issued.push(sql);
    }),
  );
  const created = await test.gql('mutation ($input: CreateNoteInput!) { createNote(input: $input) { id } }', { input: { title: 'woken', branchId: company.defaultBranchId } }, company.owner);
  t.ok(created.data?.createNote.id);
  await until(async () => (await test.sql(`select 1 from audit_entry where title = 'woken'`)).length > 0);
  t.ok(issued.some((sql) => /atrium_event/.test(sql)), 'the dispatcher took the event up at once');
  t.notOk(issued.some((sql) => /atrium_schedule|atrium_job/.test(sql)), 'the job runner was not woken');
});
