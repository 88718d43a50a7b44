//! Planning and driving demo callbacks: for each wanted final state, a plausible callback (campaign,
//! lead, number, origin, desired time, earliest time, slot) and the lifecycle steps that take it
//! there, each at a plausible past instant; then inserting them and applying the steps through the
//! store so every audit event is one the real system could have written.
//!
//! The planner enforces, in memory, what the store would refuse: duplicate policies and slot
//! capacity for callbacks that stay active, and steps in time order, never after `now`.

use std::collections::HashMap;

use anyhow::Context as _;
use futures::StreamExt as _;
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use rand::Rng as _;
use rand::rngs::StdRng;
use rand::seq::IndexedRandom as _;
use rebound_domain::hours::{DialPlan, earliest_dialable};
use rebound_domain::model::*;
use rebound_domain::phone::PhoneNumber;
use rebound_domain::slots::{self, SlotRules};
use rebound_domain::state::{Action, CallbackResult, CallbackState};
use rebound_domain::time;
use rebound_store::{CallbackUpdate, NewCallback, Store, TransitionRequest};
use serde_json::json;

use super::{ACTOR, CALLBACK_BATCH, CONCURRENT_TRANSITIONS};

/// The final state a planned callback is driven to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Target {
    /// Due in the future.
    Scheduled,
    /// Still scheduled although its earliest time (plus window) has passed.
    Overdue,
    Queued,
    Routing,
    Processing,
    Completed(CallbackResult),
}

impl Target {
    pub(super) fn is_completed(self) -> bool {
        matches!(self, Target::Completed(_))
    }
}

/// A lead as the planner needs it: ids, parsed numbers, the text they were given as.
#[derive(Debug, Clone)]
pub(super) struct DemoLead {
    pub(super) id: LeadId,
    pub(super) list_id: ListId,
    pub(super) phones: Vec<(PhoneNumber, String)>,
    pub(super) timezone: Option<String>,
    pub(super) data: DataFields,
}

pub(super) struct CampaignCtx {
    pub(super) campaign: Campaign,
    pub(super) tz: TimeZone,
    pub(super) queues: Vec<Queue>,
    /// The queue its CB1H wrap code (and London's auto-callbacks) feed.
    pub(super) main_queue: QueueId,
    pub(super) agents: Vec<AgentId>,
    pub(super) leads: Vec<DemoLead>,
    pub(super) weight: u32,
}

/// One callback to insert, and the lifecycle steps that take it to its target.
pub(super) struct Planned {
    new: NewCallback,
    steps: Vec<Step>,
}

struct Step {
    action: Action,
    expect: CallbackState,
    at: Timestamp,
    update: CallbackUpdate,
    event_action: &'static str,
    details: serde_json::Value,
}

pub(super) struct Planner {
    now: Timestamp,
    rng: StdRng,
    retention_days: u32,
    campaigns: Vec<CampaignCtx>,
    auto_leads: Vec<DemoLead>,
    tz_cache: HashMap<String, TimeZone>,
    /// Active callbacks per (queue, number): kept within each queue's duplicate policy.
    active_per_number: HashMap<(QueueId, String), u32>,
    /// Active bookings per (queue, slot start): kept within capacity.
    active_per_slot: HashMap<(QueueId, Timestamp), u32>,
}

const LONDON: usize = 0;
/// Tries per callback to find a combination of campaign, lead and time that fits its target.
const PLAN_TRIES: usize = 60;

impl Planner {
    pub(super) fn new(
        now: Timestamp,
        rng: StdRng,
        retention_days: u32,
        campaigns: Vec<CampaignCtx>,
        auto_leads: Vec<DemoLead>,
    ) -> Planner {
        Planner {
            now,
            rng,
            retention_days,
            campaigns,
            auto_leads,
            tz_cache: HashMap::new(),
            active_per_number: HashMap::new(),
            active_per_slot: HashMap::new(),
        }
    }

