//! Rebound's HTTP server: the `/api/v1` REST API of `docs/API.md` on axum, bearer-token auth, the
//! contract's error body, and an OpenAPI document generated from the handlers.
//!
//! Layers, outside in: [`api`] (routes, extraction, responses — thin), [`service`] (every business
//! rule, calling `rebound-domain` for the rules and `rebound-store` for persistence — no SQL here),
//! with [`auth`], [`error`], [`extract`], [`dto`] and [`csv`] as the shared vocabulary.
//!
//! The binary builds an [`AppState`] from a store, a clock and an [`AppConfig`], serves
//! [`router`], and starts the [`retention`] task.

pub mod api;
pub mod auth;
pub mod csv;
pub mod dto;
pub mod error;
pub mod extract;
pub mod retention;
pub mod service;

use std::sync::Arc;

use rebound_domain::clock::Clock;
use rebound_domain::time::DEFAULT_RETENTION_DAYS;
use rebound_store::Store;

/// Server settings the binary passes in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppConfig {
    /// Days after its desired time a callback (and its history) is kept.
    pub retention_days: u32,
    /// Largest request body accepted by ordinary endpoints (default 1 MiB).
    pub max_body_bytes: usize,
    /// Largest body `POST /callbacks/import` accepts (default 32 MiB).
    pub max_import_body_bytes: usize,
}

impl Default for AppConfig {
    fn default() -> Self {
        AppConfig {
            retention_days: DEFAULT_RETENTION_DAYS,
            max_body_bytes: 1024 * 1024,
            max_import_body_bytes: 32 * 1024 * 1024,
        }
    }
}

/// What every request handler shares: the store, the clock, the settings and the caches.
/// Cheap to clone (everything is behind an `Arc`).
#[derive(Clone)]
pub struct AppState {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) settings: Arc<AppConfig>,
    pub(crate) tokens: Arc<auth::TokenCache>,
    pub(crate) config_cache: Arc<service::ConfigCache>,
}

impl AppState {
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>, config: AppConfig) -> Self {
        AppState { store, clock, settings: Arc::new(config), tokens: Arc::default(), config_cache: Arc::default() }
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

/// The whole HTTP application: `/api/v1/…`, `/healthz`, `/readyz`, `/api/openapi.json` and the
/// Swagger UI at `/api/docs`.
pub fn router(state: AppState) -> axum::Router {
    api::app(state)
}
