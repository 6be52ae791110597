/** The public website-widget API: no sign-in, a session token instead. */
export const widgetTypeDefs = /* GraphQL */ `
  input WidgetContactInput {
    name: String!
    email: String!
  }

  "A visitor's chat session with a website widget."
  type WidgetSession {
    "The session's secret: send it with every widget call. It reaches this session's conversations and nothing else."
    token: String!
    contactInboxId: ID!
    inboxName: String!
  }

  "A message as the visitor sees it (private notes and activity notices are never shown)."
  type WidgetMessage {
    id: ID!
    conversationId: ID!
    "INCOMING: the visitor's own; OUTGOING: the company's."
    messageType: MessageType!
    "USER: an agent; SYSTEM: an automatic reply; CONTACT: the visitor."
    senderType: MessageSenderType!
    "Null once deleted."
    content: String
    status: MessageStatus!
    "Files the company sent (none once the message is deleted)."
    attachments: [MessageAttachment!]!
    replyToId: ID
    editedAt: DateTime
    deletedAt: DateTime
    createdAt: DateTime!
  }

  type WidgetMessageEdge {
    cursor: String!
    node: WidgetMessage!
  }

  type WidgetMessageConnection {
    edges: [WidgetMessageEdge!]!
    pageInfo: PageInfo!
    totalCount: Int!
  }

  enum WidgetEventType {
    MESSAGE_CREATED
    "A message was edited or deleted."
    MESSAGE_UPDATED
    STATUS_CHANGED
    "An agent started or stopped typing."
    TYPING
    "An agent read the conversation."
    READ
    "The conversation was deleted."
    DELETED
  }

  "Something that happened in the visitor's conversation, live."
  type WidgetEvent {
    type: WidgetEventType!
    conversationId: ID!
    message: WidgetMessage
    "STATUS_CHANGED: the conversation's status now."
    status: ConversationStatus
    "TYPING: whether an agent is typing."
    typing: Boolean
    "READ: agents have read the conversation up to this time."
    agentLastSeenAt: DateTime
  }

  extend type Query {
    "Public. The session's messages, newest first (default 50 at a time): pass pageInfo.endCursor as before for older ones."
    widgetMessages(token: String!, first: Int, before: String): WidgetMessageConnection!
  }

  extend type Mutation {
    """
    Public. Starts a visitor's session with a website widget (by the inbox's public token): the crm
    contact with this e-mail address, or a new one, gets a session of its own. Rate-limited per
    client address (RATE_LIMITED).
    """
    widgetStartSession(inboxToken: String!, contact: WidgetContactInput!): WidgetSession!
    "Public. The visitor writes (to the session's open conversation, or a new one). More than 20 a minute: RATE_LIMITED."
    widgetSendMessage(token: String!, content: String!, sourceId: String): WidgetMessage!
    "Public. The visitor has seen its conversations: contactLastSeenAt moves (at most every 15 s: false otherwise) and the company's messages turn READ."
    widgetMarkRead(token: String!): Boolean!
  }

  extend type Subscription {
    "Public. Messages, status, agents' typing and read notices of the session's conversations."
    widgetEvents(token: String!): WidgetEvent!
  }
`;
