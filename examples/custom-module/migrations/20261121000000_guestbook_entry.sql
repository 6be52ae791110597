create table guestbook_entry (
  id uuid primary key,
  company_id uuid not null references company (id) on delete cascade,
  author varchar(80) not null,
  message text not null,
  created_at timestamptz not null default now()
);

-- The list pages a company's entries newest first: (company_id, created_at, id) scanned backwards.
create index guestbook_entry_company_created_at_id_idx on guestbook_entry (company_id, created_at, id);

-- Defence in depth behind the ORM's tenant filter (see docs/access-control.md).
select atrium_enable_tenant_rls('guestbook_entry');
