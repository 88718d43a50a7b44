//! `/agent`: the agent view, for a user linked to an agent (`user.principal.agent_id`). Presence
//! (ready, not ready, offline), the current offer with accept and reject, the callback in progress
//! with its outcome form, and the agent's own callback list when the agent may open it
//! (`can_view_callback_list`).
//!
//! Every action goes through `service::agents` with the user's principal — the functions behind
//! `PUT /agents/{id}/presence`, `POST /callbacks/{id}/accept|reject|outcome` and
//! `GET /agents/{id}/callbacks` — always naming the user's own agent, so an agent acts only for
//! themselves and sees only their own offer and list. Other users get 403 with a page saying why.
//!
//! `agent.js` follows the agent's offer stream (`GET /api/v1/agents/{id}/events`) and redraws the
//! offer when it changes; without it, the Refresh link does the same.

use axum::Router;
use axum::extract::{Path, RawQuery, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use jiff::Timestamp;
use jiff::tz::TimeZone;
use maud::{Markup, html};
use rebound_domain::access::Permission;
use rebound_domain::dispatch::Outcome;
use rebound_domain::model::{Agent, AgentId, CallbackId, Lead, Presence, WrapCode};
use rebound_domain::state::CallbackState;
use rebound_store::PageRequest;

use crate::AppState;
use crate::dto::{CallbackView, OfferAnswer, OutcomeRequest, Paged, PresenceRequest};
use crate::error::ApiError;
use crate::extract::Params;
use crate::service::agents;
use crate::service::config::{get_agent, get_lead, list_wrap_codes};

use super::forms::{Posted, csrf_field, done, form_error, posted};
use super::layout::{error_page, html_response, signed_in_page};
use super::session::SignedIn;
use super::time::{local, user_timezone};

const PATH: &str = "/agent";
const TITLE: &str = "My callbacks";

/// This part's routes (merged by [`super::router`]).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route(PATH, get(agent_page))
        .route("/agent/presence", post(set_presence))
        .route("/agent/callbacks/{id}/accept", post(accept))
        .route("/agent/callbacks/{id}/reject", post(reject))
        .route("/agent/callbacks/{id}/outcome", post(outcome))
}

/// The agent the signed-in user acts as, or 403 saying the page needs an agent link.
fn own_agent(user: &SignedIn) -> Result<AgentId, ApiError> {
    match user.principal.agent_id {
        Some(id) if user.principal.may(Permission::AgentActions) => Ok(id),
        _ => Err(ApiError::Forbidden {
            code: "not_an_agent",
            message: "this page is for users linked to an agent; an administrator can link your user to an agent"
                .into(),
        }),
    }
}

/// `?page=N` of the agent's list (blank or absent: the first).
fn page_param(raw: Option<&str>) -> Vec<(String, String)> {
    form_urlencoded::parse(raw.unwrap_or("").as_bytes())
        .into_owned()
        .filter(|(key, value)| key == "page" && !value.trim().is_empty())
        .take(1)
        .collect()
}

/// `GET /agent`
pub async fn agent_page(State(state): State<AppState>, user: SignedIn, RawQuery(raw): RawQuery) -> Response {
    render(&state, &user, page_param(raw.as_deref()), None).await
}

/// The page, with `refused` (the answer to a form) above it; its status is the refusal's.
async fn render(state: &AppState, user: &SignedIn, page: Vec<(String, String)>, refused: Option<ApiError>) -> Response {
    let agent_id = match own_agent(user) {
        Ok(id) => id,
        Err(e) => return error_page(&e),
    };
    let content = match Content::load(state, user, agent_id, page).await {
        Ok(content) => content,
        Err(e) => return error_page(&e),
    };
    let status = refused.as_ref().map_or(StatusCode::OK, ApiError::status);
    let tz = user_timezone(&user.session.user.timezone);
    let main = html! {
        div.agent-page {
            h1 { (TITLE) }
            (form_error(refused.as_ref()))
            div.agent-view {
                (presence_panel(user, &content.agent))
                (offer_panel(user, &content, &tz, state.clock().now()))
            }
            (own_list(&content, &tz))
        }
    };
    html_response(status, signed_in_page(user, TITLE, main))
}

/// What the page shows, read through the agent services as the user.
struct Content {
    agent: Agent,
    offer: Option<CallbackView>,
    lead: Option<Lead>,
    wrap_codes: Vec<WrapCode>,
    /// The agent's own list, or why it is not shown.
    list: Result<Paged<CallbackView>, ApiError>,
}

