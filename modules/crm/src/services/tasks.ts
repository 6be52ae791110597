import {
  accessibleWhere,
  AtriumError,
  BadUserInputError,
  Branch,
  createValidator,
  forbidden,
  isId,
  LockMode,
  lockById,
  notFound,
  pageArgs,
  paginate,
  User,
  type Connection,
  type ConnectionArgs,
  type EntityManager,
  type FilterQuery,
  type Viewer,
} from '@atrium/core';
import { ContactActivity } from '../entities/activity.ts';
import { Contact } from '../entities/contact.ts';
import { Deal } from '../entities/deals.ts';
import { CrmNote, CrmTask } from '../entities/tasks.ts';
import { recordActivity } from './activity.ts';
import { contactsWhere, findContact } from './contacts.ts';
import { dealsWhere, findDeal } from './deals.ts';
import type { CrmContext } from './context.ts';

/** The user behind a change; API keys are not users, so their changes carry no author. */
const actorOf = (viewer: Viewer): string | null => (viewer.kind === 'user' ? viewer.id : null);

// ---------------------------------------------------------------------------------------------
// The records a task or note is about
// ---------------------------------------------------------------------------------------------

/** A live contact the viewer may read, for linking (locked until the transaction ends: see findContact); BAD_USER_INPUT on `field` otherwise. */
async function linkedContact(em: EntityManager, viewer: Viewer, id: string, field: string): Promise<Contact> {
  const contact = await findContact(em, viewer, id, { lock: LockMode.PESSIMISTIC_WRITE });
  if (!contact) throw new BadUserInputError({ [field]: 'is not a contact you can see' });
  if (contact.deletedAt) throw new BadUserInputError({ [field]: 'is a deleted contact' });
  return contact;
}

async function linkedDeal(em: EntityManager, viewer: Viewer, id: string, field: string): Promise<Deal> {
  const deal = await findDeal(em, viewer, id);
  if (!deal) throw new BadUserInputError({ [field]: 'is not a deal you can see' });
  return deal;
}

// ---------------------------------------------------------------------------------------------
// Tasks
// ---------------------------------------------------------------------------------------------

export interface TaskInput {
  title?: string;
  description?: string | null;
  assigneeId?: string | null;
  dueAt?: Date | null;
  contactId?: string | null;
  dealId?: string | null;
  branchId?: string | null;
}

const taskFields = {
  title: { type: 'string', minLength: 1, maxLength: 200, pattern: '\\S' },
  description: { type: ['string', 'null'], maxLength: 10000 },
  assigneeId: { type: ['string', 'null'], format: 'uuid' },
  // A Date: the DateTime scalar has parsed and checked it already.
  dueAt: { type: ['object', 'null'] },
  contactId: { type: ['string', 'null'], format: 'uuid' },
  dealId: { type: ['string', 'null'], format: 'uuid' },
  branchId: { type: ['string', 'null'], format: 'uuid' },
};
const validateCreateTask = createValidator<TaskInput & { title: string }>({ type: 'object', additionalProperties: false, required: ['title'], properties: taskFields });
const validateUpdateTask = createValidator<TaskInput>({ type: 'object', additionalProperties: false, properties: taskFields });

export interface TaskFilter {
  assigneeId?: string | null;
  mine?: boolean | null;
  done?: boolean | null;
  contactId?: string | null;
  dealId?: string | null;
  dueBefore?: Date | null;
}

const validateTaskFilter = createValidator<TaskFilter>(
  {
    type: 'object',
    additionalProperties: false,
    properties: {
      assigneeId: { type: ['string', 'null'], format: 'uuid' },
      mine: { type: ['boolean', 'null'] },
      done: { type: ['boolean', 'null'] },
      contactId: { type: ['string', 'null'], format: 'uuid' },
      dealId: { type: ['string', 'null'], format: 'uuid' },
      dueBefore: { type: ['object', 'null'] },
    },
  },
  'filter',
);

