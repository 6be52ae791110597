/** Team rooms and the chats of other modules' records. */
export const roomTypeDefs = /* GraphQL */ `
  input CreateRoomInput {
    "A room the app declares (defineMessenger({ rooms })): its members hold messenger.room.<name>."
    name: String!
    "What people see, 1 to 200 characters."
    title: String!
  }

  extend type Conversation {
    "RECORD: the users who may read and write the chat (admins aside); empty for other kinds."
    participants: [User!]!
  }

  extend type Query {
    "The rooms you may enter (admins: all), most recently active first. Their history: messages(conversationId, first, before)."
    rooms: [Conversation!]!
    "The chat of another module's record (e.g. construction.workOrder and its id); null when it has none or you are not in it."
    recordChat(subjectType: String!, subjectId: ID!): Conversation
  }

  extend type Mutation {
    "Opens your company's room of a declared name (one per name: a second is CONFLICT). Needs messenger.inbox.manage."
    createRoom(input: CreateRoomInput!): Conversation!
  }
`;
