import { readdir } from 'node:fs/promises';
import t from 'tap';
import { postgresOnly } from '@atrium/core/testing';
import { agent, codeOf, conversation, countRows, createContact, createContactInbox, createInbox, data, fieldsOf, incomingConversation, messengerApp, RECEIVE, receive, SEND, send, writeCounts } from './helpers.ts';

const EDIT = 'mutation ($id: ID!, $content: String!) { editMessage(id: $id, content: $content) { id content editedAt changes { kind previousContent changedBy { id } } } }';
const DELETE = 'mutation ($id: ID!) { deleteMessage(id: $id) { id content deletedAt attachments { id } changes { kind previousContent } } }';
const MESSAGES = 'query ($id: ID!, $first: Int, $before: String) { messages(conversationId: $id, first: $first, before: $before) { totalCount edges { node { id content } } pageInfo { hasNextPage endCursor } } }';
const ATTACHMENTS = 'query ($id: ID!) { messages(conversationId: $id) { edges { node { id attachments { fileName contentType byteSize url dataBase64 } } } } }';
const MISSING = '01900000-0000-7000-8000-000000000000';
const base64 = (text: string) => Buffer.from(text).toString('base64');
const filesIn = async (dir: string) => (await readdir(dir, { recursive: true, withFileTypes: true })).filter((entry) => entry.isFile()).length;

t.test('messages: a sourceId makes one message however often it is delivered', async (t) => {
  const { test, company } = await messengerApp();
  t.teardown(() => test.close());
  const owner = company.owner;
  const inboxId = await createInbox(test, owner);
  const { contactInboxId, conversationId } = await incomingConversation(test, owner, inboxId);
  const first = await receive(test, owner, contactInboxId, 'from the bridge', { sourceId: 'wamid.1' });
  const again = await receive(test, owner, contactInboxId, 'from the bridge', { sourceId: 'wamid.1' });
  t.equal(again.id, first.id, 'a redelivery answers the first message');
  t.equal(await countRows(test, 'messenger_message', 'source_id = $1', ['wamid.1']), 1);
  t.equal(await countRows(test, 'atrium_event', `name = 'messenger.message.created' and payload->>'messageId' = $1`, [first.id]), 1, 'one event');
  const sent = await send(test, owner, conversationId, 'out', { sourceId: 'client-1' });
  t.equal((await send(test, owner, conversationId, 'out', { sourceId: 'client-1' })).id, sent.id, 'an agent retrying with its sourceId too');

  const otherInbox = await createInbox(test, owner);
  const elsewhere = await incomingConversation(test, owner, otherInbox);
  const same = await receive(test, owner, elsewhere.contactInboxId, 'other inbox', { sourceId: 'wamid.1' });
  t.not(same.id, first.id, 'a sourceId is unique per inbox, not across inboxes');

  // Through an API channel a redelivery may come by another of the contact's addresses; another
  // contact's sourceId is CONFLICT, and nothing of that message is answered.
  const contactId = (await test.sql<{ contact_id: string }>('select contact_id from messenger_contact_inbox where id = $1', [contactInboxId]))[0]!.contact_id;
  const secondAddress = await createContactInbox(test, owner, inboxId, contactId);
  t.equal((await receive(test, owner, secondAddress, 'from the bridge', { sourceId: 'wamid.1' })).id, first.id, "the same contact's other address: the first message");
  const stranger = await incomingConversation(test, owner, inboxId);
  const before = await writeCounts(test);
  const mixedUp = await test.gql(RECEIVE, { input: { contactInboxId: stranger.contactInboxId, content: 'not theirs', sourceId: 'wamid.1' } }, owner);
  t.equal(codeOf(mixedUp), 'CONFLICT', "another contact's sourceId is CONFLICT");
  t.equal(mixedUp.data?.receiveMessage ?? null, null, 'answering nothing of that message');
  t.same(await writeCounts(test), before, 'and writing nothing');
});

