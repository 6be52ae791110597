import { p } from '@mikro-orm/core';
import { newId } from './ids.ts';

/** The primary key every Atrium entity uses: a UUID v7 made on create. */
export const primaryId = () => p.uuid().primary().onCreate(() => newId());

/** A `timestamptz` set on create (and defaulted by the database for raw inserts). */
export const createdAt = () => p.datetime().defaultRaw('now()').onCreate(() => new Date());

/** Money: `numeric(14,2)`, read and written as a decimal string (never a float). */
export const money = () => p.decimal('string').precision(14).scale(2);

/** A JSON-schema pattern for money in input: at most 12 digits before the point and 2 after, never negative. */
export const MONEY_PATTERN = '^(0|[1-9][0-9]{0,11})(\\.[0-9]{1,2})?$';

/** The largest amount `numeric(14,2)` holds, in cents. */
export const MAX_CENTS = 99_999_999_999_999n;

/**
 * Cents of a decimal string as the database answers it ("100.00", "-5.5"): sums and comparisons of
 * money are made on BigInt cents (or in SQL), never on floats.
 */
export function cents(value: string): bigint {
  const match = /^(-?)(\d+)(?:\.(\d{1,2}))?$/.exec(value);
  if (!match) throw new Error(`Not an amount of money: ${value}`);
  const amount = BigInt(match[2]!) * 100n + BigInt((match[3] ?? '').padEnd(2, '0'));
  return match[1] ? -amount : amount;
}

/** The decimal string with two places ("10.00") of an amount in cents. */
export function decimal(amount: bigint): string {
  const sign = amount < 0n ? '-' : '';
  const abs = amount < 0n ? -amount : amount;
  return `${sign}${abs / 100n}.${String(abs % 100n).padStart(2, '0')}`;
}
