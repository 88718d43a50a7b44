//! The dispatch cells: how promptly and how fast the engine makes callbacks happen.
//!
//! - `lateness`: `--due` callbacks due evenly over 5 s, on top of `--future` callbacks due from
//!   tomorrow on; the lateness of each is the instant its `promoted` event reaches a client of
//!   `GET /events` minus its earliest dialable time. End to end, as a console or an integration
//!   sees it: the engine's wake-up, the durable commit, and the live stream's delivery.
//! - `burst`: `--burst` callbacks due at one instant; how long until the last is `QUEUED` (its
//!   `promoted` event has arrived), and a count of `QUEUED` ones to confirm.
//! - `lifecycle`: `--lifecycle` immediate callbacks imported while a no-op dialler claims and reports
//!   `connected` for everything it gets (`POST /dialer/claim`, `POST /dialer/outcomes`); callbacks per
//!   second from the first import to the last `COMPLETED`.
//! - `idle`: the server process's CPU use over 20 s while nothing is due (after the cells above,
//!   with the `--future` callbacks waiting).
//!
//! Each cell uses its own campaign (open all day, every day, lead calling hours all day, duplicate
//! check off) so its callbacks are dialable the moment they are due.

use std::collections::HashSet;
use std::ops::ControlFlow;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};

use crate::http::HttpConn;
use crate::{BenchServer, Latency, MakeBody, e164, import_bodies, post};

/// A campaign and queue every callback of which is dialable as soon as it is due.
struct Fixture {
    campaign_id: i64,
    queue_id: i64,
}

async fn fixture(server: &BenchServer, name: &str) -> anyhow::Result<Fixture> {
    let mut conn = HttpConn::connect(server.addr, &server.token).await?;
    let all_day = json!([["00:00", "24:00"]]);
    let campaign = post(
        &mut conn,
        "/api/v1/campaigns",
        &json!({
            "name": name, "direction": "outbound", "timezone": "Europe/London", "region": "GB", "running": true,
            "dialling_hours": {"mon": all_day, "tue": all_day, "wed": all_day, "thu": all_day,
                               "fri": all_day, "sat": all_day, "sun": all_day},
            "lead_calling_hours": ["00:00", "24:00"],
        }),
    )
    .await?;
    let campaign_id = campaign["id"].as_i64().context("campaign id")?;
    let queue = post(
        &mut conn,
        "/api/v1/queues",
        &json!({"name": format!("{name} queue"), "campaign_id": campaign_id, "slot_minutes": 5,
                "slot_capacity": 1_000_000, "duplicate_policy": "off"}),
    )
    .await?;
    Ok(Fixture { campaign_id, queue_id: queue["id"].as_i64().context("queue id")? })
}

