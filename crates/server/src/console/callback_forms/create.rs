//! `GET/POST /callbacks/new`: create an immediate or a scheduled callback, for a queue or for one
//! agent, in a campaign, queue and with an agent the user's scope allows. A scheduled one is given
//! a date and time in a chosen timezone, or one of the queue's available slots for that day ("Show
//! available slots" posts the form back to list them; nothing is created then). A lead name with a
//! list makes the callback's contact a lead of that list (`service::intake::create_for_named_lead`).

use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use jiff::Timestamp;
use maud::{Markup, html};
use rebound_domain::access::Permission;
use rebound_domain::model::CallbackType;

use crate::AppState;
use crate::dto::CallbackCreate;
use crate::error::ApiError;
use crate::service::{callbacks, intake};

use super::super::forms::{self, Form, Posted};
use super::super::session::SignedIn;
use super::fields::{Choices, agent_select, campaign_select, id_field, list_select, queue_select, radios, type_radios};
use super::when::{
    SlotsShown, When, asks_disambiguation, available, date_time_fields, my_zone, proposed, slot_picker,
    timezone_select, zone_options,
};
use super::{actions, error_banner, hidden_fields, is_fault, refusal, require, return_to};

const TITLE: &str = "Create callback";

/// The form's values, as shown or as posted.
#[derive(Debug, Clone, Default)]
struct Values {
    /// `immediate` or `scheduled`.
    when: String,
    kind: String,
    campaign_id: String,
    queue_id: String,
    agent_id: String,
    list_id: String,
    phone: String,
    lead_name: String,
    notes: String,
    at: When,
    timezone: String,
}

impl Values {
    /// A new form: immediate, for the first queue of the first campaign, times in the user's zone.
    fn fresh(choices: &Choices, mine: String) -> Values {
        let campaign = choices.campaigns.first();
        let queue = campaign.and_then(|c| choices.first_queue_of(c.id));
        Values {
            when: "immediate".into(),
            kind: CallbackType::Queue.as_str().into(),
            campaign_id: campaign.map(|c| c.id.to_string()).unwrap_or_default(),
            queue_id: queue.map(|q| q.id.to_string()).unwrap_or_default(),
            timezone: mine,
            ..Values::default()
        }
    }

    fn from_form(form: &Form, mine: String) -> Values {
        let text = |name: &str| form.get(name).unwrap_or("").to_string();
        Values {
            when: form.get("when").unwrap_or("immediate").into(),
            kind: form.get("type").unwrap_or("queue").into(),
            campaign_id: text("campaign_id"),
            queue_id: text("queue_id"),
            agent_id: text("agent_id"),
            list_id: text("list_id"),
            phone: text("phone"),
            lead_name: text("lead_name"),
            notes: text("notes"),
            at: When::from_form(form),
            timezone: form.get("timezone").map_or(mine, str::to_string),
        }
    }

    /// The create request the form describes (the service judges every value).
    fn request(&self) -> Result<CallbackCreate, ApiError> {
        let kind = CallbackType::parse(&self.kind)
            .ok_or_else(|| ApiError::invalid_field("type", "a callback is for a queue or for one agent"))?;
        let campaign_id = id_field("campaign_id", &self.campaign_id)?
            .ok_or_else(|| ApiError::invalid_field("campaign_id", "choose a campaign"))?;
        let desired_time = match self.when.as_str() {
            "scheduled" => Some(self.at.requested()?.ok_or_else(|| {
                ApiError::invalid_field("desired_time", "a scheduled callback needs a date and time, or a slot")
            })?),
            _ => None,
        };
        Ok(CallbackCreate {
            kind,
            campaign_id,
            queue_id: id_field("queue_id", &self.queue_id)?,
            // The agent field belongs to agent callbacks; a queue callback is for any agent.
            agent_id: if kind == CallbackType::Agent { id_field("agent_id", &self.agent_id)? } else { None },
            phone: self.phone.clone(),
            lead_id: None,
            list_id: id_field("list_id", &self.list_id)?,
            timezone: desired_time.as_ref().map(|_| self.timezone.clone()),
            desired_time,
            disambiguation: self.at.disambiguation(),
            priority: 0,
            notes: Some(self.notes.clone()).filter(|n| !n.is_empty()),
            data: Default::default(),
        })
    }
}

