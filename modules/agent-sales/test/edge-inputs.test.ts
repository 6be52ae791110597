import t from 'tap';
import { randomUUID } from 'node:crypto';
import { assertEdgeInputs, type TestApp, type TestCompany, type TestUser } from '@atrium/core/testing';
import { ADD_TO_CART, agentSalesApp, CHECKOUT, CREATE_TRANSFER, handOver, newAgent, newProduct, ok, OPEN_CART, SEND_TRANSFER } from './helpers.ts';

/*
 * Every root query and mutation of agent sales under the kernel's edge inputs, in two runs: as the
 * company's owner (the office, who holds the agent's key too, so every operation is theirs to call)
 * and as a MEMBER agent. Each run's bases are the caller's own records, made fresh per request where
 * an operation works once (a send, an acceptance, a rejection, a return, a cart's line, a checkout,
 * a refund), so every edge value reaches the rules behind the lookups.
 */

/** Who sells in a run: the owner (the office, holding the agent's key too) or a MEMBER with the agent's keys. */
type Seller = 'owner' | 'agent';

interface Seed {
  office: TestUser;
  /** The caller: every cart, sale and transfer to accept is theirs. */
  seller: TestUser;
  productId: string;
  contactId: string;
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
  nearlyFullCart(): Promise<string>;
  /** A new sale of the seller's of two units. */
  sale(): Promise<{ id: string; lineId: string }>;
}

async function seedFor(test: TestApp, company: TestCompany, who: Seller): Promise<Seed> {
  const office = company.owner;
  const seller = who === 'owner' ? office : await newAgent(test, company);
  const productId = await newProduct(test, office, 'Soap');
  const contactId = (await ok(test.gql(`mutation { createContact(input: { name: "Customer" }) { id } }`, {}, office))).createContact.id;
  // Stock for every checkout of the run.
  const transfer = await handOver(test, office, seller, [{ productId, quantity: 1_000_000 }]);

  const draft = async () => {
    const created = (await ok(test.gql(CREATE_TRANSFER, { input: { agentId: seller.id, lines: [{ productId, quantity: 3 }] } }, office))).createAgentTransfer;
    return { id: created.id as string, lineId: created.lines[0].id as string };
  };
  const sent = async () => {
    const created = await draft();
    await ok(test.gql(SEND_TRANSFER, { id: created.id }, office));
    return created;
  };
  const layer = async () => (await handOver(test, office, seller, [{ productId, quantity: 3 }])).lineIds[0]!;
  const cart = async () => {
    const cartId = (await ok(test.gql(OPEN_CART, {}, seller))).openAgentCart.id as string;
    const added = (await ok(test.gql(ADD_TO_CART, { input: { cartId, productId, quantity: 2 } }, seller))).addToAgentCart;
    return { cartId, lineId: added.lines[0].id as string };
  };
  /** A new cart of the seller's worth 24.00 short of the most a cart may be worth. */
  const nearlyFullCart = async () => {
    const cartId = (await ok(test.gql(OPEN_CART, {}, seller))).openAgentCart.id as string;
    await ok(test.gql(ADD_TO_CART, { input: { cartId, productId, quantity: 1, unitPrice: '999999999975.99' } }, seller));
    return cartId;
  };
  const sale = async () => {
    const { cartId } = await cart();
    const sold = (await ok(test.gql(CHECKOUT, { input: { cartId, idempotencyKey: randomUUID(), customerId: contactId } }, seller))).checkoutAgentCart;
    return { id: sold.id as string, lineId: sold.lines[0].id as string };
  };

  // A sale before the open cart: the open cart is the seller's default.
  const sold = await sale();
  await sale();
  const openCartId = (await cart()).cartId;
  await draft();
  const transferCursor = (await ok(test.gql(`{ agentTransfers(first: 1) { edges { cursor } } }`, {}, seller))).agentTransfers.edges[0].cursor;
  const saleCursor = (await ok(test.gql(`{ agentSales(first: 1) { edges { cursor } } }`, {}, seller))).agentSales.edges[0].cursor;
  return { office, seller, productId, contactId, transferId: transfer.id, openCartId, saleId: sold.id, transferCursor, saleCursor, draft, sent, layer, cart, nearlyFullCart, sale };
}

