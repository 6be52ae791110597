import { randomBytes } from 'node:crypto';
import {
  accessChanged,
  type AtriumError,
  BadUserInputError,
  Branch,
  conflict,
  createValidator,
  flushOrConflict,
  isId,
  lockById,
  newId,
  notFound,
  User,
  type EntityManager,
  type FilterQuery,
} from '@atrium/core';
import { Contact } from '@atrium/crm';
import { CHANNELS, ContactInbox, Inbox, InboxMember, type Channel, type WorkingDay } from '../entities/inboxes.ts';
import { findReadableInbox, readableInboxesWhere } from './access.ts';
import { rebuildAssignmentQueue } from './assignment.ts';
import { transact, type MessengerContext } from './context.ts';

/** A secret for URLs and sessions: 32 random bytes, base64url (43 characters). */
export const secretToken = (): string => randomBytes(32).toString('base64url');

const TIME = '^([01][0-9]|2[0-3]):[0-5][0-9]$|^24:00$';
const settings = {
  name: { type: 'string', minLength: 1, maxLength: 100, pattern: '\\S' },
  branchId: { type: 'string', format: 'uuid' },
  autoAssign: { type: 'boolean' },
  maxOpenPerAgent: { type: ['integer', 'null'], minimum: 1, maximum: 10_000 },
  assignmentLimit: { type: 'integer', minimum: 1, maximum: 10_000 },
  assignmentWindowSeconds: { type: 'integer', minimum: 1, maximum: 86_400 },
  workingHours: {
    type: ['array', 'null'],
    maxItems: 21,
    items: {
      type: 'object',
      additionalProperties: false,
      required: ['day', 'open', 'close'],
      properties: { day: { type: 'integer', minimum: 0, maximum: 6 }, open: { type: 'string', pattern: TIME }, close: { type: 'string', pattern: TIME } },
    },
  },
  timezone: { type: 'string', minLength: 1, maxLength: 64 },
  outOfOfficeMessage: { type: ['string', 'null'], maxLength: 10_000 },
  lockToSingleConversation: { type: 'boolean' },
  allowMessagesAfterResolved: { type: 'boolean' },
};
const messages = { open: 'must be a time HH:MM', close: 'must be a time HH:MM', name: 'must not be blank' };

export type InboxSettings = Partial<Omit<Inbox, 'id' | 'companyId' | 'token' | 'createdAt' | 'channel'>>;
const validateCreate = createValidator<InboxSettings & { name: string; channel: Channel }>(
  { type: 'object', additionalProperties: false, required: ['name', 'channel'], properties: { ...settings, channel: { enum: [...CHANNELS] } } },
  'input',
  messages,
);
const validateUpdate = createValidator<InboxSettings>({ type: 'object', additionalProperties: false, properties: settings }, 'input', messages);

function checkTimezone(timezone: string | undefined): void {
  if (timezone === undefined) return;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: timezone });
  } catch {
    throw new BadUserInputError({ 'input.timezone': 'is not an IANA time zone (e.g. Asia/Tashkent)' });
  }
}

function checkWorkingHours(hours: WorkingDay[] | null | undefined): void {
  const fields: Record<string, string> = {};
  (hours ?? []).forEach((day, index) => {
    if (day.open >= day.close) fields[`input.workingHours.${index}.close`] = 'must be after open';
  });
  if (Object.keys(fields).length) throw new BadUserInputError(fields);
}

