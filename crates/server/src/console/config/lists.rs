//! Lead lists: which campaigns dial each (or collect auto-callbacks into it), shown per campaign
//! with a filter; a dialog to create or rename one and declare its data fields; delete. Which
//! lists a campaign dials is set on the campaign's settings.

use axum::Router;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::get;
use maud::{Markup, html};
use rebound_domain::model::{Direction, List};
use serde::Deserialize;

use crate::AppState;
use crate::dto::{ListCreate, ListPatch};
use crate::error::ApiError;
use crate::service::config as service;

use super::super::forms;
use super::super::session::SignedIn;
use super::fields::{Draft, Kind, input};
use super::{Answer, Catalog, Failure, Section, actions, admin_post, confirm, joined, page, parse_id};
use super::{refusable, require};

const FORM: &str = "list";

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/config/lists", get(list_page))
        .route("/config/lists/new", get(new_page).post(create))
        .route("/config/lists/{id}", get(edit_page).post(update))
        .route("/config/lists/{id}/delete", get(delete_page).post(delete))
}

#[derive(Debug, Deserialize)]
struct Filter {
    campaign_id: Option<String>,
}

/// `GET /config/lists[?campaign_id=…]`: all lists, or those one campaign dials or fills.
async fn list_page(
    State(state): State<AppState>,
    user: SignedIn,
    headers: HeaderMap,
    Query(filter): Query<Filter>,
) -> Answer {
    require(&user, Section::Lists)?;
    let catalog = Catalog::load(&state, &user.principal).await?;
    let chosen = filter.campaign_id.as_deref().and_then(|id| id.parse::<i64>().ok());
    let used_by = |list: &List| -> Vec<(i64, String)> {
        catalog
            .campaigns
            .iter()
            .filter_map(|c| match c.direction {
                Direction::Outbound if c.lists.contains(&list.id) => Some((c.id, c.name.clone())),
                Direction::Inbound if c.auto_callback_list_id == Some(list.id) => {
                    Some((c.id, format!("{} (auto-callbacks)", c.name)))
                }
                _ => None,
            })
            .collect()
    };
    let shown: Vec<(&List, Vec<(i64, String)>)> = catalog
        .lists
        .iter()
        .map(|list| (list, used_by(list)))
        .filter(|(_, campaigns)| chosen.is_none_or(|id| campaigns.iter().any(|(c, _)| *c == id)))
        .collect();
    let filter_draft = Draft::new().with("campaign_id", chosen.map(|id| id.to_string()).unwrap_or_default());
    let content = html! {
        div.config-toolbar {
            form #list-filter .inline method="get" action="/config/lists" {
                (super::fields::select(&filter_draft, "lists", "campaign_id", "Campaign", &catalog.campaign_options(), Some("All campaigns")))
                button.secondary type="submit" { "Show" }
            }
            a.button #new-list href="/config/lists/new" data-dialog { "New list" }
        }
        div.table-wrap {
            table #lists-table .config-table {
                thead {
                    tr {
                        th scope="col" { "Name" }
                        th scope="col" { "Data fields" }
                        th scope="col" { "Campaigns" }
                        th scope="col" { span.visually-hidden { "Actions" } }
                    }
                }
                tbody {
                    @for (list, campaigns) in &shown {
                        tr data-id=(list.id) {
                            td { (list.name) }
                            td { (joined(list.fields.clone(), "—")) }
                            td { (joined(campaigns.iter().map(|(_, name)| name.clone()).collect(), "none")) }
                            td.row-actions {
                                a href=(format!("/config/lists/{}", list.id)) data-dialog { "Edit" }
                                a href=(format!("/config/lists/{}/delete", list.id)) data-dialog { "Delete" }
                            }
                        }
                    }
                }
            }
        }
        @if shown.is_empty() {
            p.empty { "No lists." }
        }
    };
    Ok(page(&user, &headers, Section::Lists, StatusCode::OK, "Lists", content))
}

fn draft_of(list: &List) -> Draft {
    Draft::new().with("name", &list.name).with("fields", list.fields.join(", "))
}

/// The data field names typed as `account, plan, region`.
fn fields_of(draft: &Draft) -> Vec<String> {
    draft.get("fields").split(',').map(str::trim).filter(|f| !f.is_empty()).map(str::to_string).collect()
}

