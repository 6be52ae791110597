/**
 * A transaction's `begin` travels with its first statement, and — when its caller asks — its
 * `commit` with its last: a round trip fewer at each end.
 *
 * MikroORM (through Kysely) sends `begin` on its own and waits for it, then — with row-level
 * security — the session context (`set local …`, session-context.ts), then the transaction's first statement.
 * `begin` cannot fail on a healthy connection and answers nothing, and the caller reads nothing of
 * the context's answer, so both are held back and sent in the same simple-query message as the next
 * statement on that connection, `begin; set local …; <statement>`; PostgreSQL runs them in
 * order as if they had come one by one (a failing context fails that message: the statement's caller
 * gets the error). A statement with bound parameters (the extended protocol takes one statement per
 * message) gets them in a message of their own first.
 *
 * A statement sent as `<statement>; commit` (`executePrepared`'s `commit` option) ends the
 * transaction with it: locks it takes are held for that one message, not for another round trip.
 * If the statement fails, PostgreSQL skips the `commit` and the transaction is aborted as usual.
 * Once it has committed, the `commit` (or `rollback`) MikroORM sends afterwards is answered here,
 * and any other statement on the transaction is refused: it would run outside it.
 *
 * In a transaction begun here, an insert, update or delete that answers no rows (no `returning`)
 * waits in the same way for the transaction's next statement when `holdBack` accepts it (the
 * outbox's inserts: no error of theirs is expected — a flush's event travels with its next write, or
 * with the `commit`), and any such write inside `holdingWrites` (`flushAndCommit`'s flush). A
 * rollback drops what waits unsent (it came after the last savepoint: any statement sends it). If a
 * held statement fails, the statement it travelled with reports it, and the transaction is aborted.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import pg from 'pg';
import { entryOf } from '../shared/entry.ts';

type QueryResults = pg.QueryResult | pg.QueryResult[];
const answered = (command: 'BEGIN' | 'COMMIT' | 'ROLLBACK' | 'SET' | 'INSERT' | 'UPDATE' | 'DELETE') => ({ command, rowCount: null, rows: [], fields: [], oid: 0 }) as unknown as pg.QueryResult;

/**
 * The session context sent first in a transaction (session-context.ts: `set local role …; set local
 * "app"."company_id" = …`, values inlined, no semicolon inside a statement): held back with the `begin`.
 */
const SESSION_CONTEXT = /^set local [^;]+(?:; set local [^;]+)*$/;

/** What a statement ends with to commit its transaction in the same message. */
export const COMMIT_WITH_STATEMENT = '; commit';

/** Set while writes may wait for the transaction's next statement (`flushAndCommit`'s flush). */
const writesHeld = new AsyncLocalStorage<true>();

/** Runs `work` with its writes held back until the transaction's next statement (see the top of this file). */
export function holdingWrites<T>(work: () => Promise<T>): Promise<T> {
  return writesHeld.run(true, work);
}

/** An insert, update or delete that answers no rows: the ORM reads nothing of it but a count. */
const isPlainWrite = (statement: string): boolean => /^(insert into|update|delete from) /.test(statement) && !/ returning "[^"]*"(, "[^"]*")*$/.test(statement);

/**
 * A statement's answer through `pg`'s callback, in a promise of our own. Through `pg`'s own promise,
 * each statement's objects, and with them the request's, outlived young-generation collections:
 * measured with `--trace-gc-nvp` on scenario 4's checkout (bench), about 20 KB a checkout moved to
 * the old generation, 11 KB this way, and the collections' pauses fell by a third. An error's stack
 * is taken again where it is awaited, as `pg` does, so that it leads back to the statement's caller.
 */
async function answerOf(query: (...args: unknown[]) => unknown, config: unknown, values: unknown): Promise<QueryResults> {
  try {
    return await new Promise<QueryResults>((resolve, reject) => {
      query(config, values, (error: Error | null, result: QueryResults) => (error ? reject(error) : resolve(result)));
    });
  } catch (error) {
    if (error instanceof Error) Error.captureStackTrace(error);
    throw error;
  }
}

/**
 * Holds back each `begin` (and its session context) on the pool's connections until their next
 * statement, and in a transaction the statements `holdBack` accepts; takes a commit sent with a statement.
 */
