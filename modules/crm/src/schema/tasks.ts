/** Tasks, notes, and the contact timeline. */
export const taskTypeDefs = /* GraphQL */ `
  "A to-do, optionally about a contact or a deal. It lives in the branch of the deal (else the contact) it is about."
  type CrmTask {
    id: ID!
    title: String!
    description: String
    "Null when nobody is assigned (or the user is not visible)."
    assignee: User
    dueAt: DateTime
    done: Boolean!
    doneAt: DateTime
    completedBy: User
    "Null when the task is about no contact, or you may not see it."
    contact: Contact
    "Null when the task is about no deal, or you may not see it."
    deal: Deal
    branch: Branch!
    "Null when an API key made the task."
    createdBy: User
    createdAt: DateTime!
    updatedAt: DateTime!
  }

  type CrmTaskEdge {
    cursor: String!
    node: CrmTask!
  }

  type CrmTaskConnection {
    edges: [CrmTaskEdge!]!
    pageInfo: PageInfo!
    totalCount: Int!
  }

  input CrmTaskFilter {
    assigneeId: ID
    "Only tasks assigned to you."
    mine: Boolean
    done: Boolean
    contactId: ID
    dealId: ID
    "Only tasks due before this time (tasks without a due date are left out)."
    dueBefore: DateTime
  }

  enum CrmTaskOrder {
    "Due soonest first, tasks without a due date last (the default)."
    DUE
    "Newest first."
    NEWEST
  }

  input CreateTaskInput {
    title: String!
    description: String
    "An active user of your company; emits crm.task.assigned."
    assigneeId: ID
    dueAt: DateTime
    contactId: ID
    dealId: ID
    "Only for a task about no contact or deal (it otherwise takes their branch); defaults to your first branch."
    branchId: ID
  }

  "Fields left out stay as they are; null clears a field."
  input UpdateTaskInput {
    title: String
    description: String
    "A new assignee emits crm.task.assigned."
    assigneeId: ID
    dueAt: DateTime
    contactId: ID
    dealId: ID
    branchId: ID
  }

  "A note on one contact or one deal; readable by whoever can read the record."
  type CrmNote {
    id: ID!
    body: String!
    "Null when an API key wrote the note."
    author: User
    contact: Contact
    deal: Deal
    createdAt: DateTime!
    updatedAt: DateTime!
  }

  type CrmNoteEdge {
    cursor: String!
    node: CrmNote!
  }

  type CrmNoteConnection {
    edges: [CrmNoteEdge!]!
    pageInfo: PageInfo!
    totalCount: Int!
  }

  "Give exactly one of contactId and dealId."
  input CreateNoteInput {
    "1 to 10000 characters."
    body: String!
    contactId: ID
    dealId: ID
  }

  input UpdateNoteInput {
    body: String!
  }

  "One entry of a contact's timeline: a note, a task, a deal move, or a record another module attached."
  type ContactActivity {
    id: ID!
    "What happened, namespaced by module: crm.note.added, crm.task.created, crm.task.completed, crm.deal.stageChanged…"
    kind: String!
    title: String!
    "The record the entry is about (e.g. CrmTask), for links."
    subjectType: String
    subjectId: ID
    "Who did it, when a user did."
    actor: User
    data: JSON!
    occurredAt: DateTime!
  }

  type ContactActivityEdge {
    cursor: String!
    node: ContactActivity!
  }

  type ContactActivityConnection {
    edges: [ContactActivityEdge!]!
    pageInfo: PageInfo!
    totalCount: Int!
  }

  extend type Contact {
    "What happened with the contact, newest first (only entries of the given kinds, when given)."
    timeline(first: Int, after: String, kinds: [String!]): ContactActivityConnection!
    "The contact's open tasks, due soonest first; null without crm.task.read."
    tasks: [CrmTask!]
  }

  extend type Query {
    "A task; null when it does not exist or you may not see it."
    task(id: ID!): CrmTask
    tasks(first: Int, after: String, filter: CrmTaskFilter, orderBy: CrmTaskOrder): CrmTaskConnection!
    "The notes of one contact or one deal (give exactly one), newest first."
    notes(first: Int, after: String, contactId: ID, dealId: ID): CrmNoteConnection!
  }

  extend type Mutation {
    createTask(input: CreateTaskInput!): CrmTask!
    updateTask(id: ID!, input: UpdateTaskInput!): CrmTask!
    "Marks the task done and emits crm.task.completed. Idempotent: a done task is answered unchanged, with no event."
    completeTask(id: ID!): CrmTask!
    "Opens a done task again (idempotent)."
    reopenTask(id: ID!): CrmTask!
    "Writes a note on a contact or deal you can see; needs crm.note.create in its branch."
    createNote(input: CreateNoteInput!): CrmNote!
    "Only the author changes a note."
    updateNote(id: ID!, input: UpdateNoteInput!): CrmNote!
    "Only the author deletes a note (its timeline entry goes with it). Answers the note's id."
    deleteNote(id: ID!): ID!
  }
`;
