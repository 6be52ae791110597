import t from 'tap';
import {
  ACCEPT_TRANSFER,
  CREATE_TRANSFER,
  countRows,
  handOver,
  ledgerMismatches,
  ledgerState,
  newAgent,
  newCart,
  newProduct,
  ok,
  onHand,
  REJECT_TRANSFER,
  RETURN,
  rowsOf,
  SEND_TRANSFER,
  setup,
  CHECKOUT,
} from './helpers.ts';

const TRANSFER = /* GraphQL */ `
  query ($id: ID!) { agentTransfer(id: $id) { id status note rejectReason agent { id } createdBy { id } lines { id quantitySent quantityAccepted remaining returns { quantity } product { id } } } }
`;

t.test('transfers: draft, send, accept in part; returns within a line’s remaining', async (t) => {
  const { test, office, agent } = await setup();
  t.teardown(() => test.close());
  const soap = await newProduct(test, office, 'Soap');
  const brush = await newProduct(test, office, 'Brush');

  const created = await test.gql(CREATE_TRANSFER, { input: { agentId: agent.id, note: ' van 3 ', lines: [{ productId: soap, quantity: 6 }, { productId: brush, quantity: 2 }] } }, office);
  t.equal(created.errors, undefined);
  const transfer = created.data.createAgentTransfer;
  t.match(transfer, { status: 'DRAFT', agent: { id: agent.id }, lines: [{ quantitySent: 6, quantityAccepted: null, remaining: 0 }, { quantitySent: 2, quantityAccepted: null, remaining: 0 }] });
  const [soapLine, brushLine] = transfer.lines.map((line: { id: string }) => line.id);

  const early = await test.gql(ACCEPT_TRANSFER, { id: transfer.id, lines: [{ lineId: soapLine, quantityAccepted: 1 }, { lineId: brushLine, quantityAccepted: 1 }] }, agent);
  t.equal(early.errors?.[0]?.extensions?.code, 'CONFLICT', 'a draft cannot be accepted');
  t.equal((await ok(test.gql(SEND_TRANSFER, { id: transfer.id }, office))).sendAgentTransfer.status, 'SENT');
  const [sentState, sentRows] = [await ledgerState(test), await rowsOf(test, 'agent_transfer')];
  const twice = await test.gql(SEND_TRANSFER, { id: transfer.id }, office);
  t.equal(twice.errors?.[0]?.extensions?.code, 'CONFLICT', 'sent once');
  t.same(await ledgerState(test), sentState, 'sent once: nothing written (no second event)');
  t.same(await rowsOf(test, 'agent_transfer'), sentRows, 'sent once: the transfer keeps its first sentAt');
  t.same(await onHand(test, agent, agent.id), {}, 'nothing on hand before acceptance');

  const before = await ledgerState(test);
  const badAccepts: [string, unknown[], Record<string, string>][] = [
    ['more than sent', [{ lineId: soapLine, quantityAccepted: 7 }, { lineId: brushLine, quantityAccepted: 2 }], { 'lines.0.quantityAccepted': 'is more than was sent (6)' }],
    ['a line left out', [{ lineId: soapLine, quantityAccepted: 6 }], { lines: 'must list every line of the transfer (missing 1)' }],
    ['nothing accepted', [{ lineId: soapLine, quantityAccepted: 0 }, { lineId: brushLine, quantityAccepted: 0 }], { lines: 'accept at least one unit, or reject the transfer' }],
    ['a foreign line', [{ lineId: soapLine, quantityAccepted: 1 }, { lineId: brushLine, quantityAccepted: 1 }, { lineId: '0190a5b8-0000-7000-8000-000000000000', quantityAccepted: 1 }], { 'lines.2.lineId': 'is not a line of this transfer' }],
    ['negative', [{ lineId: soapLine, quantityAccepted: -1 }, { lineId: brushLine, quantityAccepted: 1 }], { 'lines.0.quantityAccepted': 'must be >= 0' }],
  ];
  for (const [name, lines, fields] of badAccepts) {
    const res = await test.gql(ACCEPT_TRANSFER, { id: transfer.id, lines }, agent);
    t.equal(res.errors?.[0]?.extensions?.code, 'BAD_USER_INPUT', name);
    t.same(res.errors?.[0]?.extensions?.fields, fields, `${name}: names the field`);
    t.same(await ledgerState(test), before, `${name}: nothing written`);
  }
  const byOffice = await test.gql(ACCEPT_TRANSFER, { id: transfer.id, lines: [{ lineId: soapLine, quantityAccepted: 4 }, { lineId: brushLine, quantityAccepted: 2 }] }, office);
  t.equal(byOffice.errors?.[0]?.extensions?.code, 'FORBIDDEN', 'only the agent takes the goods');

  const accepted = await test.gql(ACCEPT_TRANSFER, { id: transfer.id, lines: [{ lineId: soapLine, quantityAccepted: 4 }, { lineId: brushLine, quantityAccepted: 2 }] }, agent);
  t.equal(accepted.errors, undefined);
  t.match(accepted.data.acceptAgentTransfer, { status: 'PARTIALLY_ACCEPTED', lines: [{ quantityAccepted: 4, remaining: 4 }, { quantityAccepted: 2, remaining: 2 }] });
  t.same(await onHand(test, agent, agent.id), { [soap]: 4, [brush]: 2 });
  const events = await test.sql<{ name: string; payload: any }>(`select name, payload from atrium_event where name like 'agentSales.transfer.%' order by id`);
  t.same(events, [
    { name: 'agentSales.transfer.sent', payload: { transferId: transfer.id, agentId: agent.id } },
    { name: 'agentSales.transfer.accepted', payload: { transferId: transfer.id, agentId: agent.id, status: 'PARTIALLY_ACCEPTED', quantityAccepted: 6 } },
  ]);
  const [decidedState, decidedRows] = [await ledgerState(test), await rowsOf(test, 'agent_transfer')];
  const reject = await test.gql(REJECT_TRANSFER, { id: transfer.id }, agent);
  t.equal(reject.errors?.[0]?.extensions?.code, 'CONFLICT', 'decided once');
  t.same(await ledgerState(test), decidedState, 'decided once: nothing written, the stock accepted stays');
  t.same(await rowsOf(test, 'agent_transfer'), decidedRows, 'decided once: still PARTIALLY_ACCEPTED');

  // Returns: never more than the line's remaining.
  const beforeReturn = await ledgerState(test);
  const tooMany = await test.gql(RETURN, { input: { transferLineId: soapLine, quantity: 5 } }, agent);
  t.equal(tooMany.errors?.[0]?.extensions?.code, 'BAD_USER_INPUT');
  t.same(tooMany.errors?.[0]?.extensions?.fields, { 'input.quantity': "is more than the line's remaining (4)" });
  for (const quantity of [0, -2, 1.5]) {
    const res = await test.gql(RETURN, { input: { transferLineId: soapLine, quantity } }, agent);
    t.equal(res.errors?.[0]?.extensions?.code, 'BAD_USER_INPUT', `quantity ${quantity} refused`);
  }
  t.same(await ledgerState(test), beforeReturn, 'refused returns write nothing');
  const returned = await test.gql(RETURN, { input: { transferLineId: soapLine, quantity: 3 } }, agent);
  t.equal(returned.errors, undefined);
  t.match(returned.data.returnFromAgent, { quantity: 3, productId: soap, transferLine: { id: soapLine, remaining: 1 } });
  const byOfficeReturn = await test.gql(RETURN, { input: { transferLineId: soapLine, quantity: 1 } }, office);
  t.match(byOfficeReturn.data?.returnFromAgent, { transferLine: { remaining: 0 } }, 'the office records returns too');
  const none = await test.gql(RETURN, { input: { transferLineId: soapLine, quantity: 1 } }, agent);
  t.same(none.errors?.[0]?.extensions?.fields, { 'input.quantity': "is more than the line's remaining (0)" });

  // Sold units are not on the line any more either.
  const cartId = await newCart(test, agent, [{ productId: brush, quantity: 2 }]);
  await ok(test.gql(CHECKOUT, { input: { cartId, idempotencyKey: 'b' } }, agent));
  const sold = await test.gql(RETURN, { input: { transferLineId: brushLine, quantity: 1 } }, agent);
  t.same(sold.errors?.[0]?.extensions?.fields, { 'input.quantity': "is more than the line's remaining (0)" }, 'sold goods cannot be returned');

  const read = (await ok(test.gql(TRANSFER, { id: transfer.id }, agent))).agentTransfer;
  t.match(read, { note: 'van 3', createdBy: { id: office.id }, lines: [{ remaining: 0, returns: [{ quantity: 3 }, { quantity: 1 }], product: { id: soap } }, { remaining: 0, returns: [] }] });
  t.equal(await countRows(test, 'atrium_event', `name = 'agentSales.return.recorded'`), 2);
  t.same(await ledgerMismatches(test), { remaining: [], sales: [], refunds: [] });
});

