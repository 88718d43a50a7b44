//! PostgreSQL itself killed mid-load (issue 7): a throwaway cluster of the test's own, one
//! `rebound serve` on it under load from every kind of create (single creates, which the create
//! worker groups; one-item imports; large imports, written by `COPY`), then SIGKILL of the
//! postmaster and every backend, so that nothing of PostgreSQL's shutdown runs, and a restart,
//! which runs crash recovery. The same `rebound serve` keeps running
//! throughout. Afterwards:
//! - **none is lost**: every callback whose create was acknowledged exists, exactly once;
//! - **nothing is half-written**: every callback has its `created` event;
//! - **the node recovers by itself**: creates are acknowledged again, and the engine (whose
//!   wake-up connection died with the database) goes on dispatching;
//! - **none is stuck**: agents and a dialler worked through the crash (offers and leases were in
//!   flight when it came); afterwards every callback reaches `COMPLETED`, along one unbroken chain
//!   of steps.
//!
//! Needs the PostgreSQL server binaries (`REBOUND_TEST_PG_BIN`, else the newest
//! `/usr/lib/postgresql/*/bin`); as root it runs them as the `postgres` user, as TESTING.md does.
//! Behind the `pg-tests` feature; `.ci/run` runs it.
#![cfg(feature = "pg-tests")]

mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::ServeProcess;
use common::load::{Acked, Api, fixture, phone, work_until_done};
use serde_json::{Value, json};

const TOKEN: &str = "pg-crash-bootstrap-token-0123456789";
/// Concurrent single creates: enough that the create worker makes groups of many.
const CREATORS: usize = 24;
/// Items in each large import (above the store's `COPY` threshold).
const LARGE_IMPORT: usize = 500;
/// Agents taking offers through the crash (a dialler takes leases besides).
const AGENTS: usize = 2;

// ---- the cluster --------------------------------------------------------------------------------

/// A PostgreSQL cluster in a temporary directory, its server a child of the test.
struct Cluster {
    bin: PathBuf,
    dir: tempfile::TempDir,
    port: u16,
    server: Option<Child>,
}

fn pg_bin() -> PathBuf {
    if let Ok(bin) = std::env::var("REBOUND_TEST_PG_BIN") {
        return PathBuf::from(bin);
    }
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .expect("the PostgreSQL server binaries (REBOUND_TEST_PG_BIN or /usr/lib/postgresql/*/bin)")
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .filter(|bin| bin.join("postgres").exists())
        .collect();
    versions
        .sort_by_key(|bin| bin.parent().and_then(|v| v.file_name()?.to_str()?.parse::<u32>().ok()).unwrap_or_default());
    versions.pop().expect("a PostgreSQL server under /usr/lib/postgresql/*/bin")
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|o| o.stdout.starts_with(b"0\n"))
}

