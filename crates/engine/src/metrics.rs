//! Prometheus metrics: counters and the dispatch-lag histogram kept by the engine, and the gauges
//! read from the store at scrape time, rendered in the text exposition format.
//!
//! The store counts cover every callback, so one scrape costs a count over millions of rows; they
//! are cached for [`COUNTS_TTL`] (scrapers usually poll every 15–60 s, several of them at once).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use jiff::SignedDuration;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use rebound_domain::dispatch::Outcome;
use rebound_domain::state::CallbackState;
use rebound_store::{CallbackCounts, StoreError};

use crate::{Engine, EngineError, EngineResult};

/// How long the store counts behind the gauges are reused.
const COUNTS_TTL: Duration = Duration::from_secs(5);
/// "Due soon" looks this far ahead (compare with ready agents).
const DUE_SOON: SignedDuration = SignedDuration::from_mins(15);
/// Dispatch lag buckets (seconds): 1 ms … 10 s.
const LAG_BUCKETS: [f64; 13] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

type Label = [(&'static str, &'static str); 1];

/// Why a callback left `ROUTING` for `QUEUED` (the `reason` label of `rebound_releases_total`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReleaseReason {
    OfferExpired,
    LeaseExpired,
    Rejected,
    Withdrawn,
}

impl ReleaseReason {
    pub const ALL: [ReleaseReason; 4] =
        [ReleaseReason::OfferExpired, ReleaseReason::LeaseExpired, ReleaseReason::Rejected, ReleaseReason::Withdrawn];

    pub fn as_str(self) -> &'static str {
        match self {
            ReleaseReason::OfferExpired => "offer_expired",
            ReleaseReason::LeaseExpired => "lease_expired",
            ReleaseReason::Rejected => "rejected",
            ReleaseReason::Withdrawn => "withdrawn",
        }
    }
}

/// The store figures behind the gauges, and when they were read.
#[derive(Debug)]
struct CachedCounts {
    read_at: Instant,
    counts: CallbackCounts,
    ready_agents: u64,
}

/// The engine's counters and histogram.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    pub(crate) promotions: Counter,
    pub(crate) offers: Counter,
    pub(crate) leases: Counter,
    releases: Family<Label, Counter>,
    outcomes: Family<Label, Counter>,
    dispatch_lag: Histogram,
    /// The histogram's count and sum (in microseconds) again, readable in-process (the histogram's
    /// own getters are test-only): the dashboard shows their mean.
    lag_count: AtomicU64,
    lag_micros: AtomicU64,
    callbacks: Family<Label, Gauge>,
    overdue: Gauge,
    due_soon: Gauge,
    agents_ready: Gauge,
    /// 1 while this process runs the leader's duties.
    leader: Gauge,
    /// This process's name in the leader lease, as a label (value always 1).
    node: Family<Vec<(&'static str, String)>, Gauge>,
    cache: tokio::sync::Mutex<Option<CachedCounts>>,
}

impl Default for Metrics {
    fn default() -> Self {
        let metrics = Metrics {
            registry: Registry::default(),
            promotions: Counter::default(),
            offers: Counter::default(),
            leases: Counter::default(),
            releases: Family::default(),
            outcomes: Family::default(),
            dispatch_lag: Histogram::new(LAG_BUCKETS),
            lag_count: AtomicU64::new(0),
            lag_micros: AtomicU64::new(0),
            callbacks: Family::default(),
            overdue: Gauge::default(),
            due_soon: Gauge::default(),
            agents_ready: Gauge::default(),
            leader: Gauge::default(),
            node: Family::default(),
            cache: tokio::sync::Mutex::new(None),
        };
        // Every label value exists from the start, so a rate over a fresh series is not missing.
        for reason in ReleaseReason::ALL {
            let _ = metrics.releases.get_or_create(&[("reason", reason.as_str())]);
        }
        for outcome in Outcome::ALL {
            let _ = metrics.outcomes.get_or_create(&[("outcome", outcome.as_str())]);
        }
        for state in CallbackState::ALL {
            let _ = metrics.callbacks.get_or_create(&[("state", state.as_str())]);
        }
        metrics.register()
    }
}

