import {
  AtriumError,
  BadUserInputError,
  createValidator,
  forbidden,
  isId,
  LockMode,
  notFound,
  paginate,
  type Connection,
  type ConnectionArgs,
  type EntityManager,
  type FilterQuery,
  type Viewer,
} from '@atrium/core';
import { Contact, setContactBlocked } from '@atrium/crm';
import {
  Conversation,
  CONVERSATION_KINDS,
  CONVERSATION_STATUSES,
  PRIORITIES,
  type ConversationKind,
  type ConversationStatus,
  type Priority,
} from '../entities/conversations.ts';
import { Team } from '../entities/inboxes.ts';
import { MAX_CONTENT_LENGTH } from '../entities/messages.ts';
import { canWriteReadableConversation, findReadableConversation, isAdmin, isInboxMember, readableConversationsWhere, findReadableInbox } from './access.ts';
import { contactInboxFor, lockContactThread } from './inboxes.ts';
import { checkFlood, postMessage } from './messages.ts';
import { autoAssign } from './assignment.ts';
import { forgetAttachmentFiles } from './attachments.ts';
import { companyIdOf, transact, type MessengerContext } from './context.ts';
import { conversationSnapshot, publishConversationEvent } from './realtime.ts';

export interface OpenConversationInput {
  kind: ConversationKind;
  branchId: string;
  inboxId?: string | null;
  contactId?: string | null;
  contactInboxId?: string | null;
  roomName?: string | null;
  subjectType?: string | null;
  subjectId?: string | null;
  title?: string | null;
}

/** The company's next conversation number: incremented under the counter row's lock (one per company). */
async function nextDisplayId(tx: EntityManager, companyId: string): Promise<number> {
  const [row] = await tx.execute<{ last_display_id: number }[]>(
    `insert into messenger_counter (company_id, last_display_id) values (?, 1)
     on conflict (company_id) do update set last_display_id = messenger_counter.last_display_id + 1
     returning last_display_id`,
    [companyId],
  );
  return row!.last_display_id;
}

/** Whether the crm contact is blocked (its new conversations start RESOLVED, its messages reopen nothing). */
export async function isContactBlocked(tx: EntityManager, contactId: string | null | undefined): Promise<boolean> {
  if (!contactId) return false;
  const contact = await tx.findOne(Contact, { id: contactId }, { fields: ['blocked'] as never });
  return !!contact?.blocked;
}

/**
 * Starts a conversation: the company's next displayId, OPEN (RESOLVED when its contact is blocked),
 * `messenger.conversation.created`; an OPEN inbox conversation is then auto-assigned. Flushed.
 */
export async function openConversation(tx: EntityManager, ctx: MessengerContext, input: OpenConversationInput): Promise<Conversation> {
  const companyId = companyIdOf(tx);
  const blocked = input.kind === 'INBOX' && (await isContactBlocked(tx, input.contactId));
  const conversation = tx.create(Conversation, {
    companyId,
    branchId: input.branchId,
    displayId: await nextDisplayId(tx, companyId),
    kind: input.kind,
    inboxId: input.inboxId ?? null,
    contactId: input.contactId ?? null,
    contactInboxId: input.contactInboxId ?? null,
    roomName: input.roomName ?? null,
    subjectType: input.subjectType ?? null,
    subjectId: input.subjectId ?? null,
    title: input.title ?? null,
    status: blocked ? 'RESOLVED' : 'OPEN',
    labels: [],
    customAttributes: {},
  });
  ctx.emit(tx, 'messenger.conversation.created', {
    conversationId: conversation.id,
    displayId: conversation.displayId,
    kind: conversation.kind,
    inboxId: conversation.inboxId ?? null,
    contactId: conversation.contactId ?? null,
    status: conversation.status,
  });
  await tx.flush();
  if (conversation.status === 'OPEN') await autoAssign(tx, ctx, conversation);
  publishConversationEvent(ctx, { type: 'UPDATED', conversationId: conversation.id, inboxId: conversation.inboxId ?? null, companyId, conversation: conversationSnapshot(conversation) });
  await tx.flush();
  return conversation;
}

export interface ChangeStatusOptions {
  /** Required for SNOOZED (in the future), refused otherwise. */
  snoozedUntil?: Date | null;
  byUserId?: string | null;
  /** The input path errors about snoozedUntil are reported at. */
  field?: string;
}

