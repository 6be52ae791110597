import {
  BadUserInputError,
  conflict,
  createValidator,
  forbidden,
  isId,
  LockMode,
  notFound,
  paginate,
  User,
  type AtriumRequestContext,
  type Connection,
  type ConnectionArgs,
  type EntityManager,
  type FilterQuery,
  type LoaderQuery,
  type Viewer,
  transactionWithRetry,
} from '@atrium/core';
import { findProducts } from '@atrium/crm';
import { AgentReturn, AgentTransfer, AgentTransferLine, TRANSFER_STATUSES, type TransferStatus } from '../entities/transfers.ts';
import { isAgent, isOffice, seesAllAgents } from './access.ts';
import type { AgentSalesContext } from './context.ts';
import { publishStockChange } from './stock.ts';

/** Units per transfer line at most (an int column; far beyond any consignment). */
export const MAX_QUANTITY = 1_000_000;
export const MAX_TRANSFER_LINES = 200;

const uuid = { type: 'string', format: 'uuid' };
const quantity = { type: 'integer', minimum: 1, maximum: MAX_QUANTITY };

export interface TransferInput {
  agentId: string;
  note?: string | null;
  lines: { productId: string; quantity: number }[];
}

const checkTransfer = createValidator<TransferInput>({
  type: 'object',
  additionalProperties: false,
  required: ['agentId', 'lines'],
  properties: {
    agentId: uuid,
    note: { type: ['string', 'null'], maxLength: 1000 },
    lines: {
      type: 'array',
      minItems: 1,
      maxItems: MAX_TRANSFER_LINES,
      items: { type: 'object', additionalProperties: false, required: ['productId', 'quantity'], properties: { productId: uuid, quantity } },
    },
  },
});

const checkAcceptLines = createValidator<{ lineId: string; quantityAccepted: number }[]>(
  {
    type: 'array',
    minItems: 1,
    maxItems: MAX_TRANSFER_LINES,
    items: {
      type: 'object',
      additionalProperties: false,
      required: ['lineId', 'quantityAccepted'],
      properties: { lineId: uuid, quantityAccepted: { type: 'integer', minimum: 0, maximum: MAX_QUANTITY } },
    },
  },
  'lines',
);

const checkReason = createValidator<string | null | undefined>({ type: ['string', 'null'], maxLength: 1000 }, 'reason');

const checkReturn = createValidator<{ transferLineId: string; quantity: number }>({
  type: 'object',
  additionalProperties: false,
  required: ['transferLineId', 'quantity'],
  properties: { transferLineId: uuid, quantity },
});

export interface TransferFilter {
  agentId?: string | null;
  status?: TransferStatus | null;
}

const checkFilter = createValidator<TransferFilter>(
  {
    type: 'object',
    additionalProperties: false,
    properties: { agentId: { type: ['string', 'null'], format: 'uuid' }, status: { enum: [...TRANSFER_STATUSES, null] } },
  },
  'filter',
);

const actorOf = (viewer: Viewer): string | null => (viewer.kind === 'user' ? viewer.id : null);

/** The transfers the viewer may read, as a filter: all for the office, an agent's own; null: none. */
export function transfersWhere(viewer: Viewer): FilterQuery<AgentTransfer> | null {
  if (seesAllAgents(viewer)) return {};
  return isAgent(viewer) ? { agentId: viewer.id } : null;
}

/** The transfer lines the viewer may read (those of the transfers they may read). */
export function transferLinesWhere(viewer: Viewer): FilterQuery<AgentTransferLine> | null {
  if (seesAllAgents(viewer)) return {};
  return isAgent(viewer) ? { agentId: viewer.id } : null;
}

export async function findTransfer(em: EntityManager, viewer: Viewer, id: string): Promise<AgentTransfer | null> {
  const where = transfersWhere(viewer);
  return where && isId(id) ? em.findOne(AgentTransfer, { $and: [{ id }, where] } as FilterQuery<AgentTransfer>) : null;
}

/** Transfers newest first; an agent sees their own. */
export async function listTransfers(em: EntityManager, viewer: Viewer, args: ConnectionArgs & { filter?: TransferFilter | null }): Promise<Connection<AgentTransfer>> {
  const where = transfersWhere(viewer);
  if (!where) throw forbidden('This needs the permission agentSales.transfer.manage or agentSales.sale.create');
  const filter = checkFilter(args.filter ?? {});
  const and: FilterQuery<AgentTransfer>[] = [where];
  if (filter.agentId) and.push({ agentId: filter.agentId });
  if (filter.status) and.push({ status: filter.status });
  return paginate(em, AgentTransfer, { first: args.first, after: args.after, where: { $and: and } as FilterQuery<AgentTransfer>, orderBy: { createdAt: 'desc', id: 'desc' } });
}

