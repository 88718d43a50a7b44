//! Promotion: `SCHEDULED → QUEUED` at the earliest dialable time — not before, and at it — under
//! dialling hours, a DST change, a closed-day exception, a stopped and restarted campaign, changed
//! hours, and after a restart of the engine.

mod common;

use common::*;
use rebound_domain::state::CallbackState;
use rebound_engine::{Engine, EngineConfig};
use serde_json::json;

#[tokio::test]
async fn a_callback_is_promoted_at_its_earliest_time_and_not_before() {
    let h = Harness::new().await;
    let desired = h.now() + mins(10);
    let cb = h.queue_callback(Some(desired)).await;
    assert_eq!(cb.earliest_time, Some(desired));

    h.advance(mins(10) - jiff::SignedDuration::from_millis(1));
    assert_eq!(h.run().await.promoted, 0);
    h.assert_state(&h.get(cb.id).await, CallbackState::Scheduled, None);

    h.advance(jiff::SignedDuration::from_millis(1));
    assert_eq!(h.run().await.promoted, 1);
    let queued = h.get(cb.id).await;
    h.assert_state(&queued, CallbackState::Queued, None);
    assert_eq!(queued.queued_at, Some(desired));
    assert_eq!(h.actions(cb.id).await, ["created", "promoted"]);
}

#[tokio::test]
async fn a_callback_desired_after_closing_waits_for_the_next_opening() {
    let h = Harness::new().await;
    let cb = h.queue_callback(Some(ts("2026-03-02T17:30:00Z"))).await;
    assert_eq!(cb.earliest_time, Some(ts("2026-03-03T09:00:00Z")));

    h.set_time("2026-03-02T17:30:00Z");
    h.run().await;
    h.set_time("2026-03-03T08:59:59Z");
    h.run().await;
    h.assert_state(&h.get(cb.id).await, CallbackState::Scheduled, None);

    h.set_time("2026-03-03T09:00:00Z");
    assert_eq!(h.run().await.promoted, 1);
    h.assert_state(&h.get(cb.id).await, CallbackState::Queued, None);
}

#[tokio::test]
async fn opening_hours_follow_the_clock_change_in_london() {
    let h = Harness::new().await;
    let day = json!([["09:00", "17:00"]]);
    let hours = json!({"mon": day, "tue": day, "wed": day, "thu": day, "fri": day, "sat": day, "sun": day});
    let campaign = h.add_campaign(campaign_fixture("Every day", hours)).await;
    let queue = h.add_queue(campaign.id).await;
    // Saturday 28 March after closing; the clocks go forward overnight, so Sunday's 09:00 is 08:00 UTC.
    let cb = h.create(Spec::queue(&queue, Some(ts("2026-03-28T18:00:00Z")))).await;
    assert_eq!(cb.earliest_time, Some(ts("2026-03-29T08:00:00Z")));

    h.set_time("2026-03-29T07:59:59.999Z");
    assert_eq!(h.run().await.promoted, 0);
    h.assert_state(&h.get(cb.id).await, CallbackState::Scheduled, None);

    h.set_time("2026-03-29T08:00:00Z");
    assert_eq!(h.run().await.promoted, 1);
    h.assert_state(&h.get(cb.id).await, CallbackState::Queued, None);
}

#[tokio::test]
async fn a_closed_day_exception_holds_callbacks_until_the_next_open_day() {
    let h = Harness::new().await;
    let mut campaign = campaign_fixture("Closed Tuesday", weekday_hours());
    campaign.exceptions = serde_json::from_value(json!([{"date": "2026-03-03", "hours": []}])).unwrap();
    let campaign = h.add_campaign(campaign).await;
    let queue = h.add_queue(campaign.id).await;
    let cb = h.create(Spec::queue(&queue, Some(ts("2026-03-03T10:00:00Z")))).await;
    assert_eq!(cb.earliest_time, Some(ts("2026-03-04T09:00:00Z")));

    for at in ["2026-03-03T10:00:00Z", "2026-03-03T16:59:00Z", "2026-03-04T08:59:59Z"] {
        h.set_time(at);
        h.run().await;
        h.assert_state(&h.get(cb.id).await, CallbackState::Scheduled, None);
    }
    h.set_time("2026-03-04T09:00:00Z");
    h.run().await;
    h.assert_state(&h.get(cb.id).await, CallbackState::Queued, None);
}

