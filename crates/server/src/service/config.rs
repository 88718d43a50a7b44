//! Configuration rules: what makes a campaign, list, lead, queue, agent or wrap code valid, and how
//! a PATCH merges (only the fields given change; the merged record is validated as a whole, so a
//! PATCH can never store what a POST would refuse).
//!
//! Every write drops the configuration snapshot ([`super::ConfigCache`]) so the next request sees
//! it. Deleting something still referred to is refused by the store (409 `conflict`).
//!
//! Reads are filtered to the caller's scope ([`super::scope::Visible`]): lists leave out what the
//! scope does not cover and a single read of it answers 404 ([`shown`]). Writes are for admins,
//! who are never scoped.

use std::collections::BTreeSet;

use jiff::Timestamp;
use rebound_domain::hours::{CallingHours, DateException, DiallingHours};
use rebound_domain::model::*;
use rebound_domain::phone::{self, PhoneNumber};
use rebound_domain::slots::{self, DEFAULT_SLOT_CAPACITY, DEFAULT_SLOT_MINUTES};
use rebound_domain::time;
use rebound_store::PageRequest;
use serde_json::{Value, json};

use crate::AppState;
use crate::dto::*;
use crate::error::{ApiError, ApiResult};
use crate::service::paginate;
use crate::service::scope::{self, Scoped, Visible};
use rebound_domain::access::Principal;

use crate::hardening::limits::{MAX_LEAD_PHONES, MAX_NAME_LEN};
const MAX_WINDOW_SECS: u32 = 86_400;
const MAX_ATTEMPTS: u32 = 100;
const MAX_HORIZON_DAYS: u32 = 3_650;
const MAX_GRACE_MINUTES: u32 = 10_080;

fn now(state: &AppState) -> Timestamp {
    state.clock.now()
}

/// A required, trimmed, bounded text field.
fn text(field: &str, value: &str) -> ApiResult<String> {
    let value = value.trim();
    if value.is_empty() {
        return Err(ApiError::invalid_field(field, format!("{field} must not be empty")));
    }
    if value.chars().count() > MAX_NAME_LEN {
        return Err(ApiError::invalid_field(field, format!("{field} is longer than {MAX_NAME_LEN} characters")));
    }
    Ok(value.to_string())
}

fn check_timezone(field: &str, name: &str) -> ApiResult<()> {
    time::parse_timezone(name).map(|_| ()).map_err(|e| ApiError::from(e).for_field(field))
}

fn check_range(field: &str, value: u32, min: u32, max: u32) -> ApiResult<u32> {
    if value < min || value > max {
        return Err(ApiError::invalid_field(field, format!("{field} must be between {min} and {max}")));
    }
    Ok(value)
}

/// Reads hours given as JSON with the domain's parser, so a bad time of day is a 422 `invalid_hours`.
fn hours_from<T: serde::de::DeserializeOwned>(field: &str, value: Value) -> ApiResult<T> {
    serde_json::from_value(value).map_err(|e| {
        ApiError::unprocessable("invalid_hours", format!("{field}: {e}")).with_details(json!({"field": field}))
    })
}

async fn list_exists(state: &AppState, field: &str, id: ListId) -> ApiResult<List> {
    state.store.get_list(id).await?.ok_or_else(|| ApiError::unknown_reference(field, "list", id))
}

async fn campaign_exists(state: &AppState, field: &str, id: CampaignId) -> ApiResult<Campaign> {
    state.store.get_campaign(id).await?.ok_or_else(|| ApiError::unknown_reference(field, "campaign", id))
}

fn require_outbound(campaign: &Campaign, field: &str) -> ApiResult<()> {
    if campaign.direction != Direction::Outbound {
        return Err(ApiError::unprocessable(
            "campaign_not_outbound",
            format!("campaign {} is inbound; callbacks and queues belong to outbound campaigns", campaign.id),
        )
        .with_details(json!({"field": field, "campaign_id": campaign.id})));
    }
    Ok(())
}

// ---- campaigns ---------------------------------------------------------------------------------

