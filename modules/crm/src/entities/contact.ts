import { createdAt, defineEntity, p, primaryId, type InferEntity } from '@atrium/core';

export const CONTACT_KINDS = ['PERSON', 'ORGANIZATION'] as const;
export type ContactKind = (typeof CONTACT_KINDS)[number];

const textArray = () => p.array<string>().columnType('text[]').defaultRaw(`'{}'`);

/**
 * A person or organisation the company deals with. Branch-scoped; soft-deleted (`deletedAt`) and
 * restorable; a contact merged into another keeps `mergedIntoId` and stays deleted.
 */
export const Contact = defineEntity({
  name: 'Contact',
  tableName: 'crm_contact',
  properties: {
    id: primaryId(),
    companyId: p.uuid(),
    branchId: p.uuid(),
    kind: p.enum(() => [...CONTACT_KINDS]).columnType('text'),
    name: p.string().length(200),
    /** Normalised (lower-case) addresses, the first one primary; each is claimed in `crm_contact_email`. */
    emails: textArray(),
    /** E.164 numbers, the first one primary. */
    phones: textArray(),
    /** An id in another system, unique per company. */
    identifier: p.string().length(200).nullable(),
    ownerId: p.uuid().nullable(),
    labels: textArray(),
    blocked: p.boolean().default(false),
    customAttributes: p.json<Record<string, unknown>>().defaultRaw(`'{}'`),
    /** What the contact is searched by (name, identifier, emails, phones in several forms); indexed as a tsvector. */
    searchText: p.text().hidden().lazy(),
    lastActivityAt: p.datetime().nullable(),
    deletedAt: p.datetime().nullable(),
    mergedIntoId: p.uuid().nullable(),
    createdAt: createdAt(),
    updatedAt: p.datetime().onCreate(() => new Date()).onUpdate(() => new Date()),
  },
});
export type Contact = InferEntity<typeof Contact>;

/** Claims an e-mail address for one contact: the unique index makes an address unique per company. */
export const ContactEmail = defineEntity({
  name: 'ContactEmail',
  tableName: 'crm_contact_email',
  properties: {
    companyId: p.uuid().primary(),
    email: p.string().length(320).primary(),
    contactId: p.uuid(),
  },
});
export type ContactEmail = InferEntity<typeof ContactEmail>;

/** A company's CRM settings: the JSON schema contacts' custom attributes must satisfy. */
export const CrmSettings = defineEntity({
  name: 'CrmSettings',
  tableName: 'crm_settings',
  properties: {
    companyId: p.uuid().primary(),
    contactAttributeSchema: p.json<Record<string, unknown>>().defaultRaw(`'{}'`),
    defaultPhoneCountry: p.string().length(2).nullable(),
    updatedAt: p.datetime().onCreate(() => new Date()).onUpdate(() => new Date()),
  },
});
export type CrmSettings = InferEntity<typeof CrmSettings>;
