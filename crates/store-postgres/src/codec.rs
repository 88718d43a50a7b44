//! Between domain values and PostgreSQL columns: instants are bigint epoch milliseconds (the
//! precision every Rebound store keeps), callback ids native uuids, enums their `as_str` text,
//! structured configuration JSON text in exactly the SQLite store's shape (so both stores hold, and
//! compare, byte-identical JSON).
//!
//! Each record has a `*_COLUMNS` select list and a decoder that reads a row of it by position: a query
//! may select more columns *after* the list (positions [`CALLBACK_COLUMNS_LEN`] onwards for callbacks).
//! The lists use table aliases — `c` for `callback`, `a` for `agent` — so they can be joined.
//!
//! Dialling hours, exceptions and lead calling hours are read back by this module's own small parser
//! rather than the domain's serde (as on SQLite): the stored form is a storage contract of its own and
//! reading a row never depends on (or panics in) the API's validation rules.

use jiff::Timestamp;
use rebound_domain::hours::{CallingHours, DateException, DiallingHours};
use rebound_domain::model::*;
use rebound_domain::state::{CallbackResult, CallbackState};
use rebound_store::columns;
pub(crate) use rebound_store::columns::{calling_hours_to_json, exceptions_to_json, hours_to_json};
use rebound_store::{StoreError, StoreResult};
use tokio_postgres::Row;
use tokio_postgres::types::FromSql;

use crate::error::backend;

// ---- instants ----------------------------------------------------------------------------------

/// Now, in epoch milliseconds.
pub(crate) fn now_ms() -> i64 {
    Timestamp::now().as_millisecond()
}

pub(crate) fn ms(at: Timestamp) -> i64 {
    at.as_millisecond()
}

pub(crate) fn opt_ms(at: Option<Timestamp>) -> Option<i64> {
    at.map(ms)
}

pub(crate) fn at(ms: i64) -> Timestamp {
    Timestamp::from_millisecond(ms).unwrap_or(Timestamp::UNIX_EPOCH)
}

pub(crate) use rebound_store::steps::trunc;

// ---- ids -----------------------------------------------------------------------------------------

pub(crate) fn uuid(id: CallbackId) -> uuid::Uuid {
    id.0
}

pub(crate) fn id(uuid: uuid::Uuid) -> CallbackId {
    CallbackId(uuid)
}

// ---- reading columns -----------------------------------------------------------------------------

/// A value the schema admits but the domain cannot read (a bug or a hand-edited database).
pub(crate) fn unreadable(value: impl std::fmt::Debug) -> StoreError {
    StoreError::Backend(format!("unreadable stored value {value:?}"))
}

/// Column `idx` of `row`; a type mismatch is a bug, reported as a backend failure.
pub(crate) fn get<'a, T: FromSql<'a>>(row: &'a Row, idx: usize) -> StoreResult<T> {
    row.try_get(idx).map_err(backend)
}

pub(crate) fn get_ts(row: &Row, idx: usize) -> StoreResult<Timestamp> {
    let ms: i64 = get(row, idx)?;
    Timestamp::from_millisecond(ms).map_err(|_| unreadable(ms))
}

pub(crate) fn get_opt_ts(row: &Row, idx: usize) -> StoreResult<Option<Timestamp>> {
    let ms: Option<i64> = get(row, idx)?;
    ms.map(|ms| Timestamp::from_millisecond(ms).map_err(|_| unreadable(ms))).transpose()
}

/// A bigint column the domain holds as `u32` (counts, seconds, minutes).
pub(crate) fn get_u32(row: &Row, idx: usize) -> StoreResult<u32> {
    let v: i64 = get(row, idx)?;
    u32::try_from(v).map_err(|_| unreadable(v))
}

fn get_i32(row: &Row, idx: usize) -> StoreResult<i32> {
    let v: i64 = get(row, idx)?;
    i32::try_from(v).map_err(|_| unreadable(v))
}

