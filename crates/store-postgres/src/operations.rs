//! Large operations: bulk cancel with its Cancellation Summary Report, export, retention.
//!
//! **Bulk cancel** resolves its selection to ids first (a filter page by page through the
//! desired-time index), then cancels [`BULK_CHUNK`] ids per transaction, set-based: one `SELECT …
//! FOR UPDATE` locks and reads the chunk's callbacks in id order (so two bulk cancels never
//! deadlock each other), the lifecycle decides in memory, and one pipelined round trip writes the
//! cancels (`UPDATE … FROM unnest`), their `cancelled` events and the report lines (`INSERT …
//! SELECT FROM unnest`). Each chunk commits on its own, so other writers wait for one chunk at most
//! and a caller that stops keeps the chunks already done. The state is read under the row lock, so
//! a callback an agent accepted a moment earlier is skipped and reported, never half-cancelled; a
//! chunk that lost a deadlock against another multi-row writer is run again.
//!
//! **Export** pages with a keyset cursor over `callback_desired`, so each page costs its own rows.
//! **Retention** removes a bounded amount per pass, skipping rows another node holds.

use std::collections::{HashMap, HashSet};

use deadpool_postgres::{GenericClient, Object, Transaction};
use jiff::{SignedDuration, Timestamp};
use rebound_domain::model::*;
use rebound_domain::state::{Action, CallbackResult, CallbackState, Status, transition as lifecycle};
use rebound_store::*;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;
use uuid::Uuid;

use crate::PgStore;
use crate::callbacks::filter_clause;
use crate::codec::{CALLBACK_COLUMNS, callback, get, get_named, get_opt_ts, get_ts, id, ms, trunc, uuid};
use crate::error::{Op, backend, constraint};

/// Callbacks cancelled per transaction: large enough that the round trips are small against the
/// rows, small enough (tens of milliseconds) that writers waiting on a locked row wait briefly.
const BULK_CHUNK: usize = 5_000;
/// Ids read per statement when a bulk cancel resolves a filter.
const SELECTION_PAGE: u32 = 20_000;
/// How often a chunk that lost a deadlock (or a serialisation conflict) is tried in all.
const CHUNK_ATTEMPTS: u32 = 3;
/// How long a report of ids that named no callback at all is kept.
const ORPHAN_REPORT_KEPT: SignedDuration = SignedDuration::from_hours(14 * 24);
/// Lines of already removed reports deleted per retention pass, so even a million-line report goes
/// without one long transaction.
const REPORT_LINES_PER_PASS: i64 = 20_000;

// ---- bulk cancel -----------------------------------------------------------------------------------

/// What every chunk of one bulk cancel shares.
struct BulkCancel {
    report_id: String,
    action: Action,
    reason: Option<String>,
    actor: String,
    at: i64,
    /// The `cancelled` event's details, identical for every callback: serialised once.
    event_details: String,
}

impl BulkCancel {
    fn new(request: &BulkCancelRequest) -> BulkCancel {
        let event_details =
            serde_json::json!({ "reason": request.reason, "bulk_report_id": request.report_id }).to_string();
        BulkCancel {
            report_id: request.report_id.clone(),
            action: Action::Cancel { by_customer: request.by_customer },
            reason: request.reason.clone(),
            actor: request.actor.clone(),
            at: ms(trunc(request.at)),
            event_details,
        }
    }
}

/// One transaction's share of a bulk cancel.
struct Chunk<'a> {
    /// The first chunk writes the report header (and refuses a report id already used).
    first: bool,
    /// The report position of `ids[0]`.
    position: i64,
    ids: &'a [CallbackId],
    /// The largest `expires_at` of the report's callbacks in the chunks before this one.
    expires_before: Option<i64>,
}

struct ChunkOutcome {
    cancelled: u64,
    skipped: Vec<SkippedCallback>,
    /// The largest `expires_at` of the report's callbacks so far, this chunk included.
    expires: Option<i64>,
}

