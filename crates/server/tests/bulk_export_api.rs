//! Bulk cancel (by ids and by range) with its Cancellation Summary Report, the streamed CSV export,
//! and retention driven by the manual clock. Every CSV is parsed back with the `csv` crate and
//! checked row by row against the JSON API.

mod common;

use std::collections::HashMap;
use std::time::Duration;

use common::{TestApp, parse_csv, ts};
use jiff::SignedDuration;
use rebound_domain::access::Role;
use rebound_domain::state::Action;
use rebound_server::{AppConfig, retention};
use serde_json::{Value, json};

fn london(n: u32) -> String {
    format!("+44207946{n:04}")
}

fn id_of(v: &Value) -> i64 {
    v["id"].as_i64().expect("numeric id")
}

fn cb_id(v: &Value) -> String {
    v["id"].as_str().expect("callback id").to_string()
}

const REPORT_HEADER: [&str; 10] =
    ["id", "phone", "campaign", "queue", "desired_time", "state_before", "outcome", "reason", "by", "at"];

const EXPORT_HEADER: [&str; 20] = [
    "id",
    "type",
    "origin",
    "state",
    "result",
    "phone",
    "campaign",
    "list",
    "queue",
    "agent",
    "lead_id",
    "wrap_code",
    "desired_time",
    "desired_time_local",
    "earliest_time",
    "attempts",
    "priority",
    "notes",
    "created_by",
    "created_at",
];

/// A scheduled callback in `queue` of the fixture campaign.
async fn in_queue(app: &TestApp, queue: i64, n: u32, desired: &str) -> Value {
    app.post(
        "/callbacks",
        json!({"type": "queue", "campaign_id": app.campaign_id(), "queue_id": queue, "phone": london(n),
               "desired_time": desired}),
    )
    .await
    .expect(201)
}

/// What a spreadsheet-safe CSV cell reads back as (every cell: free text, E.164 numbers, numbers).
fn neutralised(text: &str) -> String {
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) { format!("'{text}") } else { text.to_string() }
}

