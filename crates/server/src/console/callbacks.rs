//! `GET /callbacks`: the callbacks list, one server-rendered page of 250 rows, with its date-range
//! presets and saved ranges, quick search by phone, advanced search, per-column search, sort and
//! the user's display options.
//!
//! The query string goes to the API's list service (`from`, `to`, `state`, `campaign_id`, `phone`,
//! `q`, `sort`, `page`, …) with the signed-in user's principal, so the filters, their validation,
//! the campaign scope and the agent rules are exactly the API's. The page reads its query in three
//! steps first: empty form fields are dropped (a form sends `phone=` when the box is empty); the
//! column filters (`q.<field>=text`, one input per column) become the API's `q` + `q_field`; and
//! the user's visible states and services ([`options::Prefs`]) are added when the query names no
//! state or queue of its own. Links keep the query as read (without the options' defaults).
//!
//! Everything else is presentation: names for ids, times as the user's options say, presets,
//! sorting headers and paging links. `list.js` adds filtering as you type, row details and live
//! state updates on top; every control also works without it.
//!
//! Speed: one read of the options, then the list and the names (lists, wrap codes) concurrently;
//! campaigns, queues and agents come from the configuration cache. Rows are rendered straight into
//! the page (times included) with no store call per row.

use std::collections::HashMap;

use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use jiff::Timestamp;
use jiff::tz::TimeZone;
use maud::{Markup, html};
use rebound_domain::access::Permission;
use rebound_domain::model::{Callback, Direction, ListId, Origin, WrapCode};
use rebound_domain::state::CallbackState;

use crate::AppState;
use crate::dto::{CallbackView, Paged};
use crate::error::ApiError;
use crate::extract::Params;
use crate::service::ConfigSnapshot;
use crate::service::callbacks::{ListQuery, list};
use crate::service::scope::Visible;

use super::layout::{error_page, html_response, signed_in_page};
use super::options::{self, Column, Prefs};
use super::session::SignedIn;
use super::time::{Preset, TimeFormat, presets, user_timezone};
use super::{bulk, callback_forms};

const PATH: &str = "/callbacks";
/// The prefix of a column filter's name: `q.phone=0207` searches the phone column.
const COLUMN_FILTER: &str = "q.";

/// The query's non-empty pairs, in order.
fn filled_pairs(raw: Option<&str>) -> Vec<(String, String)> {
    form_urlencoded::parse(raw.unwrap_or("").as_bytes())
        .into_owned()
        .filter(|(_, value)| !value.trim().is_empty())
        .collect()
}

/// The query as the list API reads it: a column filter becomes `q` + `q_field`, and a `timezone`
/// that no `from`/`to` needs (the advanced search always sends one) is dropped. The API searches
/// one column at a time, so two filled column filters (or one and a `q`) are refused: the rest of
/// the query is kept, with the refusal.
fn canonical(pairs: Vec<(String, String)>) -> (Vec<(String, String)>, Option<ApiError>) {
    let has_bound = pairs.iter().any(|(k, _)| k == "from" || k == "to");
    let (columns, mut rest): (Vec<_>, Vec<_>) = pairs.into_iter().partition(|(k, _)| k.starts_with(COLUMN_FILTER));
    rest.retain(|(k, _)| has_bound || k != "timezone");
    let has_q = rest.iter().any(|(k, _)| k == "q" || k == "q_field");
    match columns.as_slice() {
        [] => (rest, None),
        [(key, value)] if !has_q => {
            rest.push(("q".into(), value.clone()));
            rest.push(("q_field".into(), key[COLUMN_FILTER.len()..].to_string()));
            (rest, None)
        }
        _ => (rest, Some(ApiError::invalid_field("q", "search one column at a time: clear the other column filters"))),
    }
}

/// `/callbacks?…` with `pairs` minus the parameters in `drop`, plus `add`.
fn link(pairs: &[(String, String)], drop: &[&str], add: &[(&str, String)]) -> String {
    let mut query = form_urlencoded::Serializer::new(String::new());
    for (key, value) in pairs.iter().filter(|(key, _)| !drop.contains(&key.as_str())) {
        query.append_pair(key, value);
    }
    for (key, value) in add {
        query.append_pair(key, value);
    }
    let query = query.finish();
    if query.is_empty() { PATH.to_string() } else { format!("{PATH}?{query}") }
}

