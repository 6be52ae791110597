import { readdir } from 'node:fs/promises';
import t from 'tap';
import { postgresOnly } from '@atrium/core/testing';
import {
  agent,
  codeOf,
  conversation,
  countRows,
  createContact,
  createContactInbox,
  createInbox,
  data,
  fieldsOf,
  incomingConversation,
  messengerApp,
  receive,
  send,
  SET_STATUS,
  writeCounts,
  type Who,
} from './helpers.ts';

const BLOCK = 'mutation ($id: ID!, $blocked: Boolean!) { blockContact(contactId: $id, blocked: $blocked) { id blocked } }';
const CREATE = 'mutation ($input: CreateConversationInput!) { createConversation(input: $input) { id status displayId contact { id } } }';
const DELETE = 'mutation ($id: ID!) { deleteConversation(id: $id) }';
const LIST = 'query ($filter: ConversationFilter, $first: Int, $after: String) { conversations(filter: $filter, first: $first, after: $after) { totalCount edges { node { id status labels } } pageInfo { hasNextPage endCursor } } }';
const UPDATE = 'mutation ($id: ID!, $input: UpdateConversationInput!) { updateConversation(id: $id, input: $input) { id priority labels customAttributes } }';
const MISSING = '01900000-0000-7000-8000-000000000000';
const future = (minutes: number) => new Date(Date.now() + minutes * 60_000).toISOString();
const filesIn = async (dir: string) => (await readdir(dir, { recursive: true, withFileTypes: true })).filter((entry) => entry.isFile()).length;
const eventCount = (test: any, name: string, conversationId: string) => countRows(test, 'atrium_event', `name = $1 and payload->>'conversationId' = $2`, [name, conversationId]);

