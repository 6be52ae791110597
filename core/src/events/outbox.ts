import type { EntityManager } from '@mikro-orm/sql';
import type { ValidateFunction } from 'ajv';
import { ajv } from '../validation.ts';
import type { ResolvedPlugin } from '../plugin/registry.ts';
import type { TenantFilterParams } from '../db/orm.ts';
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