fn values<'a>(pairs: &'a [(String, String)], key: &str) -> impl Iterator<Item = &'a str> {
    pairs.iter().filter(move |(k, _)| k == key).map(|(_, v)| v.as_str())
}

fn first<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    values(pairs, key).next()
}

/// What the user's options added to the query (shown above the list, so nothing is hidden
/// silently).
#[derive(Debug, Default)]
struct Defaults {
    states: Vec<CallbackState>,
    queues: Vec<String>,
}

/// The query with the options' visible states and services where the query names none; queues
/// no longer configured are left out.
fn with_defaults(
    pairs: &[(String, String)],
    prefs: &Prefs,
    config: &ConfigSnapshot,
) -> (Vec<(String, String)>, Defaults) {
    let mut query = pairs.to_vec();
    let mut defaults = Defaults::default();
    if first(pairs, "state").is_none() {
        defaults.states = prefs.states();
        query.extend(defaults.states.iter().map(|s| ("state".to_string(), s.as_str().to_string())));
    }
    if first(pairs, "queue_id").is_none() {
        for id in &prefs.visible_queues {
            if let Some(queue) = config.queues.get(id) {
                query.push(("queue_id".to_string(), id.to_string()));
                defaults.queues.push(queue.name.clone());
            }
        }
    }
    (query, defaults)
}

/// Names for the ids a page shows, and the choices of the advanced search.
struct Names {
    config: std::sync::Arc<ConfigSnapshot>,
    lists: HashMap<ListId, String>,
    wrap_codes: Vec<WrapCode>,
}

impl Names {
    async fn load(state: &AppState) -> Result<Names, ApiError> {
        let (config, lists, wrap_codes) = tokio::join!(
            state.config_cache.snapshot(state.store.as_ref()),
            state.store.list_lists(),
            state.store.list_wrap_codes()
        );
        let lists = lists?.into_iter().map(|l| (l.id, l.name)).collect();
        Ok(Names { config: config?, lists, wrap_codes: wrap_codes? })
    }
}

/// What the page shows: a page of callbacks, or why the filter was refused.
enum Outcome {
    Found(Paged<CallbackView>),
    Refused(ApiError),
}

/// Everything one rendering of the list needs.
struct View<'a> {
    user: &'a SignedIn,
    /// The query as read (links keep it).
    pairs: &'a [(String, String)],
    prefs: &'a Prefs,
    defaults: Defaults,
    columns: Vec<Column>,
    names: &'a Names,
    format: TimeFormat,
    /// The user's own zone, where presets and saved ranges run.
    user_tz: TimeZone,
    now: Timestamp,
    /// The newest audit event when the page was read (where `list.js` starts following events).
    events_after: i64,
    /// The range of the current view as the list read it (`from`, `to`).
    bounds: (Option<Timestamp>, Option<Timestamp>),
}

