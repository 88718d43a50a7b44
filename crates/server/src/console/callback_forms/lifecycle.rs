//! The confirmations that end or restart a callback:
//! - `GET/POST /callbacks/{id}/cancel`: an optional reason, whether the customer asked, confirm
//!   (`service::operations::cancel`: 409 for `PROCESSING` and `COMPLETED`);
//! - `GET/POST /callbacks/{id}/recreate`: a new callback copying a `COMPLETED` one, now or at a
//!   chosen time (`service::operations::recreate`);
//! - `GET/POST /callbacks/{id}/delete`: remove the record, admins only (the history keeps a
//!   tombstone; `service::operations::delete`).

use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use maud::{Markup, html};
use rebound_domain::access::Permission;
use rebound_domain::state::CallbackState;

use crate::AppState;
use crate::dto::{CallbackView, CancelRequest, RecreateRequest};
use crate::error::ApiError;
use crate::service::{callbacks, operations};

use super::super::forms::{self, Form, Posted};
use super::super::session::SignedIn;
use super::super::time::{local, user_timezone};
use super::fields::radios;
use super::when::{When, asks_disambiguation, date_time_fields, my_zone, timezone_select, zone_options};
use super::{
    Names, actions, callback_id, error_banner, hidden_fields, is_fault, refusal, require, return_to, state_text,
};

/// Which confirmation a page is.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Cancel,
    Recreate,
    Delete,
}

impl Kind {
    fn title(self) -> &'static str {
        match self {
            Kind::Cancel => "Cancel callback",
            Kind::Recreate => "Recreate callback",
            Kind::Delete => "Delete callback",
        }
    }

    fn permission(self) -> Permission {
        match self {
            Kind::Cancel | Kind::Recreate => Permission::WriteCallbacks,
            Kind::Delete => Permission::DeleteCallbacks,
        }
    }

    fn path(self) -> &'static str {
        match self {
            Kind::Cancel => "cancel",
            Kind::Recreate => "recreate",
            Kind::Delete => "delete",
        }
    }
}

/// The callback a confirmation is about, and names for its campaign and queue.
struct Loaded {
    view: CallbackView,
    names: Names,
}

async fn load(state: &AppState, user: &SignedIn, raw_id: &str) -> Result<Loaded, ApiError> {
    let id = callback_id(raw_id)?;
    Ok(Loaded { view: callbacks::get(state, &user.principal, id).await?, names: Names::load(state).await? })
}

pub(super) async fn cancel_page(
    state: State<AppState>,
    user: SignedIn,
    headers: HeaderMap,
    id: Path<String>,
) -> Response {
    confirm_page(Kind::Cancel, state, user, headers, id).await
}

pub(super) async fn recreate_page(
    state: State<AppState>,
    user: SignedIn,
    headers: HeaderMap,
    id: Path<String>,
) -> Response {
    confirm_page(Kind::Recreate, state, user, headers, id).await
}

pub(super) async fn delete_page(
    state: State<AppState>,
    user: SignedIn,
    headers: HeaderMap,
    id: Path<String>,
) -> Response {
    confirm_page(Kind::Delete, state, user, headers, id).await
}

pub(super) async fn cancel_submit(state: State<AppState>, id: Path<String>, request: Request) -> Response {
    confirm_submit(Kind::Cancel, state, id, request).await
}

pub(super) async fn recreate_submit(state: State<AppState>, id: Path<String>, request: Request) -> Response {
    confirm_submit(Kind::Recreate, state, id, request).await
}

pub(super) async fn delete_submit(state: State<AppState>, id: Path<String>, request: Request) -> Response {
    confirm_submit(Kind::Delete, state, id, request).await
}

async fn confirm_page(
    kind: Kind,
    State(state): State<AppState>,
    user: SignedIn,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    if let Some(refused) = require(&user, &headers, kind.permission()) {
        return refused;
    }
    let loaded = match load(&state, &user, &id).await {
        Ok(loaded) => loaded,
        Err(e) => return refusal(&user, &headers, &e),
    };
    let back = return_to(&headers, None);
    let form = Form::default();
    forms::show(&user, &headers, StatusCode::OK, kind.title(), confirm_markup(kind, &user, &loaded, &form, None, &back))
}

async fn confirm_submit(
    kind: Kind,
    State(state): State<AppState>,
    Path(id): Path<String>,
    request: Request,
) -> Response {
    let Posted { user, form, headers } = match forms::posted(&state, request).await {
        Ok(posted) => posted,
        Err(refused) => return refused,
    };
    if let Some(refused) = require(&user, &headers, kind.permission()) {
        return refused;
    }
    let loaded = match load(&state, &user, &id).await {
        Ok(loaded) => loaded,
        Err(e) => return refusal(&user, &headers, &e),
    };
    let back = return_to(&headers, form.get("return_to"));
    match act(kind, &state, &user, &loaded, &form).await {
        Ok(()) => forms::done(&headers, &back),
        Err(e) if is_fault(&e) => refusal(&user, &headers, &e),
        Err(e) => {
            let content = confirm_markup(kind, &user, &loaded, &form, Some(&e), &back);
            forms::show(&user, &headers, e.status(), kind.title(), content)
        }
    }
}

