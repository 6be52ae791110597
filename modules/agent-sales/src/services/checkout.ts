import { afterCommit, AtriumError, BadUserInputError, conflict, createValidator, decimal, LockMode, MAX_CENTS, type EntityManager, type Viewer, transactionWithRetry } from '@atrium/core';
import { findContact } from '@atrium/crm';
import { AgentAllocation, AgentCartLine, AgentSale, AgentSaleLine } from '../entities/sales.ts';
import { AgentTransferLine } from '../entities/transfers.ts';
import { lineTotal, lockCart, lockDefaultCart } from './carts.ts';
import type { AgentSalesContext } from './context.ts';
import { rememberSale } from './sales.ts';
import { onHandOfLayers, publishStock } from './stock.ts';

export interface CheckoutInput {
  /** Chosen by the client per checkout; a repeat answers the first sale. Unique per agent. */
  idempotencyKey: string;
  /** The cart to sell; left out: the agent's default (oldest open) cart. */
  cartId?: string | null;
  /** The customer, a CRM contact the agent can see. */
  customerId?: string | null;
}

/** One product a checkout could not cover. */
export interface Shortfall {
  productId: string;
  requested: number;
  available: number;
  shortfall: number;
}

const checkCheckout = createValidator<CheckoutInput>(
  {
    type: 'object',
    additionalProperties: false,
    required: ['idempotencyKey'],
    properties: {
      idempotencyKey: { type: 'string', minLength: 1, maxLength: 200, pattern: '\\S' },
      cartId: { type: ['string', 'null'], format: 'uuid' },
      customerId: { type: ['string', 'null'], format: 'uuid' },
    },
  },
  'input',
  { idempotencyKey: 'must be 1 to 200 characters, not only spaces' },
);

const KEY_CONSTRAINT = 'agent_sale_idempotency_key';

/** The insert lost to a transaction that committed the same key first: the next attempt reads its sale. */
const lostKeyRace = (error: unknown): boolean =>
  error instanceof Error && error.name === 'UniqueConstraintViolationException' && (error as { constraint?: string }).constraint === KEY_CONSTRAINT;

const findByKey = (tx: EntityManager, viewer: Viewer, key: string) => tx.findOne(AgentSale, { agentId: viewer.id, idempotencyKey: key }, { refresh: true });

/** A repeated key: the first sale when the request is the same one (same cart, same customer), CONFLICT otherwise. */
function answerRepeat(sale: AgentSale, input: CheckoutInput): AgentSale {
  if ((input.cartId && input.cartId !== sale.cartId) || (input.customerId ?? null) !== sale.customerId) {
    throw conflict('This idempotency key was used for another checkout (another cart or customer)', { field: 'input.idempotencyKey' });
  }
  return sale;
}

export const insufficientStock = (shortfalls: Shortfall[]): AtriumError =>
  new AtriumError('INSUFFICIENT_STOCK', `Not enough stock for ${shortfalls.length} product(s) of the cart`, { shortfalls });

/**
 * Sells a cart of the calling agent from the agent's own stock, in one transaction:
 *
 * 1. a sale already made with this idempotency key is answered (CONFLICT if it was another cart or customer);
 * 2. the cart is locked (a cart sells once; adds wait) and read with its lines; the sale, its
 *    lines, the cart's new status and the event are written (rolled back by a failure below);
 * 3. the agent's layers of the cart's products that have stock are locked `FOR UPDATE` oldest first
 *    (acceptance time, then id) — every checkout locks in that one order, and waits rather than skips,
 *    so FIFO holds and no two checkouts deadlock over layers; PostgreSQL re-reads a row whose lock it
 *    waited for, so the quantities used are those committed by the checkouts before;
 * 4. the products' totals (lines of one product summed) are checked against those layers: any
 *    shortfall fails the whole checkout with INSUFFICIENT_STOCK and nothing is kept;
 * 5. each line takes min(needed, remaining) per layer in FIFO order, writing an allocation per layer.
 *
 * A serialisation failure or deadlock reruns the transaction; a concurrent repeat of the key loses on
 * the unique index and reruns into step 1. `agentStockChanged` is published after commit (the
 * caller's, when called inside a transaction), with the on hand the locked layers were left with (no
 * read back); the response's lines and allocations are answered from what was written (`rememberSale`).
 */
