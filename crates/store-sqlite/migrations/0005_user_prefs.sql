-- 0005_user_prefs: each console user's display options (columns, clock, UTC, visible states and
-- services, saved date ranges).
--
-- The preferences are one JSON text owned by the server's options module (it carries its own
-- version): the store keeps it whole and never reads inside it, so new options need no migration.
-- One row per user, gone with the user (`on delete cascade`); disabling a user keeps it, so a user
-- enabled again finds their options as they left them.
create table user_prefs (
    user_id integer primary key references app_user (user_id) on delete cascade,
    prefs text not null,
    updated_at integer not null
);
