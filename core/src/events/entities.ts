import { defineEntity, p, type InferEntity } from '@mikro-orm/core';
import { newId } from '../db/ids.ts';

/**
 * An event in the outbox. Not a tenant entity to the ORM (the dispatcher reads every company's);
 * `emit` stamps the company, and row-level security still applies to requests.
 */
export const OutboxEvent = defineEntity({
  name: 'OutboxEvent',
  tableName: 'atrium_event',
  properties: {
    id: p.uuid().primary().onCreate(() => newId()),
    name: p.string().length(200),
    eventCompanyId: p.uuid().fieldName('company_id').nullable(),
    payload: p.json<unknown>(),
    occurredAt: p.datetime().defaultRaw('now()').onCreate(() => new Date()),
    dispatchedAt: p.datetime().nullable(),
  },
});
export type OutboxEvent = InferEntity<typeof OutboxEvent>;
