//! `GET /callbacks/{id}`: every field of a callback by name, its position in queue and estimated
//! wait (from `service::callbacks::get`), and, under "Advanced metrics", the full audit history
//! with who did what. The callbacks list also shows this page's fragment under an expanded row, so
//! its root (`section.callback-details`) carries everything it needs.
//!
//! `GET /leads/{id}`: a lead's name, phones 1–3, timezone, list and the campaigns dialling it, and
//! the lead's callbacks (found through the callback search by the lead's numbers).

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use jiff::Timestamp;
use jiff::tz::TimeZone;
use maud::{Markup, html};
use rebound_domain::access::Permission;
use rebound_domain::model::{CallbackEvent, Campaign, Direction, Lead, LeadId, List};
use serde_json::Value;

use crate::AppState;
use crate::dto::CallbackView;
use crate::error::ApiError;
use crate::extract::Params;
use crate::service::scope::Visible;
use crate::service::{callbacks, config};

use super::super::forms;
use super::super::session::SignedIn;
use super::super::time::{local, user_timezone};
use super::{Names, action_links, callback_id, refusal, require, running_dot, state_text};

/// What the details page shows, read with the signed-in principal.
struct Details {
    view: CallbackView,
    events: Vec<CallbackEvent>,
    list: Option<List>,
    lead: Option<Lead>,
    names: Names,
}

async fn load(state: &AppState, user: &SignedIn, raw_id: &str) -> Result<Details, ApiError> {
    let id = callback_id(raw_id)?;
    let view = callbacks::get(state, &user.principal, id).await?;
    let events = callbacks::events(state, &user.principal, id).await?;
    let c = &view.callback;
    let list = match c.list_id {
        Some(id) => Some(config::get_list(state, id).await?),
        None => None,
    };
    // A lead removed since keeps its id on the callback; the page then shows the id alone.
    let lead = match c.lead_id {
        Some(id) => config::get_lead(state, id).await.ok(),
        None => None,
    };
    Ok(Details { view, events, list, lead, names: Names::load(state).await? })
}

pub(super) async fn page(
    State(state): State<AppState>,
    user: SignedIn,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    if let Some(refused) = require(&user, &headers, Permission::ReadCallbacks) {
        return refused;
    }
    match load(&state, &user, &id).await {
        Ok(details) => {
            let tz = user_timezone(&user.session.user.timezone);
            forms::show(&user, &headers, StatusCode::OK, "Callback details", content(&user, &details, &tz))
        }
        Err(e) => refusal(&user, &headers, &e),
    }
}

fn content(user: &SignedIn, d: &Details, tz: &TimeZone) -> Markup {
    let c = &d.view.callback;
    html! {
        section.callback-details data-id=(c.id) {
            (queue_metrics(&d.view))
            dl #callback-fields .fields {
                dt { "State" } dd #detail-state {
                    (state_text(c))
                    @if d.view.overdue {
                        " " span.overdue title="Still scheduled after its time window" { "⚠ overdue" }
                    }
                }
                dt { "Type" } dd { (c.kind.as_str()) " callback" }
                dt { "Origin" } dd { (c.origin.as_str()) }
                dt { "Phone" } dd #detail-phone {
                    (c.phone)
                    @if c.phone_raw != c.phone { " " span.muted { "(given as " (c.phone_raw) ")" } }
                }
                dt { "Campaign" } dd #detail-campaign { (d.names.campaign(c.campaign_id)) }
                dt { "List" } dd { @match &d.list { Some(list) => { (list.name) }, None => { "—" } } }
                dt { "Lead" } dd #detail-lead { (lead_link(c.lead_id, d.lead.as_ref())) }
                dt { "Queue" } dd #detail-queue { (d.names.queue(c.queue_id)) }
                dt { "Agent" } dd #detail-agent { (d.names.agent(c.agent_id)) }
                @if c.offered_to.is_some() {
                    dt { "With agent" } dd { (d.names.agent(c.offered_to)) }
                }
                dt { "Wrap code" } dd { (c.wrap_code.as_deref().unwrap_or("—")) }
                dt { "Desired time" } dd #detail-desired {
                    (local(c.desired_time, tz))
                    @if let Some(zone) = &c.timezone { " " span.muted { "(asked in " (zone) ")" } }
                }
                dt { "Earliest time" } dd #detail-earliest {
                    @match c.earliest_time {
                        Some(at) => { (local(at, tz)) }
                        None => { "when the campaign next runs" }
                    }
                }
                @if let Some(slot) = c.slot_start {
                    dt { "Booked slot" } dd { (local(slot, tz)) }
                }
                dt { "Lead timezone" } dd { (c.lead_timezone.as_deref().unwrap_or("unknown")) }
                dt { "Attempts" } dd { (c.attempts) }
                dt { "Priority" } dd { (c.priority) }
                dt { "Notes" } dd.notes { (c.notes.as_deref().unwrap_or("—")) }
                @for (field, value) in &c.data {
                    dt { (field) } dd { (value) }
                }
                dt { "Created" } dd { (local(c.created_at, tz)) " by " (c.created_by) }
                dt { "Updated" } dd { (local(c.updated_at, tz)) }
                @if let Some(at) = c.queued_at {
                    dt { "Queued" } dd { (local(at, tz)) }
                }
                @if let Some(from) = c.recreated_from {
                    dt { "Recreated from" } dd { a href={ "/callbacks/" (from) } data-dialog { (from) } }
                }
                @if let Some(to) = c.recreated_as {
                    dt { "Recreated as" } dd { a href={ "/callbacks/" (to) } data-dialog { (to) } }
                }
                dt { "Kept until" } dd { (local(c.expires_at, tz)) }
                dt { "Id" } dd.id { (c.id) }
            }
            (history(&d.events, tz))
            nav.callback-actions aria-label="Actions" {
                ul { (action_links(&user.principal, c)) }
            }
        }
    }
}

