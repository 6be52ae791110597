import t from 'tap';
import { CHECKOUT, handOver, ledgerMismatches, ledgerState, newAgent, newCart, newProduct, ok, onHand, REFUND, rowsOf, setup, ADD_TO_CART, countRows, CREATE_PRODUCT } from './helpers.ts';

t.test('checkout allocates FIFO across accepted transfers and never oversells', async (t) => {
  const { test, company, office, agent } = await setup();
  t.teardown(() => test.close());
  const soap = await newProduct(test, office, 'Soap', '2.50');
  const first = await handOver(test, office, agent, [{ productId: soap, quantity: 5 }]);
  const second = await handOver(test, office, agent, [{ productId: soap, quantity: 5 }]);
  t.same(await onHand(test, agent, agent.id), { [soap]: 10 }, 'both transfers are on hand');

  const cartId = await newCart(test, agent, [{ productId: soap, quantity: 7 }]);
  const sold = await test.gql(CHECKOUT, { input: { cartId, idempotencyKey: 'sale-1' } }, agent);
  t.equal(sold.errors, undefined);
  const sale = sold.data.checkoutAgentCart;
  t.match(sale, { agentId: agent.id, total: '17.50', status: 'COMPLETED', customer: null });
  t.same(
    sale.allocations,
    [
      { transferLine: { id: first.lineIds[0] }, quantity: 5 },
      { transferLine: { id: second.lineIds[0] }, quantity: 2 },
    ],
    '5 from the first transfer, 2 from the second',
  );
  t.same(await onHand(test, agent, agent.id), { [soap]: 3 });
  t.same(await test.sql('select remaining from agent_transfer_line where id = any($1) order by accepted_at, id', [[first.lineIds[0], second.lineIds[0]]]), [{ remaining: 0 }, { remaining: 3 }]);
  const [event] = await test.sql<{ payload: unknown; company_id: string }>(`select payload, company_id from atrium_event where name = 'agentSales.sale.completed'`);
  t.same(event, { payload: { saleId: sale.id, agentId: agent.id, customerId: null, total: '17.50' }, company_id: company.id }, 'agentSales.sale.completed is in the outbox');

  // 4 more of 3 on hand: refused whole, nothing written.
  const tooMany = await newCart(test, agent, [{ productId: soap, quantity: 4 }]);
  const before = await ledgerState(test);
  const refused = await test.gql(CHECKOUT, { input: { cartId: tooMany, idempotencyKey: 'sale-2' } }, agent);
  t.equal(refused.errors?.[0]?.extensions?.code, 'INSUFFICIENT_STOCK');
  t.same(refused.errors?.[0]?.extensions?.shortfalls, [{ productId: soap, requested: 4, available: 3, shortfall: 1 }], 'names the product and the shortfall');
  t.same(await ledgerState(test), before, 'nothing written');
  t.same(await test.sql('select status from agent_cart where id = $1', [tooMany]), [{ status: 'OPEN' }], 'the cart stays open');
  t.same(await ledgerMismatches(test), { remaining: [], sales: [], refunds: [] }, 'the ledger reconciles');
});

