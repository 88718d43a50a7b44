-- 0003_dispatch: offers, dialler leases, holds and the routing heads (the SQLite store's 0003).

alter table callback add column offered_to bigint references agent (agent_id);
alter table callback add column lease_id text;
alter table callback add column hold_until bigint;
alter table agent add column ready_since bigint;
update agent set ready_since = created_at where presence = 'ready';

-- The head of each routing line: QUEUED callbacks by priority, then queue entry, then id.
create index callback_queue_head on callback (queue_id, priority desc, queued_at, callback_id)
    where state = 'QUEUED' and type = 'queue';
create index callback_agent_head on callback (agent_id, priority desc, queued_at, callback_id)
    where state = 'QUEUED' and type = 'agent';
create index callback_campaign_head on callback (campaign_id, type, priority desc, queued_at, callback_id)
    where state = 'QUEUED';
-- Holds (offers and dialler leases) by expiry, and who holds what.
create index callback_hold on callback (hold_until) where state = 'ROUTING';
create index callback_holder on callback (offered_to) where offered_to is not null;