/** A transfer of the company locked for the rest of the transaction; NOT_FOUND when the viewer may not see it. */
async function lockTransfer(tx: EntityManager, viewer: Viewer, id: string): Promise<AgentTransfer> {
  const where = transfersWhere(viewer);
  const transfer = where && isId(id) ? await tx.findOne(AgentTransfer, { $and: [{ id }, where] } as FilterQuery<AgentTransfer>, { lockMode: LockMode.PESSIMISTIC_WRITE, refresh: true }) : null;
  if (!transfer) throw notFound('Transfer');
  return transfer;
}

const wrongStatus = (transfer: AgentTransfer, wanted: string) => conflict(`The transfer is ${transfer.status}; this needs it ${wanted}`, { status: transfer.status });

/** A DRAFT transfer of products to an agent (an active user of the company). */
export async function createAgentTransfer({ em, viewer }: AgentSalesContext, input: unknown): Promise<AgentTransfer> {
  const data = checkTransfer(input);
  const fields: Record<string, string> = {};
  const seen = new Set<string>();
  data.lines.forEach((line, index) => {
    if (seen.has(line.productId)) fields[`input.lines.${index}.productId`] = 'repeats the product of another line';
    seen.add(line.productId);
  });
  const agent = await em.findOne(User, { id: data.agentId });
  if (!agent?.active) fields['input.agentId'] = 'is not an active user of this company';
  const products = new Map((await findProducts(em, data.lines.map((line) => line.productId))).map((product) => [product.id, product]));
  data.lines.forEach((line, index) => {
    const product = products.get(line.productId);
    if (!product) fields[`input.lines.${index}.productId`] ??= 'is not a product of this company';
    else if (!product.active) fields[`input.lines.${index}.productId`] ??= 'is an inactive product';
  });
  if (Object.keys(fields).length) throw new BadUserInputError(fields);

  return em.transactional(async (tx) => {
    const transfer = tx.create(AgentTransfer, { agentId: data.agentId, note: data.note?.trim() || null, createdById: actorOf(viewer), status: 'DRAFT' } as AgentTransfer);
    data.lines.forEach((line, position) => {
      tx.create(AgentTransferLine, { transferId: transfer.id, agentId: data.agentId, productId: line.productId, position, qtySent: line.quantity, remaining: 0 } as AgentTransferLine);
    });
    await tx.flush();
    return transfer;
  });
}

/** DRAFT → SENT: the goods are on their way to the agent. */
export async function sendAgentTransfer({ em, viewer, emit }: AgentSalesContext, id: string): Promise<AgentTransfer> {
  return em.transactional(async (tx) => {
    const transfer = await lockTransfer(tx, viewer, id);
    if (transfer.status !== 'DRAFT') throw wrongStatus(transfer, 'DRAFT');
    transfer.status = 'SENT';
    transfer.sentAt = new Date();
    emit(tx, 'agentSales.transfer.sent', { transferId: transfer.id, agentId: transfer.agentId });
    await tx.flush();
    return transfer;
  });
}

/** The transfer addressed to the calling agent; NOT_FOUND for anyone else's (the office included: only the agent takes goods). */
async function lockOwnTransfer(tx: EntityManager, viewer: Viewer, id: string): Promise<AgentTransfer> {
  const transfer = await lockTransfer(tx, viewer, id);
  if (transfer.agentId !== viewer.id) throw forbidden('Only the agent the transfer is addressed to may accept or reject it');
  return transfer;
}

/**
 * The agent accepts every line of a SENT transfer with 0 ≤ quantityAccepted ≤ quantitySent: all of
 * it → ACCEPTED, less → PARTIALLY_ACCEPTED. Accepted lines become FIFO layers (acceptance time, then id).
 */
