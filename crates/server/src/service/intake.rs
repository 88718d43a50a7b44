//! Callbacks that other events generate: an inbound caller's auto-callback request, and the
//! Add-to-Queue wrap codes (`POST /wraps`, and outcomes that carry such a code).
//!
//! Both build an ordinary create request and send it through the create rules of
//! [`super::callbacks::prepare`] (campaign, queue, agent, number, time, duplicate policy, slot
//! capacity, `Idempotency-Key`), so a generated callback obeys every rule a requested one does.
//!
//! Decisions the contract leaves to us:
//! - **Auto-callback target**: the lowest-id *running* outbound campaign whose `lists` include the
//!   inbound campaign's `auto_callback_list_id`, and its lowest-id queue that is not paused. Both are
//!   found before the lead is touched, so a refused request changes nothing. The lead is the list's
//!   lead with that number, else a new one. The callback is immediate.
//! - **Add-to-Queue**: the setting's campaign; a queue callback goes to the setting's queue, else
//!   the target campaign's lowest-id queue (configuration requires a queue for queue callbacks
//!   today, so that is a fallback for settings stored without one); an agent callback is for the wrapping agent (and keeps the
//!   setting's queue, if any, to escalate to). Desired at the given `callback_time`, else now plus
//!   the delay (immediate when the delay is 0). The new callback carries the wrap code.
//! - An outcome's wrap code is checked and its callback prepared *before* the outcome is recorded,
//!   so an invalid one refuses the whole request; only a refusal at insert time (a duplicate, a
//!   full slot) is reported next to the recorded outcome.

use jiff::{SignedDuration, Timestamp};
use rebound_domain::access::Principal;
use rebound_domain::model::*;
use rebound_domain::phone::PhoneNumber;
use rebound_store::{CreateOutcome, IdempotencyKey};
use serde_json::json;

use crate::AppState;
use crate::dto::*;
use crate::error::{ApiError, ApiResult};
use crate::service::callbacks::{Intake, Lookups, Prepared, prepare, replayed, store_or_propose, view};
use crate::service::scope;

use crate::hardening::limits::MAX_NAME_LEN as MAX_LEAD_NAME_LEN;

/// The lowest-id queue of `campaign_id` (not paused, when `active_only`).
async fn first_queue(state: &AppState, campaign_id: CampaignId, active_only: bool) -> ApiResult<Option<Queue>> {
    let mut queues: Vec<Queue> = state
        .store
        .list_queues()
        .await?
        .into_iter()
        .filter(|q| q.campaign_id == campaign_id && !(active_only && q.paused))
        .collect();
    queues.sort_by_key(|q| q.id);
    Ok(queues.into_iter().next())
}

/// Stores a prepared generated callback and wakes the engine for it.
async fn store_generated(
    lookups: &mut Lookups<'_>,
    prepared: Prepared,
    now: Timestamp,
) -> ApiResult<(CallbackView, bool)> {
    let Prepared { new, campaign, queue, display_tz } = prepared;
    match store_or_propose(lookups, new, &campaign, queue.as_deref(), &display_tz, now).await? {
        Ok(CreateOutcome::Created(cb)) => {
            lookups.state().engine.notify_due(cb.earliest_time);
            Ok((view(cb, now), false))
        }
        Ok(CreateOutcome::Replayed(cb)) => Ok((view(cb, now), true)),
        Err(e) => Err(e.into()),
    }
}

// ---- auto-callbacks ----------------------------------------------------------------------------