export async function checkoutAgentCart({ em, viewer, emit, publish }: AgentSalesContext, input: unknown): Promise<AgentSale> {
  const data = checkCheckout(input);
  const result = await transactionWithRetry(
    em,
    async (tx) => {
      const previous = await findByKey(tx, viewer, data.idempotencyKey);
      if (previous) return { sale: answerRepeat(previous, data), written: null, stock: null };
      const cart = data.cartId ? await lockCart(tx, viewer, data.cartId) : await lockDefaultCart(tx, viewer, false);
      if (!cart) throw new BadUserInputError({ 'input.cartId': 'is needed: you have no open cart' });
      if (cart.status !== 'OPEN') {
        // Checked out while this waited for its lock: by a repeat of this key, or by another checkout.
        const raced = await findByKey(tx, viewer, data.idempotencyKey);
        if (raced) return { sale: answerRepeat(raced, data), written: null, stock: null };
        throw conflict('The cart is already checked out');
      }
      if (data.customerId) {
        const customer = await findContact(tx, viewer, data.customerId);
        if (!customer || customer.deletedAt) throw new BadUserInputError({ 'input.customerId': 'is not a contact you can see' });
      }
      const lines = await tx.find(AgentCartLine, { cartId: cart.id }, { orderBy: { createdAt: 'asc', id: 'asc' }, refresh: true });
      if (!lines.length) throw new BadUserInputError({ 'input.cartId': 'is an empty cart' });

      const total = lines.reduce((sum, line) => sum + lineTotal(line), 0n);
      if (total > MAX_CENTS) throw new BadUserInputError({ 'input.cartId': 'is worth more than 999999999999.99' });

      // The sale, its lines, the cart and the event are written before the layers are locked, so that
      // the lock is held for the allocations only; a shortfall found under it rolls them back.
      const sale = tx.create(AgentSale, {
        agentId: viewer.id,
        cartId: cart.id,
        customerId: data.customerId ?? null,
        idempotencyKey: data.idempotencyKey,
        total: decimal(total),
        status: 'COMPLETED',
      } as AgentSale);
      const saleLines = lines.map((line, position) =>
        tx.create(AgentSaleLine, {
          saleId: sale.id,
          productId: line.productId,
          position,
          quantity: line.quantity,
          unitPrice: line.unitPrice,
          discount: line.discount,
          total: decimal(lineTotal(line)),
        } as AgentSaleLine),
      );
      cart.status = 'CHECKED_OUT';
      cart.checkedOutAt = new Date();
      emit(tx, 'agentSales.sale.completed', { saleId: sale.id, agentId: viewer.id, customerId: sale.customerId, total: sale.total });
      await tx.flush();

      const needed = new Map<string, number>();
      for (const line of lines) needed.set(line.productId, (needed.get(line.productId) ?? 0) + line.quantity);
      const layers = await tx.find(
        AgentTransferLine,
        { agentId: viewer.id, productId: { $in: [...needed.keys()] }, remaining: { $gt: 0 }, acceptedAt: { $ne: null } },
        { orderBy: { acceptedAt: 'asc', id: 'asc' }, lockMode: LockMode.PESSIMISTIC_WRITE, refresh: true },
      );
      const byProduct = Map.groupBy(layers, (layer) => layer.productId);
      const shortfalls: Shortfall[] = [];
      for (const [productId, requested] of needed) {
        const available = (byProduct.get(productId) ?? []).reduce((sum, layer) => sum + layer.remaining, 0);
        if (available < requested) shortfalls.push({ productId, requested, available, shortfall: requested - available });
      }
      if (shortfalls.length) throw insufficientStock(shortfalls);

      const written = lines.map((line, index) => {
        const allocations: { allocation: AgentAllocation; layer: AgentTransferLine }[] = [];
        let left = line.quantity;
        for (const layer of byProduct.get(line.productId)!) {
          if (left === 0) break;
          const take = Math.min(left, layer.remaining);
          if (take === 0) continue;
          layer.remaining -= take;
          left -= take;
          allocations.push({ allocation: tx.create(AgentAllocation, { saleLineId: saleLines[index]!.id, transferLineId: layer.id, quantity: take } as AgentAllocation), layer });
        }
        return { line: saleLines[index]!, allocations };
      });
      await tx.flush();
      // Every layer of these products with stock is locked here: their remaining is the new on hand.
      return { sale, written, stock: onHandOfLayers(layers, [...needed.keys()]) };
    },
    lostKeyRace,
  );
  if (result.written) rememberSale(result.sale, result.written);
  const stock = result.stock;
  if (stock) await afterCommit(em, () => publishStock(publish, viewer.companyId, viewer.id, 'SALE', stock));
  return result.sale;
}
