import { createdAt, defineEntity, p, primaryId, type InferEntity } from '@atrium/core';

/**
 * A to-do of the company: assigned to one of its users, optionally due at a time, optionally about a
 * contact or a deal. Branch-scoped (subject `CrmTask`): it lives in the branch of the record it is
 * about, else in the branch it was given.
 */
export const CrmTask = defineEntity({
  name: 'CrmTask',
  tableName: 'crm_task',
  // The queries each index serves are named in the migration.
  indexes: [
    { name: 'crm_task_company_due_idx', properties: ['companyId', 'dueAt', 'id'] },
    { name: 'crm_task_company_created_idx', properties: ['companyId', 'createdAt', 'id'] },
    { name: 'crm_task_assignee_idx', properties: ['assigneeId', 'done', 'dueAt', 'id'] },
    { name: 'crm_task_contact_idx', properties: ['contactId', 'done', 'dueAt', 'id'] },
    { name: 'crm_task_deal_idx', properties: ['dealId', 'done', 'dueAt', 'id'] },
  ],
  properties: {
    id: primaryId(),
    companyId: p.uuid(),
    branchId: p.uuid(),
    title: p.string().length(200),
    description: p.text().nullable(),
    /** An active user of the company; `crm.task.assigned` is emitted whenever it is set or changed. */
    assigneeId: p.uuid().nullable(),
    dueAt: p.datetime().nullable(),
    done: p.boolean().default(false),
    doneAt: p.datetime().nullable(),
    completedById: p.uuid().nullable(),
    contactId: p.uuid().nullable(),
    dealId: p.uuid().nullable(),
    /** Null when an API key made the task. */
    createdById: p.uuid().nullable(),
    createdAt: createdAt(),
    updatedAt: p.datetime().defaultRaw('now()').onCreate(() => new Date()).onUpdate(() => new Date()),
  },
});
export type CrmTask = InferEntity<typeof CrmTask>;

/**
 * A note on exactly one contact or deal (a CHECK constraint holds it). Whoever can read the record
 * reads its notes; `branchId` is the record's branch when the note was written, which
 * `crm.note.create` (branch-scoped) is checked against.
 */
export const CrmNote = defineEntity({
  name: 'CrmNote',
  tableName: 'crm_note',
  indexes: [
    { name: 'crm_note_contact_idx', properties: ['contactId', 'createdAt', 'id'] },
    { name: 'crm_note_deal_idx', properties: ['dealId', 'createdAt', 'id'] },
  ],
  checks: [
    { name: 'crm_note_body_check', expression: 'char_length(body) >= 1 and char_length(body) <= 10000' },
    // A note is on exactly one record.
    { name: 'crm_note_one_target', expression: 'num_nonnulls(contact_id, deal_id) = 1' },
  ],
  properties: {
    id: primaryId(),
    companyId: p.uuid(),
    branchId: p.uuid(),
    body: p.text(),
    contactId: p.uuid().nullable(),
    dealId: p.uuid().nullable(),
    /** Only the author edits or deletes the note; null when an API key wrote it. */
    authorId: p.uuid().nullable(),
    createdAt: createdAt(),
    updatedAt: p.datetime().defaultRaw('now()').onCreate(() => new Date()).onUpdate(() => new Date()),
  },
});
export type CrmNote = InferEntity<typeof CrmNote>;
