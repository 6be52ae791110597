import t from 'tap';
import { assertTenantIsolation, postgresOnly, type TestApp, type TestUser } from '@atrium/core/testing';
import { countRows, CREATE_CONTACT, crmApp } from './helpers.ts';

const STAGES = 'stages { id name position probability }';
const PIPELINES = `{ pipelines { id name ${STAGES} } }`;
const PIPELINE = `query ($id: ID!) { pipeline(id: $id) { id name ${STAGES} } }`;
const CREATE_PIPELINE = `mutation ($input: CreatePipelineInput!) { createPipeline(input: $input) { id name ${STAGES} } }`;
const UPDATE_PIPELINE = `mutation ($id: ID!, $input: UpdatePipelineInput!) { updatePipeline(id: $id, input: $input) { id name ${STAGES} } }`;
const DEAL_FIELDS = `id title amount currency status lostReason expectedCloseDate closedAt createdAt updatedAt
  contact { id name } owner { id } branch { id } pipeline { id name } stage { id name }
  history { fromStage { name } toStage { name } changedBy { id } changedAt }`;
const CREATE_DEAL = `mutation ($input: CreateDealInput!) { createDeal(input: $input) { ${DEAL_FIELDS} } }`;
const UPDATE_DEAL = `mutation ($id: ID!, $input: UpdateDealInput!) { updateDeal(id: $id, input: $input) { ${DEAL_FIELDS} } }`;
const MOVE_DEAL = `mutation ($id: ID!, $stageId: ID!) { moveDeal(id: $id, stageId: $stageId) { ${DEAL_FIELDS} } }`;
const WIN_DEAL = `mutation ($id: ID!) { winDeal(id: $id) { ${DEAL_FIELDS} } }`;
const LOSE_DEAL = `mutation ($id: ID!, $reason: String) { loseDeal(id: $id, reason: $reason) { ${DEAL_FIELDS} } }`;
const REOPEN_DEAL = `mutation ($id: ID!) { reopenDeal(id: $id) { ${DEAL_FIELDS} } }`;
const DEAL = `query ($id: ID!) { deal(id: $id) { ${DEAL_FIELDS} } }`;
const DEALS = /* GraphQL */ `
  query Deals($first: Int, $after: String, $filter: DealFilter) {
    deals(first: $first, after: $after, filter: $filter) {
      totalCount
      edges { cursor node { id title status stage { name } } }
      pageInfo { hasNextPage endCursor }
    }
  }
`;
const BOARD = /* GraphQL */ `
  query Board($pipelineId: ID!, $dealsPerStage: Int, $status: DealStatus) {
    pipelineBoard(pipelineId: $pipelineId, dealsPerStage: $dealsPerStage, status: $status) {
      pipeline { id name }
      columns {
        stage { id name }
        totalCount
        totalAmount
        totals { currency amount count }
        deals { id title amount contact { name } owner { id } branch { id } stage { name } pipeline { name } history { toStage { name } changedBy { id } } }
      }
    }
  }
`;

type Pipeline = { id: string; name: string; stages: { id: string; name: string; position: number; probability: number | null }[] };

/** The rows a refused mutation must leave as they are. */
async function counts(test: TestApp) {
  const tables = ['crm_pipeline', 'crm_pipeline_stage', 'crm_deal', 'crm_deal_stage_change', 'crm_contact_activity', 'atrium_event'];
  const rows: Record<string, number> = {};
  for (const table of tables) rows[table] = await countRows(test, table);
  return rows;
}

const salesOf = async (test: TestApp, user: TestUser): Promise<Pipeline> => (await test.gql(PIPELINES, {}, user)).data.pipelines[0];
const codeOf = (res: { errors?: { extensions?: { code?: string } }[] }) => res.errors?.[0]?.extensions?.code;
const fieldsOf = (res: { errors?: { extensions?: { fields?: Record<string, string> } }[] }) => Object.keys(res.errors?.[0]?.extensions?.fields ?? {});

