//! The background loop: run one pass (rescue, promote, route), then sleep until the soonest of the
//! next due instant, the next hold expiry, the next escalation, or a notification.
//!
//! Rescue and promotion are the leader's duties ([`crate::leader`]): a node that does not lead only
//! routes, and plans its wake-ups without due instants or hold expiries (the leader acts on those).
//! When other processes share the store, their commits (promotions, agents becoming ready on another
//! node, creates) matter here too: the loop also wakes when the store's commit signal moves, at most
//! once per [`SHARED_COMMIT_PACE`], since this process's own commits move it as well.
//!
//! Wake-ups are cheap to ask for: [`Engine::notify_due`] is called on every create, so it is one
//! atomic `fetch_min` on the instant the loop plans to wake at, and it only touches the `Notify`
//! when the new instant is sooner than that plan. At the start of each pass the plan is reset to
//! "never", so anything that becomes due while a pass runs wakes the loop again right after it.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use tokio::sync::Notify;

use crate::route::RouteReport;
use crate::{Engine, EngineResult};

/// The longest the loop sleeps without looking at the store: a notification lost to a bug, or a
/// change made by another process sharing the store, delays work by at most this much.
const SAFETY_RECHECK: Duration = Duration::from_secs(30);
/// First pause after a failed pass; doubled on each further failure up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// "No planned wake-up": the loop waits for a notification (or the safety re-check).
const NEVER: i64 = i64::MAX;
/// With a shared store, passes woken by commits start at least this long after the previous pass
/// started (commits arrive by the thousand under load; one pass covers them all).
const SHARED_COMMIT_PACE: Duration = Duration::from_millis(50);

/// Wake-ups from the API (new or changed callbacks, presence and configuration changes).
#[derive(Debug)]
pub(crate) struct Signals {
    wake: Notify,
    /// The instant (Unix milliseconds) the loop plans to wake at by itself; [`NEVER`] while a pass
    /// runs or when nothing is due.
    planned_wake_ms: AtomicI64,
}

impl Default for Signals {
    fn default() -> Self {
        Signals { wake: Notify::new(), planned_wake_ms: AtomicI64::new(NEVER) }
    }
}

impl Signals {
    fn due_at(&self, at_ms: i64) {
        // fetch_min answers the plan as it was: only a sooner instant needs the loop's attention.
        if at_ms < self.planned_wake_ms.fetch_min(at_ms, Ordering::AcqRel) {
            self.wake.notify_one();
        }
    }

    fn wake_now(&self) {
        self.planned_wake_ms.store(i64::MIN, Ordering::Release);
        self.wake.notify_one();
    }
}

/// What one pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StepReport {
    pub released: u64,
    pub promoted: u64,
    pub offered: u64,
}

/// Tells the loop to stop; shared so that dropping the [`EngineTask`] does not stop it.
#[derive(Debug, Default)]
struct Stop {
    requested: AtomicBool,
    notify: Notify,
}

/// The running background tasks (the loop and the leader lease); dropping this does not stop them,
/// [`EngineTask::shutdown`] does.
pub struct EngineTask {
    stop: Arc<Stop>,
    handle: tokio::task::JoinHandle<()>,
    lease_stop: Arc<Notify>,
    lease: tokio::task::JoinHandle<()>,
}

impl EngineTask {
    /// Stops the loop after its current pass and waits for it, then gives up the leader lease (only
    /// once no pass runs, so the next leader never overlaps with this one's duties).
    pub async fn shutdown(self) {
        self.stop.requested.store(true, Ordering::Release);
        // notify_one keeps a permit if the loop is mid-pass, so it cannot miss this.
        self.stop.notify.notify_one();
        if let Err(e) = self.handle.await {
            tracing::error!(error = %e, "the engine loop ended abnormally");
        }
        self.lease_stop.notify_one();
        if let Err(e) = self.lease.await {
            tracing::error!(error = %e, "the leader lease task ended abnormally");
        }
    }
}

impl Engine {
    /// Starts the background loop and the leader lease task on the current tokio runtime.
    pub fn start(self: &Arc<Self>) -> EngineTask {
        let stop = Arc::new(Stop::default());
        let lease_stop = Arc::new(Notify::new());
        let lease = tokio::spawn(crate::leader::keep_lease(self.clone(), lease_stop.clone()));
        let handle = tokio::spawn(run_loop(self.clone(), stop.clone()));
        EngineTask { stop, handle, lease_stop, lease }
    }

    /// Something may be due at `earliest` (a create, reschedule, edit or retry): wakes the loop if
    /// that is sooner than it planned to. Cheap enough for every create.
    pub fn notify_due(&self, earliest: Option<Timestamp>) {
        // No earliest time (a stopped campaign): nothing will be due until the campaign changes.
        if let Some(at) = earliest {
            self.signals.due_at(at.as_millisecond());
        }
    }

    /// Agents, queues or offers changed: route again now.
    pub fn notify_routing(&self) {
        self.signals.wake_now();
    }

