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

/** The tables whose rows belong to a company: those with a company_id. */
export async function companyTables(test: TestApp): Promise<string[]> {
  const tables = await test.sql<{ table_name: string }>(
    `select table_name from information_schema.columns where column_name = 'company_id' and table_schema = current_schema() order by table_name`,
  );
  return tables.map(({ table_name }) => table_name);
}

/** Every row of company A, in every table with a company_id (and A's company row). */
async function snapshot(test: TestApp, companyId: string): Promise<Record<string, unknown[]>> {
  const rows: Record<string, unknown[]> = { company: await test.sql('select * from company where id = $1', [companyId]) };
  for (const table of await companyTables(test)) rows[table] = await test.sql(`select * from "${table}" where company_id = $1 order by 1`, [companyId]);
  return JSON.parse(JSON.stringify(rows));
}

/**
 * Company B must see and change nothing of company A's: run as B's OWNER, every operation with A's
 * ids answers exactly as with ids that do not exist (null, NOT_FOUND, an empty list — never FORBIDDEN
 * or a different count), mentions none of A's ids, and A's rows stay as they were. An operation
 * that also takes B's own records (`own`) runs twice on them, so it must fail both times: one that
 * succeeded with A's id would answer differently from the run with a missing one.
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
