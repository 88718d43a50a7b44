//! Callbacks and their audit events: the hot paths.
//!
//! Writes (`create`, `create_batch`, `transition`) run as check-first jobs on the writer thread (see
//! [`crate::writer`]): every check they make (idempotency, duplicates, slot capacity, the transition
//! table and the holder, a recreated original, the agent whose presence a step sets) comes before
//! their first write, and each write is one statement, so with what they write (the row, its audit
//! event, the idempotency key, the original's link, the presence) they are one atomic step that no
//! concurrent request can slip between. They use only cached statements; a transition writes only the
//! columns it changed (see [`write_step`]), one cached statement per SET list.
//!
//! Reads build their SQL from the filter, with bound parameters only — no value is ever written into
//! the SQL text — and are shaped so the indexes of `0001_initial.sql` serve them: the list walks
//! `callback_desired` in order for desired-time ranges, phone searches go through `callback_phone`
//! and the lead phone indexes.

use jiff::Timestamp;
use rebound_domain::model::*;
use rebound_domain::state::{CallbackResult, CallbackState, Status, transition as lifecycle};
use rebound_store::{
    CallbackFilter, CreateOutcome, NewCallback, Page, PageRequest, SearchField, SlotBookings, Sort, SortField,
    StoreError, StoreResult, TransitionRequest,
};
use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, Row, params, params_from_iter};

use crate::codec::*;
use crate::error::{Op, ResultExt};

// The step rules both backends share; the rest of this store reaches them through this module.
pub(crate) use rebound_store::steps::{apply_status, apply_update, check_holder};

pub(crate) const COLS: &str = "c.callback_id, c.type, c.origin, c.phone, c.phone_raw, c.campaign_id, c.list_id, c.lead_id, \
    c.queue_id, c.agent_id, c.wrap_code, c.desired_time, c.timezone, c.lead_timezone, c.earliest_time, c.window_secs, \
    c.slot_start, c.state, c.result, c.attempts, c.priority, c.notes, c.data, c.created_by, c.created_at, \
    c.updated_at, c.queued_at, c.recreated_from, c.recreated_as, c.expires_at, c.offered_to, c.lease_id, c.hold_until";

/// How many columns [`COLS`] selects: a query may select more after them (e.g. the rowid).
pub(crate) const COLS_LEN: usize = 33;

pub(crate) fn callback_row(r: &Row<'_>) -> rusqlite::Result<Callback> {
    Ok(Callback {
        id: id_from(r.get(0)?),
        kind: named(1, &r.get::<_, String>(1)?, CallbackType::parse)?,
        origin: named(2, &r.get::<_, String>(2)?, Origin::parse)?,
        phone: r.get(3)?,
        phone_raw: r.get(4)?,
        campaign_id: r.get(5)?,
        list_id: r.get(6)?,
        lead_id: r.get(7)?,
        queue_id: r.get(8)?,
        agent_id: r.get(9)?,
        wrap_code: r.get(10)?,
        desired_time: ts(11, r.get(11)?)?,
        timezone: r.get(12)?,
        lead_timezone: r.get(13)?,
        earliest_time: opt_ts(14, r.get(14)?)?,
        window_secs: r.get(15)?,
        slot_start: opt_ts(16, r.get(16)?)?,
        state: named(17, &r.get::<_, String>(17)?, CallbackState::parse)?,
        result: r.get::<_, Option<String>>(18)?.map(|s| named(18, &s, CallbackResult::parse)).transpose()?,
        attempts: r.get(19)?,
        priority: r.get(20)?,
        notes: r.get(21)?,
        data: from_json(22, &r.get::<_, String>(22)?)?,
        created_by: r.get(23)?,
        created_at: ts(24, r.get(24)?)?,
        updated_at: ts(25, r.get(25)?)?,
        queued_at: opt_ts(26, r.get(26)?)?,
        offered_to: r.get(30)?,
        lease_id: r.get(31)?,
        hold_until: opt_ts(32, r.get(32)?)?,
        recreated_from: opt_id_from(r.get(27)?),
        recreated_as: opt_id_from(r.get(28)?),
        expires_at: ts(29, r.get(29)?)?,
    })
}

