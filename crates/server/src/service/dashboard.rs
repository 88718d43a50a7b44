//! The dashboard's figures for one day: callbacks due per slot against slot capacity and ready
//! agents, the overdue count, and how late dispatch runs. Read-only.
//!
//! "Due in a slot" means an active (not `COMPLETED`) callback of the queue whose earliest dialable
//! time falls in the slot: the work the slot has to carry, whether it was booked into the slot
//! (scheduled) or arrived as an immediate request or a retry. The counts come from one store query
//! for every queue shown ([`rebound_store::Store::due_per_minute`]); the slots and their capacity are
//! the domain's (`slots::slots_between` over the campaign's dialling hours), so the bars line up
//! with what booking and availability use.
//!
//! One queue is shown slot by slot. All the queues in scope are shown hour by hour in the viewer's
//! timezone (their slot grids differ): each hour sums the due callbacks in it and the capacity of the
//! slots that start in it.
//!
//! Scope: only queues the principal may see are read; the overdue and queued figures go through the
//! callbacks list service, so they are the caller's exactly as `GET /callbacks` counts them. Two
//! figures are the engine's as a whole (they name no callback): how late promotion runs now, and the
//! mean promotion lag this process has measured.

use std::collections::HashMap;
use std::sync::Arc;

use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use rebound_domain::access::{Permission, Principal};
use rebound_domain::model::{Presence, Queue, QueueId};
use rebound_domain::slots::{self, Slot};
use rebound_store::DueCount;

use crate::AppState;
use crate::error::{ApiError, ApiResult};
use crate::extract::Params;
use crate::service::ConfigSnapshot;
use crate::service::callbacks::{self, ListQuery, campaign_plan, slot_rules};
use crate::service::scope::{self, Visible};

/// Which day and which queue (`None`: every queue in scope).
#[derive(Debug, Clone)]
pub struct DayQuery {
    pub queue_id: Option<QueueId>,
    /// The day, `[from, to)`.
    pub from: Timestamp,
    pub to: Timestamp,
    /// The viewer's timezone: the hours of the all-queues view are its hours.
    pub tz: TimeZone,
}

/// One bar of the chart: a slot of the queue, or an hour of the day for all queues.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bar {
    pub start: Timestamp,
    pub end: Timestamp,
    pub due: u32,
    pub capacity: u32,
}

/// How late dispatch runs.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DispatchLag {
    /// How long the earliest due `SCHEDULED` callback has waited for promotion (engine-wide);
    /// `None` when nothing due is waiting.
    pub promotion_late: Option<SignedDuration>,
    /// `QUEUED` callbacks in the view.
    pub queued: u64,
    /// How long ago the longest-due `QUEUED` callback in the view became due.
    pub oldest_queued_for: Option<SignedDuration>,
    /// The mean promotion lag this process has measured, in seconds, and over how many promotions.
    pub mean_promotion_lag: Option<(f64, u64)>,
}

/// The dashboard of one day.
#[derive(Debug, Clone)]
pub struct DayLoad {
    /// The queues the principal may see, by name (the choices of the queue selector).
    pub queues: Vec<Arc<Queue>>,
    /// The queue shown, or `None` for all of them.
    pub queue: Option<Arc<Queue>>,
    /// Slot length of the bars in minutes (60 for all queues).
    pub bar_minutes: u32,
    pub bars: Vec<Bar>,
    /// Callbacks due that day at a time no open slot of the queue covers (e.g. hours changed).
    pub outside_slots: u32,
    /// Agents ready now: serving the queue, or (all queues) any agent in scope.
    pub ready_agents: u32,
    /// Overdue callbacks now (of the queue, or all in scope).
    pub overdue: u64,
    pub lag: DispatchLag,
}

/// The dashboard's figures for `query` as `principal` may see them.
pub async fn day_load(state: &AppState, principal: &Principal, query: DayQuery) -> ApiResult<DayLoad> {
    if !principal.may(Permission::ReadCallbacks) {
        return Err(ApiError::forbidden());
    }
    if query.to <= query.from {
        return Err(ApiError::invalid_field("to", "to must be after from"));
    }
    let snapshot = state.config_cache.snapshot(state.store.as_ref()).await?;
    let visible = Visible::of(principal, &snapshot);
    let mut queues: Vec<Arc<Queue>> = snapshot.queues.values().filter(|q| visible.queue(q)).cloned().collect();
    queues.sort_by(|a, b| a.name.cmp(&b.name).then(a.id.cmp(&b.id)));
    let queue = match query.queue_id {
        None => None,
        Some(id) => {
            let found = snapshot.queues.get(&id).cloned().ok_or_else(|| ApiError::not_found("queue"))?;
            let seen = visible.queue(&found);
            Some(scope::visible_or_404(found, seen, "queue")?)
        }
    };
    let shown: Vec<Arc<Queue>> = match &queue {
        Some(q) => vec![q.clone()],
        None => queues.clone(),
    };
    let due = state.store.due_per_minute(shown.iter().map(|q| q.id).collect(), query.from, query.to).await?;
    let (bar_minutes, bars, outside_slots) = match &queue {
        Some(q) => {
            let (bars, outside) = queue_bars(&snapshot, q, &due, &query)?;
            (q.slot_minutes, bars, outside)
        }
        None => (60, hour_bars(&snapshot, &shown, &due, &query)?, 0),
    };
    let ready_agents = ready_agents(state, &visible, queue.as_deref()).await?;
    let (overdue, lag) = figures(state, principal, queue.as_ref().map(|q| q.id)).await?;
    Ok(DayLoad { queues, queue, bar_minutes, bars, outside_slots, ready_agents, overdue, lag })
}

