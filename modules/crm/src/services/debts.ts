import {
  cents,
  decimal,
  accessibleWhere,
  BadUserInputError,
  createValidator,
  forbidden,
  isId,
  LockMode,
  notFound,
  paginate,
  raw,
  type Connection,
  type ConnectionArgs,
  type EntityManager,
  type FilterQuery,
  type Viewer,
} from '@atrium/core';
import { Debt, Installment, Payment, PAYMENT_METHODS, type PaymentMethod } from '../entities/debts.ts';
import { recordActivity } from './activity.ts';
import { findContact } from './contacts.ts';
import type { CrmContext } from './context.ts';

export const DEBT_STATUSES = ['OPEN', 'PAID', 'OVERDUE'] as const;
export type DebtStatus = (typeof DEBT_STATUSES)[number];
export type InstallmentStatus = 'PAID' | 'PARTIALLY_PAID' | 'DUE' | 'OVERDUE';

// ---------------------------------------------------------------------------------------------
// Money: numeric(14,2) values travel as decimal strings; sums and comparisons are made on BigInt
// cents (core's `cents`/`decimal`, or in SQL), never on floats.

/** At most 12 digits before the point (numeric(14,2)) and 2 after it. */
const AMOUNT = /^(\d{1,12})(?:\.(\d{1,2}))?$/;

/** Cents of an amount given in input, or a message for `fields` when it is not a positive amount of money. */
function positiveAmount(value: string, path: string, fields: Record<string, string>): bigint {
  const match = AMOUNT.exec(value);
  if (!match) {
    fields[path] = /^-/.test(value) ? 'must be more than 0' : 'must be an amount with at most 12 digits before the point and 2 after it';
    return 0n;
  }
  const amount = cents(value);
  if (amount <= 0n) fields[path] = 'must be more than 0';
  return amount;
}

// ---------------------------------------------------------------------------------------------
// Status. Calendar days are UTC days, taken from the database's clock so that the `status` field
// and the status filter always agree.

const TODAY = `(now() at time zone 'utc')::date`;

/**
 * SQL of a debt's status (`alias` is the crm_debt row): PAID when nothing is left, OVERDUE when less
 * is paid than has fallen due — the whole amount once the debt's due day has passed, or the
 * installments whose days have passed — else OPEN.
 */
function statusSql(alias: string): string {
  const fallenDue = `greatest(
      case when ${alias}.due_date < ${TODAY} then ${alias}.amount else 0 end,
      (select coalesce(sum(i.amount), 0) from crm_installment i where i.debt_id = ${alias}.id and i.due_date < ${TODAY}))`;
  return `(case when ${alias}.paid >= ${alias}.amount then 'PAID' when ${alias}.paid < ${fallenDue} then 'OVERDUE' else 'OPEN' end)`;
}

/** The remaining balance of a debt. */
export const balanceOf = (debt: Pick<Debt, 'amount' | 'paid'>): string => decimal(cents(debt.amount) - cents(debt.paid));

/** `?` placeholders for a list of parameters. */
const placeholders = (values: readonly unknown[]): string => values.map(() => '?').join(', ');

/** The status of each debt, in one statement. */
export async function debtStatuses(em: EntityManager, ids: readonly string[]): Promise<Map<string, DebtStatus>> {
  if (!ids.length) return new Map();
  const rows = await em.execute<{ id: string; status: DebtStatus }[]>(`select d.id, ${statusSql('d')} as status from crm_debt d where d.id in (${placeholders(ids)})`, [...ids]);
  return new Map(rows.map((row) => [row.id, row.status]));
}

/** An installment as the API shows it: what of it is paid and whether it is late. */
export interface InstallmentView {
  id: string;
  position: number;
  dueDate: string;
  amount: string;
  paid: string;
  status: InstallmentStatus;
}

/**
 * The installment plans of some debts, in one statement. What is paid of a debt fills its
 * installments in plan (due-day) order: the first is paid off before the second gets anything.
 */
