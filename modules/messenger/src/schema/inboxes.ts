/** Inboxes, their agents, contacts' addresses in them. */
export const inboxTypeDefs = /* GraphQL */ `
  "How contacts reach an inbox: API (bridges push messages in with receiveMessage) or WEB_WIDGET."
  enum InboxChannel {
    API
    WEB_WIDGET
  }

  "Opening hours of one weekday (0 = Sunday … 6 = Saturday), HH:MM in the inbox's time zone."
  type WorkingDay {
    day: Int!
    open: String!
    close: String!
  }

  input WorkingDayInput {
    day: Int!
    open: String!
    close: String!
  }

  "Where conversations with contacts arrive; its members are the agents who answer it."
  type Inbox {
    id: ID!
    name: String!
    channel: InboxChannel!
    branch: Branch!
    "The widget's public key (widgetStartSession); shown to inbox managers only."
    token: String
    "New OPEN conversations go to the next online member (round robin)."
    autoAssign: Boolean!
    "Open conversations an agent may hold before auto-assignment skips them (null: no cap)."
    maxOpenPerAgent: Int
    "Auto-assignments per agent per assignmentWindowSeconds."
    assignmentLimit: Int!
    assignmentWindowSeconds: Int!
    "Null: always open."
    workingHours: [WorkingDay!]
    "IANA time zone of the working hours."
    timezone: String!
    "Sent to a contact's first unanswered message outside working hours."
    outOfOfficeMessage: String
    "A contact has one unresolved conversation in the inbox: its messages and new conversations go to it."
    lockToSingleConversation: Boolean!
    "When false, a message after a conversation was resolved starts a new conversation instead of reopening it."
    allowMessagesAfterResolved: Boolean!
    "The agents, longest-standing first."
    members: [InboxMember!]!
    createdAt: DateTime!
  }

  type InboxMember {
    user: User!
    createdAt: DateTime!
  }

  "A contact's address in an inbox (sourceId: e.g. a phone number on a bridged channel)."
  type ContactInbox {
    id: ID!
    inbox: Inbox!
    contact: Contact
    sourceId: String!
    createdAt: DateTime!
  }

  input CreateInboxInput {
    "1 to 100 characters, unique in the company whatever the case."
    name: String!
    channel: InboxChannel!
    "Defaults to your first branch."
    branchId: ID
    autoAssign: Boolean
    maxOpenPerAgent: Int
    assignmentLimit: Int
    assignmentWindowSeconds: Int
    workingHours: [WorkingDayInput!]
    timezone: String
    outOfOfficeMessage: String
    lockToSingleConversation: Boolean
    allowMessagesAfterResolved: Boolean
  }

  "Fields left out stay as they are."
  input UpdateInboxInput {
    name: String
    branchId: ID
    autoAssign: Boolean
    maxOpenPerAgent: Int
    assignmentLimit: Int
    assignmentWindowSeconds: Int
    workingHours: [WorkingDayInput!]
    timezone: String
    outOfOfficeMessage: String
    lockToSingleConversation: Boolean
    allowMessagesAfterResolved: Boolean
  }

  input CreateContactInboxInput {
    inboxId: ID!
    contactId: ID!
    "The contact's address in the channel; unique in the inbox."
    sourceId: String!
  }

  extend type Query {
    "Inboxes you answer (all of them for admins and inbox managers), by name."
    inboxes: [Inbox!]!
    inbox(id: ID!): Inbox
  }

  extend type Mutation {
    "Needs messenger.inbox.manage."
    createInbox(input: CreateInboxInput!): Inbox!
    "Needs messenger.inbox.manage."
    updateInbox(id: ID!, input: UpdateInboxInput!): Inbox!
    "Makes an active user of your company an agent of the inbox (idempotent). Needs messenger.inbox.manage."
    addInboxMember(inboxId: ID!, userId: ID!): Inbox!
    "Needs messenger.inbox.manage."
    removeInboxMember(inboxId: ID!, userId: ID!): Inbox!
    "A bridge registers a contact's address in an inbox (the same contact again: the existing one). Needs messenger.inbox.manage."
    createContactInbox(input: CreateContactInboxInput!): ContactInbox!
  }
`;
