import type { Loaders, Resolvers } from '@atrium/core';
import { contactLoaders, contactResolvers } from './contacts.ts';
import { dealLoaders, dealResolvers } from './deals.ts';
import { debtLoaders, debtResolvers } from './debts.ts';
import { productLoaders, productResolvers } from './products.ts';
import { taskLoaders, taskResolvers } from './tasks.ts';

/** Joins the areas' resolver maps type by type (an area adds fields to Query, Mutation, its types…). */
function merge<T extends Record<string, Record<string, unknown>>>(parts: T[]): T {
  const merged: Record<string, Record<string, unknown>> = {};
  for (const part of parts) {
    for (const [type, fields] of Object.entries(part)) merged[type] = { ...merged[type], ...fields };
  }
  return merged as T;
}

export const resolvers: Resolvers = merge([contactResolvers, productResolvers, debtResolvers, dealResolvers, taskResolvers] as Record<string, Record<string, unknown>>[]) as Resolvers;
export const loaders: Loaders = merge([contactLoaders, productLoaders, debtLoaders, dealLoaders, taskLoaders] as Record<string, Record<string, unknown>>[]) as Loaders;
