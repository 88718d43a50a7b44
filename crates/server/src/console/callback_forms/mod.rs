//! One callback's pages, each also a dialog (see [`super::forms`]): its details with the queue
//! position and the full history, create, edit, reschedule, cancel, recreate and delete, a lead's
//! details, and the options menu of a row of the callbacks list ([`row_menu`]).
//!
//! The handlers keep no rules: they read a form into the services' inputs and call
//! `service::callbacks`, `service::operations` and `service::intake` with the signed-in principal,
//! so roles, scopes, states, slots and time rules are exactly the API's. A refusal comes back as the
//! form again, with the entered values and the service's error (its status, its message, the field
//! it names) above it. A change that went through answers [`forms::done`] with the form's
//! `return_to` (the page the dialog was opened on), so that page reloads in place.
//!
//! The ids of form fields start with `cb-` (`#cb-phone`, `#cb-date`…): a dialog's content sits in
//! the page it was opened on, whose own ids (the list's `#phone` search box) must stay unique.
//!
//! - [`details`] — `GET /callbacks/{id}` and `GET /leads/{id}`.
//! - [`create`] — `/callbacks/new`.
//! - [`edit`] — `/callbacks/{id}/edit` (read-only details, then the override-guarded changes).
//! - [`reschedule`] — `/callbacks/{id}/reschedule`.
//! - [`lifecycle`] — `/callbacks/{id}/cancel`, `/recreate`, `/delete`.
//! - [`when`] — the date, time, timezone and available-slot fields these forms share.
//! - [`fields`] — the campaign, queue, agent, list and type fields, limited to the user's scope.

mod create;
mod details;
mod edit;
mod fields;
mod lifecycle;
mod reschedule;
mod when;

use std::sync::Arc;

use axum::Router;
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::get;
use maud::{Markup, html};
use rebound_domain::access::{Permission, Principal};
use rebound_domain::model::{AgentId, Callback, CallbackId, CampaignId, QueueId};
use rebound_domain::state::CallbackState;
use serde_json::Value;

use crate::AppState;
use crate::error::ApiError;
use crate::service::ConfigSnapshot;

use super::forms;
use super::layout::error_page;
use super::session::SignedIn;

/// Sent by `dialogs.js` with a dialog's requests: the page the dialog was opened on, where a change
/// returns to (the console answers `Referrer-Policy: no-referrer`, so the browser does not say).
pub const RETURN_HEADER: &str = "x-rebound-return";
/// Where a change returns to when neither the form nor the dialog says.
const DEFAULT_RETURN: &str = "/callbacks";

/// This part's routes (merged by [`super::router`]). `/callbacks/new` is a fixed segment, so it
/// wins over `/callbacks/{id}`.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/callbacks/new", get(create::page).post(create::submit))
        .route("/callbacks/{id}", get(details::page))
        .route("/callbacks/{id}/edit", get(edit::page).post(edit::submit))
        .route("/callbacks/{id}/reschedule", get(reschedule::page).post(reschedule::submit))
        .route("/callbacks/{id}/cancel", get(lifecycle::cancel_page).post(lifecycle::cancel_submit))
        .route("/callbacks/{id}/recreate", get(lifecycle::recreate_page).post(lifecycle::recreate_submit))
        .route("/callbacks/{id}/delete", get(lifecycle::delete_page).post(lifecycle::delete_submit))
        .route("/leads/{id}", get(details::lead_page))
}

/// A row's options menu in the callbacks list: Details, Lead details, Edit, Reschedule, Cancel,
/// Recreate, Delete, as `principal`'s role and the callback's state allow; each opens in a dialog
/// and stays an ordinary link to its page. Rendered for every row of a page (250 times), so it only
/// writes static text and the callback's id: no lookups, no allocations of its own.
pub fn row_menu(principal: &Principal, callback: &Callback) -> Markup {
    if !principal.may(Permission::ReadCallbacks) {
        return html! {};
    }
    html! {
        details.row-menu {
            summary aria-label={ "Options for callback to " (callback.phone) } title="Options" { "⋯" }
            ul { (action_links(principal, callback)) }
        }
    }
}

/// The actions on `c` that `principal` may take, as list items of links that open dialogs.
fn action_links(principal: &Principal, c: &Callback) -> Markup {
    let write = principal.may(Permission::WriteCallbacks);
    let id = c.id;
    html! {
        li { a.action-details href={ "/callbacks/" (id) } data-dialog { "Details" } }
        @if let Some(lead) = c.lead_id {
            li { a.action-lead href={ "/leads/" (lead) } data-dialog { "Lead details" } }
        }
        @if write && c.state != CallbackState::Completed {
            li { a.action-edit href={ "/callbacks/" (id) "/edit" } data-dialog { "Edit" } }
        }
        @if write && c.state == CallbackState::Scheduled {
            li { a.action-reschedule href={ "/callbacks/" (id) "/reschedule" } data-dialog { "Reschedule" } }
        }
        @if write && c.state.is_cancellable() {
            li { a.action-cancel href={ "/callbacks/" (id) "/cancel" } data-dialog { "Cancel" } }
        }
        @if write && c.state == CallbackState::Completed && c.recreated_as.is_none() {
            li { a.action-recreate href={ "/callbacks/" (id) "/recreate" } data-dialog { "Recreate" } }
        }
        @if principal.may(Permission::DeleteCallbacks) {
            li { a.action-delete href={ "/callbacks/" (id) "/delete" } data-dialog { "Delete" } }
        }
    }
}

/// A callback id from the path; anything else is a callback that does not exist.
fn callback_id(raw: &str) -> Result<CallbackId, ApiError> {
    CallbackId::parse(raw).ok_or_else(|| ApiError::not_found("callback"))
}

