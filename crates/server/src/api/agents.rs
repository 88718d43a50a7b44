//! Handlers for the agent protocol: presence, the current offer (and its SSE stream), accept,
//! reject, outcome, and an agent's own callback list. All need `AgentActions`; the rules are in
//! `service::agents`.

use std::convert::Infallible;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::sse::{Event, Sse};
use axum::response::{IntoResponse, Response};
use futures::{Stream, StreamExt};
use rebound_domain::access::Permission;
use rebound_domain::model::{Agent, AgentId, CallbackId};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::api::live::{json_event, with_keep_alive};
use crate::auth::Caller;
use crate::dto::*;
use crate::error::{ApiResult, ErrorBody};
use crate::extract::{Body, Json, Params, Path};
use crate::service::agents as service;

#[utoipa::path(put, path = "/agents/{id}/presence", tag = "agents", request_body = PresenceRequest,
    params(("id" = i64, Path, description = "Agent id")),
    responses(
        (status = 200, description = "The agent with its new presence (`ready_since` set when it became ready)", body = Agent),
        (status = 400, description = "Unreadable request or unknown presence", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Role may not act as an agent", body = ErrorBody),
        (status = 404, description = "No such agent", body = ErrorBody),
        (status = 422, description = "`busy` is set by Rebound, not by clients", body = ErrorBody),
    ))]
pub async fn put_presence(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<AgentId>,
    body: Body<PresenceRequest>,
) -> ApiResult<Json<Agent>> {
    let principal = caller.require(Permission::AgentActions)?;
    Ok(Json(service::set_presence(&state, principal, id, body.value()?).await?))
}

#[utoipa::path(get, path = "/agents/{id}/offer", tag = "agents",
    params(("id" = i64, Path, description = "Agent id")),
    responses(
        (status = 200, description = "The callback offered to the agent (ROUTING, with hold_until) or being handled (PROCESSING)", body = CallbackView),
        (status = 204, description = "Nothing is offered to the agent"),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Role may not act as an agent", body = ErrorBody),
        (status = 404, description = "No such agent", body = ErrorBody),
    ))]
pub async fn get_offer(State(state): State<AppState>, caller: Caller, Path(id): Path<AgentId>) -> ApiResult<Response> {
    let principal = caller.require(Permission::AgentActions)?;
    Ok(match service::offer(&state, principal, id).await? {
        Some(offered) => Json(offered).into_response(),
        None => StatusCode::NO_CONTENT.into_response(),
    })
}

#[utoipa::path(get, path = "/agents/{id}/events", tag = "agents",
    params(("id" = i64, Path, description = "Agent id")),
    responses(
        (status = 200, description = "Server-sent events: `event: offer` with the current offer (a callback, or `null`) \
            on connect and whenever something concerning the agent happens (offered, withdrawn, expired, accepted, \
            completed); `: keep-alive` comments every 15 s", content_type = "text/event-stream", body = String),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Role may not act as an agent", body = ErrorBody),
        (status = 404, description = "No such agent", body = ErrorBody),
    ))]
pub async fn agent_events(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<AgentId>,
) -> ApiResult<Sse<impl Stream<Item = Result<Event, Infallible>>>> {
    let principal = caller.require(Permission::AgentActions)?;
    let offers = service::offer_updates(&state, principal, id).await?;
    Ok(with_keep_alive(offers.map(|offer| Ok(json_event(Event::default().event("offer"), &offer)))))
}

#[utoipa::path(post, path = "/callbacks/{id}/accept", tag = "agents",
    request_body(content = Option<OfferAnswer>, description = "Optional: the answering agent"),
    params(("id" = String, Path, description = "Callback id (UUIDv7)")),
    responses(
        (status = 200, description = "PROCESSING; the agent is busy", body = CallbackView),
        (status = 400, description = "Unreadable request", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Role may not act as an agent", body = ErrorBody),
        (status = 404, description = "No such callback", body = ErrorBody),
        (status = 409, description = "not_offered (not offered to this agent), illegal_transition (details.state)", body = ErrorBody),
    ))]
