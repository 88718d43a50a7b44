//! The demo data set: a realistic, reproducible contact centre loaded through the `Store` trait, so
//! a first-time user sees every feature with something in it.
//!
//! Contents: three outbound campaigns in three timezones (London Retail, Singapore Care, Canberra
//! Energy — the last with a Thursday night shift that crosses midnight) and one inbound campaign
//! (London Inbound) whose auto-callback list London Retail dials; four lists with data fields;
//! 3,000 leads with valid national numbers; six queues (one with a capacity grid); ten agents;
//! wrap codes including Add-to-Queue ones; and 2,000 callbacks from 14 days ago to 14 days ahead in
//! every state and with every result.
//!
//! Every callback is created `SCHEDULED` and then driven to its state with the legal actions of the
//! lifecycle (`Promote → Reserve → Accept → Finish`, `Retry`, `Release`, `Cancel`, `Expire`,
//! `Reschedule`), each at a plausible past instant, so every audit trail is one the real system
//! could have written. Earliest times come from `hours::earliest_dialable`, slots from `slots`.
//!
//! Reproducible: all choices come from one seeded RNG. Only `now` moves the data in time.
//!
//! This module builds the configuration and runs the load; [`plan`] plans each callback's life and
//! drives it through the store; [`leads`] makes the leads (numbers, names, data).

mod leads;
mod plan;

use std::collections::BTreeMap;
use std::fmt;

use anyhow::Context as _;
use jiff::Timestamp;
use rand::SeedableRng as _;
use rand::rngs::StdRng;
use rebound_domain::hours::{CallingHours, DateException, DiallingHours, TimeRange};
use rebound_domain::model::*;
use rebound_domain::slots::{self, CapacityGrid};
use rebound_domain::state::{CallbackResult, CallbackState};
use rebound_domain::time::{self, DEFAULT_RETENTION_DAYS};
use rebound_store::Store;

use self::leads::{Country, create_leads};
use self::plan::{CampaignCtx, DemoLead, Planner, Target, insert_and_drive};

/// The actor named in the demo's audit events.
pub const ACTOR: &str = "demo";
pub const DEFAULT_SEED: u64 = 20_260_101;

/// How many callbacks of each final kind the demo aims for (2,000 in all). A handful may be skipped
/// when no plausible time fits (e.g. every campaign closed all weekend); the summary says so.
const TARGETS: &[(Target, usize)] = &[
    (Target::Scheduled, 640),
    (Target::Overdue, 16),
    (Target::Queued, 48),
    (Target::Routing, 8),
    (Target::Processing, 12),
    (Target::Completed(CallbackResult::Agent), 820),
    (Target::Completed(CallbackResult::CancelledByAdmin), 150),
    (Target::Completed(CallbackResult::CancelledByCustomer), 100),
    (Target::Completed(CallbackResult::MaxAttempts), 90),
    (Target::Completed(CallbackResult::InvalidNumber), 50),
    (Target::Completed(CallbackResult::Expired), 66),
];

/// Leads per list: London Retail, Singapore Care, Canberra Energy, London Inbound auto-callbacks.
const LEADS_PER_LIST: [usize; 4] = [1200, 900, 800, 100];
const LEAD_BATCH: usize = 500;
const CALLBACK_BATCH: usize = 250;
/// Callbacks driven through their transitions at once; the store group-commits concurrent writes.
const CONCURRENT_TRANSITIONS: usize = 32;

#[derive(Debug, Clone)]
pub struct DemoOptions {
    /// The instant the data is arranged around.
    pub now: Timestamp,
    pub seed: u64,
    /// Sets each callback's `expires_at` like the server does.
    pub retention_days: u32,
}

impl Default for DemoOptions {
    fn default() -> Self {
        DemoOptions { now: Timestamp::now(), seed: DEFAULT_SEED, retention_days: DEFAULT_RETENTION_DAYS }
    }
}

/// What was loaded.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DemoSummary {
    pub campaigns: usize,
    pub lists: usize,
    pub leads: usize,
    pub queues: usize,
    pub agents: usize,
    pub wrap_codes: usize,
    pub callbacks: usize,
    pub by_state: BTreeMap<CallbackState, usize>,
    pub by_result: BTreeMap<CallbackResult, usize>,
    pub overdue: usize,
    /// Planned callbacks left out (no plausible time, or refused by the store).
    pub skipped: usize,
}

