//! Configuration: the one place where defaults, the TOML file, `REBOUND_*` environment variables and
//! command-line flags meet, in that order of precedence (each later layer wins), and are parsed once
//! into a validated [`Config`]. Nothing else in the binary reads the environment or the file.
//!
//! | key (TOML)              | environment                      | flag             | default           |
//! |-------------------------|----------------------------------|------------------|-------------------|
//! | `data_dir`              | `REBOUND_DATA_DIR`               | `--data-dir`     | `./rebound-data`  |
//! | `listen`                | `REBOUND_LISTEN`                 | `--listen`       | `127.0.0.1:8080`  |
//! | `database_url`          | `REBOUND_DATABASE_URL`           | `--database-url` | `<data_dir>/rebound.db` |
//! | `database_pool_size`    | `REBOUND_DATABASE_POOL_SIZE`     |                  | 16                |
//! | `node_name`             | `REBOUND_NODE_NAME`              |                  | the host name     |
//! | `retention_days`        | `REBOUND_RETENTION_DAYS`         |                  | 14                |
//! | `log`                   | `REBOUND_LOG`                    |                  | `info`            |
//! | `bootstrap_token`       | `REBOUND_BOOTSTRAP_TOKEN`        |                  | none              |
//! | `bootstrap_password`    | `REBOUND_BOOTSTRAP_PASSWORD`     |                  | none (generated)  |
//! | `secure_cookies`        | `REBOUND_SECURE_COOKIES`         |                  | false             |
//! | `max_body_bytes`        | `REBOUND_MAX_BODY_BYTES`         |                  | server default    |
//! | `max_import_body_bytes` | `REBOUND_MAX_IMPORT_BODY_BYTES`  |                  | server default    |
//! | `engine.offer_timeout_secs` | `REBOUND_OFFER_TIMEOUT_SECS` | `--offer-timeout-secs` | 20          |
//!
//! `bootstrap_password` is the first `admin` user's password (at least 12 characters), used only
//! when the store has no user yet; without it a password is generated and printed once.
//! `secure_cookies = true` marks the console's session cookie `Secure`: set it whenever browsers
//! reach Rebound over HTTPS (directly or through a TLS-terminating proxy).
//!
//! `engine.offer_timeout_secs` (TOML: `[engine]` then `offer_timeout_secs = 20`) is how long an agent
//! has to accept an offer before it goes back to the queue (and the agent is set `not_ready`).
//!
//! `database_url` picks the store: a path or `sqlite://…` the embedded one, `postgres://…` (or
//! `postgresql://…`) a PostgreSQL database that several nodes may share. `database_pool_size` is the
//! most connections this node opens to PostgreSQL (every node's count is drawn from the server's
//! `max_connections`); the URL carries the rest of the driver's settings, e.g. `?connect_timeout=5`
//! (10 seconds when not given). `node_name` names this node
//! in the leader lease, the logs and `/metrics` (the process adds a unique suffix, so two nodes with
//! the same name still never both lead).
//!
//! The file is `--config FILE` (or `REBOUND_CONFIG`), else `rebound.toml` inside the data directory
//! when it exists. The data directory used to find that file comes from the flag, the environment or
//! the default — the file cannot move the place it is read from.
//!
//! Secrets ([`Secret`]) never appear in `Debug` output, so `tracing::debug!(?config)` is safe.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

pub const DEFAULT_DATA_DIR: &str = "./rebound-data";
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
pub const DEFAULT_LOG: &str = "info";
/// The config file looked for inside the data directory when no `--config` is given.
pub const DATA_DIR_CONFIG_FILE: &str = "rebound.toml";
/// A bootstrap token shorter than this is refused: it would be guessable.
pub const MIN_BOOTSTRAP_TOKEN_LEN: usize = 16;
/// The shortest password accepted anywhere (the server's rule).
pub const MIN_PASSWORD_LEN: usize = rebound_server::auth::passwords::MIN_PASSWORD_LEN;
/// Connections a node opens to PostgreSQL by default.
pub const DEFAULT_DATABASE_POOL_SIZE: u32 = 16;
/// The largest pool accepted: PostgreSQL's own default `max_connections` is 100 for all nodes.
pub const MAX_DATABASE_POOL_SIZE: u32 = 500;
/// The longest offer timeout accepted (an hour: longer means nobody is answering).
pub const MAX_OFFER_TIMEOUT_SECS: u32 = 3_600;

/// A value that must not be printed: `Debug` and `Display` show `[redacted]`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The secret itself; call sites that need it are few and obvious.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(Secret)
    }
}

