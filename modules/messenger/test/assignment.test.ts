import t from 'tap';
import { assertTenantIsolation, type TestApp, type TestUser } from '@atrium/core/testing';
import { AGENT_KEYS, agent, codeOf, countRows, createContact, createInbox as createAnyInbox, data, fieldsOf, messengerApp, type Who } from './helpers.ts';

const CONVERSATION = 'id status assignee { id } unreadCount';
const ASSIGN = `mutation ($conversationId: ID!, $assigneeId: ID) { assignConversation(conversationId: $conversationId, assigneeId: $assigneeId) { ${CONVERSATION} } }`;
const UNASSIGN = `mutation ($conversationId: ID!) { unassignConversation(conversationId: $conversationId) { ${CONVERSATION} } }`;
const SET_AVAILABILITY = 'mutation ($status: Availability!) { setAvailability(status: $status) }';
const AVAILABILITY = 'query ($userIds: [ID!]!) { agentAvailability(userIds: $userIds) { user { id } availability } }';
const SET_STATUS = `mutation ($id: ID!, $status: ConversationStatus!) { setConversationStatus(conversationId: $id, status: $status) { ${CONVERSATION} } }`;
const ACTIVITIES = `query ($id: ID!) { messages(conversationId: $id, first: 50) { edges { node { messageType contentAttributes } } } }`;
const CREATE_TEAM = 'mutation ($input: CreateTeamInput!) { createTeam(input: $input) { id name members { id } } }';
const ADD_TEAM_MEMBER = 'mutation ($teamId: ID!, $userId: ID!) { addTeamMember(teamId: $teamId, userId: $userId) { id name members { id } } }';
const REMOVE_TEAM_MEMBER = 'mutation ($teamId: ID!, $userId: ID!) { removeTeamMember(teamId: $teamId, userId: $userId) { id members { id } } }';
const TEAMS = '{ teams { id name members { id } } }';

/** An auto-assigning inbox (unless the input says otherwise) with these agents. */
const createInbox = (test: TestApp, owner: Who, input: Record<string, unknown>, members: TestUser[] = []) => createAnyInbox(test, owner, { autoAssign: true, ...input }, members);

const addMember = async (test: TestApp, owner: Who, inboxId: string, userId: string) =>
  data(await test.gql('mutation ($inboxId: ID!, $userId: ID!) { addInboxMember(inboxId: $inboxId, userId: $userId) { id } }', { inboxId, userId }, owner), 'addInboxMember');

const removeMember = async (test: TestApp, owner: Who, inboxId: string, userId: string) =>
  data(await test.gql('mutation ($inboxId: ID!, $userId: ID!) { removeInboxMember(inboxId: $inboxId, userId: $userId) { id } }', { inboxId, userId }, owner), 'removeInboxMember');

const setAvailability = async (test: TestApp, who: Who, status: string) => data(await test.gql(SET_AVAILABILITY, { status }, who), 'setAvailability');

const contact = (test: TestApp, owner: Who) => createContact(test, owner, 'Ann');

/** A new conversation in the inbox (started by the owner, who is no agent of it): its assignee's id or null. */
async function open(test: TestApp, owner: Who, inboxId: string, contactId: string): Promise<{ id: string; assignee: string | null }> {
  const created = data(await test.gql(`mutation ($input: CreateConversationInput!) { createConversation(input: $input) { ${CONVERSATION} } }`, { input: { inboxId, contactId } }, owner), 'createConversation').createConversation;
  return { id: created.id, assignee: created.assignee?.id ?? null };
}

/** The ASSIGNEE_CHANGED notices of a conversation, oldest first. */
async function assigneeNotices(test: TestApp, owner: Who, conversationId: string) {
  const edges = data(await test.gql(ACTIVITIES, { id: conversationId }, owner), 'messages').messages.edges;
  return edges
    .map((edge: any) => edge.node)
    .filter((node: any) => node.messageType === 'ACTIVITY' && node.contentAttributes.kind === 'ASSIGNEE_CHANGED')
    .map((node: any) => ({ from: node.contentAttributes.from, to: node.contentAttributes.to, changedById: node.contentAttributes.changedById }))
    .reverse();
}

const assigneeEvents = (test: TestApp, companyId: string) =>
  test.sql<{ payload: Record<string, string | null> }>(`select payload from atrium_event where name = 'messenger.conversation.assigneeChanged' and company_id = $1 order by id`, [companyId]);

