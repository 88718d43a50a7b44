//! Routing: dispatch order (priority, then first queue entry), fairness (longest-ready agent first),
//! never more offers than ready agents, reservation expiry, reject, presence withdrawing an offer,
//! paused queues, and the escalation of agent callbacks after the campaign's grace period.

mod common;

use std::collections::HashSet;

use common::*;
use rebound_domain::model::{Presence, Queue};
use rebound_domain::state::CallbackState;
use rebound_engine::EngineConfig;

#[tokio::test]
async fn a_queue_dispatches_by_priority_then_by_first_queue_entry() {
    let h = Harness::new().await;
    // Created in this order, but `late` enters QUEUED after `early`, and `urgent` last of all.
    let late = h.queue_callback(Some(h.now() + mins(2))).await;
    let early = h.queue_callback(Some(h.now() + mins(1))).await;
    let urgent = h.create(Spec::queue(&h.queue, Some(h.now() + mins(3))).priority(5)).await;
    for _ in 0..3 {
        h.advance(mins(1));
        h.run().await;
    }
    assert_eq!(h.in_state(CallbackState::Queued).await.len(), 3);

    let agent = h.ready_agent().await;
    let mut offered = Vec::new();
    for _ in 0..3 {
        assert_eq!(h.run().await.offered, 1);
        let offer = h.engine.offer(agent.id).await.unwrap().expect("an offer");
        offered.push(offer.id);
        h.engine.reject(offer.id, Some(agent.id), "test").await.unwrap();
        // Out of the way: finished by an administrator, so the next one comes up.
        h.store.transition_callback(cancel(offer.id, h.now())).await.expect("cancel the offered callback");
    }
    assert_eq!(offered, [urgent.id, early.id, late.id]);
}

fn cancel(id: rebound_domain::model::CallbackId, at: jiff::Timestamp) -> rebound_store::TransitionRequest {
    rebound_store::TransitionRequest {
        id,
        action: rebound_domain::state::Action::Cancel { by_customer: false },
        expect: vec![],
        update: Default::default(),
        holder: None,
        presence: None,
        actor: "test".into(),
        at,
        event_action: "cancelled".into(),
        event_details: serde_json::json!({}),
    }
}

#[tokio::test]
async fn the_agent_ready_longest_gets_the_first_offer() {
    let h = Harness::new().await;
    let first_created = h.add_agent(&[h.queue.id], &[h.campaign.id]).await;
    let second_created = h.add_agent(&[h.queue.id], &[h.campaign.id]).await;
    h.set_presence(second_created.id, Presence::Ready).await;
    h.advance(secs(30));
    h.set_presence(first_created.id, Presence::Ready).await;

    let cb = h.queue_callback(None).await;
    assert_eq!(h.run().await.offered, 1);
    let offered = h.get(cb.id).await;
    h.assert_state(&offered, CallbackState::Routing, None);
    assert_eq!(offered.offered_to, Some(second_created.id));
    assert_eq!(offered.hold_until, Some(h.now() + EngineConfig::default().offer_timeout));
}

#[tokio::test]
async fn never_more_offers_than_ready_agents_and_one_per_agent() {
    let h = Harness::new().await;
    let agents = [h.ready_agent().await, h.ready_agent().await, h.ready_agent().await];
    for _ in 0..10 {
        h.queue_callback(None).await;
    }
    assert_eq!(h.run().await.offered, 3);
    assert_eq!(h.run().await.offered, 0, "an agent holding an offer gets no second one");
    let routing = h.in_state(CallbackState::Routing).await;
    assert_eq!(routing.len(), 3);
    let holders: HashSet<_> = routing.iter().map(|c| c.offered_to.expect("offered to an agent")).collect();
    assert_eq!(holders, agents.iter().map(|a| a.id).collect());

    // A busy agent is not ready: accepting frees no slot for another offer.
    let held = h.engine.offer(agents[0].id).await.unwrap().expect("offer");
    h.engine.accept(held.id, Some(agents[0].id), "test").await.unwrap();
    assert_eq!(h.agent(agents[0].id).await.presence, Presence::Busy);
    h.run().await;
    assert_eq!(h.in_state(CallbackState::Routing).await.len(), 2);
    assert_eq!(h.in_state(CallbackState::Queued).await.len(), 7);
}

