import { createdAt, defineEntity, p, primaryId, type InferEntity } from '@atrium/core';

/** One signature in a company's guestbook. */
export const GuestbookEntry = defineEntity({
  name: 'GuestbookEntry',
  tableName: 'guestbook_entry',
  // The list pages a company's entries newest first: (company_id, created_at, id) scanned backwards.
  indexes: [{ name: 'guestbook_entry_company_created_at_id_idx', properties: ['companyId', 'createdAt', 'id'] }],
  properties: {
    id: primaryId(),
    // A `companyId` makes the entity tenant-owned: the kernel filters reads and stamps writes.
    companyId: p.uuid(),
    author: p.string().length(80),
    message: p.text(),
    createdAt: createdAt(),
  },
});

export type GuestbookEntry = InferEntity<typeof GuestbookEntry>;