t.test('deals: the contract end to end', async (t) => {
  const { test, company } = await crmApp();
  t.teardown(() => test.close());
  const owner = company.owner;

  const sales = await salesOf(test, owner);
  t.match(sales, { name: 'Sales' }, 'a new company starts with the default pipeline');
  t.same(
    sales.stages.map(({ name, position, probability }) => ({ name, position, probability })),
    [
      { name: 'Lead', position: 0, probability: 10 },
      { name: 'Qualified', position: 1, probability: 25 },
      { name: 'Proposal', position: 2, probability: 50 },
      { name: 'Negotiation', position: 3, probability: 75 },
    ],
  );
  const [lead, qualified, proposal] = sales.stages;
  const contact = (await test.gql(CREATE_CONTACT, { input: { name: 'Alice' } }, owner)).data.createContact;

  const created = await test.gql(
    CREATE_DEAL,
    { input: { title: ' Big order ', pipelineId: sales.id, contactId: contact.id, amount: '1500.5', currency: 'eur', expectedCloseDate: '2026-12-31' } },
    owner,
  );
  t.equal(created.errors, undefined);
  const deal = created.data.createDeal;
  t.match(deal, {
    title: 'Big order',
    amount: '1500.50',
    currency: 'EUR',
    status: 'OPEN',
    lostReason: null,
    expectedCloseDate: '2026-12-31',
    closedAt: null,
    contact: { id: contact.id, name: 'Alice' },
    owner: { id: owner.id },
    branch: { id: company.defaultBranchId },
    pipeline: { id: sales.id, name: 'Sales' },
    stage: { id: lead!.id, name: 'Lead' },
    history: [{ fromStage: null, toStage: { name: 'Lead' }, changedBy: { id: owner.id } }],
  });
  const [createdEvent] = await test.sql<{ payload: unknown }>(`select payload from atrium_event where name = 'crm.deal.created'`);
  t.same(createdEvent?.payload, { dealId: deal.id, pipelineId: sales.id, stageId: lead!.id });

  t.test('moveDeal records the move in the history and emits crm.deal.stageChanged', async (t) => {
    const moved = await test.gql(MOVE_DEAL, { id: deal.id, stageId: proposal!.id }, owner);
    t.equal(moved.errors, undefined);
    t.equal(moved.data.moveDeal.stage.name, 'Proposal');
    t.same(
      moved.data.moveDeal.history.map((h: any) => [h.fromStage?.name ?? null, h.toStage.name, h.changedBy.id]),
      [
        [null, 'Lead', owner.id],
        ['Lead', 'Proposal', owner.id],
      ],
    );
    const rows = await test.sql<{ from_stage_id: string | null; to_stage_id: string }>('select from_stage_id, to_stage_id from crm_deal_stage_change where deal_id = $1 order by changed_at, id', [deal.id]);
    t.same(rows, [
      { from_stage_id: null, to_stage_id: lead!.id },
      { from_stage_id: lead!.id, to_stage_id: proposal!.id },
    ]);
    const events = await test.sql<{ payload: unknown }>(`select payload from atrium_event where name = 'crm.deal.stageChanged'`);
    t.same(events.map((e) => e.payload), [{ dealId: deal.id, pipelineId: sales.id, fromStageId: lead!.id, toStageId: proposal!.id }]);

    const same = await test.gql(MOVE_DEAL, { id: deal.id, stageId: proposal!.id }, owner);
    t.equal(same.data.moveDeal.history.length, 2, 'moving to the stage it is in changes nothing');

    const timeline = await test.sql<{ kind: string; title: string; subject_id: string }>(
      'select kind, title, subject_id from crm_contact_activity where contact_id = $1 order by occurred_at, id',
      [contact.id],
    );
    t.same(timeline, [
      { kind: 'crm.deal.created', title: 'Deal "Big order" opened in Lead', subject_id: deal.id },
      { kind: 'crm.deal.stageChanged', title: 'Deal "Big order" moved from Lead to Proposal', subject_id: deal.id },
    ]);
  });

  t.test('updateDeal edits fields; a null clears contact, owner and date', async (t) => {
    const updated = await test.gql(UPDATE_DEAL, { id: deal.id, input: { title: 'Bigger order', amount: '2000', ownerId: null, expectedCloseDate: null } }, owner);
    t.equal(updated.errors, undefined);
    t.match(updated.data.updateDeal, { title: 'Bigger order', amount: '2000.00', owner: null, expectedCloseDate: null, contact: { id: contact.id }, stage: { name: 'Proposal' } });
    const [row] = await test.sql<{ amount: string; owner_id: string | null }>('select amount::text, owner_id from crm_deal where id = $1', [deal.id]);
    t.same(row, { amount: '2000.00', owner_id: null });
  });

  t.test('win, lose and reopen', async (t) => {
    const won = await test.gql(WIN_DEAL, { id: deal.id }, owner);
    t.match(won.data.winDeal, { status: 'WON', closedAt: /Z$/ });
    const before = await counts(test);
    const move = await test.gql(MOVE_DEAL, { id: deal.id, stageId: lead!.id }, owner);
    t.equal(codeOf(move), 'BAD_USER_INPUT', 'a closed deal is not moved');
    t.same(fieldsOf(move), ['id']);
    const lose = await test.gql(LOSE_DEAL, { id: deal.id, reason: 'x' }, owner);
    t.equal(codeOf(lose), 'BAD_USER_INPUT', 'a won deal is reopened before it is lost');
    t.same(await counts(test), before, 'refusals write nothing');
    t.equal((await test.gql(WIN_DEAL, { id: deal.id }, owner)).data.winDeal.status, 'WON', 'winning a won deal changes nothing');
    t.same(await counts(test), before);

    const reopened = await test.gql(REOPEN_DEAL, { id: deal.id }, owner);
    t.match(reopened.data.reopenDeal, { status: 'OPEN', closedAt: null, stage: { name: 'Proposal' } });
    const lost = await test.gql(LOSE_DEAL, { id: deal.id, reason: ' Too expensive ' }, owner);
    t.match(lost.data.loseDeal, { status: 'LOST', lostReason: 'Too expensive', closedAt: /Z$/ });

    const events = await test.sql<{ name: string; payload: unknown }>(`select name, payload from atrium_event where name in ('crm.deal.won', 'crm.deal.lost') order by occurred_at, id`);
    t.same(events, [
      { name: 'crm.deal.won', payload: { dealId: deal.id, pipelineId: sales.id } },
      { name: 'crm.deal.lost', payload: { dealId: deal.id, pipelineId: sales.id, reason: 'Too expensive' } },
    ]);
    const timeline = await test.sql<{ kind: string }>(`select kind from crm_contact_activity where contact_id = $1 and kind in ('crm.deal.won', 'crm.deal.lost') order by occurred_at, id`, [contact.id]);
    t.same(timeline.map((row) => row.kind), ['crm.deal.won', 'crm.deal.lost']);
    await test.gql(REOPEN_DEAL, { id: deal.id }, owner);
  });

  t.test('deals lists, filters and pages', async (t) => {
    for (const title of ['Alpha 50%_off', 'Beta', 'Gamma']) await test.gql(CREATE_DEAL, { input: { title, pipelineId: sales.id, stageId: qualified!.id } }, owner);
    const all = await test.gql(DEALS, { first: 2 }, owner);
    t.equal(all.data.deals.totalCount, 4);
    t.same(all.data.deals.edges.map((e: any) => e.node.title), ['Gamma', 'Beta'], 'newest first');
    const next = await test.gql(DEALS, { first: 2, after: all.data.deals.pageInfo.endCursor }, owner);
    t.same(next.data.deals.edges.map((e: any) => e.node.title), ['Alpha 50%_off', 'Bigger order']);
    t.equal(next.data.deals.pageInfo.hasNextPage, false);
    const byStage = await test.gql(DEALS, { filter: { stageId: qualified!.id } }, owner);
    t.equal(byStage.data.deals.totalCount, 3);
    const byContact = await test.gql(DEALS, { filter: { contactId: contact.id, status: 'OPEN' } }, owner);
    t.same(byContact.data.deals.edges.map((e: any) => e.node.title), ['Bigger order']);
    const search = async (text: string) => (await test.gql(DEALS, { filter: { search: text } }, owner)).data.deals.edges.map((e: any) => e.node.title);
    t.same(await search('ALP'), ['Alpha 50%_off']);
    t.same(await search('%_'), ['Alpha 50%_off'], '% and _ match themselves');
    t.same(await search('order'), ['Bigger order']);
    t.equal(codeOf(await test.gql(DEALS, { first: 101 }, owner)), 'BAD_USER_INPUT');
    const badFilter = await test.gql(DEALS, { filter: { stageId: 'nope' } }, owner);
    t.equal(codeOf(badFilter), 'BAD_USER_INPUT');
    t.same(fieldsOf(badFilter), ['filter.stageId']);
  });

  t.test('the board groups the open deals by stage with counts and totals', async (t) => {
    await test.gql(CREATE_DEAL, { input: { title: 'Euro', pipelineId: sales.id, stageId: qualified!.id, amount: '10.25', currency: 'EUR' } }, owner);
    await test.gql(CREATE_DEAL, { input: { title: 'Dollar', pipelineId: sales.id, stageId: qualified!.id, amount: '0.75' } }, owner);
    const board = await test.gql(BOARD, { pipelineId: sales.id, dealsPerStage: 2 }, owner);
    t.equal(board.errors, undefined);
    const columns = board.data.pipelineBoard.columns;
    t.same(columns.map((c: any) => c.stage.name), ['Lead', 'Qualified', 'Proposal', 'Negotiation']);
    const q = columns[1];
    t.same(q.deals.map((d: any) => d.title), ['Dollar', 'Euro'], 'the newest dealsPerStage of the stage');
    t.equal(q.totalCount, 5, 'the count covers the whole stage');
    t.equal(q.totalAmount, '11.00');
    t.same(q.totals, [
      { currency: 'EUR', amount: '10.25', count: 1 },
      { currency: 'USD', amount: '0.75', count: 4 },
    ]);
    t.same(columns[2].deals.map((d: any) => d.title), ['Bigger order']);
    t.match(columns[2].deals[0], { contact: { name: 'Alice' }, stage: { name: 'Proposal' }, pipeline: { name: 'Sales' }, history: [{ toStage: { name: 'Lead' } }, { toStage: { name: 'Proposal' } }] });
    t.same(columns[3], { stage: { id: sales.stages[3]!.id, name: 'Negotiation' }, totalCount: 0, totalAmount: '0.00', totals: [], deals: [] });

    await test.gql(WIN_DEAL, { id: deal.id }, owner);
    const open = await test.gql(BOARD, { pipelineId: sales.id }, owner);
    t.same(open.data.pipelineBoard.columns[2].deals, [], 'a won deal leaves the open board');
    const wonBoard = await test.gql(BOARD, { pipelineId: sales.id, status: 'WON' }, owner);
    t.same(wonBoard.data.pipelineBoard.columns[2].deals.map((d: any) => d.title), ['Bigger order'], 'and shows on the board of won deals');
    await test.gql(REOPEN_DEAL, { id: deal.id }, owner);

    t.equal((await test.gql(BOARD, { pipelineId: '0190a1b2-0000-7000-8000-000000000000' }, owner)).data.pipelineBoard, null, 'an unknown pipeline has no board');
    for (const dealsPerStage of [-1, 101]) {
      const bad = await test.gql(BOARD, { pipelineId: sales.id, dealsPerStage }, owner);
      t.equal(codeOf(bad), 'BAD_USER_INPUT');
      t.same(fieldsOf(bad), ['dealsPerStage']);
    }
    const countsOnly = await test.gql(BOARD, { pipelineId: sales.id, dealsPerStage: 0 }, owner);
    t.same(countsOnly.data.pipelineBoard.columns[1].deals, []);
    t.equal(countsOnly.data.pipelineBoard.columns[1].totalCount, 5);
  });

  t.test('pipelines: created with ordered stages, edited by stage id', async (t) => {
    const made = await test.gql(CREATE_PIPELINE, { input: { name: 'Hiring', stages: [{ name: 'Applied' }, { name: 'Interview', probability: 40 }, { name: 'Offer' }] } }, owner);
    t.equal(made.errors, undefined);
    const hiring: Pipeline = made.data.createPipeline;
    t.same(hiring.stages.map((s) => [s.name, s.position, s.probability]), [
      ['Applied', 0, null],
      ['Interview', 1, 40],
      ['Offer', 2, null],
    ]);
    t.same((await test.gql(PIPELINES, {}, owner)).data.pipelines.map((p: Pipeline) => p.name), ['Sales', 'Hiring']);
    t.same((await test.gql(PIPELINE, { id: hiring.id }, owner)).data.pipeline, hiring);

    const [applied, interview, offer] = hiring.stages;
    const inInterview = (await test.gql(CREATE_DEAL, { input: { title: 'Candidate', pipelineId: hiring.id, stageId: interview!.id } }, owner)).data.createDeal;
    await test.gql(MOVE_DEAL, { id: inInterview.id, stageId: applied!.id }, owner);
    await test.gql(MOVE_DEAL, { id: inInterview.id, stageId: interview!.id }, owner);

    // Rename and reorder, add one, remove one that deals only passed through.
    const edited = await test.gql(
      UPDATE_PIPELINE,
      { id: hiring.id, input: { name: 'Recruiting', stages: [{ id: interview!.id, name: 'Interviews' }, { id: offer!.id, name: 'Offer', probability: 90 }, { name: 'Hired', probability: 100 }] } },
      owner,
    );
    t.equal(edited.errors, undefined);
    t.equal(edited.data.updatePipeline.name, 'Recruiting');
    t.same(edited.data.updatePipeline.stages.map((s: any) => [s.name, s.position, s.probability]), [
      ['Interviews', 0, 40],
      ['Offer', 1, 90],
      ['Hired', 2, 100],
    ]);
    const history = (await test.gql(DEAL, { id: inInterview.id }, owner)).data.deal.history;
    t.same(history.map((h: any) => h.toStage.name), ['Interviews', 'Applied', 'Interviews'], 'the history still names a removed stage');
    const intoRemoved = await test.gql(MOVE_DEAL, { id: inInterview.id, stageId: applied!.id }, owner);
    t.equal(codeOf(intoRemoved), 'BAD_USER_INPUT', 'a removed stage takes no deals');

    const before = await counts(test);
    const holding = await test.gql(UPDATE_PIPELINE, { id: hiring.id, input: { stages: [{ id: offer!.id, name: 'Offer' }] } }, owner);
    t.equal(codeOf(holding), 'CONFLICT', 'a stage holding deals is not removed');
    const foreignStage = await test.gql(UPDATE_PIPELINE, { id: hiring.id, input: { stages: [{ id: interview!.id, name: 'I' }, { id: lead!.id, name: 'Lead' }] } }, owner);
    t.equal(codeOf(foreignStage), 'BAD_USER_INPUT');
    t.same(fieldsOf(foreignStage), ['input.stages.1.id'], "another pipeline's stage is not this one's");
    const twice = await test.gql(UPDATE_PIPELINE, { id: hiring.id, input: { stages: [{ id: interview!.id, name: 'Same' }, { name: ' same ' }] } }, owner);
    t.equal(codeOf(twice), 'BAD_USER_INPUT');
    t.same(fieldsOf(twice), ['input.stages.1.name']);
    const taken = await test.gql(UPDATE_PIPELINE, { id: hiring.id, input: { name: 'SALES' } }, owner);
    t.equal(codeOf(taken), 'CONFLICT', 'pipeline names are unique whatever their case');
    const missing = await test.gql(UPDATE_PIPELINE, { id: '0190a1b2-0000-7000-8000-000000000000', input: { name: 'x' } }, owner);
    t.equal(codeOf(missing), 'NOT_FOUND');
    t.same(await counts(test), before, 'refusals write nothing');
    t.equal((await test.gql(PIPELINE, { id: hiring.id }, owner)).data.pipeline.name, 'Recruiting');
  });

  t.test('createPipeline refuses bad input and writes nothing', async (t) => {
    const before = await counts(test);
    const none = await test.gql(CREATE_PIPELINE, { input: { name: 'Empty', stages: [] } }, owner);
    t.equal(codeOf(none), 'BAD_USER_INPUT');
    t.same(fieldsOf(none), ['input.stages']);
    const dupes = await test.gql(CREATE_PIPELINE, { input: { name: 'Dupes', stages: [{ name: 'A' }, { name: 'a ' }] } }, owner);
    t.same(fieldsOf(dupes), ['input.stages.1.name'], 'stage names are unique in a pipeline whatever their case');
    const bad = await test.gql(CREATE_PIPELINE, { input: { name: '  ', stages: [{ name: 'A', probability: 101 }] } }, owner);
    t.same(bad.errors?.[0]?.extensions?.fields, { 'input.name': 'must be 1 to 100 characters, not only spaces', 'input.stages.0.probability': 'must be <= 100' });
    const withId = await test.gql(CREATE_PIPELINE, { input: { name: 'Ids', stages: [{ id: '0190a1b2-0000-7000-8000-000000000000', name: 'A' }] } }, owner);
    t.same(fieldsOf(withId), ['input.stages.0.id']);
    const taken = await test.gql(CREATE_PIPELINE, { input: { name: 'sales', stages: [{ name: 'A' }] } }, owner);
    t.equal(codeOf(taken), 'CONFLICT');
    t.same(await counts(test), before);
  });
});

