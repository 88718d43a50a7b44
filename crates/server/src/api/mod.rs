//! The HTTP surface: route assembly, the OpenAPI document, health probes and the fallbacks that
//! keep every answer — unknown routes, wrong methods, panics — in the contract's error shape.
//!
//! Every API route is registered through `utoipa_axum::routes!`, so the OpenAPI document served at
//! `/api/openapi.json` is generated from the same handlers the router runs: a route cannot exist
//! undocumented.

pub mod access;
pub mod agents;
pub mod callbacks;
pub mod config;
pub mod dialer;
pub mod exports;
pub mod intake;
pub mod live;
pub mod operations;
pub mod session;
pub mod users;

use std::any::Any;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::trace::TraceLayer;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use utoipa_swagger_ui::SwaggerUi;

use crate::AppState;
use crate::auth;
use crate::dto::Health;
use crate::error::{ApiError, ErrorBody, ErrorObject};
use crate::extract::Json;
use crate::hardening;

/// Where the API lives.
pub const API_BASE: &str = "/api/v1";
pub const OPENAPI_PATH: &str = "/api/openapi.json";
pub const DOCS_PATH: &str = "/api/docs";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Rebound",
        description = "Callback management server for contact centres. Errors always answer \
                       `{\"error\": {\"code\", \"message\", \"details\"}}`; instants are RFC 3339, UTC in responses.",
        license(name = "Apache-2.0")
    ),
    modifiers(&BearerAuth),
    components(schemas(ErrorBody, ErrorObject)),
    tags(
        (name = "callbacks", description = "Create, find and follow callbacks"),
        (name = "campaigns", description = "Dialling contexts"),
        (name = "lists", description = "Lead lists and their data fields"),
        (name = "leads", description = "Contacts"),
        (name = "queues", description = "Queues with slot capacity"),
        (name = "agents", description = "People who make callbacks: configuration, presence, offers, outcomes, wraps"),
        (name = "diallers", description = "Customer-first diallers: leases and outcome batches"),
        (name = "wrap-codes", description = "Interaction codes, optionally creating callbacks"),
        (name = "access", description = "Users, console sessions and API tokens"),
        (name = "operations", description = "Health probes and metrics"),
    )
)]
pub struct ApiDoc;

/// Declares the bearer scheme and requires it everywhere (the probes opt out).
struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("rbd_…")
                    .description(Some("An API token: `Authorization: Bearer rbd_…`"))
                    .build(),
            ),
        );
        openapi.security = Some(vec![SecurityRequirement::new("bearer", Vec::<String>::new())]);
    }
}

#[utoipa::path(get, path = "/healthz", tag = "operations", security(()),
    responses((status = 200, description = "The process is alive", body = Health)))]
pub async fn healthz() -> Json<Health> {
    Json(Health { status: "ok".into(), node: None, leading: None, leader: None })
}

#[utoipa::path(get, path = "/readyz", tag = "operations", security(()),
    responses(
        (status = 200, description = "The store is reachable", body = Health),
        (status = 503, description = "The store is not reachable", body = ErrorBody),
    ))]
pub async fn readyz(State(state): State<AppState>) -> Result<Json<Health>, ApiError> {
    match state.store.ping().await {
        Ok(()) => {
            let leadership = state.engine.leader_status();
            Ok(Json(Health {
                status: "ready".into(),
                node: Some(leadership.node),
                leading: Some(leadership.leading),
                leader: leadership.leader,
            }))
        }
        Err(e) => {
            tracing::warn!(error.cause = %e, "readiness check failed");
            Err(ApiError::Unavailable { message: "the store is not reachable".into() })
        }
    }
}

