//! The agent and dialler protocol over HTTP: presence, the current offer, accept, reject,
//! outcomes (single and in dialler batches), dialler claims, and an agent's own callback list.
//!
//! The engine (`rebound_engine`) makes every lifecycle step; this layer checks what the request
//! names (the agent, the campaign, the bounds of a claim), turns engine refusals into the contract's
//! errors (`EngineError` → [`ApiError`]) and adds what the engine does not know about: the
//! Add-to-Queue callback an outcome's wrap code asks for (see [`super::intake`]).
//!
//! Who may act for which agent is `service::scope`'s rule: a user of role `agent` acts only as
//! their own agent (answers, outcomes and presence are theirs; dialler leases are not), while a
//! token with `AgentActions` (an integration) acts for any agent its scope covers. The engine still
//! refuses an answer from an agent the callback is not offered to.

use std::collections::HashSet;

use rebound_domain::access::Principal;
use rebound_domain::model::*;
use rebound_engine::OutcomeReport;
use rebound_store::Holder;

use crate::AppState;
use crate::dto::*;
use crate::error::{ApiError, ApiResult};
use crate::extract::Params;
use crate::service::callbacks::{self, FILTER_PARAMS, ListQuery, Lookups, MAX_NOTES_LEN, Prepared, view};
use crate::service::intake::{self, WrapContext};
use crate::service::live::LiveItem;
use crate::service::scope::{self, Visible};

/// The most outcomes one `POST /dialer/outcomes` may carry.
pub use crate::hardening::limits::MAX_DIALER_OUTCOMES;

/// The agent the principal acts for: its own (another is a 403), or for an unbound principal any
/// agent its scope can see (another is a 404).
async fn acting_for(state: &AppState, principal: &Principal, id: AgentId) -> ApiResult<std::sync::Arc<Agent>> {
    scope::check_acts_for(principal, id)?;
    let mut lookups = Lookups::new(state).await?;
    let agent = lookups.agent(id).await?.ok_or_else(|| ApiError::not_found("agent"))?;
    if principal.agent_id.is_none() && principal.scope.is_some() {
        let snapshot = state.config_cache.snapshot(state.store.as_ref()).await?;
        let visible = Visible::of(principal, &snapshot).agent(&agent);
        return scope::visible_or_404(agent, visible, "agent");
    }
    Ok(agent)
}

/// For a scoped caller, 404 unless the callback is in its scope.
async fn check_callback_in_scope(state: &AppState, principal: &Principal, id: CallbackId) -> ApiResult<()> {
    if principal.scope.is_some() {
        let callback = state.store.get_callback(id).await?.ok_or_else(|| ApiError::not_found("callback"))?;
        scope::check_callback_visible(principal, &callback)?;
    }
    Ok(())
}

fn check_notes(notes: Option<&str>) -> ApiResult<()> {
    if notes.is_some_and(|n| n.chars().count() > MAX_NOTES_LEN) {
        return Err(ApiError::invalid_field("notes", format!("notes are at most {MAX_NOTES_LEN} characters")));
    }
    Ok(())
}

/// A wrap code as given: trimmed, empty = none.
fn clean_wrap_code(code: Option<String>) -> Option<String> {
    code.map(|c| c.trim().to_string()).filter(|c| !c.is_empty())
}

/// `PUT /agents/{id}/presence`.
pub async fn set_presence(
    state: &AppState,
    principal: &Principal,
    agent_id: AgentId,
    input: PresenceRequest,
) -> ApiResult<Agent> {
    if input.presence == Presence::Busy {
        return Err(ApiError::invalid_field(
            "presence",
            "presence is ready, not_ready or offline; busy is set while the agent handles a callback",
        ));
    }
    acting_for(state, principal, agent_id).await?;
    Ok(state.engine.set_presence(agent_id, input.presence, &principal.actor).await?)
}

/// `GET /agents/{id}/offer`: the callback offered to (or being handled by) the agent.
pub async fn offer(state: &AppState, principal: &Principal, agent_id: AgentId) -> ApiResult<Option<CallbackView>> {
    acting_for(state, principal, agent_id).await?;
    current_offer(state, agent_id).await
}

async fn current_offer(state: &AppState, agent_id: AgentId) -> ApiResult<Option<CallbackView>> {
    let offered = state.engine.offer(agent_id).await?;
    Ok(offered.map(|cb| view(cb, state.clock.now())))
}

/// `POST /callbacks/{id}/accept`.
pub async fn accept(
    state: &AppState,
    principal: &Principal,
    id: CallbackId,
    input: OfferAnswer,
) -> ApiResult<CallbackView> {
    let agent_id = scope::own_agent(principal, input.agent_id)?;
    check_callback_in_scope(state, principal, id).await?;
    let accepted = state.engine.accept(id, agent_id, &principal.actor).await?;
    Ok(view(accepted, state.clock.now()))
}

