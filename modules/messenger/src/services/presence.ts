import { createValidator, forbidden, isId, notFound, User, type EntityManager, type Kernel } from '@atrium/core';
import { canWriteReadableConversation, findReadableConversation } from './access.ts';
import type { MessengerContext } from './context.ts';
import { publishNow } from './realtime.ts';

export const AVAILABILITIES = ['ONLINE', 'BUSY', 'OFFLINE'] as const;
export type Availability = (typeof AVAILABILITIES)[number];

/**
 * How long a setAvailability lasts: clients repeat it (a heartbeat) every minute or so while the
 * agent is at work, so an agent whose app closed or crashed drops to OFFLINE on their own within two
 * minutes instead of receiving conversations nobody answers.
 */
export const AVAILABILITY_TTL_MS = 120_000;

/** Presence scopes per company: ONLINE agents (auto-assignable) and BUSY ones (reachable, not assigned). */
const scope = (companyId: string, availability: 'ONLINE' | 'BUSY') => `messenger:${companyId}:${availability.toLowerCase()}`;

const validateAvailability = createValidator<{ status: Availability }>(
  { type: 'object', additionalProperties: false, required: ['status'], properties: { status: { enum: [...AVAILABILITIES] } } },
  '',
);

/** Records an agent's availability in the kernel's presence store (cluster-wide with Redis), for AVAILABILITY_TTL_MS. */
export async function setAvailability(kernel: Kernel, companyId: string, userId: string, input: unknown): Promise<Availability> {
  const { status } = validateAvailability(input);
  const [online, busy] = [scope(companyId, 'ONLINE'), scope(companyId, 'BUSY')];
  if (status === 'ONLINE') await Promise.all([kernel.presence.set(online, userId, AVAILABILITY_TTL_MS), kernel.presence.remove(busy, userId)]);
  else if (status === 'BUSY') await Promise.all([kernel.presence.set(busy, userId, AVAILABILITY_TTL_MS), kernel.presence.remove(online, userId)]);
  else await Promise.all([kernel.presence.remove(online, userId), kernel.presence.remove(busy, userId)]);
  return status;
}

/** The company's agents who are ONLINE now (only they are auto-assigned). */
export const onlineAgents = (kernel: Kernel, companyId: string): Promise<string[]> => kernel.presence.online(scope(companyId, 'ONLINE'));

export const isOnline = (kernel: Kernel, companyId: string, userId: string): Promise<boolean> => kernel.presence.isOnline(scope(companyId, 'ONLINE'), userId);

/**
 * The availability of the given users of the company (ids of unknown users, or of another company's,
 * are left out): two presence reads, whatever the number of users.
 */
export async function availabilityOf(em: EntityManager, kernel: Kernel, companyId: string, userIds: readonly string[]): Promise<{ user: User; availability: Availability }[]> {
  const ids = [...new Set(userIds.filter(isId))];
  if (!ids.length) return [];
  const [users, online, busy] = await Promise.all([
    em.find(User, { id: { $in: ids } }, { orderBy: { id: 'asc' } }),
    kernel.presence.online(scope(companyId, 'ONLINE')),
    kernel.presence.online(scope(companyId, 'BUSY')),
  ]);
  const [onlineIds, busyIds] = [new Set(online), new Set(busy)];
  return users.map((user) => ({ user, availability: onlineIds.has(user.id) ? 'ONLINE' : busyIds.has(user.id) ? 'BUSY' : 'OFFLINE' }));
}

const validateTyping = createValidator<{ conversationId: string; typing: boolean; private?: boolean | null }>(
  {
    type: 'object',
    additionalProperties: false,
    required: ['conversationId', 'typing'],
    properties: { conversationId: { type: 'string', format: 'uuid' }, typing: { type: 'boolean' }, private: { type: ['boolean', 'null'] } },
  },
  '',
);

/**
 * Tells a conversation's subscribers (and its inbox's) that the caller started or stopped typing.
 * Live only: nothing is stored and nothing goes through the outbox. Needs the right to write there.
 */
export async function setTyping(ctx: MessengerContext, input: unknown): Promise<boolean> {
  const { conversationId, typing, private: isPrivate } = validateTyping(input);
  if (ctx.viewer?.kind !== 'user') throw forbidden('Only users type');
  const conversation = await findReadableConversation(ctx, conversationId);
  if (!conversation) throw notFound('Conversation');
  if (!canWriteReadableConversation(ctx.viewer, conversation)) throw forbidden('You may not write in this conversation');
  await publishNow(ctx, {
    type: 'TYPING',
    conversationId: conversation.id,
    inboxId: conversation.inboxId ?? null,
    companyId: conversation.companyId,
    typing: { userId: ctx.viewer.id, typing, private: isPrivate ?? false },
  });
  return typing;
}