t.test('deals: bad input answers its code and writes nothing', async (t) => {
  const { test, company } = await crmApp();
  t.teardown(() => test.close());
  const owner = company.owner;
  const other = await test.createCompany();
  const sales = await salesOf(test, owner);
  const foreignSales = await salesOf(test, other.owner);
  const hiring: Pipeline = (await test.gql(CREATE_PIPELINE, { input: { name: 'Hiring', stages: [{ name: 'Applied' }] } }, owner)).data.createPipeline;
  const foreignContact = (await test.gql(CREATE_CONTACT, { input: { name: 'Not yours' } }, other.owner)).data.createContact.id;
  const deleted = (await test.gql(CREATE_CONTACT, { input: { name: 'Gone' } }, owner)).data.createContact.id;
  await test.gql('mutation ($id: ID!) { deleteContact(id: $id) { id } }', { id: deleted }, owner);
  const deal = (await test.gql(CREATE_DEAL, { input: { title: 'Deal', pipelineId: sales.id } }, owner)).data.createDeal;
  const before = await counts(test);

  const refused = async (input: Record<string, unknown>, code: string, fields: string[], message: string) => {
    const res = await test.gql(CREATE_DEAL, { input: { title: 'x', pipelineId: sales.id, ...input } }, owner);
    t.equal(codeOf(res), code, message);
    t.same(fieldsOf(res), fields, message);
    t.notOk(res.data, `${message}: no data`);
  };
  await refused({ stageId: hiring.stages[0]!.id }, 'BAD_USER_INPUT', ['input.stageId'], 'a stage of another pipeline');
  await refused({ stageId: foreignSales.stages[0]!.id }, 'BAD_USER_INPUT', ['input.stageId'], "another company's stage");
  await refused({ pipelineId: foreignSales.id }, 'BAD_USER_INPUT', ['input.pipelineId'], "another company's pipeline");
  await refused({ pipelineId: foreignSales.id, contactId: foreignContact, ownerId: other.owner.id }, 'BAD_USER_INPUT', ['input.pipelineId', 'input.contactId', 'input.ownerId'], 'every bad reference is reported at once');
  await refused({ contactId: foreignContact }, 'BAD_USER_INPUT', ['input.contactId'], "another company's contact");
  await refused({ contactId: deleted }, 'BAD_USER_INPUT', ['input.contactId'], 'a deleted contact');
  await refused({ ownerId: other.owner.id }, 'BAD_USER_INPUT', ['input.ownerId'], "another company's user as owner");
  await refused({ branchId: other.defaultBranchId }, 'BAD_USER_INPUT', ['input.branchId'], "another company's branch");
  await refused({ amount: '-5' }, 'BAD_USER_INPUT', ['input.amount'], 'a negative amount');
  await refused({ amount: '1.234' }, 'BAD_USER_INPUT', ['input.amount'], 'three decimals');
  await refused({ amount: '1234567890123' }, 'BAD_USER_INPUT', ['input.amount'], 'more than numeric(14,2) holds');
  await refused({ currency: 'EURO' }, 'BAD_USER_INPUT', ['input.currency'], 'not an ISO 4217 code');
  await refused({ expectedCloseDate: '2026-02-30' }, 'BAD_USER_INPUT', ['input.expectedCloseDate'], 'not a real day');
  await refused({ expectedCloseDate: '0000-12-31' }, 'BAD_USER_INPUT', ['input.expectedCloseDate'], 'a day of the year 0 (PostgreSQL has none)');
  await refused({ title: '   ' }, 'BAD_USER_INPUT', ['input.title'], 'a blank title');
  await refused({ status: 'WON' }, 'BAD_USER_INPUT', [], 'a field the input does not have');

  const id = deal.id;
  const move = await test.gql(MOVE_DEAL, { id, stageId: hiring.stages[0]!.id }, owner);
  t.equal(codeOf(move), 'BAD_USER_INPUT');
  t.same(fieldsOf(move), ['stageId'], 'a deal moves within its pipeline');
  t.equal(codeOf(await test.gql(MOVE_DEAL, { id, stageId: 'nope' }, owner)), 'BAD_USER_INPUT');
  t.equal(codeOf(await test.gql(MOVE_DEAL, { id: '0190a1b2-0000-7000-8000-000000000000', stageId: sales.stages[1]!.id }, owner)), 'NOT_FOUND');
  t.equal(codeOf(await test.gql(MOVE_DEAL, { id: 'nope', stageId: sales.stages[1]!.id }, owner)), 'NOT_FOUND', 'a malformed id is a missing one');
  const update = await test.gql(UPDATE_DEAL, { id, input: { contactId: foreignContact, amount: '5' } }, owner);
  t.same(fieldsOf(update), ['input.contactId']);
  t.same(fieldsOf(await test.gql(UPDATE_DEAL, { id, input: { expectedCloseDate: '0000-01-01' } }, owner)), ['input.expectedCloseDate'], 'a day of the year 0');
  const updateBad = await test.gql(UPDATE_DEAL, { id, input: { title: '', currency: 'e1', amount: null } }, owner);
  t.same(fieldsOf(updateBad).sort(), ['input.amount', 'input.currency', 'input.title'], 'only contact, owner and date are cleared with null');
  const lose = await test.gql(LOSE_DEAL, { id, reason: 'x'.repeat(501) }, owner);
  t.same(fieldsOf(lose), ['reason']);
  t.same(await counts(test), before, 'nothing was written');
  const [row] = await test.sql<{ title: string; amount: string; stage_id: string; status: string }>('select title, amount::text, stage_id, status from crm_deal where id = $1', [id]);
  t.same(row, { title: 'Deal', amount: '0.00', stage_id: sales.stages[0]!.id, status: 'OPEN' }, 'the deal is as it was');

  const sameName = await test.gql(CREATE_PIPELINE, { input: { name: 'Hiring', stages: [{ name: 'Applied' }] } }, other.owner);
  t.equal(sameName.errors, undefined, "another company's pipeline names do not get in the way (createPipeline takes no ids: assertTenantIsolation has nothing to give it)");
});

