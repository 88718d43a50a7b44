//! Campaigns: the list (running, direction, timezone, lists, queues), start/stop, the settings form
//! (every field of the API's campaign but the hours, which [`super::hours`] edits), create and
//! delete. A new campaign starts with no dialling hours; creating it leads to its hours editor.

use axum::Router;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use maud::{Markup, html};
use rebound_domain::model::{Campaign, Direction, RetryDelays};
use serde_json::{Value, json};

use crate::AppState;
use crate::dto::{CampaignCreate, CampaignPatch};
use crate::error::{ApiError, ApiResult};
use crate::service::config as service;

use super::super::forms;
use super::super::session::SignedIn;
use super::fields::{Draft, Kind, checkbox, checkboxes, input, select, timezone};
use super::hours::hhmm;
use super::{Answer, Catalog, Failure, Section, actions, admin_post, confirm, joined, new_link, page, parse_id};
use super::{refusable, require};

const FORM: &str = "campaign";

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/config/campaigns", get(list_page))
        .route("/config/campaigns/new", get(new_page).post(create))
        .route("/config/campaigns/{id}", get(edit_page).post(update))
        .route("/config/campaigns/{id}/running", post(set_running))
        .route("/config/campaigns/{id}/delete", get(delete_page).post(delete))
}

/// The campaign's pages, as tabs above each of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tab {
    Settings,
    Hours,
    Exceptions,
}

pub fn tabs(campaign: &Campaign, current: Tab) -> Markup {
    let base = format!("/config/campaigns/{}", campaign.id);
    let tabs = [
        (Tab::Settings, base.clone(), "Settings"),
        (Tab::Hours, format!("{base}/hours"), "Dialling hours"),
        (Tab::Exceptions, format!("{base}/exceptions"), "Exceptions"),
    ];
    html! {
        nav.tabs aria-label="Campaign" {
            @for (tab, href, label) in tabs {
                a href=(href) aria-current=[(tab == current).then_some("page")] { (label) }
            }
        }
    }
}

/// The running indicator the callbacks list also shows.
pub fn running_badge(running: bool) -> Markup {
    html! {
        @if running {
            span.running role="img" aria-label="Running" title="Running" { "●" } " Running"
        } @else {
            span.stopped role="img" aria-label="Stopped" title="Stopped" { "○" } " Stopped"
        }
    }
}

fn direction_text(direction: Direction) -> &'static str {
    match direction {
        Direction::Inbound => "inbound",
        Direction::Outbound => "outbound",
    }
}

/// `GET /config/campaigns`
async fn list_page(State(state): State<AppState>, user: SignedIn, headers: HeaderMap) -> Answer {
    require(&user, Section::Campaigns)?;
    let catalog = Catalog::load(&state, &user.principal).await?;
    let content = html! {
        (new_link("/config/campaigns/new", "new-campaign", "New campaign", false))
        div.table-wrap {
            table #campaigns-table .config-table {
                thead {
                    tr {
                        th scope="col" { "Status" }
                        th scope="col" { "Name" }
                        th scope="col" { "Direction" }
                        th scope="col" { "Timezone" }
                        th scope="col" { "Lists" }
                        th scope="col" { "Queues" }
                        th scope="col" { "Exceptions" }
                        th scope="col" { span.visually-hidden { "Actions" } }
                    }
                }
                tbody {
                    @for campaign in &catalog.campaigns {
                        (row(&user, &catalog, campaign))
                    }
                }
            }
        }
        @if catalog.campaigns.is_empty() {
            p.empty { "No campaigns yet." }
        }
    };
    Ok(page(&user, &headers, Section::Campaigns, StatusCode::OK, "Campaigns", content))
}