pub async fn list_page(
    State(state): State<AppState>,
    user: SignedIn,
    checked: Result<Params, ApiError>,
    RawQuery(raw): RawQuery,
) -> Response {
    if let Err(e) = checked {
        return error_page(&e);
    }
    if !user.principal.may(Permission::ReadCallbacks) {
        return error_page(&ApiError::forbidden());
    }
    let (pairs, refused) = canonical(filled_pairs(raw.as_deref()));
    // Read before the list, so a live subscription from this event misses no change to its rows.
    let (prefs, names, events_after) =
        tokio::join!(options::load(&state, &user), Names::load(&state), state.store.last_event_id());
    let (prefs, names, events_after) = match (prefs, names, events_after.map_err(ApiError::from)) {
        (Ok(prefs), Ok(names), Ok(after)) => (prefs, names, after),
        (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => return error_page(&e),
    };
    let (query, defaults) = with_defaults(&pairs, &prefs, &names.config);
    let parsed = match refused {
        Some(e) => Err(e),
        None => ListQuery::parse(&Params::from_pairs(query)),
    };
    let bounds = parsed.as_ref().map(|q| (q.filter.filter.from, q.filter.filter.to)).unwrap_or_default();
    let outcome = match parsed {
        Err(e) => Outcome::Refused(e),
        Ok(query) => match list(&state, &user.principal, query).await {
            Ok(found) => Outcome::Found(found),
            Err(e @ (ApiError::Internal(_) | ApiError::Unavailable { .. })) => return error_page(&e),
            Err(e) => Outcome::Refused(e),
        },
    };
    let status = match &outcome {
        Outcome::Found(_) => StatusCode::OK,
        Outcome::Refused(e) => e.status(),
    };
    let view = View {
        user: &user,
        pairs: &pairs,
        prefs: &prefs,
        defaults,
        columns: prefs.shown_columns(),
        names: &names,
        format: prefs.time_format(&user.session.user.timezone),
        user_tz: user_timezone(&user.session.user.timezone),
        now: state.clock.now(),
        events_after,
        bounds,
    };
    html_response(status, signed_in_page(&user, "Callbacks", page(&view, &outcome)))
}

fn page(view: &View<'_>, outcome: &Outcome) -> Markup {
    html! {
        h1 { "Callbacks" }
        div.toolbar {
            @if view.user.principal.may(Permission::WriteCallbacks) {
                a #new-callback.button href="/callbacks/new" data-dialog { "+ New callback" }
            }
            (ranges_nav(view))
            a #refresh.button.secondary href=(link(view.pairs, &[], &[])) title="Reload the list" { "↻ Refresh" }
            span #live-status {}
            span #list-announce.visually-hidden role="status" aria-live="polite" {}
        }
        (search_form(view))
        div #list-results {
            div #list-above {
                (notes(view))
                @match outcome {
                    Outcome::Refused(error) => {
                        p #page-error role="alert" { (error.to_object().message) }
                    }
                    Outcome::Found(found) => {
                        (bulk::toolbar(view.user, view.pairs, found))
                        (pager(view, found))
                    }
                }
            }
            @let items = match outcome { Outcome::Found(found) => found.items.as_slice(), Outcome::Refused(_) => &[] };
            (table(view, items))
            div #list-below {
                @if matches!(outcome, Outcome::Found(found) if found.items.is_empty()) {
                    p.empty { "No callbacks match." }
                }
            }
        }
    }
}

// ---- date ranges, search ---------------------------------------------------------------------------

fn ranges_nav(view: &View<'_>) -> Markup {
    let saved = view.prefs.ranges_today(view.now, &view.user_tz);
    html! {
        nav.presets aria-label="Date range" {
            @for preset in presets(view.now, &view.user_tz) {
                (preset_link(view.pairs, &preset))
            }
            @for range in &saved {
                (preset_link(view.pairs, range))
            }
            a #all-dates href=(link(view.pairs, &["from", "to", "timezone", "page"], &[])) { "All dates" }
            @if let (Some(from), Some(to)) = view.bounds {
                @let href = format!(
                    "/options/ranges/new?{}",
                    form_urlencoded::Serializer::new(String::new())
                        .append_pair("from", &from.to_string())
                        .append_pair("to", &to.to_string())
                        .append_pair("return_to", &link(view.pairs, &[], &[]))
                        .finish()
                );
                a #save-range href=(href) data-dialog { "Save this range…" }
            }
        }
    }
}

fn preset_link(pairs: &[(String, String)], preset: &Preset) -> Markup {
    let (from, to) = (preset.from.to_string(), preset.to.to_string());
    let current = first(pairs, "from") == Some(from.as_str()) && first(pairs, "to") == Some(to.as_str());
    let href = link(pairs, &["from", "to", "timezone", "page"], &[("from", from), ("to", to)]);
    html! {
        a id=(preset.id) href=(href) aria-current=[current.then_some("true")] { (preset.label) }
    }
}

