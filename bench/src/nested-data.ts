/** What scenario 2's runner and servers share: the query, the answer's shape, the token secret. */

/** Every server signs or verifies access tokens with it (HS256, as the kernel does). */
export const JWT_SECRET = 'bench-secret-bench-secret-bench-secret-0123';

/** The access token's claims (the kernel's): user and company. */
export interface AccessClaims {
  sub: string;
  cid: string;
}

/** The list every peer serves, as a GraphQL query. */
export function contactsQuery(first: number): string {
  return `{ contacts(first: ${first}) { totalCount edges { node { id name labels lastActivityAt owner { id displayName } } } pageInfo { hasNextPage endCursor } } }`;
}

export interface ContactNode {
  id: string;
  name: string;
  labels: string[];
  lastActivityAt: string | null;
  owner: { id: string; displayName: string } | null;
}

export interface ContactsAnswer {
  data?: {
    contacts: {
      totalCount: number;
      edges: { node: ContactNode }[];
      pageInfo: { hasNextPage: boolean; endCursor: string | null };
    };
  };
  errors?: { message: string; extensions?: { code?: string } }[];
}

/** A row of the page as the hand-written peers read it. */
export interface ContactRow {
  id: string;
  name: string;
  labels: string[];
  last_activity_at: Date | null;
  owner_id: string | null;
}

/** The list's order: by name, then id (Atrium's default `NAME` order), the same in every peer. */
export const ORDER = 'order by c.name, c.id';

/**
 * The opaque cursor Atrium (MikroORM's `Cursor`) gives the last contact of a page: the order's values
 * as base64url JSON. The other peers produce the same so that whole answers can be compared.
 */
export function endCursorOf(last: { name: string; id: string } | undefined): string | null {
  return last ? Buffer.from(JSON.stringify([last.name, last.id])).toString('base64url') : null;
}

/** Checks `first` as the kernel does (1..100, default 20). */
export function pageSize(first: unknown): number | undefined {
  const size = first ?? 20;
  return Number.isInteger(size) && (size as number) >= 1 && (size as number) <= 100 ? (size as number) : undefined;
}
