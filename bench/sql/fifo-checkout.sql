-- Scenario 4's plain-SQL floor: one checkout per transaction, as a hand-written service would do
-- it against the agent sales module's own tables, run by pgbench (-M prepared -D k=0). Each pgbench
-- client sells, at its k-th transaction, the cart bench_fifo_queue names for it (the same carts
-- Atrium's clients sell). Like checkoutAgentCart: lock the cart; lock the agent's layers of the
-- product that have stock FOR UPDATE, oldest first (accepted_at, id; no SKIP LOCKED); check the
-- total under the lock; then, in one statement, write the sale, its line and one allocation per
-- layer taken (min(needed, remaining), FIFO), decrement the layers, close the cart and write the
-- outbox event. The event is written as already dispatched, so that the Atrium server polling the
-- same database does not deliver it. Not covered: carts of several lines (the bench's carts have
-- one), a customer, the idempotency read-back (the unique index still guards), retries, access
-- checks and row-level security (it runs as the table owner).
\set k :k + 1
BEGIN;
SELECT c.id AS cart_id, c.company_id, c.agent_id, l.product_id, l.quantity AS qty, l.unit_price, l.discount
  FROM bench_fifo_queue q
  JOIN agent_cart c ON c.id = q.cart_id AND c.status = 'OPEN'
  JOIN agent_cart_line l ON l.cart_id = c.id
 WHERE q.client = :client_id AND q.k = :k
   FOR UPDATE OF c \gset
SELECT coalesce(sum(remaining), 0) AS available
  FROM (SELECT remaining FROM agent_transfer_line
         WHERE agent_id = :agent_id::uuid AND product_id = :product_id::uuid AND remaining > 0 AND accepted_at IS NOT NULL
         ORDER BY accepted_at, id
           FOR UPDATE) AS layers \gset
\if :available >= :qty
WITH layers AS (
  SELECT id, remaining, sum(remaining) OVER (ORDER BY accepted_at, id) - remaining AS before
    FROM agent_transfer_line
   WHERE agent_id = :agent_id::uuid AND product_id = :product_id::uuid AND remaining > 0 AND accepted_at IS NOT NULL
), taken AS (
  SELECT id, least(remaining, :qty::int - before) AS take FROM layers WHERE before < :qty::int
), sale AS (
  INSERT INTO agent_sale (id, company_id, agent_id, cart_id, idempotency_key, total, status)
  VALUES (gen_random_uuid(), :company_id::uuid, :agent_id::uuid, :cart_id::uuid, 'floor-' || :cart_id::text,
          :unit_price::numeric * :qty::int - :discount::numeric, 'COMPLETED')
  RETURNING id, total
), line AS (
  INSERT INTO agent_sale_line (id, company_id, sale_id, product_id, position, quantity, unit_price, discount, total)
  SELECT gen_random_uuid(), :company_id::uuid, sale.id, :product_id::uuid, 0, :qty::int, :unit_price::numeric, :discount::numeric, sale.total FROM sale
  RETURNING id
), allocations AS (
  INSERT INTO agent_allocation (id, company_id, sale_line_id, transfer_line_id, quantity)
  SELECT gen_random_uuid(), :company_id::uuid, line.id, taken.id, taken.take FROM line, taken
), decremented AS (
  UPDATE agent_transfer_line t SET remaining = t.remaining - taken.take FROM taken WHERE t.id = taken.id
), cart AS (
  UPDATE agent_cart SET status = 'CHECKED_OUT', checked_out_at = now() WHERE id = :cart_id::uuid
)
INSERT INTO atrium_event (id, name, company_id, payload, dispatched_at)
SELECT gen_random_uuid(), 'agentSales.sale.completed', :company_id::uuid,
       jsonb_build_object('saleId', sale.id, 'agentId', :agent_id::text, 'customerId', NULL, 'total', sale.total::text), now()
  FROM sale;
COMMIT;
\else
ROLLBACK;
\endif
