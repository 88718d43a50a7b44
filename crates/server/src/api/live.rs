//! The live surfaces: `GET /events` (server-sent events: every callback event as it is committed)
//! and `GET /metrics` (Prometheus text), plus the SSE helpers the agent stream shares.
//!
//! `/metrics` needs no token, like the health probes: it carries counts and timings only, never
//! personal data, and scrapers rarely hold API tokens. Put it behind the network's own access
//! rules if the counts themselves are sensitive.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::{Stream, StreamExt};
use rebound_domain::access::Permission;
use rebound_domain::model::CallbackId;
use serde::Serialize;
use serde_json::json;

use crate::AppState;
use crate::auth::Caller;
use crate::dto::EventStreamParams;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::Params;
use crate::service::live::{self, LiveItem};

/// How often an idle SSE stream sends a comment, so proxies keep the connection open.
pub const KEEP_ALIVE_EVERY: Duration = Duration::from_secs(15);

/// The content type of `/metrics` (the Prometheus text exposition format).
pub const METRICS_CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// A stream that starts with one ready-made event.
type Opened<S> = futures::stream::Chain<futures::stream::Once<futures::future::Ready<Result<Event, Infallible>>>, S>;

/// An SSE response that opens with a `: connected` comment (a client knows at once that it is
/// subscribed, before any event or keep-alive) and sends keep-alive comments.
pub fn with_keep_alive<S>(events: S) -> Sse<axum::response::sse::KeepAliveStream<Opened<S>>>
where
    S: Stream<Item = Result<Event, Infallible>> + Send + 'static,
{
    let opened = futures::stream::once(futures::future::ready(Ok(Event::default().comment("connected"))));
    Sse::new(opened.chain(events)).keep_alive(KeepAlive::new().interval(KEEP_ALIVE_EVERY).text("keep-alive"))
}

/// `event` with `value` as its JSON data.
pub fn json_event<T: Serialize>(event: Event, value: &T) -> Event {
    match serde_json::to_string(value) {
        Ok(data) => event.data(data),
        // Our own types always serialise; say so in the stream rather than dropping the event.
        Err(e) => Event::default().comment(format!("an event could not be serialised: {e}")),
    }
}

/// Where a stream starts: `Last-Event-ID` (a reconnecting browser) wins over `?after=`.
fn start_after(headers: &HeaderMap, params: &Params) -> ApiResult<Option<i64>> {
    if let Some(value) = headers.get("last-event-id") {
        let id = value.to_str().ok().and_then(|v| v.trim().parse::<i64>().ok()).ok_or_else(|| {
            ApiError::bad_request("invalid_request", "Last-Event-ID must be an event id (a whole number)")
        })?;
        return Ok(Some(id));
    }
    params.number::<i64>("after")
}

#[utoipa::path(get, path = "/events", tag = "callbacks", params(EventStreamParams,
        ("Last-Event-ID" = Option<i64>, Header, description = "Replay the events after this id first (set by a reconnecting EventSource)")),
    responses(
        (status = 200, description = "Server-sent events. Each callback event (the audit history entries: created, \
            promoted, offered, accepted, cancelled, …) as `id: <event id>`, `event: callback`, `data: <event JSON>`; \
            `event: resync` (`data: {\"missed\": n}`) when this client fell behind and events were skipped (read them \
            with ?after=); `: keep-alive` comments every 15 s", content_type = "text/event-stream", body = String),
        (status = 400, description = "Unreadable query or Last-Event-ID", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Role may not read callbacks", body = ErrorBody),
    ))]
pub async fn events(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    params: Params,
) -> ApiResult<Sse<impl Stream<Item = Result<Event, Infallible>>>> {
    let principal = caller.require(Permission::ReadCallbacks)?.clone();
    params.only(&["after", "callback_id"])?;
    let after = start_after(&headers, &params)?;
    let only: Vec<CallbackId> = params
        .many("callback_id")
        .into_iter()
        .map(|id| {
            CallbackId::parse(id)
                .ok_or_else(|| ApiError::invalid_field("callback_id", format!("'{id}' is not a callback id")))
        })
        .collect::<ApiResult<_>>()?;
    let subscription = state.live.subscribe(after).await?;
    let stream = live::filtered(subscription, move |event| only.is_empty() || only.contains(&event.callback_id));
    let stream = live::within_scope(state.store.clone(), principal, stream);
    Ok(with_keep_alive(stream.map(|item| {
        Ok(match item {
            LiveItem::Event(event) => json_event(Event::default().id(event.id.to_string()).event("callback"), &*event),
            LiveItem::Resync { missed } => json_event(Event::default().event("resync"), &json!({"missed": missed})),
        })
    })))
}

#[utoipa::path(get, path = "/metrics", tag = "operations", security(()),
    responses(
        (status = 200, description = "Prometheus text: callbacks by state (`rebound_callbacks{state=…}`), overdue, due in \
            the next 15 minutes, ready agents, the dispatch-lag histogram, promotions, offers, leases, releases and \
            outcomes. No token needed: no personal data", content_type = "application/openmetrics-text", body = String),
    ))]
pub async fn metrics(State(state): State<AppState>) -> ApiResult<Response> {
    let text = state.engine.metrics_text().await?;
    let mut response = text.into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(METRICS_CONTENT_TYPE));
    Ok(response)
}
