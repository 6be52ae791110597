create table crm_contact (
  id uuid primary key,
  company_id uuid not null references company (id) on delete cascade,
  branch_id uuid not null references branch (id),
  kind text not null check (kind in ('PERSON', 'ORGANIZATION')),
  name varchar(200) not null,
  emails text[] not null default '{}',
  phones text[] not null default '{}',
  identifier varchar(200),
  owner_id uuid references app_user (id),
  labels text[] not null default '{}',
  blocked boolean not null default false,
  custom_attributes jsonb not null default '{}',
  search_text text not null default '',
  search tsvector generated always as (to_tsvector('simple', search_text)) stored,
  last_activity_at timestamptz,
  deleted_at timestamptz,
  merged_into_id uuid references crm_contact (id),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

-- Lists page a company's live contacts by name; the MEMBER's branch filter rides the same index.
create index crm_contact_company_name_id_idx on crm_contact (company_id, name, id) where deleted_at is null;
create index crm_contact_company_branch_idx on crm_contact (company_id, branch_id) where deleted_at is null;
-- Search by name, identifier, e-mail and phone (prefix matches on words).
create index crm_contact_search_idx on crm_contact using gin (search);
create index crm_contact_labels_idx on crm_contact using gin (labels);
create unique index crm_contact_company_identifier_key on crm_contact (company_id, identifier) where identifier is not null;

-- One row per address: e-mail addresses are unique per company (stored lower-case).
create table crm_contact_email (
  company_id uuid not null references company (id) on delete cascade,
  email varchar(320) not null,
  -- Deferred: the ORM does not order inserts by scalar references; the claim and its contact share a transaction.
  contact_id uuid not null references crm_contact (id) on delete cascade deferrable initially deferred,
  primary key (company_id, email)
);
create index crm_contact_email_contact_idx on crm_contact_email (contact_id);

create table crm_settings (
  company_id uuid primary key references company (id) on delete cascade,
  contact_attribute_schema jsonb not null default '{}',
  default_phone_country varchar(2),
  updated_at timestamptz not null default now()
);

-- Defence in depth behind the ORM's tenant filter (see docs/access-control.md).
select atrium_enable_tenant_rls('crm_contact');
select atrium_enable_tenant_rls('crm_contact_email');
select atrium_enable_tenant_rls('crm_settings');
