import {
  Branch,
  referenceLoader,
  requirePermission,
  requireViewer,
  User,
  type AtriumRequestContext,
  type LoaderQuery,
  type Loaders,
  type ResolverContext,
  type Resolvers,
} from '@atrium/core';
import { Contact } from '../entities/contact.ts';
import { Debt, type Payment } from '../entities/debts.ts';
import { contactsWhere } from '../services/contacts.ts';
import {
  balanceOf,
  createDebt,
  debtsOfContacts,
  debtStatuses,
  debtsWhere,
  findDebt,
  installmentPlans,
  listDebts,
  paymentsOf,
  recordPayment,
  setInstallmentPlan,
  type DebtListArgs,
} from '../services/debts.ts';

type WithInput = { input: unknown };

/** The request's parts a debt mutation uses, once its permission is checked. */
const manage = (context: ResolverContext) => ({ em: context.em, viewer: requirePermission(context, 'crm.debt.manage'), emit: context.emit });

export const debtResolvers: Resolvers = {
  Query: {
    debt: (_root, { id }: { id: string }, context) => findDebt(context.em, requireViewer(context), id),
    debts: (_root, args: DebtListArgs, context) => listDebts(context.em, requireViewer(context), args),
  },
  Mutation: {
    createDebt: (_root, { input }: WithInput, context) => createDebt(manage(context), input),
    recordPayment: (_root, { input }: WithInput, context) => recordPayment(manage(context), input),
    setInstallmentPlan: (_root, { input }: WithInput, context) => setInstallmentPlan(manage(context), input),
  },
  Debt: {
    // Worked out from the stored amount and paid, exactly (BigInt cents).
    balance: (debt: Debt) => balanceOf(debt),
  },
};

type Queries<T> = LoaderQuery<T>[];

/** Debts' lists and references, one query per field and response level (a page of debts costs the same whatever its size). */
export const debtLoaders: Loaders = {
  Debt: {
    contact: referenceLoader(Contact, (debt: Debt) => debt.contactId, (context) => contactsWhere(requireViewer(context))),
    branch: referenceLoader(Branch, (debt: Debt) => debt.branchId),
    createdBy: referenceLoader(User, (debt: Debt) => debt.createdById),
    async status(queries: Queries<Debt>, context: AtriumRequestContext) {
      const statuses = await debtStatuses(context.em, [...new Set(queries.map((query) => query.obj.id))]);
      return queries.map((query) => statuses.get(query.obj.id) ?? null);
    },
    async payments(queries: Queries<Debt>, context: AtriumRequestContext) {
      const payments = await paymentsOf(context.em, [...new Set(queries.map((query) => query.obj.id))]);
      return queries.map((query) => payments.get(query.obj.id) ?? []);
    },
    async installments(queries: Queries<Debt>, context: AtriumRequestContext) {
      const debts = [...new Map(queries.map((query) => [query.obj.id, query.obj])).values()];
      const plans = await installmentPlans(context.em, debts);
      return queries.map((query) => plans.get(query.obj.id) ?? []);
    },
  },
  Payment: {
    debt: referenceLoader(Debt, (payment: Payment) => payment.debtId, (context) => debtsWhere(requireViewer(context))),
    recordedBy: referenceLoader(User, (payment: Payment) => payment.recordedById),
  },
  Contact: {
    // null for all when the viewer may read no debts.
    async debts(queries: Queries<Contact>, context: AtriumRequestContext) {
      const debts = await debtsOfContacts(context.em, requireViewer(context), [...new Set(queries.map((query) => query.obj.id))]);
      return queries.map((query) => (debts ? (debts.get(query.obj.id) ?? []) : null));
    },
  },
};
