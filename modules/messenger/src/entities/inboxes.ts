import { createdAt, defineEntity, p, primaryId, type InferEntity } from '@atrium/core';

export const CHANNELS = ['API', 'WEB_WIDGET'] as const;
export type Channel = (typeof CHANNELS)[number];

/** Opening hours of one weekday (0 = Sunday … 6 = Saturday), "HH:MM" in the inbox's timezone. */
export interface WorkingDay {
  day: number;
  open: string;
  close: string;
}

/**
 * Where conversations with contacts arrive: an API channel (bridges push messages in) or a website
 * widget. Branch-scoped; its members are the agents who answer it.
 */
export const Inbox = defineEntity({
  name: 'Inbox',
  tableName: 'messenger_inbox',
  properties: {
    id: primaryId(),
    companyId: p.uuid(),
    branchId: p.uuid(),
    name: p.string().length(100),
    channel: p.enum(() => [...CHANNELS]).columnType('text'),
    /** Public, unguessable: the widget starts sessions with it. */
    token: p.string().length(64).hidden(),
    autoAssign: p.boolean().default(true),
    /** Open conversations an agent may hold before auto-assignment skips them; null = no cap. */
    maxOpenPerAgent: p.integer().nullable(),
    /** Auto-assignments per agent per window (rate limit). */
    assignmentLimit: p.integer().default(10),
    assignmentWindowSeconds: p.integer().default(60),
    /** Null: always open. */
    workingHours: p.json<WorkingDay[]>().nullable(),
    /** IANA zone the working hours are in. */
    timezone: p.string().length(64).default('UTC'),
    /** Sent (as an OUTGOING message) to an incoming message outside working hours. */
    outOfOfficeMessage: p.text().nullable(),
    /** A contact has at most one unresolved conversation in the inbox: new messages go to it. */
    lockToSingleConversation: p.boolean().default(false),
    /** When false, a message to a resolved conversation starts a new one instead of reopening it. */
    allowMessagesAfterResolved: p.boolean().default(true),
    createdAt: createdAt(),
  },
});
export type Inbox = InferEntity<typeof Inbox>;

/** An agent (user) answering an inbox. `position` orders the round-robin queue when it is rebuilt. */
export const InboxMember = defineEntity({
  name: 'InboxMember',
  tableName: 'messenger_inbox_member',
  properties: {
    inboxId: p.uuid().primary(),
    userId: p.uuid().primary(),
    companyId: p.uuid(),
    createdAt: createdAt(),
  },
});
export type InboxMember = InferEntity<typeof InboxMember>;

/**
 * A crm contact reachable through an inbox: `sourceId` is the contact's address in the channel
 * (unique per inbox); `pubsubToken` is the widget session's secret.
 */
export const ContactInbox = defineEntity({
  name: 'ContactInbox',
  tableName: 'messenger_contact_inbox',
  properties: {
    id: primaryId(),
    companyId: p.uuid(),
    inboxId: p.uuid(),
    contactId: p.uuid(),
    sourceId: p.string().length(255),
    pubsubToken: p.string().length(64).hidden(),
    createdAt: createdAt(),
  },
});
export type ContactInbox = InferEntity<typeof ContactInbox>;

/** A team of agents conversations can be handed to. */
export const Team = defineEntity({
  name: 'MessengerTeam',
  tableName: 'messenger_team',
  properties: {
    id: primaryId(),
    companyId: p.uuid(),
    name: p.string().length(100),
    createdAt: createdAt(),
  },
});
export type Team = InferEntity<typeof Team>;

export const TeamMember = defineEntity({
  name: 'MessengerTeamMember',
  tableName: 'messenger_team_member',
  properties: {
    teamId: p.uuid().primary(),
    userId: p.uuid().primary(),
    companyId: p.uuid(),
  },
});
export type TeamMember = InferEntity<typeof TeamMember>;