t.test("messages: on PostgreSQL an agent's reply is three round trips — the lock, the insert, then its event and the conversation's update with the commit", { skip: postgresOnly }, async (t) => {
  const { test, company } = await messengerApp();
  t.teardown(() => test.close());
  const owner = company.owner;
  const inboxId = await createInbox(test, owner);
  const { conversationId } = await incomingConversation(test, owner, inboxId);
  await send(test, owner, conversationId, 'the first reply');
  const live = await test.subscribe('subscription ($id: ID!) { conversationEvents(conversationId: $id) { type message { content } } }', { id: conversationId }, owner);
  const sent = await test.messages(async () => {
    t.equal(codeOf(await test.gql('mutation ($input: SendMessageInput!) { sendMessage(input: $input) { id } }', { input: { conversationId, content: 'the second' } }, owner)), undefined);
  });
  t.equal(sent.length, 3, 'three messages', { sent });
  t.match(sent[0], /^begin; set local role [^;]*; set local [^;]*; (prepare atrium_\w+ as [^;]*; )?(select|execute) /, 'the lock, with the begin and the context');
  t.match(sent[1], /insert into messenger_message|execute atrium_/, "the message's insert");
  t.match(sent[2], /^insert into "atrium_event" [^;]*; update "messenger_conversation" [^;]*; select 1; commit$/, 'the event and the update travel with the commit');
  t.same((await live.next()).data?.conversationEvents, { type: 'MESSAGE_CREATED', message: { content: 'the second' } }, 'published once committed');
  t.equal(await countRows(test, 'messenger_message', `content = 'the second'`), 1);
  t.equal(await countRows(test, 'atrium_event', `name = 'messenger.message.created'`), 3, 'the event written (with those of the first two messages)');
});

t.test("messages: on PostgreSQL a contact's message commits with its last writes — the out-of-office reply's when one follows", { skip: postgresOnly }, async (t) => {
  const { test, company } = await messengerApp();
  t.teardown(() => test.close());
  const owner = company.owner;
  const now = new Date();
  const hours = (day: number) => ({ workingHours: [{ day, open: '00:00', close: '24:00' }], timezone: 'UTC', outOfOfficeMessage: 'We are closed' });
  const openToday = await createInbox(test, owner, hours(now.getUTCDay()));
  const closedToday = await createInbox(test, owner, hours((now.getUTCDay() + 3) % 7));
  const open = await incomingConversation(test, owner, openToday);
  const received = (contactInboxId: string, content: string) => test.messages(() => receive(test, owner, contactInboxId, content));
  const commits = (sent: string[]) => sent.filter((message) => /\bcommit$/.test(message));

  const inOpen = await received(open.contactInboxId, 'again');
  t.equal(commits(inOpen).length, 1, 'one commit', { sent: inOpen });
  t.match(commits(inOpen)[0], /^insert into "atrium_event" [^;]*; (update [^;]*; )*select 1; commit$/, "the message's event travels with the commit");
  t.notOk(inOpen.some((message) => message === 'commit'), 'no commit alone');

  const closedInbox = await createContactInbox(test, owner, closedToday, open.contactId);
  const withReply = await received(closedInbox, 'hello, anyone?');
  t.equal(commits(withReply).length, 1, 'one commit', { sent: withReply });
  t.match(commits(withReply)[0], /^insert into "atrium_event" [^;]*; (update [^;]*; )*select 1; commit$/, "the reply's event travels with the commit");
  t.notOk(withReply.some((message) => message === 'commit'), 'no commit alone');
  const conversationId = (await test.sql<{ conversation_id: string }>('select conversation_id from messenger_message where content = $1', ['hello, anyone?']))[0]!.conversation_id;
  t.same(await test.sql('select content, sender_type from messenger_message where conversation_id = $1 order by created_at, id', [conversationId]), [
    { content: 'hello, anyone?', sender_type: 'CONTACT' },
    { content: 'We are closed', sender_type: 'SYSTEM' },
  ], 'the message and the out-of-office reply, both committed');
  t.equal(await countRows(test, 'atrium_event', `name = 'messenger.message.created' and payload->>'conversationId' = $1`, [conversationId]), 2, 'with their events');
});