/// The open slots of `queue` in the day (its campaign's hours, its capacity grid).
fn open_slots(snapshot: &ConfigSnapshot, queue: &Queue, query: &DayQuery) -> ApiResult<(Vec<Slot>, TimeZone)> {
    let campaign = snapshot
        .campaigns
        .get(&queue.campaign_id)
        .ok_or_else(|| ApiError::Internal(format!("queue {} refers to a missing campaign", queue.id)))?;
    let tz = rebound_domain::time::parse_timezone(&campaign.timezone)?;
    let slots =
        slots::slots_between(&slot_rules(queue, &tz), &campaign_plan(campaign, &tz, None), query.from, query.to);
    Ok((slots, tz))
}

/// One bar per open slot of the queue; due counts at a time no open slot covers are counted apart.
fn queue_bars(
    snapshot: &ConfigSnapshot,
    queue: &Queue,
    due: &[DueCount],
    query: &DayQuery,
) -> ApiResult<(Vec<Bar>, u32)> {
    let (slots, tz) = open_slots(snapshot, queue, query)?;
    let length = SignedDuration::from_mins(i64::from(queue.slot_minutes));
    let mut bars: Vec<Bar> = slots
        .iter()
        .map(|s| Bar {
            start: s.start,
            end: s.start.saturating_add(length).unwrap_or(s.start),
            due: 0,
            capacity: s.capacity,
        })
        .collect();
    let index: HashMap<Timestamp, usize> = bars.iter().enumerate().map(|(i, b)| (b.start, i)).collect();
    let rules = slot_rules(queue, &tz);
    let mut outside = 0;
    for count in due.iter().filter(|d| d.queue_id == queue.id) {
        match index.get(&slots::slot_start(&rules, count.minute)) {
            Some(&i) => bars[i].due += count.count,
            None => outside += count.count,
        }
    }
    Ok((bars, outside))
}

/// One bar per hour of the day in the viewer's timezone, summing every shown queue; the hours before
/// the first and after the last with any capacity or due callback are left out.
fn hour_bars(
    snapshot: &ConfigSnapshot,
    queues: &[Arc<Queue>],
    due: &[DueCount],
    query: &DayQuery,
) -> ApiResult<Vec<Bar>> {
    let hour = SignedDuration::from_hours(1);
    let mut bars = Vec::new();
    let mut start = query.from;
    while start < query.to {
        let end = start.saturating_add(hour).unwrap_or(query.to).min(query.to);
        bars.push(Bar { start, end, due: 0, capacity: 0 });
        start = end;
    }
    let bar_of = |t: Timestamp| bars.partition_point(|b| b.end <= t);
    let mut capacity = vec![0u32; bars.len()];
    for queue in queues {
        for slot in open_slots(snapshot, queue, query)?.0 {
            if let Some(c) = capacity.get_mut(bar_of(slot.start)) {
                *c = c.saturating_add(slot.capacity);
            }
        }
    }
    let mut counts = vec![0u32; bars.len()];
    for count in due {
        if let Some(c) = counts.get_mut(bar_of(count.minute)) {
            *c = c.saturating_add(count.count);
        }
    }
    for ((bar, c), d) in bars.iter_mut().zip(capacity).zip(counts) {
        bar.capacity = c;
        bar.due = d;
    }
    let busy = |b: &Bar| b.capacity > 0 || b.due > 0;
    let first = bars.iter().position(busy).unwrap_or(bars.len());
    let last = bars.iter().rposition(busy).map_or(first, |i| i + 1);
    Ok(bars[first..last].to_vec())
}

/// Agents ready now (read from the store, not the configuration cache: presence changes by the
/// second): those serving `queue`, or every agent the principal may see.
async fn ready_agents(state: &AppState, visible: &Visible, queue: Option<&Queue>) -> ApiResult<u32> {
    let agents = state.store.list_agents().await?;
    let ready = agents.iter().filter(|a| a.presence == Presence::Ready).filter(|a| match queue {
        Some(q) => a.queues.contains(&q.id),
        None => visible.agent(a),
    });
    Ok(u32::try_from(ready.count()).unwrap_or(u32::MAX))
}

/// One page of the callbacks list as `principal` (its scope applies) with `pairs` as the query.
async fn list_page(
    state: &AppState,
    principal: &Principal,
    queue_id: Option<QueueId>,
    pairs: &[(&str, &str)],
) -> ApiResult<crate::dto::Paged<crate::dto::CallbackView>> {
    let mut all: Vec<(String, String)> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    all.push(("page_size".into(), "1".into()));
    if let Some(id) = queue_id {
        all.push(("queue_id".into(), id.to_string()));
    }
    callbacks::list(state, principal, ListQuery::parse(&Params::from_pairs(all))?).await
}

/// The overdue count and the dispatch lag.
async fn figures(state: &AppState, principal: &Principal, queue_id: Option<QueueId>) -> ApiResult<(u64, DispatchLag)> {
    let now = state.clock.now();
    let overdue = list_page(state, principal, queue_id, &[("overdue", "true")]).await?.total;
    let queued = list_page(state, principal, queue_id, &[("state", "QUEUED"), ("sort", "earliest_time")]).await?;
    let oldest_queued_for = queued
        .items
        .first()
        .and_then(|v| v.callback.earliest_time.or(v.callback.queued_at))
        .map(|at| now.duration_since(at).max(SignedDuration::ZERO));
    let promotion_late = state.store.next_due().await?.filter(|at| *at <= now).map(|at| now.duration_since(at));
    let (count, sum) = state.engine.metrics().dispatch_lag_totals();
    let mean_promotion_lag = (count > 0).then(|| (sum / count as f64, count));
    Ok((overdue, DispatchLag { promotion_late, queued: queued.total, oldest_queued_for, mean_promotion_lag }))
}
