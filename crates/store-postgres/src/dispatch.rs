//! Dispatch: the engine's reads and batched writes — promotion, reservations, dialler claims (`FOR
//! UPDATE SKIP LOCKED`), holds and their expiry, presence, positions and counts.
//!
//! Every write is one transaction however many callbacks it covers, and a fixed number of statements
//! however many rows: the rows are locked and read, the rules (the dial check, the transition table,
//! the holder) run here, then each kind of change is one statement over arrays (`unnest`) and the
//! audit events one multi-row insert, in the order SQLite writes them.
//!
//! Several nodes share the database, so the locks carry the invariants of `docs/ENGINE.md`:
//! - **One holder per callback.** Reservations and claims lock the callbacks they take with
//!   `FOR UPDATE SKIP LOCKED`: a callback another node is taking is skipped, never taken twice, and
//!   the `QUEUED` condition is re-checked on the row as locked.
//! - **One callback per agent.** A reservation locks the agents it offers to (`FOR NO KEY UPDATE
//!   SKIP LOCKED`, which does not conflict with the key-share locks of foreign-key checks) and only
//!   then, in a new statement whose snapshot sees every commit made before the lock was granted,
//!   checks that each is `ready` and holds nothing. Two nodes reserving for one agent are serialised
//!   by the lock; the second finds the first's offer (or skips the agent).
//! - **No deadlocks.** Whatever waits for a lock takes callbacks before agents, callbacks in id order
//!   (transitions, the rescuer, `set_presence`, which locks the agent's offer before the agent and,
//!   holding the agent, no longer waits for a callback: it tries again instead); reservations,
//!   claims and promotion never wait (`SKIP LOCKED`).

use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;

use deadpool_postgres::{GenericClient, Transaction};
use jiff::Timestamp;
use rebound_domain::model::*;
use rebound_domain::state::{CallbackResult, CallbackState, IllegalTransition, Status, transition as lifecycle};
use rebound_store::*;
use serde_json::json;
use tokio_postgres::types::ToSql;

use crate::PgStore;
use crate::callbacks::{apply_status, apply_update, check_holder};
use crate::codec::{self, AGENT_COLUMNS, CALLBACK_COLUMNS, CALLBACK_COLUMNS_LEN, ms, opt_ms, trunc};
use crate::error::{Op, backend, constraint};

/// Dispatch order within a routing source: priority first, then first queue entry, then id (the
/// order of the partial head indexes of `0003_dispatch.sql`).
const DISPATCH_ORDER: &str = "order by c.priority desc, c.queued_at, c.callback_id";

/// The reads whose shape matters, built once.
mod sql {
    use super::*;

    pub(super) const NEXT_DUE: &str = "select earliest_time from callback \
        where state = 'SCHEDULED' and earliest_time is not null order by earliest_time limit 1";
    pub(super) const NEXT_HOLD_EXPIRY: &str = "select hold_until from callback \
        where state = 'ROUTING' and hold_until is not null order by hold_until limit 1";

