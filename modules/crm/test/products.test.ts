import { setTimeout } from 'node:timers/promises';
import t from 'tap';
import { definePlugin, requireViewer, type Resolvers } from '@atrium/core';
import { assertTenantIsolation, postgresOnly, createTestApp, type TestCompany } from '@atrium/core/testing';
import crm, { findProducts } from '@atrium/crm';
import { countRows } from './helpers.ts';

const PRODUCT_FIELDS = 'id name sku unit price active createdAt updatedAt category { id name parent { name } path { name } }';
const CREATE_PRODUCT = `mutation ($input: CreateProductInput!) { createProduct(input: $input) { ${PRODUCT_FIELDS} } }`;
const UPDATE_PRODUCT = `mutation ($id: ID!, $input: UpdateProductInput!) { updateProduct(id: $id, input: $input) { ${PRODUCT_FIELDS} } }`;
const PRODUCT = `query ($id: ID!) { product(id: $id) { ${PRODUCT_FIELDS} } }`;
const PRODUCTS = /* GraphQL */ `
  query Products($first: Int, $after: String, $filter: ProductFilter) {
    products(first: $first, after: $after, filter: $filter) {
      totalCount
      edges { cursor node { id name sku price active category { id name } } }
      pageInfo { hasNextPage endCursor }
    }
  }
`;
const CATEGORY_FIELDS = 'id name parentId parent { id name } children { id name } path { name } createdAt';
const CATEGORIES = `{ productCategories { ${CATEGORY_FIELDS} } }`;
const CREATE_CATEGORY = `mutation ($input: CreateProductCategoryInput!) { createProductCategory(input: $input) { ${CATEGORY_FIELDS} } }`;
const UPDATE_CATEGORY = `mutation ($id: ID!, $input: UpdateProductCategoryInput!) { updateProductCategory(id: $id, input: $input) { ${CATEGORY_FIELDS} } }`;
const DELETE_CATEGORY = 'mutation ($id: ID!) { deleteProductCategory(id: $id) }';

/** A module of the kind that references products (agent sales…): it reads them through the CRM's public findProducts. */
const probe = definePlugin({
  name: 'probe',
  version: '1.0.0',
  dependsOn: ['crm'],
  graphql: {
    typeDefs: 'extend type Query { probeProducts(ids: [ID!]!): [String!]! }',
    resolvers: {
      Query: {
        probeProducts: async (_root, { ids }: { ids: string[] }, context) => {
          requireViewer(context);
          return (await findProducts(context.em, ids)).map((product) => `${product.id} ${product.sku}`);
        },
      },
    } as Resolvers,
  },
});

const test = await createTestApp({ modules: [crm, probe], config: { logLevel: 'error' } });
t.teardown(() => test.close());

type Token = { token: string };

/** Runs a mutation that must succeed and answers its result. */
async function must(query: string, variables: Record<string, unknown>, user: Token): Promise<any> {
  const res = await test.gql(query, variables, user);
  if (res.errors) throw new Error(`${query}: ${JSON.stringify(res.errors)}`);
  return Object.values(res.data as object)[0];
}

const newCategory = (user: Token, name: string, parentId?: string) => must(CREATE_CATEGORY, { input: { name, ...(parentId ? { parentId } : {}) } }, user);
const newProduct = (user: Token, input: Record<string, unknown>) => must(CREATE_PRODUCT, { input: { unit: 'pcs', price: '1', ...input } }, user);

/** Waits until the company's events have left the outbox (A's rows are compared before and after). */
async function eventsDispatched(company: TestCompany): Promise<void> {
  while (await countRows(test, 'atrium_event', 'company_id = $1 and dispatched_at is null', [company.id])) await setTimeout(20);
}

/** Every catalog row and event of a company: a refused mutation leaves them as they were. */
const catalogOf = async (company: TestCompany) => ({
  products: await test.sql('select * from crm_product where company_id = $1 order by id', [company.id]),
  categories: await test.sql('select * from crm_product_category where company_id = $1 order by id', [company.id]),
  events: await countRows(test, 'atrium_event', 'company_id = $1', [company.id]),
});

