create table crm_debt (
  id uuid primary key,
  company_id uuid not null references company (id) on delete cascade,
  -- The contact's branch when the debt was recorded: MEMBERs see the debts of their branches.
  branch_id uuid not null references branch (id),
  contact_id uuid not null references crm_contact (id),
  amount numeric(14,2) not null,
  currency char(3) not null,
  description text,
  due_date date,
  -- The sum of the debt's payments, changed only with a payment insert under a row lock on the debt.
  paid numeric(14,2) not null default 0,
  created_by_id uuid references app_user (id),
  created_at timestamptz not null default now(),
  constraint crm_debt_amount_check check (amount > 0),
  -- The last guard against an overpayment: whatever the code does, nobody is owed a negative balance.
  constraint crm_debt_paid_check check (paid >= 0 and paid <= amount),
  constraint crm_debt_currency_check check (currency ~ '^[A-Z]{3}$')
);

-- debts(): a company's debts newest first (OWNER, ADMIN).
create index crm_debt_company_created_at_id_idx on crm_debt (company_id, created_at, id);
-- debts() for a MEMBER: the same order within the member's branches.
create index crm_debt_branch_created_at_id_idx on crm_debt (branch_id, created_at, id);
-- debts(filter: { contactId }) and Contact.debts.
create index crm_debt_contact_created_at_id_idx on crm_debt (contact_id, created_at, id);

create table crm_payment (
  id uuid primary key,
  company_id uuid not null references company (id) on delete cascade,
  debt_id uuid not null references crm_debt (id),
  contact_id uuid not null references crm_contact (id),
  amount numeric(14,2) not null,
  paid_at timestamptz not null,
  method text not null check (method in ('CASH', 'CARD', 'TRANSFER', 'OTHER')),
  note text,
  recorded_by_id uuid references app_user (id),
  created_at timestamptz not null default now(),
  constraint crm_payment_amount_check check (amount > 0)
);

-- Debt.payments: a page of debts' payments in one query, oldest first.
create index crm_payment_debt_paid_at_id_idx on crm_payment (debt_id, paid_at, id);
-- mergeContacts moves every reference to the merged contact by contact_id.
create index crm_payment_contact_idx on crm_payment (contact_id);

create table crm_installment (
  id uuid primary key,
  company_id uuid not null references company (id) on delete cascade,
  -- Deferred: a plan is written in the same flush as its debt (the ORM does not order by scalar references).
  debt_id uuid not null references crm_debt (id) on delete cascade deferrable initially deferred,
  position int not null,
  due_date date not null,
  amount numeric(14,2) not null,
  constraint crm_installment_amount_check check (amount > 0)
);

-- Debt.installments (in plan order) and the overdue test of debts(filter: { status }); one position per debt.
create unique index crm_installment_debt_position_key on crm_installment (debt_id, position);

-- Defence in depth behind the ORM's tenant filter (see docs/access-control.md).
select atrium_enable_tenant_rls('crm_debt');
select atrium_enable_tenant_rls('crm_payment');
select atrium_enable_tenant_rls('crm_installment');
