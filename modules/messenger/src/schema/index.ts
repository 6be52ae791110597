import { assignmentTypeDefs } from './assignment.ts';
import { conversationTypeDefs } from './conversations.ts';
import { inboxTypeDefs } from './inboxes.ts';
import { messageTypeDefs } from './messages.ts';
import { roomTypeDefs } from './rooms.ts';
import { widgetTypeDefs } from './widget.ts';

/** The module's part of the GraphQL schema, one file per area. */
export const typeDefs = [inboxTypeDefs, conversationTypeDefs, messageTypeDefs, assignmentTypeDefs, roomTypeDefs, widgetTypeDefs].join('\n');
