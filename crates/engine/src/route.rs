//! Routing (agent-first): free agents, longest-ready first, each take the best `QUEUED` callback
//! they may take; the pairs are reserved in one store transaction.
//!
//! One round:
//! 1. the free agents (ready, holding nothing), ready longest first;
//! 2. the sources they may draw from, each read in dispatch order and only as deep as it can be
//!    drawn from: the queues they serve (not paused, campaign running), each agent's own agent
//!    callbacks, and the escalated agent callbacks of campaigns whose grace period has passed;
//! 3. greedy pairing: each agent, in order, takes the callback with the smallest
//!    `dispatch_key` among the untaken heads it `may_take`;
//! 4. one `reserve_for_agents`, which re-checks everything inside its transaction (the callback is
//!    still `QUEUED`, the agent still free, the queue not paused, the number dialable now).
//!
//! Rounds repeat while a reservation was skipped (the world moved between the reads and the
//! write) or a source may hold more than was read, and free agents remain (bounded).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use jiff::{SignedDuration, Timestamp};
use rebound_domain::dispatch;
use rebound_domain::model::{Agent, AgentId, Callback, CallbackId, Campaign, CampaignId, Queue, QueueId};
use rebound_store::{DialCheck, QueuedSource, ReservePair, ReserveRequest};

use crate::{Engine, EngineResult};

/// The most rounds one routing call makes.
const MAX_ROUNDS: usize = 8;
/// How many of an agent's own callbacks are read per round (more than one, so that a head the
/// agent may not take now — its queue paused — does not hide the next one).
const OWN_HEADS: u32 = 4;

/// What routing did, and what the loop needs to plan its next wake-up.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct RouteReport {
    pub offered: u64,
    /// When the next waiting agent callback escalates, if agents are free to take it then.
    pub next_escalation: Option<Timestamp>,
}

/// Where heads were read from (a hashable [`QueuedSource`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum SourceKey {
    Queue(QueueId),
    Own(AgentId),
    Escalated(CampaignId),
}

/// The heads of one source in dispatch order, and how far the front is taken.
struct Heads {
    callbacks: Vec<Callback>,
    /// Everything before it has been taken this round.
    front: usize,
    /// The read returned as many as asked: the source may hold more.
    full: bool,
}

/// The configuration routing reads once per call.
struct Config {
    campaigns: Arc<HashMap<CampaignId, Campaign>>,
    queues: HashMap<QueueId, Queue>,
}

impl Config {
    fn running(&self, campaign_id: CampaignId) -> bool {
        self.campaigns.get(&campaign_id).is_some_and(|c| c.running)
    }

    /// A queue routing may draw from: it exists, is not paused, and its campaign is running.
    fn queue_open(&self, queue_id: QueueId) -> bool {
        self.queues.get(&queue_id).is_some_and(|q| !q.paused && self.running(q.campaign_id))
    }

    /// Whether `agent` may be offered `callback` now (beyond what its source already ensures).
    fn may_offer(&self, agent: &Agent, callback: &Callback, now: Timestamp) -> bool {
        let Some(campaign) = self.campaigns.get(&callback.campaign_id).filter(|c| c.running) else {
            return false;
        };
        // A callback of a paused queue waits, whatever its type.
        if callback.queue_id.is_some_and(|q| self.queues.get(&q).is_some_and(|q| q.paused)) {
            return false;
        }
        dispatch::may_take(agent, callback, campaign, now)
    }

    /// The store's dial check: the rule of `rebound_domain::dispatch` with the callback's campaign.
    fn dial_check(&self) -> DialCheck {
        let campaigns = self.campaigns.clone();
        Arc::new(move |callback: &Callback, at: Timestamp| match campaigns.get(&callback.campaign_id) {
            Some(campaign) => dispatch::dialable_now(campaign, callback, at),
            None => Err(None),
        })
    }
}

/// The outcome of one round.
struct Round {
    proposed: usize,
    reserved: usize,
    more_in_sources: bool,
}

