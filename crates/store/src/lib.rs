//! The storage seam. [`Store`] names every persistent operation Rebound needs by its intent
//! (`create_callback`, `transition_callback`, `search_callbacks`, …); each backend crate
//! (`rebound-store-sqlite`, later `rebound-store-postgres`) implements it, and the
//! [`conformance`] suite (feature `conformance`) checks that they behave identically.
//!
//! Division of labour: the *rules* (what a duplicate is, how many a slot holds, which transition is
//! legal) come from `rebound-domain`; a store *enforces* them atomically, inside the one transaction
//! that writes the change and its audit event, so concurrent requests cannot race past them.
//! A store acknowledges a write only once it is durable.

use async_trait::async_trait;
use jiff::Timestamp;
use rebound_domain::access::{Role, Scope};
use rebound_domain::model::*;
use rebound_domain::state::{Action, CallbackState, IllegalTransition};

pub mod columns;
#[cfg(feature = "conformance")]
pub mod conformance;
pub mod steps;

pub type StoreResult<T> = Result<T, StoreError>;

/// What went wrong, named for what the caller does about it.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// The record (or one it refers to) does not exist.
    #[error("{what} not found")]
    NotFound { what: String },
    /// A duplicate-policy refusal: the number already has the allowed number of active callbacks.
    #[error("an active callback for this number already exists in this queue")]
    Duplicate { existing_id: CallbackId },
    /// The slot is full.
    #[error("the slot starting {slot_start} is full ({capacity} booked)")]
    SlotFull { slot_start: Timestamp, capacity: u32 },
    /// The `Idempotency-Key` was used before with a different request.
    #[error("the Idempotency-Key was already used for a different request")]
    IdempotencyMismatch,
    /// The lifecycle refused the move (the callback changed state, or never could).
    #[error(transparent)]
    IllegalTransition(#[from] IllegalTransition),
    /// A uniqueness or reference rule of the schema refused the write (e.g. deleting a campaign that
    /// still has callbacks, or a second object with the same unique name).
    #[error("{0}")]
    Conflict(String),
    /// The backend failed (I/O, corruption, lost connection). Logged, shown to clients as a 500.
    #[error("storage failure: {0}")]
    Backend(String),
}

impl StoreError {
    pub fn not_found(what: impl Into<String>) -> Self {
        StoreError::NotFound { what: what.into() }
    }
}

/// A new callback, fully formed by the caller (id, times, state), plus the checks the store must
/// enforce atomically with the insert.
#[derive(Debug, Clone)]
pub struct NewCallback {
    pub callback: Callback,
    /// Refuse if the queue already holds this many active callbacks for the number.
    pub duplicate_limit: Option<u32>,
    /// Refuse if `callback.slot_start` already has this many active bookings in the queue.
    pub slot_capacity: Option<u32>,
    pub idempotency: Option<IdempotencyKey>,
    /// The audit event's action name (`created`, `recreated`, `imported`, …) and details.
    pub event_action: String,
    pub event_details: serde_json::Value,
}

/// An `Idempotency-Key` with a fingerprint of the request it came with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey {
    /// Scoped by the caller (e.g. the principal's actor name + the header value).
    pub key: String,
    pub fingerprint: String,
}

#[derive(Debug, Clone, PartialEq)]
pub enum CreateOutcome {
    Created(Callback),
    /// The same `Idempotency-Key` and request were seen before: the first result.
    Replayed(Callback),
}

impl CreateOutcome {
    pub fn callback(&self) -> &Callback {
        match self {
            CreateOutcome::Created(c) | CreateOutcome::Replayed(c) => c,
        }
    }

    pub fn into_callback(self) -> Callback {
        match self {
            CreateOutcome::Created(c) | CreateOutcome::Replayed(c) => c,
        }
    }
}

/// Fields a transition may change along with the state. `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CallbackUpdate {
    pub desired_time: Option<Timestamp>,
    pub timezone: Option<Option<String>>,
    pub earliest_time: Option<Option<Timestamp>>,
    pub slot_start: Option<Option<Timestamp>>,
    pub expires_at: Option<Timestamp>,
    pub agent_id: Option<Option<AgentId>>,
    pub increment_attempts: bool,
    pub wrap_code: Option<Option<String>>,
    pub notes: Option<Option<String>>,
    /// The holder fields: which agent it is offered to / handled by, which dialler lease holds it,
    /// and until when. Every transition out of `ROUTING`/`PROCESSING` clears what no longer holds.
    pub offered_to: Option<Option<AgentId>>,
    pub lease_id: Option<Option<String>>,
    pub hold_until: Option<Option<Timestamp>>,
}

/// Who must hold a callback for a transition to be allowed (agent protocol and dialler outcomes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Holder {
    /// It must be offered to (`ROUTING`) or handled by (`PROCESSING`) this agent.
    Agent(AgentId),
    /// It must be held by this dialler lease.
    Lease(String),
}

