import t from 'tap';
import { postgresOnly } from '@atrium/core/testing';
import { randomBytes } from 'node:crypto';
import type { GqlResponse, TestApp, TestCompany, TestUser } from '@atrium/core/testing';
import { WIDGET_SESSIONS_PER_IP } from '../src/services/widget.ts';
import { agent as makeAgent, codeOf, countRows as count, data, messengerApp, type Who } from './helpers.ts';

const START = 'mutation ($inboxToken: String!, $contact: WidgetContactInput!) { widgetStartSession(inboxToken: $inboxToken, contact: $contact) { token contactInboxId inboxName } }';
const SEND = 'mutation ($token: String!, $content: String!, $sourceId: String) { widgetSendMessage(token: $token, content: $content, sourceId: $sourceId) { id conversationId messageType senderType content status } }';
const HISTORY = 'query ($token: String!, $first: Int, $before: String) { widgetMessages(token: $token, first: $first, before: $before) { totalCount edges { node { content messageType senderType attachments { fileName contentType byteSize } } } pageInfo { hasNextPage endCursor } } }';
const EVENTS = 'subscription ($token: String!) { widgetEvents(token: $token) { type conversationId message { content messageType senderType attachments { fileName dataBase64 } } status typing agentLastSeenAt } }';
const MARK_READ = 'mutation ($token: String!) { widgetMarkRead(token: $token) }';
const AGENT_SEND = 'mutation ($input: SendMessageInput!) { sendMessage(input: $input) { id } }';

/** Every table the widget writes to, and the outbox: refusals must leave them as they were. */
const written = async (test: TestApp) => ({
  contacts: await count(test, 'crm_contact'),
  addresses: await count(test, 'crm_contact_email'),
  sessions: await count(test, 'messenger_contact_inbox'),
  conversations: await count(test, 'messenger_conversation'),
  messages: await count(test, 'messenger_message'),
  events: await count(test, 'atrium_event'),
});

/** A public call from a given client address (the widget's rate limit is per address). */
async function fromAddress(test: TestApp, ip: string, query: string, variables: Record<string, unknown>): Promise<GqlResponse> {
  const response = await test.app.fastify.inject({ method: 'POST', url: '/graphql', remoteAddress: ip, headers: { 'content-type': 'application/json' }, payload: JSON.stringify({ query, variables }) });
  return JSON.parse(response.body);
}

interface Setup {
  test: TestApp;
  company: TestCompany;
  agent: TestUser;
  inboxId: string;
  inboxToken: string;
}

async function widgetInbox(test: TestApp, company: TestCompany, name = 'Website'): Promise<{ inboxId: string; inboxToken: string }> {
  const inbox = data(await test.gql('mutation ($input: CreateInboxInput!) { createInbox(input: $input) { id token } }', { input: { name, channel: 'WEB_WIDGET' } }, company.owner), 'createInbox').createInbox;
  return { inboxId: inbox.id, inboxToken: inbox.token };
}

async function widgetApp(): Promise<Setup> {
  const { test, company } = await messengerApp();
  const { inboxId, inboxToken } = await widgetInbox(test, company);
  const agent = await makeAgent(test, company, 'Agent');
  data(await test.gql('mutation ($inboxId: ID!, $userId: ID!) { addInboxMember(inboxId: $inboxId, userId: $userId) { id } }', { inboxId, userId: agent.id }, company.owner), 'addInboxMember');
  return { test, company, agent, inboxId, inboxToken };
}

const start = async (test: TestApp, inboxToken: string, contact: { name: string; email: string }) => data(await test.gql(START, { inboxToken, contact }), 'widgetStartSession').widgetStartSession;
const say = async (test: TestApp, token: string, content: string, sourceId?: string) => data(await test.gql(SEND, { token, content, sourceId }), 'widgetSendMessage').widgetSendMessage;
const history = async (test: TestApp, token: string, first?: number, before?: string) => data(await test.gql(HISTORY, { token, first, before }), 'widgetMessages').widgetMessages;
const agentSays = async (test: TestApp, agent: Who, conversationId: string, content: string, isPrivate = false) =>
  data(await test.gql(AGENT_SEND, { input: { conversationId, content, private: isPrivate } }, agent), 'sendMessage');