    pub(super) fn plan(&mut self, target: Target) -> anyhow::Result<Option<Planned>> {
        for attempt in 0..PLAN_TRIES {
            if let Some(p) = self.try_plan(target, attempt)? {
                return Ok(Some(p));
            }
        }
        Ok(None)
    }

    fn lead_tz(&mut self, name: &str) -> anyhow::Result<TimeZone> {
        if let Some(tz) = self.tz_cache.get(name) {
            return Ok(tz.clone());
        }
        let tz = time::parse_timezone(name)?;
        self.tz_cache.insert(name.to_string(), tz.clone());
        Ok(tz)
    }

    fn between(&mut self, from: Timestamp, to: Timestamp) -> Timestamp {
        let span = to.duration_since(from).as_secs();
        if span <= 0 {
            return from;
        }
        from + SignedDuration::from_secs(self.rng.random_range(0..span))
    }

    fn secs(&mut self, lo: i64, hi: i64) -> SignedDuration {
        SignedDuration::from_secs(self.rng.random_range(lo..hi))
    }

    /// One attempt at a plausible callback for `target`; `None` when this draw does not fit.
    fn try_plan(&mut self, target: Target, attempt: usize) -> anyhow::Result<Option<Planned>> {
        let now = self.now;
        let ci = {
            let total: u32 = self.campaigns.iter().map(|c| c.weight).sum();
            let mut roll = self.rng.random_range(0..total);
            let mut chosen = 0;
            for (i, c) in self.campaigns.iter().enumerate() {
                if roll < c.weight {
                    chosen = i;
                    break;
                }
                roll -= c.weight;
            }
            chosen
        };

        // How it came to exist.
        let roll = self.rng.random_range(0..100);
        let (origin, kind, wrap_code) = match roll {
            0..10 if ci == LONDON => (Origin::AutoCallback, CallbackType::Queue, None),
            0..10 => (Origin::Immediate, CallbackType::Queue, None),
            10..18 => (Origin::WrapCode, CallbackType::Queue, Some("CB1H")),
            18..24 => (Origin::WrapCode, CallbackType::Agent, Some("CBAGENT")),
            24..44 => (Origin::Immediate, if roll < 40 { CallbackType::Queue } else { CallbackType::Agent }, None),
            _ => (Origin::Scheduled, if roll < 85 { CallbackType::Queue } else { CallbackType::Agent }, None),
        };
        let ctx = &self.campaigns[ci];
        let leads = if origin == Origin::AutoCallback { &self.auto_leads } else { &ctx.leads };
        let Some(lead) = leads.choose(&mut self.rng).cloned() else { return Ok(None) };
        let (phone, phone_raw) = if lead.phones.len() > 1 && self.rng.random_bool(0.2) {
            lead.phones[self.rng.random_range(1..lead.phones.len())].clone()
        } else {
            lead.phones[0].clone()
        };
        let queue_id = match (kind, origin) {
            (CallbackType::Agent, _) => None,
            (_, Origin::AutoCallback | Origin::WrapCode) => Some(ctx.main_queue),
            _ => ctx.queues.choose(&mut self.rng).map(|q| q.id),
        };
        let agent_id = match kind {
            CallbackType::Agent => ctx.agents.choose(&mut self.rng).copied(),
            CallbackType::Queue => None,
        };
        if kind == CallbackType::Agent && agent_id.is_none() {
            return Ok(None);
        }
        let queue = queue_id.and_then(|id| ctx.queues.iter().find(|q| q.id == id)).cloned();
        let campaign = ctx.campaign.clone();
        let campaign_tz = ctx.tz.clone();
        let pick_agent = ctx.agents.clone();

        let lead_tz_name = lead.timezone.clone().or_else(|| phone.inferred_timezone().map(str::to_string));
        let lead_tz = match &lead_tz_name {
            Some(name) => Some(self.lead_tz(name)?),
            None => None,
        };
        let plan = rebound_domain::dispatch::dial_plan(&campaign, &campaign_tz, lead_tz.as_ref());

        // When it was wanted. Live targets look at the last hours first, then (e.g. over a weekend
        // when every campaign is closed) further back.
        let min = SignedDuration::from_mins;
        let hours = SignedDuration::from_hours;
        let (lo, hi) = match target {
            Target::Scheduled => match origin {
                Origin::Immediate | Origin::AutoCallback => (now - hours(12), now - min(1)),
                Origin::WrapCode if wrap_code == Some("CB1H") => (now, now + min(60)),
                Origin::WrapCode => (now, now + hours(24)),
                _ => (now + min(5), now + hours(24 * 14)),
            },
            Target::Overdue | Target::Queued | Target::Routing | Target::Processing => {
                if attempt < PLAN_TRIES / 3 {
                    (now - hours(2), now - min(3))
                } else {
                    (now - hours(24 * 4), now - min(3))
                }
            }
            Target::Completed(CallbackResult::CancelledByAdmin | CallbackResult::CancelledByCustomer)
                if self.rng.random_bool(0.35) =>
            {
                // Cancelled ahead of time: a future desired time.
                (now + min(30), now + hours(24 * 14))
            }
            Target::Completed(_) => (now - hours(24 * 14) + hours(1), now - hours(3)),
        };
        let desired = self.between(lo, hi);
        let created = match origin {
            Origin::Immediate | Origin::AutoCallback => desired,
            Origin::WrapCode if wrap_code == Some("CB1H") => desired - min(60),
            Origin::WrapCode => desired - hours(24),
            _ => {
                let ahead = self.secs(15 * 60, 3 * 24 * 3600);
                let latest = now - self.secs(0, 30 * 60);
                (desired - ahead).min(latest)
            }
        };
        if created > now || created > desired {
            return Ok(None);
        }
        let Some(earliest) = earliest_dialable(&plan, desired, created) else { return Ok(None) };

        // Fit the target's timing.
        let fits = match target {
            Target::Scheduled => earliest > now + min(2),
            Target::Overdue => {
                time::is_overdue(CallbackState::Scheduled, Some(earliest), campaign.window_secs, now - min(1))
            }
            Target::Queued | Target::Routing => earliest < now - min(1),
            Target::Processing => earliest < now - min(5),
            Target::Completed(_) => true,
        };
        if !fits {
            return Ok(None);
        }

        // Duplicate policy and slot capacity, as the server would enforce them, for callbacks that stay active.
        let stays_active = !target.is_completed();
        let dup_key = queue.as_ref().map(|q| (q.id, phone.as_str().to_string()));
        let dup_limit = queue.as_ref().and_then(|q| q.duplicate_policy.limit());
        if stays_active
            && let (Some(key), Some(limit)) = (&dup_key, dup_limit)
            && self.active_per_number.get(key).copied().unwrap_or(0) >= limit
        {
            return Ok(None);
        }
        let books_slot = matches!(origin, Origin::Scheduled | Origin::WrapCode) && queue.is_some();
        let (slot_start, slot_capacity) = match (&queue, books_slot) {
            (Some(q), true) => {
                let rules = SlotRules {
                    slot_minutes: q.slot_minutes,
                    slot_capacity: q.slot_capacity,
                    grid: q.capacity_grid.as_ref(),
                    tz: &campaign_tz,
                };
                let start = slots::slot_start(&rules, earliest);
                let capacity = slots::capacity_of(&rules, start);
                if stays_active && self.active_per_slot.get(&(q.id, start)).copied().unwrap_or(0) >= capacity {
                    return Ok(None);
                }
                (Some(start), Some(capacity))
            }
            _ => (None, None),
        };

        // The lifecycle after creation.
        let mut life = Life { steps: Vec::new(), t: earliest, attempts: 0 };
        let reserved_agent = |p: &mut Planner| agent_id.or_else(|| pick_agent.choose(&mut p.rng).copied());
        match target {
            Target::Scheduled | Target::Overdue => {
                // Some scheduled callbacks were moved once: show a reschedule in their history.
                if target == Target::Scheduled && origin == Origin::Scheduled && self.rng.random_bool(0.1) {
                    let at = self.between(created, now);
                    life.steps.push(Step {
                        action: Action::Reschedule,
                        expect: CallbackState::Scheduled,
                        at,
                        update: CallbackUpdate::default(),
                        event_action: "rescheduled",
                        details: json!({"reason": "customer asked for another time"}),
                    });
                }
            }
            Target::Queued => {
                life.promote(earliest);
                if self.rng.random_bool(0.2) && earliest + min(2) < now {
                    // Offered once and rejected: a release is not an attempt.
                    let at = self.between(earliest + SignedDuration::from_secs(5), now - SignedDuration::from_secs(40));
                    life.reserve(at, reserved_agent(self));
                    life.release(at + SignedDuration::from_secs(20), "agent rejected the offer");
                }
            }
            Target::Routing => {
                life.promote(earliest);
                let at = (now - self.secs(3, 25)).max(earliest + SignedDuration::from_secs(1));
                life.reserve(at, reserved_agent(self));
            }
            Target::Processing => {
                life.promote(earliest);
                let reserve_at =
                    self.between((earliest + SignedDuration::from_secs(5)).max(now - min(12)), now - min(1));
                life.reserve(reserve_at, reserved_agent(self));
                life.accept(reserve_at + self.secs(5, 25));
            }
            Target::Completed(result) => {
                let ok = self.completed_life(&mut life, result, created, earliest, &plan, &campaign, reserved_agent)?;
                if !ok {
                    return Ok(None);
                }
            }
        }
        if life.steps.windows(2).any(|w| w[1].at < w[0].at) || life.steps.iter().any(|s| s.at < created) {
            return Ok(None);
        }
        if let Some(last) = life.steps.last()
            && last.at > now
        {
            return Ok(None);
        }

        // A reschedule moves the callback from an earlier plan to the one computed above.
        let mut initial = (desired, earliest, slot_start);
        if let Some(step) = life.steps.iter_mut().find(|s| s.action == Action::Reschedule) {
            let first_desired = self.between(created.max(now + min(30)), desired.max(now + min(31)));
            let Some(first_earliest) = earliest_dialable(&plan, first_desired, created) else { return Ok(None) };
            step.update = CallbackUpdate {
                desired_time: Some(desired),
                earliest_time: Some(Some(earliest)),
                slot_start: Some(slot_start),
                expires_at: Some(time::retention_expiry(desired, self.retention_days)),
                ..CallbackUpdate::default()
            };
            step.details = json!({"reason": "customer asked for another time", "from": first_desired, "to": desired});
            // Its first slot was released by the reschedule; not booking one keeps the counts exact.
            initial = (first_desired, first_earliest, None);
        }

        if stays_active {
            if let (Some(key), Some(_)) = (dup_key, dup_limit) {
                *self.active_per_number.entry(key).or_default() += 1;
            }
            if let (Some(q), Some(start)) = (&queue, slot_start) {
                *self.active_per_slot.entry((q.id, start)).or_default() += 1;
            }
        }

        let priority = if self.rng.random_bool(0.15) { self.rng.random_range(1..=5) } else { 0 };
        let notes = self.rng.random_bool(0.4).then(|| NOTES.choose(&mut self.rng).map(|n| n.to_string())).flatten();
        let (first_desired, first_earliest, first_slot) = initial;
        let callback = Callback {
            id: self.callback_id(created),
            kind,
            origin,
            phone: phone.as_str().to_string(),
            phone_raw,
            campaign_id: campaign.id,
            list_id: Some(lead.list_id),
            lead_id: Some(lead.id),
            queue_id,
            agent_id,
            wrap_code: wrap_code.map(str::to_string),
            desired_time: first_desired,
            timezone: (origin == Origin::Scheduled).then(|| {
                if self.rng.random_bool(0.7) {
                    campaign.timezone.clone()
                } else {
                    lead_tz_name.clone().unwrap_or(campaign.timezone.clone())
                }
            }),
            lead_timezone: lead_tz_name,
            earliest_time: Some(first_earliest),
            window_secs: campaign.window_secs,
            slot_start: first_slot,
            state: CallbackState::Scheduled,
            result: None,
            attempts: 0,
            priority,
            notes,
            data: lead.data.clone(),
            created_by: ACTOR.to_string(),
            created_at: created,
            updated_at: created,
            queued_at: None,
            offered_to: None,
            lease_id: None,
            hold_until: None,
            recreated_from: None,
            recreated_as: None,
            expires_at: time::retention_expiry(first_desired, self.retention_days),
        };
        let new = NewCallback {
            callback,
            duplicate_limit: if stays_active { dup_limit } else { None },
            slot_capacity: if stays_active && first_slot.is_some() { slot_capacity } else { None },
            idempotency: None,
            event_action: "created".to_string(),
            event_details: json!({"origin": origin.as_str(), "source": "demo"}),
        };
        Ok(Some(Planned { new, steps: life.steps }))
    }