async function written(test: TestApp): Promise<Record<string, number>> {
  const tables = ['messenger_message', 'messenger_team', 'messenger_team_member', 'atrium_event'];
  const counts = await Promise.all(tables.map(async (table) => [table, (await test.sql<{ n: number }>(`select count(*)::int as n from ${table}`))[0]!.n]));
  const [assigned] = await test.sql<{ n: number }>('select count(*)::int as n from messenger_conversation where assignee_id is not null');
  return { ...Object.fromEntries(counts), assigned: assigned!.n };
}

t.test('auto-assignment: round robin over the ONLINE members of the inbox', async (t) => {
  const { test, company } = await messengerApp();
  t.teardown(() => test.close());
  const owner = company.owner;
  const [ann, bob, cid] = await Promise.all([agent(test, company, 'Ann'), agent(test, company, 'Bob'), agent(test, company, 'Cid')]);
  const inboxId = await createInbox(test, owner, { name: 'Support' }, [ann, bob]);
  const person = await contact(test, owner);

  await t.test('nobody online: the conversation waits unassigned', async (t) => {
    const conversation = await open(test, owner, inboxId, person);
    t.equal(conversation.assignee, null);
    t.same(await assigneeNotices(test, owner, conversation.id), []);
  });

  await setAvailability(test, ann, 'ONLINE');
  await setAvailability(test, bob, 'ONLINE');

  t.test('two agents online take turns', async (t) => {
    const before = (await assigneeEvents(test, company.id)).length;
    const assignees: (string | null)[] = [];
    const conversations: string[] = [];
    for (let i = 0; i < 4; i++) {
      const conversation = await open(test, owner, inboxId, person);
      assignees.push(conversation.assignee);
      conversations.push(conversation.id);
    }
    t.same(new Set(assignees), new Set([ann.id, bob.id]), 'both agents got conversations');
    t.not(assignees[0], assignees[1], 'alternately');
    t.same(assignees, [assignees[0], assignees[1], assignees[0], assignees[1]], 'in a fixed rotation');
    for (const [i, id] of conversations.entries()) {
      t.same(await assigneeNotices(test, owner, id), [{ from: null, to: assignees[i], changedById: null }], 'one ASSIGNEE_CHANGED notice, by nobody (automatic)');
    }
    const events = (await assigneeEvents(test, company.id)).slice(before);
    t.same(events.map((event) => [event.payload.conversationId, event.payload.to, event.payload.changedById]), conversations.map((id, i) => [id, assignees[i], null]));
  });

  t.test('an OFFLINE or BUSY agent is skipped', async (t) => {
    await setAvailability(test, ann, 'OFFLINE');
    t.same((await open(test, owner, inboxId, person)).assignee, bob.id);
    t.same((await open(test, owner, inboxId, person)).assignee, bob.id, 'every time');
    await setAvailability(test, ann, 'BUSY');
    t.same((await open(test, owner, inboxId, person)).assignee, bob.id, 'BUSY agents get no new conversations');
    const availability = data(await test.gql(AVAILABILITY, { userIds: [ann.id, bob.id, cid.id] }, owner), 'agentAvailability').agentAvailability;
    t.same(
      Object.fromEntries(availability.map((entry: any) => [entry.user.id, entry.availability])),
      { [ann.id]: 'BUSY', [bob.id]: 'ONLINE', [cid.id]: 'OFFLINE' },
      'agentAvailability tells who is what',
    );
    await setAvailability(test, ann, 'ONLINE');
  });

  t.test('an online user who is not a member gets nothing; the queue follows the members', async (t) => {
    await setAvailability(test, cid, 'ONLINE');
    const before = await Promise.all([0, 1].map(() => open(test, owner, inboxId, person)));
    t.same(new Set(before.map((c) => c.assignee)), new Set([ann.id, bob.id]), 'Cid is online but no member');

    await addMember(test, owner, inboxId, cid.id);
    const after = await Promise.all([0, 1, 2].map(() => open(test, owner, inboxId, person)));
    t.same(new Set(after.map((c) => c.assignee)), new Set([ann.id, bob.id, cid.id]), 'a new member joins the rotation');

    await removeMember(test, owner, inboxId, bob.id);
    const without = await Promise.all([0, 1, 2, 3].map(() => open(test, owner, inboxId, person)));
    t.notOk(without.some((c) => c.assignee === bob.id), 'a member who left is not assigned any more');
    t.same(new Set(without.map((c) => c.assignee)), new Set([ann.id, cid.id]));
  });

  t.test('reopening an unassigned conversation assigns it', async (t) => {
    await setAvailability(test, ann, 'OFFLINE');
    await setAvailability(test, cid, 'OFFLINE');
    const waiting = await open(test, owner, inboxId, person);
    t.equal(waiting.assignee, null);
    data(await test.gql(SET_STATUS, { id: waiting.id, status: 'RESOLVED' }, owner), 'resolve');
    await setAvailability(test, ann, 'ONLINE');
    const reopened = data(await test.gql(SET_STATUS, { id: waiting.id, status: 'OPEN' }, owner), 'reopen').setConversationStatus;
    t.equal(reopened.assignee?.id, ann.id);
  });
});