pub(crate) fn event_row(r: &Row<'_>) -> rusqlite::Result<CallbackEvent> {
    let state = |idx: usize, s: Option<String>| s.map(|s| named(idx, &s, CallbackState::parse)).transpose();
    Ok(CallbackEvent {
        id: r.get(0)?,
        callback_id: id_from(r.get(1)?),
        at: ts(2, r.get(2)?)?,
        actor: r.get(3)?,
        action: r.get(4)?,
        from_state: state(5, r.get(5)?)?,
        to_state: state(6, r.get(6)?)?,
        details: from_json(7, &r.get::<_, String>(7)?)?,
    })
}

pub(crate) use rebound_store::steps::{as_stored, overdue_at};

pub(crate) fn get(conn: &Connection, id: CallbackId) -> StoreResult<Option<Callback>> {
    conn.prepare_cached(&format!("select {COLS} from callback c where c.callback_id = ?1"))
        .db()?
        .query_row([id_bytes(id)], callback_row)
        .optional()
        .db()
}

pub(crate) fn find_idempotent(conn: &Connection, key: &str) -> StoreResult<Option<(String, Callback)>> {
    let seen: Option<(String, [u8; 16])> = conn
        .prepare_cached("select fingerprint, callback_id from idempotency_key where key = ?1")
        .db()?
        .query_row([key], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()
        .db()?;
    match seen {
        Some((fingerprint, id)) => Ok(get(conn, id_from(id))?.map(|callback| (fingerprint, callback))),
        None => Ok(None),
    }
}

pub(crate) fn events(conn: &Connection, id: CallbackId) -> StoreResult<Vec<CallbackEvent>> {
    conn.prepare_cached(
        "select callback_event_id, callback_id, at, actor, action, from_state, to_state, details \
         from callback_event where callback_id = ?1 order by callback_event_id",
    )
    .db()?
    .query_map([id_bytes(id)], event_row)
    .db()?
    .collect::<rusqlite::Result<Vec<_>>>()
    .db()
}

pub(crate) fn insert_event(
    conn: &Connection,
    id: CallbackId,
    at: Timestamp,
    actor: &str,
    action: &str,
    from: Option<CallbackState>,
    to: Option<CallbackState>,
    details: &serde_json::Value,
) -> StoreResult<()> {
    conn.prepare_cached(
        "insert into callback_event (callback_id, at, actor, action, from_state, to_state, details) \
         values (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )
    .db()?
    .execute(params![
        id_bytes(id),
        ms(at),
        actor,
        action,
        from.map(CallbackState::as_str),
        to.map(CallbackState::as_str),
        details.to_string()
    ])
    .on(Op::Write("callback event"))?;
    Ok(())
}

// ---- create ----------------------------------------------------------------------------------------

/// One create with all its checks. Every check comes before the first write, and each write is a
/// single statement, so a refusal has written nothing (the writer runs this without a savepoint).
/// Order matters: a replayed request must get its first answer even if the number has since become
/// a duplicate or the slot filled.
pub(crate) fn create(conn: &Connection, new: NewCallback) -> StoreResult<CreateOutcome> {
    if let Some(key) = &new.idempotency {
        let seen: Option<(String, [u8; 16])> = conn
            .prepare_cached("select fingerprint, callback_id from idempotency_key where key = ?1")
            .db()?
            .query_row([&key.key], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()
            .db()?;
        if let Some((fingerprint, id)) = seen {
            if fingerprint != key.fingerprint {
                return Err(StoreError::IdempotencyMismatch);
            }
            if let Some(first) = get(conn, id_from(id))? {
                return Ok(CreateOutcome::Replayed(first));
            }
            // The first callback was deleted or purged: the key no longer names anything and is
            // taken over below (no write here: every check comes before the first write).
        }
    }

    let cb = as_stored(new.callback);
    if let Some(original) = cb.recreated_from {
        check_recreatable(conn, original)?;
    }
    if cb.state.is_active() {
        if let Some(limit) = new.duplicate_limit {
            check_duplicates(conn, &cb, limit, None)?;
        }
        if let (Some(capacity), Some(queue_id), Some(slot)) = (new.slot_capacity, cb.queue_id, cb.slot_start) {
            check_slot(conn, queue_id, slot, capacity, None)?;
        }
    }

    insert_callback(conn, &cb)?;
    insert_event(
        conn,
        cb.id,
        cb.created_at,
        &cb.created_by,
        &new.event_action,
        None,
        Some(cb.state),
        &new.event_details,
    )?;
    if let Some(key) = &new.idempotency {
        conn.prepare_cached(
            "insert into idempotency_key (key, fingerprint, callback_id, created_at) values (?1, ?2, ?3, ?4) \
             on conflict (key) do update set fingerprint = excluded.fingerprint, callback_id = excluded.callback_id, \
             created_at = excluded.created_at",
        )
        .db()?
        .execute(params![key.key, key.fingerprint, id_bytes(cb.id), ms(cb.created_at)])
        .on(Op::Write("idempotency key"))?;
    }
    if let Some(original) = cb.recreated_from {
        conn.prepare_cached("update callback set recreated_as = ?2, updated_at = ?3 where callback_id = ?1")
            .db()?
            .execute(params![id_bytes(original), id_bytes(cb.id), ms(cb.created_at)])
            .on(Op::Write("callback"))?;
        let completed = Some(CallbackState::Completed);
        let details = serde_json::json!({ "recreated_as": cb.id });
        insert_event(conn, original, cb.created_at, &cb.created_by, "recreated", completed, completed, &details)?;
    }
    Ok(CreateOutcome::Created(cb))
}

/// A callback may be recreated once, and only after it completed: the new one is its successor, and
/// a second successor (or one for a callback still in play) would be a second live callback for the
/// same request.
fn check_recreatable(conn: &Connection, original: CallbackId) -> StoreResult<()> {
    let found: Option<(String, Option<[u8; 16]>)> = conn
        .prepare_cached("select state, recreated_as from callback where callback_id = ?1")
        .db()?
        .query_row([id_bytes(original)], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()
        .db()?;
    match found {
        None => Err(StoreError::not_found(format!("callback {original}"))),
        Some((state, _)) if state != CallbackState::Completed.as_str() => Err(StoreError::Conflict(format!(
            "only a completed callback can be recreated; callback {original} is {state}"
        ))),
        Some((_, Some(successor))) => {
            Err(StoreError::Conflict(format!("callback {original} was already recreated as {}", id_from(successor))))
        }
        Some((_, None)) => Ok(()),
    }
}

/// Refuses when the scope already holds `limit` active callbacks for the number. The scope is the
/// queue; an agent callback without a queue is scoped to its campaign and agent. `exclude` is the
/// callback being updated, which must not count against itself.
pub(crate) fn check_duplicates(
    conn: &Connection,
    cb: &Callback,
    limit: u32,
    exclude: Option<CallbackId>,
) -> StoreResult<()> {
    // `is not NULL` holds for every row, so a create (no exclusion) counts them all.
    let exclude = exclude.map(id_bytes);
    let (count, oldest): (i64, Option<[u8; 16]>) = match cb.queue_id {
        Some(queue_id) => conn
            .prepare_cached(
                "select count(*), min(callback_id) from callback \
                 where queue_id = ?1 and phone = ?2 and state <> 'COMPLETED' and callback_id is not ?3",
            )
            .db()?
            .query_row(params![queue_id, cb.phone, exclude], |r| Ok((r.get(0)?, r.get(1)?))),
        None => conn
            .prepare_cached(
                "select count(*), min(callback_id) from callback \
                 where phone = ?1 and campaign_id = ?2 and agent_id is ?3 and queue_id is null \
                 and state <> 'COMPLETED' and callback_id is not ?4",
            )
            .db()?
            .query_row(params![cb.phone, cb.campaign_id, cb.agent_id, exclude], |r| Ok((r.get(0)?, r.get(1)?))),
    }
    .db()?;
    match oldest {
        Some(existing) if count >= i64::from(limit) => Err(StoreError::Duplicate { existing_id: id_from(existing) }),
        _ => Ok(()),
    }
}

/// Refuses when the queue's slot already holds `capacity` active bookings, not counting `exclude`
/// (the callback being updated, which may stay in its own full slot).
pub(crate) fn check_slot(
    conn: &Connection,
    queue_id: QueueId,
    slot: Timestamp,
    capacity: u32,
    exclude: Option<CallbackId>,
) -> StoreResult<()> {
    let booked: i64 = match exclude {
        // Counted from the partial index alone: the create path never reads the table here.
        None => conn
            .prepare_cached(
                "select count(*) from callback \
                 where queue_id = ?1 and slot_start = ?2 and state <> 'COMPLETED' and slot_start is not null",
            )
            .db()?
            .query_row(params![queue_id, ms(slot)], |r| r.get(0)),
        Some(id) => conn
            .prepare_cached(
                "select count(*) from callback \
                 where queue_id = ?1 and slot_start = ?2 and state <> 'COMPLETED' and slot_start is not null \
                 and callback_id <> ?3",
            )
            .db()?
            .query_row(params![queue_id, ms(slot), id_bytes(id)], |r| r.get(0)),
    }
    .db()?;
    if booked >= i64::from(capacity) {
        return Err(StoreError::SlotFull { slot_start: slot, capacity });
    }
    Ok(())
}

pub(crate) fn insert_callback(conn: &Connection, c: &Callback) -> StoreResult<()> {
    conn.prepare_cached(
        "insert into callback (callback_id, type, origin, phone, phone_raw, campaign_id, list_id, lead_id, queue_id, \
         agent_id, wrap_code, desired_time, timezone, lead_timezone, earliest_time, window_secs, overdue_at, \
         slot_start, state, result, attempts, priority, notes, data, created_by, created_at, updated_at, queued_at, \
         recreated_from, recreated_as, expires_at, offered_to, lease_id, hold_until) values (?1, ?2, ?3, ?4, ?5, ?6, \
         ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26, ?27, ?28, \
         ?29, ?30, ?31, ?32, ?33, ?34)",
    )
    .db()?
    .execute(params![
        id_bytes(c.id),
        c.kind.as_str(),
        c.origin.as_str(),
        c.phone,
        c.phone_raw,
        c.campaign_id,
        c.list_id,
        c.lead_id,
        c.queue_id,
        c.agent_id,
        c.wrap_code,
        ms(c.desired_time),
        c.timezone,
        c.lead_timezone,
        opt_ms(c.earliest_time),
        c.window_secs,
        overdue_at(c),
        opt_ms(c.slot_start),
        c.state.as_str(),
        c.result.map(CallbackResult::as_str),
        c.attempts,
        c.priority,
        c.notes,
        to_json(&c.data),
        c.created_by,
        ms(c.created_at),
        ms(c.updated_at),
        opt_ms(c.queued_at),
        c.recreated_from.map(id_bytes),
        c.recreated_as.map(id_bytes),
        ms(c.expires_at),
        c.offered_to,
        c.lease_id,
        opt_ms(c.hold_until),
    ])
    .on(Op::Write("callback"))?;
    Ok(())
}

/// Many creates in one job. Each item makes its checks before its first write (see [`create`]), so a
/// refused item has written nothing and needs no savepoint; an item that fails after writing fails
/// the whole job, which makes the writer roll back the batch rather than keep half an item.
pub(crate) fn create_batch(conn: &Connection, batch: Vec<NewCallback>) -> StoreResult<Vec<StoreResult<CreateOutcome>>> {
    let mut out = Vec::with_capacity(batch.len());
    for new in batch {
        let before = conn.total_changes();
        let result = create(conn, new);
        if let Err(e) = &result
            && conn.total_changes() != before
        {
            return Err(StoreError::Backend(format!("a batch item failed after it had begun: {e}")));
        }
        out.push(result);
    }
    Ok(out)
}

// ---- transition ------------------------------------------------------------------------------------

/// Reads a callback with its rowid, so the write that follows finds the row without searching the
/// id index a second time.
pub(crate) fn get_for_update(conn: &Connection, id: CallbackId) -> StoreResult<Option<(i64, Callback)>> {
    conn.prepare_cached(&format!("select {COLS}, c.rowid from callback c where c.callback_id = ?1"))
        .db()?
        .query_row([id_bytes(id)], |r| Ok((r.get(COLS_LEN)?, callback_row(r)?)))
        .optional()
        .db()
}

/// The columns a lifecycle step may change, as stored.
fn step_values(cb: &Callback) -> [(&'static str, Value); 17] {
    let text = |s: Option<&str>| s.map_or(Value::Null, |s| Value::Text(s.to_string()));
    let int = |v: Option<i64>| v.map_or(Value::Null, Value::Integer);
    [
        ("state", Value::Text(cb.state.as_str().to_string())),
        ("result", text(cb.result.map(CallbackResult::as_str))),
        ("desired_time", Value::Integer(ms(cb.desired_time))),
        ("timezone", text(cb.timezone.as_deref())),
        ("earliest_time", int(opt_ms(cb.earliest_time))),
        ("overdue_at", int(overdue_at(cb))),
        ("slot_start", int(opt_ms(cb.slot_start))),
        ("expires_at", Value::Integer(ms(cb.expires_at))),
        ("agent_id", int(cb.agent_id)),
        ("attempts", Value::Integer(i64::from(cb.attempts))),
        ("updated_at", Value::Integer(ms(cb.updated_at))),
        ("queued_at", int(opt_ms(cb.queued_at))),
        ("wrap_code", text(cb.wrap_code.as_deref())),
        ("notes", text(cb.notes.as_deref())),
        ("offered_to", int(cb.offered_to)),
        ("lease_id", text(cb.lease_id.as_deref())),
        ("hold_until", int(opt_ms(cb.hold_until))),
    ]
}

/// Writes what a step changed, and only that: SQLite rewrites the entry of every index that names a
/// column of the SET list (even to the same value), so a step that sets only its state, time and
/// holder leaves the desired-time, expiry and slot indexes alone. The few SET lists steps produce
/// each get their cached statement.
pub(crate) fn write_step(conn: &Connection, rowid: i64, before: &Callback, after: &Callback) -> StoreResult<()> {
    let mut sql = String::with_capacity(160);
    sql.push_str("update callback set ");
    let mut values = Vec::with_capacity(18);
    for ((col, old), (_, new)) in step_values(before).into_iter().zip(step_values(after)) {
        if old != new {
            if !values.is_empty() {
                sql.push_str(", ");
            }
            sql.push_str(col);
            sql.push_str(" = ?");
            values.push(new);
        }
    }
    if values.is_empty() {
        return Ok(());
    }
    sql.push_str(" where rowid = ?");
    values.push(Value::Integer(rowid));
    conn.prepare_cached(&sql).db()?.execute(params_from_iter(values)).on(Op::Write("callback"))?;
    Ok(())
}

/// Refuses with `NotFound` unless the agent exists (checked before a step writes anything).
pub(crate) fn check_agent(conn: &Connection, agent_id: AgentId) -> StoreResult<()> {
    let found = conn
        .prepare_cached("select 1 from agent where agent_id = ?1")
        .db()?
        .query_row([agent_id], |_| Ok(()))
        .optional()
        .db()?;
    found.ok_or_else(|| StoreError::not_found(format!("agent {agent_id}")))
}

/// Sets an agent's presence; `ready_since` is `ready_since` when ready, cleared otherwise.
pub(crate) fn write_presence(
    conn: &Connection,
    agent_id: AgentId,
    presence: Presence,
    ready_since: Option<Timestamp>,
) -> StoreResult<()> {
    let ready_since = if presence == Presence::Ready { opt_ms(ready_since) } else { None };
    conn.prepare_cached("update agent set presence = ?2, ready_since = ?3 where agent_id = ?1")
        .db()?
        .execute(params![agent_id, presence.as_str(), ready_since])
        .on(Op::Write("agent"))?;
    Ok(())
}

/// One lifecycle step. Check-first (see the module doc): the callback's existence, its holder, the
/// expected state, the transition table and the agent whose presence changes are all checked before
/// the first write; then the callback row (one statement; a reference to a missing agent fails it
/// alone), the event, and the presence.
pub(crate) fn transition(conn: &Connection, req: TransitionRequest) -> StoreResult<Callback> {
    let (rowid, current) =
        get_for_update(conn, req.id)?.ok_or_else(|| StoreError::not_found(format!("callback {}", req.id)))?;
    if let Some(holder) = &req.holder {
        check_holder(&current, holder)?;
    }
    let from = Status { state: current.state, result: current.result };
    if !req.expect.is_empty() && !req.expect.contains(&current.state) {
        return Err(rebound_domain::state::IllegalTransition { from, action: req.action }.into());
    }
    let to = lifecycle(from, req.action)?;
    if let Some(change) = &req.presence {
        check_agent(conn, change.agent_id)?;
    }
    let at = trunc(req.at);

    let mut cb = current.clone();
    apply_update(&mut cb, req.update);
    apply_status(&mut cb, to, at);

    write_step(conn, rowid, &current, &cb)?;
    insert_event(conn, cb.id, at, &req.actor, &req.event_action, Some(from.state), Some(to.state), &req.event_details)?;
    if let Some(change) = req.presence {
        write_presence(conn, change.agent_id, change.presence, Some(at))?;
    }
    Ok(cb)
}

// ---- reads -----------------------------------------------------------------------------------------

/// A WHERE clause under construction: SQL text with `?` placeholders and the values they bind.
#[derive(Default)]
pub(crate) struct Clause {
    pub(crate) sql: String,
    pub(crate) params: Vec<Value>,
}

impl Clause {
    pub(crate) fn and(&mut self, sql: &str) {
        self.sql.push_str(if self.sql.is_empty() { " where " } else { " and " });
        self.sql.push_str(sql);
    }

    pub(crate) fn bind(&mut self, v: impl Into<Value>) {
        self.params.push(v.into());
    }

    /// `col in (?, ?, …)` binding `values`.
    fn any_of<V: Into<Value>>(&mut self, col: &str, values: impl IntoIterator<Item = V>) {
        let mut sql = format!("{col} in (");
        for (i, v) in values.into_iter().enumerate() {
            sql.push_str(if i == 0 { "?" } else { ", ?" });
            self.bind(v);
        }
        sql.push(')');
        self.and(&sql);
    }
}

/// `(c.phone in (…) or c.lead_id in (select … phone1/2/3 in (…)))`, binding the numbers four times.
fn phones_sql(phones: &[String], params: &mut Vec<Value>) -> String {
    let marks = vec!["?"; phones.len()].join(", ");
    for _ in 0..4 {
        params.extend(phones.iter().map(|p| Value::Text(p.clone())));
    }
    format!(
        "(c.phone in ({marks}) or c.lead_id in (select lead_id from lead \
         where phone1 in ({marks}) or phone2 in ({marks}) or phone3 in ({marks})))"
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

/// The column search of `q`/`q_field`: case-insensitive (ASCII) substring match.
fn text_search(w: &mut Clause, field: SearchField, needle: &str) {
    let needle = needle.trim();
    if needle.is_empty() {
        return;
    }
    const LIKE: &str = "like ? escape '\\'";
    let campaign = format!("c.campaign_id in (select campaign_id from campaign where name {LIKE})");
    let list = format!("c.list_id in (select list_id from list where name {LIKE})");
    let queue = format!("c.queue_id in (select queue_id from queue where name {LIKE})");
    let agent = format!("c.agent_id in (select agent_id from agent where name {LIKE} or username {LIKE})");
    let lead = format!("(cast(c.lead_id as text) {LIKE} or c.lead_id in (select lead_id from lead where name {LIKE}))");
    let (sql, binds) = match field {
        // Ids are stored as bytes: match the needle's hex digits against the hex form.
        SearchField::Id => {
            let hex: String = needle.chars().filter(|c| *c != '-').collect();
            w.and(&format!("hex(c.callback_id) {LIKE}"));
            w.bind(like_pattern(&hex));
            return;
        }
        SearchField::Phone => (format!("(c.phone {LIKE} or c.phone_raw {LIKE})"), 2),
        SearchField::State => (format!("(c.state {LIKE} or c.result {LIKE})"), 2),
        SearchField::Campaign => (campaign, 1),
        SearchField::List => (list, 1),
        SearchField::Queue => (queue, 1),
        SearchField::Agent => (agent, 2),
        SearchField::Lead => (lead, 2),
        SearchField::WrapCode => (format!("c.wrap_code {LIKE}"), 1),
        SearchField::Notes => (format!("c.notes {LIKE}"), 1),
        SearchField::Any => (
            format!(
                "(c.phone {LIKE} or c.phone_raw {LIKE} or c.notes {LIKE} or c.wrap_code {LIKE} \
                 or {campaign} or {list} or {queue} or {agent} or {lead})"
            ),
            11,
        ),
    };
    debug_assert_eq!(sql.matches('?').count(), binds);
    w.and(&sql);
    let pattern = like_pattern(needle);
    for _ in 0..binds {
        w.bind(pattern.clone());
    }
}

/// The WHERE clause of the list filters. `walk_desired` says the query walks `callback_desired` in
/// order (a desired-time range, or an export/selection paging through it), which shapes the state
/// filter so the planner keeps to that index.
pub(crate) fn filter_clause(f: &CallbackFilter, walk_desired: bool) -> Clause {
    let mut w = Clause::default();
    let ranged = walk_desired || f.from.is_some() || f.to.is_some();
    if let Some(from) = f.from {
        w.and("c.desired_time >= ?");
        w.bind(ms(from));
    }
    if let Some(to) = f.to {
        w.and("c.desired_time < ?");
        w.bind(ms(to));
    }
    if !f.states.is_empty() {
        // With a desired-time range, the unary `+` keeps the planner on `callback_desired` (ordered,
        // bounded) instead of walking every row of a state through `callback_due` and sorting.
        let col = if ranged { "+c.state" } else { "c.state" };
        w.any_of(col, f.states.iter().map(|s| s.as_str().to_string()));
    }
    if !f.campaign_ids.is_empty() {
        w.any_of("c.campaign_id", f.campaign_ids.iter().copied());
    }
    if !f.list_ids.is_empty() {
        w.any_of("c.list_id", f.list_ids.iter().copied());
    }
    if !f.queue_ids.is_empty() {
        w.any_of("c.queue_id", f.queue_ids.iter().copied());
    }
    if !f.agent_ids.is_empty() {
        w.any_of("c.agent_id", f.agent_ids.iter().copied());
    }
    if let Some(kind) = f.kind {
        w.and("c.type = ?");
        w.bind(kind.as_str().to_string());
    }
    if !f.wrap_codes.is_empty() {
        w.any_of("c.wrap_code", f.wrap_codes.iter().cloned());
    }
    if let Some(phones) = &f.phones {
        if phones.is_empty() {
            w.and("0");
        } else {
            let sql = phones_sql(phones, &mut w.params);
            w.and(&sql);
        }
    }
    if let Some((field, needle)) = &f.text {
        text_search(&mut w, *field, needle);
    }
    if let Some(at) = f.overdue_at {
        // Overdue = still SCHEDULED after earliest_time + window. `earliest_time < at` is implied
        // (the window is never negative) and lets SQLite walk `callback_due (state, earliest_time)`.
        w.and("c.state = 'SCHEDULED' and c.earliest_time < ? and c.overdue_at < ?");
        w.bind(ms(at));
        w.bind(ms(at));
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
        SortField::Phone => "c.phone",
        SortField::Priority => "c.priority",
    };
    if sort.field == SortField::EarliestTime {
        format!(" order by {key}, c.callback_id {dir}")
    } else {
        format!(" order by {key} {dir}, c.callback_id {dir}")
    }
}

/// The SQL of one list page and its parameters (exposed for the query-plan test).
fn list_sql(filter: &CallbackFilter, sort: Sort) -> (String, String, Vec<Value>) {
    let w = filter_clause(filter, false);
    let count = format!("select count(*) from callback c{}", w.sql);
    let mut sql = format!("select {COLS} from callback c{}", w.sql);
    sql.push_str(&order_by(sort));
    // Paging is bound too, so every page of one filter shape reuses one cached statement.
    sql.push_str(" limit ? offset ?");
    (sql, count, w.params)
}

pub(crate) fn list(
    conn: &Connection,
    filter: &CallbackFilter,
    sort: Sort,
    page: PageRequest,
) -> StoreResult<Page<Callback>> {
    let (sql, count_sql, params) = list_sql(filter, sort);
    let total: i64 =
        conn.prepare_cached(&count_sql).db()?.query_row(params_from_iter(params.iter()), |r| r.get(0)).db()?;
    let items = if page.page_size == 0 || page.offset() >= total as u64 {
        Vec::new()
    } else {
        let paging = [Value::Integer(i64::from(page.page_size)), Value::Integer(page.offset() as i64)];
        conn.prepare_cached(&sql)
            .db()?
            .query_map(params_from_iter(params.iter().chain(paging.iter())), callback_row)
            .db()?
            .collect::<rusqlite::Result<Vec<_>>>()
            .db()?
    };
    Ok(Page { items, total: total as u64 })
}

pub(crate) fn search(
    conn: &Connection,
    id: Option<CallbackId>,
    phones: &[String],
    limit: u32,
) -> StoreResult<Vec<Callback>> {
    let mut params: Vec<Value> = Vec::new();
    let mut terms: Vec<String> = Vec::new();
    if let Some(id) = id {
        terms.push("c.callback_id = ?".into());
        params.push(Value::Blob(id_bytes(id).to_vec()));
    }
    if !phones.is_empty() {
        terms.push(phones_sql(phones, &mut params));
    }
    if terms.is_empty() || limit == 0 {
        return Ok(Vec::new());
    }
    params.push(Value::Integer(i64::from(limit)));
    let sql = format!(
        "select {COLS} from callback c where {} order by c.desired_time desc, c.callback_id desc limit ?",
        terms.join(" or ")
    );
    conn.prepare_cached(&sql)
        .db()?
        .query_map(params_from_iter(params.iter()), callback_row)
        .db()?
        .collect::<rusqlite::Result<Vec<_>>>()
        .db()
}

pub(crate) fn slot_bookings(
    conn: &Connection,
    queue_id: QueueId,
    from: Timestamp,
    to: Timestamp,
) -> StoreResult<SlotBookings> {
    conn.prepare_cached(
        "select slot_start, count(*) from callback \
         where queue_id = ?1 and slot_start >= ?2 and slot_start < ?3 and state <> 'COMPLETED' \
         and slot_start is not null group by slot_start order by slot_start",
    )
    .db()?
    .query_map(params![queue_id, ms(from), ms(to)], |r| Ok((ts(0, r.get(0)?)?, r.get::<_, u32>(1)?)))
    .db()?
    .collect::<rusqlite::Result<Vec<_>>>()
    .db()
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
        let (sql, count, params) = list_sql(&f, Sort::default());
        assert!(!sql.contains("drop table") && !sql.contains("brien") && !count.contains("+44"));
        assert_eq!(params.len(), 1 + 11 + 4);
    }

    #[test]
    fn a_desired_time_page_walks_the_desired_time_index_without_sorting() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = crate::schema::open_writer(&dir.path().join("plan.db")).unwrap();
        crate::schema::migrate(&mut conn, 0).unwrap();
        let f = CallbackFilter {
            from: Some(Timestamp::UNIX_EPOCH),
            to: Some(Timestamp::MAX),
            states: vec![CallbackState::Scheduled, CallbackState::Queued],
            campaign_ids: vec![1],
            ..Default::default()
        };
        let (sql, _, mut params) = list_sql(&f, Sort::default());
        params.extend([Value::Integer(250), Value::Integer(0)]);
        let plan: Vec<String> = conn
            .prepare(&format!("explain query plan {sql}"))
            .unwrap()
            .query_map(params_from_iter(params.iter()), |r| r.get::<_, String>(3))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let plan = plan.join("\n");
        assert!(plan.contains("callback_desired"), "{plan}");
        assert!(!plan.contains("TEMP B-TREE"), "{plan}");
    }
}
