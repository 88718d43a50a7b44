//! The dispatch rules the engine applies: which agent may take which callback, in what order
//! callbacks leave a queue, what an attempt's outcome does, whether a callback may be dialled now,
//! and the estimated wait shown to supervisors. Pure functions; the engine and the store call them.

use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

use crate::hours::{self, DialPlan};
use crate::model::{Agent, Callback, CallbackType, Campaign};
use crate::state::CallbackResult;
use crate::time::parse_timezone;

/// What an attempt came to, as reported by an agent or a dialler.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Connected,
    NoAnswer,
    Busy,
    Voicemail,
    InvalidNumber,
    Failed,
}

impl Outcome {
    pub const ALL: [Outcome; 6] = [
        Outcome::Connected,
        Outcome::NoAnswer,
        Outcome::Busy,
        Outcome::Voicemail,
        Outcome::InvalidNumber,
        Outcome::Failed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Connected => "connected",
            Outcome::NoAnswer => "no_answer",
            Outcome::Busy => "busy",
            Outcome::Voicemail => "voicemail",
            Outcome::InvalidNumber => "invalid_number",
            Outcome::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Outcome::ALL.into_iter().find(|o| o.as_str() == s)
    }
}

/// What an outcome does to the callback.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutcomeStep {
    /// `COMPLETED` with this result.
    Finish(CallbackResult),
    /// Back to `SCHEDULED`, desired at this instant (the campaign's delay for the outcome).
    Retry { desired_time: Timestamp },
}

/// The rule of PRODUCT.md: connected → `COMPLETED(AGENT)`; invalid number →
/// `COMPLETED(INVALID_NUMBER)`; any other outcome is a failed attempt, retried after the campaign's
/// delay for that outcome until the attempt that reaches `max_attempts`, which completes with
/// `MAX_ATTEMPTS`. `attempts_before` is the count before this attempt (the attempt itself counts).
pub fn outcome_step(campaign: &Campaign, attempts_before: u32, outcome: Outcome, now: Timestamp) -> OutcomeStep {
    let delays = &campaign.retry_delays_secs;
    let delay = match outcome {
        Outcome::Connected => return OutcomeStep::Finish(CallbackResult::Agent),
        Outcome::InvalidNumber => return OutcomeStep::Finish(CallbackResult::InvalidNumber),
        Outcome::NoAnswer => delays.no_answer,
        Outcome::Busy => delays.busy,
        Outcome::Voicemail => delays.voicemail,
        Outcome::Failed => delays.failed,
    };
    if attempts_before.saturating_add(1) >= campaign.max_attempts.max(1) {
        return OutcomeStep::Finish(CallbackResult::MaxAttempts);
    }
    OutcomeStep::Retry { desired_time: now.saturating_add(SignedDuration::from_secs(i64::from(delay))).unwrap_or(now) }
}

/// Dispatch order within a queue: higher priority first, then the earlier first entry into `QUEUED`,
/// then the older id. Smaller keys go first.
pub fn dispatch_key(callback: &Callback) -> (std::cmp::Reverse<i32>, Option<Timestamp>, crate::model::CallbackId) {
    (std::cmp::Reverse(callback.priority), callback.queued_at, callback.id)
}

/// When an agent callback that has waited for its own agent becomes available to others.
pub fn escalates_at(callback: &Callback, campaign: &Campaign) -> Option<Timestamp> {
    if callback.kind != CallbackType::Agent {
        return None;
    }
    let queued = callback.queued_at?;
    queued.saturating_add(SignedDuration::from_secs(i64::from(campaign.agent_grace_minutes) * 60)).ok()
}

/// Whether `agent` may be offered `callback` at `now` (the campaign is the callback's):
/// - a queue callback goes to agents serving its queue;
/// - an agent callback goes to its own agent; once it has waited the campaign's grace period it may
///   go to any agent of the campaign, and to agents outside it only if the campaign allows callbacks
///   to unassigned agents.
pub fn may_take(agent: &Agent, callback: &Callback, campaign: &Campaign, now: Timestamp) -> bool {
    match callback.kind {
        CallbackType::Queue => callback.queue_id.is_some_and(|q| agent.queues.contains(&q)),
        CallbackType::Agent => {
            if callback.agent_id == Some(agent.id) {
                return true;
            }
            let escalated = escalates_at(callback, campaign).is_some_and(|t| t <= now);
            escalated && (agent.campaigns.contains(&callback.campaign_id) || campaign.allow_unassigned_agent_callbacks)
        }
    }
}

