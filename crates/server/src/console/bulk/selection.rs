//! What a bulk page acts on — the selected ids, or all in the current time range (the list's
//! filters) — read from its query string or posted form, and the pieces the bulk pages share: the
//! selected callbacks as the caller may see them, their table, and the way back to the list.

use std::borrow::Cow;
use std::sync::Arc;

use axum::http::HeaderMap;
use axum::response::Response;
use jiff::tz::TimeZone;
use maud::{Markup, html};
use rebound_domain::access::Principal;
use rebound_domain::model::{Callback, CallbackId};
use rebound_domain::state::CallbackState;

use crate::AppState;
use crate::error::{ApiError, ApiResult};
use crate::service::ConfigSnapshot;
use crate::service::callbacks::FILTER_PARAMS;
use crate::service::scope;

use super::super::forms::{self, form_error, wants_fragment};
use super::super::session::SignedIn;
use super::super::time::{local, user_timezone};
use super::CANCEL_PATH;

/// The most callbacks one selection names: a page of the list.
pub const MAX_SELECTED: usize = 250;

/// Where the list is.
const LIST_PATH: &str = "/callbacks";

/// What a bulk action applies to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// The selected callbacks, each once, in the order given.
    Ids(Vec<CallbackId>),
    /// Every callback the list's filters match (they include `from` and `to`).
    Range,
}

/// A bulk page's selection and the list view it came from.
#[derive(Debug, Clone)]
pub struct Selection {
    pub target: Target,
    /// The list's view: its filters ([`FILTER_PARAMS`]), sort and page, in order.
    pub view: Vec<(String, String)>,
}

/// `pairs` as a query string (no `?`).
pub fn pairs_query(pairs: &[(String, String)]) -> String {
    form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs).finish()
}

/// The list showing `view`.
pub fn list_href(view: &[(String, String)]) -> String {
    if view.is_empty() { LIST_PATH.to_string() } else { format!("{LIST_PATH}?{}", pairs_query(view)) }
}

impl Selection {
    /// The view part of a list's query pairs: its filters, sort and page (non-empty ones).
    pub fn view_of(pairs: &[(String, String)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .filter(|(name, value)| {
                !value.trim().is_empty() && (FILTER_PARAMS.contains(&name.as_str()) || name == "sort" || name == "page")
            })
            .cloned()
            .collect()
    }

    /// Whether a view has a time range (both bounds): "all in the current time range" needs one.
    pub fn has_range(view: &[(String, String)]) -> bool {
        ["from", "to"].iter().all(|bound| view.iter().any(|(name, _)| name == bound))
    }

    /// The confirmation of cancelling everything in a view's range.
    pub fn range_href(view: &[(String, String)]) -> String {
        let mut pairs = vec![("range".to_string(), "1".to_string())];
        pairs.extend_from_slice(view);
        format!("{CANCEL_PATH}?{}", pairs_query(&pairs))
    }

    /// Reads a selection: `range=1` with the view's filters, or `ids` (each a callback id, at most
    /// [`MAX_SELECTED`]); other fields (the CSRF token, a reason) are not its business.
    pub fn read(pairs: &[(String, String)]) -> ApiResult<Selection> {
        let view = Selection::view_of(pairs);
        let filled = |key: &'static str| {
            pairs.iter().filter(move |(name, value)| name == key && !value.trim().is_empty()).map(|(_, v)| v.trim())
        };
        let ids: Vec<&str> = filled("ids").collect();
        let target = if filled("range").next().is_some() {
            if !ids.is_empty() {
                return Err(ApiError::invalid_field(
                    "ids",
                    "cancel either the selected callbacks or all in the time range, not both",
                ));
            }
            Target::Range
        } else {
            Target::Ids(parse_ids(&ids)?)
        };
        Ok(Selection { target, view })
    }

    /// The list's filters alone (what "all in the current time range" cancels).
    pub fn filters(&self) -> Vec<(String, String)> {
        self.view.iter().filter(|(name, _)| FILTER_PARAMS.contains(&name.as_str())).cloned().collect()
    }

    /// The list as it was.
    pub fn back(&self) -> String {
        list_href(&self.view)
    }

    /// Hidden fields carrying the selection (and its view) into a confirmation form.
    pub fn hidden_fields(&self) -> Markup {
        html! {
            @match &self.target {
                Target::Range => { input type="hidden" name="range" value="1"; }
                Target::Ids(ids) => {
                    @for id in ids {
                        input type="hidden" name="ids" value=(id);
                    }
                }
            }
            @for (name, value) in &self.view {
                input type="hidden" name=(name) value=(value);
            }
        }
    }
}

