/** numeric(14,2) in input: twelve digits before the point at most, two after, never negative. */
export const AMOUNT_PATTERN = '^(0|[1-9][0-9]{0,11})(\\.[0-9]{1,2})?$';

/** Cents of a decimal string ("12.5" → 1250n); amounts are never floats. */
export function cents(value: string): bigint {
  const match = /^(-?)(\d+)(?:\.(\d{1,2}))?$/.exec(value);
  if (!match) throw new Error(`Not an amount of money: ${value}`);
  const amount = BigInt(match[2]!) * 100n + BigInt((match[3] ?? '').padEnd(2, '0'));
  return match[1] ? -amount : amount;
}

/** A decimal string with two places ("10.00") of an amount in cents. */
export function decimal(amount: bigint): string {
  const sign = amount < 0n ? '-' : '';
  const abs = amount < 0n ? -amount : amount;
  return `${sign}${abs / 100n}.${String(abs % 100n).padStart(2, '0')}`;
}

/** The largest amount numeric(14,2) holds, in cents. */
export const MAX_CENTS = 99_999_999_999_999n;
