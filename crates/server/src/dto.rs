//! The JSON shapes of the API that are not domain records: request bodies (strict:
//! `deny_unknown_fields`, contract defaults), list envelopes and derived views.
//!
//! Request bodies carry raw text where a value needs a domain rule to be read (phones, times,
//! hours): the service layer parses those, so a bad value is a 422 naming its rule rather than a
//! generic 400. Responses reuse the domain records (`rebound_domain::model`) as they are.
//!
//! Every request body here refuses unknown fields (`tests/hardening_api.rs` checks that each
//! documented request schema is closed). Text lengths and list sizes are not repeated on these
//! types: `hardening::limits` bounds them by field name for every body before it reaches a handler.

use jiff::Timestamp;
use rebound_domain::access::Role;
use rebound_domain::hours::{CallingHours, DateException, DiallingHours};
use rebound_domain::model::*;
use rebound_domain::slots::CapacityGrid;
use rebound_domain::time::Disambiguation;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;
use serde_json::value::RawValue;
use utoipa::{IntoParams, ToSchema};

use crate::error::ErrorObject;

/// For PATCH fields that may be set to `null`: absent → `None`, `null` → `Some(None)`.
fn nullable<'de, T: Deserialize<'de>, D: Deserializer<'de>>(d: D) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

fn yes() -> bool {
    true
}

fn outbound() -> Direction {
    Direction::Outbound
}

/// One page of a list: `{"items", "page", "page_size", "total"}`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Paged<T> {
    pub items: Vec<T>,
    pub page: u32,
    pub page_size: u32,
    pub total: u64,
}

/// The paging parameters every list accepts.
#[derive(Debug, Clone, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // documentation only: lists read their parameters with `Params`.
pub struct PageParams {
    /// 1-based page number (default 1).
    pub page: Option<u32>,
    /// Items per page (default 250, at most 1000).
    pub page_size: Option<u32>,
}

// ---- campaigns ---------------------------------------------------------------------------------

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CampaignCreate {
    pub name: String,
    /// Default `outbound`.
    #[serde(default = "outbound")]
    pub direction: Direction,
    /// IANA timezone, e.g. `Europe/London`.
    pub timezone: String,
    /// ISO 3166 region for national-format numbers, e.g. `GB`.
    pub region: String,
    #[serde(default = "yes")]
    pub running: bool,
    #[schema(value_type = DiallingHours)]
    pub dialling_hours: Value,
    #[serde(default)]
    #[schema(value_type = Option<Vec<DateException>>)]
    pub exceptions: Option<Value>,
    /// Default `["08:00","21:00"]`.
    #[serde(default)]
    #[schema(value_type = Option<CallingHours>)]
    pub lead_calling_hours: Option<Value>,
    #[serde(default)]
    pub allow_unassigned_agent_callbacks: bool,
    pub auto_callback_list_id: Option<ListId>,
    #[serde(default)]
    pub lists: Vec<ListId>,
    /// Default 120.
    pub window_secs: Option<u32>,
    /// Default 3.
    pub max_attempts: Option<u32>,
    /// Default `{"no_answer": 1800, "busy": 600, "voicemail": 3600}`.
    pub retry_delays_secs: Option<RetryDelays>,
    /// Default 90.
    pub horizon_days: Option<u32>,
    /// Default 30.
    pub agent_grace_minutes: Option<u32>,
}

/// Only the fields given change.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CampaignPatch {
    pub name: Option<String>,
    pub direction: Option<Direction>,
    pub timezone: Option<String>,
    pub region: Option<String>,
    pub running: Option<bool>,
    #[schema(value_type = Option<DiallingHours>)]
    pub dialling_hours: Option<Value>,
    #[schema(value_type = Option<Vec<DateException>>)]
    pub exceptions: Option<Value>,
    #[schema(value_type = Option<CallingHours>)]
    pub lead_calling_hours: Option<Value>,
    pub allow_unassigned_agent_callbacks: Option<bool>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<i64>)]
    pub auto_callback_list_id: Option<Option<ListId>>,
    pub lists: Option<Vec<ListId>>,
    pub window_secs: Option<u32>,
    pub max_attempts: Option<u32>,
    pub retry_delays_secs: Option<RetryDelays>,
    pub horizon_days: Option<u32>,
    pub agent_grace_minutes: Option<u32>,
}

