//! Configuration records (campaigns, lists, leads, queues, agents, wrap codes): plain CRUD. Writes run on the writer thread like everything else; each `create_*`/`update_*` reads the
//! record back so callers get exactly what is stored (ids, timestamps, normalised order).
//! Campaign lists and agent memberships live in join tables (`campaign_list`, `agent_campaign`,
//! `agent_queue`) with a `position` column so the order the caller gave survives a round trip, and
//! so foreign keys protect them.

use rebound_domain::model::*;
use rebound_store::{Page, PageRequest, StoreError, StoreResult};
use rusqlite::{Connection, OptionalExtension, Row, params};

use crate::codec::*;
use crate::error::{Op, ResultExt};

/// Fails with `NotFound` when an update or delete touched no row.
fn touched(changed: usize, what: &str, id: i64) -> StoreResult<()> {
    if changed == 0 { Err(StoreError::not_found(format!("{what} {id}"))) } else { Ok(()) }
}

fn ids_of(conn: &Connection, sql: &str, owner: i64) -> StoreResult<Vec<i64>> {
    let mut st = conn.prepare_cached(sql).db()?;
    let ids = st.query_map([owner], |r| r.get(0)).db()?.collect::<rusqlite::Result<Vec<i64>>>().db()?;
    Ok(ids)
}

fn set_members(conn: &Connection, delete: &str, insert: &str, owner: i64, ids: &[i64], what: &str) -> StoreResult<()> {
    conn.prepare_cached(delete).db()?.execute([owner]).db()?;
    let mut st = conn.prepare_cached(insert).db()?;
    for (pos, id) in ids.iter().enumerate() {
        st.execute(params![owner, id, pos as i64]).on(Op::Write(what))?;
    }
    Ok(())
}

fn missing(what: &str, id: i64) -> StoreError {
    StoreError::not_found(format!("{what} {id}"))
}

// ---- campaign ------------------------------------------------------------------------------------

const CAMPAIGN_COLS: &str = "campaign_id, name, direction, timezone, region, running, dialling_hours, exceptions, \
    lead_calling_hours, allow_unassigned_agent_callbacks, auto_callback_list_id, window_secs, max_attempts, \
    retry_delays, horizon_days, agent_grace_minutes, created_at, updated_at";

fn campaign_row(r: &Row<'_>) -> rusqlite::Result<Campaign> {
    Ok(Campaign {
        id: r.get(0)?,
        name: r.get(1)?,
        direction: named(2, &r.get::<_, String>(2)?, Direction::parse)?,
        timezone: r.get(3)?,
        region: r.get(4)?,
        running: r.get(5)?,
        dialling_hours: hours_from_json(6, &r.get::<_, String>(6)?)?,
        exceptions: exceptions_from_json(7, &r.get::<_, String>(7)?)?,
        lead_calling_hours: calling_hours_from_json(8, &r.get::<_, String>(8)?)?,
        allow_unassigned_agent_callbacks: r.get(9)?,
        auto_callback_list_id: r.get(10)?,
        lists: Vec::new(),
        window_secs: r.get(11)?,
        max_attempts: r.get(12)?,
        retry_delays_secs: from_json(13, &r.get::<_, String>(13)?)?,
        horizon_days: r.get(14)?,
        agent_grace_minutes: r.get(15)?,
        created_at: ts(16, r.get(16)?)?,
        updated_at: ts(17, r.get(17)?)?,
    })
}

const CAMPAIGN_LISTS: &str = "select list_id from campaign_list where campaign_id = ?1 order by position";

pub(crate) fn get_campaign(conn: &Connection, id: CampaignId) -> StoreResult<Option<Campaign>> {
    let sql = format!("select {CAMPAIGN_COLS} from campaign where campaign_id = ?1");
    let Some(mut c) = conn.prepare_cached(&sql).db()?.query_row([id], campaign_row).optional().db()? else {
        return Ok(None);
    };
    c.lists = ids_of(conn, CAMPAIGN_LISTS, id)?;
    Ok(Some(c))
}

