import t from 'tap';
import { createHmac } from 'node:crypto';
import { hashPassword, OWASP_SCRYPT_COST, verifyPassword } from '@atrium/core';
import { createTestApp, TEST_PASSWORD } from '@atrium/core/testing';

const AUTH = 'accessToken refreshToken user { id email displayName systemRole }';
const SIGN_UP = `mutation ($input: SignUpInput!) { signUp(input: $input) { ${AUTH} } }`;
const LOGIN = `mutation ($input: LoginInput!) { login(input: $input) { ${AUTH} } }`;
const REFRESH = `mutation ($token: String!) { refreshSession(refreshToken: $token) { ${AUTH} } }`;

const b64 = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
const MISSING = '0190a1b2-0000-7000-8000-000000000000';

t.test('passwords are hashed with scrypt at OWASP parameters by default', async (t) => {
  t.equal(OWASP_SCRYPT_COST, 17);
  const hash = await hashPassword('a passphrase of some length');
  t.match(hash, /^scrypt\$17\$8\$1\$[\w-]{22}\$[\w-]{43}$/);
  t.ok(await verifyPassword('a passphrase of some length', hash));
  t.notOk(await verifyPassword('a passphrase of some lengtH', hash));
});

t.test("login and refreshSession answer the user's roles and branches, read outside any company scope", async (t) => {
  const test = await createTestApp();
  t.teardown(() => test.close());
  const { owner } = await test.createCompany();
  const WHO = 'user { id branches { name } roles { id } }';
  const login = await test.gql(`mutation ($input: LoginInput!) { login(input: $input) { refreshToken ${WHO} } }`, { input: { email: owner.email, password: TEST_PASSWORD } });
  t.equal(login.errors, undefined, 'login: no error');
  t.same(login.data?.login.user, { id: owner.id, branches: [{ name: 'Main' }], roles: [] });
  const refreshed = await test.gql(`mutation ($token: String!) { refreshSession(refreshToken: $token) { ${WHO} } }`, { token: login.data?.login.refreshToken });
  t.equal(refreshed.errors, undefined, 'refreshSession: no error');
  t.same(refreshed.data?.refreshSession.user, { id: owner.id, branches: [{ name: 'Main' }], roles: [] });
});