pub async fn accept_callback(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<CallbackId>,
    body: Body<OfferAnswer>,
) -> ApiResult<Json<CallbackView>> {
    let principal = caller.require(Permission::AgentActions)?;
    Ok(Json(service::accept(&state, principal, id, body.value_or_default()?).await?))
}

#[utoipa::path(post, path = "/callbacks/{id}/reject", tag = "agents",
    request_body(content = Option<OfferAnswer>, description = "Optional: the answering agent"),
    params(("id" = String, Path, description = "Callback id (UUIDv7)")),
    responses(
        (status = 200, description = "Back to QUEUED (not an attempt); the agent stays ready at the back of the line", body = CallbackView),
        (status = 400, description = "Unreadable request", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Role may not act as an agent", body = ErrorBody),
        (status = 404, description = "No such callback", body = ErrorBody),
        (status = 409, description = "not_offered (not offered to this agent), illegal_transition (details.state)", body = ErrorBody),
    ))]
pub async fn reject_callback(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<CallbackId>,
    body: Body<OfferAnswer>,
) -> ApiResult<Json<CallbackView>> {
    let principal = caller.require(Permission::AgentActions)?;
    Ok(Json(service::reject(&state, principal, id, body.value_or_default()?).await?))
}

#[utoipa::path(post, path = "/callbacks/{id}/outcome", tag = "agents", request_body = OutcomeRequest,
    params(("id" = String, Path, description = "Callback id (UUIDv7)")),
    responses(
        (status = 200, description = "connected → COMPLETED(AGENT); invalid_number → COMPLETED(INVALID_NUMBER); \
            otherwise SCHEDULED again after the campaign's delay for the outcome (attempts + 1), or \
            COMPLETED(MAX_ATTEMPTS). With an Add-to-Queue wrap code, `wrap_callback` is the callback it created \
            (or `wrap_error` says why it could not be)", body = OutcomeView),
        (status = 400, description = "Unreadable request or unknown outcome", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Role may not act as an agent", body = ErrorBody),
        (status = 404, description = "No such callback", body = ErrorBody),
        (status = 409, description = "not_offered (the agent or lease does not hold it), illegal_transition (details.state), no_queue", body = ErrorBody),
        (status = 422, description = "Notes too long, agent_id and lease_id both given, or the wrap code's callback fails the create rules", body = ErrorBody),
    ))]
pub async fn report_outcome(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<CallbackId>,
    body: Body<OutcomeRequest>,
) -> ApiResult<Json<OutcomeView>> {
    let principal = caller.require(Permission::AgentActions)?;
    Ok(Json(service::outcome(&state, principal, id, body.value()?).await?))
}

#[utoipa::path(get, path = "/agents/{id}/callbacks", tag = "agents", params(("id" = i64, Path, description = "Agent id"), CallbackListParams),
    responses(
        (status = 200, description = "One page of the agent's callbacks (the filters of GET /callbacks; agent_id is the agent)", body = Paged<CallbackView>),
        (status = 400, description = "Unreadable query or unknown parameter (agent_id included)", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Role may not act as an agent, or the agent may not open the list (can_view_callback_list)", body = ErrorBody),
        (status = 404, description = "No such agent", body = ErrorBody),
        (status = 422, description = "Invalid filter value", body = ErrorBody),
    ))]
pub async fn agent_callbacks(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<AgentId>,
    params: Params,
) -> ApiResult<Json<Paged<CallbackView>>> {
    let principal = caller.require(Permission::AgentActions)?;
    Ok(Json(service::agent_callbacks(&state, principal, id, &params).await?))
}

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(put_presence))
        .routes(routes!(get_offer))
        .routes(routes!(agent_events))
        .routes(routes!(agent_callbacks))
        .routes(routes!(accept_callback))
        .routes(routes!(reject_callback))
        .routes(routes!(report_outcome))
}