    /// One pass at `clock.now()`: release expired holds, promote everything due, route — every
    /// duty, leader or not, as a single node would. Tests with a manual clock call this directly
    /// after moving the clock.
    pub async fn run_once(&self) -> EngineResult<StepReport> {
        Ok(self.pass(true).await?.0)
    }

    /// A pass (the leader's duties only when `leading`), and what routing learned for planning the
    /// next wake-up.
    async fn pass(&self, leading: bool) -> EngineResult<(StepReport, RouteReport)> {
        // Every due callback is promoted before anything is routed: routing between promotion
        // batches would make the last callbacks of a large burst late.
        let (released, promoted) =
            if leading { (self.rescue_expired().await?, self.promote_all_due().await?) } else { (0, 0) };
        let route = self.route(self.clock.now()).await?;
        Ok((StepReport { released, promoted, offered: route.offered }, route))
    }

    /// When the loop must look again by itself: the soonest of the next due promotion and the next
    /// hold expiry (the leader's), and (when agents are free to take them) the next escalation.
    /// `None` = only a notification can create work.
    async fn next_wake(&self, route: &RouteReport, leading: bool) -> EngineResult<Option<Timestamp>> {
        if !leading {
            // Due callbacks and expired holds wait for the leader: planning on them would wake this
            // node over and over for work it may not do.
            return Ok(route.next_escalation);
        }
        let due = self.store.next_due().await?;
        let hold = self.store.next_hold_expiry().await?;
        Ok([due, hold, route.next_escalation].into_iter().flatten().min())
    }
}

async fn run_loop(engine: Arc<Engine>, stop: Arc<Stop>) {
    let mut backoff = FIRST_BACKOFF;
    let mut commits = engine.store.commit_signal();
    let mut commits_open = true;
    tracing::info!("dispatch engine started");
    while !stop.requested.load(Ordering::Acquire) {
        let started = tokio::time::Instant::now();
        // From here on, every notification is sooner than the (unknown yet) plan, and every commit
        // is one this pass may not have seen.
        engine.signals.planned_wake_ms.store(NEVER, Ordering::Release);
        commits.borrow_and_update();
        let leading = engine.leads();
        let outcome = match engine.pass(leading).await {
            Ok((step, route)) => {
                if step != StepReport::default() {
                    tracing::debug!(released = step.released, promoted = step.promoted, offered = step.offered, "pass");
                }
                engine.next_wake(&route, leading).await
            }
            Err(e) => Err(e),
        };
        let sleep_for = match outcome {
            Ok(wake) => {
                backoff = FIRST_BACKOFF;
                let wake_ms = wake.map_or(NEVER, |t| t.as_millisecond());
                // Keep a sooner instant a notification set during the pass (its permit is stored too).
                engine.signals.planned_wake_ms.fetch_min(wake_ms, Ordering::AcqRel);
                wake.map_or(SAFETY_RECHECK, |t| until(t, engine.clock.now()))
            }
            Err(e) => {
                tracing::warn!(error = %e, retry_in_ms = backoff.as_millis() as u64, "dispatch pass failed");
                let pause = backoff;
                backoff = (backoff * 2).min(MAX_BACKOFF);
                pause
            }
        };
        let watch_commits = commits_open && engine.leadership.shared();
        tokio::select! {
            _ = engine.signals.wake.notified() => {}
            _ = stop.notify.notified() => {}
            _ = tokio::time::sleep(sleep_for) => {}
            changed = commits.changed(), if watch_commits => match changed {
                Ok(()) => tokio::time::sleep_until(started + SHARED_COMMIT_PACE).await,
                // The store is gone (shutting down): the other wake-ups remain.
                Err(_) => commits_open = false,
            },
        }
    }
    tracing::info!("dispatch engine stopped");
}

/// The wall-clock time from `now` to `wake`, at least zero and at most the safety re-check.
fn until(wake: Timestamp, now: Timestamp) -> Duration {
    let ahead = wake.duration_since(now);
    if ahead <= SignedDuration::ZERO {
        return Duration::ZERO;
    }
    Duration::try_from(ahead).unwrap_or(SAFETY_RECHECK).min(SAFETY_RECHECK)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_sooner_instant_notifies() {
        let signals = Signals::default();
        signals.planned_wake_ms.store(1_000, Ordering::Release);
        signals.due_at(2_000);
        assert_eq!(signals.planned_wake_ms.load(Ordering::Acquire), 1_000);
        signals.due_at(500);
        assert_eq!(signals.planned_wake_ms.load(Ordering::Acquire), 500);
    }

    #[test]
    fn sleep_is_clamped_between_zero_and_the_safety_recheck() {
        let now: Timestamp = "2026-03-02T10:00:00Z".parse().unwrap();
        assert_eq!(until(now - SignedDuration::from_secs(5), now), Duration::ZERO);
        assert_eq!(until(now + SignedDuration::from_millis(200), now), Duration::from_millis(200));
        assert_eq!(until(now + SignedDuration::from_hours(5), now), SAFETY_RECHECK);
    }
}
