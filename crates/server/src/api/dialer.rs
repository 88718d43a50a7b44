//! Handlers for customer-first diallers: claim due callbacks on a lease, report outcomes in
//! batches. Both need `AgentActions`; the rules are in `service::agents`.

use axum::extract::State;
use rebound_domain::access::Permission;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::auth::Caller;
use crate::dto::*;
use crate::error::{ApiResult, ErrorBody};
use crate::extract::{Body, Json};
use crate::service::agents as service;

#[utoipa::path(post, path = "/dialer/claim", tag = "diallers", request_body = ClaimBody,
    responses(
        (status = 200, description = "Up to `max` due queue callbacks of the campaign, in dispatch order, each now ROUTING \
            with the same `lease_id` and `hold_until`; an empty list when none is due. A callback is never leased twice; \
            one not reported before `hold_until` returns to QUEUED", body = Items<CallbackView>),
        (status = 400, description = "Unreadable request", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Role may not act as a dialler", body = ErrorBody),
        (status = 422, description = "max or lease_secs out of range, unknown or inbound campaign", body = ErrorBody),
    ))]
pub async fn claim(
    State(state): State<AppState>,
    caller: Caller,
    body: Body<ClaimBody>,
) -> ApiResult<Json<Items<CallbackView>>> {
    let principal = caller.require(Permission::AgentActions)?;
    Ok(Json(service::claim(&state, principal, body.value()?).await?))
}

#[utoipa::path(post, path = "/dialer/outcomes", tag = "diallers", request_body = DialerOutcomes,
    responses(
        (status = 200, description = "One result per item, in order: `ok` with the updated `callback`, or `error` \
            (e.g. not_offered when the lease no longer holds it). Outcomes as for POST /callbacks/{id}/outcome", body = Items<DialerOutcomeResult>),
        (status = 400, description = "Unreadable request or an unknown outcome", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Role may not act as a dialler", body = ErrorBody),
        (status = 422, description = "More than 1,000 items", body = ErrorBody),
    ))]
pub async fn outcomes(
    State(state): State<AppState>,
    caller: Caller,
    body: Body<DialerOutcomes>,
) -> ApiResult<Json<Items<DialerOutcomeResult>>> {
    let principal = caller.require(Permission::AgentActions)?;
    Ok(Json(service::dialer_outcomes(&state, principal, body.value()?).await?))
}

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(claim)).routes(routes!(outcomes))
}
