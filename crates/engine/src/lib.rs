//! The dispatch engine: makes callbacks happen.
//!
//! - **Promotion** ([`promote`]): `SCHEDULED → QUEUED` at the earliest dialable time. The loop sleeps
//!   until the store's next due instant (`Store::next_due`) or a notification ([`Engine::notify_due`]),
//!   then promotes every due callback in batches. Nothing polls while nothing is due.
//! - **Routing** ([`route`]): agent-first. Free agents (ready, holding nothing), longest-ready first,
//!   each take the best callback they may take (`rebound_domain::dispatch::may_take`) in dispatch order
//!   (priority, then first queue entry); one `Store::reserve_for_agents` per pass.
//! - **Rescue** ([`rescue`]): offers and leases whose `hold_until` passed go back to `QUEUED`.
//! - **Protocol** ([`protocol`]): presence, offers, accept/reject, outcomes (retries, max attempts),
//!   dialler claims.
//! - **Campaign changes** ([`hours_change`]): new hours, exceptions or running switch recompute the
//!   earliest times of the campaign's waiting callbacks.
//! - **Metrics** ([`metrics`]): Prometheus counters and the dispatch-lag histogram; position in queue
//!   and estimated wait.
//! - **Leadership** ([`leader`]): with several nodes on one store, promotion and rescue run only on
//!   the node holding the store's leader lease; routing and the protocol run on every node.
//!
//! The store is the only state: after a crash, a restarted engine finds due callbacks with
//! `next_due`, expired holds with `next_hold_expiry`, and carries on. See `docs/ENGINE.md`.

pub mod hours_change;
pub mod leader;
pub mod metrics;
pub mod promote;
pub mod protocol;
pub mod rescue;
pub mod route;
mod runner;

use std::sync::Arc;

use jiff::SignedDuration;
use rebound_domain::clock::Clock;
use rebound_store::{Store, StoreError};

pub use leader::LeaderStatus;
pub use protocol::{OutcomeReport, WaitEstimate};
pub use runner::{EngineTask, StepReport};

/// Engine settings.
#[derive(Debug, Clone, PartialEq)]
pub struct EngineConfig {
    /// How long an agent has to accept an offer before it goes back to `QUEUED` (and the agent is set
    /// `not_ready`).
    pub offer_timeout: SignedDuration,
    /// Callbacks promoted per store transaction.
    pub promote_batch: u32,
    /// Expired offers/leases released per store transaction.
    pub rescue_batch: u32,
    /// Longest lease a dialler may ask for.
    pub max_lease_secs: u32,
    /// Largest `max` of one dialler claim.
    pub max_claim: u32,
    /// The handle time assumed for the estimated wait until real ones have been seen (seconds).
    pub default_handle_secs: f64,
    /// Days after its desired time a retried callback is kept (its new retention date).
    pub retention_days: u32,
    /// The actor named in the audit events the engine writes.
    pub actor: String,
    /// This node's name in the leader lease (made unique per process by the engine), for logs and
    /// `/metrics`.
    pub node_name: String,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            offer_timeout: SignedDuration::from_secs(20),
            promote_batch: 10_000,
            rescue_batch: 1_000,
            max_lease_secs: 3_600,
            max_claim: 1_000,
            default_handle_secs: 180.0,
            retention_days: rebound_domain::time::DEFAULT_RETENTION_DAYS,
            actor: "engine".into(),
            node_name: "rebound".into(),
        }
    }
}

/// Why an engine operation was refused.
#[derive(Debug, Clone, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A value in the request is not acceptable (`field`, message).
    #[error("{message}")]
    Invalid { field: &'static str, message: String },
    /// The callback is not offered to / held by the caller (or not in a state the action needs).
    #[error("{0}")]
    Conflict(String),
}

pub type EngineResult<T> = Result<T, EngineError>;

/// The engine: shared by the background task and the API (protocol calls, notifications).
pub struct Engine {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) config: EngineConfig,
    pub(crate) metrics: metrics::Metrics,
    pub(crate) signals: runner::Signals,
    pub(crate) handle_times: protocol::HandleTimes,
    pub(crate) leadership: leader::Leadership,
}

impl Engine {
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>, config: EngineConfig) -> Arc<Engine> {
        Arc::new(Engine {
            leadership: leader::Leadership::new(&config.node_name),
            store,
            clock,
            config,
            metrics: metrics::Metrics::default(),
            signals: runner::Signals::default(),
            handle_times: protocol::HandleTimes::default(),
        })
    }

    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    pub fn metrics(&self) -> &metrics::Metrics {
        &self.metrics
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rebound_domain::dispatch::Outcome;
    use rebound_domain::model::{Callback, CallbackId, Campaign, Presence};

    /// The API awaits these inside axum handlers and spawned tasks: their futures must be `Send`.
    /// Type-checked only; never run.
    #[allow(dead_code)]
    fn public_futures_are_send(engine: &Engine, callback: &Callback, campaign: &Campaign) {
        fn send<T: Send>(_: T) {}
        let report = OutcomeReport { outcome: Outcome::Busy, holder: None, wrap_code: None, notes: None };
        send(engine.run_once());
        send(engine.metrics_text());
        send(engine.campaign_changed(campaign));
        send(engine.set_presence(1, Presence::Ready, "a"));
        send(engine.offer(1));
        send(engine.accept(CallbackId::new(), None, "a"));
        send(engine.reject(CallbackId::new(), None, "a"));
        send(engine.report_outcome(CallbackId::new(), report.clone(), "a"));
        send(engine.report_outcomes(vec![(CallbackId::new(), report)], "a"));
        send(engine.claim(1, 1, 1, "a"));
        send(engine.wait_estimate(callback));
    }
}
