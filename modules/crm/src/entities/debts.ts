import { createdAt, defineEntity, money, p, primaryId, type InferEntity } from '@atrium/core';

export const PAYMENT_METHODS = ['CASH', 'CARD', 'TRANSFER', 'OTHER'] as const;
export type PaymentMethod = (typeof PAYMENT_METHODS)[number];

/**
 * What a contact owes the company. Branch-scoped through `branchId`, copied from the contact when
 * the debt is recorded. `paid` is the sum of the debt's payments: it only changes in the transaction
 * that inserts a payment, under a row lock on the debt, and the database refuses `paid > amount`.
 */
export const Debt = defineEntity({
  name: 'Debt',
  tableName: 'crm_debt',
  // The queries each index serves are named in the migration.
  indexes: [
    { name: 'crm_debt_company_created_at_id_idx', properties: ['companyId', 'createdAt', 'id'] },
    { name: 'crm_debt_branch_created_at_id_idx', properties: ['branchId', 'createdAt', 'id'] },
    { name: 'crm_debt_contact_created_at_id_idx', properties: ['contactId', 'createdAt', 'id'] },
  ],
  checks: [
    { name: 'crm_debt_amount_check', expression: 'amount > 0' },
    { name: 'crm_debt_paid_check', expression: 'paid >= 0 and paid <= amount' },
    { name: 'crm_debt_currency_check', expression: "currency ~ '^[A-Z]{3}$'" },
  ],
  properties: {
    id: primaryId(),
    companyId: p.uuid(),
    branchId: p.uuid(),
    contactId: p.uuid(),
    amount: money(),
    /** ISO 4217 code; payments are in the debt's currency. */
    currency: p.string().columnType('char(3)'),
    description: p.text().nullable(),
    /** When everything is due (a calendar day, `YYYY-MM-DD`); with an installment plan, its last installment's day. */
    dueDate: p.date().nullable(),
    paid: money().defaultRaw('0'),
    createdById: p.uuid().nullable(),
    createdAt: createdAt(),
  },
});
export type Debt = InferEntity<typeof Debt>;

/** Money received against a debt. Its access follows the debt's. */
export const Payment = defineEntity({
  name: 'Payment',
  tableName: 'crm_payment',
  indexes: [
    { name: 'crm_payment_debt_paid_at_id_idx', properties: ['debtId', 'paidAt', 'id'] },
    { name: 'crm_payment_contact_idx', properties: ['contactId'] },
  ],
  checks: [{ name: 'crm_payment_amount_check', expression: 'amount > 0' }],
  properties: {
    id: primaryId(),
    companyId: p.uuid(),
    debtId: p.uuid(),
    /** The debt's contact, copied: a contact's payments are found without the debt. */
    contactId: p.uuid(),
    amount: money(),
    paidAt: p.datetime(),
    method: p.enum(() => [...PAYMENT_METHODS]).columnType('text'),
    note: p.text().nullable(),
    recordedById: p.uuid().nullable(),
    createdAt: createdAt(),
  },
});
export type Payment = InferEntity<typeof Payment>;

/**
 * One line of a debt's installment plan: `amount` due on `dueDate`. A plan's amounts add up to the
 * debt's amount and its days strictly increase with `position`; payments fill installments in that order.
 */
export const Installment = defineEntity({
  name: 'Installment',
  tableName: 'crm_installment',
  uniques: [{ name: 'crm_installment_debt_position_key', properties: ['debtId', 'position'] }],
  checks: [{ name: 'crm_installment_amount_check', expression: 'amount > 0' }],
  properties: {
    id: primaryId(),
    companyId: p.uuid(),
    debtId: p.uuid(),
    position: p.integer(),
    dueDate: p.date(),
    amount: money(),
  },
});
export type Installment = InferEntity<typeof Installment>;