t.test('widget: a visitor starts a session, writes, reads its history and follows its conversation live', async (t) => {
  const { test, company, agent, inboxId, inboxToken } = await widgetApp();
  t.teardown(() => test.close());

  const session = await start(test, inboxToken, { name: 'Visitor', email: 'Vis@Example.com' });
  t.match(session, { token: /^[\w-]{43}$/, inboxName: 'Website' });
  const [contact] = await test.sql<{ id: string; name: string; emails: string[]; branch_id: string }>('select id, name, emails, branch_id from crm_contact');
  t.match(contact, { name: 'Visitor', emails: ['vis@example.com'], branch_id: company.defaultBranchId }, "a crm contact, in the inbox's branch");
  t.equal(await count(test, 'atrium_event', `name = 'crm.contact.created'`), 1);

  // No credentials: the widget's socket is anonymous.
  const live = await test.subscribe(EVENTS, { token: session.token });
  const hello = await say(test, session.token, 'Hello, I need help');
  t.match(hello, { messageType: 'INCOMING', senderType: 'CONTACT', content: 'Hello, I need help', status: 'SENT' });
  t.match(await live.next(), { data: { widgetEvents: { type: 'MESSAGE_CREATED', conversationId: hello.conversationId, message: { content: 'Hello, I need help', messageType: 'INCOMING' } } } });
  t.same(await say(test, session.token, 'Hello, I need help', 'visitor-msg-1').then((m) => m.content), 'Hello, I need help');
  const duplicate = await say(test, session.token, 'Hello again', 'visitor-msg-1');
  t.equal(duplicate.content, 'Hello, I need help', 'the same sourceId answers the first message');
  t.match(await live.next(), { data: { widgetEvents: { message: { content: 'Hello, I need help' } } } });

  const listed = data(await test.gql('query ($inboxId: ID!) { conversations(filter: { inboxId: $inboxId }) { edges { node { id contact { id } status } } } }', { inboxId }, agent), 'conversations');
  t.same(listed.conversations.edges.map((edge: any) => edge.node), [{ id: hello.conversationId, contact: { id: contact!.id }, status: 'OPEN' }], "the agent sees the visitor's conversation");

  await agentSays(test, agent, hello.conversationId, 'internal: check their order', true);
  data(await test.gql('mutation ($id: ID!, $to: ID) { assignConversation(conversationId: $id, assigneeId: $to) { id } }', { id: hello.conversationId, to: agent.id }, company.owner), 'assign');
  await agentSays(test, agent, hello.conversationId, 'We are on it');
  t.match(
    await live.next(),
    { data: { widgetEvents: { type: 'MESSAGE_CREATED', message: { content: 'We are on it', messageType: 'OUTGOING', senderType: 'USER' } } } },
    'the private note and the assignment notice never reached the visitor',
  );
  data(await test.gql('mutation ($id: ID!) { setTyping(conversationId: $id, typing: true) }', { id: hello.conversationId }, agent), 'setTyping');
  t.match(await live.next(), { data: { widgetEvents: { type: 'TYPING', typing: true, message: null } } });
  data(await test.gql('mutation ($id: ID!) { markConversationRead(conversationId: $id) { id } }', { id: hello.conversationId }, agent), 'markConversationRead');
  t.match(await live.next(), { data: { widgetEvents: { type: 'READ', agentLastSeenAt: /Z$/ } } });
  data(await test.gql('mutation ($id: ID!) { setConversationStatus(conversationId: $id, status: RESOLVED) { id } }', { id: hello.conversationId }, agent), 'resolve');
  t.match(await live.next(), { data: { widgetEvents: { type: 'STATUS_CHANGED', status: 'RESOLVED' } } });

  const page = await history(test, session.token);
  t.same(
    page.edges.map((edge: any) => edge.node.content),
    ['We are on it', 'Hello, I need help', 'Hello, I need help'],
    'newest first, without the private note or activity notices',
  );
  t.equal(page.totalCount, 3);
  const first = await history(test, session.token, 2);
  t.equal(first.pageInfo.hasNextPage, true);
  const older = await history(test, session.token, 2, first.pageInfo.endCursor);
  t.same(older.edges.map((edge: any) => edge.node.content), ['Hello, I need help'], 'older pages by the cursor');
  t.equal(older.pageInfo.hasNextPage, false);

  const markRead = async () => data(await test.gql(MARK_READ, { token: session.token }), 'widgetMarkRead').widgetMarkRead;
  t.equal(await markRead(), true, 'the visitor has seen the conversation');
  t.equal(await markRead(), false, 'again within 15 s: nothing moves');
  const seen = data(
    await test.gql('query ($id: ID!) { conversation(id: $id) { contactLastSeenAt } messages(conversationId: $id) { edges { node { content status } } } }', { id: hello.conversationId }, agent),
    'conversation',
  );
  t.match(seen.conversation.contactLastSeenAt, /Z$/);
  const statuses = Object.fromEntries(seen.messages.edges.map((edge: any) => [edge.node.content, edge.node.status]));
  t.equal(statuses['We are on it'], 'READ', "the agent's reply is READ");
  t.equal(statuses['internal: check their order'], 'SENT', 'a private note is not read by the visitor');

  const file = { fileName: 'invoice.txt', contentType: 'text/plain', dataBase64: Buffer.from('Invoice #1').toString('base64') };
  data(await test.gql(AGENT_SEND, { input: { conversationId: hello.conversationId, content: 'Your invoice', attachments: [file] } }, agent), 'sendMessage');
  t.match(await live.next(), { data: { widgetEvents: { message: { content: 'Your invoice', attachments: [{ fileName: 'invoice.txt', dataBase64: file.dataBase64 }] } } } }, "the agent's file reaches the visitor");
  t.same((await history(test, session.token, 1)).edges[0].node.attachments, [{ fileName: 'invoice.txt', contentType: 'text/plain', byteSize: 10 }]);
});