t.test('messages: 5 concurrent deliveries of one sourceId make one message and one event (PostgreSQL)', { skip: postgresOnly }, async (t) => {
  const { test, company } = await messengerApp();
  t.teardown(() => test.close());
  const owner = company.owner;
  const inboxId = await createInbox(test, owner);
  const { contactInboxId, conversationId } = await incomingConversation(test, owner, inboxId);
  for (const [what, deliver] of [
    ['receiveMessage', () => test.gql(RECEIVE, { input: { contactInboxId, content: 'dup', sourceId: 'race-in' } }, owner)],
    ['sendMessage', () => test.gql(SEND, { input: { conversationId, content: 'dup', sourceId: 'race-out' } }, owner)],
  ] as const) {
    const results = await Promise.all(Array.from({ length: 5 }, deliver));
    t.same(results.map((res) => res.errors), [undefined, undefined, undefined, undefined, undefined], `${what}: every delivery succeeds`);
    const ids = new Set(results.map((res) => (res.data as any)[what].id));
    t.equal(ids.size, 1, `${what}: all answer the same message`);
    const sourceId = what === 'receiveMessage' ? 'race-in' : 'race-out';
    t.equal(await countRows(test, 'messenger_message', 'source_id = $1', [sourceId]), 1, `${what}: one row`);
    t.equal(await countRows(test, 'atrium_event', `name = 'messenger.message.created' and payload->>'messageId' = $1`, [[...ids][0]]), 1, `${what}: one event`);
  }
  t.equal(await countRows(test, 'messenger_conversation'), 1, 'and one conversation');
});

t.test('messages: the 21st message in a minute is RATE_LIMITED and writes nothing', async (t) => {
  const { test, company } = await messengerApp();
  t.teardown(() => test.close());
  const owner = company.owner;
  const alice = await agent(test, company, 'Alice');
  const inboxId = await createInbox(test, owner, {}, [alice]);
  const { conversationId, contactInboxId } = await incomingConversation(test, owner, inboxId);
  for (let i = 1; i <= 20; i++) await send(test, alice, conversationId, `message ${i}`);
  const before = await writeCounts(test);
  const res = await test.gql(SEND, { input: { conversationId, content: 'one too many' } }, alice);
  t.equal(codeOf(res), 'RATE_LIMITED');
  t.same(await writeCounts(test), before, 'nothing was written');
  t.ok(await send(test, owner, conversationId, 'another agent is not limited by Alice'));
  // The contact counts on its own: its first message of this test came before; 19 more pass, then no.
  for (let i = 2; i <= 20; i++) await receive(test, owner, contactInboxId, `from the contact ${i}`);
  const beforeFlood = await writeCounts(test);
  t.equal(codeOf(await test.gql(RECEIVE, { input: { contactInboxId, content: 'flood' } }, owner)), 'RATE_LIMITED', 'a contact flooding is limited too');
  t.same(await writeCounts(test), beforeFlood, 'and writes nothing either');
});

t.test('messages: a client resending one message (same sourceId) does not use up its sender’s flood limit', async (t) => {
  const { test, company } = await messengerApp();
  t.teardown(() => test.close());
  const owner = company.owner;
  const alice = await agent(test, company, 'Alice');
  const inboxId = await createInbox(test, owner, {}, [alice]);
  const { conversationId } = await incomingConversation(test, owner, inboxId);
  const first = await send(test, alice, conversationId, 'once', { sourceId: 'client-1' });
  for (let i = 0; i < 25; i++) t.equal((await send(test, alice, conversationId, 'once', { sourceId: 'client-1' })).id, first.id, 'the same message');
  t.ok(await send(test, alice, conversationId, 'a new one', { sourceId: 'client-2' }), 'the next new message is accepted');
  t.equal(await countRows(test, 'messenger_message', "source_id like 'client-%'"), 2);
});

