create table messenger_inbox (
  id uuid primary key,
  company_id uuid not null references company (id) on delete cascade,
  branch_id uuid not null references branch (id),
  name varchar(100) not null,
  channel text not null check (channel in ('API', 'WEB_WIDGET')),
  token varchar(64) not null,
  auto_assign boolean not null default true,
  max_open_per_agent integer check (max_open_per_agent > 0),
  assignment_limit integer not null default 10 check (assignment_limit > 0),
  assignment_window_seconds integer not null default 60 check (assignment_window_seconds > 0),
  working_hours jsonb,
  timezone varchar(64) not null default 'UTC',
  out_of_office_message text,
  lock_to_single_conversation boolean not null default false,
  allow_messages_after_resolved boolean not null default true,
  created_at timestamptz not null default now()
);
-- inboxes lists a company's inboxes by name; names are unique per company whatever their case.
create unique index messenger_inbox_company_name_key on messenger_inbox (company_id, lower(name));
-- widgetStartSession finds the inbox by its public token, across companies.
create unique index messenger_inbox_token_key on messenger_inbox (token);

create table messenger_inbox_member (
  inbox_id uuid not null references messenger_inbox (id) on delete cascade,
  user_id uuid not null references app_user (id),
  company_id uuid not null references company (id) on delete cascade,
  created_at timestamptz not null default now(),
  primary key (inbox_id, user_id)
);
-- The inboxes an agent answers (conversation read access, unread counts per inbox).
create index messenger_inbox_member_user_idx on messenger_inbox_member (user_id);

create table messenger_contact_inbox (
  id uuid primary key,
  company_id uuid not null references company (id) on delete cascade,
  inbox_id uuid not null references messenger_inbox (id) on delete cascade,
  contact_id uuid not null references crm_contact (id),
  source_id varchar(255) not null,
  pubsub_token varchar(64) not null,
  created_at timestamptz not null default now()
);
create unique index messenger_contact_inbox_source_key on messenger_contact_inbox (inbox_id, source_id);
-- Widget requests find their session by its token, across companies.
create unique index messenger_contact_inbox_token_key on messenger_contact_inbox (pubsub_token);
-- mergeContacts (crm) moves a contact's references; a contact's inboxes.
create index messenger_contact_inbox_contact_idx on messenger_contact_inbox (contact_id);

create table messenger_team (
  id uuid primary key,
  company_id uuid not null references company (id) on delete cascade,
  name varchar(100) not null,
  created_at timestamptz not null default now()
);
create unique index messenger_team_company_name_key on messenger_team (company_id, lower(name));

create table messenger_team_member (
  team_id uuid not null references messenger_team (id) on delete cascade,
  user_id uuid not null references app_user (id),
  company_id uuid not null references company (id) on delete cascade,
  primary key (team_id, user_id)
);

create table messenger_counter (
  company_id uuid primary key references company (id) on delete cascade,
  last_display_id integer not null default 0
);

create table messenger_conversation (
  id uuid primary key,
  company_id uuid not null references company (id) on delete cascade,
  branch_id uuid not null references branch (id),
  display_id integer not null,
  kind text not null default 'INBOX' check (kind in ('INBOX', 'ROOM', 'RECORD')),
  inbox_id uuid references messenger_inbox (id) on delete cascade,
  contact_id uuid references crm_contact (id),
  contact_inbox_id uuid references messenger_contact_inbox (id) on delete cascade,
  title varchar(200),
  room_name varchar(50),
  subject_type varchar(100),
  subject_id uuid,
  status text not null default 'OPEN' check (status in ('OPEN', 'PENDING', 'SNOOZED', 'RESOLVED')),
  snoozed_until timestamptz,
  priority text check (priority in ('LOW', 'MEDIUM', 'HIGH', 'URGENT')),
  assignee_id uuid references app_user (id),
  team_id uuid references messenger_team (id) on delete set null,
  labels text[] not null default '{}',
  custom_attributes jsonb not null default '{}',
  last_activity_at timestamptz not null default now(),
  waiting_since timestamptz,
  first_reply_created_at timestamptz,
  agent_last_seen_at timestamptz,
  contact_last_seen_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  -- snoozedUntil is set only while SNOOZED.
  constraint messenger_conversation_snooze_check check ((status = 'SNOOZED') = (snoozed_until is not null)),
  constraint messenger_conversation_kind_fields_check check (
    (kind = 'INBOX' and inbox_id is not null and contact_id is not null)
    or (kind = 'ROOM' and room_name is not null and inbox_id is null)
    or (kind = 'RECORD' and subject_type is not null and subject_id is not null and inbox_id is null)
  ),
  -- displayId counts per company.
  constraint messenger_conversation_company_display_key unique (company_id, display_id)
);
-- conversations lists the newest activity first, per company and per inbox (and filters).
create index messenger_conversation_company_activity_idx on messenger_conversation (company_id, last_activity_at desc, id desc);
create index messenger_conversation_inbox_activity_idx on messenger_conversation (inbox_id, last_activity_at desc, id desc);
-- Assignment: an agent's open conversations (the cap), conversations(filter: { assigneeId }).
create index messenger_conversation_assignee_idx on messenger_conversation (assignee_id, status);
-- The contact's conversations of an inbox (lockToSingleConversation, the widget's conversation).
create index messenger_conversation_contact_inbox_idx on messenger_conversation (contact_inbox_id, created_at desc);
create index messenger_conversation_contact_idx on messenger_conversation (contact_id);
-- The snooze job's due conversations.
create index messenger_conversation_snoozed_idx on messenger_conversation (snoozed_until) where status = 'SNOOZED';
-- One chat per record of another module.
create unique index messenger_conversation_subject_key on messenger_conversation (company_id, subject_type, subject_id) where kind = 'RECORD';

