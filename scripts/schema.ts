// Writes the composed GraphQL schema of every module in the repository to docs/schema.graphql.
import { writeFile } from 'node:fs/promises';
import { printSchema } from 'graphql';
import { createApp } from '@atrium/core';
import { modules } from '../examples/quickstart/src/modules.ts';

const app = createApp({ modules, environment: {} });
const target = new URL('../docs/schema.graphql', import.meta.url);
await writeFile(target, `${printSchema(app.schema.schema)}\n`);
console.log(`wrote ${target.pathname}`);
