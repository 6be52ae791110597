import { UniqueConstraintViolationException } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/sql';
import type { AtriumError } from '../graphql/errors.ts';

/**
 * Flushes, answering `conflict` when a unique index refuses the write: the database settles
 * duplicates (also two at once), so no read-then-insert check is needed in front of it. `conflict`
 * gets the name of the refusing index, for entities with several.
 */
export async function flushOrConflict(em: EntityManager, conflict: (constraint: string | undefined) => AtriumError): Promise<void> {
  try {
    await em.flush();
  } catch (error) {
    if (!(error instanceof UniqueConstraintViolationException)) throw error;
    throw conflict((error as { constraint?: string }).constraint);
  }
}
