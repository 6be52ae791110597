import { mkdir, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { createPglite, openOrm } from './orm.ts';
import { runMigrations } from './migrations.ts';
import { resolvePlugins } from '../plugin/registry.ts';
import type { AtriumPlugin } from '../plugin/manifest.ts';

export interface GenerateMigrationOptions {
  /** Every module the app is made of (the one to migrate and its dependencies at least). */
  modules: AtriumPlugin<any>[];
  /** The module that gets the migration. */
  module: string;
  /** A short snake_case description, e.g. `add_contact_phone`. */
  name: string;
  /** Timestamp for the file name (default now). */
  now?: Date;
}

/** What `generateMigration` wrote, or `undefined` when the entities match the migrations. */
export interface GeneratedMigration {
  file: string;
  sql: string;
}

/**
 * Writes a new migration for one module: applies every existing migration to a scratch embedded
 * database, compares the result with the modules' entity definitions, and saves the difference as
 * `<module>/migrations/<yyyymmddhhmmss>_<name>.sql` to review and commit. It never drops anything
 * (write drops by hand), and it captures every pending difference: generate one module at a time.
 */
export async function generateMigration(options: GenerateMigrationOptions): Promise<GeneratedMigration | undefined> {
  if (!/^[a-z0-9_]+$/.test(options.name)) throw new Error('The migration name must be snake_case letters and digits');
  const ordered = resolvePlugins(options.modules).map((resolved) => resolved.plugin);
  const target = ordered.find((plugin) => plugin.name === options.module);
  if (!target) throw new Error(`Module "${options.module}" is not among the given modules`);
  if (!target.migrations) throw new Error(`Module "${options.module}" declares no migrations folder`);

  const instance = await createPglite();
  const orm = await openOrm({ target: { driver: 'pglite', instance }, entities: ordered.flatMap((plugin) => plugin.entities ?? []) });
  try {
    await runMigrations(orm, [{ name: 'core', migrations: new URL('../../migrations/', import.meta.url) }, ...ordered], { info: () => {} });
    const sql = (await orm.schema.getUpdateSchemaSQL({ wrap: false, safe: true, dropTables: false })).trim();
    if (!sql) return undefined;
    const stamp = (options.now ?? new Date()).toISOString().replace(/\D/g, '').slice(0, 14);
    const dir = fileURLToPath(target.migrations);
    await mkdir(dir, { recursive: true });
    const file = `${dir.replace(/\/$/, '')}/${stamp}_${options.name}.sql`;
    await writeFile(file, `${sql}\n`);
    return { file, sql };
  } finally {
    await orm.close();
    await instance.close();
  }
}
