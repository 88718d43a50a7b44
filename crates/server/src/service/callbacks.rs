//! Callback intake and reading: the create rules of PRODUCT.md, bulk import, the list filters,
//! search, history and slot availability. The create rules ([`prepare`]) also serve recreate, and
//! the list filters ([`FilterQuery`]) also serve the export and bulk cancel's `all_in_range`, so
//! each rule is written once.
//!
//! Creating a callback (see [`prepare`]):
//! 1. the campaign exists and is outbound; a queue callback names a queue of that campaign; an
//!    agent callback names an agent of the campaign (unless the campaign allows unassigned agents);
//!    a lead, if named, exists and gives the list;
//! 2. the phone is normalised to E.164 with the campaign's region (impossible / premium refused);
//!    the lead's timezone is its own, else inferred from the number;
//! 3. no desired time → immediate (desired = now); otherwise the time is read (offset, or local in
//!    `timezone`, DST gap/fold refused unless `disambiguation` says), and must be neither past nor
//!    beyond the campaign's horizon;
//! 4. the earliest dialable time, expiry (retention) and window are derived; a scheduled queue
//!    callback books the capacity slot of its earliest (else desired) time;
//! 5. one store call inserts it with its audit event, enforcing the duplicate limit, the slot
//!    capacity and the `Idempotency-Key` atomically. A full slot answers with the nearest free slots.

use std::collections::HashMap;
use std::sync::Arc;

use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use rebound_domain::access::Principal;
use rebound_domain::hours::{self, DialPlan};
use rebound_domain::model::*;
use rebound_domain::phone::{self, PhoneNumber};
use rebound_domain::slots::{self, Slot, SlotRules};
use rebound_domain::state::CallbackState;
use rebound_domain::time::{self, Disambiguation};
use rebound_store::{
    CallbackFilter, CreateOutcome, IdempotencyKey, NewCallback, PageRequest, SearchField, Sort, SortField, StoreError,
};
use serde_json::{Value, json};

use crate::AppState;
use crate::dto::*;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Params, json_error};
use crate::service::{ConfigSnapshot, page_request};

/// The most items one import request may carry.
pub const MAX_IMPORT_ITEMS: usize = 10_000;
/// Proposed alternatives for a full slot: how many, and how far either side they are looked for.
const PROPOSED_SLOTS: usize = 5;
const PROPOSAL_SPAN_DAYS: i64 = 3;
/// The longest range an availability query may cover.
const MAX_AVAILABILITY_DAYS: i64 = 31;
pub(crate) const MAX_NOTES_LEN: usize = 4_000;
const DEFAULT_SEARCH_LIMIT: u32 = 100;

/// How a create request arrived: it decides the origin, the audit action and slot booking.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Intake {
    Api,
    Import,
    /// A new callback copying a completed one (`POST /callbacks/{id}/recreate`).
    Recreate,
}

/// Configuration lookups for one request: the snapshot first, then the store (for objects created
/// since the snapshot was taken), memoised so a bulk import reads each object at most once.
pub(crate) struct Lookups<'a> {
    state: &'a AppState,
    snapshot: Arc<ConfigSnapshot>,
    campaigns: HashMap<CampaignId, Option<Arc<Campaign>>>,
    queues: HashMap<QueueId, Option<Arc<Queue>>>,
    agents: HashMap<AgentId, Option<Arc<Agent>>>,
    leads: HashMap<LeadId, Option<Arc<Lead>>>,
    lists: HashMap<ListId, Option<Arc<List>>>,
    timezones: HashMap<String, TimeZone>,
}

