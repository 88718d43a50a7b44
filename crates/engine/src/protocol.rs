//! The agent and dialler protocol: presence, offers, accept, reject, outcomes, claims; and the
//! queue position and estimated wait shown on waiting callbacks.
//!
//! Every call is one store transaction (a connected outcome on an offer not yet accepted is two
//! transitions in one transaction). The holder named by the caller, or else the one read just
//! before, is checked inside that transaction, so a read that went stale is refused rather than
//! applied to a callback that changed hands.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use jiff::{SignedDuration, Timestamp};
use rebound_domain::dispatch::{self, Outcome, OutcomeStep};
use rebound_domain::model::{
    Agent, AgentId, Callback, CallbackId, CallbackType, Campaign, CampaignId, Direction, Presence, QueueId,
};
use rebound_domain::state::{Action, CallbackState};
use rebound_domain::time;
use rebound_store::{CallbackUpdate, ClaimRequest, Holder, PresenceChange, StoreError, TransitionRequest};
use serde_json::{Value, json};

use crate::metrics::ReleaseReason;
use crate::{Engine, EngineError, EngineResult};

/// How many recent handle times per queue the estimated wait averages.
const HANDLE_TIMES_KEPT: usize = 50;

/// An attempt's outcome as reported to `POST /callbacks/{id}/outcome` or in a dialler's batch.
#[derive(Debug, Clone, PartialEq)]
pub struct OutcomeReport {
    pub outcome: Outcome,
    /// Who reports: must hold the callback when given.
    pub holder: Option<Holder>,
    pub wrap_code: Option<String>,
    pub notes: Option<String>,
}

/// Where a waiting callback stands.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct WaitEstimate {
    /// 1 = next in its queue (or for its agent).
    pub position: u64,
    /// `None` when no agent is ready (the wait depends on when one is).
    pub estimated_wait_secs: Option<u64>,
}

/// Recent handle times (accept → outcome), per queue, for the estimated wait.
#[derive(Debug, Default)]
pub(crate) struct HandleTimes {
    /// Seconds, newest last; keyed by the callback's queue (`None`: agent callbacks without one).
    recent: Mutex<HashMap<Option<QueueId>, VecDeque<f64>>>,
}

impl HandleTimes {
    fn record(&self, queue: Option<QueueId>, seconds: f64) {
        let mut recent = self.recent.lock().unwrap_or_else(|e| e.into_inner());
        let times = recent.entry(queue).or_default();
        if times.len() == HANDLE_TIMES_KEPT {
            times.pop_front();
        }
        times.push_back(seconds);
    }

    fn average(&self, queue: Option<QueueId>) -> Option<f64> {
        let recent = self.recent.lock().unwrap_or_else(|e| e.into_inner());
        let times = recent.get(&queue).filter(|t| !t.is_empty())?;
        Some(times.iter().sum::<f64>() / times.len() as f64)
    }
}

/// The holder a callback has now: its agent or its dialler lease.
fn current_holder(callback: &Callback) -> Option<Holder> {
    match (&callback.offered_to, &callback.lease_id) {
        (Some(agent), _) => Some(Holder::Agent(*agent)),
        (None, Some(lease)) => Some(Holder::Lease(lease.clone())),
        (None, None) => None,
    }
}

fn holder_details(holder: &Option<Holder>) -> Value {
    match holder {
        Some(Holder::Agent(agent)) => json!({"agent_id": agent}),
        Some(Holder::Lease(lease)) => json!({"lease_id": lease}),
        None => json!({}),
    }
}

/// The earliest dialable time of a retry desired at `desired`, under the campaign's hours and the
/// lead's calling hours (`None` while the campaign is stopped: it waits for the campaign to run).
fn retry_earliest(campaign: &Campaign, callback: &Callback, desired: Timestamp, now: Timestamp) -> Option<Timestamp> {
    dispatch::callback_earliest(campaign, callback.lead_timezone.as_deref(), desired, now)
}

/// The transitions one outcome makes, and what to do once they are committed.
struct OutcomePlan {
    requests: Vec<TransitionRequest>,
    outcome: Outcome,
    /// A retry's new earliest time (to wake the loop).
    retry_earliest: Option<Option<Timestamp>>,
    /// The agent who goes back to ready.
    agent: Option<AgentId>,
    /// (queue, seconds from accept to outcome) for the estimated wait.
    handle_time: Option<(Option<QueueId>, f64)>,
}

