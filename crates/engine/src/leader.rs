//! Leadership: several Rebound nodes may share one store (PostgreSQL). The singleton duties — the
//! promotion sweep and the rescue of expired offers and leases here, retention in the binary — run
//! only on the node holding the store's leader lease ([`Store::claim_leadership`]). Routing, the
//! agent and dialler protocol and campaign changes run on every node: the store's row locks keep
//! them safe however many nodes act at once.
//!
//! A background task ([`Engine::start`] starts it) claims the lease every [`RENEW_EVERY`] for
//! [`LEASE_TTL`]: well before it runs out, so one slow round trip does not lose it. This process
//! counts itself leader only until [`STEP_DOWN_EARLY`] before the lease could have run out as seen
//! from here (measured from when the claim was *sent*, so never later than the store's expiry),
//! which lets a pass in progress end before another node may take over. A node that dies stops
//! renewing and another takes over after the expiry; a node that shuts down resigns, so another
//! takes over at its next claim.
//!
//! The embedded store answers every claim with "you, for ever": a single process always leads.
//!
//! [`Store::claim_leadership`]: rebound_store::Store::claim_leadership

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rebound_store::LeaderLease;
use tokio::sync::Notify;

use crate::Engine;

/// How long a claimed lease lasts (by the store's clock).
pub const LEASE_TTL: Duration = Duration::from_secs(5);
/// How often the lease is claimed again (renewed by its holder, taken over by the others once it
/// has expired).
pub const RENEW_EVERY: Duration = Duration::from_secs(1);
/// A leader stops acting this long before its lease could expire.
pub const STEP_DOWN_EARLY: Duration = Duration::from_secs(1);

/// What this process knows about the leadership, for `/metrics` and the logs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaderStatus {
    /// This process's name in the lease: the configured node name and a suffix unique to the
    /// process, so a restarted node is a new holder.
    pub node: String,
    /// Whether this process runs the singleton duties now.
    pub leading: bool,
    /// The holder the last claim reported (`None` before the first claim was answered).
    pub leader: Option<String>,
    /// Whether other processes share the store (leadership is a lease), or this one is alone.
    pub shared: bool,
}

/// The leadership state of one process.
#[derive(Debug)]
pub(crate) struct Leadership {
    node: String,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    /// `None` until a claim has been answered.
    mode: Option<Mode>,
    leader: Option<String>,
}

#[derive(Debug, Clone, Copy)]
enum Mode {
    /// The only process on the store: always leads.
    Sole,
    /// A lease shared with other processes; this one leads until the instant, if at all.
    Shared { leading_until: Option<Instant> },
}

impl Leadership {
    /// `node_name` made unique to this process.
    pub(crate) fn new(node_name: &str) -> Leadership {
        let unique = uuid::Uuid::now_v7().simple().to_string();
        // The tail of a v7 uuid is random (its head is the time).
        let suffix = &unique[unique.len() - 8..];
        Leadership { node: format!("{node_name}/{suffix}"), state: Mutex::default() }
    }

    pub(crate) fn node(&self) -> &str {
        &self.node
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // The state is a few plain values, consistent after any panic: poisoning tells nothing.
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Whether this process may run the singleton duties now.
    pub(crate) fn leading(&self) -> bool {
        match self.lock().mode {
            Some(Mode::Sole) => true,
            Some(Mode::Shared { leading_until }) => leading_until.is_some_and(|until| Instant::now() < until),
            None => false,
        }
    }

    /// Whether other processes may share the store (commits of theirs must wake this engine).
    pub(crate) fn shared(&self) -> bool {
        matches!(self.lock().mode, Some(Mode::Shared { .. }))
    }

    pub(crate) fn status(&self) -> LeaderStatus {
        let leading = self.leading();
        let state = self.lock();
        LeaderStatus {
            node: self.node.clone(),
            leading,
            leader: state.leader.clone(),
            shared: matches!(state.mode, Some(Mode::Shared { .. })),
        }
    }

    /// Records a claim's answer (`asked` = when it was sent); answers whether this process has just
    /// become the leader.
    fn record(&self, lease: &LeaderLease, asked: Instant) -> bool {
        let was_leading = self.leading();
        let mine = lease.holder == self.node;
        let mode = match lease.expires_at {
            None => Mode::Sole,
            Some(_) => Mode::Shared { leading_until: mine.then(|| asked + LEASE_TTL.saturating_sub(STEP_DOWN_EARLY)) },
        };
        let previous = {
            let mut state = self.lock();
            state.mode = Some(mode);
            state.leader.replace(lease.holder.clone())
        };
        if previous.as_deref() != Some(lease.holder.as_str()) {
            if mine {
                tracing::info!(node = %self.node, "this node now leads (promotion, rescue, retention)");
            } else {
                tracing::info!(node = %self.node, leader = %lease.holder, "another node leads");
            }
        }
        !was_leading && self.leading()
    }

    /// This process no longer leads (it resigned, or is stopping).
    fn step_down(&self) {
        let mut state = self.lock();
        if let Some(Mode::Shared { .. }) = state.mode {
            state.mode = Some(Mode::Shared { leading_until: None });
            state.leader = None;
        }
    }
}

impl Engine {
    /// Whether this process runs the singleton duties now (always, on a store of its own). The
    /// binary runs retention only while this is true.
    pub fn leads(&self) -> bool {
        self.leadership.leading()
    }