/// Where a change goes back to: the form's (or query's) `return_to`, else the page the dialog was
/// opened on, else the callbacks list; only ever a path on this site.
fn return_to(headers: &HeaderMap, given: Option<&str>) -> String {
    let opened_on = headers.get(RETURN_HEADER).and_then(|v| v.to_str().ok());
    // An unusable `return_to` falls back to the page the dialog was opened on, not the default.
    let given = given.filter(|g| !forms::local_path(Some(g), "").is_empty());
    forms::local_path(given.or(opened_on), DEFAULT_RETURN).to_string()
}

/// The hidden fields every form here carries: the CSRF token and where to go afterwards.
fn hidden_fields(user: &SignedIn, return_to: &str) -> Markup {
    html! {
        (forms::csrf_field(user))
        input type="hidden" name="return_to" value=(return_to);
    }
}

/// The buttons at the foot of a form: `submit` (with `id`), and Cancel (closes the dialog; on a
/// full page, a link back).
fn actions(id: &str, label: &str, danger: bool, return_to: &str) -> Markup {
    html! {
        div.actions {
            a.back href=(return_to) { "Back" }
            button type="button" data-close class="secondary" { "Cancel" }
            button id=(id) type="submit" class=[danger.then_some("danger")] { (label) }
        }
    }
}

/// The service's refusal above a form: status, message and the field it names.
fn error_banner(error: Option<&ApiError>) -> Markup {
    let Some(error) = error else { return html! {} };
    let status = error.status();
    let object = error.to_object();
    let field = object.details.get("field").and_then(Value::as_str);
    html! {
        p #form-error .form-error role="alert" data-status=(status.as_u16()) data-code=(object.code) data-field=[field] {
            strong { (status.as_u16()) " " (status.canonical_reason().unwrap_or("")) }
            " " (object.message)
            @if let Some(field) = field {
                " " span.field-name { "(field: " (field) ")" }
            }
        }
    }
}

/// A page that cannot be shown (404, 403…), for `user`: in the dialog when asked from one. Server
/// faults get the console's error page (logged there, never detailed).
fn refusal(user: &SignedIn, headers: &HeaderMap, error: &ApiError) -> Response {
    if matches!(error, ApiError::Internal(_) | ApiError::Unavailable { .. }) {
        return error_page(error);
    }
    let status = error.status();
    let title = status.canonical_reason().unwrap_or("Refused");
    let content = html! {
        (error_banner(Some(error)))
        div.actions {
            a.back href=(DEFAULT_RETURN) { "Back to the callbacks" }
            button type="button" data-close class="secondary" { "Close" }
        }
    };
    forms::show(user, headers, status, title, content)
}

/// The 403 refusal when `user` may not `permission` (a monitor asking to change things).
fn require(user: &SignedIn, headers: &HeaderMap, permission: Permission) -> Option<Response> {
    (!user.principal.may(permission)).then(|| refusal(user, headers, &ApiError::forbidden()))
}

/// Whether a refusal is a server fault (shown as the error page, not under the form).
fn is_fault(error: &ApiError) -> bool {
    matches!(error, ApiError::Internal(_) | ApiError::Unavailable { .. })
}

/// Names for the configuration ids a page shows.
struct Names {
    config: Arc<ConfigSnapshot>,
}

impl Names {
    async fn load(state: &AppState) -> Result<Names, ApiError> {
        Ok(Names { config: state.config_cache.snapshot(state.store.as_ref()).await? })
    }

    fn campaign(&self, id: CampaignId) -> Markup {
        match self.config.campaigns.get(&id) {
            Some(campaign) => html! {
                (running_dot(campaign.running)) " " (campaign.name)
            },
            None => html! { "campaign " (id) },
        }
    }

    fn queue(&self, id: Option<QueueId>) -> Markup {
        match id {
            None => html! { "—" },
            Some(id) => match self.config.queues.get(&id) {
                Some(queue) => html! { (queue.name) },
                None => html! { "queue " (id) },
            },
        }
    }

    fn agent(&self, id: Option<AgentId>) -> Markup {
        match id {
            None => html! { "—" },
            Some(id) => match self.config.agents.get(&id) {
                Some(agent) => html! { (agent.name) },
                None => html! { "agent " (id) },
            },
        }
    }
}

/// The campaign's running indicator (a green dot when running, a hollow one when stopped).
fn running_dot(running: bool) -> Markup {
    html! {
        @if running {
            span.running title="Running" role="img" aria-label="Running" { "●" }
        } @else {
            span.stopped title="Stopped" role="img" aria-label="Stopped" { "○" }
        }
    }
}

/// `STATE` and, when completed, ` RESULT`.
fn state_text(c: &Callback) -> Markup {
    html! {
        span.state { (c.state.as_str()) }
        @if let Some(result) = c.result {
            " " span.result { (result.as_str()) }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_change_returns_to_the_page_the_dialog_was_opened_on() {
        let mut headers = HeaderMap::new();
        assert_eq!(return_to(&headers, None), "/callbacks");
        headers.insert(RETURN_HEADER, "/callbacks?state=QUEUED&page=2".parse().unwrap());
        assert_eq!(return_to(&headers, None), "/callbacks?state=QUEUED&page=2");
        assert_eq!(return_to(&headers, Some("/search?q=1")), "/search?q=1");
        // Another site is never where a form sends the user.
        assert_eq!(return_to(&headers, Some("https://evil.example/")), "/callbacks?state=QUEUED&page=2");
        headers.insert(RETURN_HEADER, "//evil.example/".parse().unwrap());
        assert_eq!(return_to(&headers, None), "/callbacks");
    }
}
