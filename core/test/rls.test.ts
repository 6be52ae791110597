import t from 'tap';
import type pg from 'pg';
import type { PostgreSqlConnection } from '@mikro-orm/postgresql';
import { createTestApp, postgresOnly, recordMessages } from '@atrium/core/testing';
import { afterCommit, Branch, buildAbility, companyEm, flushAndCommit, lockById, newId, paginateRows, Plan, referenceLoader, type AtriumRequestContext, type EntityManager } from '@atrium/core';
import { Note, notes } from './fixtures/notes.ts';
import { executePrepared } from '../src/db/prepared.ts';
import { loaderResolvers } from '../src/graphql/loaders.ts';
import { joinedColumn } from '../src/db/rows.ts';

const CREATE_NOTE = 'mutation ($input: CreateNoteInput!) { createNote(input: $input) { id } }';

for (const rowLevelSecurity of [true, false]) {
  t.test(`a raw query that omits the tenant filter, with row-level security ${rowLevelSecurity ? 'on' : 'off'}`, async (t) => {
    const test = await createTestApp({ modules: [notes], config: { rowLevelSecurity } });
    t.teardown(() => test.close());
    const a = await test.createCompany();
    const b = await test.createCompany();
    for (const company of [a, b, b]) {
      await test.gql(CREATE_NOTE, { input: { title: 'n', branchId: company.defaultBranchId } }, { token: company.owner.token });
    }
    t.equal((await test.sql<{ n: number }>('select count(*)::int as n from note'))[0]!.n, 5, 'two Welcome notes and three more');
    const count = (await test.gql('{ rawNoteCount }', {}, { token: a.owner.token })).data.rawNoteCount;
    // Without row-level security the forgotten filter leaks every company's rows: that is what it guards.
    t.equal(count, rowLevelSecurity ? 2 : 5);
    const rows = await test.gql('{ noteRows(first: 10) { totalCount edges { node { id } } } }', {}, { token: a.owner.token });
    t.same([rows.data.noteRows.totalCount, rows.data.noteRows.edges.length], [2, 2], 'paginateRows writes the tenant filter out: the company only, either way');
    // A reference that points into another company (written around the API) resolves to nothing.
    await test.sql("update note set branch_id = $1 where company_id = $2 and title = 'n'", [b.defaultBranchId, a.id]);
    let branches: any;
    const statements = await test.statements(async () => {
      branches = await test.gql('{ noteRows(first: 10) { edges { node { title branch { id } } } } }', {}, { token: a.owner.token });
    });
    // The branches come with the page, read under the company's condition (the loader also refuses
    // another company's entity from the identity map: either alone keeps the foreign branch out).
    t.match(statements.find((sql) => sql.includes('"note"')), /from "branch" r0 where \(r0\."id" = any\(array\(select distinct page\."branchId" from page\)\)\) and \(r0\."company_id" = /, 'the references read are the company\'s only');
    t.same(statements.filter((sql) => !sql.includes('"note"') && sql.includes('from "branch"')), [], 'nor read again for the loader: each row tells its branch, or none');
    t.same(
      branches.data.noteRows.edges.map((edge: { node: { title: string; branch: { id: string } | null } }) => [edge.node.title, edge.node.branch?.id ?? null]).sort(),
      [['Welcome', a.defaultBranchId], ['n', null]],
      "referenceLoader's read by ids is scoped to the company too",
    );
  });
}

t.test('on PostgreSQL a statement outside a transaction takes its company in the same round trip', { skip: postgresOnly }, async (t) => {
  const test = await createTestApp({ modules: [notes] });
  t.teardown(() => test.close());
  const a = await test.createCompany();
  const b = await test.createCompany();
  const title = "it's; select 1";
  for (const company of [a, b]) await test.gql(CREATE_NOTE, { input: { title, branchId: company.defaultBranchId } }, { token: company.owner.token });

  const sent = await test.messages(async () => {
    t.equal((await test.gql('{ rawNoteCount }', {}, { token: a.owner.token })).data.rawNoteCount, 2, 'the company only');
  });
  const raw = sent.filter((text) => text.includes('from note'));
  t.equal(raw.length, 1, 'one message for the read');
  t.match(raw[0], /^set local role "atrium_tenant"; set local "app"\."company_id" = '[0-9a-f-]{36}'; select count/, 'the context first, in the same message');
  t.notOk(sent.some((text) => /^\s*(begin|commit)\b/i.test(text)), 'no transaction around it');

  // Literals that hold a quote and a semicolon stay one statement (MikroORM inlines them quoted).
  const listed = await test.gql('{ notes(first: 10) { edges { node { title } } } }', {}, { token: a.owner.token });
  t.ok(listed.data.notes.edges.some((edge: { node: { title: string } }) => edge.node.title === title));

  // The context ends with its message: every pooled connection is back to no company and the login role.
  const pool = (await (test.app.orm.em.getDriver().getConnection() as PostgreSqlConnection).getNativeClient()) as pg.Pool;
  const clients = await Promise.all(Array.from({ length: 10 }, () => pool.connect()));
  try {
    for (const client of clients) {
      const { rows } = await client.query("select coalesce(current_setting('app.company_id', true), '') as company, current_user as role");
      t.same(rows[0], { company: '', role: 'postgres' });
    }
  } finally {
    for (const client of clients) client.release();
  }
});

t.test("on PostgreSQL a transaction's begin travels with its first statement", { skip: postgresOnly }, async (t) => {
  const test = await createTestApp({ modules: [notes] });
  t.teardown(() => test.close());
  const a = await test.createCompany();
  const sent = await test.messages(async () => {
    const created = await test.gql(CREATE_NOTE, { input: { title: 'together', branchId: a.defaultBranchId } }, { token: a.owner.token });
    t.equal(created.errors, undefined);
  });
  t.notOk(sent.some((text) => /^\s*begin\s*$/i.test(text)), 'no begin alone');
  t.ok(
    sent.some((text) => /^begin; set local role "atrium_tenant"; set local "app"\."company_id" = '[0-9a-f-]{36}'; (insert|select|update|with|execute) /i.test(text)),
    'the begin, the company (as `set local`) and the first statement in one message',
  );
  t.notOk(sent.some((text) => /^(begin; )?(select set_config\(|set local )[^;]*(; set local [^;]*)*$/.test(text)), 'no message of the context alone');
  t.equal((await test.sql<{ n: number }>("select count(*)::int as n from note where title = 'together'"))[0]!.n, 1, 'and the transaction committed');

  // Statements with bound parameters take one statement per message: the begin goes first, on its own.
  const pool = (await (test.app.orm.em.getDriver().getConnection() as PostgreSqlConnection).getNativeClient()) as pg.Pool;
  const client = await pool.connect();
  try {
    await client.query('begin');
    const { rows } = await client.query('select $1::int as n', [7]);
    t.same(rows, [{ n: 7 }]);
    await client.query('savepoint inside');
    t.pass('a savepoint is accepted: the connection is in a transaction');
    const [one, two] = (await client.query('select 1 as a; select 2 as b')) as unknown as pg.QueryResult[];
    t.same([one!.rows, two!.rows], [[{ a: 1 }], [{ b: 2 }]], 'a message of several statements answers as it would without a deferred begin');
    await client.query('rollback');
    await client.query('begin');
    const [x, y] = (await client.query('select 1 as a; select 2 as b')) as unknown as pg.QueryResult[];
    t.same([x!.rows, y!.rows], [[{ a: 1 }], [{ b: 2 }]], 'also when the begin travels with it');
    const { rows: single } = await client.query('select 3 as c');
    t.same(single, [{ c: 3 }]);
    await client.query('rollback');
    // A failed statement answers PostgreSQL's error, its stack leading back to where it was awaited.
    const failed = await (async function divideByZero() {
      await client.query('select 1 / 0');
    })().then(
      () => null,
      (error: unknown) => error as pg.DatabaseError,
    );
    t.equal(failed?.code, '22012', "PostgreSQL's error");
    t.match(failed?.stack, /at async divideByZero/, 'its stack names the caller');
    const called = await new Promise<unknown[]>((resolve, reject) => client.query('select 4 as d', (error: Error | null, result: pg.QueryResult) => (error ? reject(error) : resolve(result.rows))));
    t.same(called, [{ d: 4 }], "pg's callback form answers as before");
    // The session context goes with the begin, and both with the next statement: it answers alone.
    await client.query('begin');
    await client.query(`set local role "atrium_tenant"; set local "app"."company_id" = 'held'`);
    const { rows: context } = await client.query("select current_setting('app.company_id') as company");
    t.same(context, [{ company: 'held' }], 'the context holds for the statement it travelled with');
    t.same((await client.query('select current_user as role')).rows, [{ role: 'atrium_tenant' }], 'both of its statements');
    await client.query('rollback');
    await client.query('begin');
    await client.query(`set local "app"."company_id" = 'bound'`);
    const { rows: bound } = await client.query('select current_setting($1) as company', ['app.company_id']);
    t.same(bound, [{ company: 'bound' }], 'before a statement with bound parameters, in a message of their own');
    await client.query('rollback');
    t.same((await client.query("select coalesce(current_setting('app.company_id', true), '') as company")).rows, [{ company: '' }], 'and gone with the transaction');
  } finally {
    client.release();
  }
});

t.test('paginateRows refuses a read of tenant rows without a company, and an order in two directions', async (t) => {
  const test = await createTestApp({ modules: [notes] });
  t.teardown(() => test.close());
  const a = await test.createCompany();
  const order = { createdAt: 'asc', id: 'asc' } as const;
  await t.rejects(paginateRows(test.app.orm.em.fork() as EntityManager, Note, { where: [], orderBy: order }), { code: 'INTERNAL' }, 'no scope: nothing read rather than every company');
  const scoped = companyEm(test.app.kernel, a.id);
  t.equal((await paginateRows(scoped, Note, { where: [], orderBy: order })).totalCount, 1, "in a company's scope: its Welcome note");
  await t.rejects(paginateRows(scoped, Note, { where: [], orderBy: { createdAt: 'asc', id: 'desc' } }), { code: 'INTERNAL' }, 'keyset pages go one way');
});

t.test('on PostgreSQL a list page runs as a statement prepared once per connection', { skip: postgresOnly }, async (t) => {
  const test = await createTestApp({ modules: [notes] });
  t.teardown(() => test.close());
  const a = await test.createCompany();
  const as = { token: a.owner.token };
  const LIST = '{ noteRows(first: 10) { totalCount edges { node { title branch { id } } } } }';
  const first = await test.messages(async () => {
    t.equal((await test.gql(LIST, {}, as)).data.noteRows.totalCount, 1);
  });
  const page = first.find((sql) => sql.includes('execute atrium_'));
  t.match(page, /^prepare (atrium_[0-9a-f]{16}) as .*; set local role .*; execute \1\('/s, 'the first run prepares it, in the same message, the context between');
  // Fifteen more runs on a pool of at most ten connections: each prepares it once at most.
  const again = await test.messages(async () => {
    for (let i = 0; i < 15; i += 1) t.same((await test.gql(LIST, {}, as)).data.noteRows.edges, [{ node: { title: 'Welcome', branch: { id: a.defaultBranchId } } }]);
  });
  const runs = again.filter((sql) => sql.includes('execute atrium_'));
  t.equal(runs.length, 15);
  const bare = runs.filter((sql) => /^set local role [^;]*; set local [^;]*; execute atrium_[0-9a-f]{16}\('/.test(sql));
  t.ok(bare.length >= 5, `${bare.length} of 15 runs sent only the values`);
  t.ok(runs.every((sql) => bare.includes(sql) || sql.startsWith('prepare ')), 'the others prepared it first');
});

// Before the test below, which fills the process's bound of statement shapes.
t.test('executePrepared in a transaction: as it is until PostgreSQL has prepared it once, then prepared', { skip: postgresOnly }, async (t) => {
  const test = await createTestApp({ modules: [notes] });
  t.teardown(() => test.close());
  const run = (value: string) => (test.app.orm.em.fork() as EntityManager).transactional((tx) => executePrepared(tx, 'select ?::int * 3 as n', [value]));
  // A transaction's first statement travels with its `begin`.
  const sent = await test.messages(async (sent) => {
    t.same(await run('2'), [{ n: 6 }]);
    // Meanwhile an idle connection tries to prepare it; then a transaction prepares it where it runs.
    // The run fails after the prepare (a value that is not a number): the connection, its transaction
    // aborted, cannot be asked what it holds — it holds the statement, and must not prepare it twice.
    let failed: readonly string[] = [];
    for (let attempt = 0; attempt < 100 && !failed.some((sql) => sql.includes('prepare atrium_')); attempt += 1) {
      const before = sent.length;
      await t.rejects(run('x'), { code: '22P02' });
      failed = sent.slice(before);
    }
    t.ok(failed.some((sql) => /^begin; prepare (atrium_[0-9a-f]{16}) as select \$1::int \* 3 as n; execute \1\('x'\)$/.test(sql)), 'prepared inside the transaction');
    t.same(await run('4'), [{ n: 12 }]);
  });
  t.ok(sent.includes("begin; select '2'::int * 3 as n"), 'the first run, before PostgreSQL prepared it anywhere, as it is');
  t.match(sent.at(-2), /^begin; execute atrium_[0-9a-f]{16}\('4'\)$/, 'the next run on that connection sends its values only');
});

t.test("on PostgreSQL a flush's events travel with the transaction's next statement, or its commit", { skip: postgresOnly }, async (t) => {
  const test = await createTestApp({ modules: [notes], config: { events: { pollMs: 600_000 } } });
  t.teardown(() => test.close());
  const [a, b] = [await test.createCompany(), await test.createCompany()];
  const eventInsert = /^insert into "atrium_event" /;
  const count = async (table: 'note' | 'atrium_event', title: string) =>
    (await test.sql<{ n: number }>(`select count(*)::int as n from ${table} where ${table === 'note' ? 'title' : "payload->>'title'"} = $1`, [title]))[0]!.n;
  const emit = (tx: EntityManager, title: string, companyId?: string) =>
    test.app.kernel.events.emit(tx, 'notes.note.created', { noteId: newId(), title }, companyId ? { companyId } : {});

  // A mutation writing a note and its event: the event goes with the next message, none of its own.
  const sent = await test.messages(async () => {
    const created = await test.gql(CREATE_NOTE, { input: { title: 'with its event', branchId: a.defaultBranchId } }, { token: a.owner.token });
    t.equal(created.errors, undefined);
  });
  t.notOk(sent.some((text) => eventInsert.test(text)), 'no message starts with the event');
  t.ok(sent.some((text) => /; insert into "atrium_event" \([^;]*\); \w+/.test(text)), 'it travels in front of another statement');
  t.same([await count('note', 'with its event'), await count('atrium_event', 'with its event')], [1, 1], 'both committed');

  // Flushed last: it goes with the commit; a later read still answers alone.
  const last = await test.messages(async () => {
    await companyEm(test.app.kernel, a.id).transactional(async (tx) => {
      emit(tx, 'event only');
      await tx.flush();
      t.same(await tx.getConnection().execute('select 41 + 1 as n', [], 'all', tx.getTransactionContext()), [{ n: 42 }], 'a statement after it answers its own');
      emit(tx, 'event last');
    });
  });
  t.ok(last.some((text) => /^(begin; set local [^;]*; set local [^;]*; )?insert into "atrium_event" [^;]*; select 41 \+ 1 as n$/.test(text)), 'the first with the read');
  t.ok(last.some((text) => /^insert into "atrium_event" [^;]*; commit$/.test(text)), 'the second with the commit');
  t.same([await count('atrium_event', 'event only'), await count('atrium_event', 'event last')], [1, 1]);

  // A rollback (of the transaction or of a savepoint) drops them unsent.
  const dropped = await test.messages(async () => {
    await t.rejects(
      companyEm(test.app.kernel, a.id).transactional(async (tx) => {
        emit(tx, 'rolled back');
        await tx.flush();
        throw new Error('the caller fails');
      }),
      /the caller fails/,
    );
    await companyEm(test.app.kernel, a.id).transactional(async (outer) => {
      await outer
        .transactional(async (inner) => {
          emit(inner as EntityManager, 'savepoint rolled back');
          await inner.flush();
          throw new Error('the nested part fails');
        })
        .catch(() => {});
      emit(outer, 'kept by the caller');
    });
  });
  t.notOk(dropped.some((text) => /'rolled back'|savepoint rolled back/.test(text)), 'never sent');
  t.same([await count('atrium_event', 'rolled back'), await count('atrium_event', 'savepoint rolled back'), await count('atrium_event', 'kept by the caller')], [0, 0, 1]);

  // A held event that fails (here: another company's, refused by row-level security) fails the transaction with it.
  await t.rejects(
    companyEm(test.app.kernel, a.id).transactional(async (tx) => {
      tx.create(Note, { companyId: a.id, branchId: a.defaultBranchId, title: 'failed with its event' });
      emit(tx, 'failed with its event', b.id);
    }),
    { code: '42501' },
  );
  t.same([await count('note', 'failed with its event'), await count('atrium_event', 'failed with its event')], [0, 0], 'nothing of it written');
  t.equal((await test.gql(CREATE_NOTE, { input: { title: 'after', branchId: a.defaultBranchId } }, { token: a.owner.token })).errors, undefined, 'connections stay usable');
});

t.test("flushAndCommit: a transaction's last writes and its commit in one message on PostgreSQL; a flush as usual elsewhere", async (t) => {
  const test = await createTestApp({ modules: [notes], config: { events: { pollMs: 600_000 } } });
  t.teardown(() => test.close());
  const a = await test.createCompany();
  await test.sql('create unique index note_title_probe on note (company_id, title)');
  const titles = async () => (await test.sql<{ title: string }>('select title from note where company_id = $1 order by title', [a.id])).map((row) => row.title);
  const events = async (title: string) => (await test.sql<{ n: number }>("select count(*)::int as n from atrium_event where payload->>'title' = $1", [title]))[0]!.n;
  const em = () => companyEm(test.app.kernel, a.id);
  const emit = (tx: EntityManager, title: string) => test.app.kernel.events.emit(tx, 'notes.note.created', { noteId: newId(), title });
  const before = await titles();
  const [existing] = await test.sql<{ id: string }>('insert into note (id, company_id, branch_id, title) values ($1, $2, $3, $4) returning id', [newId(), a.id, a.defaultBranchId, 'to rename']);

  let stepsRun = 0;
  const sent = await test.messages(async () => {
    await em().transactional(async (tx) => {
      const note = await tx.findOneOrFail(Note, { id: existing!.id });
      note.title = 'renamed';
      tx.create(Note, { companyId: a.id, branchId: a.defaultBranchId, title: 'created' });
      emit(tx, 'created');
      void afterCommit(tx, () => (stepsRun += 1));
      await flushAndCommit(tx);
    });
  });
  t.same(await titles(), [...before, 'created', 'renamed'].sort(), 'the writes committed');
  t.equal(await events('created'), 1, 'and the event');
  t.equal(stepsRun, 1, 'afterCommit steps ran');
  if (!postgresOnly) {
    const last = sent.at(-1)!;
    t.ok(/^insert into "(note|atrium_event)" [^;]*; insert into "(note|atrium_event)" [^;]*; update "note" set "title" = 'renamed' [^;]*; select 1; commit$/.test(last) && /"note" \(/.test(last) && /"atrium_event" \(/.test(last), 'the writes and the commit in the last message', { last });
    t.equal(sent.filter((message) => /^(insert|update) /.test(message)).length, 1, 'no write on its own');
    t.notOk(sent.includes('commit'), 'no commit on its own');
  }

  // A write that fails fails the call with the ORM's own error (what flushOrConflict and the deadlock retry read), and nothing is kept.
  await t.rejects(
    em().transactional(async (tx) => {
      tx.create(Note, { companyId: a.id, branchId: a.defaultBranchId, title: 'created' });
      emit(tx, 'a duplicate');
      await flushAndCommit(tx);
    }),
    { name: 'UniqueConstraintViolationException' },
  );
  t.equal(await events('a duplicate'), 0, 'nothing of a failed one kept');

  // In a nested transaction it only flushes: the caller's rollback undoes it.
  await t.rejects(
    em().transactional(async (outer) => {
      await outer.transactional(async (inner) => {
        inner.create(Note, { companyId: a.id, branchId: a.defaultBranchId, title: 'nested' });
        await flushAndCommit(inner as EntityManager);
      });
      throw new Error('the caller fails after');
    }),
    /the caller fails after/,
  );
  t.same(await titles(), [...before, 'created', 'renamed'].sort(), 'rolled back with its caller');
  if (!postgresOnly) {
    await t.rejects(
      em().transactional(async (tx) => {
        tx.create(Note, { companyId: a.id, branchId: a.defaultBranchId, title: 'last' });
        await flushAndCommit(tx);
        await tx.getConnection().execute('select 1', [], 'all', tx.getTransactionContext());
      }),
      /committed with its last statement/,
    );
    t.ok((await titles()).includes('last'), 'nothing runs after it; what it committed stands');
  }
});

t.test('executePrepared with commit: the transaction ends with its last statement, in the same message', { skip: postgresOnly }, async (t) => {
  const test = await createTestApp({ modules: [notes] });
  t.teardown(() => test.close());
  await test.sql('create table commit_probe (id int primary key)');
  const em = () => test.app.orm.em.fork() as EntityManager;
  const ids = async () => (await test.sql<{ id: number }>('select id from commit_probe order by id')).map((row) => row.id);
  const insert = (tx: EntityManager, id: number, options = { commit: true }) => executePrepared(tx, 'insert into commit_probe (id) values (?::int) returning id', [String(id)], options);
  let stepsRun = 0;
  const sent = await test.messages(async () => {
    const answer = await em().transactional(async (tx) => {
      await insert(tx, 1, { commit: false });
      void afterCommit(tx, () => (stepsRun += 1));
      return insert(tx, 2);
    });
    t.same(answer, [{ id: 2 }], 'answers the statement');
  });
  // (As it is, or prepared: an idle connection may have prepared it meanwhile.)
  t.match(sent.at(-1), /(insert into commit_probe \(id\) values \('2'::int\) returning id|execute atrium_[0-9a-f]{16}\('2'\)); commit$/, "the commit goes in the statement's message");
  t.notOk(sent.includes('commit'), 'no message of its own');
  t.same(await ids(), [1, 2], 'the transaction committed');
  t.equal(stepsRun, 1, 'afterCommit steps ran');

  // The statement fails: PostgreSQL skips the commit, and the transaction rolls back whole.
  await t.rejects(
    em().transactional(async (tx) => {
      await insert(tx, 3, { commit: false });
      return insert(tx, 1);
    }),
    { code: '23505' },
  );
  t.same(await ids(), [1, 2], 'nothing kept of a transaction whose last statement failed');

  // Nothing runs in the transaction after it: refused, rather than run outside of it.
  await t.rejects(
    em().transactional(async (tx) => {
      await insert(tx, 4);
      await insert(tx, 5, { commit: false });
    }),
    /committed with its last statement/,
  );
  t.same(await ids(), [1, 2, 4], 'the commit stands; the statement after it did not run');

  // In a nested transaction (a savepoint) the statement leaves the commit to the outermost one.
  await t.rejects(
    em().transactional(async (outer) => {
      await outer.transactional((inner) => insert(inner as EntityManager, 6));
      throw new Error('the caller fails after');
    }),
    /the caller fails after/,
  );
  t.same(await ids(), [1, 2, 4], 'rolled back with its caller');
  t.same(await em().transactional((tx) => insert(tx, 7)), [{ id: 7 }], 'connections stay usable');
  t.same(await ids(), [1, 2, 4, 7]);
});

t.test('executePrepared: statements PostgreSQL cannot prepare, errors after the prepare, many statements', { skip: postgresOnly }, async (t) => {
  const test = await createTestApp({ modules: [notes] });
  t.teardown(() => test.close());
  const em = () => test.app.orm.em.fork() as EntityManager;
  // `$1 is null` has no type to infer: the prepare is refused, the statement runs as it is, now and later.
  t.same(await executePrepared(em(), 'select 1 as one where ? is null', [null]), [{ one: 1 }]);
  t.same(await executePrepared(em(), 'select 1 as one where ? is null', ['b']), []);
  // The prepare succeeds, the run fails: the connection still knows it has the statement (background
  // work paused, so that the pool hands the same connection back).
  const sent = await test.messages(async () => {
    await t.rejects(executePrepared(em(), 'select ?::int + 1 as n', ['x']), { code: '22P02' });
    t.same(await executePrepared(em(), 'select ?::int + 1 as n', ['41']), [{ n: 42 }]);
  });
  t.match(sent.at(-1), /^execute atrium_[0-9a-f]{16}\('41'\)$/, 'run prepared, without a second prepare of the same name');
  // Many shapes: a connection keeps at most 100, dropping them all and preparing again past that.
  for (let i = 0; i < 120; i += 1) t.same(await executePrepared(em(), `select ?::int + ${i} as n`, ['1']), [{ n: 1 + i }]);
  const [{ held }] = await executePrepared(em(), "select count(*)::int as held from pg_prepared_statements where name like 'atrium%' and ?::int = 1", ['1']);
  t.ok((held as number) <= 100, `${held} statements held by the connection`);
  t.same(await executePrepared(em(), 'select ?::int + 0 as n', ['7']), [{ n: 7 }], 'a dropped statement is prepared again');
  // The process remembers 1000 shapes at most (queries choose their fields): the next ones run as they are.
  for (let i = 0; i < 1000; i += 1) await executePrepared(em(), `select ?::int - ${i} as n`, ['1']);
  const plain = await test.messages(async () => {
    t.same(await executePrepared(em(), 'select ?::int * 2 as n', ['21']), [{ n: 42 }]);
  });
  t.same(plain, ["select '21'::int * 2 as n"], 'past the bound, sent as it is');
});

t.test('referenceLoader answers from the identity map only entities that are loaded, of the company', async (t) => {
  const test = await createTestApp({ modules: [notes] });
  t.teardown(() => test.close());
  const a = await test.createCompany();
  const b = await test.createCompany();
  const branchOf = referenceLoader(Branch, (parent: { branchId: string }) => parent.branchId);
  const load = (em: EntityManager, branchId: string) => branchOf([{ obj: { branchId } }], { em } as unknown as AtriumRequestContext);
  const em = companyEm(test.app.kernel, a.id);
  // A reference holds the id only: it is read, not answered as it is (a plan belongs to no company).
  const [{ id: planId }] = await test.sql<{ id: string }>("select id from plan where code = 'default'");
  em.getReference(Plan, planId);
  const [plan] = await referenceLoader(Plan, (parent: { planId: string }) => parent.planId)([{ obj: { planId } }], { em } as unknown as AtriumRequestContext);
  t.equal(plan?.code, 'default', 'a reference in the identity map is read');
  const [own] = await load(em, a.defaultBranchId);
  t.equal(own?.name, 'Main');
  // Managed as find makes it: nothing to write for the read, and a change of it is tracked.
  const unitOfWork = em.getUnitOfWork();
  unitOfWork.computeChangeSets();
  t.same(unitOfWork.getChangeSets(), [], 'nothing to write for a read');
  own!.name = 'Renamed';
  unitOfWork.computeChangeSets();
  t.same(unitOfWork.getChangeSets().map((set) => [set.type, set.payload]), [['update', { name: 'Renamed' }]], 'a change of it is tracked');
  own!.name = 'Main';
  // Another company's branch in the same identity map (as a read outside the scope would leave it) is not answered.
  em.merge(Branch, { id: b.defaultBranchId, companyId: b.id, name: 'Theirs', createdAt: new Date() });
  t.same(await load(em, b.defaultBranchId), [null], "another company's loaded entity is not the company's");
  t.same(await load(em, a.defaultBranchId), [own], 'a loaded one of the company is answered as it is');
  // References read with a page are managed as loaded ones: a flush after the list writes nothing.
  const page = companyEm(test.app.kernel, a.id);
  const ability = buildAbility({ userId: a.owner.id, systemRole: 'OWNER', branchIds: [], grants: [] });
  const listed = await paginateRows(page, Note, { where: [], orderBy: { createdAt: 'asc', id: 'asc' }, select: { fields: ['title', 'branch'], ability, references: { branch: Branch } } });
  const joined = (listed.edges[0]!.node as unknown as Record<string, { name: string; createdAt: unknown } | undefined>)[joinedColumn('branch')];
  t.equal(joined?.name, 'Main', 'the page brought its branch');
  t.ok(joined?.createdAt instanceof Date, 'its timestamps as dates');
  page.getUnitOfWork().computeChangeSets();
  t.same(page.getUnitOfWork().getChangeSets(), [], 'nothing to write after the list');
  // As the field's resolver: a reference the row brought along (paginateRows) at once, others through the batch.
  const branch = loaderResolvers({ Note: { branch: branchOf as never } }).Note!.branch as (obj: unknown, params: unknown, context: unknown) => unknown;
  const context = { em } as unknown as AtriumRequestContext;
  t.equal(branch({ branchId: a.defaultBranchId, [joinedColumn('branch')]: own }, {}, context), own, 'brought along: answered at once, no promise');
  t.equal(branch({ branchId: b.defaultBranchId, [joinedColumn('branch')]: null }, {}, context), null, 'brought along as none: none');
  const read = branch({ branchId: a.defaultBranchId }, {}, context);
  t.ok(read instanceof Promise, 'otherwise read through the batch');
  t.equal(await read, own);

  // Two loaders wanting the same entity while the first one's read runs: one read, one entity.
  const fresh = companyEm(test.app.kernel, a.id);
  const creatorOf = referenceLoader(Branch, (parent: { otherBranchId: string }) => parent.otherBranchId);
  let both: [(Branch | null)[], (Branch | null)[]] = [[], []];
  const statements = await test.statements(async () => {
    const first = load(fresh, a.defaultBranchId);
    both = await Promise.all([first, creatorOf([{ obj: { otherBranchId: a.defaultBranchId } }], { em: fresh } as unknown as AtriumRequestContext)]);
  });
  t.equal(statements.filter((sql) => sql.includes('from "branch"')).length, 1, 'read once');
  t.equal(both[0][0]?.name, 'Main');
  t.equal(both[1][0], both[0][0], 'both answered with the same entity');
});

for (const rowLevelSecurity of [true, false]) {
  t.test(`lockById answers the company's row only, locked, with row-level security ${rowLevelSecurity ? 'on' : 'off'}`, async (t) => {
    const test = await createTestApp({ modules: [notes], config: { rowLevelSecurity } });
    t.teardown(() => test.close());
    const a = await test.createCompany();
    const b = await test.createCompany();
    const [own] = await test.sql<{ id: string }>('select id from note where company_id = $1', [a.id]);
    const [foreign] = await test.sql<{ id: string }>('select id from note where company_id = $1', [b.id]);
    const em = companyEm(test.app.kernel, a.id);
    await em.transactional(async (tx) => {
      const note = await lockById(tx as EntityManager, Note, own!.id);
      t.equal(note?.title, 'Welcome', "the company's note, as an entity");
      t.equal(tx.getUnitOfWork().getById(Note, own!.id), note, 'managed: a flush writes its changes');
      t.equal(await lockById(tx as EntityManager, Note, foreign!.id), null, "another company's id behaves as a missing one");
      t.equal(await lockById(tx as EntityManager, Note, 'not-an-id'), null);
      note!.title = 'Changed';
    });
    t.same(await test.sql('select title from note where id = $1', [own!.id]), [{ title: 'Changed' }]);
    t.same(await test.sql('select title from note where id = $1', [foreign!.id]), [{ title: 'Welcome' }], 'the foreign row untouched');
  });
}

t.test('on PostgreSQL lockById holds the row until the transaction ends, and answers what was committed meanwhile', { skip: postgresOnly }, async (t) => {
  const test = await createTestApp({ modules: [notes] });
  t.teardown(() => test.close());
  const a = await test.createCompany();
  const [{ id }] = (await test.sql<{ id: string }>('select id from note where company_id = $1', [a.id])) as [{ id: string }];
  // Once outside a transaction: prepared there, so that inside one it runs prepared from then on.
  await lockById(companyEm(test.app.kernel, a.id), Note, id);
  let release!: () => void;
  const held = new Promise<void>((resolve) => {
    release = resolve;
  });
  let locked!: () => void;
  const lockTaken = new Promise<void>((resolve) => {
    locked = resolve;
  });
  const first = companyEm(test.app.kernel, a.id).transactional(async (tx) => {
    const note = (await lockById(tx as EntityManager, Note, id))!;
    note.title = 'First';
    await tx.flush();
    locked();
    await held;
  });
  await lockTaken;
  const order: string[] = [];
  let sent: string[] = [];
  const second = companyEm(test.app.kernel, a.id).transactional(async (tx) => {
    // Read before the lock (the first's change not committed yet): the lock still answers the committed row.
    const before = (await tx.findOne(Note, { id }))!;
    const recording = recordMessages();
    try {
      const note = (await lockById(tx as EntityManager, Note, id))!;
      t.equal(note, before, 'the entity already loaded, its columns brought up to the committed row');
      order.push(`second saw ${note.title}`);
    } finally {
      recording.stop();
      sent = [...recording.sent];
    }
  });
  await new Promise((resolve) => setTimeout(resolve, 200));
  order.push('first commits');
  release();
  await Promise.all([first, second]);
  t.same(order, ['first commits', 'second saw First'], 'the second waited for the lock, then read the committed title');
  t.ok(sent.some((message) => /execute atrium_[0-9a-f]{16}\(/.test(message)), 'one prepared statement');
});