impl fmt::Display for DemoSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Demo data loaded: {} campaigns, {} lists, {} leads, {} queues, {} agents, {} wrap codes, {} callbacks (",
            self.campaigns, self.lists, self.leads, self.queues, self.agents, self.wrap_codes, self.callbacks
        )?;
        let mut first = true;
        for (state, n) in &self.by_state {
            if !first {
                f.write_str(", ")?;
            }
            first = false;
            write!(f, "{state} {n}")?;
            if *state == CallbackState::Scheduled && self.overdue > 0 {
                write!(f, " incl. {} overdue", self.overdue)?;
            }
            if *state == CallbackState::Completed {
                let results: Vec<String> = self.by_result.iter().map(|(r, n)| format!("{r} {n}")).collect();
                write!(f, ": {}", results.join(", "))?;
            }
        }
        f.write_str(")")?;
        if self.skipped > 0 {
            write!(f, "; {} planned callbacks skipped", self.skipped)?;
        }
        Ok(())
    }
}

/// Loads the demo unless the store already has campaigns (then returns `None` and changes nothing).
pub async fn load_if_empty(store: &dyn Store, options: &DemoOptions) -> anyhow::Result<Option<DemoSummary>> {
    if !store.list_campaigns().await.context("cannot read campaigns")?.is_empty() {
        return Ok(None);
    }
    load(store, options).await.map(Some)
}

