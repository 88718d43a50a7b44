//! Configuration pages (admin): campaigns (settings, weekly dialling hours, date exceptions), lists,
//! queues, agents, wrap codes, users and API tokens, under `/config`.
//!
//! Who: the configuration section is an admin's tool, as the header's navigation says. Its pages
//! and forms need the permission the API asks for the same change (`WriteConfig` for
//! configuration, `ManageAccess` for users and tokens), so a supervisor or a monitor gets 403 on
//! the pages as on the posts; they read configuration through the API or the callbacks pages.
//!
//! How: every change is a form (see [`super::forms`]) turned into the API's input (`CampaignPatch`,
//! `QueueCreate`, `UserPatch`, …) and handed to the same service the API calls
//! (`service::config`, `service::users`, `service::access`), which holds every rule. A refusal is
//! shown above the form with what was typed kept ([`fields::Draft`]); faults and vanished objects
//! get the error page. Small forms are dialogs (`data-dialog` links), the long ones (campaign
//! settings, hours, exceptions) full pages; all of them work without the script.
//!
//! - [`campaigns`]: the list, running start/stop, settings, create and delete.
//! - [`hours`]: a campaign's weekly dialling hours editor and its date exceptions.
//! - [`lists`], [`queues`], [`agents`], [`wrap_codes`]: one list page and one form each.
//! - [`users`], [`tokens`]: access (a new token's secret is shown once, on the page answering its
//!   creation).
//! - [`fields`]: the labelled inputs and the draft they show.

mod agents;
mod campaigns;
mod fields;
mod hours;
mod lists;
mod queues;
mod tokens;
mod users;
mod wrap_codes;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use maud::{Markup, html};
use rebound_domain::access::{Permission, Principal};
use rebound_domain::model::{Agent, Campaign, Direction, List, Queue};
use rebound_store::PageRequest;

use crate::AppState;
use crate::error::{ApiError, ApiResult};
use crate::service::config as service;

use super::forms::{self, Posted};
use super::layout::{error_page, html_response, signed_in_page};
use super::session::SignedIn;

/// A handler's answer: the page or redirect, or why it stopped (shown as the error page).
type Answer = Result<Response, Failure>;

/// Why a request stopped before its page: an error (answered with the error page) or an answer
/// already made (a redirect to the sign-in, a refused CSRF token). Small, so `?` stays cheap.
enum Failure {
    Error(ApiError),
    Answered(Box<Response>),
}

impl From<ApiError> for Failure {
    fn from(error: ApiError) -> Failure {
        Failure::Error(error)
    }
}

impl From<Response> for Failure {
    fn from(response: Response) -> Failure {
        Failure::Answered(Box::new(response))
    }
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        match self {
            Failure::Error(error) => error_page(&error),
            Failure::Answered(response) => *response,
        }
    }
}

/// This part's routes (merged by [`super::router`]).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/config", get(index))
        .merge(campaigns::routes())
        .merge(hours::routes())
        .merge(lists::routes())
        .merge(queues::routes())
        .merge(agents::routes())
        .merge(wrap_codes::routes())
        .merge(users::routes())
        .merge(tokens::routes())
}

/// The sections of the configuration pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Section {
    Overview,
    Campaigns,
    Lists,
    Queues,
    Agents,
    WrapCodes,
    Users,
    Tokens,
}

impl Section {
    const ALL: [Section; 8] = [
        Section::Overview,
        Section::Campaigns,
        Section::Lists,
        Section::Queues,
        Section::Agents,
        Section::WrapCodes,
        Section::Users,
        Section::Tokens,
    ];

    fn path(self) -> &'static str {
        match self {
            Section::Overview => "/config",
            Section::Campaigns => "/config/campaigns",
            Section::Lists => "/config/lists",
            Section::Queues => "/config/queues",
            Section::Agents => "/config/agents",
            Section::WrapCodes => "/config/wrap-codes",
            Section::Users => "/config/users",
            Section::Tokens => "/config/tokens",
        }
    }

    fn label(self) -> &'static str {
        match self {
            Section::Overview => "Overview",
            Section::Campaigns => "Campaigns",
            Section::Lists => "Lists",
            Section::Queues => "Queues",
            Section::Agents => "Agents",
            Section::WrapCodes => "Wrap codes",
            Section::Users => "Users",
            Section::Tokens => "API tokens",
        }
    }

    fn about(self) -> &'static str {
        match self {
            Section::Overview => "",
            Section::Campaigns => {
                "Settings, weekly dialling hours (overnight shifts too), dates closed or with special hours, running."
            }
            Section::Lists => "The lead lists campaigns dial, and their data fields.",
            Section::Queues => "Services callbacks wait in: slot length, slot capacity, duplicates, pause.",
            Section::Agents => "Campaigns and queues each agent works, and who may open the callback list.",
            Section::WrapCodes => "Codes agents wrap calls with, and the callback Add-to-Queue makes from them.",
            Section::Users => "Who signs in to the console: role, timezone, scope, agent, password.",
            Section::Tokens => "Secrets integrations call the API with; shown once when created.",
        }
    }

    /// What a user needs to open the section (and to change what it holds).
    fn permission(self) -> Permission {
        match self {
            Section::Users | Section::Tokens => Permission::ManageAccess,
            _ => Permission::WriteConfig,
        }
    }
}

