import { Cursor, type EntityMetadata, type EntityName, type EntityProperty, type FilterQuery, type QueryOrderMap } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/sql';
import { Kind, type GraphQLResolveInfo, type SelectionSetNode } from 'graphql';
import { accessibleSql, conditionFields, type AppAbility } from '../access/ability.ts';
import { executePrepared } from '../db/prepared.ts';
import { joinedColumn, mergeRow, rowSource, tenantScope, type RowSource } from '../db/rows.ts';
import { allOf, sqlCondition, type SqlCondition } from '../db/sql-condition.ts';
import { AtriumError, BadUserInputError } from './errors.ts';
import { entryOf } from '../shared/entry.ts';

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

/**
 * A cursor of another list (other order fields), or one forged with values of other types, fails
 * only in the query: MikroORM's words about the cursor, or PostgreSQL's class 22 (data exception:
 * a value that does not fit the column).
 */
const refusedCursor = (after: string | undefined, error: unknown): boolean =>
  after !== undefined && error instanceof Error && (/cursor/i.test(error.message) || /^22/.test(String((error as { code?: unknown }).code)));

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

/** Whether a value of a cursor has the type its order field holds: MikroORM converts it (a date, say) before PostgreSQL could refuse it. */
function fitsProperty(prop: EntityProperty | undefined, value: unknown): boolean {
  if (value === null || !prop) return true;
  switch (prop.runtimeType) {
    case 'Date':
      return typeof value === 'string' && !Number.isNaN(Date.parse(value));
    case 'number':
    case 'boolean':
    case 'string':
      return typeof value === prop.runtimeType;
    default:
      return typeof value !== 'object';
  }
}

/** A cursor's values, if it holds one of the right type per field of the list's order (by property name). */
function cursorValues(meta: EntityMetadata, fields: readonly string[], after: string): unknown[] | null {
  const values = Cursor.decode(after) as unknown[];
  const properties = meta.properties as Record<string, EntityProperty>;
  return values.length === fields.length && fields.every((field, i) => fitsProperty(properties[field], values[i])) ? values : null;
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
  if (after !== undefined) {
    const meta = em.getMetadata().find(entity)!;
    const fields = Cursor.getDefinition(meta, args.orderBy as never).map(([key]) => key as string);
    if (!cursorValues(meta, fields, after)) throw notACursor();
  }
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
      throw refusedCursor(after, error) ? notACursor() : error;
    });
  return {
    edges: page.items.map((node) => ({ cursor: page.from(node as T), node: node as T })),
    pageInfo: { hasNextPage: page.hasNextPage, endCursor: page.endCursor },
    totalCount: page.totalCount,
  };
}

/** Each ability's conditions as SQL, by action and entity (shared: callers join them, never change them); an ability is never changed and lives as long as its cached viewer. */
const accessibleRowsOf = new WeakMap<AppAbility, Map<string, SqlCondition | null>>();

/** The rows of `entity` that `action` is allowed on, as a condition for `paginateRows`; `null` when none. */
export function accessibleRows<T extends object>(em: EntityManager, ability: AppAbility, action: string, entity: EntityName<T>): SqlCondition | null {
  const source = rowSource(em, entity);
  return entryOf(entryOf(accessibleRowsOf, ability, () => new Map()), `${action} ${source.meta.className}`, () => accessibleSql(ability, action, source.meta.className, source.columnOf));
}

/**
 * The fields a connection query asks of its nodes (`edges { node { … } }`, through fragments; by
 * name, not alias), for `paginateRows`' `select`.
 */
export function nodeFields(info: Pick<GraphQLResolveInfo, 'fieldNodes' | 'fragments'>): string[] {
  const names = new Set<string>();
  const walk = (selectionSet: SelectionSetNode | undefined, path: readonly string[]): void => {
    for (const selection of selectionSet?.selections ?? []) {
      if (selection.kind === Kind.FIELD) {
        if (!path.length) names.add(selection.name.value);
        else if (selection.name.value === path[0]) walk(selection.selectionSet, path.slice(1));
      } else {
        walk((selection.kind === Kind.INLINE_FRAGMENT ? selection : info.fragments[selection.name.value])?.selectionSet, path);
      }
    }
  };
  for (const field of info.fieldNodes) walk(field.selectionSet, ['edges', 'node']);
  return [...names];
}

