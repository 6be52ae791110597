import { createdAt, defineEntity, p, primaryId, type InferEntity } from '@atrium/core';

/** INBOX: a contact and agents; ROOM: team chat gated by a permission key; RECORD: bound to another module's record, fixed participants. */
export const CONVERSATION_KINDS = ['INBOX', 'ROOM', 'RECORD'] as const;
export type ConversationKind = (typeof CONVERSATION_KINDS)[number];

export const CONVERSATION_STATUSES = ['OPEN', 'PENDING', 'SNOOZED', 'RESOLVED'] as const;
export type ConversationStatus = (typeof CONVERSATION_STATUSES)[number];

export const PRIORITIES = ['LOW', 'MEDIUM', 'HIGH', 'URGENT'] as const;
export type Priority = (typeof PRIORITIES)[number];

const textArray = () => p.array<string>().columnType('text[]').defaultRaw(`'{}'`);

/**
 * A conversation. Branch-scoped (an inbox conversation takes its inbox's branch; rooms and record
 * chats the branch they were opened in). `displayId` counts per company (`messenger_counter`).
 */
export const Conversation = defineEntity({
  name: 'Conversation',
  tableName: 'messenger_conversation',
  properties: {
    id: primaryId(),
    companyId: p.uuid(),
    branchId: p.uuid(),
    displayId: p.integer(),
    kind: p.enum(() => [...CONVERSATION_KINDS]).columnType('text').default('INBOX'),
    /** INBOX conversations only. */
    inboxId: p.uuid().nullable(),
    contactId: p.uuid().nullable(),
    contactInboxId: p.uuid().nullable(),
    /** ROOM: the room's name; members hold `messenger.room.<name>`. RECORD: a title for people. */
    title: p.string().length(200).nullable(),
    roomName: p.string().length(50).nullable(),
    /** RECORD: the record of another module (e.g. `construction.workOrder` + its id). */
    subjectType: p.string().length(100).nullable(),
    subjectId: p.uuid().nullable(),
    status: p.enum(() => [...CONVERSATION_STATUSES]).columnType('text').default('OPEN'),
    /** Set only while SNOOZED; the `messenger.reopenSnoozed` job reopens due ones. */
    snoozedUntil: p.datetime().nullable(),
    priority: p.enum(() => [...PRIORITIES]).columnType('text').nullable(),
    assigneeId: p.uuid().nullable(),
    teamId: p.uuid().nullable(),
    labels: textArray(),
    customAttributes: p.json<Record<string, unknown>>().defaultRaw(`'{}'`),
    lastActivityAt: p.datetime().onCreate(() => new Date()),
    /** Since when the contact waits for a human answer: set by the first unanswered incoming message. */
    waitingSince: p.datetime().nullable(),
    firstReplyCreatedAt: p.datetime().nullable(),
    /** The latest `markConversationRead` of any agent (each agent's own is in `messenger_read_state`). */
    agentLastSeenAt: p.datetime().nullable(),
    contactLastSeenAt: p.datetime().nullable(),
    createdAt: createdAt(),
    updatedAt: p.datetime().onCreate(() => new Date()).onUpdate(() => new Date()),
  },
});
export type Conversation = InferEntity<typeof Conversation>;

/** Who may read and write a RECORD conversation (admins aside). */
export const Participant = defineEntity({
  name: 'ConversationParticipant',
  tableName: 'messenger_participant',
  properties: {
    conversationId: p.uuid().primary(),
    userId: p.uuid().primary(),
    companyId: p.uuid(),
    createdAt: createdAt(),
  },
});
export type Participant = InferEntity<typeof Participant>;

/** One user's read position in one conversation: unread counts are messages after `lastSeenAt`. */
export const ReadState = defineEntity({
  name: 'ConversationReadState',
  tableName: 'messenger_read_state',
  properties: {
    conversationId: p.uuid().primary(),
    userId: p.uuid().primary(),
    companyId: p.uuid(),
    lastSeenAt: p.datetime(),
  },
});
export type ReadState = InferEntity<typeof ReadState>;

/** The per-company sequence of conversations' `displayId` (incremented under the row's lock). */
export const Counter = defineEntity({
  name: 'MessengerCounter',
  tableName: 'messenger_counter',
  properties: {
    companyId: p.uuid().primary(),
    lastDisplayId: p.integer().default(0),
  },
});
export type Counter = InferEntity<typeof Counter>;