impl<'a> Lookups<'a> {
    pub(crate) async fn new(state: &'a AppState) -> ApiResult<Lookups<'a>> {
        Ok(Lookups {
            state,
            snapshot: state.config_cache.snapshot(state.store.as_ref()).await?,
            campaigns: HashMap::new(),
            queues: HashMap::new(),
            agents: HashMap::new(),
            leads: HashMap::new(),
            lists: HashMap::new(),
            timezones: HashMap::new(),
        })
    }

    pub(crate) async fn campaign(&mut self, id: CampaignId) -> ApiResult<Option<Arc<Campaign>>> {
        if let Some(c) = self.snapshot.campaigns.get(&id) {
            return Ok(Some(c.clone()));
        }
        if let Some(found) = self.campaigns.get(&id) {
            return Ok(found.clone());
        }
        let found = self.state.store.get_campaign(id).await?.map(Arc::new);
        self.campaigns.insert(id, found.clone());
        Ok(found)
    }

    pub(crate) async fn queue(&mut self, id: QueueId) -> ApiResult<Option<Arc<Queue>>> {
        if let Some(q) = self.snapshot.queues.get(&id) {
            return Ok(Some(q.clone()));
        }
        if let Some(found) = self.queues.get(&id) {
            return Ok(found.clone());
        }
        let found = self.state.store.get_queue(id).await?.map(Arc::new);
        self.queues.insert(id, found.clone());
        Ok(found)
    }

    pub(crate) async fn agent(&mut self, id: AgentId) -> ApiResult<Option<Arc<Agent>>> {
        if let Some(a) = self.snapshot.agents.get(&id) {
            return Ok(Some(a.clone()));
        }
        if let Some(found) = self.agents.get(&id) {
            return Ok(found.clone());
        }
        let found = self.state.store.get_agent(id).await?.map(Arc::new);
        self.agents.insert(id, found.clone());
        Ok(found)
    }

    pub(crate) async fn lead(&mut self, id: LeadId) -> ApiResult<Option<Arc<Lead>>> {
        if let Some(found) = self.leads.get(&id) {
            return Ok(found.clone());
        }
        let found = self.state.store.get_lead(id).await?.map(Arc::new);
        self.leads.insert(id, found.clone());
        Ok(found)
    }

    pub(crate) async fn list(&mut self, id: ListId) -> ApiResult<Option<Arc<List>>> {
        if let Some(found) = self.lists.get(&id) {
            return Ok(found.clone());
        }
        let found = self.state.store.get_list(id).await?.map(Arc::new);
        self.lists.insert(id, found.clone());
        Ok(found)
    }

    /// A campaign's own timezone (validated when the campaign was saved).
    pub(crate) fn timezone(&mut self, name: &str) -> ApiResult<TimeZone> {
        if let Some(tz) = self.timezones.get(name) {
            return Ok(tz.clone());
        }
        let tz = time::parse_timezone(name)?;
        self.timezones.insert(name.to_string(), tz.clone());
        Ok(tz)
    }
}

/// A create request turned into a store insert, with what a slot-full answer needs.
pub(crate) struct Prepared {
    pub(crate) new: NewCallback,
    pub(crate) campaign: Arc<Campaign>,
    pub(crate) queue: Option<Arc<Queue>>,
    /// The timezone to show proposed slots in (the request's, else the campaign's).
    pub(crate) display_tz: String,
}

pub(crate) fn campaign_plan<'p>(
    campaign: &'p Campaign,
    tz: &'p TimeZone,
    lead_tz: Option<&'p TimeZone>,
) -> DialPlan<'p> {
    DialPlan {
        campaign_tz: tz,
        running: campaign.running,
        hours: &campaign.dialling_hours,
        exceptions: &campaign.exceptions,
        lead_tz,
        lead_hours: &campaign.lead_calling_hours,
    }
}

pub(crate) fn slot_rules<'r>(queue: &'r Queue, tz: &'r TimeZone) -> SlotRules<'r> {
    SlotRules {
        slot_minutes: queue.slot_minutes,
        slot_capacity: queue.slot_capacity,
        grid: queue.capacity_grid.as_ref(),
        tz,
    }
}

