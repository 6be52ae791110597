import Fastify from 'fastify';
import fastifyJwt from '@fastify/jwt';
import pg from 'pg';
import { endCursorOf, JWT_SECRET, ORDER, pageSize, type AccessClaims, type ContactRow } from '../nested-data.ts';
import { announce } from './announce.ts';
import { serveSqlCounts } from './sql-count.ts';

/**
 * Scenario 2's floor: a hand-written Fastify route with `pg`, `GET /contacts?first=N`, answering the
 * same JSON as the GraphQL peers. The access token is verified as the kernel does (@fastify/jwt,
 * HS256); then one prepared statement reads everything: the caller's current state (active, in the
 * token's company, allowed `crm.contact.read` by a role unless OWNER/ADMIN) and branches, the page with
 * the total count (a window over the visible rows) and each contact's owner. No caching between
 * requests.
 */
const CONTACTS_SQL = `
with viewer as (
  select u.id, u.company_id, u.system_role = 'MEMBER' as branch_scoped
  from app_user u
  where u.id = $1 and u.company_id = $2 and u.active
    and (u.system_role <> 'MEMBER' or exists (
      select 1 from user_role ur join role r on r.id = ur.role_id
      where ur.user_id = u.id and r.permissions @> array['crm.contact.read']))
)
select p.id, p.name, p.labels, p.last_activity_at, p.owner_id, p.total, o.display_name as owner_name
from viewer v
left join lateral (
  select c.id, c.name, c.labels, c.last_activity_at, c.owner_id, count(*) over ()::int as total
  from crm_contact c
  where c.company_id = v.company_id and c.deleted_at is null
    and (not v.branch_scoped or c.branch_id in (select ub.branch_id from user_branch ub where ub.user_id = v.id))
  ${ORDER}
  limit $3
) p on true
left join app_user o on o.id = p.owner_id and o.company_id = v.company_id
order by p.name, p.id`;

type Row = ContactRow & { total: number | null; owner_name: string | null };

const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 10 });
const app = Fastify({ logger: false });
await app.register(fastifyJwt, { secret: JWT_SECRET, verify: { algorithms: ['HS256'] } });

const failure = (code: string, message: string) => ({ errors: [{ message, extensions: { code } }] });

app.get('/contacts', async (request, reply) => {
  let claims: AccessClaims;
  try {
    claims = await request.jwtVerify<AccessClaims>();
  } catch {
    return reply.code(401).send(failure('UNAUTHENTICATED', 'Invalid or expired access token'));
  }
  const first = pageSize(Number((request.query as { first?: string }).first ?? 20));
  if (!first) return reply.code(400).send(failure('BAD_USER_INPUT', 'first must be between 1 and 100'));
  const { rows } = await pool.query<Row>({ name: 'contacts', text: CONTACTS_SQL, values: [claims.sub, claims.cid, first + 1] });
  // No row at all: the caller is not an active user of the company allowed to read contacts.
  if (!rows.length) return reply.code(403).send(failure('FORBIDDEN', 'This needs the permission crm.contact.read'));
  const found = rows[0]!.id === null ? [] : rows;
  const page = found.slice(0, first);
  return {
    data: {
      contacts: {
        totalCount: found[0]?.total ?? 0,
        edges: page.map((row) => ({
          node: {
            id: row.id,
            name: row.name,
            labels: row.labels,
            lastActivityAt: row.last_activity_at?.toISOString() ?? null,
            owner: row.owner_id && row.owner_name !== null ? { id: row.owner_id, displayName: row.owner_name } : null,
          },
        })),
        pageInfo: { hasNextPage: found.length > first, endCursor: endCursorOf(page.at(-1)) },
      },
    },
  };
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
