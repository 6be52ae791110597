import t from 'tap';
import { setTimeout as sleep } from 'node:timers/promises';
import type { TestUser } from '@atrium/core/testing';
import {
  ACCEPT_TRANSFER,
  ADD_TO_CART,
  ANALYTICS,
  CHECKOUT,
  CREATE_TRANSFER,
  ledgerMismatches,
  ledgerState,
  newAgent,
  newProduct,
  ok,
  onHand,
  OPEN_CART,
  REFUND,
  REJECT_TRANSFER,
  RETURN,
  SEND_TRANSFER,
  setup,
} from './helpers.ts';

/** mulberry32: a tiny seeded PRNG, so that a failing sequence replays exactly. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let r = Math.imul(a ^ (a >>> 15), 1 | a);
    r = (r + Math.imul(r ^ (r >>> 7), 61 | r)) ^ r;
    return ((r ^ (r >>> 14)) >>> 0) / 4294967296;
  };
}

const SEED = 20261121;
const OPERATIONS = 200;

interface Layer {
  id: string;
  transferId: string;
  agentId: string;
  productId: string;
  acceptedAt: string;
  remaining: number;
}
interface Flow {
  transferred: number;
  accepted: number;
  returned: number;
  sold: number;
  refunded: number;
}
interface SaleLine {
  id: string;
  productId: string;
  quantity: number;
  refunded: number;
  allocations: { layerId: string; quantity: number; undone: number }[];
}

/** What the ledger must say, kept by the test alone from the operations it ran. */
class Model {
  layers: Layer[] = [];
  flows = new Map<string, Flow>();
  revenue = new Map<string, number>();
  sales: { id: string; agentId: string; lines: SaleLine[] }[] = [];
  transfers = new Map<string, { transferId: string; agentId: string; flow: Flow }>();

  flow(agentId: string, productId: string): Flow {
    const key = `${agentId}/${productId}`;
    if (!this.flows.has(key)) this.flows.set(key, { transferred: 0, accepted: 0, returned: 0, sold: 0, refunded: 0 });
    return this.flows.get(key)!;
  }

  transferFlow(transferId: string, agentId: string): Flow {
    if (!this.transfers.has(transferId)) this.transfers.set(transferId, { transferId, agentId, flow: { transferred: 0, accepted: 0, returned: 0, sold: 0, refunded: 0 } });
    return this.transfers.get(transferId)!.flow;
  }

  /** The agent's layers of a product, oldest first: acceptance time, then id. */
  fifo(agentId: string, productId: string): Layer[] {
    return this.layers
      .filter((layer) => layer.agentId === agentId && layer.productId === productId)
      .sort((x, y) => (x.acceptedAt < y.acceptedAt ? -1 : x.acceptedAt > y.acceptedAt ? 1 : x.id < y.id ? -1 : 1));
  }

  onHand(agentId: string): Record<string, number> {
    const held: Record<string, number> = {};
    for (const layer of this.layers) if (layer.agentId === agentId && layer.remaining > 0) held[layer.productId] = (held[layer.productId] ?? 0) + layer.remaining;
    return held;
  }
}

