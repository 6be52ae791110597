import { BadUserInputError, cents, conflict, decimal, createValidator, isId, LockMode, notFound, type FilterQuery, type Viewer, transactionWithRetry } from '@atrium/core';
import { AgentAllocation, AgentRefund, AgentRefundAllocation, AgentRefundLine, AgentSale, AgentSaleLine } from '../entities/sales.ts';
import { AgentTransferLine } from '../entities/transfers.ts';
import type { AgentSalesContext } from './context.ts';
import { refundableWhere } from './sales.ts';
import { publishStockChange } from './stock.ts';
import { MAX_QUANTITY } from './transfers.ts';

const checkLines = createValidator<{ saleLineId: string; quantity: number }[] | null | undefined>(
  {
    type: ['array', 'null'],
    minItems: 1,
    maxItems: 200,
    items: {
      type: 'object',
      additionalProperties: false,
      required: ['saleLineId', 'quantity'],
      properties: { saleLineId: { type: 'string', format: 'uuid' }, quantity: { type: 'integer', minimum: 1, maximum: MAX_QUANTITY } },
    },
  },
  'lines',
);

const actorOf = (viewer: Viewer): string | null => (viewer.kind === 'user' ? viewer.id : null);

/** Sums a column of rows per key, in one aggregate. */
async function sumsBy(tx: AgentSalesContext['em'], table: string, key: string, column: string, companyId: string, ids: string[]): Promise<Map<string, bigint>> {
  if (!ids.length) return new Map();
  const rows = await tx.execute<{ key: string; total: string }[]>(
    `select ${key} as key, sum(${column})::text as total from ${table} where company_id = ? and ${key} in (${ids.map(() => '?').join(', ')}) group by ${key}`,
    [companyId, ...ids],
  );
  return new Map(rows.map((row) => [row.key, column === 'amount' ? cents(row.total) : BigInt(row.total)]));
}

/**
 * Refunds a sale whole (`lines` left out: every unit not yet refunded) or some units of its lines.
 * Each refunded unit goes back to the very transfer line it was sold from — the newest layer a line
 * took from first — so the layers are exactly as if those units had not been sold. Refunds of one
 * sale are serialised by a row lock on the sale; the layers are locked in FIFO order, like checkout.
 * The amount of a partial refund is the line's total pro rata (rounded down), the last one the rest.
 */
export async function refundAgentSale({ em, viewer, emit, publish }: AgentSalesContext, id: string, lines: unknown): Promise<AgentSale> {
  const wanted = checkLines(lines);
  const result = await transactionWithRetry(em, async (tx) => {
    const where = refundableWhere(viewer);
    const sale = where && isId(id) ? await tx.findOne(AgentSale, { $and: [{ id }, where] } as FilterQuery<AgentSale>, { lockMode: LockMode.PESSIMISTIC_WRITE, refresh: true }) : null;
    if (!sale) throw notFound('Sale');
    const saleLines = await tx.find(AgentSaleLine, { saleId: sale.id }, { orderBy: { position: 'asc' } });
    const lineIds = saleLines.map((line) => line.id);
    const refundedQty = await sumsBy(tx, 'agent_refund_line', 'sale_line_id', 'quantity', viewer.companyId, lineIds);
    const refundedAmount = await sumsBy(tx, 'agent_refund_line', 'sale_line_id', 'amount', viewer.companyId, lineIds);
    const refundable = (line: AgentSaleLine) => line.quantity - Number(refundedQty.get(line.id) ?? 0n);

    const plan = new Map<string, number>();
    if (wanted) {
      const byId = new Map(saleLines.map((line) => [line.id, line]));
      const fields: Record<string, string> = {};
      wanted.forEach((entry, index) => {
        const line = byId.get(entry.saleLineId);
        if (!line) fields[`lines.${index}.saleLineId`] = 'is not a line of this sale';
        else if (plan.has(line.id)) fields[`lines.${index}.saleLineId`] = 'repeats another entry';
        else if (entry.quantity > refundable(line)) fields[`lines.${index}.quantity`] = `is more than can be refunded (${refundable(line)})`;
        else plan.set(line.id, entry.quantity);
      });
      if (Object.keys(fields).length) throw new BadUserInputError(fields);
    } else {
      for (const line of saleLines) if (refundable(line) > 0) plan.set(line.id, refundable(line));
      if (!plan.size) throw conflict('The sale is refunded already');
    }

    const planned = saleLines.filter((line) => plan.has(line.id));
    const allocations = await tx.find(AgentAllocation, { saleLineId: { $in: planned.map((line) => line.id) } });
    const undone = await sumsBy(tx, 'agent_refund_allocation', 'allocation_id', 'quantity', viewer.companyId, allocations.map((a) => a.id));
    // Locked oldest first, the order every checkout locks in.
    const layers = await tx.find(
      AgentTransferLine,
      { id: { $in: [...new Set(allocations.map((a) => a.transferLineId))] } },
      { orderBy: { acceptedAt: 'asc', id: 'asc' }, lockMode: LockMode.PESSIMISTIC_WRITE, refresh: true },
    );
    const fifo = new Map(layers.map((layer, index) => [layer.id, index]));
    const layerById = new Map(layers.map((layer) => [layer.id, layer]));

    const refund = tx.create(AgentRefund, { saleId: sale.id, agentId: sale.agentId, total: '0.00', createdById: actorOf(viewer) } as AgentRefund);
    let total = 0n;
    for (const line of planned) {
      const quantity = plan.get(line.id)!;
      const amount =
        quantity === refundable(line) ? cents(line.total) - (refundedAmount.get(line.id) ?? 0n) : (cents(line.total) * BigInt(quantity)) / BigInt(line.quantity);
      total += amount;
      const refundLine = tx.create(AgentRefundLine, { refundId: refund.id, saleLineId: line.id, quantity, amount: decimal(amount) } as AgentRefundLine);
      // Newest layer first: what is left sold is what FIFO would have taken.
      const taken = allocations.filter((a) => a.saleLineId === line.id).sort((a, b) => fifo.get(b.transferLineId)! - fifo.get(a.transferLineId)!);
      let left = quantity;
      for (const allocation of taken) {
        const back = Math.min(left, allocation.quantity - Number(undone.get(allocation.id) ?? 0n));
        if (back <= 0) continue;
        layerById.get(allocation.transferLineId)!.remaining += back;
        tx.create(AgentRefundAllocation, { refundLineId: refundLine.id, allocationId: allocation.id, transferLineId: allocation.transferLineId, quantity: back } as AgentRefundAllocation);
        left -= back;
        if (left === 0) break;
      }
    }
    refund.total = decimal(total);
    sale.status = saleLines.every((line) => refundable(line) === (plan.get(line.id) ?? 0)) ? 'REFUNDED' : 'PARTIALLY_REFUNDED';
    emit(tx, 'agentSales.sale.refunded', { saleId: sale.id, refundId: refund.id, agentId: sale.agentId, total: refund.total });
    await tx.flush();
    return { sale, productIds: planned.map((line) => line.productId) };
  });
  await publishStockChange(em, publish, viewer.companyId, result.sale.agentId, result.productIds, 'REFUND');
  return result.sale;
}
