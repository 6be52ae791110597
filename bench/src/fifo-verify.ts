/**
 * Scenario 4's checks after every run, read straight from the database: no oversell (the ledger adds
 * up, exactly the expected checkouts sold) and FIFO order (replayed from the allocation rows). Any
 * failure throws: a benchmark of a checkout that oversells is worthless.
 */
import type pg from 'pg';
import { HISTORY_BEFORE, type RunPlan } from './fifo-seed.ts';

export interface RunCheck {
  sales: number;
  unitsSold: number;
  allocations: number;
  /** Sales whose allocations span more than one layer. */
  straddling: number;
}

async function rows<Row extends pg.QueryResultRow>(db: pg.Client, sql: string, params: unknown[] = []): Promise<Row[]> {
  return (await db.query<Row>(sql, params)).rows;
}

/**
 * Throws unless, for the run's rows (layers accepted and sales made after `HISTORY_BEFORE`):
 * every layer's `remaining` is ≥ 0 and equals accepted − allocated (no returns or refunds here); every
 * sale line's allocations sum to its quantity; exactly `expectedSales` sales, each closing its cart;
 * on hand (Σ remaining) = accepted − sold, per agent and product; no allocation outside the run's
 * layers; and FIFO: replaying the allocations in the order they were written (`created_at`, the
 * database clock after the lock was taken), each takes from the oldest layer of its agent and product
 * that still had stock at that moment.
 */
export async function verifyRun(db: pg.Client, plan: RunPlan, label: string): Promise<RunCheck> {
  const fail = (what: string, detail: unknown) => {
    throw new Error(`${label}: ${what}: ${JSON.stringify(detail).slice(0, 800)}`);
  };
  const negative = await rows(db, 'select id, remaining from agent_transfer_line where remaining < 0');
  if (negative.length) fail('negative remaining (oversold)', negative);
  const drift = await rows(
    db,
    `select l.id, l.remaining, l.qty_accepted - coalesce(sum(a.quantity), 0)::int as derived
       from agent_transfer_line l left join agent_allocation a on a.transfer_line_id = l.id
      where l.accepted_at >= $1 group by l.id having l.remaining <> l.qty_accepted - coalesce(sum(a.quantity), 0)`,
    [HISTORY_BEFORE],
  );
  if (drift.length) fail('remaining differs from accepted − allocated', drift);
  const unallocated = await rows(
    db,
    `select sl.id, sl.quantity, coalesce(sum(a.quantity), 0)::int as allocated
       from agent_sale s join agent_sale_line sl on sl.sale_id = s.id left join agent_allocation a on a.sale_line_id = sl.id
      where s.created_at >= $1 group by sl.id having sl.quantity <> coalesce(sum(a.quantity), 0)`,
    [HISTORY_BEFORE],
  );
  if (unallocated.length) fail('sale lines whose allocations do not sum to their quantity', unallocated);
  const [totals] = await rows<{ sales: number; units: number; allocations: number; straddling: number; open_sold: number; closed_unsold: number; foreign: number }>(
    db,
    `select (select count(*)::int from agent_sale where created_at >= $1) as sales,
            (select coalesce(sum(sl.quantity), 0)::int from agent_sale s join agent_sale_line sl on sl.sale_id = s.id where s.created_at >= $1) as units,
            (select count(*)::int from agent_allocation where created_at >= $1) as allocations,
            (select count(*)::int from (select sl.sale_id from agent_allocation a join agent_sale_line sl on sl.id = a.sale_line_id
               where a.created_at >= $1 group by sl.sale_id having count(*) > 1) x) as straddling,
            (select count(*)::int from agent_sale s join agent_cart c on c.id = s.cart_id where s.created_at >= $1 and c.status <> 'CHECKED_OUT') as open_sold,
            (select count(*)::int from agent_cart c where c.created_at >= $1 and c.status = 'CHECKED_OUT'
               and not exists (select from agent_sale s where s.cart_id = c.id)) as closed_unsold,
            (select count(*)::int from agent_allocation a join agent_transfer_line l on l.id = a.transfer_line_id
               where a.created_at >= $1 and l.accepted_at < $1) as foreign`,
    [HISTORY_BEFORE],
  );
  if (totals!.sales !== plan.expectedSales) fail(`${totals!.sales} sales, expected exactly ${plan.expectedSales} (the stock covers no more)`, totals);
  if (totals!.open_sold || totals!.closed_unsold) fail('carts and sales disagree', totals);
  if (totals!.foreign) fail('allocations from layers outside the run (history)', totals);
  const onHand = await rows(
    db,
    `select l.agent_id, l.product_id, sum(l.remaining)::int as on_hand, sum(l.qty_accepted)::int as accepted,
            (select coalesce(sum(sl.quantity), 0)::int from agent_sale s join agent_sale_line sl on sl.sale_id = s.id
              where s.agent_id = l.agent_id and sl.product_id = l.product_id and s.created_at >= $1) as sold
       from agent_transfer_line l where l.accepted_at >= $1 group by l.agent_id, l.product_id`,
    [HISTORY_BEFORE],
  );
  const wrong = onHand.filter((row) => row.on_hand !== row.accepted - row.sold || row.on_hand !== 0);
  if (wrong.length) fail('on hand ≠ accepted − sold (or stock left over: every unit should have sold)', wrong);
  const agents = new Set(onHand.map((row) => row.agent_id as string));
  if (agents.size !== plan.agentIds.length || plan.agentIds.some((id) => !agents.has(id))) fail('layers of other agents than the run', [...agents]);

  // FIFO replay per agent and product.
  const layers = await rows<{ id: string; key: string; qty_accepted: number }>(
    db,
    `select id, agent_id || '/' || product_id as key, qty_accepted from agent_transfer_line where accepted_at >= $1 order by accepted_at, id`,
    [HISTORY_BEFORE],
  );
  const queues = new Map<string, { id: string; left: number }[]>();
  for (const layer of layers) {
    const queue = queues.get(layer.key) ?? [];
    queue.push({ id: layer.id, left: layer.qty_accepted });
    queues.set(layer.key, queue);
  }
  const allocations = await rows<{ transfer_line_id: string; key: string; quantity: number; created_at: string }>(
    db,
    `select a.transfer_line_id, l.agent_id || '/' || l.product_id as key, a.quantity, a.created_at::text
       from agent_allocation a join agent_transfer_line l on l.id = a.transfer_line_id
      where a.created_at >= $1 order by a.created_at, l.accepted_at, l.id`,
    [HISTORY_BEFORE],
  );
  for (const [index, allocation] of allocations.entries()) {
    const queue = queues.get(allocation.key)!;
    while (queue.length && queue[0]!.left === 0) queue.shift();
    const head = queue[0];
    if (!head || head.id !== allocation.transfer_line_id || allocation.quantity > head.left) {
      fail(`FIFO broken at allocation ${index + 1} of ${allocations.length}: took from a layer while an older one had stock`, { allocation, oldestWithStock: head });
    }
    head!.left -= allocation.quantity;
  }
  return { sales: totals!.sales, unitsSold: totals!.units, allocations: totals!.allocations, straddling: totals!.straddling };
}
