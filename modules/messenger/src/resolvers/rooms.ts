import { requirePermission, requireViewer, User, type AtriumRequestContext, type LoaderQuery, type Loaders, type Resolvers } from '@atrium/core';
import type { Conversation } from '../entities/conversations.ts';
import { canReadConversation } from '../services/access.ts';
import { messengerContext } from '../services/context.ts';
import { findRecordChat, participantsOf } from '../services/records.ts';
import { createRoom, listRooms } from '../services/rooms.ts';

export const roomResolvers: Resolvers = {
  Query: {
    rooms: (_root, _args, context) => {
      requireViewer(context);
      return listRooms(messengerContext(context));
    },
    recordChat: async (_root, { subjectType, subjectId }: { subjectType: string; subjectId: string }, context) => {
      requireViewer(context);
      const ctx = messengerContext(context);
      const conversation = await findRecordChat(ctx, subjectType, subjectId);
      return conversation && (await canReadConversation(ctx, conversation)) ? conversation : null;
    },
  },
  Mutation: {
    createRoom: (_root, { input }: { input: unknown }, context) => {
      requirePermission(context, 'messenger.inbox.manage');
      return createRoom(messengerContext(context), input);
    },
  },
};

/** Conversation.participants for a page of conversations: one query for the memberships, one for the users. */
async function participantsLoader(queries: LoaderQuery<Conversation>[], context: AtriumRequestContext) {
  const byConversation = await participantsOf(context.em, queries.filter((query) => query.obj.kind === 'RECORD').map((query) => query.obj.id));
  const userIds = [...new Set([...byConversation.values()].flat())];
  const users = new Map((userIds.length ? await context.em.find(User, { id: { $in: userIds } }) : []).map((user) => [user.id, user]));
  return queries.map((query) => (byConversation.get(query.obj.id) ?? []).map((id) => users.get(id)).filter((user) => user !== undefined));
}

export const roomLoaders: Loaders = {
  Conversation: { participants: participantsLoader },
} as Loaders;