t.test(`analytics reconcile with the ledger and a model after ${OPERATIONS} random operations (seed ${SEED})`, async (t) => {
  const random = mulberry32(SEED);
  const int = (min: number, max: number) => min + Math.floor(random() * (max - min + 1));
  const pick = <T>(items: T[]): T => items[Math.floor(random() * items.length)]!;

  const { test, company, office, agent } = await setup();
  t.teardown(() => test.close());
  const agents: TestUser[] = [agent, await newAgent(test, company)];
  const prices = ['2.50', '4.00', '9.99'];
  const products: string[] = [];
  for (const [i, price] of prices.entries()) products.push(await newProduct(test, office, `Product ${i}`, price));
  const priceOf = (productId: string) => Math.round(Number(prices[products.indexOf(productId)]) * 100);

  const model = new Model();
  const pending: { id: string; agent: TestUser; lines: { id: string; productId: string; quantity: number }[] }[] = [];
  const counts: Record<string, number> = {};
  let checkpoint: { at: Date; flows: Map<string, Flow>; onHand: Record<string, number>[] } | undefined;

  const expectRefused = async (name: string, run: () => Promise<{ errors?: any[] }>, code: string) => {
    const before = await ledgerState(test);
    const res = await run();
    t.equal(res.errors?.[0]?.extensions?.code, code, `${name}: ${code}`);
    t.same(await ledgerState(test), before, `${name}: nothing written`);
    return res;
  };

  for (let step = 0; step < OPERATIONS; step += 1) {
    if (step === OPERATIONS / 2) {
      await sleep(5);
      checkpoint = {
        at: new Date(),
        flows: new Map([...model.flows].map(([key, flow]) => [key, { ...flow }])),
        onHand: agents.map((a) => model.onHand(a.id)),
      };
      await sleep(5);
    }
    const roll = random();
    const seller = pick(agents);
    if (roll < 0.22 || (!pending.length && model.layers.length === 0)) {
      counts.transfer = (counts.transfer ?? 0) + 1;
      const chosen = [...products].sort(() => random() - 0.5).slice(0, int(1, 2));
      const lines = chosen.map((productId) => ({ productId, quantity: int(1, 6) }));
      const created = (await ok(test.gql(CREATE_TRANSFER, { input: { agentId: seller.id, lines } }, office))).createAgentTransfer;
      await ok(test.gql(SEND_TRANSFER, { id: created.id }, office));
      for (const line of lines) {
        model.flow(seller.id, line.productId).transferred += line.quantity;
        model.transferFlow(created.id, seller.id).transferred += line.quantity;
      }
      pending.push({ id: created.id, agent: seller, lines: created.lines.map((l: any) => ({ id: l.id, productId: l.productId, quantity: l.quantitySent })) });
    } else if (roll < 0.4 && pending.length) {
      const transfer = pending.splice(int(0, pending.length - 1), 1)[0]!;
      if (random() < 0.15) {
        counts.reject = (counts.reject ?? 0) + 1;
        await ok(test.gql(REJECT_TRANSFER, { id: transfer.id, reason: 'no room' }, transfer.agent));
        continue;
      }
      counts.accept = (counts.accept ?? 0) + 1;
      const quantities = transfer.lines.map((line) => (random() < 0.7 ? line.quantity : int(0, line.quantity)));
      if (!quantities.some((q) => q > 0)) quantities[0] = 1;
      const accepted = (await ok(test.gql(ACCEPT_TRANSFER, { id: transfer.id, lines: transfer.lines.map((line, i) => ({ lineId: line.id, quantityAccepted: quantities[i] })) }, transfer.agent)))
        .acceptAgentTransfer;
      accepted.lines.forEach((line: any, i: number) => {
        const productId = transfer.lines[i]!.productId;
        model.flow(transfer.agent.id, productId).accepted += line.quantityAccepted;
        model.transferFlow(transfer.id, transfer.agent.id).accepted += line.quantityAccepted;
        model.layers.push({ id: line.id, transferId: transfer.id, agentId: transfer.agent.id, productId, acceptedAt: line.acceptedAt, remaining: line.quantityAccepted });
      });
    } else if (roll < 0.52 && model.layers.some((layer) => layer.remaining > 0)) {
      const layer = pick(model.layers.filter((l) => l.remaining > 0));
      const owner = agents.find((a) => a.id === layer.agentId)!;
      if (random() < 0.2) {
        counts.badReturn = (counts.badReturn ?? 0) + 1;
        await expectRefused('return beyond remaining', () => test.gql(RETURN, { input: { transferLineId: layer.id, quantity: layer.remaining + 1 } }, owner), 'BAD_USER_INPUT');
        continue;
      }
      counts.return = (counts.return ?? 0) + 1;
      const quantity = int(1, layer.remaining);
      await ok(test.gql(RETURN, { input: { transferLineId: layer.id, quantity } }, random() < 0.5 ? owner : office));
      layer.remaining -= quantity;
      model.flow(layer.agentId, layer.productId).returned += quantity;
      model.transferFlow(layer.transferId, layer.agentId).returned += quantity;
    } else if (roll < 0.85) {
      const lines = Array.from({ length: int(1, 3) }, () => ({ productId: pick(products), quantity: int(1, 4) }));
      const cartId = (await ok(test.gql(OPEN_CART, {}, seller))).openAgentCart.id;
      for (const line of lines) await ok(test.gql(ADD_TO_CART, { input: { cartId, ...line } }, seller));
      const needed = new Map<string, number>();
      for (const line of lines) needed.set(line.productId, (needed.get(line.productId) ?? 0) + line.quantity);
      const shortfalls = [...needed]
        .map(([productId, requested]) => {
          const available = model.fifo(seller.id, productId).reduce((sum, layer) => sum + layer.remaining, 0);
          return { productId, requested, available, shortfall: requested - available };
        })
        .filter((s) => s.shortfall > 0);
      const input = { cartId, idempotencyKey: `step-${step}` };
      if (shortfalls.length) {
        counts.short = (counts.short ?? 0) + 1;
        const res = await expectRefused('checkout beyond stock', () => test.gql(CHECKOUT, { input }, seller), 'INSUFFICIENT_STOCK');
        t.same(res.errors?.[0]?.extensions?.shortfalls, shortfalls, 'the shortfalls the model predicts');
        continue;
      }
      counts.sale = (counts.sale ?? 0) + 1;
      const sale = (await ok(test.gql(CHECKOUT, { input }, seller))).checkoutAgentCart;
      const saleLines: SaleLine[] = [];
      lines.forEach((line, i) => {
        const allocations: SaleLine['allocations'] = [];
        let left = line.quantity;
        for (const layer of model.fifo(seller.id, line.productId)) {
          const take = Math.min(left, layer.remaining);
          if (take === 0) continue;
          layer.remaining -= take;
          left -= take;
          allocations.push({ layerId: layer.id, quantity: take, undone: 0 });
          model.transferFlow(layer.transferId, seller.id).sold += take;
        }
        const got = sale.lines[i].allocations.map((a: any) => ({ layerId: a.transferLine.id, quantity: a.quantity }));
        t.same(got, allocations.map(({ layerId, quantity }) => ({ layerId, quantity })), `step ${step}: line ${i} allocated FIFO`);
        model.flow(seller.id, line.productId).sold += line.quantity;
        model.revenue.set(`${seller.id}/${line.productId}`, (model.revenue.get(`${seller.id}/${line.productId}`) ?? 0) + line.quantity * priceOf(line.productId));
        saleLines.push({ id: sale.lines[i].id, productId: line.productId, quantity: line.quantity, refunded: 0, allocations });
      });
      model.sales.push({ id: sale.id, agentId: seller.id, lines: saleLines });
    } else {
      const refundable = model.sales.filter((s) => s.lines.some((l) => l.refunded < l.quantity));
      if (!refundable.length) continue;
      const sale = pick(refundable);
      const seller2 = agents.find((a) => a.id === sale.agentId)!;
      const whole = random() < 0.4;
      const plan = whole
        ? sale.lines.filter((l) => l.refunded < l.quantity).map((l) => ({ line: l, quantity: l.quantity - l.refunded }))
        : [pick(sale.lines.filter((l) => l.refunded < l.quantity))].map((l) => ({ line: l, quantity: int(1, l.quantity - l.refunded) }));
      if (!whole && random() < 0.2) {
        counts.badRefund = (counts.badRefund ?? 0) + 1;
        const line = plan[0]!.line;
        await expectRefused('refund beyond sold', () => test.gql(REFUND, { id: sale.id, lines: [{ saleLineId: line.id, quantity: line.quantity - line.refunded + 1 }] }, office), 'BAD_USER_INPUT');
        continue;
      }
      counts.refund = (counts.refund ?? 0) + 1;
      await ok(test.gql(REFUND, whole ? { id: sale.id } : { id: sale.id, lines: plan.map((p) => ({ saleLineId: p.line.id, quantity: p.quantity })) }, random() < 0.5 ? office : seller2));
      for (const { line, quantity } of plan) {
        line.refunded += quantity;
        model.flow(sale.agentId, line.productId).refunded += quantity;
        // Newest layer first.
        const order = model.fifo(sale.agentId, line.productId).map((layer) => layer.id);
        let left = quantity;
        for (const allocation of [...line.allocations].sort((x, y) => order.indexOf(y.layerId) - order.indexOf(x.layerId))) {
          const back = Math.min(left, allocation.quantity - allocation.undone);
          if (back <= 0) continue;
          allocation.undone += back;
          left -= back;
          const layer = model.layers.find((l) => l.id === allocation.layerId)!;
          layer.remaining += back;
          model.transferFlow(layer.transferId, sale.agentId).refunded += back;
        }
      }
    }
  }
  t.comment(`operations: ${JSON.stringify(counts)}`);
  t.ok((counts.sale ?? 0) > 20 && (counts.refund ?? 0) > 5 && (counts.return ?? 0) > 5 && (counts.short ?? 0) > 3, 'the sequence exercised every kind of operation');

  t.same(await ledgerMismatches(test), { remaining: [], sales: [], refunds: [] }, 'the running remaining equals its derivation from the ledger rows, line by line');
  const everything = { from: '2000-01-01T00:00:00Z', to: '2100-01-01T00:00:00Z' };
  for (const [index, seller] of agents.entries()) {
    t.same(await onHand(test, office, seller.id), model.onHand(seller.id), `agent ${index}: agentOnHand matches the model`);
    const analytics = (await ok(test.gql(ANALYTICS, { agentId: seller.id, ...everything }, office))).agentAnalytics;
    const expected = products
      .map((productId) => ({ productId, ...model.flow(seller.id, productId), onHand: model.onHand(seller.id)[productId] ?? 0 }))
      .filter((row) => row.transferred || row.onHand);
    t.same(analytics.products, expected.sort((x, y) => (x.productId < y.productId ? -1 : 1)), `agent ${index}: flows per product match the model`);
    const sales = products
      .map((productId) => ({ productId, quantity: model.flow(seller.id, productId).sold, cents: model.revenue.get(`${seller.id}/${productId}`) ?? 0 }))
      .filter((row) => row.quantity > 0)
      .sort((x, y) => y.cents - x.cents || y.quantity - x.quantity || (x.productId < y.productId ? -1 : 1))
      .map(({ cents, ...row }) => ({ ...row, revenue: (cents / 100).toFixed(2) }));
    t.same(analytics.salesByProduct, sales, `agent ${index}: sales by product`);
    t.same(analytics.topProducts, sales.slice(0, 3), `agent ${index}: top products`);
    const sold = model.sales.filter((s) => s.agentId === seller.id);
    t.same(
      analytics.salesByDay.reduce((sum: any, d: any) => ({ sales: sum.sales + d.sales, quantity: sum.quantity + d.quantity }), { sales: 0, quantity: 0 }),
      { sales: sold.length, quantity: sold.flatMap((s) => s.lines).reduce((sum, l) => sum + l.quantity, 0) },
      `agent ${index}: sales by day add up`,
    );
    const transfers = [...model.transfers.values()]
      .filter((row) => row.agentId === seller.id)
      .map(({ transferId, flow }) => ({
        transferId,
        ...flow,
        remaining: model.layers.filter((l) => l.transferId === transferId).reduce((sum, l) => sum + l.remaining, 0),
      }))
      .filter((row) => row.accepted > 0)
      .sort((x, y) => (x.transferId < y.transferId ? -1 : 1));
    t.same(analytics.transfers, transfers, `agent ${index}: per-transfer remaining`);

    // The two halves of the run, split at the checkpoint.
    const before = (await ok(test.gql(ANALYTICS, { agentId: seller.id, from: everything.from, to: checkpoint!.at.toISOString() }, office))).agentAnalytics;
    const after = (await ok(test.gql(ANALYTICS, { agentId: seller.id, from: checkpoint!.at.toISOString(), to: everything.to }, office))).agentAnalytics;
    const held = checkpoint!.onHand[index]!;
    t.same(
      Object.fromEntries(before.products.filter((p: any) => p.onHand).map((p: any) => [p.productId, p.onHand])),
      held,
      `agent ${index}: on hand at the checkpoint, derived from the ledger`,
    );
    for (const productId of products) {
      const then = checkpoint!.flows.get(`${seller.id}/${productId}`) ?? { transferred: 0, accepted: 0, returned: 0, sold: 0, refunded: 0 };
      const now = model.flow(seller.id, productId);
      const row = after.products.find((p: any) => p.productId === productId);
      const moved = { transferred: now.transferred - then.transferred, accepted: now.accepted - then.accepted, returned: now.returned - then.returned, sold: now.sold - then.sold, refunded: now.refunded - then.refunded };
      if (Object.values(moved).some(Boolean) || row) {
        t.same(row && { transferred: row.transferred, accepted: row.accepted, returned: row.returned, sold: row.sold, refunded: row.refunded }, moved, `agent ${index}: second-half flows of a product`);
      }
    }
  }
});
