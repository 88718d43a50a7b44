//! The dispatch engine through the real router: the agent protocol (presence, offers, accept,
//! reject, outcomes), diallers (claims, leases, outcome batches), auto-callbacks, Add-to-Queue wrap
//! codes, an agent's own list, position and estimated wait, `/metrics` and the live event streams.
//!
//! The engine's background loop is not started: each test moves the manual clock and runs one
//! engine pass (`run_engine`), so every step is deterministic.

mod common;

use std::time::Duration;

use common::{START, TestApp, ts};
use jiff::SignedDuration;
use rebound_domain::access::Role;
use reqwest::Method;
use serde_json::{Value, json};

const STREAM_WAIT: Duration = Duration::from_secs(10);

fn phone(n: u32) -> String {
    format!("+44207946{n:04}")
}

fn id_of(v: &Value) -> String {
    v["id"].as_str().map(str::to_string).unwrap_or_else(|| v["id"].to_string())
}

fn agent_id(agent: &Value) -> i64 {
    agent["id"].as_i64().expect("agent id")
}

/// An immediate queue callback in the fixture's queue.
async fn immediate(app: &TestApp, n: u32) -> Value {
    app.post("/callbacks", app.queue_callback(&phone(n), json!({}))).await.expect(201)
}

/// A ready agent with an offer for a new immediate callback: (agent id, callback id).
async fn offered(app: &TestApp, username: &str, n: u32) -> (i64, String) {
    let agent = agent_id(&app.create_agent(username, json!({})).await);
    app.presence(agent, "ready").await;
    let cb = immediate(app, n).await;
    app.run_engine().await;
    (agent, id_of(&cb))
}

#[tokio::test]
async fn an_agent_goes_ready_takes_the_offer_and_completes_it() {
    let app = TestApp::spawn().await;
    let agent = agent_id(&app.create_agent("ann", json!({})).await);
    assert_eq!(app.get(&format!("/agents/{agent}/offer")).await.status.as_u16(), 204);

    let ready = app.presence(agent, "ready").await;
    assert_eq!((ready["presence"].as_str(), ready["ready_since"].as_str()), (Some("ready"), Some(START)));
    let cb = immediate(&app, 1).await;
    let id = id_of(&cb);
    assert_eq!(cb["state"], "SCHEDULED");
    let pass = app.run_engine().await;
    assert_eq!((pass.promoted, pass.offered), (1, 1));

    let offer = app.get(&format!("/agents/{agent}/offer")).await.expect(200);
    assert_eq!((offer["id"].as_str(), offer["state"].as_str()), (Some(id.as_str()), Some("ROUTING")));
    assert_eq!(offer["offered_to"], agent);
    let hold_until = ts(offer["hold_until"].as_str().expect("an offer has a deadline"));
    assert_eq!(hold_until, ts(START) + SignedDuration::from_secs(20));
    let shown = app.get(&format!("/callbacks/{id}")).await.expect(200);
    assert_eq!((shown["position_in_queue"].as_u64(), shown["estimated_wait_secs"].as_u64()), (Some(0), Some(0)));

    let accepted = app.post(&format!("/callbacks/{id}/accept"), json!({"agent_id": agent})).await.expect(200);
    assert_eq!((accepted["state"].as_str(), accepted["hold_until"].as_str()), (Some("PROCESSING"), None));
    assert_eq!(app.get(&format!("/agents/{agent}")).await.expect(200)["presence"], "busy");
    assert_eq!(app.get(&format!("/agents/{agent}/offer")).await.expect(200)["state"], "PROCESSING");

    app.advance(SignedDuration::from_secs(90));
    let done = app
        .post(
            &format!("/callbacks/{id}/outcome"),
            json!({"outcome": "connected", "agent_id": agent, "notes": "sorted"}),
        )
        .await
        .expect(200);
    assert_eq!((done["state"].as_str(), done["result"].as_str()), (Some("COMPLETED"), Some("AGENT")));
    assert_eq!((done["attempts"].as_u64(), done["offered_to"].as_i64()), (Some(1), None));
    assert!(done.get("wrap_callback").is_none(), "{done}");
    assert_eq!(app.get(&format!("/agents/{agent}/offer")).await.status.as_u16(), 204);
    assert_eq!(app.get(&format!("/agents/{agent}")).await.expect(200)["presence"], "ready");
    let actions = app.actions(&id).await;
    for expected in ["created", "promoted", "offered", "accepted"] {
        assert!(actions.iter().any(|a| a == expected), "{expected} missing from {actions:?}");
    }
}