t.test('products: the contract end to end', async (t) => {
  const company = await test.createCompany();
  const owner = company.owner;

  const hardware = await newCategory(owner, ' Hardware ');
  t.match(hardware, { name: 'Hardware', parentId: null, parent: null, children: [], path: [{ name: 'Hardware' }] });
  const tools = await newCategory(owner, 'Tools', hardware.id);
  const hammers = await newCategory(owner, 'Hammers', tools.id);
  t.match(hammers, { parentId: tools.id, parent: { id: tools.id, name: 'Tools' }, path: [{ name: 'Hardware' }, { name: 'Tools' }, { name: 'Hammers' }] });

  const hammer = await newProduct(owner, { name: ' Claw hammer ', sku: 'HAM-001', unit: 'pcs', price: '12.5', categoryId: hammers.id });
  t.match(hammer, {
    id: /^[0-9a-f-]{36}$/,
    name: 'Claw hammer',
    sku: 'HAM-001',
    unit: 'pcs',
    price: '12.50',
    active: true,
    createdAt: /Z$/,
    category: { id: hammers.id, name: 'Hammers', parent: { name: 'Tools' }, path: [{ name: 'Hardware' }, { name: 'Tools' }, { name: 'Hammers' }] },
  });
  const [row] = await test.sql<{ company_id: string; price: string }>('select company_id, price::text from crm_product where id = $1', [hammer.id]);
  t.same(row, { company_id: company.id, price: '12.50' }, 'stamped with the company, stored as numeric(14,2)');
  t.same(
    await test.sql(`select name, payload from atrium_event where payload->>'productId' = $1`, [hammer.id]),
    [{ name: 'crm.product.created', payload: { productId: hammer.id } }],
    'crm.product.created is written with the product',
  );
  t.same((await test.gql(PRODUCT, { id: hammer.id }, owner)).data.product, { ...hammer }, 'product(id) reads it back the same');
  t.same((await test.gql(PRODUCT, { id: '0190a1b2-0000-7000-8000-000000000000' }, owner)).data, { product: null });
  t.same((await test.gql(PRODUCT, { id: 'nope' }, owner)).data, { product: null }, 'a malformed id is a missing one');

  t.test('updateProduct changes what is given and emits crm.product.updated once per change', async (t) => {
    const updated = await must(UPDATE_PRODUCT, { id: hammer.id, input: { price: '13', name: 'Claw hammer 16oz', categoryId: tools.id } }, owner);
    t.match(updated, { name: 'Claw hammer 16oz', sku: 'HAM-001', price: '13.00', category: { name: 'Tools' } });
    const same = await must(UPDATE_PRODUCT, { id: hammer.id, input: { price: '13.00', sku: 'HAM-001' } }, owner);
    t.equal(same.updatedAt, updated.updatedAt, 'nothing changed: nothing written');
    const out = await must(UPDATE_PRODUCT, { id: hammer.id, input: { categoryId: null, active: false } }, owner);
    t.match(out, { category: null, active: false });
    const events = await test.sql<{ name: string }>(`select name from atrium_event where payload->>'productId' = $1 order by id`, [hammer.id]);
    t.same(events.map((e) => e.name), ['crm.product.created', 'crm.product.updated', 'crm.product.updated']);
    await must(UPDATE_PRODUCT, { id: hammer.id, input: { categoryId: hammers.id, active: true } }, owner);
    const missing = await test.gql(UPDATE_PRODUCT, { id: '0190a1b2-0000-7000-8000-000000000000', input: { name: 'x' } }, owner);
    t.equal(missing.errors?.[0]?.extensions?.code, 'NOT_FOUND');
  });

  t.test('products: search, filters, order and pages', async (t) => {
    const nails = await newCategory(owner, 'Nails', hardware.id);
    await newProduct(owner, { name: 'Wire nails 50mm', sku: 'NL-50', unit: 'kg', price: '3.20', categoryId: nails.id });
    await newProduct(owner, { name: 'Ball-peen hammer', sku: 'HAM-002', categoryId: hammers.id, active: false });
    await newProduct(owner, { name: '100% cotton gloves', sku: 'GL_1' });
    const names = async (filter: Record<string, unknown>) => (await test.gql(PRODUCTS, { filter }, owner)).data.products.edges.map((e: any) => e.node.name);

    t.same(await names({}), ['100% cotton gloves', 'Ball-peen hammer', 'Claw hammer 16oz', 'Wire nails 50mm'], 'by name');
    t.same(await names({ search: 'claw' }), ['Claw hammer 16oz'], 'a name prefix, whatever its case');
    t.same(await names({ search: ' ham-0' }), ['Ball-peen hammer', 'Claw hammer 16oz'], 'a SKU prefix');
    t.same(await names({ search: 'hammer' }), [], 'a prefix, not a word inside the name');
    t.same(await names({ search: '100%' }), ['100% cotton gloves'], 'LIKE wildcards match themselves');
    t.same(await names({ search: '1%' }), []);
    t.same(await names({ search: 'GL_' }), ['100% cotton gloves']);
    t.same(await names({ search: 'G_' }), []);
    t.same(await names({ active: true }), ['100% cotton gloves', 'Claw hammer 16oz', 'Wire nails 50mm']);
    t.same(await names({ active: false }), ['Ball-peen hammer']);
    t.same(await names({ categoryId: hammers.id }), ['Ball-peen hammer', 'Claw hammer 16oz']);
    t.same(await names({ categoryId: hardware.id }), [], 'only the category itself by default');
    t.same(await names({ categoryId: hardware.id, includeSubcategories: true }), ['Ball-peen hammer', 'Claw hammer 16oz', 'Wire nails 50mm'], 'subcategories at any depth');
    t.same(await names({ categoryId: tools.id, includeSubcategories: true, active: true, search: 'c' }), ['Claw hammer 16oz'], 'filters combine');
    t.same(await names({ categoryId: '0190a1b2-0000-7000-8000-000000000000', includeSubcategories: true }), []);

    const first = (await test.gql(PRODUCTS, { first: 3 }, owner)).data.products;
    t.equal(first.totalCount, 4);
    t.equal(first.pageInfo.hasNextPage, true);
    const next = (await test.gql(PRODUCTS, { first: 3, after: first.pageInfo.endCursor }, owner)).data.products;
    t.same(next.edges.map((e: any) => e.node.name), ['Wire nails 50mm']);
    t.equal(next.pageInfo.hasNextPage, false);
    for (const variables of [{ first: 101 }, { first: 0 }, { after: 'not-a-cursor' }, { filter: { categoryId: 'nope' } }, { filter: { search: 'x'.repeat(201) } }]) {
      t.equal((await test.gql(PRODUCTS, variables, owner)).errors?.[0]?.extensions?.code, 'BAD_USER_INPUT', JSON.stringify(variables));
    }
  });

  t.test('productCategories: flat, by name, each with its parent and children', async (t) => {
    const categories = (await test.gql(CATEGORIES, {}, owner)).data.productCategories;
    t.same(
      categories.map((c: any) => [c.name, c.parent?.name ?? null, c.children.map((child: any) => child.name)]),
      [
        ['Hammers', 'Tools', []],
        ['Hardware', null, ['Nails', 'Tools']],
        ['Nails', 'Hardware', []],
        ['Tools', 'Hardware', ['Hammers']],
      ],
    );
  });
});