/// Why a chunk failed: a refusal or unreadable row (final), or the database (maybe worth a retry).
enum Failed {
    Store(StoreError),
    Db(tokio_postgres::Error),
}

impl From<StoreError> for Failed {
    fn from(e: StoreError) -> Self {
        Failed::Store(e)
    }
}

impl From<tokio_postgres::Error> for Failed {
    fn from(e: tokio_postgres::Error) -> Self {
        Failed::Db(e)
    }
}

/// A callback's row as far as a bulk cancel needs it, with the names of the moment.
struct Target {
    status: Status,
    phone: String,
    campaign_id: CampaignId,
    campaign_name: Option<String>,
    queue_id: Option<QueueId>,
    queue_name: Option<String>,
    desired_time: i64,
    expires_at: i64,
}

const READ_TARGETS: &str = "select c.callback_id, c.state, c.result, c.phone, c.campaign_id, m.name, c.queue_id, \
    q.name, c.desired_time, c.expires_at from callback c \
    left join campaign m on m.campaign_id = c.campaign_id left join queue q on q.queue_id = c.queue_id \
    where c.callback_id = any($1) order by c.callback_id for update of c";

fn target_row(r: &tokio_postgres::Row) -> StoreResult<(Uuid, Target)> {
    let status = Status {
        state: get_named(r, 1, CallbackState::parse)?,
        result: get::<Option<&str>>(r, 2)?
            .map(|s| CallbackResult::parse(s).ok_or_else(|| crate::codec::unreadable(s)))
            .transpose()?,
    };
    let target = Target {
        status,
        phone: get(r, 3)?,
        campaign_id: get(r, 4)?,
        campaign_name: get(r, 5)?,
        queue_id: get(r, 6)?,
        queue_name: get(r, 7)?,
        desired_time: get(r, 8)?,
        expires_at: get(r, 9)?,
    };
    Ok((get(r, 0)?, target))
}

/// The cancels of one chunk, as arrays for `unnest`.
#[derive(Default)]
struct Cancels {
    id: Vec<Uuid>,
    from: Vec<&'static str>,
    to: Vec<&'static str>,
    result: Vec<Option<&'static str>>,
}

const CANCEL: &str = "update callback c set state = u.state, result = u.result, updated_at = $4, \
    offered_to = case when c.state = 'ROUTING' then null else c.offered_to end, \
    lease_id = case when c.state = 'ROUTING' then null else c.lease_id end, \
    hold_until = case when c.state = 'ROUTING' then null else c.hold_until end \
    from unnest($1::uuid[], $2::text[], $3::text[]) as u (id, state, result) where c.callback_id = u.id";

const CANCEL_EVENTS: &str = "insert into callback_event (callback_id, at, actor, action, from_state, to_state, details) \
    select u.id, $4, $5, 'cancelled', u.from_state, u.to_state, $6 \
    from unnest($1::uuid[], $2::text[], $3::text[]) with ordinality as u (id, from_state, to_state, n) order by u.n";

/// The report lines of one chunk, in report order, as arrays for `unnest`.
#[derive(Default)]
struct Lines {
    position: Vec<i64>,
    id: Vec<Uuid>,
    phone: Vec<Option<String>>,
    campaign_id: Vec<Option<i64>>,
    campaign_name: Vec<Option<String>>,
    queue_id: Vec<Option<i64>>,
    queue_name: Vec<Option<String>>,
    desired_time: Vec<Option<i64>>,
    state_before: Vec<Option<&'static str>>,
    outcome: Vec<&'static str>,
    reason: Vec<String>,
}

