import type { PermissionDeclaration } from '@atrium/core';

/** A team room: its members are the users holding `messenger.room.<name>`. */
export interface RoomDeclaration {
  /** camelCase letters and digits: the last part of the permission key. */
  name: string;
  description: string;
}

/**
 * The keys a company's roles can grant for the messenger (OWNER and ADMIN hold them all). Reading
 * an inbox's conversations also needs membership of the inbox, unless one is an admin.
 */
export const permissions: PermissionDeclaration[] = [
  { key: 'messenger.inbox.manage', subject: 'Inbox', actions: ['create', 'update', 'delete'], description: 'Create inboxes, edit their settings and members, manage teams' },
  { key: 'messenger.conversation.read', subject: 'Conversation', actions: ['read'], description: "See the conversations of the inboxes one is a member of" },
  { key: 'messenger.conversation.reply', subject: 'Conversation', actions: ['reply'], description: 'Write messages and private notes, change status and priority' },
  { key: 'messenger.conversation.assign', subject: 'Conversation', actions: ['assign'], description: 'Assign conversations to agents and teams' },
  { key: 'messenger.conversation.delete', subject: 'Conversation', actions: ['delete'], description: 'Delete conversations for everyone' },
];

const ROOM_NAME = /^[a-z][a-zA-Z0-9]{0,48}$/;

/** The permission key of a room. */
export const roomKey = (name: string): string => `messenger.room.${name}`;

/** The key each declared room adds. */
export function roomPermissions(rooms: readonly RoomDeclaration[]): PermissionDeclaration[] {
  return rooms.map((room) => {
    if (!ROOM_NAME.test(room.name)) throw new TypeError(`Messenger room "${room.name}" must be camelCase letters and digits`);
    return { key: roomKey(room.name), subject: 'Conversation', actions: ['read', 'reply'], description: room.description };
  });
}