fn parse_ids(texts: &[&str]) -> ApiResult<Vec<CallbackId>> {
    if texts.is_empty() {
        return Err(ApiError::invalid_field("ids", "select at least one callback"));
    }
    let mut ids: Vec<CallbackId> = Vec::with_capacity(texts.len());
    for text in texts {
        let id = CallbackId::parse(text)
            .ok_or_else(|| ApiError::invalid_field("ids", format!("'{text}' is not a callback id")))?;
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    if ids.len() > MAX_SELECTED {
        return Err(ApiError::invalid_field(
            "ids",
            format!("select at most {MAX_SELECTED} callbacks (a page); for more, cancel all in the current time range"),
        ));
    }
    Ok(ids)
}

/// The selected callbacks as `principal` may see them: `None` for an id that names no callback or
/// one outside the caller's scope (the two read the same, as in the API).
pub async fn lookup(
    state: &AppState,
    principal: &Principal,
    ids: &[CallbackId],
) -> ApiResult<Vec<(CallbackId, Option<Callback>)>> {
    let found = state.store.get_callbacks(ids.to_vec()).await?;
    Ok(ids
        .iter()
        .copied()
        .zip(found)
        .map(|(id, callback)| (id, callback.filter(|c| scope::check_callback_visible(principal, c).is_ok())))
        .collect())
}

/// Why a bulk cancel leaves a callback in `state` alone (the store's words in the report).
pub fn exclusion(state: CallbackState) -> Cow<'static, str> {
    match state {
        CallbackState::Processing => Cow::Borrowed("in PROCESSING: an agent is handling it"),
        CallbackState::Completed => Cow::Borrowed("already COMPLETED"),
        other => Cow::Owned(format!("cannot be cancelled in {other}")),
    }
}

/// What the bulk pages show callbacks with: the user's timezone and the configuration's names.
pub struct Shown {
    pub tz: TimeZone,
    config: Arc<ConfigSnapshot>,
}

impl Shown {
    pub async fn load(state: &AppState, user: &SignedIn) -> ApiResult<Shown> {
        let config = state.config_cache.snapshot(state.store.as_ref()).await?;
        Ok(Shown { tz: user_timezone(&user.session.user.timezone), config })
    }

    pub fn campaign(&self, callback: &Callback) -> String {
        self.config
            .campaigns
            .get(&callback.campaign_id)
            .map_or_else(|| callback.campaign_id.to_string(), |c| c.name.clone())
    }

    pub fn queue(&self, callback: &Callback) -> String {
        callback.queue_id.and_then(|id| self.config.queues.get(&id)).map(|q| q.name.clone()).unwrap_or_default()
    }

    /// A name for a configuration id in a filter (`campaign_id`, `queue_id`, `agent_id`).
    pub fn filter_value(&self, name: &str, value: &str) -> String {
        let id = value.parse::<i64>().ok();
        let named = match name {
            "campaign_id" => id.and_then(|id| self.config.campaigns.get(&id)).map(|c| c.name.clone()),
            "queue_id" => id.and_then(|id| self.config.queues.get(&id)).map(|q| q.name.clone()),
            "agent_id" => id.and_then(|id| self.config.agents.get(&id)).map(|a| a.name.clone()),
            _ => None,
        };
        named.unwrap_or_else(|| value.to_string())
    }
}

/// One line of a bulk page's table: a callback (or an id the caller cannot see) and a note.
pub struct Line<'a> {
    pub id: CallbackId,
    pub callback: Option<&'a Callback>,
    pub note: Option<Cow<'a, str>>,
}

