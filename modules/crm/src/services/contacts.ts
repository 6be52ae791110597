import {
  accessibleRows,
  accessibleWhere,
  arrayParam,
  AtriumError,
  BadUserInputError,
  Branch,
  conflict,
  createValidator,
  flushOrConflict,
  forbidden,
  isId,
  LockMode,
  newId,
  notFound,
  paginateRows,
  sqlCondition,
  User,
  type Connection,
  type ConnectionArgs,
  type Emit,
  type EntityManager,
  type FilterQuery,
  type Viewer,
} from '@atrium/core';
import { parsePhoneNumberFromString, type CountryCode } from 'libphonenumber-js';
import { Contact, ContactEmail, CONTACT_KINDS, type ContactKind } from '../entities/contact.ts';
import { recordActivity } from './activity.ts';
import { checkAttributes, readSettings } from './attributes.ts';
import type { CrmContext } from './context.ts';

export interface ContactInput {
  kind?: ContactKind;
  name?: string;
  emails?: string[];
  phones?: string[];
  identifier?: string | null;
  ownerId?: string | null;
  branchId?: string;
  labels?: string[];
  blocked?: boolean;
  customAttributes?: Record<string, unknown>;
}

const contactFields = {
  kind: { enum: [...CONTACT_KINDS] },
  name: { type: 'string', minLength: 1, maxLength: 200, pattern: '\\S' },
  emails: { type: 'array', maxItems: 20, items: { type: 'string', format: 'email', maxLength: 320 } },
  phones: { type: 'array', maxItems: 20, items: { type: 'string', minLength: 3, maxLength: 40 } },
  identifier: { type: ['string', 'null'], minLength: 1, maxLength: 200 },
  ownerId: { type: ['string', 'null'], format: 'uuid' },
  branchId: { type: 'string', format: 'uuid' },
  labels: { type: 'array', maxItems: 50, items: { type: 'string', minLength: 1, maxLength: 50, pattern: '\\S' } },
  blocked: { type: 'boolean' },
  customAttributes: { type: 'object' },
};
const checkCreate = createValidator<ContactInput & { name: string }>({ type: 'object', additionalProperties: false, required: ['name'], properties: contactFields });
const checkUpdate = createValidator<ContactInput>({ type: 'object', additionalProperties: false, properties: contactFields });

/** Pasted addresses often carry spaces around them: trimmed before they are checked. */
function trimEmails(input: unknown): unknown {
  const emails = (input as { emails?: unknown } | null)?.emails;
  return Array.isArray(emails) ? { ...(input as object), emails: emails.map((email) => (typeof email === 'string' ? email.trim() : email)) } : input;
}
const validateCreate = (input: unknown) => checkCreate(trimEmails(input));
const validateUpdate = (input: unknown) => checkUpdate(trimEmails(input));

export interface ContactFilter {
  search?: string | null;
  labels?: string[] | null;
  blocked?: boolean | null;
  branchId?: string | null;
  ownerId?: string | null;
  deleted?: boolean | null;
}

const validateFilter = createValidator<ContactFilter>(
  {
    type: 'object',
    additionalProperties: false,
    properties: {
      search: { type: ['string', 'null'], maxLength: 200 },
      labels: { type: ['array', 'null'], maxItems: 20, items: { type: 'string', maxLength: 50 } },
      blocked: { type: ['boolean', 'null'] },
      branchId: { type: ['string', 'null'], format: 'uuid' },
      ownerId: { type: ['string', 'null'], format: 'uuid' },
      deleted: { type: ['boolean', 'null'] },
    },
  },
  'filter',
);

/** What the viewer may do with contacts, as a SQL filter; `null` when nothing. */
export function contactsWhere(viewer: Viewer, action: 'read' | 'update' | 'delete' = 'read'): FilterQuery<Contact> | null {
  return accessibleWhere(viewer.ability, action, 'Contact') as FilterQuery<Contact> | null;
}

/**
 * A contact the viewer may read (deleted ones included), or null — another company's id is simply
 * not found. `lock`, in a transaction, for a record about to reference it: the row stays locked until
 * the transaction ends, so that a merge or deletion of the contact under way is waited for (and then
 * seen), and one that comes later waits for the record (and moves it). `PESSIMISTIC_WRITE` when the
 * transaction updates the contact too (its activity): two shared locks would deadlock on the update.
 */