#[tokio::test]
async fn reject_requeues_without_an_attempt_and_a_busy_outcome_schedules_a_retry() {
    let app = TestApp::spawn().await;
    let (agent, id) = offered(&app, "ann", 2).await;
    let other = agent_id(&app.create_agent("bob", json!({})).await);

    // Only the agent it is offered to may answer.
    app.post(&format!("/callbacks/{id}/accept"), json!({"agent_id": other})).await.expect_error(409, "not_offered");
    app.post(&format!("/callbacks/{id}/reject"), json!({"agent_id": other})).await.expect_error(409, "not_offered");

    let rejected = app.post(&format!("/callbacks/{id}/reject"), json!({"agent_id": agent})).await.expect(200);
    assert_eq!((rejected["state"].as_str(), rejected["attempts"].as_u64()), (Some("QUEUED"), Some(0)));
    assert_eq!(rejected["offered_to"], Value::Null);
    // A rejected offer cannot be accepted any more.
    app.post(&format!("/callbacks/{id}/accept"), json!({"agent_id": agent})).await.expect_error(409, "not_offered");
    app.post(&format!("/callbacks/{id}/accept"), json!({})).await.expect_error(409, "illegal_transition");

    // Offered again (the only agent), accepted without naming the agent, then busy.
    app.run_engine().await;
    assert_eq!(app.get(&format!("/agents/{agent}/offer")).await.expect(200)["id"], id.as_str());
    app.post(&format!("/callbacks/{id}/accept"), json!({})).await.expect(200);
    let retried =
        app.post(&format!("/callbacks/{id}/outcome"), json!({"outcome": "busy", "agent_id": agent})).await.expect(200);
    assert_eq!((retried["state"].as_str(), retried["attempts"].as_u64()), (Some("SCHEDULED"), Some(1)));
    let busy_delay = SignedDuration::from_secs(600);
    assert_eq!(ts(retried["desired_time"].as_str().unwrap()), ts(START) + busy_delay);
    assert_eq!(ts(retried["earliest_time"].as_str().unwrap()), ts(START) + busy_delay);

    // Not before its time; then promoted and offered again.
    app.advance(SignedDuration::from_secs(599));
    assert_eq!(app.run_engine().await.promoted, 0);
    app.advance(SignedDuration::from_secs(1));
    let pass = app.run_engine().await;
    assert_eq!((pass.promoted, pass.offered), (1, 1));
}

#[tokio::test]
async fn an_unanswered_offer_goes_back_to_the_queue_and_the_agent_is_not_ready() {
    let app = TestApp::spawn().await;
    let (agent, id) = offered(&app, "ann", 3).await;
    app.advance(SignedDuration::from_secs(21));
    assert_eq!(app.run_engine().await.released, 1);
    let cb = app.get(&format!("/callbacks/{id}")).await.expect(200);
    assert_eq!((cb["state"].as_str(), cb["offered_to"].as_i64()), (Some("QUEUED"), None));
    assert_eq!(app.get(&format!("/agents/{agent}")).await.expect(200)["presence"], "not_ready");
    assert_eq!(app.get(&format!("/agents/{agent}/offer")).await.status.as_u16(), 204);
}

