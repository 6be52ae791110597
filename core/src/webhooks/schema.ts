import type { IResolvers } from 'mercurius';
import type { ConnectionArgs } from '../graphql/connection.ts';
import type { ServiceContext } from '../tenancy/kernel.ts';
import { createWebhook, deleteWebhook, listDeliveries, listWebhooks, updateWebhook } from './webhooks.ts';

export const webhookTypeDefs = /* GraphQL */ `
  "An HTTP endpoint that receives the company's events, signed (header x-atrium-signature)."
  type Webhook {
    id: ID!
    url: String!
    "Event names, or * for all."
    events: [String!]!
    active: Boolean!
    consecutiveFailures: Int!
    disabledAt: DateTime
    createdAt: DateTime!
    deliveries(first: Int, after: String): WebhookDeliveryConnection!
  }

  enum WebhookDeliveryStatus {
    PENDING
    SUCCEEDED
    FAILED
  }

  type WebhookDelivery {
    eventId: ID!
    eventName: String!
    attempts: Int!
    status: WebhookDeliveryStatus!
    responseStatus: Int
    lastError: String
    nextAttemptAt: DateTime
    deliveredAt: DateTime
    occurredAt: DateTime!
  }

  type WebhookDeliveryEdge {
    cursor: String!
    node: WebhookDelivery!
  }

  type WebhookDeliveryConnection {
    edges: [WebhookDeliveryEdge!]!
    pageInfo: PageInfo!
    totalCount: Int!
  }

  input CreateWebhookInput {
    url: String!
    events: [String!]!
    "At least 16 characters; signs every delivery."
    secret: String!
  }

  input UpdateWebhookInput {
    url: String
    events: [String!]
    secret: String
    "Switching a disabled webhook back on resets its failure count."
    active: Boolean
  }

  extend type Query {
    webhooks: [Webhook!]!
  }

  extend type Mutation {
    createWebhook(input: CreateWebhookInput!): Webhook!
    updateWebhook(id: ID!, input: UpdateWebhookInput!): Webhook!
    deleteWebhook(id: ID!): Boolean!
  }
`;

export const webhookResolvers = {
  Query: {
    webhooks: (_root: unknown, _args: unknown, context: ServiceContext) => listWebhooks(context),
  },
  Mutation: {
    createWebhook: (_root: unknown, { input }: { input: unknown }, context: ServiceContext) => createWebhook(context, input),
    updateWebhook: (_root: unknown, { id, input }: { id: string; input: unknown }, context: ServiceContext) => updateWebhook(context, id, input),
    deleteWebhook: (_root: unknown, { id }: { id: string }, context: ServiceContext) => deleteWebhook(context, id),
  },
  Webhook: {
    deliveries: (webhook: { id: string }, args: ConnectionArgs, context: ServiceContext) => listDeliveries(context, webhook.id, args),
  },
} as unknown as IResolvers;
