import { accessChanged, arrayParam, BadUserInputError, Branch, createValidator, isId, notFound, User, type Emit, type EntityManager, type Kernel, type Publish, type Viewer } from '@atrium/core';
import { Conversation } from '../entities/conversations.ts';
import { companyIdOf, serviceContext, transact, type MessengerContext } from './context.ts';
import { openConversation } from './conversations.ts';
import { conversationSnapshot, publishConversationEvent } from './realtime.ts';
import { lockKey } from './rooms.ts';

/**
 * Who opens or changes a record chat: another module's resolver context will do (or a listener's
 * pieces). `em` is scoped to the company. Given the caller's transaction, the chat commits with the
 * caller's record, and its live notices go out once the caller commits (none if it rolls back).
 */
export interface RecordChatCaller {
  em: EntityManager;
  kernel: Kernel;
  publish: Publish;
  viewer?: Viewer | null;
  emit?: Emit;
}

export interface OpenRecordChatInput {
  /** The record's kind, prefixed with its module: `construction.workOrder`. */
  subjectType: string;
  subjectId: string;
  branchId: string;
  title?: string | null;
  /** The users who may read and write the chat (admins aside); replaces the list of an existing chat. */
  participantIds: string[];
}

export interface RecordChatParticipantsInput {
  subjectType: string;
  subjectId: string;
  participantIds: string[];
}

/** A record's kind: its module, a dot, the kind (`construction.workOrder`); 3 to 100 characters. */
const SUBJECT_TYPE = '^[a-z][a-zA-Z0-9]*(\\.[a-zA-Z][a-zA-Z0-9]*)+$';
const subject = {
  subjectType: { type: 'string', minLength: 3, maxLength: 100, pattern: SUBJECT_TYPE },
  subjectId: { type: 'string', format: 'uuid' },
  participantIds: { type: 'array', maxItems: 100, items: { type: 'string', format: 'uuid' } },
};
const validateOpen = createValidator<OpenRecordChatInput>(
  {
    type: 'object',
    additionalProperties: false,
    required: ['subjectType', 'subjectId', 'branchId', 'participantIds'],
    properties: { ...subject, branchId: { type: 'string', format: 'uuid' }, title: { type: ['string', 'null'], minLength: 1, maxLength: 200 } },
  },
  'input',
  { subjectType: 'must be the module and the record kind, e.g. construction.workOrder' },
);
const validateParticipants = createValidator<RecordChatParticipantsInput>(
  { type: 'object', additionalProperties: false, required: ['subjectType', 'subjectId', 'participantIds'], properties: subject },
  'input',
  { subjectType: 'must be the module and the record kind, e.g. construction.workOrder' },
);

const contextOf = (caller: RecordChatCaller): MessengerContext => serviceContext(caller.kernel, caller.em, caller.viewer ?? null, caller.publish, caller.emit);

/** The participants, each an active user of the company (BAD_USER_INPUT naming the others), without repeats. */
async function checkParticipants(tx: EntityManager, ids: string[]): Promise<string[]> {
  const unique = [...new Set(ids)];
  const found = new Set((await tx.find(User, { id: { $in: unique }, active: true }, { fields: ['id'] as never })).map((user) => user.id));
  const fields: Record<string, string> = {};
  ids.forEach((id, index) => {
    if (!found.has(id)) fields[`input.participantIds.${index}`] = 'is not an active user of your company';
  });
  if (Object.keys(fields).length) throw new BadUserInputError(fields);
  return unique;
}

/**
 * Makes the chat's participants exactly `userIds`: leavers lose access with this commit (participation
 * is an access fact, see `isParticipant`, so the users who joined or left have their access stamps moved).
 */
async function replaceParticipants(tx: EntityManager, kernel: Kernel, conversation: Conversation, userIds: string[]): Promise<boolean> {
  const removed = await tx.execute<{ user_id: string }[]>(
    `delete from messenger_participant where conversation_id = ? and not (user_id = any(?::uuid[])) returning user_id`,
    [conversation.id, arrayParam(userIds)],
  );
  const added = userIds.length
    ? await tx.execute<{ user_id: string }[]>(
        `insert into messenger_participant (conversation_id, user_id, company_id)
         select ?, u, ? from unnest(?::uuid[]) as u on conflict do nothing returning user_id`,
        [conversation.id, conversation.companyId, arrayParam(userIds)],
      )
    : [];
  await accessChanged(tx, kernel, [...removed, ...added].map((row) => row.user_id));
  return removed.length + added.length > 0;
}

