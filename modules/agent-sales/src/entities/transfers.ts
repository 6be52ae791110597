import { createdAt, defineEntity, p, primaryId, type InferEntity } from '@atrium/core';

export const TRANSFER_STATUSES = ['DRAFT', 'SENT', 'ACCEPTED', 'PARTIALLY_ACCEPTED', 'REJECTED'] as const;
export type TransferStatus = (typeof TRANSFER_STATUSES)[number];

/** Goods the company hands to one of its agents (a user): DRAFT → SENT → ACCEPTED | PARTIALLY_ACCEPTED | REJECTED. */
export const AgentTransfer = defineEntity({
  name: 'AgentTransfer',
  tableName: 'agent_transfer',
  properties: {
    id: primaryId(),
    companyId: p.uuid(),
    agentId: p.uuid(),
    status: p.enum(() => [...TRANSFER_STATUSES]).columnType('text').default('DRAFT'),
    note: p.text().nullable(),
    rejectReason: p.text().nullable(),
    createdById: p.uuid().nullable(),
    createdAt: createdAt(),
    sentAt: p.datetime().nullable(),
    /** When the agent accepted or rejected it. */
    decidedAt: p.datetime().nullable(),
  },
});
export type AgentTransfer = InferEntity<typeof AgentTransfer>;

/**
 * One product of a transfer; once accepted, a FIFO layer of the agent's stock (ordered by
 * `acceptedAt`, then `id`). `remaining` = accepted − returned − allocated + refunded, kept in step by
 * the transaction writing each of those rows, under a row lock on the line.
 */
export const AgentTransferLine = defineEntity({
  name: 'AgentTransferLine',
  tableName: 'agent_transfer_line',
  properties: {
    id: primaryId(),
    companyId: p.uuid(),
    transferId: p.uuid(),
    agentId: p.uuid(),
    productId: p.uuid(),
    position: p.integer(),
    qtySent: p.integer(),
    qtyAccepted: p.integer().nullable(),
    acceptedAt: p.datetime().nullable(),
    remaining: p.integer().default(0),
  },
});
export type AgentTransferLine = InferEntity<typeof AgentTransferLine>;

/** Units an agent handed back against one transfer line. */
export const AgentReturn = defineEntity({
  name: 'AgentReturn',
  tableName: 'agent_return',
  properties: {
    id: primaryId(),
    companyId: p.uuid(),
    transferLineId: p.uuid(),
    agentId: p.uuid(),
    productId: p.uuid(),
    quantity: p.integer(),
    recordedById: p.uuid().nullable(),
    createdAt: createdAt(),
  },
});
export type AgentReturn = InferEntity<typeof AgentReturn>;