// ---- lists and leads ---------------------------------------------------------------------------

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ListCreate {
    pub name: String,
    /// The data field names leads of this list may carry.
    #[serde(default)]
    pub fields: Vec<String>,
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ListPatch {
    pub name: Option<String>,
    pub fields: Option<Vec<String>>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LeadCreate {
    pub list_id: ListId,
    /// One to three numbers in any format (national ones read with the region of a campaign that
    /// dials the list; E.164 otherwise).
    pub phones: Vec<String>,
    pub timezone: Option<String>,
    pub name: Option<String>,
    /// Values for the list's data fields.
    #[serde(default)]
    pub data: DataFields,
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LeadPatch {
    pub list_id: Option<ListId>,
    pub phones: Option<Vec<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub timezone: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub name: Option<Option<String>>,
    pub data: Option<DataFields>,
}

#[derive(Debug, Clone, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // documentation only.
pub struct LeadListParams {
    /// Only leads of this list.
    pub list_id: Option<ListId>,
    pub page: Option<u32>,
    pub page_size: Option<u32>,
}

// ---- queues, agents, wrap codes ----------------------------------------------------------------

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QueueCreate {
    pub name: String,
    /// An outbound campaign.
    pub campaign_id: CampaignId,
    /// One of 5, 10, 15, 20, 30, 60, 120 (default 15).
    pub slot_minutes: Option<u32>,
    /// Default 10.
    pub slot_capacity: Option<u32>,
    pub capacity_grid: Option<CapacityGrid>,
    /// Default `one`.
    pub duplicate_policy: Option<DuplicatePolicy>,
    #[serde(default)]
    pub paused: bool,
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QueuePatch {
    pub name: Option<String>,
    pub campaign_id: Option<CampaignId>,
    pub slot_minutes: Option<u32>,
    pub slot_capacity: Option<u32>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<CapacityGrid>)]
    pub capacity_grid: Option<Option<CapacityGrid>>,
    pub duplicate_policy: Option<DuplicatePolicy>,
    pub paused: Option<bool>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AgentCreate {
    pub name: String,
    pub username: String,
    /// IANA timezone.
    pub timezone: String,
    #[serde(default)]
    pub campaigns: Vec<CampaignId>,
    #[serde(default)]
    pub queues: Vec<QueueId>,
    #[serde(default)]
    pub can_view_callback_list: bool,
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AgentPatch {
    pub name: Option<String>,
    pub username: Option<String>,
    pub timezone: Option<String>,
    pub campaigns: Option<Vec<CampaignId>>,
    pub queues: Option<Vec<QueueId>>,
    pub can_view_callback_list: Option<bool>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WrapCodeCreate {
    pub campaign_id: CampaignId,
    /// The code agents give, e.g. `CB1H`.
    pub code: String,
    /// Default: the code.
    pub label: Option<String>,
    pub add_to_queue: Option<AddToQueue>,
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WrapCodePatch {
    pub campaign_id: Option<CampaignId>,
    pub code: Option<String>,
    pub label: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<AddToQueue>)]
    pub add_to_queue: Option<Option<AddToQueue>>,
}

// ---- tokens ------------------------------------------------------------------------------------

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenCreate {
    pub name: String,
    pub role: Role,
    /// The campaigns and queues the token may see and act on; absent or `null` = all. Admin tokens
    /// are never scoped.
    #[serde(default)]
    pub scope: Option<rebound_domain::access::Scope>,
    /// RFC 3339; absent = never expires.
    pub expires_at: Option<String>,
}

/// A new token. The secret `token` is shown only in this response.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TokenCreated {
    pub id: i64,
    pub name: String,
    pub role: Role,
    pub scope: Option<rebound_domain::access::Scope>,
    pub token: String,
    pub expires_at: Option<Timestamp>,
}

/// A token as listed (never with its secret).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TokenInfo {
    pub id: i64,
    pub name: String,
    pub role: Role,
    pub scope: Option<rebound_domain::access::Scope>,
    pub created_at: Timestamp,
    pub expires_at: Option<Timestamp>,
    pub revoked: bool,
    /// When a request last used it (recorded at most about once a minute).
    pub last_used_at: Option<Timestamp>,
}

// ---- callbacks ---------------------------------------------------------------------------------

/// A callback request (`POST /callbacks`, and each item of an import).
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CallbackCreate {
    #[serde(rename = "type")]
    pub kind: CallbackType,
    /// An outbound campaign.
    pub campaign_id: CampaignId,
    /// Queue callbacks: a queue of the campaign. Agent callbacks may name one to escalate to.
    pub queue_id: Option<QueueId>,
    /// Agent callbacks: the agent.
    pub agent_id: Option<AgentId>,
    /// Any format; national formats are read with the campaign's region.
    pub phone: String,
    pub lead_id: Option<LeadId>,
    pub list_id: Option<ListId>,
    /// RFC 3339 with an offset, or a naive local time with `timezone`. Absent = immediate.
    pub desired_time: Option<String>,
    /// IANA timezone the desired time is given in.
    pub timezone: Option<String>,
    /// How to resolve a local time in a DST gap or fold.
    pub disambiguation: Option<Disambiguation>,
    #[serde(default)]
    pub priority: i32,
    pub notes: Option<String>,
    #[serde(default)]
    pub data: DataFields,
}

/// A callback as the API shows it: every stored field plus derived ones.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CallbackView {
    #[serde(flatten)]
    pub callback: Callback,
    /// Still `SCHEDULED` after its earliest time plus the window.
    pub overdue: bool,
    /// `GET /callbacks/{id}` of a `QUEUED` callback: 1 = next in its queue (or for its agent); a
    /// `ROUTING` one is 0 (being offered now). `null` in other states and in lists.
    pub position_in_queue: Option<u64>,
    /// With `position_in_queue`: seconds until an agent is expected to take it, from recent handle
    /// times and the ready agents; `null` when no agent is ready, in other states and in lists.
    pub estimated_wait_secs: Option<u64>,
}

/// Filters of `GET /callbacks` (each id filter and `state` may repeat, or list values with commas).
#[derive(Debug, Clone, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // documentation only: the handler reads them with `Params`.
pub struct CallbackListParams {
    /// Desired time ≥ this instant (RFC 3339, or local with `timezone`).
    pub from: Option<String>,
    /// Desired time < this instant.
    pub to: Option<String>,
    /// IANA timezone for naive `from`/`to`.
    pub timezone: Option<String>,
    /// `SCHEDULED`, `QUEUED`, `ROUTING`, `PROCESSING`, `COMPLETED`.
    pub state: Option<Vec<String>>,
    pub campaign_id: Option<Vec<CampaignId>>,
    pub list_id: Option<Vec<ListId>>,
    pub queue_id: Option<Vec<QueueId>>,
    pub agent_id: Option<Vec<AgentId>>,
    /// `queue` or `agent`.
    #[serde(rename = "type")]
    #[param(rename = "type")]
    pub kind: Option<String>,
    pub wrap_code: Option<Vec<String>>,
    /// Any format; matches the callback's number and its lead's phones 1–3.
    pub phone: Option<String>,
    /// Case-insensitive substring search.
    pub q: Option<String>,
    /// Column `q` searches: any, id, phone, state, campaign, list, queue, agent, lead, wrap_code, notes.
    pub q_field: Option<String>,
    /// `true`: only overdue callbacks.
    pub overdue: Option<bool>,
    /// `desired_time`, `earliest_time`, `created_at`, `updated_at`, `state`, `phone`, `priority`;
    /// prefix `-` for descending.
    pub sort: Option<String>,
    pub page: Option<u32>,
    pub page_size: Option<u32>,
}

#[derive(Debug, Clone, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // documentation only.
pub struct SearchParams {
    /// A callback id, or a phone number in any format.
    pub q: String,
    /// At most this many results (default 100, at most 1000).
    pub limit: Option<u32>,
}

/// Search results, newest first.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SearchResults {
    pub items: Vec<CallbackView>,
}