t.test('deals: winDeal and reopenDeal refuse what they cannot take and write nothing', async (t) => {
  const { test, company } = await crmApp();
  t.teardown(() => test.close());
  const owner = company.owner;
  const sales = await salesOf(test, owner);
  const contact = (await test.gql(CREATE_CONTACT, { input: { name: 'Alice' } }, owner)).data.createContact.id;
  const open = (await test.gql(CREATE_DEAL, { input: { title: 'Open', pipelineId: sales.id, contactId: contact } }, owner)).data.createDeal;
  const lost = (await test.gql(CREATE_DEAL, { input: { title: 'Lost', pipelineId: sales.id, contactId: contact } }, owner)).data.createDeal;
  await test.gql(LOSE_DEAL, { id: lost.id, reason: 'Too expensive' }, owner);
  const reader = await test.createUser({ company, permissions: ['crm.deal.read'] });
  const rows = () => test.sql('select id, status, lost_reason, closed_at, stage_id, updated_at from crm_deal order by id');
  const before = { counts: await counts(test), rows: await rows() };

  const win = await test.gql(WIN_DEAL, { id: lost.id }, owner);
  t.equal(codeOf(win), 'BAD_USER_INPUT', 'a lost deal is reopened before it is won');
  t.same(win.errors?.[0]?.extensions?.fields, { id: 'is a lost deal: reopen it first' });
  for (const mutation of [WIN_DEAL, REOPEN_DEAL]) {
    const name = mutation === WIN_DEAL ? 'winDeal' : 'reopenDeal';
    t.equal(codeOf(await test.gql(mutation, { id: '0190a1b2-0000-7000-8000-000000000000' }, owner)), 'NOT_FOUND', `${name}: an unknown id`);
    t.equal(codeOf(await test.gql(mutation, { id: 'nope' }, owner)), 'NOT_FOUND', `${name}: a malformed id is a missing one`);
    t.equal(codeOf(await test.gql(mutation, { id: lost.id }, reader)), 'FORBIDDEN', `${name}: reading is not closing or reopening`);
  }
  const reopened = await test.gql(REOPEN_DEAL, { id: open.id }, owner);
  t.equal(reopened.errors, undefined);
  t.match(reopened.data.reopenDeal, { status: 'OPEN', closedAt: null, updatedAt: open.updatedAt }, 'reopening an open deal answers it as it is');
  t.same({ counts: await counts(test), rows: await rows() }, before, 'nothing was written: both deals are as they were');
});

