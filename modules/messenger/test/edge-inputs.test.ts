import t from 'tap';
import { randomUUID } from 'node:crypto';
import { companyEm } from '@atrium/core';
import { assertEdgeInputs, type EdgeInputSpec, type RequestOptions, type TestApp, type TestCompany, type TestUser } from '@atrium/core/testing';
import { openRecordChat } from '../src/index.ts';
import { createContact, createContactInbox, createInbox, data, incomingConversation, messengerApp, receive, send } from './helpers.ts';

/** A room the app declares, so that createRoom and rooms have one to work with. */
const ROOMS = [{ name: 'support', description: 'The support team' }];

const unique = (): string => randomUUID().slice(0, 8);
const ATTACHMENT = { fileName: 'note.txt', contentType: 'text/plain', dataBase64: Buffer.from('hello').toString('base64') };
const WORKING_HOURS = [{ day: 1, open: '09:00', close: '18:00' }];

/** Every setting of an inbox, for createInbox and updateInbox. */
const inboxSettings = (s: { company: TestCompany }) => ({
  branchId: s.company.defaultBranchId,
  autoAssign: false,
  maxOpenPerAgent: 5,
  assignmentLimit: 10,
  assignmentWindowSeconds: 60,
  workingHours: WORKING_HOURS,
  outOfOfficeMessage: 'Back soon',
  lockToSingleConversation: false,
  allowMessagesAfterResolved: true,
});

/** The widget's root fields: public, reached by a visitor with no sign-in (the session's token is an argument). */
const WIDGET_FIELDS = ['Query.widgetMessages', 'Subscription.widgetEvents', 'Mutation.widgetStartSession', 'Mutation.widgetSendMessage', 'Mutation.widgetMarkRead'];

type Caller = 'owner' | 'member' | 'visitor';

interface Seed {
  company: TestCompany;
  owner: TestUser;
  member: TestUser;
  /** An agent of the main inbox who is added to and removed from things. */
  spare: TestUser;
  /** Who sends the requests (editMessage and deleteMessage need a message of their own). */
  me: RequestOptions;
  inboxId: string;
  /** An inbox of its own for updateInbox and removeInboxMember (its settings change under the probe). */
  settingsInboxId: string;
  contactId: string;
  conversationId: string;
  messageId: string;
  /** A conversation of its own for setConversationStatus. */
  statusConversationId: string;
  /** A contact (with a conversation in the main inbox) for blockContact. */
  blockContactId: string;
  teamId: string;
  recordSubjectId: string;
  widgetInboxToken: string;
  widgetToken: string;
  /** Senders whose flood limits are reset before every request, so that every request reaches past them. */
  senders: string[];
}

const GQL = {
  createWidgetInbox: 'mutation ($input: CreateInboxInput!) { createInbox(input: $input) { id token } }',
  startSession: 'mutation ($inboxToken: String!, $contact: WidgetContactInput!) { widgetStartSession(inboxToken: $inboxToken, contact: $contact) { token contactInboxId } }',
  widgetSend: 'mutation ($token: String!, $content: String!) { widgetSendMessage(token: $token, content: $content) { id } }',
  createTeam: 'mutation ($input: CreateTeamInput!) { createTeam(input: $input) { id } }',
  addTeamMember: 'mutation ($t: ID!, $u: ID!) { addTeamMember(teamId: $t, userId: $u) { id } }',
  addInboxMember: 'mutation ($i: ID!, $u: ID!) { addInboxMember(inboxId: $i, userId: $u) { id } }',
  createRoom: 'mutation ($input: CreateRoomInput!) { createRoom(input: $input) { id } }',
  rooms: '{ rooms { id } }',
  deleteConversation: 'mutation ($id: ID!) { deleteConversation(id: $id) }',
};

