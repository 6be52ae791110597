import { createHash, randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { readMigrations } from '../db/migrations.ts';
import { createPglite, type DatabaseTarget } from '../db/orm.ts';
import type { AtriumPlugin } from '../plugin/manifest.ts';

/** A database made for one test app, and how to get rid of it. */
export interface TestDatabase {
  target: DatabaseTarget;
  /** Runs SQL directly against the test database (bypassing the app), e.g. to check nothing was written. */
  sql<Row = Record<string, unknown>>(text: string, params?: unknown[]): Promise<Row[]>;
  /** Called once the app has started and migrated: saves the PGlite template if it was built now. */
  afterStart(): Promise<void>;
  drop(): Promise<void>;
}

const CORE_MIGRATIONS = new URL('../../migrations/', import.meta.url);

/**
 * On PostgreSQL (`DATABASE_URL`), a fresh schema per app, dropped at teardown. On PGlite, an
 * in-memory instance loaded from a template (a data dir dumped right after migrating), cached in the
 * OS temp dir by the modules' migrations: initdb + migrations run once, not per test.
 */
export async function createTestDatabase(plugins: AtriumPlugin<any>[], databaseUrl = process.env.DATABASE_URL): Promise<TestDatabase> {
  return databaseUrl ? postgresSchema(databaseUrl) : pgliteFromTemplate(plugins);
}

async function postgresSchema(databaseUrl: string): Promise<TestDatabase> {
  const schema = `atrium_test_${randomUUID().replace(/-/g, '').slice(0, 16)}`;
  const admin = new pg.Client({ connectionString: databaseUrl });
  await admin.connect();
  await admin.query(`create schema ${schema}`);
  const url = new URL(databaseUrl);
  url.searchParams.set('options', `-c search_path=${schema}`);
  const client = new pg.Client({ connectionString: url.toString() });
  await client.connect();
  return {
    target: { driver: 'postgresql', url: url.toString() },
    sql: async (text, params) => (await client.query(text, params)).rows,
    afterStart: async () => {},
    drop: async () => {
      await client.end();
      await admin.query(`drop schema ${schema} cascade`);
      await admin.end();
    },
  };
}

async function pgliteFromTemplate(plugins: AtriumPlugin<any>[]): Promise<TestDatabase> {
  const file = join(tmpdir(), 'atrium-pglite-templates', `${await templateKey(plugins)}.tar.gz`);
  const template = existsSync(file) ? await readFile(file) : undefined;
  const instance = await createPglite(template ? { loadDataDir: new Blob([template]) } : {});
  // `sql` reads dates and timestamps as Date objects, as the PostgreSQL client does.
  const asDate = (text: string) => new Date(text);
  const parsers = { 1082: asDate, 1114: asDate, 1184: asDate };
  return {
    target: { driver: 'pglite', instance },
    sql: async (text, params) => (await instance.query(text, params, { parsers })).rows as never,
    afterStart: async () => {
      if (template) return;
      const dump = await instance.dumpDataDir('gzip');
      await mkdir(join(file, '..'), { recursive: true });
      const partial = `${file}.${process.pid}.tmp`;
      await writeFile(partial, Buffer.from(await dump.arrayBuffer()));
      await rename(partial, file);
    },
    drop: () => instance.close(),
  };
}

/** Identifies a template by the exact migrations it contains. */
async function templateKey(plugins: AtriumPlugin<any>[]): Promise<string> {
  const hash = createHash('sha256');
  for (const plugin of [{ name: 'core', migrations: CORE_MIGRATIONS }, ...plugins]) {
    for (const migration of await readMigrations(plugin)) hash.update(`${migration.module}/${migration.name}:${migration.checksum}\n`);
  }
  return hash.digest('hex').slice(0, 32);
}
