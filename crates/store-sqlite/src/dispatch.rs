//! The dispatch engine's storage: promotion of due callbacks, the routing heads and reservations,
//! dialler claims, the rescuer of expired offers and leases, agent presence, the figures of
//! `/metrics`, and the reads of the live event stream.
//!
//! Every write here is one **check-first** writer job (see [`crate::writer`]) however many callbacks
//! it covers: each row is read and checked, then changed with single statements (by rowid, the row
//! having just been found), so a batch of promotions or a claim of a thousand callbacks costs one
//! job and shares one commit. Nothing a client sends can fail a statement after the first write of a
//! job; a "can't happen" failure makes the writer roll the whole batch back.
//!
//! Reads are shaped for the indexes of `0003_dispatch.sql` (each routing source walks its partial
//! head index in dispatch order, the rescuer walks `callback_hold`, an agent's hold is found through
//! `callback_holder`) and `callback_due` (promotion, `next_due`, the counts); the `tests` below check
//! the plans.

use std::collections::{HashMap, HashSet};

use jiff::Timestamp;
use rebound_domain::model::*;
use rebound_domain::state::{CallbackState, Status};
use rebound_store::{
    CallbackCounts, ClaimRequest, DueCount, EarliestChange, ExpiredHold, Holder, QueuedSource, ReserveRequest,
    StoreError, StoreResult, TransitionRequest,
};
use rusqlite::{Connection, OptionalExtension, Params, params};
use serde_json::json;

use crate::callbacks::{
    COLS_LEN, apply_status, callback_row, event_row, get, get_for_update, insert_event, transition, write_presence,
    write_step,
};
use crate::codec::*;
use crate::config::{LEAD_COLS, agent_row, get_agent, lead_row};
use crate::error::{Op, ResultExt};

/// Dispatch order within a routing source: priority first, then first queue entry, then id.
const DISPATCH_ORDER: &str = "order by c.priority desc, c.queued_at, c.callback_id";

/// The SQL of the reads whose plans matter, built once (and checked by the plan tests below).
mod sql {
    use std::sync::LazyLock;

    use super::DISPATCH_ORDER;
    use crate::callbacks::COLS;
    use crate::config::AGENT_COLS;

    pub(super) const NEXT_DUE: &str = "select earliest_time from callback \
        where state = 'SCHEDULED' and earliest_time is not null order by earliest_time limit 1";
    /// `indexed by`: left to itself, the planner prefers the equality on `callback_due (state)` and
    /// sorts every ROUTING callback.
    pub(super) const NEXT_HOLD_EXPIRY: &str = "select hold_until from callback indexed by callback_hold \
        where state = 'ROUTING' and hold_until is not null order by hold_until limit 1";

