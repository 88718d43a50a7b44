//! Users: who signs in to the console. The list (role, timezone, agent, scope, disabled); dialogs to
//! create a user, to change one (role, timezone, agent link, scope, disable) and to set a new
//! password. `service::users` holds the rules (an agent user names its agent, admins are never
//! scoped, passwords of 12 characters or more, a new password or disabling ends the sessions).
//! Users are never deleted: they are disabled, so audit events keep naming someone.

use axum::Router;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;
use maud::{Markup, html};
use rebound_domain::access::{Role, Scope};
use rebound_domain::model::User;

use crate::AppState;
use crate::dto_access::{UserCreate, UserPatch};
use crate::error::{ApiError, ApiResult};
use crate::service::users as service;

use super::super::forms;
use super::super::session::SignedIn;
use super::fields::{Draft, Kind, checkbox, checkboxes, input, select, timezone};
use super::{Answer, Catalog, Failure, Section, actions, admin_post, everything, joined, new_link, page, parse_id};
use super::{refusable, require};

const FORM: &str = "user";

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/config/users", get(list_page))
        .route("/config/users/new", get(new_page).post(create))
        .route("/config/users/{id}", get(edit_page).post(update))
        .route("/config/users/{id}/password", get(password_page).post(set_password))
}

pub fn role_options() -> Vec<(String, String)> {
    let text = |role: Role| match role {
        Role::Admin => "Admin: everything, configuration and access included",
        Role::Supervisor => "Supervisor: works callbacks",
        Role::Monitor => "Monitor: reads only",
        Role::Agent => "Agent: their own callbacks",
    };
    Role::ALL.into_iter().map(|role| (role.as_str().to_string(), text(role).to_string())).collect()
}

pub fn role_of(draft: &Draft) -> ApiResult<Role> {
    Role::parse(draft.get("role")).ok_or_else(|| ApiError::invalid_field("role", "choose a role"))
}

/// A scope in words: `All` or the campaigns and queues it names.
pub fn scope_text(catalog: &Catalog, scope: Option<&Scope>) -> String {
    let Some(scope) = scope else { return "All".to_string() };
    let names = scope
        .campaigns
        .iter()
        .map(|id| catalog.campaign_name(*id))
        .chain(scope.queues.iter().map(|id| format!("queue {}", catalog.queue_name(*id))))
        .collect();
    joined(names, "All")
}

/// The scope posted as `scope.campaigns` / `scope.queues`: none ticked is no scope (all).
pub fn scope_of(draft: &Draft) -> ApiResult<Option<Scope>> {
    let scope = Scope { campaigns: draft.ids("scope.campaigns")?, queues: draft.ids("scope.queues")? };
    Ok((!scope.campaigns.is_empty() || !scope.queues.is_empty()).then_some(scope))
}

pub fn scope_draft(draft: Draft, scope: Option<&Scope>) -> Draft {
    match scope {
        None => draft,
        Some(scope) => draft.with_all("scope.campaigns", &scope.campaigns).with_all("scope.queues", &scope.queues),
    }
}

/// The scope's two groups of boxes.
pub fn scope_fields(draft: &Draft, form: &str, catalog: &Catalog) -> Markup {
    html! {
        fieldset.scope {
            legend { "Scope" }
            p.hint { "Tick none for every campaign and queue. Admins are never scoped." }
            (checkboxes(draft, form, "scope.campaigns", "Campaigns", &catalog.campaign_options(), None))
            (checkboxes(draft, form, "scope.queues", "Queues", &catalog.queue_options(), None))
        }
    }
}

