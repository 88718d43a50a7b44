//! Bulk cancel and bulk delete of selected callbacks or all in a range, and CSV export of the current view.

use axum::Router;
use maud::{Markup, html};
use rebound_domain::model::Callback;

use crate::AppState;
use crate::dto::{CallbackView, Paged};

use super::session::SignedIn;

/// This part's routes (merged by [`super::router`]).
pub fn routes() -> Router<AppState> {
    Router::new()
}

/// The list's select-all header cell (only for users who may bulk cancel or delete).
pub fn select_header(_user: &SignedIn) -> Markup {
    html! {}
}

/// A row's select cell.
pub fn select_cell(_user: &SignedIn, _callback: &Callback) -> Markup {
    html! {}
}

/// The bulk actions and export above the list, for the current filters.
pub fn toolbar(_user: &SignedIn, _pairs: &[(String, String)], _found: &Paged<CallbackView>) -> Markup {
    html! {}
}
