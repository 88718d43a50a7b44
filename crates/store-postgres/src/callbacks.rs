//! Callbacks: create (one, or a batch with the duplicate and slot rules), read, list with filters and
//! paging, search, idempotency keys, the audit history, single transitions, slot bookings, edits and
//! deletes.
//!
//! **Creates** (a batch, or a group of single creates — see [`CreateQueue`]) run in one transaction:
//! 1. the advisory locks of what the creates will count are taken (see [`LockKeys`]), so creates on
//!    several nodes that could break the same rule run one after the other;
//! 2. everything the checks need (idempotency keys, duplicate counts, slot counts, recreated
//!    originals, the records the callbacks refer to) is read — in the same round trip as the locks;
//! 3. the items are checked in order in memory, each seeing the ones accepted before it, exactly as
//!    the SQLite store checks them one by one, so a refused item writes nothing;
//! 4. the accepted callbacks, their events, idempotency keys and the originals' links are written by
//!    one statement of `unnest`ed arrays; then the commit.
//!
//! A large batch (an import) is copied in with binary `COPY` before its locks are taken, then checked
//! again under them, so that imports run side by side (see [`create_optimistically`]).
//!
//! A group of the create worker pipelines its transaction: `begin`, locks and reads in one round
//! trip, write and `commit` in the next. Its commit releases the locks without waiting for the disk,
//! and nobody is answered before a barrier has flushed the WAL past it (see [`BEGIN_GROUP`]). The
//! statements of creates run with generic plans.
//!
//! Transitions, updates and deletes lock the callback's row (`FOR UPDATE`), check, and write the row
//! with its audit event. Reads build their SQL from the filter with bound parameters only (lists bind
//! as one array), so each filter shape is one prepared statement.

use std::collections::{HashMap, HashSet};

use deadpool_postgres::GenericClient;
use jiff::Timestamp;
use rebound_domain::model::*;
use rebound_domain::state::{CallbackResult, CallbackState, IllegalTransition, Status, transition as lifecycle};
use rebound_store::steps::updated;
use rebound_store::*;
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::{ToSql, Type};
use uuid::Uuid;

use crate::PgStore;
use crate::codec::{self, *};
use crate::error::{Op, backend, constraint};

// The step rules both backends share; the rest of this store reaches them through this module.
pub(crate) use rebound_store::steps::{apply_edit, apply_status, apply_update, check_holder};

// ---- reads by id -----------------------------------------------------------------------------------

pub async fn get_callback(store: &PgStore, id: CallbackId) -> StoreResult<Option<Callback>> {
    let client = store.client().await?;
    let st = client
        .prepare_cached(&format!("select {CALLBACK_COLUMNS} from callback c where c.callback_id = $1"))
        .await
        .map_err(backend)?;
    client.query_opt(&st, &[&uuid(id)]).await.map_err(backend)?.as_ref().map(codec::callback).transpose()
}

/// One query for all of them, answered in the order asked (repeats and unknown ids included).
pub async fn get_callbacks(store: &PgStore, ids: Vec<CallbackId>) -> StoreResult<Vec<Option<Callback>>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let client = store.client().await?;
    let st = client
        .prepare_cached(&format!("select {CALLBACK_COLUMNS} from callback c where c.callback_id = any($1)"))
        .await
        .map_err(backend)?;
    let wanted: Vec<Uuid> = ids.iter().map(|id| uuid(*id)).collect();
    let mut found: HashMap<CallbackId, Callback> = HashMap::with_capacity(ids.len());
    for row in client.query(&st, &[&wanted]).await.map_err(backend)? {
        let cb = codec::callback(&row)?;
        found.insert(cb.id, cb);
    }
    Ok(ids.iter().map(|id| found.get(id).cloned()).collect())
}

pub async fn find_idempotent(store: &PgStore, key: &str) -> StoreResult<Option<(String, Callback)>> {
    let client = store.client().await?;
    let st = client
        .prepare_cached(&format!(
            "select {CALLBACK_COLUMNS}, k.fingerprint from idempotency_key k \
             join callback c on c.callback_id = k.callback_id where k.key = $1"
        ))
        .await
        .map_err(backend)?;
    match client.query_opt(&st, &[&key]).await.map_err(backend)? {
        Some(row) => Ok(Some((get(&row, CALLBACK_COLUMNS_LEN)?, codec::callback(&row)?))),
        None => Ok(None),
    }
}

pub async fn callback_events(store: &PgStore, id: CallbackId) -> StoreResult<Vec<CallbackEvent>> {
    let client = store.client().await?;
    let st = client
        .prepare_cached(&format!(
            "select {EVENT_COLUMNS} from callback_event where callback_id = $1 order by callback_event_id"
        ))
        .await
        .map_err(backend)?;
    client.query(&st, &[&uuid(id)]).await.map_err(backend)?.iter().map(codec::event).collect()
}

// ---- create: locks -----------------------------------------------------------------------------------

/// Advisory transaction locks, striped: each thing a create counts (an idempotency key, a number in
/// its duplicate scope, a queue's slot) maps to one of [`STRIPES`] locks of its kind. Two creates that
/// count the same thing take the same lock; two unrelated ones rarely collide, and a batch of any size
/// takes at most `3 × STRIPES` locks (PostgreSQL's lock table is shared and bounded). Keys are taken
/// in ascending order in one statement, so lockers never deadlock each other.
///
/// Keys are `LOCK_BASE + kind × STRIPES + stripe` (kinds 1–3), below the migration lock's key.
pub(crate) struct LockKeys(Vec<i64>);

const LOCK_BASE: i64 = 0x5245_424f_554e_0000; // "REBOUN\0\0"
const STRIPES: u64 = 256;

impl LockKeys {
    const SQL: &str = "select pg_advisory_xact_lock(k) from unnest($1::bigint[]) k";

    fn new() -> LockKeys {
        LockKeys(Vec::new())
    }

    fn add(&mut self, kind: i64, what: &[&[u8]]) {
        // FNV-1a: stable across processes, builds and nodes (std's hasher is not).
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for part in what {
            for b in part.iter().chain(b"\x1f") {
                h ^= u64::from(*b);
                h = h.wrapping_mul(0x0100_0000_01b3);
            }
        }
        self.0.push(LOCK_BASE + kind * STRIPES as i64 + (h % STRIPES) as i64);
    }

    fn idempotency(&mut self, key: &str) {
        self.add(1, &[key.as_bytes()]);
    }

    fn duplicates(&mut self, scope: &Scope) {
        match scope {
            Scope::Queue(queue, phone) => self.add(2, &[b"q", &queue.to_be_bytes(), phone.as_bytes()]),
            Scope::Agent(campaign, agent, phone) => self
                .add(2, &[b"a", &campaign.to_be_bytes(), &agent.unwrap_or(i64::MIN).to_be_bytes(), phone.as_bytes()]),
        }
    }

    fn slot(&mut self, queue: QueueId, slot: i64) {
        self.add(3, &[&queue.to_be_bytes(), &slot.to_be_bytes()]);
    }

    /// Takes the locks (held until the transaction ends).
    async fn take<C: GenericClient>(mut self, tx: &C) -> StoreResult<()> {
        if self.0.is_empty() {
            return Ok(());
        }
        self.0.sort_unstable();
        self.0.dedup();
        let st = tx.prepare_cached(Self::SQL).await.map_err(backend)?;
        tx.execute(&st, &[&self.0]).await.map_err(backend)?;
        Ok(())
    }

    /// Takes every lock no other transaction holds, without waiting: whether that was all of them. If
    /// not, the caller rolls back, which lets go of the ones taken. (Nothing waits, so the order in
    /// which they are taken cannot deadlock.)
    async fn try_take<C: GenericClient>(&self, tx: &C) -> StoreResult<bool> {
        const TRY_SQL: &str =
            "select coalesce(bool_and(pg_try_advisory_xact_lock(k)), true) from unnest($1::bigint[]) k";
        let st = tx.prepare_cached(TRY_SQL).await.map_err(backend)?;
        tx.query_one(&st, &[&self.0]).await.map_err(backend)?.try_get(0).map_err(backend)
    }
}

/// Where the duplicate rule counts a callback's number: its queue; an agent callback without a queue
/// is scoped to its campaign and agent.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum Scope {
    Queue(QueueId, String),
    Agent(CampaignId, Option<AgentId>, String),
}

impl Scope {
    pub(crate) fn of(cb: &Callback) -> Scope {
        match cb.queue_id {
            Some(queue) => Scope::Queue(queue, cb.phone.clone()),
            None => Scope::Agent(cb.campaign_id, cb.agent_id, cb.phone.clone()),
        }
    }
}

// ---- create: what the checks read --------------------------------------------------------------------

/// What the checks of a create (or batch) know, read before anything is written and kept up to date
/// as items are accepted.
#[derive(Default)]
struct Facts {
    /// Idempotency key → (fingerprint, the callback it names if it still exists).
    keys: HashMap<String, (String, Option<Callback>)>,
    /// Active callbacks per duplicate scope: how many, and the oldest id.
    duplicates: HashMap<Scope, (i64, Option<Uuid>)>,
    /// Active bookings per (queue, slot start ms).
    slots: HashMap<(QueueId, i64), i64>,
    /// Recreated originals: state and successor.
    originals: HashMap<Uuid, (CallbackState, Option<Uuid>)>,
    /// The records the callbacks refer to that exist (locked): a missing one refuses its item alone.
    references: Known,
}

/// The ids of the records a batch's callbacks refer to.
#[derive(Default)]
struct References {
    campaigns: Vec<i64>,
    lists: Vec<i64>,
    leads: Vec<i64>,
    queues: Vec<i64>,
    agents: Vec<i64>,
}

impl References {
    /// Each id once: a batch names the same campaign and queue thousands of times.
    fn dedup(&mut self) {
        for ids in [&mut self.campaigns, &mut self.lists, &mut self.leads, &mut self.queues, &mut self.agents] {
            ids.sort_unstable();
            ids.dedup();
        }
    }
}

/// The records a batch's callbacks refer to that exist.
#[derive(Default)]
struct Known {
    campaigns: HashSet<i64>,
    lists: HashSet<i64>,
    leads: HashSet<i64>,
    queues: HashSet<i64>,
    agents: HashSet<i64>,
}

impl Known {
    fn all_exist(&self, cb: &Callback) -> bool {
        let has = |ids: &HashSet<i64>, id: Option<i64>| id.is_none_or(|id| ids.contains(&id));
        has(&self.campaigns, Some(cb.campaign_id))
            && has(&self.lists, cb.list_id)
            && has(&self.leads, cb.lead_id)
            && has(&self.queues, cb.queue_id)
            && has(&self.agents, cb.agent_id)
            && has(&self.agents, cb.offered_to)
    }
}

/// What a batch (or group) asks the database before planning.
#[derive(Default)]
struct Questions {
    keys: Vec<String>,
    queue_scopes: (Vec<i64>, Vec<String>),
    agent_scopes: (Vec<i64>, Vec<Option<i64>>, Vec<String>),
    slots: (Vec<i64>, Vec<i64>),
    originals: Vec<Uuid>,
    /// The ids the callbacks refer to.
    references: References,
    /// A large batch: its statements are planned for their values ([`CUSTOM_PLANS`]).
    large: bool,
}