t.test('products: a SKU is unique in a company whatever its case, and free across companies', async (t) => {
  const a = await test.createCompany();
  const b = await test.createCompany();
  const first = await newProduct(a.owner, { name: 'Drill', sku: 'DR-1' });
  const other = await newProduct(a.owner, { name: 'Saw', sku: 'SAW-1' });
  const before = await catalogOf(a);

  const duplicate = await test.gql(CREATE_PRODUCT, { input: { name: 'Drill again', sku: 'dr-1', unit: 'pcs', price: '1' } }, a.owner);
  t.equal(duplicate.errors?.[0]?.extensions?.code, 'CONFLICT');
  t.equal(duplicate.errors?.[0]?.message, 'Another product of the company already has the SKU "dr-1"');
  t.same(duplicate.errors?.[0]?.extensions?.fields, { 'input.sku': 'is already used' });
  const renamed = await test.gql(UPDATE_PRODUCT, { id: other.id, input: { sku: 'Dr-1', name: 'Saw renamed' } }, a.owner);
  t.equal(renamed.errors?.[0]?.extensions?.code, 'CONFLICT', 'also when an update takes it');
  t.same(await catalogOf(a), before, 'nothing written, no event');

  const elsewhere = await test.gql(CREATE_PRODUCT, { input: { name: 'Drill', sku: 'DR-1', unit: 'pcs', price: '1' } }, b.owner);
  t.equal(elsewhere.errors, undefined, 'another company may use the same SKU');
  t.not(elsewhere.data.createProduct.id, first.id);
  const recased = await must(UPDATE_PRODUCT, { id: first.id, input: { sku: 'dr-1' } }, a.owner);
  t.equal(recased.sku, 'dr-1', "a product may change the case of its own SKU");
});

