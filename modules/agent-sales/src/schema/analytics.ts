/** Per agent and period: flows, sales and what is left, computed in SQL. */
export const analyticsTypeDefs = /* GraphQL */ `
  "What moved per product in the period, and what the agent held at its end."
  type AgentProductFlow {
    product: Product
    productId: ID!
    "Sent to the agent (by send time)."
    transferred: Int!
    accepted: Int!
    returned: Int!
    sold: Int!
    refunded: Int!
    "On hand at the end of the period."
    onHand: Int!
  }

  type AgentProductSales {
    product: Product
    productId: ID!
    quantity: Int!
    "Before refunds."
    revenue: Decimal!
  }

  type AgentDaySales {
    "A UTC day, YYYY-MM-DD."
    day: String!
    sales: Int!
    quantity: Int!
    revenue: Decimal!
  }

  "A transfer with movement in the period or stock left at its end."
  type AgentTransferBalance {
    transfer: AgentTransfer
    transferId: ID!
    transferred: Int!
    accepted: Int!
    returned: Int!
    sold: Int!
    refunded: Int!
    "At the end of the period."
    remaining: Int!
  }

  "One agent over [from, to)."
  type AgentAnalytics {
    agent: User
    from: DateTime!
    to: DateTime!
    products: [AgentProductFlow!]!
    salesByProduct: [AgentProductSales!]!
    salesByDay: [AgentDaySales!]!
    "Best-selling products by revenue (1 to 100, default 5)."
    topProducts(limit: Int): [AgentProductSales!]!
    transfers: [AgentTransferBalance!]!
  }

  extend type Query {
    "An agent's figures over [from, to) (agentSales.analytics.read, or the agent themself)."
    agentAnalytics(agentId: ID!, from: DateTime!, to: DateTime!): AgentAnalytics!
  }
`;
