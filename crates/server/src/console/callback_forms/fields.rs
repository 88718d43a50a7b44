//! The campaign, queue, agent, list and type fields of the Create and Edit forms, offering only what
//! the signed-in principal's scope lets it see (`service::scope::Visible`, the API's own rule).

use std::sync::Arc;

use maud::{Markup, html};
use rebound_domain::model::{Agent, CallbackType, Campaign, Direction, List, Queue};
use rebound_store::PageRequest;

use crate::AppState;
use crate::error::ApiError;
use crate::service::ConfigSnapshot;
use crate::service::config;
use crate::service::scope::Visible;

use super::super::session::SignedIn;

/// What a form may offer: outbound campaigns, their queues, agents and lists, all in scope, sorted
/// by name.
pub(super) struct Choices {
    pub config: Arc<ConfigSnapshot>,
    pub campaigns: Vec<Arc<Campaign>>,
    pub queues: Vec<Arc<Queue>>,
    pub agents: Vec<Arc<Agent>>,
    pub lists: Vec<List>,
}

impl Choices {
    pub(super) async fn load(state: &AppState, user: &SignedIn) -> Result<Choices, ApiError> {
        let config = state.config_cache.snapshot(state.store.as_ref()).await?;
        let visible = Visible::of(&user.principal, &config);
        let mut campaigns: Vec<Arc<Campaign>> = config
            .campaigns
            .values()
            .filter(|c| c.direction == Direction::Outbound && visible.campaign(c.id))
            .cloned()
            .collect();
        campaigns.sort_by(|a, b| a.name.cmp(&b.name).then(a.id.cmp(&b.id)));
        let mut queues: Vec<Arc<Queue>> = config
            .queues
            .values()
            .filter(|q| visible.queue(q) && campaigns.iter().any(|c| c.id == q.campaign_id))
            .cloned()
            .collect();
        queues.sort_by(|a, b| a.name.cmp(&b.name).then(a.id.cmp(&b.id)));
        let mut agents: Vec<Arc<Agent>> = config.agents.values().filter(|a| visible.agent(a)).cloned().collect();
        agents.sort_by(|a, b| a.name.cmp(&b.name).then(a.id.cmp(&b.id)));
        let page = PageRequest { page: 1, page_size: PageRequest::MAX_SIZE };
        let lists = config::list_lists(state, &user.principal, page).await?.items;
        Ok(Choices { config, campaigns, queues, agents, lists })
    }

    /// The first queue of `campaign_id` (the default of a new queue callback).
    pub(super) fn first_queue_of(&self, campaign_id: i64) -> Option<&Queue> {
        self.queues.iter().map(Arc::as_ref).find(|q| q.campaign_id == campaign_id)
    }
}

/// An optional id field: blank is `None`, anything but a number is a 422 naming the field.
pub(super) fn id_field(name: &str, value: &str) -> Result<Option<i64>, ApiError> {
    if value.is_empty() {
        return Ok(None);
    }
    value.parse().map(Some).map_err(|_| ApiError::invalid_field(name, format!("'{value}' is not a {name}")))
}

/// `select#cb-campaign`: outbound campaigns, each with its running state.
pub(super) fn campaign_select(choices: &Choices, chosen: &str, label: &str) -> Markup {
    html! {
        div.field {
            label for="cb-campaign" { (label) }
            select id="cb-campaign" name="campaign_id" {
                @for campaign in &choices.campaigns {
                    @let id = campaign.id.to_string();
                    option value=(id) selected[id == chosen] {
                        (campaign.name) @if !campaign.running { " (stopped)" }
                    }
                }
            }
        }
    }
}

/// `select#cb-queue`: queues grouped by campaign (the script shows the chosen campaign's group),
/// with "no queue" for agent callbacks.
pub(super) fn queue_select(choices: &Choices, chosen: &str) -> Markup {
    html! {
        div.field {
            label for="cb-queue" { "Queue (service)" }
            select id="cb-queue" name="queue_id" data-follows="campaign_id" {
                option value="" selected[chosen.is_empty()] { "No queue (agent callbacks)" }
                @for campaign in &choices.campaigns {
                    optgroup label=(campaign.name) data-parent=(campaign.id) {
                        @for queue in choices.queues.iter().filter(|q| q.campaign_id == campaign.id) {
                            @let id = queue.id.to_string();
                            option value=(id) selected[id == chosen] {
                                (queue.name) @if queue.paused { " (paused)" }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// `select#cb-agent` (shown for agent callbacks).
pub(super) fn agent_select(choices: &Choices, chosen: &str) -> Markup {
    html! {
        div.field data-shown-if="type=agent" {
            label for="cb-agent" { "Agent" }
            select id="cb-agent" name="agent_id" {
                option value="" selected[chosen.is_empty()] { "—" }
                @for agent in &choices.agents {
                    @let id = agent.id.to_string();
                    option value=(id) selected[id == chosen] { (agent.name) " (" (agent.username) ")" }
                }
            }
        }
    }
}

/// `select#cb-list` (optional: the list the callback's contact belongs to).
pub(super) fn list_select(choices: &Choices, chosen: &str) -> Markup {
    html! {
        div.field {
            label for="cb-list" { "List" }
            select id="cb-list" name="list_id" {
                option value="" selected[chosen.is_empty()] { "—" }
                @for list in &choices.lists {
                    @let id = list.id.to_string();
                    option value=(id) selected[id == chosen] { (list.name) }
                }
            }
        }
    }
}

/// Radio buttons `#cb-{name}-{value}` for a choice of two or more.
pub(super) fn radios(name: &str, legend: &str, options: &[(&str, &str)], chosen: &str) -> Markup {
    html! {
        fieldset.choice {
            legend { (legend) }
            @for (value, label) in options {
                @let id = format!("cb-{name}-{value}");
                span.radio {
                    input id=(id) type="radio" name=(name) value=(value) checked[*value == chosen];
                    label for=(id) { (label) }
                }
            }
        }
    }
}

/// The callback type as radio buttons `#cb-type-queue` / `#cb-type-agent`.
pub(super) fn type_radios(chosen: &str) -> Markup {
    radios(
        "type",
        "Callback for",
        &[(CallbackType::Queue.as_str(), "Any agent of a queue"), (CallbackType::Agent.as_str(), "One agent")],
        chosen,
    )
}
