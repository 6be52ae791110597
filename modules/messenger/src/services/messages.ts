import {
  AtriumError,
  BadUserInputError,
  conflict,
  createValidator,
  forbidden,
  executePrepared,
  flushAndCommit,
  LockMode,
  lockById,
  newId,
  notFound,
  paginateRows,
  sqlCondition,
  type Connection,
  type EntityManager,
  type Viewer,
} from '@atrium/core';
import { Conversation } from '../entities/conversations.ts';
import { ContactInbox, Inbox } from '../entities/inboxes.ts';
import { Attachment, MAX_CONTENT_LENGTH, Message, MessageChange, type MessageType, type SenderType } from '../entities/messages.ts';
import { canWriteReadableConversation, findReadableConversation } from './access.ts';
import { attachmentsSchema, decodeAttachments, forgetAttachmentFiles, storeAttachments, type AttachmentInput, type DecodedAttachment } from './attachments.ts';
import { transact, type MessengerContext } from './context.ts';
import { changeStatus, conversationToWrite, isContactBlocked, openConversation } from './conversations.ts';
import { contactInboxFor, isWithinWorkingHours, lockContactThread } from './inboxes.ts';
import { conversationSnapshot, messageSnapshot, publishConversationEvent } from './realtime.ts';

/** More messages than this from one sender in a minute are refused (flood protection). */
export const FLOOD_LIMIT = 20;
const FLOOD_WINDOW_MS = 60_000;

export interface PostMessageInput {
  messageType: MessageType;
  senderType: SenderType;
  senderUserId?: string | null;
  senderContactId?: string | null;
  content?: string | null;
  private?: boolean;
  replyToId?: string | null;
  /** The message's id in the channel it came from: a second message with it in the same inbox is not created. */
  sourceId?: string | null;
  attachments?: AttachmentInput[] | null;
  /** The content and attachments already checked, the attachments decoded (`checkMessageInput`): not done again. */
  checked?: DecodedAttachment[];
  contentAttributes?: Record<string, unknown>;
  /** When it was written (default: now). */
  createdAt?: Date;
  /** Prefix of input paths in errors (default `input`). */
  field?: string;
  /** The sender's flood limit was checked (and counted) already, by a caller about to open the conversation. */
  floodChecked?: boolean;
}

export interface PostedMessage {
  message: Message;
  /** The sourceId was seen before: `message` is the earlier one and nothing was written. */
  duplicate: boolean;
}

/**
 * Refuses a new message past the sender's flood limit (RATE_LIMITED); the caller's transaction rolls
 * back. A caller that would open a conversation for the message checks first: the opening's
 * auto-assignment turns the round robin and charges an agent's limit, which no rollback gives back.
 */
export async function checkFlood(ctx: MessengerContext, companyId: string, input: Pick<PostMessageInput, 'senderType' | 'senderUserId' | 'senderContactId'>): Promise<void> {
  const sender = input.senderType === 'USER' ? input.senderUserId : input.senderType === 'CONTACT' ? input.senderContactId : null;
  if (!sender) return;
  const result = await ctx.kernel.limiter.hit(`messenger:flood:${companyId}:${sender}`, FLOOD_LIMIT, FLOOD_WINDOW_MS);
  if (!result.allowed) {
    throw new AtriumError('RATE_LIMITED', `More than ${FLOOD_LIMIT} messages a minute: wait a moment`, { retryAfterSeconds: Math.ceil(result.resetInMs / 1000) });
  }
}

/**
 * A sourceId seen before answers its message to the same sender in the same conversation alone (a
 * redelivery). Anyone else's is CONFLICT: a sourceId is the client's, and another's message — a
 * visitor's, an agent's private note — is never answered for it.
 */