/// Applies every create rule and builds the store insert (without the idempotency key).
pub(crate) async fn prepare(
    lookups: &mut Lookups<'_>,
    input: CallbackCreate,
    actor: &str,
    now: Timestamp,
    intake: Intake,
) -> ApiResult<Prepared> {
    // 1. What it refers to.
    let campaign = lookups
        .campaign(input.campaign_id)
        .await?
        .ok_or_else(|| ApiError::unknown_reference("campaign_id", "campaign", input.campaign_id))?;
    if campaign.direction != Direction::Outbound {
        return Err(ApiError::unprocessable(
            "campaign_not_outbound",
            format!("campaign {} is inbound; callbacks only live in outbound campaigns", campaign.id),
        )
        .for_field("campaign_id"));
    }
    let queue = match input.queue_id {
        None if input.kind == CallbackType::Queue => {
            return Err(ApiError::invalid_field("queue_id", "a queue callback needs a queue_id"));
        }
        None => None,
        Some(id) => {
            let queue = lookups.queue(id).await?.ok_or_else(|| ApiError::unknown_reference("queue_id", "queue", id))?;
            if queue.campaign_id != campaign.id {
                return Err(ApiError::unprocessable(
                    "queue_not_in_campaign",
                    format!("queue {id} does not belong to campaign {}", campaign.id),
                )
                .for_field("queue_id"));
            }
            Some(queue)
        }
    };
    match (input.kind, input.agent_id) {
        (CallbackType::Agent, None) => {
            return Err(ApiError::invalid_field("agent_id", "an agent callback needs an agent_id"));
        }
        (CallbackType::Queue, Some(_)) => {
            return Err(ApiError::invalid_field("agent_id", "a queue callback is for any agent; use type \"agent\""));
        }
        (CallbackType::Agent, Some(id)) => {
            let agent = lookups.agent(id).await?.ok_or_else(|| ApiError::unknown_reference("agent_id", "agent", id))?;
            if !agent.campaigns.contains(&campaign.id) && !campaign.allow_unassigned_agent_callbacks {
                return Err(ApiError::unprocessable(
                    "agent_not_in_campaign",
                    format!(
                        "agent {id} is not assigned to campaign {} (the campaign does not allow callbacks to unassigned agents)",
                        campaign.id
                    ),
                )
                .for_field("agent_id"));
            }
        }
        (CallbackType::Queue, None) => {}
    }
    let lead = match input.lead_id {
        Some(id) => Some(lookups.lead(id).await?.ok_or_else(|| ApiError::unknown_reference("lead_id", "lead", id))?),
        None => None,
    };
    let list_id = match (&lead, input.list_id) {
        (Some(lead), Some(list_id)) if lead.list_id != list_id => {
            return Err(ApiError::invalid_field(
                "list_id",
                format!("lead {} belongs to list {}, not {list_id}", lead.id, lead.list_id),
            ));
        }
        (Some(lead), _) => Some(lead.list_id),
        (None, list_id) => list_id,
    };
    if let Some(list_id) = list_id {
        let list =
            lookups.list(list_id).await?.ok_or_else(|| ApiError::unknown_reference("list_id", "list", list_id))?;
        if let Some(key) = input.data.keys().find(|k| !list.fields.contains(k)) {
            return Err(ApiError::invalid_field(
                &format!("data.{key}"),
                format!("'{key}' is not a data field of list {list_id}"),
            ));
        }
    }
    if input.notes.as_ref().is_some_and(|n| n.chars().count() > MAX_NOTES_LEN) {
        return Err(ApiError::invalid_field("notes", format!("notes are at most {MAX_NOTES_LEN} characters")));
    }

    // 2. The number and the lead's timezone.
    let phone =
        PhoneNumber::parse(&input.phone, Some(&campaign.region)).map_err(|e| ApiError::from(e).for_field("phone"))?;
    let lead_timezone: Option<String> =
        lead.as_ref().and_then(|l| l.timezone.clone()).or_else(|| phone.inferred_timezone().map(str::to_string));
    let lead_tz = lead_timezone.as_deref().and_then(|name| lookups.timezone(name).ok());

    // 3. The desired time.
    if let Some(tz) = &input.timezone {
        time::parse_timezone(tz).map_err(|e| ApiError::from(e).for_field("timezone"))?;
    }
    let desired = match &input.desired_time {
        None => now,
        Some(text) => {
            let desired = time::parse_instant(text, input.timezone.as_deref(), input.disambiguation)
                .map_err(|e| ApiError::from(e).for_field("desired_time"))?;
            time::check_not_past(desired, now).map_err(|e| ApiError::from(e).for_field("desired_time"))?;
            time::check_horizon(desired, now, campaign.horizon_days)
                .map_err(|e| ApiError::from(e).for_field("desired_time"))?;
            desired
        }
    };
    let scheduled = input.desired_time.is_some();
    let origin = match intake {
        Intake::Api if scheduled => Origin::Scheduled,
        Intake::Api => Origin::Immediate,
        Intake::Import => Origin::Import,
        Intake::Recreate => Origin::Recreated,
    };

    // 4. Derived times and the slot.
    let campaign_tz = lookups.timezone(&campaign.timezone)?;
    let plan = campaign_plan(&campaign, &campaign_tz, lead_tz.as_ref());
    let earliest = hours::earliest_dialable(&plan, desired, now);
    let (slot_start, slot_capacity) = match &queue {
        // A request for a chosen time books capacity; imports are bulk loads of existing bookings.
        Some(queue) if input.kind == CallbackType::Queue && scheduled && intake != Intake::Import => {
            let rules = slot_rules(queue, &campaign_tz);
            let start = slots::slot_start(&rules, earliest.unwrap_or(desired));
            (Some(start), Some(slots::capacity_of(&rules, start)))
        }
        _ => (None, None),
    };
    let duplicate_limit = match (&queue, input.kind) {
        (Some(queue), CallbackType::Queue) => queue.duplicate_policy.limit(),
        _ => DuplicatePolicy::One.limit(),
    };

    let callback = Callback {
        id: CallbackId::new(),
        kind: input.kind,
        origin,
        phone: phone.into_string(),
        phone_raw: input.phone,
        campaign_id: campaign.id,
        list_id,
        lead_id: input.lead_id,
        queue_id: queue.as_ref().map(|q| q.id),
        agent_id: input.agent_id,
        wrap_code: None,
        desired_time: desired,
        timezone: input.timezone.clone(),
        lead_timezone,
        earliest_time: earliest,
        window_secs: campaign.window_secs,
        slot_start,
        state: CallbackState::Scheduled,
        result: None,
        attempts: 0,
        priority: input.priority,
        notes: input.notes,
        data: input.data,
        created_by: actor.to_string(),
        created_at: now,
        updated_at: now,
        queued_at: None,
        recreated_from: None,
        recreated_as: None,
        expires_at: time::retention_expiry(desired, lookups.state.settings.retention_days),
    };
    let event_action = match intake {
        Intake::Api | Intake::Recreate => "created",
        Intake::Import => "imported",
    };
    let display_tz = input.timezone.unwrap_or_else(|| campaign.timezone.clone());
    Ok(Prepared {
        new: NewCallback {
            callback,
            duplicate_limit,
            slot_capacity,
            idempotency: None,
            event_action: event_action.to_string(),
            event_details: json!({"origin": origin.as_str()}),
        },
        campaign,
        queue,
        display_tz,
    })
}

