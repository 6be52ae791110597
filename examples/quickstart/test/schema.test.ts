import t from 'tap';
import { readFile } from 'node:fs/promises';
import { printSchema } from 'graphql';
import { createApp } from '@atrium/core';
import { modules } from '../src/modules.ts';

t.test('docs/schema.graphql is the schema the modules compose (run `npm run schema` after a change)', async (t) => {
  const published = await readFile(new URL('../../../docs/schema.graphql', import.meta.url), 'utf8');
  t.equal(published, `${printSchema(createApp({ modules, environment: {} }).schema.schema)}\n`);
});
