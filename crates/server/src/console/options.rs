//! Per-user options (columns, 24-hour clock, UTC, visible states and services) and saved date ranges.

use axum::Router;

use crate::AppState;

/// This part's routes (merged by [`super::router`]).
pub fn routes() -> Router<AppState> {
    Router::new()
}