/// `GET /config/users`
async fn list_page(State(state): State<AppState>, user: SignedIn, headers: HeaderMap) -> Answer {
    require(&user, Section::Users)?;
    let catalog = Catalog::load(&state, &user.principal).await?;
    let users = service::list_users(&state, everything()).await?.items;
    let content = html! {
        (new_link("/config/users/new", "new-user", "New user", true))
        div.table-wrap {
            table #users-table .config-table {
                thead {
                    tr {
                        th scope="col" { "Username" }
                        th scope="col" { "Name" }
                        th scope="col" { "Role" }
                        th scope="col" { "Timezone" }
                        th scope="col" { "Agent" }
                        th scope="col" { "Scope" }
                        th scope="col" { "Status" }
                        th scope="col" { span.visually-hidden { "Actions" } }
                    }
                }
                tbody {
                    @for u in &users {
                        tr.disabled[u.disabled] data-id=(u.id) data-username=(u.username) {
                            td { (u.username) }
                            td { (u.display_name) }
                            td { (u.role.as_str()) }
                            td { (u.timezone) }
                            td { @if let Some(id) = u.agent_id { (catalog.agent_name(id)) } }
                            td { (scope_text(&catalog, u.scope.as_ref())) }
                            td { @if u.disabled { "Disabled" } @else { "Active" } }
                            td.row-actions {
                                a id=(format!("edit-user-{}", u.id)) href=(format!("/config/users/{}", u.id)) data-dialog { "Edit" }
                                a href=(format!("/config/users/{}/password", u.id)) data-dialog { "Set password" }
                            }
                        }
                    }
                }
            }
        }
    };
    Ok(page(&user, &headers, Section::Users, StatusCode::OK, "Users", content))
}

fn draft_of(u: &User) -> Draft {
    let draft = Draft::new()
        .with("display_name", &u.display_name)
        .with("timezone", &u.timezone)
        .with("role", u.role.as_str())
        .with("agent_id", u.agent_id.map(|id| id.to_string()).unwrap_or_default())
        .flag("disabled", u.disabled);
    scope_draft(draft, u.scope.as_ref())
}

/// The fields creating and changing share.
fn common_fields(draft: &Draft, catalog: &Catalog) -> Markup {
    html! {
        (input(draft, FORM, "display_name", "Display name", Kind::Text, None))
        (timezone(draft, FORM, "timezone", "Timezone (the console shows times in it)"))
        (select(draft, FORM, "role", "Role", &role_options(), None))
        (select(draft, FORM, "agent_id", "Agent (for role agent)", &catalog.agent_options(), Some("— none —")))
        (scope_fields(draft, FORM, catalog))
    }
}

fn new_form(user: &SignedIn, catalog: &Catalog, draft: &Draft, error: Option<&ApiError>) -> Markup {
    html! {
        (forms::form_error(error))
        form #user-form method="post" action="/config/users/new" {
            (forms::csrf_field(user))
            (input(draft, FORM, "username", "Username", Kind::Text, Some("Letters, digits, '.', '_', '-' or '@'.")))
            (common_fields(draft, catalog))
            (input(draft, FORM, "password", "Password", Kind::Password, Some("At least 12 characters.")))
            (actions("user-save", "Create user", "/config/users"))
        }
    }
}

/// `GET /config/users/new`
async fn new_page(State(state): State<AppState>, user: SignedIn, headers: HeaderMap) -> Answer {
    require(&user, Section::Users)?;
    let catalog = Catalog::load(&state, &user.principal).await?;
    let draft = Draft::new().with("timezone", &user.session.user.timezone).with("role", Role::Supervisor.as_str());
    let content = new_form(&user, &catalog, &draft, None);
    Ok(page(&user, &headers, Section::Users, StatusCode::OK, "New user", content))
}

fn create_of(draft: &Draft) -> ApiResult<UserCreate> {
    Ok(UserCreate {
        username: draft.get("username").to_string(),
        display_name: draft.text("display_name"),
        timezone: draft.text("timezone"),
        role: role_of(draft)?,
        agent_id: draft.number("agent_id")?,
        scope: scope_of(draft)?,
        // The password as typed: spaces at its ends are part of it.
        password: draft.untrimmed("password"),
    })
}

/// `POST /config/users/new`
async fn create(State(state): State<AppState>, request: Request) -> Answer {
    let posted = admin_post(&state, request, Section::Users).await?;
    let draft = Draft::posted(&posted.form);
    let result = match create_of(&draft) {
        Ok(input) => service::create_user(&state, input).await,
        Err(e) => Err(e),
    };
    match refusable(result)? {
        Ok(_) => Ok(forms::done(&posted.headers, "/config/users")),
        Err(e) => {
            let catalog = Catalog::load(&state, &posted.user.principal).await?;
            let content = new_form(&posted.user, &catalog, &draft.refused(&e), Some(&e));
            Ok(page(&posted.user, &posted.headers, Section::Users, e.status(), "New user", content))
        }
    }
}

