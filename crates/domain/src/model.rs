//! The records Rebound keeps: configuration (campaigns, lists, leads, queues, agents, wrap codes) and
//! callbacks with their audit events. Plain data with serde; the rules that act on them live in the
//! sibling modules (`state`, `hours`, `time`, `slots`, `phone`).
//!
//! Configuration objects have numeric ids assigned by the store; callbacks have UUIDv7 ids so they sort
//! by creation time and can be made without asking the store.

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::hours::{CallingHours, DateException, DiallingHours};
use crate::slots::CapacityGrid;
use crate::state::{CallbackResult, CallbackState};

pub type CampaignId = i64;
pub type ListId = i64;
pub type LeadId = i64;
pub type QueueId = i64;
pub type AgentId = i64;
pub type WrapCodeId = i64;
pub type UserId = i64;

/// Free-form values keyed by a list's data field names.
pub type DataFields = BTreeMap<String, String>;

/// A callback's id: a UUIDv7, so ids sort by creation time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(value_type = String, format = Uuid))]
#[serde(transparent)]
pub struct CallbackId(pub Uuid);

impl CallbackId {
    pub fn new() -> Self {
        CallbackId(Uuid::now_v7())
    }

    pub fn parse(s: &str) -> Option<Self> {
        Uuid::parse_str(s.trim()).ok().map(CallbackId)
    }
}

impl Default for CallbackId {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Display for CallbackId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    Inbound,
    Outbound,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Inbound => "inbound",
            Direction::Outbound => "outbound",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Direction::Inbound, Direction::Outbound].into_iter().find(|d| d.as_str() == s)
    }
}

/// Delays before a failed attempt is tried again, per outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RetryDelays {
    pub no_answer: u32,
    pub busy: u32,
    pub voicemail: u32,
    /// A technical failure (network, carrier). Campaigns stored before this field existed get the
    /// default.
    #[serde(default = "RetryDelays::default_failed")]
    pub failed: u32,
}

impl RetryDelays {
    fn default_failed() -> u32 {
        900
    }
}

impl Default for RetryDelays {
    fn default() -> Self {
        RetryDelays { no_answer: 1800, busy: 600, voicemail: 3600, failed: Self::default_failed() }
    }
}

/// A dialling context. Callbacks only ever live in outbound campaigns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Campaign {
    pub id: CampaignId,
    pub name: String,
    pub direction: Direction,
    /// IANA timezone name, e.g. `Europe/London`.
    pub timezone: String,
    /// ISO 3166 region used to read national-format numbers, e.g. `GB`.
    pub region: String,
    pub running: bool,
    pub dialling_hours: DiallingHours,
    pub exceptions: Vec<DateException>,
    pub lead_calling_hours: CallingHours,
    pub allow_unassigned_agent_callbacks: bool,
    /// Inbound campaigns: the list that auto-callback requests land in.
    pub auto_callback_list_id: Option<ListId>,
    /// Outbound campaigns: the lists it dials.
    pub lists: Vec<ListId>,
    pub window_secs: u32,
    pub max_attempts: u32,
    pub retry_delays_secs: RetryDelays,
    pub horizon_days: u32,
    /// Minutes an agent callback waits for its agent before any campaign agent may take it.
    pub agent_grace_minutes: u32,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl Campaign {
    pub const DEFAULT_WINDOW_SECS: u32 = 120;
    pub const DEFAULT_MAX_ATTEMPTS: u32 = 3;
    pub const DEFAULT_HORIZON_DAYS: u32 = 90;
    pub const DEFAULT_AGENT_GRACE_MINUTES: u32 = 30;
}

/// A named set of leads with declared data fields.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct List {
    pub id: ListId,
    pub name: String,
    pub fields: Vec<String>,
    pub created_at: Timestamp,
}

/// A contact in a list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Lead {
    pub id: LeadId,
    pub list_id: ListId,
    /// Up to three numbers, E.164.
    pub phones: Vec<String>,
    pub timezone: Option<String>,
    pub name: Option<String>,
    pub data: DataFields,
    pub created_at: Timestamp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum DuplicatePolicy {
    /// No duplicate check.
    Off,
    /// At most one active callback per number per queue (the default).
    One,
    /// At most two.
    Two,
}

