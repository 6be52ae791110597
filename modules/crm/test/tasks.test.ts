import t from 'tap';
import { assertTenantIsolation, postgresOnly, type TestApp, type TestCompany } from '@atrium/core/testing';
import { countRows, CREATE_CONTACT, crmApp } from './helpers.ts';

const TASK_FIELDS = 'id title description assignee { id } dueAt done doneAt completedBy { id } contact { id } deal { id } branch { id } createdBy { id } createdAt';
const CREATE_TASK = `mutation ($input: CreateTaskInput!) { createTask(input: $input) { ${TASK_FIELDS} } }`;
const UPDATE_TASK = `mutation ($id: ID!, $input: UpdateTaskInput!) { updateTask(id: $id, input: $input) { ${TASK_FIELDS} } }`;
const COMPLETE_TASK = `mutation ($id: ID!) { completeTask(id: $id) { ${TASK_FIELDS} } }`;
const REOPEN_TASK = `mutation ($id: ID!) { reopenTask(id: $id) { ${TASK_FIELDS} } }`;
const TASK = `query ($id: ID!) { task(id: $id) { ${TASK_FIELDS} } }`;
const TASKS = /* GraphQL */ `
  query ($first: Int, $after: String, $filter: CrmTaskFilter, $orderBy: CrmTaskOrder) {
    tasks(first: $first, after: $after, filter: $filter, orderBy: $orderBy) {
      totalCount
      edges { cursor node { id title } }
      pageInfo { hasNextPage endCursor }
    }
  }
`;
const NOTE_FIELDS = 'id body author { id } contact { id } deal { id } createdAt updatedAt';
const CREATE_NOTE = `mutation ($input: CreateNoteInput!) { createNote(input: $input) { ${NOTE_FIELDS} } }`;
const UPDATE_NOTE = `mutation ($id: ID!, $input: UpdateNoteInput!) { updateNote(id: $id, input: $input) { ${NOTE_FIELDS} } }`;
const DELETE_NOTE = 'mutation ($id: ID!) { deleteNote(id: $id) }';
const NOTES = /* GraphQL */ `
  query ($first: Int, $after: String, $contactId: ID, $dealId: ID) {
    notes(first: $first, after: $after, contactId: $contactId, dealId: $dealId) {
      totalCount
      edges { node { id body } }
      pageInfo { hasNextPage endCursor }
    }
  }
`;
const TIMELINE = /* GraphQL */ `
  query ($id: ID!, $first: Int, $after: String, $kinds: [String!]) {
    contact(id: $id) {
      timeline(first: $first, after: $after, kinds: $kinds) {
        totalCount
        edges { cursor node { id kind title subjectType subjectId actor { id } data occurredAt } }
        pageInfo { hasNextPage endCursor }
      }
    }
  }
`;

type Who = { token: string };
const titles = (res: { data?: any }) => res.data.tasks.edges.map((edge: any) => edge.node.title);
const codeOf = (res: { errors?: { extensions?: { code?: string } }[] }) => res.errors?.[0]?.extensions?.code;

async function contact(test: TestApp, who: Who, name: string, branchId?: string): Promise<string> {
  const res = await test.gql(CREATE_CONTACT, { input: { name, ...(branchId ? { branchId } : {}) } }, who);
  if (res.errors) throw new Error(JSON.stringify(res.errors));
  return res.data.createContact.id;
}

async function deal(test: TestApp, who: Who, title: string, extra: Record<string, unknown> = {}): Promise<string> {
  const pipelines = await test.gql('{ pipelines { id } }', {}, who);
  const res = await test.gql('mutation ($input: CreateDealInput!) { createDeal(input: $input) { id } }', { input: { title, pipelineId: pipelines.data.pipelines[0].id, ...extra } }, who);
  if (res.errors) throw new Error(JSON.stringify(res.errors));
  return res.data.createDeal.id;
}

async function task(test: TestApp, who: Who, input: Record<string, unknown>): Promise<any> {
  const res = await test.gql(CREATE_TASK, { input }, who);
  if (res.errors) throw new Error(JSON.stringify(res.errors));
  return res.data.createTask;
}

async function branch(test: TestApp, company: TestCompany, name: string): Promise<string> {
  return (await test.gql('mutation ($input: CreateBranchInput!) { createBranch(input: $input) { id } }', { input: { name } }, company.owner)).data.createBranch.id;
}

const events = (test: TestApp, name: string) => test.sql<{ payload: Record<string, string> }>('select payload from atrium_event where name = $1 order by id', [name]);

/** Rows of every table a task or note mutation writes: a refused mutation leaves them all as they were. */
async function written(test: TestApp): Promise<Record<string, number>> {
  const tables = ['crm_task', 'crm_note', 'crm_contact_activity', 'atrium_event'];
  return Object.fromEntries(await Promise.all(tables.map(async (table) => [table, await countRows(test, table)])));
}

