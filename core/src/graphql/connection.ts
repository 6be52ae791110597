import { Cursor, type EntityName, type FilterQuery, type QueryOrderMap } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/sql';
import { accessibleSql, type AppAbility } from '../access/ability.ts';
import { rowSource, tenantScope } from '../db/rows.ts';
import { allOf, type SqlCondition } from '../db/sql-condition.ts';
import { AtriumError, BadUserInputError } from './errors.ts';

/** The largest page a connection serves. */
export const MAX_PAGE_SIZE = 100;
export const DEFAULT_PAGE_SIZE = 20;

/** Relay connection arguments. */
export interface ConnectionArgs {
  first?: number | null;
  after?: string | null;
}

/** A Relay connection as the GraphQL conventions define it. */
export interface Connection<T> {
  edges: { cursor: string; node: T }[];
  pageInfo: { hasNextPage: boolean; endCursor: string | null };
  totalCount: number;
}

/** SDL of the shared `PageInfo` type; modules declare `<Noun>Connection` and `<Noun>Edge` types. */
export const connectionTypeDefs = /* GraphQL */ `
  type PageInfo {
    hasNextPage: Boolean!
    endCursor: String
  }
`;

const notACursor = () => new BadUserInputError({ after: 'is not a cursor of this list' });

/** Checks `first` (1..100, default 20) and the opaque `after` cursor; throws BAD_USER_INPUT. */
export function pageArgs(args: ConnectionArgs): { first: number; after: string | undefined } {
  const first = args.first ?? DEFAULT_PAGE_SIZE;
  if (!Number.isInteger(first) || first < 1 || first > MAX_PAGE_SIZE) {
    throw new BadUserInputError({ first: `must be between 1 and ${MAX_PAGE_SIZE}` });
  }
  const after = args.after ?? undefined;
  if (after !== undefined) {
    try {
      if (!Array.isArray(Cursor.decode(after))) throw new Error('not a cursor');
    } catch {
      throw notACursor();
    }
  }
  return { first, after };
}

/**
 * Serves one page of a keyset-paginated list: `where` is applied in SQL (counts included), the
 * order must end with a unique field (e.g. `{ createdAt: 'desc', id: 'desc' }`) so cursors are stable.
 */
export async function paginate<T extends object>(
  em: EntityManager,
  entity: EntityName<T>,
  args: ConnectionArgs & { where?: FilterQuery<T>; orderBy: QueryOrderMap<T>; populate?: string[] },
): Promise<Connection<T>> {
  const { first, after } = pageArgs(args);
  const page = await em
    .findByCursor(entity, {
      where: (args.where ?? {}) as never,
      first,
      after,
      orderBy: args.orderBy as never,
      includeCount: true,
      ...(args.populate ? { populate: args.populate as never } : {}),
    })
    .catch((error: unknown) => {
      // A well-formed cursor of another list (other order fields) fails only here.
      if (after !== undefined && error instanceof Error && /cursor/i.test(error.message)) {
        throw notACursor();
      }
      throw error;
    });
  return {
    edges: page.items.map((node) => ({ cursor: page.from(node as T), node: node as T })),
    pageInfo: { hasNextPage: page.hasNextPage, endCursor: page.endCursor },
    totalCount: page.totalCount,
  };
}

/** The rows of `entity` that `action` is allowed on, as a condition for `paginateRows`; `null` when none. */
export function accessibleRows<T extends object>(em: EntityManager, ability: AppAbility, action: string, entity: EntityName<T>): SqlCondition | null {
  const source = rowSource(em, entity);
  return accessibleSql(ability, action, source.meta.className, source.columnOf);
}

/**
 * `paginate` for hot lists: one statement for the page and its total, written as SQL over the
 * entity's table, the rows answered as plain data (properties as the entity has them, no
 * identity map, no change tracking) — a list read costs a fraction of the ORM's hydration. `where`
 * is SQL (`accessibleRows` for what the caller may see); `orderBy` ends with a unique field, all in
 * one direction, over columns that are never null. Cursors are those of `paginate`.
 */
export async function paginateRows<T extends object>(
  em: EntityManager,
  entity: EntityName<T>,
  args: ConnectionArgs & { where: readonly SqlCondition[]; orderBy: Partial<Record<keyof T & string, 'asc' | 'desc'>> },
): Promise<Connection<T>> {
  const { first, after } = pageArgs(args);
  const source = rowSource(em, entity);
  const order = Object.entries(args.orderBy) as [string, 'asc' | 'desc'][];
  const direction = order[0]![1];
  if (order.some(([, other]) => other !== direction)) throw new AtriumError('INTERNAL', 'paginateRows orders in one direction');
  const keys = order.map(([field]) => source.columnOf(field));
  const filter = allOf([...tenantScope(em, source), ...args.where]);
  const conditions = [filter];
  if (after !== undefined) {
    const values = Cursor.decode(after) as unknown[];
    if (values.length !== keys.length || values.some((value) => value === null || typeof value === 'object')) throw notACursor();
    conditions.push({ sql: `(${keys.join(', ')}) ${direction === 'asc' ? '>' : '<'} (${keys.map(() => '?').join(', ')})`, params: values });
  }
  const page = allOf(conditions);
  const platform = em.getPlatform();
  // One round trip: the total always comes back, with the page's rows or one row of nulls beside it.
  const rows = await em
    .execute<Record<string, unknown>[]>(
      `with total as (select count(*)::int as n from ${source.table} where ${filter.sql})
       select page.*, total.n as "__total" from total left join lateral (
         select ${source.properties}, ${platform.quoteValue(source.meta.className)} as "__typename" from ${source.table} where ${page.sql} order by ${keys.map((key) => `${key} ${direction}`).join(', ')} limit ?
       ) page on true
       order by ${order.map(([field]) => `page.${platform.quoteIdentifier(field)} ${direction}`).join(', ')}`,
      [...filter.params, ...page.params, first + 1],
    )
    .catch((error: unknown) => {
      // A cursor of another list: its values do not fit this list's columns.
      if (after !== undefined && /^22/.test(String((error as { code?: unknown }).code))) throw notACursor();
      throw error;
    });
  const totalCount = rows[0]!.__total as number;
  const nodes = rows[0]![source.meta.primaryKeys[0]!] === null ? [] : rows.slice(0, first);
  // Rows come as they are (each also carries the list's `__total`); only the embedded database's timestamps need parsing.
  for (const node of nodes) for (const field of source.dates) if (typeof node[field] === 'string') node[field] = platform.parseDate(node[field]);
  const cursorOf = (node: Record<string, unknown>) => Cursor.encode(order.map(([field]) => node[field]));
  return {
    edges: nodes.map((node) => ({ cursor: cursorOf(node), node: node as T })),
    pageInfo: { hasNextPage: rows.length > first, endCursor: nodes.length ? cursorOf(nodes.at(-1)!) : null },
    totalCount,
  };
}
