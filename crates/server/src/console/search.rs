//! `GET /search?q=`: Tools › Callback search. One box takes a callback id or a phone number in any
//! format and finds matching callbacks across all time and states (not only the list's date range),
//! through the API's search service with the user's principal (so the scope applies). Each result
//! links to the callback's details, opened as a dialog.

use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use maud::{Markup, html};
use rebound_domain::access::Permission;

use crate::AppState;
use crate::dto::{CallbackView, SearchResults};
use crate::error::ApiError;
use crate::extract::Params;
use crate::service::ConfigSnapshot;
use crate::service::callbacks::search;

use super::layout::{error_page, html_response, signed_in_page};
use super::options;
use super::session::SignedIn;
use super::time::TimeFormat;

/// This part's routes (merged by [`super::router`]).
pub fn routes() -> Router<AppState> {
    Router::new().route("/search", get(search_page))
}

/// `GET /search?q=`
async fn search_page(State(state): State<AppState>, user: SignedIn, RawQuery(raw): RawQuery) -> Response {
    if !user.principal.may(Permission::ReadCallbacks) {
        return error_page(&ApiError::forbidden());
    }
    let q = form_urlencoded::parse(raw.as_deref().unwrap_or("").as_bytes())
        .find(|(k, _)| k == "q")
        .map(|(_, v)| v.trim().to_string())
        .unwrap_or_default();
    let (prefs, config) = tokio::join!(options::load(&state, &user), state.config_cache.snapshot(state.store.as_ref()));
    let (prefs, config) = match (prefs, config) {
        (Ok(prefs), Ok(config)) => (prefs, config),
        (Err(e), _) | (_, Err(e)) => return error_page(&e),
    };
    let found = if q.is_empty() {
        None
    } else {
        match search(&state, &user.principal, &Params::from_pairs(vec![("q".into(), q.clone())])).await {
            Err(e @ (ApiError::Internal(_) | ApiError::Unavailable { .. })) => return error_page(&e),
            other => Some(other),
        }
    };
    let status = match &found {
        Some(Err(e)) => e.status(),
        _ => StatusCode::OK,
    };
    let format = prefs.time_format(&user.session.user.timezone);
    let content = html! {
        h1 { "Callback search" }
        p.hint { "Find a callback by its id or by a phone number in any format, across all dates and states." }
        form #callback-search method="get" action="/search" role="search" {
            label for="search-q" { "Callback id or phone number" }
            input #search-q name="q" type="search" value=(q) required autofocus;
            button #search-submit type="submit" { "Search" }
        }
        @match &found {
            None => {}
            Some(Err(e)) => { p #page-error role="alert" { (e.to_object().message) } }
            Some(Ok(results)) => { (results_table(&q, results, &config, &format)) }
        }
    };
    html_response(status, signed_in_page(&user, "Search", content))
}

fn results_table(q: &str, results: &SearchResults, config: &ConfigSnapshot, format: &TimeFormat) -> Markup {
    let count = results.items.len();
    html! {
        p #search-count role="status" {
            (count) @if count == 1 { " callback" } @else { " callbacks" } " found for “" (q) "”"
            @if count > 0 { ", newest first" }
            "."
        }
        @if count > 0 {
            div.table-wrap {
                table #search-results {
                    thead {
                        tr {
                            th scope="col" { "Callback id" }
                            th scope="col" { "State" }
                            th scope="col" { "Phone" }
                            th scope="col" { "Desired time (" (format.zone_name()) ")" }
                            th scope="col" { "Campaign" }
                            th scope="col" { "Queue" }
                            th scope="col" { "Agent" }
                            th scope="col" { "Last updated" }
                        }
                    }
                    tbody {
                        @for item in &results.items {
                            (result_row(item, config, format))
                        }
                    }
                }
            }
        }
    }
}

fn result_row(item: &CallbackView, config: &ConfigSnapshot, format: &TimeFormat) -> Markup {
    let c = &item.callback;
    let campaign = config.campaigns.get(&c.campaign_id).map(|x| x.name.as_str()).unwrap_or("");
    let queue = c.queue_id.and_then(|id| config.queues.get(&id)).map(|q| q.name.as_str()).unwrap_or("");
    let agent = c.agent_id.and_then(|id| config.agents.get(&id)).map(|a| a.name.as_str()).unwrap_or("");
    html! {
        tr data-id=(c.id) data-state=(c.state.as_str()) {
            td { a.callback-link href=(format!("/callbacks/{}", c.id)) data-dialog { code { (c.id) } } }
            td {
                span.state { (c.state.as_str()) }
                @if let Some(result) = c.result { " " span.result { (result.as_str()) } }
                @if item.overdue {
                    " " span.overdue title="Overdue: still scheduled after its time window" role="img" aria-label="Overdue" { "⚠" }
                }
            }
            td { (c.phone) }
            td { (format.at(c.desired_time)) }
            td { (campaign) }
            td { (queue) }
            td { (agent) }
            td { (format.at(c.updated_at)) }
        }
    }
}
