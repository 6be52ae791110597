import { createValidator, forbidden, notFound, raw, type EntityManager, type FilterQuery, type Viewer } from '@atrium/core';
import type { Conversation } from '../entities/conversations.ts';
import { Inbox } from '../entities/inboxes.ts';
import { findReadableConversation } from './access.ts';
import { transact, type MessengerContext } from './context.ts';
import { conversationSnapshot, publishConversationEvent } from './realtime.ts';

/** A user's read position moves at most once per this long per conversation (a client may mark on every message shown). */
export const READ_THROTTLE_MS = 15_000;

const validateConversationId = createValidator<{ conversationId: string }>(
  { type: 'object', additionalProperties: false, required: ['conversationId'], properties: { conversationId: { type: 'string', format: 'uuid' } } },
  '',
);

/** Read positions belong to people: an API key has none. */
function readerOf(viewer: Viewer | null): string {
  if (viewer?.kind !== 'user') throw forbidden('Only users have a read position');
  return viewer.id;
}

/**
 * Marks a conversation the caller can read as read up to now: their read state (and the
 * conversation's `agentLastSeenAt`) moves, the contact's messages up to now turn READ,
 * `messenger.conversation.read` is emitted and a READ live event published. Throttled: within
 * READ_THROTTLE_MS of the caller's last recorded read, nothing is written (the conversation is
 * answered as it is) — the upsert decides, so two marks at once write once.
 */
export async function markConversationRead(ctx: MessengerContext, input: unknown): Promise<Conversation> {
  const { conversationId } = validateConversationId(input);
  const userId = readerOf(ctx.viewer);
  return transact(ctx, async (tx) => {
    const conversation = await findReadableConversation({ ...ctx, em: tx }, conversationId);
    if (!conversation) throw notFound('Conversation');
    const now = new Date();
    const moved = await tx.execute<{ last_seen_at: Date }[]>(
      `insert into messenger_read_state (conversation_id, user_id, company_id, last_seen_at) values (?, ?, ?, ?)
       on conflict (conversation_id, user_id) do update set last_seen_at = excluded.last_seen_at
       where messenger_read_state.last_seen_at <= excluded.last_seen_at - ?::interval
       returning last_seen_at`,
      [conversation.id, userId, conversation.companyId, now, `${READ_THROTTLE_MS} milliseconds`],
    );
    if (!moved.length) return conversation;

    // Several agents may mark at once: the latest read wins, whatever order the writes land in.
    const [seen] = await tx.execute<{ agent_last_seen_at: Date }[]>(
      `update messenger_conversation set agent_last_seen_at = greatest(agent_last_seen_at, ?) where id = ? returning agent_last_seen_at`,
      [now, conversation.id],
    );
    conversation.agentLastSeenAt = new Date(seen!.agent_last_seen_at);
    await tx.execute(
      `update messenger_message set status = 'READ'
        where conversation_id = ? and created_at <= ? and message_type = 'INCOMING' and status in ('SENT', 'DELIVERED')`,
      [conversation.id, now],
    );
    ctx.emit(tx, 'messenger.conversation.read', { conversationId: conversation.id, userId, lastSeenAt: now.toISOString() });
    publishConversationEvent(ctx, {
      type: 'READ',
      conversationId: conversation.id,
      inboxId: conversation.inboxId ?? null,
      companyId: conversation.companyId,
      conversation: conversationSnapshot(conversation),
      read: { userId, lastSeenAt: now },
    });
    await tx.flush();
    return conversation;
  });
}

/**
 * What counts as unread for `userId` in a conversation: messages after their read position (all of
 * them before their first read), but not activity notices, deleted messages or their own. Walks the
 * (conversation_id, created_at) index from the read position on.
 */
const UNREAD = `m.created_at > coalesce(r.last_seen_at, '-infinity'::timestamptz)
  and m.message_type <> 'ACTIVITY' and m.deleted_at is null and m.sender_user_id is distinct from ?`;

