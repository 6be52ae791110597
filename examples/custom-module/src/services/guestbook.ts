import {
  accessibleWhere,
  createValidator,
  forbidden,
  isId,
  paginate,
  topic,
  type Connection,
  type ConnectionArgs,
  type EntityManager,
  type Publish,
  type Topic,
  type Viewer,
} from '@atrium/core';
import { GuestbookEntry } from '../entities/guestbook-entry.ts';

/** Published after an entry is stored; one topic per company. */
export const entrySigned = (companyId: string): Topic<GuestbookEntry> => topic<GuestbookEntry>('guestbook', companyId, 'signed');

export interface SignGuestbookInput {
  author: string;
  message: string;
}

const validateSignInput = createValidator<SignGuestbookInput>({
  type: 'object',
  additionalProperties: false,
  required: ['author', 'message'],
  properties: {
    author: { type: 'string', minLength: 1, maxLength: 80, pattern: '\\S' },
    message: { type: 'string', minLength: 1, maxLength: 2000 },
  },
});

/** Stores a signature and announces it to the company's subscribers. Bad input throws BAD_USER_INPUT and writes nothing. */
export async function signGuestbook(em: EntityManager, publish: Publish, viewer: Viewer, input: unknown): Promise<GuestbookEntry> {
  const { author, message } = validateSignInput(input);
  // companyId is stamped by the kernel from the request's company, never taken from input.
  const entry = em.create(GuestbookEntry, { author: author.trim(), message } as GuestbookEntry);
  await em.flush();
  await publish(entrySigned(viewer.companyId), entry);
  return entry;
}

/** What the viewer may read, as a SQL filter (FORBIDDEN when nothing). */
function readable(viewer: Viewer) {
  const where = accessibleWhere(viewer.ability, 'read', 'GuestbookEntry');
  if (!where) throw forbidden('This needs the permission guestbook.entry.read');
  return where;
}

export function listEntries(em: EntityManager, viewer: Viewer, args: ConnectionArgs): Promise<Connection<GuestbookEntry>> {
  return paginate(em, GuestbookEntry, { ...args, where: readable(viewer), orderBy: { createdAt: 'desc', id: 'desc' } });
}

export async function findEntry(em: EntityManager, viewer: Viewer, id: string): Promise<GuestbookEntry | null> {
  return isId(id) ? em.findOne(GuestbookEntry, { $and: [{ id }, readable(viewer)] } as never) : null;
}
