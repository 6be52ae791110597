import { referenceLoader, requirePermission, requireViewer, User, type LoaderQuery, type Loaders, type ResolverContext, type Resolvers } from '@atrium/core';
import { Contact } from '@atrium/crm';
import { Attachment, Message, MessageChange } from '../entities/messages.ts';
import { messengerContext } from '../services/context.ts';
import { deleteMessage, editMessage, listMessages, receiveMessage, sendMessage } from '../services/messages.ts';

type WithInput = { input: unknown };

/** Rows of `entity` whose `key` is one of the parents' ids, grouped per parent: one query per response level. */
function childrenLoader<Row extends object>(entity: typeof Attachment | typeof MessageChange, key: 'messageId') {
  return async (queries: LoaderQuery<Message>[], context: ResolverContext): Promise<Row[][]> => {
    const ids = queries.map((query) => query.obj.id);
    const rows = (await context.em.find(entity as typeof Attachment, { [key]: { $in: ids } }, { orderBy: { createdAt: 'asc', id: 'asc' } })) as unknown as (Row & { messageId: string })[];
    return ids.map((id) => rows.filter((row) => row.messageId === id));
  };
}

export const messageResolvers: Resolvers = {
  Query: {
    messages: (_root, args: { conversationId: string; first?: number | null; before?: string | null }, context) => {
      requireViewer(context);
      return listMessages(messengerContext(context), args);
    },
  },
  Mutation: {
    sendMessage: (_root, { input }: WithInput, context) => sendMessage(messengerContext(context), input),
    editMessage: (_root, { id, content }: { id: string; content: string }, context) => editMessage(messengerContext(context), id, content),
    deleteMessage: (_root, { id }: { id: string }, context) => deleteMessage(messengerContext(context), id),
    receiveMessage: (_root, { input }: WithInput, context) => {
      requirePermission(context, 'messenger.inbox.manage');
      return receiveMessage(messengerContext(context), input);
    },
  },
  MessageAttachment: {
    url: (attachment: Attachment, _args, context) => messengerContext(context).options.storage.url(attachment.storageKey),
    dataBase64: async (attachment: Attachment, _args, context) => (await messengerContext(context).options.storage.get(attachment.storageKey))?.toString('base64') ?? null,
  },
};

export const messageLoaders: Loaders = {
  Message: {
    senderUser: referenceLoader(User, (message: Message) => message.senderUserId),
    senderContact: referenceLoader(Contact, (message: Message) => message.senderContactId),
    // The parent is of the same conversation (a foreign key says so): as readable as the message.
    replyTo: referenceLoader(Message, (message: Message) => message.replyToId),
    attachments: childrenLoader<Attachment>(Attachment, 'messageId'),
    changes: childrenLoader<MessageChange>(MessageChange, 'messageId'),
  },
  MessageChange: {
    changedBy: referenceLoader(User, (change: MessageChange) => change.changedById),
  },
};