/// An enum stored by name.
pub(crate) fn get_named<T>(row: &Row, idx: usize, parse: impl Fn(&str) -> Option<T>) -> StoreResult<T> {
    let s: &str = get(row, idx)?;
    parse(s).ok_or_else(|| unreadable(s))
}

fn get_opt_named<T>(row: &Row, idx: usize, parse: impl Fn(&str) -> Option<T>) -> StoreResult<Option<T>> {
    let s: Option<&str> = get(row, idx)?;
    s.map(|s| parse(s).ok_or_else(|| unreadable(s))).transpose()
}

/// A JSON text column.
pub(crate) fn get_json<T: serde::de::DeserializeOwned>(row: &Row, idx: usize) -> StoreResult<T> {
    let s: &str = get(row, idx)?;
    from_json(s)
}

fn get_opt_json<T: serde::de::DeserializeOwned>(row: &Row, idx: usize) -> StoreResult<Option<T>> {
    let s: Option<&str> = get(row, idx)?;
    s.map(from_json).transpose()
}

pub(crate) fn from_json<T: serde::de::DeserializeOwned>(s: &str) -> StoreResult<T> {
    serde_json::from_str(s).map_err(|_| unreadable(s))
}

pub(crate) fn to_json<T: serde::Serialize>(v: &T) -> String {
    // Plain data (maps of strings and numbers) always serialises.
    serde_json::to_string(v).unwrap_or_else(|_| "null".to_string())
}

// ---- hours ---------------------------------------------------------------------------------------

// The text forms are `rebound_store::columns`', shared with the SQLite store.

pub(crate) fn hours_from_json(s: &str) -> StoreResult<DiallingHours> {
    columns::hours_from_json(s).ok_or_else(|| unreadable(s))
}

pub(crate) fn exceptions_from_json(s: &str) -> StoreResult<Vec<DateException>> {
    columns::exceptions_from_json(s).ok_or_else(|| unreadable(s))
}

pub(crate) fn calling_hours_from_json(s: &str) -> StoreResult<CallingHours> {
    columns::calling_hours_from_json(s).ok_or_else(|| unreadable(s))
}

// ---- configuration records -----------------------------------------------------------------------

/// A campaign with its lists (in the order given), in one row.
pub(crate) const CAMPAIGN_COLUMNS: &str = "campaign_id, name, direction, timezone, region, running, dialling_hours, \
    exceptions, lead_calling_hours, allow_unassigned_agent_callbacks, auto_callback_list_id, window_secs, \
    max_attempts, retry_delays, horizon_days, agent_grace_minutes, created_at, updated_at, \
    array(select cl.list_id from campaign_list cl where cl.campaign_id = campaign.campaign_id order by cl.position)";

pub(crate) fn campaign(r: &Row) -> StoreResult<Campaign> {
    Ok(Campaign {
        id: get(r, 0)?,
        name: get(r, 1)?,
        direction: get_named(r, 2, Direction::parse)?,
        timezone: get(r, 3)?,
        region: get(r, 4)?,
        running: get(r, 5)?,
        dialling_hours: hours_from_json(get(r, 6)?)?,
        exceptions: exceptions_from_json(get(r, 7)?)?,
        lead_calling_hours: calling_hours_from_json(get(r, 8)?)?,
        allow_unassigned_agent_callbacks: get(r, 9)?,
        auto_callback_list_id: get(r, 10)?,
        lists: get(r, 18)?,
        window_secs: get_u32(r, 11)?,
        max_attempts: get_u32(r, 12)?,
        retry_delays_secs: get_json(r, 13)?,
        horizon_days: get_u32(r, 14)?,
        agent_grace_minutes: get_u32(r, 15)?,
        created_at: get_ts(r, 16)?,
        updated_at: get_ts(r, 17)?,
    })
}

pub(crate) const LIST_COLUMNS: &str = "list_id, name, fields, created_at";

pub(crate) fn list(r: &Row) -> StoreResult<List> {
    Ok(List { id: get(r, 0)?, name: get(r, 1)?, fields: get_json(r, 2)?, created_at: get_ts(r, 3)? })
}