#[tokio::test]
async fn a_dialler_claims_a_lease_once_and_reports_outcomes_in_a_batch() {
    let app = TestApp::spawn().await;
    let ids: Vec<String> = {
        let mut ids = Vec::new();
        for n in 0..3 {
            ids.push(id_of(&immediate(&app, 10 + n).await));
        }
        ids
    };
    assert_eq!(app.run_engine().await.promoted, 3);

    let claim = |max: u32| json!({"campaign_id": app.campaign_id(), "max": max, "lease_secs": 60});
    let first = app.post("/dialer/claim", claim(2)).await.expect(200);
    let first = first["items"].as_array().unwrap().clone();
    assert_eq!(first.len(), 2);
    let lease = first[0]["lease_id"].as_str().expect("a lease id").to_string();
    assert!(first.iter().all(|c| c["state"] == "ROUTING" && c["lease_id"] == lease.as_str()), "{first:?}");
    assert_eq!(ts(first[0]["hold_until"].as_str().unwrap()), ts(START) + SignedDuration::from_secs(60));

    // The rest, then nothing: a leased callback is never leased again.
    let second = app.post("/dialer/claim", claim(5)).await.expect(200);
    let second = second["items"].as_array().unwrap().clone();
    assert_eq!(second.len(), 1);
    assert!(!first.iter().any(|c| c["id"] == second[0]["id"]));
    assert_eq!(app.post("/dialer/claim", claim(5)).await.expect(200)["items"], json!([]));

    let unknown = "01890000-0000-7000-8000-000000000000";
    let batch = json!({"items": [
        {"id": first[0]["id"], "outcome": "connected", "lease_id": lease},
        {"id": first[1]["id"], "outcome": "no_answer", "lease_id": lease, "notes": "rang out"},
        {"id": second[0]["id"], "outcome": "connected", "lease_id": lease},
        {"id": unknown, "outcome": "connected"},
    ]});
    let results = app.post("/dialer/outcomes", batch).await.expect(200);
    let results = results["items"].as_array().unwrap();
    assert_eq!(results.len(), 4);
    assert_eq!((results[0]["ok"].as_bool(), results[0]["callback"]["result"].as_str()), (Some(true), Some("AGENT")));
    assert_eq!(results[1]["ok"], true);
    assert_eq!(
        (results[1]["callback"]["state"].as_str(), results[1]["callback"]["attempts"].as_u64()),
        (Some("SCHEDULED"), Some(1))
    );
    // The third was claimed with another lease.
    assert_eq!((results[2]["ok"].as_bool(), results[2]["error"]["code"].as_str()), (Some(false), Some("not_offered")));
    assert_eq!(results[3]["error"]["code"], "not_found");
    assert_eq!(ids.len(), 3);
}

#[tokio::test]
async fn an_expired_lease_returns_the_callback_to_the_queue() {
    let app = TestApp::spawn().await;
    let id = id_of(&immediate(&app, 20).await);
    app.run_engine().await;
    let leased = app
        .post("/dialer/claim", json!({"campaign_id": app.campaign_id(), "max": 10, "lease_secs": 30}))
        .await
        .expect(200);
    let lease = leased["items"][0]["lease_id"].as_str().unwrap().to_string();
    let hold_until = ts(leased["items"][0]["hold_until"].as_str().unwrap());

    app.clock.set(hold_until);
    assert_eq!(app.run_engine().await.released, 1);
    let cb = app.get(&format!("/callbacks/{id}")).await.expect(200);
    assert_eq!(
        (cb["state"].as_str(), cb["lease_id"].as_str(), cb["attempts"].as_u64()),
        (Some("QUEUED"), None, Some(0))
    );
    assert!(app.actions(&id).await.iter().any(|a| a == "lease_expired"));
    // The old lease no longer holds it.
    app.post(&format!("/callbacks/{id}/outcome"), json!({"outcome": "connected", "lease_id": lease}))
        .await
        .expect_error(409, "not_offered");
    // A new claim gets it again.
    let again = app
        .post("/dialer/claim", json!({"campaign_id": app.campaign_id(), "max": 10, "lease_secs": 30}))
        .await
        .expect(200);
    assert_eq!(again["items"][0]["id"], id.as_str());
}