t.test('widget: a session reaches its own conversations only, whoever knows the e-mail address', async (t) => {
  const { test, agent, inboxToken } = await widgetApp();
  t.teardown(() => test.close());
  const mine = await start(test, inboxToken, { name: 'Visitor', email: 'vis@example.com' });
  const hello = await say(test, mine.token, 'my order is late');
  await agentSays(test, agent, hello.conversationId, 'sorry about that');

  const impostor = await start(test, inboxToken, { name: 'Impostor', email: 'VIS@example.com' });
  t.not(impostor.token, mine.token);
  t.not(impostor.contactInboxId, mine.contactInboxId, 'a session of its own');
  t.same(await test.sql('select name from crm_contact'), [{ name: 'Visitor' }], 'the same crm contact, unchanged');
  t.same((await history(test, impostor.token)).edges, [], "the other session's history is not reached");

  const mineLive = await test.subscribe(EVENTS, { token: mine.token });
  const theirsLive = await test.subscribe(EVENTS, { token: impostor.token });
  await agentSays(test, agent, hello.conversationId, 'for the first visitor only');
  const theirs = await say(test, impostor.token, 'show me their order');
  t.not(theirs.conversationId, hello.conversationId, 'its message starts a conversation of its own');
  t.match(await theirsLive.next(), { data: { widgetEvents: { message: { content: 'show me their order' } } } }, "its first event is its own message: the other session's never arrived");
  t.match(await mineLive.next(), { data: { widgetEvents: { message: { content: 'for the first visitor only' } } } });
  await agentSays(test, agent, theirs.conversationId, 'hello second visitor');
  await agentSays(test, agent, hello.conversationId, 'and again for the first');
  t.match(await mineLive.next(), { data: { widgetEvents: { message: { content: 'and again for the first' } } } }, 'nor the other way round');
});

