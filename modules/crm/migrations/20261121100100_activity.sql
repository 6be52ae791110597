create table crm_contact_activity (
  id uuid primary key,
  company_id uuid not null references company (id) on delete cascade,
  -- Deferred: an entry may be written in the same flush as its contact (the ORM does not order by scalar references).
  contact_id uuid not null references crm_contact (id) on delete cascade deferrable initially deferred,
  kind varchar(100) not null,
  title text not null,
  subject_type varchar(100),
  subject_id uuid,
  actor_id uuid references app_user (id),
  data jsonb not null default '{}',
  occurred_at timestamptz not null default now()
);

-- A contact's timeline is paged newest first.
create index crm_contact_activity_contact_occurred_idx on crm_contact_activity (contact_id, occurred_at, id);

select atrium_enable_tenant_rls('crm_contact_activity');
