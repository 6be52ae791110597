import t from 'tap';
import { companyEm, definePlugin, forbidden, newId, requireViewer, type ResolverContext } from '@atrium/core';
import { assertTenantIsolation, createTestApp, type TestApp, type TestCompany, postgresOnly } from '@atrium/core/testing';
import crm from '@atrium/crm';
import messenger, { findRecordChat, openRecordChat, setRecordChatParticipants } from '../src/index.ts';
import { codeOf, countRows as count, type Who } from './helpers.ts';

/**
 * A module of the kind that binds chats to its records: a work order's chat is between its customer
 * and its executor. It keeps no table of its own: the test passes the people along.
 */
const workOrders = definePlugin({
  name: 'workOrders',
  version: '1.0.0',
  dependsOn: ['messenger'],
  graphql: {
    typeDefs: /* GraphQL */ `
      extend type Mutation {
        openWorkOrder(customerId: ID!, executorId: ID!, branchId: ID): Conversation!
        replaceExecutor(workOrderId: ID!, customerId: ID!, executorId: ID!): Conversation!
        "Replaces the executor inside the module's own transaction, which then fails."
        replaceExecutorThenFail(workOrderId: ID!, customerId: ID!, executorId: ID!): Conversation
      }
    `,
    resolvers: {
      Mutation: {
        openWorkOrder: (_root: unknown, args: { customerId: string; executorId: string; branchId?: string }, context: ResolverContext) => {
          const viewer = requireViewer(context);
          if (viewer.systemRole === 'MEMBER') throw forbidden('Dispatchers only');
          // A real module writes its record in the same transaction: the chat commits (or not) with it.
          return context.em.transactional((tx) =>
            openRecordChat(
              { em: tx, kernel: context.kernel, publish: context.publish },
              {
                subjectType: 'workOrders.workOrder',
                subjectId: newId(),
                branchId: args.branchId ?? viewer.branchIds[0],
                title: 'Work order',
                participantIds: [args.customerId, args.executorId],
              },
            ),
          );
        },
        replaceExecutor: (_root: unknown, args: { workOrderId: string; customerId: string; executorId: string }, context: ResolverContext) => {
          const viewer = requireViewer(context);
          if (viewer.systemRole === 'MEMBER') throw forbidden('Dispatchers only');
          return setRecordChatParticipants(context, { subjectType: 'workOrders.workOrder', subjectId: args.workOrderId, participantIds: [args.customerId, args.executorId] });
        },
        replaceExecutorThenFail: async (_root: unknown, args: { workOrderId: string; customerId: string; executorId: string }, context: ResolverContext) => {
          requireViewer(context);
          await context.em.transactional(async (tx) => {
            await setRecordChatParticipants(
              { em: tx, kernel: context.kernel, publish: context.publish, viewer: context.viewer },
              { subjectType: 'workOrders.workOrder', subjectId: args.workOrderId, participantIds: [args.customerId, args.executorId] },
            );
            throw forbidden('The work order refuses the change');
          });
          return null;
        },
      },
    },
  },
});

const OPEN = 'mutation ($customerId: ID!, $executorId: ID!, $branchId: ID) { openWorkOrder(customerId: $customerId, executorId: $executorId, branchId: $branchId) { id kind subjectType subjectId title participants { id } } }';
const REPLACE = 'mutation ($workOrderId: ID!, $customerId: ID!, $executorId: ID!) { replaceExecutor(workOrderId: $workOrderId, customerId: $customerId, executorId: $executorId) { id participants { id } } }';
const CONVERSATION = 'query ($id: ID!) { conversation(id: $id) { id kind subjectId participants { id } } }';
const RECORD_CHAT = 'query ($type: String!, $id: ID!) { recordChat(subjectType: $type, subjectId: $id) { id } }';
const CONVERSATIONS = '{ conversations { totalCount edges { node { id } } } }';
const SEND = 'mutation ($input: SendMessageInput!) { sendMessage(input: $input) { id content } }';
const MESSAGES = 'query ($id: ID!) { messages(conversationId: $id) { edges { node { content } } } }';
const EVENTS = 'subscription ($id: ID!) { conversationEvents(conversationId: $id) { type message { content } conversation { participants { id } } } }';

