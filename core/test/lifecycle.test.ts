import t from 'tap';
import { writeFile, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { request } from 'node:http';
import { createApp, definePlugin, MigrationError } from '@atrium/core';
import { createTestApp, createTestDatabase } from '@atrium/core/testing';
import { probe, releaseSlowQuery, slowQueryReached } from './fixtures/modules.ts';

function post(url: string, query: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(`${url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', connection: 'close' } }, (res) => {
      let body = '';
      res.on('data', (chunk) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode!, body }));
    });
    req.on('error', reject);
    req.end(JSON.stringify({ query }));
  });
}

t.test('stop() is graceful', async (t) => {
  const test = await createTestApp({ modules: [probe] });
  const { owner } = await test.createCompany();
  const socket = await test.subscribe('subscription { pinged }', {}, owner);
  const reached = slowQueryReached();
  const inFlight = post(test.url, '{ slow }');
  await reached;

  const stopped = test.app.stop();
  const refused = await post(test.url, '{ atrium { version } }');
  t.equal(refused.status, 503, 'a new request during shutdown gets 503');
  t.same((await socket.closed).code, 1001, 'the WebSocket client gets close code 1001');

  releaseSlowQuery();
  const finished = await inFlight;
  t.equal(finished.status, 200, 'the in-flight request completes');
  t.same(JSON.parse(finished.body), { data: { slow: 'done' } });
  await stopped;
  await t.rejects(post(test.url, '{ atrium { version } }'), 'the server no longer listens');
  await test.close();
});

t.test('migrations run once per database, in dependency order, and may not change afterwards', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'atrium-migrations-'));
  await writeFile(join(dir, '001_widget.sql'), 'create table widget (id uuid primary key, name text not null);');
  const widgets = () => definePlugin({ name: 'widgets', version: '1.0.0', migrations: pathToFileURL(`${dir}/`) });
  const uses = definePlugin({ name: 'gadgets', version: '1.0.0', dependsOn: ['widgets'], migrations: new URL('./fixtures/gadget-migrations/', import.meta.url) });

  const database = await createTestDatabase([]);
  t.teardown(() => database.drop());
  const start = async () => {
    const app = createApp({ modules: [uses, widgets()], database: database.target, port: 0, logLevel: 'silent', environment: {} });
    await app.start();
    return app;
  };

  const first = await start();
  await first.stop();
  const ledger = await database.sql<{ module: string; name: string }>(`select module, name from atrium_migration where module <> 'core' order by applied_at, module`);
  t.same(ledger.map((r) => `${r.module}/${r.name}`), ['widgets/001_widget.sql', 'gadgets/001_gadget.sql'], 'dependency first');
  const recorded = async () => (await database.sql(`select * from atrium_migration where module <> 'core'`)).length;

  await database.sql(`insert into widget (id, name) values ('0190a1b2-0000-7000-8000-000000000001', 'kept')`);
  const second = await start();
  await second.stop();
  t.equal(await recorded(), 2, 'nothing re-run on a second start');
  t.same(await database.sql('select name from widget'), [{ name: 'kept' }], 'data survives');

  await writeFile(join(dir, '001_widget.sql'), 'create table widget (id uuid primary key);');
  await t.rejects(start(), new MigrationError('Module "widgets": migration 001_widget.sql was changed after it was applied; add a new migration instead'));

  await writeFile(join(dir, '001_widget.sql'), 'create table widget (id uuid primary key, name text not null);');
  await writeFile(join(dir, '002_broken.sql'), 'alter table widget add column size int;\ncreate table widget (id int);');
  await t.rejects(start(), { name: 'MigrationError', message: /migration 002_broken.sql failed/ });
  const columns = await database.sql<{ column_name: string }>(`select column_name from information_schema.columns where table_name = 'widget' and table_schema = current_schema()`);
  t.notOk(columns.some((c) => c.column_name === 'size'), 'a failed migration leaves nothing behind');
  t.equal(await recorded(), 2, 'and is not recorded');
});

t.test('migrations can be switched off', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'atrium-migrations-'));
  const plugin = definePlugin({ name: 'later', version: '1.0.0', migrations: pathToFileURL(`${dir}/`) });
  const database = await createTestDatabase([]);
  t.teardown(() => database.drop());
  const migrated = await createTestApp({ database, modules: [plugin] });
  await migrated.close();
  await writeFile(join(dir, '001_later.sql'), 'create table later (id int);');
  const test = await createTestApp({ database, modules: [plugin], config: { migrate: false } });
  t.teardown(() => test.close());
  t.equal(test.app.config.migrate, false);
  t.same(await database.sql(`select name from atrium_migration where module = 'later'`), [], 'the pending migration was not run');
});
