//! `GET/POST /callbacks/{id}/edit`: the Edit Callback dialog. Above, the call details, read only:
//! the campaign (running indicator, inbound/outbound), the state, the campaign's dialling hours
//! today shown in the user's timezone, the lead, and the next callback time with an alert when it
//! is past. Below, behind "Override existing details" (nothing changes without it; the script
//! disables the fields until it is ticked): campaign move, queue transfer, type, agent, notes, and
//! the time, typed in the Lead / Campaign / Your / Agent timezone or taken from an available slot.
//!
//! The fields become a `PATCH` of what differs (`service::operations::edit`), then, when the time
//! was changed, a reschedule read in the chosen timezone (`timezone_source`). A time left as shown
//! in the chosen zone is no change, so editing the agent of an overdue callback does not trip over
//! its past time. The two are separate operations: if the reschedule is refused after the edit went
//! through, the form says so.

use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use jiff::Timestamp;
use jiff::tz::TimeZone;
use maud::{Markup, html};
use rebound_domain::access::Permission;
use rebound_domain::hours;
use rebound_domain::model::{Callback, CallbackType, Campaign, Direction, Lead};

use crate::AppState;
use crate::dto::{CallbackPatch, CallbackView, RescheduleRequest};
use crate::error::ApiError;
use crate::service::{callbacks, config, operations};

use super::super::forms::{self, Form, Posted};
use super::super::session::SignedIn;
use super::super::time::{local, user_timezone};
use super::fields::{Choices, agent_select, campaign_select, id_field, queue_select};
use super::when::{
    SlotsShown, When, ZoneChoice, Zones, asks_disambiguation, available, date_time_fields, local_parts, my_zone,
    proposed, slot_picker, zone_choice_select,
};
use super::{
    actions, callback_id, error_banner, hidden_fields, is_fault, refusal, require, return_to, running_dot, state_text,
};

const TITLE: &str = "Edit callback";

/// The callback and what the form offers for it.
struct Loaded {
    view: CallbackView,
    choices: Choices,
    lead: Option<Lead>,
    zones: Zones,
}

async fn load(state: &AppState, user: &SignedIn, raw_id: &str) -> Result<Loaded, ApiError> {
    let id = callback_id(raw_id)?;
    let view = callbacks::get(state, &user.principal, id).await?;
    let choices = Choices::load(state, user).await?;
    let lead = match view.callback.lead_id {
        Some(id) => config::get_lead(state, id).await.ok(),
        None => None,
    };
    let zones = Zones::of(&view.callback, &choices.config, my_zone(user));
    Ok(Loaded { view, choices, lead, zones })
}

/// The editable fields, as shown or as posted.
struct Values {
    override_on: bool,
    campaign_id: String,
    queue_id: String,
    kind: String,
    agent_id: String,
    notes: String,
    choice: ZoneChoice,
    at: When,
}

impl Values {
    /// The callback as it is, its time shown in the user's own zone.
    fn current(c: &Callback, zones: &Zones) -> Values {
        let id = |v: Option<i64>| v.map(|v| v.to_string()).unwrap_or_default();
        Values {
            override_on: false,
            campaign_id: c.campaign_id.to_string(),
            queue_id: id(c.queue_id),
            kind: c.kind.as_str().to_string(),
            agent_id: id(c.agent_id),
            notes: c.notes.clone().unwrap_or_default(),
            choice: ZoneChoice::Mine,
            at: When::shown(c.desired_time, &user_timezone(zones.shown_in(ZoneChoice::Mine))),
        }
    }

    fn from_form(form: &Form) -> Values {
        let text = |name: &str| form.get(name).unwrap_or("").to_string();
        Values {
            override_on: form.checked("override"),
            campaign_id: text("campaign_id"),
            queue_id: text("queue_id"),
            kind: text("type"),
            agent_id: text("agent_id"),
            notes: text("notes"),
            choice: ZoneChoice::from_form(form),
            at: When::from_form(form),
        }
    }

    /// The `PATCH` of what the fields change (empty when they change nothing).
    fn patch(&self, current: &Callback) -> Result<CallbackPatch, ApiError> {
        let kind = CallbackType::parse(&self.kind)
            .ok_or_else(|| ApiError::invalid_field("type", "a callback is for a queue or for one agent"))?;
        let campaign_id = id_field("campaign_id", &self.campaign_id)?.unwrap_or(current.campaign_id);
        let queue_id = id_field("queue_id", &self.queue_id)?;
        let agent_id = id_field("agent_id", &self.agent_id)?;
        let notes = Some(self.notes.clone()).filter(|n| !n.is_empty());
        let mut patch = CallbackPatch::default();
        if kind != current.kind {
            patch.kind = Some(kind);
        }
        if campaign_id != current.campaign_id {
            patch.campaign_id = Some(campaign_id);
        }
        if queue_id != current.queue_id {
            patch.queue_id = Some(queue_id);
        }
        // The agent field belongs to agent callbacks (a queue callback drops its agent).
        if kind == CallbackType::Agent && agent_id != current.agent_id {
            patch.agent_id = Some(agent_id);
        }
        if notes != current.notes {
            patch.notes = Some(notes);
        }
        Ok(patch)
    }
}