/** Operations only the office may call: FORBIDDEN for an agent, whatever the input. */
const OFFICE_ONLY = ['Mutation.createAgentTransfer', 'Mutation.sendAgentTransfer'];

for (const who of ['owner', 'agent'] as const) {
  t.test(`every root query and mutation of agent sales answers edge inputs clearly, as the ${who}`, async (t) => {
    const test = await agentSalesApp();
    t.teardown(() => test.close());
    const operations: Record<string, (seed: Seed) => Record<string, unknown> | Promise<Record<string, unknown>>> = {
      'Query.agentTransfer': (s) => ({ id: s.transferId }),
      'Query.agentTransfers': (s) => ({ first: 10, after: s.transferCursor, filter: { agentId: s.seller.id, status: 'DRAFT' } }),
      'Query.agentOnHand': (s) => ({ agentId: s.seller.id }),
      'Query.agentCart': (s) => ({ id: s.openCartId }),
      'Query.agentCarts': () => ({}),
      'Query.agentSale': (s) => ({ id: s.saleId }),
      'Query.agentSales': (s) => ({ first: 10, after: s.saleCursor, filter: { agentId: s.seller.id } }),
      'Query.agentAnalytics': (s) => ({ agentId: s.seller.id, from: '2000-01-01T00:00:00Z', to: '2100-01-01T00:00:00Z' }),
      'Mutation.createAgentTransfer': (s) => ({ input: { agentId: s.seller.id, lines: [{ productId: s.productId, quantity: 5 }], note: 'Van 3' } }),
      // Fresh records per request: each edge value reaches the transfer, cart, layer or sale it is about.
      'Mutation.sendAgentTransfer': async (s) => ({ id: (await s.draft()).id }),
      'Mutation.acceptAgentTransfer': async (s) => {
        const { id, lineId } = await s.sent();
        return { id, lines: [{ lineId, quantityAccepted: 2 }] };
      },
      'Mutation.rejectAgentTransfer': async (s) => ({ id: (await s.sent()).id, reason: 'Damaged in transit' }),
      'Mutation.returnFromAgent': async (s) => ({ input: { transferLineId: await s.layer(), quantity: 1 } }),
      'Mutation.openAgentCart': () => ({}),
      // The line (2 × 12.50 − 1.00) fills the cart to its most: a smaller discount or a larger price goes past it.
      'Mutation.addToAgentCart': async (s) => ({ input: { cartId: await s.nearlyFullCart(), productId: s.productId, quantity: 2, unitPrice: '12.50', discount: '1.00' } }),
      'Mutation.removeFromAgentCart': async (s) => ({ lineId: (await s.cart()).lineId }),
      'Mutation.checkoutAgentCart': async (s) => ({ input: { idempotencyKey: randomUUID(), cartId: (await s.cart()).cartId, customerId: s.contactId } }),
      'Mutation.refundAgentSale': async (s) => {
        const { id, lineId } = await s.sale();
        return { id, lines: [{ saleLineId: lineId, quantity: 1 }] };
      },
    };
    const skip: Record<string, string> = {};
    if (who === 'agent') {
      for (const key of OFFICE_ONLY) {
        delete operations[key];
        skip[key] = 'the office’s only (FORBIDDEN for an agent, whatever the input): probed as the owner';
      }
    }
    await assertEdgeInputs<Seed>(t, test, {
      module: 'agentSales',
      seed: (company) => seedFor(test, company, who),
      callers: (seed) => ({ [who]: { token: seed.seller.token } }),
      operations,
      skip,
    });
  });
}