/// The quick search, and around it the advanced search: one GET form, so whatever the user
/// searches with keeps the other filters (the column filters in the table belong to it too).
fn search_form(view: &View<'_>) -> Markup {
    let pairs = view.pairs;
    let phone = first(pairs, "phone").unwrap_or("");
    html! {
        form #quick-search method="get" action=(PATH) role="search" {
            div.quick {
                label for="phone" { "Phone" }
                input #phone name="phone" type="search" inputmode="tel" value=(phone) placeholder="any format";
                button type="submit" { "Search" }
                @if let Some(sort) = first(pairs, "sort") {
                    input type="hidden" name="sort" value=(sort);
                }
                @if let Some(size) = first(pairs, "page_size") {
                    input type="hidden" name="page_size" value=(size);
                }
                a #clear-filters href=(PATH) { "Clear filters" }
            }
            (advanced_search(view))
        }
    }
}

/// Whether the query uses any filter of the advanced search (it then opens unfolded).
fn advanced_in_use(pairs: &[(String, String)]) -> bool {
    const ADVANCED: [&str; 9] =
        ["campaign_id", "list_id", "queue_id", "agent_id", "type", "wrap_code", "state", "overdue", "timezone"];
    pairs.iter().any(|(k, _)| ADVANCED.contains(&k.as_str()))
}

fn advanced_search(view: &View<'_>) -> Markup {
    let (pairs, config) = (view.pairs, &view.names.config);
    let visible = Visible::of(&view.user.principal, config);
    let chosen = |key: &str, id: i64| values(pairs, key).any(|v| v == id.to_string());
    // The range as the list read it, shown in the user's display zone.
    let bound = |at: Option<Timestamp>| at.map(|at| view.format.input_value(at)).unwrap_or_default();
    let mut campaigns: Vec<_> =
        config.campaigns.values().filter(|c| c.direction == Direction::Outbound && visible.campaign(c.id)).collect();
    campaigns.sort_by(|a, b| a.name.cmp(&b.name));
    let mut lists: Vec<(ListId, &str, String)> = view
        .names
        .lists
        .iter()
        .filter(|(id, _)| visible.list(**id))
        .map(|(id, name)| {
            let of: Vec<String> = campaigns.iter().filter(|c| c.lists.contains(id)).map(|c| c.id.to_string()).collect();
            (*id, name.as_str(), of.join(" "))
        })
        .collect();
    lists.sort_by(|a, b| a.1.cmp(b.1));
    let mut queues: Vec<_> = config.queues.values().filter(|q| visible.queue(q)).collect();
    queues.sort_by(|a, b| a.name.cmp(&b.name));
    let mut agents: Vec<_> = config.agents.values().filter(|a| visible.agent(a)).collect();
    agents.sort_by(|a, b| a.name.cmp(&b.name));
    let mut wraps: Vec<&WrapCode> = view.names.wrap_codes.iter().filter(|w| visible.wrap_code(w)).collect();
    wraps.sort_by(|a, b| a.code.cmp(&b.code));
    wraps.dedup_by(|a, b| a.code == b.code && a.campaign_id == b.campaign_id);
    let kind = first(pairs, "type");
    let wrap = first(pairs, "wrap_code");
    let zone = view.format.zone_name();
    html! {
        details #advanced-search open[advanced_in_use(pairs)] {
            summary { "Advanced search" }
            div.advanced-grid {
                div.field {
                    label for="adv-from" { "From (" (zone) ")" }
                    input #adv-from name="from" type="datetime-local" value=(bound(view.bounds.0));
                }
                div.field {
                    label for="adv-to" { "To (" (zone) ")" }
                    input #adv-to name="to" type="datetime-local" value=(bound(view.bounds.1));
                    input type="hidden" name="timezone" value=(zone);
                }
                div.field {
                    label for="adv-campaigns" { "Campaigns" }
                    select #adv-campaigns name="campaign_id" multiple size="4" {
                        @for c in &campaigns {
                            option value=(c.id) selected[chosen("campaign_id", c.id)] { (c.name) }
                        }
                    }
                }
                div.field {
                    label for="adv-lists" { "Lists of those campaigns" }
                    select #adv-lists name="list_id" multiple size="4" {
                        @for (id, name, of) in &lists {
                            option value=(id) data-campaigns=(of) selected[chosen("list_id", *id)] { (name) }
                        }
                    }
                }
                div.field {
                    label for="adv-queues" { "Queues (services)" }
                    select #adv-queues name="queue_id" multiple size="4" {
                        @for q in &queues {
                            option value=(q.id) data-campaign=(q.campaign_id) selected[chosen("queue_id", q.id)] { (q.name) }
                        }
                    }
                }
                div.field {
                    label for="adv-type" { "Callback type" }
                    select #adv-type name="type" {
                        option value="" { "All" }
                        option value="queue" selected[kind == Some("queue")] { "Queue callbacks" }
                        option value="agent" selected[kind == Some("agent")] { "Agent callbacks" }
                    }
                }
                div.field.agent-filter {
                    label for="adv-agents" { "Agents (agent callbacks)" }
                    select #adv-agents name="agent_id" multiple size="4" {
                        @for a in &agents {
                            option value=(a.id) selected[chosen("agent_id", a.id)] { (a.name) }
                        }
                    }
                }
                div.field {
                    label for="adv-wrap-code" { "Wrap code" }
                    select #adv-wrap-code name="wrap_code" {
                        option value="" { "All" }
                        @for w in &wraps {
                            option value=(w.code) data-campaign=(w.campaign_id) selected[wrap == Some(w.code.as_str())] {
                                (w.code) @if !w.label.is_empty() { " — " (w.label) }
                            }
                        }
                    }
                }
                fieldset.field #adv-states {
                    legend { "States" }
                    @for state in CallbackState::ALL {
                        @let id = format!("adv-state-{}", state.as_str());
                        div.check {
                            input type="checkbox" id=(id) name="state" value=(state.as_str())
                                checked[values(pairs, "state").any(|v| v.eq_ignore_ascii_case(state.as_str()))];
                            label for=(id) { (state.as_str()) }
                        }
                    }
                    div.check {
                        input #adv-overdue type="checkbox" name="overdue" value="true" checked[first(pairs, "overdue") == Some("true")];
                        label for="adv-overdue" { "Only overdue" }
                    }
                }
            }
            div.actions {
                button #advanced-apply type="submit" { "Search" }
            }
        }
    }
}