/// An agent's presence change made with a transition, in the same transaction (e.g. `busy` on
/// accept, back to `ready` after an outcome).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PresenceChange {
    pub agent_id: AgentId,
    pub presence: Presence,
}

/// One lifecycle step: the store reads the current state, asks `rebound_domain::state::transition`,
/// and writes the new state, the update and the audit event in one transaction — or refuses.
#[derive(Debug, Clone)]
pub struct TransitionRequest {
    pub id: CallbackId,
    pub action: Action,
    /// Refuse unless the callback is in one of these states now (empty = any the table allows).
    pub expect: Vec<CallbackState>,
    pub update: CallbackUpdate,
    /// Refuse with `Conflict` unless this holder holds it (checked with the state).
    pub holder: Option<Holder>,
    /// Applied in the same transaction if the transition is made (`ready_since` = `at` when the
    /// new presence is `ready`).
    pub presence: Option<PresenceChange>,
    pub actor: String,
    pub at: Timestamp,
    pub event_action: String,
    pub event_details: serde_json::Value,
}

/// Whether a callback may be dialled now (`Ok`), or the instant it next may be (`Err`, `None` =
/// not while the campaign is stopped). Supplied by the engine from `rebound_domain::dispatch`; a
/// store calls it on each candidate inside the dispatch transaction and demotes (`QUEUED →
/// SCHEDULED`, earliest time set to the answer, event `demoted`) those that may not be dialled.
pub type DialCheck = std::sync::Arc<dyn Fn(&Callback, Timestamp) -> Result<(), Option<Timestamp>> + Send + Sync>;

/// Where routing looks for `QUEUED` callbacks; each source is read in dispatch order (priority
/// descending, then `queued_at`, then id).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueuedSource {
    /// Queue callbacks of a queue.
    Queue(QueueId),
    /// Agent callbacks for this agent.
    AgentOwn(AgentId),
    /// Agent callbacks of a campaign that entered `QUEUED` at or before `queued_before` (those whose
    /// grace period is over), whichever agent they were for.
    Escalated { campaign_id: CampaignId, queued_before: Timestamp },
}

/// A reservation routing asks for: offer `callback_id` to `agent_id`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReservePair {
    pub callback_id: CallbackId,
    pub agent_id: AgentId,
}

/// Offers callbacks to agents (`QUEUED → ROUTING`, `offered_to` and `hold_until` set, event
/// `offered` with `agent_id` in its details), all in one transaction. A pair is skipped (not an
/// error) when the callback is no longer `QUEUED`, the agent is not `ready` or already holds a
/// callback (`ROUTING` or `PROCESSING`), or the callback's queue is paused; a callback the
/// `dial_check` refuses is demoted instead.
#[derive(Clone)]
pub struct ReserveRequest {
    pub pairs: Vec<ReservePair>,
    pub hold_until: Timestamp,
    pub dial_check: DialCheck,
    pub actor: String,
    pub at: Timestamp,
}

/// Leases up to `max` `QUEUED` queue callbacks of a campaign (queues not paused) to a dialler, in
/// dispatch order across the campaign: `QUEUED → ROUTING` with `lease_id` and `hold_until`, event
/// `leased`. Candidates the `dial_check` refuses are demoted and not counted. One transaction, so a
/// callback is never leased twice.
#[derive(Clone)]
pub struct ClaimRequest {
    pub campaign_id: CampaignId,
    pub max: u32,
    pub lease_id: String,
    pub hold_until: Timestamp,
    pub dial_check: DialCheck,
    pub actor: String,
    pub at: Timestamp,
}

/// A recomputed earliest time for a callback of a campaign whose hours, exceptions or running switch
/// changed. A `SCHEDULED` callback takes the new time (event `hours_changed`); a `QUEUED` one whose
/// new time is `None` or later than `at` is demoted to `SCHEDULED` with it (event `demoted`); one in
/// any other state, or no longer in `expect`, is left alone.
#[derive(Debug, Clone, PartialEq)]
pub struct EarliestChange {
    pub id: CallbackId,
    pub expect: CallbackState,
    pub earliest_time: Option<Timestamp>,
}

/// A callback released because its offer or lease ran out: as stored after the release, and the
/// holder it had.
#[derive(Debug, Clone, PartialEq)]
pub struct ExpiredHold {
    pub callback: Callback,
    pub holder: Holder,
}

/// The figures `/metrics` and the dashboard show, counted at one instant.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CallbackCounts {
    /// Every state, zero included.
    pub by_state: Vec<(CallbackState, u64)>,
    /// `SCHEDULED` with `earliest_time + window_secs < now`.
    pub overdue: u64,
    /// `SCHEDULED` with an earliest time in `[now, due_before)`.
    pub due_soon: u64,
}