/// `POST /campaigns/{id}/auto-callbacks`: see the module docs. Answers the new callback and
/// whether it is an idempotent replay.
pub async fn auto_callback(
    state: &AppState,
    principal: &Principal,
    inbound_id: CampaignId,
    input: AutoCallbackRequest,
    idempotency: Option<IdempotencyKey>,
) -> ApiResult<(CallbackView, bool)> {
    let now = state.clock.now();
    if let Some(first) = replayed(state, idempotency.as_ref(), now).await? {
        return Ok((first, true));
    }
    let mut lookups = Lookups::new(state).await?;
    let inbound = lookups.campaign(inbound_id).await?.ok_or_else(|| ApiError::not_found("campaign"))?;
    if inbound.direction != Direction::Inbound {
        return Err(ApiError::unprocessable(
            "campaign_not_inbound",
            format!("campaign {inbound_id} is outbound; auto-callbacks are requested through an inbound campaign"),
        ));
    }
    let list_id = inbound.auto_callback_list_id.ok_or_else(|| {
        ApiError::unprocessable(
            "no_auto_callback_list",
            format!("inbound campaign {inbound_id} has no auto_callback_list_id; set one to take auto-callbacks"),
        )
    })?;
    let phone =
        PhoneNumber::parse(&input.phone, Some(&inbound.region)).map_err(|e| ApiError::from(e).for_field("phone"))?;
    let name = input.name.map(|n| n.trim().to_string()).filter(|n| !n.is_empty());
    if name.as_ref().is_some_and(|n| n.chars().count() > MAX_LEAD_NAME_LEN) {
        return Err(ApiError::invalid_field("name", format!("name is longer than {MAX_LEAD_NAME_LEN} characters")));
    }

    // Where the callback goes: found before anything is written.
    let mut dialling: Vec<Campaign> = state
        .store
        .list_campaigns()
        .await?
        .into_iter()
        .filter(|c| c.direction == Direction::Outbound && c.running && c.lists.contains(&list_id))
        .collect();
    dialling.sort_by_key(|c| c.id);
    let outbound = dialling.into_iter().next().ok_or_else(|| {
        ApiError::conflict(
            "no_outbound_campaign",
            format!(
                "no running outbound campaign dials list {list_id} (the auto-callback list of campaign \
                 {inbound_id}); add the list to an outbound campaign's lists, or start that campaign"
            ),
        )
        .with_details(json!({"list_id": list_id}))
    })?;
    let queue = first_queue(state, outbound.id, true).await?.ok_or_else(|| {
        ApiError::conflict(
            "no_queue",
            format!("outbound campaign {} has no queue that is not paused to hold the auto-callback", outbound.id),
        )
        .with_details(json!({"campaign_id": outbound.id}))
    })?;
    // Checked before the lead is touched: a refused request changes nothing.
    scope::check_callback_target(principal, outbound.id, Some(queue.id))?;

    // The caller as a lead of the auto-callback list.
    let (lead, lead_is_new) = match state.store.find_lead_by_phone(list_id, phone.as_str()).await? {
        Some(lead) => (lead, false),
        None => {
            let lead = state
                .store
                .create_lead(Lead {
                    id: 0,
                    list_id,
                    phones: vec![phone.as_str().to_string()],
                    timezone: None,
                    name,
                    data: DataFields::new(),
                    created_at: now,
                })
                .await?;
            (lead, true)
        }
    };

    let request = CallbackCreate {
        kind: CallbackType::Queue,
        campaign_id: outbound.id,
        queue_id: Some(queue.id),
        agent_id: None,
        phone: phone.as_str().to_string(),
        lead_id: Some(lead.id),
        list_id: None,
        desired_time: None,
        timezone: None,
        disambiguation: None,
        priority: 0,
        notes: None,
        data: DataFields::new(),
    };
    let created = async {
        let mut prepared = prepare(&mut lookups, request, &principal.actor, now, Intake::AutoCallback).await?;
        prepared.new.callback.phone_raw = input.phone;
        prepared.new.idempotency = idempotency;
        prepared.new.event_details =
            json!({"origin": Origin::AutoCallback.as_str(), "inbound_campaign_id": inbound_id, "list_id": list_id});
        store_generated(&mut lookups, prepared, now).await
    }
    .await;
    // A refused callback (a duplicate, a full slot) must not leave the lead made for it behind. The
    // lead needs an id before the callback can name it, so the two are separate writes; removing
    // the new lead on refusal keeps a refused request from changing anything (only a crash between
    // the two writes could leave a lead without its callback).
    if created.is_err()
        && lead_is_new
        && let Err(e) = state.store.delete_lead(lead.id).await
    {
        tracing::warn!(lead = lead.id, error = %e, "could not remove the lead of a refused auto-callback");
    }
    created
}

// ---- Add-to-Queue wrap codes -------------------------------------------------------------------