/// The section's permission, or the 403 page.
fn require(user: &SignedIn, section: Section) -> Result<(), Failure> {
    if user.principal.may(section.permission()) { Ok(()) } else { Err(ApiError::forbidden().into()) }
}

/// A posted form (session and CSRF checked by [`forms::posted`]) from a user allowed to change
/// what `section` holds.
async fn admin_post(state: &AppState, request: Request, section: Section) -> Result<Posted, Failure> {
    let posted = forms::posted(state, request).await?;
    require(&posted.user, section)?;
    Ok(posted)
}

/// A configuration page: the whole document with the sections' navigation, or for a dialog only
/// the content (as [`forms::show`] draws it). The content sits in `div.config-content` either
/// way, which `config.css` scopes its rules to (every page links every part's stylesheet).
fn page(
    user: &SignedIn,
    headers: &HeaderMap,
    section: Section,
    status: StatusCode,
    title: &str,
    content: Markup,
) -> Response {
    let content = html! { div.config-content { (content) } };
    if forms::wants_fragment(headers) {
        return forms::show(user, headers, status, title, content);
    }
    let body = html! {
        div.config {
            nav.config-nav aria-label="Configuration sections" {
                @for s in Section::ALL.into_iter().filter(|s| user.principal.may(s.permission())) {
                    a href=(s.path()) aria-current=[(s == section).then_some("page")] { (s.label()) }
                }
            }
            div.dialog-content.config-main {
                h1 { (title) }
                (content)
            }
        }
    };
    html_response(status, signed_in_page(user, "Configuration", body))
}

/// Splits a service's answer: a refusal the form can show (a bad value, a conflict) stays an
/// `Err` inside `Ok`; a fault, a missing object or a refused permission ends the request with the
/// error page.
fn refusable<T>(result: ApiResult<T>) -> Result<Result<T, ApiError>, Failure> {
    match result {
        Ok(value) => Ok(Ok(value)),
        Err(e @ (ApiError::BadRequest { .. } | ApiError::Conflict { .. } | ApiError::Unprocessable { .. })) => {
            Ok(Err(e))
        }
        Err(e) => Err(e.into()),
    }
}

/// A numeric id from a path, or the 404 page.
fn parse_id(text: &str, what: &str) -> Result<i64, Failure> {
    text.parse().map_err(|_| ApiError::not_found(what).into())
}

/// Every object of a kind, as far as one page of the service goes (configuration is small).
fn everything() -> PageRequest {
    PageRequest { page: 1, page_size: PageRequest::MAX_SIZE }
}

/// The configuration the forms choose from and the tables name.
struct Catalog {
    campaigns: Vec<Campaign>,
    lists: Vec<List>,
    queues: Vec<Queue>,
    agents: Vec<Agent>,
}

impl Catalog {
    async fn load(state: &AppState, principal: &Principal) -> ApiResult<Catalog> {
        let mut campaigns = service::list_campaigns(state, principal, everything()).await?.items;
        let mut lists = service::list_lists(state, principal, everything()).await?.items;
        let mut queues = service::list_queues(state, principal, everything()).await?.items;
        let mut agents = service::list_agents(state, principal, everything()).await?.items;
        campaigns.sort_by_key(|o| o.name.to_lowercase());
        lists.sort_by_key(|o| o.name.to_lowercase());
        queues.sort_by_key(|o| o.name.to_lowercase());
        agents.sort_by_key(|o| o.name.to_lowercase());
        Ok(Catalog { campaigns, lists, queues, agents })
    }

    fn campaign_name(&self, id: i64) -> String {
        self.campaigns.iter().find(|c| c.id == id).map_or_else(|| format!("#{id}"), |c| c.name.clone())
    }