fn row(user: &SignedIn, catalog: &Catalog, c: &Campaign) -> Markup {
    let base = format!("/config/campaigns/{}", c.id);
    let lists = match c.direction {
        Direction::Outbound => joined(c.lists.iter().map(|id| catalog.list_name(*id)).collect(), "—"),
        Direction::Inbound => match c.auto_callback_list_id {
            Some(id) => format!("auto-callbacks → {}", catalog.list_name(id)),
            None => "—".to_string(),
        },
    };
    let queues: Vec<String> = catalog.queues.iter().filter(|q| q.campaign_id == c.id).map(|q| q.name.clone()).collect();
    html! {
        tr data-id=(c.id) {
            td.status {
                (running_badge(c.running))
                form.inline method="post" action=(format!("{base}/running")) {
                    (forms::csrf_field(user))
                    input type="hidden" name="running" value=(if c.running { "false" } else { "true" });
                    button.small.secondary id=(format!("running-{}", c.id)) type="submit" {
                        @if c.running { "Stop" } @else { "Start" }
                    }
                }
            }
            td { a href=(base) { (c.name) } }
            td { (direction_text(c.direction)) }
            td { (c.timezone) " · " (c.region) }
            td { (lists) }
            td { (joined(queues, "—")) }
            td { a href=(format!("{base}/exceptions")) { (c.exceptions.len()) } }
            td.row-actions {
                a href=(base) { "Settings" }
                a href=(format!("{base}/hours")) { "Hours" }
                a href=(format!("{base}/delete")) data-dialog { "Delete" }
            }
        }
    }
}

/// What the settings form shows for a stored campaign.
fn draft_of(c: &Campaign) -> Draft {
    let (lead_start, lead_end) = hhmm(&c.lead_calling_hours.0);
    let delays = c.retry_delays_secs;
    Draft::new()
        .with("name", &c.name)
        .with("direction", direction_text(c.direction))
        .with("timezone", &c.timezone)
        .with("region", &c.region)
        .flag("running", c.running)
        .with_all("lists", &c.lists)
        .with("auto_callback_list_id", c.auto_callback_list_id.map(|id| id.to_string()).unwrap_or_default())
        .with("lead_calling_hours.start", lead_start)
        .with("lead_calling_hours.end", lead_end)
        .flag("allow_unassigned_agent_callbacks", c.allow_unassigned_agent_callbacks)
        .with("agent_grace_minutes", c.agent_grace_minutes)
        .with("window_secs", c.window_secs)
        .with("max_attempts", c.max_attempts)
        .with("horizon_days", c.horizon_days)
        .with("retry_delays_secs.no_answer", delays.no_answer)
        .with("retry_delays_secs.busy", delays.busy)
        .with("retry_delays_secs.voicemail", delays.voicemail)
        .with("retry_delays_secs.failed", delays.failed)
}

/// What the form shows for a new campaign: the API's defaults, in the admin's timezone.
fn new_draft(user: &SignedIn) -> Draft {
    let defaults = Campaign {
        id: 0,
        name: String::new(),
        direction: Direction::Outbound,
        timezone: user.session.user.timezone.clone(),
        region: String::new(),
        running: true,
        dialling_hours: Default::default(),
        exceptions: Vec::new(),
        lead_calling_hours: Default::default(),
        allow_unassigned_agent_callbacks: false,
        auto_callback_list_id: None,
        lists: Vec::new(),
        window_secs: Campaign::DEFAULT_WINDOW_SECS,
        max_attempts: Campaign::DEFAULT_MAX_ATTEMPTS,
        retry_delays_secs: RetryDelays::default(),
        horizon_days: Campaign::DEFAULT_HORIZON_DAYS,
        agent_grace_minutes: Campaign::DEFAULT_AGENT_GRACE_MINUTES,
        created_at: jiff::Timestamp::UNIX_EPOCH,
        updated_at: jiff::Timestamp::UNIX_EPOCH,
    };
    draft_of(&defaults)
}

fn direction_of(draft: &Draft) -> ApiResult<Direction> {
    match draft.get("direction") {
        "outbound" | "" => Ok(Direction::Outbound),
        "inbound" => Ok(Direction::Inbound),
        other => Err(ApiError::invalid_field("direction", format!("'{other}' is not inbound or outbound"))),
    }
}

