//! `GET /callbacks`: the callbacks list, one server-rendered page of 250 rows.
//!
//! The query string goes to the API's list service unchanged (`from`, `to`, `state`,
//! `campaign_id`, `phone`, `q`, `sort`, `page`, …) with the signed-in user's principal, so the
//! filters, their validation, the campaign scope and the agent rules are exactly the API's. Empty
//! form fields are dropped first (a form sends `phone=` when the box is empty). The page adds only
//! presentation: names for ids, times in the user's timezone, presets and paging links.

use std::collections::HashMap;

use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use jiff::Timestamp;
use jiff::tz::TimeZone;
use maud::{Markup, html};
use rebound_domain::access::Permission;
use rebound_domain::model::{Callback, ListId, Origin};

use crate::AppState;
use crate::dto::{CallbackView, Paged};
use crate::error::ApiError;
use crate::extract::Params;
use crate::service::ConfigSnapshot;
use crate::service::callbacks::{ListQuery, list};

use super::layout::{error_page, html_response, signed_in_page};
use super::session::SignedIn;
use super::time::{Preset, local, presets, user_timezone};
use super::{bulk, callback_forms};

const PATH: &str = "/callbacks";

/// The query's non-empty pairs, in order.
fn filled_pairs(raw: Option<&str>) -> Vec<(String, String)> {
    form_urlencoded::parse(raw.unwrap_or("").as_bytes())
        .into_owned()
        .filter(|(_, value)| !value.trim().is_empty())
        .collect()
}

/// `/callbacks?…` with `pairs` minus the parameters in `drop`, plus `add`.
fn link(pairs: &[(String, String)], drop: &[&str], add: &[(&str, String)]) -> String {
    let mut query = form_urlencoded::Serializer::new(String::new());
    for (key, value) in pairs.iter().filter(|(key, _)| !drop.contains(&key.as_str())) {
        query.append_pair(key, value);
    }
    for (key, value) in add {
        query.append_pair(key, value);
    }
    let query = query.finish();
    if query.is_empty() { PATH.to_string() } else { format!("{PATH}?{query}") }
}

/// Names for the ids a page shows.
struct Names {
    config: std::sync::Arc<ConfigSnapshot>,
    lists: HashMap<ListId, String>,
}

impl Names {
    async fn load(state: &AppState) -> Result<Names, ApiError> {
        let config = state.config_cache.snapshot(state.store.as_ref()).await?;
        let lists = state.store.list_lists().await?.into_iter().map(|l| (l.id, l.name)).collect();
        Ok(Names { config, lists })
    }
}

/// What the page shows: a page of callbacks, or why the filter was refused.
enum Outcome {
    Found(Paged<CallbackView>),
    Refused(ApiError),
}

pub async fn list_page(
    State(state): State<AppState>,
    user: SignedIn,
    checked: Result<Params, ApiError>,
    RawQuery(raw): RawQuery,
) -> Response {
    if let Err(e) = checked {
        return error_page(&e);
    }
    if !user.principal.may(Permission::ReadCallbacks) {
        return error_page(&ApiError::forbidden());
    }
    let pairs = filled_pairs(raw.as_deref());
    let outcome = match ListQuery::parse(&Params::from_pairs(pairs.clone())) {
        Err(e) => Outcome::Refused(e),
        Ok(query) => match list(&state, &user.principal, query).await {
            Ok(found) => Outcome::Found(found),
            Err(e @ (ApiError::Internal(_) | ApiError::Unavailable { .. })) => return error_page(&e),
            Err(e) => Outcome::Refused(e),
        },
    };
    let names = match Names::load(&state).await {
        Ok(names) => names,
        Err(e) => return error_page(&e),
    };
    let tz = user_timezone(&user.session.user.timezone);
    let status = match &outcome {
        Outcome::Found(_) => StatusCode::OK,
        Outcome::Refused(e) => e.status(),
    };
    let main = page(&user, &pairs, &outcome, &names, &tz, state.clock.now());
    html_response(status, signed_in_page(&user, "Callbacks", main))
}

fn page(
    user: &SignedIn,
    pairs: &[(String, String)],
    outcome: &Outcome,
    names: &Names,
    tz: &TimeZone,
    now: Timestamp,
) -> Markup {
    let phone = pairs.iter().find(|(key, _)| key == "phone").map(|(_, v)| v.as_str()).unwrap_or("");
    html! {
        h1 { "Callbacks" }
        div.toolbar {
            nav.presets aria-label="Date range" {
                @for preset in presets(now, tz) {
                    (preset_link(pairs, &preset))
                }
                a #all-dates href=(link(pairs, &["from", "to", "timezone", "page"], &[])) { "All dates" }
            }
            form #quick-search method="get" action=(PATH) role="search" {
                label for="phone" { "Phone" }
                input #phone name="phone" type="search" inputmode="tel" value=(phone) placeholder="any format";
                button type="submit" { "Search" }
            }
        }
        @match outcome {
            Outcome::Refused(error) => {
                p #page-error role="alert" { (error.to_object().message) }
            }
            Outcome::Found(found) => {
                (bulk::toolbar(user, pairs, found))
                (pager(pairs, found))
                (table(user, &found.items, names, tz))
            }
        }
    }
}