async fn validate_campaign(state: &AppState, c: &mut Campaign) -> ApiResult<()> {
    c.name = text("name", &c.name)?;
    check_timezone("timezone", &c.timezone)?;
    c.region = c.region.trim().to_ascii_uppercase();
    if !phone::is_known_region(&c.region) {
        return Err(ApiError::unprocessable("invalid_region", format!("'{}' is not a known region code", c.region))
            .with_details(json!({"field": "region"})));
    }
    c.dialling_hours.validate().map_err(|e| ApiError::from(e).for_field("dialling_hours"))?;
    let mut dates = BTreeSet::new();
    for exception in &c.exceptions {
        if !dates.insert(exception.date) {
            return Err(ApiError::unprocessable(
                "invalid_hours",
                format!("the date {} has two exceptions", exception.date),
            )
            .with_details(json!({"field": "exceptions"})));
        }
        let day = DiallingHours { mon: exception.hours.clone(), ..DiallingHours::default() };
        day.validate().map_err(|e| ApiError::from(e).for_field("exceptions"))?;
    }
    check_range("window_secs", c.window_secs, 0, MAX_WINDOW_SECS)?;
    check_range("max_attempts", c.max_attempts, 1, MAX_ATTEMPTS)?;
    check_range("horizon_days", c.horizon_days, 1, MAX_HORIZON_DAYS)?;
    check_range("agent_grace_minutes", c.agent_grace_minutes, 0, MAX_GRACE_MINUTES)?;
    let mut seen = BTreeSet::new();
    c.lists.retain(|id| seen.insert(*id));
    for id in &c.lists {
        list_exists(state, "lists", *id).await?;
    }
    if let Some(id) = c.auto_callback_list_id {
        list_exists(state, "auto_callback_list_id", id).await?;
    }
    Ok(())
}

pub async fn create_campaign(state: &AppState, input: CampaignCreate) -> ApiResult<Campaign> {
    let at = now(state);
    let mut campaign = Campaign {
        id: 0,
        name: input.name,
        direction: input.direction,
        timezone: input.timezone,
        region: input.region,
        running: input.running,
        dialling_hours: hours_from("dialling_hours", input.dialling_hours)?,
        exceptions: match input.exceptions {
            Some(v) => hours_from::<Vec<DateException>>("exceptions", v)?,
            None => Vec::new(),
        },
        lead_calling_hours: match input.lead_calling_hours {
            Some(v) => hours_from::<CallingHours>("lead_calling_hours", v)?,
            None => CallingHours::default(),
        },
        allow_unassigned_agent_callbacks: input.allow_unassigned_agent_callbacks,
        auto_callback_list_id: input.auto_callback_list_id,
        lists: input.lists,
        window_secs: input.window_secs.unwrap_or(Campaign::DEFAULT_WINDOW_SECS),
        max_attempts: input.max_attempts.unwrap_or(Campaign::DEFAULT_MAX_ATTEMPTS),
        retry_delays_secs: input.retry_delays_secs.unwrap_or_default(),
        horizon_days: input.horizon_days.unwrap_or(Campaign::DEFAULT_HORIZON_DAYS),
        agent_grace_minutes: input.agent_grace_minutes.unwrap_or(Campaign::DEFAULT_AGENT_GRACE_MINUTES),
        created_at: at,
        updated_at: at,
    };
    validate_campaign(state, &mut campaign).await?;
    let created = state.store.create_campaign(campaign).await?;
    state.config_cache.invalidate();
    Ok(created)
}

pub async fn get_campaign(state: &AppState, id: CampaignId) -> ApiResult<Campaign> {
    state.store.get_campaign(id).await?.ok_or_else(|| ApiError::not_found("campaign"))
}

/// What the principal's scope lets it see (`None`: everything).
async fn visible(state: &AppState, principal: &Principal) -> ApiResult<Option<Visible>> {
    if principal.scope.is_none() {
        return Ok(None);
    }
    let snapshot = state.config_cache.snapshot(state.store.as_ref()).await?;
    Ok(Some(Visible::of(principal, &snapshot)))
}