t.test('products: bad input answers BAD_USER_INPUT on the field and writes nothing', async (t) => {
  const company = await test.createCompany();
  const owner = company.owner;
  const category = await newCategory(owner, 'Paint');
  const product = await newProduct(owner, { name: 'White paint', sku: 'PT-W', categoryId: category.id });
  const before = await catalogOf(company);
  const valid = { name: 'Red paint', sku: 'PT-R', unit: 'l', price: '9.99' };
  const cases: [string, Record<string, unknown>, Record<string, string> | null][] = [
    ['empty name', { name: '' }, { 'input.name': 'must be 1 to 200 characters, not only spaces' }],
    ['blank name', { name: '   ' }, { 'input.name': 'must be 1 to 200 characters, not only spaces' }],
    ['long name', { name: 'x'.repeat(201) }, { 'input.name': 'must be 1 to 200 characters, not only spaces' }],
    ['SKU with a space', { sku: 'PT R' }, { 'input.sku': 'must be 1 to 64 letters, digits or - _ . /' }],
    ['empty SKU', { sku: '' }, { 'input.sku': 'must be 1 to 64 letters, digits or - _ . /' }],
    ['long SKU', { sku: 'x'.repeat(65) }, { 'input.sku': 'must be 1 to 64 letters, digits or - _ . /' }],
    ['empty unit', { unit: '' }, { 'input.unit': 'must be 1 to 20 characters, not only spaces' }],
    ['long unit', { unit: 'x'.repeat(21) }, { 'input.unit': 'must be 1 to 20 characters, not only spaces' }],
    ['negative price', { price: '-1' }, { 'input.price': 'must be an amount of at least 0 and at most 999999999999.99, with at most 2 decimal places' }],
    ['three decimals', { price: '1.005' }, { 'input.price': 'must be an amount of at least 0 and at most 999999999999.99, with at most 2 decimal places' }],
    ['too large', { price: '1000000000000' }, { 'input.price': 'must be an amount of at least 0 and at most 999999999999.99, with at most 2 decimal places' }],
    ['leading zero', { price: '007' }, { 'input.price': 'must be an amount of at least 0 and at most 999999999999.99, with at most 2 decimal places' }],
    ['not a number', { price: '12,50' }, null],
    ['unknown category', { categoryId: '0190a1b2-0000-7000-8000-000000000000' }, { 'input.categoryId': 'is not a category of this company' }],
    ['malformed category', { categoryId: 'paint' }, { 'input.categoryId': 'is not an id (a lower-case UUID)' }],
    ['a field of the kernel', { companyId: company.id }, null],
  ];
  for (const [what, change, fields] of cases) {
    const res = await test.gql(CREATE_PRODUCT, { input: { ...valid, ...change } }, owner);
    t.equal(res.errors?.[0]?.extensions?.code, 'BAD_USER_INPUT', `create: ${what}`);
    if (fields) t.same(res.errors?.[0]?.extensions?.fields, fields, `create: ${what} names the field`);
    const { name: _, sku: __, unit: ___, price: ____, ...update } = { ...valid, ...change };
    const onUpdate = await test.gql(UPDATE_PRODUCT, { id: product.id, input: { ...change, ...update } }, owner);
    if (Object.keys(change).some((key) => key in valid || key === 'categoryId' || key === 'companyId')) {
      t.equal(onUpdate.errors?.[0]?.extensions?.code, 'BAD_USER_INPUT', `update: ${what}`);
    }
  }
  const nulls = await test.gql(UPDATE_PRODUCT, { id: product.id, input: { name: null, price: null } }, owner);
  t.equal(nulls.errors?.[0]?.extensions?.code, 'BAD_USER_INPUT', 'required fields cannot be cleared');
  const missing = await test.gql('mutation { createProduct(input: { name: "x", sku: "x", unit: "pcs" }) { id } }', {}, owner);
  t.equal(missing.errors?.[0]?.extensions?.code, 'BAD_USER_INPUT', 'the price is required');

  for (const input of [{ name: '' }, { name: 'x'.repeat(201) }, { name: 'Child', parentId: '0190a1b2-0000-7000-8000-000000000000' }]) {
    const res = await test.gql(CREATE_CATEGORY, { input }, owner);
    t.equal(res.errors?.[0]?.extensions?.code, 'BAD_USER_INPUT', `createProductCategory ${JSON.stringify(input).slice(0, 60)}`);
    const update = await test.gql(UPDATE_CATEGORY, { id: category.id, input }, owner);
    t.equal(update.errors?.[0]?.extensions?.code, 'BAD_USER_INPUT', `updateProductCategory ${JSON.stringify(input).slice(0, 60)}`);
  }
  t.same(await catalogOf(company), before, 'no product, category or event was written or changed');
});

