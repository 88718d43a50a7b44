//! Campaign scope and agent binding: the one place that decides which callbacks, configuration
//! objects and agents a principal may see and act on. Roles are checked before (the handlers ask
//! `Caller::require`, the table is `rebound_domain::access::Role::may`); the services call this
//! module for everything that depends on *which* object is touched.
//!
//! A scope (`rebound_domain::access::Scope`) lists campaigns `C` and queues `Q`; no scope = all.
//! - **Callbacks**: in scope when their campaign is in `C` or their queue is in `Q`
//!   (`Scope::allows_callback`). A single read of one outside answers 404, as if it did not exist
//!   ([`check_callback_visible`]); a change to one answers 404 the same way; creating or moving a
//!   callback *into* a campaign/queue outside answers 403 `out_of_scope` ([`check_callback_target`]).
//! - **Lists of callbacks** (list, export, bulk cancel by range, an agent's list): the store filter
//!   ANDs its fields, and the scope is an OR, so [`narrow`] splits a read into at most two disjoint
//!   filters whose union is exactly "the filter ∩ the scope": (A) the filter with `campaign_ids`
//!   narrowed to `C`, and (B) the filter with `queue_ids` narrowed to the scope's queues whose
//!   campaign is *not* in `C` (a callback's queue always belongs to its campaign, so A and B never
//!   overlap). A single part is read as usual; two are merged in the store's sort order
//!   ([`merge_pages`], [`compare_callbacks`]), so totals and paging stay exact. Small reads (search,
//!   at most 1,000 rows) are read whole and filtered after the read; events (SSE) look up each
//!   event's callback.
//! - **Configuration**: visible campaigns are `C` plus the campaigns of `Q`; visible queues are `Q`
//!   plus the queues of `C`; a list is visible when a visible campaign dials it or collects
//!   auto-callbacks into it; a lead when its list is; an agent when it serves a visible campaign or
//!   queue; a wrap code when its campaign is visible ([`Visible`]). Others are left out of lists and
//!   answer 404. Configuration writes and user/token management are for admins, and admins are
//!   never scoped (`service::users::check_scope` refuses a scope for role admin, for users and
//!   tokens alike), so they always see everything they change.
//! - **Agents** (a principal with an `agent_id`: users of role `agent`): act only as their own agent
//!   ([`check_acts_for`]: 403 otherwise), accept/reject/report only for themselves, and never as a
//!   dialler. An agent-role *token* carries no agent: it is an integration (a CTI bridge) acting for
//!   any agent, limited by its scope.

use std::cmp::Ordering;
use std::collections::HashSet;

use rebound_domain::access::{Principal, Scope};
use rebound_domain::model::*;
use rebound_store::{CallbackFilter, Page, PageRequest, Sort, SortField};

use crate::dto::Paged;
use crate::error::{ApiError, ApiResult};
use crate::service::ConfigSnapshot;

/// The deepest row a merged (two-part) page may reach: reading a page merges the first
/// `offset + page_size` rows of each part, so very deep pages of a mixed scope are refused rather
/// than read whole. (Narrow the filter, or page an export instead.)
pub const MAX_MERGED_DEPTH: u64 = 20_000;

/// 404 unless the principal's scope covers the callback: an out-of-scope callback does not exist
/// for this caller.
pub fn check_callback_visible(principal: &Principal, callback: &Callback) -> ApiResult<()> {
    if principal.sees_callback(callback.campaign_id, callback.queue_id) {
        Ok(())
    } else {
        Err(ApiError::not_found("callback"))
    }
}

/// 403 `out_of_scope` unless a callback may be created in (or moved to) this campaign and queue.
pub fn check_callback_target(
    principal: &Principal,
    campaign_id: CampaignId,
    queue_id: Option<QueueId>,
) -> ApiResult<()> {
    if principal.sees_callback(campaign_id, queue_id) {
        Ok(())
    } else {
        Err(ApiError::out_of_scope(match queue_id {
            Some(q) => format!("campaign {campaign_id} / queue {q} is outside your scope"),
            None => format!("campaign {campaign_id} is outside your scope"),
        }))
    }
}

/// 403 unless the principal may act as `agent_id`: a principal bound to an agent acts only as it.
pub fn check_acts_for(principal: &Principal, agent_id: AgentId) -> ApiResult<()> {
    match principal.agent_id {
        Some(own) if own != agent_id => Err(ApiError::Forbidden {
            code: "forbidden",
            message: format!("you act as agent {own}, not agent {agent_id}"),
        }),
        _ => Ok(()),
    }
}

