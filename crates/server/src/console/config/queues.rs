//! Queues (the "services" callbacks wait in): the list with each one's campaign, slot length,
//! slot capacity and pause; pause/resume; a dialog to create or edit one, including capacity for
//! particular slots of the week; delete.
//!
//! Per-slot capacity is typed one slot a line, `thu 09:00 4` (weekday, slot start in the
//! campaign's timezone, capacity); the service checks that each start lies on the slot grid.

use std::collections::BTreeMap;

use axum::Router;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use maud::{Markup, html};
use rebound_domain::model::{DuplicatePolicy, Queue};
use rebound_domain::slots::{CapacityGrid, DEFAULT_SLOT_CAPACITY, DEFAULT_SLOT_MINUTES, SLOT_LENGTHS};

use crate::AppState;
use crate::dto::{QueueCreate, QueuePatch};
use crate::error::{ApiError, ApiResult};
use crate::service::config as service;

use super::super::forms;
use super::super::session::SignedIn;
use super::fields::{Draft, Kind, checkbox, input, select, textarea};
use super::{Answer, Catalog, Failure, Section, actions, admin_post, confirm, new_link, page, parse_id};
use super::{refusable, require};

const FORM: &str = "queue";

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/config/queues", get(list_page))
        .route("/config/queues/new", get(new_page).post(create))
        .route("/config/queues/{id}", get(edit_page).post(update))
        .route("/config/queues/{id}/paused", post(set_paused))
        .route("/config/queues/{id}/delete", get(delete_page).post(delete))
}

fn grid_days(grid: &CapacityGrid) -> [(&'static str, &BTreeMap<String, u32>); 7] {
    [
        ("mon", &grid.mon),
        ("tue", &grid.tue),
        ("wed", &grid.wed),
        ("thu", &grid.thu),
        ("fri", &grid.fri),
        ("sat", &grid.sat),
        ("sun", &grid.sun),
    ]
}

/// A grid as the form shows it: one `day HH:MM capacity` a line, in weekday order.
fn grid_text(grid: Option<&CapacityGrid>) -> String {
    let Some(grid) = grid else { return String::new() };
    let mut lines = Vec::new();
    for (day, slots) in grid_days(grid) {
        for (start, capacity) in slots {
            lines.push(format!("{day} {start} {capacity}"));
        }
    }
    lines.join("\n")
}

/// The typed grid; blank: none (every slot has the queue's capacity).
fn grid_of(text: &str) -> ApiResult<Option<CapacityGrid>> {
    let mut grid = CapacityGrid::default();
    let mut any = false;
    for (n, line) in text.lines().enumerate().filter(|(_, line)| !line.trim().is_empty()) {
        let bad = || {
            ApiError::invalid_field(
                "capacity_grid",
                format!("line {}: write a slot as 'weekday HH:MM capacity', e.g. 'thu 09:00 4'", n + 1),
            )
        };
        let words: Vec<&str> = line.split_whitespace().filter(|w| *w != "=").collect();
        let [day, start, capacity] = words.as_slice() else { return Err(bad()) };
        let capacity: u32 = capacity.parse().map_err(|_| bad())?;
        let slots = match day.to_ascii_lowercase().as_str() {
            "mon" | "monday" => &mut grid.mon,
            "tue" | "tuesday" => &mut grid.tue,
            "wed" | "wednesday" => &mut grid.wed,
            "thu" | "thursday" => &mut grid.thu,
            "fri" | "friday" => &mut grid.fri,
            "sat" | "saturday" => &mut grid.sat,
            "sun" | "sunday" => &mut grid.sun,
            _ => return Err(bad()),
        };
        slots.insert((*start).to_string(), capacity);
        any = true;
    }
    Ok(any.then_some(grid))
}

fn overrides(queue: &Queue) -> usize {
    queue.capacity_grid.as_ref().map_or(0, |grid| grid_days(grid).iter().map(|(_, slots)| slots.len()).sum())
}

/// `GET /config/queues`
async fn list_page(State(state): State<AppState>, user: SignedIn, headers: HeaderMap) -> Answer {
    require(&user, Section::Queues)?;
    let catalog = Catalog::load(&state, &user.principal).await?;
    let mut queues: Vec<&Queue> = catalog.queues.iter().collect();
    queues.sort_by_key(|q| (catalog.campaign_name(q.campaign_id).to_lowercase(), q.name.to_lowercase()));
    let content = html! {
        (new_link("/config/queues/new", "new-queue", "New queue", true))
        div.table-wrap {
            table #queues-table .config-table {
                thead {
                    tr {
                        th scope="col" { "Name" }
                        th scope="col" { "Campaign" }
                        th scope="col" { "Slot" }
                        th scope="col" { "Capacity per slot" }
                        th scope="col" { "Duplicates" }
                        th scope="col" { "State" }
                        th scope="col" { span.visually-hidden { "Actions" } }
                    }
                }
                tbody {
                    @for queue in queues {
                        (row(&user, &catalog, queue))
                    }
                }
            }
        }
        @if catalog.queues.is_empty() {
            p.empty { "No queues yet." }
        }
    };
    Ok(page(&user, &headers, Section::Queues, StatusCode::OK, "Queues", content))
}