export function sendBeginWithFirstStatement(pool: pg.Pool, holdBack: (statement: string) => boolean = () => false): void {
  const deferring = new WeakSet<pg.PoolClient>();
  /** The statements held back on a connection: its `begin`, then its session context if any. */
  const pending = new WeakMap<pg.PoolClient, string[]>();
  /** Statements `holdBack` accepted, waiting for the transaction's next one. */
  const waiting = new WeakMap<pg.PoolClient, string[]>();
  /** Connections in a transaction begun here: only there may a statement wait. */
  const inTransaction = new WeakSet<pg.PoolClient>();
  const committed = new WeakSet<pg.PoolClient>();
  pool.on('acquire', (client) => {
    if (deferring.has(client)) return;
    deferring.add(client);
    // The prototype's query at the time of each call: hooks set on it later (tests, counters) still see every message.
    const query = (...args: unknown[]) => (pg.Client.prototype.query as (...args: unknown[]) => Promise<QueryResults>).apply(client, args);
    const send = (config: unknown, values?: unknown, callback?: unknown): Promise<QueryResults> => {
      const passOn = callback !== undefined || typeof values === 'function' || typeof (config as { submit?: unknown } | null)?.submit === 'function';
      return passOn ? query(config, values, callback) : answerOf(query, config, values);
    };
    client.query = ((config: unknown, values?: unknown, callback?: unknown) => {
      const promised = callback === undefined && typeof values !== 'function';
      const bare = promised && typeof config === 'string' && !(values as unknown[] | undefined)?.length;
      if (committed.has(client)) {
        if (bare && (config === 'commit' || config === 'rollback')) {
          committed.delete(client);
          return Promise.resolve(answered(config === 'commit' ? 'COMMIT' : 'ROLLBACK'));
        }
        const refused = new Error('The transaction was committed with its last statement: nothing more runs in it');
        if (typeof callback === 'function' || typeof values === 'function') return ((callback ?? values) as (error: Error) => void)(refused);
        return Promise.reject(refused);
      }
      if (config === 'begin' && bare) {
        pending.set(client, ['begin']);
        inTransaction.add(client);
        return Promise.resolve(answered('BEGIN'));
      }
      const context = pending.get(client);
      // Setting the context answers nothing the caller reads: it goes with the begin.
      if (context?.length === 1 && bare && SESSION_CONTEXT.test(config as string)) {
        context.push(...(config as string).split('; '));
        return Promise.resolve(answered('SET'));
      }
      if (bare && inTransaction.has(client) && (holdBack(config as string) || writesHeld.getStore()) && isPlainWrite(config as string)) {
        entryOf(waiting, client, () => []).push(config as string);
        // Kysely reads a write's count as a number; the ORM reads none of these (`flushAndCommit` checks no versions).
        return Promise.resolve({ ...answered((config as string).split(' ', 1)[0]!.toUpperCase() as 'INSERT' | 'UPDATE' | 'DELETE'), rowCount: 0 });
      }
      // `rollback`, or `rollback to [savepoint] <name>`.
      const rollback = bare && /^rollback( to |$)/.test(config as string);
      const ends = bare && (config === 'commit' || config === 'rollback');
      const commits = bare && (config as string).endsWith(COMMIT_WITH_STATEMENT);
      if (ends || commits) inTransaction.delete(client);
      const held = [...(context ?? []), ...(rollback ? [] : (waiting.get(client) ?? []))];
      pending.delete(client);
      waiting.delete(client);
      if (!held.length && !commits) return send(config, values, callback);
      if (!bare) return send(held.join('; ')).then(() => send(config, values, callback));
      return send(held.length ? `${held.join('; ')}; ${config}` : config, values).then((results) => {
        if (commits) committed.add(client);
        const answers = (results as pg.QueryResult[]).slice(held.length, commits ? -1 : undefined);
        return answers.length === 1 ? answers[0] : answers;
      });
    }) as typeof client.query;
  });
  pool.on('release', (_error: unknown, client: pg.PoolClient) => {
    pending.delete(client);
    waiting.delete(client);
    inTransaction.delete(client);
    committed.delete(client);
  });
}
