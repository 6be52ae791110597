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

/** Publishes an agentStockChanged: `stock` holds the agent's new quantities of the products that changed. */
export const publishStock = (publish: Publish, companyId: string, agentId: string, reason: StockChangeReason, stock: AgentStock[]): Promise<void> =>
  publish(agentStockTopic(companyId, agentId), { agentId, reason, stock });

/**
 * The agent's on hand of each product from its layers with stock, as a transaction holding them all
 * locked leaves them (a layer sold out counts 0): what that transaction publishes without a read.
 */
export function onHandOfLayers(layers: readonly { productId: string; remaining: number }[], productIds: readonly string[]): AgentStock[] {
  const held = new Map<string, number>();
  for (const layer of layers) held.set(layer.productId, (held.get(layer.productId) ?? 0) + layer.remaining);
  return [...new Set(productIds)].map((productId) => ({ productId, quantity: held.get(productId) ?? 0 }));
}

/**
 * Tells agentStockChanged subscribers, after the change committed, the agent's new quantities of
 * the products it touched (read after commit: a product sold out reports 0).
 */
export async function publishStockChange(em: EntityManager, publish: Publish, companyId: string, agentId: string, productIds: readonly string[], reason: StockChangeReason): Promise<void> {
  const unique = [...new Set(productIds)];
  const held = new Map((await onHandOf(em, companyId, agentId, unique)).map((row) => [row.productId, row.quantity]));
  await publishStock(publish, companyId, agentId, reason, unique.map((productId) => ({ productId, quantity: held.get(productId) ?? 0 })));
}
