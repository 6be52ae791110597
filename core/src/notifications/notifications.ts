import { defineEntity, p, type InferEntity } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/sql';
import { createdAt, primaryId } from '../db/columns.ts';
import { isId } from '../db/ids.ts';
import { OutboxEvent } from '../events/entities.ts';
import { paginate, type Connection, type ConnectionArgs } from '../graphql/connection.ts';
import { requireViewer, type Viewer } from '../access/viewer.ts';
import type { TenantFilterParams } from '../db/orm.ts';

/** Where a notification points: a record of some module, or a URL. */
export interface NotificationLink {
  subjectType?: string;
  subjectId?: string;
  url?: string;
}

export const Notification = defineEntity({
  name: 'Notification',
  tableName: 'notification',
  properties: {
    id: primaryId(),
    companyId: p.uuid(),
    userId: p.uuid(),
    type: p.string().length(100),
    title: p.string().length(500),
    body: p.text().nullable(),
    link: p.json<NotificationLink>().nullable(),
    readAt: p.datetime().nullable(),
    createdAt: createdAt(),
  },
});
export type Notification = InferEntity<typeof Notification>;

/** The kernel event written with every notification; its subscription and channels follow it. */
export const NOTIFICATION_CREATED = 'core.notification.created';

/** A message for an outside channel (e-mail, SMS). */
export interface ChannelMessage {
  userId: string;
  companyId: string;
  title: string;
  body: string | null;
  link: NotificationLink | null;
}

/**
 * Sends notifications outside the app. Real providers (an SMTP relay, an SMS gateway) are plugins;
 * the kernel ships a development channel that logs.
 */
export interface NotificationChannel {
  readonly name: string;
  send(message: ChannelMessage, recipient: { email: string; displayName: string }): Promise<void>;
}

/** A channel that writes what it would send to the log — for development. */
export function loggingChannel(name: string, log: { info(object: unknown, message?: string): void }): NotificationChannel {
  return {
    name,
    async send(message, recipient) {
      log.info({ channel: name, to: recipient.email, title: message.title }, `notification via ${name}`);
    },
  };
}

export interface NotifyInput {
  userId: string;
  type: string;
  title: string;
  body?: string | null;
  link?: NotificationLink | null;
  /** Outside channels to send it through too (e.g. ['email']), after commit, with retries. */
  channels?: string[];
}

/**
 * Adds a notification for a user to the EntityManager's unit of work (call it in a listener or a
 * service, then flush): it commits with the change, and after commit reaches the recipient's
 * `notificationCreated` subscription and the requested channels.
 */
export function notify(em: EntityManager, input: NotifyInput): Notification {
  const companyId = em.getFilterParams<TenantFilterParams>('tenant')?.companyId;
  if (!companyId) throw new Error('notify() needs an EntityManager scoped to a company');
  const notification = em.create(Notification, {
    companyId,
    userId: input.userId,
    type: input.type,
    title: input.title,
    body: input.body ?? null,
    link: input.link ?? null,
    readAt: null,
  } as Notification);
  em.create(OutboxEvent, {
    name: NOTIFICATION_CREATED,
    eventCompanyId: companyId,
    payload: { notificationId: notification.id, userId: input.userId, channels: input.channels ?? [] },
    dispatchedAt: null,
  });
  return notification;
}

/** The caller's notifications, newest first. */
export function listNotifications(em: EntityManager, viewer: Viewer, args: ConnectionArgs & { unreadOnly?: boolean | null }): Promise<Connection<Notification>> {
  const where = args.unreadOnly ? { userId: viewer.id, readAt: null } : { userId: viewer.id };
  return paginate(em, Notification, { ...args, where: where as never, orderBy: { createdAt: 'desc', id: 'desc' } });
}

/** Marks the caller's notifications read (the given ones, or all); answers how many changed. */
export async function markNotificationsRead(em: EntityManager, context: { viewer: Viewer | null }, ids?: string[] | null): Promise<number> {
  const viewer = requireViewer(context);
  const where: Record<string, unknown> = { userId: viewer.id, readAt: null };
  if (ids) where.id = { $in: ids.filter(isId) };
  return em.nativeUpdate(Notification, where as never, { readAt: new Date() });
}
