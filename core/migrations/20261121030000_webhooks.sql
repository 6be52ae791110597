-- Webhooks: a company's HTTP endpoints for its events. Deliveries ride on the outbox's delivery rows
-- (target 'webhook:<id>'), so they retry with the same backoff and form the delivery log.
create table webhook (
  id uuid primary key,
  company_id uuid not null references company (id) on delete cascade,
  url varchar(2000) not null,
  events text[] not null,
  -- Kept in clear: it signs every delivery (HMAC-SHA256); never answered through the API.
  secret varchar(200) not null,
  active boolean not null default true,
  consecutive_failures integer not null default 0,
  disabled_at timestamptz,
  created_at timestamptz not null default now()
);
create index webhook_company_idx on webhook (company_id) where active;
select atrium_enable_tenant_rls('webhook');

alter table atrium_event_delivery add column response_status integer;
