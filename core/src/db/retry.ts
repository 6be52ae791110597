import type { EntityManager } from '@mikro-orm/sql';

/** MikroORM reports both 40001 and 40P01 as a DeadlockException. */
const isDeadlock = (error: unknown): boolean => error instanceof Error && error.name === 'DeadlockException';

/** Attempts at a transaction that lost a serialisation failure (40001) or a deadlock (40P01). */
export const MAX_TRANSACTION_ATTEMPTS = 5;

/**
 * Runs `work` in a transaction, again from the start (nothing of the failed attempt kept) when
 * PostgreSQL aborts it as a serialisation failure or a deadlock, at most MAX_TRANSACTION_ATTEMPTS
 * times. `retry` may ask for another attempt on other errors (a unique key taken by a transaction
 * that just committed).
 */
export async function transactionWithRetry<T>(em: EntityManager, work: (tx: EntityManager) => Promise<T>, retry: (error: unknown) => boolean = () => false): Promise<T> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await em.transactional((tx) => work(tx as EntityManager));
    } catch (error) {
      if (attempt >= MAX_TRANSACTION_ATTEMPTS || !(isDeadlock(error) || retry(error))) throw error;
    }
  }
}