    /// Earliest first along `callback_due`; ties are left in index order (ordering them by id would
    /// sort every callback due at one instant). Rows another transaction holds are left for the next
    /// pass. `= any(array(…))` makes the update find its rows by primary key (a join with the CTE is
    /// planned as a hash join over the whole table).
    pub(super) static PROMOTE: LazyLock<String> = LazyLock::new(|| {
        format!(
            "with due as (select callback_id from callback where state = 'SCHEDULED' and earliest_time <= $1 \
             order by earliest_time limit $2 for update skip locked) \
             update callback c set state = 'QUEUED', updated_at = $1, queued_at = coalesce(c.queued_at, $1) \
             where c.callback_id = any(array(select callback_id from due)) returning {CALLBACK_COLUMNS}"
        )
    });
    pub(super) static CAMPAIGN_PENDING_FIRST: LazyLock<String> = LazyLock::new(|| {
        format!(
            "select {CALLBACK_COLUMNS} from callback c where c.campaign_id = $1 \
             and c.state in ('SCHEDULED', 'QUEUED') order by c.callback_id limit $2"
        )
    });
    pub(super) static CAMPAIGN_PENDING_AFTER: LazyLock<String> = LazyLock::new(|| {
        format!(
            "select {CALLBACK_COLUMNS} from callback c where c.campaign_id = $1 \
             and c.state in ('SCHEDULED', 'QUEUED') and c.callback_id > $2 order by c.callback_id limit $3"
        )
    });
    /// Rows to change, locked in id order (the order every waiting locker uses).
    pub(super) static LOCK_BY_ID: LazyLock<String> = LazyLock::new(|| {
        format!(
            "select {CALLBACK_COLUMNS} from callback c where c.callback_id = any($1) order by c.callback_id for update"
        )
    });
    /// [`LOCK_BY_ID`] for the states a campaign change may move: held offers and leases are left
    /// unlocked (withdrawing an offer must not wait for a change that leaves it alone).
    pub(super) static LOCK_PENDING_BY_ID: LazyLock<String> = LazyLock::new(|| {
        format!(
            "select {CALLBACK_COLUMNS} from callback c where c.callback_id = any($1) \
             and c.state in ('SCHEDULED', 'QUEUED') order by c.callback_id for update"
        )
    });
    pub(super) static QUEUE_HEADS: LazyLock<String> = LazyLock::new(|| {
        format!(
            "select {CALLBACK_COLUMNS} from callback c where c.queue_id = $1 and c.state = 'QUEUED' \
             and c.type = 'queue' {DISPATCH_ORDER} limit $2"
        )
    });
    pub(super) static AGENT_HEADS: LazyLock<String> = LazyLock::new(|| {
        format!(
            "select {CALLBACK_COLUMNS} from callback c where c.agent_id = $1 and c.state = 'QUEUED' \
             and c.type = 'agent' {DISPATCH_ORDER} limit $2"
        )
    });
    pub(super) static ESCALATED_HEADS: LazyLock<String> = LazyLock::new(|| {
        format!(
            "select {CALLBACK_COLUMNS} from callback c where c.campaign_id = $1 and c.type = 'agent' \
             and c.state = 'QUEUED' and c.queued_at <= $2 {DISPATCH_ORDER} limit $3"
        )
    });
    /// Per campaign, one range of `callback_campaign_head`: the work is the campaigns plus their
    /// waiting agent callbacks, never the queue callbacks.
    pub(super) const OLDEST_AGENT_CALLBACKS: &str = "select campaign_id, oldest from (select k.campaign_id, \
        (select min(c.queued_at) from callback c where c.campaign_id = k.campaign_id and c.type = 'agent' \
        and c.state = 'QUEUED') as oldest from campaign k) as o where oldest is not null order by campaign_id";
    /// A dialler's next candidates: heads across the campaign's open queues, skipping those another
    /// claim holds and those this claim already looked at (`$3`).
    pub(super) static CLAIM_HEADS: LazyLock<String> = LazyLock::new(|| {
        format!(
            "select {CALLBACK_COLUMNS} from callback c where c.campaign_id = $1 and c.type = 'queue' \
             and c.state = 'QUEUED' and c.callback_id <> all($3) \
             and not exists (select 1 from queue q where q.queue_id = c.queue_id and q.paused) \
             {DISPATCH_ORDER} limit $2 for update of c skip locked"
        )
    });
    /// The callbacks of a reservation still `QUEUED`, except those another transaction is taking,
    /// each with whether its queue dispatches nothing now (paused; or, were it gone, missing).
    pub(super) static RESERVE_CANDIDATES: LazyLock<String> = LazyLock::new(|| {
        format!(
            "select {CALLBACK_COLUMNS}, coalesce((select q.paused from queue q where q.queue_id = c.queue_id), \
             c.queue_id is not null) from callback c where c.callback_id = any($1) and c.state = 'QUEUED' \
             order by c.callback_id for update of c skip locked"
        )
    });
    /// The agents of a reservation, locked against other reservations and presence changes; not
    /// against foreign-key checks (key share), so callbacks naming them are still created meanwhile.
    pub(super) const LOCK_AGENTS: &str =
        "select agent_id from agent where agent_id = any($1) order by agent_id for no key update skip locked";
    /// Run after [`LOCK_AGENTS`], in a statement of its own: its snapshot sees every reservation that
    /// committed before the locks were granted.
    pub(super) const FREE_OF: &str = "select a.agent_id from agent a where a.agent_id = any($1) \
        and a.presence = 'ready' and not exists (select 1 from callback c where c.offered_to = a.agent_id \
        and c.state in ('ROUTING', 'PROCESSING'))";
    pub(super) static EXPIRED: LazyLock<String> = LazyLock::new(|| {
        format!(
            "select {CALLBACK_COLUMNS} from callback c where c.state = 'ROUTING' and c.hold_until <= $1 \
             order by c.hold_until limit $2 for update of c skip locked"
        )
    });
    pub(super) static AGENT_OFFERS: LazyLock<String> = LazyLock::new(|| {
        format!(
            "select {CALLBACK_COLUMNS} from callback c where c.offered_to = $1 and c.state = 'ROUTING' \
             order by c.callback_id for update"
        )
    });
    /// [`AGENT_OFFERS`] for a transaction that holds the agent's lock: it must not wait for a
    /// callback (a transition holding one waits for the agent), so it skips those another
    /// transaction holds, and [`AGENT_OFFER_COUNT`] tells whether it skipped any.
    pub(super) static AGENT_OFFERS_UNLOCKED: LazyLock<String> =
        LazyLock::new(|| format!("{} skip locked", *AGENT_OFFERS));
    pub(super) const AGENT_OFFER_COUNT: &str =
        "select count(*) from callback where offered_to = $1 and state = 'ROUTING'";
    pub(super) static AGENT_HOLDS: LazyLock<String> = LazyLock::new(|| {
        format!(
            "select {CALLBACK_COLUMNS} from callback c where c.offered_to = $1 \
             and c.state in ('ROUTING', 'PROCESSING') order by c.updated_at desc limit 1"
        )
    });
    pub(super) static FREE_AGENTS: LazyLock<String> = LazyLock::new(|| {
        format!(
            "select {AGENT_COLUMNS} from agent a where a.presence = 'ready' and not exists (select 1 from callback c \
             where c.offered_to = a.agent_id and c.state in ('ROUTING', 'PROCESSING')) \
             order by a.ready_since, a.agent_id"
        )
    });
    /// Staying ready keeps the agent's place in line; becoming ready takes `$3`; leaving clears it.
    pub(super) static SET_PRESENCE: LazyLock<String> = LazyLock::new(|| {
        format!(
            "update agent a set presence = $2::text, ready_since = case when $2::text <> 'ready' then null \
             when a.presence = 'ready' then coalesce(a.ready_since, $3) else $3 end \
             where a.agent_id = $1 returning {AGENT_COLUMNS}"
        )
    });
    /// Those ahead in dispatch order (`$2` priority, `$3` queued_at, `$4` id) in one source.
    const AHEAD: &str = "(c.priority > $2 or (c.priority = $2 and (c.queued_at < $3 \
        or (c.queued_at = $3 and c.callback_id < $4))))";
    pub(super) static QUEUE_AHEAD: LazyLock<String> = LazyLock::new(|| {
        format!(
            "select count(*) from callback c where c.queue_id = $1 and c.state = 'QUEUED' and c.type = 'queue' \
             and {AHEAD}"
        )
    });
    pub(super) static AGENT_AHEAD: LazyLock<String> = LazyLock::new(|| {
        format!(
            "select count(*) from callback c where c.agent_id = $1 and c.state = 'QUEUED' and c.type = 'agent' \
             and {AHEAD}"
        )
    });
    /// Overdue implies an earliest time before now: that bound keeps the count on `callback_due`.
    pub(super) const OVERDUE_AND_DUE_SOON: &str = "select \
        (select count(*) from callback where state = 'SCHEDULED' and earliest_time < $1 and overdue_at < $1), \
        (select count(*) from callback where state = 'SCHEDULED' and earliest_time >= $1 and earliest_time < $2)";
    pub(super) const DUE_PER_MINUTE: &str = "select queue_id, earliest_time - earliest_time % 60000, count(*) \
        from callback where state in ('SCHEDULED', 'QUEUED', 'ROUTING', 'PROCESSING') \
        and earliest_time >= $1 and earliest_time < $2 and queue_id = any($3) group by 1, 2 order by 1, 2";

    // ---- batched writes ---------------------------------------------------------------------------