    /// The steps to a completed result; `false` when this draw cannot produce it.
    fn completed_life(
        &mut self,
        life: &mut Life,
        result: CallbackResult,
        created: Timestamp,
        earliest: Timestamp,
        plan: &DialPlan<'_>,
        campaign: &Campaign,
        reserved_agent: impl Fn(&mut Planner) -> Option<AgentId>,
    ) -> anyhow::Result<bool> {
        let now = self.now;
        let s = SignedDuration::from_secs;
        match result {
            CallbackResult::Agent | CallbackResult::MaxAttempts | CallbackResult::InvalidNumber => {
                let failures = match result {
                    CallbackResult::MaxAttempts => campaign.max_attempts.saturating_sub(1),
                    CallbackResult::Agent if self.rng.random_bool(0.2) => 1,
                    _ => 0,
                };
                life.promote(earliest);
                for _ in 0..failures {
                    let reserve_at = life.t + self.secs(5, 240);
                    life.reserve(reserve_at, reserved_agent(self));
                    life.accept(reserve_at + self.secs(5, 20));
                    let outcome =
                        ["no_answer", "busy", "voicemail"].choose(&mut self.rng).copied().unwrap_or("no_answer");
                    let delay = match outcome {
                        "busy" => campaign.retry_delays_secs.busy,
                        "voicemail" => campaign.retry_delays_secs.voicemail,
                        _ => campaign.retry_delays_secs.no_answer,
                    };
                    let retry_at = life.t + self.secs(20, 60);
                    let Some(next) = earliest_dialable(plan, retry_at + s(i64::from(delay)), retry_at) else {
                        return Ok(false);
                    };
                    life.retry(retry_at, next, outcome);
                    life.promote(next);
                }
                let reserve_at = life.t + self.secs(5, 240);
                life.reserve(reserve_at, reserved_agent(self));
                life.accept(reserve_at + self.secs(5, 20));
                let (outcome, talk) = match result {
                    CallbackResult::Agent => ("connected", self.secs(90, 900)),
                    CallbackResult::InvalidNumber => ("invalid_number", self.secs(10, 40)),
                    _ => (
                        ["no_answer", "busy", "voicemail"].choose(&mut self.rng).copied().unwrap_or("no_answer"),
                        self.secs(20, 60),
                    ),
                };
                let wrap = (result == CallbackResult::Agent)
                    .then(|| *["SALE", "NOINT"].choose(&mut self.rng).unwrap_or(&"SALE"));
                life.finish(life.t + talk, result, outcome, wrap);
            }
            CallbackResult::Expired => {
                if self.rng.random_bool(0.5) {
                    life.promote(earliest);
                }
                let at = earliest + self.secs(3600, 6 * 3600);
                life.expire(at.min(now - s(60)).max(earliest));
            }
            CallbackResult::CancelledByAdmin | CallbackResult::CancelledByCustomer => {
                let by_customer = result == CallbackResult::CancelledByCustomer;
                let reason = if by_customer {
                    *[
                        "customer called in and no longer needs a call",
                        "customer cancelled from the web widget",
                        "customer replied STOP to the reminder SMS",
                    ]
                    .choose(&mut self.rng)
                    .unwrap_or(&"customer cancelled")
                } else {
                    *[
                        "duplicate request",
                        "account closed",
                        "handled by the complaints team",
                        "bulk cancel: campaign paused for maintenance",
                    ]
                    .choose(&mut self.rng)
                    .unwrap_or(&"cancelled by supervisor")
                };
                let due = earliest <= now - s(120);
                let from = if !due { 0 } else { self.rng.random_range(0..10) };
                match from {
                    // From SCHEDULED, before it fell due (also every callback cancelled ahead of time).
                    0..5 => {
                        let until = earliest.min(now);
                        if until <= created + s(10) {
                            return Ok(false);
                        }
                        let at = self.between(created + s(5), until);
                        life.cancel(at, CallbackState::Scheduled, by_customer, reason);
                    }
                    // While waiting in the queue.
                    5..8 => {
                        life.promote(earliest);
                        let at = (earliest + self.secs(60, 45 * 60)).min(now - s(30));
                        life.cancel(at, CallbackState::Queued, by_customer, reason);
                    }
                    // While an agent was being offered it.
                    _ => {
                        life.promote(earliest);
                        let reserve_at = (earliest + self.secs(5, 300)).min(now - s(60));
                        life.reserve(reserve_at, reserved_agent(self));
                        life.cancel(reserve_at + self.secs(3, 15), CallbackState::Routing, by_customer, reason);
                    }
                }
            }
        }
        Ok(life.t <= now - s(60))
    }