fn form(user: &SignedIn, draft: &Draft, action: &str, submit: &str, error: Option<&ApiError>) -> Markup {
    html! {
        (forms::form_error(error))
        form #list-form method="post" action=(action) {
            (forms::csrf_field(user))
            (input(draft, FORM, "name", "Name", Kind::Text, None))
            (input(draft, FORM, "fields", "Data fields", Kind::Text, Some("The lead data this list carries, separated by commas, e.g. account, plan")))
            (actions("list-save", submit, "/config/lists"))
        }
    }
}

/// `GET /config/lists/new`
async fn new_page(user: SignedIn, headers: HeaderMap) -> Answer {
    require(&user, Section::Lists)?;
    let content = form(&user, &Draft::new(), "/config/lists/new", "Create list", None);
    Ok(page(&user, &headers, Section::Lists, StatusCode::OK, "New list", content))
}

/// `POST /config/lists/new`
async fn create(State(state): State<AppState>, request: Request) -> Answer {
    let posted = admin_post(&state, request, Section::Lists).await?;
    let draft = Draft::posted(&posted.form);
    let input = ListCreate { name: draft.get("name").to_string(), fields: fields_of(&draft) };
    match refusable(service::create_list(&state, input).await)? {
        Ok(_) => Ok(forms::done(&posted.headers, "/config/lists")),
        Err(e) => {
            let content = form(&posted.user, &draft.refused(&e), "/config/lists/new", "Create list", Some(&e));
            Ok(page(&posted.user, &posted.headers, Section::Lists, e.status(), "New list", content))
        }
    }
}

async fn list(state: &AppState, id: &str) -> Result<List, Failure> {
    let id = parse_id(id, "list")?;
    service::get_list(state, id).await.map_err(Failure::from)
}

/// `GET /config/lists/{id}`
async fn edit_page(
    State(state): State<AppState>,
    user: SignedIn,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Answer {
    require(&user, Section::Lists)?;
    let list = list(&state, &id).await?;
    let content = form(&user, &draft_of(&list), &format!("/config/lists/{}", list.id), "Save list", None);
    Ok(page(&user, &headers, Section::Lists, StatusCode::OK, &format!("List {}", list.name), content))
}

/// `POST /config/lists/{id}`
async fn update(State(state): State<AppState>, Path(id): Path<String>, request: Request) -> Answer {
    let posted = admin_post(&state, request, Section::Lists).await?;
    let list = list(&state, &id).await?;
    let draft = Draft::posted(&posted.form);
    let patch = ListPatch { name: Some(draft.get("name").to_string()), fields: Some(fields_of(&draft)) };
    match refusable(service::update_list(&state, list.id, patch).await)? {
        Ok(_) => Ok(forms::done(&posted.headers, "/config/lists")),
        Err(e) => {
            let action = format!("/config/lists/{}", list.id);
            let content = form(&posted.user, &draft.refused(&e), &action, "Save list", Some(&e));
            Ok(page(&posted.user, &posted.headers, Section::Lists, e.status(), &format!("List {}", list.name), content))
        }
    }
}

fn delete_confirmation(user: &SignedIn, headers: &HeaderMap, list: &List, error: Option<&ApiError>) -> Response {
    let question = html! {
        "Delete the list " strong { (list.name) } "? A list that still holds leads or that a campaign dials cannot be deleted."
    };
    let action = format!("/config/lists/{}/delete", list.id);
    confirm(user, headers, Section::Lists, "Delete list", question, &action, "Delete", error)
}

/// `GET /config/lists/{id}/delete`
async fn delete_page(
    State(state): State<AppState>,
    user: SignedIn,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Answer {
    require(&user, Section::Lists)?;
    let list = list(&state, &id).await?;
    Ok(delete_confirmation(&user, &headers, &list, None))
}

/// `POST /config/lists/{id}/delete`: refused (409) while a campaign or a callback refers to it.
async fn delete(State(state): State<AppState>, Path(id): Path<String>, request: Request) -> Answer {
    let posted = admin_post(&state, request, Section::Lists).await?;
    let list = list(&state, &id).await?;
    match refusable(service::delete_list(&state, list.id).await)? {
        Ok(()) => Ok(forms::done(&posted.headers, "/config/lists")),
        Err(e) => Ok(delete_confirmation(&posted.user, &posted.headers, &list, Some(&e))),
    }
}
