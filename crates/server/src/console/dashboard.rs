//! The dashboard: callbacks due per slot against capacity and ready agents, overdue, dispatch lag.

use axum::Router;

use crate::AppState;

/// This part's routes (merged by [`super::router`]).
pub fn routes() -> Router<AppState> {
    Router::new()
}
