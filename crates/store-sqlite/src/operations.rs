//! The callback operations beyond create and a plain lifecycle step: in-place updates (edit, move,
//! transfer, reschedule), delete with its tombstone, bulk cancel with its kept report (the
//! Cancellation Summary Report), export pages, and retention.
//!
//! Every write here is a **check-first** job on the writer thread (see [`crate::writer`]): it reads
//! and checks everything before its first write, and each write is one statement, so a refusal has
//! written nothing and no savepoint is needed. That matters most for bulk cancel, which changes a
//! row and writes two more for every callback it covers: a savepoint would copy every page it
//! touches into a sub-journal first.
//!
//! Bulk cancel is split between the async side ([`crate::SqliteStore`]) and [`cancel_chunk`]: the
//! selection is resolved to ids first (a filter through the read pool, page by page), then cancelled
//! [`BULK_CHUNK`] ids per writer job. The writer drains its queue first in, first out, and the next
//! chunk is only queued once the previous one has committed, so every other write that arrived
//! meanwhile runs before it: a bulk cancel of any size holds other writers up for one chunk at most.
//! Each chunk reads the state of each callback inside its job, so a callback an agent accepted a
//! moment earlier is skipped and reported, never half-cancelled.

use std::borrow::Cow;
use std::collections::HashMap;
use std::collections::hash_map::Entry;

use jiff::{SignedDuration, Timestamp};
use rebound_domain::model::*;
use rebound_domain::state::{Action, CallbackResult, CallbackState, Status, transition as lifecycle};
use rebound_store::{
    CallbackFilter, CancellationReport, CancellationRow, ExportCursor, PurgeOutcome, SkippedCallback, StoreError,
    StoreResult, UpdateRequest,
};
use rusqlite::ToSql;
use rusqlite::types::{Null, Value, ValueRef};
use rusqlite::{Connection, OptionalExtension, params, params_from_iter};

use crate::callbacks::{
    COLS, callback_row, check_duplicates, check_slot, filter_clause, get, insert_event, overdue_at,
};
use crate::codec::*;
use crate::error::{Op, ResultExt, backend};
use rebound_store::steps::updated;

/// Callbacks cancelled per writer job. Large enough that per-job overhead (the channel, the commit's
/// fsync) is small against the rows; small enough (tens of milliseconds) that the writes queued
/// behind a chunk wait only a moment.
pub(crate) const BULK_CHUNK: usize = 5_000;
/// Ids read per read-pool job when a bulk cancel resolves a filter.
pub(crate) const SELECTION_PAGE: u32 = 20_000;
/// How long a report of ids that named no callback at all is kept.
const ORPHAN_REPORT_KEPT: SignedDuration = SignedDuration::from_hours(14 * 24);
/// Lines of already removed reports deleted per retention pass: a few milliseconds of writer time,
/// so even a million-line report goes without one long stall.
const REPORT_LINES_PER_PASS: i64 = 20_000;

fn not_found(id: CallbackId) -> StoreError {
    StoreError::not_found(format!("callback {id}"))
}

// ---- update ----------------------------------------------------------------------------------------