function assertRedelivery(earlier: Message, conversationId: string | null, input: Pick<PostMessageInput, 'senderType' | 'senderUserId' | 'senderContactId' | 'field'>): Message {
  const same =
    earlier.conversationId === conversationId &&
    earlier.senderType === input.senderType &&
    (earlier.senderUserId ?? null) === (input.senderUserId ?? null) &&
    (earlier.senderContactId ?? null) === (input.senderContactId ?? null);
  if (!same) throw conflict('This sourceId is another message’s in the inbox', { field: input.field === '' ? 'sourceId' : `${input.field ?? 'input'}.sourceId` });
  return earlier;
}

/**
 * Inserts the message unless its sourceId is already in the scope: the unique index settles it
 * (`on conflict do nothing`), so concurrent deliveries of one sourceId make one row — the others
 * wait for the first to commit and then find it.
 */
async function insertMessage(tx: EntityManager, values: Record<string, unknown>): Promise<Message | null> {
  const columns = Object.keys(values);
  const rows = await executePrepared(
    tx,
    `insert into messenger_message (${columns.join(', ')}) values (${columns.map((c) => (c === 'content_attributes' ? '?::jsonb' : '?')).join(', ')})
     on conflict (dedup_scope, source_id) where source_id is not null do nothing returning *`,
    columns.map((column) => values[column]),
  );
  return rows[0] ? tx.map(Message, rows[0]) : null;
}

/** postMessage's checks of a message's content and attachments (BAD_USER_INPUT): answers the attachments decoded. */
function checkMessageInput(ctx: Pick<MessengerContext, 'options'>, input: Pick<PostMessageInput, 'messageType' | 'content' | 'attachments' | 'field'>): DecodedAttachment[] {
  const field = input.field ?? 'input';
  const content = input.content ?? null;
  if (content !== null && content.length > MAX_CONTENT_LENGTH) throw new BadUserInputError({ [`${field}.content`]: `is longer than ${MAX_CONTENT_LENGTH} characters` });
  const attachments = decodeAttachments(ctx, input.attachments, `${field}.attachments`);
  if (input.messageType !== 'ACTIVITY' && !content?.trim() && !attachments.length) throw new BadUserInputError({ [`${field}.content`]: 'is required (or an attachment)' });
  return attachments;
}

/**
 * Writes a message into a conversation (which the caller has locked) and applies its consequences:
 * an INCOMING message reopens a SNOOZED or RESOLVED inbox conversation (not for a blocked contact)
 * and starts `waitingSince`; an agent's public OUTGOING message sets `firstReplyCreatedAt` once and
 * ends the wait (`messenger.reply.created`); private notes change neither. Emits
 * `messenger.message.created` and queues a live MESSAGE_CREATED. The same sourceId again: the
 * earlier message, nothing written, nothing emitted. With `commit` (the caller's last step) the
 * transaction commits with the message's writes, in the same message to the database.
 */
