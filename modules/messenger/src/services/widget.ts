import {
  arrayParam,
  AtriumError,
  companyEm,
  createValidator,
  enabledModules,
  newId,
  notFound,
  paginateRows,
  sqlCondition,
  systemEm,
  type Connection,
  type Kernel,
  type Publish,
  type Topic,
} from '@atrium/core';
import { findOrCreateContactByEmail } from '@atrium/crm';
import { Conversation } from '../entities/conversations.ts';
import { ContactInbox } from '../entities/inboxes.ts';
import { Attachment, MAX_CONTENT_LENGTH, Message } from '../entities/messages.ts';
import { serviceContext, transact, type MessengerContext } from './context.ts';
import { secretToken } from './inboxes.ts';
import { receiveIncoming } from './messages.ts';
import { conversationSnapshot, inboxTopic, publishConversationEvent, type ConversationEvent } from './realtime.ts';

/** Widget sessions (each may start a conversation) one client address may start per window. */
export const WIDGET_SESSIONS_PER_IP = 20;
const WIDGET_SESSION_WINDOW_MS = 60 * 60_000;

/** What a public widget call runs with: no viewer, the client's address. */
export interface WidgetCaller {
  kernel: Kernel;
  publish: Publish;
  ip: string;
}

/** A widget session (a contact inbox of a WEB_WIDGET inbox), found by its secret token across companies. */
export interface WidgetSession {
  contactInboxId: string;
  companyId: string;
  inboxId: string;
}

export interface WidgetSessionStarted {
  token: string;
  contactInboxId: string;
  inboxName: string;
}

const validateStart = createValidator<{ inboxToken: string; contact: { name: string; email: string } }>(
  {
    type: 'object',
    additionalProperties: false,
    required: ['inboxToken', 'contact'],
    properties: {
      inboxToken: { type: 'string', minLength: 1, maxLength: 64 },
      contact: {
        type: 'object',
        additionalProperties: false,
        required: ['name', 'email'],
        properties: {
          name: { type: 'string', minLength: 1, maxLength: 200, pattern: '\\S' },
          email: { type: 'string', format: 'email', maxLength: 320 },
        },
      },
    },
  },
  '',
  { name: 'must not be blank' },
);

const validateSend = createValidator<{ content: string; sourceId?: string | null }>(
  {
    type: 'object',
    additionalProperties: false,
    required: ['content'],
    properties: {
      content: { type: 'string', minLength: 1, maxLength: MAX_CONTENT_LENGTH, pattern: '\\S' },
      sourceId: { type: ['string', 'null'], minLength: 1, maxLength: 255 },
    },
  },
  '',
  { content: `must be 1 to ${MAX_CONTENT_LENGTH} characters, not only blanks` },
);

/** Whether the company's plan (and overrides) leave the messenger on: off, its widget answers MODULE_DISABLED. */
async function assertEnabled(caller: WidgetCaller, companyId: string): Promise<void> {
  const em = systemEm(caller.kernel);
  const [plan] = await em.execute<{ modules: string[] }[]>('select p.modules from company c join plan p on p.id = c.plan_id where c.id = ?', [companyId]);
  const overrides = await em.execute<{ module: string; enabled: boolean | null }[]>('select module, enabled from company_module where company_id = ?', [companyId]);
  if (!enabledModules(caller.kernel.modules, plan?.modules ?? [], overrides).has('messenger')) {
    throw new AtriumError('MODULE_DISABLED', 'The module "messenger" is not enabled for this company', { module: 'messenger' });
  }
}

/** The session of a token; NOT_FOUND for anything else (a malformed, unknown or removed token alike). */
export async function findWidgetSession(caller: WidgetCaller, token: unknown): Promise<WidgetSession> {
  const rows =
    typeof token === 'string' && /^[\w-]{20,64}$/.test(token)
      ? await systemEm(caller.kernel).execute<{ id: string; company_id: string; inbox_id: string }[]>(
          `select ci.id, ci.company_id, ci.inbox_id from messenger_contact_inbox ci
             join messenger_inbox i on i.id = ci.inbox_id where ci.pubsub_token = ? and i.channel = 'WEB_WIDGET'`,
          [token],
        )
      : [];
  const row = rows[0];
  if (!row) throw notFound('Widget session');
  await assertEnabled(caller, row.company_id);
  return { contactInboxId: row.id, companyId: row.company_id, inboxId: row.inbox_id };
}

