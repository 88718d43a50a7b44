//! Configuration: campaigns (with their lists), lists, leads, queues, agents (with their campaigns
//! and queues), wrap codes; the health check.

#![allow(unused_imports, unused_variables)] // stubs until the section is written (issue 7)

use jiff::Timestamp;
use rebound_domain::model::*;
use rebound_store::*;

use crate::{PgStore, not_yet};

pub async fn ping(store: &PgStore) -> StoreResult<()> {
    let _ = store;
    Err(not_yet("ping"))
}

pub async fn create_campaign(store: &PgStore, campaign: Campaign) -> StoreResult<Campaign> {
    let _ = (store, campaign);
    Err(not_yet("create_campaign"))
}

pub async fn get_campaign(store: &PgStore, id: CampaignId) -> StoreResult<Option<Campaign>> {
    let _ = (store, id);
    Err(not_yet("get_campaign"))
}

pub async fn list_campaigns(store: &PgStore) -> StoreResult<Vec<Campaign>> {
    let _ = store;
    Err(not_yet("list_campaigns"))
}

pub async fn update_campaign(store: &PgStore, campaign: Campaign) -> StoreResult<Campaign> {
    let _ = (store, campaign);
    Err(not_yet("update_campaign"))
}

pub async fn delete_campaign(store: &PgStore, id: CampaignId) -> StoreResult<()> {
    let _ = (store, id);
    Err(not_yet("delete_campaign"))
}

pub async fn create_list(store: &PgStore, list: List) -> StoreResult<List> {
    let _ = (store, list);
    Err(not_yet("create_list"))
}

pub async fn get_list(store: &PgStore, id: ListId) -> StoreResult<Option<List>> {
    let _ = (store, id);
    Err(not_yet("get_list"))
}

pub async fn list_lists(store: &PgStore) -> StoreResult<Vec<List>> {
    let _ = store;
    Err(not_yet("list_lists"))
}

pub async fn update_list(store: &PgStore, list: List) -> StoreResult<List> {
    let _ = (store, list);
    Err(not_yet("update_list"))
}

pub async fn delete_list(store: &PgStore, id: ListId) -> StoreResult<()> {
    let _ = (store, id);
    Err(not_yet("delete_list"))
}

pub async fn create_lead(store: &PgStore, lead: Lead) -> StoreResult<Lead> {
    let _ = (store, lead);
    Err(not_yet("create_lead"))
}

pub async fn create_leads(store: &PgStore, leads: Vec<Lead>) -> StoreResult<Vec<Lead>> {
    let _ = (store, leads);
    Err(not_yet("create_leads"))
}

pub async fn get_lead(store: &PgStore, id: LeadId) -> StoreResult<Option<Lead>> {
    let _ = (store, id);
    Err(not_yet("get_lead"))
}

pub async fn list_leads(store: &PgStore, list_id: Option<ListId>, page: PageRequest) -> StoreResult<Page<Lead>> {
    let _ = (store, list_id, page);
    Err(not_yet("list_leads"))
}

pub async fn update_lead(store: &PgStore, lead: Lead) -> StoreResult<Lead> {
    let _ = (store, lead);
    Err(not_yet("update_lead"))
}

pub async fn delete_lead(store: &PgStore, id: LeadId) -> StoreResult<()> {
    let _ = (store, id);
    Err(not_yet("delete_lead"))
}

pub async fn create_queue(store: &PgStore, queue: Queue) -> StoreResult<Queue> {
    let _ = (store, queue);
    Err(not_yet("create_queue"))
}

pub async fn get_queue(store: &PgStore, id: QueueId) -> StoreResult<Option<Queue>> {
    let _ = (store, id);
    Err(not_yet("get_queue"))
}

pub async fn list_queues(store: &PgStore) -> StoreResult<Vec<Queue>> {
    let _ = store;
    Err(not_yet("list_queues"))
}

pub async fn update_queue(store: &PgStore, queue: Queue) -> StoreResult<Queue> {
    let _ = (store, queue);
    Err(not_yet("update_queue"))
}

pub async fn delete_queue(store: &PgStore, id: QueueId) -> StoreResult<()> {
    let _ = (store, id);
    Err(not_yet("delete_queue"))
}

pub async fn create_agent(store: &PgStore, agent: Agent) -> StoreResult<Agent> {
    let _ = (store, agent);
    Err(not_yet("create_agent"))
}

pub async fn get_agent(store: &PgStore, id: AgentId) -> StoreResult<Option<Agent>> {
    let _ = (store, id);
    Err(not_yet("get_agent"))
}

pub async fn list_agents(store: &PgStore) -> StoreResult<Vec<Agent>> {
    let _ = store;
    Err(not_yet("list_agents"))
}

pub async fn update_agent(store: &PgStore, agent: Agent) -> StoreResult<Agent> {
    let _ = (store, agent);
    Err(not_yet("update_agent"))
}

pub async fn delete_agent(store: &PgStore, id: AgentId) -> StoreResult<()> {
    let _ = (store, id);
    Err(not_yet("delete_agent"))
}

pub async fn create_wrap_code(store: &PgStore, wrap_code: WrapCode) -> StoreResult<WrapCode> {
    let _ = (store, wrap_code);
    Err(not_yet("create_wrap_code"))
}

pub async fn get_wrap_code(store: &PgStore, id: WrapCodeId) -> StoreResult<Option<WrapCode>> {
    let _ = (store, id);
    Err(not_yet("get_wrap_code"))
}

pub async fn list_wrap_codes(store: &PgStore) -> StoreResult<Vec<WrapCode>> {
    let _ = store;
    Err(not_yet("list_wrap_codes"))
}

pub async fn update_wrap_code(store: &PgStore, wrap_code: WrapCode) -> StoreResult<WrapCode> {
    let _ = (store, wrap_code);
    Err(not_yet("update_wrap_code"))
}

pub async fn delete_wrap_code(store: &PgStore, id: WrapCodeId) -> StoreResult<()> {
    let _ = (store, id);
    Err(not_yet("delete_wrap_code"))
}

pub async fn find_lead_by_phone(store: &PgStore, list_id: ListId, phone: &str) -> StoreResult<Option<Lead>> {
    let _ = (store, list_id, phone);
    Err(not_yet("find_lead_by_phone"))
}
