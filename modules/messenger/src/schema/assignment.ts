/** Assignment, availability, typing, read receipts and unread counts, teams. */
export const assignmentTypeDefs = /* GraphQL */ `
  "An agent's availability. Only ONLINE agents are auto-assigned; BUSY ones are reachable but get no new conversations."
  enum Availability {
    ONLINE
    BUSY
    OFFLINE
  }

  type AgentAvailability {
    user: User!
    availability: Availability!
  }

  "The caller's unread messages in one inbox."
  type InboxUnreadCount {
    inbox: Inbox!
    "Unread messages in the inbox's conversations that are not RESOLVED."
    messages: Int!
    "How many of those conversations have an unread message."
    conversations: Int!
  }

  "A team of agents conversations can be handed to."
  type MessengerTeam {
    id: ID!
    name: String!
    members: [User!]!
    createdAt: DateTime!
  }

  input CreateTeamInput {
    "1 to 100 characters, unique in the company whatever the case."
    name: String!
  }

  extend type Conversation {
    "Messages after your last markConversationRead (activity notices and your own messages aside); null for an API key."
    unreadCount: Int
  }

  extend type Inbox {
    "Unread messages in the inbox's unresolved conversations for you; null for an API key or an inbox whose conversations you cannot read."
    unreadCount: Int
  }

  extend type Query {
    "The availability of the given users of your company (ids of others are left out)."
    agentAvailability(userIds: [ID!]!): [AgentAvailability!]!
    "Your unread messages per inbox whose conversations you read (by inbox name); empty for an API key."
    inboxUnreadCounts: [InboxUnreadCount!]!
    "The company's teams, by name."
    teams: [MessengerTeam!]!
  }

  extend type Mutation {
    """
    Gives an inbox conversation to an agent who is a member of its inbox (null unassigns). Records an
    ASSIGNEE_CHANGED activity message and emits messenger.conversation.assigneeChanged; assigning the
    current assignee again changes nothing. Needs messenger.conversation.assign.
    """
    assignConversation(conversationId: ID!, assigneeId: ID): Conversation!
    "Takes the assignee off a conversation (as assignConversation with a null assignee)."
    unassignConversation(conversationId: ID!): Conversation!
    """
    Sets your availability. It lasts two minutes: repeat it about every minute while you are at work
    (a heartbeat), so that an agent whose app is gone drops to OFFLINE by itself.
    """
    setAvailability(status: Availability!): Availability!
    "Tells the conversation's subscribers you started (true) or stopped (false) typing; nothing is stored. \`private\`: a note for agents, which the contact's widget is not told of."
    setTyping(conversationId: ID!, typing: Boolean!, private: Boolean = false): Boolean!
    """
    Marks the conversation read up to now: your unread count drops to zero, agentLastSeenAt moves, the
    contact's messages turn READ, messenger.conversation.read is emitted. At most one write per 15
    seconds per conversation and user: a mark within that answers the conversation unchanged.
    """
    markConversationRead(conversationId: ID!): Conversation!
    "Needs messenger.inbox.manage."
    createTeam(input: CreateTeamInput!): MessengerTeam!
    "Adds an active user of your company to the team (idempotent). Needs messenger.inbox.manage."
    addTeamMember(teamId: ID!, userId: ID!): MessengerTeam!
    "Needs messenger.inbox.manage."
    removeTeamMember(teamId: ID!, userId: ID!): MessengerTeam!
  }
`;