const contextFor = (caller: WidgetCaller, companyId: string): MessengerContext => serviceContext(caller.kernel, companyEm(caller.kernel, companyId), null, caller.publish);

/**
 * A visitor introduces themself to a website widget (by the inbox's public token): the crm contact
 * with this e-mail address (a new one if none has it) gets a new contact inbox — a session whose
 * secret token reaches this session's conversations and nothing else. Knowing an address never
 * opens another session's history. Rate-limited per client address (RATE_LIMITED, nothing written).
 */
export async function widgetStartSession(caller: WidgetCaller, inboxToken: unknown, contact: unknown): Promise<WidgetSessionStarted> {
  const input = validateStart({ inboxToken, contact });
  const limit = await caller.kernel.limiter.hit(`messenger:widget-session:${caller.ip}`, WIDGET_SESSIONS_PER_IP, WIDGET_SESSION_WINDOW_MS);
  if (!limit.allowed) {
    throw new AtriumError('RATE_LIMITED', 'Too many chat sessions from your address: try again later', { retryAfterSeconds: Math.ceil(limit.resetInMs / 1000) });
  }
  const [inbox] = await systemEm(caller.kernel).execute<{ id: string; company_id: string; branch_id: string; name: string }[]>(
    `select id, company_id, branch_id, name from messenger_inbox where token = ? and channel = 'WEB_WIDGET'`,
    [input.inboxToken],
  );
  if (!inbox) throw notFound('Inbox');
  await assertEnabled(caller, inbox.company_id);
  const ctx = contextFor(caller, inbox.company_id);
  return transact(ctx, async (tx) => {
    const { contact: found } = await findOrCreateContactByEmail(tx, ctx.emit, {
      companyId: inbox.company_id,
      branchId: inbox.branch_id,
      email: input.contact.email,
      name: input.contact.name,
    });
    const session = tx.create(ContactInbox, { companyId: inbox.company_id, inboxId: inbox.id, contactId: found.id, sourceId: newId(), pubsubToken: secretToken() } as ContactInbox);
    await tx.flush();
    return { token: session.pubsubToken, contactInboxId: session.id, inboxName: inbox.name };
  });
}

/** The visitor writes: the message goes to the session's conversation (a new one when none is open; see receiveIncoming). */
export async function widgetSendMessage(caller: WidgetCaller, token: unknown, content: unknown, sourceId: unknown): Promise<Message> {
  const input = validateSend(sourceId === undefined ? { content } : { content, sourceId });
  const session = await findWidgetSession(caller, token);
  const ctx = contextFor(caller, session.companyId);
  return transact(ctx, async (tx) => {
    const contactInbox = await tx.findOneOrFail(ContactInbox, { id: session.contactInboxId });
    const { message } = await receiveIncoming(tx, ctx, { contactInbox, content: input.content, sourceId: input.sourceId ?? null, field: '' }, { commit: true });
    return message;
  });
}

/** A visitor's reads move contactLastSeenAt at most this often per conversation (each is a write). */
const READ_THROTTLE_MS = 15_000;

/**
 * The visitor has seen its conversations: their contactLastSeenAt moves to now (unless it moved in the
 * last 15 s: answers false then) and the company's messages up to now turn READ. Agents get an
 * UPDATED live event with the conversation.
 */