/// `object` if the principal's scope covers it, else 404.
pub async fn shown<T: Scoped>(state: &AppState, principal: &Principal, object: T) -> ApiResult<T> {
    match visible(state, principal).await? {
        None => Ok(object),
        Some(v) => {
            let seen = object.seen_by(&v);
            scope::visible_or_404(object, seen, T::WHAT)
        }
    }
}

/// One page of the objects the principal's scope covers.
async fn shown_page<T: Scoped>(
    state: &AppState,
    principal: &Principal,
    mut all: Vec<T>,
    page: PageRequest,
) -> ApiResult<Paged<T>> {
    if let Some(v) = visible(state, principal).await? {
        all.retain(|o| o.seen_by(&v));
    }
    Ok(paginate(all, page))
}

pub async fn list_campaigns(state: &AppState, principal: &Principal, page: PageRequest) -> ApiResult<Paged<Campaign>> {
    shown_page(state, principal, state.store.list_campaigns().await?, page).await
}

/// Whether a campaign change moves the earliest dialable times of its callbacks.
fn dial_plan_changed(before: &Campaign, after: &Campaign) -> bool {
    before.timezone != after.timezone
        || before.running != after.running
        || before.dialling_hours != after.dialling_hours
        || before.exceptions != after.exceptions
        || before.lead_calling_hours != after.lead_calling_hours
}

/// Whether a campaign change alters who may take its callbacks.
fn routing_changed(before: &Campaign, after: &Campaign) -> bool {
    before.allow_unassigned_agent_callbacks != after.allow_unassigned_agent_callbacks
        || before.agent_grace_minutes != after.agent_grace_minutes
}

/// `PATCH /campaigns/{id}`. A change of hours, exceptions, lead calling hours, timezone or the
/// running switch has the engine recompute the earliest times of the campaign's waiting callbacks
/// before answering (batched in the engine), so a read after the answer sees them.
pub async fn update_campaign(state: &AppState, id: CampaignId, patch: CampaignPatch) -> ApiResult<Campaign> {
    let mut c = get_campaign(state, id).await?;
    let before = c.clone();
    if let Some(v) = patch.name {
        c.name = v;
    }
    if let Some(v) = patch.direction {
        c.direction = v;
    }
    if let Some(v) = patch.timezone {
        c.timezone = v;
    }
    if let Some(v) = patch.region {
        c.region = v;
    }
    if let Some(v) = patch.running {
        c.running = v;
    }
    if let Some(v) = patch.dialling_hours {
        c.dialling_hours = hours_from("dialling_hours", v)?;
    }
    if let Some(v) = patch.exceptions {
        c.exceptions = hours_from("exceptions", v)?;
    }
    if let Some(v) = patch.lead_calling_hours {
        c.lead_calling_hours = hours_from("lead_calling_hours", v)?;
    }
    if let Some(v) = patch.allow_unassigned_agent_callbacks {
        c.allow_unassigned_agent_callbacks = v;
    }
    if let Some(v) = patch.auto_callback_list_id {
        c.auto_callback_list_id = v;
    }
    if let Some(v) = patch.lists {
        c.lists = v;
    }
    if let Some(v) = patch.window_secs {
        c.window_secs = v;
    }
    if let Some(v) = patch.max_attempts {
        c.max_attempts = v;
    }
    if let Some(v) = patch.retry_delays_secs {
        c.retry_delays_secs = v;
    }
    if let Some(v) = patch.horizon_days {
        c.horizon_days = v;
    }
    if let Some(v) = patch.agent_grace_minutes {
        c.agent_grace_minutes = v;
    }
    c.updated_at = now(state);
    validate_campaign(state, &mut c).await?;
    let updated = state.store.update_campaign(c).await?;
    state.config_cache.invalidate();
    if dial_plan_changed(&before, &updated) {
        let changed = state.engine.campaign_changed(&updated).await?;
        tracing::info!(campaign.id = updated.id, callbacks.changed = changed, "campaign hours changed");
    }
    if routing_changed(&before, &updated) {
        state.engine.notify_routing();
    }
    Ok(updated)
}