fn row(user: &SignedIn, catalog: &Catalog, q: &Queue) -> Markup {
    let base = format!("/config/queues/{}", q.id);
    let special = overrides(q);
    html! {
        tr data-id=(q.id) {
            td { (q.name) }
            td { (catalog.campaign_name(q.campaign_id)) }
            td { (q.slot_minutes) " min" }
            td.capacity {
                span.value { (q.slot_capacity) }
                @if special > 0 {
                    " " span.muted { "(" (special) " slots differ)" }
                }
            }
            td { (q.duplicate_policy.as_str()) }
            td {
                @if q.paused { span.paused { "Paused" } } @else { "Active" }
                form.inline method="post" action=(format!("{base}/paused")) {
                    (forms::csrf_field(user))
                    input type="hidden" name="paused" value=(if q.paused { "false" } else { "true" });
                    button.small.secondary id=(format!("paused-{}", q.id)) type="submit" {
                        @if q.paused { "Resume" } @else { "Pause" }
                    }
                }
            }
            td.row-actions {
                a id=(format!("edit-queue-{}", q.id)) href=(base) data-dialog { "Edit" }
                a href=(format!("{base}/delete")) data-dialog { "Delete" }
            }
        }
    }
}

fn draft_of(q: &Queue) -> Draft {
    Draft::new()
        .with("name", &q.name)
        .with("campaign_id", q.campaign_id)
        .with("slot_minutes", q.slot_minutes)
        .with("slot_capacity", q.slot_capacity)
        .with("duplicate_policy", q.duplicate_policy.as_str())
        .flag("paused", q.paused)
        .with("capacity_grid", grid_text(q.capacity_grid.as_ref()))
}

fn new_draft() -> Draft {
    Draft::new()
        .with("slot_minutes", DEFAULT_SLOT_MINUTES)
        .with("slot_capacity", DEFAULT_SLOT_CAPACITY)
        .with("duplicate_policy", DuplicatePolicy::One.as_str())
}

fn policy_of(draft: &Draft) -> ApiResult<Option<DuplicatePolicy>> {
    match draft.get("duplicate_policy") {
        "" => Ok(None),
        text => DuplicatePolicy::parse(text)
            .map(Some)
            .ok_or_else(|| ApiError::invalid_field("duplicate_policy", format!("'{text}' is not off, one or two"))),
    }
}

fn patch_of(draft: &Draft) -> ApiResult<QueuePatch> {
    Ok(QueuePatch {
        name: Some(draft.get("name").to_string()),
        campaign_id: draft.number("campaign_id")?,
        slot_minutes: draft.number("slot_minutes")?,
        slot_capacity: draft.number("slot_capacity")?,
        capacity_grid: Some(grid_of(draft.get("capacity_grid"))?),
        duplicate_policy: policy_of(draft)?,
        paused: Some(draft.checked("paused")),
    })
}

