//! Outcomes: connected completes, failed attempts retry after the campaign's delay for that outcome
//! until max attempts, an invalid number completes at once; and the position and estimated wait of
//! waiting callbacks.

mod common;

use common::*;
use rebound_domain::dispatch::Outcome;
use rebound_domain::model::{Agent, Callback, Presence};
use rebound_domain::state::{CallbackResult, CallbackState};
use rebound_engine::{OutcomeReport, WaitEstimate};
use rebound_store::Holder;

fn report(outcome: Outcome) -> OutcomeReport {
    OutcomeReport { outcome, holder: None, wrap_code: None, notes: None }
}

/// Routes the callback to `agent` and accepts it.
async fn offer_and_accept(h: &Harness, agent: &Agent) -> Callback {
    h.run().await;
    let offer = h.engine.offer(agent.id).await.unwrap().expect("an offer");
    let accepted = h.engine.accept(offer.id, Some(agent.id), "agent").await.unwrap();
    h.assert_state(&accepted, CallbackState::Processing, None);
    accepted
}

#[tokio::test]
async fn a_connected_call_completes_and_the_agent_is_ready_again() {
    let h = Harness::new().await;
    let agent = h.ready_agent().await;
    let cb = h.queue_callback(None).await;
    offer_and_accept(&h, &agent).await;
    assert_eq!(h.agent(agent.id).await.presence, Presence::Busy);

    h.advance(secs(90));
    let outcome = OutcomeReport {
        outcome: Outcome::Connected,
        holder: Some(Holder::Agent(agent.id)),
        wrap_code: Some("SALE".into()),
        notes: Some("happy customer".into()),
    };
    let done = h.engine.report_outcome(cb.id, outcome, "agent").await.unwrap();
    h.assert_state(&done, CallbackState::Completed, Some(CallbackResult::Agent));
    assert_eq!(done.attempts, 1);
    assert_eq!((done.wrap_code.as_deref(), done.notes.as_deref()), (Some("SALE"), Some("happy customer")));
    let agent_after = h.agent(agent.id).await;
    assert_eq!((agent_after.presence, agent_after.ready_since), (Presence::Ready, Some(h.now())));
    assert_eq!(h.actions(cb.id).await.last().map(String::as_str), Some("outcome"));
}

#[tokio::test]
async fn failed_attempts_retry_after_the_campaign_delays_until_max_attempts() {
    let h = Harness::new().await;
    let agent = h.ready_agent().await;
    let cb = h.queue_callback(None).await;

    // Attempt 1: busy → again in 10 minutes.
    offer_and_accept(&h, &agent).await;
    let retried = h.engine.report_outcome(cb.id, report(Outcome::Busy), "agent").await.unwrap();
    h.assert_state(&retried, CallbackState::Scheduled, None);
    assert_eq!(retried.attempts, 1);
    assert_eq!(retried.desired_time, h.now() + mins(10));
    assert_eq!(retried.earliest_time, Some(h.now() + mins(10)));
    assert_eq!((retried.offered_to, retried.slot_start), (None, None));
    assert_eq!(h.agent(agent.id).await.presence, Presence::Ready);

    h.advance(mins(10) - secs(1));
    assert_eq!(h.run().await.promoted, 0);
    h.advance(secs(1));

    // Attempt 2: no answer → again in 30 minutes.
    offer_and_accept(&h, &agent).await;
    let retried = h.engine.report_outcome(cb.id, report(Outcome::NoAnswer), "agent").await.unwrap();
    assert_eq!((retried.state, retried.attempts), (CallbackState::Scheduled, 2));
    assert_eq!(retried.desired_time, h.now() + mins(30));
    h.advance(mins(30));

    // Attempt 3 is the last (max_attempts = 3).
    offer_and_accept(&h, &agent).await;
    let done = h.engine.report_outcome(cb.id, report(Outcome::Voicemail), "agent").await.unwrap();
    h.assert_state(&done, CallbackState::Completed, Some(CallbackResult::MaxAttempts));
    assert_eq!(done.attempts, 3);
    let outcomes = h.store.callback_events(cb.id).await.unwrap().into_iter().filter(|e| e.action == "outcome");
    let attempts: Vec<_> = outcomes.map(|e| e.details["attempt"].as_u64()).collect();
    assert_eq!(attempts, [Some(1), Some(2), Some(3)]);
}

