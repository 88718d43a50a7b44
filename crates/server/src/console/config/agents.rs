//! Agents: the list with each one's presence, campaigns, queues and whether they may open the
//! callback list from their toolbar; a dialog to create or edit one (the "can view callback list"
//! permission is granted here); delete. Presence is the agent's own doing and only shown.

use axum::Router;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::get;
use maud::{Markup, html};
use rebound_domain::model::{Agent, Presence};

use crate::AppState;
use crate::dto::{AgentCreate, AgentPatch};
use crate::error::{ApiError, ApiResult};
use crate::service::config as service;

use super::super::forms;
use super::super::session::SignedIn;
use super::fields::{Draft, Kind, checkbox, checkboxes, input, timezone};
use super::{Answer, Catalog, Failure, Section, actions, admin_post, confirm, joined, new_link, page, parse_id};
use super::{refusable, require};

const FORM: &str = "agent";

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/config/agents", get(list_page))
        .route("/config/agents/new", get(new_page).post(create))
        .route("/config/agents/{id}", get(edit_page).post(update))
        .route("/config/agents/{id}/delete", get(delete_page).post(delete))
}

fn presence_badge(presence: Presence) -> Markup {
    let text = match presence {
        Presence::Offline => "Offline",
        Presence::Ready => "Ready",
        Presence::NotReady => "Not ready",
        Presence::Busy => "Busy",
    };
    html! { span class=(format!("presence presence-{}", presence.as_str())) { (text) } }
}

/// `GET /config/agents`
async fn list_page(State(state): State<AppState>, user: SignedIn, headers: HeaderMap) -> Answer {
    require(&user, Section::Agents)?;
    let catalog = Catalog::load(&state, &user.principal).await?;
    let content = html! {
        (new_link("/config/agents/new", "new-agent", "New agent", true))
        div.table-wrap {
            table #agents-table .config-table {
                thead {
                    tr {
                        th scope="col" { "Name" }
                        th scope="col" { "Username" }
                        th scope="col" { "Presence" }
                        th scope="col" { "Timezone" }
                        th scope="col" { "Campaigns" }
                        th scope="col" { "Queues" }
                        th scope="col" { "Callback list" }
                        th scope="col" { span.visually-hidden { "Actions" } }
                    }
                }
                tbody {
                    @for agent in &catalog.agents {
                        tr data-id=(agent.id) {
                            td { (agent.name) }
                            td { (agent.username) }
                            td { (presence_badge(agent.presence)) }
                            td { (agent.timezone) }
                            td { (joined(agent.campaigns.iter().map(|id| catalog.campaign_name(*id)).collect(), "—")) }
                            td { (joined(agent.queues.iter().map(|id| catalog.queue_name(*id)).collect(), "—")) }
                            td.can-view { @if agent.can_view_callback_list { "Allowed" } @else { span.muted { "No" } } }
                            td.row-actions {
                                a id=(format!("edit-agent-{}", agent.id)) href=(format!("/config/agents/{}", agent.id)) data-dialog { "Edit" }
                                a href=(format!("/config/agents/{}/delete", agent.id)) data-dialog { "Delete" }
                            }
                        }
                    }
                }
            }
        }
        @if catalog.agents.is_empty() {
            p.empty { "No agents yet." }
        }
    };
    Ok(page(&user, &headers, Section::Agents, StatusCode::OK, "Agents", content))
}

fn draft_of(a: &Agent) -> Draft {
    Draft::new()
        .with("name", &a.name)
        .with("username", &a.username)
        .with("timezone", &a.timezone)
        .with_all("campaigns", &a.campaigns)
        .with_all("queues", &a.queues)
        .flag("can_view_callback_list", a.can_view_callback_list)
}

fn patch_of(draft: &Draft) -> ApiResult<AgentPatch> {
    Ok(AgentPatch {
        name: Some(draft.get("name").to_string()),
        username: Some(draft.get("username").to_string()),
        timezone: Some(draft.get("timezone").to_string()),
        campaigns: Some(draft.ids("campaigns")?),
        queues: Some(draft.ids("queues")?),
        can_view_callback_list: Some(draft.checked("can_view_callback_list")),
    })
}

fn create_of(draft: &Draft) -> ApiResult<AgentCreate> {
    let patch = patch_of(draft)?;
    Ok(AgentCreate {
        name: patch.name.unwrap_or_default(),
        username: patch.username.unwrap_or_default(),
        timezone: patch.timezone.unwrap_or_default(),
        campaigns: patch.campaigns.unwrap_or_default(),
        queues: patch.queues.unwrap_or_default(),
        can_view_callback_list: patch.can_view_callback_list.unwrap_or(false),
    })
}

