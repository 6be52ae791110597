create table guestbook_entry (
  id uuid primary key,
  author varchar(80) not null,
  message text not null,
  created_at timestamptz not null default now()
);

-- The list pages newest first: (created_at, id) scanned backwards.
create index guestbook_entry_created_at_id_idx on guestbook_entry (created_at, id);