#[tokio::test]
async fn an_auto_callback_lands_in_the_running_outbound_campaign_dialling_the_list() {
    let app = TestApp::spawn().await;
    let (list_id, path) = app.inbound_with_auto_callback_list().await;

    // Nobody dials the list yet.
    let refused = app.post(&path, json!({"phone": "020 7946 0100", "name": "Caller"})).await;
    refused.expect_error(409, "no_outbound_campaign");
    assert_eq!(app.get(&format!("/leads?list_id={list_id}")).await.expect(200)["total"], 0, "a refusal writes nothing");

    app.patch(&format!("/campaigns/{}", app.campaign_id()), json!({"lists": [list_id]})).await.expect(200);
    let cb = app.post(&path, json!({"phone": "020 7946 0100", "name": "Caller"})).await.expect(201);
    assert_eq!((cb["type"].as_str(), cb["origin"].as_str()), (Some("queue"), Some("auto_callback")));
    assert_eq!((cb["campaign_id"].as_i64(), cb["queue_id"].as_i64()), (Some(app.campaign_id()), Some(app.queue_id())));
    assert_eq!((cb["phone"].as_str(), cb["list_id"].as_i64()), (Some("+442079460100"), Some(list_id)));
    assert_eq!(ts(cb["desired_time"].as_str().unwrap()), ts(START), "immediate");
    let lead = app.get(&format!("/leads/{}", cb["lead_id"])).await.expect(200);
    assert_eq!((lead["list_id"].as_i64(), lead["name"].as_str()), (Some(list_id), Some("Caller")));
    assert_eq!(lead["phones"], json!(["+442079460100"]));

    // The same caller again: the same lead, and the queue's duplicate policy refuses a second one.
    app.post(&path, json!({"phone": "+442079460100"})).await.expect_error(409, "duplicate_callback");
    assert_eq!(app.get(&format!("/leads?list_id={list_id}")).await.expect(200)["total"], 1);

    // The engine picks it up like any other.
    assert_eq!(app.run_engine().await.promoted, 1);

    // Outbound campaigns and inbound ones without a list are refused.
    app.post(&format!("/campaigns/{}/auto-callbacks", app.campaign_id()), json!({"phone": "02079460101"}))
        .await
        .expect_error(422, "campaign_not_inbound");
    app.patch(path.trim_end_matches("/auto-callbacks"), json!({"auto_callback_list_id": null})).await.expect(200);
    app.post(&path, json!({"phone": "02079460101"})).await.expect_error(422, "no_auto_callback_list");
    app.post("/campaigns/9999/auto-callbacks", json!({"phone": "02079460101"})).await.expect_error(404, "not_found");
}

#[tokio::test]
async fn auto_callbacks_need_a_running_campaign_with_an_active_queue() {
    let app = TestApp::spawn().await;
    let (list_id, path) = app.inbound_with_auto_callback_list().await;
    let campaign = format!("/campaigns/{}", app.campaign_id());
    app.patch(&campaign, json!({"lists": [list_id], "running": false})).await.expect(200);
    app.post(&path, json!({"phone": "02079460102"})).await.expect_error(409, "no_outbound_campaign");
    app.patch(&campaign, json!({"running": true})).await.expect(200);
    app.patch(&format!("/queues/{}", app.queue_id()), json!({"paused": true})).await.expect(200);
    app.post(&path, json!({"phone": "02079460102"})).await.expect_error(409, "no_queue");
    app.post(&path, json!({"phone": "12"})).await.expect_error(422, "invalid_phone");
}

/// An Add-to-Queue wrap code `code` creating a queue callback in the fixture's queue after
/// `delay_minutes`.
async fn add_to_queue_code(app: &TestApp, code: &str, delay_minutes: u32) -> Value {
    app.post(
        "/wrap-codes",
        json!({"campaign_id": app.campaign_id(), "code": code,
               "add_to_queue": {"campaign_id": app.campaign_id(), "queue_id": app.queue_id(), "type": "queue",
                                "delay_minutes": delay_minutes}}),
    )
    .await
    .expect(201)
}

#[tokio::test]
async fn a_wrap_with_an_add_to_queue_code_creates_the_callback_and_a_plain_code_none() {
    let app = TestApp::spawn().await;
    let agent = agent_id(&app.create_agent("ann", json!({})).await);
    add_to_queue_code(&app, "CB1H", 60).await;
    app.post("/wrap-codes", json!({"campaign_id": app.campaign_id(), "code": "DONE"})).await.expect(201);
    app.post(
        "/wrap-codes",
        json!({"campaign_id": app.campaign_id(), "code": "MINE",
               "add_to_queue": {"campaign_id": app.campaign_id(), "type": "agent", "delay_minutes": 0}}),
    )
    .await
    .expect(201);
    let wrap = |code: &str, extra: Value| {
        let mut body = json!({"agent_id": agent, "campaign_id": app.campaign_id(), "wrap_code": code,
                              "phone": "02079460200"});
        body.as_object_mut().unwrap().extend(extra.as_object().cloned().unwrap_or_default());
        body
    };

    let created = app.post("/wraps", wrap("CB1H", json!({}))).await.expect(201);
    let cb = &created["callback"];
    assert_eq!((cb["origin"].as_str(), cb["wrap_code"].as_str()), (Some("wrap_code"), Some("CB1H")));
    assert_eq!((cb["type"].as_str(), cb["queue_id"].as_i64()), (Some("queue"), Some(app.queue_id())));
    assert_eq!(ts(cb["desired_time"].as_str().unwrap()), ts(START) + SignedDuration::from_mins(60));
    assert_eq!(cb["state"], "SCHEDULED");

    let plain = app.post("/wraps", wrap("DONE", json!({}))).await.expect(200);
    assert_eq!(plain, json!({"callback": null}));

    // An agent callback for the wrapping agent, at the chosen time.
    let chosen = app
        .post("/wraps", wrap("MINE", json!({"phone": "02079460201", "callback_time": "2026-03-03T15:00:00Z"})))
        .await
        .expect(201);
    assert_eq!(
        (chosen["callback"]["type"].as_str(), chosen["callback"]["agent_id"].as_i64()),
        (Some("agent"), Some(agent))
    );
    assert_eq!(chosen["callback"]["desired_time"], "2026-03-03T15:00:00Z");

    app.post("/wraps", wrap("NOPE", json!({}))).await.expect_error(404, "not_found");
    app.post("/wraps", wrap("DONE", json!({"agent_id": 9999}))).await.expect_error(422, "unknown_reference");
    app.post("/wraps", wrap("MINE", json!({"phone": "02079460202", "callback_time": "2020-01-01T00:00:00Z"})))
        .await
        .expect_error(422, "time_in_past");
    app.post("/wraps", wrap("CB1H", json!({"phone": "12"}))).await.expect_error(422, "invalid_phone");
}

