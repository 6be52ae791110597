import { requirePermission, requireViewer, subscription, type ConnectionArgs, type Resolvers } from '@atrium/core';
import { entrySigned, findEntry, listEntries, signGuestbook } from '../services/guestbook.ts';

/**
 * Thin resolvers: check who calls, take the arguments, call a service. (The kernel has already
 * checked that the caller is signed in and that the company's plan includes the module.)
 */
export const resolvers: Resolvers = {
  Query: {
    guestbookEntries: (_root, args: ConnectionArgs, context) => listEntries(context.em, requireViewer(context), args),
    guestbookEntry: (_root, { id }: { id: string }, context) => findEntry(context.em, requireViewer(context), id),
  },
  Mutation: {
    signGuestbook: (_root, { input }: { input: unknown }, context) =>
      signGuestbook(context.em, context.publish, requirePermission(context, 'guestbook.entry.sign'), input),
  },
  Subscription: {
    // Checked at the start and again before each event: a reader who loses the key stops receiving.
    guestbookSigned: subscription((_args, context) => entrySigned(requirePermission(context, 'guestbook.entry.read').companyId), {
      permission: 'guestbook.entry.read',
    }),
  },
};
