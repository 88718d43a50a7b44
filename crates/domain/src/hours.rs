//! Dialling hours and the earliest dialable time.
//!
//! A campaign has weekly dialling hours in its own timezone (a list of ranges per weekday), plus
//! date exceptions that replace a date's hours (`[]` = closed). A range whose end is not after its
//! start crosses midnight and belongs to the day it starts on (`["22:00","02:00"]` on Monday runs
//! Monday 22:00 → Tuesday 02:00). `"24:00"` may end a range (end of day).
//!
//! Leads have legal calling hours in their own local time (default 08:00–21:00).
//!
//! The earliest dialable time is the first instant `t ≥ max(desired, now)` at which the campaign is
//! running, inside its dialling hours (exceptions applied) and — when the lead's timezone is known —
//! inside the lead's calling hours. Local range boundaries that fall into a DST gap start at the
//! first instant after the gap.

use jiff::Timestamp;
use jiff::civil::{Date, Time, Weekday};
use jiff::tz::TimeZone;
use serde::{Deserialize, Serialize};

/// A daily range of local time; serialised as `["09:00","17:00"]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TimeRange {
    pub start: Time,
    /// `Time::midnight()` with `end_of_day` = "24:00".
    pub end: Time,
    /// True when the range was written ending at `"24:00"`.
    pub end_of_day: bool,
}

impl TimeRange {
    /// Parses `"HH:MM"` pair text. `end` may be `"24:00"`.
    pub fn parse(start: &str, end: &str) -> Result<TimeRange, HoursError> {
        imp::parse_range(start, end)
    }

    /// Whether the range runs past midnight into the next day.
    pub fn crosses_midnight(&self) -> bool {
        !self.end_of_day && self.end <= self.start
    }
}

/// Weekly dialling hours; serialised as `{"mon": [["09:00","17:00"]], …, "sun": []}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct DiallingHours {
    #[serde(default)]
    pub mon: Vec<TimeRange>,
    #[serde(default)]
    pub tue: Vec<TimeRange>,
    #[serde(default)]
    pub wed: Vec<TimeRange>,
    #[serde(default)]
    pub thu: Vec<TimeRange>,
    #[serde(default)]
    pub fri: Vec<TimeRange>,
    #[serde(default)]
    pub sat: Vec<TimeRange>,
    #[serde(default)]
    pub sun: Vec<TimeRange>,
}

impl DiallingHours {
    /// The ranges that start on `weekday`.
    pub fn for_weekday(&self, weekday: Weekday) -> &[TimeRange] {
        match weekday {
            Weekday::Monday => &self.mon,
            Weekday::Tuesday => &self.tue,
            Weekday::Wednesday => &self.wed,
            Weekday::Thursday => &self.thu,
            Weekday::Friday => &self.fri,
            Weekday::Saturday => &self.sat,
            Weekday::Sunday => &self.sun,
        }
    }

    /// Open around the clock every day.
    pub fn always_open() -> DiallingHours {
        let all = vec![TimeRange { start: Time::midnight(), end: Time::midnight(), end_of_day: true }];
        DiallingHours {
            mon: all.clone(),
            tue: all.clone(),
            wed: all.clone(),
            thu: all.clone(),
            fri: all.clone(),
            sat: all.clone(),
            sun: all,
        }
    }

    /// Refuses overlapping ranges within a day and empty ranges (start == end, not 24h).
    pub fn validate(&self) -> Result<(), HoursError> {
        imp::validate_hours(self)
    }
}

/// A date whose hours replace the weekly hours (`hours: []` = closed all day).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct DateException {
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = Date))]
    pub date: Date,
    #[serde(default)]
    pub hours: Vec<TimeRange>,
}

/// A lead's legal calling hours in the lead's local time; serialised as `["08:00","21:00"]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(transparent)]
pub struct CallingHours(pub TimeRange);

