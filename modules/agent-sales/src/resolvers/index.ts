import type { Loaders, Resolvers } from '@atrium/core';
import { analyticsLoaders, analyticsResolvers } from './analytics.ts';
import { saleLoaders, saleResolvers } from './sales.ts';
import { transferFieldResolvers, transferLoaders, transferResolvers } from './transfers.ts';

/** Joins the areas' resolver maps type by type (an area adds fields to Query, Mutation, its types…). */
function merge<T extends Record<string, Record<string, unknown>>>(parts: T[]): T {
  const merged: Record<string, Record<string, unknown>> = {};
  for (const part of parts) {
    for (const [type, fields] of Object.entries(part)) merged[type] = { ...merged[type], ...fields };
  }
  return merged as T;
}

export const resolvers: Resolvers = merge([transferResolvers, transferFieldResolvers, saleResolvers, analyticsResolvers] as Record<string, Record<string, unknown>>[]) as Resolvers;
export const loaders: Loaders = merge([transferLoaders, saleLoaders, analyticsLoaders] as Record<string, Record<string, unknown>>[]) as Loaders;