export async function installmentPlans(em: EntityManager, debts: readonly Pick<Debt, 'id' | 'paid'>[]): Promise<Map<string, InstallmentView[]>> {
  const plans = new Map<string, InstallmentView[]>(debts.map((debt) => [debt.id, []]));
  if (!debts.length) return plans;
  const ids = [...plans.keys()];
  // Plain SQL for the one thing the rows do not hold: whether a day has passed, by the database's clock.
  const rows = await em.execute<{ id: string; debt_id: string; position: number; due_date: string; amount: string; past_due: boolean }[]>(
    `select i.id, i.debt_id, i.position, i.due_date::text as due_date, i.amount::text as amount, i.due_date < ${TODAY} as past_due
       from crm_installment i where i.debt_id in (${placeholders(ids)}) order by i.debt_id, i.position`,
    ids,
  );
  const unallocated = new Map(debts.map((debt) => [debt.id, cents(debt.paid)]));
  for (const row of rows) {
    const amount = cents(row.amount);
    const left = unallocated.get(row.debt_id)!;
    const paid = left < amount ? left : amount;
    unallocated.set(row.debt_id, left - paid);
    const status: InstallmentStatus = paid === amount ? 'PAID' : row.past_due ? 'OVERDUE' : paid > 0n ? 'PARTIALLY_PAID' : 'DUE';
    plans.get(row.debt_id)!.push({ id: row.id, position: row.position, dueDate: row.due_date, amount: decimal(amount), paid: decimal(paid), status });
  }
  return plans;
}

// ---------------------------------------------------------------------------------------------
// Reads

/** What the viewer may do with debts (and so with their payments and plans), as a SQL filter; `null` when nothing. */
export function debtsWhere(viewer: Viewer, action: 'read' | 'update' = 'read'): FilterQuery<Debt> | null {
  return accessibleWhere(viewer.ability, action, 'Debt') as FilterQuery<Debt> | null;
}

/** A debt the viewer may read, or null — another company's id is simply not found. */
export async function findDebt(em: EntityManager, viewer: Viewer, id: string): Promise<Debt | null> {
  const where = debtsWhere(viewer);
  return where && isId(id) ? em.findOne(Debt, { $and: [{ id }, where] }) : null;
}

export interface DebtFilter {
  contactId?: string | null;
  status?: DebtStatus | null;
}

export interface DebtListArgs extends ConnectionArgs {
  filter?: DebtFilter | null;
}

const validateFilter = createValidator<DebtFilter>(
  {
    type: 'object',
    additionalProperties: false,
    properties: { contactId: { type: ['string', 'null'], format: 'uuid' }, status: { enum: [...DEBT_STATUSES, null] } },
  },
  'filter',
);

/** A page of the debts the viewer may read, newest first, filtered in SQL. */
export function listDebts(em: EntityManager, viewer: Viewer, args: DebtListArgs): Promise<Connection<Debt>> {
  const readable = debtsWhere(viewer);
  if (!readable) throw forbidden('This needs the permission crm.debt.read');
  const filter = validateFilter(args.filter ?? {});
  const where: FilterQuery<Debt>[] = [readable];
  if (filter.contactId) where.push({ contactId: filter.contactId });
  if (filter.status) where.push({ [raw((alias) => `${statusSql(alias)} = ?`, [filter.status])]: [] } as FilterQuery<Debt>);
  return paginate(em, Debt, { ...args, where: { $and: where }, orderBy: { createdAt: 'desc', id: 'desc' } });
}

// ---------------------------------------------------------------------------------------------
// Writes

export interface InstallmentInput {
  dueDate: string;
  amount: string;
}

export interface CreateDebtInput {
  contactId: string;
  amount: string;
  currency: string;
  description?: string | null;
  dueDate?: string | null;
  installments?: InstallmentInput[] | null;
}