// The statements [`Questions::ask`] may run (all prepared before any runs: see there).

static ASK_KEYS: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "select {CALLBACK_COLUMNS}, k.key, k.fingerprint from idempotency_key k \
         left join callback c on c.callback_id = k.callback_id where k.key = any($1)"
    )
});
/// One count per scope asked. A lateral lookup per scope uses `callback_phone` whatever the plan, so
/// it is the form for the create worker's generic plans (prepared once, perhaps while the table was
/// small: an array condition then planned as a sequential scan, and stayed one as the table grew —
/// measured, an import slowed to 1,600 rows/s).
const ASK_QUEUE_SCOPES: &str = "select s.queue_id, s.phone, d.n, d.oldest from unnest($1::bigint[], $2::text[]) s(queue_id, phone) \
     cross join lateral (select count(*) n, (array_agg(c.callback_id order by c.callback_id))[1] oldest \
         from callback c where c.phone = s.phone and c.queue_id = s.queue_id and c.state <> 'COMPLETED') d";
/// The same for a large batch, planned for its own numbers ([`CUSTOM_PLANS`]): one array lookup on
/// `callback_phone` (a bitmap scan; measured, 5,000 new numbers: 2.5 ms against 17 ms for the
/// lateral form). Only scopes with active callbacks come back (the others count 0), and a number's
/// other queues come back too, with true counts.
const ASK_QUEUE_SCOPES_AT_ONCE: &str = "select queue_id, phone, count(*), \
     (array_agg(callback_id order by callback_id))[1] from callback \
     where phone = any($1) and queue_id is not null and state <> 'COMPLETED' group by 1, 2";
const ASK_AGENT_SCOPES: &str = "select s.campaign_id, s.agent_id, s.phone, d.n, d.oldest \
     from unnest($1::bigint[], $2::bigint[], $3::text[]) s(campaign_id, agent_id, phone) \
     cross join lateral (select count(*) n, (array_agg(c.callback_id order by c.callback_id))[1] oldest \
         from callback c where c.phone = s.phone and c.campaign_id = s.campaign_id \
         and c.agent_id is not distinct from s.agent_id and c.queue_id is null \
         and c.state <> 'COMPLETED') d";
const ASK_SLOTS: &str = "select s.queue_id, s.slot, d.n \
     from (select distinct * from unnest($1::bigint[], $2::bigint[])) s(queue_id, slot) \
     cross join lateral (select count(*) n from callback c where c.queue_id = s.queue_id \
         and c.slot_start = s.slot and c.state <> 'COMPLETED' and c.slot_start is not null) d";
const ASK_ORIGINALS: &str = "select callback_id, state, recreated_as from callback where callback_id = any($1) \
     order by callback_id for update";
/// The parents that exist, locked `for key share` until the transaction ends: what a foreign key's
/// trigger does for every inserted row, done once per distinct parent (the schema leaves these
/// references to the store: see `0001_initial.sql`). A concurrent delete of one of them waits for
/// this transaction and then finds its callbacks (see `config.rs`).
const ASK_REFERENCES: &str = "select \
     array(select campaign_id from campaign where campaign_id = any($1) order by 1 for key share), \
     array(select list_id from list where list_id = any($2) order by 1 for key share), \
     array(select lead_id from lead where lead_id = any($3) order by 1 for key share), \
     array(select queue_id from queue where queue_id = any($4) order by 1 for key share), \
     array(select agent_id from agent where agent_id = any($5))";

impl Questions {
    /// The questions of `batch`; `large` for a batch (not a group of the create worker) of at least
    /// [`COPY_FROM`] items, whose statements are planned for their values.
    fn of(batch: &[NewCallback], large: bool) -> (Questions, LockKeys) {
        let mut q = Questions { large, ..Questions::default() };
        let mut locks = LockKeys::new();
        let mut seen_scopes = std::collections::HashSet::new();
        for new in batch {
            let cb = &new.callback;
            let refs = &mut q.references;
            refs.campaigns.push(cb.campaign_id);
            refs.lists.extend(cb.list_id);
            refs.leads.extend(cb.lead_id);
            refs.queues.extend(cb.queue_id);
            refs.agents.extend(cb.agent_id.into_iter().chain(cb.offered_to));
            if let Some(key) = &new.idempotency {
                q.keys.push(key.key.clone());
                locks.idempotency(&key.key);
            }
            if let Some(original) = cb.recreated_from {
                q.originals.push(uuid(original));
            }
            if !cb.state.is_active() {
                continue;
            }
            if new.duplicate_limit.is_some() {
                let scope = Scope::of(cb);
                locks.duplicates(&scope);
                if seen_scopes.insert(scope.clone()) {
                    match scope {
                        Scope::Queue(queue, phone) => {
                            q.queue_scopes.0.push(queue);
                            q.queue_scopes.1.push(phone);
                        }
                        Scope::Agent(campaign, agent, phone) => {
                            q.agent_scopes.0.push(campaign);
                            q.agent_scopes.1.push(agent);
                            q.agent_scopes.2.push(phone);
                        }
                    }
                }
            }
            if let (Some(_), Some(queue), Some(slot)) = (new.slot_capacity, cb.queue_id, cb.slot_start) {
                let slot = ms(slot);
                locks.slot(queue, slot);
                q.slots.0.push(queue);
                q.slots.1.push(slot);
            }
        }
        q.originals.sort_unstable();
        q.originals.dedup();
        q.references.dedup();
        (q, locks)
    }

    /// Prepares (once per connection) every statement [`Questions::ask`] will run, so that none of
    /// them has to wait for a `PREPARE` and each is sent in the order it is first polled.
    async fn prepare<C: GenericClient>(&self, tx: &C) -> StoreResult<()> {
        let needed = [
            (!self.keys.is_empty(), ASK_KEYS.as_str()),
            (!self.queue_scopes.0.is_empty() && !self.large, ASK_QUEUE_SCOPES),
            (!self.queue_scopes.0.is_empty() && self.large, ASK_QUEUE_SCOPES_AT_ONCE),
            (!self.agent_scopes.0.is_empty(), ASK_AGENT_SCOPES),
            (!self.slots.0.is_empty(), ASK_SLOTS),
            (!self.originals.is_empty(), ASK_ORIGINALS),
            (true, ASK_REFERENCES),
            (true, LockKeys::SQL),
            (true, WRITE_CREATES),
        ];
        for (_, sql) in needed.into_iter().filter(|(needed, _)| *needed) {
            tx.prepare_cached(sql).await.map_err(backend)?;
        }
        Ok(())
    }

    /// Reads every answer in one pipelined round trip (the statements run one after another on the
    /// server; only the waiting is shared). Its statements must be [prepared](Questions::prepare).
    async fn ask<C: GenericClient>(&self, tx: &C) -> StoreResult<Facts> {
        let (keys, queue_scopes, agent_scopes, slots, originals, references) = tokio::try_join!(
            self.ask_keys(tx),
            self.ask_queue_scopes(tx),
            self.ask_agent_scopes(tx),
            self.ask_slots(tx),
            self.ask_originals(tx),
            self.ask_references(tx),
        )?;
        let mut duplicates = queue_scopes;
        duplicates.extend(agent_scopes);
        Ok(Facts { keys, duplicates, slots, originals, references })
    }

    /// What a batch copied in before its locks must ask again once it holds them: the keys and the
    /// counts. (Its parents are still locked from the first asking, and such a batch recreates
    /// nothing.)
    async fn ask_again<C: GenericClient>(&self, tx: &C) -> StoreResult<Facts> {
        let (keys, queue_scopes, agent_scopes, slots) = tokio::try_join!(
            self.ask_keys(tx),
            self.ask_queue_scopes(tx),
            self.ask_agent_scopes(tx),
            self.ask_slots(tx),
        )?;
        let mut duplicates = queue_scopes;
        duplicates.extend(agent_scopes);
        Ok(Facts { keys, duplicates, slots, ..Facts::default() })
    }

    async fn ask_keys<C: GenericClient>(&self, tx: &C) -> StoreResult<HashMap<String, (String, Option<Callback>)>> {
        if self.keys.is_empty() {
            return Ok(HashMap::new());
        }
        let rows = query(tx, &ASK_KEYS, &[&self.keys]).await?;
        rows.iter()
            .map(|r| {
                let first = match get::<Option<Uuid>>(r, 0)? {
                    Some(_) => Some(codec::callback(r)?),
                    None => None,
                };
                Ok((get(r, CALLBACK_COLUMNS_LEN)?, (get(r, CALLBACK_COLUMNS_LEN + 1)?, first)))
            })
            .collect()
    }

    // The counts are `lateral` subqueries so that even a generic plan (a prepared statement's plan
    // cannot know how many values an array holds) looks each one up by index instead of scanning.
    async fn ask_queue_scopes<C: GenericClient>(&self, tx: &C) -> StoreResult<HashMap<Scope, (i64, Option<Uuid>)>> {
        if self.queue_scopes.0.is_empty() {
            return Ok(HashMap::new());
        }
        let rows = if self.large {
            query(tx, ASK_QUEUE_SCOPES_AT_ONCE, &[&self.queue_scopes.1]).await?
        } else {
            query(tx, ASK_QUEUE_SCOPES, &[&self.queue_scopes.0, &self.queue_scopes.1]).await?
        };
        let mut counts: HashMap<Scope, (i64, Option<Uuid>)> = rows
            .iter()
            .map(|r| Ok((Scope::Queue(get(r, 0)?, get(r, 1)?), (get(r, 2)?, get(r, 3)?))))
            .collect::<StoreResult<_>>()?;
        // Every scope asked has its entry, so that the items of a batch count the ones before them.
        for (queue, phone) in self.queue_scopes.0.iter().zip(&self.queue_scopes.1) {
            counts.entry(Scope::Queue(*queue, phone.clone())).or_insert((0, None));
        }
        Ok(counts)
    }

    async fn ask_agent_scopes<C: GenericClient>(&self, tx: &C) -> StoreResult<HashMap<Scope, (i64, Option<Uuid>)>> {
        if self.agent_scopes.0.is_empty() {
            return Ok(HashMap::new());
        }
        let rows =
            query(tx, ASK_AGENT_SCOPES, &[&self.agent_scopes.0, &self.agent_scopes.1, &self.agent_scopes.2]).await?;
        rows.iter().map(|r| Ok((Scope::Agent(get(r, 0)?, get(r, 1)?, get(r, 2)?), (get(r, 3)?, get(r, 4)?)))).collect()
    }

    async fn ask_slots<C: GenericClient>(&self, tx: &C) -> StoreResult<HashMap<(QueueId, i64), i64>> {
        if self.slots.0.is_empty() {
            return Ok(HashMap::new());
        }
        // `slot_start is not null` lets the planner use the partial index `callback_active_slot`.
        let rows = query(tx, ASK_SLOTS, &[&self.slots.0, &self.slots.1]).await?;
        rows.iter().map(|r| Ok(((get(r, 0)?, get(r, 1)?), get(r, 2)?))).collect()
    }

