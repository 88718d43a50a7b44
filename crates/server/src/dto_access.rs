//! The JSON shapes of sign-in, sessions and users (`/session`, `/users`). Request bodies are strict
//! (`deny_unknown_fields`); passwords are write-only: they appear in requests, never in responses
//! (responses carry the domain `User`, which has no password field at all).

use jiff::Timestamp;
use rebound_domain::access::{Role, Scope};
use rebound_domain::model::{AgentId, User};
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::ToSchema;

/// For PATCH fields that may be set to `null`: absent → `None`, `null` → `Some(None)`.
fn nullable<'de, T: Deserialize<'de>, D: Deserializer<'de>>(d: D) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// `POST /session`.
#[derive(Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub username: String,
    #[schema(format = Password)]
    pub password: String,
}

impl std::fmt::Debug for LoginRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginRequest").field("username", &self.username).finish_non_exhaustive()
    }
}

/// Who is calling (`GET /session`), and what signing in answers.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SessionView {
    /// The signed-in user; `null` when the caller uses an API token.
    pub user: Option<User>,
    /// How audit events name the caller (`user:alice`, `token:3:ivr`).
    pub actor: String,
    pub role: Role,
    /// `null` = every campaign and queue.
    pub scope: Option<Scope>,
    pub agent_id: Option<AgentId>,
    /// Send it back as `X-CSRF-Token` on every POST, PUT, PATCH and DELETE made with the session
    /// cookie. `null` for API tokens (they need none).
    pub csrf_token: Option<String>,
    /// When the session ends at the latest (it also ends after 30 idle minutes).
    pub expires_at: Option<Timestamp>,
}

/// `POST /users`.
#[derive(Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserCreate {
    /// 1–64 characters: letters, digits, `.`, `_`, `-`, `@`; unique regardless of case.
    pub username: String,
    /// Default: the username.
    pub display_name: Option<String>,
    /// IANA timezone the console shows times in (default `UTC`).
    pub timezone: Option<String>,
    pub role: Role,
    /// The agent record the user acts as: required for role `agent`, refused for other roles.
    pub agent_id: Option<AgentId>,
    /// The campaigns and queues the user may see and act on; absent = all. Admins are never scoped.
    pub scope: Option<Scope>,
    /// Write-only; at least 12 characters.
    #[schema(format = Password)]
    pub password: String,
}

impl std::fmt::Debug for UserCreate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserCreate").field("username", &self.username).field("role", &self.role).finish_non_exhaustive()
    }
}

/// `PATCH /users/{id}`: only the fields given change.
#[derive(Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserPatch {
    pub display_name: Option<String>,
    pub timezone: Option<String>,
    pub role: Option<Role>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<i64>)]
    pub agent_id: Option<Option<AgentId>>,
    /// `null` removes the scope (all campaigns).
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<Scope>)]
    pub scope: Option<Option<Scope>>,
    /// A disabled user cannot sign in and their sessions end at once.
    pub disabled: Option<bool>,
    /// A new password (write-only; at least 12 characters). Ends the user's sessions.
    #[schema(format = Password)]
    pub password: Option<String>,
}

impl std::fmt::Debug for UserPatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserPatch")
            .field("role", &self.role)
            .field("disabled", &self.disabled)
            .field("password", &self.password.as_ref().map(|_| "[redacted]"))
            .finish_non_exhaustive()
    }
}
