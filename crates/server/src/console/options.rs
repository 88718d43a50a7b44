//! `/options`: each user's display options for the callbacks list — which columns it shows, a
//! 24-hour or 12-hour clock, times in UTC or the user's own zone, the states and services
//! (queues) it shows when no filter says otherwise — and their saved date ranges.
//!
//! The options are one JSON document per user ([`Prefs`], with a version), kept by the store as
//! opaque text (`Store::get_user_prefs` / `put_user_prefs`): this module alone reads and writes
//! it. A document that does not read (an older or newer shape) falls back to the defaults rather
//! than failing the list, and is replaced at the next save. The list loads it once per request.

use axum::Router;
use axum::extract::{Path, RawQuery, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use jiff::Timestamp;
use maud::{Markup, Render, html};
use rebound_domain::model::QueueId;
use rebound_domain::state::CallbackState;
use serde::{Deserialize, Serialize};

use crate::AppState;
use crate::error::ApiError;
use crate::service::scope::Visible;

use super::forms::{self, Form, csrf_field, form_error, local_path};
use super::layout::error_page;
use super::session::SignedIn;
use super::time::{Preset, TimeFormat, relative_range};

/// The version [`Prefs`] are written with.
pub const PREFS_VERSION: u32 = 1;
/// The most saved ranges a user keeps (they all sit beside the presets).
pub const MAX_RANGES: usize = 20;
/// The longest saved range name.
const MAX_RANGE_NAME: usize = 60;
/// The longest relative range, in days.
const MAX_RANGE_DAYS: i32 = 366;

/// This part's routes (merged by [`super::router`]).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/options", get(options_page).post(save_options))
        .route("/options/ranges", post(add_range))
        .route("/options/ranges/new", get(new_range_page))
        .route("/options/ranges/{id}/delete", post(delete_range))
}

// ---- the options ---------------------------------------------------------------------------------

/// A column of the callbacks list (the select, details and actions columns always show).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Column {
    State,
    Type,
    Phone,
    DesiredTime,
    Campaign,
    List,
    Queue,
    Agent,
    Lead,
    WrapCode,
    Created,
    Priority,
    Attempts,
    Notes,
}

impl Column {
    /// Every column, in table order.
    pub const ALL: [Column; 14] = [
        Column::State,
        Column::Type,
        Column::Phone,
        Column::DesiredTime,
        Column::Campaign,
        Column::List,
        Column::Queue,
        Column::Agent,
        Column::Lead,
        Column::WrapCode,
        Column::Created,
        Column::Priority,
        Column::Attempts,
        Column::Notes,
    ];

    /// The name the options and element ids use.
    pub fn key(self) -> &'static str {
        match self {
            Column::State => "state",
            Column::Type => "type",
            Column::Phone => "phone",
            Column::DesiredTime => "desired_time",
            Column::Campaign => "campaign",
            Column::List => "list",
            Column::Queue => "queue",
            Column::Agent => "agent",
            Column::Lead => "lead",
            Column::WrapCode => "wrap_code",
            Column::Created => "created",
            Column::Priority => "priority",
            Column::Attempts => "attempts",
            Column::Notes => "notes",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Column::State => "State",
            Column::Type => "Type",
            Column::Phone => "Phone",
            Column::DesiredTime => "Desired time",
            Column::Campaign => "Campaign",
            Column::List => "List",
            Column::Queue => "Queue",
            Column::Agent => "Agent",
            Column::Lead => "Lead",
            Column::WrapCode => "Wrap code",
            Column::Created => "Created",
            Column::Priority => "Priority",
            Column::Attempts => "Attempts",
            Column::Notes => "Notes",
        }
    }

    pub fn parse(key: &str) -> Option<Column> {
        Column::ALL.into_iter().find(|c| c.key() == key)
    }

    /// The columns of the seeds' list show unless hidden; the extra ones only when asked for.
    fn shown_by_default(self) -> bool {
        !matches!(self, Column::Created | Column::Priority | Column::Attempts | Column::Notes)
    }

    /// The list API's `sort` field for this column, if it sorts.
    pub fn sort_field(self) -> Option<&'static str> {
        match self {
            Column::State => Some("state"),
            Column::Phone => Some("phone"),
            Column::DesiredTime => Some("desired_time"),
            Column::Created => Some("created_at"),
            Column::Priority => Some("priority"),
            _ => None,
        }
    }

    /// The list API's `q_field` this column's filter searches, if it has one.
    pub fn search_field(self) -> Option<&'static str> {
        match self {
            Column::State => Some("state"),
            Column::Phone => Some("phone"),
            Column::Campaign => Some("campaign"),
            Column::List => Some("list"),
            Column::Queue => Some("queue"),
            Column::Agent => Some("agent"),
            Column::Lead => Some("lead"),
            Column::WrapCode => Some("wrap_code"),
            Column::Notes => Some("notes"),
            _ => None,
        }
    }
}