    /// Earliest first along `callback_due`; ties in the index's order (no sort, so 50,000
    /// callbacks due at one instant are read, not sorted).
    pub(super) static DUE: LazyLock<String> = LazyLock::new(|| {
        format!(
            "select {COLS}, c.rowid from callback c where c.state = 'SCHEDULED' and c.earliest_time <= ?1 \
             order by c.earliest_time limit ?2"
        )
    });
    /// Walks the id index in order (one pass over the table for a whole campaign, page after page);
    /// the unary `+` keeps the planner off the state and campaign indexes, which would sort every
    /// pending callback of the campaign for each page.
    pub(super) static CAMPAIGN_PENDING: LazyLock<String> = LazyLock::new(|| {
        format!(
            "select {COLS} from callback c where +c.campaign_id = ?1 \
             and (+c.state = 'SCHEDULED' or +c.state = 'QUEUED') and c.callback_id > ?2 \
             order by c.callback_id limit ?3"
        )
    });
    pub(super) static QUEUE_HEADS: LazyLock<String> = LazyLock::new(|| {
        format!(
            "select {COLS} from callback c where c.queue_id = ?1 and c.state = 'QUEUED' and c.type = 'queue' \
             {DISPATCH_ORDER} limit ?2"
        )
    });
    pub(super) static AGENT_HEADS: LazyLock<String> = LazyLock::new(|| {
        format!(
            "select {COLS} from callback c where c.agent_id = ?1 and c.state = 'QUEUED' and c.type = 'agent' \
             {DISPATCH_ORDER} limit ?2"
        )
    });
    pub(super) static ESCALATED_HEADS: LazyLock<String> = LazyLock::new(|| {
        format!(
            "select {COLS} from callback c where c.campaign_id = ?1 and c.type = 'agent' \
             and c.state = 'QUEUED' and c.queued_at <= ?2 {DISPATCH_ORDER} limit ?3"
        )
    });
    /// Per campaign, a covering range of `callback_campaign_head`: the work is the campaigns plus
    /// the waiting agent callbacks, never the queue callbacks.
    pub(super) const OLDEST_AGENT_CALLBACKS: &str = "select campaign_id, oldest from (select k.campaign_id, \
        (select min(c.queued_at) from callback c where c.campaign_id = k.campaign_id and c.type = 'agent' \
        and c.state = 'QUEUED') as oldest from campaign k) where oldest is not null order by campaign_id";
    pub(super) static CLAIM_HEADS: LazyLock<String> = LazyLock::new(|| {
        format!(
            "select {COLS}, c.rowid from callback c where c.campaign_id = ?1 and c.type = 'queue' \
             and c.state = 'QUEUED' \
             and not exists (select 1 from queue q where q.queue_id = c.queue_id and q.paused = 1) \
             {DISPATCH_ORDER} limit ?2"
        )
    });
    pub(super) static EXPIRED: LazyLock<String> = LazyLock::new(|| {
        format!(
            "select {COLS}, c.rowid from callback c indexed by callback_hold \
             where c.state = 'ROUTING' and c.hold_until <= ?1 order by c.hold_until limit ?2"
        )
    });
    pub(super) static AGENT_ROUTING: LazyLock<String> = LazyLock::new(|| {
        format!("select {COLS}, c.rowid from callback c where c.offered_to = ?1 and c.state = 'ROUTING'")
    });
    pub(super) static AGENT_HOLDS: LazyLock<String> = LazyLock::new(|| {
        format!(
            "select {COLS} from callback c where c.offered_to = ?1 \
             and (c.state = 'ROUTING' or c.state = 'PROCESSING') order by c.updated_at desc limit 1"
        )
    });
    pub(super) static FREE_AGENTS: LazyLock<String> = LazyLock::new(|| {
        format!(
            "select {AGENT_COLS} from agent where presence = 'ready' and not exists (select 1 from callback c \
             where c.offered_to = agent.agent_id and (c.state = 'ROUTING' or c.state = 'PROCESSING')) \
             order by ready_since, agent_id"
        )
    });
    pub(super) const AGENT_IS_FREE: &str = "select presence = 'ready' and not exists (select 1 from callback c \
        where c.offered_to = ?1 and (c.state = 'ROUTING' or c.state = 'PROCESSING')) from agent where agent_id = ?1";
    /// Those ahead in dispatch order, counted from the covering head index of the callback's source.
    /// `queued_at` is always set on a QUEUED callback; were it not, NULL sorts first as in the heads.
    const AHEAD: &str = "(c.priority > ?2 or (c.priority = ?2 \
        and (coalesce(c.queued_at, -9223372036854775808) < ?3 \
        or (coalesce(c.queued_at, -9223372036854775808) = ?3 and c.callback_id < ?4))))";
    pub(super) static QUEUE_AHEAD: LazyLock<String> = LazyLock::new(|| {
        format!(
            "select count(*) from callback c where c.queue_id = ?1 and c.state = 'QUEUED' and c.type = 'queue' \
             and {AHEAD}"
        )
    });
    pub(super) static AGENT_AHEAD: LazyLock<String> = LazyLock::new(|| {
        format!(
            "select count(*) from callback c where c.agent_id = ?1 and c.state = 'QUEUED' and c.type = 'agent' \
             and {AHEAD}"
        )
    });
    pub(super) const OVERDUE: &str = "select count(*) from callback \
        where state = 'SCHEDULED' and earliest_time < ?1 and overdue_at < ?1";
    pub(super) const DUE_SOON: &str = "select count(*) from callback \
        where state = 'SCHEDULED' and earliest_time >= ?1 and earliest_time < ?2";
}