const recordKey = (companyId: string, subjectType: string, subjectId: string): string => `messenger.record:${companyId}:${subjectType}:${subjectId}`;

/**
 * Opens the chat of another module's record (one per record) between exactly `participantIds`
 * (admins may read and write it too). Opening it again answers the same chat, its participants
 * replaced by the ones given. The calling module has decided who may do this.
 */
export async function openRecordChat(caller: RecordChatCaller, input: unknown): Promise<Conversation> {
  const { subjectType, subjectId, branchId, title, participantIds } = validateOpen(input);
  const ctx = contextOf(caller);
  return transact(ctx, async (tx) => {
    const participants = await checkParticipants(tx, participantIds);
    if (!(await tx.count(Branch, { id: branchId }))) throw new BadUserInputError({ 'input.branchId': 'is not a branch of your company' });
    await lockKey(tx, recordKey(companyIdOf(tx), subjectType, subjectId));
    let conversation = await tx.findOne(Conversation, { kind: 'RECORD', subjectType, subjectId });
    if (!conversation) {
      conversation = await openConversation(tx, ctx, { kind: 'RECORD', branchId, subjectType, subjectId, title: title?.trim() || null });
    } else if (title !== undefined && (title?.trim() || null) !== conversation.title) {
      conversation.title = title?.trim() || null;
      await tx.flush();
    }
    if (await replaceParticipants(tx, ctx.kernel, conversation, participants)) queueUpdated(ctx, conversation);
    return conversation;
  });
}

/**
 * Replaces the participants of a record's chat (the record changed hands: an executor replaced).
 * Leavers lose access when this commits: their queries answer null, their writes NOT_FOUND, and their
 * live subscriptions stop receiving (access is checked per delivered event). NOT_FOUND when the
 * record has no chat.
 */
export async function setRecordChatParticipants(caller: RecordChatCaller, input: unknown): Promise<Conversation> {
  const { subjectType, subjectId, participantIds } = validateParticipants(input);
  const ctx = contextOf(caller);
  return transact(ctx, async (tx) => {
    const participants = await checkParticipants(tx, participantIds);
    await lockKey(tx, recordKey(companyIdOf(tx), subjectType, subjectId));
    const conversation = await tx.findOne(Conversation, { kind: 'RECORD', subjectType, subjectId });
    if (!conversation) throw notFound('Record chat');
    if (await replaceParticipants(tx, ctx.kernel, conversation, participants)) queueUpdated(ctx, conversation);
    return conversation;
  });
}

const subjectTypePattern = new RegExp(SUBJECT_TYPE);

/**
 * Whether a record chat can exist for the subject: a kind and an id that openRecordChat accepts. Any
 * other (a malformed id, NUL or a lone surrogate in the kind, which PostgreSQL refuses) has none.
 */
const isSubject = (subjectType: unknown, subjectId: unknown): boolean =>
  typeof subjectType === 'string' && subjectType.length <= 100 && subjectTypePattern.test(subjectType) && isId(subjectId);

/** The chat of a record, if it has one (no access check: for the module that owns the record); null for a malformed subject. */
export async function findRecordChat(caller: Pick<RecordChatCaller, 'em'>, subjectType: string, subjectId: string): Promise<Conversation | null> {
  return isSubject(subjectType, subjectId) ? caller.em.findOne(Conversation, { kind: 'RECORD', subjectType, subjectId }) : null;
}

/** The participants of record chats, for a page of conversations: one query. */
export async function participantsOf(em: EntityManager, conversationIds: readonly string[]): Promise<Map<string, string[]>> {
  const rows = conversationIds.length
    ? await em.execute<{ conversation_id: string; user_id: string }[]>(
        'select conversation_id, user_id from messenger_participant where conversation_id = any(?::uuid[]) order by created_at, user_id',
        [arrayParam(conversationIds)],
      )
    : [];
  const byConversation = new Map<string, string[]>();
  for (const row of rows) byConversation.set(row.conversation_id, [...(byConversation.get(row.conversation_id) ?? []), row.user_id]);
  return byConversation;
}

function queueUpdated(ctx: MessengerContext, conversation: Conversation): void {
  publishConversationEvent(ctx, { type: 'UPDATED', conversationId: conversation.id, inboxId: null, companyId: conversation.companyId, conversation: conversationSnapshot(conversation) });
}
