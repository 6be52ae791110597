import type { EntityManager, EventSubscriber } from '@mikro-orm/core';
import { entryOf } from '../shared/entry.ts';

type Step = () => unknown;

/** Steps waiting for a transaction (or savepoint) to commit, by its transaction context. */
const waiting = new WeakMap<object, Step[]>();
/** A savepoint's enclosing transaction context. */
const enclosing = new WeakMap<object, object>();
/** The enclosing context of a savepoint being opened, by the EntityManager opening it. */
const opening = new WeakMap<object, object>();

/**
 * Runs `step` once the transaction `em` is in commits — the outermost one: a step registered inside a
 * savepoint (a nested `transactional`, e.g. a module's service called within its caller's
 * transaction) waits for the caller's commit. A rollback drops it. Outside a transaction it runs at
 * once. For what must not be seen before the data it tells of (live events, cache invalidation);
 * a failing step is logged, the commit stands.
 */
export async function afterCommit(em: EntityManager, step: () => unknown): Promise<void> {
  const transaction = em.getTransactionContext<object>();
  if (!transaction) {
    await step();
    return;
  }
  entryOf(waiting, transaction, () => []).push(step);
}

/** The kernel's subscriber that runs `afterCommit` steps (every transaction's event manager copies it). */
export function afterCommitSubscriber(log: (error: unknown) => void): EventSubscriber {
  return {
    beforeTransactionStart: ({ em, transaction }) => {
      if (transaction) opening.set(em, transaction);
    },
    afterTransactionStart: ({ em, transaction }) => {
      const parent = opening.get(em);
      if (!parent || !transaction) return;
      opening.delete(em);
      enclosing.set(transaction, parent);
    },
    afterTransactionCommit: async ({ transaction }) => {
      const steps = transaction && waiting.get(transaction);
      if (!steps) return;
      waiting.delete(transaction);
      const parent = enclosing.get(transaction);
      if (parent) {
        entryOf(waiting, parent, () => []).push(...steps);
        return;
      }
      for (const step of steps) {
        try {
          await step();
        } catch (error) {
          log(error);
        }
      }
    },
    afterTransactionRollback: ({ transaction }) => {
      if (transaction) waiting.delete(transaction);
    },
  };
}