t.test('auto-assignment: the cap of open conversations and the rate limit', async (t) => {
  const { test, company } = await messengerApp();
  t.teardown(() => test.close());
  const owner = company.owner;
  const [ann, bob] = await Promise.all([agent(test, company, 'Ann'), agent(test, company, 'Bob')]);
  const person = await contact(test, owner);
  await setAvailability(test, ann, 'ONLINE');

  t.test('an agent at maxOpenPerAgent is skipped until one of theirs is no longer open', async (t) => {
    const inboxId = await createInbox(test, owner, { name: 'Capped', maxOpenPerAgent: 2 }, [ann]);
    const first = await open(test, owner, inboxId, person);
    const second = await open(test, owner, inboxId, person);
    t.same([first.assignee, second.assignee], [ann.id, ann.id]);
    t.equal((await open(test, owner, inboxId, person)).assignee, null, 'the third waits: Ann holds two open conversations');
    data(await test.gql(SET_STATUS, { id: first.id, status: 'RESOLVED' }, owner), 'resolve');
    t.equal((await open(test, owner, inboxId, person)).assignee, ann.id, 'one resolved: room for one more');
    t.equal((await open(test, owner, inboxId, person)).assignee, null);
  });

  t.test('the assignment rate limit holds per agent', async (t) => {
    const inboxId = await createInbox(test, owner, { name: 'Limited', assignmentLimit: 3, assignmentWindowSeconds: 3600 }, [ann, bob]);
    const assignees = [];
    for (let i = 0; i < 4; i++) assignees.push((await open(test, owner, inboxId, person)).assignee);
    t.same(assignees, [ann.id, ann.id, ann.id, null], 'three in the window, then none (Bob is offline)');
    await setAvailability(test, bob, 'ONLINE');
    const next = [];
    for (let i = 0; i < 4; i++) next.push((await open(test, owner, inboxId, person)).assignee);
    t.same(next, [bob.id, bob.id, bob.id, null], 'Bob has his own limit; Ann is still over hers');
  });

  t.test("a message refused for flooding opens nothing and spends no agent's turn or limit", async (t) => {
    const inboxId = await createInbox(test, owner, { name: 'Flooded', assignmentLimit: 1, assignmentWindowSeconds: 3600, allowMessagesAfterResolved: false }, [ann, bob]);
    await setAvailability(test, bob, 'ONLINE');
    const RECEIVE = 'mutation ($input: ReceiveMessageInput!) { receiveMessage(input: $input) { conversationId } }';
    const ADDRESS = 'mutation ($input: CreateContactInboxInput!) { createContactInbox(input: $input) { id } }';
    const address = async (contactId: string) => data(await test.gql(ADDRESS, { input: { inboxId, contactId, sourceId: contactId } }, owner), 'address').createContactInbox.id;
    const flooder = await address(await createContact(test, owner, 'Flooder'));
    const sent = [];
    for (let i = 0; i < 20; i++) sent.push(data(await test.gql(RECEIVE, { input: { contactInboxId: flooder, content: `spam ${i}` } }, owner), 'receive').receiveMessage.conversationId);
    const first = sent[0];
    const [assigned] = await test.sql<{ assignee_id: string }>('select assignee_id from messenger_conversation where id = $1', [first]);
    data(await test.gql(SET_STATUS, { id: first, status: 'RESOLVED' }, owner), 'resolve');
    const conversations = await countRows(test, 'messenger_conversation');
    t.equal(codeOf(await test.gql(RECEIVE, { input: { contactInboxId: flooder, content: 'the 21st' } }, owner)), 'RATE_LIMITED', 'the 21st message in a minute is refused');
    t.equal(await countRows(test, 'messenger_conversation'), conversations, 'and opens no conversation');
    const next = data(await test.gql(RECEIVE, { input: { contactInboxId: await address(await createContact(test, owner, 'Next')), content: 'hello' } }, owner), 'receive').receiveMessage;
    const [nextAssigned] = await test.sql<{ assignee_id: string | null }>('select assignee_id from messenger_conversation where id = $1', [next.conversationId]);
    t.ok(nextAssigned!.assignee_id, "the next contact's conversation still gets an agent");
    t.not(nextAssigned!.assignee_id, assigned!.assignee_id, 'the other one: the refused message took no turn from it');
  });

  t.test('an inbox without autoAssign assigns nobody', async (t) => {
    const inboxId = await createInbox(test, owner, { name: 'Manual', autoAssign: false }, [ann]);
    t.equal((await open(test, owner, inboxId, person)).assignee, null);
  });
});

