import t from 'tap';
import { agent, codeOf, countRows, createContact, createInbox, data, fieldsOf, messengerApp, RECEIVE } from './helpers.ts';

const INBOX_FIELDS = 'id name channel token autoAssign maxOpenPerAgent assignmentLimit assignmentWindowSeconds workingHours { day open close } timezone outOfOfficeMessage lockToSingleConversation allowMessagesAfterResolved branch { id } members { user { id } }';
const INBOX = `query ($id: ID!) { inbox(id: $id) { ${INBOX_FIELDS} } }`;
const INBOXES = '{ inboxes { id name } }';
const UPDATE = `mutation ($id: ID!, $input: UpdateInboxInput!) { updateInbox(id: $id, input: $input) { ${INBOX_FIELDS} } }`;
const ADD = 'mutation ($i: ID!, $u: ID!) { addInboxMember(inboxId: $i, userId: $u) { members { user { id } } } }';
const REMOVE = 'mutation ($i: ID!, $u: ID!) { removeInboxMember(inboxId: $i, userId: $u) { members { user { id } } } }';
const CONTACT_INBOX = 'mutation ($input: CreateContactInboxInput!) { createContactInbox(input: $input) { id sourceId contact { id } inbox { id } } }';

t.test('inboxes: the contract end to end', async (t) => {
  const { test, company } = await messengerApp();
  t.teardown(() => test.close());
  const owner = company.owner;
  const alice = await agent(test, company, 'Alice');
  const bob = await agent(test, company, 'Bob');
  const inboxId = await createInbox(test, owner, { name: ' Support ' });
  const created = data(await test.gql(INBOX, { id: inboxId }, owner), 'inbox').inbox;
  t.match(created, {
    name: 'Support',
    channel: 'API',
    token: /^[\w-]{43}$/,
    autoAssign: false,
    maxOpenPerAgent: null,
    assignmentLimit: 10,
    assignmentWindowSeconds: 60,
    workingHours: null,
    timezone: 'UTC',
    lockToSingleConversation: false,
    allowMessagesAfterResolved: true,
    branch: { id: company.defaultBranchId },
    members: [],
  });

  const hours = [{ day: 1, open: '09:00', close: '18:00' }];
  const updated = data(await test.gql(UPDATE, { id: inboxId, input: { workingHours: hours, timezone: 'Asia/Tashkent', outOfOfficeMessage: 'Back at 9', maxOpenPerAgent: 5 } }, owner), 'update').updateInbox;
  t.match(updated, { name: 'Support', workingHours: hours, timezone: 'Asia/Tashkent', outOfOfficeMessage: 'Back at 9', maxOpenPerAgent: 5 });

  const stampOf = async (userId: string) => (await test.sql<{ v: number }>('select access_version as v from app_user where id = $1', [userId]))[0]!.v;
  const before = await stampOf(alice.id);
  t.same(data(await test.gql(ADD, { i: inboxId, u: alice.id }, owner), 'add').addInboxMember.members, [{ user: { id: alice.id } }]);
  t.equal(await stampOf(alice.id), before + 1, "a membership change moves the member's access stamp (other instances rebuild her viewer)");
  t.same(data(await test.gql(ADD, { i: inboxId, u: alice.id }, owner), 'again').addInboxMember.members, [{ user: { id: alice.id } }], 'adding twice is adding once');
  t.equal(await stampOf(alice.id), before + 1, 'and leaves her access stamp alone');
  const asAlice = data(await test.gql(INBOX, { id: inboxId }, alice), 'as alice').inbox;
  t.equal(asAlice.token, null, "an agent does not see the widget's key");
  t.same(data(await test.gql(INBOXES, {}, alice), 'inboxes').inboxes.map((i: any) => i.id), [inboxId], 'an agent lists the inboxes they answer');
  t.same(data(await test.gql(INBOXES, {}, bob), 'inboxes').inboxes, [], 'and nothing else');
  t.equal(data(await test.gql(INBOX, { id: inboxId }, bob), 'as bob').inbox, null);
  t.equal(codeOf(await test.gql(ADD, { i: inboxId, u: bob.id }, alice)), 'FORBIDDEN', 'members are managed with messenger.inbox.manage');

  const other = await test.createCompany({ name: 'Other' });
  const beforeMembers = await countRows(test, 'messenger_inbox_member');
  const foreignStamp = await stampOf(other.owner.id);
  const foreignUser = await test.gql(ADD, { i: inboxId, u: other.owner.id }, owner);
  t.equal(codeOf(foreignUser), 'BAD_USER_INPUT', "another company's user is not a user here");
  t.same(fieldsOf(foreignUser), ['userId']);
  t.equal(await countRows(test, 'messenger_inbox_member'), beforeMembers, 'nothing was written');
  t.equal(await stampOf(other.owner.id), foreignStamp, 'nor any access stamp');
  for (const [name, mutation] of [['addInboxMember', ADD], ['removeInboxMember', REMOVE]] as const) {
    const malformed = await test.gql(mutation, { i: inboxId, u: 'not-an-id' }, owner);
    t.equal(codeOf(malformed), 'BAD_USER_INPUT', `${name}: a user id that is no id is bad input`);
    t.same(fieldsOf(malformed), ['userId']);
  }
  t.equal(await countRows(test, 'messenger_inbox_member'), beforeMembers, 'nothing was written');
  t.same(data(await test.gql(REMOVE, { i: inboxId, u: alice.id }, owner), 'remove').removeInboxMember.members, []);
  t.equal(await stampOf(alice.id), before + 2, 'removing her moves it again');
  data(await test.gql(REMOVE, { i: inboxId, u: alice.id }, owner), 'remove again');
  t.equal(await stampOf(alice.id), before + 2, 'removing a non-member changes nothing');
  t.same(data(await test.gql(INBOXES, {}, alice), 'inboxes').inboxes, [], 'a former member no longer sees it');

  const contactId = await createContact(test, owner, 'Carol');
  const otherContact = await createContact(test, owner, 'Dave');
  const address = data(await test.gql(CONTACT_INBOX, { input: { inboxId, contactId, sourceId: '+998901234567' } }, owner), 'contact inbox').createContactInbox;
  t.match(address, { sourceId: '+998901234567', contact: { id: contactId }, inbox: { id: inboxId } });
  t.equal(data(await test.gql(CONTACT_INBOX, { input: { inboxId, contactId, sourceId: '+998901234567' } }, owner), 'again').createContactInbox.id, address.id, 'the same address again: the same');
  const taken = await test.gql(CONTACT_INBOX, { input: { inboxId, contactId: otherContact, sourceId: '+998901234567' } }, owner);
  t.equal(codeOf(taken), 'CONFLICT', "another contact's address");
  t.equal(await countRows(test, 'messenger_contact_inbox'), 1, 'nothing more was written');
  t.equal(codeOf(await test.gql(RECEIVE, { input: { contactInboxId: address.id, content: 'hi' } }, alice)), 'FORBIDDEN', 'bridges deliver with messenger.inbox.manage');
});

