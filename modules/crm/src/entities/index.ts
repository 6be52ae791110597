import { ContactActivity } from './activity.ts';
import { Contact, ContactEmail, CrmSettings } from './contact.ts';
import { Deal, DealStageChange, Pipeline, PipelineStage } from './deals.ts';
import { Debt, Installment, Payment } from './debts.ts';
import { Product, ProductCategory } from './products.ts';
import { CrmNote, CrmTask } from './tasks.ts';

/** Every entity the module owns (the ORM loads them; migrations/ creates their tables). */
export const entities = [Contact, ContactEmail, CrmSettings, ContactActivity, Product, ProductCategory, Debt, Payment, Installment, Pipeline, PipelineStage, Deal, DealStageChange, CrmTask, CrmNote];
