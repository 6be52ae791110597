/** The module's part of the GraphQL schema: its types and the root fields it adds. */
export const typeDefs = /* GraphQL */ `
  "One signature in the guestbook."
  type GuestbookEntry {
    id: ID!
    author: String!
    message: String!
    createdAt: DateTime!
  }

  type GuestbookEntryEdge {
    cursor: String!
    node: GuestbookEntry!
  }

  type GuestbookEntryConnection {
    edges: [GuestbookEntryEdge!]!
    pageInfo: PageInfo!
    totalCount: Int!
  }

  input SignGuestbookInput {
    author: String!
    message: String!
  }

  extend type Query {
    "Guestbook entries, newest first."
    guestbookEntries(first: Int, after: String): GuestbookEntryConnection!
    guestbookEntry(id: ID!): GuestbookEntry
  }

  extend type Mutation {
    signGuestbook(input: SignGuestbookInput!): GuestbookEntry!
  }

  extend type Subscription {
    "Every new entry, as it is signed."
    guestbookSigned: GuestbookEntry!
  }
`;
