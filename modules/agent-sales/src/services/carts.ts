import { BadUserInputError, cents, conflict, createValidator, decimal, isId, LockMode, MAX_CENTS, MONEY_PATTERN, notFound, type AtriumRequestContext, type EntityManager, type LoaderQuery, type Viewer } from '@atrium/core';
import { findProducts } from '@atrium/crm';
import { AgentCart, AgentCartLine } from '../entities/sales.ts';
import type { AgentSalesContext } from './context.ts';
import { MAX_QUANTITY } from './transfers.ts';

/** Lines per cart at most. */
export const MAX_CART_LINES = 200;

export interface CartLineInput {
  cartId?: string | null;
  productId: string;
  quantity: number;
  unitPrice?: string | null;
  discount?: string | null;
}

const amount = (type: string | string[]) => ({ type, pattern: MONEY_PATTERN });
const checkAdd = createValidator<CartLineInput>(
  {
    type: 'object',
    additionalProperties: false,
    required: ['productId', 'quantity'],
    properties: {
      cartId: { type: ['string', 'null'], format: 'uuid' },
      productId: { type: 'string', format: 'uuid' },
      quantity: { type: 'integer', minimum: 1, maximum: MAX_QUANTITY },
      unitPrice: amount(['string', 'null']),
      discount: amount(['string', 'null']),
    },
  },
  'input',
  {
    unitPrice: 'must be an amount of at least 0 and at most 999999999999.99, with at most 2 decimal places',
    discount: 'must be an amount of at least 0 and at most 999999999999.99, with at most 2 decimal places',
  },
);

/** A line's amount: unit price × quantity − discount, in cents. */
export const lineTotal = (line: { unitPrice: string; quantity: number; discount: string }): bigint => cents(line.unitPrice) * BigInt(line.quantity) - cents(line.discount);

/** The calling agent's cart, locked for the rest of the transaction; NOT_FOUND for anyone else's. */
export async function lockCart(tx: EntityManager, viewer: Viewer, id: string): Promise<AgentCart> {
  const cart = isId(id) ? await tx.findOne(AgentCart, { id, agentId: viewer.id }, { lockMode: LockMode.PESSIMISTIC_WRITE, refresh: true }) : null;
  if (!cart) throw notFound('Cart');
  return cart;
}

/**
 * The agent's default cart — the oldest open one — locked; with `open`, made when there is none.
 * An advisory lock per agent keeps two first adds at once from opening two default carts.
 */
export async function lockDefaultCart(tx: EntityManager, viewer: Viewer, open: boolean): Promise<AgentCart | null> {
  if (open) await tx.execute('select pg_advisory_xact_lock(hashtextextended(?, 0))', [`agent_cart:${viewer.id}`]);
  const cart = await tx.findOne(AgentCart, { agentId: viewer.id, status: 'OPEN' }, { orderBy: { createdAt: 'asc', id: 'asc' }, lockMode: LockMode.PESSIMISTIC_WRITE, refresh: true });
  if (cart || !open) return cart;
  const created = tx.create(AgentCart, { agentId: viewer.id, status: 'OPEN' } as AgentCart);
  await tx.flush();
  return created;
}

/** The viewer's own carts (an agent sees only theirs; the office sees sales, not carts in progress). */
export async function findCart(em: EntityManager, viewer: Viewer, id: string): Promise<AgentCart | null> {
  return isId(id) ? em.findOne(AgentCart, { id, agentId: viewer.id }) : null;
}

/** The calling agent's open carts, oldest (the default) first. */
export function listOpenCarts(em: EntityManager, viewer: Viewer): Promise<AgentCart[]> {
  return em.find(AgentCart, { agentId: viewer.id, status: 'OPEN' }, { orderBy: { createdAt: 'asc', id: 'asc' } });
}

/** A new, empty cart beside the agent's others (one per customer at the door). */
export async function openAgentCart({ em, viewer }: AgentSalesContext): Promise<AgentCart> {
  const cart = em.create(AgentCart, { agentId: viewer.id, status: 'OPEN' } as AgentCart);
  await em.flush();
  return cart;
}

/**
 * Adds a line to one of the agent's open carts (the default cart when `cartId` is left out). The
 * unit price defaults to the product's price; the discount (an amount off the line) to 0. Stock is
 * not reserved: checkout decides. Two lines of one product are checked out against their total.
 */