/// A saved date range: relative to the day it is used (whole days in the user's zone), or fixed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedRange {
    pub id: u32,
    pub name: String,
    #[serde(flatten)]
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Span {
    /// From midnight `from_day` days after today to midnight `to_day` days after (negative: before).
    Relative {
        from_day: i32,
        to_day: i32,
    },
    Fixed {
        from: Timestamp,
        to: Timestamp,
    },
}

impl SavedRange {
    /// The range today, as a link beside the presets (`range-<id>`).
    pub fn resolve(&self, now: Timestamp, user_tz: &jiff::tz::TimeZone) -> Option<Preset> {
        let (from, to) = match self.span {
            Span::Relative { from_day, to_day } => relative_range(now, user_tz, from_day, to_day)?,
            Span::Fixed { from, to } => (from, to),
        };
        Some(Preset { id: format!("range-{}", self.id), label: self.name.clone(), from, to })
    }

    /// What the range covers, in words.
    fn describe(&self, format: &TimeFormat) -> String {
        match self.span {
            Span::Relative { from_day, to_day } if to_day == 1 && from_day <= 0 => {
                format!("the last {} days, today included", 1 - from_day)
            }
            Span::Relative { from_day: 0, to_day } => format!("the next {to_day} days, today included"),
            Span::Relative { from_day, to_day } => format!("days {from_day} to {to_day} from today"),
            Span::Fixed { from, to } => {
                let (from, to) = (format.at(from).render().into_string(), format.at(to).render().into_string());
                format!("{from} to {to} ({})", format.zone_name())
            }
        }
    }
}

/// A user's options, as stored (JSON, see the module docs). Unknown column and state names are
/// ignored when read, so a newer release's document still mostly reads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Prefs {
    pub version: u32,
    /// The columns shown (keys of [`Column`]).
    pub columns: Vec<String>,
    pub clock_24h: bool,
    pub times_utc: bool,
    /// States shown when the list names none; empty = every state.
    pub visible_states: Vec<String>,
    /// Services (queues) shown when the list names none; empty = every queue.
    pub visible_queues: Vec<QueueId>,
    pub ranges: Vec<SavedRange>,
}

impl Default for Prefs {
    fn default() -> Self {
        Prefs {
            version: PREFS_VERSION,
            columns: Column::ALL.into_iter().filter(|c| c.shown_by_default()).map(|c| c.key().to_string()).collect(),
            clock_24h: true,
            times_utc: false,
            visible_states: Vec::new(),
            visible_queues: Vec::new(),
            ranges: Vec::new(),
        }
    }
}

impl Prefs {
    /// Reads a stored document; one that does not read gives the defaults (logged).
    pub fn from_stored(text: &str) -> Prefs {
        serde_json::from_str(text).unwrap_or_else(|e| {
            tracing::warn!(error.cause = %e, "console options did not read; using the defaults");
            Prefs::default()
        })
    }