/// Active callbacks of one queue due in one minute (see [`Store::due_per_minute`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DueCount {
    pub queue_id: QueueId,
    /// The start of the minute (UTC) the callbacks' earliest time falls in.
    pub minute: Timestamp,
    pub count: u32,
}

/// The column `q` searches (`q_field`); `Any` searches phone, notes, wrap code, lead id and the
/// names of campaign, list, queue and agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SearchField {
    Any,
    Id,
    Phone,
    State,
    Campaign,
    List,
    Queue,
    Agent,
    Lead,
    WrapCode,
    Notes,
}

impl SearchField {
    pub const ALL: [SearchField; 11] = [
        SearchField::Any,
        SearchField::Id,
        SearchField::Phone,
        SearchField::State,
        SearchField::Campaign,
        SearchField::List,
        SearchField::Queue,
        SearchField::Agent,
        SearchField::Lead,
        SearchField::WrapCode,
        SearchField::Notes,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SearchField::Any => "any",
            SearchField::Id => "id",
            SearchField::Phone => "phone",
            SearchField::State => "state",
            SearchField::Campaign => "campaign",
            SearchField::List => "list",
            SearchField::Queue => "queue",
            SearchField::Agent => "agent",
            SearchField::Lead => "lead",
            SearchField::WrapCode => "wrap_code",
            SearchField::Notes => "notes",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        SearchField::ALL.into_iter().find(|f| f.as_str() == s)
    }
}

/// The list filters of the contract. Empty vectors mean "no restriction".
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CallbackFilter {
    /// Desired time `>= from`.
    pub from: Option<Timestamp>,
    /// Desired time `< to`.
    pub to: Option<Timestamp>,
    pub states: Vec<CallbackState>,
    pub campaign_ids: Vec<CampaignId>,
    pub list_ids: Vec<ListId>,
    pub queue_ids: Vec<QueueId>,
    pub agent_ids: Vec<AgentId>,
    pub kind: Option<CallbackType>,
    pub wrap_codes: Vec<String>,
    /// E.164 numbers: matches the callback's number or its lead's phones 1–3. `Some(vec![])`
    /// matches nothing (a search for a number that cannot exist).
    pub phones: Option<Vec<String>>,
    /// Case-insensitive substring search in one column.
    pub text: Option<(SearchField, String)>,
    /// Only callbacks overdue at this instant (`SCHEDULED` and past earliest time + window).
    pub overdue_at: Option<Timestamp>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortField {
    DesiredTime,
    EarliestTime,
    CreatedAt,
    UpdatedAt,
    State,
    Phone,
    Priority,
}

impl SortField {
    pub const ALL: [SortField; 7] = [
        SortField::DesiredTime,
        SortField::EarliestTime,
        SortField::CreatedAt,
        SortField::UpdatedAt,
        SortField::State,
        SortField::Phone,
        SortField::Priority,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SortField::DesiredTime => "desired_time",
            SortField::EarliestTime => "earliest_time",
            SortField::CreatedAt => "created_at",
            SortField::UpdatedAt => "updated_at",
            SortField::State => "state",
            SortField::Phone => "phone",
            SortField::Priority => "priority",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        SortField::ALL.into_iter().find(|f| f.as_str() == s)
    }
}

/// Sort order; ties are broken by callback id (creation order) in the same direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sort {
    pub field: SortField,
    pub descending: bool,
}

impl Default for Sort {
    fn default() -> Self {
        Sort { field: SortField::DesiredTime, descending: false }
    }
}

/// 1-based page number and page size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    pub page: u32,
    pub page_size: u32,
}

impl PageRequest {
    pub const DEFAULT_SIZE: u32 = 250;
    pub const MAX_SIZE: u32 = 1000;

    pub fn offset(&self) -> u64 {
        u64::from(self.page.saturating_sub(1)) * u64::from(self.page_size)
    }
}

impl Default for PageRequest {
    fn default() -> Self {
        PageRequest { page: 1, page_size: Self::DEFAULT_SIZE }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub total: u64,
}

/// An API token as stored: only a hash of the secret is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiToken {
    pub id: i64,
    pub name: String,
    pub role: Role,
    /// `None` = every campaign and queue.
    pub scope: Option<Scope>,
    /// Hex SHA-256 of the secret.
    pub secret_hash: String,
    pub created_at: Timestamp,
    pub expires_at: Option<Timestamp>,
    pub revoked: bool,
    /// When a request last used it (recorded at most about once a minute per token).
    pub last_used_at: Option<Timestamp>,
}

/// A token to create (the store assigns id and creation time).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewToken {
    pub name: String,
    pub role: Role,
    pub scope: Option<Scope>,
    pub secret_hash: String,
    pub expires_at: Option<Timestamp>,
}

impl NewToken {
    /// An unscoped token.
    pub fn new(
        name: impl Into<String>,
        role: Role,
        secret_hash: impl Into<String>,
        expires_at: Option<Timestamp>,
    ) -> Self {
        NewToken { name: name.into(), role, scope: None, secret_hash: secret_hash.into(), expires_at }
    }
}