pub(super) async fn page(State(state): State<AppState>, user: SignedIn, headers: HeaderMap) -> Response {
    if let Some(refused) = require(&user, &headers, Permission::WriteCallbacks) {
        return refused;
    }
    let choices = match Choices::load(&state, &user).await {
        Ok(choices) => choices,
        Err(e) => return refusal(&user, &headers, &e),
    };
    let values = Values::fresh(&choices, my_zone(&user));
    let view = View { values: &values, choices: &choices, error: None, slots: None, now: state.clock.now() };
    let back = return_to(&headers, None);
    forms::show(&user, &headers, StatusCode::OK, TITLE, form_markup(&user, &view, &back))
}

pub(super) async fn submit(State(state): State<AppState>, request: Request) -> Response {
    let Posted { user, form, headers } = match forms::posted(&state, request).await {
        Ok(posted) => posted,
        Err(refused) => return refused,
    };
    if let Some(refused) = require(&user, &headers, Permission::WriteCallbacks) {
        return refused;
    }
    let choices = match Choices::load(&state, &user).await {
        Ok(choices) => choices,
        Err(e) => return refusal(&user, &headers, &e),
    };
    let back = return_to(&headers, form.get("return_to"));
    let mut values = Values::from_form(&form, my_zone(&user));
    let now = state.clock.now();
    if form.get("step") == Some("slots") {
        values.when = "scheduled".into();
        let queue = id_field("queue_id", &values.queue_id).ok().flatten();
        let slots = available(&state, &user.principal, queue, &values.at.date, &values.timezone).await;
        let view = View { values: &values, choices: &choices, error: None, slots: Some(&slots), now };
        return forms::show(&user, &headers, StatusCode::OK, TITLE, form_markup(&user, &view, &back));
    }
    match create(&state, &user, &values).await {
        Ok(()) => forms::done(&headers, &back),
        Err(e) if is_fault(&e) => refusal(&user, &headers, &e),
        Err(e) => {
            let view = View { values: &values, choices: &choices, error: Some(&e), slots: None, now };
            forms::show(&user, &headers, e.status(), TITLE, form_markup(&user, &view, &back))
        }
    }
}

async fn create(state: &AppState, user: &SignedIn, values: &Values) -> Result<(), ApiError> {
    let input = values.request()?;
    if values.lead_name.is_empty() {
        callbacks::create(state, &user.principal, input, None).await?;
    } else {
        intake::create_for_named_lead(state, &user.principal, input, &values.lead_name).await?;
    }
    Ok(())
}

/// Everything the form shows.
struct View<'a> {
    values: &'a Values,
    choices: &'a Choices,
    error: Option<&'a ApiError>,
    slots: Option<&'a SlotsShown>,
    now: Timestamp,
}

fn form_markup(user: &SignedIn, view: &View<'_>, back: &str) -> Markup {
    let v = view.values;
    let zones =
        zone_options(&my_zone(user), view.choices.campaigns.iter().map(|c| (c.timezone.as_str(), c.name.as_str())));
    html! {
        (error_banner(view.error))
        @if view.choices.campaigns.is_empty() {
            p.notice { "There is no outbound campaign in your scope to create a callback in." }
        }
        form #create-callback method="post" action="/callbacks/new" {
            // The first submit button is the one Enter presses: create, not "show slots".
            button.default-submit type="submit" name="step" value="create" tabindex="-1" aria-hidden="true" { "Create" }
            (hidden_fields(user, back))
            (radios("when", "Callback", &[("immediate", "Immediate"), ("scheduled", "Scheduled")], &v.when))
            (type_radios(&v.kind))
            (campaign_select(view.choices, &v.campaign_id, "Campaign"))
            (queue_select(view.choices, &v.queue_id))
            (agent_select(view.choices, &v.agent_id))
            div.row {
                div.field {
                    label for="cb-phone" { "Customer number" }
                    input id="cb-phone" name="phone" type="tel" inputmode="tel" required value=(v.phone) placeholder="any format";
                }
                div.field {
                    label for="cb-lead-name" { "Lead name" }
                    input id="cb-lead-name" name="lead_name" type="text" value=(v.lead_name) autocomplete="off";
                }
            }
            (list_select(view.choices, &v.list_id))
            div.field {
                label for="cb-notes" { "Notes" }
                textarea id="cb-notes" name="notes" rows="2" { (v.notes) }
            }
            div #scheduled-fields data-shown-if="when=scheduled" {
                (date_time_fields(&v.at, asks_disambiguation(view.error)))
                (timezone_select(&zones, &v.timezone))
                (slot_picker(view.slots.or(proposed(view.error, &v.timezone).as_ref()), v.at.slot.as_deref(), view.now))
            }
            (actions("create-submit", "Create callback", false, back))
        }
    }
}
