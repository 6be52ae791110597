create table crm_product_category (
  id uuid primary key,
  company_id uuid not null references company (id) on delete cascade,
  name varchar(200) not null,
  -- No cascade: a category with subcategories cannot be deleted (deleteProductCategory answers CONFLICT).
  parent_id uuid references crm_product_category (id),
  created_at timestamptz not null default now()
);

-- productCategories lists a company's categories by name.
create index crm_product_category_company_name_idx on crm_product_category (company_id, name, id);
-- ProductCategory.children (one query per response level), the subcategory walk and the delete check.
create index crm_product_category_parent_idx on crm_product_category (parent_id);

create table crm_product (
  id uuid primary key,
  company_id uuid not null references company (id) on delete cascade,
  name varchar(200) not null,
  sku varchar(64) not null,
  unit varchar(20) not null,
  price numeric(14,2) not null,
  -- No cascade: a category holding products cannot be deleted (deleteProductCategory answers CONFLICT).
  category_id uuid references crm_product_category (id),
  active boolean not null default true,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

-- products pages a company's catalog by name.
create index crm_product_company_name_id_idx on crm_product (company_id, name, id);
-- SKUs are unique per company whatever their case (createProduct/updateProduct answer CONFLICT);
-- text_pattern_ops lets the same index serve products(filter: { search }) as a prefix match on the SKU.
create unique index crm_product_company_sku_key on crm_product (company_id, lower(sku) text_pattern_ops);
-- products(filter: { search }): prefix match on the name, whatever its case.
create index crm_product_company_name_prefix_idx on crm_product (company_id, lower(name) text_pattern_ops);
-- products(filter: { categoryId }) and the delete check of a category.
create index crm_product_category_id_idx on crm_product (category_id, name, id);

-- Defence in depth behind the ORM's tenant filter (see docs/access-control.md).
select atrium_enable_tenant_rls('crm_product_category');
select atrium_enable_tenant_rls('crm_product');