/// One in-place change with its audit event. Checks, in order: the callback exists, is in an
/// expected state, has not changed since the caller read it, the lifecycle allows the action, and
/// after the change the number is not a duplicate and the slot has room (the callback itself not
/// counted). Only then the single UPDATE and the event.
pub(crate) fn update(conn: &Connection, req: UpdateRequest) -> StoreResult<Callback> {
    let current = get(conn, req.id)?.ok_or_else(|| not_found(req.id))?;
    let (cb, from, to) = updated(current, &req)?;
    let at = trunc(req.at);

    if cb.state.is_active() {
        if let Some(limit) = req.duplicate_limit {
            check_duplicates(conn, &cb, limit, Some(cb.id))?;
        }
        if let (Some(capacity), Some(queue_id), Some(slot)) = (req.slot_capacity, cb.queue_id, cb.slot_start) {
            check_slot(conn, queue_id, slot, capacity, Some(cb.id))?;
        }
    }

    // A queue, agent, list or campaign that does not exist fails this statement alone (NotFound):
    // still nothing written.
    conn.prepare_cached(
        "update callback set type = ?2, campaign_id = ?3, list_id = ?4, queue_id = ?5, agent_id = ?6, notes = ?7, \
         data = ?8, desired_time = ?9, timezone = ?10, earliest_time = ?11, window_secs = ?12, overdue_at = ?13, \
         slot_start = ?14, expires_at = ?15, state = ?16, result = ?17, updated_at = ?18, queued_at = ?19, \
         offered_to = ?20, lease_id = ?21, hold_until = ?22 where callback_id = ?1",
    )
    .db()?
    .execute(params![
        id_bytes(cb.id),
        cb.kind.as_str(),
        cb.campaign_id,
        cb.list_id,
        cb.queue_id,
        cb.agent_id,
        cb.notes,
        to_json(&cb.data),
        ms(cb.desired_time),
        cb.timezone,
        opt_ms(cb.earliest_time),
        cb.window_secs,
        overdue_at(&cb),
        opt_ms(cb.slot_start),
        ms(cb.expires_at),
        cb.state.as_str(),
        cb.result.map(CallbackResult::as_str),
        ms(cb.updated_at),
        opt_ms(cb.queued_at),
        cb.offered_to,
        cb.lease_id,
        opt_ms(cb.hold_until),
    ])
    .on(Op::Write("callback"))?;
    insert_event(conn, cb.id, at, &req.actor, &req.event_action, Some(from.state), Some(to.state), &req.event_details)?;
    Ok(cb)
}

// ---- delete ----------------------------------------------------------------------------------------

/// Removes the record and keeps its tombstone: a `deleted` event whose details are the callback as it
/// was (so "who deleted what" has an answer), and a `callback_tombstone` row telling retention when
/// that history may go (the callback's own retention date).
pub(crate) fn delete(conn: &Connection, id: CallbackId, actor: &str, at: Timestamp) -> StoreResult<Callback> {
    let cb = get(conn, id)?.ok_or_else(|| not_found(id))?;
    let at = trunc(at);
    let snapshot = serde_json::to_value(&cb).map_err(backend)?;
    conn.prepare_cached("delete from callback where callback_id = ?1")
        .db()?
        .execute([id_bytes(id)])
        .on(Op::Delete("callback"))?;
    insert_event(conn, id, at, actor, "deleted", Some(cb.state), None, &snapshot)?;
    conn.prepare_cached(
        "insert into callback_tombstone (callback_id, deleted_at, actor, expires_at) values (?1, ?2, ?3, ?4) \
         on conflict (callback_id) do update set deleted_at = excluded.deleted_at, actor = excluded.actor, \
         expires_at = excluded.expires_at",
    )
    .db()?
    .execute(params![id_bytes(id), ms(at), actor, ms(cb.expires_at)])
    .on(Op::Write("callback tombstone"))?;
    Ok(cb)
}

// ---- bulk cancel -----------------------------------------------------------------------------------

/// What every chunk of one bulk cancel shares.
pub(crate) struct BulkCancel {
    pub(crate) report_id: String,
    pub(crate) by_customer: bool,
    pub(crate) reason: Option<String>,
    pub(crate) actor: String,
    pub(crate) at: Timestamp,
    /// The `cancelled` event's details, identical for every callback: serialised once.
    pub(crate) event_details: String,
}

impl BulkCancel {
    pub(crate) fn new(
        report_id: String,
        by_customer: bool,
        reason: Option<String>,
        actor: String,
        at: Timestamp,
    ) -> BulkCancel {
        let event_details = serde_json::json!({ "reason": reason, "bulk_report_id": report_id }).to_string();
        BulkCancel { report_id, by_customer, reason, actor, at: trunc(at), event_details }
    }
}

/// One writer job's share of a bulk cancel.
pub(crate) struct Chunk {
    /// The first chunk writes the report header (and refuses a report id already used).
    pub(crate) first: bool,
    /// The report position of `ids[0]`.
    pub(crate) position: i64,
    pub(crate) ids: Vec<CallbackId>,
    /// The largest `expires_at` of the report's callbacks in the chunks before this one.
    pub(crate) expires_before: Option<i64>,
}

