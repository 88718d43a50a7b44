//! The leader lease (migration 0006): of the nodes sharing this database, the one holding the
//! `engine` row runs the singleton duties. Taken and renewed with one conditional upsert, timed by
//! the database's clock so the nodes' own clocks may disagree.

use std::time::Duration;

use rebound_store::{LeaderLease, StoreResult};

use crate::PgStore;
use crate::codec::at;
use crate::error::backend;

/// The one lease there is today (the column leaves room for others).
const ENGINE_LEASE: &str = "engine";

/// Takes the lease when it is free, expired or already `node`'s, then answers whoever holds it.
///
/// The upsert's `where` makes the take conditional: a running lease of another node is left alone
/// (the row is still locked for the statement, so two claims racing for an expired lease are
/// serialised and exactly one wins). A renewal keeps `acquired_at`, so it tells how long the node
/// has led. When the upsert changed nothing, the outer select reads the holder as it is.
pub async fn claim_leadership(store: &PgStore, node: &str, ttl: Duration) -> StoreResult<LeaderLease> {
    let ttl_ms = i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX);
    let client = store.client().await?;
    let statement = client
        .prepare_cached(
            "with clock as (select (extract(epoch from clock_timestamp()) * 1000)::bigint as now_ms),
             taken as (
                 insert into leader_lease as l (lease, holder, acquired_at, expires_at)
                 select $1, $2, now_ms, now_ms + $3 from clock
                 on conflict (lease) do update
                     set holder = excluded.holder,
                         acquired_at = case when l.holder = excluded.holder then l.acquired_at
                                            else excluded.acquired_at end,
                         expires_at = excluded.expires_at
                     where l.holder = excluded.holder or l.expires_at <= excluded.acquired_at
                 returning holder, expires_at
             )
             select holder, expires_at from taken
             union all
             select holder, expires_at from leader_lease
              where lease = $1 and not exists (select 1 from taken)",
        )
        .await
        .map_err(backend)?;
    let row = match client.query_opt(&statement, &[&ENGINE_LEASE, &node, &ttl_ms]).await.map_err(backend)? {
        Some(row) => row,
        // The first claims racing: another node inserted the row after this statement's snapshot
        // was taken, so the fallback select could not see it. A new statement can.
        None => client
            .query_one("select holder, expires_at from leader_lease where lease = $1", &[&ENGINE_LEASE])
            .await
            .map_err(backend)?,
    };
    let holder: String = row.get(0);
    let expires_at: i64 = row.get(1);
    Ok(LeaderLease { holder, expires_at: Some(at(expires_at)) })
}

/// Removes the lease if `node` holds it, so the next claim by any node succeeds at once.
pub async fn resign_leadership(store: &PgStore, node: &str) -> StoreResult<()> {
    let client = store.client().await?;
    let statement =
        client.prepare_cached("delete from leader_lease where lease = $1 and holder = $2").await.map_err(backend)?;
    client.execute(&statement, &[&ENGINE_LEASE, &node]).await.map_err(backend)?;
    Ok(())
}