pub(crate) fn list_campaigns(conn: &Connection) -> StoreResult<Vec<Campaign>> {
    let sql = format!("select {CAMPAIGN_COLS} from campaign order by campaign_id");
    let mut all =
        conn.prepare_cached(&sql).db()?.query_map([], campaign_row).db()?.collect::<rusqlite::Result<Vec<_>>>().db()?;
    for c in &mut all {
        c.lists = ids_of(conn, CAMPAIGN_LISTS, c.id)?;
    }
    Ok(all)
}

fn set_campaign_lists(conn: &Connection, id: CampaignId, lists: &[ListId]) -> StoreResult<()> {
    set_members(
        conn,
        "delete from campaign_list where campaign_id = ?1",
        "insert into campaign_list (campaign_id, list_id, position) values (?1, ?2, ?3)",
        id,
        lists,
        "campaign",
    )
}

pub(crate) fn create_campaign(conn: &Connection, c: &Campaign) -> StoreResult<Campaign> {
    let now = now_ms();
    conn.prepare_cached(
        "insert into campaign (name, direction, timezone, region, running, dialling_hours, exceptions, \
         lead_calling_hours, allow_unassigned_agent_callbacks, auto_callback_list_id, window_secs, max_attempts, \
         retry_delays, horizon_days, agent_grace_minutes, created_at, updated_at) \
         values (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?16)",
    )
    .db()?
    .execute(params![
        c.name,
        c.direction.as_str(),
        c.timezone,
        c.region,
        c.running,
        hours_to_json(&c.dialling_hours),
        exceptions_to_json(&c.exceptions),
        calling_hours_to_json(&c.lead_calling_hours),
        c.allow_unassigned_agent_callbacks,
        c.auto_callback_list_id,
        c.window_secs,
        c.max_attempts,
        to_json(&c.retry_delays_secs),
        c.horizon_days,
        c.agent_grace_minutes,
        now,
    ])
    .on(Op::Write("campaign"))?;
    let id = conn.last_insert_rowid();
    set_campaign_lists(conn, id, &c.lists)?;
    get_campaign(conn, id)?.ok_or_else(|| missing("campaign", id))
}

pub(crate) fn update_campaign(conn: &Connection, c: &Campaign) -> StoreResult<Campaign> {
    let changed = conn
        .prepare_cached(
            "update campaign set name = ?2, direction = ?3, timezone = ?4, region = ?5, running = ?6, \
             dialling_hours = ?7, exceptions = ?8, lead_calling_hours = ?9, allow_unassigned_agent_callbacks = ?10, \
             auto_callback_list_id = ?11, window_secs = ?12, max_attempts = ?13, retry_delays = ?14, \
             horizon_days = ?15, agent_grace_minutes = ?16, updated_at = ?17 where campaign_id = ?1",
        )
        .db()?
        .execute(params![
            c.id,
            c.name,
            c.direction.as_str(),
            c.timezone,
            c.region,
            c.running,
            hours_to_json(&c.dialling_hours),
            exceptions_to_json(&c.exceptions),
            calling_hours_to_json(&c.lead_calling_hours),
            c.allow_unassigned_agent_callbacks,
            c.auto_callback_list_id,
            c.window_secs,
            c.max_attempts,
            to_json(&c.retry_delays_secs),
            c.horizon_days,
            c.agent_grace_minutes,
            now_ms(),
        ])
        .on(Op::Write("campaign"))?;
    touched(changed, "campaign", c.id)?;
    set_campaign_lists(conn, c.id, &c.lists)?;
    get_campaign(conn, c.id)?.ok_or_else(|| missing("campaign", c.id))
}

pub(crate) fn delete_campaign(conn: &Connection, id: CampaignId) -> StoreResult<()> {
    let n = conn
        .prepare_cached("delete from campaign where campaign_id = ?1")
        .db()?
        .execute([id])
        .on(Op::Delete("campaign (queues, wrap codes or callbacks refer to it)"))?;
    touched(n, "campaign", id)
}

// ---- list ----------------------------------------------------------------------------------------

fn list_row(r: &Row<'_>) -> rusqlite::Result<List> {
    Ok(List {
        id: r.get(0)?,
        name: r.get(1)?,
        fields: from_json(2, &r.get::<_, String>(2)?)?,
        created_at: ts(3, r.get(3)?)?,
    })
}

