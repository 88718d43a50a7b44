//! Wrap codes: the list per campaign with what each one's Add-to-Queue setting does; a dialog to
//! create or edit one, the Add-to-Queue part included (the outbound campaign and queue the
//! callback goes to, queue or same-agent callback, the delay); delete.

use axum::Router;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::get;
use maud::{Markup, html};
use rebound_domain::model::{AddToQueue, CallbackType, WrapCode};

use crate::AppState;
use crate::dto::{WrapCodeCreate, WrapCodePatch};
use crate::error::{ApiError, ApiResult};
use crate::service::config as service;

use super::super::forms;
use super::super::session::SignedIn;
use super::fields::{Draft, Kind, checkbox, input, select};
use super::{Answer, Catalog, Failure, Section, actions, admin_post, confirm, everything, new_link, page, parse_id};
use super::{refusable, require};

const FORM: &str = "wrap";

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/config/wrap-codes", get(list_page))
        .route("/config/wrap-codes/new", get(new_page).post(create))
        .route("/config/wrap-codes/{id}", get(edit_page).post(update))
        .route("/config/wrap-codes/{id}/delete", get(delete_page).post(delete))
}

/// What a wrap code's Add-to-Queue setting makes, in words.
fn add_to_queue_text(catalog: &Catalog, atq: &AddToQueue) -> String {
    let campaign = catalog.campaign_name(atq.campaign_id);
    let target = match (atq.kind, atq.queue_id) {
        (CallbackType::Queue, Some(queue)) => format!("queue callback in {} ({campaign})", catalog.queue_name(queue)),
        (CallbackType::Agent, Some(queue)) => {
            format!("callback for the same agent in {} ({campaign})", catalog.queue_name(queue))
        }
        (_, None) => format!("callback for the same agent in {campaign}"),
    };
    format!("{target} after {} min", atq.delay_minutes)
}

/// `GET /config/wrap-codes`
async fn list_page(State(state): State<AppState>, user: SignedIn, headers: HeaderMap) -> Answer {
    require(&user, Section::WrapCodes)?;
    let catalog = Catalog::load(&state, &user.principal).await?;
    let mut codes = service::list_wrap_codes(&state, &user.principal, everything()).await?.items;
    codes.sort_by_key(|w| (catalog.campaign_name(w.campaign_id).to_lowercase(), w.code.clone()));
    let content = html! {
        (new_link("/config/wrap-codes/new", "new-wrap-code", "New wrap code", true))
        div.table-wrap {
            table #wrap-codes-table .config-table {
                thead {
                    tr {
                        th scope="col" { "Campaign" }
                        th scope="col" { "Code" }
                        th scope="col" { "Label" }
                        th scope="col" { "Add to Queue" }
                        th scope="col" { span.visually-hidden { "Actions" } }
                    }
                }
                tbody {
                    @for w in &codes {
                        tr data-id=(w.id) data-code=(w.code) {
                            td { (catalog.campaign_name(w.campaign_id)) }
                            td { code { (w.code) } }
                            td { (w.label) }
                            td.atq {
                                @match &w.add_to_queue {
                                    Some(atq) => { (add_to_queue_text(&catalog, atq)) }
                                    None => { span.muted { "—" } }
                                }
                            }
                            td.row-actions {
                                a href=(format!("/config/wrap-codes/{}", w.id)) data-dialog { "Edit" }
                                a href=(format!("/config/wrap-codes/{}/delete", w.id)) data-dialog { "Delete" }
                            }
                        }
                    }
                }
            }
        }
        @if codes.is_empty() {
            p.empty { "No wrap codes yet." }
        }
    };
    Ok(page(&user, &headers, Section::WrapCodes, StatusCode::OK, "Wrap codes", content))
}

fn draft_of(w: &WrapCode) -> Draft {
    let draft = Draft::new().with("campaign_id", w.campaign_id).with("code", &w.code).with("label", &w.label);
    match &w.add_to_queue {
        None => draft.with("add_to_queue.type", "queue").with("add_to_queue.delay_minutes", 60),
        Some(atq) => draft
            .flag("add_to_queue", true)
            .with("add_to_queue.campaign_id", atq.campaign_id)
            .with("add_to_queue.queue_id", atq.queue_id.map(|id| id.to_string()).unwrap_or_default())
            .with("add_to_queue.type", atq.kind.as_str())
            .with("add_to_queue.delay_minutes", atq.delay_minutes),
    }
}

