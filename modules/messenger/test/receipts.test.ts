import t from 'tap';
import { assertTenantIsolation, type TestApp } from '@atrium/core/testing';
import { agent, codeOf, countRows, createInbox, data, incomingConversation, messengerApp, receive, send, type Who } from './helpers.ts';

const MARK_READ = 'mutation ($id: ID!) { markConversationRead(conversationId: $id) { id agentLastSeenAt unreadCount } }';
const SET_TYPING = 'mutation ($id: ID!, $typing: Boolean!) { setTyping(conversationId: $id, typing: $typing) }';
const UNREAD = 'query ($id: ID!) { conversation(id: $id) { id unreadCount agentLastSeenAt } }';
const INBOX_UNREAD = 'query ($id: ID!) { inbox(id: $id) { id unreadCount } }';
const INBOX_UNREAD_COUNTS = '{ inboxUnreadCounts { inbox { id } messages conversations } }';
const PAGE = 'query ($inboxId: ID) { conversations(first: 50, filter: { inboxId: $inboxId }) { edges { node { id unreadCount } } } }';
const EVENTS = `
  subscription ($id: ID!) {
    conversationEvents(conversationId: $id) { type conversationId typing { user { id } typing } read { user { id } lastSeenAt } }
  }
`;
const INBOX_EVENTS = 'subscription ($id: ID!) { inboxEvents(inboxId: $id) { type conversationId typing { user { id } typing } } }';

const unreadOf = async (test: TestApp, who: Who, id: string): Promise<number | null> => data(await test.gql(UNREAD, { id }, who), 'conversation').conversation.unreadCount;
const inboxUnreadOf = async (test: TestApp, who: Who, id: string): Promise<number | null> => data(await test.gql(INBOX_UNREAD, { id }, who), 'inbox').inbox.unreadCount;
const readEvents = (test: TestApp, conversationId: string) =>
  test.sql<{ payload: { userId: string; lastSeenAt: string } }>(`select payload from atrium_event where name = 'messenger.conversation.read' and payload->>'conversationId' = $1 order by id`, [conversationId]);
const statuses = async (test: TestApp, conversationId: string) =>
  (await test.sql<{ status: string }>(`select status from messenger_message where conversation_id = $1 and message_type = 'INCOMING' order by created_at, id`, [conversationId])).map((row) => row.status);

/** Moves a user's recorded read back in time, as if `seconds` had passed since (the throttle is counted from it). */
const age = (test: TestApp, conversationId: string, userId: string, seconds: number) =>
  test.sql(`update messenger_read_state set last_seen_at = last_seen_at - make_interval(secs => $3) where conversation_id = $1 and user_id = $2`, [conversationId, userId, seconds]);

