create table crm_pipeline (
  id uuid primary key,
  company_id uuid not null references company (id) on delete cascade,
  name varchar(100) not null,
  created_at timestamptz not null default now()
);

-- pipelines lists a company's pipelines oldest first.
create index crm_pipeline_company_created_at_idx on crm_pipeline (company_id, created_at, id);
-- Pipeline names are unique per company whatever their case (createPipeline/updatePipeline answer CONFLICT).
create unique index crm_pipeline_company_name_key on crm_pipeline (company_id, lower(name));

create table crm_pipeline_stage (
  id uuid primary key,
  company_id uuid not null references company (id) on delete cascade,
  -- Deferred: a pipeline and its stages are written in one flush (the ORM does not order inserts by scalar references).
  pipeline_id uuid not null references crm_pipeline (id) on delete cascade deferrable initially deferred,
  name varchar(100) not null,
  position integer not null,
  probability smallint check (probability >= 0 and probability <= 100),
  removed_at timestamptz,
  created_at timestamptz not null default now(),
  -- The target of crm_deal's (pipeline_id, stage_id) key: a deal's stage belongs to the deal's pipeline.
  constraint crm_pipeline_stage_pipeline_id_key unique (pipeline_id, id)
);

-- Pipeline.stages: a batch of pipelines' stages, in order.
create index crm_pipeline_stage_pipeline_position_idx on crm_pipeline_stage (pipeline_id, position);

create table crm_deal (
  id uuid primary key,
  company_id uuid not null references company (id) on delete cascade,
  branch_id uuid not null references branch (id),
  pipeline_id uuid not null references crm_pipeline (id),
  stage_id uuid not null,
  title varchar(200) not null,
  contact_id uuid references crm_contact (id),
  owner_id uuid references app_user (id),
  amount numeric(14,2) not null default 0 check (amount >= 0),
  currency char(3) not null check (currency ~ '^[A-Z]{3}$'),
  status text not null default 'OPEN' check (status in ('OPEN', 'WON', 'LOST')),
  lost_reason text,
  expected_close_date date,
  closed_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  -- No cascade: a stage holding deals is not removed (updatePipeline answers CONFLICT).
  constraint crm_deal_stage_fkey foreign key (pipeline_id, stage_id) references crm_pipeline_stage (pipeline_id, id)
);

-- deals pages a company's deals newest first.
create index crm_deal_company_created_at_idx on crm_deal (company_id, created_at, id);
-- pipelineBoard: a pipeline's deals of one status ranked per stage newest first, and the columns' counts
-- and totals; deals(filter: { pipelineId, status, stageId }).
create index crm_deal_board_idx on crm_deal (pipeline_id, status, stage_id, created_at, id);
-- updatePipeline's check that a removed stage holds no deals; deals(filter: { stageId }).
create index crm_deal_stage_idx on crm_deal (stage_id);
-- deals(filter: { contactId }), and mergeContacts moving a contact's references.
create index crm_deal_contact_idx on crm_deal (contact_id);
-- deals(filter: { ownerId }).
create index crm_deal_owner_idx on crm_deal (owner_id);

create table crm_deal_stage_change (
  id uuid primary key,
  company_id uuid not null references company (id) on delete cascade,
  -- Deferred: a new deal and its first history entry are written in one flush.
  deal_id uuid not null references crm_deal (id) on delete cascade deferrable initially deferred,
  from_stage_id uuid references crm_pipeline_stage (id),
  to_stage_id uuid not null references crm_pipeline_stage (id),
  changed_by_id uuid references app_user (id),
  changed_at timestamptz not null default now()
);

-- Deal.history: a batch of deals' moves, oldest first.
create index crm_deal_stage_change_deal_idx on crm_deal_stage_change (deal_id, changed_at, id);

-- Defence in depth behind the ORM's tenant filter (see docs/access-control.md).
select atrium_enable_tenant_rls('crm_pipeline');
select atrium_enable_tenant_rls('crm_pipeline_stage');
select atrium_enable_tenant_rls('crm_deal');
select atrium_enable_tenant_rls('crm_deal_stage_change');
