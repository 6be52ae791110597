import t from 'tap';
import { randomBytes } from 'node:crypto';
import { assertEdgeInputs, createTestApp, type EdgeInputSpec, type RequestOptions, type TestApp, type TestCompany } from '@atrium/core/testing';
import crm from '@atrium/crm';

/**
 * Every root query, mutation and subscription of the CRM answers edge inputs (null, empty and huge
 * strings, NUL, a lone surrogate, malformed and unknown ids, forged cursors, extreme numbers, dates
 * and decimals, deep JSON, long lists) with data or a clear error, and a refused mutation writes
 * nothing. Run as the company's OWNER, and as a MEMBER holding every CRM key in one branch (not the
 * company's first), each on records of their own (a note is changed only by its author): all 46
 * fields with one set of valid variables, then the fields with other paths (later pages, other
 * filters, notes on deals, a company attribute schema…) with a second set.
 */

type Caller = 'owner' | 'member';

/** One caller's records, made with the caller's token, in the caller's branch. */
interface Records {
  as: RequestOptions;
  userId: string;
  branchId: string;
  /** The caller's request, failing loudly when it does not succeed. */
  must(query: string, variables?: Record<string, unknown>): Promise<any>;
  unique(): string;
  contactId: string;
  categoryId: string;
  subcategoryId: string;
  productId: string;
  productSku: string;
  debtId: string;
  pipelineId: string;
  stageIds: string[];
  dealId: string;
  taskId: string;
  noteId: string;
  newContact(extra?: Record<string, unknown>): Promise<string>;
  newCategory(): Promise<string>;
  newDebt(): Promise<string>;
  newPipeline(): Promise<{ id: string; stageIds: string[] }>;
  newDeal(): Promise<string>;
  newTask(): Promise<string>;
  newNote(): Promise<string>;
  /** For the second set of variables: */
  dealNoteId: string;
  newDealNote(): Promise<string>;
  looseTaskId: string;
  plannedDebt(): Promise<string>;
  cursors: Record<'contacts' | 'products' | 'debts' | 'deals' | 'tasks' | 'notes', string>;
}

type Seed = Record<Caller, Records>;

const CRM_KEYS = (crm.permissions ?? []).map((permission) => permission.key);
const PAST = () => new Date(Date.now() - 60_000).toISOString();