impl Content {
    async fn load(
        state: &AppState,
        user: &SignedIn,
        agent_id: AgentId,
        page: Vec<(String, String)>,
    ) -> Result<Content, ApiError> {
        let principal = &user.principal;
        let agent = get_agent(state, agent_id).await?;
        let offer = agents::offer(state, principal, agent_id).await?;
        let lead = match offer.as_ref().and_then(|o| o.callback.lead_id) {
            Some(id) => get_lead(state, id).await.ok(),
            None => None,
        };
        let wrap_codes = match &offer {
            Some(o) if o.callback.state == CallbackState::Processing => {
                let all = PageRequest { page: 1, page_size: PageRequest::MAX_SIZE };
                let codes = list_wrap_codes(state, principal, all).await?.items;
                codes.into_iter().filter(|w| w.campaign_id == o.callback.campaign_id).collect()
            }
            _ => Vec::new(),
        };
        let list = if agent.can_view_callback_list {
            match agents::agent_callbacks(state, principal, agent_id, &Params::from_pairs(page)).await {
                Err(e @ (ApiError::Internal(_) | ApiError::Unavailable { .. })) => return Err(e),
                found => found,
            }
        } else {
            Err(ApiError::Forbidden { code: "forbidden", message: String::new() })
        };
        Ok(Content { agent, offer, lead, wrap_codes, list })
    }
}

fn presence_label(presence: Presence) -> &'static str {
    match presence {
        Presence::Ready => "Ready",
        Presence::NotReady => "Not ready",
        Presence::Offline => "Offline",
        Presence::Busy => "Busy (on a callback)",
    }
}

fn presence_panel(user: &SignedIn, agent: &Agent) -> Markup {
    let choices = [Presence::Ready, Presence::NotReady, Presence::Offline];
    html! {
        section #presence-panel .agent-panel aria-labelledby="presence-title" {
            h2 #presence-title { "Presence" }
            p {
                (agent.name) " is "
                strong #presence-current data-presence=(agent.presence.as_str()) { (presence_label(agent.presence)) }
            }
            form #presence method="post" action="/agent/presence" {
                (csrf_field(user))
                div.presence-choices role="group" aria-label="Set presence" {
                    @for choice in choices {
                        button type="submit" name="presence" value=(choice.as_str())
                            id=(format!("presence-{}", choice.as_str().replace('_', "-")))
                            aria-pressed=(if agent.presence == choice { "true" } else { "false" }) {
                            (presence_label(choice))
                        }
                    }
                }
            }
        }
    }
}

fn offer_panel(user: &SignedIn, content: &Content, tz: &TimeZone, now: Timestamp) -> Markup {
    let offer = content.offer.as_ref();
    let (id, state) = offer.map_or((String::new(), ""), |o| (o.callback.id.to_string(), o.callback.state.as_str()));
    html! {
        section #offer .agent-panel data-agent-id=(content.agent.id) data-offer-id=(id) data-offer-state=(state)
            aria-labelledby="offer-title" aria-live="polite" {
            h2 #offer-title {
                @match offer.map(|o| o.callback.state) {
                    Some(CallbackState::Processing) => "Callback in progress",
                    Some(_) => "Callback offered to you",
                    None => "Current offer",
                }
                " " span #live-status .live-status {}
            }
            @match offer {
                None => {
                    p #no-offer { "No callback is offered to you right now." }
                    @if content.agent.presence != Presence::Ready {
                        p.hint { "Set yourself Ready to receive callbacks." }
                    }
                }
                Some(view) => {
                    (offer_details(view, content.lead.as_ref(), tz, now))
                    @if view.callback.state == CallbackState::Processing {
                        (outcome_form(user, view, &content.wrap_codes))
                    } @else {
                        (answer_forms(user, view))
                    }
                }
            }
            p.refresh { a #refresh-offer href=(PATH) { "Refresh" } }
        }
    }
}

fn offer_details(view: &CallbackView, lead: Option<&Lead>, tz: &TimeZone, now: Timestamp) -> Markup {
    let c = &view.callback;
    let seconds_left = c.hold_until.filter(|_| c.state == CallbackState::Routing).map(|until| {
        let left = until.duration_since(now).as_secs();
        left.max(0)
    });
    html! {
        dl.offer-details {
            dt { "Phone" }
            dd #offer-phone { (c.phone) }
            dt { "Lead" }
            dd #offer-lead {
                @match (lead, c.lead_id) {
                    (Some(lead), _) => {
                        (lead.name.as_deref().unwrap_or("(no name)")) " · lead " (lead.id)
                        @if !lead.data.is_empty() {
                            ul.lead-data {
                                @for (field, value) in &lead.data {
                                    li { span.field { (field) } ": " (value) }
                                }
                            }
                        }
                    }
                    (None, Some(id)) => { "lead " (id) }
                    (None, None) => { "No lead linked" }
                }
            }
            dt { "Notes" }
            dd #offer-notes { (c.notes.as_deref().unwrap_or("—")) }
            dt { "Desired time" }
            dd #offer-desired {
                (local(c.desired_time, tz))
                @if let Some(at) = c.earliest_time.filter(|at| *at != c.desired_time) {
                    " " span.earliest { "(" (local(at, tz)) ")" }
                }
            }
            dt { "Attempts" }
            dd #offer-attempts { (c.attempts) }
            @if let Some(left) = seconds_left {
                dt { "Time left to answer" }
                dd { span #offer-seconds data-seconds-left=(left) { (left) " s" } }
            }
        }
    }
}

