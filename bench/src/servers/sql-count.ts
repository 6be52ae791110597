import pg from 'pg';
import { median } from '../proc.ts';

/**
 * Counts the SQL statements a server process sends to PostgreSQL, by hooking `pg.Client#query`:
 * every peer of scenario 2 talks to PostgreSQL through `pg` (Atrium through MikroORM's pool, the
 * others directly), so the same hook counts them all. pg_stat_statements would be the server-side
 * alternative but needs `shared_preload_libraries`, i.e. a restart of a shared server.
 *
 * Statements are sorted into three kinds: `transaction` (begin, commit, rollback, savepoints),
 * `session` (the row-level-security context: `set local …`) and `data`
 * (everything else: the statements that read the answer).
 */
export interface SqlCounts {
  data: number;
  transaction: number;
  session: number;
  /** Messages sent (round trips): one may hold several statements. */
  roundTrips: number;
}

/** A request of the runner (see `serveSqlCounts`); every one is answered with a `SqlCountsMessage`. */
export interface SqlCountRequest {
  type: 'sql';
  action: 'begin' | 'read' | 'end';
}

export interface SqlCountsMessage extends SqlCounts {
  type: 'sql';
  /** The statements themselves (between `begin` and `end` only), for the record. */
  statements: string[];
}

const counts: SqlCounts = { data: 0, transaction: 0, session: 0, roundTrips: 0 };
/** Set while the runner counts: the statements are kept too. */
let statements: string[] | undefined;

const TRANSACTION = /^\s*(begin|start transaction|commit|end|rollback|savepoint|release)\b/i;
const SESSION = /^\s*(set role\b|set local\b|reset role\b)/i;

export function kindOf(sql: string): Exclude<keyof SqlCounts, 'roundTrips'> {
  if (TRANSACTION.test(sql)) return 'transaction';
  if (SESSION.test(sql)) return 'session';
  return 'data';
}

/**
 * The statements of one message: Atrium sends a statement run outside a transaction behind its
 * row-level-security context, `set local role …; set local "app"."company_id" = …; <statement>`, and
 * a transaction's first statement behind its `begin` and context, `begin; set local …; set local …;
 * <statement>` (one round trip, four statements). Neither `begin` nor the context holds a semicolon,
 * so splitting at each one ahead of the statement is exact.
 */
function statementsOf(text: string): string[] {
  const statements: string[] = [];
  let rest = text;
  for (let split = rest.indexOf(';'); (TRANSACTION.test(rest) || SESSION.test(rest)) && split !== -1; split = rest.indexOf(';')) {
    statements.push(rest.slice(0, split));
    rest = rest.slice(split + 1);
  }
  return [...statements, rest];
}

type Query = (this: pg.Client, config: unknown, ...rest: unknown[]) => unknown;
const query = pg.Client.prototype.query as unknown as Query;
(pg.Client.prototype as unknown as { query: Query }).query = function countedQuery(this: pg.Client, config: unknown, ...rest: unknown[]) {
  const text = typeof config === 'string' ? config : (config as { text?: string } | null)?.text;
  if (text) {
    counts.roundTrips += 1;
    for (const statement of statementsOf(text)) counts[kindOf(statement)] += 1;
    statements?.push(text.replace(/\s+/g, ' ').trim());
  }
  return query.call(this, config, ...rest);
};

/**
 * Answers the runner's counting requests over IPC. `begin` zeroes the counts and pauses the server's
 * own background work (`pause`: Atrium's event dispatcher and job runner poll the database), `read`
 * answers the counts (and the statements) since then and zeroes them, `end` resumes the background work.
 */
export function serveSqlCounts(background?: { pause(): Promise<void>; resume(): Promise<void> }): void {
  process.on('message', async (message: SqlCountRequest) => {
    if (message?.type !== 'sql') return;
    if (message.action === 'begin') await background?.pause();
    if (message.action === 'end') await background?.resume();
    const answer: SqlCountsMessage = { type: 'sql', ...counts, statements: statements ?? [] };
    Object.assign(counts, { data: 0, transaction: 0, session: 0, roundTrips: 0 });
    statements = message.action === 'end' ? undefined : [];
    process.send?.(answer);
  });
}

/** The median of each count over several requests. */
export function medianCounts(counted: readonly SqlCounts[]): SqlCounts {
  const of = (kind: keyof SqlCounts) => median(counted.map((c) => c[kind]));
  return { data: of('data'), transaction: of('transaction'), session: of('session'), roundTrips: of('roundTrips') };
}
