//! Configuration pages (admin): campaigns, lists, queues, agents, wrap codes, users, tokens.

use axum::Router;

use crate::AppState;

/// This part's routes (merged by [`super::router`]).
pub fn routes() -> Router<AppState> {
    Router::new()
}
