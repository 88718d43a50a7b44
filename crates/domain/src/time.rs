//! Time rules that are not about dialling hours: reading a requested time (any offset, or a naive
//! local time plus an IANA timezone, with DST gap/fold refused unless the request says how to
//! resolve it), the desired-time window and "overdue", the booking horizon, and retention.

use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

use crate::state::CallbackState;

/// How to resolve a local time that falls in a DST gap or fold, when the request says so.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Disambiguation {
    Earlier,
    Later,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimeError {
    #[error("'{0}' is not a known IANA timezone")]
    UnknownTimezone(String),
    #[error("'{0}' is not a valid time (expected RFC 3339, or a local time with a timezone)")]
    Unparseable(String),
    #[error("'{0}' has no offset; give an offset or a timezone")]
    MissingTimezone(String),
    #[error(
        "{local} does not exist in {timezone} (the clocks skip it); say \"disambiguation\": \"earlier\" or \"later\""
    )]
    Nonexistent { local: String, timezone: String },
    #[error(
        "{local} occurs twice in {timezone} (the clocks repeat it); say \"disambiguation\": \"earlier\" or \"later\""
    )]
    Ambiguous { local: String, timezone: String },
    #[error("the time {0} is in the past")]
    InPast(String),
    #[error("the time {time} is beyond the campaign's booking horizon of {horizon_days} days")]
    BeyondHorizon { time: String, horizon_days: u32 },
}

/// Looks up an IANA timezone by name in the bundled tz database.
pub fn parse_timezone(name: &str) -> Result<TimeZone, TimeError> {
    imp::parse_timezone(name)
}

/// Reads a requested instant. `text` with an offset (`…Z`, `…+01:00`) is taken as is (any
/// `timezone` then only records how it was asked). A naive `2026-03-29T01:30:00` needs `timezone`;
/// a gap or fold is refused unless `disambiguation` resolves it.
pub fn parse_instant(
    text: &str,
    timezone: Option<&str>,
    disambiguation: Option<Disambiguation>,
) -> Result<Timestamp, TimeError> {
    imp::parse_instant(text, timezone, disambiguation)
}

/// A callback still `SCHEDULED` after `earliest + window` is overdue.
pub fn is_overdue(state: CallbackState, earliest: Option<Timestamp>, window_secs: u32, now: Timestamp) -> bool {
    match earliest {
        Some(earliest) if state == CallbackState::Scheduled => {
            now > earliest.saturating_add(SignedDuration::from_secs(i64::from(window_secs))).unwrap_or(earliest)
        }
        _ => false,
    }
}

/// The instant after which a scheduled callback with this earliest time is overdue.
pub fn overdue_after(earliest: Timestamp, window_secs: u32) -> Timestamp {
    earliest.saturating_add(SignedDuration::from_secs(i64::from(window_secs))).unwrap_or(earliest)
}

/// Refuses a desired time further than `horizon_days` after `now`.
pub fn check_horizon(desired: Timestamp, now: Timestamp, horizon_days: u32) -> Result<(), TimeError> {
    let limit = now.saturating_add(SignedDuration::from_hours(24 * i64::from(horizon_days))).unwrap_or(now);
    if desired > limit {
        return Err(TimeError::BeyondHorizon { time: desired.to_string(), horizon_days });
    }
    Ok(())
}

/// Refuses a desired time before `now` (with a small grace for clock skew between client and server).
pub fn check_not_past(desired: Timestamp, now: Timestamp) -> Result<(), TimeError> {
    const SKEW_GRACE_SECS: i64 = 60;
    if desired < now.saturating_sub(SignedDuration::from_secs(SKEW_GRACE_SECS)).unwrap_or(now) {
        return Err(TimeError::InPast(desired.to_string()));
    }
    Ok(())
}

/// The default retention period after the desired time.
pub const DEFAULT_RETENTION_DAYS: u32 = 14;

/// When retention removes a callback: `retention_days` after its desired time.
pub fn retention_expiry(desired: Timestamp, retention_days: u32) -> Timestamp {
    desired.saturating_add(SignedDuration::from_hours(24 * i64::from(retention_days))).unwrap_or(desired)
}

mod imp {
    use jiff::civil::DateTime;
    use jiff::tz::{self, AmbiguousOffset};

    use super::*;

