//! How the PostgreSQL store's large batches read `callback`: by index, never by scanning the table.
//! A scan there makes each import batch cost time in proportion to everything stored, so filling a
//! fresh database slows down as it goes. The trap is a table without statistics — a fresh database
//! being filled before autovacuum's analyze has run — where the planner takes the batch's numbers to
//! match every row and scans the table for the duplicate counts.
//!
//! Counted with PostgreSQL's own statistics (`pg_stat_user_tables.seq_scan`), which every backend
//! reports when it exits. Runs on a fresh database of the server named by
//! `REBOUND_TEST_DATABASE_URL`, with the `pg-conformance` feature.
#![cfg(feature = "pg-conformance")]

use std::time::{Duration, Instant};

use rebound_store::conformance::{at, callback, new, world};
use rebound_store::*;
use rebound_store_postgres::scratch::ScratchDatabase;
use rebound_store_postgres::{PgOptions, PgStore};

/// Large enough for the store's large-batch path (custom plans, `COPY`).
const BATCH: usize = 1_000;
const BATCHES: usize = 6;

/// Sequential scans of `callback` so far, once every other session on the database has ended (and
/// so reported its counts).
async fn callback_seq_scans(url: &str) -> i64 {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(connection);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let others: i64 = client
            .query_one(
                "select count(*) from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid()",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        if others == 0 {
            break;
        }
        assert!(Instant::now() < deadline, "the store's connections did not close");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    client.batch_execute("select pg_stat_clear_snapshot()").await.unwrap();
    client
        .query_one("select coalesce(seq_scan, 0) from pg_stat_user_tables where relname = 'callback'", &[])
        .await
        .unwrap()
        .get(0)
}

#[tokio::test]
async fn large_batches_read_callbacks_by_index_on_a_table_without_statistics() {
    let admin_url = std::env::var("REBOUND_TEST_DATABASE_URL")
        .expect("REBOUND_TEST_DATABASE_URL names the PostgreSQL server these tests run on");
    let db = ScratchDatabase::create(&admin_url, "rebound_test").await.expect("a fresh test database");
    let connect = || PgStore::connect(&db.url, PgOptions { max_connections: 4, ..Default::default() });

    // The parents, and a first batch so the table is not empty; then the count starts.
    let store = connect().await.unwrap();
    let w = world(&store).await;
    let batch = |from: usize| -> Vec<NewCallback> {
        (from..from + BATCH)
            .map(|i| NewCallback {
                duplicate_limit: Some(1),
                ..new(callback(&w, &format!("+44207{i:07}"), at(i as i64)))
            })
            .collect()
    };
    let created = store.create_callbacks(batch(0)).await.unwrap();
    assert!(created.iter().all(Result::is_ok));
    drop(store);
    let before = callback_seq_scans(&db.url).await;

    // Batches into the duplicate-checked queue: each asks the duplicate counts of its numbers (and
    // asks again under the locks), the slot counts and the keys, and writes by `COPY`.
    let store = connect().await.unwrap();
    for b in 1..=BATCHES {
        let outcomes = store.create_callbacks(batch(b * BATCH)).await.unwrap();
        assert!(outcomes.iter().all(Result::is_ok), "batch {b}: {:?}", outcomes.iter().find(|o| o.is_err()));
    }
    // A batch that repeats numbers: the duplicate counts found them (so they were really asked).
    let repeated = store.create_callbacks(batch(BATCH)).await.unwrap();
    assert!(repeated.iter().all(|o| matches!(o, Err(StoreError::Duplicate { .. }))), "{:?}", &repeated[..1]);
    drop(store);

    let scans = callback_seq_scans(&db.url).await - before;
    assert_eq!(scans, 0, "{BATCHES} large batches scanned the whole callback table {scans} times");
}