pub(crate) struct ChunkOutcome {
    pub(crate) cancelled: u64,
    pub(crate) skipped: Vec<SkippedCallback>,
    /// The largest `expires_at` of the report's callbacks so far, this chunk included.
    pub(crate) expires: Option<i64>,
}

/// A callback's row as far as a bulk cancel needs it.
struct Target {
    rowid: i64,
    state: CallbackState,
    result: Option<CallbackResult>,
    phone: String,
    campaign_id: CampaignId,
    queue_id: Option<QueueId>,
    desired_time: i64,
    expires_at: i64,
}

/// What one report line says about its callback (`None`: the id named no callback).
struct Line<'a> {
    target: Option<Target>,
    cancelled: bool,
    reason: Cow<'a, str>,
}

fn state_ref(idx: usize, v: ValueRef<'_>) -> rusqlite::Result<CallbackState> {
    // Read in place: no String per row for a value that is one of five names.
    let s = v.as_str().map_err(|_| unreadable(idx, "non-text state"))?;
    named(idx, s, CallbackState::parse)
}

fn result_ref(idx: usize, v: ValueRef<'_>) -> rusqlite::Result<Option<CallbackResult>> {
    match v {
        ValueRef::Null => Ok(None),
        v => {
            let s = v.as_str().map_err(|_| unreadable(idx, "non-text result"))?;
            named(idx, s, CallbackResult::parse).map(Some)
        }
    }
}

/// Names of campaigns and queues, looked up once per chunk: a bulk cancel touches few of them.
#[derive(Default)]
struct Names {
    campaigns: HashMap<CampaignId, Option<String>>,
    queues: HashMap<QueueId, Option<String>>,
}

impl Names {
    /// Reads the names of a campaign and (optionally) a queue on first use.
    fn load(&mut self, conn: &Connection, campaign_id: CampaignId, queue_id: Option<QueueId>) -> StoreResult<()> {
        if let Entry::Vacant(e) = self.campaigns.entry(campaign_id) {
            e.insert(lookup_name(conn, "select name from campaign where campaign_id = ?1", campaign_id)?);
        }
        if let Some(q) = queue_id
            && let Entry::Vacant(e) = self.queues.entry(q)
        {
            e.insert(lookup_name(conn, "select name from queue where queue_id = ?1", q)?);
        }
        Ok(())
    }

    /// The campaign's name as a value to bind.
    fn campaign(&self, id: CampaignId) -> Option<&dyn ToSql> {
        self.campaigns.get(&id).and_then(|n| n.as_ref()).map(|n| n as &dyn ToSql)
    }

    /// The queue's name as a value to bind.
    fn queue(&self, id: Option<QueueId>) -> Option<&dyn ToSql> {
        id.and_then(|q| self.queues.get(&q)).and_then(|n| n.as_ref()).map(|n| n as &dyn ToSql)
    }
}

/// Columns of one report line, and lines per INSERT (14 × 500 = 7,000 parameters, well inside
/// SQLite's limit of 32,766).
const REPORT_COLUMNS: usize = 14;
const REPORT_ROWS_PER_INSERT: usize = 500;

/// `insert into cancellation_report_row … values (…), (…)` for `rows` lines. Only two texts are ever
/// made (a full group and the chunk's last), so the statement cache keeps both prepared.
fn report_insert_sql(rows: usize) -> String {
    let one = format!("({})", vec!["?"; REPORT_COLUMNS].join(", "));
    format!(
        "insert into cancellation_report_row (report_id, position, callback_id, phone, campaign_id, \
         campaign_name, queue_id, queue_name, desired_time, state_before, outcome, reason, actor, at) values {}",
        vec![one; rows].join(", ")
    )
}

/// Columns of one `cancelled` event as bound, and events per INSERT (6 × 500 = 3,000 parameters).
const EVENT_COLUMNS: usize = 6;
const EVENT_ROWS_PER_INSERT: usize = 500;

/// `insert into callback_event … values (…), (…)` for `rows` `cancelled` events (as with the report
/// lines, only two texts are ever made per bulk cancel).
fn event_insert_sql(rows: usize) -> String {
    let one = "(?, ?, ?, 'cancelled', ?, ?, ?)";
    format!(
        "insert into callback_event (callback_id, at, actor, action, from_state, to_state, details) values {}",
        vec![one; rows].join(", ")
    )
}

