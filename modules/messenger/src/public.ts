// What other modules and apps may use of the messenger (its package's public API); everything else is internal.
export { Conversation, Participant, CONVERSATION_KINDS, CONVERSATION_STATUSES, PRIORITIES, type ConversationKind, type ConversationStatus, type Priority } from './entities/conversations.ts';
export { Inbox, InboxMember, ContactInbox, CHANNELS, type Channel, type WorkingDay } from './entities/inboxes.ts';
export { Message, MessageChange, Attachment, MAX_ATTACHMENTS, MAX_CONTENT_LENGTH, MESSAGE_TYPES, MESSAGE_STATUSES, type MessageType, type MessageStatus } from './entities/messages.ts';
export { LocalDiskStorage, type AttachmentStorage } from './services/attachments.ts';
export { roomKey, type RoomDeclaration } from './permissions.ts';
export { conversationTopic, inboxTopic, type ConversationEvent, type ConversationEventType } from './services/realtime.ts';
export { openRecordChat, setRecordChatParticipants, findRecordChat, type OpenRecordChatInput, type RecordChatCaller, type RecordChatParticipantsInput } from './services/records.ts';