/// Runs a cached query of `select {COLS}, c.rowid …` and collects (rowid, callback) pairs.
fn rows_for_update(conn: &Connection, sql: &str, params: impl Params) -> StoreResult<Vec<(i64, Callback)>> {
    conn.prepare_cached(sql)
        .db()?
        .query_map(params, |r| Ok((r.get(COLS_LEN)?, callback_row(r)?)))
        .db()?
        .collect::<rusqlite::Result<Vec<_>>>()
        .db()
}

fn callbacks(conn: &Connection, sql: &str, params: impl Params) -> StoreResult<Vec<Callback>> {
    conn.prepare_cached(sql).db()?.query_map(params, callback_row).db()?.collect::<rusqlite::Result<Vec<_>>>().db()
}

fn first_instant(conn: &Connection, sql: &str) -> StoreResult<Option<Timestamp>> {
    conn.prepare_cached(sql).db()?.query_row([], |r| ts(0, r.get(0)?)).optional().db()
}

/// `QUEUED → SCHEDULED` with the earliest time a dial check or a campaign change gave (`None`: not
/// while the campaign is stopped), event `demoted`. `queued_at` stays: the callback keeps its place
/// in line for when it is due again.
fn demote(
    conn: &Connection,
    rowid: i64,
    cb: &Callback,
    earliest: Option<Timestamp>,
    actor: &str,
    at: Timestamp,
) -> StoreResult<Callback> {
    let mut demoted = cb.clone();
    demoted.earliest_time = earliest.map(trunc);
    apply_status(&mut demoted, Status::SCHEDULED, at);
    write_step(conn, rowid, cb, &demoted)?;
    let details = json!({ "earliest_time": demoted.earliest_time });
    insert_event(conn, cb.id, at, actor, "demoted", Some(cb.state), Some(CallbackState::Scheduled), &details)?;
    Ok(demoted)
}

// ---- promotion -------------------------------------------------------------------------------------

pub(crate) fn next_due(conn: &Connection) -> StoreResult<Option<Timestamp>> {
    // NULL earliest times (a stopped campaign's) are outside the index range itself.
    first_instant(conn, sql::NEXT_DUE)
}

pub(crate) fn promote_due(conn: &Connection, now: Timestamp, limit: u32, actor: &str) -> StoreResult<Vec<Callback>> {
    let now = trunc(now);
    let due = rows_for_update(conn, &sql::DUE, params![ms(now), limit])?;
    let mut promote = conn
        .prepare_cached(
            "update callback set state = 'QUEUED', updated_at = ?2, queued_at = coalesce(queued_at, ?2) \
             where rowid = ?1",
        )
        .db()?;
    let mut out = Vec::with_capacity(due.len());
    for (rowid, mut cb) in due {
        promote.execute(params![rowid, ms(now)]).on(Op::Write("callback"))?;
        let details = json!({ "earliest_time": cb.earliest_time });
        insert_event(conn, cb.id, now, actor, "promoted", Some(cb.state), Some(CallbackState::Queued), &details)?;
        apply_status(&mut cb, Status::QUEUED, now);
        out.push(cb);
    }
    Ok(out)
}

pub(crate) fn campaign_pending(
    conn: &Connection,
    campaign_id: CampaignId,
    after: Option<CallbackId>,
    limit: u32,
) -> StoreResult<Vec<Callback>> {
    // An empty blob sorts before every id.
    let after: Vec<u8> = after.map(|id| id_bytes(id).to_vec()).unwrap_or_default();
    callbacks(conn, &sql::CAMPAIGN_PENDING, params![campaign_id, after, limit])
}

pub(crate) fn apply_earliest_times(
    conn: &Connection,
    changes: Vec<EarliestChange>,
    actor: &str,
    at: Timestamp,
) -> StoreResult<u64> {
    let at = trunc(at);
    let mut changed = 0;
    for change in changes {
        let Some((rowid, cb)) = get_for_update(conn, change.id)? else { continue };
        if cb.state != change.expect {
            continue;
        }
        let earliest = change.earliest_time.map(trunc);
        match cb.state {
            CallbackState::Scheduled if cb.earliest_time != earliest => {
                let mut moved = cb.clone();
                moved.earliest_time = earliest;
                moved.updated_at = at;
                write_step(conn, rowid, &cb, &moved)?;
                let details = json!({ "earliest_time": earliest });
                insert_event(conn, cb.id, at, actor, "hours_changed", Some(cb.state), Some(cb.state), &details)?;
                changed += 1;
            }
            CallbackState::Queued if earliest.is_none_or(|e| e > at) => {
                demote(conn, rowid, &cb, earliest, actor, at)?;
                changed += 1;
            }
            _ => {}
        }
    }
    Ok(changed)
}