/// The four retry delays, all or none (none: leave them as they are, or the default).
fn retry_delays_of(draft: &Draft) -> ApiResult<Option<RetryDelays>> {
    let names = ["no_answer", "busy", "voicemail", "failed"].map(|n| format!("retry_delays_secs.{n}"));
    if names.iter().all(|n| draft.get(n).is_empty()) {
        return Ok(None);
    }
    let mut values = [0u32; 4];
    for (value, name) in values.iter_mut().zip(&names) {
        *value = draft.number(name)?.ok_or_else(|| ApiError::invalid_field(name, "give every retry delay"))?;
    }
    let [no_answer, busy, voicemail, failed] = values;
    Ok(Some(RetryDelays { no_answer, busy, voicemail, failed }))
}

/// The lead calling hours as the API takes them (`["08:00","21:00"]`); blank: unchanged.
fn lead_hours_of(draft: &Draft) -> Option<Value> {
    let (start, end) = (draft.get("lead_calling_hours.start"), draft.get("lead_calling_hours.end"));
    (!start.is_empty() || !end.is_empty()).then(|| json!([start, end]))
}

/// The change a posted settings form asks for. Blank numbers leave a value as it is.
fn patch_of(draft: &Draft) -> ApiResult<CampaignPatch> {
    let auto_list = draft.number::<i64>("auto_callback_list_id")?;
    Ok(CampaignPatch {
        name: Some(draft.get("name").to_string()),
        direction: Some(direction_of(draft)?),
        timezone: Some(draft.get("timezone").to_string()),
        region: Some(draft.get("region").to_string()),
        running: Some(draft.checked("running")),
        lead_calling_hours: lead_hours_of(draft),
        allow_unassigned_agent_callbacks: Some(draft.checked("allow_unassigned_agent_callbacks")),
        auto_callback_list_id: Some(auto_list),
        lists: Some(draft.ids("lists")?),
        window_secs: draft.number("window_secs")?,
        max_attempts: draft.number("max_attempts")?,
        retry_delays_secs: retry_delays_of(draft)?,
        horizon_days: draft.number("horizon_days")?,
        agent_grace_minutes: draft.number("agent_grace_minutes")?,
        ..CampaignPatch::default()
    })
}

/// A new campaign from the same form: closed all week until its hours are set.
fn create_of(draft: &Draft) -> ApiResult<CampaignCreate> {
    let patch = patch_of(draft)?;
    Ok(CampaignCreate {
        name: patch.name.unwrap_or_default(),
        direction: patch.direction.unwrap_or(Direction::Outbound),
        timezone: patch.timezone.unwrap_or_default(),
        region: patch.region.unwrap_or_default(),
        running: patch.running.unwrap_or(false),
        dialling_hours: json!({}),
        exceptions: None,
        lead_calling_hours: patch.lead_calling_hours,
        allow_unassigned_agent_callbacks: patch.allow_unassigned_agent_callbacks.unwrap_or(false),
        auto_callback_list_id: patch.auto_callback_list_id.flatten(),
        lists: patch.lists.unwrap_or_default(),
        window_secs: patch.window_secs,
        max_attempts: patch.max_attempts,
        retry_delays_secs: patch.retry_delays_secs,
        horizon_days: patch.horizon_days,
        agent_grace_minutes: patch.agent_grace_minutes,
    })
}

fn directions() -> Vec<(String, String)> {
    vec![("outbound".into(), "Outbound".into()), ("inbound".into(), "Inbound".into())]
}

