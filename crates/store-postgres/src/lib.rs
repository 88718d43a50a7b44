//! Rebound's PostgreSQL store: the same [`Store`] as the embedded SQLite one, for a contact centre
//! that runs several Rebound nodes against one database.
//!
//! - **Schema**: versioned SQL files in `migrations/` with the SQLite store's versions and names,
//!   embedded and applied at [`PgStore::connect`] under an advisory lock (nodes may start together).
//! - **Connections**: a `deadpool-postgres` pool of `tokio-postgres` clients; statements are prepared
//!   once per connection (`prepare_cached`). Every multi-statement change is one transaction.
//! - **Several nodes**: claims and reservations take rows with `FOR UPDATE SKIP LOCKED`, so two nodes
//!   never hold the same callback; no `pg_notify` runs inside a write transaction (it would serialise
//!   commits). [`Store::commit_signal`] is bumped after this process's own commits and by a watcher
//!   that notices other nodes' commits (see `events`).
//! - **Sections**: `config` (campaigns, lists, leads, queues, agents, wrap codes), `callbacks`
//!   (create, read, list, search, transitions, edits), `operations` (bulk cancel and its report,
//!   export, retention), `access` (tokens, users, sessions, preferences), `dispatch` (the engine's
//!   reads and batched writes), `events` (the live event stream), `leader` (the leader lease that
//!   picks the node running the singleton duties).

use std::sync::Arc;

use async_trait::async_trait;
use jiff::Timestamp;
use rebound_domain::model::*;
use rebound_store::*;

mod access;
mod callbacks;
mod codec;
mod config;
mod dispatch;
mod error;
mod events;
mod leader;
mod operations;
pub mod schema;
pub mod scratch;

/// Tuning of a [`PgStore`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PgOptions {
    /// The most connections this process opens (PostgreSQL's `max_connections` is shared by every
    /// node).
    pub max_connections: usize,
    /// How long opening one connection may take, when the URL does not say (`connect_timeout`):
    /// without it an unreachable server holds a request until the operating system gives up.
    pub connect_timeout: std::time::Duration,
}

impl Default for PgOptions {
    fn default() -> Self {
        PgOptions { max_connections: 16, connect_timeout: std::time::Duration::from_secs(10) }
    }
}

/// The PostgreSQL [`Store`]. Cheap to share behind an `Arc`.
pub struct PgStore {
    pool: deadpool_postgres::Pool,
    /// Bumped after commits that wrote something (this process's, and other nodes' as the watcher
    /// sees them).
    commit_signal: Arc<tokio::sync::watch::Sender<u64>>,
    /// Single creates of this process, combined into shared transactions (see `callbacks`).
    creates: callbacks::CreateQueue,
    /// How far the audit tail is final: the live stream never steps over an event still in flight.
    events: Arc<events::Horizon>,
}

impl PgStore {
    /// Connects to `url` (`postgres://user@host:port/database`), applies pending migrations and
    /// starts watching for other nodes' commits.
    pub async fn connect(url: &str, options: PgOptions) -> StoreResult<PgStore> {
        let mut config: tokio_postgres::Config =
            url.parse().map_err(|e| StoreError::Backend(format!("invalid database URL: {e}")))?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(options.connect_timeout);
        }
        let manager = deadpool_postgres::Manager::from_config(
            config,
            tokio_postgres::NoTls,
            deadpool_postgres::ManagerConfig { recycling_method: deadpool_postgres::RecyclingMethod::Fast },
        );
        let pool = deadpool_postgres::Pool::builder(manager)
            .max_size(options.max_connections.max(2))
            .build()
            .map_err(error::backend)?;
        let store = PgStore {
            pool,
            commit_signal: Arc::new(tokio::sync::watch::channel(0).0),
            creates: callbacks::CreateQueue::default(),
            events: Arc::new(events::Horizon::default()),
        };
        {
            let mut client = store.client().await?;
            schema::migrate(&mut client, codec::now_ms()).await?;
        }
        events::start_watcher(&store);
        Ok(store)
    }

    /// A pooled connection.
    pub(crate) async fn client(&self) -> StoreResult<deadpool_postgres::Object> {
        self.pool.get().await.map_err(|e| StoreError::Backend(format!("no database connection: {e}")))
    }

    /// Tells the engine something was committed (after the COMMIT, never inside a transaction).
    pub(crate) fn committed(&self) {
        self.commit_signal.send_modify(|n| *n = n.wrapping_add(1));
    }
}

