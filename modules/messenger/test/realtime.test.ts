import t from 'tap';
import { agent, codeOf, createInbox, data, incomingConversation, messengerApp, receive, send, SET_STATUS } from './helpers.ts';

const EVENT_FIELDS = 'type conversationId inboxId conversation { id status waitingSince } message { id content private senderUser { id } senderContact { id } }';
const CONVERSATION_EVENTS = `subscription ($id: ID!) { conversationEvents(conversationId: $id) { ${EVENT_FIELDS} } }`;
const INBOX_EVENTS = `subscription ($id: ID!) { inboxEvents(inboxId: $id) { ${EVENT_FIELDS} } }`;
const REMOVE_MEMBER = 'mutation ($i: ID!, $u: ID!) { removeInboxMember(inboxId: $i, userId: $u) { id } }';
const ADD_MEMBER = 'mutation ($i: ID!, $u: ID!) { addInboxMember(inboxId: $i, userId: $u) { id } }';

t.test("realtime: an agent's inbox membership is read once for all live events, and again after it changes", async (t) => {
  const { test, company } = await messengerApp();
  t.teardown(() => test.close());
  const owner = company.owner;
  const alice = await agent(test, company, 'Alice');
  const sales = await createInbox(test, owner, { name: 'Sales' }, [alice]);
  const chat = await incomingConversation(test, owner, sales);
  const aliceConversation = await test.subscribe(CONVERSATION_EVENTS, { id: chat.conversationId }, alice);
  const aliceInbox = await test.subscribe(INBOX_EVENTS, { id: sales }, alice);
  const membershipReads: string[] = [];
  t.teardown(test.onQuery((sql) => void (/messenger_inbox_member/.test(sql) && !/^insert|^delete/.test(sql) && membershipReads.push(sql))));

  for (const content of ['one', 'two', 'three']) {
    const message = await send(test, owner, chat.conversationId, content);
    t.match(await aliceConversation.next(), { data: { conversationEvents: { message: { id: message.id } } } });
    t.match(await aliceInbox.next(), { data: { inboxEvents: { message: { id: message.id } } } });
  }
  t.ok(membershipReads.length <= 2, `three events to two subscriptions read it at most once per subscription (${membershipReads.length})`);

  membershipReads.length = 0;
  data(await test.gql(REMOVE_MEMBER, { i: sales, u: alice.id }, owner), 'remove');
  const unseen = await send(test, owner, chat.conversationId, 'after Alice left');
  // Access is decided when an event is delivered: adding her back before that would let it through.
  await test.app.liveIdle();
  data(await test.gql(ADD_MEMBER, { i: sales, u: alice.id }, owner), 'add');
  const seen = await send(test, owner, chat.conversationId, 'Alice is back');
  t.match(await aliceConversation.next(), { data: { conversationEvents: { message: { id: seen.id } } } }, `the message sent while she was out (${unseen.id}) never reached her`);
  t.match(await aliceInbox.next(), { data: { inboxEvents: { message: { id: seen.id } } } });
  t.ok(membershipReads.length >= 2, 'each change made it read again');
});