export async function postMessage(tx: EntityManager, ctx: MessengerContext, conversation: Conversation, input: PostMessageInput, options: { commit?: boolean } = {}): Promise<PostedMessage> {
  const field = input.field ?? 'input';
  const content = input.content ?? null;
  const attachments = input.checked ?? checkMessageInput(ctx, input);
  if (input.replyToId) {
    const parent = await tx.count(Message, { id: input.replyToId, conversationId: conversation.id });
    if (!parent) throw new BadUserInputError({ [`${field}.replyToId`]: 'is not a message of this conversation' });
  }
  const companyId = conversation.companyId;
  const dedupScope = conversation.inboxId ?? conversation.id;
  const sourceId = input.sourceId ?? null;
  const message = await insertMessage(tx, {
    id: newId(),
    company_id: companyId,
    conversation_id: conversation.id,
    dedup_scope: dedupScope,
    message_type: input.messageType,
    private: input.private ?? false,
    content,
    content_attributes: JSON.stringify(input.contentAttributes ?? {}),
    sender_type: input.senderType,
    sender_user_id: input.senderUserId ?? null,
    sender_contact_id: input.senderContactId ?? null,
    reply_to_id: input.replyToId ?? null,
    status: 'SENT',
    source_id: sourceId,
    created_at: input.createdAt ?? new Date(),
  });
  if (!message) return { message: assertRedelivery(await tx.findOneOrFail(Message, { dedupScope, sourceId }), conversation.id, input), duplicate: true };
  // A redelivery (above) is not a new message: only new ones count. A refusal rolls the insert back.
  if (!input.floodChecked) await checkFlood(ctx, companyId, input);

  await storeAttachments(tx, ctx, message.id, companyId, attachments);
  ctx.emit(tx, 'messenger.message.created', {
    messageId: message.id,
    conversationId: conversation.id,
    messageType: message.messageType,
    private: message.private,
    senderType: message.senderType,
    senderUserId: message.senderUserId ?? null,
    senderContactId: message.senderContactId ?? null,
  });
  if (message.messageType !== 'ACTIVITY') conversation.lastActivityAt = message.createdAt;
  if (conversation.kind === 'INBOX' && !message.private) {
    if (message.messageType === 'INCOMING') {
      if ((conversation.status === 'SNOOZED' || conversation.status === 'RESOLVED') && !(await isContactBlocked(tx, conversation.contactId))) {
        await changeStatus(tx, ctx, conversation, 'OPEN');
      }
      if (!conversation.waitingSince && conversation.status !== 'RESOLVED') conversation.waitingSince = message.createdAt;
    } else if (message.messageType === 'OUTGOING' && message.senderType === 'USER') {
      if (!conversation.firstReplyCreatedAt) {
        conversation.firstReplyCreatedAt = message.createdAt;
        ctx.emit(tx, 'messenger.firstReply.created', { conversationId: conversation.id, messageId: message.id, senderUserId: message.senderUserId ?? null });
      }
      if (conversation.waitingSince) {
        const waitedSeconds = Math.max(0, Math.floor((message.createdAt.getTime() - conversation.waitingSince.getTime()) / 1000));
        ctx.emit(tx, 'messenger.reply.created', { conversationId: conversation.id, messageId: message.id, senderUserId: message.senderUserId ?? null, waitedSeconds });
        conversation.waitingSince = null;
      }
    }
  }
  await (options.commit ? flushAndCommit(tx) : tx.flush());
  publishConversationEvent(ctx, {
    type: 'MESSAGE_CREATED',
    conversationId: conversation.id,
    inboxId: conversation.inboxId ?? null,
    companyId,
    message: messageSnapshot(message),
    conversation: conversationSnapshot(conversation),
  });
  return { message, duplicate: false };
}

/** An ACTIVITY message ("assignee changed" …): `contentAttributes` carries `kind` and the attributes. */
export async function postActivity(tx: EntityManager, ctx: MessengerContext, conversation: Conversation, kind: string, attributes: Record<string, unknown> = {}): Promise<Message> {
  const { message } = await postMessage(tx, ctx, conversation, { messageType: 'ACTIVITY', senderType: 'SYSTEM', contentAttributes: { kind, ...attributes } });
  return message;
}

export interface IncomingInput {
  contactInbox: ContactInbox;
  content?: string | null;
  sourceId?: string | null;
  attachments?: AttachmentInput[] | null;
  field?: string;
}

export interface ReceivedMessage extends PostedMessage {
  conversation: Conversation;
}

/**
 * A contact's message arriving through its inbox (API channel, widget): it goes to the contact's
 * unresolved conversation (with `lockToSingleConversation`, any of the contact's in the inbox; else
 * the latest of this contact inbox), reopens a RESOLVED one when the inbox allows messages after
 * resolve, and otherwise starts a new conversation. Outside working hours, the first unanswered
 * message gets the inbox's out-of-office reply. With `commit` (the caller's last step) the
 * transaction commits with the last message's writes, as `postMessage`'s.
 */
