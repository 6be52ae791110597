/** Transfers of goods to agents, their acceptance and returns; agents' stock. */
export const transferTypeDefs = /* GraphQL */ `
  enum AgentTransferStatus {
    DRAFT
    SENT
    ACCEPTED
    PARTIALLY_ACCEPTED
    REJECTED
  }

  "Goods the company hands to one of its agents."
  type AgentTransfer {
    id: ID!
    agent: User
    agentId: ID!
    status: AgentTransferStatus!
    note: String
    rejectReason: String
    createdBy: User
    createdAt: DateTime!
    sentAt: DateTime
    "When the agent accepted or rejected it."
    decidedAt: DateTime
    lines: [AgentTransferLine!]!
  }

  "One product of a transfer; once accepted, a FIFO layer of the agent's stock."
  type AgentTransferLine {
    id: ID!
    transfer: AgentTransfer
    product: Product
    productId: ID!
    quantitySent: Int!
    "Null until the agent decides."
    quantityAccepted: Int
    "Orders the layers the agent sells from, oldest first (then the line id)."
    acceptedAt: DateTime
    "Accepted − returned − sold + refunded."
    remaining: Int!
    returns: [AgentReturn!]!
  }

  type AgentReturn {
    id: ID!
    transferLine: AgentTransferLine
    product: Product
    productId: ID!
    quantity: Int!
    recordedBy: User
    createdAt: DateTime!
  }

  "An agent's on-hand quantity of a product."
  type AgentStock {
    product: Product
    productId: ID!
    quantity: Int!
  }

  enum AgentStockChangeReason {
    TRANSFER_ACCEPTED
    SALE
    REFUND
    RETURN
  }

  "The agent's on-hand quantities, after the change, of the products it touched (0 when sold out)."
  type AgentStockChange {
    agentId: ID!
    reason: AgentStockChangeReason!
    stock: [AgentStock!]!
  }

  type AgentTransferEdge {
    cursor: String!
    node: AgentTransfer!
  }

  type AgentTransferConnection {
    edges: [AgentTransferEdge!]!
    pageInfo: PageInfo!
    totalCount: Int!
  }

  input AgentTransferFilter {
    agentId: ID
    status: AgentTransferStatus
  }

  input AgentTransferLineInput {
    productId: ID!
    "Whole units, at least 1."
    quantity: Int!
  }

  input CreateAgentTransferInput {
    "An active user of the company."
    agentId: ID!
    lines: [AgentTransferLineInput!]!
    note: String
  }

  input AcceptAgentTransferLineInput {
    lineId: ID!
    "0 to the quantity sent."
    quantityAccepted: Int!
  }

  input ReturnFromAgentInput {
    transferLineId: ID!
    "At most the line's remaining."
    quantity: Int!
  }

  extend type Query {
    "A transfer; null when it does not exist or you may not see it (an agent sees their own)."
    agentTransfer(id: ID!): AgentTransfer
    "Transfers newest first (an agent sees their own)."
    agentTransfers(first: Int, after: String, filter: AgentTransferFilter): AgentTransferConnection!
    "What an agent holds now, per product (the agent themself, or the office)."
    agentOnHand(agentId: ID!): [AgentStock!]!
  }

  extend type Mutation {
    "A DRAFT transfer (agentSales.transfer.manage)."
    createAgentTransfer(input: CreateAgentTransferInput!): AgentTransfer!
    "DRAFT → SENT (agentSales.transfer.manage)."
    sendAgentTransfer(id: ID!): AgentTransfer!
    "The agent accepts every line of a SENT transfer: ACCEPTED, or PARTIALLY_ACCEPTED when less than sent."
    acceptAgentTransfer(id: ID!, lines: [AcceptAgentTransferLineInput!]!): AgentTransfer!
    "The agent refuses a SENT transfer."
    rejectAgentTransfer(id: ID!, reason: String): AgentTransfer!
    "Goods back against one transfer line (the office, or the line's agent); never more than its remaining."
    returnFromAgent(input: ReturnFromAgentInput!): AgentReturn!
  }

  extend type Subscription {
    "An agent's on-hand changes, after commit (the agent themself, or the office)."
    agentStockChanged(agentId: ID!): AgentStockChange!
  }
`;
