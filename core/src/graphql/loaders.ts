import { wrap, type EntityName, type FilterQuery } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/sql';
import { joinedColumn, mergeRow, rowSource, tenantOf, tenantScope, type RowSource } from '../db/rows.ts';
import { allOf, sqlIn } from '../db/sql-condition.ts';
import type { AtriumRequestContext } from '../app/context.ts';
import { entryOf } from '../shared/entry.ts';

/** One field read of a batch, as mercurius hands it to a loader. */
export interface LoaderQuery<Parent> {
  obj: Parent;
}

/**
 * A mercurius loader for a field that references another entity by id: all parents of a response
 * level are answered with one query (no N+1). `where` narrows what may be returned (e.g. what the
 * viewer may read); a reference outside it, or missing, resolves to `null`.
 */
export function referenceLoader<Parent, T extends { id: string }>(
  entity: EntityName<T>,
  idOf: (parent: Parent) => string | null | undefined,
  where?: (context: AtriumRequestContext) => FilterQuery<T> | null,
): (queries: LoaderQuery<Parent>[], context: AtriumRequestContext) => Promise<(T | null)[]> {
  return async (queries, context) => {
    const ids = [...new Set(queries.map((query) => idOf(query.obj)).filter((id): id is string => !!id))];
    const scope = where ? where(context) : {};
    const rows = ids.length && scope ? await readByIds(context.em, entity, ids, scope) : [];
    const byId = new Map(rows.map((row) => [row.id, row]));
    return queries.map((query) => byId.get(idOf(query.obj) ?? '') ?? null);
  };
}

/** The entity with this id if this request has loaded it, of the company (a reference, an id only, is not loaded). */
function loadedOf<T extends object>(em: EntityManager, entity: EntityName<T>, companyId: string | null, id: string): T | null {
  const loaded = em.getUnitOfWork().getById(entity, id as never);
  return loaded && wrap(loaded, true).isInitialized() && (!companyId || (loaded as { companyId?: unknown }).companyId === companyId) ? loaded : null;
}

/** Per request (its EntityManager), by entity: the ids being read and the reads answering them. */
const readsInFlight = new WeakMap<EntityManager, WeakMap<RowSource, Map<string, Promise<object | null>>>>();

/**
 * Entities by id. Without a narrowing scope those already loaded in this request (of the company:
 * `paginateRows` reads a page's references this way) are taken from the identity map, those another
 * loader of the request is reading wait for that read, and the rest are read with plain SQL and handed
 * to the ORM to map (the same entities): building an ORM query costs more than the read.
 */
async function readByIds<T extends { id: string }>(em: EntityManager, entity: EntityName<T>, ids: string[], scope: FilterQuery<T>): Promise<T[]> {
  if (Reflect.ownKeys(scope as object).length) return em.find(entity, { $and: [{ id: { $in: ids } }, scope] } as FilterQuery<T>);
  const source = rowSource(em, entity);
  const companyId = tenantOf(em, source);
  const inFlight = entryOf(entryOf(readsInFlight, em, () => new WeakMap()), source, () => new Map<string, Promise<object | null>>());
  const known: T[] = [];
  const missing: string[] = [];
  for (const id of ids) {
    const loaded = loadedOf(em, entity, companyId, id);
    if (loaded) known.push(loaded);
    else missing.push(id);
  }
  const unread = missing.filter((id) => !inFlight.has(id));
  if (unread.length) {
    const where = allOf([...tenantScope(em, source), sqlIn(source.columnOf('id'), unread)]);
    const read = em
      .execute<Record<string, unknown>[]>(`select ${source.columns} from ${source.table} where ${where.sql}`, where.params)
      .then((rows) => new Map(rows.map((row) => [row.id as string, mergeRow(em, entity, source, row)])))
      .finally(() => {
        for (const id of unread) inFlight.delete(id);
      });
    for (const id of unread) inFlight.set(id, read.then((byId) => byId.get(id) ?? null));
  }
  const read = await Promise.all(missing.map((id) => inFlight.get(id)!));
  return [...known, ...(read.filter((found) => found !== null) as T[])];
}

type LoaderFunction = (queries: { obj: unknown; params: unknown }[], context: AtriumRequestContext) => Promise<unknown[]> | unknown[];
type LoaderDefinition = LoaderFunction | { loader: LoaderFunction; opts?: unknown };

interface Pending {
  obj: unknown;
  params: unknown;
  resolve(value: unknown): void;
  reject(error: unknown): void;
}

/** The reads of one loader field waiting for the next tick, per GraphQL execution (its context object). */
const batches = new WeakMap<object, Map<string, Pending[]>>();

/**
 * Turns a module's loaders (mercurius' `{ Type: { field: (queries, context) => results } }`) into
 * field resolvers that batch every read of the field made in one tick of one execution into one
 * call. mercurius' own loaders key each read by serialising the whole parent (for an ORM entity,
 * its full `toJSON`) — the largest cost of a list with references; here reads are not cached beyond
 * the batch, and as plain resolvers they pass through the module's gate like every other field.
 */
export function loaderResolvers(loaders: Record<string, Record<string, LoaderDefinition>>): Record<string, Record<string, unknown>> {
  const resolvers: Record<string, Record<string, unknown>> = {};
  for (const [typeName, fields] of Object.entries(loaders)) {
    resolvers[typeName] = {};
    for (const [field, definition] of Object.entries(fields)) {
      const load = typeof definition === 'function' ? definition : definition.loader;
      const name = `${typeName}.${field}`;
      const joined = joinedColumn(field);
      resolvers[typeName][field] = (obj: unknown, params: unknown, context: AtriumRequestContext) => {
        // Read with the page (`paginateRows`' `select.references`, under the company's condition): answered at once.
        if (obj && Object.hasOwn(obj, joined)) return (obj as Record<string, unknown>)[joined];
        return new Promise((resolve, reject) => {
          const byField = entryOf(batches, context, () => new Map<string, Pending[]>());
          const pending = byField.get(name);
          if (pending) {
            pending.push({ obj, params, resolve, reject });
            return;
          }
          const batch: Pending[] = [{ obj, params, resolve, reject }];
          byField.set(name, batch);
          // After the current tick every sibling read of the field has been made.
          process.nextTick(() => {
            byField.delete(name);
            dispatch(load, batch, context);
          });
        });
      };
    }
  }
  return resolvers;
}

async function dispatch(load: LoaderFunction, batch: Pending[], context: AtriumRequestContext): Promise<void> {
  try {
    const results = await load(
      batch.map(({ obj, params }) => ({ obj, params })),
      context,
    );
    batch.forEach((pending, i) => {
      const result = results[i];
      if (result instanceof Error) pending.reject(result);
      else pending.resolve(result);
    });
  } catch (error) {
    for (const pending of batch) pending.reject(error);
  }
}