    async fn ask_originals<C: GenericClient>(
        &self,
        tx: &C,
    ) -> StoreResult<HashMap<Uuid, (CallbackState, Option<Uuid>)>> {
        if self.originals.is_empty() {
            return Ok(HashMap::new());
        }
        // Locked: two creates recreating one original are ordered, and the second sees the first.
        let rows = query(tx, ASK_ORIGINALS, &[&self.originals]).await?;
        rows.iter().map(|r| Ok((get(r, 0)?, (get_named(r, 1, CallbackState::parse)?, get(r, 2)?)))).collect()
    }

    async fn ask_references<C: GenericClient>(&self, tx: &C) -> StoreResult<Known> {
        self.references.lock(tx).await
    }
}

impl References {
    fn of(cb: &Callback) -> References {
        References {
            campaigns: vec![cb.campaign_id],
            lists: cb.list_id.into_iter().collect(),
            leads: cb.lead_id.into_iter().collect(),
            queues: cb.queue_id.into_iter().collect(),
            agents: cb.agent_id.into_iter().chain(cb.offered_to).collect(),
        }
    }

    /// Which of these records exist, the campaigns, lists, leads and queues among them locked `for key
    /// share` (see [`ASK_REFERENCES`]). Must be [prepared](Questions::prepare) when pipelined.
    async fn lock<C: GenericClient>(&self, tx: &C) -> StoreResult<Known> {
        let refs = self;
        let rows =
            query(tx, ASK_REFERENCES, &[&refs.campaigns, &refs.lists, &refs.leads, &refs.queues, &refs.agents]).await?;
        let Some(r) = rows.first() else { return Err(StoreError::Backend("no answer about references".into())) };
        let set = |idx| get::<Vec<i64>>(r, idx).map(|ids| ids.into_iter().collect::<HashSet<i64>>());
        Ok(Known { campaigns: set(0)?, lists: set(1)?, leads: set(2)?, queues: set(3)?, agents: set(4)? })
    }
}

async fn query<C: GenericClient>(
    tx: &C,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> StoreResult<Vec<tokio_postgres::Row>> {
    let st = tx.prepare_cached(sql).await.map_err(backend)?;
    tx.query(&st, params).await.map_err(backend)
}

// ---- create: planning ----------------------------------------------------------------------------------

/// An audit event waiting to be written.
struct NewEvent {
    callback_id: Uuid,
    at: i64,
    actor: String,
    action: String,
    from: Option<CallbackState>,
    to: Option<CallbackState>,
    details: String,
}

/// What the accepted items of a create (or batch) write, in order.
#[derive(Default)]
struct Writes {
    callbacks: Vec<Callback>,
    events: Vec<NewEvent>,
    /// Idempotency keys: (key, fingerprint, callback, created at).
    keys: Vec<(String, String, Uuid, i64)>,
    /// Originals already stored that a new callback recreates: (original, successor, at).
    links: Vec<(Uuid, Uuid, i64)>,
}

impl Writes {
    fn is_empty(&self) -> bool {
        self.callbacks.is_empty()
    }
}

/// Checks one item against `facts` — in the SQLite store's order: a replayed request gets its first
/// answer even if the number has since become a duplicate or the slot filled — and, if accepted, adds
/// its writes and updates `facts` so the items after it see it.
fn plan(facts: &mut Facts, writes: &mut Writes, new: &NewCallback) -> StoreResult<CreateOutcome> {
    if let Some(key) = &new.idempotency
        && let Some((fingerprint, first)) = facts.keys.get(&key.key)
    {
        if *fingerprint != key.fingerprint {
            return Err(StoreError::IdempotencyMismatch);
        }
        if let Some(first) = first {
            return Ok(CreateOutcome::Replayed(first.clone()));
        }
        // The first callback was deleted or purged: the key no longer names anything and is taken over.
    }

    let cb = as_stored(new.callback.clone());
    if (cb.state == CallbackState::Completed) != cb.result.is_some() {
        return Err(StoreError::Conflict(
            "the callback breaks a rule of the schema (a result exactly when COMPLETED)".into(),
        ));
    }
    if let Some(original) = cb.recreated_from {
        check_recreatable(facts, original)?;
    }
    if cb.state.is_active() {
        if let Some(limit) = new.duplicate_limit
            && let Some((count, oldest)) = facts.duplicates.get(&Scope::of(&cb))
            && let Some(oldest) = oldest
            && *count >= i64::from(limit)
        {
            return Err(StoreError::Duplicate { existing_id: id(*oldest) });
        }
        if let (Some(capacity), Some(queue_id), Some(slot)) = (new.slot_capacity, cb.queue_id, cb.slot_start)
            && facts.slots.get(&(queue_id, ms(slot))).copied().unwrap_or(0) >= i64::from(capacity)
        {
            return Err(StoreError::SlotFull { slot_start: slot, capacity });
        }
    }
    if !facts.references.all_exist(&cb) {
        return Err(StoreError::not_found("a record this callback refers to"));
    }

    accept(facts, writes, &new.idempotency, &new.event_action, &new.event_details, &cb);
    Ok(CreateOutcome::Created(cb))
}

/// A callback may be recreated once, and only after it completed: the new one is its successor, and
/// a second successor (or one for a callback still in play) would be a second live callback for the
/// same request.
fn check_recreatable(facts: &Facts, original: CallbackId) -> StoreResult<()> {
    match facts.originals.get(&uuid(original)) {
        None => Err(StoreError::not_found(format!("callback {original}"))),
        Some((state, _)) if *state != CallbackState::Completed => Err(StoreError::Conflict(format!(
            "only a completed callback can be recreated; callback {original} is {state}"
        ))),
        Some((_, Some(successor))) => {
            Err(StoreError::Conflict(format!("callback {original} was already recreated as {}", id(*successor))))
        }
        Some((_, None)) => Ok(()),
    }
}

fn accept(
    facts: &mut Facts,
    writes: &mut Writes,
    idempotency: &Option<IdempotencyKey>,
    action: &str,
    details: &serde_json::Value,
    cb: &Callback,
) {
    let at = ms(cb.created_at);
    writes.events.push(NewEvent {
        callback_id: uuid(cb.id),
        at,
        actor: cb.created_by.clone(),
        action: action.to_string(),
        from: None,
        to: Some(cb.state),
        details: details.to_string(),
    });
    if let Some(key) = idempotency {
        writes.keys.push((key.key.clone(), key.fingerprint.clone(), uuid(cb.id), at));
        facts.keys.insert(key.key.clone(), (key.fingerprint.clone(), Some(cb.clone())));
    }
    if let Some(original) = cb.recreated_from {
        let original = uuid(original);
        // An original created earlier in this batch is linked before it is written.
        match writes.callbacks.iter_mut().find(|c| uuid(c.id) == original) {
            Some(pending) => {
                pending.recreated_as = Some(cb.id);
                pending.updated_at = cb.created_at;
            }
            None => writes.links.push((original, uuid(cb.id), at)),
        }
        let completed = Some(CallbackState::Completed);
        writes.events.push(NewEvent {
            callback_id: original,
            at,
            actor: cb.created_by.clone(),
            action: "recreated".into(),
            from: completed,
            to: completed,
            details: serde_json::json!({ "recreated_as": cb.id }).to_string(),
        });
        if let Some(entry) = facts.originals.get_mut(&original) {
            entry.1 = Some(uuid(cb.id));
        }
    }
    facts.originals.insert(uuid(cb.id), (cb.state, cb.recreated_as.map(uuid)));
    if cb.state.is_active() {
        if let Some((count, oldest)) = facts.duplicates.get_mut(&Scope::of(cb)) {
            *count += 1;
            *oldest = Some(oldest.map_or(uuid(cb.id), |o| o.min(uuid(cb.id))));
        }
        if let (Some(queue_id), Some(slot)) = (cb.queue_id, cb.slot_start)
            && let Some(booked) = facts.slots.get_mut(&(queue_id, ms(slot)))
        {
            *booked += 1;
        }
    }
    writes.callbacks.push(cb.clone());
}

// ---- create: writing -----------------------------------------------------------------------------------

/// The columns a create writes, in the order of [`CallbackArrays::params`] and [`COPY_TYPES`].
macro_rules! create_columns {
    () => {
        "callback_id, type, origin, phone, phone_raw, campaign_id, list_id, lead_id, queue_id, agent_id, \
         wrap_code, desired_time, timezone, lead_timezone, earliest_time, window_secs, overdue_at, slot_start, \
         state, result, attempts, priority, notes, data, created_by, created_at, updated_at, queued_at, \
         recreated_from, recreated_as, expires_at, offered_to, lease_id, hold_until"
    };
}

/// Writes the accepted callbacks, their events, idempotency keys and originals' links: one statement.
const WRITE_CREATES: &str = concat!(
    "with cb as (insert into callback (",
    create_columns!(),
    ") select * from unnest(",
    "$1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[], $7::bigint[],
        $8::bigint[], $9::bigint[], $10::bigint[], $11::text[], $12::bigint[], $13::text[], $14::text[],
        $15::bigint[], $16::bigint[], $17::bigint[], $18::bigint[], $19::text[], $20::text[], $21::bigint[],
        $22::bigint[], $23::text[], $24::text[], $25::text[], $26::bigint[], $27::bigint[], $28::bigint[],
        $29::uuid[], $30::uuid[], $31::bigint[], $32::bigint[], $33::text[], $34::bigint[])
), ev as (
    insert into callback_event (callback_id, at, actor, action, from_state, to_state, details)
    select * from unnest($35::uuid[], $36::bigint[], $37::text[], $38::text[], $39::text[], $40::text[],
        $41::text[])
), ik as (
    insert into idempotency_key (key, fingerprint, callback_id, created_at)
    select * from unnest($42::text[], $43::text[], $44::uuid[], $45::bigint[])
    on conflict (key) do update set fingerprint = excluded.fingerprint, callback_id = excluded.callback_id,
        created_at = excluded.created_at
), link as (
    update callback o set recreated_as = l.successor, updated_at = l.at
    from unnest($46::uuid[], $47::uuid[], $48::bigint[]) l(original, successor, at)
    where o.callback_id = l.original
)
select 1"
);

/// The columns of many callbacks as arrays, for `unnest`.
#[derive(Default)]
pub(crate) struct CallbackArrays<'a> {
    id: Vec<Uuid>,
    kind: Vec<&'static str>,
    origin: Vec<&'static str>,
    phone: Vec<&'a str>,
    phone_raw: Vec<&'a str>,
    campaign_id: Vec<i64>,
    list_id: Vec<Option<i64>>,
    lead_id: Vec<Option<i64>>,
    queue_id: Vec<Option<i64>>,
    agent_id: Vec<Option<i64>>,
    wrap_code: Vec<Option<&'a str>>,
    desired_time: Vec<i64>,
    timezone: Vec<Option<&'a str>>,
    lead_timezone: Vec<Option<&'a str>>,
    earliest_time: Vec<Option<i64>>,
    window_secs: Vec<i64>,
    overdue_at: Vec<Option<i64>>,
    slot_start: Vec<Option<i64>>,
    state: Vec<&'static str>,
    result: Vec<Option<&'static str>>,
    attempts: Vec<i64>,
    priority: Vec<i64>,
    notes: Vec<Option<&'a str>>,
    data: Vec<String>,
    created_by: Vec<&'a str>,
    created_at: Vec<i64>,
    updated_at: Vec<i64>,
    queued_at: Vec<Option<i64>>,
    recreated_from: Vec<Option<Uuid>>,
    recreated_as: Vec<Option<Uuid>>,
    expires_at: Vec<i64>,
    offered_to: Vec<Option<i64>>,
    lease_id: Vec<Option<&'a str>>,
    hold_until: Vec<Option<i64>>,
}

