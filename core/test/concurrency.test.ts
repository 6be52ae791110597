import t from 'tap';
import { createTestApp, postgresOnly, TEST_PASSWORD } from '@atrium/core/testing';

t.test('races are settled by the database', { skip: postgresOnly }, async (t) => {
  const test = await createTestApp();
  t.teardown(() => test.close());

  t.test('parallel user creation never passes the plan limit', async (t) => {
    const company = await test.createCompany({ plan: { modules: [], limits: { maxUsers: 3 } } });
    const results = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        test.gql('mutation ($input: CreateUserInput!) { createUser(input: $input) { id } }', {
          input: { email: `race-${i}-${company.id}@example.test`, password: TEST_PASSWORD, displayName: `R${i}`, systemRole: 'MEMBER' },
        }, { token: company.owner.token }),
      ),
    );
    t.equal(results.filter((r) => !r.errors).length, 2, 'the owner and two more');
    t.ok(results.filter((r) => r.errors).every((r) => r.errors?.[0]?.extensions?.code === 'PLAN_LIMIT'));
    t.same(await test.sql('select count(*)::int as n from app_user where company_id = $1', [company.id]), [{ n: 3 }]);
  });

  t.test('a refresh token spent twice at once yields at most one session', async (t) => {
    const company = await test.createCompany();
    const token = company.owner.refreshToken;
    const results = await Promise.all(
      Array.from({ length: 6 }, () => test.gql('mutation ($t: String!) { refreshSession(refreshToken: $t) { refreshToken } }', { t: token })),
    );
    t.ok(results.filter((r) => !r.errors).length <= 1);
    const live = await test.sql<{ n: number }>(
      `select count(*)::int as n from refresh_token where user_id = $1 and used_at is null and revoked_at is null`,
      [company.owner.id],
    );
    t.ok(live[0]!.n <= 1, 'no two live tokens come out of one');
  });

  t.test('two sign-ups with one e-mail at once create one account', async (t) => {
    const input = { companyName: 'Twin', email: 'twin@example.test', password: TEST_PASSWORD, displayName: 'T' };
    const results = await Promise.all([0, 1, 2].map(() => test.gql('mutation ($input: SignUpInput!) { signUp(input: $input) { user { id } } }', { input })));
    t.equal(results.filter((r) => !r.errors).length, 1);
    t.ok(results.filter((r) => r.errors).every((r) => r.errors?.[0]?.extensions?.code === 'CONFLICT'), 'the others answer CONFLICT');
    t.same(await test.sql(`select count(*)::int as n from app_user where email = 'twin@example.test'`), [{ n: 1 }]);
    t.same(await test.sql(`select count(*)::int as n from company where name = 'Twin'`), [{ n: 1 }], 'and no company without an owner');
  });
});