t.test('messages: replies, length and attachment limits; refused input writes nothing', async (t) => {
  const { test, company, storageDir } = await messengerApp({ maxAttachmentBytes: 1000 });
  t.teardown(() => test.close());
  const owner = company.owner;
  const inboxId = await createInbox(test, owner);
  const one = await incomingConversation(test, owner, inboxId);
  const two = await incomingConversation(test, owner, inboxId);
  const attachment = { fileName: 'note.txt', contentType: 'text/plain', dataBase64: base64('x') };
  const before = await writeCounts(test);
  const cases: [string, Record<string, unknown>, string][] = [
    ['a reply to a message of another conversation', { conversationId: one.conversationId, content: 'x', replyToId: two.messageId }, 'input.replyToId'],
    ['a reply to a message that does not exist', { conversationId: one.conversationId, content: 'x', replyToId: '0190a1b2-0000-7000-8000-000000000000' }, 'input.replyToId'],
    ['content over 150,000 characters', { conversationId: one.conversationId, content: 'x'.repeat(150_001) }, 'input.content'],
    ['16 attachments', { conversationId: one.conversationId, content: 'x', attachments: Array.from({ length: 16 }, () => attachment) }, 'input.attachments'],
    ['an attachment over the size cap', { conversationId: one.conversationId, content: 'x', attachments: [attachment, { ...attachment, dataBase64: base64('y'.repeat(1001)) }] }, 'input.attachments.1.dataBase64'],
    ['an attachment name with a slash', { conversationId: one.conversationId, attachments: [{ ...attachment, fileName: '../etc/passwd' }] }, 'input.attachments.0.fileName'],
    ['no content and no attachment', { conversationId: one.conversationId, content: '   ' }, 'input.content'],
    ['a conversation id that is not an id', { conversationId: 'nope', content: 'x' }, 'input.conversationId'],
  ];
  for (const [what, input, field] of cases) {
    const res = await test.gql(SEND, { input }, owner);
    t.equal(codeOf(res), 'BAD_USER_INPUT', what);
    t.same(fieldsOf(res), [field], `${what}: names ${field}`);
  }
  t.same(await writeCounts(test), before, 'nothing was written');
  t.equal(await filesIn(storageDir), 0, 'no file was stored');

  const longest = await send(test, owner, one.conversationId, 'x'.repeat(150_000));
  t.equal(longest.content.length, 150_000, '150,000 characters are accepted');
  const reply = await send(test, owner, one.conversationId, 'quoting', { replyToId: one.messageId });
  t.same(reply.replyTo, { id: one.messageId }, 'a reply quotes its parent');
});

t.test('messages: attachments go to the storage; edit and delete by the author only, recorded', async (t) => {
  const { test, company, storageDir } = await messengerApp();
  t.teardown(() => test.close());
  const owner = company.owner;
  const alice = await agent(test, company, 'Alice');
  const bob = await agent(test, company, 'Bob');
  const inboxId = await createInbox(test, owner, {}, [alice, bob]);
  const { conversationId, messageId: incomingId } = await incomingConversation(test, owner, inboxId);
  const files = Array.from({ length: 15 }, (_, i) => ({ fileName: `file ${i}.txt`, contentType: 'Text/Plain', dataBase64: base64(`content ${i}`) }));
  const message = await send(test, alice, conversationId, 'see attached', { attachments: files });
  t.equal(message.attachments.length, 15, '15 attachments are accepted');
  t.same(message.attachments[0], { fileName: 'file 0.txt', contentType: 'text/plain', byteSize: 9 });
  t.equal(await filesIn(storageDir), 15, 'their bytes are in the storage');
  const listed = data(await test.gql(ATTACHMENTS, { id: conversationId }, bob), 'attachments').messages.edges.find((e: any) => e.node.id === message.id).node;
  t.same(listed.attachments[3], { fileName: 'file 3.txt', contentType: 'text/plain', byteSize: 9, url: null, dataBase64: base64('content 3') }, 'read back through the API');

  t.equal(codeOf(await test.gql(EDIT, { id: message.id, content: 'hijacked' }, bob)), 'FORBIDDEN', 'another agent may not edit it');
  t.equal(codeOf(await test.gql(DELETE, { id: message.id }, bob)), 'FORBIDDEN', 'nor delete it');
  t.equal(codeOf(await test.gql(EDIT, { id: incomingId, content: 'rewritten' }, owner)), 'FORBIDDEN', "nobody edits the contact's message");
  t.equal(codeOf(await test.gql(EDIT, { id: message.id, content: '  ' }, alice)), 'BAD_USER_INPUT', 'blank content is refused');
  t.equal(await countRows(test, 'messenger_message_change'), 0, 'refused changes record nothing');

  const edited = data(await test.gql(EDIT, { id: message.id, content: 'see the files attached' }, alice), 'edit').editMessage;
  t.match(edited, { content: 'see the files attached', editedAt: /Z$/, changes: [{ kind: 'EDITED', previousContent: 'see attached', changedBy: { id: alice.id } }] });
  const deleted = data(await test.gql(DELETE, { id: message.id }, alice), 'delete').deleteMessage;
  t.match(deleted, { content: null, deletedAt: /Z$/, attachments: [], changes: [{ kind: 'EDITED' }, { kind: 'DELETED', previousContent: 'see the files attached' }] });
  t.equal(await filesIn(storageDir), 0, "the deleted message's files are removed");
  t.equal(codeOf(await test.gql(EDIT, { id: message.id, content: 'back' }, alice)), 'BAD_USER_INPUT', 'a deleted message stays deleted');
  t.equal(await countRows(test, 'messenger_message', 'id = $1', [message.id]), 1, 'the message stays in the history');

  await send(test, alice, conversationId, 'one more', { attachments: files.slice(0, 2) });
  t.equal(await filesIn(storageDir), 2);
  data(await test.gql('mutation ($id: ID!) { deleteConversation(id: $id) }', { id: conversationId }, owner), 'delete conversation');
  t.equal(await filesIn(storageDir), 0, "a deleted conversation's files are removed too");
});

