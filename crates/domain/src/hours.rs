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
//! first instant after the gap; boundaries that occur twice (DST fold) take their first occurrence.
//!
//! The search builds the open intervals of each local day (campaign and lead) as instants and
//! intersects the two sorted lists, a week at a time, so it costs a few dozen timezone conversions
//! rather than a scan.

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
/// merged where they touch, and clipped to `[from, to)`. Used for slots and for showing "dialling
/// hours today".
pub fn campaign_open_intervals(plan: &DialPlan<'_>, from: Timestamp, to: Timestamp) -> Vec<(Timestamp, Timestamp)> {
    imp::campaign_open_intervals(plan, from, to)
}

mod imp {
    use jiff::SignedDuration;
    use jiff::civil::DateTime;
    use jiff::tz::AmbiguousOffset;

    use super::*;

    /// A half-open span of instants `[start, end)`.
    pub(super) type Interval = (Timestamp, Timestamp);

    const MINUTES_PER_DAY: i32 = 24 * 60;

    /// Reads `HH:MM` (or `HH:MM:00`); `24:00` only where `allow_24` and then reported as `true`.
    fn parse_time(text: &str, allow_24: bool) -> Result<(Time, bool), HoursError> {
        let bad = || HoursError::BadTime(text.to_string());
        let mut parts = text.trim().split(':');
        let (Some(h), Some(m), s, None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
            return Err(bad());
        };
        let number = |part: &str, max: i8| -> Result<i8, HoursError> {
            if part.is_empty() || part.len() > 2 || !part.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad());
            }
            part.parse::<i8>().ok().filter(|v| *v <= max).ok_or_else(bad)
        };
        // Minutes are always two digits ("9:5" is a typo, not 09:05).
        if m.len() != 2 || s.is_some_and(|s| s != "00") {
            return Err(bad());
        }
        let (hour, minute) = (number(h, 24)?, number(m, 59)?);
        if hour == 24 {
            return if allow_24 && minute == 0 { Ok((Time::midnight(), true)) } else { Err(bad()) };
        }
        Time::new(hour, minute, 0, 0).map(|t| (t, false)).map_err(|_| bad())
    }

    pub(super) fn parse_range(start: &str, end: &str) -> Result<TimeRange, HoursError> {
        let (start, _) = parse_time(start, false)?;
        let (end, end_of_day) = parse_time(end, true)?;
        Ok(TimeRange { start, end, end_of_day })
    }

    fn minutes(t: Time) -> i32 {
        i32::from(t.hour()) * 60 + i32::from(t.minute())
    }

    fn describe(range: &TimeRange) -> String {
        let fmt = |t: Time| format!("{:02}:{:02}", t.hour(), t.minute());
        let end = if range.end_of_day { "24:00".to_string() } else { fmt(range.end) };
        format!("{}-{}", fmt(range.start), end)
    }

    /// The part of its own day a range occupies, in minutes `[start, end)`: a range crossing
    /// midnight holds the rest of its day.
    fn span_in_day(range: &TimeRange) -> (i32, i32) {
        let end = if range.end_of_day || range.crosses_midnight() { MINUTES_PER_DAY } else { minutes(range.end) };
        (minutes(range.start), end)
    }

    pub(super) fn validate_hours(hours: &DiallingHours) -> Result<(), HoursError> {
        let days = [
            ("mon", &hours.mon),
            ("tue", &hours.tue),
            ("wed", &hours.wed),
            ("thu", &hours.thu),
            ("fri", &hours.fri),
            ("sat", &hours.sat),
            ("sun", &hours.sun),
        ];
        for (day, ranges) in days {
            validate_day(day, ranges)?;
        }
        Ok(())
    }

    /// One day's ranges: none empty, none overlapping.
    fn validate_day(day: &str, ranges: &[TimeRange]) -> Result<(), HoursError> {
        for range in ranges {
            if !range.end_of_day && range.start == range.end {
                return Err(HoursError::EmptyRange(describe(range)));
            }
        }
        let mut spans: Vec<(i32, i32)> = ranges.iter().map(span_in_day).collect();
        spans.sort_unstable();
        if spans.windows(2).any(|w| w[1].0 < w[0].1) {
            return Err(HoursError::Overlap(day.to_string()));
        }
        Ok(())
    }

    /// The instant a local boundary stands for. A boundary in a DST gap is the first instant after
    /// the gap (the transition itself); one in a fold is its first occurrence. `None` only at the
    /// edges of the representable range.
    pub(crate) fn boundary_instant(tz: &TimeZone, local: DateTime) -> Option<Timestamp> {
        match tz.to_ambiguous_timestamp(local).offset() {
            AmbiguousOffset::Unambiguous { offset } => offset.to_timestamp(local).ok(),
            AmbiguousOffset::Fold { before, .. } => before.to_timestamp(local).ok(),
            AmbiguousOffset::Gap { after, .. } => {
                // Read with the later offset the local time lands just before the transition;
                // the next transition from there is where the clocks jumped.
                let inside = after.to_timestamp(local).ok()?;
                tz.following(inside).next().map(|transition| transition.timestamp())
            }
        }
    }

    /// Sorts and merges intervals that overlap or touch.
    fn merge(mut intervals: Vec<Interval>) -> Vec<Interval> {
        intervals.sort_unstable();
        let mut merged: Vec<Interval> = Vec::with_capacity(intervals.len());
        for (start, end) in intervals {
            match merged.last_mut() {
                Some(last) if start <= last.1 => last.1 = last.1.max(end),
                _ => merged.push((start, end)),
            }
        }
        merged
    }

    /// The instants of `[from, to)` covered by daily local ranges in `tz`, where `ranges_on` names
    /// the ranges that start on each local date. A range lasts at most until the end of the next
    /// day, so the day before `from` is the earliest one that can reach into the window.
    fn local_intervals<'r>(
        tz: &TimeZone,
        ranges_on: impl Fn(Date) -> &'r [TimeRange],
        from: Timestamp,
        to: Timestamp,
    ) -> Vec<Interval> {
        if from >= to {
            return Vec::new();
        }
        let first_date = tz.to_datetime(from).date();
        let mut day = first_date.yesterday().unwrap_or(first_date);
        let last_date = tz.to_datetime(to).date();
        let mut found = Vec::new();
        while day <= last_date {
            let next_day = day.tomorrow().ok();
            for range in ranges_on(day) {
                let end_date = if range.end_of_day || range.crosses_midnight() { next_day } else { Some(day) };
                let Some(end_date) = end_date else { continue };
                let (Some(start), Some(end)) = (
                    boundary_instant(tz, day.to_datetime(range.start)),
                    boundary_instant(tz, end_date.to_datetime(range.end)),
                ) else {
                    continue;
                };
                let (start, end) = (start.max(from), end.min(to));
                if start < end {
                    found.push((start, end));
                }
            }
            match next_day {
                Some(next) => day = next,
                None => break,
            }
        }
        merge(found)
    }

    /// The campaign's ranges that start on `date`: its exception if it has one, else its weekday's.
    fn campaign_ranges<'p>(plan: &DialPlan<'p>, date: Date) -> &'p [TimeRange] {
        match plan.exceptions.iter().find(|exception| exception.date == date) {
            Some(exception) => &exception.hours,
            None => plan.hours.for_weekday(date.weekday()),
        }
    }

    pub(super) fn campaign_open_intervals(plan: &DialPlan<'_>, from: Timestamp, to: Timestamp) -> Vec<Interval> {
        let plan = *plan;
        local_intervals(plan.campaign_tz, |date| campaign_ranges(&plan, date), from, to)
    }

    /// The lead's calling hours within `[from, to)`; the whole window when its timezone is unknown.
    pub(super) fn lead_open_intervals(plan: &DialPlan<'_>, from: Timestamp, to: Timestamp) -> Vec<Interval> {
        match plan.lead_tz {
            Some(tz) => local_intervals(tz, |_| std::slice::from_ref(&plan.lead_hours.0), from, to),
            None if from < to => vec![(from, to)],
            None => Vec::new(),
        }
    }

    fn open_at(intervals: impl Fn(Timestamp, Timestamp) -> Vec<Interval>, t: Timestamp) -> bool {
        match t.checked_add(SignedDuration::from_nanos(1)) {
            Ok(next) => !intervals(t, next).is_empty(),
            Err(_) => false,
        }
    }

    pub(super) fn campaign_open_at(plan: &DialPlan<'_>, t: Timestamp) -> bool {
        open_at(|from, to| campaign_open_intervals(plan, from, to), t)
    }

    /// Whether the lead may be called at `t` (tests check `earliest_dialable` against it).
    #[cfg(test)]
    pub(super) fn lead_open_at(plan: &DialPlan<'_>, t: Timestamp) -> bool {
        open_at(|from, to| lead_open_intervals(plan, from, to), t)
    }

    /// The start of the first overlap of two sorted, merged interval lists.
    fn first_overlap(a: &[Interval], b: &[Interval]) -> Option<Timestamp> {
        let (mut i, mut j) = (0, 0);
        while let (Some(x), Some(y)) = (a.get(i), b.get(j)) {
            let (start, end) = (x.0.max(y.0), x.1.min(y.1));
            if start < end {
                return Some(start);
            }
            if x.1 <= y.1 {
                i += 1;
            } else {
                j += 1;
            }
        }
        None
    }

    /// How much of the search window is expanded into intervals at once: most answers lie within a
    /// day or two, so a week keeps the common case to one pass without building 400 days of ranges.
    const SEARCH_CHUNK_DAYS: i64 = 7;
    /// The first pass looks at one day only: a desired time is usually inside the hours, and a
    /// bulk import asks this for every item, so expanding a whole week first (two lists of nine
    /// local days, each boundary a tz lookup) was most of its cost.
    const FIRST_CHUNK_DAYS: i64 = 1;

    pub(super) fn earliest_dialable(plan: &DialPlan<'_>, desired: Timestamp, now: Timestamp) -> Option<Timestamp> {
        if !plan.running {
            return None;
        }
        let start = desired.max(now);
        let days = |n: i64| SignedDuration::from_hours(24 * n);
        let limit = start.checked_add(days(EARLIEST_SEARCH_DAYS)).unwrap_or(Timestamp::MAX);
        let mut from = start;
        let mut chunk = FIRST_CHUNK_DAYS;
        while from < limit {
            let to = from.checked_add(days(chunk)).unwrap_or(Timestamp::MAX).min(limit);
            chunk = SEARCH_CHUNK_DAYS;
            let campaign = campaign_open_intervals(plan, from, to);
            if !campaign.is_empty() {
                let lead = lead_open_intervals(plan, from, to);
                if let Some(t) = first_overlap(&campaign, &lead) {
                    return Some(t);
                }
            }
            if to <= from {
                break;
            }
            from = to;
        }
        None
    }
}

