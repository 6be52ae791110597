import { createdAt, defineEntity, p, primaryId, type InferEntity } from '@atrium/core';

export const MESSAGE_TYPES = ['INCOMING', 'OUTGOING', 'ACTIVITY'] as const;
export type MessageType = (typeof MESSAGE_TYPES)[number];

export const MESSAGE_STATUSES = ['SENT', 'DELIVERED', 'READ', 'FAILED'] as const;
export type MessageStatus = (typeof MESSAGE_STATUSES)[number];

/** Who wrote a message: an agent (user), the contact, or the system (activity messages, auto replies). */
export const SENDER_TYPES = ['USER', 'CONTACT', 'SYSTEM'] as const;
export type SenderType = (typeof SENDER_TYPES)[number];

export const MAX_CONTENT_LENGTH = 150_000;
export const MAX_ATTACHMENTS = 15;

/**
 * A message of a conversation. `dedupScope` is the inbox (or, outside inboxes, the conversation):
 * a `sourceId` is unique within it, by a unique index, however concurrently it is delivered.
 */
export const Message = defineEntity({
  name: 'Message',
  tableName: 'messenger_message',
  properties: {
    id: primaryId(),
    companyId: p.uuid(),
    conversationId: p.uuid(),
    dedupScope: p.uuid().hidden(),
    messageType: p.enum(() => [...MESSAGE_TYPES]).columnType('text'),
    /** A note between agents: never shown to the contact. */
    private: p.boolean().default(false),
    content: p.text().nullable(),
    /** ACTIVITY messages: what happened (`{ kind: 'ASSIGNEE_CHANGED', from, to }` …). */
    contentAttributes: p.json<Record<string, unknown>>().defaultRaw(`'{}'`),
    senderType: p.enum(() => [...SENDER_TYPES]).columnType('text'),
    senderUserId: p.uuid().nullable(),
    senderContactId: p.uuid().nullable(),
    replyToId: p.uuid().nullable(),
    status: p.enum(() => [...MESSAGE_STATUSES]).columnType('text').default('SENT'),
    sourceId: p.string().length(255).nullable(),
    editedAt: p.datetime().nullable(),
    deletedAt: p.datetime().nullable(),
    createdAt: createdAt(),
  },
});
export type Message = InferEntity<typeof Message>;

export const MESSAGE_CHANGE_KINDS = ['EDITED', 'DELETED'] as const;
export type MessageChangeKind = (typeof MESSAGE_CHANGE_KINDS)[number];

/** The record of an edit or a deletion: the content before it, who and when. */
export const MessageChange = defineEntity({
  name: 'MessageChange',
  tableName: 'messenger_message_change',
  properties: {
    id: primaryId(),
    companyId: p.uuid(),
    messageId: p.uuid(),
    kind: p.enum(() => [...MESSAGE_CHANGE_KINDS]).columnType('text'),
    previousContent: p.text().nullable(),
    changedById: p.uuid(),
    createdAt: createdAt(),
  },
});
export type MessageChange = InferEntity<typeof MessageChange>;

/** An attachment's metadata; its bytes live in the configured `AttachmentStorage` under `storageKey`. */
export const Attachment = defineEntity({
  name: 'MessageAttachment',
  tableName: 'messenger_attachment',
  properties: {
    id: primaryId(),
    companyId: p.uuid(),
    messageId: p.uuid(),
    fileName: p.string().length(255),
    contentType: p.string().length(255),
    byteSize: p.integer(),
    storageKey: p.string().length(300).hidden(),
    createdAt: createdAt(),
  },
});
export type Attachment = InferEntity<typeof Attachment>;