t.test('categories: a category cannot move under itself or its subcategories; a non-empty one cannot be deleted', async (t) => {
  const company = await test.createCompany();
  const owner = company.owner;
  const root = await newCategory(owner, 'Root');
  const middle = await newCategory(owner, 'Middle', root.id);
  const leaf = await newCategory(owner, 'Leaf', middle.id);
  const before = await catalogOf(company);

  for (const [what, id, parentId] of [
    ['itself', root.id, root.id],
    ['its child', root.id, middle.id],
    ['its grandchild', root.id, leaf.id],
    ['its own child', middle.id, leaf.id],
  ]) {
    const res = await test.gql(UPDATE_CATEGORY, { id, input: { parentId, name: 'Renamed' } }, owner);
    t.equal(res.errors?.[0]?.extensions?.code, 'BAD_USER_INPUT', `under ${what}`);
    t.same(res.errors?.[0]?.extensions?.fields, { 'input.parentId': 'cannot be the category itself or one of its subcategories' });
  }
  t.same(await catalogOf(company), before, 'a refused move changes nothing (not even the name)');

  const moved = await must(UPDATE_CATEGORY, { id: leaf.id, input: { parentId: root.id, name: 'Leaf 2' } }, owner);
  t.match(moved, { name: 'Leaf 2', parentId: root.id, path: [{ name: 'Root' }, { name: 'Leaf 2' }] });
  const top = await must(UPDATE_CATEGORY, { id: middle.id, input: { parentId: null } }, owner);
  t.match(top, { parentId: null, parent: null, path: [{ name: 'Middle' }] });
  const upside = await must(UPDATE_CATEGORY, { id: root.id, input: { parentId: middle.id } }, owner);
  t.match(upside, { path: [{ name: 'Middle' }, { name: 'Root' }], children: [{ name: 'Leaf 2' }] }, 'the former parent may now hold it');
  const renamed = await must(UPDATE_CATEGORY, { id: root.id, input: { name: 'Root 2' } }, owner);
  t.equal(renamed.parentId, middle.id, 'a rename leaves the parent alone');
  t.equal((await test.gql(UPDATE_CATEGORY, { id: '0190a1b2-0000-7000-8000-000000000000', input: { name: 'x' } }, owner)).errors?.[0]?.extensions?.code, 'NOT_FOUND');

  // Tree now: Middle > Root 2 > Leaf 2; a product in Leaf 2.
  const product = await newProduct(owner, { name: 'Thing', sku: 'TH-1', categoryId: leaf.id });
  const stocked = await catalogOf(company);
  const withChildren = await test.gql(DELETE_CATEGORY, { id: middle.id }, owner);
  t.equal(withChildren.errors?.[0]?.extensions?.code, 'CONFLICT');
  t.equal(withChildren.errors?.[0]?.message, 'The category has subcategories: move or delete them first');
  const withProducts = await test.gql(DELETE_CATEGORY, { id: leaf.id }, owner);
  t.equal(withProducts.errors?.[0]?.extensions?.code, 'CONFLICT');
  t.equal(withProducts.errors?.[0]?.message, 'The category holds products: move them to another category first');
  t.same(await catalogOf(company), stocked, 'nothing deleted');
  t.equal((await test.gql(DELETE_CATEGORY, { id: '0190a1b2-0000-7000-8000-000000000000' }, owner)).errors?.[0]?.extensions?.code, 'NOT_FOUND');

  await must(UPDATE_PRODUCT, { id: product.id, input: { categoryId: null } }, owner);
  t.same((await test.gql(DELETE_CATEGORY, { id: leaf.id }, owner)).data, { deleteProductCategory: leaf.id }, 'an empty category is deleted');
  t.equal(await countRows(test, 'crm_product_category', 'id = $1', [leaf.id]), 0);
  t.same((await test.gql(CATEGORIES, {}, owner)).data.productCategories.map((c: any) => c.name), ['Middle', 'Root 2']);
});

