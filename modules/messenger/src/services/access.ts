import { isId, lockById, raw, viewerFact, type FilterQuery, type Viewer } from '@atrium/core';
import { Conversation } from '../entities/conversations.ts';
import { Inbox, InboxMember } from '../entities/inboxes.ts';
import { roomKey } from '../permissions.ts';
import type { MessengerContext } from './context.ts';

/** What access to a conversation is decided by (an entity or a published snapshot). */
export type ConversationAccessFacts = Pick<Conversation, 'id' | 'kind' | 'inboxId' | 'roomName'>;

/** OWNER and ADMIN read and write every conversation of their company. */
export const isAdmin = (viewer: Viewer | null): boolean => viewer?.systemRole === 'OWNER' || viewer?.systemRole === 'ADMIN';

const ROOM_PREFIX = 'messenger.room.';

/** The rooms whose key the viewer holds. */
export const heldRooms = (viewer: Viewer): string[] => [...viewer.keys].filter((key) => key.startsWith(ROOM_PREFIX)).map((key) => key.slice(ROOM_PREFIX.length));

/**
 * Whether the viewer (a user) is an agent of the inbox: read once per built viewer (every live event
 * asks it for every subscriber), since a membership change moves the member's access stamp.
 */
export function isInboxMember(ctx: Pick<MessengerContext, 'em'>, viewer: Viewer, inboxId: string): Promise<boolean> {
  return viewerFact(viewer, `messenger.inboxMember:${inboxId}`, async () => (await ctx.em.count(InboxMember, { inboxId, userId: viewer.id })) > 0);
}

/** Whether the viewer takes part in the record chat: read once per built viewer, as inbox membership is. */
function isParticipant(ctx: Pick<MessengerContext, 'em'>, viewer: Viewer, conversationId: string): Promise<boolean> {
  return viewerFact(viewer, `messenger.participant:${conversationId}`, async () =>
    (await ctx.em.getConnection().execute<{ n: number }[]>(
      'select count(*)::int as n from messenger_participant where conversation_id = ? and user_id = ?',
      [conversationId, viewer.id],
      'all',
      ctx.em.getTransactionContext(),
    ))[0]!.n > 0,
  );
}

async function canUse(ctx: Pick<MessengerContext, 'em' | 'viewer'>, conversation: ConversationAccessFacts, inboxKey: string): Promise<boolean> {
  const { viewer } = ctx;
  if (!viewer?.modules.has('messenger')) return false;
  if (isAdmin(viewer)) return true;
  switch (conversation.kind) {
    case 'INBOX':
      return viewer.kind === 'user' && viewer.keys.has(inboxKey) && !!conversation.inboxId && isInboxMember(ctx, viewer, conversation.inboxId);
    case 'ROOM':
      return !!conversation.roomName && viewer.keys.has(roomKey(conversation.roomName));
    case 'RECORD':
      return viewer.kind === 'user' && isParticipant(ctx, viewer, conversation.id);
    default:
      return false;
  }
}

/**
 * INBOX: admins, or holders of messenger.conversation.read who are members of the inbox; ROOM:
 * admins or holders of the room's key; RECORD: admins or participants.
 */
export const canReadConversation = (ctx: Pick<MessengerContext, 'em' | 'viewer'>, conversation: ConversationAccessFacts): Promise<boolean> =>
  canUse(ctx, conversation, 'messenger.conversation.read');

/**
 * Writing to a conversation the viewer can read (found by `findReadableConversation`): for an inbox
 * conversation it also takes messenger.conversation.reply; the rest (membership, a room's key,
 * participation) is what reading took already, so nothing is read again.
 */
export const canWriteReadableConversation = (viewer: Viewer | null, conversation: ConversationAccessFacts): boolean =>
  conversation.kind !== 'INBOX' || isAdmin(viewer) || !!viewer?.keys.has('messenger.conversation.reply');

/** The conversations the viewer may read, as a SQL filter (never loading then filtering); null: none. */
export function readableConversationsWhere(ctx: Pick<MessengerContext, 'viewer'>): FilterQuery<Conversation> | null {
  const { viewer } = ctx;
  if (!viewer?.modules.has('messenger')) return null;
  if (isAdmin(viewer)) return {};
  const reachable: FilterQuery<Conversation>[] = [];
  if (viewer.kind === 'user' && viewer.keys.has('messenger.conversation.read')) {
    reachable.push({ kind: 'INBOX', [raw((alias) => `${alias}.inbox_id in (select m.inbox_id from messenger_inbox_member m where m.user_id = ?)`, [viewer.id])]: [] } as FilterQuery<Conversation>);
  }
  const rooms = heldRooms(viewer);
  if (rooms.length) reachable.push({ kind: 'ROOM', roomName: { $in: rooms } });
  if (viewer.kind === 'user') {
    reachable.push({ kind: 'RECORD', [raw((alias) => `${alias}.id in (select p.conversation_id from messenger_participant p where p.user_id = ?)`, [viewer.id])]: [] } as FilterQuery<Conversation>);
  }
  return reachable.length ? { $or: reachable } : null;
}

/** A conversation the viewer may read; null when missing, of another company, or not readable. */
export async function findReadableConversation(ctx: Pick<MessengerContext, 'em' | 'viewer'>, id: string, options: { lock?: boolean } = {}): Promise<Conversation | null> {
  const where = readableConversationsWhere(ctx);
  if (!where || !isId(id)) return null;
  const conversation = options.lock ? await lockById(ctx.em, Conversation, id) : await ctx.em.findOne(Conversation, { id });
  return conversation && (await canReadConversation(ctx, conversation)) ? conversation : null;
}

/** The inboxes the viewer may see: admins and inbox managers all, agents those they are members of. */
export function readableInboxesWhere(ctx: Pick<MessengerContext, 'viewer'>): FilterQuery<Inbox> | null {
  const { viewer } = ctx;
  if (!viewer?.modules.has('messenger')) return null;
  if (isAdmin(viewer) || viewer.keys.has('messenger.inbox.manage')) return {};
  if (viewer.kind !== 'user') return null;
  return { [raw((alias) => `${alias}.id in (select m.inbox_id from messenger_inbox_member m where m.user_id = ?)`, [viewer.id])]: [] } as FilterQuery<Inbox>;
}

export async function findReadableInbox(ctx: Pick<MessengerContext, 'em' | 'viewer'>, id: string): Promise<Inbox | null> {
  const where = readableInboxesWhere(ctx);
  return where && isId(id) ? ctx.em.findOne(Inbox, { $and: [{ id }, where] } as FilterQuery<Inbox>) : null;
}
