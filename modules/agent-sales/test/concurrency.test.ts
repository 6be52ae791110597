import t from 'tap';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { createTestApp, createTestDatabase, type TestApp, postgresOnly } from '@atrium/core/testing';
import { ADD_TO_CART, CHECKOUT, handOver, ledgerMismatches, modules, newCart, newAgent, newProduct, onHand, RETURN } from './helpers.ts';

/** Two instances of one app on one database, as a load balancer would see them. */
async function twoInstances(t: { teardown(fn: () => unknown): void }): Promise<[TestApp, TestApp]> {
  const database = await createTestDatabase(modules);
  t.teardown(() => database.drop());
  const platformKey = randomBytes(24).toString('base64url');
  const config = { logLevel: 'error' as const, auth: { jwtSecret: randomBytes(48).toString('base64url') } };
  const a = await createTestApp({ modules, database, platformKey, config });
  t.teardown(() => a.close());
  const b = await createTestApp({ modules, database, platformKey, config });
  t.teardown(() => b.close());
  return [a, b];
}

/**
 * An app on a database of its own, and a session of the test's own on that database that holds a
 * cart's row locked (`hold`, until `release`), with a wait until `n` sessions queue behind it —
 * directly, or behind one that waits for it.
 */
async function appWithCartHolder(t: { teardown(fn: () => unknown): void }) {
  const database = await createTestDatabase(modules);
  t.teardown(() => database.drop());
  const test = await createTestApp({ modules, database, config: { logLevel: 'error' } });
  t.teardown(() => test.close());
  const holder = new pg.Client({ connectionString: database.target.driver === 'postgresql' ? database.target.url : '' });
  await holder.connect();
  t.teardown(() => holder.end());
  const holderPid = (await holder.query<{ pid: number }>('select pg_backend_pid() as pid')).rows[0]!.pid;
  const control = {
    async hold(cartId: string): Promise<void> {
      await holder.query('begin');
      await holder.query('select id from agent_cart where id = $1 for update', [cartId]);
    },
    async release(): Promise<void> {
      await holder.query('commit');
    },
    async queued(n: number): Promise<void> {
      for (;;) {
        const [row] = await test.sql<{ n: number }>(
          `select count(*)::int as n from pg_stat_activity a
            where $1 = any(pg_blocking_pids(a.pid))
               or exists (select from pg_stat_activity w where $1 = any(pg_blocking_pids(w.pid)) and w.pid = any(pg_blocking_pids(a.pid)))`,
          [holderPid],
        );
        if (row!.n >= n) return;
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    },
  };
  return { test, holder: control };
}

t.test('3 units on hand, 10 concurrent checkouts of 1 across two instances: exactly 3 sell, FIFO', { skip: postgresOnly }, async (t) => {
  const [a, b] = await twoInstances(t);
  const company = await a.createCompany();
  const office = company.owner;
  const agent = await newAgent(a, company);
  const soap = await newProduct(a, office, 'Soap', '4');
  const older = await handOver(a, office, agent, [{ productId: soap, quantity: 2 }]);
  const newer = await handOver(b, office, agent, [{ productId: soap, quantity: 1 }]);
  const carts = [];
  for (let i = 0; i < 10; i += 1) carts.push(await newCart(a, agent, [{ productId: soap, quantity: 1 }]));

  const results = await Promise.all(carts.map((cartId, i) => (i % 2 ? b : a).gql(CHECKOUT, { input: { cartId, idempotencyKey: `race-${i}` } }, agent)));
  const sold = results.filter((r) => !r.errors);
  t.equal(sold.length, 3, 'exactly 3 succeed');
  t.same(
    results.filter((r) => r.errors).map((r) => [r.errors?.[0]?.extensions?.code, r.errors?.[0]?.extensions?.shortfalls]),
    Array(7).fill(['INSUFFICIENT_STOCK', [{ productId: soap, requested: 1, available: 0, shortfall: 1 }]]),
    'the other 7 are refused for stock',
  );
  t.same(await onHand(a, office, agent.id), {}, 'on hand 0');
  t.same(await a.sql('select remaining from agent_transfer_line order by accepted_at, id'), [{ remaining: 0 }, { remaining: 0 }]);
  const [sums] = await a.sql<{ sold: number; allocated: number; sales: number }>(`
    select (select sum(quantity)::int from agent_sale_line) as sold, (select sum(quantity)::int from agent_allocation) as allocated, (select count(*)::int from agent_sale) as sales`);
  t.same(sums, { sold: 3, allocated: 3, sales: 3 }, 'allocations sum to the sales');
  const order = await a.sql<{ transfer_line_id: string }>('select transfer_line_id from agent_allocation order by created_at, id');
  t.same(
    order.map((row) => row.transfer_line_id),
    [older.lineIds[0], older.lineIds[0], newer.lineIds[0]],
    'taken in FIFO order: the older layer emptied before the newer was touched',
  );
  t.same(await ledgerMismatches(a), { remaining: [], sales: [], refunds: [] });
  t.equal(Number((await a.sql<{ n: number }>(`select count(*)::int as n from atrium_event where name = 'agentSales.sale.completed'`))[0]!.n), 3, 'one event per sale');
});

t.test('an idempotency key repeated at once makes one sale; reused for other carts, one wins', { skip: postgresOnly }, async (t) => {
  const [a, b] = await twoInstances(t);
  const company = await a.createCompany();
  const office = company.owner;
  const agent = await newAgent(a, company);
  const soap = await newProduct(a, office, 'Soap');
  await handOver(a, office, agent, [{ productId: soap, quantity: 20 }]);

  const cartId = await newCart(a, agent, [{ productId: soap, quantity: 2 }]);
  const repeats = await Promise.all(Array.from({ length: 8 }, (_, i) => (i % 2 ? b : a).gql(CHECKOUT, { input: { cartId, idempotencyKey: 'same' } }, agent)));
  t.same(repeats.map((r) => r.errors), Array(8).fill(undefined), 'every repeat answers');
  t.equal(new Set(repeats.map((r) => r.data.checkoutAgentCart.id)).size, 1, 'with the one sale');
  t.same(await a.sql(`select count(*)::int as n from agent_sale where idempotency_key = 'same'`), [{ n: 1 }]);

  const others = [];
  for (let i = 0; i < 6; i += 1) others.push(await newCart(a, agent, [{ productId: soap, quantity: 1 }]));
  const raced = await Promise.all(others.map((id, i) => (i % 2 ? b : a).gql(CHECKOUT, { input: { cartId: id, idempotencyKey: 'shared' } }, agent)));
  t.equal(raced.filter((r) => !r.errors).length, 1, 'one cart sells under the key');
  t.same(raced.filter((r) => r.errors).map((r) => r.errors?.[0]?.extensions?.code), Array(5).fill('CONFLICT'), 'the others conflict');
  t.same(await onHand(a, office, agent.id), { [soap]: 17 }, 'sold 2 + 1');
  t.same(await ledgerMismatches(a), { remaining: [], sales: [], refunds: [] });
});

t.test('carts naming products in opposite orders, and returns racing checkouts: no deadlock, no oversell', { skip: postgresOnly }, async (t) => {
  const [a, b] = await twoInstances(t);
  const company = await a.createCompany();
  const office = company.owner;
  const agent = await newAgent(a, company);
  const soap = await newProduct(a, office, 'Soap');
  const brush = await newProduct(a, office, 'Brush');
  // Interleaved layers: soap, brush, soap, brush — in acceptance order.
  for (const productId of [soap, brush, soap, brush]) await handOver(a, office, agent, [{ productId, quantity: 3 }]);
  const carts = [];
  for (let i = 0; i < 6; i += 1) {
    const lines = [
      { productId: soap, quantity: 1 },
      { productId: brush, quantity: 1 },
    ];
    carts.push(await newCart(a, agent, i % 2 ? lines.reverse() : lines));
  }
  const checkouts = await Promise.all(carts.map((cartId, i) => (i % 2 ? b : a).gql(CHECKOUT, { input: { cartId, idempotencyKey: `x-${i}` } }, agent)));
  t.same(checkouts.map((r) => r.errors), Array(6).fill(undefined), 'all 6 carts sell (6 of each product on hand): none deadlocks');
  t.same(await onHand(a, office, agent.id), {}, 'nothing left');

  // One layer of 5: five returns of 1 and five checkouts of 1 race; exactly five win.
  const last = await handOver(a, office, agent, [{ productId: soap, quantity: 5 }]);
  const more = [];
  for (let i = 0; i < 5; i += 1) more.push(await newCart(a, agent, [{ productId: soap, quantity: 1 }]));
  const [sales, returns] = await Promise.all([
    Promise.all(more.map((cartId, i) => (i % 2 ? b : a).gql(CHECKOUT, { input: { cartId, idempotencyKey: `y-${i}` } }, agent))),
    Promise.all(more.map((_, i) => (i % 2 ? a : b).gql(RETURN, { input: { transferLineId: last.lineIds[0], quantity: 1 } }, office))),
  ]);
  const won = [...sales, ...returns].filter((r) => !r.errors).length;
  t.equal(won, 5, 'five units, five successes');
  t.ok(sales.every((r) => !r.errors || r.errors[0]?.extensions?.code === 'INSUFFICIENT_STOCK'), 'checkouts that lost are refused for stock');
  t.ok(returns.every((r) => !r.errors || r.errors[0]?.extensions?.code === 'BAD_USER_INPUT'), "returns that lost are refused as beyond the line's remaining");
  t.same(await a.sql('select remaining from agent_transfer_line where id = $1', [last.lineIds[0]]), [{ remaining: 0 }]);
  t.same(await ledgerMismatches(a), { remaining: [], sales: [], refunds: [] });
});

t.test('a line added or removed while a checkout waits for the cart is sold as it then is', { skip: postgresOnly }, async (t) => {
  const { test, holder } = await appWithCartHolder(t);
  const company = await test.createCompany();
  const office = company.owner;
  const agent = await newAgent(test, company);
  const soap = await newProduct(test, office, 'Soap');
  const brush = await newProduct(test, office, 'Brush');
  await handOver(test, office, agent, [
    { productId: soap, quantity: 5 },
    { productId: brush, quantity: 5 },
  ]);
  /** Another session holds the cart; `change`, then a checkout, queue behind it, in that order. */
  const behind = async (cartId: string, key: string, change: () => Promise<{ errors?: unknown[] }>) => {
    await holder.hold(cartId);
    const changing = change();
    await holder.queued(1);
    const checkingOut = test.gql(CHECKOUT, { input: { cartId, idempotencyKey: key } }, agent);
    await holder.queued(2);
    await holder.release();
    const [changed, sold] = await Promise.all([changing, checkingOut]);
    t.equal(changed.errors, undefined, 'the change, first in the queue, commits');
    t.equal(sold.errors, undefined, 'the checkout, behind it, sells');
    return (sold.data.checkoutAgentCart.lines as { productId: string; quantity: number }[]).map((line) => [line.productId, line.quantity]);
  };

  const added = await newCart(test, agent, [{ productId: soap, quantity: 1 }]);
  const addedLines = await behind(added, 'behind-an-add', () => test.gql(ADD_TO_CART, { input: { cartId: added, productId: brush, quantity: 2 } }, agent));
  t.same(addedLines.sort(), [[soap, 1], [brush, 2]].sort(), 'the line added while it waited is sold too');

  const removed = await newCart(test, agent, [
    { productId: soap, quantity: 1 },
    { productId: brush, quantity: 1 },
  ]);
  const [brushLine] = await test.sql<{ id: string }>('select id from agent_cart_line where cart_id = $1 and product_id = $2', [removed, brush]);
  const removedLines = await behind(removed, 'behind-a-removal', () => test.gql(`mutation ($id: ID!) { removeFromAgentCart(lineId: $id) { id } }`, { id: brushLine!.id }, agent));
  t.same(removedLines, [[soap, 1]], 'the line removed while it waited is not');

  t.same(await onHand(test, office, agent.id), { [soap]: 3, [brush]: 3 });
  t.same(await ledgerMismatches(test), { remaining: [], sales: [], refunds: [] });
});

t.test("a key repeated while the agent's default cart is locked answers the one sale, the cart not named", { skip: postgresOnly }, async (t) => {
  const { test, holder } = await appWithCartHolder(t);
  const company = await test.createCompany();
  const office = company.owner;
  const agent = await newAgent(test, company);
  const soap = await newProduct(test, office, 'Soap');
  await handOver(test, office, agent, [{ productId: soap, quantity: 5 }]);
  const cartId = await newCart(test, agent, [{ productId: soap, quantity: 1 }]);
  // Both read "no sale with this key" before they wait; the one served second finds the cart sold.
  await holder.hold(cartId);
  const first = test.gql(CHECKOUT, { input: { idempotencyKey: 'default-cart' } }, agent);
  await holder.queued(1);
  const repeat = test.gql(CHECKOUT, { input: { idempotencyKey: 'default-cart' } }, agent);
  await holder.queued(2);
  await holder.release();
  const answers = await Promise.all([first, repeat]);
  t.same(answers.map((r) => r.errors), [undefined, undefined], 'both answer');
  t.equal(new Set(answers.map((r) => r.data.checkoutAgentCart.id)).size, 1, 'with the one sale');
});