t.test('tasks: create, assign, complete, reopen, list', async (t) => {
  const { test, company } = await crmApp();
  t.teardown(() => test.close());
  const owner = company.owner;
  const alice = await contact(test, owner, 'Alice');
  const assistant = await test.createUser({ company, permissions: ['crm.task.read', 'crm.task.manage'] });

  const created = await test.gql(
    CREATE_TASK,
    { input: { title: '  Call Alice  ', description: 'About the offer', assigneeId: assistant.id, dueAt: '2026-12-01T09:00:00+02:00', contactId: alice } },
    owner,
  );
  t.equal(created.errors, undefined);
  const call = created.data.createTask;
  t.match(call, {
    title: 'Call Alice',
    description: 'About the offer',
    assignee: { id: assistant.id },
    dueAt: '2026-12-01T07:00:00.000Z',
    done: false,
    doneAt: null,
    completedBy: null,
    contact: { id: alice },
    deal: null,
    branch: { id: company.defaultBranchId },
    createdBy: { id: owner.id },
  });
  t.same((await events(test, 'crm.task.assigned')).map((e) => e.payload), [{ taskId: call.id, assigneeId: assistant.id }], 'crm.task.assigned is in the outbox');
  t.same((await test.gql(TASK, { id: call.id }, owner)).data.task, call, 'task(id) answers the same');
  t.same((await test.gql(TASK, { id: 'not-an-id' }, owner)).data, { task: null });

  t.test('updateTask changes the fields given; a new assignee emits crm.task.assigned again', async (t) => {
    const same = await test.gql(UPDATE_TASK, { id: call.id, input: { assigneeId: assistant.id, title: 'Call Alice back' } }, owner);
    t.equal(same.data.updateTask.title, 'Call Alice back');
    t.equal((await events(test, 'crm.task.assigned')).length, 1, 'the same assignee again is no new assignment');
    const moved = await test.gql(UPDATE_TASK, { id: call.id, input: { assigneeId: owner.id, dueAt: null, description: null } }, owner);
    t.match(moved.data.updateTask, { assignee: { id: owner.id }, dueAt: null, description: null, title: 'Call Alice back', contact: { id: alice } });
    t.same((await events(test, 'crm.task.assigned')).map((e) => e.payload.assigneeId), [assistant.id, owner.id]);
    const unassigned = await test.gql(UPDATE_TASK, { id: call.id, input: { assigneeId: null } }, owner);
    t.equal(unassigned.data.updateTask.assignee, null);
    t.equal((await events(test, 'crm.task.assigned')).length, 2, 'unassigning emits nothing');
    await test.gql(UPDATE_TASK, { id: call.id, input: { assigneeId: assistant.id, dueAt: '2026-12-01T07:00:00Z' } }, owner);
  });

  t.test('completeTask is idempotent: one event, one timeline entry; reopenTask undoes it', async (t) => {
    const done = await test.gql(COMPLETE_TASK, { id: call.id }, { token: assistant.token });
    t.match(done.data.completeTask, { done: true, doneAt: /Z$/, completedBy: { id: assistant.id }, contact: null }, 'the contact is null for whoever may not read it');
    const again = await test.gql(COMPLETE_TASK, { id: call.id }, owner);
    t.same(again.data.completeTask, { ...done.data.completeTask, contact: { id: alice } }, 'completing a done task changes nothing');
    t.same((await events(test, 'crm.task.completed')).map((e) => e.payload), [{ taskId: call.id }]);
    t.equal(await countRows(test, 'crm_contact_activity', "kind = 'crm.task.completed'"), 1);

    const reopened = await test.gql(REOPEN_TASK, { id: call.id }, owner);
    t.match(reopened.data.reopenTask, { done: false, doneAt: null, completedBy: null });
    t.same((await test.gql(REOPEN_TASK, { id: call.id }, owner)).data.reopenTask, reopened.data.reopenTask, 'reopening an open task changes nothing');
    t.equal(codeOf(await test.gql(COMPLETE_TASK, { id: '0190a1b2-0000-7000-8000-000000000000' }, owner)), 'NOT_FOUND');
  });

  t.test('tasks filter and order in SQL', async (t) => {
    const bob = await contact(test, owner, 'Bob');
    await task(test, owner, { title: 'Undated', contactId: bob });
    await task(test, owner, { title: 'Soon', dueAt: '2026-11-25T00:00:00Z', assigneeId: owner.id });
    const later = await task(test, owner, { title: 'Later', dueAt: '2027-01-10T00:00:00Z', assigneeId: assistant.id });
    await test.gql(COMPLETE_TASK, { id: later.id }, owner);

    const all = await test.gql(TASKS, {}, owner);
    t.equal(all.data.tasks.totalCount, 4);
    t.same(titles(all), ['Soon', 'Call Alice back', 'Later', 'Undated'], 'due soonest first, undated last');
    t.same(titles(await test.gql(TASKS, { orderBy: 'NEWEST' }, owner)), ['Later', 'Soon', 'Undated', 'Call Alice back']);
    const page = await test.gql(TASKS, { first: 3 }, owner);
    t.equal(page.data.tasks.pageInfo.hasNextPage, true);
    const rest = await test.gql(TASKS, { first: 3, after: page.data.tasks.pageInfo.endCursor }, owner);
    t.same(titles(rest), ['Undated'], 'the cursor pages past the null due dates too');
    t.equal(rest.data.tasks.pageInfo.hasNextPage, false);

    t.same(titles(await test.gql(TASKS, { filter: { mine: true } }, { token: assistant.token })), ['Call Alice back', 'Later']);
    t.same(titles(await test.gql(TASKS, { filter: { mine: true } }, owner)), ['Soon']);
    t.same(titles(await test.gql(TASKS, { filter: { assigneeId: assistant.id, done: false } }, owner)), ['Call Alice back']);
    t.same(titles(await test.gql(TASKS, { filter: { done: true } }, owner)), ['Later']);
    t.same(titles(await test.gql(TASKS, { filter: { contactId: bob } }, owner)), ['Undated']);
    t.same(titles(await test.gql(TASKS, { filter: { dueBefore: '2026-12-31T00:00:00Z' } }, owner)), ['Soon', 'Call Alice back']);

    const open = await test.gql('query ($id: ID!) { contact(id: $id) { tasks { title } } }', { id: alice }, owner);
    t.same(open.data.contact.tasks, [{ title: 'Call Alice back' }], 'Contact.tasks: the open ones');
    const reader = await test.createUser({ company, permissions: ['crm.contact.read'] });
    t.same((await test.gql('query ($id: ID!) { contact(id: $id) { tasks { title } } }', { id: alice }, { token: reader.token })).data.contact.tasks, null, 'null without crm.task.read');
    t.equal(codeOf(await test.gql(TASKS, {}, { token: reader.token })), 'FORBIDDEN');
    t.equal(codeOf(await test.gql(TASKS, { first: 101 }, owner)), 'BAD_USER_INPUT');
    t.equal(codeOf(await test.gql(TASKS, { after: 'nope' }, owner)), 'BAD_USER_INPUT');
  });
});

