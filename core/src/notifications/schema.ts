import type { IResolvers } from 'mercurius';
import type { EntityManager } from '@mikro-orm/sql';
import { requireViewer } from '../access/viewer.ts';
import { subscription } from '../graphql/subscriptions.ts';
import { eventTopic } from '../events/dispatcher.ts';
import type { DomainEvent } from '../plugin/manifest.ts';
import type { ConnectionArgs } from '../graphql/connection.ts';
import type { ServiceContext } from '../tenancy/kernel.ts';
import { listNotifications, markNotificationsRead, Notification, NOTIFICATION_CREATED } from './notifications.ts';

export const notificationTypeDefs = /* GraphQL */ `
  "Something a user should know about, created by a module."
  type Notification {
    id: ID!
    type: String!
    title: String!
    body: String
    "Where it points: { subjectType, subjectId } or { url }."
    link: JSON
    read: Boolean!
    createdAt: DateTime!
  }

  type NotificationEdge {
    cursor: String!
    node: Notification!
  }

  type NotificationConnection {
    edges: [NotificationEdge!]!
    pageInfo: PageInfo!
    totalCount: Int!
  }

  extend type Query {
    "The signed-in user's notifications, newest first."
    notifications(first: Int, after: String, unreadOnly: Boolean): NotificationConnection!
  }

  extend type Mutation {
    "Marks the given notifications (or all) read; answers how many changed."
    markNotificationsRead(ids: [ID!]): Int!
  }

  extend type Subscription {
    "Every notification created for the signed-in user."
    notificationCreated: Notification!
  }
`;

type NotificationEvent = DomainEvent<{ notificationId: string; userId: string }>;

const created = subscription<unknown, NotificationEvent>((_args, context) => eventTopic(requireViewer(context).companyId, NOTIFICATION_CREATED) as never, {
  filter: (event, _args, context) => event.payload.userId === context.viewer?.id,
});

export const notificationResolvers = {
  Query: {
    notifications: (_root: unknown, args: ConnectionArgs & { unreadOnly?: boolean }, context: ServiceContext) =>
      listNotifications(context.em, requireViewer(context), args),
  },
  Mutation: {
    markNotificationsRead: (_root: unknown, { ids }: { ids?: string[] | null }, context: ServiceContext) => markNotificationsRead(context.em, context, ids),
  },
  Subscription: {
    notificationCreated: {
      subscribe: created.subscribe,
      resolve: (event: NotificationEvent, _args: unknown, context: { em: EntityManager }) =>
        context.em.fork().findOne(Notification, { id: event.payload.notificationId }),
    },
  },
  Notification: {
    read: (notification: Notification) => notification.readAt !== null,
  },
} as unknown as IResolvers;