export async function findContact(em: EntityManager, viewer: Viewer, id: string, options: { lock?: LockMode.PESSIMISTIC_READ | LockMode.PESSIMISTIC_WRITE } = {}): Promise<Contact | null> {
  const where = contactsWhere(viewer);
  if (!where || !isId(id)) return null;
  return em.findOne(Contact, { $and: [{ id }, where] }, options.lock ? { lockMode: options.lock, refresh: true } : {});
}

/** A live contact the viewer may change; NOT_FOUND when it cannot be seen, FORBIDDEN when it can only be read. */
async function contactToChange(em: EntityManager, viewer: Viewer, id: string, lock = false): Promise<Contact> {
  const contact = isId(id) ? await em.findOne(Contact, { $and: [{ id }, contactsWhere(viewer) ?? { id: null }] }, lock ? { lockMode: LockMode.PESSIMISTIC_WRITE } : {}) : null;
  if (!contact) throw notFound('Contact');
  if (!viewer.ability.can('update', contact)) throw forbidden('You may not change contacts of this branch');
  return contact;
}

export interface ContactListArgs extends ConnectionArgs {
  filter?: ContactFilter | null;
  orderBy?: 'NAME' | 'NEWEST' | null;
}

/**
 * A page of the contacts the viewer may read, filtered in SQL and read as plain rows (the hottest
 * list of the CRM); given the GraphQL fields asked of each contact, only the columns they need.
 */
export function listContacts(em: EntityManager, viewer: Viewer, args: ContactListArgs, fields?: readonly string[]): Promise<Connection<Contact>> {
  const readable = accessibleRows(em, viewer.ability, 'read', Contact);
  if (!readable) throw forbidden('This needs the permission crm.contact.read');
  const filter = validateFilter(args.filter ?? {});
  const where = [readable, sqlCondition(filter.deleted ? 'deleted_at is not null' : 'deleted_at is null')];
  if (filter.blocked != null) where.push(sqlCondition('blocked = ?', filter.blocked));
  if (filter.branchId) where.push(sqlCondition('branch_id = ?', filter.branchId));
  if (filter.ownerId) where.push(sqlCondition('owner_id = ?', filter.ownerId));
  if (filter.labels?.length) where.push(sqlCondition('labels @> ?::text[]', arrayParam(filter.labels.map((label) => label.trim()))));
  const query = filter.search ? searchQuery(filter.search) : undefined;
  if (query) where.push(sqlCondition(`search @@ to_tsquery('simple', ?)`, query));
  const orderBy = args.orderBy === 'NEWEST' ? ({ createdAt: 'desc', id: 'desc' } as const) : ({ name: 'asc', id: 'asc' } as const);
  // The owner and branch loaders are not narrowed: their rows come with the page.
  const select = fields && { fields, ability: viewer.ability, references: { owner: User, branch: Branch } };
  return paginateRows(em, Contact, { ...args, where, orderBy, ...(select ? { select } : {}) });
}

/**
 * A tsquery matching every word of the search as a prefix. Words are cut at anything but letters,
 * digits and the characters of addresses; a phone number's digits match however it was written.
 */
export function searchQuery(search: string): string | undefined {
  // A phone number typed with spaces ("90 123 45") is one number, not three words.
  const digits = search.replace(/\D/g, '');
  if (/^[+\d\s().-]+$/.test(search.trim()) && digits.length >= 5) return `'${digits}':*`;
  const words = search
    .split(/[^\p{L}\p{N}@._+-]+/u)
    .map((word) => (/^\+?[\d\s().-]{5,}$/.test(word) ? word.replace(/\D/g, '') : word.replace(/^[._+-]+|[._+-]+$/g, '')))
    .filter(Boolean)
    .slice(0, 8);
  return words.length ? words.map((word) => `'${word.toLowerCase()}':*`).join(' & ') : undefined;
}

/**
 * What a contact is found by: name, identifier, each address whole and then as its local part
 * followed by its domain (a partly typed address is searched as a phrase of the two), and each phone
 * as E.164, digits, and national digits.
 */
function searchTextOf(contact: Pick<Contact, 'name' | 'identifier' | 'emails' | 'phones'>): string {
  const emails = contact.emails.flatMap((email) => [email, ...email.split('@')]);
  const phones = contact.phones.flatMap((phone) => [phone.slice(1), parsePhoneNumberFromString(phone)?.nationalNumber ?? '']);
  return [contact.name, contact.identifier ?? '', ...emails, ...phones].join(' ').toLowerCase();
}

function normaliseEmails(emails: string[]): string[] {
  return [...new Set(emails.map((email) => email.toLowerCase()))];
}