pub(crate) const LEAD_COLUMNS: &str = "lead_id, list_id, phone1, phone2, phone3, timezone, name, data, created_at";

pub(crate) fn lead(r: &Row) -> StoreResult<Lead> {
    let phones: Vec<String> = [get::<Option<String>>(r, 2)?, get(r, 3)?, get(r, 4)?].into_iter().flatten().collect();
    Ok(Lead {
        id: get(r, 0)?,
        list_id: get(r, 1)?,
        phones,
        timezone: get(r, 5)?,
        name: get(r, 6)?,
        data: get_json(r, 7)?,
        created_at: get_ts(r, 8)?,
    })
}

pub(crate) const QUEUE_COLUMNS: &str =
    "queue_id, name, campaign_id, slot_minutes, slot_capacity, capacity_grid, duplicate_policy, paused, created_at";

pub(crate) fn queue(r: &Row) -> StoreResult<Queue> {
    Ok(Queue {
        id: get(r, 0)?,
        name: get(r, 1)?,
        campaign_id: get(r, 2)?,
        slot_minutes: get_u32(r, 3)?,
        slot_capacity: get_u32(r, 4)?,
        capacity_grid: get_opt_json(r, 5)?,
        duplicate_policy: get_named(r, 6, DuplicatePolicy::parse)?,
        paused: get(r, 7)?,
        created_at: get_ts(r, 8)?,
    })
}

/// An agent with its campaigns and queues (in the order given), in one row; the table is aliased `a`
/// (`from agent a`).
pub(crate) const AGENT_COLUMNS: &str = "a.agent_id, a.name, a.username, a.timezone, a.can_view_callback_list, \
    a.presence, a.created_at, a.ready_since, \
    array(select ac.campaign_id from agent_campaign ac where ac.agent_id = a.agent_id order by ac.position), \
    array(select aq.queue_id from agent_queue aq where aq.agent_id = a.agent_id order by aq.position)";

pub(crate) fn agent(r: &Row) -> StoreResult<Agent> {
    Ok(Agent {
        id: get(r, 0)?,
        name: get(r, 1)?,
        username: get(r, 2)?,
        timezone: get(r, 3)?,
        campaigns: get(r, 8)?,
        queues: get(r, 9)?,
        can_view_callback_list: get(r, 4)?,
        presence: get_named(r, 5, Presence::parse)?,
        ready_since: get_opt_ts(r, 7)?,
        created_at: get_ts(r, 6)?,
    })
}

pub(crate) const WRAP_CODE_COLUMNS: &str = "wrap_code_id, campaign_id, code, label, add_to_queue, created_at";

pub(crate) fn wrap_code(r: &Row) -> StoreResult<WrapCode> {
    Ok(WrapCode {
        id: get(r, 0)?,
        campaign_id: get(r, 1)?,
        code: get(r, 2)?,
        label: get(r, 3)?,
        add_to_queue: get_opt_json(r, 4)?,
        created_at: get_ts(r, 5)?,
    })
}

// ---- callbacks and their events ------------------------------------------------------------------

/// A callback's columns; the table is aliased `c` (`from callback c`).
pub(crate) const CALLBACK_COLUMNS: &str = "c.callback_id, c.type, c.origin, c.phone, c.phone_raw, c.campaign_id, \
    c.list_id, c.lead_id, c.queue_id, c.agent_id, c.wrap_code, c.desired_time, c.timezone, c.lead_timezone, \
    c.earliest_time, c.window_secs, c.slot_start, c.state, c.result, c.attempts, c.priority, c.notes, c.data, \
    c.created_by, c.created_at, c.updated_at, c.queued_at, c.recreated_from, c.recreated_as, c.expires_at, \
    c.offered_to, c.lease_id, c.hold_until";

/// How many columns [`CALLBACK_COLUMNS`] selects: a query may select more after them.
pub(crate) const CALLBACK_COLUMNS_LEN: usize = 33;

