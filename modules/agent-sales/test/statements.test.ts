import t from 'tap';
import { postgresOnly } from '@atrium/core/testing';
import { CHECKOUT, handOver, ledgerMismatches, newCart, newProduct, ok, setup } from './helpers.ts';

/** What scenario 4 of the benchmark asks of each checkout. */
const BENCH_CHECKOUT = /* GraphQL */ `mutation ($input: CheckoutAgentCartInput!) {
  checkoutAgentCart(input: $input) { id total allocations { quantity transferLine { id } } }
}`;

const STOCK = `subscription ($id: ID!) { agentStockChanged(agentId: $id) { agentId reason stock { productId quantity } } }`;

t.test('a checkout is one transaction: no read after commit, for the stock event or the response', async (t) => {
  const { test, office, agent } = await setup();
  t.teardown(() => test.close());
  const soap = await newProduct(test, office, 'Soap', '2.50');
  const brush = await newProduct(test, office, 'Brush', '4');
  const first = await handOver(test, office, agent, [
    { productId: soap, quantity: 5 },
    { productId: brush, quantity: 2 },
  ]);
  const second = await handOver(test, office, agent, [{ productId: soap, quantity: 5 }]);
  const watching = await test.subscribe(STOCK, { id: agent.id }, { token: office.token });
  const cartId = await newCart(test, agent, [
    { productId: soap, quantity: 7 },
    { productId: brush, quantity: 2 },
  ]);

  let res: any;
  const statements = await test.statements(async () => (res = await test.gql(BENCH_CHECKOUT, { input: { cartId, idempotencyKey: 'k' } }, agent)));
  if (process.env.SHOW_SQL) console.log(statements.join('\n'));
  t.equal(res.errors, undefined);
  t.same(
    res.data.checkoutAgentCart.allocations,
    [
      { quantity: 5, transferLine: { id: first.lineIds[0] } },
      { quantity: 2, transferLine: { id: second.lineIds[0] } },
      { quantity: 2, transferLine: { id: first.lineIds[1] } },
    ],
    'FIFO, answered from what the checkout wrote',
  );
  // The row-level security scope once (one transaction); the key, the cart's lock and its lines; the
  // sale: the layers' lock, the sale, its lines, the allocations, the layers' remaining, the cart and the event.
  t.equal(statements.filter((sql) => /^(select set_config|set local role)/.test(sql)).length, 1, 'one transaction');
  t.equal(statements.length, 3, '3 statements (4 before, 6 before that, 11 through the unit of work before that, 19 in 5 transactions before that)', { statements });
  t.ok(/agent_cart_line/.test(statements[1]!) && /for update/.test(statements[1]!), "the cart's lock reads its lines");
  t.ok(/^with line as/.test(statements[2]!) && /for update/.test(statements[2]!), 'the layers are locked by the last one only');
  if (!postgresOnly) t.match(statements[2], /; commit$/, 'which carries the commit: the layers stay locked for one message');
  t.same((await watching.next()).data?.agentStockChanged, {
    agentId: agent.id,
    reason: 'SALE',
    stock: [
      { productId: soap, quantity: 3 },
      { productId: brush, quantity: 0 },
    ],
  }, 'the new on hand, a product sold out as 0');
  await watching.close();

  // The same sale read back: what the checkout answered from memory is what the database holds.
  const read = (await ok(test.gql(`query ($id: ID!) { agentSale(id: $id) { id total allocations { quantity transferLine { id } } } }`, { id: res.data.checkoutAgentCart.id }, agent))).agentSale;
  t.same(read, res.data.checkoutAgentCart);
  // Allocations written in one statement share its clock: their ids alone keep the order taken.
  const byId = await test.sql<{ transfer_line_id: string; quantity: number }>(
    'select a.transfer_line_id, a.quantity from agent_allocation a join agent_sale_line l on l.id = a.sale_line_id where l.sale_id = $1 order by a.id',
    [res.data.checkoutAgentCart.id],
  );
  t.same(byId.map((row) => ({ quantity: row.quantity, transferLine: { id: row.transfer_line_id } })), res.data.checkoutAgentCart.allocations, 'ids in the order taken');
  t.same(await ledgerMismatches(test), { remaining: [], sales: [], refunds: [] });
});

t.test('a refused checkout keeps none of what it wrote before the stock check', async (t) => {
  const { test, office, agent } = await setup();
  t.teardown(() => test.close());
  const soap = await newProduct(test, office, 'Soap');
  await handOver(test, office, agent, [{ productId: soap, quantity: 1 }]);
  const cartId = await newCart(test, agent, [{ productId: soap, quantity: 2 }]);
  const refused = await test.gql(CHECKOUT, { input: { cartId, idempotencyKey: 'k' } }, agent);
  t.equal(refused.errors?.[0]?.extensions?.code, 'INSUFFICIENT_STOCK');
  t.same(await test.sql('select status, checked_out_at from agent_cart where id = $1', [cartId]), [{ status: 'OPEN', checked_out_at: null }]);
  t.same(await test.sql(`select count(*)::int as n from agent_sale`), [{ n: 0 }]);
  t.same(await test.sql(`select count(*)::int as n from agent_sale_line`), [{ n: 0 }]);
  t.same(await test.sql(`select count(*)::int as n from atrium_event where name = 'agentSales.sale.completed'`), [{ n: 0 }]);
});