/// The agent a request names, for a principal bound to an agent: its own (given or not); another
/// is a 403. Unbound principals keep what they named.
pub fn own_agent(principal: &Principal, named: Option<AgentId>) -> ApiResult<Option<AgentId>> {
    match (principal.agent_id, named) {
        (Some(own), Some(named)) => check_acts_for(principal, named).map(|()| Some(own)),
        (Some(own), None) => Ok(Some(own)),
        (None, named) => Ok(named),
    }
}

/// 403 for principals bound to an agent: diallers' leases are not theirs to take or report.
pub fn require_not_agent_bound(principal: &Principal) -> ApiResult<()> {
    match principal.agent_id {
        Some(own) => Err(ApiError::Forbidden {
            code: "forbidden",
            message: format!("you act as agent {own}; dialler leases are for dialler integrations"),
        }),
        None => Ok(()),
    }
}

/// What a principal's scope lets it see of the configuration (computed once per request).
#[derive(Debug, Clone)]
pub struct Visible {
    scope: Option<Scope>,
    campaigns: HashSet<CampaignId>,
    queues: HashSet<QueueId>,
    lists: HashSet<ListId>,
}

impl Visible {
    pub fn of(principal: &Principal, snapshot: &ConfigSnapshot) -> Visible {
        let Some(scope) = principal.scope.clone() else {
            return Visible { scope: None, campaigns: HashSet::new(), queues: HashSet::new(), lists: HashSet::new() };
        };
        let mut campaigns: HashSet<CampaignId> = scope.campaigns.iter().copied().collect();
        campaigns.extend(scope.queues.iter().filter_map(|q| snapshot.queues.get(q)).map(|q| q.campaign_id));
        let queues = snapshot
            .queues
            .values()
            .filter(|q| scope.allows_queue(q.id, q.campaign_id))
            .map(|q| q.id)
            .chain(scope.queues.iter().copied())
            .collect();
        let lists = snapshot
            .campaigns
            .values()
            .filter(|c| campaigns.contains(&c.id))
            .flat_map(|c| c.lists.iter().copied().chain(c.auto_callback_list_id))
            .collect();
        Visible { scope: Some(scope), campaigns, queues, lists }
    }

    /// Sees everything (no scope).
    pub fn all(&self) -> bool {
        self.scope.is_none()
    }

    pub fn campaign(&self, id: CampaignId) -> bool {
        self.all() || self.campaigns.contains(&id)
    }

    pub fn queue(&self, queue: &Queue) -> bool {
        self.scope.as_ref().is_none_or(|s| s.allows_queue(queue.id, queue.campaign_id))
    }

    pub fn list(&self, id: ListId) -> bool {
        self.all() || self.lists.contains(&id)
    }

    pub fn lead(&self, lead: &Lead) -> bool {
        self.list(lead.list_id)
    }

    pub fn agent(&self, agent: &Agent) -> bool {
        self.all()
            || agent.campaigns.iter().any(|c| self.campaigns.contains(c))
            || agent.queues.iter().any(|q| self.queues.contains(q))
    }

    pub fn wrap_code(&self, wrap: &WrapCode) -> bool {
        self.campaign(wrap.campaign_id)
    }

    /// The visible lists (meaningful only when scoped), in id order.
    pub fn lists(&self) -> Vec<ListId> {
        let mut lists: Vec<ListId> = self.lists.iter().copied().collect();
        lists.sort_unstable();
        lists
    }
}

/// A configuration object a scope may hide, and what a 404 about it calls it.
pub trait Scoped {
    const WHAT: &'static str;
    fn seen_by(&self, visible: &Visible) -> bool;
}

impl Scoped for Campaign {
    const WHAT: &'static str = "campaign";
    fn seen_by(&self, visible: &Visible) -> bool {
        visible.campaign(self.id)
    }
}

impl Scoped for List {
    const WHAT: &'static str = "list";
    fn seen_by(&self, visible: &Visible) -> bool {
        visible.list(self.id)
    }
}

impl Scoped for Lead {
    const WHAT: &'static str = "lead";
    fn seen_by(&self, visible: &Visible) -> bool {
        visible.lead(self)
    }
}

impl Scoped for Queue {
    const WHAT: &'static str = "queue";
    fn seen_by(&self, visible: &Visible) -> bool {
        visible.queue(self)
    }
}

impl Scoped for Agent {
    const WHAT: &'static str = "agent";
    fn seen_by(&self, visible: &Visible) -> bool {
        visible.agent(self)
    }
}

impl Scoped for WrapCode {
    const WHAT: &'static str = "wrap code";
    fn seen_by(&self, visible: &Visible) -> bool {
        visible.wrap_code(self)
    }
}

