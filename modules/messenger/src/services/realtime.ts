import { topic, type Topic } from '@atrium/core';
import type { Conversation } from '../entities/conversations.ts';
import type { Message } from '../entities/messages.ts';
import type { MessengerContext } from './context.ts';

export const CONVERSATION_EVENT_TYPES = ['MESSAGE_CREATED', 'MESSAGE_UPDATED', 'STATUS_CHANGED', 'ASSIGNEE_CHANGED', 'TYPING', 'READ', 'DELETED', 'UPDATED'] as const;
export type ConversationEventType = (typeof CONVERSATION_EVENT_TYPES)[number];

/**
 * A conversation or message as published live: plain data (it may cross instances through Redis),
 * with the reference ids field resolvers load from.
 */
export type ConversationSnapshot = Omit<Conversation, never> & Record<string, unknown>;
export type MessageSnapshot = Omit<Message, never> & Record<string, unknown>;

/** One live event of a conversation (also delivered to its inbox's subscribers). */
export interface ConversationEvent {
  type: ConversationEventType;
  conversationId: string;
  inboxId: string | null;
  companyId: string;
  message?: MessageSnapshot;
  conversation?: ConversationSnapshot;
  typing?: { userId: string; typing: boolean; private: boolean };
  read?: { userId: string; lastSeenAt: Date | string };
}

export const conversationTopic = (companyId: string, conversationId: string): Topic<ConversationEvent> => topic('messenger', companyId, 'conversation', conversationId);
export const inboxTopic = (companyId: string, inboxId: string): Topic<ConversationEvent> => topic('messenger', companyId, 'inbox', inboxId);

/** A copy of an entity's own fields, without ORM internals. */
function plain<T extends object>(entity: T): T & Record<string, unknown> {
  return { ...entity } as T & Record<string, unknown>;
}

export const conversationSnapshot = (conversation: Conversation): ConversationSnapshot => plain(conversation);
export const messageSnapshot = (message: Message): MessageSnapshot => plain(message);

/**
 * Queues an event of the conversation, published once the caller's transaction commits (`transact`)
 * — a rolled-back change is never seen live. Live delivery does not go through the outbox.
 */
export function publishConversationEvent(ctx: MessengerContext, event: ConversationEvent): void {
  ctx.live.push(event);
}

/** Publishes at once (typing: nothing is stored, there is no transaction to wait for). */
export async function publishNow(ctx: Pick<MessengerContext, 'publish'>, event: ConversationEvent): Promise<void> {
  await ctx.publish(conversationTopic(event.companyId, event.conversationId), event);
  if (event.inboxId) await ctx.publish(inboxTopic(event.companyId, event.inboxId), event);
}