const ids = (users: { id: string }[]) => users.map((user) => user.id).sort();
const send = (test: TestApp, who: Who, conversationId: string, content: string) => test.gql(SEND, { input: { conversationId, content } }, who);

async function recordsApp(): Promise<{ test: TestApp; company: TestCompany }> {
  const test = await createTestApp({ modules: [crm, messenger, workOrders], config: { logLevel: 'error' } });
  return { test, company: await test.createCompany() };
}

t.test('record chats: only the participants (and admins) read and write; a replaced executor loses access at once', async (t) => {
  const { test, company } = await recordsApp();
  t.teardown(() => test.close());
  // Participants need no messenger key: being in the record's chat is the access.
  const customer = await test.createUser({ company, displayName: 'Customer' });
  const first = await test.createUser({ company, displayName: 'First executor' });
  const second = await test.createUser({ company, displayName: 'Second executor' });
  const agent = await test.createUser({ company, permissions: ['messenger.conversation.read', 'messenger.conversation.reply'] });

  const opened = await test.gql(OPEN, { customerId: customer.id, executorId: first.id }, company.owner);
  t.equal(opened.errors, undefined);
  const chat = opened.data.openWorkOrder;
  t.match(chat, { kind: 'RECORD', subjectType: 'workOrders.workOrder', title: 'Work order' });
  t.same(ids(chat.participants), ids([customer, first]));
  const [created] = await test.sql<{ payload: Record<string, unknown> }>(`select payload from atrium_event where name = 'messenger.conversation.created'`);
  t.match(created?.payload, { conversationId: chat.id, kind: 'RECORD', inboxId: null });

  for (const [who, user] of [
    ['the customer', customer],
    ['the executor', first],
  ] as const) {
    t.equal((await test.gql(CONVERSATION, { id: chat.id }, user)).data.conversation?.id, chat.id, `${who} reads it`);
    t.equal((await test.gql(RECORD_CHAT, { type: 'workOrders.workOrder', id: chat.subjectId }, user)).data.recordChat?.id, chat.id, `${who} finds it by its record`);
    t.equal((await send(test, user, chat.id, `hello from ${who}`)).errors, undefined, `${who} writes`);
  }
  t.equal((await test.gql(CONVERSATIONS, {}, customer)).data.conversations.totalCount, 1, "it is in the customer's list");
  t.equal((await test.gql(CONVERSATION, { id: chat.id }, company.owner)).data.conversation?.id, chat.id, 'an admin reads it');

  const before = await count(test, 'messenger_message');
  t.equal((await test.gql(CONVERSATION, { id: chat.id }, second)).data.conversation, null, 'someone else of the company: null');
  t.equal((await test.gql(CONVERSATION, { id: chat.id }, agent)).data.conversation, null, 'an inbox agent: null');
  t.equal((await test.gql(RECORD_CHAT, { type: 'workOrders.workOrder', id: chat.subjectId }, agent)).data.recordChat, null);
  t.equal((await test.gql(CONVERSATIONS, {}, agent)).data.conversations.totalCount, 0, 'nor in their list');
  t.equal(codeOf(await send(test, agent, chat.id, 'me too')), 'NOT_FOUND');
  t.equal(codeOf(await test.gql(MESSAGES, { id: chat.id }, second)), 'NOT_FOUND');
  t.equal(await count(test, 'messenger_message'), before, 'nothing written');
  const outsider = await test.subscribe(EVENTS, { id: chat.id }, second);
  t.match(await outsider.next(), { errors: [{ extensions: { code: 'NOT_FOUND' } }] }, 'no live events for a non-participant');

  const leaving = await test.subscribe(EVENTS, { id: chat.id }, first);
  const staying = await test.subscribe(EVENTS, { id: chat.id }, customer);
  await send(test, customer, chat.id, 'before the change');
  t.match(await leaving.next(), { data: { conversationEvents: { type: 'MESSAGE_CREATED', message: { content: 'before the change' } } } });
  t.match(await staying.next(), { data: { conversationEvents: { message: { content: 'before the change' } } } });

  const replaced = await test.gql(REPLACE, { workOrderId: chat.subjectId, customerId: customer.id, executorId: second.id }, company.owner);
  t.equal(replaced.errors, undefined);
  t.same(ids(replaced.data.replaceExecutor.participants), ids([customer, second]));
  t.match(await staying.next(), { data: { conversationEvents: { type: 'UPDATED' } } }, 'the participants’ change is live');
  t.equal((await test.gql(CONVERSATION, { id: chat.id }, first)).data.conversation, null, 'the leaver: null at once');
  t.equal(codeOf(await send(test, first, chat.id, 'still here?')), 'NOT_FOUND', 'the leaver cannot write');
  t.equal(codeOf(await test.gql(MESSAGES, { id: chat.id }, first)), 'NOT_FOUND');
  t.equal((await send(test, second, chat.id, 'the new executor writes')).errors, undefined);
  t.match(await staying.next(), { data: { conversationEvents: { message: { content: 'the new executor writes' } } } });

  // The leaver's subscription took nothing since: brought back, its next event is the one that brings it back.
  await test.gql(REPLACE, { workOrderId: chat.subjectId, customerId: customer.id, executorId: first.id }, company.owner);
  t.match(await leaving.next(), { data: { conversationEvents: { type: 'UPDATED' } } }, 'nothing of the time away was delivered');
  await send(test, customer, chat.id, 'welcome back');
  t.match(await leaving.next(), { data: { conversationEvents: { message: { content: 'welcome back' } } } });
});