/// `POST /callbacks/{id}/reject`.
pub async fn reject(
    state: &AppState,
    principal: &Principal,
    id: CallbackId,
    input: OfferAnswer,
) -> ApiResult<CallbackView> {
    let agent_id = scope::own_agent(principal, input.agent_id)?;
    check_callback_in_scope(state, principal, id).await?;
    let rejected = state.engine.reject(id, agent_id, &principal.actor).await?;
    Ok(view(rejected, state.clock.now()))
}

/// Who reports an outcome: an agent or a dialler lease, not both.
fn holder(agent_id: Option<AgentId>, lease_id: Option<String>) -> ApiResult<Option<Holder>> {
    match (agent_id, lease_id.filter(|l| !l.is_empty())) {
        (Some(_), Some(_)) => Err(ApiError::invalid_field("lease_id", "give agent_id or lease_id, not both")),
        (Some(agent), None) => Ok(Some(Holder::Agent(agent))),
        (None, Some(lease)) => Ok(Some(Holder::Lease(lease))),
        (None, None) => Ok(None),
    }
}

/// The Add-to-Queue callback an outcome's wrap code asks for, prepared before the outcome is
/// recorded (so a wrap code whose callback would be refused refuses the outcome too).
async fn prepare_outcome_wrap(
    lookups: &mut Lookups<'_>,
    callback: &Callback,
    wrap: &WrapCode,
    reporting_agent: Option<AgentId>,
    actor: &str,
) -> ApiResult<Option<Prepared>> {
    let context = WrapContext {
        agent_id: reporting_agent.or(callback.offered_to).or(callback.agent_id),
        phone: callback.phone.clone(),
        lead_id: callback.lead_id,
        callback_time: None,
        timezone: None,
    };
    let now = lookups.state().clock.now();
    intake::prepare_add_to_queue(lookups, wrap, context, actor, now).await
}

/// Stores the prepared Add-to-Queue callback of an outcome: the view, or why it was refused.
async fn store_outcome_wrap(
    lookups: &mut Lookups<'_>,
    prepared: Option<Prepared>,
) -> (Option<CallbackView>, Option<crate::error::ErrorObject>) {
    let Some(prepared) = prepared else { return (None, None) };
    let now = lookups.state().clock.now();
    match intake::store_add_to_queue(lookups, prepared, None, now).await {
        Ok((created, _)) => (Some(created), None),
        Err(e) => {
            if let ApiError::Internal(cause) = &e {
                tracing::error!(error.cause = %cause, "storing an Add-to-Queue callback failed");
            }
            (None, Some(e.to_object()))
        }
    }
}

/// `POST /callbacks/{id}/outcome`.
pub async fn outcome(
    state: &AppState,
    principal: &Principal,
    id: CallbackId,
    input: OutcomeRequest,
) -> ApiResult<OutcomeView> {
    check_notes(input.notes.as_deref())?;
    let agent_id = match principal.agent_id {
        // An agent reports for themselves, never for a dialler's lease.
        Some(_) if input.lease_id.as_ref().is_some_and(|l| !l.is_empty()) => {
            return Err(ApiError::Forbidden {
                code: "forbidden",
                message: "an agent reports outcomes of their own calls, not of dialler leases".into(),
            });
        }
        Some(_) => scope::own_agent(principal, input.agent_id)?,
        None => input.agent_id,
    };
    check_callback_in_scope(state, principal, id).await?;
    let holder = holder(agent_id, input.lease_id)?;
    let wrap_code = clean_wrap_code(input.wrap_code);
    let mut lookups = Lookups::new(state).await?;

    let mut wrap_callback = None;
    if let Some(code) = &wrap_code {
        let current = state.store.get_callback(id).await?.ok_or_else(|| ApiError::not_found("callback"))?;
        if let Some(wrap) = intake::find_wrap_code(state, current.campaign_id, code).await? {
            wrap_callback = prepare_outcome_wrap(&mut lookups, &current, &wrap, agent_id, &principal.actor).await?;
        }
    }
    let report = OutcomeReport { outcome: input.outcome, holder, wrap_code, notes: input.notes };
    let reported = state.engine.report_outcome(id, report, &principal.actor).await?;
    let (wrap_callback, wrap_error) = store_outcome_wrap(&mut lookups, wrap_callback).await;
    Ok(OutcomeView { view: view(reported, state.clock.now()), wrap_callback, wrap_error })
}

