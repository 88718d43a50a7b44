//! How structured configuration is written into a text column, the same in every store, so that a
//! database reads the same whichever backend wrote it: dialling hours as `{"mon": [["09:00",
//! "17:00"]], …}` (`"24:00"` for the end of the day), date exceptions as `[{"date": "2026-12-24",
//! "hours": [...]}]`, a lead's calling hours as one `["08:00", "21:00"]` pair. Readers answer
//! `None` for text that is not in this form; each store turns that into its own error.

use jiff::civil::{Date, Time};
use rebound_domain::hours::{CallingHours, DateException, DiallingHours, TimeRange};
use serde_json::{Map, Value, json};

fn time_text(t: Time) -> String {
    if t.second() == 0 && t.subsec_nanosecond() == 0 {
        format!("{:02}:{:02}", t.hour(), t.minute())
    } else {
        t.to_string()
    }
}

fn range_json(r: &TimeRange) -> Value {
    let end = if r.end_of_day { "24:00".to_string() } else { time_text(r.end) };
    json!([time_text(r.start), end])
}

fn ranges_json(rs: &[TimeRange]) -> Value {
    Value::Array(rs.iter().map(range_json).collect())
}

fn parse_range(v: &Value) -> Option<TimeRange> {
    let [start, end] = v.as_array()?.as_slice() else { return None };
    let start: Time = start.as_str()?.parse().ok()?;
    let end = end.as_str()?;
    if end == "24:00" {
        Some(TimeRange { start, end: Time::midnight(), end_of_day: true })
    } else {
        Some(TimeRange { start, end: end.parse().ok()?, end_of_day: false })
    }
}

fn parse_ranges(v: Option<&Value>) -> Option<Vec<TimeRange>> {
    match v {
        None | Some(Value::Null) => Some(Vec::new()),
        Some(v) => v.as_array()?.iter().map(parse_range).collect(),
    }
}

const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

pub fn hours_to_json(h: &DiallingHours) -> String {
    let days = [&h.mon, &h.tue, &h.wed, &h.thu, &h.fri, &h.sat, &h.sun];
    let map: Map<String, Value> = DAYS.iter().zip(days).map(|(d, rs)| (d.to_string(), ranges_json(rs))).collect();
    Value::Object(map).to_string()
}

pub fn hours_from_json(s: &str) -> Option<DiallingHours> {
    let v: Value = serde_json::from_str(s).ok()?;
    let o = v.as_object()?;
    let mut day = DAYS.iter().map(|d| parse_ranges(o.get(*d)));
    Some(DiallingHours {
        mon: day.next()??,
        tue: day.next()??,
        wed: day.next()??,
        thu: day.next()??,
        fri: day.next()??,
        sat: day.next()??,
        sun: day.next()??,
    })
}

pub fn exceptions_to_json(es: &[DateException]) -> String {
    Value::Array(es.iter().map(|e| json!({"date": e.date.to_string(), "hours": ranges_json(&e.hours)})).collect())
        .to_string()
}

pub fn exceptions_from_json(s: &str) -> Option<Vec<DateException>> {
    let v: Value = serde_json::from_str(s).ok()?;
    v.as_array()?
        .iter()
        .map(|e| {
            let date: Date = e.get("date")?.as_str()?.parse().ok()?;
            Some(DateException { date, hours: parse_ranges(e.get("hours"))? })
        })
        .collect()
}

pub fn calling_hours_to_json(h: &CallingHours) -> String {
    range_json(&h.0).to_string()
}

pub fn calling_hours_from_json(s: &str) -> Option<CallingHours> {
    serde_json::from_str::<Value>(s).ok().as_ref().and_then(parse_range).map(CallingHours)
}
