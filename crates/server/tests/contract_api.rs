//! The cross-cutting contract: error bodies for unreadable requests, authentication, roles, unknown
//! routes and methods, body limits, probes, and the OpenAPI document matching the router.

mod common;

use std::collections::BTreeSet;

use common::TestApp;
use rebound_domain::access::Role;
use rebound_server::AppConfig;
use reqwest::Method;
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreadable_bodies_are_bad_requests_with_the_error_body() {
    let app = TestApp::spawn().await;
    app.post_raw("/callbacks", "application/json", "{\"type\": \"queue\",").await.expect_error(400, "malformed_json");
    app.post_raw("/callbacks", "application/json", "").await.expect_error(400, "malformed_json");
    app.post_raw("/callbacks", "text/plain", "{}").await.expect_error(400, "invalid_request");
    let mut body = app.queue_callback("+442073794334", json!({}));
    body["colour"] = json!("red");
    let unknown = app.post("/callbacks", body).await.expect_error(400, "unknown_field");
    assert_eq!(unknown["error"]["details"]["field"], "colour");
    app.post("/callbacks", json!({"type": "queue", "campaign_id": app.campaign_id()}))
        .await
        .expect_error(400, "invalid_request");
    app.post("/callbacks", app.queue_callback("+442073794334", json!({"priority": "high"})))
        .await
        .expect_error(400, "invalid_request");
    app.post("/callbacks", app.queue_callback("+442073794334", json!({"type": "robot"})))
        .await
        .expect_error(400, "invalid_request");
    app.post_raw("/callbacks", "application/json", "[1, 2]").await.expect_error(400, "invalid_request");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_without_a_valid_token_are_unauthorized() {
    let app = TestApp::spawn().await;
    let missing = app.send(Method::GET, "/callbacks", None, None).await;
    assert_eq!(missing.headers.get("www-authenticate").map(|v| v.to_str().unwrap()), Some("Bearer"));
    missing.expect_error(401, "unauthorized");
    app.send(Method::GET, "/callbacks", Some("rbd_not-a-real-token"), None).await.expect_error(401, "unauthorized");
    // Authentication comes before reading the body.
    app.send(Method::POST, "/callbacks", None, Some(&json!({"nonsense": true})))
        .await
        .expect_error(401, "unauthorized");
    let response =
        app.client.get(app.url("/campaigns")).header("authorization", "Basic YWRtaW46YWRtaW4=").send().await.unwrap();
    TestApp::reply(response).await.expect_error(401, "unauthorized");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roles_are_enforced_per_endpoint() {
    let app = TestApp::spawn().await;
    let monitor = app.token(Role::Monitor).await;
    let supervisor = app.token(Role::Supervisor).await;
    let body = app.queue_callback("+442073794334", json!({}));
    app.send(Method::POST, "/callbacks", Some(&monitor), Some(&body)).await.expect_error(403, "forbidden");
    app.send(Method::POST, "/callbacks/import", Some(&monitor), Some(&json!({"items": []})))
        .await
        .expect_error(403, "forbidden");
    app.send(Method::GET, "/callbacks", Some(&monitor), None).await.expect(200);
    app.send(Method::GET, "/search?q=1", Some(&monitor), None).await.expect(200);
    let cb = app.send(Method::POST, "/callbacks", Some(&supervisor), Some(&body)).await.expect(201);
    assert!(cb["created_by"].as_str().unwrap().ends_with(":supervisor"));
    app.send(Method::POST, "/campaigns", Some(&supervisor), Some(&json!({}))).await.expect_error(403, "forbidden");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_ids_routes_and_methods_answer_with_the_error_body() {
    let app = TestApp::spawn().await;
    app.get("/callbacks/0190a0e4-0000-7000-8000-000000000000").await.expect_error(404, "not_found");
    app.get("/callbacks/not-a-uuid").await.expect_error(404, "not_found");
    app.get("/campaigns/424242").await.expect_error(404, "not_found");
    app.get("/campaigns/abc").await.expect_error(404, "not_found");
    app.get("/no-such-thing").await.expect_error(404, "not_found");
    app.send(Method::GET, "/api/nothing", None, None).await.expect_error(404, "not_found");
    let wrong = app.send(Method::PUT, "/callbacks", Some(&app.admin), Some(&json!({}))).await;
    assert!(wrong.headers.get("allow").is_some());
    wrong.expect_error(405, "method_not_allowed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_over_the_limit_are_refused_with_413() {
    let app = TestApp::spawn_with(AppConfig { max_body_bytes: 2048, ..AppConfig::default() }).await;
    let mut body = app.queue_callback("+442073794334", json!({}));
    body["notes"] = json!("x".repeat(4096));
    app.post("/callbacks", body).await.expect_error(413, "payload_too_large");
    // The import endpoint has its own, larger limit.
    let items: Vec<Value> = (0..40).map(|i| app.queue_callback(&format!("+4420794600{i:02}"), json!({}))).collect();
    let result = app.post("/callbacks/import", json!({"items": items})).await.expect(200);
    assert_eq!(result["created"], 40);
    // So does bulk cancel, which may name up to 100,000 ids.
    let ids: Vec<String> = (0..100).map(|i| format!("0190a0e4-0000-7000-8000-{i:012}")).collect();
    let bulk = app.post("/callbacks/bulk-cancel", json!({"ids": ids})).await.expect(200);
    assert_eq!(bulk["skipped"].as_array().unwrap().len(), 100);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probes_answer_without_authentication() {
    let app = TestApp::spawn().await;
    assert_eq!(app.send(Method::GET, "/healthz", None, None).await.expect(200)["status"], "ok");
    let ready = app.send(Method::GET, "/readyz", None, None).await.expect(200);
    assert_eq!(ready["status"], "ready");
    // Which node this is and who leads, for operators of several nodes.
    let node = ready["node"].as_str().expect("/readyz names the node");
    assert!(!node.is_empty());
    assert!(ready["leading"].is_boolean(), "{ready}");
    if ready["leading"] == true {
        assert_eq!(ready["leader"], node, "a leading node names itself as the leader");
    }
    let docs = app.client.get(app.url("/api/docs/")).send().await.unwrap();
    assert_eq!(docs.status(), 200);
}

/// Every route the server registers, as documented paths.
const EXPECTED_PATHS: [&str; 47] = [
    "/api/v1/agents",
    "/api/v1/agents/{id}",
    "/api/v1/agents/{id}/callbacks",
    "/api/v1/agents/{id}/events",
    "/api/v1/agents/{id}/offer",
    "/api/v1/agents/{id}/presence",
    "/api/v1/callbacks",
    "/api/v1/callbacks.csv",
    "/api/v1/callbacks/bulk-cancel",
    "/api/v1/callbacks/import",
    "/api/v1/callbacks/{id}",
    "/api/v1/callbacks/{id}/accept",
    "/api/v1/callbacks/{id}/cancel",
    "/api/v1/callbacks/{id}/events",
    "/api/v1/callbacks/{id}/outcome",
    "/api/v1/callbacks/{id}/recreate",
    "/api/v1/callbacks/{id}/reject",
    "/api/v1/callbacks/{id}/reschedule",
    "/api/v1/campaigns",
    "/api/v1/campaigns/{id}",
    "/api/v1/campaigns/{id}/auto-callbacks",
    "/api/v1/dialer/claim",
    "/api/v1/dialer/outcomes",
    "/api/v1/events",
    "/api/v1/leads",
    "/api/v1/leads/{id}",
    "/api/v1/lists",
    "/api/v1/lists/{id}",
    "/api/v1/queues",
    "/api/v1/queues/{id}",
    "/api/v1/queues/{id}/availability",
    "/api/v1/reports/cancellations/{report}",
    "/api/v1/search",
    "/api/v1/session",
    "/api/v1/tokens",
    "/api/v1/tokens/{id}",
    "/api/v1/users",
    "/api/v1/users/{id}",
    "/api/v1/wrap-codes",
    "/api/v1/wrap-codes/{id}",
    "/api/v1/wraps",
    "/healthz",
    "/metrics",
    "/readyz",
    // Not API routes but served too; listed here to keep the count honest (see below).
    "/api/openapi.json",
    "/api/docs",
    "/api/docs/",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_document_describes_exactly_the_routes_the_router_serves() {
    let app = TestApp::spawn().await;
    let doc = app.send(Method::GET, "/api/openapi.json", None, None).await.expect(200);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    assert_eq!(doc["components"]["securitySchemes"]["bearer"]["scheme"], "bearer");
    let documented: BTreeSet<String> = doc["paths"].as_object().unwrap().keys().cloned().collect();
    let expected: BTreeSet<String> = EXPECTED_PATHS[..44].iter().map(|p| p.to_string()).collect();
    assert_eq!(documented, expected);

    // Every documented operation is routed: no 404 "no such route", no 405, no server fault.
    let uuid = "0190a0e4-0000-7000-8000-000000000000";
    let mut operations = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            let method = match method.as_str() {
                "get" => Method::GET,
                "post" => Method::POST,
                "patch" => Method::PATCH,
                "put" => Method::PUT,
                "delete" => Method::DELETE,
                _ => continue,
            };
            operations += 1;
            let responses = &item[method.as_str().to_lowercase()]["responses"];
            assert!(responses.is_object());
            let concrete = path
                .replace("{id}", if path.starts_with("/api/v1/callbacks") { uuid } else { "424242" })
                .replace("{report}", &format!("{uuid}.csv"));
            // Streams never end and metrics are text: check the answer's head, not a JSON body.
            let documented_type = responses["200"]["content"].as_object().and_then(|c| c.keys().next().cloned());
            if let Some(content_type @ ("text/event-stream" | "application/openmetrics-text")) =
                documented_type.as_deref()
            {
                let response = app.client.get(app.url(&concrete)).bearer_auth(&app.admin).send().await.unwrap();
                let status = response.status().as_u16();
                assert!(status < 500 && status != 405, "{method} {path}: {status}");
                if status == 200 {
                    let served = response.headers()["content-type"].to_str().unwrap().to_string();
                    assert!(served.starts_with(content_type), "{method} {path}: {served}");
                }
                continue;
            }
            let body = matches!(method, Method::POST | Method::PATCH | Method::PUT).then(|| json!({}));
            let reply = app.send(method.clone(), &concrete, Some(&app.admin), body.as_ref()).await;
            let status = reply.status.as_u16();
            assert_ne!(status, 405, "{method} {path} is documented but not routed");
            assert!(
                !(status == 404 && reply.body["error"]["message"] == "no such route"),
                "{method} {path} not routed"
            );
            assert!(status < 500, "{method} {path}: {}", reply.body);
            let is_csv = reply.headers.get("content-type").is_some_and(|v| v.as_bytes().starts_with(b"text/csv"));
            assert!(reply.body.is_object() || status == 204 || is_csv, "{method} {path}: not JSON or CSV");
        }
    }
    assert!(operations >= 69, "{operations} operations");
    // The served extras are there too.
    for extra in &EXPECTED_PATHS[44..] {
        let response = app.client.get(app.url(extra)).send().await.unwrap();
        assert!(response.status().is_success() || response.status().is_redirection(), "{extra}");
    }
}
