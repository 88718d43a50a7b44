//! The load the end-to-end tests put on real `rebound serve` processes (crash, several nodes): an API
//! client, single creates, agents' desktops and a dialler, each running until aborted or until its
//! server goes away.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};

use super::ServeProcess;

/// The API of one server, with a bearer token.
#[derive(Clone)]
pub struct Api {
    /// `http://host:port/api/v1`
    pub base: String,
    token: String,
    http: reqwest::Client,
}

impl Api {
    pub fn new(server: &ServeProcess, token: &str) -> Api {
        Api { base: format!("{}/api/v1", server.base), token: token.to_string(), http: reqwest::Client::new() }
    }

    /// Status and JSON body (`null` when there is none); `Err` when the server is gone.
    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> reqwest::Result<(u16, Value)> {
        let mut req = self.http.request(method, format!("{}{path}", self.base)).bearer_auth(&self.token);
        if let Some(body) = body {
            req = req.json(&body);
        }
        let resp = req.send().await?;
        let status = resp.status().as_u16();
        let body = resp.json::<Value>().await.unwrap_or(Value::Null);
        Ok((status, body))
    }

    pub async fn post(&self, path: &str, body: Value) -> reqwest::Result<(u16, Value)> {
        self.send(reqwest::Method::POST, path, Some(body)).await
    }

    pub async fn get(&self, path: &str) -> reqwest::Result<(u16, Value)> {
        self.send(reqwest::Method::GET, path, None).await
    }

    /// The body of a 2xx answer (anything else fails the test).
    pub async fn ok(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let (status, body) = self.send(method, path, body).await.expect("request");
        assert!((200..300).contains(&status), "{path} answered {status}: {body}");
        body
    }
}

/// A campaign open all day, a queue without duplicate check or capacity worries, and `agents`
/// agents serving it (not yet ready): `(campaign id, queue id, agent ids)`.
pub async fn fixture(api: &Api, name: &str, agents: usize) -> (i64, i64, Vec<i64>) {
    let all_day = json!([["00:00", "24:00"]]);
    let days = json!({"mon": all_day, "tue": all_day, "wed": all_day, "thu": all_day, "fri": all_day,
                      "sat": all_day, "sun": all_day});
    let campaign = api
        .ok(
            reqwest::Method::POST,
            "/campaigns",
            Some(json!({"name": name, "direction": "outbound", "timezone": "Europe/London", "region": "GB",
                        "running": true, "dialling_hours": days, "lead_calling_hours": ["00:00", "24:00"]})),
        )
        .await;
    let campaign_id = campaign["id"].as_i64().unwrap();
    let queue = api
        .ok(
            reqwest::Method::POST,
            "/queues",
            Some(json!({"name": format!("{name} queue"), "campaign_id": campaign_id, "slot_minutes": 5,
                        "slot_capacity": 100000, "duplicate_policy": "off"})),
        )
        .await;
    let queue_id = queue["id"].as_i64().unwrap();
    let mut ids = Vec::new();
    for i in 0..agents {
        let agent = api
            .ok(
                reqwest::Method::POST,
                "/agents",
                Some(json!({"name": format!("Agent {i}"), "username": format!("agent{i}"),
                            "timezone": "Europe/London", "campaigns": [campaign_id], "queues": [queue_id]})),
            )
            .await;
        ids.push(agent["id"].as_i64().unwrap());
    }
    (campaign_id, queue_id, ids)
}

/// A distinct London number for each index.
pub fn phone(i: usize) -> String {
    format!("+44207{:07}", i % 10_000_000)
}

/// Everything the clients were told was created.
pub type Acked = Arc<Mutex<HashSet<String>>>;

/// Single creates into `queue_id`, numbers from `first_phone` on, each acknowledged id noted in
/// `acked`; ends when the server goes away.
pub async fn create_loop(api: Api, campaign_id: i64, queue_id: i64, first_phone: usize, acked: Acked) {
    for i in first_phone.. {
        let body = json!({"type": "queue", "campaign_id": campaign_id, "queue_id": queue_id, "phone": phone(i)});
        match api.post("/callbacks", body).await {
            Ok((201, cb)) => {
                acked.lock().unwrap().insert(cb["id"].as_str().unwrap().to_string());
            }
            Ok((status, body)) => panic!("create answered {status}: {body}"),
            Err(_) => return,
        }
    }
}