t.test('products: access follows crm.product.read and crm.product.manage', async (t) => {
  const company = await test.createCompany();
  const category = await newCategory(company.owner, 'Food');
  const product = await newProduct(company.owner, { name: 'Rice', sku: 'RICE', unit: 'kg', categoryId: category.id });
  const empty = await newCategory(company.owner, 'Empty');
  const reader = await test.createUser({ company, permissions: ['crm.product.read'] });
  const nobody = await test.createUser({ company, permissions: ['crm.contact.read'] });
  const before = await catalogOf(company);

  t.equal((await test.gql(PRODUCTS, {}, reader)).data.products.totalCount, 1, 'a reader lists products');
  t.match((await test.gql(PRODUCT, { id: product.id }, reader)).data.product, { name: 'Rice', category: { name: 'Food' } });
  t.same((await test.gql(CATEGORIES, {}, reader)).data.productCategories.map((c: any) => c.name), ['Empty', 'Food']);
  const writes: [string, Record<string, unknown>][] = [
    [CREATE_PRODUCT, { input: { name: 'Salt', sku: 'SALT', unit: 'kg', price: '1' } }],
    [UPDATE_PRODUCT, { id: product.id, input: { price: '2' } }],
    [CREATE_CATEGORY, { input: { name: 'Drinks' } }],
    [UPDATE_CATEGORY, { id: category.id, input: { name: 'Meals' } }],
    [DELETE_CATEGORY, { id: empty.id }],
  ];
  for (const [query, variables] of writes) {
    const res = await test.gql(query, variables, reader);
    t.equal(res.errors?.[0]?.extensions?.code, 'FORBIDDEN', `a reader may not ${query.match(/\{ (\w+)\(/)?.[1]}`);
  }

  t.equal((await test.gql(PRODUCTS, {}, nobody)).errors?.[0]?.extensions?.code, 'FORBIDDEN', 'without crm.product.read: no list');
  t.equal((await test.gql(CATEGORIES, {}, nobody)).errors?.[0]?.extensions?.code, 'FORBIDDEN');
  t.same((await test.gql(PRODUCT, { id: product.id }, nobody)).data, { product: null }, 'and a single product is null');
  t.equal((await test.gql(PRODUCTS, {})).errors?.[0]?.extensions?.code, 'UNAUTHENTICATED');
  t.equal((await test.gql(CREATE_PRODUCT, writes[0]![1])).errors?.[0]?.extensions?.code, 'UNAUTHENTICATED');
  t.same(await catalogOf(company), before, 'refused writes wrote nothing');

  const manager = await test.createUser({ company, permissions: ['crm.product.read', 'crm.product.manage'] });
  for (const [query, variables] of writes) t.equal((await test.gql(query, variables, manager)).errors, undefined, 'crm.product.manage may');
});