t.test('conversations: the status rules one by one', async (t) => {
  const { test, company } = await messengerApp();
  t.teardown(() => test.close());
  const owner = company.owner;
  const inboxId = await createInbox(test, owner);

  t.test('a new conversation is OPEN and numbered per company', async (t) => {
    const first = await incomingConversation(test, owner, inboxId);
    const second = await incomingConversation(test, owner, inboxId);
    t.match(await conversation(test, owner, first.conversationId), { status: 'OPEN', displayId: 1, snoozedUntil: null });
    t.match(await conversation(test, owner, second.conversationId), { status: 'OPEN', displayId: 2 });
    const other = await test.createCompany({ name: 'Other' });
    const otherInbox = await createInbox(test, other.owner);
    const elsewhere = await incomingConversation(test, other.owner, otherInbox);
    t.equal((await conversation(test, other.owner, elsewhere.conversationId)).displayId, 1, 'another company counts from 1');
    t.equal(await eventCount(test, 'messenger.conversation.created', first.conversationId), 1);
  });

  t.test("a blocked contact's new conversation starts RESOLVED; its messages reopen nothing", async (t) => {
    const contactId = await createContact(test, owner, 'Spammer');
    const contactInboxId = await createContactInbox(test, owner, inboxId, contactId);
    t.same(data(await test.gql(BLOCK, { id: contactId, blocked: true }, owner), 'block').blockContact, { id: contactId, blocked: true });
    const message = await receive(test, owner, contactInboxId, 'buy now');
    const started = await conversation(test, owner, message.conversationId);
    t.equal(started.status, 'RESOLVED');
    t.equal(started.waitingSince, null, 'a resolved conversation waits for nobody');
    await receive(test, owner, contactInboxId, 'buy now!!');
    t.equal((await conversation(test, owner, message.conversationId)).status, 'RESOLVED', 'still resolved');
    const byAgent = data(await test.gql(CREATE, { input: { inboxId, contactId, content: 'hello?' } }, owner), 'create').createConversation;
    t.equal(byAgent.status, 'RESOLVED', 'also when an agent starts it');
    t.same(data(await test.gql(BLOCK, { id: contactId, blocked: false }, owner), 'unblock').blockContact.blocked, false);
    const unblocked = await receive(test, owner, contactInboxId, 'sorry');
    t.equal(unblocked.conversationId, byAgent.id, 'the latest conversation of the address takes it');
    t.equal((await conversation(test, owner, byAgent.id)).status, 'OPEN', 'unblocked: its message reopens');
  });

  t.test('snoozedUntil is set only while SNOOZED', async (t) => {
    const { conversationId } = await incomingConversation(test, owner, inboxId);
    const before = await writeCounts(test);
    const cases: [string, Record<string, unknown>][] = [
      ['SNOOZED without a time', { status: 'SNOOZED' }],
      ['SNOOZED until a past time', { status: 'SNOOZED', until: new Date(Date.now() - 60_000).toISOString() }],
      ['a snooze time with another status', { status: 'PENDING', until: future(10) }],
    ];
    for (const [what, variables] of cases) {
      const res = await test.gql(SET_STATUS, { id: conversationId, ...variables }, owner);
      t.equal(codeOf(res), 'BAD_USER_INPUT', what);
      t.same(fieldsOf(res), ['snoozedUntil'], `${what}: names snoozedUntil`);
    }
    t.same(await writeCounts(test), before, 'nothing was written');
    t.equal((await conversation(test, owner, conversationId)).status, 'OPEN');

    const until = future(10);
    const snoozed = data(await test.gql(SET_STATUS, { id: conversationId, status: 'SNOOZED', until }, owner), 'snooze').setConversationStatus;
    t.match(snoozed, { status: 'SNOOZED', snoozedUntil: until });
    const pending = data(await test.gql(SET_STATUS, { id: conversationId, status: 'PENDING' }, owner), 'pending').setConversationStatus;
    t.match(pending, { status: 'PENDING', snoozedUntil: null }, 'leaving SNOOZED clears the time');
    const [event] = await test.sql<{ payload: any }>(
      `select payload from atrium_event where name = 'messenger.conversation.statusChanged' and payload->>'conversationId' = $1 order by occurred_at, id limit 1`,
      [conversationId],
    );
    t.same(event?.payload, { conversationId, from: 'OPEN', to: 'SNOOZED', snoozedUntil: until, changedById: owner.id });
    t.equal((await test.sql(`select 1 from messenger_conversation where snoozed_until is not null and status <> 'SNOOZED'`)).length, 0);
  });

  t.test('the reopenSnoozed job reopens due conversations', async (t) => {
    const due = await incomingConversation(test, owner, inboxId);
    const later = await incomingConversation(test, owner, inboxId);
    for (const id of [due.conversationId, later.conversationId]) data(await test.gql(SET_STATUS, { id, status: 'SNOOZED', until: future(60) }, owner), 'snooze');
    await test.sql(`update messenger_conversation set snoozed_until = now() - interval '1 second' where id = $1`, [due.conversationId]);
    await test.sql(`update atrium_schedule set next_run_at = now() where name = 'messenger.reopenSnoozed'`);
    // The runner may be busy with an earlier tick: tick until the slot was taken.
    while ((await conversation(test, owner, due.conversationId)).status === 'SNOOZED') await test.app.jobs.tick();
    t.match(await conversation(test, owner, due.conversationId), { status: 'OPEN', snoozedUntil: null });
    t.match(await conversation(test, owner, later.conversationId), { status: 'SNOOZED' }, 'one not yet due stays snoozed');
    const [event] = await test.sql<{ payload: any }>(
      `select payload from atrium_event where name = 'messenger.conversation.statusChanged' and payload->>'conversationId' = $1 and payload->>'to' = 'OPEN'`,
      [due.conversationId],
    );
    t.same(event?.payload, { conversationId: due.conversationId, from: 'SNOOZED', to: 'OPEN', snoozedUntil: null, changedById: null });
  });

  t.test('an incoming message reopens SNOOZED and RESOLVED conversations', async (t) => {
    const { conversationId, contactInboxId } = await incomingConversation(test, owner, inboxId);
    data(await test.gql(SET_STATUS, { id: conversationId, status: 'SNOOZED', until: future(60) }, owner), 'snooze');
    const again = await receive(test, owner, contactInboxId, 'anyone?');
    t.equal(again.conversationId, conversationId);
    t.match(await conversation(test, owner, conversationId), { status: 'OPEN', snoozedUntil: null });
    data(await test.gql(SET_STATUS, { id: conversationId, status: 'RESOLVED' }, owner), 'resolve');
    const after = await receive(test, owner, contactInboxId, 'one more thing');
    t.equal(after.conversationId, conversationId, 'the same conversation');
    t.match(await conversation(test, owner, conversationId), { status: 'OPEN' });
  });

  t.test('allowMessagesAfterResolved=false starts a new conversation instead', async (t) => {
    const strict = await createInbox(test, owner, { allowMessagesAfterResolved: false });
    const { conversationId, contactInboxId } = await incomingConversation(test, owner, strict);
    data(await test.gql(SET_STATUS, { id: conversationId, status: 'RESOLVED' }, owner), 'resolve');
    const next = await receive(test, owner, contactInboxId, 'new question');
    t.not(next.conversationId, conversationId);
    t.equal((await conversation(test, owner, conversationId)).status, 'RESOLVED', 'the old one stays resolved');
    t.equal((await conversation(test, owner, next.conversationId)).status, 'OPEN');
  });

  t.test('lockToSingleConversation: one unresolved conversation per contact in the inbox', async (t) => {
    const single = await createInbox(test, owner, { lockToSingleConversation: true });
    const contactId = await createContact(test, owner, 'Single');
    const first = data(await test.gql(CREATE, { input: { inboxId: single, contactId, content: 'Hello from us' } }, owner), 'create').createConversation;
    const second = data(await test.gql(CREATE, { input: { inboxId: single, contactId, content: 'And again' } }, owner), 'create').createConversation;
    t.equal(second.id, first.id, 'the open conversation answers');
    const otherSession = await createContactInbox(test, owner, single, contactId);
    t.equal((await receive(test, owner, otherSession, 'hi')).conversationId, first.id, "also from another of the contact's addresses");
    const unlocked = await createInbox(test, owner);
    const a = data(await test.gql(CREATE, { input: { inboxId: unlocked, contactId } }, owner), 'create').createConversation;
    const b = data(await test.gql(CREATE, { input: { inboxId: unlocked, contactId } }, owner), 'create').createConversation;
    t.not(a.id, b.id, 'without the lock an agent may start several');
  });

  t.test('resolving clears waitingSince', async (t) => {
    const { conversationId } = await incomingConversation(test, owner, inboxId);
    t.ok((await conversation(test, owner, conversationId)).waitingSince);
    const resolved = data(await test.gql(SET_STATUS, { id: conversationId, status: 'RESOLVED' }, owner), 'resolve').setConversationStatus;
    t.match(resolved, { status: 'RESOLVED', waitingSince: null });
  });
});

