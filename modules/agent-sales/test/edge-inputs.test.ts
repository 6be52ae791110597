import t from 'tap';
import { randomUUID } from 'node:crypto';
import { assertEdgeInputs, createTestApp, type EdgeBase, type TestApp, type TestCompany, type TestUser } from '@atrium/core/testing';
import { ADD_TO_CART, CHECKOUT, CREATE_TRANSFER, handOver, modules, newAgent, newProduct, ok, OPEN_CART, SEND_TRANSFER } from './helpers.ts';

/*
 * Every root query and mutation of agent sales under the kernel's edge inputs, as two callers: the
 * company's owner (the office, who holds the agent's key too) and a MEMBER agent. Each caller's
 * bases are their own records, made fresh per request where an operation works once (a send, an
 * acceptance, a rejection, a return, a cart's line, a checkout, a refund), so every edge value
 * reaches the rules behind the lookups.
 */

type Caller = 'owner' | 'agent';

/** What one caller sells from, and makes their bases of. */
interface Seller {
  user: TestUser;
  transferId: string;
  openCartId: string;
  saleId: string;
  transferCursor: string;
  saleCursor: string;
  /** A DRAFT transfer to the seller: its id and line id. */
  draft(): Promise<{ id: string; lineId: string }>;
  /** A SENT transfer to the seller. */
  sent(): Promise<{ id: string; lineId: string }>;
  /** A layer of the seller's with stock (a transfer accepted whole). */
  layer(): Promise<string>;
  /** A new cart of the seller's with one line of two units. */
  cart(): Promise<{ cartId: string; lineId: string }>;
  /** A new cart of the seller's worth 24.00 short of the most a cart may be worth. */
  nearlyFullCart(): Promise<string>;
  /** A new sale of the seller's of two units. */
  sale(): Promise<{ id: string; lineId: string }>;
}

interface Seed {
  productId: string;
  contactId: string;
  sellers: Record<Caller, Seller>;
}

async function sellerOf(test: TestApp, office: TestUser, user: TestUser, productId: string, contactId: string): Promise<Seller> {
  // Stock for every checkout of the run.
  const transfer = await handOver(test, office, user, [{ productId, quantity: 1_000_000 }]);
  const draft = async () => {
    const created = (await ok(test.gql(CREATE_TRANSFER, { input: { agentId: user.id, lines: [{ productId, quantity: 3 }] } }, office))).createAgentTransfer;
    return { id: created.id as string, lineId: created.lines[0].id as string };
  };
  const sent = async () => {
    const created = await draft();
    await ok(test.gql(SEND_TRANSFER, { id: created.id }, office));
    return created;
  };
  const layer = async () => (await handOver(test, office, user, [{ productId, quantity: 3 }])).lineIds[0]!;
  const cart = async () => {
    const cartId = (await ok(test.gql(OPEN_CART, {}, user))).openAgentCart.id as string;
    const added = (await ok(test.gql(ADD_TO_CART, { input: { cartId, productId, quantity: 2 } }, user))).addToAgentCart;
    return { cartId, lineId: added.lines[0].id as string };
  };
  const nearlyFullCart = async () => {
    const cartId = (await ok(test.gql(OPEN_CART, {}, user))).openAgentCart.id as string;
    await ok(test.gql(ADD_TO_CART, { input: { cartId, productId, quantity: 1, unitPrice: '999999999975.99' } }, user));
    return cartId;
  };
  const sale = async () => {
    const { cartId } = await cart();
    const sold = (await ok(test.gql(CHECKOUT, { input: { cartId, idempotencyKey: randomUUID(), customerId: contactId } }, user))).checkoutAgentCart;
    return { id: sold.id as string, lineId: sold.lines[0].id as string };
  };

  // Sales before the open cart: the open cart is the seller's default.
  const sold = await sale();
  await sale();
  const openCartId = (await cart()).cartId;
  await draft();
  const transferCursor = (await ok(test.gql(`{ agentTransfers(first: 1) { edges { cursor } } }`, {}, user))).agentTransfers.edges[0].cursor;
  const saleCursor = (await ok(test.gql(`{ agentSales(first: 1) { edges { cursor } } }`, {}, user))).agentSales.edges[0].cursor;
  return { user, transferId: transfer.id, openCartId, saleId: sold.id, transferCursor, saleCursor, draft, sent, layer, cart, nearlyFullCart, sale };
}

async function seedOf(test: TestApp, company: TestCompany): Promise<Seed> {
  const office = company.owner;
  const productId = await newProduct(test, office, 'Soap');
  const contactId = (await ok(test.gql(`mutation { createContact(input: { name: "Customer" }) { id } }`, {}, office))).createContact.id;
  const agent = await newAgent(test, company);
  return {
    productId,
    contactId,
    sellers: { owner: await sellerOf(test, office, office, productId, contactId), agent: await sellerOf(test, office, agent, productId, contactId) },
  };
}