/** Makes what every operation needs in the probe's company; `caller` decides who sends the requests. */
async function seedCompany(test: TestApp, company: TestCompany, caller: Caller, memberKeys: string[]): Promise<Seed> {
  const owner = company.owner;
  // A MEMBER holding every messenger key, in one branch (the keys are company-wide, not branch-scoped).
  const member = await test.createUser({ company, permissions: memberKeys, branches: [company.defaultBranchId], displayName: 'Member agent' });
  const spare = await test.createUser({ company, permissions: ['messenger.conversation.read', 'messenger.conversation.reply'], displayName: 'Spare agent' });
  const inboxId = await createInbox(test, owner, { name: 'Main' }, [member, spare]);
  const settingsInboxId = await createInbox(test, owner, { name: 'Settings' });
  const contactId = await createContact(test, owner, 'Alice');
  const contactInboxId = await createContactInbox(test, owner, inboxId, contactId);
  const first = await receive(test, owner, contactInboxId, 'Hello');
  const status = await incomingConversation(test, owner, inboxId, 'Status please');
  const blocking = await incomingConversation(test, owner, inboxId, 'Block me');
  const teamId = data(await test.gql(GQL.createTeam, { input: { name: 'Support' } }, owner), 'createTeam').createTeam.id as string;
  data(await test.gql(GQL.createRoom, { input: { name: 'support', title: 'Support' } }, owner), 'createRoom');

  // A record-bound chat, as another module opens one (the messenger has no root field for it).
  const recordSubjectId = randomUUID();
  await openRecordChat(
    { em: companyEm(test.app.kernel, company.id), kernel: test.app.kernel, publish: test.app.publish },
    { subjectType: 'edge.workOrder', subjectId: recordSubjectId, branchId: company.defaultBranchId, title: 'Work order', participantIds: [owner.id, member.id] },
  );

  const widget = data(await test.gql(GQL.createWidgetInbox, { input: { name: 'Website', channel: 'WEB_WIDGET' } }, owner), 'createInbox').createInbox;
  const session = data(await test.gql(GQL.startSession, { inboxToken: widget.token, contact: { name: 'Visitor', email: 'visitor@example.test' } }), 'widgetStartSession').widgetStartSession;
  data(await test.gql(GQL.widgetSend, { token: session.token, content: 'Hello from the website' }), 'widgetSendMessage');
  const [visitor] = await test.sql<{ contact_id: string }>('select contact_id from messenger_contact_inbox where id = $1', [session.contactInboxId]);

  return {
    company,
    owner,
    member,
    spare,
    me: caller === 'member' ? { token: member.token } : caller === 'owner' ? { token: owner.token } : {},
    inboxId,
    settingsInboxId,
    contactId,
    conversationId: first.conversationId,
    messageId: first.id,
    statusConversationId: status.conversationId,
    blockContactId: blocking.contactId,
    teamId,
    recordSubjectId,
    widgetInboxToken: widget.token,
    widgetToken: session.token,
    senders: [owner.id, member.id, spare.id, contactId, visitor!.contact_id],
  };
}

/**
 * The probe's spec for one caller. Every request's variables are made afresh where the valid request
 * would otherwise use up what it works on (a deleted message, a created room); the flood and session
 * limits are reset before each, so that the edge values reach the code behind them.
 */