t.test('two lines of one product are checked against their total; every line must be covered', async (t) => {
  const { test, office, agent } = await setup();
  t.teardown(() => test.close());
  const soap = await newProduct(test, office, 'Soap', '1');
  const brush = await newProduct(test, office, 'Brush', '3');
  await handOver(test, office, agent, [
    { productId: soap, quantity: 4 },
    { productId: brush, quantity: 1 },
  ]);
  const cartId = await newCart(test, agent, [
    { productId: soap, quantity: 3 },
    { productId: brush, quantity: 1 },
    { productId: soap, quantity: 2 },
  ]);
  const before = await ledgerState(test);
  const refused = await test.gql(CHECKOUT, { input: { cartId, idempotencyKey: 'k' } }, agent);
  t.equal(refused.errors?.[0]?.extensions?.code, 'INSUFFICIENT_STOCK', '3 + 2 of 4 soaps');
  t.same(refused.errors?.[0]?.extensions?.shortfalls, [{ productId: soap, requested: 5, available: 4, shortfall: 1 }], 'the brush is covered, the soap short by 1');
  t.same(await ledgerState(test), before, 'nothing written, the brush included');

  const lines = (await ok(test.gql(`query ($id: ID!) { agentCart(id: $id) { lines { id productId quantity } } }`, { id: cartId }, agent))).agentCart.lines;
  await ok(test.gql(`mutation ($id: ID!) { removeFromAgentCart(lineId: $id) { id } }`, { id: lines[2].id }, agent));
  await ok(test.gql(ADD_TO_CART, { input: { cartId, productId: soap, quantity: 1, unitPrice: '0.90', discount: '0.40' } }, agent));
  const sold = await test.gql(CHECKOUT, { input: { cartId, idempotencyKey: 'k' } }, agent);
  t.equal(sold.errors, undefined);
  t.same(
    sold.data.checkoutAgentCart.lines.map((l: any) => [l.productId, l.quantity, l.unitPrice, l.discount, l.total]),
    [
      [soap, 3, '1.00', '0.00', '3.00'],
      [brush, 1, '3.00', '0.00', '3.00'],
      [soap, 1, '0.90', '0.40', '0.50'],
    ],
  );
  t.equal(sold.data.checkoutAgentCart.total, '6.50');
  t.same(await onHand(test, agent, agent.id), {}, 'sold out');
});

t.test('a repeated idempotency key answers the first sale; another cart with it is a conflict', async (t) => {
  const { test, office, agent } = await setup();
  t.teardown(() => test.close());
  const soap = await newProduct(test, office, 'Soap');
  await handOver(test, office, agent, [{ productId: soap, quantity: 10 }]);
  const cartId = await newCart(test, agent, [{ productId: soap, quantity: 2 }]);
  const first = (await ok(test.gql(CHECKOUT, { input: { cartId, idempotencyKey: 'door-42' } }, agent))).checkoutAgentCart;
  const before = await ledgerState(test);
  const again = await test.gql(CHECKOUT, { input: { cartId, idempotencyKey: 'door-42' } }, agent);
  t.same(again.data?.checkoutAgentCart, first, 'the same sale, with the same allocations');
  const implicit = await test.gql(CHECKOUT, { input: { idempotencyKey: 'door-42' } }, agent);
  t.same(implicit.data?.checkoutAgentCart, first, 'also without naming the cart');
  t.same(await ledgerState(test), before, 'nothing more written');
  t.equal(await countRows(test, 'agent_sale'), 1, 'one sale');
  t.same(await onHand(test, agent, agent.id), { [soap]: 8 }, 'sold once');

  const other = await newCart(test, agent, [{ productId: soap, quantity: 1 }]);
  const before2 = await ledgerState(test);
  const conflict = await test.gql(CHECKOUT, { input: { cartId: other, idempotencyKey: 'door-42' } }, agent);
  t.equal(conflict.errors?.[0]?.extensions?.code, 'CONFLICT', 'the key of another checkout');
  t.same(await ledgerState(test), before2);
  const resold = await test.gql(CHECKOUT, { input: { cartId, idempotencyKey: 'door-43' } }, agent);
  t.equal(resold.errors?.[0]?.extensions?.code, 'CONFLICT', 'a checked-out cart does not sell twice');
  t.same(await ledgerState(test), before2);
});

t.test('without cartId, checkout sells the default cart — the oldest open one; with none open it is refused and writes nothing', async (t) => {
  const { test, office, agent } = await setup();
  t.teardown(() => test.close());
  const soap = await newProduct(test, office, 'Soap');
  await handOver(test, office, agent, [{ productId: soap, quantity: 10 }]);
  const oldest = await newCart(test, agent, [{ productId: soap, quantity: 1 }]);
  const newer = await newCart(test, agent, [{ productId: soap, quantity: 2 }]);
  await ok(test.gql(CHECKOUT, { input: { idempotencyKey: 'first' } }, agent));
  await ok(test.gql(CHECKOUT, { input: { idempotencyKey: 'second' } }, agent));
  t.same(
    await test.sql('select idempotency_key, cart_id from agent_sale order by created_at, id'),
    [{ idempotency_key: 'first', cart_id: oldest }, { idempotency_key: 'second', cart_id: newer }],
    'the oldest open cart first, then the next',
  );
  const before = await ledgerState(test);
  const none = await test.gql(CHECKOUT, { input: { idempotencyKey: 'third' } }, agent);
  t.equal(none.errors?.[0]?.extensions?.code, 'BAD_USER_INPUT');
  t.ok(none.errors?.[0]?.extensions?.fields?.['input.cartId'], 'names input.cartId');
  t.same(await ledgerState(test), before, 'nothing written');
});

