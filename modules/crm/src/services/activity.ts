import { createValidator, type EntityManager } from '@atrium/core';
import { ContactActivity } from '../entities/activity.ts';
import { Contact } from '../entities/contact.ts';

/** An entry for a contact's timeline. */
export interface ActivityInput {
  contactId: string;
  /** Namespaced by the module: `crm.note.added`, `messenger.conversation.opened`… */
  kind: string;
  title: string;
  subjectType?: string;
  subjectId?: string;
  actorId?: string | null;
  data?: Record<string, unknown>;
  occurredAt?: Date;
}

const validateActivity = createValidator<Omit<ActivityInput, 'occurredAt'>>({
  type: 'object',
  additionalProperties: false,
  required: ['contactId', 'kind', 'title'],
  properties: {
    contactId: { type: 'string', format: 'uuid' },
    kind: { type: 'string', pattern: '^[a-z][a-zA-Z0-9]*(\\.[a-zA-Z0-9]+)+$', maxLength: 100 },
    title: { type: 'string', minLength: 1, maxLength: 500 },
    subjectType: { type: 'string', maxLength: 100 },
    subjectId: { type: 'string', format: 'uuid' },
    actorId: { type: ['string', 'null'], format: 'uuid' },
    data: { type: 'object' },
  },
});

/**
 * Adds an entry to a contact's timeline and marks the contact's last activity, in the caller's unit
 * of work (it is written by the caller's flush, with the change it records). Other modules call it
 * from their services or listeners to attach their records to a contact. The contact is looked up
 * through the caller's (tenant-scoped) EntityManager: another company's contact is not found.
 */
export async function recordActivity(em: EntityManager, input: ActivityInput): Promise<ContactActivity> {
  const { occurredAt, ...rest } = input;
  const activity = { ...validateActivity(rest), ...(occurredAt ? { occurredAt } : {}) };
  const contact = await em.findOne(Contact, { id: activity.contactId });
  if (!contact) throw new Error(`recordActivity: no contact ${activity.contactId} in this company`);
  const entry = em.create(ContactActivity, { ...activity, companyId: contact.companyId } as ContactActivity);
  if (!contact.lastActivityAt || contact.lastActivityAt < entry.occurredAt) contact.lastActivityAt = entry.occurredAt;
  return entry;
}
