//! Several `rebound serve` nodes on one PostgreSQL database (issue 7). Each test gets a fresh
//! database on the server `REBOUND_TEST_DATABASE_URL` names (a role that may create databases, e.g.
//! `postgres://postgres@127.0.0.1:5432/postgres`). Behind the `pg-tests` feature until the PostgreSQL
//! store is complete (issue 7); `.ci/run` runs them with `REBOUND_CI_POSTGRES=1`.
//!
//! The main test runs three nodes under load (creates, agents, a dialler on every node), SIGKILLs the
//! leader mid-load and restarts it. Afterwards:
//! - **the leader moved**: another node holds the lease (its `/metrics` says `rebound_leader 1`);
//! - **none is lost**: every callback whose create was acknowledged exists, exactly once;
//! - **none is stuck**: with agents and diallers working again, every one reaches `COMPLETED`;
//! - **none was offered or leased twice at once**: every history is one unbroken chain of legal
//!   steps, and no agent ever held two callbacks at the same time;
//! - **events cross nodes**: a console streaming `/events` from one node sees a callback created on
//!   another.
#![cfg(feature = "pg-tests")]

mod common;

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::ServeProcess;
use common::load::{Acked, Api, agent_loop, dialler_loop, fixture, phone, start_load};
use rebound_store_postgres::scratch::ScratchDatabase;
use rebound_store_postgres::{PgOptions, PgStore};
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_rebound");
const TOKEN: &str = "multi-node-bootstrap-token-0123456789";
const AGENTS_PER_NODE: usize = 2;
const IMPORTED: usize = 1_000;

// ---- the database -------------------------------------------------------------------------------

/// A fresh database on the server `REBOUND_TEST_DATABASE_URL` names, dropped when the test ends.
async fn test_database() -> ScratchDatabase {
    let admin_url = std::env::var("REBOUND_TEST_DATABASE_URL")
        .expect("REBOUND_TEST_DATABASE_URL names the PostgreSQL server the multi-node tests run on");
    ScratchDatabase::create(&admin_url, "rebound_nodes").await.expect("a fresh test database")
}

// ---- the nodes ----------------------------------------------------------------------------------

/// One `rebound serve` on the shared database, named `node-<letter>` (its lease holder adds a suffix
/// unique to the process), with a short offer timeout so offers held by a killed node run out soon.
fn start_node(data_dir: &Path, database: &str, name: &str) -> ServeProcess {
    ServeProcess::start(
        &data_dir.join(name),
        &[
            ("REBOUND_DATABASE_URL", database),
            ("REBOUND_BOOTSTRAP_TOKEN", TOKEN),
            ("REBOUND_OFFER_TIMEOUT_SECS", "2"),
            ("REBOUND_NODE_NAME", name),
        ],
    )
}

/// What a node's `/metrics` says about the lease: whether it leads, and its holder name.
async fn lease_of(http: &reqwest::Client, node: &ServeProcess) -> Option<(bool, String)> {
    let text = http.get(format!("{}/metrics", node.base)).send().await.ok()?.text().await.ok()?;
    let leading = text.lines().any(|l| l == "rebound_leader 1");
    let name = text.lines().find_map(|l| l.strip_prefix("rebound_node{node=\"")?.split('"').next())?.to_string();
    Some((leading, name))
}

/// Waits until exactly one of `nodes` leads; answers its index and holder name.
async fn wait_for_one_leader(http: &reqwest::Client, nodes: &[&ServeProcess]) -> (usize, String) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let mut leaders = Vec::new();
        for (i, node) in nodes.iter().enumerate() {
            if let Some((true, name)) = lease_of(http, node).await {
                leaders.push((i, name));
            }
        }
        if leaders.len() == 1 {
            return leaders.remove(0);
        }
        assert!(leaders.len() < 2, "two nodes lead at once: {leaders:?}");
        assert!(Instant::now() < deadline, "no node took the leader lease");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

// ---- the API ------------------------------------------------------------------------------------

