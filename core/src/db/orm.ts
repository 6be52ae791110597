import { join } from 'node:path';
import { mkdirSync } from 'node:fs';
import type { EntitySchema, MikroORM, Options } from '@mikro-orm/core';
import { MikroORM as PgliteMikroORM } from '@mikro-orm/pglite';
import { MikroORM as PostgreSqlMikroORM } from '@mikro-orm/postgresql';
import type { PGlite } from '@electric-sql/pglite';

/** Where the data lives: the embedded PGlite database or a PostgreSQL server. */
export type DatabaseTarget =
  | { driver: 'postgresql'; url: string }
  | { driver: 'pglite'; dataDir: string }
  /** An already open PGlite instance, kept open when the app stops (the test kit's template copies). */
  | { driver: 'pglite'; instance: PGlite };

export interface OrmOptions {
  target: DatabaseTarget;
  entities: EntitySchema<any, any>[];
  debug?: boolean;
}

/** Opens the ORM over the chosen driver with every module's entities. */
export async function openOrm({ target, entities, debug = false }: OrmOptions): Promise<MikroORM> {
  const common: Partial<Options> = {
    entities,
    discovery: { warnWhenNoEntities: false },
    // Every request forks its own EntityManager; touching the global one is a bug.
    allowGlobalContext: false,
    forceUtcTimezone: true,
    debug,
  };
  if (target.driver === 'postgresql') {
    // libpq's `options` URL parameter (e.g. `-c search_path=…`) is not read by MikroORM: pass it to pg.
    const options = new URL(target.url).searchParams.get('options');
    return PostgreSqlMikroORM.init({
      ...common,
      clientUrl: target.url,
      pool: { min: 0, max: 10 },
      ...(options ? { driverOptions: { options } } : {}),
    }) as Promise<MikroORM>;
  }
  if ('instance' in target) {
    return PgliteMikroORM.init({ ...common, driverOptions: { pglite: target.instance } }) as Promise<MikroORM>;
  }
  mkdirSync(target.dataDir, { recursive: true });
  return PgliteMikroORM.init({ ...common, dbName: join(target.dataDir, 'pglite') }) as Promise<MikroORM>;
}

/** Runs a statement outside any entity (health checks, migrations bookkeeping). */
export async function ping(orm: MikroORM): Promise<void> {
  await orm.em.getConnection().execute('select 1');
}
