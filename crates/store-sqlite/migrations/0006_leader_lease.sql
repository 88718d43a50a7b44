-- 0006_leader_lease: which node runs the singleton duties (promotion sweep, rescue, retention) when
-- several share one database.
--
-- Nothing to create here: an SQLite file is opened by one process (its one writer thread), which
-- always leads. The step exists so that `schema_migration` reads the same on both backends (the
-- PostgreSQL store's 0006 creates its `leader_lease` table).
select 1;