    /// `(callback_id, agent_id)` pairs offered until `$3` at `$4`.
    pub(super) const OFFER: &str = "update callback c set state = 'ROUTING', updated_at = $4, offered_to = u.agent, \
        hold_until = $3 from unnest($1::uuid[], $2::bigint[]) as u(id, agent) where c.callback_id = u.id";
    pub(super) const LEASE: &str = "update callback set state = 'ROUTING', updated_at = $2, lease_id = $3, \
        hold_until = $4 where callback_id = any($1)";
    /// Back to `SCHEDULED` with new earliest times (`None`: not while the campaign is stopped);
    /// `queued_at` stays, so the callback keeps its place in line for when it is due again.
    pub(super) const RESCHEDULE: &str = "update callback c set state = 'SCHEDULED', earliest_time = u.earliest, \
        overdue_at = u.earliest + c.window_secs * 1000, updated_at = $3, offered_to = null, lease_id = null, \
        hold_until = null from unnest($1::uuid[], $2::bigint[]) as u(id, earliest) where c.callback_id = u.id";
    /// `ROUTING → QUEUED`, holder cleared.
    pub(super) const RELEASE: &str = "update callback set state = 'QUEUED', updated_at = $2, offered_to = null, \
        lease_id = null, hold_until = null where callback_id = any($1)";
    /// Someone who does not answer an offer is not there; one who went offline meanwhile stays so.
    pub(super) const SILENT_AGENTS: &str = "update agent set presence = 'not_ready', ready_since = null \
        where agent_id = any($1) and presence = 'ready'";
    pub(super) const EVENTS: &str = "insert into callback_event (callback_id, at, actor, action, from_state, \
        to_state, details) select * from unnest($1::uuid[], $2::bigint[], $3::text[], $4::text[], $5::text[], \
        $6::text[], $7::text[])";
    /// Every column a lifecycle step may change, for many callbacks at once.
    pub(super) const STEPS: &str = "update callback c set state = u.state, result = u.result, \
        desired_time = u.desired_time, timezone = u.timezone, earliest_time = u.earliest_time, \
        overdue_at = u.overdue_at, slot_start = u.slot_start, expires_at = u.expires_at, agent_id = u.agent_id, \
        attempts = u.attempts, updated_at = u.updated_at, queued_at = u.queued_at, wrap_code = u.wrap_code, \
        notes = u.notes, offered_to = u.offered_to, lease_id = u.lease_id, hold_until = u.hold_until \
        from unnest($1::uuid[], $2::text[], $3::text[], $4::bigint[], $5::text[], $6::bigint[], $7::bigint[], \
        $8::bigint[], $9::bigint[], $10::bigint[], $11::bigint[], $12::bigint[], $13::bigint[], $14::text[], \
        $15::text[], $16::bigint[], $17::text[], $18::bigint[]) as u(id, state, result, desired_time, timezone, \
        earliest_time, overdue_at, slot_start, expires_at, agent_id, attempts, updated_at, queued_at, wrap_code, \
        notes, offered_to, lease_id, hold_until) where c.callback_id = u.id";
    /// Presence set by transitions: `ready_since` is the step's instant when ready (back of the line).
    pub(super) const PRESENCES: &str = "update agent a set presence = u.presence, ready_since = u.since \
        from unnest($1::bigint[], $2::text[], $3::bigint[]) as u(id, presence, since) where a.agent_id = u.id";
    /// The agents a batch of transitions names, locked (after the callbacks) in id order.
    pub(super) const LOCK_NAMED_AGENTS: &str =
        "select agent_id from agent where agent_id = any($1) order by agent_id for no key update";
}

// ---- small helpers ---------------------------------------------------------------------------------

type Params<'a> = [&'a (dyn ToSql + Sync)];

async fn query(c: &impl GenericClient, sql: &str, params: &Params<'_>) -> StoreResult<Vec<tokio_postgres::Row>> {
    let st = c.prepare_cached(sql).await.map_err(backend)?;
    c.query(&st, params).await.map_err(backend)
}

async fn callbacks(c: &impl GenericClient, sql: &str, params: &Params<'_>) -> StoreResult<Vec<Callback>> {
    query(c, sql, params).await?.iter().map(codec::callback).collect()
}

/// A statement that changes what `op` names (a refusal of the schema is mapped as for any write);
/// nothing is sent unless `needed`. The writes of one step are awaited together, so tokio-postgres
/// pipelines them (one round trip); their order does not matter, every row they change being
/// locked already.
async fn write(tx: &Transaction<'_>, needed: bool, op: Op<'_>, sql: &str, params: &Params<'_>) -> StoreResult<()> {
    if needed {
        let st = tx.prepare_cached(sql).await.map_err(backend)?;
        tx.execute(&st, params).await.map_err(|e| constraint(e, op))?;
    }
    Ok(())
}

const CALLBACK: Op<'static> = Op::Write("callback");
const AGENT: Op<'static> = Op::Write("agent");

async fn first_instant(store: &PgStore, sql: &str) -> StoreResult<Option<Timestamp>> {
    let client = store.client().await?;
    let rows = query(&client, sql, &[]).await?;
    rows.first().map(|r| codec::get_ts(r, 0)).transpose()
}

fn ids_of(callbacks: &[Callback]) -> Vec<uuid::Uuid> {
    callbacks.iter().map(|c| c.id.0).collect()
}

async fn commit(store: &PgStore, tx: Transaction<'_>, wrote: bool) -> StoreResult<()> {
    tx.commit().await.map_err(backend)?;
    if wrote {
        store.committed();
    }
    Ok(())
}

/// The audit events of one write, inserted with one statement in the order they were made.
#[derive(Default)]
struct Events {
    ids: Vec<uuid::Uuid>,
    at: Vec<i64>,
    actor: Vec<String>,
    action: Vec<String>,
    from: Vec<Option<&'static str>>,
    to: Vec<Option<&'static str>>,
    details: Vec<String>,
}

impl Events {
    #[allow(clippy::too_many_arguments)] // one audit row, column by column
    fn push(
        &mut self,
        id: CallbackId,
        at: Timestamp,
        actor: &str,
        action: &str,
        from: Option<CallbackState>,
        to: Option<CallbackState>,
        details: &serde_json::Value,
    ) {
        self.ids.push(id.0);
        self.at.push(ms(at));
        self.actor.push(actor.to_string());
        self.action.push(action.to_string());
        self.from.push(from.map(CallbackState::as_str));
        self.to.push(to.map(CallbackState::as_str));
        self.details.push(details.to_string());
    }