async function recordsOf(caller: Caller, company: TestCompany, test: TestApp): Promise<Records> {
  const owner = { token: company.owner.token };
  const ownerMust = async (query: string, variables: Record<string, unknown> = {}) => {
    const answer = await test.gql(query, variables, owner);
    if (answer.errors?.length || !answer.data) throw new Error(`${query}: ${JSON.stringify(answer.errors)}`);
    return answer.data;
  };
  let as: RequestOptions = owner;
  let userId = company.owner.id;
  let branchId = company.defaultBranchId;
  if (caller === 'member') {
    // The member's one branch is not the company's first: defaults must follow the member's branches.
    branchId = (await ownerMust('mutation { createBranch(input: { name: "North" }) { id } }')).createBranch.id;
    const member = await test.createUser({ company, permissions: CRM_KEYS, branches: [branchId] });
    as = { token: member.token };
    userId = member.id;
  }
  const must = async (query: string, variables: Record<string, unknown> = {}) => {
    const answer = await test.gql(query, variables, as);
    if (answer.errors?.length || !answer.data) throw new Error(`${query}: ${JSON.stringify(answer.errors)}`);
    return answer.data;
  };
  let counter = 0;
  const unique = () => `${++counter}-${randomBytes(3).toString('hex')}`;

  const newContact = async (extra: Record<string, unknown> = {}) =>
    (await must('mutation ($input: CreateContactInput!) { createContact(input: $input) { id } }', { input: { name: `Contact ${unique()}`, branchId, ...extra } })).createContact.id as string;
  const newCategory = async (parentId?: string) =>
    (await must('mutation ($input: CreateProductCategoryInput!) { createProductCategory(input: $input) { id } }', { input: { name: `Category ${unique()}`, parentId } }))
      .createProductCategory.id as string;
  const contactId = await newContact({ emails: [`edge-${unique()}@example.test`], labels: ['vip'], identifier: `EDGE-${unique()}` });
  const newDebt = async () =>
    (await must('mutation ($input: CreateDebtInput!) { createDebt(input: $input) { id } }', { input: { contactId, amount: '100.00', currency: 'USD', dueDate: '2099-12-31' } })).createDebt
      .id as string;
  const newPipeline = async () => {
    const created = (
      await must('mutation ($input: CreatePipelineInput!) { createPipeline(input: $input) { id stages { id } } }', {
        input: { name: `Pipeline ${unique()}`, stages: [{ name: 'First', probability: 10 }, { name: 'Second' }] },
      })
    ).createPipeline;
    return { id: created.id as string, stageIds: created.stages.map((stage: { id: string }) => stage.id) as string[] };
  };
  const sales = (await must('{ pipelines { id stages { id } } }')).pipelines[0];
  const pipelineId = sales.id as string;
  const stageIds = sales.stages.map((stage: { id: string }) => stage.id) as string[];
  const newDeal = async () =>
    (await must('mutation ($input: CreateDealInput!) { createDeal(input: $input) { id } }', { input: { title: `Deal ${unique()}`, pipelineId, contactId, amount: '10.00' } })).createDeal.id as string;
  const dealId = await newDeal();
  const newTask = async () =>
    (await must('mutation ($input: CreateTaskInput!) { createTask(input: $input) { id } }', { input: { title: `Task ${unique()}`, contactId, assigneeId: userId } })).createTask.id as string;
  const newNote = async () => (await must('mutation ($input: CreateNoteInput!) { createNote(input: $input) { id } }', { input: { body: `Note ${unique()}`, contactId } })).createNote.id as string;

  const categoryId = await newCategory();
  const subcategoryId = await newCategory(categoryId);
  const productSku = `SKU-${unique()}`;
  const productId = (
    await must('mutation ($input: CreateProductInput!) { createProduct(input: $input) { id } }', { input: { name: 'Edge product', sku: productSku, price: '9.99', unit: 'pcs', categoryId } })
  ).createProduct.id as string;
  const debtId = await newDebt();
  const taskId = await newTask();
  const noteId = await newNote();

  const newDealNote = async () => (await must('mutation ($input: CreateNoteInput!) { createNote(input: $input) { id } }', { input: { body: `Note ${unique()}`, dealId } })).createNote.id as string;
  const dealNoteId = await newDealNote();
  const looseTaskId = (await must('mutation ($input: CreateTaskInput!) { createTask(input: $input) { id } }', { input: { title: 'About nothing', branchId } })).createTask.id as string;
  // A debt in two installments, the first partly paid.
  const plannedDebt = async () => {
    const id = (
      await must('mutation ($input: CreateDebtInput!) { createDebt(input: $input) { id } }', {
        input: { contactId, amount: '100.00', currency: 'USD', installments: [{ dueDate: '2020-01-31', amount: '40.00' }, { dueDate: '2099-01-31', amount: '60.00' }] },
      })
    ).createDebt.id as string;
    await must('mutation ($input: RecordPaymentInput!) { recordPayment(input: $input) { debt { id } } }', { input: { debtId: id, amount: '15.00' } });
    return id;
  };
  await plannedDebt();
  await must('mutation ($id: ID!) { winDeal(id: $id) { id } }', { id: await newDeal() });
  // A company schema and phone country: attributes are checked against it, national numbers read in it.
  await must('mutation ($input: UpdateCrmSettingsInput!) { updateCrmSettings(input: $input) { defaultPhoneCountry } }', {
    input: { contactAttributeSchema: { type: 'object', properties: { zip: { type: 'string', maxLength: 10 }, tier: { enum: ['gold', 'silver'] } } }, defaultPhoneCountry: 'UZ' },
  });
  // The end of a first page of each list, for `after`.
  const endOf = async (list: string, args = '') => (await must(`{ ${list}(first: 1${args}) { pageInfo { endCursor } } }`))[list].pageInfo.endCursor as string;
  const cursors = {
    contacts: await endOf('contacts', ', orderBy: NEWEST'),
    products: await endOf('products'),
    debts: await endOf('debts'),
    deals: await endOf('deals'),
    tasks: await endOf('tasks', ', orderBy: NEWEST'),
    notes: await endOf('notes', `, dealId: "${dealId}"`),
  };
  return {
    as,
    userId,
    branchId,
    must,
    unique,
    contactId,
    categoryId,
    subcategoryId,
    productId,
    productSku,
    debtId,
    pipelineId,
    stageIds,
    dealId,
    taskId,
    noteId,
    newContact,
    newCategory: () => newCategory(),
    newDebt,
    newPipeline,
    newDeal,
    newTask,
    newNote,
    dealNoteId,
    newDealNote,
    looseTaskId,
    plannedDebt,
    cursors,
  };
}

