//! The schema: versioned SQL files in `migrations/`, embedded, applied in order at
//! [`crate::PgStore::connect`], each in its own transaction together with its row in
//! `schema_migration`. Versions and names are the SQLite store's, so `schema_migration` reads the same
//! on both. Several nodes may start at once: a session-level advisory lock lets one of them migrate
//! while the others wait, then find nothing left to do.

use rebound_store::{StoreError, StoreResult};
use tokio_postgres::Client;

use crate::error::{Described, backend};

/// One schema step.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    pub version: i64,
    pub name: &'static str,
    pub sql: &'static str,
}

pub const MIGRATIONS: &[Migration] = &[
    Migration { version: 1, name: "initial", sql: include_str!("../migrations/0001_initial.sql") },
    Migration { version: 2, name: "operations", sql: include_str!("../migrations/0002_operations.sql") },
    Migration { version: 3, name: "dispatch", sql: include_str!("../migrations/0003_dispatch.sql") },
    Migration { version: 4, name: "access", sql: include_str!("../migrations/0004_access.sql") },
    Migration { version: 5, name: "user_prefs", sql: include_str!("../migrations/0005_user_prefs.sql") },
    Migration { version: 6, name: "leader_lease", sql: include_str!("../migrations/0006_leader_lease.sql") },
];

/// The advisory lock key migrations hold (any constant unique to Rebound).
const MIGRATION_LOCK: i64 = 0x5245_424f_554e_4430; // "REBOUND0"

/// Applies the pending migrations; answers the versions applied now.
pub(crate) async fn migrate(client: &mut Client, now_ms: i64) -> StoreResult<Vec<i64>> {
    client.execute("select pg_advisory_lock($1)", &[&MIGRATION_LOCK]).await.map_err(backend)?;
    let applied = apply_pending(client, now_ms).await;
    // Unlock whatever happened; a failed unlock ends with the session anyway.
    let _ = client.execute("select pg_advisory_unlock($1)", &[&MIGRATION_LOCK]).await;
    applied
}

async fn apply_pending(client: &mut Client, now_ms: i64) -> StoreResult<Vec<i64>> {
    client
        .batch_execute(
            "create table if not exists schema_migration (
                 version bigint primary key,
                 name text not null,
                 applied_at bigint not null
             )",
        )
        .await
        .map_err(backend)?;
    let current: i64 =
        client.query_one("select coalesce(max(version), 0) from schema_migration", &[]).await.map_err(backend)?.get(0);
    let known = MIGRATIONS.last().map_or(0, |m| m.version);
    if current > known {
        return Err(StoreError::Backend(format!(
            "the database has schema version {current}, newer than this build knows ({known}); upgrade Rebound"
        )));
    }
    let mut applied = Vec::new();
    for m in MIGRATIONS.iter().filter(|m| m.version > current) {
        let tx = client.transaction().await.map_err(backend)?;
        tx.batch_execute(m.sql)
            .await
            .map_err(|e| backend(format!("migration {:04}_{} failed: {}", m.version, m.name, Described::from(e).0)))?;
        tx.execute(
            "insert into schema_migration (version, name, applied_at) values ($1, $2, $3)",
            &[&m.version, &m.name, &now_ms],
        )
        .await
        .map_err(backend)?;
        tx.commit().await.map_err(backend)?;
        applied.push(m.version);
    }
    Ok(applied)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_run_from_one_without_gaps() {
        for (i, m) in MIGRATIONS.iter().enumerate() {
            assert_eq!(m.version, i as i64 + 1);
        }
    }
}
