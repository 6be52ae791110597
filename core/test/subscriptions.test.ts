import t from 'tap';
import { createHmac } from 'node:crypto';
import { createTestApp } from '@atrium/core/testing';
import { notes } from './fixtures/notes.ts';

const SUBSCRIBE = 'subscription { noteCreated { id title } }';
const CREATE_NOTE = 'mutation ($input: CreateNoteInput!) { createNote(input: $input) { id } }';

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

t.test('the socket closes when its access token expires', async (t) => {
  const test = await createTestApp({ modules: [notes], config: { auth: { accessTokenTtlSeconds: 1 } } });
  t.teardown(() => test.close());
  const company = await test.createCompany();
  const live = await test.subscribe(SUBSCRIBE, {}, company.owner);
  t.match(await live.closed, { code: 4401, reason: 'Access token expired' });
});