impl Engine {
    /// Sets presence; leaving `ready` withdraws the agent's open offer. Wakes routing.
    pub async fn set_presence(&self, agent_id: AgentId, presence: Presence, actor: &str) -> EngineResult<Agent> {
        if presence == Presence::Busy {
            return Err(EngineError::Invalid {
                field: "presence",
                message: "busy is set by accepting an offer; use ready, not_ready or offline".into(),
            });
        }
        let (agent, withdrawn) = self.store.set_presence(agent_id, presence, actor, self.clock.now()).await?;
        if let Some(callback) = withdrawn {
            self.metrics.count_release(ReleaseReason::Withdrawn);
            tracing::debug!(callback = %callback.id, agent = agent_id, "offer withdrawn");
        }
        self.notify_routing();
        Ok(agent)
    }

    /// The callback offered to (or being handled by) the agent.
    pub async fn offer(&self, agent_id: AgentId) -> EngineResult<Option<Callback>> {
        let offer = self.store.agent_offer(agent_id).await?;
        if offer.is_none() && self.store.get_agent(agent_id).await?.is_none() {
            return Err(StoreError::not_found(format!("agent {agent_id}")).into());
        }
        Ok(offer)
    }

    /// The offered agent accepts: `ROUTING → PROCESSING`, agent `busy`. `agent_id` `None` = whoever
    /// it is offered to.
    pub async fn accept(&self, id: CallbackId, agent_id: Option<AgentId>, actor: &str) -> EngineResult<Callback> {
        let callback = self.callback(id).await?;
        let holder = agent_id.map(Holder::Agent).or_else(|| current_holder(&callback));
        let agent = match &holder {
            Some(Holder::Agent(agent)) => Some(*agent),
            _ => None,
        };
        let request = TransitionRequest {
            id,
            action: Action::Accept,
            expect: vec![CallbackState::Routing],
            update: CallbackUpdate::default(),
            event_details: holder_details(&holder),
            holder,
            presence: agent.map(|agent_id| PresenceChange { agent_id, presence: Presence::Busy }),
            actor: actor.to_string(),
            at: self.clock.now(),
            event_action: "accepted".into(),
        };
        Ok(self.store.transition_callback(request).await?)
    }

    /// The offered agent rejects: `ROUTING → QUEUED` (not an attempt); the agent stays ready but goes
    /// to the back of the ready line.
    pub async fn reject(&self, id: CallbackId, agent_id: Option<AgentId>, actor: &str) -> EngineResult<Callback> {
        let callback = self.callback(id).await?;
        let agent = agent_id.or(callback.offered_to);
        if agent.is_none() && callback.state == CallbackState::Routing {
            return Err(EngineError::Conflict(format!(
                "callback {id} is leased to a dialler, not offered to an agent"
            )));
        }
        let holder = agent.map(Holder::Agent);
        let request = TransitionRequest {
            id,
            action: Action::Release,
            expect: vec![CallbackState::Routing],
            update: CallbackUpdate::default(),
            event_details: holder_details(&holder),
            holder,
            // Ready again: `ready_since` becomes now, so the others waiting get the next offer.
            presence: agent.map(|agent_id| PresenceChange { agent_id, presence: Presence::Ready }),
            actor: actor.to_string(),
            at: self.clock.now(),
            event_action: "rejected".into(),
        };
        let released = self.store.transition_callback(request).await?;
        self.metrics.count_release(ReleaseReason::Rejected);
        self.notify_routing();
        Ok(released)
    }

    /// An outcome for a callback in `PROCESSING` (or `ROUTING`: a dialler's attempt, or an agent's
    /// offer reported straight away): finish or retry per `rebound_domain::dispatch::outcome_step`;
    /// the handling agent goes back to `ready`.
    pub async fn report_outcome(&self, id: CallbackId, report: OutcomeReport, actor: &str) -> EngineResult<Callback> {
        let mut results = self.report_outcomes(vec![(id, report)], actor).await?;
        results.pop().unwrap_or_else(|| Err(StoreError::Backend("no result for the outcome".into()).into()))
    }