t.test('transfers: rejection, and who may do what', async (t) => {
  const { test, company, office, agent } = await setup();
  t.teardown(() => test.close());
  const other = await newAgent(test, company);
  const soap = await newProduct(test, office, 'Soap');
  const { id } = await handOver(test, office, agent, [{ productId: soap, quantity: 3 }], false);

  const [sentState, sentRows] = [await ledgerState(test), await rowsOf(test, 'agent_transfer')];
  const byOther = await test.gql(REJECT_TRANSFER, { id, reason: 'not mine' }, other);
  t.equal(byOther.errors?.[0]?.extensions?.code, 'NOT_FOUND', "another agent's transfer is not visible");
  t.same(await ledgerState(test), sentState, "another agent's rejection: nothing written");
  t.same(await rowsOf(test, 'agent_transfer'), sentRows, "another agent's rejection: the transfer is still SENT");
  const tooLong = await test.gql(REJECT_TRANSFER, { id, reason: 'x'.repeat(1001) }, agent);
  t.equal(tooLong.errors?.[0]?.extensions?.code, 'BAD_USER_INPUT', 'a reason over 1000 characters');
  t.same(tooLong.errors?.[0]?.extensions?.fields, { reason: 'must NOT have more than 1000 characters' }, 'names the reason');
  t.same(await ledgerState(test), sentState, 'a reason over 1000 characters: nothing written');
  t.same(await rowsOf(test, 'agent_transfer'), sentRows, 'a reason over 1000 characters: the transfer is still SENT');
  const rejected = await test.gql(REJECT_TRANSFER, { id, reason: ' damaged ' }, agent);
  t.match(rejected.data?.rejectAgentTransfer, { status: 'REJECTED', rejectReason: 'damaged' });
  t.same(await onHand(test, agent, agent.id), {});
  t.equal(await countRows(test, 'atrium_event', `name = 'agentSales.transfer.rejected'`), 1);
  t.equal((await ok(test.gql(TRANSFER, { id }, other))).agentTransfer, null, 'hidden from other agents');

  const byAgent = await test.gql(CREATE_TRANSFER, { input: { agentId: agent.id, lines: [{ productId: soap, quantity: 1 }] } }, agent);
  t.equal(byAgent.errors?.[0]?.extensions?.code, 'FORBIDDEN', 'agents do not hand out goods');

  const before = await ledgerState(test);
  const bad: [string, Record<string, unknown>, string][] = [
    ['no lines', { agentId: agent.id, lines: [] }, 'input.lines'],
    ['zero', { agentId: agent.id, lines: [{ productId: soap, quantity: 0 }] }, 'input.lines.0.quantity'],
    ['fraction', { agentId: agent.id, lines: [{ productId: soap, quantity: 2.5 }] }, ''],
    ['repeated product', { agentId: agent.id, lines: [{ productId: soap, quantity: 1 }, { productId: soap, quantity: 1 }] }, 'input.lines.1.productId'],
    ['unknown product', { agentId: agent.id, lines: [{ productId: '0190a5b8-0000-7000-8000-000000000000', quantity: 1 }] }, 'input.lines.0.productId'],
    ['unknown agent', { agentId: '0190a5b8-0000-7000-8000-000000000000', lines: [{ productId: soap, quantity: 1 }] }, 'input.agentId'],
  ];
  for (const [name, input, field] of bad) {
    const res = await test.gql(CREATE_TRANSFER, { input }, office);
    t.equal(res.errors?.[0]?.extensions?.code, 'BAD_USER_INPUT', name);
    if (field) t.ok(res.errors?.[0]?.extensions?.fields?.[field], `${name}: names ${field}`);
    t.same(await ledgerState(test), before, `${name}: nothing written`);
  }
});

