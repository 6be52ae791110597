import { Branch, referenceLoader, requirePermission, requireViewer, User, type LoaderQuery, type Loaders, type ResolverContext, type Resolvers } from '@atrium/core';
import { Contact } from '@atrium/crm';
import { type ContactInbox, Inbox, InboxMember } from '../entities/inboxes.ts';
import { isAdmin, readableInboxesWhere } from '../services/access.ts';
import { messengerContext } from '../services/context.ts';
import { addInboxMember, createInbox, findInbox, listInboxes, removeInboxMember, updateInbox } from '../services/inboxes.ts';
import { createContactInbox } from '../services/messages.ts';

type WithId = { id: string };
type WithInput = { input: unknown };
type Membership = { inboxId: string; userId: string };

/** The messenger context of a request whose caller holds `key`. */
const withKey = (context: ResolverContext, key: string) => {
  requirePermission(context, key);
  return messengerContext(context);
};
const manage = (context: ResolverContext) => withKey(context, 'messenger.inbox.manage');

export const inboxResolvers: Resolvers = {
  Query: {
    inboxes: (_root, _args, context) => {
      requireViewer(context);
      return listInboxes(messengerContext(context));
    },
    inbox: (_root, { id }: WithId, context) => {
      requireViewer(context);
      return findInbox(messengerContext(context), id);
    },
  },
  Mutation: {
    createInbox: (_root, { input }: WithInput, context) => createInbox(manage(context), input),
    updateInbox: (_root, { id, input }: WithId & WithInput, context) => updateInbox(manage(context), id, input),
    addInboxMember: (_root, { inboxId, userId }: Membership, context) => addInboxMember(manage(context), inboxId, userId),
    removeInboxMember: (_root, { inboxId, userId }: Membership, context) => removeInboxMember(manage(context), inboxId, userId),
    createContactInbox: (_root, { input }: WithInput, context) => createContactInbox(manage(context), input),
  },
  Inbox: {
    // The widget's key lets anyone start sessions: only those who manage inboxes see it.
    token: (inbox: Inbox, _args, context) => (context.viewer && (isAdmin(context.viewer) || context.viewer.keys.has('messenger.inbox.manage')) ? inbox.token : null),
  },
};

/** Members of every inbox of a response level, in one query. */
async function membersOf(queries: LoaderQuery<Inbox>[], context: ResolverContext): Promise<InboxMember[][]> {
  const ids = queries.map((query) => query.obj.id);
  const rows = await context.em.find(InboxMember, { inboxId: { $in: ids } }, { orderBy: { createdAt: 'asc', userId: 'asc' } });
  return ids.map((id) => rows.filter((row) => row.inboxId === id));
}

export const inboxLoaders: Loaders = {
  Inbox: {
    branch: referenceLoader(Branch, (inbox: Inbox) => inbox.branchId),
    members: membersOf,
  },
  InboxMember: {
    user: referenceLoader(User, (member: InboxMember) => member.userId),
  },
  ContactInbox: {
    inbox: referenceLoader(Inbox, (contactInbox: ContactInbox) => contactInbox.inboxId, (context) => readableInboxesWhere({ viewer: context.viewer })),
    contact: referenceLoader(Contact, (contactInbox: ContactInbox) => contactInbox.contactId),
  },
};
