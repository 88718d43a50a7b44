-- 0005_user_prefs: each console user's options, as the server's JSON (the SQLite store's 0005).

create table user_prefs (
    user_id bigint primary key references app_user (user_id) on delete cascade,
    prefs text not null,
    updated_at bigint not null
);
