//! Create, details and history, edit, reschedule, cancel, recreate, delete, lead details (pages and dialogs).

use axum::Router;
use maud::{Markup, html};
use rebound_domain::access::Principal;
use rebound_domain::model::Callback;

use crate::AppState;

/// This part's routes (merged by [`super::router`]).
pub fn routes() -> Router<AppState> {
    Router::new()
}

/// A row's options menu in the callbacks list: Details, Lead details, Edit, Reschedule, Cancel,
/// Recreate, Delete, as `principal`'s role and the callback's state allow; each opens in a dialog.
pub fn row_menu(_principal: &Principal, _callback: &Callback) -> Markup {
    html! {}
}
