import { forbidden, isId, paginate, type AtriumRequestContext, type Connection, type ConnectionArgs, type EntityManager, type FilterQuery, type LoaderQuery, type Viewer, createValidator } from '@atrium/core';
import { AgentAllocation, AgentRefund, AgentRefundLine, AgentSale, AgentSaleLine } from '../entities/sales.ts';
import { isAgent, isOffice, seesAllAgents } from './access.ts';

/** The sales the viewer may read, as a filter: all for the office and analysts, an agent's own; null: none. */
export function salesWhere(viewer: Viewer): FilterQuery<AgentSale> | null {
  if (seesAllAgents(viewer)) return {};
  return isAgent(viewer) ? { agentId: viewer.id } : null;
}

/** The sales the viewer may refund: all for the office, an agent's own. */
export function refundableWhere(viewer: Viewer): FilterQuery<AgentSale> | null {
  if (isOffice(viewer)) return {};
  return isAgent(viewer) ? { agentId: viewer.id } : null;
}

export async function findSale(em: EntityManager, viewer: Viewer, id: string): Promise<AgentSale | null> {
  const where = salesWhere(viewer);
  return where && isId(id) ? em.findOne(AgentSale, { $and: [{ id }, where] } as FilterQuery<AgentSale>) : null;
}

const checkFilter = createValidator<{ agentId?: string | null }>(
  { type: 'object', additionalProperties: false, properties: { agentId: { type: ['string', 'null'], format: 'uuid' } } },
  'filter',
);

/** Sales newest first; an agent sees their own. */
export async function listSales(em: EntityManager, viewer: Viewer, args: ConnectionArgs & { filter?: { agentId?: string | null } | null }): Promise<Connection<AgentSale>> {
  const where = salesWhere(viewer);
  if (!where) throw forbidden('This needs the permission agentSales.sale.create, agentSales.transfer.manage or agentSales.analytics.read');
  const filter = checkFilter(args.filter ?? {});
  const and: FilterQuery<AgentSale>[] = [where];
  if (filter.agentId) and.push({ agentId: filter.agentId });
  return paginate(em, AgentSale, { first: args.first, after: args.after, where: { $and: and } as FilterQuery<AgentSale>, orderBy: { createdAt: 'desc', id: 'desc' } });
}

/** The sale a checked-out cart became (the cart's agent only reaches their carts). */
export async function saleOfCarts(queries: LoaderQuery<{ id: string }>[], context: AtriumRequestContext): Promise<(AgentSale | null)[]> {
  const ids = [...new Set(queries.map((query) => query.obj.id))];
  const sales = await context.em.find(AgentSale, { cartId: { $in: ids } });
  const byCart = new Map(sales.map((sale) => [sale.cartId, sale]));
  return queries.map((query) => byCart.get(query.obj.id) ?? null);
}

export async function saleLinesOf(queries: LoaderQuery<AgentSale>[], context: AtriumRequestContext): Promise<AgentSaleLine[][]> {
  const ids = [...new Set(queries.map((query) => query.obj.id))];
  const lines = await context.em.find(AgentSaleLine, { saleId: { $in: ids } }, { orderBy: { saleId: 'asc', position: 'asc' } });
  const bySale = Map.groupBy(lines, (line) => line.saleId);
  return queries.map((query) => bySale.get(query.obj.id) ?? []);
}

/** Every allocation of each sale: by line, then in the order they were taken (FIFO). */
export async function saleAllocationsOf(queries: LoaderQuery<AgentSale>[], context: AtriumRequestContext): Promise<AgentAllocation[][]> {
  const ids = [...new Set(queries.map((query) => query.obj.id))];
  const lines = await context.em.find(AgentSaleLine, { saleId: { $in: ids } }, { orderBy: { position: 'asc' } });
  const allocations = lines.length ? await context.em.find(AgentAllocation, { saleLineId: { $in: lines.map((line) => line.id) } }, { orderBy: { createdAt: 'asc', id: 'asc' } }) : [];
  const byLine = Map.groupBy(allocations, (allocation) => allocation.saleLineId);
  const bySale = new Map<string, AgentAllocation[]>();
  for (const line of lines) bySale.set(line.saleId, [...(bySale.get(line.saleId) ?? []), ...(byLine.get(line.id) ?? [])]);
  return queries.map((query) => bySale.get(query.obj.id) ?? []);
}

export async function lineAllocationsOf(queries: LoaderQuery<AgentSaleLine>[], context: AtriumRequestContext): Promise<AgentAllocation[][]> {
  const ids = [...new Set(queries.map((query) => query.obj.id))];
  const allocations = await context.em.find(AgentAllocation, { saleLineId: { $in: ids } }, { orderBy: { createdAt: 'asc', id: 'asc' } });
  const byLine = Map.groupBy(allocations, (allocation) => allocation.saleLineId);
  return queries.map((query) => byLine.get(query.obj.id) ?? []);
}

/** Units of each sale line refunded so far (one aggregate per response level). */
export async function refundedQuantitiesOf(queries: LoaderQuery<AgentSaleLine>[], context: AtriumRequestContext): Promise<number[]> {
  const ids = [...new Set(queries.map((query) => query.obj.id))];
  const rows = await context.em.execute<{ sale_line_id: string; quantity: number }[]>(
    `select sale_line_id, sum(quantity)::int as quantity from agent_refund_line where company_id = ? and sale_line_id in (${ids.map(() => '?').join(', ')}) group by sale_line_id`,
    [context.viewer!.companyId, ...ids],
  );
  const byLine = new Map(rows.map((row) => [row.sale_line_id, row.quantity]));
  return queries.map((query) => byLine.get(query.obj.id) ?? 0);
}

export async function refundsOf(queries: LoaderQuery<AgentSale>[], context: AtriumRequestContext): Promise<AgentRefund[][]> {
  const ids = [...new Set(queries.map((query) => query.obj.id))];
  const refunds = await context.em.find(AgentRefund, { saleId: { $in: ids } }, { orderBy: { createdAt: 'asc', id: 'asc' } });
  const bySale = Map.groupBy(refunds, (refund) => refund.saleId);
  return queries.map((query) => bySale.get(query.obj.id) ?? []);
}

export async function refundLinesOf(queries: LoaderQuery<AgentRefund>[], context: AtriumRequestContext): Promise<AgentRefundLine[][]> {
  const ids = [...new Set(queries.map((query) => query.obj.id))];
  const lines = await context.em.find(AgentRefundLine, { refundId: { $in: ids } }, { orderBy: { id: 'asc' } });
  const byRefund = Map.groupBy(lines, (line) => line.refundId);
  return queries.map((query) => byRefund.get(query.obj.id) ?? []);
}
