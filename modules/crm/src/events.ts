import type { EventDeclaration, JsonSchema } from '@atrium/core';

const ids = (...names: string[]): JsonSchema => ({
  type: 'object',
  additionalProperties: false,
  required: names,
  properties: Object.fromEntries(names.map((name) => [name, { type: 'string', format: 'uuid' }])),
});

/** The events the CRM emits (through the outbox, after commit), with the payload each carries. */
export const events: Record<string, EventDeclaration> = {
  'crm.contact.created': { schema: ids('contactId') },
  'crm.contact.updated': {
    schema: {
      type: 'object',
      additionalProperties: false,
      required: ['contactId', 'changed'],
      properties: { contactId: { type: 'string', format: 'uuid' }, changed: { type: 'array', items: { type: 'string' } } },
    },
  },
  'crm.contact.merged': { schema: ids('survivorId', 'mergedId') },
  'crm.contact.deleted': { schema: ids('contactId') },
  'crm.contact.restored': { schema: ids('contactId') },
  'crm.product.created': { schema: ids('productId') },
  'crm.product.updated': { schema: ids('productId') },
  'crm.deal.created': { schema: ids('dealId', 'pipelineId', 'stageId') },
  'crm.deal.stageChanged': { schema: ids('dealId', 'pipelineId', 'fromStageId', 'toStageId') },
  'crm.deal.won': { schema: ids('dealId', 'pipelineId') },
  'crm.deal.lost': {
    schema: {
      type: 'object',
      additionalProperties: false,
      required: ['dealId', 'pipelineId', 'reason'],
      properties: { dealId: { type: 'string', format: 'uuid' }, pipelineId: { type: 'string', format: 'uuid' }, reason: { type: ['string', 'null'] } },
    },
  },
  'crm.task.assigned': { schema: ids('taskId', 'assigneeId') },
  'crm.task.completed': { schema: ids('taskId') },
  'crm.payment.recorded': {
    schema: {
      type: 'object',
      additionalProperties: false,
      required: ['paymentId', 'debtId', 'contactId', 'amount'],
      properties: {
        paymentId: { type: 'string', format: 'uuid' },
        debtId: { type: 'string', format: 'uuid' },
        contactId: { type: 'string', format: 'uuid' },
        amount: { type: 'string' },
      },
    },
  },
};