    /// A UUIDv7 whose time part is the (back-dated) creation time, so ids still sort by creation;
    /// the random part comes from the seeded RNG.
    fn callback_id(&mut self, created: Timestamp) -> CallbackId {
        let mut random = [0u8; 10];
        self.rng.fill(&mut random);
        let millis = u64::try_from(created.as_millisecond()).unwrap_or(0);
        CallbackId(uuid::Builder::from_unix_timestamp_millis(millis, &random).into_uuid())
    }
}

/// The steps of one callback's life, built in time order.
struct Life {
    steps: Vec<Step>,
    /// The instant of the last step.
    t: Timestamp,
    attempts: u32,
}

impl Life {
    fn push(
        &mut self,
        at: Timestamp,
        action: Action,
        expect: CallbackState,
        event_action: &'static str,
        update: CallbackUpdate,
        details: serde_json::Value,
    ) {
        self.t = at;
        self.steps.push(Step { action, expect, at, update, event_action, details });
    }

    fn promote(&mut self, at: Timestamp) {
        self.push(at, Action::Promote, CallbackState::Scheduled, "promoted", CallbackUpdate::default(), json!({}));
    }

    fn reserve(&mut self, at: Timestamp, agent: Option<AgentId>) {
        self.push(
            at,
            Action::Reserve,
            CallbackState::Queued,
            "reserved",
            CallbackUpdate::default(),
            json!({"agent_id": agent}),
        );
    }