t.test('products: a list page costs the same number of statements whatever its size', async (t) => {
  const company = await test.createCompany();
  const owner = company.owner;
  const top = await newCategory(owner, 'Top');
  const categories = [];
  for (let i = 0; i < 10; i++) categories.push(await newCategory(owner, `Category ${i}`, top.id));
  for (let i = 0; i < 60; i++) await newProduct(owner, { name: `Product ${String(i).padStart(2, '0')}`, sku: `P-${i}`, categoryId: categories[i % 10].id });
  const LIST = `query ($first: Int, $filter: ProductFilter) {
    products(first: $first, filter: $filter) { totalCount edges { node { id name price category { id name parent { name } children { name } path { name } } } } }
  }`;
  const statementsFor = async (first: number, filter?: Record<string, unknown>) => {
    let edges = 0;
    const statements = await test.statements(async () => {
      const res = await test.gql(LIST, { first, filter }, owner);
      if (res.errors) throw new Error(JSON.stringify(res.errors));
      edges = res.data.products.edges.length;
    });
    if (process.env.SHOW_SQL) console.log(statements.join('\n'));
    t.equal(edges, first);
    return statements;
  };
  // Row-level security sets the role and company before each query: those two do not query anything.
  const queries = (statements: string[]) => statements.filter((sql) => !/^(select set_config|set local role)/.test(sql));
  const small = await statementsFor(5);
  const large = await statementsFor(50);
  t.equal(large.length, small.length, `${small.length} statements for 5 products with their categories, and for 50`);
  // count, page, Product.category, ProductCategory.parent, .children, .path (walk up + load).
  t.equal(queries(small).length, 7, 'one query per list and per field of a response level');
  const filtered = await statementsFor(5, { categoryId: top.id, includeSubcategories: true, search: 'prod' });
  t.equal((await statementsFor(50, { categoryId: top.id, includeSubcategories: true, search: 'prod' })).length, filtered.length, 'filtered: the same for 5 and 50');
  t.equal(queries(filtered).length, 8, 'the subcategory walk is one query more');
});

t.test('products: company B sees and changes nothing of company A', async (t) => {
  await assertTenantIsolation(t, test, {
    async seed(a) {
      const parent = await newCategory(a.owner, 'A parent');
      const child = await newCategory(a.owner, 'A child', parent.id);
      const product = await newProduct(a.owner, { name: 'A product', sku: 'A-SKU', categoryId: child.id });
      await eventsDispatched(a);
      return { parentId: parent.id, childId: child.id, productId: product.id };
    },
    // B's own category and product, given A's category: it must be as unknown to them as a missing one.
    async own(b) {
      const category = await newCategory(b.owner, 'B category');
      const product = await newProduct(b.owner, { name: 'B product', sku: 'B-SKU' });
      return { categoryId: category.id as string, productId: product.id as string };
    },
    operations: [
      { name: 'product', query: PRODUCT, variables: (seed) => ({ id: seed.productId }) },
      { name: 'products', query: PRODUCTS },
      { name: 'products by category', query: PRODUCTS, variables: (seed) => ({ filter: { categoryId: seed.parentId, includeSubcategories: true } }) },
      { name: 'products by search', query: PRODUCTS, variables: () => ({ filter: { search: 'A-' } }) },
      { name: 'productCategories', query: CATEGORIES },
      { name: 'createProduct', query: CREATE_PRODUCT, variables: (seed) => ({ input: { name: 'B', sku: 'B-1', unit: 'pcs', price: '1', categoryId: seed.childId } }) },
      { name: 'updateProduct', query: UPDATE_PRODUCT, variables: (seed) => ({ id: seed.productId, input: { price: '0' } }) },
      { name: 'createProductCategory', query: CREATE_CATEGORY, variables: (seed) => ({ input: { name: 'B child', parentId: seed.parentId } }) },
      { name: 'updateProductCategory', query: UPDATE_CATEGORY, variables: (seed) => ({ id: seed.childId, input: { name: 'B' } }) },
      { name: 'updateProductCategory (move)', query: UPDATE_CATEGORY, variables: (seed) => ({ id: seed.childId, input: { parentId: null } }) },
      { name: 'updateProduct of B’s into A’s category', query: UPDATE_PRODUCT, variables: (seed, own) => ({ id: own.productId, input: { categoryId: seed.childId } }) },
      { name: 'updateProductCategory of B’s under A’s', query: UPDATE_CATEGORY, variables: (seed, own) => ({ id: own.categoryId, input: { parentId: seed.parentId } }) },
      { name: 'deleteProductCategory', query: DELETE_CATEGORY, variables: (seed) => ({ id: seed.parentId }) },
      { name: 'findProducts (public API)', query: 'query ($ids: [ID!]!) { probeProducts(ids: $ids) }', variables: (seed) => ({ ids: [seed.productId] }) },
    ],
  });

  t.test('a category of another company cannot be named as a parent either', async (t) => {
    const a = await test.createCompany();
    const b = await test.createCompany();
    const foreign = await newCategory(a.owner, 'A');
    const own = await newCategory(b.owner, 'B');
    const before = await catalogOf(b);
    const res = await test.gql(UPDATE_CATEGORY, { id: own.id, input: { parentId: foreign.id } }, b.owner);
    t.same(res.errors?.[0]?.extensions?.fields, { 'input.parentId': 'is not a category of this company' });
    t.same(await catalogOf(b), before);
  });
});

