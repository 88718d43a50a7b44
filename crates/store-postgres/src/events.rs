//! The live event stream: the audit tail by event id, and the commit signal.
//!
//! **Why the tail is not simply `id > after`.** On SQLite one writer commits events in id order. On
//! PostgreSQL the identity sequence hands out ids when rows are inserted, not when they commit: while
//! one transaction still holds event 101, another may already have committed 102. A reader that took
//! 102 and moved its cursor there would never see 101. The ids a reader finds missing are either
//! still in flight (they will appear) or gone for good (a rolled-back insert, an event retention
//! removed); a reader must not step over the first kind.
//!
//! So every read also observes the newest id its snapshot sees and which backends of this database
//! are busy (`pg_stat_activity`, whose pid, transaction id and snapshot xmin any role may read),
//! looked at just after the snapshot was taken. An id at or below that newest id was handed out
//! before the snapshot; a transaction still holding it is among the busy ones: it has a transaction
//! id, or is still inside the statement that takes the id (the id is drawn just before the row is
//! written, and the transaction id assigned with that write). Once later looks find each of them
//! gone — its transaction id ended, or its backend idle or in another statement that has none —
//! every missing id up to that newest id is final, for any read made afterwards. [`Horizon`] keeps
//! that settled point for the process; a page stops before the first missing id above it and, if
//! that cut it short, waits briefly for the transactions in flight to end and reads again. A stream
//! is then late by at most the length of the statements in flight in this database, and never skips
//! an event.
//!
//! The commit signal is bumped by the writing sections after their own commits, and by a watcher
//! that notices other nodes' commits (the polling fallback of issue 7) or a settled point moving on
//! (a reader held at a missing id may continue).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rebound_domain::model::CallbackEvent;
use rebound_store::StoreResult;
use tokio_postgres::Row;

use crate::PgStore;
use crate::codec::{EVENT_COLUMNS, event, get};
use crate::error::backend;

/// How often the watcher looks for other nodes' commits (the polling fallback of issue 7).
const WATCH_EVERY: Duration = Duration::from_millis(100);
/// How long a read waits for the transactions in flight to end when a missing id cut its page
/// short (usually a few milliseconds). After that it answers the part it is sure of; the watcher
/// wakes the stream again once the missing ids settle.
const SETTLE_WAIT: Duration = Duration::from_millis(250);
/// The first and the longest pause between two looks at whether they have ended.
const SETTLE_POLL_FIRST: Duration = Duration::from_millis(1);
const SETTLE_POLL_MAX: Duration = Duration::from_millis(20);

/// A backend of this database that was busy when a look was taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Busy {
    pid: i32,
    /// Its transaction id, once it has written something.
    xid: Option<i64>,
    /// Its snapshot's xmin while it runs a statement (tells one statement from the next).
    xmin: Option<i64>,
}

impl Busy {
    /// What became of a backend that was busy at an earlier look, by what a later look saw:
    /// `None` when whatever it held then has ended.
    fn still(self, now: &[Busy]) -> Option<Busy> {
        match self.xid {
            // That transaction is still running (whichever backend shows it).
            Some(xid) => now.iter().any(|b| b.xid == Some(xid)).then_some(self),
            None => {
                let later = now.iter().find(|b| b.pid == self.pid)?;
                if later.xid.is_some() {
                    // It wrote since: follow that transaction (maybe a later one; waiting is safe).
                    Some(Busy { pid: self.pid, ..*later })
                } else if later.xmin == self.xmin {
                    // Maybe the same statement still, about to write.
                    Some(self)
                } else {
                    // Another statement without a transaction id: the one that was running ended.
                    None
                }
            }
        }
    }
}

/// What one look at the audit tail saw.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Observation {
    /// The newest event id the statement's snapshot sees (0 when none).
    max_id: i64,
    /// The backends of this database busy just after (not the one looking).
    busy: Vec<Busy>,
}

/// A point of the tail: every id up to `max_id` is final once none of `busy` holds anything.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Mark {
    max_id: i64,
    busy: Vec<Busy>,
}

/// How far this process knows the audit tail to be final (see the module docs).
#[derive(Debug, Default)]
pub(crate) struct Horizon {
    marks: Mutex<Marks>,
}

#[derive(Debug, Default)]
struct Marks {
    /// Every missing id up to this one is final.
    settled: i64,
    /// A newer point waiting for what was busy when it was seen.
    pending: Option<Mark>,
}

