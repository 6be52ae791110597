import {
  Branch,
  referenceLoader,
  requirePermission,
  requireViewer,
  User,
  type AtriumRequestContext,
  type LoaderQuery,
  type Loaders,
  type ResolverContext,
  type Resolvers,
} from '@atrium/core';
import type { ContactActivity } from '../entities/activity.ts';
import { Contact } from '../entities/contact.ts';
import { Deal } from '../entities/deals.ts';
import type { CrmNote, CrmTask } from '../entities/tasks.ts';
import { contactsWhere } from '../services/contacts.ts';
import { dealsWhere } from '../services/deals.ts';
import {
  completeTask,
  createNote,
  createTask,
  deleteNote,
  findTask,
  listNotes,
  listTasks,
  openTasksOf,
  reopenTask,
  updateNote,
  updateTask,
  type NoteListArgs,
  type TaskListArgs,
} from '../services/tasks.ts';
import { contactTimelines, type TimelineArgs } from '../services/timeline.ts';

type WithId = { id: string };
type WithInput = { input: unknown };

/** The request's parts a task or note mutation uses, once its permission is checked. */
const allowed = (context: ResolverContext, key: string) => ({ em: context.em, viewer: requirePermission(context, key), emit: context.emit });

export const taskResolvers: Resolvers = {
  Query: {
    task: (_root, { id }: WithId, context) => findTask(context.em, requireViewer(context), id),
    tasks: (_root, args: TaskListArgs, context) => listTasks(context.em, requireViewer(context), args),
    notes: (_root, args: NoteListArgs, context) => listNotes(context.em, requireViewer(context), args),
  },
  Mutation: {
    createTask: (_root, { input }: WithInput, context) => createTask(allowed(context, 'crm.task.manage'), input),
    updateTask: (_root, { id, input }: WithId & WithInput, context) => updateTask(allowed(context, 'crm.task.manage'), id, input),
    completeTask: (_root, { id }: WithId, context) => completeTask(allowed(context, 'crm.task.manage'), id),
    reopenTask: (_root, { id }: WithId, context) => reopenTask(allowed(context, 'crm.task.manage'), id),
    createNote: (_root, { input }: WithInput, context) => createNote(allowed(context, 'crm.note.create'), input),
    updateNote: (_root, { id, input }: WithId & WithInput, context) => updateNote(allowed(context, 'crm.note.create'), id, input),
    deleteNote: (_root, { id }: WithId, context) => deleteNote(allowed(context, 'crm.note.create'), id),
  },
};

const readableContacts = (context: AtriumRequestContext) => contactsWhere(requireViewer(context));
const readableDeals = (context: AtriumRequestContext) => dealsWhere(requireViewer(context));

/** Contact.timeline for every contact of a response level: one statement per distinct set of arguments. */
async function timelineLoader(queries: (LoaderQuery<Contact> & { params: TimelineArgs })[], context: AtriumRequestContext) {
  const viewer = requireViewer(context);
  const byArgs = new Map<string, number[]>();
  for (const [index, { params }] of queries.entries()) {
    const key = JSON.stringify([params.first ?? null, params.after ?? null, params.kinds ?? null]);
    byArgs.set(key, [...(byArgs.get(key) ?? []), index]);
  }
  const results: unknown[] = new Array(queries.length);
  for (const indexes of byArgs.values()) {
    const pages = await contactTimelines(context.em, viewer, indexes.map((index) => queries[index]!.obj), queries[indexes[0]!]!.params);
    for (const [position, index] of indexes.entries()) results[index] = pages[position];
  }
  return results;
}

/** Contact.tasks: the open tasks of every contact of a response level in one query. */
async function openTasksLoader(queries: LoaderQuery<Contact>[], context: AtriumRequestContext) {
  const byContact = await openTasksOf(context.em, requireViewer(context), [...new Set(queries.map((query) => query.obj.id))]);
  return queries.map((query) => (byContact ? (byContact.get(query.obj.id) ?? []) : null));
}

/** References of tasks, notes and timeline entries: one query per field and response level. */
export const taskLoaders: Loaders = {
  CrmTask: {
    assignee: referenceLoader(User, (task: CrmTask) => task.assigneeId),
    completedBy: referenceLoader(User, (task: CrmTask) => task.completedById),
    createdBy: referenceLoader(User, (task: CrmTask) => task.createdById),
    contact: referenceLoader(Contact, (task: CrmTask) => task.contactId, readableContacts),
    deal: referenceLoader(Deal, (task: CrmTask) => task.dealId, readableDeals),
    branch: referenceLoader(Branch, (task: CrmTask) => task.branchId),
  },
  CrmNote: {
    author: referenceLoader(User, (note: CrmNote) => note.authorId),
    contact: referenceLoader(Contact, (note: CrmNote) => note.contactId, readableContacts),
    deal: referenceLoader(Deal, (note: CrmNote) => note.dealId, readableDeals),
  },
  ContactActivity: {
    actor: referenceLoader(User, (activity: ContactActivity) => activity.actorId),
  },
  Contact: {
    timeline: timelineLoader,
    tasks: openTasksLoader,
  },
} as Loaders;