function edgeSpec(test: TestApp, caller: Caller, memberKeys: string[]): EdgeInputSpec<Seed> {
  const limiter = test.app.kernel.limiter;
  const unlimited = async (seed: Seed) => {
    await Promise.all([...seed.senders.map((sender) => limiter.reset(`messenger:flood:${seed.company.id}:${sender}`)), limiter.reset('messenger:widget-session:127.0.0.1')]);
  };
  const fresh =
    (make: (seed: Seed) => Record<string, unknown> | Promise<Record<string, unknown>>) =>
    async (seed: Seed): Promise<Record<string, unknown>> => {
      await unlimited(seed);
      return make(seed);
    };

  const widget: EdgeInputSpec<Seed>['operations'] = {
    'Query.widgetMessages': (s) => ({ token: s.widgetToken, first: 10 }),
    'Mutation.widgetStartSession': fresh((s) => ({ inboxToken: s.widgetInboxToken, contact: { name: 'Visitor', email: `visitor-${unique()}@example.test` } })),
    // A session of its own for every request: each message opens the session's conversation.
    'Mutation.widgetSendMessage': fresh(async (s) => {
      const session = data(await test.gql(GQL.startSession, { inboxToken: s.widgetInboxToken, contact: { name: 'Visitor', email: 'visitor@example.test' } }), 'widgetStartSession').widgetStartSession;
      return { token: session.token, content: 'Is anyone there?', sourceId: `widget-${unique()}` };
    }),
    'Mutation.widgetMarkRead': (s) => ({ token: s.widgetToken }),
    'Subscription.widgetEvents': (s) => ({ token: s.widgetToken }),
  };

  const signedIn: EdgeInputSpec<Seed>['operations'] = {
    'Query.inboxes': () => ({}),
    'Query.inbox': (s) => ({ id: s.inboxId }),
    'Query.conversations': (s) => ({ first: 10, filter: { status: 'OPEN', inboxId: s.inboxId, assigneeId: s.spare.id, label: 'vip', kind: 'INBOX', contactId: s.contactId } }),
    'Query.conversation': (s) => ({ id: s.conversationId }),
    'Query.messages': (s) => ({ conversationId: s.conversationId, first: 10 }),
    'Query.agentAvailability': (s) => ({ userIds: [s.member.id, s.spare.id] }),
    'Query.inboxUnreadCounts': () => ({}),
    'Query.teams': () => ({}),
    'Query.rooms': () => ({}),
    'Query.recordChat': (s) => ({ subjectType: 'edge.workOrder', subjectId: s.recordSubjectId }),
    'Subscription.conversationEvents': (s) => ({ conversationId: s.conversationId }),
    'Subscription.inboxEvents': (s) => ({ inboxId: s.inboxId }),

    'Mutation.createInbox': (s) => ({ input: { name: `Inbox ${unique()}`, channel: 'API', ...inboxSettings(s), timezone: 'Asia/Tashkent' } }),
    'Mutation.updateInbox': (s) => ({
      id: s.settingsInboxId,
      input: { name: `Settings ${unique()}`, ...inboxSettings(s), timezone: 'Europe/Berlin' },
    }),
    'Mutation.addInboxMember': (s) => ({ inboxId: s.settingsInboxId, userId: s.spare.id }),
    // The spare agent joins first: every removal removes someone.
    'Mutation.removeInboxMember': async (s) => {
      data(await test.gql(GQL.addInboxMember, { i: s.settingsInboxId, u: s.spare.id }, s.owner), 'addInboxMember');
      return { inboxId: s.settingsInboxId, userId: s.spare.id };
    },
    'Mutation.createContactInbox': (s) => ({ input: { inboxId: s.inboxId, contactId: s.contactId, sourceId: `source-${unique()}` } }),
    // A new address of the contact for every request: each message opens a conversation (checked before it opens).
    'Mutation.receiveMessage': fresh(async (s) => ({
      input: { contactInboxId: await createContactInbox(test, s.owner, s.inboxId, s.contactId), content: 'One more thing', sourceId: `in-${unique()}`, attachments: [ATTACHMENT] },
    })),
    'Mutation.createConversation': fresh((s) => ({ input: { inboxId: s.inboxId, contactId: s.contactId, content: 'We will call you', sourceId: `source-${unique()}` } })),
    'Mutation.sendMessage': fresh((s) => ({
      input: { conversationId: s.conversationId, content: 'On it', private: false, replyToId: s.messageId, sourceId: `out-${unique()}`, attachments: [ATTACHMENT] },
    })),
    // A message of the caller's own for every request.
    'Mutation.editMessage': fresh(async (s) => ({ id: (await send(test, s.me as { token: string }, s.conversationId, 'Mine')).id, content: 'Mine, edited' })),
    'Mutation.deleteMessage': fresh(async (s) => ({ id: (await send(test, s.me as { token: string }, s.conversationId, 'Mine, soon gone')).id })),
    'Mutation.setConversationStatus': (s) => ({ conversationId: s.statusConversationId, status: 'SNOOZED', snoozedUntil: new Date(Date.now() + 86_400_000).toISOString() }),
    'Mutation.updateConversation': (s) => ({
      id: s.conversationId,
      input: { priority: 'HIGH', labels: ['vip'], customAttributes: { plan: 'gold' }, teamId: s.teamId, title: 'Order 42' },
    }),
    'Mutation.assignConversation': fresh((s) => ({ conversationId: s.conversationId, assigneeId: s.spare.id })),
    'Mutation.unassignConversation': fresh((s) => ({ conversationId: s.conversationId })),
    'Mutation.setAvailability': () => ({ status: 'BUSY' }),
    'Mutation.setTyping': (s) => ({ conversationId: s.conversationId, typing: true }),
    'Mutation.markConversationRead': (s) => ({ conversationId: s.conversationId }),
    'Mutation.createTeam': () => ({ input: { name: `Team ${unique()}` } }),
    'Mutation.addTeamMember': (s) => ({ teamId: s.teamId, userId: s.spare.id }),
    // The spare agent joins first: every removal removes someone.
    'Mutation.removeTeamMember': async (s) => {
      data(await test.gql(GQL.addTeamMember, { t: s.teamId, u: s.spare.id }, s.owner), 'addTeamMember');
      return { teamId: s.teamId, userId: s.spare.id };
    },
    // The room goes first: every request can open it again.
    'Mutation.createRoom': fresh(async (s) => {
      for (const room of data(await test.gql(GQL.rooms, {}, s.owner), 'rooms').rooms as { id: string }[]) {
        data(await test.gql(GQL.deleteConversation, { id: room.id }, s.owner), 'deleteConversation');
      }
      return { input: { name: 'support', title: 'Support' } };
    }),
    'Mutation.blockContact': (s) => ({ contactId: s.blockContactId, blocked: true }),
    // A conversation of its own for every request.
    'Mutation.deleteConversation': fresh(async (s) => ({ id: (await incomingConversation(test, s.owner, s.inboxId, 'Delete me')).conversationId })),
  };

  return {
    module: 'messenger',
    seed: (company) => seedCompany(test, company, caller, memberKeys),
    callers: (seed) => ({ [caller]: seed.me }),
    operations: caller === 'visitor' ? widget : { ...signedIn, ...widget },
    skip:
      caller === 'visitor'
        ? Object.fromEntries(Object.keys(signedIn).map((key) => [key, 'needs a signed-in user: probed as the owner and as a member agent']))
        : undefined,
  };
}

