/**
 * Row-level security costs a round trip per statement, not four.
 *
 * MikroORM applies a tenant's session context (`set_config(…, true)`: the company, the role) when a
 * transaction begins, so a statement run outside a transaction is wrapped in one of its own:
 * `begin`, `select set_config(…)`, the statement, `commit` — four round trips, most of the cost of a
 * read of a list (and of every loader after it). PostgreSQL runs the statements of one simple-query
 * message as one implicit transaction, and MikroORM sends its statements with their parameters
 * inlined (the simple-query protocol): so the context and the statement travel together,
 * `set local role …; set local "app"."company_id" = …; <statement>`, the context local to that
 * message alone.
 *
 * Only the wraps of single statements change: transactions a caller opens (`em.transactional`,
 * flushes) are left as they are but for their context, written as the same `set local` statements.
 * A statement outside a transaction is its own transaction here, as it would be without row-level
 * security.
 */
import type { Dictionary, LoggingOptions, Transaction } from '@mikro-orm/core';
import type { PostgreSqlConnection } from '@mikro-orm/postgresql';
import type pg from 'pg';

interface SessionContext {
  variables?: Dictionary<unknown>;
  role?: string;
}

interface TransactionalOptions {
  sessionContext?: SessionContext;
  ctx?: unknown;
  eventBroadcaster?: unknown;
  isolationLevel?: unknown;
  readOnly?: boolean;
}

type ApplySessionContext = (trx: Transaction, context: SessionContext, loggerContext?: LoggingOptions) => Promise<void>;

interface CompiledQuery {
  sql: string;
  parameters: readonly unknown[];
}

const AFFECTING = new Set(['INSERT', 'UPDATE', 'DELETE', 'MERGE']);

/**
 * The statements that set the context, as one SQL text (values quoted as MikroORM quotes parameters):
 * `set local` each (what `set_config(…, true)` does), utility statements that PostgreSQL neither
 * plans nor answers with a row — cheaper on both sides than one `select set_config(…), …`.
 */
function contextSql(connection: PostgreSqlConnection, context: SessionContext): string {
  const platform = connection.getPlatform();
  const value = (raw: unknown) => platform.quoteValue(raw instanceof Date ? raw.toISOString() : String(raw));
  const parts = Object.entries(context.variables ?? {}).map(([key, raw]) =>
    key === 'role' ? `set local role ${platform.quoteIdentifier(String(raw))}` : `set local ${platform.quoteIdentifier(key)} = ${value(raw)}`,
  );
  if (context.role) parts.push(`set local role ${platform.quoteIdentifier(context.role)}`);
  return parts.join('; ');
}

/**
 * What MikroORM's implicit wrap hands the statement: a stand-in for a Kysely transaction that runs
 * each statement it is given in one message behind the context.
 */
function statementsUnder(connection: PostgreSqlConnection, context: SessionContext): Transaction {
  const prefix = contextSql(connection, context);
  return {
    async executeQuery(query: CompiledQuery) {
      // Parameters would make it an extended-protocol query, which takes one statement only.
      if (query.parameters.length) throw new Error('A statement under a session context must have its parameters inlined');
      const pool = (await connection.getNativeClient()) as pg.Pool;
      const results = (await pool.query(`${prefix}; ${query.sql}`)) as unknown as pg.QueryResult[];
      const result = results.at(-1)!;
      return { rows: result.rows ?? [], numAffectedRows: AFFECTING.has(result.command) ? BigInt(result.rowCount ?? 0) : undefined };
    },
  } as unknown as Transaction;
}

/**
 * Makes the connection send a session context with the statement it wraps (see the top of this
 * file). Only MikroORM's wraps of single statements are taken: their options carry nothing but the
 * session context (a caller's transaction carries its event broadcaster, isolation level, parent).
 */
export function sendSessionContextWithStatements(connection: PostgreSqlConnection): void {
  // A transaction's context in the same form (MikroORM's own, a private method, sends `select
  // set_config(…)`): held back with its `begin` and sent with its first statement (deferred-begin.ts).
  (connection as unknown as { applySessionContext: ApplySessionContext }).applySessionContext = async (trx, context, loggerContext) => {
    await connection.execute(contextSql(connection, context), [], 'run', trx, loggerContext);
  };
  const transactional = connection.transactional.bind(connection);
  connection.transactional = (<T>(callback: (trx: Transaction) => Promise<T>, options: TransactionalOptions = {}) => {
    const { sessionContext, ctx, eventBroadcaster, isolationLevel, readOnly } = options;
    if (!sessionContext || ctx || eventBroadcaster || isolationLevel || readOnly) return transactional(callback, options as never);
    return callback(statementsUnder(connection, sessionContext));
  }) as typeof connection.transactional;
}