pub async fn delete_campaign(state: &AppState, id: CampaignId) -> ApiResult<()> {
    get_campaign(state, id).await?;
    state.store.delete_campaign(id).await?;
    state.config_cache.invalidate();
    Ok(())
}

// ---- lists -------------------------------------------------------------------------------------

fn validate_list(list: &mut List) -> ApiResult<()> {
    list.name = text("name", &list.name)?;
    let mut seen = BTreeSet::new();
    for field in &mut list.fields {
        *field = text("fields", field)?;
        if !seen.insert(field.clone()) {
            return Err(ApiError::invalid_field("fields", format!("the field '{field}' is declared twice")));
        }
    }
    Ok(())
}

pub async fn create_list(state: &AppState, input: ListCreate) -> ApiResult<List> {
    let mut list = List { id: 0, name: input.name, fields: input.fields, created_at: now(state) };
    validate_list(&mut list)?;
    Ok(state.store.create_list(list).await?)
}

pub async fn get_list(state: &AppState, id: ListId) -> ApiResult<List> {
    state.store.get_list(id).await?.ok_or_else(|| ApiError::not_found("list"))
}

pub async fn list_lists(state: &AppState, principal: &Principal, page: PageRequest) -> ApiResult<Paged<List>> {
    shown_page(state, principal, state.store.list_lists().await?, page).await
}

pub async fn update_list(state: &AppState, id: ListId, patch: ListPatch) -> ApiResult<List> {
    let mut list = get_list(state, id).await?;
    if let Some(v) = patch.name {
        list.name = v;
    }
    if let Some(v) = patch.fields {
        list.fields = v;
    }
    validate_list(&mut list)?;
    Ok(state.store.update_list(list).await?)
}

pub async fn delete_list(state: &AppState, id: ListId) -> ApiResult<()> {
    get_list(state, id).await?;
    state.store.delete_list(id).await?;
    state.config_cache.invalidate();
    Ok(())
}

// ---- leads -------------------------------------------------------------------------------------

/// The region national-format lead numbers are read with: that of an outbound campaign dialling
/// the list, else of an inbound campaign collecting auto-callbacks into it; `None` = E.164 only.
async fn region_for_list(state: &AppState, list_id: ListId) -> ApiResult<Option<String>> {
    let snapshot = state.config_cache.snapshot(state.store.as_ref()).await?;
    let mut campaigns: Vec<_> = snapshot.campaigns.values().collect();
    campaigns.sort_by_key(|c| c.id);
    let dialling = campaigns.iter().find(|c| c.direction == Direction::Outbound && c.lists.contains(&list_id));
    let collecting = campaigns.iter().find(|c| c.auto_callback_list_id == Some(list_id));
    Ok(dialling.or(collecting).map(|c| c.region.clone()))
}

async fn validate_lead(state: &AppState, lead: &mut Lead) -> ApiResult<()> {
    let list = list_exists(state, "list_id", lead.list_id).await?;
    if lead.phones.is_empty() || lead.phones.len() > MAX_LEAD_PHONES {
        return Err(ApiError::invalid_field("phones", "a lead has one to three phone numbers"));
    }
    let region = region_for_list(state, lead.list_id).await?;
    for (i, raw) in lead.phones.iter_mut().enumerate() {
        let number = PhoneNumber::parse(raw, region.as_deref())
            .map_err(|e| ApiError::from(e).with_details(json!({"field": format!("phones[{i}]")})))?;
        *raw = number.into_string();
    }
    if let Some(tz) = &lead.timezone {
        check_timezone("timezone", tz)?;
    }
    if let Some(name) = &lead.name {
        lead.name = Some(text("name", name)?);
    }
    if let Some(key) = lead.data.keys().find(|k| !list.fields.contains(k)) {
        return Err(ApiError::invalid_field(
            &format!("data.{key}"),
            format!("'{key}' is not a data field of list {} (fields: {})", list.id, list.fields.join(", ")),
        ));
    }
    Ok(())
}

