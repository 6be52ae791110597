import { analyticsTypeDefs } from './analytics.ts';
import { saleTypeDefs } from './sales.ts';
import { transferTypeDefs } from './transfers.ts';

/** The module's part of the GraphQL schema, one file per area. */
export const typeDefs = [transferTypeDefs, saleTypeDefs, analyticsTypeDefs].join('\n');
