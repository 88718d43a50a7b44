//! The Rebound binary's library half: everything `main.rs` runs, kept in a library so tests can call
//! it directly.
//!
//! - [`cli`]: the clap command line (serve, demo, migrate, token, bench).
//! - [`config`]: defaults → TOML file → `REBOUND_*` env → flags, parsed once into a validated `Config`.
//! - [`backend`]: opening the store the configuration names.
//! - [`serve`]: startup (store, bootstrap access, demo data), the HTTP server and graceful shutdown.
//! - [`token`]: creating API tokens, including the first admin token.
//! - [`user`]: console users (`rebound user add|passwd|disable`), including the first admin user.
//! - [`demo`]: the reproducible demo data set.

pub mod backend;
pub mod cli;
pub mod config;
pub mod demo;
pub mod serve;
pub mod token;
pub mod user;

use anyhow::Context as _;

use crate::cli::{Cli, Command, TokenCommand, UserCommand};
use crate::config::Config;

/// Runs one invocation of the binary.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve(args) => {
            let config = Config::load(&args.flags())?;
            init_tracing(&config)?;
            serve::run(config, args.demo).await
        }
        Command::Demo(args) => {
            let args = cli::ServeArgs::from(args);
            let config = Config::load(&args.flags())?;
            init_tracing(&config)?;
            serve::run(config, true).await
        }
        Command::Migrate(args) => {
            let config = Config::load(&args.flags())?;
            init_tracing(&config)?;
            let _store = backend::open_store(&config).await?;
            println!("The database is up to date ({}).", config.database);
            Ok(())
        }
        Command::Token(TokenCommand::Create(args)) => {
            let config = Config::load(&args.store.flags())?;
            init_tracing(&config)?;
            let store = backend::open_store(&config).await?;
            let role = args.role.into();
            let name = args.name.unwrap_or_else(|| format!("cli-{role}"));
            let created = token::create(store.as_ref(), &name, role).await?;
            // The secret alone on stdout, so `TOKEN=$(rebound token create …)` works; the rest on stderr.
            println!("{}", created.secret.expose());
            eprintln!(
                "Created {role} token '{name}' (id {}). The secret above is shown only this once; only its hash is stored.",
                created.id
            );
            Ok(())
        }
        Command::User(command) => run_user(command).await,
        Command::Bench(args) => rebound_bench::run(args).await.map(drop),
    }
}

/// `rebound user …`: opens the store, applies the server's user rules, says what was done on stderr.
async fn run_user(command: UserCommand) -> anyhow::Result<()> {
    let store_args = match &command {
        UserCommand::Add(args) => &args.store,
        UserCommand::Passwd(args) | UserCommand::Disable(args) => &args.store,
    };
    let config = Config::load(&store_args.flags())?;
    init_tracing(&config)?;
    let store = backend::open_store(&config).await?;
    let password_env = || std::env::var(user::PASSWORD_ENV).ok();
    match command {
        UserCommand::Add(args) => {
            let password = user::read_password(&args.username, password_env())?;
            let new = user::NewUser {
                username: args.username,
                role: args.role.into(),
                display_name: args.display_name,
                timezone: args.timezone,
                agent_id: args.agent_id,
                campaigns: args.campaigns,
                queues: args.queues,
            };
            let created = user::add(store, new, password).await?;
            eprintln!("Created {} user '{}' (id {}).", created.role, created.username, created.id);
        }
        UserCommand::Passwd(args) => {
            let password = user::read_password(&args.username, password_env())?;
            let changed = user::set_password(store, &args.username, password).await?;
            eprintln!("Set a new password for '{}'; their sessions have ended.", changed.username);
        }
        UserCommand::Disable(args) => {
            let disabled = user::disable(store, &args.username).await?;
            eprintln!("Disabled '{}'; their sessions have ended.", disabled.username);
        }
    }
    Ok(())
}

/// Logs go to stderr (stdout carries the banner and tokens), filtered by `REBOUND_LOG`.
fn init_tracing(config: &Config) -> anyhow::Result<()> {
    let filter = tracing_subscriber::EnvFilter::try_new(&config.log).context("invalid log filter")?;
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Colour only for a person at a terminal; log files and collectors get plain text.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init()
        .map_err(|e| anyhow::anyhow!("cannot start logging: {e}"))?;
    tracing::debug!(?config, "configuration loaded");
    Ok(())
}