/// The database file name inside a directory (the data directory, or a directory URL).
pub const SQLITE_FILE_NAME: &str = rebound_store_sqlite::SqliteStore::FILE_NAME;

/// Where the data lives, as chosen by `database_url` (or the data directory).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Database {
    /// The embedded SQLite store in this file.
    Sqlite { file: PathBuf },
    /// A PostgreSQL database (the URL may hold a password, hence a [`Secret`]).
    Postgres { url: Secret },
}

impl Database {
    /// The embedded store in `dir`'s [`SQLITE_FILE_NAME`].
    pub fn sqlite_in(dir: &Path) -> Database {
        Database::Sqlite { file: dir.join(SQLITE_FILE_NAME) }
    }
}

impl fmt::Display for Database {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Database::Sqlite { file } => write!(f, "SQLite {}", file.display()),
            Database::Postgres { url } => write!(f, "PostgreSQL {}", postgres_display(url.expose())),
        }
    }
}

/// The validated configuration every subcommand runs with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub data_dir: PathBuf,
    pub listen: SocketAddr,
    pub database: Database,
    pub retention_days: u32,
    /// A `tracing-subscriber` env-filter directive, e.g. `info` or `rebound=debug,tower_http=info`.
    pub log: String,
    /// The first admin token's secret, used only when the store has no token yet.
    pub bootstrap_token: Option<Secret>,
    /// The first `admin` user's password, used only when the store has no user yet.
    pub bootstrap_password: Option<Secret>,
    /// Mark the session cookie `Secure` (HTTPS deployments).
    pub secure_cookies: bool,
    pub max_body_bytes: usize,
    pub max_import_body_bytes: usize,
    /// Seconds an agent has to accept an offer.
    pub offer_timeout_secs: u32,
    /// This node's name in the leader lease, the logs and `/metrics`.
    pub node_name: String,
    /// The most PostgreSQL connections this node opens (not used by SQLite).
    pub database_pool_size: u32,
    /// The config file that was read, if any.
    pub config_file: Option<PathBuf>,
}

/// What the command line said; `None` = not given.
#[derive(Debug, Clone, Default)]
pub struct Flags {
    pub data_dir: Option<PathBuf>,
    pub listen: Option<String>,
    pub database_url: Option<String>,
    pub config: Option<PathBuf>,
    pub offer_timeout_secs: Option<u32>,
}

/// Why the configuration could not be loaded; each message names the key or file at fault.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    #[error("config file {} is not valid: {source}", path.display())]
    Toml { path: PathBuf, source: toml::de::Error },
    #[error("{key}: {message}")]
    Invalid { key: String, message: String },
}

fn invalid(key: &str, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid { key: key.to_string(), message: message.into() }
}

/// One layer of raw, not yet validated settings. The TOML file deserialises into it directly; the
/// environment and the flags are read into it by hand.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Layer {
    data_dir: Option<PathBuf>,
    listen: Option<String>,
    database_url: Option<String>,
    retention_days: Option<u32>,
    log: Option<String>,
    bootstrap_token: Option<Secret>,
    bootstrap_password: Option<Secret>,
    secure_cookies: Option<bool>,
    max_body_bytes: Option<usize>,
    max_import_body_bytes: Option<usize>,
    node_name: Option<String>,
    database_pool_size: Option<u32>,
    engine: Option<EngineLayer>,
}

/// The `[engine]` table.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct EngineLayer {
    offer_timeout_secs: Option<u32>,
}

impl EngineLayer {
    fn overlay(self, higher: EngineLayer) -> EngineLayer {
        EngineLayer { offer_timeout_secs: higher.offer_timeout_secs.or(self.offer_timeout_secs) }
    }
}

impl Layer {
    /// `self` with every value `higher` sets replaced by it.
    fn overlay(self, higher: Layer) -> Layer {
        Layer {
            data_dir: higher.data_dir.or(self.data_dir),
            listen: higher.listen.or(self.listen),
            database_url: higher.database_url.or(self.database_url),
            retention_days: higher.retention_days.or(self.retention_days),
            log: higher.log.or(self.log),
            bootstrap_token: higher.bootstrap_token.or(self.bootstrap_token),
            bootstrap_password: higher.bootstrap_password.or(self.bootstrap_password),
            secure_cookies: higher.secure_cookies.or(self.secure_cookies),
            max_body_bytes: higher.max_body_bytes.or(self.max_body_bytes),
            max_import_body_bytes: higher.max_import_body_bytes.or(self.max_import_body_bytes),
            node_name: higher.node_name.or(self.node_name),
            database_pool_size: higher.database_pool_size.or(self.database_pool_size),
            engine: match (self.engine, higher.engine) {
                (Some(lower), Some(higher)) => Some(lower.overlay(higher)),
                (lower, higher) => higher.or(lower),
            },
        }
    }

