//! Handlers for callbacks: create, bulk import, list, get, history, search, and queue slot
//! availability. Parse, call `service::callbacks`, answer. [`routes`] also mounts the operations
//! (`super::operations`) and the CSV files (`super::exports`).

use axum::extract::DefaultBodyLimit;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use rebound_domain::access::{Permission, Principal};
use rebound_domain::model::{CallbackEvent, CallbackId, QueueId};
use rebound_store::IdempotencyKey;
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouterExt};
use utoipa_axum::routes;

use crate::AppState;
use crate::api::{exports, operations};
use crate::auth::Caller;
use crate::dto::*;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{Body, ImportBody, Json, Params, Path, SizedJson};
use crate::service::callbacks as service;

/// The header a replayed idempotent request is marked with.
pub const REPLAYED_HEADER: &str = "idempotent-replayed";
use crate::hardening::limits::MAX_IDEMPOTENCY_KEY_LEN;

/// Reads the `Idempotency-Key` header (visible ASCII, at most 255 characters).
pub(crate) fn idempotency(headers: &HeaderMap, principal: &Principal, raw: &[u8]) -> ApiResult<Option<IdempotencyKey>> {
    let Some(value) = headers.get("idempotency-key") else { return Ok(None) };
    let key = value
        .to_str()
        .ok()
        .map(str::trim)
        .filter(|k| !k.is_empty() && k.len() <= MAX_IDEMPOTENCY_KEY_LEN && k.bytes().all(|b| b.is_ascii_graphic()))
        .ok_or_else(|| {
            ApiError::bad_request("invalid_request", "Idempotency-Key must be 1–255 visible ASCII characters")
        })?;
    Ok(Some(service::idempotency_key(principal, key, raw)))
}

#[utoipa::path(post, path = "/callbacks", tag = "callbacks", request_body = CallbackCreate,
    params(("Idempotency-Key" = Option<String>, Header,
        description = "A retried request with the same key and body answers the first result")),
    responses(
        (status = 201, description = "Created (or the first result of a replayed Idempotency-Key)", body = CallbackView),
        (status = 400, description = "Unreadable request", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Role may not create callbacks", body = ErrorBody),
        (status = 409, description = "duplicate_callback (details.existing_id), slot_full (details.proposed_slots) or idempotency_key_reused", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 422, description = "Invalid phone, time, timezone or reference", body = ErrorBody),
    ))]
pub async fn create_callback(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: Body<CallbackCreate>,
) -> ApiResult<Response> {
    let principal = caller.require(Permission::WriteCallbacks)?;
    let key = idempotency(&headers, principal, &body.raw)?;
    let (callback, replayed) = service::create(&state, principal, body.value()?, key).await?;
    let mut response = (StatusCode::CREATED, Json(callback)).into_response();
    if replayed {
        response.headers_mut().insert(REPLAYED_HEADER, HeaderValue::from_static("true"));
    }
    Ok(response)
}

#[utoipa::path(post, path = "/callbacks/import", tag = "callbacks", request_body = ImportRequest,
    params(("Idempotency-Key" = Option<String>, Header,
        description = "A retried import with the same key and body answers the first result per item")),
    responses(
        (status = 200, description = "One result per item, in order", body = ImportResult),
        (status = 400, description = "Unreadable request", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Role may not create callbacks", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 422, description = "More than 10,000 items", body = ErrorBody),
    ))]
pub async fn import_callbacks(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    ImportBody(body): ImportBody,
) -> ApiResult<SizedJson<ImportResult>> {
    let principal = caller.require(Permission::WriteCallbacks)?;
    let key = idempotency(&headers, principal, &body.raw)?;
    let result = service::import(&state, principal, body.value()?, key).await?;
    // `{"index":1234,"id":"<36>"},` is ~60 bytes; errors are longer, and rarer.
    let capacity = 64 * result.items.len() + 32;
    Ok(SizedJson { value: result, capacity })
}

