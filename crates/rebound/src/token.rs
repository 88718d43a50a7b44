//! API tokens made by the binary: `rebound token create`, and the first admin token a fresh store
//! gets at startup (bootstrap access). Secrets are generated and hashed by `rebound_server::auth`
//! so the server and the binary agree on the format; only the hash is stored.

use anyhow::Context as _;
use rebound_domain::access::Role;
use rebound_store::{NewToken, Store};

use crate::config::Secret;

/// The name of the admin token a fresh store is given.
pub const BOOTSTRAP_TOKEN_NAME: &str = "bootstrap";

/// A token just created, with its secret (which exists nowhere else).
#[derive(Debug)]
pub struct CreatedToken {
    pub id: i64,
    pub secret: Secret,
}

/// Creates a token with a newly generated secret.
pub async fn create(store: &dyn Store, name: &str, role: Role) -> anyhow::Result<CreatedToken> {
    let secret = Secret::new(rebound_server::auth::generate_token_secret());
    create_with_secret(store, name, role, secret).await
}

async fn create_with_secret(store: &dyn Store, name: &str, role: Role, secret: Secret) -> anyhow::Result<CreatedToken> {
    let name = name.trim();
    anyhow::ensure!(!name.is_empty(), "a token name must not be empty");
    let hash = rebound_server::auth::hash_token_secret(secret.expose());
    let token = store.create_token(NewToken::new(name, role, hash, None)).await.context("cannot store the token")?;
    Ok(CreatedToken { id: token.id, secret })
}

/// What startup did about access.
#[derive(Debug)]
pub enum Bootstrap {
    /// The store already has tokens; nothing was created.
    AlreadyConfigured,
    /// An admin token was created from the configured `REBOUND_BOOTSTRAP_TOKEN` (not printed: the
    /// operator already has it).
    FromConfig { id: i64 },
    /// An admin token was generated; its secret must be shown to the operator once.
    Generated(CreatedToken),
}

/// Makes sure a fresh store can be administered: when it has no token at all, creates an admin token
/// named [`BOOTSTRAP_TOKEN_NAME`] from `configured`, or with a generated secret.
pub async fn bootstrap(store: &dyn Store, configured: Option<&Secret>) -> anyhow::Result<Bootstrap> {
    if store.count_tokens().await.context("cannot count API tokens")? > 0 {
        if configured.is_some() {
            tracing::info!("REBOUND_BOOTSTRAP_TOKEN is ignored: the store already has API tokens");
        }
        return Ok(Bootstrap::AlreadyConfigured);
    }
    match configured {
        Some(secret) => {
            let created = create_with_secret(store, BOOTSTRAP_TOKEN_NAME, Role::Admin, secret.clone()).await?;
            Ok(Bootstrap::FromConfig { id: created.id })
        }
        None => Ok(Bootstrap::Generated(create(store, BOOTSTRAP_TOKEN_NAME, Role::Admin).await?)),
    }
}
