/**
 * A piece of a `where` clause with its parameters, for statements written as SQL: `?` placeholders,
 * bound as MikroORM binds them (`em.execute`: inlined and quoted; an array spreads into a list).
 */
export interface SqlCondition {
  sql: string;
  params: unknown[];
}

export const sqlCondition = (sql: string, ...params: unknown[]): SqlCondition => ({ sql, params });

/** `column in (…)` over the values, one parameter each; `false` for none. */
export const sqlIn = (column: string, values: readonly unknown[]): SqlCondition =>
  values.length ? sqlCondition(`${column} in (${values.map(() => '?').join(', ')})`, ...values) : sqlCondition('false');

/** The conditions joined with `and` (`true` when there are none). */
export function allOf(conditions: readonly SqlCondition[]): SqlCondition {
  if (!conditions.length) return sqlCondition('true');
  return { sql: conditions.map((condition) => `(${condition.sql})`).join(' and '), params: conditions.flatMap((condition) => condition.params) };
}