#[tokio::test]
async fn a_retry_after_closing_time_waits_for_the_next_opening() {
    let h = Harness::new().await;
    let agent = h.ready_agent().await;
    h.set_time("2026-03-02T16:55:00Z");
    let cb = h.queue_callback(None).await;
    offer_and_accept(&h, &agent).await;
    let retried = h.engine.report_outcome(cb.id, report(Outcome::Busy), "agent").await.unwrap();
    assert_eq!(retried.desired_time, ts("2026-03-02T17:05:00Z"));
    assert_eq!(retried.earliest_time, Some(ts("2026-03-03T09:00:00Z")));
}

#[tokio::test]
async fn an_invalid_number_completes_at_once() {
    let h = Harness::new().await;
    let agent = h.ready_agent().await;
    let cb = h.queue_callback(None).await;
    offer_and_accept(&h, &agent).await;
    let done = h.engine.report_outcome(cb.id, report(Outcome::InvalidNumber), "agent").await.unwrap();
    h.assert_state(&done, CallbackState::Completed, Some(CallbackResult::InvalidNumber));
    assert_eq!(done.attempts, 1);
}

#[tokio::test]
async fn an_outcome_on_a_callback_nobody_holds_is_refused() {
    let h = Harness::new().await;
    let cb = h.queue_callback(Some(h.now() + mins(5))).await;
    let refused = h.engine.report_outcome(cb.id, report(Outcome::Connected), "agent").await;
    assert!(matches!(refused, Err(rebound_engine::EngineError::Store(_))), "{refused:?}");
    h.assert_state(&h.get(cb.id).await, CallbackState::Scheduled, None);
}

#[tokio::test]
async fn connected_on_an_offer_not_yet_accepted_completes_it_in_one_step() {
    let h = Harness::new().await;
    let agent = h.ready_agent().await;
    let cb = h.queue_callback(None).await;
    h.run().await;
    h.assert_state(&h.get(cb.id).await, CallbackState::Routing, None);
    let done = h.engine.report_outcome(cb.id, report(Outcome::Connected), "agent").await.unwrap();
    h.assert_state(&done, CallbackState::Completed, Some(CallbackResult::Agent));
    let actions = h.actions(cb.id).await;
    assert_eq!(actions[actions.len() - 2..], ["offered", "outcome"]);
    let last = h.store.callback_events(cb.id).await.unwrap().pop().unwrap();
    assert_eq!((last.from_state, last.to_state), (Some(CallbackState::Routing), Some(CallbackState::Completed)));
    assert_eq!(h.agent(agent.id).await.presence, Presence::Ready);
}

#[tokio::test]
async fn the_wait_estimate_divides_the_queue_ahead_among_ready_agents() {
    let h = Harness::new().await;
    let agents = [h.ready_agent().await, h.ready_agent().await];
    let offered = [h.queue_callback(None).await, h.queue_callback(None).await];
    h.run().await;
    let waiting = [h.queue_callback(None).await, h.queue_callback(None).await, h.queue_callback(None).await];
    h.run().await;

    // Default handle time (180 s) until one is seen; two ready agents.
    let mut estimates = Vec::new();
    for cb in &waiting {
        estimates.push(h.engine.wait_estimate(&h.get(cb.id).await).await.unwrap());
    }
    let expected = |position, wait| Some(WaitEstimate { position, estimated_wait_secs: Some(wait) });
    assert_eq!(estimates, [expected(1, 0), expected(2, 0), expected(3, 180)]);
    let routing = h.get(offered[0].id).await;
    assert_eq!(h.engine.wait_estimate(&routing).await.unwrap(), expected(0, 0));

    // One call handled in 60 s becomes the average.
    let held = h.engine.offer(agents[0].id).await.unwrap().expect("offer");
    h.engine.accept(held.id, Some(agents[0].id), "agent").await.unwrap();
    h.advance(secs(60));
    h.engine.report_outcome(held.id, report(Outcome::Connected), "agent").await.unwrap();
    let third = h.get(waiting[2].id).await;
    assert_eq!(h.engine.wait_estimate(&third).await.unwrap(), expected(3, 60));

    // No ready agent: no estimate.
    for agent in &agents {
        h.set_presence(agent.id, Presence::NotReady).await;
    }
    let third = h.get(waiting[2].id).await;
    let alone = h.engine.wait_estimate(&third).await.unwrap().expect("queued");
    assert_eq!(alone.estimated_wait_secs, None);
    let scheduled = h.queue_callback(Some(h.now() + mins(30))).await;
    assert_eq!(h.engine.wait_estimate(&scheduled).await.unwrap(), None);
}