t.test('tasks and notes on deals', async (t) => {
  const { test, company } = await crmApp();
  t.teardown(() => test.close());
  const owner = company.owner;
  const south = await branch(test, company, 'South');
  const alice = await contact(test, owner, 'Alice');
  const bigDeal = await deal(test, owner, 'Big deal', { branchId: south });

  const onDeal = await task(test, owner, { title: 'Send the offer', dealId: bigDeal, contactId: alice });
  t.match(onDeal, { deal: { id: bigDeal }, contact: { id: alice }, branch: { id: south } }, "a task about a deal lives in the deal's branch");
  t.same(titles(await test.gql(TASKS, { filter: { dealId: bigDeal } }, owner)), ['Send the offer']);

  const note = await test.gql(CREATE_NOTE, { input: { body: 'They want a discount', dealId: bigDeal } }, owner);
  t.match(note.data.createNote, { body: 'They want a discount', deal: { id: bigDeal }, contact: null, author: { id: owner.id } });
  t.same((await test.gql(NOTES, { dealId: bigDeal }, owner)).data.notes.edges.map((e: any) => e.node.body), ['They want a discount']);
  t.equal(await countRows(test, 'crm_contact_activity', "kind = 'crm.note.added'"), 0, 'a note on a deal is not on a contact timeline');

  const northReader = await test.createUser({ company, permissions: ['crm.deal.read', 'crm.contact.read', 'crm.task.read'] });
  const as = { token: northReader.token };
  t.same((await test.gql(NOTES, { dealId: bigDeal }, as)).data.notes, { totalCount: 0, edges: [], pageInfo: { hasNextPage: false, endCursor: null } }, "a deal one cannot see has no notes one can read");
  t.equal((await test.gql(TASK, { id: onDeal.id }, as)).data.task, null, "the task is in the deal's branch");
  const southReader = await test.createUser({ company, permissions: ['crm.task.read', 'crm.contact.read'], branches: [south] });
  const fromSouth = await test.gql(TASK, { id: onDeal.id }, { token: southReader.token });
  t.match(fromSouth.data.task, { id: onDeal.id, deal: null, contact: null }, 'references the viewer may not read resolve to null');
  t.equal(codeOf(await test.gql(NOTES, { dealId: bigDeal }, { token: southReader.token })), 'FORBIDDEN', 'notes of deals need crm.deal.read');
});

t.test('notes: write, list, edit and delete by the author', async (t) => {
  const { test, company } = await crmApp();
  t.teardown(() => test.close());
  const owner = company.owner;
  const alice = await contact(test, owner, 'Alice');
  const colleague = await test.createUser({ company, permissions: ['crm.contact.read', 'crm.note.create'] });

  const first = await test.gql(CREATE_NOTE, { input: { body: ' Met at the fair. ', contactId: alice } }, owner);
  t.equal(first.errors, undefined);
  t.match(first.data.createNote, { body: 'Met at the fair.', contact: { id: alice }, deal: null, author: { id: owner.id } });
  const second = (await test.gql(CREATE_NOTE, { input: { body: 'Prefers e-mail', contactId: alice } }, { token: colleague.token })).data.createNote;
  const list = await test.gql(NOTES, { contactId: alice, first: 1 }, owner);
  t.equal(list.data.notes.totalCount, 2);
  t.same(list.data.notes.edges.map((e: any) => e.node.body), ['Prefers e-mail'], 'newest first');
  const next = await test.gql(NOTES, { contactId: alice, first: 1, after: list.data.notes.pageInfo.endCursor }, owner);
  t.same(next.data.notes.edges.map((e: any) => e.node.body), ['Met at the fair.']);

  const before = await written(test);
  t.equal(codeOf(await test.gql(UPDATE_NOTE, { id: second.id, input: { body: 'Prefers phone' } }, owner)), 'FORBIDDEN', 'not the author — not even the OWNER');
  t.equal(codeOf(await test.gql(DELETE_NOTE, { id: second.id }, owner)), 'FORBIDDEN');
  t.same(await written(test), before);
  t.equal((await test.sql<{ body: string }>('select body from crm_note where id = $1', [second.id]))[0]?.body, 'Prefers e-mail');

  const edited = await test.gql(UPDATE_NOTE, { id: second.id, input: { body: 'Prefers phone' } }, { token: colleague.token });
  t.equal(edited.data.updateNote.body, 'Prefers phone');
  const entry = (await test.gql(TIMELINE, { id: alice, kinds: ['crm.note.added'] }, owner)).data.contact.timeline.edges[0].node;
  t.match(entry, { title: 'Prefers phone', subjectType: 'CrmNote', subjectId: second.id, actor: { id: colleague.id } }, 'the timeline shows the current words');

  t.equal((await test.gql(DELETE_NOTE, { id: second.id }, { token: colleague.token })).data.deleteNote, second.id);
  t.equal(await countRows(test, 'crm_note', 'id = $1', [second.id]), 0);
  t.equal(await countRows(test, 'crm_contact_activity', 'subject_id = $1', [second.id]), 0, 'its timeline entry is gone with it');
  const afterDelete = await written(test);
  t.equal(codeOf(await test.gql(DELETE_NOTE, { id: second.id }, { token: colleague.token })), 'NOT_FOUND', 'a deleted note is not found');
  t.same(await written(test), afterDelete, 'deleting it again writes nothing');
});

