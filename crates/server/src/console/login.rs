//! Signing in and out of the console with plain HTML forms. The rules (throttle, lockout, one
//! answer for every refusal, the cookie) are `service::sessions`', exactly as for
//! `POST /api/v1/session`; only the answers are pages and redirects instead of JSON.
//!
//! Signing out is a change made with the cookie, so it carries the session's CSRF token, here as
//! the form's hidden `csrf_token` field (a form cannot set the API's `X-CSRF-Token` header).

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use rebound_domain::access::Role;
use rebound_domain::model::AgentId;

use crate::AppState;
use crate::auth::client_ip;
use crate::dto_access::LoginRequest;
use crate::error::ApiError;
use crate::service::sessions;

use super::forms::{Form, posted, read_body};
use super::layout::{document, error_page, html_response};
use super::session::current;

/// Where a signed-in user lands: the callbacks list.
pub const HOME: &str = "/callbacks";
/// Where a user who acts as an agent lands: their own offer and callbacks.
pub const AGENT_HOME: &str = "/agent";

/// The landing page for a user of `role` bound to `agent_id`.
fn home_for(role: Role, agent_id: Option<AgentId>) -> &'static str {
    if role == Role::Agent && agent_id.is_some() { AGENT_HOME } else { HOME }
}

/// `GET /`: the callbacks when signed in, else the sign-in page.
pub async fn home(State(state): State<AppState>, request: Request) -> Response {
    let (parts, _) = request.into_parts();
    match current(&state, &parts).await {
        Ok(Some(user)) => Redirect::to(home_for(user.principal.role, user.principal.agent_id)).into_response(),
        Ok(None) => Redirect::to("/login").into_response(),
        Err(e) => error_page(&e),
    }
}

fn login_form(username: &str, error: Option<&str>) -> Markup {
    let body = html! {
        main.narrow {
            h1 { "Sign in to Rebound" }
            @if let Some(message) = error {
                p #login-error role="alert" { (message) }
            }
            form #login method="post" action="/login" {
                label for="username" { "Username" }
                input #username name="username" type="text" autocomplete="username" required autofocus value=(username);
                label for="password" { "Password" }
                input #password name="password" type="password" autocomplete="current-password" required;
                button #sign-in type="submit" { "Sign in" }
            }
        }
    };
    document("Sign in", None, body)
}

/// `GET /login`: the form (a signed-in user goes straight to the callbacks).
pub async fn login_page(State(state): State<AppState>, request: Request) -> Response {
    let (parts, _) = request.into_parts();
    match current(&state, &parts).await {
        Ok(Some(user)) => Redirect::to(home_for(user.principal.role, user.principal.agent_id)).into_response(),
        Ok(None) => html_response(StatusCode::OK, login_form("", None)),
        Err(e) => error_page(&e),
    }
}

/// `POST /login` (form-urlencoded `username`, `password`): 303 to the callbacks with the session
/// cookie, or the form again with the refusal (401, or 429 with `Retry-After` when throttled).
pub async fn sign_in(State(state): State<AppState>, request: Request) -> Response {
    let (parts, body) = match read_body(request).await {
        Ok(read) => read,
        Err(response) => return response,
    };
    // Not `Form::get`: a password is taken exactly as typed, spaces and all.
    let field = |name: &str| {
        Form::parse(&body).pairs().iter().find(|(key, _)| key == name).map(|(_, v)| v.clone()).unwrap_or_default()
    };
    let username = field("username");
    let input = LoginRequest { username: username.clone(), password: field("password") };
    match sessions::sign_in(&state, client_ip(&parts.extensions), input).await {
        Ok(signed_in) => {
            let home = home_for(signed_in.view.role, signed_in.view.agent_id);
            let mut response = Redirect::to(home).into_response();
            match HeaderValue::from_str(&signed_in.set_cookie) {
                Ok(cookie) => {
                    response.headers_mut().insert(header::SET_COOKIE, cookie);
                    response
                }
                Err(e) => error_page(&ApiError::Internal(format!("session cookie: {e}"))),
            }
        }
        Err(ApiError::Unauthorized { .. }) => {
            html_response(StatusCode::UNAUTHORIZED, login_form(&username, Some(sessions::SIGN_IN_REFUSED)))
        }
        Err(ApiError::TooManyRequests { message, retry_after_secs }) => {
            let mut response = html_response(StatusCode::TOO_MANY_REQUESTS, login_form(&username, Some(&message)));
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
            response
        }
        Err(e) => error_page(&e),
    }
}

/// `POST /logout` (form field `csrf_token`): ends the session, clears the cookie, 303 to `/login`;
/// 403 when the token is missing or wrong. Without a session there is nothing to end.
pub async fn sign_out(State(state): State<AppState>, request: Request) -> Response {
    let signed_in = match posted(&state, request).await {
        Ok(posted) => posted.user,
        Err(redirect_or_refusal) => return redirect_or_refusal,
    };
    if let Err(e) = sessions::sign_out(&state, Some(&signed_in.session)).await {
        return error_page(&e);
    }
    let mut response = Redirect::to("/login").into_response();
    let cookie = sessions::session_cookie(None, state.settings.secure_cookies);
    match HeaderValue::from_str(&cookie) {
        Ok(cookie) => {
            response.headers_mut().insert(header::SET_COOKIE, cookie);
            response
        }
        Err(e) => error_page(&ApiError::Internal(format!("session cookie: {e}"))),
    }
}