/// The wrap code `code` of `campaign_id`, if there is one.
pub(crate) async fn find_wrap_code(
    state: &AppState,
    campaign_id: CampaignId,
    code: &str,
) -> ApiResult<Option<WrapCode>> {
    let code = code.trim();
    Ok(state.store.list_wrap_codes().await?.into_iter().find(|w| w.campaign_id == campaign_id && w.code == code))
}

/// What an Add-to-Queue callback is made from.
pub(crate) struct WrapContext {
    pub agent_id: Option<AgentId>,
    pub phone: String,
    pub lead_id: Option<LeadId>,
    pub callback_time: Option<String>,
    pub timezone: Option<String>,
}

/// The callback `wrap`'s Add-to-Queue setting describes, checked against every create rule but not
/// stored; `None` when the code has no Add-to-Queue setting.
pub(crate) async fn prepare_add_to_queue(
    lookups: &mut Lookups<'_>,
    wrap: &WrapCode,
    context: WrapContext,
    actor: &str,
    now: Timestamp,
) -> ApiResult<Option<Prepared>> {
    let Some(setting) = &wrap.add_to_queue else { return Ok(None) };
    let queue_id = match (setting.kind, setting.queue_id) {
        (_, Some(id)) => Some(id),
        (CallbackType::Agent, None) => None,
        (CallbackType::Queue, None) => Some(
            first_queue(lookups.state(), setting.campaign_id, false)
                .await?
                .ok_or_else(|| {
                    ApiError::conflict(
                        "no_queue",
                        format!("wrap code {} adds to campaign {}, which has no queue", wrap.code, setting.campaign_id),
                    )
                    .with_details(json!({"campaign_id": setting.campaign_id}))
                })?
                .id,
        ),
    };
    let agent_id = match setting.kind {
        CallbackType::Agent => Some(context.agent_id.ok_or_else(|| {
            ApiError::invalid_field(
                "agent_id",
                format!("wrap code {} creates an agent callback; name the agent (agent_id)", wrap.code),
            )
        })?),
        CallbackType::Queue => None,
    };
    let desired_time = match context.callback_time {
        Some(time) => Some(time),
        None if setting.delay_minutes == 0 => None,
        None => {
            let delay = SignedDuration::from_mins(i64::from(setting.delay_minutes));
            Some(now.saturating_add(delay).unwrap_or(now).to_string())
        }
    };
    let request = CallbackCreate {
        kind: setting.kind,
        campaign_id: setting.campaign_id,
        queue_id,
        agent_id,
        phone: context.phone,
        lead_id: context.lead_id,
        list_id: None,
        desired_time,
        timezone: context.timezone,
        disambiguation: None,
        priority: 0,
        notes: None,
        data: DataFields::new(),
    };
    // Field names in errors speak of the wrap request (`callback_time`, not `desired_time`).
    let mut prepared = prepare(lookups, request, actor, now, Intake::WrapCode).await.map_err(rename_field)?;
    prepared.new.callback.wrap_code = Some(wrap.code.clone());
    prepared.new.event_details = json!({
        "origin": Origin::WrapCode.as_str(),
        "wrap_code": wrap.code,
        "wrap_campaign_id": wrap.campaign_id,
    });
    Ok(Some(prepared))
}

/// `desired_time` in a create error is the wrap's `callback_time`.
fn rename_field(err: ApiError) -> ApiError {
    match err {
        ApiError::Unprocessable { code, message, mut details } => {
            if details.get("field").and_then(|f| f.as_str()) == Some("desired_time") {
                details["field"] = json!("callback_time");
            }
            ApiError::Unprocessable { code, message, details }
        }
        other => other,
    }
}

/// Stores a prepared Add-to-Queue callback (with the caller's `Idempotency-Key`, if any).
pub(crate) async fn store_add_to_queue(
    lookups: &mut Lookups<'_>,
    mut prepared: Prepared,
    idempotency: Option<IdempotencyKey>,
    now: Timestamp,
) -> ApiResult<(CallbackView, bool)> {
    prepared.new.idempotency = idempotency;
    store_generated(lookups, prepared, now).await
}

