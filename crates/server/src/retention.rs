//! Retention: the background task that removes callbacks, their history and their cancellation
//! reports once they are past their retention date (PRODUCT.md: 14 days after the desired time,
//! `AppConfig::retention_days`; each callback's `expires_at` is set from it when it is created or
//! rescheduled).
//!
//! It works in small batches (`Store::purge_expired` removes at most `batch` callbacks per call,
//! each call one short write job), so the writer interleaves API writes between batches and a large
//! backlog never stalls the API. A pass runs batches until one removes fewer than `batch`
//! callbacks, then the task sleeps. "Now" comes from the app's clock, so tests drive retention with
//! a manual clock and [`run_once`].

use std::time::Duration;

use rebound_store::{PurgeOutcome, StoreError};

use crate::AppState;

/// Starts the retention loop: a pass now, then one every `every`. Runs until the handle is aborted
/// (the binary aborts it on shutdown); a failing pass is logged and tried again next time.
pub fn spawn(state: AppState, every: Duration, batch: u32) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            match run_once(&state, batch).await {
                Ok(removed) if removed != PurgeOutcome::default() => tracing::info!(
                    retention.callbacks = removed.callbacks,
                    retention.events = removed.events,
                    retention.reports = removed.reports,
                    "retention removed expired records"
                ),
                Ok(_) => tracing::debug!("retention found nothing to remove"),
                Err(e) => tracing::error!(error.cause = %e, "a retention pass failed; it runs again later"),
            }
            tokio::time::sleep(every).await;
        }
    })
}

/// One retention pass: batches of at most `batch` (at least 1) until a batch removes fewer
/// callbacks than that. Answers what the whole pass removed.
pub async fn run_once(state: &AppState, batch: u32) -> Result<PurgeOutcome, StoreError> {
    let batch = batch.max(1);
    let mut total = PurgeOutcome::default();
    loop {
        let removed = state.store.purge_expired(state.clock.now(), batch).await?;
        total.callbacks += removed.callbacks;
        total.events += removed.events;
        total.reports += removed.reports;
        if removed.callbacks < u64::from(batch) {
            return Ok(total);
        }
        // Let other tasks run between batches.
        tokio::task::yield_now().await;
    }
}
