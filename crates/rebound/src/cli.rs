//! The command line: clap definitions only. Turning flags into settings is [`crate::config`]'s job;
//! running a subcommand is [`crate::run`]'s.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use rebound_domain::access::Role;

use crate::config::Flags;
use rebound_bench::BenchArgs;

#[derive(Debug, Parser)]
#[command(
    name = "rebound",
    version,
    about = "Rebound: callback management server for contact centres",
    long_about = "Rebound: callback management server for contact centres.\n\n\
        Settings come from defaults, then a TOML file (--config, or rebound.toml in the data directory), \
        then REBOUND_* environment variables (REBOUND_DATA_DIR, REBOUND_LISTEN, REBOUND_DATABASE_URL, \
        REBOUND_RETENTION_DAYS, REBOUND_LOG, REBOUND_BOOTSTRAP_TOKEN, REBOUND_BOOTSTRAP_PASSWORD, \
        REBOUND_SECURE_COOKIES, REBOUND_MAX_BODY_BYTES, \
        REBOUND_MAX_IMPORT_BODY_BYTES, REBOUND_OFFER_TIMEOUT_SECS, REBOUND_NODE_NAME, REBOUND_CONFIG), then flags; each later \
        source wins."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server (API, console) until SIGTERM or Ctrl-C.
    Serve(ServeArgs),
    /// Run the server with demo data loaded into an empty store (the same as `serve --demo`).
    Demo(DemoArgs),
    /// Create or upgrade the database schema, then exit.
    Migrate(StoreArgs),
    /// Manage API tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Manage console users (passwords come from REBOUND_USER_PASSWORD, a prompt, or stdin).
    #[command(subcommand)]
    User(UserCommand),
    /// Measure throughput and latency against a store.
    Bench(BenchArgs),
}

/// Where the data lives; shared by every subcommand that opens the store.
#[derive(Debug, Clone, Default, Args)]
pub struct StoreArgs {
    /// Directory for the embedded database and an optional rebound.toml [default: ./rebound-data].
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// `postgres://user@host:5432/database` (several nodes may share it), or `sqlite:///path/to/rebound.db`
    /// or a file or directory path (the embedded store).
    #[arg(long, value_name = "URL")]
    pub database_url: Option<String>,
    /// A TOML configuration file [default: rebound.toml in the data directory, if present].
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

#[derive(Debug, Clone, Default, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// Address and port to listen on [default: 127.0.0.1:8080].
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,
    /// Load demo data first when the store has no campaigns.
    #[arg(long)]
    pub demo: bool,
    /// Seconds an agent has to accept an offer before it goes back to the queue [default: 20].
    #[arg(long, value_name = "SECS")]
    pub offer_timeout_secs: Option<u32>,
}

#[derive(Debug, Clone, Default, Args)]
pub struct DemoArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// Address and port to listen on [default: 127.0.0.1:8080].
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,
    /// Seconds an agent has to accept an offer before it goes back to the queue [default: 20].
    #[arg(long, value_name = "SECS")]
    pub offer_timeout_secs: Option<u32>,
}

impl From<DemoArgs> for ServeArgs {
    fn from(args: DemoArgs) -> Self {
        ServeArgs { store: args.store, listen: args.listen, demo: true, offer_timeout_secs: args.offer_timeout_secs }
    }
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create an API token and print its secret (shown only this once; only a hash is stored).
    Create(TokenCreateArgs),
}