#[async_trait]
impl Store for PgStore {
    async fn ping(&self) -> StoreResult<()> {
        config::ping(self).await
    }
    async fn create_campaign(&self, campaign: Campaign) -> StoreResult<Campaign> {
        config::create_campaign(self, campaign).await
    }
    async fn get_campaign(&self, id: CampaignId) -> StoreResult<Option<Campaign>> {
        config::get_campaign(self, id).await
    }
    async fn list_campaigns(&self) -> StoreResult<Vec<Campaign>> {
        config::list_campaigns(self).await
    }
    async fn update_campaign(&self, campaign: Campaign) -> StoreResult<Campaign> {
        config::update_campaign(self, campaign).await
    }
    async fn delete_campaign(&self, id: CampaignId) -> StoreResult<()> {
        config::delete_campaign(self, id).await
    }
    async fn create_list(&self, list: List) -> StoreResult<List> {
        config::create_list(self, list).await
    }
    async fn get_list(&self, id: ListId) -> StoreResult<Option<List>> {
        config::get_list(self, id).await
    }
    async fn list_lists(&self) -> StoreResult<Vec<List>> {
        config::list_lists(self).await
    }
    async fn update_list(&self, list: List) -> StoreResult<List> {
        config::update_list(self, list).await
    }
    async fn delete_list(&self, id: ListId) -> StoreResult<()> {
        config::delete_list(self, id).await
    }
    async fn create_lead(&self, lead: Lead) -> StoreResult<Lead> {
        config::create_lead(self, lead).await
    }
    async fn create_leads(&self, leads: Vec<Lead>) -> StoreResult<Vec<Lead>> {
        config::create_leads(self, leads).await
    }
    async fn get_lead(&self, id: LeadId) -> StoreResult<Option<Lead>> {
        config::get_lead(self, id).await
    }
    async fn list_leads(&self, list_id: Option<ListId>, page: PageRequest) -> StoreResult<Page<Lead>> {
        config::list_leads(self, list_id, page).await
    }
    async fn update_lead(&self, lead: Lead) -> StoreResult<Lead> {
        config::update_lead(self, lead).await
    }
    async fn delete_lead(&self, id: LeadId) -> StoreResult<()> {
        config::delete_lead(self, id).await
    }
    async fn create_queue(&self, queue: Queue) -> StoreResult<Queue> {
        config::create_queue(self, queue).await
    }
    async fn get_queue(&self, id: QueueId) -> StoreResult<Option<Queue>> {
        config::get_queue(self, id).await
    }
    async fn list_queues(&self) -> StoreResult<Vec<Queue>> {
        config::list_queues(self).await
    }
    async fn update_queue(&self, queue: Queue) -> StoreResult<Queue> {
        config::update_queue(self, queue).await
    }
    async fn delete_queue(&self, id: QueueId) -> StoreResult<()> {
        config::delete_queue(self, id).await
    }
    async fn create_agent(&self, agent: Agent) -> StoreResult<Agent> {
        config::create_agent(self, agent).await
    }
    async fn get_agent(&self, id: AgentId) -> StoreResult<Option<Agent>> {
        config::get_agent(self, id).await
    }
    async fn list_agents(&self) -> StoreResult<Vec<Agent>> {
        config::list_agents(self).await
    }
    async fn update_agent(&self, agent: Agent) -> StoreResult<Agent> {
        config::update_agent(self, agent).await
    }
    async fn delete_agent(&self, id: AgentId) -> StoreResult<()> {
        config::delete_agent(self, id).await
    }
    async fn create_wrap_code(&self, wrap_code: WrapCode) -> StoreResult<WrapCode> {
        config::create_wrap_code(self, wrap_code).await
    }
    async fn get_wrap_code(&self, id: WrapCodeId) -> StoreResult<Option<WrapCode>> {
        config::get_wrap_code(self, id).await
    }
    async fn list_wrap_codes(&self) -> StoreResult<Vec<WrapCode>> {
        config::list_wrap_codes(self).await
    }
    async fn update_wrap_code(&self, wrap_code: WrapCode) -> StoreResult<WrapCode> {
        config::update_wrap_code(self, wrap_code).await
    }
    async fn delete_wrap_code(&self, id: WrapCodeId) -> StoreResult<()> {
        config::delete_wrap_code(self, id).await
    }
    async fn create_callback(&self, new: NewCallback) -> StoreResult<CreateOutcome> {
        callbacks::create_callback(self, new).await
    }
    async fn create_callbacks(&self, batch: Vec<NewCallback>) -> StoreResult<Vec<StoreResult<CreateOutcome>>> {
        callbacks::create_callbacks(self, batch).await
    }
    async fn get_callback(&self, id: CallbackId) -> StoreResult<Option<Callback>> {
        callbacks::get_callback(self, id).await
    }
    async fn get_callbacks(&self, ids: Vec<CallbackId>) -> StoreResult<Vec<Option<Callback>>> {
        callbacks::get_callbacks(self, ids).await
    }
    async fn list_callbacks(
        &self,
        filter: &CallbackFilter,
        sort: Sort,
        page: PageRequest,
    ) -> StoreResult<Page<Callback>> {
        callbacks::list_callbacks(self, filter, sort, page).await
    }
    async fn search_callbacks(
        &self,
        id: Option<CallbackId>,
        phones: &[String],
        limit: u32,
    ) -> StoreResult<Vec<Callback>> {
        callbacks::search_callbacks(self, id, phones, limit).await
    }
    async fn find_idempotent(&self, key: &str) -> StoreResult<Option<(String, Callback)>> {
        callbacks::find_idempotent(self, key).await
    }
    async fn callback_events(&self, id: CallbackId) -> StoreResult<Vec<CallbackEvent>> {
        callbacks::callback_events(self, id).await
    }
    async fn transition_callback(&self, request: TransitionRequest) -> StoreResult<Callback> {
        callbacks::transition_callback(self, request).await
    }
    async fn slot_bookings(&self, queue_id: QueueId, from: Timestamp, to: Timestamp) -> StoreResult<SlotBookings> {
        callbacks::slot_bookings(self, queue_id, from, to).await
    }
    async fn update_callback(&self, request: UpdateRequest) -> StoreResult<Callback> {
        callbacks::update_callback(self, request).await
    }
    async fn delete_callback(&self, id: CallbackId, actor: &str, at: Timestamp) -> StoreResult<Callback> {
        callbacks::delete_callback(self, id, actor, at).await
    }
    async fn bulk_cancel(&self, request: BulkCancelRequest) -> StoreResult<BulkCancelSummary> {
        operations::bulk_cancel(self, request).await
    }
    async fn cancellation_report(&self, report_id: &str) -> StoreResult<Option<CancellationReport>> {
        operations::cancellation_report(self, report_id).await
    }
    async fn export_callbacks(
        &self,
        filter: &CallbackFilter,
        descending: bool,
        after: Option<ExportCursor>,
        limit: u32,
    ) -> StoreResult<Vec<Callback>> {
        operations::export_callbacks(self, filter, descending, after, limit).await
    }
    async fn purge_expired(&self, now: Timestamp, limit: u32) -> StoreResult<PurgeOutcome> {
        operations::purge_expired(self, now, limit).await
    }
    async fn create_token(&self, token: NewToken) -> StoreResult<ApiToken> {
        access::create_token(self, token).await
    }
    async fn find_token(&self, secret_hash: &str) -> StoreResult<Option<ApiToken>> {
        access::find_token(self, secret_hash).await
    }
    async fn count_tokens(&self) -> StoreResult<u64> {
        access::count_tokens(self).await
    }
    async fn list_tokens(&self) -> StoreResult<Vec<ApiToken>> {
        access::list_tokens(self).await
    }
    async fn revoke_token(&self, id: i64) -> StoreResult<ApiToken> {
        access::revoke_token(self, id).await
    }
    async fn touch_tokens(&self, used: Vec<(i64, Timestamp)>) -> StoreResult<()> {
        access::touch_tokens(self, used).await
    }
    async fn create_user(&self, user: User, password_hash: &str) -> StoreResult<User> {
        access::create_user(self, user, password_hash).await
    }
    async fn get_user(&self, id: UserId) -> StoreResult<Option<User>> {
        access::get_user(self, id).await
    }
    async fn find_user_login(&self, username: &str) -> StoreResult<Option<UserLogin>> {
        access::find_user_login(self, username).await
    }
    async fn list_users(&self) -> StoreResult<Vec<User>> {
        access::list_users(self).await
    }
    async fn update_user(&self, user: User) -> StoreResult<User> {
        access::update_user(self, user).await
    }
    async fn set_user_password(&self, id: UserId, password_hash: &str) -> StoreResult<()> {
        access::set_user_password(self, id, password_hash).await
    }
    async fn record_login_failure(
        &self,
        id: UserId,
        lock_after: u32,
        locked_until: Timestamp,
    ) -> StoreResult<UserLogin> {
        access::record_login_failure(self, id, lock_after, locked_until).await
    }
    async fn record_login_success(&self, id: UserId) -> StoreResult<()> {
        access::record_login_success(self, id).await
    }
    async fn count_users(&self) -> StoreResult<u64> {
        access::count_users(self).await
    }
    async fn get_user_prefs(&self, id: UserId) -> StoreResult<Option<String>> {
        access::get_user_prefs(self, id).await
    }
    async fn put_user_prefs(&self, id: UserId, prefs: &str) -> StoreResult<()> {
        access::put_user_prefs(self, id, prefs).await
    }
    async fn create_session(&self, session: Session) -> StoreResult<()> {
        access::create_session(self, session).await
    }
    async fn find_session(&self, id_hash: &str) -> StoreResult<Option<Session>> {
        access::find_session(self, id_hash).await
    }
    async fn touch_session(&self, id_hash: &str, at: Timestamp) -> StoreResult<()> {
        access::touch_session(self, id_hash, at).await
    }
    async fn delete_session(&self, id_hash: &str) -> StoreResult<()> {
        access::delete_session(self, id_hash).await
    }
    async fn purge_sessions(&self, idle_before: Timestamp, now: Timestamp) -> StoreResult<u64> {
        access::purge_sessions(self, idle_before, now).await
    }
    async fn next_due(&self) -> StoreResult<Option<Timestamp>> {
        dispatch::next_due(self).await
    }
    async fn promote_due(&self, now: Timestamp, limit: u32, actor: &str) -> StoreResult<Vec<Callback>> {
        dispatch::promote_due(self, now, limit, actor).await
    }
    async fn campaign_pending(
        &self,
        campaign_id: CampaignId,
        after: Option<CallbackId>,
        limit: u32,
    ) -> StoreResult<Vec<Callback>> {
        dispatch::campaign_pending(self, campaign_id, after, limit).await
    }
    async fn apply_earliest_times(&self, changes: Vec<EarliestChange>, actor: &str, at: Timestamp) -> StoreResult<u64> {
        dispatch::apply_earliest_times(self, changes, actor, at).await
    }
    async fn free_agents(&self) -> StoreResult<Vec<Agent>> {
        dispatch::free_agents(self).await
    }
    async fn ready_agent_count(&self) -> StoreResult<u64> {
        dispatch::ready_agent_count(self).await
    }
    async fn queued_heads(&self, source: QueuedSource, limit: u32) -> StoreResult<Vec<Callback>> {
        dispatch::queued_heads(self, source, limit).await
    }
    async fn oldest_queued_agent_callbacks(&self) -> StoreResult<Vec<(CampaignId, Timestamp)>> {
        dispatch::oldest_queued_agent_callbacks(self).await
    }
    async fn reserve_for_agents(&self, request: ReserveRequest) -> StoreResult<Vec<Callback>> {
        dispatch::reserve_for_agents(self, request).await
    }
    async fn claim_for_dialer(&self, request: ClaimRequest) -> StoreResult<Vec<Callback>> {
        dispatch::claim_for_dialer(self, request).await
    }
    async fn transition_callbacks(&self, requests: Vec<TransitionRequest>) -> StoreResult<Vec<StoreResult<Callback>>> {
        dispatch::transition_callbacks(self, requests).await
    }
    async fn release_expired(&self, now: Timestamp, limit: u32, actor: &str) -> StoreResult<Vec<ExpiredHold>> {
        dispatch::release_expired(self, now, limit, actor).await
    }
    async fn next_hold_expiry(&self) -> StoreResult<Option<Timestamp>> {
        dispatch::next_hold_expiry(self).await
    }
    async fn set_presence(
        &self,
        agent_id: AgentId,
        presence: Presence,
        actor: &str,
        at: Timestamp,
    ) -> StoreResult<(Agent, Option<Callback>)> {
        dispatch::set_presence(self, agent_id, presence, actor, at).await
    }
    async fn agent_offer(&self, agent_id: AgentId) -> StoreResult<Option<Callback>> {
        dispatch::agent_offer(self, agent_id).await
    }
    async fn queue_position(&self, id: CallbackId) -> StoreResult<Option<u64>> {
        dispatch::queue_position(self, id).await
    }
    async fn callback_counts(&self, now: Timestamp, due_before: Timestamp) -> StoreResult<CallbackCounts> {
        dispatch::callback_counts(self, now, due_before).await
    }
    async fn due_per_minute(
        &self,
        queue_ids: Vec<QueueId>,
        from: Timestamp,
        to: Timestamp,
    ) -> StoreResult<Vec<DueCount>> {
        dispatch::due_per_minute(self, queue_ids, from, to).await
    }
    async fn find_lead_by_phone(&self, list_id: ListId, phone: &str) -> StoreResult<Option<Lead>> {
        config::find_lead_by_phone(self, list_id, phone).await
    }
    async fn events_after(&self, after: i64, limit: u32) -> StoreResult<Vec<CallbackEvent>> {
        events::events_after(self, after, limit).await
    }
    async fn last_event_id(&self) -> StoreResult<i64> {
        events::last_event_id(self).await
    }
    fn commit_signal(&self) -> tokio::sync::watch::Receiver<u64> {
        events::commit_signal(self)
    }
    async fn claim_leadership(&self, node: &str, ttl: std::time::Duration) -> StoreResult<LeaderLease> {
        leader::claim_leadership(self, node, ttl).await
    }
    async fn resign_leadership(&self, node: &str) -> StoreResult<()> {
        leader::resign_leadership(self, node).await
    }
}