impl<'a> CallbackArrays<'a> {
    pub(crate) fn of(callbacks: &'a [Callback]) -> CallbackArrays<'a> {
        let mut a = CallbackArrays::default();
        for c in callbacks {
            a.id.push(uuid(c.id));
            a.kind.push(c.kind.as_str());
            a.origin.push(c.origin.as_str());
            a.phone.push(&c.phone);
            a.phone_raw.push(&c.phone_raw);
            a.campaign_id.push(c.campaign_id);
            a.list_id.push(c.list_id);
            a.lead_id.push(c.lead_id);
            a.queue_id.push(c.queue_id);
            a.agent_id.push(c.agent_id);
            a.wrap_code.push(c.wrap_code.as_deref());
            a.desired_time.push(ms(c.desired_time));
            a.timezone.push(c.timezone.as_deref());
            a.lead_timezone.push(c.lead_timezone.as_deref());
            a.earliest_time.push(opt_ms(c.earliest_time));
            a.window_secs.push(i64::from(c.window_secs));
            a.overdue_at.push(overdue_at(c));
            a.slot_start.push(opt_ms(c.slot_start));
            a.state.push(c.state.as_str());
            a.result.push(c.result.map(CallbackResult::as_str));
            a.attempts.push(i64::from(c.attempts));
            a.priority.push(i64::from(c.priority));
            a.notes.push(c.notes.as_deref());
            a.data.push(to_json(&c.data));
            a.created_by.push(&c.created_by);
            a.created_at.push(ms(c.created_at));
            a.updated_at.push(ms(c.updated_at));
            a.queued_at.push(opt_ms(c.queued_at));
            a.recreated_from.push(c.recreated_from.map(uuid));
            a.recreated_as.push(c.recreated_as.map(uuid));
            a.expires_at.push(ms(c.expires_at));
            a.offered_to.push(c.offered_to);
            a.lease_id.push(c.lease_id.as_deref());
            a.hold_until.push(opt_ms(c.hold_until));
        }
        a
    }

    /// The 34 arrays in the column order of `insert into callback` in [`WRITE_CREATES`].
    pub(crate) fn params(&self) -> [&(dyn ToSql + Sync); 34] {
        [
            &self.id,
            &self.kind,
            &self.origin,
            &self.phone,
            &self.phone_raw,
            &self.campaign_id,
            &self.list_id,
            &self.lead_id,
            &self.queue_id,
            &self.agent_id,
            &self.wrap_code,
            &self.desired_time,
            &self.timezone,
            &self.lead_timezone,
            &self.earliest_time,
            &self.window_secs,
            &self.overdue_at,
            &self.slot_start,
            &self.state,
            &self.result,
            &self.attempts,
            &self.priority,
            &self.notes,
            &self.data,
            &self.created_by,
            &self.created_at,
            &self.updated_at,
            &self.queued_at,
            &self.recreated_from,
            &self.recreated_as,
            &self.expires_at,
            &self.offered_to,
            &self.lease_id,
            &self.hold_until,
        ]
    }

    /// Row `i` of the arrays, in the same column order: one row of a binary `COPY`.
    pub(crate) fn row(&self, i: usize) -> [&(dyn ToSql + Sync); 34] {
        [
            &self.id[i],
            &self.kind[i],
            &self.origin[i],
            &self.phone[i],
            &self.phone_raw[i],
            &self.campaign_id[i],
            &self.list_id[i],
            &self.lead_id[i],
            &self.queue_id[i],
            &self.agent_id[i],
            &self.wrap_code[i],
            &self.desired_time[i],
            &self.timezone[i],
            &self.lead_timezone[i],
            &self.earliest_time[i],
            &self.window_secs[i],
            &self.overdue_at[i],
            &self.slot_start[i],
            &self.state[i],
            &self.result[i],
            &self.attempts[i],
            &self.priority[i],
            &self.notes[i],
            &self.data[i],
            &self.created_by[i],
            &self.created_at[i],
            &self.updated_at[i],
            &self.queued_at[i],
            &self.recreated_from[i],
            &self.recreated_as[i],
            &self.expires_at[i],
            &self.offered_to[i],
            &self.lease_id[i],
            &self.hold_until[i],
        ]
    }
}

async fn write_creates<C: GenericClient>(client: &C, writes: &Writes) -> StoreResult<()> {
    write_created(client, &writes.callbacks, &writes.events, writes).await
}

/// [`WRITE_CREATES`] for `callbacks` and `events`, with the idempotency keys and links of `writes`.
async fn write_created<C: GenericClient>(
    client: &C,
    callbacks: &[Callback],
    ev: &[NewEvent],
    writes: &Writes,
) -> StoreResult<()> {
    let cbs = CallbackArrays::of(callbacks);
    let ev_id: Vec<Uuid> = ev.iter().map(|e| e.callback_id).collect();
    let ev_at: Vec<i64> = ev.iter().map(|e| e.at).collect();
    let ev_actor: Vec<&str> = ev.iter().map(|e| e.actor.as_str()).collect();
    let ev_action: Vec<&str> = ev.iter().map(|e| e.action.as_str()).collect();
    let ev_from: Vec<Option<&str>> = ev.iter().map(|e| e.from.map(CallbackState::as_str)).collect();
    let ev_to: Vec<Option<&str>> = ev.iter().map(|e| e.to.map(CallbackState::as_str)).collect();
    let ev_details: Vec<&str> = ev.iter().map(|e| e.details.as_str()).collect();
    let k = &writes.keys;
    let k_key: Vec<&str> = k.iter().map(|k| k.0.as_str()).collect();
    let k_fingerprint: Vec<&str> = k.iter().map(|k| k.1.as_str()).collect();
    let k_id: Vec<Uuid> = k.iter().map(|k| k.2).collect();
    let k_at: Vec<i64> = k.iter().map(|k| k.3).collect();
    let l = &writes.links;
    let l_original: Vec<Uuid> = l.iter().map(|l| l.0).collect();
    let l_successor: Vec<Uuid> = l.iter().map(|l| l.1).collect();
    let l_at: Vec<i64> = l.iter().map(|l| l.2).collect();

    let mut params: Vec<&(dyn ToSql + Sync)> = cbs.params().to_vec();
    params.extend_from_slice(&[
        &ev_id,
        &ev_at,
        &ev_actor,
        &ev_action,
        &ev_from,
        &ev_to,
        &ev_details,
        &k_key,
        &k_fingerprint,
        &k_id,
        &k_at,
        &l_original,
        &l_successor,
        &l_at,
    ]);
    let st = client.prepare_cached(WRITE_CREATES).await.map_err(backend)?;
    client.execute(&st, &params).await.map_err(|e| constraint(e, Op::Write("callback")))?;
    Ok(())
}

/// Batches of at least this many callbacks are written with binary `COPY`, which skips building and
/// unpacking 41 arrays (measured, 200,000 rows in 5,000-row batches: about 2.5 µs less per row of
/// the database's time); smaller ones keep the one pipelined statement, which needs no round trip of
/// its own.
const COPY_FROM: usize = 64;

/// The types of [`create_columns!`], for binary `COPY`, four to a line as the columns go.
#[rustfmt::skip]
const COPY_TYPES: [Type; 34] = {
    use Type as T;
    [
        T::UUID, T::TEXT, T::TEXT, T::TEXT, // callback_id, type, origin, phone
        T::TEXT, T::INT8, T::INT8, T::INT8, // phone_raw, campaign_id, list_id, lead_id
        T::INT8, T::INT8, T::TEXT, T::INT8, // queue_id, agent_id, wrap_code, desired_time
        T::TEXT, T::TEXT, T::INT8, T::INT8, // timezone, lead_timezone, earliest_time, window_secs
        T::INT8, T::INT8, T::TEXT, T::TEXT, // overdue_at, slot_start, state, result
        T::INT8, T::INT8, T::TEXT, T::TEXT, // attempts, priority, notes, data
        T::TEXT, T::INT8, T::INT8, T::INT8, // created_by, created_at, updated_at, queued_at
        T::UUID, T::UUID, T::INT8, T::INT8, // recreated_from, recreated_as, expires_at, offered_to
        T::TEXT, T::INT8,                   // lease_id, hold_until
    ]
};
const COPY_CALLBACKS: &str = concat!("copy callback (", create_columns!(), ") from stdin (format binary)");
const COPY_EVENTS: &str =
    "copy callback_event (callback_id, at, actor, action, from_state, to_state, details) from stdin (format binary)";
const COPY_EVENT_TYPES: [Type; 7] =
    [Type::UUID, Type::INT8, Type::TEXT, Type::TEXT, Type::TEXT, Type::TEXT, Type::TEXT];

/// Writes a large batch: callbacks and events by binary `COPY`, then the keys and links (few) by
/// [`WRITE_CREATES`]. Inside the caller's transaction.
async fn copy_creates(tx: &deadpool_postgres::Transaction<'_>, writes: &Writes) -> StoreResult<()> {
    copy_rows(tx, writes).await?;
    write_keys_and_links(tx, writes).await
}

/// The idempotency keys and originals' links of `writes` (callbacks and events written otherwise).
async fn write_keys_and_links<C: GenericClient>(client: &C, writes: &Writes) -> StoreResult<()> {
    if writes.keys.is_empty() && writes.links.is_empty() {
        return Ok(());
    }
    write_created(client, &[], &[], writes).await
}

/// The callbacks and events of `writes` by binary `COPY`.
async fn copy_rows(tx: &deadpool_postgres::Transaction<'_>, writes: &Writes) -> StoreResult<()> {
    let failed = |e| constraint(e, Op::Write("callback"));
    let sink = tx.copy_in(COPY_CALLBACKS).await.map_err(failed)?;
    let mut rows = std::pin::pin!(BinaryCopyInWriter::new(sink, &COPY_TYPES));
    let callbacks = CallbackArrays::of(&writes.callbacks);
    for i in 0..writes.callbacks.len() {
        rows.as_mut().write(&callbacks.row(i)).await.map_err(failed)?;
    }
    rows.finish().await.map_err(failed)?;
    let sink = tx.copy_in(COPY_EVENTS).await.map_err(failed)?;
    let mut rows = std::pin::pin!(BinaryCopyInWriter::new(sink, &COPY_EVENT_TYPES));
    for e in &writes.events {
        let row: [&(dyn ToSql + Sync); 7] = [
            &e.callback_id,
            &e.at,
            &e.actor,
            &e.action,
            &e.from.map(CallbackState::as_str),
            &e.to.map(CallbackState::as_str),
            &e.details,
        ];
        rows.as_mut().write(&row).await.map_err(failed)?;
    }
    rows.finish().await.map_err(failed)?;
    Ok(())
}

// ---- create --------------------------------------------------------------------------------------------

/// A single create: queued for this process's create workers, which combine the creates waiting at
/// that moment into one transaction (see [`CreateQueue`]).
pub async fn create_callback(store: &PgStore, new: NewCallback) -> StoreResult<CreateOutcome> {
    let (reply, answer) = tokio::sync::oneshot::channel();
    store
        .creates
        .sender(store)
        .send((new, reply))
        .map_err(|_| StoreError::Backend("the create workers have stopped".into()))?;
    answer.await.map_err(|_| StoreError::Backend("the create was dropped by its worker".into()))?
}

/// Group commit for single creates, as the SQLite store's writer does it: a create waits in a queue,
/// and a worker takes every create waiting (up to [`GROUP_MAX`]) into one transaction — one set of
/// locks, one read of what the checks need, one write, one commit. Under load this turns many
/// transactions that would queue one behind another on the same slot's lock, each paying its own
/// commit, into a few; a lone create goes at once. Items are checked in queue order, each seeing the
/// ones before it, so the outcome is that of running them one by one.
///
/// The workers start with the first create and stop when the store is dropped (the queue closes).
#[derive(Default)]
pub(crate) struct CreateQueue {
    sender: std::sync::OnceLock<tokio::sync::mpsc::UnboundedSender<Waiting>>,
}

/// A create waiting for its worker, and where its answer goes.
type Waiting = (NewCallback, tokio::sync::oneshot::Sender<StoreResult<CreateOutcome>>);

/// Creates combined into one transaction at most (bounded so a group's locks and arrays stay small).
const GROUP_MAX: usize = 256;
/// Workers per process. One: creates that arrive while a group runs wait for the next, larger group;
/// a second worker would mostly wait for the first one's locks (creates of a burst tend to share a
/// slot) and make smaller groups, each paying the per-transaction costs (measured: one worker ~15%
/// faster than two, ~20% faster than three, 64 concurrent creates into one queue).
const WORKERS: usize = 1;

impl CreateQueue {
    fn sender(&self, store: &PgStore) -> &tokio::sync::mpsc::UnboundedSender<Waiting> {
        self.sender.get_or_init(|| {
            let (sender, receiver) = tokio::sync::mpsc::unbounded_channel();
            let receiver = std::sync::Arc::new(tokio::sync::Mutex::new(receiver));
            for _ in 0..WORKERS {
                tokio::spawn(create_worker(receiver.clone(), store.pool.clone(), store.commit_signal.clone()));
            }
            sender
        })
    }
}

async fn create_worker(
    queue: std::sync::Arc<tokio::sync::Mutex<tokio::sync::mpsc::UnboundedReceiver<Waiting>>>,
    pool: deadpool_postgres::Pool,
    signal: std::sync::Arc<tokio::sync::watch::Sender<u64>>,
) {
    loop {
        let group = {
            let mut queue = queue.lock().await;
            let Some(first) = queue.recv().await else { return };
            let mut group = vec![first];
            while group.len() < GROUP_MAX
                && let Ok(next) = queue.try_recv()
            {
                group.push(next);
            }
            group
        };
        let (news, replies): (Vec<_>, Vec<_>) = group.into_iter().unzip();
        let (results, wrote) = match pool.get().await {
            Ok(mut client) => run_group(&mut client, news).await,
            Err(e) => {
                let message = format!("no database connection: {e}");
                (news.iter().map(|_| Err(StoreError::Backend(message.clone()))).collect(), false)
            }
        };
        // The signal first: a caller that sees its answer may rely on the signal having moved. (The
        // engine may read the group before it is on disk: whatever it then writes commits
        // synchronously, and the WAL is flushed in order, so its durable effects carry this group.)
        if wrote {
            signal.send_modify(|n| *n = n.wrapping_add(1));
        }
        // The answers wait for the disk; the worker goes on with the next group meanwhile.
        let pool = pool.clone();
        tokio::spawn(async move {
            let flushed = flush_barrier(&pool).await;
            for (reply, result) in replies.into_iter().zip(results) {
                let answer = match &flushed {
                    Ok(()) => result,
                    Err(e) => Err(StoreError::Backend(format!("the create may not have been saved: {e}"))),
                };
                let _ = reply.send(answer);
            }
        });
    }
}

/// Returns once everything committed before it is on disk. The statement writes a WAL record in a
/// transaction of its own (a transactional logical message: no table is touched, any role may emit
/// it), so that transaction commits synchronously — `synchronous_commit` is on in the session — and
/// its commit returns only once the WAL is flushed past it, and so past every commit before it.
/// Concurrent barriers share the server's flushes.
///
/// A transaction that only takes a transaction id is not enough: PostgreSQL commits a transaction
/// that wrote no WAL of its own asynchronously. An earlier barrier did that. Checked by reading
/// `pg_current_wal_flush_lsn()` right after each barrier: with that barrier it was behind the
/// preceding asynchronous commit 300 times out of 300, with this one 0 times out of 300.
async fn flush_barrier(pool: &deadpool_postgres::Pool) -> StoreResult<()> {
    let client = pool.get().await.map_err(|e| StoreError::Backend(format!("no database connection: {e}")))?;
    client.batch_execute("select pg_logical_emit_message(true, 'rebound', 'flush')").await.map_err(backend)
}

/// Runs a group: each create's outcome, and whether something may have been written.
async fn run_group(
    client: &mut deadpool_postgres::Client,
    news: Vec<NewCallback>,
) -> (Vec<StoreResult<CreateOutcome>>, bool) {
    if news.len() == 1 {
        return match create_pipelined(client, news).await {
            Ok(results) => (results, true),
            Err(e) => (vec![Err(e)], false),
        };
    }
    // Kept to retry one by one if the group fails as a whole (e.g. one of them breaks a rule of the
    // schema the checks do not cover): one create's trouble is not the others'.
    let retry = news.clone();
    if let Ok(results) = create_pipelined(client, news).await {
        return (results, true);
    }
    let mut results = Vec::with_capacity(retry.len());
    for new in retry {
        let result = create_pipelined(client, vec![new]).await.and_then(|mut r| {
            r.pop().unwrap_or_else(|| Err(StoreError::Backend("the create answered nothing".into())))
        });
        results.push(result);
    }
    (results, true)
}

/// Many creates, each with its own checks and outcome, in one transaction (one commit). Refused
/// items write nothing: a batch checks the records its callbacks refer to up front, so a missing
/// queue refuses its item instead of failing the batch's one write.
pub async fn create_callbacks(
    store: &PgStore,
    batch: Vec<NewCallback>,
) -> StoreResult<Vec<StoreResult<CreateOutcome>>> {
    if batch.is_empty() {
        return Ok(Vec::new());
    }
    let mut client = store.client().await?;
    let results = create_in_transaction(&mut client, batch).await?;
    store.committed();
    Ok(results)
}

async fn create_in_transaction(
    client: &mut deadpool_postgres::Client,
    batch: Vec<NewCallback>,
) -> StoreResult<Vec<StoreResult<CreateOutcome>>> {
    if batch.len() >= COPY_FROM && batch.iter().all(|new| new.callback.recreated_from.is_none()) {
        if let Some(results) = create_if_unlocked(client, &batch).await? {
            return Ok(results);
        }
        if let Some(results) = create_optimistically(client, &batch).await? {
            return Ok(results);
        }
    }
    create_locked(client, &batch).await
}

/// A batch with the locks taken first: nothing another transaction does can change what its checks
/// read. The way every batch can go.
async fn create_locked(
    client: &mut deadpool_postgres::Client,
    batch: &[NewCallback],
) -> StoreResult<Vec<StoreResult<CreateOutcome>>> {
    let (questions, locks) = Questions::of(batch, batch.len() >= COPY_FROM);
    let tx = client.transaction().await.map_err(backend)?;
    questions.prepare(&tx).await?;
    let generic = async { tx.batch_execute(plans_for(&questions)).await.map_err(backend) };
    // One round trip: the server runs the lock statement first, and starts the reads (their
    // snapshot) only once it holds the locks — they were sent after it, on the same connection.
    let ((), (), facts) = tokio::try_join!(generic, locks.take(&tx), questions.ask(&tx))?;
    plan_and_commit(tx, batch, facts).await
}

/// [`create_locked`] if no other transaction holds any of the batch's locks; `None` (the
/// transaction rolled back, letting go of the locks it took) if one does. A large batch tries this
/// first: an import running alone — the usual case — then asks its questions once, where the way
/// that writes before locking ([`create_optimistically`]) asks them twice (measured: the second
/// asking is about 2.8 µs a row, a ninth of the database's work for an imported row).
async fn create_if_unlocked(
    client: &mut deadpool_postgres::Client,
    batch: &[NewCallback],
) -> StoreResult<Option<Vec<StoreResult<CreateOutcome>>>> {
    let (questions, locks) = Questions::of(batch, true);
    let tx = client.transaction().await.map_err(backend)?;
    questions.prepare(&tx).await?;
    let generic = async { tx.batch_execute(plans_for(&questions)).await.map_err(backend) };
    let ((), all_taken) = tokio::try_join!(generic, locks.try_take(&tx))?;
    if !all_taken {
        // Dropping the transaction rolls it back.
        return Ok(None);
    }
    let facts = questions.ask(&tx).await?;
    plan_and_commit(tx, batch, facts).await.map(Some)
}

/// Plans every item of `batch` on what its checks read, writes the accepted ones and commits.
async fn plan_and_commit(
    tx: deadpool_postgres::Transaction<'_>,
    batch: &[NewCallback],
    mut facts: Facts,
) -> StoreResult<Vec<StoreResult<CreateOutcome>>> {
    let mut writes = Writes::default();
    let results: Vec<_> = batch.iter().map(|new| plan(&mut facts, &mut writes, new)).collect();
    if writes.callbacks.len() >= COPY_FROM {
        copy_creates(&tx, &writes).await?;
    } else if !writes.is_empty() {
        write_creates(&tx, &writes).await?;
    }
    tx.commit().await.map_err(backend)?;
    Ok(results)
}

/// A large batch written before its locks are taken, so that two imports run side by side instead of
/// one after the other. (A 5,000-row import names numbers in every one of the 256 duplicate stripes,
/// so with the locks first a second import waits for the whole of the first — its `COPY` and its
/// commit — and the database works on one import at a time.)
///
/// The checks read without locks, the items are planned and the rows copied in; then the locks are
/// taken and the keys and counts asked again — a statement run after the locks are held sees every
/// transaction that held them before, and this one's own rows. If every rule still holds with this
/// batch's rows counted (no number over its duplicate limit, no slot over its capacity) and no
/// idempotency key changed meanwhile, the keys are written and the batch commits: what it accepted is
/// exactly what the locked way would have accepted at this instant, and its refusals were true when
/// they were read. Otherwise the transaction is rolled back (`None`) and the batch goes the locked
/// way. Batches that recreate callbacks always go the locked way (they lock originals' rows).
async fn create_optimistically(
    client: &mut deadpool_postgres::Client,
    batch: &[NewCallback],
) -> StoreResult<Option<Vec<StoreResult<CreateOutcome>>>> {
    let (questions, locks) = Questions::of(batch, true);
    let tx = client.transaction().await.map_err(backend)?;
    questions.prepare(&tx).await?;
    let generic = async { tx.batch_execute(plans_for(&questions)).await.map_err(backend) };
    let ((), mut facts) = tokio::try_join!(generic, questions.ask(&tx))?;
    let keys_read = KeysRead::of(&facts);
    let mut writes = Writes::default();
    let results: Vec<_> = batch.iter().map(|new| plan(&mut facts, &mut writes, new)).collect();
    let rules = Rules::of(batch, &results);
    copy_rows(&tx, &writes).await?;
    let ((), now) = tokio::try_join!(locks.take(&tx), questions.ask_again(&tx))?;
    if !rules.hold(&now) || KeysRead::of(&now) != keys_read {
        // Dropping the transaction rolls it back.
        return Ok(None);
    }
    write_keys_and_links(&tx, &writes).await?;
    tx.commit().await.map_err(backend)?;
    Ok(Some(results))
}

/// The idempotency keys a batch's checks read: key → fingerprint and the callback it named.
#[derive(PartialEq)]
struct KeysRead(HashMap<String, (String, Option<CallbackId>)>);

impl KeysRead {
    fn of(facts: &Facts) -> KeysRead {
        KeysRead(facts.keys.iter().map(|(k, (f, cb))| (k.clone(), (f.clone(), cb.as_ref().map(|c| c.id)))).collect())
    }
}

/// The duplicate limits and slot capacities a batch's accepted callbacks must keep.
struct Rules {
    duplicates: HashMap<Scope, u32>,
    slots: HashMap<(QueueId, i64), u32>,
}

impl Rules {
    fn of(batch: &[NewCallback], results: &[StoreResult<CreateOutcome>]) -> Rules {
        let mut rules = Rules { duplicates: HashMap::new(), slots: HashMap::new() };
        for (new, result) in batch.iter().zip(results) {
            let cb = &new.callback;
            if !matches!(result, Ok(CreateOutcome::Created(_))) || !cb.state.is_active() {
                continue;
            }
            if let Some(limit) = new.duplicate_limit {
                let entry = rules.duplicates.entry(Scope::of(cb)).or_insert(limit);
                *entry = (*entry).min(limit);
            }
            if let (Some(capacity), Some(queue), Some(slot)) = (new.slot_capacity, cb.queue_id, cb.slot_start) {
                let entry = rules.slots.entry((queue, ms(slot))).or_insert(capacity);
                *entry = (*entry).min(capacity);
            }
        }
        rules
    }