t.test("widget: another message's sourceId is CONFLICT and answers nothing of it — a visitor's, an agent's private note", async (t) => {
  const { test, agent, inboxToken } = await widgetApp();
  t.teardown(() => test.close());
  const first = await start(test, inboxToken, { name: 'First', email: 'first@example.com' });
  const secret = await say(test, first.token, 'my card is 1234', 'm-1');
  data(await test.gql(AGENT_SEND, { input: { conversationId: secret.conversationId, content: 'a note about First', private: true, sourceId: 'n-1' } }, agent), 'sendMessage');
  const other = await start(test, inboxToken, { name: 'Other', email: 'other@example.com' });
  const before = await written(test);
  for (const sourceId of ['m-1', 'n-1']) {
    const res = await test.gql(SEND, { token: other.token, content: 'hi', sourceId });
    t.equal(codeOf(res), 'CONFLICT', `${sourceId}: CONFLICT`);
    t.same(res.errors?.[0]?.extensions?.field, 'sourceId', `${sourceId}: names sourceId`);
    t.equal(res.data?.widgetSendMessage ?? null, null, `${sourceId}: nothing of the other message is answered`);
  }
  t.same(await written(test), before, 'nothing written');
  t.same(await say(test, first.token, 'my card is 1234', 'm-1'), secret, 'its own redelivery still answers the first message');
  const elsewhere = await say(test, other.token, 'a conversation of my own');
  const reused = await test.gql(AGENT_SEND, { input: { conversationId: elsewhere.conversationId, content: 'hello', sourceId: 'n-1' } }, agent);
  t.equal(codeOf(reused), 'CONFLICT', "an agent's sourceId of another conversation is CONFLICT too, not that conversation's note");
});

t.test("widget: an agent's new conversation with a contact never lands in a session someone started with the contact's address", async (t) => {
  const { test, company, agent, inboxId, inboxToken } = await widgetApp();
  t.teardown(() => test.close());
  const contactId = data(await test.gql('mutation { createContact(input: { name: "Victim", emails: ["victim@example.com"] }) { id } }', {}, company.owner), 'createContact').createContact.id;
  const attacker = await start(test, inboxToken, { name: 'Attacker', email: 'victim@example.com' });
  const CREATE = 'mutation ($input: CreateConversationInput!) { createConversation(input: $input) { id } }';
  const created = data(await test.gql(CREATE, { input: { inboxId, contactId, content: 'Your invoice code is 42' } }, agent), 'createConversation').createConversation;
  t.same((await history(test, attacker.token)).edges, [], "the agent's message is not in the attacker's session");
  const [row] = await test.sql<{ contact_inbox_id: string }>('select contact_inbox_id from messenger_conversation where id = $1', [created.id]);
  t.not(row?.contact_inbox_id, attacker.contactInboxId, 'the conversation has an address of its own');
});

t.test("widget: an agent typing a private note is not shown to the visitor; other agents are told it is private", async (t) => {
  const { test, agent, inboxToken } = await widgetApp();
  t.teardown(() => test.close());
  const visitor = await start(test, inboxToken, { name: 'Visitor', email: 'typing@example.com' });
  const { conversationId } = await say(test, visitor.token, 'hello?');
  const TYPING = 'mutation ($id: ID!, $typing: Boolean!, $private: Boolean) { setTyping(conversationId: $id, typing: $typing, private: $private) }';
  const live = await test.subscribe(EVENTS, { token: visitor.token });
  const agents = await test.subscribe('subscription ($id: ID!) { conversationEvents(conversationId: $id) { type typing { typing private } } }', { id: conversationId }, agent);
  data(await test.gql(TYPING, { id: conversationId, typing: true, private: true }, agent), 'private typing');
  data(await test.gql(TYPING, { id: conversationId, typing: false }, agent), 'public typing');
  t.match(await live.next(), { data: { widgetEvents: { type: 'TYPING', typing: false } } }, "the visitor's first notice is the public one");
  t.match(await agents.next(), { data: { conversationEvents: { type: 'TYPING', typing: { typing: true, private: true } } } }, 'agents hear of the private note');
  t.match(await agents.next(), { data: { conversationEvents: { type: 'TYPING', typing: { typing: false, private: false } } } });
});

