//! The engine test harness: a real SQLite store in a temp dir, a [`ManualClock`], an engine driven
//! by `run_once`, a London campaign with real hours and a queue, and helpers that create agents and
//! callbacks the way the API does (earliest dialable time computed from the campaign's hours).
#![allow(dead_code)] // each test binary uses a different part of the helper.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use jiff::{SignedDuration, Timestamp};
use rebound_domain::clock::{Clock, ManualClock};
use rebound_domain::hours;
use rebound_domain::model::*;
use rebound_domain::state::{CallbackResult, CallbackState};
use rebound_domain::time::{self, parse_timezone};
use rebound_engine::{Engine, EngineConfig};
use rebound_store::{CallbackFilter, NewCallback, PageRequest, Sort, Store};
use rebound_store_sqlite::SqliteStore;
use serde_json::json;

/// Monday 2 March 2026, 10:00 in London (GMT): inside the fixture's hours.
pub const START: &str = "2026-03-02T10:00:00Z";

pub fn ts(s: &str) -> Timestamp {
    s.parse().expect("test timestamp")
}

pub fn secs(n: i64) -> SignedDuration {
    SignedDuration::from_secs(n)
}

pub fn mins(n: i64) -> SignedDuration {
    SignedDuration::from_mins(n)
}

/// Mon–Fri 09:00–17:00, Sat 10:00–14:00, Sun closed.
pub fn weekday_hours() -> serde_json::Value {
    let day = json!([["09:00", "17:00"]]);
    json!({"mon": day, "tue": day, "wed": day, "thu": day, "fri": day, "sat": [["10:00", "14:00"]], "sun": []})
}

pub fn always_open() -> serde_json::Value {
    let day = json!([["00:00", "24:00"]]);
    json!({"mon": day, "tue": day, "wed": day, "thu": day, "fri": day, "sat": day, "sun": day})
}

/// An outbound London campaign with `hours`; the rest per the product defaults.
pub fn campaign_fixture(name: &str, hours: serde_json::Value) -> Campaign {
    serde_json::from_value(json!({
        "id": 0, "name": name, "direction": "outbound", "timezone": "Europe/London", "region": "GB",
        "running": true, "dialling_hours": hours, "exceptions": [],
        "lead_calling_hours": ["08:00", "21:00"], "allow_unassigned_agent_callbacks": false,
        "auto_callback_list_id": null, "lists": [], "window_secs": 120, "max_attempts": 3,
        "retry_delays_secs": {"no_answer": 1800, "busy": 600, "voicemail": 3600, "failed": 900},
        "horizon_days": 90, "agent_grace_minutes": 30,
        "created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:00Z"
    }))
    .expect("campaign fixture")
}

pub struct Harness {
    pub store: Arc<dyn Store>,
    pub clock: Arc<ManualClock>,
    pub engine: Arc<Engine>,
    /// The London campaign (weekday hours).
    pub campaign: Campaign,
    /// A queue of that campaign.
    pub queue: Queue,
    phones: AtomicU32,
    names: AtomicU32,
    _dir: tempfile::TempDir,
}

impl Harness {
    pub async fn new() -> Harness {
        Self::with_config(EngineConfig::default()).await
    }

