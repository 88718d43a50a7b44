//! Rebound's embedded default store: one SQLite file, zero setup.
//!
//! - **Durability**: WAL mode with `synchronous=FULL` — every acknowledged write (a created callback,
//!   a transition and its audit event) has been fsynced and survives power loss, not only a crash of
//!   the process. See [`schema`] for every pragma and why.
//! - **Writes**: one dedicated writer thread owns the only read-write connection and group-commits
//!   (see [`writer`]): concurrent requests queue their mutations, the writer applies a batch in one
//!   transaction (a refused request leaves no trace in it), and answers each only after the COMMIT.
//! - **Reads**: a small pool of read-only connections ([`reader`]); WAL lets them read the last
//!   committed state while the writer works.
//! - **Schema**: versioned SQL files in `migrations/`, embedded and applied at [`SqliteStore::open`];
//!   the PostgreSQL store uses the same versions and names.
//! - **Large operations** ([`operations`]): a bulk cancel is cancelled a batch per writer job, so other
//!   writes interleave; exports page through the desired-time index with a keyset cursor; retention
//!   removes a bounded amount per pass.
//! - **Dispatch** ([`dispatch`]): promotion, reservations, dialler claims and the rescuer each write a
//!   whole batch of callbacks in one writer job, along partial indexes of the routing heads; the
//!   writer bumps a commit counter ([`Store::commit_signal`]) after every commit that wrote anything.
//! - **Access** (`access`): API tokens, console users, their sessions and console preferences; the
//!   changes that must go together (disabling a user or a new password and the end of their
//!   sessions, a failed sign-in and the lockout) are one writer job each.
//!
//! ```no_run
//! # async fn demo() -> Result<(), rebound_store::StoreError> {
//! use rebound_store_sqlite::{SqliteOptions, SqliteStore};
//! let store = SqliteStore::open_in_dir(std::path::Path::new("./rebound-data"))?;
//! # let _ = SqliteStore::open(std::path::Path::new("x.db"), SqliteOptions::default())?;
//! # Ok(()) }
//! ```

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use jiff::Timestamp;
use rebound_domain::model::*;
use rebound_store::*;

mod access;
mod callbacks;
pub mod ceiling;
mod codec;
mod config;
mod dispatch;
mod error;
mod operations;
mod reader;
pub mod schema;
mod writer;

/// Tuning of a [`SqliteStore`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqliteOptions {
    /// Read-only connections in the read pool (at least 1).
    pub read_connections: usize,
    /// The most write jobs the writer commits in one transaction.
    pub max_batch: usize,
}

impl Default for SqliteOptions {
    fn default() -> Self {
        SqliteOptions { read_connections: 4, max_batch: 512 }
    }
}

/// The SQLite [`Store`]. Cheap to share behind an `Arc`; dropping it stops the writer thread after
/// the writes already queued and closes the file.
pub struct SqliteStore {
    // Field order matters on drop: the readers close before the writer checkpoints and closes.
    readers: reader::ReadPool,
    writer: writer::Writer,
    path: PathBuf,
}

impl SqliteStore {
    /// The database file name [`SqliteStore::open_in_dir`] uses.
    pub const FILE_NAME: &'static str = "rebound.db";

    /// Opens (creating if needed) the database at `path`, applies pending migrations and starts the
    /// writer thread. Blocking: call it before serving, or from `spawn_blocking`.
    pub fn open(path: &Path, options: SqliteOptions) -> StoreResult<SqliteStore> {
        let mut conn = schema::open_writer(path)?;
        schema::migrate(&mut conn, codec::now_ms())?;
        let readers =
            (0..options.read_connections.max(1)).map(|_| schema::open_reader(path)).collect::<StoreResult<Vec<_>>>()?;
        let writer = writer::Writer::start(conn, options.max_batch)?;
        Ok(SqliteStore { readers: reader::ReadPool::new(readers), writer, path: path.to_path_buf() })
    }