    /// Whether the counts read now (this batch's rows included) keep every rule.
    fn hold(&self, now: &Facts) -> bool {
        let duplicates_hold = self
            .duplicates
            .iter()
            .all(|(scope, limit)| now.duplicates.get(scope).is_some_and(|(count, _)| *count <= i64::from(*limit)));
        let slots_hold =
            self.slots.iter().all(|(slot, capacity)| now.slots.get(slot).is_some_and(|n| *n <= i64::from(*capacity)));
        duplicates_hold && slots_hold
    }
}

/// Makes a create transaction's statements run with the plan prepared once. They bind arrays; told
/// their lengths, the planner would make a custom plan at every execution (planning costing more than
/// running them).
const GENERIC_PLANS: &str = "set local plan_cache_mode = force_generic_plan";
/// A large batch's statements are planned for their values instead: planning is nothing next to
/// running them for thousands of rows, and the plan then fits the table as it is now.
///
/// And without sequential scans of `callback`. Every question a batch asks is a lookup by key or by
/// number, which an index answers in time proportional to the batch. But while `callback` has no
/// statistics yet — a fresh database being filled, autovacuum's analyze not yet run — the planner
/// takes 5,000 numbers to match every row and scans the whole table for the duplicate counts, twice
/// per batch (the ask and the re-check): measured, 40–68 ms per 5,000-row batch and growing with
/// the table, about two thirds of an import's database time, against a few ms by the index.
const CUSTOM_PLANS: &str = "set local plan_cache_mode = force_custom_plan; set local enable_seqscan = off";

fn plans_for(questions: &Questions) -> &'static str {
    if questions.large { CUSTOM_PLANS } else { GENERIC_PLANS }
}