async fn act(kind: Kind, state: &AppState, user: &SignedIn, loaded: &Loaded, form: &Form) -> Result<(), ApiError> {
    let id = loaded.view.callback.id;
    let principal = &user.principal;
    match kind {
        Kind::Cancel => {
            let request = CancelRequest {
                reason: form.get("reason").map(str::to_string),
                by_customer: form.checked("by_customer"),
            };
            operations::cancel(state, principal, id, request).await?;
        }
        Kind::Recreate => {
            let at = When::from_form(form);
            let desired_time = match form.get("when") {
                Some("scheduled") => Some(at.requested()?.ok_or_else(|| {
                    ApiError::invalid_field("desired_time", "give the date and time of the new callback")
                })?),
                _ => None,
            };
            let request = RecreateRequest {
                timezone: desired_time
                    .as_ref()
                    .map(|_| form.get("timezone").map_or_else(|| my_zone(user), str::to_string)),
                desired_time,
                disambiguation: at.disambiguation(),
                notes: None,
            };
            operations::recreate(state, principal, id, request, None).await?;
        }
        Kind::Delete => operations::delete(state, principal, id).await?,
    }
    Ok(())
}

fn confirm_markup(
    kind: Kind,
    user: &SignedIn,
    loaded: &Loaded,
    form: &Form,
    error: Option<&ApiError>,
    back: &str,
) -> Markup {
    let c = &loaded.view.callback;
    let tz = user_timezone(&user.session.user.timezone);
    html! {
        (error_banner(error))
        (state_notice(kind, c.state, c.recreated_as.is_some()))
        form id=(format!("{}-callback", kind.path())) method="post" action={ "/callbacks/" (c.id) "/" (kind.path()) } {
            (hidden_fields(user, back))
            dl.fields {
                dt { "Callback number" } dd { (c.phone) }
                dt { "State" } dd { (state_text(c)) }
                dt { "Campaign" } dd { (loaded.names.campaign(c.campaign_id)) }
                dt { "Queue" } dd { (loaded.names.queue(c.queue_id)) }
                dt { "Desired time" } dd { (local(c.desired_time, &tz)) }
            }
            @match kind {
                Kind::Cancel => { (cancel_fields(form)) }
                Kind::Recreate => { (recreate_fields(user, loaded, form, error)) }
                Kind::Delete => {
                    p { "The record is removed for good; its history keeps a note that it was deleted." }
                }
            }
            @match kind {
                Kind::Cancel => { (actions("confirm-cancel", "Cancel callback", true, back)) }
                Kind::Recreate => { (actions("confirm-recreate", "Recreate callback", false, back)) }
                Kind::Delete => { (actions("confirm-delete", "Delete callback", true, back)) }
            }
        }
    }
}

/// Why the action will be refused, said before the user tries.
fn state_notice(kind: Kind, state: CallbackState, recreated: bool) -> Markup {
    let why = match kind {
        Kind::Cancel if !state.is_cancellable() => {
            Some("A callback that is PROCESSING or COMPLETED cannot be cancelled.")
        }
        Kind::Recreate if state != CallbackState::Completed => Some("Only a COMPLETED callback can be recreated."),
        Kind::Recreate if recreated => Some("This callback was already recreated."),
        _ => None,
    };
    html! {
        @if let Some(why) = why {
            p.notice role="status" { (why) }
        }
    }
}

fn cancel_fields(form: &Form) -> Markup {
    html! {
        div.field {
            label for="cb-reason" { "Reason (optional)" }
            textarea id="cb-reason" name="reason" rows="2" maxlength="500" { (form.get("reason").unwrap_or("")) }
        }
        div.check {
            input id="cb-by-customer" type="checkbox" name="by_customer" value="on" checked[form.checked("by_customer")];
            label for="cb-by-customer" { "The customer asked to cancel" }
        }
    }
}

fn recreate_fields(user: &SignedIn, loaded: &Loaded, form: &Form, error: Option<&ApiError>) -> Markup {
    let mine = my_zone(user);
    let campaign = loaded.names.config.campaigns.get(&loaded.view.callback.campaign_id);
    let zones = zone_options(&mine, campaign.map(|c| (c.timezone.as_str(), c.name.as_str())).into_iter());
    let chosen_zone = form.get("timezone").unwrap_or(&mine);
    html! {
        (radios("when", "New callback", &[("immediate", "Now"), ("scheduled", "At a time")], form.get("when").unwrap_or("immediate")))
        div #scheduled-fields data-shown-if="when=scheduled" {
            (date_time_fields(&When::from_form(form), asks_disambiguation(error)))
            (timezone_select(&zones, chosen_zone))
        }
    }
}