t.test('refunds restore exactly the transfer lines the sale consumed', async (t) => {
  const { test, office, agent } = await setup();
  t.teardown(() => test.close());
  const soap = await newProduct(test, office, 'Soap', '3');
  const brush = await newProduct(test, office, 'Brush', '5');
  const a = await handOver(test, office, agent, [{ productId: soap, quantity: 2 }]);
  const b = await handOver(test, office, agent, [
    { productId: soap, quantity: 3 },
    { productId: brush, quantity: 2 },
  ]);
  const cartId = await newCart(test, agent, [
    { productId: soap, quantity: 4, discount: '1' },
    { productId: brush, quantity: 2 },
  ]);
  const sale = (await ok(test.gql(CHECKOUT, { input: { cartId, idempotencyKey: 's' } }, agent))).checkoutAgentCart;
  t.same(sale.lines[0].allocations, [
    { transferLine: { id: a.lineIds[0] }, quantity: 2 },
    { transferLine: { id: b.lineIds[0] }, quantity: 2 },
  ]);
  const remaining = async () =>
    Object.fromEntries((await test.sql<{ id: string; remaining: number }>('select id, remaining from agent_transfer_line')).map((row) => [row.id, row.remaining]));
  t.same(await remaining(), { [a.lineIds[0]]: 0, [b.lineIds[0]]: 1, [b.lineIds[1]]: 0 });

  // 3 soaps back: the 2 of the newest layer first, then 1 of the oldest; 11.00 of 12 − 1 pro rata → 8.25.
  const partial = await test.gql(REFUND, { id: sale.id, lines: [{ saleLineId: sale.lines[0].id, quantity: 3 }] }, office);
  t.equal(partial.errors, undefined);
  t.match(partial.data.refundAgentSale, { status: 'PARTIALLY_REFUNDED', lines: [{ refundedQuantity: 3 }, { refundedQuantity: 0 }], refunds: [{ total: '8.25' }] });
  t.same(await remaining(), { [a.lineIds[0]]: 1, [b.lineIds[0]]: 3, [b.lineIds[1]]: 0 }, 'back to the layers they came from');
  t.same(await onHand(test, agent, agent.id), { [soap]: 4 });

  const before = await ledgerState(test);
  const tooMany = await test.gql(REFUND, { id: sale.id, lines: [{ saleLineId: sale.lines[0].id, quantity: 2 }] }, office);
  t.equal(tooMany.errors?.[0]?.extensions?.code, 'BAD_USER_INPUT');
  t.same(tooMany.errors?.[0]?.extensions?.fields, { 'lines.0.quantity': 'is more than can be refunded (1)' });
  t.same(await ledgerState(test), before, 'nothing written');

  const rest = await test.gql(REFUND, { id: sale.id }, agent);
  t.equal(rest.errors, undefined, 'the agent refunds the rest of their own sale');
  t.match(rest.data.refundAgentSale, { status: 'REFUNDED', lines: [{ refundedQuantity: 4 }, { refundedQuantity: 2 }], refunds: [{ total: '8.25' }, { total: '12.75' }] });
  t.same(await remaining(), { [a.lineIds[0]]: 2, [b.lineIds[0]]: 3, [b.lineIds[1]]: 2 }, 'every layer as before the sale');
  const again = await test.gql(REFUND, { id: sale.id }, agent);
  t.equal(again.errors?.[0]?.extensions?.code, 'CONFLICT', 'refunded already');
  t.same(await ledgerMismatches(test), { remaining: [], sales: [], refunds: [] });
  t.equal(await countRows(test, 'atrium_event', `name = 'agentSales.sale.refunded'`), 2);
});

