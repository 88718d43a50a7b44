//! The leader lease on PostgreSQL (migration 0006): one holder at a time, renewed by its holder,
//! taken over after it expires or is resigned, and exactly one winner when nodes race for it.
//!
//! Runs on a fresh database of the server named by `REBOUND_TEST_DATABASE_URL` (as the conformance
//! suite), with the `pg-conformance` feature.
#![cfg(feature = "pg-conformance")] // with the conformance suite: see tests/conformance.rs

use std::time::Duration;

use rebound_store::Store;
use rebound_store_postgres::scratch::ScratchDatabase;
use rebound_store_postgres::{PgOptions, PgStore};

/// Two stores (two "nodes") on one fresh database.
async fn two_nodes() -> (PgStore, PgStore, ScratchDatabase) {
    let admin_url = std::env::var("REBOUND_TEST_DATABASE_URL")
        .expect("REBOUND_TEST_DATABASE_URL names the PostgreSQL server these tests run on");
    let db = ScratchDatabase::create(&admin_url, "rebound_test").await.expect("a fresh test database");
    let a = PgStore::connect(&db.url, PgOptions { max_connections: 4, ..Default::default() })
        .await
        .expect("node a connects");
    let b = PgStore::connect(&db.url, PgOptions { max_connections: 4, ..Default::default() })
        .await
        .expect("node b connects");
    (a, b, db)
}

const TTL: Duration = Duration::from_secs(30);

#[tokio::test]
async fn one_node_holds_the_lease_until_it_resigns() {
    let (a, b, _db) = two_nodes().await;
    let first = a.claim_leadership("a", TTL).await.unwrap();
    assert_eq!(first.holder, "a");
    let expires = first.expires_at.expect("a shared store's lease expires");

    let refused = b.claim_leadership("b", TTL).await.unwrap();
    assert_eq!(refused, first, "a running lease stays with its holder, and b is told who holds it");

    let renewed = a.claim_leadership("a", TTL).await.unwrap();
    assert_eq!(renewed.holder, "a");
    assert!(renewed.expires_at.unwrap() >= expires, "a renewal moves the expiry forward");

    b.resign_leadership("b").await.unwrap();
    assert_eq!(b.claim_leadership("b", TTL).await.unwrap().holder, "a", "only the holder can resign");

    a.resign_leadership("a").await.unwrap();
    assert_eq!(b.claim_leadership("b", TTL).await.unwrap().holder, "b", "a resigned lease is free at once");
}

#[tokio::test]
async fn an_expired_lease_is_taken_over() {
    let (a, b, _db) = two_nodes().await;
    assert_eq!(a.claim_leadership("a", Duration::from_millis(200)).await.unwrap().holder, "a");
    assert_eq!(b.claim_leadership("b", TTL).await.unwrap().holder, "a");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(b.claim_leadership("b", TTL).await.unwrap().holder, "b", "a dead node's lease runs out");
    assert_eq!(a.claim_leadership("a", TTL).await.unwrap().holder, "b", "and it does not come back to it");
}

#[tokio::test]
async fn nodes_racing_for_a_free_lease_agree_on_one_winner() {
    let (a, b, _db) = two_nodes().await;
    let (a, b) = (std::sync::Arc::new(a), std::sync::Arc::new(b));
    let claims: Vec<_> = (0..8)
        .map(|i| {
            let store = if i % 2 == 0 { a.clone() } else { b.clone() };
            tokio::spawn(async move { store.claim_leadership(&format!("node-{i}"), TTL).await.unwrap() })
        })
        .collect();
    let mut holders = Vec::new();
    for claim in claims {
        holders.push(claim.await.unwrap().holder);
    }
    holders.dedup();
    assert_eq!(holders.len(), 1, "every claim saw the same winner: {holders:?}");
}
