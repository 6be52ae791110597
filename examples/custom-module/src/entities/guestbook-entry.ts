import { defineEntity, newId, p, type InferEntity } from '@atrium/core';

/** One signature in the guestbook. */
export const GuestbookEntry = defineEntity({
  name: 'GuestbookEntry',
  tableName: 'guestbook_entry',
  // The list pages newest first: (created_at, id) scanned backwards.
  indexes: [{ name: 'guestbook_entry_created_at_id_idx', properties: ['createdAt', 'id'] }],
  properties: {
    id: p.uuid().primary().onCreate(() => newId()),
    author: p.string().length(80),
    message: p.text(),
    createdAt: p.datetime().defaultRaw('now()').onCreate(() => new Date()),
  },
});

export type GuestbookEntry = InferEntity<typeof GuestbookEntry>;