/** Per caller: `base(seed, their records)`. */
const as =
  (base: (seed: Seed, seller: Seller) => Record<string, unknown> | Promise<Record<string, unknown>>): EdgeBase<Seed> =>
  (seed, caller) =>
    base(seed, seed.sellers[caller as Caller]);

/** Every field both callers may call, each on their own records. */
const SHARED: Record<string, EdgeBase<Seed>> = {
  'Query.agentTransfer': as((_s, me) => ({ id: me.transferId })),
  'Query.agentTransfers': as((_s, me) => ({ first: 10, after: me.transferCursor, filter: { agentId: me.user.id, status: 'DRAFT' } })),
  'Query.agentOnHand': as((_s, me) => ({ agentId: me.user.id })),
  'Query.agentCart': as((_s, me) => ({ id: me.openCartId })),
  'Query.agentCarts': () => ({}),
  'Query.agentSale': as((_s, me) => ({ id: me.saleId })),
  'Query.agentSales': as((_s, me) => ({ first: 10, after: me.saleCursor, filter: { agentId: me.user.id } })),
  'Query.agentAnalytics': as((_s, me) => ({ agentId: me.user.id, from: '2000-01-01T00:00:00Z', to: '2100-01-01T00:00:00Z' })),
  'Subscription.agentStockChanged': as((_s, me) => ({ agentId: me.user.id })),
  // Fresh records per request: each edge value reaches the transfer, layer, cart or sale it is about.
  'Mutation.acceptAgentTransfer': as(async (_s, me) => {
    const { id, lineId } = await me.sent();
    return { id, lines: [{ lineId, quantityAccepted: 2 }] };
  }),
  'Mutation.rejectAgentTransfer': as(async (_s, me) => ({ id: (await me.sent()).id, reason: 'Damaged in transit' })),
  'Mutation.returnFromAgent': as(async (_s, me) => ({ input: { transferLineId: await me.layer(), quantity: 1 } })),
  'Mutation.openAgentCart': () => ({}),
  // The line (2 × 12.50 − 1.00) fills the cart to its most: a smaller discount or a larger price goes past it.
  'Mutation.addToAgentCart': as(async (s, me) => ({ input: { cartId: await me.nearlyFullCart(), productId: s.productId, quantity: 2, unitPrice: '12.50', discount: '1.00' } })),
  'Mutation.removeFromAgentCart': as(async (_s, me) => ({ lineId: (await me.cart()).lineId })),
  'Mutation.checkoutAgentCart': as(async (s, me) => ({ input: { idempotencyKey: randomUUID(), cartId: (await me.cart()).cartId, customerId: s.contactId } })),
  'Mutation.refundAgentSale': as(async (_s, me) => {
    const { id, lineId } = await me.sale();
    return { id, lines: [{ saleLineId: lineId, quantity: 1 }] };
  }),
};

/** The office's only: FORBIDDEN for an agent, whatever the input. */
const OFFICE: Record<string, EdgeBase<Seed>> = {
  'Mutation.createAgentTransfer': (s) => ({ input: { agentId: s.sellers.agent.user.id, lines: [{ productId: s.productId, quantity: 5 }], note: 'Van 3' } }),
  'Mutation.sendAgentTransfer': async (s) => ({ id: (await s.sellers.agent.draft()).id }),
};

const skipped = (fields: Record<string, unknown>, reason: string): Record<string, string> => Object.fromEntries(Object.keys(fields).map((field) => [field, reason]));

// A thousand-odd requests, each mutation's with a digest of the database's rows before and after: past
// tap's 120 s on a busy machine.
t.setTimeout(600_000);

t.test('every root query, mutation and subscription of agent sales answers edge inputs clearly, as the owner and as an agent', async (t) => {
  // Well over the 1200 requests a minute one address may send by default: the limiter is off.
  const test = await createTestApp({ modules, config: { logLevel: 'error', httpRateLimit: 0 } });
  t.teardown(() => test.close());
  await assertEdgeInputs<Seed>(t, test, {
    module: 'agentSales',
    seed: (company) => seedOf(test, company),
    callers: (seed) => ({ owner: { token: seed.sellers.owner.user.token }, agent: { token: seed.sellers.agent.user.token } }),
    operations: SHARED,
    skip: skipped(OFFICE, 'the office’s only (FORBIDDEN for an agent, whatever the input): probed as the owner below'),
  });
  await assertEdgeInputs<Seed>(t, test, {
    module: 'agentSales',
    seed: (company) => seedOf(test, company),
    operations: OFFICE,
    skip: skipped(SHARED, 'probed as the owner and as an agent above'),
  });
});