t.test('an agent sells only their own stock and sees only their own', async (t) => {
  const { test, company, office, agent } = await setup();
  t.teardown(() => test.close());
  const other = await newAgent(test, company);
  const soap = await newProduct(test, office, 'Soap');
  await handOver(test, office, agent, [{ productId: soap, quantity: 5 }]);

  const theirs = await newCart(test, other, [{ productId: soap, quantity: 1 }]);
  const before = await ledgerState(test);
  const short = await test.gql(CHECKOUT, { input: { cartId: theirs, idempotencyKey: 'x' } }, other);
  t.equal(short.errors?.[0]?.extensions?.code, 'INSUFFICIENT_STOCK', "another agent's stock is not theirs to sell");
  const mine = await newCart(test, agent, [{ productId: soap, quantity: 1 }]);
  const stolen = await test.gql(CHECKOUT, { input: { cartId: mine, idempotencyKey: 'y' } }, other);
  t.equal(stolen.errors?.[0]?.extensions?.code, 'NOT_FOUND', "nor another agent's cart");
  const added = await test.gql(ADD_TO_CART, { input: { cartId: mine, productId: soap, quantity: 1 } }, other);
  t.equal(added.errors?.[0]?.extensions?.code, 'NOT_FOUND');
  t.same({ ...(await ledgerState(test)), agent_cart: before.agent_cart, agent_cart_line: before.agent_cart_line }, before, 'nothing sold');

  const peek = await test.gql(`query ($id: ID!) { agentOnHand(agentId: $id) { quantity } }`, { id: agent.id }, other);
  t.equal(peek.errors?.[0]?.extensions?.code, 'FORBIDDEN', "another agent's stock is not visible");
  const analytics = await test.gql(`query ($id: ID!) { agentAnalytics(agentId: $id, from: "2020-01-01T00:00:00Z", to: "2100-01-01T00:00:00Z") { agent { id } } }`, { id: agent.id }, other);
  t.equal(analytics.errors?.[0]?.extensions?.code, 'FORBIDDEN');
  t.same(await onHand(test, office, agent.id), { [soap]: 5 }, 'the office sees it');
  const sales = await ok(test.gql(`{ agentSales { totalCount } agentTransfers { totalCount } }`, {}, other));
  t.same(sales, { agentSales: { totalCount: 0 }, agentTransfers: { totalCount: 0 } }, 'lists show an agent their own');
  const stock = await test.subscribe(`subscription ($id: ID!) { agentStockChanged(agentId: $id) { agentId } }`, { id: agent.id }, { token: other.token });
  const refusal = await stock.next();
  t.equal((refusal.errors?.[0] as any)?.extensions?.code, 'FORBIDDEN', 'nor can they watch it');
  await stock.close();

  const noKey = await test.createUser({ company, permissions: ['crm.product.read'] });
  const cart = await test.gql(`mutation { openAgentCart { id } }`, {}, noKey);
  t.equal(cart.errors?.[0]?.extensions?.code, 'FORBIDDEN', 'selling needs agentSales.sale.create');
});

