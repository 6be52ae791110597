import t from 'tap';
import { mkdtemp, readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { defineEntity, definePlugin, generateMigration, p } from '@atrium/core';
import guestbook from '@atrium/example-custom-module';

t.test('generateMigration writes the difference between entities and migrations', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'atrium-generate-'));
  const Tool = defineEntity({
    name: 'Tool',
    tableName: 'tool',
    properties: { id: p.uuid().primary(), name: p.string().length(60), weight: p.decimal().precision(14).scale(3).nullable() },
  });
  const tools = definePlugin({ name: 'tools', version: '1.0.0', entities: [Tool], migrations: pathToFileURL(`${dir}/`) });

  const first = await generateMigration({ modules: [tools], module: 'tools', name: 'tool', now: new Date('2026-11-21T10:20:30Z') });
  t.equal(first?.file, join(dir, '20261121102030_tool.sql'));
  t.match(first?.sql, /create table "tool" \("id" uuid not null, "name" varchar\(60\) not null, "weight" numeric\(14,3\) null/);
  t.same(await readdir(dir), ['20261121102030_tool.sql']);
  t.equal(await readFile(first!.file, 'utf8'), `${first!.sql}\n`);

  t.equal(await generateMigration({ modules: [tools], module: 'tools', name: 'again' }), undefined, 'nothing left to write');
  await t.rejects(generateMigration({ modules: [tools], module: 'tools', name: 'Bad Name' }), /snake_case/);
  await t.rejects(generateMigration({ modules: [tools], module: 'crm', name: 'x' }), /not among the given modules/);
});

t.test("the example module's entities and migrations agree", async (t) => {
  t.equal(await generateMigration({ modules: [guestbook], module: 'guestbook', name: 'drift' }), undefined);
});