const operations: Record<string, (records: Records) => Record<string, unknown> | Promise<Record<string, unknown>>> = {
  // Contacts and settings
  'Query.contact': (s) => ({ id: s.contactId }),
  'Query.contacts': (s) => ({
    first: 10,
    filter: { search: 'edge', labels: ['vip'], blocked: false, branchId: s.branchId, ownerId: s.userId, deleted: false },
    orderBy: 'NAME',
  }),
  'Query.crmSettings': () => ({}),
  // Products
  'Query.product': (s) => ({ id: s.productId }),
  'Query.products': (s) => ({ first: 10, filter: { search: 'edge', categoryId: s.categoryId, includeSubcategories: true, active: true } }),
  'Query.productCategories': () => ({}),
  // Debts
  'Query.debt': (s) => ({ id: s.debtId }),
  'Query.debts': (s) => ({ first: 10, filter: { contactId: s.contactId, status: 'OPEN' } }),
  // Pipelines and deals
  'Query.pipelines': () => ({}),
  'Query.pipeline': (s) => ({ id: s.pipelineId }),
  'Query.deal': (s) => ({ id: s.dealId }),
  'Query.deals': (s) => ({
    first: 10,
    filter: { pipelineId: s.pipelineId, stageId: s.stageIds[0], status: 'OPEN', contactId: s.contactId, ownerId: s.userId, branchId: s.branchId, search: 'deal' },
  }),
  'Query.pipelineBoard': (s) => ({ pipelineId: s.pipelineId, dealsPerStage: 5, status: 'OPEN' }),
  'Subscription.dealUpdated': (s) => ({ pipelineId: s.pipelineId }),
  // Tasks and notes
  'Query.task': (s) => ({ id: s.taskId }),
  'Query.tasks': (s) => ({
    first: 10,
    filter: { assigneeId: s.userId, mine: true, done: false, contactId: s.contactId, dealId: s.dealId, dueBefore: '2099-01-01T00:00:00Z' },
    orderBy: 'DUE',
  }),
  'Query.notes': (s) => ({ first: 10, contactId: s.contactId }),

  'Mutation.createContact': (s) => ({
    input: {
      kind: 'PERSON',
      name: 'Edge Person',
      emails: [`person-${s.unique()}@example.test`],
      phones: ['+998 90 123 45 67'],
      identifier: `ID-${s.unique()}`,
      ownerId: s.userId,
      branchId: s.branchId,
      labels: ['vip'],
      blocked: false,
      customAttributes: {},
    },
  }),
  'Mutation.updateContact': (s) => ({
    id: s.contactId,
    input: {
      kind: 'ORGANIZATION',
      name: 'Edge Organisation',
      emails: [`org-${s.unique()}@example.test`],
      phones: ['+998 90 765 43 21'],
      identifier: `ORG-${s.unique()}`,
      ownerId: s.userId,
      branchId: s.branchId,
      labels: ['vip'],
      blocked: false,
      customAttributes: {},
    },
  }),
  // A contact of its own for every request: each reaches a live (or deleted) contact.
  'Mutation.deleteContact': async (s) => ({ id: await s.newContact() }),
  'Mutation.restoreContact': async (s) => {
    const id = await s.newContact();
    await s.must('mutation ($id: ID!) { deleteContact(id: $id) { id } }', { id });
    return { id };
  },
  'Mutation.mergeContacts': async (s) => ({
    input: { survivorId: await s.newContact({ emails: [`a-${s.unique()}@example.test`] }), mergedId: await s.newContact({ emails: [`b-${s.unique()}@example.test`], identifier: `M-${s.unique()}` }) },
  }),
  'Mutation.createProduct': (s) => ({ input: { name: 'Edge gadget', sku: `G-${s.unique()}`, price: '12.50', unit: 'pcs', categoryId: s.categoryId, active: true } }),
  'Mutation.updateProduct': (s) => ({ id: s.productId, input: { name: 'Edge product', sku: s.productSku, price: '10.00', unit: 'kg', categoryId: s.categoryId, active: true } }),
  'Mutation.createProductCategory': (s) => ({ input: { name: `Sub ${s.unique()}`, parentId: s.categoryId } }),
  'Mutation.updateProductCategory': (s) => ({ id: s.subcategoryId, input: { name: 'Edge subcategory', parentId: s.categoryId } }),
  'Mutation.deleteProductCategory': async (s) => ({ id: await s.newCategory() }),
  'Mutation.createDebt': (s) => ({
    input: { contactId: s.contactId, amount: '100.00', currency: 'USD', description: 'Edge debt', dueDate: '2099-06-30', installments: [{ dueDate: '2099-06-30', amount: '100.00' }] },
  }),
  'Mutation.recordPayment': async (s) => ({ input: { debtId: await s.newDebt(), amount: '10.00', paidAt: PAST(), method: 'CASH', note: 'Edge payment' } }),
  'Mutation.setInstallmentPlan': (s) => ({ input: { debtId: s.debtId, installments: [{ dueDate: '2099-06-30', amount: '100.00' }] } }),
  'Mutation.createPipeline': (s) => ({ input: { name: `Edge ${s.unique()}`, stages: [{ name: 'Only', probability: 50 }] } }),
  'Mutation.updatePipeline': async (s) => {
    const pipeline = await s.newPipeline();
    return { id: pipeline.id, input: { name: `Renamed ${s.unique()}`, stages: [{ id: pipeline.stageIds[0], name: 'Kept', probability: 20 }] } };
  },
  'Mutation.createDeal': (s) => ({
    input: {
      title: 'Edge deal',
      pipelineId: s.pipelineId,
      stageId: s.stageIds[1],
      contactId: s.contactId,
      ownerId: s.userId,
      amount: '1500.50',
      currency: 'USD',
      expectedCloseDate: '2099-01-31',
      branchId: s.branchId,
    },
  }),
  'Mutation.updateDeal': (s) => ({
    id: s.dealId,
    input: { title: 'Edge deal', contactId: s.contactId, ownerId: s.userId, amount: '99.99', currency: 'EUR', expectedCloseDate: '2099-02-28', branchId: s.branchId },
  }),
  'Mutation.moveDeal': async (s) => ({ id: await s.newDeal(), stageId: s.stageIds[2] }),
  'Mutation.winDeal': async (s) => ({ id: await s.newDeal() }),
  'Mutation.loseDeal': async (s) => ({ id: await s.newDeal(), reason: 'Too expensive' }),
  'Mutation.reopenDeal': async (s) => {
    const id = await s.newDeal();
    await s.must('mutation ($id: ID!) { winDeal(id: $id) { id } }', { id });
    return { id };
  },
  'Mutation.createTask': (s) => ({
    input: { title: 'Edge task', description: 'Call back', assigneeId: s.userId, dueAt: '2099-01-01T09:00:00Z', contactId: s.contactId, dealId: s.dealId, branchId: s.branchId },
  }),
  'Mutation.updateTask': (s) => ({
    id: s.taskId,
    input: { title: 'Edge task', description: 'Call again', assigneeId: s.userId, dueAt: '2099-02-01T09:00:00Z', contactId: s.contactId, dealId: s.dealId, branchId: s.branchId },
  }),
  'Mutation.completeTask': async (s) => ({ id: await s.newTask() }),
  'Mutation.reopenTask': async (s) => {
    const id = await s.newTask();
    await s.must('mutation ($id: ID!) { completeTask(id: $id) { id } }', { id });
    return { id };
  },
  'Mutation.createNote': (s) => ({ input: { body: 'Edge note', contactId: s.contactId } }),
  'Mutation.updateNote': (s) => ({ id: s.noteId, input: { body: 'Edge note, edited' } }),
  'Mutation.deleteNote': async (s) => ({ id: await s.newNote() }),
  // Last: a schema saved by an edge value would apply to the contacts written after it.
  'Mutation.updateCrmSettings': () => ({ input: { contactAttributeSchema: { type: 'object' }, defaultPhoneCountry: 'UZ' } }),
};