/// `POST /wraps`: `Ok(None)` for a wrap code without Add-to-Queue, else the callback it created
/// and whether that is an idempotent replay.
pub async fn wrap(
    state: &AppState,
    principal: &Principal,
    input: WrapRequest,
    idempotency: Option<IdempotencyKey>,
) -> ApiResult<Option<(CallbackView, bool)>> {
    let now = state.clock.now();
    if let Some(first) = replayed(state, idempotency.as_ref(), now).await? {
        return Ok(Some((first, true)));
    }
    scope::check_acts_for(principal, input.agent_id)?;
    let mut lookups = Lookups::new(state).await?;
    if lookups.agent(input.agent_id).await?.is_none() {
        return Err(ApiError::unknown_reference("agent_id", "agent", input.agent_id));
    }
    let wrap = find_wrap_code(state, input.campaign_id, &input.wrap_code).await?.ok_or_else(|| ApiError::NotFound {
        message: format!("campaign {} has no wrap code '{}'", input.campaign_id, input.wrap_code.trim()),
    })?;
    let context = WrapContext {
        agent_id: Some(input.agent_id),
        phone: input.phone,
        lead_id: input.lead_id,
        callback_time: input.callback_time,
        timezone: input.timezone,
    };
    match prepare_add_to_queue(&mut lookups, &wrap, context, &principal.actor, now).await? {
        None => Ok(None),
        Some(prepared) => {
            scope::check_callback_target(principal, prepared.new.callback.campaign_id, prepared.new.callback.queue_id)?;
            Ok(Some(store_add_to_queue(&mut lookups, prepared, idempotency, now).await?))
        }
    }
}

// ---- a callback for a contact named at create time ----------------------------------------------

/// A create request that names its contact (the console's Create dialog: phone, lead name, list):
/// the callback's lead is the list's lead with that number, else a new lead with `name`. Like an
/// auto-callback, everything is checked before the lead is touched, and a new lead is removed
/// again when the callback is refused, so a refused request changes nothing. An existing lead keeps
/// its own name.
pub async fn create_for_named_lead(
    state: &AppState,
    principal: &Principal,
    mut input: CallbackCreate,
    name: &str,
) -> ApiResult<CallbackView> {
    let name = name.trim();
    if name.chars().count() > MAX_LEAD_NAME_LEN {
        return Err(ApiError::invalid_field("lead_name", format!("a name is at most {MAX_LEAD_NAME_LEN} characters")));
    }
    if input.lead_id.is_some() {
        return Err(ApiError::invalid_field("lead_name", "name a new contact or give a lead_id, not both"));
    }
    let list_id = input
        .list_id
        .ok_or_else(|| ApiError::invalid_field("list_id", "choose the list the new contact belongs to"))?;
    scope::check_callback_target(principal, input.campaign_id, input.queue_id)?;
    let mut lookups = Lookups::new(state).await?;
    let campaign = lookups
        .campaign(input.campaign_id)
        .await?
        .ok_or_else(|| ApiError::unknown_reference("campaign_id", "campaign", input.campaign_id))?;
    let list = lookups.list(list_id).await?.ok_or_else(|| ApiError::unknown_reference("list_id", "list", list_id))?;
    let snapshot = state.config_cache.snapshot(state.store.as_ref()).await?;
    if !scope::Visible::of(principal, &snapshot).list(list.id) {
        return Err(ApiError::unknown_reference("list_id", "list", list_id));
    }
    let phone =
        PhoneNumber::parse(&input.phone, Some(&campaign.region)).map_err(|e| ApiError::from(e).for_field("phone"))?;
    let (lead, lead_is_new) = match state.store.find_lead_by_phone(list.id, phone.as_str()).await? {
        Some(lead) => (lead, false),
        None => {
            let lead = Lead {
                id: 0,
                list_id: list.id,
                phones: vec![phone.as_str().to_string()],
                timezone: None,
                name: Some(name.to_string()).filter(|n| !n.is_empty()),
                data: DataFields::new(),
                created_at: state.clock.now(),
            };
            (state.store.create_lead(lead).await?, true)
        }
    };
    input.lead_id = Some(lead.id);
    let created = super::callbacks::create(state, principal, input, None).await.map(|(view, _)| view);
    if created.is_err()
        && lead_is_new
        && let Err(e) = state.store.delete_lead(lead.id).await
    {
        tracing::warn!(lead = lead.id, error = %e, "could not remove the lead of a refused callback");
    }
    created
}