t.test('inboxes: settings are validated and write nothing when refused', async (t) => {
  const { test, company } = await messengerApp();
  t.teardown(() => test.close());
  const owner = company.owner;
  const other = await test.createCompany({ name: 'Other' });
  await createInbox(test, owner, { name: 'Support' });
  const before = await countRows(test, 'messenger_inbox');
  const CREATE_INBOX = 'mutation ($input: CreateInboxInput!) { createInbox(input: $input) { id } }';
  const cases: [string, Record<string, unknown>, string, string][] = [
    ['a blank name', { name: '  ', channel: 'API' }, 'BAD_USER_INPUT', 'input.name'],
    ['an unknown time zone', { name: 'X', channel: 'API', timezone: 'Mars/Olympus' }, 'BAD_USER_INPUT', 'input.timezone'],
    ['hours closing before opening', { name: 'X', channel: 'API', workingHours: [{ day: 1, open: '18:00', close: '09:00' }] }, 'BAD_USER_INPUT', 'input.workingHours.0.close'],
    ['a malformed time', { name: 'X', channel: 'API', workingHours: [{ day: 1, open: '9am', close: '18:00' }] }, 'BAD_USER_INPUT', 'input.workingHours.0.open'],
    ['a zero assignment limit', { name: 'X', channel: 'API', assignmentLimit: 0 }, 'BAD_USER_INPUT', 'input.assignmentLimit'],
    ["another company's branch", { name: 'X', channel: 'API', branchId: other.defaultBranchId }, 'BAD_USER_INPUT', 'input.branchId'],
    ['a name taken (whatever the case)', { name: 'SUPPORT', channel: 'API' }, 'CONFLICT', ''],
  ];
  for (const [what, input, code, field] of cases) {
    const res = await test.gql(CREATE_INBOX, { input }, owner);
    t.equal(codeOf(res), code, what);
    if (field) t.same(fieldsOf(res), [field], `${what}: names ${field}`);
  }
  t.equal(await countRows(test, 'messenger_inbox'), before, 'nothing was written');
  const member = await agent(test, company, 'Agent');
  const refused = await test.gql(CREATE_INBOX, { input: { name: 'Mine', channel: 'API' } }, member);
  t.equal(codeOf(refused), 'FORBIDDEN', 'creating inboxes needs messenger.inbox.manage');
});