/// An agent's desktop: take the current offer, accept it, report it connected. With `forever`
/// false it stops when there has been nothing to do for a while.
pub async fn agent_loop(api: &Api, agent: i64, forever: bool) {
    let mut idle = 0;
    while forever || idle < 200 {
        let Ok((status, offer)) = api.get(&format!("/agents/{agent}/offer")).await else { return };
        if status != 200 {
            idle += 1;
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        }
        idle = 0;
        let id = offer["id"].as_str().unwrap().to_string();
        let step = if offer["state"] == "ROUTING" {
            api.post(&format!("/callbacks/{id}/accept"), json!({"agent_id": agent})).await
        } else {
            api.post(&format!("/callbacks/{id}/outcome"), json!({"outcome": "connected", "agent_id": agent})).await
        };
        // A 409 is a race the protocol allows (the offer expired meanwhile); anything else is a bug.
        match step {
            Ok((200 | 409, _)) => {}
            Ok((status, body)) => panic!("agent step answered {status}: {body}"),
            Err(_) => return,
        }
    }
}

/// A dialler: claim up to `max`, report `connected` for every lease (or only half of them while
/// `keep_half`, leaving the rest leased). Without `keep_half` it stops when nothing is left to claim.
pub async fn dialler_loop(api: &Api, campaign_id: i64, max: u32, keep_half: bool) {
    loop {
        let claim = json!({"campaign_id": campaign_id, "max": max, "lease_secs": 3});
        let Ok((status, leased)) = api.post("/dialer/claim", claim).await else { return };
        assert_eq!(status, 200, "claim: {leased}");
        let items = leased["items"].as_array().unwrap();
        if items.is_empty() {
            if !keep_half {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
            continue;
        }
        let report: Vec<Value> = items
            .iter()
            .enumerate()
            .filter(|(i, _)| !keep_half || i % 2 == 0)
            .map(|(_, cb)| json!({"id": cb["id"], "outcome": "connected", "lease_id": cb["lease_id"]}))
            .collect();
        let Ok((status, body)) = api.post("/dialer/outcomes", json!({"items": report})).await else { return };
        assert_eq!(status, 200, "outcomes: {body}");
    }
}

/// The load on one server: single creates (numbers from `first_phone` on), its agents taking
/// offers, a dialler (claims of `dialler_max`) reporting half of what it claims. Runs until aborted;
/// an error (the server died) ends a task.
pub fn start_load(
    api: &Api,
    (campaign_id, queue_id): (i64, i64),
    agents: &[i64],
    first_phone: usize,
    dialler_max: u32,
    acked: &Acked,
) -> Vec<tokio::task::JoinHandle<()>> {
    let mut tasks = vec![tokio::spawn(create_loop(api.clone(), campaign_id, queue_id, first_phone, acked.clone()))];
    for &agent in agents {
        let api = api.clone();
        tasks.push(tokio::spawn(async move { agent_loop(&api, agent, true).await }));
    }
    let api = api.clone();
    tasks.push(tokio::spawn(async move { dialler_loop(&api, campaign_id, dialler_max, true).await }));
    tasks
}

/// Agents' desktops and a dialler (claims of 100) work until nothing of `campaign_id` is open
/// (`SCHEDULED`, `QUEUED`, `ROUTING`, `PROCESSING`), each round until they find nothing to do;
/// `ready_first` makes every agent ready at the start of each round (an offer that ran out made its
/// agent not ready). Fails the test if callbacks are still open after `within`.
pub async fn work_until_done(api: &Api, campaign_id: i64, agents: &[i64], ready_first: bool, within: Duration) {
    let deadline = std::time::Instant::now() + within;
    loop {
        let mut work = Vec::new();
        for &agent in agents {
            if ready_first {
                let ready = json!({"presence": "ready"});
                api.ok(reqwest::Method::PUT, &format!("/agents/{agent}/presence"), Some(ready)).await;
            }
            let api = api.clone();
            work.push(tokio::spawn(async move { agent_loop(&api, agent, false).await }));
        }
        let dialler = api.clone();
        work.push(tokio::spawn(async move { dialler_loop(&dialler, campaign_id, 100, false).await }));
        for w in work {
            w.await.expect("a client task panicked");
        }
        let open = format!(
            "/callbacks?campaign_id={campaign_id}&state=SCHEDULED&state=QUEUED&state=ROUTING&state=PROCESSING&page_size=1"
        );
        let (_, page) = api.get(&open).await.unwrap();
        if page["total"] == 0 {
            return;
        }
        assert!(std::time::Instant::now() < deadline, "callbacks stuck after the restart: {page}");
    }
}
