/**
 * Scenario 4's data. Users and products are made once through Atrium's GraphQL API (a company, an
 * "Agent" role granting `agentSales.sale.create`, 32 agents, 5 products). What every run sells —
 * accepted transfer lines (the FIFO layers) and open one-line carts — is written with SQL straight
 * into the module's tables, in the shape the module itself writes (an ACCEPTED transfer per layer,
 * `remaining` = accepted), and deleted again after the run. Historical sales (for the latency-versus-
 * history runs) are written with SQL too, dated in the year 2000, consistent with the ledger.
 */
import type pg from 'pg';
import { gql, inParallel } from './nested-seed.ts';

/** Agents seeded: one per client at the highest concurrency (spread runs give each client its own). */
export const AGENTS = 32;
/** Units per cart (one line): not a divisor of the layer sizes, so that sales straddle layers. */
export const QTY = 3;
/** Products of the spread runs; every spread agent holds layers of each. */
export const SPREAD_PRODUCTS = 4;
/** Layers of the hot product per run, and of each agent's product in spread runs. */
const HOT_LAYERS = 8;
const SPREAD_LAYERS = 3;
/** Rows written by a run are newer than this; historical ones older (so a reset keeps history). */
export const HISTORY_BEFORE = '2001-01-01T00:00:00Z';

export interface Fixture {
  companyId: string;
  agents: { id: string; token: string }[];
  hotProductId: string;
  spreadProductIds: string[];
}

export type Shape = 'hot' | 'spread';

/** One run's carts: `carts[client]` in the order that client checks them out. */
export interface RunPlan {
  shape: Shape;
  clients: number;
  carts: string[][];
  /** Checkouts that must succeed (the stock covers exactly these); the other `clients` must be refused. */
  expectedSales: number;
  /** The agents whose ledger the run touches. */
  agentIds: string[];
}

const SIGN_UP = 'mutation ($input: SignUpInput!) { signUp(input: $input) { accessToken } }';
const PASSWORD = 'bench-password-123';

export async function seedFixture(url: string): Promise<Fixture> {
  const owner = (await gql<{ signUp: { accessToken: string } }>(url, SIGN_UP, {
    input: { companyName: 'Bench FIFO Ltd', email: 'owner@fifo.example.com', password: PASSWORD, displayName: 'FIFO owner' },
  })).signUp.accessToken;
  const as = <Data>(query: string, variables?: Record<string, unknown>) => gql<Data>(url, query, variables, owner);
  const { company } = await as<{ company: { id: string } }>('{ company { id } }');
  const roleId = (await as<{ createRole: { id: string } }>('mutation ($input: CreateRoleInput!) { createRole(input: $input) { id } }', {
    input: { name: 'Agent', permissions: ['agentSales.sale.create'] },
  })).createRole.id;
  const agents = await inParallel(Array.from({ length: AGENTS }, (_, i) => i), 4, async (i) => {
    const email = `agent-${i}@fifo.example.com`;
    const id = (await as<{ createUser: { id: string } }>('mutation ($input: CreateUserInput!) { createUser(input: $input) { id } }', {
      input: { email, password: PASSWORD, displayName: `Agent ${i}`, systemRole: 'MEMBER', roleIds: [roleId] },
    })).createUser.id;
    const login = await gql<{ login: { accessToken: string } }>(url, 'mutation ($input: LoginInput!) { login(input: $input) { accessToken } }', { input: { email, password: PASSWORD } });
    return { id, token: login.login.accessToken };
  });
  const product = async (name: string) =>
    (await as<{ createProduct: { id: string } }>('mutation ($input: CreateProductInput!) { createProduct(input: $input) { id } }', {
      input: { name, sku: name.toUpperCase(), price: '2.50', unit: 'pcs' },
    })).createProduct.id;
  const hotProductId = await product('hot-soap');
  const spreadProductIds = [];
  for (let p = 0; p < SPREAD_PRODUCTS; p++) spreadProductIds.push(await product(`spread-${p}`));
  return { companyId: company.id, agents, hotProductId, spreadProductIds };
}

/** Splits `units` into `count` uneven positive parts (sizes 2:3:4:… roughly), so allocations cross layers at odd places. */
function layerSizes(units: number, count: number): number[] {
  if (units <= 0) return [];
  const parts = Math.min(count, units);
  const weights = Array.from({ length: parts }, (_, i) => 2 + (i % 3));
  const total = weights.reduce((a, b) => a + b, 0);
  const sizes = weights.map((w) => Math.max(1, Math.floor((units * w) / total)));
  sizes[sizes.length - 1]! += units - sizes.reduce((a, b) => a + b, 0);
  // The first layer never holds whole carts: at least one sale takes from two layers.
  if (parts > 1 && sizes[0]! % QTY === 0 && sizes.at(-1)! > 1) {
    sizes[0]! += 1;
    sizes[sizes.length - 1]! -= 1;
  }
  return sizes;
}

/** The bench's own table: which cart each pgbench client sells at its k-th transaction. */
export const QUEUE_DDL = 'create table if not exists bench_fifo_queue (client int not null, k int not null, cart_id uuid not null, primary key (client, k))';