t.test('conversations: waitingSince and firstReplyCreatedAt (private notes change neither)', async (t) => {
  const { test, company } = await messengerApp();
  t.teardown(() => test.close());
  const owner = company.owner;
  const inboxId = await createInbox(test, owner);
  const { conversationId, contactInboxId, messageId } = await incomingConversation(test, owner, inboxId, 'first');
  const [first] = await test.sql<{ created_at: Date }>('select created_at from messenger_message where id = $1', [messageId]);
  const waiting = (await conversation(test, owner, conversationId)).waitingSince;
  t.equal(waiting, first!.created_at.toISOString(), 'set by the first incoming message');
  await receive(test, owner, contactInboxId, 'second');
  t.equal((await conversation(test, owner, conversationId)).waitingSince, waiting, 'a second unanswered message keeps it');

  await send(test, owner, conversationId, 'internal: check the order', { private: true });
  t.match(await conversation(test, owner, conversationId), { waitingSince: waiting, firstReplyCreatedAt: null }, 'a private note neither ends the wait nor is a reply');
  t.equal(await eventCount(test, 'messenger.firstReply.created', conversationId), 0);

  const reply = await send(test, owner, conversationId, 'We are on it');
  const answered = await conversation(test, owner, conversationId);
  t.match(answered, { waitingSince: null, firstReplyCreatedAt: reply.createdAt });
  const [replyEvent] = await test.sql<{ payload: any }>(`select payload from atrium_event where name = 'messenger.reply.created' and payload->>'conversationId' = $1`, [conversationId]);
  t.match(replyEvent?.payload, { conversationId, messageId: reply.id, senderUserId: owner.id, waitedSeconds: Number });

  await receive(test, owner, contactInboxId, 'thanks, and…');
  const again = await conversation(test, owner, conversationId);
  t.ok(again.waitingSince && again.waitingSince > waiting, 'a new incoming message starts a new wait');
  await send(test, owner, conversationId, 'sure');
  t.match(await conversation(test, owner, conversationId), { waitingSince: null, firstReplyCreatedAt: reply.createdAt }, 'the first reply stays the first');
  t.equal(await eventCount(test, 'messenger.firstReply.created', conversationId), 1);
  t.equal(await eventCount(test, 'messenger.reply.created', conversationId), 2);
  t.equal(await eventCount(test, 'messenger.message.created', conversationId), 6);
});

