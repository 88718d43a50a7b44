//! `/callbacks/bulk-cancel`: the confirmation of a bulk cancel (`GET`) and the cancel itself
//! (`POST`), through `service::bulk::bulk_cancel` with the signed-in user's principal — the API's
//! rules, scope and Cancellation Summary Report, not a copy of them.
//!
//! The confirmation says what will be cancelled and what is excluded, and why. Selected rows (a
//! page at most) are read one by one; a range stays cheap however large it is: one count per state
//! (the list service with the list's own filters) and only the first rows listed. It is a forecast:
//! the cancel decides again, callback by callback, inside the store's transactions (one an agent
//! took meanwhile is skipped then, and reported), and the result shows what it did.

use std::collections::{BTreeMap, HashMap, HashSet};

use axum::extract::{RawQuery, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use maud::{Markup, html};
use rebound_domain::access::Permission;
use rebound_domain::model::{Callback, CallbackId};
use rebound_domain::state::CallbackState;
use serde_json::{Map, Value};

use crate::AppState;
use crate::dto::{BulkCancelBody, BulkCancelResult, CallbackView, Paged};
use crate::error::{ApiError, ApiResult};
use crate::extract::Params;
use crate::hardening::limits::MAX_REASON_LEN;
use crate::service::bulk::bulk_cancel;
use crate::service::callbacks::{FilterQuery, ListQuery, list};

use super::super::forms::{self, Posted, csrf_field};
use super::super::session::SignedIn;
use super::super::time::local;
use super::selection::{
    Line, Selection, Shown, Target, exclusion, leave, lines_table, list_href, lookup, more, refusal,
};
use super::{CANCEL_PATH, REPORT_PATH};

const TITLE_IDS: &str = "Cancel selected callbacks";
const TITLE_RANGE: &str = "Cancel all in the current time range";
const TITLE_DONE: &str = "Bulk cancel done";

/// Rows of a range listed per cancellable state (the first by desired time).
const RANGE_SAMPLE: u32 = 20;
/// Rows of a range listed per excluded state that is still active (PROCESSING: worth seeing).
const ACTIVE_EXCLUDED_SHOWN: u32 = 50;
/// Skipped callbacks the result lists (the report has them all).
const SKIPPED_SHOWN: usize = 50;

fn title(target: &Target) -> &'static str {
    match target {
        Target::Ids(_) => TITLE_IDS,
        Target::Range => TITLE_RANGE,
    }
}

/// "1 callback", "3 callbacks".
fn callbacks(n: u64) -> String {
    if n == 1 { "1 callback".to_string() } else { format!("{n} callbacks") }
}

/// `GET /callbacks/bulk-cancel?ids=…` or `?range=1&…filters`: what a bulk cancel would do.
pub async fn preview(
    State(state): State<AppState>,
    user: SignedIn,
    headers: HeaderMap,
    checked: Result<Params, ApiError>,
    RawQuery(raw): RawQuery,
) -> Response {
    let pairs: Vec<(String, String)> =
        form_urlencoded::parse(raw.unwrap_or_default().as_bytes()).into_owned().collect();
    let fallback = if pairs.iter().any(|(name, _)| name == "range") { TITLE_RANGE } else { TITLE_IDS };
    let back = list_href(&Selection::view_of(&pairs));
    if let Err(e) = checked {
        return refusal(&user, &headers, fallback, &e, &back);
    }
    if !user.principal.may(Permission::BulkCancel) {
        return refusal(&user, &headers, fallback, &ApiError::forbidden(), &back);
    }
    let selection = match Selection::read(&pairs) {
        Ok(selection) => selection,
        Err(e) => return refusal(&user, &headers, fallback, &e, &back),
    };
    let content = match Shown::load(&state, &user).await {
        Err(e) => Err(e),
        Ok(shown) => match &selection.target {
            Target::Ids(ids) => ids_preview(&state, &user, &headers, &selection, ids, &shown).await,
            Target::Range => range_preview(&state, &user, &headers, &selection, &shown).await,
        },
    };
    match content {
        Ok(content) => forms::show(&user, &headers, StatusCode::OK, title(&selection.target), content),
        Err(e) => refusal(&user, &headers, title(&selection.target), &e, &back),
    }
}