#[derive(Debug, Clone, Args)]
pub struct TokenCreateArgs {
    /// What the token may do.
    #[arg(long, value_enum)]
    pub role: RoleArg,
    /// A name to recognise the token by (shown in audit events) [default: cli-<role>].
    #[arg(long)]
    pub name: Option<String>,
    #[command(flatten)]
    pub store: StoreArgs,
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user. The password is read from REBOUND_USER_PASSWORD, else prompted for (or the
    /// first line of stdin); never from an argument.
    Add(UserAddArgs),
    /// Set a new password for a user (ends their sessions and clears a lockout).
    Passwd(UserNameArgs),
    /// Disable a user (they cannot sign in; their sessions end).
    Disable(UserNameArgs),
}

#[derive(Debug, Clone, Args)]
pub struct UserAddArgs {
    /// 1–64 letters, digits, '.', '_', '-' or '@'.
    #[arg(long)]
    pub username: String,
    #[arg(long, value_enum)]
    pub role: RoleArg,
    /// [default: the username]
    #[arg(long)]
    pub display_name: Option<String>,
    /// IANA timezone the console shows times in [default: UTC].
    #[arg(long)]
    pub timezone: Option<String>,
    /// The agent record the user acts as (required for --role agent).
    #[arg(long)]
    pub agent_id: Option<i64>,
    /// Limit the user to these campaign ids (comma-separated).
    #[arg(long, value_delimiter = ',')]
    pub campaigns: Vec<i64>,
    /// Limit the user to these queue ids (comma-separated).
    #[arg(long, value_delimiter = ',')]
    pub queues: Vec<i64>,
    #[command(flatten)]
    pub store: StoreArgs,
}

#[derive(Debug, Clone, Args)]
pub struct UserNameArgs {
    pub username: String,
    #[command(flatten)]
    pub store: StoreArgs,
}

/// The roles as clap values (so `--help` lists them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RoleArg {
    Admin,
    Supervisor,
    Monitor,
    Agent,
}

impl From<RoleArg> for Role {
    fn from(role: RoleArg) -> Self {
        match role {
            RoleArg::Admin => Role::Admin,
            RoleArg::Supervisor => Role::Supervisor,
            RoleArg::Monitor => Role::Monitor,
            RoleArg::Agent => Role::Agent,
        }
    }
}

impl StoreArgs {
    pub fn flags(&self) -> Flags {
        Flags {
            data_dir: self.data_dir.clone(),
            listen: None,
            database_url: self.database_url.clone(),
            config: self.config.clone(),
            offer_timeout_secs: None,
        }
    }
}

impl ServeArgs {
    pub fn flags(&self) -> Flags {
        Flags { listen: self.listen.clone(), offer_timeout_secs: self.offer_timeout_secs, ..self.store.flags() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn demo_is_serve_with_demo_data() {
        let cli = Cli::try_parse_from(["rebound", "demo", "--data-dir", "/tmp/x", "--listen", "127.0.0.1:1"]).unwrap();
        let Command::Demo(args) = cli.command else { panic!("not demo") };
        let serve = ServeArgs::from(args);
        assert!(serve.demo);
        assert_eq!(serve.flags().listen.as_deref(), Some("127.0.0.1:1"));
        assert_eq!(serve.flags().data_dir, Some(PathBuf::from("/tmp/x")));
        let cli = Cli::try_parse_from(["rebound", "serve", "--offer-timeout-secs", "7"]).unwrap();
        let Command::Serve(args) = cli.command else { panic!("not serve") };
        assert_eq!(args.flags().offer_timeout_secs, Some(7));
    }

    #[test]
    fn user_commands_take_no_password_argument() {
        let cli = Cli::try_parse_from([
            "rebound",
            "user",
            "add",
            "--username",
            "ann",
            "--role",
            "agent",
            "--agent-id",
            "3",
            "--campaigns",
            "1,2",
        ])
        .unwrap();
        let Command::User(UserCommand::Add(args)) = cli.command else { panic!("not user add") };
        assert_eq!((args.username.as_str(), args.agent_id, args.campaigns), ("ann", Some(3), vec![1, 2]));
        assert!(
            Cli::try_parse_from(["rebound", "user", "add", "--username", "a", "--role", "admin", "--password", "x"])
                .is_err()
        );
        let cli = Cli::try_parse_from(["rebound", "user", "passwd", "ann"]).unwrap();
        assert!(matches!(cli.command, Command::User(UserCommand::Passwd(a)) if a.username == "ann"));
        assert!(Cli::try_parse_from(["rebound", "user", "disable"]).is_err());
    }

    #[test]
    fn token_create_needs_a_known_role() {
        let cli =
            Cli::try_parse_from(["rebound", "token", "create", "--role", "monitor", "--name", "wallboard"]).unwrap();
        let Command::Token(TokenCommand::Create(args)) = cli.command else { panic!("not token create") };
        assert_eq!(Role::from(args.role), Role::Monitor);
        assert_eq!(args.name.as_deref(), Some("wallboard"));
        assert!(Cli::try_parse_from(["rebound", "token", "create", "--role", "root"]).is_err());
        assert!(Cli::try_parse_from(["rebound", "token", "create"]).is_err());
    }
}
