//! The lifecycle-step rules every backend applies to a callback in memory before writing it: edits
//! and transition updates field by field, the status a step leads to (with the holder fields that
//! follow it), who holds a callback now, and the millisecond precision stores keep. One copy here, so
//! the SQLite and PostgreSQL stores cannot drift apart.

use jiff::Timestamp;
use rebound_domain::model::Callback;
use rebound_domain::state::{CallbackState, IllegalTransition, Status, transition};

use crate::{CallbackEdit, CallbackUpdate, Holder, StoreError, StoreResult, UpdateRequest};

/// The store keeps millisecond precision; callers get back exactly what a later read returns.
pub fn trunc(t: Timestamp) -> Timestamp {
    Timestamp::from_millisecond(t.as_millisecond()).unwrap_or(t)
}

/// The callback exactly as a store reads it back: instants at millisecond precision.
pub fn as_stored(mut c: Callback) -> Callback {
    c.desired_time = trunc(c.desired_time);
    c.earliest_time = c.earliest_time.map(trunc);
    c.slot_start = c.slot_start.map(trunc);
    c.created_at = trunc(c.created_at);
    c.updated_at = trunc(c.updated_at);
    c.queued_at = c.queued_at.map(trunc);
    c.hold_until = c.hold_until.map(trunc);
    c.expires_at = trunc(c.expires_at);
    c
}

/// `earliest_time + window` in epoch milliseconds: the instant a still-`SCHEDULED` callback becomes
/// overdue (the stored `overdue_at` column, which keeps the overdue filter an index range).
pub fn overdue_at(c: &Callback) -> Option<i64> {
    c.earliest_time.map(|e| e.as_millisecond() + i64::from(c.window_secs) * 1000)
}

/// Applies every `Some` field of an edit to `cb`, instants at the store's millisecond precision.
/// Shared by transitions (whose `CallbackUpdate` is a subset of an edit) and in-place updates.
pub fn apply_edit(cb: &mut Callback, e: CallbackEdit) {
    if let Some(kind) = e.kind {
        cb.kind = kind;
    }
    if let Some(campaign_id) = e.campaign_id {
        cb.campaign_id = campaign_id;
    }
    if let Some(list_id) = e.list_id {
        cb.list_id = list_id;
    }
    if let Some(queue_id) = e.queue_id {
        cb.queue_id = queue_id;
    }
    if let Some(agent_id) = e.agent_id {
        cb.agent_id = agent_id;
    }
    if let Some(notes) = e.notes {
        cb.notes = notes;
    }
    if let Some(data) = e.data {
        cb.data = data;
    }
    if let Some(t) = e.desired_time {
        cb.desired_time = trunc(t);
    }
    if let Some(tz) = e.timezone {
        cb.timezone = tz;
    }
    if let Some(t) = e.earliest_time {
        cb.earliest_time = t.map(trunc);
    }
    if let Some(w) = e.window_secs {
        cb.window_secs = w;
    }
    if let Some(t) = e.slot_start {
        cb.slot_start = t.map(trunc);
    }
    if let Some(t) = e.expires_at {
        cb.expires_at = trunc(t);
    }
}

/// Applies a transition's update (the lifecycle fields an edit lacks included).
pub fn apply_update(cb: &mut Callback, u: CallbackUpdate) {
    apply_edit(
        cb,
        CallbackEdit {
            desired_time: u.desired_time,
            timezone: u.timezone,
            earliest_time: u.earliest_time,
            slot_start: u.slot_start,
            expires_at: u.expires_at,
            agent_id: u.agent_id,
            notes: u.notes,
            ..CallbackEdit::default()
        },
    );
    if let Some(wrap_code) = u.wrap_code {
        cb.wrap_code = wrap_code;
    }
    if let Some(offered_to) = u.offered_to {
        cb.offered_to = offered_to;
    }
    if let Some(lease_id) = u.lease_id {
        cb.lease_id = lease_id;
    }
    if let Some(hold_until) = u.hold_until {
        cb.hold_until = hold_until.map(trunc);
    }
    if u.increment_attempts {
        cb.attempts = cb.attempts.saturating_add(1);
    }
}

/// Sets the status a step leads to; the first entry into `QUEUED` stamps `queued_at`, the routing
/// order of original queue entry. The holder fields follow the state: only `ROUTING` keeps a hold
/// deadline, only `ROUTING`/`PROCESSING` keep a holder, so no step can leave a stale one behind.
pub fn apply_status(cb: &mut Callback, to: Status, at: Timestamp) {
    cb.state = to.state;
    cb.result = to.result;
    cb.updated_at = at;
    if to.state == CallbackState::Queued && cb.queued_at.is_none() {
        cb.queued_at = Some(at);
    }
    match to.state {
        CallbackState::Routing => {}
        CallbackState::Processing => cb.hold_until = None,
        _ => {
            cb.offered_to = None;
            cb.lease_id = None;
            cb.hold_until = None;
        }
    }
}

/// Refuses unless `holder` holds the callback now: it is `ROUTING` or `PROCESSING` and offered to
/// that agent, or held by that lease.
pub fn check_holder(cb: &Callback, holder: &Holder) -> StoreResult<()> {
    let held_now = matches!(cb.state, CallbackState::Routing | CallbackState::Processing);
    let (held, by) = match holder {
        Holder::Agent(agent) => (cb.offered_to == Some(*agent), format!("agent {agent}")),
        Holder::Lease(lease) => (cb.lease_id.as_deref() == Some(lease.as_str()), format!("dialler lease {lease}")),
    };
    if held_now && held {
        Ok(())
    } else {
        Err(StoreError::Conflict(format!(
            "callback {} is not offered to or held by {by} (it is {}{})",
            cb.id,
            cb.state,
            match (&cb.offered_to, &cb.lease_id) {
                (Some(a), _) if held_now => format!(", held by agent {a}"),
                (None, Some(_)) if held_now => ", held by another dialler lease".to_string(),
                _ => String::new(),
            }
        )))
    }
}

/// `req` applied to `current`: checked against the expected states, the caller's version and the
/// lifecycle, but not yet against the duplicate and slot rules.
pub fn updated(current: Callback, req: &UpdateRequest) -> StoreResult<(Callback, Status, Status)> {
    let from = Status { state: current.state, result: current.result };
    if !req.expect.is_empty() && !req.expect.contains(&current.state) {
        return Err(match req.action {
            Some(action) => IllegalTransition { from, action }.into(),
            None => {
                let expected: Vec<&str> = req.expect.iter().map(|s| s.as_str()).collect();
                StoreError::Conflict(format!(
                    "the callback is {}; this change needs it {}",
                    current.state,
                    expected.join(" or ")
                ))
            }
        });
    }
    if let Some(seen) = req.if_unchanged_since
        && trunc(seen) != current.updated_at
    {
        return Err(StoreError::Conflict("the callback changed since it was read; retry".into()));
    }
    let to = match req.action {
        Some(action) => transition(from, action)?,
        None => from,
    };
    let mut cb = current;
    apply_edit(&mut cb, req.edit.clone());
    apply_status(&mut cb, to, trunc(req.at));
    Ok((cb, from, to))
}