/// A table of callbacks, `id`'d for tests and scripts; `note` names the last column when there is one.
pub fn lines_table(id: &str, caption: &str, lines: &[Line<'_>], shown: &Shown, note: Option<&str>) -> Markup {
    html! {
        div.bulk-table {
            table.bulk-rows id=(id) {
                caption { (caption) }
                thead {
                    tr {
                        th scope="col" { "Phone" }
                        th scope="col" { "State" }
                        th scope="col" { "Desired time" }
                        th scope="col" { "Campaign" }
                        th scope="col" { "Queue" }
                        @if let Some(note) = note { th.note scope="col" { (note) } }
                    }
                }
                tbody {
                    @for line in lines {
                        tr data-id=(line.id) {
                            @match line.callback {
                                Some(c) => {
                                    td { (c.phone) }
                                    td {
                                        span.state { (c.state.as_str()) }
                                        @if let Some(result) = c.result { " " span.result { (result.as_str()) } }
                                    }
                                    td { (local(c.desired_time, &shown.tz)) }
                                    td { (shown.campaign(c)) }
                                    td { (shown.queue(c)) }
                                }
                                None => {
                                    td colspan="5" { code { (line.id) } }
                                }
                            }
                            @if note.is_some() { td.note { (line.note.as_deref().unwrap_or("")) } }
                        }
                    }
                }
            }
        }
    }
}

/// "… and N more" under a table that shows only the first lines.
pub fn more(shown: usize, total: u64, what: &str) -> Markup {
    let rest = total.saturating_sub(shown as u64);
    html! {
        @if rest > 0 {
            p.more { "… and " (rest) " more " (what) "." }
        }
    }
}

/// The way out of a bulk page: a button closing the dialog, or a link back to the list.
pub fn leave(headers: &HeaderMap, back: &str, label: &str) -> Markup {
    html! {
        @if wants_fragment(headers) {
            button.secondary type="button" data-close { (label) }
        } @else {
            a.button.secondary href=(back) { (label) }
        }
    }
}

/// A bulk page that cannot be shown (or a change refused): the refusal, with its status, and the
/// way back. A server fault is logged once here; its message says only that it was.
pub fn refusal(user: &SignedIn, headers: &HeaderMap, title: &str, error: &ApiError, back: &str) -> Response {
    if let ApiError::Internal(detail) = error {
        tracing::error!(error.cause = %detail, "console bulk page failed");
    }
    let content = html! {
        (form_error(Some(error)))
        div.actions { (leave(headers, back, "Back to the callbacks")) }
    };
    forms::show(user, headers, error.status(), title, content)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    const A: &str = "0190a0e4-0000-7000-8000-000000000001";
    const B: &str = "0190a0e4-0000-7000-8000-000000000002";

    #[test]
    fn a_selection_reads_ids_once_each_and_keeps_the_view() {
        let read = Selection::read(&pairs(&[
            ("csrf_token", "x"),
            ("ids", A),
            ("ids", B),
            ("ids", A),
            ("from", "2026-03-02T00:00:00Z"),
            ("page", "2"),
            ("phone", ""),
        ]))
        .unwrap();
        let ids: Vec<String> = match &read.target {
            Target::Ids(ids) => ids.iter().map(ToString::to_string).collect(),
            Target::Range => panic!("ids were given"),
        };
        assert_eq!(ids, [A, B]);
        assert_eq!(read.view, pairs(&[("from", "2026-03-02T00:00:00Z"), ("page", "2")]));
        assert_eq!(read.filters(), pairs(&[("from", "2026-03-02T00:00:00Z")]));
        assert_eq!(read.back(), "/callbacks?from=2026-03-02T00%3A00%3A00Z&page=2");
    }

    #[test]
    fn a_selection_is_ids_or_the_range_and_never_empty_or_junk() {
        let range = Selection::read(&pairs(&[("range", "1"), ("from", "a"), ("to", "b")])).unwrap();
        assert_eq!(range.target, Target::Range);
        assert!(Selection::has_range(&range.view));
        assert!(!Selection::has_range(&pairs(&[("from", "a")])));
        for refused in [pairs(&[]), pairs(&[("ids", "nope")]), pairs(&[("range", "1"), ("ids", A)])] {
            let error = Selection::read(&refused).unwrap_err();
            assert_eq!(error.status().as_u16(), 422, "{refused:?}");
        }
        let too_many: Vec<(String, String)> =
            (0..=MAX_SELECTED).map(|i| ("ids".to_string(), format!("0190a0e4-0000-7000-8000-{i:012}"))).collect();
        assert!(Selection::read(&too_many).is_err());
        assert!(Selection::read(&too_many[1..]).is_ok());
    }

    #[test]
    fn the_range_link_carries_the_view() {
        let view = pairs(&[("from", "2026-03-02T00:00:00Z"), ("to", "2026-03-03T00:00:00Z"), ("state", "QUEUED")]);
        assert_eq!(
            Selection::range_href(&view),
            "/callbacks/bulk-cancel?range=1&from=2026-03-02T00%3A00%3A00Z&to=2026-03-03T00%3A00%3A00Z&state=QUEUED"
        );
    }
}