pub(crate) fn callback(r: &Row) -> StoreResult<Callback> {
    Ok(Callback {
        id: id(get(r, 0)?),
        kind: get_named(r, 1, CallbackType::parse)?,
        origin: get_named(r, 2, Origin::parse)?,
        phone: get(r, 3)?,
        phone_raw: get(r, 4)?,
        campaign_id: get(r, 5)?,
        list_id: get(r, 6)?,
        lead_id: get(r, 7)?,
        queue_id: get(r, 8)?,
        agent_id: get(r, 9)?,
        wrap_code: get(r, 10)?,
        desired_time: get_ts(r, 11)?,
        timezone: get(r, 12)?,
        lead_timezone: get(r, 13)?,
        earliest_time: get_opt_ts(r, 14)?,
        window_secs: get_u32(r, 15)?,
        slot_start: get_opt_ts(r, 16)?,
        state: get_named(r, 17, CallbackState::parse)?,
        result: get_opt_named(r, 18, CallbackResult::parse)?,
        attempts: get_u32(r, 19)?,
        priority: get_i32(r, 20)?,
        notes: get(r, 21)?,
        data: get_json(r, 22)?,
        created_by: get(r, 23)?,
        created_at: get_ts(r, 24)?,
        updated_at: get_ts(r, 25)?,
        queued_at: get_opt_ts(r, 26)?,
        offered_to: get(r, 30)?,
        lease_id: get(r, 31)?,
        hold_until: get_opt_ts(r, 32)?,
        recreated_from: get::<Option<uuid::Uuid>>(r, 27)?.map(id),
        recreated_as: get::<Option<uuid::Uuid>>(r, 28)?.map(id),
        expires_at: get_ts(r, 29)?,
    })
}

pub(crate) use rebound_store::steps::{as_stored, overdue_at};

pub(crate) const EVENT_COLUMNS: &str =
    "callback_event_id, callback_id, at, actor, action, from_state, to_state, details";

pub(crate) fn event(r: &Row) -> StoreResult<CallbackEvent> {
    Ok(CallbackEvent {
        id: get(r, 0)?,
        callback_id: id(get(r, 1)?),
        at: get_ts(r, 2)?,
        actor: get(r, 3)?,
        action: get(r, 4)?,
        from_state: get_opt_named(r, 5, CallbackState::parse)?,
        to_state: get_opt_named(r, 6, CallbackState::parse)?,
        details: get_json(r, 7)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::time;
    use rebound_domain::hours::TimeRange;

    #[test]
    fn dialling_hours_round_trip_including_end_of_day_and_midnight_crossing() {
        let mut h = DiallingHours::always_open();
        h.tue = vec![
            TimeRange { start: time(9, 0, 0, 0), end: time(12, 30, 0, 0), end_of_day: false },
            TimeRange { start: time(22, 0, 0, 0), end: time(2, 0, 0, 0), end_of_day: false },
        ];
        h.sun = vec![];
        let text = hours_to_json(&h);
        assert!(text.contains(r#""tue":[["09:00","12:30"],["22:00","02:00"]]"#), "{text}");
        assert_eq!(hours_from_json(&text).unwrap(), h);
    }

    #[test]
    fn exceptions_and_calling_hours_round_trip() {
        let es = vec![DateException { date: jiff::civil::date(2026, 12, 25), hours: vec![] }];
        assert_eq!(exceptions_from_json(&exceptions_to_json(&es)).unwrap(), es);
        let ch = CallingHours(TimeRange { start: time(8, 0, 0, 0), end: time(21, 0, 0, 0), end_of_day: false });
        assert_eq!(calling_hours_to_json(&ch), r#"["08:00","21:00"]"#);
        assert_eq!(calling_hours_from_json(&calling_hours_to_json(&ch)).unwrap(), ch);
    }

    #[test]
    fn unreadable_hours_are_an_error_not_a_panic() {
        assert!(hours_from_json(r#"{"mon": [["25:99","x"]]}"#).is_err());
        assert!(calling_hours_from_json("[]").is_err());
    }
}
