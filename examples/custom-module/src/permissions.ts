import type { PermissionDeclaration } from '@atrium/core';

/** The keys a company's roles can grant for this module (OWNER and ADMIN hold them all). */
export const permissions: PermissionDeclaration[] = [
  { key: 'guestbook.entry.read', subject: 'GuestbookEntry', actions: ['read'], description: 'Read the guestbook' },
  { key: 'guestbook.entry.sign', subject: 'GuestbookEntry', actions: ['create'], description: 'Sign the guestbook' },
];
