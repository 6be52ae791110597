import { forbidden, isId, paginate, referenceLoader, type AtriumRequestContext, type Connection, type ConnectionArgs, type EntityManager, type FilterQuery, type LoaderQuery, type Viewer, createValidator } from '@atrium/core';
import { AgentAllocation, AgentRefund, AgentRefundLine, AgentSale, AgentSaleLine } from '../entities/sales.ts';
import { AgentTransferLine } from '../entities/transfers.ts';
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

/**
 * The lines and allocations a checkout wrote, by the sale (and line) entities it answers, and the
 * layer each allocation took from. Lines and allocations never change once written, so the
 * response's `lines`, `allocations` and `transferLine` are answered from them instead of read back.
 */
const linesWritten = new WeakMap<AgentSale, AgentSaleLine[]>();
const allocationsWritten = new WeakMap<AgentSaleLine, AgentAllocation[]>();
const layersTaken = new WeakMap<AgentAllocation, AgentTransferLine>();

/** Called by checkout after commit with the sale's lines, each with its allocations in the order taken and their layers. */
export function rememberSale(sale: AgentSale, lines: { line: AgentSaleLine; allocations: { allocation: AgentAllocation; layer: AgentTransferLine }[] }[]): void {
  linesWritten.set(sale, lines.map((entry) => entry.line));
  for (const entry of lines) {
    allocationsWritten.set(entry.line, entry.allocations.map((taken) => taken.allocation));
    for (const taken of entry.allocations) layersTaken.set(taken.allocation, taken.layer);
  }
}

/** The ids of the parents a checkout did not answer already: those still to read. */
const unknownIds = <P extends { id: string }>(queries: LoaderQuery<P>[], known: WeakMap<P, unknown>): string[] => [
  ...new Set(queries.filter((query) => !known.has(query.obj)).map((query) => query.obj.id)),
];

export async function saleLinesOf(queries: LoaderQuery<AgentSale>[], context: AtriumRequestContext): Promise<AgentSaleLine[][]> {
  const ids = unknownIds(queries, linesWritten);
  const lines = ids.length ? await context.em.find(AgentSaleLine, { saleId: { $in: ids } }, { orderBy: { saleId: 'asc', position: 'asc' } }) : [];
  const bySale = Map.groupBy(lines, (line) => line.saleId);
  return queries.map((query) => linesWritten.get(query.obj) ?? bySale.get(query.obj.id) ?? []);
}

/** Every allocation of each sale: by line, then in the order they were taken (FIFO). */
export async function saleAllocationsOf(queries: LoaderQuery<AgentSale>[], context: AtriumRequestContext): Promise<AgentAllocation[][]> {
  const ids = unknownIds(queries, linesWritten);
  const lines = ids.length ? await context.em.find(AgentSaleLine, { saleId: { $in: ids } }, { orderBy: { position: 'asc' } }) : [];
  const allocations = lines.length ? await context.em.find(AgentAllocation, { saleLineId: { $in: lines.map((line) => line.id) } }, { orderBy: { createdAt: 'asc', id: 'asc' } }) : [];
  const byLine = Map.groupBy(allocations, (allocation) => allocation.saleLineId);
  const bySale = new Map<string, AgentAllocation[]>();
  for (const line of lines) bySale.set(line.saleId, [...(bySale.get(line.saleId) ?? []), ...(byLine.get(line.id) ?? [])]);
  const written = (sale: AgentSale) => linesWritten.get(sale)?.flatMap((line) => allocationsWritten.get(line) ?? []);
  return queries.map((query) => written(query.obj) ?? bySale.get(query.obj.id) ?? []);
}

export async function lineAllocationsOf(queries: LoaderQuery<AgentSaleLine>[], context: AtriumRequestContext): Promise<AgentAllocation[][]> {
  const ids = unknownIds(queries, allocationsWritten);
  const allocations = ids.length ? await context.em.find(AgentAllocation, { saleLineId: { $in: ids } }, { orderBy: { createdAt: 'asc', id: 'asc' } }) : [];
  const byLine = Map.groupBy(allocations, (allocation) => allocation.saleLineId);
  return queries.map((query) => allocationsWritten.get(query.obj) ?? byLine.get(query.obj.id) ?? []);
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

const readLayers = referenceLoader(AgentTransferLine, (allocation: AgentAllocation) => allocation.transferLineId);

/** The layer (transfer line) of each allocation: a checkout's own as it left them, the others read. */
export async function allocationLayersOf(queries: LoaderQuery<AgentAllocation>[], context: AtriumRequestContext): Promise<(AgentTransferLine | null)[]> {
  const unknown = queries.filter((query) => !layersTaken.has(query.obj));
  const read = unknown.length ? await readLayers(unknown, context) : [];
  const byQuery = new Map(unknown.map((query, index) => [query, read[index] ?? null]));
  return queries.map((query) => layersTaken.get(query.obj) ?? byQuery.get(query) ?? null);
}
