-- Companies (tenants), their plans, branches, users, roles, sessions and API keys.

create table plan (
  id uuid primary key,
  code varchar(64) not null unique,
  name varchar(200) not null,
  modules text[] not null default '{}',
  limits jsonb not null default '{}',
  created_at timestamptz not null default now()
);

create table company (
  id uuid primary key,
  name varchar(200) not null,
  plan_id uuid not null references plan (id),
  -- Bumped whenever something every member's abilities depend on changes (plan, modules, roles).
  access_version integer not null default 1,
  created_at timestamptz not null default now()
);

-- Per-company module state: an override of the plan (enabled true/false, null = follow the plan),
-- and when the module was first enabled for the company (its onEnable hook ran).
create table company_module (
  company_id uuid not null references company (id) on delete cascade,
  module varchar(64) not null,
  enabled boolean,
  first_enabled_at timestamptz,
  primary key (company_id, module)
);

create table branch (
  id uuid primary key,
  company_id uuid not null references company (id) on delete cascade,
  name varchar(200) not null,
  created_at timestamptz not null default now()
);
create unique index branch_company_name_idx on branch (company_id, lower(name));

create table app_user (
  id uuid primary key,
  company_id uuid not null references company (id) on delete cascade,
  email varchar(254) not null,
  password_hash text not null,
  display_name varchar(200) not null,
  system_role varchar(16) not null check (system_role in ('OWNER', 'ADMIN', 'MEMBER')),
  active boolean not null default true,
  -- Bumped when this user's roles, branches or system role change.
  access_version integer not null default 1,
  created_at timestamptz not null default now(),
  deactivated_at timestamptz
);
-- One account per e-mail address: login needs no company.
create unique index app_user_email_idx on app_user (lower(email));
create index app_user_company_created_idx on app_user (company_id, created_at, id);

create table role (
  id uuid primary key,
  company_id uuid not null references company (id) on delete cascade,
  name varchar(100) not null,
  permissions text[] not null default '{}',
  created_at timestamptz not null default now()
);
create unique index role_company_name_idx on role (company_id, lower(name));

create table user_role (
  user_id uuid not null references app_user (id) on delete cascade,
  role_id uuid not null references role (id) on delete cascade,
  primary key (user_id, role_id)
);
create index user_role_role_idx on user_role (role_id);

create table user_branch (
  user_id uuid not null references app_user (id) on delete cascade,
  branch_id uuid not null references branch (id) on delete cascade,
  primary key (user_id, branch_id)
);
create index user_branch_branch_idx on user_branch (branch_id);

create table refresh_token (
  id uuid primary key,
  family_id uuid not null,
  user_id uuid not null references app_user (id) on delete cascade,
  token_hash char(64) not null,
  expires_at timestamptz not null,
  used_at timestamptz,
  revoked_at timestamptz,
  created_at timestamptz not null default now()
);
create index refresh_token_family_idx on refresh_token (family_id);

create table api_key (
  id uuid primary key,
  company_id uuid not null references company (id) on delete cascade,
  name varchar(100) not null,
  key_hash char(64) not null,
  permissions text[] not null default '{}',
  created_at timestamptz not null default now(),
  last_used_at timestamptz,
  revoked_at timestamptz
);
create index api_key_company_idx on api_key (company_id);

-- Row-level security, as defence in depth behind the ORM's tenant filter. Requests run their SQL as
-- the role atrium_tenant with app.company_id set to their company; a query that forgets the tenant
-- filter still sees only that company's rows. Modules call atrium_enable_tenant_rls('<table>') in
-- their migrations for every table with a company_id column.
do $$
begin
  if not exists (select 1 from pg_roles where rolname = 'atrium_tenant') then
    create role atrium_tenant nologin;
  end if;
exception when duplicate_object then null; -- created concurrently by another schema's migration
end
$$;

create function atrium_enable_tenant_rls(target regclass) returns void language plpgsql as $$
begin
  execute format('alter table %s enable row level security', target);
  execute format(
    'create policy tenant_isolation on %s using (company_id = nullif(current_setting(''app.company_id'', true), '''')::uuid) with check (company_id = nullif(current_setting(''app.company_id'', true), '''')::uuid)',
    target
  );
  execute format('grant select, insert, update, delete on %s to atrium_tenant', target);
end
$$;

-- The connecting role must be a member of atrium_tenant to switch to it (a superuser already may).
do $$
begin
  execute format('grant usage on schema %I to atrium_tenant', current_schema());
  if not (select rolsuper from pg_roles where rolname = current_user) then
    execute format('grant atrium_tenant to %I', current_user);
  end if;
end
$$;

grant select on plan to atrium_tenant;
grant update (access_version) on company to atrium_tenant;
grant select on company to atrium_tenant;
alter table company enable row level security;
create policy tenant_isolation on company
  using (id = nullif(current_setting('app.company_id', true), '')::uuid);

select atrium_enable_tenant_rls('company_module');
select atrium_enable_tenant_rls('branch');
select atrium_enable_tenant_rls('app_user');
select atrium_enable_tenant_rls('role');
select atrium_enable_tenant_rls('api_key');

-- Join tables carry no company_id: they are reached through their tenant-owned ends.
grant select, insert, update, delete on user_role, user_branch to atrium_tenant;
grant select, insert, update, delete on refresh_token to atrium_tenant;