/// `program` from the PostgreSQL binaries, as the `postgres` user when the test runs as root
/// (initdb and postgres refuse to run as root).
fn pg_command(bin: &Path, program: &str) -> Command {
    let program = bin.join(program);
    if is_root() {
        let mut command = Command::new("runuser");
        command.args(["-u", "postgres", "--"]).arg(program);
        command
    } else {
        Command::new(program)
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

impl Cluster {
    fn create() -> Cluster {
        let bin = pg_bin();
        let dir = tempfile::tempdir().unwrap();
        if is_root() {
            let status = Command::new("chown").args(["postgres:postgres"]).arg(dir.path()).status().unwrap();
            assert!(status.success(), "chown of the cluster directory");
        }
        let status = pg_command(&bin, "initdb")
            .arg("-D")
            .arg(dir.path().join("data"))
            .args(["-U", "rebound", "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"])
            .stdout(Stdio::null())
            .status()
            .expect("initdb runs");
        assert!(status.success(), "initdb");
        let mut cluster = Cluster { bin, dir, port: free_port(), server: None };
        cluster.start();
        cluster
    }

    fn url(&self) -> String {
        format!("postgresql://rebound@127.0.0.1:{}/postgres", self.port)
    }

    /// Starts the server (crash recovery first, after a kill) and waits until it takes connections.
    fn start(&mut self) {
        let log = std::fs::OpenOptions::new().create(true).append(true).open(self.dir.path().join("log")).unwrap();
        let server = {
            pg_command(&self.bin, "postgres")
                .arg("-D")
                .arg(self.dir.path().join("data"))
                .args(["-c", "listen_addresses=127.0.0.1", "-p", &self.port.to_string(), "-k"])
                .arg(self.dir.path())
                .args(["-c", "max_connections=100"])
                .stdout(log.try_clone().unwrap())
                .stderr(log)
                .spawn()
                .expect("postgres starts")
        };
        self.server = Some(server);
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let ready = Command::new(self.bin.join("pg_isready"))
                .args(["-q", "-h", "127.0.0.1", "-p", &self.port.to_string()])
                .status()
                .is_ok_and(|s| s.success());
            if ready {
                return;
            }
            assert!(Instant::now() < deadline, "PostgreSQL did not start: {}", self.log());
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// SIGKILL to the postmaster and every backend: nothing of PostgreSQL's shutdown runs. The
    /// postmaster is stopped first so that it forks no backend the kill would miss (each backend is a
    /// process group of its own, so one signal to a group cannot do it), and is killed last, while
    /// its parent — this test, or `runuser` — is there to reap it: a dead postmaster left a zombie
    /// would make the restart refuse its lock file.
    fn kill(&mut self) {
        let mut server = self.server.take().expect("the server runs");
        let postmaster = if is_root() { children(server.id()).pop().expect("runuser's postgres") } else { server.id() };
        signal("STOP", postmaster);
        for backend in children(postmaster) {
            signal("KILL", backend);
        }
        signal("KILL", postmaster);
        // `runuser` stops itself when its child stops (job control); it must go on to reap it.
        signal("CONT", server.id());
        server.wait().unwrap();
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("log")).unwrap_or_default()
    }
}

/// The child processes of `pid`.
fn children(pid: u32) -> Vec<u32> {
    let out = Command::new("pgrep").args(["-P", &pid.to_string()]).output().expect("pgrep runs");
    String::from_utf8_lossy(&out.stdout).lines().filter_map(|l| l.trim().parse().ok()).collect()
}

fn signal(name: &str, pid: u32) {
    // A backend may have exited by itself meanwhile: the answer does not matter.
    let _ = Command::new("kill").args([&format!("-{name}"), &pid.to_string()]).status();
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if self.server.is_some() {
            self.kill();
        }
    }
}

// ---- the load -----------------------------------------------------------------------------------

/// What the load saw: the acknowledged ids, and how many answers were failures the database's
/// absence explains (a 5xx, or no answer).
#[derive(Default)]
struct Seen {
    acked: Acked,
    /// Acknowledged single creates (the create worker's).
    singles: AtomicUsize,
    unavailable: AtomicUsize,
}

impl Seen {
    /// Notes an answer: 2xx ids as acknowledged; 5xx (the database is gone) as unavailable;
    /// anything else fails the test.
    fn note(&self, answer: reqwest::Result<(u16, Value)>, ids: impl Fn(&Value) -> Vec<String>) {
        match answer {
            Ok((200 | 201, body)) => self.acked.lock().unwrap().extend(ids(&body)),
            Ok((500..=599, _)) | Err(_) => {
                self.unavailable.fetch_add(1, Ordering::Relaxed);
            }
            Ok((status, body)) => panic!("a create answered {status}: {body}"),
        }
    }
}

fn created_ids(body: &Value) -> Vec<String> {
    match body["items"].as_array() {
        Some(items) => items.iter().filter_map(|i| i["id"].as_str().map(str::to_string)).collect(),
        None => body["id"].as_str().map(str::to_string).into_iter().collect(),
    }
}

/// Creates of every kind until `stop`, each task numbering its own from `task * 100_000` on.
fn start_load(api: &Api, (campaign_id, queue_id): (i64, i64), seen: &Arc<Seen>, stop: &Arc<AtomicBool>) {
    let item =
        move |i: usize| json!({"type": "queue", "campaign_id": campaign_id, "queue_id": queue_id, "phone": phone(i)});
    for task in 0..CREATORS + 2 {
        let (api, seen, stop) = (api.clone(), seen.clone(), stop.clone());
        tokio::spawn(async move {
            for i in (task * 100_000).. {
                if stop.load(Ordering::Relaxed) {
                    return;
                }
                let answer = match task {
                    // Single creates: the create worker's groups.
                    t if t < CREATORS => api.post("/callbacks", item(i)).await,
                    // One-item imports: an ordinary transaction each.
                    t if t == CREATORS => api.post("/callbacks/import", json!({"items": [item(i)]})).await,
                    // Large imports: written by COPY.
                    _ => {
                        let items: Vec<Value> = (0..LARGE_IMPORT).map(|k| item(i * LARGE_IMPORT + k)).collect();
                        api.post("/callbacks/import", json!({"items": items})).await
                    }
                };
                let failed = !matches!(answer, Ok((200 | 201, _)));
                if !failed && task < CREATORS {
                    seen.singles.fetch_add(1, Ordering::Relaxed);
                }
                seen.note(answer, created_ids);
                if failed {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        });
    }
}

/// Agents taking offers and a dialler taking leases (reporting half of them) until `stop`. A failed
/// step is waited out — the database's absence explains it — and an agent whose offer ran out
/// (which makes it not ready) makes itself ready again.
fn start_dispatch(api: &Api, campaign_id: i64, agents: &[i64], stop: &Arc<AtomicBool>) {
    let pause = || tokio::time::sleep(Duration::from_millis(20));
    for &agent in agents {
        let (api, stop) = (api.clone(), stop.clone());
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let Ok((200, offer)) = api.get(&format!("/agents/{agent}/offer")).await else {
                    let ready = json!({"presence": "ready"});
                    let _ = api.send(reqwest::Method::PUT, &format!("/agents/{agent}/presence"), Some(ready)).await;
                    pause().await;
                    continue;
                };
                let id = offer["id"].as_str().unwrap_or_default().to_string();
                let step = if offer["state"] == "ROUTING" { "accept" } else { "outcome" };
                let body = json!({"agent_id": agent, "outcome": "connected"});
                if !matches!(api.post(&format!("/callbacks/{id}/{step}"), body).await, Ok((200, _))) {
                    pause().await;
                }
            }
        });
    }
    let (api, stop) = (api.clone(), stop.clone());
    tokio::spawn(async move {
        while !stop.load(Ordering::Relaxed) {
            let claim = json!({"campaign_id": campaign_id, "max": 20, "lease_secs": 3});
            let Ok((200, leased)) = api.post("/dialer/claim", claim).await else {
                pause().await;
                continue;
            };
            let report: Vec<Value> = leased["items"]
                .as_array()
                .into_iter()
                .flatten()
                .step_by(2)
                .map(|cb| json!({"id": cb["id"], "outcome": "connected", "lease_id": cb["lease_id"]}))
                .collect();
            if report.is_empty() {
                pause().await;
            } else {
                let _ = api.post("/dialer/outcomes", json!({"items": report})).await;
            }
        }
    });
}

