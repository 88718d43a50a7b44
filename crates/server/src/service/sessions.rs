//! Console sessions: signing in and out, and turning a session cookie into a principal.
//!
//! - **Signing in** (`POST /session`): at most [`throttle::LOGIN_ATTEMPTS_PER_WINDOW`] attempts per
//!   client address per minute (429). Every refusal — unknown username, wrong password, disabled
//!   user, locked account — answers the same 401 with the same body, after the same work: an
//!   unknown username is verified against a dummy Argon2 hash, so neither the answer nor its time
//!   tells which usernames exist. [`LOCK_AFTER`] consecutive wrong passwords lock the account for
//!   [`LOCK_FOR`]; while locked even the right password is refused (and not counted again, so an
//!   attacker cannot keep a victim locked out forever by guessing at the end of each lock).
//! - **The session**: a 32-byte random secret in the `rebound_session` cookie (`HttpOnly`,
//!   `SameSite=Strict`, `Path=/`, `Secure` when `AppConfig::secure_cookies`); the store keeps only
//!   its SHA-256, so a copy of the database signs nobody in. A random CSRF token is answered with
//!   the sign-in (and by `GET /session`) for the console to send back in `X-CSRF-Token`.
//! - **Expiry**: after [`SESSION_IDLE`] without a request, and [`SESSION_LIFETIME`] after sign-in
//!   whatever happens. The idle point moves at most once per [`SESSION_TOUCH_EVERY`] (one small
//!   write a minute per active console, not one per request). A disabled user's sessions are ended
//!   by the store when the user is disabled, and refused here should one remain.

use std::net::IpAddr;

use jiff::{SignedDuration, Timestamp};
use rebound_domain::access::Principal;
use rebound_domain::model::{Session, User};

use crate::AppState;
use crate::auth::passwords::{MAX_PASSWORD_LEN, dummy_hash, verify_password};
use crate::auth::tokens::{hash_token_secret, random_hex_32};
use crate::auth::{SESSION_COOKIE, SessionContext, throttle};
use crate::dto_access::{LoginRequest, SessionView};
use crate::error::{ApiError, ApiResult};

/// A session ends after this long without a request.
pub const SESSION_IDLE: SignedDuration = SignedDuration::from_mins(30);
/// A session ends this long after sign-in, however active.
pub const SESSION_LIFETIME: SignedDuration = SignedDuration::from_hours(12);
/// The idle-expiry point is moved at most this often.
pub const SESSION_TOUCH_EVERY: SignedDuration = SignedDuration::from_secs(60);
/// Consecutive failed sign-ins that lock an account...
pub const LOCK_AFTER: u32 = 5;
/// ...for this long.
pub const LOCK_FOR: SignedDuration = SignedDuration::from_mins(15);
/// Ended sessions are removed from the store at most this often (on a sign-in).
const PURGE_EVERY: SignedDuration = SignedDuration::from_mins(10);

/// The one answer to every refused sign-in.
pub const SIGN_IN_REFUSED: &str = "the username or password is wrong, or the account is locked after repeated \
                                   failures or disabled; try again later or ask an administrator";

fn refused() -> ApiError {
    ApiError::unauthorized(SIGN_IN_REFUSED)
}

fn ended() -> ApiError {
    ApiError::unauthorized("the session has ended (signed out, expired or the user was disabled); sign in again")
}

/// How audit events and permission checks see a signed-in user.
pub fn user_principal(user: &User) -> Principal {
    Principal {
        actor: format!("user:{}", user.username),
        role: user.role,
        scope: user.scope.clone(),
        agent_id: user.agent_id,
    }
}

/// A successful sign-in: what to answer and the `Set-Cookie` value.
#[derive(Debug)]
pub struct SignedIn {
    pub view: SessionView,
    pub set_cookie: String,
}

/// The `Set-Cookie` value carrying `secret`, or (with `None`) clearing the cookie.
pub fn session_cookie(secret: Option<&str>, secure: bool) -> String {
    let (value, max_age) = match secret {
        Some(secret) => (secret, SESSION_LIFETIME.as_secs()),
        None => ("", 0),
    };
    let secure = if secure { "; Secure" } else { "" };
    format!("{SESSION_COOKIE}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}")
}