/// Opens a group's transaction: generic plans, and **early lock release**. Consecutive groups nearly
/// always need some of the same locks (one slot, a number's stripe), so with an ordinary commit each
/// group would wait for the previous one's disk flush (about 3 ms here) before it could even start:
/// one flush per group, one group at a time. With `synchronous_commit = off` the commit releases the
/// locks as soon as its record is in the WAL, and the worker's [`flush_barrier`] waits for the flush
/// before anyone is answered. Nothing acknowledged can be lost: the WAL is flushed in order, so a
/// group is on disk before any later group's answers go out — refusals included, which may rest on
/// an earlier group's rows. Until then other sessions may see the group's rows (a list, the engine);
/// what they write commits synchronously and so carries the group to disk with it.
const BEGIN_GROUP: &str = "begin; set local plan_cache_mode = force_generic_plan; set local synchronous_commit = off";

/// A group of the create worker, its transaction pipelined: `begin`, the locks and the reads in one
/// round trip, the write and `commit` in another. Only for the worker, whose future is never dropped
/// half-way (a dropped caller's future would leave the transaction open on a pooled connection).
async fn create_pipelined(
    client: &deadpool_postgres::Client,
    batch: Vec<NewCallback>,
) -> StoreResult<Vec<StoreResult<CreateOutcome>>> {
    let (questions, locks) = Questions::of(&batch, false);
    // Every statement prepared first: a statement waiting for its `PREPARE` would be sent after the
    // ones polled after it.
    questions.prepare(client).await?;
    let begin = async { client.batch_execute(BEGIN_GROUP).await.map_err(backend) };
    let opened = tokio::try_join!(begin, locks.take(client), questions.ask(client));
    let mut facts = match opened {
        Ok(((), (), facts)) => facts,
        Err(e) => {
            let _ = client.batch_execute("rollback").await;
            return Err(e);
        }
    };
    let mut writes = Writes::default();
    let results: Vec<_> = batch.iter().map(|new| plan(&mut facts, &mut writes, new)).collect();
    finish(client, &writes).await?;
    Ok(results)
}

/// Writes and commits in one round trip. If the write fails, the `commit` that follows it ends the
/// failed transaction (PostgreSQL answers it with a rollback): the connection is clean either way.
async fn finish(client: &deadpool_postgres::Client, writes: &Writes) -> StoreResult<()> {
    let write = async { if writes.is_empty() { Ok(()) } else { write_creates(client, writes).await } };
    let commit = async { client.batch_execute("commit").await.map_err(backend) };
    let (written, committed) = tokio::join!(write, commit);
    written.and(committed)
}

// ---- transitions ---------------------------------------------------------------------------------------

/// Reads a callback and locks its row until the transaction ends; with it, whether `agent` (the
/// agent whose presence a step changes, if any) exists.
pub(crate) async fn get_for_update<C: GenericClient>(
    tx: &C,
    id: CallbackId,
    agent: Option<AgentId>,
) -> StoreResult<Option<(Callback, bool)>> {
    let rows = query(
        tx,
        &format!(
            "select {CALLBACK_COLUMNS}, $2::bigint is null or exists(select 1 from agent where agent_id = $2) \
             from callback c where c.callback_id = $1 for update of c"
        ),
        &[&uuid(id), &agent],
    )
    .await?;
    rows.first().map(|r| Ok((codec::callback(r)?, get(r, CALLBACK_COLUMNS_LEN)?))).transpose()
}

/// Writes a step: the callback's lifecycle columns, its event, and an agent's presence (`ready_since`
/// kept only when ready), in one statement. A reference to a missing agent fails it alone.
const WRITE_STEP: &str = "with u as (
    update callback set state = $2, result = $3, desired_time = $4, timezone = $5, earliest_time = $6,
        overdue_at = $7, slot_start = $8, expires_at = $9, agent_id = $10, attempts = $11, updated_at = $12,
        queued_at = $13, wrap_code = $14, notes = $15, offered_to = $16, lease_id = $17, hold_until = $18
    where callback_id = $1
), e as (
    insert into callback_event (callback_id, at, actor, action, from_state, to_state, details)
    values ($1, $19, $20, $21, $22, $23, $24)
), p as (
    update agent set presence = $26, ready_since = $27 where agent_id = $25
)
select 1";

/// The audit event of a change.
pub(crate) struct EventOf<'a> {
    pub at: Timestamp,
    pub actor: &'a str,
    pub action: &'a str,
    pub from: Option<CallbackState>,
    pub to: Option<CallbackState>,
    pub details: &'a serde_json::Value,
}

pub(crate) async fn write_step<C: GenericClient>(
    tx: &C,
    cb: &Callback,
    event: EventOf<'_>,
    presence: Option<PresenceChange>,
) -> StoreResult<()> {
    let (agent, presence, ready_since) = match presence {
        Some(p) => (Some(p.agent_id), Some(p.presence.as_str()), (p.presence == Presence::Ready).then(|| ms(event.at))),
        None => (None, None, None),
    };
    let st = tx.prepare_cached(WRITE_STEP).await.map_err(backend)?;
    tx.execute(
        &st,
        &[
            &uuid(cb.id),
            &cb.state.as_str(),
            &cb.result.map(CallbackResult::as_str),
            &ms(cb.desired_time),
            &cb.timezone,
            &opt_ms(cb.earliest_time),
            &overdue_at(cb),
            &opt_ms(cb.slot_start),
            &ms(cb.expires_at),
            &cb.agent_id,
            &i64::from(cb.attempts),
            &ms(cb.updated_at),
            &opt_ms(cb.queued_at),
            &cb.wrap_code,
            &cb.notes,
            &cb.offered_to,
            &cb.lease_id,
            &opt_ms(cb.hold_until),
            &ms(event.at),
            &event.actor,
            &event.action,
            &event.from.map(CallbackState::as_str),
            &event.to.map(CallbackState::as_str),
            &event.details.to_string(),
            &agent,
            &presence,
            &ready_since,
        ],
    )
    .await
    .map_err(|e| constraint(e, Op::Write("callback")))?;
    Ok(())
}

/// One lifecycle step inside `tx`: the row is locked, then the holder, the expected state, the
/// transition table and the agent whose presence changes are checked before the one write.
pub(crate) async fn transition_in<C: GenericClient>(tx: &C, req: TransitionRequest) -> StoreResult<Callback> {
    let (current, agent_exists) = get_for_update(tx, req.id, req.presence.map(|p| p.agent_id))
        .await?
        .ok_or_else(|| StoreError::not_found(format!("callback {}", req.id)))?;
    if let Some(holder) = &req.holder {
        check_holder(&current, holder)?;
    }
    let from = Status { state: current.state, result: current.result };
    if !req.expect.is_empty() && !req.expect.contains(&current.state) {
        return Err(IllegalTransition { from, action: req.action }.into());
    }
    let to = lifecycle(from, req.action)?;
    if let Some(change) = &req.presence
        && !agent_exists
    {
        return Err(StoreError::not_found(format!("agent {}", change.agent_id)));
    }
    let at = trunc(req.at);
    let mut cb = current;
    apply_update(&mut cb, req.update);
    apply_status(&mut cb, to, at);
    let event = EventOf {
        at,
        actor: &req.actor,
        action: &req.event_action,
        from: Some(from.state),
        to: Some(to.state),
        details: &req.event_details,
    };
    write_step(tx, &cb, event, req.presence).await?;
    Ok(cb)
}

