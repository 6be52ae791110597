import { createdAt, defineEntity, money, p, primaryId, type InferEntity } from '@atrium/core';

/**
 * A product of the company's catalog. Not branch-scoped: every branch sells from one catalog. Other
 * modules (agent sales, construction) reference products by id; `active: false` retires a product
 * without breaking those references.
 */
export const Product = defineEntity({
  name: 'Product',
  tableName: 'crm_product',
  // The queries each index serves are named in the migration.
  indexes: [
    { name: 'crm_product_company_name_id_idx', properties: ['companyId', 'name', 'id'] },
    { name: 'crm_product_company_name_prefix_idx', expression: 'create index crm_product_company_name_prefix_idx on crm_product (company_id, lower(name) text_pattern_ops)' },
    { name: 'crm_product_category_id_idx', properties: ['categoryId', 'name', 'id'] },
  ],
  uniques: [
    { name: 'crm_product_company_sku_key', expression: 'create unique index crm_product_company_sku_key on crm_product (company_id, lower(sku) text_pattern_ops)' },
  ],
  properties: {
    id: primaryId(),
    companyId: p.uuid(),
    name: p.string().length(200),
    /** `lower(name)`: products(filter: { search }) matches its prefix through an index on the same expression. */
    nameKey: p.string().formula((columns) => `lower(${columns.name})`).lazy().hidden(),
    /** Stock-keeping unit, unique per company whatever its case (index on lower(sku)). */
    sku: p.string().length(64),
    /** `lower(sku)`: what the unique index compares and what the search matches as a prefix. */
    skuKey: p.string().formula((columns) => `lower(${columns.sku})`).lazy().hidden(),
    /** The unit the price is for: "pcs", "kg", "m2"… */
    unit: p.string().length(20),
    price: money(),
    categoryId: p.uuid().nullable(),
    active: p.boolean().default(true),
    createdAt: createdAt(),
    updatedAt: p.datetime().defaultRaw('now()').onCreate(() => new Date()).onUpdate(() => new Date()),
  },
});
export type Product = InferEntity<typeof Product>;

/** A node of the company's product category tree (`parentId` null at the top). */
export const ProductCategory = defineEntity({
  name: 'ProductCategory',
  tableName: 'crm_product_category',
  indexes: [
    { name: 'crm_product_category_company_name_idx', properties: ['companyId', 'name', 'id'] },
    { name: 'crm_product_category_parent_idx', properties: ['parentId'] },
  ],
  properties: {
    id: primaryId(),
    companyId: p.uuid(),
    name: p.string().length(200),
    parentId: p.uuid().nullable(),
    createdAt: createdAt(),
  },
});
export type ProductCategory = InferEntity<typeof ProductCategory>;
