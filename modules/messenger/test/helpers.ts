import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestApp, type GqlResponse, type TestApp, type TestAppOptions, type TestCompany, type TestUser } from '@atrium/core/testing';
import crm from '@atrium/crm';
import { defineMessenger, LocalDiskStorage, type RoomDeclaration } from '../src/index.ts';

export type Who = { token: string };

/** Keys of an agent who answers the inboxes they are a member of. */
export const AGENT_KEYS = ['messenger.conversation.read', 'messenger.conversation.reply'];

export interface MessengerTestApp {
  test: TestApp;
  company: TestCompany;
  /** The directory attachments are stored in (removed with the app). */
  storageDir: string;
}

/** A test app with the crm and the messenger (attachments in a temporary directory), and a company. */
export async function messengerApp(options: { rooms?: RoomDeclaration[]; maxAttachmentBytes?: number; config?: TestAppOptions['config'] } = {}): Promise<MessengerTestApp> {
  const { config, ...messengerOptions } = options;
  const storageDir = await mkdtemp(join(tmpdir(), 'atrium-messenger-'));
  const messenger = defineMessenger({ ...messengerOptions, storage: new LocalDiskStorage(storageDir) });
  const test = await createTestApp({ modules: [crm, messenger], config: { logLevel: 'error', ...config } });
  const close = test.close.bind(test);
  test.close = async () => {
    await close();
    await rm(storageDir, { recursive: true, force: true });
  };
  return { test, company: await test.createCompany(), storageDir };
}

/** The data of a response that must have succeeded (its errors otherwise, in the exception). */
export function data<T = any>(res: GqlResponse, what: string): T {
  if (res.errors?.length || !res.data) throw new Error(`${what}: ${JSON.stringify(res.errors)}`);
  return res.data as T;
}

export const codeOf = (res: GqlResponse): string | undefined => res.errors?.[0]?.extensions?.code;
export const fieldsOf = (res: GqlResponse): string[] => Object.keys(res.errors?.[0]?.extensions?.fields ?? {});

/** Counts rows of a table (optionally with a where clause): bad input must leave counts unchanged. */
export async function countRows(test: TestApp, table: string, where = 'true', params: unknown[] = []): Promise<number> {
  const [row] = await test.sql<{ count: number }>(`select count(*)::int as count from ${table} where ${where}`, params);
  return row!.count;
}

/** Rows of every table a message write touches, to assert that a refused write wrote nothing. */
export async function writeCounts(test: TestApp): Promise<Record<string, number>> {
  const tables = ['messenger_message', 'messenger_attachment', 'messenger_conversation', 'messenger_message_change', 'messenger_contact_inbox', 'atrium_event'];
  return Object.fromEntries(await Promise.all(tables.map(async (table) => [table, await countRows(test, table)] as const)));
}

export const agent = (test: TestApp, company: TestCompany, displayName: string, permissions = AGENT_KEYS): Promise<TestUser> =>
  test.createUser({ company, permissions, displayName });

export const CONVERSATION_FIELDS = 'id displayId kind status snoozedUntil waitingSince firstReplyCreatedAt lastActivityAt labels priority inbox { id } contact { id } assignee { id }';
export const MESSAGE_FIELDS = 'id conversationId messageType private content senderType senderUser { id } senderContact { id } replyTo { id } status sourceId editedAt deletedAt createdAt attachments { fileName contentType byteSize }';

export async function createInbox(test: TestApp, owner: Who, input: Record<string, unknown> = {}, members: TestUser[] = []): Promise<string> {
  const res = await test.gql('mutation ($input: CreateInboxInput!) { createInbox(input: $input) { id } }', { input: { name: `Inbox ${Math.random().toString(36).slice(2, 8)}`, channel: 'API', autoAssign: false, ...input } }, owner);
  const id = data(res, 'createInbox').createInbox.id as string;
  for (const member of members) data(await test.gql('mutation ($i: ID!, $u: ID!) { addInboxMember(inboxId: $i, userId: $u) { id } }', { i: id, u: member.id }, owner), 'addInboxMember');
  return id;
}

export async function createContact(test: TestApp, owner: Who, name = 'Alice', extra: Record<string, unknown> = {}): Promise<string> {
  const res = await test.gql('mutation ($input: CreateContactInput!) { createContact(input: $input) { id } }', { input: { name, ...extra } }, owner);
  return data(res, 'createContact').createContact.id;
}

export async function createContactInbox(test: TestApp, owner: Who, inboxId: string, contactId: string, sourceId = `src-${Math.random().toString(36).slice(2)}`): Promise<string> {
  const res = await test.gql('mutation ($input: CreateContactInboxInput!) { createContactInbox(input: $input) { id } }', { input: { inboxId, contactId, sourceId } }, owner);
  return data(res, 'createContactInbox').createContactInbox.id;
}

export const RECEIVE = `mutation ($input: ReceiveMessageInput!) { receiveMessage(input: $input) { ${MESSAGE_FIELDS} } }`;
export const SEND = `mutation ($input: SendMessageInput!) { sendMessage(input: $input) { ${MESSAGE_FIELDS} } }`;
export const CONVERSATION = `query ($id: ID!) { conversation(id: $id) { ${CONVERSATION_FIELDS} } }`;
export const SET_STATUS = `mutation ($id: ID!, $status: ConversationStatus!, $until: DateTime) { setConversationStatus(conversationId: $id, status: $status, snoozedUntil: $until) { ${CONVERSATION_FIELDS} } }`;

/** A contact's message through the API channel (as a bridge, with the owner's token). */
export async function receive(test: TestApp, owner: Who, contactInboxId: string, content: string, extra: Record<string, unknown> = {}): Promise<any> {
  return data(await test.gql(RECEIVE, { input: { contactInboxId, content, ...extra } }, owner), 'receiveMessage').receiveMessage;
}

export async function send(test: TestApp, who: Who, conversationId: string, content: string, extra: Record<string, unknown> = {}): Promise<any> {
  return data(await test.gql(SEND, { input: { conversationId, content, ...extra } }, who), 'sendMessage').sendMessage;
}

export async function conversation(test: TestApp, who: Who, id: string): Promise<any> {
  return data(await test.gql(CONVERSATION, { id }, who), 'conversation').conversation;
}

/** A contact in an API inbox, with a first incoming message: the conversation it started. */
export async function incomingConversation(test: TestApp, owner: Who, inboxId: string, content = 'Hello'): Promise<{ contactId: string; contactInboxId: string; conversationId: string; messageId: string }> {
  const contactId = await createContact(test, owner, `Contact ${Math.random().toString(36).slice(2, 6)}`);
  const contactInboxId = await createContactInbox(test, owner, inboxId, contactId);
  const message = await receive(test, owner, contactInboxId, content);
  return { contactId, contactInboxId, conversationId: message.conversationId, messageId: message.id };
}