/** What `paginateRows` reads of each row: the GraphQL fields asked, and the ability that judges the rows. */
export interface RowSelection {
  fields: readonly string[];
  ability: AppAbility;
  /**
   * Fields answered by a `referenceLoader` without a narrowing scope, with their entity (`{ owner:
   * User }`, through `ownerId`): when asked, the page's referenced rows come in the same statement,
   * each once, as entities, and the loader finds them loaded — one round trip for the page.
   */
  references?: Readonly<Record<string, EntityName<any>>>;
}

/** A reference read with the page: its rows, each once, as one JSON array of arrays in the first row's column `<field>.`. */
interface JoinedReference {
  field: string;
  entity: EntityName<any>;
  source: RowSource;
  /** The page's column holding the referenced id. */
  key: string;
}

function joinedReferences(em: EntityManager, source: RowSource, selection: RowSelection | undefined): JoinedReference[] {
  return Object.entries(selection?.references ?? {})
    .filter(([field]) => selection!.fields.includes(field) && Object.hasOwn(source.meta.properties, `${field}Id`))
    .map(([field, entity]) => ({ field, entity, source: rowSource(em, entity), key: em.getPlatform().quoteIdentifier(`${field}Id`) }));
}

/**
 * The properties a page's rows need: each field asked that is a property (or `<field>Id`, what a
 * reference's loader reads), the key, the order's fields and what the ability's conditions read
 * (field resolvers judge rows by them). A field that is neither may read anything: every property.
 */
function neededProperties(source: RowSource, orderFields: readonly string[], selection: RowSelection | undefined): Set<string> | undefined {
  if (!selection) return undefined;
  const { properties, primaryKeys, className } = source.meta;
  const needed = new Set<string>([...primaryKeys, ...orderFields, ...conditionFields(selection.ability, className)]);
  for (const field of selection.fields) {
    if (field === '__typename') continue;
    if (Object.hasOwn(properties, field)) needed.add(field);
    else if (Object.hasOwn(properties, `${field}Id`)) needed.add(`${field}Id`);
    else return undefined;
  }
  return needed;
}

/** An edge of a `paginateRows` page: its cursor is encoded only when asked for. */
class RowEdge<T> {
  readonly node: T;
  readonly #orderFields: readonly string[];

  constructor(node: T, orderFields: readonly string[]) {
    this.node = node;
    this.#orderFields = orderFields;
  }

