import { subscription, type AtriumRequestContext, type LoaderQuery, type Loaders, type ResolverContext, type Resolvers } from '@atrium/core';
import type { Message } from '../entities/messages.ts';
import type { ConversationEvent } from '../services/realtime.ts';
import {
  attachmentsOf,
  widgetEventVisible,
  widgetListener,
  widgetMarkRead,
  widgetMessages,
  widgetSendMessage,
  widgetStartSession,
  type WidgetCaller,
  type WidgetListener,
} from '../services/widget.ts';

type TokenArgs = { token: string };

/** The public widget runs without a viewer: the kernel, the publisher and the client's address. */
const caller = (context: ResolverContext): WidgetCaller => ({ kernel: context.kernel, publish: context.publish, ip: context.ip });

/** Each subscription's session, by its context and token (a socket may carry several subscriptions). */
const listeners = new WeakMap<object, Map<string, WidgetListener>>();

export const widgetResolvers: Resolvers = {
  Query: {
    widgetMessages: (_root, args: TokenArgs & { first?: number | null; before?: string | null }, context) => widgetMessages(caller(context), args.token, args),
  },
  Mutation: {
    widgetStartSession: (_root, args: { inboxToken: string; contact: unknown }, context) => widgetStartSession(caller(context), args.inboxToken, args.contact),
    widgetSendMessage: (_root, args: TokenArgs & { content: string; sourceId?: string | null }, context) => widgetSendMessage(caller(context), args.token, args.content, args.sourceId),
    widgetMarkRead: (_root, { token }: TokenArgs, context) => widgetMarkRead(caller(context), token),
  },
  Subscription: {
    widgetEvents: subscription<TokenArgs, ConversationEvent>(
      async ({ token }, context) => {
        const { listener, topic } = await widgetListener(caller(context), token);
        const byToken = listeners.get(context) ?? new Map<string, WidgetListener>();
        listeners.set(context, byToken.set(token, listener));
        return topic;
      },
      {
        filter: (event, { token }, context) => {
          const listener = listeners.get(context)?.get(token);
          return !!listener && widgetEventVisible(listener, event);
        },
      },
    ),
  },
  WidgetEvent: {
    status: (event: ConversationEvent) => (event.type === 'STATUS_CHANGED' ? (event.conversation?.status ?? null) : null),
    typing: (event: ConversationEvent) => event.typing?.typing ?? null,
    agentLastSeenAt: (event: ConversationEvent) => event.read?.lastSeenAt ?? null,
  },
};

export const widgetLoaders: Loaders = {
  // The messages were reached through the session's token: their attachments go with them.
  WidgetMessage: {
    attachments: async (queries: LoaderQuery<Message>[], context: AtriumRequestContext) => {
      const byMessage = await attachmentsOf(context.kernel, queries.map((query) => query.obj.id));
      return queries.map((query) => byMessage.get(query.obj.id) ?? []);
    },
  },
} as Loaders;