export async function receiveIncoming(tx: EntityManager, ctx: MessengerContext, input: IncomingInput, options: { commit?: boolean } = {}): Promise<ReceivedMessage> {
  const { contactInbox } = input;
  const inbox = await tx.findOneOrFail(Inbox, { id: contactInbox.inboxId });
  await lockContactThread(tx, inbox, contactInbox);
  const earlier = input.sourceId ? await tx.findOne(Message, { dedupScope: inbox.id, sourceId: input.sourceId }) : null;
  if (earlier) {
    const conversation = await tx.findOneOrFail(Conversation, { id: earlier.conversationId });
    // A redelivery by the same contact — through a widget, by the very session (anyone can start one
    // as the contact); through an API channel, by any of its addresses (the company's bridge makes
    // them). Another's sourceId is CONFLICT.
    const here = inbox.channel !== 'WEB_WIDGET' || conversation.contactInboxId === contactInbox.id ? conversation.id : null;
    assertRedelivery(earlier, here, { senderType: 'CONTACT', senderContactId: contactInbox.contactId, field: input.field });
    return { message: earlier, duplicate: true, conversation };
  }
  const scope = inbox.lockToSingleConversation ? { inboxId: inbox.id, contactId: contactInbox.contactId } : { contactInboxId: contactInbox.id };
  let conversation =
    (await tx.findOne(Conversation, { ...scope, status: { $ne: 'RESOLVED' } }, { orderBy: { createdAt: 'desc', id: 'desc' }, lockMode: LockMode.PESSIMISTIC_WRITE })) ??
    (inbox.allowMessagesAfterResolved ? await tx.findOne(Conversation, { ...scope }, { orderBy: { createdAt: 'desc', id: 'desc' }, lockMode: LockMode.PESSIMISTIC_WRITE }) : null);
  // Refused input, or a sender past the flood limit, must not open a conversation: its auto-assignment
  // charges an agent's rate limit and turn in the round robin outside this transaction, which its
  // rollback would not give back.
  const checked = conversation ? undefined : checkMessageInput(ctx, { messageType: 'INCOMING', content: input.content, attachments: input.attachments, field: input.field });
  const sender = { senderType: 'CONTACT', senderContactId: contactInbox.contactId } as const;
  const opening = !conversation;
  if (!conversation) {
    await checkFlood(ctx, inbox.companyId, sender);
    conversation = await openConversation(tx, ctx, { kind: 'INBOX', branchId: inbox.branchId, inboxId: inbox.id, contactId: contactInbox.contactId, contactInboxId: contactInbox.id });
  }
  const wasWaiting = !!conversation.waitingSince;
  // Known before the message is written, so that the last write carries the commit: the
  // out-of-office reply when one may follow, else the message.
  const createdAt = new Date();
  const outOfOffice = !wasWaiting && inbox.outOfOfficeMessage && !isWithinWorkingHours(inbox, createdAt) ? inbox.outOfOfficeMessage : null;
  const posted = await postMessage(
    tx,
    ctx,
    conversation,
    {
      messageType: 'INCOMING',
      ...sender,
      content: input.content,
      sourceId: input.sourceId,
      attachments: input.attachments,
      checked,
      createdAt,
      field: input.field,
      floodChecked: opening,
    },
    { commit: options.commit && !outOfOffice },
  );
  if (outOfOffice && !posted.duplicate && conversation.status !== 'RESOLVED') {
    await postMessage(tx, ctx, conversation, { messageType: 'OUTGOING', senderType: 'SYSTEM', content: outOfOffice, contentAttributes: { kind: 'OUT_OF_OFFICE' } }, options);
  }
  return { ...posted, conversation };
}

// ——— What the GraphQL API does with messages (the caller's access checked here) ———

const text = { type: ['string', 'null'], maxLength: MAX_CONTENT_LENGTH };
const contentMessages = { content: `must be at most ${MAX_CONTENT_LENGTH} characters` };

export interface SendMessageInput {
  conversationId: string;
  content?: string | null;
  private?: boolean | null;
  replyToId?: string | null;
  sourceId?: string | null;
  attachments?: AttachmentInput[] | null;
}