t.test('checkout: bad input is refused and writes nothing', async (t) => {
  const { test, office, agent } = await setup();
  t.teardown(() => test.close());
  const soap = await newProduct(test, office, 'Soap');
  const retired = (await ok(test.gql(CREATE_PRODUCT, { input: { name: 'Old', sku: 'old-1', unit: 'pcs', price: '1', active: false } }, office))).createProduct.id;
  await handOver(test, office, agent, [{ productId: soap, quantity: 5 }]);
  const cartId = await newCart(test, agent, [{ productId: soap, quantity: 1 }]);
  const contact = await test.createCompany();
  const foreignContact = (await ok(test.gql(`mutation { createContact(input: { name: "Elsewhere" }) { id } }`, {}, contact.owner))).createContact.id;
  const ownContact = (await ok(test.gql(`mutation { createContact(input: { name: "Here" }) { id } }`, {}, office))).createContact.id;
  const before = await ledgerState(test);
  const cases: [string, string, Record<string, unknown>, string, string?][] = [
    ['empty key', CHECKOUT, { input: { cartId, idempotencyKey: '  ' } }, 'BAD_USER_INPUT', 'input.idempotencyKey'],
    ['long key', CHECKOUT, { input: { cartId, idempotencyKey: 'k'.repeat(201) } }, 'BAD_USER_INPUT', 'input.idempotencyKey'],
    ['malformed cart', CHECKOUT, { input: { cartId: 'nope', idempotencyKey: 'a' } }, 'BAD_USER_INPUT', 'input.cartId'],
    ['unknown cart', CHECKOUT, { input: { cartId: '0190a5b8-0000-7000-8000-000000000000', idempotencyKey: 'a' } }, 'NOT_FOUND'],
    ["another company's customer", CHECKOUT, { input: { cartId, idempotencyKey: 'a', customerId: foreignContact } }, 'BAD_USER_INPUT', 'input.customerId'],
    // PostgreSQL would find the rows, but the sale would keep the id as sent: its customer never resolved.
    ['upper-case customer id', CHECKOUT, { input: { cartId, idempotencyKey: 'a', customerId: ownContact.toUpperCase() } }, 'BAD_USER_INPUT', 'input.customerId'],
    ['upper-case cart id', CHECKOUT, { input: { cartId: cartId.toUpperCase(), idempotencyKey: 'a' } }, 'BAD_USER_INPUT', 'input.cartId'],
    ['zero quantity', ADD_TO_CART, { input: { cartId, productId: soap, quantity: 0 } }, 'BAD_USER_INPUT', 'input.quantity'],
    ['fractional quantity', ADD_TO_CART, { input: { cartId, productId: soap, quantity: 1.5 } }, 'BAD_USER_INPUT'],
    ['negative price', ADD_TO_CART, { input: { cartId, productId: soap, quantity: 1, unitPrice: '-1' } }, 'BAD_USER_INPUT'],
    ['three decimals', ADD_TO_CART, { input: { cartId, productId: soap, quantity: 1, unitPrice: '1.001' } }, 'BAD_USER_INPUT', 'input.unitPrice'],
    ['discount above worth', ADD_TO_CART, { input: { cartId, productId: soap, quantity: 2, unitPrice: '1', discount: '2.01' } }, 'BAD_USER_INPUT', 'input.discount'],
    ['inactive product', ADD_TO_CART, { input: { cartId, productId: retired, quantity: 1 } }, 'BAD_USER_INPUT', 'input.productId'],
    ['unknown product', ADD_TO_CART, { input: { cartId, productId: '0190a5b8-0000-7000-8000-000000000000', quantity: 1 } }, 'BAD_USER_INPUT', 'input.productId'],
    ['refund of nothing', REFUND, { id: '0190a5b8-0000-7000-8000-000000000000' }, 'NOT_FOUND'],
  ];
  for (const [name, query, variables, code, field] of cases) {
    const res = await test.gql(query, variables, agent);
    t.equal(res.errors?.[0]?.extensions?.code, code, `${name}: ${code}`);
    if (field) t.ok(res.errors?.[0]?.extensions?.fields?.[field], `${name}: names ${field}`);
    t.same(await ledgerState(test), before, `${name}: nothing written`);
  }
});