pub async fn transition_callback(store: &PgStore, request: TransitionRequest) -> StoreResult<Callback> {
    let mut client = store.client().await?;
    let tx = client.transaction().await.map_err(backend)?;
    let cb = transition_in(&tx, request).await?;
    tx.commit().await.map_err(backend)?;
    store.committed();
    Ok(cb)
}

// ---- updates and deletes -------------------------------------------------------------------------------

/// The locks a callback's duplicate and slot checks need, as it will be after a change.
fn check_locks(cb: &Callback, duplicate_limit: Option<u32>, slot_capacity: Option<u32>) -> LockKeys {
    let mut locks = LockKeys::new();
    if cb.state.is_active() {
        if duplicate_limit.is_some() {
            locks.duplicates(&Scope::of(cb));
        }
        if let (Some(_), Some(queue), Some(slot)) = (slot_capacity, cb.queue_id, cb.slot_start) {
            locks.slot(queue, ms(slot));
        }
    }
    locks
}

/// Refuses when the scope already holds `limit` active callbacks for the number, `exclude` (the
/// callback being changed) not counted.
async fn check_duplicates<C: GenericClient>(tx: &C, cb: &Callback, limit: u32, exclude: CallbackId) -> StoreResult<()> {
    let rows = match cb.queue_id {
        Some(queue_id) => {
            query(
                tx,
                "select count(*), (array_agg(callback_id order by callback_id))[1] from callback \
                 where queue_id = $1 and phone = $2 and state <> 'COMPLETED' and callback_id <> $3",
                &[&queue_id, &cb.phone, &uuid(exclude)],
            )
            .await?
        }
        None => {
            query(
                tx,
                "select count(*), (array_agg(callback_id order by callback_id))[1] from callback \
                 where phone = $1 and campaign_id = $2 and agent_id is not distinct from $3 and queue_id is null \
                 and state <> 'COMPLETED' and callback_id <> $4",
                &[&cb.phone, &cb.campaign_id, &cb.agent_id, &uuid(exclude)],
            )
            .await?
        }
    };
    let Some(r) = rows.first() else { return Ok(()) };
    let (count, oldest): (i64, Option<Uuid>) = (get(r, 0)?, get(r, 1)?);
    match oldest {
        Some(existing) if count >= i64::from(limit) => Err(StoreError::Duplicate { existing_id: id(existing) }),
        _ => Ok(()),
    }
}

/// Refuses when the queue's slot already holds `capacity` active bookings, `exclude` (the callback
/// being changed, which may stay in its own full slot) not counted.
async fn check_slot<C: GenericClient>(
    tx: &C,
    queue_id: QueueId,
    slot: Timestamp,
    capacity: u32,
    exclude: CallbackId,
) -> StoreResult<()> {
    let rows = query(
        tx,
        "select count(*) from callback where queue_id = $1 and slot_start = $2 and state <> 'COMPLETED' \
         and slot_start is not null and callback_id <> $3",
        &[&queue_id, &ms(slot), &uuid(exclude)],
    )
    .await?;
    let booked: i64 = rows.first().map(|r| get(r, 0)).transpose()?.unwrap_or(0);
    if booked >= i64::from(capacity) {
        return Err(StoreError::SlotFull { slot_start: slot, capacity });
    }
    Ok(())
}

/// One in-place change with its audit event. Checks, in order: the callback exists, is in an expected
/// state, has not changed since the caller read it, the lifecycle allows the action, and after the
/// change the number is not a duplicate and the slot has room (the callback itself not counted). The
/// duplicate and slot locks are taken before the row lock, in the order creates take them (a create
/// locks a recreated original's row after its advisory locks), so the two never wait on each other
/// in a cycle.
pub async fn update_callback(store: &PgStore, req: UpdateRequest) -> StoreResult<Callback> {
    let mut client = store.client().await?;
    let tx = client.transaction().await.map_err(backend)?;
    let checked = req.duplicate_limit.is_some() || req.slot_capacity.is_some();
    if checked {
        // Where the change would put the callback, from an unlocked read: the locks it needs.
        let sql = format!("select {CALLBACK_COLUMNS} from callback c where c.callback_id = $1");
        if let Some(row) = query(&tx, &sql, &[&uuid(req.id)]).await?.first() {
            let mut target = codec::callback(row)?;
            apply_edit(&mut target, req.edit.clone());
            check_locks(&target, req.duplicate_limit, req.slot_capacity).take(&tx).await?;
        }
    }
    let (current, _) = get_for_update(&tx, req.id, None)
        .await?
        .ok_or_else(|| StoreError::not_found(format!("callback {}", req.id)))?;
    let parents = |c: &Callback| (c.campaign_id, c.list_id, c.lead_id, c.queue_id, c.agent_id);
    let parents_before = parents(&current);
    let (cb, from, to) = updated(current, &req)?;
    if parents(&cb) != parents_before && !References::of(&cb).lock(&tx).await?.all_exist(&cb) {
        return Err(StoreError::not_found("a record this callback refers to"));
    }
    if checked && cb.state.is_active() {
        // Locks are re-entrant: this takes only what a concurrent change of the row made necessary.
        check_locks(&cb, req.duplicate_limit, req.slot_capacity).take(&tx).await?;
        if let Some(limit) = req.duplicate_limit {
            check_duplicates(&tx, &cb, limit, cb.id).await?;
        }
        if let (Some(capacity), Some(queue_id), Some(slot)) = (req.slot_capacity, cb.queue_id, cb.slot_start) {
            check_slot(&tx, queue_id, slot, capacity, cb.id).await?;
        }
    }
    let event = EventOf {
        at: trunc(req.at),
        actor: &req.actor,
        action: &req.event_action,
        from: Some(from.state),
        to: Some(to.state),
        details: &req.event_details,
    };
    write_update(&tx, &cb, event).await?;
    tx.commit().await.map_err(backend)?;
    store.committed();
    Ok(cb)
}

/// Every column an update may change, and its audit event, in one statement. The records it refers
/// to were checked and locked before (an agent is a foreign key still).
async fn write_update<C: GenericClient>(tx: &C, cb: &Callback, e: EventOf<'_>) -> StoreResult<()> {
    let st = tx
        .prepare_cached(
            "with u as (
                 update callback set type = $2, campaign_id = $3, list_id = $4, queue_id = $5, agent_id = $6,
                     notes = $7, data = $8, desired_time = $9, timezone = $10, earliest_time = $11,
                     window_secs = $12, overdue_at = $13, slot_start = $14, expires_at = $15, state = $16,
                     result = $17, updated_at = $18, queued_at = $19, offered_to = $20, lease_id = $21,
                     hold_until = $22
                 where callback_id = $1
             )
             insert into callback_event (callback_id, at, actor, action, from_state, to_state, details)
             values ($1, $23, $24, $25, $26, $27, $28)",
        )
        .await
        .map_err(backend)?;
    tx.execute(
        &st,
        &[
            &uuid(cb.id),
            &cb.kind.as_str(),
            &cb.campaign_id,
            &cb.list_id,
            &cb.queue_id,
            &cb.agent_id,
            &cb.notes,
            &to_json(&cb.data),
            &ms(cb.desired_time),
            &cb.timezone,
            &opt_ms(cb.earliest_time),
            &i64::from(cb.window_secs),
            &overdue_at(cb),
            &opt_ms(cb.slot_start),
            &ms(cb.expires_at),
            &cb.state.as_str(),
            &cb.result.map(CallbackResult::as_str),
            &ms(cb.updated_at),
            &opt_ms(cb.queued_at),
            &cb.offered_to,
            &cb.lease_id,
            &opt_ms(cb.hold_until),
            &ms(e.at),
            &e.actor,
            &e.action,
            &e.from.map(CallbackState::as_str),
            &e.to.map(CallbackState::as_str),
            &e.details.to_string(),
        ],
    )
    .await
    .map_err(|e| constraint(e, Op::Write("callback")))?;
    Ok(())
}

/// Removes the record and keeps its tombstone: a `deleted` event whose details are the callback as it
/// was (so "who deleted what" has an answer), and a `callback_tombstone` row telling retention when
/// that history may go (the callback's own retention date).
pub async fn delete_callback(store: &PgStore, id: CallbackId, actor: &str, at: Timestamp) -> StoreResult<Callback> {
    let mut client = store.client().await?;
    let tx = client.transaction().await.map_err(backend)?;
    let sql = format!("delete from callback c where c.callback_id = $1 returning {CALLBACK_COLUMNS}");
    let st = tx.prepare_cached(&sql).await.map_err(backend)?;
    let row = tx.query_opt(&st, &[&uuid(id)]).await.map_err(|e| constraint(e, Op::Delete("callback")))?;
    let cb = row
        .as_ref()
        .map(codec::callback)
        .transpose()?
        .ok_or_else(|| StoreError::not_found(format!("callback {id}")))?;
    let at = trunc(at);
    // Through `Value`, as the SQLite store writes it: the same text on both.
    let snapshot = serde_json::to_value(&cb).map_err(|e| backend(e.to_string()))?.to_string();
    let st = tx
        .prepare_cached(
            "with e as (
                 insert into callback_event (callback_id, at, actor, action, from_state, to_state, details)
                 values ($1, $2, $3, 'deleted', $4, null, $5)
             )
             insert into callback_tombstone (callback_id, deleted_at, actor, expires_at) values ($1, $2, $3, $6)
             on conflict (callback_id) do update set deleted_at = excluded.deleted_at, actor = excluded.actor,
                 expires_at = excluded.expires_at",
        )
        .await
        .map_err(backend)?;
    tx.execute(&st, &[&uuid(id), &ms(at), &actor, &cb.state.as_str(), &snapshot, &ms(cb.expires_at)])
        .await
        .map_err(|e| constraint(e, Op::Write("callback tombstone")))?;
    tx.commit().await.map_err(backend)?;
    store.committed();
    Ok(cb)
}

// ---- reads -----------------------------------------------------------------------------------------

/// A parameter of a statement built at run time.
pub(crate) type Param = Box<dyn ToSql + Sync + Send>;

/// A WHERE clause under construction: SQL text with `$n` placeholders and the values they bind.
/// Lists bind as one array (`= any($n)`), so a filter shape is one prepared statement whatever the
/// number of values.
#[derive(Default)]
pub(crate) struct Clause {
    pub(crate) sql: String,
    pub(crate) params: Vec<Param>,
}

impl Clause {
    pub(crate) fn and(&mut self, sql: &str) {
        self.sql.push_str(if self.sql.is_empty() { " where " } else { " and " });
        self.sql.push_str(sql);
    }

