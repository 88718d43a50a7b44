//! Showing instants the way the signed-in user asked (their timezone or UTC, a 24- or 12-hour
//! clock), and the date-range presets computed in the user's own timezone ("today" is the user's
//! today, not the server's).

use std::fmt::Write as _;

use jiff::civil::{DateTime, Weekday};
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan, Zoned};
use maud::Render;

/// The user's timezone (UTC if the stored name is unknown to the bundled database).
pub fn user_timezone(name: &str) -> TimeZone {
    TimeZone::get(name).unwrap_or(TimeZone::UTC)
}

/// `2026-03-02 14:30` in `tz` (24-hour clock).
pub fn local(at: Timestamp, tz: &TimeZone) -> String {
    at.to_zoned(tz.clone()).strftime("%Y-%m-%d %H:%M").to_string()
}

/// How a user sees times: in which zone, on which clock. Built once per request from the user's
/// options; [`TimeFormat::at`] renders straight into the page (no string per cell).
#[derive(Debug, Clone)]
pub struct TimeFormat {
    pub tz: TimeZone,
    pub clock_24h: bool,
    /// Shown in UTC (by the user's choice) rather than their own zone.
    pub utc: bool,
}

impl TimeFormat {
    /// `zone_name`'s times (or UTC's when `utc`), on a 24- or 12-hour clock.
    pub fn new(zone_name: &str, clock_24h: bool, utc: bool) -> TimeFormat {
        let tz = if utc { TimeZone::UTC } else { user_timezone(zone_name) };
        TimeFormat { tz, clock_24h, utc }
    }

    /// `at` as the user reads it: `2026-03-02 14:30` or `2026-03-02 2:30 PM`.
    pub fn at(&self, at: Timestamp) -> Shown<'_> {
        Shown { format: self, at }
    }

    /// The zone's name as a label says it (`UTC`, `Europe/London`).
    pub fn zone_name(&self) -> &str {
        if self.utc { "UTC" } else { self.tz.iana_name().unwrap_or("UTC") }
    }

    /// The `value` of a `datetime-local` input for `at` in this zone (seconds only when not zero).
    pub fn input_value(&self, at: Timestamp) -> String {
        let local = at.to_zoned(self.tz.clone()).datetime();
        let pattern = if local.second() == 0 { "%Y-%m-%dT%H:%M" } else { "%Y-%m-%dT%H:%M:%S" };
        local.strftime(pattern).to_string()
    }

    /// Reads a `datetime-local` value (`2026-03-02T14:30`) as an instant in this zone; a time
    /// that does not exist there (a DST gap) or occurs twice is taken as its first reading.
    pub fn parse_input(&self, value: &str) -> Option<Timestamp> {
        let local: DateTime = value.trim().parse().ok()?;
        self.tz.to_ambiguous_zoned(local).compatible().ok().map(|z| z.timestamp())
    }
}

/// One instant rendered by a [`TimeFormat`].
pub struct Shown<'a> {
    format: &'a TimeFormat,
    at: Timestamp,
}

impl Render for Shown<'_> {
    fn render_to(&self, buffer: &mut String) {
        let zoned = self.at.to_zoned(self.format.tz.clone());
        let pattern = if self.format.clock_24h { "%Y-%m-%d %H:%M" } else { "%Y-%m-%d %-I:%M %p" };
        // Digits, dashes, colons and AM/PM only: nothing to escape.
        let _ = write!(buffer, "{}", zoned.strftime(pattern));
    }
}

/// A date range of the callbacks list: `[from, to)` in UTC, with the id its link carries
/// (`preset-today`, `range-3`) and its label.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Preset {
    pub id: String,
    pub label: String,
    pub from: Timestamp,
    pub to: Timestamp,
}

/// Midnight `days` days after the day of `now` (negative: before), in `now`'s timezone.
pub fn midnight(now: &Zoned, days: i32) -> Option<Timestamp> {
    let date = now.date().checked_add(days.days()).ok()?;
    // `to_zoned` resolves a midnight that does not exist (a DST gap) to the first instant after it.
    date.to_zoned(now.time_zone().clone()).ok().map(|z| z.timestamp())
}

/// Days from today back to this week's Monday (0 on a Monday).
fn days_since_monday(now: &Zoned) -> i32 {
    i32::from(now.weekday().since(Weekday::Monday))
}

/// The built-in ranges, each from midnight to midnight in `tz`: yesterday, today, tomorrow, this
/// week (Monday to Monday), the next 7 days (today and the 6 after it) and the last 14 days (today
/// and the 13 before it).
pub fn presets(now: Timestamp, tz: &TimeZone) -> Vec<Preset> {
    let now = now.to_zoned(tz.clone());
    let monday = -days_since_monday(&now);
    let ranges: [(&str, &str, i32, i32); 6] = [
        ("yesterday", "Yesterday", -1, 0),
        ("today", "Today", 0, 1),
        ("tomorrow", "Tomorrow", 1, 2),
        ("this-week", "This week", monday, monday + 7),
        ("next-7-days", "Next 7 days", 0, 7),
        ("last-14-days", "Last 14 days", -13, 1),
    ];
    ranges
        .into_iter()
        .filter_map(|(id, label, from, to)| {
            Some(Preset {
                id: format!("preset-{id}"),
                label: label.to_string(),
                from: midnight(&now, from)?,
                to: midnight(&now, to)?,
            })
        })
        .collect()
}

