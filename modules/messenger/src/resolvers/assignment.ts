import {
  forbidden,
  requirePermission,
  requireViewer,
  type AtriumRequestContext,
  type LoaderQuery,
  type Loaders,
  type ResolverContext,
  type Resolvers,
} from '@atrium/core';
import type { Conversation } from '../entities/conversations.ts';
import { Inbox, type Team } from '../entities/inboxes.ts';
import { assignConversation } from '../services/assignment.ts';
import { messengerContext } from '../services/context.ts';
import { availabilityOf, setAvailability, setTyping } from '../services/presence.ts';
import { inboxUnreadCounts, markConversationRead, unreadCounts } from '../services/receipts.ts';
import { addTeamMember, createTeam, listTeams, removeTeamMember, teamMembers } from '../services/teams.ts';

type ConversationArgs = { conversationId: string };

/** The messenger context once the caller holds `key`. */
const allowed = (context: ResolverContext, key: string) => {
  requirePermission(context, key);
  return messengerContext(context);
};

/** Teams are seen by whoever works with conversations or manages inboxes. */
function requireTeamReader(context: ResolverContext): void {
  const viewer = requireViewer(context);
  if (!viewer.keys.has('messenger.conversation.read') && !viewer.keys.has('messenger.inbox.manage')) throw forbidden('This needs the permission messenger.conversation.read');
}

export const assignmentResolvers: Resolvers = {
  Query: {
    agentAvailability: (_root, { userIds }: { userIds: string[] }, context) => {
      const viewer = requireViewer(context);
      return availabilityOf(context.em, context.kernel, viewer.companyId, userIds);
    },
    inboxUnreadCounts: async (_root, _args, context) => {
      const counts = (await inboxUnreadCounts(context.em, requireViewer(context))) ?? [];
      const inboxes = counts.length ? await context.em.find(Inbox, { id: { $in: counts.map((count) => count.inboxId) } }) : [];
      const byId = new Map(inboxes.map((inbox) => [inbox.id, inbox]));
      return counts.map((count) => ({ ...count, inbox: byId.get(count.inboxId) }));
    },
    teams: (_root, _args, context) => {
      requireTeamReader(context);
      return listTeams(context.em);
    },
  },
  Mutation: {
    assignConversation: (_root, args: ConversationArgs & { assigneeId?: string | null }, context) =>
      assignConversation(allowed(context, 'messenger.conversation.assign'), { conversationId: args.conversationId, assigneeId: args.assigneeId ?? null }),
    unassignConversation: (_root, { conversationId }: ConversationArgs, context) =>
      assignConversation(allowed(context, 'messenger.conversation.assign'), { conversationId, assigneeId: null }),
    setAvailability: (_root, args: { status: string }, context) => {
      const viewer = requireViewer(context);
      if (viewer.kind !== 'user') throw forbidden('Only users have an availability');
      return setAvailability(context.kernel, viewer.companyId, viewer.id, args);
    },
    setTyping: (_root, args: ConversationArgs & { typing: boolean; private?: boolean | null }, context) => {
      requireViewer(context);
      return setTyping(messengerContext(context), args);
    },
    markConversationRead: (_root, args: ConversationArgs, context) => {
      requireViewer(context);
      return markConversationRead(messengerContext(context), args);
    },
    createTeam: (_root, { input }: { input: unknown }, context) => createTeam(context.em, requirePermission(context, 'messenger.inbox.manage').companyId, input),
    addTeamMember: (_root, args: { teamId: string; userId: string }, context) => {
      requirePermission(context, 'messenger.inbox.manage');
      return addTeamMember(context.em, args);
    },
    removeTeamMember: (_root, args: { teamId: string; userId: string }, context) => {
      requirePermission(context, 'messenger.inbox.manage');
      return removeTeamMember(context.em, args);
    },
  },
};

/** Conversation.unreadCount for a page of conversations: one query. */
async function conversationUnreadLoader(queries: LoaderQuery<Conversation>[], context: AtriumRequestContext) {
  const counts = await unreadCounts(context.em, context.viewer, queries.map((query) => query.obj.id));
  return queries.map((query) => (counts ? (counts.get(query.obj.id) ?? 0) : null));
}

/** Inbox.unreadCount for a page of inboxes: one query (null for inboxes whose conversations the caller cannot read). */
async function inboxUnreadLoader(queries: LoaderQuery<Inbox>[], context: AtriumRequestContext) {
  const counts = await inboxUnreadCounts(context.em, context.viewer, queries.map((query) => query.obj.id));
  const byInbox = new Map((counts ?? []).map((count) => [count.inboxId, count.messages]));
  return queries.map((query) => byInbox.get(query.obj.id) ?? null);
}

/** MessengerTeam.members for a page of teams: one query for the memberships, one for the users. */
async function teamMembersLoader(queries: LoaderQuery<Team>[], context: AtriumRequestContext) {
  const byTeam = await teamMembers(context.em, queries.map((query) => query.obj.id));
  return queries.map((query) => byTeam.get(query.obj.id) ?? []);
}

export const assignmentLoaders: Loaders = {
  Conversation: { unreadCount: conversationUnreadLoader },
  Inbox: { unreadCount: inboxUnreadLoader },
  MessengerTeam: { members: teamMembersLoader },
} as Loaders;
