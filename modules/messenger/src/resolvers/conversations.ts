import { Branch, notFound, referenceLoader, requireViewer, subscription, User, type Loaders, type ResolverContext, type Resolvers } from '@atrium/core';
import { Contact } from '@atrium/crm';
import { Conversation, type ConversationStatus } from '../entities/conversations.ts';
import { Inbox, Team } from '../entities/inboxes.ts';
import { canReadConversation, findReadableConversation, findReadableInbox, isAdmin, isInboxMember, readableInboxesWhere } from '../services/access.ts';
import { messengerContext } from '../services/context.ts';
import {
  blockContact,
  createConversation,
  findConversation,
  listConversations,
  removeConversation,
  setConversationStatus,
  updateConversation,
  type ConversationFilter,
} from '../services/conversations.ts';
import { conversationTopic, inboxTopic, type ConversationEvent } from '../services/realtime.ts';

type WithId = { id: string };
type WithInput = { input: unknown };

/**
 * Whether the subscriber may receive the event now: access is decided again for every event (an
 * agent who left the inbox, a participant removed, stop receiving at once). Events carry the
 * conversation's access facts (kind, inbox, room), which never change; a DELETED event's snapshot
 * still has them.
 */
async function deliverable(event: ConversationEvent, context: ResolverContext): Promise<boolean> {
  const facts = event.conversation ?? (await context.em.findOne(Conversation, { id: event.conversationId }));
  return !!facts && canReadConversation({ em: context.em, viewer: context.viewer }, facts);
}

export const conversationResolvers: Resolvers = {
  Query: {
    conversations: (_root, args: { first?: number; after?: string; filter?: ConversationFilter }, context) => {
      requireViewer(context);
      return listConversations(messengerContext(context), args);
    },
    conversation: (_root, { id }: WithId, context) => {
      requireViewer(context);
      return findConversation(messengerContext(context), id);
    },
  },
  Mutation: {
    createConversation: (_root, { input }: WithInput, context) => createConversation(messengerContext(context), input),
    setConversationStatus: (_root, args: { conversationId: string; status: ConversationStatus; snoozedUntil?: Date | null }, context) =>
      setConversationStatus(messengerContext(context), args.conversationId, args.status, args.snoozedUntil),
    updateConversation: (_root, { id, input }: WithId & WithInput, context) => updateConversation(messengerContext(context), id, input),
    deleteConversation: (_root, { id }: WithId, context) => removeConversation(messengerContext(context), id),
    blockContact: (_root, args: { contactId: string; blocked: boolean }, context) => blockContact(messengerContext(context), args.contactId, args.blocked),
  },
  Subscription: {
    conversationEvents: subscription(
      async ({ conversationId }: { conversationId: string }, context) => {
        const viewer = requireViewer(context);
        if (!(await findReadableConversation({ em: context.em, viewer }, conversationId))) throw notFound('Conversation');
        return conversationTopic(viewer.companyId, conversationId);
      },
      { filter: (event, _args, context) => deliverable(event, context) },
    ),
    inboxEvents: subscription(
      async ({ inboxId }: { inboxId: string }, context) => {
        const viewer = requireViewer(context);
        const inbox = await findReadableInbox({ em: context.em, viewer }, inboxId);
        if (!inbox || !(await canReadInbox(context, inbox.id))) throw notFound('Inbox');
        return inboxTopic(viewer.companyId, inboxId);
      },
      { filter: (event, _args, context) => canReadInbox(context, event.inboxId!) },
    ),
  },
};

/** Reading an inbox's conversations: admins, or holders of messenger.conversation.read who are its members. */
async function canReadInbox(context: ResolverContext, inboxId: string): Promise<boolean> {
  const viewer = context.viewer;
  if (!viewer?.modules.has('messenger')) return false;
  if (isAdmin(viewer)) return true;
  return viewer.kind === 'user' && viewer.keys.has('messenger.conversation.read') && isInboxMember(context, viewer, inboxId);
}

export const conversationLoaders: Loaders = {
  Conversation: {
    inbox: referenceLoader(Inbox, (conversation: Conversation) => conversation.inboxId, (context) => readableInboxesWhere({ viewer: context.viewer }) ?? { id: null }),
    contact: referenceLoader(Contact, (conversation: Conversation) => conversation.contactId),
    assignee: referenceLoader(User, (conversation: Conversation) => conversation.assigneeId),
    team: referenceLoader(Team, (conversation: Conversation) => conversation.teamId),
    branch: referenceLoader(Branch, (conversation: Conversation) => conversation.branchId),
  },
  TypingNotice: {
    user: referenceLoader(User, (notice: { userId: string }) => notice.userId),
  },
  ReadNotice: {
    user: referenceLoader(User, (notice: { userId: string }) => notice.userId),
  },
};
