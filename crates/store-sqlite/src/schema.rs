//! Connection setup and migrations.
//!
//! Pragmas, and why:
//! - `journal_mode=WAL`: readers never block the writer nor the writer readers, and a commit is one
//!   sequential append to the WAL.
//! - `synchronous=FULL`: the WAL is fsynced at every COMMIT, so a callback the API acknowledged
//!   survives a power cut or kernel crash, not only a process crash (`NORMAL` could lose the last
//!   commits). Group commit in the writer thread is what makes FULL affordable: one fsync covers a
//!   whole batch of requests.
//! - `foreign_keys=ON`: references are checked by the schema, not by convention.
//! - `busy_timeout`: another process (an operator's `sqlite3` shell, a backup) holding a lock makes us
//!   wait briefly instead of failing at once.
//! - `cache_size`: 64 MiB per connection keeps the hot part of the indexes in memory.
//!
//! Migrations are the numbered files in `migrations/`, embedded in the binary and applied in order,
//! each in its own transaction together with its row in `schema_migration`. The PostgreSQL store
//! uses the same versions and names, so `schema_migration` reads the same on both.

use std::path::Path;
use std::time::Duration;

use rebound_store::{StoreError, StoreResult};
use rusqlite::{Connection, OpenFlags};

use crate::error::{ResultExt, backend};

/// One schema change: its version, its name (the file name without `NNNN_` and `.sql`) and its SQL.
pub struct Migration {
    pub version: i64,
    pub name: &'static str,
    pub sql: &'static str,
}

/// Every migration, oldest first. Append only: a released migration never changes.
pub const MIGRATIONS: &[Migration] = &[
    Migration { version: 1, name: "initial", sql: include_str!("../migrations/0001_initial.sql") },
    Migration { version: 2, name: "operations", sql: include_str!("../migrations/0002_operations.sql") },
    Migration { version: 3, name: "dispatch", sql: include_str!("../migrations/0003_dispatch.sql") },
    Migration { version: 4, name: "access", sql: include_str!("../migrations/0004_access.sql") },
    Migration { version: 5, name: "user_prefs", sql: include_str!("../migrations/0005_user_prefs.sql") },
    Migration { version: 6, name: "leader_lease", sql: include_str!("../migrations/0006_leader_lease.sql") },
];

const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// Negative `cache_size` is in KiB: per reader connection.
const CACHE_SIZE_KIB: i64 = -65_536;
/// The writer touches index pages all over a large table (phone, slot, due-time indexes take random
/// inserts); a cache that holds them saves re-reading pages on every batch.
const WRITER_CACHE_SIZE_KIB: i64 = -524_288;
/// Reads go through a memory map instead of a copy per page read (SQLite maps at most this much).
const MMAP_SIZE_BYTES: i64 = 8 << 30;
/// WAL pages between automatic checkpoints. The default (1000 pages = 4 MiB) checkpoints, with an
/// fsync of the database file, every few hundred callbacks under load; 40 MiB amortises that while
/// keeping the WAL (and recovery after a crash) small.
const WAL_AUTOCHECKPOINT_PAGES: i64 = 10_000;
/// Enough for the recent dynamic list queries of a reader.
const STATEMENT_CACHE: usize = 128;
/// Enough for every fixed statement of the writer plus the SET lists of the transitions it writes
/// (one statement each, see `callbacks::write_step`).
const WRITER_STATEMENT_CACHE: usize = 256;

/// Opens (creating if needed) the read-write connection the writer thread owns.
pub(crate) fn open_writer(path: &Path) -> StoreResult<Connection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_CREATE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX
        | OpenFlags::SQLITE_OPEN_URI;
    let conn = Connection::open_with_flags(path, flags).map_err(|e| open_error(path, e))?;
    configure(&conn)?;
    let mode: String = conn.query_row("pragma journal_mode = wal", [], |r| r.get(0)).db()?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::Backend(format!("{} could not be switched to WAL mode ({mode})", path.display())));
    }
    conn.execute_batch(&format!(
        "pragma synchronous = full; pragma cache_size = {WRITER_CACHE_SIZE_KIB}; \
         pragma wal_autocheckpoint = {WAL_AUTOCHECKPOINT_PAGES}"
    ))
    .db()?;
    conn.set_prepared_statement_cache_capacity(WRITER_STATEMENT_CACHE);
    Ok(conn)
}

/// Opens one read-only connection of the read pool.
pub(crate) fn open_reader(path: &Path) -> StoreResult<Connection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI;
    let conn = Connection::open_with_flags(path, flags).map_err(|e| open_error(path, e))?;
    configure(&conn)?;
    conn.execute_batch("pragma query_only = on").db()?;
    Ok(conn)
}

fn configure(conn: &Connection) -> StoreResult<()> {
    conn.busy_timeout(BUSY_TIMEOUT).db()?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    conn.execute_batch(&format!(
        "pragma foreign_keys = on; pragma cache_size = {CACHE_SIZE_KIB}; pragma temp_store = memory; \
         pragma mmap_size = {MMAP_SIZE_BYTES}"
    ))
    .db()
}

