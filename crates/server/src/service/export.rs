//! The CSV files: the callback export (`GET /callbacks.csv`) and the Cancellation Summary Report
//! (`GET /reports/cancellations/{report_id}.csv`).
//!
//! The export is a stream: it reads [`EXPORT_PAGE`] callbacks at a time with
//! `Store::export_callbacks`, keyset-paged on (desired time, id), and turns each page into one chunk
//! of the response body before reading the next — so memory stays flat however many millions of
//! rows match, and a slow client slows the reads instead of filling a buffer. The filters are the
//! list's (the same parsing), resolved once before the first byte, so the export is the list at
//! one instant. Configuration names (campaign, list, queue, agent) are read once per export. A
//! scoped caller's export is narrowed like the list; a scope of campaigns *and* queues reads two
//! disjoint filters side by side and merges them in (desired time, id) order, still a page at a
//! time.
//!
//! Instants are UTC RFC 3339 exactly as the JSON API writes them; `desired_time_local` is the
//! desired time in the campaign's timezone, RFC 3339 with its offset. Cells follow
//! [`crate::csv`] (quoting, formula neutralising of free text).

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use axum::body::Bytes;
use futures::Stream;
use jiff::Timestamp;
use jiff::tz::TimeZone;
use rebound_domain::access::Principal;
use rebound_domain::model::*;
use rebound_store::{CallbackFilter, CancellationReport, ExportCursor, SortField};

use crate::AppState;
use crate::csv::{Row, header};
use crate::error::{ApiError, ApiResult};
use crate::extract::Params;
use crate::service::callbacks::{FILTER_PARAMS, FilterQuery, parse_sort};
use crate::service::scope;

/// Callbacks read (and written) per chunk.
pub const EXPORT_PAGE: u32 = 5_000;

/// The export's columns, in order.
pub const EXPORT_COLUMNS: [&str; 20] = [
    "id",
    "type",
    "origin",
    "state",
    "result",
    "phone",
    "campaign",
    "list",
    "queue",
    "agent",
    "lead_id",
    "wrap_code",
    "desired_time",
    "desired_time_local",
    "earliest_time",
    "attempts",
    "priority",
    "notes",
    "created_by",
    "created_at",
];

/// The Cancellation Summary Report's columns, in order.
pub const REPORT_COLUMNS: [&str; 10] =
    ["id", "phone", "campaign", "queue", "desired_time", "state_before", "outcome", "reason", "by", "at"];

/// RFC 3339 with the offset of `tz` (fractional seconds only when there are any, as in UTC cells).
fn local_rfc3339(t: Timestamp, tz: &TimeZone) -> String {
    t.to_zoned(tz.clone()).strftime("%Y-%m-%dT%H:%M:%S%.f%:z").to_string()
}

/// Configuration names (and campaign timezones) by id, read once per export.
struct Names {
    campaigns: HashMap<CampaignId, (String, TimeZone)>,
    lists: HashMap<ListId, String>,
    queues: HashMap<QueueId, String>,
    agents: HashMap<AgentId, String>,
}

impl Names {
    async fn load(state: &AppState) -> ApiResult<Names> {
        let store = state.store.as_ref();
        let campaigns = store
            .list_campaigns()
            .await?
            .into_iter()
            // Campaign timezones were validated when saved; UTC is only a guard.
            .map(|c| (c.id, (c.name, TimeZone::get(&c.timezone).unwrap_or(TimeZone::UTC))))
            .collect();
        Ok(Names {
            campaigns,
            lists: store.list_lists().await?.into_iter().map(|l| (l.id, l.name)).collect(),
            queues: store.list_queues().await?.into_iter().map(|q| (q.id, q.name)).collect(),
            agents: store.list_agents().await?.into_iter().map(|a| (a.id, a.name)).collect(),
        })
    }

    /// A name, or the id when the object is gone.
    fn of(map: &HashMap<i64, String>, id: Option<i64>) -> Option<String> {
        id.map(|id| map.get(&id).cloned().unwrap_or_else(|| id.to_string()))
    }

