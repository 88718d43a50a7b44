//! The backend conformance suite: the behaviour every [`Store`] must show, written once against the
//! trait and run unchanged against each backend. A backend's test file is a few lines:
//!
//! ```text
//! rebound_store::conformance_tests!(|| async {
//!     let dir = tempfile::tempdir().unwrap();
//!     let store = MyStore::open(dir.path()).unwrap();
//!     (std::sync::Arc::new(store) as std::sync::Arc<dyn rebound_store::Store>, dir)
//! });
//! ```
//!
//! The factory is called once per test and must return a fresh, empty store: either an
//! `Arc<dyn Store>`, or `(Arc<dyn Store>, guard)` where the guard (a temp dir, a database handle)
//! lives as long as the test. Each behaviour is a public `async fn(Arc<dyn Store>)` here, and
//! [`conformance_tests!`](crate::conformance_tests) expands to one `#[tokio::test]` per behaviour.
//!
//! Fixtures are built from domain structs directly (no domain helper that parses or computes), with
//! instants at millisecond precision, the precision every store keeps.

use std::collections::BTreeSet;
use std::sync::Arc;

use jiff::civil::time;
use jiff::{SignedDuration, Timestamp};
use rebound_domain::access::{Role, Scope};
use rebound_domain::hours::{CallingHours, DateException, DiallingHours, TimeRange};
use rebound_domain::model::*;
use rebound_domain::slots::CapacityGrid;
use rebound_domain::state::{Action, CallbackResult, CallbackState};
use serde_json::json;

use crate::*;

/// What a conformance factory may return: a store, or a store with a guard that must outlive it.
pub trait IntoTestStore {
    fn into_test_store(self) -> (Arc<dyn Store>, Box<dyn std::any::Any + Send>);
}

impl IntoTestStore for Arc<dyn Store> {
    fn into_test_store(self) -> (Arc<dyn Store>, Box<dyn std::any::Any + Send>) {
        (self, Box::new(()))
    }
}

impl<G: Send + 'static> IntoTestStore for (Arc<dyn Store>, G) {
    fn into_test_store(self) -> (Arc<dyn Store>, Box<dyn std::any::Any + Send>) {
        (self.0, Box::new(self.1))
    }
}

/// Expands to one `#[tokio::test]` per conformance behaviour, each on a fresh store from `$factory`
/// (a closure returning a future of `Arc<dyn Store>` or `(Arc<dyn Store>, guard)`).
#[macro_export]
macro_rules! conformance_tests {
    ($factory:expr) => {
        $crate::conformance_tests!(@each $factory;
            campaigns_round_trip,
            lists_and_leads_round_trip,
            queues_round_trip,
            agents_round_trip_with_their_campaigns_and_queues,
            wrap_codes_round_trip,
            updating_or_deleting_a_missing_record_is_not_found,
            deleting_configuration_still_in_use_is_a_conflict,
            a_second_record_with_the_same_unique_name_is_a_conflict,
            a_callback_round_trips_every_field,
            many_callbacks_are_read_by_id_in_the_order_asked,
            create_writes_one_audit_event,
            every_transition_writes_its_audit_event,
            duplicate_limit_one_refuses_a_second_active_callback_naming_the_first,
            duplicate_limit_two_allows_two_active_callbacks,
            completed_callbacks_and_other_queues_do_not_count_as_duplicates,
            agent_callbacks_without_a_queue_are_deduplicated_per_campaign_and_agent,
            a_full_slot_is_refused_and_a_cancelled_booking_frees_it,
            an_idempotent_replay_returns_the_first_callback_and_creates_nothing,
            an_idempotency_key_reused_for_another_request_is_refused,
            every_legal_transition_succeeds,
            an_illegal_transition_is_refused_and_changes_nothing,
            a_transition_is_refused_unless_the_state_is_expected,
            a_transition_of_a_missing_callback_is_not_found,
            a_transition_applies_its_update,
            concurrent_creates_for_one_number_admit_exactly_one,
            concurrent_cancel_and_accept_never_both_win,
            list_filters_by_desired_time_range,
            list_filters_by_each_attribute,
            list_filters_by_phone_including_lead_phones,
            list_searches_text_in_each_field,
            list_filters_overdue_callbacks,
            list_pages_and_counts,
            list_sorts_by_each_field_both_ways,
            search_finds_by_id_and_by_phone_newest_first,
            slot_bookings_count_active_bookings_per_slot,
            due_per_minute_counts_active_callbacks_per_queue_and_minute,
            tokens_are_created_found_and_counted,
            scoped_tokens_round_trip_and_names_may_repeat,
            a_revoked_token_is_kept_and_still_listed,
            touch_tokens_records_the_newest_use,
            users_round_trip_every_field,
            a_second_user_with_the_same_username_in_any_case_is_a_conflict,
            find_user_login_ignores_case_and_returns_the_hash_and_lockout_state,
            failed_sign_ins_lock_at_the_threshold_and_a_success_clears_them,
            concurrent_failed_sign_ins_are_all_counted,
            a_new_password_clears_the_lockout_and_ends_the_users_sessions,
            disabling_a_user_ends_their_sessions_and_refuses_new_ones,
            an_agent_a_user_acts_as_cannot_be_deleted,
            sessions_are_created_found_touched_and_deleted,
            purge_sessions_removes_idle_and_absolutely_expired_sessions,
            user_prefs_round_trip_and_a_save_replaces_them_whole,
            user_prefs_of_an_unknown_user_are_none_and_cannot_be_saved,
            disabling_a_user_keeps_their_prefs,
            a_batch_create_stores_the_accepted_items_and_reports_the_refused,
            an_update_changes_every_edited_field_and_writes_its_event,
            a_refused_update_changes_neither_the_callback_nor_its_history,
            a_reschedule_update_is_allowed_only_from_scheduled,
            update_duplicate_and_slot_checks_do_not_count_the_callback_itself,
            a_deleted_callback_is_gone_and_its_history_keeps_what_it_was,
            a_recreated_callback_is_linked_both_ways,
            recreate_is_refused_unless_the_original_completed_and_was_not_recreated_yet,
            bulk_cancel_by_ids_cancels_what_it_may_and_reports_every_id_in_order,
            bulk_cancel_by_filter_covers_exactly_the_matching_callbacks,
            a_bulk_cancel_of_more_than_one_batch_is_complete_and_consistent,
            export_pages_cover_the_filtered_set_once_in_order_both_ways,
            purge_removes_exactly_what_expired_and_respects_the_limit,
            racing_cancels_reschedules_steps_and_bulk_cancels_keep_every_history_legal,
            promote_due_promotes_due_callbacks_earliest_first_up_to_the_limit,
            a_re_promoted_callback_keeps_its_first_queued_at,
            next_due_is_the_earliest_scheduled_time_ignoring_unknown_ones,
            campaign_pending_pages_its_scheduled_and_queued_callbacks_in_id_order,
            apply_earliest_times_moves_scheduled_and_demotes_queued_that_may_not_be_dialled,
            free_agents_are_ready_agents_holding_nothing_longest_ready_first,
            queued_heads_read_each_source_in_dispatch_order,
            reserve_offers_callbacks_to_free_agents_with_their_event,
            reserve_skips_what_it_may_not_offer,
            reserve_demotes_what_the_dial_check_refuses,
            claim_leases_in_dispatch_order_across_the_campaign_skipping_paused_queues,
            claim_demotes_refused_candidates_and_keeps_looking,
            concurrent_claims_never_lease_a_callback_twice,
            a_transition_is_refused_unless_its_holder_holds_the_callback,
            a_transition_sets_the_agents_presence_in_the_same_step,
            leaving_routing_or_processing_clears_the_holder,
            a_transition_batch_applies_each_step_on_its_own,
            expired_offers_and_leases_go_back_to_the_queue_and_the_silent_agent_is_not_ready,
            leaving_ready_withdraws_the_agents_offer,
            set_presence_keeps_ready_since_while_ready,
            queue_position_counts_those_ahead_in_dispatch_order,
            callback_counts_count_every_state_and_the_overdue_and_due_soon,
            find_lead_by_phone_matches_any_of_its_numbers_in_the_list,
            events_after_pages_through_the_audit_log_in_order,
            the_commit_signal_changes_after_a_write,
        );
    };
    (@each $factory:expr; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let (store, _guard) = $crate::conformance::IntoTestStore::into_test_store(($factory)().await);
                $crate::conformance::$name(store).await;
            }
        )*
    };
}

// ---- fixtures --------------------------------------------------------------------------------------

/// A fixed, millisecond-precise "now" for fixtures: Monday 2030-01-07 09:00 UTC.
pub fn t0() -> Timestamp {
    Timestamp::from_second(1_894_006_800).expect("valid instant")
}

/// `t0() + minutes`.
pub fn at(minutes: i64) -> Timestamp {
    t0() + SignedDuration::from_mins(minutes)
}

fn range(h1: i8, m1: i8, h2: i8, m2: i8) -> TimeRange {
    TimeRange { start: time(h1, m1, 0, 0), end: time(h2, m2, 0, 0), end_of_day: false }
}

/// An outbound campaign, open around the clock.
pub fn campaign(name: &str) -> Campaign {
    Campaign {
        id: 0,
        name: name.to_string(),
        direction: Direction::Outbound,
        timezone: "Europe/London".into(),
        region: "GB".into(),
        running: true,
        dialling_hours: DiallingHours::always_open(),
        exceptions: Vec::new(),
        lead_calling_hours: CallingHours(range(8, 0, 21, 0)),
        allow_unassigned_agent_callbacks: false,
        auto_callback_list_id: None,
        lists: Vec::new(),
        window_secs: Campaign::DEFAULT_WINDOW_SECS,
        max_attempts: Campaign::DEFAULT_MAX_ATTEMPTS,
        retry_delays_secs: RetryDelays::default(),
        horizon_days: Campaign::DEFAULT_HORIZON_DAYS,
        agent_grace_minutes: Campaign::DEFAULT_AGENT_GRACE_MINUTES,
        created_at: Timestamp::UNIX_EPOCH,
        updated_at: Timestamp::UNIX_EPOCH,
    }
}

pub fn list(name: &str) -> List {
    List { id: 0, name: name.into(), fields: vec!["account_no".into()], created_at: Timestamp::UNIX_EPOCH }
}

pub fn lead(list_id: ListId, name: &str, phones: &[&str]) -> Lead {
    Lead {
        id: 0,
        list_id,
        phones: phones.iter().map(|p| p.to_string()).collect(),
        timezone: None,
        name: Some(name.into()),
        data: [("account_no".to_string(), "A-1".to_string())].into(),
        created_at: Timestamp::UNIX_EPOCH,
    }
}

pub fn queue(campaign_id: CampaignId, name: &str) -> Queue {
    Queue {
        id: 0,
        name: name.into(),
        campaign_id,
        slot_minutes: 15,
        slot_capacity: 10,
        capacity_grid: None,
        duplicate_policy: DuplicatePolicy::One,
        paused: false,
        created_at: Timestamp::UNIX_EPOCH,
    }
}

pub fn agent(name: &str, username: &str) -> Agent {
    Agent {
        id: 0,
        name: name.into(),
        username: username.into(),
        timezone: "Europe/London".into(),
        campaigns: Vec::new(),
        queues: Vec::new(),
        can_view_callback_list: true,
        presence: Presence::Offline,
        ready_since: None,
        created_at: Timestamp::UNIX_EPOCH,
    }
}

/// A small world: two campaigns with a queue each (plus a second queue in the first), a list with
/// a lead, and an agent.
#[derive(Debug, Clone)]
pub struct World {
    pub campaign: Campaign,
    pub other_campaign: Campaign,
    pub list: List,
    pub lead: Lead,
    pub queue: Queue,
    pub queue2: Queue,
    pub other_queue: Queue,
    pub agent: Agent,
}

pub async fn world(store: &dyn Store) -> World {
    let list = store.create_list(list("Spring Leads")).await.unwrap();
    let mut c = campaign("Sales Outbound");
    c.lists = vec![list.id];
    let campaign = store.create_campaign(c).await.unwrap();
    let other_campaign = store.create_campaign(campaign_named_retention()).await.unwrap();
    let lead = store.create_lead(lead(list.id, "Olivia O'Brien", &["+442071111111", "+442072222222"])).await.unwrap();
    let queue2 = store.create_queue(queue(campaign.id, "Support")).await.unwrap();
    let other_queue = store.create_queue(queue(other_campaign.id, "Winback")).await.unwrap();
    let queue = store.create_queue(queue(campaign.id, "Billing")).await.unwrap();
    let mut a = agent("Alice Agent", "alice");
    a.campaigns = vec![campaign.id];
    a.queues = vec![queue.id];
    let agent = store.create_agent(a).await.unwrap();
    World { campaign, other_campaign, list, lead, queue, queue2, other_queue, agent }
}

fn campaign_named_retention() -> Campaign {
    campaign("Retention")
}

/// A scheduled queue callback in the world's first queue, desired (and dialable) at `desired`.
pub fn callback(w: &World, phone: &str, desired: Timestamp) -> Callback {
    Callback {
        id: CallbackId::new(),
        kind: CallbackType::Queue,
        origin: Origin::Scheduled,
        phone: phone.into(),
        phone_raw: phone.into(),
        campaign_id: w.campaign.id,
        list_id: None,
        lead_id: None,
        queue_id: Some(w.queue.id),
        agent_id: None,
        wrap_code: None,
        desired_time: desired,
        timezone: None,
        lead_timezone: None,
        earliest_time: Some(desired),
        window_secs: 120,
        slot_start: None,
        state: CallbackState::Scheduled,
        result: None,
        attempts: 0,
        priority: 0,
        notes: None,
        data: DataFields::new(),
        created_by: "conformance".into(),
        created_at: t0(),
        updated_at: t0(),
        queued_at: None,
        offered_to: None,
        lease_id: None,
        hold_until: None,
        recreated_from: None,
        recreated_as: None,
        expires_at: desired + SignedDuration::from_hours(14 * 24),
    }
}

/// A create with no checks.
pub fn new(cb: Callback) -> NewCallback {
    NewCallback {
        callback: cb,
        duplicate_limit: None,
        slot_capacity: None,
        idempotency: None,
        event_action: "created".into(),
        event_details: json!({"via": "conformance"}),
    }
}

/// A create with a duplicate limit.
pub fn new_limited(cb: Callback, limit: u32) -> NewCallback {
    NewCallback { duplicate_limit: Some(limit), ..new(cb) }
}

pub async fn create(store: &dyn Store, cb: Callback) -> Callback {
    match store.create_callback(new(cb)).await.unwrap() {
        CreateOutcome::Created(c) => c,
        other => panic!("expected Created, got {other:?}"),
    }
}

fn action_name(action: Action) -> &'static str {
    match action {
        Action::Promote => "promoted",
        Action::Demote => "demoted",
        Action::Reserve => "reserved",
        Action::Release => "released",
        Action::Accept => "accepted",
        Action::Finish(_) => "finished",
        Action::Retry => "retried",
        Action::Reschedule => "rescheduled",
        Action::Cancel { .. } => "cancelled",
        Action::Expire => "expired",
    }
}

/// A plain transition request by actor `tester` at `at(1)`.
pub fn step(id: CallbackId, action: Action) -> TransitionRequest {
    TransitionRequest {
        id,
        action,
        expect: Vec::new(),
        update: CallbackUpdate::default(),
        holder: None,
        presence: None,
        actor: "tester".into(),
        at: at(1),
        event_action: action_name(action).into(),
        event_details: json!({"step": action_name(action)}),
    }
}

pub async fn apply(store: &dyn Store, id: CallbackId, actions: &[Action]) -> Callback {
    let mut last = None;
    for a in actions {
        last = Some(store.transition_callback(step(id, *a)).await.unwrap_or_else(|e| panic!("{a:?}: {e}")));
    }
    match last {
        Some(c) => c,
        None => store.get_callback(id).await.unwrap().unwrap(),
    }
}

const CANCEL: Action = Action::Cancel { by_customer: false };

fn ids(cbs: &[Callback]) -> Vec<CallbackId> {
    cbs.iter().map(|c| c.id).collect()
}

async fn list_all(store: &dyn Store, filter: &CallbackFilter) -> BTreeSet<CallbackId> {
    let page = store.list_callbacks(filter, Sort::default(), PageRequest { page: 1, page_size: 1000 }).await.unwrap();
    assert_eq!(page.total as usize, page.items.len(), "total agrees with the items of a single page");
    page.items.iter().map(|c| c.id).collect()
}

fn set(cbs: &[&Callback]) -> BTreeSet<CallbackId> {
    cbs.iter().map(|c| c.id).collect()
}

// ---- configuration ---------------------------------------------------------------------------------

pub async fn campaigns_round_trip(store: Arc<dyn Store>) {
    let list_a = store.create_list(list("A")).await.unwrap();
    let list_b = store.create_list(list("B")).await.unwrap();
    let mut c = campaign("Sales");
    c.dialling_hours.mon = vec![range(9, 0, 12, 30), range(22, 0, 2, 0)];
    c.dialling_hours.sun = Vec::new();
    c.dialling_hours.sat = vec![TimeRange { start: time(10, 0, 0, 0), end: time(0, 0, 0, 0), end_of_day: true }];
    c.exceptions = vec![
        DateException { date: jiff::civil::date(2030, 12, 25), hours: Vec::new() },
        DateException { date: jiff::civil::date(2030, 12, 24), hours: vec![range(9, 0, 13, 0)] },
    ];
    c.lead_calling_hours = CallingHours(range(9, 0, 20, 0));
    c.lists = vec![list_b.id, list_a.id];
    c.allow_unassigned_agent_callbacks = true;
    c.window_secs = 300;
    c.retry_delays_secs = RetryDelays { no_answer: 1, busy: 2, voicemail: 3, failed: 4 };
    let created = store.create_campaign(c.clone()).await.unwrap();
    assert!(created.id > 0);
    let expected = Campaign { id: created.id, created_at: created.created_at, updated_at: created.updated_at, ..c };
    assert_eq!(created, expected);
    assert_eq!(store.get_campaign(created.id).await.unwrap(), Some(created.clone()));
    assert_eq!(store.list_campaigns().await.unwrap(), vec![created.clone()]);

    let mut changed = created.clone();
    changed.name = "Sales 2".into();
    changed.running = false;
    changed.lists = vec![list_a.id];
    changed.direction = Direction::Inbound;
    changed.auto_callback_list_id = Some(list_b.id);
    let updated = store.update_campaign(changed.clone()).await.unwrap();
    assert_eq!(updated, Campaign { updated_at: updated.updated_at, ..changed });
    assert_eq!(updated.created_at, created.created_at);
    assert_eq!(store.get_campaign(created.id).await.unwrap(), Some(updated));

    store.delete_campaign(created.id).await.unwrap();
    assert_eq!(store.get_campaign(created.id).await.unwrap(), None);
    assert!(store.list_campaigns().await.unwrap().is_empty());
}

pub async fn lists_and_leads_round_trip(store: Arc<dyn Store>) {
    let l = store.create_list(list("Spring")).await.unwrap();
    assert_eq!(l, List { id: l.id, created_at: l.created_at, ..list("Spring") });
    assert_eq!(store.get_list(l.id).await.unwrap(), Some(l.clone()));
    let renamed = store.update_list(List { name: "Summer".into(), fields: vec![], ..l.clone() }).await.unwrap();
    assert_eq!(renamed.name, "Summer");
    assert!(renamed.fields.is_empty());
    assert_eq!(store.list_lists().await.unwrap(), vec![renamed]);

    let mut one = lead(l.id, "Olivia", &["+442071111111", "+442072222222", "+442073333333"]);
    one.timezone = Some("Europe/London".into());
    let created = store.create_lead(one.clone()).await.unwrap();
    assert_eq!(created, Lead { id: created.id, created_at: created.created_at, ..one });
    assert_eq!(store.get_lead(created.id).await.unwrap(), Some(created.clone()));

    let many = store
        .create_leads((0..5).map(|i| lead(l.id, &format!("L{i}"), &[&format!("+4420700000{i:02}")])).collect())
        .await
        .unwrap();
    assert_eq!(many.len(), 5);
    let page = store.list_leads(Some(l.id), PageRequest { page: 2, page_size: 4 }).await.unwrap();
    assert_eq!(page.total, 6);
    assert_eq!(page.items, many[3..].to_vec());
    let other = store.create_list(list("Other")).await.unwrap();
    assert_eq!(store.list_leads(Some(other.id), PageRequest::default()).await.unwrap().total, 0);
    assert_eq!(store.list_leads(None, PageRequest::default()).await.unwrap().total, 6);

    let moved = store
        .update_lead(Lead { list_id: other.id, phones: vec!["+6568364100".into()], ..created.clone() })
        .await
        .unwrap();
    assert_eq!(moved.list_id, other.id);
    assert_eq!(moved.phones, vec!["+6568364100".to_string()]);
    store.delete_lead(created.id).await.unwrap();
    assert_eq!(store.get_lead(created.id).await.unwrap(), None);
}

pub async fn queues_round_trip(store: Arc<dyn Store>) {
    let c = store.create_campaign(campaign("Sales")).await.unwrap();
    let mut q = queue(c.id, "Billing");
    let mut grid = CapacityGrid::default();
    grid.mon.insert("09:00".into(), 4);
    q.capacity_grid = Some(grid);
    q.duplicate_policy = DuplicatePolicy::Two;
    let created = store.create_queue(q.clone()).await.unwrap();
    assert_eq!(created, Queue { id: created.id, created_at: created.created_at, ..q });
    assert_eq!(store.get_queue(created.id).await.unwrap(), Some(created.clone()));
    let paused = store
        .update_queue(Queue {
            paused: true,
            capacity_grid: None,
            duplicate_policy: DuplicatePolicy::Off,
            ..created.clone()
        })
        .await
        .unwrap();
    assert!(paused.paused);
    assert_eq!(paused.capacity_grid, None);
    assert_eq!(store.list_queues().await.unwrap(), vec![paused]);
    store.delete_queue(created.id).await.unwrap();
    assert_eq!(store.get_queue(created.id).await.unwrap(), None);
}

pub async fn agents_round_trip_with_their_campaigns_and_queues(store: Arc<dyn Store>) {
    let c1 = store.create_campaign(campaign("One")).await.unwrap();
    let c2 = store.create_campaign(campaign("Two")).await.unwrap();
    let q1 = store.create_queue(queue(c1.id, "Q1")).await.unwrap();
    let q2 = store.create_queue(queue(c2.id, "Q2")).await.unwrap();
    let mut a = agent("Alice", "alice");
    a.campaigns = vec![c2.id, c1.id];
    a.queues = vec![q2.id, q1.id];
    a.presence = Presence::Ready;
    let created = store.create_agent(a.clone()).await.unwrap();
    // An agent created ready is ready from its creation on (routing's longest-ready order).
    assert!(created.ready_since.is_some());
    assert_eq!(
        created,
        Agent { id: created.id, created_at: created.created_at, ready_since: created.ready_since, ..a }
    );
    assert_eq!(store.get_agent(created.id).await.unwrap(), Some(created.clone()));
    let updated = store
        .update_agent(Agent { campaigns: vec![c1.id], queues: vec![], presence: Presence::Busy, ..created.clone() })
        .await
        .unwrap();
    assert_eq!(updated.campaigns, vec![c1.id]);
    assert!(updated.queues.is_empty());
    assert_eq!(
        (updated.presence, updated.ready_since),
        (created.presence, created.ready_since),
        "a configuration update leaves presence to the dispatch protocol"
    );
    assert_eq!(store.list_agents().await.unwrap(), vec![updated]);
    store.delete_agent(created.id).await.unwrap();
    assert_eq!(store.get_agent(created.id).await.unwrap(), None);
}

