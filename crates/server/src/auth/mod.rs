//! Authentication for `/api/v1`: who is calling, as a [`Principal`].
//!
//! Two kinds of credentials are accepted by the [`authenticate`] middleware:
//! - **API tokens** (integrations): `Authorization: Bearer rbd_…` ([`tokens`]). The principal is
//!   `token:{id}:{name}` with the token's role and scope.
//! - **Console sessions** (people): the `rebound_session` cookie set by `POST /api/v1/session`
//!   (see `service::sessions`). The principal is `user:{username}` with the user's role, scope and
//!   agent. Because a browser sends cookies on its own, every state-changing request (`POST`,
//!   `PUT`, `PATCH`, `DELETE`) made with the cookie must also carry the session's CSRF token in
//!   `X-CSRF-Token`, else 403 `csrf`. A bearer token is never sent implicitly, so it needs none.
//!
//! When both are present the bearer token wins. The principal goes into the request extensions,
//! where the [`Caller`] extractor finds it; every handler then asks [`Caller::require`] for the
//! permission it needs (the table is `rebound_domain::access`), and the services apply the
//! principal's campaign scope (`service::scope`).

pub mod passwords;
pub mod throttle;
pub mod tokens;

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};

use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use jiff::Timestamp;
use rebound_domain::access::{Permission, Principal};

use crate::AppState;
use crate::error::ApiError;
use crate::service::sessions;

pub use tokens::principal_for_secret;
pub use tokens::{TOKEN_CACHE_TTL, TOKEN_PREFIX, TokenCache, generate_token_secret, hash_token_secret};

/// The console's session cookie.
pub const SESSION_COOKIE: &str = "rebound_session";
/// The header a cookie-authenticated change carries its CSRF token in.
pub const CSRF_HEADER: &str = "x-csrf-token";

const NO_CREDENTIALS: &str =
    "send 'Authorization: Bearer <token>', or sign in with POST /api/v1/session and send its cookie";

/// Per-process access state: the sign-in throttle, token-use recording, session purging.
#[derive(Debug, Default)]
pub struct AccessState {
    pub(crate) throttle: throttle::LoginThrottle,
    pub(crate) token_usage: Arc<tokens::TokenUsage>,
    /// When expired sessions were last removed.
    pub(crate) last_session_purge: Mutex<Option<Timestamp>>,
}

/// The session a request was authenticated with (set by [`authenticate`] for cookie requests), for
/// the `/session` handlers.
#[derive(Debug, Clone)]
pub struct SessionContext {
    pub id_hash: String,
    pub csrf_token: String,
    pub expires_at: Timestamp,
    /// The signed-in user, as read for this request.
    pub user: rebound_domain::model::User,
}

/// The credentials a request carries.
enum Credentials {
    Bearer(String),
    Session(String),
}

fn bearer(headers: &HeaderMap) -> Option<String> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

/// The value of the session cookie, if the request carries one.
pub fn session_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value.trim().trim_matches('"').to_string())
        .filter(|v| !v.is_empty())
}

fn credentials(headers: &HeaderMap) -> Option<Credentials> {
    bearer(headers).map(Credentials::Bearer).or_else(|| session_cookie(headers).map(Credentials::Session))
}

/// The client's address as the listener saw it (`None` when the server was not started with
/// connection info). A proxy's `X-Forwarded-For` is not trusted: any client can write it.
pub fn client_ip(extensions: &axum::http::Extensions) -> Option<IpAddr> {
    extensions.get::<ConnectInfo<SocketAddr>>().map(|ConnectInfo(addr)| addr.ip())
}

/// Compares secrets in time that does not depend on where they differ.
pub fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |diff, (x, y)| diff | (x ^ y)) == 0
}

fn changes_state(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Middleware on `/api/v1`: authenticates before any body is read, so an anonymous request is a
/// 401 whatever else is wrong with it.
pub async fn authenticate(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let principal = match credentials(request.headers()) {
        None => Err(ApiError::unauthorized(NO_CREDENTIALS)),
        Some(Credentials::Bearer(secret)) => principal_for_secret(&state, &secret).await,
        Some(Credentials::Session(secret)) => match sessions::principal_for_session(&state, &secret).await {
            Ok((principal, session)) => {
                let sent = request.headers().get(CSRF_HEADER).and_then(|v| v.to_str().ok()).unwrap_or("");
                if changes_state(request.method()) && !same_secret(sent.trim(), &session.csrf_token) {
                    return ApiError::Forbidden {
                        code: "csrf",
                        message: "a change made with the session cookie needs the session's CSRF token in \
                                  X-CSRF-Token"
                            .into(),
                    }
                    .into_response();
                }
                request.extensions_mut().insert(session);
                Ok(principal)
            }
            Err(e) => Err(e),
        },
    };
    match principal {
        Ok(principal) => {
            request.extensions_mut().insert(principal);
            next.run(request).await
        }
        Err(e) => e.into_response(),
    }
}

/// The authenticated principal of a request (set by [`authenticate`]).
#[derive(Debug, Clone)]
pub struct Caller(pub Principal);

impl Caller {
    /// 403 unless the caller's role may do `permission`.
    pub fn require(&self, permission: Permission) -> Result<&Principal, ApiError> {
        if self.0.may(permission) { Ok(&self.0) } else { Err(ApiError::forbidden()) }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts.extensions.get::<Principal>().cloned().map(Caller).ok_or_else(|| ApiError::unauthorized(NO_CREDENTIALS))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn the_session_cookie_is_found_among_others() {
        let mut headers = HeaderMap::new();
        headers.insert(header::COOKIE, HeaderValue::from_static("theme=dark; rebound_session=abc123 ; x=1"));
        assert_eq!(session_cookie(&headers).as_deref(), Some("abc123"));
        headers.insert(header::COOKIE, HeaderValue::from_static("rebound_session_old=zzz"));
        assert_eq!(session_cookie(&headers), None);
    }

    #[test]
    fn bearer_tokens_win_over_cookies() {
        let mut headers = HeaderMap::new();
        headers.insert(header::COOKIE, HeaderValue::from_static("rebound_session=abc"));
        assert!(matches!(credentials(&headers), Some(Credentials::Session(s)) if s == "abc"));
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer rbd_x"));
        assert!(matches!(credentials(&headers), Some(Credentials::Bearer(s)) if s == "rbd_x"));
    }

    #[test]
    fn secrets_compare_whole() {
        assert!(same_secret("abc", "abc"));
        assert!(!same_secret("abc", "abd"));
        assert!(!same_secret("abc", "ab"));
        assert!(!same_secret("", "a"));
    }
}