/// What narrows the list besides the visible filters: the options' defaults, a text search in a
/// column not shown.
fn notes(view: &View<'_>) -> Markup {
    let d = &view.defaults;
    let q = first(view.pairs, "q");
    let field = first(view.pairs, "q_field").unwrap_or("any");
    let in_column = view.columns.iter().any(|c| c.search_field() == Some(field));
    html! {
        div #list-notes {
            @if !d.states.is_empty() || !d.queues.is_empty() {
                p.note #options-filter {
                    "Your options show only "
                    @if !d.states.is_empty() {
                        "the states " (d.states.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", "))
                    }
                    @if !d.states.is_empty() && !d.queues.is_empty() { " and " }
                    @if !d.queues.is_empty() {
                        "the queues " (d.queues.join(", "))
                    }
                    ". Pick others in the advanced search, or change your "
                    a href="/options" { "options" } "."
                }
            }
            @if let Some(q) = q.filter(|_| !in_column) {
                p.note #text-search {
                    "Searching “" (q) "” in " (field.replace('_', " ")) ". "
                    a href=(link(view.pairs, &["q", "q_field", "page"], &[])) { "Clear" }
                }
            }
        }
    }
}

/// The total and the previous/next links, above the table (once: the ids are unique).
fn pager(view: &View<'_>, found: &Paged<CallbackView>) -> Markup {
    let pairs = view.pairs;
    let shown_to = u64::from(found.page.saturating_sub(1)) * u64::from(found.page_size) + found.items.len() as u64;
    let has_next = u64::from(found.page) * u64::from(found.page_size) < found.total;
    let page_link = |page: u32| link(pairs, &["page"], &[("page", page.to_string())]);
    html! {
        div.pager {
            span { span #total { (found.total) } " callbacks" }
            @if !found.items.is_empty() {
                span { "showing " (shown_to + 1 - found.items.len() as u64) "–" (shown_to) }
            }
            @if found.page > 1 {
                a #prev-page rel="prev" href=(page_link(found.page - 1)) { "‹ Previous" }
            }
            @if has_next {
                a #next-page rel="next" href=(page_link(found.page + 1)) { "Next ›" }
            }
            span.zone { "Times in " (view.format.zone_name()) }
        }
    }
}

// ---- the table -------------------------------------------------------------------------------------

/// The current sort as (API field, descending); the API's default is the desired time, ascending.
fn current_sort(pairs: &[(String, String)]) -> (&str, bool) {
    match first(pairs, "sort") {
        None => ("desired_time", false),
        Some(s) => match s.strip_prefix('-') {
            Some(field) => (field, true),
            None => (s.strip_prefix('+').unwrap_or(s), false),
        },
    }
}

fn table(view: &View<'_>, items: &[CallbackView]) -> Markup {
    let select_header = bulk::select_header(view.user);
    let has_select = !select_header.0.is_empty();
    html! {
        div.table-wrap {
            table #callbacks {
                thead {
                    tr.headings {
                        (select_header)
                        th.expand-cell scope="col" { span.visually-hidden { "Details" } }
                        @for column in &view.columns {
                            (heading(view.pairs, *column))
                        }
                        th scope="col" { span.visually-hidden { "Actions" } }
                    }
                    (filter_row(view, has_select))
                }
                tbody data-events-after=(view.events_after) {
                    @for item in items {
                        (row(view, item))
                    }
                }
            }
        }
    }
}

