import { contactTypeDefs } from './contacts.ts';

/** The module's part of the GraphQL schema, one file per area. */
export const typeDefs = [contactTypeDefs].join('\n');
