import t from 'tap';
import { assertTenantIsolation } from '@atrium/core/testing';
import { ACCEPT_TRANSFER, ADD_TO_CART, ANALYTICS, CHECKOUT, CREATE_TRANSFER, handOver, newAgent, newCart, newProduct, ok, ON_HAND, REFUND, REJECT_TRANSFER, RETURN, SEND_TRANSFER, agentSalesApp } from './helpers.ts';

const TRANSFER = `query ($id: ID!) { agentTransfer(id: $id) { id lines { id } } }`;
const TRANSFERS = `query ($filter: AgentTransferFilter) { agentTransfers(filter: $filter) { totalCount edges { node { id } } } }`;
const CART = `query ($id: ID!) { agentCart(id: $id) { id lines { id } } }`;
const CARTS = `{ agentCarts { id } }`;
const SALE = `query ($id: ID!) { agentSale(id: $id) { id lines { id } } }`;
const SALES = `query ($filter: AgentSaleFilter) { agentSales(filter: $filter) { totalCount edges { node { id } } } }`;
const REMOVE = `mutation ($id: ID!) { removeFromAgentCart(lineId: $id) { id } }`;

t.test("another company's ids behave as missing ones, for every operation", async (t) => {
  const test = await agentSalesApp();
  t.teardown(() => test.close());
  await assertTenantIsolation(t, test, {
    async seed(company) {
      const office = company.owner;
      const agent = await newAgent(test, company);
      const productId = await newProduct(test, office, 'Soap');
      const contactId = (await ok(test.gql(`mutation { createContact(input: { name: "Customer" }) { id } }`, {}, office))).createContact.id;
      const accepted = await handOver(test, office, agent, [{ productId, quantity: 5 }]);
      const sent = await handOver(test, office, agent, [{ productId, quantity: 2 }], false);
      const draft = (await ok(test.gql(CREATE_TRANSFER, { input: { agentId: agent.id, lines: [{ productId, quantity: 1 }] } }, office))).createAgentTransfer.id;
      const soldCart = await newCart(test, agent, [{ productId, quantity: 2 }]);
      const sale = (await ok(test.gql(CHECKOUT, { input: { cartId: soldCart, idempotencyKey: 'k', customerId: contactId } }, agent))).checkoutAgentCart;
      await ok(test.gql(REFUND, { id: sale.id, lines: [{ saleLineId: sale.lines[0].id, quantity: 1 }] }, office));
      const openCart = await newCart(test, agent, [{ productId, quantity: 1 }]);
      const cartLineId = (await ok(test.gql(CART, { id: openCart }, agent))).agentCart.lines[0].id;
      return { agentId: agent.id, productId, contactId, acceptedId: accepted.id, lineId: accepted.lineIds[0]!, sentId: sent.id, sentLineId: sent.lineIds[0]!, draft, saleId: sale.id, saleLineId: sale.lines[0].id, openCart, cartLineId };
    },
    // B's own records, its OWNER as the agent (the caller of every operation): a transfer sent to them, a sale and an open cart.
    async own(company) {
      const me = company.owner;
      const productId = await newProduct(test, me, 'Own soap');
      const contactId = (await ok(test.gql(`mutation { createContact(input: { name: "Own customer" }) { id } }`, {}, me))).createContact.id;
      await handOver(test, me, me, [{ productId, quantity: 5 }]);
      const sent = await handOver(test, me, me, [{ productId, quantity: 2 }], false);
      const sale = (await ok(test.gql(CHECKOUT, { input: { cartId: await newCart(test, me, [{ productId, quantity: 2 }]), idempotencyKey: 'own' } }, me))).checkoutAgentCart;
      const openCart = await newCart(test, me, [{ productId, quantity: 1 }]);
      return { agentId: me.id, productId, contactId, sentId: sent.id, sentLineId: sent.lineIds[0]!, saleId: sale.id, saleLineId: sale.lines[0].id, openCart };
    },
    operations: [
      { name: 'agentTransfer', query: TRANSFER, variables: (s) => ({ id: s.acceptedId }) },
      { name: 'agentTransfers (by agent)', query: TRANSFERS, variables: (s) => ({ filter: { agentId: s.agentId } }) },
      { name: 'agentOnHand', query: ON_HAND, variables: (s) => ({ agentId: s.agentId }) },
      { name: 'agentCart', query: CART, variables: (s) => ({ id: s.openCart }) },
      { name: 'agentCarts', query: CARTS },
      { name: 'agentSale', query: SALE, variables: (s) => ({ id: s.saleId }) },
      { name: 'agentSales (by agent)', query: SALES, variables: (s) => ({ filter: { agentId: s.agentId } }) },
      { name: 'agentAnalytics', query: ANALYTICS, variables: (s) => ({ agentId: s.agentId, from: '2000-01-01T00:00:00Z', to: '2100-01-01T00:00:00Z' }) },
      { name: 'createAgentTransfer', query: CREATE_TRANSFER, variables: (s) => ({ input: { agentId: s.agentId, lines: [{ productId: s.productId, quantity: 1 }] } }) },
      { name: 'sendAgentTransfer', query: SEND_TRANSFER, variables: (s) => ({ id: s.draft }) },
      { name: 'acceptAgentTransfer', query: ACCEPT_TRANSFER, variables: (s) => ({ id: s.sentId, lines: [{ lineId: s.sentLineId, quantityAccepted: 1 }] }) },
      { name: 'rejectAgentTransfer', query: REJECT_TRANSFER, variables: (s) => ({ id: s.sentId, reason: 'x' }) },
      { name: 'returnFromAgent', query: RETURN, variables: (s) => ({ input: { transferLineId: s.lineId, quantity: 1 } }) },
      { name: 'openAgentCart', query: `mutation { openAgentCart { id status } }` },
      { name: 'addToAgentCart (their product)', query: ADD_TO_CART, variables: (s) => ({ input: { productId: s.productId, quantity: 1 } }) },
      { name: 'addToAgentCart (their cart)', query: ADD_TO_CART, variables: (s) => ({ input: { cartId: s.openCart, productId: s.productId, quantity: 1 } }) },
      { name: 'removeFromAgentCart', query: REMOVE, variables: (s) => ({ id: s.cartLineId }) },
      { name: 'checkoutAgentCart (their cart)', query: CHECKOUT, variables: (s) => ({ input: { cartId: s.openCart, idempotencyKey: 'b' } }) },
      { name: 'checkoutAgentCart (their customer)', query: CHECKOUT, variables: (s) => ({ input: { idempotencyKey: 'c', customerId: s.contactId } }) },
      { name: 'refundAgentSale', query: REFUND, variables: (s) => ({ id: s.saleId, lines: [{ saleLineId: s.saleLineId, quantity: 1 }] }) },
      { name: 'refundAgentSale (whole)', query: REFUND, variables: (s) => ({ id: s.saleId }) },
      // One of B's records with an id of A's inside, or one of A's with B's inside.
      {
        name: "createAgentTransfer (B's agent, A's product)",
        query: CREATE_TRANSFER,
        variables: (s, o) => ({ input: { agentId: o.agentId, lines: [{ productId: o.productId, quantity: 1 }, { productId: s.productId, quantity: 1 }] } }),
      },
      { name: "createAgentTransfer (A's agent, B's product)", query: CREATE_TRANSFER, variables: (s, o) => ({ input: { agentId: s.agentId, lines: [{ productId: o.productId, quantity: 1 }] } }) },
      {
        name: "acceptAgentTransfer (B's transfer, A's line)",
        query: ACCEPT_TRANSFER,
        variables: (s, o) => ({ id: o.sentId, lines: [{ lineId: o.sentLineId, quantityAccepted: 1 }, { lineId: s.sentLineId, quantityAccepted: 1 }] }),
      },
      { name: "acceptAgentTransfer (A's transfer, B's line)", query: ACCEPT_TRANSFER, variables: (s, o) => ({ id: s.sentId, lines: [{ lineId: o.sentLineId, quantityAccepted: 1 }] }) },
      { name: "refundAgentSale (B's sale, A's line)", query: REFUND, variables: (s, o) => ({ id: o.saleId, lines: [{ saleLineId: s.saleLineId, quantity: 1 }] }) },
      { name: "refundAgentSale (A's sale, B's line)", query: REFUND, variables: (s, o) => ({ id: s.saleId, lines: [{ saleLineId: o.saleLineId, quantity: 1 }] }) },
      { name: "addToAgentCart (B's cart, A's product)", query: ADD_TO_CART, variables: (s, o) => ({ input: { cartId: o.openCart, productId: s.productId, quantity: 1 } }) },
      { name: "addToAgentCart (A's cart, B's product)", query: ADD_TO_CART, variables: (s, o) => ({ input: { cartId: s.openCart, productId: o.productId, quantity: 1 } }) },
      { name: "checkoutAgentCart (B's cart, A's customer)", query: CHECKOUT, variables: (s, o) => ({ input: { cartId: o.openCart, idempotencyKey: 'd', customerId: s.contactId } }) },
      { name: "checkoutAgentCart (A's cart, B's customer)", query: CHECKOUT, variables: (s, o) => ({ input: { cartId: s.openCart, idempotencyKey: 'e', customerId: o.contactId } }) },
    ],
  });

  // Subscriptions: another company's agent is a missing one.
  const a = await test.createCompany();
  const b = await test.createCompany();
  const agent = await newAgent(test, a);
  const foreign = await test.subscribe(`subscription ($id: ID!) { agentStockChanged(agentId: $id) { agentId } }`, { id: agent.id }, { token: b.owner.token });
  t.equal(((await foreign.next()).errors?.[0] as any)?.extensions?.code, 'NOT_FOUND', "agentStockChanged of another company's agent: NOT_FOUND");
  await foreign.close();
  const missing = await test.subscribe(`subscription ($id: ID!) { agentStockChanged(agentId: $id) { agentId } }`, { id: '0190a5b8-0000-7000-8000-000000000000' }, { token: b.owner.token });
  t.equal(((await missing.next()).errors?.[0] as any)?.extensions?.code, 'NOT_FOUND', 'as for an id that does not exist');
  await missing.close();
});