fn create_of(draft: &Draft) -> ApiResult<QueueCreate> {
    let patch = patch_of(draft)?;
    let campaign_id =
        patch.campaign_id.ok_or_else(|| ApiError::invalid_field("campaign_id", "choose the queue's campaign"))?;
    Ok(QueueCreate {
        name: patch.name.unwrap_or_default(),
        campaign_id,
        slot_minutes: patch.slot_minutes,
        slot_capacity: patch.slot_capacity,
        capacity_grid: patch.capacity_grid.flatten(),
        duplicate_policy: patch.duplicate_policy,
        paused: patch.paused.unwrap_or(false),
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
    let lengths: Vec<(String, String)> = SLOT_LENGTHS.iter().map(|m| (m.to_string(), format!("{m} minutes"))).collect();
    let policies: Vec<(String, String)> = [
        (DuplicatePolicy::Off, "Off: no duplicate check"),
        (DuplicatePolicy::One, "One active callback per number"),
        (DuplicatePolicy::Two, "Two active callbacks per number"),
    ]
    .into_iter()
    .map(|(p, text)| (p.as_str().to_string(), text.to_string()))
    .collect();
    html! {
        (forms::form_error(error))
        form #queue-form method="post" action=(action) {
            (forms::csrf_field(user))
            (input(draft, FORM, "name", "Name", Kind::Text, None))
            (select(draft, FORM, "campaign_id", "Campaign (outbound)", &catalog.outbound_campaign_options(), Some("— choose —")))
            div.pair {
                (select(draft, FORM, "slot_minutes", "Slot length", &lengths, None))
                (input(draft, FORM, "slot_capacity", "Slot capacity", Kind::Number { min: 0, max: 100_000 },
                    Some("Scheduled callbacks each slot may hold.")))
            }
            (textarea(draft, FORM, "capacity_grid", "Capacity of particular slots (optional)",
                Some("One slot a line: weekday, start in the campaign's timezone, capacity — e.g. 'thu 22:00 4'. Other slots have the slot capacity.")))
            (select(draft, FORM, "duplicate_policy", "Duplicate numbers", &policies, None))
            (checkbox(draft, FORM, "paused", "Paused", Some("A paused queue holds its callbacks until it is resumed.")))
            (actions("queue-save", submit, "/config/queues"))
        }
    }
}

/// `GET /config/queues/new`
async fn new_page(State(state): State<AppState>, user: SignedIn, headers: HeaderMap) -> Answer {
    require(&user, Section::Queues)?;
    let catalog = Catalog::load(&state, &user.principal).await?;
    let content = form(&user, &catalog, &new_draft(), "/config/queues/new", "Create queue", None);
    Ok(page(&user, &headers, Section::Queues, StatusCode::OK, "New queue", content))
}

/// `POST /config/queues/new`
async fn create(State(state): State<AppState>, request: Request) -> Answer {
    let posted = admin_post(&state, request, Section::Queues).await?;
    let draft = Draft::posted(&posted.form);
    let result = match create_of(&draft) {
        Ok(input) => service::create_queue(&state, input).await,
        Err(e) => Err(e),
    };
    match refusable(result)? {
        Ok(_) => Ok(forms::done(&posted.headers, "/config/queues")),
        Err(e) => {
            let catalog = Catalog::load(&state, &posted.user.principal).await?;
            let content =
                form(&posted.user, &catalog, &draft.refused(&e), "/config/queues/new", "Create queue", Some(&e));
            Ok(page(&posted.user, &posted.headers, Section::Queues, e.status(), "New queue", content))
        }
    }
}

async fn queue(state: &AppState, id: &str) -> Result<Queue, Failure> {
    let id = parse_id(id, "queue")?;
    service::get_queue(state, id).await.map_err(Failure::from)
}

/// `GET /config/queues/{id}`
async fn edit_page(
    State(state): State<AppState>,
    user: SignedIn,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Answer {
    require(&user, Section::Queues)?;
    let queue = queue(&state, &id).await?;
    let catalog = Catalog::load(&state, &user.principal).await?;
    let content = form(&user, &catalog, &draft_of(&queue), &format!("/config/queues/{}", queue.id), "Save queue", None);
    Ok(page(&user, &headers, Section::Queues, StatusCode::OK, &format!("Queue {}", queue.name), content))
}

/// `POST /config/queues/{id}`
async fn update(State(state): State<AppState>, Path(id): Path<String>, request: Request) -> Answer {
    let posted = admin_post(&state, request, Section::Queues).await?;
    let queue = queue(&state, &id).await?;
    let draft = Draft::posted(&posted.form);
    let result = match patch_of(&draft) {
        Ok(patch) => service::update_queue(&state, queue.id, patch).await,
        Err(e) => Err(e),
    };
    match refusable(result)? {
        Ok(_) => Ok(forms::done(&posted.headers, "/config/queues")),
        Err(e) => {
            let catalog = Catalog::load(&state, &posted.user.principal).await?;
            let action = format!("/config/queues/{}", queue.id);
            let content = form(&posted.user, &catalog, &draft.refused(&e), &action, "Save queue", Some(&e));
            let title = format!("Queue {}", queue.name);
            Ok(page(&posted.user, &posted.headers, Section::Queues, e.status(), &title, content))
        }
    }
}

/// `POST /config/queues/{id}/paused` (`paused=true|false`)
async fn set_paused(State(state): State<AppState>, Path(id): Path<String>, request: Request) -> Answer {
    let posted = admin_post(&state, request, Section::Queues).await?;
    let id = parse_id(&id, "queue")?;
    let patch = QueuePatch { paused: Some(posted.form.get("paused") == Some("true")), ..QueuePatch::default() };
    service::update_queue(&state, id, patch).await?;
    Ok(forms::done(&posted.headers, "/config/queues"))
}

fn delete_confirmation(user: &SignedIn, headers: &HeaderMap, queue: &Queue, error: Option<&ApiError>) -> Response {
    let question =
        html! { "Delete the queue " strong { (queue.name) } "? A queue callbacks refer to cannot be deleted." };
    let action = format!("/config/queues/{}/delete", queue.id);
    confirm(user, headers, Section::Queues, "Delete queue", question, &action, "Delete", error)
}

/// `GET /config/queues/{id}/delete`
async fn delete_page(
    State(state): State<AppState>,
    user: SignedIn,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Answer {
    require(&user, Section::Queues)?;
    let queue = queue(&state, &id).await?;
    Ok(delete_confirmation(&user, &headers, &queue, None))
}

/// `POST /config/queues/{id}/delete`
async fn delete(State(state): State<AppState>, Path(id): Path<String>, request: Request) -> Answer {
    let posted = admin_post(&state, request, Section::Queues).await?;
    let queue = queue(&state, &id).await?;
    match refusable(service::delete_queue(&state, queue.id).await)? {
        Ok(()) => Ok(forms::done(&posted.headers, "/config/queues")),
        Err(e) => Ok(delete_confirmation(&posted.user, &posted.headers, &queue, Some(&e))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_typed_grid_reads_back_as_it_was_written() {
        let grid = grid_of("thu 22:00 4\n\nMon 09:00 = 12\n").unwrap().unwrap();
        assert_eq!(grid.thu.get("22:00"), Some(&4));
        assert_eq!(grid.mon.get("09:00"), Some(&12));
        assert_eq!(grid_text(Some(&grid)), "mon 09:00 12\nthu 22:00 4");
        assert!(grid_of("  \n").unwrap().is_none());
        let refused = grid_of("thu 09:00\nfunday 09:00 3").unwrap_err();
        assert_eq!(refused.to_object().details["field"], "capacity_grid");
        assert!(grid_of("xyz 09:00 3").is_err());
    }
}