#[tokio::test]
async fn an_outcome_with_an_add_to_queue_wrap_code_also_creates_that_callback() {
    let app = TestApp::spawn().await;
    add_to_queue_code(&app, "CB2H", 120).await;
    let (agent, id) = offered(&app, "ann", 30).await;
    app.post(&format!("/callbacks/{id}/accept"), json!({"agent_id": agent})).await.expect(200);
    let done = app
        .post(
            &format!("/callbacks/{id}/outcome"),
            json!({"outcome": "connected", "agent_id": agent, "wrap_code": "CB2H"}),
        )
        .await
        .expect(200);
    assert_eq!((done["state"].as_str(), done["wrap_code"].as_str()), (Some("COMPLETED"), Some("CB2H")));
    let generated = &done["wrap_callback"];
    assert_eq!((generated["origin"].as_str(), generated["wrap_code"].as_str()), (Some("wrap_code"), Some("CB2H")));
    assert_eq!(generated["phone"], done["phone"]);
    assert_eq!(ts(generated["desired_time"].as_str().unwrap()), ts(START) + SignedDuration::from_mins(120));
    let listed = app.get("/callbacks?wrap_code=CB2H&state=SCHEDULED").await.expect(200);
    assert_eq!(listed["items"][0]["id"], generated["id"]);

    // A wrap code without Add-to-Queue is only recorded.
    app.presence(agent, "offline").await;
    let (agent2, id2) = offered(&app, "bob", 31).await;
    let plain = app
        .post(
            &format!("/callbacks/{id2}/outcome"),
            json!({"outcome": "connected", "agent_id": agent2, "wrap_code": "SALE"}),
        )
        .await
        .expect(200);
    assert_eq!((plain["wrap_code"].as_str(), plain.get("wrap_callback")), (Some("SALE"), None));
}

#[tokio::test]
async fn an_agent_sees_its_own_list_only_when_allowed() {
    let app = TestApp::spawn().await;
    let hidden = agent_id(&app.create_agent("ann", json!({})).await);
    let allowed = agent_id(&app.create_agent("bob", json!({"can_view_callback_list": true})).await);
    let agent_callback = |agent: i64, n: u32| {
        json!({"type": "agent", "campaign_id": app.campaign_id(), "agent_id": agent, "phone": phone(n),
               "desired_time": "2026-03-03T11:00:00Z"})
    };
    let mine = app.post("/callbacks", agent_callback(allowed, 40)).await.expect(201);
    app.post("/callbacks", agent_callback(hidden, 41)).await.expect(201);
    immediate(&app, 42).await;

    app.get(&format!("/agents/{hidden}/callbacks")).await.expect_error(403, "forbidden");
    let list = app.get(&format!("/agents/{allowed}/callbacks")).await.expect(200);
    assert_eq!(list["total"], 1);
    assert_eq!(list["items"][0]["id"], mine["id"]);
    let filtered = app.get(&format!("/agents/{allowed}/callbacks?state=QUEUED")).await.expect(200);
    assert_eq!(filtered["total"], 0);
    app.get(&format!("/agents/{allowed}/callbacks?agent_id={hidden}")).await.expect_error(400, "unknown_field");
    app.get("/agents/9999/callbacks").await.expect_error(404, "not_found");
    // An agent-role token acts for agents; a monitor does not.
    let agent_token = app.token(Role::Agent).await;
    let monitor = app.token(Role::Monitor).await;
    let path = format!("/agents/{allowed}/callbacks");
    assert_eq!(app.send(Method::GET, &path, Some(&agent_token), None).await.status.as_u16(), 200);
    app.send(Method::GET, &path, Some(&monitor), None).await.expect_error(403, "forbidden");
}