t.test('read receipts and unread counts', async (t) => {
  const { test, company } = await messengerApp();
  t.teardown(() => test.close());
  const owner = company.owner;
  const [ann, bob] = await Promise.all([agent(test, company, 'Ann'), agent(test, company, 'Bob')]);
  const inboxId = await createInbox(test, owner, { name: 'Support' }, [ann, bob]);
  const chat = await incomingConversation(test, owner, inboxId, 'Hello');
  await receive(test, owner, chat.contactInboxId, 'Are you there?');
  await receive(test, owner, chat.contactInboxId, 'Anyone?');

  t.test('before reading: every message of the contact is unread, per conversation and per inbox', async (t) => {
    t.equal(await unreadOf(test, ann, chat.conversationId), 3);
    t.equal(await inboxUnreadOf(test, ann, inboxId), 3);
    t.same(data(await test.gql(INBOX_UNREAD_COUNTS, {}, ann), 'counts').inboxUnreadCounts, [{ inbox: { id: inboxId }, messages: 3, conversations: 1 }]);
    await send(test, ann, chat.conversationId, 'Yes, hello!');
    t.equal(await unreadOf(test, ann, chat.conversationId), 3, 'one’s own messages are not unread');
    t.equal(await unreadOf(test, bob, chat.conversationId), 4, 'a colleague’s are');
  });

  t.test('markConversationRead: unread drops to zero for the reader only, messages turn READ, one event', async (t) => {
    const marked = data(await test.gql(MARK_READ, { id: chat.conversationId }, ann), 'mark').markConversationRead;
    t.ok(marked.agentLastSeenAt, 'agentLastSeenAt is set');
    t.equal(marked.unreadCount, 0);
    t.equal(await inboxUnreadOf(test, ann, inboxId), 0);
    t.same(await statuses(test, chat.conversationId), ['READ', 'READ', 'READ']);
    t.equal(await unreadOf(test, bob, chat.conversationId), 4, 'Bob has not read it');
    const events = await readEvents(test, chat.conversationId);
    t.same(events.map((event) => [event.payload.userId, event.payload.lastSeenAt]), [[ann.id, marked.agentLastSeenAt]]);
    t.equal(await countRows(test, 'messenger_read_state', 'user_id = $1', [ann.id]), 1);
  });

  t.test('a second mark within 15 seconds writes nothing; after that it moves', async (t) => {
    const first = data(await test.gql(UNREAD, { id: chat.conversationId }, ann), 'conversation').conversation.agentLastSeenAt;
    await receive(test, owner, chat.contactInboxId, 'One more thing');
    t.equal(await unreadOf(test, ann, chat.conversationId), 1);
    t.equal(await inboxUnreadOf(test, ann, inboxId), 1);

    const throttled = data(await test.gql(MARK_READ, { id: chat.conversationId }, ann), 'mark again').markConversationRead;
    t.equal(throttled.agentLastSeenAt, first, 'lastSeenAt did not move');
    t.equal(throttled.unreadCount, 1, 'the new message is still unread');
    t.same(await statuses(test, chat.conversationId), ['READ', 'READ', 'READ', 'SENT'], 'and not READ');
    t.equal((await readEvents(test, chat.conversationId)).length, 1, 'no second event');

    await age(test, chat.conversationId, ann.id, 16);
    const moved = data(await test.gql(MARK_READ, { id: chat.conversationId }, ann), 'mark later').markConversationRead;
    t.ok(moved.agentLastSeenAt > first, 'lastSeenAt moved');
    t.equal(moved.unreadCount, 0);
    t.same(await statuses(test, chat.conversationId), ['READ', 'READ', 'READ', 'READ']);
    t.equal((await readEvents(test, chat.conversationId)).length, 2);
  });

  t.test('a READ notice reaches the conversation’s subscribers', async (t) => {
    const live = await test.subscribe(EVENTS, { id: chat.conversationId }, ann);
    t.teardown(() => live.close());
    data(await test.gql(MARK_READ, { id: chat.conversationId }, bob), 'Bob reads');
    const event = await live.next();
    t.match(event, { data: { conversationEvents: { type: 'READ', conversationId: chat.conversationId, read: { user: { id: bob.id } } } } });
    t.equal(await unreadOf(test, bob, chat.conversationId), 0);
  });

  t.test('inbox counts leave resolved conversations out and count conversations', async (t) => {
    const second = await incomingConversation(test, owner, inboxId, 'Hi');
    await receive(test, owner, second.contactInboxId, 'Hi again');
    const third = await incomingConversation(test, owner, inboxId, 'Hey');
    t.same(data(await test.gql(INBOX_UNREAD_COUNTS, {}, ann), 'counts').inboxUnreadCounts, [{ inbox: { id: inboxId }, messages: 3, conversations: 2 }]);
    data(await test.gql('mutation ($id: ID!) { setConversationStatus(conversationId: $id, status: RESOLVED) { id } }', { id: third.conversationId }, owner), 'resolve');
    t.same(data(await test.gql(INBOX_UNREAD_COUNTS, {}, ann), 'counts').inboxUnreadCounts, [{ inbox: { id: inboxId }, messages: 2, conversations: 1 }]);
    t.equal(await unreadOf(test, ann, third.conversationId), 1, 'the resolved conversation keeps its own count');
  });

  t.test('unreadCount: one query per page of conversations, one for every inbox', async (t) => {
    const otherInbox = await createInbox(test, owner, { name: 'Sales' }, [ann]);
    await incomingConversation(test, owner, otherInbox, 'One');
    const small = await test.statements(() => test.gql(PAGE, { inboxId: otherInbox }, ann));
    for (let i = 0; i < 4; i++) await incomingConversation(test, owner, otherInbox, `Next ${i}`);
    let page: any;
    const large = await test.statements(async () => (page = await test.gql(PAGE, { inboxId: otherInbox }, ann)));
    t.equal(data(page, 'page').conversations.edges.length, 5);
    t.same(data(page, 'page').conversations.edges.map((edge: any) => edge.node.unreadCount), [1, 1, 1, 1, 1]);
    const unreadQueries = (statements: string[]) => statements.filter((sql) => sql.includes('messenger_read_state')).length;
    t.same([unreadQueries(small), unreadQueries(large)], [1, 1], 'one unread-count query for a page of 1 and for a page of 5');
    let sidebar: any;
    const counts = await test.statements(async () => (sidebar = await test.gql(INBOX_UNREAD_COUNTS, {}, ann)));
    t.equal(counts.filter((sql) => sql.includes('messenger_read_state')).length, 1, 'one query for every inbox');
    t.same(data(sidebar, 'counts').inboxUnreadCounts, [
      { inbox: { id: otherInbox }, messages: 5, conversations: 5 },
      { inbox: { id: inboxId }, messages: 2, conversations: 1 },
    ], 'Sales and Support, by name');
    t.same(data(await test.gql(INBOX_UNREAD_COUNTS, {}, owner), 'owner counts').inboxUnreadCounts.map((count: any) => count.inbox.id), [otherInbox, inboxId], 'an admin has every inbox');
  });

  t.test('refused marks write nothing', async (t) => {
    const reader = await agent(test, company, 'Stranger');
    const before = { states: await countRows(test, 'messenger_read_state'), events: await countRows(test, 'atrium_event') };
    const bad = await test.gql(MARK_READ, { id: 'not-an-id' }, ann);
    t.equal(codeOf(bad), 'BAD_USER_INPUT');
    t.ok(bad.errors?.[0]?.extensions?.fields?.conversationId, 'the field is named');
    t.equal(codeOf(await test.gql(MARK_READ, { id: '01900000-0000-7000-8000-000000000000' }, ann)), 'NOT_FOUND');
    t.equal(codeOf(await test.gql(MARK_READ, { id: chat.conversationId }, reader)), 'NOT_FOUND', 'not a member of the inbox');
    t.equal(codeOf(await test.gql(MARK_READ, { id: chat.conversationId })), 'UNAUTHENTICATED');
    t.same({ states: await countRows(test, 'messenger_read_state'), events: await countRows(test, 'atrium_event') }, before);
  });
});