t.test('widget: bad and foreign tokens are NOT_FOUND and write nothing', async (t) => {
  const { test, company, inboxToken } = await widgetApp();
  t.teardown(() => test.close());
  const other = await test.createCompany({ name: 'Other' });
  const theirs = await widgetInbox(test, other, 'Their website');
  const api = data(await test.gql('mutation { createInbox(input: { name: "Bridge", channel: API }) { token } }', {}, company.owner), 'createInbox').createInbox;
  const session = await start(test, inboxToken, { name: 'Visitor', email: 'vis@example.com' });
  await say(test, session.token, 'hello');
  const theirSession = await start(test, theirs.inboxToken, { name: 'Visitor', email: 'vis@example.com' });
  t.equal(await count(test, 'crm_contact', 'company_id = $1', [other.id]), 1, "the other company's session made its own contact");
  t.same((await history(test, theirSession.token)).edges, [], "and reaches none of this company's messages");

  const before = await written(test);
  const random = randomBytes(32).toString('base64url');
  const starts: [string, string][] = [
    ['an unknown inbox token', random],
    ["an API inbox's token", api.token ?? random],
    ['a session token used as an inbox token', session.token],
  ];
  for (const [what, token] of starts) t.equal(codeOf(await test.gql(START, { inboxToken: token, contact: { name: 'x', email: 'x@example.com' } })), 'NOT_FOUND', what);
  const sessions: [string, string][] = [
    ['an unknown session token', random],
    ['an inbox token used as a session token', inboxToken],
    ['a malformed token', "' or 1=1 --"],
    ['an empty token', ''],
  ];
  for (const [what, token] of sessions) {
    t.equal(codeOf(await test.gql(SEND, { token, content: 'hi' })), 'NOT_FOUND', `widgetSendMessage: ${what}`);
    t.equal(codeOf(await test.gql(HISTORY, { token })), 'NOT_FOUND', `widgetMessages: ${what}`);
    t.equal(codeOf(await test.gql(MARK_READ, { token })), 'NOT_FOUND', `widgetMarkRead: ${what}`);
  }
  const refused = await test.subscribe(EVENTS, { token: random });
  t.match(await refused.next(), { errors: [{ extensions: { code: 'NOT_FOUND' } }] }, 'widgetEvents: an unknown token');
  t.same(await written(test), before, 'nothing was written');

  const signedIn = await test.subscribe('subscription ($id: ID!) { conversationEvents(conversationId: $id) { type } }', { id: session.contactInboxId });
  t.match(await signedIn.next(), { errors: [{ extensions: { code: 'UNAUTHENTICATED' } }] }, "an anonymous socket gets nothing but the widget's subscriptions");
});

t.test('widget: bad input is BAD_USER_INPUT and writes nothing', async (t) => {
  const { test, inboxToken } = await widgetApp();
  t.teardown(() => test.close());
  const session = await start(test, inboxToken, { name: 'Visitor', email: 'vis@example.com' });
  const before = await written(test);
  const starts: [string, Record<string, unknown>, string][] = [
    ['a malformed address', { name: 'Visitor', email: 'not-an-address' }, 'contact.email'],
    ['a blank name', { name: '  ', email: 'new@example.com' }, 'contact.name'],
    ['a name over 200 characters', { name: 'x'.repeat(201), email: 'new@example.com' }, 'contact.name'],
  ];
  for (const [what, contact, field] of starts) {
    const res = await test.gql(START, { inboxToken, contact });
    t.equal(codeOf(res), 'BAD_USER_INPUT', what);
    t.ok(res.errors?.[0]?.extensions?.fields?.[field], `${what}: names ${field}`);
  }
  t.equal(codeOf(await test.gql(START, { inboxToken, contact: { name: 'x', email: 'x@example.com', companyId: session.contactInboxId } })), 'BAD_USER_INPUT', 'an unknown field');
  const sends: [string, Record<string, unknown>, string][] = [
    ['a blank message', { content: '   ' }, 'content'],
    ['a message over 150,000 characters', { content: 'x'.repeat(150_001) }, 'content'],
    ['an empty sourceId', { content: 'hi', sourceId: '' }, 'sourceId'],
  ];
  for (const [what, variables, field] of sends) {
    const res = await test.gql(SEND, { token: session.token, ...variables });
    t.equal(codeOf(res), 'BAD_USER_INPUT', what);
    t.ok(res.errors?.[0]?.extensions?.fields?.[field], `${what}: names ${field}`);
  }
  t.equal(codeOf(await test.gql(HISTORY, { token: session.token, first: 101 })), 'BAD_USER_INPUT', 'at most 100 messages a page');
  t.same(await written(test), before, 'nothing was written');
});