pub(crate) fn get_list(conn: &Connection, id: ListId) -> StoreResult<Option<List>> {
    conn.prepare_cached("select list_id, name, fields, created_at from list where list_id = ?1")
        .db()?
        .query_row([id], list_row)
        .optional()
        .db()
}

pub(crate) fn list_lists(conn: &Connection) -> StoreResult<Vec<List>> {
    conn.prepare_cached("select list_id, name, fields, created_at from list order by list_id")
        .db()?
        .query_map([], list_row)
        .db()?
        .collect::<rusqlite::Result<Vec<_>>>()
        .db()
}

pub(crate) fn create_list(conn: &Connection, l: &List) -> StoreResult<List> {
    conn.prepare_cached("insert into list (name, fields, created_at) values (?1, ?2, ?3)")
        .db()?
        .execute(params![l.name, to_json(&l.fields), now_ms()])
        .on(Op::Write("list"))?;
    let id = conn.last_insert_rowid();
    get_list(conn, id)?.ok_or_else(|| missing("list", id))
}

pub(crate) fn update_list(conn: &Connection, l: &List) -> StoreResult<List> {
    let n = conn
        .prepare_cached("update list set name = ?2, fields = ?3 where list_id = ?1")
        .db()?
        .execute(params![l.id, l.name, to_json(&l.fields)])
        .on(Op::Write("list"))?;
    touched(n, "list", l.id)?;
    get_list(conn, l.id)?.ok_or_else(|| missing("list", l.id))
}

pub(crate) fn delete_list(conn: &Connection, id: ListId) -> StoreResult<()> {
    let n = conn
        .prepare_cached("delete from list where list_id = ?1")
        .db()?
        .execute([id])
        .on(Op::Delete("list (leads, campaigns or callbacks refer to it)"))?;
    touched(n, "list", id)
}

// ---- lead ----------------------------------------------------------------------------------------

pub(crate) const LEAD_COLS: &str = "lead_id, list_id, phone1, phone2, phone3, timezone, name, data, created_at";

pub(crate) fn lead_row(r: &Row<'_>) -> rusqlite::Result<Lead> {
    let phones: Vec<String> = [r.get::<_, Option<String>>(2)?, r.get(3)?, r.get(4)?].into_iter().flatten().collect();
    Ok(Lead {
        id: r.get(0)?,
        list_id: r.get(1)?,
        phones,
        timezone: r.get(5)?,
        name: r.get(6)?,
        data: from_json(7, &r.get::<_, String>(7)?)?,
        created_at: ts(8, r.get(8)?)?,
    })
}

fn lead_phones(l: &Lead) -> StoreResult<[Option<&str>; 3]> {
    if l.phones.len() > 3 {
        return Err(StoreError::Conflict("a lead has at most three phone numbers".into()));
    }
    let p = |i: usize| l.phones.get(i).map(String::as_str);
    Ok([p(0), p(1), p(2)])
}

pub(crate) fn get_lead(conn: &Connection, id: LeadId) -> StoreResult<Option<Lead>> {
    let sql = format!("select {LEAD_COLS} from lead where lead_id = ?1");
    conn.prepare_cached(&sql).db()?.query_row([id], lead_row).optional().db()
}

pub(crate) fn list_leads(conn: &Connection, list_id: Option<ListId>, page: PageRequest) -> StoreResult<Page<Lead>> {
    let total: i64 = conn
        .prepare_cached("select count(*) from lead where ?1 is null or list_id = ?1")
        .db()?
        .query_row([list_id], |r| r.get(0))
        .db()?;
    let sql =
        format!("select {LEAD_COLS} from lead where ?1 is null or list_id = ?1 order by lead_id limit ?2 offset ?3");
    let items = conn
        .prepare_cached(&sql)
        .db()?
        .query_map(params![list_id, page.page_size, page.offset() as i64], lead_row)
        .db()?
        .collect::<rusqlite::Result<Vec<_>>>()
        .db()?;
    Ok(Page { items, total: total as u64 })
}

