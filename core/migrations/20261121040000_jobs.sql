-- Background jobs. One-off jobs are rows written in the caller's transaction (like the outbox) and
-- leased by one instance at a time; periodic jobs have a schedule row whose next slot one instance
-- claims, so a job runs at most once per period across instances.
create table atrium_job (
  id uuid primary key,
  name varchar(200) not null,
  company_id uuid references company (id) on delete cascade,
  payload jsonb not null default '{}',
  run_at timestamptz not null default now(),
  attempts integer not null default 0,
  leased_until timestamptz,
  last_error text,
  done_at timestamptz,
  failed_at timestamptz,
  created_at timestamptz not null default now()
);
create index atrium_job_due_idx on atrium_job (run_at) where done_at is null and failed_at is null;
select atrium_enable_tenant_rls('atrium_job');

create table atrium_schedule (
  name varchar(200) primary key,
  next_run_at timestamptz not null,
  last_run_at timestamptz,
  last_error text
);
