//! The service layer: every business rule the API applies, between a parsed request and the store.
//!
//! Handlers parse, call one function here and turn its result into a response; these functions
//! validate values with the domain rules, look up what they refer to, and make one intent-named
//! store call. No SQL and no HTTP types live here (errors are [`ApiError`]s because the mapping to
//! the contract is one-to-one).
//!
//! - [`config`]: campaigns, lists, leads, queues, agents, wrap codes (create, merge-PATCH, delete).
//! - [`callbacks`]: creating (single and bulk), listing, searching, history, slot availability.
//! - [`operations`]: edit (type, agent, transfer, move, notes, data), reschedule, cancel, delete,
//!   recreate.
//! - [`bulk`]: bulk cancel and its kept report.
//! - [`export`]: the streamed CSV export and the Cancellation Summary Report CSV.
//! - [`access`]: API tokens.
//! - [`users`]: console users; [`sessions`]: signing in and out, session cookies.
//! - [`scope`]: which callbacks, configuration and agents a principal may see and act on.
//! - [`agents`]: the agent and dialler protocol (presence, offers, outcomes, claims) over the engine.
//! - [`intake`]: generated callbacks: auto-callbacks and Add-to-Queue wrap codes.
//! - [`live`]: the live event hub behind the SSE streams.
//! - [`dashboard`]: the dashboard's day figures (due per slot, capacity, ready agents, lags).
//!
//! [`ConfigCache`] keeps a short-lived snapshot of campaigns, queues and agents so the hot create
//! path does not read them from the store on every request.

pub mod access;
pub mod agents;
pub mod bulk;
pub mod callbacks;
pub mod config;
pub mod dashboard;
pub mod export;
pub mod intake;
pub mod live;
pub mod operations;
pub mod scope;
pub mod sessions;
pub mod users;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use rebound_domain::model::{Agent, AgentId, Campaign, CampaignId, Queue, QueueId};
use rebound_store::{PageRequest, Store};

use crate::dto::Paged;
use crate::error::{ApiError, ApiResult};
use crate::extract::Params;

/// How long a configuration snapshot is used before it is read again. Writes through this server
/// drop it at once; a change made by another process is seen within this time.
pub const CONFIG_CACHE_TTL: Duration = Duration::from_secs(2);

/// Campaigns, queues and agents by id, as read at one moment.
#[derive(Debug, Default)]
pub struct ConfigSnapshot {
    pub campaigns: HashMap<CampaignId, Arc<Campaign>>,
    pub queues: HashMap<QueueId, Arc<Queue>>,
    pub agents: HashMap<AgentId, Arc<Agent>>,
}

impl ConfigSnapshot {
    /// The distinct regions of all campaigns (phone search reads national numbers with each).
    pub fn regions(&self) -> Vec<&str> {
        let mut regions: Vec<&str> = self.campaigns.values().map(|c| c.region.as_str()).collect();
        regions.sort_unstable();
        regions.dedup();
        regions
    }
}

/// The configuration snapshot cache (see [`CONFIG_CACHE_TTL`]).
#[derive(Debug, Default)]
pub struct ConfigCache {
    current: RwLock<Option<(Instant, Arc<ConfigSnapshot>)>>,
    /// Bumped by every invalidation, so a reload that started before a write cannot store a
    /// snapshot older than that write.
    generation: AtomicU64,
}

impl ConfigCache {
    pub fn invalidate(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = None;
    }

    pub async fn snapshot(&self, store: &dyn Store) -> ApiResult<Arc<ConfigSnapshot>> {
        if let Some((at, snapshot)) = self.current.read().unwrap_or_else(|e| e.into_inner()).as_ref()
            && at.elapsed() < CONFIG_CACHE_TTL
        {
            return Ok(snapshot.clone());
        }
        let generation = self.generation.load(Ordering::SeqCst);
        let snapshot = Arc::new(ConfigSnapshot {
            campaigns: store.list_campaigns().await?.into_iter().map(|c| (c.id, Arc::new(c))).collect(),
            queues: store.list_queues().await?.into_iter().map(|q| (q.id, Arc::new(q))).collect(),
            agents: store.list_agents().await?.into_iter().map(|a| (a.id, Arc::new(a))).collect(),
        });
        let mut current = self.current.write().unwrap_or_else(|e| e.into_inner());
        if self.generation.load(Ordering::SeqCst) == generation {
            *current = Some((Instant::now(), snapshot.clone()));
        }
        Ok(snapshot)
    }
}

/// Reads `page` and `page_size` (defaults 1 and 250; `page_size` at most 1000). Out-of-range
/// values are refused, never clamped.
pub fn page_request(params: &Params) -> ApiResult<PageRequest> {
    let page = params.number::<u32>("page")?.unwrap_or(1);
    let page_size = params.number::<u32>("page_size")?.unwrap_or(PageRequest::DEFAULT_SIZE);
    if page == 0 {
        return Err(ApiError::invalid_field("page", "page starts at 1"));
    }
    if page_size == 0 || page_size > PageRequest::MAX_SIZE {
        return Err(ApiError::invalid_field(
            "page_size",
            format!("page_size must be between 1 and {}", PageRequest::MAX_SIZE),
        ));
    }
    Ok(PageRequest { page, page_size })
}

/// One page of an in-memory list.
pub fn paginate<T>(all: Vec<T>, page: PageRequest) -> Paged<T> {
    let total = all.len() as u64;
    let offset = usize::try_from(page.offset()).unwrap_or(usize::MAX);
    let items = all.into_iter().skip(offset).take(page.page_size as usize).collect();
    Paged { items, page: page.page, page_size: page.page_size, total }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_size_above_the_maximum_is_refused_not_clamped() {
        let err = page_request(&Params::parse("page_size=5000")).unwrap_err();
        assert_eq!(err.status(), axum::http::StatusCode::UNPROCESSABLE_ENTITY);
        assert!(page_request(&Params::parse("page=0")).is_err());
        assert_eq!(page_request(&Params::parse("")).unwrap(), PageRequest::default());
    }

    #[test]
    fn paginate_slices_and_counts_everything() {
        let page = paginate((0..7).collect(), PageRequest { page: 2, page_size: 3 });
        assert_eq!((page.items, page.total), (vec![3, 4, 5], 7));
    }
}