#[tokio::test]
async fn a_waiting_callback_shows_its_position_and_estimated_wait() {
    let app = TestApp::spawn().await;
    let agent = agent_id(&app.create_agent("ann", json!({})).await);
    app.presence(agent, "ready").await;
    let ids: Vec<String> = {
        let mut ids = Vec::new();
        for n in 0..3 {
            ids.push(id_of(&immediate(&app, 50 + n).await));
            // Distinct queue-entry times make the order certain.
            app.advance(SignedDuration::from_secs(1));
        }
        ids
    };
    let scheduled = app
        .post("/callbacks", app.queue_callback(&phone(60), json!({"desired_time": "2026-03-03T11:00:00Z"})))
        .await
        .expect(201);
    app.run_engine().await;

    let get = |id: String| {
        let app = &app;
        async move { app.get(&format!("/callbacks/{id}")).await.expect(200) }
    };
    let first = get(ids[0].clone()).await;
    assert_eq!((first["state"].as_str(), first["position_in_queue"].as_u64()), (Some("ROUTING"), Some(0)));
    let next = get(ids[1].clone()).await;
    let after = get(ids[2].clone()).await;
    assert_eq!((next["position_in_queue"].as_u64(), after["position_in_queue"].as_u64()), (Some(1), Some(2)));
    assert_eq!(next["estimated_wait_secs"], 0, "next in line with a ready agent");
    assert!(after["estimated_wait_secs"].as_u64().is_some_and(|w| w > 0), "{after}");

    // Not in lists, and not for callbacks that are not waiting.
    let listed = app.get("/callbacks?state=QUEUED").await.expect(200);
    assert!(listed["items"].as_array().unwrap().iter().all(|c| c["position_in_queue"].is_null()));
    let waiting_later = get(id_of(&scheduled)).await;
    assert_eq!(
        (waiting_later["position_in_queue"].clone(), waiting_later["estimated_wait_secs"].clone()),
        (Value::Null, Value::Null)
    );

    // Without a ready agent there is no estimate.
    app.presence(agent, "offline").await;
    let lonely = get(ids[2].clone()).await;
    assert_eq!((lonely["position_in_queue"].as_u64(), lonely["estimated_wait_secs"].clone()), (Some(3), Value::Null));
}

#[tokio::test]
async fn stopping_a_campaign_returns_its_queued_callbacks_to_scheduled() {
    let app = TestApp::spawn().await;
    let id = id_of(&immediate(&app, 70).await);
    app.run_engine().await;
    assert_eq!(app.get(&format!("/callbacks/{id}")).await.expect(200)["state"], "QUEUED");
    app.patch(&format!("/campaigns/{}", app.campaign_id()), json!({"running": false})).await.expect(200);
    let stopped = app.get(&format!("/callbacks/{id}")).await.expect(200);
    assert_eq!((stopped["state"].as_str(), stopped["earliest_time"].clone()), (Some("SCHEDULED"), Value::Null));
    app.patch(&format!("/campaigns/{}", app.campaign_id()), json!({"running": true})).await.expect(200);
    assert_eq!(app.run_engine().await.promoted, 1);
    assert_eq!(app.get(&format!("/callbacks/{id}")).await.expect(200)["state"], "QUEUED");
}

#[tokio::test]
async fn metrics_are_prometheus_text_without_a_token() {
    let app = TestApp::spawn().await;
    immediate(&app, 80).await;
    immediate(&app, 81).await;
    app.run_engine().await;
    let response = app.client.get(format!("{}/metrics", app.addr)).send().await.expect("request");
    assert_eq!(response.status().as_u16(), 200);
    let content_type = response.headers()["content-type"].to_str().unwrap().to_string();
    assert!(content_type.starts_with("application/openmetrics-text"), "{content_type}");
    let text = response.text().await.unwrap();
    let queued = text
        .lines()
        .find_map(|l| l.strip_prefix("rebound_callbacks{state=\"QUEUED\"} "))
        .unwrap_or_else(|| panic!("no QUEUED gauge in:\n{text}"));
    assert_eq!(queued.trim().parse::<f64>().unwrap(), 2.0);
    assert!(text.contains("rebound_promotions"), "{text}");
}

