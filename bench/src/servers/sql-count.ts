import pg from 'pg';

/**
 * Counts the SQL statements a server process sends to PostgreSQL, by hooking `pg.Client#query`:
 * every peer of scenario 2 talks to PostgreSQL through `pg` (Atrium through MikroORM's pool, the
 * others directly), so the same hook counts them all. pg_stat_statements would be the server-side
 * alternative but needs `shared_preload_libraries`, i.e. a restart of a shared server.
 *
 * Statements are sorted into three kinds: `transaction` (begin, commit, rollback, savepoints),
 * `session` (the row-level-security context: `select set_config(…)`, `set local role …`) and `data`
 * (everything else: the statements that read the answer).
 */
export interface SqlCounts {
  data: number;
  transaction: number;
  session: number;
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

const counts: SqlCounts = { data: 0, transaction: 0, session: 0 };
/** Set while the runner counts: the statements are kept too. */
let statements: string[] | undefined;

const TRANSACTION = /^\s*(begin|start transaction|commit|end|rollback|savepoint|release)\b/i;
const SESSION = /^\s*(select set_config\(|set (local )?role\b|reset role\b)/i;

export function kindOf(sql: string): keyof SqlCounts {
  if (TRANSACTION.test(sql)) return 'transaction';
  if (SESSION.test(sql)) return 'session';
  return 'data';
}

type Query = (this: pg.Client, config: unknown, ...rest: unknown[]) => unknown;
const query = pg.Client.prototype.query as unknown as Query;
(pg.Client.prototype as unknown as { query: Query }).query = function countedQuery(this: pg.Client, config: unknown, ...rest: unknown[]) {
  const text = typeof config === 'string' ? config : (config as { text?: string } | null)?.text;
  if (text) {
    counts[kindOf(text)] += 1;
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
    counts.data = 0;
    counts.transaction = 0;
    counts.session = 0;
    statements = message.action === 'end' ? undefined : [];
    process.send?.(answer);
  });
}
