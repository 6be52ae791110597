import {
  accessibleWhere,
  BadUserInputError,
  conflict,
  createValidator,
  flushOrConflict,
  forbidden,
  isId,
  notFound,
  paginate,
  type AtriumRequestContext,
  type Connection,
  type ConnectionArgs,
  type EntityManager,
  type LoaderQuery,
  type Viewer,
  MONEY_PATTERN,
} from '@atrium/core';
import { Product, ProductCategory } from '../entities/products.ts';
import type { CrmContext } from './context.ts';

export interface ProductInput {
  name?: string;
  sku?: string;
  price?: string;
  unit?: string;
  categoryId?: string | null;
  active?: boolean;
}

export interface ProductCategoryInput {
  name?: string;
  parentId?: string | null;
}

export interface ProductFilter {
  search?: string | null;
  categoryId?: string | null;
  includeSubcategories?: boolean | null;
  active?: boolean | null;
}

export type ProductListArgs = ConnectionArgs & { filter?: ProductFilter | null };

const name = { type: 'string', minLength: 1, maxLength: 200, pattern: '\\S' };
const categoryRef = { type: 'string', format: 'uuid', nullable: true };
const productFields = {
  name,
  sku: { type: 'string', pattern: '^[A-Za-z0-9._/-]{1,64}$' },
  // numeric(14,2): twelve digits before the point at most, two after, never negative.
  price: { type: 'string', pattern: MONEY_PATTERN },
  unit: { type: 'string', minLength: 1, maxLength: 20, pattern: '\\S' },
  categoryId: categoryRef,
  active: { type: 'boolean' },
};

// ajv words pattern errors with the regular expression itself: people get these instead.
const messages: Record<string, string> = {
  name: 'must be 1 to 200 characters, not only spaces',
  sku: 'must be 1 to 64 letters, digits or - _ . /',
  price: 'must be an amount of at least 0 and at most 999999999999.99, with at most 2 decimal places',
  unit: 'must be 1 to 20 characters, not only spaces',
};

const validator = <T>(schema: Record<string, unknown>, root = 'input') => createValidator<T>(schema, root, messages);


const checkCreateProduct = validator<ProductInput & Required<Pick<ProductInput, 'name' | 'sku' | 'price' | 'unit'>>>({
  type: 'object',
  additionalProperties: false,
  required: ['name', 'sku', 'price', 'unit'],
  properties: productFields,
});
const checkUpdateProduct = validator<ProductInput>({ type: 'object', additionalProperties: false, properties: productFields });
const checkCreateCategory = validator<ProductCategoryInput & { name: string }>({
  type: 'object',
  additionalProperties: false,
  required: ['name'],
  properties: { name, parentId: categoryRef },
});
const checkUpdateCategory = validator<ProductCategoryInput>({ type: 'object', additionalProperties: false, properties: { name, parentId: categoryRef } });
const checkFilter = validator<ProductFilter>(
  {
    type: 'object',
    additionalProperties: false,
    properties: {
      search: { type: 'string', maxLength: 200, nullable: true },
      categoryId: categoryRef,
      includeSubcategories: { type: 'boolean', nullable: true },
      active: { type: 'boolean', nullable: true },
    },
  },
  'filter',
);

/** "12.5" → "12.50": answered as the database will read it back. */
function twoDecimals(price: string): string {
  const [whole, fraction = ''] = price.split('.');
  return `${whole}.${fraction.padEnd(2, '0')}`;
}

/** LIKE's wildcards in user text match themselves. */
const escapeLike = (text: string): string => text.replace(/[\\%_]/g, '\\$&');

const needsRead = () => forbidden('This needs the permission crm.product.read');

/** The products the viewer may read, as a SQL filter; null when none. */
const readableProducts = (viewer: Viewer) => accessibleWhere(viewer.ability, 'read', 'Product');

/** Categories are part of the catalog: whoever may read products reads them (checked on the Product subject). */
export const canReadCatalog = (viewer: Viewer | null): boolean => !!viewer && viewer.ability.can('read', 'Product');