fn form(
    user: &SignedIn,
    catalog: &Catalog,
    draft: &Draft,
    action: &str,
    submit: &str,
    error: Option<&ApiError>,
) -> Markup {
    html! {
        (forms::form_error(error))
        form #agent-form method="post" action=(action) {
            (forms::csrf_field(user))
            div.pair {
                (input(draft, FORM, "name", "Name", Kind::Text, None))
                (input(draft, FORM, "username", "Username", Kind::Text, Some("As the dialler and the telephony know the agent.")))
            }
            (timezone(draft, FORM, "timezone", "Timezone"))
            (checkboxes(draft, FORM, "campaigns", "Campaigns", &catalog.campaign_options(), None))
            (checkboxes(draft, FORM, "queues", "Queues (skills)", &catalog.queue_options(), None))
            (checkbox(draft, FORM, "can_view_callback_list", "Can view callback list",
                Some("The agent may open the callback list from their toolbar.")))
            (actions("agent-save", submit, "/config/agents"))
        }
    }
}

/// `GET /config/agents/new`
async fn new_page(State(state): State<AppState>, user: SignedIn, headers: HeaderMap) -> Answer {
    require(&user, Section::Agents)?;
    let catalog = Catalog::load(&state, &user.principal).await?;
    let draft = Draft::new().with("timezone", &user.session.user.timezone);
    let content = form(&user, &catalog, &draft, "/config/agents/new", "Create agent", None);
    Ok(page(&user, &headers, Section::Agents, StatusCode::OK, "New agent", content))
}

/// `POST /config/agents/new`
async fn create(State(state): State<AppState>, request: Request) -> Answer {
    let posted = admin_post(&state, request, Section::Agents).await?;
    let draft = Draft::posted(&posted.form);
    let result = match create_of(&draft) {
        Ok(input) => service::create_agent(&state, input).await,
        Err(e) => Err(e),
    };
    match refusable(result)? {
        Ok(_) => Ok(forms::done(&posted.headers, "/config/agents")),
        Err(e) => {
            let catalog = Catalog::load(&state, &posted.user.principal).await?;
            let content =
                form(&posted.user, &catalog, &draft.refused(&e), "/config/agents/new", "Create agent", Some(&e));
            Ok(page(&posted.user, &posted.headers, Section::Agents, e.status(), "New agent", content))
        }
    }
}

async fn agent(state: &AppState, id: &str) -> Result<Agent, Failure> {
    let id = parse_id(id, "agent")?;
    service::get_agent(state, id).await.map_err(Failure::from)
}

/// `GET /config/agents/{id}`
async fn edit_page(
    State(state): State<AppState>,
    user: SignedIn,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Answer {
    require(&user, Section::Agents)?;
    let agent = agent(&state, &id).await?;
    let catalog = Catalog::load(&state, &user.principal).await?;
    let action = format!("/config/agents/{}", agent.id);
    let content = html! {
        p.status-line { "Presence: " (presence_badge(agent.presence)) }
        (form(&user, &catalog, &draft_of(&agent), &action, "Save agent", None))
    };
    Ok(page(&user, &headers, Section::Agents, StatusCode::OK, &format!("Agent {}", agent.name), content))
}

/// `POST /config/agents/{id}`
async fn update(State(state): State<AppState>, Path(id): Path<String>, request: Request) -> Answer {
    let posted = admin_post(&state, request, Section::Agents).await?;
    let agent = agent(&state, &id).await?;
    let draft = Draft::posted(&posted.form);
    let result = match patch_of(&draft) {
        Ok(patch) => service::update_agent(&state, agent.id, patch).await,
        Err(e) => Err(e),
    };
    match refusable(result)? {
        Ok(_) => Ok(forms::done(&posted.headers, "/config/agents")),
        Err(e) => {
            let catalog = Catalog::load(&state, &posted.user.principal).await?;
            let action = format!("/config/agents/{}", agent.id);
            let content = form(&posted.user, &catalog, &draft.refused(&e), &action, "Save agent", Some(&e));
            let title = format!("Agent {}", agent.name);
            Ok(page(&posted.user, &posted.headers, Section::Agents, e.status(), &title, content))
        }
    }
}

fn delete_confirmation(user: &SignedIn, headers: &HeaderMap, agent: &Agent, error: Option<&ApiError>) -> Response {
    let question = html! {
        "Delete the agent " strong { (agent.name) } "? An agent that callbacks or users refer to cannot be deleted."
    };
    let action = format!("/config/agents/{}/delete", agent.id);
    confirm(user, headers, Section::Agents, "Delete agent", question, &action, "Delete", error)
}

/// `GET /config/agents/{id}/delete`
async fn delete_page(
    State(state): State<AppState>,
    user: SignedIn,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Answer {
    require(&user, Section::Agents)?;
    let agent = agent(&state, &id).await?;
    Ok(delete_confirmation(&user, &headers, &agent, None))
}

/// `POST /config/agents/{id}/delete`
async fn delete(State(state): State<AppState>, Path(id): Path<String>, request: Request) -> Answer {
    let posted = admin_post(&state, request, Section::Agents).await?;
    let agent = agent(&state, &id).await?;
    match refusable(service::delete_agent(&state, agent.id).await)? {
        Ok(()) => Ok(forms::done(&posted.headers, "/config/agents")),
        Err(e) => Ok(delete_confirmation(&posted.user, &posted.headers, &agent, Some(&e))),
    }
}