/// The API view of a stored callback.
pub fn view(callback: Callback, now: Timestamp) -> CallbackView {
    let overdue = time::is_overdue(callback.state, callback.earliest_time, callback.window_secs, now);
    CallbackView { callback, overdue }
}

/// The first answer to an earlier request with this `Idempotency-Key`, if there was one. A retried
/// request gets it even if it would no longer validate (its desired time has passed since, say); the
/// key with a different request is refused. The store re-checks atomically on insert, for retries
/// that race each other.
pub(crate) async fn replayed(
    state: &AppState,
    idempotency: Option<&IdempotencyKey>,
    now: Timestamp,
) -> ApiResult<Option<CallbackView>> {
    let Some(key) = idempotency else { return Ok(None) };
    match state.store.find_idempotent(&key.key).await? {
        Some((fingerprint, _)) if fingerprint != key.fingerprint => Err(StoreError::IdempotencyMismatch.into()),
        Some((_, first)) => Ok(Some(view(first, now))),
        None => Ok(None),
    }
}

/// `POST /callbacks`. Answers the callback and whether it is an idempotent replay.
pub async fn create(
    state: &AppState,
    principal: &Principal,
    input: CallbackCreate,
    idempotency: Option<IdempotencyKey>,
) -> ApiResult<(CallbackView, bool)> {
    let now = state.clock.now();
    if let Some(first) = replayed(state, idempotency.as_ref(), now).await? {
        return Ok((first, true));
    }
    let mut lookups = Lookups::new(state).await?;
    let Prepared { mut new, campaign, queue, display_tz } =
        prepare(&mut lookups, input, &principal.actor, now, Intake::Api).await?;
    new.idempotency = idempotency;
    match store_or_propose(&mut lookups, new, &campaign, queue.as_deref(), &display_tz, now).await? {
        Ok(CreateOutcome::Created(cb)) => Ok((view(cb, now), false)),
        Ok(CreateOutcome::Replayed(cb)) => Ok((view(cb, now), true)),
        Err(e) => Err(e.into()),
    }
}