t.test('conversations: out-of-office reply outside working hours', async (t) => {
  const { test, company } = await messengerApp();
  t.teardown(() => test.close());
  const owner = company.owner;
  const now = new Date();
  // Open only on a day that is not today (in UTC): now is outside working hours.
  const closedToday = await createInbox(test, owner, { workingHours: [{ day: (now.getUTCDay() + 3) % 7, open: '00:00', close: '24:00' }], timezone: 'UTC', outOfOfficeMessage: 'We are closed' });
  const openToday = await createInbox(test, owner, { workingHours: [{ day: now.getUTCDay(), open: '00:00', close: '24:00' }], timezone: 'UTC', outOfOfficeMessage: 'We are closed' });
  const closed = await incomingConversation(test, owner, closedToday);
  const open = await incomingConversation(test, owner, openToday);
  const replies = (id: string) => test.sql<{ content: string; sender_type: string }>(`select content, sender_type from messenger_message where conversation_id = $1 and message_type = 'OUTGOING'`, [id]);
  t.same(await replies(closed.conversationId), [{ content: 'We are closed', sender_type: 'SYSTEM' }]);
  t.same(await replies(open.conversationId), []);
  t.ok((await conversation(test, owner, closed.conversationId)).waitingSince, 'an automatic reply does not end the wait');
  await receive(test, owner, closed.contactInboxId, 'hello??');
  t.equal((await replies(closed.conversationId)).length, 1, 'once per wait');
});

