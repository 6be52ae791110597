import type { EventDeclaration } from '@atrium/core';

const id = { type: 'string', format: 'uuid' };
const nullableId = { type: ['string', 'null'], format: 'uuid' };
const status = { enum: ['OPEN', 'PENDING', 'SNOOZED', 'RESOLVED'] };

const object = (properties: Record<string, unknown>, required = Object.keys(properties)) => ({
  type: 'object',
  properties,
  required,
  additionalProperties: false,
});

/** The events the messenger emits (through the outbox: listeners and webhooks receive them). Typing is live only. */
export const events: Record<string, EventDeclaration> = {
  'messenger.conversation.created': {
    description: 'A conversation started (an inbox conversation, a room or a record chat)',
    schema: object({ conversationId: id, displayId: { type: 'integer' }, kind: { enum: ['INBOX', 'ROOM', 'RECORD'] }, inboxId: nullableId, contactId: nullableId, status }),
  },
  'messenger.conversation.statusChanged': {
    description: "A conversation's status changed",
    schema: object({ conversationId: id, from: status, to: status, snoozedUntil: { type: ['string', 'null'] }, changedById: nullableId }),
  },
  'messenger.conversation.assigneeChanged': {
    description: "A conversation's assignee changed (by an agent, or by auto-assignment when changedById is null)",
    schema: object({ conversationId: id, from: nullableId, to: nullableId, changedById: nullableId }),
  },
  'messenger.conversation.read': {
    description: 'An agent read a conversation up to lastSeenAt',
    schema: object({ conversationId: id, userId: id, lastSeenAt: { type: 'string' } }),
  },
  'messenger.message.created': {
    description: 'A message was written into a conversation',
    schema: object({
      messageId: id,
      conversationId: id,
      messageType: { enum: ['INCOMING', 'OUTGOING', 'ACTIVITY'] },
      private: { type: 'boolean' },
      senderType: { enum: ['USER', 'CONTACT', 'SYSTEM'] },
      senderUserId: nullableId,
      senderContactId: nullableId,
    }),
  },
  'messenger.firstReply.created': {
    description: "An agent's first reply in a conversation",
    schema: object({ conversationId: id, messageId: id, senderUserId: nullableId }),
  },
  'messenger.reply.created': {
    description: "An agent's reply to a waiting contact",
    schema: object({ conversationId: id, messageId: id, senderUserId: nullableId, waitedSeconds: { type: 'integer' } }),
  },
};
