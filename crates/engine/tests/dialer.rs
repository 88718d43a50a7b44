//! The dialler protocol: claims are validated, a callback is never leased twice (even to concurrent
//! claims), an expired lease returns the callback to `QUEUED`, and a batch of outcomes is applied
//! one by one under the lease.

mod common;

use std::collections::HashSet;

use common::*;
use rebound_domain::dispatch::Outcome;
use rebound_domain::model::Direction;
use rebound_domain::state::{CallbackResult, CallbackState};
use rebound_engine::{EngineError, OutcomeReport};
use rebound_store::{Holder, StoreError};

fn by_lease(outcome: Outcome, lease: &str) -> OutcomeReport {
    OutcomeReport { outcome, holder: Some(Holder::Lease(lease.to_string())), wrap_code: None, notes: None }
}

#[tokio::test]
async fn claims_with_bad_values_are_refused() {
    let h = Harness::new().await;
    let mut inbound = campaign_fixture("Inbound", weekday_hours());
    inbound.direction = Direction::Inbound;
    let inbound = h.add_campaign(inbound).await;
    let max_claim = h.engine.config().max_claim;
    let max_lease = h.engine.config().max_lease_secs;
    let cases = [
        (h.campaign.id, 0, 60, "max"),
        (h.campaign.id, max_claim + 1, 60, "max"),
        (h.campaign.id, 10, 0, "lease_secs"),
        (h.campaign.id, 10, max_lease + 1, "lease_secs"),
        (9_999, 10, 60, "campaign_id"),
        (inbound.id, 10, 60, "campaign_id"),
    ];
    for (campaign_id, max, lease_secs, field) in cases {
        match h.engine.claim(campaign_id, max, lease_secs, "dialer").await {
            Err(EngineError::Invalid { field: f, .. }) => assert_eq!(f, field),
            other => panic!("claim({campaign_id}, {max}, {lease_secs}) gave {other:?}"),
        }
    }
}

#[tokio::test]
async fn concurrent_claims_never_lease_a_callback_twice() {
    let h = Harness::new().await;
    for _ in 0..50 {
        h.queue_callback(None).await;
    }
    h.run().await;
    assert_eq!(h.in_state(CallbackState::Queued).await.len(), 50);

    let claims = (0..8).map(|_| {
        let engine = h.engine.clone();
        let campaign_id = h.campaign.id;
        tokio::spawn(async move { engine.claim(campaign_id, 10, 60, "dialer").await })
    });
    let mut leased = Vec::new();
    for claim in claims.collect::<Vec<_>>() {
        leased.push(claim.await.expect("claim task").expect("claim"));
    }
    let all: Vec<_> = leased.iter().flatten().collect();
    assert_eq!(all.len(), 50, "every queued callback leased once");
    assert_eq!(all.iter().map(|c| c.id).collect::<HashSet<_>>().len(), 50, "no callback leased twice");
    for claim in &leased {
        let leases: HashSet<_> = claim.iter().map(|c| c.lease_id.clone().expect("lease id")).collect();
        assert!(leases.len() <= 1, "one lease id per claim");
    }
    let lease_ids: HashSet<_> = all.iter().map(|c| c.lease_id.clone()).collect();
    assert_eq!(lease_ids.len(), leased.iter().filter(|c| !c.is_empty()).count(), "a fresh lease id per claim");
    assert_eq!(h.in_state(CallbackState::Routing).await.len(), 50);
    assert!(h.engine.claim(h.campaign.id, 10, 60, "dialer").await.unwrap().is_empty());
}

#[tokio::test]
async fn an_expired_lease_returns_the_callback_to_the_queue() {
    let h = Harness::new().await;
    let cb = h.queue_callback(None).await;
    h.run().await;
    let leased = h.engine.claim(h.campaign.id, 5, 60, "dialer").await.unwrap();
    assert_eq!(leased.len(), 1);
    assert_eq!(leased[0].hold_until, Some(h.now() + secs(60)));

    h.advance(secs(59));
    assert_eq!(h.run().await.released, 0);
    h.advance(secs(1));
    assert_eq!(h.run().await.released, 1);
    let released = h.get(cb.id).await;
    h.assert_state(&released, CallbackState::Queued, None);
    assert_eq!((released.lease_id, released.hold_until, released.attempts), (None, None, 0));
    let metrics = h.engine.metrics_text().await.unwrap();
    assert!(metrics.contains(r#"rebound_releases_total{reason="lease_expired"} 1"#), "{metrics}");

    // The old lease no longer holds it.
    let late =
        h.engine.report_outcome(cb.id, by_lease(Outcome::Connected, leased[0].lease_id.as_deref().unwrap()), "dialer");
    assert!(late.await.is_err());
    let again = h.engine.claim(h.campaign.id, 5, 60, "dialer").await.unwrap();
    assert_eq!(again.iter().map(|c| c.id).collect::<Vec<_>>(), [cb.id]);
}

#[tokio::test]
async fn a_batch_of_dialler_outcomes_applies_each_on_its_own() {
    let h = Harness::new().await;
    for _ in 0..3 {
        h.queue_callback(None).await;
    }
    let stranger = h.queue_callback(None).await;
    h.run().await;
    let leased = h.engine.claim(h.campaign.id, 3, 60, "dialer").await.unwrap();
    assert_eq!(leased.len(), 3);
    assert!(!leased.iter().any(|c| c.id == stranger.id), "dispatch order: the oldest three");
    let lease = leased[0].lease_id.clone().unwrap();

    let results = h
        .engine
        .report_outcomes(
            vec![
                (leased[0].id, by_lease(Outcome::Connected, &lease)),
                (leased[1].id, by_lease(Outcome::Busy, &lease)),
                (leased[2].id, by_lease(Outcome::InvalidNumber, &lease)),
                (stranger.id, by_lease(Outcome::Connected, &lease)),
            ],
            "dialer",
        )
        .await
        .unwrap();
    let done = results[0].as_ref().unwrap();
    h.assert_state(done, CallbackState::Completed, Some(CallbackResult::Agent));
    let retried = results[1].as_ref().unwrap();
    assert_eq!((retried.state, retried.attempts, retried.lease_id.clone()), (CallbackState::Scheduled, 1, None));
    h.assert_state(results[2].as_ref().unwrap(), CallbackState::Completed, Some(CallbackResult::InvalidNumber));
    assert!(
        matches!(&results[3], Err(EngineError::Store(StoreError::Conflict(_) | StoreError::IllegalTransition(_)))),
        "not held by this lease: {:?}",
        results[3]
    );
    h.assert_state(&h.get(stranger.id).await, CallbackState::Queued, None);
    let metrics = h.engine.metrics_text().await.unwrap();
    assert!(metrics.contains("rebound_leases_total 3"), "{metrics}");
    assert!(metrics.contains(r#"rebound_outcomes_total{outcome="busy"} 1"#), "{metrics}");
}
