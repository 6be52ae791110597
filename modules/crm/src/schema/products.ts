/** The product catalog and its category tree. */
export const productTypeDefs = /* GraphQL */ `
  "A product of the company's catalog; other modules (sales, construction) reference it by id."
  type Product {
    id: ID!
    name: String!
    "Stock-keeping unit; unique in the company whatever its case."
    sku: String!
    "The unit the price is for, e.g. pcs, kg, m2."
    unit: String!
    price: Decimal!
    "Inactive products stay readable (past sales refer to them) but are not meant for new ones."
    active: Boolean!
    category: ProductCategory
    createdAt: DateTime!
    updatedAt: DateTime!
  }

  type ProductEdge {
    cursor: String!
    node: Product!
  }

  type ProductConnection {
    edges: [ProductEdge!]!
    pageInfo: PageInfo!
    totalCount: Int!
  }

  "A node of the company's product category tree."
  type ProductCategory {
    id: ID!
    name: String!
    "Null at the top of the tree."
    parentId: ID
    parent: ProductCategory
    "The direct subcategories, by name."
    children: [ProductCategory!]!
    "The ancestors from the top of the tree down to this category, itself last (for breadcrumbs)."
    path: [ProductCategory!]!
    createdAt: DateTime!
  }

  input ProductFilter {
    "Matched, whatever its case, as the beginning of the name or of the SKU."
    search: String
    categoryId: ID
    "With categoryId: also the products of its subcategories, at any depth."
    includeSubcategories: Boolean
    active: Boolean
  }

  input CreateProductInput {
    name: String!
    "Letters, digits and - _ . / (at most 64)."
    sku: String!
    "At most two decimal places, not negative."
    price: Decimal!
    unit: String!
    categoryId: ID
    "Default true."
    active: Boolean
  }

  "Fields left out stay as they are; categoryId: null takes the product out of its category."
  input UpdateProductInput {
    name: String
    sku: String
    price: Decimal
    unit: String
    categoryId: ID
    active: Boolean
  }

  input CreateProductCategoryInput {
    name: String!
    "The category to nest it under; left out or null: at the top."
    parentId: ID
  }

  "Fields left out stay as they are; parentId: null moves the category to the top."
  input UpdateProductCategoryInput {
    name: String
    "Not the category itself nor one of its subcategories."
    parentId: ID
  }

  extend type Query {
    "A product; null when it does not exist or you may not see it."
    product(id: ID!): Product
    "The catalog by name."
    products(first: Int, after: String, filter: ProductFilter): ProductConnection!
    "Every category of the company, flat and by name (build the tree from parentId)."
    productCategories: [ProductCategory!]!
  }

  extend type Mutation {
    createProduct(input: CreateProductInput!): Product!
    updateProduct(id: ID!, input: UpdateProductInput!): Product!
    createProductCategory(input: CreateProductCategoryInput!): ProductCategory!
    updateProductCategory(id: ID!, input: UpdateProductCategoryInput!): ProductCategory!
    "Deletes an empty category (CONFLICT while it has subcategories or products); answers its id."
    deleteProductCategory(id: ID!): ID!
  }
`;
