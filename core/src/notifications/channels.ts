import type { EntityManager } from '@mikro-orm/sql';
import type { DomainEvent } from '../plugin/manifest.ts';
import { User } from '../tenancy/entities.ts';
import { Notification, type NotificationChannel } from './notifications.ts';

/**
 * The kernel's listener for new notifications: sends each through the channels it asked for. A
 * channel that fails makes the delivery retry (with backoff) — channels may see a message twice.
 */
export async function sendToChannels(event: DomainEvent, em: EntityManager, channels: ReadonlyMap<string, NotificationChannel>): Promise<void> {
  const { notificationId, channels: wanted } = event.payload as { notificationId: string; channels: string[] };
  if (wanted.length === 0) return;
  const notification = await em.findOne(Notification, { id: notificationId });
  const user = notification ? await em.findOne(User, { id: notification.userId }) : null;
  if (!notification || !user?.active) return;
  for (const name of wanted) {
    const channel = channels.get(name);
    if (!channel) throw new Error(`No notification channel "${name}"`);
    await channel.send(
      { userId: user.id, companyId: notification.companyId, title: notification.title, body: notification.body ?? null, link: notification.link ?? null },
      { email: user.email, displayName: user.displayName },
    );
  }
}