export interface RecordPaymentInput {
  debtId: string;
  amount: string;
  paidAt?: string | null;
  method?: PaymentMethod | null;
  note?: string | null;
}

export interface SetInstallmentPlanInput {
  debtId: string;
  installments: InstallmentInput[];
}

// Amounts are checked in code (exact cents, readable messages); ajv checks shapes.
const installmentsSchema = {
  type: 'array',
  maxItems: 120,
  items: {
    type: 'object',
    additionalProperties: false,
    required: ['dueDate', 'amount'],
    properties: { dueDate: { type: 'string', format: 'date' }, amount: { type: 'string' } },
  },
};

const validateCreate = createValidator<CreateDebtInput>({
  type: 'object',
  additionalProperties: false,
  required: ['contactId', 'amount', 'currency'],
  properties: {
    contactId: { type: 'string', format: 'uuid' },
    amount: { type: 'string' },
    currency: { type: 'string' },
    description: { type: ['string', 'null'], maxLength: 2000 },
    dueDate: { type: ['string', 'null'], format: 'date' },
    installments: { ...installmentsSchema, type: ['array', 'null'] },
  },
});

const validatePayment = createValidator<RecordPaymentInput>({
  type: 'object',
  additionalProperties: false,
  required: ['debtId', 'amount'],
  properties: {
    debtId: { type: 'string', format: 'uuid' },
    amount: { type: 'string' },
    paidAt: { type: ['string', 'null'], format: 'date-time' },
    method: { enum: [...PAYMENT_METHODS, null] },
    note: { type: ['string', 'null'], maxLength: 2000 },
  },
});

const validatePlan = createValidator<SetInstallmentPlanInput>({
  type: 'object',
  additionalProperties: false,
  required: ['debtId', 'installments'],
  properties: { debtId: { type: 'string', format: 'uuid' }, installments: installmentsSchema },
});

/** The DateTime scalar hands a Date: checked as the ISO string it was. */
function withIsoPaidAt(input: unknown): unknown {
  const paidAt = (input as { paidAt?: unknown } | null)?.paidAt;
  return paidAt instanceof Date ? { ...(input as object), paidAt: paidAt.toISOString() } : input;
}

/** A plan checked against the debt's amount: positive amounts adding up exactly to it, days strictly increasing. */
function checkPlan(installments: readonly InstallmentInput[], debtAmount: bigint, path: string, fields: Record<string, string>): InstallmentInput[] {
  // In cents, 0 where the amount is refused (its field says why): never parsed again.
  const amounts = installments.map((installment, index) => {
    // ISO days compare as strings.
    if (index > 0 && installment.dueDate <= installments[index - 1]!.dueDate) fields[`${path}.${index}.dueDate`] = "must be after the previous installment's due date";
    return positiveAmount(installment.amount, `${path}.${index}.amount`, fields);
  });
  const total = amounts.reduce((sum, amount) => sum + amount, 0n);
  if (installments.length && !Object.keys(fields).some((field) => field.startsWith(`${path}.`)) && total !== debtAmount) {
    fields[path] = `must add up to the debt's amount ${decimal(debtAmount)} (they add up to ${decimal(total)})`;
  }
  return installments.map((installment, index) => ({ dueDate: installment.dueDate, amount: decimal(amounts[index]!) }));
}

/** Writes a plan's installments in the caller's unit of work. */
function createPlan(em: EntityManager, debt: Debt, plan: readonly InstallmentInput[]): void {
  plan.forEach((installment, position) => {
    em.create(Installment, { companyId: debt.companyId, debtId: debt.id, position, dueDate: installment.dueDate, amount: installment.amount } as Installment);
  });
}

const actorOf = (viewer: Viewer): string | null => (viewer.kind === 'user' ? viewer.id : null);

/**
 * Records a debt of a contact the viewer can see, with its installment plan if one is given (the
 * debt's due day is then the plan's last day). Adds an entry to the contact's timeline.
 */