t.test('manual assignment', async (t) => {
  const { test, company } = await messengerApp();
  t.teardown(() => test.close());
  const owner = company.owner;
  const [ann, bob, outsider, reader] = await Promise.all([
    agent(test, company, 'Ann', [...AGENT_KEYS, 'messenger.conversation.assign']),
    agent(test, company, 'Bob'),
    agent(test, company, 'Out'),
    agent(test, company, 'Reader'),
  ]);
  const inboxId = await createInbox(test, owner, { name: 'Sales', autoAssign: false }, [ann, bob, reader]);
  const conversation = await open(test, owner, inboxId, await contact(test, owner));

  const assigned = data(await test.gql(ASSIGN, { conversationId: conversation.id, assigneeId: bob.id }, ann), 'assign').assignConversation;
  t.equal(assigned.assignee.id, bob.id);
  const again = data(await test.gql(ASSIGN, { conversationId: conversation.id, assigneeId: bob.id }, ann), 'assign again').assignConversation;
  t.equal(again.assignee.id, bob.id, 'assigning the assignee again changes nothing');
  const unassigned = data(await test.gql(UNASSIGN, { conversationId: conversation.id }, owner), 'unassign').unassignConversation;
  t.equal(unassigned.assignee, null);
  data(await test.gql(ASSIGN, { conversationId: conversation.id, assigneeId: ann.id }, owner), 'assign to Ann');
  const viaNull = data(await test.gql(ASSIGN, { conversationId: conversation.id, assigneeId: null }, owner), 'assign null').assignConversation;
  t.equal(viaNull.assignee, null, 'a null assignee unassigns');

  t.same(await assigneeNotices(test, owner, conversation.id), [
    { from: null, to: bob.id, changedById: ann.id },
    { from: bob.id, to: null, changedById: owner.id },
    { from: null, to: ann.id, changedById: owner.id },
    { from: ann.id, to: null, changedById: owner.id },
  ], 'an ASSIGNEE_CHANGED notice per change, none for the repeat');
  t.same(
    (await assigneeEvents(test, company.id)).map((event) => [event.payload.from, event.payload.to, event.payload.changedById]),
    [[null, bob.id, ann.id], [bob.id, null, owner.id], [null, ann.id, owner.id], [ann.id, null, owner.id]],
  );

  t.test('refusals write nothing', async (t) => {
    const before = await written(test);
    const cases: [string, Record<string, unknown>, Who, string][] = [
      ['an assignee outside the inbox', { conversationId: conversation.id, assigneeId: outsider.id }, owner, 'BAD_USER_INPUT'],
      ['an assignee who is no user', { conversationId: conversation.id, assigneeId: '01900000-0000-7000-8000-000000000000' }, owner, 'BAD_USER_INPUT'],
      ['a malformed assignee id', { conversationId: conversation.id, assigneeId: 'bob' }, owner, 'BAD_USER_INPUT'],
      ['a malformed conversation id', { conversationId: 'nope', assigneeId: bob.id }, owner, 'BAD_USER_INPUT'],
      ['a conversation that does not exist', { conversationId: '01900000-0000-7000-8000-000000000000', assigneeId: bob.id }, owner, 'NOT_FOUND'],
      ['without messenger.conversation.assign', { conversationId: conversation.id, assigneeId: bob.id }, reader, 'FORBIDDEN'],
    ];
    for (const [what, variables, who, code] of cases) {
      const res = await test.gql(ASSIGN, variables, who);
      t.equal(codeOf(res), code, what);
    }
    const bad = await test.gql(ASSIGN, { conversationId: conversation.id, assigneeId: 'bob' }, owner);
    t.ok(bad.errors?.[0]?.extensions?.fields?.assigneeId, 'the field is named');
    t.same(await written(test), before, 'nothing was written');
  });

  t.test('unassignConversation: refusals leave the assignee and write nothing', async (t) => {
    data(await test.gql(ASSIGN, { conversationId: conversation.id, assigneeId: bob.id }, owner), 'assign to Bob');
    const outsiderAssigner = await agent(test, company, 'Outside assigner', [...AGENT_KEYS, 'messenger.conversation.assign']);
    const before = await written(test);
    const cases: [string, string, Who, string][] = [
      ['a malformed conversation id', 'nope', owner, 'BAD_USER_INPUT'],
      ['a conversation that does not exist', '01900000-0000-7000-8000-000000000000', owner, 'NOT_FOUND'],
      ['a conversation the caller cannot read', conversation.id, outsiderAssigner, 'NOT_FOUND'],
      ['without messenger.conversation.assign', conversation.id, reader, 'FORBIDDEN'],
    ];
    for (const [what, conversationId, who, code] of cases) {
      const res = await test.gql(UNASSIGN, { conversationId }, who);
      t.equal(codeOf(res), code, what);
      if (code === 'BAD_USER_INPUT') t.same(fieldsOf(res), ['conversationId'], `${what}: names conversationId`);
    }
    t.same(await written(test), before, 'nothing was written');
    t.same(data(await test.gql(`query ($id: ID!) { conversation(id: $id) { ${CONVERSATION} } }`, { id: conversation.id }, owner), 'conversation').conversation.assignee, { id: bob.id }, 'Bob still has it');
  });

  t.test('an agent who cannot read the conversation cannot assign it', async (t) => {
    const assigner = await agent(test, company, 'Assigner', [...AGENT_KEYS, 'messenger.conversation.assign']);
    t.equal(codeOf(await test.gql(ASSIGN, { conversationId: conversation.id, assigneeId: bob.id }, assigner)), 'NOT_FOUND', 'not a member of the inbox');
  });
});