function normalisePhones(phones: string[], country: string | null): string[] {
  const fields: Record<string, string> = {};
  const numbers = phones.map((text, index) => {
    const number = parsePhoneNumberFromString(text, country ? { defaultCountry: country as CountryCode } : undefined);
    if (!number?.isValid()) fields[`input.phones.${index}`] = country ? 'is not a valid phone number' : 'is not a valid phone number (write it with its country code, e.g. +44…)';
    return number?.number ?? '';
  });
  if (Object.keys(fields).length) throw new BadUserInputError(fields);
  return [...new Set(numbers)];
}

const normaliseLabels = (labels: string[]): string[] => [...new Set(labels.map((label) => label.trim()))];

/** Checks references and normalises the fields given; throws before anything is written. */
async function prepare(em: EntityManager, input: ContactInput): Promise<Partial<Contact>> {
  const settings = await readSettings(em);
  const data: Partial<Contact> = {};
  if (input.kind !== undefined) data.kind = input.kind;
  if (input.name !== undefined) data.name = input.name.trim();
  if (input.emails !== undefined) data.emails = normaliseEmails(input.emails);
  if (input.phones !== undefined) data.phones = normalisePhones(input.phones, settings.defaultPhoneCountry ?? null);
  if (input.identifier !== undefined) data.identifier = input.identifier?.trim() || null;
  if (input.labels !== undefined) data.labels = normaliseLabels(input.labels);
  if (input.blocked !== undefined) data.blocked = input.blocked;
  if (input.customAttributes !== undefined) data.customAttributes = checkAttributes(settings.contactAttributeSchema, input.customAttributes, 'input.customAttributes');
  if (input.ownerId) {
    // Looked up through the tenant filter: a user of another company is unknown here.
    const owner = await em.findOne(User, { id: input.ownerId, active: true });
    if (!owner) throw new BadUserInputError({ 'input.ownerId': 'is not an active user of your company' });
  }
  if (input.ownerId !== undefined) data.ownerId = input.ownerId ?? null;
  if (input.branchId !== undefined) {
    if (!(await em.findOne(Branch, { id: input.branchId }))) throw new BadUserInputError({ 'input.branchId': 'is not a branch of your company' });
    data.branchId = input.branchId;
  }
  return data;
}

/** The branch a new contact lands in when none is given: the viewer's first, else the company's first. */
async function defaultBranch(em: EntityManager, viewer: Viewer): Promise<string> {
  if (viewer.branchIds[0]) return viewer.branchIds[0];
  const [branch] = await em.find(Branch, {}, { orderBy: { createdAt: 'asc', id: 'asc' }, limit: 1 });
  if (!branch) throw new AtriumError('INTERNAL', 'The company has no branch');
  return branch.id;
}

const conflictOf = (constraint: string | undefined): AtriumError =>
  constraint === 'crm_contact_company_identifier_key'
    ? conflict('Another contact of your company has this identifier', { field: 'input.identifier' })
    : conflict('Another contact of your company has this e-mail address (deleted contacts keep theirs until merged)', { field: 'input.emails' });

/** Makes the contact's addresses the ones claimed for it: releases dropped ones, claims new ones. */
async function claimEmails(em: EntityManager, contact: Contact, previous: readonly string[]): Promise<void> {
  const dropped = previous.filter((email) => !contact.emails.includes(email));
  if (dropped.length) await em.nativeDelete(ContactEmail, { contactId: contact.id, email: { $in: dropped } });
  for (const email of contact.emails.filter((address) => !previous.includes(address))) em.create(ContactEmail, { companyId: contact.companyId, email, contactId: contact.id });
}

/**
 * Blocks or unblocks a live contact for another module (the messenger's blockContact): the caller
 * checks its own permission and runs it in its transaction. Null when the contact is not found;
 * emits `crm.contact.updated` when it changes.
 */
export async function setContactBlocked(em: EntityManager, emit: Emit, contactId: string, blocked: boolean): Promise<Contact | null> {
  const contact = isId(contactId) ? await em.findOne(Contact, { id: contactId, deletedAt: null }, { lockMode: LockMode.PESSIMISTIC_WRITE }) : null;
  if (!contact || contact.blocked === blocked) return contact;
  contact.blocked = blocked;
  emit(em, 'crm.contact.updated', { contactId: contact.id, changed: ['blocked'] });
  await em.flush();
  return contact;
}

