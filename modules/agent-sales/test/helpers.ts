import { createTestApp, type TestApp, type TestCompany, type TestDatabase, type TestUser } from '@atrium/core/testing';
import crm from '@atrium/crm';
import agentSales from '@atrium/agent-sales';

export const modules = [crm, agentSales];

/** A test app with the CRM and agent sales (optionally on an existing database: a second instance). */
export function agentSalesApp(database?: TestDatabase): Promise<TestApp> {
  return createTestApp({ modules, config: { logLevel: 'error' }, ...(database ? { database } : {}) });
}

/** A test app, a company (its OWNER is the office) and one agent. */
export async function setup(): Promise<{ test: TestApp; company: TestCompany; office: TestUser; agent: TestUser }> {
  const test = await agentSalesApp();
  const company = await test.createCompany();
  const agent = await newAgent(test, company);
  return { test, company, office: company.owner, agent };
}

/** A MEMBER who sells: agentSales.sale.create (and the contacts they sell to). */
export const newAgent = (test: TestApp, company: TestCompany, permissions = ['agentSales.sale.create', 'crm.contact.read']) =>
  test.createUser({ company, permissions, displayName: 'Agent' });

/** Fails loudly when a setup call did not succeed. */
export async function ok(promise: Promise<{ data?: any; errors?: unknown[] }>): Promise<any> {
  const res = await promise;
  if (res.errors?.length || !res.data) throw new Error(JSON.stringify(res.errors));
  return res.data;
}

/** Counts rows of a table (optionally with a where clause): bad input must leave counts unchanged. */
export async function countRows(test: TestApp, table: string, where = 'true', params: unknown[] = []): Promise<number> {
  const [row] = await test.sql<{ count: number }>(`select count(*)::int as count from ${table} where ${where}`, params);
  return row!.count;
}

export const LEDGER_TABLES = [
  'agent_transfer',
  'agent_transfer_line',
  'agent_return',
  'agent_cart',
  'agent_cart_line',
  'agent_sale',
  'agent_sale_line',
  'agent_allocation',
  'agent_refund',
  'agent_refund_line',
  'agent_refund_allocation',
  'atrium_event',
];

/** Row counts of every table the module writes (and the outbox), plus the sum of remaining: a refused mutation changes none. */
export async function ledgerState(test: TestApp): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const table of LEDGER_TABLES) counts[table] = await countRows(test, table);
  const [row] = await test.sql<{ remaining: number }>('select coalesce(sum(remaining), 0)::int as remaining from agent_transfer_line');
  counts.remaining = row!.remaining;
  return counts;
}

/** Every row of a table, in id order: a refused change of status (a transfer sent, a cart's lines) leaves them as they were, which counts do not show. */
export const rowsOf = (test: TestApp, table: string): Promise<unknown[]> => test.sql(`select * from ${table} order by id`);

/**
 * Lines whose running `remaining` differs from its derivation from the ledger rows
 * (accepted − returned − allocated + refunded), and sale or refund lines whose allocations do not add
 * up to their quantity: all three lists must be empty.
 */
export async function ledgerMismatches(test: TestApp): Promise<{ remaining: unknown[]; sales: unknown[]; refunds: unknown[] }> {
  const remaining = await test.sql(`
    select l.id, l.remaining, coalesce(l.qty_accepted, 0) - coalesce(r.q, 0) - coalesce(a.q, 0) + coalesce(ra.q, 0) as derived
      from agent_transfer_line l
      left join (select transfer_line_id, sum(quantity)::int as q from agent_return group by 1) r on r.transfer_line_id = l.id
      left join (select transfer_line_id, sum(quantity)::int as q from agent_allocation group by 1) a on a.transfer_line_id = l.id
      left join (select transfer_line_id, sum(quantity)::int as q from agent_refund_allocation group by 1) ra on ra.transfer_line_id = l.id
     where l.remaining <> coalesce(l.qty_accepted, 0) - coalesce(r.q, 0) - coalesce(a.q, 0) + coalesce(ra.q, 0)`);
  const sales = await test.sql(`
    select sl.id, sl.quantity, coalesce(sum(a.quantity), 0)::int as allocated
      from agent_sale_line sl left join agent_allocation a on a.sale_line_id = sl.id
     group by sl.id having sl.quantity <> coalesce(sum(a.quantity), 0)`);
  const refunds = await test.sql(`
    select rl.id, rl.quantity, coalesce(sum(ra.quantity), 0)::int as restored
      from agent_refund_line rl left join agent_refund_allocation ra on ra.refund_line_id = rl.id
     group by rl.id having rl.quantity <> coalesce(sum(ra.quantity), 0)`);
  return { remaining, sales, refunds };
}

