//! API tokens: minting a secret (shown once), storing only its hash, listing (with when each was
//! last used, never a secret) and revoking. A token's scope follows the rules of user scopes
//! (`service::users::check_scope`).

use rebound_domain::time;
use rebound_store::{ApiToken, NewToken, PageRequest};

use crate::AppState;
use crate::auth::{generate_token_secret, hash_token_secret};
use crate::dto::{Paged, TokenCreate, TokenCreated, TokenInfo};
use crate::error::{ApiError, ApiResult};
use crate::service::paginate;
use crate::service::users::check_scope;

pub async fn create_token(state: &AppState, input: TokenCreate) -> ApiResult<TokenCreated> {
    let name = input.name.trim().to_string();
    if name.is_empty() || name.chars().count() > 100 || name.contains(':') || name.chars().any(char::is_control) {
        return Err(ApiError::invalid_field("name", "a token name is 1–100 characters without ':'"));
    }
    let scope = check_scope(state, input.role, input.scope).await?;
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
    let new = NewToken { scope, ..NewToken::new(&name, input.role, hash_token_secret(&secret), expires_at) };
    let token = state.store.create_token(new).await?;
    tracing::info!(token.id = token.id, token.role = %token.role, "API token created");
    Ok(TokenCreated { id: token.id, name: token.name, role: token.role, scope: token.scope, token: secret, expires_at })
}

fn info(t: ApiToken) -> TokenInfo {
    TokenInfo {
        id: t.id,
        name: t.name,
        role: t.role,
        scope: t.scope,
        created_at: t.created_at,
        expires_at: t.expires_at,
        revoked: t.revoked,
        last_used_at: t.last_used_at,
    }
}

/// One page of tokens, oldest first, never with their secrets (only hashes are stored anyway).
pub async fn list_tokens(state: &AppState, page: PageRequest) -> ApiResult<Paged<TokenInfo>> {
    let all: Vec<TokenInfo> = state.store.list_tokens().await?.into_iter().map(info).collect();
    Ok(paginate(all, page))
}

/// `DELETE /tokens/{id}`: the token stops working at once (in this process; see `auth::tokens`).
pub async fn revoke_token(state: &AppState, id: i64) -> ApiResult<TokenInfo> {
    let token = state.store.revoke_token(id).await?;
    state.tokens.forget(id);
    tracing::info!(token.id = id, "API token revoked");
    Ok(info(token))
}