fn settings_form(
    user: &SignedIn,
    catalog: &Catalog,
    draft: &Draft,
    action: &str,
    submit: &str,
    error: Option<&ApiError>,
) -> Markup {
    let number = |name: &str, label: &str, min: u32, max: u32, hint: Option<&str>| {
        input(draft, FORM, name, label, Kind::Number { min, max }, hint)
    };
    html! {
        (forms::form_error(error))
        form #campaign-form .settings method="post" action=(action) {
            (forms::csrf_field(user))
            fieldset {
                legend { "Campaign" }
                (input(draft, FORM, "name", "Name", Kind::Text, None))
                (select(draft, FORM, "direction", "Direction", &directions(), None))
                (timezone(draft, FORM, "timezone", "Timezone (dialling hours are in this zone)"))
                (input(draft, FORM, "region", "Region", Kind::Text, Some("ISO country code national numbers are read with, e.g. GB")))
                (checkbox(draft, FORM, "running", "Running", Some("A stopped campaign dials nothing; its callbacks wait.")))
            }
            fieldset {
                legend { "Lists" }
                (checkboxes(draft, FORM, "lists", "Lists it dials (outbound)", &catalog.list_options(), None))
                (select(draft, FORM, "auto_callback_list_id", "Auto-callback list (inbound)", &catalog.list_options(), Some("— none —")))
            }
            fieldset {
                legend { "Lead calling hours" }
                p.hint { "When a lead may be called, in the lead's own timezone." }
                div.pair {
                    (input(draft, FORM, "lead_calling_hours.start", "From", Kind::Time, None))
                    (input(draft, FORM, "lead_calling_hours.end", "To", Kind::Time, None))
                }
            }
            fieldset {
                legend { "Agents" }
                (checkbox(draft, FORM, "allow_unassigned_agent_callbacks", "Allow callbacks to unassigned agents",
                    Some("An agent callback whose agent does not work this campaign may still be dialled for them.")))
                (number("agent_grace_minutes", "Grace period (minutes)", 0, 10_080,
                    Some("How long an agent callback waits for its agent before any agent of the campaign may take it.")))
            }
            fieldset {
                legend { "Attempts" }
                (number("window_secs", "Callback window (seconds)", 0, 86_400, Some("After its time plus this, a scheduled callback is overdue.")))
                (number("max_attempts", "Attempts at most", 1, 100, None))
                (number("horizon_days", "Booking horizon (days)", 1, 3_650, None))
                div.pair {
                    (number("retry_delays_secs.no_answer", "Retry after no answer (s)", 0, u32::MAX, None))
                    (number("retry_delays_secs.busy", "Retry after busy (s)", 0, u32::MAX, None))
                    (number("retry_delays_secs.voicemail", "Retry after voicemail (s)", 0, u32::MAX, None))
                    (number("retry_delays_secs.failed", "Retry after a failure (s)", 0, u32::MAX, None))
                }
            }
            (actions("campaign-save", submit, "/config/campaigns"))
        }
    }
}

/// `GET /config/campaigns/new`
async fn new_page(State(state): State<AppState>, user: SignedIn, headers: HeaderMap) -> Answer {
    require(&user, Section::Campaigns)?;
    let catalog = Catalog::load(&state, &user.principal).await?;
    let form = settings_form(&user, &catalog, &new_draft(&user), "/config/campaigns/new", "Create campaign", None);
    Ok(page(&user, &headers, Section::Campaigns, StatusCode::OK, "New campaign", form))
}

/// `POST /config/campaigns/new`: then on to the new campaign's hours.
async fn create(State(state): State<AppState>, request: Request) -> Answer {
    let posted = admin_post(&state, request, Section::Campaigns).await?;
    let draft = Draft::posted(&posted.form);
    let result = match create_of(&draft) {
        Ok(input) => service::create_campaign(&state, input).await,
        Err(e) => Err(e),
    };
    match refusable(result)? {
        Ok(created) => Ok(forms::done(&posted.headers, &format!("/config/campaigns/{}/hours", created.id))),
        Err(e) => {
            let catalog = Catalog::load(&state, &posted.user.principal).await?;
            let form = settings_form(
                &posted.user,
                &catalog,
                &draft.refused(&e),
                "/config/campaigns/new",
                "Create campaign",
                Some(&e),
            );
            Ok(page(&posted.user, &posted.headers, Section::Campaigns, e.status(), "New campaign", form))
        }
    }
}

async fn campaign(state: &AppState, id: &str) -> Result<Campaign, Failure> {
    let id = parse_id(id, "campaign")?;
    service::get_campaign(state, id).await.map_err(Failure::from)
}