pub async fn wrap_codes_round_trip(store: Arc<dyn Store>) {
    let c = store.create_campaign(campaign("Sales")).await.unwrap();
    let q = store.create_queue(queue(c.id, "Billing")).await.unwrap();
    let w = WrapCode {
        id: 0,
        campaign_id: c.id,
        code: "CB1H".into(),
        label: "Call back in an hour".into(),
        add_to_queue: Some(AddToQueue {
            campaign_id: c.id,
            queue_id: Some(q.id),
            kind: CallbackType::Queue,
            delay_minutes: 60,
        }),
        created_at: Timestamp::UNIX_EPOCH,
    };
    let created = store.create_wrap_code(w.clone()).await.unwrap();
    assert_eq!(created, WrapCode { id: created.id, created_at: created.created_at, ..w });
    assert_eq!(store.get_wrap_code(created.id).await.unwrap(), Some(created.clone()));
    let updated = store
        .update_wrap_code(WrapCode { label: "Later".into(), add_to_queue: None, ..created.clone() })
        .await
        .unwrap();
    assert_eq!(updated.label, "Later");
    assert_eq!(updated.add_to_queue, None);
    assert_eq!(store.list_wrap_codes().await.unwrap(), vec![updated]);
    store.delete_wrap_code(created.id).await.unwrap();
    assert_eq!(store.get_wrap_code(created.id).await.unwrap(), None);
}

fn assert_not_found<T: std::fmt::Debug>(r: StoreResult<T>) {
    assert!(matches!(r, Err(StoreError::NotFound { .. })), "expected NotFound, got {r:?}");
}

fn assert_conflict<T: std::fmt::Debug>(r: StoreResult<T>) {
    assert!(matches!(r, Err(StoreError::Conflict(_))), "expected Conflict, got {r:?}");
}

pub async fn updating_or_deleting_a_missing_record_is_not_found(store: Arc<dyn Store>) {
    let ghost = 9_999;
    assert_not_found(store.update_campaign(Campaign { id: ghost, ..campaign("x") }).await);
    assert_not_found(store.update_list(List { id: ghost, ..list("x") }).await);
    assert_not_found(store.update_queue(Queue { id: ghost, ..queue(1, "x") }).await);
    assert_not_found(store.update_agent(Agent { id: ghost, ..agent("x", "x") }).await);
    assert_not_found(store.delete_campaign(ghost).await);
    assert_not_found(store.delete_list(ghost).await);
    assert_not_found(store.delete_lead(ghost).await);
    assert_not_found(store.delete_queue(ghost).await);
    assert_not_found(store.delete_agent(ghost).await);
    assert_not_found(store.delete_wrap_code(ghost).await);
    assert_eq!(store.get_campaign(ghost).await.unwrap(), None);
    assert_eq!(store.get_callback(CallbackId::new()).await.unwrap(), None);
    // A record that refers to something missing is refused too.
    assert_not_found(store.create_queue(queue(ghost, "orphan")).await);
}

pub async fn deleting_configuration_still_in_use_is_a_conflict(store: Arc<dyn Store>) {
    let w = world(store.as_ref()).await;
    let mut cb = callback(&w, "+442070000001", at(60));
    cb.lead_id = Some(w.lead.id);
    cb.list_id = Some(w.list.id);
    cb.agent_id = Some(w.agent.id);
    let cb = create(store.as_ref(), cb).await;

    assert_conflict(store.delete_campaign(w.campaign.id).await);
    assert_conflict(store.delete_queue(w.queue.id).await);
    assert_conflict(store.delete_list(w.list.id).await);
    assert_conflict(store.delete_lead(w.lead.id).await);
    assert_conflict(store.delete_agent(w.agent.id).await);
    // Nothing was deleted.
    assert!(store.get_campaign(w.campaign.id).await.unwrap().is_some());
    assert!(store.get_queue(w.queue.id).await.unwrap().is_some());
    assert!(store.get_list(w.list.id).await.unwrap().is_some());
    assert!(store.get_lead(w.lead.id).await.unwrap().is_some());
    assert!(store.get_agent(w.agent.id).await.unwrap().is_some());
    assert!(store.get_callback(cb.id).await.unwrap().is_some());

    // A queue nobody refers to can go; the other campaign then has nothing left and can go too.
    store.delete_queue(w.queue2.id).await.unwrap();
    store.delete_queue(w.other_queue.id).await.unwrap();
    store.delete_campaign(w.other_campaign.id).await.unwrap();
}

pub async fn a_second_record_with_the_same_unique_name_is_a_conflict(store: Arc<dyn Store>) {
    let c = store.create_campaign(campaign("Sales")).await.unwrap();
    assert_conflict(store.create_campaign(campaign("Sales")).await);
    assert_conflict(store.create_list(list("L")).await.and(store.create_list(list("L")).await));
    store.create_agent(agent("A", "alice")).await.unwrap();
    assert_conflict(store.create_agent(agent("B", "alice")).await);
    store.create_queue(queue(c.id, "Q")).await.unwrap();
    assert_conflict(store.create_queue(queue(c.id, "Q")).await);
    let w = WrapCode {
        id: 0,
        campaign_id: c.id,
        code: "X".into(),
        label: "x".into(),
        add_to_queue: None,
        created_at: t0(),
    };
    store.create_wrap_code(w.clone()).await.unwrap();
    assert_conflict(store.create_wrap_code(w).await);
}

// ---- callbacks: create, events -------------------------------------------------------------------

pub async fn a_callback_round_trips_every_field(store: Arc<dyn Store>) {
    let w = world(store.as_ref()).await;
    // Only a completed callback can be recreated.
    let original = create(store.as_ref(), callback(&w, "+442070000009", at(-60))).await;
    let original = apply(store.as_ref(), original.id, &[CANCEL]).await;
    let cb = Callback {
        id: CallbackId::new(),
        kind: CallbackType::Agent,
        origin: Origin::Recreated,
        phone: "+442071111111".into(),
        phone_raw: "020 7111 1111".into(),
        campaign_id: w.campaign.id,
        list_id: Some(w.list.id),
        lead_id: Some(w.lead.id),
        queue_id: Some(w.queue.id),
        agent_id: Some(w.agent.id),
        wrap_code: Some("CB1H".into()),
        desired_time: at(90),
        timezone: Some("Europe/Paris".into()),
        lead_timezone: Some("Europe/London".into()),
        earliest_time: Some(at(95)),
        window_secs: 300,
        slot_start: Some(at(90)),
        state: CallbackState::Scheduled,
        result: None,
        attempts: 2,
        priority: -3,
        notes: Some("call after lunch — ünïcode".into()),
        data: [("account_no".to_string(), "A-42".to_string()), ("x".to_string(), "".to_string())].into(),
        created_by: "supervisor:sam".into(),
        created_at: at(0) + SignedDuration::from_millis(123),
        updated_at: at(0) + SignedDuration::from_millis(456),
        queued_at: Some(at(-5)),
        offered_to: None,
        lease_id: None,
        hold_until: None,
        recreated_from: Some(original.id),
        recreated_as: Some(CallbackId::new()),
        expires_at: at(14 * 24 * 60),
    };
    let created = create(store.as_ref(), cb.clone()).await;
    assert_eq!(created, cb);
    assert_eq!(store.get_callback(cb.id).await.unwrap(), Some(cb.clone()));
    let completed = Callback {
        id: CallbackId::new(),
        state: CallbackState::Completed,
        result: Some(CallbackResult::Expired),
        recreated_from: None,
        ..cb
    };
    assert_eq!(create(store.as_ref(), completed.clone()).await, completed);
    assert_eq!(store.get_callback(completed.id).await.unwrap(), Some(completed));
}

pub async fn many_callbacks_are_read_by_id_in_the_order_asked(store: Arc<dyn Store>) {
    let w = world(store.as_ref()).await;
    let a = create(store.as_ref(), callback(&w, "+442070000101", at(10))).await;
    let b = create(store.as_ref(), callback(&w, "+442070000102", at(20))).await;
    let unknown = CallbackId::new();
    let got = store.get_callbacks(vec![b.id, unknown, a.id, b.id]).await.unwrap();
    assert_eq!(got, vec![Some(b.clone()), None, Some(a), Some(b)]);
    assert!(store.get_callbacks(Vec::new()).await.unwrap().is_empty());
}

pub async fn create_writes_one_audit_event(store: Arc<dyn Store>) {
    let w = world(store.as_ref()).await;
    let mut cb = callback(&w, "+442070000001", at(10));
    cb.created_by = "api:ivr".into();
    let created = create(store.as_ref(), cb).await;
    let events = store.callback_events(created.id).await.unwrap();
    assert_eq!(events.len(), 1);
    let e = &events[0];
    assert_eq!(e.callback_id, created.id);
    assert_eq!(e.actor, "api:ivr");
    assert_eq!(e.action, "created");
    assert_eq!(e.at, created.created_at);
    assert_eq!(e.from_state, None);
    assert_eq!(e.to_state, Some(CallbackState::Scheduled));
    assert_eq!(e.details, json!({"via": "conformance"}));
}

pub async fn every_transition_writes_its_audit_event(store: Arc<dyn Store>) {
    use Action::*;
    use CallbackState::*;
    let w = world(store.as_ref()).await;
    let cb = create(store.as_ref(), callback(&w, "+442070000001", at(10))).await;
    let walk = [
        (Reschedule, Scheduled, Scheduled),
        (Promote, Scheduled, Queued),
        (Demote, Queued, Scheduled),
        (Promote, Scheduled, Queued),
        (Reserve, Queued, Routing),
        (Release, Routing, Queued),
        (Reserve, Queued, Routing),
        (Accept, Routing, Processing),
        (Retry, Processing, Scheduled),
        (Promote, Scheduled, Queued),
        (Reserve, Queued, Routing),
        (Accept, Routing, Processing),
        (Finish(CallbackResult::Agent), Processing, Completed),
    ];
    for (i, (action, _, _)) in walk.iter().enumerate() {
        let mut req = step(cb.id, *action);
        req.actor = format!("actor-{i}");
        req.at = at(i as i64 + 2);
        store.transition_callback(req).await.unwrap();
    }
    let events = store.callback_events(cb.id).await.unwrap();
    assert_eq!(events.len(), walk.len() + 1);
    for (i, (e, (action, from, to))) in events[1..].iter().zip(walk).enumerate() {
        assert_eq!((e.from_state, e.to_state), (Some(from), Some(to)), "event {i}");
        assert_eq!(e.actor, format!("actor-{i}"));
        assert_eq!(e.action, action_name(action));
        assert_eq!(e.at, at(i as i64 + 2));
        assert_eq!(e.details, json!({"step": action_name(action)}));
    }
    assert!(events.windows(2).all(|p| p[0].id < p[1].id), "events come oldest first");
    let done = store.get_callback(cb.id).await.unwrap().unwrap();
    assert_eq!((done.state, done.result), (Completed, Some(CallbackResult::Agent)));
}

// ---- duplicates, slots, idempotency ----------------------------------------------------------------

pub async fn duplicate_limit_one_refuses_a_second_active_callback_naming_the_first(store: Arc<dyn Store>) {
    let w = world(store.as_ref()).await;
    let first = store.create_callback(new_limited(callback(&w, "+442070000001", at(10)), 1)).await.unwrap();
    let second = callback(&w, "+442070000001", at(20));
    let refused = store.create_callback(new_limited(second.clone(), 1)).await;
    match refused {
        Err(StoreError::Duplicate { existing_id }) => assert_eq!(existing_id, first.callback().id),
        other => panic!("expected Duplicate, got {other:?}"),
    }
    assert_eq!(store.get_callback(second.id).await.unwrap(), None);
    assert!(store.callback_events(second.id).await.unwrap().is_empty());
    // Another number is fine.
    store.create_callback(new_limited(callback(&w, "+442070000002", at(20)), 1)).await.unwrap();
}

pub async fn duplicate_limit_two_allows_two_active_callbacks(store: Arc<dyn Store>) {
    let w = world(store.as_ref()).await;
    let a = store.create_callback(new_limited(callback(&w, "+442070000001", at(10)), 2)).await.unwrap();
    store.create_callback(new_limited(callback(&w, "+442070000001", at(20)), 2)).await.unwrap();
    match store.create_callback(new_limited(callback(&w, "+442070000001", at(30)), 2)).await {
        Err(StoreError::Duplicate { existing_id }) => assert_eq!(existing_id, a.callback().id, "the oldest is named"),
        other => panic!("expected Duplicate, got {other:?}"),
    }
    // Without a limit there is no check at all.
    store.create_callback(new(callback(&w, "+442070000001", at(40)))).await.unwrap();
}

pub async fn completed_callbacks_and_other_queues_do_not_count_as_duplicates(store: Arc<dyn Store>) {
    let w = world(store.as_ref()).await;
    let phone = "+442070000001";
    let first = create(store.as_ref(), callback(&w, phone, at(10))).await;
    store.transition_callback(step(first.id, CANCEL)).await.unwrap();
    let second = store.create_callback(new_limited(callback(&w, phone, at(20)), 1)).await.unwrap();
    let mut elsewhere = callback(&w, phone, at(20));
    elsewhere.queue_id = Some(w.queue2.id);
    store.create_callback(new_limited(elsewhere, 1)).await.unwrap();
    match store.create_callback(new_limited(callback(&w, phone, at(30)), 1)).await {
        Err(StoreError::Duplicate { existing_id }) => assert_eq!(existing_id, second.callback().id),
        other => panic!("expected Duplicate, got {other:?}"),
    }
}

pub async fn agent_callbacks_without_a_queue_are_deduplicated_per_campaign_and_agent(store: Arc<dyn Store>) {
    let w = world(store.as_ref()).await;
    let other_agent = store.create_agent(agent("Bob", "bob")).await.unwrap();
    let agent_cb = |agent_id: AgentId, minutes: i64| {
        let mut c = callback(&w, "+442070000001", at(minutes));
        c.kind = CallbackType::Agent;
        c.queue_id = None;
        c.agent_id = Some(agent_id);
        c
    };
    let first = store.create_callback(new_limited(agent_cb(w.agent.id, 10), 1)).await.unwrap();
    match store.create_callback(new_limited(agent_cb(w.agent.id, 20), 1)).await {
        Err(StoreError::Duplicate { existing_id }) => assert_eq!(existing_id, first.callback().id),
        other => panic!("expected Duplicate, got {other:?}"),
    }
    store.create_callback(new_limited(agent_cb(other_agent.id, 20), 1)).await.unwrap();
    // A queue callback for the same number is in another scope.
    store.create_callback(new_limited(callback(&w, "+442070000001", at(20)), 1)).await.unwrap();
}

pub async fn a_full_slot_is_refused_and_a_cancelled_booking_frees_it(store: Arc<dyn Store>) {
    let w = world(store.as_ref()).await;
    let slot = at(60);
    let booking = |phone: &str, queue_id: QueueId| {
        let mut c = callback(&w, phone, slot + SignedDuration::from_mins(5));
        c.slot_start = Some(slot);
        c.queue_id = Some(queue_id);
        NewCallback { slot_capacity: Some(2), ..new(c) }
    };
    let first = store.create_callback(booking("+442070000001", w.queue.id)).await.unwrap();
    store.create_callback(booking("+442070000002", w.queue.id)).await.unwrap();
    match store.create_callback(booking("+442070000003", w.queue.id)).await {
        Err(StoreError::SlotFull { slot_start, capacity }) => assert_eq!((slot_start, capacity), (slot, 2)),
        other => panic!("expected SlotFull, got {other:?}"),
    }
    // The same slot of another queue is separate.
    store.create_callback(booking("+442070000003", w.queue2.id)).await.unwrap();
    store.transition_callback(step(first.callback().id, CANCEL)).await.unwrap();
    store.create_callback(booking("+442070000003", w.queue.id)).await.unwrap();
    assert_eq!(
        store.slot_bookings(w.queue.id, slot, slot + SignedDuration::from_mins(15)).await.unwrap(),
        vec![(slot, 2)]
    );
}

pub async fn an_idempotent_replay_returns_the_first_callback_and_creates_nothing(store: Arc<dyn Store>) {
    let w = world(store.as_ref()).await;
    let key = IdempotencyKey { key: "token-1:abc".into(), fingerprint: "f1".into() };
    let first = NewCallback { idempotency: Some(key.clone()), ..new_limited(callback(&w, "+442070000001", at(10)), 1) };
    let created = match store.create_callback(first).await.unwrap() {
        CreateOutcome::Created(c) => c,
        other => panic!("expected Created, got {other:?}"),
    };
    // The retry carries a fresh id (the caller builds it anew) and would be a duplicate: the replay wins.
    let retry = NewCallback { idempotency: Some(key), ..new_limited(callback(&w, "+442070000001", at(10)), 1) };
    let retry_id = retry.callback.id;
    assert_eq!(store.create_callback(retry).await.unwrap(), CreateOutcome::Replayed(created.clone()));
    assert_eq!(store.get_callback(retry_id).await.unwrap(), None);
    assert_eq!(store.callback_events(created.id).await.unwrap().len(), 1);
    assert_eq!(store.find_idempotent("token-1:abc").await.unwrap(), Some(("f1".to_string(), created.clone())));
    assert_eq!(store.find_idempotent("token-1:unknown").await.unwrap(), None);
    let all = list_all(store.as_ref(), &CallbackFilter::default()).await;
    assert_eq!(all, BTreeSet::from([created.id]));
    // The same key of another principal is another key.
    let other = IdempotencyKey { key: "token-2:abc".into(), fingerprint: "f1".into() };
    let fresh = NewCallback { idempotency: Some(other), ..new(callback(&w, "+442070000002", at(10))) };
    assert!(matches!(store.create_callback(fresh).await.unwrap(), CreateOutcome::Created(_)));
}

pub async fn an_idempotency_key_reused_for_another_request_is_refused(store: Arc<dyn Store>) {
    let w = world(store.as_ref()).await;
    let key = |fp: &str| Some(IdempotencyKey { key: "k".into(), fingerprint: fp.into() });
    store
        .create_callback(NewCallback { idempotency: key("f1"), ..new(callback(&w, "+442070000001", at(10))) })
        .await
        .unwrap();
    let different = NewCallback { idempotency: key("f2"), ..new(callback(&w, "+442070000002", at(10))) };
    let id = different.callback.id;
    assert!(matches!(store.create_callback(different).await, Err(StoreError::IdempotencyMismatch)));
    assert_eq!(store.get_callback(id).await.unwrap(), None);
}

// ---- transitions -----------------------------------------------------------------------------------

/// The actions that bring a new (SCHEDULED) callback into `state`.
fn path_to(state: CallbackState) -> &'static [Action] {
    match state {
        CallbackState::Scheduled => &[],
        CallbackState::Queued => &[Action::Promote],
        CallbackState::Routing => &[Action::Promote, Action::Reserve],
        CallbackState::Processing => &[Action::Promote, Action::Reserve, Action::Accept],
        CallbackState::Completed => &[Action::Cancel { by_customer: false }],
    }
}

pub async fn every_legal_transition_succeeds(store: Arc<dyn Store>) {
    use CallbackResult as R;
    use CallbackState::*;
    let w = world(store.as_ref()).await;
    let table: Vec<(CallbackState, Action, CallbackState, Option<CallbackResult>)> = vec![
        (Scheduled, Action::Promote, Queued, None),
        (Queued, Action::Demote, Scheduled, None),
        (Queued, Action::Reserve, Routing, None),
        (Routing, Action::Release, Queued, None),
        (Routing, Action::Accept, Processing, None),
        (Processing, Action::Finish(R::Agent), Completed, Some(R::Agent)),
        (Processing, Action::Finish(R::MaxAttempts), Completed, Some(R::MaxAttempts)),
        (Processing, Action::Finish(R::InvalidNumber), Completed, Some(R::InvalidNumber)),
        (Processing, Action::Retry, Scheduled, None),
        (Scheduled, Action::Reschedule, Scheduled, None),
        (Scheduled, CANCEL, Completed, Some(R::CancelledByAdmin)),
        (Queued, Action::Cancel { by_customer: true }, Completed, Some(R::CancelledByCustomer)),
        (Routing, CANCEL, Completed, Some(R::CancelledByAdmin)),
        (Scheduled, Action::Expire, Completed, Some(R::Expired)),
        (Queued, Action::Expire, Completed, Some(R::Expired)),
    ];
    for (i, (from, action, to, result)) in table.into_iter().enumerate() {
        let cb = create(store.as_ref(), callback(&w, &format!("+4420700001{i:02}"), at(10))).await;
        let before = apply(store.as_ref(), cb.id, path_to(from)).await;
        assert_eq!(before.state, from);
        let after = store.transition_callback(step(cb.id, action)).await.unwrap_or_else(|e| panic!("{action:?}: {e}"));
        assert_eq!((after.state, after.result), (to, result), "{from} --{action:?}-->");
        assert_eq!(store.get_callback(cb.id).await.unwrap(), Some(after));
    }
}

pub async fn an_illegal_transition_is_refused_and_changes_nothing(store: Arc<dyn Store>) {
    let w = world(store.as_ref()).await;
    let cases = [
        (CallbackState::Processing, CANCEL),
        (CallbackState::Scheduled, Action::Accept),
        (CallbackState::Queued, Action::Reschedule),
        (CallbackState::Routing, Action::Finish(CallbackResult::Expired)),
        (CallbackState::Processing, Action::Finish(CallbackResult::Expired)),
        (CallbackState::Completed, Action::Promote),
        (CallbackState::Completed, CANCEL),
    ];
    for (i, (state, action)) in cases.into_iter().enumerate() {
        let cb = create(store.as_ref(), callback(&w, &format!("+4420700002{i:02}"), at(10))).await;
        let before = apply(store.as_ref(), cb.id, path_to(state)).await;
        let events_before = store.callback_events(cb.id).await.unwrap();
        let mut req = step(cb.id, action);
        req.update.desired_time = Some(at(500));
        req.update.increment_attempts = true;
        match store.transition_callback(req).await {
            Err(StoreError::IllegalTransition(e)) => {
                assert_eq!(e.from.state, state);
                assert_eq!(e.action, action);
            }
            other => panic!("{state} --{action:?}--> expected IllegalTransition, got {other:?}"),
        }
        assert_eq!(store.get_callback(cb.id).await.unwrap(), Some(before));
        assert_eq!(store.callback_events(cb.id).await.unwrap(), events_before);
    }
}

pub async fn a_transition_is_refused_unless_the_state_is_expected(store: Arc<dyn Store>) {
    let w = world(store.as_ref()).await;
    let cb = create(store.as_ref(), callback(&w, "+442070000001", at(10))).await;
    let queued = apply(store.as_ref(), cb.id, &[Action::Promote]).await;
    // Cancel is legal from QUEUED, but the caller saw the callback SCHEDULED.
    let mut req = step(cb.id, CANCEL);
    req.expect = vec![CallbackState::Scheduled];
    assert!(matches!(store.transition_callback(req).await, Err(StoreError::IllegalTransition(_))));
    assert_eq!(store.get_callback(cb.id).await.unwrap(), Some(queued));
    assert_eq!(store.callback_events(cb.id).await.unwrap().len(), 2);
    let mut req = step(cb.id, CANCEL);
    req.expect = vec![CallbackState::Scheduled, CallbackState::Queued];
    assert_eq!(store.transition_callback(req).await.unwrap().state, CallbackState::Completed);
}

pub async fn a_transition_of_a_missing_callback_is_not_found(store: Arc<dyn Store>) {
    assert_not_found(store.transition_callback(step(CallbackId::new(), Action::Promote)).await);
}