create table messenger_participant (
  conversation_id uuid not null references messenger_conversation (id) on delete cascade,
  user_id uuid not null references app_user (id),
  company_id uuid not null references company (id) on delete cascade,
  created_at timestamptz not null default now(),
  primary key (conversation_id, user_id)
);
create index messenger_participant_user_idx on messenger_participant (user_id);

create table messenger_read_state (
  conversation_id uuid not null references messenger_conversation (id) on delete cascade,
  user_id uuid not null references app_user (id),
  company_id uuid not null references company (id) on delete cascade,
  last_seen_at timestamptz not null,
  primary key (conversation_id, user_id)
);

create table messenger_message (
  id uuid primary key,
  company_id uuid not null references company (id) on delete cascade,
  -- Deferred: a conversation and its first message are written in one flush.
  conversation_id uuid not null references messenger_conversation (id) on delete cascade deferrable initially deferred,
  dedup_scope uuid not null,
  message_type text not null check (message_type in ('INCOMING', 'OUTGOING', 'ACTIVITY')),
  private boolean not null default false,
  content text check (char_length(content) <= 150000),
  content_attributes jsonb not null default '{}',
  sender_type text not null check (sender_type in ('USER', 'CONTACT', 'SYSTEM')),
  sender_user_id uuid references app_user (id),
  sender_contact_id uuid references crm_contact (id),
  reply_to_id uuid,
  status text not null default 'SENT' check (status in ('SENT', 'DELIVERED', 'READ', 'FAILED')),
  source_id varchar(255),
  edited_at timestamptz,
  deleted_at timestamptz,
  created_at timestamptz not null default now(),
  constraint messenger_message_conversation_id_key unique (conversation_id, id),
  -- A reply quotes a message of the same conversation.
  constraint messenger_message_reply_fkey foreign key (conversation_id, reply_to_id) references messenger_message (conversation_id, id) deferrable initially deferred
);
-- messages pages a conversation's history backwards; unread counts (messages after last seen).
create index messenger_message_conversation_created_idx on messenger_message (conversation_id, created_at, id);
-- The same sourceId in an inbox (or a conversation outside inboxes) never makes a second message.
create unique index messenger_message_source_key on messenger_message (dedup_scope, source_id) where source_id is not null;
create index messenger_message_sender_contact_idx on messenger_message (sender_contact_id) where sender_contact_id is not null;

create table messenger_message_change (
  id uuid primary key,
  company_id uuid not null references company (id) on delete cascade,
  message_id uuid not null references messenger_message (id) on delete cascade,
  kind text not null check (kind in ('EDITED', 'DELETED')),
  previous_content text,
  changed_by_id uuid not null references app_user (id),
  created_at timestamptz not null default now()
);
create index messenger_message_change_message_idx on messenger_message_change (message_id, created_at);

create table messenger_attachment (
  id uuid primary key,
  company_id uuid not null references company (id) on delete cascade,
  message_id uuid not null references messenger_message (id) on delete cascade deferrable initially deferred,
  file_name varchar(255) not null,
  content_type varchar(255) not null,
  byte_size integer not null check (byte_size >= 0),
  storage_key varchar(300) not null,
  created_at timestamptz not null default now()
);
create index messenger_attachment_message_idx on messenger_attachment (message_id);

select atrium_enable_tenant_rls('messenger_inbox');
select atrium_enable_tenant_rls('messenger_inbox_member');
select atrium_enable_tenant_rls('messenger_contact_inbox');
select atrium_enable_tenant_rls('messenger_team');
select atrium_enable_tenant_rls('messenger_team_member');
select atrium_enable_tenant_rls('messenger_counter');
select atrium_enable_tenant_rls('messenger_conversation');
select atrium_enable_tenant_rls('messenger_participant');
select atrium_enable_tenant_rls('messenger_read_state');
select atrium_enable_tenant_rls('messenger_message');
select atrium_enable_tenant_rls('messenger_message_change');
select atrium_enable_tenant_rls('messenger_attachment');
