//! The callback lifecycle: `SCHEDULED → QUEUED → ROUTING → PROCESSING → COMPLETED(result)`.
//!
//! [`transition`] is the only way a state changes. It names each legal move as an [`Action`] and
//! refuses everything else with [`IllegalTransition`]; the store and the engine call it before they
//! write, so a state the table forbids can never be stored.
//!
//! ```text
//!             reschedule/edit          reject, reservation/lease expiry
//!              ┌──────┐                 ┌──────────────┐
//!              ▼      │                 ▼              │
//!   create → SCHEDULED ──promote──▶ QUEUED ──reserve──▶ ROUTING ──accept──▶ PROCESSING
//!              ▲  │  ▲               │  ▲                │                    │
//!              │  │  └──demote───────┘  └──────(hold)────┘                    │
//!              │  │                                                         finish / retry
//!              │  └── cancel / expire ──▶ COMPLETED ◀── cancel (not PROCESSING) ─┘
//!              └────────────── retry (failed attempt) ──────────────────────────┘
//! ```

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum CallbackState {
    Scheduled,
    Queued,
    Routing,
    Processing,
    Completed,
}

impl CallbackState {
    pub const ALL: [CallbackState; 5] = [
        CallbackState::Scheduled,
        CallbackState::Queued,
        CallbackState::Routing,
        CallbackState::Processing,
        CallbackState::Completed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            CallbackState::Scheduled => "SCHEDULED",
            CallbackState::Queued => "QUEUED",
            CallbackState::Routing => "ROUTING",
            CallbackState::Processing => "PROCESSING",
            CallbackState::Completed => "COMPLETED",
        }
    }

    /// Accepts the canonical upper-case name, case-insensitively.
    pub fn parse(s: &str) -> Option<Self> {
        CallbackState::ALL.into_iter().find(|st| st.as_str().eq_ignore_ascii_case(s))
    }

    /// Active = not yet completed; active callbacks count for duplicates and slot capacity.
    pub fn is_active(self) -> bool {
        self != CallbackState::Completed
    }

    /// Whether an administrator (or the customer) may still cancel it.
    pub fn is_cancellable(self) -> bool {
        !matches!(self, CallbackState::Processing | CallbackState::Completed)
    }
}

impl std::fmt::Display for CallbackState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a callback completed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum CallbackResult {
    Agent,
    CancelledByAdmin,
    CancelledByCustomer,
    MaxAttempts,
    InvalidNumber,
    Expired,
}

impl CallbackResult {
    pub const ALL: [CallbackResult; 6] = [
        CallbackResult::Agent,
        CallbackResult::CancelledByAdmin,
        CallbackResult::CancelledByCustomer,
        CallbackResult::MaxAttempts,
        CallbackResult::InvalidNumber,
        CallbackResult::Expired,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            CallbackResult::Agent => "AGENT",
            CallbackResult::CancelledByAdmin => "CANCELLED_BY_ADMIN",
            CallbackResult::CancelledByCustomer => "CANCELLED_BY_CUSTOMER",
            CallbackResult::MaxAttempts => "MAX_ATTEMPTS",
            CallbackResult::InvalidNumber => "INVALID_NUMBER",
            CallbackResult::Expired => "EXPIRED",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        CallbackResult::ALL.into_iter().find(|r| r.as_str().eq_ignore_ascii_case(s))
    }
}

impl std::fmt::Display for CallbackResult {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A state together with its result (only `COMPLETED` has one).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Status {
    pub state: CallbackState,
    pub result: Option<CallbackResult>,
}

impl Status {
    pub const SCHEDULED: Status = Status { state: CallbackState::Scheduled, result: None };
    pub const QUEUED: Status = Status { state: CallbackState::Queued, result: None };
    pub const ROUTING: Status = Status { state: CallbackState::Routing, result: None };
    pub const PROCESSING: Status = Status { state: CallbackState::Processing, result: None };

    pub fn completed(result: CallbackResult) -> Status {
        Status { state: CallbackState::Completed, result: Some(result) }
    }

