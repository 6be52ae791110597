import {
  referenceLoader,
  requirePermission,
  requireViewer,
  type AtriumRequestContext,
  type Loaders,
  type ResolverContext,
  type Resolvers,
} from '@atrium/core';
import { ProductCategory, type Product } from '../entities/products.ts';
import {
  canReadCatalog,
  childrenOf,
  createProduct,
  createProductCategory,
  deleteProductCategory,
  findProduct,
  listProductCategories,
  listProducts,
  pathsOf,
  updateProduct,
  updateProductCategory,
  type ProductListArgs,
} from '../services/products.ts';

type WithId = { id: string };
type WithInput = { input: unknown };

/** The request's parts a catalog mutation uses, once its permission is checked (categories included). */
const manage = (context: ResolverContext) => ({ em: context.em, viewer: requirePermission(context, 'crm.product.manage'), emit: context.emit });

export const productResolvers: Resolvers = {
  Query: {
    product: (_root, { id }: WithId, context) => findProduct(context.em, requireViewer(context), id),
    products: (_root, args: ProductListArgs, context) => listProducts(context.em, requireViewer(context), args),
    productCategories: (_root, _args, context) => listProductCategories(context.em, requireViewer(context)),
  },
  Mutation: {
    createProduct: (_root, { input }: WithInput, context) => createProduct(manage(context), input),
    updateProduct: (_root, { id, input }: WithId & WithInput, context) => updateProduct(manage(context), id, input),
    createProductCategory: (_root, { input }: WithInput, context) => createProductCategory(manage(context), input),
    updateProductCategory: (_root, { id, input }: WithId & WithInput, context) => updateProductCategory(manage(context), id, input),
    deleteProductCategory: (_root, { id }: WithId, context) => deleteProductCategory(manage(context), id),
  },
};

/** Categories readable by the caller: all of the company's for catalog readers, none otherwise. */
const readableCategories = (context: AtriumRequestContext) => (canReadCatalog(context.viewer) ? {} : null);

/** The catalog's references, one query per response level. */
export const productLoaders: Loaders = {
  Product: {
    category: referenceLoader(ProductCategory, (product: Product) => product.categoryId, readableCategories),
  },
  ProductCategory: {
    parent: referenceLoader(ProductCategory, (category: ProductCategory) => category.parentId, readableCategories),
    children: childrenOf,
    path: pathsOf,
  },
};
