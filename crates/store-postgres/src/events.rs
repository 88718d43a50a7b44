//! The live event stream: the audit tail by event id, and the commit signal.

#![allow(unused_imports, unused_variables)] // stubs until the section is written (issue 7)

use jiff::Timestamp;
use rebound_domain::model::*;
use rebound_store::*;

use crate::{PgStore, not_yet};

pub async fn events_after(store: &PgStore, after: i64, limit: u32) -> StoreResult<Vec<CallbackEvent>> {
    let _ = (store, after, limit);
    Err(not_yet("events_after"))
}

pub async fn last_event_id(store: &PgStore) -> StoreResult<i64> {
    let _ = store;
    Err(not_yet("last_event_id"))
}

pub fn commit_signal(store: &PgStore) -> tokio::sync::watch::Receiver<u64> {
    store.commit_signal.subscribe()
}

/// How often the watcher looks for other nodes' commits (the polling fallback of issue 7).
const WATCH_EVERY: std::time::Duration = std::time::Duration::from_millis(100);

/// Watches the audit tail for commits this process did not make (another node's) and bumps the
/// commit signal when it grows. Ends when the store is dropped.
pub(crate) fn start_watcher(store: &PgStore) {
    let signal = std::sync::Arc::downgrade(&store.commit_signal);
    let pool = store.pool.clone();
    tokio::spawn(async move {
        let mut seen: Option<i64> = None;
        let mut tick = tokio::time::interval(WATCH_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let Some(signal) = signal.upgrade() else { return };
            let Ok(client) = pool.get().await else { continue };
            let Ok(row) = client.query_one("select coalesce(max(callback_event_id), 0) from callback_event", &[]).await
            else {
                continue;
            };
            let last: i64 = row.get(0);
            if seen.is_some_and(|seen| last > seen) {
                signal.send_modify(|n| *n = n.wrapping_add(1));
            }
            seen = Some(last);
        }
    });
}