    fn write(&self, out: &mut String, c: &Callback) {
        let (campaign, tz) = match self.campaigns.get(&c.campaign_id) {
            Some((name, tz)) => (name.clone(), tz.clone()),
            None => (c.campaign_id.to_string(), TimeZone::UTC),
        };
        Row::start(out)
            .value(&c.id.to_string())
            .value(c.kind.as_str())
            .value(c.origin.as_str())
            .value(c.state.as_str())
            .opt_value(c.result.map(|r| r.as_str()))
            .value(&c.phone)
            .text(&campaign)
            .opt_text(Self::of(&self.lists, c.list_id).as_deref())
            .opt_text(Self::of(&self.queues, c.queue_id).as_deref())
            .opt_text(Self::of(&self.agents, c.agent_id).as_deref())
            .opt_value(c.lead_id.map(|id| id.to_string()).as_deref())
            .opt_text(c.wrap_code.as_deref())
            .value(&c.desired_time.to_string())
            .value(&local_rfc3339(c.desired_time, &tz))
            .opt_value(c.earliest_time.map(|t| t.to_string()).as_deref())
            .value(&c.attempts.to_string())
            .value(&c.priority.to_string())
            .opt_text(c.notes.as_deref())
            .text(&c.created_by)
            .value(&c.created_at.to_string())
            .end();
    }
}

/// One store filter of the export (a scope of campaigns *and* queues reads two, see
/// `service::scope::narrow`), read a page at a time.
struct Part {
    filter: CallbackFilter,
    after: Option<ExportCursor>,
    buffer: VecDeque<Callback>,
    done: bool,
}

/// Where the export stream is.
struct Cursor {
    state: AppState,
    parts: Vec<Part>,
    descending: bool,
    names: Arc<Names>,
    header_sent: bool,
    done: bool,
}

impl Cursor {
    /// Reads the next page of every part whose buffer ran dry (and that has more).
    async fn refill(&mut self) -> Result<(), rebound_store::StoreError> {
        for part in &mut self.parts {
            if part.buffer.is_empty() && !part.done {
                let page =
                    self.state.store.export_callbacks(&part.filter, self.descending, part.after, EXPORT_PAGE).await?;
                match page.last() {
                    Some(last) if page.len() >= EXPORT_PAGE as usize => part.after = Some((last.desired_time, last.id)),
                    _ => part.done = true,
                }
                part.buffer.extend(page);
            }
        }
        Ok(())
    }

    /// The next callback in export order across the parts (`None`: a part must be refilled first,
    /// or everything was read).
    fn pop_next(&mut self) -> Option<Callback> {
        if self.parts.iter().any(|p| p.buffer.is_empty() && !p.done) {
            return None;
        }
        let descending = self.descending;
        let key = |c: &Callback| (c.desired_time, c.id);
        let best = self
            .parts
            .iter()
            .enumerate()
            .filter_map(|(i, p)| p.buffer.front().map(|c| (i, key(c))))
            .reduce(|a, b| if (b.1 < a.1) != descending && b.1 != a.1 { b } else { a })?;
        self.parts[best.0].buffer.pop_front()
    }

    fn exhausted(&self) -> bool {
        self.parts.iter().all(|p| p.done && p.buffer.is_empty())
    }
}

/// An export chunk that could not be produced: the store failed mid-stream (logged; the response
/// is cut short, so the client sees an incomplete body rather than a silently short file).
pub type ExportError = std::io::Error;

/// `GET /callbacks.csv`: validates the filters, narrows them to the caller's scope and reads the
/// first page, then answers the stream of CSV chunks (the header first).
pub async fn export(
    state: &AppState,
    principal: &Principal,
    params: &Params,
) -> ApiResult<impl Stream<Item = Result<Bytes, ExportError>> + Send + 'static> {
    let allowed: Vec<&str> = FILTER_PARAMS.iter().copied().chain(["sort"]).collect();
    params.only(&allowed)?;
    let query = FilterQuery::parse(params)?;
    let sort = parse_sort(params)?;
    if sort.field != SortField::DesiredTime {
        return Err(ApiError::invalid_field("sort", "an export is sorted by desired_time or -desired_time"));
    }
    let now = state.clock.now();
    let filter = query.resolve(state, now).await?;
    let snapshot = state.config_cache.snapshot(state.store.as_ref()).await?;
    let parts = scope::narrow(principal, filter, &snapshot)
        .into_iter()
        .map(|filter| Part { filter, after: None, buffer: VecDeque::new(), done: false })
        .collect();
    let names = Arc::new(Names::load(state).await?);
    let mut cursor =
        Cursor { state: state.clone(), parts, descending: sort.descending, names, header_sent: false, done: false };
    cursor.refill().await?;
    Ok(futures::stream::unfold(cursor, next_chunk))
}