    fn from_env(env: &dyn Fn(&str) -> Option<String>) -> Result<Layer, ConfigError> {
        // An empty variable counts as unset: `REBOUND_LOG= rebound serve` should not mean "log nothing".
        let get = |name: &str| env(name).filter(|v| !v.trim().is_empty());
        Ok(Layer {
            data_dir: get("REBOUND_DATA_DIR").map(PathBuf::from),
            listen: get("REBOUND_LISTEN"),
            database_url: get("REBOUND_DATABASE_URL"),
            retention_days: get("REBOUND_RETENTION_DAYS")
                .map(|v| parse_number("REBOUND_RETENTION_DAYS", &v))
                .transpose()?,
            log: get("REBOUND_LOG"),
            bootstrap_token: get("REBOUND_BOOTSTRAP_TOKEN").map(Secret),
            bootstrap_password: env("REBOUND_BOOTSTRAP_PASSWORD").filter(|v| !v.is_empty()).map(Secret),
            secure_cookies: get("REBOUND_SECURE_COOKIES")
                .map(|v| parse_bool("REBOUND_SECURE_COOKIES", &v))
                .transpose()?,
            max_body_bytes: get("REBOUND_MAX_BODY_BYTES")
                .map(|v| parse_number("REBOUND_MAX_BODY_BYTES", &v))
                .transpose()?,
            max_import_body_bytes: get("REBOUND_MAX_IMPORT_BODY_BYTES")
                .map(|v| parse_number("REBOUND_MAX_IMPORT_BODY_BYTES", &v))
                .transpose()?,
            node_name: get("REBOUND_NODE_NAME"),
            database_pool_size: get("REBOUND_DATABASE_POOL_SIZE")
                .map(|v| parse_number("REBOUND_DATABASE_POOL_SIZE", &v))
                .transpose()?,
            engine: Some(EngineLayer {
                offer_timeout_secs: get("REBOUND_OFFER_TIMEOUT_SECS")
                    .map(|v| parse_number("REBOUND_OFFER_TIMEOUT_SECS", &v))
                    .transpose()?,
            }),
        })
    }

    fn from_flags(flags: &Flags) -> Layer {
        Layer {
            data_dir: flags.data_dir.clone(),
            listen: flags.listen.clone(),
            database_url: flags.database_url.clone(),
            engine: Some(EngineLayer { offer_timeout_secs: flags.offer_timeout_secs }),
            ..Layer::default()
        }
    }
}

fn parse_bool(key: &str, value: &str) -> Result<bool, ConfigError> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" => Ok(false),
        _ => Err(invalid(key, format!("'{value}' is not true or false"))),
    }
}

fn parse_number<T: std::str::FromStr>(key: &str, value: &str) -> Result<T, ConfigError> {
    value.trim().parse().map_err(|_| invalid(key, format!("'{value}' is not a non-negative whole number")))
}

impl Config {
    /// Loads the configuration from the real process environment.
    pub fn load(flags: &Flags) -> Result<Config, ConfigError> {
        Config::load_with(flags, &|name| std::env::var(name).ok())
    }