t.test('typing is broadcast live to the right sockets only, and stored nowhere', async (t) => {
  const { test, company } = await messengerApp();
  t.teardown(() => test.close());
  const owner = company.owner;
  const [ann, bob, cid, mute] = await Promise.all([
    agent(test, company, 'Ann'),
    agent(test, company, 'Bob'),
    agent(test, company, 'Cid'),
    agent(test, company, 'Mute', ['messenger.conversation.read']),
  ]);
  const inboxId = await createInbox(test, owner, { name: 'Support' }, [ann, bob, mute]);
  const otherInboxId = await createInbox(test, owner, { name: 'Sales' }, [cid]);
  const chat = await incomingConversation(test, owner, inboxId);
  const otherChat = await incomingConversation(test, owner, otherInboxId);
  const elsewhere = await test.createCompany();
  const foreignInbox = await createInbox(test, elsewhere.owner, { name: 'Theirs' });
  const foreignChat = await incomingConversation(test, elsewhere.owner, foreignInbox);

  const annConversation = await test.subscribe(EVENTS, { id: chat.conversationId }, ann);
  const annInbox = await test.subscribe(INBOX_EVENTS, { id: inboxId }, ann);
  const cidInbox = await test.subscribe(INBOX_EVENTS, { id: otherInboxId }, cid);
  const foreign = await test.subscribe(EVENTS, { id: foreignChat.conversationId }, elsewhere.owner);
  const refused = await test.subscribe(EVENTS, { id: chat.conversationId }, cid);
  t.teardown(() => Promise.all([annConversation, annInbox, cidInbox, foreign, refused].map((live) => live.close())));
  t.match(await refused.next(), { errors: [{ extensions: { code: 'NOT_FOUND' } }] }, 'Cid cannot follow a conversation of an inbox he is not in');

  const stored = { events: await countRows(test, 'atrium_event'), messages: await countRows(test, 'messenger_message') };
  t.equal(data(await test.gql(SET_TYPING, { id: chat.conversationId, typing: true }, bob), 'typing').setTyping, true);
  t.match(await annConversation.next(), { data: { conversationEvents: { type: 'TYPING', conversationId: chat.conversationId, typing: { user: { id: bob.id }, typing: true } } } });
  t.match(await annInbox.next(), { data: { inboxEvents: { type: 'TYPING', conversationId: chat.conversationId, typing: { user: { id: bob.id }, typing: true } } } });
  data(await test.gql(SET_TYPING, { id: chat.conversationId, typing: false }, bob), 'stopped typing');
  t.match(await annConversation.next(), { data: { conversationEvents: { type: 'TYPING', typing: { user: { id: bob.id }, typing: false } } } });
  t.same({ events: await countRows(test, 'atrium_event'), messages: await countRows(test, 'messenger_message') }, stored, 'nothing stored, nothing in the outbox');

  // The sockets that must not have heard Bob: the first thing each receives is its own next event.
  data(await test.gql(SET_TYPING, { id: otherChat.conversationId, typing: true }, cid), 'Cid types in his inbox');
  t.match(await cidInbox.next(), { data: { inboxEvents: { conversationId: otherChat.conversationId, typing: { user: { id: cid.id } } } } }, 'another inbox heard only its own');
  data(await test.gql(SET_TYPING, { id: foreignChat.conversationId, typing: true }, elsewhere.owner), 'the other company types');
  t.match(await foreign.next(), { data: { conversationEvents: { conversationId: foreignChat.conversationId, typing: { user: { id: elsewhere.owner.id } } } } }, 'another company heard only its own');

  t.test('refusals', async (t) => {
    t.equal(codeOf(await test.gql(SET_TYPING, { id: chat.conversationId, typing: true }, cid)), 'NOT_FOUND', 'a non-member');
    t.equal(codeOf(await test.gql(SET_TYPING, { id: chat.conversationId, typing: true }, mute)), 'FORBIDDEN', 'a member who may only read');
    const bad = await test.gql(SET_TYPING, { id: 'nope', typing: true }, ann);
    t.equal(codeOf(bad), 'BAD_USER_INPUT');
    t.ok(bad.errors?.[0]?.extensions?.fields?.conversationId);
    t.equal(codeOf(await test.gql(SET_TYPING, { id: foreignChat.conversationId, typing: true }, ann)), 'NOT_FOUND', 'another company’s conversation');
  });
});