t.test('findProducts: the public API reads products under the caller’s company, in the order asked', async (t) => {
  const company = await test.createCompany();
  const one = await newProduct(company.owner, { name: 'One', sku: 'ONE' });
  const two = await newProduct(company.owner, { name: 'Two', sku: 'TWO' });
  const res = await test.gql('query ($ids: [ID!]!) { probeProducts(ids: $ids) }', { ids: [two.id, 'nope', one.id, two.id, '0190a1b2-0000-7000-8000-000000000000'] }, company.owner);
  t.same(res.data, { probeProducts: [`${two.id} TWO`, `${one.id} ONE`] });
});

t.test('products: races are settled by the database', { skip: postgresOnly }, async (t) => {
  const company = await test.createCompany();
  const owner = company.owner;

  const skus = await Promise.all(['Race-1', 'RACE-1', 'race-1', 'Race-1'].map((sku, i) => test.gql(CREATE_PRODUCT, { input: { name: `Racer ${i}`, sku, unit: 'pcs', price: '1' } }, owner)));
  t.same(skus.map((res) => res.errors?.[0]?.extensions?.code ?? 'OK').sort(), ['CONFLICT', 'CONFLICT', 'CONFLICT', 'OK'], 'one SKU wins, the others conflict');
  t.equal(await countRows(test, 'crm_product', 'company_id = $1', [company.id]), 1);
  t.equal(await countRows(test, 'atrium_event', `company_id = $1 and name = 'crm.product.created'`, [company.id]), 1, 'one event, for the product written');

  for (let round = 0; round < 5; round++) {
    const a = await newCategory(owner, `A${round}`);
    const b = await newCategory(owner, `B${round}`);
    const moves = await Promise.all([
      test.gql(UPDATE_CATEGORY, { id: a.id, input: { parentId: b.id } }, owner),
      test.gql(UPDATE_CATEGORY, { id: b.id, input: { parentId: a.id } }, owner),
    ]);
    t.same(moves.map((res) => res.errors?.[0]?.extensions?.code ?? 'OK').sort(), ['BAD_USER_INPUT', 'OK'], `round ${round}: two crossing moves, one refused`);
    const rows = await test.sql<{ id: string; parent_id: string | null }>('select id, parent_id from crm_product_category where id in ($1, $2)', [a.id, b.id]);
    t.equal(rows.filter((row) => row.parent_id === null).length, 1, 'no cycle: one of them stays at the top');
  }

  const doomed = await newCategory(owner, 'Doomed');
  const [deleted, created] = await Promise.all([
    test.gql(DELETE_CATEGORY, { id: doomed.id }, owner),
    test.gql(CREATE_PRODUCT, { input: { name: 'Late', sku: 'LATE', unit: 'pcs', price: '1', categoryId: doomed.id } }, owner),
  ]);
  const outcome = [deleted.errors?.[0]?.extensions?.code ?? 'OK', created.errors?.[0]?.extensions?.code ?? 'OK'];
  t.ok(
    JSON.stringify(outcome) === '["OK","BAD_USER_INPUT"]' || JSON.stringify(outcome) === '["CONFLICT","OK"]',
    `a delete racing a product into the category: either wins cleanly (${outcome})`,
  );
});