/// The campaign's dialling plan for a lead in `lead_tz` (its hours, exceptions, running switch and
/// the lead calling hours it imposes).
pub fn dial_plan<'a>(campaign: &'a Campaign, campaign_tz: &'a TimeZone, lead_tz: Option<&'a TimeZone>) -> DialPlan<'a> {
    DialPlan {
        campaign_tz,
        running: campaign.running,
        hours: &campaign.dialling_hours,
        exceptions: &campaign.exceptions,
        lead_tz,
        lead_hours: &campaign.lead_calling_hours,
    }
}

/// The earliest dialable time of a callback of `campaign` for a lead in `lead_timezone`, desired at
/// `desired`, seen at `now`. `None` while the campaign is stopped or never open (or its timezone
/// cannot be read: it cannot be dialled until that is fixed); an unreadable lead timezone counts as
/// unknown (only the campaign's hours apply).
pub fn callback_earliest(
    campaign: &Campaign,
    lead_timezone: Option<&str>,
    desired: Timestamp,
    now: Timestamp,
) -> Option<Timestamp> {
    let campaign_tz = parse_timezone(&campaign.timezone).ok()?;
    let lead_tz = lead_timezone.and_then(|tz| parse_timezone(tz).ok());
    hours::earliest_dialable(&dial_plan(campaign, &campaign_tz, lead_tz.as_ref()), desired, now)
}

/// Whether a callback may be dialled at `now` under its campaign's hours and its lead's calling
/// hours: `Ok(())`, or `Err(next)` with the next dialable instant (`None` while the campaign is
/// stopped or never open). Checked again at dispatch because a callback may wait in `QUEUED` past
/// the end of the hours in which it was promoted.
pub fn dialable_now(campaign: &Campaign, callback: &Callback, now: Timestamp) -> Result<(), Option<Timestamp>> {
    match callback_earliest(campaign, callback.lead_timezone.as_deref(), now, now) {
        Some(t) if t <= now => Ok(()),
        next => Err(next),
    }
}

/// The estimated wait of the callback at `position` (1 = next) in its queue: the callbacks ahead of
/// it handled `agents` at a time, each taking the average recent handle time. With no ready agent
/// there is no estimate (`None`): the wait depends on when someone becomes ready.
pub fn estimated_wait_secs(position: u64, average_handle_secs: f64, agents: u32) -> Option<u64> {
    if agents == 0 {
        return None;
    }
    let ahead = position.saturating_sub(1) as f64;
    Some(((ahead / f64::from(agents)).floor() * average_handle_secs).round() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::RetryDelays;

    fn campaign(max_attempts: u32) -> Campaign {
        serde_json::from_value(serde_json::json!({
            "id": 1, "name": "c", "direction": "outbound", "timezone": "Europe/London", "region": "GB",
            "running": true, "dialling_hours": {}, "exceptions": [],
            "lead_calling_hours": ["08:00", "21:00"], "allow_unassigned_agent_callbacks": false,
            "auto_callback_list_id": null, "lists": [], "window_secs": 120, "max_attempts": max_attempts,
            "retry_delays_secs": RetryDelays::default(), "horizon_days": 90, "agent_grace_minutes": 30,
            "created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:00Z"
        }))
        .unwrap()
    }

    #[test]
    fn failed_attempts_retry_after_their_delay_until_max_attempts() {
        let c = campaign(3);
        let now: Timestamp = "2026-03-02T10:00:00Z".parse().unwrap();
        assert_eq!(
            outcome_step(&c, 0, Outcome::Busy, now),
            OutcomeStep::Retry { desired_time: "2026-03-02T10:10:00Z".parse().unwrap() }
        );
        assert_eq!(
            outcome_step(&c, 1, Outcome::NoAnswer, now),
            OutcomeStep::Retry { desired_time: "2026-03-02T10:30:00Z".parse().unwrap() }
        );
        assert_eq!(outcome_step(&c, 2, Outcome::Voicemail, now), OutcomeStep::Finish(CallbackResult::MaxAttempts));
        assert_eq!(outcome_step(&c, 2, Outcome::Connected, now), OutcomeStep::Finish(CallbackResult::Agent));
        assert_eq!(
            outcome_step(&c, 0, Outcome::InvalidNumber, now),
            OutcomeStep::Finish(CallbackResult::InvalidNumber)
        );
    }

    #[test]
    fn estimated_wait_divides_the_queue_ahead_among_ready_agents() {
        assert_eq!(estimated_wait_secs(1, 120.0, 2), Some(0));
        assert_eq!(estimated_wait_secs(5, 120.0, 2), Some(240));
        assert_eq!(estimated_wait_secs(5, 120.0, 0), None);
    }

    #[test]
    fn outcome_names_round_trip() {
        for o in Outcome::ALL {
            assert_eq!(Outcome::parse(o.as_str()), Some(o));
        }
        assert_eq!(Outcome::parse("hung_up"), None);
    }
}
