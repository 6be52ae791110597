/**
 * Hot statements as PostgreSQL prepared statements: parsed and planned once per connection instead
 * of on every run (for a list page, planning costs PostgreSQL three times what running it does).
 *
 * MikroORM sends statements in the simple protocol with their values written in (and, with
 * row-level security, the session context in front: `set local …; <statement>`), which
 * keeps every statement one round trip. `executePrepared` keeps that: it sends
 * `execute atrium_<hash>(<values>)`, and the pool's connections prepare the statement the first
 * time one of them meets its name — `prepare atrium_<hash> as <statement>` in the same message.
 * Prepared statements live as long as their connection and are not undone by a rollback, so an
 * error re-reads which ones the connection holds. Inside a transaction a refused `prepare` would
 * abort it: there, a statement runs prepared only once PostgreSQL has prepared it somewhere (outside,
 * or on an idle connection asked to try it the first time the transaction ran it as it is).
 * Row-level security stays exact: PostgreSQL re-plans a prepared statement when it runs under
 * another role than it was planned for.
 */
import { createHash } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/sql';
import type pg from 'pg';
import { entryOf } from '../shared/entry.ts';
import { COMMIT_WITH_STATEMENT, holdingWrites } from './deferred-begin.ts';

type QueryResults = pg.QueryResult | pg.QueryResult[];

/** Each statement's text with `$n` placeholders, by name; shared by every pool of the process. */
const statements = new Map<string, string>();
/** Each statement's name, by its text as `executePrepared` gets it (no hashing per run). */
const nameOfText = new Map<string, string>();
/** Statements PostgreSQL refused to prepare (a value whose type it cannot tell): run as they are. */
const unpreparable = new Set<string>();
/** Statements PostgreSQL has prepared: safe to prepare inside a transaction. */
const proven = new Set<string>();
/** Connections (MikroORM's) whose pool prepares on first use, with the way to try a statement on an idle one. */
const preparingConnections = new WeakMap<object, (name: string) => void>();
/** Statement shapes remembered by the process. */
const MAX_STATEMENTS = 1000;
/** Past this many on one connection, its statements are dropped and prepared again as they come. */
const MAX_PER_CONNECTION = 100;
const NAMED = /\bexecute (atrium_[0-9a-f]{16})\b/g;

type Rows = Record<string, unknown>[];

/** Options of `executePrepared`. */
export interface ExecuteOptions {
  /**
   * The transaction's last statement: on PostgreSQL its `commit` goes in the same message, so the
   * locks it takes are released without another round trip. Nothing may run in the transaction after
   * it (the unit of work flushed before: pending changes fail the commit), and nothing of it is undone
   * by an error thrown afterwards. In a nested transaction (a savepoint), and on the embedded
   * database, the statement runs as usual and the transaction commits when it ends.
   */
  commit?: boolean;
}

/** A transaction of MikroORM's that is not nested in another (nested ones are savepoints). */
const isOutermost = (em: EntityManager): boolean => {
  const context = em.getTransactionContext<object>();
  return !!context && !('savepointName' in context);
};

/**
 * Runs `sql` (values as `?` placeholders) as a prepared statement where the connection prepares
 * them (PostgreSQL); elsewhere, and in a transaction until PostgreSQL has prepared it once, as it is.
 */
export async function executePrepared(em: EntityManager, sql: string, params: readonly unknown[], options: ExecuteOptions = {}): Promise<Record<string, unknown>[]> {
  const tryOnIdle = preparingConnections.get(em.getConnection());
  const commit = !!(tryOnIdle && options.commit && isOutermost(em));
  const run = (text: string) => em.execute<Rows>(commit ? `${text}${COMMIT_WITH_STATEMENT}` : text, [...params]);
  // MikroORM spreads an array into several values: the statement would change shape with its length.
  if (!tryOnIdle || params.some(Array.isArray)) return run(sql);
  let name = nameOfText.get(sql);
  if (!name) {
    // Statements vary with the fields a query asks: past a bound, new shapes run as they are.
    if (nameOfText.size >= MAX_STATEMENTS) return run(sql);
    name = `atrium_${createHash('sha256').update(sql).digest('hex').slice(0, 16)}`;
    let index = 0;
    nameOfText.set(sql, name);
    statements.set(
      name,
      sql.replace(/\?/g, () => `$${++index}`),
    );
  }
  if (unpreparable.has(name)) return run(sql);
  const inTransaction = em.isInTransaction();
  if (inTransaction && !proven.has(name)) {
    tryOnIdle(name);
    return run(sql);
  }
  try {
    return await run(params.length ? `execute ${name}(${params.map(() => '?').join(', ')})` : `execute ${name}`);
  } catch (error) {
    if (!inTransaction && unpreparable.has(name)) return run(sql);
    throw error;
  }
}