t.test('record chats: participation is read once for all live events of a participant', async (t) => {
  const { test, company } = await recordsApp();
  t.teardown(() => test.close());
  const customer = await test.createUser({ company, displayName: 'Customer' });
  const executor = await test.createUser({ company, displayName: 'Executor' });
  const chat = (await test.gql(OPEN, { customerId: customer.id, executorId: executor.id }, company.owner)).data.openWorkOrder;
  const live = await test.subscribe(EVENTS, { id: chat.id }, executor);
  const participationReads: string[] = [];
  t.teardown(test.onQuery((sql) => void (/from messenger_participant where conversation_id = \? and user_id/.test(sql) && participationReads.push(sql))));
  for (const content of ['one', 'two', 'three']) {
    await send(test, customer, chat.id, content);
    t.match(await live.next(), { data: { conversationEvents: { message: { content } } } });
  }
  t.ok(participationReads.length <= 1, `three events, three sends by another participant: at most one read of the executor's participation (${participationReads.length})`);
});

t.test("record chats: a change made in the caller's transaction is live only once the caller commits", async (t) => {
  const { test, company } = await recordsApp();
  t.teardown(() => test.close());
  const customer = await test.createUser({ company, displayName: 'Customer' });
  const first = await test.createUser({ company, displayName: 'First executor' });
  const second = await test.createUser({ company, displayName: 'Second executor' });
  const chat = (await test.gql(OPEN, { customerId: customer.id, executorId: first.id }, company.owner)).data.openWorkOrder;
  const live = await test.subscribe(EVENTS, { id: chat.id }, customer);

  const failed = await test.gql(
    'mutation ($workOrderId: ID!, $customerId: ID!, $executorId: ID!) { replaceExecutorThenFail(workOrderId: $workOrderId, customerId: $customerId, executorId: $executorId) { id } }',
    { workOrderId: chat.subjectId, customerId: customer.id, executorId: second.id },
    company.owner,
  );
  t.equal(codeOf(failed), 'FORBIDDEN');
  t.same(ids((await test.gql(CONVERSATION, { id: chat.id }, customer)).data.conversation.participants), ids([customer, first]), 'the change was rolled back with the caller');
  await send(test, customer, chat.id, 'after the failed change');
  t.match(await live.next(), { data: { conversationEvents: { type: 'MESSAGE_CREATED', message: { content: 'after the failed change' } } } }, 'the rolled-back change was never live');

  await test.gql(REPLACE, { workOrderId: chat.subjectId, customerId: customer.id, executorId: second.id }, company.owner);
  t.match(await live.next(), { data: { conversationEvents: { type: 'UPDATED' } } }, 'a committed change is');
});