/// Selected rows: each one listed, included or excluded with the reason.
async fn ids_preview(
    state: &AppState,
    user: &SignedIn,
    headers: &HeaderMap,
    selection: &Selection,
    ids: &[CallbackId],
    shown: &Shown,
) -> ApiResult<Markup> {
    let found = lookup(state, &user.principal, ids).await?;
    let (mut included, mut excluded) = (Vec::new(), Vec::new());
    for (id, callback) in &found {
        match callback {
            Some(c) if c.state.is_cancellable() => included.push(Line { id: *id, callback: Some(c), note: None }),
            Some(c) => excluded.push(Line { id: *id, callback: Some(c), note: Some(exclusion(c.state)) }),
            None => excluded.push(Line { id: *id, callback: None, note: Some("not found".into()) }),
        }
    }
    let will_cancel = included.len() as u64;
    Ok(html! {
        (summary(will_cancel, excluded.len() as u64))
        @if !excluded.is_empty() {
            (lines_table("bulk-excluded", "Excluded: these stay as they are", &excluded, shown, Some("Why")))
        }
        @if !included.is_empty() {
            (lines_table("bulk-included", "To be cancelled", &included, shown, None))
        }
        @if Selection::has_range(&selection.view) {
            p {
                a #switch-to-range href=(Selection::range_href(&selection.view)) data-dialog {
                    "Cancel all in the current time range instead"
                }
            }
        }
        (confirm_form(user, headers, selection, will_cancel))
    })
}

/// One state of a range: how many, and the first few.
struct StateCount {
    state: CallbackState,
    found: Paged<CallbackView>,
}

/// A range: a count per state and the first rows, never the whole range.
async fn range_preview(
    state: &AppState,
    user: &SignedIn,
    headers: &HeaderMap,
    selection: &Selection,
    shown: &Shown,
) -> ApiResult<Markup> {
    let filters = selection.filters();
    let query = FilterQuery::parse(&Params::from_pairs(filters.clone()))?;
    let (Some(from), Some(to)) = (query.filter.from, query.filter.to) else {
        return Err(ApiError::invalid_field("from", "choose a time range (a preset, or from and to) first"));
    };
    let mut counts = Vec::new();
    for s in
        CallbackState::ALL.into_iter().filter(|s| query.filter.states.is_empty() || query.filter.states.contains(s))
    {
        let sample = if s.is_cancellable() {
            RANGE_SAMPLE
        } else if s.is_active() {
            ACTIVE_EXCLUDED_SHOWN
        } else {
            1
        };
        let mut pairs: Vec<(String, String)> = filters.iter().filter(|(name, _)| name != "state").cloned().collect();
        pairs.extend([
            ("state".to_string(), s.as_str().to_string()),
            ("page_size".to_string(), sample.to_string()),
            ("sort".to_string(), "desired_time".to_string()),
        ]);
        let found = list(state, &user.principal, ListQuery::parse(&Params::from_pairs(pairs))?).await?;
        counts.push(StateCount { state: s, found });
    }

    let will_cancel: u64 = counts.iter().filter(|c| c.state.is_cancellable()).map(|c| c.found.total).sum();
    let excluded: u64 = counts.iter().filter(|c| !c.state.is_cancellable()).map(|c| c.found.total).sum();
    let mut first: Vec<&Callback> = counts
        .iter()
        .filter(|c| c.state.is_cancellable())
        .flat_map(|c| c.found.items.iter().map(|v| &v.callback))
        .collect();
    first.sort_by_key(|c| (c.desired_time, c.id));
    first.truncate(RANGE_SAMPLE as usize);
    let included: Vec<Line<'_>> = first.iter().map(|c| Line { id: c.id, callback: Some(c), note: None }).collect();
    let busy: Vec<&StateCount> =
        counts.iter().filter(|c| !c.state.is_cancellable() && c.state.is_active() && c.found.total > 0).collect();

    Ok(html! {
        p #bulk-range {
            "Desired time from " strong { (local(from, &shown.tz)) } " to " strong { (local(to, &shown.tz)) }
            " (" (user.session.user.timezone) ")"
            (filter_summary(&filters, shown))
        }
        (counts_table(&counts))
        (summary(will_cancel, excluded))
        @for count in &busy {
            @let lines: Vec<Line<'_>> = count.found.items.iter()
                .map(|v| Line { id: v.callback.id, callback: Some(&v.callback), note: Some(exclusion(count.state)) })
                .collect();
            (lines_table("bulk-excluded", "Excluded: an agent is handling these", &lines, shown, Some("Why")))
            (more(lines.len(), count.found.total, "excluded"))
        }
        @if !included.is_empty() {
            (lines_table("bulk-included", "First to be cancelled", &included, shown, None))
            (more(included.len(), will_cancel, "to be cancelled"))
        }
        (confirm_form(user, headers, selection, will_cancel))
    })
}

