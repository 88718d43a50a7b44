//! Configuration: campaigns (with their lists), lists, leads, queues, agents (with their campaigns
//! and queues), wrap codes; the health check.
//!
//! Plain CRUD. Each `create_*`/`update_*` answers the record as stored (ids, timestamps, the order
//! of its lists and memberships), read back inside its own transaction. Campaign lists and agent
//! memberships live in join tables with a `position`, so the order the caller gave survives a round
//! trip and foreign keys protect them; they are read back with the record in one row (array
//! subqueries of the `codec` column lists).

use deadpool_postgres::GenericClient;
use rebound_domain::model::*;
use rebound_store::*;
use tokio_postgres::types::ToSql;

use crate::PgStore;
use crate::codec::{self, *};
use crate::error::{Op, backend, constraint};

/// Fails with `NotFound` when an update or delete touched no row.
fn touched(changed: u64, what: &str, id: i64) -> StoreResult<()> {
    if changed == 0 { Err(missing(what, id)) } else { Ok(()) }
}

fn missing(what: &str, id: i64) -> StoreError {
    StoreError::not_found(format!("{what} {id}"))
}

/// One statement answering at most one row, decoded.
async fn one<C: GenericClient, T>(
    client: &C,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
    decode: fn(&tokio_postgres::Row) -> StoreResult<T>,
) -> StoreResult<Option<T>> {
    let st = client.prepare_cached(sql).await.map_err(backend)?;
    client.query_opt(&st, params).await.map_err(backend)?.as_ref().map(decode).transpose()
}

/// One statement answering many rows, decoded.
async fn all<C: GenericClient, T>(
    client: &C,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
    decode: fn(&tokio_postgres::Row) -> StoreResult<T>,
) -> StoreResult<Vec<T>> {
    let st = client.prepare_cached(sql).await.map_err(backend)?;
    client.query(&st, params).await.map_err(backend)?.iter().map(decode).collect()
}

/// One writing statement; a schema rule it breaks is explained as `op`.
async fn write<C: GenericClient>(
    client: &C,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
    op: Op<'_>,
) -> StoreResult<u64> {
    let st = client.prepare_cached(sql).await.map_err(backend)?;
    client.execute(&st, params).await.map_err(|e| constraint(e, op))
}

/// A record callbacks may name: how to delete it and how to find a callback naming it.
struct Parent {
    delete: &'static str,
    named_by_callback: &'static str,
    /// What the record is, with what may refer to it, for the refusal.
    what: &'static str,
}

/// Deletes a campaign, list, lead or queue unless a callback names it; answers the rows deleted.
///
/// Callbacks' references to these are the store's to keep, not foreign keys (see `0001_initial.sql`).
/// The `delete` locks the row, so it waits for every create that locked it `for key share` to end;
/// the look for callbacks is a statement of its own, so its snapshot sees what those creates wrote.
/// Creates that come after wait for this transaction and then find the row gone.
async fn delete_parent(store: &PgStore, parent: Parent, id: i64) -> StoreResult<u64> {
    let mut client = store.client().await?;
    let tx = client.transaction().await.map_err(backend)?;
    let n = write(&tx, parent.delete, &[&id], Op::Delete(parent.what)).await?;
    if n > 0 {
        let st = tx.prepare_cached(parent.named_by_callback).await.map_err(backend)?;
        let in_use: bool = tx.query_one(&st, &[&id]).await.map_err(backend)?.get(0);
        if in_use {
            // Dropping the transaction rolls the delete back.
            return Err(StoreError::Conflict(format!("the {} is still in use and cannot be deleted", parent.what)));
        }
    }
    tx.commit().await.map_err(backend)?;
    Ok(n)
}

/// An `insert … returning <id>` answering the new id.
async fn insert_id<C: GenericClient>(
    client: &C,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
    what: &str,
) -> StoreResult<i64> {
    let st = client.prepare_cached(sql).await.map_err(backend)?;
    let row = client.query_one(&st, params).await.map_err(|e| constraint(e, Op::Write(what)))?;
    codec::get(&row, 0)
}

/// Replaces the members of `owner` in a join table (`delete` then one multi-row `insert` of
/// `(owner, member, position)` from arrays).
async fn set_members<C: GenericClient>(
    client: &C,
    delete: &str,
    insert: &str,
    owner: i64,
    ids: &[i64],
    what: &str,
) -> StoreResult<()> {
    write(client, delete, &[&owner], Op::Write(what)).await?;
    if !ids.is_empty() {
        write(client, insert, &[&owner, &ids], Op::Write(what)).await?;
    }
    Ok(())
}