    /// The columns shown, in table order.
    pub fn shown_columns(&self) -> Vec<Column> {
        Column::ALL.into_iter().filter(|c| self.columns.iter().any(|k| k == c.key())).collect()
    }

    /// How this user sees times.
    pub fn time_format(&self, user_zone: &str) -> TimeFormat {
        TimeFormat::new(user_zone, self.clock_24h, self.times_utc)
    }

    /// The visible states that are states.
    pub fn states(&self) -> Vec<CallbackState> {
        self.visible_states.iter().filter_map(|s| CallbackState::parse(s)).collect()
    }

    /// The saved ranges as they stand today, beside the presets.
    pub fn ranges_today(&self, now: Timestamp, user_tz: &jiff::tz::TimeZone) -> Vec<Preset> {
        self.ranges.iter().filter_map(|r| r.resolve(now, user_tz)).collect()
    }
}

/// The signed-in user's options (the defaults when they have saved none).
pub async fn load(state: &AppState, user: &SignedIn) -> Result<Prefs, ApiError> {
    Ok(match state.store.get_user_prefs(user.session.user.id).await? {
        Some(text) => Prefs::from_stored(&text),
        None => Prefs::default(),
    })
}

async fn save(state: &AppState, user: &SignedIn, prefs: &Prefs) -> Result<(), ApiError> {
    let text = serde_json::to_string(prefs).map_err(|e| ApiError::Internal(format!("options: {e}")))?;
    state.store.put_user_prefs(user.session.user.id, &text).await?;
    Ok(())
}

// ---- pages ---------------------------------------------------------------------------------------

/// The queues `user` may see, as (id, "Queue (Campaign)"), by campaign then queue name.
async fn visible_queues(state: &AppState, user: &SignedIn) -> Result<Vec<(QueueId, String)>, ApiError> {
    let snapshot = state.config_cache.snapshot(state.store.as_ref()).await?;
    let visible = Visible::of(&user.principal, &snapshot);
    let mut queues: Vec<(String, String, QueueId)> = snapshot
        .queues
        .values()
        .filter(|q| visible.queue(q))
        .map(|q| {
            let campaign = snapshot.campaigns.get(&q.campaign_id).map(|c| c.name.clone()).unwrap_or_default();
            (campaign, q.name.clone(), q.id)
        })
        .collect();
    queues.sort();
    Ok(queues.into_iter().map(|(campaign, queue, id)| (id, format!("{queue} ({campaign})"))).collect())
}

fn query_value(raw: Option<&str>, name: &str) -> Option<String> {
    form_urlencoded::parse(raw.unwrap_or("").as_bytes())
        .find(|(k, v)| k == name && !v.is_empty())
        .map(|(_, v)| v.into_owned())
}

/// `GET /options`
async fn options_page(
    State(state): State<AppState>,
    user: SignedIn,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let prefs = match load(&state, &user).await {
        Ok(prefs) => prefs,
        Err(e) => return error_page(&e),
    };
    let saved = query_value(raw.as_deref(), "saved").is_some();
    render_options(&state, &user, &headers, &prefs, StatusCode::OK, None, saved).await
}

async fn render_options(
    state: &AppState,
    user: &SignedIn,
    headers: &HeaderMap,
    prefs: &Prefs,
    status: StatusCode,
    error: Option<&ApiError>,
    saved: bool,
) -> Response {
    let queues = match visible_queues(state, user).await {
        Ok(queues) => queues,
        Err(e) => return error_page(&e),
    };
    let format = prefs.time_format(&user.session.user.timezone);
    let content = html! {
        @if saved {
            p #options-saved role="status" { "Options saved." }
        }
        (options_form(user, prefs, &queues, error))
        (saved_ranges(user, prefs, &format))
        h3 { "Save a new date range" }
        (range_form(user, &format, &RangeDraft::default(), "/options", Leave::Nowhere, None))
    };
    forms::show(user, headers, status, "Options", content)
}