t.test('widget: sessions are rate-limited per client address, messages per visitor', async (t) => {
  const { test, inboxToken } = await widgetApp();
  t.teardown(() => test.close());
  for (let i = 0; i < WIDGET_SESSIONS_PER_IP; i += 1) {
    const res = await fromAddress(test, '203.0.113.7', START, { inboxToken, contact: { name: `Visitor ${i}`, email: `v${i}@example.com` } });
    t.equal(res.errors, undefined, `session ${i + 1} of ${WIDGET_SESSIONS_PER_IP}`);
  }
  const before = await written(test);
  const refused = await fromAddress(test, '203.0.113.7', START, { inboxToken, contact: { name: 'One more', email: 'more@example.com' } });
  t.equal(codeOf(refused), 'RATE_LIMITED', `session ${WIDGET_SESSIONS_PER_IP + 1} from the same address`);
  t.same(await written(test), before, 'nothing was written');
  const elsewhere = await fromAddress(test, '198.51.100.1', START, { inboxToken, contact: { name: 'Neighbour', email: 'more@example.com' } });
  t.equal(elsewhere.errors, undefined, 'another address is not affected');

  const { token } = elsewhere.data.widgetStartSession;
  for (let i = 0; i < 20; i += 1) await say(test, token, `message ${i}`);
  const messages = await count(test, 'messenger_message');
  t.equal(codeOf(await test.gql(SEND, { token, content: 'the 21st in a minute' })), 'RATE_LIMITED', 'the 21st message in a minute');
  t.equal(await count(test, 'messenger_message'), messages, 'not written');
});

t.test("widget: off with the company's messenger", async (t) => {
  const { test, company, inboxToken } = await widgetApp();
  t.teardown(() => test.close());
  const session = await start(test, inboxToken, { name: 'Visitor', email: 'vis@example.com' });
  await test.gql('mutation ($id: ID!) { setCompanyModule(companyId: $id, module: "messenger", enabled: false) { id } }', { id: company.id }, { headers: { 'x-atrium-platform-key': test.platformKey } });
  const before = await written(test);
  t.equal(codeOf(await test.gql(START, { inboxToken, contact: { name: 'x', email: 'x@example.com' } })), 'MODULE_DISABLED');
  t.equal(codeOf(await test.gql(SEND, { token: session.token, content: 'hello?' })), 'MODULE_DISABLED');
  t.equal(codeOf(await test.gql(HISTORY, { token: session.token })), 'MODULE_DISABLED');
  t.equal(codeOf(await test.gql(MARK_READ, { token: session.token })), 'MODULE_DISABLED');
  t.same(await written(test), before, 'nothing was written');
});

t.test('widget: two sessions started at once with a new address make one contact', { skip: postgresOnly }, async (t) => {
  const { test, inboxToken } = await widgetApp();
  t.teardown(() => test.close());
  const results = await Promise.all(Array.from({ length: 6 }, (_, i) => test.gql(START, { inboxToken, contact: { name: `Racer ${i}`, email: 'race@example.com' } })));
  t.same(results.map((res) => res.errors), Array(6).fill(undefined), 'every session starts');
  t.equal(await count(test, 'crm_contact'), 1, 'one contact');
  t.equal(await count(test, 'messenger_contact_inbox'), 6, 'six sessions');
  t.equal(await count(test, 'atrium_event', `name = 'crm.contact.created'`), 1);
});