/// Stores a prepared callback. A full slot becomes the contract's 409 with the nearest free slots
/// proposed; any other refusal comes back as the store said it, for the caller to explain.
pub(crate) async fn store_or_propose(
    lookups: &mut Lookups<'_>,
    new: NewCallback,
    campaign: &Campaign,
    queue: Option<&Queue>,
    display_tz: &str,
    now: Timestamp,
) -> ApiResult<Result<CreateOutcome, StoreError>> {
    let around = new.callback.slot_start.unwrap_or(new.callback.desired_time);
    let lead_tz = new.callback.lead_timezone.clone();
    match lookups.state.store.create_callback(new).await {
        Err(full @ StoreError::SlotFull { .. }) => {
            let proposed = match queue {
                Some(queue) => {
                    proposed_slots(lookups, campaign, queue, around, now, lead_tz.as_deref(), display_tz).await?
                }
                None => Vec::new(),
            };
            Err(ApiError::from(full).with_details(json!({"proposed_slots": proposed})))
        }
        other => Ok(other),
    }
}

/// The nearest free slots around `around` (± [`PROPOSAL_SPAN_DAYS`]), not before now, only those
/// a callback booked at their start would really land in (lead calling hours respected).
pub(crate) async fn proposed_slots(
    lookups: &mut Lookups<'_>,
    campaign: &Campaign,
    queue: &Queue,
    around: Timestamp,
    now: Timestamp,
    lead_timezone: Option<&str>,
    display_tz: &str,
) -> ApiResult<Vec<SlotView>> {
    let tz = lookups.timezone(&campaign.timezone)?;
    let shown_in = lookups.timezone(display_tz).unwrap_or_else(|_| tz.clone());
    let lead_tz = lead_timezone.and_then(|name| lookups.timezone(name).ok());
    let rules = slot_rules(queue, &tz);
    let plan = campaign_plan(campaign, &tz, None);
    let span = SignedDuration::from_hours(24 * PROPOSAL_SPAN_DAYS);
    let from = around.saturating_sub(span).unwrap_or(around).max(now);
    let to = around.saturating_add(span).unwrap_or(around);
    let all = slots::slots_between(&rules, &plan, from, to);
    // A slot is only worth proposing if a callback asked for its start is dialable inside it.
    let lead_plan = DialPlan { running: true, lead_tz: lead_tz.as_ref(), ..campaign_plan(campaign, &tz, None) };
    let slot_len = SignedDuration::from_mins(i64::from(queue.slot_minutes));
    let usable: Vec<Slot> = all
        .into_iter()
        .filter(|s| {
            let end = s.start.saturating_add(slot_len).unwrap_or(s.start);
            hours::earliest_dialable(&lead_plan, s.start, now).is_some_and(|e| e < end)
        })
        .collect();
    let bookings: HashMap<Timestamp, u32> =
        lookups.state.store.slot_bookings(queue.id, from, to).await?.into_iter().collect();
    let booked = |start: Timestamp| bookings.get(&start).copied().unwrap_or(0);
    let free = slots::propose_free_slots(&usable, &booked, around, now, PROPOSED_SLOTS);
    Ok(free.into_iter().map(|s| slot_view(&s, booked(s.start), &shown_in)).collect())
}

fn slot_view(slot: &Slot, booked: u32, tz: &TimeZone) -> SlotView {
    SlotView {
        start: slot.start,
        local_start: slot.start.to_zoned(tz.clone()).strftime("%Y-%m-%dT%H:%M:%S%:z").to_string(),
        capacity: slot.capacity,
        booked,
    }
}

/// Scopes an `Idempotency-Key` to its caller, so two integrations cannot collide.
pub fn idempotency_key(principal: &Principal, key: &str, raw_body: &[u8]) -> IdempotencyKey {
    use sha2::{Digest, Sha256};
    IdempotencyKey {
        key: format!("{}\u{1f}{key}", principal.actor),
        fingerprint: hex::encode(Sha256::digest(raw_body)),
    }
}

