import { afterCommit, arrayParam, AtriumError, BadUserInputError, conflict, createValidator, decimal, executePrepared, insertEvents, LockMode, MAX_CENTS, newId, notFound, type EntityManager, type OutboxEvent, type Viewer, transactionWithRetry } from '@atrium/core';
import { findContact } from '@atrium/crm';
import { AgentAllocation, AgentSale, AgentSaleLine } from '../entities/sales.ts';
import { AgentTransferLine } from '../entities/transfers.ts';
import { lineTotal } from './carts.ts';
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

/** A cart line as checkout reads it. */
interface CartLineRow {
  product_id: string;
  quantity: number;
  unit_price: string;
  discount: string;
}

/** A sale line as checkout writes it, with its allocations in the order taken and their layers. */
type WrittenLine = { line: AgentSaleLine; allocations: { allocation: AgentAllocation; layer: AgentTransferLine }[] };

/**
 * The sale already made with this key, and the cart (the given one, or the agent's oldest open one)
 * locked, with its lines: one statement. The sale and the lines are read in the statement's
 * snapshot, taken before any wait for the cart's lock (see the raced case in `checkoutAgentCart`).
 * The lines are answered only if they are still current: a change of them committed while this
 * waited bumped the locked row's `lines_version` past the snapshot's (`null`: run it again).
 */
async function lockCartForCheckout(
  tx: EntityManager,
  viewer: Viewer,
  data: CheckoutInput,
): Promise<{ previous: boolean; cart: { id: string; status: string } | null; lines: CartLineRow[] | null }> {
  const [row] = (await executePrepared(
    tx,
    `select s.id as previous, c.id, c.status,
            case when c.lines_version = (select v.lines_version from agent_cart v where v.id = c.id) then (
              select coalesce(json_agg(json_build_object('product_id', l.product_id, 'quantity', l.quantity, 'unit_price', l.unit_price::text, 'discount', l.discount::text)
                                       order by l.created_at, l.id), '[]')
                from agent_cart_line l where l.company_id = ? and l.cart_id = c.id
            ) end as lines
       from (values (1)) as one (x)
       left join agent_sale s on s.company_id = ? and s.agent_id = ? and s.idempotency_key = ?
       left join lateral (
         select id, status, lines_version from agent_cart
          where company_id = ? and agent_id = ? and ${data.cartId ? 'id = ?' : "status = 'OPEN'"}
          order by created_at, id limit 1
            for update
       ) c on true`,
    [viewer.companyId, viewer.companyId, viewer.id, data.idempotencyKey, viewer.companyId, viewer.id, ...(data.cartId ? [data.cartId] : [])],
  )) as { previous: string | null; id: string | null; status: string | null; lines: CartLineRow[] | null }[];
  return { previous: !!row?.previous, cart: row?.id ? { id: row.id, status: row.status! } : null, lines: row?.lines ?? null };
}

/** A FIFO layer as checkout locks it (its remaining before the sale). */
interface LayerRow {
  id: string;
  transfer_id: string;
  product_id: string;
  position: number;
  qty_sent: number;
  qty_accepted: number | null;
  accepted_at: string;
  remaining: number;
}

/** What the sale's statement answers: the layers it locked, the allocations it made (in the order taken), the products it could not cover. */
interface SoldRow {
  layers: LayerRow[] | null;
  taken: { id: string; sale_line_id: string; transfer_line_id: string; quantity: number }[] | null;
  short: { product_id: string; requested: number; available: number }[] | null;
}

/** Every statement part below writes only if no product of the cart is short. */
const COVERED = 'not exists (select from short)';

/**
 * The sale in one statement, the transaction's last (its commit in the same message): the agent's
 * layers of the cart's products that have stock locked `FOR UPDATE` oldest first (acceptance time,
 * then id); each product's lines checked against them; if every one is covered, each line takes
 * from the layers in FIFO order (the lines' and the layers' running totals overlapping: one
 * allocation per overlap, its id ordered as taken) and the sale, its lines, the allocations, the layers' new remaining, the
 * cart's status and the event are written. The layers stay locked for this one message.
 */