fn open_error(path: &Path, e: rusqlite::Error) -> StoreError {
    StoreError::Backend(format!("cannot open {}: {e}", path.display()))
}

/// Applies every migration newer than the database, in order. Refuses a database written by a newer
/// Rebound (it has versions this binary does not know).
pub(crate) fn migrate(conn: &mut Connection, now_ms: i64) -> StoreResult<Vec<i64>> {
    conn.execute_batch(
        "create table if not exists schema_migration (
             version integer primary key,
             name text not null,
             applied_at integer not null
         )",
    )
    .db()?;
    let current: i64 =
        conn.query_row("select coalesce(max(version), 0) from schema_migration", [], |r| r.get(0)).db()?;
    let known = MIGRATIONS.last().map_or(0, |m| m.version);
    if current > known {
        return Err(StoreError::Backend(format!(
            "the database has schema version {current}, newer than this build knows ({known}); upgrade Rebound"
        )));
    }
    let mut applied = Vec::new();
    for m in MIGRATIONS.iter().filter(|m| m.version > current) {
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).db()?;
        tx.execute_batch(m.sql).map_err(|e| backend(format!("migration {:04}_{} failed: {e}", m.version, m.name)))?;
        tx.execute(
            "insert into schema_migration (version, name, applied_at) values (?1, ?2, ?3)",
            (m.version, m.name, now_ms),
        )
        .db()?;
        tx.commit().db()?;
        tracing::info!(migration.version = m.version, migration.name = m.name, "applied migration");
        applied.push(m.version);
    }
    Ok(applied)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_are_numbered_in_order_from_one() {
        for (i, m) in MIGRATIONS.iter().enumerate() {
            assert_eq!(m.version, i as i64 + 1);
        }
    }

    #[test]
    fn migrating_twice_applies_each_migration_once() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = open_writer(&dir.path().join("m.db")).unwrap();
        assert_eq!(migrate(&mut conn, 1).unwrap(), vec![1, 2, 3, 4, 5, 6]);
        assert!(migrate(&mut conn, 2).unwrap().is_empty());
        let rows: Vec<(i64, String, i64)> = conn
            .prepare("select version, name, applied_at from schema_migration")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(
            rows,
            vec![
                (1, "initial".to_string(), 1),
                (2, "operations".to_string(), 1),
                (3, "dispatch".to_string(), 1),
                (4, "access".to_string(), 1),
                (5, "user_prefs".to_string(), 1),
                (6, "leader_lease".to_string(), 1)
            ]
        );
    }

    #[test]
    fn a_version_one_database_keeps_its_callbacks_and_events_through_the_check_rebuild() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = open_writer(&dir.path().join("m.db")).unwrap();
        // A database as the first release left it, with a callback and its history.
        conn.execute_batch(&format!(
            "create table schema_migration (version integer primary key, name text not null, applied_at integer not null);
             {}
             insert into schema_migration values (1, 'initial', 0);
             insert into campaign (campaign_id, name, direction, timezone, region, running, dialling_hours,
                 lead_calling_hours, allow_unassigned_agent_callbacks, window_secs, max_attempts, retry_delays,
                 horizon_days, agent_grace_minutes, created_at, updated_at)
                 values (1, 'c', 'outbound', 'UTC', 'GB', 1, '{{}}', '[]', 0, 0, 0, '{{}}', 0, 0, 0, 0);
             insert into callback (callback_id, type, origin, phone, phone_raw, campaign_id, desired_time,
                 window_secs, state, result, created_by, created_at, updated_at, expires_at)
                 values (zeroblob(16), 'queue', 'import', '+1', '1', 1, 5, 0, 'COMPLETED', 'AGENT', 'x', 0, 0, 9);
             insert into callback_event (callback_event_id, callback_id, at, actor, action, to_state)
                 values (41, zeroblob(16), 0, 'x', 'created', 'SCHEDULED');",
            MIGRATIONS[0].sql
        ))
        .unwrap();
        assert_eq!(migrate(&mut conn, 1).unwrap(), vec![2, 3, 4, 5, 6]);
        let kept: (String, String, i64) = conn
            .query_row("select state, result, expires_at from callback where callback_id = zeroblob(16)", [], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .unwrap();
        assert_eq!(kept, ("COMPLETED".to_string(), "AGENT".to_string(), 9));
        let event: i64 = conn.query_row("select callback_event_id from callback_event", [], |r| r.get(0)).unwrap();
        assert_eq!(event, 41, "event ids (the audit order) survive");
        // The rules still hold in their new form.
        assert!(conn.execute("update callback set state = 'PAUSED'", []).is_err());
        assert!(conn.execute("update callback set result = 'LOST'", []).is_err());
        assert!(conn.execute("update callback set state = 'SCHEDULED'", []).is_err(), "a result only when completed");
        assert!(conn.execute("update callback_event set to_state = 'DONE'", []).is_err());
        let mut stmt = conn
            .prepare(
                "select name from sqlite_schema where type = 'index' and tbl_name = 'callback' and sql is not null \
                 order by name",
            )
            .unwrap();
        let indexes: Vec<String> = stmt.query_map([], |r| r.get(0)).unwrap().map(Result::unwrap).collect();
        // Every index of 0001 is back except `callback_overdue` and `callback_active_phone`, which
        // 0002 retires on purpose; 0003 adds the dispatch heads and holder indexes.
        assert_eq!(
            indexes,
            [
                "callback_active_slot",
                "callback_agent_head",
                "callback_campaign_head",
                "callback_desired",
                "callback_due",
                "callback_expires",
                "callback_hold",
                "callback_holder",
                "callback_lead",
                "callback_phone",
                "callback_queue_head",
            ]
        );
    }

    #[test]
    fn the_hot_tables_check_their_states_without_building_temporary_btrees() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = open_writer(&dir.path().join("m.db")).unwrap();
        migrate(&mut conn, 1).unwrap();
        let statements = [
            format!("insert into callback values ({})", ["?"; 34].join(", ")),
            "update callback set state = ?1, result = ?2, origin = ?3 where rowid = ?4".to_string(),
            format!("insert into callback_event values ({})", ["?"; 8].join(", ")),
            format!("insert into cancellation_report_row values ({})", ["?"; 14].join(", ")),
            // Not hot, but its role CHECK follows the same form.
            format!("insert into app_user values ({})", ["?"; 13].join(", ")),
        ];
        for sql in statements {
            let mut explain = conn.prepare(&format!("explain {sql}")).unwrap();
            let nulls = std::iter::repeat_n(rusqlite::types::Null, explain.parameter_count());
            let program: Vec<String> = explain
                .query_map(rusqlite::params_from_iter(nulls), |r| r.get::<_, String>(1))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap();
            assert!(!program.iter().any(|op| op == "OpenEphemeral"), "{sql} builds a temporary b-tree");
        }
    }

    #[test]
    fn a_version_three_database_keeps_its_tokens_unscoped_and_gains_users_and_sessions() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = open_writer(&dir.path().join("m.db")).unwrap();
        conn.execute_batch(
            "create table schema_migration (version integer primary key, name text not null, applied_at integer not null)",
        )
        .unwrap();
        for m in &MIGRATIONS[..3] {
            conn.execute_batch(m.sql).unwrap();
            conn.execute("insert into schema_migration values (?1, ?2, 0)", (m.version, m.name)).unwrap();
        }
        conn.execute_batch(
            "insert into api_token (api_token_id, name, role, secret_hash, created_at, last_used_at)
                 values (7, 'ivr', 'supervisor', 'h', 1, 5);
             insert into agent (agent_id, name, username, timezone, can_view_callback_list, presence, created_at)
                 values (3, 'Alice', 'alice', 'UTC', 1, 'offline', 0);",
        )
        .unwrap();
        assert_eq!(migrate(&mut conn, 1).unwrap(), vec![4, 5, 6]);
        let token: (String, Option<String>, i64) = conn
            .query_row("select name, scope, last_used_at from api_token where api_token_id = 7", [], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .unwrap();
        assert_eq!(token, ("ivr".to_string(), None, 5), "an existing token keeps its use and sees everything");

        let insert = "insert into app_user (username, display_name, timezone, role, agent_id, password_hash, \
                      created_at, updated_at) values (?1, 'x', 'UTC', ?2, ?3, 'hash', 0, 0)";
        conn.execute(insert, ("Alice", "agent", Some(3))).unwrap();
        assert!(conn.execute(insert, ("ALICE", "admin", None::<i64>)).is_err(), "usernames are unique in any case");
        assert!(conn.execute(insert, ("bob", "root", None::<i64>)).is_err(), "roles are checked");
        let found: i64 =
            conn.query_row("select count(*) from app_user where username = 'aLiCe'", [], |r| r.get(0)).unwrap();
        assert_eq!(found, 1, "lookups by username ignore case");
        assert!(conn.execute("delete from agent where agent_id = 3", []).is_err(), "a user still acts as the agent");

        conn.execute(
            "insert into session values ('s1', (select user_id from app_user where username = 'alice'), 'c', 0, 0, 9)",
            [],
        )
        .unwrap();
        conn.execute("delete from app_user", []).unwrap();
        let sessions: i64 = conn.query_row("select count(*) from session", [], |r| r.get(0)).unwrap();
        assert_eq!(sessions, 0, "sessions end with their user");
    }

    #[test]
    fn a_database_from_a_newer_build_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = open_writer(&dir.path().join("m.db")).unwrap();
        migrate(&mut conn, 1).unwrap();
        conn.execute("insert into schema_migration values (999, 'future', 0)", []).unwrap();
        assert!(matches!(migrate(&mut conn, 2), Err(StoreError::Backend(m)) if m.contains("newer")));
    }
}