/**
 * Moves a (locked) conversation to `status`: `snoozedUntil` only while SNOOZED, resolving clears
 * `waitingSince`, becoming OPEN auto-assigns. Emits `messenger.conversation.statusChanged` and a
 * live STATUS_CHANGED. The same status (and snooze time) again changes nothing. Answers whether it changed.
 */
export async function changeStatus(tx: EntityManager, ctx: MessengerContext, conversation: Conversation, status: ConversationStatus, options: ChangeStatusOptions = {}): Promise<boolean> {
  const field = options.field ?? 'snoozedUntil';
  const snoozedUntil = options.snoozedUntil ?? null;
  if (status === 'SNOOZED') {
    if (!snoozedUntil) throw new BadUserInputError({ [field]: 'is required to snooze a conversation' });
    if (snoozedUntil.getTime() <= Date.now()) throw new BadUserInputError({ [field]: 'must be in the future' });
  } else if (snoozedUntil) {
    throw new BadUserInputError({ [field]: 'is only set when snoozing (status SNOOZED)' });
  }
  const from = conversation.status;
  if (from === status && (conversation.snoozedUntil?.getTime() ?? null) === (snoozedUntil?.getTime() ?? null)) return false;
  conversation.status = status;
  conversation.snoozedUntil = snoozedUntil;
  if (status === 'RESOLVED') conversation.waitingSince = null;
  ctx.emit(tx, 'messenger.conversation.statusChanged', {
    conversationId: conversation.id,
    from,
    to: status,
    snoozedUntil: snoozedUntil?.toISOString() ?? null,
    changedById: options.byUserId ?? null,
  });
  await tx.flush();
  if (status === 'OPEN' && from !== 'OPEN') await autoAssign(tx, ctx, conversation);
  publishConversationEvent(ctx, { type: 'STATUS_CHANGED', conversationId: conversation.id, inboxId: conversation.inboxId ?? null, companyId: conversation.companyId, conversation: conversationSnapshot(conversation) });
  await tx.flush();
  return true;
}

/** Deletes a conversation for everyone: its messages, attachments (and their files), read states go with it. */
export async function deleteConversation(tx: EntityManager, ctx: MessengerContext, conversation: Conversation): Promise<void> {
  const files = await tx.execute<{ storage_key: string }[]>(
    'select a.storage_key from messenger_attachment a join messenger_message m on m.id = a.message_id where m.conversation_id = ?',
    [conversation.id],
  );
  const snapshot = conversationSnapshot(conversation);
  // Messages, attachments, participants and read states go by their foreign keys' cascades.
  await tx.execute('delete from messenger_conversation where id = ?', [conversation.id]);
  tx.getUnitOfWork().unsetIdentity(conversation);
  await forgetAttachmentFiles(tx, ctx, files.map((file) => file.storage_key));
  publishConversationEvent(ctx, { type: 'DELETED', conversationId: conversation.id, inboxId: conversation.inboxId ?? null, companyId: conversation.companyId, conversation: snapshot });
}

/** Reopens the SNOOZED conversations whose time came (the `messenger.reopenSnoozed` job), each in its company's scope. */
export async function reopenDueConversations(tx: EntityManager, ctxOf: (companyId: string) => MessengerContext, limit = 200): Promise<number> {
  const due = await tx.execute<{ id: string; company_id: string }[]>(
    `select id, company_id from messenger_conversation
      where status = 'SNOOZED' and snoozed_until <= now() order by snoozed_until limit ? for update skip locked`,
    [limit],
  );
  for (const row of due) {
    tx.setFilterParams('tenant', { companyId: row.company_id });
    const ctx = ctxOf(row.company_id);
    const conversation = await tx.findOneOrFail(Conversation, { id: row.id });
    await changeStatus(tx, ctx, conversation, 'OPEN');
  }
  return due.length;
}

// ——— What the GraphQL API does with conversations (the caller's access checked here) ———

const requireKey = (ctx: MessengerContext, key: string): Viewer => {
  const viewer = ctx.viewer;
  if (!viewer) throw new AtriumError('UNAUTHENTICATED', 'Sign in first');
  if (!viewer.keys.has(key)) throw forbidden(`This needs the permission ${key}`);
  return viewer;
};

