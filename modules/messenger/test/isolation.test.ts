import t from 'tap';
import { assertTenantIsolation } from '@atrium/core/testing';
import { agent, createContact, createContactInbox, createInbox, data, incomingConversation, messengerApp, receive, send } from './helpers.ts';

t.test('messenger (inboxes, conversations, messages): another company’s ids behave as missing ones', async (t) => {
  const { test } = await messengerApp();
  t.teardown(() => test.close());
  await assertTenantIsolation(t, test, {
    async seed(company) {
      const owner = company.owner;
      const member = await test.createUser({ company, permissions: ['messenger.conversation.read', 'messenger.conversation.reply'], displayName: 'A agent' });
      const inboxId = await createInbox(test, owner, { name: 'A inbox' }, [member]);
      const contactId = await createContact(test, owner, 'A contact');
      const contactInboxId = await createContactInbox(test, owner, inboxId, contactId, 'a-source');
      const incoming = await receive(test, owner, contactInboxId, 'hello', { sourceId: 'a-message' });
      const reply = await send(test, owner, incoming.conversationId, 'hi');
      return { inboxId, userId: member.id, contactId, contactInboxId, conversationId: incoming.conversationId, messageId: incoming.id, replyId: reply.id };
    },
    operations: [
      { name: 'inboxes', query: '{ inboxes { id name } }' },
      { name: 'inbox', query: 'query ($id: ID!) { inbox(id: $id) { id } }', variables: (s) => ({ id: s.inboxId }) },
      { name: 'conversations', query: '{ conversations { totalCount edges { node { id } } } }' },
      { name: 'conversations by inbox', query: 'query ($f: ConversationFilter) { conversations(filter: $f) { totalCount } }', variables: (s) => ({ f: { inboxId: s.inboxId, assigneeId: s.userId, contactId: s.contactId } }) },
      { name: 'conversation', query: 'query ($id: ID!) { conversation(id: $id) { id } }', variables: (s) => ({ id: s.conversationId }) },
      { name: 'messages', query: 'query ($id: ID!) { messages(conversationId: $id) { totalCount } }', variables: (s) => ({ id: s.conversationId }) },
      { name: 'updateInbox', query: 'mutation ($id: ID!) { updateInbox(id: $id, input: { name: "Taken over" }) { id } }', variables: (s) => ({ id: s.inboxId }) },
      { name: 'addInboxMember', query: 'mutation ($i: ID!, $u: ID!) { addInboxMember(inboxId: $i, userId: $u) { id } }', variables: (s) => ({ i: s.inboxId, u: s.userId }) },
      { name: 'removeInboxMember', query: 'mutation ($i: ID!, $u: ID!) { removeInboxMember(inboxId: $i, userId: $u) { id } }', variables: (s) => ({ i: s.inboxId, u: s.userId }) },
      {
        name: 'createContactInbox',
        query: 'mutation ($input: CreateContactInboxInput!) { createContactInbox(input: $input) { id } }',
        variables: (s) => ({ input: { inboxId: s.inboxId, contactId: s.contactId, sourceId: 'a-source' } }),
      },
      {
        name: 'receiveMessage',
        query: 'mutation ($input: ReceiveMessageInput!) { receiveMessage(input: $input) { id } }',
        variables: (s) => ({ input: { contactInboxId: s.contactInboxId, content: 'x', sourceId: 'a-message' } }),
      },
      {
        name: 'createConversation',
        query: 'mutation ($input: CreateConversationInput!) { createConversation(input: $input) { id } }',
        variables: (s) => ({ input: { inboxId: s.inboxId, contactId: s.contactId, content: 'x' } }),
      },
      {
        name: 'sendMessage',
        query: 'mutation ($input: SendMessageInput!) { sendMessage(input: $input) { id } }',
        variables: (s) => ({ input: { conversationId: s.conversationId, content: 'x', replyToId: s.messageId } }),
      },
      { name: 'editMessage', query: 'mutation ($id: ID!) { editMessage(id: $id, content: "x") { id } }', variables: (s) => ({ id: s.replyId }) },
      { name: 'deleteMessage', query: 'mutation ($id: ID!) { deleteMessage(id: $id) { id } }', variables: (s) => ({ id: s.replyId }) },
      { name: 'setConversationStatus', query: 'mutation ($id: ID!) { setConversationStatus(conversationId: $id, status: RESOLVED) { id } }', variables: (s) => ({ id: s.conversationId }) },
      { name: 'updateConversation', query: 'mutation ($id: ID!) { updateConversation(id: $id, input: { labels: ["x"] }) { id } }', variables: (s) => ({ id: s.conversationId }) },
      { name: 'deleteConversation', query: 'mutation ($id: ID!) { deleteConversation(id: $id) }', variables: (s) => ({ id: s.conversationId }) },
      { name: 'blockContact', query: 'mutation ($id: ID!) { blockContact(contactId: $id, blocked: true) { id } }', variables: (s) => ({ id: s.contactId }) },
    ],
  });
});

