//! Rescue: offers and leases whose `hold_until` has passed go back to `QUEUED` (the store sets an
//! agent who let an offer expire `not_ready`), counted by reason.

use rebound_store::Holder;

use crate::metrics::ReleaseReason;
use crate::{Engine, EngineResult};

impl Engine {
    /// Releases every expired hold at `clock.now()`; returns how many were released.
    pub(crate) async fn rescue_expired(&self) -> EngineResult<u64> {
        let now = self.clock.now();
        if self.store.next_hold_expiry().await?.is_none_or(|until| until > now) {
            return Ok(0);
        }
        let batch = self.config.rescue_batch.max(1);
        let mut released = 0u64;
        loop {
            let done = self.store.release_expired(self.clock.now(), batch, &self.config.actor).await?;
            for expired in &done {
                let reason = match expired.holder {
                    Holder::Agent(_) => ReleaseReason::OfferExpired,
                    Holder::Lease(_) => ReleaseReason::LeaseExpired,
                };
                self.metrics.count_release(reason);
                tracing::debug!(callback = %expired.callback.id, reason = reason.as_str(), "hold expired");
            }
            released += done.len() as u64;
            if done.len() < batch as usize {
                return Ok(released);
            }
        }
    }
}
