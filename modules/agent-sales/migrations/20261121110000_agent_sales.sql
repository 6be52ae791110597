-- Goods handed to an agent. agent_id is a user of the company (never deleted, only deactivated).
create table agent_transfer (
  id uuid primary key,
  company_id uuid not null references company (id) on delete cascade,
  agent_id uuid not null references app_user (id),
  status text not null default 'DRAFT' check (status in ('DRAFT', 'SENT', 'ACCEPTED', 'PARTIALLY_ACCEPTED', 'REJECTED')),
  note text,
  reject_reason text,
  created_by_id uuid references app_user (id),
  created_at timestamptz not null default now(),
  sent_at timestamptz,
  -- When the agent accepted or rejected it.
  decided_at timestamptz
);

-- agentTransfers() newest first, and filtered by agent.
create index agent_transfer_company_created_idx on agent_transfer (company_id, created_at, id);
create index agent_transfer_agent_created_idx on agent_transfer (agent_id, created_at, id);

-- One product of a transfer: a FIFO layer of the agent's stock once accepted.
create table agent_transfer_line (
  id uuid primary key,
  company_id uuid not null references company (id) on delete cascade,
  -- Deferred here and below: the ORM writes a row and the rows referring to it in one flush, in no set order.
  transfer_id uuid not null references agent_transfer (id) deferrable initially deferred,
  -- The transfer's agent, copied so that the checkout's FIFO lock reads one index without a join.
  agent_id uuid not null references app_user (id),
  product_id uuid not null references crm_product (id),
  position int not null,
  qty_sent int not null check (qty_sent > 0),
  qty_accepted int check (qty_accepted >= 0 and qty_accepted <= qty_sent),
  -- Orders the FIFO layers (then id).
  accepted_at timestamptz,
  -- accepted - returned - allocated + refunded, changed only under a row lock on the line in the
  -- transaction that writes the row it accounts for; the check is the last guard against overselling.
  remaining int not null default 0,
  constraint agent_transfer_line_remaining_check check (remaining >= 0 and remaining <= coalesce(qty_accepted, 0))
);

create unique index agent_transfer_line_transfer_position_key on agent_transfer_line (transfer_id, position);
-- The checkout's FIFO lock (agent, products, oldest first) and agentOnHand: only layers with stock.
create index agent_transfer_line_fifo_idx on agent_transfer_line (agent_id, product_id, accepted_at, id) where remaining > 0;
-- agentAnalytics: accepted in a period.
create index agent_transfer_line_agent_accepted_idx on agent_transfer_line (agent_id, accepted_at);

create table agent_return (
  id uuid primary key,
  company_id uuid not null references company (id) on delete cascade,
  transfer_line_id uuid not null references agent_transfer_line (id),
  agent_id uuid not null references app_user (id),
  product_id uuid not null references crm_product (id),
  quantity int not null check (quantity > 0),
  recorded_by_id uuid references app_user (id),
  created_at timestamptz not null default now()
);

-- The ledger derivation per line, and agentAnalytics: returned in a period.
create index agent_return_line_idx on agent_return (transfer_line_id);
create index agent_return_agent_created_idx on agent_return (agent_id, created_at);

-- An agent's cart; an agent may keep several open (one per customer at the door).
create table agent_cart (
  id uuid primary key,
  company_id uuid not null references company (id) on delete cascade,
  agent_id uuid not null references app_user (id),
  status text not null default 'OPEN' check (status in ('OPEN', 'CHECKED_OUT')),
  created_at timestamptz not null default now(),
  checked_out_at timestamptz
);

-- agentCarts and the default cart: the agent's open carts, oldest first.
create index agent_cart_agent_status_idx on agent_cart (agent_id, status, created_at, id);

create table agent_cart_line (
  id uuid primary key,
  company_id uuid not null references company (id) on delete cascade,
  cart_id uuid not null references agent_cart (id) deferrable initially deferred,
  product_id uuid not null references crm_product (id),
  quantity int not null check (quantity > 0),
  unit_price numeric(14,2) not null check (unit_price >= 0),
  -- An amount off the line's price times quantity.
  discount numeric(14,2) not null default 0 check (discount >= 0),
  created_at timestamptz not null default now(),
  constraint agent_cart_line_discount_worth_check check (discount <= unit_price * quantity)
);

create index agent_cart_line_cart_idx on agent_cart_line (cart_id, created_at, id);

