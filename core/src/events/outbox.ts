import type { EntityManager } from '@mikro-orm/sql';
import type { ValidateFunction } from 'ajv';
import { ajv } from '../validation.ts';
import type { ResolvedPlugin } from '../plugin/registry.ts';
import type { TenantFilterParams } from '../db/orm.ts';
import { afterCommit } from '../db/after-commit.ts';
import { arrayParam } from '../db/array-param.ts';
import { newId } from '../db/ids.ts';
import type { SqlCondition } from '../db/sql-condition.ts';
import { OutboxEvent } from './entities.ts';

/** Writes a domain event into the caller's unit of work (it commits, or rolls back, with the change). */
export type Emit = <Payload>(em: EntityManager, name: string, payload: Payload, options?: { companyId?: string | null }) => OutboxEvent;

/** The events the installed modules declare, with compiled payload validators. */
export class EventRegistry {
  readonly #validators = new Map<string, ValidateFunction>();

  constructor(modules: readonly ResolvedPlugin[]) {
    for (const { plugin } of modules) {
      for (const [name, declaration] of Object.entries(plugin.events ?? {})) this.#validators.set(name, ajv.compile(declaration.schema));
    }
  }

  has(name: string): boolean {
    return this.#validators.has(name);
  }

  /**
   * Adds an event to the EntityManager's unit of work: it is written by the same flush, inside the
   * same transaction, as the change it describes. The payload is checked against the declared schema;
   * the company comes from the EntityManager's tenant scope.
   */
  emit: Emit = (em, name, payload, options = {}) => {
    const validate = this.#validators.get(name);
    if (!validate) throw new Error(`Event "${name}" is not declared by any installed module`);
    if (!validate(payload)) throw new Error(`Event "${name}" has an invalid payload: ${ajv.errorsText(validate.errors)}`);
    const companyId = options.companyId !== undefined ? options.companyId : (em.getFilterParams<TenantFilterParams>('tenant')?.companyId ?? null);
    return em.create(OutboxEvent, { name, eventCompanyId: companyId, payload: payload as object, dispatchedAt: null });
  };
}

/**
 * Whether a statement is the ORM's insert of events (a flush's): the connection may send it with the
 * transaction's next statement (when it answers no rows, which the connection checks).
 */
export function isEventInsert(statement: string): boolean {
  return statement.startsWith('insert into "atrium_event" (');
}

/** The dispatcher's wake of each app, by the ORM configuration its EntityManagers share. */
const wakes = new WeakMap<object, () => void>();

/** Lets `insertEvents` wake the app's dispatcher after the commit (the app does it when it starts). */
export function wakeAfterInsertedEvents(em: EntityManager, wake: () => void): void {
  wakes.set(em.config, wake);
}

/**
 * Takes events `emit` put into `em`'s unit of work out of it, for the caller's own statement to write:
 * answers their `insert` (a module writing its change in one statement makes it one of its parts, so
 * the change and its events still commit together). `when`: a condition of that statement the events'
 * rows are inserted under (that the change happened). The dispatcher is woken after the commit, as
 * after a flush that writes events.
 */
export function insertEvents(em: EntityManager, events: readonly OutboxEvent[], when?: string): SqlCondition {
  const unitOfWork = em.getUnitOfWork();
  for (const event of events) {
    unitOfWork.unsetIdentity(event);
    // Set on create by the flush, which these never go through.
    event.id ??= newId();
    event.occurredAt ??= new Date();
  }
  const wake = wakes.get(em.config);
  if (wake) void afterCommit(em, wake);
  return {
    sql: `insert into atrium_event (id, name, company_id, payload, occurred_at)
      select id, name, nullif(company_id, '')::uuid, payload, occurred_at
        from unnest(?::uuid[], ?::text[], ?::text[], ?::jsonb[], ?::timestamptz[]) as event (id, name, company_id, payload, occurred_at)${when ? `
       where ${when}` : ''}`,
    params: [
      arrayParam(events.map((event) => event.id)),
      arrayParam(events.map((event) => event.name)),
      arrayParam(events.map((event) => event.eventCompanyId ?? '')),
      arrayParam(events.map((event) => JSON.stringify(event.payload))),
      arrayParam(events.map((event) => event.occurredAt.toISOString())),
    ],
  };
}