t.test('availability', async (t) => {
  const { test, company } = await messengerApp();
  t.teardown(() => test.close());
  const ann = await agent(test, company, 'Ann');
  t.equal(data(await test.gql(SET_AVAILABILITY, { status: 'ONLINE' }, ann), 'set').setAvailability, 'ONLINE');
  t.equal(await test.app.kernel.presence.isOnline(`messenger:${company.id}:online`, ann.id), true, 'kept in the kernel’s presence store');
  t.equal(data(await test.gql(SET_AVAILABILITY, { status: 'OFFLINE' }, ann), 'set').setAvailability, 'OFFLINE');
  t.equal(await test.app.kernel.presence.isOnline(`messenger:${company.id}:online`, ann.id), false);
  await setAvailability(test, ann, 'BUSY');
  t.equal(codeOf(await test.gql(SET_AVAILABILITY, { status: 'AWAY' }, ann)), 'BAD_USER_INPUT', 'an unknown availability');
  t.same(data(await test.gql(AVAILABILITY, { userIds: [ann.id] }, company.owner), 'agentAvailability').agentAvailability, [{ user: { id: ann.id }, availability: 'BUSY' }], 'and leaves hers as it was');
  t.equal(codeOf(await test.gql(SET_AVAILABILITY, { status: 'ONLINE' })), 'UNAUTHENTICATED');
  const other = await test.createCompany();
  const seen = data(await test.gql(AVAILABILITY, { userIds: [ann.id, 'junk'] }, other.owner), 'agentAvailability').agentAvailability;
  t.same(seen, [], 'another company’s users are unknown');
});

