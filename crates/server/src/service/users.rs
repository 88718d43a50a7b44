//! Users: the people who sign in to the console (`/users`, admins only).
//!
//! Rules:
//! - a username is 1–64 characters of letters, digits, `.`, `_`, `-`, `@`, unique regardless of
//!   case (the store refuses a taken one: 409 `conflict`);
//! - a display name is 1–200 characters (default: the username); the timezone is an IANA name
//!   (default `UTC`);
//! - role `agent` needs `agent_id` (the agent record the user acts as); other roles may not have
//!   one, so a principal's agent binding always means "this person is that agent";
//! - a scope names at least one campaign or queue, all existing ([`check_scope`], shared with API
//!   tokens); admins are never scoped (they manage configuration and users, which span campaigns);
//! - a password has at least 12 characters; it is stored as an Argon2id hash and never answered.
//!   Setting a new one ends the user's sessions and clears a lockout; disabling a user ends their
//!   sessions (both in the store, in the same transaction).

use rebound_domain::access::{Role, Scope};
use rebound_domain::model::{AgentId, User, UserId};
use rebound_domain::time;
use rebound_store::PageRequest;

use crate::AppState;
use crate::auth::passwords::{check_new_password, hash_password};
use crate::dto::Paged;
use crate::dto_access::{UserCreate, UserPatch};
use crate::error::{ApiError, ApiResult};
use crate::service::paginate;

const MAX_USERNAME_LEN: usize = 64;
const MAX_DISPLAY_NAME_LEN: usize = 200;

fn check_username(username: &str) -> ApiResult<String> {
    let username = username.trim();
    let valid_chars = username.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'));
    if username.is_empty() || username.chars().count() > MAX_USERNAME_LEN || !valid_chars {
        return Err(ApiError::invalid_field(
            "username",
            format!("a username is 1–{MAX_USERNAME_LEN} letters, digits, '.', '_', '-' or '@'"),
        ));
    }
    Ok(username.to_string())
}

fn check_display_name(name: &str) -> ApiResult<String> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > MAX_DISPLAY_NAME_LEN || name.chars().any(char::is_control) {
        return Err(ApiError::invalid_field(
            "display_name",
            format!("a display name is 1–{MAX_DISPLAY_NAME_LEN} printable characters"),
        ));
    }
    Ok(name.to_string())
}

/// A scope as given for a user or token of `role`: `None` stays `None`; a scope must name at least
/// one campaign or queue, all existing, and is refused for admins. Duplicates are dropped.
pub async fn check_scope(state: &AppState, role: Role, scope: Option<Scope>) -> ApiResult<Option<Scope>> {
    let Some(mut scope) = scope else { return Ok(None) };
    if role == Role::Admin {
        return Err(ApiError::invalid_field("scope", "admins are never scoped: they manage configuration and users"));
    }
    if scope.campaigns.is_empty() && scope.queues.is_empty() {
        return Err(ApiError::invalid_field(
            "scope",
            "a scope names at least one campaign or queue; leave it out (or null) for all of them",
        ));
    }
    scope.campaigns.sort_unstable();
    scope.campaigns.dedup();
    scope.queues.sort_unstable();
    scope.queues.dedup();
    for &id in &scope.campaigns {
        if state.store.get_campaign(id).await?.is_none() {
            return Err(ApiError::unknown_reference("scope.campaigns", "campaign", id));
        }
    }
    for &id in &scope.queues {
        if state.store.get_queue(id).await?.is_none() {
            return Err(ApiError::unknown_reference("scope.queues", "queue", id));
        }
    }
    Ok(Some(scope))
}

async fn check_agent_binding(state: &AppState, role: Role, agent_id: Option<AgentId>) -> ApiResult<()> {
    match (role, agent_id) {
        (Role::Agent, None) => {
            Err(ApiError::invalid_field("agent_id", "a user of role agent names the agent they are"))
        }
        (Role::Agent, Some(id)) => match state.store.get_agent(id).await? {
            Some(_) => Ok(()),
            None => Err(ApiError::unknown_reference("agent_id", "agent", id)),
        },
        (_, Some(_)) => Err(ApiError::invalid_field("agent_id", "only users of role agent act as an agent")),
        (_, None) => Ok(()),
    }
}

/// Validates a whole user record (after a create or a merge).
async fn validate(state: &AppState, user: &mut User) -> ApiResult<()> {
    user.username = check_username(&user.username)?;
    user.display_name = check_display_name(&user.display_name)?;
    time::parse_timezone(&user.timezone).map_err(|e| ApiError::from(e).for_field("timezone"))?;
    check_agent_binding(state, user.role, user.agent_id).await?;
    user.scope = check_scope(state, user.role, user.scope.take()).await?;
    Ok(())
}

pub async fn create_user(state: &AppState, input: UserCreate) -> ApiResult<User> {
    check_new_password("password", &input.password)?;
    let now = state.clock.now();
    let mut user = User {
        id: 0,
        display_name: input.display_name.unwrap_or_else(|| input.username.clone()),
        username: input.username,
        timezone: input.timezone.unwrap_or_else(|| "UTC".into()),
        role: input.role,
        agent_id: input.agent_id,
        scope: input.scope,
        disabled: false,
        created_at: now,
        updated_at: now,
    };
    validate(state, &mut user).await?;
    let hash = hash_password(input.password).await?;
    let created = state.store.create_user(user, &hash).await.map_err(|e| match e {
        rebound_store::StoreError::Conflict(_) => ApiError::conflict("conflict", "that username is taken")
            .with_details(serde_json::json!({"field": "username"})),
        other => other.into(),
    })?;
    tracing::info!(user.id = created.id, user.role = %created.role, "user created");
    Ok(created)
}

pub async fn get_user(state: &AppState, id: UserId) -> ApiResult<User> {
    state.store.get_user(id).await?.ok_or_else(|| ApiError::not_found("user"))
}

pub async fn list_users(state: &AppState, page: PageRequest) -> ApiResult<Paged<User>> {
    Ok(paginate(state.store.list_users().await?, page))
}

/// `PATCH /users/{id}`: the fields given change; the merged record is validated whole. A new
/// password is checked before anything is written.
pub async fn update_user(state: &AppState, id: UserId, patch: UserPatch) -> ApiResult<User> {
    if let Some(password) = &patch.password {
        check_new_password("password", password)?;
    }
    let mut user = get_user(state, id).await?;
    let before = user.clone();
    if let Some(v) = patch.display_name {
        user.display_name = v;
    }
    if let Some(v) = patch.timezone {
        user.timezone = v;
    }
    if let Some(v) = patch.role {
        user.role = v;
    }
    if let Some(v) = patch.agent_id {
        user.agent_id = v;
    }
    if let Some(v) = patch.scope {
        user.scope = v;
    }
    if let Some(v) = patch.disabled {
        user.disabled = v;
    }
    validate(state, &mut user).await?;
    let hash = match patch.password {
        Some(password) => Some(hash_password(password).await?),
        None => None,
    };
    let updated = if user == before { before } else { state.store.update_user(user).await? };
    if let Some(hash) = hash {
        state.store.set_user_password(id, &hash).await?;
        tracing::info!(user.id = id, "password changed; the user's sessions ended");
    }
    Ok(updated)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_are_short_plain_words() {
        assert_eq!(check_username("  ann.lee@example ").unwrap(), "ann.lee@example");
        for bad in ["", "ann lee", "ann/lee", &"a".repeat(65), "ann\u{0}"] {
            assert!(check_username(bad).is_err(), "{bad:?}");
        }
        assert!(check_display_name("Ann\nLee").is_err());
    }
}