impl Metrics {
    /// Registers clones (they share their values) under the exposition names; counters get the
    /// `_total` suffix from the encoder.
    fn register(mut self) -> Self {
        let r = &mut self.registry;
        r.register("rebound_promotions", "Callbacks promoted from SCHEDULED to QUEUED", self.promotions.clone());
        r.register("rebound_offers", "Callbacks offered to agents (QUEUED to ROUTING)", self.offers.clone());
        r.register("rebound_leases", "Callbacks leased to diallers (QUEUED to ROUTING)", self.leases.clone());
        r.register("rebound_releases", "Callbacks returned from ROUTING to QUEUED, by reason", self.releases.clone());
        r.register("rebound_outcomes", "Attempt outcomes reported, by outcome", self.outcomes.clone());
        r.register(
            "rebound_dispatch_lag_seconds",
            "Time from a callback's earliest dialable time to its promotion",
            self.dispatch_lag.clone(),
        );
        r.register("rebound_callbacks", "Callbacks by state", self.callbacks.clone());
        r.register(
            "rebound_callbacks_overdue",
            "SCHEDULED callbacks past their earliest time plus window",
            self.overdue.clone(),
        );
        r.register(
            "rebound_callbacks_due_15m",
            "SCHEDULED callbacks whose earliest time is within the next 15 minutes",
            self.due_soon.clone(),
        );
        r.register("rebound_agents_ready", "Agents whose presence is ready", self.agents_ready.clone());
        r.register(
            "rebound_leader",
            "1 while this node holds the leader lease (runs promotion, rescue and retention), else 0",
            self.leader.clone(),
        );
        r.register("rebound_node", "This node's name in the leader lease (the value is always 1)", self.node.clone());
        self
    }

    /// How many promotions this process has timed and their summed lag in seconds (the
    /// dashboard shows the mean; the histogram itself is for Prometheus).
    pub fn dispatch_lag_totals(&self) -> (u64, f64) {
        let micros = self.lag_micros.load(Ordering::Relaxed);
        (self.lag_count.load(Ordering::Relaxed), micros as f64 / 1e6)
    }

    pub(crate) fn observe_dispatch_lag(&self, seconds: f64) {
        self.dispatch_lag.observe(seconds.max(0.0));
        self.lag_count.fetch_add(1, Ordering::Relaxed);
        self.lag_micros.fetch_add((seconds.max(0.0) * 1e6) as u64, Ordering::Relaxed);
    }

    pub(crate) fn count_release(&self, reason: ReleaseReason) {
        self.releases.get_or_create(&[("reason", reason.as_str())]).inc();
    }

    pub(crate) fn count_outcome(&self, outcome: Outcome) {
        self.outcomes.get_or_create(&[("outcome", outcome.as_str())]).inc();
    }

    fn set_gauges(&self, cached: &CachedCounts) {
        for (state, n) in &cached.counts.by_state {
            self.callbacks.get_or_create(&[("state", state.as_str())]).set(gauge_value(*n));
        }
        self.overdue.set(gauge_value(cached.counts.overdue));
        self.due_soon.set(gauge_value(cached.counts.due_soon));
        self.agents_ready.set(gauge_value(cached.ready_agents));
    }
}

fn gauge_value(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

impl Engine {
    /// The `/metrics` body: callbacks by state, overdue, due in the next 15 minutes, ready agents,
    /// dispatch lag histogram, promotions, offers, leases, releases, outcomes, and whether this node
    /// leads.
    pub async fn metrics_text(&self) -> EngineResult<String> {
        {
            // Held across the store reads: concurrent scrapes share one count instead of each
            // starting their own.
            let mut cache = self.metrics.cache.lock().await;
            let fresh = cache.as_ref().is_some_and(|c| c.read_at.elapsed() < COUNTS_TTL);
            if !fresh {
                let now = self.clock.now();
                let due_before = now.saturating_add(DUE_SOON).unwrap_or(now);
                let counts = self.store.callback_counts(now, due_before).await?;
                let ready_agents = self.store.ready_agent_count().await?;
                *cache = Some(CachedCounts { read_at: Instant::now(), counts, ready_agents });
            }
            if let Some(cached) = cache.as_ref() {
                self.metrics.set_gauges(cached);
            }
        }
        let status = self.leader_status();
        self.metrics.leader.set(i64::from(status.leading));
        self.metrics.node.get_or_create(&vec![("node", status.node)]).set(1);
        let mut text = String::new();
        // Writing into a String cannot fail; an error here is a bug in an encoder, shown as a 500.
        encode(&mut text, &self.metrics.registry)
            .map_err(|e| EngineError::Store(StoreError::Backend(format!("cannot encode the metrics: {e}"))))?;
        Ok(text)
    }
}