t.test('sign-up, sign-in and sessions', async (t) => {
  const test = await createTestApp({ config: { auth: { loginAttemptsPerEmail: 3, loginAttemptsPerIp: 1000 } } });
  t.teardown(() => test.close());

  const signed = await test.gql(SIGN_UP, { input: { companyName: 'Acme', email: 'Ada@Example.test', password: TEST_PASSWORD, displayName: 'Ada' } });
  t.equal(signed.errors, undefined);
  const { accessToken, refreshToken, user } = signed.data.signUp;
  /** Every refresh token with its state: a session started, spent or revoked shows here. */
  const sessions = () => test.sql('select id, used_at, revoked_at from refresh_token order by id');
  t.match(user, { email: 'ada@example.test', displayName: 'Ada', systemRole: 'OWNER' });

  t.test('sign-up creates the company on the default plan with a first branch', async (t) => {
    const res = await test.gql('{ me { id systemRole branches { name } } company { name plan { code modules } modules { name enabled } } branches { name } }', {}, { token: accessToken });
    t.same(res.data, {
      me: { id: user.id, systemRole: 'OWNER', branches: [{ name: 'Main' }] },
      company: { name: 'Acme', plan: { code: 'default', modules: [] }, modules: [] },
      branches: [{ name: 'Main' }],
    });
  });

  t.test('the same e-mail cannot sign up twice; bad input writes nothing', async (t) => {
    const companies = async () => (await test.sql<{ n: number }>('select count(*)::int as n from company'))[0]!.n;
    const before = await companies();
    const again = await test.gql(SIGN_UP, { input: { companyName: 'Other', email: 'ada@example.TEST', password: TEST_PASSWORD, displayName: 'Ada' } });
    t.equal(again.errors?.[0]?.extensions?.code, 'CONFLICT');
    const bad = await test.gql(SIGN_UP, { input: { companyName: '', email: 'not-an-email', password: 'short', displayName: 'X' } });
    t.equal(bad.errors?.[0]?.extensions?.code, 'BAD_USER_INPUT');
    t.same(Object.keys(bad.errors?.[0]?.extensions?.fields ?? {}).sort(), ['input.companyName', 'input.email', 'input.password']);
    t.equal(await companies(), before);
  });

  t.test('login answers the same for an unknown e-mail and a wrong password, and starts no session', async (t) => {
    const before = await sessions();
    const unknown = await test.gql(LOGIN, { input: { email: 'nobody@example.test', password: TEST_PASSWORD } });
    const wrong = await test.gql(LOGIN, { input: { email: 'ada@example.test', password: 'not the password' } });
    t.same(unknown, wrong);
    t.same(wrong.errors, [{ message: 'Wrong e-mail or password', path: ['login'], extensions: { code: 'UNAUTHENTICATED' } }]);
    const tooLong = await test.gql(LOGIN, { input: { email: `${'x'.repeat(250)}@example.test`, password: TEST_PASSWORD } });
    t.same(tooLong.errors?.[0]?.extensions, { code: 'BAD_USER_INPUT', fields: { 'input.email': 'must NOT have more than 254 characters' } });
    t.same(await sessions(), before, 'no refresh token was written');
    const ok = await test.gql(LOGIN, { input: { email: 'ADA@example.test', password: TEST_PASSWORD } });
    t.equal(ok.data.login.user.id, user.id);
    t.equal((await sessions()).length, before.length + 1, 'a successful login does start one');
  });

  t.test("another company's token does not get in the way of sign-up and sign-in", async (t) => {
    const other = await test.createCompany();
    const headers = { token: other.owner.token };
    const again = await test.gql(SIGN_UP, { input: { companyName: 'Third', email: 'third@example.test', password: TEST_PASSWORD, displayName: 'T' } }, headers);
    t.equal(again.errors, undefined);
    t.equal((await test.gql(LOGIN, { input: { email: 'third@example.test', password: TEST_PASSWORD } }, headers)).data.login.user.id, again.data.signUp.user.id);
  });

  t.test('login attempts are rate-limited per e-mail', async (t) => {
    const attempt = () => test.gql(LOGIN, { input: { email: 'limited@example.test', password: 'wrong password' } });
    for (let i = 0; i < 3; i++) t.equal((await attempt()).errors?.[0]?.extensions?.code, 'UNAUTHENTICATED');
    const before = await sessions();
    const limited = await attempt();
    t.equal(limited.errors?.[0]?.extensions?.code, 'RATE_LIMITED');
    t.ok((limited.errors?.[0]?.extensions?.retryAfterSeconds as number) > 0);
    t.same(await sessions(), before, 'no refresh token was written');
  });

  t.test('refresh tokens rotate; reusing a spent one revokes the whole family', async (t) => {
    const first = await test.gql(REFRESH, { token: refreshToken });
    t.equal(first.errors, undefined);
    const second = await test.gql(REFRESH, { token: first.data.refreshSession.refreshToken });
    t.equal(second.errors, undefined);
    t.not(second.data.refreshSession.refreshToken, first.data.refreshSession.refreshToken);

    const issued = (await sessions()).length;
    const replay = await test.gql(REFRESH, { token: refreshToken });
    t.equal(replay.errors?.[0]?.extensions?.code, 'UNAUTHENTICATED', 'a spent token is refused');
    const latest = await test.gql(REFRESH, { token: second.data.refreshSession.refreshToken });
    t.equal(latest.errors?.[0]?.extensions?.code, 'UNAUTHENTICATED', 'and its family is revoked');
    t.equal((await sessions()).length, issued, 'neither refusal issued a token');

    const before = await sessions();
    t.equal((await test.gql(REFRESH, { token: 'garbage' })).errors?.[0]?.extensions?.code, 'UNAUTHENTICATED');
    t.equal((await test.gql(REFRESH, { token: `${MISSING}.${'x'.repeat(43)}` })).errors?.[0]?.extensions?.code, 'UNAUTHENTICATED', 'an unknown token');
    t.same(await sessions(), before, 'malformed and unknown tokens write nothing');
  });

  t.test("a refresh token's id with a wrong secret is refused and neither spends nor revokes the session", async (t) => {
    const company = await test.createCompany();
    const [id] = company.owner.refreshToken.split('.');
    const before = await sessions();
    const forged = await test.gql(REFRESH, { token: `${id}.${'A'.repeat(43)}` });
    t.equal(forged.errors?.[0]?.extensions?.code, 'UNAUTHENTICATED');
    t.same(await sessions(), before, 'nothing written');
    t.equal((await test.gql(REFRESH, { token: company.owner.refreshToken })).errors, undefined, 'the real token still works');
  });

  t.test('logout revokes the session', async (t) => {
    const session = (await test.gql(LOGIN, { input: { email: 'ada@example.test', password: TEST_PASSWORD } })).data.login;
    const out = await test.gql('mutation ($token: String!) { logout(refreshToken: $token) }', { token: session.refreshToken });
    t.same(out.data, { logout: true });
    t.equal((await test.gql(REFRESH, { token: session.refreshToken })).errors?.[0]?.extensions?.code, 'UNAUTHENTICATED');
  });

  t.test('logout with a malformed, unknown or forged token answers false and revokes nothing', async (t) => {
    const company = await test.createCompany();
    const [id] = company.owner.refreshToken.split('.');
    const before = await sessions();
    for (const [name, token] of [['malformed', 'garbage'], ['unknown', `${MISSING}.${'x'.repeat(43)}`], ['a real id, a wrong secret', `${id}.${'A'.repeat(43)}`]] as const) {
      const out = await test.gql('mutation ($token: String!) { logout(refreshToken: $token) }', { token });
      t.same(out, { statusCode: 200, data: { logout: false } }, name);
    }
    t.same(await sessions(), before, 'nothing written');
    t.equal((await test.gql(REFRESH, { token: company.owner.refreshToken })).errors, undefined, "the owner's session goes on");
  });

  t.test('forged, alg:none, expired and malformed access tokens are refused', async (t) => {
    const [header, payload] = accessToken.split('.');
    const realClaims = JSON.parse(Buffer.from(payload, 'base64url').toString());
    const none = `${b64({ alg: 'none', typ: 'JWT' })}.${b64(realClaims)}.`;
    const forgedBody = `${header}.${b64({ ...realClaims, sub: user.id })}`;
    const forged = `${forgedBody}.${createHmac('sha256', 'a guessed secret of some length!!!').update(forgedBody).digest('base64url')}`;
    const expired = test.app.fastify.jwt.sign({ sub: realClaims.sub, cid: realClaims.cid, exp: Math.floor(Date.now() / 1000) - 5 });
    for (const [name, token] of [['alg none', none], ['forged', forged], ['expired', expired], ['malformed', 'abc']] as const) {
      const res = await test.gql('{ me { id } }', {}, { token });
      t.equal(res.errors?.[0]?.extensions?.code, 'UNAUTHENTICATED', name);
    }
    t.equal((await test.gql('{ me { id } }', {}, { headers: { authorization: 'Basic abc' } })).errors?.[0]?.extensions?.code, 'UNAUTHENTICATED');
    t.equal((await test.gql('{ me { id } }')).errors?.[0]?.extensions?.code, 'UNAUTHENTICATED', 'no token at all');
    t.equal((await test.gql('{ me { id } }', {}, { token: accessToken })).data.me.id, user.id, 'the real token works');
  });

  t.test('a deactivated user is signed out at once, and kept', async (t) => {
    const company = await test.createCompany();
    const member = await test.createUser({ company });
    t.equal((await test.gql('{ me { id } }', {}, { token: member.token })).data.me.id, member.id);
    const off = await test.gql('mutation ($id: ID!) { deactivateUser(id: $id) { id active } }', { id: member.id }, { token: company.owner.token });
    t.same(off.data, { deactivateUser: { id: member.id, active: false } });
    t.equal((await test.gql('{ me { id } }', {}, { token: member.token })).errors?.[0]?.extensions?.code, 'UNAUTHENTICATED', 'the access token stops working');
    t.equal((await test.gql(REFRESH, { token: member.refreshToken })).errors?.[0]?.extensions?.code, 'UNAUTHENTICATED', 'sessions are revoked');
    const before = await sessions();
    t.equal((await test.gql(LOGIN, { input: { email: member.email, password: TEST_PASSWORD } })).errors?.[0]?.extensions?.code, 'UNAUTHENTICATED');
    t.same(await sessions(), before, 'signing in again starts no session');
    t.same(await test.sql('select active from app_user where id = $1', [member.id]), [{ active: false }], 'never deleted');
  });

  t.test('API keys act with the keys they were given', async (t) => {
    const created = await test.gql('mutation { createApiKey(input: { name: "sync", permissions: ["core.user.read"] }) { key apiKey { id name permissions } } }', {}, { token: accessToken });
    const key = created.data.createApiKey.key as string;
    t.match(key, /^atr_[0-9a-f-]{36}_[\w-]{43}$/);
    const asKey = await test.gql('{ users { totalCount } }', {}, { headers: { authorization: `ApiKey ${key}` } });
    t.equal(asKey.data.users.totalCount, 1);
    t.equal((await test.gql('{ roles { id } }', {}, { headers: { authorization: `ApiKey ${key}` } })).errors?.[0]?.extensions?.code, 'FORBIDDEN');
    await test.gql('mutation ($id: ID!) { revokeApiKey(id: $id) }', { id: created.data.createApiKey.apiKey.id }, { token: accessToken });
    t.equal((await test.gql('{ users { totalCount } }', {}, { headers: { authorization: `ApiKey ${key}` } })).errors?.[0]?.extensions?.code, 'UNAUTHENTICATED');
  });

  t.test('creating and revoking API keys refuses bad input and writes nothing', async (t) => {
    const company = await test.createCompany();
    const owner = { token: company.owner.token };
    const keyManager = await test.createUser({ company, permissions: ['core.apiKey.manage'] });
    const CREATE = 'mutation ($input: CreateApiKeyInput!) { createApiKey(input: $input) { key } }';
    const REVOKE = 'mutation ($id: ID!) { revokeApiKey(id: $id) }';
    const revoked = (await test.gql('mutation { createApiKey(input: { name: "old", permissions: [] }) { apiKey { id } } }', {}, owner)).data.createApiKey.apiKey.id;
    t.same((await test.gql(REVOKE, { id: revoked }, owner)).data, { revokeApiKey: true });
    const keys = () => test.sql('select id, name, permissions, revoked_at from api_key order by id');
    const before = await keys();

    const invalid = await test.gql(CREATE, { input: { name: ' ', permissions: ['core.user.read', 'core.user.read'] } }, owner);
    t.equal(invalid.errors?.[0]?.extensions?.code, 'BAD_USER_INPUT');
    t.same(Object.keys(invalid.errors?.[0]?.extensions?.fields ?? {}).sort(), ['input.name', 'input.permissions']);
    const unknown = await test.gql(CREATE, { input: { name: 'ghost', permissions: ['core.user.fly'] } }, owner);
    t.same(unknown.errors?.[0]?.extensions, { code: 'BAD_USER_INPUT', fields: { 'input.permissions': 'unknown permission keys: core.user.fly' } });
    const lacking = await test.gql(CREATE, { input: { name: 'above me', permissions: ['core.user.manage'] } }, keyManager);
    t.equal(lacking.errors?.[0]?.extensions?.code, 'FORBIDDEN', 'a key with keys its creator lacks');

    for (const [name, id] of [['unknown', MISSING], ['malformed', 'not-an-id'], ['already revoked', revoked]] as const) {
      t.equal((await test.gql(REVOKE, { id }, owner)).errors?.[0]?.extensions?.code, 'NOT_FOUND', `revoking an ${name} key`);
    }
    t.same(await keys(), before, 'nothing written');
  });
});

t.test('login attempts are rate-limited per IP', async (t) => {
  const test = await createTestApp({ config: { auth: { loginAttemptsPerIp: 2 } } });
  t.teardown(() => test.close());
  const attempt = (email: string) => test.gql(LOGIN, { input: { email, password: 'wrong password' } });
  t.equal((await attempt('a@example.test')).errors?.[0]?.extensions?.code, 'UNAUTHENTICATED');
  t.equal((await attempt('b@example.test')).errors?.[0]?.extensions?.code, 'UNAUTHENTICATED');
  t.equal((await attempt('c@example.test')).errors?.[0]?.extensions?.code, 'RATE_LIMITED');
});