/// Loads the whole demo data set.
pub async fn load(store: &dyn Store, options: &DemoOptions) -> anyhow::Result<DemoSummary> {
    let mut rng = StdRng::seed_from_u64(options.seed);
    // Whole milliseconds, the precision stores keep, so times in event details match stored times.
    let now = Timestamp::from_millisecond(options.now.as_millisecond()).context("demo time out of range")?;
    let mut summary = DemoSummary::default();

    // ---- lists ------------------------------------------------------------------------------
    let list = |name: &str, fields: &[&str]| List {
        id: 0,
        name: name.to_string(),
        fields: fields.iter().map(|f| f.to_string()).collect(),
        created_at: now,
    };
    // London Retail and Canberra Energy share data fields on purpose: callbacks can move between them.
    let london_list = store.create_list(list("London Retail customers", &["account_no", "postcode"])).await?;
    let singapore_list = store.create_list(list("Singapore Care members", &["customer_ref", "plan"])).await?;
    let canberra_list = store.create_list(list("Canberra Energy accounts", &["account_no", "postcode"])).await?;
    let auto_list = store.create_list(list("London Inbound auto-callbacks", &["account_no", "postcode"])).await?;
    summary.lists = 4;

    // ---- campaigns --------------------------------------------------------------------------
    let london = store
        .create_campaign(outbound_campaign(
            now,
            "London Retail",
            "Europe/London",
            "GB",
            week(&[("mon-fri", &[("08:00", "20:00")]), ("sat", &[("09:00", "17:00")])])?,
            vec![
                DateException { date: jiff::civil::date(2026, 12, 25), hours: vec![] },
                DateException {
                    date: jiff::civil::date(2026, 12, 24),
                    hours: vec![TimeRange::parse("09:00", "13:00")?],
                },
            ],
            vec![london_list.id, auto_list.id],
            true,
        ))
        .await?;
    let singapore = store
        .create_campaign(outbound_campaign(
            now,
            "Singapore Care",
            "Asia/Singapore",
            "SG",
            week(&[("mon-sat", &[("09:00", "21:00")])])?,
            vec![],
            vec![singapore_list.id],
            false,
        ))
        .await?;
    let canberra = store
        .create_campaign(outbound_campaign(
            now,
            "Canberra Energy",
            "Australia/Sydney",
            "AU",
            // The Thursday late shift runs 22:00 → Friday 02:00: dialling hours that cross midnight.
            week(&[
                ("mon-wed", &[("08:30", "19:00")]),
                ("thu", &[("08:30", "19:00"), ("22:00", "02:00")]),
                ("fri", &[("08:30", "19:00")]),
            ])?,
            vec![],
            vec![canberra_list.id],
            true,
        ))
        .await?;
    let inbound = store
        .create_campaign(Campaign {
            direction: Direction::Inbound,
            auto_callback_list_id: Some(auto_list.id),
            lists: vec![],
            ..outbound_campaign(
                now,
                "London Inbound",
                "Europe/London",
                "GB",
                week(&[("mon-sat", &[("08:00", "20:00")])])?,
                vec![],
                vec![],
                false,
            )
        })
        .await?;
    summary.campaigns = 4;

    // ---- leads ------------------------------------------------------------------------------
    let london_leads = create_leads(store, &mut rng, now, Country::Gb, london_list.id, LEADS_PER_LIST[0], true).await?;
    let singapore_leads =
        create_leads(store, &mut rng, now, Country::Sg, singapore_list.id, LEADS_PER_LIST[1], true).await?;
    let canberra_leads =
        create_leads(store, &mut rng, now, Country::Au, canberra_list.id, LEADS_PER_LIST[2], true).await?;
    // Auto-callback leads come from an IVR: a number, rarely a name, no account data.
    let auto_leads = create_leads(store, &mut rng, now, Country::Gb, auto_list.id, LEADS_PER_LIST[3], false).await?;
    summary.leads = london_leads.len() + singapore_leads.len() + canberra_leads.len() + auto_leads.len();

    // ---- queues -----------------------------------------------------------------------------
    let queue = |name: &str, campaign_id, capacity, grid: Option<CapacityGrid>, policy| Queue {
        id: 0,
        name: name.to_string(),
        campaign_id,
        slot_minutes: slots::DEFAULT_SLOT_MINUTES,
        slot_capacity: capacity,
        capacity_grid: grid,
        duplicate_policy: policy,
        paused: false,
        created_at: now,
    };
    let mut queues: Vec<Queue> = Vec::new();
    for q in [
        queue("Retail Sales", london.id, 12, None, DuplicatePolicy::One),
        queue("Retail Service", london.id, 8, Some(service_grid()), DuplicatePolicy::One),
        queue("Care Renewals", singapore.id, 10, None, DuplicatePolicy::Two),
        queue("Care Support", singapore.id, 20, None, DuplicatePolicy::One),
        queue("Energy Billing", canberra.id, 6, None, DuplicatePolicy::One),
        queue("Energy Faults", canberra.id, 5, None, DuplicatePolicy::Off),
    ] {
        queues.push(store.create_queue(q).await?);
    }
    summary.queues = queues.len();
    let qid = |name: &str| queues.iter().find(|q| q.name == name).map(|q| q.id).expect("queue exists");

    // ---- agents -----------------------------------------------------------------------------
    // (name, username, timezone, campaigns, queues, can view callback list, presence)
    type AgentSpec = (&'static str, &'static str, &'static str, Vec<CampaignId>, Vec<QueueId>, bool, Presence);
    // One row per agent, kept as a table on purpose.
    #[rustfmt::skip]
    let agent_specs: [AgentSpec; 10] = [
        ("Amelia Hart", "ahart", "Europe/London", vec![london.id, inbound.id], vec![qid("Retail Sales"), qid("Retail Service")], true, Presence::Ready),
        ("Ravi Shah", "rshah", "Europe/London", vec![london.id], vec![qid("Retail Sales")], false, Presence::Busy),
        ("Sophie Turner", "sturner", "Europe/London", vec![london.id, inbound.id], vec![qid("Retail Service")], false, Presence::NotReady),
        ("Callum Reid", "creid", "Europe/London", vec![london.id], vec![qid("Retail Sales"), qid("Retail Service")], false, Presence::Offline),
        ("Tan Wei Ling", "wltan", "Asia/Singapore", vec![singapore.id], vec![qid("Care Renewals"), qid("Care Support")], false, Presence::Ready),
        ("Muhammad Faiz", "mfaiz", "Asia/Singapore", vec![singapore.id], vec![qid("Care Support")], false, Presence::Busy),
        ("Priya Nair", "pnair", "Asia/Singapore", vec![singapore.id], vec![qid("Care Renewals")], false, Presence::Offline),
        ("Jack O'Brien", "jobrien", "Australia/Sydney", vec![canberra.id], vec![qid("Energy Billing"), qid("Energy Faults")], false, Presence::Ready),
        ("Mia Nguyen", "mnguyen", "Australia/Sydney", vec![canberra.id], vec![qid("Energy Billing")], false, Presence::Offline),
        // Works the London and Canberra queues from Perth: a third timezone in one agent's day.
        ("Grace Walker", "gwalker", "Australia/Perth", vec![london.id, canberra.id], vec![qid("Retail Service"), qid("Energy Faults")], false, Presence::Offline),
    ];
    let mut agents: Vec<Agent> = Vec::new();
    for (name, username, tz, campaigns, agent_queues, can_view, presence) in agent_specs {
        agents.push(
            store
                .create_agent(Agent {
                    id: 0,
                    name: name.to_string(),
                    username: username.to_string(),
                    timezone: tz.to_string(),
                    campaigns,
                    queues: agent_queues,
                    can_view_callback_list: can_view,
                    presence,
                    ready_since: (presence == Presence::Ready).then_some(now),
                    created_at: now,
                })
                .await?,
        );
    }
    summary.agents = agents.len();

    // ---- wrap codes -------------------------------------------------------------------------
    let wrap = |campaign_id, code: &str, label: &str, add_to_queue| WrapCode {
        id: 0,
        campaign_id,
        code: code.to_string(),
        label: label.to_string(),
        add_to_queue,
        created_at: now,
    };
    let main_queue =
        [(london.id, qid("Retail Sales")), (singapore.id, qid("Care Support")), (canberra.id, qid("Energy Billing"))];
    let mut wrap_codes = Vec::new();
    for (campaign_id, queue_id) in main_queue {
        wrap_codes.push(wrap(campaign_id, "SALE", "Sale made", None));
        wrap_codes.push(wrap(campaign_id, "NOINT", "Not interested", None));
        wrap_codes.push(wrap(
            campaign_id,
            "CB1H",
            "Call back in 1 hour (any agent)",
            Some(AddToQueue { campaign_id, queue_id: Some(queue_id), kind: CallbackType::Queue, delay_minutes: 60 }),
        ));
        wrap_codes.push(wrap(
            campaign_id,
            "CBAGENT",
            "Call back tomorrow (same agent)",
            Some(AddToQueue { campaign_id, queue_id: None, kind: CallbackType::Agent, delay_minutes: 24 * 60 }),
        ));
    }
    // An inbound interaction that ends with an outbound callback in another campaign.
    wrap_codes.push(wrap(
        inbound.id,
        "CBLATER",
        "Customer wants a call back later",
        Some(AddToQueue {
            campaign_id: london.id,
            queue_id: Some(qid("Retail Service")),
            kind: CallbackType::Queue,
            delay_minutes: 120,
        }),
    ));
    summary.wrap_codes = wrap_codes.len();
    for w in wrap_codes {
        store.create_wrap_code(w).await?;
    }

    // ---- callbacks --------------------------------------------------------------------------
    let campaign_ctx =
        |campaign: &Campaign, leads: Vec<DemoLead>, weight: u32, main_queue: QueueId| -> anyhow::Result<CampaignCtx> {
            Ok(CampaignCtx {
                tz: time::parse_timezone(&campaign.timezone)?,
                campaign: campaign.clone(),
                queues: queues.iter().filter(|q| q.campaign_id == campaign.id).cloned().collect(),
                main_queue,
                agents: agents.iter().filter(|a| a.campaigns.contains(&campaign.id)).map(|a| a.id).collect(),
                leads,
                weight,
            })
        };
    let mut planner = Planner::new(
        now,
        rng,
        options.retention_days,
        vec![
            campaign_ctx(&london, london_leads, 45, qid("Retail Sales"))?,
            campaign_ctx(&singapore, singapore_leads, 30, qid("Care Support"))?,
            campaign_ctx(&canberra, canberra_leads, 25, qid("Energy Billing"))?,
        ],
        auto_leads,
    );

    // Completed callbacks first: while they are being inserted (as SCHEDULED) they would count
    // against duplicate limits and slot capacity; once completed they no longer do.
    let mut completed = Vec::new();
    let mut active = Vec::new();
    for &(target, count) in TARGETS {
        for _ in 0..count {
            match planner.plan(target)? {
                Some(p) if target.is_completed() => completed.push(p),
                Some(p) => active.push(p),
                None => summary.skipped += 1,
            }
        }
    }
    for planned in [completed, active] {
        let loaded = insert_and_drive(store, planned).await?;
        summary.skipped += loaded.skipped;
        for cb in loaded.callbacks {
            summary.callbacks += 1;
            *summary.by_state.entry(cb.state).or_default() += 1;
            if let Some(r) = cb.result {
                *summary.by_result.entry(r).or_default() += 1;
            }
            if time::is_overdue(cb.state, cb.earliest_time, cb.window_secs, now) {
                summary.overdue += 1;
            }
        }
    }
    if summary.skipped > 0 {
        tracing::warn!(skipped = summary.skipped, "some demo callbacks were skipped");
    }
    Ok(summary)
}

// ---- configuration helpers ---------------------------------------------------------------------

fn outbound_campaign(
    now: Timestamp,
    name: &str,
    timezone: &str,
    region: &str,
    dialling_hours: DiallingHours,
    exceptions: Vec<DateException>,
    lists: Vec<ListId>,
    allow_unassigned: bool,
) -> Campaign {
    Campaign {
        id: 0,
        name: name.to_string(),
        direction: Direction::Outbound,
        timezone: timezone.to_string(),
        region: region.to_string(),
        running: true,
        dialling_hours,
        exceptions,
        lead_calling_hours: CallingHours::default(),
        allow_unassigned_agent_callbacks: allow_unassigned,
        auto_callback_list_id: None,
        lists,
        window_secs: Campaign::DEFAULT_WINDOW_SECS,
        max_attempts: Campaign::DEFAULT_MAX_ATTEMPTS,
        retry_delays_secs: RetryDelays::default(),
        horizon_days: Campaign::DEFAULT_HORIZON_DAYS,
        agent_grace_minutes: Campaign::DEFAULT_AGENT_GRACE_MINUTES,
        created_at: now,
        updated_at: now,
    }
}

/// Weekly hours from `("mon-fri", [("08:00","20:00")])`-style entries; unnamed days are closed.
fn week(entries: &[(&str, &[(&str, &str)])]) -> anyhow::Result<DiallingHours> {
    const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
    let mut hours = DiallingHours::default();
    for (days, ranges) in entries {
        let (first, last) = days.split_once('-').unwrap_or((days, days));
        let from = DAYS.iter().position(|d| d == &first).context("bad day")?;
        let to = DAYS.iter().position(|d| d == &last).context("bad day")?;
        let ranges = ranges.iter().map(|(s, e)| TimeRange::parse(s, e)).collect::<Result<Vec<_>, _>>()?;
        for day in &DAYS[from..=to] {
            let slot = match *day {
                "mon" => &mut hours.mon,
                "tue" => &mut hours.tue,
                "wed" => &mut hours.wed,
                "thu" => &mut hours.thu,
                "fri" => &mut hours.fri,
                "sat" => &mut hours.sat,
                _ => &mut hours.sun,
            };
            slot.extend(ranges.iter().copied());
        }
    }
    hours.validate()?;
    Ok(hours)
}

/// Retail Service staffs up for the lunchtime rush and runs light first thing, Monday to Friday.
fn service_grid() -> CapacityGrid {
    let mut day = BTreeMap::new();
    for t in ["08:00", "08:15", "08:30", "08:45"] {
        day.insert(t.to_string(), 3);
    }
    for t in ["12:00", "12:15", "12:30", "12:45", "13:00", "13:15", "13:30", "13:45"] {
        day.insert(t.to_string(), 16);
    }
    CapacityGrid {
        mon: day.clone(),
        tue: day.clone(),
        wed: day.clone(),
        thu: day.clone(),
        fri: day,
        sat: BTreeMap::new(),
        sun: BTreeMap::new(),
    }
}
