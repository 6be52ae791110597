import { createHmac } from 'node:crypto';
import { defineEntity, p, type InferEntity } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/sql';
import { createdAt, primaryId } from '../db/columns.ts';
import { isId } from '../db/ids.ts';
import { createValidator } from '../validation.ts';
import { BadUserInputError, notFound } from '../graphql/errors.ts';
import { requirePermission } from '../access/viewer.ts';
import { pageArgs, type Connection, type ConnectionArgs } from '../graphql/connection.ts';
import type { ServiceContext } from '../tenancy/kernel.ts';
import type { DomainEvent } from '../plugin/manifest.ts';
import { notify } from '../notifications/notifications.ts';
import { User } from '../tenancy/entities.ts';

export const Webhook = defineEntity({
  name: 'Webhook',
  tableName: 'webhook',
  properties: {
    id: primaryId(),
    companyId: p.uuid(),
    url: p.string().length(2000),
    events: p.array().columnType('text[]'),
    secret: p.string().length(200).hidden(),
    active: p.boolean().default(true),
    consecutiveFailures: p.integer().default(0),
    disabledAt: p.datetime().nullable(),
    createdAt: createdAt(),
  },
});
export type Webhook = InferEntity<typeof Webhook>;

/** The signature header: `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>" with the secret>`. */
export const SIGNATURE_HEADER = 'x-atrium-signature';