    /// Loads the configuration with `env` standing in for the process environment (tests).
    pub fn load_with(flags: &Flags, env: &dyn Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let env_layer = Layer::from_env(env)?;
        let flag_layer = Layer::from_flags(flags);

        let config_file =
            match flags.config.clone().or_else(|| env("REBOUND_CONFIG").filter(|v| !v.is_empty()).map(PathBuf::from)) {
                Some(explicit) => Some(explicit),
                None => {
                    let dir = flag_layer
                        .data_dir
                        .clone()
                        .or_else(|| env_layer.data_dir.clone())
                        .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR));
                    let candidate = dir.join(DATA_DIR_CONFIG_FILE);
                    candidate.is_file().then_some(candidate)
                }
            };
        let file_layer = match &config_file {
            Some(path) => read_file_layer(path)?,
            None => Layer::default(),
        };

        let merged = file_layer.overlay(env_layer).overlay(flag_layer);
        Config::validate(merged, config_file)
    }

    fn validate(layer: Layer, config_file: Option<PathBuf>) -> Result<Config, ConfigError> {
        let defaults = rebound_server::AppConfig::default();
        let data_dir = layer.data_dir.unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR));
        if data_dir.as_os_str().is_empty() {
            return Err(invalid("data_dir", "must not be empty"));
        }

        let listen_text = layer.listen.unwrap_or_else(|| DEFAULT_LISTEN.to_string());
        let listen: SocketAddr = listen_text.trim().parse().map_err(|_| {
            invalid("listen", format!("'{listen_text}' is not an address and port like 127.0.0.1:8080 or [::1]:8080"))
        })?;

        let database = match layer.database_url.as_deref() {
            None => Database::sqlite_in(&data_dir),
            Some(url) => parse_database_url(url)?,
        };

        let retention_days = layer.retention_days.unwrap_or(defaults.retention_days);
        if retention_days == 0 {
            return Err(invalid("retention_days", "must be at least 1 day"));
        }

        let log = layer.log.unwrap_or_else(|| DEFAULT_LOG.to_string());
        tracing_subscriber::EnvFilter::try_new(&log)
            .map_err(|e| invalid("log", format!("'{log}' is not a log filter ({e})")))?;

        if let Some(token) = &layer.bootstrap_token {
            let t = token.expose();
            if t.chars().count() < MIN_BOOTSTRAP_TOKEN_LEN {
                return Err(invalid(
                    "bootstrap_token",
                    format!("must be at least {MIN_BOOTSTRAP_TOKEN_LEN} characters (it guards admin access)"),
                ));
            }
            // It travels in an `Authorization: Bearer` header: visible ASCII only.
            if !t.chars().all(|c| c.is_ascii_graphic()) {
                return Err(invalid("bootstrap_token", "may only contain visible ASCII characters (no spaces)"));
            }
        }

        if let Some(password) = &layer.bootstrap_password
            && password.expose().chars().count() < MIN_PASSWORD_LEN
        {
            return Err(invalid("bootstrap_password", format!("must be at least {MIN_PASSWORD_LEN} characters")));
        }

        let max_body_bytes = layer.max_body_bytes.unwrap_or(defaults.max_body_bytes);
        let max_import_body_bytes = layer.max_import_body_bytes.unwrap_or(defaults.max_import_body_bytes);
        if max_body_bytes == 0 {
            return Err(invalid("max_body_bytes", "must be greater than 0"));
        }
        if max_import_body_bytes == 0 {
            return Err(invalid("max_import_body_bytes", "must be greater than 0"));
        }

        let default_offer_timeout = u32::try_from(defaults.engine.offer_timeout.as_secs()).unwrap_or(20);
        let offer_timeout_secs = layer.engine.and_then(|e| e.offer_timeout_secs).unwrap_or(default_offer_timeout);
        if offer_timeout_secs == 0 || offer_timeout_secs > MAX_OFFER_TIMEOUT_SECS {
            return Err(invalid(
                "engine.offer_timeout_secs",
                format!("must be between 1 and {MAX_OFFER_TIMEOUT_SECS} seconds"),
            ));
        }

        let database_pool_size = layer.database_pool_size.unwrap_or(DEFAULT_DATABASE_POOL_SIZE);
        if !(2..=MAX_DATABASE_POOL_SIZE).contains(&database_pool_size) {
            // Two at least: the event watcher holds one while requests use the others.
            return Err(invalid("database_pool_size", format!("must be between 2 and {MAX_DATABASE_POOL_SIZE}")));
        }

        let node_name = match layer.node_name {
            Some(name) => valid_node_name(name.trim())
                .ok_or_else(|| invalid("node_name", "must be 1–64 letters, digits, '.', '_' or '-'"))?,
            None => default_node_name(),
        };

        Ok(Config {
            data_dir,
            listen,
            database,
            retention_days,
            log,
            bootstrap_token: layer.bootstrap_token,
            bootstrap_password: layer.bootstrap_password,
            secure_cookies: layer.secure_cookies.unwrap_or(defaults.secure_cookies),
            max_body_bytes,
            max_import_body_bytes,
            offer_timeout_secs,
            node_name,
            database_pool_size,
            config_file,
        })
    }

    /// The settings the HTTP server (and its dispatch engine) takes.
    pub fn app_config(&self) -> rebound_server::AppConfig {
        let defaults = rebound_server::AppConfig::default();
        rebound_server::AppConfig {
            retention_days: self.retention_days,
            max_body_bytes: self.max_body_bytes,
            max_import_body_bytes: self.max_import_body_bytes,
            engine: rebound_engine::EngineConfig {
                offer_timeout: jiff::SignedDuration::from_secs(i64::from(self.offer_timeout_secs)),
                retention_days: self.retention_days,
                node_name: self.node_name.clone(),
                ..defaults.engine.clone()
            },
            secure_cookies: self.secure_cookies,
            // Settings without a configuration key yet keep the server's defaults.
            ..defaults
        }
    }
}

fn read_file_layer(path: &Path) -> Result<Layer, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io { path: path.to_path_buf(), source })?;
    toml::from_str(&text).map_err(|source| ConfigError::Toml { path: path.to_path_buf(), source })
}

