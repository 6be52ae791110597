// What other modules may use of the CRM (its package's public API); everything else is internal.
export { Contact, ContactEmail, CrmSettings, CONTACT_KINDS, type ContactKind } from './entities/contact.ts';
export { ContactActivity } from './entities/activity.ts';
export { recordActivity, type ActivityInput } from './services/activity.ts';
export { Product, ProductCategory } from './entities/products.ts';
export { findProducts } from './services/products.ts';
export { DEAL_STATUSES, Deal, DealStageChange, Pipeline, PipelineStage } from './entities/deals.ts';
export { CrmNote, CrmTask } from './entities/tasks.ts';
export { Debt, Installment, PAYMENT_METHODS, Payment } from './entities/debts.ts';
export { findContact, contactsWhere, setContactBlocked, findOrCreateContactByEmail, type ContactByEmailInput } from './services/contacts.ts';