/** Whether `at` falls in the inbox's working hours (no hours: always). */
export function isWithinWorkingHours(inbox: Pick<Inbox, 'workingHours' | 'timezone'>, at: Date): boolean {
  if (!inbox.workingHours?.length) return true;
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat('en-US', { timeZone: inbox.timezone, weekday: 'short', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' })
      .formatToParts(at)
      .map((part) => [part.type, part.value]),
  );
  const day = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'].indexOf(parts.weekday!);
  const time = `${parts.hour}:${parts.minute}`;
  return inbox.workingHours.some((hours) => hours.day === day && hours.open <= time && time < hours.close);
}

const nameTaken = (): AtriumError => conflict('Another inbox of your company has this name', { field: 'input.name' });

async function checkBranch(em: EntityManager, branchId: string | undefined): Promise<void> {
  if (branchId && !(await em.findOne(Branch, { id: branchId }))) throw new BadUserInputError({ 'input.branchId': 'is not a branch of your company' });
}

export async function createInbox(ctx: MessengerContext, input: unknown): Promise<Inbox> {
  const data = validateCreate(input);
  checkTimezone(data.timezone);
  checkWorkingHours(data.workingHours);
  const viewer = ctx.viewer!;
  return transact(ctx, async (tx) => {
    await checkBranch(tx, data.branchId);
    const branchId = data.branchId ?? viewer.branchIds[0] ?? (await tx.findOneOrFail(Branch, {}, { orderBy: { createdAt: 'asc', id: 'asc' } })).id;
    const inbox = tx.create(Inbox, { ...data, name: data.name.trim(), branchId, companyId: viewer.companyId, token: secretToken() } as Inbox);
    await flushOrConflict(tx, nameTaken);
    return inbox;
  });
}

async function inboxToManage(tx: EntityManager, id: string): Promise<Inbox> {
  const inbox = await lockById(tx, Inbox, id);
  if (!inbox) throw notFound('Inbox');
  return inbox;
}

export async function updateInbox(ctx: MessengerContext, id: string, input: unknown): Promise<Inbox> {
  const data = validateUpdate(input);
  checkTimezone(data.timezone);
  checkWorkingHours(data.workingHours);
  return transact(ctx, async (tx) => {
    const inbox = await inboxToManage(tx, id);
    await checkBranch(tx, data.branchId);
    tx.assign(inbox, { ...data, ...(data.name ? { name: data.name.trim() } : {}) });
    await flushOrConflict(tx, nameTaken);
    return inbox;
  });
}

/** A membership's user, checked before any lookup: PostgreSQL refuses what is not a uuid. */
function checkMember(userId: string): void {
  if (!isId(userId)) throw new BadUserInputError({ userId: 'must be a user id' });
}

/** Adds an active user of the company to the inbox's agents (idempotent) and rebuilds its round-robin queue. */
export async function addInboxMember(ctx: MessengerContext, inboxId: string, userId: string): Promise<Inbox> {
  checkMember(userId);
  return transact(ctx, async (tx) => {
    const inbox = await inboxToManage(tx, inboxId);
    const user = await tx.findOne(User, { id: userId, active: true } as FilterQuery<User>);
    if (!user) throw new BadUserInputError({ userId: 'is not an active user of your company' });
    const added = await tx.execute(
      'insert into messenger_inbox_member (inbox_id, user_id, company_id, created_at) values (?, ?, ?, ?) on conflict do nothing returning user_id',
      [inbox.id, user.id, inbox.companyId, new Date()],
    );
    // Membership grants access to the inbox's conversations (see isInboxMember).
    if (added.length) await accessChanged(tx, ctx.kernel, [user.id]);
    await rebuildAssignmentQueue(tx, ctx, inbox.id);
    return inbox;
  });
}

/** Takes a user out of the inbox's agents (idempotent) and rebuilds its round-robin queue. */
export async function removeInboxMember(ctx: MessengerContext, inboxId: string, userId: string): Promise<Inbox> {
  checkMember(userId);
  return transact(ctx, async (tx) => {
    const inbox = await inboxToManage(tx, inboxId);
    if (await tx.nativeDelete(InboxMember, { inboxId: inbox.id, userId })) await accessChanged(tx, ctx.kernel, [userId]);
    await rebuildAssignmentQueue(tx, ctx, inbox.id);
    return inbox;
  });
}

export function listInboxes(ctx: MessengerContext): Promise<Inbox[]> {
  const where = readableInboxesWhere(ctx);
  return where ? ctx.em.find(Inbox, where, { orderBy: { name: 'asc', id: 'asc' } }) : Promise.resolve([]);
}

export const findInbox = findReadableInbox;

/**
 * Takes a contact's incoming messages and new conversations in an inbox one at a time, until the
 * transaction ends, so that two never start two conversations: with `lockToSingleConversation`, the
 * contact's whole thread in the inbox (a transaction-level advisory lock on the pair: it holds even
 * when the contact's first address there is this transaction's own, not yet visible to others); else
 * this one address's row. Every caller takes it before the company's conversation counter, so no two
 * of them deadlock.
 */
export async function lockContactThread(tx: EntityManager, inbox: Inbox, contactInbox: ContactInbox): Promise<void> {
  await tx.execute(
    inbox.lockToSingleConversation
      ? `select pg_advisory_xact_lock(hashtextextended('messenger.thread:' || ? || ':' || ?, 0))`
      : 'select id from messenger_contact_inbox where id = ? for update',
    inbox.lockToSingleConversation ? [inbox.id, contactInbox.contactId] : [contactInbox.id],
  );
}

/**
 * The contact's address in the inbox: the contact inbox with this sourceId, created for the contact
 * when new. A sourceId of another contact is CONFLICT. Without one: the contact's first address in
 * the inbox — but in a website widget's, a new one, since there every address is a visitor's session
 * and anyone can start one with any e-mail address.
 */
export async function contactInboxFor(tx: EntityManager, inbox: Inbox, contactId: string, sourceId: string | null): Promise<ContactInbox> {
  const contact = await tx.findOne(Contact, { id: contactId, deletedAt: null } as FilterQuery<Contact>);
  if (!contact) throw new BadUserInputError({ 'input.contactId': 'is not a contact of your company' });
  if (sourceId === null && inbox.channel !== 'WEB_WIDGET') {
    const existing = await tx.findOne(ContactInbox, { inboxId: inbox.id, contactId }, { orderBy: { createdAt: 'asc', id: 'asc' } });
    if (existing) return existing;
  }
  const source = sourceId ?? newId();
  await tx.execute(
    `insert into messenger_contact_inbox (id, company_id, inbox_id, contact_id, source_id, pubsub_token, created_at)
     values (?, ?, ?, ?, ?, ?, ?) on conflict (inbox_id, source_id) do nothing`,
    [newId(), inbox.companyId, inbox.id, contactId, source, secretToken(), new Date()],
  );
  const contactInbox = await tx.findOneOrFail(ContactInbox, { inboxId: inbox.id, sourceId: source });
  if (contactInbox.contactId !== contactId) throw conflict('This sourceId belongs to another contact of the inbox', { field: 'input.sourceId' });
  return contactInbox;
}