/// What signing in needs about a user: the record, the password hash (Argon2 PHC string) and the
/// failed-attempt state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserLogin {
    pub user: User,
    pub password_hash: String,
    /// Consecutive failed sign-ins since the last success.
    pub failed_logins: u32,
    /// Sign-in refused until then (lockout after repeated failures).
    pub locked_until: Option<Timestamp>,
}

/// A change to a callback in place (`PATCH`, reschedule), with the checks the store enforces
/// atomically. `None` fields stay as they are.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CallbackEdit {
    pub kind: Option<CallbackType>,
    pub campaign_id: Option<CampaignId>,
    pub list_id: Option<Option<ListId>>,
    pub queue_id: Option<Option<QueueId>>,
    pub agent_id: Option<Option<AgentId>>,
    pub notes: Option<Option<String>>,
    pub data: Option<DataFields>,
    pub desired_time: Option<Timestamp>,
    pub timezone: Option<Option<String>>,
    pub earliest_time: Option<Option<Timestamp>>,
    pub window_secs: Option<u32>,
    pub slot_start: Option<Option<Timestamp>>,
    pub expires_at: Option<Timestamp>,
}

/// One in-place update of a callback with its audit event.
#[derive(Debug, Clone)]
pub struct UpdateRequest {
    pub id: CallbackId,
    /// A lifecycle step taken with the update (e.g. `Action::Reschedule`), checked against the
    /// transition table; `None` = the state does not change.
    pub action: Option<Action>,
    /// Refuse (IllegalTransition-like `Conflict`) unless the callback is in one of these states.
    pub expect: Vec<CallbackState>,
    /// Optimistic concurrency: refuse with `Conflict` if the callback changed after this instant
    /// (its `updated_at` differs) — the caller validated against that version.
    pub if_unchanged_since: Option<Timestamp>,
    pub edit: CallbackEdit,
    /// Refuse with `Duplicate` if, after the edit, the (queue, number) would hold more active
    /// callbacks than this (the callback itself not counted twice).
    pub duplicate_limit: Option<u32>,
    /// Refuse with `SlotFull` if the new `slot_start` already holds this many other active bookings.
    pub slot_capacity: Option<u32>,
    pub actor: String,
    pub at: Timestamp,
    pub event_action: String,
    pub event_details: serde_json::Value,
}

/// Which callbacks a bulk cancel covers.
#[derive(Debug, Clone, PartialEq)]
pub enum BulkSelection {
    Ids(Vec<CallbackId>),
    /// Everything matching the list filters (typically a desired-time range plus filters).
    Filter(CallbackFilter),
}

/// A bulk cancel: processed in batches so other writes interleave, every outcome recorded in a
/// kept report (the Cancellation Summary Report).
#[derive(Debug, Clone)]
pub struct BulkCancelRequest {
    pub report_id: String,
    pub selection: BulkSelection,
    pub by_customer: bool,
    pub reason: Option<String>,
    pub actor: String,
    pub at: Timestamp,
}

/// A callback a bulk cancel left alone, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct SkippedCallback {
    pub id: CallbackId,
    /// `None` when the id does not exist.
    pub state: Option<CallbackState>,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct BulkCancelSummary {
    pub report_id: String,
    pub cancelled: u64,
    pub skipped: Vec<SkippedCallback>,
}

/// One line of the Cancellation Summary Report. Campaign and queue names are those of the moment the
/// line was written (a kept record reads the same after a rename or delete). For an id that named no
/// callback (`state_before` is `None`) there is nothing to describe: `phone` and `campaign_name` are
/// empty, `campaign_id` is 0, `queue_id`/`queue_name` are `None` and `desired_time` is the Unix epoch.
#[derive(Debug, Clone, PartialEq)]
pub struct CancellationRow {
    pub callback_id: CallbackId,
    pub phone: String,
    pub campaign_id: CampaignId,
    pub campaign_name: String,
    pub queue_id: Option<QueueId>,
    pub queue_name: Option<String>,
    pub desired_time: Timestamp,
    pub state_before: Option<CallbackState>,
    /// `cancelled` or `skipped`.
    pub outcome: String,
    pub reason: String,
    pub actor: String,
    pub at: Timestamp,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CancellationReport {
    pub report_id: String,
    pub actor: String,
    pub created_at: Timestamp,
    /// The report expires with the last of its callbacks (retention).
    pub expires_at: Timestamp,
    pub rows: Vec<CancellationRow>,
}

/// Where an export page continues: after this (desired_time, id) in the export order.
pub type ExportCursor = (Timestamp, CallbackId);

/// What one retention pass removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PurgeOutcome {
    pub callbacks: u64,
    pub events: u64,
    pub reports: u64,
}

/// Slot bookings of a queue: (slot start, active callbacks booked into it).
pub type SlotBookings = Vec<(Timestamp, u32)>;

