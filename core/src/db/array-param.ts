/**
 * A PostgreSQL array literal of the values, to bind as one parameter and cast in the SQL
 * (`= any(?::uuid[])`, `unnest(?::int[])`): MikroORM spreads a JavaScript array into a list of
 * parameters instead. Every element is quoted, so text with commas, braces or quotes stays whole.
 */
export const arrayParam = (values: readonly (string | number)[]): string =>
  `{${values.map((value) => `"${String(value).replace(/["\\]/g, '\\$&')}"`).join(',')}}`;

/**
 * Reads PostgreSQL's text form of a text array as `pg` does, faster when no element is quoted
 * (`{vip,lead,NULL}`, what labels and tags mostly are): PostgreSQL quotes every element that is
 * empty, is `NULL` as text, or holds a comma, brace, quote, backslash or space, so the unquoted
 * elements split at commas and `NULL` is the null element. Anything else — a quoted element, a
 * nested array, bounds (`[0:1]={…}`) — goes to `generic`, `pg`'s own parser, which builds every
 * element a character at a time (a list page's largest source of garbage was its labels).
 */
export function textArrayReader(generic: (text: string) => unknown): (text: string) => unknown {
  return (text) => {
    if (text.charCodeAt(0) !== 0x7b || text.includes('"') || text.indexOf('{', 1) !== -1) return generic(text);
    if (text.length === 2) return [];
    const elements: (string | null)[] = text.slice(1, -1).split(',');
    for (let i = 0; i < elements.length; i++) if (elements[i] === 'NULL') elements[i] = null;
    return elements;
  };
}
