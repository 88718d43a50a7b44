//! `GET/POST /callbacks/{id}/reschedule`: a new date and time, typed in the Lead / Campaign / Your /
//! Agent timezone, or one of the queue's available slots ("Show available slots" posts the form
//! back to list the day's slots). `service::operations::reschedule` judges it: only `SCHEDULED`
//! (409 otherwise), not past, within the horizon, slot capacity.

use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use jiff::Timestamp;
use maud::{Markup, html};
use rebound_domain::access::Permission;
use rebound_domain::state::CallbackState;

use crate::AppState;
use crate::dto::{CallbackView, RescheduleRequest};
use crate::error::ApiError;
use crate::service::{ConfigSnapshot, callbacks, operations};

use super::super::forms::{self, Posted};
use super::super::session::SignedIn;
use super::super::time::{local, user_timezone};
use super::when::{
    SlotsShown, When, ZoneChoice, Zones, asks_disambiguation, available, date_time_fields, my_zone, proposed,
    slot_picker, zone_choice_select,
};
use super::{actions, callback_id, error_banner, hidden_fields, is_fault, refusal, require, return_to, state_text};

const TITLE: &str = "Reschedule callback";

struct Loaded {
    view: CallbackView,
    zones: Zones,
}

async fn load(state: &AppState, user: &SignedIn, raw_id: &str) -> Result<Loaded, ApiError> {
    let id = callback_id(raw_id)?;
    let view = callbacks::get(state, &user.principal, id).await?;
    let config: std::sync::Arc<ConfigSnapshot> = state.config_cache.snapshot(state.store.as_ref()).await?;
    let zones = Zones::of(&view.callback, &config, my_zone(user));
    Ok(Loaded { view, zones })
}

pub(super) async fn page(
    State(state): State<AppState>,
    user: SignedIn,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    if let Some(refused) = require(&user, &headers, Permission::WriteCallbacks) {
        return refused;
    }
    let loaded = match load(&state, &user, &id).await {
        Ok(loaded) => loaded,
        Err(e) => return refusal(&user, &headers, &e),
    };
    let at = When::shown(loaded.view.callback.desired_time, &user_timezone(loaded.zones.shown_in(ZoneChoice::Mine)));
    let back = return_to(&headers, None);
    let view =
        View { loaded: &loaded, choice: ZoneChoice::Mine, at: &at, error: None, slots: None, now: state.clock.now() };
    forms::show(&user, &headers, StatusCode::OK, TITLE, form_markup(&user, &view, &back))
}

pub(super) async fn submit(State(state): State<AppState>, Path(id): Path<String>, request: Request) -> Response {
    let Posted { user, form, headers } = match forms::posted(&state, request).await {
        Ok(posted) => posted,
        Err(refused) => return refused,
    };
    if let Some(refused) = require(&user, &headers, Permission::WriteCallbacks) {
        return refused;
    }
    let loaded = match load(&state, &user, &id).await {
        Ok(loaded) => loaded,
        Err(e) => return refusal(&user, &headers, &e),
    };
    let back = return_to(&headers, form.get("return_to"));
    let choice = ZoneChoice::from_form(&form);
    let at = When::from_form(&form);
    let now = state.clock.now();
    if form.get("step") == Some("slots") {
        let zone = loaded.zones.shown_in(choice);
        let slots = available(&state, &user.principal, loaded.view.callback.queue_id, &at.date, zone).await;
        let view = View { loaded: &loaded, choice, at: &at, error: None, slots: Some(&slots), now };
        return forms::show(&user, &headers, StatusCode::OK, TITLE, form_markup(&user, &view, &back));
    }
    match reschedule(&state, &user, &loaded, choice, &at).await {
        Ok(()) => forms::done(&headers, &back),
        Err(e) if is_fault(&e) => refusal(&user, &headers, &e),
        Err(e) => {
            let view = View { loaded: &loaded, choice, at: &at, error: Some(&e), slots: None, now };
            forms::show(&user, &headers, e.status(), TITLE, form_markup(&user, &view, &back))
        }
    }
}

async fn reschedule(
    state: &AppState,
    user: &SignedIn,
    loaded: &Loaded,
    choice: ZoneChoice,
    at: &When,
) -> Result<(), ApiError> {
    let desired_time = at
        .requested()?
        .ok_or_else(|| ApiError::invalid_field("desired_time", "give a date and time, or choose a slot"))?;
    let request = RescheduleRequest {
        desired_time,
        timezone: (choice == ZoneChoice::Mine).then(|| my_zone(user)),
        timezone_source: Some(choice.source()),
        disambiguation: at.disambiguation(),
    };
    operations::reschedule(state, &user.principal, loaded.view.callback.id, request).await?;
    Ok(())
}

struct View<'a> {
    loaded: &'a Loaded,
    choice: ZoneChoice,
    at: &'a When,
    error: Option<&'a ApiError>,
    slots: Option<&'a SlotsShown>,
    now: Timestamp,
}

fn form_markup(user: &SignedIn, view: &View<'_>, back: &str) -> Markup {
    let c = &view.loaded.view.callback;
    let mine = user_timezone(&my_zone(user));
    html! {
        (error_banner(view.error))
        @if c.state != CallbackState::Scheduled {
            p.notice role="status" { "Only a SCHEDULED callback can be rescheduled; this one is " (c.state.as_str()) "." }
        }
        form #reschedule-callback method="post" action={ "/callbacks/" (c.id) "/reschedule" } {
            button.default-submit type="submit" name="step" value="save" tabindex="-1" aria-hidden="true" { "Reschedule" }
            (hidden_fields(user, back))
            dl.fields {
                dt { "Callback number" } dd { (c.phone) }
                dt { "State" } dd { (state_text(c)) }
                dt { "Callback time" } dd #current-time { (local(c.desired_time, &mine)) }
            }
            (zone_choice_select(&view.loaded.zones, view.choice, c.desired_time))
            (date_time_fields(view.at, asks_disambiguation(view.error)))
            (slot_picker(
                view.slots.or(proposed(view.error, view.loaded.zones.shown_in(view.choice)).as_ref()),
                view.at.slot.as_deref(),
                view.now,
            ))
            (actions("reschedule-submit", "Reschedule", false, back))
        }
    }
}
