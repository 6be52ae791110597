/** Pipelines and their stages, deals, the board, and its live updates. */
export const dealTypeDefs = /* GraphQL */ `
  "A sales pipeline: the ordered stages deals move through. Every company starts with one (Sales)."
  type Pipeline {
    id: ID!
    name: String!
    "The pipeline's stages, in order."
    stages: [PipelineStage!]!
    createdAt: DateTime!
  }

  type PipelineStage {
    id: ID!
    name: String!
    "0-based place of the stage in its pipeline."
    position: Int!
    "Chance (0 to 100 %) that a deal in this stage is won."
    probability: Int
  }

  enum DealStatus {
    OPEN
    WON
    LOST
  }

  "A possible sale, moving through a pipeline's stages until it is won or lost."
  type Deal {
    id: ID!
    title: String!
    "Null when there is none, or when you may not see it."
    contact: Contact
    owner: User
    branch: Branch
    pipeline: Pipeline!
    "The stage the deal is in (a closed deal stays in the stage it was closed in)."
    stage: PipelineStage!
    amount: Decimal!
    "ISO 4217 code, e.g. USD."
    currency: String!
    status: DealStatus!
    "Why the deal was lost (LOST deals only)."
    lostReason: String
    "A calendar day, YYYY-MM-DD."
    expectedCloseDate: String
    "When the deal was won or lost."
    closedAt: DateTime
    createdAt: DateTime!
    updatedAt: DateTime!
    "Every stage the deal entered, oldest first; the first entry is its creation."
    history: [DealStageChange!]!
  }

  "A deal entering a stage."
  type DealStageChange {
    id: ID!
    "Null for the deal's creation."
    fromStage: PipelineStage
    toStage: PipelineStage!
    "Null when an API key made the change."
    changedBy: User
    changedAt: DateTime!
  }

  type DealEdge {
    cursor: String!
    node: Deal!
  }

  type DealConnection {
    edges: [DealEdge!]!
    pageInfo: PageInfo!
    totalCount: Int!
  }

  input DealFilter {
    pipelineId: ID
    stageId: ID
    status: DealStatus
    contactId: ID
    ownerId: ID
    branchId: ID
    "Part of the title, whatever its case."
    search: String
  }

  "A pipeline's deals grouped by stage, as a kanban board shows them."
  type PipelineBoard {
    pipeline: Pipeline!
    "One column per stage, in the stages' order."
    columns: [PipelineBoardColumn!]!
  }

  type PipelineBoardColumn {
    stage: PipelineStage!
    "The newest deals of the stage you may see (at most dealsPerStage)."
    deals: [Deal!]!
    "Every deal of the stage you may see, not only those listed."
    totalCount: Int!
    "The sum of their amounts, whatever their currencies (see totals when they differ)."
    totalAmount: Decimal!
    "The count and sum of their amounts per currency."
    totals: [DealTotal!]!
  }

  type DealTotal {
    currency: String!
    amount: Decimal!
    count: Int!
  }

  input PipelineStageInput {
    "A stage of the pipeline to keep (updatePipeline); leave out for a new stage."
    id: ID
    "Unique within the pipeline, whatever its case."
    name: String!
    "0 to 100. When updating a kept stage, leaving it out keeps its probability."
    probability: Int
  }

  input CreatePipelineInput {
    "Unique in the company, whatever its case."
    name: String!
    "At least one; in order."
    stages: [PipelineStageInput!]!
  }

  input UpdatePipelineInput {
    name: String
    "The whole new list of stages, in order: stages with an id are kept (renamed, reordered), those without are added, those left out are removed — a stage holding deals cannot be (CONFLICT)."
    stages: [PipelineStageInput!]
  }

  input CreateDealInput {
    title: String!
    pipelineId: ID!
    "A stage of the pipeline; defaults to its first."
    stageId: ID
    "A contact you can see."
    contactId: ID
    "Defaults to you."
    ownerId: ID
    "Defaults to 0."
    amount: Decimal
    "Defaults to USD."
    currency: String
    "YYYY-MM-DD."
    expectedCloseDate: String
    "Defaults to the contact's branch, else your first branch."
    branchId: ID
  }

  "Fields left out stay as they are; null clears contact, owner and expectedCloseDate. The stage changes with moveDeal, the status with winDeal, loseDeal and reopenDeal."
  input UpdateDealInput {
    title: String
    contactId: ID
    ownerId: ID
    amount: Decimal
    currency: String
    expectedCloseDate: String
    branchId: ID
  }

  extend type Query {
    "The company's pipelines, oldest first."
    pipelines: [Pipeline!]!
    pipeline(id: ID!): Pipeline
    "A deal; null when it does not exist or you may not see it."
    deal(id: ID!): Deal
    "The deals you may see, newest first."
    deals(first: Int, after: String, filter: DealFilter): DealConnection!
    "A pipeline's deals by stage (the OPEN ones unless status says otherwise), dealsPerStage (default 20, at most 100) per column; null when there is no such pipeline."
    pipelineBoard(pipelineId: ID!, dealsPerStage: Int, status: DealStatus): PipelineBoard
  }

  extend type Mutation {
    createPipeline(input: CreatePipelineInput!): Pipeline!
    updatePipeline(id: ID!, input: UpdatePipelineInput!): Pipeline!
    "Emits crm.deal.created."
    createDeal(input: CreateDealInput!): Deal!
    updateDeal(id: ID!, input: UpdateDealInput!): Deal!
    "Moves an open deal to another stage of its pipeline, recorded in its history; emits crm.deal.stageChanged."
    moveDeal(id: ID!, stageId: ID!): Deal!
    "Emits crm.deal.won."
    winDeal(id: ID!): Deal!
    "Emits crm.deal.lost."
    loseDeal(id: ID!, reason: String): Deal!
    "Opens a won or lost deal again, in the stage it was closed in."
    reopenDeal(id: ID!): Deal!
  }

  extend type Subscription {
    "Every deal of the pipeline that is created, edited, moved, won, lost or reopened — those you may see."
    dealUpdated(pipelineId: ID!): Deal!
  }
`;