// ---- routing ---------------------------------------------------------------------------------------

/// Fills in the campaigns and queues of many agents with two reads in all.
fn with_all_memberships(conn: &Connection, mut agents: Vec<Agent>) -> StoreResult<Vec<Agent>> {
    let mut campaigns: HashMap<AgentId, Vec<CampaignId>> = HashMap::new();
    let mut queues: HashMap<AgentId, Vec<QueueId>> = HashMap::new();
    for (sql, into) in [
        (
            "select m.agent_id, m.campaign_id from agent_campaign m join agent a using (agent_id) \
             where a.presence = 'ready' order by m.agent_id, m.position",
            &mut campaigns,
        ),
        (
            "select m.agent_id, m.queue_id from agent_queue m join agent a using (agent_id) \
             where a.presence = 'ready' order by m.agent_id, m.position",
            &mut queues,
        ),
    ] {
        let mut st = conn.prepare_cached(sql).db()?;
        let mut rows = st.query([]).db()?;
        while let Some(r) = rows.next().db()? {
            into.entry(r.get(0).db()?).or_default().push(r.get(1).db()?);
        }
    }
    for a in &mut agents {
        a.campaigns = campaigns.remove(&a.id).unwrap_or_default();
        a.queues = queues.remove(&a.id).unwrap_or_default();
    }
    Ok(agents)
}

pub(crate) fn free_agents(conn: &Connection) -> StoreResult<Vec<Agent>> {
    let agents = conn
        .prepare_cached(&sql::FREE_AGENTS)
        .db()?
        .query_map([], agent_row)
        .db()?
        .collect::<rusqlite::Result<Vec<_>>>()
        .db()?;
    with_all_memberships(conn, agents)
}

pub(crate) fn ready_agent_count(conn: &Connection) -> StoreResult<u64> {
    let n: i64 = conn
        .prepare_cached("select count(*) from agent where presence = 'ready'")
        .db()?
        .query_row([], |r| r.get(0))
        .db()?;
    Ok(n as u64)
}

pub(crate) fn queued_heads(conn: &Connection, source: QueuedSource, limit: u32) -> StoreResult<Vec<Callback>> {
    match source {
        QueuedSource::Queue(queue_id) => callbacks(conn, &sql::QUEUE_HEADS, params![queue_id, limit]),
        QueuedSource::AgentOwn(agent_id) => callbacks(conn, &sql::AGENT_HEADS, params![agent_id, limit]),
        QueuedSource::Escalated { campaign_id, queued_before } => {
            callbacks(conn, &sql::ESCALATED_HEADS, params![campaign_id, ms(queued_before), limit])
        }
    }
}

pub(crate) fn oldest_queued_agent_callbacks(conn: &Connection) -> StoreResult<Vec<(CampaignId, Timestamp)>> {
    conn.prepare_cached(sql::OLDEST_AGENT_CALLBACKS)
        .db()?
        .query_map([], |r| Ok((r.get(0)?, ts(1, r.get(1)?)?)))
        .db()?
        .collect::<rusqlite::Result<Vec<_>>>()
        .db()
}

/// Whether the agent exists, is `ready` and holds no callback.
fn agent_is_free(conn: &Connection, agent_id: AgentId) -> StoreResult<bool> {
    let free: Option<bool> =
        conn.prepare_cached(sql::AGENT_IS_FREE).db()?.query_row([agent_id], |r| r.get(0)).optional().db()?;
    Ok(free == Some(true))
}

/// Whether a queue is paused, read once per queue and job.
fn queue_paused(conn: &Connection, seen: &mut HashMap<QueueId, bool>, queue_id: QueueId) -> StoreResult<bool> {
    if let Some(paused) = seen.get(&queue_id) {
        return Ok(*paused);
    }
    let paused: Option<bool> = conn
        .prepare_cached("select paused from queue where queue_id = ?1")
        .db()?
        .query_row([queue_id], |r| r.get(0))
        .optional()
        .db()?;
    // A queue that no longer exists dispatches nothing either.
    let paused = paused.unwrap_or(true);
    seen.insert(queue_id, paused);
    Ok(paused)
}