t.test('the contact timeline: newest first, paged, filtered by kind, batched over a page of contacts', async (t) => {
  const { test, company } = await crmApp();
  t.teardown(() => test.close());
  const owner = company.owner;
  const alice = await contact(test, owner, 'Alice');
  await test.gql(CREATE_NOTE, { input: { body: 'First note', contactId: alice } }, owner);
  const call = await task(test, owner, { title: 'Call her', contactId: alice });
  await test.gql(COMPLETE_TASK, { id: call.id }, owner);
  await test.gql(CREATE_NOTE, { input: { body: 'Second note', contactId: alice } }, owner);

  const page = await test.gql(TIMELINE, { id: alice, first: 3 }, owner);
  t.equal(page.errors, undefined);
  const timeline = page.data.contact.timeline;
  t.equal(timeline.totalCount, 4);
  t.same(
    timeline.edges.map((e: any) => [e.node.kind, e.node.title]),
    [
      ['crm.note.added', 'Second note'],
      ['crm.task.completed', 'Call her'],
      ['crm.task.created', 'Call her'],
    ],
  );
  t.match(timeline.edges[1].node, { subjectType: 'CrmTask', subjectId: call.id, actor: { id: owner.id }, data: {} });
  t.equal(timeline.pageInfo.hasNextPage, true);
  const rest = (await test.gql(TIMELINE, { id: alice, first: 3, after: timeline.pageInfo.endCursor }, owner)).data.contact.timeline;
  t.same(rest.edges.map((e: any) => e.node.title), ['First note']);
  t.same([rest.totalCount, rest.pageInfo.hasNextPage], [4, false]);
  const past = (await test.gql(TIMELINE, { id: alice, after: rest.pageInfo.endCursor }, owner)).data.contact.timeline;
  t.same([past.edges, past.totalCount, past.pageInfo.hasNextPage], [[], 4, false], 'past the end: an empty page, the same total');

  const notes = (await test.gql(TIMELINE, { id: alice, kinds: ['crm.note.added'] }, owner)).data.contact.timeline;
  t.same(notes.edges.map((e: any) => e.node.title), ['Second note', 'First note']);
  t.equal(notes.totalCount, 2);
  t.equal((await test.gql(TIMELINE, { id: alice, kinds: [] }, owner)).data.contact.timeline.totalCount, 0);
  t.equal((await test.sql<{ last: Date }>('select last_activity_at as last from crm_contact where id = $1', [alice]))[0]?.last instanceof Date, true, 'the contact records its last activity');

  t.equal(codeOf(await test.gql(TIMELINE, { id: alice, after: 'bm9wZQ' }, owner)), 'BAD_USER_INPUT', 'a forged cursor');
  const forged = Buffer.from(JSON.stringify(["2026-01-01'; drop table crm_task; --", '0190a1b2-0000-7000-8000-000000000000'])).toString('base64url');
  t.equal(codeOf(await test.gql(TIMELINE, { id: alice, after: forged }, owner)), 'BAD_USER_INPUT', 'a cursor of the right shape with a bad time');

  t.test('entries apart by microseconds (written by SQL) page without loss', async (t) => {
    const carol = await contact(test, owner, 'Carol');
    for (const [title, at] of [['older', '2026-01-01T00:00:00.123400Z'], ['newer', '2026-01-01T00:00:00.123456Z']]) {
      await test.sql(
        `insert into crm_contact_activity (id, company_id, contact_id, kind, title, occurred_at) values (gen_random_uuid(), $1, $2, 'test.imported', $3, $4)`,
        [company.id, carol, title, at],
      );
    }
    const one = (await test.gql(TIMELINE, { id: carol, first: 1 }, owner)).data.contact.timeline;
    const two = (await test.gql(TIMELINE, { id: carol, first: 1, after: one.pageInfo.endCursor }, owner)).data.contact.timeline;
    t.same([...one.edges, ...two.edges].map((e: any) => e.node.title), ['newer', 'older']);
    t.equal(two.pageInfo.hasNextPage, false);
  });
  t.equal(codeOf(await test.gql(TIMELINE, { id: alice, first: 0 }, owner)), 'BAD_USER_INPUT');

  t.test('a page of contacts with their timelines is a bounded number of statements', async (t) => {
    const LIST = '{ contacts(first: 100) { edges { node { name timeline(first: 2) { totalCount edges { node { title actor { id } } } } tasks { title } } } } }';
    const count = async () => {
      let res: any;
      const statements = await test.statements(async () => (res = await test.gql(LIST, {}, owner)));
      t.equal(res.errors, undefined);
      return { statements: statements.length, res };
    };
    const few = await count();
    for (const name of ['Bob', 'Carol', 'Dan']) {
      const id = await contact(test, owner, name);
      await test.gql(CREATE_NOTE, { input: { body: `Note on ${name}`, contactId: id } }, owner);
      await task(test, owner, { title: `Task for ${name}`, contactId: id });
    }
    const many = await count();
    t.equal(many.statements, few.statements, `${few.statements} statements for 1 contact and for 4`);
    const bob = many.res.data.contacts.edges.find((e: any) => e.node.name === 'Bob').node;
    t.same(bob.timeline.edges.map((e: any) => e.node.title), ['Task for Bob', 'Note on Bob']);
    t.same(bob.tasks, [{ title: 'Task for Bob' }]);
    t.equal(many.res.data.contacts.edges.find((e: any) => e.node.name === 'Alice').node.timeline.totalCount, 4);
  });

  t.test('only viewers who can read the contact see its timeline', async (t) => {
    const south = await branch(test, company, 'South');
    const member = await test.createUser({ company, permissions: ['crm.contact.read'], branches: [south] });
    t.same((await test.gql(TIMELINE, { id: alice }, { token: member.token })).data, { contact: null });
    const reader = await test.createUser({ company, permissions: ['crm.contact.read'] });
    t.equal((await test.gql(TIMELINE, { id: alice }, { token: reader.token })).data.contact.timeline.totalCount, 4);
  });
});