export const CREATE_PRODUCT = /* GraphQL */ `
  mutation ($input: CreateProductInput!) { createProduct(input: $input) { id } }
`;
export const CREATE_TRANSFER = /* GraphQL */ `
  mutation ($input: CreateAgentTransferInput!) {
    createAgentTransfer(input: $input) { id status agent { id } lines { id productId quantitySent quantityAccepted remaining } }
  }
`;
export const SEND_TRANSFER = /* GraphQL */ `
  mutation ($id: ID!) { sendAgentTransfer(id: $id) { id status sentAt } }
`;
export const ACCEPT_TRANSFER = /* GraphQL */ `
  mutation ($id: ID!, $lines: [AcceptAgentTransferLineInput!]!) {
    acceptAgentTransfer(id: $id, lines: $lines) { id status decidedAt lines { id quantitySent quantityAccepted acceptedAt remaining } }
  }
`;
export const REJECT_TRANSFER = /* GraphQL */ `
  mutation ($id: ID!, $reason: String) { rejectAgentTransfer(id: $id, reason: $reason) { id status rejectReason } }
`;
export const RETURN = /* GraphQL */ `
  mutation ($input: ReturnFromAgentInput!) { returnFromAgent(input: $input) { id quantity productId transferLine { id remaining } } }
`;
export const ON_HAND = /* GraphQL */ `
  query ($agentId: ID!) { agentOnHand(agentId: $agentId) { productId quantity product { id name } } }
`;
export const OPEN_CART = /* GraphQL */ `
  mutation { openAgentCart { id status } }
`;
export const ADD_TO_CART = /* GraphQL */ `
  mutation ($input: AddToAgentCartInput!) { addToAgentCart(input: $input) { id status total lines { id productId quantity unitPrice discount total } } }
`;
export const SALE_FIELDS = /* GraphQL */ `
  id agentId idempotencyKey total status customer { id }
  lines { id productId quantity unitPrice discount total refundedQuantity allocations { transferLine { id } quantity } }
  allocations { transferLine { id } quantity }
`;
export const CHECKOUT = /* GraphQL */ `
  mutation ($input: CheckoutAgentCartInput!) { checkoutAgentCart(input: $input) { ${SALE_FIELDS} } }
`;
export const REFUND = /* GraphQL */ `
  mutation ($id: ID!, $lines: [RefundAgentSaleLineInput!]) {
    refundAgentSale(id: $id, lines: $lines) { ${SALE_FIELDS} refunds { id total lines { saleLineId quantity amount } } }
  }
`;
export const ANALYTICS = /* GraphQL */ `
  query ($agentId: ID!, $from: DateTime!, $to: DateTime!) {
    agentAnalytics(agentId: $agentId, from: $from, to: $to) {
      agent { id }
      products { productId transferred accepted returned sold refunded onHand }
      salesByProduct { productId quantity revenue }
      salesByDay { day sales quantity revenue }
      topProducts(limit: 3) { productId quantity revenue }
      transfers { transferId transferred accepted returned sold refunded remaining }
    }
  }
`;

export async function newProduct(test: TestApp, office: TestUser, name: string, price = '10'): Promise<string> {
  const data = await ok(test.gql(CREATE_PRODUCT, { input: { name, sku: `${name.replace(/\W/g, '')}-${Math.random().toString(36).slice(2, 8)}`, unit: 'pcs', price } }, office));
  return data.createProduct.id;
}

/** Creates, sends and (unless `accept` is false) accepts a transfer whole; answers its line ids in order. */
export async function handOver(
  test: TestApp,
  office: TestUser,
  agent: TestUser,
  lines: { productId: string; quantity: number }[],
  accept: boolean | number[] = true,
): Promise<{ id: string; lineIds: string[] }> {
  const created = (await ok(test.gql(CREATE_TRANSFER, { input: { agentId: agent.id, lines } }, office))).createAgentTransfer;
  await ok(test.gql(SEND_TRANSFER, { id: created.id }, office));
  const lineIds: string[] = created.lines.map((line: { id: string }) => line.id);
  if (accept !== false) {
    const quantities = accept === true ? lines.map((line) => line.quantity) : accept;
    await ok(test.gql(ACCEPT_TRANSFER, { id: created.id, lines: lineIds.map((lineId, i) => ({ lineId, quantityAccepted: quantities[i] })) }, agent));
  }
  return { id: created.id, lineIds };
}

/** A new cart of the agent's holding the lines; answers its id. */
export async function newCart(test: TestApp, agent: TestUser, lines: { productId: string; quantity: number; unitPrice?: string; discount?: string }[]): Promise<string> {
  const cartId = (await ok(test.gql(OPEN_CART, {}, agent))).openAgentCart.id;
  for (const line of lines) await ok(test.gql(ADD_TO_CART, { input: { cartId, ...line } }, agent));
  return cartId;
}

export const onHand = async (test: TestApp, user: TestUser, agentId: string): Promise<Record<string, number>> =>
  Object.fromEntries((await ok(test.gql(ON_HAND, { agentId }, user))).agentOnHand.map((s: { productId: string; quantity: number }) => [s.productId, s.quantity]));