t.test('deals: the board costs the same number of statements whatever dealsPerStage', async (t) => {
  const { test, company } = await crmApp();
  t.teardown(() => test.close());
  const owner = company.owner;
  const second = (await test.gql('mutation { createBranch(input: { name: "Second" }) { id } }', {}, owner)).data.createBranch.id as string;
  const member = await test.createUser({ company, permissions: ['crm.deal.read', 'crm.contact.read'], branches: [company.defaultBranchId, second] });
  const sales = await salesOf(test, owner);
  const contacts: string[] = [];
  for (let i = 0; i < 4; i += 1) contacts.push((await test.gql(CREATE_CONTACT, { input: { name: `Contact ${i}` } }, owner)).data.createContact.id);
  for (let i = 0; i < 64; i += 1) {
    const res = await test.gql(
      CREATE_DEAL,
      { input: { title: `Deal ${i}`, pipelineId: sales.id, stageId: sales.stages[i % 4]!.id, contactId: contacts[i % 4], amount: '1.10', branchId: i % 3 ? company.defaultBranchId : second } },
      owner,
    );
    if (res.errors) throw new Error(JSON.stringify(res.errors));
  }
  const board = async (dealsPerStage: number) => {
    let res: any;
    const statements = await test.statements(async () => {
      res = await test.gql(BOARD, { pipelineId: sales.id, dealsPerStage }, member);
    });
    t.equal(res.errors, undefined);
    t.same(
      res.data.pipelineBoard.columns.map((c: any) => c.deals.length),
      [dealsPerStage, dealsPerStage, dealsPerStage, dealsPerStage].map((n) => Math.min(n, 16)),
    );
    t.same(res.data.pipelineBoard.columns.map((c: any) => [c.totalCount, c.totalAmount]), Array(4).fill([16, '17.60']));
    return statements;
  };
  await board(1); // warm the viewer cache
  // Each query runs with the session's row-level security settings (two statements) in front of it.
  const queries = async (dealsPerStage: number) => (await board(dealsPerStage)).filter((sql) => !/^(select set_config|set local role)/.test(sql));
  // The pipeline, its stages, the ranked deals, the counts and totals; then one per loader with ids
  // not loaded yet: contact, owner, branch, history (the stages and the pipeline were loaded
  // already); the history's users — the owner here — are the owners' read's, loaded or in flight.
  for (const dealsPerStage of [2, 50]) {
    const read = await queries(dealsPerStage);
    t.equal(read.length, 8, `${read.length} statements for ${dealsPerStage} deals per stage`, { statements: read });
  }
});

