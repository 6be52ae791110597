/**
 * A transaction's `begin` travels with its first statement: one round trip fewer per transaction.
 *
 * MikroORM (through Kysely) sends `begin` on its own and waits for it, then the transaction's first
 * statement — with row-level security, its session context (`select set_config(…)`). `begin` cannot
 * fail on a healthy connection and answers nothing, so it is held back and sent in the same
 * simple-query message as the next statement on that connection, `begin; <statement>`; PostgreSQL
 * runs them in order as if they had come one by one. A statement with bound parameters (the extended
 * protocol takes one statement per message) gets the `begin` in a message of its own first.
 */
import pg from 'pg';

type QueryResults = pg.QueryResult | pg.QueryResult[];
const BEGUN = { command: 'BEGIN', rowCount: null, rows: [], fields: [], oid: 0 } as unknown as pg.QueryResult;

/** Holds back each `begin` on the pool's connections until their next statement. */
export function sendBeginWithFirstStatement(pool: pg.Pool): void {
  const deferring = new WeakSet<pg.PoolClient>();
  const pending = new WeakSet<pg.PoolClient>();
  pool.on('acquire', (client) => {
    if (deferring.has(client)) return;
    deferring.add(client);
    // The prototype's query at the time of each call: hooks set on it later (tests, counters) still see every message.
    const send = (...args: unknown[]) => (pg.Client.prototype.query as (...args: unknown[]) => Promise<QueryResults>).apply(client, args);
    client.query = ((config: unknown, values?: unknown, callback?: unknown) => {
      const promised = callback === undefined && typeof values !== 'function';
      if (config === 'begin' && promised && !(values as unknown[] | undefined)?.length) {
        pending.add(client);
        return Promise.resolve(BEGUN);
      }
      if (!pending.has(client)) return send(config, values, callback);
      pending.delete(client);
      if (typeof config === 'string' && promised && !(values as unknown[] | undefined)?.length) {
        return send(`begin; ${config}`, values).then((results) => {
          const [, ...answers] = results as pg.QueryResult[];
          return answers.length === 1 ? answers[0] : answers;
        });
      }
      return send('begin').then(() => send(config, values, callback));
    }) as typeof client.query;
  });
  pool.on('release', (_error: unknown, client: pg.PoolClient) => {
    pending.delete(client);
  });
}
