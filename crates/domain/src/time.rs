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
    use super::*;

    pub(super) fn parse_timezone(_name: &str) -> Result<TimeZone, TimeError> {
        unimplemented!("domain helper")
    }

    pub(super) fn parse_instant(
        _text: &str,
        _timezone: Option<&str>,
        _disambiguation: Option<Disambiguation>,
    ) -> Result<Timestamp, TimeError> {
        unimplemented!("domain helper")
    }
}