    /// `QUEUED → SCHEDULED` with the time the dial check or a campaign change gave.
    fn demoted(&mut self, cb: &Callback, earliest: Option<Timestamp>, actor: &str, at: Timestamp) {
        let details = json!({ "earliest_time": earliest });
        self.push(cb.id, at, actor, "demoted", Some(cb.state), Some(CallbackState::Scheduled), &details);
    }

    async fn insert(&self, tx: &Transaction<'_>) -> StoreResult<()> {
        let columns: [&(dyn ToSql + Sync); 7] =
            [&self.ids, &self.at, &self.actor, &self.action, &self.from, &self.to, &self.details];
        write(tx, !self.ids.is_empty(), Op::Write("callback event"), sql::EVENTS, &columns).await
    }
}

/// Callbacks going back to `SCHEDULED` with new earliest times, written with one statement.
#[derive(Default)]
struct Reschedules {
    ids: Vec<uuid::Uuid>,
    earliest: Vec<Option<i64>>,
    /// Where each callback is in the arrays: a second change of one callback replaces its first
    /// (an update joined twice to one row would apply either).
    index: HashMap<CallbackId, usize>,
}

impl Reschedules {
    /// Records the change and returns the callback as it will be stored.
    fn push(&mut self, cb: &Callback, earliest: Option<Timestamp>, at: Timestamp) -> Callback {
        let mut moved = cb.clone();
        moved.earliest_time = earliest.map(trunc);
        apply_status(&mut moved, Status::SCHEDULED, at);
        match self.index.get(&cb.id) {
            Some(&i) => self.earliest[i] = opt_ms(moved.earliest_time),
            None => {
                self.index.insert(cb.id, self.ids.len());
                self.ids.push(cb.id.0);
                self.earliest.push(opt_ms(moved.earliest_time));
            }
        }
        moved
    }

    async fn write(&self, tx: &Transaction<'_>, at: Timestamp) -> StoreResult<()> {
        write(tx, !self.ids.is_empty(), CALLBACK, sql::RESCHEDULE, &[&self.ids, &self.earliest, &ms(at)]).await
    }
}

// ---- promotion -------------------------------------------------------------------------------------

pub async fn next_due(store: &PgStore) -> StoreResult<Option<Timestamp>> {
    // NULL earliest times (a stopped campaign's) are outside the index range itself.
    first_instant(store, sql::NEXT_DUE).await
}

pub async fn promote_due(store: &PgStore, now: Timestamp, limit: u32, actor: &str) -> StoreResult<Vec<Callback>> {
    let now = trunc(now);
    let mut client = store.client().await?;
    let tx = client.transaction().await.map_err(backend)?;
    let st = tx.prepare_cached(&sql::PROMOTE).await.map_err(backend)?;
    let rows = tx.query(&st, &[&ms(now), &i64::from(limit)]).await.map_err(|e| constraint(e, CALLBACK))?;
    let mut promoted = rows.iter().map(codec::callback).collect::<StoreResult<Vec<_>>>()?;
    // `returning` follows no order: earliest first, as they were chosen.
    promoted.sort_by_key(|c| (c.earliest_time, c.id));
    let mut events = Events::default();
    for cb in &promoted {
        let details = json!({ "earliest_time": cb.earliest_time });
        events.push(
            cb.id,
            now,
            actor,
            "promoted",
            Some(CallbackState::Scheduled),
            Some(CallbackState::Queued),
            &details,
        );
    }
    events.insert(&tx).await?;
    commit(store, tx, !promoted.is_empty()).await?;
    Ok(promoted)
}

pub async fn campaign_pending(
    store: &PgStore,
    campaign_id: CampaignId,
    after: Option<CallbackId>,
    limit: u32,
) -> StoreResult<Vec<Callback>> {
    let client = store.client().await?;
    let limit = i64::from(limit);
    match after {
        None => callbacks(&client, &sql::CAMPAIGN_PENDING_FIRST, &[&campaign_id, &limit]).await,
        Some(after) => callbacks(&client, &sql::CAMPAIGN_PENDING_AFTER, &[&campaign_id, &after.0, &limit]).await,
    }
}

pub async fn apply_earliest_times(
    store: &PgStore,
    changes: Vec<EarliestChange>,
    actor: &str,
    at: Timestamp,
) -> StoreResult<u64> {
    if changes.is_empty() {
        return Ok(0);
    }
    let at = trunc(at);
    let mut client = store.client().await?;
    let tx = client.transaction().await.map_err(backend)?;
    let ids: Vec<uuid::Uuid> = changes.iter().map(|c| c.id.0).collect();
    let mut current: HashMap<CallbackId, Callback> =
        callbacks(&tx, &sql::LOCK_PENDING_BY_ID, &[&ids]).await?.into_iter().map(|c| (c.id, c)).collect();
    let mut moves = Reschedules::default();
    let mut events = Events::default();
    let mut changed = 0;
    for change in changes {
        let Some(cb) = current.get(&change.id) else { continue };
        if cb.state != change.expect {
            continue;
        }
        let earliest = change.earliest_time.map(trunc);
        let moved = match cb.state {
            CallbackState::Scheduled if cb.earliest_time != earliest => {
                let details = json!({ "earliest_time": earliest });
                events.push(cb.id, at, actor, "hours_changed", Some(cb.state), Some(cb.state), &details);
                moves.push(cb, earliest, at)
            }
            CallbackState::Queued if earliest.is_none_or(|e| e > at) => {
                events.demoted(cb, earliest, actor, at);
                moves.push(cb, earliest, at)
            }
            _ => continue,
        };
        // A later change of the same callback sees this one.
        current.insert(moved.id, moved);
        changed += 1;
    }
    tokio::try_join!(moves.write(&tx, at), events.insert(&tx))?;
    commit(store, tx, changed > 0).await?;
    Ok(changed)
}

// ---- routing ---------------------------------------------------------------------------------------

pub async fn free_agents(store: &PgStore) -> StoreResult<Vec<Agent>> {
    let client = store.client().await?;
    query(&client, &sql::FREE_AGENTS, &[]).await?.iter().map(codec::agent).collect()
}