/** A category of the caller's company, or BAD_USER_INPUT on the input field that named it. */
async function requireCategory(em: EntityManager, id: string, field: string): Promise<ProductCategory> {
  const category = await em.findOne(ProductCategory, { id });
  if (!category) throw new BadUserInputError({ [field]: 'is not a category of this company' });
  return category;
}

const isForeignKeyViolation = (error: unknown): error is Error & { constraint?: string } =>
  error instanceof Error && error.name === 'ForeignKeyConstraintViolationException';

/**
 * Flushes a product: a SKU taken in the company (whatever its case) is a CONFLICT, a category deleted
 * meanwhile is bad input — the database settles both, also for two requests at once.
 */
async function flushProduct(em: EntityManager, sku: string): Promise<void> {
  try {
    await flushOrConflict(em, () => conflict(`Another product of the company already has the SKU "${sku}"`, { fields: { 'input.sku': 'is already used' } }));
  } catch (error) {
    if (isForeignKeyViolation(error)) throw new BadUserInputError({ 'input.categoryId': 'is not a category of this company' });
    throw error;
  }
}

/**
 * The ids of a category and of every category below it (one recursive query). The tree is
 * acyclic (updateProductCategory refuses cycles); `union` would stop on one anyway.
 */
async function subtreeIds(em: EntityManager, companyId: string, rootId: string): Promise<string[]> {
  const rows = await em.execute<{ id: string }[]>(
    `with recursive subtree (id) as (
       select id from crm_product_category where id = ? and company_id = ?
       union
       select c.id from crm_product_category c join subtree on c.parent_id = subtree.id where c.company_id = ?
     )
     select id from subtree`,
    [rootId, companyId, companyId],
  );
  return rows.map((row) => row.id);
}

/** The ids of a category and of every category above it (one recursive query). */
async function lineageIds(em: EntityManager, companyId: string, id: string): Promise<string[]> {
  const rows = await em.execute<{ id: string }[]>(
    `with recursive lineage (id, parent_id) as (
       select id, parent_id from crm_product_category where id = ? and company_id = ?
       union
       select c.id, c.parent_id from crm_product_category c join lineage on c.id = lineage.parent_id where c.company_id = ?
     )
     select id from lineage`,
    [id, companyId, companyId],
  );
  return rows.map((row) => row.id);
}

/**
 * Serialises moves within one company's category tree until the transaction ends: two moves at once
 * (A under B, B under A) would each pass the cycle check against the other's old tree.
 */
async function lockCategoryTree(em: EntityManager, companyId: string): Promise<void> {
  await em.execute('select pg_advisory_xact_lock(hashtextextended(?, 0))', [`crm_product_category:${companyId}`]);
}

// --- Products ---------------------------------------------------------------------------------

/** The catalog by name, filtered in SQL; FORBIDDEN without crm.product.read. */
export async function listProducts(em: EntityManager, viewer: Viewer, args: ProductListArgs): Promise<Connection<Product>> {
  const readable = readableProducts(viewer);
  if (!readable) throw needsRead();
  const filter = checkFilter(args.filter ?? {});
  const where: Record<string, unknown>[] = [readable];
  if (filter.active != null) where.push({ active: filter.active });
  if (filter.categoryId) {
    where.push({ categoryId: filter.includeSubcategories ? { $in: await subtreeIds(em, viewer.companyId, filter.categoryId) } : filter.categoryId });
  }
  const search = filter.search?.trim().toLowerCase();
  if (search) {
    // lower(name) / lower(sku) LIKE 'text%': prefix matches served by the two text_pattern_ops indexes.
    const prefix = `${escapeLike(search)}%`;
    where.push({ $or: [{ nameKey: { $like: prefix } }, { skuKey: { $like: prefix } }] });
  }
  return paginate(em, Product, { first: args.first, after: args.after, where: { $and: where } as never, orderBy: { name: 'asc', id: 'asc' } });
}

