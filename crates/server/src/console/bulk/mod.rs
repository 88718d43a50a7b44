//! Bulk actions on the callbacks list: cancel the selected rows or all in the current time range,
//! delete the selected rows (admins), and export the current view as CSV.
//!
//! The list ([`super::callbacks`]) calls the three hooks here: [`select_header`] and
//! [`select_cell`] (a checkbox per row, for users who may bulk cancel or delete) and [`toolbar`]
//! (above the pager). The checkboxes belong to the toolbar's `GET` form through their `form`
//! attribute, so without a script "Cancel selected" opens the confirmation page with
//! `?ids=…&ids=…`; `bulk.js` opens the same page in a dialog instead.
//!
//! - [`cancel`]: `/callbacks/bulk-cancel` — what a bulk cancel would do (`GET`), and doing it
//!   through `service::bulk::bulk_cancel` (`POST`), with the link to the Cancellation Summary Report.
//! - [`delete`]: `/callbacks/bulk-delete` — the same for deleting, one `service::operations::delete`
//!   per id.
//! - [`selection`]: reading what a bulk page acts on, and the pieces the pages share.
//!
//! The files are the API's own: the export link is `GET /api/v1/callbacks.csv` with the list's
//! filters and the report is `GET /api/v1/reports/cancellations/{id}.csv`. A `GET` with the session
//! cookie needs no CSRF token, both answer as attachments (the browser downloads them), stream
//! their rows, and apply role and scope exactly as for an integration — one implementation of
//! each file, not a console copy.

pub mod cancel;
pub mod delete;
pub mod selection;

use axum::Router;
use axum::routing::get;
use maud::{Markup, html};
use rebound_domain::access::{Permission, Principal};
use rebound_domain::model::Callback;

use crate::AppState;
use crate::dto::{CallbackView, Paged};
use crate::service::callbacks::FILTER_PARAMS;

use super::session::SignedIn;
use selection::{Selection, pairs_query};

/// The confirmation pages' paths.
pub const CANCEL_PATH: &str = "/callbacks/bulk-cancel";
pub const DELETE_PATH: &str = "/callbacks/bulk-delete";
/// The API's files, read with the session cookie.
pub const EXPORT_PATH: &str = "/api/v1/callbacks.csv";
pub const REPORT_PATH: &str = "/api/v1/reports/cancellations";

/// The form the row checkboxes belong to.
const SELECTION_FORM: &str = "bulk-selection";

/// This part's routes (merged by [`super::router`]).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route(CANCEL_PATH, get(cancel::preview).post(cancel::confirm))
        .route(DELETE_PATH, get(delete::preview).post(delete::confirm))
}

/// Whether `principal` may select rows: to bulk cancel or to delete them.
fn selects(principal: &Principal) -> bool {
    principal.may(Permission::BulkCancel) || principal.may(Permission::DeleteCallbacks)
}

/// The list's select-all header cell (only for users who may bulk cancel or delete).
pub fn select_header(user: &SignedIn) -> Markup {
    html! {
        @if selects(&user.principal) {
            th.select scope="col" {
                input #select-all type="checkbox" aria-label="Select all callbacks on this page";
            }
        }
    }
}

/// A row's select cell: a checkbox of the toolbar's form, its value the callback's id.
pub fn select_cell(user: &SignedIn, callback: &Callback) -> Markup {
    html! {
        @if selects(&user.principal) {
            td.select {
                input.select-row type="checkbox" form=(SELECTION_FORM) name="ids" value=(callback.id)
                    aria-label=(format!("Select callback {} ({})", callback.phone, callback.id));
            }
        }
    }
}

/// The bulk actions and export above the list, for the current filters (`pairs`: the list's
/// non-empty query pairs).
pub fn toolbar(user: &SignedIn, pairs: &[(String, String)], found: &Paged<CallbackView>) -> Markup {
    let principal = &user.principal;
    let (cancels, deletes, exports) = (
        principal.may(Permission::BulkCancel),
        principal.may(Permission::DeleteCallbacks),
        principal.may(Permission::Export),
    );
    // The form carries the list's view, so the confirmation can offer the range and lead back.
    let view = Selection::view_of(pairs);
    let ranged = Selection::has_range(&view);
    html! {
        @if cancels || deletes || exports {
            div #bulk-toolbar .bulk-toolbar role="group" aria-label="Bulk actions" {
                @if cancels || deletes {
                    form id=(SELECTION_FORM) method="get" action=(if cancels { CANCEL_PATH } else { DELETE_PATH }) {
                        @for (name, value) in &view {
                            input type="hidden" name=(name) value=(value);
                        }
                        span #selected-count aria-live="polite" { "Select rows to act on them" }
                        @if cancels {
                            button #bulk-cancel type="submit" formaction=(CANCEL_PATH) { "Cancel selected" }
                        }
                        @if deletes {
                            button #bulk-delete .danger type="submit" formaction=(DELETE_PATH) { "Delete selected" }
                        }
                    }
                }
                @if cancels {
                    @if ranged {
                        a #bulk-cancel-range .button .secondary href=(Selection::range_href(&view)) data-dialog {
                            "Cancel all in time range…"
                        }
                    } @else {
                        button #bulk-cancel-range .secondary type="button" disabled
                            title="Choose a time range (a preset or from/to) first" {
                            "Cancel all in time range"
                        }
                    }
                }
                @if exports {
                    a #export-csv .button .secondary href=(export_href(pairs)) download {
                        "Export CSV (" (found.total) ")"
                    }
                }
            }
        }
    }
}

/// The export of the list's current filters. The list's sort applies when the export can keep it
/// (it is always in desired-time order); paging does not: the file holds every matching row.
fn export_href(pairs: &[(String, String)]) -> String {
    let kept: Vec<(String, String)> = pairs
        .iter()
        .filter(|(name, value)| {
            FILTER_PARAMS.contains(&name.as_str())
                || (name == "sort" && matches!(value.as_str(), "desired_time" | "-desired_time"))
        })
        .cloned()
        .collect();
    let query = pairs_query(&kept);
    if query.is_empty() { EXPORT_PATH.to_string() } else { format!("{EXPORT_PATH}?{query}") }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn the_export_keeps_the_filters_and_drops_paging_and_other_sorts() {
        let view = pairs(&[("from", "2026-03-02T00:00:00Z"), ("state", "QUEUED"), ("page", "2"), ("sort", "phone")]);
        assert_eq!(export_href(&view), "/api/v1/callbacks.csv?from=2026-03-02T00%3A00%3A00Z&state=QUEUED");
        let sorted = pairs(&[("sort", "-desired_time"), ("phone", "020 7946")]);
        assert_eq!(export_href(&sorted), "/api/v1/callbacks.csv?sort=-desired_time&phone=020+7946");
        assert_eq!(export_href(&[]), "/api/v1/callbacks.csv");
    }
}
