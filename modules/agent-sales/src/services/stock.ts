import { topic, type EntityManager, type Publish, type Topic, type Viewer } from '@atrium/core';
import { requireVisibleAgent } from './access.ts';

/** An agent's on-hand quantity of one product. */
export interface AgentStock {
  productId: string;
  quantity: number;
}

export const STOCK_CHANGE_REASONS = ['TRANSFER_ACCEPTED', 'SALE', 'REFUND', 'RETURN'] as const;
export type StockChangeReason = (typeof STOCK_CHANGE_REASONS)[number];

/** What agentStockChanged delivers: the agent's new on-hand quantities of the products that changed. */
export interface AgentStockChange {
  agentId: string;
  reason: StockChangeReason;
  stock: AgentStock[];
}

export const agentStockTopic = (companyId: string, agentId: string): Topic<AgentStockChange> => topic<AgentStockChange>('agentSales', companyId, 'agent', agentId, 'stock');

/**
 * On hand per product (the sum of the remaining of the agent's layers), optionally of some products
 * only; products with nothing left are left out. One aggregate over the FIFO index.
 */
export async function onHandOf(em: EntityManager, companyId: string, agentId: string, productIds?: readonly string[]): Promise<AgentStock[]> {
  if (productIds && !productIds.length) return [];
  const products = productIds ? ` and product_id in (${productIds.map(() => '?').join(', ')})` : '';
  const rows = await em.execute<{ product_id: string; quantity: number }[]>(
    `select product_id, sum(remaining)::int as quantity from agent_transfer_line
      where company_id = ? and agent_id = ? and remaining > 0${products}
      group by product_id order by product_id`,
    [companyId, agentId, ...(productIds ?? [])],
  );
  return rows.map((row) => ({ productId: row.product_id, quantity: row.quantity }));
}

/** agentOnHand: NOT_FOUND for an id that is not a user of the company, FORBIDDEN for another agent's. */
export async function agentOnHand(em: EntityManager, viewer: Viewer, agentId: string): Promise<AgentStock[]> {
  await requireVisibleAgent(em, viewer, agentId);
  return onHandOf(em, viewer.companyId, agentId);
}

/**
 * Tells agentStockChanged subscribers, after the change committed, the agent's new quantities of
 * the products it touched (read after commit: a product sold out reports 0).
 */
export async function publishStockChange(em: EntityManager, publish: Publish, companyId: string, agentId: string, productIds: readonly string[], reason: StockChangeReason): Promise<void> {
  const unique = [...new Set(productIds)];
  const held = new Map((await onHandOf(em, companyId, agentId, unique)).map((row) => [row.productId, row.quantity]));
  await publish(agentStockTopic(companyId, agentId), { agentId, reason, stock: unique.map((productId) => ({ productId, quantity: held.get(productId) ?? 0 })) });
}
