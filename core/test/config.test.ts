import t from 'tap';
import { mkdtemp, readFile, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, resolveConfig } from '@atrium/core';
import { resolveJwtSecret } from '../src/auth/secret.ts';

t.test('configuration comes from options, then the environment, then defaults', async (t) => {
  const config = resolveConfig({ port: 5000 }, { PORT: '6000', HOST: '0.0.0.0', ATRIUM_MIGRATE: 'false', ATRIUM_MAX_DEPTH: '7', LOG_LEVEL: 'warn' });
  t.equal(config.port, 5000, 'an option wins over the environment');
  t.equal(config.host, '0.0.0.0');
  t.equal(config.migrate, false);
  t.equal(config.graphql.maxDepth, 7);
  t.equal(config.logLevel, 'warn');
  t.equal(config.env, 'development');
  t.equal(config.graphiql, true);
  t.equal(config.auth.passwordCost, 17);
  const production = resolveConfig({}, { NODE_ENV: 'production', JWT_SECRET: 's'.repeat(32) });
  t.equal(production.graphiql, false);
  t.equal(production.introspection, false);
  t.equal(production.host, '0.0.0.0');
});

t.test('a bad value names the variable or option', async (t) => {
  t.throws(() => resolveConfig({}, { PORT: 'eighty' }), new ConfigError('PORT', 'must be integer (got "eighty")'));
  t.throws(() => resolveConfig({}, { ATRIUM_MAX_DEPTH: '0' }), { name: 'ConfigError', variable: 'ATRIUM_MAX_DEPTH' });
  t.throws(() => resolveConfig({ port: -1 }, {}), { name: 'ConfigError', variable: 'option "port"' });
  t.throws(() => resolveConfig({}, { LOG_LEVEL: 'loud' }), { name: 'ConfigError', variable: 'LOG_LEVEL' });
  t.throws(() => resolveConfig({}, { JWT_SECRET: 'short' }), { name: 'ConfigError', variable: 'JWT_SECRET' });
  t.throws(() => resolveConfig({}, { NODE_ENV: 'production' }), { name: 'ConfigError', variable: 'JWT_SECRET', message: /required in production/ });
});

t.test('in development the JWT secret is generated once and kept under the data dir', async (t) => {
  const dataDir = await mkdtemp(join(tmpdir(), 'atrium-secret-'));
  const config = resolveConfig({ dataDir }, {});
  const first = await resolveJwtSecret(config);
  t.ok(first.length >= 32);
  t.equal(await resolveJwtSecret(config), first, 'reused on the next start');
  t.equal((await readFile(join(dataDir, 'jwt-secret'), 'utf8')).trim(), first);
  t.equal((await stat(join(dataDir, 'jwt-secret'))).mode & 0o777, 0o600, 'readable by its owner only');
  t.equal(await resolveJwtSecret(resolveConfig({ dataDir }, { JWT_SECRET: 'x'.repeat(40) })), 'x'.repeat(40));
});