t.test('realtime: events reach exactly the sockets allowed to see them', async (t) => {
  const { test, company } = await messengerApp();
  t.teardown(() => test.close());
  const owner = company.owner;
  const alice = await agent(test, company, 'Alice');
  const bob = await agent(test, company, 'Bob');
  const carol = await agent(test, company, 'Carol');
  const sales = await createInbox(test, owner, { name: 'Sales' }, [alice]);
  const support = await createInbox(test, owner, { name: 'Support' }, [bob]);
  const chat = await incomingConversation(test, owner, sales);
  const supportChat = await incomingConversation(test, owner, support);
  const other = await test.createCompany({ name: 'Other' });
  const otherInbox = await createInbox(test, other.owner);
  const otherChat = await incomingConversation(test, other.owner, otherInbox);

  const ownerConversation = await test.subscribe(CONVERSATION_EVENTS, { id: chat.conversationId }, owner);
  const ownerInbox = await test.subscribe(INBOX_EVENTS, { id: sales }, owner);
  const aliceConversation = await test.subscribe(CONVERSATION_EVENTS, { id: chat.conversationId }, alice);
  const bobInbox = await test.subscribe(INBOX_EVENTS, { id: support }, bob);
  const foreign = await test.subscribe(CONVERSATION_EVENTS, { id: otherChat.conversationId }, other.owner);

  const refusals = [
    ['an agent who is no member of the inbox', await test.subscribe(CONVERSATION_EVENTS, { id: chat.conversationId }, carol)],
    ["an agent to another inbox's events", await test.subscribe(INBOX_EVENTS, { id: sales }, carol)],
    ["another company's owner", await test.subscribe(CONVERSATION_EVENTS, { id: chat.conversationId }, other.owner)],
    ["another company's owner, to the inbox", await test.subscribe(INBOX_EVENTS, { id: sales }, other.owner)],
    // PostgreSQL would find the row, but its topic is named by the id as written: no event would come.
    ["the owner, with the conversation's id in capitals", await test.subscribe(CONVERSATION_EVENTS, { id: chat.conversationId.toUpperCase() }, owner)],
  ] as const;
  for (const [who, subscription] of refusals) t.equal((await subscription.failed as any)[0]?.extensions?.code, 'NOT_FOUND', `${who} is refused as for a missing id`);

  const reply = await send(test, alice, chat.conversationId, 'Hello from Alice');
  const expected = { type: 'MESSAGE_CREATED', conversationId: chat.conversationId, inboxId: sales, conversation: { id: chat.conversationId, waitingSince: null }, message: { id: reply.id, content: 'Hello from Alice', senderUser: { id: alice.id }, senderContact: null } };
  t.match(await ownerConversation.next(), { data: { conversationEvents: expected } }, "the conversation's subscriber gets the message");
  t.match(await ownerInbox.next(), { data: { inboxEvents: expected } }, "so does the inbox's");
  t.match(await aliceConversation.next(), { data: { conversationEvents: expected } }, 'and the member agent');

  // What the others get first is their own conversation's next event: nothing of Sales came before it.
  const supportMessage = await receive(test, owner, supportChat.contactInboxId, 'Support question');
  t.match(await bobInbox.next(), { data: { inboxEvents: { type: 'MESSAGE_CREATED', conversationId: supportChat.conversationId, message: { id: supportMessage.id, senderContact: { id: supportChat.contactId } } } } }, "another inbox's subscriber got nothing of Sales");
  const otherMessage = await send(test, other.owner, otherChat.conversationId, 'Elsewhere');
  t.match(await foreign.next(), { data: { conversationEvents: { message: { id: otherMessage.id } } } }, 'another company got nothing of Sales');

  t.test('status changes and private notes reach agents', async (t) => {
    data(await test.gql(SET_STATUS, { id: chat.conversationId, status: 'PENDING' }, owner), 'pending');
    t.match(await aliceConversation.next(), { data: { conversationEvents: { type: 'STATUS_CHANGED', conversation: { status: 'PENDING' } } } });
    t.match(await ownerConversation.next(), { data: { conversationEvents: { type: 'STATUS_CHANGED' } } });
    t.match(await ownerInbox.next(), { data: { inboxEvents: { type: 'STATUS_CHANGED' } } });
    const note = await send(test, owner, chat.conversationId, 'for agents', { private: true });
    t.match(await aliceConversation.next(), { data: { conversationEvents: { message: { id: note.id, private: true } } } });
    t.match(await ownerConversation.next(), { data: { conversationEvents: { message: { id: note.id } } } });
    t.match(await ownerInbox.next(), { data: { inboxEvents: { message: { id: note.id } } } });
  });

  t.test('an agent who leaves the inbox stops receiving at once', async (t) => {
    data(await test.gql(REMOVE_MEMBER, { i: sales, u: alice.id }, owner), 'remove');
    const unseen = await send(test, owner, chat.conversationId, 'after Alice left');
    t.match(await ownerConversation.next(), { data: { conversationEvents: { message: { id: unseen.id } } } });
    t.match(await ownerInbox.next(), { data: { inboxEvents: { message: { id: unseen.id } } } });
    await test.app.liveIdle();
    data(await test.gql(ADD_MEMBER, { i: sales, u: alice.id }, owner), 'add');
    const seen = await send(test, owner, chat.conversationId, 'Alice is back');
    t.match(await aliceConversation.next(), { data: { conversationEvents: { message: { id: seen.id } } } }, 'the message sent meanwhile never reached her');
    t.match(await ownerConversation.next(), { data: { conversationEvents: { message: { id: seen.id } } } });
    t.match(await ownerInbox.next(), { data: { inboxEvents: { message: { id: seen.id } } } });
  });

  t.test('a deleted conversation is dropped by everyone', async (t) => {
    t.equal(data(await test.gql('mutation ($id: ID!) { deleteConversation(id: $id) }', { id: chat.conversationId }, owner), 'delete').deleteConversation, true);
    t.match(await aliceConversation.next(), { data: { conversationEvents: { type: 'DELETED', conversationId: chat.conversationId } } });
    t.match(await ownerConversation.next(), { data: { conversationEvents: { type: 'DELETED' } } });
    t.match(await ownerInbox.next(), { data: { inboxEvents: { type: 'DELETED', conversationId: chat.conversationId } } });
    t.equal(codeOf(await test.gql('query ($id: ID!) { messages(conversationId: $id) { totalCount } }', { id: chat.conversationId }, alice)), 'NOT_FOUND');
  });
});