fn changes_nothing(patch: &CallbackPatch) -> bool {
    patch.kind.is_none()
        && patch.campaign_id.is_none()
        && patch.queue_id.is_none()
        && patch.agent_id.is_none()
        && patch.notes.is_none()
        && patch.list_id.is_none()
        && patch.data.is_none()
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
    let values = Values::current(&loaded.view.callback, &loaded.zones);
    let back = return_to(&headers, None);
    let view =
        View { loaded: &loaded, values: &values, error: None, notice: None, slots: None, now: state.clock.now() };
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
    let values = Values::from_form(&form);
    let now = state.clock.now();
    let show = |loaded: &Loaded, status, error, notice, slots| {
        let view = View { loaded, values: &values, error, notice, slots, now };
        forms::show(&user, &headers, status, TITLE, form_markup(&user, &view, &back))
    };
    if form.get("step") == Some("slots") {
        let queue = id_field("queue_id", &values.queue_id).ok().flatten().or(loaded.view.callback.queue_id);
        let zone = loaded.zones.shown_in(values.choice);
        let slots = available(&state, &user.principal, queue, &values.at.date, zone).await;
        return show(&loaded, StatusCode::OK, None, None, Some(&slots));
    }
    if !values.override_on {
        let notice = "Nothing was changed: tick “Override existing details” to change this callback.";
        return show(&loaded, StatusCode::OK, None, Some(notice), None);
    }
    match apply(&state, &user, &loaded, &values).await {
        Ok(()) => forms::done(&headers, &back),
        Err((e, _)) if is_fault(&e) => refusal(&user, &headers, &e),
        Err((e, edited)) => {
            // Shown against the callback as it now is (the edit may have gone through).
            let fresh = if edited { load(&state, &user, &id).await.ok() } else { None };
            let notice = edited.then_some("The other changes were saved; the time was not changed.");
            show(fresh.as_ref().unwrap_or(&loaded), e.status(), Some(&e), notice, None)
        }
    }
}

/// The edit, then the reschedule when the time changed. The error says whether the edit had
/// already gone through.
async fn apply(state: &AppState, user: &SignedIn, loaded: &Loaded, values: &Values) -> Result<(), (ApiError, bool)> {
    let current = &loaded.view.callback;
    let patch = values.patch(current).map_err(|e| (e, false))?;
    let requested = values.at.requested().map_err(|e| (e, false))?;
    let mut after = current.clone();
    let edited = !changes_nothing(&patch);
    if edited {
        after = operations::edit(state, &user.principal, current.id, patch).await.map_err(|e| (e, false))?.callback;
    }
    let Some(desired_time) = requested else { return Ok(()) };
    let zones = Zones::of(&after, &loaded.choices.config, my_zone(user));
    let unchanged = values.at.slot.is_none()
        && zones.name(values.choice).is_some_and(|zone| {
            let (date, time) = local_parts(after.desired_time, &user_timezone(zone));
            When { date, time, ..When::default() }.local().ok().flatten() == values.at.local().ok().flatten()
        });
    if unchanged {
        return Ok(());
    }
    let source = values.choice.source();
    let request = RescheduleRequest {
        desired_time,
        timezone: (values.choice == ZoneChoice::Mine).then(|| my_zone(user)),
        timezone_source: Some(source),
        disambiguation: values.at.disambiguation(),
    };
    operations::reschedule(state, &user.principal, current.id, request).await.map_err(|e| (e, edited))?;
    Ok(())
}

/// Everything the form shows.
struct View<'a> {
    loaded: &'a Loaded,
    values: &'a Values,
    error: Option<&'a ApiError>,
    notice: Option<&'a str>,
    slots: Option<&'a SlotsShown>,
    now: Timestamp,
}