/// The instant a local wall-clock time stands for under the hours rules: inside a DST gap, the first
/// instant after the gap; inside a fold, the first occurrence. Slots use it so their grid agrees
/// with the hours.
pub(crate) fn local_boundary_instant(tz: &TimeZone, local: jiff::civil::DateTime) -> Option<Timestamp> {
    imp::boundary_instant(tz, local)
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

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::SignedDuration;
    use jiff::civil::DateTime;
    use jiff::tz::AmbiguousOffset;
    use proptest::prelude::*;

    fn tz(name: &str) -> TimeZone {
        TimeZone::get(name).expect("known zone")
    }

    fn ts(s: &str) -> Timestamp {
        s.parse().expect("test timestamp")
    }

    fn r(start: &str, end: &str) -> TimeRange {
        TimeRange::parse(start, end).expect("test range")
    }

    fn weekdays(ranges: &[TimeRange]) -> DiallingHours {
        DiallingHours {
            mon: ranges.to_vec(),
            tue: ranges.to_vec(),
            wed: ranges.to_vec(),
            thu: ranges.to_vec(),
            fri: ranges.to_vec(),
            ..DiallingHours::default()
        }
    }

    fn every_day(ranges: &[TimeRange]) -> DiallingHours {
        DiallingHours { sat: ranges.to_vec(), sun: ranges.to_vec(), ..weekdays(ranges) }
    }

    fn plan<'a>(
        campaign_tz: &'a TimeZone,
        hours: &'a DiallingHours,
        exceptions: &'a [DateException],
        lead_tz: Option<&'a TimeZone>,
        lead_hours: &'a CallingHours,
    ) -> DialPlan<'a> {
        DialPlan { campaign_tz, running: true, hours, exceptions, lead_tz, lead_hours }
    }

    #[test]
    fn ranges_parse_and_serialise_as_hh_mm_pairs() {
        let range = r("09:00", "17:30");
        assert_eq!(range.start, Time::constant(9, 0, 0, 0));
        assert_eq!(range.end, Time::constant(17, 30, 0, 0));
        assert!(!range.end_of_day && !range.crosses_midnight());
        let eod = r("18:00", "24:00");
        assert!(eod.end_of_day && !eod.crosses_midnight());
        assert!(r("22:00", "02:00").crosses_midnight());
        assert_eq!(r("9:00", "17:00:00"), r("09:00", "17:00"));
        assert_eq!(serde_json::to_string(&eod).ok(), Some(r#"["18:00","24:00"]"#.to_string()));
        let back: Result<TimeRange, _> = serde_json::from_str(r#"["00:00","24:00"]"#);
        assert_eq!(back.ok(), Some(r("00:00", "24:00")));
    }

    #[test]
    fn malformed_times_are_refused() {
        for (start, end) in [
            ("24:00", "10:00"),
            ("09:00", "24:30"),
            ("25:00", "10:00"),
            ("09:60", "10:00"),
            ("9", "10:00"),
            ("09:0", "10:00"),
            ("", "10:00"),
            ("-1:00", "10:00"),
            ("09:00:30", "10:00"),
            ("09:00", "10:00:00:00"),
            ("nine", "ten"),
        ] {
            assert!(matches!(TimeRange::parse(start, end), Err(HoursError::BadTime(_))), "{start}-{end}");
        }
    }

    #[test]
    fn validation_refuses_empty_and_overlapping_ranges() {
        assert_eq!(weekdays(&[r("09:00", "12:00"), r("13:00", "17:00")]).validate(), Ok(()));
        assert_eq!(weekdays(&[r("09:00", "12:00"), r("12:00", "17:00")]).validate(), Ok(()));
        assert_eq!(DiallingHours::always_open().validate(), Ok(()));
        assert_eq!(weekdays(&[r("08:00", "20:00"), r("22:00", "02:00")]).validate(), Ok(()));
        assert!(matches!(weekdays(&[r("09:00", "09:00")]).validate(), Err(HoursError::EmptyRange(_))));
        assert!(matches!(
            weekdays(&[r("09:00", "12:00"), r("11:00", "17:00")]).validate(),
            Err(HoursError::Overlap(day)) if day == "mon"
        ));
        // A midnight-crossing range holds the rest of its own day.
        assert!(matches!(
            DiallingHours { sun: vec![r("22:00", "02:00"), r("23:00", "23:30")], ..Default::default() }.validate(),
            Err(HoursError::Overlap(day)) if day == "sun"
        ));
        // ...but not the early hours of the next day, which belong to that day's own list.
        assert_eq!(
            DiallingHours { mon: vec![r("22:00", "02:00")], tue: vec![r("00:00", "01:00")], ..Default::default() }
                .validate(),
            Ok(())
        );
    }

    #[test]
    fn friday_evening_waits_for_monday_morning() {
        let london = tz("Europe/London");
        let hours = weekdays(&[r("09:00", "17:00")]);
        let lead = CallingHours::default();
        let p = plan(&london, &hours, &[], None, &lead);
        // Friday 2026-06-12 18:00 BST.
        let got = earliest_dialable(&p, ts("2026-06-12T17:00:00Z"), ts("2026-06-01T00:00:00Z"));
        assert_eq!(got, Some(ts("2026-06-15T08:00:00Z")));
        // Inside hours the desired time stands.
        let got = earliest_dialable(&p, ts("2026-06-12T10:17:00Z"), ts("2026-06-01T00:00:00Z"));
        assert_eq!(got, Some(ts("2026-06-12T10:17:00Z")));
        // Now later than desired wins.
        let got = earliest_dialable(&p, ts("2026-06-12T10:17:00Z"), ts("2026-06-12T12:00:00Z"));
        assert_eq!(got, Some(ts("2026-06-12T12:00:00Z")));
    }

    #[test]
    fn a_closed_date_exception_skips_the_day() {
        let london = tz("Europe/London");
        let hours = weekdays(&[r("09:00", "17:00")]);
        let lead = CallingHours::default();
        let closed = [DateException { date: jiff::civil::date(2026, 6, 15), hours: vec![] }];
        let p = plan(&london, &hours, &closed, None, &lead);
        let got = earliest_dialable(&p, ts("2026-06-12T17:00:00Z"), ts("2026-06-01T00:00:00Z"));
        assert_eq!(got, Some(ts("2026-06-16T08:00:00Z")));
    }

    #[test]
    fn a_special_hours_exception_replaces_the_day() {
        let london = tz("Europe/London");
        let hours = weekdays(&[r("09:00", "17:00")]);
        let lead = CallingHours::default();
        // Saturday normally closed; opened 10:00-12:00. Monday shortened to 13:00-14:00.
        let special = [
            DateException { date: jiff::civil::date(2026, 6, 13), hours: vec![r("10:00", "12:00")] },
            DateException { date: jiff::civil::date(2026, 6, 15), hours: vec![r("13:00", "14:00")] },
        ];
        let p = plan(&london, &hours, &special, None, &lead);
        let now = ts("2026-06-01T00:00:00Z");
        assert_eq!(earliest_dialable(&p, ts("2026-06-12T17:00:00Z"), now), Some(ts("2026-06-13T09:00:00Z")));
        assert_eq!(earliest_dialable(&p, ts("2026-06-13T11:00:00Z"), now), Some(ts("2026-06-15T12:00:00Z")));
        assert!(!campaign_open_at(&p, ts("2026-06-15T08:30:00Z")));
    }

    #[test]
    fn midnight_crossing_hours_run_into_the_next_day_even_if_it_is_an_exception() {
        let london = tz("Europe/London");
        let hours = DiallingHours { fri: vec![r("22:00", "02:00")], ..Default::default() };
        let lead = CallingHours::default();
        let closed_saturday = [DateException { date: jiff::civil::date(2026, 1, 17), hours: vec![] }];
        let p = plan(&london, &hours, &closed_saturday, None, &lead);
        let now = ts("2026-01-01T00:00:00Z");
        // Friday 2026-01-16 23:30 GMT is open; Saturday 01:30 too (Friday's range); 02:00 is not.
        assert_eq!(earliest_dialable(&p, ts("2026-01-16T23:30:00Z"), now), Some(ts("2026-01-16T23:30:00Z")));
        assert_eq!(earliest_dialable(&p, ts("2026-01-17T01:30:00Z"), now), Some(ts("2026-01-17T01:30:00Z")));
        assert_eq!(earliest_dialable(&p, ts("2026-01-17T02:00:00Z"), now), Some(ts("2026-01-23T22:00:00Z")));
        // A Friday exception removes that Friday's night range, including its Saturday part.
        let closed_friday = [DateException { date: jiff::civil::date(2026, 1, 16), hours: vec![] }];
        let p = plan(&london, &hours, &closed_friday, None, &lead);
        assert_eq!(earliest_dialable(&p, ts("2026-01-17T01:30:00Z"), now), Some(ts("2026-01-23T22:00:00Z")));
        assert_eq!(
            campaign_open_intervals(&p, ts("2026-01-22T00:00:00Z"), ts("2026-01-25T00:00:00Z")),
            vec![(ts("2026-01-23T22:00:00Z"), ts("2026-01-24T02:00:00Z"))]
        );
    }

    #[test]
    fn touching_ranges_merge_into_one_interval() {
        let london = tz("Europe/London");
        let hours = DiallingHours::always_open();
        let lead = CallingHours::default();
        let p = plan(&london, &hours, &[], None, &lead);
        let (from, to) = (ts("2026-03-27T10:00:00Z"), ts("2026-04-02T10:00:00Z"));
        assert_eq!(campaign_open_intervals(&p, from, to), vec![(from, to)]);
    }

    #[test]
    fn london_spring_gap_opens_at_the_first_instant_after_the_gap() {
        // Sunday 2026-03-29: 01:00 GMT -> 02:00 BST. A range starting at 01:30 opens at 02:00 BST.
        let london = tz("Europe/London");
        let hours = DiallingHours { sun: vec![r("01:30", "04:00")], ..Default::default() };
        let lead = CallingHours::default();
        let p = plan(&london, &hours, &[], None, &lead);
        let got = earliest_dialable(&p, ts("2026-03-28T12:00:00Z"), ts("2026-03-01T00:00:00Z"));
        assert_eq!(got, Some(ts("2026-03-29T01:00:00Z")));
        assert!(!campaign_open_at(&p, ts("2026-03-29T00:59:59Z")));
        assert!(campaign_open_at(&p, ts("2026-03-29T02:59:59Z")));
        assert!(!campaign_open_at(&p, ts("2026-03-29T03:00:00Z")));
    }

    #[test]
    fn london_autumn_fold_opens_at_the_first_occurrence() {
        // Sunday 2026-10-25: 02:00 BST -> 01:00 GMT. 01:30 first happens at 00:30Z.
        let london = tz("Europe/London");
        let hours = DiallingHours { sun: vec![r("01:30", "03:00")], ..Default::default() };
        let lead = CallingHours::default();
        let p = plan(&london, &hours, &[], None, &lead);
        let now = ts("2026-10-01T00:00:00Z");
        assert_eq!(earliest_dialable(&p, ts("2026-10-24T12:00:00Z"), now), Some(ts("2026-10-25T00:30:00Z")));
        // The repeated hour stays open: the range runs to 03:00 GMT, 2.5 hours of real time.
        assert!(campaign_open_at(&p, ts("2026-10-25T01:15:00Z")));
        assert!(campaign_open_at(&p, ts("2026-10-25T02:59:00Z")));
        assert!(!campaign_open_at(&p, ts("2026-10-25T03:00:00Z")));
        // 09:00-17:00 on the fold day is the usual GMT day.
        let hours = every_day(&[r("09:00", "17:00")]);
        let p = plan(&london, &hours, &[], None, &lead);
        assert_eq!(earliest_dialable(&p, ts("2026-10-25T00:00:00Z"), now), Some(ts("2026-10-25T09:00:00Z")));
        assert_eq!(earliest_dialable(&p, ts("2026-10-24T00:00:00Z"), now), Some(ts("2026-10-24T08:00:00Z")));
    }

    #[test]
    fn sydney_autumn_fold_and_spring_gap() {
        let sydney = tz("Australia/Sydney");
        let lead = CallingHours::default();
        let now = ts("2026-01-01T00:00:00Z");
        // Sunday 2026-04-05: 03:00 AEDT -> 02:00 AEST. 02:30 first happens at 15:30Z the day before.
        let hours = DiallingHours { sun: vec![r("02:30", "06:00")], ..Default::default() };
        let p = plan(&sydney, &hours, &[], None, &lead);
        assert_eq!(earliest_dialable(&p, ts("2026-04-04T00:00:00Z"), now), Some(ts("2026-04-04T15:30:00Z")));
        // Sunday 2026-10-04: 02:00 AEST -> 03:00 AEDT. A 02:30 start opens at 03:00 AEDT = 16:00Z.
        let p = plan(&sydney, &hours, &[], None, &lead);
        assert_eq!(earliest_dialable(&p, ts("2026-10-01T00:00:00Z"), now), Some(ts("2026-10-03T16:00:00Z")));
        // A range ending inside the gap closes at the transition.
        let hours = DiallingHours { sun: vec![r("01:00", "02:30")], ..Default::default() };
        let p = plan(&sydney, &hours, &[], None, &lead);
        assert_eq!(
            campaign_open_intervals(&p, ts("2026-10-03T00:00:00Z"), ts("2026-10-04T00:00:00Z")),
            vec![(ts("2026-10-03T15:00:00Z"), ts("2026-10-03T16:00:00Z"))]
        );
    }

    #[test]
    fn lead_hours_in_sydney_narrow_a_london_campaign() {
        // June: London BST (+1), Sydney AEST (+10). Lead 08:00-21:00 Sydney = 22:00Z-11:00Z.
        // Campaign 08:00-20:00 London = 07:00Z-19:00Z. Together: 07:00Z-11:00Z.
        let london = tz("Europe/London");
        let sydney = tz("Australia/Sydney");
        let hours = every_day(&[r("08:00", "20:00")]);
        let lead = CallingHours::default();
        let p = plan(&london, &hours, &[], Some(&sydney), &lead);
        let now = ts("2026-06-01T00:00:00Z");
        assert_eq!(earliest_dialable(&p, ts("2026-06-10T12:00:00Z"), now), Some(ts("2026-06-11T07:00:00Z")));
        assert_eq!(earliest_dialable(&p, ts("2026-06-10T10:59:00Z"), now), Some(ts("2026-06-10T10:59:00Z")));
        assert_eq!(earliest_dialable(&p, ts("2026-06-10T05:00:00Z"), now), Some(ts("2026-06-10T07:00:00Z")));
        // Without the lead's timezone only the campaign's hours apply.
        let p = plan(&london, &hours, &[], None, &lead);
        assert_eq!(earliest_dialable(&p, ts("2026-06-10T12:00:00Z"), now), Some(ts("2026-06-10T12:00:00Z")));
    }

    #[test]
    fn lead_hours_may_cross_midnight() {
        let utc = TimeZone::UTC;
        let hours = DiallingHours::always_open();
        let lead = CallingHours(r("22:00", "02:00"));
        let p = plan(&utc, &hours, &[], Some(&utc), &lead);
        let now = ts("2026-06-01T00:00:00Z");
        assert_eq!(earliest_dialable(&p, ts("2026-06-10T01:00:00Z"), now), Some(ts("2026-06-10T01:00:00Z")));
        assert_eq!(earliest_dialable(&p, ts("2026-06-10T03:00:00Z"), now), Some(ts("2026-06-10T22:00:00Z")));
    }

    #[test]
    fn a_stopped_campaign_has_no_earliest_time() {
        let london = tz("Europe/London");
        let hours = DiallingHours::always_open();
        let lead = CallingHours::default();
        let p = DialPlan { running: false, ..plan(&london, &hours, &[], None, &lead) };
        assert_eq!(earliest_dialable(&p, ts("2026-06-10T12:00:00Z"), ts("2026-06-01T00:00:00Z")), None);
    }

    #[test]
    fn hours_that_never_open_have_no_earliest_time() {
        let london = tz("Europe/London");
        let lead = CallingHours::default();
        let never = DiallingHours::default();
        let p = plan(&london, &never, &[], None, &lead);
        assert_eq!(earliest_dialable(&p, ts("2026-06-10T12:00:00Z"), ts("2026-06-01T00:00:00Z")), None);
        // Open only when the lead is asleep: never together.
        let sydney = tz("Australia/Sydney");
        let hours = every_day(&[r("13:00", "19:00")]);
        let p = plan(&london, &hours, &[], Some(&sydney), &lead);
        assert_eq!(earliest_dialable(&p, ts("2026-06-10T12:00:00Z"), ts("2026-06-01T00:00:00Z")), None);
        // An exception beyond the search window does not count.
        let far = [DateException { date: jiff::civil::date(2028, 1, 3), hours: vec![r("09:00", "10:00")] }];
        let p = plan(&london, &never, &far, None, &lead);
        assert_eq!(earliest_dialable(&p, ts("2026-06-10T12:00:00Z"), ts("2026-06-01T00:00:00Z")), None);
        // One within it does.
        let near = [DateException { date: jiff::civil::date(2027, 1, 4), hours: vec![r("09:00", "10:00")] }];
        let p = plan(&london, &never, &near, None, &lead);
        assert_eq!(
            earliest_dialable(&p, ts("2026-06-10T12:00:00Z"), ts("2026-06-01T00:00:00Z")),
            Some(ts("2027-01-04T09:00:00Z"))
        );
    }

    #[test]
    fn extreme_instants_do_not_panic() {
        let london = tz("Europe/London");
        let hours = DiallingHours::always_open();
        let lead = CallingHours::default();
        let p = plan(&london, &hours, &[], Some(&london), &lead);
        for t in [Timestamp::MIN, Timestamp::MAX] {
            let _ = earliest_dialable(&p, t, t);
            let _ = campaign_open_at(&p, t);
            let _ = campaign_open_intervals(&p, t, Timestamp::MAX);
        }
    }

    // ---- property tests -------------------------------------------------------------------------

    /// Zones with the 2026 instants of their DST transitions, where the rules are hardest.
    const ZONES: [(&str, [&str; 2]); 5] = [
        ("Europe/London", ["2026-03-29T01:00:00Z", "2026-10-25T01:00:00Z"]),
        ("Australia/Sydney", ["2026-10-03T16:00:00Z", "2026-04-04T16:00:00Z"]),
        ("America/New_York", ["2026-03-08T07:00:00Z", "2026-11-01T06:00:00Z"]),
        // Half-hour DST: 02:00 -> 02:30 in October, 02:00 -> 01:30 in April.
        ("Australia/Lord_Howe", ["2026-10-03T15:30:00Z", "2026-04-04T15:00:00Z"]),
        ("UTC", ["2026-06-01T00:00:00Z", "2026-12-31T12:00:00Z"]),
    ];

    fn range_strategy() -> impl Strategy<Value = TimeRange> {
        // Quarter-hour boundaries, so some land inside gaps and folds; end 96 = "24:00".
        // Half the boundaries fall between 00:00 and 04:00, where the DST transitions are.
        let quarter = || prop_oneof![0i8..16, 0i8..96];
        (quarter(), prop_oneof![quarter(), Just(96i8)]).prop_map(|(s, e)| {
            let time = |q: i8| Time::constant(q / 4, (q % 4) * 15, 0, 0);
            if e == 96 {
                TimeRange { start: time(s), end: Time::midnight(), end_of_day: true }
            } else {
                TimeRange { start: time(s), end: time(e), end_of_day: false }
            }
        })
    }

    #[derive(Debug, Clone)]
    struct Case {
        campaign_tz: TimeZone,
        hours: DiallingHours,
        exceptions: Vec<DateException>,
        lead_tz: Option<TimeZone>,
        lead_hours: CallingHours,
        start: Timestamp,
    }

    impl Case {
        fn plan(&self) -> DialPlan<'_> {
            DialPlan {
                campaign_tz: &self.campaign_tz,
                running: true,
                hours: &self.hours,
                exceptions: &self.exceptions,
                lead_tz: self.lead_tz.as_ref(),
                lead_hours: &self.lead_hours,
            }
        }
    }

    fn week_strategy() -> impl Strategy<Value = DiallingHours> {
        let day = || proptest::collection::vec(range_strategy(), 0..3);
        (day(), day(), day(), day(), day(), day(), day())
            .prop_map(|(mon, tue, wed, thu, fri, sat, sun)| DiallingHours { mon, tue, wed, thu, fri, sat, sun })
    }

    fn case_strategy() -> impl Strategy<Value = Case> {
        let lead_zone =
            || proptest::option::of(proptest::sample::select(ZONES.to_vec()).prop_map(|(name, _)| tz(name)));
        (proptest::sample::select(ZONES.to_vec()), proptest::sample::select(vec![0usize, 1])).prop_flat_map(
            move |((name, anchors), which)| {
                let anchor = ts(anchors[which]);
                // Start up to two days before the transition and at most one after, so the three
                // days the tests look at usually contain it.
                let start = (-2 * 86_400i64..86_400)
                    .prop_map(move |secs| anchor.checked_add(SignedDuration::from_secs(secs)).expect("in range"));
                let exception =
                    (-3i64..3, proptest::collection::vec(range_strategy(), 0..3)).prop_map(move |(days, hours)| {
                        let date = anchor.to_zoned(TimeZone::UTC).date();
                        DateException { date: date.checked_add(jiff::Span::new().days(days)).expect("in range"), hours }
                    });
                (week_strategy(), proptest::collection::vec(exception, 0..3), lead_zone(), range_strategy(), start)
                    .prop_map(move |(hours, exceptions, lead_tz, lead, start)| Case {
                        campaign_tz: tz(name),
                        hours,
                        exceptions,
                        lead_tz,
                        lead_hours: CallingHours(lead),
                        start,
                    })
            },
        )
    }

    fn in_fold(zone: &TimeZone, t: Timestamp) -> bool {
        matches!(zone.to_ambiguous_timestamp(zone.to_datetime(t)).offset(), AmbiguousOffset::Fold { .. })
    }

    /// Reference reading of a range in plain wall-clock terms: open when the local time is past its
    /// start on its own day, or before its end on the next day when it crosses midnight. It agrees
    /// with the instant rules everywhere but inside a fold (where wall time runs twice).
    fn wall_clock_open(local: DateTime, ranges_on: impl Fn(Date) -> Vec<TimeRange>) -> bool {
        let (date, time) = (local.date(), local.time());
        let today = ranges_on(date).into_iter().any(|r| {
            if r.end_of_day || r.crosses_midnight() { time >= r.start } else { r.start <= time && time < r.end }
        });
        let from_yesterday = date
            .yesterday()
            .map(&ranges_on)
            .unwrap_or_default()
            .into_iter()
            .any(|r| !r.end_of_day && r.crosses_midnight() && time < r.end);
        today || from_yesterday
    }

    fn reference_campaign_open(case: &Case, t: Timestamp) -> bool {
        let plan = case.plan();
        wall_clock_open(case.campaign_tz.to_datetime(t), |date| match case.exceptions.iter().find(|e| e.date == date) {
            Some(e) => e.hours.clone(),
            None => plan.hours.for_weekday(date.weekday()).to_vec(),
        })
    }

    fn reference_lead_open(case: &Case, t: Timestamp) -> bool {
        match &case.lead_tz {
            Some(zone) => wall_clock_open(zone.to_datetime(t), |_| vec![case.lead_hours.0]),
            None => true,
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

        #[test]
        fn open_hours_match_the_wall_clock_outside_folds(case in case_strategy(), probes in proptest::collection::vec(0i64..3 * 86_400, 1..200)) {
            let plan = case.plan();
            for offset in probes {
                let t = case.start.checked_add(SignedDuration::from_secs(offset)).expect("in range");
                if !in_fold(&case.campaign_tz, t) {
                    prop_assert_eq!(campaign_open_at(&plan, t), reference_campaign_open(&case, t), "campaign at {}", t);
                }
                if let Some(zone) = &case.lead_tz && !in_fold(zone, t) {
                    prop_assert_eq!(imp::lead_open_at(&plan, t), reference_lead_open(&case, t), "lead at {}", t);
                }
            }
        }

        #[test]
        fn earliest_is_open_and_nothing_earlier_is(case in case_strategy(), lag in -86_400i64..86_400) {
            let plan = case.plan();
            let desired = case.start;
            let now = case.start.checked_add(SignedDuration::from_secs(lag)).expect("in range");
            let start = desired.max(now);
            let Some(earliest) = earliest_dialable(&plan, desired, now) else {
                // Nothing open for the whole search: no probe in the first days is open either.
                for minute in 0..(3 * 24 * 60) {
                    let t = start.checked_add(SignedDuration::from_mins(minute)).expect("in range");
                    prop_assert!(!(campaign_open_at(&plan, t) && imp::lead_open_at(&plan, t)), "open at {}", t);
                }
                return Ok(());
            };
            prop_assert!(earliest >= start);
            prop_assert!(campaign_open_at(&plan, earliest));
            prop_assert!(imp::lead_open_at(&plan, earliest));
            if !in_fold(&case.campaign_tz, earliest) {
                prop_assert!(reference_campaign_open(&case, earliest));
            }
            if !case.lead_tz.as_ref().is_some_and(|zone| in_fold(zone, earliest)) {
                prop_assert!(reference_lead_open(&case, earliest));
            }
            // Every minute before it (back to `start`, at most two days) is closed. Boundaries fall on
            // whole minutes, so a minute step cannot jump over an open stretch.
            for minute in 1..=(48 * 60) {
                let prev = earliest.checked_sub(SignedDuration::from_mins(minute)).expect("in range");
                if prev < start {
                    break;
                }
                prop_assert!(
                    !(campaign_open_at(&plan, prev) && imp::lead_open_at(&plan, prev)),
                    "open at {} before {}", prev, earliest
                );
                // And by the independent wall-clock reading, wherever it applies.
                let lead_in_fold = case.lead_tz.as_ref().is_some_and(|zone| in_fold(zone, prev));
                if !in_fold(&case.campaign_tz, prev) && !lead_in_fold {
                    prop_assert!(
                        !(reference_campaign_open(&case, prev) && reference_lead_open(&case, prev)),
                        "wall clock open at {} before {}", prev, earliest
                    );
                }
            }
            prop_assert!(earliest == start || !(campaign_open_at(&plan, start) && imp::lead_open_at(&plan, start)));
        }
    }
}