#[derive(Debug, Clone, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // documentation only.
pub struct AvailabilityParams {
    /// Start of the range (RFC 3339, local time, or a date, read in `timezone`); default now.
    pub from: Option<String>,
    /// End of the range (exclusive); default one day after `from`; at most 31 days after it.
    pub to: Option<String>,
    /// IANA timezone for `local_start` and naive `from`/`to`; default the campaign's.
    pub timezone: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Availability {
    pub slot_minutes: u32,
    pub timezone: String,
    pub slots: Vec<SlotView>,
}

/// One capacity slot of a queue.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SlotView {
    /// UTC.
    pub start: Timestamp,
    /// The same instant in the requested timezone, RFC 3339 with offset.
    pub local_start: String,
    pub capacity: u32,
    pub booked: u32,
}

/// `POST /callbacks/import`: up to 10,000 create bodies. Each item is kept as its JSON text and
/// read as a [`CallbackCreate`] by the service, so one bad item is that item's error, not the
/// request's (see `extract::ImportBody` for how the body is read).
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ImportRequest {
    #[schema(value_type = Vec<CallbackCreate>)]
    pub items: Vec<Box<RawValue>>,
}

/// One import item as received: its JSON text, or — for a body read the slow way (see
/// `extract::ImportBody`) — its value.
#[derive(Debug, Clone)]
pub enum ImportItem {
    Text(Box<RawValue>),
    Value(Value),
}