pub async fn ready_agent_count(store: &PgStore) -> StoreResult<u64> {
    let client = store.client().await?;
    let rows = query(&client, "select count(*) from agent where presence = 'ready'", &[]).await?;
    let n: i64 = codec::get(&rows[0], 0)?;
    Ok(n as u64)
}

pub async fn queued_heads(store: &PgStore, source: QueuedSource, limit: u32) -> StoreResult<Vec<Callback>> {
    let client = store.client().await?;
    let limit = i64::from(limit);
    match source {
        QueuedSource::Queue(queue_id) => callbacks(&client, &sql::QUEUE_HEADS, &[&queue_id, &limit]).await,
        QueuedSource::AgentOwn(agent_id) => callbacks(&client, &sql::AGENT_HEADS, &[&agent_id, &limit]).await,
        QueuedSource::Escalated { campaign_id, queued_before } => {
            callbacks(&client, &sql::ESCALATED_HEADS, &[&campaign_id, &ms(queued_before), &limit]).await
        }
    }
}

pub async fn oldest_queued_agent_callbacks(store: &PgStore) -> StoreResult<Vec<(CampaignId, Timestamp)>> {
    let client = store.client().await?;
    query(&client, sql::OLDEST_AGENT_CALLBACKS, &[])
        .await?
        .iter()
        .map(|r| Ok((codec::get(r, 0)?, codec::get_ts(r, 1)?)))
        .collect()
}

/// The agents of `agent_ids` this transaction now holds the lock of and that are free: `ready` and
/// holding nothing. Agents another transaction holds are left out (it is offering to them, or
/// changing their presence).
async fn lock_free_agents(tx: &Transaction<'_>, agent_ids: &[AgentId]) -> StoreResult<HashSet<AgentId>> {
    let locked: Vec<AgentId> = query(tx, sql::LOCK_AGENTS, &[&agent_ids])
        .await?
        .iter()
        .map(|r| codec::get(r, 0))
        .collect::<StoreResult<_>>()?;
    if locked.is_empty() {
        return Ok(HashSet::new());
    }
    // A statement of its own: its snapshot is taken after the locks were granted.
    query(tx, sql::FREE_OF, &[&locked]).await?.iter().map(|r| codec::get(r, 0)).collect()
}

pub async fn reserve_for_agents(store: &PgStore, req: ReserveRequest) -> StoreResult<Vec<Callback>> {
    if req.pairs.is_empty() {
        return Ok(Vec::new());
    }
    let at = trunc(req.at);
    let hold_until = trunc(req.hold_until);
    let mut client = store.client().await?;
    let tx = client.transaction().await.map_err(backend)?;

    let mut agent_ids: Vec<AgentId> = req.pairs.iter().map(|p| p.agent_id).collect();
    agent_ids.sort_unstable();
    agent_ids.dedup();
    let free = lock_free_agents(&tx, &agent_ids).await?;
    let wanted: Vec<uuid::Uuid> =
        req.pairs.iter().filter(|p| free.contains(&p.agent_id)).map(|p| p.callback_id.0).collect();
    let candidates =
        if wanted.is_empty() { Vec::new() } else { query(&tx, &sql::RESERVE_CANDIDATES, &[&wanted]).await? };
    // Each still-QUEUED callback, and whether its queue is closed.
    let mut queued: HashMap<CallbackId, (Callback, bool)> = HashMap::with_capacity(candidates.len());
    for r in &candidates {
        let cb = codec::callback(r)?;
        queued.insert(cb.id, (cb, codec::get(r, CALLBACK_COLUMNS_LEN)?));
    }

    let mut served: HashSet<AgentId> = HashSet::new();
    let (mut offer_ids, mut offer_agents) = (Vec::new(), Vec::new());
    let mut demotions = Reschedules::default();
    let mut events = Events::default();
    let mut out = Vec::new();
    for pair in &req.pairs {
        // An agent holds one offer at a time: the first pair that reaches a free agent is the one.
        if served.contains(&pair.agent_id) || !free.contains(&pair.agent_id) {
            continue;
        }
        // Taken out: once offered or demoted a callback is no longer QUEUED for a later pair (and a
        // later pair of a paused queue's callback is skipped as this one is).
        let Some((cb, closed)) = queued.remove(&pair.callback_id) else { continue };
        if closed {
            continue;
        }
        if let Err(next) = (req.dial_check)(&cb, at) {
            events.demoted(&cb, next, &req.actor, at);
            demotions.push(&cb, next, at);
            continue;
        }
        let details = json!({ "agent_id": pair.agent_id, "hold_until": hold_until });
        events.push(cb.id, at, &req.actor, "offered", Some(cb.state), Some(CallbackState::Routing), &details);
        let mut offered = cb;
        apply_status(&mut offered, Status::ROUTING, at);
        offered.offered_to = Some(pair.agent_id);
        offered.hold_until = Some(hold_until);
        offer_ids.push(offered.id.0);
        offer_agents.push(pair.agent_id);
        served.insert(pair.agent_id);
        out.push(offered);
    }
    let (hold_ms, at_ms) = (ms(hold_until), ms(at));
    tokio::try_join!(
        async {
            write(&tx, !offer_ids.is_empty(), CALLBACK, sql::OFFER, &[&offer_ids, &offer_agents, &hold_ms, &at_ms])
                .await
        },
        demotions.write(&tx, at),
        events.insert(&tx),
    )?;
    commit(store, tx, !events.ids.is_empty()).await?;
    Ok(out)
}