pub async fn create_lead(state: &AppState, input: LeadCreate) -> ApiResult<Lead> {
    let mut lead = Lead {
        id: 0,
        list_id: input.list_id,
        phones: input.phones,
        timezone: input.timezone,
        name: input.name,
        data: input.data,
        created_at: now(state),
    };
    validate_lead(state, &mut lead).await?;
    Ok(state.store.create_lead(lead).await?)
}

pub async fn get_lead(state: &AppState, id: LeadId) -> ApiResult<Lead> {
    state.store.get_lead(id).await?.ok_or_else(|| ApiError::not_found("lead"))
}

/// Leads are paged in the store. A scoped caller reads the leads of the lists its scope covers: one
/// list as usual, several merged in id order (as the store orders them).
pub async fn list_leads(
    state: &AppState,
    principal: &Principal,
    list_id: Option<ListId>,
    page: PageRequest,
) -> ApiResult<Paged<Lead>> {
    let lists = match (visible(state, principal).await?, list_id) {
        (None, list_id) => vec![list_id],
        (Some(v), Some(list_id)) if v.list(list_id) => vec![Some(list_id)],
        (Some(_), Some(_)) => Vec::new(),
        (Some(v), None) => v.lists().into_iter().map(Some).collect(),
    };
    match lists.as_slice() {
        [] => Ok(Paged { items: Vec::new(), page: page.page, page_size: page.page_size, total: 0 }),
        [one] => {
            let found = state.store.list_leads(*one, page).await?;
            Ok(Paged { items: found.items, page: page.page, page_size: page.page_size, total: found.total })
        }
        many => {
            let depth = scope::merged_depth(page)?;
            let mut pages = Vec::with_capacity(many.len());
            for list_id in many {
                pages.push(state.store.list_leads(*list_id, depth).await?);
            }
            Ok(scope::merge_pages(pages, page, |a, b| a.id.cmp(&b.id)))
        }
    }
}

pub async fn update_lead(state: &AppState, id: LeadId, patch: LeadPatch) -> ApiResult<Lead> {
    let mut lead = get_lead(state, id).await?;
    if let Some(v) = patch.list_id {
        lead.list_id = v;
    }
    if let Some(v) = patch.phones {
        lead.phones = v;
    }
    if let Some(v) = patch.timezone {
        lead.timezone = v;
    }
    if let Some(v) = patch.name {
        lead.name = v;
    }
    if let Some(v) = patch.data {
        lead.data = v;
    }
    validate_lead(state, &mut lead).await?;
    Ok(state.store.update_lead(lead).await?)
}

pub async fn delete_lead(state: &AppState, id: LeadId) -> ApiResult<()> {
    get_lead(state, id).await?;
    Ok(state.store.delete_lead(id).await?)
}

// ---- queues ------------------------------------------------------------------------------------

async fn validate_queue(state: &AppState, q: &mut Queue) -> ApiResult<()> {
    q.name = text("name", &q.name)?;
    let campaign = campaign_exists(state, "campaign_id", q.campaign_id).await?;
    require_outbound(&campaign, "campaign_id")?;
    slots::validate(q.slot_minutes, q.capacity_grid.as_ref()).map_err(|e| {
        let field = if slots::SLOT_LENGTHS.contains(&q.slot_minutes) { "capacity_grid" } else { "slot_minutes" };
        ApiError::from(e).for_field(field)
    })?;
    Ok(())
}

pub async fn create_queue(state: &AppState, input: QueueCreate) -> ApiResult<Queue> {
    let mut queue = Queue {
        id: 0,
        name: input.name,
        campaign_id: input.campaign_id,
        slot_minutes: input.slot_minutes.unwrap_or(DEFAULT_SLOT_MINUTES),
        slot_capacity: input.slot_capacity.unwrap_or(DEFAULT_SLOT_CAPACITY),
        capacity_grid: input.capacity_grid,
        duplicate_policy: input.duplicate_policy.unwrap_or(DuplicatePolicy::One),
        paused: input.paused,
        created_at: now(state),
    };
    validate_queue(state, &mut queue).await?;
    let created = state.store.create_queue(queue).await?;
    state.config_cache.invalidate();
    Ok(created)
}

