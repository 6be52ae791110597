// npm run migration -- <module> <name>: writes a migration for a module of this repository from the
// difference between its entities and its existing migrations (see docs/writing-a-module.md).
import { generateMigration } from '@atrium/core';
import guestbook from '@atrium/example-custom-module';
import { modules } from '../examples/quickstart/src/modules.ts';

const [module, name] = process.argv.slice(2);
if (!module || !name) {
  console.error('usage: npm run migration -- <module> <snake_case_name>');
  process.exit(2);
}
const result = await generateMigration({ modules: [...modules, guestbook], module, name });
console.log(result ? `wrote ${result.file}:\n${result.sql}` : 'Entities and migrations agree: nothing to write.');