export type TaskOrder = 'DUE' | 'NEWEST';

export interface TaskListArgs extends ConnectionArgs {
  filter?: TaskFilter | null;
  orderBy?: TaskOrder | null;
}

/** What the viewer may do with tasks, as a SQL filter; `null` when nothing. */
export function tasksWhere(viewer: Viewer, action: 'read' | 'update' = 'read'): FilterQuery<CrmTask> | null {
  return accessibleWhere(viewer.ability, action, 'CrmTask') as FilterQuery<CrmTask> | null;
}

/** A task the viewer may read, or null. */
export async function findTask(em: EntityManager, viewer: Viewer, id: string): Promise<CrmTask | null> {
  const where = tasksWhere(viewer);
  return where && isId(id) ? em.findOne(CrmTask, { $and: [{ id }, where] }) : null;
}

/** A page of the tasks the viewer may read, filtered in SQL; by due date (undated last) or newest first. */
export function listTasks(em: EntityManager, viewer: Viewer, args: TaskListArgs): Promise<Connection<CrmTask>> {
  const readable = tasksWhere(viewer);
  if (!readable) throw forbidden('This needs the permission crm.task.read');
  const filter = validateTaskFilter(args.filter ?? {});
  const where: FilterQuery<CrmTask>[] = [readable];
  // An API key is nobody's assignee: `mine` then matches nothing.
  if (filter.mine) where.push({ assigneeId: actorOf(viewer) ?? { $in: [] } });
  if (filter.assigneeId) where.push({ assigneeId: filter.assigneeId });
  if (filter.done != null) where.push({ done: filter.done });
  if (filter.contactId) where.push({ contactId: filter.contactId });
  if (filter.dealId) where.push({ dealId: filter.dealId });
  if (filter.dueBefore) where.push({ dueAt: { $lt: filter.dueBefore } });
  const orderBy = args.orderBy === 'NEWEST' ? ({ createdAt: 'desc', id: 'desc' } as const) : ({ dueAt: 'asc nulls last', id: 'asc' } as const);
  return paginate(em, CrmTask, { ...args, where: { $and: where }, orderBy });
}

/** The open tasks of a batch of contacts (Contact.tasks), by due date; null per contact without crm.task.read. */
export async function openTasksOf(em: EntityManager, viewer: Viewer, contactIds: string[]): Promise<Map<string, CrmTask[]> | null> {
  const readable = tasksWhere(viewer);
  if (!readable) return null;
  const byContact = new Map<string, CrmTask[]>(contactIds.map((id) => [id, []]));
  if (!contactIds.length) return byContact;
  const tasks = await em.find(CrmTask, { $and: [{ contactId: { $in: contactIds }, done: false }, readable] }, { orderBy: { dueAt: 'asc nulls last', id: 'asc' } });
  for (const task of tasks) byContact.get(task.contactId!)?.push(task);
  return byContact;
}

/**
 * Checks the input's references and works out the branch: the linked deal's, else the linked
 * contact's, else the one given, else (a new task) the viewer's first or the company's first. Throws
 * BAD_USER_INPUT before anything is written. `current` holds the task's links when it is updated.
 */