pub async fn ping(store: &PgStore) -> StoreResult<()> {
    let client = store.client().await?;
    client.simple_query("select 1").await.map_err(backend)?;
    Ok(())
}

// ---- campaign ------------------------------------------------------------------------------------

fn campaign_by_id() -> String {
    format!("select {CAMPAIGN_COLUMNS} from campaign where campaign_id = $1")
}

async fn set_campaign_lists<C: GenericClient>(client: &C, id: CampaignId, lists: &[ListId]) -> StoreResult<()> {
    set_members(
        client,
        "delete from campaign_list where campaign_id = $1",
        "insert into campaign_list (campaign_id, list_id, position) \
         select $1, l.list_id, l.position - 1 from unnest($2::bigint[]) with ordinality l(list_id, position)",
        id,
        lists,
        "campaign",
    )
    .await
}

pub async fn create_campaign(store: &PgStore, c: Campaign) -> StoreResult<Campaign> {
    let mut client = store.client().await?;
    let tx = client.transaction().await.map_err(backend)?;
    let id = insert_id(
        &tx,
        "insert into campaign (name, direction, timezone, region, running, dialling_hours, exceptions, \
         lead_calling_hours, allow_unassigned_agent_callbacks, auto_callback_list_id, window_secs, max_attempts, \
         retry_delays, horizon_days, agent_grace_minutes, created_at, updated_at) \
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $16) returning campaign_id",
        &[
            &c.name,
            &c.direction.as_str(),
            &c.timezone,
            &c.region,
            &c.running,
            &hours_to_json(&c.dialling_hours),
            &exceptions_to_json(&c.exceptions),
            &calling_hours_to_json(&c.lead_calling_hours),
            &c.allow_unassigned_agent_callbacks,
            &c.auto_callback_list_id,
            &i64::from(c.window_secs),
            &i64::from(c.max_attempts),
            &to_json(&c.retry_delays_secs),
            &i64::from(c.horizon_days),
            &i64::from(c.agent_grace_minutes),
            &now_ms(),
        ],
        "campaign",
    )
    .await?;
    set_campaign_lists(&tx, id, &c.lists).await?;
    let stored = one(&tx, &campaign_by_id(), &[&id], codec::campaign).await?.ok_or_else(|| missing("campaign", id))?;
    tx.commit().await.map_err(backend)?;
    store.committed();
    Ok(stored)
}

pub async fn get_campaign(store: &PgStore, id: CampaignId) -> StoreResult<Option<Campaign>> {
    let client = store.client().await?;
    one(&client, &campaign_by_id(), &[&id], codec::campaign).await
}

pub async fn list_campaigns(store: &PgStore) -> StoreResult<Vec<Campaign>> {
    let client = store.client().await?;
    let sql = format!("select {CAMPAIGN_COLUMNS} from campaign order by campaign_id");
    all(&client, &sql, &[], codec::campaign).await
}

pub async fn update_campaign(store: &PgStore, c: Campaign) -> StoreResult<Campaign> {
    let mut client = store.client().await?;
    let tx = client.transaction().await.map_err(backend)?;
    let n = write(
        &tx,
        "update campaign set name = $2, direction = $3, timezone = $4, region = $5, running = $6, \
         dialling_hours = $7, exceptions = $8, lead_calling_hours = $9, allow_unassigned_agent_callbacks = $10, \
         auto_callback_list_id = $11, window_secs = $12, max_attempts = $13, retry_delays = $14, \
         horizon_days = $15, agent_grace_minutes = $16, updated_at = $17 where campaign_id = $1",
        &[
            &c.id,
            &c.name,
            &c.direction.as_str(),
            &c.timezone,
            &c.region,
            &c.running,
            &hours_to_json(&c.dialling_hours),
            &exceptions_to_json(&c.exceptions),
            &calling_hours_to_json(&c.lead_calling_hours),
            &c.allow_unassigned_agent_callbacks,
            &c.auto_callback_list_id,
            &i64::from(c.window_secs),
            &i64::from(c.max_attempts),
            &to_json(&c.retry_delays_secs),
            &i64::from(c.horizon_days),
            &i64::from(c.agent_grace_minutes),
            &now_ms(),
        ],
        Op::Write("campaign"),
    )
    .await?;
    touched(n, "campaign", c.id)?;
    set_campaign_lists(&tx, c.id, &c.lists).await?;
    let stored =
        one(&tx, &campaign_by_id(), &[&c.id], codec::campaign).await?.ok_or_else(|| missing("campaign", c.id))?;
    tx.commit().await.map_err(backend)?;
    store.committed();
    Ok(stored)
}