fn edit_content(
    user: &SignedIn,
    catalog: &Catalog,
    campaign: &Campaign,
    draft: &Draft,
    error: Option<&ApiError>,
) -> Markup {
    let action = format!("/config/campaigns/{}", campaign.id);
    html! {
        (tabs(campaign, Tab::Settings))
        p.status-line { (running_badge(campaign.running)) " · " (direction_text(campaign.direction)) " · " (campaign.timezone) }
        (settings_form(user, catalog, draft, &action, "Save settings", error))
    }
}

/// `GET /config/campaigns/{id}`
async fn edit_page(
    State(state): State<AppState>,
    user: SignedIn,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Answer {
    require(&user, Section::Campaigns)?;
    let campaign = campaign(&state, &id).await?;
    let catalog = Catalog::load(&state, &user.principal).await?;
    let content = edit_content(&user, &catalog, &campaign, &draft_of(&campaign), None);
    Ok(page(&user, &headers, Section::Campaigns, StatusCode::OK, &campaign.name, content))
}

/// `POST /config/campaigns/{id}`
async fn update(State(state): State<AppState>, Path(id): Path<String>, request: Request) -> Answer {
    let posted = admin_post(&state, request, Section::Campaigns).await?;
    let campaign = campaign(&state, &id).await?;
    let draft = Draft::posted(&posted.form);
    let result = match patch_of(&draft) {
        Ok(patch) => service::update_campaign(&state, campaign.id, patch).await,
        Err(e) => Err(e),
    };
    match refusable(result)? {
        Ok(_) => Ok(forms::done(&posted.headers, "/config/campaigns")),
        Err(e) => {
            let catalog = Catalog::load(&state, &posted.user.principal).await?;
            let content = edit_content(&posted.user, &catalog, &campaign, &draft.refused(&e), Some(&e));
            Ok(page(&posted.user, &posted.headers, Section::Campaigns, e.status(), &campaign.name, content))
        }
    }
}

/// `POST /config/campaigns/{id}/running` (`running=true|false`): start or stop dialling.
async fn set_running(State(state): State<AppState>, Path(id): Path<String>, request: Request) -> Answer {
    let posted = admin_post(&state, request, Section::Campaigns).await?;
    let id = parse_id(&id, "campaign")?;
    let running = posted.form.get("running") == Some("true");
    let patch = CampaignPatch { running: Some(running), ..CampaignPatch::default() };
    // Nothing typed can be wrong here: a refusal is shown on the error page.
    service::update_campaign(&state, id, patch).await?;
    let back = forms::local_path(posted.form.get("return_to"), "/config/campaigns");
    Ok(forms::done(&posted.headers, back))
}

/// `GET /config/campaigns/{id}/delete`
async fn delete_page(
    State(state): State<AppState>,
    user: SignedIn,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Answer {
    require(&user, Section::Campaigns)?;
    let campaign = campaign(&state, &id).await?;
    Ok(delete_confirmation(&user, &headers, &campaign, None))
}

fn delete_confirmation(user: &SignedIn, headers: &HeaderMap, c: &Campaign, error: Option<&ApiError>) -> Response {
    let question =
        html! { "Delete the campaign " strong { (c.name) } "? Its queues, wrap codes and callbacks must go first." };
    let action = format!("/config/campaigns/{}/delete", c.id);
    confirm(user, headers, Section::Campaigns, "Delete campaign", question, &action, "Delete", error)
}

/// `POST /config/campaigns/{id}/delete`: refused (409) while anything still refers to it.
async fn delete(State(state): State<AppState>, Path(id): Path<String>, request: Request) -> Answer {
    let posted = admin_post(&state, request, Section::Campaigns).await?;
    let campaign = campaign(&state, &id).await?;
    match refusable(service::delete_campaign(&state, campaign.id).await)? {
        Ok(()) => Ok(forms::done(&posted.headers, "/config/campaigns")),
        Err(e) => Ok(delete_confirmation(&posted.user, &posted.headers, &campaign, Some(&e))),
    }
}
