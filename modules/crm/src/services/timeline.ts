import {
  BadUserInputError,
  createValidator,
  Cursor,
  isId,
  pageArgs,
  type Connection,
  type ConnectionArgs,
  type EntityManager,
  type Viewer,
} from '@atrium/core';
import { ContactActivity } from '../entities/activity.ts';
import type { Contact } from '../entities/contact.ts';

export interface TimelineArgs extends ConnectionArgs {
  /** Only entries of these kinds (e.g. `crm.note.added`); all when absent. */
  kinds?: string[] | null;
}

const validateKinds = createValidator<{ kinds?: string[] | null }>(
  { type: 'object', properties: { kinds: { type: ['array', 'null'], maxItems: 50, items: { type: 'string', minLength: 1, maxLength: 100 } } } },
  '',
);

// A cursor is the entry's occurred_at in UTC to the microsecond (a JS Date would cut it to the
// millisecond, and rows written by SQL's now() would then fall between pages) and its id.
const TIMESTAMP_TEXT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;

function decodeCursor(after: string | undefined): [string, string] | undefined {
  if (after === undefined) return undefined;
  const value = Cursor.decode(after) as unknown[];
  if (value.length !== 2 || typeof value[0] !== 'string' || !TIMESTAMP_TEXT.test(value[0]) || typeof value[1] !== 'string' || !isId(value[1])) {
    throw new BadUserInputError({ after: 'is not a cursor of this list' });
  }
  return [value[0], value[1]];
}

const ACTIVITY_COLUMNS = ['id', 'company_id', 'contact_id', 'kind', 'title', 'subject_type', 'subject_id', 'actor_id', 'data', 'occurred_at'];

interface TimelineRow extends Record<string, unknown> {
  id: string;
  contact_id: string;
  occurred_key: string;
  past: boolean;
  total_count: number;
}

/**
 * The timelines of a batch of contacts (Contact.timeline on a page of contacts), newest first, in
 * one statement: every contact gets its own page (the same `first`, `after` and `kinds`) and its own
 * totalCount. Contacts the viewer may not read get an empty timeline.
 */
export async function contactTimelines(em: EntityManager, viewer: Viewer, contacts: readonly Contact[], args: TimelineArgs): Promise<Connection<ContactActivity>[]> {
  const { first, after } = pageArgs(args);
  const cursor = decodeCursor(after);
  const { kinds } = validateKinds({ kinds: args.kinds ?? null });
  // The parent was read through the viewer's ability already; checked again here (in memory) so that
  // a Contact reached some other way never shows its timeline to someone who may not read it.
  const readable = [...new Set(contacts.filter((contact) => viewer.ability.can('read', contact)).map((contact) => contact.id))];
  const pages = new Map<string, Connection<ContactActivity>>();
  if (readable.length && kinds?.length !== 0) {
    const past = cursor ? '(a.occurred_at, a.id) < (?::timestamptz, ?::uuid)' : 'true';
    const cursorParams = cursor ?? [];
    // Per contact: totalCount counts its entries; position numbers those past the cursor, newest
    // first; the newest entry (rank 1) always comes back, to carry the total when no page follows.
    // Raw SQL for the per-contact window: the company is given explicitly, and row-level security
    // (the request's session context) stands behind it. Index: crm_contact_activity (contact_id, occurred_at, id).
    const rows = await em.execute<TimelineRow[]>(
      `select * from (
         select ${ACTIVITY_COLUMNS.map((column) => `a.${column}`).join(', ')},
                to_char(a.occurred_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as occurred_key,
                (${past}) as past,
                count(*) over (partition by a.contact_id)::int as total_count,
                row_number() over (partition by a.contact_id order by a.occurred_at desc, a.id desc) as rank,
                count(*) filter (where ${past}) over (partition by a.contact_id order by a.occurred_at desc, a.id desc) as position
           from crm_contact_activity a
          where a.company_id = ?::uuid
            and a.contact_id in (${readable.map(() => '?::uuid').join(', ')})
            ${kinds ? `and a.kind in (${kinds.map(() => '?::text').join(', ')})` : ''}
       ) page
       where (page.past and page.position <= ?::int) or page.rank = 1
       order by page.contact_id, page.occurred_at desc, page.id desc`,
      [...cursorParams, ...cursorParams, viewer.companyId, ...readable, ...(kinds ?? []), first + 1],
    );
    const grouped = new Map<string, TimelineRow[]>();
    for (const row of rows) {
      const group = grouped.get(row.contact_id);
      if (group) group.push(row);
      else grouped.set(row.contact_id, [row]);
    }
    for (const [contactId, group] of grouped) {
      const following = group.filter((row) => row.past);
      const edges = following.slice(0, first).map((row) => ({
        cursor: Cursor.encode([row.occurred_key, row.id]),
        node: em.map(ContactActivity, Object.fromEntries(ACTIVITY_COLUMNS.map((column) => [column, row[column]]))),
      }));
      pages.set(contactId, { edges, pageInfo: { hasNextPage: following.length > first, endCursor: edges.at(-1)?.cursor ?? null }, totalCount: group[0]!.total_count });
    }
  }
  return contacts.map((contact) => pages.get(contact.id) ?? { edges: [], pageInfo: { hasNextPage: false, endCursor: null }, totalCount: 0 });
}
