//! Tools: callback search by id or phone across all time.

use axum::Router;

use crate::AppState;

/// This part's routes (merged by [`super::router`]).
pub fn routes() -> Router<AppState> {
    Router::new()
}
