import { createdAt, defineEntity, money, p, primaryId, type InferEntity } from '@atrium/core';

export const CART_STATUSES = ['OPEN', 'CHECKED_OUT'] as const;
export type CartStatus = (typeof CART_STATUSES)[number];
export const SALE_STATUSES = ['COMPLETED', 'PARTIALLY_REFUNDED', 'REFUNDED'] as const;
export type SaleStatus = (typeof SALE_STATUSES)[number];

/** An agent's cart; an agent may keep several open at once. Checked out, it is frozen with its sale. */
export const AgentCart = defineEntity({
  name: 'AgentCart',
  tableName: 'agent_cart',
  properties: {
    id: primaryId(),
    companyId: p.uuid(),
    agentId: p.uuid(),
    status: p.enum(() => [...CART_STATUSES]).columnType('text').default('OPEN'),
    /** Bumped by every change of the cart's lines (see checkout's lock). */
    linesVersion: p.integer().default(0),
    createdAt: createdAt(),
    checkedOutAt: p.datetime().nullable(),
  },
});
export type AgentCart = InferEntity<typeof AgentCart>;

/** A product in a cart: a quantity at a unit price, less a discount on the line. */
export const AgentCartLine = defineEntity({
  name: 'AgentCartLine',
  tableName: 'agent_cart_line',
  properties: {
    id: primaryId(),
    companyId: p.uuid(),
    cartId: p.uuid(),
    productId: p.uuid(),
    quantity: p.integer(),
    unitPrice: money(),
    discount: money().default('0'),
    createdAt: createdAt(),
  },
});
export type AgentCartLine = InferEntity<typeof AgentCartLine>;

/** A checked-out cart; `idempotencyKey` is unique per agent. */
export const AgentSale = defineEntity({
  name: 'AgentSale',
  tableName: 'agent_sale',
  properties: {
    id: primaryId(),
    companyId: p.uuid(),
    agentId: p.uuid(),
    cartId: p.uuid(),
    customerId: p.uuid().nullable(),
    idempotencyKey: p.string().length(200),
    total: money(),
    status: p.enum(() => [...SALE_STATUSES]).columnType('text').default('COMPLETED'),
    createdAt: createdAt(),
  },
});
export type AgentSale = InferEntity<typeof AgentSale>;

export const AgentSaleLine = defineEntity({
  name: 'AgentSaleLine',
  tableName: 'agent_sale_line',
  properties: {
    id: primaryId(),
    companyId: p.uuid(),
    saleId: p.uuid(),
    productId: p.uuid(),
    position: p.integer(),
    quantity: p.integer(),
    unitPrice: money(),
    discount: money(),
    total: money(),
  },
});
export type AgentSaleLine = InferEntity<typeof AgentSaleLine>;

/** Units of a sale line taken from one transfer line (FIFO layer). */
export const AgentAllocation = defineEntity({
  name: 'AgentAllocation',
  tableName: 'agent_allocation',
  properties: {
    id: primaryId(),
    companyId: p.uuid(),
    saleLineId: p.uuid(),
    transferLineId: p.uuid(),
    quantity: p.integer(),
    /** The database clock at insert (after the FIFO lock): allocations sort in lock order. */
    createdAt: p.datetime().defaultRaw('clock_timestamp()'),
  },
});
export type AgentAllocation = InferEntity<typeof AgentAllocation>;

export const AgentRefund = defineEntity({
  name: 'AgentRefund',
  tableName: 'agent_refund',
  properties: {
    id: primaryId(),
    companyId: p.uuid(),
    saleId: p.uuid(),
    agentId: p.uuid(),
    total: money(),
    createdById: p.uuid().nullable(),
    createdAt: createdAt(),
  },
});
export type AgentRefund = InferEntity<typeof AgentRefund>;

export const AgentRefundLine = defineEntity({
  name: 'AgentRefundLine',
  tableName: 'agent_refund_line',
  properties: {
    id: primaryId(),
    companyId: p.uuid(),
    refundId: p.uuid(),
    saleLineId: p.uuid(),
    quantity: p.integer(),
    amount: money(),
  },
});
export type AgentRefundLine = InferEntity<typeof AgentRefundLine>;

/** Units a refund line put back on a transfer line, undoing (part of) one allocation. */
export const AgentRefundAllocation = defineEntity({
  name: 'AgentRefundAllocation',
  tableName: 'agent_refund_allocation',
  properties: {
    id: primaryId(),
    companyId: p.uuid(),
    refundLineId: p.uuid(),
    allocationId: p.uuid(),
    transferLineId: p.uuid(),
    quantity: p.integer(),
  },
});
export type AgentRefundAllocation = InferEntity<typeof AgentRefundAllocation>;