t.test('removeFromAgentCart: a line not in an open cart of your own is refused and writes nothing', async (t) => {
  const { test, company, office, agent } = await setup();
  t.teardown(() => test.close());
  const other = await newAgent(test, company);
  const noKey = await test.createUser({ company, permissions: ['crm.product.read'] });
  const soap = await newProduct(test, office, 'Soap');
  await handOver(test, office, agent, [{ productId: soap, quantity: 5 }]);
  const REMOVE = `mutation ($id: ID!) { removeFromAgentCart(lineId: $id) { id lines { id } } }`;
  const CART_LINES = `query ($id: ID!) { agentCart(id: $id) { lines { id } } }`;
  const lineIds = async (cartId: string): Promise<string[]> => (await ok(test.gql(CART_LINES, { id: cartId }, agent))).agentCart.lines.map((line: { id: string }) => line.id);

  const openCart = await newCart(test, agent, [{ productId: soap, quantity: 1 }, { productId: soap, quantity: 2 }]);
  const [kept, removed] = await lineIds(openCart);
  await ok(test.gql(REMOVE, { id: removed }, agent));
  const soldCart = await newCart(test, agent, [{ productId: soap, quantity: 1 }]);
  const [soldLine] = await lineIds(soldCart);
  await ok(test.gql(CHECKOUT, { input: { cartId: soldCart, idempotencyKey: 'sold' } }, agent));

  const before = await ledgerState(test);
  const carts = await rowsOf(test, 'agent_cart');
  const cases: [string, string, typeof agent, string][] = [
    ['a malformed id', 'nope', agent, 'NOT_FOUND'],
    ['an unknown id', '0190a5b8-0000-7000-8000-000000000000', agent, 'NOT_FOUND'],
    ['a line removed already', removed!, agent, 'NOT_FOUND'],
    ["another agent's line", kept!, other, 'NOT_FOUND'],
    ["the office, on an agent's line", kept!, office, 'NOT_FOUND'],
    ['a line of a checked-out cart', soldLine!, agent, 'CONFLICT'],
    ['without agentSales.sale.create', kept!, noKey, 'FORBIDDEN'],
  ];
  for (const [name, id, user, code] of cases) {
    const res = await test.gql(REMOVE, { id }, user);
    t.equal(res.errors?.[0]?.extensions?.code, code, `${name}: ${code}`);
    t.same(await ledgerState(test), before, `${name}: nothing written`);
    t.same(await rowsOf(test, 'agent_cart'), carts, `${name}: the carts are as they were`);
  }
  t.same(await lineIds(soldCart), [soldLine], 'the checked-out cart keeps its line');

  const done = await test.gql(REMOVE, { id: kept }, agent);
  t.same(done.data?.removeFromAgentCart, { id: openCart, lines: [] }, 'the agent takes their own line out of their open cart');
  t.equal((await ledgerState(test)).agent_cart_line, before.agent_cart_line! - 1, 'which the check above would have seen');
});

t.test('a cart is worth at most 999999999999.99: a line past it is refused and writes nothing; a cart worth more reads its total', async (t) => {
  const { test, office, agent } = await setup();
  t.teardown(() => test.close());
  const gold = await newProduct(test, office, 'Gold', '500000000000.00');
  const CART = `query ($id: ID!) { agentCart(id: $id) { id total lines { id } } }`;
  const cartId = await newCart(test, agent, [{ productId: gold, quantity: 1 }]);
  const before = await ledgerState(test);
  const carts = await rowsOf(test, 'agent_cart');
  for (const [name, input] of [
    ['to the cart named', { cartId, productId: gold, quantity: 1 }],
    ['to the default cart', { productId: gold, quantity: 1 }],
  ] as const) {
    const res = await test.gql(ADD_TO_CART, { input }, agent);
    t.equal(res.errors?.[0]?.extensions?.code, 'BAD_USER_INPUT', `a line ${name} making it worth 1000000000000.00: BAD_USER_INPUT`);
    t.same(res.errors?.[0]?.extensions?.fields, { 'input.quantity': 'makes the cart worth more than 999999999999.99' }, `${name}: names the field`);
    t.same(await ledgerState(test), before, `${name}: nothing written`);
    t.same(await rowsOf(test, 'agent_cart'), carts, `${name}: the cart is as it was`);
  }
  const full = await test.gql(ADD_TO_CART, { input: { cartId, productId: gold, quantity: 1, discount: '0.01' } }, agent);
  t.equal(full.errors, undefined, 'a line bringing it to 999999999999.99 exactly is added');
  t.equal(full.data?.addToAgentCart.total, '999999999999.99');

  // A cart past the limit (written before it was checked) still reads, and is refused at checkout.
  await test.sql(`update agent_cart_line set discount = 0 where cart_id = $1`, [cartId]);
  t.same((await test.gql(CART, { id: cartId }, agent)).data?.agentCart?.total, '1000000000000.00', 'its total reads');
  t.same((await test.gql(`{ agentCarts { id total } }`, {}, agent)).data?.agentCarts, [{ id: cartId, total: '1000000000000.00' }], 'as do the open carts');
  const sold = await test.gql(CHECKOUT, { input: { cartId, idempotencyKey: 'too-much' } }, agent);
  t.same(sold.errors?.[0]?.extensions?.fields, { 'input.cartId': 'is worth more than 999999999999.99' }, 'it does not sell');
});