// Some two thousand requests, each mutation's with a digest of the database's rows before and after.
t.setTimeout(600_000);

t.test('messenger: every root query and mutation answers edge inputs with data or a clear error, and a refusal writes nothing', async (t) => {
  // Every request comes from one address: the HTTP rate limit per address is off.
  const { test } = await messengerApp({ rooms: ROOMS, config: { httpRateLimit: 0 } });
  t.teardown(() => test.close());
  const declared = test.app.kernel.permissions.all().filter((permission) => permission.module === 'messenger');
  const memberKeys = declared.map((permission) => permission.key);
  t.ok(memberKeys.includes('messenger.room.support'), 'the member holds every messenger key, the declared room’s included');
  t.same(declared.filter((permission) => permission.branchScoped), [], 'no messenger key is branch-scoped: the member’s one branch limits nothing');
  const owned = [...test.app.schema.fieldOwners].filter(([key, owner]) => owner === 'messenger' && /^(Query|Mutation|Subscription)\./.test(key)).map(([key]) => key);
  t.same(
    WIDGET_FIELDS.filter((key) => !owned.includes(key)),
    [],
    'the widget fields are root fields of the messenger',
  );

  for (const caller of ['owner', 'member', 'visitor'] as const) {
    await t.test(`as ${caller === 'member' ? 'a member agent with every messenger key' : caller === 'visitor' ? 'a website visitor (no sign-in)' : 'the owner'}`, async (t) => {
      await assertEdgeInputs(t, test, edgeSpec(test, caller, memberKeys));
    });
  }
});