impl ImportItem {
    /// Reads the item as a create request, answering as `serde_json::from_value` on the item's
    /// `Value` would.
    pub fn read(self) -> Result<CallbackCreate, serde_json::Error> {
        match self {
            // Every field of `CallbackCreate` is read (none is skipped), so text that reads as one
            // reads as a `Value` too, with the same fields. A failure is explained the way a
            // `Value` explains it: members in the map's order, a repeated member's last value
            // (read from text, a repeated field is an error of its own), no line and column.
            ImportItem::Text(text) => serde_json::from_str(text.get())
                .or_else(|_| serde_json::from_str::<Value>(text.get()).and_then(serde_json::from_value)),
            ImportItem::Value(value) => serde_json::from_value(value),
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ImportResult {
    /// How many new callbacks were stored (replays not counted).
    pub created: usize,
    /// One entry per request item, in order.
    pub items: Vec<ImportItemResult>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ImportItemResult {
    pub index: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<CallbackId>,
    /// True when an `Idempotency-Key` retry returned the earlier result.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub replayed: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorObject>,
}

/// `/healthz` and `/readyz`. `/readyz` also says which node this is and which node leads (runs
/// promotion, rescue and retention), so a load balancer's or operator's probe shows the leader.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Health {
    #[schema(example = "ok")]
    pub status: String,
    /// This process's name in the leader lease (`/readyz` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "node-a/5f2c9e1b")]
    pub node: Option<String>,
    /// Whether this node runs the singleton duties now (`/readyz` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub leading: Option<bool>,
    /// The leader the last claim reported; absent until the first claim is answered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub leader: Option<String>,
}

// ---- callback operations -----------------------------------------------------------------------

/// `PATCH /callbacks/{id}`: only the fields given change. `agent_id`, `queue_id` and `notes` may be
/// `null` (an agent callback's escalation queue, the notes). `data` replaces the data map whole.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CallbackPatch {
    /// `agent` or `queue`. Becoming a queue callback drops the agent.
    #[serde(rename = "type")]
    pub kind: Option<CallbackType>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<i64>)]
    pub agent_id: Option<Option<AgentId>>,
    /// Transfer: a queue of the (possibly new) campaign.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<i64>)]
    pub queue_id: Option<Option<QueueId>>,
    /// Move to another outbound campaign; refused with 409 `incompatible_fields` unless the data
    /// fields of the lists are identical.
    pub campaign_id: Option<CampaignId>,
    /// The list the callback belongs to after a move (default: the target campaign's list whose
    /// fields are identical to the current list's).
    pub list_id: Option<ListId>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub notes: Option<Option<String>>,
    pub data: Option<DataFields>,
}

/// Which timezone a naive local `desired_time` of a reschedule is read in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TimezoneSource {
    /// The lead's timezone (its own, else the one inferred from the number).
    Lead,
    /// The campaign's timezone.
    Campaign,
    /// The agent's timezone (agent callbacks only).
    Agent,
    /// The caller's own: the `timezone` field.
    Caller,
}

