//! Conversions between SQLite values and domain types: instants as epoch milliseconds, callback ids
//! as 16 bytes, enums by their canonical names, structured configuration as JSON text.
//!
//! Dialling hours, exceptions and lead calling hours are written in the same `["09:00","17:00"]`
//! shape as the API, but read back by this module's own small parser rather than through the
//! domain's serde: the stored form is then a storage contract of its own, and reading a row can
//! never depend on (or panic in) the API's validation rules.

use jiff::Timestamp;
use rebound_domain::hours::{CallingHours, DateException, DiallingHours};
use rebound_domain::model::CallbackId;
use rebound_store::columns;
pub(crate) use rebound_store::columns::{calling_hours_to_json, exceptions_to_json, hours_to_json};
use rusqlite::types::Type;
use uuid::Uuid;

/// A value the schema admits but the domain cannot read (a bug or a hand-edited database).
#[derive(Debug, thiserror::Error)]
#[error("unreadable stored value {0:?}")]
pub(crate) struct Unreadable(pub String);

pub(crate) fn unreadable(idx: usize, value: impl Into<String>) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(idx, Type::Text, Box::new(Unreadable(value.into())))
}

// ---- instants ----------------------------------------------------------------------------------

pub(crate) fn ms(t: Timestamp) -> i64 {
    t.as_millisecond()
}

pub(crate) fn opt_ms(t: Option<Timestamp>) -> Option<i64> {
    t.map(ms)
}

pub(crate) use rebound_store::steps::trunc;

pub(crate) fn ts(idx: usize, ms: i64) -> rusqlite::Result<Timestamp> {
    Timestamp::from_millisecond(ms).map_err(|_| unreadable(idx, ms.to_string()))
}

pub(crate) fn opt_ts(idx: usize, ms: Option<i64>) -> rusqlite::Result<Option<Timestamp>> {
    ms.map(|m| ts(idx, m)).transpose()
}

pub(crate) fn now_ms() -> i64 {
    ms(Timestamp::now())
}

// ---- ids -----------------------------------------------------------------------------------------

pub(crate) fn id_bytes(id: CallbackId) -> [u8; 16] {
    *id.0.as_bytes()
}

pub(crate) fn id_from(bytes: [u8; 16]) -> CallbackId {
    CallbackId(Uuid::from_bytes(bytes))
}

pub(crate) fn opt_id_from(bytes: Option<[u8; 16]>) -> Option<CallbackId> {
    bytes.map(id_from)
}

// ---- enums and JSON ------------------------------------------------------------------------------

/// Reads an enum stored by name.
pub(crate) fn named<T>(idx: usize, s: &str, parse: impl Fn(&str) -> Option<T>) -> rusqlite::Result<T> {
    parse(s).ok_or_else(|| unreadable(idx, s))
}

pub(crate) fn from_json<T: serde::de::DeserializeOwned>(idx: usize, s: &str) -> rusqlite::Result<T> {
    serde_json::from_str(s).map_err(|_| unreadable(idx, s))
}

pub(crate) fn to_json<T: serde::Serialize>(v: &T) -> String {
    // Plain data (maps of strings and numbers) always serialises.
    serde_json::to_string(v).unwrap_or_else(|_| "null".to_string())
}

// ---- hours ---------------------------------------------------------------------------------------

// The text forms are `rebound_store::columns`', shared with the PostgreSQL store.

pub(crate) fn hours_from_json(idx: usize, s: &str) -> rusqlite::Result<DiallingHours> {
    columns::hours_from_json(s).ok_or_else(|| unreadable(idx, s))
}

pub(crate) fn exceptions_from_json(idx: usize, s: &str) -> rusqlite::Result<Vec<DateException>> {
    columns::exceptions_from_json(s).ok_or_else(|| unreadable(idx, s))
}

pub(crate) fn calling_hours_from_json(idx: usize, s: &str) -> rusqlite::Result<CallingHours> {
    columns::calling_hours_from_json(s).ok_or_else(|| unreadable(idx, s))
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
        assert_eq!(hours_from_json(0, &text).unwrap(), h);
    }

    #[test]
    fn exceptions_and_calling_hours_round_trip() {
        let es = vec![
            DateException { date: jiff::civil::date(2026, 12, 25), hours: vec![] },
            DateException {
                date: jiff::civil::date(2026, 12, 24),
                hours: vec![TimeRange { start: time(9, 0, 0, 0), end: time(13, 0, 0, 0), end_of_day: false }],
            },
        ];
        assert_eq!(exceptions_from_json(0, &exceptions_to_json(&es)).unwrap(), es);
        let ch = CallingHours(TimeRange { start: time(8, 0, 0, 0), end: time(21, 0, 0, 0), end_of_day: false });
        assert_eq!(calling_hours_to_json(&ch), r#"["08:00","21:00"]"#);
        assert_eq!(calling_hours_from_json(0, &calling_hours_to_json(&ch)).unwrap(), ch);
    }

    #[test]
    fn unreadable_hours_are_an_error_not_a_panic() {
        assert!(hours_from_json(3, r#"{"mon": [["25:99","x"]]}"#).is_err());
        assert!(calling_hours_from_json(3, "[]").is_err());
    }
}
