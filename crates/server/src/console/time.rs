//! Showing instants in the signed-in user's timezone, and the date-range presets computed there
//! ("today" is the user's today, not the server's).

use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan, Zoned};

/// The user's timezone (UTC if the stored name is unknown to the bundled database).
pub fn user_timezone(name: &str) -> TimeZone {
    TimeZone::get(name).unwrap_or(TimeZone::UTC)
}

/// `2026-03-02 14:30` in `tz` (24-hour clock).
pub fn local(at: Timestamp, tz: &TimeZone) -> String {
    at.to_zoned(tz.clone()).strftime("%Y-%m-%d %H:%M").to_string()
}

/// A date-range preset of the callbacks list: `[from, to)` in UTC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Preset {
    pub id: &'static str,
    pub label: &'static str,
    pub from: Timestamp,
    pub to: Timestamp,
}

/// Midnight `days` days after the day of `now` (negative: before), in `now`'s timezone.
fn midnight(now: &Zoned, days: i32) -> Option<Timestamp> {
    let date = now.date().checked_add(days.days()).ok()?;
    // `to_zoned` resolves a midnight that does not exist (a DST gap) to the first instant after it.
    date.to_zoned(now.time_zone().clone()).ok().map(|z| z.timestamp())
}

/// Today, the next 7 days (today and the 6 after it) and the last 14 days (today and the 13
/// before it), each from midnight to midnight in `tz`.
pub fn presets(now: Timestamp, tz: &TimeZone) -> Vec<Preset> {
    let now = now.to_zoned(tz.clone());
    let ranges: [(&str, &str, i32, i32); 3] =
        [("today", "Today", 0, 1), ("next-7-days", "Next 7 days", 0, 7), ("last-14-days", "Last 14 days", -13, 1)];
    ranges
        .into_iter()
        .filter_map(|(id, label, from, to)| {
            Some(Preset { id, label, from: midnight(&now, from)?, to: midnight(&now, to)? })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().expect("timestamp")
    }

    #[test]
    fn times_show_in_the_users_zone() {
        let tz = user_timezone("America/New_York");
        assert_eq!(local(ts("2026-03-02T15:05:00Z"), &tz), "2026-03-02 10:05");
        assert_eq!(local(ts("2026-03-02T15:05:00Z"), &user_timezone("Not/AZone")), "2026-03-02 15:05");
    }

    #[test]
    fn presets_run_from_the_users_midnight() {
        // 02:00 UTC on 3 March is still 2 March in New York (UTC-5).
        let tz = user_timezone("America/New_York");
        let presets = presets(ts("2026-03-03T02:00:00Z"), &tz);
        let today = &presets[0];
        assert_eq!((today.from, today.to), (ts("2026-03-02T05:00:00Z"), ts("2026-03-03T05:00:00Z")));
        // The 7 days cross the spring-forward of 8 March: the last midnight is at UTC-4.
        assert_eq!((presets[1].from, presets[1].to), (ts("2026-03-02T05:00:00Z"), ts("2026-03-09T04:00:00Z")));
        assert_eq!((presets[2].from, presets[2].to), (ts("2026-02-17T05:00:00Z"), ts("2026-03-03T05:00:00Z")));
    }
}