pub async fn delete_campaign(store: &PgStore, id: CampaignId) -> StoreResult<()> {
    let campaign = Parent {
        delete: "delete from campaign where campaign_id = $1",
        named_by_callback: "select exists(select 1 from callback where campaign_id = $1)",
        what: "campaign (queues, wrap codes or callbacks refer to it)",
    };
    let n = delete_parent(store, campaign, id).await?;
    store.committed();
    touched(n, "campaign", id)
}

// ---- list ----------------------------------------------------------------------------------------

pub async fn create_list(store: &PgStore, l: List) -> StoreResult<List> {
    let client = store.client().await?;
    let sql = format!("insert into list (name, fields, created_at) values ($1, $2, $3) returning {LIST_COLUMNS}");
    let st = client.prepare_cached(&sql).await.map_err(backend)?;
    let row = client
        .query_one(&st, &[&l.name, &to_json(&l.fields), &now_ms()])
        .await
        .map_err(|e| constraint(e, Op::Write("list")))?;
    store.committed();
    codec::list(&row)
}

pub async fn get_list(store: &PgStore, id: ListId) -> StoreResult<Option<List>> {
    let client = store.client().await?;
    let sql = format!("select {LIST_COLUMNS} from list where list_id = $1");
    one(&client, &sql, &[&id], codec::list).await
}

pub async fn list_lists(store: &PgStore) -> StoreResult<Vec<List>> {
    let client = store.client().await?;
    let sql = format!("select {LIST_COLUMNS} from list order by list_id");
    all(&client, &sql, &[], codec::list).await
}

pub async fn update_list(store: &PgStore, l: List) -> StoreResult<List> {
    let client = store.client().await?;
    let sql = format!("update list set name = $2, fields = $3 where list_id = $1 returning {LIST_COLUMNS}");
    let st = client.prepare_cached(&sql).await.map_err(backend)?;
    let row = client
        .query_opt(&st, &[&l.id, &l.name, &to_json(&l.fields)])
        .await
        .map_err(|e| constraint(e, Op::Write("list")))?;
    store.committed();
    row.as_ref().map(codec::list).transpose()?.ok_or_else(|| missing("list", l.id))
}

pub async fn delete_list(store: &PgStore, id: ListId) -> StoreResult<()> {
    let list = Parent {
        delete: "delete from list where list_id = $1",
        named_by_callback: "select exists(select 1 from callback where list_id = $1)",
        what: "list (leads, campaigns or callbacks refer to it)",
    };
    let n = delete_parent(store, list, id).await?;
    store.committed();
    touched(n, "list", id)
}

// ---- lead ----------------------------------------------------------------------------------------

fn lead_phones(l: &Lead) -> StoreResult<[Option<&str>; 3]> {
    if l.phones.len() > 3 {
        return Err(StoreError::Conflict("a lead has at most three phone numbers".into()));
    }
    let p = |i: usize| l.phones.get(i).map(String::as_str);
    Ok([p(0), p(1), p(2)])
}

pub async fn create_lead(store: &PgStore, lead: Lead) -> StoreResult<Lead> {
    create_leads(store, vec![lead]).await?.pop().ok_or_else(|| StoreError::Backend("the lead was not stored".into()))
}

/// One multi-row insert from arrays (one round trip however many leads), answered in the order
/// given: identities are assigned in insertion order, so sorting by id restores it.
pub async fn create_leads(store: &PgStore, leads: Vec<Lead>) -> StoreResult<Vec<Lead>> {
    if leads.is_empty() {
        return Ok(Vec::new());
    }
    let mut list_id = Vec::with_capacity(leads.len());
    let mut phones: [Vec<Option<&str>>; 3] = Default::default();
    let (mut timezone, mut name, mut data) = (Vec::new(), Vec::new(), Vec::new());
    for l in &leads {
        let [p1, p2, p3] = lead_phones(l)?;
        list_id.push(l.list_id);
        phones[0].push(p1);
        phones[1].push(p2);
        phones[2].push(p3);
        timezone.push(l.timezone.as_deref());
        name.push(l.name.as_deref());
        data.push(to_json(&l.data));
    }
    let client = store.client().await?;
    let sql = format!(
        "insert into lead (list_id, phone1, phone2, phone3, timezone, name, data, created_at) \
         select l.*, $8 from unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], \
         $7::text[]) l returning {LEAD_COLUMNS}"
    );
    let st = client.prepare_cached(&sql).await.map_err(backend)?;
    let [p1, p2, p3] = &phones;
    let rows = client
        .query(&st, &[&list_id, p1, p2, p3, &timezone, &name, &data, &now_ms()])
        .await
        .map_err(|e| constraint(e, Op::Write("lead")))?;
    store.committed();
    let mut stored = rows.iter().map(codec::lead).collect::<StoreResult<Vec<_>>>()?;
    stored.sort_by_key(|l| l.id);
    Ok(stored)
}