/** A conversation the viewer may write to, locked; NOT_FOUND when it cannot be read, FORBIDDEN when only read. */
export async function conversationToWrite(tx: EntityManager, ctx: MessengerContext, id: string): Promise<Conversation> {
  const conversation = await findReadableConversation({ em: tx, viewer: ctx.viewer }, id, { lock: true });
  if (!conversation) throw notFound('Conversation');
  if (!canWriteReadableConversation(ctx.viewer, conversation)) throw forbidden('You may not write to this conversation');
  return conversation;
}

export interface ConversationFilter {
  status?: ConversationStatus | null;
  inboxId?: string | null;
  assigneeId?: string | null;
  label?: string | null;
  kind?: ConversationKind | null;
  contactId?: string | null;
}

const validateFilter = createValidator<ConversationFilter>(
  {
    type: 'object',
    additionalProperties: false,
    properties: {
      status: { enum: [...CONVERSATION_STATUSES, null] },
      inboxId: { type: ['string', 'null'], format: 'uuid' },
      assigneeId: { type: ['string', 'null'], format: 'uuid' },
      label: { type: ['string', 'null'], maxLength: 50 },
      kind: { enum: [...CONVERSATION_KINDS, null] },
      contactId: { type: ['string', 'null'], format: 'uuid' },
    },
  },
  'filter',
);

/** The conversations the viewer may read, newest activity first, filtered in SQL. */
export function listConversations(ctx: MessengerContext, args: ConnectionArgs & { filter?: ConversationFilter | null }): Promise<Connection<Conversation>> {
  if (!ctx.viewer) throw new AtriumError('UNAUTHENTICATED', 'Sign in first');
  const filter = validateFilter(args.filter ?? {});
  const readable = readableConversationsWhere(ctx);
  const where: FilterQuery<Conversation>[] = [readable ?? { id: null }];
  if (filter.status) where.push({ status: filter.status });
  if (filter.inboxId) where.push({ inboxId: filter.inboxId });
  if (filter.assigneeId) where.push({ assigneeId: filter.assigneeId });
  if (filter.kind) where.push({ kind: filter.kind });
  if (filter.contactId) where.push({ contactId: filter.contactId });
  if (filter.label) where.push({ labels: { $contains: [filter.label.trim()] } });
  return paginate(ctx.em, Conversation, { ...args, where: { $and: where }, orderBy: { lastActivityAt: 'desc', id: 'desc' } });
}

export const findConversation = (ctx: MessengerContext, id: string): Promise<Conversation | null> => findReadableConversation(ctx, id);

const validateCreate = createValidator<{ inboxId: string; contactId: string; content?: string | null; sourceId?: string | null; private?: boolean | null }>({
  type: 'object',
  additionalProperties: false,
  required: ['inboxId', 'contactId'],
  properties: {
    inboxId: { type: 'string', format: 'uuid' },
    contactId: { type: 'string', format: 'uuid' },
    content: { type: ['string', 'null'], maxLength: MAX_CONTENT_LENGTH },
    sourceId: { type: ['string', 'null'], minLength: 1, maxLength: 255 },
  },
});

/**
 * An agent starts a conversation with a contact in an inbox (the contact's address in it is found
 * or made), optionally with a first OUTGOING message. With `lockToSingleConversation`, the
 * contact's unresolved conversation there is answered instead of a second one.
 */
export async function createConversation(ctx: MessengerContext, input: unknown): Promise<Conversation> {
  const viewer = requireKey(ctx, 'messenger.conversation.reply');
  const data = validateCreate(input);
  return transact(ctx, async (tx) => {
    const inbox = await findReadableInbox({ em: tx, viewer }, data.inboxId);
    if (!inbox) throw new BadUserInputError({ 'input.inboxId': 'is not an inbox you answer' });
    if (!isAdmin(viewer) && !(await isInboxMember({ em: tx }, viewer, inbox.id))) throw new BadUserInputError({ 'input.inboxId': 'is not an inbox you answer' });
    const contactInbox = await contactInboxFor(tx, inbox, data.contactId, data.sourceId ?? null);
    await lockContactThread(tx, inbox, contactInbox);
    let conversation = inbox.lockToSingleConversation
      ? await tx.findOne(Conversation, { inboxId: inbox.id, contactId: data.contactId, status: { $ne: 'RESOLVED' } }, { orderBy: { createdAt: 'desc', id: 'desc' }, lockMode: LockMode.PESSIMISTIC_WRITE })
      : null;
    const message = data.content?.trim() ? ({ messageType: 'OUTGOING', senderType: 'USER', senderUserId: viewer.id, content: data.content } as const) : null;
    const opening = !conversation;
    if (opening && message) await checkFlood(ctx, inbox.companyId, message);
    conversation ??= await openConversation(tx, ctx, { kind: 'INBOX', branchId: inbox.branchId, inboxId: inbox.id, contactId: data.contactId, contactInboxId: contactInbox.id });
    if (message) await postMessage(tx, ctx, conversation, { ...message, floodChecked: opening });
    return conversation;
  });
}