/** A product, or null when it does not exist, belongs to another company or the caller may not read products. */
export async function findProduct(em: EntityManager, viewer: Viewer, id: string): Promise<Product | null> {
  const readable = readableProducts(viewer);
  return isId(id) && readable ? em.findOne(Product, { $and: [{ id }, readable] } as never) : null;
}

/**
 * Products by id under the EntityManager's tenant scope, in the order asked, each once: ids of
 * another company, unknown or malformed ones are left out (compare lengths to find them). For other
 * modules (sales lines, estimates) — check `active` before offering a product for something new.
 */
export async function findProducts(em: EntityManager, ids: readonly string[]): Promise<Product[]> {
  const wanted = [...new Set(ids.filter(isId))];
  if (!wanted.length) return [];
  const byId = new Map((await em.find(Product, { id: { $in: wanted } })).map((product) => [product.id, product]));
  return wanted.flatMap((id) => byId.get(id) ?? []);
}

/** Adds a product to the catalog and emits crm.product.created with it. */
export async function createProduct({ em, emit }: CrmContext, input: unknown): Promise<Product> {
  const values = checkCreateProduct(input);
  if (values.categoryId) await requireCategory(em, values.categoryId, 'input.categoryId');
  const product = em.create(Product, {
    name: values.name.trim(),
    sku: values.sku,
    unit: values.unit.trim(),
    price: twoDecimals(values.price),
    categoryId: values.categoryId ?? null,
    active: values.active ?? true,
  } as Product);
  emit(em, 'crm.product.created', { productId: product.id });
  await flushProduct(em, product.sku);
  return product;
}

/** Changes the fields given; emits crm.product.updated when something changed. */
export async function updateProduct({ em, emit }: CrmContext, id: string, input: unknown): Promise<Product> {
  const values = checkUpdateProduct(input);
  const product = isId(id) ? await em.findOne(Product, { id }) : null;
  if (!product) throw notFound('Product');
  if (values.categoryId) await requireCategory(em, values.categoryId, 'input.categoryId');
  const next: Partial<Product> = {
    ...(values.name !== undefined ? { name: values.name.trim() } : {}),
    ...(values.sku !== undefined ? { sku: values.sku } : {}),
    ...(values.unit !== undefined ? { unit: values.unit.trim() } : {}),
    ...(values.price !== undefined ? { price: twoDecimals(values.price) } : {}),
    ...(values.categoryId !== undefined ? { categoryId: values.categoryId } : {}),
    ...(values.active !== undefined ? { active: values.active } : {}),
  };
  const changed = Object.entries(next).filter(([field, value]) => product[field as keyof Product] !== value);
  if (!changed.length) return product;
  Object.assign(product, Object.fromEntries(changed));
  emit(em, 'crm.product.updated', { productId: product.id });
  await flushProduct(em, product.sku);
  return product;
}

// --- Categories -------------------------------------------------------------------------------

/** Every category of the company, flat, by name; FORBIDDEN without crm.product.read. */
export async function listProductCategories(em: EntityManager, viewer: Viewer): Promise<ProductCategory[]> {
  if (!canReadCatalog(viewer)) throw needsRead();
  return em.find(ProductCategory, {}, { orderBy: { name: 'asc', id: 'asc' } });
}

export async function createProductCategory({ em }: CrmContext, input: unknown): Promise<ProductCategory> {
  const values = checkCreateCategory(input);
  if (values.parentId) await requireCategory(em, values.parentId, 'input.parentId');
  const category = em.create(ProductCategory, { name: values.name.trim(), parentId: values.parentId ?? null } as ProductCategory);
  try {
    await em.flush();
  } catch (error) {
    // The parent was deleted between the check and the insert.
    if (isForeignKeyViolation(error)) throw new BadUserInputError({ 'input.parentId': 'is not a category of this company' });
    throw error;
  }
  return category;
}

