import { ReferenceKind, type EntityData, type EntityMetadata, type EntityName } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/sql';
import { AtriumError } from '../graphql/errors.ts';
import type { TenantFilterParams } from './orm.ts';
import { isId } from './ids.ts';
import { executePrepared } from './prepared.ts';
import { allOf, sqlCondition, type SqlCondition } from './sql-condition.ts';

/**
 * The column of a `paginateRows` row that holds the reference it read with the page for `field`
 * (`null`: none, or not the company's): the field's loader answers from it without a read or a
 * batch. A column of the statement, so every row has it and setting it changes no row's shape.
 */
export function joinedColumn(field: string): string {
  return `${field}.`;
}

/** How an entity's rows are read without the ORM: its table, the columns an entity loads, a field's column. */
export interface RowSource {
  meta: EntityMetadata;
  table: string;
  /** The columns an entity loads, by their column names (for the ORM to map; `columns` quoted and joined). */
  columnNames: readonly string[];
  columns: string;
  /** The columns of the properties in `only` (every one when undefined), named as the properties: rows come back as plain data. */
  propertiesOf(only: ReadonlySet<string> | undefined): string;
  /** Properties holding timestamps: the embedded database gives them as text. */
  dates: string[];
  columnOf(field: string): string;
}

const rowSources = new WeakMap<EntityMetadata, RowSource>();

/** The entity's row source, worked out once per entity. */
export function rowSource<T extends object>(em: EntityManager, entity: EntityName<T>): RowSource {
  const meta = em.getMetadata(entity) as unknown as EntityMetadata;
  let source = rowSources.get(meta);
  if (!source) {
    const platform = em.getPlatform();
    const loaded = meta.props.filter((prop) => (prop.kind === ReferenceKind.SCALAR || prop.kind === ReferenceKind.MANY_TO_ONE) && !prop.lazy && prop.persist !== false && !prop.formula);
    const columnOf = (field: string) => {
      const prop = meta.properties[field as never] as EntityMetadata['props'][number] | undefined;
      if (!prop?.fieldNames?.length) throw new AtriumError('INTERNAL', `${meta.className} has no column for "${field}"`);
      return platform.quoteIdentifier(prop.fieldNames[0]!);
    };
    const named = loaded
      .filter((prop) => prop.fieldNames.length === 1)
      .map((prop) => ({
        name: prop.name,
        sql: prop.fieldNames[0] === prop.name ? platform.quoteIdentifier(prop.name) : `${platform.quoteIdentifier(prop.fieldNames[0]!)} as ${platform.quoteIdentifier(prop.name)}`,
      }));
    const properties = named.map((prop) => prop.sql).join(', ');
    const columnNames = loaded.flatMap((prop) => prop.fieldNames);
    source = {
      meta,
      table: platform.quoteIdentifier(meta.tableName),
      columnNames,
      columns: columnNames.map((name) => platform.quoteIdentifier(name)).join(', '),
      propertiesOf: (only) =>
        only
          ? named
              .filter((prop) => only.has(prop.name))
              .map((prop) => prop.sql)
              .join(', ')
          : properties,
      dates: loaded.filter((prop) => prop.runtimeType === 'Date' && !platform.isNumericProperty(prop)).map((prop) => prop.name),
      columnOf,
    };
    rowSources.set(meta, source);
  }
  return source;
}

/** The company whose rows `source` may give, or null for an entity of no company. */
export function tenantOf(em: EntityManager, source: RowSource): string | null {
  if (!source.meta.properties.companyId) return null;
  const companyId = em.getFilterParams<TenantFilterParams>('tenant')?.companyId;
  if (!companyId) throw new AtriumError('INTERNAL', `A read of ${source.meta.className} needs a company's scope`);
  return companyId;
}

/**
 * The ORM's tenant filter, written out: a company's rows only, whether or not row-level security
 * is on. `table` qualifies the column (a joined table's alias).
 */
export function tenantScope(em: EntityManager, source: RowSource, table?: string): SqlCondition[] {
  const companyId = tenantOf(em, source);
  return companyId ? [sqlCondition(`${table ? `${table}.` : ''}${source.columnOf('companyId')} = ?`, companyId)] : [];
}

/**
 * A row read by column names (`source.columns`), as the ORM's entity, managed as `find` makes it
 * (the entity factory's merge; an entity already loaded in this request keeps its unflushed
 * changes). Not `em.merge`: it snapshots the entity again and cascades over its collections, the
 * larger part of a list's cost when its page's references come joined.
 */
export function mergeRow<T extends object>(em: EntityManager, entity: EntityName<T>, source: RowSource, row: Record<string, unknown>): T {
  return em.getEntityFactory().create(entity, em.getDriver().mapResult(row as never, source.meta) as EntityData<T>, { merge: true, convertCustomTypes: true });
}

/**
 * The entity of this id with its row locked `FOR UPDATE` until the transaction ends, under the
 * company's scope (another company's id answers null, as a missing one or one that is no id) —
 * what `findOne` with `lockMode: PESSIMISTIC_WRITE` answers, as one prepared statement without the
 * ORM's query building (a third of the time a message took to lock its conversation). The entity is
 * managed as `findOne` makes it: one already loaded takes the row as committed when the lock was
 * granted, but for the changes made to it and not flushed yet.
 */
export async function lockById<T extends object>(em: EntityManager, entity: EntityName<T>, id: string): Promise<T | null> {
  if (!isId(id)) return null;
  const source = rowSource(em, entity);
  const where = allOf([...tenantScope(em, source), sqlCondition(`${source.columnOf('id')} = ?`, id)]);
  const [row] = await executePrepared(em, `select ${source.columns} from ${source.table} where ${where.sql} for update`, where.params);
  return row ? mergeRow(em, entity, source, row) : null;
}
