/** The kernel's identity, tenancy and access API. */
export const tenancyTypeDefs = /* GraphQL */ `
  enum SystemRole {
    "Everything in the company, the plan and ownership included."
    OWNER
    "Everything in the company but the plan and ownership."
    ADMIN
    "Only what the member's custom roles grant, in the member's branches."
    MEMBER
  }

  type User {
    id: ID!
    "Null when you may not see it (permission core.user.readContact)."
    email: String
    displayName: String!
    systemRole: SystemRole!
    active: Boolean!
    roles: [Role!]!
    branches: [Branch!]!
    createdAt: DateTime!
  }

  type UserEdge {
    cursor: String!
    node: User!
  }

  type UserConnection {
    edges: [UserEdge!]!
    pageInfo: PageInfo!
    totalCount: Int!
  }

  type AuthPayload {
    "A short-lived JWT: send it as authorization: Bearer <token>."
    accessToken: String!
    "Single use: refreshSession spends it and answers a new one."
    refreshToken: String!
    user: User!
  }

  type PlanLimits {
    maxUsers: Int
    maxBranches: Int
  }

  type Plan {
    id: ID!
    code: String!
    name: String!
    modules: [String!]!
    limits: PlanLimits!
  }

  type CompanyModule {
    name: String!
    enabled: Boolean!
  }

  type Company {
    id: ID!
    name: String!
    plan: Plan!
    "Every installed module and whether it is on for this company."
    modules: [CompanyModule!]!
    createdAt: DateTime!
  }

  type Branch {
    id: ID!
    name: String!
    createdAt: DateTime!
  }

  type Role {
    id: ID!
    name: String!
    permissions: [String!]!
  }

  type PermissionDefinition {
    key: String!
    module: String!
    description: String!
    subject: String!
    actions: [String!]!
    branchScoped: Boolean!
  }

  type ApiKey {
    id: ID!
    name: String!
    permissions: [String!]!
    createdAt: DateTime!
    lastUsedAt: DateTime
  }

  type CreatedApiKey {
    apiKey: ApiKey!
    "Shown once: send it as authorization: ApiKey <key>."
    key: String!
  }

  input SignUpInput {
    companyName: String!
    email: String!
    password: String!
    displayName: String!
  }

  input LoginInput {
    email: String!
    password: String!
  }

  input CreateBranchInput {
    name: String!
  }

  input UpdateBranchInput {
    name: String!
  }

  input CreateUserInput {
    email: String!
    password: String!
    displayName: String!
    systemRole: SystemRole!
    roleIds: [ID!]
    branchIds: [ID!]
  }

  input UpdateUserInput {
    displayName: String
    systemRole: SystemRole
    roleIds: [ID!]
    branchIds: [ID!]
  }

  input CreateRoleInput {
    name: String!
    permissions: [String!]!
  }

  input UpdateRoleInput {
    name: String
    permissions: [String!]
  }

  input PlanLimitsInput {
    maxUsers: Int
    maxBranches: Int
  }

  input CreatePlanInput {
    code: String!
    name: String!
    modules: [String!]!
    limits: PlanLimitsInput
  }

  input UpdatePlanInput {
    name: String
    modules: [String!]
    limits: PlanLimitsInput
  }

  input CreateApiKeyInput {
    name: String!
    permissions: [String!]!
  }

  input UserFilter {
    "Matches the display name (and the e-mail address, for those who may see it)."
    search: String
    email: String
    systemRole: SystemRole
    active: Boolean
    branchId: ID
  }

  enum UserOrderField {
    CREATED_AT
    DISPLAY_NAME
    EMAIL
  }

  enum OrderDirection {
    ASC
    DESC
  }

  input UserOrder {
    field: UserOrderField!
    direction: OrderDirection!
  }

  extend type Query {
    "The signed-in user."
    me: User!
    "The signed-in user's company."
    company: Company!
    "The company's branches (a MEMBER sees its own)."
    branches: [Branch!]!
    users(first: Int, after: String, filter: UserFilter, orderBy: UserOrder): UserConnection!
    user(id: ID!): User
    roles: [Role!]!
    "Every permission key of the installed modules."
    permissionCatalog: [PermissionDefinition!]!
    apiKeys: [ApiKey!]!
    "Platform operator (x-atrium-platform-key): every plan."
    plans: [Plan!]!
  }

  extend type Mutation {
    signUp(input: SignUpInput!): AuthPayload!
    login(input: LoginInput!): AuthPayload!
    refreshSession(refreshToken: String!): AuthPayload!
    logout(refreshToken: String!): Boolean!
    createBranch(input: CreateBranchInput!): Branch!
    updateBranch(id: ID!, input: UpdateBranchInput!): Branch!
    createUser(input: CreateUserInput!): User!
    updateUser(id: ID!, input: UpdateUserInput!): User!
    deactivateUser(id: ID!): User!
    "OWNER only: hands ownership to another active user; the previous owner becomes ADMIN."
    transferOwnership(userId: ID!): User!
    createRole(input: CreateRoleInput!): Role!
    updateRole(id: ID!, input: UpdateRoleInput!): Role!
    deleteRole(id: ID!): Boolean!
    createApiKey(input: CreateApiKeyInput!): CreatedApiKey!
    revokeApiKey(id: ID!): Boolean!
    "Platform operator: a new plan."
    createPlan(input: CreatePlanInput!): Plan!
    "Platform operator: changes a plan (its companies follow at once)."
    updatePlan(code: String!, input: UpdatePlanInput!): Plan!
    "Platform operator: moves a company to another plan."
    setCompanyPlan(companyId: ID!, planCode: String!): Company!
    "Platform operator: switches one module on or off for one company, over its plan (null: follow the plan)."
    setCompanyModule(companyId: ID!, module: String!, enabled: Boolean): Company!
  }
`;