/// Reads a database URL: `sqlite:///abs/path`, `sqlite://rel/path`, `sqlite:path` or a plain path
/// select the embedded store; `postgres://…` and `postgresql://…` a PostgreSQL database (checked
/// here, connected to when the store opens).
///
/// The path names the database file when it has an extension (`rebound.db`, `calls.sqlite`) and is
/// not an existing directory; otherwise it is a directory holding [`SQLITE_FILE_NAME`].
pub fn parse_database_url(url: &str) -> Result<Database, ConfigError> {
    let url = url.trim();
    if url.is_empty() {
        return Err(invalid("database_url", "must not be empty"));
    }
    let lower = url.to_ascii_lowercase();
    if lower.starts_with("postgres://") || lower.starts_with("postgresql://") {
        return parse_postgres_url(url);
    }
    if lower.starts_with("postgres:") || lower.starts_with("postgresql:") {
        // Not a file named "postgres:…": a URL missing its slashes.
        return Err(invalid("database_url", "write a PostgreSQL URL as postgres://user@host:5432/database"));
    }
    let path = if let Some(rest) = strip_prefix_ci(url, "sqlite://") {
        rest
    } else if let Some(rest) = strip_prefix_ci(url, "sqlite:") {
        rest
    } else if let Some((scheme, _)) = url.split_once("://") {
        return Err(invalid(
            "database_url",
            format!("unsupported scheme '{scheme}://' (use postgres://…, sqlite:///path or a plain path)"),
        ));
    } else {
        url
    };
    // Query parameters (`?mode=rwc`) are a habit from other tools; Rebound chooses its own pragmas.
    let path = path.split('?').next().unwrap_or_default();
    if path.is_empty() {
        return Err(invalid("database_url", format!("'{url}' names no path")));
    }
    let path = PathBuf::from(path);
    let is_dir = path.is_dir() || path.extension().is_none() || path.to_string_lossy().ends_with('/');
    Ok(if is_dir { Database::sqlite_in(&path) } else { Database::Sqlite { file: path } })
}

/// A `postgres://user:password@host:port/database?options` URL, parsed by the driver itself so that
/// what passes here also connects (or fails only for reasons of the network or the server).
fn parse_postgres_url(url: &str) -> Result<Database, ConfigError> {
    let config: tokio_postgres::Config = url
        .parse()
        // The driver's message never repeats the URL, so no password reaches the error.
        .map_err(|e| invalid("database_url", format!("not a PostgreSQL URL ({e})")))?;
    if config.get_dbname().is_none() {
        return Err(invalid("database_url", "names no database (postgres://user@host:5432/database)"));
    }
    Ok(Database::Postgres { url: Secret::new(url) })
}

/// A PostgreSQL URL for logs and messages: user, hosts, ports and database, never the password.
fn postgres_display(url: &str) -> String {
    let Ok(config) = url.parse::<tokio_postgres::Config>() else { return "(an invalid URL)".into() };
    let hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .enumerate()
        .map(|(i, host)| {
            let name = match host {
                tokio_postgres::config::Host::Tcp(name) => name.clone(),
                tokio_postgres::config::Host::Unix(path) => path.display().to_string(),
            };
            match config.get_ports().get(i).or(config.get_ports().first()) {
                Some(port) => format!("{name}:{port}"),
                None => name,
            }
        })
        .collect();
    let user = config.get_user().map(|u| format!("{u}@")).unwrap_or_default();
    format!("postgres://{user}{}/{}", hosts.join(","), config.get_dbname().unwrap_or_default())
}

/// `name` if it is a usable node name.
fn valid_node_name(name: &str) -> Option<String> {
    let ok = (1..=64).contains(&name.len())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    ok.then(|| name.to_string())
}

/// The host name (what an operator recognises a node by), or `rebound` when it cannot be read.
fn default_node_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .and_then(|name| valid_node_name(name.trim()))
        .unwrap_or_else(|| "rebound".to_string())
}