    /// Many outcomes in one store transaction (diallers report in batches); each succeeds or fails
    /// on its own.
    pub async fn report_outcomes(
        &self,
        reports: Vec<(CallbackId, OutcomeReport)>,
        actor: &str,
    ) -> EngineResult<Vec<EngineResult<Callback>>> {
        let now = self.clock.now();
        let ids: Vec<CallbackId> = reports.iter().map(|(id, _)| *id).collect();
        let callbacks: Vec<EngineResult<Callback>> = self
            .store
            .get_callbacks(ids.clone())
            .await?
            .into_iter()
            .zip(ids)
            .map(|(found, id)| found.ok_or_else(|| StoreError::not_found(format!("callback {id}")).into()))
            .collect();
        let campaigns = self.campaigns_of(callbacks.iter().filter_map(|c| c.as_ref().ok())).await?;

        // Plan each outcome; the requests of all go to the store in one batch.
        let mut plans: Vec<EngineResult<(OutcomePlan, std::ops::Range<usize>)>> = Vec::with_capacity(reports.len());
        let mut requests = Vec::new();
        for ((_, report), callback) in reports.into_iter().zip(callbacks) {
            let plan = callback.and_then(|callback| {
                let campaign = campaigns.get(&callback.campaign_id).ok_or_else(|| {
                    EngineError::from(StoreError::not_found(format!("campaign {}", callback.campaign_id)))
                })?;
                Ok(self.plan_outcome(&callback, campaign, report, actor, now))
            });
            plans.push(plan.map(|mut plan| {
                let range = requests.len()..requests.len() + plan.requests.len();
                requests.append(&mut plan.requests);
                (plan, range)
            }));
        }
        let mut results: Vec<Option<Result<Callback, StoreError>>> = if requests.is_empty() {
            Vec::new()
        } else {
            self.store.transition_callbacks(requests).await?.into_iter().map(Some).collect()
        };

        let mut answers = Vec::with_capacity(plans.len());
        let mut wake_routing = false;
        for plan in plans {
            let answer = plan.and_then(|(plan, range)| {
                // Every transition of the outcome must have been made; the first refusal is the answer.
                let mut last = None;
                for slot in &mut results[range] {
                    match slot.take() {
                        Some(Ok(callback)) => last = Some(callback),
                        Some(Err(e)) => return Err(EngineError::from(e)),
                        None => return Err(StoreError::Backend("the store answered fewer results".into()).into()),
                    }
                }
                let callback =
                    last.ok_or_else(|| EngineError::from(StoreError::Backend("no transition made".into())))?;
                self.outcome_committed(&plan);
                wake_routing |= plan.agent.is_some();
                Ok(callback)
            });
            answers.push(answer);
        }
        if wake_routing {
            self.notify_routing();
        }
        Ok(answers)
    }

    /// Leases up to `max` due queue callbacks of an outbound campaign to a dialler for `lease_secs`;
    /// all share one new lease id.
    pub async fn claim(
        &self,
        campaign_id: CampaignId,
        max: u32,
        lease_secs: u32,
        actor: &str,
    ) -> EngineResult<Vec<Callback>> {
        if max == 0 || max > self.config.max_claim {
            return Err(EngineError::Invalid {
                field: "max",
                message: format!("max must be between 1 and {}", self.config.max_claim),
            });
        }
        if lease_secs == 0 || lease_secs > self.config.max_lease_secs {
            return Err(EngineError::Invalid {
                field: "lease_secs",
                message: format!("lease_secs must be between 1 and {}", self.config.max_lease_secs),
            });
        }
        let Some(campaign) = self.store.get_campaign(campaign_id).await? else {
            return Err(EngineError::Invalid { field: "campaign_id", message: format!("no campaign {campaign_id}") });
        };
        if campaign.direction != Direction::Outbound {
            return Err(EngineError::Invalid {
                field: "campaign_id",
                message: format!("campaign {campaign_id} is inbound; callbacks are dialled by outbound campaigns"),
            });
        }
        let now = self.clock.now();
        let request = ClaimRequest {
            campaign_id,
            max,
            lease_id: uuid::Uuid::now_v7().to_string(),
            hold_until: now.saturating_add(SignedDuration::from_secs(i64::from(lease_secs))).unwrap_or(now),
            dial_check: std::sync::Arc::new(move |callback: &Callback, at: Timestamp| {
                dispatch::dialable_now(&campaign, callback, at)
            }),
            actor: actor.to_string(),
            at: now,
        };
        let leased = self.store.claim_for_dialer(request).await?;
        self.metrics.leases.inc_by(leased.len() as u64);
        Ok(leased)
    }