/// Position in queue and estimated wait: the numbers a supervisor looks at first.
fn queue_metrics(view: &CallbackView) -> Markup {
    html! {
        div.queue-metrics {
            div {
                span.metric-label { "Position in queue" }
                span #position-in-queue .metric {
                    @match view.position_in_queue {
                        Some(0) => { "being offered now" }
                        Some(position) => { (position) }
                        None => { "—" }
                    }
                }
            }
            div {
                span.metric-label { "Estimated wait" }
                span #estimated-wait .metric {
                    @match (view.estimated_wait_secs, view.position_in_queue) {
                        (Some(secs), _) => { (wait_text(secs)) }
                        (None, Some(_)) => { "unknown: no agent is ready" }
                        (None, None) => { "—" }
                    }
                }
            }
        }
    }
}

/// `45 s`, `4 min`, `1 h 20 min`.
fn wait_text(secs: u64) -> String {
    match secs {
        0..60 => format!("{secs} s"),
        60..3600 => format!("{} min", secs.div_ceil(60)),
        _ => format!("{} h {} min", secs / 3600, (secs % 3600) / 60),
    }
}

fn lead_link(id: Option<LeadId>, lead: Option<&Lead>) -> Markup {
    html! {
        @match (id, lead) {
            (Some(id), Some(lead)) => {
                a href={ "/leads/" (id) } data-dialog { (lead.name.as_deref().unwrap_or("Lead")) " #" (id) }
            }
            (Some(id), None) => { "#" (id) }
            (None, _) => { "—" }
        }
    }
}