/// `[midnight of today + from_day, midnight of today + to_day)` in `tz`: a saved relative range.
pub fn relative_range(now: Timestamp, tz: &TimeZone, from_day: i32, to_day: i32) -> Option<(Timestamp, Timestamp)> {
    let now = now.to_zoned(tz.clone());
    Some((midnight(&now, from_day)?, midnight(&now, to_day)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().expect("timestamp")
    }

    fn shown(format: &TimeFormat, at: &str) -> String {
        format.at(ts(at)).render().into_string()
    }

    #[test]
    fn times_show_in_the_users_zone() {
        let tz = user_timezone("America/New_York");
        assert_eq!(local(ts("2026-03-02T15:05:00Z"), &tz), "2026-03-02 10:05");
        assert_eq!(local(ts("2026-03-02T15:05:00Z"), &user_timezone("Not/AZone")), "2026-03-02 15:05");
    }

    #[test]
    fn times_follow_the_clock_and_zone_options() {
        let at = "2026-03-02T19:30:00Z";
        assert_eq!(shown(&TimeFormat::new("America/New_York", true, false), at), "2026-03-02 14:30");
        assert_eq!(shown(&TimeFormat::new("America/New_York", false, false), at), "2026-03-02 2:30 PM");
        assert_eq!(shown(&TimeFormat::new("America/New_York", true, true), at), "2026-03-02 19:30");
        assert_eq!(
            shown(&TimeFormat::new("America/New_York", false, true), "2026-03-02T00:05:00Z"),
            "2026-03-02 12:05 AM"
        );
        assert_eq!(TimeFormat::new("America/New_York", true, true).zone_name(), "UTC");
        assert_eq!(TimeFormat::new("America/New_York", true, false).zone_name(), "America/New_York");
    }

    #[test]
    fn datetime_inputs_read_and_write_the_display_zone() {
        let format = TimeFormat::new("Europe/London", true, false);
        assert_eq!(format.input_value(ts("2026-07-01T08:00:00Z")), "2026-07-01T09:00");
        assert_eq!(format.input_value(ts("2026-07-01T08:00:07Z")), "2026-07-01T09:00:07");
        assert_eq!(format.parse_input("2026-07-01T09:00"), Some(ts("2026-07-01T08:00:00Z")));
        // 01:30 on 29 March does not exist in London: the first instant after the gap.
        assert_eq!(format.parse_input("2026-03-29T01:30"), Some(ts("2026-03-29T01:30:00Z")));
        assert_eq!(format.parse_input("tomorrow"), None);
    }

    #[test]
    fn presets_run_from_the_users_midnight() {
        // 02:00 UTC on Tuesday 3 March is still Monday 2 March in New York (UTC-5).
        let tz = user_timezone("America/New_York");
        let presets = presets(ts("2026-03-03T02:00:00Z"), &tz);
        let find = |id: &str| presets.iter().find(|p| p.id == id).map(|p| (p.from, p.to)).expect(id);
        assert_eq!(find("preset-today"), (ts("2026-03-02T05:00:00Z"), ts("2026-03-03T05:00:00Z")));
        assert_eq!(find("preset-yesterday"), (ts("2026-03-01T05:00:00Z"), ts("2026-03-02T05:00:00Z")));
        assert_eq!(find("preset-tomorrow"), (ts("2026-03-03T05:00:00Z"), ts("2026-03-04T05:00:00Z")));
        // Monday 2 March to Monday 9 March, across the spring-forward of 8 March (UTC-4 after).
        assert_eq!(find("preset-this-week"), (ts("2026-03-02T05:00:00Z"), ts("2026-03-09T04:00:00Z")));
        assert_eq!(find("preset-next-7-days"), (ts("2026-03-02T05:00:00Z"), ts("2026-03-09T04:00:00Z")));
        assert_eq!(find("preset-last-14-days"), (ts("2026-02-17T05:00:00Z"), ts("2026-03-03T05:00:00Z")));
    }

    #[test]
    fn this_week_starts_on_monday_even_on_a_sunday() {
        let tz = user_timezone("Europe/London");
        let presets = presets(ts("2026-03-08T12:00:00Z"), &tz);
        let week = presets.iter().find(|p| p.id == "preset-this-week").unwrap();
        assert_eq!((week.from, week.to), (ts("2026-03-02T00:00:00Z"), ts("2026-03-09T00:00:00Z")));
    }

    #[test]
    fn relative_ranges_count_whole_days_from_today() {
        let tz = user_timezone("Europe/London");
        let next3 = relative_range(ts("2026-03-02T10:00:00Z"), &tz, 0, 3);
        assert_eq!(next3, Some((ts("2026-03-02T00:00:00Z"), ts("2026-03-05T00:00:00Z"))));
    }
}