    /// A stored (state, result) pair is well-formed iff exactly the completed state has a result.
    pub fn is_well_formed(self) -> bool {
        (self.state == CallbackState::Completed) == self.result.is_some()
    }
}

/// Every move the lifecycle knows. Anything not expressible here cannot happen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// SCHEDULED → QUEUED at the earliest dialable time.
    Promote,
    /// QUEUED → SCHEDULED: the campaign stopped or its hours changed before dispatch.
    Demote,
    /// QUEUED → ROUTING: an agent is reserved or a dialler leased it.
    Reserve,
    /// ROUTING → QUEUED: rejected, reservation timed out or lease expired (not an attempt).
    Release,
    /// ROUTING → PROCESSING: the agent accepted / the dialler connected.
    Accept,
    /// PROCESSING or ROUTING → COMPLETED(AGENT | MAX_ATTEMPTS | INVALID_NUMBER). From ROUTING it is
    /// an attempt reported once it is over (a customer-first dialler's call, or an agent reporting
    /// an offer without accepting it first).
    Finish(CallbackResult),
    /// PROCESSING or ROUTING → SCHEDULED: a failed attempt, tried again later. From ROUTING it is a
    /// customer-first dialler's attempt that never reached an agent (no answer, busy, voicemail).
    Retry,
    /// SCHEDULED → SCHEDULED: a new desired time.
    Reschedule,
    /// Any state but PROCESSING/COMPLETED → COMPLETED(CANCELLED_BY_*).
    Cancel { by_customer: bool },
    /// SCHEDULED/QUEUED → COMPLETED(EXPIRED): it can no longer be made in time.
    Expire,
}

/// The refusal: the action is not allowed from this status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a callback in {} cannot be {}", .from.state, action_verb(.action))]
pub struct IllegalTransition {
    pub from: Status,
    pub action: Action,
}

fn action_verb(action: &Action) -> &'static str {
    match action {
        Action::Promote => "queued",
        Action::Demote => "returned to scheduled",
        Action::Reserve => "reserved for an agent",
        Action::Release => "released",
        Action::Accept => "accepted",
        Action::Finish(_) => "completed",
        Action::Retry => "retried",
        Action::Reschedule => "rescheduled",
        Action::Cancel { .. } => "cancelled",
        Action::Expire => "expired",
    }
}