t.test('deals: a MEMBER sees and changes only what their keys and branches allow', async (t) => {
  const { test, company } = await crmApp();
  t.teardown(() => test.close());
  const owner = company.owner;
  const northId = (await test.gql('mutation { createBranch(input: { name: "North" }) { id } }', {}, owner)).data.createBranch.id as string;
  const sales = await salesOf(test, owner);
  const mainContact = (await test.gql(CREATE_CONTACT, { input: { name: 'Main contact' } }, owner)).data.createContact.id;
  const northContact = (await test.gql(CREATE_CONTACT, { input: { name: 'North contact', branchId: northId } }, owner)).data.createContact.id;
  const inMain = (await test.gql(CREATE_DEAL, { input: { title: 'Main deal', pipelineId: sales.id, contactId: mainContact, amount: '100' } }, owner)).data.createDeal;
  const inNorth = (await test.gql(CREATE_DEAL, { input: { title: 'North deal', pipelineId: sales.id, contactId: northContact, amount: '7' } }, owner)).data.createDeal;
  t.same(inNorth.branch, { id: northId }, "a deal lands in its contact's branch");
  // North, with a contact of the main branch: the reader sees the deal but not that contact.
  const mixed = (await test.gql(CREATE_DEAL, { input: { title: 'Mixed', pipelineId: sales.id, contactId: mainContact, branchId: northId } }, owner)).data.createDeal;

  const reader = await test.createUser({ company, permissions: ['crm.deal.read', 'crm.contact.read'], branches: [northId] });
  const manager = await test.createUser({ company, permissions: ['crm.deal.read', 'crm.deal.manage', 'crm.contact.read'], branches: [northId] });

  const list = await test.gql(DEALS, {}, reader);
  t.same(list.data.deals.edges.map((e: any) => e.node.title).sort(), ['Mixed', 'North deal'], "only the reader's branch");
  t.equal(list.data.deals.totalCount, 2, 'the count is filtered in SQL too');
  t.equal((await test.gql(DEAL, { id: inMain.id }, reader)).data.deal, null, "another branch's deal is not found");
  t.equal((await test.gql(DEAL, { id: inNorth.id }, reader)).data.deal.title, 'North deal');
  t.equal((await test.gql(DEAL, { id: mixed.id }, reader)).data.deal.contact, null, "a contact of another branch stays hidden on a visible deal");
  const board = await test.gql(BOARD, { pipelineId: sales.id }, reader);
  t.same(board.data.pipelineBoard.columns[0].deals.map((d: any) => d.title), ['Mixed', 'North deal']);
  t.same([board.data.pipelineBoard.columns[0].totalCount, board.data.pipelineBoard.columns[0].totalAmount], [2, '7.00'], 'counts and totals leave out what the reader cannot see');
  t.equal((await test.gql(PIPELINES, {}, reader)).data.pipelines.length, 1, 'pipelines are readable with crm.deal.read');

  const before = await counts(test);
  t.equal(codeOf(await test.gql(CREATE_DEAL, { input: { title: 'x', pipelineId: sales.id } }, reader)), 'FORBIDDEN', 'reading is not writing');
  t.equal(codeOf(await test.gql(MOVE_DEAL, { id: inNorth.id, stageId: sales.stages[1]!.id }, reader)), 'FORBIDDEN');
  t.equal(codeOf(await test.gql(WIN_DEAL, { id: inNorth.id }, reader)), 'FORBIDDEN');
  t.equal(codeOf(await test.gql(UPDATE_DEAL, { id: inNorth.id, input: { title: 'x' } }, reader)), 'FORBIDDEN');
  t.equal(codeOf(await test.gql(CREATE_PIPELINE, { input: { name: 'x', stages: [{ name: 'a' }] } }, reader)), 'FORBIDDEN', 'pipelines need crm.pipeline.manage');
  t.equal(codeOf(await test.gql(UPDATE_PIPELINE, { id: sales.id, input: { name: 'x' } }, manager)), 'FORBIDDEN');
  t.equal(codeOf(await test.gql(MOVE_DEAL, { id: inMain.id, stageId: sales.stages[1]!.id }, manager)), 'NOT_FOUND', "a manager cannot move a deal they cannot see");
  t.equal(codeOf(await test.gql(LOSE_DEAL, { id: inMain.id }, manager)), 'NOT_FOUND');
  const elsewhere = await test.gql(CREATE_DEAL, { input: { title: 'x', pipelineId: sales.id, branchId: company.defaultBranchId } }, manager);
  t.equal(codeOf(elsewhere), 'FORBIDDEN', 'nor add one to a branch that is not theirs');
  const hiddenContact = await test.gql(CREATE_DEAL, { input: { title: 'x', pipelineId: sales.id, contactId: mainContact } }, manager);
  t.same(fieldsOf(hiddenContact), ['input.contactId'], "nor link a contact they cannot see");
  const away = await test.gql(UPDATE_DEAL, { id: inNorth.id, input: { branchId: company.defaultBranchId } }, manager);
  t.equal(codeOf(away), 'FORBIDDEN', 'nor move one out of their branches');
  t.same(await counts(test), before, 'nothing was written');
  t.equal((await test.sql<{ branch_id: string }>('select branch_id from crm_deal where id = $1', [inNorth.id]))[0]?.branch_id, northId);

  const moved = await test.gql(MOVE_DEAL, { id: inNorth.id, stageId: sales.stages[1]!.id }, manager);
  t.equal(moved.data.moveDeal.stage.name, 'Qualified', 'a manager moves the deals of their branch');
  const own = await test.gql(CREATE_DEAL, { input: { title: 'By manager', pipelineId: sales.id } }, manager);
  t.match(own.data.createDeal, { branch: { id: northId }, owner: { id: manager.id } }, "a new deal lands in the manager's branch, owned by them");

  const noKeys = await test.createUser({ company, permissions: [] });
  t.equal(codeOf(await test.gql(DEALS, {}, noKeys)), 'FORBIDDEN');
  t.equal(codeOf(await test.gql(BOARD, { pipelineId: sales.id }, noKeys)), 'FORBIDDEN');
  t.equal(codeOf(await test.gql(PIPELINES, {}, noKeys)), 'FORBIDDEN');
  t.equal((await test.gql(DEAL, { id: inNorth.id }, noKeys)).data.deal, null);
  t.equal((await test.gql(PIPELINE, { id: sales.id }, noKeys)).data.pipeline, null);
});

