import { createTestApp } from '@atrium/core/testing';
const test = await createTestApp({ config: { logLevel: 'error' } });
try {
  const a = await test.createCompany();
  console.log('company', a.id);
  const r = await test.gql('{ me { id email displayName systemRole branches { name } roles { name } } company { name plan { code modules } modules { name enabled } } branches { name } users(first: 5) { totalCount edges { node { email } } } permissionCatalog { key } }', {}, { token: a.owner.token });
  console.log(JSON.stringify(r, null, 1).slice(0, 2000));
  const u = await test.createUser({ company: a, permissions: ['core.user.read'] });
  const r2 = await test.gql('{ me { email } users(first: 5) { totalCount edges { node { email displayName } } } }', {}, { token: u.token });
  console.log(JSON.stringify(r2));
} finally { await test.close(); }
