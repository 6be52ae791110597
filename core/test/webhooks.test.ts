import t from 'tap';
import { createHmac } from 'node:crypto';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createTestApp } from '@atrium/core/testing';
import { notes } from './fixtures/notes.ts';

interface Received {
  at: number;
  headers: IncomingMessage['headers'];
  body: string;
}

/** A local HTTP receiver answering with the given statuses in turn (the last one repeats). */
async function receiver(statuses: number[]) {
  const received: Received[] = [];
  const server = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk) => (body += chunk));
    request.on('end', () => {
      received.push({ at: Date.now(), headers: request.headers, body });
      response.statusCode = statuses[Math.min(received.length - 1, statuses.length - 1)]!;
      response.end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, received, close: () => new Promise((r) => server.close(r)) };
}

const CREATE_WEBHOOK = 'mutation ($input: CreateWebhookInput!) { createWebhook(input: $input) { id active } }';
const CREATE_NOTE = 'mutation ($input: CreateNoteInput!) { createNote(input: $input) { id } }';
const SECRET = 'a webhook secret of some length';

t.test('webhooks', async (t) => {
  const test = await createTestApp({ modules: [notes], config: { events: { retryBaseMs: 30, webhookDisableAfter: 3, maxAttempts: 3 } } });
  t.teardown(() => test.close());
  const company = await test.createCompany();
  const owner = { token: company.owner.token };
  const note = (title: string) => test.gql(CREATE_NOTE, { input: { title, branchId: company.defaultBranchId } }, owner);

  t.test('a delivery is signed over the body and a timestamp, and retried with backoff', async (t) => {
    const hook = await receiver([500, 502, 200]);
    t.teardown(hook.close);
    const created = await test.gql(CREATE_WEBHOOK, { input: { url: hook.url, events: ['notes.note.created'], secret: SECRET } }, owner);
    t.same(created.data.createWebhook.active, true);
    await note('signed');
    await test.app.dispatcher.idle();

    t.equal(hook.received.length, 3, 'two failures, then a success');
    const last = hook.received[2]!;
    const [, timestamp, signature] = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(String(last.headers['x-atrium-signature']))!;
    t.equal(signature, createHmac('sha256', SECRET).update(`${timestamp}.${last.body}`).digest('hex'), 'the signature verifies');
    t.match(JSON.parse(last.body), { name: 'notes.note.created', companyId: company.id, payload: { title: 'signed' } });
    t.equal(last.headers['x-atrium-event'], 'notes.note.created');
    const [first, second, third] = hook.received.map((r) => r.at);
    t.ok(second! - first! >= 30, `first retry after at least the base delay (${second! - first!} ms)`);
    t.ok(third! - second! >= 60, `second retry after at least twice that (${third! - second!} ms)`);

    const log = await test.gql(
      'query { webhooks { id deliveries { totalCount edges { node { eventName attempts status responseStatus lastError } } } } }',
      {},
      owner,
    );
    t.same(log.data.webhooks[0].deliveries, {
      totalCount: 1,
      edges: [{ node: { eventName: 'notes.note.created', attempts: 3, status: 'SUCCEEDED', responseStatus: 200, lastError: null } }],
    });
    await test.gql('mutation ($id: ID!) { deleteWebhook(id: $id) }', { id: created.data.createWebhook.id }, owner);
  });

  t.test('a webhook that keeps failing is disabled and the owner notified', async (t) => {
    const hook = await receiver([500]);
    t.teardown(hook.close);
    const created = await test.gql(CREATE_WEBHOOK, { input: { url: hook.url, events: ['*'], secret: SECRET } }, owner);
    await note('doomed');
    await test.app.dispatcher.idle();
    t.equal(hook.received.length, 3);
    const state = await test.gql('query { webhooks { active consecutiveFailures disabledAt deliveries { edges { node { status responseStatus lastError } } } } }', {}, owner);
    t.match(state.data.webhooks[0], { active: false, consecutiveFailures: 3, disabledAt: /Z$/ });
    t.same(state.data.webhooks[0].deliveries.edges[0].node, { status: 'FAILED', responseStatus: 500, lastError: 'Webhook delivery failed: HTTP 500' });
    const notifications = await test.gql('{ notifications { edges { node { type link } } } }', {}, owner);
    t.same(notifications.data.notifications.edges.map((e: any) => e.node), [{ type: 'core.webhook.disabled', link: { subjectType: 'Webhook', subjectId: created.data.createWebhook.id } }]);
    await note('while disabled');
    await test.app.dispatcher.idle();
    t.equal(hook.received.length, 3, 'a disabled webhook receives nothing');
  });

  t.test("a webhook hears its own company's events only", async (t) => {
    const hook = await receiver([200]);
    t.teardown(hook.close);
    const created = await test.gql(CREATE_WEBHOOK, { input: { url: hook.url, events: ['*'], secret: SECRET } }, owner);
    const other = await test.createCompany();
    await test.gql(CREATE_NOTE, { input: { title: 'elsewhere', branchId: other.defaultBranchId } }, { token: other.owner.token });
    await note('here');
    await test.app.dispatcher.idle();
    t.same(hook.received.map((r) => JSON.parse(r.body)).map((event) => [event.companyId, event.payload.title]), [[company.id, 'here']]);
    const recorded = await test.sql('select e.company_id from atrium_event_delivery d join atrium_event e on e.id = d.event_id where d.target = $1', [`webhook:${created.data.createWebhook.id}`]);
    t.same(recorded, [{ company_id: company.id }], "no delivery of another company's event is even recorded for it");
    await test.gql('mutation ($id: ID!) { deleteWebhook(id: $id) }', { id: created.data.createWebhook.id }, owner);
  });

  t.test('bad input writes nothing; another company cannot reach it', async (t) => {
    const before = (await test.sql('select id from webhook')).length;
    const bad = await test.gql(CREATE_WEBHOOK, { input: { url: 'ftp://x', events: ['notes.note.burned'], secret: 'short' } }, owner);
    t.equal(bad.errors?.[0]?.extensions?.code, 'BAD_USER_INPUT');
    t.same(Object.keys(bad.errors?.[0]?.extensions?.fields ?? {}).sort(), ['input.secret', 'input.url']);
    const unknownEvent = await test.gql(CREATE_WEBHOOK, { input: { url: 'http://127.0.0.1:1/x', events: ['notes.note.burned'], secret: SECRET } }, owner);
    t.same(unknownEvent.errors?.[0]?.extensions?.fields, { 'input.events': 'unknown events: notes.note.burned' });
    t.equal((await test.sql('select id from webhook')).length, before);
    const unparsable = await test.gql(CREATE_WEBHOOK, { input: { url: 'http://', events: ['*'], secret: SECRET } }, owner);
    t.same(unparsable.errors?.[0]?.extensions, { code: 'BAD_USER_INPUT', fields: { 'input.url': 'is not a valid URL' } }, 'a URL the scheme check lets through');
    t.equal((await test.sql('select id from webhook')).length, before);

    const other = await test.createCompany();
    const [mine] = await test.sql<{ id: string }>('select id from webhook where company_id = $1 limit 1', [company.id]);
    const row = () => test.sql('select * from webhook where id = $1', [mine!.id]);
    const unchanged = await row();
    const res = await test.gql('mutation ($id: ID!) { updateWebhook(id: $id, input: { active: true }) { id } }', { id: mine!.id }, { token: other.owner.token });
    t.equal(res.errors?.[0]?.extensions?.code, 'NOT_FOUND');
    t.same((await test.gql('{ webhooks { id } }', {}, { token: other.owner.token })).data, { webhooks: [] });
    const UPDATE = 'mutation ($id: ID!, $input: UpdateWebhookInput!) { updateWebhook(id: $id, input: $input) { id } }';
    const invalid = await test.gql(UPDATE, { id: mine!.id, input: { url: 'ftp://x', secret: 'short', active: true } }, owner);
    t.equal(invalid.errors?.[0]?.extensions?.code, 'BAD_USER_INPUT');
    t.same(Object.keys(invalid.errors?.[0]?.extensions?.fields ?? {}).sort(), ['input.secret', 'input.url']);
    const burned = await test.gql(UPDATE, { id: mine!.id, input: { events: ['notes.note.burned'], active: true } }, owner);
    t.same(burned.errors?.[0]?.extensions?.fields, { 'input.events': 'unknown events: notes.note.burned' });
    const badUrl = await test.gql(UPDATE, { id: mine!.id, input: { url: 'http://exa mple.test/hook', active: true } }, owner);
    t.same(badUrl.errors?.[0]?.extensions?.fields, { 'input.url': 'is not a valid URL' });
    t.equal((await test.gql(UPDATE, { id: 'not-an-id', input: { active: true } }, owner)).errors?.[0]?.extensions?.code, 'NOT_FOUND');
    t.same(await row(), unchanged, 'the webhook is unchanged (still disabled)');
  });

  t.test('deleting a webhook that is not there, or without the key, is refused and deletes nothing', async (t) => {
    const created = await test.gql(CREATE_WEBHOOK, { input: { url: 'http://127.0.0.1:9/hook', events: ['notes.note.created'], secret: SECRET } }, owner);
    t.equal(created.errors, undefined);
    const other = await test.createCompany();
    const member = await test.createUser({ company });
    const webhooks = () => test.sql('select * from webhook order by id');
    const before = await webhooks();
    const DELETE = 'mutation ($id: ID!) { deleteWebhook(id: $id) }';
    t.equal((await test.gql(DELETE, { id: '0190a1b2-0000-7000-8000-000000000000' }, owner)).errors?.[0]?.extensions?.code, 'NOT_FOUND', 'an unknown id');
    t.equal((await test.gql(DELETE, { id: 'not-an-id' }, owner)).errors?.[0]?.extensions?.code, 'NOT_FOUND', 'a malformed id');
    const id = created.data.createWebhook.id;
    t.equal((await test.gql(DELETE, { id }, { token: other.owner.token })).errors?.[0]?.extensions?.code, 'NOT_FOUND', "another company's webhook");
    t.equal((await test.gql(DELETE, { id }, { token: member.token })).errors?.[0]?.extensions?.code, 'FORBIDDEN', 'a member without core.webhook.manage');
    t.same(await webhooks(), before, 'nothing deleted');
    t.same((await test.gql(DELETE, { id }, owner)).data, { deleteWebhook: true });
    t.same(await test.sql('select id from webhook where id = $1', [id]), [], 'the owner does delete it');
  });
});
