import { defineEntity, newId, p, type InferEntity } from '@atrium/core';

/** One signature in the guestbook. */
export const GuestbookEntry = defineEntity({
  name: 'GuestbookEntry',
  tableName: 'guestbook_entry',
  properties: {
    id: p.uuid().primary().onCreate(() => newId()),
    author: p.string().length(80),
    message: p.text(),
    createdAt: p.datetime().onCreate(() => new Date()),
  },
});

export type GuestbookEntry = InferEntity<typeof GuestbookEntry>;