pub async fn get_lead(store: &PgStore, id: LeadId) -> StoreResult<Option<Lead>> {
    let client = store.client().await?;
    let sql = format!("select {LEAD_COLUMNS} from lead where lead_id = $1");
    one(&client, &sql, &[&id], codec::lead).await
}

pub async fn list_leads(store: &PgStore, list_id: Option<ListId>, page: PageRequest) -> StoreResult<Page<Lead>> {
    let client = store.client().await?;
    let st = client
        .prepare_cached("select count(*) from lead where $1::bigint is null or list_id = $1")
        .await
        .map_err(backend)?;
    let total: i64 = codec::get(&client.query_one(&st, &[&list_id]).await.map_err(backend)?, 0)?;
    let sql = format!(
        "select {LEAD_COLUMNS} from lead where $1::bigint is null or list_id = $1 order by lead_id limit $2 offset $3"
    );
    let offset = i64::try_from(page.offset()).unwrap_or(i64::MAX);
    let items = all(&client, &sql, &[&list_id, &i64::from(page.page_size), &offset], codec::lead).await?;
    Ok(Page { items, total: total as u64 })
}

pub async fn update_lead(store: &PgStore, l: Lead) -> StoreResult<Lead> {
    let [p1, p2, p3] = lead_phones(&l)?;
    let client = store.client().await?;
    let sql = format!(
        "update lead set list_id = $2, phone1 = $3, phone2 = $4, phone3 = $5, timezone = $6, name = $7, data = $8 \
         where lead_id = $1 returning {LEAD_COLUMNS}"
    );
    let st = client.prepare_cached(&sql).await.map_err(backend)?;
    let row = client
        .query_opt(&st, &[&l.id, &l.list_id, &p1, &p2, &p3, &l.timezone, &l.name, &to_json(&l.data)])
        .await
        .map_err(|e| constraint(e, Op::Write("lead")))?;
    store.committed();
    row.as_ref().map(codec::lead).transpose()?.ok_or_else(|| missing("lead", l.id))
}

pub async fn delete_lead(store: &PgStore, id: LeadId) -> StoreResult<()> {
    let lead = Parent {
        delete: "delete from lead where lead_id = $1",
        named_by_callback: "select exists(select 1 from callback where lead_id = $1)",
        what: "lead (callbacks refer to it)",
    };
    let n = delete_parent(store, lead, id).await?;
    store.committed();
    touched(n, "lead", id)
}

pub async fn find_lead_by_phone(store: &PgStore, list_id: ListId, phone: &str) -> StoreResult<Option<Lead>> {
    let client = store.client().await?;
    let sql = format!(
        "select {LEAD_COLUMNS} from lead where list_id = $1 and (phone1 = $2 or phone2 = $2 or phone3 = $2) \
         order by lead_id limit 1"
    );
    one(&client, &sql, &[&list_id, &phone], codec::lead).await
}

// ---- queue ---------------------------------------------------------------------------------------

pub async fn create_queue(store: &PgStore, q: Queue) -> StoreResult<Queue> {
    let client = store.client().await?;
    let sql = format!(
        "insert into queue (name, campaign_id, slot_minutes, slot_capacity, capacity_grid, duplicate_policy, paused, \
         created_at) values ($1, $2, $3, $4, $5, $6, $7, $8) returning {QUEUE_COLUMNS}"
    );
    let st = client.prepare_cached(&sql).await.map_err(backend)?;
    let row = client
        .query_one(
            &st,
            &[
                &q.name,
                &q.campaign_id,
                &i64::from(q.slot_minutes),
                &i64::from(q.slot_capacity),
                &q.capacity_grid.as_ref().map(to_json),
                &q.duplicate_policy.as_str(),
                &q.paused,
                &now_ms(),
            ],
        )
        .await
        .map_err(|e| constraint(e, Op::Write("queue")))?;
    store.committed();
    codec::queue(&row)
}

