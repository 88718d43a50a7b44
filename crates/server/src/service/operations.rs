//! Changing callbacks that exist: edit (`PATCH`: type, agent, transfer to another queue, move to
//! another campaign, notes, data), reschedule, cancel, delete and recreate.
//!
//! Each operation validates against the callback as read, then makes one store call that
//! re-checks atomically whatever could have changed in between:
//! - edits and reschedules go through `Store::update_callback` with the state they were validated
//!   in (`expect`) and the `updated_at` they saw (`if_unchanged_since`). If the callback changed
//!   meanwhile (the engine promoted it, another edit landed) the store refuses, and the operation is
//!   validated again, once, against the fresh record — so the rules always judge the version that
//!   is written. A second refusal is a 409 `conflict` for the client to retry;
//! - cancel is a lifecycle step (`transition_callback`): a callback that moved to `PROCESSING` a
//!   moment before is refused by the transition table inside the store's transaction, never
//!   half-cancelled;
//! - recreate is a create (`create_callback` with `recreated_from`) through the create rules (the
//!   campaign, queue and agent must still fit, the number is checked again, duplicates and slot
//!   capacity apply); the store links the original both ways and refuses to recreate it twice.
//!   It copies number, campaign, list, lead, queue or agent, data, notes and priority — not the
//!   wrap code, since no wrap code generated the new callback; a queue callback drops the agent
//!   that handled it.
//!
//! Decisions the contract leaves to us:
//! - **Notes-only edits** are allowed in every state but `COMPLETED` (a supervisor may annotate a
//!   call in progress); type, agent, queue, campaign, list and data change only while `SCHEDULED`
//!   or `QUEUED`. A `COMPLETED` callback is never edited (recreate it). A patch that changes
//!   nothing answers the callback as it is and records nothing.
//! - **Moves**: the callback keeps its list when the target campaign dials it (or declares no
//!   lists); otherwise it takes the `list_id` given, else the target campaign's first list whose
//!   data fields are the same set. Any difference is a 409 `incompatible_fields` with
//!   `details.missing` (fields of the current list the target list lacks) and `details.extra`
//!   (fields of the target list the current one lacks). The lead stays the callback's contact. A
//!   callback without a list moves freely. The earliest time and window are recomputed with the
//!   target campaign; a `QUEUED` callback that campaign may not dial now returns to `SCHEDULED`
//!   (`Action::Demote`), so nothing dials outside the hours that now apply.
//! - **Bookings**: a `SCHEDULED` queue callback that holds a slot (scheduled origin, or
//!   rescheduled) is booked again when its queue, type or campaign changes; the new slot's capacity
//!   and the new queue's duplicate policy are enforced by the store. A reschedule books a queue
//!   callback into the slot of its new earliest time whatever its origin: it is now a request for a
//!   chosen time.
//! - **Audit**: `moved` (campaign changed), `transferred` (queue changed), `edited` (anything
//!   else), `rescheduled`, `cancelled`; edits and reschedules record
//!   `details.changes = {field: {from, to}}` for every field that changed, derived ones included.

use std::collections::BTreeSet;
use std::sync::Arc;

use jiff::Timestamp;
use rebound_domain::access::Principal;
use rebound_domain::hours;
use rebound_domain::model::*;
use rebound_domain::slots;
use rebound_domain::state::{Action, CallbackState, IllegalTransition};
use rebound_domain::time;
use rebound_store::{
    CallbackEdit, CallbackUpdate, CreateOutcome, IdempotencyKey, StoreError, TransitionRequest, UpdateRequest,
};
use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::AppState;
use crate::dto::*;
use crate::error::{ApiError, ApiResult};
use crate::service::callbacks::{
    Intake, Lookups, MAX_NOTES_LEN, Prepared, campaign_plan, prepare, proposed_slots, replayed, slot_rules,
    store_or_propose, view,
};
use crate::service::scope;

/// The longest cancel reason kept.
pub use crate::hardening::limits::MAX_REASON_LEN;
/// How many times an in-place change is validated and written when the callback changes between
/// the read and the write: once, and once more on the fresh record.
const ATTEMPTS: usize = 2;

