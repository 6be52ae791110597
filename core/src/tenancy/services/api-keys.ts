import { createHash, randomBytes } from 'node:crypto';
import { BadUserInputError, forbidden, notFound } from '../../graphql/errors.ts';
import { isId, newId } from '../../db/ids.ts';
import { createValidator } from '../../validation.ts';
import { requirePermission } from '../../access/viewer.ts';
import { ApiKey } from '../entities.ts';
import type { ServiceContext } from '../kernel.ts';

export const hashApiKeySecret = (secret: string): string => createHash('sha256').update(secret).digest('hex');

/** `atr_<key id>_<secret>` */
export function parseApiKey(key: string): { id: string; secret: string } | undefined {
  const match = /^atr_([0-9a-f-]{36})_([A-Za-z0-9_-]{43})$/.exec(key);
  return match && isId(match[1]) ? { id: match[1]!, secret: match[2]! } : undefined;
}

const validateCreate = createValidator<{ name: string; permissions: string[] }>({
  type: 'object',
  additionalProperties: false,
  required: ['name', 'permissions'],
  properties: {
    name: { type: 'string', minLength: 1, maxLength: 100, pattern: '\\S' },
    permissions: { type: 'array', items: { type: 'string', maxLength: 200 }, uniqueItems: true, maxItems: 500 },
  },
});

/** A key acting with the given permission keys (all of which the creator must hold); the secret is shown once. */
export async function createApiKey(context: ServiceContext, input: unknown): Promise<{ apiKey: ApiKey; key: string }> {
  const viewer = requirePermission(context, 'core.apiKey.manage');
  const data = validateCreate(input);
  const unknown = data.permissions.filter((key) => !context.kernel.permissions.get(key));
  if (unknown.length > 0) throw new BadUserInputError({ 'input.permissions': `unknown permission keys: ${unknown.join(', ')}` });
  const missing = data.permissions.filter((key) => !viewer.keys.has(key));
  if (missing.length > 0) throw forbidden(`You may not grant keys you lack: ${missing.join(', ')}`);
  const id = newId();
  const secret = randomBytes(32).toString('base64url');
  const apiKey = context.em.create(ApiKey, { id, companyId: viewer.companyId, name: data.name.trim(), keyHash: hashApiKeySecret(secret), permissions: data.permissions });
  await context.em.flush();
  return { apiKey, key: `atr_${id}_${secret}` };
}

export async function listApiKeys(context: ServiceContext): Promise<ApiKey[]> {
  requirePermission(context, 'core.apiKey.manage');
  return context.em.find(ApiKey, { revokedAt: null }, { orderBy: { createdAt: 'asc', id: 'asc' } });
}

export async function revokeApiKey(context: ServiceContext, id: string): Promise<boolean> {
  requirePermission(context, 'core.apiKey.manage');
  const apiKey = isId(id) ? await context.em.findOne(ApiKey, { id, revokedAt: null }) : null;
  if (!apiKey) throw notFound('API key');
  apiKey.revokedAt = new Date();
  await context.em.flush();
  return true;
}