export function signPayload(secret: string, body: string, timestamp: number): string {
  return `t=${timestamp},v1=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

const webhookFields = {
  url: { type: 'string', maxLength: 2000, pattern: '^https?://' },
  events: { type: 'array', minItems: 1, maxItems: 200, uniqueItems: true, items: { type: 'string', pattern: '^(\\*|[a-zA-Z0-9]+\\.[a-zA-Z0-9.]+)$' } },
  secret: { type: 'string', minLength: 16, maxLength: 200 },
};
const validateCreate = createValidator<{ url: string; events: string[]; secret: string }>({
  type: 'object',
  additionalProperties: false,
  required: ['url', 'events', 'secret'],
  properties: webhookFields,
});
const validateUpdate = createValidator<{ url?: string | null; events?: string[] | null; secret?: string | null; active?: boolean | null }>({
  type: 'object',
  additionalProperties: false,
  properties: { url: webhookFields.url, events: { ...webhookFields.events, type: ['array', 'null'] }, secret: webhookFields.secret, active: { type: ['boolean', 'null'] } },
});

/** Refuses event names no installed module (or the kernel) emits, and plain http outside development. */
function checkTarget(context: ServiceContext, data: { url?: string | null; events?: string[] | null }): void {
  if (data.url != null) {
    // The schema's pattern checks the scheme only: "http://" or a host with a space would throw here.
    const url = URL.parse(data.url);
    if (!url) throw new BadUserInputError({ 'input.url': 'is not a valid URL' });
    if (url.protocol !== 'https:' && context.kernel.config.env === 'production') throw new BadUserInputError({ 'input.url': 'must use https' });
  }
  const unknown = (data.events ?? []).filter((name) => name !== '*' && !context.kernel.events.has(name));
  if (unknown.length > 0) throw new BadUserInputError({ 'input.events': `unknown events: ${unknown.join(', ')}` });
}

export async function createWebhook(context: ServiceContext, input: unknown): Promise<Webhook> {
  requirePermission(context, 'core.webhook.manage');
  const data = validateCreate(input);
  checkTarget(context, data);
  const webhook = context.em.create(Webhook, { url: data.url, events: data.events, secret: data.secret, active: true, consecutiveFailures: 0 } as Webhook);
  await context.em.flush();
  return webhook;
}

async function findWebhook(context: ServiceContext, id: string): Promise<Webhook> {
  requirePermission(context, 'core.webhook.manage');
  const webhook = isId(id) ? await context.em.findOne(Webhook, { id }) : null;
  if (!webhook) throw notFound('Webhook');
  return webhook;
}

export async function updateWebhook(context: ServiceContext, id: string, input: unknown): Promise<Webhook> {
  const data = validateUpdate(input);
  const webhook = await findWebhook(context, id);
  checkTarget(context, data);
  if (data.url != null) webhook.url = data.url;
  if (data.events != null) webhook.events = data.events;
  if (data.secret != null) webhook.secret = data.secret;
  if (data.active != null) {
    webhook.active = data.active;
    if (data.active) {
      webhook.consecutiveFailures = 0;
      webhook.disabledAt = null;
    }
  }
  await context.em.flush();
  return webhook;
}

export async function deleteWebhook(context: ServiceContext, id: string): Promise<boolean> {
  const webhook = await findWebhook(context, id);
  await context.em.remove(webhook).flush();
  return true;
}

export async function listWebhooks(context: ServiceContext): Promise<Webhook[]> {
  requirePermission(context, 'core.webhook.manage');
  return context.em.find(Webhook, {}, { orderBy: { createdAt: 'asc', id: 'asc' } });
}

/** One delivery of one event to a webhook, as the log shows it. */
export interface WebhookDelivery {
  eventId: string;
  eventName: string;
  attempts: number;
  status: 'PENDING' | 'SUCCEEDED' | 'FAILED';
  responseStatus: number | null;
  lastError: string | null;
  nextAttemptAt: Date | null;
  deliveredAt: Date | null;
  occurredAt: Date;
}

interface DeliveryRow {
  event_id: string;
  name: string;
  occurred_at: Date | string;
  attempts: number;
  response_status: number | null;
  last_error: string | null;
  next_attempt_at: Date | string;
  done_at: Date | string | null;
  failed_at: Date | string | null;
}

/** The delivery log of a webhook, newest event first (kept as long as its events are). */
export async function listDeliveries(context: ServiceContext, webhookId: string, args: ConnectionArgs): Promise<Connection<WebhookDelivery>> {
  const webhook = await findWebhook(context, webhookId);
  const { first, after } = pageArgs(args);
  const before = after ? Buffer.from(after, 'base64url').toString() : null;
  if (before !== null && !isId(before)) throw new BadUserInputError({ after: 'is not a cursor of this list' });
  const target = `webhook:${webhook.id}`;
  // Event ids are UUID v7: ordering by them is ordering by time.
  const rows: DeliveryRow[] = await context.em.execute(
    `select d.event_id, e.name, e.occurred_at, d.attempts, d.response_status, d.last_error, d.next_attempt_at, d.done_at, d.failed_at
     from atrium_event_delivery d join atrium_event e on e.id = d.event_id
     where d.target = ? ${before ? 'and d.event_id < ?' : ''} order by d.event_id desc limit ?`,
    before ? [target, before, first + 1] : [target, first + 1],
  );
  const [{ n }] = await context.em.execute<{ n: number }[]>('select count(*)::int as n from atrium_event_delivery where target = ?', [target]);
  const page = rows.slice(0, first).map((row) => ({
    eventId: row.event_id,
    eventName: row.name,
    attempts: row.attempts,
    status: row.done_at ? ('SUCCEEDED' as const) : row.failed_at ? ('FAILED' as const) : ('PENDING' as const),
    responseStatus: row.response_status,
    lastError: row.last_error,
    nextAttemptAt: row.done_at || row.failed_at ? null : new Date(row.next_attempt_at),
    deliveredAt: row.done_at ? new Date(row.done_at) : null,
    occurredAt: new Date(row.occurred_at),
  }));
  const cursor = (delivery: WebhookDelivery) => Buffer.from(delivery.eventId).toString('base64url');
  return {
    edges: page.map((node) => ({ cursor: cursor(node), node })),
    pageInfo: { hasNextPage: rows.length > first, endCursor: page.length ? cursor(page.at(-1)!) : null },
    totalCount: n,
  };
}

/**
 * Posts an event to a webhook. Throws (so that the dispatcher retries with backoff) on a network
 * error, a timeout or a non-2xx answer; counts consecutive failures and, past the limit, disables the
 * webhook and notifies the company's owners.
 */
export async function deliverToWebhook(
  em: EntityManager,
  webhookId: string,
  event: DomainEvent,
  options: { timeoutMs: number; disableAfter: number },
): Promise<number> {
  const webhook = await em.findOne(Webhook, { id: webhookId }, { populate: ['secret'] });
  if (!webhook?.active) return 0; // deleted or disabled meanwhile: nothing to do
  const body = JSON.stringify({ id: event.id, name: event.name, companyId: event.companyId, occurredAt: event.occurredAt.toISOString(), payload: event.payload });
  const timestamp = Math.floor(Date.now() / 1000);
  let status = 0;
  let failure: string | undefined;
  try {
    const response = await fetch(webhook.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'user-agent': 'Atrium-Webhooks/1',
        'x-atrium-event': event.name,
        'x-atrium-delivery': event.id,
        [SIGNATURE_HEADER]: signPayload(webhook.secret, body, timestamp),
      },
      body,
      redirect: 'manual',
      signal: AbortSignal.timeout(options.timeoutMs),
    });
    status = response.status;
    await response.body?.cancel();
    if (status < 200 || status >= 300) failure = `HTTP ${status}`;
  } catch (error) {
    failure = (error as Error).name === 'TimeoutError' ? 'timed out' : `network error: ${(error as Error).message}`;
  }
  if (!failure) {
    webhook.consecutiveFailures = 0;
    await em.flush();
    return status;
  }
  await recordFailure(em.fork(), webhook.id, webhook.companyId, options.disableAfter);
  throw Object.assign(new Error(`Webhook delivery failed: ${failure}`), { responseStatus: status || null });
}

/** Counts a failure in its own transaction (the delivery's rolls back when it throws). */
async function recordFailure(em: EntityManager, webhookId: string, companyId: string, disableAfter: number): Promise<void> {
  em.setFilterParams('tenant', { companyId });
  await em.transactional(async (tx) => {
    const webhook = await tx.findOne(Webhook, { id: webhookId });
    if (!webhook) return;
    webhook.consecutiveFailures += 1;
    if (webhook.active && webhook.consecutiveFailures >= disableAfter) {
      webhook.active = false;
      webhook.disabledAt = new Date();
      for (const owner of await tx.find(User, { systemRole: 'OWNER', active: true })) {
        notify(tx, {
          userId: owner.id,
          type: 'core.webhook.disabled',
          title: `Webhook disabled after ${webhook.consecutiveFailures} failed deliveries`,
          body: webhook.url,
          link: { subjectType: 'Webhook', subjectId: webhook.id },
          channels: ['email'],
        });
      }
    }
  });
}
