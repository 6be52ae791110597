import { createValidator, isId, paginate, topic, type Connection, type ConnectionArgs, type EntityManager, type Publish } from '@atrium/core';
import { GuestbookEntry } from '../entities/guestbook-entry.ts';

/** Published after an entry is stored. */
export const entrySigned = topic<GuestbookEntry>('guestbook', 'signed');

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

/** Stores a signature and announces it to subscribers. Bad input throws BAD_USER_INPUT and writes nothing. */
export async function signGuestbook(em: EntityManager, publish: Publish, input: unknown): Promise<GuestbookEntry> {
  const { author, message } = validateSignInput(input);
  const entry = em.create(GuestbookEntry, { author: author.trim(), message });
  await em.flush();
  await publish(entrySigned, entry);
  return entry;
}

export function listEntries(em: EntityManager, args: ConnectionArgs): Promise<Connection<GuestbookEntry>> {
  return paginate(em, GuestbookEntry, { ...args, orderBy: { createdAt: 'desc', id: 'desc' } });
}

export async function findEntry(em: EntityManager, id: string): Promise<GuestbookEntry | null> {
  return isId(id) ? em.findOne(GuestbookEntry, { id }) : null;
}
