import { randomBytes, scrypt as scryptCallback, timingSafeEqual, type ScryptOptions } from 'node:crypto';

const scrypt = (password: string, salt: Buffer, length: number, options: ScryptOptions) =>
  new Promise<Buffer>((resolve, reject) =>
    scryptCallback(password, salt, length, options, (error, key) => (error ? reject(error) : resolve(key))),
  );

/** OWASP's minimum for scrypt (Password Storage Cheat Sheet): N = 2^17, r = 8, p = 1. */
export const OWASP_SCRYPT_COST = 17;
const BLOCK_SIZE = 8;
const PARALLELISM = 1;
const KEY_LENGTH = 32;

/**
 * Hashes a password with scrypt; the result records its parameters (`scrypt$<log2 N>$<r>$<p>$<salt>$<key>`)
 * so that verification keeps working after the cost is raised.
 */
export async function hashPassword(password: string, cost = OWASP_SCRYPT_COST): Promise<string> {
  const salt = randomBytes(16);
  const key = await scrypt(password.normalize('NFKC'), salt, KEY_LENGTH, options(cost, BLOCK_SIZE, PARALLELISM));
  return ['scrypt', cost, BLOCK_SIZE, PARALLELISM, salt.toString('base64url'), key.toString('base64url')].join('$');
}

/** Checks a password against a stored hash in constant time. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [scheme, cost, r, parallel, salt, key] = stored.split('$');
  if (scheme !== 'scrypt' || !cost || !r || !parallel || !salt || !key) return false;
  const expected = Buffer.from(key, 'base64url');
  const actual = await scrypt(password.normalize('NFKC'), Buffer.from(salt, 'base64url'), expected.length, options(Number(cost), Number(r), Number(parallel)));
  return timingSafeEqual(actual, expected);
}

function options(cost: number, r: number, parallel: number): ScryptOptions {
  const N = 2 ** cost;
  // scrypt needs 128 * N * r bytes; Node's default cap (32 MiB) is below OWASP's parameters.
  return { N, r, p: parallel, maxmem: 256 * N * r };
}
