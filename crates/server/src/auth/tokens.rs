//! API tokens: the secret format, the hash the store keeps, the short-lived lookup cache, and the
//! batched recording of when each token was last used.
//!
//! A token's secret (`rbd_…`) is shown once at creation; the store keeps only its hex SHA-256
//! ([`hash_token_secret`]). Successful lookups are cached in memory for [`TOKEN_CACHE_TTL`] so the hot
//! create path needs no extra store round trip; the token's expiry is still checked on every request,
//! and a token revoked through this server leaves the cache at once ([`TokenCache::forget`]). The
//! price: a token revoked by another process keeps working for at most that long.
//!
//! `last_used_at` is recorded at most once per [`TOKEN_TOUCH_EVERY`] per token, off the request
//! path: a request only notes the use in memory ([`TokenUsage::note`]); one background task writes
//! what was noted with a single `Store::touch_tokens` call, then ends until the next use is noted.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use jiff::{SignedDuration, Timestamp};
use rand::RngCore;
use rebound_domain::access::Principal;
use rebound_store::Store;
use sha2::{Digest, Sha256};

use crate::AppState;
use crate::error::ApiError;

/// Prefix of every token secret, so leaked secrets are easy to recognise and scan for.
pub const TOKEN_PREFIX: &str = "rbd_";

/// How long a successful token lookup is trusted without asking the store again.
pub const TOKEN_CACHE_TTL: Duration = Duration::from_secs(10);

/// A token's `last_used_at` is written at most this often.
pub const TOKEN_TOUCH_EVERY: SignedDuration = SignedDuration::from_secs(60);

/// The cache is cleared rather than grown past this many entries.
const TOKEN_CACHE_MAX: usize = 10_000;

/// 32 random bytes from the OS-seeded CSPRNG, hex.
pub fn random_hex_32() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// A new token secret: 32 random bytes, hex (URL-safe), prefixed `rbd_`.
pub fn generate_token_secret() -> String {
    format!("{TOKEN_PREFIX}{}", random_hex_32())
}

/// The hex SHA-256 of a secret: what the store keeps and looks tokens (and sessions) up by.
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
    token_id: i64,
    principal: Principal,
    expires_at: Option<Timestamp>,
    cached_at: Instant,
}

impl TokenCache {
    fn get(&self, hash: &str, now: Timestamp) -> Option<(i64, Principal)> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let entry = entries.get(hash)?;
        let fresh = entry.cached_at.elapsed() < TOKEN_CACHE_TTL;
        let unexpired = entry.expires_at.is_none_or(|exp| now < exp);
        (fresh && unexpired).then(|| (entry.token_id, entry.principal.clone()))
    }

    fn put(&self, hash: String, token_id: i64, principal: Principal, expires_at: Option<Timestamp>) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= TOKEN_CACHE_MAX {
            entries.clear();
        }
        entries.insert(hash, CachedToken { token_id, principal, expires_at, cached_at: Instant::now() });
    }

    /// Drops a token (it was just revoked), so its next request asks the store.
    pub fn forget(&self, token_id: i64) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.retain(|_, entry| entry.token_id != token_id);
    }
}

/// Token uses not yet written, and when each token's use was last noted.
#[derive(Debug, Default)]
pub struct TokenUsage {
    inner: Mutex<UsageState>,
}

#[derive(Debug, Default)]
struct UsageState {
    /// When each token's use was last noted (and so will be, or was, written).
    noted: HashMap<i64, Timestamp>,
    pending: Vec<(i64, Timestamp)>,
    /// A writer task is running; it takes `pending` until it finds it empty.
    writing: bool,
}

impl TokenUsage {
    /// Notes that `token_id` was used at `now`; answers whether a writer task must be started
    /// (the caller spawns [`TokenUsage::write_pending`]).
    fn note(&self, token_id: i64, now: Timestamp) -> bool {
        let mut state = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let due = state.noted.get(&token_id).is_none_or(|last| now.duration_since(*last) >= TOKEN_TOUCH_EVERY);
        if !due {
            return false;
        }
        if state.noted.len() >= TOKEN_CACHE_MAX {
            state.noted.clear();
        }
        state.noted.insert(token_id, now);
        state.pending.push((token_id, now));
        !std::mem::replace(&mut state.writing, true)
    }

    /// Writes what was noted, batch after batch, until nothing is left.
    async fn write_pending(self: Arc<Self>, store: Arc<dyn Store>) {
        loop {
            let batch = {
                let mut state = self.inner.lock().unwrap_or_else(|e| e.into_inner());
                if state.pending.is_empty() {
                    state.writing = false;
                    return;
                }
                std::mem::take(&mut state.pending)
            };
            if let Err(e) = store.touch_tokens(batch).await {
                // A missed last-used time is not worth failing anything for; the next use records it.
                tracing::warn!(error.cause = %e, "recording token use failed");
            }
        }
    }
}

/// Resolves a bearer secret to its principal, or says why not (always 401), and notes the use.
pub async fn principal_for_secret(state: &AppState, secret: &str) -> Result<Principal, ApiError> {
    let hash = hash_token_secret(secret);
    let now = state.clock.now();
    let (token_id, principal) = match state.tokens.get(&hash, now) {
        Some(found) => found,
        None => {
            let token = state
                .store
                .find_token(&hash)
                .await?
                .ok_or_else(|| ApiError::unauthorized("the bearer token is not known"))?;
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
            state.tokens.put(hash, token.id, principal.clone(), token.expires_at);
            (token.id, principal)
        }
    };
    let usage = state.access.token_usage.clone();
    if usage.note(token_id, now) {
        tokio::spawn(usage.write_pending(state.store.clone()));
    }
    Ok(principal)
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

    #[test]
    fn a_token_use_is_noted_at_most_once_a_minute() {
        let usage = TokenUsage::default();
        let t0: Timestamp = "2026-03-02T10:00:00Z".parse().unwrap();
        assert!(usage.note(1, t0), "the first use starts a writer");
        assert!(!usage.note(1, t0 + SignedDuration::from_secs(59)), "too soon: not noted");
        assert!(!usage.note(2, t0), "noted, but a writer is already running");
        assert!(!usage.note(1, t0 + SignedDuration::from_secs(60)));
        let pending = usage.inner.lock().unwrap().pending.clone();
        assert_eq!(pending, vec![(1, t0), (2, t0), (1, t0 + SignedDuration::from_secs(60))]);
    }
}