t.test('a page of tasks is a bounded number of statements', async (t) => {
  const { test, company } = await crmApp();
  t.teardown(() => test.close());
  const owner = company.owner;
  const LIST = `{ tasks(first: 100) { edges { node { ${TASK_FIELDS} } } } }`;
  const add = async (n: number) => {
    for (let i = 0; i < n; i += 1) {
      const contactId = await contact(test, owner, `Contact ${i}`);
      const dealId = await deal(test, owner, `Deal ${i}`, { contactId });
      const created = await task(test, owner, { title: `Task ${i}`, contactId, dealId, assigneeId: owner.id });
      await test.gql(COMPLETE_TASK, { id: created.id }, owner);
    }
  };
  const measure = async () => {
    let res: any;
    const statements = await test.statements(async () => (res = await test.gql(LIST, {}, owner)));
    t.equal(res.errors, undefined);
    return statements.length;
  };
  await add(1);
  const one = await measure();
  await add(4);
  t.equal(await measure(), one, `${one} statements for 1 task and for 5`);
});

t.test('bad input answers its code and writes nothing', async (t) => {
  const { test, company } = await crmApp();
  t.teardown(() => test.close());
  const owner = company.owner;
  const other = await test.createCompany();
  const south = await branch(test, company, 'South');
  const alice = await contact(test, owner, 'Alice');
  const southContact = await contact(test, owner, 'Sam', south);
  const foreignContact = await contact(test, other.owner, 'Foreign');
  const gone = await contact(test, owner, 'Gone');
  await test.gql('mutation ($id: ID!) { deleteContact(id: $id) { id } }', { id: gone }, owner);
  const quitter = await test.createUser({ company });
  await test.gql('mutation ($id: ID!) { deactivateUser(id: $id) { id } }', { id: quitter.id }, owner);
  const northMember = await test.createUser({ company, permissions: ['crm.task.read', 'crm.task.manage', 'crm.contact.read', 'crm.note.create'] });
  const member = { token: northMember.token };
  const readOnly = await test.createUser({ company, permissions: ['crm.task.read', 'crm.contact.read'] });
  const existing = await task(test, owner, { title: 'Existing', contactId: alice });
  const finished = await task(test, owner, { title: 'Finished' });
  await test.gql(COMPLETE_TASK, { id: finished.id }, owner);
  const note = (await test.gql(CREATE_NOTE, { input: { body: 'Original', contactId: alice } }, owner)).data.createNote.id;
  // The MEMBER's note on a contact moved since to a branch the MEMBER cannot read: out of the author's reach.
  const moved = await contact(test, owner, 'Moved');
  const hiddenNote = (await test.gql(CREATE_NOTE, { input: { body: 'Before the move', contactId: moved } }, member)).data.createNote.id;
  await test.gql('mutation ($id: ID!, $input: UpdateContactInput!) { updateContact(id: $id, input: $input) { id } }', { id: moved, input: { branchId: south } }, owner);
  const unknown = '0190a1b2-0000-7000-8000-000000000000';

  const cases: { name: string; query: string; variables: Record<string, unknown>; who?: Who; code: string; fields?: Record<string, string> }[] = [
    { name: 'an empty title', query: CREATE_TASK, variables: { input: { title: '  ' } }, code: 'BAD_USER_INPUT', fields: { 'input.title': 'must match pattern "\\S"' } },
    { name: 'an unknown field', query: CREATE_TASK, variables: { input: { title: 'x', companyId: other.id } }, code: 'BAD_USER_INPUT' },
    // The ISO pattern admits year 0000, which PostgreSQL (and the proleptic calendar it counts in) has not.
    { name: 'a due time in year 0', query: CREATE_TASK, variables: { input: { title: 'x', dueAt: '0000-01-01T00:00:00Z' } }, code: 'BAD_USER_INPUT' },
    { name: 'a due time that is year 0 in UTC', query: CREATE_TASK, variables: { input: { title: 'x', dueAt: '0001-01-01T00:30:00+01:00' } }, code: 'BAD_USER_INPUT' },
    { name: 'an assignee of another company', query: CREATE_TASK, variables: { input: { title: 'x', assigneeId: other.owner.id } }, code: 'BAD_USER_INPUT', fields: { 'input.assigneeId': 'is not an active user of your company' } },
    { name: 'a deactivated assignee', query: CREATE_TASK, variables: { input: { title: 'x', assigneeId: quitter.id } }, code: 'BAD_USER_INPUT', fields: { 'input.assigneeId': 'is not an active user of your company' } },
    { name: 'a contact of another company', query: CREATE_TASK, variables: { input: { title: 'x', contactId: foreignContact } }, code: 'BAD_USER_INPUT', fields: { 'input.contactId': 'is not a contact you can see' } },
    { name: 'a contact the MEMBER cannot read', query: CREATE_TASK, variables: { input: { title: 'x', contactId: southContact } }, who: member, code: 'BAD_USER_INPUT', fields: { 'input.contactId': 'is not a contact you can see' } },
    { name: 'a deleted contact', query: CREATE_TASK, variables: { input: { title: 'x', contactId: gone } }, code: 'BAD_USER_INPUT', fields: { 'input.contactId': 'is a deleted contact' } },
    { name: 'an unknown deal', query: CREATE_TASK, variables: { input: { title: 'x', dealId: '0190a1b2-0000-7000-8000-000000000000' } }, code: 'BAD_USER_INPUT', fields: { 'input.dealId': 'is not a deal you can see' } },
    { name: "a branch other than the contact's", query: CREATE_TASK, variables: { input: { title: 'x', contactId: alice, branchId: south } }, code: 'BAD_USER_INPUT' },
    { name: 'a branch of another company', query: CREATE_TASK, variables: { input: { title: 'x', branchId: other.defaultBranchId } }, code: 'BAD_USER_INPUT', fields: { 'input.branchId': 'is not a branch of your company' } },
    { name: "a task in a branch not the MEMBER's", query: CREATE_TASK, variables: { input: { title: 'x', branchId: south } }, who: member, code: 'FORBIDDEN' },
    { name: 'creating without crm.task.manage', query: CREATE_TASK, variables: { input: { title: 'x' } }, who: { token: readOnly.token }, code: 'FORBIDDEN' },
    { name: 'completing without crm.task.manage', query: COMPLETE_TASK, variables: { id: existing.id }, who: { token: readOnly.token }, code: 'FORBIDDEN' },
    { name: 'updating an unknown task', query: UPDATE_TASK, variables: { id: '0190a1b2-0000-7000-8000-000000000000', input: { title: 'y' } }, code: 'NOT_FOUND' },
    { name: 'a reassignment to another company', query: UPDATE_TASK, variables: { id: existing.id, input: { title: 'changed', assigneeId: other.owner.id } }, code: 'BAD_USER_INPUT' },
    { name: 'a null title', query: UPDATE_TASK, variables: { id: existing.id, input: { title: null } }, code: 'BAD_USER_INPUT', fields: { 'input.title': 'must be string' } },
    { name: 'a note on both a contact and a deal', query: CREATE_NOTE, variables: { input: { body: 'x', contactId: alice, dealId: '0190a1b2-0000-7000-8000-000000000000' } }, code: 'BAD_USER_INPUT', fields: { 'input.contactId': 'give exactly one of contactId and dealId' } },
    { name: 'a note on nothing', query: CREATE_NOTE, variables: { input: { body: 'x' } }, code: 'BAD_USER_INPUT', fields: { 'input.contactId': 'give exactly one of contactId and dealId' } },
    { name: 'an empty note', query: CREATE_NOTE, variables: { input: { body: ' \n ', contactId: alice } }, code: 'BAD_USER_INPUT', fields: { 'input.body': 'must match pattern "\\S"' } },
    { name: 'a note too long', query: CREATE_NOTE, variables: { input: { body: 'x'.repeat(10001), contactId: alice } }, code: 'BAD_USER_INPUT', fields: { 'input.body': 'must NOT have more than 10000 characters' } },
    { name: 'a note on a contact of another company', query: CREATE_NOTE, variables: { input: { body: 'x', contactId: foreignContact } }, code: 'BAD_USER_INPUT', fields: { 'input.contactId': 'is not a contact you can see' } },
    { name: 'a note on a contact the MEMBER cannot read', query: CREATE_NOTE, variables: { input: { body: 'x', contactId: southContact } }, who: member, code: 'BAD_USER_INPUT' },
    { name: 'a note without crm.note.create', query: CREATE_NOTE, variables: { input: { body: 'x', contactId: alice } }, who: { token: readOnly.token }, code: 'FORBIDDEN' },
    { name: 'notes of nothing', query: NOTES, variables: {}, code: 'BAD_USER_INPUT', fields: { contactId: 'give exactly one of contactId and dealId' } },
    { name: 'reopening an unknown task', query: REOPEN_TASK, variables: { id: unknown }, code: 'NOT_FOUND' },
    { name: 'reopening a malformed id', query: REOPEN_TASK, variables: { id: 'nope' }, code: 'NOT_FOUND' },
    { name: 'reopening without crm.task.manage', query: REOPEN_TASK, variables: { id: finished.id }, who: { token: readOnly.token }, code: 'FORBIDDEN' },
    { name: 'an empty note edit', query: UPDATE_NOTE, variables: { id: note, input: { body: ' \n ' } }, code: 'BAD_USER_INPUT', fields: { 'input.body': 'must match pattern "\\S"' } },
    { name: 'a note edit too long', query: UPDATE_NOTE, variables: { id: note, input: { body: 'x'.repeat(10001) } }, code: 'BAD_USER_INPUT', fields: { 'input.body': 'must NOT have more than 10000 characters' } },
    { name: 'a note edit moving it to a deal (refused by the schema itself)', query: UPDATE_NOTE, variables: { id: note, input: { body: 'y', dealId: unknown } }, code: 'BAD_USER_INPUT' },
    { name: 'editing an unknown note', query: UPDATE_NOTE, variables: { id: unknown, input: { body: 'y' } }, code: 'NOT_FOUND' },
    { name: 'editing a malformed note id', query: UPDATE_NOTE, variables: { id: 'nope', input: { body: 'y' } }, code: 'NOT_FOUND' },
    { name: 'editing one’s note on a contact one no longer sees', query: UPDATE_NOTE, variables: { id: hiddenNote, input: { body: 'y' } }, who: member, code: 'NOT_FOUND' },
    { name: 'deleting an unknown note', query: DELETE_NOTE, variables: { id: unknown }, code: 'NOT_FOUND' },
    { name: 'deleting one’s note on a contact one no longer sees', query: DELETE_NOTE, variables: { id: hiddenNote }, who: member, code: 'NOT_FOUND' },
  ];
  for (const c of cases) {
    const before = await written(test);
    const res = await test.gql(c.query, c.variables, c.who ?? owner);
    t.equal(codeOf(res), c.code, `${c.name}: ${c.code}`);
    if (c.fields) t.same(res.errors?.[0]?.extensions?.fields, c.fields, `${c.name}: fields`);
    t.same(await written(test), before, `${c.name}: nothing written`);
  }
  t.equal((await test.gql(TASK, { id: existing.id }, owner)).data.task.title, 'Existing');
  t.match((await test.gql(TASK, { id: finished.id }, owner)).data.task, { done: true, doneAt: /Z$/, completedBy: { id: owner.id } }, 'the refused reopening left the task done');
  t.same(
    await test.sql<{ id: string; body: string }>('select id, body from crm_note where id in ($1, $2) order by body', [note, hiddenNote]),
    [
      { id: hiddenNote, body: 'Before the move' },
      { id: note, body: 'Original' },
    ],
    'the refused edits changed no note',
  );
  t.same(
    (await test.sql<{ title: string }>(`select title from crm_contact_activity where subject_id in ($1, $2) order by title`, [note, hiddenNote])).map((row) => row.title),
    ['Before the move', 'Original'],
    'nor their timeline entries',
  );
});