/// The leader lease as a [`Store::claim_leadership`] left it: who holds it, and until when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaderLease {
    /// The node (process) that holds it.
    pub holder: String,
    /// When it runs out unless renewed, by the store's clock; `None` when the store is only ever
    /// opened by one process, which therefore always leads (the embedded store).
    pub expires_at: Option<Timestamp>,
}

/// Every persistent operation of Rebound. Configuration `create_*` methods ignore the `id` and
/// `created_at` fields of their argument and return the stored record; `update_*` replaces the
/// whole record (the caller merges a PATCH first).
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Cheap round trip for `/readyz`.
    async fn ping(&self) -> StoreResult<()>;

    // ---- configuration ------------------------------------------------------------------------
    async fn create_campaign(&self, campaign: Campaign) -> StoreResult<Campaign>;
    async fn get_campaign(&self, id: CampaignId) -> StoreResult<Option<Campaign>>;
    async fn list_campaigns(&self) -> StoreResult<Vec<Campaign>>;
    async fn update_campaign(&self, campaign: Campaign) -> StoreResult<Campaign>;
    /// Refused with `Conflict` while queues, wrap codes or callbacks refer to it.
    async fn delete_campaign(&self, id: CampaignId) -> StoreResult<()>;

    async fn create_list(&self, list: List) -> StoreResult<List>;
    async fn get_list(&self, id: ListId) -> StoreResult<Option<List>>;
    async fn list_lists(&self) -> StoreResult<Vec<List>>;
    async fn update_list(&self, list: List) -> StoreResult<List>;
    async fn delete_list(&self, id: ListId) -> StoreResult<()>;

    async fn create_lead(&self, lead: Lead) -> StoreResult<Lead>;
    /// Inserts many leads in one transaction (imports, demo data).
    async fn create_leads(&self, leads: Vec<Lead>) -> StoreResult<Vec<Lead>>;
    async fn get_lead(&self, id: LeadId) -> StoreResult<Option<Lead>>;
    async fn list_leads(&self, list_id: Option<ListId>, page: PageRequest) -> StoreResult<Page<Lead>>;
    async fn update_lead(&self, lead: Lead) -> StoreResult<Lead>;
    async fn delete_lead(&self, id: LeadId) -> StoreResult<()>;

    async fn create_queue(&self, queue: Queue) -> StoreResult<Queue>;
    async fn get_queue(&self, id: QueueId) -> StoreResult<Option<Queue>>;
    async fn list_queues(&self) -> StoreResult<Vec<Queue>>;
    async fn update_queue(&self, queue: Queue) -> StoreResult<Queue>;
    async fn delete_queue(&self, id: QueueId) -> StoreResult<()>;

    async fn create_agent(&self, agent: Agent) -> StoreResult<Agent>;
    async fn get_agent(&self, id: AgentId) -> StoreResult<Option<Agent>>;
    async fn list_agents(&self) -> StoreResult<Vec<Agent>>;
    /// Presence and `ready_since` are left as stored (only `set_presence` and the dispatch
    /// transitions change them).
    async fn update_agent(&self, agent: Agent) -> StoreResult<Agent>;
    /// Refused with `Conflict` while callbacks refer to it or a user acts as it.
    async fn delete_agent(&self, id: AgentId) -> StoreResult<()>;

    async fn create_wrap_code(&self, wrap_code: WrapCode) -> StoreResult<WrapCode>;
    async fn get_wrap_code(&self, id: WrapCodeId) -> StoreResult<Option<WrapCode>>;
    async fn list_wrap_codes(&self) -> StoreResult<Vec<WrapCode>>;
    async fn update_wrap_code(&self, wrap_code: WrapCode) -> StoreResult<WrapCode>;
    async fn delete_wrap_code(&self, id: WrapCodeId) -> StoreResult<()>;

    // ---- callbacks ----------------------------------------------------------------------------
    /// Inserts a callback and its audit event after the duplicate, slot and idempotency checks, all
    /// in one durable transaction. When `callback.recreated_from` names an original, the original
    /// must be `COMPLETED` and not yet recreated (else `Conflict`); its `recreated_as` is set and a
    /// `recreated` event is written on it in the same transaction.
    async fn create_callback(&self, new: NewCallback) -> StoreResult<CreateOutcome>;
    /// Many creates, each with its own checks and outcome; one commit for the batch.
    async fn create_callbacks(&self, batch: Vec<NewCallback>) -> StoreResult<Vec<StoreResult<CreateOutcome>>>;
    async fn get_callback(&self, id: CallbackId) -> StoreResult<Option<Callback>>;
    /// Many callbacks by id in one read, answered in the order asked (`None` for an unknown id).
    async fn get_callbacks(&self, ids: Vec<CallbackId>) -> StoreResult<Vec<Option<Callback>>>;
    /// One page of callbacks matching `filter`, in `sort` order, and how many match in all.
    async fn list_callbacks(
        &self,
        filter: &CallbackFilter,
        sort: Sort,
        page: PageRequest,
    ) -> StoreResult<Page<Callback>>;
    /// Callback search across all time and states: by id, or by any of `phones` (callback number or
    /// lead phones 1–3). Newest first, at most `limit`.
    async fn search_callbacks(
        &self,
        id: Option<CallbackId>,
        phones: &[String],
        limit: u32,
    ) -> StoreResult<Vec<Callback>>;
    /// What an earlier request with this `Idempotency-Key` created: its fingerprint and the callback
    /// (`None` if the key is unknown or its callback no longer exists). Lets a retried request get
    /// its first answer before it is validated again; `create_callback` still re-checks atomically.
    async fn find_idempotent(&self, key: &str) -> StoreResult<Option<(String, Callback)>>;
    /// The audit history, oldest first.
    async fn callback_events(&self, id: CallbackId) -> StoreResult<Vec<CallbackEvent>>;
    /// One lifecycle step with its audit event, atomically; refused per the transition table.
    async fn transition_callback(&self, request: TransitionRequest) -> StoreResult<Callback>;
    /// Active bookings per slot start of a queue in `[from, to)`.
    async fn slot_bookings(&self, queue_id: QueueId, from: Timestamp, to: Timestamp) -> StoreResult<SlotBookings>;
    /// An in-place change (edit, move, transfer, reschedule) with its audit event, atomically.
    async fn update_callback(&self, request: UpdateRequest) -> StoreResult<Callback>;
    /// Removes the record. Its history stays, with a `deleted` event holding what it was (the
    /// tombstone), until the callback's retention date.
    async fn delete_callback(&self, id: CallbackId, actor: &str, at: Timestamp) -> StoreResult<Callback>;
    /// Cancels a selection in batches; `PROCESSING`/`COMPLETED` ones (and unknown ids) are skipped.
    /// Every outcome is written to the kept report `request.report_id`, in selection order (ids as
    /// given, duplicates once; a filter in (desired_time, id) order). A `report_id` already used is
    /// refused with `Conflict` before anything is cancelled. Each batch commits on its own (other
    /// writes run between batches), so a caller that stops awaiting keeps the batches already done,
    /// each with its report lines, and cancels nothing more.
    async fn bulk_cancel(&self, request: BulkCancelRequest) -> StoreResult<BulkCancelSummary>;
    /// The kept report of a bulk cancel, lines in order; `None` if unknown or removed by retention.
    async fn cancellation_report(&self, report_id: &str) -> StoreResult<Option<CancellationReport>>;
    /// One page of an export in (desired_time, id) order (descending when asked), strictly after
    /// `after`. Exports page through with this so memory stays flat for millions of rows.
    async fn export_callbacks(
        &self,
        filter: &CallbackFilter,
        descending: bool,
        after: Option<ExportCursor>,
        limit: u32,
    ) -> StoreResult<Vec<Callback>>;
    /// Retention: removes up to `limit` callbacks whose `expires_at <= now`, with their history,
    /// tombstones past their date, and reports whose callbacks have all expired. `limit` bounds each
    /// of the three kinds in one pass; a caller repeats while a pass removed anything.
    async fn purge_expired(&self, now: Timestamp, limit: u32) -> StoreResult<PurgeOutcome>;

    // ---- access -------------------------------------------------------------------------------
    /// `Conflict` if the secret hash is already stored. Names need not be unique (the id tells
    /// tokens apart in audit events).
    async fn create_token(&self, token: NewToken) -> StoreResult<ApiToken>;
    async fn find_token(&self, secret_hash: &str) -> StoreResult<Option<ApiToken>>;
    async fn count_tokens(&self) -> StoreResult<u64>;
    /// Every token, oldest first.
    async fn list_tokens(&self) -> StoreResult<Vec<ApiToken>>;
    /// Revokes a token (kept, marked revoked; revoking again is no error); `NotFound` if unknown.
    async fn revoke_token(&self, id: i64) -> StoreResult<ApiToken>;
    /// Records when tokens were last used, many at once (the server batches them), in one
    /// transaction. `last_used_at` only moves forward: the newest use wins whatever the order.
    /// Unknown ids are ignored.
    async fn touch_tokens(&self, used: Vec<(i64, Timestamp)>) -> StoreResult<()>;

    /// `Conflict` if the username is taken (in any case); `NotFound` if `agent_id` names no agent.
    /// Like the configuration creates, ignores `id`, `created_at` and `updated_at` and returns the
    /// stored record. The failed-attempt state starts clear.
    async fn create_user(&self, user: User, password_hash: &str) -> StoreResult<User>;
    async fn get_user(&self, id: UserId) -> StoreResult<Option<User>>;
    /// By username, case-insensitively, with what signing in needs.
    async fn find_user_login(&self, username: &str) -> StoreResult<Option<UserLogin>>;
    /// Every user, by username.
    async fn list_users(&self) -> StoreResult<Vec<User>>;
    /// Replaces the record (not the password nor the failed-attempt state; `created_at` kept,
    /// `updated_at` set). Disabling a user also ends their sessions, in the same transaction.
    /// `NotFound` if unknown. An agent a user acts as cannot be deleted (`Conflict`).
    async fn update_user(&self, user: User) -> StoreResult<User>;
    /// A new password hash; clears failed attempts and lockout and ends the user's sessions, in one
    /// transaction. `NotFound` if unknown.
    async fn set_user_password(&self, id: UserId, password_hash: &str) -> StoreResult<()>;
    /// One more failed sign-in, counted and checked in one step (racing failures are all counted);
    /// at `lock_after` consecutive failures the user is locked until `locked_until`, and each
    /// further failure before a success locks again (`lock_after = 0` never locks). Returns the
    /// state after; `NotFound` if unknown.
    async fn record_login_failure(
        &self,
        id: UserId,
        lock_after: u32,
        locked_until: Timestamp,
    ) -> StoreResult<UserLogin>;
    /// A successful sign-in: failed attempts and lockout cleared. `NotFound` if unknown.
    async fn record_login_success(&self, id: UserId) -> StoreResult<()>;
    async fn count_users(&self) -> StoreResult<u64>;

    /// A user's console preferences: JSON text the server owns (the store never reads inside it).
    /// `None` when the user has saved none, or is unknown.
    async fn get_user_prefs(&self, id: UserId) -> StoreResult<Option<String>>;
    /// Saves a user's preferences, replacing what was there. `NotFound` if the user is unknown.
    /// Disabling a user keeps them; they go with the user's record.
    async fn put_user_prefs(&self, id: UserId, prefs: &str) -> StoreResult<()>;

    /// `NotFound` if the user is unknown; `Conflict` if they are disabled (checked in the insert, so
    /// a sign-in racing a disable leaves no session) or the `id_hash` is taken.
    async fn create_session(&self, session: Session) -> StoreResult<()>;
    /// The stored session, expired or not (the caller decides).
    async fn find_session(&self, id_hash: &str) -> StoreResult<Option<Session>>;
    /// Moves the idle-expiry point (the server does this at most about once a minute per session);
    /// only forward. An unknown (just ended) session is not an error.
    async fn touch_session(&self, id_hash: &str, at: Timestamp) -> StoreResult<()>;
    /// Ends a session; an unknown one is not an error (signing out twice).
    async fn delete_session(&self, id_hash: &str) -> StoreResult<()>;
    /// Sessions idle since before `idle_before`, or past their absolute expiry at `now`, are removed;
    /// returns how many.
    async fn purge_sessions(&self, idle_before: Timestamp, now: Timestamp) -> StoreResult<u64>;

    // ---- dispatch (the engine) ----------------------------------------------------------------
    /// The smallest `earliest_time` of any `SCHEDULED` callback: the engine sleeps until then.
    async fn next_due(&self) -> StoreResult<Option<Timestamp>>;
    /// Promotes up to `limit` `SCHEDULED` callbacks with `earliest_time <= now`, earliest first:
    /// `QUEUED`, `queued_at` set where unset, event `promoted` (details: `earliest_time`). One
    /// transaction. Returns them as stored.
    async fn promote_due(&self, now: Timestamp, limit: u32, actor: &str) -> StoreResult<Vec<Callback>>;
    /// The `SCHEDULED` and `QUEUED` callbacks of a campaign, in id order after `after`, at most
    /// `limit` (recomputing earliest times when the campaign changes).
    async fn campaign_pending(
        &self,
        campaign_id: CampaignId,
        after: Option<CallbackId>,
        limit: u32,
    ) -> StoreResult<Vec<Callback>>;
    /// Applies recomputed earliest times (see [`EarliestChange`]) in one transaction; returns how
    /// many callbacks changed.
    async fn apply_earliest_times(&self, changes: Vec<EarliestChange>, actor: &str, at: Timestamp) -> StoreResult<u64>;
    /// Agents whose presence is `ready` and who hold no callback (`ROUTING`/`PROCESSING`), ready
    /// longest first (`ready_since`, then id).
    async fn free_agents(&self) -> StoreResult<Vec<Agent>>;
    /// How many agents are `ready` (holding a callback or not).
    async fn ready_agent_count(&self) -> StoreResult<u64>;
    /// Up to `limit` `QUEUED` callbacks of a source, in dispatch order.
    async fn queued_heads(&self, source: QueuedSource, limit: u32) -> StoreResult<Vec<Callback>>;
    /// The earliest `queued_at` of a `QUEUED` agent callback per campaign (routing wakes when their
    /// grace periods end).
    async fn oldest_queued_agent_callbacks(&self) -> StoreResult<Vec<(CampaignId, Timestamp)>>;
    /// See [`ReserveRequest`]. Returns the callbacks offered.
    async fn reserve_for_agents(&self, request: ReserveRequest) -> StoreResult<Vec<Callback>>;
    /// See [`ClaimRequest`]. Returns the callbacks leased.
    async fn claim_for_dialer(&self, request: ClaimRequest) -> StoreResult<Vec<Callback>>;
    /// Many transitions in one transaction, each checked and applied on its own in order (a refused
    /// one does not stop the others; later requests see earlier ones' effects).
    async fn transition_callbacks(&self, requests: Vec<TransitionRequest>) -> StoreResult<Vec<StoreResult<Callback>>>;
    /// `ROUTING` callbacks whose `hold_until <= now` go back to `QUEUED` (holder cleared; event
    /// `offer_expired` with `agent_id`, or `lease_expired` with `lease_id`); an agent whose offer
    /// expired is set `not_ready` in the same transaction (someone who does not answer is not
    /// there). At most `limit`, soonest first. Each comes back as stored, with what held it.
    async fn release_expired(&self, now: Timestamp, limit: u32, actor: &str) -> StoreResult<Vec<ExpiredHold>>;
    /// The soonest `hold_until` of any `ROUTING` callback.
    async fn next_hold_expiry(&self) -> StoreResult<Option<Timestamp>>;
    /// Sets an agent's presence (`ready_since` = `at` when it becomes `ready` from anything else,
    /// `None` when it leaves `ready`). Leaving `ready` for `not_ready` or `offline` releases the
    /// agent's `ROUTING` offer to `QUEUED` in the same transaction (event `offer_withdrawn`).
    /// Returns the agent and the released callback, if any.
    async fn set_presence(
        &self,
        agent_id: AgentId,
        presence: Presence,
        actor: &str,
        at: Timestamp,
    ) -> StoreResult<(Agent, Option<Callback>)>;
    /// The callback an agent holds: offered (`ROUTING`) or being handled (`PROCESSING`).
    async fn agent_offer(&self, agent_id: AgentId) -> StoreResult<Option<Callback>>;
    /// The callback's 1-based position in dispatch order among the `QUEUED` callbacks of its queue
    /// (queue callbacks) or of its agent (agent callbacks). `None` unless it is `QUEUED`.
    async fn queue_position(&self, id: CallbackId) -> StoreResult<Option<u64>>;
    /// Counts for metrics at `now` (see [`CallbackCounts`]).
    async fn callback_counts(&self, now: Timestamp, due_before: Timestamp) -> StoreResult<CallbackCounts>;
    /// Active (not `COMPLETED`) callbacks of `queue_ids` whose earliest time is in `[from, to)`,
    /// counted per queue and minute, in (queue, minute) order: the load each slot of a day has to
    /// carry, read in one query however many queues and slots a dashboard shows. Minutes, not
    /// slots, because slot grids differ per queue and are the domain's to compute.
    async fn due_per_minute(
        &self,
        queue_ids: Vec<QueueId>,
        from: Timestamp,
        to: Timestamp,
    ) -> StoreResult<Vec<DueCount>>;
    /// A lead of `list_id` with `phone` (E.164) as any of its numbers, if there is one.
    async fn find_lead_by_phone(&self, list_id: ListId, phone: &str) -> StoreResult<Option<Lead>>;

    // ---- the live event stream ----------------------------------------------------------------
    /// Audit events with id greater than `after`, oldest first, at most `limit`.
    async fn events_after(&self, after: i64, limit: u32) -> StoreResult<Vec<CallbackEvent>>;
    /// The id of the newest audit event (0 when there is none).
    async fn last_event_id(&self) -> StoreResult<i64>;
    /// A counter bumped after every commit that wrote callbacks or events: the live stream waits on
    /// it instead of polling. (A store shared by several processes also bumps it when it learns of
    /// another's commits; readers keep a slow poll as a fallback.)
    fn commit_signal(&self) -> tokio::sync::watch::Receiver<u64>;

    // ---- several nodes ------------------------------------------------------------------------
    /// The leader lease: of the processes sharing this store, the one holding it runs the singleton
    /// duties (promotion sweep, rescue of expired holds, retention). Takes the lease for `node` for
    /// `ttl` when it is free, expired or already `node`'s (renewing it), in one conditional write,
    /// timed by one clock every node shares (the database's, not the callers'). Answers who holds it
    /// afterwards: `node` if the claim succeeded, another node if that one's lease is still running.
    /// A store only one process can open answers `node` with no expiry and writes nothing.
    async fn claim_leadership(&self, node: &str, ttl: std::time::Duration) -> StoreResult<LeaderLease>;
    /// Gives the lease up if `node` holds it (a graceful shutdown), so the next node to claim gets it
    /// at once instead of after the expiry. Not holding it is not an error.
    async fn resign_leadership(&self, node: &str) -> StoreResult<()>;
}