/// The Add-to-Queue setting posted: `None` when its box is not ticked.
fn add_to_queue_of(draft: &Draft) -> ApiResult<Option<AddToQueue>> {
    if !draft.checked("add_to_queue") {
        return Ok(None);
    }
    let campaign_id = draft.number("add_to_queue.campaign_id")?.ok_or_else(|| {
        ApiError::invalid_field("add_to_queue.campaign_id", "choose the campaign the callback goes to")
    })?;
    let kind = CallbackType::parse(draft.get("add_to_queue.type"))
        .ok_or_else(|| ApiError::invalid_field("add_to_queue.type", "a callback is for a queue or an agent"))?;
    Ok(Some(AddToQueue {
        campaign_id,
        queue_id: draft.number("add_to_queue.queue_id")?,
        kind,
        delay_minutes: draft.number("add_to_queue.delay_minutes")?.unwrap_or(0),
    }))
}

fn patch_of(draft: &Draft) -> ApiResult<WrapCodePatch> {
    Ok(WrapCodePatch {
        campaign_id: draft.number("campaign_id")?,
        code: Some(draft.get("code").to_string()),
        label: Some(draft.text("label").unwrap_or_else(|| draft.get("code").to_string())),
        add_to_queue: Some(add_to_queue_of(draft)?),
    })
}

fn create_of(draft: &Draft) -> ApiResult<WrapCodeCreate> {
    let patch = patch_of(draft)?;
    let campaign_id =
        patch.campaign_id.ok_or_else(|| ApiError::invalid_field("campaign_id", "choose the wrap code's campaign"))?;
    Ok(WrapCodeCreate {
        campaign_id,
        code: patch.code.unwrap_or_default(),
        label: patch.label,
        add_to_queue: patch.add_to_queue.flatten(),
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
    let kinds = vec![
        ("queue".to_string(), "Queue callback (any agent of the queue)".to_string()),
        ("agent".to_string(), "Agent callback (the agent who wrapped the call)".to_string()),
    ];
    html! {
        (forms::form_error(error))
        form #wrap-form method="post" action=(action) {
            (forms::csrf_field(user))
            (select(draft, FORM, "campaign_id", "Campaign", &catalog.campaign_options(), Some("— choose —")))
            div.pair {
                (input(draft, FORM, "code", "Code", Kind::Text, Some("What the agent or dialler sends, without spaces, e.g. CB1H.")))
                (input(draft, FORM, "label", "Label", Kind::Text, None))
            }
            (checkbox(draft, FORM, "add_to_queue", "Add to Queue",
                Some("Wrapping a call with this code creates a callback.")))
            fieldset #wrap-atq .atq {
                legend { "The callback it creates" }
                (select(draft, FORM, "add_to_queue.campaign_id", "Outbound campaign", &catalog.outbound_campaign_options(), Some("— choose —")))
                (select(draft, FORM, "add_to_queue.type", "Type", &kinds, None))
                (select(draft, FORM, "add_to_queue.queue_id", "Queue", &catalog.queue_options(), Some("— none (agent callbacks only) —")))
                (input(draft, FORM, "add_to_queue.delay_minutes", "Delay (minutes)", Kind::Number { min: 0, max: 525_600 },
                    Some("How long after the call the callback is due.")))
            }
            (actions("wrap-save", submit, "/config/wrap-codes"))
        }
    }
}

/// `GET /config/wrap-codes/new`
async fn new_page(State(state): State<AppState>, user: SignedIn, headers: HeaderMap) -> Answer {
    require(&user, Section::WrapCodes)?;
    let catalog = Catalog::load(&state, &user.principal).await?;
    let draft = Draft::new().with("add_to_queue.type", "queue").with("add_to_queue.delay_minutes", 60);
    let content = form(&user, &catalog, &draft, "/config/wrap-codes/new", "Create wrap code", None);
    Ok(page(&user, &headers, Section::WrapCodes, StatusCode::OK, "New wrap code", content))
}

