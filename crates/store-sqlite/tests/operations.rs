//! SQLite-specific behaviour of the callback operations that the conformance suite cannot see: how a
//! bulk cancel shares the one writer, and how retention takes a large report apart in slices.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use jiff::SignedDuration;
use rebound_domain::model::CallbackId;
use rebound_store::conformance::{at, bulk, callback, create, new, world};
use rebound_store::{BulkSelection, CallbackFilter, NewCallback, PurgeOutcome, Store};
use rebound_store_sqlite::SqliteStore;

fn open() -> (Arc<SqliteStore>, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = SqliteStore::open_in_dir(dir.path()).expect("open store");
    (Arc::new(store), dir)
}

fn count(store: &SqliteStore, sql: &str) -> i64 {
    let conn = rusqlite::Connection::open(store.path()).unwrap();
    conn.query_row(sql, [], |r| r.get(0)).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bulk_cancel_lets_other_writes_run_between_its_batches() {
    let (store, _dir) = open();
    let w = world(store.as_ref()).await;
    // Three batches' worth.
    for start in (0..15_000).step_by(1_000) {
        let batch: Vec<NewCallback> =
            (start..start + 1_000).map(|i| new(callback(&w, &format!("+4420720{i:05}"), at(i % 500)))).collect();
        store.create_callbacks(batch).await.unwrap();
    }
    // Another writer keeps one create in flight for as long as the bulk cancel runs.
    let done = Arc::new(AtomicBool::new(false));
    let writer = {
        let (store, done) = (store.clone(), done.clone());
        let w = w.clone();
        tokio::spawn(async move {
            let mut created = Vec::new();
            let mut i = 0;
            while !done.load(Ordering::Acquire) {
                created.push(create(store.as_ref(), callback(&w, &format!("+4420730{i:05}"), at(10_000))).await.id);
                i += 1;
            }
            created
        })
    };
    let everything_before = CallbackFilter { to: Some(at(1_000)), ..Default::default() };
    let summary = store.bulk_cancel(bulk("big", BulkSelection::Filter(everything_before))).await.unwrap();
    done.store(true, Ordering::Release);
    let created = writer.await.unwrap();
    assert_eq!(summary.cancelled, 15_000);

    // Audit event ids are the writer's order: some of the other writer's creates committed after the
    // bulk cancel's first batch and before its last.
    let conn = rusqlite::Connection::open(store.path()).unwrap();
    let (first_cancel, last_cancel): (i64, i64) = conn
        .query_row(
            "select min(callback_event_id), max(callback_event_id) from callback_event where action = 'cancelled'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    let mut between = 0;
    for id in &created {
        let events = store.callback_events(*id).await.unwrap();
        if events[0].id > first_cancel && events[0].id < last_cancel {
            between += 1;
        }
    }
    assert!(between > 0, "no other write ran while the bulk cancel was under way ({} creates)", created.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_removes_a_large_report_at_once_and_its_lines_in_slices() {
    let (store, _dir) = open();
    // Ids that name no callback still make report lines: a cheap way to a large report.
    let ids: Vec<CallbackId> = (0..25_000).map(|_| CallbackId::new()).collect();
    let summary = store.bulk_cancel(bulk("large", BulkSelection::Ids(ids))).await.unwrap();
    assert_eq!(summary.skipped.len(), 25_000);
    assert_eq!(count(&store, "select count(*) from cancellation_report_row"), 25_000);

    let expired = at(40) + SignedDuration::from_hours(14 * 24);
    let first = store.purge_expired(expired, 10).await.unwrap();
    assert_eq!(first, PurgeOutcome { callbacks: 0, events: 0, reports: 1 });
    assert_eq!(store.cancellation_report("large").await.unwrap(), None, "the report is gone at once");
    assert_eq!(count(&store, "select count(*) from cancellation_report_row"), 5_000, "its lines go in slices");
    assert_eq!(store.purge_expired(expired, 10).await.unwrap(), PurgeOutcome::default());
    assert_eq!(count(&store, "select count(*) from cancellation_report_row"), 0);
    assert_eq!(count(&store, "select count(*) from cancellation_report_purge"), 0);
}
