import { definePlugin, type AtriumPlugin } from '@atrium/core';
import { entities } from './entities/index.ts';
import { events } from './events.ts';
import { permissions, roomPermissions, type RoomDeclaration } from './permissions.ts';
import { defaultStorage, type AttachmentStorage } from './services/attachments.ts';
import { serviceContext, setMessengerOptions, flushLive } from './services/context.ts';
import { reopenDueConversations } from './services/conversations.ts';
import { loaders, resolvers } from './resolvers/index.ts';
import { typeDefs } from './schema/index.ts';

export * from './public.ts';

export interface MessengerPluginOptions {
  /** Team rooms: each adds the permission key `messenger.room.<name>`; its holders are the room's members. */
  rooms?: RoomDeclaration[];
  /** Where attachments' bytes are kept (default: files under `.atrium/attachments`). */
  storage?: AttachmentStorage;
  /** Largest attachment accepted, in bytes (default 5 MB; the HTTP body limit applies too). */
  maxAttachmentBytes?: number;
}

/** How often the job reopening due snoozed conversations runs. */
const REOPEN_EVERY_MS = 30_000;

/**
 * The messenger: inboxes and their conversations with contacts, team rooms and record-bound chats,
 * delivered live. See the module's README for what it owns, its permission keys and its events.
 */
export function defineMessenger(options: MessengerPluginOptions = {}): AtriumPlugin {
  const rooms = options.rooms ?? [];
  const storage = options.storage ?? defaultStorage();
  const maxAttachmentBytes = options.maxAttachmentBytes ?? 5 * 1024 * 1024;
  return definePlugin({
    name: 'messenger',
    version: '1.0.0',
    dependsOn: ['crm'],
    entities,
    migrations: new URL('../migrations/', import.meta.url),
    permissions: [...permissions, ...roomPermissions(rooms)],
    events,
    graphql: { typeDefs, resolvers, loaders },
    publicFields: ['widgetStartSession', 'widgetSendMessage', 'widgetMarkRead', 'widgetMessages', 'widgetEvents'],
    jobs: {
      'messenger.reopenSnoozed': {
        every: REOPEN_EVERY_MS,
        async run(_job, context) {
          const contexts = new Map<string, ReturnType<typeof serviceContext>>();
          const ctxOf = (companyId: string) => {
            const ctx = contexts.get(companyId) ?? serviceContext(context.kernel, context.em, null, context.publish);
            contexts.set(companyId, ctx);
            return ctx;
          };
          await reopenDueConversations(context.em, ctxOf);
          context.afterCommit(async () => {
            for (const ctx of contexts.values()) await flushLive(ctx);
          });
        },
      },
    },
    setup(context) {
      setMessengerOptions(context.kernel, { rooms, storage, maxAttachmentBytes });
    },
  });
}

export default defineMessenger();
