import t from 'tap';
import { createHmac } from 'node:crypto';
import { createTestApp, type TestApp } from '@atrium/core/testing';
import { eventTopic } from '@atrium/core';
import { noteCreated, notes } from './fixtures/notes.ts';
import { audit } from './fixtures/audit.ts';
import { ACCESS_STAMP_SQL } from '../src/access/authenticate.ts';

const SUBSCRIBE = 'subscription { noteCreated { id title } }';
const CREATE_NOTE = 'mutation ($input: CreateNoteInput!) { createNote(input: $input) { id } }';

/** A graphql-transport-ws socket spoken by hand, after its connection_init: what the server sends, frame by frame. */
async function rawSocket(test: TestApp, token: string, options: { autoPong?: boolean } = {}) {
  const { default: WebSocket } = await import('ws');
  const socket = new WebSocket(`${test.url.replace('http', 'ws')}/graphql`, 'graphql-transport-ws', options);
  const frames: { message: { type: string; id?: string; payload?: unknown }; binary: boolean }[] = [];
  const closed = new Promise<number>((resolve) => socket.on('close', (code) => resolve(code)));
  socket.on('message', (data, binary) => frames.push({ message: JSON.parse(String(data)), binary }));
  await new Promise((resolve) => socket.once('open', resolve));
  socket.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${token}` } }));
  const received = async (type: string) => {
    while (!frames.some((frame) => frame.message.type === type)) await new Promise((resolve) => setTimeout(resolve, 5));
  };
  return { socket, frames, closed, received };
}

t.test('sockets authenticate in connection_init', async (t) => {
  const test = await createTestApp({ modules: [notes] });
  t.teardown(() => test.close());
  const company = await test.createCompany();

  t.test('a missing token closes the socket with 4401', async (t) => {
    const live = await test.subscribe(SUBSCRIBE);
    t.match(await live.closed, { code: 4401 });
  });

  t.test('a forged token closes it with 4403', async (t) => {
    const [header, payload] = company.owner.token.split('.');
    const forged = `${header}.${payload}.${createHmac('sha256', 'not the key of this app, but long').update(`${header}.${payload}`).digest('base64url')}`;
    const live = await test.subscribe(SUBSCRIBE, {}, { token: forged });
    t.match(await live.closed, { code: 4403, reason: 'Forbidden' });
  });

  t.test('an expired token closes it with 4401', async (t) => {
    const claims = JSON.parse(Buffer.from(company.owner.token.split('.')[1]!, 'base64url').toString());
    const expired = test.app.fastify.jwt.sign({ sub: claims.sub, cid: claims.cid, exp: Math.floor(Date.now() / 1000) - 5 });
    const live = await test.subscribe(SUBSCRIBE, {}, { token: expired });
    t.match(await live.closed, { code: 4401, reason: 'Access token expired' });
  });

  t.test('a valid token subscribes to its own company only', async (t) => {
    const other = await test.createCompany();
    const mine = await test.subscribe(SUBSCRIBE, {}, company.owner);
    const theirs = await test.subscribe(SUBSCRIBE, {}, other.owner);
    await test.gql(CREATE_NOTE, { input: { title: 'mine', branchId: company.defaultBranchId } }, company.owner);
    await test.gql(CREATE_NOTE, { input: { title: 'theirs', branchId: other.defaultBranchId } }, other.owner);
    t.match(await mine.next(), { data: { noteCreated: { title: 'mine' } } });
    t.match(await theirs.next(), { data: { noteCreated: { title: 'theirs' } } }, "B's first event is its own: A's never reached it");
  });
});

t.test('delivery follows the subscriber’s current access', async (t) => {
  const test = await createTestApp({ modules: [notes] });
  t.teardown(() => test.close());
  const platform = { headers: { 'x-atrium-platform-key': test.platformKey } };
  const company = await test.createCompany();
  const role = (await test.gql('mutation { createRole(input: { name: "Readers", permissions: ["notes.note.read"] }) { id } }', {}, company.owner)).data.createRole.id;
  const reader = await test.createUser({ company });
  await test.gql('mutation ($id: ID!, $roles: [ID!]) { updateUser(id: $id, input: { roleIds: $roles }) { id } }', { id: reader.id, roles: [role] }, company.owner);
  const tokenOf = async () => (await test.gql('mutation ($input: LoginInput!) { login(input: $input) { accessToken } }', { input: { email: reader.email, password: reader.password } })).data.login.accessToken;
  const live = await test.subscribe(SUBSCRIBE, {}, { token: await tokenOf() });
  const note = (title: string) => test.gql(CREATE_NOTE, { input: { title, branchId: company.defaultBranchId } }, company.owner);

  await note('seen');
  t.match(await live.next(), { data: { noteCreated: { title: 'seen' } } });
  await test.gql('mutation ($id: ID!) { updateRole(id: $id, input: { permissions: [] }) { id } }', { id: role }, company.owner);
  await note('hidden after the key was removed');
  // Access is decided when an event is delivered: restoring it before that would let the event through.
  await test.app.liveIdle();
  await test.gql('mutation ($id: ID!) { updateRole(id: $id, input: { permissions: ["notes.note.read"] }) { id } }', { id: role }, company.owner);
  await test.gql('mutation ($id: ID!) { setCompanyModule(companyId: $id, module: "notes", enabled: false) { id } }', { id: company.id }, platform);
  await test.app.publish(noteCreated(company.id), { id: company.id, title: 'never: the module is off', branchId: company.defaultBranchId } as never);
  await test.app.liveIdle();
  await test.gql('mutation ($id: ID!) { setCompanyModule(companyId: $id, module: "notes", enabled: null) { id } }', { id: company.id }, platform);
  await note('seen again');
  t.match(await live.next(), { data: { noteCreated: { title: 'seen again' } } }, 'the events in between were not delivered');

  await test.gql('mutation ($id: ID!) { deactivateUser(id: $id) { id } }', { id: reader.id }, company.owner);
  await note('after deactivation');
  t.match(await live.closed, { code: 4403, reason: 'Access revoked' }, 'a deactivated user’s socket is closed');
});

t.test('an access change made on this instance reaches its live sockets before their next event, whatever the recheck interval', async (t) => {
  const test = await createTestApp({ modules: [notes], config: { auth: { subscriptionRecheckMs: 3_600_000, accessRecheckMs: 3_600_000 } } });
  t.teardown(() => test.close());
  const company = await test.createCompany();
  const role = (await test.gql('mutation { createRole(input: { name: "Readers", permissions: ["notes.note.read"] }) { id } }', {}, company.owner)).data.createRole.id;
  const reader = await test.createUser({ company });
  await test.gql('mutation ($id: ID!, $roles: [ID!]) { updateUser(id: $id, input: { roleIds: $roles }) { id } }', { id: reader.id, roles: [role] }, company.owner);
  const live = await test.subscribe(SUBSCRIBE, {}, reader);
  const note = (title: string) => test.gql(CREATE_NOTE, { input: { title, branchId: company.defaultBranchId } }, company.owner);
  const setPermissions = (permissions: string[]) => test.gql('mutation ($id: ID!, $p: [String!]!) { updateRole(id: $id, input: { permissions: $p }) { id } }', { id: role, p: permissions }, company.owner);

  await note('seen');
  t.match(await live.next(), { data: { noteCreated: { title: 'seen' } } });
  await setPermissions([]);
  await note('hidden: the key is gone');
  await test.app.liveIdle();
  await setPermissions(['notes.note.read']);
  await note('seen again');
  t.match(await live.next(), { data: { noteCreated: { title: 'seen again' } } }, 'the event in between was not delivered, and the key came back at once');
});

t.test('a subscription stops delivering while its module is off for the company', async (t) => {
  const test = await createTestApp({ modules: [notes, audit] });
  t.teardown(() => test.close());
  const platform = { headers: { 'x-atrium-platform-key': test.platformKey } };
  const company = await test.createCompany();
  const live = await test.subscribe('subscription { noteEvents { title } }', {}, company.owner);
  const raw = await test.subscribe('subscription { rawNoteEvents { title } }', {}, company.owner);
  const event = (title: string) => ({ id: company.id, name: 'notes.note.created', companyId: company.id, payload: { noteId: company.id, title }, occurredAt: new Date() });
  const toggle = (enabled: boolean | null) =>
    test.gql('mutation ($id: ID!, $on: Boolean) { setCompanyModule(companyId: $id, module: "audit", enabled: $on) { id } }', { id: company.id, on: enabled }, platform);
  await toggle(false);
  await test.app.publish(eventTopic(company.id, 'notes.note.created'), event('while off'));
  // The subscription checks when it takes the event from its queue: let it, before switching back.
  await new Promise((resolve) => setTimeout(resolve, 200));
  await toggle(null);
  await test.app.publish(eventTopic(company.id, 'notes.note.created'), event('back on'));
  t.same(await live.next(), { data: { noteEvents: { title: 'back on' } } });
  t.same(await raw.next(), { data: { rawNoteEvents: { title: 'back on' } } }, "a module's own stream too");
});

t.test('the socket closes when its access token expires', async (t) => {
  const test = await createTestApp({ modules: [notes], config: { auth: { accessTokenTtlSeconds: 1 } } });
  t.teardown(() => test.close());
  const company = await test.createCompany();
  const live = await test.subscribe(SUBSCRIBE, {}, company.owner);
  t.match(await live.closed, { code: 4401, reason: 'Access token expired' });
});

t.test('a client that does not keep up is disconnected instead of buffered without bound', async (t) => {
  const test = await createTestApp({ modules: [notes], config: { subscriptionMaxQueuedEvents: 50 } });
  t.teardown(() => test.close());
  const company = await test.createCompany();
  const { socket, closed, received } = await rawSocket(test, company.owner.token);
  await received('connection_ack');
  const started = new Promise((resolve) => test.app.lifecycle.once('subscription', resolve));
  socket.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query: SUBSCRIBE } }));
  await started;

  // The client stops reading; the server keeps publishing large events until it gives up on it
  // (the operating system's socket buffers take the first few megabytes).
  (socket as unknown as { _socket: { pause(): void; resume(): void } })._socket.pause();
  const serverSide = [...test.app.fastify.websocketServer.clients][0]!;
  const title = 'x'.repeat(64 * 1024);
  let published = 0;
  while (serverSide.readyState === serverSide.OPEN && published < 5000) {
    await test.app.publish(noteCreated(company.id), { id: company.id, title, branchId: company.defaultBranchId } as never);
    published += 1;
    await new Promise((resolve) => setImmediate(resolve));
  }
  t.ok(published < 5000, `the server gave up after ${published} events of 64 KiB`);
  (socket as unknown as { _socket: { resume(): void } })._socket.resume();
  t.equal(await closed, 1013, 'closed with 1013 (try again later)');
});

t.test('a live event reaches the socket as one text frame: the graphql-ws next message with its data', async (t) => {
  const test = await createTestApp({ modules: [notes] });
  t.teardown(() => test.close());
  const company = await test.createCompany();
  const { socket, frames, received } = await rawSocket(test, company.owner.token);
  t.teardown(() => socket.close());
  await received('connection_ack');
  const started = new Promise((resolve) => test.app.lifecycle.once('subscription', resolve));
  socket.send(JSON.stringify({ id: 'sub "1" \\ é', type: 'subscribe', payload: { query: SUBSCRIBE } }));
  await started;
  const id = (await test.gql(CREATE_NOTE, { input: { title: 'ünïcode "quoted"', branchId: company.defaultBranchId } }, company.owner)).data.createNote.id;
  await received('next');
  const next = frames.find((frame) => frame.message.type === 'next')!;
  t.equal(next.binary, false, 'a text frame (browsers hand binary ones over as Blobs)');
  t.same(next.message, { type: 'next', id: 'sub "1" \\ é', payload: { data: { noteCreated: { id, title: 'ünïcode "quoted"' } } } });
});

t.test('accepted sockets are pinged with ping frames, and one that stops answering is dropped', async (t) => {
  const test = await createTestApp({ config: { subscriptionKeepAliveMs: 50 } });
  t.teardown(() => test.close());
  const company = await test.createCompany();
  const answering = await rawSocket(test, company.owner.token);
  t.teardown(() => answering.socket.close());
  let pings = 0;
  answering.socket.on('ping', () => {
    pings += 1;
  });
  await answering.received('connection_ack');

  const silent = await rawSocket(test, company.owner.token, { autoPong: false });
  let unanswered = 0;
  silent.socket.on('ping', () => {
    unanswered += 1;
  });
  t.equal(await silent.closed, 1006, 'the socket that never answers is dropped (no close frame)');
  t.ok(unanswered >= 1, 'after a ping it left unanswered');

  const seen = pings;
  while (pings < seen + 2) await new Promise((resolve) => setTimeout(resolve, 10));
  t.equal(answering.socket.readyState, answering.socket.OPEN, 'the socket that answers stays open, ping after ping');
  t.same(
    answering.frames.map((frame) => frame.message.type),
    ['connection_ack'],
    'pings are frames of the WebSocket, not graphql-ws messages',
  );
});

t.test('an event is resolved once per (selection, permission set), not once per subscriber', async (t) => {
  const { titleResolutions } = await import('./fixtures/notes.ts');
  const test = await createTestApp({ modules: [notes] });
  t.teardown(() => test.close());
  const company = await test.createCompany();
  const admins = await Promise.all([1, 2, 3, 4].map(() => test.createUser({ company, systemRole: 'ADMIN' })));
  const readers = await Promise.all([1, 2, 3].map(() => test.createUser({ company, permissions: ['notes.note.read'] })));
  const query = 'subscription { noteCreated { title secret } }';
  const sockets = await Promise.all([company.owner, ...admins, ...readers].map((user) => test.subscribe(query, {}, user)));
  const before = titleResolutions.count;
  // Count how often a value holding the payload's field is serialised (in this process: the server's side).
  const stringify = JSON.stringify;
  let serialisations = 0;
  JSON.stringify = ((value: unknown, ...rest: never[]) => {
    if (stringify(value)?.includes('"noteCreated"')) serialisations += 1;
    return stringify(value, ...rest);
  }) as typeof JSON.stringify;
  t.teardown(() => {
    JSON.stringify = stringify;
  });
  await test.gql(CREATE_NOTE, { input: { title: 'shared', branchId: company.defaultBranchId, secret: 's3cret' } }, company.owner);
  const received = await Promise.all(sockets.map((socket) => socket.next()));
  JSON.stringify = stringify;
  t.equal(titleResolutions.count - before, 3, 'three permission sets (OWNER, ADMIN, reader): three resolutions for eight subscribers');
  t.equal(serialisations, 3, 'and three serialisations: each group is written to its sockets as it was serialised once');
  t.same(received.slice(0, 5).map((r) => r.data), Array(5).fill({ noteCreated: { title: 'shared', secret: 's3cret' } }));
  t.same(received.slice(5).map((r) => r.data), Array(3).fill({ noteCreated: { title: 'shared', secret: null } }), 'each group gets what its permissions allow');
  await Promise.all(sockets.map((socket) => socket.close()));
});

t.test('an instance listens once per topic, however many subscribers; a completed subscription gets nothing more', async (t) => {
  const { default: mqemitter } = await import('mqemitter');
  const emitter = mqemitter();
  const listening = new Map<string, number>();
  const counted = {
    on: (topic: string, listener: never, done?: () => void) => {
      listening.set(topic, (listening.get(topic) ?? 0) + 1);
      return emitter.on(topic, listener, done);
    },
    removeListener: (topic: string, listener: never, done?: () => void) => {
      listening.set(topic, (listening.get(topic) ?? 0) - 1);
      return emitter.removeListener(topic, listener, done);
    },
    emit: emitter.emit.bind(emitter),
  };
  const test = await createTestApp({ modules: [notes], infrastructure: { emitter: counted } });
  t.teardown(() => test.close());
  const company = await test.createCompany();
  const topicName = noteCreated(company.id);
  const sockets = await Promise.all([1, 2, 3, 4, 5].map(() => test.subscribe(SUBSCRIBE, {}, company.owner)));
  t.equal(listening.get(topicName), 1, 'five subscribers, one listener');

  await sockets[0]!.close();
  await test.gql(CREATE_NOTE, { input: { title: 'after one left', branchId: company.defaultBranchId } }, company.owner);
  const received = await Promise.all(sockets.slice(1).map((socket) => socket.next()));
  t.same(received.map((r) => r.data?.noteCreated.title), Array(4).fill('after one left'), 'the others still receive');

  await Promise.all(sockets.slice(1).map((socket) => socket.close()));
  while (listening.get(topicName) !== 0) await new Promise((resolve) => setTimeout(resolve, 10));
  t.pass('the last subscriber gone, the listener is removed');
});

t.test('a field that fails in a live event reaches each subscriber as a formatted error, and the subscription goes on', async (t) => {
  const test = await createTestApp({ modules: [notes] });
  t.teardown(() => test.close());
  const company = await test.createCompany();
  const sockets = await Promise.all([company.owner, company.owner].map((user) => test.subscribe(SUBSCRIBE, {}, user)));
  await test.app.publish(noteCreated(company.id), { id: company.id, title: 'unreadable', branchId: company.defaultBranchId } as never);
  for (const socket of sockets) {
    t.match(await socket.next(), { data: null, errors: [{ message: 'This title cannot be read', extensions: { code: 'FORBIDDEN' } }] });
  }
  await test.gql(CREATE_NOTE, { input: { title: 'readable', branchId: company.defaultBranchId } }, company.owner);
  for (const socket of sockets) t.match(await socket.next(), { data: { noteCreated: { title: 'readable' } } });
});

t.test('an event whose filter fails is dropped for its subscribers, and the subscription goes on', async (t) => {
  const test = await createTestApp({ modules: [notes] });
  t.teardown(() => test.close());
  const company = await test.createCompany();
  const sockets = await Promise.all([company.owner, company.owner].map((user) => test.subscribe('subscription { noteCreated { title } }', {}, user)));
  await test.app.publish(noteCreated(company.id), { id: company.id, title: 'unfilterable', branchId: company.defaultBranchId } as never);
  await test.gql(CREATE_NOTE, { input: { title: 'filtered', branchId: company.defaultBranchId } }, company.owner);
  for (const socket of sockets) t.same((await socket.next()).data, { noteCreated: { title: 'filtered' } }, 'the next event, not the failed one');
});

t.test("sockets of one authorization share their access re-read and their decision; another user's sockets keep their own", async (t) => {
  // Every event re-reads access: nothing answers from the kernel's cache.
  const test = await createTestApp({ modules: [notes], config: { auth: { accessRecheckMs: 0 } } });
  t.teardown(() => test.close());
  const company = await test.createCompany();
  const role = (await test.gql('mutation { createRole(input: { name: "Readers", permissions: ["notes.note.read"] }) { id } }', {}, company.owner)).data.createRole.id;
  const [first, second] = [await test.createUser({ company }), await test.createUser({ company })];
  for (const user of [first, second]) await test.gql('mutation ($id: ID!, $roles: [ID!]) { updateUser(id: $id, input: { roleIds: $roles }) { id } }', { id: user.id, roles: [role] }, company.owner);
  const tabs = await Promise.all([first, first, first].map((user) => test.subscribe('subscription { noteCreated { title } }', {}, user)));
  const other = await test.subscribe('subscription { noteCreated { title } }', {}, second);

  const reads: string[][] = [];
  t.teardown(
    test.onQuery((sql, params) => {
      if (sql === ACCESS_STAMP_SQL) reads.push(String(params[0]).replace(/[{}"]/g, '').split(','));
    }),
  );
  await test.app.publish(noteCreated(company.id), { id: company.id, title: 'shared', branchId: company.defaultBranchId } as never);
  for (const socket of [...tabs, other]) t.same((await socket.next()).data, { noteCreated: { title: 'shared' } });
  t.same(reads.flat().sort(), [first.id, second.id].sort(), 'one re-read per authorization, not one per socket');
  t.equal(reads.length, 1, "and the two users' stamps in one statement");

  await test.gql('mutation ($id: ID!) { deactivateUser(id: $id) { id } }', { id: first.id }, company.owner);
  await test.app.publish(noteCreated(company.id), { id: company.id, title: 'after', branchId: company.defaultBranchId } as never);
  for (const tab of tabs) t.match(await tab.closed, { code: 4403, reason: 'Access revoked' }, 'every socket of the deactivated user is closed');
  t.same((await other.next()).data, { noteCreated: { title: 'after' } }, 'the other user still receives');
});

t.test('while events come, live access is re-read ahead of the next one, for every user in one statement, and not once they stop', async (t) => {
  // Every read reaches the database (no kernel cache); a live access is good for 3 s (room for a busy
  // machine between the events), read ahead after 2.4 s.
  const test = await createTestApp({ modules: [notes], config: { auth: { subscriptionRecheckMs: 3000, accessRecheckMs: 0 } } });
  t.teardown(() => test.close());
  const company = await test.createCompany();
  const reader = await test.createUser({ company, permissions: ['notes.note.read'] });
  const [owner, read] = await Promise.all([company.owner, reader].map((user) => test.subscribe('subscription { noteCreated { title } }', {}, user)));
  const reads: string[][] = [];
  t.teardown(
    test.onQuery((sql, params) => {
      if (sql === ACCESS_STAMP_SQL) reads.push(String(params[0]).replace(/[{}"]/g, '').split(','));
    }),
  );
  const publish = async (title: string) => {
    await test.app.publish(noteCreated(company.id), { id: company.id, title, branchId: company.defaultBranchId } as never);
    for (const socket of [owner, read]) t.same((await socket.next()).data, { noteCreated: { title } });
  };
  const readsAfter = async (count: number) => {
    for (let waited = 0; reads.length < count && waited < 10_000; waited += 20) await new Promise((resolve) => setTimeout(resolve, 20));
    return reads.length;
  };

  await publish('first');
  await publish('second: events are coming');
  t.equal(reads.length, 0, 'both delivered on the access read at sign-in');
  t.equal(await readsAfter(1), 1, 'a read ahead, with no event to deliver');
  t.same(reads[0]!.sort(), [company.owner.id, reader.id].sort(), "both users' stamps in one statement");
  await publish('third: its access was read ahead');
  t.equal(reads.length, 1, 'delivered without a read in front of it');

  // Revoked elsewhere (no change on this instance to announce it): the read ahead finds it, no event needed.
  await test.sql('update app_user set active = false, access_version = access_version + 1 where id = $1', [reader.id]);
  t.match(await read.closed, { code: 4403, reason: 'Access revoked' }, 'the revoked reader is closed by the read ahead');
  t.equal(reads.length, 2);
  // Longer than the 2.4 s after which another read ahead would have come.
  await new Promise((resolve) => setTimeout(resolve, 3500));
  t.equal(reads.length, 2, 'no read once events stopped');
});

t.test("a subscription's filter runs once per event and viewer, not once per socket", async (t) => {
  const { filterChecks } = await import('./fixtures/notes.ts');
  const test = await createTestApp({ modules: [notes] });
  t.teardown(() => test.close());
  const company = await test.createCompany();
  const reader = await test.createUser({ company, permissions: ['notes.note.read'] });
  const users = [company.owner, company.owner, company.owner, reader, reader, reader];
  const sockets = await Promise.all(users.map((user) => test.subscribe('subscription { noteCreated { title } }', {}, user)));
  const before = filterChecks.count;
  await test.gql(CREATE_NOTE, { input: { title: 'filtered once', branchId: company.defaultBranchId } }, company.owner);
  const received = await Promise.all(sockets.map((socket) => socket.next()));
  t.same(received.map((r) => r.data), Array(6).fill({ noteCreated: { title: 'filtered once' } }));
  t.equal(filterChecks.count - before, 2, 'two viewers, six sockets: two checks');
  await Promise.all(sockets.map((socket) => socket.close()));
});

t.test('a subscription document is validated as an HTTP one is', async (t) => {
  const test = await createTestApp({ modules: [notes], config: { introspection: false, graphql: { maxAliases: 3 } } });
  t.teardown(() => test.close());
  const company = await test.createCompany();
  const refused = async (query: string, variables: Record<string, unknown> = {}) => {
    const live = await test.subscribe(query, variables, company.owner);
    const errors = (await live.failed) as { message: string; extensions?: { code?: string } }[];
    await live.close();
    return errors[0];
  };
  t.match(await refused('subscription { noteCreated { nope } }'), { message: /Cannot query field "nope"/, extensions: { code: 'BAD_USER_INPUT' } }, 'unknown fields');
  t.match(await refused('subscription { noteCreated { id __type(name: "Note") { name } } }'), { extensions: { code: 'BAD_USER_INPUT' } }, 'introspection, when it is off');
  t.match(await refused('subscription { noteCreated { a: id b: id c: id d: id } }'), { extensions: { code: 'BAD_USER_INPUT' } }, 'the alias limit');
  // Variables are checked only when it starts: mercurius answered their errors without a code.
  t.same(
    await refused('subscription ($show: Boolean!) { noteCreated { id @include(if: $show) } }', { show: null }),
    { message: 'Variable "$show" of non-null type "Boolean!" must not be null.', locations: [{ line: 1, column: 15 }], extensions: { code: 'BAD_USER_INPUT' } },
    'variables that do not fit their types',
  );
  const valid = await test.subscribe(SUBSCRIBE, {}, company.owner);
  await test.gql(CREATE_NOTE, { input: { title: 'still works', branchId: company.defaultBranchId } }, company.owner);
  t.match(await valid.next(), { data: { noteCreated: { title: 'still works' } } });
  await valid.close();
});
