import { defineEntity, p, primaryId, type InferEntity } from '@atrium/core';

/**
 * One entry of a contact's timeline: a note, a task, a deal move — or something another module
 * attached (a messenger conversation, a sale) through `recordActivity`.
 */
export const ContactActivity = defineEntity({
  name: 'ContactActivity',
  tableName: 'crm_contact_activity',
  properties: {
    id: primaryId(),
    companyId: p.uuid(),
    contactId: p.uuid(),
    /** What happened, namespaced by the module: `crm.note.added`, `crm.deal.stageChanged`, `messenger.conversation.opened`… */
    kind: p.string().length(100),
    title: p.text(),
    /** The record the entry is about (e.g. `Deal` and its id), for links. */
    subjectType: p.string().length(100).nullable(),
    subjectId: p.uuid().nullable(),
    /** Who did it, when a user did. */
    actorId: p.uuid().nullable(),
    data: p.json<Record<string, unknown>>().defaultRaw(`'{}'`),
    occurredAt: p.datetime().onCreate(() => new Date()),
  },
});
export type ContactActivity = InferEntity<typeof ContactActivity>;
