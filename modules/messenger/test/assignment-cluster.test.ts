import t from 'tap';
import { randomBytes } from 'node:crypto';
import { createTestApp, createTestDatabase, type TestApp, postgresOnly } from '@atrium/core/testing';
import crm from '@atrium/crm';
import { redisInfrastructure } from '@atrium/plugin-redis';
import messenger from '../src/index.ts';
import { AGENT_KEYS, data } from './helpers.ts';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/**
 * Two instances of one app as a load balancer sees them — one PostgreSQL database, one Redis (same
 * prefix) — opening conversations at once: the database settles every claim, Redis the turns.
 */
t.test('auto-assignment on two instances sharing PostgreSQL and Redis', { skip: postgresOnly }, async (t) => {
  const modules = [crm, messenger];
  const database = await createTestDatabase(modules);
  t.teardown(() => database.drop());
  const prefix = `atrium-test:${randomBytes(6).toString('hex')}:`;
  const platformKey = randomBytes(24).toString('base64url');
  const config = { logLevel: 'error' as const, auth: { jwtSecret: randomBytes(48).toString('base64url') } };
  const start = () => createTestApp({ modules, database, platformKey, config, infrastructure: redisInfrastructure({ url: REDIS_URL, prefix }) });
  const a = await start();
  t.teardown(() => a.close());
  const b = await start();
  t.teardown(() => b.close());
  const instances: TestApp[] = [a, b];

  const company = await a.createCompany();
  const owner = company.owner;
  const [ann, bob] = await Promise.all([
    a.createUser({ company, permissions: AGENT_KEYS, displayName: 'Ann' }),
    a.createUser({ company, permissions: AGENT_KEYS, displayName: 'Bob' }),
  ]);
  // A limit well above the test's load: the turns alone decide who gets what.
  const inboxId = data(await a.gql('mutation ($input: CreateInboxInput!) { createInbox(input: $input) { id } }', { input: { name: 'Support', channel: 'API', assignmentLimit: 1000 } }, owner), 'createInbox').createInbox.id;
  for (const agent of [ann, bob]) {
    data(await a.gql('mutation ($inboxId: ID!, $userId: ID!) { addInboxMember(inboxId: $inboxId, userId: $userId) { id } }', { inboxId, userId: agent.id }, owner), 'addInboxMember');
  }
  // Ann signs in on A, Bob on B: presence is shared, so both are online for both instances.
  data(await a.gql('mutation { setAvailability(status: ONLINE) }', {}, ann), 'Ann online');
  data(await b.gql('mutation { setAvailability(status: ONLINE) }', {}, bob), 'Bob online');
  const contacts: string[] = [];
  for (let i = 0; i < 20; i++) {
    contacts.push(data(await a.gql('mutation ($input: CreateContactInput!) { createContact(input: $input) { id } }', { input: { name: `Contact ${i}` } }, owner), 'createContact').createContact.id);
  }

  const assignments = () =>
    a.sql<{ id: string; assignee_id: string | null; notices: number; events: number }>(
      `select c.id, c.assignee_id,
              (select count(*)::int from messenger_message m where m.conversation_id = c.id and m.content_attributes->>'kind' = 'ASSIGNEE_CHANGED') as notices,
              (select count(*)::int from atrium_event e where e.name = 'messenger.conversation.assigneeChanged' and e.payload->>'conversationId' = c.id::text) as events
         from messenger_conversation c where c.company_id = $1`,
      [company.id],
    );

  t.test('20 conversations opened at once on both instances: each assigned exactly once, in turns', async (t) => {
    const opened = await Promise.all(
      contacts.map((contactId, i) =>
        instances[i % 2]!.gql('mutation ($input: CreateConversationInput!) { createConversation(input: $input) { id assignee { id } } }', { input: { inboxId, contactId } }, owner),
      ),
    );
    t.same(opened.filter((res) => res.errors), [], 'every opening succeeded');
    const rows = await assignments();
    t.equal(rows.length, 20);
    t.ok(rows.every((row) => row.assignee_id === ann.id || row.assignee_id === bob.id), 'every conversation has one of the agents');
    t.same(rows.filter((row) => row.notices !== 1 || row.events !== 1), [], 'one ASSIGNEE_CHANGED notice and one event per conversation');
    const answered = new Map(opened.map((res) => [res.data.createConversation.id, res.data.createConversation.assignee?.id]));
    t.ok(rows.every((row) => answered.get(row.id) === row.assignee_id), 'each answer names the assignee that was stored');
    const counts = { ann: rows.filter((row) => row.assignee_id === ann.id).length, bob: rows.filter((row) => row.assignee_id === bob.id).length };
    t.same(counts, { ann: 10, bob: 10 }, 'the shared round robin alternates across instances');
  });

  t.test('one conversation reopened by 10 requests at once on both instances is assigned once', async (t) => {
    const contactId = contacts[0]!;
    const created = data(await a.gql('mutation ($input: CreateConversationInput!) { createConversation(input: $input) { id } }', { input: { inboxId, contactId } }, owner), 'create').createConversation;
    const conversationId = created.id;
    // Unassigned and resolved, then everyone reopens it at the same moment.
    data(await a.gql('mutation ($id: ID!) { unassignConversation(conversationId: $id) { id } }', { id: conversationId }, owner), 'unassign');
    data(await a.gql('mutation ($id: ID!) { setConversationStatus(conversationId: $id, status: RESOLVED) { id } }', { id: conversationId }, owner), 'resolve');
    const reopen = 'mutation ($id: ID!) { setConversationStatus(conversationId: $id, status: OPEN) { id status assignee { id } } }';
    const answers = await Promise.all(Array.from({ length: 10 }, (_, i) => instances[i % 2]!.gql(reopen, { id: conversationId }, owner)));
    t.same(answers.filter((res) => res.errors), [], 'every request succeeded');
    const [row] = (await assignments()).filter((r) => r.id === conversationId);
    t.ok(row!.assignee_id === ann.id || row!.assignee_id === bob.id, 'assigned');
    // Created (auto-assigned), unassigned, auto-assigned once more on reopening: three changes.
    t.equal(row!.notices, 3, 'three ASSIGNEE_CHANGED notices: the first assignment, the unassignment, one reassignment');
    t.equal(row!.events, 3);
  });
});