export async function addToAgentCart({ em, viewer }: AgentSalesContext, input: unknown): Promise<AgentCart> {
  const data = checkAdd(input);
  const [product] = await findProducts(em, [data.productId]);
  if (!product) throw new BadUserInputError({ 'input.productId': 'is not a product of this company' });
  if (!product.active) throw new BadUserInputError({ 'input.productId': 'is an inactive product' });
  const unitPrice = data.unitPrice ? decimal(cents(data.unitPrice)) : product.price;
  const discount = data.discount ? decimal(cents(data.discount)) : '0.00';
  const total = lineTotal({ unitPrice, quantity: data.quantity, discount });
  if (total < 0n) throw new BadUserInputError({ 'input.discount': 'is more than the line is worth' });
  if (total > MAX_CENTS) throw new BadUserInputError({ 'input.quantity': 'makes the line worth more than 999999999999.99' });

  return em.transactional(async (tx) => {
    const cart = data.cartId ? await lockCart(tx, viewer, data.cartId) : (await lockDefaultCart(tx, viewer, true))!;
    if (cart.status !== 'OPEN') throw conflict('The cart is checked out; open another one');
    // Read under the cart's lock: the lines and worth every add before this one left it with.
    const [held] = await tx.execute<{ lines: number; worth: string }[]>(
      'select count(*)::int as lines, coalesce(sum(unit_price * quantity - discount), 0)::text as worth from agent_cart_line where company_id = ? and cart_id = ?',
      [viewer.companyId, cart.id],
    );
    if (held!.lines >= MAX_CART_LINES) throw new BadUserInputError({ 'input.cartId': `holds ${MAX_CART_LINES} lines already` });
    // A cart is sold whole: one worth more than an amount can hold could never be checked out (nor its total shown).
    if (cents(held!.worth) + total > MAX_CENTS) throw new BadUserInputError({ 'input.quantity': 'makes the cart worth more than 999999999999.99' });
    tx.create(AgentCartLine, { cartId: cart.id, productId: product.id, quantity: data.quantity, unitPrice, discount } as AgentCartLine);
    cart.linesVersion += 1;
    await tx.flush();
    return cart;
  });
}

/** Takes a line out of an open cart of the agent's; answers the cart. */
export async function removeFromAgentCart({ em, viewer }: AgentSalesContext, lineId: string): Promise<AgentCart> {
  return em.transactional(async (tx) => {
    const line = isId(lineId) ? await tx.findOne(AgentCartLine, { id: lineId }) : null;
    if (!line) throw notFound('Cart line');
    const cart = await tx.findOne(AgentCart, { id: line.cartId, agentId: viewer.id }, { lockMode: LockMode.PESSIMISTIC_WRITE, refresh: true });
    if (!cart) throw notFound('Cart line');
    if (cart.status !== 'OPEN') throw conflict('The cart is checked out');
    await tx.nativeDelete(AgentCartLine, { id: line.id });
    cart.linesVersion += 1;
    return cart;
  });
}

/** The lines of carts, in the order they were added. */
export async function cartLinesOf(queries: LoaderQuery<AgentCart>[], context: AtriumRequestContext): Promise<AgentCartLine[][]> {
  const ids = [...new Set(queries.map((query) => query.obj.id))];
  const lines = await context.em.find(AgentCartLine, { cartId: { $in: ids } }, { orderBy: { createdAt: 'asc', id: 'asc' } });
  const byCart = Map.groupBy(lines, (line) => line.cartId);
  return queries.map((query) => byCart.get(query.obj.id) ?? []);
}

/**
 * Cart totals (Σ unit price × quantity − discount), one aggregate per response level. Each term has
 * two decimals, and so has the sum; it is not cast to the amount's type, so a cart past the limit
 * (added to before the limit was checked) shows its worth instead of failing.
 */
export async function cartTotalsOf(queries: LoaderQuery<AgentCart>[], context: AtriumRequestContext): Promise<string[]> {
  const ids = [...new Set(queries.map((query) => query.obj.id))];
  const rows = await context.em.execute<{ cart_id: string; total: string }[]>(
    `select cart_id, sum(unit_price * quantity - discount)::text as total from agent_cart_line
      where company_id = ? and cart_id in (${ids.map(() => '?').join(', ')}) group by cart_id`,
    [context.viewer!.companyId, ...ids],
  );
  const byCart = new Map(rows.map((row) => [row.cart_id, row.total]));
  return queries.map((query) => byCart.get(query.obj.id) ?? '0.00');
}
