/** Debts of contacts, payments against them, and installment plans. */
export const debtTypeDefs = /* GraphQL */ `
  enum DebtStatus {
    "Something is left to pay and nothing of it is late."
    OPEN
    "Nothing is left to pay."
    PAID
    "Less is paid than has fallen due: the whole amount after the due date, or the installments whose dates have passed."
    OVERDUE
  }

  enum PaymentMethod {
    CASH
    CARD
    TRANSFER
    OTHER
  }

  enum InstallmentStatus {
    PAID
    "Partly paid, and its date has not passed."
    PARTIALLY_PAID
    "Nothing paid yet, and its date has not passed."
    DUE
    "Its date has passed and it is not paid in full."
    OVERDUE
  }

  """
  What a contact owes the company. Dates are calendar days ("2026-03-31"), in UTC: a day has passed
  once it is over in UTC.
  """
  type Debt {
    id: ID!
    "null when you may not see the contact."
    contact: Contact
    "The contact's branch when the debt was recorded; who sees the debt depends on it."
    branch: Branch!
    amount: Decimal!
    "ISO 4217 code; payments are in the same currency."
    currency: String!
    description: String
    "When everything is due (YYYY-MM-DD); with an installment plan, its last installment's date."
    dueDate: String
    "The sum of the payments."
    paid: Decimal!
    "amount - paid."
    balance: Decimal!
    status: DebtStatus!
    "Oldest first."
    payments: [Payment!]!
    "The plan, in date order; payments fill the installments in that order. Empty when there is no plan."
    installments: [Installment!]!
    createdBy: User
    createdAt: DateTime!
  }

  type Payment {
    id: ID!
    debt: Debt!
    amount: Decimal!
    paidAt: DateTime!
    method: PaymentMethod!
    note: String
    recordedBy: User
    createdAt: DateTime!
  }

  "One line of an installment plan."
  type Installment {
    id: ID!
    "YYYY-MM-DD"
    dueDate: String!
    amount: Decimal!
    "What of the debt's payments falls to this installment (they fill the plan in date order)."
    paid: Decimal!
    status: InstallmentStatus!
  }

  type DebtEdge {
    cursor: String!
    node: Debt!
  }

  type DebtConnection {
    edges: [DebtEdge!]!
    pageInfo: PageInfo!
    totalCount: Int!
  }

  input DebtFilter {
    contactId: ID
    status: DebtStatus
  }

  input InstallmentInput {
    "YYYY-MM-DD, later than the previous installment's."
    dueDate: String!
    amount: Decimal!
  }

  input CreateDebtInput {
    contactId: ID!
    "More than 0, at most 2 decimals."
    amount: Decimal!
    "ISO 4217 code in capitals, e.g. USD."
    currency: String!
    description: String
    "YYYY-MM-DD. With installments: left out, or the last installment's date."
    dueDate: String
    "An installment plan; the amounts must add up exactly to the debt's amount."
    installments: [InstallmentInput!]
  }

  input RecordPaymentInput {
    debtId: ID!
    "More than 0 and at most the debt's balance."
    amount: Decimal!
    "Defaults to now; not in the future."
    paidAt: DateTime
    "Defaults to OTHER."
    method: PaymentMethod
    note: String
  }

  input SetInstallmentPlanInput {
    debtId: ID!
    "The new plan, replacing the old one whole (an empty list removes it); the amounts must add up exactly to the debt's amount."
    installments: [InstallmentInput!]!
  }

  type RecordPaymentPayload {
    payment: Payment!
    "The debt with the payment applied."
    debt: Debt!
  }

  extend type Contact {
    "The contact's debts you may see, newest first; null when you may see no debts."
    debts: [Debt!]
  }

  extend type Query {
    "A debt; null when it does not exist or you may not see it."
    debt(id: ID!): Debt
    "Debts, newest first."
    debts(first: Int, after: String, filter: DebtFilter): DebtConnection!
  }

  extend type Mutation {
    "Records a debt of a contact (with an installment plan if given); adds it to the contact's timeline."
    createDebt(input: CreateDebtInput!): Debt!
    "Records a payment; more than the balance is refused (BAD_USER_INPUT on input.amount). Emits crm.payment.recorded."
    recordPayment(input: RecordPaymentInput!): RecordPaymentPayload!
    setInstallmentPlan(input: SetInstallmentPlanInput!): Debt!
  }
`;
