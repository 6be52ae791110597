/** Contacts, the company's CRM settings, and the contact timeline. */
export const contactTypeDefs = /* GraphQL */ `
  enum ContactKind {
    PERSON
    ORGANIZATION
  }

  "A person or organisation the company deals with."
  type Contact {
    id: ID!
    kind: ContactKind!
    name: String!
    "Lower-cased addresses, the primary one first."
    emails: [String!]!
    "E.164 numbers, the primary one first."
    phones: [String!]!
    "An id of the contact in another system; unique in the company."
    identifier: String
    owner: User
    branch: Branch!
    labels: [String!]!
    blocked: Boolean!
    "Validated against the company's contact attribute schema (see crmSettings)."
    customAttributes: JSON!
    lastActivityAt: DateTime
    "Set while the contact is deleted (it can be restored)."
    deletedAt: DateTime
    "The contact this one was merged into."
    mergedIntoId: ID
    createdAt: DateTime!
    updatedAt: DateTime!
  }

  type ContactEdge {
    cursor: String!
    node: Contact!
  }

  type ContactConnection {
    edges: [ContactEdge!]!
    pageInfo: PageInfo!
    totalCount: Int!
  }

  input ContactFilter {
    "Words matched as prefixes of the name, identifier, e-mail addresses and phone numbers."
    search: String
    "Contacts carrying every one of these labels."
    labels: [String!]
    blocked: Boolean
    branchId: ID
    ownerId: ID
    "List deleted contacts instead of live ones."
    deleted: Boolean
  }

  enum ContactOrder {
    "By name, A to Z (the default)."
    NAME
    "Newest first."
    NEWEST
  }

  input CreateContactInput {
    kind: ContactKind
    name: String!
    emails: [String!]
    phones: [String!]
    identifier: String
    ownerId: ID
    "Defaults to your first branch."
    branchId: ID
    labels: [String!]
    blocked: Boolean
    customAttributes: JSON
  }

  "Fields left out stay as they are; lists and customAttributes are replaced whole."
  input UpdateContactInput {
    kind: ContactKind
    name: String
    emails: [String!]
    phones: [String!]
    identifier: String
    ownerId: ID
    branchId: ID
    labels: [String!]
    blocked: Boolean
    customAttributes: JSON
  }

  input MergeContactsInput {
    "The contact that remains."
    survivorId: ID!
    "The contact merged into the survivor (it is deleted; its references move to the survivor)."
    mergedId: ID!
  }

  "The company's CRM settings."
  type CrmSettings {
    "A JSON schema (draft 7) every contact's customAttributes must satisfy."
    contactAttributeSchema: JSON!
    "ISO 3166 country (e.g. UZ) of phone numbers written without a country code."
    defaultPhoneCountry: String
  }

  input UpdateCrmSettingsInput {
    contactAttributeSchema: JSON
    defaultPhoneCountry: String
  }

  extend type Query {
    "A contact; null when it does not exist or you may not see it. Deleted contacts are returned (see deletedAt)."
    contact(id: ID!): Contact
    contacts(first: Int, after: String, filter: ContactFilter, orderBy: ContactOrder): ContactConnection!
    crmSettings: CrmSettings!
  }

  extend type Mutation {
    createContact(input: CreateContactInput!): Contact!
    updateContact(id: ID!, input: UpdateContactInput!): Contact!
    "Soft-deletes a contact (restoreContact brings it back)."
    deleteContact(id: ID!): Contact!
    restoreContact(id: ID!): Contact!
    "Moves the merged contact's addresses, labels and references to the survivor; emits crm.contact.merged."
    mergeContacts(input: MergeContactsInput!): Contact!
    updateCrmSettings(input: UpdateCrmSettingsInput!): CrmSettings!
  }
`;