export async function createContact({ em, viewer, emit }: CrmContext, input: unknown): Promise<Contact> {
  const data = await prepare(em, validateCreate(input));
  const contact = em.create(Contact, {
    kind: 'PERSON',
    emails: [],
    phones: [],
    labels: [],
    customAttributes: {},
    blocked: false,
    ...data,
    branchId: data.branchId ?? (await defaultBranch(em, viewer)),
    companyId: viewer.companyId,
    searchText: '',
  } as Contact);
  contact.searchText = searchTextOf(contact);
  if (!viewer.ability.can('create', contact)) throw forbidden('You may not add contacts to this branch');
  await em.transactional(async (tx) => {
    await claimEmails(tx, contact, []);
    emit(tx, 'crm.contact.created', { contactId: contact.id });
    await flushOrConflict(tx, conflictOf);
  });
  return contact;
}

export async function updateContact({ em, viewer, emit }: CrmContext, id: string, input: unknown): Promise<Contact> {
  const changes = validateUpdate(input);
  return em.transactional(async (tx) => {
    const contact = await contactToChange(tx, viewer, id, true);
    if (contact.deletedAt) throw new BadUserInputError({ id: 'is a deleted contact: restore it first' });
    const data = await prepare(tx, changes);
    const previousEmails = [...contact.emails];
    const changed = Object.keys(data).filter((key) => JSON.stringify(data[key as keyof Contact]) !== JSON.stringify(contact[key as keyof Contact]));
    tx.assign(contact, data);
    // Moving a contact to another branch needs the right in the branch it goes to as well.
    if (!viewer.ability.can('update', contact)) throw forbidden('You may not move contacts to this branch');
    if (!changed.length) return contact;
    contact.searchText = searchTextOf(contact);
    await claimEmails(tx, contact, previousEmails);
    emit(tx, 'crm.contact.updated', { contactId: contact.id, changed });
    await flushOrConflict(tx, conflictOf);
    return contact;
  });
}

/** Soft-deletes a contact: it leaves lists and searches, keeps its history, and can be restored. */
export async function deleteContact({ em, viewer, emit }: CrmContext, id: string): Promise<Contact> {
  return em.transactional(async (tx) => {
    const contact = await contactToChange(tx, viewer, id, true);
    if (!viewer.ability.can('delete', contact)) throw forbidden('You may not delete contacts of this branch');
    if (contact.deletedAt) return contact;
    contact.deletedAt = new Date();
    emit(tx, 'crm.contact.deleted', { contactId: contact.id });
    await tx.flush();
    return contact;
  });
}

export async function restoreContact({ em, viewer, emit }: CrmContext, id: string): Promise<Contact> {
  return em.transactional(async (tx) => {
    const contact = await contactToChange(tx, viewer, id, true);
    if (contact.mergedIntoId) throw new BadUserInputError({ id: 'was merged into another contact and cannot be restored' });
    if (!contact.deletedAt) return contact;
    contact.deletedAt = null;
    emit(tx, 'crm.contact.restored', { contactId: contact.id });
    await tx.flush();
    return contact;
  });
}

const validateMerge = createValidator<{ survivorId: string; mergedId: string }>({
  type: 'object',
  additionalProperties: false,
  required: ['survivorId', 'mergedId'],
  properties: { survivorId: { type: 'string', format: 'uuid' }, mergedId: { type: 'string', format: 'uuid' } },
});

/** Every column of the database that references a contact (this module's tables and other modules'). */
async function contactReferences(em: EntityManager): Promise<{ table: string; column: string }[]> {
  return em.getConnection().execute<{ table: string; column: string }[]>(
    `select c.conrelid::regclass::text as "table", quote_ident(a.attname) as "column"
       from pg_constraint c join pg_attribute a on a.attrelid = c.conrelid and a.attnum = any (c.conkey)
      where c.contype = 'f' and c.confrelid = 'crm_contact'::regclass`,
    [],
    'all',
    em.getTransactionContext(),
  );
}

/**
 * Merges one contact into another: the survivor gains the other's addresses, phones and labels (and
 * its identifier and custom attributes where it has none), every reference to the merged contact —
 * in any module's table — moves to the survivor, and the merged contact is deleted with a pointer to
 * the survivor. Emits one `crm.contact.merged`.
 */