fn form_markup(user: &SignedIn, view: &View<'_>, back: &str) -> Markup {
    let c = &view.loaded.view.callback;
    let v = view.values;
    let mine = user_timezone(&my_zone(user));
    html! {
        (error_banner(view.error))
        @if let Some(notice) = view.notice {
            p #form-notice .notice role="status" { (notice) }
        }
        form #edit-callback method="post" action={ "/callbacks/" (c.id) "/edit" } {
            button.default-submit type="submit" name="step" value="save" tabindex="-1" aria-hidden="true" { "Save" }
            (hidden_fields(user, back))
            (summary(view.loaded, &mine, view.now))
            div.override {
                input #override type="checkbox" name="override" value="on" checked[v.override_on]
                    aria-controls="override-fields" data-override;
                label for="override" { "Override existing details" }
            }
            fieldset #override-fields {
                legend { "Edit call details" }
                (campaign_select(&view.loaded.choices, &v.campaign_id, "Move to campaign"))
                (queue_select(&view.loaded.choices, &v.queue_id))
                div.field {
                    label for="cb-type" { "Type" }
                    select id="cb-type" name="type" {
                        option value="queue" selected[v.kind == "queue"] { "Queue callback (any agent)" }
                        option value="agent" selected[v.kind == "agent"] { "Agent callback (one agent)" }
                    }
                }
                (agent_select(&view.loaded.choices, &v.agent_id))
                (zone_choice_select(&view.loaded.zones, v.choice, c.desired_time))
                (date_time_fields(&v.at, asks_disambiguation(view.error)))
                (slot_picker(
                    view.slots.or(proposed(view.error, view.loaded.zones.shown_in(v.choice)).as_ref()),
                    v.at.slot.as_deref(),
                    view.now,
                ))
                div.field {
                    label for="cb-notes" { "Notes" }
                    textarea id="cb-notes" name="notes" rows="2" { (v.notes) }
                }
            }
            (actions("edit-submit", "Save changes", false, back))
        }
    }
}

/// The read-only call details.
fn summary(loaded: &Loaded, mine: &TimeZone, now: Timestamp) -> Markup {
    let c = &loaded.view.callback;
    let campaign = loaded.choices.config.campaigns.get(&c.campaign_id);
    let past = c.state.is_active() && c.desired_time < now;
    html! {
        section.read-only {
            h3 { "Call details" }
            dl #edit-summary .fields {
                dt { "Campaign" }
                dd #edit-campaign {
                    @match campaign {
                        Some(campaign) => {
                            (running_dot(campaign.running)) " " (campaign.name) " "
                            span.direction title="Campaign type" {
                                @match campaign.direction { Direction::Outbound => { "↗ Outbound" }, Direction::Inbound => { "↙ Inbound" } }
                            }
                        }
                        None => { "campaign " (c.campaign_id) }
                    }
                }
                dt { "State" } dd #edit-state { (state_text(c)) }
                dt { "Dialling hours today" }
                dd #dialling-today { @if let Some(campaign) = campaign { (dialling_today(campaign, mine, now)) } }
                dt { "Lead" }
                dd #lead-info {
                    @if c.phone.is_empty() { "No phone number is defined for this callback." } @else { (c.phone) }
                    @if let Some(lead) = &loaded.lead {
                        " · " a href={ "/leads/" (lead.id) } data-dialog { (lead.name.as_deref().unwrap_or("Lead")) " #" (lead.id) }
                    }
                }
                dt { "Next callback time" }
                dd #next-time {
                    (local(c.desired_time, mine))
                    @if let Some(earliest) = c.earliest_time.filter(|e| *e != c.desired_time) {
                        " " span.earliest title="Earliest time it may be dialled" { "(" (local(earliest, mine)) ")" }
                    }
                }
            }
            @if past {
                p #past-alert .alert role="alert" { "The next callback time is in the past." }
            }
        }
    }
}

/// The campaign's dialling hours within the user's today, in the user's timezone (`09:00–17:00`).
fn dialling_today(campaign: &Campaign, mine: &TimeZone, now: Timestamp) -> Markup {
    let today = now.to_zoned(mine.clone());
    let day = today.start_of_day().ok().zip(today.date().tomorrow().ok().and_then(|d| d.to_zoned(mine.clone()).ok()));
    let Some((start, end)) = day else { return html! { "—" } };
    let (start, end) = (start.timestamp(), end.timestamp());
    let campaign_tz = user_timezone(&campaign.timezone);
    let plan = callbacks::campaign_plan(campaign, &campaign_tz, None);
    let open = hours::campaign_open_intervals(&plan, start, end);
    let clock = |at: Timestamp| if at == end { "24:00".to_string() } else { local_parts(at, mine).1 };
    html! {
        @if open.is_empty() {
            "Closed today"
        }
        @for (i, (from, to)) in open.iter().enumerate() {
            @if i > 0 { ", " }
            (clock(*from)) "–" (clock(*to))
        }
        @if !campaign.running { " " span.muted { "(the campaign is stopped)" } }
    }
}