/** Renames and/or moves a category; moving it under itself or one of its subcategories is refused. */
export async function updateProductCategory({ em, viewer }: CrmContext, id: string, input: unknown): Promise<ProductCategory> {
  const values = checkUpdateCategory(input);
  if (!isId(id)) throw notFound('Product category');
  try {
    return await em.transactional(async (tx) => {
      const moving = values.parentId !== undefined;
      if (moving) await lockCategoryTree(tx, viewer.companyId);
      const category = await tx.findOne(ProductCategory, { id });
      if (!category) throw notFound('Product category');
      if (values.name !== undefined) category.name = values.name.trim();
      if (moving && values.parentId !== category.parentId) {
        if (values.parentId) {
          await requireCategory(tx, values.parentId, 'input.parentId');
          if ((await lineageIds(tx, viewer.companyId, values.parentId)).includes(category.id)) {
            throw new BadUserInputError({ 'input.parentId': 'cannot be the category itself or one of its subcategories' });
          }
        }
        category.parentId = values.parentId ?? null;
      }
      return category;
    });
  } catch (error) {
    if (isForeignKeyViolation(error)) throw new BadUserInputError({ 'input.parentId': 'is not a category of this company' });
    throw error;
  }
}

/** Deletes an empty category; CONFLICT while subcategories or products are in it (the foreign keys decide). */
export async function deleteProductCategory({ em }: CrmContext, id: string): Promise<string> {
  const category = isId(id) ? await em.findOne(ProductCategory, { id }) : null;
  if (!category) throw notFound('Product category');
  em.remove(category);
  try {
    await em.flush();
  } catch (error) {
    if (!isForeignKeyViolation(error)) throw error;
    throw error.constraint === 'crm_product_category_parent_id_fkey'
      ? conflict('The category has subcategories: move or delete them first')
      : conflict('The category holds products: move them to another category first');
  }
  return id;
}

// --- Loaders (one query per response level) ----------------------------------------------------

/** ProductCategory.children: the direct subcategories of every category of the level, by name. */
export async function childrenOf(queries: LoaderQuery<ProductCategory>[], context: AtriumRequestContext): Promise<ProductCategory[][]> {
  if (!canReadCatalog(context.viewer)) return queries.map(() => []);
  const ids = [...new Set(queries.map((query) => query.obj.id))];
  const children = await context.em.find(ProductCategory, { parentId: { $in: ids } }, { orderBy: { name: 'asc', id: 'asc' } });
  const byParent = Map.groupBy(children, (child) => child.parentId);
  return queries.map((query) => byParent.get(query.obj.id) ?? []);
}

/** ProductCategory.path: every category of the level with its ancestors, the top first. */
export async function pathsOf(queries: LoaderQuery<ProductCategory>[], context: AtriumRequestContext): Promise<ProductCategory[][]> {
  if (!canReadCatalog(context.viewer)) return queries.map(() => []);
  const { em, viewer } = context;
  const ids = [...new Set(queries.map((query) => query.obj.id))];
  // One walk up from all of them; depth guards against a cycle (never written, see lockCategoryTree).
  const steps = await em.execute<{ start_id: string; id: string; depth: number }[]>(
    `with recursive lineage (start_id, id, parent_id, depth) as (
       select id, id, parent_id, 0 from crm_product_category where id in (${ids.map(() => '?').join(', ')}) and company_id = ?
       union all
       select lineage.start_id, c.id, c.parent_id, lineage.depth + 1
         from crm_product_category c join lineage on c.id = lineage.parent_id
        where c.company_id = ? and lineage.depth < 100
     )
     select start_id, id, depth from lineage order by start_id, depth desc`,
    [...ids, viewer!.companyId, viewer!.companyId],
  );
  if (!steps.length) return queries.map(() => []);
  const categories = new Map((await em.find(ProductCategory, { id: { $in: [...new Set(steps.map((step) => step.id))] } })).map((c) => [c.id, c]));
  const paths = new Map<string, ProductCategory[]>();
  for (const step of steps) {
    const category = categories.get(step.id);
    if (category) paths.set(step.start_id, [...(paths.get(step.start_id) ?? []), category]);
  }
  return queries.map((query) => paths.get(query.obj.id) ?? []);
}
