-- The transactional outbox: events written in the same transaction as the change they describe,
-- dispatched after commit, kept until every delivery is done and the retention period has passed.
create table atrium_event (
  id uuid primary key,
  name varchar(200) not null,
  company_id uuid references company (id) on delete cascade,
  payload jsonb not null,
  occurred_at timestamptz not null default now(),
  dispatched_at timestamptz
);
create index atrium_event_pending_idx on atrium_event (id) where dispatched_at is null;
create index atrium_event_dispatched_idx on atrium_event (dispatched_at) where dispatched_at is not null;

-- One row per event and listener: retried with backoff until done (at least once), leased so that
-- one instance runs it at a time.
create table atrium_event_delivery (
  event_id uuid not null references atrium_event (id) on delete cascade,
  target varchar(200) not null,
  attempts integer not null default 0,
  next_attempt_at timestamptz not null default now(),
  leased_until timestamptz,
  last_error text,
  done_at timestamptz,
  failed_at timestamptz,
  primary key (event_id, target)
);
create index atrium_event_delivery_due_idx on atrium_event_delivery (next_attempt_at) where done_at is null and failed_at is null;

-- Requests write events under row-level security like any tenant row.
select atrium_enable_tenant_rls('atrium_event');
grant select, insert, update, delete on atrium_event_delivery to atrium_tenant;