fn answer_forms(user: &SignedIn, view: &CallbackView) -> Markup {
    let id = view.callback.id;
    html! {
        div.offer-actions {
            form #accept-form method="post" action=(format!("/agent/callbacks/{id}/accept")) {
                (csrf_field(user))
                button #accept type="submit" { "Accept" }
            }
            form #reject-form method="post" action=(format!("/agent/callbacks/{id}/reject")) {
                (csrf_field(user))
                button #reject .secondary type="submit" { "Reject" }
            }
        }
    }
}

fn outcome_label(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Connected => "Connected",
        Outcome::NoAnswer => "No answer",
        Outcome::Busy => "Busy",
        Outcome::Voicemail => "Voicemail",
        Outcome::InvalidNumber => "Invalid number",
        Outcome::Failed => "Failed",
    }
}

fn outcome_form(user: &SignedIn, view: &CallbackView, wrap_codes: &[WrapCode]) -> Markup {
    let id = view.callback.id;
    html! {
        form #outcome-form method="post" action=(format!("/agent/callbacks/{id}/outcome")) {
            (csrf_field(user))
            label for="outcome" { "Outcome" }
            select #outcome name="outcome" required {
                @for outcome in Outcome::ALL {
                    option value=(outcome.as_str()) { (outcome_label(outcome)) }
                }
            }
            label for="wrap-code" { "Wrap code" }
            input #wrap-code name="wrap_code" type="text" list="wrap-codes" autocomplete="off" placeholder="optional";
            datalist #wrap-codes {
                @for wrap in wrap_codes {
                    option value=(wrap.code) { (wrap.label) }
                }
            }
            label for="outcome-notes" { "Notes" }
            textarea #outcome-notes name="notes" rows="3" maxlength=(crate::hardening::limits::MAX_NOTES_LEN) {}
            div.actions {
                button #record-outcome type="submit" { "Record outcome" }
            }
        }
    }
}

fn own_list(content: &Content, tz: &TimeZone) -> Markup {
    html! {
        section #my-list aria-labelledby="my-list-title" {
            h2 #my-list-title { "My callback list" }
            @match &content.list {
                Ok(found) => {
                    (list_pager(found))
                    div.table-scroll {
                        table #my-callbacks {
                            thead {
                                tr {
                                    th scope="col" { "State" }
                                    th scope="col" { "Type" }
                                    th scope="col" { "Phone" }
                                    th scope="col" { "Desired time" }
                                    th scope="col" { "Attempts" }
                                    th scope="col" { "Wrap code" }
                                    th scope="col" { "Notes" }
                                }
                            }
                            tbody {
                                @for item in &found.items {
                                    (list_row(item, tz))
                                }
                            }
                        }
                    }
                    @if found.items.is_empty() {
                        p.empty { "You have no callbacks." }
                    }
                }
                Err(ApiError::Forbidden { .. }) => {
                    p #no-list { "Your callback list is not enabled. An administrator can allow it in your agent settings." }
                }
                Err(error) => {
                    p #page-error role="alert" { (error.to_object().message) }
                }
            }
        }
    }
}