t.test('agentStockChanged tells the office and the agent after each change', async (t) => {
  const { test, office, agent } = await setup();
  t.teardown(() => test.close());
  const soap = await newProduct(test, office, 'Soap');
  const QUERY = `subscription ($id: ID!) { agentStockChanged(agentId: $id) { agentId reason stock { productId quantity product { id } } } }`;
  const watching = await test.subscribe(QUERY, { id: agent.id }, { token: office.token });
  const own = await test.subscribe(QUERY, { id: agent.id }, { token: agent.token });
  const { lineIds } = await handOver(test, office, agent, [{ productId: soap, quantity: 3 }]);
  const accepted = { agentStockChanged: { agentId: agent.id, reason: 'TRANSFER_ACCEPTED', stock: [{ productId: soap, quantity: 3, product: { id: soap } }] } };
  t.same((await watching.next()).data, accepted);
  t.same((await own.next()).data, accepted);

  const cartId = await newCart(test, agent, [{ productId: soap, quantity: 3 }]);
  const refused = await newCart(test, agent, [{ productId: soap, quantity: 9 }]);
  await test.gql(CHECKOUT, { input: { cartId: refused, idempotencyKey: 'no' } }, agent);
  const sale = (await ok(test.gql(CHECKOUT, { input: { cartId, idempotencyKey: 'yes' } }, agent))).checkoutAgentCart;
  t.same((await watching.next()).data?.agentStockChanged, { agentId: agent.id, reason: 'SALE', stock: [{ productId: soap, quantity: 0, product: { id: soap } }] }, 'the refused checkout published nothing');
  await ok(test.gql(`mutation ($id: ID!) { refundAgentSale(id: $id) { id } }`, { id: sale.id }, office));
  t.match((await watching.next()).data?.agentStockChanged, { reason: 'REFUND', stock: [{ quantity: 3 }] });
  await ok(test.gql(RETURN, { input: { transferLineId: lineIds[0], quantity: 1 } }, office));
  t.match((await watching.next()).data?.agentStockChanged, { reason: 'RETURN', stock: [{ quantity: 2 }] });
  await watching.close();
  await own.close();
});