/// `GET /agents/{id}/callbacks`: the list of `GET /callbacks` restricted to the agent's callbacks,
/// for an agent allowed to open it (and within the caller's scope).
pub async fn agent_callbacks(
    state: &AppState,
    principal: &Principal,
    agent_id: AgentId,
    params: &Params,
) -> ApiResult<Paged<CallbackView>> {
    let agent = acting_for(state, principal, agent_id).await?;
    if !agent.can_view_callback_list {
        return Err(ApiError::Forbidden {
            code: "forbidden",
            message: format!("agent {agent_id} may not open the callback list (can_view_callback_list is false)"),
        });
    }
    let allowed: Vec<&str> =
        FILTER_PARAMS.iter().copied().filter(|p| *p != "agent_id").chain(["sort", "page", "page_size"]).collect();
    params.only(&allowed)?;
    let mut query = ListQuery::parse(params)?;
    query.filter.filter.agent_ids = vec![agent_id];
    callbacks::list(state, principal, query).await
}

/// `POST /dialer/claim`.
pub async fn claim(state: &AppState, principal: &Principal, input: ClaimBody) -> ApiResult<Items<CallbackView>> {
    scope::require_not_agent_bound(principal)?;
    // A claim takes callbacks of any queue of the campaign: the whole campaign must be in scope.
    if principal.scope.as_ref().is_some_and(|s| !s.campaigns.contains(&input.campaign_id)) {
        return Err(ApiError::out_of_scope(format!(
            "campaign {} is not (wholly) in your scope; a dialler claims from whole campaigns",
            input.campaign_id
        )));
    }
    let limits = state.engine.config();
    if input.max == 0 || input.max > limits.max_claim {
        return Err(ApiError::invalid_field("max", format!("max must be between 1 and {}", limits.max_claim)));
    }
    if input.lease_secs == 0 || input.lease_secs > limits.max_lease_secs {
        return Err(ApiError::invalid_field(
            "lease_secs",
            format!("lease_secs must be between 1 and {}", limits.max_lease_secs),
        ));
    }
    let campaign = Lookups::new(state)
        .await?
        .campaign(input.campaign_id)
        .await?
        .ok_or_else(|| ApiError::unknown_reference("campaign_id", "campaign", input.campaign_id))?;
    if campaign.direction != Direction::Outbound {
        return Err(ApiError::unprocessable(
            "campaign_not_outbound",
            format!("campaign {} is inbound; diallers claim callbacks of outbound campaigns", campaign.id),
        )
        .for_field("campaign_id"));
    }
    let leased = state.engine.claim(input.campaign_id, input.max, input.lease_secs, &principal.actor).await?;
    let now = state.clock.now();
    Ok(Items { items: leased.into_iter().map(|cb| view(cb, now)).collect() })
}