/// `POST /callbacks/import`: every item through the same rules, then one store call for the batch.
/// `idempotency` (from the header) makes a retried import answer the first result per item.
pub async fn import(
    state: &AppState,
    principal: &Principal,
    items: Vec<Value>,
    idempotency: Option<IdempotencyKey>,
) -> ApiResult<ImportResult> {
    if items.len() > MAX_IMPORT_ITEMS {
        return Err(ApiError::invalid_field("items", format!("an import carries at most {MAX_IMPORT_ITEMS} items")));
    }
    let now = state.clock.now();
    let mut lookups = Lookups::new(state).await?;
    let mut results: Vec<ImportItemResult> = Vec::with_capacity(items.len());
    let mut batch = Vec::new();
    let mut batch_index = Vec::new();
    for (index, item) in items.into_iter().enumerate() {
        // Validation is CPU work; let other requests run during a large import.
        if index % 256 == 255 {
            tokio::task::yield_now().await;
        }
        results.push(ImportItemResult { index, id: None, replayed: false, error: None });
        let prepared = match serde_json::from_value::<CallbackCreate>(item) {
            Ok(input) => prepare(&mut lookups, input, &principal.actor, now, Intake::Import).await,
            Err(e) => Err(json_error(&e)),
        };
        match prepared {
            Ok(Prepared { mut new, .. }) => {
                new.idempotency = idempotency.as_ref().map(|k| IdempotencyKey {
                    key: format!("{}\u{1f}import\u{1f}{index}", k.key),
                    fingerprint: k.fingerprint.clone(),
                });
                batch.push(new);
                batch_index.push(index);
            }
            Err(e) => results[index].error = Some(e.to_object()),
        }
    }
    let mut created = 0;
    if !batch.is_empty() {
        let outcomes = state.store.create_callbacks(batch).await?;
        for (index, outcome) in batch_index.into_iter().zip(outcomes) {
            let result = &mut results[index];
            match outcome {
                Ok(CreateOutcome::Created(cb)) => {
                    created += 1;
                    result.id = Some(cb.id);
                }
                Ok(CreateOutcome::Replayed(cb)) => {
                    result.id = Some(cb.id);
                    result.replayed = true;
                }
                Err(e) => {
                    let e = ApiError::from(e);
                    if let ApiError::Internal(cause) = &e {
                        tracing::error!(error.cause = %cause, import.index = index, "import item failed with a server fault");
                    }
                    result.error = Some(e.to_object());
                }
            }
        }
    }
    Ok(ImportResult { created, items: results })
}

pub async fn get(state: &AppState, id: CallbackId) -> ApiResult<CallbackView> {
    let callback = state.store.get_callback(id).await?.ok_or_else(|| ApiError::not_found("callback"))?;
    Ok(view(callback, state.clock.now()))
}

pub async fn events(state: &AppState, id: CallbackId) -> ApiResult<Vec<CallbackEvent>> {
    let events = state.store.callback_events(id).await?;
    // A deleted callback keeps its history; an id that never existed has none.
    if events.is_empty() && state.store.get_callback(id).await?.is_none() {
        return Err(ApiError::not_found("callback"));
    }
    Ok(events)
}

/// Reads a range bound: RFC 3339 with an offset, a local date-time in `tz`, or a date (local
/// midnight in `tz`, UTC when none is given).
fn parse_bound(field: &str, text: &str, tz: Option<&str>) -> ApiResult<Timestamp> {
    let is_date = text.len() == 10 && text.as_bytes().get(4) == Some(&b'-') && text.as_bytes().get(7) == Some(&b'-');
    let result = if is_date {
        time::parse_instant(&format!("{text}T00:00:00"), Some(tz.unwrap_or("UTC")), Some(Disambiguation::Earlier))
    } else {
        time::parse_instant(text, tz, None)
    };
    result.map_err(|e| ApiError::from(e).for_field(field))
}

/// The filters of `GET /callbacks`, as read from the query (before phone and overdue are resolved).
#[derive(Debug, Clone)]
pub struct FilterQuery {
    pub filter: CallbackFilter,
    /// Any-format phone text, resolved to E.164 candidates with the campaigns' regions.
    pub phone: Option<String>,
    pub overdue: bool,
}