/// Bodies of queue callbacks of `fixture`, the i-th desired at `desired(i)` (`None` = immediate).
fn bodies(
    fixture: &Fixture,
    phone_offset: usize,
    desired: impl Fn(usize) -> Option<Timestamp> + Send + Sync + 'static,
) -> MakeBody {
    let (campaign_id, queue_id) = (fixture.campaign_id, fixture.queue_id);
    Arc::new(move |i| {
        let when = desired(i).map(|t| format!(r#","desired_time":"{t}""#)).unwrap_or_default();
        format!(
            r#"{{"type":"queue","campaign_id":{campaign_id},"queue_id":{queue_id},"phone":"{}"{when}}}"#,
            e164(phone_offset + i)
        )
        .into_bytes()
    })
}

/// A client of `GET /api/v1/events` that records when each `promoted` event arrives.
struct PromotionWatch {
    /// (earliest time, promotion time, arrival at this client) per promotion.
    seen: Arc<Mutex<Vec<(Timestamp, Timestamp, Timestamp)>>>,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl PromotionWatch {
    /// Connects and waits until the stream is open, so no event of what follows is missed.
    async fn start(server: &BenchServer, expect: usize) -> anyhow::Result<PromotionWatch> {
        let seen = Arc::new(Mutex::new(Vec::with_capacity(expect)));
        let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
        let mut conn = HttpConn::connect(server.addr, &server.token).await?;
        let sink = seen.clone();
        let task = tokio::spawn(async move {
            let mut ready = Some(ready_tx);
            let mut pending = String::new();
            let mut count = 0usize;
            conn.get_streamed("/api/v1/events", |data| {
                let arrived = Timestamp::now();
                if let Some(tx) = ready.take() {
                    let _ = tx.send(());
                }
                pending.push_str(&String::from_utf8_lossy(data));
                while let Some(end) = pending.find("\n\n") {
                    let block: String = pending.drain(..end + 2).collect();
                    if let Some((earliest, at)) = promoted_earliest(&block) {
                        sink.lock().unwrap_or_else(|e| e.into_inner()).push((earliest, at, arrived));
                        count += 1;
                    }
                }
                if count >= expect { ControlFlow::Break(()) } else { ControlFlow::Continue(()) }
            })
            .await?;
            Ok(())
        });
        // The server sends headers (and a first keep-alive or event) as soon as it subscribed.
        tokio::time::timeout(Duration::from_secs(10), ready_rx)
            .await
            .context("the event stream did not open within 10 s")?
            .ok();
        Ok(PromotionWatch { seen, task })
    }

    /// Waits until the stream has delivered `expect` promotions (or `limit` passes).
    async fn finish(self, limit: Duration) -> anyhow::Result<Vec<(Timestamp, Timestamp, Timestamp)>> {
        match tokio::time::timeout(limit, self.task).await {
            Ok(joined) => joined??,
            Err(_) => {
                let got = self.seen.lock().unwrap_or_else(|e| e.into_inner()).len();
                bail!("only {got} promotions arrived within {limit:?}");
            }
        }
        Ok(std::mem::take(&mut *self.seen.lock().unwrap_or_else(|e| e.into_inner())))
    }
}

/// The earliest time of a `promoted` callback event in one SSE block, if it is one, and the
/// event's own time (when the engine promoted it).
fn promoted_earliest(block: &str) -> Option<(Timestamp, Timestamp)> {
    let data = block.lines().find_map(|l| l.strip_prefix("data:"))?;
    let event: Value = serde_json::from_str(data.trim()).ok()?;
    if event["action"] != "promoted" {
        return None;
    }
    Some((event["details"]["earliest_time"].as_str()?.parse().ok()?, event["at"].as_str()?.parse().ok()?))
}

/// Lateness of promotions: p50, p99, and the largest; also the smallest (negative = promoted early).
pub(crate) struct Lateness {
    pub latency: Latency,
    pub max: Duration,
    pub earliest_ms: f64,
    /// Of the lateness, the part from the promotion to the client (commit and live stream), p50.
    pub delivery_p50: Duration,
}

pub(crate) async fn lateness_cell(server: &BenchServer, due: usize, phone_offset: usize) -> anyhow::Result<Lateness> {
    let fixture = fixture(server, "Bench lateness").await?;
    let watch = PromotionWatch::start(server, due).await?;
    // Start 3 s out so the import (a fraction of a second) is done before the first is due.
    let first = Timestamp::now() + SignedDuration::from_secs(3);
    let step_us = 5_000_000 / due.max(1) as i64;
    let make = bodies(&fixture, phone_offset, move |i| Some(first + SignedDuration::from_micros(step_us * i as i64)));
    import_bodies(server, 0, due, make).await?;
    let seen = watch.finish(Duration::from_secs(60)).await?;
    let late_ms: Vec<f64> =
        seen.iter().map(|(earliest, _, arrived)| arrived.duration_since(*earliest).as_secs_f64() * 1000.0).collect();
    let delivery =
        Latency::of(seen.iter().map(|(_, at, arrived)| arrived.duration_since(*at).unsigned_abs()).collect());
    let earliest_ms = late_ms.iter().copied().fold(f64::INFINITY, f64::min);
    let samples: Vec<Duration> = late_ms.iter().map(|ms| Duration::from_secs_f64(ms.max(0.0) / 1000.0)).collect();
    let max = samples.iter().copied().max().unwrap_or_default();
    Ok(Lateness { latency: Latency::of(samples), max, earliest_ms, delivery_p50: delivery.p50 })
}

/// How long after the shared due instant all `n` were `QUEUED`: the campaign's `QUEUED` count is
/// read every 10 ms (a live stream would drop events for a client slower than a 50,000-event burst,
/// and rightly: it tells such a client to resync).
pub(crate) async fn burst_cell(server: &BenchServer, n: usize, phone_offset: usize) -> anyhow::Result<Duration> {
    let fixture = fixture(server, "Bench burst").await?;
    let due = Timestamp::now() + SignedDuration::from_secs(5);
    import_bodies(server, 0, n, bodies(&fixture, phone_offset, move |_| Some(due))).await?;
    if Timestamp::now() >= due {
        bail!("the import of {n} took longer than the 5 s lead time; the burst would not be at one instant");
    }
    let mut conn = HttpConn::connect(server.addr, &server.token).await?;
    let path = format!("/api/v1/callbacks?campaign_id={}&state=QUEUED&page_size=1", fixture.campaign_id);
    let give_up = due + SignedDuration::from_secs(60);
    loop {
        let queued = conn.get(&path).await?.json()?["total"].as_u64().context("total")?;
        let now = Timestamp::now();
        if queued as usize >= n {
            return Ok(now.duration_since(due).unsigned_abs());
        }
        if now > give_up {
            bail!("only {queued} of {n} were QUEUED a minute after they were due");
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// The engine's own view of dispatch lag (earliest time → promotion commit), from the
/// `rebound_dispatch_lag_seconds` histogram of `/metrics`: the share within each bucket bound.
pub(crate) async fn engine_lag_shares(server: &BenchServer, bounds: &[&str]) -> anyhow::Result<Vec<f64>> {
    let mut conn = HttpConn::connect(server.addr, &server.token).await?;
    let text = conn.get("/metrics").await?.text();
    let value = |name: &str| -> Option<f64> {
        text.lines().find(|l| l.starts_with(name)).and_then(|l| l.rsplit(' ').next()).and_then(|v| v.parse().ok())
    };
    let count = value("rebound_dispatch_lag_seconds_count").context("no dispatch lag histogram")?;
    Ok(bounds
        .iter()
        .map(|b| value(&format!("rebound_dispatch_lag_seconds_bucket{{le=\"{b}\"}}")).unwrap_or(0.0) / count.max(1.0))
        .collect())
}

/// The part of a claim's answer a dialler uses.
#[derive(serde::Deserialize)]
struct Leased {
    items: Vec<LeasedCallback>,
}

#[derive(serde::Deserialize)]
struct LeasedCallback {
    id: String,
    lease_id: Option<String>,
}

/// The part of an outcomes answer a dialler checks.
#[derive(serde::Deserialize)]
struct Reported {
    items: Vec<ReportedItem>,
}

#[derive(serde::Deserialize)]
struct ReportedItem {
    ok: bool,
}

/// What the no-op dialler achieved.
pub(crate) struct Lifecycle {
    pub rate: f64,
    pub claims: usize,
}

pub(crate) async fn lifecycle_cell(server: &BenchServer, n: usize, phone_offset: usize) -> anyhow::Result<Lifecycle> {
    const DIALLERS: usize = 4;
    const CLAIM: usize = 1_000;
    let fixture = fixture(server, "Bench dialler").await?;
    let completed = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let claims = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let started = Instant::now();
    let importer = {
        let make = bodies(&fixture, phone_offset, |_| None);
        import_bodies(server, 0, n, make)
    };
    let mut diallers = Vec::new();
    for _ in 0..DIALLERS {
        let mut conn = HttpConn::connect(server.addr, &server.token).await?;
        let (completed, claims) = (completed.clone(), claims.clone());
        let claim = serde_json::to_vec(&json!({"campaign_id": fixture.campaign_id, "max": CLAIM, "lease_secs": 300}))?;
        diallers.push(tokio::spawn(async move {
            let mut seen = HashSet::new();
            while completed.load(std::sync::atomic::Ordering::Relaxed) < n {
                let reply = conn.post("/api/v1/dialer/claim", &claim).await?;
                if reply.status != 200 {
                    bail!("claim answered {}: {}", reply.status, reply.text());
                }
                // A dialler reads what it needs from a lease: the id and the lease id.
                let leased: Leased = serde_json::from_slice(&reply.body).context("claim answer")?;
                let items = leased.items;
                if items.is_empty() {
                    tokio::time::sleep(Duration::from_millis(2)).await;
                    continue;
                }
                claims.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let mut outcomes = Vec::with_capacity(items.len());
                for item in &items {
                    if !seen.insert(item.id.clone()) {
                        bail!("callback {} was leased twice", item.id);
                    }
                    outcomes.push(json!({"id": item.id, "outcome": "connected", "lease_id": item.lease_id}));
                }
                let reply =
                    conn.post("/api/v1/dialer/outcomes", &serde_json::to_vec(&json!({"items": outcomes}))?).await?;
                if reply.status != 200 {
                    bail!("outcomes answered {}: {}", reply.status, reply.text());
                }
                let reported: Reported = serde_json::from_slice(&reply.body).context("outcomes answer")?;
                let done = reported.items.iter().filter(|r| r.ok).count();
                if done != items.len() {
                    bail!("{} of {} outcomes were refused", items.len() - done, items.len());
                }
                completed.fetch_add(done, std::sync::atomic::Ordering::Relaxed);
            }
            anyhow::Ok(())
        }));
    }
    importer.await?;
    for d in diallers {
        tokio::time::timeout(Duration::from_secs(600), d)
            .await
            .context("the dialler did not finish in 10 minutes")???;
    }
    let rate = n as f64 / started.elapsed().as_secs_f64();
    Ok(Lifecycle { rate, claims: claims.load(std::sync::atomic::Ordering::Relaxed) })
}

/// CPU time of this process (all threads, live and exited) in seconds, from `/proc/self/stat`
/// (utime + stime, in the kernel's USER_HZ ticks of 1/100 s on Linux).
fn process_cpu_secs() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which may hold spaces) start at field 3.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / 100.0)
}

/// Percent of one core the process used over `window` while nothing was due.
pub(crate) async fn idle_cpu_cell(window: Duration) -> anyhow::Result<f64> {
    // Let the cells before settle (the last commits, WAL checkpoint).
    tokio::time::sleep(Duration::from_secs(3)).await;
    let before = process_cpu_secs().context("/proc/self/stat is not readable")?;
    tokio::time::sleep(window).await;
    let after = process_cpu_secs().context("/proc/self/stat is not readable")?;
    Ok((after - before) / window.as_secs_f64() * 100.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_promoted_event_block_yields_its_earliest_time() {
        let block = "id: 7\nevent: callback\ndata: {\"action\":\"promoted\",\"details\":{\"earliest_time\":\"2026-03-02T10:00:00.5Z\"}}\n\n";
        let block = block.replace("\"action\"", "\"at\":\"2026-03-02T10:00:00.501Z\",\"action\"");
        assert_eq!(
            promoted_earliest(&block),
            Some(("2026-03-02T10:00:00.5Z".parse().unwrap(), "2026-03-02T10:00:00.501Z".parse().unwrap()))
        );
        let other = "id: 8\nevent: callback\ndata: {\"action\":\"offered\",\"details\":{}}\n\n";
        assert_eq!(promoted_earliest(other), None);
        assert_eq!(promoted_earliest(": keep-alive\n\n"), None);
    }

    #[test]
    fn process_cpu_time_is_readable_and_grows() {
        let before = process_cpu_secs().expect("readable");
        let mut x = 0u64;
        let t = Instant::now();
        while t.elapsed() < Duration::from_millis(50) {
            x = x.wrapping_add(std::hint::black_box(1));
        }
        assert!(x > 0);
        assert!(process_cpu_secs().expect("readable") >= before);
    }
}