export async function widgetMarkRead(caller: WidgetCaller, token: unknown): Promise<boolean> {
  const session = await findWidgetSession(caller, token);
  const ctx = contextFor(caller, session.companyId);
  return transact(ctx, async (tx) => {
    const now = new Date();
    // The throttle is the row's own condition: two reads at once move it once.
    const moved = await tx.execute<{ id: string }[]>(
      `update messenger_conversation set contact_last_seen_at = ?
        where contact_inbox_id = ? and (contact_last_seen_at is null or contact_last_seen_at <= ?) returning id`,
      [now, session.contactInboxId, new Date(now.getTime() - READ_THROTTLE_MS)],
    );
    if (!moved.length) return false;
    const ids = arrayParam(moved.map((row) => row.id));
    await tx.execute(
      `update messenger_message set status = 'READ'
        where conversation_id = any(?::uuid[]) and message_type = 'OUTGOING' and not private and status in ('SENT', 'DELIVERED') and created_at <= ?`,
      [ids, now],
    );
    for (const conversation of await tx.find(Conversation, { id: { $in: moved.map((row) => row.id) } })) {
      publishConversationEvent(ctx, { type: 'UPDATED', conversationId: conversation.id, inboxId: conversation.inboxId ?? null, companyId: conversation.companyId, conversation: conversationSnapshot(conversation) });
    }
    return true;
  });
}

/** What a visitor sees of a conversation: no private notes, no activity notices (assignments…). */
const visibleToVisitor = sqlCondition(`private = false and message_type <> 'ACTIVITY'`);

/** The session's messages (of all its conversations), newest first, `first` (default 50) at a time; `before` is a page's endCursor. */
export async function widgetMessages(caller: WidgetCaller, token: unknown, args: { first?: number | null; before?: string | null }): Promise<Connection<Message>> {
  const session = await findWidgetSession(caller, token);
  const em = companyEm(caller.kernel, session.companyId);
  const ofSession = sqlCondition('conversation_id in (select c.id from messenger_conversation c where c.contact_inbox_id = ?)', session.contactInboxId);
  return paginateRows(em, Message, {
    first: args.first ?? 50,
    after: args.before,
    where: [ofSession, visibleToVisitor],
    orderBy: { createdAt: 'desc', id: 'desc' },
  });
}

/** The attachments of messages a session reached, per message (read across companies: the ids come from the session's own messages). */
export async function attachmentsOf(kernel: Kernel, messageIds: readonly string[]): Promise<Map<string, Attachment[]>> {
  const rows = messageIds.length
    ? await systemEm(kernel).find(Attachment, { messageId: { $in: [...messageIds] } }, { orderBy: { createdAt: 'asc', id: 'asc' }, filters: false })
    : [];
  const byMessage = new Map<string, Attachment[]>();
  for (const row of rows) byMessage.set(row.messageId, [...(byMessage.get(row.messageId) ?? []), row]);
  return byMessage;
}

/** The live events a session's subscriber may get; the ids of its conversations are learnt as they arrive. */
export interface WidgetListener {
  session: WidgetSession;
  conversationIds: Set<string>;
}

/** Starts listening for a session: its inbox's topic, filtered to its conversations by `widgetEventVisible`. */
export async function widgetListener(caller: WidgetCaller, token: unknown): Promise<{ listener: WidgetListener; topic: Topic<ConversationEvent> }> {
  const session = await findWidgetSession(caller, token);
  const rows = await companyEm(caller.kernel, session.companyId).execute<{ id: string }[]>('select id from messenger_conversation where contact_inbox_id = ?', [session.contactInboxId]);
  return { listener: { session, conversationIds: new Set(rows.map((row) => row.id)) }, topic: inboxTopic(session.companyId, session.inboxId) };
}

/**
 * Whether a live event of the inbox goes to the session's visitor: only events of its own
 * conversations, never private notes (nor typing marked private) or activity notices, and nothing
 * internal (assignment, labels).
 */
export function widgetEventVisible(listener: WidgetListener, event: ConversationEvent): boolean {
  if (event.companyId !== listener.session.companyId) return false;
  if (event.conversation?.contactInboxId === listener.session.contactInboxId) listener.conversationIds.add(event.conversationId);
  if (!listener.conversationIds.has(event.conversationId)) return false;
  switch (event.type) {
    case 'MESSAGE_CREATED':
    case 'MESSAGE_UPDATED':
      return !!event.message && !event.message.private && event.message.messageType !== 'ACTIVITY';
    case 'TYPING':
      return event.typing?.private !== true;
    case 'STATUS_CHANGED':
    case 'READ':
    case 'DELETED':
      return true;
    default:
      return false;
  }
}