t.test('tenant isolation of receipts, unread counts and typing', async (t) => {
  const { test } = await messengerApp();
  t.teardown(() => test.close());
  await assertTenantIsolation(t, test, {
    async seed(a, test) {
      const ann = await agent(test, a, 'Ann');
      const inboxId = await createInbox(test, a.owner, { name: 'A inbox' }, [ann]);
      const chat = await incomingConversation(test, a.owner, inboxId, 'Hello');
      data(await test.gql(MARK_READ, { id: chat.conversationId }, ann), 'mark');
      return { conversationId: chat.conversationId, inboxId };
    },
    operations: [
      { name: 'markConversationRead', query: MARK_READ, variables: (s) => ({ id: s.conversationId }) },
      { name: 'setTyping', query: SET_TYPING, variables: (s) => ({ id: s.conversationId, typing: true }) },
      { name: 'conversation.unreadCount', query: UNREAD, variables: (s) => ({ id: s.conversationId }) },
      { name: 'inbox.unreadCount', query: INBOX_UNREAD, variables: (s) => ({ id: s.inboxId }) },
      { name: 'inboxUnreadCounts', query: INBOX_UNREAD_COUNTS },
      { name: 'conversations.unreadCount', query: PAGE, variables: (s) => ({ inboxId: s.inboxId }) },
    ],
  });
});