    fn list_name(&self, id: i64) -> String {
        self.lists.iter().find(|l| l.id == id).map_or_else(|| format!("#{id}"), |l| l.name.clone())
    }

    fn queue_name(&self, id: i64) -> String {
        self.queues.iter().find(|q| q.id == id).map_or_else(|| format!("#{id}"), |q| q.name.clone())
    }

    fn agent_name(&self, id: i64) -> String {
        self.agents.iter().find(|a| a.id == id).map_or_else(|| format!("#{id}"), |a| a.name.clone())
    }

    fn campaign_options(&self) -> Vec<(String, String)> {
        self.campaigns.iter().map(|c| (c.id.to_string(), c.name.clone())).collect()
    }

    /// Queues and callbacks live in outbound campaigns only.
    fn outbound_campaign_options(&self) -> Vec<(String, String)> {
        self.campaigns
            .iter()
            .filter(|c| c.direction == Direction::Outbound)
            .map(|c| (c.id.to_string(), c.name.clone()))
            .collect()
    }

    fn list_options(&self) -> Vec<(String, String)> {
        self.lists.iter().map(|l| (l.id.to_string(), l.name.clone())).collect()
    }

    /// Queues named with their campaign (two campaigns may both have a "Sales" queue).
    fn queue_options(&self) -> Vec<(String, String)> {
        self.queues
            .iter()
            .map(|q| (q.id.to_string(), format!("{} ({})", q.name, self.campaign_name(q.campaign_id))))
            .collect()
    }

    fn agent_options(&self) -> Vec<(String, String)> {
        self.agents.iter().map(|a| (a.id.to_string(), format!("{} ({})", a.name, a.username))).collect()
    }
}

/// Names joined for a table cell; `empty` when there are none.
fn joined(names: Vec<String>, empty: &str) -> String {
    if names.is_empty() { empty.to_string() } else { names.join(", ") }
}

/// The toolbar above a section's table: its one "new" action.
fn new_link(href: &str, id: &str, label: &str, dialog: bool) -> Markup {
    html! {
        div.config-toolbar {
            @if dialog {
                a.button id=(id) href=(href) data-dialog { (label) }
            } @else {
                a.button id=(id) href=(href) { (label) }
            }
        }
    }
}

/// The submit button and the way back: the dialog's Cancel, or a link on a full page (the
/// script-less fallback; `data-close` does nothing there).
fn actions(submit_id: &str, submit: &str, back: &str) -> Markup {
    html! {
        div.actions {
            a.back href=(back) { "Back" }
            button type="button" data-close .secondary { "Cancel" }
            button id=(submit_id) type="submit" { (submit) }
        }
    }
}

/// A confirmation for deleting (or revoking) `name`: the question, the refusal of a previous
/// try (an object still in use), one button posting to `action`.
#[allow(clippy::too_many_arguments)] // one page, one place; a struct would only rename them
fn confirm(
    user: &SignedIn,
    headers: &HeaderMap,
    section: Section,
    title: &str,
    question: Markup,
    action: &str,
    button: &str,
    error: Option<&ApiError>,
) -> Response {
    let status = error.map_or(StatusCode::OK, ApiError::status);
    let content = html! {
        (forms::form_error(error))
        form #confirm-form method="post" action=(action) {
            (forms::csrf_field(user))
            p { (question) }
            div.actions {
                a.back href=(section.path()) { "Back" }
                button type="button" data-close .secondary { "Cancel" }
                button #confirm type="submit" .danger { (button) }
            }
        }
    };
    page(user, headers, section, status, title, content)
}

/// `GET /config`: the sections, with how many of each there are.
async fn index(State(state): State<AppState>, user: SignedIn, headers: HeaderMap) -> Answer {
    require(&user, Section::Overview)?;
    let catalog = Catalog::load(&state, &user.principal).await?;
    let counts = [
        (Section::Campaigns, catalog.campaigns.len()),
        (Section::Lists, catalog.lists.len()),
        (Section::Queues, catalog.queues.len()),
        (Section::Agents, catalog.agents.len()),
    ];
    let content = html! {
        ul #config-sections .cards {
            @for section in Section::ALL.into_iter().skip(1).filter(|s| user.principal.may(s.permission())) {
                li {
                    a href=(section.path()) { (section.label()) }
                    @if let Some((_, count)) = counts.iter().find(|(s, _)| *s == section) {
                        " " span.count { "(" (count) ")" }
                    }
                    p { (section.about()) }
                }
            }
        }
    };
    Ok(page(&user, &headers, Section::Overview, StatusCode::OK, "Configuration", content))
}
