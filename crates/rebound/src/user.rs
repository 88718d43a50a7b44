//! Console users made by the binary: `rebound user add|passwd|disable`, and the first `admin` user
//! a fresh store gets at startup (bootstrap access, next to the bootstrap token).
//!
//! Every change goes through the server's own user rules (`rebound_server::service::users`), so a
//! user made here is valid exactly when one made through `POST /users` would be. Passwords never
//! travel on the command line (where `ps` and shell history would show them): they are read from
//! `REBOUND_USER_PASSWORD`, else typed at a prompt (echo off), else read as the first line of stdin.

use std::io::{BufRead as _, IsTerminal as _, Write as _};
use std::sync::Arc;

use anyhow::Context as _;
use rand::RngCore as _;
use rebound_domain::access::{Role, Scope};
use rebound_domain::clock::SystemClock;
use rebound_domain::model::User;
use rebound_server::dto_access::{UserCreate, UserPatch};
use rebound_server::service::users;
use rebound_server::{AppConfig, AppState};
use rebound_store::Store;

use crate::config::Secret;

/// The username of the first admin user.
pub const BOOTSTRAP_USERNAME: &str = "admin";
/// The environment variable a password is read from before prompting.
pub const PASSWORD_ENV: &str = "REBOUND_USER_PASSWORD";

/// The server state the user rules run against (its engine is never started).
fn state_for(store: Arc<dyn Store>) -> AppState {
    AppState::new(store, Arc::new(SystemClock), AppConfig::default())
}

fn api(e: rebound_server::error::ApiError) -> anyhow::Error {
    anyhow::anyhow!("{}", e.to_object().message)
}

/// What `rebound user add` asks for.
#[derive(Debug, Clone)]
pub struct NewUser {
    pub username: String,
    pub role: Role,
    pub display_name: Option<String>,
    pub timezone: Option<String>,
    pub agent_id: Option<i64>,
    pub campaigns: Vec<i64>,
    pub queues: Vec<i64>,
}

/// Creates a user with `password`.
pub async fn add(store: Arc<dyn Store>, new: NewUser, password: Secret) -> anyhow::Result<User> {
    let scoped = !new.campaigns.is_empty() || !new.queues.is_empty();
    let scope = scoped.then_some(Scope { campaigns: new.campaigns, queues: new.queues });
    let input = UserCreate {
        username: new.username,
        display_name: new.display_name,
        timezone: new.timezone,
        role: new.role,
        agent_id: new.agent_id,
        scope,
        password: password.expose().to_string(),
    };
    users::create_user(&state_for(store), input).await.map_err(api)
}

async fn find(store: &dyn Store, username: &str) -> anyhow::Result<User> {
    let login = store.find_user_login(username).await.context("cannot read users")?;
    login.map(|l| l.user).with_context(|| format!("there is no user '{username}'"))
}

/// Sets a new password (ending the user's sessions and clearing a lockout).
pub async fn set_password(store: Arc<dyn Store>, username: &str, password: Secret) -> anyhow::Result<User> {
    let user = find(store.as_ref(), username).await?;
    let patch = UserPatch { password: Some(password.expose().to_string()), ..UserPatch::default() };
    users::update_user(&state_for(store), user.id, patch).await.map_err(api)
}

/// Disables a user (ending their sessions).
pub async fn disable(store: Arc<dyn Store>, username: &str) -> anyhow::Result<User> {
    let user = find(store.as_ref(), username).await?;
    let patch = UserPatch { disabled: Some(true), ..UserPatch::default() };
    users::update_user(&state_for(store), user.id, patch).await.map_err(api)
}

/// What startup did about the first user.
#[derive(Debug)]
pub enum Bootstrap {
    /// The store already has users; nothing was created.
    AlreadyConfigured,
    /// `admin` was created with the configured `REBOUND_BOOTSTRAP_PASSWORD` (not printed).
    FromConfig,
    /// `admin` was created with a generated password, to be shown to the operator once.
    Generated(Secret),
}

/// A generated password: 18 random bytes, hex (36 characters).
fn generate_password() -> Secret {
    let mut bytes = [0u8; 18];
    rand::rng().fill_bytes(&mut bytes);
    Secret::new(hex_encode(&bytes))
}

fn hex_encode(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Makes sure a fresh store has a console user: when it has none, creates [`BOOTSTRAP_USERNAME`]
/// (role admin) with `configured`, or with a generated password.
pub async fn bootstrap(store: Arc<dyn Store>, configured: Option<&Secret>) -> anyhow::Result<Bootstrap> {
    if store.count_users().await.context("cannot count users")? > 0 {
        if configured.is_some() {
            tracing::info!("REBOUND_BOOTSTRAP_PASSWORD is ignored: the store already has users");
        }
        return Ok(Bootstrap::AlreadyConfigured);
    }
    let (password, outcome) = match configured {
        Some(password) => (password.clone(), Bootstrap::FromConfig),
        None => {
            let password = generate_password();
            (password.clone(), Bootstrap::Generated(password))
        }
    };
    let admin = NewUser {
        username: BOOTSTRAP_USERNAME.into(),
        role: Role::Admin,
        display_name: Some("Administrator".into()),
        timezone: None,
        agent_id: None,
        campaigns: Vec::new(),
        queues: Vec::new(),
    };
    add(store, admin, password).await.context("cannot create the first admin user")?;
    Ok(outcome)
}

/// The password for `username`: `REBOUND_USER_PASSWORD`, else typed twice at a prompt (echo off)
/// when stdin is a terminal, else the first line of stdin.
pub fn read_password(username: &str, env: Option<String>) -> anyhow::Result<Secret> {
    if let Some(password) = env.filter(|p| !p.is_empty()) {
        return Ok(Secret::new(password));
    }
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        let mut line = String::new();
        stdin.lock().read_line(&mut line).context("cannot read the password from stdin")?;
        let password = line.trim_end_matches(['\r', '\n']).to_string();
        anyhow::ensure!(!password.is_empty(), "no password: set {PASSWORD_ENV} or pipe the password on stdin");
        return Ok(Secret::new(password));
    }
    let first = prompt(&format!("Password for {username}: "))?;
    let second = prompt("Again: ")?;
    anyhow::ensure!(first == second, "the two passwords differ");
    Ok(Secret::new(first))
}

/// Reads one line from the terminal with echo turned off (via `stty`, where there is one).
fn prompt(text: &str) -> anyhow::Result<String> {
    eprint!("{text}");
    std::io::stderr().flush().ok();
    let stty = |arg: &str| {
        std::process::Command::new("stty")
            .arg(arg)
            .stdin(std::process::Stdio::inherit())
            .status()
            .is_ok_and(|s| s.success())
    };
    let hidden = stty("-echo");
    let mut line = String::new();
    let read = std::io::stdin().lock().read_line(&mut line);
    if hidden {
        stty("echo");
        eprintln!();
    }
    read.context("cannot read the password")?;
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_passwords_are_long_and_different() {
        let a = generate_password();
        assert_eq!(a.expose().len(), 36);
        assert_ne!(a.expose(), generate_password().expose());
    }

    #[test]
    fn the_environment_wins_over_stdin() {
        assert_eq!(read_password("x", Some("from the environment".into())).unwrap().expose(), "from the environment");
    }
}