/**
 * Writes a run's layers and carts. `checkouts` carts in all, `clients` queues of equal length. Hot:
 * every client sells as agent 0, one product. Spread: client i sells as agent i, cycling through the
 * spread products. The stock is the carts' units less one cart per client, so exactly `clients`
 * checkouts (the last ones to get the lock) must be refused.
 */
export async function seedRun(db: pg.Client, fixture: Fixture, shape: Shape, clients: number, checkouts: number): Promise<RunPlan> {
  const perClient = checkouts / clients;
  if (!Number.isInteger(perClient) || perClient < 2) throw new Error(`${checkouts} checkouts do not split over ${clients} clients`);
  const agentOf = (client: number) => fixture.agents[shape === 'hot' ? 0 : client]!.id;
  const productOf = (client: number, k: number) => (shape === 'hot' ? fixture.hotProductId : fixture.spreadProductIds[(client + k) % SPREAD_PRODUCTS]!);

  // Units per (agent, product): the carts' demand, less the last cart of each client (hot: `clients` carts).
  const demand = new Map<string, { agentId: string; productId: string; units: number }>();
  const cartRows: { client: number; k: number; agentId: string; productId: string }[] = [];
  for (let client = 0; client < clients; client++) {
    for (let k = 1; k <= perClient; k++) {
      const agentId = agentOf(client);
      const productId = productOf(client, k);
      cartRows.push({ client, k, agentId, productId });
      const key = `${agentId}/${productId}`;
      const entry = demand.get(key) ?? { agentId, productId, units: 0 };
      entry.units += k === perClient ? 0 : QTY;
      demand.set(key, entry);
    }
  }
  const layers: { agentId: string; productId: string; size: number }[] = [];
  for (const { agentId, productId, units } of demand.values()) {
    for (const size of layerSizes(units, shape === 'hot' ? HOT_LAYERS : SPREAD_LAYERS)) layers.push({ agentId, productId, size });
  }

  // One accepted transfer per layer; acceptance times a millisecond apart in layer order (the FIFO order).
  await db.query(
    `with input as (
       select gen_random_uuid() as transfer_id, gen_random_uuid() as line_id, agent_id, product_id, size, n
         from unnest($2::uuid[], $3::uuid[], $4::int[]) with ordinality as t(agent_id, product_id, size, n)
     ), transfers as (
       insert into agent_transfer (id, company_id, agent_id, status, created_at, sent_at, decided_at)
       select transfer_id, $1, agent_id, 'ACCEPTED', now(), now(), now() + n * interval '1 millisecond' from input
     )
     insert into agent_transfer_line (id, company_id, transfer_id, agent_id, product_id, position, qty_sent, qty_accepted, accepted_at, remaining)
     select line_id, $1, transfer_id, agent_id, product_id, 0, size, size, now() + n * interval '1 millisecond', size from input`,
    [fixture.companyId, layers.map((l) => l.agentId), layers.map((l) => l.productId), layers.map((l) => l.size)],
  );
  // Carts oldest first in queue order, one line each at the product's price.
  const { rows } = await db.query<{ client: number; k: number; cart_id: string }>(
    `with input as (
       select gen_random_uuid() as cart_id, client, k, agent_id, product_id, n
         from unnest($2::int[], $3::int[], $4::uuid[], $5::uuid[]) with ordinality as t(client, k, agent_id, product_id, n)
     ), carts as (
       insert into agent_cart (id, company_id, agent_id, status, created_at)
       select cart_id, $1, agent_id, 'OPEN', now() + n * interval '1 microsecond' from input
     ), lines as (
       insert into agent_cart_line (id, company_id, cart_id, product_id, quantity, unit_price, discount, created_at)
       select gen_random_uuid(), $1, cart_id, product_id, $6, 2.50, 0, now() + n * interval '1 microsecond' from input
     )
     insert into bench_fifo_queue (client, k, cart_id) select client, k, cart_id from input returning client, k, cart_id`,
    [fixture.companyId, cartRows.map((c) => c.client), cartRows.map((c) => c.k), cartRows.map((c) => c.agentId), cartRows.map((c) => c.productId), QTY],
  );
  const carts = Array.from({ length: clients }, () => new Array<string>(perClient));
  for (const row of rows) carts[row.client]![row.k - 1] = row.cart_id;
  return { shape, clients, carts, expectedSales: checkouts - clients, agentIds: [...new Set(cartRows.map((c) => c.agentId))] };
}

/** Deletes what a run wrote (layers, carts, sales, the queue), keeping the seeded history. */
export async function resetRun(db: pg.Client): Promise<void> {
  await db.query('begin');
  await db.query('delete from agent_allocation where created_at >= $1', [HISTORY_BEFORE]);
  await db.query('delete from agent_sale_line where sale_id in (select id from agent_sale where created_at >= $1)', [HISTORY_BEFORE]);
  await db.query('delete from agent_sale where created_at >= $1', [HISTORY_BEFORE]);
  await db.query('delete from agent_cart_line where created_at >= $1', [HISTORY_BEFORE]);
  await db.query('delete from agent_cart where created_at >= $1', [HISTORY_BEFORE]);
  await db.query('delete from agent_transfer_line where accepted_at >= $1', [HISTORY_BEFORE]);
  await db.query('delete from agent_transfer where created_at >= $1', [HISTORY_BEFORE]);
  await db.query('truncate bench_fifo_queue');
  await db.query('commit');
}

