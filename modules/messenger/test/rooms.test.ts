import t from 'tap';
import { assertTenantIsolation, type TestApp } from '@atrium/core/testing';
import { codeOf, countRows as count, data, messengerApp, type Who } from './helpers.ts';

const ROOMS_DECLARED = [
  { name: 'vip', description: 'The VIP lounge' },
  { name: 'ops', description: 'Operations' },
];

const CREATE_ROOM = 'mutation ($input: CreateRoomInput!) { createRoom(input: $input) { id kind roomName title status inbox { id } } }';
const ROOMS = '{ rooms { id roomName title } }';
const CONVERSATION = 'query ($id: ID!) { conversation(id: $id) { id kind roomName } }';
const SEND = 'mutation ($input: SendMessageInput!) { sendMessage(input: $input) { id content } }';
const MESSAGES = 'query ($id: ID!, $first: Int, $before: String) { messages(conversationId: $id, first: $first, before: $before) { totalCount edges { node { id content } } pageInfo { hasNextPage endCursor } } }';
const EVENTS = 'subscription ($id: ID!) { conversationEvents(conversationId: $id) { type message { content } } }';

const roomsApp = () => messengerApp({ rooms: ROOMS_DECLARED });

async function createRoom(test: TestApp, who: Who, name: string, title = name.toUpperCase()): Promise<string> {
  return data(await test.gql(CREATE_ROOM, { input: { name, title } }, who), 'createRoom').createRoom.id;
}

const send = (test: TestApp, who: Who, conversationId: string, content: string) => test.gql(SEND, { input: { conversationId, content } }, who);

t.test('rooms: created from the declared names, one per name, by inbox managers', async (t) => {
  const { test, company } = await roomsApp();
  t.teardown(() => test.close());
  const created = await test.gql(CREATE_ROOM, { input: { name: 'vip', title: ' VIP lounge ' } }, company.owner);
  t.equal(created.errors, undefined);
  t.match(created.data.createRoom, { kind: 'ROOM', roomName: 'vip', title: 'VIP lounge', status: 'OPEN', inbox: null });
  const [event] = await test.sql<{ payload: Record<string, unknown> }>(`select payload from atrium_event where name = 'messenger.conversation.created'`);
  t.match(event?.payload, { conversationId: created.data.createRoom.id, kind: 'ROOM', inboxId: null, contactId: null, status: 'OPEN' });

  const manager = await test.createUser({ company, permissions: ['messenger.inbox.manage'] });
  t.equal((await test.gql(CREATE_ROOM, { input: { name: 'ops', title: 'Ops' } }, manager)).errors, undefined, 'messenger.inbox.manage suffices');

  const member = await test.createUser({ company, permissions: ['messenger.room.vip', 'messenger.conversation.read'] });
  const before = { conversations: await count(test, 'messenger_conversation'), events: await count(test, 'atrium_event'), counter: await test.sql('select * from messenger_counter') };
  const cases: [string, Record<string, unknown>, Who, string, string?][] = [
    ['a name the app does not declare', { name: 'lounge', title: 'Lounge' }, company.owner, 'BAD_USER_INPUT', 'input.name'],
    ['a blank title', { name: 'vip', title: '   ' }, company.owner, 'BAD_USER_INPUT', 'input.title'],
    ['a title over 200 characters', { name: 'vip', title: 'x'.repeat(201) }, company.owner, 'BAD_USER_INPUT', 'input.title'],
    ['a second room of a name', { name: 'vip', title: 'VIP again' }, company.owner, 'CONFLICT'],
    ['a member without messenger.inbox.manage (even holding the room key)', { name: 'ops', title: 'Ops' }, member, 'FORBIDDEN'],
  ];
  for (const [what, input, who, code, field] of cases) {
    const res = await test.gql(CREATE_ROOM, { input }, who);
    t.equal(codeOf(res), code, what);
    if (field) t.ok(res.errors?.[0]?.extensions?.fields?.[field], `${what}: names ${field}`);
  }
  t.same(
    { conversations: await count(test, 'messenger_conversation'), events: await count(test, 'atrium_event'), counter: await test.sql('select * from messenger_counter') },
    before,
    'refusals write nothing (not even a display number)',
  );
});

