import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { AtriumConfig } from '../app/config.ts';

/**
 * The access-token key: `JWT_SECRET` when set (required in production); in development one is
 * generated once and kept in `<dataDir>/jwt-secret`; in tests a fresh one per app.
 */
export async function resolveJwtSecret(config: AtriumConfig): Promise<string> {
  if (config.auth.jwtSecret) return config.auth.jwtSecret;
  if (config.env === 'production') throw new Error('JWT_SECRET is required in production');
  if (config.env === 'test') return randomBytes(48).toString('base64url');
  const file = join(config.dataDir, 'jwt-secret');
  try {
    const existing = (await readFile(file, 'utf8')).trim();
    if (existing.length >= 32) return existing;
  } catch {
    // not generated yet
  }
  const secret = randomBytes(48).toString('base64url');
  await mkdir(config.dataDir, { recursive: true });
  await writeFile(file, `${secret}\n`, { mode: 0o600 });
  return secret;
}