/** Units per historical sale, and historical sales per (fully sold) layer. */
const HISTORY_QTY = 2;
const SALES_PER_LAYER = 50;

/**
 * Adds historical sales of agent 0's hot product, numbered `from` to `to` − 1, as the module would
 * have written them: per 50 sales a transfer of 100 units accepted and sold out (`remaining` 0), and
 * per sale a checked-out cart with its line, the sale, its line and one allocation, all dated in 2000
 * (a second apart). Ids derive from the number so that sales, lines and layers link up.
 */
export async function seedHistory(db: pg.Client, fixture: Fixture, from: number, to: number): Promise<void> {
  if (to <= from) return;
  if (from % SALES_PER_LAYER || to % SALES_PER_LAYER) throw new Error(`history is seeded in steps of ${SALES_PER_LAYER} sales`);
  const agentId = fixture.agents[0]!.id;
  const layers = [from / SALES_PER_LAYER, to / SALES_PER_LAYER - 1];
  const at = `timestamptz '2000-01-01' + n * interval '1 second'`;
  // A layer is accepted a second before its first sale.
  const acceptedAt = `timestamptz '2000-01-01' + (l * ${SALES_PER_LAYER} - 1) * interval '1 second'`;
  await db.query('begin');
  await db.query(
    `insert into agent_transfer (id, company_id, agent_id, status, created_at, sent_at, decided_at)
     select md5('h-transfer-' || l)::uuid, $1, $2, 'ACCEPTED', ${acceptedAt}, ${acceptedAt}, ${acceptedAt} from generate_series($3::int, $4::int) as l`,
    [fixture.companyId, agentId, ...layers],
  );
  await db.query(
    `insert into agent_transfer_line (id, company_id, transfer_id, agent_id, product_id, position, qty_sent, qty_accepted, accepted_at, remaining)
     select md5('h-layer-' || l)::uuid, $1, md5('h-transfer-' || l)::uuid, $2, $3, 0, $6, $6, ${acceptedAt}, 0 from generate_series($4::int, $5::int) as l`,
    [fixture.companyId, agentId, fixture.hotProductId, ...layers, SALES_PER_LAYER * HISTORY_QTY],
  );
  await db.query(
    `insert into agent_cart (id, company_id, agent_id, status, created_at, checked_out_at)
     select md5('h-cart-' || n)::uuid, $1, $2, 'CHECKED_OUT', ${at}, ${at} from generate_series($3::int, $4::int - 1) as n`,
    [fixture.companyId, agentId, from, to],
  );
  await db.query(
    `insert into agent_cart_line (id, company_id, cart_id, product_id, quantity, unit_price, discount, created_at)
     select md5('h-cart-line-' || n)::uuid, $1, md5('h-cart-' || n)::uuid, $2, $5::int, 2.50, 0, ${at} from generate_series($3::int, $4::int - 1) as n`,
    [fixture.companyId, fixture.hotProductId, from, to, HISTORY_QTY],
  );
  await db.query(
    `insert into agent_sale (id, company_id, agent_id, cart_id, idempotency_key, total, status, created_at)
     select md5('h-sale-' || n)::uuid, $1, $2, md5('h-cart-' || n)::uuid, 'history-' || n, 2.50 * $5::int, 'COMPLETED', ${at} from generate_series($3::int, $4::int - 1) as n`,
    [fixture.companyId, agentId, from, to, HISTORY_QTY],
  );
  await db.query(
    `insert into agent_sale_line (id, company_id, sale_id, product_id, position, quantity, unit_price, discount, total)
     select md5('h-sale-line-' || n)::uuid, $1, md5('h-sale-' || n)::uuid, $2, 0, $5::int, 2.50, 0, 2.50 * $5::int from generate_series($3::int, $4::int - 1) as n`,
    [fixture.companyId, fixture.hotProductId, from, to, HISTORY_QTY],
  );
  await db.query(
    `insert into agent_allocation (id, company_id, sale_line_id, transfer_line_id, quantity, created_at)
     select md5('h-allocation-' || n)::uuid, $1, md5('h-sale-line-' || n)::uuid, md5('h-layer-' || (n / $4::int))::uuid, $5::int, ${at}
       from generate_series($2::int, $3::int - 1) as n`,
    [fixture.companyId, from, to, SALES_PER_LAYER, HISTORY_QTY],
  );
  await db.query('commit');
  // The planner sees the new sizes, as autovacuum would soon after such growth.
  await db.query('vacuum analyze agent_transfer, agent_transfer_line, agent_cart, agent_cart_line, agent_sale, agent_sale_line, agent_allocation');
}