fn list_pager(found: &Paged<CallbackView>) -> Markup {
    let has_next = u64::from(found.page) * u64::from(found.page_size) < found.total;
    html! {
        div.pager {
            span { span #my-total { (found.total) } (if found.total == 1 { " callback" } else { " callbacks" }) }
            @if found.page > 1 {
                a #my-prev-page rel="prev" href=(format!("{PATH}?page={}", found.page - 1)) { "‹ Previous" }
            }
            @if has_next {
                a #my-next-page rel="next" href=(format!("{PATH}?page={}", found.page + 1)) { "Next ›" }
            }
        }
    }
}

fn list_row(item: &CallbackView, tz: &TimeZone) -> Markup {
    let c = &item.callback;
    html! {
        tr data-id=(c.id) data-state=(c.state.as_str()) {
            td {
                span.state { (c.state.as_str()) }
                @if let Some(result) = c.result {
                    " " span.result { (result.as_str()) }
                }
                @if item.overdue {
                    " " span.overdue title="Overdue: still scheduled after its time window" role="img" aria-label="Overdue" { "⚠" }
                }
            }
            td { (c.kind.as_str()) }
            td { (c.phone) }
            td {
                (local(c.desired_time, tz))
                @if let Some(at) = c.earliest_time.filter(|at| *at != c.desired_time) {
                    " " span.earliest title="Earliest time it may be dialled" { "(" (local(at, tz)) ")" }
                }
            }
            td { (c.attempts) }
            td { (c.wrap_code.as_deref().unwrap_or("")) }
            td.notes { (c.notes.as_deref().unwrap_or("")) }
        }
    }
}

// ---- the forms --------------------------------------------------------------------------------------

/// A posted agent form: the user, their agent, the form; or the page answering why not.
async fn agent_form(state: &AppState, request: Request) -> Result<(Posted, AgentId), Response> {
    let posted = posted(state, request).await?;
    match own_agent(&posted.user) {
        Ok(agent_id) => Ok((posted, agent_id)),
        Err(e) => Err(error_page(&e)),
    }
}

/// After a form: back to the page, or the page with the refusal (a server fault is an error page).
async fn answer(state: &AppState, user: &SignedIn, headers: &HeaderMap, result: Result<(), ApiError>) -> Response {
    match result {
        Ok(()) => done(headers, PATH),
        Err(e @ (ApiError::Internal(_) | ApiError::Unavailable { .. })) => error_page(&e),
        Err(e) => render(state, user, Vec::new(), Some(e)).await,
    }
}

fn callback_id(raw: &str) -> Result<CallbackId, ApiError> {
    CallbackId::parse(raw).ok_or_else(|| ApiError::not_found("callback"))
}

/// `POST /agent/presence` (`presence`: ready, not_ready or offline).
pub async fn set_presence(State(state): State<AppState>, request: Request) -> Response {
    let (posted, agent_id) = match agent_form(&state, request).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let result = async {
        let presence = match posted.form.get("presence") {
            Some("ready") => Presence::Ready,
            Some("not_ready") => Presence::NotReady,
            Some("offline") => Presence::Offline,
            _ => return Err(ApiError::invalid_field("presence", "presence is ready, not_ready or offline")),
        };
        agents::set_presence(&state, &posted.user.principal, agent_id, PresenceRequest { presence }).await?;
        Ok(())
    }
    .await;
    answer(&state, &posted.user, &posted.headers, result).await
}

/// `POST /agent/callbacks/{id}/accept`
pub async fn accept(State(state): State<AppState>, Path(id): Path<String>, request: Request) -> Response {
    let (posted, agent_id) = match agent_form(&state, request).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let result = async {
        let answer = OfferAnswer { agent_id: Some(agent_id) };
        agents::accept(&state, &posted.user.principal, callback_id(&id)?, answer).await?;
        Ok(())
    }
    .await;
    answer(&state, &posted.user, &posted.headers, result).await
}

/// `POST /agent/callbacks/{id}/reject`
pub async fn reject(State(state): State<AppState>, Path(id): Path<String>, request: Request) -> Response {
    let (posted, agent_id) = match agent_form(&state, request).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let result = async {
        let answer = OfferAnswer { agent_id: Some(agent_id) };
        agents::reject(&state, &posted.user.principal, callback_id(&id)?, answer).await?;
        Ok(())
    }
    .await;
    answer(&state, &posted.user, &posted.headers, result).await
}

/// `POST /agent/callbacks/{id}/outcome` (`outcome`, optional `wrap_code` and `notes`).
pub async fn outcome(State(state): State<AppState>, Path(id): Path<String>, request: Request) -> Response {
    let (posted, agent_id) = match agent_form(&state, request).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let result = async {
        let form = &posted.form;
        let outcome = form.get("outcome").and_then(Outcome::parse).ok_or_else(|| {
            ApiError::invalid_field(
                "outcome",
                "outcome is connected, no_answer, busy, voicemail, invalid_number or failed",
            )
        })?;
        let report = OutcomeRequest {
            outcome,
            wrap_code: form.get("wrap_code").map(str::to_string),
            notes: form.get("notes").map(str::to_string),
            agent_id: Some(agent_id),
            lease_id: None,
        };
        let recorded = agents::outcome(&state, &posted.user.principal, callback_id(&id)?, report).await?;
        // The outcome is recorded even when its wrap code's callback is refused: say so.
        match recorded.wrap_error {
            Some(refusal) => Err(ApiError::unprocessable(
                "wrap_callback_refused",
                format!("the outcome was recorded, but the wrap code's callback was not created: {}", refusal.message),
            )),
            None => Ok(()),
        }
    }
    .await;
    answer(&state, &posted.user, &posted.headers, result).await
}