t.test('conversations: who reads what; labels, priority and the list filters', async (t) => {
  const { test, company } = await messengerApp();
  t.teardown(() => test.close());
  const owner = company.owner;
  const alice = await agent(test, company, 'Alice');
  const bob = await agent(test, company, 'Bob');
  const reader = await agent(test, company, 'Reader', ['messenger.conversation.read']);
  const sales = await createInbox(test, owner, { name: 'Sales' }, [alice, reader]);
  const support = await createInbox(test, owner, { name: 'Support' }, [bob]);
  const inSales = await incomingConversation(test, owner, sales);
  const inSupport = await incomingConversation(test, owner, support);

  const ids = async (who: { token: string }, filter = {}) => data(await test.gql(LIST, { filter }, who), 'list').conversations.edges.map((e: any) => e.node.id).sort();
  t.same(await ids(owner), [inSales.conversationId, inSupport.conversationId].sort(), 'the owner reads every inbox');
  t.same(await ids(alice), [inSales.conversationId], 'an agent reads the inboxes they answer');
  t.same(await ids(bob), [inSupport.conversationId]);
  t.equal(await conversation(test, alice, inSupport.conversationId), null, "another inbox's conversation is not found");
  t.equal(codeOf(await test.gql('mutation ($input: SendMessageInput!) { sendMessage(input: $input) { id } }', { input: { conversationId: inSupport.conversationId, content: 'x' } }, alice)), 'NOT_FOUND');
  const readOnly = await test.gql('mutation ($input: SendMessageInput!) { sendMessage(input: $input) { id } }', { input: { conversationId: inSales.conversationId, content: 'x' } }, reader);
  t.equal(codeOf(readOnly), 'FORBIDDEN', 'reading is not replying');
  const written = await test.statements(() => test.gql('mutation ($input: SendMessageInput!) { sendMessage(input: $input) { id } }', { input: { conversationId: inSales.conversationId, content: 'y' } }, alice));
  t.equal(written.filter((sql) => sql.includes('messenger_inbox_member')).length, 1, 'a reply reads the membership once (reading it decided writing too)');

  const updated = data(await test.gql(UPDATE, { id: inSales.conversationId, input: { priority: 'HIGH', labels: ['vip', ' vip ', 'billing'], customAttributes: { plan: 'pro' } } }, alice), 'update').updateConversation;
  t.same(updated, { id: inSales.conversationId, priority: 'HIGH', labels: ['vip', 'billing'], customAttributes: { plan: 'pro' } });
  t.same(await ids(owner, { label: 'vip' }), [inSales.conversationId]);
  t.same(await ids(owner, { inboxId: support }), [inSupport.conversationId]);
  data(await test.gql(SET_STATUS, { id: inSupport.conversationId, status: 'RESOLVED' }, owner), 'resolve');
  t.same(await ids(owner, { status: 'RESOLVED' }), [inSupport.conversationId]);
  const unchanged = await writeCounts(test);
  const bad = await test.gql(UPDATE, { id: inSales.conversationId, input: { priority: 'LOW', labels: [''] } }, alice);
  t.equal(codeOf(bad), 'BAD_USER_INPUT');
  t.same(fieldsOf(bad), ['input.labels.0']);
  t.match(await conversation(test, owner, inSales.conversationId), { priority: 'HIGH', labels: ['vip', 'billing'] }, 'a refused update changes neither field');
  t.same(await writeCounts(test), unchanged, 'and writes nothing');
  t.equal(codeOf(await test.gql(LIST, { first: 101 }, owner)), 'BAD_USER_INPUT');
  const page = data(await test.gql(LIST, { first: 1 }, owner), 'page').conversations;
  t.equal(page.pageInfo.hasNextPage, true);
  const next = data(await test.gql(LIST, { first: 1, after: page.pageInfo.endCursor }, owner), 'next').conversations;
  t.not(next.edges[0].node.id, page.edges[0].node.id);
});

