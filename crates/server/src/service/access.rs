//! API tokens: minting a secret (shown once), storing only its hash.

use rebound_domain::time;
use rebound_store::{NewToken, PageRequest};

use crate::AppState;
use crate::auth::{generate_token_secret, hash_token_secret};
use crate::dto::{Paged, TokenCreate, TokenCreated, TokenInfo};
use crate::error::{ApiError, ApiResult};

pub async fn create_token(state: &AppState, input: TokenCreate) -> ApiResult<TokenCreated> {
    let name = input.name.trim().to_string();
    if name.is_empty() || name.len() > 100 || name.contains(':') {
        return Err(ApiError::invalid_field("name", "a token name is 1–100 characters without ':'"));
    }
    if input.scope.as_ref().is_some_and(|s| !s.is_null()) {
        return Err(ApiError::invalid_field("scope", "campaign scopes are not supported yet; omit scope"));
    }
    let expires_at = match input.expires_at.as_deref() {
        None => None,
        Some(text) => {
            let at = time::parse_instant(text, None, None).map_err(|e| ApiError::from(e).for_field("expires_at"))?;
            if at <= state.clock.now() {
                return Err(
                    ApiError::unprocessable("time_in_past", "expires_at must be in the future").for_field("expires_at")
                );
            }
            Some(at)
        }
    };
    let secret = generate_token_secret();
    let token =
        state.store.create_token(NewToken::new(&name, input.role, &hash_token_secret(&secret), expires_at)).await?;
    Ok(TokenCreated { id: token.id, name: token.name, role: token.role, scope: None, token: secret, expires_at })
}

/// One page of tokens, oldest first, never with their secrets (only hashes are stored anyway).
pub async fn list_tokens(state: &AppState, page: PageRequest) -> ApiResult<Paged<TokenInfo>> {
    let all = state.store.list_tokens().await?;
    let total = all.len() as u64;
    let items = all
        .into_iter()
        .skip(page.offset() as usize)
        .take(page.page_size as usize)
        .map(|t| TokenInfo {
            id: t.id,
            name: t.name,
            role: t.role,
            scope: None,
            created_at: t.created_at,
            expires_at: t.expires_at,
            revoked: t.revoked,
        })
        .collect();
    Ok(Paged { items, page: page.page, page_size: page.page_size, total })
}