/// `POST /config/wrap-codes/new`
async fn create(State(state): State<AppState>, request: Request) -> Answer {
    let posted = admin_post(&state, request, Section::WrapCodes).await?;
    let draft = Draft::posted(&posted.form);
    let result = match create_of(&draft) {
        Ok(input) => service::create_wrap_code(&state, input).await,
        Err(e) => Err(e),
    };
    match refusable(result)? {
        Ok(_) => Ok(forms::done(&posted.headers, "/config/wrap-codes")),
        Err(e) => {
            let catalog = Catalog::load(&state, &posted.user.principal).await?;
            let action = "/config/wrap-codes/new";
            let content = form(&posted.user, &catalog, &draft.refused(&e), action, "Create wrap code", Some(&e));
            Ok(page(&posted.user, &posted.headers, Section::WrapCodes, e.status(), "New wrap code", content))
        }
    }
}

async fn wrap_code(state: &AppState, id: &str) -> Result<WrapCode, Failure> {
    let id = parse_id(id, "wrap code")?;
    service::get_wrap_code(state, id).await.map_err(Failure::from)
}

/// `GET /config/wrap-codes/{id}`
async fn edit_page(
    State(state): State<AppState>,
    user: SignedIn,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Answer {
    require(&user, Section::WrapCodes)?;
    let code = wrap_code(&state, &id).await?;
    let catalog = Catalog::load(&state, &user.principal).await?;
    let action = format!("/config/wrap-codes/{}", code.id);
    let content = form(&user, &catalog, &draft_of(&code), &action, "Save wrap code", None);
    Ok(page(&user, &headers, Section::WrapCodes, StatusCode::OK, &format!("Wrap code {}", code.code), content))
}

/// `POST /config/wrap-codes/{id}`
async fn update(State(state): State<AppState>, Path(id): Path<String>, request: Request) -> Answer {
    let posted = admin_post(&state, request, Section::WrapCodes).await?;
    let code = wrap_code(&state, &id).await?;
    let draft = Draft::posted(&posted.form);
    let result = match patch_of(&draft) {
        Ok(patch) => service::update_wrap_code(&state, code.id, patch).await,
        Err(e) => Err(e),
    };
    match refusable(result)? {
        Ok(_) => Ok(forms::done(&posted.headers, "/config/wrap-codes")),
        Err(e) => {
            let catalog = Catalog::load(&state, &posted.user.principal).await?;
            let action = format!("/config/wrap-codes/{}", code.id);
            let content = form(&posted.user, &catalog, &draft.refused(&e), &action, "Save wrap code", Some(&e));
            let title = format!("Wrap code {}", code.code);
            Ok(page(&posted.user, &posted.headers, Section::WrapCodes, e.status(), &title, content))
        }
    }
}

fn delete_confirmation(user: &SignedIn, headers: &HeaderMap, code: &WrapCode, error: Option<&ApiError>) -> Response {
    let question = html! { "Delete the wrap code " strong { (code.code) } " (" (code.label) ")?" };
    let action = format!("/config/wrap-codes/{}/delete", code.id);
    confirm(user, headers, Section::WrapCodes, "Delete wrap code", question, &action, "Delete", error)
}

/// `GET /config/wrap-codes/{id}/delete`
async fn delete_page(
    State(state): State<AppState>,
    user: SignedIn,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Answer {
    require(&user, Section::WrapCodes)?;
    let code = wrap_code(&state, &id).await?;
    Ok(delete_confirmation(&user, &headers, &code, None))
}

/// `POST /config/wrap-codes/{id}/delete`
async fn delete(State(state): State<AppState>, Path(id): Path<String>, request: Request) -> Answer {
    let posted = admin_post(&state, request, Section::WrapCodes).await?;
    let code = wrap_code(&state, &id).await?;
    match refusable(service::delete_wrap_code(&state, code.id).await)? {
        Ok(()) => Ok(forms::done(&posted.headers, "/config/wrap-codes")),
        Err(e) => Ok(delete_confirmation(&posted.user, &posted.headers, &code, Some(&e))),
    }
}
