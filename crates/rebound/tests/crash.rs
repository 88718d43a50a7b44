//! The crash test of the dispatch engine: a real `rebound serve` process is killed with SIGKILL
//! while thousands of callbacks are in flight (being created, promoted, offered to agents, handled,
//! leased to a dialler), then restarted on the same data. Afterwards:
//! - **none is lost**: every callback whose create was acknowledged exists;
//! - **none is stuck**: with agents and the dialler working again, every one reaches `COMPLETED`
//!   (offers and leases held by the dead process expire and go back to `QUEUED`);
//! - **none was offered twice at once**: every callback's history is one unbroken chain of legal
//!   steps, and no agent ever held two callbacks at the same time.

mod common;

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::ServeProcess;
use common::load::{Acked, Api, fixture, phone, start_load, work_until_done};
use serde_json::{Value, json};

const TOKEN: &str = "crash-test-bootstrap-token-0123456789";
const AGENTS: usize = 4;
const IMPORTED: usize = 3_000;

/// The server under test, with a short offer timeout so offers held by the killed process run out
/// quickly after the restart.
fn start_server(data_dir: &Path) -> ServeProcess {
    ServeProcess::start(data_dir, &[("REBOUND_BOOTSTRAP_TOKEN", TOKEN), ("REBOUND_OFFER_TIMEOUT_SECS", "2")])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_server_loses_nothing_and_leaves_nothing_stuck() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = start_server(&data);
    let api = Api::new(&server, TOKEN);
    let (campaign_id, queue_id, agents) = fixture(&api, "Crash", AGENTS).await;
    for id in &agents {
        api.ok(reqwest::Method::PUT, &format!("/agents/{id}/presence"), Some(json!({"presence": "ready"}))).await;
    }
    let acked: Acked = Arc::default();

    // Thousands in flight: an import of immediate callbacks, then live load on top.
    for batch in 0..IMPORTED / 1_000 {
        let items: Vec<Value> = (batch * 1_000..(batch + 1) * 1_000)
            .map(|i| json!({"type": "queue", "campaign_id": campaign_id, "queue_id": queue_id, "phone": phone(i)}))
            .collect();
        let reply = api.ok(reqwest::Method::POST, "/callbacks/import", Some(json!({"items": items}))).await;
        let mut acked = acked.lock().unwrap();
        for item in reply["items"].as_array().unwrap() {
            acked.insert(item["id"].as_str().expect("every import item was created").to_string());
        }
    }
    let load = start_load(&api, (campaign_id, queue_id), &agents, 100_000, 100, &acked);
    // Kill once work is visibly in every stage (or after 20 s at most).
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let count = |state: &'static str| {
            let api = api.clone();
            async move {
                let (_, page) = api.get(&format!("/callbacks?state={state}&page_size=1")).await.unwrap();
                page["total"].as_u64().unwrap_or(0)
            }
        };
        let (routing, completed) = (count("ROUTING").await, count("COMPLETED").await);
        if (routing > 0 && completed > 200) || Instant::now() > deadline {
            break;
        }
    }
    server.kill();
    for task in &load {
        task.abort();
    }
    let acked: HashSet<String> = acked.lock().unwrap().clone();
    assert!(acked.len() > IMPORTED, "the live creates ran before the kill");

    // Restart on the same data; agents and the dialler carry on until nothing is left.
    let server = start_server(&data);
    let api = Api::new(&server, TOKEN);
    work_until_done(&api, campaign_id, &agents, false, Duration::from_secs(120)).await;

    // None lost, none stuck.
    let mut histories = HashMap::new();
    for id in &acked {
        let (status, cb) = api.get(&format!("/callbacks/{id}")).await.unwrap();
        assert_eq!(status, 200, "acknowledged callback {id} is lost");
        assert_eq!((cb["state"].as_str(), cb["result"].as_str()), (Some("COMPLETED"), Some("AGENT")), "{cb}");
        let (_, events) = api.get(&format!("/callbacks/{id}/events")).await.unwrap();
        histories.insert(id.clone(), events.as_array().cloned().unwrap_or_default());
    }

    // None offered twice at once: each history is one chain (every step starts where the one before
    // ended), and each agent's holds never overlap in commit order.
    let mut holds: HashMap<i64, Vec<(i64, i64)>> = HashMap::new();
    for (id, events) in &histories {
        let steps: Vec<&Value> = events.iter().filter(|e| !e["to_state"].is_null()).collect();
        for pair in steps.windows(2) {
            assert_eq!(pair[1]["from_state"], pair[0]["to_state"], "broken chain in {id}: {:#?}", steps);
        }
        let mut open: Option<(i64, i64)> = None;
        for e in &steps {
            let event_id = e["id"].as_i64().unwrap();
            if e["action"] == "offered" {
                assert!(open.is_none(), "{id} offered while already offered");
                open = Some((e["details"]["agent_id"].as_i64().unwrap(), event_id));
            } else if e["to_state"] != "ROUTING"
                && e["to_state"] != "PROCESSING"
                && let Some((agent, from)) = open.take()
            {
                holds.entry(agent).or_default().push((from, event_id));
            }
        }
        assert!(open.is_none(), "{id} ended while held");
    }
    for (agent, mut spans) in holds {
        spans.sort_unstable();
        for pair in spans.windows(2) {
            assert!(pair[1].0 > pair[0].1, "agent {agent} held two callbacks at once: {pair:?}");
        }
    }
}