impl TimezoneSource {
    pub fn as_str(self) -> &'static str {
        match self {
            TimezoneSource::Lead => "lead",
            TimezoneSource::Campaign => "campaign",
            TimezoneSource::Agent => "agent",
            TimezoneSource::Caller => "caller",
        }
    }
}

/// `POST /callbacks/{id}/reschedule`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RescheduleRequest {
    /// RFC 3339 with an offset, or a naive local time read in the timezone `timezone_source` names.
    pub desired_time: String,
    /// IANA timezone of a naive `desired_time` (with `timezone_source` `caller`, the default).
    pub timezone: Option<String>,
    /// `lead`, `campaign`, `agent` or `caller` (default `caller`: the `timezone` field).
    pub timezone_source: Option<TimezoneSource>,
    /// How to resolve a local time in a DST gap or fold.
    pub disambiguation: Option<Disambiguation>,
}

/// `POST /callbacks/{id}/cancel` (the body is optional).
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CancelRequest {
    /// Why, for the history (at most 500 characters).
    pub reason: Option<String>,
    /// The customer asked: the result is `CANCELLED_BY_CUSTOMER` instead of `CANCELLED_BY_ADMIN`.
    #[serde(default)]
    pub by_customer: bool,
}

/// `POST /callbacks/{id}/recreate` (the body is optional; without a `desired_time` the new
/// callback is immediate).
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecreateRequest {
    /// RFC 3339 with an offset, or a naive local time with `timezone`. Absent = immediate.
    pub desired_time: Option<String>,
    pub timezone: Option<String>,
    pub disambiguation: Option<Disambiguation>,
    /// Replaces the original's notes.
    pub notes: Option<String>,
}

/// `POST /callbacks/bulk-cancel`: either `ids`, or `all_in_range` with `from`, `to` and any of the
/// list filters of `GET /callbacks` (`timezone`, `state`, `campaign_id`, `list_id`, `queue_id`,
/// `agent_id`, `type`, `wrap_code`, `phone`, `q`, `q_field`, `overdue`; repeatable ones as arrays).
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkCancelBody {
    /// Callback ids (at most 100,000).
    pub ids: Option<Vec<String>>,
    #[schema(value_type = Option<Object>)]
    pub all_in_range: Option<serde_json::Map<String, Value>>,
    pub reason: Option<String>,
    #[serde(default)]
    pub by_customer: bool,
}

/// What a bulk cancel did; the full Cancellation Summary Report is at
/// `GET /reports/cancellations/{report_id}.csv`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BulkCancelResult {
    pub report_id: String,
    pub cancelled: u64,
    pub skipped: Vec<SkippedView>,
}

/// A callback a bulk cancel left alone.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SkippedView {
    pub id: CallbackId,
    /// Its state; `null` when no callback has this id.
    pub state: Option<rebound_domain::state::CallbackState>,
    pub reason: String,
}

/// Filters of `GET /callbacks.csv`: those of `GET /callbacks` without paging; `sort` is
/// `desired_time` (default) or `-desired_time`.
#[derive(Debug, Clone, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // documentation only: the handler reads them with `Params`.
pub struct ExportParams {
    pub from: Option<String>,
    pub to: Option<String>,
    pub timezone: Option<String>,
    pub state: Option<Vec<String>>,
    pub campaign_id: Option<Vec<CampaignId>>,
    pub list_id: Option<Vec<ListId>>,
    pub queue_id: Option<Vec<QueueId>>,
    pub agent_id: Option<Vec<AgentId>>,
    #[serde(rename = "type")]
    #[param(rename = "type")]
    pub kind: Option<String>,
    pub wrap_code: Option<Vec<String>>,
    pub phone: Option<String>,
    pub q: Option<String>,
    pub q_field: Option<String>,
    pub overdue: Option<bool>,
    /// `desired_time` or `-desired_time`.
    pub sort: Option<String>,
}

// ---- agents, diallers, intake ------------------------------------------------------------------

