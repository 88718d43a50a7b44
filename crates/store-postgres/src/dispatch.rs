//! Dispatch: the engine's reads and batched writes — promotion, reservations, dialler claims (`FOR
//! UPDATE SKIP LOCKED`), holds and their expiry, presence, positions and counts.

#![allow(unused_imports, unused_variables)] // stubs until the section is written (issue 7)

use jiff::Timestamp;
use rebound_domain::model::*;
use rebound_store::*;

use crate::{PgStore, not_yet};

pub async fn next_due(store: &PgStore) -> StoreResult<Option<Timestamp>> {
    let _ = store;
    Err(not_yet("next_due"))
}

pub async fn promote_due(store: &PgStore, now: Timestamp, limit: u32, actor: &str) -> StoreResult<Vec<Callback>> {
    let _ = (store, now, limit, actor);
    Err(not_yet("promote_due"))
}

pub async fn campaign_pending(
    store: &PgStore,
    campaign_id: CampaignId,
    after: Option<CallbackId>,
    limit: u32,
) -> StoreResult<Vec<Callback>> {
    let _ = (store, campaign_id, after, limit);
    Err(not_yet("campaign_pending"))
}

pub async fn apply_earliest_times(
    store: &PgStore,
    changes: Vec<EarliestChange>,
    actor: &str,
    at: Timestamp,
) -> StoreResult<u64> {
    let _ = (store, changes, actor, at);
    Err(not_yet("apply_earliest_times"))
}

pub async fn free_agents(store: &PgStore) -> StoreResult<Vec<Agent>> {
    let _ = store;
    Err(not_yet("free_agents"))
}

pub async fn ready_agent_count(store: &PgStore) -> StoreResult<u64> {
    let _ = store;
    Err(not_yet("ready_agent_count"))
}

pub async fn queued_heads(store: &PgStore, source: QueuedSource, limit: u32) -> StoreResult<Vec<Callback>> {
    let _ = (store, source, limit);
    Err(not_yet("queued_heads"))
}

pub async fn oldest_queued_agent_callbacks(store: &PgStore) -> StoreResult<Vec<(CampaignId, Timestamp)>> {
    let _ = store;
    Err(not_yet("oldest_queued_agent_callbacks"))
}

pub async fn reserve_for_agents(store: &PgStore, request: ReserveRequest) -> StoreResult<Vec<Callback>> {
    let _ = (store, request);
    Err(not_yet("reserve_for_agents"))
}

pub async fn claim_for_dialer(store: &PgStore, request: ClaimRequest) -> StoreResult<Vec<Callback>> {
    let _ = (store, request);
    Err(not_yet("claim_for_dialer"))
}

pub async fn transition_callbacks(
    store: &PgStore,
    requests: Vec<TransitionRequest>,
) -> StoreResult<Vec<StoreResult<Callback>>> {
    let _ = (store, requests);
    Err(not_yet("transition_callbacks"))
}

pub async fn release_expired(
    store: &PgStore,
    now: Timestamp,
    limit: u32,
    actor: &str,
) -> StoreResult<Vec<ExpiredHold>> {
    let _ = (store, now, limit, actor);
    Err(not_yet("release_expired"))
}

pub async fn next_hold_expiry(store: &PgStore) -> StoreResult<Option<Timestamp>> {
    let _ = store;
    Err(not_yet("next_hold_expiry"))
}

pub async fn set_presence(
    store: &PgStore,
    agent_id: AgentId,
    presence: Presence,
    actor: &str,
    at: Timestamp,
) -> StoreResult<(Agent, Option<Callback>)> {
    let _ = (store, agent_id, presence, actor, at);
    Err(not_yet("set_presence"))
}

pub async fn agent_offer(store: &PgStore, agent_id: AgentId) -> StoreResult<Option<Callback>> {
    let _ = (store, agent_id);
    Err(not_yet("agent_offer"))
}

pub async fn queue_position(store: &PgStore, id: CallbackId) -> StoreResult<Option<u64>> {
    let _ = (store, id);
    Err(not_yet("queue_position"))
}

pub async fn callback_counts(store: &PgStore, now: Timestamp, due_before: Timestamp) -> StoreResult<CallbackCounts> {
    let _ = (store, now, due_before);
    Err(not_yet("callback_counts"))
}

pub async fn due_per_minute(
    store: &PgStore,
    queue_ids: Vec<QueueId>,
    from: Timestamp,
    to: Timestamp,
) -> StoreResult<Vec<DueCount>> {
    let _ = (store, queue_ids, from, to);
    Err(not_yet("due_per_minute"))
}
