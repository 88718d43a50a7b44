//! Handlers for console sessions: sign in (`POST /session`, the one `/api/v1` route that needs no
//! credentials), who am I (`GET /session`) and sign out (`DELETE /session`). The rules live in
//! `service::sessions`; the cookie and CSRF checks in `auth`.

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::auth::{Caller, SessionContext, client_ip};
use crate::dto_access::{LoginRequest, SessionView};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{Body, Json};
use crate::service::sessions as service;

/// The response with a `Set-Cookie` header.
fn with_cookie(mut response: Response, cookie: &str) -> ApiResult<Response> {
    let value = HeaderValue::from_str(cookie).map_err(|e| ApiError::Internal(format!("session cookie: {e}")))?;
    response.headers_mut().insert(header::SET_COOKIE, value);
    // Never cache an answer that carries a session or its CSRF token.
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

#[utoipa::path(post, path = "/session", tag = "access", request_body = LoginRequest, security(()),
    responses(
        (status = 200, description = "Signed in: the `rebound_session` cookie is set (HttpOnly, SameSite=Strict; \
            Secure when configured). Send `csrf_token` back as `X-CSRF-Token` on every change made with the cookie. \
            Sessions end after 30 idle minutes or 12 hours", body = SessionView),
        (status = 400, description = "Unreadable request", body = ErrorBody),
        (status = 401, description = "Refused: the same answer for an unknown username, a wrong password, a locked \
            (5 failures: 15 minutes) or disabled account", body = ErrorBody),
        (status = 429, description = "Too many sign-in attempts from this address (Retry-After)", body = ErrorBody),
    ))]
pub async fn sign_in(State(state): State<AppState>, request: Request) -> ApiResult<Response> {
    let client = client_ip(request.extensions());
    let body = <Body<LoginRequest> as axum::extract::FromRequest<AppState>>::from_request(request, &state).await?;
    let signed_in = service::sign_in(&state, client, body.value()?).await?;
    with_cookie(Json(signed_in.view).into_response(), &signed_in.set_cookie)
}

#[utoipa::path(get, path = "/session", tag = "access",
    responses(
        (status = 200, description = "Who the caller is: the signed-in user and the session's CSRF token, or the \
            API token's actor, role and scope", body = SessionView),
        (status = 401, description = "No valid credentials (or the session ended)", body = ErrorBody),
    ))]
pub async fn who_am_i(caller: Caller, session: Option<axum::Extension<SessionContext>>) -> ApiResult<Response> {
    let view = service::who_am_i(&caller.0, session.as_ref().map(|s| &s.0));
    let mut response = Json(view).into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

#[utoipa::path(delete, path = "/session", tag = "access",
    responses(
        (status = 204, description = "Signed out: the session is ended and the cookie cleared (with a bearer \
            token there is nothing to end)"),
        (status = 401, description = "No valid credentials", body = ErrorBody),
        (status = 403, description = "csrf: the X-CSRF-Token header is missing or wrong", body = ErrorBody),
    ))]
pub async fn sign_out(
    State(state): State<AppState>,
    _caller: Caller,
    session: Option<axum::Extension<SessionContext>>,
) -> ApiResult<Response> {
    service::sign_out(&state, session.as_ref().map(|s| &s.0)).await?;
    let cookie = service::session_cookie(None, state.settings.secure_cookies);
    with_cookie(StatusCode::NO_CONTENT.into_response(), &cookie)
}

/// `GET` and `DELETE /session` (behind authentication).
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(who_am_i, sign_out))
}

/// `POST /session`: mounted outside the authentication layer.
pub fn sign_in_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(sign_in))
}
