import type { Loaders, Resolvers } from '@atrium/core';
import { assignmentLoaders, assignmentResolvers } from './assignment.ts';
import { conversationLoaders, conversationResolvers } from './conversations.ts';
import { inboxLoaders, inboxResolvers } from './inboxes.ts';
import { messageLoaders, messageResolvers } from './messages.ts';
import { roomLoaders, roomResolvers } from './rooms.ts';
import { widgetLoaders, widgetResolvers } from './widget.ts';

/** Joins the areas' resolver maps type by type (an area adds fields to Query, Mutation, its types…). */
function merge<T extends Record<string, Record<string, unknown>>>(parts: T[]): T {
  const merged: Record<string, Record<string, unknown>> = {};
  for (const part of parts) {
    for (const [type, fields] of Object.entries(part)) merged[type] = { ...merged[type], ...fields };
  }
  return merged as T;
}

export const resolvers: Resolvers = merge([inboxResolvers, conversationResolvers, messageResolvers, assignmentResolvers, roomResolvers, widgetResolvers] as Record<string, Record<string, unknown>>[]) as Resolvers;
export const loaders: Loaders = merge([inboxLoaders, conversationLoaders, messageLoaders, assignmentLoaders, roomLoaders, widgetLoaders] as Record<string, Record<string, unknown>>[]) as Loaders;