/// The callback, or 404 (also when it lies outside the caller's scope).
async fn load(state: &AppState, principal: &Principal, id: CallbackId) -> ApiResult<Callback> {
    let callback = state.store.get_callback(id).await?.ok_or_else(|| ApiError::not_found("callback"))?;
    scope::check_callback_visible(principal, &callback)?;
    Ok(callback)
}

/// For a scoped caller, 404 unless the callback is in scope (an unscoped caller costs no read:
/// the operation itself answers 404 for an unknown id).
async fn check_in_scope(state: &AppState, principal: &Principal, id: CallbackId) -> ApiResult<()> {
    if principal.scope.is_some() {
        load(state, principal, id).await?;
    }
    Ok(())
}

/// 409 `illegal_transition` about this callback, with its state in the details.
fn illegal(current: &Callback, message: String) -> ApiError {
    ApiError::conflict("illegal_transition", message)
        .with_details(json!({"state": current.state, "result": current.result}))
}

fn check_notes(notes: Option<&str>) -> ApiResult<()> {
    if notes.is_some_and(|n| n.chars().count() > MAX_NOTES_LEN) {
        return Err(ApiError::invalid_field("notes", format!("notes are at most {MAX_NOTES_LEN} characters")));
    }
    Ok(())
}

/// A cancel reason: trimmed, empty = none, at most [`MAX_REASON_LEN`] characters.
pub fn clean_reason(reason: Option<String>) -> ApiResult<Option<String>> {
    let reason = reason.map(|r| r.trim().to_string()).filter(|r| !r.is_empty());
    if reason.as_ref().is_some_and(|r| r.chars().count() > MAX_REASON_LEN) {
        return Err(ApiError::invalid_field("reason", format!("a reason is at most {MAX_REASON_LEN} characters")));
    }
    Ok(reason)
}

/// The `changes` of an audit event: `{field: {"from": …, "to": …}}` for each field that changed.
#[derive(Debug, Default)]
struct Changes(Map<String, Value>);

impl Changes {
    /// Records `field` if it changed; answers whether it did.
    fn note<T: Serialize + PartialEq>(&mut self, field: &str, from: &T, to: &T) -> bool {
        if from == to {
            return false;
        }
        self.0.insert(field.to_string(), json!({"from": from, "to": to}));
        true
    }
}

/// An in-place change ready for the store, with what a slot-full answer needs.
struct Planned {
    request: UpdateRequest,
    campaign: Arc<Campaign>,
    queue: Option<Arc<Queue>>,
    lead_timezone: Option<String>,
    /// The timezone proposed slots are shown in.
    display_tz: String,
}