t.test('teams', async (t) => {
  const { test, company } = await messengerApp();
  t.teardown(() => test.close());
  const owner = company.owner;
  const [ann, bob] = await Promise.all([agent(test, company, 'Ann'), agent(test, company, 'Bob')]);
  const team = data(await test.gql(CREATE_TEAM, { input: { name: 'Billing' } }, owner), 'createTeam').createTeam;
  t.match(team, { name: 'Billing', members: [] });
  data(await test.gql(ADD_TEAM_MEMBER, { teamId: team.id, userId: ann.id }, owner), 'add Ann');
  const added = data(await test.gql(ADD_TEAM_MEMBER, { teamId: team.id, userId: bob.id }, owner), 'add Bob').addTeamMember;
  t.same(added.members.map((m: any) => m.id).sort(), [ann.id, bob.id].sort());
  data(await test.gql(ADD_TEAM_MEMBER, { teamId: team.id, userId: bob.id }, owner), 'add Bob again (idempotent)');
  const second = data(await test.gql(CREATE_TEAM, { input: { name: 'Onboarding' } }, owner), 'createTeam').createTeam;
  const teams = data(await test.gql(TEAMS, {}, ann), 'teams').teams;
  t.same(teams.map((tm: any) => [tm.name, tm.members.length]), [['Billing', 2], ['Onboarding', 0]], 'agents see the teams, by name');
  const removed = data(await test.gql(REMOVE_TEAM_MEMBER, { teamId: team.id, userId: ann.id }, owner), 'remove').removeTeamMember;
  t.same(removed.members.map((m: any) => m.id), [bob.id]);

  const before = await written(test);
  t.equal(codeOf(await test.gql(CREATE_TEAM, { input: { name: 'billing' } }, owner)), 'CONFLICT', 'names are unique whatever the case');
  t.equal(codeOf(await test.gql(CREATE_TEAM, { input: { name: '  ' } }, owner)), 'BAD_USER_INPUT', 'a blank name');
  t.equal(codeOf(await test.gql(CREATE_TEAM, { input: { name: 'Ops' } }, ann)), 'FORBIDDEN', 'agents do not manage teams');
  t.equal(codeOf(await test.gql(ADD_TEAM_MEMBER, { teamId: second.id, userId: 'x' }, owner)), 'BAD_USER_INPUT');
  t.equal(codeOf(await test.gql(ADD_TEAM_MEMBER, { teamId: second.id, userId: '01900000-0000-7000-8000-000000000000' }, owner)), 'BAD_USER_INPUT', 'not a user');
  t.equal(codeOf(await test.gql(ADD_TEAM_MEMBER, { teamId: '01900000-0000-7000-8000-000000000000', userId: ann.id }, owner)), 'NOT_FOUND');
  const removals: [string, Record<string, unknown>, Who, string, string[]][] = [
    ['a malformed user id', { teamId: team.id, userId: 'bob' }, owner, 'BAD_USER_INPUT', ['userId']],
    ['a malformed team id', { teamId: 'billing', userId: bob.id }, owner, 'BAD_USER_INPUT', ['teamId']],
    ['a team that does not exist', { teamId: '01900000-0000-7000-8000-000000000000', userId: bob.id }, owner, 'NOT_FOUND', []],
    ['an agent without messenger.inbox.manage', { teamId: team.id, userId: bob.id }, ann, 'FORBIDDEN', []],
  ];
  for (const [what, variables, who, code, fields] of removals) {
    const res = await test.gql(REMOVE_TEAM_MEMBER, variables, who);
    t.equal(codeOf(res), code, `removeTeamMember: ${what}`);
    if (fields.length) t.same(fieldsOf(res), fields, `removeTeamMember: ${what}: names ${fields}`);
  }
  t.same(await written(test), before, 'nothing was written');
  t.same(data(await test.gql(TEAMS, {}, owner), 'teams').teams.find((tm: any) => tm.id === team.id).members, [{ id: bob.id }], 'Bob is still in the team');
});

t.test('tenant isolation of assignment, availability and teams', async (t) => {
  const { test } = await messengerApp();
  t.teardown(() => test.close());
  await assertTenantIsolation(t, test, {
    async seed(a, test) {
      const ann = await agent(test, a, 'Ann');
      const inboxId = await createInbox(test, a.owner, { name: 'A inbox' }, [ann]);
      const conversation = await open(test, a.owner, inboxId, await contact(test, a.owner));
      const team = data(await test.gql(CREATE_TEAM, { input: { name: 'A team' } }, a.owner), 'team').createTeam.id;
      await test.gql(ADD_TEAM_MEMBER, { teamId: team, userId: ann.id }, a.owner);
      return { conversationId: conversation.id, userId: ann.id, teamId: team };
    },
    operations: [
      { name: 'assignConversation', query: ASSIGN, variables: (s) => ({ conversationId: s.conversationId, assigneeId: s.userId }) },
      { name: 'unassignConversation', query: UNASSIGN, variables: (s) => ({ conversationId: s.conversationId }) },
      { name: 'agentAvailability', query: AVAILABILITY, variables: (s) => ({ userIds: [s.userId] }) },
      { name: 'addTeamMember', query: ADD_TEAM_MEMBER, variables: (s) => ({ teamId: s.teamId, userId: s.userId }) },
      { name: 'removeTeamMember', query: REMOVE_TEAM_MEMBER, variables: (s) => ({ teamId: s.teamId, userId: s.userId }) },
      { name: 'teams', query: TEAMS },
    ],
  });
});