#[tokio::test]
async fn the_event_stream_delivers_state_changes_and_replays_from_an_id() {
    let app = TestApp::spawn().await;
    let mut stream = app.open_stream("/events", Some(&app.admin), &[]).await;
    assert_eq!(stream.status().as_u16(), 200);
    assert!(stream.response.headers()["content-type"].to_str().unwrap().starts_with("text/event-stream"));

    let id = id_of(&immediate(&app, 90).await);
    app.run_engine().await;
    let promoted = stream
        .wait_for(STREAM_WAIT, |e| e.event.as_deref() == Some("callback") && e.json()["action"] == "promoted")
        .await
        .expect("a promoted event arrives");
    let event = promoted.json();
    assert_eq!((event["callback_id"].as_str(), event["to_state"].as_str()), (Some(id.as_str()), Some("QUEUED")));
    assert_eq!(promoted.id, Some(event["id"].to_string()), "the SSE id is the event id");

    // Reconnecting with Last-Event-ID replays what came after it (here: from the very start).
    let mut replay =
        app.open_stream(&format!("/events?callback_id={id}"), Some(&app.admin), &[("last-event-id", "0")]).await;
    let first = replay.next_event(STREAM_WAIT).await.expect("a replayed event");
    assert_eq!(
        (first.json()["action"].as_str(), first.json()["callback_id"].as_str()),
        (Some("created"), Some(id.as_str()))
    );
    let second = replay.next_event(STREAM_WAIT).await.expect("the next replayed event");
    assert_eq!(second.json()["action"], "promoted");

    // Readers may follow it; agents may not; bad cursors are refused.
    let monitor = app.token(Role::Monitor).await;
    assert_eq!(app.open_stream("/events", Some(&monitor), &[]).await.status().as_u16(), 200);
    let agent_token = app.token(Role::Agent).await;
    assert_eq!(app.send(Method::GET, "/events", Some(&agent_token), None).await.status.as_u16(), 403);
    app.send(Method::GET, "/events?after=soon", Some(&app.admin), None).await.expect_error(400, "invalid_request");
    app.send(Method::GET, "/events?callback_id=nope", Some(&app.admin), None)
        .await
        .expect_error(422, "validation_failed");
}

#[tokio::test]
async fn the_agent_stream_sends_the_current_offer_then_each_change() {
    let app = TestApp::spawn().await;
    let agent = agent_id(&app.create_agent("ann", json!({})).await);
    let mut stream = app.open_stream(&format!("/agents/{agent}/events"), Some(&app.admin), &[]).await;
    assert_eq!(stream.status().as_u16(), 200);
    let first = stream.next_event(STREAM_WAIT).await.expect("the current offer on connect");
    assert_eq!((first.event.as_deref(), first.json()), (Some("offer"), Value::Null));

    app.presence(agent, "ready").await;
    let id = id_of(&immediate(&app, 95).await);
    app.run_engine().await;
    let offer = stream
        .wait_for(STREAM_WAIT, |e| e.event.as_deref() == Some("offer") && !e.json().is_null())
        .await
        .expect("the offer arrives");
    assert_eq!((offer.json()["id"].as_str(), offer.json()["state"].as_str()), (Some(id.as_str()), Some("ROUTING")));

    app.post(&format!("/callbacks/{id}/reject"), json!({"agent_id": agent})).await.expect(200);
    let withdrawn = stream.wait_for(STREAM_WAIT, |e| e.json().is_null()).await;
    assert!(withdrawn.is_some(), "the rejected offer is gone");

    app.send(Method::GET, "/agents/9999/events", Some(&app.admin), None).await.expect_error(404, "not_found");
}