    pub async fn with_config(config: EngineConfig) -> Harness {
        let dir = tempfile::tempdir().expect("temp dir");
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open_in_dir(dir.path()).expect("open store"));
        let clock = Arc::new(ManualClock::new(ts(START)));
        let engine = Engine::new(store.clone(), clock.clone(), config);
        let campaign = store.create_campaign(campaign_fixture("London", weekday_hours())).await.expect("campaign");
        let mut harness = Harness {
            store,
            clock,
            engine,
            queue: placeholder_queue(),
            campaign,
            phones: AtomicU32::new(0),
            names: AtomicU32::new(0),
            _dir: dir,
        };
        harness.queue = harness.add_queue(harness.campaign.id).await;
        harness
    }

    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    pub fn advance(&self, by: SignedDuration) {
        self.clock.advance(by);
    }

    pub fn set_time(&self, at: &str) {
        self.clock.set(ts(at));
    }

    /// One engine pass; panics on an engine error.
    pub async fn run(&self) -> rebound_engine::StepReport {
        self.engine.run_once().await.expect("engine pass")
    }

    pub async fn add_campaign(&self, campaign: Campaign) -> Campaign {
        self.store.create_campaign(campaign).await.expect("campaign")
    }

    pub async fn add_queue(&self, campaign_id: CampaignId) -> Queue {
        let n = self.names.fetch_add(1, Ordering::Relaxed);
        self.store
            .create_queue(Queue {
                id: 0,
                name: format!("queue {n}"),
                campaign_id,
                slot_minutes: 15,
                slot_capacity: 1000,
                capacity_grid: None,
                duplicate_policy: DuplicatePolicy::Off,
                paused: false,
                created_at: self.now(),
            })
            .await
            .expect("queue")
    }

    /// An agent (offline) serving `queues` and belonging to `campaigns`.
    pub async fn add_agent(&self, queues: &[QueueId], campaigns: &[CampaignId]) -> Agent {
        let n = self.names.fetch_add(1, Ordering::Relaxed);
        self.store
            .create_agent(Agent {
                id: 0,
                name: format!("Agent {n}"),
                username: format!("agent{n}"),
                timezone: "Europe/London".into(),
                campaigns: campaigns.to_vec(),
                queues: queues.to_vec(),
                can_view_callback_list: true,
                presence: Presence::Offline,
                ready_since: None,
                created_at: self.now(),
            })
            .await
            .expect("agent")
    }

    /// An agent of the fixture queue and campaign, set ready now.
    pub async fn ready_agent(&self) -> Agent {
        let agent = self.add_agent(&[self.queue.id], &[self.campaign.id]).await;
        self.set_presence(agent.id, Presence::Ready).await
    }

    pub async fn set_presence(&self, agent_id: AgentId, presence: Presence) -> Agent {
        self.engine.set_presence(agent_id, presence, "test").await.expect("presence")
    }

    /// A queue callback of the fixture queue desired at `desired` (now when `None`).
    pub async fn queue_callback(&self, desired: Option<Timestamp>) -> Callback {
        self.create(Spec::queue(&self.queue, desired)).await
    }

    /// Creates a callback as the API would: its earliest time from its campaign's hours.
    pub async fn create(&self, spec: Spec) -> Callback {
        let now = self.now();
        let campaign = self.store.get_campaign(spec.campaign_id).await.expect("read").expect("campaign exists");
        let desired = spec.desired.unwrap_or(now);
        let campaign_tz = parse_timezone(&campaign.timezone).expect("campaign tz");
        let lead_tz = spec.lead_timezone.as_deref().map(|tz| parse_timezone(tz).expect("lead tz"));
        let plan = rebound_domain::dispatch::dial_plan(&campaign, &campaign_tz, lead_tz.as_ref());
        let n = self.phones.fetch_add(1, Ordering::Relaxed);
        let phone = format!("+4479{n:08}");
        let callback = Callback {
            id: CallbackId::new(),
            kind: spec.kind,
            origin: if spec.desired.is_some() { Origin::Scheduled } else { Origin::Immediate },
            phone: phone.clone(),
            phone_raw: phone,
            campaign_id: campaign.id,
            list_id: None,
            lead_id: None,
            queue_id: spec.queue_id,
            agent_id: spec.agent_id,
            wrap_code: None,
            desired_time: desired,
            timezone: None,
            lead_timezone: spec.lead_timezone,
            earliest_time: hours::earliest_dialable(&plan, desired, now),
            window_secs: campaign.window_secs,
            slot_start: None,
            state: CallbackState::Scheduled,
            result: None,
            attempts: 0,
            priority: spec.priority,
            notes: None,
            data: DataFields::new(),
            created_by: "test".into(),
            created_at: now,
            updated_at: now,
            queued_at: None,
            offered_to: None,
            lease_id: None,
            hold_until: None,
            recreated_from: None,
            recreated_as: None,
            expires_at: time::retention_expiry(desired, time::DEFAULT_RETENTION_DAYS),
        };
        let new = NewCallback {
            callback,
            duplicate_limit: None,
            slot_capacity: None,
            idempotency: None,
            event_action: "created".into(),
            event_details: json!({}),
        };
        let created = self.store.create_callback(new).await.expect("create callback").into_callback();
        self.engine.notify_due(created.earliest_time);
        created
    }

    pub async fn get(&self, id: CallbackId) -> Callback {
        self.store.get_callback(id).await.expect("read").expect("callback exists")
    }

    pub async fn agent(&self, id: AgentId) -> Agent {
        self.store.get_agent(id).await.expect("read").expect("agent exists")
    }

    /// The audit actions of a callback, oldest first.
    pub async fn actions(&self, id: CallbackId) -> Vec<String> {
        self.store.callback_events(id).await.expect("events").into_iter().map(|e| e.action).collect()
    }

    /// Every callback in `state`.
    pub async fn in_state(&self, state: CallbackState) -> Vec<Callback> {
        let filter = CallbackFilter { states: vec![state], ..CallbackFilter::default() };
        let page = PageRequest { page: 1, page_size: PageRequest::MAX_SIZE };
        self.store.list_callbacks(&filter, Sort::default(), page).await.expect("list").items
    }

    /// Asserts the callback's state (and result).
    #[track_caller]
    pub fn assert_state(&self, callback: &Callback, state: CallbackState, result: Option<CallbackResult>) {
        assert_eq!((callback.state, callback.result), (state, result), "callback {callback:?}");
    }
}

/// What a test callback is.
#[derive(Debug, Clone)]
pub struct Spec {
    pub kind: CallbackType,
    pub campaign_id: CampaignId,
    pub queue_id: Option<QueueId>,
    pub agent_id: Option<AgentId>,
    pub desired: Option<Timestamp>,
    pub priority: i32,
    pub lead_timezone: Option<String>,
}

impl Spec {
    pub fn queue(queue: &Queue, desired: Option<Timestamp>) -> Spec {
        Spec {
            kind: CallbackType::Queue,
            campaign_id: queue.campaign_id,
            queue_id: Some(queue.id),
            agent_id: None,
            desired,
            priority: 0,
            lead_timezone: None,
        }
    }

    pub fn agent(campaign_id: CampaignId, agent_id: AgentId, desired: Option<Timestamp>) -> Spec {
        Spec {
            kind: CallbackType::Agent,
            campaign_id,
            queue_id: None,
            agent_id: Some(agent_id),
            desired,
            priority: 0,
            lead_timezone: None,
        }
    }

    pub fn priority(mut self, priority: i32) -> Spec {
        self.priority = priority;
        self
    }
}

fn placeholder_queue() -> Queue {
    Queue {
        id: 0,
        name: String::new(),
        campaign_id: 0,
        slot_minutes: 15,
        slot_capacity: 1,
        capacity_grid: None,
        duplicate_policy: DuplicatePolicy::Off,
        paused: false,
        created_at: ts(START),
    }
}
