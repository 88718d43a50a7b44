-- 0006_leader_lease: which node runs the singleton duties (promotion sweep, rescue of expired
-- holds, retention) when several share this database (the SQLite store's 0006 has nothing to store).
--
-- One row per lease (today only 'engine'). A node takes it with a conditional upsert when it is
-- free, expired or already its own, and renews it well before it expires; a node that dies simply
-- stops renewing, and another takes over after `expires_at`. Instants are epoch milliseconds of the
-- database's clock, so the nodes' own clocks may disagree without two of them leading at once.
create table leader_lease (
    lease text primary key,
    holder text not null,
    acquired_at bigint not null,
    expires_at bigint not null,
    check (expires_at >= acquired_at)
);