#[tokio::test]
async fn bad_protocol_requests_are_refused_with_the_contract_body() {
    let app = TestApp::spawn().await;
    let (agent, id) = offered(&app, "ann", 99).await;
    let scheduled = app
        .post("/callbacks", app.queue_callback(&phone(98), json!({"desired_time": "2026-03-03T11:00:00Z"})))
        .await
        .expect(201);

    let outcome = format!("/callbacks/{id}/outcome");
    app.post(&outcome, json!({"outcome": "exploded"})).await.expect_error(400, "invalid_request");
    app.post(&outcome, json!({})).await.expect_error(400, "invalid_request");
    app.post(&outcome, json!({"outcome": "connected", "agent_id": agent, "lease_id": "x"}))
        .await
        .expect_error(422, "validation_failed");
    app.post(&outcome, json!({"outcome": "connected", "notes": "x".repeat(5000)}))
        .await
        .expect_error(422, "validation_failed");
    app.post(&format!("/callbacks/{}/outcome", id_of(&scheduled)), json!({"outcome": "connected"}))
        .await
        .expect_error(409, "illegal_transition");
    app.post("/callbacks/01890000-0000-7000-8000-000000000000/accept", json!({})).await.expect_error(404, "not_found");
    app.post(&format!("/callbacks/{id}/accept"), json!({"agnt": 1})).await.expect_error(400, "unknown_field");

    let claim = |body: Value| app.post("/dialer/claim", body);
    let campaign = app.campaign_id();
    claim(json!({"campaign_id": campaign, "max": 0, "lease_secs": 30})).await.expect_error(422, "validation_failed");
    claim(json!({"campaign_id": campaign, "max": 5000, "lease_secs": 30})).await.expect_error(422, "validation_failed");
    claim(json!({"campaign_id": campaign, "max": 1, "lease_secs": 0})).await.expect_error(422, "validation_failed");
    claim(json!({"campaign_id": 9999, "max": 1, "lease_secs": 30})).await.expect_error(422, "unknown_reference");
    claim(json!({"campaign_id": campaign, "max": -1, "lease_secs": 30})).await.expect_error(400, "invalid_request");
    let too_many: Vec<Value> =
        (0..1001).map(|_| json!({"id": "01890000-0000-7000-8000-000000000000", "outcome": "busy"})).collect();
    app.post("/dialer/outcomes", json!({"items": too_many})).await.expect_error(422, "validation_failed");

    app.put("/agents/9999/presence", json!({"presence": "ready"})).await.expect_error(404, "not_found");
    app.put(&format!("/agents/{agent}/presence"), json!({"presence": "busy"}))
        .await
        .expect_error(422, "validation_failed");
    app.put(&format!("/agents/{agent}/presence"), json!({"presence": "asleep"}))
        .await
        .expect_error(400, "invalid_request");
    app.get("/agents/9999/offer").await.expect_error(404, "not_found");

    // Permissions: monitors read, they do not act.
    let monitor = app.token(Role::Monitor).await;
    app.send(Method::PUT, &format!("/agents/{agent}/presence"), Some(&monitor), Some(&json!({"presence": "ready"})))
        .await
        .expect_error(403, "forbidden");
    app.send(
        Method::POST,
        "/dialer/claim",
        Some(&monitor),
        Some(&json!({"campaign_id": campaign, "max": 1, "lease_secs": 1})),
    )
    .await
    .expect_error(403, "forbidden");
    app.send(Method::POST, "/wraps", None, Some(&json!({}))).await.expect_error(401, "unauthorized");

    // The offer is untouched by all of that.
    assert_eq!(app.get(&format!("/agents/{agent}/offer")).await.expect(200)["id"], id.as_str());
}

#[tokio::test]
async fn every_new_route_is_in_the_openapi_document() {
    let app = TestApp::spawn().await;
    let doc = app.get("/api/openapi.json").await.expect(200);
    for path in [
        "/api/v1/agents/{id}/presence",
        "/api/v1/agents/{id}/offer",
        "/api/v1/agents/{id}/events",
        "/api/v1/agents/{id}/callbacks",
        "/api/v1/callbacks/{id}/accept",
        "/api/v1/callbacks/{id}/reject",
        "/api/v1/callbacks/{id}/outcome",
        "/api/v1/dialer/claim",
        "/api/v1/dialer/outcomes",
        "/api/v1/campaigns/{id}/auto-callbacks",
        "/api/v1/wraps",
        "/api/v1/events",
        "/metrics",
    ] {
        assert!(doc["paths"][path].is_object(), "{path} is not documented");
    }
    assert_eq!(doc["paths"]["/metrics"]["get"]["security"], json!([{}]), "metrics need no token");
}