/// What the multi-node test asks of a node beyond the shared client.
trait NodeApi {
    async fn total(&self, query: &str) -> u64;
    async fn ready(&self, agent: i64);
}

impl NodeApi for Api {
    async fn total(&self, query: &str) -> u64 {
        let (_, page) = self.get(&format!("/callbacks?{query}&page_size=1")).await.expect("request");
        page["total"].as_u64().unwrap_or(0)
    }

    async fn ready(&self, agent: i64) {
        self.ok(reqwest::Method::PUT, &format!("/agents/{agent}/presence"), Some(json!({"presence": "ready"}))).await;
    }
}

/// Reads a live event stream until `needle` appears in it (or the deadline passes).
async fn stream_shows(response: &mut reqwest::Response, needle: &str, within: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + within;
    let mut seen = String::new();
    while !seen.contains(needle) {
        match tokio::time::timeout_at(deadline, response.chunk()).await {
            Ok(Ok(Some(chunk))) => seen.push_str(&String::from_utf8_lossy(&chunk)),
            _ => return false,
        }
    }
    true
}

// ---- the tests ----------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_started_together_migrate_one_database_once() {
    let db = test_database().await;
    let dir = tempfile::tempdir().unwrap();
    let migrations: Vec<_> = (0..3)
        .map(|i| {
            let data = dir.path().join(format!("node{i}"));
            std::process::Command::new(BIN)
                .args(["migrate", "--data-dir", data.to_str().unwrap(), "--database-url", &db.url])
                .env_remove("REBOUND_CONFIG")
                .env("REBOUND_LOG", "warn")
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("the rebound binary starts")
        })
        .collect();
    for migration in migrations {
        let out = migration.wait_with_output().unwrap();
        assert!(out.status.success(), "migrate failed: {}", String::from_utf8_lossy(&out.stderr));
        assert!(String::from_utf8_lossy(&out.stdout).contains("The database is up to date (PostgreSQL"));
    }
    let (client, connection) = tokio_postgres::connect(&db.url, tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(connection);
    let versions: Vec<i64> = client
        .query("select version from schema_migration order by version", &[])
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    let known: Vec<i64> = rebound_store_postgres::schema::MIGRATIONS.iter().map(|m| m.version).collect();
    assert_eq!(versions, known, "each migration applied once");
}

/// An engine (not started) on its own connection to `url`, as a node would have.
async fn pg_engine(url: &str, node: &str) -> Arc<rebound_engine::Engine> {
    let store = PgStore::connect(url, PgOptions { max_connections: 2, ..Default::default() })
        .await
        .expect("the store connects");
    let config = rebound_engine::EngineConfig { node_name: node.to_string(), ..Default::default() };
    rebound_engine::Engine::new(Arc::new(store), Arc::new(rebound_domain::clock::SystemClock), config)
}