const validateStatus = createValidator<{ status: ConversationStatus; snoozedUntil?: Date | null }>(
  { type: 'object', required: ['status'], properties: { status: { enum: [...CONVERSATION_STATUSES] }, snoozedUntil: {} } },
  '',
);

export async function setConversationStatus(ctx: MessengerContext, id: string, status: ConversationStatus, snoozedUntil: Date | null | undefined): Promise<Conversation> {
  const viewer = requireKey(ctx, 'messenger.conversation.reply');
  validateStatus({ status, snoozedUntil });
  return transact(ctx, async (tx) => {
    const conversation = await conversationToWrite(tx, ctx, id);
    if (conversation.kind !== 'INBOX') throw new BadUserInputError({ conversationId: 'is a room or record chat: it has no status to change' });
    await changeStatus(tx, ctx, conversation, status, { snoozedUntil: snoozedUntil ?? null, byUserId: viewer.kind === 'user' ? viewer.id : null });
    return conversation;
  });
}

const validateUpdate = createValidator<{ priority?: Priority | null; labels?: string[]; customAttributes?: Record<string, unknown>; teamId?: string | null; title?: string | null }>({
  type: 'object',
  additionalProperties: false,
  properties: {
    priority: { enum: [...PRIORITIES, null] },
    labels: { type: 'array', maxItems: 50, items: { type: 'string', minLength: 1, maxLength: 50, pattern: '\\S' } },
    customAttributes: { type: 'object', maxProperties: 100 },
    teamId: { type: ['string', 'null'], format: 'uuid' },
    title: { type: ['string', 'null'], maxLength: 200 },
  },
});

/** Priority, labels (replaced whole), custom attributes (replaced whole), team, title. */
export async function updateConversation(ctx: MessengerContext, id: string, input: unknown): Promise<Conversation> {
  requireKey(ctx, 'messenger.conversation.reply');
  const data = validateUpdate(input);
  return transact(ctx, async (tx) => {
    const conversation = await conversationToWrite(tx, ctx, id);
    if (data.teamId && !(await tx.findOne(Team, { id: data.teamId }))) throw new BadUserInputError({ 'input.teamId': 'is not a team of your company' });
    const changes: Partial<Conversation> = { ...data } as Partial<Conversation>;
    if (data.labels) changes.labels = [...new Set(data.labels.map((label) => label.trim()))];
    tx.assign(conversation, changes);
    await tx.flush();
    publishConversationEvent(ctx, { type: 'UPDATED', conversationId: conversation.id, inboxId: conversation.inboxId ?? null, companyId: conversation.companyId, conversation: conversationSnapshot(conversation) });
    return conversation;
  });
}

/** Deletes a conversation for everyone (messenger.conversation.delete, and the conversation readable). */
export async function removeConversation(ctx: MessengerContext, id: string): Promise<boolean> {
  requireKey(ctx, 'messenger.conversation.delete');
  return transact(ctx, async (tx) => {
    const conversation = await findReadableConversation({ em: tx, viewer: ctx.viewer }, id, { lock: true });
    if (!conversation) throw notFound('Conversation');
    await deleteConversation(tx, ctx, conversation);
    return true;
  });
}

/**
 * Blocks (or unblocks) a contact: its new conversations start RESOLVED and its messages reopen
 * nothing. Needs messenger.conversation.reply and a conversation with the contact one can read
 * (admins: any contact of the company).
 */
export async function blockContact(ctx: MessengerContext, contactId: string, blocked: boolean): Promise<Contact> {
  const viewer = requireKey(ctx, 'messenger.conversation.reply');
  return transact(ctx, async (tx) => {
    const readable = readableConversationsWhere({ viewer });
    const reachable = isId(contactId) && (isAdmin(viewer) || (readable && (await tx.count(Conversation, { $and: [{ contactId }, readable] }))));
    const contact = reachable ? await setContactBlocked(tx, ctx.emit, contactId, blocked) : null;
    if (!contact) throw notFound('Contact');
    return contact;
  });
}