/// `value`, or 404 `what` when the principal may not see it.
pub fn visible_or_404<T>(value: T, visible: bool, what: &str) -> ApiResult<T> {
    if visible { Ok(value) } else { Err(ApiError::not_found(what)) }
}

/// `requested` narrowed to `allowed` (`requested` empty = anything): `None` when nothing is left.
fn intersect(requested: &[i64], allowed: &[i64]) -> Option<Vec<i64>> {
    let narrowed: Vec<i64> = if requested.is_empty() {
        allowed.to_vec()
    } else {
        requested.iter().copied().filter(|id| allowed.contains(id)).collect()
    };
    (!narrowed.is_empty()).then_some(narrowed)
}

/// The store filters whose union is exactly `filter` ∩ the principal's scope, disjoint (see the
/// module docs): one for an unscoped principal, none when the scope leaves nothing.
pub fn narrow(principal: &Principal, filter: CallbackFilter, snapshot: &ConfigSnapshot) -> Vec<CallbackFilter> {
    let Some(scope) = &principal.scope else { return vec![filter] };
    let mut parts = Vec::with_capacity(2);
    let mut in_campaigns: Vec<CampaignId> = scope.campaigns.clone();
    in_campaigns.sort_unstable();
    in_campaigns.dedup();
    // Queues whose campaign is already covered add nothing (and would overlap part A). A queue the
    // snapshot does not know yet (created a moment ago) is kept: it overlaps nothing known.
    let mut other_queues: Vec<QueueId> = scope
        .queues
        .iter()
        .copied()
        .filter(|q| snapshot.queues.get(q).is_none_or(|queue| !in_campaigns.contains(&queue.campaign_id)))
        .collect();
    other_queues.sort_unstable();
    other_queues.dedup();
    // Part A cannot match a requested queue of another campaign: drop those (and the part, when
    // only such queues were asked for).
    let a_queues: Vec<QueueId> = filter
        .queue_ids
        .iter()
        .copied()
        .filter(|q| snapshot.queues.get(q).is_none_or(|queue| in_campaigns.contains(&queue.campaign_id)))
        .collect();
    let a_possible = filter.queue_ids.is_empty() || !a_queues.is_empty();
    if a_possible && let Some(campaign_ids) = intersect(&filter.campaign_ids, &in_campaigns) {
        parts.push(CallbackFilter { campaign_ids, queue_ids: a_queues, ..filter.clone() });
    }
    if let Some(queue_ids) = intersect(&filter.queue_ids, &other_queues) {
        parts.push(CallbackFilter { queue_ids, ..filter });
    }
    parts
}

/// The order the store lists callbacks in for `sort` (the key, then the id; descending reverses
/// both), so pages of two parts merge into the page the store would give for their union.
pub fn compare_callbacks(a: &Callback, b: &Callback, sort: Sort) -> Ordering {
    let ascending = match sort.field {
        SortField::DesiredTime => a.desired_time.cmp(&b.desired_time),
        // Unknown earliest times sort after every known one (ascending).
        SortField::EarliestTime => {
            (a.earliest_time.is_none(), a.earliest_time).cmp(&(b.earliest_time.is_none(), b.earliest_time))
        }
        SortField::CreatedAt => a.created_at.cmp(&b.created_at),
        SortField::UpdatedAt => a.updated_at.cmp(&b.updated_at),
        SortField::State => a.state.cmp(&b.state),
        SortField::Phone => a.phone.cmp(&b.phone),
        SortField::Priority => a.priority.cmp(&b.priority),
    }
    .then_with(|| a.id.cmp(&b.id));
    if sort.descending { ascending.reverse() } else { ascending }
}

/// How deep each part must be read for `page` of a merge; 422 past [`MAX_MERGED_DEPTH`].
pub fn merged_depth(page: PageRequest) -> ApiResult<PageRequest> {
    let depth = page.offset() + u64::from(page.page_size);
    if depth > MAX_MERGED_DEPTH {
        return Err(ApiError::invalid_field(
            "page",
            format!(
                "your scope combines campaigns and queues, so pages reach at most row {MAX_MERGED_DEPTH}; \
                 narrow the filters or use the CSV export"
            ),
        ));
    }
    Ok(PageRequest { page: 1, page_size: u32::try_from(depth).unwrap_or(u32::MAX) })
}