#[tokio::test]
async fn a_stopped_campaign_promotes_nothing_until_it_runs_again() {
    let h = Harness::new().await;
    let cb = h.queue_callback(Some(h.now() + mins(5))).await;

    let mut stopped = h.campaign.clone();
    stopped.running = false;
    let stopped = h.store.update_campaign(stopped).await.unwrap();
    assert_eq!(h.engine.campaign_changed(&stopped).await.unwrap(), 1);
    assert_eq!(h.get(cb.id).await.earliest_time, None);

    h.advance(mins(60));
    assert_eq!(h.run().await.promoted, 0);
    h.assert_state(&h.get(cb.id).await, CallbackState::Scheduled, None);

    let mut running = stopped;
    running.running = true;
    let running = h.store.update_campaign(running).await.unwrap();
    assert_eq!(h.engine.campaign_changed(&running).await.unwrap(), 1);
    assert_eq!(h.get(cb.id).await.earliest_time, Some(h.now()));
    assert_eq!(h.run().await.promoted, 1);
    h.assert_state(&h.get(cb.id).await, CallbackState::Queued, None);
}

#[tokio::test]
async fn new_hours_demote_a_queued_callback_the_campaign_may_no_longer_dial() {
    let h = Harness::new().await;
    let cb = h.queue_callback(None).await;
    h.run().await;
    let first_queued = h.get(cb.id).await.queued_at;
    h.assert_state(&h.get(cb.id).await, CallbackState::Queued, None);

    // Today becomes a closed day.
    let mut closed_today = h.campaign.clone();
    closed_today.exceptions = serde_json::from_value(json!([{"date": "2026-03-02", "hours": []}])).unwrap();
    let closed_today = h.store.update_campaign(closed_today).await.unwrap();
    assert_eq!(h.engine.campaign_changed(&closed_today).await.unwrap(), 1);

    let demoted = h.get(cb.id).await;
    h.assert_state(&demoted, CallbackState::Scheduled, None);
    assert_eq!(demoted.earliest_time, Some(ts("2026-03-03T09:00:00Z")));
    assert_eq!(h.actions(cb.id).await.last().map(String::as_str), Some("demoted"));

    h.set_time("2026-03-03T09:00:00Z");
    h.run().await;
    let requeued = h.get(cb.id).await;
    h.assert_state(&requeued, CallbackState::Queued, None);
    assert_eq!(requeued.queued_at, first_queued, "it keeps its place in line");
}

#[tokio::test]
async fn a_restarted_engine_promotes_what_fell_due_while_it_was_down() {
    let h = Harness::new().await;
    let cb = h.queue_callback(Some(h.now() + mins(5))).await;
    h.advance(mins(30));

    // A fresh engine on the same store: nothing but the store tells it what is due.
    let restarted = Engine::new(h.store.clone(), h.clock.clone(), EngineConfig::default());
    assert_eq!(restarted.run_once().await.unwrap().promoted, 1);
    h.assert_state(&h.get(cb.id).await, CallbackState::Queued, None);
}

#[tokio::test]
async fn one_pass_promotes_everything_due_across_many_batches() {
    let h = Harness::with_config(EngineConfig { promote_batch: 3, ..EngineConfig::default() }).await;
    for _ in 0..10 {
        h.queue_callback(Some(h.now() + mins(1))).await;
    }
    let later = h.queue_callback(Some(h.now() + mins(2))).await;
    h.advance(mins(1));
    assert_eq!(h.run().await.promoted, 10);
    assert_eq!(h.in_state(CallbackState::Queued).await.len(), 10);
    h.assert_state(&h.get(later.id).await, CallbackState::Scheduled, None);
}
