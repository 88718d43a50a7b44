//! Handlers for changing callbacks: edit (`PATCH`), reschedule, cancel, delete, recreate and bulk
//! cancel. Each checks the caller's permission first (403 before 400), reads the body, calls
//! `service::operations` / `service::bulk` and answers: 200 with the updated callback, 201 with a
//! recreated one, 204 for a delete.

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use rebound_domain::access::Permission;
use rebound_domain::model::CallbackId;

use crate::AppState;
use crate::api::callbacks::{REPLAYED_HEADER, idempotency};
use crate::auth::Caller;
use crate::dto::*;
use crate::error::{ApiResult, ErrorBody};
use crate::extract::{Body, Json, Path};
use crate::service::{bulk, operations as service};

#[utoipa::path(patch, path = "/callbacks/{id}", tag = "callbacks", request_body = CallbackPatch,
    params(("id" = String, Path, description = "Callback id (UUIDv7)")),
    responses(
        (status = 200, description = "The updated callback (recorded as `edited`, `transferred` or `moved`)", body = CallbackView),
        (status = 400, description = "Unreadable request or unknown field", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Role may not edit callbacks", body = ErrorBody),
        (status = 404, description = "No such callback", body = ErrorBody),
        (status = 409, description = "illegal_transition (only notes change outside SCHEDULED/QUEUED; COMPLETED never), \
            incompatible_fields (details.missing, details.extra), slot_full (details.proposed_slots), duplicate_callback, conflict", body = ErrorBody),
        (status = 422, description = "agent_not_in_campaign, queue_not_in_campaign, campaign_not_outbound, unknown_reference, validation_failed", body = ErrorBody),
    ))]
pub async fn edit_callback(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<CallbackId>,
    body: Body<CallbackPatch>,
) -> ApiResult<Json<CallbackView>> {
    let principal = caller.require(Permission::WriteCallbacks)?;
    Ok(Json(service::edit(&state, principal, id, body.value()?).await?))
}

#[utoipa::path(delete, path = "/callbacks/{id}", tag = "callbacks",
    params(("id" = String, Path, description = "Callback id (UUIDv7)")),
    responses(
        (status = 204, description = "Deleted; GET /callbacks/{id}/events still shows its history with a `deleted` tombstone"),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Only administrators delete callbacks", body = ErrorBody),
        (status = 404, description = "No such callback", body = ErrorBody),
    ))]
pub async fn delete_callback(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<CallbackId>,
) -> ApiResult<StatusCode> {
    let principal = caller.require(Permission::DeleteCallbacks)?;
    service::delete(&state, principal, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/callbacks/{id}/reschedule", tag = "callbacks", request_body = RescheduleRequest,
    params(("id" = String, Path, description = "Callback id (UUIDv7)")),
    responses(
        (status = 200, description = "The rescheduled callback, earliest time and slot recomputed", body = CallbackView),
        (status = 400, description = "Unreadable request", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Role may not reschedule callbacks", body = ErrorBody),
        (status = 404, description = "No such callback", body = ErrorBody),
        (status = 409, description = "illegal_transition (not SCHEDULED), slot_full (details.proposed_slots), conflict", body = ErrorBody),
        (status = 422, description = "time_in_past, beyond_horizon, invalid_time, invalid_timezone, nonexistent_local_time, ambiguous_local_time, validation_failed", body = ErrorBody),
    ))]
pub async fn reschedule_callback(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<CallbackId>,
    body: Body<RescheduleRequest>,
) -> ApiResult<Json<CallbackView>> {
    let principal = caller.require(Permission::WriteCallbacks)?;
    Ok(Json(service::reschedule(&state, principal, id, body.value()?).await?))
}

#[utoipa::path(post, path = "/callbacks/{id}/cancel", tag = "callbacks", request_body(content = Option<CancelRequest>,
        description = "Optional"),
    params(("id" = String, Path, description = "Callback id (UUIDv7)")),
    responses(
        (status = 200, description = "COMPLETED with CANCELLED_BY_ADMIN (or CANCELLED_BY_CUSTOMER)", body = CallbackView),
        (status = 400, description = "Unreadable request", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Role may not cancel callbacks", body = ErrorBody),
        (status = 404, description = "No such callback", body = ErrorBody),
        (status = 409, description = "illegal_transition: PROCESSING or COMPLETED (details.state)", body = ErrorBody),
        (status = 422, description = "Reason too long", body = ErrorBody),
    ))]
pub async fn cancel_callback(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<CallbackId>,
    body: Body<CancelRequest>,
) -> ApiResult<Json<CallbackView>> {
    let principal = caller.require(Permission::WriteCallbacks)?;
    Ok(Json(service::cancel(&state, principal, id, body.value_or_default()?).await?))
}

#[utoipa::path(post, path = "/callbacks/{id}/recreate", tag = "callbacks", request_body(content = Option<RecreateRequest>,
        description = "Optional; without desired_time the new callback is immediate"),
    params(("id" = String, Path, description = "Id of the COMPLETED callback to recreate"),
        ("Idempotency-Key" = Option<String>, Header,
        description = "A retried request with the same key and body answers the first result")),
    responses(
        (status = 201, description = "The new SCHEDULED callback (origin `recreated`, `recreated_from` set; the original's `recreated_as` names it)", body = CallbackView),
        (status = 400, description = "Unreadable request", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Role may not recreate callbacks", body = ErrorBody),
        (status = 404, description = "No such callback", body = ErrorBody),
        (status = 409, description = "illegal_transition (not COMPLETED), already_recreated (details.recreated_as), duplicate_callback, slot_full (details.proposed_slots), idempotency_key_reused", body = ErrorBody),
        (status = 422, description = "Invalid time or timezone, or the original's references no longer pass the create rules", body = ErrorBody),
    ))]
pub async fn recreate_callback(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Path(id): Path<CallbackId>,
    body: Body<RecreateRequest>,
) -> ApiResult<Response> {
    let principal = caller.require(Permission::WriteCallbacks)?;
    // The original's id is part of what the key fingerprints: one key, one recreated callback.
    let fingerprinted = [body.raw.as_ref(), b"\x1frecreate\x1f", id.to_string().as_bytes()].concat();
    let key = idempotency(&headers, principal, &fingerprinted)?;
    let (callback, replayed) = service::recreate(&state, principal, id, body.value_or_default()?, key).await?;
    let mut response = (StatusCode::CREATED, Json(callback)).into_response();
    if replayed {
        response.headers_mut().insert(REPLAYED_HEADER, HeaderValue::from_static("true"));
    }
    Ok(response)
}

#[utoipa::path(post, path = "/callbacks/bulk-cancel", tag = "callbacks", request_body = BulkCancelBody,
    responses(
        (status = 200, description = "How many were cancelled and which were skipped; the report is at /reports/cancellations/{report_id}.csv", body = BulkCancelResult),
        (status = 400, description = "Unreadable request or unknown filter", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Role may not bulk cancel", body = ErrorBody),
        (status = 422, description = "Neither or both of ids and all_in_range, a bad id, a range without from and to, an invalid filter", body = ErrorBody),
    ))]
pub async fn bulk_cancel(
    State(state): State<AppState>,
    caller: Caller,
    body: Body<BulkCancelBody>,
) -> ApiResult<Json<BulkCancelResult>> {
    let principal = caller.require(Permission::BulkCancel)?;
    Ok(Json(bulk::bulk_cancel(&state, principal, body.value()?).await?))
}
