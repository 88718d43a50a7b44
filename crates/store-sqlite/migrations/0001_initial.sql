-- 0001_initial: Rebound's first schema.
--
-- Conventions (shared with the PostgreSQL store, which uses the same versions and names):
-- lowercase SQL, singular table names, `<table>_id` keys; instants are INTEGER epoch milliseconds
-- UTC; booleans are 0/1 integers; structured configuration (hours, grids, data fields) is JSON text.
-- The callback lifecycle is guarded here too: CHECK constraints on state and result, and a result
-- exactly when the state is COMPLETED.

create table list (
    list_id integer primary key,
    name text not null unique,
    fields text not null default '[]',
    created_at integer not null
);

create table campaign (
    campaign_id integer primary key,
    name text not null unique,
    direction text not null check (direction in ('inbound', 'outbound')),
    timezone text not null,
    region text not null,
    running integer not null check (running in (0, 1)),
    dialling_hours text not null,
    exceptions text not null default '[]',
    lead_calling_hours text not null,
    allow_unassigned_agent_callbacks integer not null check (allow_unassigned_agent_callbacks in (0, 1)),
    auto_callback_list_id integer references list (list_id),
    window_secs integer not null check (window_secs >= 0),
    max_attempts integer not null check (max_attempts >= 0),
    retry_delays text not null,
    horizon_days integer not null check (horizon_days >= 0),
    agent_grace_minutes integer not null check (agent_grace_minutes >= 0),
    created_at integer not null,
    updated_at integer not null
);

-- The lists an outbound campaign dials, in the order given. A list a campaign dials cannot be deleted.
create table campaign_list (
    campaign_id integer not null references campaign (campaign_id) on delete cascade,
    list_id integer not null references list (list_id),
    position integer not null,
    primary key (campaign_id, list_id)
) without rowid;
create index campaign_list_list on campaign_list (list_id);

create table lead (
    lead_id integer primary key,
    list_id integer not null references list (list_id),
    phone1 text,
    phone2 text,
    phone3 text,
    timezone text,
    name text,
    data text not null default '{}',
    created_at integer not null
);
create index lead_list on lead (list_id);
create index lead_phone1 on lead (phone1) where phone1 is not null;
create index lead_phone2 on lead (phone2) where phone2 is not null;
create index lead_phone3 on lead (phone3) where phone3 is not null;

create table queue (
    queue_id integer primary key,
    name text not null,
    campaign_id integer not null references campaign (campaign_id),
    slot_minutes integer not null check (slot_minutes > 0),
    slot_capacity integer not null check (slot_capacity >= 0),
    capacity_grid text,
    duplicate_policy text not null check (duplicate_policy in ('off', 'one', 'two')),
    paused integer not null check (paused in (0, 1)),
    created_at integer not null,
    unique (campaign_id, name)
);

create table agent (
    agent_id integer primary key,
    name text not null,
    username text not null unique,
    timezone text not null,
    can_view_callback_list integer not null check (can_view_callback_list in (0, 1)),
    presence text not null check (presence in ('offline', 'ready', 'not_ready', 'busy')),
    created_at integer not null
);

-- Memberships belong to the agent: they go with the agent, and with the campaign or queue they name.
create table agent_campaign (
    agent_id integer not null references agent (agent_id) on delete cascade,
    campaign_id integer not null references campaign (campaign_id) on delete cascade,
    position integer not null,
    primary key (agent_id, campaign_id)
) without rowid;
create index agent_campaign_campaign on agent_campaign (campaign_id);

create table agent_queue (
    agent_id integer not null references agent (agent_id) on delete cascade,
    queue_id integer not null references queue (queue_id) on delete cascade,
    position integer not null,
    primary key (agent_id, queue_id)
) without rowid;
create index agent_queue_queue on agent_queue (queue_id);

create table wrap_code (
    wrap_code_id integer primary key,
    campaign_id integer not null references campaign (campaign_id),
    code text not null,
    label text not null,
    add_to_queue text,
    created_at integer not null,
    unique (campaign_id, code)
);

-- Callbacks. `callback_id` is the UUIDv7 as 16 big-endian bytes: byte order is creation order, and
-- every index that carries the id is half the size of the 36-character text form.
-- `overdue_at` = earliest_time + window_secs * 1000 (NULL while the earliest time is unknown), kept
-- by the store so the overdue filter is an index range instead of arithmetic on every row.
-- `recreated_from`/`recreated_as` are plain ids, not foreign keys: retention may purge one side first.
create table callback (
    callback_id blob primary key not null check (length(callback_id) = 16),
    type text not null check (type in ('agent', 'queue')),
    origin text not null
        check (origin in ('immediate', 'scheduled', 'auto_callback', 'wrap_code', 'recreated', 'import')),
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
    state text not null check (state in ('SCHEDULED', 'QUEUED', 'ROUTING', 'PROCESSING', 'COMPLETED')),
    result text check (result in
        ('AGENT', 'CANCELLED_BY_ADMIN', 'CANCELLED_BY_CUSTOMER', 'MAX_ATTEMPTS', 'INVALID_NUMBER', 'EXPIRED')),
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
-- Due work: the engine's promotion sweep and routing.
create index callback_due on callback (state, earliest_time);
-- The console list (desired-time ranges, id as tie-breaker) and the search's newest-first order.
create index callback_desired on callback (desired_time, callback_id);
-- Quick search by number; lead phones are matched through lead_id.
create index callback_phone on callback (phone);
create index callback_lead on callback (lead_id) where lead_id is not null;
-- Retention purge.
create index callback_expires on callback (expires_at);
-- Duplicate policy: active callbacks per queue and number.
create index callback_active_phone on callback (queue_id, phone) where state <> 'COMPLETED';
-- Slot capacity: active bookings per queue and slot.
create index callback_active_slot on callback (queue_id, slot_start)
    where state <> 'COMPLETED' and slot_start is not null;
-- The overdue filter and metric.
create index callback_overdue on callback (overdue_at) where state = 'SCHEDULED';

-- The audit history. No foreign key to callback on purpose: deleting a callback keeps its history
-- as a tombstone; retention removes both explicitly.
create table callback_event (
    callback_event_id integer primary key,
    callback_id blob not null check (length(callback_id) = 16),
    at integer not null,
    actor text not null,
    action text not null,
    from_state text check (from_state in ('SCHEDULED', 'QUEUED', 'ROUTING', 'PROCESSING', 'COMPLETED')),
    to_state text check (to_state in ('SCHEDULED', 'QUEUED', 'ROUTING', 'PROCESSING', 'COMPLETED')),
    details text not null default '{}'
);
create index callback_event_callback on callback_event (callback_id, callback_event_id);

-- Idempotency-Key → the callback its first request created.
create table idempotency_key (
    key text primary key not null,
    fingerprint text not null,
    callback_id blob not null check (length(callback_id) = 16),
    created_at integer not null
) without rowid;
create index idempotency_key_created on idempotency_key (created_at);

create table api_token (
    api_token_id integer primary key,
    name text not null,
    role text not null check (role in ('admin', 'supervisor', 'monitor', 'agent')),
    secret_hash text not null unique,
    created_at integer not null,
    expires_at integer,
    revoked integer not null default 0 check (revoked in (0, 1)),
    last_used_at integer
);