    fn release(&mut self, at: Timestamp, reason: &str) {
        self.push(
            at,
            Action::Release,
            CallbackState::Routing,
            "released",
            CallbackUpdate::default(),
            json!({"reason": reason}),
        );
    }

    fn accept(&mut self, at: Timestamp) {
        self.attempts += 1;
        // The attempt counts from the moment the call is connected to an agent.
        let update = CallbackUpdate { increment_attempts: true, ..CallbackUpdate::default() };
        self.push(at, Action::Accept, CallbackState::Routing, "accepted", update, json!({"attempt": self.attempts}));
    }

    fn retry(&mut self, at: Timestamp, next_earliest: Timestamp, outcome: &str) {
        let update = CallbackUpdate { earliest_time: Some(Some(next_earliest)), ..CallbackUpdate::default() };
        self.push(
            at,
            Action::Retry,
            CallbackState::Processing,
            "retried",
            update,
            json!({"outcome": outcome, "retry_at": next_earliest}),
        );
    }

    fn finish(&mut self, at: Timestamp, result: CallbackResult, outcome: &str, wrap_code: Option<&str>) {
        self.push(
            at,
            Action::Finish(result),
            CallbackState::Processing,
            "completed",
            CallbackUpdate::default(),
            json!({"outcome": outcome, "wrap_code": wrap_code}),
        );
    }