t.test('deals: dealUpdated keeps a board live, for what each subscriber may see', async (t) => {
  const { test, company } = await crmApp();
  t.teardown(() => test.close());
  const owner = company.owner;
  const northId = (await test.gql('mutation { createBranch(input: { name: "North" }) { id } }', {}, owner)).data.createBranch.id as string;
  const reader = await test.createUser({ company, permissions: ['crm.deal.read'], branches: [northId] });
  const sales = await salesOf(test, owner);
  const hiring: Pipeline = (await test.gql(CREATE_PIPELINE, { input: { name: 'Hiring', stages: [{ name: 'Applied' }] } }, owner)).data.createPipeline;
  const contact = (await test.gql(CREATE_CONTACT, { input: { name: 'Alice' } }, owner)).data.createContact.id;
  const deal = (await test.gql(CREATE_DEAL, { input: { title: 'Live', pipelineId: sales.id, contactId: contact, amount: '5' } }, owner)).data.createDeal;

  const LIVE = 'subscription ($pipelineId: ID!) { dealUpdated(pipelineId: $pipelineId) { id title status amount stage { name } contact { name } branch { id } history { toStage { name } } } }';
  const live = await test.subscribe(LIVE, { pipelineId: sales.id }, owner);
  t.teardown(() => live.close());
  const northLive = await test.subscribe(LIVE, { pipelineId: sales.id }, reader);
  t.teardown(() => northLive.close());

  await test.gql(CREATE_DEAL, { input: { title: 'Elsewhere', pipelineId: hiring.id } }, owner);
  await test.gql(MOVE_DEAL, { id: deal.id, stageId: sales.stages[2]!.id }, owner);
  t.same(
    await live.next(),
    { data: { dealUpdated: { id: deal.id, title: 'Live', status: 'OPEN', amount: '5.00', stage: { name: 'Proposal' }, contact: { name: 'Alice' }, branch: { id: company.defaultBranchId }, history: [{ toStage: { name: 'Lead' } }, { toStage: { name: 'Proposal' } }] } } },
    'the move reaches a subscriber of the pipeline (a deal of another pipeline does not)',
  );
  await test.gql(WIN_DEAL, { id: deal.id }, owner);
  t.match(await live.next(), { data: { dealUpdated: { id: deal.id, status: 'WON' } } });

  const north = (await test.gql(CREATE_DEAL, { input: { title: 'North', pipelineId: sales.id, branchId: northId } }, owner)).data.createDeal;
  t.match(await live.next(), { data: { dealUpdated: { id: north.id, title: 'North' } } });
  t.same(
    await northLive.next(),
    { data: { dealUpdated: { id: north.id, title: 'North', status: 'OPEN', amount: '0.00', stage: { name: 'Lead' }, contact: null, branch: { id: northId }, history: [{ toStage: { name: 'Lead' } }] } } },
    "the branch-limited MEMBER received neither the move nor the win of the main branch's deal, but this one",
  );

  const unknown = await test.subscribe(LIVE, { pipelineId: '0190a1b2-0000-7000-8000-000000000000' }, owner);
  t.equal((await unknown.next()).errors?.[0]?.extensions?.code, 'NOT_FOUND', 'an unknown pipeline cannot be watched');
  const noKeys = await test.createUser({ company, permissions: [] });
  const refused = await test.subscribe(LIVE, { pipelineId: sales.id }, noKeys);
  t.equal((await refused.next()).errors?.[0]?.extensions?.code, 'FORBIDDEN');
});

