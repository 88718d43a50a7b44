-- 0004_access: who may use Rebound — console users and their sessions — and the scope of API tokens.
--
-- Same conventions as 0001 (and the same versions and names on PostgreSQL): instants are epoch
-- milliseconds, a scope is JSON text `{"campaigns": [...], "queues": [...]}` (NULL = everything).
-- CHECKs compare with `=` (see 0002's note: `in (…)` of more than two constants builds a temporary
-- b-tree on every write that checks it).

-- A console user. Usernames are unique whatever their case (`collate nocase`, which also makes the
-- sign-in lookup `username = ?` case-insensitive; NOCASE folds ASCII letters only, so usernames
-- are best kept to ASCII). `agent_id` is the agent record a user of role `agent` acts as: an agent
-- a user acts as cannot be deleted (no ON DELETE clause), like every other reference to an agent.
-- `password_hash` is an Argon2 PHC string; `failed_logins` counts consecutive failed sign-ins since
-- the last success, and sign-in is refused until `locked_until` once they reach the threshold.
create table app_user (
    user_id integer primary key,
    username text not null collate nocase unique,
    display_name text not null,
    timezone text not null,
    role text not null check (role = 'admin' or role = 'supervisor' or role = 'monitor' or role = 'agent'),
    agent_id integer references agent (agent_id),
    scope text,
    disabled integer not null default 0 check (disabled in (0, 1)),
    password_hash text not null,
    failed_logins integer not null default 0 check (failed_logins >= 0),
    locked_until integer,
    created_at integer not null,
    updated_at integer not null
);

-- Deleting an agent looks here for users acting as it.
create index app_user_agent on app_user (agent_id) where agent_id is not null;

-- A console session, keyed by the SHA-256 of the cookie's secret (a copy of the database cannot be
-- used to sign in). Ends with its user; expires when idle (`last_seen_at`) or at `expires_at`.
create table session (
    id_hash text primary key not null,
    user_id integer not null references app_user (user_id) on delete cascade,
    csrf_token text not null,
    created_at integer not null,
    last_seen_at integer not null,
    expires_at integer not null
) without rowid;

-- Ending a user's sessions (disable, new password), and the purge of idle and expired ones (an OR
-- of two indexed columns, which SQLite answers from both indexes).
create index session_user on session (user_id);
create index session_last_seen on session (last_seen_at);
create index session_expires on session (expires_at);

-- The campaigns and queues a token may see and act on (NULL = everything). `last_used_at` is
-- already there since 0001.
alter table api_token add column scope text;