/// `page` of the union of disjoint `parts`, each read from its start at least as deep as the page
/// ends and sorted by `order`.
pub fn merge_pages<T>(parts: Vec<Page<T>>, page: PageRequest, order: impl Fn(&T, &T) -> Ordering) -> Paged<T> {
    let total = parts.iter().map(|p| p.total).sum();
    let mut all: Vec<T> = parts.into_iter().flat_map(|p| p.items).collect();
    all.sort_by(&order);
    let offset = usize::try_from(page.offset()).unwrap_or(usize::MAX);
    let items = all.into_iter().skip(offset).take(page.page_size as usize).collect();
    Paged { items, page: page.page, page_size: page.page_size, total }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use rebound_domain::access::Role;

    fn scoped(campaigns: &[i64], queues: &[i64]) -> Principal {
        Principal {
            actor: "user:s".into(),
            role: Role::Supervisor,
            scope: Some(Scope { campaigns: campaigns.to_vec(), queues: queues.to_vec() }),
            agent_id: None,
        }
    }

    fn queue(id: QueueId, campaign_id: CampaignId) -> Arc<Queue> {
        Arc::new(Queue {
            id,
            name: format!("q{id}"),
            campaign_id,
            slot_minutes: 15,
            slot_capacity: 10,
            capacity_grid: None,
            duplicate_policy: DuplicatePolicy::One,
            paused: false,
            created_at: "2026-03-02T10:00:00Z".parse().unwrap(),
        })
    }

    fn snapshot() -> ConfigSnapshot {
        // Campaign 1 has queues 10 and 11; campaign 2 has queue 20; campaign 3 has queue 30.
        let mut s = ConfigSnapshot::default();
        for (q, c) in [(10, 1), (11, 1), (20, 2), (30, 3)] {
            s.queues.insert(q, queue(q, c));
        }
        s
    }

    #[test]
    fn an_unscoped_read_is_one_part_and_an_empty_scope_none() {
        let all = Principal::system();
        assert_eq!(narrow(&all, CallbackFilter::default(), &snapshot()).len(), 1);
        assert!(narrow(&scoped(&[], &[]), CallbackFilter::default(), &snapshot()).is_empty());
    }

    #[test]
    fn a_mixed_scope_splits_into_disjoint_campaign_and_queue_parts() {
        // Queue 11 is in campaign 1 (already covered); queue 20 adds part of campaign 2.
        let parts = narrow(&scoped(&[1], &[11, 20]), CallbackFilter::default(), &snapshot());
        assert_eq!(parts.len(), 2);
        assert_eq!((parts[0].campaign_ids.clone(), parts[0].queue_ids.clone()), (vec![1], vec![]));
        assert_eq!((parts[1].campaign_ids.clone(), parts[1].queue_ids.clone()), (vec![], vec![20]));
    }

    #[test]
    fn a_filter_outside_the_scope_leaves_nothing_and_inside_keeps_its_ids() {
        let p = scoped(&[1], &[20]);
        let outside = CallbackFilter { campaign_ids: vec![3], queue_ids: vec![30], ..Default::default() };
        assert!(narrow(&p, outside, &snapshot()).is_empty());
        let inside = CallbackFilter { queue_ids: vec![20], ..Default::default() };
        let parts = narrow(&p, inside, &snapshot());
        assert_eq!(parts.len(), 1, "queue 20 is not in campaign 1: only the queue part can match");
        assert_eq!((parts[0].campaign_ids.clone(), parts[0].queue_ids.clone()), (vec![], vec![20]));
    }

    #[test]
    fn visibility_follows_campaigns_and_queues_both_ways() {
        let s = snapshot();
        let v = Visible::of(&scoped(&[1], &[20]), &s);
        assert!(v.campaign(1) && v.campaign(2) && !v.campaign(3));
        assert!(v.queue(&queue(11, 1)) && v.queue(&queue(20, 2)) && !v.queue(&queue(30, 3)));
        let agent = |campaigns: Vec<i64>, queues: Vec<i64>| Agent {
            id: 1,
            name: "a".into(),
            username: "a".into(),
            timezone: "UTC".into(),
            campaigns,
            queues,
            can_view_callback_list: true,
            presence: Presence::Offline,
            ready_since: None,
            created_at: "2026-03-02T10:00:00Z".parse().unwrap(),
        };
        assert!(v.agent(&agent(vec![3], vec![10])));
        assert!(!v.agent(&agent(vec![3], vec![30])));
    }

    #[test]
    fn agents_act_only_as_themselves() {
        let bound = Principal { agent_id: Some(7), ..scoped(&[1], &[]) };
        assert!(check_acts_for(&bound, 7).is_ok());
        assert_eq!(check_acts_for(&bound, 8).unwrap_err().status().as_u16(), 403);
        assert_eq!(own_agent(&bound, None).unwrap(), Some(7));
        assert!(own_agent(&bound, Some(8)).is_err());
        assert_eq!(own_agent(&Principal::system(), Some(8)).unwrap(), Some(8));
    }
}