    /// This process's view of the leadership.
    pub fn leader_status(&self) -> LeaderStatus {
        self.leadership.status()
    }
}

/// Claims the lease every [`RENEW_EVERY`] until `stop` is notified, then resigns it.
pub(crate) async fn keep_lease(engine: Arc<Engine>, stop: Arc<Notify>) {
    let node = engine.leadership.node().to_string();
    loop {
        let asked = Instant::now();
        match engine.store.claim_leadership(&node, LEASE_TTL).await {
            Ok(lease) => {
                if engine.leadership.record(&lease, asked) {
                    // Whatever is due or expired waits for the leader: look now.
                    engine.notify_routing();
                }
                if lease.expires_at.is_none() {
                    // Alone on the store: leads for as long as it runs, nothing to renew or resign.
                    stop.notified().await;
                    return;
                }
            }
            Err(e) => tracing::warn!(error = %e, "claiming the leader lease failed; trying again"),
        }
        tokio::select! {
            _ = stop.notified() => break,
            _ = tokio::time::sleep(RENEW_EVERY) => {}
        }
    }
    engine.leadership.step_down();
    if let Err(e) = engine.store.resign_leadership(&node).await {
        tracing::warn!(error = %e, "resigning the leader lease failed; it expires on its own");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::Timestamp;

    fn lease(holder: &str, shared: bool) -> LeaderLease {
        LeaderLease { holder: holder.to_string(), expires_at: shared.then(Timestamp::now) }
    }

    #[test]
    fn the_node_name_is_made_unique_per_process() {
        let (a, b) = (Leadership::new("node-a"), Leadership::new("node-a"));
        assert!(a.node().starts_with("node-a/") && b.node().starts_with("node-a/"));
        assert_ne!(a.node(), b.node());
    }

    #[test]
    fn a_sole_process_always_leads() {
        let l = Leadership::new("n");
        assert!(!l.leading(), "nothing is known before the first claim");
        assert!(l.record(&lease(&l.node.clone(), false), Instant::now()));
        assert!(l.leading() && !l.shared());
        l.step_down();
        assert!(l.leading(), "a sole process has nobody to hand over to");
    }

    #[test]
    fn a_shared_lease_leads_only_while_held_and_not_too_close_to_its_expiry() {
        let l = Leadership::new("n");
        let me = l.node.clone();
        assert!(!l.record(&lease("other/1", true), Instant::now()));
        assert!(!l.leading() && l.shared());
        assert_eq!(l.status().leader.as_deref(), Some("other/1"));

        assert!(l.record(&lease(&me, true), Instant::now()), "taking the lease is news");
        assert!(l.leading());
        assert!(!l.record(&lease(&me, true), Instant::now()), "a renewal is not");

        // A claim sent long ago (a stalled round trip): its lease may be gone by now.
        let stale = Instant::now() - (LEASE_TTL - STEP_DOWN_EARLY);
        l.record(&lease(&me, true), stale);
        assert!(!l.leading());

        l.record(&lease(&me, true), Instant::now());
        l.step_down();
        assert!(!l.leading() && l.status().leader.is_none());
    }
}