t.test('messages: history pages backwards, newest first', async (t) => {
  const { test, company } = await messengerApp();
  t.teardown(() => test.close());
  const owner = company.owner;
  const inboxId = await createInbox(test, owner);
  const { conversationId } = await incomingConversation(test, owner, inboxId, 'm0');
  for (let i = 1; i <= 4; i++) await send(test, owner, conversationId, `m${i}`);
  const page = data(await test.gql(MESSAGES, { id: conversationId, first: 2 }, owner), 'page').messages;
  t.same(page.edges.map((e: any) => e.node.content), ['m4', 'm3']);
  t.equal(page.totalCount, 5);
  const older = data(await test.gql(MESSAGES, { id: conversationId, first: 2, before: page.pageInfo.endCursor }, owner), 'older').messages;
  t.same(older.edges.map((e: any) => e.node.content), ['m2', 'm1']);
  const oldest = data(await test.gql(MESSAGES, { id: conversationId, first: 2, before: older.pageInfo.endCursor }, owner), 'oldest').messages;
  t.same(oldest.edges.map((e: any) => e.node.content), ['m0']);
  t.equal(oldest.pageInfo.hasNextPage, false);
  t.equal(codeOf(await test.gql(MESSAGES, { id: conversationId, first: 101 }, owner)), 'BAD_USER_INPUT');
});

t.test('messages: receiveMessage refuses bad input and writes nothing', async (t) => {
  const { test, company, storageDir } = await messengerApp({ maxAttachmentBytes: 1000 });
  t.teardown(() => test.close());
  const owner = company.owner;
  const inboxId = await createInbox(test, owner);
  const existing = await incomingConversation(test, owner, inboxId);
  const fresh = await createContactInbox(test, owner, inboxId, await createContact(test, owner, 'New'));
  const attachment = { fileName: 'note.txt', contentType: 'text/plain', dataBase64: base64('x') };
  const before = await writeCounts(test);
  const cases: [string, Record<string, unknown>, string, string[]][] = [
    ['a contact inbox id that is no id', { contactInboxId: 'nope', content: 'x' }, 'BAD_USER_INPUT', ['input.contactInboxId']],
    ['a contact inbox that does not exist', { contactInboxId: MISSING, content: 'x' }, 'NOT_FOUND', []],
    ['content over 150,000 characters', { contactInboxId: existing.contactInboxId, content: 'x'.repeat(150_001) }, 'BAD_USER_INPUT', ['input.content']],
    ['no content and no attachment', { contactInboxId: existing.contactInboxId, content: '  ' }, 'BAD_USER_INPUT', ['input.content']],
    ['a first message without content', { contactInboxId: fresh, content: '  ' }, 'BAD_USER_INPUT', ['input.content']],
    ['a first message with an attachment over the size cap', { contactInboxId: fresh, content: 'x', attachments: [attachment, { ...attachment, dataBase64: base64('y'.repeat(1001)) }] }, 'BAD_USER_INPUT', ['input.attachments.1.dataBase64']],
    ['an attachment name with a slash', { contactInboxId: existing.contactInboxId, attachments: [{ ...attachment, fileName: '../etc/passwd' }] }, 'BAD_USER_INPUT', ['input.attachments.0.fileName']],
  ];
  for (const [what, input, code, fields] of cases) {
    const res = await test.gql(RECEIVE, { input }, owner);
    t.equal(codeOf(res), code, what);
    if (fields.length) t.same(fieldsOf(res), fields, `${what}: names ${fields}`);
  }
  t.same(await writeCounts(test), before, 'nothing was written (no conversation opened for the new address)');
  t.equal(await filesIn(storageDir), 0, 'no file was stored');
});