t.test('record chats: one per record; opening again replaces the participants', async (t) => {
  const { test, company } = await recordsApp();
  t.teardown(() => test.close());
  const a = await test.createUser({ company });
  const b = await test.createUser({ company });
  const c = await test.createUser({ company });
  const { kernel, publish } = test.app;
  const em = companyEm(kernel, company.id);
  const subjectId = newId();
  const input = { subjectType: 'workOrders.workOrder', subjectId, branchId: company.defaultBranchId, title: 'WO-1', participantIds: [a.id, b.id, a.id] };
  const one = await openRecordChat({ em, kernel, publish }, input);
  const again = await openRecordChat({ em: em.fork(), kernel, publish }, { ...input, participantIds: [a.id, c.id] });
  t.equal(again.id, one.id, 'the same chat');
  t.equal((await findRecordChat({ em: em.fork() }, 'workOrders.workOrder', subjectId))?.id, one.id, 'found by its record');
  // A subject no chat can have (PostgreSQL refuses NUL and a malformed uuid) has none, without a query.
  for (const [type, id] of [['workOrders.work\u0000Order', subjectId], ['workOrders.workOrder', 'not-an-id'], ['x'.repeat(101), subjectId]] as const) {
    t.equal(await findRecordChat({ em: em.fork() }, type, id), null, `no chat for ${JSON.stringify([type.slice(0, 20), id])}`);
  }
  const rows = await test.sql<{ user_id: string }>('select user_id from messenger_participant where conversation_id = $1 order by user_id', [one.id]);
  t.same(rows.map((row) => row.user_id), [a.id, c.id].sort(), 'its participants replaced');
  t.equal(await count(test, 'messenger_conversation'), 1);
  t.equal(await count(test, 'atrium_event', `name = 'messenger.conversation.created'`), 1, 'one conversation.created');
});

t.test('record chats: bad input is BAD_USER_INPUT (or NOT_FOUND) and writes nothing', async (t) => {
  const { test, company } = await recordsApp();
  t.teardown(() => test.close());
  const other = await test.createCompany();
  const customer = await test.createUser({ company });
  const executor = await test.createUser({ company });
  const gone = await test.createUser({ company });
  await test.gql('mutation ($id: ID!) { deactivateUser(id: $id) { id } }', { id: gone.id }, company.owner);
  const chat = (await test.gql(OPEN, { customerId: customer.id, executorId: executor.id }, company.owner)).data.openWorkOrder;

  const snapshot = async () => ({
    conversations: await count(test, 'messenger_conversation'),
    participants: await test.sql('select conversation_id, user_id from messenger_participant order by 1, 2'),
    events: await count(test, 'atrium_event'),
  });
  const before = await snapshot();
  const opens: [string, Record<string, unknown>, string][] = [
    ['a user of another company', { customerId: customer.id, executorId: other.owner.id }, 'input.participantIds.1'],
    ['a deactivated user', { customerId: gone.id, executorId: executor.id }, 'input.participantIds.0'],
    ['a branch of another company', { customerId: customer.id, executorId: executor.id, branchId: other.defaultBranchId }, 'input.branchId'],
  ];
  for (const [what, variables, field] of opens) {
    const res = await test.gql(OPEN, variables, company.owner);
    t.equal(codeOf(res), 'BAD_USER_INPUT', what);
    t.ok(res.errors?.[0]?.extensions?.fields?.[field], `${what}: names ${field}`);
  }
  const replace = await test.gql(REPLACE, { workOrderId: chat.subjectId, customerId: customer.id, executorId: other.owner.id }, company.owner);
  t.equal(codeOf(replace), 'BAD_USER_INPUT', 'replacing with a user of another company');
  const missing = await test.gql(REPLACE, { workOrderId: newId(), customerId: customer.id, executorId: executor.id }, company.owner);
  t.equal(codeOf(missing), 'NOT_FOUND', 'a record without a chat');

  const { kernel, publish } = test.app;
  const em = companyEm(kernel, company.id);
  const direct: [string, Record<string, unknown>, string][] = [
    ['a subject type without its module', { subjectType: 'workOrder', subjectId: newId(), branchId: company.defaultBranchId, participantIds: [] }, 'input.subjectType'],
    ['a subject id that is no id', { subjectType: 'workOrders.workOrder', subjectId: '42', branchId: company.defaultBranchId, participantIds: [] }, 'input.subjectId'],
    ['participants that are no ids', { subjectType: 'workOrders.workOrder', subjectId: newId(), branchId: company.defaultBranchId, participantIds: ['me'] }, 'input.participantIds.0'],
    ['an unknown field', { subjectType: 'workOrders.workOrder', subjectId: newId(), branchId: company.defaultBranchId, participantIds: [], companyId: other.id }, 'input.companyId'],
  ];
  for (const [what, input, field] of direct) {
    const error = await openRecordChat({ em: em.fork(), kernel, publish }, input).then(
      () => null,
      (e: { code?: string; fields?: Record<string, string> }) => e,
    );
    t.equal(error?.code, 'BAD_USER_INPUT', what);
    t.ok(error?.fields?.[field], `${what}: names ${field}`);
  }
  t.same(await snapshot(), before, 'nothing was written');
});