t.test('inboxes: updateInbox refuses bad input and changes nothing', async (t) => {
  const { test, company } = await messengerApp();
  t.teardown(() => test.close());
  const owner = company.owner;
  const other = await test.createCompany({ name: 'Other' });
  const inboxId = await createInbox(test, owner, { name: 'Support', assignmentLimit: 5 });
  await createInbox(test, owner, { name: 'Sales' });
  const inboxes = () => test.sql('select * from messenger_inbox order by id');
  const before = await inboxes();
  const cases: [string, string, Record<string, unknown>, string, string[]][] = [
    ['an id that is no id', 'nope', { name: 'Renamed' }, 'NOT_FOUND', []],
    ['an inbox that does not exist', '01900000-0000-7000-8000-000000000000', { name: 'Renamed' }, 'NOT_FOUND', []],
    ['a blank name', inboxId, { name: '   ' }, 'BAD_USER_INPUT', ['input.name']],
    ['a null name', inboxId, { name: null }, 'BAD_USER_INPUT', ['input.name']],
    ['a zero assignment window', inboxId, { assignmentWindowSeconds: 0 }, 'BAD_USER_INPUT', ['input.assignmentWindowSeconds']],
    ['an unknown time zone', inboxId, { timezone: 'Mars/Olympus' }, 'BAD_USER_INPUT', ['input.timezone']],
    ['hours closing before opening', inboxId, { workingHours: [{ day: 2, open: '18:00', close: '09:00' }] }, 'BAD_USER_INPUT', ['input.workingHours.0.close']],
    ["another company's branch", inboxId, { branchId: other.defaultBranchId }, 'BAD_USER_INPUT', ['input.branchId']],
    ['a valid name along with a zero assignment limit', inboxId, { name: 'Renamed', assignmentLimit: 0 }, 'BAD_USER_INPUT', ['input.assignmentLimit']],
    ["another inbox's name (whatever the case)", inboxId, { name: 'SALES', assignmentLimit: 7 }, 'CONFLICT', []],
  ];
  for (const [what, id, input, code, fields] of cases) {
    const res = await test.gql(UPDATE, { id, input }, owner);
    t.equal(codeOf(res), code, what);
    if (fields.length) t.same(fieldsOf(res), fields, `${what}: names ${fields}`);
  }
  const member = await agent(test, company, 'Agent');
  t.equal(codeOf(await test.gql(UPDATE, { id: inboxId, input: { name: 'Mine' } }, member)), 'FORBIDDEN', 'updating inboxes needs messenger.inbox.manage');
  t.same(await inboxes(), before, 'no inbox changed');
});