/// The documented routes: `/api/v1/…` (authenticated), the probes and `/metrics` (no token).
pub fn openapi_router(state: &AppState) -> OpenApiRouter<AppState> {
    let v1 = OpenApiRouter::new()
        .merge(config::routes())
        .merge(callbacks::routes(state.settings.max_import_body_bytes))
        .merge(agents::routes())
        .merge(dialer::routes())
        .merge(intake::routes())
        .routes(routes!(live::events))
        .merge(access::routes())
        .merge(users::routes())
        .merge(session::routes())
        .route_layer(middleware::from_fn_with_state(state.clone(), auth::authenticate))
        // Signing in is the one API route that needs no credentials.
        .merge(session::sign_in_routes());
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .nest(API_BASE, v1)
        .routes(routes!(healthz))
        .routes(routes!(readyz))
        .routes(routes!(live::metrics))
}

/// The whole application: API, OpenAPI JSON, Swagger UI, fallbacks and the outer layers.
pub fn app(state: AppState) -> Router {
    let (api, openapi) = openapi_router(&state).split_for_parts();
    let max_body = state.settings.max_body_bytes;
    let docs = hardening::headers::docs_routes(Router::from(SwaggerUi::new(DOCS_PATH).url(OPENAPI_PATH, openapi)));
    let app = api
        .merge(docs)
        .fallback(unknown_route)
        .layer(middleware::map_response(error_body_for_bare_errors))
        // Inside the body limit, which it reads bodies within.
        .layer(hardening::rate::IntakeLimitLayer::new(state.clone()))
        .layer(DefaultBodyLimit::max(max_body))
        .layer(CatchPanicLayer::custom(panic_response));
    // The console has its own body limit and panic catcher; its pages are kept as they are, and its
    // bare refusals (a wrong method) get the contract's body like the API's.
    let app = app.merge(crate::console::router().layer(middleware::map_response(error_body_for_bare_errors)));
    // Outside the panic catcher, so a 500 carries them too.
    hardening::headers::on_every_answer(app)
        .layer(TraceLayer::new_for_http().make_span_with(|request: &Request| {
            // Method and path only: query strings can carry phone numbers, which are never logged.
            tracing::info_span!("http", http.method = %request.method(), http.path = %request.uri().path())
        }))
        .with_state(state)
}

async fn unknown_route() -> ApiError {
    ApiError::NotFound { message: "no such route".into() }
}

/// axum answers a wrong method (405) and a few other refusals with an empty body; give those the
/// contract's error body too (keeping headers such as `Allow`).
async fn error_body_for_bare_errors(response: Response) -> Response {
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    // An answer that already says what went wrong — a JSON error, or a console page (the sign-in
    // form after a refused sign-in) — is kept; a bare one gets the contract's body.
    let described = response.headers().get(header::CONTENT_TYPE).is_some_and(|v| {
        let v = v.as_bytes();
        v.starts_with(b"application/json") || v.starts_with(b"text/html")
    });
    if described {
        return response;
    }
    let error = match status {
        StatusCode::NOT_FOUND => ApiError::NotFound { message: "no such route".into() },
        StatusCode::METHOD_NOT_ALLOWED => ApiError::MethodNotAllowed,
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge { message: "the request body is too large".into() },
        StatusCode::UNAUTHORIZED => ApiError::unauthorized("authentication required"),
        StatusCode::FORBIDDEN => ApiError::forbidden(),
        s if s.is_server_error() => ApiError::Internal(format!("bare {s} response")),
        s => ApiError::bad_request("invalid_request", s.canonical_reason().unwrap_or("the request was refused")),
    };
    let (parts, _) = response.into_parts();
    let mut fixed = error.into_response();
    for name in [header::ALLOW, header::RETRY_AFTER] {
        if let Some(value) = parts.headers.get(&name) {
            fixed.headers_mut().insert(name, value.clone());
        }
    }
    *fixed.status_mut() = status;
    fixed
}

/// A panic is a server fault: logged (by [`ApiError`]) and answered with the generic 500 body.
fn panic_response(panic: Box<dyn Any + Send + 'static>) -> Response {
    let detail = panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "unknown panic".into());
    ApiError::Internal(format!("handler panicked: {detail}")).into_response()
}
