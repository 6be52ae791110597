import type { TestApp } from './index.ts';
import { uuidsIn, withFreshIds, type TestCompany } from './factories.ts';

/** One GraphQL operation the check runs as another company. */
export interface IsolationOperation<Seed, Own = undefined> {
  /** Shown in assertion messages. */
  name: string;
  query: string;
  /** Variables, usually built from the ids `seed` returned (A's) and, where it takes one, `own`'s (B's). */
  variables?: (seed: Seed, own: Own) => Record<string, unknown>;
}

export interface IsolationSpec<Seed, Own = undefined> {
  /** Creates records in company A (with A's owner token) and returns what the operations need: their ids. */
  seed(company: TestCompany, test: TestApp): Promise<Seed>;
  /**
   * Creates records in company B, the caller's own, for operations that take one of B's records
   * with an id of A's inside (B's contact given A's branch as its branch, say): the id of A's must
   * behave there as one that does not exist too. B's ids are left as they are in both runs.
   */
  own?(company: TestCompany, test: TestApp): Promise<Own>;
  /** Every query and mutation of the module that takes or returns company data. */
  operations: IsolationOperation<Seed, Own>[];
}

/** The part of tap's `t` the check uses. */
export interface Assertions {
  ok(value: any, message: string): unknown;
  same(found: any, wanted: any, message: string): unknown;
}

const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi;
const TIMESTAMP = /\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z/g;
const normalize = (value: unknown): unknown => JSON.parse(JSON.stringify(value).replace(UUID, '<id>').replace(TIMESTAMP, '<time>'));

/**
 * Per table whose rows belong to a company, the condition that picks company `$1`'s: its company_id,
 * or, for a table without one (a join table: a user's roles), a reference to a row that has one.
 */
async function companyRows(test: TestApp): Promise<Record<string, string>> {
  const owned = await test.sql<{ table_name: string }>(
    `select table_name from information_schema.columns where column_name = 'company_id' and table_schema = current_schema() order by table_name`,
  );
  const where: Record<string, string> = { company: 'id = $1' };
  for (const { table_name } of owned) where[table_name] = 'company_id = $1';
  const references = await test.sql<{ child: string; column_name: string; parent: string; parent_column: string }>(
    `select child.relname as child, a.attname as column_name, parent.relname as parent, pa.attname as parent_column
       from pg_constraint c
       join pg_class child on child.oid = c.conrelid
       join pg_class parent on parent.oid = c.confrelid
       join pg_attribute a on a.attrelid = c.conrelid and a.attnum = c.conkey[1]
       join pg_attribute pa on pa.attrelid = c.confrelid and pa.attnum = c.confkey[1]
      where c.contype = 'f' and cardinality(c.conkey) = 1 and child.relnamespace = current_schema()::regnamespace
      order by 1, 2`,
  );
  const joined = new Map<string, string[]>();
  for (const { child, column_name, parent, parent_column } of references) {
    if (child in where || !(parent in where)) continue;
    joined.set(child, [...(joined.get(child) ?? []), `"${column_name}" in (select "${parent_column}" from "${parent}" where ${where[parent]})`]);
  }
  for (const [child, conditions] of joined) where[child] = conditions.join(' or ');
  return where;
}

/** Every row of company A, in every table that holds some (and A's company row). */
async function snapshot(test: TestApp, companyId: string): Promise<Record<string, unknown[]>> {
  const rows: Record<string, unknown[]> = {};
  for (const [table, where] of Object.entries(await companyRows(test))) rows[table] = await test.sql(`select * from "${table}" r where ${where} order by r::text`, [companyId]);
  return JSON.parse(JSON.stringify(rows));
}

/**
 * Company B must see and change nothing of company A's: run as B's OWNER, every operation with A's
 * ids answers exactly as with ids that do not exist (null, NOT_FOUND, an empty list — never FORBIDDEN
 * or a different count), mentions none of A's ids, and A's rows stay as they were (join tables' rows
 * that reference A's among them). An operation that also takes B's own records (`own`) runs twice on
 * them, so it must fail both times: one that succeeded with A's id would answer differently from the
 * run with a missing one.
 */
export async function assertTenantIsolation<Seed, Own = undefined>(t: Assertions, test: TestApp, spec: IsolationSpec<Seed, Own>): Promise<void> {
  const a = await test.createCompany({ name: 'Isolation A' });
  const b = await test.createCompany({ name: 'Isolation B' });
  const seed = await spec.seed(a, test);
  const own = (await spec.own?.(b, test)) as Own;
  const foreignIds = uuidsIn(seed);
  foreignIds.add(a.id);
  t.ok(foreignIds.size > 1, 'the seed returns the ids of A’s records');
  // The seed's events are delivered first: the dispatcher marking them would read as a change.
  await test.app.dispatcher.idle();
  const before = await snapshot(test, a.id);

  for (const operation of spec.operations) {
    const variables = operation.variables?.(seed, own) ?? {};
    const asForeign = await test.gql(operation.query, variables, { token: b.owner.token });
    const asMissing = await test.gql(operation.query, withFreshIds(variables, foreignIds), { token: b.owner.token });
    t.same(normalize(asForeign), normalize(asMissing), `${operation.name}: A's ids behave like ids that do not exist`);
    const leaked = [...uuidsIn(asForeign)].filter((id) => foreignIds.has(id));
    t.same(leaked, [], `${operation.name}: no id of A's reaches B`);
  }
  await test.app.dispatcher.idle();
  t.same(await snapshot(test, a.id), before, "A's rows are unchanged");
}