    /// Opens `dir/rebound.db` with default options, creating `dir` if needed.
    pub fn open_in_dir(dir: &Path) -> StoreResult<SqliteStore> {
        std::fs::create_dir_all(dir)
            .map_err(|e| StoreError::Backend(format!("cannot create {}: {e}", dir.display())))?;
        SqliteStore::open(&dir.join(Self::FILE_NAME), SqliteOptions::default())
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The ids a bulk cancel by filter covers, in desired-time order, read page by page so no read
    /// holds a connection (or a WAL snapshot) for the whole selection. A callback moved across the
    /// page boundary between two pages is counted once.
    async fn select_for_bulk(&self, filter: CallbackFilter) -> StoreResult<Vec<CallbackId>> {
        let filter = Arc::new(filter);
        let (mut ids, mut seen) = (Vec::new(), HashSet::new());
        let mut after = None;
        loop {
            let f = filter.clone();
            let page = self
                .readers
                .read(move |c| operations::selection_page(c, &f, after, operations::SELECTION_PAGE))
                .await?;
            let full = page.len() == operations::SELECTION_PAGE as usize;
            after = page.last().copied();
            ids.extend(page.into_iter().filter(|(_, id)| seen.insert(*id)).map(|(_, id)| codec::id_from(id)));
            if !full {
                return Ok(ids);
            }
        }
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn ping(&self) -> StoreResult<()> {
        self.readers.read(|c| c.query_row("select 1", [], |_| Ok(())).map_err(error::backend)).await
    }

    // ---- configuration ------------------------------------------------------------------------

    async fn create_campaign(&self, campaign: Campaign) -> StoreResult<Campaign> {
        self.writer.write(move |c| config::create_campaign(c, &campaign)).await
    }
    async fn get_campaign(&self, id: CampaignId) -> StoreResult<Option<Campaign>> {
        self.readers.read(move |c| config::get_campaign(c, id)).await
    }
    async fn list_campaigns(&self) -> StoreResult<Vec<Campaign>> {
        self.readers.read(config::list_campaigns).await
    }
    async fn update_campaign(&self, campaign: Campaign) -> StoreResult<Campaign> {
        self.writer.write(move |c| config::update_campaign(c, &campaign)).await
    }
    async fn delete_campaign(&self, id: CampaignId) -> StoreResult<()> {
        self.writer.write(move |c| config::delete_campaign(c, id)).await
    }

    async fn create_list(&self, list: List) -> StoreResult<List> {
        self.writer.write(move |c| config::create_list(c, &list)).await
    }
    async fn get_list(&self, id: ListId) -> StoreResult<Option<List>> {
        self.readers.read(move |c| config::get_list(c, id)).await
    }
    async fn list_lists(&self) -> StoreResult<Vec<List>> {
        self.readers.read(config::list_lists).await
    }
    async fn update_list(&self, list: List) -> StoreResult<List> {
        self.writer.write(move |c| config::update_list(c, &list)).await
    }
    async fn delete_list(&self, id: ListId) -> StoreResult<()> {
        self.writer.write(move |c| config::delete_list(c, id)).await
    }

    async fn create_lead(&self, lead: Lead) -> StoreResult<Lead> {
        self.writer.write(move |c| config::create_lead(c, &lead)).await
    }
    async fn create_leads(&self, leads: Vec<Lead>) -> StoreResult<Vec<Lead>> {
        // All or nothing: one bad lead refuses the whole import.
        self.writer.write(move |c| leads.iter().map(|l| config::create_lead(c, l)).collect()).await
    }
    async fn get_lead(&self, id: LeadId) -> StoreResult<Option<Lead>> {
        self.readers.read(move |c| config::get_lead(c, id)).await
    }
    async fn list_leads(&self, list_id: Option<ListId>, page: PageRequest) -> StoreResult<Page<Lead>> {
        self.readers.read(move |c| config::list_leads(c, list_id, page)).await
    }
    async fn update_lead(&self, lead: Lead) -> StoreResult<Lead> {
        self.writer.write(move |c| config::update_lead(c, &lead)).await
    }
    async fn delete_lead(&self, id: LeadId) -> StoreResult<()> {
        self.writer.write(move |c| config::delete_lead(c, id)).await
    }

    async fn create_queue(&self, queue: Queue) -> StoreResult<Queue> {
        self.writer.write(move |c| config::create_queue(c, &queue)).await
    }
    async fn get_queue(&self, id: QueueId) -> StoreResult<Option<Queue>> {
        self.readers.read(move |c| config::get_queue(c, id)).await
    }
    async fn list_queues(&self) -> StoreResult<Vec<Queue>> {
        self.readers.read(config::list_queues).await
    }
    async fn update_queue(&self, queue: Queue) -> StoreResult<Queue> {
        self.writer.write(move |c| config::update_queue(c, &queue)).await
    }
    async fn delete_queue(&self, id: QueueId) -> StoreResult<()> {
        self.writer.write(move |c| config::delete_queue(c, id)).await
    }

    async fn create_agent(&self, agent: Agent) -> StoreResult<Agent> {
        self.writer.write(move |c| config::create_agent(c, &agent)).await
    }
    async fn get_agent(&self, id: AgentId) -> StoreResult<Option<Agent>> {
        self.readers.read(move |c| config::get_agent(c, id)).await
    }
    async fn list_agents(&self) -> StoreResult<Vec<Agent>> {
        self.readers.read(config::list_agents).await
    }
    async fn update_agent(&self, agent: Agent) -> StoreResult<Agent> {
        self.writer.write(move |c| config::update_agent(c, &agent)).await
    }
    async fn delete_agent(&self, id: AgentId) -> StoreResult<()> {
        self.writer.write(move |c| config::delete_agent(c, id)).await
    }

    async fn create_wrap_code(&self, wrap_code: WrapCode) -> StoreResult<WrapCode> {
        self.writer.write(move |c| config::create_wrap_code(c, &wrap_code)).await
    }
    async fn get_wrap_code(&self, id: WrapCodeId) -> StoreResult<Option<WrapCode>> {
        self.readers.read(move |c| config::get_wrap_code(c, id)).await
    }
    async fn list_wrap_codes(&self) -> StoreResult<Vec<WrapCode>> {
        self.readers.read(config::list_wrap_codes).await
    }
    async fn update_wrap_code(&self, wrap_code: WrapCode) -> StoreResult<WrapCode> {
        self.writer.write(move |c| config::update_wrap_code(c, &wrap_code)).await
    }
    async fn delete_wrap_code(&self, id: WrapCodeId) -> StoreResult<()> {
        self.writer.write(move |c| config::delete_wrap_code(c, id)).await
    }

    // ---- callbacks ----------------------------------------------------------------------------

    async fn create_callback(&self, new: NewCallback) -> StoreResult<CreateOutcome> {
        self.writer.write_checked(move |c| callbacks::create(c, new)).await
    }
    async fn create_callbacks(&self, batch: Vec<NewCallback>) -> StoreResult<Vec<StoreResult<CreateOutcome>>> {
        self.writer.write_checked(move |c| callbacks::create_batch(c, batch)).await
    }
    async fn find_idempotent(&self, key: &str) -> StoreResult<Option<(String, Callback)>> {
        let key = key.to_string();
        self.readers.read(move |c| callbacks::find_idempotent(c, &key)).await
    }
    async fn get_callback(&self, id: CallbackId) -> StoreResult<Option<Callback>> {
        self.readers.read(move |c| callbacks::get(c, id)).await
    }
    async fn get_callbacks(&self, ids: Vec<CallbackId>) -> StoreResult<Vec<Option<Callback>>> {
        self.readers.read(move |c| ids.iter().map(|id| callbacks::get(c, *id)).collect()).await
    }
    async fn list_callbacks(
        &self,
        filter: &CallbackFilter,
        sort: Sort,
        page: PageRequest,
    ) -> StoreResult<Page<Callback>> {
        let filter = filter.clone();
        self.readers.read(move |c| callbacks::list(c, &filter, sort, page)).await
    }
    async fn search_callbacks(
        &self,
        id: Option<CallbackId>,
        phones: &[String],
        limit: u32,
    ) -> StoreResult<Vec<Callback>> {
        let phones = phones.to_vec();
        self.readers.read(move |c| callbacks::search(c, id, &phones, limit)).await
    }
    async fn callback_events(&self, id: CallbackId) -> StoreResult<Vec<CallbackEvent>> {
        self.readers.read(move |c| callbacks::events(c, id)).await
    }
    async fn transition_callback(&self, request: TransitionRequest) -> StoreResult<Callback> {
        self.writer.write_checked(move |c| callbacks::transition(c, request)).await
    }
    async fn slot_bookings(&self, queue_id: QueueId, from: Timestamp, to: Timestamp) -> StoreResult<SlotBookings> {
        self.readers.read(move |c| callbacks::slot_bookings(c, queue_id, from, to)).await
    }
    async fn update_callback(&self, request: UpdateRequest) -> StoreResult<Callback> {
        self.writer.write_checked(move |c| operations::update(c, request)).await
    }
    async fn delete_callback(&self, id: CallbackId, actor: &str, at: Timestamp) -> StoreResult<Callback> {
        let actor = actor.to_string();
        self.writer.write_checked(move |c| operations::delete(c, id, &actor, at)).await
    }
    async fn bulk_cancel(&self, request: BulkCancelRequest) -> StoreResult<BulkCancelSummary> {
        let ids = match request.selection {
            BulkSelection::Ids(ids) => {
                let mut seen = HashSet::with_capacity(ids.len());
                ids.into_iter().filter(|id| seen.insert(*id)).collect()
            }
            BulkSelection::Filter(filter) => self.select_for_bulk(filter).await?,
        };
        let bulk = Arc::new(operations::BulkCancel::new(
            request.report_id,
            request.by_customer,
            request.reason,
            request.actor,
            request.at,
        ));
        let mut summary = BulkCancelSummary { report_id: bulk.report_id.clone(), cancelled: 0, skipped: Vec::new() };
        let mut expires = None;
        // An empty selection still leaves its (empty) report: one job with no ids.
        let chunks: Vec<&[CallbackId]> =
            if ids.is_empty() { vec![&[]] } else { ids.chunks(operations::BULK_CHUNK).collect() };
        let mut position = 0;
        for (i, ids) in chunks.into_iter().enumerate() {
            // One chunk at a time, each queued only after the one before committed: writes that
            // arrived meanwhile are ahead of it in the writer's queue (see `operations`).
            let chunk = operations::Chunk { first: i == 0, position, ids: ids.to_vec(), expires_before: expires };
            let bulk = bulk.clone();
            let done = self.writer.write_checked(move |c| operations::cancel_chunk(c, &bulk, &chunk)).await?;
            position += ids.len() as i64;
            expires = done.expires;
            summary.cancelled += done.cancelled;
            summary.skipped.extend(done.skipped);
        }
        Ok(summary)
    }
    async fn cancellation_report(&self, report_id: &str) -> StoreResult<Option<CancellationReport>> {
        let report_id = report_id.to_string();
        self.readers.read(move |c| operations::report(c, &report_id)).await
    }
    async fn export_callbacks(
        &self,
        filter: &CallbackFilter,
        descending: bool,
        after: Option<ExportCursor>,
        limit: u32,
    ) -> StoreResult<Vec<Callback>> {
        let filter = filter.clone();
        self.readers.read(move |c| operations::export(c, &filter, descending, after, limit)).await
    }
    async fn purge_expired(&self, now: Timestamp, limit: u32) -> StoreResult<PurgeOutcome> {
        self.writer.write_checked(move |c| operations::purge(c, now, limit)).await
    }

    // ---- access -------------------------------------------------------------------------------

    async fn create_token(&self, token: NewToken) -> StoreResult<ApiToken> {
        self.writer.write(move |c| access::create_token(c, &token)).await
    }
    async fn find_token(&self, secret_hash: &str) -> StoreResult<Option<ApiToken>> {
        let secret_hash = secret_hash.to_string();
        self.readers.read(move |c| access::find_token(c, &secret_hash)).await
    }
    async fn count_tokens(&self) -> StoreResult<u64> {
        self.readers.read(access::count_tokens).await
    }
    async fn list_tokens(&self) -> StoreResult<Vec<ApiToken>> {
        self.readers.read(access::list_tokens).await
    }
    async fn revoke_token(&self, id: i64) -> StoreResult<ApiToken> {
        self.writer.write(move |c| access::revoke_token(c, id)).await
    }
    async fn touch_tokens(&self, used: Vec<(i64, Timestamp)>) -> StoreResult<()> {
        self.writer.write(move |c| access::touch_tokens(c, &used)).await
    }

    async fn create_user(&self, user: User, password_hash: &str) -> StoreResult<User> {
        let password_hash = password_hash.to_string();
        self.writer.write(move |c| access::create_user(c, &user, &password_hash)).await
    }
    async fn get_user(&self, id: UserId) -> StoreResult<Option<User>> {
        self.readers.read(move |c| access::get_user(c, id)).await
    }
    async fn find_user_login(&self, username: &str) -> StoreResult<Option<UserLogin>> {
        let username = username.to_string();
        self.readers.read(move |c| access::find_user_login(c, &username)).await
    }
    async fn list_users(&self) -> StoreResult<Vec<User>> {
        self.readers.read(access::list_users).await
    }
    async fn update_user(&self, user: User) -> StoreResult<User> {
        self.writer.write(move |c| access::update_user(c, &user)).await
    }
    async fn set_user_password(&self, id: UserId, password_hash: &str) -> StoreResult<()> {
        let password_hash = password_hash.to_string();
        self.writer.write(move |c| access::set_user_password(c, id, &password_hash)).await
    }
    async fn record_login_failure(
        &self,
        id: UserId,
        lock_after: u32,
        locked_until: Timestamp,
    ) -> StoreResult<UserLogin> {
        self.writer.write(move |c| access::record_login_failure(c, id, lock_after, locked_until)).await
    }
    async fn record_login_success(&self, id: UserId) -> StoreResult<()> {
        self.writer.write(move |c| access::record_login_success(c, id)).await
    }
    async fn count_users(&self) -> StoreResult<u64> {
        self.readers.read(access::count_users).await
    }

    async fn get_user_prefs(&self, id: UserId) -> StoreResult<Option<String>> {
        self.readers.read(move |c| access::get_user_prefs(c, id)).await
    }
    async fn put_user_prefs(&self, id: UserId, prefs: &str) -> StoreResult<()> {
        let prefs = prefs.to_string();
        self.writer.write(move |c| access::put_user_prefs(c, id, &prefs)).await
    }

    async fn create_session(&self, session: Session) -> StoreResult<()> {
        self.writer.write(move |c| access::create_session(c, &session)).await
    }
    async fn find_session(&self, id_hash: &str) -> StoreResult<Option<Session>> {
        let id_hash = id_hash.to_string();
        self.readers.read(move |c| access::find_session(c, &id_hash)).await
    }
    async fn touch_session(&self, id_hash: &str, at: Timestamp) -> StoreResult<()> {
        let id_hash = id_hash.to_string();
        self.writer.write(move |c| access::touch_session(c, &id_hash, at)).await
    }
    async fn delete_session(&self, id_hash: &str) -> StoreResult<()> {
        let id_hash = id_hash.to_string();
        self.writer.write(move |c| access::delete_session(c, &id_hash)).await
    }
    async fn purge_sessions(&self, idle_before: Timestamp, now: Timestamp) -> StoreResult<u64> {
        self.writer.write(move |c| access::purge_sessions(c, idle_before, now)).await
    }

    // ---- dispatch (the engine) ----------------------------------------------------------------

    async fn next_due(&self) -> StoreResult<Option<Timestamp>> {
        self.readers.read(dispatch::next_due).await
    }
    async fn promote_due(&self, now: Timestamp, limit: u32, actor: &str) -> StoreResult<Vec<Callback>> {
        let actor = actor.to_string();
        self.writer.write_checked(move |c| dispatch::promote_due(c, now, limit, &actor)).await
    }
    async fn campaign_pending(
        &self,
        campaign_id: CampaignId,
        after: Option<CallbackId>,
        limit: u32,
    ) -> StoreResult<Vec<Callback>> {
        self.readers.read(move |c| dispatch::campaign_pending(c, campaign_id, after, limit)).await
    }
    async fn apply_earliest_times(&self, changes: Vec<EarliestChange>, actor: &str, at: Timestamp) -> StoreResult<u64> {
        let actor = actor.to_string();
        self.writer.write_checked(move |c| dispatch::apply_earliest_times(c, changes, &actor, at)).await
    }
    async fn free_agents(&self) -> StoreResult<Vec<Agent>> {
        self.readers.read(dispatch::free_agents).await
    }
    async fn ready_agent_count(&self) -> StoreResult<u64> {
        self.readers.read(dispatch::ready_agent_count).await
    }
    async fn queued_heads(&self, source: QueuedSource, limit: u32) -> StoreResult<Vec<Callback>> {
        self.readers.read(move |c| dispatch::queued_heads(c, source, limit)).await
    }
    async fn oldest_queued_agent_callbacks(&self) -> StoreResult<Vec<(CampaignId, Timestamp)>> {
        self.readers.read(dispatch::oldest_queued_agent_callbacks).await
    }
    async fn reserve_for_agents(&self, request: ReserveRequest) -> StoreResult<Vec<Callback>> {
        self.writer.write_checked(move |c| dispatch::reserve_for_agents(c, request)).await
    }
    async fn claim_for_dialer(&self, request: ClaimRequest) -> StoreResult<Vec<Callback>> {
        self.writer.write_checked(move |c| dispatch::claim_for_dialer(c, request)).await
    }
    async fn transition_callbacks(&self, requests: Vec<TransitionRequest>) -> StoreResult<Vec<StoreResult<Callback>>> {
        self.writer.write_checked(move |c| dispatch::transition_many(c, requests)).await
    }
    async fn release_expired(&self, now: Timestamp, limit: u32, actor: &str) -> StoreResult<Vec<ExpiredHold>> {
        let actor = actor.to_string();
        self.writer.write_checked(move |c| dispatch::release_expired(c, now, limit, &actor)).await
    }
    async fn next_hold_expiry(&self) -> StoreResult<Option<Timestamp>> {
        self.readers.read(dispatch::next_hold_expiry).await
    }
    async fn set_presence(
        &self,
        agent_id: AgentId,
        presence: Presence,
        actor: &str,
        at: Timestamp,
    ) -> StoreResult<(Agent, Option<Callback>)> {
        let actor = actor.to_string();
        self.writer.write_checked(move |c| dispatch::set_presence(c, agent_id, presence, &actor, at)).await
    }
    async fn agent_offer(&self, agent_id: AgentId) -> StoreResult<Option<Callback>> {
        self.readers.read(move |c| dispatch::agent_offer(c, agent_id)).await
    }
    async fn queue_position(&self, id: CallbackId) -> StoreResult<Option<u64>> {
        self.readers.read(move |c| dispatch::queue_position(c, id)).await
    }
    async fn callback_counts(&self, now: Timestamp, due_before: Timestamp) -> StoreResult<CallbackCounts> {
        self.readers.read(move |c| dispatch::callback_counts(c, now, due_before)).await
    }
    async fn due_per_minute(
        &self,
        queue_ids: Vec<QueueId>,
        from: Timestamp,
        to: Timestamp,
    ) -> StoreResult<Vec<DueCount>> {
        if queue_ids.is_empty() {
            return Ok(Vec::new());
        }
        self.readers.read(move |c| dispatch::due_per_minute(c, &queue_ids, from, to)).await
    }
    async fn find_lead_by_phone(&self, list_id: ListId, phone: &str) -> StoreResult<Option<Lead>> {
        let phone = phone.to_string();
        self.readers.read(move |c| dispatch::find_lead_by_phone(c, list_id, &phone)).await
    }

    // ---- the live event stream ----------------------------------------------------------------

    async fn events_after(&self, after: i64, limit: u32) -> StoreResult<Vec<CallbackEvent>> {
        self.readers.read(move |c| dispatch::events_after(c, after, limit)).await
    }
    async fn last_event_id(&self) -> StoreResult<i64> {
        self.readers.read(dispatch::last_event_id).await
    }
    fn commit_signal(&self) -> tokio::sync::watch::Receiver<u64> {
        self.writer.commits()
    }

    // ---- several nodes --------------------------------------------------------------------------

    /// One process owns the file (its one writer thread), so it always leads: nothing to store.
    async fn claim_leadership(&self, node: &str, _ttl: std::time::Duration) -> StoreResult<LeaderLease> {
        Ok(LeaderLease { holder: node.to_string(), expires_at: None })
    }
    async fn resign_leadership(&self, _node: &str) -> StoreResult<()> {
        Ok(())
    }
}