export async function acceptAgentTransfer({ em, viewer, emit, publish }: AgentSalesContext, id: string, lines: unknown): Promise<AgentTransfer> {
  const accepted = checkAcceptLines(lines);
  const transfer = await transactionWithRetry(em, async (tx) => {
    const transfer = await lockOwnTransfer(tx, viewer, id);
    if (transfer.status !== 'SENT') throw wrongStatus(transfer, 'SENT');
    const own = await tx.find(AgentTransferLine, { transferId: transfer.id }, { orderBy: { position: 'asc' }, refresh: true });
    const byId = new Map(own.map((line) => [line.id, line]));
    const fields: Record<string, string> = {};
    const given = new Map<string, number>();
    accepted.forEach((entry, index) => {
      const line = byId.get(entry.lineId);
      if (!line) fields[`lines.${index}.lineId`] = 'is not a line of this transfer';
      else if (given.has(line.id)) fields[`lines.${index}.lineId`] = 'repeats another entry';
      else if (entry.quantityAccepted > line.qtySent) fields[`lines.${index}.quantityAccepted`] = `is more than was sent (${line.qtySent})`;
      if (line) given.set(line.id, entry.quantityAccepted);
    });
    const missing = own.filter((line) => !given.has(line.id));
    if (missing.length) fields.lines = `must list every line of the transfer (missing ${missing.length})`;
    const total = [...given.values()].reduce((sum, q) => sum + q, 0);
    if (!Object.keys(fields).length && total === 0) fields.lines = 'accept at least one unit, or reject the transfer';
    if (Object.keys(fields).length) throw new BadUserInputError(fields);

    const now = new Date();
    for (const line of own) {
      line.qtyAccepted = given.get(line.id)!;
      line.remaining = line.qtyAccepted;
      line.acceptedAt = now;
    }
    transfer.status = own.every((line) => line.qtyAccepted === line.qtySent) ? 'ACCEPTED' : 'PARTIALLY_ACCEPTED';
    transfer.decidedAt = now;
    emit(tx, 'agentSales.transfer.accepted', { transferId: transfer.id, agentId: transfer.agentId, status: transfer.status, quantityAccepted: total });
    await tx.flush();
    return { transfer, productIds: own.filter((line) => line.remaining > 0).map((line) => line.productId) };
  });
  await publishStockChange(em, publish, viewer.companyId, transfer.transfer.agentId, transfer.productIds, 'TRANSFER_ACCEPTED');
  return transfer.transfer;
}

/** The agent refuses a SENT transfer whole; nothing reaches their stock. */
export async function rejectAgentTransfer({ em, viewer, emit }: AgentSalesContext, id: string, reason: unknown): Promise<AgentTransfer> {
  const why = checkReason(reason ?? null)?.trim() || null;
  return em.transactional(async (tx) => {
    const transfer = await lockOwnTransfer(tx, viewer, id);
    if (transfer.status !== 'SENT') throw wrongStatus(transfer, 'SENT');
    transfer.status = 'REJECTED';
    transfer.rejectReason = why;
    transfer.decidedAt = new Date();
    emit(tx, 'agentSales.transfer.rejected', { transferId: transfer.id, agentId: transfer.agentId, reason: why });
    await tx.flush();
    return transfer;
  });
}

/**
 * Goods back from the agent against one transfer line, never more than its remaining (checked
 * under a row lock on the line, with a database check behind it). The office records returns of any
 * agent; an agent, of their own lines.
 */
export async function returnFromAgent({ em, viewer, emit, publish }: AgentSalesContext, input: unknown): Promise<AgentReturn> {
  const data = checkReturn(input);
  const recorded = await transactionWithRetry(em, async (tx) => {
    const line = await tx.findOne(AgentTransferLine, { id: data.transferLineId }, { lockMode: LockMode.PESSIMISTIC_WRITE, refresh: true });
    const visible = line && (isOffice(viewer) || (isAgent(viewer) && line.agentId === viewer.id));
    if (!line || !visible) throw notFound('Transfer line');
    if (line.acceptedAt === null) throw new BadUserInputError({ 'input.transferLineId': 'has not been accepted: nothing to return' });
    if (data.quantity > line.remaining) throw new BadUserInputError({ 'input.quantity': `is more than the line's remaining (${line.remaining})` });
    line.remaining -= data.quantity;
    const row = tx.create(AgentReturn, {
      transferLineId: line.id,
      agentId: line.agentId,
      productId: line.productId,
      quantity: data.quantity,
      recordedById: actorOf(viewer),
    } as AgentReturn);
    emit(tx, 'agentSales.return.recorded', { returnId: row.id, transferLineId: line.id, agentId: line.agentId, productId: line.productId, quantity: data.quantity });
    await tx.flush();
    return row;
  });
  await publishStockChange(em, publish, viewer.companyId, recorded.agentId, [recorded.productId], 'RETURN');
  return recorded;
}

/** The office or the agent of the transfer may see its lines. */
export async function linesOf(queries: LoaderQuery<AgentTransfer>[], context: AtriumRequestContext): Promise<AgentTransferLine[][]> {
  const ids = [...new Set(queries.map((query) => query.obj.id))];
  const lines = await context.em.find(AgentTransferLine, { transferId: { $in: ids } }, { orderBy: { transferId: 'asc', position: 'asc' } });
  const byTransfer = Map.groupBy(lines, (line) => line.transferId);
  return queries.map((query) => byTransfer.get(query.obj.id) ?? []);
}

/** Returns recorded against each line, oldest first. */
export async function returnsOf(queries: LoaderQuery<AgentTransferLine>[], context: AtriumRequestContext): Promise<AgentReturn[][]> {
  const ids = [...new Set(queries.map((query) => query.obj.id))];
  const rows = await context.em.find(AgentReturn, { transferLineId: { $in: ids } }, { orderBy: { createdAt: 'asc', id: 'asc' } });
  const byLine = Map.groupBy(rows, (row) => row.transferLineId);
  return queries.map((query) => byLine.get(query.obj.id) ?? []);
}
