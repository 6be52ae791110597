import type { EntityName, FilterQuery } from '@mikro-orm/core';
import type { AtriumRequestContext } from '../app/context.ts';

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
    const rows = ids.length && scope ? await context.em.find(entity, { $and: [{ id: { $in: ids } }, scope] } as FilterQuery<T>) : [];
    const byId = new Map(rows.map((row) => [row.id, row]));
    return queries.map((query) => byId.get(idOf(query.obj) ?? '') ?? null);
  };
}
