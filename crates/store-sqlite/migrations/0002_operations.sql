-- 0002_operations: what the callback operations keep beyond the callback itself — the kept reports of
-- bulk cancels (the Cancellation Summary Report) and the tombstones of deleted callbacks — the indexes
-- retention needs to remove them (and the idempotency keys of purged callbacks) in small steps, and
-- the state CHECKs of the two hot tables in a form SQLite evaluates cheaply.
--
-- Same conventions as 0001 (and the same versions and names on PostgreSQL, where part 1 has no
-- counterpart: PostgreSQL evaluates IN lists without building anything).

-- ---- part 1: cheap CHECKs on callback and callback_event -------------------------------------------
-- SQLite evaluates a CHECK of the form `x in ('A', 'B', 'C', …)` (more than two constants) by building
-- a temporary b-tree of the constants on every execution of every INSERT or UPDATE that checks it:
-- five of them for a created callback and its event, four for a cancel. Written as
-- `x = 'A' or x = 'B' or …` the same rule is a few comparisons; measured on bulk cancel, the
-- statements ran ~1.5x faster. SQLite cannot alter a CHECK, so both tables are rebuilt with the
-- documented procedure (new table, copy, drop, rename, indexes); the rules themselves are unchanged.

create table callback_rebuilt (
    callback_id blob primary key not null check (length(callback_id) = 16),
    type text not null check (type in ('agent', 'queue')),
    origin text not null check (origin = 'immediate' or origin = 'scheduled' or origin = 'auto_callback'
        or origin = 'wrap_code' or origin = 'recreated' or origin = 'import'),
    phone text not null,
    phone_raw text not null,
    campaign_id integer not null references campaign (campaign_id),
    list_id integer references list (list_id),
    lead_id integer references lead (lead_id),
    queue_id integer references queue (queue_id),
    agent_id integer references agent (agent_id),
    wrap_code text,
    desired_time integer not null,
    timezone text,
    lead_timezone text,
    earliest_time integer,
    window_secs integer not null check (window_secs >= 0),
    overdue_at integer,
    slot_start integer,
    state text not null check (state = 'SCHEDULED' or state = 'QUEUED' or state = 'ROUTING'
        or state = 'PROCESSING' or state = 'COMPLETED'),
    result text check (result = 'AGENT' or result = 'CANCELLED_BY_ADMIN' or result = 'CANCELLED_BY_CUSTOMER'
        or result = 'MAX_ATTEMPTS' or result = 'INVALID_NUMBER' or result = 'EXPIRED'),
    attempts integer not null default 0 check (attempts >= 0),
    priority integer not null default 0,
    notes text,
    data text not null default '{}',
    created_by text not null,
    created_at integer not null,
    updated_at integer not null,
    queued_at integer,
    recreated_from blob,
    recreated_as blob,
    expires_at integer not null,
    check ((state = 'COMPLETED') = (result is not null))
);
insert into callback_rebuilt select * from callback;
drop table callback;
alter table callback_rebuilt rename to callback;
-- The indexes of 0001, less two that cost every write more than they saved their one reader:
-- `callback_overdue` (the overdue filter reads `callback_due`: overdue implies SCHEDULED with an
-- earliest time before now) and `callback_active_phone` (the duplicate check reads `callback_phone`:
-- one number has a handful of callbacks, active or not). Each index fewer is one b-tree fewer to
-- update on every create and every state change.
create index callback_due on callback (state, earliest_time);
create index callback_desired on callback (desired_time, callback_id);
create index callback_phone on callback (phone);
create index callback_lead on callback (lead_id) where lead_id is not null;
create index callback_expires on callback (expires_at);
create index callback_active_slot on callback (queue_id, slot_start)
    where state <> 'COMPLETED' and slot_start is not null;

create table callback_event_rebuilt (
    callback_event_id integer primary key,
    callback_id blob not null check (length(callback_id) = 16),
    at integer not null,
    actor text not null,
    action text not null,
    from_state text check (from_state = 'SCHEDULED' or from_state = 'QUEUED' or from_state = 'ROUTING'
        or from_state = 'PROCESSING' or from_state = 'COMPLETED'),
    to_state text check (to_state = 'SCHEDULED' or to_state = 'QUEUED' or to_state = 'ROUTING'
        or to_state = 'PROCESSING' or to_state = 'COMPLETED'),
    details text not null default '{}'
);
-- Event ids (the audit order) are kept as they are.
insert into callback_event_rebuilt select * from callback_event;
drop table callback_event;
alter table callback_event_rebuilt rename to callback_event;
create index callback_event_callback on callback_event (callback_id, callback_event_id);

-- ---- part 2: bulk-cancel reports, tombstones, retention --------------------------------------------

-- One row per bulk cancel. `expires_at` follows the last of its callbacks (the largest of their
-- `expires_at`), so the report goes when nothing it describes is kept any more.
create table cancellation_report (
    report_id text primary key not null,
    actor text not null,
    reason text,
    created_at integer not null,
    expires_at integer not null
);
create index cancellation_report_expires on cancellation_report (expires_at);

-- One line per callback of a bulk cancel, in the order of the selection (`position` from 0).
-- Campaign and queue names are copied when the line is written, beside their ids: a kept report is a
-- record of that moment and must read the same after a rename, or after retention and deletes have
-- let the campaign or queue itself go. For an id that named no callback (`state_before` NULL), the
-- callback's columns are NULL.
-- No foreign key to `cancellation_report`: retention removes a report's header first and its lines in
-- bounded slices afterwards (see `cancellation_report_purge`), so a large report never makes one long
-- delete that stalls the writer.
create table cancellation_report_row (
    report_id text not null,
    position integer not null check (position >= 0),
    callback_id blob not null check (length(callback_id) = 16),
    phone text,
    campaign_id integer,
    campaign_name text,
    queue_id integer,
    queue_name text,
    desired_time integer,
    state_before text check (state_before = 'SCHEDULED' or state_before = 'QUEUED' or state_before = 'ROUTING'
        or state_before = 'PROCESSING' or state_before = 'COMPLETED'),
    outcome text not null check (outcome in ('cancelled', 'skipped')),
    reason text not null,
    actor text not null,
    at integer not null,
    primary key (report_id, position)
) without rowid;

-- Reports retention has removed whose lines are still being deleted, slice by slice.
create table cancellation_report_purge (
    report_id text primary key not null
) without rowid;

-- A deleted callback: its history (with the `deleted` event holding what it was) is kept until the
-- callback's own retention date, then removed with this row.
create table callback_tombstone (
    callback_id blob primary key not null check (length(callback_id) = 16),
    deleted_at integer not null,
    actor text not null,
    expires_at integer not null
) without rowid;
create index callback_tombstone_expires on callback_tombstone (expires_at);

-- Retention removes the idempotency keys of the callbacks it purges.
create index idempotency_key_callback on idempotency_key (callback_id);