    pub(super) fn parse_timezone(name: &str) -> Result<TimeZone, TimeError> {
        let unknown = || TimeError::UnknownTimezone(name.to_string());
        // IANA names are letters, digits and `/_-+` (`Etc/GMT+5`, `America/Port-au-Prince`). Anything
        // else (`+01:00`, POSIX rules, paths) is refused before the database sees it.
        let plausible = !name.is_empty()
            && name.len() <= 64
            && name.bytes().next().is_some_and(|b| b.is_ascii_alphabetic())
            && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'_' | b'-' | b'+'))
            && !name.contains("//");
        if !plausible {
            return Err(unknown());
        }
        let zone = TimeZone::get(name).map_err(|_| unknown())?;
        if zone.is_unknown() {
            return Err(unknown());
        }
        Ok(zone)
    }

    /// Whether the text carries an offset or zone annotation after its time of day (`Z`, `+01:00`,
    /// `-05`, `[Europe/London]`). Such text must parse as an instant or not at all: it is never read
    /// as a naive local time with its offset silently dropped.
    fn has_offset(text: &str) -> bool {
        let Some(pos) = text.find(['T', 't', ' ']) else {
            return false;
        };
        text[pos + 1..].contains(['Z', 'z', '+', '-', '[', '\u{2212}'])
    }

    pub(super) fn parse_instant(
        text: &str,
        timezone: Option<&str>,
        disambiguation: Option<Disambiguation>,
    ) -> Result<Timestamp, TimeError> {
        let unparseable = || TimeError::Unparseable(text.to_string());
        let trimmed = text.trim();
        if trimmed.is_empty() || trimmed.len() > 100 {
            return Err(unparseable());
        }
        if let Ok(ts) = trimmed.parse::<Timestamp>() {
            return Ok(ts);
        }
        // A date without a time of day is not a requested instant.
        if has_offset(trimmed) || !trimmed.contains(['T', 't', ' ']) {
            return Err(unparseable());
        }
        let local: DateTime = trimmed.parse().map_err(|_| unparseable())?;
        let Some(name) = timezone else {
            return Err(TimeError::MissingTimezone(text.to_string()));
        };
        let zone = parse_timezone(name)?;
        let ambiguous = zone.to_ambiguous_timestamp(local);
        let choice = match (ambiguous.offset(), disambiguation) {
            (AmbiguousOffset::Unambiguous { .. }, _) => tz::Disambiguation::Compatible,
            (AmbiguousOffset::Gap { .. }, None) => {
                return Err(TimeError::Nonexistent { local: local.to_string(), timezone: name.to_string() });
            }
            (AmbiguousOffset::Fold { .. }, None) => {
                return Err(TimeError::Ambiguous { local: local.to_string(), timezone: name.to_string() });
            }
            (_, Some(Disambiguation::Earlier)) => tz::Disambiguation::Earlier,
            (_, Some(Disambiguation::Later)) => tz::Disambiguation::Later,
        };
        ambiguous.disambiguate(choice).map_err(|_| unparseable())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().expect("test timestamp")
    }

    #[test]
    fn known_timezones_parse_and_junk_is_refused() {
        assert!(parse_timezone("Europe/London").is_ok());
        assert!(parse_timezone("Australia/Sydney").is_ok());
        assert!(parse_timezone("UTC").is_ok());
        for junk in
            ["", " ", "Mars/Olympus", "+01:00", "UTC+1", "Etc/Unknown", "EST5EDT,M3.2.0,M11.1.0", "/etc/localtime"]
        {
            assert!(matches!(parse_timezone(junk), Err(TimeError::UnknownTimezone(_))), "{junk:?} should be refused");
        }
    }

    #[test]
    fn rfc3339_with_offset_is_taken_as_is() {
        assert_eq!(parse_instant("2026-03-29T01:30:00Z", None, None), Ok(ts("2026-03-29T01:30:00Z")));
        assert_eq!(parse_instant("2026-03-29T03:30:00+02:00", None, None), Ok(ts("2026-03-29T01:30:00Z")));
        // The timezone only records how it was asked.
        assert_eq!(parse_instant("2026-03-29T01:30:00Z", Some("Europe/London"), None), Ok(ts("2026-03-29T01:30:00Z")));
    }

    #[test]
    fn naive_local_time_needs_a_timezone() {
        assert_eq!(
            parse_instant("2026-06-01T09:00:00", None, None),
            Err(TimeError::MissingTimezone("2026-06-01T09:00:00".into()))
        );
        assert_eq!(parse_instant("2026-06-01T09:00", Some("Europe/London"), None), Ok(ts("2026-06-01T08:00:00Z")));
        assert_eq!(parse_instant("2026-01-15T09:00:00", Some("Europe/London"), None), Ok(ts("2026-01-15T09:00:00Z")));
        assert!(matches!(
            parse_instant("2026-06-01T09:00", Some("Nowhere/Special"), None),
            Err(TimeError::UnknownTimezone(_))
        ));
    }

    #[test]
    fn garbage_is_unparseable() {
        for text in ["", "tomorrow", "2026-13-01T00:00", "2026-06-01", "2026-06-01T25:00", "2026-06-01T09:00+99:99"] {
            assert!(
                matches!(parse_instant(text, Some("Europe/London"), None), Err(TimeError::Unparseable(_))),
                "{text:?}: {:?}",
                parse_instant(text, Some("Europe/London"), None)
            );
        }
    }

    #[test]
    fn london_spring_gap_is_refused_unless_resolved() {
        // 2026-03-29: clocks go 01:00 GMT -> 02:00 BST.
        let text = "2026-03-29T01:30:00";
        assert!(matches!(parse_instant(text, Some("Europe/London"), None), Err(TimeError::Nonexistent { .. })));
        assert_eq!(
            parse_instant(text, Some("Europe/London"), Some(Disambiguation::Earlier)),
            Ok(ts("2026-03-29T00:30:00Z"))
        );
        assert_eq!(
            parse_instant(text, Some("Europe/London"), Some(Disambiguation::Later)),
            Ok(ts("2026-03-29T01:30:00Z"))
        );
    }

    #[test]
    fn london_autumn_fold_is_refused_unless_resolved() {
        // 2026-10-25: clocks go 02:00 BST -> 01:00 GMT; 01:30 happens twice.
        let text = "2026-10-25T01:30";
        assert!(matches!(parse_instant(text, Some("Europe/London"), None), Err(TimeError::Ambiguous { .. })));
        assert_eq!(
            parse_instant(text, Some("Europe/London"), Some(Disambiguation::Earlier)),
            Ok(ts("2026-10-25T00:30:00Z"))
        );
        assert_eq!(
            parse_instant(text, Some("Europe/London"), Some(Disambiguation::Later)),
            Ok(ts("2026-10-25T01:30:00Z"))
        );
    }

    #[test]
    fn sydney_autumn_fold_and_spring_gap() {
        // 2026-04-05: 03:00 AEDT -> 02:00 AEST; 02:30 happens twice.
        let fold = "2026-04-05T02:30:00";
        assert!(matches!(parse_instant(fold, Some("Australia/Sydney"), None), Err(TimeError::Ambiguous { .. })));
        assert_eq!(
            parse_instant(fold, Some("Australia/Sydney"), Some(Disambiguation::Earlier)),
            Ok(ts("2026-04-04T15:30:00Z"))
        );
        assert_eq!(
            parse_instant(fold, Some("Australia/Sydney"), Some(Disambiguation::Later)),
            Ok(ts("2026-04-04T16:30:00Z"))
        );
        // 2026-10-04: 02:00 AEST -> 03:00 AEDT; 02:30 does not exist.
        let gap = "2026-10-04T02:30:00";
        assert!(matches!(parse_instant(gap, Some("Australia/Sydney"), None), Err(TimeError::Nonexistent { .. })));
        assert_eq!(
            parse_instant(gap, Some("Australia/Sydney"), Some(Disambiguation::Earlier)),
            Ok(ts("2026-10-03T15:30:00Z"))
        );
        assert_eq!(
            parse_instant(gap, Some("Australia/Sydney"), Some(Disambiguation::Later)),
            Ok(ts("2026-10-03T16:30:00Z"))
        );
        // Unambiguous times ignore the disambiguation.
        assert_eq!(
            parse_instant("2026-10-04T09:00", Some("Australia/Sydney"), Some(Disambiguation::Earlier)),
            Ok(ts("2026-10-03T22:00:00Z"))
        );
    }

    proptest! {
        #[test]
        fn parse_instant_never_panics(text in any::<String>(), tz in any::<Option<String>>(), d in any::<Option<bool>>()) {
            let d = d.map(|later| if later { Disambiguation::Later } else { Disambiguation::Earlier });
            let _ = parse_instant(&text, tz.as_deref(), d);
            let _ = parse_timezone(&text);
        }

        #[test]
        fn datetime_like_text_never_panics(
            text in "[0-9]{1,6}-[0-9]{1,2}-[0-9]{1,2}[T ][0-9]{1,2}:[0-9]{1,2}(:[0-9]{1,2})?([Z+-][0-9:]{0,6})?",
            tz in proptest::sample::select(vec!["Europe/London", "Australia/Sydney", "UTC", "Bad/Zone"]),
        ) {
            let _ = parse_instant(&text, Some(tz), None);
            let _ = parse_instant(&text, Some(tz), Some(Disambiguation::Later));
        }

        #[test]
        fn local_times_round_trip_in_london(secs in 1_600_000_000i64..2_000_000_000i64) {
            let t = Timestamp::from_second(secs).expect("in range");
            let zone = parse_timezone("Europe/London").expect("known");
            let local = zone.to_datetime(t).to_string();
            let back = parse_instant(&local, Some("Europe/London"), Some(Disambiguation::Earlier))
                .expect("an existing local time");
            let back_later = parse_instant(&local, Some("Europe/London"), Some(Disambiguation::Later))
                .expect("an existing local time");
            // Outside a fold both are t; inside a fold one of them is.
            prop_assert!(back == t || back_later == t);
        }
    }
}
