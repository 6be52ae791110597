import type { PermissionDeclaration } from '@atrium/core';

/**
 * The keys a company's roles can grant for the CRM (OWNER and ADMIN hold them all). Branch-scoped
 * subjects are limited to a MEMBER's branches.
 */
export const permissions: PermissionDeclaration[] = [
  { key: 'crm.contact.read', subject: 'Contact', actions: ['read'], branchScoped: true, description: 'See contacts, their notes and timeline' },
  { key: 'crm.contact.manage', subject: 'Contact', actions: ['create', 'update', 'delete'], branchScoped: true, description: 'Create, edit, merge, delete and restore contacts' },
  { key: 'crm.settings.manage', subject: 'CrmSettings', actions: ['read', 'update'], description: "Edit the company's CRM settings (the contacts' custom attribute schema)" },
  { key: 'crm.note.create', subject: 'CrmNote', actions: ['create'], branchScoped: true, description: 'Write notes on contacts and deals one can see' },
  { key: 'crm.product.read', subject: 'Product', actions: ['read'], description: 'See the product catalog' },
  { key: 'crm.product.manage', subject: 'Product', actions: ['create', 'update'], description: 'Edit products and their categories' },
  { key: 'crm.pipeline.manage', subject: 'Pipeline', actions: ['create', 'update'], description: 'Create and edit pipelines and their stages' },
  { key: 'crm.deal.read', subject: 'Deal', actions: ['read'], branchScoped: true, description: 'See pipelines and deals' },
  { key: 'crm.deal.manage', subject: 'Deal', actions: ['create', 'update'], branchScoped: true, description: 'Create deals, move them between stages, win and lose them' },
  { key: 'crm.task.read', subject: 'CrmTask', actions: ['read'], branchScoped: true, description: 'See tasks' },
  { key: 'crm.task.manage', subject: 'CrmTask', actions: ['create', 'update'], branchScoped: true, description: 'Create, assign and complete tasks' },
  { key: 'crm.debt.read', subject: 'Debt', actions: ['read'], branchScoped: true, description: "See contacts' debts, payments and installment plans" },
  { key: 'crm.debt.manage', subject: 'Debt', actions: ['create', 'update'], branchScoped: true, description: 'Record debts, payments and installment plans' },
];