pub async fn get_queue(state: &AppState, id: QueueId) -> ApiResult<Queue> {
    state.store.get_queue(id).await?.ok_or_else(|| ApiError::not_found("queue"))
}

pub async fn list_queues(state: &AppState, principal: &Principal, page: PageRequest) -> ApiResult<Paged<Queue>> {
    shown_page(state, principal, state.store.list_queues().await?, page).await
}

pub async fn update_queue(state: &AppState, id: QueueId, patch: QueuePatch) -> ApiResult<Queue> {
    let mut q = get_queue(state, id).await?;
    if let Some(v) = patch.name {
        q.name = v;
    }
    if let Some(v) = patch.campaign_id {
        q.campaign_id = v;
    }
    if let Some(v) = patch.slot_minutes {
        q.slot_minutes = v;
    }
    if let Some(v) = patch.slot_capacity {
        q.slot_capacity = v;
    }
    if let Some(v) = patch.capacity_grid {
        q.capacity_grid = v;
    }
    if let Some(v) = patch.duplicate_policy {
        q.duplicate_policy = v;
    }
    if let Some(v) = patch.paused {
        q.paused = v;
    }
    validate_queue(state, &mut q).await?;
    let updated = state.store.update_queue(q).await?;
    state.config_cache.invalidate();
    // Unpausing releases held callbacks; pausing or moving a queue changes what routing may offer.
    state.engine.notify_routing();
    Ok(updated)
}

pub async fn delete_queue(state: &AppState, id: QueueId) -> ApiResult<()> {
    get_queue(state, id).await?;
    state.store.delete_queue(id).await?;
    state.config_cache.invalidate();
    Ok(())
}

// ---- agents ------------------------------------------------------------------------------------

async fn validate_agent(state: &AppState, a: &mut Agent) -> ApiResult<()> {
    a.name = text("name", &a.name)?;
    a.username = text("username", &a.username)?;
    check_timezone("timezone", &a.timezone)?;
    let mut seen = BTreeSet::new();
    a.campaigns.retain(|id| seen.insert(*id));
    let mut seen = BTreeSet::new();
    a.queues.retain(|id| seen.insert(*id));
    for id in &a.campaigns {
        campaign_exists(state, "campaigns", *id).await?;
    }
    for id in &a.queues {
        if state.store.get_queue(*id).await?.is_none() {
            return Err(ApiError::unknown_reference("queues", "queue", id));
        }
    }
    Ok(())
}

pub async fn create_agent(state: &AppState, input: AgentCreate) -> ApiResult<Agent> {
    let mut agent = Agent {
        id: 0,
        name: input.name,
        username: input.username,
        timezone: input.timezone,
        campaigns: input.campaigns,
        queues: input.queues,
        can_view_callback_list: input.can_view_callback_list,
        presence: Presence::Offline,
        ready_since: None,
        created_at: now(state),
    };
    validate_agent(state, &mut agent).await?;
    let created = state.store.create_agent(agent).await?;
    state.config_cache.invalidate();
    state.engine.notify_routing();
    Ok(created)
}

pub async fn get_agent(state: &AppState, id: AgentId) -> ApiResult<Agent> {
    state.store.get_agent(id).await?.ok_or_else(|| ApiError::not_found("agent"))
}

pub async fn list_agents(state: &AppState, principal: &Principal, page: PageRequest) -> ApiResult<Paged<Agent>> {
    shown_page(state, principal, state.store.list_agents().await?, page).await
}

