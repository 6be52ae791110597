import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { MikroORM } from '@mikro-orm/core';
import type { AtriumPlugin } from '../plugin/manifest.ts';

/** A migration file: `<sortable id>_<name>.sql`, e.g. `20261121120000_contacts.sql`. */
const FILE = /^[0-9A-Za-z_.-]+\.sql$/;

export interface MigrationFile {
  module: string;
  name: string;
  sql: string;
  checksum: string;
}

export interface MigrationLog {
  info(message: string): void;
}

/** A migration that cannot be applied, or an applied one whose file changed since. */
export class MigrationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MigrationError';
  }
}

const LEDGER = `create table if not exists atrium_migration (
  module text not null,
  name text not null,
  checksum text not null,
  applied_at timestamptz not null default now(),
  primary key (module, name)
)`;

/** Reads a module's migration files in name order. */
export async function readMigrations(plugin: Pick<AtriumPlugin, 'name' | 'migrations'>): Promise<MigrationFile[]> {
  if (!plugin.migrations) return [];
  const dir = fileURLToPath(plugin.migrations);
  const names = (await readdir(dir)).filter((name) => name.endsWith('.sql')).sort();
  return Promise.all(
    names.map(async (name) => {
      if (!FILE.test(name)) throw new MigrationError(`Module "${plugin.name}": migration file name "${name}" may only use letters, digits, "_", "-" and "."`);
      const sql = await readFile(`${dir}/${name}`, 'utf8');
      return { module: plugin.name, name, sql, checksum: createHash('sha256').update(sql).digest('hex') };
    }),
  );
}

/**
 * Applies pending migrations of every module, in module dependency order and file name order.
 * Each file runs in one transaction together with its ledger row; the ledger's primary key settles a
 * race between two instances starting at once (the loser's transaction fails and is rolled back).
 * An applied migration whose file has changed stops start-up.
 */
export async function runMigrations(orm: MikroORM, plugins: Pick<AtriumPlugin, 'name' | 'migrations'>[], log: MigrationLog): Promise<MigrationFile[]> {
  const connection = orm.em.getConnection();
  // Two instances starting at once on an empty database would race to create the ledger table.
  await connection.executeDump(`select pg_advisory_xact_lock(7246810); ${LEDGER}`);
  const rows: { module: string; name: string; checksum: string }[] = await connection.execute('select module, name, checksum from atrium_migration');
  const applied = new Map(rows.map((row) => [`${row.module}/${row.name}`, row.checksum]));
  const done: MigrationFile[] = [];

  for (const plugin of plugins) {
    for (const migration of await readMigrations(plugin)) {
      const checksum = applied.get(`${migration.module}/${migration.name}`);
      if (checksum !== undefined) {
        if (checksum !== migration.checksum) {
          throw new MigrationError(`Module "${migration.module}": migration ${migration.name} was changed after it was applied; add a new migration instead`);
        }
        continue;
      }
      // One simple-protocol script runs as one implicit transaction: the ledger row first, so that a
      // second instance applying the same file blocks on it and then fails on the primary key.
      const script = `insert into atrium_migration (module, name, checksum) values ('${migration.module}', '${migration.name}', '${migration.checksum}');\n${migration.sql}`;
      try {
        await connection.executeDump(script);
      } catch (error) {
        if (isLedgerConflict(error)) continue;
        throw new MigrationError(`Module "${migration.module}": migration ${migration.name} failed: ${(error as Error).message}`);
      }
      log.info(`migration ${migration.module}/${migration.name} applied`);
      done.push(migration);
    }
  }
  return done;
}

function isLedgerConflict(error: unknown): boolean {
  const message = String((error as Error)?.message ?? '');
  return message.includes('atrium_migration_pkey');
}