    /// Binds `v`, answering its placeholder.
    pub(crate) fn bind(&mut self, v: impl ToSql + Sync + Send + 'static) -> String {
        self.params.push(Box::new(v));
        format!("${}", self.params.len())
    }

    fn any_of<V: ToSql + Sync + Send + 'static>(&mut self, col: &str, values: Vec<V>)
    where
        Vec<V>: ToSql,
    {
        let p = self.bind(values);
        self.and(&format!("{col} = any({p})"));
    }

    pub(crate) fn params(&self) -> Vec<&(dyn ToSql + Sync)> {
        self.params.iter().map(|p| p.as_ref() as &(dyn ToSql + Sync)).collect()
    }
}

/// The ids of the callbacks with one of the numbers `p` (an array parameter): their own number or
/// their lead's phones 1–3. A union of index lookups (`callback_phone`, the lead phone indexes, then
/// `callback_lead`): written as one `or`, the planner would walk every callback and test each.
fn phone_ids(p: &str) -> String {
    format!(
        "select x.callback_id from callback x where x.phone = any({p}) \
         union all select x.callback_id from lead l join callback x on x.lead_id = l.lead_id \
         where l.phone1 = any({p}) or l.phone2 = any({p}) or l.phone3 = any({p})"
    )
}

/// `%needle%` with LIKE's wildcards escaped (paired with `escape '\'`).
fn like_pattern(needle: &str) -> String {
    let mut p = String::with_capacity(needle.len() + 2);
    p.push('%');
    for ch in needle.chars() {
        if matches!(ch, '%' | '_' | '\\') {
            p.push('\\');
        }
        p.push(ch);
    }
    p.push('%');
    p
}

/// The column search of `q`/`q_field`: case-insensitive substring match (one bound pattern).
fn text_search(w: &mut Clause, field: SearchField, needle: &str) {
    let needle = needle.trim();
    if needle.is_empty() {
        return;
    }
    if field == SearchField::Id {
        // Ids match by their hex digits, dashes or not.
        let hex: String = needle.chars().filter(|c| *c != '-').collect();
        let p = w.bind(like_pattern(&hex));
        w.and(&format!("replace(c.callback_id::text, '-', '') ilike {p} escape '\\'"));
        return;
    }
    let p = w.bind(like_pattern(needle));
    let like = format!("ilike {p} escape '\\'");
    let campaign = format!("c.campaign_id in (select campaign_id from campaign where name {like})");
    let list = format!("c.list_id in (select list_id from list where name {like})");
    let queue = format!("c.queue_id in (select queue_id from queue where name {like})");
    let agent = format!("c.agent_id in (select agent_id from agent where name {like} or username {like})");
    let lead = format!("(c.lead_id::text {like} or c.lead_id in (select lead_id from lead where name {like}))");
    let sql = match field {
        SearchField::Id => unreachable!("handled above"),
        SearchField::Phone => format!("(c.phone {like} or c.phone_raw {like})"),
        SearchField::State => format!("(c.state {like} or c.result {like})"),
        SearchField::Campaign => campaign,
        SearchField::List => list,
        SearchField::Queue => queue,
        SearchField::Agent => agent,
        SearchField::Lead => lead,
        SearchField::WrapCode => format!("c.wrap_code {like}"),
        SearchField::Notes => format!("c.notes {like}"),
        SearchField::Any => format!(
            "(c.phone {like} or c.phone_raw {like} or c.notes {like} or c.wrap_code {like} \
             or {campaign} or {list} or {queue} or {agent} or {lead})"
        ),
    };
    w.and(&sql);
}

/// The WHERE clause of the list filters (over `callback c`), with bound parameters only — no value is
/// ever written into the SQL text.
pub(crate) fn filter_clause(f: &CallbackFilter) -> Clause {
    let mut w = Clause::default();
    if let Some(from) = f.from {
        let p = w.bind(ms(from));
        w.and(&format!("c.desired_time >= {p}"));
    }
    if let Some(to) = f.to {
        let p = w.bind(ms(to));
        w.and(&format!("c.desired_time < {p}"));
    }
    if !f.states.is_empty() {
        w.any_of("c.state", f.states.iter().map(|s| s.as_str().to_string()).collect());
    }
    if !f.campaign_ids.is_empty() {
        w.any_of("c.campaign_id", f.campaign_ids.clone());
    }
    if !f.list_ids.is_empty() {
        w.any_of("c.list_id", f.list_ids.clone());
    }
    if !f.queue_ids.is_empty() {
        w.any_of("c.queue_id", f.queue_ids.clone());
    }
    if !f.agent_ids.is_empty() {
        w.any_of("c.agent_id", f.agent_ids.clone());
    }
    if let Some(kind) = f.kind {
        let p = w.bind(kind.as_str().to_string());
        w.and(&format!("c.type = {p}"));
    }
    if !f.wrap_codes.is_empty() {
        w.any_of("c.wrap_code", f.wrap_codes.clone());
    }
    if let Some(phones) = &f.phones {
        if phones.is_empty() {
            w.and("false");
        } else {
            let p = w.bind(phones.clone());
            w.and(&format!("c.callback_id in ({})", phone_ids(&p)));
        }
    }
    if let Some((field, needle)) = &f.text {
        text_search(&mut w, *field, needle);
    }
    if let Some(at) = f.overdue_at {
        // Overdue = still SCHEDULED after earliest_time + window. `earliest_time < at` is implied
        // (the window is never negative) and lets the planner range over `callback_due`.
        let p = w.bind(ms(at));
        w.and(&format!("c.state = 'SCHEDULED' and c.earliest_time < {p} and c.overdue_at < {p}"));
    }
    w
}

fn order_by(sort: Sort) -> String {
    let dir = if sort.descending { "desc" } else { "asc" };
    let key = match sort.field {
        SortField::DesiredTime => "c.desired_time",
        // Unknown earliest times ("when the campaign next runs") sort after every known one.
        SortField::EarliestTime if sort.descending => "c.earliest_time desc nulls first",
        SortField::EarliestTime => "c.earliest_time asc nulls last",
        SortField::CreatedAt => "c.created_at",
        SortField::UpdatedAt => "c.updated_at",
        // Lifecycle order, not alphabetical.
        SortField::State => {
            "case c.state when 'SCHEDULED' then 0 when 'QUEUED' then 1 when 'ROUTING' then 2 \
             when 'PROCESSING' then 3 else 4 end"
        }
        // Byte order, as on SQLite (a locale's collation would ignore the `+`).
        SortField::Phone => "c.phone collate \"C\"",
        SortField::Priority => "c.priority",
    };
    if sort.field == SortField::EarliestTime {
        format!(" order by {key}, c.callback_id {dir}")
    } else {
        format!(" order by {key} {dir}, c.callback_id {dir}")
    }
}

pub async fn list_callbacks(
    store: &PgStore,
    filter: &CallbackFilter,
    sort: Sort,
    page: PageRequest,
) -> StoreResult<Page<Callback>> {
    let mut w = filter_clause(filter);
    let count_sql = format!("select count(*) from callback c{}", w.sql);
    let count_params = w.params.len();
    // Paging is bound too, so every page of one filter shape reuses one prepared statement.
    let limit = w.bind(i64::from(page.page_size));
    let offset = w.bind(i64::try_from(page.offset()).unwrap_or(i64::MAX));
    let sql =
        format!("select {CALLBACK_COLUMNS} from callback c{}{} limit {limit} offset {offset}", w.sql, order_by(sort));
    let params = w.params();
    let client = store.client().await?;
    // Both in one pipelined round trip.
    let (total, items) = tokio::try_join!(
        async {
            let rows = query(&client, &count_sql, &params[..count_params]).await?;
            rows.first().map(|r| get::<i64>(r, 0)).transpose().map(|n| n.unwrap_or(0))
        },
        async {
            if page.page_size == 0 {
                return Ok(Vec::new());
            }
            query(&client, &sql, &params).await?.iter().map(codec::callback).collect::<StoreResult<Vec<_>>>()
        },
    )?;
    Ok(Page { items, total: total as u64 })
}

/// By id or by number (the callback's own or its lead's phones 1–3), newest desired time first.
pub async fn search_callbacks(
    store: &PgStore,
    id: Option<CallbackId>,
    phones: &[String],
    limit: u32,
) -> StoreResult<Vec<Callback>> {
    if (id.is_none() && phones.is_empty()) || limit == 0 {
        return Ok(Vec::new());
    }
    let mut w = Clause::default();
    let mut ids = Vec::new();
    if let Some(id) = id {
        ids.push(format!("select {}::uuid", w.bind(uuid(id))));
    }
    if !phones.is_empty() {
        let p = w.bind(phones.to_vec());
        ids.push(phone_ids(&p));
    }
    let limit = w.bind(i64::from(limit));
    let sql = format!(
        "select {CALLBACK_COLUMNS} from callback c where c.callback_id in ({}) \
         order by c.desired_time desc, c.callback_id desc limit {limit}",
        ids.join(" union all ")
    );
    let client = store.client().await?;
    query(&client, &sql, &w.params()).await?.iter().map(codec::callback).collect()
}

pub async fn slot_bookings(
    store: &PgStore,
    queue_id: QueueId,
    from: Timestamp,
    to: Timestamp,
) -> StoreResult<SlotBookings> {
    let client = store.client().await?;
    let rows = query(
        &client,
        "select slot_start, count(*) from callback \
         where queue_id = $1 and slot_start >= $2 and slot_start < $3 and state <> 'COMPLETED' \
         and slot_start is not null group by slot_start order by slot_start",
        &[&queue_id, &ms(from), &ms(to)],
    )
    .await?;
    rows.iter()
        .map(|r| {
            let n: i64 = get(r, 1)?;
            Ok((get_ts(r, 0)?, u32::try_from(n).map_err(|_| unreadable(n))?))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_patterns_escape_wildcards() {
        assert_eq!(like_pattern("50%_a\\b"), "%50\\%\\_a\\\\b%");
    }

    #[test]
    fn filter_values_are_bound_never_written_into_the_sql() {
        let f = CallbackFilter {
            wrap_codes: vec!["x'); drop table callback; --".into()],
            text: Some((SearchField::Any, "o'brien".into())),
            phones: Some(vec!["+44'".into()]),
            ..Default::default()
        };
        let w = filter_clause(&f);
        assert!(!w.sql.contains("drop table") && !w.sql.contains("brien") && !w.sql.contains("+44"));
        assert_eq!(w.params.len(), 3);
    }

    #[test]
    fn lock_keys_are_stable_and_stay_in_their_range() {
        let mut a = LockKeys::new();
        a.duplicates(&Scope::Queue(7, "+442070000001".into()));
        a.slot(7, 1_000);
        a.idempotency("k");
        let mut b = LockKeys::new();
        b.duplicates(&Scope::Queue(7, "+442070000001".into()));
        assert_eq!(a.0[0], b.0[0]);
        for k in a.0 {
            assert!((LOCK_BASE + STRIPES as i64..LOCK_BASE + 4 * STRIPES as i64).contains(&k), "{k:#x}");
        }
    }
}