fn heading(pairs: &[(String, String)], column: Column) -> Markup {
    let Some(field) = column.sort_field() else {
        return html! { th scope="col" data-column=(column.key()) { (column.label()) } };
    };
    let (sorted, descending) = current_sort(pairs);
    let current = sorted == field;
    let aria = current.then_some(if descending { "descending" } else { "ascending" });
    let next = if current && !descending { format!("-{field}") } else { field.to_string() };
    let href = link(pairs, &["sort", "page"], &[("sort", next)]);
    html! {
        th scope="col" data-column=(column.key()) aria-sort=[aria] {
            a.sort id=(format!("sort-{}", column.key())) href=(href) {
                (column.label())
                @if current {
                    span.sort-mark aria-hidden="true" { @if descending { " ▼" } @else { " ▲" } }
                }
            }
        }
    }
}

/// One filter per searchable column, part of the search form (`form="quick-search"`): Enter
/// submits it; `list.js` reloads the rows as the user types.
fn filter_row(view: &View<'_>, has_select: bool) -> Markup {
    let active = first(view.pairs, "q_field").unwrap_or("any");
    let text = first(view.pairs, "q").unwrap_or("");
    html! {
        tr.filters {
            @if has_select { td {} }
            td {}
            @for column in &view.columns {
                td {
                    @if let Some(field) = column.search_field() {
                        @let id = format!("filter-{}", column.key());
                        label.visually-hidden for=(id) { "Filter by " (column.label()) }
                        input id=(id) type="search" name=(format!("{COLUMN_FILTER}{field}")) form="quick-search"
                            autocomplete="off" placeholder="Filter"
                            value=(if active == field { text } else { "" });
                    }
                }
            }
            td {}
        }
    }
}

fn row(view: &View<'_>, item: &CallbackView) -> Markup {
    let c: &Callback = &item.callback;
    html! {
        tr data-id=(c.id) data-state=(c.state.as_str()) {
            (bulk::select_cell(view.user, c))
            td.expand-cell {
                button.expand type="button" aria-expanded="false" aria-label="Show details" title="Show details" { "▸" }
            }
            @for column in &view.columns {
                (cell(view, item, *column))
            }
            td.actions { (callback_forms::row_menu(&view.user.principal, c)) }
        }
    }
}

