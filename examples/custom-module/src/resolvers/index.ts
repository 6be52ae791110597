import { subscription, type ConnectionArgs, type Resolvers } from '@atrium/core';
import { entrySigned, findEntry, listEntries, signGuestbook } from '../services/guestbook.ts';

/** Thin resolvers: take the arguments, call a service, return its result. */
export const resolvers: Resolvers = {
  Query: {
    guestbookEntries: (_root, args: ConnectionArgs, { em }) => listEntries(em, args),
    guestbookEntry: (_root, { id }: { id: string }, { em }) => findEntry(em, id),
  },
  Mutation: {
    signGuestbook: (_root, { input }: { input: unknown }, { em, publish }) => signGuestbook(em, publish, input),
  },
  Subscription: {
    guestbookSigned: subscription(() => entrySigned),
  },
};