t.test('conversations: deleting one removes it for everyone', async (t) => {
  const { test, company, storageDir } = await messengerApp();
  t.teardown(() => test.close());
  const owner = company.owner;
  const alice = await agent(test, company, 'Alice');
  const inboxId = await createInbox(test, owner, {}, [alice]);
  const { conversationId } = await incomingConversation(test, owner, inboxId);
  await send(test, alice, conversationId, 'reply', { attachments: [{ fileName: 'a.txt', contentType: 'text/plain', dataBase64: Buffer.from('hi').toString('base64') }] });
  const deleter = await agent(test, company, 'Deleter', ['messenger.conversation.delete']);
  const before = await writeCounts(test);
  const refused = await test.gql(DELETE, { id: conversationId }, alice);
  t.equal(codeOf(refused), 'FORBIDDEN', 'deleting needs messenger.conversation.delete');
  t.equal(codeOf(await test.gql(DELETE, { id: conversationId }, deleter)), 'NOT_FOUND', 'and a conversation one can read');
  t.equal(codeOf(await test.gql(DELETE, { id: 'nope' }, owner)), 'NOT_FOUND', 'an id that is no id names none');
  t.same(await writeCounts(test), before, 'refusals delete nothing');
  t.equal(await filesIn(storageDir), 1, 'nor any file');

  t.equal(data(await test.gql(DELETE, { id: conversationId }, owner), 'delete').deleteConversation, true);
  t.equal(await conversation(test, alice, conversationId), null);
  t.equal(await conversation(test, owner, conversationId), null);
  t.equal(await countRows(test, 'messenger_message', 'conversation_id = $1', [conversationId]), 0, 'its messages are gone');
  t.equal(await countRows(test, 'messenger_attachment'), 0, 'and their attachments');
  t.equal(codeOf(await test.gql('query ($id: ID!) { messages(conversationId: $id) { totalCount } }', { id: conversationId }, alice)), 'NOT_FOUND');
  const after = await writeCounts(test);
  t.equal(codeOf(await test.gql(DELETE, { id: conversationId }, owner)), 'NOT_FOUND', 'twice: not found');
  t.same(await writeCounts(test), after, 'and nothing written');
});

t.test('conversations: createConversation refuses bad input and writes nothing', async (t) => {
  const { test, company } = await messengerApp();
  t.teardown(() => test.close());
  const owner = company.owner;
  const alice = await agent(test, company, 'Alice');
  const reader = await agent(test, company, 'Reader', ['messenger.conversation.read']);
  const inboxId = await createInbox(test, owner, { name: 'Sales' }, [alice, reader]);
  const elsewhere = await createInbox(test, owner, { name: 'Support' });
  const contactId = await createContact(test, owner, 'Carol');
  const dave = await createContact(test, owner, 'Dave');
  await createContactInbox(test, owner, inboxId, dave, '+998900000001');
  const gone = await createContact(test, owner, 'Gone');
  data(await test.gql('mutation ($id: ID!) { deleteContact(id: $id) { id } }', { id: gone }, owner), 'deleteContact');
  const other = await test.createCompany({ name: 'Other' });
  const foreign = await createContact(test, other.owner, 'Eve');
  const before = await writeCounts(test);
  const cases: [string, Record<string, unknown>, Who, string, string[]][] = [
    ['a contact id that is no id', { inboxId, contactId: 'carol' }, alice, 'BAD_USER_INPUT', ['input.contactId']],
    ['a contact that does not exist', { inboxId, contactId: MISSING }, alice, 'BAD_USER_INPUT', ['input.contactId']],
    ['a deleted contact', { inboxId, contactId: gone }, alice, 'BAD_USER_INPUT', ['input.contactId']],
    ["another company's contact", { inboxId, contactId: foreign }, alice, 'BAD_USER_INPUT', ['input.contactId']],
    ['an inbox the agent does not answer', { inboxId: elsewhere, contactId }, alice, 'BAD_USER_INPUT', ['input.inboxId']],
    ['an inbox that does not exist', { inboxId: MISSING, contactId }, owner, 'BAD_USER_INPUT', ['input.inboxId']],
    ['a first message over 150,000 characters', { inboxId, contactId, content: 'x'.repeat(150_001) }, alice, 'BAD_USER_INPUT', ['input.content']],
    ['a blank sourceId', { inboxId, contactId, sourceId: '' }, alice, 'BAD_USER_INPUT', ['input.sourceId']],
    ["another contact's address in the inbox", { inboxId, contactId, sourceId: '+998900000001', content: 'Hello' }, alice, 'CONFLICT', []],
    ['without messenger.conversation.reply', { inboxId, contactId }, reader, 'FORBIDDEN', []],
  ];
  for (const [what, input, who, code, fields] of cases) {
    const res = await test.gql(CREATE, { input }, who);
    t.equal(codeOf(res), code, what);
    if (fields.length) t.same(fieldsOf(res), fields, `${what}: names ${fields}`);
  }
  t.same(await writeCounts(test), before, 'nothing was written');
});