/// `POST /session`: see the module docs.
pub async fn sign_in(state: &AppState, client: Option<IpAddr>, input: LoginRequest) -> ApiResult<SignedIn> {
    let now = state.clock.now();
    if let Err(retry_after_secs) = state.access.throttle.attempt(client, now) {
        return Err(ApiError::TooManyRequests {
            message: format!(
                "too many sign-in attempts from this address (at most {} a minute); retry in {retry_after_secs} s",
                throttle::LOGIN_ATTEMPTS_PER_WINDOW
            ),
            retry_after_secs,
        });
    }
    let username = input.username.trim();
    // Nothing that long was ever accepted as a password or username: refuse before any work.
    if username.is_empty() || username.chars().count() > 200 || input.password.chars().count() > MAX_PASSWORD_LEN {
        return Err(refused());
    }
    let Some(login) = state.store.find_user_login(username).await? else {
        verify_password(input.password, dummy_hash().to_string()).await?;
        tracing::info!("sign-in refused: unknown username");
        return Err(refused());
    };
    let user_id = login.user.id;
    let matches = verify_password(input.password, login.password_hash.clone()).await?;
    let locked = login.locked_until.is_some_and(|until| now < until);
    if locked || login.user.disabled {
        tracing::info!(user.id = user_id, locked, disabled = login.user.disabled, "sign-in refused");
        return Err(refused());
    }
    if !matches {
        let after = state.store.record_login_failure(user_id, LOCK_AFTER, now + LOCK_FOR).await?;
        tracing::info!(user.id = user_id, failures = after.failed_logins, "sign-in refused: wrong password");
        return Err(refused());
    }
    state.store.record_login_success(user_id).await?;
    purge_ended_sessions(state, now).await;

    let secret = random_hex_32();
    let session = Session {
        id_hash: hash_token_secret(&secret),
        user_id,
        csrf_token: random_hex_32(),
        created_at: now,
        last_seen_at: now,
        expires_at: now + SESSION_LIFETIME,
    };
    state.store.create_session(session.clone()).await.map_err(|e| match e {
        // Disabled between the check and the insert.
        rebound_store::StoreError::Conflict(_) | rebound_store::StoreError::NotFound { .. } => refused(),
        other => other.into(),
    })?;
    tracing::info!(user.id = user_id, "signed in");
    let context = SessionContext {
        id_hash: session.id_hash,
        csrf_token: session.csrf_token,
        expires_at: session.expires_at,
        user: login.user,
    };
    let view = who_am_i(&user_principal(&context.user), Some(&context));
    Ok(SignedIn { view, set_cookie: session_cookie(Some(&secret), state.settings.secure_cookies) })
}

/// Removes ended sessions now and then, so the table does not grow with every sign-in.
async fn purge_ended_sessions(state: &AppState, now: Timestamp) {
    {
        let mut last = state.access.last_session_purge.lock().unwrap_or_else(|e| e.into_inner());
        if last.is_some_and(|at| now.duration_since(at) < PURGE_EVERY) {
            return;
        }
        *last = Some(now);
    }
    match state.store.purge_sessions(now - SESSION_IDLE, now).await {
        Ok(removed) if removed > 0 => tracing::info!(sessions.removed = removed, "ended sessions removed"),
        Ok(_) => {}
        Err(e) => tracing::warn!(error.cause = %e, "removing ended sessions failed"),
    }
}

/// `DELETE /session`: ends the session the request came with (a bearer token has none: nothing to
/// do).
pub async fn sign_out(state: &AppState, session: Option<&SessionContext>) -> ApiResult<()> {
    if let Some(session) = session {
        state.store.delete_session(&session.id_hash).await?;
        tracing::info!(user.id = session.user.id, "signed out");
    }
    Ok(())
}

/// The principal and session of a session cookie's `secret`, or 401 when it has ended. Moves the
/// idle-expiry point when a minute has passed since it last moved.
pub async fn principal_for_session(state: &AppState, secret: &str) -> ApiResult<(Principal, SessionContext)> {
    let id_hash = hash_token_secret(secret);
    let session = state.store.find_session(&id_hash).await?.ok_or_else(ended)?;
    let now = state.clock.now();
    let idle = now.duration_since(session.last_seen_at);
    if now >= session.expires_at || idle >= SESSION_IDLE {
        state.store.delete_session(&id_hash).await?;
        return Err(ended());
    }
    let user = match state.store.get_user(session.user_id).await? {
        Some(user) if !user.disabled => user,
        _ => {
            state.store.delete_session(&id_hash).await?;
            return Err(ended());
        }
    };
    if idle >= SESSION_TOUCH_EVERY {
        state.store.touch_session(&id_hash, now).await?;
    }
    let principal = user_principal(&user);
    Ok((principal, SessionContext { id_hash, csrf_token: session.csrf_token, expires_at: session.expires_at, user }))
}

/// `GET /session`: who the caller is (a user with a session, or a token).
pub fn who_am_i(principal: &Principal, session: Option<&SessionContext>) -> SessionView {
    SessionView {
        user: session.map(|s| s.user.clone()),
        actor: principal.actor.clone(),
        role: principal.role,
        scope: principal.scope.clone(),
        agent_id: principal.agent_id,
        csrf_token: session.map(|s| s.csrf_token.clone()),
        expires_at: session.map(|s| s.expires_at),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cookie_is_http_only_strict_and_secure_when_asked() {
        let plain = session_cookie(Some("abc"), false);
        assert_eq!(plain, "rebound_session=abc; Path=/; HttpOnly; SameSite=Strict; Max-Age=43200");
        assert!(session_cookie(Some("abc"), true).ends_with("; Secure"));
        assert!(
            session_cookie(None, false).contains("rebound_session=; ")
                && session_cookie(None, false).contains("Max-Age=0")
        );
    }
}
