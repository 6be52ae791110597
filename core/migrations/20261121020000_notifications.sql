-- In-app notifications: one row per recipient, created by modules (usually from event listeners).
create table notification (
  id uuid primary key,
  company_id uuid not null references company (id) on delete cascade,
  user_id uuid not null references app_user (id) on delete cascade,
  type varchar(100) not null,
  title varchar(500) not null,
  body text,
  link jsonb,
  read_at timestamptz,
  created_at timestamptz not null default now()
);
-- A user's list, newest first, and the unread count.
create index notification_user_created_idx on notification (user_id, created_at, id);
create index notification_user_unread_idx on notification (user_id) where read_at is null;
select atrium_enable_tenant_rls('notification');