pub async fn a_transition_applies_its_update(store: Arc<dyn Store>) {
    let w = world(store.as_ref()).await;
    let other_agent = store.create_agent(agent("Bob", "bob")).await.unwrap();
    let mut cb = callback(&w, "+442070000001", at(10));
    cb.earliest_time = None;
    cb.timezone = Some("Europe/London".into());
    let cb = create(store.as_ref(), cb).await;

    let mut req = step(cb.id, Action::Reschedule);
    req.at = at(3);
    req.update = CallbackUpdate {
        desired_time: Some(at(120)),
        timezone: Some(None),
        earliest_time: Some(Some(at(125))),
        slot_start: Some(Some(at(120))),
        expires_at: Some(at(9_000)),
        agent_id: Some(Some(other_agent.id)),
        increment_attempts: true,
        ..CallbackUpdate::default()
    };
    let r = store.transition_callback(req).await.unwrap();
    let expected = Callback {
        desired_time: at(120),
        timezone: None,
        earliest_time: Some(at(125)),
        slot_start: Some(at(120)),
        expires_at: at(9_000),
        agent_id: Some(other_agent.id),
        attempts: 1,
        updated_at: at(3),
        ..cb.clone()
    };
    assert_eq!(r, expected);
    assert_eq!(store.get_callback(cb.id).await.unwrap(), Some(expected.clone()));

    // `queued_at` is set when it first enters QUEUED, and kept through later visits.
    let mut promote = step(cb.id, Action::Promote);
    promote.at = at(125);
    assert_eq!(store.transition_callback(promote).await.unwrap().queued_at, Some(at(125)));
    let mut demote = step(cb.id, Action::Demote);
    demote.update.earliest_time = Some(None);
    demote.update.slot_start = Some(None);
    let demoted = store.transition_callback(demote).await.unwrap();
    assert_eq!((demoted.earliest_time, demoted.slot_start), (None, None));
    let mut again = step(cb.id, Action::Promote);
    again.at = at(200);
    let requeued = store.transition_callback(again).await.unwrap();
    assert_eq!(requeued.queued_at, Some(at(125)));
    assert_eq!(requeued.updated_at, at(200));
    assert_eq!(store.get_callback(cb.id).await.unwrap(), Some(requeued));
}

// ---- concurrency -----------------------------------------------------------------------------------