impl Horizon {
    fn marks(&self) -> std::sync::MutexGuard<'_, Marks> {
        self.marks.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Every missing id up to this one is final for a read *issued after this call* (a read issued
    /// earlier may have taken its snapshot before the transactions that settled it committed).
    fn settled(&self) -> i64 {
        self.marks().settled
    }

    /// Learns what a look saw: the pending point settles when nothing it waits for is busy any
    /// more; the look becomes the next pending point (or settles at once when nothing was busy).
    fn observe(&self, obs: &Observation) {
        let mut marks = self.marks();
        if let Some(mut pending) = marks.pending.take() {
            pending.busy = pending.busy.iter().filter_map(|b| b.still(&obs.busy)).collect();
            if pending.busy.is_empty() {
                marks.settled = marks.settled.max(pending.max_id);
            } else {
                marks.pending = Some(pending);
            }
        }
        if marks.pending.is_none() && obs.max_id > marks.settled {
            if obs.busy.is_empty() {
                marks.settled = obs.max_id;
            } else {
                marks.pending = Some(Mark { max_id: obs.max_id, busy: obs.busy.clone() });
            }
        }
    }
}

/// The part of a page a reader after `after` may be given: events up to the first missing id above
/// `settled`. Answers whether the page was cut short.
fn settled_prefix(after: i64, mut events: Vec<CallbackEvent>, settled: i64) -> (Vec<CallbackEvent>, bool) {
    let mut previous = after;
    let keep = events
        .iter()
        .take_while(|e| {
            let gap_is_final = e.id == previous + 1 || e.id - 1 <= settled;
            previous = e.id;
            gap_is_final
        })
        .count();
    let cut = keep < events.len();
    events.truncate(keep);
    (events, cut)
}

/// The observation columns, usable beside any `from`: the newest id, and the busy backends as three
/// arrays (pid, xid, xmin). `pg_stat_activity` is read after the statement's snapshot was taken, so
/// a transaction in flight at the snapshot is either listed or already ended.
const OBSERVE: &str = "(select coalesce(max(callback_event_id), 0) from callback_event), busy.pids, busy.xids, \
    busy.xmins";

/// The `from` item [`OBSERVE`] reads the busy backends from.
const BUSY: &str = "(select coalesce(array_agg(pid), '{}') as pids, \
    coalesce(array_agg(backend_xid::text::bigint), '{}') as xids, \
    coalesce(array_agg(backend_xmin::text::bigint), '{}') as xmins \
    from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid() \
    and (backend_xid is not null or backend_xmin is not null)) busy";

fn observation(row: &Row, first: usize) -> StoreResult<Observation> {
    let pids: Vec<i32> = get(row, first + 1)?;
    let xids: Vec<Option<i64>> = get(row, first + 2)?;
    let xmins: Vec<Option<i64>> = get(row, first + 3)?;
    let busy = pids.into_iter().zip(xids).zip(xmins).map(|((pid, xid), xmin)| Busy { pid, xid, xmin }).collect();
    Ok(Observation { max_id: get(row, first)?, busy })
}

async fn observe(client: &deadpool_postgres::Object) -> StoreResult<Observation> {
    let statement = client.prepare_cached(&format!("select {OBSERVE} from {BUSY}")).await.map_err(backend)?;
    observation(&client.query_one(&statement, &[]).await.map_err(backend)?, 0)
}

/// Up to `limit` events after `after` and what the same statement observed.
async fn read_page(
    client: &deadpool_postgres::Object,
    after: i64,
    limit: u32,
) -> StoreResult<(Vec<CallbackEvent>, Observation)> {
    let sql = format!(
        "select e.*, {OBSERVE} from {BUSY} left join lateral \
         (select {EVENT_COLUMNS} from callback_event where callback_event_id > $1 \
          order by callback_event_id limit $2) e on true order by e.callback_event_id"
    );
    let statement = client.prepare_cached(&sql).await.map_err(backend)?;
    let rows = client.query(&statement, &[&after, &i64::from(limit)]).await.map_err(backend)?;
    let Some(first) = rows.first() else { return Err(backend("the event page answered no row".to_string())) };
    let obs = observation(first, 8)?;
    let mut events = Vec::with_capacity(rows.len());
    for row in &rows {
        // The left join's one row when there is no event at all.
        if get::<Option<i64>>(row, 0)?.is_some() {
            events.push(event(row)?);
        }
    }
    Ok((events, obs))
}

/// Looks again and again (until `deadline` at most) until ids up to `id` are final.
async fn wait_until_settled(
    store: &PgStore,
    client: &deadpool_postgres::Object,
    id: i64,
    deadline: Instant,
) -> StoreResult<()> {
    let mut pause = SETTLE_POLL_FIRST;
    while store.events.settled() < id && Instant::now() < deadline {
        tokio::time::sleep(pause.min(deadline.saturating_duration_since(Instant::now()))).await;
        pause = (pause * 2).min(SETTLE_POLL_MAX);
        store.events.observe(&observe(client).await?);
    }
    Ok(())
}

pub async fn events_after(store: &PgStore, after: i64, limit: u32) -> StoreResult<Vec<CallbackEvent>> {
    if limit == 0 {
        return Ok(Vec::new());
    }
    let client = store.client().await?;
    let deadline = Instant::now() + SETTLE_WAIT;
    loop {
        let settled = store.events.settled();
        let (events, obs) = read_page(&client, after, limit).await?;
        store.events.observe(&obs);
        let (events, cut) = settled_prefix(after, events, settled);
        if !cut || Instant::now() >= deadline {
            return Ok(events);
        }
        // Read again once the first missing id is final: if it was in flight, it is visible then.
        let missing = events.last().map_or(after, |e| e.id) + 1;
        wait_until_settled(store, &client, missing, deadline).await?;
    }
}

/// The newest event id such that no older one is still in flight: a stream that starts there
/// misses nothing. That is the newest id once the ids up to it are final (at once, when nothing was
/// running or they have no gap); if they do not settle in time, the end of the unbroken run of ids
/// after the settled point.
pub async fn last_event_id(store: &PgStore) -> StoreResult<i64> {
    let client = store.client().await?;
    let deadline = Instant::now() + SETTLE_WAIT;
    loop {
        let settled = store.events.settled();
        let obs = observe(&client).await?;
        store.events.observe(&obs);
        if settled >= obs.max_id || obs.busy.is_empty() || unbroken(&client, settled, obs.max_id).await? {
            return Ok(obs.max_id);
        }
        if Instant::now() >= deadline {
            return run_end(&client, settled).await;
        }
        wait_until_settled(store, &client, obs.max_id, deadline).await?;
    }
}

/// Whether every id in `(from, to]` is present (checked only for short ranges: a count is linear).
async fn unbroken(client: &deadpool_postgres::Object, from: i64, to: i64) -> StoreResult<bool> {
    const CHECKED: i64 = 10_000;
    if to - from > CHECKED {
        return Ok(false);
    }
    let statement = client
        .prepare_cached("select count(*) from callback_event where callback_event_id > $1 and callback_event_id <= $2")
        .await
        .map_err(backend)?;
    let present: i64 = client.query_one(&statement, &[&from, &to]).await.map_err(backend)?.get(0);
    Ok(present == to - from)
}

/// The last id of the unbroken run of ids right after `settled` (`settled` itself if the next id
/// is missing).
async fn run_end(client: &deadpool_postgres::Object, settled: i64) -> StoreResult<i64> {
    let statement = client
        .prepare_cached(
            "select case when exists (select 1 from callback_event where callback_event_id = $1::bigint + 1) then \
             (select e.callback_event_id from callback_event e where e.callback_event_id > $1::bigint and not exists \
              (select 1 from callback_event n where n.callback_event_id = e.callback_event_id + 1) \
              order by e.callback_event_id limit 1) else $1::bigint end",
        )
        .await
        .map_err(backend)?;
    let end: Option<i64> = client.query_one(&statement, &[&settled]).await.map_err(backend)?.get(0);
    Ok(end.unwrap_or(settled))
}

pub fn commit_signal(store: &PgStore) -> tokio::sync::watch::Receiver<u64> {
    store.commit_signal.subscribe()
}

/// Watches the audit tail for commits this process did not make (another node's) and bumps the
/// commit signal when it grows, or when ids a reader may be held at settle. Ends when the store is
/// dropped.
pub(crate) fn start_watcher(store: &PgStore) {
    let signal = Arc::downgrade(&store.commit_signal);
    let horizon = Arc::downgrade(&store.events);
    let pool = store.pool.clone();
    tokio::spawn(async move {
        let mut seen: Option<(i64, i64)> = None;
        let mut tick = tokio::time::interval(WATCH_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let (Some(signal), Some(horizon)) = (signal.upgrade(), horizon.upgrade()) else { return };
            let Ok(client) = pool.get().await else { continue };
            let Ok(obs) = observe(&client).await else { continue };
            drop(client);
            horizon.observe(&obs);
            let now = (obs.max_id, horizon.settled());
            if seen.is_some_and(|(max_id, settled)| now.0 > max_id || now.1 > settled) {
                signal.send_modify(|n| *n = n.wrapping_add(1));
            }
            seen = Some(now);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::Timestamp;
    use rebound_domain::model::CallbackId;

    fn ev(id: i64) -> CallbackEvent {
        CallbackEvent {
            id,
            callback_id: CallbackId(uuid::Uuid::nil()),
            at: Timestamp::UNIX_EPOCH,
            actor: "t".into(),
            action: "created".into(),
            from_state: None,
            to_state: None,
            details: serde_json::Value::Null,
        }
    }

    fn ids(events: &[CallbackEvent]) -> Vec<i64> {
        events.iter().map(|e| e.id).collect()
    }

    #[test]
    fn a_page_stops_before_the_first_missing_id_that_may_still_come() {
        let page = || vec![ev(11), ev(12), ev(14), ev(15)];
        let (kept, cut) = settled_prefix(10, page(), 0);
        assert_eq!((ids(&kept), cut), (vec![11, 12], true));
        // 13 is final once the settled point covers it.
        let (kept, cut) = settled_prefix(10, page(), 13);
        assert_eq!((ids(&kept), cut), (vec![11, 12, 14, 15], false));
        // A missing id right after the cursor holds the whole page back.
        let (kept, cut) = settled_prefix(9, page(), 0);
        assert_eq!((ids(&kept), cut), (vec![], true));
        assert!(!settled_prefix(10, Vec::new(), 0).1);
    }

    fn busy(pid: i32, xid: Option<i64>, xmin: Option<i64>) -> Busy {
        Busy { pid, xid, xmin }
    }

    #[test]
    fn a_point_settles_once_what_was_busy_when_it_was_seen_has_ended() {
        let horizon = Horizon::default();
        let look = |max_id, busy: &[Busy]| Observation { max_id, busy: busy.to_vec() };
        // Transactions 7 and 8 running: ids up to 20 wait for them.
        horizon.observe(&look(20, &[busy(1, Some(7), Some(7)), busy(2, Some(8), Some(7))]));
        assert_eq!(horizon.settled(), 0);
        // 8 still runs (9 started since: it does not matter for 20).
        horizon.observe(&look(25, &[busy(2, Some(8), Some(8)), busy(3, Some(9), Some(8))]));
        assert_eq!(horizon.settled(), 0);
        // 7 and 8 ended: 20 is final; this look is the next point.
        horizon.observe(&look(30, &[busy(3, Some(9), Some(9)), busy(4, Some(10), Some(9))]));
        assert_eq!(horizon.settled(), 20);
        horizon.observe(&look(31, &[busy(4, Some(10), Some(10))]));
        assert_eq!(horizon.settled(), 20, "10 still runs");
        horizon.observe(&look(31, &[busy(5, Some(11), Some(11))]));
        assert_eq!(horizon.settled(), 30);
        // Nothing busy: what the look saw is final at once.
        horizon.observe(&look(31, &[]));
        assert_eq!(horizon.settled(), 31);
        horizon.observe(&look(40, &[]));
        assert_eq!(horizon.settled(), 40);
    }

    #[test]
    fn a_statement_without_a_transaction_id_is_followed_until_it_ends() {
        let horizon = Horizon::default();
        let look = |max_id, busy: &[Busy]| Observation { max_id, busy: busy.to_vec() };
        // Backend 1 is inside a statement (xmin 50) that may have drawn an id it has not written yet.
        horizon.observe(&look(10, &[busy(1, None, Some(50))]));
        // The same statement still: wait.
        horizon.observe(&look(10, &[busy(1, None, Some(50))]));
        assert_eq!(horizon.settled(), 0);
        // It wrote: now its transaction is what to wait for.
        horizon.observe(&look(12, &[busy(1, Some(60), Some(50))]));
        assert_eq!(horizon.settled(), 0);
        // That transaction ended; the backend runs a read-only statement now.
        horizon.observe(&look(12, &[busy(1, None, Some(61))]));
        assert_eq!(horizon.settled(), 10);
        // An idle backend (not listed) ended whatever it ran.
        horizon.observe(&look(12, &[]));
        assert_eq!(horizon.settled(), 12);
    }
}
