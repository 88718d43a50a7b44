//! What the PostgreSQL store keeps by itself instead of foreign keys (see `0001_initial.sql`): a
//! callback never names a campaign, list, lead or queue that does not exist, even when the record is
//! deleted while creates name it; and the large-batch write path (binary `COPY`) stores what the
//! one-statement path stores.
//!
//! Runs on a fresh database of the server named by `REBOUND_TEST_DATABASE_URL` (as the conformance
//! suite), with the `pg-conformance` feature.
#![cfg(feature = "pg-conformance")] // with the conformance suite: see tests/conformance.rs

use std::sync::Arc;

use rebound_domain::model::*;
use rebound_store::conformance::{at, callback, new, queue, world};
use rebound_store::*;
use rebound_store_postgres::scratch::ScratchDatabase;
use rebound_store_postgres::{PgOptions, PgStore};

async fn fresh() -> (Arc<PgStore>, ScratchDatabase) {
    let admin_url = std::env::var("REBOUND_TEST_DATABASE_URL")
        .expect("REBOUND_TEST_DATABASE_URL names the PostgreSQL server these tests run on");
    let db = ScratchDatabase::create(&admin_url, "rebound_test").await.expect("a fresh test database");
    let store = PgStore::connect(&db.url, PgOptions { max_connections: 8, ..Default::default() })
        .await
        .expect("the store connects");
    (Arc::new(store), db)
}

fn phone(i: usize) -> String {
    format!("+44207{i:07}")
}

/// Large enough for the `COPY` path (the store switches at 64).
const LARGE: usize = 300;