pub(crate) fn reserve_for_agents(conn: &Connection, req: ReserveRequest) -> StoreResult<Vec<Callback>> {
    let at = trunc(req.at);
    let hold_until = trunc(req.hold_until);
    let mut served: HashSet<AgentId> = HashSet::new();
    let mut paused: HashMap<QueueId, bool> = HashMap::new();
    let mut offer = conn
        .prepare_cached(
            "update callback set state = 'ROUTING', updated_at = ?2, offered_to = ?3, hold_until = ?4 \
             where rowid = ?1",
        )
        .db()?;
    let mut out = Vec::new();
    for pair in req.pairs {
        // An agent holds one offer at a time: the first pair that reaches an agent is the one.
        if served.contains(&pair.agent_id) {
            continue;
        }
        let Some((rowid, cb)) = get_for_update(conn, pair.callback_id)? else { continue };
        if cb.state != CallbackState::Queued || !agent_is_free(conn, pair.agent_id)? {
            continue;
        }
        if let Some(queue_id) = cb.queue_id
            && queue_paused(conn, &mut paused, queue_id)?
        {
            continue;
        }
        if let Err(next) = (req.dial_check)(&cb, at) {
            demote(conn, rowid, &cb, next, &req.actor, at)?;
            continue;
        }
        offer.execute(params![rowid, ms(at), pair.agent_id, ms(hold_until)]).on(Op::Write("callback"))?;
        let details = json!({ "agent_id": pair.agent_id, "hold_until": hold_until });
        insert_event(conn, cb.id, at, &req.actor, "offered", Some(cb.state), Some(CallbackState::Routing), &details)?;
        let mut offered = cb;
        apply_status(&mut offered, Status::ROUTING, at);
        offered.offered_to = Some(pair.agent_id);
        offered.hold_until = Some(hold_until);
        served.insert(pair.agent_id);
        out.push(offered);
    }
    Ok(out)
}

pub(crate) fn claim_for_dialer(conn: &Connection, req: ClaimRequest) -> StoreResult<Vec<Callback>> {
    let at = trunc(req.at);
    let hold_until = trunc(req.hold_until);
    let max = req.max as usize;
    let details = json!({ "lease_id": req.lease_id, "hold_until": hold_until });
    let mut out = Vec::with_capacity(max);
    // Each round reads the next heads; those leased or demoted are no longer QUEUED, so the next
    // round starts past them. Demotions are why there may be a next round.
    while out.len() < max {
        let want = max - out.len();
        let heads = rows_for_update(conn, &sql::CLAIM_HEADS, params![req.campaign_id, want as i64])?;
        let exhausted = heads.len() < want;
        let mut lease = conn
            .prepare_cached(
                "update callback set state = 'ROUTING', updated_at = ?2, lease_id = ?3, hold_until = ?4 \
                 where rowid = ?1",
            )
            .db()?;
        for (rowid, cb) in heads {
            if let Err(next) = (req.dial_check)(&cb, at) {
                demote(conn, rowid, &cb, next, &req.actor, at)?;
                continue;
            }
            lease.execute(params![rowid, ms(at), req.lease_id, ms(hold_until)]).on(Op::Write("callback"))?;
            insert_event(
                conn,
                cb.id,
                at,
                &req.actor,
                "leased",
                Some(cb.state),
                Some(CallbackState::Routing),
                &details,
            )?;
            let mut leased = cb;
            apply_status(&mut leased, Status::ROUTING, at);
            leased.lease_id = Some(req.lease_id.clone());
            leased.hold_until = Some(hold_until);
            out.push(leased);
        }
        if exhausted {
            break;
        }
    }
    Ok(out)
}

