//! Bearer-token authentication for `/api/v1`.
//!
//! A token's secret (`rbd_…`) is shown once at creation; the store keeps only its hex SHA-256
//! ([`hash_token_secret`]). The [`authenticate`] middleware turns `Authorization: Bearer <secret>`
//! into a [`Principal`] (`token:{id}:{name}` with the token's role) stored in the request
//! extensions, where the [`Caller`] extractor finds it; every handler then asks
//! [`Caller::require`] for the permission it needs (the table is `rebound_domain::access`).
//!
//! Successful lookups are cached in memory for [`TOKEN_CACHE_TTL`] so the hot create path needs no
//! extra store round trip; the token's expiry is still checked on every request. The price: a
//! token revoked by another process keeps working for at most that long.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::extract::{FromRequestParts, Request, State};
use axum::http::header;
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use jiff::Timestamp;
use rand::RngCore;
use rebound_domain::access::{Permission, Principal};
use sha2::{Digest, Sha256};

use crate::AppState;
use crate::error::ApiError;

/// Prefix of every token secret, so leaked secrets are easy to recognise and scan for.
pub const TOKEN_PREFIX: &str = "rbd_";

/// How long a successful token lookup is trusted without asking the store again.
pub const TOKEN_CACHE_TTL: Duration = Duration::from_secs(10);

/// The cache is cleared rather than grown past this many entries.
const TOKEN_CACHE_MAX: usize = 10_000;

/// A new token secret: 32 random bytes from the OS-seeded CSPRNG, hex (URL-safe), prefixed `rbd_`.
pub fn generate_token_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!("{TOKEN_PREFIX}{}", hex::encode(bytes))
}

/// The hex SHA-256 of a secret: what the store keeps and looks tokens up by.
pub fn hash_token_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Recently verified tokens by secret hash.
#[derive(Debug, Default)]
pub struct TokenCache {
    entries: Mutex<HashMap<String, CachedToken>>,
}

#[derive(Debug, Clone)]
struct CachedToken {
    principal: Principal,
    expires_at: Option<Timestamp>,
    cached_at: Instant,
}

impl TokenCache {
    fn get(&self, hash: &str, now: Timestamp) -> Option<Principal> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let entry = entries.get(hash)?;
        let fresh = entry.cached_at.elapsed() < TOKEN_CACHE_TTL;
        let unexpired = entry.expires_at.is_none_or(|exp| now < exp);
        (fresh && unexpired).then(|| entry.principal.clone())
    }

    fn put(&self, hash: String, principal: Principal, expires_at: Option<Timestamp>) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= TOKEN_CACHE_MAX {
            entries.clear();
        }
        entries.insert(hash, CachedToken { principal, expires_at, cached_at: Instant::now() });
    }
}

/// Resolves a bearer secret to its principal, or says why not (always 401).
pub async fn principal_for_secret(state: &AppState, secret: &str) -> Result<Principal, ApiError> {
    let hash = hash_token_secret(secret);
    let now = state.clock.now();
    if let Some(principal) = state.tokens.get(&hash, now) {
        return Ok(principal);
    }
    let token =
        state.store.find_token(&hash).await?.ok_or_else(|| ApiError::unauthorized("the bearer token is not known"))?;
    if token.revoked {
        return Err(ApiError::unauthorized("the bearer token has been revoked"));
    }
    if token.expires_at.is_some_and(|exp| now >= exp) {
        return Err(ApiError::unauthorized("the bearer token has expired"));
    }
    let principal = Principal {
        actor: format!("token:{}:{}", token.id, token.name),
        role: token.role,
        scope: token.scope.clone(),
        agent_id: None,
    };
    state.tokens.put(hash, principal.clone(), token.expires_at);
    Ok(principal)
}

/// Middleware on `/api/v1`: authenticates before any body is read, so an anonymous request is a
/// 401 whatever else is wrong with it.
pub async fn authenticate(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let secret = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned);
    let Some(secret) = secret else {
        return ApiError::unauthorized("send 'Authorization: Bearer <token>'").into_response();
    };
    match principal_for_secret(&state, &secret).await {
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
        parts
            .extensions
            .get::<Principal>()
            .cloned()
            .map(Caller)
            .ok_or_else(|| ApiError::unauthorized("send 'Authorization: Bearer <token>'"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_prefixed_random_and_url_safe() {
        let a = generate_token_secret();
        let b = generate_token_secret();
        assert!(a.starts_with("rbd_"));
        assert_eq!(a.len(), 4 + 64);
        assert_ne!(a, b);
        assert!(a.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'));
    }

    #[test]
    fn hashes_are_hex_sha256() {
        assert_eq!(hash_token_secret("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }
}
