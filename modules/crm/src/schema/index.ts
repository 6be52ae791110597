import { contactTypeDefs } from './contacts.ts';
import { dealTypeDefs } from './deals.ts';
import { debtTypeDefs } from './debts.ts';
import { productTypeDefs } from './products.ts';
import { taskTypeDefs } from './tasks.ts';

/** The module's part of the GraphQL schema, one file per area. */
export const typeDefs = [contactTypeDefs, productTypeDefs, debtTypeDefs, dealTypeDefs, taskTypeDefs].join('\n');
