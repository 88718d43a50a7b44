//! The Rebound binary's library half: everything `main.rs` runs, kept in a library so tests can call
//! it directly.
//!
//! - [`cli`]: the clap command line (serve, demo, migrate, token, bench).
//! - [`config`]: defaults → TOML file → `REBOUND_*` env → flags, parsed once into a validated `Config`.
//! - [`backend`]: opening the store the configuration names.
//! - [`serve`]: startup (store, bootstrap access, demo data), the HTTP server and graceful shutdown.
//! - [`token`]: creating API tokens, including the first admin token.
//! - [`demo`]: the reproducible demo data set.

pub mod backend;
pub mod cli;
pub mod config;
pub mod demo;
pub mod serve;
pub mod token;

use anyhow::Context as _;

use crate::cli::{Cli, Command, TokenCommand};
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
            let _store = backend::open_store(&config.database).await?;
            println!("The database is up to date ({}).", config.database);
            Ok(())
        }
        Command::Token(TokenCommand::Create(args)) => {
            let config = Config::load(&args.store.flags())?;
            init_tracing(&config)?;
            let store = backend::open_store(&config.database).await?;
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
        Command::Bench(args) => rebound_bench::run(args).await.map(drop),
    }
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