pub async fn claim_for_dialer(store: &PgStore, req: ClaimRequest) -> StoreResult<Vec<Callback>> {
    let at = trunc(req.at);
    let hold_until = trunc(req.hold_until);
    let max = req.max as usize;
    let details = json!({ "lease_id": req.lease_id, "hold_until": hold_until });
    let mut client = store.client().await?;
    let tx = client.transaction().await.map_err(backend)?;
    let mut seen: Vec<uuid::Uuid> = Vec::new();
    let mut demotions = Reschedules::default();
    let mut events = Events::default();
    let mut out: Vec<Callback> = Vec::with_capacity(max);
    // Each round reads the next heads past those already looked at; demotions are why there may be
    // a next round.
    while out.len() < max {
        let want = max - out.len();
        let heads = callbacks(&tx, &sql::CLAIM_HEADS, &[&req.campaign_id, &(want as i64), &seen]).await?;
        let exhausted = heads.len() < want;
        seen.extend(ids_of(&heads));
        for cb in heads {
            if let Err(next) = (req.dial_check)(&cb, at) {
                events.demoted(&cb, next, &req.actor, at);
                demotions.push(&cb, next, at);
                continue;
            }
            events.push(cb.id, at, &req.actor, "leased", Some(cb.state), Some(CallbackState::Routing), &details);
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
    let (leased, at_ms, hold_ms) = (ids_of(&out), ms(at), ms(hold_until));
    tokio::try_join!(
        async {
            write(&tx, !leased.is_empty(), CALLBACK, sql::LEASE, &[&leased, &at_ms, &req.lease_id, &hold_ms]).await
        },
        demotions.write(&tx, at),
        events.insert(&tx),
    )?;
    commit(store, tx, !events.ids.is_empty()).await?;
    Ok(out)
}

// ---- transitions -----------------------------------------------------------------------------------

/// One lifecycle step on `current`, checked as the SQLite store checks it (holder, expected state,
/// the transition table, the agents it names) before anything is written. Returns the callback as
/// it will be stored.
fn step(current: &Callback, req: &TransitionRequest, agents: &HashSet<AgentId>) -> StoreResult<Callback> {
    if let Some(holder) = &req.holder {
        check_holder(current, holder)?;
    }
    let from = Status { state: current.state, result: current.result };
    if !req.expect.is_empty() && !req.expect.contains(&current.state) {
        return Err(IllegalTransition { from, action: req.action }.into());
    }
    let to = lifecycle(from, req.action)?;
    if let Some(change) = &req.presence
        && !agents.contains(&change.agent_id)
    {
        return Err(StoreError::not_found(format!("agent {}", change.agent_id)));
    }
    let at = trunc(req.at);
    let mut cb = current.clone();
    apply_update(&mut cb, req.update.clone());
    apply_status(&mut cb, to, at);
    // A newly named agent must exist (on SQLite the foreign key refuses the write).
    for (now, before) in [(cb.agent_id, current.agent_id), (cb.offered_to, current.offered_to)] {
        if let Some(agent_id) = now
            && now != before
            && !agents.contains(&agent_id)
        {
            return Err(StoreError::not_found("a record this callback refers to"));
        }
    }
    Ok(cb)
}

/// Writes the final state of every callback a batch changed, with one statement.
async fn write_steps(tx: &Transaction<'_>, changed: &[&Callback]) -> StoreResult<()> {
    let text = |f: fn(&Callback) -> Option<&str>| -> Vec<Option<&str>> { changed.iter().map(|c| f(c)).collect() };
    let ids: Vec<uuid::Uuid> = changed.iter().map(|c| c.id.0).collect();
    let state = text(|c| Some(c.state.as_str()));
    let result = text(|c| c.result.map(CallbackResult::as_str));
    let desired: Vec<i64> = changed.iter().map(|c| ms(c.desired_time)).collect();
    let timezone = text(|c| c.timezone.as_deref());
    let earliest: Vec<Option<i64>> = changed.iter().map(|c| opt_ms(c.earliest_time)).collect();
    let overdue: Vec<Option<i64>> = changed.iter().map(|c| codec::overdue_at(c)).collect();
    let slot: Vec<Option<i64>> = changed.iter().map(|c| opt_ms(c.slot_start)).collect();
    let expires: Vec<i64> = changed.iter().map(|c| ms(c.expires_at)).collect();
    let agent: Vec<Option<i64>> = changed.iter().map(|c| c.agent_id).collect();
    let attempts: Vec<i64> = changed.iter().map(|c| i64::from(c.attempts)).collect();
    let updated: Vec<i64> = changed.iter().map(|c| ms(c.updated_at)).collect();
    let queued: Vec<Option<i64>> = changed.iter().map(|c| opt_ms(c.queued_at)).collect();
    let wrap_code = text(|c| c.wrap_code.as_deref());
    let notes = text(|c| c.notes.as_deref());
    let offered: Vec<Option<i64>> = changed.iter().map(|c| c.offered_to).collect();
    let lease = text(|c| c.lease_id.as_deref());
    let hold: Vec<Option<i64>> = changed.iter().map(|c| opt_ms(c.hold_until)).collect();
    let columns: [&(dyn ToSql + Sync); 18] = [
        &ids, &state, &result, &desired, &timezone, &earliest, &overdue, &slot, &expires, &agent, &attempts, &updated,
        &queued, &wrap_code, &notes, &offered, &lease, &hold,
    ];
    write(tx, !changed.is_empty(), CALLBACK, sql::STEPS, &columns).await
}

/// Locks the callbacks of a batch (in id order), then the agents it names (presence changes, agent
/// and holder updates) so that none goes away and presence changes are ordered. Returns the
/// callbacks and the agents that exist. The two statements are prepared first and then pipelined:
/// sent together, they run in the order sent.
async fn lock_for_transitions(
    tx: &Transaction<'_>,
    requests: &[TransitionRequest],
) -> StoreResult<(Vec<Callback>, HashSet<AgentId>)> {
    let ids: Vec<uuid::Uuid> = requests.iter().map(|r| r.id.0).collect();
    let mut named: Vec<AgentId> = Vec::new();
    for r in requests {
        named.extend(r.presence.map(|p| p.agent_id));
        named.extend(r.update.agent_id.flatten());
        named.extend(r.update.offered_to.flatten());
    }
    named.sort_unstable();
    named.dedup();
    if named.is_empty() {
        return Ok((callbacks(tx, &sql::LOCK_BY_ID, &[&ids]).await?, HashSet::new()));
    }
    let (by_id, agents) =
        tokio::try_join!(tx.prepare_cached(&sql::LOCK_BY_ID), tx.prepare_cached(sql::LOCK_NAMED_AGENTS))
            .map_err(backend)?;
    let (ids, named): ([&(dyn ToSql + Sync); 1], [&(dyn ToSql + Sync); 1]) = ([&ids], [&named]);
    let (locked, agents) = tokio::try_join!(tx.query(&by_id, &ids), tx.query(&agents, &named)).map_err(backend)?;
    Ok((
        locked.iter().map(codec::callback).collect::<StoreResult<_>>()?,
        agents.iter().map(|r| codec::get(r, 0)).collect::<StoreResult<_>>()?,
    ))
}

pub async fn transition_callbacks(
    store: &PgStore,
    requests: Vec<TransitionRequest>,
) -> StoreResult<Vec<StoreResult<Callback>>> {
    if requests.is_empty() {
        return Ok(Vec::new());
    }
    let mut client = store.client().await?;
    let tx = client.transaction().await.map_err(backend)?;
    let (locked, agents) = lock_for_transitions(&tx, &requests).await?;
    let mut current: HashMap<CallbackId, Callback> = locked.into_iter().map(|c| (c.id, c)).collect();

    let mut changed: Vec<CallbackId> = Vec::new();
    let mut presence: HashMap<AgentId, (Presence, Option<i64>)> = HashMap::new();
    let mut events = Events::default();
    let mut out = Vec::with_capacity(requests.len());
    // Each step on its own, in order, against the state the earlier ones left.
    for req in &requests {
        let result = match current.get(&req.id) {
            None => Err(StoreError::not_found(format!("callback {}", req.id))),
            Some(cb) => step(cb, req, &agents),
        };
        let Ok(after) = result else {
            out.push(result);
            continue;
        };
        let from = current[&req.id].state;
        events.push(
            after.id,
            after.updated_at,
            &req.actor,
            &req.event_action,
            Some(from),
            Some(after.state),
            &req.event_details,
        );
        if let Some(change) = req.presence {
            let since = (change.presence == Presence::Ready).then(|| ms(after.updated_at));
            presence.insert(change.agent_id, (change.presence, since));
        }
        changed.push(after.id);
        current.insert(after.id, after.clone());
        out.push(Ok(after));
    }

    // Each changed callback is written once, as the last step left it.
    changed.sort_unstable();
    changed.dedup();
    let finals: Vec<&Callback> = changed.iter().map(|id| &current[id]).collect();
    let agent_ids: Vec<AgentId> = presence.keys().copied().collect();
    let names: Vec<&str> = agent_ids.iter().map(|id| presence[id].0.as_str()).collect();
    let since: Vec<Option<i64>> = agent_ids.iter().map(|id| presence[id].1).collect();
    tokio::try_join!(write_steps(&tx, &finals), events.insert(&tx), async {
        write(&tx, !agent_ids.is_empty(), AGENT, sql::PRESENCES, &[&agent_ids, &names, &since]).await
    },)?;
    commit(store, tx, !changed.is_empty()).await?;
    Ok(out)
}

// ---- the rescuer and presence ----------------------------------------------------------------------

/// `ROUTING → QUEUED` for an offer or lease that ended, holder cleared: the callback as it will be
/// stored, its event recorded.
fn release(cb: &Callback, action: &str, actor: &str, at: Timestamp, events: &mut Events) -> Callback {
    let mut released = cb.clone();
    apply_status(&mut released, Status::QUEUED, at);
    let details = match (cb.offered_to, &cb.lease_id) {
        (Some(agent_id), _) => json!({ "agent_id": agent_id }),
        (None, Some(lease_id)) => json!({ "lease_id": lease_id }),
        (None, None) => json!({}),
    };
    events.push(cb.id, at, actor, action, Some(cb.state), Some(CallbackState::Queued), &details);
    released
}

pub async fn release_expired(
    store: &PgStore,
    now: Timestamp,
    limit: u32,
    actor: &str,
) -> StoreResult<Vec<ExpiredHold>> {
    let now = trunc(now);
    let mut client = store.client().await?;
    let tx = client.transaction().await.map_err(backend)?;
    let expired = callbacks(&tx, &sql::EXPIRED, &[&ms(now), &i64::from(limit)]).await?;
    if expired.is_empty() {
        commit(store, tx, false).await?;
        return Ok(Vec::new());
    }
    let mut events = Events::default();
    let mut silent: Vec<AgentId> = Vec::new();
    let mut out = Vec::with_capacity(expired.len());
    for cb in &expired {
        let action = if cb.offered_to.is_some() { "offer_expired" } else { "lease_expired" };
        let released = release(cb, action, actor, now, &mut events);
        let holder = match (cb.offered_to, &cb.lease_id) {
            (Some(agent_id), _) => {
                silent.push(agent_id);
                Holder::Agent(agent_id)
            }
            (None, lease) => Holder::Lease(lease.clone().unwrap_or_default()),
        };
        out.push(ExpiredHold { callback: released, holder });
    }
    silent.sort_unstable();
    silent.dedup();
    let (released, now_ms) = (ids_of(&expired), ms(now));
    // The callbacks are locked already: the silent agents are all this may wait for.
    tokio::try_join!(
        async { write(&tx, true, CALLBACK, sql::RELEASE, &[&released, &now_ms]).await },
        events.insert(&tx),
        async { write(&tx, !silent.is_empty(), AGENT, sql::SILENT_AGENTS, &[&silent]).await },
    )?;
    commit(store, tx, true).await?;
    Ok(out)
}

pub async fn next_hold_expiry(store: &PgStore) -> StoreResult<Option<Timestamp>> {
    first_instant(store, sql::NEXT_HOLD_EXPIRY).await
}

/// How many times `set_presence` tries before it gives up on an offer another transaction keeps
/// locked (each holds its lock for one short transaction).
const PRESENCE_ATTEMPTS: u64 = 20;

pub async fn set_presence(
    store: &PgStore,
    agent_id: AgentId,
    presence: Presence,
    actor: &str,
    at: Timestamp,
) -> StoreResult<(Agent, Option<Callback>)> {
    let at = trunc(at);
    let mut client = store.client().await?;
    for attempt in 1..=PRESENCE_ATTEMPTS {
        let tx = client.transaction().await.map_err(backend)?;
        if let Some(done) = presence_step(&tx, agent_id, presence, actor, at).await? {
            commit(store, tx, true).await?;
            return Ok(done);
        }
        tx.rollback().await.map_err(backend)?;
        tokio::time::sleep(std::time::Duration::from_millis(attempt)).await;
    }
    Err(StoreError::Backend(format!("the offer of agent {agent_id} stayed locked by another transaction")))
}

/// One attempt of `set_presence`: `None` (to be rolled back and tried again) when an offer to the
/// agent that must be withdrawn is locked by another transaction.
async fn presence_step(
    tx: &Transaction<'_>,
    agent_id: AgentId,
    presence: Presence,
    actor: &str,
    at: Timestamp,
) -> StoreResult<Option<(Agent, Option<Callback>)>> {
    let leaving = matches!(presence, Presence::NotReady | Presence::Offline);
    // Callbacks before the agent, as transitions lock them: the offer first…
    let mut offers = if leaving { callbacks(tx, &sql::AGENT_OFFERS, &[&agent_id]).await? } else { Vec::new() };
    let st = tx.prepare_cached(&sql::SET_PRESENCE).await.map_err(backend)?;
    let row = tx
        .query_opt(&st, &[&agent_id, &presence.as_str(), &ms(at)])
        .await
        .map_err(|e| constraint(e, AGENT))?
        .ok_or_else(|| StoreError::not_found(format!("agent {agent_id}")))?;
    let agent = codec::agent(&row)?;
    if leaving {
        // …and again now that the agent is locked: an offer a reservation committed in between is
        // seen now, and none can follow (reservations lock the agent).
        let (late_st, count_st) =
            tokio::try_join!(tx.prepare_cached(&sql::AGENT_OFFERS_UNLOCKED), tx.prepare_cached(sql::AGENT_OFFER_COUNT))
                .map_err(backend)?;
        let id: [&(dyn ToSql + Sync); 1] = [&agent_id];
        let (late, count) = tokio::try_join!(tx.query(&late_st, &id), tx.query_one(&count_st, &id)).map_err(backend)?;
        for cb in late.iter().map(codec::callback) {
            let cb = cb?;
            if !offers.iter().any(|o| o.id == cb.id) {
                offers.push(cb);
            }
        }
        let open: i64 = codec::get(&count, 0)?;
        if open as usize > offers.len() {
            return Ok(None);
        }
    }
    let mut events = Events::default();
    let withdrawn: Vec<Callback> =
        offers.iter().map(|cb| release(cb, "offer_withdrawn", actor, at, &mut events)).collect();
    let (released, at_ms) = (ids_of(&withdrawn), ms(at));
    tokio::try_join!(
        async { write(tx, !released.is_empty(), CALLBACK, sql::RELEASE, &[&released, &at_ms]).await },
        events.insert(tx)
    )?;
    Ok(Some((agent, withdrawn.into_iter().last())))
}

pub async fn agent_offer(store: &PgStore, agent_id: AgentId) -> StoreResult<Option<Callback>> {
    let client = store.client().await?;
    Ok(callbacks(&client, &sql::AGENT_HOLDS, &[&agent_id]).await?.pop())
}

// ---- reads for the API and metrics -----------------------------------------------------------------

pub async fn queue_position(store: &PgStore, id: CallbackId) -> StoreResult<Option<u64>> {
    let client = store.client().await?;
    let rows = query(
        &client,
        "select type, queue_id, agent_id, priority, queued_at from callback where callback_id = $1 and state = 'QUEUED'",
        &[&id.0],
    )
    .await?;
    let Some(r) = rows.first() else { return Ok(None) };
    let (kind, queue_id, agent_id): (&str, Option<QueueId>, Option<AgentId>) =
        (codec::get(r, 0)?, codec::get(r, 1)?, codec::get(r, 2)?);
    let (priority, queued_at): (i64, Option<i64>) = (codec::get(r, 3)?, codec::get(r, 4)?);
    let (sql, key): (&str, i64) = match (CallbackType::parse(kind), queue_id, agent_id) {
        (Some(CallbackType::Queue), Some(queue_id), _) => (&sql::QUEUE_AHEAD, queue_id),
        (Some(CallbackType::Agent), _, Some(agent_id)) => (&sql::AGENT_AHEAD, agent_id),
        _ => return Ok(None),
    };
    // `queued_at` is always set on a QUEUED callback; were it not, it would sort last, as in the heads.
    let queued_at = queued_at.unwrap_or(i64::MAX);
    let rows = query(&client, sql, &[&key, &priority, &queued_at, &id.0]).await?;
    let ahead: i64 = codec::get(&rows[0], 0)?;
    Ok(Some(ahead as u64 + 1))
}

pub async fn callback_counts(store: &PgStore, now: Timestamp, due_before: Timestamp) -> StoreResult<CallbackCounts> {
    let client = store.client().await?;
    let (now, due_before) = (ms(now), ms(due_before));
    let bounds: [&(dyn ToSql + Sync); 2] = [&now, &due_before];
    // Two statements pipelined on one connection: one round trip.
    let (by_state, soon) = tokio::try_join!(
        query(&client, "select state, count(*) from callback group by state", &[]),
        query(&client, sql::OVERDUE_AND_DUE_SOON, &bounds),
    )?;
    let mut counts: Vec<(CallbackState, u64)> = CallbackState::ALL.iter().map(|s| (*s, 0)).collect();
    for r in &by_state {
        let (state, n): (&str, i64) = (codec::get(r, 0)?, codec::get(r, 1)?);
        if let Some(entry) = counts.iter_mut().find(|(s, _)| s.as_str() == state) {
            entry.1 = n as u64;
        }
    }
    let (overdue, due_soon): (i64, i64) = (codec::get(&soon[0], 0)?, codec::get(&soon[0], 1)?);
    Ok(CallbackCounts { by_state: counts, overdue: overdue as u64, due_soon: due_soon as u64 })
}

pub async fn due_per_minute(
    store: &PgStore,
    queue_ids: Vec<QueueId>,
    from: Timestamp,
    to: Timestamp,
) -> StoreResult<Vec<DueCount>> {
    if queue_ids.is_empty() {
        return Ok(Vec::new());
    }
    let client = store.client().await?;
    query(&client, sql::DUE_PER_MINUTE, &[&ms(from), &ms(to), &queue_ids])
        .await?
        .iter()
        .map(|r| {
            let count: i64 = codec::get(r, 2)?;
            Ok(DueCount {
                queue_id: codec::get(r, 0)?,
                minute: codec::get_ts(r, 1)?,
                count: u32::try_from(count).unwrap_or(u32::MAX),
            })
        })
        .collect()
}