/// The stored name of a state as a `'static` value to bind (it stands in a row of references).
fn state_name(state: CallbackState) -> &'static dyn ToSql {
    match state {
        CallbackState::Scheduled => &"SCHEDULED",
        CallbackState::Queued => &"QUEUED",
        CallbackState::Routing => &"ROUTING",
        CallbackState::Processing => &"PROCESSING",
        CallbackState::Completed => &"COMPLETED",
    }
}

fn lookup_name(conn: &Connection, sql: &str, id: i64) -> StoreResult<Option<String>> {
    conn.prepare_cached(sql).db()?.query_row([id], |r| r.get(0)).optional().db()
}

/// Cancels one chunk: for each id, reads its state inside this job and either cancels it (the
/// lifecycle's `Cancel`, one UPDATE, one `cancelled` event) or skips it; either way one report line.
/// The report header is written by the first chunk and its expiry kept up to date by each.
///
/// The callbacks are visited in id order, not report order: ids are the order of the table and of
/// the event index, so neighbours share pages and a chunk reads and dirties each page once. The
/// report lines are then appended in report order.
pub(crate) fn cancel_chunk(conn: &Connection, bulk: &BulkCancel, chunk: &Chunk) -> StoreResult<ChunkOutcome> {
    if chunk.first {
        let used: bool = conn
            .prepare_cached("select exists (select 1 from cancellation_report where report_id = ?1)")
            .db()?
            .query_row([&bulk.report_id], |r| r.get(0))
            .db()?;
        if used {
            return Err(StoreError::Conflict(format!("a cancellation report {} already exists", bulk.report_id)));
        }
    }
    let at = ms(bulk.at);
    let action = Action::Cancel { by_customer: bulk.by_customer };
    let cancel_reason = bulk.reason.as_deref().unwrap_or("");
    let mut names = Names::default();
    let mut out = ChunkOutcome { cancelled: 0, skipped: Vec::new(), expires: chunk.expires_before };

    let mut read = conn
        .prepare_cached(
            "select rowid, state, result, phone, campaign_id, queue_id, desired_time, expires_at \
             from callback where callback_id = ?1",
        )
        .db()?;
    // By rowid: the row was just found, so the id index need not be searched a second time.
    // Only a ROUTING callback has holder fields to clear; naming them in the other statement would
    // make every cancel maintain the holder index too (measured: bulk cancel 89k → 100k+ rows/s).
    let mut cancel =
        conn.prepare_cached("update callback set state = ?2, result = ?3, updated_at = ?4 where rowid = ?1").db()?;
    let mut cancel_held = conn
        .prepare_cached(
            "update callback set state = ?2, result = ?3, updated_at = ?4, offered_to = null, lease_id = null, \
             hold_until = null where rowid = ?1",
        )
        .db()?;
    // The `cancelled` events of the chunk: (callback id, state before), written many per statement
    // after the loop, as the report lines are.
    let mut events: Vec<([u8; 16], &'static dyn ToSql)> = Vec::with_capacity(chunk.ids.len());

    let mut visit: Vec<usize> = (0..chunk.ids.len()).collect();
    visit.sort_unstable_by_key(|&i| chunk.ids[i]);
    let mut lines: Vec<Option<Line<'_>>> = std::iter::repeat_with(|| None).take(chunk.ids.len()).collect();
    for i in visit {
        let key = id_bytes(chunk.ids[i]);
        let target = read
            .query_row([key], |r| {
                Ok(Target {
                    rowid: r.get(0)?,
                    state: state_ref(1, r.get_ref(1)?)?,
                    result: result_ref(2, r.get_ref(2)?)?,
                    phone: r.get(3)?,
                    campaign_id: r.get(4)?,
                    queue_id: r.get(5)?,
                    desired_time: r.get(6)?,
                    expires_at: r.get(7)?,
                })
            })
            .optional()
            .db()?;
        let Some(t) = target else {
            lines[i] = Some(Line { target: None, cancelled: false, reason: Cow::Borrowed("not found") });
            continue;
        };
        out.expires = Some(out.expires.map_or(t.expires_at, |e| e.max(t.expires_at)));
        names.load(conn, t.campaign_id, t.queue_id)?;
        let from = Status { state: t.state, result: t.result };
        let line = match lifecycle(from, action) {
            Ok(to) => {
                let statement = if t.state == CallbackState::Routing { &mut cancel_held } else { &mut cancel };
                statement
                    .execute(params![t.rowid, to.state.as_str(), to.result.map(CallbackResult::as_str), at])
                    .on(Op::Write("callback"))?;
                events.push((key, state_name(from.state)));
                out.cancelled += 1;
                Line { cancelled: true, reason: Cow::Borrowed(cancel_reason), target: Some(t) }
            }
            Err(_) => Line { cancelled: false, reason: skip_reason(t.state), target: Some(t) },
        };
        lines[i] = Some(line);
    }

    let completed = state_name(CallbackState::Completed);
    for group in events.chunks(EVENT_ROWS_PER_INSERT) {
        let mut values: Vec<&dyn ToSql> = Vec::with_capacity(group.len() * EVENT_COLUMNS);
        for (key, from) in group {
            values.extend([key as &dyn ToSql, &at, &bulk.actor, *from, completed, &bulk.event_details]);
        }
        conn.prepare_cached(&event_insert_sql(group.len()))
            .db()?
            .execute(rusqlite::params_from_iter(values))
            .on(Op::Write("callback event"))?;
    }

    // The report lines, in report order, written many per statement: one statement per line was a
    // fifth of a bulk cancel's time, spent stepping statements rather than storing rows.
    let positions: Vec<i64> = (0..chunk.ids.len()).map(|i| chunk.position + i as i64).collect();
    let keys: Vec<[u8; 16]> = chunk.ids.iter().map(|&id| id_bytes(id)).collect();
    let mut rows: Vec<[&dyn ToSql; REPORT_COLUMNS]> = Vec::with_capacity(lines.len());
    for (i, line) in lines.iter().enumerate() {
        let Some(line) = line else { continue };
        let t = line.target.as_ref();
        if !line.cancelled {
            out.skipped.push(SkippedCallback {
                id: chunk.ids[i],
                state: t.map(|t| t.state),
                reason: line.reason.to_string(),
            });
        }
        let outcome: &'static dyn ToSql = if line.cancelled { &"cancelled" } else { &"skipped" };
        rows.push([
            &bulk.report_id,
            &positions[i],
            &keys[i],
            t.map(|t| &t.phone as &dyn ToSql).unwrap_or(&Null),
            t.map(|t| &t.campaign_id as &dyn ToSql).unwrap_or(&Null),
            t.and_then(|t| names.campaign(t.campaign_id)).unwrap_or(&Null),
            t.and_then(|t| t.queue_id.as_ref()).map(|q| q as &dyn ToSql).unwrap_or(&Null),
            t.and_then(|t| names.queue(t.queue_id)).unwrap_or(&Null),
            t.map(|t| &t.desired_time as &dyn ToSql).unwrap_or(&Null),
            t.map(|t| state_name(t.state)).unwrap_or(&Null),
            outcome,
            &line.reason,
            &bulk.actor,
            &at,
        ]);
    }
    for group in rows.chunks(REPORT_ROWS_PER_INSERT) {
        let sql = report_insert_sql(group.len());
        conn.prepare_cached(&sql)
            .db()?
            .execute(rusqlite::params_from_iter(group.iter().flatten()))
            .on(Op::Write("cancellation report line"))?;
    }

    // Until a callback is found, the report is kept for the retention period from now.
    let expires = out.expires.unwrap_or(ms(bulk.at + ORPHAN_REPORT_KEPT));
    if chunk.first {
        conn.prepare_cached(
            "insert into cancellation_report (report_id, actor, reason, created_at, expires_at) \
             values (?1, ?2, ?3, ?4, ?5)",
        )
        .db()?
        .execute(params![bulk.report_id, bulk.actor, bulk.reason, at, expires])
        .on(Op::Write("cancellation report"))?;
    } else if out.expires != chunk.expires_before {
        conn.prepare_cached("update cancellation_report set expires_at = ?2 where report_id = ?1")
            .db()?
            .execute(params![bulk.report_id, expires])
            .on(Op::Write("cancellation report"))?;
    }
    Ok(out)
}

/// Why a bulk cancel leaves a callback in `state` alone.
fn skip_reason(state: CallbackState) -> Cow<'static, str> {
    match state {
        CallbackState::Processing => Cow::Borrowed("in PROCESSING: an agent is handling it"),
        CallbackState::Completed => Cow::Borrowed("already COMPLETED"),
        other => Cow::Owned(format!("cannot be cancelled in {other}")),
    }
}

