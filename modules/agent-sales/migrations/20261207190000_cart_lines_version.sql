-- Bumped by every change of a cart's lines: a checkout that read them before it held the cart's lock
-- tells by it whether they changed meanwhile.
alter table agent_cart add column lines_version integer not null default 0;