/** Per ORM (its metadata): whether an entity has a version or concurrency check, whose update's count the ORM reads. */
const countsUpdates = new WeakMap<object, boolean>();

/**
 * Flushes the transaction and commits it, its writes and the `commit` in one message (on
 * PostgreSQL): for a service's last step, when nothing runs in the transaction after it. A write
 * that fails fails this call with the ORM's error, as the flush would, and the transaction rolls back.
 * In a nested transaction (a savepoint), on the embedded database, and in an app with an entity that
 * has a version or concurrency check (the ORM reads its update's count), it flushes as usual and the
 * transaction commits when it ends.
 */
export async function flushAndCommit(em: EntityManager): Promise<void> {
  const metadata = em.getMetadata();
  const counted = entryOf(countsUpdates, metadata, () => [...metadata.getAll().values()].some((meta) => meta.versionProperty || meta.concurrencyCheckKeys.size));
  if (!preparingConnections.has(em.getConnection()) || !isOutermost(em) || counted) {
    await em.flush();
    return;
  }
  await holdingWrites(() => em.flush());
  await em.execute(`select 1${COMMIT_WITH_STATEMENT}`);
}

/** The statement SQL runs: for `execute atrium_…(…)`, the prepared one (`$n` placeholders); other SQL as it is. */
export function statementOf(sql: string): string {
  const name = /^execute (atrium_[0-9a-f]{16})\b/.exec(sql)?.[1];
  return (name && statements.get(name)) || sql;
}

/** Lets the pool's connections prepare the statements `executePrepared` names; `connection` is MikroORM's. */
export function prepareOnFirstUse(pool: pg.Pool, connection: object): void {
  const trying = new Set<string>();
  preparingConnections.set(connection, (name) => {
    if (trying.has(name)) return;
    trying.add(name);
    pool
      .query(`prepare ${name} as ${statements.get(name)}; deallocate ${name}`)
      .then(
        () => proven.add(name),
        (error: unknown) => {
          if (/^42/.test(String((error as { code?: unknown }).code))) unpreparable.add(name);
        },
      )
      .finally(() => trying.delete(name));
  });
  const prepared = new WeakSet<pg.PoolClient>();
  pool.on('acquire', (client) => {
    if (prepared.has(client)) return;
    let names = new Set<string>();
    prepared.add(client);
    // The query in place now (the deferred begin's), so that it still sees every message.
    const previous = client.query.bind(client) as (...args: unknown[]) => Promise<QueryResults>;
    const run = (config: string, values: unknown): Promise<QueryResults> => {
      const named = [...new Set([...config.matchAll(NAMED)].map((match) => match[1]!))].filter((name) => statements.has(name));
      const missing = named.filter((name) => !names.has(name));
      if (!missing.length) return previous(config, values);
      const preamble = names.size + missing.length > MAX_PER_CONNECTION ? ['deallocate all'] : [];
      if (preamble.length) names.clear();
      const toPrepare = preamble.length ? named : missing;
      preamble.push(...toPrepare.map((name) => `prepare ${name} as ${statements.get(name)}`));
      return previous(`${preamble.join('; ')}; ${config}`, values).then(
        (results) => {
          for (const name of toPrepare) {
            names.add(name);
            proven.add(name);
          }
          const answers = (results as pg.QueryResult[]).slice(preamble.length);
          return answers.length === 1 ? answers[0]! : answers;
        },
        async (error: unknown) => {
          const code = String((error as { code?: unknown }).code);
          // Which statements got prepared before the error is only known to the connection (in an
          // aborted transaction it answers nothing: then a failure of another class than the
          // prepare's own, 42, came after the prepare, and one that it exists tells as much).
          const held = (await previous("select name from pg_prepared_statements where name like 'atrium\\_%'").catch(() => null)) as pg.QueryResult<{ name: string }> | null;
          if (held) {
            names = new Set(held.rows.map((row) => row.name));
            // Class 42 (a value's type unknown, …): the statement cannot be prepared; run it as it is.
            if (/^42/.test(code)) for (const name of toPrepare) if (!names.has(name)) unpreparable.add(name);
          } else if (!/^42/.test(code) || code === '42P05') {
            for (const name of toPrepare) names.add(name);
          }
          throw error;
        },
      );
    };
    client.query = ((config: unknown, values?: unknown, callback?: unknown) => {
      // pg-pool's own `query` (row-level security's statements) passes a callback.
      const [params, done] = typeof values === 'function' ? [undefined, values] : [values, callback];
      if (typeof config !== 'string' || !config.includes('execute atrium_')) return previous(config, values, callback);
      const answer = run(config, params);
      if (typeof done !== 'function') return answer;
      answer.then(
        (result) => done(null, result),
        (error: unknown) => done(error),
      );
      return undefined;
    }) as typeof client.query;
  });
}