/// Each request is check-first on its own (see [`transition`]), so a refused one has written nothing
/// and the next goes on; no savepoint is needed (SQLite's savepoints copy every page they touch, which
/// would cost more than the steps). A request that fails after writing — a "can't happen" — fails
/// the job, and the writer rolls the batch back rather than keep half a step.
pub(crate) fn transition_many(
    conn: &Connection,
    requests: Vec<TransitionRequest>,
) -> StoreResult<Vec<StoreResult<Callback>>> {
    let mut out = Vec::with_capacity(requests.len());
    for req in requests {
        let before = conn.total_changes();
        let result = transition(conn, req);
        if let Err(e) = &result
            && conn.total_changes() != before
        {
            return Err(StoreError::Backend(format!("a transition failed after it had begun: {e}")));
        }
        out.push(result);
    }
    Ok(out)
}

// ---- the rescuer and presence ----------------------------------------------------------------------

/// `ROUTING → QUEUED` for an offer or lease that ended, holder cleared, with its event.
fn release(
    conn: &Connection,
    rowid: i64,
    cb: &Callback,
    action: &str,
    actor: &str,
    at: Timestamp,
) -> StoreResult<Callback> {
    let mut released = cb.clone();
    apply_status(&mut released, Status::QUEUED, at);
    write_step(conn, rowid, cb, &released)?;
    let details = match (cb.offered_to, &cb.lease_id) {
        (Some(agent_id), _) => json!({ "agent_id": agent_id }),
        (None, Some(lease_id)) => json!({ "lease_id": lease_id }),
        (None, None) => json!({}),
    };
    insert_event(conn, cb.id, at, actor, action, Some(cb.state), Some(CallbackState::Queued), &details)?;
    Ok(released)
}

pub(crate) fn release_expired(
    conn: &Connection,
    now: Timestamp,
    limit: u32,
    actor: &str,
) -> StoreResult<Vec<ExpiredHold>> {
    let now = trunc(now);
    let expired = rows_for_update(conn, &sql::EXPIRED, params![ms(now), limit])?;
    let mut out = Vec::with_capacity(expired.len());
    for (rowid, cb) in expired {
        let action = if cb.offered_to.is_some() { "offer_expired" } else { "lease_expired" };
        let released = release(conn, rowid, &cb, action, actor, now)?;
        if let Some(agent_id) = cb.offered_to {
            // Someone who does not answer an offer is not there. Only a ready agent is moved: one who
            // meanwhile went offline stays offline.
            conn.prepare_cached(
                "update agent set presence = 'not_ready', ready_since = null where agent_id = ?1 and presence = 'ready'",
            )
            .db()?
            .execute([agent_id])
            .on(Op::Write("agent"))?;
        }
        let holder = match (cb.offered_to, cb.lease_id) {
            (Some(agent_id), _) => Holder::Agent(agent_id),
            (None, lease) => Holder::Lease(lease.unwrap_or_default()),
        };
        out.push(ExpiredHold { callback: released, holder });
    }
    Ok(out)
}

pub(crate) fn next_hold_expiry(conn: &Connection) -> StoreResult<Option<Timestamp>> {
    first_instant(conn, sql::NEXT_HOLD_EXPIRY)
}