pub(crate) fn create_lead(conn: &Connection, l: &Lead) -> StoreResult<Lead> {
    let [p1, p2, p3] = lead_phones(l)?;
    conn.prepare_cached(
        "insert into lead (list_id, phone1, phone2, phone3, timezone, name, data, created_at) \
         values (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )
    .db()?
    .execute(params![l.list_id, p1, p2, p3, l.timezone, l.name, to_json(&l.data), now_ms()])
    .on(Op::Write("lead"))?;
    let id = conn.last_insert_rowid();
    get_lead(conn, id)?.ok_or_else(|| missing("lead", id))
}

pub(crate) fn update_lead(conn: &Connection, l: &Lead) -> StoreResult<Lead> {
    let [p1, p2, p3] = lead_phones(l)?;
    let n = conn
        .prepare_cached(
            "update lead set list_id = ?2, phone1 = ?3, phone2 = ?4, phone3 = ?5, timezone = ?6, name = ?7, \
             data = ?8 where lead_id = ?1",
        )
        .db()?
        .execute(params![l.id, l.list_id, p1, p2, p3, l.timezone, l.name, to_json(&l.data)])
        .on(Op::Write("lead"))?;
    touched(n, "lead", l.id)?;
    get_lead(conn, l.id)?.ok_or_else(|| missing("lead", l.id))
}

pub(crate) fn delete_lead(conn: &Connection, id: LeadId) -> StoreResult<()> {
    let n = conn
        .prepare_cached("delete from lead where lead_id = ?1")
        .db()?
        .execute([id])
        .on(Op::Delete("lead (callbacks refer to it)"))?;
    touched(n, "lead", id)
}

// ---- queue ---------------------------------------------------------------------------------------

const QUEUE_COLS: &str =
    "queue_id, name, campaign_id, slot_minutes, slot_capacity, capacity_grid, duplicate_policy, paused, created_at";

fn queue_row(r: &Row<'_>) -> rusqlite::Result<Queue> {
    Ok(Queue {
        id: r.get(0)?,
        name: r.get(1)?,
        campaign_id: r.get(2)?,
        slot_minutes: r.get(3)?,
        slot_capacity: r.get(4)?,
        capacity_grid: r.get::<_, Option<String>>(5)?.map(|s| from_json(5, &s)).transpose()?,
        duplicate_policy: named(6, &r.get::<_, String>(6)?, DuplicatePolicy::parse)?,
        paused: r.get(7)?,
        created_at: ts(8, r.get(8)?)?,
    })
}

pub(crate) fn get_queue(conn: &Connection, id: QueueId) -> StoreResult<Option<Queue>> {
    let sql = format!("select {QUEUE_COLS} from queue where queue_id = ?1");
    conn.prepare_cached(&sql).db()?.query_row([id], queue_row).optional().db()
}

pub(crate) fn list_queues(conn: &Connection) -> StoreResult<Vec<Queue>> {
    let sql = format!("select {QUEUE_COLS} from queue order by queue_id");
    conn.prepare_cached(&sql).db()?.query_map([], queue_row).db()?.collect::<rusqlite::Result<Vec<_>>>().db()
}

pub(crate) fn create_queue(conn: &Connection, q: &Queue) -> StoreResult<Queue> {
    conn.prepare_cached(
        "insert into queue (name, campaign_id, slot_minutes, slot_capacity, capacity_grid, duplicate_policy, paused, \
         created_at) values (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )
    .db()?
    .execute(params![
        q.name,
        q.campaign_id,
        q.slot_minutes,
        q.slot_capacity,
        q.capacity_grid.as_ref().map(to_json),
        q.duplicate_policy.as_str(),
        q.paused,
        now_ms()
    ])
    .on(Op::Write("queue"))?;
    let id = conn.last_insert_rowid();
    get_queue(conn, id)?.ok_or_else(|| missing("queue", id))
}

pub(crate) fn update_queue(conn: &Connection, q: &Queue) -> StoreResult<Queue> {
    let n = conn
        .prepare_cached(
            "update queue set name = ?2, campaign_id = ?3, slot_minutes = ?4, slot_capacity = ?5, capacity_grid = ?6, \
             duplicate_policy = ?7, paused = ?8 where queue_id = ?1",
        )
        .db()?
        .execute(params![
            q.id,
            q.name,
            q.campaign_id,
            q.slot_minutes,
            q.slot_capacity,
            q.capacity_grid.as_ref().map(to_json),
            q.duplicate_policy.as_str(),
            q.paused
        ])
        .on(Op::Write("queue"))?;
    touched(n, "queue", q.id)?;
    get_queue(conn, q.id)?.ok_or_else(|| missing("queue", q.id))
}

pub(crate) fn delete_queue(conn: &Connection, id: QueueId) -> StoreResult<()> {
    let n = conn
        .prepare_cached("delete from queue where queue_id = ?1")
        .db()?
        .execute([id])
        .on(Op::Delete("queue (callbacks refer to it)"))?;
    touched(n, "queue", id)
}

// ---- agent ---------------------------------------------------------------------------------------

pub(crate) const AGENT_COLS: &str =
    "agent_id, name, username, timezone, can_view_callback_list, presence, created_at, ready_since";
const AGENT_CAMPAIGNS: &str = "select campaign_id from agent_campaign where agent_id = ?1 order by position";
const AGENT_QUEUES: &str = "select queue_id from agent_queue where agent_id = ?1 order by position";

pub(crate) fn agent_row(r: &Row<'_>) -> rusqlite::Result<Agent> {
    Ok(Agent {
        id: r.get(0)?,
        name: r.get(1)?,
        username: r.get(2)?,
        timezone: r.get(3)?,
        campaigns: Vec::new(),
        queues: Vec::new(),
        can_view_callback_list: r.get(4)?,
        presence: named(5, &r.get::<_, String>(5)?, Presence::parse)?,
        ready_since: opt_ts(7, r.get(7)?)?,
        created_at: ts(6, r.get(6)?)?,
    })
}

pub(crate) fn with_memberships(conn: &Connection, mut a: Agent) -> StoreResult<Agent> {
    a.campaigns = ids_of(conn, AGENT_CAMPAIGNS, a.id)?;
    a.queues = ids_of(conn, AGENT_QUEUES, a.id)?;
    Ok(a)
}

pub(crate) fn get_agent(conn: &Connection, id: AgentId) -> StoreResult<Option<Agent>> {
    let sql = format!("select {AGENT_COLS} from agent where agent_id = ?1");
    match conn.prepare_cached(&sql).db()?.query_row([id], agent_row).optional().db()? {
        Some(a) => with_memberships(conn, a).map(Some),
        None => Ok(None),
    }
}

pub(crate) fn list_agents(conn: &Connection) -> StoreResult<Vec<Agent>> {
    let sql = format!("select {AGENT_COLS} from agent order by agent_id");
    let all =
        conn.prepare_cached(&sql).db()?.query_map([], agent_row).db()?.collect::<rusqlite::Result<Vec<_>>>().db()?;
    all.into_iter().map(|a| with_memberships(conn, a)).collect()
}

fn set_agent_memberships(conn: &Connection, a: &Agent, id: AgentId) -> StoreResult<()> {
    set_members(
        conn,
        "delete from agent_campaign where agent_id = ?1",
        "insert into agent_campaign (agent_id, campaign_id, position) values (?1, ?2, ?3)",
        id,
        &a.campaigns,
        "agent",
    )?;
    set_members(
        conn,
        "delete from agent_queue where agent_id = ?1",
        "insert into agent_queue (agent_id, queue_id, position) values (?1, ?2, ?3)",
        id,
        &a.queues,
        "agent",
    )
}

/// An agent's `ready_since` as stored: kept only while `ready` (from the record, else from now).
fn ready_since_ms(a: &Agent, now: i64) -> Option<i64> {
    (a.presence == Presence::Ready).then(|| a.ready_since.map_or(now, ms))
}

pub(crate) fn create_agent(conn: &Connection, a: &Agent) -> StoreResult<Agent> {
    let now = now_ms();
    conn.prepare_cached(
        "insert into agent (name, username, timezone, can_view_callback_list, presence, created_at, ready_since) \
         values (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )
    .db()?
    .execute(params![
        a.name,
        a.username,
        a.timezone,
        a.can_view_callback_list,
        a.presence.as_str(),
        now,
        ready_since_ms(a, now)
    ])
    .on(Op::Write("agent"))?;
    let id = conn.last_insert_rowid();
    set_agent_memberships(conn, a, id)?;
    get_agent(conn, id)?.ok_or_else(|| missing("agent", id))
}

/// Replaces the configuration of the record. Presence and `ready_since` are left as stored: they
/// belong to the dispatch protocol (`set_presence`, accept, outcomes), and a configuration edit made
/// from a copy read a moment ago must not undo a presence change made since.
pub(crate) fn update_agent(conn: &Connection, a: &Agent) -> StoreResult<Agent> {
    let n = conn
        .prepare_cached(
            "update agent set name = ?2, username = ?3, timezone = ?4, can_view_callback_list = ?5 \
             where agent_id = ?1",
        )
        .db()?
        .execute(params![a.id, a.name, a.username, a.timezone, a.can_view_callback_list])
        .on(Op::Write("agent"))?;
    touched(n, "agent", a.id)?;
    set_agent_memberships(conn, a, a.id)?;
    get_agent(conn, a.id)?.ok_or_else(|| missing("agent", a.id))
}

pub(crate) fn delete_agent(conn: &Connection, id: AgentId) -> StoreResult<()> {
    let n = conn
        .prepare_cached("delete from agent where agent_id = ?1")
        .db()?
        .execute([id])
        .on(Op::Delete("agent (callbacks or users refer to it)"))?;
    touched(n, "agent", id)
}

// ---- wrap code -----------------------------------------------------------------------------------

const WRAP_COLS: &str = "wrap_code_id, campaign_id, code, label, add_to_queue, created_at";

fn wrap_row(r: &Row<'_>) -> rusqlite::Result<WrapCode> {
    Ok(WrapCode {
        id: r.get(0)?,
        campaign_id: r.get(1)?,
        code: r.get(2)?,
        label: r.get(3)?,
        add_to_queue: r.get::<_, Option<String>>(4)?.map(|s| from_json(4, &s)).transpose()?,
        created_at: ts(5, r.get(5)?)?,
    })
}

pub(crate) fn get_wrap_code(conn: &Connection, id: WrapCodeId) -> StoreResult<Option<WrapCode>> {
    let sql = format!("select {WRAP_COLS} from wrap_code where wrap_code_id = ?1");
    conn.prepare_cached(&sql).db()?.query_row([id], wrap_row).optional().db()
}

pub(crate) fn list_wrap_codes(conn: &Connection) -> StoreResult<Vec<WrapCode>> {
    let sql = format!("select {WRAP_COLS} from wrap_code order by wrap_code_id");
    conn.prepare_cached(&sql).db()?.query_map([], wrap_row).db()?.collect::<rusqlite::Result<Vec<_>>>().db()
}

pub(crate) fn create_wrap_code(conn: &Connection, w: &WrapCode) -> StoreResult<WrapCode> {
    conn.prepare_cached(
        "insert into wrap_code (campaign_id, code, label, add_to_queue, created_at) values (?1, ?2, ?3, ?4, ?5)",
    )
    .db()?
    .execute(params![w.campaign_id, w.code, w.label, w.add_to_queue.as_ref().map(to_json), now_ms()])
    .on(Op::Write("wrap code"))?;
    let id = conn.last_insert_rowid();
    get_wrap_code(conn, id)?.ok_or_else(|| missing("wrap code", id))
}

pub(crate) fn update_wrap_code(conn: &Connection, w: &WrapCode) -> StoreResult<WrapCode> {
    let n = conn
        .prepare_cached(
            "update wrap_code set campaign_id = ?2, code = ?3, label = ?4, add_to_queue = ?5 where wrap_code_id = ?1",
        )
        .db()?
        .execute(params![w.id, w.campaign_id, w.code, w.label, w.add_to_queue.as_ref().map(to_json)])
        .on(Op::Write("wrap code"))?;
    touched(n, "wrap code", w.id)?;
    get_wrap_code(conn, w.id)?.ok_or_else(|| missing("wrap code", w.id))
}

pub(crate) fn delete_wrap_code(conn: &Connection, id: WrapCodeId) -> StoreResult<()> {
    let n = conn
        .prepare_cached("delete from wrap_code where wrap_code_id = ?1")
        .db()?
        .execute([id])
        .on(Op::Delete("wrap code"))?;
    touched(n, "wrap code", id)
}
