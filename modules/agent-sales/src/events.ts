import type { EventDeclaration, JsonSchema } from '@atrium/core';

const uuid = { type: 'string', format: 'uuid' };
const object = (properties: Record<string, unknown>): JsonSchema => ({
  type: 'object',
  additionalProperties: false,
  required: Object.keys(properties),
  properties,
});

/** The events agent sales emits (through the outbox, after commit), with the payload each carries. */
export const events: Record<string, EventDeclaration> = {
  'agentSales.transfer.sent': { schema: object({ transferId: uuid, agentId: uuid }) },
  'agentSales.transfer.accepted': {
    schema: object({ transferId: uuid, agentId: uuid, status: { enum: ['ACCEPTED', 'PARTIALLY_ACCEPTED'] }, quantityAccepted: { type: 'integer', minimum: 1 } }),
  },
  'agentSales.transfer.rejected': { schema: object({ transferId: uuid, agentId: uuid, reason: { type: ['string', 'null'] } }) },
  'agentSales.sale.completed': { schema: object({ saleId: uuid, agentId: uuid, customerId: { type: ['string', 'null'], format: 'uuid' }, total: { type: 'string' } }) },
  'agentSales.sale.refunded': { schema: object({ saleId: uuid, refundId: uuid, agentId: uuid, total: { type: 'string' } }) },
  'agentSales.return.recorded': {
    schema: object({ returnId: uuid, transferLineId: uuid, agentId: uuid, productId: uuid, quantity: { type: 'integer', minimum: 1 } }),
  },
};
