/** Agents' carts, checkout with FIFO allocation, sales and refunds. */
export const saleTypeDefs = /* GraphQL */ `
  enum AgentCartStatus {
    OPEN
    CHECKED_OUT
  }

  enum AgentSaleStatus {
    COMPLETED
    PARTIALLY_REFUNDED
    REFUNDED
  }

  "An agent's cart; an agent may keep several open (the oldest is the default)."
  type AgentCart {
    id: ID!
    status: AgentCartStatus!
    lines: [AgentCartLine!]!
    total: Decimal!
    createdAt: DateTime!
    checkedOutAt: DateTime
    sale: AgentSale
  }

  type AgentCartLine {
    id: ID!
    product: Product
    productId: ID!
    quantity: Int!
    unitPrice: Decimal!
    "An amount off the line."
    discount: Decimal!
    "unitPrice × quantity − discount."
    total: Decimal!
  }

  type AgentSale {
    id: ID!
    agent: User
    agentId: ID!
    customer: Contact
    idempotencyKey: String!
    total: Decimal!
    status: AgentSaleStatus!
    createdAt: DateTime!
    lines: [AgentSaleLine!]!
    "Every unit's source: by line, then in the order taken (FIFO)."
    allocations: [AgentAllocation!]!
    refunds: [AgentRefund!]!
  }

  type AgentSaleLine {
    id: ID!
    product: Product
    productId: ID!
    quantity: Int!
    unitPrice: Decimal!
    discount: Decimal!
    total: Decimal!
    refundedQuantity: Int!
    allocations: [AgentAllocation!]!
  }

  "Units of a sale line taken from one transfer line (FIFO layer)."
  type AgentAllocation {
    id: ID!
    saleLineId: ID!
    transferLine: AgentTransferLine
    quantity: Int!
  }

  type AgentRefund {
    id: ID!
    total: Decimal!
    createdBy: User
    createdAt: DateTime!
    lines: [AgentRefundLine!]!
  }

  type AgentRefundLine {
    id: ID!
    saleLineId: ID!
    quantity: Int!
    amount: Decimal!
  }

  type AgentSaleEdge {
    cursor: String!
    node: AgentSale!
  }

  type AgentSaleConnection {
    edges: [AgentSaleEdge!]!
    pageInfo: PageInfo!
    totalCount: Int!
  }

  input AgentSaleFilter {
    agentId: ID
  }

  input AddToAgentCartInput {
    "Left out: the default cart (your oldest open one, opened if you have none)."
    cartId: ID
    productId: ID!
    "Whole units, at least 1."
    quantity: Int!
    "Left out: the product's price."
    unitPrice: Decimal
    "An amount off the line, at most its worth. Default 0."
    discount: Decimal
  }

  input CheckoutAgentCartInput {
    "Chosen by the client per checkout: a repeat answers the first sale; reused for another cart or customer: CONFLICT."
    idempotencyKey: String!
    "Left out: the default cart."
    cartId: ID
    "A CRM contact you can see."
    customerId: ID
  }

  input RefundAgentSaleLineInput {
    saleLineId: ID!
    quantity: Int!
  }

  extend type Query {
    "One of your carts; null otherwise."
    agentCart(id: ID!): AgentCart
    "Your open carts, the default (oldest) first."
    agentCarts: [AgentCart!]!
    "A sale; null when it does not exist or you may not see it (an agent sees their own)."
    agentSale(id: ID!): AgentSale
    "Sales newest first (an agent sees their own)."
    agentSales(first: Int, after: String, filter: AgentSaleFilter): AgentSaleConnection!
  }

  extend type Mutation {
    "Opens another cart beside your others."
    openAgentCart: AgentCart!
    "Adds a line to one of your open carts; stock is checked at checkout."
    addToAgentCart(input: AddToAgentCartInput!): AgentCart!
    "Takes a line out of an open cart; answers the cart."
    removeFromAgentCart(lineId: ID!): AgentCart!
    "Sells a cart from your own stock, FIFO; INSUFFICIENT_STOCK (extensions.shortfalls) writes nothing."
    checkoutAgentCart(input: CheckoutAgentCartInput!): AgentSale!
    "Refunds a sale whole (lines left out) or some units of its lines, back to the transfer lines they came from."
    refundAgentSale(id: ID!, lines: [RefundAgentSaleLineInput!]): AgentSale!
  }
`;