pub async fn get_queue(store: &PgStore, id: QueueId) -> StoreResult<Option<Queue>> {
    let client = store.client().await?;
    let sql = format!("select {QUEUE_COLUMNS} from queue where queue_id = $1");
    one(&client, &sql, &[&id], codec::queue).await
}

pub async fn list_queues(store: &PgStore) -> StoreResult<Vec<Queue>> {
    let client = store.client().await?;
    let sql = format!("select {QUEUE_COLUMNS} from queue order by queue_id");
    all(&client, &sql, &[], codec::queue).await
}

pub async fn update_queue(store: &PgStore, q: Queue) -> StoreResult<Queue> {
    let client = store.client().await?;
    let sql = format!(
        "update queue set name = $2, campaign_id = $3, slot_minutes = $4, slot_capacity = $5, capacity_grid = $6, \
         duplicate_policy = $7, paused = $8 where queue_id = $1 returning {QUEUE_COLUMNS}"
    );
    let st = client.prepare_cached(&sql).await.map_err(backend)?;
    let row = client
        .query_opt(
            &st,
            &[
                &q.id,
                &q.name,
                &q.campaign_id,
                &i64::from(q.slot_minutes),
                &i64::from(q.slot_capacity),
                &q.capacity_grid.as_ref().map(to_json),
                &q.duplicate_policy.as_str(),
                &q.paused,
            ],
        )
        .await
        .map_err(|e| constraint(e, Op::Write("queue")))?;
    store.committed();
    row.as_ref().map(codec::queue).transpose()?.ok_or_else(|| missing("queue", q.id))
}

pub async fn delete_queue(store: &PgStore, id: QueueId) -> StoreResult<()> {
    let queue = Parent {
        delete: "delete from queue where queue_id = $1",
        named_by_callback: "select exists(select 1 from callback where queue_id = $1)",
        what: "queue (callbacks refer to it)",
    };
    let n = delete_parent(store, queue, id).await?;
    store.committed();
    touched(n, "queue", id)
}

// ---- agent ---------------------------------------------------------------------------------------

fn agent_by_id() -> String {
    format!("select {AGENT_COLUMNS} from agent a where a.agent_id = $1")
}

async fn set_agent_memberships<C: GenericClient>(client: &C, a: &Agent, id: AgentId) -> StoreResult<()> {
    set_members(
        client,
        "delete from agent_campaign where agent_id = $1",
        "insert into agent_campaign (agent_id, campaign_id, position) \
         select $1, m.id, m.position - 1 from unnest($2::bigint[]) with ordinality m(id, position)",
        id,
        &a.campaigns,
        "agent",
    )
    .await?;
    set_members(
        client,
        "delete from agent_queue where agent_id = $1",
        "insert into agent_queue (agent_id, queue_id, position) \
         select $1, m.id, m.position - 1 from unnest($2::bigint[]) with ordinality m(id, position)",
        id,
        &a.queues,
        "agent",
    )
    .await
}

/// An agent's `ready_since` as stored: kept only while `ready` (from the record, else from now).
fn ready_since_ms(a: &Agent, now: i64) -> Option<i64> {
    (a.presence == Presence::Ready).then(|| a.ready_since.map_or(now, ms))
}

pub async fn create_agent(store: &PgStore, a: Agent) -> StoreResult<Agent> {
    let mut client = store.client().await?;
    let tx = client.transaction().await.map_err(backend)?;
    let now = now_ms();
    let id = insert_id(
        &tx,
        "insert into agent (name, username, timezone, can_view_callback_list, presence, created_at, ready_since) \
         values ($1, $2, $3, $4, $5, $6, $7) returning agent_id",
        &[
            &a.name,
            &a.username,
            &a.timezone,
            &a.can_view_callback_list,
            &a.presence.as_str(),
            &now,
            &ready_since_ms(&a, now),
        ],
        "agent",
    )
    .await?;
    set_agent_memberships(&tx, &a, id).await?;
    let stored = one(&tx, &agent_by_id(), &[&id], codec::agent).await?.ok_or_else(|| missing("agent", id))?;
    tx.commit().await.map_err(backend)?;
    store.committed();
    Ok(stored)
}