t.test("messages: a refused first message assigns nobody, so it uses up no agent's assignment limit", async (t) => {
  const { test, company } = await messengerApp();
  t.teardown(() => test.close());
  const owner = company.owner;
  const ann = await agent(test, company, 'Ann');
  const inboxId = await createInbox(test, owner, { autoAssign: true, assignmentLimit: 1, assignmentWindowSeconds: 3600 }, [ann]);
  data(await test.gql('mutation { setAvailability(status: ONLINE) }', {}, ann), 'setAvailability');
  const first = await createContactInbox(test, owner, inboxId, await createContact(test, owner, 'First'));
  t.equal(codeOf(await test.gql(RECEIVE, { input: { contactInboxId: first, content: '   ' } }, owner)), 'BAD_USER_INPUT');
  const second = await createContactInbox(test, owner, inboxId, await createContact(test, owner, 'Second'));
  const { conversationId } = await receive(test, owner, second, 'Hello');
  t.same((await conversation(test, owner, conversationId)).assignee, { id: ann.id }, 'the first real conversation is hers: her one assignment in the window is still free');
});

t.test('messages: deleteMessage refuses what is not the caller’s to delete and changes nothing', async (t) => {
  const { test, company, storageDir } = await messengerApp();
  t.teardown(() => test.close());
  const owner = company.owner;
  const alice = await agent(test, company, 'Alice');
  const bob = await agent(test, company, 'Bob');
  const inboxId = await createInbox(test, owner, {}, [alice, bob]);
  const elsewhere = await createInbox(test, owner, {}, [alice]);
  const { conversationId, messageId: incomingId } = await incomingConversation(test, owner, inboxId);
  const other = await incomingConversation(test, owner, elsewhere);
  const mine = await send(test, alice, conversationId, 'with a file', { attachments: [{ fileName: 'a.txt', contentType: 'text/plain', dataBase64: base64('hi') }] });
  const unreachable = await send(test, alice, other.conversationId, 'in an inbox Bob does not answer');
  const gone = await send(test, bob, conversationId, 'oops');
  data(await test.gql(DELETE, { id: gone.id }, bob), 'delete');
  const messages = () => test.sql('select id, content, deleted_at from messenger_message order by id');
  const [rows, before] = [await messages(), await writeCounts(test)];
  const cases: [string, string, string][] = [
    ['an id that is no id', 'nope', 'NOT_FOUND'],
    ['a message that does not exist', MISSING, 'NOT_FOUND'],
    ['a message of a conversation Bob cannot read', unreachable.id, 'NOT_FOUND'],
    ["another agent's message", mine.id, 'FORBIDDEN'],
    ["the contact's message", incomingId, 'FORBIDDEN'],
    ['a message already deleted', gone.id, 'BAD_USER_INPUT'],
  ];
  for (const [what, id, code] of cases) {
    const res = await test.gql(DELETE, { id }, bob);
    t.equal(codeOf(res), code, what);
    if (code === 'BAD_USER_INPUT') t.same(fieldsOf(res), ['id'], `${what}: names id`);
  }
  t.same(await messages(), rows, 'no message lost its content');
  t.same(await writeCounts(test), before, 'nothing was written');
  t.equal(await filesIn(storageDir), 1, "Alice's file is still stored");
});