#[utoipa::path(get, path = "/callbacks", tag = "callbacks", params(CallbackListParams),
    responses(
        (status = 200, description = "One page", body = Paged<CallbackView>),
        (status = 400, description = "Unreadable query", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Role may not read callbacks", body = ErrorBody),
        (status = 422, description = "Invalid filter value", body = ErrorBody),
    ))]
pub async fn list_callbacks(
    State(state): State<AppState>,
    caller: Caller,
    params: Params,
) -> ApiResult<Json<Paged<CallbackView>>> {
    let principal = caller.require(Permission::ReadCallbacks)?;
    let query = service::ListQuery::parse(&params)?;
    Ok(Json(service::list(&state, principal, query).await?))
}

#[utoipa::path(get, path = "/callbacks/{id}", tag = "callbacks",
    params(("id" = String, Path, description = "Callback id (UUIDv7)")),
    responses(
        (status = 200, description = "The callback", body = CallbackView),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Role may not read callbacks", body = ErrorBody),
        (status = 404, description = "No such callback", body = ErrorBody),
    ))]
pub async fn get_callback(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<CallbackId>,
) -> ApiResult<Json<CallbackView>> {
    let principal = caller.require(Permission::ReadCallbacks)?;
    Ok(Json(service::get(&state, principal, id).await?))
}

#[utoipa::path(get, path = "/callbacks/{id}/events", tag = "callbacks",
    params(("id" = String, Path, description = "Callback id (UUIDv7)")),
    responses(
        (status = 200, description = "The audit history, oldest first", body = Vec<CallbackEvent>),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Role may not read callbacks", body = ErrorBody),
        (status = 404, description = "No such callback", body = ErrorBody),
    ))]
pub async fn callback_events(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<CallbackId>,
) -> ApiResult<Json<Vec<CallbackEvent>>> {
    let principal = caller.require(Permission::ReadCallbacks)?;
    Ok(Json(service::events(&state, principal, id).await?))
}

#[utoipa::path(get, path = "/search", tag = "callbacks", params(SearchParams),
    responses(
        (status = 200, description = "Matching callbacks of all time and states, newest first", body = SearchResults),
        (status = 400, description = "Unreadable query", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Role may not read callbacks", body = ErrorBody),
        (status = 422, description = "No q given", body = ErrorBody),
    ))]
pub async fn search(State(state): State<AppState>, caller: Caller, params: Params) -> ApiResult<Json<SearchResults>> {
    let principal = caller.require(Permission::ReadCallbacks)?;
    Ok(Json(service::search(&state, principal, &params).await?))
}

#[utoipa::path(get, path = "/queues/{id}/availability", tag = "queues",
    params(("id" = i64, Path, description = "Queue id"), AvailabilityParams),
    responses(
        (status = 200, description = "Slots with capacity and bookings", body = Availability),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Role may not read callbacks", body = ErrorBody),
        (status = 404, description = "No such queue", body = ErrorBody),
        (status = 422, description = "Invalid range or timezone", body = ErrorBody),
    ))]
pub async fn queue_availability(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<QueueId>,
    params: Params,
) -> ApiResult<Json<Availability>> {
    let principal = caller.require(Permission::ReadCallbacks)?;
    Ok(Json(service::availability(&state, principal, id, &params).await?))
}

/// Every callback route; the import and bulk-cancel routes accept the larger import body limit.
pub fn routes(max_import_body_bytes: usize) -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_callbacks, create_callback))
        .routes(routes!(import_callbacks).layer(DefaultBodyLimit::max(max_import_body_bytes)))
        .routes(routes!(get_callback, operations::edit_callback, operations::delete_callback))
        .routes(routes!(callback_events))
        .routes(routes!(operations::reschedule_callback))
        .routes(routes!(operations::cancel_callback))
        .routes(routes!(operations::recreate_callback))
        // Up to 100,000 ids (about 4 MB of JSON): the import's limit, not the ordinary one.
        .routes(routes!(operations::bulk_cancel).layer(DefaultBodyLimit::max(max_import_body_bytes)))
        .routes(routes!(exports::export_callbacks))
        .routes(routes!(exports::cancellation_report))
        .routes(routes!(search))
        .routes(routes!(queue_availability))
}