/// The full audit history (oldest first) behind the "Advanced metrics" toggle.
fn history(events: &[CallbackEvent], tz: &TimeZone) -> Markup {
    html! {
        details #advanced-metrics {
            summary { "Advanced metrics" }
            div.table-scroll {
                table #history {
                    thead {
                        tr {
                            th scope="col" { "When" }
                            th scope="col" { "Who" }
                            th scope="col" { "Action" }
                            th scope="col" { "State" }
                            th scope="col" { "Details" }
                        }
                    }
                    tbody {
                        @for event in events {
                            tr data-action=(event.action) {
                                td { (local(event.at, tz)) }
                                td.actor { (event.actor) }
                                td.action { (event.action) }
                                td {
                                    @match (event.from_state, event.to_state) {
                                        (Some(from), Some(to)) if from != to => { (from.as_str()) " → " (to.as_str()) }
                                        (_, Some(to)) => { (to.as_str()) }
                                        (Some(from), None) => { (from.as_str()) }
                                        (None, None) => { "—" }
                                    }
                                }
                                td { (event_details(&event.details, tz)) }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// An event's details as text: `field: from → to` for each change, `key: value` for the rest.
fn event_details(details: &Value, tz: &TimeZone) -> Markup {
    let Some(map) = details.as_object().filter(|m| !m.is_empty()) else { return html! {} };
    html! {
        ul.event-details {
            @for (key, value) in map {
                @if let (true, Some(changes)) = (key == "changes", value.as_object()) {
                    @for (field, change) in changes {
                        li { (field) ": " (plain(&change["from"], tz)) " → " (plain(&change["to"], tz)) }
                    }
                } @else if !value.is_null() {
                    li { (key) ": " (plain(value, tz)) }
                }
            }
        }
    }
}

/// A detail value as a person reads it: instants in the user's timezone, text as is.
fn plain(value: &Value, tz: &TimeZone) -> String {
    match value {
        Value::Null => "—".to_string(),
        Value::String(text) => match text.parse::<Timestamp>() {
            Ok(at) if text.len() >= 20 => local(at, tz),
            _ => text.clone(),
        },
        other => other.to_string(),
    }
}

// ---- lead details ------------------------------------------------------------------------------

/// What the lead page shows.
struct LeadDetails {
    lead: Lead,
    list: Option<List>,
    /// The outbound campaigns in the user's scope that dial the lead's list.
    campaigns: Vec<Arc<Campaign>>,
    callbacks: Vec<CallbackView>,
    names: Names,
}

async fn load_lead(state: &AppState, user: &SignedIn, raw_id: &str) -> Result<LeadDetails, ApiError> {
    let id: LeadId = raw_id.parse().map_err(|_| ApiError::not_found("lead"))?;
    let lead = config::shown(state, &user.principal, config::get_lead(state, id).await?).await?;
    let list = config::get_list(state, lead.list_id).await.ok();
    // The callback search matches callback numbers and lead phones 1–3 across all time; the lead's
    // own callbacks are those naming it.
    let mut found: BTreeMap<_, CallbackView> = BTreeMap::new();
    for phone in &lead.phones {
        let params = Params::from_pairs(vec![("q".into(), phone.clone()), ("limit".into(), "1000".into())]);
        for view in callbacks::search(state, &user.principal, &params).await?.items {
            if view.callback.lead_id == Some(lead.id) {
                found.insert(view.callback.id, view);
            }
        }
    }
    let mut callbacks: Vec<CallbackView> = found.into_values().collect();
    callbacks.sort_by_key(|view| std::cmp::Reverse(view.callback.desired_time));
    let names = Names::load(state).await?;
    let visible = Visible::of(&user.principal, &names.config);
    let mut campaigns: Vec<Arc<Campaign>> = names
        .config
        .campaigns
        .values()
        .filter(|c| c.direction == Direction::Outbound && c.lists.contains(&lead.list_id) && visible.campaign(c.id))
        .cloned()
        .collect();
    campaigns.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(LeadDetails { lead, list, campaigns, callbacks, names })
}

pub(super) async fn lead_page(
    State(state): State<AppState>,
    user: SignedIn,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    if let Some(refused) = require(&user, &headers, Permission::ReadCallbacks) {
        return refused;
    }
    match load_lead(&state, &user, &id).await {
        Ok(details) => {
            let tz = user_timezone(&user.session.user.timezone);
            forms::show(&user, &headers, StatusCode::OK, "Lead details", lead_content(&details, &tz))
        }
        Err(e) => refusal(&user, &headers, &e),
    }
}

fn lead_content(d: &LeadDetails, tz: &TimeZone) -> Markup {
    let lead = &d.lead;
    html! {
        section.lead-details data-id=(lead.id) {
            dl #lead-fields .fields {
                dt { "Name" } dd #lead-name { (lead.name.as_deref().unwrap_or("—")) }
                @for n in 0..3 {
                    dt { "Phone " (n + 1) }
                    dd id=(format!("lead-phone-{}", n + 1)) { (lead.phones.get(n).map_or("—", String::as_str)) }
                }
                dt { "Timezone" } dd #lead-timezone { (lead.timezone.as_deref().unwrap_or("from the number")) }
                dt { "List" } dd #lead-list { @match &d.list { Some(list) => { (list.name) }, None => { "list " (lead.list_id) } } }
                dt { "Campaigns" } dd #lead-campaigns {
                    @for (i, campaign) in d.campaigns.iter().enumerate() {
                        @if i > 0 { ", " }
                        (running_dot(campaign.running)) " " (campaign.name)
                    }
                }
                @for (field, value) in &lead.data {
                    dt { (field) } dd { (value) }
                }
                dt { "Lead id" } dd.id { (lead.id) }
            }
            h3 { "Callbacks" }
            @if d.callbacks.is_empty() {
                p.empty #lead-no-callbacks { "No callbacks for this lead." }
            } @else {
                div.table-scroll {
                    table #lead-callbacks {
                        thead { tr {
                            th scope="col" { "State" } th scope="col" { "Desired time" } th scope="col" { "Phone" }
                            th scope="col" { "Campaign" } th scope="col" { "Queue" } th scope="col" { span.visually-hidden { "Details" } }
                        } }
                        tbody {
                            @for view in &d.callbacks {
                                @let c = &view.callback;
                                tr data-id=(c.id) {
                                    td { (state_text(c)) }
                                    td { (local(c.desired_time, tz)) }
                                    td { (c.phone) }
                                    td { (d.names.campaign(c.campaign_id)) }
                                    td { (d.names.queue(c.queue_id)) }
                                    td { a href={ "/callbacks/" (c.id) } data-dialog { "Details" } }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn waits_read_in_seconds_minutes_or_hours() {
        assert_eq!(wait_text(45), "45 s");
        assert_eq!(wait_text(61), "2 min");
        assert_eq!(wait_text(4800), "1 h 20 min");
    }

    #[test]
    fn history_details_show_changes_and_instants_in_the_users_zone() {
        let tz = user_timezone("America/New_York");
        let details = json!({"changes": {"desired_time": {"from": "2026-03-05T15:00:00Z", "to": "2026-03-05T16:00:00Z"}},
                             "timezone_source": "campaign", "reason": null});
        let text = event_details(&details, &tz).into_string();
        assert!(text.contains("desired_time: 2026-03-05 10:00 → 2026-03-05 11:00"), "{text}");
        assert!(text.contains("timezone_source: campaign") && !text.contains("reason"), "{text}");
    }
}