export async function createDebt({ em, viewer }: CrmContext, input: unknown): Promise<Debt> {
  const data = validateCreate(input);
  const fields: Record<string, string> = {};
  const amount = positiveAmount(data.amount, 'input.amount', fields);
  if (!/^[A-Z]{3}$/.test(data.currency)) fields['input.currency'] = 'must be an ISO 4217 code in capitals, e.g. USD';
  const installments = data.installments ?? [];
  const plan = Object.keys(fields).length ? [] : checkPlan(installments, amount, 'input.installments', fields);
  const lastDay = installments.at(-1)?.dueDate;
  if (lastDay && data.dueDate && data.dueDate !== lastDay) fields['input.dueDate'] = "must be the last installment's due date (or be left out)";
  if (Object.keys(fields).length) throw new BadUserInputError(fields);

  return em.transactional(async (tx) => {
    const contact = await findContact(tx, viewer, data.contactId, { lock: LockMode.PESSIMISTIC_WRITE });
    if (!contact) throw new BadUserInputError({ 'input.contactId': 'is not a contact you can see' });
    if (contact.deletedAt) throw new BadUserInputError({ 'input.contactId': 'is a deleted contact' });
    const debt = tx.create(Debt, {
      companyId: viewer.companyId,
      branchId: contact.branchId,
      contactId: contact.id,
      amount: decimal(amount),
      currency: data.currency,
      description: data.description?.trim() || null,
      dueDate: lastDay ?? data.dueDate ?? null,
      paid: '0.00',
      createdById: actorOf(viewer),
    } as Debt);
    if (!viewer.ability.can('create', debt)) throw forbidden('You may not record debts in this branch');
    createPlan(tx, debt, plan);
    await recordActivity(tx, {
      contactId: contact.id,
      kind: 'crm.debt.created',
      title: `Debt of ${debt.amount} ${debt.currency}`,
      subjectType: 'Debt',
      subjectId: debt.id,
      actorId: debt.createdById,
      data: { amount: debt.amount, currency: debt.currency },
    });
    await tx.flush();
    return debt;
  });
}

/**
 * The debt with `id`, locked (`select … for update`) until the transaction ends, that the viewer
 * may change: NOT_FOUND when it cannot be seen, FORBIDDEN when it can only be read.
 */
async function lockDebt(tx: EntityManager, viewer: Viewer, id: string): Promise<Debt> {
  const readable = debtsWhere(viewer) ?? { id: null };
  // refresh: the locked row is read again even if this request loaded it before.
  const debt = await tx.findOne(Debt, { $and: [{ id }, readable] }, { lockMode: LockMode.PESSIMISTIC_WRITE, refresh: true });
  if (!debt) throw notFound('Debt');
  if (!viewer.ability.can('update', debt)) throw forbidden('You may not change debts of this branch');
  return debt;
}

/**
 * Records a payment against a debt. A payment larger than the balance is refused (BAD_USER_INPUT on
 * `input.amount`) and nothing is written. Payments of one debt are serialised by a row lock on the
 * debt, so parallel payments see each other's effect; `paid <= amount` in the database is the last guard.
 */