impl Default for CallingHours {
    fn default() -> Self {
        CallingHours(TimeRange::parse("08:00", "21:00").expect("valid default"))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HoursError {
    #[error("'{0}' is not a time of day (expected HH:MM)")]
    BadTime(String),
    #[error("the range {0} is empty")]
    EmptyRange(String),
    #[error("ranges on {0} overlap")]
    Overlap(String),
}

/// Everything the earliest-time rule needs about a campaign and a lead.
#[derive(Debug, Clone, Copy)]
pub struct DialPlan<'a> {
    pub campaign_tz: &'a TimeZone,
    pub running: bool,
    pub hours: &'a DiallingHours,
    pub exceptions: &'a [DateException],
    /// The lead's timezone, if known; `None` means only the campaign hours apply.
    pub lead_tz: Option<&'a TimeZone>,
    pub lead_hours: &'a CallingHours,
}

/// How far ahead the search for an open instant looks before giving up (no hours at all).
pub const EARLIEST_SEARCH_DAYS: i64 = 400;

/// The earliest dialable time per PRODUCT.md: the first `t ≥ max(desired, now)` inside the campaign's
/// hours and the lead's calling hours. `None` when the campaign is stopped or never open.
pub fn earliest_dialable(plan: &DialPlan<'_>, desired: Timestamp, now: Timestamp) -> Option<Timestamp> {
    imp::earliest_dialable(plan, desired, now)
}

/// Whether the campaign is inside its dialling hours at `t` (ignores `running` and the lead).
pub fn campaign_open_at(plan: &DialPlan<'_>, t: Timestamp) -> bool {
    imp::campaign_open_at(plan, t)
}

/// The campaign's open ranges (UTC instants, half-open) that intersect `[from, to)`, in order,
/// merged where they touch. Used for slots and for showing "dialling hours today".
pub fn campaign_open_intervals(plan: &DialPlan<'_>, from: Timestamp, to: Timestamp) -> Vec<(Timestamp, Timestamp)> {
    imp::campaign_open_intervals(plan, from, to)
}

mod imp {
    use super::*;

    pub(super) fn parse_range(_start: &str, _end: &str) -> Result<TimeRange, HoursError> {
        unimplemented!("domain helper")
    }

    pub(super) fn validate_hours(_hours: &DiallingHours) -> Result<(), HoursError> {
        unimplemented!("domain helper")
    }

    pub(super) fn earliest_dialable(_plan: &DialPlan<'_>, _desired: Timestamp, _now: Timestamp) -> Option<Timestamp> {
        unimplemented!("domain helper")
    }

    pub(super) fn campaign_open_at(_plan: &DialPlan<'_>, _t: Timestamp) -> bool {
        unimplemented!("domain helper")
    }

    pub(super) fn campaign_open_intervals(
        _plan: &DialPlan<'_>,
        _from: Timestamp,
        _to: Timestamp,
    ) -> Vec<(Timestamp, Timestamp)> {
        unimplemented!("domain helper")
    }
}

// Serde for TimeRange as ["HH:MM","HH:MM"]. (Filled in with the parser.)
impl Serialize for TimeRange {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let fmt = |t: Time| format!("{:02}:{:02}", t.hour(), t.minute());
        let end = if self.end_of_day { "24:00".to_string() } else { fmt(self.end) };
        [fmt(self.start), end].serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for TimeRange {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let [start, end] = <[String; 2]>::deserialize(deserializer)?;
        TimeRange::parse(&start, &end).map_err(serde::de::Error::custom)
    }
}

#[cfg(feature = "openapi")]
impl utoipa::PartialSchema for TimeRange {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Type};
        ArrayBuilder::new()
            .items(ObjectBuilder::new().schema_type(Type::String).pattern(Some("^([01][0-9]|2[0-4]):[0-5][0-9]$")))
            .min_items(Some(2))
            .max_items(Some(2))
            .description(Some("[start, end] local times HH:MM; an end not after the start crosses midnight"))
            .examples([serde_json::json!(["09:00", "17:00"])])
            .into()
    }
}

#[cfg(feature = "openapi")]
impl utoipa::ToSchema for TimeRange {}