impl Lines {
    fn push(&mut self, position: i64, id: CallbackId, target: Option<Target>, cancelled: bool, reason: String) {
        self.position.push(position);
        self.id.push(uuid(id));
        self.state_before.push(target.as_ref().map(|t| t.status.state.as_str()));
        self.desired_time.push(target.as_ref().map(|t| t.desired_time));
        self.campaign_id.push(target.as_ref().map(|t| t.campaign_id));
        self.queue_id.push(target.as_ref().and_then(|t| t.queue_id));
        let (phone, campaign_name, queue_name) = match target {
            Some(t) => (Some(t.phone), t.campaign_name, t.queue_name),
            None => (None, None, None),
        };
        self.phone.push(phone);
        self.campaign_name.push(campaign_name);
        self.queue_name.push(queue_name);
        self.outcome.push(if cancelled { "cancelled" } else { "skipped" });
        self.reason.push(reason);
    }
}

const REPORT_LINES: &str = "insert into cancellation_report_row (report_id, position, callback_id, phone, \
    campaign_id, campaign_name, queue_id, queue_name, desired_time, state_before, outcome, reason, actor, at) \
    select $1, u.* , $13, $14 from unnest($2::bigint[], $3::uuid[], $4::text[], $5::bigint[], $6::text[], \
    $7::bigint[], $8::text[], $9::bigint[], $10::text[], $11::text[], $12::text[]) as u";

/// Why a bulk cancel leaves a callback in `state` alone.
fn skip_reason(state: CallbackState) -> String {
    match state {
        CallbackState::Processing => "in PROCESSING: an agent is handling it".to_string(),
        CallbackState::Completed => "already COMPLETED".to_string(),
        other => format!("cannot be cancelled in {other}"),
    }
}

/// Writes the report header; `Conflict` if the report id was used before (or is being used by a
/// bulk cancel still running: the insert waits for it). Kept for the retention period from now
/// until a callback is found.
async fn write_header(tx: &Transaction<'_>, bulk: &BulkCancel) -> Result<(), Failed> {
    let st = tx
        .prepare_cached(
            "insert into cancellation_report (report_id, actor, reason, created_at, expires_at) \
             values ($1, $2, $3, $4, $5) on conflict (report_id) do nothing",
        )
        .await?;
    let orphan_expiry = bulk.at + ORPHAN_REPORT_KEPT.as_millis() as i64;
    let written = tx.execute(&st, &[&bulk.report_id, &bulk.actor, &bulk.reason, &bulk.at, &orphan_expiry]).await?;
    if written == 0 {
        return Err(StoreError::Conflict(format!("a cancellation report {} already exists", bulk.report_id)).into());
    }
    Ok(())
}

/// Cancels one chunk in one transaction (see the module docs): for each id, its state under the row
/// lock decides between the lifecycle's `Cancel` and a skip; either way one report line, in report
/// order.
async fn cancel_chunk(client: &mut Object, bulk: &BulkCancel, chunk: &Chunk<'_>) -> Result<ChunkOutcome, Failed> {
    let tx = client.transaction().await?;
    if chunk.first {
        write_header(&tx, bulk).await?;
    }
    let keys: Vec<Uuid> = chunk.ids.iter().map(|&id| uuid(id)).collect();
    let read = tx.prepare_cached(READ_TARGETS).await?;
    let mut targets: HashMap<Uuid, Target> =
        tx.query(&read, &[&keys]).await?.iter().map(target_row).collect::<StoreResult<_>>()?;

    let mut out = ChunkOutcome { cancelled: 0, skipped: Vec::new(), expires: chunk.expires_before };
    let (mut cancels, mut lines) = (Cancels::default(), Lines::default());
    let cancel_reason = bulk.reason.clone().unwrap_or_default();
    for (i, &cb_id) in chunk.ids.iter().enumerate() {
        let position = chunk.position + i as i64;
        let Some(target) = targets.remove(&uuid(cb_id)) else {
            out.skipped.push(SkippedCallback { id: cb_id, state: None, reason: "not found".into() });
            lines.push(position, cb_id, None, false, "not found".into());
            continue;
        };
        out.expires = Some(out.expires.map_or(target.expires_at, |e| e.max(target.expires_at)));
        let from = target.status;
        match lifecycle(from, bulk.action) {
            Ok(to) => {
                cancels.id.push(uuid(cb_id));
                cancels.from.push(from.state.as_str());
                cancels.to.push(to.state.as_str());
                cancels.result.push(to.result.map(CallbackResult::as_str));
                out.cancelled += 1;
                lines.push(position, cb_id, Some(target), true, cancel_reason.clone());
            }
            Err(_) => {
                let reason = skip_reason(from.state);
                out.skipped.push(SkippedCallback { id: cb_id, state: Some(from.state), reason: reason.clone() });
                lines.push(position, cb_id, Some(target), false, reason);
            }
        }
    }
    write_chunk(&tx, bulk, &cancels, &lines, (out.expires != chunk.expires_before).then_some(out.expires).flatten())
        .await?;
    tx.commit().await?;
    Ok(out)
}

