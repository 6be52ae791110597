/** Messages, their attachments and change history. */
export const messageTypeDefs = /* GraphQL */ `
  enum MessageType {
    "From the contact."
    INCOMING
    "From an agent (or an automatic reply)."
    OUTGOING
    "A notice of what happened (assignee changed…); contentAttributes.kind says what."
    ACTIVITY
  }

  enum MessageStatus {
    SENT
    DELIVERED
    READ
    FAILED
  }

  enum MessageSenderType {
    USER
    CONTACT
    SYSTEM
  }

  enum MessageChangeKind {
    EDITED
    DELETED
  }

  type Message {
    id: ID!
    conversationId: ID!
    messageType: MessageType!
    "A note between agents, never shown to the contact."
    private: Boolean!
    "Null once deleted."
    content: String
    contentAttributes: JSON!
    senderType: MessageSenderType!
    senderUser: User
    senderContact: Contact
    "The message this one quotes (of the same conversation)."
    replyTo: Message
    status: MessageStatus!
    "The message's id in the channel it came from."
    sourceId: String
    attachments: [MessageAttachment!]!
    editedAt: DateTime
    deletedAt: DateTime
    createdAt: DateTime!
    "Edits and the deletion, oldest first, with the content before each."
    changes: [MessageChange!]!
  }

  type MessageAttachment {
    id: ID!
    fileName: String!
    contentType: String!
    byteSize: Int!
    "A download URL when the storage offers one (null for the local-disk storage: use dataBase64)."
    url: String
    "The file's bytes, base64 (read from the storage when asked for)."
    dataBase64: String
  }

  type MessageChange {
    kind: MessageChangeKind!
    previousContent: String
    changedBy: User
    createdAt: DateTime!
  }

  type MessageEdge {
    cursor: String!
    node: Message!
  }

  type MessageConnection {
    edges: [MessageEdge!]!
    pageInfo: PageInfo!
    totalCount: Int!
  }

  input AttachmentInput {
    "1 to 255 characters, no slashes."
    fileName: String!
    "A media type such as image/png."
    contentType: String!
    "The file's bytes in base64 (5 MB decoded at most by default)."
    dataBase64: String!
  }

  input SendMessageInput {
    conversationId: ID!
    "At most 150,000 characters."
    content: String
    "A note for agents only (inbox conversations)."
    private: Boolean
    "A message of the same conversation this one quotes."
    replyToId: ID
    "Your id for the message: sending it again with the same sourceId answers the first message."
    sourceId: String
    "At most 15."
    attachments: [AttachmentInput!]
  }

  input ReceiveMessageInput {
    contactInboxId: ID!
    content: String
    "The channel's id for the message: deliveries of the same sourceId make one message."
    sourceId: String
    attachments: [AttachmentInput!]
  }

  extend type Query {
    """
    A conversation's messages, newest first (default 50 at a time): pass pageInfo.endCursor as
    before for older ones. NOT_FOUND when you may not read the conversation.
    """
    messages(conversationId: ID!, first: Int, before: String): MessageConnection!
  }

  extend type Mutation {
    """
    Writes into a conversation you may write to. More than 20 messages a minute: RATE_LIMITED.
    The same sourceId again answers the first message without writing anything.
    """
    sendMessage(input: SendMessageInput!): Message!
    "Changes a message you wrote (the content before is kept in changes)."
    editMessage(id: ID!, content: String!): Message!
    "Deletes a message you wrote: its content and attachments go, the message stays as deleted."
    deleteMessage(id: ID!): Message!
    """
    A bridge (API channel) delivers a contact's message: it goes to the contact's open conversation,
    reopens a resolved one, or starts one (see the inbox's settings). Needs messenger.inbox.manage.
    """
    receiveMessage(input: ReceiveMessageInput!): Message!
  }
`;
