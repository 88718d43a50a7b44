-- 0003_dispatch: what the dispatch engine keeps in the store — who holds a callback and until when,
-- how long an agent has been ready — and the indexes of its hot paths.
--
-- Same conventions as 0001 (and the same versions and names on PostgreSQL). Every index costs every
-- write that touches its columns, so there are few, and all but one are partial: a callback enters
-- them only while it is QUEUED or ROUTING (or held), and a create of a SCHEDULED callback skips them.
-- A partial index's WHERE uses `=` only: the planner uses it for a query only when the query's
-- WHERE visibly implies it, and it does not reason about `in (…)` or `<>`.

-- The holder of a callback: the agent it is offered to (ROUTING) or handled by (PROCESSING), or the
-- dialler lease holding it; `hold_until` (epoch ms) is when an offer or lease runs out (ROUTING only).
-- Cleared by every step out of ROUTING/PROCESSING.
alter table callback add column offered_to integer references agent (agent_id);
alter table callback add column lease_id text;
alter table callback add column hold_until integer;

-- When the agent last became ready (epoch ms; NULL unless ready): routing offers to the agent ready
-- the longest. Agents already ready count from when they were created.
alter table agent add column ready_since integer;
update agent set ready_since = created_at where presence = 'ready';

-- Routing heads, each read in dispatch order (priority descending, then first queue entry, then id):
-- queue callbacks per queue,
create index callback_queue_head on callback (queue_id, priority desc, queued_at, callback_id)
    where state = 'QUEUED' and type = 'queue';
-- agent callbacks per agent,
create index callback_agent_head on callback (agent_id, priority desc, queued_at, callback_id)
    where state = 'QUEUED' and type = 'agent';
-- and per campaign and type: a dialler's claim (queue callbacks across the campaign's queues), the
-- escalation of agent callbacks past their grace period, and the oldest waiting agent callback.
create index callback_campaign_head on callback (campaign_id, type, priority desc, queued_at, callback_id)
    where state = 'QUEUED';
-- The rescuer: offers and leases by expiry.
create index callback_hold on callback (hold_until) where state = 'ROUTING';
-- What an agent holds (and the foreign key check when an agent is deleted).
create index callback_holder on callback (offered_to) where offered_to is not null;
