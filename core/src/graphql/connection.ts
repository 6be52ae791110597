import { Cursor, type EntityName, type FilterQuery, type QueryOrderMap } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/sql';
import { BadUserInputError } from './errors.ts';

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
      throw new BadUserInputError({ after: 'is not a cursor of this list' });
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
        throw new BadUserInputError({ after: 'is not a cursor of this list' });
      }
      throw error;
    });
  return {
    edges: page.items.map((node) => ({ cursor: page.from(node as T), node: node as T })),
    pageInfo: { hasNextPage: page.hasNextPage, endCursor: page.endCursor },
    totalCount: page.totalCount,
  };
}
