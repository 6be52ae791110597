import { BadUserInputError, createValidator, notFound, User, type EntityManager } from '@atrium/core';
import type { Conversation } from '../entities/conversations.ts';
import { Inbox, InboxMember } from '../entities/inboxes.ts';
import { findReadableConversation } from './access.ts';
import { transact, type MessengerContext } from './context.ts';
import { postActivity } from './messages.ts';
import { onlineAgents } from './presence.ts';
import { conversationSnapshot, publishConversationEvent } from './realtime.ts';

/** The round-robin queue of an inbox's agents (kernel.queues: shared between instances with Redis). */
export const assignmentQueue = (companyId: string, inboxId: string): string => `messenger:${companyId}:inbox:${inboxId}`;

/** The rate-limit counter of one agent's auto-assignments in one inbox. */
const assignmentCounter = (companyId: string, inboxId: string, userId: string): string => `messenger:assign:${companyId}:${inboxId}:${userId}`;

/** The inbox's members (active users), longest-standing first: the order a fresh queue starts in. */
async function memberIds(em: EntityManager, inboxId: string): Promise<string[]> {
  const rows = await em.execute<{ user_id: string }[]>(
    `select m.user_id from messenger_inbox_member m join app_user u on u.id = m.user_id
      where m.inbox_id = ? and u.active order by m.created_at, m.user_id`,
    [inboxId],
  );
  return rows.map((row) => row.user_id);
}

/**
 * Makes the inbox's queue hold exactly its members: those already queued keep their turn, new
 * members join at the back, leavers go. Called whenever an inbox's members change.
 */
export async function rebuildAssignmentQueue(em: EntityManager, ctx: Pick<MessengerContext, 'kernel'>, inboxId: string): Promise<string[]> {
  const inbox = await em.findOneOrFail(Inbox, { id: inboxId });
  const name = assignmentQueue(inbox.companyId, inbox.id);
  const members = await memberIds(em, inbox.id);
  const current = new Set(members);
  const kept = (await ctx.kernel.queues.items(name)).filter((id) => current.delete(id));
  const queue = [...kept, ...current];
  await ctx.kernel.queues.replace(name, queue);
  return queue;
}

/** How many OPEN conversations of the inbox each of `agentIds` holds. */
async function openCounts(em: EntityManager, inboxId: string, agentIds: string[]): Promise<Map<string, number>> {
  if (!agentIds.length) return new Map();
  const rows = await em.execute<{ assignee_id: string; open: number }[]>(
    `select assignee_id, count(*)::int as open from messenger_conversation
      where inbox_id = ? and status = 'OPEN' and assignee_id in (${agentIds.map(() => '?').join(', ')}) group by assignee_id`,
    [inboxId, ...agentIds],
  );
  return new Map(rows.map((row) => [row.assignee_id, row.open]));
}

/** Raised inside a candidate's savepoint to undo its lock and try the next agent. */
class Refused extends Error {}

/**
 * Tries to give the conversation to `agentId`, inside a savepoint: the agent's membership row is
 * locked while the cap is counted (two assignments to one agent never both see room for one), the
 * rate limit is charged, and the conversation is claimed with a compare-and-set on its assignee
 * — two instances never assign one conversation twice. A refusal rolls the savepoint back, which
 * releases the lock before the next agent is tried (no deadlock between two refusing assigners).
 */
async function claimFor(tx: EntityManager, ctx: MessengerContext, conversation: Conversation, inbox: Inbox, agentId: string): Promise<'claimed' | 'refused' | 'taken'> {
  try {
    return await tx.transactional(async (savepoint) => {
      const member = await savepoint.execute<{ user_id: string }[]>(
        `select m.user_id from messenger_inbox_member m join app_user u on u.id = m.user_id
          where m.inbox_id = ? and m.user_id = ? and u.active for update of m`,
        [inbox.id, agentId],
      );
      if (!member.length) throw new Refused();
      if (inbox.maxOpenPerAgent != null) {
        const open = (await openCounts(savepoint, inbox.id, [agentId])).get(agentId) ?? 0;
        if (open >= inbox.maxOpenPerAgent) throw new Refused();
      }
      const limit = await ctx.kernel.limiter.hit(assignmentCounter(inbox.companyId, inbox.id, agentId), inbox.assignmentLimit, inbox.assignmentWindowSeconds * 1000);
      if (!limit.allowed) throw new Refused();
      const claimed = await savepoint.execute<{ id: string }[]>(
        `update messenger_conversation set assignee_id = ?, updated_at = now()
          where id = ? and assignee_id is not distinct from ? and status = 'OPEN' returning id`,
        [agentId, conversation.id, conversation.assigneeId ?? null],
      );
      return claimed.length ? 'claimed' : 'taken';
    });
  } catch (error) {
    if (error instanceof Refused) return 'refused';
    throw error;
  }
}

/**
 * Auto-assignment of an OPEN inbox conversation without an assignee who is a member of its inbox:
 * the next ONLINE member in the inbox's round robin (the chosen agent moves to the back) who is under
 * `maxOpenPerAgent` and the assignment rate limit. Answers the new assignee, or null when the inbox
 * does not auto-assign, the conversation needs nobody, or no agent can take it now.
 */