/// The chunk's writes, pipelined in one round trip: the cancels, their events, the report lines and
/// (when it moved) the report's expiry.
async fn write_chunk(
    tx: &Transaction<'_>,
    bulk: &BulkCancel,
    cancels: &Cancels,
    lines: &Lines,
    expires: Option<i64>,
) -> Result<(), Failed> {
    let (cancel, events, report_lines, expiry) = tokio::try_join!(
        tx.prepare_cached(CANCEL),
        tx.prepare_cached(CANCEL_EVENTS),
        tx.prepare_cached(REPORT_LINES),
        tx.prepare_cached("update cancellation_report set expires_at = $2 where report_id = $1"),
    )?;
    let any_cancel = !cancels.id.is_empty();
    let cancel_params: [&(dyn ToSql + Sync); 4] = [&cancels.id, &cancels.to, &cancels.result, &bulk.at];
    let event_params: [&(dyn ToSql + Sync); 6] =
        [&cancels.id, &cancels.from, &cancels.to, &bulk.at, &bulk.actor, &bulk.event_details];
    let line_params: [&(dyn ToSql + Sync); 14] = [
        &bulk.report_id,
        &lines.position,
        &lines.id,
        &lines.phone,
        &lines.campaign_id,
        &lines.campaign_name,
        &lines.queue_id,
        &lines.queue_name,
        &lines.desired_time,
        &lines.state_before,
        &lines.outcome,
        &lines.reason,
        &bulk.actor,
        &bulk.at,
    ];
    let skip = || async { Ok::<u64, tokio_postgres::Error>(0) };
    tokio::try_join!(
        async { if any_cancel { tx.execute(&cancel, &cancel_params).await } else { skip().await } },
        async { if any_cancel { tx.execute(&events, &event_params).await } else { skip().await } },
        async { if lines.id.is_empty() { skip().await } else { tx.execute(&report_lines, &line_params).await } },
        async {
            match expires {
                Some(e) => tx.execute(&expiry, &[&bulk.report_id, &e]).await,
                None => skip().await,
            }
        },
    )?;
    Ok(())
}

/// Runs a chunk, again from the start when it lost a deadlock or a serialisation conflict (its
/// transaction rolled back whole, so nothing of it was kept).
async fn run_chunk(client: &mut Object, bulk: &BulkCancel, chunk: &Chunk<'_>) -> StoreResult<ChunkOutcome> {
    let mut attempt = 1;
    loop {
        match cancel_chunk(client, bulk, chunk).await {
            Ok(done) => return Ok(done),
            Err(Failed::Store(e)) => return Err(e),
            Err(Failed::Db(e)) if attempt < CHUNK_ATTEMPTS && retryable(&e) => attempt += 1,
            Err(Failed::Db(e)) => return Err(constraint(e, Op::Write("cancellation report"))),
        }
    }
}

fn retryable(e: &tokio_postgres::Error) -> bool {
    e.code().is_some_and(|c| *c == SqlState::T_R_DEADLOCK_DETECTED || *c == SqlState::T_R_SERIALIZATION_FAILURE)
}

