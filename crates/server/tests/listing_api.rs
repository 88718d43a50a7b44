//! Bulk import, the list filters, paging and sorting, quick phone search and callback search.

mod common;

use common::{TestApp, ts};
use jiff::SignedDuration;
use serde_json::{Value, json};

fn london(n: u32) -> String {
    format!("+44207946{n:04}")
}

fn total(reply: Value) -> u64 {
    reply["total"].as_u64().expect("total")
}

/// 600 callbacks by import: 400 queue callbacks (even ones with notes), 200 agent callbacks,
/// desired times a minute apart from the next morning on.
async fn seed(app: &TestApp) -> (i64, Vec<Value>) {
    let agent = app
        .post(
            "/agents",
            json!({"name": "Ann", "username": "ann", "timezone": "Europe/London", "campaigns": [app.campaign_id()]}),
        )
        .await
        .expect(201);
    let agent_id = agent["id"].as_i64().unwrap();
    let start = ts("2026-03-03T09:00:00Z");
    let items: Vec<Value> = (0..600u32)
        .map(|i| {
            let desired = start.checked_add(SignedDuration::from_mins(i64::from(i))).unwrap().to_string();
            if i < 400 {
                app.queue_callback(&london(i), json!({"desired_time": desired, "notes": format!("note {i}")}))
            } else {
                json!({"type": "agent", "campaign_id": app.campaign_id(), "agent_id": agent_id, "phone": london(i),
                       "desired_time": desired})
            }
        })
        .collect();
    let result = app.post("/callbacks/import", json!({"items": items})).await.expect(200);
    assert_eq!(result["created"], 600);
    (agent_id, result["items"].as_array().unwrap().clone())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_reports_each_item_and_stores_them_with_origin_import() {
    let app = TestApp::spawn().await;
    let items = json!({"items": [
        app.queue_callback(&london(1), json!({})),
        app.queue_callback("12", json!({})),
        {"type": "queue", "campaign_id": app.campaign_id(), "phone": london(2), "colour": "red"},
        app.queue_callback(&london(1), json!({})),
    ]});
    let result = app.post("/callbacks/import", items).await.expect(200);
    assert_eq!(result["created"], 1);
    let results = result["items"].as_array().unwrap();
    assert_eq!(results.len(), 4);
    assert_eq!(results[0]["index"], 0);
    let id = results[0]["id"].as_str().expect("first item created");
    assert_eq!(results[1]["error"]["code"], "invalid_phone");
    assert_eq!(results[2]["error"]["code"], "unknown_field");
    assert_eq!(results[3]["error"]["code"], "duplicate_callback");
    let cb = app.get(&format!("/callbacks/{id}")).await.expect(200);
    assert_eq!(cb["origin"], "import");
    assert_eq!(app.get(&format!("/callbacks/{id}/events")).await.expect(200)[0]["action"], "imported");

    app.post("/callbacks/import", json!({"items": []})).await.expect(200);
    app.post("/callbacks/import", json!({"rows": []})).await.expect_error(400, "unknown_field");
}

/// Items are read from their JSON text, but answer as if read from a parsed JSON value: a repeated
/// member counts once (its last value), errors carry no position. (Which of two wrong members is
/// reported first depends on whether serde_json keeps member order, a feature another crate of the
/// workspace may turn on, so no item here has two.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_items_answer_as_json_values_would() {
    let app = TestApp::spawn().await;
    let (campaign, queue) = (app.campaign_id(), app.queue_id());
    let body = format!(
        r#"{{"items": [
            {{"type": "queue", "campaign_id": "{campaign}", "queue_id": {queue}, "phone": "{one}"}},
            {{"type": "queue", "campaign_id": {campaign}, "queue_id": {queue}, "phone": "12", "phone": "{two}"}},
            {{"type": "queue", "colour": "red"}}
        ]}}"#,
        one = london(1),
        two = london(2),
    );
    let result = app.post_raw("/callbacks/import", "application/json", &body).await.expect(200);
    assert_eq!(result["created"], 1);
    let wrong_type = &result["items"][0]["error"];
    assert_eq!(wrong_type["code"], "invalid_request");
    assert_eq!(wrong_type["message"], format!("invalid type: string \"{campaign}\", expected i64"));
    assert_eq!(wrong_type["details"], json!({"line": 0, "column": 0}));
    assert!(result["items"][1]["id"].is_string(), "the last of a repeated member counts: {result}");
    assert_eq!(result["items"][2]["error"]["code"], "unknown_field");

    // A repeated member over a limit: only its last value is checked.
    let notes = "n".repeat(5_000);
    let body = format!(
        r#"{{"items": [{{"type": "queue", "campaign_id": {campaign}, "queue_id": {queue}, "phone": "{three}",
            "notes": "{notes}", "notes": "short"}}]}}"#,
        three = london(3),
    );
    let result = app.post_raw("/callbacks/import", "application/json", &body).await.expect(200);
    assert_eq!(result["created"], 1, "{result}");
    // Text that does not read as a JSON value (a lone surrogate, a number out of range) is the
    // whole request's error.
    let body = format!(r#"{{"items": [{{"type": "queue", "campaign_id": {campaign}, "phone": "\ud800"}}]}}"#);
    app.post_raw("/callbacks/import", "application/json", &body).await.expect_error(400, "invalid_request");
    let body = r#"{"items": [{"data": {"x": 1e400}}]}"#;
    app.post_raw("/callbacks/import", "application/json", body).await.expect_error(400, "invalid_request");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_accepts_ten_thousand_items_and_refuses_more() {
    let app = TestApp::spawn().await;
    let too_many: Vec<Value> = (0..10_001).map(|_| json!({})).collect();
    app.post("/callbacks/import", json!({"items": too_many})).await.expect_error(422, "validation_failed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_page_sort_and_count_every_match() {
    let app = TestApp::spawn().await;
    seed(&app).await;
    let first = app.get("/callbacks").await.expect(200);
    assert_eq!(
        (first["page"].as_u64(), first["page_size"].as_u64(), first["total"].as_u64()),
        (Some(1), Some(250), Some(600))
    );
    assert_eq!(first["items"].as_array().unwrap().len(), 250);
    let third = app.get("/callbacks?page=3").await.expect(200);
    assert_eq!(third["items"].as_array().unwrap().len(), 100);
    let big = app.get("/callbacks?page_size=1000").await.expect(200);
    let times: Vec<&str> =
        big["items"].as_array().unwrap().iter().map(|c| c["desired_time"].as_str().unwrap()).collect();
    assert_eq!(times.len(), 600);
    assert!(times.windows(2).all(|w| ts(w[0]) <= ts(w[1])), "ascending by desired time");
    let desc = app.get("/callbacks?sort=-desired_time&page_size=5").await.expect(200);
    assert_eq!(desc["items"][0]["desired_time"], *times.last().unwrap());
    assert!(app.get("/callbacks?page=4").await.expect(200)["items"].as_array().unwrap().is_empty());

    app.get("/callbacks?page_size=5000").await.expect_error(422, "validation_failed");
    app.get("/callbacks?page_size=0").await.expect_error(422, "validation_failed");
    app.get("/callbacks?page=0").await.expect_error(422, "validation_failed");
    app.get("/callbacks?page=two").await.expect_error(400, "invalid_request");
    app.get("/callbacks?sort=colour").await.expect_error(422, "validation_failed");
    app.get("/callbacks?colour=red").await.expect_error(400, "unknown_field");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_list_filter_narrows_the_result() {
    let app = TestApp::spawn().await;
    let (agent_id, _) = seed(&app).await;
    let (c, q) = (app.campaign_id(), app.queue_id());
    assert_eq!(total(app.get("/callbacks?state=SCHEDULED").await.expect(200)), 600);
    assert_eq!(total(app.get("/callbacks?state=QUEUED").await.expect(200)), 0);
    assert_eq!(total(app.get("/callbacks?state=QUEUED,SCHEDULED").await.expect(200)), 600);
    assert_eq!(total(app.get("/callbacks?state=queued&state=scheduled").await.expect(200)), 600);
    app.get("/callbacks?state=LOST").await.expect_error(422, "validation_failed");
    assert_eq!(total(app.get(&format!("/callbacks?campaign_id={c}")).await.expect(200)), 600);
    assert_eq!(total(app.get(&format!("/callbacks?campaign_id={c}&campaign_id=9999")).await.expect(200)), 600);
    assert_eq!(total(app.get("/callbacks?campaign_id=9999").await.expect(200)), 0);
    assert_eq!(total(app.get(&format!("/callbacks?queue_id={q}")).await.expect(200)), 400);
    assert_eq!(total(app.get(&format!("/callbacks?agent_id={agent_id}")).await.expect(200)), 200);
    assert_eq!(total(app.get("/callbacks?type=agent").await.expect(200)), 200);
    assert_eq!(total(app.get("/callbacks?type=queue").await.expect(200)), 400);
    app.get("/callbacks?type=robot").await.expect_error(422, "validation_failed");
    assert_eq!(total(app.get("/callbacks?wrap_code=CB1H").await.expect(200)), 0);
    assert_eq!(total(app.get("/callbacks?list_id=1").await.expect(200)), 0);
    app.get("/callbacks?list_id=one").await.expect_error(400, "invalid_request");
    // Desired-time range: [from, to).
    let ranged = app.get("/callbacks?from=2026-03-03T09:00:00Z&to=2026-03-03T10:00:00Z").await.expect(200);
    assert_eq!(total(ranged), 60);
    let local =
        app.get("/callbacks?from=2026-03-03T09:00:00&to=2026-03-03T09:10:00&timezone=Europe/London").await.expect(200);
    assert_eq!(total(local), 10);
    app.get("/callbacks?from=yesterday").await.expect_error(422, "invalid_time");
    // Column search.
    assert_eq!(total(app.get("/callbacks?q=note%20123&q_field=notes").await.expect(200)), 1);
    assert_eq!(total(app.get("/callbacks?q=NOTE&q_field=notes").await.expect(200)), 400);
    app.get("/callbacks?q=x&q_field=colour").await.expect_error(422, "validation_failed");
    // Nothing is overdue until time passes; then the earliest ones are.
    assert_eq!(total(app.get("/callbacks?overdue=true").await.expect(200)), 0);
    app.advance(SignedDuration::from_hours(23) + SignedDuration::from_mins(5));
    let overdue = app.get("/callbacks?overdue=true").await.expect(200);
    assert!(total(overdue.clone()) > 0);
    assert!(overdue["items"].as_array().unwrap().iter().all(|c| c["overdue"] == true));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn phone_search_reads_any_format_and_matches_lead_phones_too() {
    let app = TestApp::spawn().await;
    let list = app.post("/lists", json!({"name": "UK", "fields": []})).await.expect(201);
    app.patch(&format!("/campaigns/{}", app.campaign_id()), json!({"lists": [list["id"]]})).await.expect(200);
    let lead = app
        .post("/leads", json!({"list_id": list["id"], "phones": ["020 7946 0001", "020 7946 0002", "020 7946 0003"]}))
        .await
        .expect(201);
    let cb =
        app.post("/callbacks", app.queue_callback("+442079460001", json!({"lead_id": lead["id"]}))).await.expect(201);
    assert_eq!(cb["list_id"], list["id"]);
    app.post("/callbacks", app.queue_callback("+442079469999", json!({}))).await.expect(201);

    for query in ["020%207946%200001", "%2B442079460001", "0044%2020%207946%200001", "020%207946%200002", "02079460003"]
    {
        let found = app.get(&format!("/callbacks?phone={query}")).await.expect(200);
        assert_eq!(total(found.clone()), 1, "{query}");
        assert_eq!(found["items"][0]["id"], cb["id"]);
    }
    assert_eq!(total(app.get("/callbacks?phone=0123").await.expect(200)), 0);
    assert_eq!(total(app.get(&format!("/callbacks?list_id={}", list["id"])).await.expect(200)), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callback_search_finds_by_id_or_phone_across_states_and_time() {
    let app = TestApp::spawn().await;
    let cb = app.post("/callbacks", app.queue_callback("02073794334", json!({}))).await.expect(201);
    let id = cb["id"].as_str().unwrap();
    let by_id = app.get(&format!("/search?q={id}")).await.expect(200);
    assert_eq!(by_id["items"].as_array().unwrap().len(), 1);
    assert_eq!(by_id["items"][0]["id"], cb["id"]);
    let by_phone = app.get("/search?q=020%207379%204334").await.expect(200);
    assert_eq!(by_phone["items"][0]["id"], cb["id"]);
    assert!(
        app.get("/search?q=0190a0e4-0000-7000-8000-000000000000").await.expect(200)["items"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    assert!(app.get("/search?q=nonsense").await.expect(200)["items"].as_array().unwrap().is_empty());
    app.get("/search").await.expect_error(422, "validation_failed");
    app.get("/search?q=1&limit=0").await.expect_error(422, "validation_failed");
}