/// A JSON string field as CSV text (`null` → empty).
fn cell(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Fetches a report and checks its envelope; answers its rows keyed by callback id, in order.
async fn report(app: &TestApp, report_id: &str) -> Vec<Vec<String>> {
    let (status, headers, text) = app.get_csv(&format!("/reports/cancellations/{report_id}.csv"), &app.admin).await;
    assert_eq!(status.as_u16(), 200, "{text}");
    assert!(headers["content-type"].to_str().unwrap().starts_with("text/csv"));
    let disposition = headers["content-disposition"].to_str().unwrap();
    assert!(disposition.starts_with("attachment;") && disposition.contains(report_id), "{disposition}");
    let (header, rows) = parse_csv(&text);
    assert_eq!(header, REPORT_HEADER);
    rows
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bulk_cancel_by_ids_skips_processing_completed_and_unknown_ones_and_reports_each() {
    let app = TestApp::spawn().await;
    let night = app.create_queue(app.campaign_id(), json!({"name": "=Night, \"late\" shift"})).await;
    let a = in_queue(&app, app.queue_id(), 1, "2026-03-03T10:00:00Z").await;
    let b = in_queue(&app, id_of(&night), 2, "2026-03-03T11:30:00Z").await;
    let c = in_queue(&app, app.queue_id(), 3, "2026-03-03T10:00:00Z").await;
    let d = in_queue(&app, app.queue_id(), 4, "2026-03-03T10:00:00Z").await;
    app.drive(&cb_id(&c), &[Action::Promote, Action::Reserve, Action::Accept]).await;
    app.post(&format!("/callbacks/{}/cancel", cb_id(&d)), json!({})).await.expect(200);
    let unknown = "0190a0e4-0000-7000-8000-000000000000";
    app.advance(SignedDuration::from_mins(1));
    let (supervisor, supervisor_actor) = app.token_and_actor(Role::Supervisor).await;

    let ids = [cb_id(&a), cb_id(&b), cb_id(&c), cb_id(&d), unknown.to_string(), cb_id(&a)];
    let body = json!({"ids": ids, "reason": "storm, \"red\" warning"});
    let result =
        app.send(reqwest::Method::POST, "/callbacks/bulk-cancel", Some(&supervisor), Some(&body)).await.expect(200);
    assert_eq!(result["cancelled"], 2);
    let report_id = result["report_id"].as_str().expect("a report id").to_string();
    let skipped: HashMap<String, &Value> =
        result["skipped"].as_array().unwrap().iter().map(|s| (cb_id(s), s)).collect();
    assert_eq!(skipped.len(), 3, "{result}");
    assert_eq!(skipped[&cb_id(&c)]["state"], "PROCESSING");
    assert!(skipped[&cb_id(&c)]["reason"].as_str().unwrap().contains("PROCESSING"));
    assert_eq!(skipped[&cb_id(&d)]["state"], "COMPLETED");
    assert_eq!(skipped[unknown]["state"], Value::Null);

    for (cb, state, result) in [(&a, "COMPLETED", "CANCELLED_BY_ADMIN"), (&b, "COMPLETED", "CANCELLED_BY_ADMIN")] {
        let now = app.get(&format!("/callbacks/{}", cb_id(cb))).await.expect(200);
        assert_eq!((now["state"].as_str(), now["result"].as_str()), (Some(state), Some(result)));
        let events = app.events(&cb_id(cb)).await;
        let last = events.last().unwrap();
        assert_eq!(
            (last["action"].as_str(), last["actor"].as_str()),
            (Some("cancelled"), Some(supervisor_actor.as_str()))
        );
    }
    assert_eq!(app.get(&format!("/callbacks/{}", cb_id(&c))).await.expect(200)["state"], "PROCESSING");

    // The report, row by row, in the order the ids were given (each id once).
    let rows = report(&app, &report_id).await;
    let at = "2026-03-02T10:01:00Z";
    let expect_row = |cb: &Value, queue: &str, state: &str, outcome: &str, reason: &str| -> Vec<String> {
        [
            cb_id(cb).as_str(),
            cb["phone"].as_str().unwrap(),
            "London",
            queue,
            cb["desired_time"].as_str().unwrap(),
            state,
            outcome,
            reason,
            supervisor_actor.as_str(),
            at,
        ]
        .map(neutralised)
        .to_vec()
    };
    let queue_name = app.queue["name"].as_str().unwrap();
    assert_eq!(rows.len(), 5, "{rows:?}");
    assert_eq!(rows[0], expect_row(&a, queue_name, "SCHEDULED", "cancelled", "storm, \"red\" warning"));
    assert_eq!(rows[1], expect_row(&b, "'=Night, \"late\" shift", "SCHEDULED", "cancelled", "storm, \"red\" warning"));
    assert_eq!(rows[2][..7], expect_row(&c, queue_name, "PROCESSING", "skipped", "")[..7]);
    assert!(rows[2][7].contains("PROCESSING"), "{:?}", rows[2]);
    assert_eq!(rows[3][..7], expect_row(&d, queue_name, "COMPLETED", "skipped", "")[..7]);
    assert_eq!((rows[4][0].as_str(), rows[4][5].as_str(), rows[4][6].as_str()), (unknown, "", "skipped"));
    assert_eq!(rows[4][4], "", "an unknown id has no desired time");

    for missing in [
        format!("/reports/cancellations/{report_id}"),
        "/reports/cancellations/0190a0e4-0000-7000-8000-000000000009.csv".into(),
        "/reports/cancellations/.csv".into(),
    ] {
        app.get(&missing).await.expect_error(404, "not_found");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bulk_cancel_by_range_takes_exactly_what_the_list_shows_for_the_same_filters() {
    let app = TestApp::spawn().await;
    let other = app.create_queue(app.campaign_id(), json!({})).await;
    let q = app.queue_id();
    let mut n = 0;
    let mut make = |queue: i64, desired: &'static str| {
        n += 1;
        let app = &app;
        let n = n;
        async move { in_queue(app, queue, n, desired).await }
    };
    let day1 = [
        make(q, "2026-03-03T09:00:00Z").await,
        make(q, "2026-03-03T12:00:00Z").await,
        make(q, "2026-03-03T16:45:00Z").await,
        make(q, "2026-03-03T16:50:00Z").await,
        make(q, "2026-03-03T16:55:00Z").await,
    ];
    let other_queue = make(id_of(&other), "2026-03-03T12:00:00Z").await;
    let day2 = make(q, "2026-03-04T09:00:00Z").await;
    let processing = cb_id(&day1[3]);
    app.drive(&processing, &[Action::Promote, Action::Reserve, Action::Accept]).await;
    let completed = cb_id(&day1[4]);
    app.post(&format!("/callbacks/{completed}/cancel"), json!({})).await.expect(200);

    let listed = app
        .get(&format!("/callbacks?from=2026-03-03&to=2026-03-04&timezone=Europe/London&queue_id={q}"))
        .await
        .expect(200);
    let listed: Vec<String> = listed["items"].as_array().unwrap().iter().map(cb_id).collect();
    assert_eq!(listed.len(), 5);

    let range = json!({"from": "2026-03-03", "to": "2026-03-04", "timezone": "Europe/London", "queue_id": [q]});
    let result = app
        .post("/callbacks/bulk-cancel", json!({"all_in_range": range, "by_customer": true, "reason": "closed"}))
        .await
        .expect(200);
    assert_eq!(result["cancelled"], 3);
    let skipped: Vec<(String, &str)> =
        result["skipped"].as_array().unwrap().iter().map(|s| (cb_id(s), s["state"].as_str().unwrap())).collect();
    assert_eq!(skipped.len(), 2);
    assert!(
        skipped.contains(&(processing.clone(), "PROCESSING")) && skipped.contains(&(completed.clone(), "COMPLETED"))
    );
    for id in &listed {
        let now = app.get(&format!("/callbacks/{id}")).await.expect(200);
        if *id == processing {
            assert_eq!(now["state"], "PROCESSING");
        } else if *id == completed {
            assert_eq!(now["result"], "CANCELLED_BY_ADMIN", "an earlier cancel is left as it was");
        } else {
            assert_eq!(now["result"], "CANCELLED_BY_CUSTOMER");
        }
    }
    for untouched in [&other_queue, &day2] {
        assert_eq!(app.get(&format!("/callbacks/{}", cb_id(untouched))).await.expect(200)["state"], "SCHEDULED");
    }
    let rows = report(&app, result["report_id"].as_str().unwrap()).await;
    let mut reported: Vec<String> = rows.iter().map(|r| r[0].clone()).collect();
    let mut expected = listed.clone();
    reported.sort();
    expected.sort();
    assert_eq!(reported, expected);
    for row in &rows {
        let outcome = if row[0] == processing || row[0] == completed { "skipped" } else { "cancelled" };
        assert_eq!(row[6], outcome, "{row:?}");
        if outcome == "cancelled" {
            assert_eq!((row[5].as_str(), row[7].as_str()), ("SCHEDULED", "closed"));
        }
    }

    // What a range request must say, and what it may not.
    let refusals = [
        (json!({"all_in_range": {"from": "2026-03-03T00:00:00Z"}}), 422, "validation_failed"),
        (json!({"all_in_range": {"to": "2026-03-03T00:00:00Z"}}), 422, "validation_failed"),
        (json!({"ids": [processing], "all_in_range": range}), 422, "validation_failed"),
        (json!({"reason": "nothing selected"}), 422, "validation_failed"),
        (json!({"ids": []}), 422, "validation_failed"),
        (json!({"ids": ["not-an-id"]}), 422, "validation_failed"),
        (json!({"all_in_range": {"from": "2026-03-03", "to": "2026-03-04", "page": 2}}), 400, "unknown_field"),
        (
            json!({"all_in_range": {"from": "2026-03-03", "to": "2026-03-04", "state": "BOGUS"}}),
            422,
            "validation_failed",
        ),
        (json!({"all_in_range": {"from": "2026-03-04", "to": "2026-03-03"}}), 422, "validation_failed"),
        (
            json!({"all_in_range": {"from": "2026-03-03", "to": "2026-03-04", "queue_id": {"x": 1}}}),
            400,
            "invalid_request",
        ),
    ];
    for (body, status, code) in refusals {
        let reply = app.post("/callbacks/bulk-cancel", body.clone()).await;
        assert_eq!(reply.status.as_u16(), status, "{body}: {}", reply.body);
        reply.expect_error(status, code);
    }
    let missing_to = app.post("/callbacks/bulk-cancel", json!({"all_in_range": {"from": "2026-03-03"}})).await;
    assert_eq!(missing_to.expect_error(422, "validation_failed")["error"]["details"]["field"], "all_in_range.to");
}

/// The export's rows checked one by one against the list API's callbacks, in the same order.
async fn check_export_against_list(app: &TestApp, query: &str, names: &Names) -> usize {
    let (status, headers, text) = app.get_csv(&format!("/callbacks.csv{query}"), &app.admin).await;
    assert_eq!(status.as_u16(), 200, "{text}");
    assert!(headers["content-type"].to_str().unwrap().starts_with("text/csv"));
    assert_eq!(headers["content-disposition"], "attachment; filename=\"callbacks.csv\"");
    let (header, rows) = parse_csv(&text);
    assert_eq!(header, EXPORT_HEADER);
    let list_query = if query.is_empty() { "?page_size=1000".to_string() } else { format!("{query}&page_size=1000") };
    let listed = app.get(&format!("/callbacks{list_query}")).await.expect(200);
    let listed = listed["items"].as_array().unwrap();
    assert_eq!(rows.len(), listed.len(), "{query}");
    for (row, cb) in rows.iter().zip(listed) {
        let (campaign, offset) = &names.campaigns[&cb["campaign_id"].as_i64().unwrap()];
        let name = |map: &HashMap<i64, String>, field: &str| {
            cb[field].as_i64().map(|id| neutralised(&map[&id])).unwrap_or_default()
        };
        let expected = [
            cell(&cb["id"]),
            cell(&cb["type"]),
            cell(&cb["origin"]),
            cell(&cb["state"]),
            cell(&cb["result"]),
            cell(&cb["phone"]),
            neutralised(campaign),
            name(&names.lists, "list_id"),
            name(&names.queues, "queue_id"),
            name(&names.agents, "agent_id"),
            cell(&cb["lead_id"]),
            cell(&cb["wrap_code"]),
            cell(&cb["desired_time"]),
            row[13].clone(), // checked below
            cell(&cb["earliest_time"]),
            cell(&cb["attempts"]),
            cell(&cb["priority"]),
            neutralised(&cell(&cb["notes"])),
            cell(&cb["created_by"]),
            cell(&cb["created_at"]),
        ]
        .map(|cell| neutralised(&cell));
        assert_eq!(row, &expected, "row of {}", cb["id"]);
        // E.164 numbers start with `+`, so they are neutralised too.
        assert_eq!(row[5], format!("'{}", cell(&cb["phone"])));
        // The local time is the same instant, written with the campaign's offset.
        assert_eq!(ts(&row[13]), ts(cb["desired_time"].as_str().unwrap()), "{row:?}");
        assert!(row[13].ends_with(offset.as_str()), "{} should carry {offset}", row[13]);
    }
    rows.len()
}

struct Names {
    campaigns: HashMap<i64, (String, String)>,
    lists: HashMap<i64, String>,
    queues: HashMap<i64, String>,
    agents: HashMap<i64, String>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_export_matches_the_list_row_by_row_with_safe_quoting() {
    let app = TestApp::spawn().await;
    let sydney = app.create_campaign("=Sydney, \"AU\"", "Australia/Sydney", "AU").await;
    let sydney_queue = app.create_queue(id_of(&sydney), json!({"name": "Harbour"})).await;
    let list = app.post("/lists", json!({"name": "Accounts", "fields": ["account_no"]})).await.expect(201);
    let lead = app.post("/leads", json!({"list_id": id_of(&list), "phones": ["+442079460099"]})).await.expect(201);
    let agent = app
        .post(
            "/agents",
            json!({"name": "Ann \"the\" agent", "username": "ann", "timezone": "Europe/London",
                   "campaigns": [app.campaign_id()]}),
        )
        .await
        .expect(201);
    let notes = [
        Some("=HYPERLINK(\"http://evil.example\",\"click\")"),
        Some("a, \"quoted\"\nsecond line"),
        Some("+44 is the code"),
        Some("-minus"),
        Some("@mention"),
        Some("plain"),
        None,
    ];
    for (i, note) in notes.iter().enumerate() {
        let desired = format!("2026-03-03T1{i}:00:00Z");
        let mut body =
            app.queue_callback(&london(i as u32), json!({"desired_time": desired, "priority": i as i32 - 2}));
        if let Some(note) = note {
            body["notes"] = json!(note);
        }
        app.post("/callbacks", body).await.expect(201);
    }
    app.post(
        "/callbacks",
        json!({"type": "agent", "campaign_id": app.campaign_id(), "agent_id": id_of(&agent), "phone": "+442079460099",
               "lead_id": id_of(&lead), "data": {"account_no": "7"}, "desired_time": "2026-03-03T09:30:00Z"}),
    )
    .await
    .expect(201);
    let sydney_cb = app
        .post(
            "/callbacks",
            json!({"type": "queue", "campaign_id": id_of(&sydney), "queue_id": id_of(&sydney_queue),
                   "phone": "0262160100", "desired_time": "2026-03-04T10:00:00+11:00"}),
        )
        .await
        .expect(201);
    let immediate = app.post("/callbacks", app.queue_callback(&london(50), json!({}))).await.expect(201);
    app.post(&format!("/callbacks/{}/cancel", cb_id(&immediate)), json!({})).await.expect(200);

    let names = Names {
        campaigns: HashMap::from([
            (app.campaign_id(), ("London".to_string(), "+00:00".to_string())),
            (id_of(&sydney), ("=Sydney, \"AU\"".to_string(), "+11:00".to_string())),
        ]),
        lists: HashMap::from([(id_of(&list), "Accounts".to_string())]),
        queues: HashMap::from([
            (app.queue_id(), app.queue["name"].as_str().unwrap().to_string()),
            (id_of(&sydney_queue), "Harbour".to_string()),
        ]),
        agents: HashMap::from([(id_of(&agent), "Ann \"the\" agent".to_string())]),
    };
    assert_eq!(check_export_against_list(&app, "", &names).await, 10);
    assert_eq!(check_export_against_list(&app, "?sort=-desired_time", &names).await, 10);
    assert_eq!(check_export_against_list(&app, "?state=COMPLETED", &names).await, 1);
    assert_eq!(check_export_against_list(&app, &format!("?campaign_id={}", id_of(&sydney)), &names).await, 1);
    assert_eq!(check_export_against_list(&app, "?phone=02079460099", &names).await, 1);
    assert_eq!(check_export_against_list(&app, "?from=2026-03-03T11:00:00Z&to=2026-03-03T14:00:00Z", &names).await, 3);
    assert_eq!(check_export_against_list(&app, "?q=quoted&q_field=notes", &names).await, 1);
    assert_eq!(check_export_against_list(&app, "?state=ROUTING", &names).await, 0);

    // The formula cell, exactly as a spreadsheet will see it.
    let (_, _, text) = app.get_csv("/callbacks.csv?q=HYPERLINK&q_field=notes", &app.admin).await;
    let (_, rows) = parse_csv(&text);
    assert_eq!(rows[0][17], "'=HYPERLINK(\"http://evil.example\",\"click\")");
    let (_, _, text) = app.get_csv(&format!("/callbacks.csv?campaign_id={}", id_of(&sydney)), &app.admin).await;
    let (_, rows) = parse_csv(&text);
    assert_eq!((rows[0][0].as_str(), rows[0][13].as_str()), (cb_id(&sydney_cb).as_str(), "2026-03-04T10:00:00+11:00"));

    for (query, status) in [("?sort=priority", 422), ("?page=2", 400), ("?state=BOGUS", 422), ("?colour=red", 400)] {
        let (got, _, body) = app.get_csv(&format!("/callbacks.csv{query}"), &app.admin).await;
        assert_eq!(got.as_u16(), status, "{query}: {body}");
        let error: Value = serde_json::from_str(&body).expect("an error body");
        assert!(error["error"]["code"].is_string());
    }
    let supervisor = app.token(Role::Supervisor).await;
    assert_eq!(app.get_csv("/callbacks.csv", &supervisor).await.0.as_u16(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_export_larger_than_one_page_has_every_row_once_in_order() {
    let app = TestApp::spawn().await;
    // 5,100 callbacks over 8 desired times, so ties on the desired time straddle the page edge.
    let items: Vec<Value> = (0..5_100u32)
        .map(|i| {
            let desired = format!("2026-03-03T{:02}:00:00Z", 9 + i % 8);
            app.queue_callback(&format!("+4420794{i:05}"), json!({"desired_time": desired}))
        })
        .collect();
    let imported = app.post("/callbacks/import", json!({"items": items})).await.expect(200);
    assert_eq!(imported["created"], 5_100);

    let (status, _, text) = app.get_csv("/callbacks.csv", &app.admin).await;
    assert_eq!(status.as_u16(), 200);
    let (_, rows) = parse_csv(&text);
    let exported: Vec<&str> = rows.iter().map(|r| r[0].as_str()).collect();
    let mut listed = Vec::new();
    for page in 1..=6 {
        let reply = app.get(&format!("/callbacks?page={page}&page_size=1000")).await.expect(200);
        listed.extend(reply["items"].as_array().unwrap().iter().map(cb_id));
    }
    assert_eq!(listed.len(), 5_100);
    assert_eq!(exported, listed);
    let desired: Vec<&str> = rows.iter().map(|r| r[12].as_str()).collect();
    assert!(desired.windows(2).all(|w| w[0] <= w[1]), "sorted by desired time");

    let (_, _, text) = app.get_csv("/callbacks.csv?sort=-desired_time", &app.admin).await;
    let (_, rows) = parse_csv(&text);
    let reversed: Vec<&str> = rows.iter().rev().map(|r| r[0].as_str()).collect();
    assert_eq!(reversed, listed, "descending is the exact reverse (ties by id too)");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_removes_callbacks_their_history_tombstones_and_reports_after_the_configured_days() {
    let app = TestApp::spawn_with(AppConfig { retention_days: 3, ..AppConfig::default() }).await;
    let soon = in_queue(&app, app.queue_id(), 1, "2026-03-03T10:00:00Z").await;
    let cancelled_soon = in_queue(&app, app.queue_id(), 2, "2026-03-03T10:00:00Z").await;
    let deleted_soon = in_queue(&app, app.queue_id(), 3, "2026-03-03T10:00:00Z").await;
    let later = in_queue(&app, app.queue_id(), 4, "2026-03-05T10:00:00Z").await;
    assert_eq!(soon["expires_at"], "2026-03-06T10:00:00Z");
    assert_eq!(later["expires_at"], "2026-03-08T10:00:00Z");
    let bulk =
        app.post("/callbacks/bulk-cancel", json!({"ids": [cb_id(&cancelled_soon), cb_id(&later)]})).await.expect(200);
    let report_id = bulk["report_id"].as_str().unwrap().to_string();
    assert_eq!(app.delete(&format!("/callbacks/{}", cb_id(&deleted_soon))).await.status.as_u16(), 204);

    // Nothing is due yet.
    assert_eq!(retention::run_once(&app.state, 100).await.unwrap(), Default::default());

    // Past the first expiry, in batches of one: the early callbacks go with all their history; the
    // report stays while one of its callbacks is kept.
    app.clock.set(ts("2026-03-06T10:00:01Z"));
    let removed = retention::run_once(&app.state, 1).await.unwrap();
    assert_eq!(removed.callbacks, 2, "{removed:?}");
    assert_eq!(removed.reports, 0, "{removed:?}");
    // soon: created; cancelled_soon: created, cancelled; deleted_soon: created, deleted.
    assert_eq!(removed.events, 5, "{removed:?}");
    for gone in [&soon, &cancelled_soon, &deleted_soon] {
        app.get(&format!("/callbacks/{}", cb_id(gone))).await.expect_error(404, "not_found");
        app.get(&format!("/callbacks/{}/events", cb_id(gone))).await.expect_error(404, "not_found");
    }
    assert_eq!(app.actions(&cb_id(&later)).await, ["created", "cancelled"]);
    assert_eq!(report(&app, &report_id).await.len(), 2);

    // Past the last: the report expires with its callbacks.
    app.clock.set(ts("2026-03-08T10:00:01Z"));
    let removed = retention::run_once(&app.state, 100).await.unwrap();
    assert_eq!((removed.callbacks, removed.reports), (1, 1), "{removed:?}");
    app.get(&format!("/callbacks/{}", cb_id(&later))).await.expect_error(404, "not_found");
    app.get(&format!("/reports/cancellations/{report_id}.csv")).await.expect_error(404, "not_found");
    assert_eq!(retention::run_once(&app.state, 100).await.unwrap(), Default::default());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_retention_task_makes_a_pass_as_soon_as_it_starts() {
    let app = TestApp::spawn().await;
    let cb = in_queue(&app, app.queue_id(), 1, "2026-03-03T10:00:00Z").await;
    assert_eq!(cb["expires_at"], "2026-03-17T10:00:00Z");
    app.clock.set(ts("2026-03-17T10:00:00Z"));
    let task = retention::spawn(app.state.clone(), Duration::from_secs(3600), 10);
    // Wait (bounded) for the first pass; this checks that it happens, not how fast.
    let path = format!("/callbacks/{}", cb_id(&cb));
    let mut gone = false;
    for _ in 0..500 {
        if app.get(&path).await.status.as_u16() == 404 {
            gone = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    task.abort();
    assert!(gone, "the retention task did not remove the expired callback");
}