async fn stored_user(state: &AppState, id: &str) -> Result<User, Failure> {
    let id = parse_id(id, "user")?;
    service::get_user(state, id).await.map_err(Failure::from)
}

fn edit_form(user: &SignedIn, catalog: &Catalog, target: &User, draft: &Draft, error: Option<&ApiError>) -> Markup {
    html! {
        (forms::form_error(error))
        form #user-form method="post" action=(format!("/config/users/{}", target.id)) {
            (forms::csrf_field(user))
            p.status-line { "Username: " strong { (target.username) } }
            (common_fields(draft, catalog))
            (checkbox(draft, FORM, "disabled", "Disabled", Some("A disabled user cannot sign in; their sessions end at once.")))
            (actions("user-save", "Save user", "/config/users"))
        }
    }
}

fn patch_of(draft: &Draft) -> ApiResult<UserPatch> {
    Ok(UserPatch {
        display_name: Some(draft.get("display_name").to_string()),
        timezone: Some(draft.get("timezone").to_string()),
        role: Some(role_of(draft)?),
        agent_id: Some(draft.number("agent_id")?),
        scope: Some(scope_of(draft)?),
        disabled: Some(draft.checked("disabled")),
        password: None,
    })
}

/// `GET /config/users/{id}`
async fn edit_page(
    State(state): State<AppState>,
    user: SignedIn,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Answer {
    require(&user, Section::Users)?;
    let target = stored_user(&state, &id).await?;
    let catalog = Catalog::load(&state, &user.principal).await?;
    let content = edit_form(&user, &catalog, &target, &draft_of(&target), None);
    Ok(page(&user, &headers, Section::Users, StatusCode::OK, &format!("User {}", target.username), content))
}

/// `POST /config/users/{id}`
async fn update(State(state): State<AppState>, Path(id): Path<String>, request: Request) -> Answer {
    let posted = admin_post(&state, request, Section::Users).await?;
    let target = stored_user(&state, &id).await?;
    let draft = Draft::posted(&posted.form);
    let result = match patch_of(&draft) {
        Ok(patch) => service::update_user(&state, target.id, patch).await,
        Err(e) => Err(e),
    };
    match refusable(result)? {
        Ok(_) => Ok(forms::done(&posted.headers, "/config/users")),
        Err(e) => {
            let catalog = Catalog::load(&state, &posted.user.principal).await?;
            let content = edit_form(&posted.user, &catalog, &target, &draft.refused(&e), Some(&e));
            let title = format!("User {}", target.username);
            Ok(page(&posted.user, &posted.headers, Section::Users, e.status(), &title, content))
        }
    }
}

fn password_form(user: &SignedIn, target: &User, error: Option<&ApiError>) -> Markup {
    let draft = match error {
        Some(e) => Draft::new().refused(e),
        None => Draft::new(),
    };
    html! {
        (forms::form_error(error))
        form #password-form method="post" action=(format!("/config/users/{}/password", target.id)) {
            (forms::csrf_field(user))
            (input(&draft, FORM, "password", "New password", Kind::Password,
                Some("At least 12 characters. The user is signed out everywhere.")))
            (actions("password-save", "Set password", "/config/users"))
        }
    }
}

/// `GET /config/users/{id}/password`
async fn password_page(
    State(state): State<AppState>,
    user: SignedIn,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Answer {
    require(&user, Section::Users)?;
    let target = stored_user(&state, &id).await?;
    let content = password_form(&user, &target, None);
    Ok(page(&user, &headers, Section::Users, StatusCode::OK, &format!("Password of {}", target.username), content))
}

/// `POST /config/users/{id}/password`
async fn set_password(State(state): State<AppState>, Path(id): Path<String>, request: Request) -> Answer {
    let posted = admin_post(&state, request, Section::Users).await?;
    let target = stored_user(&state, &id).await?;
    let password = Draft::posted(&posted.form).untrimmed("password");
    let patch = UserPatch { password: Some(password), ..UserPatch::default() };
    match refusable(service::update_user(&state, target.id, patch).await)? {
        Ok(_) => Ok(forms::done(&posted.headers, "/config/users")),
        Err(e) => {
            let content = password_form(&posted.user, &target, Some(&e));
            let title = format!("Password of {}", target.username);
            Ok(page(&posted.user, &posted.headers, Section::Users, e.status(), &title, content))
        }
    }
}