fn cell(view: &View<'_>, item: &CallbackView, column: Column) -> Markup {
    let c = &item.callback;
    let config = &view.names.config;
    match column {
        Column::State => state_cell(item),
        Column::Type => html! { td { (c.kind.as_str()) } },
        Column::Phone => html! { td { (c.phone) } },
        Column::DesiredTime => {
            let earliest = c.earliest_time.filter(|at| *at != c.desired_time);
            html! {
                td {
                    (view.format.at(c.desired_time))
                    @if let Some(at) = earliest {
                        " " span.earliest title="Earliest time it may be dialled" { "(" (view.format.at(at)) ")" }
                    }
                }
            }
        }
        Column::Campaign => html! {
            td {
                @match config.campaigns.get(&c.campaign_id) {
                    Some(campaign) => {
                        @if campaign.running {
                            span.running title="Running" role="img" aria-label="Running" { "●" }
                        } @else {
                            span.stopped title="Stopped" role="img" aria-label="Stopped" { "○" }
                        }
                        " " (campaign.name)
                    }
                    None => { (c.campaign_id) }
                }
            }
        },
        Column::List => {
            let name = c.list_id.and_then(|id| view.names.lists.get(&id)).map(String::as_str);
            html! { td { (name.unwrap_or("")) } }
        }
        Column::Queue => {
            let name = c.queue_id.and_then(|id| config.queues.get(&id)).map(|q| q.name.as_str());
            html! { td { (name.unwrap_or("")) } }
        }
        Column::Agent => {
            let agent = c.agent_id.or(c.offered_to).and_then(|id| config.agents.get(&id)).map(|a| a.name.as_str());
            html! { td { (agent.unwrap_or("")) } }
        }
        Column::Lead => html! { td { @if let Some(lead) = c.lead_id { (lead) } } },
        Column::WrapCode => html! { td { (c.wrap_code.as_deref().unwrap_or("")) } },
        Column::Created => html! { td { (view.format.at(c.created_at)) } },
        Column::Priority => html! { td.number { (c.priority) } },
        Column::Attempts => html! { td.number { (c.attempts) } },
        Column::Notes => html! { td.notes { (c.notes.as_deref().unwrap_or("")) } },
    }
}

/// The state, its result, the overdue warning and the calendar of an originally scheduled
/// callback (`list.js` swaps this cell when a live event changes the state).
fn state_cell(item: &CallbackView) -> Markup {
    let c = &item.callback;
    html! {
        td.col-state {
            span.state { (c.state.as_str()) }
            @if let Some(result) = c.result {
                " " span.result { (result.as_str()) }
            }
            @if item.overdue {
                " " span.overdue title="Overdue: still scheduled after its time window" role="img" aria-label="Overdue" { "⚠" }
            }
            @if c.origin == Origin::Scheduled {
                " " span.scheduled title="Originally scheduled" role="img" aria-label="Originally scheduled" {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn a_column_filter_becomes_the_apis_column_search() {
        let (read, refused) = canonical(pairs(&[("q.campaign", "lond"), ("sort", "-phone")]));
        assert_eq!(read, pairs(&[("sort", "-phone"), ("q", "lond"), ("q_field", "campaign")]));
        assert!(refused.is_none());
        let (kept, refused) = canonical(pairs(&[("q.campaign", "a"), ("q.phone", "1"), ("state", "QUEUED")]));
        assert!(refused.is_some(), "one column at a time");
        assert_eq!(kept, pairs(&[("state", "QUEUED")]), "the rest of the query stays");
        assert!(canonical(pairs(&[("q.campaign", "a"), ("q", "b")])).1.is_some());
    }

    #[test]
    fn a_timezone_stays_only_with_a_range() {
        let (bare, _) = canonical(pairs(&[("timezone", "Europe/London"), ("phone", "1")]));
        assert_eq!(bare, pairs(&[("phone", "1")]));
        let (ranged, _) = canonical(pairs(&[("from", "2026-03-02T00:00"), ("timezone", "Europe/London")]));
        assert_eq!(ranged.len(), 2);
    }

    #[test]
    fn sorting_toggles_from_ascending_to_descending() {
        assert_eq!(current_sort(&[]), ("desired_time", false));
        assert_eq!(current_sort(&pairs(&[("sort", "-phone")])), ("phone", true));
        let asc = heading(&pairs(&[("sort", "phone")]), Column::Phone).into_string();
        assert!(asc.contains(r#"aria-sort="ascending""#) && asc.contains("sort=-phone"), "{asc}");
        let other = heading(&pairs(&[("sort", "phone")]), Column::State).into_string();
        assert!(!other.contains("aria-sort") && other.contains("sort=state"), "{other}");
        assert!(!heading(&[], Column::Agent).into_string().contains("<a"), "agents do not sort");
    }
}