/// The transition table. Returns the status after `action`, or refuses.
pub fn transition(from: Status, action: Action) -> Result<Status, IllegalTransition> {
    use CallbackState::*;
    let refuse = Err(IllegalTransition { from, action });
    if !from.is_well_formed() {
        return refuse;
    }
    let to = match (from.state, action) {
        (Scheduled, Action::Promote) => Status::QUEUED,
        (Queued, Action::Demote) => Status::SCHEDULED,
        (Queued, Action::Reserve) => Status::ROUTING,
        (Routing, Action::Release) => Status::QUEUED,
        (Routing, Action::Accept) => Status::PROCESSING,
        (
            Processing | Routing,
            Action::Finish(r @ (CallbackResult::Agent | CallbackResult::MaxAttempts | CallbackResult::InvalidNumber)),
        ) => Status::completed(r),
        (Processing | Routing, Action::Retry) => Status::SCHEDULED,
        (Scheduled, Action::Reschedule) => Status::SCHEDULED,
        (Scheduled | Queued | Routing, Action::Cancel { by_customer }) => Status::completed(if by_customer {
            CallbackResult::CancelledByCustomer
        } else {
            CallbackResult::CancelledByAdmin
        }),
        (Scheduled | Queued, Action::Expire) => Status::completed(CallbackResult::Expired),
        _ => return refuse,
    };
    Ok(to)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn all_statuses() -> Vec<Status> {
        let mut v: Vec<Status> = CallbackState::ALL
            .into_iter()
            .filter(|s| *s != CallbackState::Completed)
            .map(|state| Status { state, result: None })
            .collect();
        v.extend(CallbackResult::ALL.into_iter().map(Status::completed));
        v
    }

    fn all_actions() -> Vec<Action> {
        let mut v = vec![
            Action::Promote,
            Action::Demote,
            Action::Reserve,
            Action::Release,
            Action::Accept,
            Action::Retry,
            Action::Reschedule,
            Action::Cancel { by_customer: false },
            Action::Cancel { by_customer: true },
            Action::Expire,
        ];
        v.extend(CallbackResult::ALL.into_iter().map(Action::Finish));
        v
    }

    /// The table written out independently, as (from state, action) → to; everything else refused.
    fn expected(from: Status, action: Action) -> Option<Status> {
        use CallbackState::*;
        let s = from.state;
        match action {
            Action::Promote if s == Scheduled => Some(Status::QUEUED),
            Action::Demote if s == Queued => Some(Status::SCHEDULED),
            Action::Reserve if s == Queued => Some(Status::ROUTING),
            Action::Release if s == Routing => Some(Status::QUEUED),
            Action::Accept if s == Routing => Some(Status::PROCESSING),
            Action::Retry if matches!(s, Processing | Routing) => Some(Status::SCHEDULED),
            Action::Reschedule if s == Scheduled => Some(Status::SCHEDULED),
            Action::Finish(CallbackResult::Agent) if matches!(s, Processing | Routing) => {
                Some(Status::completed(CallbackResult::Agent))
            }
            Action::Finish(CallbackResult::MaxAttempts) if matches!(s, Processing | Routing) => {
                Some(Status::completed(CallbackResult::MaxAttempts))
            }
            Action::Finish(CallbackResult::InvalidNumber) if matches!(s, Processing | Routing) => {
                Some(Status::completed(CallbackResult::InvalidNumber))
            }
            Action::Cancel { by_customer: false } if matches!(s, Scheduled | Queued | Routing) => {
                Some(Status::completed(CallbackResult::CancelledByAdmin))
            }
            Action::Cancel { by_customer: true } if matches!(s, Scheduled | Queued | Routing) => {
                Some(Status::completed(CallbackResult::CancelledByCustomer))
            }
            Action::Expire if matches!(s, Scheduled | Queued) => Some(Status::completed(CallbackResult::Expired)),
            _ => None,
        }
    }

    #[test]
    fn every_pair_of_status_and_action_matches_the_table() {
        let mut allowed = 0;
        for from in all_statuses() {
            for action in all_actions() {
                let got = transition(from, action).ok();
                assert_eq!(got, expected(from, action), "{from:?} --{action:?}-->");
                allowed += usize::from(got.is_some());
            }
        }
        // 22 legal (status, action) pairs: cancel counts three states × two results, expire two states,
        // and an attempt reported from ROUTING (a dialler's) may retry or finish with any of three results.
        // A change to the table must change this number consciously.
        assert_eq!(allowed, 22);
    }

    #[test]
    fn processing_and_completed_cannot_be_cancelled() {
        for from in all_statuses().into_iter().filter(|s| !s.state.is_cancellable()) {
            let err = transition(from, Action::Cancel { by_customer: false }).unwrap_err();
            assert_eq!(err.from, from);
            assert!(err.to_string().contains("cannot be cancelled"), "{err}");
        }
    }

    #[test]
    fn completed_is_terminal() {
        for r in CallbackResult::ALL {
            for action in all_actions() {
                assert!(transition(Status::completed(r), action).is_err());
            }
        }
    }

    #[test]
    fn malformed_statuses_are_refused() {
        let bad = Status { state: CallbackState::Scheduled, result: Some(CallbackResult::Agent) };
        assert!(transition(bad, Action::Promote).is_err());
        let bad = Status { state: CallbackState::Completed, result: None };
        assert!(transition(bad, Action::Expire).is_err());
    }

    #[test]
    fn names_round_trip() {
        for s in CallbackState::ALL {
            assert_eq!(CallbackState::parse(s.as_str()), Some(s));
            assert_eq!(CallbackState::parse(&s.as_str().to_lowercase()), Some(s));
        }
        for r in CallbackResult::ALL {
            assert_eq!(CallbackResult::parse(r.as_str()), Some(r));
        }
    }

    proptest! {
        /// Any sequence of actions, applied where legal, only ever visits well-formed statuses, and
        /// nothing ever leaves COMPLETED.
        #[test]
        fn random_walks_stay_well_formed(seq in proptest::collection::vec(0usize..16, 0..64)) {
            let actions = all_actions();
            let mut status = Status::SCHEDULED;
            for i in seq {
                let action = actions[i % actions.len()];
                match transition(status, action) {
                    Ok(next) => {
                        prop_assert!(next.is_well_formed());
                        prop_assert!(status.state != CallbackState::Completed);
                        status = next;
                    }
                    Err(e) => prop_assert_eq!(e.from, status),
                }
            }
        }
    }
}
