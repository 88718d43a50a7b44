//! The agent view: the agent's own callbacks and current offer.

use axum::Router;

use crate::AppState;

/// This part's routes (merged by [`super::router`]).
pub fn routes() -> Router<AppState> {
    Router::new()
}