pub(crate) fn set_presence(
    conn: &Connection,
    agent_id: AgentId,
    presence: Presence,
    actor: &str,
    at: Timestamp,
) -> StoreResult<(Agent, Option<Callback>)> {
    let at = trunc(at);
    let current: Option<(String, Option<i64>)> = conn
        .prepare_cached("select presence, ready_since from agent where agent_id = ?1")
        .db()?
        .query_row([agent_id], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()
        .db()?;
    let (was, since) = current.ok_or_else(|| StoreError::not_found(format!("agent {agent_id}")))?;
    let was_ready = was == Presence::Ready.as_str();
    let ready_since = match since {
        // Staying ready keeps the agent's place in line.
        Some(since) if was_ready => Some(ts(0, since).db()?),
        _ => Some(at),
    };
    write_presence(conn, agent_id, presence, ready_since)?;
    let mut withdrawn = None;
    if matches!(presence, Presence::NotReady | Presence::Offline) {
        let offers = rows_for_update(conn, &sql::AGENT_ROUTING, [agent_id])?;
        for (rowid, cb) in offers {
            withdrawn = Some(release(conn, rowid, &cb, "offer_withdrawn", actor, at)?);
        }
    }
    let agent = get_agent(conn, agent_id)?.ok_or_else(|| StoreError::not_found(format!("agent {agent_id}")))?;
    Ok((agent, withdrawn))
}

pub(crate) fn agent_offer(conn: &Connection, agent_id: AgentId) -> StoreResult<Option<Callback>> {
    conn.prepare_cached(&sql::AGENT_HOLDS).db()?.query_row([agent_id], callback_row).optional().db()
}

// ---- reads for the API and metrics -----------------------------------------------------------------

pub(crate) fn queue_position(conn: &Connection, id: CallbackId) -> StoreResult<Option<u64>> {
    let Some(cb) = get(conn, id)? else { return Ok(None) };
    if cb.state != CallbackState::Queued {
        return Ok(None);
    }
    let (sql, key): (&str, i64) = match (cb.kind, cb.queue_id, cb.agent_id) {
        (CallbackType::Queue, Some(queue_id), _) => (&sql::QUEUE_AHEAD, queue_id),
        (CallbackType::Agent, _, Some(agent_id)) => (&sql::AGENT_AHEAD, agent_id),
        _ => return Ok(None),
    };
    let queued_at = cb.queued_at.map_or(i64::MIN, ms);
    let ahead: i64 = conn
        .prepare_cached(sql)
        .db()?
        .query_row(params![key, cb.priority, queued_at, id_bytes(cb.id)], |r| r.get(0))
        .db()?;
    Ok(Some(ahead as u64 + 1))
}

pub(crate) fn callback_counts(conn: &Connection, now: Timestamp, due_before: Timestamp) -> StoreResult<CallbackCounts> {
    let mut by_state: Vec<(CallbackState, u64)> = CallbackState::ALL.iter().map(|s| (*s, 0)).collect();
    {
        let mut st = conn.prepare_cached("select state, count(*) from callback group by state").db()?;
        let mut rows = st.query([]).db()?;
        while let Some(r) = rows.next().db()? {
            let state: String = r.get(0).db()?;
            let n: i64 = r.get(1).db()?;
            if let Some(entry) = by_state.iter_mut().find(|(s, _)| s.as_str() == state) {
                entry.1 = n as u64;
            }
        }
    }
    let count = |sql: &str, p: &[i64]| -> StoreResult<u64> {
        let n: i64 = conn.prepare_cached(sql).db()?.query_row(rusqlite::params_from_iter(p), |r| r.get(0)).db()?;
        Ok(n as u64)
    };
    // Overdue implies an earliest time before now: the bound keeps the count on `callback_due`.
    let overdue = count(sql::OVERDUE, &[ms(now)])?;
    let due_soon = count(sql::DUE_SOON, &[ms(now), ms(due_before)])?;
    Ok(CallbackCounts { by_state, overdue, due_soon })
}

/// `select queue_id, minute, count(*) … group by queue_id, minute` over the active states in
/// `[from, to)`, for `queues` queue ids (`?3…`). `indexed by callback_due`: one range per active
/// state on (state, earliest_time) reads exactly the day's callbacks, where the planner left to itself
/// may walk a queue index over every callback the queues ever had.
fn due_per_minute_sql(queues: usize) -> String {
    let marks: Vec<String> = (3..queues + 3).map(|i| format!("?{i}")).collect();
    format!(
        "select queue_id, earliest_time - earliest_time % 60000, count(*) from callback indexed by callback_due \
         where state in ('SCHEDULED', 'QUEUED', 'ROUTING', 'PROCESSING') and earliest_time >= ?1 \
         and earliest_time < ?2 and queue_id in ({}) group by 1, 2 order by 1, 2",
        marks.join(", ")
    )
}

pub(crate) fn due_per_minute(
    conn: &Connection,
    queue_ids: &[QueueId],
    from: Timestamp,
    to: Timestamp,
) -> StoreResult<Vec<DueCount>> {
    let mut bound: Vec<i64> = vec![ms(from), ms(to)];
    bound.extend(queue_ids.iter().copied());
    conn.prepare_cached(&due_per_minute_sql(queue_ids.len()))
        .db()?
        .query_map(rusqlite::params_from_iter(bound), |r| {
            Ok(DueCount { queue_id: r.get(0)?, minute: ts(1, r.get(1)?)?, count: r.get(2)? })
        })
        .db()?
        .collect::<rusqlite::Result<Vec<_>>>()
        .db()
}

pub(crate) fn find_lead_by_phone(conn: &Connection, list_id: ListId, phone: &str) -> StoreResult<Option<Lead>> {
    conn.prepare_cached(&format!(
        "select {LEAD_COLS} from lead where list_id = ?1 and (phone1 = ?2 or phone2 = ?2 or phone3 = ?2) \
         order by lead_id limit 1"
    ))
    .db()?
    .query_row(params![list_id, phone], lead_row)
    .optional()
    .db()
}

// ---- the live event stream -------------------------------------------------------------------------

pub(crate) fn events_after(conn: &Connection, after: i64, limit: u32) -> StoreResult<Vec<CallbackEvent>> {
    conn.prepare_cached(
        "select callback_event_id, callback_id, at, actor, action, from_state, to_state, details \
         from callback_event where callback_event_id > ?1 order by callback_event_id limit ?2",
    )
    .db()?
    .query_map(params![after, limit], event_row)
    .db()?
    .collect::<rusqlite::Result<Vec<_>>>()
    .db()
}

pub(crate) fn last_event_id(conn: &Connection) -> StoreResult<i64> {
    conn.prepare_cached("select coalesce(max(callback_event_id), 0) from callback_event")
        .db()?
        .query_row([], |r| r.get(0))
        .db()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conn() -> (tempfile::TempDir, Connection) {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = crate::schema::open_writer(&dir.path().join("plan.db")).unwrap();
        crate::schema::migrate(&mut conn, 0).unwrap();
        (dir, conn)
    }

    /// The query plan's lines, every parameter bound to NULL.
    fn plan(conn: &Connection, sql: &str) -> String {
        let mut st = conn.prepare(&format!("explain query plan {sql}")).unwrap();
        let nulls = std::iter::repeat_n(rusqlite::types::Null, st.parameter_count());
        let lines: Vec<String> = st
            .query_map(rusqlite::params_from_iter(nulls), |r| r.get::<_, String>(3))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        lines.join("\n")
    }

    #[test]
    fn every_hot_read_walks_its_index_in_order_without_sorting() {
        let (_dir, conn) = conn();
        let cases: [(&str, &str); 15] = [
            (sql::NEXT_DUE, "callback_due"),
            (&sql::DUE, "callback_due"),
            (&sql::CAMPAIGN_PENDING, "sqlite_autoindex_callback_1"),
            (&sql::QUEUE_HEADS, "callback_queue_head"),
            (&sql::AGENT_HEADS, "callback_agent_head"),
            (&sql::ESCALATED_HEADS, "callback_campaign_head"),
            (sql::OLDEST_AGENT_CALLBACKS, "COVERING INDEX callback_campaign_head"),
            (&sql::CLAIM_HEADS, "callback_campaign_head"),
            (&sql::EXPIRED, "callback_hold"),
            (sql::NEXT_HOLD_EXPIRY, "callback_hold"),
            (&sql::AGENT_ROUTING, "callback_holder"),
            (&sql::AGENT_HOLDS, "callback_holder"),
            (&sql::FREE_AGENTS, "callback_holder"),
            (&sql::QUEUE_AHEAD, "COVERING INDEX callback_queue_head"),
            (&sql::AGENT_AHEAD, "COVERING INDEX callback_agent_head"),
        ];
        let mut wrong = Vec::new();
        for (sql, index) in cases {
            let plan = plan(&conn, sql);
            // The agents are few: ordering them by how long they have been ready may sort.
            // and an agent holds one callback at most.
            let may_sort =
                sql.starts_with(&format!("select {}", crate::config::AGENT_COLS)) || sql == *sql::AGENT_HOLDS;
            if !plan.contains(index) || (!may_sort && plan.contains("TEMP B-TREE")) {
                wrong.push(format!("{sql}\n{plan}"));
            }
        }
        assert!(wrong.is_empty(), "{}", wrong.join("\n\n"));
        let due = due_per_minute_sql(3);
        for sql in [sql::OVERDUE, sql::DUE_SOON, sql::AGENT_IS_FREE, due.as_str()] {
            let plan = plan(&conn, sql);
            assert!(plan.contains("SEARCH"), "{sql}\n{plan}");
            assert!(!plan.contains("SCAN callback"), "{sql}\n{plan}");
        }
    }
}
