import Fastify from 'fastify';
import fastifyJwt from '@fastify/jwt';
import { ApolloServer } from '@apollo/server';
import fastifyApollo, { fastifyApolloDrainPlugin } from '@as-integrations/fastify';
import DataLoader from 'dataloader';
import { GraphQLError } from 'graphql';
import pg from 'pg';
import { endCursorOf, JWT_SECRET, ORDER, pageSize, type AccessClaims, type ContactRow } from '../nested-data.ts';
import { announce } from './announce.ts';
import { serveSqlCounts } from './sql-count.ts';

/**
 * Scenario 2's Apollo peer: @apollo/server 5 on Fastify 5 with `pg` and a DataLoader per request, as
 * an Apollo app would be written. The context verifies the access token (@fastify/jwt, HS256) and reads
 * the caller (active, role permissions, branches) with one statement per request; the list is a page
 * query and a count query (`totalCount` is a field resolver), owners are batched by the DataLoader.
 */
const typeDefs = /* GraphQL */ `
  type User {
    id: ID!
    displayName: String!
  }

  type Contact {
    id: ID!
    name: String!
    labels: [String!]!
    lastActivityAt: String
    owner: User
  }

  type ContactEdge {
    node: Contact!
  }

  type PageInfo {
    hasNextPage: Boolean!
    endCursor: String
  }

  type ContactConnection {
    edges: [ContactEdge!]!
    pageInfo: PageInfo!
    totalCount: Int!
  }

  type Query {
    contacts(first: Int): ContactConnection!
  }
`;

interface Viewer {
  id: string;
  companyId: string;
  systemRole: 'OWNER' | 'ADMIN' | 'MEMBER';
  branchIds: string[];
  permissions: string[];
}

interface UserRow {
  id: string;
  display_name: string;
}

interface Context {
  viewer: Viewer | null;
  owners: DataLoader<string, UserRow | null>;
}

/** What a contact list of the viewer is filtered by: the company, and the branches of a MEMBER. */
interface ListScope {
  companyId: string;
  branchIds: string[] | null;
}

interface ContactPage {
  scope: ListScope;
  rows: ContactRow[];
  hasNextPage: boolean;
}

const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 10 });

const VIEWER_SQL = `
select u.id, u.company_id, u.system_role,
  array(select ub.branch_id from user_branch ub where ub.user_id = u.id) as branch_ids,
  array(select distinct p from user_role ur join role r on r.id = ur.role_id, unnest(r.permissions) p where ur.user_id = u.id) as permissions
from app_user u
where u.id = $1 and u.company_id = $2 and u.active`;

async function loadViewer(claims: AccessClaims): Promise<Viewer | null> {
  const { rows } = await pool.query<{ id: string; company_id: string; system_role: Viewer['systemRole']; branch_ids: string[]; permissions: string[] }>(VIEWER_SQL, [claims.sub, claims.cid]);
  const row = rows[0];
  return row ? { id: row.id, companyId: row.company_id, systemRole: row.system_role, branchIds: row.branch_ids, permissions: row.permissions } : null;
}

/** The visible contacts: live ones of the company, and of the MEMBER's branches. */
const visible = (scope: ListScope) =>
  scope.branchIds ? 'c.company_id = $1 and c.deleted_at is null and c.branch_id = any($2)' : 'c.company_id = $1 and c.deleted_at is null';
const scopeParams = (scope: ListScope) => (scope.branchIds ? [scope.companyId, scope.branchIds] : [scope.companyId]);

function ownersLoader(companyId: string): DataLoader<string, UserRow | null> {
  return new DataLoader(async (ids) => {
    const { rows } = await pool.query<UserRow>('select id, display_name from app_user where company_id = $1 and id = any($2)', [companyId, ids]);
    const byId = new Map(rows.map((row) => [row.id, row]));
    return ids.map((id) => byId.get(id) ?? null);
  });
}

const resolvers = {
  Query: {
    contacts: async (_root: unknown, args: { first?: number | null }, context: Context): Promise<ContactPage> => {
      const viewer = context.viewer;
      if (!viewer) throw new GraphQLError('Invalid or expired access token', { extensions: { code: 'UNAUTHENTICATED' } });
      const branchScoped = viewer.systemRole === 'MEMBER';
      if (branchScoped && !viewer.permissions.includes('crm.contact.read')) {
        throw new GraphQLError('This needs the permission crm.contact.read', { extensions: { code: 'FORBIDDEN' } });
      }
      const first = pageSize(args.first);
      if (!first) throw new GraphQLError('first must be between 1 and 100', { extensions: { code: 'BAD_USER_INPUT' } });
      const scope: ListScope = { companyId: viewer.companyId, branchIds: branchScoped ? viewer.branchIds : null };
      const params = scopeParams(scope);
      const { rows } = await pool.query<ContactRow>(
        `select c.id, c.name, c.labels, c.last_activity_at, c.owner_id from crm_contact c where ${visible(scope)} ${ORDER} limit $${params.length + 1}`,
        [...params, first + 1],
      );
      return { scope, rows: rows.slice(0, first), hasNextPage: rows.length > first };
    },
  },
  ContactConnection: {
    edges: (page: ContactPage) => page.rows.map((node) => ({ node })),
    pageInfo: (page: ContactPage) => ({ hasNextPage: page.hasNextPage, endCursor: endCursorOf(page.rows.at(-1)) }),
    totalCount: async (page: ContactPage) => {
      const { rows } = await pool.query<{ total: number }>(`select count(*)::int as total from crm_contact c where ${visible(page.scope)}`, scopeParams(page.scope));
      return rows[0]!.total;
    },
  },
  Contact: {
    lastActivityAt: (row: ContactRow) => row.last_activity_at?.toISOString() ?? null,
    owner: (row: ContactRow, _args: unknown, context: Context) => (row.owner_id ? context.owners.load(row.owner_id) : null),
  },
  User: { displayName: (row: UserRow) => row.display_name },
};

const app = Fastify({ logger: false });
await app.register(fastifyJwt, { secret: JWT_SECRET, verify: { algorithms: ['HS256'] } });
const apollo = new ApolloServer<Context>({ typeDefs, resolvers, plugins: [fastifyApolloDrainPlugin(app)] });
await apollo.start();
await app.register(fastifyApollo(apollo), {
  path: '/graphql',
  context: async (request) => {
    let viewer: Viewer | null = null;
    try {
      const claims = await request.jwtVerify<AccessClaims>();
      viewer = await loadViewer(claims);
    } catch (error) {
      // A refused token leaves no viewer (the resolver answers UNAUTHENTICATED); a database error is one.
      if (error instanceof Error && 'code' in error && typeof error.code === 'string' && error.code.startsWith('FST_JWT')) viewer = null;
      else throw error;
    }
    return { viewer, owners: ownersLoader(viewer?.companyId ?? '') };
  },
});
await app.listen({ port: 0, host: '127.0.0.1' });
serveSqlCounts();
process.once('SIGTERM', () => {
  void app
    .close()
    .then(() => pool.end())
    .finally(() => process.exit(0));
});
announce((app.server.address() as { port: number }).port);