export async function mergeContacts({ em, viewer, emit }: CrmContext, input: unknown): Promise<Contact> {
  const { survivorId, mergedId } = validateMerge(input);
  if (survivorId === mergedId) throw new BadUserInputError({ 'input.mergedId': 'must differ from survivorId' });
  return em.transactional(async (tx) => {
    // Locked in id order, so that two merges of the same pair cannot deadlock.
    const [first, second] = [survivorId, mergedId].sort();
    const locked = new Map<string, Contact>();
    for (const id of [first!, second!]) locked.set(id, await contactToChange(tx, viewer, id, true));
    const survivor = locked.get(survivorId)!;
    const merged = locked.get(mergedId)!;
    if (!viewer.ability.can('delete', merged)) throw forbidden('You may not delete contacts of this branch');
    if (survivor.deletedAt) throw new BadUserInputError({ 'input.survivorId': 'is a deleted contact' });
    if (merged.deletedAt) throw new BadUserInputError({ 'input.mergedId': 'is a deleted contact' });

    const identifier = survivor.identifier ?? merged.identifier;
    const attributes = { ...merged.customAttributes, ...survivor.customAttributes };
    const { contactAttributeSchema } = await readSettings(tx);
    let keepAttributes = true;
    try {
      checkAttributes(contactAttributeSchema, attributes, 'customAttributes');
    } catch {
      keepAttributes = false;
    }
    // The identifier is unique: release it from the merged contact before the survivor takes it.
    const retired = { identifier: null, deletedAt: new Date(), mergedIntoId: survivor.id };
    await tx.nativeUpdate(Contact, { id: merged.id }, retired);
    tx.assign(merged, retired);
    const connection = tx.getConnection();
    for (const { table, column } of await contactReferences(tx)) {
      await connection.execute(`update ${table} set ${column} = ? where ${column} = ?`, [survivor.id, merged.id], 'run', tx.getTransactionContext());
    }
    tx.assign(survivor, {
      emails: [...new Set([...survivor.emails, ...merged.emails])],
      phones: [...new Set([...survivor.phones, ...merged.phones])],
      labels: [...new Set([...survivor.labels, ...merged.labels])],
      identifier,
      ...(keepAttributes ? { customAttributes: attributes } : {}),
      lastActivityAt: [survivor.lastActivityAt, merged.lastActivityAt].filter((date): date is Date => !!date).sort((a, b) => b.getTime() - a.getTime())[0] ?? null,
    });
    survivor.searchText = searchTextOf(survivor);
    await recordActivity(tx, { contactId: survivor.id, kind: 'crm.contact.merged', title: `Merged with ${merged.name}`, subjectType: 'Contact', subjectId: merged.id, actorId: viewer.kind === 'user' ? viewer.id : null });
    emit(tx, 'crm.contact.merged', { survivorId: survivor.id, mergedId: merged.id });
    await tx.flush();
    return survivor;
  });
}

export interface ContactByEmailInput {
  companyId: string;
  /** The branch a new contact lands in. */
  branchId: string;
  email: string;
  /** The name a new contact gets (an existing contact keeps its own). */
  name: string;
}

/**
 * The contact an e-mail address belongs to, or a new contact with it: for channels where people
 * introduce themselves (a website widget), so without a viewer — the caller decides who may. Runs
 * inside the caller's transaction. The address is claimed first (insert … on conflict do nothing),
 * so two calls at once with one new address make one contact. An existing contact is not changed.
 * Emits crm.contact.created when it creates one.
 */
export async function findOrCreateContactByEmail(tx: EntityManager, emit: Emit, input: ContactByEmailInput): Promise<{ contact: Contact; created: boolean }> {
  const email = input.email.trim().toLowerCase();
  const id = newId();
  const claimed = await tx
    .getConnection()
    .execute<{ contact_id: string }[]>(
      'insert into crm_contact_email (company_id, email, contact_id) values (?, ?, ?) on conflict do nothing returning contact_id',
      [input.companyId, email, id],
      'all',
      tx.getTransactionContext(),
    );
  if (!claimed.length) {
    const claim = await tx.findOneOrFail(ContactEmail, { companyId: input.companyId, email });
    return { contact: await tx.findOneOrFail(Contact, { id: claim.contactId }), created: false };
  }
  const contact = tx.create(Contact, {
    id,
    kind: 'PERSON',
    name: input.name.trim(),
    emails: [email],
    phones: [],
    labels: [],
    customAttributes: {},
    blocked: false,
    branchId: input.branchId,
    companyId: input.companyId,
    searchText: '',
  });
  contact.searchText = searchTextOf(contact);
  emit(tx, 'crm.contact.created', { contactId: contact.id });
  await tx.flush();
  return { contact, created: true };
}
