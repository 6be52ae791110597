import { BadUserInputError, forbidden, isId, notFound, User, type EntityManager, type Viewer } from '@atrium/core';
import { ANALYTICS_READ } from '../permissions.ts';
import { isAgent } from './access.ts';

/** The period an analytics answer covers: [from, to), for one agent of one company. */
export interface AnalyticsScope {
  companyId: string;
  agentId: string;
  from: Date;
  to: Date;
}

export interface ProductFlow {
  productId: string;
  transferred: number;
  accepted: number;
  returned: number;
  sold: number;
  refunded: number;
  /** On hand at the end of the period, derived from the ledger rows. */
  onHand: number;
}

export interface ProductSales {
  productId: string;
  quantity: number;
  revenue: string;
}

export interface DaySales {
  day: string;
  sales: number;
  quantity: number;
  revenue: string;
}

export interface TransferBalance {
  transferId: string;
  transferred: number;
  accepted: number;
  returned: number;
  sold: number;
  refunded: number;
  /** At the end of the period, derived from the ledger rows. */
  remaining: number;
}

/** Products in topProducts at most. */
export const MAX_TOP = 100;

/**
 * agentAnalytics: analysts (agentSales.analytics.read) see any agent's; an agent, their own. Another
 * agent's id is FORBIDDEN for an agent; an id that is no user of the company, NOT_FOUND.
 */
export async function agentAnalytics(em: EntityManager, viewer: Viewer, agentId: string, from: Date, to: Date): Promise<AnalyticsScope> {
  const mayRead = viewer.keys.has(ANALYTICS_READ) || (isAgent(viewer) && viewer.id === agentId);
  if (!mayRead) throw forbidden(`This needs the permission ${ANALYTICS_READ}`);
  if (from.getTime() >= to.getTime()) throw new BadUserInputError({ to: 'must be after from' });
  if (!isId(agentId) || !(await em.findOne(User, { id: agentId }))) throw notFound('Agent');
  return { companyId: viewer.companyId, agentId, from, to };
}

/**
 * Every movement of the agent's goods before `to`: (product, transfer, kind, quantity, at). Each
 * branch reads one of the agent's indexes; the callers aggregate it. Parameters: 5 × (company, agent, to).
 */
const MOVEMENTS = `
  select l.product_id, l.transfer_id, 'transferred' as kind, l.qty_sent as quantity, t.sent_at as at
    from agent_transfer t join agent_transfer_line l on l.transfer_id = t.id
   where t.company_id = ? and t.agent_id = ? and t.sent_at < ?
  union all
  select product_id, transfer_id, 'accepted', qty_accepted, accepted_at
    from agent_transfer_line where company_id = ? and agent_id = ? and accepted_at < ? and qty_accepted > 0
  union all
  select r.product_id, l.transfer_id, 'returned', r.quantity, r.created_at
    from agent_return r join agent_transfer_line l on l.id = r.transfer_line_id
   where r.company_id = ? and r.agent_id = ? and r.created_at < ?
  union all
  select tl.product_id, tl.transfer_id, 'sold', a.quantity, s.created_at
    from agent_sale s join agent_sale_line sl on sl.sale_id = s.id join agent_allocation a on a.sale_line_id = sl.id join agent_transfer_line tl on tl.id = a.transfer_line_id
   where s.company_id = ? and s.agent_id = ? and s.created_at < ?
  union all
  select tl.product_id, tl.transfer_id, 'refunded', ra.quantity, r.created_at
    from agent_refund r join agent_refund_line rl on rl.refund_id = r.id join agent_refund_allocation ra on ra.refund_line_id = rl.id join agent_transfer_line tl on tl.id = ra.transfer_line_id
   where r.company_id = ? and r.agent_id = ? and r.created_at < ?`;

const iso = (date: Date): string => date.toISOString();
const movementParams = (scope: AnalyticsScope) => Array.from({ length: 5 }, () => [scope.companyId, scope.agentId, iso(scope.to)]).flat();

/** In the period, per kind; the balance (accepted − returned − sold + refunded) over everything before `to`. */
const FLOW_COLUMNS = `
  coalesce(sum(quantity) filter (where kind = 'transferred' and at >= ?), 0)::int as transferred,
  coalesce(sum(quantity) filter (where kind = 'accepted' and at >= ?), 0)::int as accepted,
  coalesce(sum(quantity) filter (where kind = 'returned' and at >= ?), 0)::int as returned,
  coalesce(sum(quantity) filter (where kind = 'sold' and at >= ?), 0)::int as sold,
  coalesce(sum(quantity) filter (where kind = 'refunded' and at >= ?), 0)::int as refunded,
  coalesce(sum(case kind when 'accepted' then quantity when 'refunded' then quantity when 'returned' then -quantity when 'sold' then -quantity else 0 end), 0)::int as balance`;