// ---- the test -----------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_creates_survive_a_postgresql_crash() {
    let mut cluster = tokio::task::block_in_place(Cluster::create);
    let data = tempfile::tempdir().unwrap();
    let url = cluster.url();
    let server =
        ServeProcess::start(data.path(), &[("REBOUND_DATABASE_URL", url.as_str()), ("REBOUND_BOOTSTRAP_TOKEN", TOKEN)]);
    let api = Api::new(&server, TOKEN);
    let (campaign_id, queue_id, agents) = fixture(&api, "PgCrash", AGENTS).await;

    let seen = Arc::new(Seen::default());
    let stop = Arc::new(AtomicBool::new(false));
    start_load(&api, (campaign_id, queue_id), &seen, &stop);
    start_dispatch(&api, campaign_id, &agents, &stop);
    let deadline = Instant::now() + Duration::from_secs(60);
    while seen.singles.load(Ordering::Relaxed) < 3_000 || seen.acked.lock().unwrap().len() < 10 * LARGE_IMPORT {
        assert!(Instant::now() < deadline, "the load did not get going");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // The database dies mid-load and comes back; the load keeps going against the same node.
    tokio::task::block_in_place(|| cluster.kill());
    let acked_at_kill = seen.acked.lock().unwrap().len();
    tokio::time::sleep(Duration::from_millis(500)).await;
    tokio::task::block_in_place(|| cluster.start());
    let log = cluster.log();
    assert!(log.contains("automatic recovery in progress"), "the restart ran crash recovery: {log}");

    // The node recovers by itself: creates are acknowledged again.
    let deadline = Instant::now() + Duration::from_secs(60);
    let resumed_from = seen.singles.load(Ordering::Relaxed);
    while seen.singles.load(Ordering::Relaxed) < resumed_from + 500 {
        assert!(Instant::now() < deadline, "creates were not acknowledged again after the restart");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stop.store(true, Ordering::Relaxed);
    tokio::time::sleep(Duration::from_secs(1)).await;
    let acked = seen.acked.lock().unwrap().clone();
    assert!(seen.unavailable.load(Ordering::Relaxed) > 0, "some creates met the dead database");
    assert!(acked.len() > acked_at_kill, "creates went on after the restart");

    // Exactly once, and each with its creation event: read back through the API.
    let mut listed: HashMap<String, Value> = HashMap::new();
    for page in 1.. {
        let (status, body) =
            api.get(&format!("/callbacks?campaign_id={campaign_id}&page_size=1000&page={page}")).await.unwrap();
        assert_eq!(status, 200, "{body}");
        let items = body["items"].as_array().cloned().unwrap_or_default();
        for cb in &items {
            let previous = listed.insert(cb["id"].as_str().unwrap().to_string(), cb.clone());
            assert!(previous.is_none(), "{} is listed twice", cb["id"]);
        }
        if items.len() < 1000 {
            break;
        }
    }
    let lost: Vec<&String> = acked.iter().filter(|id| !listed.contains_key(*id)).collect();
    assert!(
        lost.is_empty(),
        "{} of {} acknowledged creates were lost: {:?}",
        lost.len(),
        acked.len(),
        &lost[..lost.len().min(10)]
    );

    eprintln!(
        "{} acknowledged ({} at the kill), {} answers met the dead database, none lost",
        acked.len(),
        acked_at_kill,
        seen.unavailable.load(Ordering::Relaxed)
    );

    // None stuck: agents and the dialler work until nothing is open (offers and leases left by the
    // crash run out and go back to the queue).
    work_until_done(&api, campaign_id, &agents, true, Duration::from_secs(240)).await;
    let (_, page) =
        api.get(&format!("/callbacks?campaign_id={campaign_id}&state=COMPLETED&page_size=1")).await.unwrap();
    assert_eq!(page["total"].as_u64(), Some(listed.len() as u64), "every callback is COMPLETED");
    // Dispatch really ran through the crash: offers and leases, and leases that ran out were
    // taken back (the dialler keeps half of its leases).
    let metrics = reqwest::get(format!("{}/metrics", server.base)).await.unwrap().text().await.unwrap();
    let counter = |name: &str| -> u64 {
        metrics.lines().find_map(|l| l.strip_prefix(name)?.trim().parse().ok()).unwrap_or_default()
    };
    let (offers, leases) = (counter("rebound_offers_total "), counter("rebound_leases_total "));
    let taken_back = counter("rebound_releases_total{reason=\"lease_expired\"} ");
    assert!(offers > 0 && leases > 0 && taken_back > 0, "{metrics}");
    eprintln!("{offers} offers, {leases} leases ({taken_back} ran out and were taken back), all completed");

    // The callbacks written last before the kill (where a half-written create would be) and a
    // sample of the rest (many were offered or leased when the database died): each history begins
    // with its one creation and is one unbroken chain of steps.
    let mut newest: Vec<&Value> = listed.values().collect();
    newest.sort_by_key(|cb| std::cmp::Reverse(cb["created_at"].as_str().unwrap_or_default().to_string()));
    let sample = newest.iter().take(300).chain(newest.iter().skip(300).step_by(50));
    for cb in sample {
        let id = cb["id"].as_str().unwrap();
        let (status, events) = api.get(&format!("/callbacks/{id}/events")).await.unwrap();
        assert_eq!(status, 200, "{events}");
        let events = events.as_array().unwrap();
        let steps: Vec<&Value> = events.iter().filter(|e| !e["to_state"].is_null()).collect();
        let creations = steps.iter().filter(|e| e["from_state"].is_null()).count();
        let first = &events[0]["action"];
        assert!(creations == 1 && (first == "created" || first == "imported"), "{id}'s history: {events:?}");
        for pair in steps.windows(2) {
            assert_eq!(pair[1]["from_state"], pair[0]["to_state"], "broken chain in {id}: {steps:#?}");
        }
        assert_eq!(steps.last().unwrap()["to_state"], "COMPLETED", "{id}: {steps:#?}");
    }
}