impl Engine {
    /// Routes at `now` until no free agent can take anything more.
    pub(crate) async fn route(&self, now: Timestamp) -> EngineResult<RouteReport> {
        let mut agents = self.store.free_agents().await?;
        if agents.is_empty() {
            return Ok(RouteReport::default());
        }
        let config = Config {
            campaigns: Arc::new(self.store.list_campaigns().await?.into_iter().map(|c| (c.id, c)).collect()),
            queues: self.store.list_queues().await?.into_iter().map(|q| (q.id, q)).collect(),
        };
        let mut offered = 0u64;
        let mut free_left = true;
        for round_number in 1..=MAX_ROUNDS {
            let round = self.route_round(&config, &agents, now).await?;
            offered += round.reserved as u64;
            free_left = agents.len() > round.reserved;
            let skipped = round.reserved < round.proposed;
            let again = round.proposed > 0 && (skipped || round.more_in_sources) && round_number < MAX_ROUNDS;
            if !again || !free_left {
                break;
            }
            agents = self.store.free_agents().await?;
            if agents.is_empty() {
                free_left = false;
                break;
            }
        }
        // Only free agents can take an escalated callback: otherwise a presence change wakes routing.
        let next_escalation = if free_left { self.next_escalation(&config, now).await? } else { None };
        Ok(RouteReport { offered, next_escalation })
    }

    async fn route_round(&self, config: &Config, agents: &[Agent], now: Timestamp) -> EngineResult<Round> {
        let oldest_agent_callbacks = self.store.oldest_queued_agent_callbacks().await?;
        let wanted = sources_wanted(config, agents, &oldest_agent_callbacks, now);
        let reads = wanted.iter().map(|(_, source, limit)| self.store.queued_heads(*source, *limit));
        let results = futures::future::try_join_all(reads).await?;
        let mut sources: HashMap<SourceKey, Heads> = wanted
            .iter()
            .zip(results)
            .map(|((key, _, limit), callbacks)| {
                let full = callbacks.len() >= *limit as usize;
                (*key, Heads { callbacks, front: 0, full })
            })
            .collect();
        let more_in_sources = sources.values().any(|h| h.full);

        let pairs = pair_greedily(config, agents, &mut sources, now);
        if pairs.is_empty() {
            return Ok(Round { proposed: 0, reserved: 0, more_in_sources });
        }
        let hold_until = now.saturating_add(self.config.offer_timeout).unwrap_or(now);
        let request = ReserveRequest {
            pairs: pairs.clone(),
            hold_until,
            dial_check: config.dial_check(),
            actor: self.config.actor.clone(),
            at: now,
        };
        let reserved = self.store.reserve_for_agents(request).await?;
        self.metrics.offers.inc_by(reserved.len() as u64);
        for callback in &reserved {
            tracing::debug!(callback = %callback.id, agent = ?callback.offered_to, "offered");
        }
        Ok(Round { proposed: pairs.len(), reserved: reserved.len(), more_in_sources })
    }

    /// The next instant a waiting agent callback of a running campaign escalates (after `now`).
    async fn next_escalation(&self, config: &Config, now: Timestamp) -> EngineResult<Option<Timestamp>> {
        let oldest = self.store.oldest_queued_agent_callbacks().await?;
        Ok(oldest
            .into_iter()
            .filter_map(|(campaign_id, queued_at)| {
                let campaign = config.campaigns.get(&campaign_id).filter(|c| c.running)?;
                queued_at.saturating_add(grace(campaign)).ok()
            })
            .filter(|at| *at > now)
            .min())
    }
}

fn grace(campaign: &Campaign) -> SignedDuration {
    SignedDuration::from_mins(i64::from(campaign.agent_grace_minutes))
}

/// Agent callbacks of `campaign` that entered `QUEUED` at or before this have waited out the grace.
fn escalation_cutoff(campaign: &Campaign, now: Timestamp) -> Timestamp {
    now.saturating_sub(grace(campaign)).unwrap_or(now)
}

