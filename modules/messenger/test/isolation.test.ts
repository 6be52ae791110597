import t from 'tap';
import { assertTenantIsolation } from '@atrium/core/testing';
import { createContact, createContactInbox, createInbox, messengerApp, receive, send } from './helpers.ts';

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