  get cursor(): string {
    return Cursor.encode(this.#orderFields.map((field) => (this.node as Record<string, unknown>)[field]));
  }
}

/**
 * `paginate` for hot lists: one statement for the page and its total, written as SQL over the
 * entity's table, the rows answered as plain data (properties as the entity has them, no
 * identity map, no change tracking) — a list read costs a fraction of the ORM's hydration. `where`
 * is SQL (`accessibleRows` for what the caller may see); `orderBy` ends with a unique field, all in
 * one direction, over columns that are never null. With `select` (`nodeFields(info)` and the
 * caller's ability) only the columns the asked fields need are read. Cursors are those of `paginate`.
 */
export async function paginateRows<T extends object>(
  em: EntityManager,
  entity: EntityName<T>,
  args: ConnectionArgs & { where: readonly SqlCondition[]; orderBy: Partial<Record<keyof T & string, 'asc' | 'desc'>>; select?: RowSelection },
): Promise<Connection<T>> {
  const { first, after } = pageArgs(args);
  const source = rowSource(em, entity);
  const order = Object.entries(args.orderBy) as [string, 'asc' | 'desc'][];
  const direction = order[0]![1];
  if (order.some(([, other]) => other !== direction)) throw new AtriumError('INTERNAL', 'paginateRows orders in one direction');
  const orderFields = order.map(([field]) => field);
  const keys = orderFields.map((field) => source.columnOf(field));
  const filter = allOf([...tenantScope(em, source), ...args.where]);
  const conditions = [filter];
  if (after !== undefined) {
    const values = cursorValues(source.meta, orderFields, after);
    if (!values || values.includes(null)) throw notACursor();
    conditions.push({ sql: `(${keys.join(', ')}) ${direction === 'asc' ? '>' : '<'} (${keys.map(() => '?').join(', ')})`, params: values });
  }
  const page = allOf(conditions);
  const platform = em.getPlatform();
  const needed = neededProperties(source, orderFields, args.select);
  const joins = joinedReferences(em, source, args.select);
  // The first page counts its rows with a window over the same scan; a later one counts apart (its
  // rows are past the cursor), and answers the total with one row of nulls when it is empty.
  const counted = after === undefined;
  const rowsOfPage = `select ${source.propertiesOf(needed)}, ${platform.quoteValue(source.meta.className)} as "__typename"${counted ? ', count(*) over ()::int as "__total"' : ''}
       from ${source.table} where ${page.sql} order by ${keys.map((key) => `${key} ${direction}`).join(', ')} limit ?`;
  const pageOrder = orderFields.map((field) => `page.${platform.quoteIdentifier(field)} ${direction}`).join(', ');
  const references = joins.map((join, i) => {
    const alias = `r${i}`;
    // `= any(array(…))` finds them by primary key; `in (select …)` scanned the company's rows.
    const scope = allOf([sqlCondition(`${alias}.${join.source.columnOf('id')} = any(array(select distinct page.${join.key} from page))`), ...tenantScope(em, join.source, alias)]);
    const columns = join.source.columnNames.map((column) => `${alias}.${platform.quoteIdentifier(column)}`).join(', ');
    return {
      sql: `case when row_number() over (order by ${pageOrder}) = 1 then (select json_agg(json_build_array(${columns})) from ${join.source.table} ${alias} where ${scope.sql}) end as "${joinedColumn(join.field)}"`,
      params: scope.params,
    };
  });
  const rows = await executePrepared(
    em,
    // A first page without references is its select alone; the page is a common table otherwise.
    counted && !references.length
      ? rowsOfPage
      : `with page as materialized (${rowsOfPage})${counted ? '' : `, total as (select count(*)::int as n from ${source.table} where ${filter.sql})`}
     select page.*${counted ? '' : ', total.n as "__total"'}${references.map((reference) => `, ${reference.sql}`).join('')}
     from ${counted ? 'page' : 'total left join page on true'} order by ${pageOrder}`,
    [...page.params, first + 1, ...(counted ? [] : filter.params), ...references.flatMap((reference) => reference.params)],
  ).catch((error: unknown) => {
    throw refusedCursor(after, error) ? notACursor() : error;
  });
  const totalCount = (rows[0]?.__total as number | undefined) ?? 0;
  const nodes = !rows.length || rows[0]![source.meta.primaryKeys[0]!] === null ? [] : rows.slice(0, first);
  // Rows come as they are (each also carries the list's `__total`, and its references' column); only timestamps given as text need parsing.
  const textDates = nodes.length ? source.dates.filter((field) => typeof nodes[0]![field] === 'string') : [];
  for (const field of textDates) for (const node of nodes) if (typeof node[field] === 'string') node[field] = platform.parseDate(node[field]);
  for (const join of joins) {
    const column = joinedColumn(join.field);
    const byId = new Map<unknown, object>();
    for (const values of (rows[0]?.[column] as unknown[][] | null) ?? []) {
      const reference: Record<string, unknown> = {};
      join.source.columnNames.forEach((name, i) => {
        reference[name] = values[i];
      });
      const entity = mergeRow(em, join.entity, join.source, reference) as { id: unknown };
      byId.set(entity.id, entity);
    }
    // Each node's column then holds its reference (or null: none, or not the company's) for the field's loader.
    const key = `${join.field}Id`;
    for (const node of nodes) node[column] = byId.get(node[key]) ?? null;
  }
  const edges = nodes.map((node) => new RowEdge(node as T, orderFields));
  return {
    edges,
    pageInfo: { hasNextPage: rows.length > first, endCursor: edges.at(-1)?.cursor ?? null },
    totalCount,
  };
}