pub async fn get_agent(store: &PgStore, id: AgentId) -> StoreResult<Option<Agent>> {
    let client = store.client().await?;
    one(&client, &agent_by_id(), &[&id], codec::agent).await
}

pub async fn list_agents(store: &PgStore) -> StoreResult<Vec<Agent>> {
    let client = store.client().await?;
    let sql = format!("select {AGENT_COLUMNS} from agent a order by a.agent_id");
    all(&client, &sql, &[], codec::agent).await
}

/// Replaces the configuration of the record. Presence and `ready_since` are left as stored: they
/// belong to the dispatch protocol (`set_presence`, accept, outcomes), and a configuration edit made
/// from a copy read a moment ago must not undo a presence change made since.
pub async fn update_agent(store: &PgStore, a: Agent) -> StoreResult<Agent> {
    let mut client = store.client().await?;
    let tx = client.transaction().await.map_err(backend)?;
    let n = write(
        &tx,
        "update agent set name = $2, username = $3, timezone = $4, can_view_callback_list = $5 where agent_id = $1",
        &[&a.id, &a.name, &a.username, &a.timezone, &a.can_view_callback_list],
        Op::Write("agent"),
    )
    .await?;
    touched(n, "agent", a.id)?;
    set_agent_memberships(&tx, &a, a.id).await?;
    let stored = one(&tx, &agent_by_id(), &[&a.id], codec::agent).await?.ok_or_else(|| missing("agent", a.id))?;
    tx.commit().await.map_err(backend)?;
    store.committed();
    Ok(stored)
}

pub async fn delete_agent(store: &PgStore, id: AgentId) -> StoreResult<()> {
    let client = store.client().await?;
    let n = write(
        &client,
        "delete from agent where agent_id = $1",
        &[&id],
        Op::Delete("agent (callbacks or users refer to it)"),
    )
    .await?;
    store.committed();
    touched(n, "agent", id)
}

// ---- wrap code -----------------------------------------------------------------------------------

pub async fn create_wrap_code(store: &PgStore, w: WrapCode) -> StoreResult<WrapCode> {
    let client = store.client().await?;
    let sql = format!(
        "insert into wrap_code (campaign_id, code, label, add_to_queue, created_at) values ($1, $2, $3, $4, $5) \
         returning {WRAP_CODE_COLUMNS}"
    );
    let st = client.prepare_cached(&sql).await.map_err(backend)?;
    let row = client
        .query_one(&st, &[&w.campaign_id, &w.code, &w.label, &w.add_to_queue.as_ref().map(to_json), &now_ms()])
        .await
        .map_err(|e| constraint(e, Op::Write("wrap code")))?;
    store.committed();
    codec::wrap_code(&row)
}

pub async fn get_wrap_code(store: &PgStore, id: WrapCodeId) -> StoreResult<Option<WrapCode>> {
    let client = store.client().await?;
    let sql = format!("select {WRAP_CODE_COLUMNS} from wrap_code where wrap_code_id = $1");
    one(&client, &sql, &[&id], codec::wrap_code).await
}

pub async fn list_wrap_codes(store: &PgStore) -> StoreResult<Vec<WrapCode>> {
    let client = store.client().await?;
    let sql = format!("select {WRAP_CODE_COLUMNS} from wrap_code order by wrap_code_id");
    all(&client, &sql, &[], codec::wrap_code).await
}

pub async fn update_wrap_code(store: &PgStore, w: WrapCode) -> StoreResult<WrapCode> {
    let client = store.client().await?;
    let sql = format!(
        "update wrap_code set campaign_id = $2, code = $3, label = $4, add_to_queue = $5 where wrap_code_id = $1 \
         returning {WRAP_CODE_COLUMNS}"
    );
    let st = client.prepare_cached(&sql).await.map_err(backend)?;
    let row = client
        .query_opt(&st, &[&w.id, &w.campaign_id, &w.code, &w.label, &w.add_to_queue.as_ref().map(to_json)])
        .await
        .map_err(|e| constraint(e, Op::Write("wrap code")))?;
    store.committed();
    row.as_ref().map(codec::wrap_code).transpose()?.ok_or_else(|| missing("wrap code", w.id))
}

pub async fn delete_wrap_code(store: &PgStore, id: WrapCodeId) -> StoreResult<()> {
    let client = store.client().await?;
    let n = write(&client, "delete from wrap_code where wrap_code_id = $1", &[&id], Op::Delete("wrap code")).await?;
    store.committed();
    touched(n, "wrap code", id)
}
