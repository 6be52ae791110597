import t from 'tap';
import Fastify from 'fastify';
import fastifyJwt from '@fastify/jwt';
import { cachingVerifier, type AccessClaims } from '../src/auth/tokens.ts';

type Claims = AccessClaims & { exp: number };

t.test('cachingVerifier: a token is verified once while it lasts, and again past its exp', async (t) => {
  const app = Fastify();
  await app.register(fastifyJwt, { secret: 'tokens-test-secret-tokens-test-secret-0123', sign: { algorithm: 'HS256' }, verify: { algorithms: ['HS256'] } });
  await app.ready();
  t.teardown(() => app.close());

  // The real verifier, on the same clock as the cache, counting its calls.
  let clock = Date.now();
  let verifications = 0;
  const verify = cachingVerifier(
    (token) => {
      verifications += 1;
      return app.jwt.verify<Claims>(token, { clockTimestamp: clock });
    },
    2,
    () => clock,
  );
  const sign = (sub: string) => app.jwt.sign({ sub, cid: 'c1' }, { expiresIn: 60 });

  t.test('a known token skips the signature check; its claims cannot be changed', async (t) => {
    const token = sign('u1');
    verifications = 0;
    const first = verify(token);
    t.match(first, { sub: 'u1', cid: 'c1' });
    t.equal(verify(token), first);
    t.equal(verify(token), first);
    t.equal(verifications, 1);
    t.ok(Object.isFrozen(first));
  });

  t.test('past its exp a known token is verified again, and refused as expired', async (t) => {
    const token = sign('u2');
    const claims = verify(token);
    verifications = 0;
    clock = claims.exp * 1000 + 1000;
    t.throws(() => verify(token), { code: 'FAST_JWT_EXPIRED' });
    t.throws(() => verify(token), { code: 'FAST_JWT_EXPIRED' });
    t.equal(verifications, 2);
    clock = Date.now();
  });

  t.test('refusals are not remembered', async (t) => {
    const token = sign('u3');
    const forged = `${token.slice(0, token.lastIndexOf('.'))}.${'A'.repeat(43)}`;
    verifications = 0;
    t.throws(() => verify(forged), { code: 'FAST_JWT_INVALID_SIGNATURE' });
    t.throws(() => verify(forged), { code: 'FAST_JWT_INVALID_SIGNATURE' });
    t.equal(verifications, 2);
  });

  t.test('it keeps at most `size` tokens, the oldest leaving first', async (t) => {
    const [a, b, c] = [sign('a'), sign('b'), sign('c')];
    verify(a);
    verify(b);
    verify(c);
    verifications = 0;
    verify(c);
    verify(b);
    t.equal(verifications, 0);
    verify(a);
    t.equal(verifications, 1);
  });
});
