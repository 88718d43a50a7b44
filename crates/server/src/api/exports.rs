//! Handlers for the CSV files: the callback export (`GET /callbacks.csv`, streamed) and the
//! Cancellation Summary Report of a bulk cancel. Both answer `text/csv` as an attachment; the rows
//! are made in `service::export`.

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::Response;
use futures::Stream;
use rebound_domain::access::Permission;

use crate::AppState;
use crate::auth::Caller;
use crate::dto::ExportParams;
use crate::error::{ApiResult, ErrorBody};
use crate::extract::{Params, Path};
use crate::service::export as service;

/// A streamed CSV attachment named `filename`.
fn csv_attachment<S>(filename: &str, chunks: S) -> Response
where
    S: Stream<Item = Result<Bytes, service::ExportError>> + Send + 'static,
{
    let mut response = Response::new(Body::from_stream(chunks));
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8"));
    // The name is ours (a UUID or a fixed word), so it needs no escaping.
    if let Ok(value) = HeaderValue::from_str(&format!("attachment; filename=\"{filename}\"")) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    response
}

#[utoipa::path(get, path = "/callbacks.csv", tag = "callbacks", params(ExportParams),
    responses(
        (status = 200, description = "Every matching callback as CSV (header row; id, type, origin, state, result, phone, \
            campaign, list, queue, agent, lead_id, wrap_code, desired_time (UTC), desired_time_local (campaign timezone), \
            earliest_time, attempts, priority, notes, created_by, created_at), streamed", content_type = "text/csv", body = String),
        (status = 400, description = "Unreadable query or unknown parameter", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Role may not export", body = ErrorBody),
        (status = 422, description = "Invalid filter value, or a sort other than desired_time", body = ErrorBody),
    ))]
pub async fn export_callbacks(State(state): State<AppState>, caller: Caller, params: Params) -> ApiResult<Response> {
    let principal = caller.require(Permission::Export)?;
    let chunks = service::export(&state, principal, &params).await?;
    Ok(csv_attachment("callbacks.csv", chunks))
}

#[utoipa::path(get, path = "/reports/cancellations/{report}", tag = "callbacks",
    params(("report" = String, Path, description = "`{report_id}.csv`, the report_id a bulk cancel answered")),
    responses(
        (status = 200, description = "The Cancellation Summary Report: id, phone, campaign, queue, desired_time (UTC), \
            state_before, outcome (cancelled|skipped), reason, by, at", content_type = "text/csv", body = String),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Role may not bulk cancel", body = ErrorBody),
        (status = 404, description = "No such report (or it expired with its callbacks)", body = ErrorBody),
    ))]
pub async fn cancellation_report(
    State(state): State<AppState>,
    caller: Caller,
    Path(report): Path<String>,
) -> ApiResult<Response> {
    let principal = caller.require(Permission::BulkCancel)?;
    let found = service::cancellation_report(&state, principal, &report).await?;
    let filename = format!("cancellations-{}.csv", found.report_id);
    Ok(csv_attachment(&filename, service::report_csv(found)))
}