async function sell(tx: EntityManager, viewer: Viewer, sale: AgentSale, lines: readonly AgentSaleLine[], event: OutboxEvent): Promise<SoldRow> {
  const events = insertEvents(tx, [event], COVERED);
  const [row] = await executePrepared(
    tx,
    `with line as (
       select * from unnest(?::uuid[], ?::uuid[], ?::int[], ?::int[], ?::numeric[], ?::numeric[], ?::numeric[])
         as line (id, product_id, position, quantity, unit_price, discount, total)
     ), locked as materialized (
       select id, transfer_id, product_id, position, qty_sent, qty_accepted, accepted_at, remaining from agent_transfer_line
        where company_id = ? and agent_id = ? and product_id in (select product_id from line) and remaining > 0 and accepted_at is not null
        order by accepted_at, id
          for update
     ), layer as (
       select *, sum(remaining) over (partition by product_id order by accepted_at, id) - remaining as before from locked
     ), need as (
       select *, sum(quantity) over (partition by product_id order by position) - quantity as before from line
     ), short as (
       select need.product_id, sum(need.quantity)::int as requested, coalesce(max(held.quantity), 0)::int as available
         from need left join (select product_id, sum(remaining) as quantity from layer group by product_id) held on held.product_id = need.product_id
        group by need.product_id
       having sum(need.quantity) > coalesce(max(held.quantity), 0)
     ), taken as materialized (
       -- Ids in the order taken: a fresh id of the application's with its last four bytes the allocation's number.
       select encode(overlay(uuid_send(?::uuid) placing int4send(n::int) from 13 for 4), 'hex')::uuid as id, allocation.*
         from (
           select need.id as sale_line_id, layer.id as transfer_line_id,
                  (least(need.before + need.quantity, layer.before + layer.remaining) - greatest(need.before, layer.before))::int as quantity,
                  row_number() over (order by need.position, layer.accepted_at, layer.id) as n
             from need join layer on layer.product_id = need.product_id
            where layer.before < need.before + need.quantity and need.before < layer.before + layer.remaining and ${COVERED}
         ) allocation
     ), sale as (
       insert into agent_sale (id, company_id, agent_id, cart_id, customer_id, idempotency_key, total, status, created_at)
       select ?, ?, ?, ?, ?, ?, ?, 'COMPLETED', ? where ${COVERED}
     ), lines as (
       insert into agent_sale_line (id, company_id, sale_id, product_id, position, quantity, unit_price, discount, total)
       select id, ?, ?, product_id, position, quantity, unit_price, discount, total from line where ${COVERED}
     ), allocations as (
       -- In the order taken: their clock_timestamp() creation times, then their ids, sort them FIFO.
       insert into agent_allocation (id, company_id, sale_line_id, transfer_line_id, quantity)
       select id, ?, sale_line_id, transfer_line_id, quantity from taken order by n
     ), layers as (
       update agent_transfer_line layer set remaining = layer.remaining - taken.quantity
         from (select transfer_line_id, sum(quantity) as quantity from taken group by transfer_line_id) taken
        where layer.id = taken.transfer_line_id
     ), cart as (
       update agent_cart set status = 'CHECKED_OUT', checked_out_at = ? where id = ? and ${COVERED}
     ), events as (
       ${events.sql}
     )
     select (select json_agg(locked) from locked) as layers, (select json_agg(taken order by n) from taken) as taken, (select json_agg(short) from short) as short`,
    [
      arrayParam(lines.map((line) => line.id)), arrayParam(lines.map((line) => line.productId)), arrayParam(lines.map((line) => line.position)),
      arrayParam(lines.map((line) => line.quantity)), arrayParam(lines.map((line) => line.unitPrice)), arrayParam(lines.map((line) => line.discount)), arrayParam(lines.map((line) => line.total)),
      viewer.companyId, viewer.id,
      newId(),
      sale.id, sale.companyId, sale.agentId, sale.cartId, sale.customerId, sale.idempotencyKey, sale.total, sale.createdAt,
      sale.companyId, sale.id,
      sale.companyId,
      sale.createdAt, sale.cartId,
      ...events.params,
    ],
    { commit: true },
  );
  return row as unknown as SoldRow;
}

/**
 * Sells a cart of the calling agent from the agent's own stock, in one transaction:
 *
 * 1. a sale already made with this idempotency key is answered (CONFLICT if it was another cart or customer);
 * 2. the cart is locked (a cart sells once; adds wait) and its lines read, in the same statement
 *    unless an add or a removal committed while it waited for the lock (then in one more);
 * 3. in one statement (`sell`), the agent's layers of the cart's products that have stock are locked
 *    `FOR UPDATE` oldest first (acceptance time, then id) — every checkout locks in that one order,
 *    and waits rather than skips, so FIFO holds and no two checkouts deadlock over layers; PostgreSQL
 *    re-reads a row whose lock it waited for, so the quantities used are those committed by the
 *    checkouts before; the products' totals (lines of one product summed) are checked against them;
 *    if all are covered, each line takes from the layers in FIFO order and the sale, its lines, their
 *    allocations, the layers' new remaining, the cart's status and the event are written;
 * 4. a shortfall fails the whole checkout with INSUFFICIENT_STOCK: that statement wrote nothing.
 *
 * Three statements in all — the row-level security scope, the key with the cart's lock and its lines,
 * the sale — plain SQL but for a customer's check; on PostgreSQL the sale carries the commit, so the
 * layers stay locked for that one message. A serialisation failure or deadlock reruns the
 * transaction; a concurrent repeat of the key loses on the unique index and reruns into step 1.
 * `agentStockChanged` is published after commit (the caller's, when called inside a transaction),
 * with the on hand the locked layers were left with (no read back); the response's lines and
 * allocations are answered from what was written (`rememberSale`).
 */