t.test('record chats: another company’s ids behave as missing ids', async (t) => {
  const { test } = await recordsApp();
  t.teardown(() => test.close());
  await assertTenantIsolation(t, test, {
    async seed(a) {
      const customer = await test.createUser({ company: a });
      const executor = await test.createUser({ company: a });
      const chat = (await test.gql(OPEN, { customerId: customer.id, executorId: executor.id }, a.owner)).data.openWorkOrder;
      await send(test, customer, chat.id, 'secret');
      return { chatId: chat.id, subjectId: chat.subjectId, customerId: customer.id, executorId: executor.id };
    },
    operations: [
      { name: 'conversation (record)', query: CONVERSATION, variables: (seed) => ({ id: seed.chatId }) },
      { name: 'recordChat', query: RECORD_CHAT, variables: (seed) => ({ type: 'workOrders.workOrder', id: seed.subjectId }) },
      { name: 'messages (record)', query: MESSAGES, variables: (seed) => ({ id: seed.chatId }) },
      { name: 'sendMessage (record)', query: SEND, variables: (seed) => ({ input: { conversationId: seed.chatId, content: 'intruder' } }) },
      { name: 'replaceExecutor (setRecordChatParticipants)', query: REPLACE, variables: (seed) => ({ workOrderId: seed.subjectId, customerId: seed.customerId, executorId: seed.executorId }) },
    ],
  });
});

t.test('record chats: opened concurrently for one record, one chat', { skip: postgresOnly }, async (t) => {
  const { test, company } = await recordsApp();
  t.teardown(() => test.close());
  const a = await test.createUser({ company });
  const b = await test.createUser({ company });
  const { kernel, publish } = test.app;
  const subjectId = newId();
  const chats = await Promise.all(
    Array.from({ length: 6 }, (_, i) =>
      openRecordChat({ em: companyEm(kernel, company.id), kernel, publish }, { subjectType: 'workOrders.workOrder', subjectId, branchId: company.defaultBranchId, participantIds: i % 2 ? [a.id] : [a.id, b.id] }),
    ),
  );
  t.equal(new Set(chats.map((chat) => chat.id)).size, 1, 'every call answers the same chat');
  t.equal(await count(test, 'messenger_conversation'), 1);
  t.equal(await count(test, 'atrium_event', `name = 'messenger.conversation.created'`), 1);
});