/// The in-place changes, validated and planned the same way.
#[derive(Clone, Copy)]
enum Change<'a> {
    Edit(&'a CallbackPatch),
    Reschedule(&'a RescheduleRequest),
}

/// `PATCH /callbacks/{id}`.
pub async fn edit(
    state: &AppState,
    principal: &Principal,
    id: CallbackId,
    patch: CallbackPatch,
) -> ApiResult<CallbackView> {
    check_notes(patch.notes.as_ref().and_then(|n| n.as_deref()))?;
    apply(state, principal, id, Change::Edit(&patch)).await
}

/// `POST /callbacks/{id}/reschedule`.
pub async fn reschedule(
    state: &AppState,
    principal: &Principal,
    id: CallbackId,
    input: RescheduleRequest,
) -> ApiResult<CallbackView> {
    apply(state, principal, id, Change::Reschedule(&input)).await
}

/// Validates `change` against the callback as stored and writes it; validated and written again,
/// once, if the callback changed in between.
async fn apply(state: &AppState, principal: &Principal, id: CallbackId, change: Change<'_>) -> ApiResult<CallbackView> {
    let mut lookups = Lookups::new(state).await?;
    let mut attempt = 1;
    loop {
        let now = state.clock.now();
        let current = load(state, principal, id).await?;
        if let Change::Edit(patch) = change {
            // Moving or transferring it: the destination must be in scope too.
            let campaign_id = patch.campaign_id.unwrap_or(current.campaign_id);
            let queue_id = patch.queue_id.unwrap_or(current.queue_id);
            if (campaign_id, queue_id) != (current.campaign_id, current.queue_id) {
                scope::check_callback_target(principal, campaign_id, queue_id)?;
            }
        }
        let planned = match change {
            Change::Edit(patch) => plan_edit(&mut lookups, &current, patch, &principal.actor, now).await?,
            Change::Reschedule(input) => Some(
                plan_reschedule(&mut lookups, &current, input, &principal.actor, now, state.settings.retention_days)
                    .await?,
            ),
        };
        let Some(planned) = planned else {
            return Ok(view(current, now));
        };
        let around = match planned.request.edit.slot_start {
            Some(Some(start)) => start,
            _ => current.desired_time,
        };
        match state.store.update_callback(planned.request).await {
            Ok(updated) => {
                // A new earliest time, queue, agent or campaign: the engine re-plans.
                state.engine.notify_due(updated.earliest_time);
                return Ok(view(updated, now));
            }
            // The callback changed after it was read: judge the new version.
            Err(StoreError::Conflict(_) | StoreError::IllegalTransition(_)) if attempt < ATTEMPTS => attempt += 1,
            Err(StoreError::Conflict(_)) => {
                return Err(ApiError::conflict(
                    "conflict",
                    "the callback changed while this change was being applied; read it again and retry",
                ));
            }
            Err(full @ StoreError::SlotFull { .. }) => {
                let proposed = match &planned.queue {
                    Some(queue) => {
                        proposed_slots(
                            &mut lookups,
                            &planned.campaign,
                            queue,
                            around,
                            now,
                            planned.lead_timezone.as_deref(),
                            &planned.display_tz,
                        )
                        .await?
                    }
                    None => Vec::new(),
                };
                return Err(ApiError::from(full).with_details(json!({"proposed_slots": proposed})));
            }
            Err(e) => return Err(e.into()),
        }
    }
}

/// The field sets of two lists compared: (in `from` but not `to`, in `to` but not `from`).
fn field_differences(from: &[String], to: &[String]) -> (Vec<String>, Vec<String>) {
    let from: BTreeSet<&String> = from.iter().collect();
    let to: BTreeSet<&String> = to.iter().collect();
    (from.difference(&to).map(|s| s.to_string()).collect(), to.difference(&from).map(|s| s.to_string()).collect())
}

fn incompatible_fields(from: ListId, to: Option<ListId>, missing: Vec<String>, extra: Vec<String>) -> ApiError {
    let target = to.map_or_else(|| "the target campaign's lists".to_string(), |id| format!("list {id}"));
    ApiError::Conflict {
        code: "incompatible_fields",
        message: format!(
            "the data fields of list {from} and {target} differ (missing: [{}], extra: [{}]); a callback moves \
             only between lists with identical data fields",
            missing.join(", "),
            extra.join(", ")
        ),
        details: json!({"list_id": to, "missing": missing, "extra": extra}),
    }
}

/// The list a callback belongs to after moving to `campaign` (or being given `requested`); see the
/// module docs for the rule.
async fn target_list(
    lookups: &mut Lookups<'_>,
    current: &Callback,
    campaign: &Campaign,
    requested: Option<ListId>,
) -> ApiResult<Option<ListId>> {
    let current_list = match current.list_id {
        Some(id) => Some(
            lookups
                .list(id)
                .await?
                .ok_or_else(|| ApiError::Internal(format!("callback {} refers to missing list {id}", current.id)))?,
        ),
        None => None,
    };
    if let Some(id) = requested {
        let list = lookups.list(id).await?.ok_or_else(|| ApiError::unknown_reference("list_id", "list", id))?;
        if let Some(from) = &current_list {
            let (missing, extra) = field_differences(&from.fields, &list.fields);
            if !missing.is_empty() || !extra.is_empty() {
                return Err(incompatible_fields(from.id, Some(id), missing, extra));
            }
        }
        return Ok(Some(id));
    }
    let Some(from) = current_list else { return Ok(None) };
    if campaign.lists.is_empty() || campaign.lists.contains(&from.id) {
        return Ok(Some(from.id));
    }
    // The closest candidate names the differences when none matches.
    let mut closest: Option<(ListId, Vec<String>, Vec<String>)> = None;
    for &id in &campaign.lists {
        let Some(list) = lookups.list(id).await? else { continue };
        let (missing, extra) = field_differences(&from.fields, &list.fields);
        if missing.is_empty() && extra.is_empty() {
            return Ok(Some(id));
        }
        let distance = missing.len() + extra.len();
        if closest.as_ref().is_none_or(|(_, m, e)| distance < m.len() + e.len()) {
            closest = Some((id, missing, extra));
        }
    }
    Err(match closest {
        Some((id, missing, extra)) => incompatible_fields(from.id, Some(id), missing, extra),
        None => incompatible_fields(from.id, None, from.fields.clone(), Vec::new()),
    })
}

/// Applies the edit rules (module docs) to `patch`; `None` when it changes nothing.
async fn plan_edit(
    lookups: &mut Lookups<'_>,
    current: &Callback,
    patch: &CallbackPatch,
    actor: &str,
    now: Timestamp,
) -> ApiResult<Option<Planned>> {
    use CallbackState::*;
    if current.state == Completed {
        let result = current.result.map_or("", |r| r.as_str());
        return Err(illegal(current, format!("a COMPLETED ({result}) callback cannot be edited; recreate it instead")));
    }
    let kind = patch.kind.unwrap_or(current.kind);
    let campaign_id = patch.campaign_id.unwrap_or(current.campaign_id);
    let queue_id = patch.queue_id.unwrap_or(current.queue_id);
    // A queue callback is for any agent of its queue, so becoming one drops the agent.
    let agent_id = match patch.agent_id {
        Some(agent_id) => agent_id,
        None if kind == CallbackType::Queue && current.kind == CallbackType::Agent => None,
        None => current.agent_id,
    };
    let notes = patch.notes.clone().unwrap_or_else(|| current.notes.clone());
    let data = patch.data.clone().unwrap_or_else(|| current.data.clone());

    let campaign_changed = campaign_id != current.campaign_id;
    let queue_changed = queue_id != current.queue_id;
    let kind_changed = kind != current.kind;
    let agent_changed = agent_id != current.agent_id;
    let list_requested = patch.list_id.is_some_and(|id| Some(id) != current.list_id);
    let data_changed = data != current.data;
    let structural =
        campaign_changed || queue_changed || kind_changed || agent_changed || list_requested || data_changed;
    if !structural && notes == current.notes {
        return Ok(None);
    }
    if structural && !matches!(current.state, Scheduled | Queued) {
        return Err(illegal(
            current,
            format!(
                "a callback in {} can only have its notes edited; its type, agent, queue, campaign, list and data \
                 change only while SCHEDULED or QUEUED",
                current.state
            ),
        ));
    }

    // What it will refer to.
    let campaign = match lookups.campaign(campaign_id).await? {
        Some(campaign) => campaign,
        None if campaign_changed => return Err(ApiError::unknown_reference("campaign_id", "campaign", campaign_id)),
        None => {
            return Err(ApiError::Internal(format!(
                "callback {} refers to missing campaign {campaign_id}",
                current.id
            )));
        }
    };
    if campaign_changed && campaign.direction != Direction::Outbound {
        return Err(ApiError::unprocessable(
            "campaign_not_outbound",
            format!("campaign {campaign_id} is inbound; callbacks only live in outbound campaigns"),
        )
        .for_field("campaign_id"));
    }
    let queue = match queue_id {
        None if kind == CallbackType::Queue => {
            return Err(ApiError::invalid_field("queue_id", "a queue callback needs a queue_id"));
        }
        None => None,
        Some(id) => {
            let queue = lookups.queue(id).await?.ok_or_else(|| ApiError::unknown_reference("queue_id", "queue", id))?;
            if queue.campaign_id != campaign.id {
                let message = if queue_changed {
                    format!("queue {id} does not belong to campaign {}", campaign.id)
                } else {
                    format!(
                        "queue {id} belongs to campaign {}; moving to campaign {} needs a queue_id of that campaign \
                         (or null for an agent callback)",
                        queue.campaign_id, campaign.id
                    )
                };
                return Err(ApiError::unprocessable("queue_not_in_campaign", message).for_field("queue_id"));
            }
            Some(queue)
        }
    };
    match (kind, agent_id) {
        (CallbackType::Agent, None) => {
            return Err(ApiError::invalid_field("agent_id", "an agent callback needs an agent_id"));
        }
        (CallbackType::Queue, Some(_)) if matches!(patch.agent_id, Some(Some(_))) => {
            return Err(ApiError::invalid_field(
                "agent_id",
                "a queue callback is for any agent of its queue; set type \"agent\" to name one",
            ));
        }
        (CallbackType::Agent, Some(id)) if agent_changed || kind_changed || campaign_changed => {
            let agent = lookups.agent(id).await?.ok_or_else(|| ApiError::unknown_reference("agent_id", "agent", id))?;
            if !agent.campaigns.contains(&campaign.id) && !campaign.allow_unassigned_agent_callbacks {
                return Err(ApiError::unprocessable(
                    "agent_not_in_campaign",
                    format!(
                        "agent {id} is not assigned to campaign {} (the campaign does not allow callbacks to \
                         unassigned agents)",
                        campaign.id
                    ),
                )
                .for_field("agent_id"));
            }
        }
        _ => {}
    }
    let list_id = if campaign_changed || list_requested {
        target_list(lookups, current, &campaign, patch.list_id).await?
    } else {
        current.list_id
    };
    if (data_changed || list_id != current.list_id)
        && let Some(id) = list_id
    {
        let list = lookups.list(id).await?.ok_or_else(|| ApiError::unknown_reference("list_id", "list", id))?;
        if let Some(key) = data.keys().find(|k| !list.fields.contains(k)) {
            return Err(ApiError::invalid_field(
                &format!("data.{key}"),
                format!("'{key}' is not a data field of list {id}"),
            ));
        }
    }

    // Derived times: the target campaign's hours and window apply after a move.
    let campaign_tz = lookups.timezone(&campaign.timezone)?;
    let lead_tz = current.lead_timezone.as_deref().and_then(|name| lookups.timezone(name).ok());
    let (earliest, window_secs, action) = if campaign_changed {
        let plan = campaign_plan(&campaign, &campaign_tz, lead_tz.as_ref());
        let earliest = hours::earliest_dialable(&plan, current.desired_time, now);
        let demote = current.state == Queued && earliest.is_none_or(|e| e > now);
        (earliest, campaign.window_secs, demote.then_some(Action::Demote))
    } else {
        (current.earliest_time, current.window_secs, None)
    };
    let state_after = if action.is_some() { Scheduled } else { current.state };

    // The booking: made again in the (new) queue when what it is booked in changes.
    let rebook = campaign_changed || queue_changed || kind_changed;
    let (slot_start, slot_capacity) = match &queue {
        Some(queue)
            if rebook
                && kind == CallbackType::Queue
                && state_after == Scheduled
                && action.is_none()
                && (current.slot_start.is_some() || current.origin == Origin::Scheduled) =>
        {
            let rules = slot_rules(queue, &campaign_tz);
            let start = slots::slot_start(&rules, earliest.unwrap_or(current.desired_time));
            (Some(start), Some(slots::capacity_of(&rules, start)))
        }
        _ if rebook => (None, None),
        _ => (current.slot_start, None),
    };
    let duplicate_limit = if rebook {
        match (&queue, kind) {
            (Some(queue), CallbackType::Queue) => queue.duplicate_policy.limit(),
            _ => DuplicatePolicy::One.limit(),
        }
    } else {
        None
    };

    let mut changes = Changes::default();
    let mut edit = CallbackEdit::default();
    if changes.note("type", &current.kind, &kind) {
        edit.kind = Some(kind);
    }
    if changes.note("campaign_id", &current.campaign_id, &campaign.id) {
        edit.campaign_id = Some(campaign.id);
    }
    if changes.note("list_id", &current.list_id, &list_id) {
        edit.list_id = Some(list_id);
    }
    if changes.note("queue_id", &current.queue_id, &queue_id) {
        edit.queue_id = Some(queue_id);
    }
    if changes.note("agent_id", &current.agent_id, &agent_id) {
        edit.agent_id = Some(agent_id);
    }
    if changes.note("notes", &current.notes, &notes) {
        edit.notes = Some(notes);
    }
    if changes.note("data", &current.data, &data) {
        edit.data = Some(data);
    }
    if changes.note("earliest_time", &current.earliest_time, &earliest) {
        edit.earliest_time = Some(earliest);
    }
    if changes.note("window_secs", &current.window_secs, &window_secs) {
        edit.window_secs = Some(window_secs);
    }
    if changes.note("slot_start", &current.slot_start, &slot_start) {
        edit.slot_start = Some(slot_start);
    }
    changes.note("state", &current.state, &state_after);
    let event_action = if campaign_changed {
        "moved"
    } else if queue_changed {
        "transferred"
    } else {
        "edited"
    };
    let display_tz = campaign.timezone.clone();
    Ok(Some(Planned {
        request: UpdateRequest {
            id: current.id,
            action,
            expect: vec![current.state],
            if_unchanged_since: Some(current.updated_at),
            edit,
            duplicate_limit,
            slot_capacity,
            actor: actor.to_string(),
            at: now,
            event_action: event_action.to_string(),
            event_details: json!({"changes": changes.0}),
        },
        campaign,
        queue,
        lead_timezone: current.lead_timezone.clone(),
        display_tz,
    }))
}

/// The timezone a reschedule's naive local time is read in, per `timezone_source`.
async fn reschedule_timezone(
    lookups: &mut Lookups<'_>,
    current: &Callback,
    campaign: &Campaign,
    input: &RescheduleRequest,
) -> ApiResult<Option<String>> {
    let source = input.timezone_source.unwrap_or(TimezoneSource::Caller);
    if source != TimezoneSource::Caller && input.timezone.is_some() {
        return Err(ApiError::invalid_field(
            "timezone",
            format!(
                "timezone_source \"{}\" names its own timezone; give timezone only with \"caller\"",
                source.as_str()
            ),
        ));
    }
    let name = match source {
        TimezoneSource::Caller => {
            if input.timezone_source.is_some() && input.timezone.is_none() {
                return Err(ApiError::invalid_field(
                    "timezone",
                    "timezone_source \"caller\" reads the time in the timezone field; give one",
                ));
            }
            input.timezone.clone()
        }
        TimezoneSource::Lead => Some(current.lead_timezone.clone().ok_or_else(|| {
            ApiError::invalid_field(
                "timezone_source",
                "the lead's timezone is not known (the lead has none and the number does not name one)",
            )
        })?),
        TimezoneSource::Campaign => Some(campaign.timezone.clone()),
        TimezoneSource::Agent => {
            let id = current.agent_id.filter(|_| current.kind == CallbackType::Agent).ok_or_else(|| {
                ApiError::invalid_field("timezone_source", "only an agent callback has an agent timezone")
            })?;
            let agent = lookups
                .agent(id)
                .await?
                .ok_or_else(|| ApiError::Internal(format!("callback {} refers to missing agent {id}", current.id)))?;
            Some(agent.timezone.clone())
        }
    };
    if let Some(name) = &name {
        time::parse_timezone(name).map_err(|e| ApiError::from(e).for_field("timezone"))?;
    }
    Ok(name)
}

/// Applies the reschedule rules: only `SCHEDULED`; the time read in the chosen timezone, neither
/// past nor beyond the horizon; earliest time, expiry and (queue callbacks) the slot recomputed.
async fn plan_reschedule(
    lookups: &mut Lookups<'_>,
    current: &Callback,
    input: &RescheduleRequest,
    actor: &str,
    now: Timestamp,
    retention_days: u32,
) -> ApiResult<Planned> {
    if current.state != CallbackState::Scheduled {
        return Err(illegal(
            current,
            format!("a callback in {} cannot be rescheduled; only a SCHEDULED callback can", current.state),
        ));
    }
    let campaign = lookups.campaign(current.campaign_id).await?.ok_or_else(|| {
        ApiError::Internal(format!("callback {} refers to missing campaign {}", current.id, current.campaign_id))
    })?;
    let timezone = reschedule_timezone(lookups, current, &campaign, input).await?;
    let desired = time::parse_instant(&input.desired_time, timezone.as_deref(), input.disambiguation)
        .map_err(|e| ApiError::from(e).for_field("desired_time"))?;
    time::check_not_past(desired, now).map_err(|e| ApiError::from(e).for_field("desired_time"))?;
    time::check_horizon(desired, now, campaign.horizon_days)
        .map_err(|e| ApiError::from(e).for_field("desired_time"))?;

    let campaign_tz = lookups.timezone(&campaign.timezone)?;
    let lead_tz = current.lead_timezone.as_deref().and_then(|name| lookups.timezone(name).ok());
    let plan = campaign_plan(&campaign, &campaign_tz, lead_tz.as_ref());
    let earliest = hours::earliest_dialable(&plan, desired, now);
    let queue = match (current.kind, current.queue_id) {
        (CallbackType::Queue, Some(id)) => Some(
            lookups
                .queue(id)
                .await?
                .ok_or_else(|| ApiError::Internal(format!("callback {} refers to missing queue {id}", current.id)))?,
        ),
        _ => None,
    };
    let (slot_start, capacity) = match &queue {
        Some(queue) => {
            let rules = slot_rules(queue, &campaign_tz);
            let start = slots::slot_start(&rules, earliest.unwrap_or(desired));
            (Some(start), Some(slots::capacity_of(&rules, start)))
        }
        None => (None, None),
    };

    let mut changes = Changes::default();
    changes.note("desired_time", &current.desired_time, &desired);
    changes.note("timezone", &current.timezone, &timezone);
    changes.note("earliest_time", &current.earliest_time, &earliest);
    let slot_changed = changes.note("slot_start", &current.slot_start, &slot_start);
    let source = input.timezone_source.unwrap_or(TimezoneSource::Caller);
    let display_tz = timezone.clone().unwrap_or_else(|| campaign.timezone.clone());
    Ok(Planned {
        request: UpdateRequest {
            id: current.id,
            action: Some(Action::Reschedule),
            expect: vec![CallbackState::Scheduled],
            if_unchanged_since: Some(current.updated_at),
            edit: CallbackEdit {
                desired_time: Some(desired),
                timezone: Some(timezone),
                earliest_time: Some(earliest),
                slot_start: Some(slot_start),
                expires_at: Some(time::retention_expiry(desired, retention_days)),
                ..CallbackEdit::default()
            },
            duplicate_limit: None,
            // Staying in its own slot needs no new room.
            slot_capacity: if slot_changed { capacity } else { None },
            actor: actor.to_string(),
            at: now,
            event_action: "rescheduled".to_string(),
            event_details: json!({"changes": changes.0, "timezone_source": source.as_str()}),
        },
        campaign,
        queue,
        lead_timezone: current.lead_timezone.clone(),
        display_tz,
    })
}

/// 409 for a refused cancel, saying why in words.
fn cancel_refusal(e: IllegalTransition) -> ApiError {
    let why = match e.from.state {
        CallbackState::Processing => ": an agent is handling it",
        CallbackState::Completed => ": it has already completed",
        _ => "",
    };
    ApiError::conflict("illegal_transition", format!("{e}{why}"))
        .with_details(json!({"state": e.from.state, "result": e.from.result}))
}

/// `POST /callbacks/{id}/cancel`: `COMPLETED(CANCELLED_BY_ADMIN | CANCELLED_BY_CUSTOMER)` in one
/// lifecycle step, refused for `PROCESSING` and `COMPLETED` by the transition table.
pub async fn cancel(
    state: &AppState,
    principal: &Principal,
    id: CallbackId,
    input: CancelRequest,
) -> ApiResult<CallbackView> {
    let reason = clean_reason(input.reason)?;
    check_in_scope(state, principal, id).await?;
    let now = state.clock.now();
    let request = TransitionRequest {
        id,
        action: Action::Cancel { by_customer: input.by_customer },
        expect: Vec::new(),
        update: CallbackUpdate::default(),
        holder: None,
        presence: None,
        actor: principal.actor.clone(),
        at: now,
        event_action: "cancelled".to_string(),
        event_details: json!({"reason": reason, "by_customer": input.by_customer}),
    };
    match state.store.transition_callback(request).await {
        Ok(cancelled) => {
            // It may have been offered or leased (ROUTING): a free agent can take the next one.
            state.engine.notify_routing();
            Ok(view(cancelled, now))
        }
        Err(StoreError::IllegalTransition(e)) => Err(cancel_refusal(e)),
        Err(StoreError::NotFound { .. }) => Err(ApiError::not_found("callback")),
        Err(e) => Err(e.into()),
    }
}

/// `DELETE /callbacks/{id}`: the record goes; its history stays with a `deleted` tombstone.
pub async fn delete(state: &AppState, principal: &Principal, id: CallbackId) -> ApiResult<()> {
    check_in_scope(state, principal, id).await?;
    match state.store.delete_callback(id, &principal.actor, state.clock.now()).await {
        Ok(deleted) => {
            // An agent that held it is free again.
            if matches!(deleted.state, CallbackState::Routing | CallbackState::Processing) {
                state.engine.notify_routing();
            }
            Ok(())
        }
        Err(StoreError::NotFound { .. }) => Err(ApiError::not_found("callback")),
        Err(e) => Err(e.into()),
    }
}

fn already_recreated(id: CallbackId, recreated_as: CallbackId) -> ApiError {
    ApiError::conflict("already_recreated", format!("callback {id} was already recreated as {recreated_as}"))
        .with_details(json!({"recreated_as": recreated_as}))
}

/// `POST /callbacks/{id}/recreate`: a new `SCHEDULED` callback copying a `COMPLETED` one, through
/// every create rule, linked both ways. Answers the new callback and whether it is an idempotent
/// replay.
pub async fn recreate(
    state: &AppState,
    principal: &Principal,
    id: CallbackId,
    input: RecreateRequest,
    idempotency: Option<IdempotencyKey>,
) -> ApiResult<(CallbackView, bool)> {
    let now = state.clock.now();
    if let Some(first) = replayed(state, idempotency.as_ref(), now).await? {
        return Ok((first, true));
    }
    let original = load(state, principal, id).await?;
    if original.state != CallbackState::Completed {
        return Err(illegal(
            &original,
            format!("only a COMPLETED callback can be recreated; this one is {}", original.state),
        ));
    }
    if let Some(recreated_as) = original.recreated_as {
        return Err(already_recreated(id, recreated_as));
    }
    let request = CallbackCreate {
        kind: original.kind,
        campaign_id: original.campaign_id,
        queue_id: original.queue_id,
        // A queue callback may carry the agent that handled it; the new one is for any agent again.
        agent_id: original.agent_id.filter(|_| original.kind == CallbackType::Agent),
        phone: original.phone.clone(),
        lead_id: original.lead_id,
        // With a lead the list comes from it; a moved callback's list is set back below.
        list_id: if original.lead_id.is_some() { None } else { original.list_id },
        desired_time: input.desired_time,
        timezone: input.timezone,
        disambiguation: input.disambiguation,
        priority: original.priority,
        notes: input.notes.or_else(|| original.notes.clone()),
        data: original.data.clone(),
    };
    let mut lookups = Lookups::new(state).await?;
    let Prepared { mut new, campaign, queue, display_tz } =
        prepare(&mut lookups, request, &principal.actor, now, Intake::Recreate).await?;
    new.callback.phone_raw = original.phone_raw.clone();
    new.callback.list_id = original.list_id;
    new.callback.recreated_from = Some(original.id);
    new.event_details = json!({"origin": Origin::Recreated.as_str(), "recreated_from": original.id});
    new.idempotency = idempotency;
    match store_or_propose(&mut lookups, new, &campaign, queue.as_deref(), &display_tz, now).await? {
        Ok(CreateOutcome::Created(created)) => {
            state.engine.notify_due(created.earliest_time);
            Ok((view(created, now), false))
        }
        Ok(CreateOutcome::Replayed(first)) => Ok((view(first, now), true)),
        // Most likely a concurrent recreate won; say which callback it made.
        Err(StoreError::Conflict(message)) => match state.store.get_callback(id).await?.and_then(|o| o.recreated_as) {
            Some(recreated_as) => Err(already_recreated(id, recreated_as)),
            None => Err(ApiError::conflict("conflict", message)),
        },
        Err(e) => Err(e.into()),
    }
}
