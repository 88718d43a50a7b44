//! Handlers for generated callbacks: an inbound caller's auto-callback request and an agent's
//! wrap. The rules are in `service::intake`.

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use rebound_domain::access::Permission;
use rebound_domain::model::CampaignId;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::api::callbacks::{REPLAYED_HEADER, idempotency};
use crate::auth::Caller;
use crate::dto::*;
use crate::error::{ApiResult, ErrorBody};
use crate::extract::{Body, Json, Path};
use crate::service::intake as service;

/// 201 with `body`, marked when it replays an earlier `Idempotency-Key` result.
fn created<T: serde::Serialize>(body: T, replayed: bool) -> Response {
    let mut response = (StatusCode::CREATED, Json(body)).into_response();
    if replayed {
        response.headers_mut().insert(REPLAYED_HEADER, HeaderValue::from_static("true"));
    }
    response
}

#[utoipa::path(post, path = "/campaigns/{id}/auto-callbacks", tag = "callbacks", request_body = AutoCallbackRequest,
    params(("id" = i64, Path, description = "The inbound campaign the caller called"),
        ("Idempotency-Key" = Option<String>, Header,
        description = "A retried request with the same key and body answers the first result")),
    responses(
        (status = 201, description = "The immediate queue callback (origin `auto_callback`) in the running outbound campaign \
            that dials the inbound campaign's auto-callback list (its first queue that is not paused); the caller is that \
            list's lead with this number, added if new", body = CallbackView),
        (status = 400, description = "Unreadable request", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Role may not create callbacks", body = ErrorBody),
        (status = 404, description = "No such campaign", body = ErrorBody),
        (status = 409, description = "no_outbound_campaign (no running outbound campaign dials the list), no_queue, \
            duplicate_callback (details.existing_id), idempotency_key_reused", body = ErrorBody),
        (status = 422, description = "campaign_not_inbound, no_auto_callback_list, invalid_phone, premium_rate_number", body = ErrorBody),
    ))]
pub async fn auto_callback(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Path(id): Path<CampaignId>,
    body: Body<AutoCallbackRequest>,
) -> ApiResult<Response> {
    // An IVR uses a supervisor-role token for now (roles for integrations arrive with users).
    let principal = caller.require(Permission::WriteCallbacks)?;
    let fingerprinted = [body.raw.as_ref(), b"\x1fauto-callback\x1f", id.to_string().as_bytes()].concat();
    let key = idempotency(&headers, principal, &fingerprinted)?;
    let (callback, replayed) = service::auto_callback(&state, principal, id, body.value()?, key).await?;
    Ok(created(callback, replayed))
}

#[utoipa::path(post, path = "/wraps", tag = "agents", request_body = WrapRequest,
    params(("Idempotency-Key" = Option<String>, Header,
        description = "A retried request with the same key and body answers the first result")),
    responses(
        (status = 201, description = "The wrap code is an Add-to-Queue code: `callback` is the callback it created \
            (origin `wrap_code`, `wrap_code` set; desired at callback_time, else now plus the code's delay)", body = WrapResult),
        (status = 200, description = "The wrap code creates nothing: `{\"callback\": null}`", body = WrapResult),
        (status = 400, description = "Unreadable request", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Role may not act as an agent", body = ErrorBody),
        (status = 404, description = "The campaign has no such wrap code", body = ErrorBody),
        (status = 409, description = "duplicate_callback, slot_full (details.proposed_slots), no_queue, idempotency_key_reused", body = ErrorBody),
        (status = 422, description = "Unknown agent, invalid phone or callback_time, or the callback fails the create rules", body = ErrorBody),
    ))]
pub async fn wrap(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: Body<WrapRequest>,
) -> ApiResult<Response> {
    let principal = caller.require(Permission::AgentActions)?;
    let fingerprinted = [body.raw.as_ref(), b"\x1fwrap"].concat();
    let key = idempotency(&headers, principal, &fingerprinted)?;
    Ok(match service::wrap(&state, principal, body.value()?, key).await? {
        Some((callback, replayed)) => created(WrapResult { callback: Some(callback) }, replayed),
        None => Json(WrapResult { callback: None }).into_response(),
    })
}

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(auto_callback)).routes(routes!(wrap))
}