/// `POST /dialer/outcomes`: every item through the engine in one batch; each succeeds or fails on
/// its own. An item's Add-to-Queue wrap code is prepared first; an item whose wrap callback would be
/// refused is refused whole (its outcome is not recorded), as `POST /callbacks/{id}/outcome` does.
pub async fn dialer_outcomes(
    state: &AppState,
    principal: &Principal,
    input: DialerOutcomes,
) -> ApiResult<Items<DialerOutcomeResult>> {
    scope::require_not_agent_bound(principal)?;
    if input.items.len() > MAX_DIALER_OUTCOMES {
        return Err(ApiError::invalid_field(
            "items",
            format!("a batch carries at most {MAX_DIALER_OUTCOMES} outcomes"),
        ));
    }
    let mut results: Vec<DialerOutcomeResult> = input
        .items
        .iter()
        .map(|item| DialerOutcomeResult {
            id: item.id,
            ok: false,
            callback: None,
            error: None,
            wrap_callback: None,
            wrap_error: None,
        })
        .collect();

    // Wrap codes with an Add-to-Queue setting, by code: only items naming one need more reads.
    let named: HashSet<String> = input.items.iter().filter_map(|i| clean_wrap_code(i.wrap_code.clone())).collect();
    let adding: Vec<WrapCode> = if named.is_empty() {
        Vec::new()
    } else {
        state
            .store
            .list_wrap_codes()
            .await?
            .into_iter()
            .filter(|w| w.add_to_queue.is_some() && named.contains(&w.code))
            .collect()
    };

    // A scoped dialler reports only on callbacks in its scope; others are unknown to it.
    let in_scope: Vec<bool> = if principal.scope.is_some() {
        let found = state.store.get_callbacks(input.items.iter().map(|i| i.id).collect()).await?;
        found.iter().map(|c| c.as_ref().is_none_or(|c| principal.sees_callback(c.campaign_id, c.queue_id))).collect()
    } else {
        vec![true; input.items.len()]
    };

    let mut lookups = Lookups::new(state).await?;
    let mut reports = Vec::with_capacity(input.items.len());
    let mut positions = Vec::with_capacity(input.items.len());
    let mut wraps: Vec<Option<Prepared>> = Vec::with_capacity(input.items.len());
    for (index, item) in input.items.into_iter().enumerate() {
        let checked = async {
            if !in_scope[index] {
                return Err(ApiError::not_found("callback"));
            }
            check_notes(item.notes.as_deref())?;
            let wrap_code = clean_wrap_code(item.wrap_code);
            let mut prepared = None;
            if let Some(code) = &wrap_code
                && adding.iter().any(|w| &w.code == code)
            {
                let current =
                    state.store.get_callback(item.id).await?.ok_or_else(|| ApiError::not_found("callback"))?;
                if let Some(wrap) = adding.iter().find(|w| w.campaign_id == current.campaign_id && &w.code == code) {
                    prepared = prepare_outcome_wrap(&mut lookups, &current, wrap, None, &principal.actor).await?;
                }
            }
            let report = OutcomeReport {
                outcome: item.outcome,
                holder: holder(None, item.lease_id)?,
                wrap_code,
                notes: item.notes,
            };
            Ok::<_, ApiError>((report, prepared))
        }
        .await;
        match checked {
            Ok((report, prepared)) => {
                reports.push((item.id, report));
                positions.push(index);
                wraps.push(prepared);
            }
            Err(e) => results[index].error = Some(e.to_object()),
        }
    }

    if !reports.is_empty() {
        let outcomes = state.engine.report_outcomes(reports, &principal.actor).await?;
        let now = state.clock.now();
        for ((index, outcome), prepared) in positions.into_iter().zip(outcomes).zip(wraps) {
            let result = &mut results[index];
            match outcome {
                Ok(cb) => {
                    result.ok = true;
                    result.callback = Some(view(cb, now));
                    let (created, refused) = store_outcome_wrap(&mut lookups, prepared).await;
                    result.wrap_callback = created;
                    result.wrap_error = refused;
                }
                Err(e) => {
                    let e = ApiError::from(e);
                    if let ApiError::Internal(cause) = &e {
                        tracing::error!(error.cause = %cause, batch.index = index, "dialler outcome failed with a server fault");
                    }
                    result.error = Some(e.to_object());
                }
            }
        }
    }
    Ok(Items { items: results })
}

/// Whether `event` concerns the agent: it names the agent (`details.agent_id`), or it is about the
/// callback last offered to the agent.
fn concerns(event: &CallbackEvent, agent_id: AgentId, offered: Option<CallbackId>) -> bool {
    event.details.get("agent_id").and_then(|v| v.as_i64()) == Some(agent_id) || offered == Some(event.callback_id)
}

/// `GET /agents/{id}/events`: the agent's current offer (`None`: none) at once, then again each
/// time an event concerning the agent arrives.
pub async fn offer_updates(
    state: &AppState,
    principal: &Principal,
    agent_id: AgentId,
) -> ApiResult<impl futures::Stream<Item = Option<CallbackView>> + Send + 'static + use<>> {
    acting_for(state, principal, agent_id).await?;
    // Subscribe before reading the offer: a change in between is seen as an event.
    let subscription = state.live.subscribe(None).await?;
    let current = current_offer(state, agent_id).await?;
    struct Follow {
        state: AppState,
        subscription: crate::service::live::Subscription,
        offered: Option<CallbackId>,
        first: Option<Option<CallbackView>>,
    }
    let follow = Follow { state: state.clone(), subscription, offered: None, first: Some(current) };
    Ok(futures::stream::unfold(follow, move |mut follow| async move {
        if let Some(first) = follow.first.take() {
            follow.offered = first.as_ref().map(|v| v.callback.id);
            return Some((first, follow));
        }
        loop {
            let relevant = match follow.subscription.next().await {
                Ok(Some(LiveItem::Event(event))) => concerns(&event, agent_id, follow.offered),
                // Events were missed: the offer may have changed.
                Ok(Some(LiveItem::Resync { .. })) => true,
                Ok(None) => return None,
                Err(e) => {
                    tracing::warn!(error = %e, agent.id = agent_id, "agent events: the subscription failed");
                    return None;
                }
            };
            if !relevant {
                continue;
            }
            match current_offer(&follow.state, agent_id).await {
                Ok(current) => {
                    follow.offered = current.as_ref().map(|v| v.callback.id).or(follow.offered);
                    return Some((current, follow));
                }
                Err(e) => {
                    tracing::warn!(error = %e, agent.id = agent_id, "agent events: reading the offer failed");
                    return None;
                }
            }
        }
    }))
}
