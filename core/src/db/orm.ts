import { join } from 'node:path';
import { mkdirSync } from 'node:fs';
import type { EntitySchema, EventArgs, EventSubscriber, MikroORM, Options } from '@mikro-orm/core';
import { MikroORM as PgliteMikroORM } from '@mikro-orm/pglite';
import { MikroORM as PostgreSqlMikroORM, type PostgreSqlConnection } from '@mikro-orm/postgresql';
import { PGlite, type PGliteOptions } from '@electric-sql/pglite';
import { sendSessionContextWithStatements } from './session-context.ts';
import { sendBeginWithFirstStatement } from './deferred-begin.ts';
import { isEventInsert } from '../events/outbox.ts';
import { prepareOnFirstUse } from './prepared.ts';
import { textArrayReader } from './array-param.ts';
import type pg from 'pg';

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

/** The tenant filter's parameters: the request's company. */
export interface TenantFilterParams {
  companyId: string;
}

/** Entities with a `companyId` property belong to a company: reads are filtered, writes stamped. */
export function isTenantEntity(entity: EntitySchema<any, any>): boolean {
  return 'companyId' in (entity.meta.properties ?? {});
}

/**
 * Stamps `companyId` on every new tenant row from the EntityManager's tenant scope, and refuses a
 * row stamped for another company. Without a scope (kernel work such as sign-up) the row must carry
 * its company already.
 */
const tenantStamp: EventSubscriber = {
  beforeCreate({ entity, em, meta }: EventArgs<any>) {
    if (!meta.properties.companyId) return;
    const scope = em.getFilterParams<TenantFilterParams>('tenant');
    if (scope?.companyId) {
      if (entity.companyId == null) entity.companyId = scope.companyId;
      else if (entity.companyId !== scope.companyId) throw new Error(`Refused to write a ${meta.className} of another company`);
    } else if (entity.companyId == null) {
      throw new Error(`A ${meta.className} needs a company: write it within a tenant scope`);
    }
  },
};

/**
 * An in-memory PGlite the ORM can be given as `instance`. Dates, timestamps and intervals come back
 * as text, as MikroORM's own PGlite connection sets it up: entities map them (a `date` column stays
 * a `YYYY-MM-DD` string, as on PostgreSQL).
 */
export function createPglite(options: PGliteOptions = {}): Promise<PGlite> {
  const asText = (text: string) => text;
  return PGlite.create({ ...options, parsers: { 1082: asText, 1114: asText, 1184: asText, 1186: asText, ...options.parsers } });
}

/** Opens the ORM over the chosen driver with every module's entities. */
export async function openOrm({ target, entities, debug = false }: OrmOptions): Promise<MikroORM> {
  const tenantEntities = entities.filter(isTenantEntity).map((entity) => entity.meta.className);
  const common: Partial<Options> = {
    entities,
    // Every read of a tenant entity is limited to the request's company; the filter has no default
    // parameters, so a query without a tenant scope fails instead of reading every company.
    filters: {
      tenant: { name: 'tenant', cond: (params: TenantFilterParams) => ({ companyId: params.companyId }), entity: tenantEntities, default: true },
    },
    subscribers: [tenantStamp],
    discovery: { warnWhenNoEntities: false },
    // Every request forks its own EntityManager; touching the global one is a bug.
    allowGlobalContext: false,
    forceUtcTimezone: true,
    // Our relations are one-way, so nothing needs propagating to an inverse side; with it on, MikroORM
    // gives every loaded entity its own getter and setter per property (a `defineProperty` per field
    // per row: the largest single cost of reading a list, and much of its garbage).
    propagationOnPrototype: false,
    debug,
  };
  if (target.driver === 'postgresql') {
    // libpq's `options` URL parameter (e.g. `-c search_path=…`) is not read by MikroORM: pass it to pg.
    const options = new URL(target.url).searchParams.get('options');
    const orm = await PostgreSqlMikroORM.init({
      ...common,
      clientUrl: target.url,
      pool: { min: 0, max: 10 },
      ...(options ? { driverOptions: { options } } : {}),
    });
    const connection = orm.em.getDriver().getConnection() as PostgreSqlConnection;
    sendSessionContextWithStatements(connection);
    const pool = (await connection.getNativeClient()) as pg.Pool;
    // A flush's events travel with its next statement (or the commit): a round trip fewer per event-writing transaction.
    sendBeginWithFirstStatement(pool, isEventInsert);
    prepareOnFirstUse(pool, connection);
    readTextArraysFast(pool);
    return orm as MikroORM;
  }
  if ('instance' in target) {
    return PgliteMikroORM.init({ ...common, driverOptions: { pglite: target.instance } }) as Promise<MikroORM>;
  }
  mkdirSync(target.dataDir, { recursive: true });
  return PgliteMikroORM.init({ ...common, dbName: join(target.dataDir, 'pglite') }) as Promise<MikroORM>;
}

const TEXT_ARRAY = 1009;
const VARCHAR_ARRAY = 1015;

/** text[] and varchar[] columns (labels, tags) read by `textArrayReader` on every connection of the pool. */
function readTextArraysFast(pool: pg.Pool): void {
  const types = (pool.options as { types?: { getTypeParser(oid: number): (text: string) => unknown; setTypeParser(oid: number, parse: (text: string) => unknown): void } }).types;
  if (!types) throw new Error('The pool has no type parsers of its own to extend');
  for (const oid of [TEXT_ARRAY, VARCHAR_ARRAY]) types.setTypeParser(oid, textArrayReader(types.getTypeParser(oid)));
}

/** Runs a statement outside any entity (health checks, migrations bookkeeping). */
export async function ping(orm: MikroORM): Promise<void> {
  await orm.em.getConnection().execute('select 1');
}