async function taskPlacement(
  em: EntityManager,
  viewer: Viewer,
  input: TaskInput,
  current?: Pick<CrmTask, 'contactId' | 'dealId' | 'branchId'>,
): Promise<Pick<CrmTask, 'contactId' | 'dealId' | 'branchId'>> {
  const contactId = input.contactId !== undefined ? input.contactId : (current?.contactId ?? null);
  const dealId = input.dealId !== undefined ? input.dealId : (current?.dealId ?? null);
  // A link the task already had is kept even if its contact was deleted since; a new one must be live and readable.
  const contact = contactId && contactId !== current?.contactId ? await linkedContact(em, viewer, contactId, 'input.contactId') : undefined;
  const deal = dealId && dealId !== current?.dealId ? await linkedDeal(em, viewer, dealId, 'input.dealId') : undefined;
  // Unchanged links and no branch asked for: the task stays where it is (even if its contact moved since).
  if (current && contactId === current.contactId && dealId === current.dealId && !input.branchId) return { contactId, dealId, branchId: current.branchId };

  let linkedBranch: string | undefined;
  if (dealId) linkedBranch = deal?.branchId ?? (await em.findOne(Deal, { id: dealId }))?.branchId;
  else if (contactId) linkedBranch = contact?.branchId ?? (await em.findOne(Contact, { id: contactId }))?.branchId;

  let branchId: string;
  if (linkedBranch) {
    if (input.branchId && input.branchId !== linkedBranch) throw new BadUserInputError({ 'input.branchId': 'must be the branch of the linked deal or contact (leave it out)' });
    branchId = linkedBranch;
  } else if (input.branchId) {
    if (!(await em.findOne(Branch, { id: input.branchId }))) throw new BadUserInputError({ 'input.branchId': 'is not a branch of your company' });
    branchId = input.branchId;
  } else {
    // Unlinked from everything: an existing task stays in its branch.
    branchId = current?.branchId ?? (await defaultBranch(em, viewer));
  }
  return { contactId, dealId, branchId };
}

/** The branch of a task about nothing when none is given: the viewer's first, else the company's first. */
async function defaultBranch(em: EntityManager, viewer: Viewer): Promise<string> {
  if (viewer.branchIds[0]) return viewer.branchIds[0];
  const [branch] = await em.find(Branch, {}, { orderBy: { createdAt: 'asc', id: 'asc' }, limit: 1 });
  if (!branch) throw new AtriumError('INTERNAL', 'The company has no branch');
  return branch.id;
}

/** Looked up through the tenant filter: a user of another company is unknown here. */
async function checkAssignee(em: EntityManager, assigneeId: string): Promise<void> {
  if (!(await em.findOne(User, { id: assigneeId, active: true }))) throw new BadUserInputError({ 'input.assigneeId': 'is not an active user of your company' });
}

export async function createTask({ em, viewer, emit }: CrmContext, input: unknown): Promise<CrmTask> {
  const data = validateCreateTask(input);
  return em.transactional(async (tx) => {
    const placement = await taskPlacement(tx, viewer, data);
    if (data.assigneeId) await checkAssignee(tx, data.assigneeId);
    const task = tx.create(CrmTask, {
      companyId: viewer.companyId,
      branchId: placement.branchId,
      title: data.title.trim(),
      description: data.description ?? null,
      assigneeId: data.assigneeId ?? null,
      dueAt: data.dueAt ?? null,
      done: false,
      contactId: placement.contactId,
      dealId: placement.dealId,
      createdById: actorOf(viewer),
    } as CrmTask);
    if (!viewer.ability.can('create', task)) throw forbidden('You may not add tasks to this branch');
    if (task.contactId) {
      await recordActivity(tx, { contactId: task.contactId, kind: 'crm.task.created', title: task.title, subjectType: 'CrmTask', subjectId: task.id, actorId: task.createdById });
    }
    if (task.assigneeId) emit(tx, 'crm.task.assigned', { taskId: task.id, assigneeId: task.assigneeId });
    await tx.flush();
    return task;
  });
}

/** A task the viewer may change, locked for the transaction; NOT_FOUND when unseen, FORBIDDEN when only readable. */
async function taskToChange(em: EntityManager, viewer: Viewer, id: string): Promise<CrmTask> {
  const readable = tasksWhere(viewer);
  const task = readable && isId(id) ? await em.findOne(CrmTask, { $and: [{ id }, readable] }, { lockMode: LockMode.PESSIMISTIC_WRITE }) : null;
  if (!task) throw notFound('Task');
  if (!viewer.ability.can('update', task)) throw forbidden('You may not change tasks of this branch');
  return task;
}

