//! Who a console page is for: the session cookie read through `service::sessions` (expiry, idle
//! time, disabled users — the API's rules), or a redirect to `/login`.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Redirect, Response};
use rebound_domain::access::Principal;

use crate::AppState;
use crate::auth::{SessionContext, session_cookie};
use crate::error::ApiError;
use crate::service::sessions;

use super::layout;

/// The signed-in user of a page request.
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub principal: Principal,
    pub session: SessionContext,
}

impl SignedIn {
    /// The name the header shows: the display name, or the username when there is none.
    pub fn display_name(&self) -> &str {
        let user = &self.session.user;
        if user.display_name.trim().is_empty() { &user.username } else { &user.display_name }
    }
}

/// The session of a request's cookie: `Ok(None)` when there is no cookie or it has ended.
pub async fn current(state: &AppState, parts: &Parts) -> Result<Option<SignedIn>, ApiError> {
    let Some(secret) = session_cookie(&parts.headers) else { return Ok(None) };
    match sessions::principal_for_session(state, &secret).await {
        Ok((principal, session)) => Ok(Some(SignedIn { principal, session })),
        Err(ApiError::Unauthorized { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

impl FromRequestParts<AppState> for SignedIn {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        match current(state, parts).await {
            Ok(Some(signed_in)) => Ok(signed_in),
            Ok(None) => Err(Redirect::to("/login").into_response()),
            Err(e) => Err(layout::error_page(&e)),
        }
    }
}