impl FilterQuery {
    /// Reads every filter of the contract (callers first refuse parameters they do not take).
    pub fn parse(params: &Params) -> ApiResult<FilterQuery> {
        let tz = params.one("timezone")?;
        if let Some(tz) = tz {
            time::parse_timezone(tz).map_err(|e| ApiError::from(e).for_field("timezone"))?;
        }
        let from = params.one("from")?.map(|t| parse_bound("from", t, tz)).transpose()?;
        let to = params.one("to")?.map(|t| parse_bound("to", t, tz)).transpose()?;
        if let (Some(from), Some(to)) = (from, to)
            && to <= from
        {
            return Err(ApiError::invalid_field("to", "to must be after from"));
        }
        let states = params
            .many("state")
            .into_iter()
            .map(|s| {
                CallbackState::parse(s).ok_or_else(|| {
                    ApiError::invalid_field(
                        "state",
                        format!("'{s}' is not a state (SCHEDULED, QUEUED, ROUTING, PROCESSING, COMPLETED)"),
                    )
                })
            })
            .collect::<ApiResult<Vec<_>>>()?;
        let kind = params
            .one("type")?
            .map(|t| {
                CallbackType::parse(t).ok_or_else(|| ApiError::invalid_field("type", "type is 'queue' or 'agent'"))
            })
            .transpose()?;
        let text = match params.one("q")? {
            None => None,
            Some(q) => {
                let field = match params.one("q_field")? {
                    None => SearchField::Any,
                    Some(f) => SearchField::parse(f).ok_or_else(|| {
                        let names: Vec<&str> = SearchField::ALL.iter().map(|f| f.as_str()).collect();
                        ApiError::invalid_field("q_field", format!("q_field is one of {}", names.join(", ")))
                    })?,
                };
                Some((field, q.to_string()))
            }
        };
        Ok(FilterQuery {
            filter: CallbackFilter {
                from,
                to,
                states,
                campaign_ids: params.ids("campaign_id")?,
                list_ids: params.ids("list_id")?,
                queue_ids: params.ids("queue_id")?,
                agent_ids: params.ids("agent_id")?,
                kind,
                wrap_codes: params.many("wrap_code").into_iter().map(str::to_string).collect(),
                phones: None,
                text,
                overdue_at: None,
            },
            phone: params.one("phone")?.map(str::to_string),
            overdue: params.bool("overdue")?.unwrap_or(false),
        })
    }

    /// The store filter: the phone text resolved to E.164 candidates, `overdue` pinned to `now`.
    pub async fn resolve(self, state: &AppState, now: Timestamp) -> ApiResult<CallbackFilter> {
        let mut filter = self.filter;
        if let Some(text) = &self.phone {
            filter.phones = Some(phone_candidates(state, text).await?);
        }
        if self.overdue {
            filter.overdue_at = Some(now);
        }
        Ok(filter)
    }
}

/// Reads `sort`: a field name, `-` prefixed for descending.
pub fn parse_sort(params: &Params) -> ApiResult<Sort> {
    Ok(match params.one("sort")? {
        None => Sort::default(),
        Some(s) => {
            let (descending, name) = match s.strip_prefix('-') {
                Some(name) => (true, name),
                None => (false, s.strip_prefix('+').unwrap_or(s)),
            };
            let field = SortField::parse(name).ok_or_else(|| {
                let names: Vec<&str> = SortField::ALL.iter().map(|f| f.as_str()).collect();
                ApiError::invalid_field(
                    "sort",
                    format!("sort is one of {} (prefix '-' for descending)", names.join(", ")),
                )
            })?;
            Sort { field, descending }
        }
    })
}

/// The parsed parameters of `GET /callbacks`.
#[derive(Debug, Clone)]
pub struct ListQuery {
    pub filter: FilterQuery,
    pub sort: Sort,
    pub page: PageRequest,
}

/// The filter parameters of the list (shared by the export and bulk cancel's `all_in_range`).
pub const FILTER_PARAMS: [&str; 14] = [
    "from",
    "to",
    "timezone",
    "state",
    "campaign_id",
    "list_id",
    "queue_id",
    "agent_id",
    "type",
    "wrap_code",
    "phone",
    "q",
    "q_field",
    "overdue",
];

impl ListQuery {
    /// Reads every filter of the contract; unknown parameters and values are refused.
    pub fn parse(params: &Params) -> ApiResult<ListQuery> {
        let allowed: Vec<&str> = FILTER_PARAMS.iter().copied().chain(["sort", "page", "page_size"]).collect();
        params.only(&allowed)?;
        Ok(ListQuery { filter: FilterQuery::parse(params)?, sort: parse_sort(params)?, page: page_request(params)? })
    }
}