/** Changes the fields given; assigning someone new emits `crm.task.assigned` again. */
export async function updateTask({ em, viewer, emit }: CrmContext, id: string, input: unknown): Promise<CrmTask> {
  const changes = validateUpdateTask(input);
  return em.transactional(async (tx) => {
    const task = await taskToChange(tx, viewer, id);
    const placement = await taskPlacement(tx, viewer, changes, task);
    if (changes.assigneeId && changes.assigneeId !== task.assigneeId) await checkAssignee(tx, changes.assigneeId);
    const previousAssignee = task.assigneeId;
    tx.assign(task, {
      ...(changes.title !== undefined ? { title: changes.title.trim() } : {}),
      ...(changes.description !== undefined ? { description: changes.description } : {}),
      ...(changes.assigneeId !== undefined ? { assigneeId: changes.assigneeId } : {}),
      ...(changes.dueAt !== undefined ? { dueAt: changes.dueAt } : {}),
      contactId: placement.contactId,
      dealId: placement.dealId,
      branchId: placement.branchId,
    });
    // Moving a task to another branch needs the right in the branch it goes to as well.
    if (!viewer.ability.can('update', task)) throw forbidden('You may not move tasks to this branch');
    if (task.assigneeId && task.assigneeId !== previousAssignee) emit(tx, 'crm.task.assigned', { taskId: task.id, assigneeId: task.assigneeId });
    await tx.flush();
    return task;
  });
}

/**
 * Marks a task done and emits `crm.task.completed`. Idempotent: completing a done task changes
 * nothing and emits nothing (the row lock makes two completions at once count as one).
 */
export async function completeTask({ em, viewer, emit }: CrmContext, id: string): Promise<CrmTask> {
  return em.transactional(async (tx) => {
    const task = await taskToChange(tx, viewer, id);
    if (task.done) return task;
    Object.assign(task, { done: true, doneAt: new Date(), completedById: actorOf(viewer) });
    if (task.contactId) {
      await recordActivity(tx, { contactId: task.contactId, kind: 'crm.task.completed', title: task.title, subjectType: 'CrmTask', subjectId: task.id, actorId: task.completedById });
    }
    emit(tx, 'crm.task.completed', { taskId: task.id });
    await tx.flush();
    return task;
  });
}

/** Makes a done task open again (idempotent; no event is declared for it). */
export async function reopenTask({ em, viewer }: CrmContext, id: string): Promise<CrmTask> {
  return em.transactional(async (tx) => {
    const task = await taskToChange(tx, viewer, id);
    if (!task.done) return task;
    Object.assign(task, { done: false, doneAt: null, completedById: null });
    await tx.flush();
    return task;
  });
}

// ---------------------------------------------------------------------------------------------
// Notes
// ---------------------------------------------------------------------------------------------

export interface NoteInput {
  body: string;
  contactId?: string | null;
  dealId?: string | null;
}

const body = { type: 'string', minLength: 1, maxLength: 10000, pattern: '\\S' };
const validateCreateNote = createValidator<NoteInput>({
  type: 'object',
  additionalProperties: false,
  required: ['body'],
  properties: { body, contactId: { type: ['string', 'null'], format: 'uuid' }, dealId: { type: ['string', 'null'], format: 'uuid' } },
});
const validateUpdateNote = createValidator<{ body: string }>({ type: 'object', additionalProperties: false, required: ['body'], properties: { body } });

/** Exactly one of the two: a note (and a list of notes) is about one record. */
function oneTarget(target: { contactId?: string | null; dealId?: string | null }, prefix: string): void {
  if (!target.contactId === !target.dealId) throw new BadUserInputError({ [`${prefix}contactId`]: 'give exactly one of contactId and dealId' });
}

/** The timeline shows a note by its first words. */
const excerpt = (text: string): string => (text.length > 200 ? `${text.slice(0, 199)}…` : text);

export interface NoteListArgs extends ConnectionArgs {
  contactId?: string | null;
  dealId?: string | null;
}