fn options_form(user: &SignedIn, prefs: &Prefs, queues: &[(QueueId, String)], error: Option<&ApiError>) -> Markup {
    let shown = prefs.shown_columns();
    let states = prefs.states();
    html! {
        (form_error(error))
        form #options method="post" action="/options" {
            (csrf_field(user))
            fieldset #columns {
                legend { "Columns to show" }
                @for column in Column::ALL {
                    @let id = format!("column-{}", column.key());
                    div.check {
                        input type="checkbox" id=(id) name="column" value=(column.key()) checked[shown.contains(&column)];
                        label for=(id) { (column.label()) }
                    }
                }
            }
            fieldset #times {
                legend { "Times" }
                div.check {
                    input #clock-24h type="checkbox" name="clock_24h" value="on" checked[prefs.clock_24h];
                    label for="clock-24h" { "24-hour clock (14:30 rather than 2:30 PM)" }
                }
                div.check {
                    input #times-utc type="checkbox" name="times_utc" value="on" checked[prefs.times_utc];
                    label for="times-utc" {
                        "Show times in UTC"
                        @if user.session.user.timezone != "UTC" {
                            " (rather than your timezone, " (user.session.user.timezone) ")"
                        }
                    }
                }
            }
            fieldset #visible-states {
                legend { "Visible states" }
                p.hint { "The list shows these states unless you pick states in its advanced search. None ticked: every state." }
                @for state in CallbackState::ALL {
                    @let id = format!("visible-state-{}", state.as_str());
                    div.check {
                        input type="checkbox" id=(id) name="state" value=(state.as_str()) checked[states.contains(&state)];
                        label for=(id) { (state.as_str()) }
                    }
                }
            }
            fieldset #visible-services {
                legend { "Visible services (queues)" }
                p.hint {
                    "The list shows callbacks of these queues unless you pick queues in its advanced search. None ticked: \
                     every queue (agent callbacks without a queue show only then)."
                }
                @if queues.is_empty() {
                    p.hint { "No queues yet." }
                }
                @for (id, label) in queues {
                    @let element = format!("visible-queue-{id}");
                    div.check {
                        input type="checkbox" id=(element) name="queue" value=(id) checked[prefs.visible_queues.contains(id)];
                        label for=(element) { (label) }
                    }
                }
            }
            div.actions {
                a.secondary href="/callbacks" { "Back to the callbacks" }
                button #save-options type="submit" { "Save options" }
            }
        }
    }
}

