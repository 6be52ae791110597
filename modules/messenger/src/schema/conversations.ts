/** Conversations: inbox conversations with contacts, team rooms, record-bound chats. */
export const conversationTypeDefs = /* GraphQL */ `
  enum ConversationKind {
    "With a contact, in an inbox."
    INBOX
    "Team chat; members hold the room's permission key."
    ROOM
    "Bound to a record of another module; its participants only."
    RECORD
  }

  enum ConversationStatus {
    OPEN
    PENDING
    "Until snoozedUntil (then reopened), or until the contact writes."
    SNOOZED
    RESOLVED
  }

  enum ConversationPriority {
    LOW
    MEDIUM
    HIGH
    URGENT
  }

  type Conversation {
    id: ID!
    "Counts per company: #1, #2…"
    displayId: Int!
    kind: ConversationKind!
    status: ConversationStatus!
    "Set only while SNOOZED."
    snoozedUntil: DateTime
    priority: ConversationPriority
    inbox: Inbox
    contact: Contact
    assignee: User
    team: MessengerTeam
    branch: Branch!
    labels: [String!]!
    customAttributes: JSON!
    "The latest message (activity notices aside)."
    lastActivityAt: DateTime!
    "Since when the contact waits for a human answer (the first unanswered incoming message); private notes do not end it."
    waitingSince: DateTime
    firstReplyCreatedAt: DateTime
    "The latest markConversationRead of any agent."
    agentLastSeenAt: DateTime
    contactLastSeenAt: DateTime
    "RECORD: the record this chat belongs to."
    subjectType: String
    subjectId: ID
    title: String
    "ROOM: the room's name (members hold messenger.room.<name>)."
    roomName: String
    createdAt: DateTime!
    updatedAt: DateTime!
  }

  type ConversationEdge {
    cursor: String!
    node: Conversation!
  }

  type ConversationConnection {
    edges: [ConversationEdge!]!
    pageInfo: PageInfo!
    totalCount: Int!
  }

  input ConversationFilter {
    status: ConversationStatus
    inboxId: ID
    assigneeId: ID
    "Conversations carrying this label."
    label: String
    kind: ConversationKind
    contactId: ID
  }

  input CreateConversationInput {
    inboxId: ID!
    contactId: ID!
    "A first message to the contact (optional)."
    content: String
    "The contact's address in the inbox (default: the contact's existing one, or a new one)."
    sourceId: String
  }

  "Fields left out stay as they are; labels and customAttributes are replaced whole."
  input UpdateConversationInput {
    priority: ConversationPriority
    labels: [String!]
    customAttributes: JSON
    teamId: ID
    title: String
  }

  enum ConversationEventType {
    MESSAGE_CREATED
    "A message was edited or deleted."
    MESSAGE_UPDATED
    STATUS_CHANGED
    ASSIGNEE_CHANGED
    TYPING
    READ
    "The conversation was deleted: drop it."
    DELETED
    "The conversation started, or its fields (priority, labels…) changed."
    UPDATED
  }

  type TypingNotice {
    user: User
    typing: Boolean!
    "A private note is being typed: agents alone are told."
    private: Boolean!
  }

  type ReadNotice {
    user: User
    lastSeenAt: DateTime!
  }

  "Something that happened in a conversation, live."
  type ConversationEvent {
    type: ConversationEventType!
    conversationId: ID!
    inboxId: ID
    "The conversation as it is after the event (for DELETED: as it was)."
    conversation: Conversation
    message: Message
    typing: TypingNotice
    read: ReadNotice
  }

  extend type Query {
    "Conversations you may read, newest activity first."
    conversations(first: Int, after: String, filter: ConversationFilter): ConversationConnection!
    "Null when it does not exist or you may not read it."
    conversation(id: ID!): Conversation
  }

  extend type Mutation {
    """
    Starts a conversation with a contact in an inbox you answer (with an optional first message);
    OPEN, or RESOLVED when the contact is blocked. Needs messenger.conversation.reply.
    """
    createConversation(input: CreateConversationInput!): Conversation!
    """
    OPEN, PENDING, SNOOZED (snoozedUntil required, in the future; a job reopens it then) or RESOLVED
    (clears waitingSince). Inbox conversations only. Needs messenger.conversation.reply.
    """
    setConversationStatus(conversationId: ID!, status: ConversationStatus!, snoozedUntil: DateTime): Conversation!
    "Needs messenger.conversation.reply."
    updateConversation(id: ID!, input: UpdateConversationInput!): Conversation!
    "Deletes a conversation and its messages for everyone. Needs messenger.conversation.delete."
    deleteConversation(id: ID!): Boolean!
    """
    Blocks (or unblocks) a contact: its new conversations start RESOLVED and its messages reopen
    nothing. Needs messenger.conversation.reply and a conversation with the contact you can read.
    """
    blockContact(contactId: ID!, blocked: Boolean!): Contact!
  }

  extend type Subscription {
    "Messages, status, assignment, typing and read notices of a conversation you may read."
    conversationEvents(conversationId: ID!): ConversationEvent!
    "The same, for every conversation of an inbox you answer."
    inboxEvents(inboxId: ID!): ConversationEvent!
  }
`;