pub(crate) fn report(conn: &Connection, report_id: &str) -> StoreResult<Option<CancellationReport>> {
    let header: Option<(String, i64, i64)> = conn
        .prepare_cached("select actor, created_at, expires_at from cancellation_report where report_id = ?1")
        .db()?
        .query_row([report_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .optional()
        .db()?;
    let Some((actor, created_at, expires_at)) = header else { return Ok(None) };
    let rows = conn
        .prepare_cached(
            "select callback_id, phone, campaign_id, campaign_name, queue_id, queue_name, desired_time, \
             state_before, outcome, reason, actor, at \
             from cancellation_report_row where report_id = ?1 order by position",
        )
        .db()?
        .query_map([report_id], |r| {
            let campaign_id: Option<CampaignId> = r.get(2)?;
            let queue_id: Option<QueueId> = r.get(4)?;
            Ok(CancellationRow {
                callback_id: id_from(r.get(0)?),
                // A line for an id that named no callback has none of the callback's columns.
                phone: r.get::<_, Option<String>>(1)?.unwrap_or_default(),
                campaign_id: campaign_id.unwrap_or_default(),
                campaign_name: r
                    .get::<_, Option<String>>(3)?
                    .or(campaign_id.map(|id| id.to_string()))
                    .unwrap_or_default(),
                queue_id,
                queue_name: r.get::<_, Option<String>>(5)?.or(queue_id.map(|id| id.to_string())),
                desired_time: opt_ts(6, r.get(6)?)?.unwrap_or(Timestamp::UNIX_EPOCH),
                state_before: r.get::<_, Option<String>>(7)?.map(|s| named(7, &s, CallbackState::parse)).transpose()?,
                outcome: r.get(8)?,
                reason: r.get(9)?,
                actor: r.get(10)?,
                at: ts(11, r.get(11)?)?,
            })
        })
        .db()?
        .collect::<rusqlite::Result<Vec<_>>>()
        .db()?;
    Ok(Some(CancellationReport {
        report_id: report_id.to_string(),
        actor,
        created_at: ts(1, created_at).db()?,
        expires_at: ts(2, expires_at).db()?,
        rows,
    }))
}

// ---- export and selection --------------------------------------------------------------------------

/// A keyset page over `filter` in (desired_time, id) order: `select {cols} … limit ?`, strictly after
/// the cursor when there is one. Walks `callback_desired` in order, so each page costs its own rows
/// whatever page it is (an OFFSET would re-read every row before it).
fn keyset_sql(
    cols: &str,
    filter: &CallbackFilter,
    descending: bool,
    after: Option<(i64, [u8; 16])>,
) -> (String, Vec<Value>) {
    let mut w = filter_clause(filter, true);
    if let Some((time, id)) = after {
        w.and(if descending {
            "(c.desired_time, c.callback_id) < (?, ?)"
        } else {
            "(c.desired_time, c.callback_id) > (?, ?)"
        });
        w.bind(time);
        w.bind(Value::Blob(id.to_vec()));
    }
    let dir = if descending { "desc" } else { "asc" };
    let sql =
        format!("select {cols} from callback c{} order by c.desired_time {dir}, c.callback_id {dir} limit ?", w.sql);
    (sql, w.params)
}

pub(crate) fn export(
    conn: &Connection,
    filter: &CallbackFilter,
    descending: bool,
    after: Option<ExportCursor>,
    limit: u32,
) -> StoreResult<Vec<Callback>> {
    if limit == 0 {
        return Ok(Vec::new());
    }
    let (sql, mut params) = keyset_sql(COLS, filter, descending, after.map(|(t, id)| (ms(t), id_bytes(id))));
    params.push(Value::Integer(i64::from(limit)));
    let mut out = Vec::with_capacity(limit.min(10_000) as usize);
    let mut stmt = conn.prepare_cached(&sql).db()?;
    let mut rows = stmt.query(params_from_iter(params.iter())).db()?;
    while let Some(r) = rows.next().db()? {
        out.push(callback_row(r).db()?);
    }
    Ok(out)
}

/// One page of the ids a bulk-cancel filter selects, in desired-time order, with the keyset cursor of
/// its last row.
pub(crate) fn selection_page(
    conn: &Connection,
    filter: &CallbackFilter,
    after: Option<(i64, [u8; 16])>,
    limit: u32,
) -> StoreResult<Vec<(i64, [u8; 16])>> {
    let (sql, mut params) = keyset_sql("c.desired_time, c.callback_id", filter, false, after);
    params.push(Value::Integer(i64::from(limit)));
    conn.prepare_cached(&sql)
        .db()?
        .query_map(params_from_iter(params.iter()), |r| Ok((r.get(0)?, r.get(1)?)))
        .db()?
        .collect::<rusqlite::Result<Vec<_>>>()
        .db()
}

// ---- retention -------------------------------------------------------------------------------------

/// One retention pass, small enough never to hold the writer up for long:
/// - up to `limit` callbacks whose `expires_at` has passed (oldest first, through `callback_expires`),
///   with their events and the idempotency keys that named them;
/// - up to `limit` tombstones past their date, with the history they kept;
/// - up to `limit` reports past their date: the header goes (the report is gone), and its lines are
///   deleted [`REPORT_LINES_PER_PASS`] at a time by this and the following passes.
pub(crate) fn purge(conn: &Connection, now: Timestamp, limit: u32) -> StoreResult<PurgeOutcome> {
    let now = ms(now);
    let limit = i64::from(limit);
    let mut out = PurgeOutcome::default();

    let expired = ids_due(
        conn,
        "select callback_id from callback where expires_at <= ?1 order by expires_at limit ?2",
        now,
        limit,
    )?;
    for id in &expired {
        out.events += forget_history(conn, id)?;
        out.callbacks += delete_by_id(conn, "delete from callback where callback_id = ?1", id)?;
    }
    let tombstones = ids_due(
        conn,
        "select callback_id from callback_tombstone where expires_at <= ?1 order by expires_at limit ?2",
        now,
        limit,
    )?;
    for id in &tombstones {
        out.events += forget_history(conn, id)?;
        delete_by_id(conn, "delete from callback_tombstone where callback_id = ?1", id)?;
    }

    let reports: Vec<String> = conn
        .prepare_cached("select report_id from cancellation_report where expires_at <= ?1 order by expires_at limit ?2")
        .db()?
        .query_map(params![now, limit], |r| r.get(0))
        .db()?
        .collect::<rusqlite::Result<_>>()
        .db()?;
    for report_id in &reports {
        conn.prepare_cached("insert or ignore into cancellation_report_purge (report_id) values (?1)")
            .db()?
            .execute([report_id])
            .on(Op::Write("cancellation report"))?;
        out.reports += conn
            .prepare_cached("delete from cancellation_report where report_id = ?1")
            .db()?
            .execute([report_id])
            .on(Op::Delete("cancellation report"))? as u64;
    }
    purge_report_lines(conn)?;
    Ok(out)
}

fn ids_due(conn: &Connection, sql: &str, now: i64, limit: i64) -> StoreResult<Vec<[u8; 16]>> {
    conn.prepare_cached(sql)
        .db()?
        .query_map(params![now, limit], |r| r.get(0))
        .db()?
        .collect::<rusqlite::Result<_>>()
        .db()
}

fn delete_by_id(conn: &Connection, sql: &str, id: &[u8; 16]) -> StoreResult<u64> {
    Ok(conn.prepare_cached(sql).db()?.execute([id]).on(Op::Delete("callback"))? as u64)
}

/// Deletes a callback's audit events and the idempotency keys that named it; returns the events.
fn forget_history(conn: &Connection, id: &[u8; 16]) -> StoreResult<u64> {
    delete_by_id(conn, "delete from idempotency_key where callback_id = ?1", id)?;
    delete_by_id(conn, "delete from callback_event where callback_id = ?1", id)
}

/// Deletes up to [`REPORT_LINES_PER_PASS`] lines of reports retention has removed, oldest position
/// first, and forgets a report once its last line is gone.
fn purge_report_lines(conn: &Connection) -> StoreResult<()> {
    let mut budget = REPORT_LINES_PER_PASS;
    let pending: Vec<String> = conn
        .prepare_cached("select report_id from cancellation_report_purge limit 16")
        .db()?
        .query_map([], |r| r.get(0))
        .db()?
        .collect::<rusqlite::Result<_>>()
        .db()?;
    for report_id in &pending {
        if budget == 0 {
            break;
        }
        // Positions are 0..n, so "below the first remaining + budget" deletes at most `budget` lines
        // as one range of the primary key.
        let deleted = conn
            .prepare_cached(
                "delete from cancellation_report_row where report_id = ?1 and position < \
                 (select min(position) from cancellation_report_row where report_id = ?1) + ?2",
            )
            .db()?
            .execute(params![report_id, budget])
            .on(Op::Delete("cancellation report line"))?;
        budget -= deleted as i64;
        if budget > 0 {
            conn.prepare_cached("delete from cancellation_report_purge where report_id = ?1")
                .db()?
                .execute([report_id])
                .on(Op::Delete("cancellation report"))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(conn: &Connection, sql: &str, params: &[Value]) -> String {
        let rows: Vec<String> = conn
            .prepare(&format!("explain query plan {sql}"))
            .unwrap()
            .query_map(params_from_iter(params.iter()), |r| r.get::<_, String>(3))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        rows.join("\n")
    }

    fn migrated() -> (tempfile::TempDir, Connection) {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = crate::schema::open_writer(&dir.path().join("plan.db")).unwrap();
        crate::schema::migrate(&mut conn, 0).unwrap();
        (dir, conn)
    }

    #[test]
    fn export_pages_walk_the_desired_time_index_without_sorting_even_when_filtered_by_state() {
        let (_dir, conn) = migrated();
        let filter = CallbackFilter {
            states: vec![CallbackState::Scheduled, CallbackState::Queued],
            campaign_ids: vec![1],
            ..Default::default()
        };
        for descending in [false, true] {
            for after in [None, Some((5, [7u8; 16]))] {
                let (sql, mut params) = keyset_sql(COLS, &filter, descending, after);
                params.push(Value::Integer(1000));
                let plan = plan(&conn, &sql, &params);
                assert!(plan.contains("callback_desired"), "{plan}");
                assert!(!plan.contains("TEMP B-TREE"), "{plan}");
            }
        }
    }

    #[test]
    fn a_cursor_page_seeks_into_the_index_rather_than_scanning_from_the_start() {
        let (_dir, conn) = migrated();
        let (sql, mut params) = keyset_sql(COLS, &CallbackFilter::default(), false, Some((5, [7u8; 16])));
        params.push(Value::Integer(1000));
        let plan = plan(&conn, &sql, &params);
        assert!(plan.contains("SEARCH c USING INDEX callback_desired ((desired_time,callback_id)>(?,?))"), "{plan}");
    }

    #[test]
    fn retention_finds_its_work_through_the_expiry_indexes() {
        let (_dir, conn) = migrated();
        let params = [Value::Integer(0), Value::Integer(10)];
        let callbacks = plan(
            &conn,
            "select callback_id from callback where expires_at <= ?1 order by expires_at limit ?2",
            &params,
        );
        assert!(callbacks.contains("callback_expires"), "{callbacks}");
        let tombstones = plan(
            &conn,
            "select callback_id from callback_tombstone where expires_at <= ?1 order by expires_at limit ?2",
            &params,
        );
        assert!(tombstones.contains("callback_tombstone_expires"), "{tombstones}");
        let reports = plan(
            &conn,
            "select report_id from cancellation_report where expires_at <= ?1 order by expires_at limit ?2",
            &params,
        );
        assert!(reports.contains("cancellation_report_expires"), "{reports}");
        let keys = plan(&conn, "delete from idempotency_key where callback_id = ?1", &[Value::Blob(vec![0; 16])]);
        assert!(keys.contains("idempotency_key_callback"), "{keys}");
    }
}