t.test('messenger: B’s own records given an id of A’s inside behave as given a missing id', async (t) => {
  const { test } = await messengerApp();
  t.teardown(() => test.close());
  const team = async (owner: { token: string }, name: string) =>
    data(await test.gql('mutation ($input: CreateTeamInput!) { createTeam(input: $input) { id } }', { input: { name } }, owner), 'createTeam').createTeam.id as string;
  await assertTenantIsolation(t, test, {
    async seed(company) {
      const owner = company.owner;
      const member = await agent(test, company, 'A agent');
      const inboxId = await createInbox(test, owner, { name: 'A inbox' }, [member]);
      const contactId = await createContact(test, owner, 'A contact');
      const incoming = await receive(test, owner, await createContactInbox(test, owner, inboxId, contactId, 'a-source'), 'hello');
      const teamId = await team(owner, 'A team');
      data(await test.gql('mutation ($t: ID!, $u: ID!) { addTeamMember(teamId: $t, userId: $u) { id } }', { t: teamId, u: member.id }, owner), 'addTeamMember');
      return { branchId: company.defaultBranchId, userId: member.id, contactId, messageId: incoming.id, teamId };
    },
    async own(company) {
      const owner = company.owner;
      const inboxId = await createInbox(test, owner, { name: 'B inbox' }, [await agent(test, company, 'B agent')]);
      const { conversationId } = await incomingConversation(test, owner, inboxId);
      return { inboxId, conversationId, teamId: await team(owner, 'B team') };
    },
    operations: [
      {
        name: "createInbox with A's branch",
        query: 'mutation ($input: CreateInboxInput!) { createInbox(input: $input) { id branch { id } } }',
        variables: (s) => ({ input: { name: 'B second inbox', channel: 'API', branchId: s.branchId } }),
      },
      {
        name: "updateInbox of B's inbox with A's branch",
        query: 'mutation ($id: ID!, $input: UpdateInboxInput!) { updateInbox(id: $id, input: $input) { id branch { id } } }',
        variables: (s, o) => ({ id: o.inboxId, input: { branchId: s.branchId } }),
      },
      {
        name: "updateConversation of B's conversation with A's team",
        query: 'mutation ($id: ID!, $input: UpdateConversationInput!) { updateConversation(id: $id, input: $input) { id team { id name } } }',
        variables: (s, o) => ({ id: o.conversationId, input: { teamId: s.teamId } }),
      },
      {
        name: "addInboxMember: A's user into B's inbox",
        query: 'mutation ($i: ID!, $u: ID!) { addInboxMember(inboxId: $i, userId: $u) { id members { user { id } } } }',
        variables: (s, o) => ({ i: o.inboxId, u: s.userId }),
      },
      {
        name: "removeInboxMember: A's user from B's inbox",
        query: 'mutation ($i: ID!, $u: ID!) { removeInboxMember(inboxId: $i, userId: $u) { id members { user { id } } } }',
        variables: (s, o) => ({ i: o.inboxId, u: s.userId }),
      },
      {
        name: "addTeamMember: A's user into B's team",
        query: 'mutation ($t: ID!, $u: ID!) { addTeamMember(teamId: $t, userId: $u) { id members { id } } }',
        variables: (s, o) => ({ t: o.teamId, u: s.userId }),
      },
      {
        name: "removeTeamMember: A's user from B's team",
        query: 'mutation ($t: ID!, $u: ID!) { removeTeamMember(teamId: $t, userId: $u) { id members { id } } }',
        variables: (s, o) => ({ t: o.teamId, u: s.userId }),
      },
      {
        name: "assignConversation of B's conversation to A's user",
        query: 'mutation ($c: ID!, $a: ID) { assignConversation(conversationId: $c, assigneeId: $a) { id assignee { id } } }',
        variables: (s, o) => ({ c: o.conversationId, a: s.userId }),
      },
      {
        name: "createConversation in B's inbox with A's contact",
        query: 'mutation ($input: CreateConversationInput!) { createConversation(input: $input) { id contact { id } } }',
        variables: (s, o) => ({ input: { inboxId: o.inboxId, contactId: s.contactId, content: 'x' } }),
      },
      {
        name: "createContactInbox in B's inbox for A's contact",
        query: 'mutation ($input: CreateContactInboxInput!) { createContactInbox(input: $input) { id contact { id } } }',
        variables: (s, o) => ({ input: { inboxId: o.inboxId, contactId: s.contactId, sourceId: 'b-source' } }),
      },
      {
        name: "sendMessage in B's conversation replying to A's message",
        query: 'mutation ($input: SendMessageInput!) { sendMessage(input: $input) { id replyTo { id } } }',
        variables: (s, o) => ({ input: { conversationId: o.conversationId, content: 'x', replyToId: s.messageId } }),
      },
    ],
  });
});