    fn cancel(&mut self, at: Timestamp, from: CallbackState, by_customer: bool, reason: &str) {
        self.push(
            at,
            Action::Cancel { by_customer },
            from,
            "cancelled",
            CallbackUpdate::default(),
            json!({"reason": reason}),
        );
    }

    fn expire(&mut self, at: Timestamp) {
        let from = if self.steps.is_empty() { CallbackState::Scheduled } else { CallbackState::Queued };
        self.push(
            at,
            Action::Expire,
            from,
            "expired",
            CallbackUpdate::default(),
            json!({"reason": "no agent could take it in time"}),
        );
    }
}

pub(super) struct Loaded {
    pub(super) callbacks: Vec<Callback>,
    pub(super) skipped: usize,
}

/// Inserts in batches, then drives every created callback through its steps, many at a time.
pub(super) async fn insert_and_drive(store: &dyn Store, planned: Vec<Planned>) -> anyhow::Result<Loaded> {
    let mut skipped = 0;
    let mut created: Vec<(Callback, Vec<Step>)> = Vec::with_capacity(planned.len());
    let mut planned = planned.into_iter().peekable();
    while planned.peek().is_some() {
        let batch: Vec<Planned> = planned.by_ref().take(CALLBACK_BATCH).collect();
        let (news, steps): (Vec<NewCallback>, Vec<Vec<Step>>) = batch.into_iter().map(|p| (p.new, p.steps)).unzip();
        let outcomes = store.create_callbacks(news).await.context("cannot insert demo callbacks")?;
        for (outcome, steps) in outcomes.into_iter().zip(steps) {
            match outcome {
                Ok(o) => created.push((o.into_callback(), steps)),
                Err(e) => {
                    tracing::debug!(error = %e, "demo callback refused");
                    skipped += 1;
                }
            }
        }
    }

    let results: Vec<anyhow::Result<Callback>> = futures::stream::iter(created)
        .map(|(callback, steps)| drive(store, callback, steps))
        .buffer_unordered(CONCURRENT_TRANSITIONS)
        .collect()
        .await;
    let callbacks = results.into_iter().collect::<anyhow::Result<Vec<_>>>()?;
    Ok(Loaded { callbacks, skipped })
}

async fn drive(store: &dyn Store, mut callback: Callback, steps: Vec<Step>) -> anyhow::Result<Callback> {
    for step in steps {
        let id = callback.id;
        callback = store
            .transition_callback(TransitionRequest {
                id,
                action: step.action,
                expect: vec![step.expect],
                update: step.update,
                holder: None,
                presence: None,
                actor: ACTOR.to_string(),
                at: step.at,
                event_action: step.event_action.to_string(),
                event_details: step.details,
            })
            .await
            .with_context(|| format!("demo callback {id}: {:?} from {} refused", step.action, step.expect))?;
    }
    Ok(callback)
}

const NOTES: &[&str] = &[
    "Customer asked for a call after lunch.",
    "Wants to discuss the latest bill.",
    "Prefers to be called on mobile.",
    "Call back about the missed delivery.",
    "Renewal quote requested.",
    "Spoke to partner; ask for the account holder.",
    "Hard of hearing: speak slowly and clearly.",
    "Follow up on the open complaint.",
    "Asked about switching plans.",
    "Payment arrangement to confirm.",
    "Requested a callback from the same agent.",
    "Meter reading query.",
];