export async function recordPayment({ em, viewer, emit }: CrmContext, input: unknown): Promise<{ payment: Payment; debt: Debt }> {
  const data = validatePayment(withIsoPaidAt(input));
  const fields: Record<string, string> = {};
  const amount = positiveAmount(data.amount, 'input.amount', fields);
  const paidAt = data.paidAt ? new Date(data.paidAt) : new Date();
  // A minute of leeway for clocks that run a little ahead of the server's.
  if (paidAt.getTime() > Date.now() + 60_000) fields['input.paidAt'] = 'is in the future';
  if (Object.keys(fields).length) throw new BadUserInputError(fields);

  return em.transactional(async (tx) => {
    const debt = await lockDebt(tx, viewer, data.debtId);
    const balance = cents(debt.amount) - cents(debt.paid);
    if (amount > balance) {
      throw new BadUserInputError({ 'input.amount': balance === 0n ? 'is more than owed: the debt is paid' : `is more than the balance owed (${decimal(balance)} ${debt.currency})` });
    }
    const payment = tx.create(Payment, {
      companyId: debt.companyId,
      debtId: debt.id,
      contactId: debt.contactId,
      amount: decimal(amount),
      paidAt,
      method: data.method ?? 'OTHER',
      note: data.note?.trim() || null,
      recordedById: actorOf(viewer),
    } as Payment);
    debt.paid = decimal(cents(debt.paid) + amount);
    await recordActivity(tx, {
      contactId: debt.contactId,
      kind: 'crm.payment.recorded',
      title: `Payment of ${payment.amount} ${debt.currency}`,
      subjectType: 'Debt',
      subjectId: debt.id,
      actorId: payment.recordedById,
      data: { paymentId: payment.id, amount: payment.amount, currency: debt.currency, method: payment.method },
      occurredAt: paidAt,
    });
    emit(tx, 'crm.payment.recorded', { paymentId: payment.id, debtId: debt.id, contactId: debt.contactId, amount: payment.amount });
    await tx.flush();
    return { payment, debt };
  });
}

/**
 * Replaces a debt's installment plan (an empty list removes it). The amounts must add up exactly to
 * the debt's amount and the days strictly increase; the debt's due day becomes the plan's last day.
 */
export async function setInstallmentPlan({ em, viewer }: CrmContext, input: unknown): Promise<Debt> {
  const data = validatePlan(input);
  // Amount shapes first, so that a bad plan answers without a lookup.
  const shapes: Record<string, string> = {};
  for (const [index, installment] of data.installments.entries()) positiveAmount(installment.amount, `input.installments.${index}.amount`, shapes);
  if (Object.keys(shapes).length) throw new BadUserInputError(shapes);

  return em.transactional(async (tx) => {
    // Locked like a payment: a plan is replaced whole, never beside another change of the same debt.
    const debt = await lockDebt(tx, viewer, data.debtId);
    const fields: Record<string, string> = {};
    const plan = checkPlan(data.installments, cents(debt.amount), 'input.installments', fields);
    if (Object.keys(fields).length) throw new BadUserInputError(fields);
    await tx.nativeDelete(Installment, { debtId: debt.id });
    createPlan(tx, debt, plan);
    if (plan.length) debt.dueDate = plan.at(-1)!.dueDate;
    await tx.flush();
    return debt;
  });
}

/** Payments of some debts, oldest first, in one query. */
export async function paymentsOf(em: EntityManager, debtIds: readonly string[]): Promise<Map<string, Payment[]>> {
  const byDebt = new Map<string, Payment[]>(debtIds.map((id) => [id, []]));
  if (!debtIds.length) return byDebt;
  const payments = await em.find(Payment, { debtId: { $in: [...byDebt.keys()] } }, { orderBy: { paidAt: 'asc', id: 'asc' } });
  for (const payment of payments) byDebt.get(payment.debtId)!.push(payment);
  return byDebt;
}

/** The debts of some contacts that the viewer may read, newest first, in one query; null when the viewer may read no debts. */
export async function debtsOfContacts(em: EntityManager, viewer: Viewer, contactIds: readonly string[]): Promise<Map<string, Debt[]> | null> {
  const readable = debtsWhere(viewer);
  if (!readable) return null;
  const byContact = new Map<string, Debt[]>(contactIds.map((id) => [id, []]));
  if (!contactIds.length) return byContact;
  const debts = await em.find(Debt, { $and: [{ contactId: { $in: [...byContact.keys()] } }, readable] }, { orderBy: { createdAt: 'desc', id: 'desc' } });
  for (const debt of debts) byContact.get(debt.contactId)!.push(debt);
  return byContact;
}