t.test('rooms: the room key decides who reads, writes and receives live events', async (t) => {
  const { test, company } = await roomsApp();
  t.teardown(() => test.close());
  const vipId = await createRoom(test, company.owner, 'vip');
  const opsId = await createRoom(test, company.owner, 'ops');
  // Keys through a role of their own, so that the test can take the room key away and give it back.
  const role = (await test.gql('mutation { createRole(input: { name: "VIP", permissions: ["messenger.room.vip"] }) { id } }', {}, company.owner)).data.createRole.id;
  const vip = await test.createUser({ company });
  const setRoles = (roles: string[]) => test.gql('mutation ($id: ID!, $roles: [ID!]) { updateUser(id: $id, input: { roleIds: $roles }) { id } }', { id: vip.id, roles }, company.owner);
  await setRoles([role]);
  // A MEMBER who answers inboxes, but holds no room key.
  const agent = await test.createUser({ company, permissions: ['messenger.conversation.read', 'messenger.conversation.reply'] });

  t.same((await test.gql(ROOMS, {}, vip)).data.rooms.map((room: { roomName: string }) => room.roomName), ['vip'], 'the VIP member lists the VIP room only');
  t.same((await test.gql(ROOMS, {}, agent)).data.rooms, [], 'the agent lists no room');
  t.same((await test.gql(ROOMS, {}, company.owner)).data.rooms.map((room: { roomName: string }) => room.roomName).sort(), ['ops', 'vip'], 'an admin lists every room');

  t.match((await test.gql(CONVERSATION, { id: vipId }, vip)).data.conversation, { id: vipId, kind: 'ROOM', roomName: 'vip' });
  t.equal((await test.gql(CONVERSATION, { id: opsId }, vip)).data.conversation, null, 'another room is not found');
  t.equal((await send(test, vip, vipId, 'hello VIPs')).errors, undefined, 'the VIP member writes');
  t.equal((await test.gql(MESSAGES, { id: vipId }, vip)).data.messages.edges[0].node.content, 'hello VIPs');

  const before = await count(test, 'messenger_message');
  t.equal((await test.gql(CONVERSATION, { id: vipId }, agent)).data.conversation, null, 'without the key: null');
  t.equal(codeOf(await test.gql(MESSAGES, { id: vipId }, agent)), 'NOT_FOUND');
  t.equal(codeOf(await send(test, agent, vipId, 'let me in')), 'NOT_FOUND');
  t.equal(await count(test, 'messenger_message'), before, 'nothing written');
  const refused = await test.subscribe(EVENTS, { id: vipId }, agent);
  t.match(await refused.next(), { errors: [{ extensions: { code: 'NOT_FOUND' } }] }, 'no live events without the key');

  const live = await test.subscribe(EVENTS, { id: vipId }, vip);
  const watcher = await test.subscribe(EVENTS, { id: vipId }, company.owner);
  await send(test, company.owner, vipId, 'first');
  t.match(await live.next(), { data: { conversationEvents: { type: 'MESSAGE_CREATED', message: { content: 'first' } } } });
  t.match(await watcher.next(), { data: { conversationEvents: { message: { content: 'first' } } } });

  await setRoles([]);
  t.equal((await test.gql(CONVERSATION, { id: vipId }, vip)).data.conversation, null, 'the key taken away: null at once');
  t.equal(codeOf(await send(test, vip, vipId, 'still here?')), 'NOT_FOUND');
  await send(test, company.owner, vipId, 'while out');
  t.match(await watcher.next(), { data: { conversationEvents: { message: { content: 'while out' } } } });
  await setRoles([role]);
  await send(test, company.owner, vipId, 'back');
  t.match(await live.next(), { data: { conversationEvents: { type: 'MESSAGE_CREATED', message: { content: 'back' } } } }, 'the message sent while the key was gone never arrived');
});

t.test('rooms: history pages backwards 50 at a time, past 100 messages', async (t) => {
  const { test, company } = await roomsApp();
  t.teardown(() => test.close());
  const roomId = await createRoom(test, company.owner, 'vip');
  const member = await test.createUser({ company, permissions: ['messenger.room.vip'] });
  // 120 messages written straight into the table (the flood limit keeps one sender at 20 a minute);
  // pairs share a timestamp, so the order also rests on the id.
  await test.sql(
    `insert into messenger_message (id, company_id, conversation_id, dedup_scope, message_type, content, sender_type, sender_user_id, created_at)
     select gen_random_uuid(), $1, $2, $2, 'OUTGOING', 'm' || lpad(i::text, 3, '0'), 'USER', $3, timestamptz '2026-01-01 00:00:00Z' + (i / 2) * interval '1 second'
       from generate_series(1, 120) as i`,
    [company.id, roomId, company.owner.id],
  );
  const expected = (await test.sql<{ content: string }>('select content from messenger_message where conversation_id = $1 order by created_at desc, id desc', [roomId])).map((row) => row.content);
  const pages: string[][] = [];
  let before: string | null = null;
  for (;;) {
    const res: any = await test.gql(MESSAGES, { id: roomId, first: 50, before }, member);
    t.equal(res.errors, undefined);
    t.equal(res.data.messages.totalCount, 120);
    pages.push(res.data.messages.edges.map((edge: { node: { content: string } }) => edge.node.content));
    if (!res.data.messages.pageInfo.hasNextPage) break;
    before = res.data.messages.pageInfo.endCursor;
  }
  t.same(pages.map((page) => page.length), [50, 50, 20], '50, 50, then the 20 oldest');
  t.same(pages.flat(), expected, 'newest first, each message once');
  t.equal(pages[0]![0], 'm120');
  t.equal(pages[2]!.at(-1), 'm001');
  t.equal(codeOf(await test.gql(MESSAGES, { id: roomId, first: 101 }, member)), 'BAD_USER_INPUT', 'at most 100 a page');
  t.equal(codeOf(await test.gql(MESSAGES, { id: roomId, first: 50, before: 'not-a-cursor' }, member)), 'BAD_USER_INPUT');
});

t.test('rooms: another company’s ids behave as missing ids', async (t) => {
  const { test } = await roomsApp();
  t.teardown(() => test.close());
  await assertTenantIsolation(t, test, {
    async seed(a) {
      const roomId = await createRoom(test, a.owner, 'vip');
      await send(test, a.owner, roomId, 'secret');
      return { roomId };
    },
    operations: [
      { name: 'rooms', query: ROOMS },
      { name: 'conversation (room)', query: CONVERSATION, variables: (seed) => ({ id: seed.roomId }) },
      { name: 'messages (room)', query: MESSAGES, variables: (seed) => ({ id: seed.roomId }) },
      { name: 'sendMessage (room)', query: SEND, variables: (seed) => ({ input: { conversationId: seed.roomId, content: 'intruder' } }) },
    ],
  });
});