t.test('a MEMBER sees and changes only the tasks of its branches', async (t) => {
  const { test, company } = await crmApp();
  t.teardown(() => test.close());
  const owner = company.owner;
  const north = company.defaultBranchId;
  const south = await branch(test, company, 'South');
  const southContact = await contact(test, owner, 'Sam', south);
  const northTask = await task(test, owner, { title: 'North task', branchId: north });
  const southTask = await task(test, owner, { title: 'South task', contactId: southContact });
  t.equal(southTask.branch.id, south, "the contact's branch");

  const reader = await test.createUser({ company, permissions: ['crm.task.read'], branches: [north] });
  const as = { token: reader.token };
  const list = await test.gql(TASKS, {}, as);
  t.same([list.data.tasks.totalCount, titles(list)], [1, ['North task']]);
  t.equal((await test.gql(TASK, { id: southTask.id }, as)).data.task, null);
  t.same(titles(await test.gql(TASKS, { filter: { contactId: southContact } }, as)), []);

  const manager = await test.createUser({ company, permissions: ['crm.task.read', 'crm.task.manage'], branches: [north] });
  const before = await written(test);
  t.equal(codeOf(await test.gql(COMPLETE_TASK, { id: southTask.id }, { token: manager.token })), 'NOT_FOUND', 'another branch is out of reach');
  t.equal(codeOf(await test.gql(UPDATE_TASK, { id: northTask.id, input: { branchId: south } }, { token: manager.token })), 'FORBIDDEN', 'nor can a task be moved there');
  t.same(await written(test), before);
  const created = await test.gql(CREATE_TASK, { input: { title: 'Mine' } }, { token: manager.token });
  t.equal(created.data.createTask.branch.id, north, "a task about nothing lands in the MEMBER's first branch");
});

