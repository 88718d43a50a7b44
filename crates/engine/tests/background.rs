//! The background loop on the real clock (it promotes and routes without `run_once`, woken by the
//! store's next due instant or a notification), and the `/metrics` text.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use rebound_domain::clock::SystemClock;
use rebound_domain::model::{CallbackId, Presence};
use rebound_domain::state::CallbackState;
use rebound_engine::{Engine, EngineConfig};
use rebound_store::Store;

/// Polls until the callback is in `state`; generous, since CI machines stall.
async fn wait_for_state(store: &Arc<dyn Store>, id: CallbackId, state: CallbackState) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let now = store.get_callback(id).await.unwrap().expect("callback").state;
        if now == state {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "callback {id} still {now}, expected {state}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_loop_promotes_and_routes_on_its_own() {
    let h = Harness::new().await;
    let always = h.add_campaign(campaign_fixture("Always", always_open())).await;
    let queue = h.add_queue(always.id).await;
    // The harness computes earliest times from its manual clock: align it with the real one.
    h.clock.set(jiff::Timestamp::now());
    let before_start =
        h.create(Spec::queue(&queue, Some(jiff::Timestamp::now() + jiff::SignedDuration::from_millis(200)))).await;

    let engine = Engine::new(h.store.clone(), Arc::new(SystemClock), EngineConfig::default());
    let task = engine.start();
    wait_for_state(&h.store, before_start.id, CallbackState::Queued).await;

    // Created while the loop sleeps with nothing due: the notification wakes it.
    h.clock.set(jiff::Timestamp::now());
    let after_start =
        h.create(Spec::queue(&queue, Some(jiff::Timestamp::now() + jiff::SignedDuration::from_millis(200)))).await;
    engine.notify_due(after_start.earliest_time);
    wait_for_state(&h.store, after_start.id, CallbackState::Queued).await;

    // An agent becoming ready is routed to without a pass being asked for.
    let agent = h.add_agent(&[queue.id], &[always.id]).await;
    engine.set_presence(agent.id, Presence::Ready, "agent").await.unwrap();
    wait_for_state(&h.store, before_start.id, CallbackState::Routing).await;
    assert_eq!(h.store.get_callback(before_start.id).await.unwrap().unwrap().offered_to, Some(agent.id));

    tokio::time::timeout(Duration::from_secs(20), task.shutdown()).await.expect("the loop stops when asked");
}

#[tokio::test]
async fn metrics_text_has_every_family() {
    let h = Harness::new().await;
    h.ready_agent().await;
    let due = h.queue_callback(Some(h.now() + mins(1))).await;
    h.queue_callback(Some(h.now() + mins(10))).await;
    h.queue_callback(Some(h.now() + mins(60))).await;
    h.advance(mins(1));
    h.run().await;
    h.assert_state(&h.get(due.id).await, CallbackState::Routing, None);

    let text = h.engine.metrics_text().await.unwrap();
    for line in [
        "rebound_promotions_total 1",
        "rebound_offers_total 1",
        "rebound_leases_total 0",
        r#"rebound_callbacks{state="SCHEDULED"} 2"#,
        r#"rebound_callbacks{state="ROUTING"} 1"#,
        r#"rebound_callbacks{state="COMPLETED"} 0"#,
        "rebound_callbacks_overdue 0",
        "rebound_callbacks_due_15m 1",
        "rebound_agents_ready 1",
        r#"rebound_releases_total{reason="rejected"} 0"#,
        r#"rebound_outcomes_total{outcome="connected"} 0"#,
        r#"rebound_dispatch_lag_seconds_bucket{le="0.001"} 1"#,
        "rebound_dispatch_lag_seconds_count 1",
    ] {
        assert!(text.lines().any(|l| l == line), "missing {line:?} in:\n{text}");
    }
}