t.test('deals: concurrent moves keep one consistent history; a stage being removed takes no deal', { skip: postgresOnly }, async (t) => {
  const { test, company } = await crmApp();
  t.teardown(() => test.close());
  const owner = company.owner;
  const sales = await salesOf(test, owner);
  const deal = (await test.gql(CREATE_DEAL, { input: { title: 'Raced', pipelineId: sales.id } }, owner)).data.createDeal;
  const targets = [1, 2, 3, 1, 2, 3].map((i) => sales.stages[i]!.id);
  const moves = await Promise.all(targets.map((stageId) => test.gql(MOVE_DEAL, { id: deal.id, stageId }, owner)));
  t.same(moves.filter((m) => m.errors), []);
  const history = await test.sql<{ from_stage_id: string | null; to_stage_id: string }>('select from_stage_id, to_stage_id from crm_deal_stage_change where deal_id = $1 order by changed_at, id', [deal.id]);
  t.same(
    history.slice(1).map((change) => change.from_stage_id),
    history.slice(0, -1).map((change) => change.to_stage_id),
    'each move starts where the one before ended',
  );
  const [row] = await test.sql<{ stage_id: string }>('select stage_id from crm_deal where id = $1', [deal.id]);
  t.equal(row?.stage_id, history.at(-1)!.to_stage_id, 'the deal is where its last move took it');

  // Removing the Negotiation stage while deals are moved into it: either the move wins and the removal is refused, or the removal wins and the move is.
  const hiring: Pipeline = (await test.gql(CREATE_PIPELINE, { input: { name: 'Race', stages: [{ name: 'A' }, { name: 'B' }] } }, owner)).data.createPipeline;
  const [a, b] = hiring.stages;
  const racers: string[] = [];
  for (let i = 0; i < 4; i += 1) racers.push((await test.gql(CREATE_DEAL, { input: { title: `R${i}`, pipelineId: hiring.id, stageId: a!.id } }, owner)).data.createDeal.id);
  const [removal, ...raced] = await Promise.all([
    test.gql(UPDATE_PIPELINE, { id: hiring.id, input: { stages: [{ id: a!.id, name: 'A' }] } }, owner),
    ...racers.map((id) => test.gql(MOVE_DEAL, { id, stageId: b!.id }, owner)),
  ]);
  const [{ n: inB }] = await test.sql<{ n: number }>('select count(*)::int as n from crm_deal where stage_id = $1', [b!.id]);
  const [{ removed }] = await test.sql<{ removed: boolean }>('select removed_at is not null as removed from crm_pipeline_stage where id = $1', [b!.id]);
  if (removed) {
    t.equal(removal!.errors, undefined);
    t.equal(inB, 0, 'the stage was removed empty');
    t.ok(raced.every((m) => codeOf(m) === 'BAD_USER_INPUT'), 'and every move into it was refused');
  } else {
    t.equal(codeOf(removal!), 'CONFLICT');
    t.equal(inB, raced.filter((m) => !m.errors).length, 'the stage holds the deals moved into it');
  }
});

t.test('deals: another company’s ids behave as missing ids', async (t) => {
  const { test } = await crmApp();
  t.teardown(() => test.close());
  await assertTenantIsolation(t, test, {
    async seed(a) {
      const sales = await salesOf(test, a.owner);
      const contact = (await test.gql(CREATE_CONTACT, { input: { name: 'Secret contact' } }, a.owner)).data.createContact.id as string;
      const deal = (await test.gql(CREATE_DEAL, { input: { title: 'Secret deal', pipelineId: sales.id, contactId: contact, amount: '99' } }, a.owner)).data.createDeal.id as string;
      return { pipelineId: sales.id, stageId: sales.stages[1]!.id, firstStageId: sales.stages[0]!.id, contactId: contact, dealId: deal, ownerId: a.owner.id, branchId: a.defaultBranchId };
    },
    // B's own pipeline and deal, given A's ids: A's stage, contact, owner and branch must be as unknown to them as missing ones.
    async own(b) {
      const sales = await salesOf(test, b.owner);
      const deal = (await test.gql(CREATE_DEAL, { input: { title: 'Mine', pipelineId: sales.id } }, b.owner)).data.createDeal.id as string;
      return { pipelineId: sales.id, stages: sales.stages.map(({ id, name }) => ({ id, name })), dealId: deal };
    },
    operations: [
      { name: 'pipelines', query: PIPELINES },
      { name: 'pipeline', query: PIPELINE, variables: (seed) => ({ id: seed.pipelineId }) },
      { name: 'deal', query: DEAL, variables: (seed) => ({ id: seed.dealId }) },
      { name: 'deals', query: DEALS, variables: () => ({ filter: { search: 'secret' } }) },
      { name: 'deals by pipeline', query: DEALS, variables: (seed) => ({ filter: { pipelineId: seed.pipelineId, stageId: seed.firstStageId, contactId: seed.contactId } }) },
      { name: 'pipelineBoard', query: BOARD, variables: (seed) => ({ pipelineId: seed.pipelineId }) },
      {
        name: 'updatePipeline',
        query: UPDATE_PIPELINE,
        variables: (seed) => ({ id: seed.pipelineId, input: { name: 'Hijacked', stages: [{ id: seed.firstStageId, name: 'X' }] } }),
      },
      { name: 'createDeal', query: CREATE_DEAL, variables: (seed) => ({ input: { title: 'x', pipelineId: seed.pipelineId, stageId: seed.stageId } }) },
      // Every reference is checked: A's contact is as unknown as A's pipeline.
      { name: 'createDeal with contact', query: CREATE_DEAL, variables: (seed) => ({ input: { title: 'x', pipelineId: seed.pipelineId, contactId: seed.contactId } }) },
      { name: 'updateDeal', query: UPDATE_DEAL, variables: (seed) => ({ id: seed.dealId, input: { title: 'Hijacked' } }) },
      { name: 'moveDeal', query: MOVE_DEAL, variables: (seed) => ({ id: seed.dealId, stageId: seed.stageId }) },
      { name: 'winDeal', query: WIN_DEAL, variables: (seed) => ({ id: seed.dealId }) },
      { name: 'loseDeal', query: LOSE_DEAL, variables: (seed) => ({ id: seed.dealId, reason: 'x' }) },
      { name: 'reopenDeal', query: REOPEN_DEAL, variables: (seed) => ({ id: seed.dealId }) },
      { name: 'deals by A’s owner and branch', query: DEALS, variables: (seed) => ({ filter: { ownerId: seed.ownerId, branchId: seed.branchId } }) },
      // createDeal and updateDeal report every bad reference at once: one of A's accepted would leave its field out.
      {
        name: 'createDeal in B’s pipeline with A’s contact, owner and branch',
        query: CREATE_DEAL,
        variables: (seed, own) => ({ input: { title: 'x', pipelineId: own.pipelineId, contactId: seed.contactId, ownerId: seed.ownerId, branchId: seed.branchId } }),
      },
      {
        name: 'updateDeal of B’s with A’s contact, owner and branch',
        query: UPDATE_DEAL,
        variables: (seed, own) => ({ id: own.dealId, input: { contactId: seed.contactId, ownerId: seed.ownerId, branchId: seed.branchId } }),
      },
      { name: 'moveDeal of B’s into A’s stage', query: MOVE_DEAL, variables: (seed, own) => ({ id: own.dealId, stageId: seed.stageId }) },
      {
        name: 'updatePipeline of B’s with A’s stage',
        query: UPDATE_PIPELINE,
        variables: (seed, own) => ({ id: own.pipelineId, input: { stages: [...own.stages, { id: seed.stageId, name: 'Stolen' }] } }),
      },
    ],
  });
});