/// The next chunk of the export: up to one page of rows (the first also carries the header).
async fn next_chunk(mut cursor: Cursor) -> Option<(Result<Bytes, ExportError>, Cursor)> {
    if cursor.done {
        return None;
    }
    let mut out = String::new();
    if !cursor.header_sent {
        header(&mut out, &EXPORT_COLUMNS);
        cursor.header_sent = true;
    }
    out.reserve(EXPORT_PAGE as usize * 320);
    let mut rows = 0;
    while rows < EXPORT_PAGE as usize {
        match cursor.pop_next() {
            Some(callback) => {
                cursor.names.write(&mut out, &callback);
                rows += 1;
            }
            None if cursor.exhausted() => {
                cursor.done = true;
                break;
            }
            None => {
                if let Err(e) = cursor.refill().await {
                    tracing::error!(error.cause = %e, "the export stopped: the store failed mid-stream");
                    cursor.done = true;
                    return Some((Err(std::io::Error::other("the export failed; it has been logged")), cursor));
                }
            }
        }
    }
    if out.is_empty() {
        return None;
    }
    // Rendering a page is CPU work; let other requests run between pages.
    tokio::task::yield_now().await;
    Some((Ok(Bytes::from(out)), cursor))
}

/// The kept report of a bulk cancel; `file` is `{report_id}.csv`. A scoped caller sees the lines
/// of callbacks in its scope, and the report only if it made it or a line is left.
pub async fn cancellation_report(state: &AppState, principal: &Principal, file: &str) -> ApiResult<CancellationReport> {
    let not_found = || ApiError::not_found("cancellation report");
    let id = file.strip_suffix(".csv").filter(|id| !id.is_empty() && id.len() <= 64).ok_or_else(not_found)?;
    let mut report = state.store.cancellation_report(id).await?.ok_or_else(not_found)?;
    if principal.scope.is_some() {
        report.rows.retain(|r| r.state_before.is_some() && principal.sees_callback(r.campaign_id, r.queue_id));
        if report.rows.is_empty() && report.actor != principal.actor {
            return Err(not_found());
        }
    }
    Ok(report)
}

/// Rows of the report written per chunk.
const REPORT_CHUNK: usize = 5_000;

/// The Cancellation Summary Report as CSV chunks (the header first).
pub fn report_csv(report: CancellationReport) -> impl Stream<Item = Result<Bytes, ExportError>> + Send + 'static {
    let mut head = String::new();
    header(&mut head, &REPORT_COLUMNS);
    let mut rows = report.rows.into_iter();
    let chunks = std::iter::once(head).chain(std::iter::from_fn(move || {
        let mut out = String::new();
        for row in rows.by_ref().take(REPORT_CHUNK) {
            // An id that named no callback has no time to show.
            let desired_time = row.state_before.map(|_| row.desired_time.to_string());
            Row::start(&mut out)
                .value(&row.callback_id.to_string())
                .value(&row.phone)
                .text(&row.campaign_name)
                .opt_text(row.queue_name.as_deref())
                .opt_value(desired_time.as_deref())
                .opt_value(row.state_before.map(|s| s.as_str()))
                .value(&row.outcome)
                .text(&row.reason)
                .text(&row.actor)
                .value(&row.at.to_string())
                .end();
        }
        (!out.is_empty()).then_some(out)
    }));
    futures::stream::iter(chunks.map(|chunk| Ok(Bytes::from(chunk))))
}