create table agent_sale (
  id uuid primary key,
  company_id uuid not null references company (id) on delete cascade,
  agent_id uuid not null references app_user (id),
  cart_id uuid not null references agent_cart (id),
  customer_id uuid references crm_contact (id),
  idempotency_key varchar(200) not null,
  total numeric(14,2) not null check (total >= 0),
  status text not null default 'COMPLETED' check (status in ('COMPLETED', 'PARTIALLY_REFUNDED', 'REFUNDED')),
  created_at timestamptz not null default now()
);

-- A repeated checkout answers the sale of its key: the database keeps one, also for two at once.
create unique index agent_sale_idempotency_key on agent_sale (company_id, agent_id, idempotency_key);
-- A cart is sold once.
create unique index agent_sale_cart_key on agent_sale (cart_id);
-- agentSales() newest first, filtered by agent; agentAnalytics: sales in a period.
create index agent_sale_company_created_idx on agent_sale (company_id, created_at, id);
create index agent_sale_agent_created_idx on agent_sale (agent_id, created_at, id);
-- mergeContacts moves references to a merged contact.
create index agent_sale_customer_idx on agent_sale (customer_id);

create table agent_sale_line (
  id uuid primary key,
  company_id uuid not null references company (id) on delete cascade,
  sale_id uuid not null references agent_sale (id) deferrable initially deferred,
  product_id uuid not null references crm_product (id),
  position int not null,
  quantity int not null check (quantity > 0),
  unit_price numeric(14,2) not null check (unit_price >= 0),
  discount numeric(14,2) not null check (discount >= 0),
  total numeric(14,2) not null check (total >= 0)
);

create unique index agent_sale_line_sale_position_key on agent_sale_line (sale_id, position);

-- Which transfer line (FIFO layer) each sold unit came from.
create table agent_allocation (
  id uuid primary key,
  company_id uuid not null references company (id) on delete cascade,
  sale_line_id uuid not null references agent_sale_line (id) deferrable initially deferred,
  transfer_line_id uuid not null references agent_transfer_line (id),
  quantity int not null check (quantity > 0),
  -- The database clock when written, after the FIFO lock was taken: orders allocations as the locks did.
  created_at timestamptz not null default clock_timestamp()
);

create index agent_allocation_sale_line_idx on agent_allocation (sale_line_id);
create index agent_allocation_transfer_line_idx on agent_allocation (transfer_line_id);

create table agent_refund (
  id uuid primary key,
  company_id uuid not null references company (id) on delete cascade,
  sale_id uuid not null references agent_sale (id),
  agent_id uuid not null references app_user (id),
  total numeric(14,2) not null check (total >= 0),
  created_by_id uuid references app_user (id),
  created_at timestamptz not null default now()
);

create index agent_refund_sale_idx on agent_refund (sale_id, created_at, id);
create index agent_refund_agent_created_idx on agent_refund (agent_id, created_at);

create table agent_refund_line (
  id uuid primary key,
  company_id uuid not null references company (id) on delete cascade,
  refund_id uuid not null references agent_refund (id) deferrable initially deferred,
  sale_line_id uuid not null references agent_sale_line (id),
  quantity int not null check (quantity > 0),
  amount numeric(14,2) not null check (amount >= 0)
);

create index agent_refund_line_refund_idx on agent_refund_line (refund_id);
create index agent_refund_line_sale_line_idx on agent_refund_line (sale_line_id);

-- The units a refund line put back on a transfer line, per allocation it undid.
create table agent_refund_allocation (
  id uuid primary key,
  company_id uuid not null references company (id) on delete cascade,
  refund_line_id uuid not null references agent_refund_line (id) deferrable initially deferred,
  allocation_id uuid not null references agent_allocation (id),
  transfer_line_id uuid not null references agent_transfer_line (id),
  quantity int not null check (quantity > 0)
);

create index agent_refund_allocation_refund_line_idx on agent_refund_allocation (refund_line_id);
create index agent_refund_allocation_allocation_idx on agent_refund_allocation (allocation_id);
create index agent_refund_allocation_transfer_line_idx on agent_refund_allocation (transfer_line_id);

-- Defence in depth behind the ORM's tenant filter (see docs/access-control.md).
select atrium_enable_tenant_rls('agent_transfer');
select atrium_enable_tenant_rls('agent_transfer_line');
select atrium_enable_tenant_rls('agent_return');
select atrium_enable_tenant_rls('agent_cart');
select atrium_enable_tenant_rls('agent_cart_line');
select atrium_enable_tenant_rls('agent_sale');
select atrium_enable_tenant_rls('agent_sale_line');
select atrium_enable_tenant_rls('agent_allocation');
select atrium_enable_tenant_rls('agent_refund');
select atrium_enable_tenant_rls('agent_refund_line');
select atrium_enable_tenant_rls('agent_refund_allocation');