t.test('company B sees and changes nothing of company A', async (t) => {
  const { test } = await crmApp();
  t.teardown(() => test.close());
  await assertTenantIsolation(t, test, {
    async seed(a) {
      const as = { token: a.owner.token };
      const colleague = await test.createUser({ company: a });
      const contactId = await contact(test, as, 'A contact');
      const dealId = await deal(test, as, 'A deal', { contactId });
      const taskId = (await task(test, as, { title: 'A task', contactId, dealId, assigneeId: colleague.id, dueAt: '2026-12-01T00:00:00Z' })).id;
      const noteId = (await test.gql(CREATE_NOTE, { input: { body: 'A note', contactId } }, as)).data.createNote.id;
      const dealNoteId = (await test.gql(CREATE_NOTE, { input: { body: 'A deal note', dealId } }, as)).data.createNote.id;
      return { contactId, dealId, taskId, noteId, dealNoteId, userId: colleague.id, branchId: a.defaultBranchId };
    },
    // B's own task, about nothing: A's user, contact, deal and branch must be as unknown to it as missing ones.
    async own(b) {
      return { taskId: (await task(test, { token: b.owner.token }, { title: 'B task' })).id as string };
    },
    operations: [
      { name: 'task', query: TASK, variables: (s) => ({ id: s.taskId }) },
      { name: 'tasks', query: TASKS },
      { name: 'tasks by contact, deal and assignee', query: TASKS, variables: (s) => ({ filter: { contactId: s.contactId, dealId: s.dealId, assigneeId: s.userId } }) },
      { name: 'notes of a contact', query: NOTES, variables: (s) => ({ contactId: s.contactId }) },
      { name: 'notes of a deal', query: NOTES, variables: (s) => ({ dealId: s.dealId }) },
      { name: 'Contact.timeline and Contact.tasks', query: 'query ($id: ID!) { contact(id: $id) { timeline { totalCount } tasks { id } } }', variables: (s) => ({ id: s.contactId }) },
      { name: 'createTask on A contact', query: CREATE_TASK, variables: (s) => ({ input: { title: 'x', contactId: s.contactId } }) },
      { name: 'createTask on A deal', query: CREATE_TASK, variables: (s) => ({ input: { title: 'x', dealId: s.dealId } }) },
      { name: 'createTask for A user', query: CREATE_TASK, variables: (s) => ({ input: { title: 'x', assigneeId: s.userId } }) },
      { name: 'createTask in A branch', query: CREATE_TASK, variables: (s) => ({ input: { title: 'x', branchId: s.branchId } }) },
      { name: 'updateTask', query: UPDATE_TASK, variables: (s) => ({ id: s.taskId, input: { title: 'B was here' } }) },
      { name: 'updateTask of B’s for A user', query: UPDATE_TASK, variables: (s, own) => ({ id: own.taskId, input: { assigneeId: s.userId } }) },
      { name: 'updateTask of B’s onto A contact', query: UPDATE_TASK, variables: (s, own) => ({ id: own.taskId, input: { contactId: s.contactId } }) },
      { name: 'updateTask of B’s onto A deal', query: UPDATE_TASK, variables: (s, own) => ({ id: own.taskId, input: { dealId: s.dealId } }) },
      { name: 'updateTask of B’s into A branch', query: UPDATE_TASK, variables: (s, own) => ({ id: own.taskId, input: { branchId: s.branchId } }) },
      { name: 'completeTask', query: COMPLETE_TASK, variables: (s) => ({ id: s.taskId }) },
      { name: 'reopenTask', query: REOPEN_TASK, variables: (s) => ({ id: s.taskId }) },
      { name: 'createNote on A contact', query: CREATE_NOTE, variables: (s) => ({ input: { body: 'x', contactId: s.contactId } }) },
      { name: 'createNote on A deal', query: CREATE_NOTE, variables: (s) => ({ input: { body: 'x', dealId: s.dealId } }) },
      { name: 'updateNote', query: UPDATE_NOTE, variables: (s) => ({ id: s.noteId, input: { body: 'B was here' } }) },
      { name: 'deleteNote', query: DELETE_NOTE, variables: (s) => ({ id: s.dealNoteId }) },
    ],
  });
});

t.test('two completions at once count as one (PostgreSQL)', { skip: postgresOnly }, async (t) => {
  const { test, company } = await crmApp();
  t.teardown(() => test.close());
  const owner = company.owner;
  const alice = await contact(test, owner, 'Alice');
  const created = await task(test, owner, { title: 'Race', contactId: alice });
  const results = await Promise.all(Array.from({ length: 4 }, () => test.gql(COMPLETE_TASK, { id: created.id }, owner)));
  t.same(results.map((res) => res.errors), [undefined, undefined, undefined, undefined]);
  t.equal(new Set(results.map((res) => res.data.completeTask.doneAt)).size, 1, 'every caller sees the one completion');
  t.equal((await events(test, 'crm.task.completed')).length, 1);
  t.equal(await countRows(test, 'crm_contact_activity', "kind = 'crm.task.completed'"), 1);
});