/// Ids as given, each once, in their first position.
fn distinct(ids: Vec<CallbackId>) -> Vec<CallbackId> {
    let mut seen = HashSet::with_capacity(ids.len());
    ids.into_iter().filter(|id| seen.insert(*id)).collect()
}

pub async fn bulk_cancel(store: &PgStore, request: BulkCancelRequest) -> StoreResult<BulkCancelSummary> {
    let bulk = BulkCancel::new(&request);
    let ids = match request.selection {
        BulkSelection::Ids(ids) => distinct(ids),
        BulkSelection::Filter(filter) => select_for_bulk(store, &filter).await?,
    };
    let mut summary = BulkCancelSummary { report_id: bulk.report_id.clone(), cancelled: 0, skipped: Vec::new() };
    // An empty selection still leaves its (empty) report: one chunk with no ids.
    let chunks: Vec<&[CallbackId]> = if ids.is_empty() { vec![&[]] } else { ids.chunks(BULK_CHUNK).collect() };
    let mut client = store.client().await?;
    let (mut position, mut expires) = (0, None);
    for (i, ids) in chunks.into_iter().enumerate() {
        let chunk = Chunk { first: i == 0, position, ids, expires_before: expires };
        let done = run_chunk(&mut client, &bulk, &chunk).await?;
        store.committed();
        position += ids.len() as i64;
        expires = done.expires;
        summary.cancelled += done.cancelled;
        summary.skipped.extend(done.skipped);
    }
    Ok(summary)
}

/// The ids a bulk cancel by filter covers, in (desired_time, id) order, read page by page so no
/// statement holds a snapshot for the whole selection. A callback moved across the page boundary
/// between two pages is counted once.
async fn select_for_bulk(store: &PgStore, filter: &CallbackFilter) -> StoreResult<Vec<CallbackId>> {
    let client = store.client().await?;
    let (mut ids, mut seen) = (Vec::new(), HashSet::new());
    let mut after = None;
    loop {
        let rows = keyset(&client, "c.desired_time, c.callback_id", filter, false, after, SELECTION_PAGE).await?;
        let full = rows.len() == SELECTION_PAGE as usize;
        for row in &rows {
            let (time, key): (i64, Uuid) = (get(row, 0)?, get(row, 1)?);
            after = Some((time, key));
            if seen.insert(key) {
                ids.push(id(key));
            }
        }
        if !full {
            return Ok(ids);
        }
    }
}

pub async fn cancellation_report(store: &PgStore, report_id: &str) -> StoreResult<Option<CancellationReport>> {
    let client = store.client().await?;
    let (header, lines) = tokio::try_join!(
        client.prepare_cached("select actor, created_at, expires_at from cancellation_report where report_id = $1"),
        client.prepare_cached(
            "select callback_id, phone, campaign_id, campaign_name, queue_id, queue_name, desired_time, \
             state_before, outcome, reason, actor, at \
             from cancellation_report_row where report_id = $1 order by position",
        ),
    )
    .map_err(backend)?;
    // Both in one round trip; the lines are thrown away if there is no header (a removed report).
    let params: [&(dyn ToSql + Sync); 1] = [&report_id];
    let (header, lines) =
        tokio::try_join!(client.query_opt(&header, &params), client.query(&lines, &params)).map_err(backend)?;
    let Some(header) = header else { return Ok(None) };
    Ok(Some(CancellationReport {
        report_id: report_id.to_string(),
        actor: get(&header, 0)?,
        created_at: get_ts(&header, 1)?,
        expires_at: get_ts(&header, 2)?,
        rows: lines.iter().map(report_line).collect::<StoreResult<_>>()?,
    }))
}