fn strip_prefix_ci<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix).then(|| &text[prefix.len()..])
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
        let map: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |name| map.get(name).cloned()
    }

    fn write_toml(dir: &Path, name: &str, text: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn defaults_apply_when_nothing_is_set() {
        let tmp = tempfile::tempdir().unwrap();
        // A data dir without rebound.toml, so no file layer.
        let flags = Flags { data_dir: Some(tmp.path().to_path_buf()), ..Flags::default() };
        let c = Config::load_with(&flags, &env_of(&[])).unwrap();
        assert_eq!(c.listen, DEFAULT_LISTEN.parse::<SocketAddr>().unwrap());
        assert_eq!(c.database, Database::sqlite_in(tmp.path()));
        assert_eq!(c.retention_days, rebound_server::AppConfig::default().retention_days);
        assert_eq!(c.log, "info");
        assert_eq!(c.bootstrap_token, None);
        assert_eq!(c.config_file, None);
    }

    #[test]
    fn default_data_dir_is_rebound_data() {
        // No flag, no env: the default directory (which does not exist here, so no file is read).
        let c = Config::load_with(&Flags::default(), &env_of(&[])).unwrap();
        assert_eq!(c.data_dir, PathBuf::from(DEFAULT_DATA_DIR));
    }

    #[test]
    fn file_overrides_defaults_env_overrides_file_flags_override_env() {
        let tmp = tempfile::tempdir().unwrap();
        let file = write_toml(
            tmp.path(),
            "custom.toml",
            r#"
                listen = "127.0.0.1:7001"
                retention_days = 30
                log = "debug"
                max_body_bytes = 1000
            "#,
        );
        let flags_file_only =
            Flags { config: Some(file.clone()), data_dir: Some(tmp.path().into()), ..Flags::default() };

        // file over defaults
        let c = Config::load_with(&flags_file_only, &env_of(&[])).unwrap();
        assert_eq!(c.listen.port(), 7001);
        assert_eq!(c.retention_days, 30);
        assert_eq!(c.log, "debug");
        assert_eq!(c.max_body_bytes, 1000);
        assert_eq!(c.config_file.as_deref(), Some(file.as_path()));

        // env over file
        let env = env_of(&[("REBOUND_LISTEN", "127.0.0.1:7002"), ("REBOUND_RETENTION_DAYS", "7")]);
        let c = Config::load_with(&flags_file_only, &env).unwrap();
        assert_eq!(c.listen.port(), 7002);
        assert_eq!(c.retention_days, 7);
        assert_eq!(c.log, "debug", "a key the env does not set keeps the file's value");

        // flags over env
        let flags = Flags { listen: Some("127.0.0.1:7003".into()), ..flags_file_only };
        let c = Config::load_with(&flags, &env).unwrap();
        assert_eq!(c.listen.port(), 7003);
        assert_eq!(c.retention_days, 7);
    }

    #[test]
    fn rebound_toml_in_the_data_dir_is_read_when_no_file_is_named() {
        let tmp = tempfile::tempdir().unwrap();
        let file = write_toml(tmp.path(), DATA_DIR_CONFIG_FILE, "retention_days = 21\n");
        let env = env_of(&[("REBOUND_DATA_DIR", tmp.path().to_str().unwrap())]);
        let c = Config::load_with(&Flags::default(), &env).unwrap();
        assert_eq!(c.retention_days, 21);
        assert_eq!(c.config_file, Some(file));
        assert_eq!(c.data_dir, tmp.path());
    }

    #[test]
    fn data_dir_flag_beats_env_and_moves_the_database() {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        let env = env_of(&[("REBOUND_DATA_DIR", a.path().to_str().unwrap())]);
        let flags = Flags { data_dir: Some(b.path().into()), ..Flags::default() };
        let c = Config::load_with(&flags, &env).unwrap();
        assert_eq!(c.data_dir, b.path());
        assert_eq!(c.database, Database::sqlite_in(b.path()));
    }

    #[test]
    fn database_url_env_is_overridden_by_flag() {
        let env = env_of(&[("REBOUND_DATABASE_URL", "sqlite:///from/env.db")]);
        let c = Config::load_with(&Flags::default(), &env).unwrap();
        assert_eq!(c.database, Database::Sqlite { file: "/from/env.db".into() });
        let flags = Flags { database_url: Some("/from/flag".into()), ..Flags::default() };
        let c = Config::load_with(&flags, &env).unwrap();
        assert_eq!(c.database, Database::sqlite_in(Path::new("/from/flag")));
    }

    #[test]
    fn database_urls_select_the_backend() {
        let file = |p: &str| Database::Sqlite { file: p.into() };
        assert_eq!(
            parse_database_url("sqlite:///var/lib/rebound/calls.db").unwrap(),
            file("/var/lib/rebound/calls.db")
        );
        assert_eq!(parse_database_url("sqlite:///var/lib/rebound").unwrap(), file("/var/lib/rebound/rebound.db"));
        assert_eq!(parse_database_url("sqlite://data/x.sqlite").unwrap(), file("data/x.sqlite"));
        assert_eq!(parse_database_url("SQLITE:data.db?mode=rwc").unwrap(), file("data.db"));
        assert_eq!(parse_database_url("./plain/path").unwrap(), file("./plain/path/rebound.db"));
        assert_eq!(parse_database_url("/tmp/with.dot/").unwrap(), file("/tmp/with.dot/rebound.db"));
        let existing_dir = tempfile::tempdir().unwrap();
        let dotted = existing_dir.path().join("v1.2");
        std::fs::create_dir(&dotted).unwrap();
        assert_eq!(parse_database_url(dotted.to_str().unwrap()).unwrap(), Database::sqlite_in(&dotted));
        for pg in ["postgres://u:p@h/db", "postgresql://h:5433/db?connect_timeout=5"] {
            let database = parse_database_url(pg).unwrap();
            assert_eq!(database, Database::Postgres { url: Secret::new(pg) });
        }
        assert!(parse_database_url("postgres://h").unwrap_err().to_string().contains("names no database"));
        assert!(parse_database_url("postgres:h/db").unwrap_err().to_string().contains("postgres://"));
        assert!(parse_database_url("postgres://h:notaport/db").unwrap_err().to_string().contains("database_url"));
        assert!(parse_database_url("mysql://h/db").unwrap_err().to_string().contains("unsupported scheme"));
        assert!(parse_database_url("sqlite://").is_err());
    }

    #[test]
    fn a_postgres_url_selects_postgres_and_its_password_is_never_shown() {
        let env = env_of(&[("REBOUND_DATABASE_URL", "postgres://rebound:s3cret@db.example:5433/calls")]);
        let c = Config::load_with(&Flags::default(), &env).unwrap();
        assert!(matches!(&c.database, Database::Postgres { url } if url.expose().contains("s3cret")));
        assert_eq!(c.database.to_string(), "PostgreSQL postgres://rebound@db.example:5433/calls");
        assert!(!format!("{c:?}").contains("s3cret"));

        let file = tempfile::tempdir().unwrap();
        let toml = write_toml(file.path(), "pg.toml", "database_url = \"postgresql://h/from_file\"\n");
        let c = Config::load_with(&Flags { config: Some(toml), ..Flags::default() }, &env_of(&[])).unwrap();
        assert_eq!(c.database.to_string(), "PostgreSQL postgres://h:5432/from_file");
    }

    #[test]
    fn the_node_name_defaults_to_the_host_and_reaches_the_engine() {
        let c = Config::load_with(&Flags::default(), &env_of(&[])).unwrap();
        assert!(valid_node_name(&c.node_name).is_some(), "{}", c.node_name);
        let c = Config::load_with(&Flags::default(), &env_of(&[("REBOUND_NODE_NAME", "node-b")])).unwrap();
        assert_eq!(c.node_name, "node-b");
        assert_eq!(c.app_config().engine.node_name, "node-b");
    }

    #[test]
    fn secrets_are_redacted_in_debug_output() {
        let env = env_of(&[("REBOUND_BOOTSTRAP_TOKEN", "s3cret-s3cret-s3cret")]);
        let c = Config::load_with(&Flags::default(), &env).unwrap();
        assert_eq!(c.bootstrap_token.as_ref().map(Secret::expose), Some("s3cret-s3cret-s3cret"));
        let shown = format!("{c:?}");
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(shown.contains("[redacted]"), "{shown}");
    }

    #[test]
    fn bad_values_are_refused_with_the_key_named() {
        let cases: &[(&[(&str, &str)], &str)] = &[
            (&[("REBOUND_RETENTION_DAYS", "two weeks")], "REBOUND_RETENTION_DAYS"),
            (&[("REBOUND_RETENTION_DAYS", "0")], "retention_days"),
            (&[("REBOUND_LISTEN", "localhost")], "listen"),
            (&[("REBOUND_BOOTSTRAP_TOKEN", "short")], "bootstrap_token"),
            (&[("REBOUND_BOOTSTRAP_TOKEN", "has spaces in the middle")], "bootstrap_token"),
            (&[("REBOUND_BOOTSTRAP_PASSWORD", "too short")], "bootstrap_password"),
            (&[("REBOUND_SECURE_COOKIES", "maybe")], "REBOUND_SECURE_COOKIES"),
            (&[("REBOUND_LOG", "rebound=loud")], "log"),
            (&[("REBOUND_DATABASE_URL", "postgres://localhost")], "database_url"),
            (&[("REBOUND_NODE_NAME", "has spaces")], "node_name"),
            (&[("REBOUND_NODE_NAME", "a/b")], "node_name"),
        ];
        for (pairs, needle) in cases {
            let err = Config::load_with(&Flags::default(), &env_of(pairs)).unwrap_err().to_string();
            assert!(err.contains(needle), "{pairs:?}: {err}");
        }
    }

    #[test]
    fn unknown_keys_in_the_file_are_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let file = write_toml(tmp.path(), "c.toml", "listne = \"127.0.0.1:1\"\n");
        let flags = Flags { config: Some(file), ..Flags::default() };
        let err = Config::load_with(&flags, &env_of(&[])).unwrap_err().to_string();
        assert!(err.contains("listne"), "{err}");
    }

    #[test]
    fn a_named_config_file_that_is_missing_is_an_error() {
        let flags = Flags { config: Some("/nonexistent/rebound.toml".into()), ..Flags::default() };
        assert!(matches!(Config::load_with(&flags, &env_of(&[])), Err(ConfigError::Io { .. })));
    }

    #[test]
    fn the_database_pool_size_comes_from_file_or_env_and_stays_in_range() {
        let tmp = tempfile::tempdir().unwrap();
        let flags = Flags { data_dir: Some(tmp.path().into()), ..Flags::default() };
        assert_eq!(Config::load_with(&flags, &env_of(&[])).unwrap().database_pool_size, DEFAULT_DATABASE_POOL_SIZE);

        let file = write_toml(tmp.path(), "p.toml", "database_pool_size = 24\n");
        let with_file = Flags { config: Some(file), ..flags.clone() };
        assert_eq!(Config::load_with(&with_file, &env_of(&[])).unwrap().database_pool_size, 24);
        let env = env_of(&[("REBOUND_DATABASE_POOL_SIZE", "40")]);
        assert_eq!(Config::load_with(&with_file, &env).unwrap().database_pool_size, 40, "the environment wins");

        for bad in ["1", "501", "many"] {
            let err =
                Config::load_with(&flags, &env_of(&[("REBOUND_DATABASE_POOL_SIZE", bad)])).unwrap_err().to_string();
            assert!(err.contains("DATABASE_POOL_SIZE") || err.contains("database_pool_size"), "{bad}: {err}");
        }
    }

    #[test]
    fn offer_timeout_layers_from_file_env_and_flag() {
        let tmp = tempfile::tempdir().unwrap();
        let c =
            Config::load_with(&Flags { data_dir: Some(tmp.path().into()), ..Flags::default() }, &env_of(&[])).unwrap();
        assert_eq!(c.offer_timeout_secs, 20);
        assert_eq!(c.app_config().engine.offer_timeout, jiff::SignedDuration::from_secs(20));

        let file = write_toml(tmp.path(), "e.toml", "retention_days = 9\n[engine]\noffer_timeout_secs = 45\n");
        let flags = Flags { config: Some(file), data_dir: Some(tmp.path().into()), ..Flags::default() };
        let c = Config::load_with(&flags, &env_of(&[])).unwrap();
        assert_eq!(c.offer_timeout_secs, 45);
        assert_eq!(c.app_config().engine.retention_days, 9, "the engine keeps the server's retention");

        let env = env_of(&[("REBOUND_OFFER_TIMEOUT_SECS", "30")]);
        assert_eq!(Config::load_with(&flags, &env).unwrap().offer_timeout_secs, 30);

        let flags = Flags { offer_timeout_secs: Some(5), ..flags };
        assert_eq!(Config::load_with(&flags, &env).unwrap().offer_timeout_secs, 5);

        for bad in ["0", "3601"] {
            let err = Config::load_with(&Flags::default(), &env_of(&[("REBOUND_OFFER_TIMEOUT_SECS", bad)]))
                .unwrap_err()
                .to_string();
            assert!(err.contains("engine.offer_timeout_secs"), "{err}");
        }
    }

    #[test]
    fn secure_cookies_and_the_bootstrap_password_layer_like_the_rest() {
        let c = Config::load_with(&Flags::default(), &env_of(&[])).unwrap();
        assert!(!c.secure_cookies && !c.app_config().secure_cookies);
        assert_eq!(c.bootstrap_password, None);
        let env = env_of(&[("REBOUND_SECURE_COOKIES", "true"), ("REBOUND_BOOTSTRAP_PASSWORD", "twelve chars!")]);
        let c = Config::load_with(&Flags::default(), &env).unwrap();
        assert!(c.app_config().secure_cookies);
        assert_eq!(c.bootstrap_password.as_ref().map(Secret::expose), Some("twelve chars!"));
        assert!(!format!("{c:?}").contains("twelve"), "redacted");
    }

    #[test]
    fn empty_env_values_count_as_unset() {
        let c = Config::load_with(&Flags::default(), &env_of(&[("REBOUND_LOG", ""), ("REBOUND_LISTEN", " ")])).unwrap();
        assert_eq!(c.log, "info");
        assert_eq!(c.listen.port(), 8080);
    }
}