interface FlowRow {
  transferred: number;
  accepted: number;
  returned: number;
  sold: number;
  refunded: number;
  balance: number;
}

/** Per product: what moved in the period, and on hand at its end. */
export async function productFlows(em: EntityManager, scope: AnalyticsScope): Promise<ProductFlow[]> {
  const rows = await em.execute<(FlowRow & { product_id: string })[]>(
    `select product_id, ${FLOW_COLUMNS} from (${MOVEMENTS}) m group by product_id
      having bool_or(at >= ?) or sum(case kind when 'accepted' then quantity when 'refunded' then quantity when 'returned' then -quantity when 'sold' then -quantity else 0 end) <> 0
      order by product_id`,
    [...Array(5).fill(iso(scope.from)), ...movementParams(scope), iso(scope.from)],
  );
  return rows.map(({ product_id, balance, ...flow }) => ({ productId: product_id, ...flow, onHand: balance }));
}

/** Per transfer with movement in the period or stock left at its end: the same figures, remaining at the end. */
export async function transferBalances(em: EntityManager, scope: AnalyticsScope): Promise<TransferBalance[]> {
  const rows = await em.execute<(FlowRow & { transfer_id: string })[]>(
    `select transfer_id, ${FLOW_COLUMNS} from (${MOVEMENTS}) m group by transfer_id
      having bool_or(at >= ? and kind <> 'transferred') or sum(case kind when 'accepted' then quantity when 'refunded' then quantity when 'returned' then -quantity when 'sold' then -quantity else 0 end) <> 0
      order by transfer_id`,
    [...Array(5).fill(iso(scope.from)), ...movementParams(scope), iso(scope.from)],
  );
  return rows.map(({ transfer_id, balance, ...flow }) => ({ transferId: transfer_id, ...flow, remaining: balance }));
}

const SALES_IN_PERIOD = `
  from agent_sale s join agent_sale_line sl on sl.sale_id = s.id
 where s.company_id = ? and s.agent_id = ? and s.created_at >= ? and s.created_at < ?`;
const salesParams = (scope: AnalyticsScope) => [scope.companyId, scope.agentId, iso(scope.from), iso(scope.to)];

/** Units sold and revenue (before refunds) per product in the period, the best-selling first; `limit` for the top N. */
export async function salesByProduct(em: EntityManager, scope: AnalyticsScope, limit?: number): Promise<ProductSales[]> {
  if (limit !== undefined && (!Number.isInteger(limit) || limit < 1 || limit > MAX_TOP)) throw new BadUserInputError({ limit: `must be between 1 and ${MAX_TOP}` });
  const rows = await em.execute<{ product_id: string; quantity: number; revenue: string }[]>(
    `select sl.product_id, sum(sl.quantity)::int as quantity, sum(sl.total)::text as revenue ${SALES_IN_PERIOD}
      group by sl.product_id order by sum(sl.total) desc, sum(sl.quantity) desc, sl.product_id${limit ? ' limit ?' : ''}`,
    [...salesParams(scope), ...(limit ? [limit] : [])],
  );
  return rows.map((row) => ({ productId: row.product_id, quantity: row.quantity, revenue: twoPlaces(row.revenue) }));
}

/** Sales, units and revenue (before refunds) per UTC day of the period, with sales. */
export async function salesByDay(em: EntityManager, scope: AnalyticsScope): Promise<DaySales[]> {
  const rows = await em.execute<{ day: string; sales: number; quantity: number; revenue: string }[]>(
    `select to_char(s.created_at at time zone 'UTC', 'YYYY-MM-DD') as day, count(distinct s.id)::int as sales, sum(sl.quantity)::int as quantity, sum(sl.total)::text as revenue
     ${SALES_IN_PERIOD} group by 1 order by 1`,
    salesParams(scope),
  );
  return rows.map((row) => ({ ...row, revenue: twoPlaces(row.revenue) }));
}

/** numeric sums come back with as many places as the data: always two. */
function twoPlaces(value: string): string {
  const [whole, fraction = ''] = value.split('.');
  return `${whole}.${fraction.padEnd(2, '0').slice(0, 2)}`;
}