#[tokio::test]
async fn a_large_batch_stores_every_field_and_event_and_refuses_items_naming_missing_records() {
    let (store, _db) = fresh().await;
    let w = world(store.as_ref()).await;
    let missing_queue: QueueId = 9_999_999;
    let mut batch = Vec::new();
    for i in 0..LARGE {
        let mut cb = callback(&w, &phone(i), at(i as i64));
        if i % 50 == 7 {
            cb.queue_id = Some(missing_queue);
        }
        if i % 3 == 0 {
            // Every optional column set on some rows, so a column out of place would show.
            cb.list_id = Some(w.list.id);
            cb.lead_id = Some(w.lead.id);
            cb.notes = Some(format!("note {i}"));
            cb.timezone = Some("Europe/London".into());
            cb.lead_timezone = Some("Europe/Dublin".into());
            cb.slot_start = Some(at(i as i64));
            cb.priority = 3;
            cb.data.insert("account".into(), format!("A-{i}"));
        }
        let mut item = new(cb);
        item.idempotency = Some(IdempotencyKey { key: format!("import-{i}"), fingerprint: "f".into() });
        batch.push(item);
    }
    let sent: Vec<Callback> = batch.iter().map(|n| n.callback.clone()).collect();
    let results = store.create_callbacks(batch.clone()).await.unwrap();
    assert_eq!(results.len(), LARGE);
    let mut created = 0;
    for (i, (result, cb)) in results.iter().zip(&sent).enumerate() {
        if i % 50 == 7 {
            assert!(matches!(result, Err(StoreError::NotFound { .. })), "item {i}: {result:?}");
            assert_eq!(store.get_callback(cb.id).await.unwrap(), None, "a refused item writes nothing");
            continue;
        }
        let Ok(CreateOutcome::Created(stored)) = result else { panic!("item {i}: {result:?}") };
        created += 1;
        assert_eq!(store.get_callback(cb.id).await.unwrap().as_ref(), Some(stored), "item {i} reads back as answered");
        assert_eq!(stored.phone, cb.phone);
        assert_eq!(stored.notes, cb.notes);
        assert_eq!(stored.data, cb.data);
        assert_eq!(stored.lead_timezone, cb.lead_timezone);
        assert_eq!(stored.slot_start, cb.slot_start);
        let events = store.callback_events(cb.id).await.unwrap();
        assert_eq!(events.len(), 1, "item {i}: one audit event");
        assert_eq!(events[0].action, "created");
        assert_eq!(events[0].to_state, Some(stored.state));
    }
    assert_eq!(created, LARGE - LARGE.div_ceil(50));

    // The keys were written with the batch: sent again, every accepted item answers its first result.
    for (i, result) in store.create_callbacks(batch).await.unwrap().into_iter().enumerate() {
        match result {
            Ok(CreateOutcome::Replayed(first)) => assert_eq!(first.id, sent[i].id),
            other if i % 50 == 7 => assert!(matches!(other, Err(StoreError::NotFound { .. })), "item {i}: {other:?}"),
            other => panic!("item {i}: expected a replay, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn an_edit_moving_a_callback_to_a_missing_queue_is_refused_and_changes_nothing() {
    let (store, _db) = fresh().await;
    let w = world(store.as_ref()).await;
    let cb = rebound_store::conformance::create(store.as_ref(), callback(&w, &phone(1), at(5))).await;
    let request = UpdateRequest {
        id: cb.id,
        action: None,
        expect: Vec::new(),
        if_unchanged_since: None,
        edit: CallbackEdit { queue_id: Some(Some(9_999_999)), ..Default::default() },
        duplicate_limit: None,
        slot_capacity: None,
        actor: "tester".into(),
        at: at(6),
        event_action: "edited".into(),
        event_details: serde_json::json!({}),
    };
    let refused = store.update_callback(request).await;
    assert!(matches!(refused, Err(StoreError::NotFound { .. })), "{refused:?}");
    assert_eq!(store.get_callback(cb.id).await.unwrap(), Some(cb));
}

/// Creates (single and batched) race a delete of the queue they name, round after round. Whatever
/// wins, no callback may be left naming a queue that is gone, and every create that was answered
/// `Created` must exist. A third of the rounds hold the creates back (the delete goes first), a third
/// hold the delete back (the creates go first), and the rest start both together.
#[tokio::test]
async fn a_queue_deleted_while_creates_name_it_never_leaves_a_callback_without_its_queue() {
    let (store, _db) = fresh().await;
    let w = world(store.as_ref()).await;
    let mut deleted_rounds = 0;
    let mut refused_creates = 0;
    const HELD_BACK: std::time::Duration = std::time::Duration::from_millis(100);
    for round in 0..30usize {
        let (creates_wait, delete_waits) = match round % 3 {
            0 => (HELD_BACK, std::time::Duration::ZERO),
            1 => (std::time::Duration::ZERO, HELD_BACK),
            _ => (std::time::Duration::ZERO, std::time::Duration::from_millis((round % 4) as u64)),
        };
        let q = store.create_queue(queue(w.campaign.id, &format!("Race {round}"))).await.unwrap();
        let mut creators = Vec::new();
        for task in 0..4usize {
            let store = store.clone();
            let mut template = callback(&w, "+442070000000", at(1));
            template.queue_id = Some(q.id);
            creators.push(tokio::spawn(async move {
                tokio::time::sleep(creates_wait).await;
                let mut created = Vec::new();
                let mut refused = 0;
                for k in 0..3usize {
                    let batch: Vec<NewCallback> = (0..if task % 2 == 0 { 1 } else { 80 })
                        .map(|j| {
                            let mut cb = template.clone();
                            cb.id = CallbackId::new();
                            cb.phone = phone(round * 100_000 + task * 10_000 + k * 1_000 + j);
                            new(cb)
                        })
                        .collect();
                    for result in store.create_callbacks(batch).await.unwrap() {
                        match result {
                            Ok(CreateOutcome::Created(cb)) => created.push(cb.id),
                            Err(StoreError::NotFound { .. }) => refused += 1,
                            other => panic!("unexpected answer {other:?}"),
                        }
                    }
                }
                (created, refused)
            }));
        }
        tokio::time::sleep(delete_waits).await;
        let deleted = match store.delete_queue(q.id).await {
            Ok(()) => true,
            Err(StoreError::Conflict(_)) => false,
            Err(e) => panic!("delete answered {e:?}"),
        };
        let mut created = Vec::new();
        for creator in creators {
            let (ids, refused) = creator.await.unwrap();
            created.extend(ids);
            refused_creates += refused;
        }
        let filter = CallbackFilter { queue_ids: vec![q.id], ..Default::default() };
        let naming =
            store.list_callbacks(&filter, Sort::default(), PageRequest { page: 1, page_size: 1 }).await.unwrap();
        if deleted {
            deleted_rounds += 1;
            assert_eq!(naming.total, 0, "round {round}: the queue is gone, so no callback may name it");
            assert!(created.is_empty(), "round {round}: a create was answered Created for a deleted queue");
        } else {
            assert!(store.get_queue(q.id).await.unwrap().is_some());
        }
        for id in created {
            assert!(
                store.get_callback(id).await.unwrap().is_some(),
                "round {round}: an acknowledged create is missing"
            );
        }
    }
    // Both outcomes happened.
    assert!(deleted_rounds > 0 && deleted_rounds < 30, "deleted in {deleted_rounds} of 30 rounds");
    assert!(refused_creates > 0, "no create was refused for a deleted queue");
}

/// Large batches are written before their locks are taken (so imports run side by side) and checked
/// again once they hold them: concurrent batches naming the same numbers and the same slot must still
/// keep the duplicate limit and the slot capacity exactly.
#[tokio::test]
async fn concurrent_large_batches_keep_the_duplicate_limit_and_the_slot_capacity() {
    let (store, _db) = fresh().await;
    let w = world(store.as_ref()).await;
    const BATCHES: usize = 4;
    const ITEMS: usize = 100;

    // The same 100 numbers in every batch, limit one: each number is accepted exactly once.
    let mut tasks = Vec::new();
    for _ in 0..BATCHES {
        let store = store.clone();
        let batch: Vec<NewCallback> = (0..ITEMS)
            .map(|i| rebound_store::conformance::new_limited(callback(&w, &phone(i), at(i as i64)), 1))
            .collect();
        tasks.push(tokio::spawn(async move { store.create_callbacks(batch).await.unwrap() }));
    }
    let mut created_per_phone = std::collections::HashMap::<String, usize>::new();
    for task in tasks {
        for result in task.await.unwrap() {
            match result {
                Ok(CreateOutcome::Created(cb)) => *created_per_phone.entry(cb.phone).or_default() += 1,
                Err(StoreError::Duplicate { .. }) => {}
                other => panic!("unexpected answer {other:?}"),
            }
        }
    }
    assert_eq!(created_per_phone.len(), ITEMS, "every number was accepted once");
    assert!(created_per_phone.values().all(|n| *n == 1), "no number twice: {created_per_phone:?}");

    // One slot of capacity 150, 400 distinct numbers asking for it: exactly 150 bookings.
    let slot = at(600);
    let mut tasks = Vec::new();
    for b in 0..BATCHES {
        let store = store.clone();
        let batch: Vec<NewCallback> = (0..ITEMS)
            .map(|i| {
                let mut cb = callback(&w, &phone(10_000 + b * ITEMS + i), slot);
                cb.queue_id = Some(w.queue2.id);
                cb.slot_start = Some(slot);
                NewCallback { slot_capacity: Some(150), ..new(cb) }
            })
            .collect();
        tasks.push(tokio::spawn(async move { store.create_callbacks(batch).await.unwrap() }));
    }
    let (mut booked, mut full) = (0, 0);
    for task in tasks {
        for result in task.await.unwrap() {
            match result {
                Ok(CreateOutcome::Created(_)) => booked += 1,
                Err(StoreError::SlotFull { .. }) => full += 1,
                other => panic!("unexpected answer {other:?}"),
            }
        }
    }
    assert_eq!((booked, full), (150, BATCHES * ITEMS - 150));
    let bookings = store.slot_bookings(w.queue2.id, slot, slot + jiff::SignedDuration::from_mins(1)).await.unwrap();
    assert_eq!(bookings.iter().map(|b| b.1).sum::<u32>(), 150, "the store holds exactly the capacity: {bookings:?}");
}
