//! Roles, principals, and the permission table: who may do what.
//!
//! Every handler acts for a [`Principal`]; [`Role::may`] is the one place that says whether a role
//! may perform a [`Permission`]. (Users, sessions and campaign scopes arrive in a later issue; the
//! table is already the single point of decision.)

use serde::{Deserialize, Serialize};

use crate::model::{AgentId, CampaignId, QueueId};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Admin,
    Supervisor,
    Monitor,
    Agent,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Admin, Role::Supervisor, Role::Monitor, Role::Agent];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Supervisor => "supervisor",
            Role::Monitor => "monitor",
            Role::Agent => "agent",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// The permission table (docs show it too). Monitors read; supervisors work callbacks;
    /// admins also configure, delete and manage access; agents act on their own work.
    pub fn may(self, permission: Permission) -> bool {
        use Permission::*;
        match self {
            Role::Admin => true,
            Role::Supervisor => {
                matches!(permission, ReadCallbacks | ReadConfig | WriteCallbacks | BulkCancel | Export | AgentActions)
            }
            Role::Monitor => matches!(permission, ReadCallbacks | ReadConfig),
            Role::Agent => matches!(permission, AgentActions | ReadConfig),
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a request wants to do, at the granularity the permission table speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Permission {
    /// List, get, search callbacks, their events and availability.
    ReadCallbacks,
    /// Read configuration (campaigns, lists, leads, queues, agents, wrap codes).
    ReadConfig,
    /// Create, edit, reschedule, cancel, recreate callbacks.
    WriteCallbacks,
    BulkCancel,
    Export,
    /// Delete a callback record (admin).
    DeleteCallbacks,
    /// Create, change and delete configuration.
    WriteConfig,
    /// Tokens and users.
    ManageAccess,
    /// Presence, offers, accept/reject/outcome, wraps.
    AgentActions,
}

/// The campaigns and queues a user or token may see and act on (absent = everything). A callback is
/// in scope when its campaign is listed or its queue is listed; a queue when it or its campaign is
/// listed; a campaign when it is listed or one of its queues is.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Scope {
    #[serde(default)]
    pub campaigns: Vec<CampaignId>,
    #[serde(default)]
    pub queues: Vec<QueueId>,
}

impl Scope {
    /// A callback of `campaign_id`, in `queue_id` if it has one.
    pub fn allows_callback(&self, campaign_id: CampaignId, queue_id: Option<QueueId>) -> bool {
        self.campaigns.contains(&campaign_id) || queue_id.is_some_and(|q| self.queues.contains(&q))
    }

    /// A queue (of `campaign_id`).
    pub fn allows_queue(&self, queue_id: QueueId, campaign_id: CampaignId) -> bool {
        self.queues.contains(&queue_id) || self.campaigns.contains(&campaign_id)
    }

    /// A campaign, given the campaigns of the scope's queues (`queue_campaigns`).
    pub fn allows_campaign(&self, campaign_id: CampaignId, queue_campaigns: &[CampaignId]) -> bool {
        self.campaigns.contains(&campaign_id) || queue_campaigns.contains(&campaign_id)
    }
}

/// Who is acting: a user (console session) or an API token, with a role, an optional scope, and
/// (for agents) the agent record it acts as. Audit events name `actor`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// Stable text naming the actor in audit events, e.g. `token:3:ivr-main` or `user:alice`.
    pub actor: String,
    pub role: Role,
    /// `None` = every campaign and queue.
    pub scope: Option<Scope>,
    /// The agent record a user (or token) of role `agent` acts as.
    pub agent_id: Option<AgentId>,
}

impl Principal {
    /// The principal used for work the system does on its own (engine, retention, demo loader).
    pub fn system() -> Self {
        Principal { actor: "system".into(), role: Role::Admin, scope: None, agent_id: None }
    }

    pub fn may(&self, permission: Permission) -> bool {
        self.role.may(permission)
    }

    /// Whether a callback of `campaign_id` (in `queue_id`) is within this principal's scope.
    pub fn sees_callback(&self, campaign_id: CampaignId, queue_id: Option<QueueId>) -> bool {
        self.scope.as_ref().is_none_or(|s| s.allows_callback(campaign_id, queue_id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn monitor_reads_but_never_writes() {
        assert!(Role::Monitor.may(Permission::ReadCallbacks));
        for p in [
            Permission::WriteCallbacks,
            Permission::BulkCancel,
            Permission::Export,
            Permission::DeleteCallbacks,
            Permission::WriteConfig,
            Permission::ManageAccess,
        ] {
            assert!(!Role::Monitor.may(p), "{p:?}");
        }
    }

    #[test]
    fn only_admin_deletes_configures_and_manages_access() {
        for p in [Permission::DeleteCallbacks, Permission::WriteConfig, Permission::ManageAccess] {
            assert!(Role::Admin.may(p));
            assert!(!Role::Supervisor.may(p));
            assert!(!Role::Agent.may(p));
        }
    }

    #[test]
    fn roles_round_trip_through_text() {
        for r in Role::ALL {
            assert_eq!(Role::parse(r.as_str()), Some(r));
        }
        assert_eq!(Role::parse("root"), None);
    }
}