/// A line for an id that named no callback has none of the callback's columns (see
/// [`CancellationRow`]).
fn report_line(r: &tokio_postgres::Row) -> StoreResult<CancellationRow> {
    let campaign_id: Option<CampaignId> = get(r, 2)?;
    let queue_id: Option<QueueId> = get(r, 4)?;
    let state_before: Option<&str> = get(r, 7)?;
    Ok(CancellationRow {
        callback_id: id(get(r, 0)?),
        phone: get::<Option<String>>(r, 1)?.unwrap_or_default(),
        campaign_id: campaign_id.unwrap_or_default(),
        campaign_name: get::<Option<String>>(r, 3)?.or(campaign_id.map(|id| id.to_string())).unwrap_or_default(),
        queue_id,
        queue_name: get::<Option<String>>(r, 5)?.or(queue_id.map(|id| id.to_string())),
        desired_time: get_opt_ts(r, 6)?.unwrap_or(Timestamp::UNIX_EPOCH),
        state_before: state_before
            .map(|s| CallbackState::parse(s).ok_or_else(|| crate::codec::unreadable(s)))
            .transpose()?,
        outcome: get(r, 8)?,
        reason: get(r, 9)?,
        actor: get(r, 10)?,
        at: get_ts(r, 11)?,
    })
}

// ---- export ----------------------------------------------------------------------------------------

/// A keyset page over `filter` in (desired_time, id) order: `select {cols} … limit n`, strictly after
/// the cursor when there is one. The row comparison is a range of `callback_desired`, so each page
/// costs its own rows whatever page it is (an OFFSET would re-read every row before it).
async fn keyset(
    client: &Object,
    cols: &str,
    filter: &CallbackFilter,
    descending: bool,
    after: Option<(i64, Uuid)>,
    limit: u32,
) -> StoreResult<Vec<tokio_postgres::Row>> {
    let mut w = filter_clause(filter);
    if let Some((time, key)) = after {
        let (time, key) = (w.bind(time), w.bind(key));
        let beyond = if descending { "<" } else { ">" };
        w.and(&format!("(c.desired_time, c.callback_id) {beyond} ({time}, {key})"));
    }
    let limit = w.bind(i64::from(limit));
    let dir = if descending { "desc" } else { "asc" };
    let sql = format!(
        "select {cols} from callback c{} order by c.desired_time {dir}, c.callback_id {dir} limit {limit}",
        w.sql
    );
    let statement = client.prepare_cached(&sql).await.map_err(backend)?;
    client.query(&statement, &w.params()).await.map_err(backend)
}

pub async fn export_callbacks(
    store: &PgStore,
    filter: &CallbackFilter,
    descending: bool,
    after: Option<ExportCursor>,
    limit: u32,
) -> StoreResult<Vec<Callback>> {
    if limit == 0 {
        return Ok(Vec::new());
    }
    let client = store.client().await?;
    let after = after.map(|(time, cb)| (ms(time), uuid(cb)));
    keyset(&client, CALLBACK_COLUMNS, filter, descending, after, limit).await?.iter().map(callback).collect()
}

// ---- retention -------------------------------------------------------------------------------------

/// One retention pass, in one transaction, small enough never to hold anything up for long:
/// - up to `limit` callbacks whose `expires_at` has passed (oldest first, through `callback_expires`),
///   with their events and the idempotency keys that named them;
/// - up to `limit` tombstones past their date, with the history they kept;
/// - up to `limit` reports past their date: the header goes (the report is gone), and its lines are
///   deleted [`REPORT_LINES_PER_PASS`] at a time by this and the following passes.
///
/// Rows another transaction holds are skipped (`skip locked`) and left for the next pass: retention
/// never waits on, or deadlocks with, the traffic.
pub async fn purge_expired(store: &PgStore, now: Timestamp, limit: u32) -> StoreResult<PurgeOutcome> {
    let (now, limit) = (ms(now), i64::from(limit));
    let mut client = store.client().await?;
    let tx = client.transaction().await.map_err(backend)?;
    let (callbacks, tombstones, reports) = tokio::try_join!(
        ids_removed(
            &tx,
            "delete from callback where callback_id in (select callback_id from callback where expires_at <= $1 \
             order by expires_at limit $2 for update skip locked) returning callback_id",
            now,
            limit,
        ),
        ids_removed(
            &tx,
            "delete from callback_tombstone where callback_id in (select callback_id from callback_tombstone \
             where expires_at <= $1 order by expires_at limit $2 for update skip locked) returning callback_id",
            now,
            limit,
        ),
        remove_reports(&tx, now, limit),
    )?;
    let forgotten: Vec<Uuid> = callbacks.iter().chain(&tombstones).copied().collect();
    let events = forget_history(&tx, &forgotten).await?;
    purge_report_lines(&tx).await?;
    tx.commit().await.map_err(backend)?;
    let out = PurgeOutcome { callbacks: callbacks.len() as u64, events, reports };
    if out != PurgeOutcome::default() {
        store.committed();
    }
    Ok(out)
}