pub async fn concurrent_creates_for_one_number_admit_exactly_one(store: Arc<dyn Store>) {
    let w = world(store.as_ref()).await;
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..200 {
        let store = store.clone();
        let cb = callback(&w, "+442070000001", at(i));
        tasks.spawn(async move { store.create_callback(new_limited(cb, 1)).await });
    }
    let (mut created, mut duplicates) = (Vec::new(), 0);
    while let Some(r) = tasks.join_next().await {
        match r.unwrap() {
            Ok(CreateOutcome::Created(c)) => created.push(c),
            Err(StoreError::Duplicate { .. }) => duplicates += 1,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(created.len(), 1);
    assert_eq!(duplicates, 199);
    let filter = CallbackFilter { phones: Some(vec!["+442070000001".into()]), ..Default::default() };
    assert_eq!(list_all(store.as_ref(), &filter).await, BTreeSet::from([created[0].id]));
}

pub async fn concurrent_cancel_and_accept_never_both_win(store: Arc<dyn Store>) {
    let w = world(store.as_ref()).await;
    let mut routing = Vec::new();
    for i in 0..40 {
        let cb = create(store.as_ref(), callback(&w, &format!("+4420700003{i:02}"), at(10))).await;
        routing.push(apply(store.as_ref(), cb.id, &[Action::Promote, Action::Reserve]).await);
    }
    let mut tasks = tokio::task::JoinSet::new();
    for cb in &routing {
        for action in [CANCEL, Action::Accept] {
            let store = store.clone();
            let id = cb.id;
            tasks.spawn(async move { (id, store.transition_callback(step(id, action)).await) });
        }
    }
    let mut wins = std::collections::BTreeMap::<CallbackId, u32>::new();
    while let Some(r) = tasks.join_next().await {
        let (id, outcome) = r.unwrap();
        match outcome {
            Ok(_) => *wins.entry(id).or_default() += 1,
            Err(StoreError::IllegalTransition(_)) => {}
            Err(e) => panic!("unexpected {e}"),
        }
    }
    for cb in &routing {
        assert_eq!(wins.get(&cb.id), Some(&1), "exactly one of cancel and accept wins");
        let now = store.get_callback(cb.id).await.unwrap().unwrap();
        let ok = matches!(
            (now.state, now.result),
            (CallbackState::Processing, None) | (CallbackState::Completed, Some(CallbackResult::CancelledByAdmin))
        );
        assert!(ok, "{:?} {:?}", now.state, now.result);
        assert_eq!(store.callback_events(cb.id).await.unwrap().len(), 4);
    }
}

// ---- list, search, slots ---------------------------------------------------------------------------

/// A varied set of callbacks for the list tests.
struct Sample {
    w: World,
    /// Lead-linked, notes, wrap code CB1H, scheduled at t0, overdue from t0+2min.
    lead_linked: Callback,
    /// Second queue, QUEUED, priority 5.
    queued: Callback,
    /// Agent type, no queue, wrap code LATER, a day ahead.
    agent: Callback,
    /// Cancelled, a day ago.
    cancelled: Callback,
    /// Campaign stopped: earliest time unknown.
    unknown_earliest: Callback,
    /// The other campaign, same number as `lead_linked`.
    other_campaign: Callback,
    /// Scheduled an hour ago, overdue.
    late: Callback,
    all: Vec<Callback>,
}

async fn sample(store: &dyn Store) -> Sample {
    let w = world(store).await;
    let mut lead_linked = callback(&w, "+442079990001", at(0));
    lead_linked.lead_id = Some(w.lead.id);
    lead_linked.list_id = Some(w.list.id);
    lead_linked.notes = Some("VIP 100% customer".into());
    lead_linked.wrap_code = Some("CB1H".into());
    lead_linked.priority = 1;
    let lead_linked = create(store, lead_linked).await;

    let mut queued = callback(&w, "+442079990002", at(10));
    queued.queue_id = Some(w.queue2.id);
    queued.priority = 5;
    let queued = create(store, queued).await;
    let queued = apply(store, queued.id, &[Action::Promote]).await;

    let mut agent = callback(&w, "+442079990003", at(24 * 60));
    agent.kind = CallbackType::Agent;
    agent.queue_id = None;
    agent.agent_id = Some(w.agent.id);
    agent.wrap_code = Some("LATER".into());
    agent.phone_raw = "020 7999 0003".into();
    let agent = create(store, agent).await;

    let cancelled = create(store, callback(&w, "+442079990004", at(-24 * 60))).await;
    let cancelled = apply(store, cancelled.id, &[CANCEL]).await;

    let mut unknown_earliest = callback(&w, "+442079990005", at(120));
    unknown_earliest.earliest_time = None;
    unknown_earliest.priority = 5;
    let unknown_earliest = create(store, unknown_earliest).await;

    let mut other_campaign = callback(&w, "+442079990001", at(180));
    other_campaign.campaign_id = w.other_campaign.id;
    other_campaign.queue_id = Some(w.other_queue.id);
    other_campaign.notes = Some("o_brien".into());
    let other_campaign = create(store, other_campaign).await;

    let late = create(store, callback(&w, "+442079990007", at(-60))).await;

    let all = vec![
        lead_linked.clone(),
        queued.clone(),
        agent.clone(),
        cancelled.clone(),
        unknown_earliest.clone(),
        other_campaign.clone(),
        late.clone(),
    ];
    Sample { w, lead_linked, queued, agent, cancelled, unknown_earliest, other_campaign, late, all }
}

pub async fn list_filters_by_desired_time_range(store: Arc<dyn Store>) {
    let s = sample(store.as_ref()).await;
    let f = CallbackFilter { from: Some(at(0)), to: Some(at(180)), ..Default::default() };
    assert_eq!(list_all(store.as_ref(), &f).await, set(&[&s.lead_linked, &s.queued, &s.unknown_earliest]));
    let f = CallbackFilter { from: Some(at(180)), ..Default::default() };
    assert_eq!(list_all(store.as_ref(), &f).await, set(&[&s.other_campaign, &s.agent]));
    let f = CallbackFilter { to: Some(at(0)), ..Default::default() };
    assert_eq!(list_all(store.as_ref(), &f).await, set(&[&s.cancelled, &s.late]));
    assert_eq!(list_all(store.as_ref(), &CallbackFilter::default()).await.len(), s.all.len());
}

pub async fn list_filters_by_each_attribute(store: Arc<dyn Store>) {
    let s = sample(store.as_ref()).await;
    let st = store.as_ref();
    let f = |f: CallbackFilter| f;
    let d = CallbackFilter::default;
    assert_eq!(
        list_all(st, &f(CallbackFilter { states: vec![CallbackState::Queued, CallbackState::Completed], ..d() })).await,
        set(&[&s.queued, &s.cancelled])
    );
    // States with a desired-time range (the console's usual query).
    let ranged =
        CallbackFilter { from: Some(at(-10)), to: Some(at(200)), states: vec![CallbackState::Scheduled], ..d() };
    assert_eq!(list_all(st, &ranged).await, set(&[&s.lead_linked, &s.unknown_earliest, &s.other_campaign]));
    assert_eq!(
        list_all(st, &CallbackFilter { campaign_ids: vec![s.w.other_campaign.id], ..d() }).await,
        set(&[&s.other_campaign])
    );
    assert_eq!(list_all(st, &CallbackFilter { list_ids: vec![s.w.list.id], ..d() }).await, set(&[&s.lead_linked]));
    assert_eq!(
        list_all(st, &CallbackFilter { queue_ids: vec![s.w.queue2.id, s.w.other_queue.id], ..d() }).await,
        set(&[&s.queued, &s.other_campaign])
    );
    assert_eq!(list_all(st, &CallbackFilter { agent_ids: vec![s.w.agent.id], ..d() }).await, set(&[&s.agent]));
    assert_eq!(list_all(st, &CallbackFilter { kind: Some(CallbackType::Agent), ..d() }).await, set(&[&s.agent]));
    assert_eq!(list_all(st, &CallbackFilter { kind: Some(CallbackType::Queue), ..d() }).await.len(), s.all.len() - 1);
    assert_eq!(
        list_all(st, &CallbackFilter { wrap_codes: vec!["CB1H".into(), "LATER".into()], ..d() }).await,
        set(&[&s.lead_linked, &s.agent])
    );
    // Filters combine with AND.
    let both = CallbackFilter { campaign_ids: vec![s.w.campaign.id], states: vec![CallbackState::Completed], ..d() };
    assert_eq!(list_all(st, &both).await, set(&[&s.cancelled]));
}

pub async fn list_filters_by_phone_including_lead_phones(store: Arc<dyn Store>) {
    let s = sample(store.as_ref()).await;
    let st = store.as_ref();
    let phones =
        |p: &[&str]| CallbackFilter { phones: Some(p.iter().map(|x| x.to_string()).collect()), ..Default::default() };
    // The callback's own number, in two campaigns.
    assert_eq!(list_all(st, &phones(&["+442079990001"])).await, set(&[&s.lead_linked, &s.other_campaign]));
    // The lead's second phone finds the callback linked to that lead.
    assert_eq!(list_all(st, &phones(&["+442072222222"])).await, set(&[&s.lead_linked]));
    assert_eq!(list_all(st, &phones(&["+442079990003", "+442071111111"])).await, set(&[&s.agent, &s.lead_linked]));
    assert!(list_all(st, &phones(&["+15550000000"])).await.is_empty());
    assert!(list_all(st, &phones(&[])).await.is_empty(), "Some(vec![]) matches nothing");
}

pub async fn list_searches_text_in_each_field(store: Arc<dyn Store>) {
    let s = sample(store.as_ref()).await;
    let st = store.as_ref();
    let q =
        |field: SearchField, text: &str| CallbackFilter { text: Some((field, text.to_string())), ..Default::default() };
    let id_text = s.agent.id.to_string();
    assert_eq!(list_all(st, &q(SearchField::Id, &id_text)).await, set(&[&s.agent]));
    assert_eq!(list_all(st, &q(SearchField::Id, &id_text[24..].to_uppercase())).await, set(&[&s.agent]));
    assert_eq!(list_all(st, &q(SearchField::Phone, "79990003")).await, set(&[&s.agent]));
    assert_eq!(list_all(st, &q(SearchField::Phone, "020 7999")).await, set(&[&s.agent]), "the raw number too");
    assert_eq!(list_all(st, &q(SearchField::State, "queu")).await, set(&[&s.queued]));
    assert_eq!(list_all(st, &q(SearchField::Campaign, "RETENT")).await, set(&[&s.other_campaign]));
    assert_eq!(list_all(st, &q(SearchField::List, "spring")).await, set(&[&s.lead_linked]));
    assert_eq!(list_all(st, &q(SearchField::Queue, "suppo")).await, set(&[&s.queued]));
    assert_eq!(list_all(st, &q(SearchField::Agent, "alice")).await, set(&[&s.agent]));
    assert_eq!(list_all(st, &q(SearchField::Lead, "o'brien")).await, set(&[&s.lead_linked]));
    assert_eq!(list_all(st, &q(SearchField::Lead, &s.w.lead.id.to_string())).await, set(&[&s.lead_linked]));
    assert_eq!(list_all(st, &q(SearchField::WrapCode, "cb1")).await, set(&[&s.lead_linked]));
    assert_eq!(list_all(st, &q(SearchField::Notes, "vip")).await, set(&[&s.lead_linked]));
    // LIKE wildcards in the needle are literal characters.
    assert_eq!(list_all(st, &q(SearchField::Notes, "100%")).await, set(&[&s.lead_linked]));
    assert_eq!(list_all(st, &q(SearchField::Notes, "o_b")).await, set(&[&s.other_campaign]));
    assert!(list_all(st, &q(SearchField::Notes, "%")).await.len() == 1);
    // Any: notes, names, wrap codes and numbers.
    assert_eq!(list_all(st, &q(SearchField::Any, "brien")).await, set(&[&s.lead_linked, &s.other_campaign]));
    assert_eq!(list_all(st, &q(SearchField::Any, "later")).await, set(&[&s.agent]));
    assert_eq!(list_all(st, &q(SearchField::Any, "winback")).await, set(&[&s.other_campaign]));
    assert_eq!(list_all(st, &q(SearchField::Any, "alice")).await, set(&[&s.agent]));
    assert_eq!(list_all(st, &q(SearchField::Any, "79990007")).await, set(&[&s.late]));
    assert!(list_all(st, &q(SearchField::Any, "no such thing")).await.is_empty());
}

pub async fn list_filters_overdue_callbacks(store: Arc<dyn Store>) {
    let s = sample(store.as_ref()).await;
    // At t0+5min: `late` (earliest t0-60min) and `lead_linked` (earliest t0, window 2 min) are overdue;
    // queued, completed and unknown-earliest callbacks never are.
    let f = CallbackFilter { overdue_at: Some(at(5)), ..Default::default() };
    assert_eq!(list_all(store.as_ref(), &f).await, set(&[&s.late, &s.lead_linked]));
    // Exactly at earliest + window it is not yet overdue.
    let f = CallbackFilter { overdue_at: Some(at(2)), ..Default::default() };
    assert_eq!(list_all(store.as_ref(), &f).await, set(&[&s.late]));
    // A later earliest time (rescheduled) moves the deadline.
    let mut req = step(s.late.id, Action::Reschedule);
    req.update.earliest_time = Some(Some(at(60)));
    store.transition_callback(req).await.unwrap();
    let f = CallbackFilter { overdue_at: Some(at(5)), ..Default::default() };
    assert_eq!(list_all(store.as_ref(), &f).await, set(&[&s.lead_linked]));
}

pub async fn list_pages_and_counts(store: Arc<dyn Store>) {
    let s = sample(store.as_ref()).await;
    let mut sorted = s.all.clone();
    sorted.sort_by_key(|c| (c.desired_time, c.id));
    let page = |n: u32| PageRequest { page: n, page_size: 3 };
    let f = CallbackFilter::default();
    let p1 = store.list_callbacks(&f, Sort::default(), page(1)).await.unwrap();
    let p2 = store.list_callbacks(&f, Sort::default(), page(2)).await.unwrap();
    let p3 = store.list_callbacks(&f, Sort::default(), page(3)).await.unwrap();
    let p9 = store.list_callbacks(&f, Sort::default(), page(9)).await.unwrap();
    assert_eq!(p1.total, 7);
    assert_eq!(p2.total, 7);
    assert_eq!(p9.total, 7);
    assert_eq!(p1.items, sorted[0..3].to_vec());
    assert_eq!(p2.items, sorted[3..6].to_vec());
    assert_eq!(p3.items, sorted[6..].to_vec());
    assert!(p9.items.is_empty());
    // The total counts the filter, not the page.
    let f = CallbackFilter { campaign_ids: vec![s.w.campaign.id], ..Default::default() };
    let p = store.list_callbacks(&f, Sort::default(), page(2)).await.unwrap();
    assert_eq!(p.total, 6);
    assert_eq!(p.items.len(), 3);
}

pub async fn list_sorts_by_each_field_both_ways(store: Arc<dyn Store>) {
    let s = sample(store.as_ref()).await;
    // Give updated_at some spread.
    let mut req = step(s.agent.id, Action::Reschedule);
    req.at = at(-500);
    let agent = store.transition_callback(req).await.unwrap();
    let all: Vec<Callback> = s.all.iter().map(|c| if c.id == agent.id { agent.clone() } else { c.clone() }).collect();
    let lifecycle = |st: CallbackState| CallbackState::ALL.iter().position(|x| *x == st).unwrap_or(0);
    for field in SortField::ALL {
        let mut expected = all.clone();
        match field {
            SortField::DesiredTime => expected.sort_by_key(|c| (c.desired_time, c.id)),
            // Unknown earliest times sort after every known one.
            SortField::EarliestTime => expected.sort_by_key(|c| (c.earliest_time.is_none(), c.earliest_time, c.id)),
            SortField::CreatedAt => expected.sort_by_key(|c| (c.created_at, c.id)),
            SortField::UpdatedAt => expected.sort_by_key(|c| (c.updated_at, c.id)),
            SortField::State => expected.sort_by_key(|c| (lifecycle(c.state), c.id)),
            SortField::Phone => expected.sort_by(|a, b| (&a.phone, a.id).cmp(&(&b.phone, b.id))),
            SortField::Priority => expected.sort_by_key(|c| (c.priority, c.id)),
        }
        for descending in [false, true] {
            let got = store
                .list_callbacks(&CallbackFilter::default(), Sort { field, descending }, PageRequest::default())
                .await
                .unwrap();
            let want: Vec<CallbackId> =
                if descending { ids(&expected).into_iter().rev().collect() } else { ids(&expected) };
            assert_eq!(ids(&got.items), want, "sort by {} descending={descending}", field.as_str());
        }
    }
}

pub async fn search_finds_by_id_and_by_phone_newest_first(store: Arc<dyn Store>) {
    let s = sample(store.as_ref()).await;
    let st = store.as_ref();
    assert_eq!(ids(&st.search_callbacks(Some(s.cancelled.id), &[], 10).await.unwrap()), vec![s.cancelled.id]);
    let by_phone = st.search_callbacks(None, &["+442079990001".to_string()], 10).await.unwrap();
    assert_eq!(ids(&by_phone), vec![s.other_campaign.id, s.lead_linked.id], "newest desired time first");
    let by_lead_phone = st.search_callbacks(None, &["+442071111111".to_string()], 10).await.unwrap();
    assert_eq!(ids(&by_lead_phone), vec![s.lead_linked.id]);
    let either = st.search_callbacks(Some(s.agent.id), &["+442079990001".to_string()], 10).await.unwrap();
    assert_eq!(ids(&either), vec![s.agent.id, s.other_campaign.id, s.lead_linked.id]);
    assert_eq!(st.search_callbacks(Some(s.agent.id), &["+442079990001".to_string()], 2).await.unwrap().len(), 2);
    assert!(st.search_callbacks(None, &[], 10).await.unwrap().is_empty());
    assert!(st.search_callbacks(Some(CallbackId::new()), &[], 10).await.unwrap().is_empty());
    assert_eq!(st.search_callbacks(None, &["+442079990005".to_string()], 10).await.unwrap(), vec![s.unknown_earliest]);
}

pub async fn slot_bookings_count_active_bookings_per_slot(store: Arc<dyn Store>) {
    let w = world(store.as_ref()).await;
    let (s1, s2, outside) = (at(60), at(75), at(120));
    let mut n = 0;
    let mut book = async |slot: Timestamp, queue_id: QueueId| {
        n += 1;
        let mut c = callback(&w, &format!("+4420700004{n:02}"), slot);
        c.slot_start = Some(slot);
        c.queue_id = Some(queue_id);
        create(store.as_ref(), c).await
    };
    book(s1, w.queue.id).await;
    book(s1, w.queue.id).await;
    book(s2, w.queue.id).await;
    let gone = book(s2, w.queue.id).await;
    book(s1, w.queue2.id).await;
    book(outside, w.queue.id).await;
    store.transition_callback(step(gone.id, CANCEL)).await.unwrap();
    // A callback without a slot is not a booking.
    create(store.as_ref(), callback(&w, "+442070000499", s1)).await;
    assert_eq!(store.slot_bookings(w.queue.id, s1, outside).await.unwrap(), vec![(s1, 2), (s2, 1)]);
    assert_eq!(store.slot_bookings(w.queue2.id, s1, outside).await.unwrap(), vec![(s1, 1)]);
    assert!(store.slot_bookings(w.other_queue.id, s1, outside).await.unwrap().is_empty());
}

pub async fn due_per_minute_counts_active_callbacks_per_queue_and_minute(store: Arc<dyn Store>) {
    let w = world(store.as_ref()).await;
    let (from, to) = (at(0), at(60));
    let mut n = 0;
    let mut due = async |earliest: Timestamp, queue_id: QueueId| {
        n += 1;
        let mut c = callback(&w, &format!("+4420700005{n:02}"), earliest);
        c.queue_id = Some(queue_id);
        create(store.as_ref(), c).await
    };
    // Two in minute 0 (59 s apart), one 1 ms into minute 30 (then queued), one in minute 59, one in queue2.
    due(at(0), w.queue.id).await;
    due(at(0) + SignedDuration::from_secs(59), w.queue.id).await;
    let queued = due(at(30) + SignedDuration::from_millis(1), w.queue.id).await;
    due(at(59), w.queue.id).await;
    due(at(30), w.queue2.id).await;
    // Every active state counts; completed ones and those outside the range or the queues do not.
    apply(store.as_ref(), queued.id, path_to(CallbackState::Queued)).await;
    let processing = due(at(30), w.queue.id).await;
    apply(store.as_ref(), processing.id, path_to(CallbackState::Processing)).await;
    let cancelled = due(at(30), w.queue.id).await;
    store.transition_callback(step(cancelled.id, CANCEL)).await.unwrap();
    due(at(60), w.queue.id).await;
    due(at(-1), w.queue.id).await;
    due(at(5), w.other_queue.id).await;
    let mut unknown = callback(&w, "+442070000599", at(5));
    unknown.earliest_time = None;
    create(store.as_ref(), unknown).await;

    let counts = store.due_per_minute(vec![w.queue.id, w.queue2.id], from, to).await.unwrap();
    let seen: Vec<(QueueId, Timestamp, u32)> = counts.iter().map(|d| (d.queue_id, d.minute, d.count)).collect();
    let mut expected =
        vec![(w.queue.id, at(0), 2), (w.queue.id, at(30), 2), (w.queue.id, at(59), 1), (w.queue2.id, at(30), 1)];
    expected.sort_by_key(|(queue, minute, _)| (*queue, *minute));
    assert_eq!(seen, expected);
    assert!(store.due_per_minute(Vec::new(), from, to).await.unwrap().is_empty());
    assert_eq!(store.due_per_minute(vec![w.other_queue.id], from, to).await.unwrap().len(), 1);
}

pub async fn tokens_are_created_found_and_counted(store: Arc<dyn Store>) {
    assert_eq!(store.count_tokens().await.unwrap(), 0);
    let a = store.create_token(NewToken::new("ivr", Role::Supervisor, "hash-a", None)).await.unwrap();
    let b = store.create_token(NewToken::new("bi", Role::Monitor, "hash-b", Some(at(60)))).await.unwrap();
    assert_eq!(
        (a.name.as_str(), a.role, a.secret_hash.as_str(), a.revoked),
        ("ivr", Role::Supervisor, "hash-a", false)
    );
    assert_eq!(b.expires_at, Some(at(60)));
    assert_ne!(a.id, b.id);
    assert_eq!(store.find_token("hash-a").await.unwrap(), Some(a.clone()));
    assert_eq!(store.find_token("hash-b").await.unwrap(), Some(b.clone()));
    assert_eq!(store.find_token("nope").await.unwrap(), None);
    assert_eq!(store.list_tokens().await.unwrap(), vec![a, b]);
    assert_eq!(store.count_tokens().await.unwrap(), 2);
    assert_conflict(store.create_token(NewToken::new("again", Role::Admin, "hash-a", None)).await);
    assert_eq!(store.count_tokens().await.unwrap(), 2);
}

pub async fn scoped_tokens_round_trip_and_names_may_repeat(store: Arc<dyn Store>) {
    let w = world(store.as_ref()).await;
    let scope = Scope { campaigns: vec![w.campaign.id], queues: vec![w.other_queue.id, w.queue2.id] };
    let asked = NewToken {
        name: "ivr-sales".into(),
        role: Role::Supervisor,
        scope: Some(scope.clone()),
        secret_hash: "hash-scoped".into(),
        expires_at: Some(at(60)),
    };
    let scoped = store.create_token(asked).await.unwrap();
    assert_eq!(
        scoped,
        ApiToken {
            id: scoped.id,
            name: "ivr-sales".into(),
            role: Role::Supervisor,
            scope: Some(scope),
            secret_hash: "hash-scoped".into(),
            created_at: scoped.created_at,
            expires_at: Some(at(60)),
            revoked: false,
            last_used_at: None,
        }
    );
    // An empty scope (sees nothing) is not the absent one (sees everything).
    let empty = NewToken { scope: Some(Scope::default()), ..NewToken::new("ivr-sales", Role::Monitor, "hash-e", None) };
    let empty = store.create_token(empty).await.unwrap();
    assert_eq!(empty.scope, Some(Scope::default()));
    assert_ne!(empty.id, scoped.id, "a name may be used again; the id tells them apart");
    let all = store.create_token(NewToken::new("all", Role::Admin, "hash-all", None)).await.unwrap();
    assert_eq!(all.scope, None);
    assert_eq!(store.find_token("hash-scoped").await.unwrap(), Some(scoped.clone()));
    assert_eq!(store.find_token("hash-e").await.unwrap(), Some(empty.clone()));
    assert_eq!(store.list_tokens().await.unwrap(), vec![scoped, empty, all]);
}

pub async fn a_revoked_token_is_kept_and_still_listed(store: Arc<dyn Store>) {
    let a = store.create_token(NewToken::new("ivr", Role::Supervisor, "hash-a", None)).await.unwrap();
    let b = store.create_token(NewToken::new("bi", Role::Monitor, "hash-b", None)).await.unwrap();
    let revoked = store.revoke_token(a.id).await.unwrap();
    assert_eq!(revoked, ApiToken { revoked: true, ..a.clone() });
    assert_eq!(store.find_token("hash-a").await.unwrap(), Some(revoked.clone()));
    assert_eq!(store.find_token("hash-b").await.unwrap(), Some(b.clone()), "only that token");
    assert_eq!(store.list_tokens().await.unwrap(), vec![revoked.clone(), b]);
    assert_eq!(store.count_tokens().await.unwrap(), 2);
    assert_eq!(store.revoke_token(a.id).await.unwrap(), revoked, "revoking again changes nothing");
    assert_not_found(store.revoke_token(9_999).await);
}

pub async fn touch_tokens_records_the_newest_use(store: Arc<dyn Store>) {
    let a = store.create_token(NewToken::new("a", Role::Admin, "hash-a", None)).await.unwrap();
    let b = store.create_token(NewToken::new("b", Role::Monitor, "hash-b", None)).await.unwrap();
    let c = store.create_token(NewToken::new("c", Role::Monitor, "hash-c", None)).await.unwrap();
    store.touch_tokens(vec![(a.id, at(5)), (b.id, at(3)), (a.id, at(9)), (a.id, at(7)), (9_999, at(1))]).await.unwrap();
    let used = |t: &ApiToken| (t.id, t.last_used_at);
    let listed: Vec<_> = store.list_tokens().await.unwrap().iter().map(used).collect();
    assert_eq!(listed, vec![(a.id, Some(at(9))), (b.id, Some(at(3))), (c.id, None)]);
    // A late batch carrying an older use does not move it back.
    store.touch_tokens(vec![(a.id, at(2)), (b.id, at(4))]).await.unwrap();
    store.touch_tokens(Vec::new()).await.unwrap();
    let listed: Vec<_> = store.list_tokens().await.unwrap().iter().map(used).collect();
    assert_eq!(listed, vec![(a.id, Some(at(9))), (b.id, Some(at(4))), (c.id, None)]);
    let found = store.find_token("hash-a").await.unwrap().unwrap();
    assert_eq!(found, ApiToken { last_used_at: Some(at(9)), ..a });
}

/// A user of `role` with no agent link and no scope.
pub fn user(username: &str, role: Role) -> User {
    User {
        id: 0,
        username: username.into(),
        display_name: format!("{username} (display)"),
        timezone: "Europe/London".into(),
        role,
        agent_id: None,
        scope: None,
        disabled: false,
        created_at: Timestamp::UNIX_EPOCH,
        updated_at: Timestamp::UNIX_EPOCH,
    }
}

/// A session of `user_id` last seen when it was created.
pub fn session(id_hash: &str, user_id: UserId, created_at: Timestamp, expires_at: Timestamp) -> Session {
    Session {
        id_hash: id_hash.into(),
        user_id,
        csrf_token: format!("csrf-{id_hash}"),
        created_at,
        last_seen_at: created_at,
        expires_at,
    }
}

async fn session_ids(store: &dyn Store, ids: &[&str]) -> Vec<String> {
    let mut alive = Vec::new();
    for id in ids {
        if let Some(s) = store.find_session(id).await.unwrap() {
            alive.push(s.id_hash);
        }
    }
    alive
}

pub async fn users_round_trip_every_field(store: Arc<dyn Store>) {
    let w = world(store.as_ref()).await;
    assert_eq!(store.count_users().await.unwrap(), 0);
    let mut u = user("olivia", Role::Agent);
    u.display_name = "Olivia O'Brien".into();
    u.timezone = "America/New_York".into();
    u.agent_id = Some(w.agent.id);
    u.scope = Some(Scope { campaigns: vec![w.campaign.id], queues: vec![w.other_queue.id] });
    let created = store.create_user(u.clone(), "$argon2id$v=19$one").await.unwrap();
    assert!(created.id > 0);
    assert_eq!(created, User { id: created.id, created_at: created.created_at, updated_at: created.updated_at, ..u });
    assert_eq!(created.created_at, created.updated_at);
    assert_eq!(store.get_user(created.id).await.unwrap(), Some(created.clone()));
    let zed = store.create_user(user("Zed", Role::Admin), "$argon2id$v=19$two").await.unwrap();
    assert_eq!((zed.agent_id, zed.scope.clone()), (None, None));
    assert_eq!(store.list_users().await.unwrap(), vec![created.clone(), zed.clone()], "by username, ignoring case");
    assert_eq!(store.count_users().await.unwrap(), 2);

    let mut changed = created.clone();
    changed.username = "olivia.obrien".into();
    changed.display_name = "Olivia".into();
    changed.timezone = "Europe/Dublin".into();
    changed.role = Role::Supervisor;
    changed.agent_id = None;
    changed.scope = Some(Scope { campaigns: Vec::new(), queues: vec![w.queue.id, w.queue2.id] });
    changed.disabled = true;
    let updated = store.update_user(changed.clone()).await.unwrap();
    assert_eq!(updated, User { updated_at: updated.updated_at, ..changed });
    assert_eq!(updated.created_at, created.created_at);
    assert!(updated.updated_at >= created.updated_at);
    assert_eq!(store.get_user(created.id).await.unwrap(), Some(updated.clone()));
    // An empty scope (sees nothing) is kept apart from no scope (sees everything), both ways.
    let emptied = store.update_user(User { scope: Some(Scope::default()), ..updated.clone() }).await.unwrap();
    assert_eq!(emptied.scope, Some(Scope::default()));
    let unscoped = store.update_user(User { scope: None, disabled: false, ..emptied }).await.unwrap();
    assert_eq!((unscoped.scope, unscoped.disabled), (None, false));
    let login = store.find_user_login("olivia.obrien").await.unwrap().unwrap();
    assert_eq!(login.password_hash, "$argon2id$v=19$one", "an update leaves the password alone");

    let ghost = 9_999;
    assert_eq!(store.get_user(ghost).await.unwrap(), None);
    assert_not_found(store.update_user(User { id: ghost, ..user("ghost", Role::Monitor) }).await);
    assert_not_found(store.set_user_password(ghost, "h").await);
    assert_not_found(store.record_login_failure(ghost, 3, at(15)).await);
    assert_not_found(store.record_login_success(ghost).await);
    let orphan = User { agent_id: Some(ghost), ..user("orphan", Role::Agent) };
    assert_not_found(store.create_user(orphan, "h").await);
    assert_eq!(store.count_users().await.unwrap(), 2);
}

pub async fn a_second_user_with_the_same_username_in_any_case_is_a_conflict(store: Arc<dyn Store>) {
    let alice = store.create_user(user("alice", Role::Admin), "h1").await.unwrap();
    assert_conflict(store.create_user(user("alice", Role::Monitor), "h2").await);
    assert_conflict(store.create_user(user("ALICE", Role::Monitor), "h2").await);
    assert_conflict(store.create_user(user("Alice", Role::Monitor), "h2").await);
    assert_eq!(store.count_users().await.unwrap(), 1);
    let bob = store.create_user(user("bob", Role::Monitor), "h3").await.unwrap();
    assert_conflict(store.update_user(User { username: "aLiCe".into(), ..bob.clone() }).await);
    assert_eq!(store.get_user(bob.id).await.unwrap(), Some(bob.clone()), "the refused rename changed nothing");
    // A user may change the case of their own name.
    let renamed = store.update_user(User { username: "Alice".into(), ..alice }).await.unwrap();
    assert_eq!(renamed.username, "Alice");
}

pub async fn find_user_login_ignores_case_and_returns_the_hash_and_lockout_state(store: Arc<dyn Store>) {
    let alice = store.create_user(user("Alice", Role::Supervisor), "$argon2id$alice").await.unwrap();
    store.create_user(user("bob", Role::Monitor), "$argon2id$bob").await.unwrap();
    let expected = UserLogin {
        user: alice.clone(),
        password_hash: "$argon2id$alice".into(),
        failed_logins: 0,
        locked_until: None,
    };
    for name in ["Alice", "alice", "ALICE"] {
        assert_eq!(store.find_user_login(name).await.unwrap(), Some(expected.clone()), "{name}");
    }
    assert_eq!(store.find_user_login("alic").await.unwrap(), None);
    assert_eq!(store.find_user_login("").await.unwrap(), None);
    store.record_login_failure(alice.id, 2, at(15)).await.unwrap();
    let once = store.find_user_login("alice").await.unwrap().unwrap();
    assert_eq!((once.failed_logins, once.locked_until), (1, None));
    store.record_login_failure(alice.id, 2, at(15)).await.unwrap();
    let locked = store.find_user_login("alice").await.unwrap().unwrap();
    assert_eq!((locked.failed_logins, locked.locked_until), (2, Some(at(15))));
    assert_eq!(locked.user, alice, "the record itself is unchanged");
}

pub async fn failed_sign_ins_lock_at_the_threshold_and_a_success_clears_them(store: Arc<dyn Store>) {
    let u = store.create_user(user("carol", Role::Monitor), "h").await.unwrap();
    let other = store.create_user(user("dave", Role::Monitor), "h").await.unwrap();
    let state = |l: UserLogin| (l.failed_logins, l.locked_until);
    assert_eq!(state(store.record_login_failure(u.id, 3, at(15)).await.unwrap()), (1, None));
    assert_eq!(state(store.record_login_failure(u.id, 3, at(16)).await.unwrap()), (2, None));
    assert_eq!(state(store.record_login_failure(u.id, 3, at(17)).await.unwrap()), (3, Some(at(17))));
    // Each further failure before a success locks again, from its own instant.
    assert_eq!(state(store.record_login_failure(u.id, 3, at(40)).await.unwrap()), (4, Some(at(40))));
    assert_eq!(state(store.find_user_login("carol").await.unwrap().unwrap()), (4, Some(at(40))));
    assert_eq!(state(store.find_user_login("dave").await.unwrap().unwrap()), (0, None), "only that user");
    store.record_login_success(u.id).await.unwrap();
    assert_eq!(state(store.find_user_login("carol").await.unwrap().unwrap()), (0, None));
    assert_eq!(state(store.record_login_failure(u.id, 3, at(50)).await.unwrap()), (1, None), "counting restarts");
    // A threshold of zero never locks.
    assert_eq!(state(store.record_login_failure(other.id, 0, at(60)).await.unwrap()), (1, None));
}

pub async fn concurrent_failed_sign_ins_are_all_counted(store: Arc<dyn Store>) {
    let u = store.create_user(user("erin", Role::Monitor), "h").await.unwrap();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..20 {
        let store = store.clone();
        tasks.spawn(async move { store.record_login_failure(u.id, 10, at(15)).await.unwrap().failed_logins });
    }
    let mut seen = BTreeSet::new();
    while let Some(n) = tasks.join_next().await {
        seen.insert(n.unwrap());
    }
    assert_eq!(seen, (1..=20).collect::<BTreeSet<u32>>(), "each failure saw its own count");
    let after = store.find_user_login("erin").await.unwrap().unwrap();
    assert_eq!((after.failed_logins, after.locked_until), (20, Some(at(15))));
}

pub async fn a_new_password_clears_the_lockout_and_ends_the_users_sessions(store: Arc<dyn Store>) {
    let u = store.create_user(user("frank", Role::Supervisor), "old").await.unwrap();
    let other = store.create_user(user("grace", Role::Supervisor), "hers").await.unwrap();
    for id in ["f1", "f2"] {
        store.create_session(session(id, u.id, at(0), at(600))).await.unwrap();
    }
    store.create_session(session("g1", other.id, at(0), at(600))).await.unwrap();
    for _ in 0..3 {
        store.record_login_failure(u.id, 3, at(15)).await.unwrap();
    }
    store.set_user_password(u.id, "new").await.unwrap();
    let login = store.find_user_login("frank").await.unwrap().unwrap();
    assert_eq!((login.password_hash.as_str(), login.failed_logins, login.locked_until), ("new", 0, None));
    assert_eq!(session_ids(store.as_ref(), &["f1", "f2", "g1"]).await, vec!["g1".to_string()]);
    assert_eq!(store.find_user_login("grace").await.unwrap().unwrap().password_hash, "hers");
}

pub async fn disabling_a_user_ends_their_sessions_and_refuses_new_ones(store: Arc<dyn Store>) {
    let u = store.create_user(user("heidi", Role::Monitor), "h").await.unwrap();
    let other = store.create_user(user("ivan", Role::Monitor), "h").await.unwrap();
    for id in ["h1", "h2"] {
        store.create_session(session(id, u.id, at(0), at(600))).await.unwrap();
    }
    store.create_session(session("i1", other.id, at(0), at(600))).await.unwrap();
    let all = ["h1", "h2", "i1"];
    // An edit that does not disable keeps the sessions.
    let renamed = store.update_user(User { display_name: "Heidi H".into(), ..u }).await.unwrap();
    assert_eq!(session_ids(store.as_ref(), &all).await, ["h1", "h2", "i1"]);

    let disabled = store.update_user(User { disabled: true, ..renamed }).await.unwrap();
    assert!(disabled.disabled);
    assert_eq!(session_ids(store.as_ref(), &all).await, ["i1"]);
    assert_conflict(store.create_session(session("h3", u.id, at(1), at(600))).await);
    assert_eq!(store.find_session("h3").await.unwrap(), None);

    store.update_user(User { disabled: false, ..disabled }).await.unwrap();
    store.create_session(session("h3", u.id, at(1), at(600))).await.unwrap();
    assert_eq!(session_ids(store.as_ref(), &["h1", "h3"]).await, ["h3"], "re-enabling does not bring old ones back");
    assert_not_found(store.create_session(session("x1", 9_999, at(1), at(600))).await);
}

pub async fn an_agent_a_user_acts_as_cannot_be_deleted(store: Arc<dyn Store>) {
    let w = world(store.as_ref()).await;
    let u = store.create_user(User { agent_id: Some(w.agent.id), ..user("alice", Role::Agent) }, "h").await.unwrap();
    assert_conflict(store.delete_agent(w.agent.id).await);
    assert!(store.get_agent(w.agent.id).await.unwrap().is_some());
    assert_eq!(store.get_user(u.id).await.unwrap().unwrap().agent_id, Some(w.agent.id));
    store.update_user(User { agent_id: None, ..u }).await.unwrap();
    store.delete_agent(w.agent.id).await.unwrap();
    assert_eq!(store.get_agent(w.agent.id).await.unwrap(), None);
}

pub async fn user_prefs_round_trip_and_a_save_replaces_them_whole(store: Arc<dyn Store>) {
    let alice = store.create_user(user("alice", Role::Supervisor), "h").await.unwrap();
    let bob = store.create_user(user("bob", Role::Monitor), "h").await.unwrap();
    assert_eq!(store.get_user_prefs(alice.id).await.unwrap(), None, "none saved yet");
    // Opaque text, kept byte for byte (quotes, non-ASCII, a large saved-range list).
    let first = r#"{"version":1,"clock_24h":false,"ranges":[{"name":"Q1 — «spring»","from":"2030-01-01"}]}"#;
    store.put_user_prefs(alice.id, first).await.unwrap();
    assert_eq!(store.get_user_prefs(alice.id).await.unwrap().as_deref(), Some(first));
    assert_eq!(store.get_user_prefs(bob.id).await.unwrap(), None, "only that user's");
    let second = format!(r#"{{"version":2,"columns":[{}]}}"#, vec![r#""phone""#; 500].join(","));
    store.put_user_prefs(alice.id, &second).await.unwrap();
    assert_eq!(store.get_user_prefs(alice.id).await.unwrap(), Some(second.clone()), "replaced, not merged");
    store.put_user_prefs(bob.id, "{}").await.unwrap();
    assert_eq!(store.get_user_prefs(bob.id).await.unwrap().as_deref(), Some("{}"));
    assert_eq!(store.get_user_prefs(alice.id).await.unwrap(), Some(second));
}

pub async fn user_prefs_of_an_unknown_user_are_none_and_cannot_be_saved(store: Arc<dyn Store>) {
    let ghost = 9_999;
    assert_eq!(store.get_user_prefs(ghost).await.unwrap(), None);
    assert_not_found(store.put_user_prefs(ghost, "{}").await);
    assert_eq!(store.get_user_prefs(ghost).await.unwrap(), None, "the refused save left nothing");
    // A user created afterwards starts without preferences.
    let u = store.create_user(user("late", Role::Monitor), "h").await.unwrap();
    assert_eq!(store.get_user_prefs(u.id).await.unwrap(), None);
}

pub async fn disabling_a_user_keeps_their_prefs(store: Arc<dyn Store>) {
    let u = store.create_user(user("judy", Role::Supervisor), "h").await.unwrap();
    store.put_user_prefs(u.id, r#"{"times_utc":true}"#).await.unwrap();
    let disabled = store.update_user(User { disabled: true, ..u }).await.unwrap();
    assert_eq!(store.get_user_prefs(u.id).await.unwrap().as_deref(), Some(r#"{"times_utc":true}"#));
    store.set_user_password(u.id, "new").await.unwrap();
    store.update_user(User { disabled: false, ..disabled }).await.unwrap();
    assert_eq!(
        store.get_user_prefs(u.id).await.unwrap().as_deref(),
        Some(r#"{"times_utc":true}"#),
        "enabled again (with a new password), the user finds their options as they left them"
    );
}

pub async fn sessions_are_created_found_touched_and_deleted(store: Arc<dyn Store>) {
    let u = store.create_user(user("judy", Role::Admin), "h").await.unwrap();
    let s = session("hash-of-secret", u.id, at(0), at(720));
    store.create_session(s.clone()).await.unwrap();
    assert_eq!(store.find_session("hash-of-secret").await.unwrap(), Some(s.clone()));
    assert_eq!(store.find_session("HASH-OF-SECRET").await.unwrap(), None, "ids are exact");
    assert_conflict(store.create_session(session("hash-of-secret", u.id, at(1), at(9))).await);
    assert_eq!(store.find_session("hash-of-secret").await.unwrap(), Some(s.clone()), "the first one stands");

    store.touch_session("hash-of-secret", at(5)).await.unwrap();
    let touched = Session { last_seen_at: at(5), ..s.clone() };
    assert_eq!(store.find_session("hash-of-secret").await.unwrap(), Some(touched.clone()));
    store.touch_session("hash-of-secret", at(3)).await.unwrap();
    assert_eq!(store.find_session("hash-of-secret").await.unwrap(), Some(touched), "a late touch does not go back");
    store.touch_session("unknown", at(5)).await.unwrap();

    store.create_session(session("second", u.id, at(2), at(720))).await.unwrap();
    store.delete_session("hash-of-secret").await.unwrap();
    assert_eq!(store.find_session("hash-of-secret").await.unwrap(), None);
    assert!(store.find_session("second").await.unwrap().is_some(), "only that session");
    store.delete_session("hash-of-secret").await.unwrap();
}

pub async fn purge_sessions_removes_idle_and_absolutely_expired_sessions(store: Arc<dyn Store>) {
    let u = store.create_user(user("ken", Role::Monitor), "h").await.unwrap();
    let make = |id: &str, last_seen: i64, expires: i64| Session {
        last_seen_at: at(last_seen),
        ..session(id, u.id, at(0), at(expires))
    };
    for s in [
        make("fresh", 50, 600),
        make("idle", 10, 600),
        make("idle-edge", 30, 600),
        make("over", 55, 60),
        make("over-soon", 55, 61),
    ] {
        store.create_session(s).await.unwrap();
    }
    let all = ["fresh", "idle", "idle-edge", "over", "over-soon"];
    // Idle since before at(30), or past the absolute expiry at at(60).
    assert_eq!(store.purge_sessions(at(30), at(60)).await.unwrap(), 2);
    assert_eq!(session_ids(store.as_ref(), &all).await, ["fresh", "idle-edge", "over-soon"]);
    assert_eq!(store.purge_sessions(at(30), at(60)).await.unwrap(), 0);
    // A touch keeps a session from idling out.
    store.touch_session("idle-edge", at(45)).await.unwrap();
    assert_eq!(store.purge_sessions(at(40), at(60)).await.unwrap(), 0);
    assert_eq!(store.purge_sessions(at(40), at(61)).await.unwrap(), 1);
    assert_eq!(session_ids(store.as_ref(), &all).await, ["fresh", "idle-edge"]);
}

pub async fn a_batch_create_stores_the_accepted_items_and_reports_the_refused(store: Arc<dyn Store>) {
    let w = world(store.as_ref()).await;
    let ok1 = callback(&w, "+442070000001", at(10));
    let dup = callback(&w, "+442070000001", at(20));
    let ok2 = callback(&w, "+442070000002", at(30));
    let mut full = callback(&w, "+442070000003", at(40));
    full.slot_start = Some(at(40));
    let mut orphan = callback(&w, "+442070000004", at(50));
    orphan.queue_id = Some(987_654);
    let ok3 = callback(&w, "+442070000005", at(60));
    let batch = vec![
        NewCallback { event_action: "imported".into(), ..new_limited(ok1.clone(), 1) },
        new_limited(dup.clone(), 1),
        NewCallback { event_action: "imported".into(), ..new_limited(ok2.clone(), 1) },
        NewCallback { slot_capacity: Some(0), ..new(full.clone()) },
        new(orphan.clone()),
        NewCallback { event_action: "imported".into(), ..new(ok3.clone()) },
    ];
    let results = store.create_callbacks(batch).await.unwrap();
    assert_eq!(results.len(), 6);
    assert_eq!(results[0].as_ref().unwrap(), &CreateOutcome::Created(ok1.clone()));
    assert!(
        matches!(&results[1], Err(StoreError::Duplicate { existing_id }) if *existing_id == ok1.id),
        "{:?}",
        results[1]
    );
    assert_eq!(results[2].as_ref().unwrap(), &CreateOutcome::Created(ok2.clone()));
    assert!(matches!(&results[3], Err(StoreError::SlotFull { .. })), "{:?}", results[3]);
    assert!(results[4].is_err(), "a callback in a missing queue is refused: {:?}", results[4]);
    assert_eq!(results[5].as_ref().unwrap(), &CreateOutcome::Created(ok3.clone()));
    for stored in [&ok1, &ok2, &ok3] {
        assert_eq!(store.get_callback(stored.id).await.unwrap().as_ref(), Some(stored));
        let events = store.callback_events(stored.id).await.unwrap();
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].action, "imported");
    }
    for refused in [&dup, &full, &orphan] {
        assert_eq!(store.get_callback(refused.id).await.unwrap(), None);
        assert!(store.callback_events(refused.id).await.unwrap().is_empty());
    }
    assert_eq!(list_all(store.as_ref(), &CallbackFilter::default()).await.len(), 3);
    assert!(store.create_callbacks(Vec::new()).await.unwrap().is_empty());
}

// ---- operations: update ----------------------------------------------------------------------------

/// An in-place update with no checks and no lifecycle step, by `editor` at `at(5)`.
pub fn edit(id: CallbackId, edit: CallbackEdit) -> UpdateRequest {
    UpdateRequest {
        id,
        action: None,
        expect: Vec::new(),
        if_unchanged_since: None,
        edit,
        duplicate_limit: None,
        slot_capacity: None,
        actor: "editor".into(),
        at: at(5),
        event_action: "edited".into(),
        event_details: json!({"via": "conformance"}),
    }
}

/// A reschedule to `to` (desired and earliest time), as the reschedule endpoint asks for it.
pub fn reschedule(id: CallbackId, to: Timestamp) -> UpdateRequest {
    UpdateRequest {
        action: Some(Action::Reschedule),
        event_action: "rescheduled".into(),
        ..edit(id, CallbackEdit { desired_time: Some(to), earliest_time: Some(Some(to)), ..Default::default() })
    }
}

pub async fn an_update_changes_every_edited_field_and_writes_its_event(store: Arc<dyn Store>) {
    let w = world(store.as_ref()).await;
    let cb = create(store.as_ref(), callback(&w, "+442070000001", at(10))).await;
    let data: DataFields = [("account_no".to_string(), "B-7".to_string())].into();
    let change = CallbackEdit {
        kind: Some(CallbackType::Agent),
        campaign_id: Some(w.other_campaign.id),
        list_id: Some(Some(w.list.id)),
        queue_id: Some(Some(w.other_queue.id)),
        agent_id: Some(Some(w.agent.id)),
        notes: Some(Some("moved to retention".into())),
        data: Some(data.clone()),
        desired_time: Some(at(120)),
        timezone: Some(Some("Asia/Singapore".into())),
        earliest_time: Some(Some(at(125))),
        window_secs: Some(300),
        slot_start: Some(Some(at(120))),
        expires_at: Some(at(9_000)),
    };
    let updated = store.update_callback(edit(cb.id, change)).await.unwrap();
    let expected = Callback {
        kind: CallbackType::Agent,
        campaign_id: w.other_campaign.id,
        list_id: Some(w.list.id),
        queue_id: Some(w.other_queue.id),
        agent_id: Some(w.agent.id),
        notes: Some("moved to retention".into()),
        data,
        desired_time: at(120),
        timezone: Some("Asia/Singapore".into()),
        earliest_time: Some(at(125)),
        window_secs: 300,
        slot_start: Some(at(120)),
        expires_at: at(9_000),
        updated_at: at(5),
        ..cb.clone()
    };
    assert_eq!(updated, expected);
    assert_eq!(store.get_callback(cb.id).await.unwrap(), Some(expected.clone()));
    let events = store.callback_events(cb.id).await.unwrap();
    assert_eq!(events.len(), 2);
    let e = &events[1];
    assert_eq!((e.actor.as_str(), e.action.as_str(), e.at), ("editor", "edited", at(5)));
    assert_eq!((e.from_state, e.to_state), (Some(CallbackState::Scheduled), Some(CallbackState::Scheduled)));
    assert_eq!(e.details, json!({"via": "conformance"}));
    // The filters see the new values, the overdue deadline included (earliest 125 + 5 min).
    let moved = CallbackFilter { campaign_ids: vec![w.other_campaign.id], ..Default::default() };
    assert_eq!(list_all(store.as_ref(), &moved).await, BTreeSet::from([cb.id]));
    let overdue = |m| CallbackFilter { overdue_at: Some(at(m)), ..Default::default() };
    assert!(list_all(store.as_ref(), &overdue(129)).await.is_empty());
    assert_eq!(list_all(store.as_ref(), &overdue(131)).await, BTreeSet::from([cb.id]));

    // `None` leaves a field alone; `Some(None)` clears it.
    let mut clear = edit(cb.id, CallbackEdit { notes: Some(None), agent_id: Some(None), ..Default::default() });
    clear.at = at(6);
    let cleared = store.update_callback(clear).await.unwrap();
    assert_eq!(cleared, Callback { notes: None, agent_id: None, updated_at: at(6), ..expected });
    assert_eq!(store.get_callback(cb.id).await.unwrap(), Some(cleared));
    assert_eq!(store.callback_events(cb.id).await.unwrap().len(), 3);
}

pub async fn a_refused_update_changes_neither_the_callback_nor_its_history(store: Arc<dyn Store>) {
    let w = world(store.as_ref()).await;
    let cb = create(store.as_ref(), callback(&w, "+442070000001", at(10))).await;
    let queued = apply(store.as_ref(), cb.id, &[Action::Promote]).await;
    let events = store.callback_events(cb.id).await.unwrap();
    let change = || CallbackEdit {
        notes: Some(Some("changed".into())),
        desired_time: Some(at(300)),
        slot_start: Some(Some(at(300))),
        ..Default::default()
    };
    let unchanged = async || {
        assert_eq!(store.get_callback(cb.id).await.unwrap().as_ref(), Some(&queued));
        assert_eq!(store.callback_events(cb.id).await.unwrap(), events);
    };

    // The caller saw it SCHEDULED: a plain edit is a conflict naming the state…
    let mut req = edit(cb.id, change());
    req.expect = vec![CallbackState::Scheduled];
    match store.update_callback(req).await {
        Err(StoreError::Conflict(m)) => assert!(m.contains("QUEUED"), "{m}"),
        other => panic!("expected Conflict, got {other:?}"),
    }
    unchanged().await;
    // …and with a lifecycle step it is that step's refusal.
    let mut req = reschedule(cb.id, at(300));
    req.expect = vec![CallbackState::Scheduled];
    match store.update_callback(req).await {
        Err(StoreError::IllegalTransition(e)) => {
            assert_eq!((e.from.state, e.action), (CallbackState::Queued, Action::Reschedule))
        }
        other => panic!("expected IllegalTransition, got {other:?}"),
    }
    unchanged().await;
    // Changed since it was read (created at t0, promoted at t0+1).
    let mut req = edit(cb.id, change());
    req.if_unchanged_since = Some(cb.updated_at);
    assert_conflict(store.update_callback(req).await);
    unchanged().await;
    // Full slot and duplicate refusals.
    let mut req = edit(cb.id, change());
    req.slot_capacity = Some(0);
    assert!(matches!(store.update_callback(req).await, Err(StoreError::SlotFull { .. })));
    unchanged().await;
    let twin = create(store.as_ref(), callback(&w, "+442070000001", at(10))).await;
    let mut req = edit(cb.id, change());
    req.duplicate_limit = Some(1);
    match store.update_callback(req).await {
        Err(StoreError::Duplicate { existing_id }) => assert_eq!(existing_id, twin.id),
        other => panic!("expected Duplicate, got {other:?}"),
    }
    unchanged().await;
    // A queue that does not exist.
    let req = edit(cb.id, CallbackEdit { queue_id: Some(Some(987_654)), ..change() });
    assert_not_found(store.update_callback(req).await);
    unchanged().await;
    assert_not_found(store.update_callback(edit(CallbackId::new(), change())).await);

    // The version the caller read, in an expected state: accepted.
    let mut req = edit(cb.id, change());
    req.expect = vec![CallbackState::Scheduled, CallbackState::Queued];
    req.if_unchanged_since = Some(queued.updated_at);
    let done = store.update_callback(req).await.unwrap();
    assert_eq!(
        (done.notes.as_deref(), done.desired_time, done.state),
        (Some("changed"), at(300), CallbackState::Queued)
    );
    assert_eq!(store.callback_events(cb.id).await.unwrap().len(), events.len() + 1);
}

pub async fn a_reschedule_update_is_allowed_only_from_scheduled(store: Arc<dyn Store>) {
    let w = world(store.as_ref()).await;
    for (i, state) in CallbackState::ALL.into_iter().enumerate() {
        let cb = create(store.as_ref(), callback(&w, &format!("+4420700005{i:02}"), at(10))).await;
        let before = apply(store.as_ref(), cb.id, path_to(state)).await;
        let events = store.callback_events(cb.id).await.unwrap();
        let result = store.update_callback(reschedule(cb.id, at(300))).await;
        if state == CallbackState::Scheduled {
            let moved = result.unwrap();
            assert_eq!(
                moved,
                Callback { desired_time: at(300), earliest_time: Some(at(300)), updated_at: at(5), ..before }
            );
            let last = store.callback_events(cb.id).await.unwrap().pop().unwrap();
            assert_eq!(last.action, "rescheduled");
            assert_eq!((last.from_state, last.to_state), (Some(state), Some(state)));
        } else {
            match result {
                Err(StoreError::IllegalTransition(e)) => {
                    assert_eq!((e.from.state, e.action), (state, Action::Reschedule))
                }
                other => panic!("{state}: expected IllegalTransition, got {other:?}"),
            }
            assert_eq!(store.get_callback(cb.id).await.unwrap(), Some(before));
            assert_eq!(store.callback_events(cb.id).await.unwrap(), events);
        }
    }
}

pub async fn update_duplicate_and_slot_checks_do_not_count_the_callback_itself(store: Arc<dyn Store>) {
    let w = world(store.as_ref()).await;
    let in_slot = |phone: &str, slot: Timestamp| {
        let mut c = callback(&w, phone, slot);
        c.slot_start = Some(slot);
        c
    };
    let a = create(store.as_ref(), in_slot("+442070000001", at(60))).await;
    create(store.as_ref(), in_slot("+442070000002", at(60))).await;
    let c = create(store.as_ref(), in_slot("+442070000003", at(75))).await;

    // `a` stays in its own full slot (2 of 2, itself included): accepted.
    let mut req = reschedule(a.id, at(65));
    req.edit.slot_start = Some(Some(at(60)));
    req.slot_capacity = Some(2);
    req.duplicate_limit = Some(1);
    store.update_callback(req).await.unwrap();
    // `c` moving into it would be a third booking.
    let mut req = reschedule(c.id, at(60));
    req.edit.slot_start = Some(Some(at(60)));
    req.slot_capacity = Some(2);
    match store.update_callback(req).await {
        Err(StoreError::SlotFull { slot_start, capacity }) => assert_eq!((slot_start, capacity), (at(60), 2)),
        other => panic!("expected SlotFull, got {other:?}"),
    }
    assert_eq!(store.get_callback(c.id).await.unwrap(), Some(c.clone()));

    // Transferring a callback for `a`'s number into `a`'s queue is a duplicate naming `a`…
    let mut d = callback(&w, "+442070000001", at(90));
    d.queue_id = Some(w.queue2.id);
    let d = create(store.as_ref(), d).await;
    let mut transfer = edit(d.id, CallbackEdit { queue_id: Some(Some(w.queue.id)), ..Default::default() });
    transfer.duplicate_limit = Some(1);
    match store.update_callback(transfer.clone()).await {
        Err(StoreError::Duplicate { existing_id }) => assert_eq!(existing_id, a.id),
        other => panic!("expected Duplicate, got {other:?}"),
    }
    assert_eq!(store.get_callback(d.id).await.unwrap(), Some(d.clone()));
    // …allowed when the queue allows two.
    transfer.duplicate_limit = Some(2);
    assert_eq!(store.update_callback(transfer).await.unwrap().queue_id, Some(w.queue.id));
    // An agent callback without a queue counts in its campaign and agent.
    let mut agent_cb = edit(
        d.id,
        CallbackEdit {
            kind: Some(CallbackType::Agent),
            queue_id: Some(None),
            agent_id: Some(Some(w.agent.id)),
            ..Default::default()
        },
    );
    agent_cb.duplicate_limit = Some(1);
    assert_eq!(store.update_callback(agent_cb.clone()).await.unwrap().queue_id, None);
    store.update_callback(agent_cb).await.unwrap();
}

// ---- operations: delete, recreate ------------------------------------------------------------------

pub async fn a_deleted_callback_is_gone_and_its_history_keeps_what_it_was(store: Arc<dyn Store>) {
    let w = world(store.as_ref()).await;
    let cb = create(store.as_ref(), callback(&w, "+442070000001", at(10))).await;
    let queued = apply(store.as_ref(), cb.id, &[Action::Promote]).await;
    let history = store.callback_events(cb.id).await.unwrap();
    let deleted = store.delete_callback(cb.id, "admin:root", at(30)).await.unwrap();
    assert_eq!(deleted, queued);

    assert_eq!(store.get_callback(cb.id).await.unwrap(), None);
    assert!(list_all(store.as_ref(), &CallbackFilter::default()).await.is_empty());
    assert!(store.search_callbacks(Some(cb.id), &[], 10).await.unwrap().is_empty());
    let events = store.callback_events(cb.id).await.unwrap();
    assert_eq!(events.len(), history.len() + 1);
    assert_eq!(events[..history.len()], history[..], "the history is kept as it was");
    let tombstone = events.last().unwrap();
    assert_eq!((tombstone.action.as_str(), tombstone.actor.as_str(), tombstone.at), ("deleted", "admin:root", at(30)));
    assert_eq!((tombstone.from_state, tombstone.to_state), (Some(CallbackState::Queued), None));
    let snapshot: Callback = serde_json::from_value(tombstone.details.clone()).expect("the details are the callback");
    assert_eq!(snapshot, queued);

    assert_not_found(store.delete_callback(cb.id, "admin:root", at(31)).await);
    assert_not_found(store.transition_callback(step(cb.id, CANCEL)).await);
    assert_eq!(store.callback_events(cb.id).await.unwrap().len(), history.len() + 1);
    // It no longer counts as an active callback for its number.
    store.create_callback(new_limited(callback(&w, "+442070000001", at(10)), 1)).await.unwrap();
}

pub async fn a_recreated_callback_is_linked_both_ways(store: Arc<dyn Store>) {
    let w = world(store.as_ref()).await;
    let original = create(store.as_ref(), callback(&w, "+442070000001", at(10))).await;
    let original = apply(store.as_ref(), original.id, &[CANCEL]).await;
    let mut copy = callback(&w, "+442070000001", at(60));
    copy.origin = Origin::Recreated;
    copy.recreated_from = Some(original.id);
    copy.created_by = "supervisor:sam".into();
    copy.created_at = at(20);
    copy.updated_at = at(20);
    let created = store
        .create_callback(NewCallback { event_action: "recreated".into(), ..new_limited(copy.clone(), 1) })
        .await
        .unwrap();
    assert_eq!(created, CreateOutcome::Created(copy.clone()));
    assert_eq!(store.get_callback(copy.id).await.unwrap(), Some(copy.clone()));

    let linked = store.get_callback(original.id).await.unwrap().unwrap();
    assert_eq!(linked, Callback { recreated_as: Some(copy.id), updated_at: at(20), ..original.clone() });
    let events = store.callback_events(original.id).await.unwrap();
    assert_eq!(events.len(), 3);
    let e = &events[2];
    assert_eq!((e.action.as_str(), e.actor.as_str(), e.at), ("recreated", "supervisor:sam", at(20)));
    assert_eq!((e.from_state, e.to_state), (Some(CallbackState::Completed), Some(CallbackState::Completed)));
    assert_eq!(e.details, json!({"recreated_as": copy.id.to_string()}));
    assert_eq!(store.callback_events(copy.id).await.unwrap().len(), 1);
}

pub async fn recreate_is_refused_unless_the_original_completed_and_was_not_recreated_yet(store: Arc<dyn Store>) {
    let w = world(store.as_ref()).await;
    let recreation = |original: CallbackId, phone: &str| {
        let mut c = callback(&w, phone, at(60));
        c.origin = Origin::Recreated;
        c.recreated_from = Some(original);
        c
    };
    let refused_without_trace = async |result: StoreResult<CreateOutcome>, copy: &Callback, original: &Callback| {
        assert!(matches!(result, Err(StoreError::Conflict(_))), "expected Conflict, got {result:?}");
        assert_eq!(store.get_callback(copy.id).await.unwrap(), None);
        assert!(store.callback_events(copy.id).await.unwrap().is_empty());
        assert_eq!(store.get_callback(original.id).await.unwrap().as_ref(), Some(original));
    };

    // Still active.
    let active = create(store.as_ref(), callback(&w, "+442070000001", at(10))).await;
    let copy = recreation(active.id, "+442070000002");
    refused_without_trace(store.create_callback(new(copy.clone())).await, &copy, &active).await;
    assert_eq!(store.callback_events(active.id).await.unwrap().len(), 1);
    // Unknown.
    assert_not_found(store.create_callback(new(recreation(CallbackId::new(), "+442070000003"))).await);

    // Recreated once; a second time is refused, naming the first successor.
    let done = create(store.as_ref(), callback(&w, "+442070000004", at(10))).await;
    apply(store.as_ref(), done.id, &[CANCEL]).await;
    let first = create(store.as_ref(), recreation(done.id, "+442070000004")).await;
    let done = store.get_callback(done.id).await.unwrap().unwrap();
    let second = recreation(done.id, "+442070000005");
    let result = store.create_callback(new(second.clone())).await;
    assert!(matches!(&result, Err(StoreError::Conflict(m)) if m.contains(&first.id.to_string())), "{result:?}");
    refused_without_trace(result, &second, &done).await;

    // In a batch, the second recreation of one original sees the first.
    let other = create(store.as_ref(), callback(&w, "+442070000006", at(10))).await;
    apply(
        store.as_ref(),
        other.id,
        &[Action::Promote, Action::Reserve, Action::Accept, Action::Finish(CallbackResult::Agent)],
    )
    .await;
    let (a, b) = (recreation(other.id, "+442070000006"), recreation(other.id, "+442070000007"));
    let results = store.create_callbacks(vec![new(a.clone()), new(b.clone())]).await.unwrap();
    assert_eq!(results[0].as_ref().unwrap(), &CreateOutcome::Created(a.clone()));
    assert!(matches!(results[1], Err(StoreError::Conflict(_))), "{:?}", results[1]);
    assert_eq!(store.get_callback(other.id).await.unwrap().unwrap().recreated_as, Some(a.id));
    assert_eq!(store.get_callback(b.id).await.unwrap(), None);
}

// ---- operations: bulk cancel -----------------------------------------------------------------------

pub fn bulk(report_id: &str, selection: BulkSelection) -> BulkCancelRequest {
    BulkCancelRequest {
        report_id: report_id.into(),
        selection,
        by_customer: false,
        reason: Some("storm".into()),
        actor: "supervisor:sam".into(),
        at: at(40),
    }
}

/// Checks that `cancelled` went from `before` to COMPLETED(`result`) at `at(40)` with exactly one new
/// event, the bulk's `cancelled` event.
async fn assert_bulk_cancelled(store: &dyn Store, before: &Callback, result: CallbackResult, report_id: &str) {
    let now = store.get_callback(before.id).await.unwrap().unwrap();
    assert_eq!(
        now,
        Callback { state: CallbackState::Completed, result: Some(result), updated_at: at(40), ..before.clone() }
    );
    let events = store.callback_events(before.id).await.unwrap();
    let cancels: Vec<&CallbackEvent> = events.iter().filter(|e| e.action == "cancelled").collect();
    assert_eq!(cancels.len(), 1, "one cancelled event");
    let e = events.last().unwrap();
    assert_eq!((e.action.as_str(), e.actor.as_str(), e.at), ("cancelled", "supervisor:sam", at(40)));
    assert_eq!((e.from_state, e.to_state), (Some(before.state), Some(CallbackState::Completed)));
    assert_eq!(e.details, json!({"reason": "storm", "bulk_report_id": report_id}));
}

pub async fn bulk_cancel_by_ids_cancels_what_it_may_and_reports_every_id_in_order(store: Arc<dyn Store>) {
    use CallbackState::*;
    let w = world(store.as_ref()).await;
    let mut made = Vec::new();
    for (i, state) in [Scheduled, Queued, Routing, Processing, Completed].into_iter().enumerate() {
        let cb = create(store.as_ref(), callback(&w, &format!("+4420700006{i:02}"), at(10 + 100 * i as i64))).await;
        made.push(apply(store.as_ref(), cb.id, path_to(state)).await);
    }
    let [s, q, r, p, c] = <[Callback; 5]>::try_from(made).unwrap();
    let (p_events, c_events) = (store.callback_events(p.id).await.unwrap(), store.callback_events(c.id).await.unwrap());
    let unknown = CallbackId::new();
    let order = vec![p.id, s.id, unknown, q.id, s.id, c.id, r.id];
    let summary = store.bulk_cancel(bulk("r-1", BulkSelection::Ids(order))).await.unwrap();
    assert_eq!(summary.report_id, "r-1");
    assert_eq!(summary.cancelled, 3);
    assert_eq!(
        summary.skipped,
        vec![
            SkippedCallback {
                id: p.id,
                state: Some(Processing),
                reason: "in PROCESSING: an agent is handling it".into()
            },
            SkippedCallback { id: unknown, state: None, reason: "not found".into() },
            SkippedCallback { id: c.id, state: Some(Completed), reason: "already COMPLETED".into() },
        ]
    );
    for cb in [&s, &q, &r] {
        assert_bulk_cancelled(store.as_ref(), cb, CallbackResult::CancelledByAdmin, "r-1").await;
    }
    assert_eq!(store.get_callback(p.id).await.unwrap(), Some(p.clone()));
    assert_eq!(store.get_callback(c.id).await.unwrap(), Some(c.clone()));
    assert_eq!(store.callback_events(p.id).await.unwrap(), p_events);
    assert_eq!(store.callback_events(c.id).await.unwrap(), c_events);

    // The report outlives a rename: it records the names of the moment.
    store.update_campaign(Campaign { name: "Renamed".into(), ..w.campaign.clone() }).await.unwrap();
    let report = store.cancellation_report("r-1").await.unwrap().expect("the report is kept");
    assert_eq!(
        (report.report_id.as_str(), report.actor.as_str(), report.created_at),
        ("r-1", "supervisor:sam", at(40))
    );
    let latest = [&s, &q, &r, &p, &c].iter().map(|c| c.expires_at).max().unwrap();
    assert_eq!(report.expires_at, latest, "the report expires with the last of its callbacks");
    let line = |cb: &Callback, outcome: &str, reason: &str| CancellationRow {
        callback_id: cb.id,
        phone: cb.phone.clone(),
        campaign_id: w.campaign.id,
        campaign_name: "Sales Outbound".into(),
        queue_id: Some(w.queue.id),
        queue_name: Some("Billing".into()),
        desired_time: cb.desired_time,
        state_before: Some(cb.state),
        outcome: outcome.into(),
        reason: reason.into(),
        actor: "supervisor:sam".into(),
        at: at(40),
    };
    let expected = vec![
        line(&p, "skipped", "in PROCESSING: an agent is handling it"),
        line(&s, "cancelled", "storm"),
        CancellationRow {
            callback_id: unknown,
            phone: String::new(),
            campaign_id: 0,
            campaign_name: String::new(),
            queue_id: None,
            queue_name: None,
            desired_time: Timestamp::UNIX_EPOCH,
            state_before: None,
            outcome: "skipped".into(),
            reason: "not found".into(),
            actor: "supervisor:sam".into(),
            at: at(40),
        },
        line(&q, "cancelled", "storm"),
        line(&c, "skipped", "already COMPLETED"),
        line(&r, "cancelled", "storm"),
    ];
    assert_eq!(report.rows, expected);
    assert_eq!(store.cancellation_report("no-such-report").await.unwrap(), None);

    // By the customer's wish.
    let fresh = create(store.as_ref(), callback(&w, "+442070000699", at(10))).await;
    let mut by_customer = bulk("r-2", BulkSelection::Ids(vec![fresh.id]));
    by_customer.by_customer = true;
    assert_eq!(store.bulk_cancel(by_customer).await.unwrap().cancelled, 1);
    assert_bulk_cancelled(store.as_ref(), &fresh, CallbackResult::CancelledByCustomer, "r-2").await;

    // A report id names one bulk action: reusing it is refused and cancels nothing.
    let other = create(store.as_ref(), callback(&w, "+442070000698", at(10))).await;
    assert_conflict(store.bulk_cancel(bulk("r-1", BulkSelection::Ids(vec![other.id]))).await);
    assert_eq!(store.get_callback(other.id).await.unwrap(), Some(other.clone()));
    assert_eq!(store.cancellation_report("r-1").await.unwrap().unwrap().rows, expected);
}

pub async fn bulk_cancel_by_filter_covers_exactly_the_matching_callbacks(store: Arc<dyn Store>) {
    use CallbackState::*;
    let w = world(store.as_ref()).await;
    let mut in_range = Vec::new();
    for (i, state) in [Completed, Scheduled, Processing, Queued].into_iter().enumerate() {
        // Created out of time order: the report follows desired time.
        let cb = create(store.as_ref(), callback(&w, &format!("+4420700007{i:02}"), at(80 - 20 * i as i64))).await;
        in_range.push(apply(store.as_ref(), cb.id, path_to(state)).await);
    }
    in_range.sort_by_key(|c| (c.desired_time, c.id));
    let outside = create(store.as_ref(), callback(&w, "+442070000790", at(200))).await;
    let mut other_queue = callback(&w, "+442070000791", at(50));
    other_queue.queue_id = Some(w.queue2.id);
    let other_queue = create(store.as_ref(), other_queue).await;

    let filter =
        CallbackFilter { from: Some(at(0)), to: Some(at(100)), queue_ids: vec![w.queue.id], ..Default::default() };
    let mut req = bulk("range", BulkSelection::Filter(filter));
    req.by_customer = true;
    let summary = store.bulk_cancel(req).await.unwrap();
    assert_eq!(summary.cancelled, 2);
    let skipped: Vec<(CallbackId, Option<CallbackState>)> = summary.skipped.iter().map(|s| (s.id, s.state)).collect();
    let expected_skips: Vec<(CallbackId, Option<CallbackState>)> =
        in_range.iter().filter(|c| matches!(c.state, Processing | Completed)).map(|c| (c.id, Some(c.state))).collect();
    assert_eq!(skipped, expected_skips);
    for cb in in_range.iter().filter(|c| matches!(c.state, Scheduled | Queued)) {
        assert_bulk_cancelled(store.as_ref(), cb, CallbackResult::CancelledByCustomer, "range").await;
    }
    assert_eq!(store.get_callback(outside.id).await.unwrap(), Some(outside));
    assert_eq!(store.get_callback(other_queue.id).await.unwrap(), Some(other_queue));
    let report = store.cancellation_report("range").await.unwrap().unwrap();
    assert_eq!(report.rows.iter().map(|r| r.callback_id).collect::<Vec<_>>(), ids(&in_range));
    let outcomes: Vec<&str> = report.rows.iter().map(|r| r.outcome.as_str()).collect();
    let expected: Vec<&str> =
        in_range.iter().map(|c| if c.state.is_cancellable() { "cancelled" } else { "skipped" }).collect();
    assert_eq!(outcomes, expected);

    // A range with nothing in it still leaves its (empty) report, kept for the retention period.
    let empty = CallbackFilter { from: Some(at(5_000)), to: Some(at(6_000)), ..Default::default() };
    let summary = store.bulk_cancel(bulk("empty", BulkSelection::Filter(empty))).await.unwrap();
    assert_eq!((summary.cancelled, summary.skipped.len()), (0, 0));
    let report = store.cancellation_report("empty").await.unwrap().unwrap();
    assert!(report.rows.is_empty());
    assert_eq!(report.expires_at, at(40) + SignedDuration::from_hours(14 * 24));
}

pub async fn a_bulk_cancel_of_more_than_one_batch_is_complete_and_consistent(store: Arc<dyn Store>) {
    const N: usize = 12_000;
    let w = world(store.as_ref()).await;
    let mut all = Vec::with_capacity(N);
    for start in (0..N).step_by(1_000) {
        let batch: Vec<NewCallback> = (start..start + 1_000)
            .map(|i| new(callback(&w, &format!("+4420710{i:05}"), at((i % 700) as i64))))
            .collect();
        for r in store.create_callbacks(batch).await.unwrap() {
            all.push(r.unwrap().into_callback());
        }
    }
    // A few an agent is already handling.
    let busy: BTreeSet<CallbackId> = all.iter().step_by(1_000).map(|c| c.id).collect();
    for id in &busy {
        apply(store.as_ref(), *id, path_to(CallbackState::Processing)).await;
    }
    let summary = store.bulk_cancel(bulk("big", BulkSelection::Filter(CallbackFilter::default()))).await.unwrap();
    assert_eq!(summary.cancelled as usize, N - busy.len());
    assert_eq!(summary.skipped.iter().map(|s| s.id).collect::<BTreeSet<_>>(), busy);
    assert!(summary.skipped.iter().all(|s| s.state == Some(CallbackState::Processing)));

    let count = |states: Vec<CallbackState>| {
        let store = store.clone();
        async move {
            let f = CallbackFilter { states, ..Default::default() };
            store.list_callbacks(&f, Sort::default(), PageRequest { page: 1, page_size: 1 }).await.unwrap().total
        }
    };
    assert_eq!(count(vec![CallbackState::Completed]).await as usize, N - busy.len());
    assert_eq!(count(vec![CallbackState::Processing]).await as usize, busy.len());

    let report = store.cancellation_report("big").await.unwrap().unwrap();
    let latest = all.iter().map(|c| c.expires_at).max().unwrap();
    assert_eq!(report.expires_at, latest, "the expiry follows the callbacks of every batch");
    all.sort_by_key(|c| (c.desired_time, c.id));
    assert_eq!(
        report.rows.iter().map(|r| r.callback_id).collect::<Vec<_>>(),
        ids(&all),
        "every callback once, in order"
    );
    for row in &report.rows {
        let expected = if busy.contains(&row.callback_id) { "skipped" } else { "cancelled" };
        assert_eq!(row.outcome, expected);
    }
    for cb in &all {
        let events = store.callback_events(cb.id).await.unwrap();
        let cancels = events.iter().filter(|e| e.action == "cancelled").count();
        assert_eq!(cancels, usize::from(!busy.contains(&cb.id)), "one cancelled event per cancelled callback");
    }
}

// ---- operations: export ----------------------------------------------------------------------------

pub async fn export_pages_cover_the_filtered_set_once_in_order_both_ways(store: Arc<dyn Store>) {
    let s = sample(store.as_ref()).await;
    // Ties on desired time are ordered by id.
    let mut all = s.all.clone();
    for i in 0..5 {
        all.push(create(store.as_ref(), callback(&s.w, &format!("+4420700008{i:02}"), at(50))).await);
    }
    let filters = [
        CallbackFilter::default(),
        CallbackFilter {
            campaign_ids: vec![s.w.campaign.id],
            states: vec![CallbackState::Scheduled, CallbackState::Queued],
            ..Default::default()
        },
        CallbackFilter { from: Some(at(0)), to: Some(at(180)), ..Default::default() },
    ];
    for filter in &filters {
        let mut expected: Vec<Callback> = Vec::new();
        for cb in &all {
            if list_all(store.as_ref(), filter).await.contains(&cb.id) {
                expected.push(store.get_callback(cb.id).await.unwrap().unwrap());
            }
        }
        assert!(!expected.is_empty());
        expected.sort_by_key(|c| (c.desired_time, c.id));
        for descending in [false, true] {
            let want: Vec<Callback> =
                if descending { expected.iter().rev().cloned().collect() } else { expected.clone() };
            for limit in [1, 2, 5, 1000] {
                let (mut got, mut after) = (Vec::new(), None);
                loop {
                    let page = store.export_callbacks(filter, descending, after, limit).await.unwrap();
                    assert!(page.len() <= limit as usize);
                    let Some(last) = page.last() else { break };
                    after = Some((last.desired_time, last.id));
                    let short = page.len() < limit as usize;
                    got.extend(page);
                    if short {
                        break;
                    }
                    assert!(got.len() <= want.len(), "pages never repeat");
                }
                assert_eq!(got, want, "{filter:?} descending={descending} limit={limit}");
            }
        }
    }
    assert!(store.export_callbacks(&CallbackFilter::default(), false, None, 0).await.unwrap().is_empty());
}

// ---- operations: retention -------------------------------------------------------------------------

pub async fn purge_removes_exactly_what_expired_and_respects_the_limit(store: Arc<dyn Store>) {
    let w = world(store.as_ref()).await;
    let expiring = |phone: &str, expires: i64| Callback { expires_at: at(expires), ..callback(&w, phone, at(0)) };
    let key = IdempotencyKey { key: "token-1:expiring".into(), fingerprint: "f".into() };
    let e1 = expiring("+442070000001", 10);
    store.create_callback(NewCallback { idempotency: Some(key.clone()), ..new(e1.clone()) }).await.unwrap();
    apply(store.as_ref(), e1.id, &[Action::Promote]).await;
    let e2 = create(store.as_ref(), expiring("+442070000002", 20)).await;
    let e3 = create(store.as_ref(), expiring("+442070000003", 30)).await;
    let kept = create(store.as_ref(), expiring("+442070000004", 1_000)).await;
    let gone_deleted = create(store.as_ref(), expiring("+442070000005", 15)).await;
    let kept_deleted = create(store.as_ref(), expiring("+442070000006", 2_000)).await;
    store.delete_callback(gone_deleted.id, "admin", at(1)).await.unwrap();
    store.delete_callback(kept_deleted.id, "admin", at(1)).await.unwrap();
    // Reports expire with the last of their callbacks.
    store.bulk_cancel(bulk("short", BulkSelection::Ids(vec![e3.id]))).await.unwrap();
    store.bulk_cancel(bulk("long", BulkSelection::Ids(vec![kept.id, e3.id]))).await.unwrap();
    let kept = store.get_callback(kept.id).await.unwrap().unwrap();
    let kept_events = store.callback_events(kept.id).await.unwrap();
    let kept_deleted_events = store.callback_events(kept_deleted.id).await.unwrap();
    let long_report = store.cancellation_report("long").await.unwrap().unwrap();
    assert_eq!(long_report.expires_at, at(1_000));

    // Limit 1: the oldest expired callback (e1, 2 events) and the oldest expired tombstone (2 events).
    let first = store.purge_expired(at(25), 1).await.unwrap();
    assert_eq!(first, PurgeOutcome { callbacks: 1, events: 4, reports: 0 });
    assert_eq!(store.get_callback(e1.id).await.unwrap(), None);
    assert!(store.callback_events(e1.id).await.unwrap().is_empty());
    assert!(store.callback_events(gone_deleted.id).await.unwrap().is_empty());
    assert_eq!(store.find_idempotent(&key.key).await.unwrap(), None);
    assert!(store.get_callback(e2.id).await.unwrap().is_some(), "beyond the limit: next pass");
    // The rest that expired by then, then nothing.
    assert_eq!(store.purge_expired(at(25), 10).await.unwrap(), PurgeOutcome { callbacks: 1, events: 1, reports: 0 });
    assert_eq!(store.get_callback(e2.id).await.unwrap(), None);
    assert_eq!(store.purge_expired(at(25), 10).await.unwrap(), PurgeOutcome::default());
    assert!(store.cancellation_report("short").await.unwrap().is_some(), "not expired yet");
    // At 30: e3 (created + cancelled) and the report that only covered it.
    assert_eq!(store.purge_expired(at(30), 10).await.unwrap(), PurgeOutcome { callbacks: 1, events: 2, reports: 1 });
    assert_eq!(store.get_callback(e3.id).await.unwrap(), None);
    assert_eq!(store.cancellation_report("short").await.unwrap(), None);

    // Nothing else was touched.
    assert_eq!(store.get_callback(kept.id).await.unwrap(), Some(kept.clone()));
    assert_eq!(store.callback_events(kept.id).await.unwrap(), kept_events);
    assert_eq!(store.callback_events(kept_deleted.id).await.unwrap(), kept_deleted_events);
    assert_eq!(store.cancellation_report("long").await.unwrap(), Some(long_report));
    assert_eq!(list_all(store.as_ref(), &CallbackFilter::default()).await, BTreeSet::from([kept.id]));
    // A purged callback's idempotency key names nothing any more: the key is free again.
    let again = NewCallback { idempotency: Some(key), ..new(callback(&w, "+442070000007", at(0))) };
    assert!(matches!(store.create_callback(again).await.unwrap(), CreateOutcome::Created(_)));
    // Later, the rest that expired by then goes too.
    let last = store.purge_expired(at(3_000), 10).await.unwrap();
    assert_eq!((last.callbacks, last.reports), (1, 1));
    assert_eq!(store.get_callback(kept.id).await.unwrap(), None);
    assert!(store.callback_events(kept_deleted.id).await.unwrap().is_empty());
    assert_eq!(store.cancellation_report("long").await.unwrap(), None);
}

// ---- operations: concurrency -----------------------------------------------------------------------

/// The lifecycle step an audit event records, by its action name (as the conformance requests write
/// them).
fn replayed_action(event: &CallbackEvent) -> Action {
    match event.action.as_str() {
        "promoted" => Action::Promote,
        "reserved" => Action::Reserve,
        "accepted" => Action::Accept,
        "finished" => Action::Finish(CallbackResult::Agent),
        "cancelled" => CANCEL,
        "rescheduled" => Action::Reschedule,
        other => panic!("unexpected event {other}"),
    }
}

pub async fn racing_cancels_reschedules_steps_and_bulk_cancels_keep_every_history_legal(store: Arc<dyn Store>) {
    use rebound_domain::state::{Status, transition};
    let w = world(store.as_ref()).await;
    let mut cbs = Vec::new();
    for i in 0..60 {
        cbs.push(create(store.as_ref(), callback(&w, &format!("+4420700009{i:02}"), at(10 + i))).await);
    }
    let mut tasks = tokio::task::JoinSet::new();
    for (i, cb) in cbs.iter().enumerate() {
        let id = cb.id;
        let st = store.clone();
        // The engine's walk to a finished call, one step after another while each succeeds.
        tasks.spawn(async move {
            let mut ok = 0;
            for action in [Action::Promote, Action::Reserve, Action::Accept, Action::Finish(CallbackResult::Agent)] {
                match st.transition_callback(step(id, action)).await {
                    Ok(_) => ok += 1,
                    Err(StoreError::IllegalTransition(_)) => break,
                    Err(e) => panic!("{e}"),
                }
            }
            vec![(id, ok)]
        });
        let st = store.clone();
        tasks.spawn(async move {
            match st.transition_callback(step(id, CANCEL)).await {
                Ok(_) => vec![(id, 1)],
                Err(StoreError::IllegalTransition(_)) => vec![(id, 0)],
                Err(e) => panic!("{e}"),
            }
        });
        for r in 0..2 {
            let st = store.clone();
            let to = at(300 + i as i64 + r);
            tasks.spawn(async move {
                match st.update_callback(reschedule(id, to)).await {
                    Ok(_) => vec![(id, 1)],
                    Err(StoreError::IllegalTransition(_)) => vec![(id, 0)],
                    Err(e) => panic!("{e}"),
                }
            });
        }
    }
    let selections = [
        ("race-ids", BulkSelection::Ids(ids(&cbs).into_iter().rev().collect())),
        ("race-filter", BulkSelection::Filter(CallbackFilter { queue_ids: vec![w.queue.id], ..Default::default() })),
    ];
    for (report_id, selection) in selections {
        let st = store.clone();
        let all = ids(&cbs);
        tasks.spawn(async move {
            let summary = st.bulk_cancel(bulk(report_id, selection)).await.unwrap();
            let skipped: BTreeSet<CallbackId> = summary.skipped.iter().map(|s| s.id).collect();
            assert_eq!(summary.cancelled as usize + skipped.len(), all.len());
            all.into_iter().map(|id| (id, u32::from(!skipped.contains(&id)))).collect()
        });
    }
    let mut successes = std::collections::BTreeMap::<CallbackId, u32>::new();
    while let Some(done) = tasks.join_next().await {
        for (id, n) in done.unwrap() {
            *successes.entry(id).or_default() += n;
        }
    }

    for cb in &cbs {
        let now = store.get_callback(cb.id).await.unwrap().unwrap();
        let stored = Status { state: now.state, result: now.result };
        assert!(stored.is_well_formed(), "{stored:?}");
        let events = store.callback_events(cb.id).await.unwrap();
        assert_eq!((events[0].from_state, events[0].to_state), (None, Some(CallbackState::Scheduled)));
        let mut status = Status::SCHEDULED;
        for e in &events[1..] {
            assert_eq!(e.from_state, Some(status.state), "each event starts where the one before ended");
            let action = replayed_action(e);
            status = transition(status, action).unwrap_or_else(|err| panic!("{} replays illegally: {err}", e.action));
            assert_eq!(e.to_state, Some(status.state));
        }
        assert_eq!(status.state, stored.state, "the history ends in the stored state");
        assert_eq!(
            events.len() as u32 - 1,
            successes.get(&cb.id).copied().unwrap_or(0),
            "one event per successful operation, none lost"
        );
    }
}

// ---- dispatch (the engine) -------------------------------------------------------------------------

/// A dial check that lets everything through.
pub fn dial_anything() -> DialCheck {
    Arc::new(|_, _| Ok(()))
}

/// A dial check that refuses every callback whose number is in `refused`, until `until`.
pub fn dial_refusing(refused: &[&str], until: Option<Timestamp>) -> DialCheck {
    let refused: Vec<String> = refused.iter().map(|p| p.to_string()).collect();
    Arc::new(move |cb: &Callback, _| if refused.contains(&cb.phone) { Err(until) } else { Ok(()) })
}

/// A callback created in the world's first queue and promoted at `queued_at` with `priority`.
async fn queued(store: &dyn Store, w: &World, phone: &str, priority: i32, queued_at: Timestamp) -> Callback {
    let mut cb = callback(w, phone, at(-10));
    cb.priority = priority;
    let cb = create(store, cb).await;
    let mut promote = step(cb.id, Action::Promote);
    promote.at = queued_at;
    store.transition_callback(promote).await.unwrap()
}

/// An agent callback for `agent_id` (no queue), promoted at `queued_at`.
async fn queued_for_agent(
    store: &dyn Store,
    w: &World,
    phone: &str,
    agent_id: AgentId,
    queued_at: Timestamp,
) -> Callback {
    let mut cb = callback(w, phone, at(-10));
    cb.kind = CallbackType::Agent;
    cb.queue_id = None;
    cb.agent_id = Some(agent_id);
    let cb = create(store, cb).await;
    let mut promote = step(cb.id, Action::Promote);
    promote.at = queued_at;
    store.transition_callback(promote).await.unwrap()
}

/// A new agent of the world's campaign and first queue, ready since `since`.
async fn ready_agent(store: &dyn Store, w: &World, username: &str, since: Timestamp) -> Agent {
    let mut a = agent(username, username);
    a.campaigns = vec![w.campaign.id];
    a.queues = vec![w.queue.id];
    let a = store.create_agent(a).await.unwrap();
    store.set_presence(a.id, Presence::Ready, "tester", since).await.unwrap().0
}

fn reserve(pairs: &[(CallbackId, AgentId)], dial_check: DialCheck) -> ReserveRequest {
    ReserveRequest {
        pairs: pairs.iter().map(|&(callback_id, agent_id)| ReservePair { callback_id, agent_id }).collect(),
        hold_until: at(2),
        dial_check,
        actor: "engine".into(),
        at: at(1),
    }
}

fn claim(campaign_id: CampaignId, max: u32, lease_id: &str, dial_check: DialCheck) -> ClaimRequest {
    ClaimRequest {
        campaign_id,
        max,
        lease_id: lease_id.into(),
        hold_until: at(5),
        dial_check,
        actor: "dialer".into(),
        at: at(1),
    }
}

async fn last_event(store: &dyn Store, id: CallbackId) -> CallbackEvent {
    store.callback_events(id).await.unwrap().pop().expect("a callback has events")
}

async fn state_of(store: &dyn Store, id: CallbackId) -> CallbackState {
    store.get_callback(id).await.unwrap().expect("the callback exists").state
}

async fn presence_of(store: &dyn Store, id: AgentId) -> Agent {
    store.get_agent(id).await.unwrap().expect("the agent exists")
}

pub async fn promote_due_promotes_due_callbacks_earliest_first_up_to_the_limit(store: Arc<dyn Store>) {
    let w = world(store.as_ref()).await;
    let mut made = Vec::new();
    for (i, minutes) in [-1, -3, 5, -2, 0].into_iter().enumerate() {
        made.push(create(store.as_ref(), callback(&w, &format!("+4420700040{i:02}"), at(minutes))).await);
    }
    let mut unknown = callback(&w, "+442070004099", at(-30));
    unknown.earliest_time = None;
    let unknown = create(store.as_ref(), unknown).await;

    let first = store.promote_due(at(0), 2, "engine").await.unwrap();
    assert_eq!(ids(&first), vec![made[1].id, made[3].id], "earliest first, at most the limit");
    for cb in &first {
        assert_eq!((cb.state, cb.queued_at, cb.updated_at), (CallbackState::Queued, Some(at(0)), at(0)));
        assert_eq!(store.get_callback(cb.id).await.unwrap().as_ref(), Some(cb), "returned as stored");
        let e = last_event(store.as_ref(), cb.id).await;
        assert_eq!((e.action.as_str(), e.actor.as_str(), e.at), ("promoted", "engine", at(0)));
        assert_eq!((e.from_state, e.to_state), (Some(CallbackState::Scheduled), Some(CallbackState::Queued)));
        assert_eq!(e.details, json!({ "earliest_time": cb.earliest_time }));
    }
    let rest = store.promote_due(at(0), 100, "engine").await.unwrap();
    assert_eq!(ids(&rest), vec![made[0].id, made[4].id], "due at `now` itself is due");
    assert!(store.promote_due(at(0), 100, "engine").await.unwrap().is_empty());
    assert_eq!(state_of(store.as_ref(), made[2].id).await, CallbackState::Scheduled, "not due yet");
    assert_eq!(state_of(store.as_ref(), unknown.id).await, CallbackState::Scheduled, "no earliest time: never due");
}

pub async fn a_re_promoted_callback_keeps_its_first_queued_at(store: Arc<dyn Store>) {
    let w = world(store.as_ref()).await;
    let cb = create(store.as_ref(), callback(&w, "+442070004101", at(-1))).await;
    assert_eq!(store.promote_due(at(0), 10, "engine").await.unwrap()[0].queued_at, Some(at(0)));
    let mut demote = step(cb.id, Action::Demote);
    demote.update.earliest_time = Some(Some(at(10)));
    store.transition_callback(demote).await.unwrap();
    let again = store.promote_due(at(20), 10, "engine").await.unwrap();
    assert_eq!(ids(&again), vec![cb.id]);
    assert_eq!((again[0].queued_at, again[0].updated_at), (Some(at(0)), at(20)), "its place in line is kept");
    assert_eq!(store.get_callback(cb.id).await.unwrap().unwrap().queued_at, Some(at(0)));
}

pub async fn next_due_is_the_earliest_scheduled_time_ignoring_unknown_ones(store: Arc<dyn Store>) {
    let w = world(store.as_ref()).await;
    assert_eq!(store.next_due().await.unwrap(), None);
    let mut unknown = callback(&w, "+442070004201", at(-60));
    unknown.earliest_time = None;
    create(store.as_ref(), unknown).await;
    assert_eq!(store.next_due().await.unwrap(), None, "a stopped campaign's callbacks are never due");
    create(store.as_ref(), callback(&w, "+442070004202", at(30))).await;
    let soonest = create(store.as_ref(), callback(&w, "+442070004203", at(10))).await;
    assert_eq!(store.next_due().await.unwrap(), Some(at(10)));
    // Only SCHEDULED callbacks count.
    apply(store.as_ref(), soonest.id, &[Action::Promote]).await;
    assert_eq!(store.next_due().await.unwrap(), Some(at(30)));
}

pub async fn campaign_pending_pages_its_scheduled_and_queued_callbacks_in_id_order(store: Arc<dyn Store>) {
    let w = world(store.as_ref()).await;
    let mut expected = Vec::new();
    for i in 0..5 {
        let cb = create(store.as_ref(), callback(&w, &format!("+4420700043{i:02}"), at(10))).await;
        if i == 1 {
            apply(store.as_ref(), cb.id, &[Action::Promote]).await;
        }
        if i == 3 {
            apply(store.as_ref(), cb.id, &[Action::Promote, Action::Reserve]).await;
            continue;
        }
        expected.push(cb.id);
    }
    let cancelled = create(store.as_ref(), callback(&w, "+442070004398", at(10))).await;
    apply(store.as_ref(), cancelled.id, &[CANCEL]).await;
    let mut elsewhere = callback(&w, "+442070004399", at(10));
    elsewhere.campaign_id = w.other_campaign.id;
    elsewhere.queue_id = Some(w.other_queue.id);
    create(store.as_ref(), elsewhere).await;
    expected.sort();

    let (mut seen, mut after) = (Vec::new(), None);
    loop {
        let page = store.campaign_pending(w.campaign.id, after, 2).await.unwrap();
        assert!(page.len() <= 2);
        let Some(last) = page.last() else { break };
        after = Some(last.id);
        seen.extend(ids(&page));
    }
    assert_eq!(seen, expected);
}

pub async fn apply_earliest_times_moves_scheduled_and_demotes_queued_that_may_not_be_dialled(store: Arc<dyn Store>) {
    use CallbackState::*;
    let w = world(store.as_ref()).await;
    let cb = |i: u32| callback(&w, &format!("+4420700044{i:02}"), at(10));
    let moved = create(store.as_ref(), cb(1)).await;
    let same = create(store.as_ref(), cb(2)).await;
    let stopped = queued(store.as_ref(), &w, "+442070004403", 0, at(1)).await;
    let later = queued(store.as_ref(), &w, "+442070004404", 0, at(1)).await;
    let still_dialable = queued(store.as_ref(), &w, "+442070004405", 0, at(1)).await;
    let not_expected = create(store.as_ref(), cb(6)).await;
    let routing = queued(store.as_ref(), &w, "+442070004407", 0, at(1)).await;
    let routing = apply(store.as_ref(), routing.id, &[Action::Reserve]).await;

    let changes = vec![
        EarliestChange { id: moved.id, expect: Scheduled, earliest_time: Some(at(90)) },
        EarliestChange { id: same.id, expect: Scheduled, earliest_time: Some(at(10)) },
        EarliestChange { id: stopped.id, expect: Queued, earliest_time: None },
        EarliestChange { id: later.id, expect: Queued, earliest_time: Some(at(60)) },
        EarliestChange { id: still_dialable.id, expect: Queued, earliest_time: Some(at(2)) },
        EarliestChange { id: not_expected.id, expect: Queued, earliest_time: Some(at(99)) },
        EarliestChange { id: routing.id, expect: Routing, earliest_time: None },
        EarliestChange { id: CallbackId::new(), expect: Scheduled, earliest_time: None },
    ];
    assert_eq!(store.apply_earliest_times(changes, "engine", at(3)).await.unwrap(), 3);

    let now = store.get_callback(moved.id).await.unwrap().unwrap();
    assert_eq!((now.state, now.earliest_time, now.updated_at), (Scheduled, Some(at(90)), at(3)));
    let e = last_event(store.as_ref(), moved.id).await;
    assert_eq!((e.action.as_str(), e.from_state, e.to_state), ("hours_changed", Some(Scheduled), Some(Scheduled)));
    assert_eq!(e.details, json!({ "earliest_time": at(90) }));

    for (id, earliest) in [(stopped.id, None), (later.id, Some(at(60)))] {
        let now = store.get_callback(id).await.unwrap().unwrap();
        assert_eq!((now.state, now.earliest_time, now.queued_at), (Scheduled, earliest, Some(at(1))));
        let e = last_event(store.as_ref(), id).await;
        assert_eq!((e.action.as_str(), e.from_state, e.to_state), ("demoted", Some(Queued), Some(Scheduled)));
        assert_eq!(e.details, json!({ "earliest_time": earliest }));
    }
    for (unchanged, events) in [(same, 1), (still_dialable, 2), (not_expected, 1), (routing, 3)] {
        let now = store.get_callback(unchanged.id).await.unwrap().unwrap();
        assert_eq!(now.state, unchanged.state);
        assert_eq!(now.earliest_time, unchanged.earliest_time);
        assert_eq!(store.callback_events(unchanged.id).await.unwrap().len(), events, "no event when unchanged");
    }
}

pub async fn free_agents_are_ready_agents_holding_nothing_longest_ready_first(store: Arc<dyn Store>) {
    let w = world(store.as_ref()).await;
    assert!(store.free_agents().await.unwrap().is_empty(), "the world's agent is offline");
    let late = ready_agent(store.as_ref(), &w, "late", at(5)).await;
    let early = ready_agent(store.as_ref(), &w, "early", at(1)).await;
    let holding = ready_agent(store.as_ref(), &w, "holding", at(0)).await;
    let paused = ready_agent(store.as_ref(), &w, "paused", at(0)).await;
    store.set_presence(paused.id, Presence::NotReady, "tester", at(6)).await.unwrap();
    let cb = queued(store.as_ref(), &w, "+442070004501", 0, at(1)).await;
    store.reserve_for_agents(reserve(&[(cb.id, holding.id)], dial_anything())).await.unwrap();

    let free = store.free_agents().await.unwrap();
    assert_eq!(free.iter().map(|a| a.id).collect::<Vec<_>>(), vec![early.id, late.id]);
    assert_eq!(free[0], early, "with memberships and ready_since");
    assert_eq!(free[0].ready_since, Some(at(1)));
    assert_eq!(store.ready_agent_count().await.unwrap(), 3, "ready whether holding a callback or not");
}

pub async fn queued_heads_read_each_source_in_dispatch_order(store: Arc<dyn Store>) {
    let w = world(store.as_ref()).await;
    let bob = store.create_agent(agent("Bob", "bob")).await.unwrap();
    // Queue callbacks: priority first, then queued_at, then id.
    let old_low = queued(store.as_ref(), &w, "+442070004601", 0, at(1)).await;
    let new_high = queued(store.as_ref(), &w, "+442070004602", 5, at(3)).await;
    let new_low = queued(store.as_ref(), &w, "+442070004603", 0, at(2)).await;
    let tie_a = queued(store.as_ref(), &w, "+442070004604", 0, at(2)).await;
    let (first_tie, second_tie) = if tie_a.id < new_low.id { (&tie_a, &new_low) } else { (&new_low, &tie_a) };
    create(store.as_ref(), callback(&w, "+442070004605", at(-1))).await; // SCHEDULED: not a head
    let mut elsewhere = callback(&w, "+442070004606", at(-10));
    elsewhere.queue_id = Some(w.queue2.id);
    let elsewhere = create(store.as_ref(), elsewhere).await;
    apply(store.as_ref(), elsewhere.id, &[Action::Promote]).await;
    let own_old = queued_for_agent(store.as_ref(), &w, "+442070004607", w.agent.id, at(1)).await;
    let own_new = queued_for_agent(store.as_ref(), &w, "+442070004608", w.agent.id, at(4)).await;
    let bobs = queued_for_agent(store.as_ref(), &w, "+442070004609", bob.id, at(2)).await;

    let heads = store.queued_heads(QueuedSource::Queue(w.queue.id), 10).await.unwrap();
    assert_eq!(ids(&heads), vec![new_high.id, old_low.id, first_tie.id, second_tie.id]);
    assert_eq!(heads[0], store.get_callback(new_high.id).await.unwrap().unwrap());
    let limited = store.queued_heads(QueuedSource::Queue(w.queue.id), 2).await.unwrap();
    assert_eq!(ids(&limited), vec![new_high.id, old_low.id]);
    let own = store.queued_heads(QueuedSource::AgentOwn(w.agent.id), 10).await.unwrap();
    assert_eq!(ids(&own), vec![own_old.id, own_new.id]);
    let escalated = QueuedSource::Escalated { campaign_id: w.campaign.id, queued_before: at(2) };
    assert_eq!(ids(&store.queued_heads(escalated, 10).await.unwrap()), vec![own_old.id, bobs.id]);
    let none_yet = QueuedSource::Escalated { campaign_id: w.campaign.id, queued_before: at(0) };
    assert!(store.queued_heads(none_yet, 10).await.unwrap().is_empty());
    let other = QueuedSource::Escalated { campaign_id: w.other_campaign.id, queued_before: at(10) };
    assert!(store.queued_heads(other, 10).await.unwrap().is_empty());

    let oldest = store.oldest_queued_agent_callbacks().await.unwrap();
    assert_eq!(oldest, vec![(w.campaign.id, at(1))]);
}

pub async fn reserve_offers_callbacks_to_free_agents_with_their_event(store: Arc<dyn Store>) {
    let w = world(store.as_ref()).await;
    let ann = ready_agent(store.as_ref(), &w, "ann", at(0)).await;
    let cb = queued(store.as_ref(), &w, "+442070004701", 0, at(0)).await;
    let offered = store.reserve_for_agents(reserve(&[(cb.id, ann.id)], dial_anything())).await.unwrap();
    assert_eq!(offered.len(), 1);
    let o = &offered[0];
    assert_eq!(
        (o.state, o.offered_to, o.hold_until, o.lease_id.as_deref()),
        (CallbackState::Routing, Some(ann.id), Some(at(2)), None)
    );
    assert_eq!((o.updated_at, o.queued_at), (at(1), Some(at(0))));
    assert_eq!(store.get_callback(cb.id).await.unwrap().as_ref(), Some(o), "returned as stored");
    let e = last_event(store.as_ref(), cb.id).await;
    assert_eq!((e.action.as_str(), e.actor.as_str(), e.at), ("offered", "engine", at(1)));
    assert_eq!((e.from_state, e.to_state), (Some(CallbackState::Queued), Some(CallbackState::Routing)));
    assert_eq!(e.details, json!({ "agent_id": ann.id, "hold_until": at(2) }));
    assert_eq!(store.agent_offer(ann.id).await.unwrap().as_ref(), Some(o));
    assert_eq!(store.next_hold_expiry().await.unwrap(), Some(at(2)));
}

pub async fn reserve_skips_what_it_may_not_offer(store: Arc<dyn Store>) {
    let w = world(store.as_ref()).await;
    let ann = ready_agent(store.as_ref(), &w, "ann", at(0)).await;
    let ben = ready_agent(store.as_ref(), &w, "ben", at(0)).await;
    let cal = ready_agent(store.as_ref(), &w, "cal", at(0)).await;
    let busy = ready_agent(store.as_ref(), &w, "busy", at(0)).await;
    let not_ready = ready_agent(store.as_ref(), &w, "nr", at(0)).await;
    store.set_presence(not_ready.id, Presence::NotReady, "tester", at(0)).await.unwrap();
    let handled = queued(store.as_ref(), &w, "+442070004800", 0, at(0)).await;
    store.reserve_for_agents(reserve(&[(handled.id, busy.id)], dial_anything())).await.unwrap();
    let mut accept = step(handled.id, Action::Accept);
    accept.holder = Some(Holder::Agent(busy.id));
    store.transition_callback(accept).await.unwrap();

    let c: Vec<Callback> = {
        let mut v = Vec::new();
        for i in 1..=6 {
            v.push(queued(store.as_ref(), &w, &format!("+4420700048{i:02}"), 0, at(0)).await);
        }
        v
    };
    let scheduled = create(store.as_ref(), callback(&w, "+442070004890", at(30))).await;
    let mut in_paused = callback(&w, "+442070004891", at(-1));
    in_paused.queue_id = Some(w.queue2.id);
    let in_paused = create(store.as_ref(), in_paused).await;
    let in_paused = apply(store.as_ref(), in_paused.id, &[Action::Promote]).await;
    store.update_queue(Queue { paused: true, ..w.queue2.clone() }).await.unwrap();

    let pairs = [
        (scheduled.id, ann.id),      // not QUEUED
        (c[0].id, not_ready.id),     // agent not ready
        (c[1].id, busy.id),          // agent already handling a callback
        (in_paused.id, ann.id),      // queue paused
        (c[2].id, ann.id),           // offered
        (c[3].id, ann.id),           // ann again, after her first success
        (c[2].id, ben.id),           // no longer QUEUED
        (CallbackId::new(), ben.id), // unknown callback
        (c[4].id, ben.id),           // offered
        (c[5].id, 9_999),            // unknown agent
    ];
    let offered = store.reserve_for_agents(reserve(&pairs, dial_anything())).await.unwrap();
    let got: Vec<(CallbackId, Option<AgentId>)> = offered.iter().map(|c| (c.id, c.offered_to)).collect();
    assert_eq!(got, vec![(c[2].id, Some(ann.id)), (c[4].id, Some(ben.id))]);
    for skipped in [&c[0], &c[1], &c[3], &c[5], &in_paused] {
        let now = store.get_callback(skipped.id).await.unwrap().unwrap();
        assert_eq!((now.state, now.offered_to), (CallbackState::Queued, None), "skipped, untouched");
        assert_eq!(now.updated_at, skipped.updated_at);
    }
    assert_eq!(state_of(store.as_ref(), scheduled.id).await, CallbackState::Scheduled);
    // An agent already holding an offer is not free either.
    let again = store.reserve_for_agents(reserve(&[(c[3].id, ann.id), (c[3].id, cal.id)], dial_anything())).await;
    assert_eq!(again.unwrap().iter().map(|c| c.offered_to).collect::<Vec<_>>(), vec![Some(cal.id)]);
}

pub async fn reserve_demotes_what_the_dial_check_refuses(store: Arc<dyn Store>) {
    let w = world(store.as_ref()).await;
    let ann = ready_agent(store.as_ref(), &w, "ann", at(0)).await;
    let ben = ready_agent(store.as_ref(), &w, "ben", at(0)).await;
    let refused = queued(store.as_ref(), &w, "+442070004901", 0, at(0)).await;
    let stopped = queued(store.as_ref(), &w, "+442070004902", 0, at(0)).await;
    let fine = queued(store.as_ref(), &w, "+442070004903", 0, at(0)).await;
    let pairs = [(refused.id, ann.id), (fine.id, ann.id)];
    let offered = store.reserve_for_agents(reserve(&pairs, dial_refusing(&["+442070004901"], Some(at(60))))).await;
    assert_eq!(ids(&offered.unwrap()), vec![fine.id], "the agent goes on to the next pair");
    let now = store.get_callback(refused.id).await.unwrap().unwrap();
    assert_eq!((now.state, now.earliest_time, now.queued_at), (CallbackState::Scheduled, Some(at(60)), Some(at(0))));
    let e = last_event(store.as_ref(), refused.id).await;
    assert_eq!(
        (e.action.as_str(), e.from_state, e.to_state),
        ("demoted", Some(CallbackState::Queued), Some(CallbackState::Scheduled))
    );
    let offered = store.reserve_for_agents(reserve(&[(stopped.id, ben.id)], dial_refusing(&["+442070004902"], None)));
    assert!(offered.await.unwrap().is_empty());
    let now = store.get_callback(stopped.id).await.unwrap().unwrap();
    assert_eq!((now.state, now.earliest_time), (CallbackState::Scheduled, None), "not while the campaign is stopped");
}

pub async fn claim_leases_in_dispatch_order_across_the_campaign_skipping_paused_queues(store: Arc<dyn Store>) {
    let w = world(store.as_ref()).await;
    let low_old = queued(store.as_ref(), &w, "+442070005001", 0, at(1)).await;
    let high = queued(store.as_ref(), &w, "+442070005002", 3, at(4)).await;
    let low_new = queued(store.as_ref(), &w, "+442070005003", 0, at(3)).await;
    let mut second_queue = callback(&w, "+442070005004", at(-1));
    second_queue.queue_id = Some(w.queue2.id);
    let second_queue = create(store.as_ref(), second_queue).await;
    let mut promote = step(second_queue.id, Action::Promote);
    promote.at = at(2);
    store.transition_callback(promote).await.unwrap();
    let mut paused_queue = Queue { name: "Paused".into(), paused: true, ..queue(w.campaign.id, "Paused") };
    paused_queue = store.create_queue(paused_queue).await.unwrap();
    let mut in_paused = callback(&w, "+442070005005", at(-1));
    in_paused.queue_id = Some(paused_queue.id);
    in_paused.priority = 9;
    let in_paused = create(store.as_ref(), in_paused).await;
    apply(store.as_ref(), in_paused.id, &[Action::Promote]).await;
    queued_for_agent(store.as_ref(), &w, "+442070005006", w.agent.id, at(0)).await; // agent callbacks: not for diallers
    let mut other = callback(&w, "+442070005007", at(-1));
    other.campaign_id = w.other_campaign.id;
    other.queue_id = Some(w.other_queue.id);
    let other = create(store.as_ref(), other).await;
    apply(store.as_ref(), other.id, &[Action::Promote]).await;

    let first = store.claim_for_dialer(claim(w.campaign.id, 3, "lease-1", dial_anything())).await.unwrap();
    assert_eq!(ids(&first), vec![high.id, low_old.id, second_queue.id]);
    for cb in &first {
        assert_eq!(
            (cb.state, cb.lease_id.as_deref(), cb.hold_until, cb.offered_to),
            (CallbackState::Routing, Some("lease-1"), Some(at(5)), None)
        );
        assert_eq!(store.get_callback(cb.id).await.unwrap().as_ref(), Some(cb), "returned as stored");
        let e = last_event(store.as_ref(), cb.id).await;
        assert_eq!((e.action.as_str(), e.actor.as_str()), ("leased", "dialer"));
        assert_eq!((e.from_state, e.to_state), (Some(CallbackState::Queued), Some(CallbackState::Routing)));
        assert_eq!(e.details, json!({ "lease_id": "lease-1", "hold_until": at(5) }));
    }
    let rest = store.claim_for_dialer(claim(w.campaign.id, 10, "lease-2", dial_anything())).await.unwrap();
    assert_eq!(ids(&rest), vec![low_new.id]);
    assert!(store.claim_for_dialer(claim(w.campaign.id, 10, "lease-3", dial_anything())).await.unwrap().is_empty());
    assert_eq!(state_of(store.as_ref(), in_paused.id).await, CallbackState::Queued, "a paused queue waits");
    assert_eq!(state_of(store.as_ref(), other.id).await, CallbackState::Queued);
}

pub async fn claim_demotes_refused_candidates_and_keeps_looking(store: Arc<dyn Store>) {
    let w = world(store.as_ref()).await;
    let mut made = Vec::new();
    for i in 0..6 {
        made.push(queued(store.as_ref(), &w, &format!("+4420700051{i:02}"), 0, at(i)).await);
    }
    let refused = ["+442070005100", "+442070005101", "+442070005103"];
    let leased = store.claim_for_dialer(claim(w.campaign.id, 2, "lease", dial_refusing(&refused, Some(at(90))))).await;
    assert_eq!(ids(&leased.unwrap()), vec![made[2].id, made[4].id], "refused ones are not counted");
    for i in [0, 1, 3] {
        let now = store.get_callback(made[i].id).await.unwrap().unwrap();
        assert_eq!((now.state, now.earliest_time), (CallbackState::Scheduled, Some(at(90))));
        assert_eq!(last_event(store.as_ref(), made[i].id).await.action, "demoted");
    }
    assert_eq!(state_of(store.as_ref(), made[5].id).await, CallbackState::Queued, "the claim stopped at its max");
}

pub async fn concurrent_claims_never_lease_a_callback_twice(store: Arc<dyn Store>) {
    let w = world(store.as_ref()).await;
    let batch = (0..100).map(|i| new(callback(&w, &format!("+4420700052{i:02}"), at(-1)))).collect();
    for r in store.create_callbacks(batch).await.unwrap() {
        r.unwrap();
    }
    assert_eq!(store.promote_due(at(0), 1_000, "engine").await.unwrap().len(), 100);
    let mut tasks = tokio::task::JoinSet::new();
    for dialler in 0..2 {
        let store = store.clone();
        let campaign_id = w.campaign.id;
        tasks.spawn(async move {
            let mut mine = Vec::new();
            for round in 0.. {
                let lease = format!("dialler-{dialler}-{round}");
                let got = store.claim_for_dialer(claim(campaign_id, 7, &lease, dial_anything())).await.unwrap();
                if got.is_empty() {
                    break;
                }
                mine.extend(got.into_iter().map(|c| (c.id, lease.clone())));
            }
            mine
        });
    }
    let mut all = Vec::new();
    while let Some(done) = tasks.join_next().await {
        all.extend(done.unwrap());
    }
    let distinct: BTreeSet<CallbackId> = all.iter().map(|(id, _)| *id).collect();
    assert_eq!((all.len(), distinct.len()), (100, 100), "every callback leased exactly once");
    for (id, lease) in &all {
        let now = store.get_callback(*id).await.unwrap().unwrap();
        assert_eq!((now.state, now.lease_id.as_ref()), (CallbackState::Routing, Some(lease)));
        let leases = store.callback_events(*id).await.unwrap().iter().filter(|e| e.action == "leased").count();
        assert_eq!(leases, 1);
    }
}

pub async fn a_transition_is_refused_unless_its_holder_holds_the_callback(store: Arc<dyn Store>) {
    let w = world(store.as_ref()).await;
    let ann = ready_agent(store.as_ref(), &w, "ann", at(0)).await;
    let ben = ready_agent(store.as_ref(), &w, "ben", at(0)).await;
    let offered = queued(store.as_ref(), &w, "+442070005301", 0, at(0)).await;
    store.reserve_for_agents(reserve(&[(offered.id, ann.id)], dial_anything())).await.unwrap();
    let leased = queued(store.as_ref(), &w, "+442070005302", 0, at(0)).await;
    store.claim_for_dialer(claim(w.campaign.id, 1, "lease-a", dial_anything())).await.unwrap();
    let waiting = queued(store.as_ref(), &w, "+442070005303", 0, at(0)).await;

    let refusals = [
        (offered.id, Holder::Agent(ben.id)),
        (offered.id, Holder::Lease("lease-a".into())),
        (leased.id, Holder::Lease("lease-b".into())),
        (leased.id, Holder::Agent(ann.id)),
        (waiting.id, Holder::Agent(ann.id)),
    ];
    for (id, holder) in refusals {
        let before = store.get_callback(id).await.unwrap();
        let events = store.callback_events(id).await.unwrap();
        let mut req = step(id, if id == waiting.id { CANCEL } else { Action::Accept });
        req.holder = Some(holder.clone());
        req.presence = Some(PresenceChange { agent_id: ann.id, presence: Presence::Busy });
        match store.transition_callback(req).await {
            Err(StoreError::Conflict(message)) => assert!(message.contains("not"), "{message}"),
            other => panic!("{holder:?} on {id}: expected Conflict, got {other:?}"),
        }
        assert_eq!(store.get_callback(id).await.unwrap(), before, "nothing changed");
        assert_eq!(store.callback_events(id).await.unwrap(), events);
        assert_eq!(presence_of(store.as_ref(), ann.id).await.presence, Presence::Ready);
    }
    let mut accept = step(offered.id, Action::Accept);
    accept.holder = Some(Holder::Agent(ann.id));
    let accepted = store.transition_callback(accept).await.unwrap();
    assert_eq!(
        (accepted.state, accepted.offered_to, accepted.hold_until),
        (CallbackState::Processing, Some(ann.id), None)
    );
    // Still held while PROCESSING: the outcome is checked against the same holder.
    let mut finish = step(offered.id, Action::Finish(CallbackResult::Agent));
    finish.holder = Some(Holder::Agent(ann.id));
    assert_eq!(store.transition_callback(finish).await.unwrap().state, CallbackState::Completed);
    let mut retry = step(leased.id, Action::Retry);
    retry.holder = Some(Holder::Lease("lease-a".into()));
    retry.update.earliest_time = Some(Some(at(30)));
    assert_eq!(store.transition_callback(retry).await.unwrap().state, CallbackState::Scheduled);
}

pub async fn a_transition_sets_the_agents_presence_in_the_same_step(store: Arc<dyn Store>) {
    let w = world(store.as_ref()).await;
    let ann = ready_agent(store.as_ref(), &w, "ann", at(0)).await;
    let cb = queued(store.as_ref(), &w, "+442070005401", 0, at(0)).await;
    store.reserve_for_agents(reserve(&[(cb.id, ann.id)], dial_anything())).await.unwrap();
    let mut accept = step(cb.id, Action::Accept);
    accept.holder = Some(Holder::Agent(ann.id));
    accept.presence = Some(PresenceChange { agent_id: ann.id, presence: Presence::Busy });
    accept.at = at(2);
    store.transition_callback(accept).await.unwrap();
    let busy = presence_of(store.as_ref(), ann.id).await;
    assert_eq!((busy.presence, busy.ready_since), (Presence::Busy, None));

    let mut finish = step(cb.id, Action::Finish(CallbackResult::Agent));
    finish.holder = Some(Holder::Agent(ann.id));
    finish.presence = Some(PresenceChange { agent_id: ann.id, presence: Presence::Ready });
    finish.at = at(7);
    finish.update.wrap_code = Some(Some("SALE".into()));
    finish.update.notes = Some(Some("bought two".into()));
    let done = store.transition_callback(finish).await.unwrap();
    assert_eq!((done.wrap_code.as_deref(), done.notes.as_deref()), (Some("SALE"), Some("bought two")));
    assert_eq!(store.get_callback(cb.id).await.unwrap(), Some(done));
    let ready = presence_of(store.as_ref(), ann.id).await;
    assert_eq!((ready.presence, ready.ready_since), (Presence::Ready, Some(at(7))), "back of the line");

    // A missing agent refuses the whole step.
    let other = queued(store.as_ref(), &w, "+442070005402", 0, at(0)).await;
    let mut req = step(other.id, CANCEL);
    req.presence = Some(PresenceChange { agent_id: 9_999, presence: Presence::Ready });
    assert_not_found(store.transition_callback(req).await);
    assert_eq!(state_of(store.as_ref(), other.id).await, CallbackState::Queued);
}

pub async fn leaving_routing_or_processing_clears_the_holder(store: Arc<dyn Store>) {
    let w = world(store.as_ref()).await;
    let ann = ready_agent(store.as_ref(), &w, "ann", at(0)).await;
    let cancelled = queued(store.as_ref(), &w, "+442070005501", 0, at(0)).await;
    store.reserve_for_agents(reserve(&[(cancelled.id, ann.id)], dial_anything())).await.unwrap();
    let c = store.transition_callback(step(cancelled.id, CANCEL)).await.unwrap();
    assert_eq!((c.offered_to, c.lease_id.as_deref(), c.hold_until), (None, None, None));
    assert_eq!(store.get_callback(cancelled.id).await.unwrap(), Some(c));
    assert_eq!(store.agent_offer(ann.id).await.unwrap(), None);

    let released = queued(store.as_ref(), &w, "+442070005502", 0, at(0)).await;
    store.claim_for_dialer(claim(w.campaign.id, 1, "lease", dial_anything())).await.unwrap();
    let r = store.transition_callback(step(released.id, Action::Release)).await.unwrap();
    assert_eq!((r.state, r.offered_to, r.lease_id.as_deref(), r.hold_until), (CallbackState::Queued, None, None, None));
    assert_eq!(store.get_callback(released.id).await.unwrap(), Some(r));
    store.transition_callback(step(released.id, CANCEL)).await.unwrap();

    let bulk_cancelled = queued(store.as_ref(), &w, "+442070005503", 0, at(0)).await;
    store.claim_for_dialer(claim(w.campaign.id, 1, "lease", dial_anything())).await.unwrap();
    let summary = store.bulk_cancel(bulk("clear-holder", BulkSelection::Ids(vec![bulk_cancelled.id]))).await.unwrap();
    assert_eq!(summary.cancelled, 1);
    let b = store.get_callback(bulk_cancelled.id).await.unwrap().unwrap();
    assert_eq!((b.state, b.lease_id.as_deref(), b.hold_until), (CallbackState::Completed, None, None));
    assert_eq!(store.next_hold_expiry().await.unwrap(), None, "nothing is held any more");
}

pub async fn a_transition_batch_applies_each_step_on_its_own(store: Arc<dyn Store>) {
    let w = world(store.as_ref()).await;
    let a = queued(store.as_ref(), &w, "+442070005601", 0, at(0)).await;
    let b = queued(store.as_ref(), &w, "+442070005602", 0, at(0)).await;
    let held = queued(store.as_ref(), &w, "+442070005603", 0, at(0)).await;
    let ann = ready_agent(store.as_ref(), &w, "ann", at(0)).await;
    store.reserve_for_agents(reserve(&[(held.id, ann.id)], dial_anything())).await.unwrap();
    let events_before = store.callback_events(held.id).await.unwrap();
    let agent_before = presence_of(store.as_ref(), ann.id).await;

    let mut wrong_holder = step(held.id, Action::Accept);
    wrong_holder.holder = Some(Holder::Lease("nope".into()));
    wrong_holder.presence = Some(PresenceChange { agent_id: ann.id, presence: Presence::Busy });
    wrong_holder.update.increment_attempts = true;
    let requests = vec![
        step(a.id, Action::Reserve),
        wrong_holder,
        step(a.id, Action::Accept), // sees the reserve before it
        step(b.id, Action::Accept), // illegal from QUEUED
        step(CallbackId::new(), CANCEL),
        step(b.id, CANCEL),
    ];
    let results = store.transition_callbacks(requests).await.unwrap();
    assert_eq!(results.len(), 6);
    assert_eq!(results[0].as_ref().unwrap().state, CallbackState::Routing);
    assert_conflict(results[1].clone());
    assert_eq!(results[2].as_ref().unwrap().state, CallbackState::Processing);
    assert!(matches!(results[3], Err(StoreError::IllegalTransition(_))), "{:?}", results[3]);
    assert_not_found(results[4].clone());
    assert_eq!(results[5].as_ref().unwrap().state, CallbackState::Completed);

    assert_eq!(store.get_callback(held.id).await.unwrap().unwrap().attempts, 0, "the refused step wrote nothing");
    assert_eq!(store.callback_events(held.id).await.unwrap(), events_before);
    assert_eq!(presence_of(store.as_ref(), ann.id).await, agent_before);
    assert_eq!(store.callback_events(a.id).await.unwrap().len(), 4);
    assert_eq!(store.get_callback(a.id).await.unwrap().as_ref(), results[2].as_ref().ok());
}

pub async fn expired_offers_and_leases_go_back_to_the_queue_and_the_silent_agent_is_not_ready(store: Arc<dyn Store>) {
    let w = world(store.as_ref()).await;
    let ann = ready_agent(store.as_ref(), &w, "ann", at(0)).await;
    let ben = ready_agent(store.as_ref(), &w, "ben", at(0)).await;
    let offered = queued(store.as_ref(), &w, "+442070005701", 0, at(0)).await;
    let leased = queued(store.as_ref(), &w, "+442070005702", 0, at(1)).await;
    let mut late = reserve(&[(offered.id, ann.id)], dial_anything());
    late.hold_until = at(3);
    store.reserve_for_agents(late).await.unwrap();
    store.claim_for_dialer(claim(w.campaign.id, 1, "lease-x", dial_anything())).await.unwrap(); // hold until at(5)
    let later = queued(store.as_ref(), &w, "+442070005703", 0, at(1)).await;
    let mut longer = reserve(&[(later.id, ben.id)], dial_anything());
    longer.hold_until = at(60);
    store.reserve_for_agents(longer).await.unwrap();
    assert_eq!(store.next_hold_expiry().await.unwrap(), Some(at(3)));

    assert!(store.release_expired(at(2), 10, "rescuer").await.unwrap().is_empty());
    let first = store.release_expired(at(10), 1, "rescuer").await.unwrap();
    assert_eq!(first.iter().map(|h| h.holder.clone()).collect::<Vec<_>>(), vec![Holder::Agent(ann.id)]);
    let first: Vec<Callback> = first.into_iter().map(|h| h.callback).collect();
    assert_eq!(ids(&first), vec![offered.id], "soonest first, at most the limit");
    let r = &first[0];
    assert_eq!((r.state, r.offered_to, r.hold_until, r.queued_at), (CallbackState::Queued, None, None, Some(at(0))));
    assert_eq!(store.get_callback(offered.id).await.unwrap().as_ref(), Some(r));
    let e = last_event(store.as_ref(), offered.id).await;
    assert_eq!((e.action.as_str(), e.actor.as_str(), e.at), ("offer_expired", "rescuer", at(10)));
    assert_eq!((e.from_state, e.to_state), (Some(CallbackState::Routing), Some(CallbackState::Queued)));
    assert_eq!(e.details, json!({ "agent_id": ann.id }));
    let silent = presence_of(store.as_ref(), ann.id).await;
    assert_eq!((silent.presence, silent.ready_since), (Presence::NotReady, None));

    let second = store.release_expired(at(10), 10, "rescuer").await.unwrap();
    assert_eq!(second.iter().map(|h| h.holder.clone()).collect::<Vec<_>>(), vec![Holder::Lease("lease-x".into())]);
    let second: Vec<Callback> = second.into_iter().map(|h| h.callback).collect();
    assert_eq!(ids(&second), vec![leased.id]);
    assert_eq!(second[0].lease_id, None);
    let e = last_event(store.as_ref(), leased.id).await;
    assert_eq!((e.action.as_str(), e.details.clone()), ("lease_expired", json!({ "lease_id": "lease-x" })));
    assert_eq!(state_of(store.as_ref(), later.id).await, CallbackState::Routing, "not expired yet");
    assert_eq!(presence_of(store.as_ref(), ben.id).await.presence, Presence::Ready);
    assert_eq!(store.next_hold_expiry().await.unwrap(), Some(at(60)));
}

pub async fn leaving_ready_withdraws_the_agents_offer(store: Arc<dyn Store>) {
    let w = world(store.as_ref()).await;
    let ann = ready_agent(store.as_ref(), &w, "ann", at(0)).await;
    let cb = queued(store.as_ref(), &w, "+442070005801", 0, at(0)).await;
    store.reserve_for_agents(reserve(&[(cb.id, ann.id)], dial_anything())).await.unwrap();
    let (agent, released) = store.set_presence(ann.id, Presence::NotReady, "ann", at(3)).await.unwrap();
    assert_eq!((agent.presence, agent.ready_since), (Presence::NotReady, None));
    assert_eq!(agent, presence_of(store.as_ref(), ann.id).await);
    let released = released.expect("the offer is withdrawn");
    assert_eq!((released.id, released.state, released.offered_to), (cb.id, CallbackState::Queued, None));
    assert_eq!(store.get_callback(cb.id).await.unwrap(), Some(released));
    let e = last_event(store.as_ref(), cb.id).await;
    assert_eq!(
        (e.action.as_str(), e.actor.as_str(), e.details.clone()),
        ("offer_withdrawn", "ann", json!({ "agent_id": ann.id }))
    );
    assert_eq!(store.agent_offer(ann.id).await.unwrap(), None);

    // Going offline while handling a call leaves the call alone.
    store.set_presence(ann.id, Presence::Ready, "ann", at(4)).await.unwrap();
    store.reserve_for_agents(reserve(&[(cb.id, ann.id)], dial_anything())).await.unwrap();
    let mut accept = step(cb.id, Action::Accept);
    accept.holder = Some(Holder::Agent(ann.id));
    store.transition_callback(accept).await.unwrap();
    let (_, none) = store.set_presence(ann.id, Presence::Offline, "ann", at(5)).await.unwrap();
    assert_eq!(none, None);
    assert_eq!(state_of(store.as_ref(), cb.id).await, CallbackState::Processing);
    assert_eq!(store.agent_offer(ann.id).await.unwrap().map(|c| c.id), Some(cb.id));
    assert_not_found(store.set_presence(9_999, Presence::Ready, "x", at(0)).await);
}

pub async fn set_presence_keeps_ready_since_while_ready(store: Arc<dyn Store>) {
    let w = world(store.as_ref()).await;
    let (a, none) = store.set_presence(w.agent.id, Presence::Ready, "alice", at(1)).await.unwrap();
    assert_eq!(none, None);
    assert_eq!((a.presence, a.ready_since), (Presence::Ready, Some(at(1))));
    assert_eq!((a.campaigns.clone(), a.queues.clone()), (w.agent.campaigns.clone(), w.agent.queues.clone()));
    let (a, _) = store.set_presence(w.agent.id, Presence::Ready, "alice", at(5)).await.unwrap();
    assert_eq!(a.ready_since, Some(at(1)), "ready again is no new place in line");
    let (a, _) = store.set_presence(w.agent.id, Presence::Busy, "alice", at(6)).await.unwrap();
    assert_eq!((a.presence, a.ready_since), (Presence::Busy, None));
    let (a, _) = store.set_presence(w.agent.id, Presence::Ready, "alice", at(8)).await.unwrap();
    assert_eq!(a.ready_since, Some(at(8)));
    assert_eq!(store.get_agent(w.agent.id).await.unwrap(), Some(a));
}

pub async fn queue_position_counts_those_ahead_in_dispatch_order(store: Arc<dyn Store>) {
    let w = world(store.as_ref()).await;
    let first = queued(store.as_ref(), &w, "+442070005901", 0, at(1)).await;
    let urgent = queued(store.as_ref(), &w, "+442070005902", 2, at(5)).await;
    let last = queued(store.as_ref(), &w, "+442070005903", 0, at(3)).await;
    let tie = queued(store.as_ref(), &w, "+442070005904", 0, at(3)).await;
    let (tie_first, tie_second) = if tie.id < last.id { (&tie, &last) } else { (&last, &tie) };
    let mut elsewhere = callback(&w, "+442070005905", at(-1));
    elsewhere.queue_id = Some(w.queue2.id);
    let elsewhere = create(store.as_ref(), elsewhere).await;
    let elsewhere = apply(store.as_ref(), elsewhere.id, &[Action::Promote]).await;
    let own_a = queued_for_agent(store.as_ref(), &w, "+442070005906", w.agent.id, at(2)).await;
    let own_b = queued_for_agent(store.as_ref(), &w, "+442070005907", w.agent.id, at(0)).await;
    let scheduled = create(store.as_ref(), callback(&w, "+442070005908", at(30))).await;

    let position = |id| {
        let store = store.clone();
        async move { store.queue_position(id).await.unwrap() }
    };
    assert_eq!(position(urgent.id).await, Some(1));
    assert_eq!(position(first.id).await, Some(2));
    assert_eq!(position(tie_first.id).await, Some(3));
    assert_eq!(position(tie_second.id).await, Some(4));
    assert_eq!(position(elsewhere.id).await, Some(1), "per queue");
    assert_eq!(position(own_b.id).await, Some(1), "agent callbacks: per agent");
    assert_eq!(position(own_a.id).await, Some(2));
    assert_eq!(position(scheduled.id).await, None, "only QUEUED callbacks have a position");
    assert_eq!(position(CallbackId::new()).await, None);
    apply(store.as_ref(), urgent.id, &[Action::Reserve]).await;
    assert_eq!(position(urgent.id).await, None);
    assert_eq!(position(first.id).await, Some(1), "those dispatched no longer count");
}

pub async fn callback_counts_count_every_state_and_the_overdue_and_due_soon(store: Arc<dyn Store>) {
    let w = world(store.as_ref()).await;
    let empty = store.callback_counts(at(0), at(60)).await.unwrap();
    assert_eq!(empty.by_state, CallbackState::ALL.iter().map(|s| (*s, 0)).collect::<Vec<_>>(), "zeros included");
    assert_eq!((empty.overdue, empty.due_soon), (0, 0));
    // window_secs is 120: overdue once more than 2 minutes past the earliest time.
    create(store.as_ref(), callback(&w, "+442070006001", at(-10))).await; // overdue
    create(store.as_ref(), callback(&w, "+442070006002", at(-1))).await; // late, inside its window
    create(store.as_ref(), callback(&w, "+442070006003", at(30))).await; // due soon
    create(store.as_ref(), callback(&w, "+442070006004", at(60))).await; // not soon: the bound is exclusive
    let mut unknown = callback(&w, "+442070006005", at(-60));
    unknown.earliest_time = None;
    create(store.as_ref(), unknown).await;
    queued(store.as_ref(), &w, "+442070006006", 0, at(0)).await;
    let routed = queued(store.as_ref(), &w, "+442070006007", 0, at(0)).await;
    apply(store.as_ref(), routed.id, &[Action::Reserve]).await;
    let done = create(store.as_ref(), callback(&w, "+442070006008", at(-100))).await;
    apply(store.as_ref(), done.id, &[CANCEL]).await;

    let counts = store.callback_counts(at(0), at(60)).await.unwrap();
    use CallbackState::*;
    assert_eq!(counts.by_state, vec![(Scheduled, 5), (Queued, 1), (Routing, 1), (Processing, 0), (Completed, 1)]);
    assert_eq!((counts.overdue, counts.due_soon), (1, 1));
}

pub async fn find_lead_by_phone_matches_any_of_its_numbers_in_the_list(store: Arc<dyn Store>) {
    let w = world(store.as_ref()).await;
    let other_list = store.create_list(list("Other")).await.unwrap();
    store.create_lead(lead(other_list.id, "Elsewhere", &["+442073333333"])).await.unwrap();
    let third = store.create_lead(lead(w.list.id, "Three", &["+442074444444", "+442075555555", "+442073333333"])).await;
    let third = third.unwrap();
    for phone in ["+442071111111", "+442072222222"] {
        assert_eq!(store.find_lead_by_phone(w.list.id, phone).await.unwrap(), Some(w.lead.clone()));
    }
    assert_eq!(store.find_lead_by_phone(w.list.id, "+442073333333").await.unwrap(), Some(third));
    assert_eq!(store.find_lead_by_phone(w.list.id, "+442079999999").await.unwrap(), None);
    assert_eq!(store.find_lead_by_phone(other_list.id, "+442071111111").await.unwrap(), None, "per list");
}

pub async fn events_after_pages_through_the_audit_log_in_order(store: Arc<dyn Store>) {
    let w = world(store.as_ref()).await;
    assert_eq!(store.last_event_id().await.unwrap(), 0);
    assert!(store.events_after(0, 10).await.unwrap().is_empty());
    let a = create(store.as_ref(), callback(&w, "+442070006101", at(-1))).await;
    let b = create(store.as_ref(), callback(&w, "+442070006102", at(-1))).await;
    apply(store.as_ref(), a.id, &[Action::Promote, CANCEL]).await;
    apply(store.as_ref(), b.id, &[Action::Promote]).await;

    let mut expected = store.callback_events(a.id).await.unwrap();
    expected.extend(store.callback_events(b.id).await.unwrap());
    expected.sort_by_key(|e| e.id);
    let (mut seen, mut after) = (Vec::new(), 0);
    loop {
        let page = store.events_after(after, 2).await.unwrap();
        assert!(page.len() <= 2);
        let Some(last) = page.last() else { break };
        after = last.id;
        seen.extend(page);
    }
    assert_eq!(seen, expected);
    assert_eq!(store.last_event_id().await.unwrap(), expected.last().unwrap().id);
    assert_eq!(store.events_after(expected[2].id, 100).await.unwrap(), expected[3..].to_vec());
}

pub async fn the_commit_signal_changes_after_a_write(store: Arc<dyn Store>) {
    let w = world(store.as_ref()).await;
    let mut signal = store.commit_signal();
    assert!(!signal.has_changed().unwrap(), "a new receiver starts unchanged");
    store.get_callback(CallbackId::new()).await.unwrap();
    let cb = create(store.as_ref(), callback(&w, "+442070006201", at(-1))).await;
    assert!(signal.has_changed().unwrap(), "the create moved it before it was acknowledged");
    signal.borrow_and_update();
    store.transition_callback(step(cb.id, Action::Promote)).await.unwrap();
    // Waiting on it returns at once: the change is already there.
    tokio::time::timeout(std::time::Duration::from_secs(5), signal.changed()).await.unwrap().unwrap();
}
