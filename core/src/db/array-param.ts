/**
 * A PostgreSQL array literal of the values, to bind as one parameter and cast in the SQL
 * (`= any(?::uuid[])`, `unnest(?::int[])`): MikroORM spreads a JavaScript array into a list of
 * parameters instead. Every element is quoted, so text with commas, braces or quotes stays whole.
 */
export const arrayParam = (values: readonly (string | number)[]): string =>
  `{${values.map((value) => `"${String(value).replace(/["\\]/g, '\\$&')}"`).join(',')}}`;
