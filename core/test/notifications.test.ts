import t from 'tap';
import type { ChannelMessage, NotificationChannel } from '@atrium/core';
import { createTestApp } from '@atrium/core/testing';
import { notes } from './fixtures/notes.ts';
import { audit } from './fixtures/audit.ts';

const CREATE_NOTE = 'mutation ($input: CreateNoteInput!) { createNote(input: $input) { id } }';
const LIST = 'query ($unread: Boolean) { notifications(first: 10, unreadOnly: $unread) { totalCount edges { node { id type title read link } } } }';

t.test('in-app notifications created by a listener', async (t) => {
  const sent: { message: ChannelMessage; to: string }[] = [];
  const email: NotificationChannel = { name: 'email', send: async (message, recipient) => void sent.push({ message, to: recipient.email }) };
  const test = await createTestApp({ modules: [notes, audit], notificationChannels: [email] });
  t.teardown(() => test.close());
  const company = await test.createCompany();
  const member = await test.createUser({ company, permissions: ['notes.note.read'] });
  const other = await test.createCompany();

  const mine = await test.subscribe('subscription { notificationCreated { type title read } }', {}, company.owner);
  const theirs = await test.subscribe('subscription { notificationCreated { title } }', {}, member);
  const note = await test.gql(CREATE_NOTE, { input: { title: 'budget', branchId: company.defaultBranchId } }, company.owner);
  t.same(await mine.next(), { data: { notificationCreated: { type: 'audit.note', title: 'New note: budget', read: false } } }, 'the recipient hears of it live');

  await test.app.dispatcher.idle();
  const list = await test.gql(LIST, {}, company.owner);
  t.equal(list.data.notifications.totalCount, 1);
  t.same(list.data.notifications.edges[0].node.link, { subjectType: 'Note', subjectId: note.data.createNote.id });
  t.same(sent.map((s) => [s.to, s.message.title]), [[company.owner.email, 'New note: budget']], 'and by e-mail, through the channel');
  t.equal((await test.gql(LIST, {}, member)).data.notifications.totalCount, 0, 'another user sees none of it');
  t.equal((await test.gql(LIST, {}, other.owner)).data.notifications.totalCount, 0, 'another company neither');

  const ownersId = list.data.notifications.edges[0].node.id;
  t.same((await test.gql('mutation ($ids: [ID!]) { markNotificationsRead(ids: $ids) }', { ids: [ownersId] }, member)).data, { markNotificationsRead: 0 }, 'nobody marks what is not theirs');
  t.same((await test.gql('mutation { markNotificationsRead }', {}, company.owner)).data, { markNotificationsRead: 1 });
  t.equal((await test.gql(LIST, { unread: true }, company.owner)).data.notifications.totalCount, 0);

  // Members get no audit notifications: the member's subscription must have received nothing.
  await theirs.close();
  t.match(await theirs.next(), { errors: [{ message: /connection closed/ }] }, 'nothing arrived before it closed');
  await mine.close();
});

t.test("markNotificationsRead changes only the caller's unread notifications; other ids, malformed ones included, change nothing", async (t) => {
  const test = await createTestApp({ modules: [notes, audit] });
  t.teardown(() => test.close());
  const company = await test.createCompany();
  const member = await test.createUser({ company, permissions: ['notes.note.read'] });
  const other = await test.createCompany();
  // The audit module notifies each company's owners of every note.
  await test.gql(CREATE_NOTE, { input: { title: 'mine', branchId: company.defaultBranchId } }, company.owner);
  await test.gql(CREATE_NOTE, { input: { title: 'theirs', branchId: other.defaultBranchId } }, other.owner);
  await test.app.dispatcher.idle();
  const idOf = async (user: { token: string }) => (await test.gql(LIST, {}, user)).data.notifications.edges[0].node.id as string;
  const [ownersId, othersId] = [await idOf(company.owner), await idOf(other.owner)];
  const MARK = 'mutation ($ids: [ID!]) { markNotificationsRead(ids: $ids) }';
  const rows = () => test.sql('select id, read_at from notification order by id');
  const before = await rows();

  for (const [name, ids] of [
    ['a malformed id (filtered out silently)', ['not-an-id']],
    ['an unknown id', ['0190a1b2-0000-7000-8000-000000000000']],
    ["another company's notification", [othersId]],
    ['an empty list', []],
  ] as const) {
    t.same(await test.gql(MARK, { ids }, company.owner), { statusCode: 200, data: { markNotificationsRead: 0 } }, name);
  }
  t.same((await test.gql(MARK, { ids: [ownersId] }, member)).data, { markNotificationsRead: 0 }, "another user's notification");
  t.equal((await test.gql(MARK, { ids: [ownersId] })).errors?.[0]?.extensions?.code, 'UNAUTHENTICATED', 'nobody signed in');
  t.same(await rows(), before, 'nothing written');

  t.same((await test.gql(MARK, { ids: ['not-an-id', ownersId] }, company.owner)).data, { markNotificationsRead: 1 }, 'a malformed id beside a real one does not refuse the rest');
  const read = await rows();
  t.same(read.filter((row) => row.read_at !== null).map((row) => row.id), [ownersId], "only the caller's own notification was marked");
  t.same((await test.gql(MARK, { ids: [ownersId] }, company.owner)).data, { markNotificationsRead: 0 }, 'marking it again changes nothing');
  t.same(await rows(), read, 'not even the time it was read');
});