/// The range's other filters, named as the list names them.
fn filter_summary(filters: &[(String, String)], shown: &Shown) -> Markup {
    let others: Vec<String> = filters
        .iter()
        .filter(|(name, _)| !matches!(name.as_str(), "from" | "to" | "timezone"))
        .map(|(name, value)| format!("{} {}", filter_label(name), shown.filter_value(name, value)))
        .collect();
    html! {
        @if !others.is_empty() {
            br;
            "Only: " (others.join(", "))
        }
    }
}

fn filter_label(name: &str) -> &str {
    match name {
        "state" => "state",
        "campaign_id" => "campaign",
        "list_id" => "list",
        "queue_id" => "queue",
        "agent_id" => "agent",
        "type" => "type",
        "wrap_code" => "wrap code",
        "phone" => "phone",
        "q" => "matching",
        "q_field" => "in",
        "overdue" => "overdue",
        other => other,
    }
}

fn counts_table(counts: &[StateCount]) -> Markup {
    html! {
        div.bulk-table {
            table #bulk-counts .bulk-rows {
                caption { "Callbacks in the range, by state" }
                thead { tr { th scope="col" { "State" } th scope="col" { "Callbacks" } th scope="col" { "What happens" } } }
                tbody {
                    @if counts.iter().all(|c| c.found.total == 0) {
                        tr { td colspan="3" { "No callbacks in this range." } }
                    }
                    @for count in counts.iter().filter(|c| c.found.total > 0) {
                        tr data-state=(count.state.as_str()) {
                            td { span.state { (count.state.as_str()) } }
                            td.count { (count.found.total) }
                            td {
                                @if count.state.is_cancellable() { "Cancelled" }
                                @else { "Excluded: " (exclusion(count.state)) }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn summary(will_cancel: u64, excluded: u64) -> Markup {
    html! {
        p #bulk-summary .bulk-summary {
            strong #will-cancel { (will_cancel) } " will be cancelled; "
            strong #excluded-count { (excluded) } " excluded."
        }
    }
}

fn confirm_form(user: &SignedIn, headers: &HeaderMap, selection: &Selection, will_cancel: u64) -> Markup {
    html! {
        form #bulk-cancel-form method="post" action=(CANCEL_PATH) {
            (csrf_field(user))
            (selection.hidden_fields())
            label for="bulk-reason" { "Reason (optional, kept in the report)" }
            input #bulk-reason name="reason" type="text" maxlength=(MAX_REASON_LEN);
            div.check {
                input #bulk-by-customer name="by_customer" type="checkbox" value="true";
                label for="bulk-by-customer" { "The customer asked for it (CANCELLED_BY_CUSTOMER)" }
            }
            div.actions {
                (leave(headers, &selection.back(), "Keep them"))
                button #confirm-bulk-cancel .danger type="submit" disabled[will_cancel == 0] {
                    "Cancel " (callbacks(will_cancel))
                }
            }
        }
    }
}

/// `POST /callbacks/bulk-cancel`: the cancel, and what it did.
pub async fn confirm(State(state): State<AppState>, request: Request) -> Response {
    let Posted { user, form, headers } = match forms::posted(&state, request).await {
        Ok(posted) => posted,
        Err(refused) => return refused,
    };
    let selection = match Selection::read(form.pairs()) {
        Ok(selection) => selection,
        Err(e) => return refusal(&user, &headers, TITLE_IDS, &e, "/callbacks"),
    };
    let back = selection.back();
    if !user.principal.may(Permission::BulkCancel) {
        return refusal(&user, &headers, title(&selection.target), &ApiError::forbidden(), &back);
    }
    let body = BulkCancelBody {
        ids: match &selection.target {
            Target::Ids(ids) => Some(ids.iter().map(ToString::to_string).collect()),
            Target::Range => None,
        },
        all_in_range: (selection.target == Target::Range).then(|| range_object(&selection.filters())),
        reason: form.get("reason").map(str::to_string),
        by_customer: form.checked("by_customer"),
    };
    match bulk_cancel(&state, &user.principal, body).await {
        Ok(result) => {
            let content = result_content(&state, &user, &headers, &selection, &result).await;
            forms::show(&user, &headers, StatusCode::OK, TITLE_DONE, content)
        }
        Err(e) => refusal(&user, &headers, title(&selection.target), &e, &back),
    }
}

/// The list's filters as the API's `all_in_range` object: a repeated filter becomes an array.
fn range_object(filters: &[(String, String)]) -> Map<String, Value> {
    let mut object = Map::new();
    for (name, value) in filters {
        let value = Value::String(value.clone());
        match object.get_mut(name) {
            None => {
                object.insert(name.clone(), value);
            }
            Some(Value::Array(values)) => values.push(value),
            Some(first) => *first = Value::Array(vec![first.take(), value]),
        }
    }
    object
}

/// What the cancel did: counts, the reasons for skipping, the callbacks (the cancelled ones of a
/// selection, the first skipped ones) and the report.
async fn result_content(
    state: &AppState,
    user: &SignedIn,
    headers: &HeaderMap,
    selection: &Selection,
    result: &BulkCancelResult,
) -> Markup {
    let skipped: HashSet<CallbackId> = result.skipped.iter().map(|s| s.id).collect();
    let cancelled: Vec<CallbackId> = match &selection.target {
        Target::Ids(ids) => ids.iter().copied().filter(|id| !skipped.contains(id)).collect(),
        Target::Range => Vec::new(),
    };
    let listed: Vec<CallbackId> = result
        .skipped
        .iter()
        .filter(|s| s.state.is_some())
        .take(SKIPPED_SHOWN)
        .map(|s| s.id)
        .chain(cancelled.iter().copied())
        .collect();
    // Names and states are a courtesy: the cancel is done, so a failed read shows ids instead.
    let shown = Shown::load(state, user).await;
    let found: HashMap<CallbackId, Callback> = match lookup(state, &user.principal, &listed).await {
        Ok(found) => found.into_iter().filter_map(|(id, c)| c.map(|c| (id, c))).collect(),
        Err(e) => {
            tracing::warn!(error.cause = %e.to_object().message, "bulk cancel result: callbacks not read back");
            HashMap::new()
        }
    };
    let mut reasons: BTreeMap<&str, u64> = BTreeMap::new();
    for s in &result.skipped {
        *reasons.entry(s.reason.as_str()).or_default() += 1;
    }
    let skipped_lines: Vec<Line<'_>> = result
        .skipped
        .iter()
        .take(SKIPPED_SHOWN)
        .map(|s| Line { id: s.id, callback: found.get(&s.id), note: Some(s.reason.as_str().into()) })
        .collect();
    let cancelled_lines: Vec<Line<'_>> =
        cancelled.iter().map(|id| Line { id: *id, callback: found.get(id), note: None }).collect();
    let report = format!("{REPORT_PATH}/{}.csv", result.report_id);
    html! {
        div #bulk-result data-reload-on-close {
            p.bulk-summary {
                strong #cancelled-count { (result.cancelled) } " cancelled; "
                strong #skipped-count { (result.skipped.len()) } " skipped."
            }
            @if !reasons.is_empty() {
                ul #skipped-reasons {
                    @for (reason, count) in &reasons {
                        li { "Skipped, " (reason) ": " (count) }
                    }
                }
            }
            @if let Ok(shown) = &shown {
                @if !skipped_lines.is_empty() {
                    (lines_table("bulk-skipped", "Skipped", &skipped_lines, shown, Some("Why")))
                    (more(skipped_lines.len(), result.skipped.len() as u64, "skipped: see the report"))
                }
                @if !cancelled_lines.is_empty() {
                    (lines_table("bulk-cancelled", "Cancelled", &cancelled_lines, shown, None))
                }
            }
            p {
                a #download-report .button href=(report) download {
                    "Download the Cancellation Summary Report (CSV)"
                }
            }
            div.actions { (leave(headers, &selection.back(), "Close")) }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_filters_become_arrays_in_the_range_object() {
        let filters: Vec<(String, String)> =
            [("from", "a"), ("state", "QUEUED"), ("state", "SCHEDULED"), ("state", "ROUTING"), ("to", "b")]
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
        let object = Value::Object(range_object(&filters));
        assert_eq!(object, serde_json::json!({"from": "a", "to": "b", "state": ["QUEUED", "SCHEDULED", "ROUTING"]}));
    }

    #[test]
    fn counts_read_as_words() {
        assert_eq!(
            (callbacks(1).as_str(), callbacks(0).as_str(), callbacks(12).as_str()),
            ("1 callback", "0 callbacks", "12 callbacks")
        );
    }
}