const placeholders = (values: readonly unknown[]) => values.map(() => '?').join(', ');

/** Unread counts of a page of conversations for the caller, in one query (Conversation.unreadCount). */
export async function unreadCounts(em: EntityManager, viewer: Viewer | null, conversationIds: readonly string[]): Promise<Map<string, number> | null> {
  if (viewer?.kind !== 'user') return null;
  const ids = [...new Set(conversationIds)];
  if (!ids.length) return new Map();
  const rows = await em.execute<{ conversation_id: string; unread: number }[]>(
    `select m.conversation_id, count(*)::int as unread
       from messenger_message m
       left join messenger_read_state r on r.conversation_id = m.conversation_id and r.user_id = ?
      where m.company_id = ? and m.conversation_id in (${placeholders(ids)}) and ${UNREAD}
      group by m.conversation_id`,
    [viewer.id, viewer.companyId, ...ids, viewer.id],
  );
  return new Map(rows.map((row) => [row.conversation_id, row.unread]));
}

const ADMIN_ROLES = new Set(['OWNER', 'ADMIN']);

/**
 * The inboxes whose conversations the viewer reads: every inbox for an OWNER/ADMIN, the inboxes they
 * are a member of with `messenger.conversation.read`, else none.
 */
async function readableInboxIds(em: EntityManager, viewer: Viewer, among?: readonly string[]): Promise<string[]> {
  const where: FilterQuery<Inbox>[] = among ? [{ id: { $in: [...among] } }] : [];
  if (!ADMIN_ROLES.has(viewer.systemRole)) {
    if (viewer.kind !== 'user' || !viewer.keys.has('messenger.conversation.read')) return [];
    where.push({ [raw((alias) => `${alias}.id in (select m.inbox_id from messenger_inbox_member m where m.user_id = ?)`, [viewer.id])]: [] } as FilterQuery<Inbox>);
  }
  const inboxes = await em.find(Inbox, { $and: where }, { fields: ['id'], orderBy: { name: 'asc', id: 'asc' } });
  return inboxes.map((inbox) => inbox.id);
}

export interface InboxUnread {
  inboxId: string;
  /** Unread messages in the inbox's unresolved conversations. */
  messages: number;
  /** Unresolved conversations with at least one unread message. */
  conversations: number;
}

/**
 * Unread messages per inbox for the caller (the sidebar's badges), in one query: messages after the
 * caller's read position in the inbox's conversations that are not RESOLVED — a resolved
 * conversation needs nobody's attention, and counting every old one would grow without end.
 * Inboxes the caller cannot read are left out (`among` narrows to some inboxes).
 */
export async function inboxUnreadCounts(em: EntityManager, viewer: Viewer | null, among?: readonly string[]): Promise<InboxUnread[] | null> {
  if (viewer?.kind !== 'user') return null;
  const inboxIds = await readableInboxIds(em, viewer, among);
  if (!inboxIds.length) return [];
  const rows = await em.execute<{ inbox_id: string; messages: number; conversations: number }[]>(
    `select c.inbox_id, count(*)::int as messages, count(distinct c.id)::int as conversations
       from messenger_conversation c
       join messenger_message m on m.conversation_id = c.id
       left join messenger_read_state r on r.conversation_id = c.id and r.user_id = ?
      where c.company_id = ? and c.inbox_id in (${placeholders(inboxIds)}) and c.status <> 'RESOLVED' and ${UNREAD}
      group by c.inbox_id`,
    [viewer.id, viewer.companyId, ...inboxIds, viewer.id],
  );
  const byInbox = new Map(rows.map((row) => [row.inbox_id, row]));
  return inboxIds.map((inboxId) => ({ inboxId, messages: byInbox.get(inboxId)?.messages ?? 0, conversations: byInbox.get(inboxId)?.conversations ?? 0 }));
}