pub async fn update_agent(state: &AppState, id: AgentId, patch: AgentPatch) -> ApiResult<Agent> {
    let mut a = get_agent(state, id).await?;
    if let Some(v) = patch.name {
        a.name = v;
    }
    if let Some(v) = patch.username {
        a.username = v;
    }
    if let Some(v) = patch.timezone {
        a.timezone = v;
    }
    if let Some(v) = patch.campaigns {
        a.campaigns = v;
    }
    if let Some(v) = patch.queues {
        a.queues = v;
    }
    if let Some(v) = patch.can_view_callback_list {
        a.can_view_callback_list = v;
    }
    validate_agent(state, &mut a).await?;
    let updated = state.store.update_agent(a).await?;
    state.config_cache.invalidate();
    // New queues or campaigns change what a ready agent may be offered.
    state.engine.notify_routing();
    Ok(updated)
}

pub async fn delete_agent(state: &AppState, id: AgentId) -> ApiResult<()> {
    get_agent(state, id).await?;
    state.store.delete_agent(id).await?;
    state.config_cache.invalidate();
    Ok(())
}

// ---- wrap codes --------------------------------------------------------------------------------

async fn validate_wrap_code(state: &AppState, w: &mut WrapCode) -> ApiResult<()> {
    campaign_exists(state, "campaign_id", w.campaign_id).await?;
    w.code = text("code", &w.code)?;
    if w.code.chars().any(char::is_whitespace) {
        return Err(ApiError::invalid_field("code", "a wrap code has no spaces"));
    }
    w.label = text("label", &w.label)?;
    if let Some(atq) = &w.add_to_queue {
        let target = campaign_exists(state, "add_to_queue.campaign_id", atq.campaign_id).await?;
        require_outbound(&target, "add_to_queue.campaign_id")?;
        match (atq.kind, atq.queue_id) {
            (CallbackType::Queue, None) => {
                return Err(ApiError::invalid_field("add_to_queue.queue_id", "a queue callback needs a queue_id"));
            }
            (_, Some(queue_id)) => {
                let queue = state
                    .store
                    .get_queue(queue_id)
                    .await?
                    .ok_or_else(|| ApiError::unknown_reference("add_to_queue.queue_id", "queue", queue_id))?;
                if queue.campaign_id != atq.campaign_id {
                    return Err(ApiError::unprocessable(
                        "queue_not_in_campaign",
                        format!("queue {queue_id} does not belong to campaign {}", atq.campaign_id),
                    )
                    .with_details(json!({"field": "add_to_queue.queue_id"})));
                }
            }
            (CallbackType::Agent, None) => {}
        }
    }
    Ok(())
}

pub async fn create_wrap_code(state: &AppState, input: WrapCodeCreate) -> ApiResult<WrapCode> {
    let mut w = WrapCode {
        id: 0,
        campaign_id: input.campaign_id,
        label: input.label.unwrap_or_else(|| input.code.clone()),
        code: input.code,
        add_to_queue: input.add_to_queue,
        created_at: now(state),
    };
    validate_wrap_code(state, &mut w).await?;
    Ok(state.store.create_wrap_code(w).await?)
}

pub async fn get_wrap_code(state: &AppState, id: WrapCodeId) -> ApiResult<WrapCode> {
    state.store.get_wrap_code(id).await?.ok_or_else(|| ApiError::not_found("wrap code"))
}

pub async fn list_wrap_codes(state: &AppState, principal: &Principal, page: PageRequest) -> ApiResult<Paged<WrapCode>> {
    shown_page(state, principal, state.store.list_wrap_codes().await?, page).await
}

pub async fn update_wrap_code(state: &AppState, id: WrapCodeId, patch: WrapCodePatch) -> ApiResult<WrapCode> {
    let mut w = get_wrap_code(state, id).await?;
    if let Some(v) = patch.campaign_id {
        w.campaign_id = v;
    }
    if let Some(v) = patch.code {
        w.code = v;
    }
    if let Some(v) = patch.label {
        w.label = v;
    }
    if let Some(v) = patch.add_to_queue {
        w.add_to_queue = v;
    }
    validate_wrap_code(state, &mut w).await?;
    Ok(state.store.update_wrap_code(w).await?)
}

pub async fn delete_wrap_code(state: &AppState, id: WrapCodeId) -> ApiResult<()> {
    get_wrap_code(state, id).await?;
    Ok(state.store.delete_wrap_code(id).await?)
}