#[tokio::test]
async fn an_unanswered_offer_returns_to_the_queue_and_the_agent_becomes_not_ready() {
    let h = Harness::new().await;
    let agent = h.ready_agent().await;
    let cb = h.queue_callback(None).await;
    h.run().await;
    h.assert_state(&h.get(cb.id).await, CallbackState::Routing, None);

    h.advance(EngineConfig::default().offer_timeout - secs(1));
    assert_eq!(h.run().await.released, 0);
    h.advance(secs(1));
    let step = h.run().await;
    assert_eq!((step.released, step.offered), (1, 0));

    let released = h.get(cb.id).await;
    h.assert_state(&released, CallbackState::Queued, None);
    assert_eq!((released.offered_to, released.hold_until, released.attempts), (None, None, 0));
    assert_eq!(h.agent(agent.id).await.presence, Presence::NotReady);
    assert!(h.actions(cb.id).await.contains(&"offer_expired".to_string()));
    let metrics = h.engine.metrics_text().await.unwrap();
    assert!(metrics.contains(r#"rebound_releases_total{reason="offer_expired"} 1"#), "{metrics}");
}

#[tokio::test]
async fn a_rejected_offer_goes_to_the_next_agent_and_counts_no_attempt() {
    let h = Harness::new().await;
    let first = h.ready_agent().await;
    h.advance(secs(10));
    let second = h.ready_agent().await;
    let cb = h.queue_callback(None).await;
    h.run().await;
    assert_eq!(h.get(cb.id).await.offered_to, Some(first.id));

    h.advance(secs(5));
    let rejected = h.engine.reject(cb.id, Some(first.id), "agent").await.unwrap();
    h.assert_state(&rejected, CallbackState::Queued, None);
    assert_eq!(rejected.attempts, 0);
    let first_now = h.agent(first.id).await;
    assert_eq!(first_now.presence, Presence::Ready, "a rejecting agent stays ready");
    assert_eq!(first_now.ready_since, Some(h.now()), "…at the back of the line");

    h.run().await;
    let reoffered = h.get(cb.id).await;
    h.assert_state(&reoffered, CallbackState::Routing, None);
    assert_eq!(reoffered.offered_to, Some(second.id));
    assert!(h.actions(cb.id).await.contains(&"rejected".to_string()));
}

#[tokio::test]
async fn rejecting_someone_elses_offer_is_refused() {
    let h = Harness::new().await;
    let holder = h.ready_agent().await;
    let other = h.add_agent(&[h.queue.id], &[h.campaign.id]).await;
    let cb = h.queue_callback(None).await;
    h.run().await;
    assert_eq!(h.get(cb.id).await.offered_to, Some(holder.id));

    let refused = h.engine.reject(cb.id, Some(other.id), "other").await;
    assert!(matches!(refused, Err(rebound_engine::EngineError::Store(_))), "{refused:?}");
    h.assert_state(&h.get(cb.id).await, CallbackState::Routing, None);
}

#[tokio::test]
async fn leaving_ready_withdraws_the_open_offer() {
    let h = Harness::new().await;
    let agent = h.ready_agent().await;
    let cb = h.queue_callback(None).await;
    h.run().await;
    h.assert_state(&h.get(cb.id).await, CallbackState::Routing, None);

    let after = h.set_presence(agent.id, Presence::NotReady).await;
    assert_eq!((after.presence, after.ready_since), (Presence::NotReady, None));
    let withdrawn = h.get(cb.id).await;
    h.assert_state(&withdrawn, CallbackState::Queued, None);
    assert_eq!(withdrawn.offered_to, None);
    assert_eq!(h.run().await.offered, 0, "nobody is ready");
    assert!(h.engine.metrics_text().await.unwrap().contains(r#"rebound_releases_total{reason="withdrawn"} 1"#));
}

#[tokio::test]
async fn a_paused_queue_holds_its_callbacks() {
    let h = Harness::new().await;
    let paused = h.store.update_queue(Queue { paused: true, ..h.queue.clone() }).await.unwrap();
    h.ready_agent().await;
    let cb = h.queue_callback(None).await;
    let step = h.run().await;
    assert_eq!((step.promoted, step.offered), (1, 0));
    h.assert_state(&h.get(cb.id).await, CallbackState::Queued, None);

    h.store.update_queue(Queue { paused: false, ..paused }).await.unwrap();
    h.engine.notify_routing();
    assert_eq!(h.run().await.offered, 1);
    h.assert_state(&h.get(cb.id).await, CallbackState::Routing, None);
}

#[tokio::test]
async fn an_agent_callback_goes_to_its_own_agent() {
    let h = Harness::new().await;
    let other = h.ready_agent().await;
    let own = h.ready_agent().await;
    let cb = h.create(Spec::agent(h.campaign.id, own.id, None)).await;
    h.run().await;
    let offered = h.get(cb.id).await;
    assert_eq!(offered.offered_to, Some(own.id), "not to {} who was ready longer", other.id);
}

#[tokio::test]
async fn an_agent_callback_escalates_to_the_campaigns_agents_after_the_grace_period() {
    let h = Harness::new().await;
    let away = h.add_agent(&[], &[h.campaign.id]).await;
    // Ready longest, but outside the campaign.
    let outsider = h.add_agent(&[], &[]).await;
    h.set_presence(outsider.id, Presence::Ready).await;
    h.advance(secs(1));
    let colleague = h.add_agent(&[], &[h.campaign.id]).await;
    h.set_presence(colleague.id, Presence::Ready).await;

    let cb = h.create(Spec::agent(h.campaign.id, away.id, None)).await;
    h.run().await;
    h.assert_state(&h.get(cb.id).await, CallbackState::Queued, None);

    h.advance(mins(30) - secs(1));
    assert_eq!(h.run().await.offered, 0, "it waits for its agent during the grace period");
    h.advance(secs(1));
    assert_eq!(h.run().await.offered, 1);
    assert_eq!(h.get(cb.id).await.offered_to, Some(colleague.id));
}

#[tokio::test]
async fn escalated_agent_callbacks_reach_outside_agents_only_when_the_campaign_allows() {
    let h = Harness::new().await;
    let mut open = campaign_fixture("Open", weekday_hours());
    open.allow_unassigned_agent_callbacks = true;
    let open = h.add_campaign(open).await;
    let away = h.add_agent(&[], &[open.id]).await;
    let outsider = h.add_agent(&[], &[]).await;
    h.set_presence(outsider.id, Presence::Ready).await;

    let cb = h.create(Spec::agent(open.id, away.id, None)).await;
    h.run().await;
    h.advance(mins(29));
    assert_eq!(h.run().await.offered, 0);
    h.advance(mins(1));
    assert_eq!(h.run().await.offered, 1);
    assert_eq!(h.get(cb.id).await.offered_to, Some(outsider.id));

    // The fixture campaign does not allow it: the outsider (now free again) never gets one.
    h.engine.reject(cb.id, Some(outsider.id), "outsider").await.unwrap();
    h.store.transition_callback(cancel(cb.id, h.now())).await.unwrap();
    let closed = h.create(Spec::agent(h.campaign.id, away.id, None)).await;
    h.run().await;
    h.advance(mins(120));
    assert_eq!(h.run().await.offered, 0);
    h.assert_state(&h.get(closed.id).await, CallbackState::Queued, None);
}