export async function checkoutAgentCart({ em, viewer, emit, publish }: AgentSalesContext, input: unknown): Promise<AgentSale> {
  const data = checkCheckout(input);
  const result = await transactionWithRetry(
    em,
    async (tx) => {
      const { previous, cart, lines: current } = await lockCartForCheckout(tx, viewer, data);
      if (previous) return { sale: answerRepeat((await findByKey(tx, viewer, data.idempotencyKey))!, data), written: null, stock: null };
      if (!cart) {
        // The default cart was checked out while this waited for it: by a repeat of this key, perhaps.
        const raced = data.cartId ? null : await findByKey(tx, viewer, data.idempotencyKey);
        if (raced) return { sale: answerRepeat(raced, data), written: null, stock: null };
        throw data.cartId ? notFound('Cart') : new BadUserInputError({ 'input.cartId': 'is needed: you have no open cart' });
      }
      if (cart.status !== 'OPEN') {
        // Checked out while this waited for its lock: by a repeat of this key, or by another checkout.
        const raced = await findByKey(tx, viewer, data.idempotencyKey);
        if (raced) return { sale: answerRepeat(raced, data), written: null, stock: null };
        throw conflict('The cart is already checked out');
      }
      if (data.customerId) {
        const customer = await findContact(tx, viewer, data.customerId, { lock: LockMode.PESSIMISTIC_READ });
        if (!customer || customer.deletedAt) throw new BadUserInputError({ 'input.customerId': 'is not a contact you can see' });
      }
      // Stale (changed while this waited): read again under the lock now held, in a fresh snapshot
      // that every committed change precedes, so they are current.
      const lines = current ?? (await lockCartForCheckout(tx, viewer, { ...data, cartId: cart.id })).lines!;
      if (!lines.length) throw new BadUserInputError({ 'input.cartId': 'is an empty cart' });
      const priced = lines.map((line) => ({ productId: line.product_id, quantity: line.quantity, unitPrice: line.unit_price, discount: line.discount }));
      const total = priced.reduce((sum, line) => sum + lineTotal(line), 0n);
      if (total > MAX_CENTS) throw new BadUserInputError({ 'input.cartId': 'is worth more than 999999999999.99' });

      // The answer, built as written (not persisted through the unit of work: the statement below writes it).
      const sale = tx.create(
        AgentSale,
        { id: newId(), companyId: viewer.companyId, agentId: viewer.id, cartId: cart.id, customerId: data.customerId ?? null, idempotencyKey: data.idempotencyKey, total: decimal(total), status: 'COMPLETED', createdAt: new Date() },
        { persist: false },
      );
      const saleLines = priced.map((line, position) =>
        tx.create(AgentSaleLine, { id: newId(), companyId: viewer.companyId, saleId: sale.id, position, ...line, total: decimal(lineTotal(line)) }, { persist: false }),
      );
      const event = emit(tx, 'agentSales.sale.completed', { saleId: sale.id, agentId: viewer.id, customerId: sale.customerId, total: sale.total });
      const sold = await sell(tx, viewer, sale, saleLines, event);
      const productIds = [...new Set(priced.map((line) => line.productId))];
      if (sold.short) {
        const short = new Map(sold.short.map((row) => [row.product_id, row]));
        throw insufficientStock(
          productIds.flatMap((productId) => {
            const row = short.get(productId);
            return row ? [{ productId, requested: row.requested, available: row.available, shortfall: row.requested - row.available }] : [];
          }),
        );
      }
      const taken = sold.taken ?? [];
      const takenFrom = new Map<string, number>();
      for (const allocation of taken) takenFrom.set(allocation.transfer_line_id, (takenFrom.get(allocation.transfer_line_id) ?? 0) + allocation.quantity);
      // Every layer of these products with stock was locked: what they are left with is the new on hand.
      const left = (sold.layers ?? []).map((row) => ({ row, productId: row.product_id, remaining: row.remaining - (takenFrom.get(row.id) ?? 0) }));
      // Entities for the layers taken from only: the answer names those.
      const layers = new Map(
        left
          .filter(({ row }) => takenFrom.has(row.id))
          .map(({ row, remaining }) => [
            row.id,
            tx.create(
              AgentTransferLine,
              { id: row.id, companyId: viewer.companyId, transferId: row.transfer_id, agentId: viewer.id, productId: row.product_id, position: row.position, qtySent: row.qty_sent, qtyAccepted: row.qty_accepted, acceptedAt: new Date(row.accepted_at), remaining },
              { persist: false },
            ),
          ]),
      );
      const byLine = Map.groupBy(taken, (allocation) => allocation.sale_line_id);
      const written = saleLines.map(
        (line): WrittenLine => ({
          line,
          allocations: (byLine.get(line.id) ?? []).map((allocation) => ({
            allocation: tx.create(AgentAllocation, { id: allocation.id, companyId: viewer.companyId, saleLineId: line.id, transferLineId: allocation.transfer_line_id, quantity: allocation.quantity }, { persist: false }),
            layer: layers.get(allocation.transfer_line_id)!,
          })),
        }),
      );
      return { sale, written, stock: onHandOfLayers(left, productIds) };
    },
    lostKeyRace,
  );
  if (result.written) rememberSale(result.sale, result.written);
  const stock = result.stock;
  if (stock) await afterCommit(em, () => publishStock(publish, viewer.companyId, viewer.id, 'SALE', stock));
  return result.sale;
}
