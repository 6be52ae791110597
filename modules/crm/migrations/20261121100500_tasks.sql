create table crm_task (
  id uuid primary key,
  company_id uuid not null references company (id) on delete cascade,
  branch_id uuid not null references branch (id),
  title varchar(200) not null,
  description text,
  assignee_id uuid references app_user (id),
  due_at timestamptz,
  done boolean not null default false,
  done_at timestamptz,
  completed_by_id uuid references app_user (id),
  -- Foreign keys to contacts also let mergeContacts find and move these references.
  contact_id uuid references crm_contact (id) on delete cascade,
  deal_id uuid references crm_deal (id) on delete cascade,
  created_by_id uuid references app_user (id),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

-- tasks (default order: due soonest, undated last); the MEMBER's branch filter rides the same scan.
create index crm_task_company_due_idx on crm_task (company_id, due_at, id);
-- tasks(orderBy: NEWEST).
create index crm_task_company_created_idx on crm_task (company_id, created_at, id);
-- tasks(filter: { mine } or { assigneeId }), optionally with done.
create index crm_task_assignee_idx on crm_task (assignee_id, done, due_at, id);
-- tasks(filter: { contactId }) and Contact.tasks (open ones, by due date).
create index crm_task_contact_idx on crm_task (contact_id, done, due_at, id);
-- tasks(filter: { dealId }).
create index crm_task_deal_idx on crm_task (deal_id, done, due_at, id);

create table crm_note (
  id uuid primary key,
  company_id uuid not null references company (id) on delete cascade,
  branch_id uuid not null references branch (id),
  body text not null,
  contact_id uuid references crm_contact (id) on delete cascade,
  deal_id uuid references crm_deal (id) on delete cascade,
  author_id uuid references app_user (id),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint crm_note_body_check check (char_length(body) >= 1 and char_length(body) <= 10000),
  -- A note is on exactly one record.
  constraint crm_note_one_target check (num_nonnulls(contact_id, deal_id) = 1)
);

-- notes(contactId), newest first.
create index crm_note_contact_idx on crm_note (contact_id, created_at, id);
-- notes(dealId), newest first.
create index crm_note_deal_idx on crm_note (deal_id, created_at, id);

-- Defence in depth behind the ORM's tenant filter (see docs/access-control.md).
select atrium_enable_tenant_rls('crm_task');
select atrium_enable_tenant_rls('crm_note');
