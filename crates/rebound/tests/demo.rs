//! The demo data set, loaded into a real (temporary) SQLite store: it must show every state, every
//! result, every origin and both callback types, with valid numbers and real audit trails.

use std::collections::{BTreeSet, HashSet};

use rebound::demo::{DemoOptions, load_if_empty};
use rebound_domain::model::{CallbackType, Origin};
use rebound_domain::phone::PhoneNumber;
use rebound_domain::state::{CallbackResult, CallbackState};
use rebound_store::{CallbackFilter, PageRequest, Sort, Store};
use rebound_store_sqlite::SqliteStore;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_has_every_state_and_result_with_valid_numbers_and_real_histories() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open_in_dir(dir.path()).unwrap();
    let options = DemoOptions::default();
    let summary = load_if_empty(&store, &options).await.unwrap().expect("an empty store gets the demo");
    println!("{summary}");
    assert_eq!(summary.leads, 3000);
    assert!(summary.callbacks >= 1900, "{summary}");

    // Read everything back through the store, not the summary.
    let mut all = Vec::new();
    for page in 1.. {
        let got = store
            .list_callbacks(&CallbackFilter::default(), Sort::default(), PageRequest { page, page_size: 1000 })
            .await
            .unwrap();
        let done = got.items.is_empty();
        all.extend(got.items);
        if done {
            break;
        }
    }
    assert_eq!(all.len(), summary.callbacks);

    let states: BTreeSet<_> = all.iter().map(|c| c.state).collect();
    let results: BTreeSet<_> = all.iter().filter_map(|c| c.result).collect();
    let origins: HashSet<_> = all.iter().map(|c| c.origin).collect();
    let kinds: HashSet<_> = all.iter().map(|c| c.kind).collect();
    assert_eq!(states, CallbackState::ALL.into_iter().collect());
    assert_eq!(results, CallbackResult::ALL.into_iter().collect());
    for origin in [Origin::Immediate, Origin::Scheduled, Origin::WrapCode, Origin::AutoCallback] {
        assert!(origins.contains(&origin), "no {origin:?} callback");
    }
    assert_eq!(kinds, [CallbackType::Agent, CallbackType::Queue].into_iter().collect());
    assert!(summary.overdue >= 1, "{summary}");

    for c in &all {
        let parsed = PhoneNumber::parse(&c.phone, None).unwrap_or_else(|e| panic!("{}: {e}", c.phone));
        assert_eq!(parsed.as_str(), c.phone, "stored phone must already be E.164");
        assert!(c.phone.starts_with("+44") || c.phone.starts_with("+65") || c.phone.starts_with("+61"), "{}", c.phone);
        assert_eq!(c.state == CallbackState::Completed, c.result.is_some());
    }

    // A MAX_ATTEMPTS callback's history is the full legal walk, three attempts long.
    let maxed = all.iter().find(|c| c.result == Some(CallbackResult::MaxAttempts)).unwrap();
    assert_eq!(maxed.attempts, 3);
    let events = store.callback_events(maxed.id).await.unwrap();
    let walk: Vec<(Option<CallbackState>, Option<CallbackState>)> =
        events.iter().map(|e| (e.from_state, e.to_state)).collect();
    use CallbackState::*;
    let attempt = [(Some(Scheduled), Some(Queued)), (Some(Queued), Some(Routing)), (Some(Routing), Some(Processing))];
    let mut expected = vec![(None, Some(Scheduled))];
    for _ in 0..2 {
        expected.extend(attempt);
        expected.push((Some(Processing), Some(Scheduled)));
    }
    expected.extend(attempt);
    expected.push((Some(Processing), Some(Completed)));
    assert_eq!(walk, expected);
    assert!(events.windows(2).all(|w| w[0].at <= w[1].at), "history is in time order");
    assert!(events.iter().all(|e| e.actor == "demo"));

    // Loading again changes nothing.
    assert!(load_if_empty(&store, &options).await.unwrap().is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_seed_and_instant_give_the_same_demo() {
    let options = DemoOptions { now: "2026-03-05T10:30:00Z".parse().unwrap(), ..DemoOptions::default() };
    let mut snapshots = Vec::new();
    for _ in 0..2 {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open_in_dir(dir.path()).unwrap();
        load_if_empty(&store, &options).await.unwrap().unwrap();
        let page = PageRequest { page: 1, page_size: PageRequest::MAX_SIZE };
        let first = store.list_callbacks(&CallbackFilter::default(), Sort::default(), page).await.unwrap();
        let rows: Vec<_> = first
            .items
            .iter()
            .map(|c| (c.id, c.phone.clone(), c.state, c.result, c.desired_time, c.earliest_time, c.attempts))
            .collect();
        snapshots.push((first.total, rows));
    }
    assert_eq!(snapshots[0], snapshots[1]);
}
