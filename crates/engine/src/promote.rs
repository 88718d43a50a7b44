//! Promotion: `SCHEDULED → QUEUED` for every callback whose earliest dialable time has come, in
//! large batches (one store transaction each), recording how late each one was.

use crate::{Engine, EngineResult};

impl Engine {
    /// Promotes everything due at `clock.now()`; returns how many were promoted.
    pub(crate) async fn promote_all_due(&self) -> EngineResult<u64> {
        let now = self.clock.now();
        // A read is much cheaper than a write transaction: most passes (routing wake-ups, safety
        // re-checks) find nothing due.
        if self.store.next_due().await?.is_none_or(|due| due > now) {
            return Ok(0);
        }
        let batch = self.config.promote_batch.max(1);
        let mut promoted = 0u64;
        loop {
            let now = self.clock.now();
            let done = self.store.promote_due(now, batch, &self.config.actor).await?;
            // Lateness as the customer sees it: from the earliest dialable time to the commit.
            let committed = self.clock.now();
            for callback in &done {
                if let Some(earliest) = callback.earliest_time {
                    self.metrics.observe_dispatch_lag(committed.duration_since(earliest).as_secs_f64());
                }
            }
            promoted += done.len() as u64;
            self.metrics.promotions.inc_by(done.len() as u64);
            if done.len() < batch as usize {
                return Ok(promoted);
            }
        }
    }
}
