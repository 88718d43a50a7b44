//! The machine's write ceiling, for `rebound bench`: how many callback rows per second this disk and
//! CPU can make durable with no store around them — the same schema, indexes, pragmas
//! (`synchronous=FULL`) and insert statements as the store (each row with its audit event), in large
//! transactions. Benchmark figures are reported as a fraction of it, so runs on different machines
//! compare. Never used by the server.

use std::path::Path;
use std::time::Instant;

use jiff::{SignedDuration, Timestamp};
use rebound_domain::model::*;
use rebound_domain::state::CallbackState;
use rebound_store::{StoreError, StoreResult};

use crate::error::ResultExt;
use crate::{callbacks, codec, schema};

/// Rows per transaction: large enough that the fsync per commit is noise.
const ROWS_PER_COMMIT: usize = 10_000;

/// Inserts `rows` callback rows (plus their events) into a fresh database at `path` and returns the
/// rate in rows per second. Refuses an existing file.
/// `desired_time(i)` gives the i-th row's desired time (and slot and earliest time), so the caller can
/// insert the same distribution it measures the store with.
pub fn raw_insert_rate(path: &Path, rows: usize, desired_time: &dyn Fn(usize) -> Timestamp) -> StoreResult<f64> {
    if path.exists() {
        return Err(StoreError::Backend(format!("{} already exists", path.display())));
    }
    let mut conn = schema::open_writer(path)?;
    schema::migrate(&mut conn, codec::now_ms())?;
    conn.execute_batch(
        "insert into campaign (campaign_id, name, direction, timezone, region, running, dialling_hours, exceptions, \
         lead_calling_hours, allow_unassigned_agent_callbacks, window_secs, max_attempts, retry_delays, horizon_days, \
         agent_grace_minutes, created_at, updated_at) values (1, 'ceiling', 'outbound', 'UTC', 'GB', 1, '{}', '[]', \
         '[\"08:00\",\"21:00\"]', 0, 120, 3, '{}', 90, 30, 0, 0); \
         insert into queue (queue_id, name, campaign_id, slot_minutes, slot_capacity, duplicate_policy, paused, \
         created_at) values (1, 'ceiling', 1, 5, 1000, 'one', 0, 0);",
    )
    .db()?;
    let base = Timestamp::now();
    let details = serde_json::json!({});
    let started = Instant::now();
    let mut done = 0usize;
    while done < rows {
        let tx = conn.unchecked_transaction().db()?;
        let end = (done + ROWS_PER_COMMIT).min(rows);
        for i in done..end {
            let cb = sample_row(base, i, desired_time(i));
            callbacks::insert_callback(&tx, &cb)?;
            callbacks::insert_event(
                &tx,
                cb.id,
                cb.created_at,
                &cb.created_by,
                "created",
                None,
                Some(cb.state),
                &details,
            )?;
        }
        tx.commit().db()?;
        done = end;
    }
    Ok(rows as f64 / started.elapsed().as_secs_f64().max(f64::EPSILON))
}

/// A scheduled queue callback like the bench's: distinct numbers, spread over 5-minute slots.
fn sample_row(base: Timestamp, i: usize, slot: Timestamp) -> Callback {
    let phone = format!("+4420{:08}", i % 100_000_000);
    Callback {
        id: CallbackId::new(),
        kind: CallbackType::Queue,
        origin: Origin::Import,
        phone_raw: phone.clone(),
        phone,
        campaign_id: 1,
        list_id: None,
        lead_id: None,
        queue_id: Some(1),
        agent_id: None,
        wrap_code: None,
        desired_time: slot,
        timezone: None,
        lead_timezone: None,
        earliest_time: Some(slot),
        window_secs: 120,
        slot_start: Some(slot),
        state: CallbackState::Scheduled,
        result: None,
        attempts: 0,
        priority: 0,
        notes: None,
        data: DataFields::new(),
        created_by: "bench".into(),
        created_at: base,
        updated_at: base,
        queued_at: None,
        offered_to: None,
        lease_id: None,
        hold_until: None,
        recreated_from: None,
        recreated_as: None,
        expires_at: slot + SignedDuration::from_hours(14 * 24),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ceiling_inserts_the_rows_it_reports() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ceiling.db");
        let start = Timestamp::from_second(1_800_000_000).unwrap();
        let desired = |i: usize| start + SignedDuration::from_mins(5 * i as i64);
        assert!(raw_insert_rate(&path, 25, &desired).unwrap() > 0.0);
        let conn = rusqlite::Connection::open(&path).unwrap();
        let n: i64 = conn.query_row("select count(*) from callback", [], |r| r.get(0)).unwrap();
        assert_eq!(n, 25);
        let last: i64 = conn.query_row("select max(desired_time) from callback", [], |r| r.get(0)).unwrap();
        assert_eq!(last, desired(24).as_millisecond(), "rows carry the caller's desired times");
        assert!(raw_insert_rate(&path, 1, &desired).is_err(), "an existing file is refused");
    }
}