const validateSend = createValidator<SendMessageInput>(
  {
    type: 'object',
    additionalProperties: false,
    required: ['conversationId'],
    properties: {
      conversationId: { type: 'string', format: 'uuid' },
      content: text,
      private: { type: ['boolean', 'null'] },
      replyToId: { type: ['string', 'null'], format: 'uuid' },
      sourceId: { type: ['string', 'null'], minLength: 1, maxLength: 255 },
      attachments: { ...attachmentsSchema, type: ['array', 'null'] },
    },
  },
  'input',
  contentMessages,
);

/** An agent writes into a conversation: a message (OUTGOING) or, with `private`, a note for agents. */
export async function sendMessage(ctx: MessengerContext, input: unknown): Promise<Message> {
  const viewer = requireUser(ctx);
  const data = validateSend(input);
  return transact(ctx, async (tx) => {
    const conversation = await conversationToWrite(tx, ctx, data.conversationId);
    const { message } = await postMessage(tx, ctx, conversation, {
      messageType: 'OUTGOING',
      senderType: 'USER',
      senderUserId: viewer.id,
      content: data.content,
      private: (conversation.kind === 'INBOX' && data.private) || false,
      replyToId: data.replyToId,
      sourceId: data.sourceId,
      attachments: data.attachments,
    }, { commit: true });
    return message;
  });
}

/** A signed-in user: the conversation's access rules decide the rest (canWriteReadableConversation). */
function requireUser(ctx: MessengerContext): Viewer {
  const viewer = ctx.viewer;
  if (!viewer) throw new AtriumError('UNAUTHENTICATED', 'Sign in first');
  if (viewer.kind !== 'user') throw forbidden('Messages are written by users (API keys deliver contacts’ messages with receiveMessage)');
  return viewer;
}

/** A message the viewer wrote, locked: NOT_FOUND when unreadable, FORBIDDEN when someone else's. */
async function ownMessage(tx: EntityManager, ctx: MessengerContext, id: string): Promise<Message> {
  const viewer = requireUser(ctx);
  const message = await lockById(tx, Message, id);
  const conversation = message && (await findReadableConversation({ em: tx, viewer }, message.conversationId));
  if (!message || !conversation) throw notFound('Message');
  if (message.senderType !== 'USER' || message.senderUserId !== viewer.id) throw forbidden('Only its author changes a message');
  if (!canWriteReadableConversation(viewer, conversation)) throw forbidden('You may not write to this conversation');
  if (message.deletedAt) throw new BadUserInputError({ id: 'is a deleted message' });
  return message;
}

async function publishMessageUpdate(tx: EntityManager, ctx: MessengerContext, message: Message): Promise<void> {
  const conversation = await tx.findOneOrFail(Conversation, { id: message.conversationId });
  publishConversationEvent(ctx, {
    type: 'MESSAGE_UPDATED',
    conversationId: conversation.id,
    inboxId: conversation.inboxId ?? null,
    companyId: conversation.companyId,
    message: messageSnapshot(message),
    conversation: conversationSnapshot(conversation),
  });
}

const validateEdit = createValidator<{ content: string }>(
  { type: 'object', required: ['content'], properties: { content: { type: 'string', minLength: 1, maxLength: MAX_CONTENT_LENGTH, pattern: '\\S' } } },
  '',
  { content: 'must be 1 to 150000 characters, not blank' },
);

/** The author changes a message's content; the content before is kept in messenger_message_change. */
export async function editMessage(ctx: MessengerContext, id: string, content: string): Promise<Message> {
  validateEdit({ content });
  return transact(ctx, async (tx) => {
    const message = await ownMessage(tx, ctx, id);
    if (message.content === content) return message;
    tx.create(MessageChange, { companyId: message.companyId, messageId: message.id, kind: 'EDITED', previousContent: message.content ?? null, changedById: ctx.viewer!.id });
    message.content = content;
    message.editedAt = new Date();
    await tx.flush();
    await publishMessageUpdate(tx, ctx, message);
    return message;
  });
}

/**
 * The author deletes a message for everyone: its content and attachments go, the message stays as
 * "deleted" in the history; the content before is kept in messenger_message_change.
 */
