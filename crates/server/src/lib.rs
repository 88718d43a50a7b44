//! Rebound's HTTP server: the `/api/v1` REST API of `docs/API.md` on axum, bearer-token auth, the
//! contract's error body, and an OpenAPI document generated from the handlers.
//!
//! Layers, outside in: [`api`] (routes, extraction, responses — thin), [`service`] (every business
//! rule, calling `rebound-domain` for the rules and `rebound-store` for persistence — no SQL here),
//! with [`auth`], [`error`], [`extract`], [`dto`] and [`csv`] as the shared vocabulary, and
//! [`hardening`] (input limits, intake rate limits, security headers) around every request.
//!
//! The binary builds an [`AppState`] from a store, a clock and an [`AppConfig`], serves
//! [`router`], starts the dispatch engine ([`AppState::engine`]) and the [`retention`] task.
//! The service layer tells the engine about every write that may make something due or routable.

pub mod api;
pub mod auth;
pub mod console;
pub mod csv;
pub mod dto;
pub mod dto_access;
pub mod error;
pub mod extract;
pub mod hardening;
pub mod retention;
pub mod service;

use std::sync::Arc;

use rebound_domain::clock::Clock;
use rebound_domain::time::DEFAULT_RETENTION_DAYS;
use rebound_engine::{Engine, EngineConfig};
use rebound_store::Store;

/// Server settings the binary passes in.
#[derive(Debug, Clone, PartialEq)]
pub struct AppConfig {
    /// Days after its desired time a callback (and its history) is kept.
    pub retention_days: u32,
    /// Largest request body accepted by ordinary endpoints (default 1 MiB).
    pub max_body_bytes: usize,
    /// Largest body `POST /callbacks/import` accepts (default 32 MiB).
    pub max_import_body_bytes: usize,
    /// The dispatch engine's settings. Its `retention_days` is always taken from the field above.
    pub engine: EngineConfig,
    /// Mark the console's session cookie `Secure` (sent over HTTPS only). Turn on whenever clients
    /// reach Rebound over TLS (directly or through a TLS-terminating proxy); default off so a plain
    /// `http://localhost` console works.
    pub secure_cookies: bool,
    /// Rate limits on public intake (see [`hardening::rate`]).
    pub rate_limits: hardening::rate::RateLimits,
}

impl Default for AppConfig {
    fn default() -> Self {
        AppConfig {
            retention_days: DEFAULT_RETENTION_DAYS,
            max_body_bytes: 1024 * 1024,
            max_import_body_bytes: 32 * 1024 * 1024,
            engine: EngineConfig::default(),
            secure_cookies: false,
            rate_limits: hardening::rate::RateLimits::default(),
        }
    }
}

/// What every request handler shares: the store, the clock, the settings, the caches, the dispatch
/// engine and the live event hub. One `Arc`: axum clones the state for every request and every
/// middleware layer, and cloning a handful of `Arc`s (each an atomic increment, and a decrement on
/// drop, on a cache line both cores fight over) was measured at ~3% of the server's CPU on creates.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// The contents of [`AppState`].
pub struct Shared {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) settings: Arc<AppConfig>,
    pub(crate) tokens: Arc<auth::TokenCache>,
    /// Sign-in throttling, token-use recording and the dummy password hash (see [`auth`]).
    pub(crate) access: Arc<auth::AccessState>,
    pub(crate) config_cache: Arc<service::ConfigCache>,
    pub(crate) engine: Arc<Engine>,
    pub(crate) live: Arc<service::live::LiveHub>,
    pub(crate) limiter: Arc<hardening::rate::IntakeLimiter>,
}

impl AppState {
    /// Builds the state and the engine; the engine's background loop is not started (the binary
    /// calls `state.engine().start()`; tests drive it with `run_once`).
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>, mut config: AppConfig) -> Self {
        // One retention setting: a retried callback gets the same retention as a created one.
        config.engine.retention_days = config.retention_days;
        let engine = Engine::new(store.clone(), clock.clone(), config.engine.clone());
        AppState(Arc::new(Shared {
            live: Arc::new(service::live::LiveHub::new(store.clone())),
            limiter: Arc::new(hardening::rate::IntakeLimiter::new(&config.rate_limits)),
            store,
            clock,
            settings: Arc::new(config),
            tokens: Arc::default(),
            access: Arc::default(),
            config_cache: Arc::default(),
            engine,
        }))
    }

    pub fn engine(&self) -> &Arc<Engine> {
        &self.engine
    }

    /// Ends the open live event streams (SSE), so a graceful shutdown does not wait for them.
    pub fn close_streams(&self) {
        self.live.close();
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    pub fn config(&self) -> &AppConfig {
        &self.settings
    }
}

/// The listener to serve on: accepted connections get `TCP_NODELAY`. Without it, a small write that
/// follows another (the next event of a live stream, an answer on a keep-alive connection) waits for
/// the peer's delayed ACK (Nagle's algorithm) — measured: live events arrived 15–45 ms late.
pub fn without_nagle(
    listener: tokio::net::TcpListener,
) -> axum::serve::TapIo<tokio::net::TcpListener, fn(&mut tokio::net::TcpStream)> {
    use axum::serve::ListenerExt;
    fn no_delay(stream: &mut tokio::net::TcpStream) {
        if let Err(e) = stream.set_nodelay(true) {
            tracing::debug!(error = %e, "could not set TCP_NODELAY on a connection");
        }
    }
    listener.tap_io(no_delay as fn(&mut tokio::net::TcpStream))
}

/// The whole HTTP application: `/api/v1/…`, `/healthz`, `/readyz`, `/metrics`, `/api/openapi.json` and the
/// Swagger UI at `/api/docs`.
pub fn router(state: AppState) -> axum::Router {
    api::app(state)
}