/// The sources worth reading and how deep: a source is read only as far as the free agents who may
/// draw from it could take (each agent takes one callback per round).
fn sources_wanted(
    config: &Config,
    agents: &[Agent],
    oldest_agent_callbacks: &[(CampaignId, Timestamp)],
    now: Timestamp,
) -> Vec<(SourceKey, QueuedSource, u32)> {
    let mut wanted: Vec<(SourceKey, QueuedSource, u32)> = Vec::new();
    let mut takers: HashMap<QueueId, u32> = HashMap::new();
    for agent in agents {
        for queue_id in &agent.queues {
            if config.queue_open(*queue_id) {
                *takers.entry(*queue_id).or_default() += 1;
            }
        }
    }
    let mut queues: Vec<_> = takers.into_iter().collect();
    // A stable order keeps the reads (and logs) reproducible.
    queues.sort_unstable();
    wanted.extend(queues.into_iter().map(|(q, n)| (SourceKey::Queue(q), QueuedSource::Queue(q), n)));
    // Agent callbacks are read only when some are waiting at all.
    if !oldest_agent_callbacks.is_empty() {
        wanted.extend(agents.iter().map(|a| (SourceKey::Own(a.id), QueuedSource::AgentOwn(a.id), OWN_HEADS)));
    }
    for (campaign_id, oldest) in oldest_agent_callbacks {
        let Some(campaign) = config.campaigns.get(campaign_id).filter(|c| c.running) else {
            continue;
        };
        let queued_before = escalation_cutoff(campaign, now);
        if *oldest > queued_before {
            continue;
        }
        let takers = agents
            .iter()
            .filter(|a| campaign.allow_unassigned_agent_callbacks || a.campaigns.contains(campaign_id))
            .count();
        if takers > 0 {
            let source = QueuedSource::Escalated { campaign_id: *campaign_id, queued_before };
            wanted.push((SourceKey::Escalated(*campaign_id), source, u32::try_from(takers).unwrap_or(u32::MAX)));
        }
    }
    wanted
}

type DispatchKey = (std::cmp::Reverse<i32>, Option<Timestamp>, CallbackId);

/// Each agent, longest-ready first, takes the best untaken callback it may take.
fn pair_greedily(
    config: &Config,
    agents: &[Agent],
    sources: &mut HashMap<SourceKey, Heads>,
    now: Timestamp,
) -> Vec<ReservePair> {
    let escalated: Vec<SourceKey> = sources.keys().filter(|k| matches!(k, SourceKey::Escalated(_))).copied().collect();
    let mut taken: HashSet<CallbackId> = HashSet::new();
    let mut pairs = Vec::new();
    for agent in agents {
        let keys = agent
            .queues
            .iter()
            .map(|q| SourceKey::Queue(*q))
            .chain(std::iter::once(SourceKey::Own(agent.id)))
            .chain(escalated.iter().copied());
        let mut best: Option<(DispatchKey, CallbackId)> = None;
        for key in keys {
            let Some(heads) = sources.get_mut(&key) else { continue };
            // The front only moves past taken callbacks: one another agent may not take can still
            // go to this one.
            while heads.callbacks.get(heads.front).is_some_and(|c| taken.contains(&c.id)) {
                heads.front += 1;
            }
            let candidate = heads.callbacks[heads.front..]
                .iter()
                .find(|c| !taken.contains(&c.id) && config.may_offer(agent, c, now))
                .map(|c| (dispatch::dispatch_key(c), c.id));
            if let Some(candidate) = candidate
                && best.is_none_or(|b| candidate.0 < b.0)
            {
                best = Some(candidate);
            }
        }
        if let Some((_, callback_id)) = best {
            taken.insert(callback_id);
            pairs.push(ReservePair { callback_id, agent_id: agent.id });
        }
    }
    pairs
}