/// E.164 numbers a phone text may mean, reading national formats with every campaign's region.
async fn phone_candidates(state: &AppState, text: &str) -> ApiResult<Vec<String>> {
    let snapshot = state.config_cache.snapshot(state.store.as_ref()).await?;
    let regions = snapshot.regions();
    Ok(phone::search_candidates(text, &regions).into_iter().map(PhoneNumber::into_string).collect())
}

pub async fn list(state: &AppState, query: ListQuery) -> ApiResult<Paged<CallbackView>> {
    let now = state.clock.now();
    let filter = query.filter.resolve(state, now).await?;
    let found = state.store.list_callbacks(&filter, query.sort, query.page).await?;
    Ok(Paged {
        items: found.items.into_iter().map(|c| view(c, now)).collect(),
        page: query.page.page,
        page_size: query.page.page_size,
        total: found.total,
    })
}

/// `GET /search?q=`: by id when `q` is a UUID, else by phone in any format; all time, all states.
pub async fn search(state: &AppState, params: &Params) -> ApiResult<SearchResults> {
    params.only(&["q", "limit"])?;
    let q = params.one("q")?.map(str::trim).filter(|q| !q.is_empty());
    let q = q.ok_or_else(|| ApiError::invalid_field("q", "give q: a callback id or a phone number"))?;
    let limit = params.number::<u32>("limit")?.unwrap_or(DEFAULT_SEARCH_LIMIT);
    if limit == 0 || limit > PageRequest::MAX_SIZE {
        return Err(ApiError::invalid_field("limit", format!("limit must be between 1 and {}", PageRequest::MAX_SIZE)));
    }
    let now = state.clock.now();
    let found = match CallbackId::parse(q) {
        Some(id) => state.store.search_callbacks(Some(id), &[], limit).await?,
        None => {
            let phones = phone_candidates(state, q).await?;
            if phones.is_empty() { Vec::new() } else { state.store.search_callbacks(None, &phones, limit).await? }
        }
    };
    Ok(SearchResults { items: found.into_iter().map(|c| view(c, now)).collect() })
}

/// `GET /queues/{id}/availability`: the queue's slots over a range with capacity and bookings.
pub async fn availability(state: &AppState, queue_id: QueueId, params: &Params) -> ApiResult<Availability> {
    params.only(&["from", "to", "timezone"])?;
    let mut lookups = Lookups::new(state).await?;
    let queue = lookups.queue(queue_id).await?.ok_or_else(|| ApiError::not_found("queue"))?;
    let campaign = lookups
        .campaign(queue.campaign_id)
        .await?
        .ok_or_else(|| ApiError::Internal(format!("queue {queue_id} refers to a missing campaign")))?;
    let tz_name = params.one("timezone")?.unwrap_or(&campaign.timezone).to_string();
    let shown_in = time::parse_timezone(&tz_name).map_err(|e| ApiError::from(e).for_field("timezone"))?;
    let now = state.clock.now();
    let from = params.one("from")?.map(|t| parse_bound("from", t, Some(&tz_name))).transpose()?.unwrap_or(now);
    let to = match params.one("to")? {
        Some(t) => parse_bound("to", t, Some(&tz_name))?,
        None => from.saturating_add(SignedDuration::from_hours(24)).unwrap_or(from),
    };
    if to <= from {
        return Err(ApiError::invalid_field("to", "to must be after from"));
    }
    if to.duration_since(from) > SignedDuration::from_hours(24 * MAX_AVAILABILITY_DAYS) {
        return Err(ApiError::invalid_field("to", format!("the range is at most {MAX_AVAILABILITY_DAYS} days")));
    }
    let tz = lookups.timezone(&campaign.timezone)?;
    let rules = slot_rules(&queue, &tz);
    let plan = campaign_plan(&campaign, &tz, None);
    let all = slots::slots_between(&rules, &plan, from, to);
    let bookings: HashMap<Timestamp, u32> = state.store.slot_bookings(queue.id, from, to).await?.into_iter().collect();
    Ok(Availability {
        slot_minutes: queue.slot_minutes,
        timezone: tz_name,
        slots: all.iter().map(|s| slot_view(s, bookings.get(&s.start).copied().unwrap_or(0), &shown_in)).collect(),
    })
}