async fn ids_removed(tx: &Transaction<'_>, sql: &str, now: i64, limit: i64) -> StoreResult<Vec<Uuid>> {
    let st = tx.prepare_cached(sql).await.map_err(backend)?;
    let rows = tx.query(&st, &[&now, &limit]).await.map_err(|e| constraint(e, Op::Delete("callback")))?;
    rows.iter().map(|r| get(r, 0)).collect()
}

/// Removes the headers of expired reports and queues their lines for [`purge_report_lines`];
/// answers how many reports went.
async fn remove_reports(tx: &Transaction<'_>, now: i64, limit: i64) -> StoreResult<u64> {
    let st = tx
        .prepare_cached(
            "with gone as (delete from cancellation_report where report_id in (select report_id \
             from cancellation_report where expires_at <= $1 order by expires_at limit $2 for update skip locked) \
             returning report_id), \
             queued as (insert into cancellation_report_purge (report_id) select report_id from gone \
             on conflict (report_id) do nothing) \
             select count(*) from gone",
        )
        .await
        .map_err(backend)?;
    let row = tx.query_one(&st, &[&now, &limit]).await.map_err(|e| constraint(e, Op::Delete("cancellation report")))?;
    Ok(get::<i64>(&row, 0)?.max(0) as u64)
}

/// Deletes the audit events of `ids` and the idempotency keys that named them (one round trip);
/// returns the events.
async fn forget_history(tx: &Transaction<'_>, ids: &[Uuid]) -> StoreResult<u64> {
    if ids.is_empty() {
        return Ok(0);
    }
    let (events, keys) = tokio::try_join!(
        tx.prepare_cached("delete from callback_event where callback_id = any($1)"),
        tx.prepare_cached("delete from idempotency_key where callback_id = any($1)"),
    )
    .map_err(backend)?;
    let params: [&(dyn ToSql + Sync); 1] = [&ids];
    let (events, _) = tokio::try_join!(tx.execute(&events, &params), tx.execute(&keys, &params))
        .map_err(|e| constraint(e, Op::Delete("callback")))?;
    Ok(events)
}

/// Deletes up to [`REPORT_LINES_PER_PASS`] lines of reports retention has removed (first report,
/// first position first) and forgets a report once its last line is gone. The two statements run in
/// order in one round trip: the second sees what the first deleted.
async fn purge_report_lines(tx: &Transaction<'_>) -> StoreResult<()> {
    let (lines, done) = tokio::try_join!(
        tx.prepare_cached(
            "delete from cancellation_report_row r using (select report_id, position from cancellation_report_row \
             where report_id in (select report_id from cancellation_report_purge) \
             order by report_id, position limit $1) d \
             where r.report_id = d.report_id and r.position = d.position",
        ),
        tx.prepare_cached(
            "delete from cancellation_report_purge p where not exists \
             (select 1 from cancellation_report_row r where r.report_id = p.report_id)",
        ),
    )
    .map_err(backend)?;
    tokio::try_join!(tx.execute(&lines, &[&REPORT_LINES_PER_PASS]), tx.execute(&done, &[]))
        .map_err(|e| constraint(e, Op::Delete("cancellation report line")))?;
    Ok(())
}