export async function autoAssign(tx: EntityManager, ctx: MessengerContext, conversation: Conversation): Promise<string | null> {
  if (conversation.kind !== 'INBOX' || conversation.status !== 'OPEN' || !conversation.inboxId) return null;
  const inbox = await tx.findOne(Inbox, { id: conversation.inboxId });
  if (!inbox?.autoAssign) return null;
  if (conversation.assigneeId && (await tx.count(InboxMember, { inboxId: inbox.id, userId: conversation.assigneeId }))) return null;

  const queue = assignmentQueue(inbox.companyId, inbox.id);
  // A queue lost with its store (an instance restarted on in-memory queues, Redis flushed) is rebuilt here.
  let queued = await ctx.kernel.queues.items(queue);
  if (!queued.length) queued = await rebuildAssignmentQueue(tx, ctx, inbox.id);
  const online = new Set(await onlineAgents(ctx.kernel, inbox.companyId));
  const candidates = queued.filter((id) => online.has(id));
  if (!candidates.length) return null;
  const counts = inbox.maxOpenPerAgent == null ? new Map<string, number>() : await openCounts(tx, inbox.id, candidates);
  const eligible = new Set(candidates.filter((id) => inbox.maxOpenPerAgent == null || (counts.get(id) ?? 0) < inbox.maxOpenPerAgent));

  // The claim writes with SQL: the conversation must be in the database first.
  await tx.flush();
  const previous = conversation.assigneeId ?? null;
  while (eligible.size) {
    const agentId = await ctx.kernel.queues.rotate(queue, (id) => eligible.has(id));
    if (!agentId) return null;
    const outcome = await claimFor(tx, ctx, conversation, inbox, agentId);
    if (outcome === 'taken') return null;
    if (outcome === 'refused') {
      eligible.delete(agentId);
      continue;
    }
    // The row holds the new assignee already; the entity follows (its flush writes the same value).
    conversation.assigneeId = agentId;
    await recordAssigneeChange(tx, ctx, conversation, previous, agentId, null);
    return agentId;
  }
  return null;
}

/** The activity message, the outbox event and the live event of an assignee change. */
async function recordAssigneeChange(tx: EntityManager, ctx: MessengerContext, conversation: Conversation, from: string | null, to: string | null, changedById: string | null): Promise<void> {
  await postActivity(tx, ctx, conversation, 'ASSIGNEE_CHANGED', { from, to, changedById });
  ctx.emit(tx, 'messenger.conversation.assigneeChanged', { conversationId: conversation.id, from, to, changedById });
  publishConversationEvent(ctx, { type: 'ASSIGNEE_CHANGED', conversationId: conversation.id, inboxId: conversation.inboxId ?? null, companyId: conversation.companyId, conversation: conversationSnapshot(conversation) });
}

/**
 * Sets (or, with null, clears) the assignee of a conversation the caller has locked, recording the
 * change: an ASSIGNEE_CHANGED activity message, `messenger.conversation.assigneeChanged`, a live
 * event. No change, nothing recorded.
 */
export async function setAssignee(tx: EntityManager, ctx: MessengerContext, conversation: Conversation, assigneeId: string | null, changedById: string | null): Promise<Conversation> {
  const from = conversation.assigneeId ?? null;
  if (from === assigneeId) return conversation;
  conversation.assigneeId = assigneeId;
  await recordAssigneeChange(tx, ctx, conversation, from, assigneeId, changedById);
  return conversation;
}

const validateAssign = createValidator<{ conversationId: string; assigneeId: string | null }>(
  {
    type: 'object',
    additionalProperties: false,
    required: ['conversationId', 'assigneeId'],
    properties: { conversationId: { type: 'string', format: 'uuid' }, assigneeId: { type: ['string', 'null'], format: 'uuid' } },
  },
  '',
);

/**
 * assignConversation / unassignConversation: gives an inbox conversation the caller can read to an
 * active member of its inbox, or (null) to nobody. The conversation's row is locked meanwhile, so an
 * auto-assignment at the same moment lands before or after it, never in between.
 */
export async function assignConversation(ctx: MessengerContext, input: unknown): Promise<Conversation> {
  const { conversationId, assigneeId } = validateAssign(input);
  return transact(ctx, async (tx) => {
    const scoped = { ...ctx, em: tx };
    const conversation = await findReadableConversation(scoped, conversationId, { lock: true });
    if (!conversation) throw notFound('Conversation');
    if (conversation.kind !== 'INBOX' || !conversation.inboxId) throw new BadUserInputError({ conversationId: 'only inbox conversations have an assignee' });
    if (assigneeId) {
      const member = await tx.count(InboxMember, { inboxId: conversation.inboxId, userId: assigneeId });
      const user = member ? await tx.findOne(User, { id: assigneeId, active: true }) : null;
      if (!user) throw new BadUserInputError({ assigneeId: 'is not an active member of the conversation’s inbox' });
    }
    const changedById = ctx.viewer?.kind === 'user' ? ctx.viewer.id : null;
    await setAssignee(tx, ctx, conversation, assigneeId, changedById);
    await tx.flush();
    return conversation;
  });
}
