import { Conversation, Counter, Participant, ReadState } from './conversations.ts';
import { ContactInbox, Inbox, InboxMember, Team, TeamMember } from './inboxes.ts';
import { Attachment, Message, MessageChange } from './messages.ts';

/** Every entity the module owns (the ORM loads them; migrations/ creates their tables). */
export const entities = [Inbox, InboxMember, ContactInbox, Team, TeamMember, Conversation, Participant, ReadState, Counter, Message, MessageChange, Attachment];