t.test('conversations: blockContact refuses a contact the caller cannot reach and changes nothing', async (t) => {
  const { test, company } = await messengerApp();
  t.teardown(() => test.close());
  const owner = company.owner;
  const alice = await agent(test, company, 'Alice');
  const reader = await agent(test, company, 'Reader', ['messenger.conversation.read']);
  const sales = await createInbox(test, owner, { name: 'Sales' }, [alice, reader]);
  const support = await createInbox(test, owner, { name: 'Support' });
  const inSales = await incomingConversation(test, owner, sales);
  const inSupport = await incomingConversation(test, owner, support);
  const other = await test.createCompany({ name: 'Other' });
  const foreign = await createContact(test, other.owner, 'Eve');
  const contacts = () => test.sql('select id, blocked, updated_at from crm_contact order by id');
  const [rows, before] = [await contacts(), await writeCounts(test)];
  const cases: [string, string, Who, string][] = [
    ['a contact id that is no id', 'nope', alice, 'NOT_FOUND'],
    ['a contact that does not exist', MISSING, owner, 'NOT_FOUND'],
    ["another company's contact", foreign, owner, 'NOT_FOUND'],
    ['a contact of an inbox the agent does not answer', inSupport.contactId, alice, 'NOT_FOUND'],
    ['without messenger.conversation.reply', inSales.contactId, reader, 'FORBIDDEN'],
  ];
  for (const [what, id, who, code] of cases) t.equal(codeOf(await test.gql(BLOCK, { id, blocked: true }, who)), code, what);
  t.same(await contacts(), rows, 'no contact was blocked');
  t.same(await writeCounts(test), before, 'nothing was written');
});

t.test('conversations: an agent starting a conversation races a contact writing in, and another agent, without a second conversation or a deadlock', { skip: postgresOnly }, async (t) => {
  const { test, company } = await messengerApp();
  t.teardown(() => test.close());
  const owner = company.owner;
  const single = await createInbox(test, owner, { lockToSingleConversation: true });
  const plain = await createInbox(test, owner);
  const unresolved = (contactId: string) => countRows(test, 'messenger_conversation', `contact_id = $1 and status <> 'RESOLVED'`, [contactId]);
  for (let round = 0; round < 5; round++) {
    // A contact new to the inbox: two agents at once, and the contact's own message beside them.
    const contactId = await createContact(test, owner, `Racer ${round}`);
    const address = await createContactInbox(test, owner, single, contactId);
    const answers = await Promise.all([
      test.gql(CREATE, { input: { inboxId: single, contactId, content: 'from agent one' } }, owner),
      test.gql(CREATE, { input: { inboxId: single, contactId, content: 'from agent two' } }, owner),
      receive(test, owner, address, 'from the contact').catch((error: Error) => error),
    ]);
    t.same(answers.slice(0, 2).map(codeOf), [undefined, undefined], `round ${round}: both agents are answered`);
    t.notOk(answers[2] instanceof Error, `round ${round}: so is the contact`);
    t.equal(await unresolved(contactId), 1, `round ${round}: one unresolved conversation`);

    // Any inbox: an agent's new conversation and the contact's message take their locks in one order.
    const other = await createContact(test, owner, `Other ${round}`);
    const otherAddress = await createContactInbox(test, owner, plain, other);
    const [created, received] = await Promise.all([
      test.gql(CREATE, { input: { inboxId: plain, contactId: other, sourceId: (await test.sql<{ source_id: string }>('select source_id from messenger_contact_inbox where id = $1', [otherAddress]))[0]!.source_id } }, owner),
      receive(test, owner, otherAddress, 'hello').catch((error: Error) => error),
    ]);
    t.equal(codeOf(created), undefined, `round ${round}: no deadlock for the agent`);
    t.notOk(received instanceof Error, `round ${round}: nor for the contact`);
  }
});