fn preset_link(pairs: &[(String, String)], preset: &Preset) -> Markup {
    let (from, to) = (preset.from.to_string(), preset.to.to_string());
    let current =
        pairs.iter().any(|(k, v)| k == "from" && *v == from) && pairs.iter().any(|(k, v)| k == "to" && *v == to);
    let href = link(pairs, &["from", "to", "timezone", "page"], &[("from", from), ("to", to)]);
    html! {
        a id=(format!("preset-{}", preset.id)) href=(href) aria-current=[current.then_some("true")] { (preset.label) }
    }
}

/// The total and the previous/next links, above the table (once: the ids are unique).
fn pager(pairs: &[(String, String)], found: &Paged<CallbackView>) -> Markup {
    let shown_to = u64::from(found.page.saturating_sub(1)) * u64::from(found.page_size) + found.items.len() as u64;
    let has_next = u64::from(found.page) * u64::from(found.page_size) < found.total;
    let page_link = |page: u32| link(pairs, &["page"], &[("page", page.to_string())]);
    html! {
        div.pager {
            span { span #total { (found.total) } " callbacks" }
            @if !found.items.is_empty() {
                span { "showing " (shown_to + 1 - found.items.len() as u64) "–" (shown_to) }
            }
            @if found.page > 1 {
                a #prev-page rel="prev" href=(page_link(found.page - 1)) { "‹ Previous" }
            }
            @if has_next {
                a #next-page rel="next" href=(page_link(found.page + 1)) { "Next ›" }
            }
        }
    }
}

fn table(user: &SignedIn, items: &[CallbackView], names: &Names, tz: &TimeZone) -> Markup {
    html! {
        table #callbacks {
            thead {
                tr {
                    (bulk::select_header(user))
                    th scope="col" { "State" }
                    th scope="col" { "Type" }
                    th scope="col" { "Phone" }
                    th scope="col" { "Desired time" }
                    th scope="col" { "Campaign" }
                    th scope="col" { "List" }
                    th scope="col" { "Queue" }
                    th scope="col" { "Agent" }
                    th scope="col" { "Lead" }
                    th scope="col" { "Wrap code" }
                    th scope="col" { span.visually-hidden { "Actions" } }
                }
            }
            tbody {
                @for item in items {
                    (row(user, item, names, tz))
                }
            }
        }
        @if items.is_empty() {
            p.empty { "No callbacks match." }
        }
    }
}

fn row(user: &SignedIn, item: &CallbackView, names: &Names, tz: &TimeZone) -> Markup {
    let c: &Callback = &item.callback;
    let campaign = names.config.campaigns.get(&c.campaign_id);
    let queue = c.queue_id.and_then(|id| names.config.queues.get(&id)).map(|q| q.name.as_str());
    let agent = c.agent_id.or(c.offered_to).and_then(|id| names.config.agents.get(&id)).map(|a| a.name.as_str());
    let list = c.list_id.and_then(|id| names.lists.get(&id)).map(String::as_str);
    let earliest = c.earliest_time.filter(|at| *at != c.desired_time);
    html! {
        tr data-id=(c.id) data-state=(c.state.as_str()) {
            (bulk::select_cell(user, c))
            td {
                span.state { (c.state.as_str()) }
                @if let Some(result) = c.result {
                    " " span.result { (result.as_str()) }
                }
                @if item.overdue {
                    " " span.overdue title="Overdue: still scheduled after its time window" role="img" aria-label="Overdue" { "⚠" }
                }
                @if c.origin == Origin::Scheduled {
                    " " span.scheduled title="Originally scheduled" role="img" aria-label="Originally scheduled" { "📅" }
                }
            }
            td { (c.kind.as_str()) }
            td { (c.phone) }
            td {
                (local(c.desired_time, tz))
                @if let Some(at) = earliest {
                    " " span.earliest title="Earliest time it may be dialled" { "(" (local(at, tz)) ")" }
                }
            }
            td {
                @match campaign {
                    Some(campaign) => {
                        @if campaign.running {
                            span.running title="Running" role="img" aria-label="Running" { "●" }
                        } @else {
                            span.stopped title="Stopped" role="img" aria-label="Stopped" { "○" }
                        }
                        " " (campaign.name)
                    }
                    None => { (c.campaign_id) }
                }
            }
            td { (list.unwrap_or("")) }
            td { (queue.unwrap_or("")) }
            td { (agent.unwrap_or("")) }
            td { @if let Some(lead) = c.lead_id { (lead) } }
            td { (c.wrap_code.as_deref().unwrap_or("")) }
            td.actions { (callback_forms::row_menu(&user.principal, c)) }
        }
    }
}