fn saved_ranges(user: &SignedIn, prefs: &Prefs, format: &TimeFormat) -> Markup {
    html! {
        section #saved-ranges {
            h3 { "Saved date ranges" }
            @if prefs.ranges.is_empty() {
                p.hint { "None yet. A saved range appears beside Today, Next 7 days and the other presets of the list." }
            } @else {
                ul {
                    @for range in &prefs.ranges {
                        li id=(format!("saved-range-{}", range.id)) {
                            strong { (range.name) } " — " (range.describe(format))
                            form.inline method="post" action=(format!("/options/ranges/{}/delete", range.id)) {
                                (csrf_field(user))
                                button.secondary type="submit" aria-label=(format!("Delete the range {}", range.name)) { "Delete" }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// What the range form holds (as typed, so a refused form comes back as it was).
#[derive(Debug, Clone)]
struct RangeDraft {
    name: String,
    fixed: bool,
    next: bool,
    days: String,
    from: String,
    to: String,
}

impl Default for RangeDraft {
    fn default() -> Self {
        RangeDraft {
            name: String::new(),
            fixed: false,
            next: true,
            days: "3".into(),
            from: String::new(),
            to: String::new(),
        }
    }
}

impl RangeDraft {
    fn read(form: &Form) -> RangeDraft {
        let text = |name: &str| form.get(name).unwrap_or("").to_string();
        RangeDraft {
            name: text("name"),
            fixed: form.get("kind") == Some("fixed"),
            next: form.get("direction") != Some("last"),
            days: text("days"),
            from: text("from"),
            to: text("to"),
        }
    }

    /// The range it describes, or why not.
    fn parse(&self, format: &TimeFormat) -> Result<(String, Span), ApiError> {
        let name = self.name.trim();
        if name.is_empty() {
            return Err(ApiError::invalid_field("name", "give the range a name"));
        }
        if name.chars().count() > MAX_RANGE_NAME {
            return Err(ApiError::invalid_field("name", format!("a name is at most {MAX_RANGE_NAME} characters")));
        }
        let span = if self.fixed {
            let read = |field: &str, value: &str| {
                format.parse_input(value).ok_or_else(|| {
                    ApiError::invalid_field(field, format!("give the {field} date and time of a fixed range"))
                })
            };
            let (from, to) = (read("from", &self.from)?, read("to", &self.to)?);
            if to <= from {
                return Err(ApiError::invalid_field("to", "the range must end after it starts"));
            }
            Span::Fixed { from, to }
        } else {
            let days = self.days.trim().parse::<i32>().ok().filter(|d| (1..=MAX_RANGE_DAYS).contains(d));
            let days = days.ok_or_else(|| {
                ApiError::invalid_field("days", format!("the number of days is between 1 and {MAX_RANGE_DAYS}"))
            })?;
            if self.next {
                Span::Relative { from_day: 0, to_day: days }
            } else {
                Span::Relative { from_day: 1 - days, to_day: 1 }
            }
        };
        Ok((name.to_string(), span))
    }
}

/// How the range form offers to leave without saving: on the options page it does not need to;
/// a dialog closes; a page of its own links back.
enum Leave<'a> {
    Nowhere,
    CloseDialog,
    BackTo(&'a str),
}

impl<'a> Leave<'a> {
    fn for_request(headers: &HeaderMap, return_to: &'a str) -> Leave<'a> {
        if forms::wants_fragment(headers) { Leave::CloseDialog } else { Leave::BackTo(return_to) }
    }
}

fn range_form(
    user: &SignedIn,
    format: &TimeFormat,
    draft: &RangeDraft,
    return_to: &str,
    leave: Leave<'_>,
    error: Option<&ApiError>,
) -> Markup {
    html! {
        (form_error(error))
        form #new-range method="post" action="/options/ranges" {
            (csrf_field(user))
            input type="hidden" name="return_to" value=(return_to);
            label for="range-name" { "Name" }
            input #range-name name="name" type="text" maxlength=(MAX_RANGE_NAME) required value=(draft.name);
            fieldset.range-kind {
                legend { "The range is" }
                div.check {
                    input #range-kind-relative type="radio" name="kind" value="relative" checked[!draft.fixed];
                    label for="range-kind-relative" { "relative to the day it is used" }
                }
                div.range-relative {
                    label for="range-direction" { "Which days" }
                    select #range-direction name="direction" {
                        option value="next" selected[draft.next] { "Next" }
                        option value="last" selected[!draft.next] { "Last" }
                    }
                    label for="range-days" { "Number of days (today included)" }
                    input #range-days name="days" type="number" min="1" max=(MAX_RANGE_DAYS) value=(draft.days);
                }
                div.check {
                    input #range-kind-fixed type="radio" name="kind" value="fixed" checked[draft.fixed];
                    label for="range-kind-fixed" { "fixed dates" }
                }
                div.range-fixed {
                    label for="range-from" { "From (" (format.zone_name()) ")" }
                    input #range-from name="from" type="datetime-local" value=(draft.from);
                    label for="range-to" { "To (" (format.zone_name()) ")" }
                    input #range-to name="to" type="datetime-local" value=(draft.to);
                }
            }
            div.actions {
                @match leave {
                    Leave::Nowhere => {}
                    Leave::CloseDialog => { button.secondary type="button" data-close { "Cancel" } }
                    Leave::BackTo(path) => { a.secondary href=(path) { "Back" } }
                }
                button #add-range type="submit" { "Save range" }
            }
        }
    }
}

/// `GET /options/ranges/new?from=&to=&return_to=`: the range form alone (a dialog from the list),
/// filled with a fixed range when `from` and `to` are given (RFC 3339).
async fn new_range_page(
    State(state): State<AppState>,
    user: SignedIn,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let prefs = match load(&state, &user).await {
        Ok(prefs) => prefs,
        Err(e) => return error_page(&e),
    };
    let format = prefs.time_format(&user.session.user.timezone);
    let bound = |name: &str| query_value(raw.as_deref(), name).and_then(|v| v.parse::<Timestamp>().ok());
    let mut draft = RangeDraft::default();
    if let (Some(from), Some(to)) = (bound("from"), bound("to")) {
        draft = RangeDraft { fixed: true, from: format.input_value(from), to: format.input_value(to), ..draft };
    }
    let return_to = query_value(raw.as_deref(), "return_to");
    let return_to = local_path(return_to.as_deref(), "/callbacks").to_string();
    forms::show(
        &user,
        &headers,
        StatusCode::OK,
        "Save a date range",
        range_form(&user, &format, &draft, &return_to, Leave::for_request(&headers, &return_to), None),
    )
}

/// `POST /options/ranges`
async fn add_range(State(state): State<AppState>, request: Request) -> Response {
    let posted = match forms::posted(&state, request).await {
        Ok(posted) => posted,
        Err(refused) => return refused,
    };
    let (user, form, headers) = (&posted.user, &posted.form, &posted.headers);
    let mut prefs = match load(&state, user).await {
        Ok(prefs) => prefs,
        Err(e) => return error_page(&e),
    };
    let format = prefs.time_format(&user.session.user.timezone);
    let draft = RangeDraft::read(form);
    let return_to = local_path(form.get("return_to"), "/options").to_string();
    let parsed = draft.parse(&format).and_then(|named| {
        if prefs.ranges.len() >= MAX_RANGES {
            Err(ApiError::invalid_field("name", format!("you may keep at most {MAX_RANGES} ranges; delete one first")))
        } else {
            Ok(named)
        }
    });
    let (name, span) = match parsed {
        Ok(named) => named,
        Err(e) => {
            let leave = Leave::for_request(headers, &return_to);
            let content = range_form(user, &format, &draft, &return_to, leave, Some(&e));
            return forms::show(user, headers, e.status(), "Save a date range", content);
        }
    };
    let id = prefs.ranges.iter().map(|r| r.id).max().unwrap_or(0) + 1;
    prefs.ranges.push(SavedRange { id, name, span });
    match save(&state, user, &prefs).await {
        Ok(()) => forms::done(headers, &return_to),
        Err(e) => error_page(&e),
    }
}

/// `POST /options/ranges/{id}/delete`
async fn delete_range(State(state): State<AppState>, Path(id): Path<u32>, request: Request) -> Response {
    let posted = match forms::posted(&state, request).await {
        Ok(posted) => posted,
        Err(refused) => return refused,
    };
    let mut prefs = match load(&state, &posted.user).await {
        Ok(prefs) => prefs,
        Err(e) => return error_page(&e),
    };
    let before = prefs.ranges.len();
    prefs.ranges.retain(|r| r.id != id);
    if prefs.ranges.len() == before {
        return error_page(&ApiError::not_found("saved range"));
    }
    match save(&state, &posted.user, &prefs).await {
        Ok(()) => forms::done(&posted.headers, "/options"),
        Err(e) => error_page(&e),
    }
}

/// `POST /options`: columns, clock, UTC, visible states and services (the saved ranges are kept).
async fn save_options(State(state): State<AppState>, request: Request) -> Response {
    let posted = match forms::posted(&state, request).await {
        Ok(posted) => posted,
        Err(refused) => return refused,
    };
    let (user, form, headers) = (&posted.user, &posted.form, &posted.headers);
    let mut prefs = match load(&state, user).await {
        Ok(prefs) => prefs,
        Err(e) => return error_page(&e),
    };
    let queues = match visible_queues(&state, user).await {
        Ok(queues) => queues,
        Err(e) => return error_page(&e),
    };
    prefs.version = PREFS_VERSION;
    prefs.columns = Column::ALL
        .into_iter()
        .filter(|c| form.all("column").contains(&c.key()))
        .map(|c| c.key().to_string())
        .collect();
    prefs.clock_24h = form.checked("clock_24h");
    prefs.times_utc = form.checked("times_utc");
    prefs.visible_states = CallbackState::ALL
        .into_iter()
        .filter(|s| form.all("state").contains(&s.as_str()))
        .map(|s| s.as_str().to_string())
        .collect();
    prefs.visible_queues = queues
        .iter()
        .map(|(id, _)| *id)
        .filter(|id| form.all("queue").iter().any(|v| v.parse::<QueueId>().ok() == Some(*id)))
        .collect();
    if prefs.columns.is_empty() {
        let error = ApiError::invalid_field("column", "choose at least one column to show");
        return render_options(&state, user, headers, &prefs, error.status(), Some(&error), false).await;
    }
    match save(&state, user, &prefs).await {
        Ok(()) => forms::done(headers, local_path(form.get("return_to"), "/options?saved=1")),
        Err(e) => error_page(&e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_options_read_back_and_bad_documents_give_the_defaults() {
        let mut prefs = Prefs { clock_24h: false, times_utc: true, ..Prefs::default() };
        prefs.ranges.push(SavedRange { id: 1, name: "Next 3".into(), span: Span::Relative { from_day: 0, to_day: 3 } });
        let from: Timestamp = "2026-03-02T00:00:00Z".parse().unwrap();
        let to: Timestamp = "2026-03-05T00:00:00Z".parse().unwrap();
        prefs.ranges.push(SavedRange { id: 2, name: "Promo".into(), span: Span::Fixed { from, to } });
        let text = serde_json::to_string(&prefs).unwrap();
        assert!(text.contains(r#""version":1"#) && text.contains(r#""kind":"relative""#), "{text}");
        assert_eq!(Prefs::from_stored(&text), prefs);
        assert_eq!(Prefs::from_stored("not json"), Prefs::default());
        // Missing fields take their defaults; unknown columns and states are ignored.
        let partial = Prefs::from_stored(
            r#"{"version":1,"columns":["phone","sparkle","notes"],"visible_states":["QUEUED","LOST"]}"#,
        );
        assert_eq!(partial.shown_columns(), vec![Column::Phone, Column::Notes]);
        assert_eq!(partial.states(), vec![CallbackState::Queued]);
        assert!(partial.clock_24h);
    }

    #[test]
    fn relative_ranges_read_as_last_or_next_days() {
        let format = TimeFormat::new("Europe/London", true, false);
        let draft =
            |next: bool, days: &str| RangeDraft { name: "r".into(), next, days: days.into(), ..RangeDraft::default() };
        assert_eq!(draft(true, "3").parse(&format).unwrap().1, Span::Relative { from_day: 0, to_day: 3 });
        assert_eq!(draft(false, "30").parse(&format).unwrap().1, Span::Relative { from_day: -29, to_day: 1 });
        assert!(draft(true, "0").parse(&format).is_err());
        assert!(draft(true, "367").parse(&format).is_err());
        let unnamed = RangeDraft { name: " ".into(), ..RangeDraft::default() };
        assert!(unnamed.parse(&format).is_err());
    }
}