const emptyPage = <T>(): Connection<T> => ({ edges: [], pageInfo: { hasNextPage: false, endCursor: null }, totalCount: 0 });

/**
 * The notes of one contact or deal, newest first. Whoever may read the record reads its notes: a
 * record the viewer cannot see (or of another company) has none; no read key at all is FORBIDDEN.
 */
export async function listNotes(em: EntityManager, viewer: Viewer, args: NoteListArgs): Promise<Connection<CrmNote>> {
  oneTarget(args, '');
  if (args.contactId) {
    if (!contactsWhere(viewer)) throw forbidden('This needs the permission crm.contact.read');
    pageArgs(args);
    if (!(await findContact(em, viewer, args.contactId))) return emptyPage();
    return paginate(em, CrmNote, { ...args, where: { contactId: args.contactId }, orderBy: { createdAt: 'desc', id: 'desc' } });
  }
  if (!dealsWhere(viewer)) throw forbidden('This needs the permission crm.deal.read');
  pageArgs(args);
  if (!(await findDeal(em, viewer, args.dealId!))) return emptyPage();
  return paginate(em, CrmNote, { ...args, where: { dealId: args.dealId! }, orderBy: { createdAt: 'desc', id: 'desc' } });
}

/** Writes a note on a contact or deal the viewer can see (needs crm.note.create in the record's branch). */
export async function createNote({ em, viewer }: CrmContext, input: unknown): Promise<CrmNote> {
  const data = validateCreateNote(input);
  oneTarget(data, 'input.');
  return em.transactional(async (tx) => {
    const target = data.contactId ? await linkedContact(tx, viewer, data.contactId, 'input.contactId') : await linkedDeal(tx, viewer, data.dealId!, 'input.dealId');
    const note = tx.create(CrmNote, {
      companyId: viewer.companyId,
      branchId: target.branchId,
      body: data.body.trim(),
      contactId: data.contactId ?? null,
      dealId: data.dealId ?? null,
      authorId: actorOf(viewer),
    } as CrmNote);
    if (!viewer.ability.can('create', note)) throw forbidden('You may not write notes in this branch');
    if (note.contactId) {
      await recordActivity(tx, { contactId: note.contactId, kind: 'crm.note.added', title: excerpt(note.body), subjectType: 'CrmNote', subjectId: note.id, actorId: note.authorId });
    }
    await tx.flush();
    return note;
  });
}

/** A note of the viewer's own on a record the viewer still sees; NOT_FOUND when unseen, FORBIDDEN when someone else's. */
async function ownNote(em: EntityManager, viewer: Viewer, id: string): Promise<CrmNote> {
  const note = await lockById(em, CrmNote, id);
  const visible = note && (note.contactId ? await findContact(em, viewer, note.contactId) : await findDeal(em, viewer, note.dealId!));
  if (!note || !visible) throw notFound('Note');
  if (!note.authorId || note.authorId !== actorOf(viewer)) throw forbidden('Only the author may change or delete a note');
  return note;
}

export async function updateNote({ em, viewer }: CrmContext, id: string, input: unknown): Promise<CrmNote> {
  const { body: text } = validateUpdateNote(input);
  return em.transactional(async (tx) => {
    const note = await ownNote(tx, viewer, id);
    note.body = text.trim();
    // The timeline entry shows the note's words: keep them current.
    await tx.nativeUpdate(ContactActivity, { subjectType: 'CrmNote', subjectId: note.id }, { title: excerpt(note.body) });
    await tx.flush();
    return note;
  });
}

/** Deletes a note, and its timeline entry with it (its words should not outlive it). Answers the note's id. */
export async function deleteNote({ em, viewer }: CrmContext, id: string): Promise<string> {
  return em.transactional(async (tx) => {
    const note = await ownNote(tx, viewer, id);
    await tx.nativeDelete(ContactActivity, { subjectType: 'CrmNote', subjectId: note.id });
    tx.remove(note);
    await tx.flush();
    return note.id;
  });
}