/// Waits until `engine` leads (or not), per its own view.
async fn wait_until_leading(engine: &rebound_engine::Engine, leading: bool) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while engine.leads() != leading {
        assert!(Instant::now() < deadline, "leading is not {leading}: {:?}", engine.leader_status());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lease_goes_to_one_engine_and_moves_when_it_stops() {
    let db = test_database().await;
    let (a, b) = (pg_engine(&db.url, "a").await, pg_engine(&db.url, "b").await);
    let task_a = a.start();
    wait_until_leading(&a, true).await;
    let task_b = b.start();
    let deadline = Instant::now() + Duration::from_secs(15);
    while b.leader_status().leader.is_none() {
        assert!(Instant::now() < deadline, "b never learnt who leads");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let status = b.leader_status();
    assert!(status.shared && !status.leading, "{status:?}");
    assert_eq!(status.leader.as_deref(), Some(a.leader_status().node.as_str()));

    // A graceful stop resigns: b takes over at its next claim, without waiting for the expiry.
    task_a.shutdown().await;
    assert!(!a.leads());
    wait_until_leading(&b, true).await;
    task_b.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_lose_nothing_when_the_leader_is_killed() {
    let db = test_database().await;
    let dir = tempfile::tempdir().unwrap();
    let names = ["node-a", "node-b", "node-c"];
    // The first node bootstraps the admin token and user; the others find them.
    let mut nodes: Vec<ServeProcess> = names.iter().map(|name| start_node(dir.path(), &db.url, name)).collect();
    let apis: Vec<Api> = nodes.iter().map(|node| Api::new(node, TOKEN)).collect();
    let http = reqwest::Client::new();

    let (campaign_id, queue_id, agents) = fixture(&apis[0], "Nodes", AGENTS_PER_NODE * nodes.len()).await;
    let agents_of = |node: usize| agents[node * AGENTS_PER_NODE..(node + 1) * AGENTS_PER_NODE].to_vec();
    for (node, api) in apis.iter().enumerate() {
        for agent in agents_of(node) {
            api.ready(agent).await;
        }
    }

    // Events cross nodes: a stream on node c sees a callback created on node a.
    let mut stream = http
        .get(format!("{}/events", apis[2].base))
        .bearer_auth(TOKEN)
        .header("accept", "text/event-stream")
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status().as_u16(), 200);
    let acked: Acked = Arc::default();
    let probe = apis[0]
        .ok(
            reqwest::Method::POST,
            "/callbacks",
            Some(json!({"type": "queue", "campaign_id": campaign_id, "queue_id": queue_id, "phone": phone(1)})),
        )
        .await;
    let probe_id = probe["id"].as_str().unwrap().to_string();
    acked.lock().unwrap().insert(probe_id.clone());
    assert!(
        stream_shows(&mut stream, &probe_id, Duration::from_secs(10)).await,
        "node c's event stream did not show the callback created on node a"
    );
    drop(stream);

    // Work in every stage: an import of immediate callbacks, then load on all three nodes.
    let items: Vec<Value> = (10..10 + IMPORTED)
        .map(|i| json!({"type": "queue", "campaign_id": campaign_id, "queue_id": queue_id, "phone": phone(i)}))
        .collect();
    let reply = apis[1].ok(reqwest::Method::POST, "/callbacks/import", Some(json!({"items": items}))).await;
    for item in reply["items"].as_array().unwrap() {
        acked.lock().unwrap().insert(item["id"].as_str().expect("every import item was created").to_string());
    }
    let mut load: Vec<Vec<tokio::task::JoinHandle<()>>> = apis
        .iter()
        .enumerate()
        .map(|(node, api)| start_load(api, (campaign_id, queue_id), &agents_of(node), 100_000 * (node + 1), 50, &acked))
        .collect();

    let (leader, leader_name) = wait_for_one_leader(&http, &nodes.iter().collect::<Vec<_>>()).await;
    let survivor = &apis[(leader + 1) % nodes.len()];
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let (routing, completed) = (survivor.total("state=ROUTING").await, survivor.total("state=COMPLETED").await);
        if (routing > 0 && completed > 200) || Instant::now() > deadline {
            break;
        }
    }

    // SIGKILL the leader mid-load; the others carry on, and one of them takes the lease over.
    let killed = nodes.remove(leader);
    killed.kill();
    for task in load.remove(leader) {
        task.abort();
    }
    let (_, new_leader) = wait_for_one_leader(&http, &nodes.iter().collect::<Vec<_>>()).await;
    assert_ne!(new_leader, leader_name, "the leader moved");
    assert!(!new_leader.starts_with(&format!("{}/", names[leader])), "a surviving node leads: {new_leader}");
    // Every surviving node's `/readyz` names the new leader (each learns it at its next claim).
    for node in &nodes {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let ready: serde_json::Value =
                http.get(format!("{}/readyz", node.base)).send().await.unwrap().json().await.unwrap();
            if ready["leader"] == new_leader.as_str() {
                break;
            }
            assert!(Instant::now() < deadline, "{} does not name the new leader: {ready}", node.base);
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    // The killed node comes back (a new process: a new lease holder) and takes load again.
    nodes.insert(leader, start_node(dir.path(), &db.url, names[leader]));
    let restarted = Api::new(&nodes[leader], TOKEN);
    load.insert(
        leader,
        start_load(
            &restarted,
            (campaign_id, queue_id),
            &agents_of(leader),
            100_000 * (leader + 1) + 50_000,
            50,
            &acked,
        ),
    );
    tokio::time::sleep(Duration::from_secs(3)).await;
    for task in load.into_iter().flatten() {
        task.abort();
    }
    let acked: HashSet<String> = acked.lock().unwrap().clone();
    assert!(acked.len() > IMPORTED + 1, "the live creates ran");

    // Drain on all three: every agent ready again (an offer that expired on the dead node set its
    // agent not ready), agents and diallers on every node until nothing is open.
    let apis: Vec<Api> = nodes.iter().map(|node| Api::new(node, TOKEN)).collect();
    let drain_deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let mut work: Vec<tokio::task::JoinHandle<()>> = Vec::new();
        for (node, api) in apis.iter().enumerate() {
            for agent in agents_of(node) {
                api.ready(agent).await;
                let api = api.clone();
                work.push(tokio::spawn(async move { agent_loop(&api, agent, false).await }));
            }
            let api = api.clone();
            work.push(tokio::spawn(async move { dialler_loop(&api, campaign_id, 50, false).await }));
        }
        for w in work {
            w.await.expect("a client task panicked");
        }
        let open = apis[0]
            .total(&format!("campaign_id={campaign_id}&state=SCHEDULED&state=QUEUED&state=ROUTING&state=PROCESSING"))
            .await;
        if open == 0 {
            break;
        }
        assert!(Instant::now() < drain_deadline, "{open} callbacks stuck after the restart");
    }

    // Exactly once: every acknowledged id appears once in the campaign's list.
    let mut listed: HashMap<String, usize> = HashMap::new();
    for page in 1.. {
        let (_, body) =
            apis[1].get(&format!("/callbacks?campaign_id={campaign_id}&page_size=1000&page={page}")).await.unwrap();
        let items = body["items"].as_array().cloned().unwrap_or_default();
        for cb in &items {
            *listed.entry(cb["id"].as_str().unwrap().to_string()).or_default() += 1;
        }
        if items.len() < 1000 {
            break;
        }
    }
    for id in &acked {
        assert_eq!(listed.get(id), Some(&1), "acknowledged callback {id} is not listed exactly once");
    }

    // None lost or stuck, none held twice at once.
    let mut histories = HashMap::new();
    for (i, id) in acked.iter().enumerate() {
        let api = &apis[i % apis.len()];
        let (status, cb) = api.get(&format!("/callbacks/{id}")).await.unwrap();
        assert_eq!(status, 200, "acknowledged callback {id} is lost");
        assert_eq!((cb["state"].as_str(), cb["result"].as_str()), (Some("COMPLETED"), Some("AGENT")), "{cb}");
        let (_, events) = api.get(&format!("/callbacks/{id}/events")).await.unwrap();
        histories.insert(id.clone(), events.as_array().cloned().unwrap_or_default());
    }
    assert_no_double_holds(&histories);
}

/// Each history is one chain (every step starts where the one before ended: a callback offered or
/// leased while already held would break it), and each agent's holds never overlap. Event ids
/// order an agent's holds: a new offer is only written after the previous hold ended (the store
/// checks that in the offer's transaction), so its event id is allocated after that end's.
fn assert_no_double_holds(histories: &HashMap<String, Vec<Value>>) {
    let mut holds: HashMap<i64, Vec<(i64, i64)>> = HashMap::new();
    for (id, events) in histories {
        let steps: Vec<&Value> = events.iter().filter(|e| !e["to_state"].is_null()).collect();
        for pair in steps.windows(2) {
            assert_eq!(pair[1]["from_state"], pair[0]["to_state"], "broken chain in {id}: {steps:#?}");
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
