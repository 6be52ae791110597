import { defineEntity, p, type InferEntity } from '@mikro-orm/core';
import { createdAt, primaryId } from '../db/columns.ts';

/**
 * An event in the outbox. Not a tenant entity to the ORM (the dispatcher reads every company's);
 * `emit` stamps the company, and row-level security still applies to requests.
 */
export const OutboxEvent = defineEntity({
  name: 'OutboxEvent',
  tableName: 'atrium_event',
  properties: {
    id: primaryId(),
    name: p.string().length(200),
    eventCompanyId: p.uuid().fieldName('company_id').nullable(),
    payload: p.json<unknown>(),
    occurredAt: createdAt(),
    dispatchedAt: p.datetime().nullable(),
  },
});
export type OutboxEvent = InferEntity<typeof OutboxEvent>;