    /// Position and estimated wait of a `QUEUED` or `ROUTING` callback (`None` in other states;
    /// a `ROUTING` one is position 0 — being offered now — with no wait).
    pub async fn wait_estimate(&self, callback: &Callback) -> EngineResult<Option<WaitEstimate>> {
        match callback.state {
            CallbackState::Routing => Ok(Some(WaitEstimate { position: 0, estimated_wait_secs: Some(0) })),
            CallbackState::Queued => {
                let Some(position) = self.store.queue_position(callback.id).await? else {
                    return Ok(None);
                };
                let agents = self.store.list_agents().await?;
                let ready = agents.iter().filter(|a| a.presence == Presence::Ready);
                let serving = match callback.kind {
                    CallbackType::Queue => {
                        ready.filter(|a| callback.queue_id.is_some_and(|q| a.queues.contains(&q))).count()
                    }
                    CallbackType::Agent => ready.filter(|a| Some(a.id) == callback.agent_id).count(),
                };
                let average = self.handle_times.average(callback.queue_id).unwrap_or(self.config.default_handle_secs);
                let agents = u32::try_from(serving).unwrap_or(u32::MAX);
                Ok(Some(WaitEstimate {
                    position,
                    estimated_wait_secs: dispatch::estimated_wait_secs(position, average, agents),
                }))
            }
            _ => Ok(None),
        }
    }

    async fn callback(&self, id: CallbackId) -> EngineResult<Callback> {
        self.store.get_callback(id).await?.ok_or_else(|| StoreError::not_found(format!("callback {id}")).into())
    }

    /// The campaigns of `callbacks`, each read once.
    async fn campaigns_of<'a>(
        &self,
        callbacks: impl Iterator<Item = &'a Callback>,
    ) -> EngineResult<HashMap<CampaignId, Campaign>> {
        let mut campaigns = HashMap::new();
        for callback in callbacks {
            if !campaigns.contains_key(&callback.campaign_id)
                && let Some(campaign) = self.store.get_campaign(callback.campaign_id).await?
            {
                campaigns.insert(campaign.id, campaign);
            }
        }
        Ok(campaigns)
    }

    /// The transitions an outcome makes, per `outcome_step`; every outcome counts an attempt.
    fn plan_outcome(
        &self,
        callback: &Callback,
        campaign: &Campaign,
        report: OutcomeReport,
        actor: &str,
        now: Timestamp,
    ) -> OutcomePlan {
        let holder = report.holder.or_else(|| current_holder(callback));
        let agent = match &holder {
            Some(Holder::Agent(agent)) => Some(*agent),
            _ => None,
        };
        let attempt = callback.attempts.saturating_add(1);
        let mut update = CallbackUpdate {
            increment_attempts: true,
            wrap_code: report.wrap_code.map(Some),
            notes: report.notes.map(Some),
            ..CallbackUpdate::default()
        };
        let mut details = holder_details(&holder);
        details["outcome"] = json!(report.outcome.as_str());
        details["attempt"] = json!(attempt);
        let (action, retry) = match dispatch::outcome_step(campaign, callback.attempts, report.outcome, now) {
            OutcomeStep::Finish(result) => (Action::Finish(result), None),
            OutcomeStep::Retry { desired_time } => {
                let earliest = retry_earliest(campaign, callback, desired_time, now);
                update.desired_time = Some(desired_time);
                update.earliest_time = Some(earliest);
                update.slot_start = Some(None);
                update.expires_at = Some(time::retention_expiry(desired_time, self.config.retention_days));
                details["next_desired_time"] = json!(desired_time.to_string());
                (Action::Retry, Some(earliest))
            }
        };

        // From ROUTING (a dialler reporting a finished attempt, or an agent reporting an offer
        // straight away) the outcome is one step: the call has already happened.
        let requests = vec![TransitionRequest {
            id: callback.id,
            action,
            expect: vec![CallbackState::Routing, CallbackState::Processing],
            update,
            holder,
            presence: agent.map(|agent_id| PresenceChange { agent_id, presence: Presence::Ready }),
            actor: actor.to_string(),
            at: now,
            event_action: "outcome".into(),
            event_details: details,
        }];
        let handle_time = (callback.state == CallbackState::Processing)
            .then(|| (callback.queue_id, now.duration_since(callback.updated_at).as_secs_f64().max(0.0)));
        OutcomePlan { requests, outcome: report.outcome, retry_earliest: retry, agent, handle_time }
    }

    fn outcome_committed(&self, plan: &OutcomePlan) {
        self.metrics.count_outcome(plan.outcome);
        if let Some(earliest) = plan.retry_earliest {
            self.notify_due(earliest);
        }
        if let Some((queue, seconds)) = plan.handle_time {
            self.handle_times.record(queue, seconds);
        }
    }
}