export async function deleteMessage(ctx: MessengerContext, id: string): Promise<Message> {
  return transact(ctx, async (tx) => {
    const message = await ownMessage(tx, ctx, id);
    tx.create(MessageChange, { companyId: message.companyId, messageId: message.id, kind: 'DELETED', previousContent: message.content ?? null, changedById: ctx.viewer!.id });
    const attachments = await tx.find(Attachment, { messageId: message.id });
    await forgetAttachmentFiles(tx, ctx, attachments.map((attachment) => attachment.storageKey));
    for (const attachment of attachments) tx.remove(attachment);
    message.content = null;
    message.deletedAt = new Date();
    await tx.flush();
    await publishMessageUpdate(tx, ctx, message);
    return message;
  });
}

/**
 * A conversation's messages, newest first, `first` (default 50) at a time: pass the page's
 * `endCursor` as `before` for older ones. NOT_FOUND when the conversation cannot be read.
 */
export async function listMessages(ctx: MessengerContext, args: { conversationId: string; first?: number | null; before?: string | null }): Promise<Connection<Message>> {
  if (!ctx.viewer) throw new AtriumError('UNAUTHENTICATED', 'Sign in first');
  const conversation = await findReadableConversation(ctx, args.conversationId);
  if (!conversation) throw notFound('Conversation');
  return messagesOf(ctx.em, conversation.id, args);
}

/** A page of a conversation's messages, newest first, read as plain rows (the list every open conversation reads). */
export function messagesOf(em: EntityManager, conversationId: string, args: { first?: number | null; before?: string | null }): Promise<Connection<Message>> {
  return paginateRows(em, Message, {
    first: args.first ?? 50,
    after: args.before,
    where: [sqlCondition('conversation_id = ?', conversationId)],
    orderBy: { createdAt: 'desc', id: 'desc' },
  });
}

const validateContactInbox = createValidator<{ inboxId: string; contactId: string; sourceId: string }>({
  type: 'object',
  additionalProperties: false,
  required: ['inboxId', 'contactId', 'sourceId'],
  properties: { inboxId: { type: 'string', format: 'uuid' }, contactId: { type: 'string', format: 'uuid' }, sourceId: { type: 'string', minLength: 1, maxLength: 255, pattern: '\\S' } },
});

/** A bridge registers a contact's address in an API inbox (idempotent for the same contact). */
export async function createContactInbox(ctx: MessengerContext, input: unknown): Promise<ContactInbox> {
  const data = validateContactInbox(input);
  return transact(ctx, async (tx) => {
    const inbox = await tx.findOne(Inbox, { id: data.inboxId });
    if (!inbox) throw notFound('Inbox');
    return contactInboxFor(tx, inbox, data.contactId, data.sourceId);
  });
}

export interface ReceiveMessageInput {
  contactInboxId: string;
  content?: string | null;
  sourceId?: string | null;
  attachments?: AttachmentInput[] | null;
}

const validateReceive = createValidator<ReceiveMessageInput>(
  {
    type: 'object',
    additionalProperties: false,
    required: ['contactInboxId'],
    properties: {
      contactInboxId: { type: 'string', format: 'uuid' },
      content: text,
      sourceId: { type: ['string', 'null'], minLength: 1, maxLength: 255 },
      attachments: { ...attachmentsSchema, type: ['array', 'null'] },
    },
  },
  'input',
  contentMessages,
);

/** A bridge delivers a contact's message (API channel): see receiveIncoming. The same sourceId again answers the first message. */
export async function receiveMessage(ctx: MessengerContext, input: unknown): Promise<Message> {
  const data = validateReceive(input);
  return transact(ctx, async (tx) => {
    const contactInbox = await tx.findOne(ContactInbox, { id: data.contactInboxId });
    if (!contactInbox) throw notFound('Contact inbox');
    const { message } = await receiveIncoming(tx, ctx, { contactInbox, content: data.content, sourceId: data.sourceId, attachments: data.attachments }, { commit: true });
    return message;
  });
}
