-- 0002_operations: edits, cancels, deletes, bulk cancel with its report, retention (the SQLite
-- store's 0002; there it rebuilds tables, here the changes are plain ALTERs).

-- As on SQLite: two indexes of 0001 cost every write and serve no query — the overdue filter reads
-- `callback_due` (overdue implies SCHEDULED with an earliest time before now) and the duplicate
-- check reads `callback_phone`.
drop index callback_overdue;
drop index callback_active_phone;

-- The Cancellation Summary Report: one row per callback a bulk cancel looked at, in order.
create table cancellation_report (
    report_id text primary key,
    actor text not null,
    reason text,
    created_at bigint not null,
    expires_at bigint not null
);
create index cancellation_report_expires on cancellation_report (expires_at);

create table cancellation_report_row (
    report_id text not null,
    position bigint not null check (position >= 0),
    callback_id uuid not null,
    phone text,
    campaign_id bigint,
    campaign_name text,
    queue_id bigint,
    queue_name text,
    desired_time bigint,
    state_before text check (state_before in ('SCHEDULED', 'QUEUED', 'ROUTING', 'PROCESSING', 'COMPLETED')),
    outcome text not null check (outcome in ('cancelled', 'skipped')),
    reason text not null,
    actor text not null,
    at bigint not null,
    primary key (report_id, position)
);

-- Reports whose rows retention is still removing (a bounded amount per pass).
create table cancellation_report_purge (
    report_id text primary key
);

-- A deleted callback leaves a tombstone (who, when) next to its history until retention.
create table callback_tombstone (
    callback_id uuid primary key,
    deleted_at bigint not null,
    actor text not null,
    expires_at bigint not null
);
create index callback_tombstone_expires on callback_tombstone (expires_at);
create index idempotency_key_callback on idempotency_key (callback_id);