// Some five thousand requests, each mutation's with a digest of the database's rows before and after.
t.setTimeout(900_000);

// Thousands of requests from one address: the HTTP rate limit is not what is tested here.
const test = await createTestApp({ modules: [crm], config: { httpRateLimit: 0 } });
t.teardown(() => test.close());

/**
 * Variables that reach the paths the first ones leave: later pages (a cursor), the other orders and
 * filters, notes on a deal, a task about nothing, a debt with a partly paid plan, a closed deal, and
 * contacts checked against a company schema and phone country (set in the seed; updateCrmSettings is
 * not swept again here, so that they stay as set for both callers).
 */
const otherOperations: typeof operations = {
  'Query.contacts': (s) => ({ first: 5, after: s.cursors.contacts, filter: { search: '90 123', deleted: true }, orderBy: 'NEWEST' }),
  'Query.products': (s) => ({ first: 5, after: s.cursors.products, filter: { search: 'SKU-', categoryId: s.subcategoryId, includeSubcategories: false, active: false } }),
  'Query.debts': (s) => ({ first: 5, after: s.cursors.debts, filter: { status: 'OVERDUE' } }),
  'Query.deals': (s) => ({ first: 5, after: s.cursors.deals, filter: { status: 'WON', search: '%_' } }),
  'Query.pipelineBoard': (s) => ({ pipelineId: s.pipelineId, dealsPerStage: 0, status: 'WON' }),
  'Query.tasks': (s) => ({ first: 5, after: s.cursors.tasks, filter: { done: true, mine: false }, orderBy: 'NEWEST' }),
  'Query.notes': (s) => ({ first: 5, after: s.cursors.notes, dealId: s.dealId }),
  'Mutation.createContact': (s) => ({
    input: { name: 'Local', emails: [`local-${s.unique()}@example.test`], phones: ['90 123 45 67'], customAttributes: { zip: '100000', tier: 'gold' } },
  }),
  'Mutation.updateContact': (s) => ({ id: s.contactId, input: { phones: ['90 765 43 21'], customAttributes: { zip: '100001', tier: 'silver' } } }),
  'Mutation.mergeContacts': async (s) => ({
    input: {
      survivorId: await s.newContact({ customAttributes: { zip: '1' } }),
      mergedId: await s.newContact({ phones: ['90 111 22 33'], customAttributes: { tier: 'gold' }, identifier: `M-${s.unique()}` }),
    },
  }),
  'Mutation.createProduct': (s) => ({ input: { name: 'Loose', sku: `L-${s.unique()}`, price: '0', unit: 'm2' } }),
  'Mutation.updateProduct': (s) => ({ id: s.productId, input: { categoryId: null, active: false } }),
  'Mutation.updateProductCategory': (s) => ({ id: s.subcategoryId, input: { parentId: null } }),
  'Mutation.createDebt': (s) => ({ input: { contactId: s.contactId, amount: '0.01', currency: 'EUR', dueDate: '2020-02-29' } }),
  'Mutation.recordPayment': async (s) => ({ input: { debtId: await s.plannedDebt(), amount: '30.00' } }),
  'Mutation.setInstallmentPlan': async (s) => ({
    input: { debtId: await s.plannedDebt(), installments: [{ dueDate: '2020-01-31', amount: '10.00' }, { dueDate: '2099-01-31', amount: '90.00' }] },
  }),
  'Mutation.updatePipeline': (s) => ({ id: s.pipelineId, input: { stages: s.stageIds.map((id, index) => ({ id, name: `Stage ${index}` })) } }),
  'Mutation.createDeal': (s) => ({ input: { title: 'Bare deal', pipelineId: s.pipelineId } }),
  'Mutation.updateDeal': (s) => ({ id: s.dealId, input: { contactId: null, ownerId: null, expectedCloseDate: null } }),
  'Mutation.loseDeal': async (s) => ({ id: await s.newDeal() }),
  'Mutation.createTask': (s) => ({ input: { title: 'About nothing', branchId: s.branchId } }),
  'Mutation.updateTask': (s) => ({ id: s.looseTaskId, input: { branchId: s.branchId, dueAt: null, assigneeId: null, description: null } }),
  'Mutation.createNote': (s) => ({ input: { body: 'On the deal', dealId: s.dealId } }),
  'Mutation.updateNote': (s) => ({ id: s.dealNoteId, input: { body: 'On the deal, edited' } }),
  'Mutation.deleteNote': async (s) => ({ id: await s.newDealNote() }),
};
const probedOnce = Object.fromEntries(
  Object.keys(operations)
    .filter((key) => !(key in otherOperations))
    .map((key) => [key, 'probed with the first set of variables']),
);

/** The spec of one sweep: both callers, each on their own records (the owner's first). */
function sweep(bases: typeof operations, skip?: Record<string, string>): EdgeInputSpec<Seed> {
  return {
    module: 'crm',
    seed: async (company) => ({ owner: await recordsOf('owner', company, test), member: await recordsOf('member', company, test) }),
    callers: (seed) => ({ owner: seed.owner.as, member: seed.member.as }),
    operations: Object.fromEntries(Object.entries(bases).map(([key, base]) => [key, (seed: Seed, caller: string) => base(seed[caller as Caller])])),
    ...(skip ? { skip } : {}),
  };
}

t.test('crm: every root query, mutation and subscription answers edge inputs with data or a clear error, as the OWNER and as a MEMBER of one branch', async (t) => {
  await assertEdgeInputs(t, test, sweep(operations));
});

t.test('crm: … and so do those with other paths, given other valid variables', async (t) => {
  await assertEdgeInputs(t, test, sweep(otherOperations, probedOnce));
});