impl DuplicatePolicy {
    /// How many active callbacks for one number one queue may hold; `None` = unlimited.
    pub fn limit(self) -> Option<u32> {
        match self {
            DuplicatePolicy::Off => None,
            DuplicatePolicy::One => Some(1),
            DuplicatePolicy::Two => Some(2),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            DuplicatePolicy::Off => "off",
            DuplicatePolicy::One => "one",
            DuplicatePolicy::Two => "two",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [DuplicatePolicy::Off, DuplicatePolicy::One, DuplicatePolicy::Two].into_iter().find(|p| p.as_str() == s)
    }
}

/// Where queue callbacks wait (a "service" / virtual queue). Belongs to an outbound campaign.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Queue {
    pub id: QueueId,
    pub name: String,
    pub campaign_id: CampaignId,
    pub slot_minutes: u32,
    /// Capacity of every slot not named in `capacity_grid`.
    pub slot_capacity: u32,
    pub capacity_grid: Option<CapacityGrid>,
    pub duplicate_policy: DuplicatePolicy,
    pub paused: bool,
    pub created_at: Timestamp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Presence {
    Offline,
    Ready,
    NotReady,
    Busy,
}

impl Presence {
    pub fn as_str(self) -> &'static str {
        match self {
            Presence::Offline => "offline",
            Presence::Ready => "ready",
            Presence::NotReady => "not_ready",
            Presence::Busy => "busy",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Presence::Offline, Presence::Ready, Presence::NotReady, Presence::Busy].into_iter().find(|p| p.as_str() == s)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Agent {
    pub id: AgentId,
    pub name: String,
    pub username: String,
    pub timezone: String,
    pub campaigns: Vec<CampaignId>,
    pub queues: Vec<QueueId>,
    pub can_view_callback_list: bool,
    pub presence: Presence,
    /// When the agent last became ready (or finished a call and went back to ready): routing offers
    /// the next callback to the agent ready the longest. `None` unless `presence` is `ready`.
    pub ready_since: Option<Timestamp>,
    pub created_at: Timestamp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum CallbackType {
    /// For one named agent.
    Agent,
    /// For any suitable agent of a queue.
    Queue,
}

impl CallbackType {
    pub fn as_str(self) -> &'static str {
        match self {
            CallbackType::Agent => "agent",
            CallbackType::Queue => "queue",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "agent" => Some(CallbackType::Agent),
            "queue" => Some(CallbackType::Queue),
            _ => None,
        }
    }
}

/// The Add-to-Queue setting of a wrap code: the callback it generates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct AddToQueue {
    pub campaign_id: CampaignId,
    pub queue_id: Option<QueueId>,
    #[serde(rename = "type")]
    pub kind: CallbackType,
    pub delay_minutes: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WrapCode {
    pub id: WrapCodeId,
    pub campaign_id: CampaignId,
    pub code: String,
    pub label: String,
    pub add_to_queue: Option<AddToQueue>,
    pub created_at: Timestamp,
}

/// How a callback came to exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    Immediate,
    Scheduled,
    AutoCallback,
    WrapCode,
    Recreated,
    Import,
}

impl Origin {
    pub const ALL: [Origin; 6] = [
        Origin::Immediate,
        Origin::Scheduled,
        Origin::AutoCallback,
        Origin::WrapCode,
        Origin::Recreated,
        Origin::Import,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Origin::Immediate => "immediate",
            Origin::Scheduled => "scheduled",
            Origin::AutoCallback => "auto_callback",
            Origin::WrapCode => "wrap_code",
            Origin::Recreated => "recreated",
            Origin::Import => "import",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Origin::ALL.into_iter().find(|o| o.as_str() == s)
    }
}

/// A callback as stored. Derived views (`overdue`, position in queue) are computed by callers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Callback {
    pub id: CallbackId,
    #[serde(rename = "type")]
    pub kind: CallbackType,
    pub origin: Origin,
    /// E.164.
    pub phone: String,
    /// The number exactly as it was given.
    pub phone_raw: String,
    pub campaign_id: CampaignId,
    pub list_id: Option<ListId>,
    pub lead_id: Option<LeadId>,
    pub queue_id: Option<QueueId>,
    pub agent_id: Option<AgentId>,
    pub wrap_code: Option<String>,
    pub desired_time: Timestamp,
    /// The timezone the desired time was requested in (IANA name), if given.
    pub timezone: Option<String>,
    /// The lead's timezone used for calling hours (the lead's own, or inferred from the number).
    pub lead_timezone: Option<String>,
    /// First instant it may be dialled; `None` while the campaign is stopped.
    pub earliest_time: Option<Timestamp>,
    /// The desired-time window (seconds) copied from the campaign when requested: still
    /// `SCHEDULED` after `earliest_time + window_secs` means overdue.
    pub window_secs: u32,
    /// Start of the capacity slot it is booked into (scheduled queue callbacks).
    pub slot_start: Option<Timestamp>,
    pub state: CallbackState,
    pub result: Option<CallbackResult>,
    pub attempts: u32,
    pub priority: i32,
    pub notes: Option<String>,
    pub data: DataFields,
    pub created_by: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// When it entered `QUEUED` the first time (routing order).
    pub queued_at: Option<Timestamp>,
    /// The agent it is offered to (`ROUTING`) or handled by (`PROCESSING`); `None` otherwise.
    pub offered_to: Option<AgentId>,
    /// The dialler lease holding it (`ROUTING`/`PROCESSING` through `/dialer/claim`).
    pub lease_id: Option<String>,
    /// When the offer or lease runs out (`ROUTING` only): the callback then goes back to `QUEUED`.
    pub hold_until: Option<Timestamp>,
    pub recreated_from: Option<CallbackId>,
    pub recreated_as: Option<CallbackId>,
    /// When retention removes it (desired time + retention period).
    pub expires_at: Timestamp,
}

/// One line of a callback's audit history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CallbackEvent {
    pub id: i64,
    pub callback_id: CallbackId,
    pub at: Timestamp,
    pub actor: String,
    pub action: String,
    pub from_state: Option<CallbackState>,
    pub to_state: Option<CallbackState>,
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub details: serde_json::Value,
}

/// A person who signs in to the console. The password hash lives only in the store
/// (`rebound_store::UserLogin`), never in this record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct User {
    pub id: UserId,
    pub username: String,
    pub display_name: String,
    /// IANA timezone the console shows times in.
    pub timezone: String,
    pub role: crate::access::Role,
    /// The agent record this user acts as (role `agent`).
    pub agent_id: Option<AgentId>,
    /// The campaigns/queues this user may see and act on; `None` = all.
    pub scope: Option<crate::access::Scope>,
    /// A disabled user cannot sign in, and their sessions end.
    pub disabled: bool,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// A console session. The cookie holds a random secret; the store keeps its SHA-256 (`id_hash`),
/// so a copy of the database cannot be used to sign in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub id_hash: String,
    pub user_id: UserId,
    /// Sent back on every state-changing request (`X-CSRF-Token`).
    pub csrf_token: String,
    pub created_at: Timestamp,
    /// Idle expiry counts from here.
    pub last_seen_at: Timestamp,
    /// Absolute expiry.
    pub expires_at: Timestamp,
}