/// `PUT /agents/{id}/presence`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PresenceRequest {
    /// `ready`, `not_ready` or `offline` (`busy` is set by Rebound while the agent handles a
    /// callback). Leaving `ready` withdraws the agent's open offer.
    pub presence: Presence,
}

/// `POST /callbacks/{id}/accept` and `/reject` (the body is optional).
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OfferAnswer {
    /// The agent answering; refused unless the callback is offered to this agent. Absent: whoever
    /// it is offered to.
    pub agent_id: Option<AgentId>,
}

/// `POST /callbacks/{id}/outcome`: what an attempt came to.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OutcomeRequest {
    /// `connected`, `no_answer`, `busy`, `voicemail`, `invalid_number` or `failed`.
    pub outcome: rebound_domain::dispatch::Outcome,
    /// The wrap code given; an Add-to-Queue code of the callback's campaign also creates the
    /// callback it describes.
    pub wrap_code: Option<String>,
    pub notes: Option<String>,
    /// The reporting agent: refused unless it handles (or is offered) the callback.
    pub agent_id: Option<AgentId>,
    /// The reporting dialler's lease: refused unless that lease holds the callback.
    pub lease_id: Option<String>,
}

/// The callback after an outcome, and the callback an Add-to-Queue wrap code created.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OutcomeView {
    #[serde(flatten)]
    pub view: CallbackView,
    /// The callback the wrap code created, if it is an Add-to-Queue code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wrap_callback: Option<CallbackView>,
    /// Why the wrap code's callback could not be created (the outcome itself was recorded).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wrap_error: Option<ErrorObject>,
}

/// `{"items": [...]}`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Items<T> {
    pub items: Vec<T>,
}

/// `POST /dialer/claim`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClaimBody {
    /// An outbound campaign.
    pub campaign_id: CampaignId,
    /// At most this many callbacks (1–1000).
    pub max: u32,
    /// How long the lease lasts (seconds, 1–3600); unreported callbacks then return to `QUEUED`.
    pub lease_secs: u32,
}

/// `POST /dialer/outcomes`: up to 1,000 outcomes.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DialerOutcomes {
    pub items: Vec<DialerOutcome>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DialerOutcome {
    pub id: CallbackId,
    pub outcome: rebound_domain::dispatch::Outcome,
    /// The lease the callback was claimed with; refused unless it still holds the callback.
    pub lease_id: Option<String>,
    pub wrap_code: Option<String>,
    pub notes: Option<String>,
}

/// One result of `POST /dialer/outcomes`, in request order.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DialerOutcomeResult {
    pub id: CallbackId,
    pub ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub callback: Option<CallbackView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorObject>,
    /// The callback the item's Add-to-Queue wrap code created.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wrap_callback: Option<CallbackView>,
    /// Why that callback could not be created (the outcome itself was recorded).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wrap_error: Option<ErrorObject>,
}

/// `POST /campaigns/{id}/auto-callbacks`: an inbound caller asks to be called back.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AutoCallbackRequest {
    /// Any format; national formats are read with the inbound campaign's region.
    pub phone: String,
    /// The caller's name, for a new lead.
    pub name: Option<String>,
}

/// `POST /wraps`: an agent wraps an interaction.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WrapRequest {
    pub agent_id: AgentId,
    /// The campaign of the interaction (whose wrap codes `wrap_code` is looked up in).
    pub campaign_id: CampaignId,
    pub wrap_code: String,
    /// The customer's number, any format.
    pub phone: String,
    pub lead_id: Option<LeadId>,
    /// When the generated callback is wanted (RFC 3339, or naive local with `timezone`); default
    /// now plus the wrap code's delay.
    pub callback_time: Option<String>,
    /// IANA timezone of a naive `callback_time`.
    pub timezone: Option<String>,
}

/// What a wrap created: the callback, or `null` for a wrap code without Add-to-Queue.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct WrapResult {
    pub callback: Option<CallbackView>,
}

/// Parameters of `GET /events`.
#[derive(Debug, Clone, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // documentation only: the handler reads them with `Params`.
pub struct EventStreamParams {
    /// Replay the events with an id greater than this first (as the `Last-Event-ID` header does).
    pub after: Option<i64>,
    /// Only events of these callbacks (repeatable).
    pub callback_id: Option<Vec<String>>,
}
