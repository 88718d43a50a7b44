//! Input hardening over HTTP: strict JSON (unknown fields refused by name, every request schema
//! closed), the input limits (422 naming the field, nothing written), the security headers on every
//! answer, and the intake rate limits (per number, per client; 429 with `Retry-After`).

mod common;

use std::collections::HashMap;

use common::TestApp;
use jiff::SignedDuration;
use rebound_domain::access::Role;
use rebound_server::AppConfig;
use rebound_server::hardening::headers::{CONSOLE_CSP, DOCS_CSP};
use rebound_server::hardening::rate::{Rate, RateLimits};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// Real ids by the collection a path parameter follows, so handlers get as far as reading bodies.
async fn real_ids(app: &TestApp) -> HashMap<&'static str, String> {
    let list = app.post("/lists", json!({"name": "Accounts", "fields": ["account"]})).await.expect(201);
    let lead = app.post("/leads", json!({"list_id": list["id"], "phones": ["+442079460999"]})).await.expect(201);
    let agent = app.create_agent("ann", json!({})).await;
    let wrap = app.post("/wrap-codes", json!({"campaign_id": app.campaign_id(), "code": "CB"})).await.expect(201);
    let callback = app.post("/callbacks", app.queue_callback("+442079460998", json!({}))).await.expect(201);
    let token = app.post("/tokens", json!({"name": "spare", "role": "monitor"})).await.expect(201);
    let mut ids: HashMap<&'static str, String> = HashMap::from([
        ("campaigns", app.campaign_id().to_string()),
        ("queues", app.queue_id().to_string()),
        ("lists", list["id"].to_string()),
        ("leads", lead["id"].to_string()),
        ("agents", agent["id"].to_string()),
        ("wrap-codes", wrap["id"].to_string()),
        ("callbacks", callback["id"].as_str().unwrap().to_string()),
        ("tokens", token["id"].to_string()),
    ]);
    let user = app
        .post(
            "/users",
            json!({"username": "spare", "display_name": "Spare", "timezone": "Europe/London",
                               "role": "monitor", "password": "a long enough password 1"}),
        )
        .await;
    ids.insert("users", user.expect(201)["id"].to_string());
    ids
}

fn fill(path: &str, ids: &HashMap<&'static str, String>) -> String {
    let mut previous = "";
    let mut out = Vec::new();
    for segment in path.split('/') {
        out.push(if segment.starts_with('{') {
            ids.get(previous).cloned().unwrap_or_else(|| "1".into())
        } else {
            segment.to_string()
        });
        previous = segment;
    }
    out.join("/")
}

/// Follows a `$ref` into `components.schemas` (through the `oneOf` of an optional body).
fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    if let Some(branch) = schema["oneOf"].as_array().and_then(|b| b.iter().find(|s| s["$ref"].is_string())) {
        return resolve(doc, branch);
    }
    match schema["$ref"].as_str().and_then(|r| r.strip_prefix("#/components/schemas/")) {
        Some(name) => &doc["components"]["schemas"][name],
        None => schema,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_request_body_is_closed_and_refuses_an_unknown_field_by_name() {
    let app = TestApp::spawn().await;
    let ids = real_ids(&app).await;
    let doc = app.send(Method::GET, "/api/openapi.json", None, None).await.expect(200);
    let mut bodies = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let Some(content) = op["requestBody"]["content"].as_object() else { continue };
            bodies += 1;
            let schema = resolve(&doc, &content["application/json"]["schema"]);
            assert_eq!(
                schema["additionalProperties"],
                json!(false),
                "{method} {path}: the request schema must be closed (serde deny_unknown_fields): {schema}"
            );
            let method: Method = method.to_uppercase().parse().unwrap();
            let mut request =
                app.client.request(method.clone(), app.url(&fill(path, &ids))).json(&json!({"zz_not_a_field": 1}));
            if !op["security"].as_array().is_some_and(|s| s.iter().any(|r| r == &json!({}))) {
                request = request.bearer_auth(&app.admin);
            }
            let reply = TestApp::reply(request.send().await.unwrap()).await;
            assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{method} {path}: {}", reply.body);
            let body = reply.expect_error(400, "unknown_field");
            assert_eq!(body["error"]["details"]["field"], "zz_not_a_field", "{method} {path}");
        }
    }
    assert!(bodies >= 28, "{bodies} request bodies");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn values_over_their_input_limits_are_422s_naming_the_field_and_write_nothing() {
    let app = TestApp::spawn().await;
    let callbacks_before = app.get("/callbacks").await.expect(200)["total"].clone();
    let events_before = app.store.last_event_id().await.unwrap();
    let long = |n: usize| "x".repeat(n);
    let too_deep = (0..40).fold(json!(1), |inner, _| json!([inner]));
    let cases: Vec<(&str, String, Value, &str, usize)> = vec![
        (
            "POST",
            "/callbacks".into(),
            app.queue_callback("+442079460001", json!({"notes": long(4_001)})),
            "notes",
            4_000,
        ),
        ("POST", "/callbacks".into(), app.queue_callback(&format!("+44{}", "1".repeat(63)), json!({})), "phone", 64),
        (
            "POST",
            "/callbacks".into(),
            app.queue_callback("+442079460001", json!({"timezone": long(65)})),
            "timezone",
            64,
        ),
        (
            "POST",
            "/callbacks".into(),
            app.queue_callback("+442079460001", json!({"data": {"account": long(1_001)}})),
            "data.account",
            1_000,
        ),
        (
            "POST",
            "/callbacks/import".into(),
            json!({"items": [app.queue_callback("+442079460002", json!({})),
                             app.queue_callback("+442079460003", json!({"notes": long(4_001)}))]}),
            "items[1].notes",
            4_000,
        ),
        ("PATCH", format!("/campaigns/{}", app.campaign_id()), json!({"name": long(201)}), "name", 200),
        ("POST", "/lists".into(), json!({"name": "L", "fields": [long(201)]}), "fields[0]", 200),
        ("POST", "/wrap-codes".into(), json!({"campaign_id": app.campaign_id(), "code": long(65)}), "code", 64),
        ("POST", "/callbacks/bulk-cancel".into(), json!({"ids": [], "reason": long(501)}), "reason", 500),
        (
            "POST",
            "/tokens".into(),
            json!({"name": "t", "role": "monitor", "expires_at": long(1_001)}),
            "expires_at",
            1_000,
        ),
    ];
    for (method, path, body, field, max) in cases {
        let reply = app.send(method.parse().unwrap(), &path, Some(&app.admin), Some(&body)).await;
        let error = reply.expect_error(422, "validation_failed");
        assert_eq!(error["error"]["details"]["field"], field, "{method} {path}: {error}");
        assert_eq!(error["error"]["details"]["max"], max, "{method} {path}");
    }
    // Lists: a lead has at most three numbers; characters count, not bytes.
    let list = app.post("/lists", json!({"name": "L"})).await.expect(201);
    let phones = ["+442079460001", "+442079460002", "+442079460003", "+442079460004"];
    let reply = app.post("/leads", json!({"list_id": list["id"], "phones": phones})).await;
    assert_eq!(reply.expect_error(422, "validation_failed")["error"]["details"]["field"], "phones");
    app.post("/lists", json!({"name": "é".repeat(200)})).await.expect(201);
    // Nesting deeper than the limit inside an open object is unreadable.
    let reply =
        app.post("/callbacks/bulk-cancel", json!({"all_in_range": {"from": "2026-03-03", "x": too_deep}})).await;
    reply.expect_error(400, "invalid_request");

    // Query strings: by parameter name, and as a whole.
    let reply = app.get(&format!("/search?q={}", long(201))).await;
    assert_eq!(reply.expect_error(422, "validation_failed")["error"]["details"]["field"], "q");
    let reply = app.get(&format!("/callbacks?phone={}", "1".repeat(65))).await;
    assert_eq!(reply.expect_error(422, "validation_failed")["error"]["details"]["field"], "phone");
    app.get(&format!("/callbacks?q={}", long(17_000))).await.expect_error(400, "invalid_request");

    assert_eq!(app.get("/callbacks").await.expect(200)["total"], callbacks_before, "nothing was created");
    assert_eq!(app.store.last_event_id().await.unwrap(), events_before, "no event was written");
}

/// The headers every answer carries; `docs` for the Swagger UI's.
fn assert_security_headers(what: &str, headers: &reqwest::header::HeaderMap, docs: bool) {
    let get = |name: &str| headers.get(name).map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
    assert_eq!(get("x-content-type-options"), "nosniff", "{what}");
    assert_eq!(get("x-frame-options"), "DENY", "{what}");
    assert_eq!(get("referrer-policy"), "no-referrer", "{what}");
    assert_eq!(get("content-security-policy"), if docs { DOCS_CSP } else { CONSOLE_CSP }, "{what}");
    assert!(get("content-security-policy").contains("frame-ancestors 'none'"), "{what}");
    if !docs {
        assert_eq!(get("cache-control"), "no-store", "{what}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_answer_carries_the_security_headers_and_the_swagger_ui_still_loads() {
    let app = TestApp::spawn().await;
    let admin = Some(app.admin.as_str());
    let requests: Vec<(Method, &str, Option<&str>, u16)> = vec![
        (Method::GET, "/campaigns", admin, 200),
        (Method::GET, "/campaigns", None, 401),
        (Method::GET, "/no-such-thing", admin, 404),
        (Method::DELETE, "/search", admin, 405),
        (Method::GET, "/healthz", None, 200),
        (Method::GET, "/readyz", None, 200),
        (Method::GET, "/metrics", None, 200),
        (Method::GET, "/api/openapi.json", None, 200),
        (Method::GET, "/callbacks.csv", admin, 200),
        (Method::GET, "/callbacks?page=0", admin, 422),
    ];
    for (method, path, token, status) in requests {
        let mut request = app.client.request(method.clone(), app.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status().as_u16(), status, "{method} {path}");
        // The OpenAPI document is served with the Swagger UI that reads it, under its policy.
        let docs = path == "/api/openapi.json";
        assert_security_headers(&format!("{method} {path}"), response.headers(), docs);
    }
    let refused = app.post_raw("/callbacks", "application/json", "{").await;
    assert_eq!(refused.status, 400);
    assert_security_headers("malformed JSON", &refused.headers, false);

    // The Swagger UI: its own policy, and everything it loads comes from this origin as files the
    // policy allows (no inline scripts).
    let page = app.client.get(app.url("/api/docs/")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert_security_headers("/api/docs/", page.headers(), true);
    let html = page.text().await.unwrap();
    let mut assets = 0;
    for tag in html.split('<').skip(1) {
        let is_script = tag.starts_with("script");
        let is_stylesheet = tag.starts_with("link") && tag.contains("stylesheet");
        if !(is_script || is_stylesheet) {
            continue;
        }
        let attribute = if is_script { "src=\"" } else { "href=\"" };
        let source = tag.split(attribute).nth(1).and_then(|rest| rest.split('"').next());
        let source = source.unwrap_or_else(|| panic!("an inline or unsourced element in the docs page: <{tag}"));
        assert!(!source.contains("//"), "{source} is not same-origin");
        let asset = app.client.get(app.url(&format!("/api/docs/{}", source.trim_start_matches("./")))).send().await;
        let asset = asset.unwrap();
        assert_eq!(asset.status(), 200, "{source}");
        assert_security_headers(source, asset.headers(), true);
        assets += 1;
    }
    assert!(assets >= 4, "{assets} scripts and stylesheets in {html}");
}

/// An inbound campaign whose auto-callbacks land in the fixture's queue; answers its path.
async fn auto_callback_path(app: &TestApp) -> String {
    let (list_id, path) = app.inbound_with_auto_callback_list().await;
    app.patch(&format!("/campaigns/{}", app.campaign_id()), json!({"lists": [list_id]})).await.expect(200);
    path
}

fn retry_after(reply: &common::Reply) -> u64 {
    reply.headers["retry-after"].to_str().unwrap().parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_callbacks_are_limited_per_number_and_only_allowed_callers_spend_the_allowance() {
    let app = TestApp::spawn().await;
    let path = auto_callback_path(&app).await;
    let number = json!({"phone": "+442079460100"});

    // Callers that may not create callbacks spend nothing.
    let monitor = app.token(Role::Monitor).await;
    for _ in 0..6 {
        app.send(Method::POST, &path, Some("rbd_not_a_token"), Some(&number)).await.expect_error(401, "unauthorized");
        app.send(Method::POST, &path, None, Some(&number)).await.expect_error(401, "unauthorized");
        app.send(Method::POST, &path, Some(&monitor), Some(&number)).await.expect_error(403, "forbidden");
    }

    // Five requests for the number pass the limiter (the first creates, the rest are duplicates)…
    app.post(&path, number.clone()).await.expect(201);
    for _ in 0..4 {
        app.post(&path, number.clone()).await.expect_error(409, "duplicate_callback");
    }
    // …the sixth is refused, in any format of the same number.
    let refused = app.post(&path, json!({"phone": "020 7946 0100"})).await;
    assert_eq!(retry_after(&refused), 120);
    let body = refused.expect_error(429, "rate_limited");
    assert_eq!(body["error"]["details"]["retry_after_secs"], 120);
    assert!(!body["error"]["message"].as_str().unwrap().contains("7946"), "the number is not echoed");

    // Other numbers, and other routes for this number, are not affected.
    app.post(&path, json!({"phone": "+442079460101"})).await.expect(201);
    let create = app.post("/callbacks", app.queue_callback("+442079460100", json!({}))).await;
    assert_ne!(create.status.as_u16(), 429, "creates are not limited per number by default");

    // One more is allowed after an interval (600 s / 5), not before.
    app.advance(SignedDuration::from_secs(119));
    let refused = app.post(&path, number.clone()).await;
    assert_eq!(retry_after(&refused), 1);
    refused.expect_error(429, "rate_limited");
    app.advance(SignedDuration::from_secs(1));
    app.post(&path, number.clone()).await.expect_error(409, "duplicate_callback");
    app.post(&path, number.clone()).await.expect_error(429, "rate_limited");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_per_client_limit_when_configured_covers_all_intake_of_one_credential_only() {
    let limits = RateLimits { per_client: Some(Rate { requests: 3, per_secs: 60 }), ..RateLimits::default() };
    let app = TestApp::spawn_with(AppConfig { rate_limits: limits, ..AppConfig::default() }).await;
    for i in 0..3 {
        app.post("/callbacks", app.queue_callback(&format!("+44207946020{i}"), json!({}))).await.expect(201);
    }
    let refused = app.post("/callbacks", app.queue_callback("+442079460209", json!({}))).await;
    assert_eq!(retry_after(&refused), 20);
    refused.expect_error(429, "rate_limited");
    // Imports share the client's allowance; reads and other writes do not count.
    app.post("/callbacks/import", json!({"items": []})).await.expect_error(429, "rate_limited");
    app.get("/callbacks").await.expect(200);
    app.post("/lists", json!({"name": "Not intake"})).await.expect(201);
    // Another credential has its own allowance.
    let supervisor = app.token(Role::Supervisor).await;
    let body = app.queue_callback("+442079460210", json!({}));
    app.send(Method::POST, "/callbacks", Some(&supervisor), Some(&body)).await.expect(201);

    app.advance(SignedDuration::from_secs(20));
    app.post("/callbacks", app.queue_callback("+442079460211", json!({}))).await.expect(201);
    app.post("/callbacks", app.queue_callback("+442079460212", json!({}))).await.expect_error(429, "rate_limited");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn creates_can_be_limited_per_number_and_by_default_one_client_is_not_limited() {
    let limits =
        RateLimits { creates_per_number: Some(Rate { requests: 2, per_secs: 3_600 }), ..RateLimits::default() };
    let app = TestApp::spawn_with(AppConfig { rate_limits: limits, ..AppConfig::default() }).await;
    for _ in 0..2 {
        let cb = app.post("/callbacks", app.queue_callback("+442079460300", json!({}))).await.expect(201);
        app.post(&format!("/callbacks/{}/cancel", cb["id"].as_str().unwrap()), json!({})).await.expect(200);
    }
    let refused = app.post("/callbacks", app.queue_callback("020 7946 0300", json!({}))).await;
    assert_eq!(retry_after(&refused), 1_800);
    refused.expect_error(429, "rate_limited");
    app.post("/callbacks", app.queue_callback("+442079460301", json!({}))).await.expect(201);

    // The defaults: one token creating quickly is never slowed.
    let app = TestApp::spawn().await;
    for i in 0..50 {
        app.post("/callbacks", app.queue_callback(&format!("+4420794604{i:02}"), json!({}))).await.expect(201);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_auto_callback_writes_nothing() {
    // Found by tests/fuzz_api.rs: the caller's lead was added before the callback was refused.
    let app = TestApp::spawn().await;
    let path = auto_callback_path(&app).await;
    let list_id = app.get(&path.replace("/auto-callbacks", "")).await.expect(200)["auto_callback_list_id"].clone();
    app.post("/callbacks", app.queue_callback("+442079460100", json!({}))).await.expect(201);
    let leads = format!("/leads?list_id={list_id}");
    let events_before = app.store.last_event_id().await.unwrap();

    let refused = app.post(&path, json!({"phone": "020 7946 0100", "name": "Caller"})).await;
    refused.expect_error(409, "duplicate_callback");
    assert_eq!(app.get(&leads).await.expect(200)["total"], 0, "a refused auto-callback added a lead");
    assert_eq!(app.store.last_event_id().await.unwrap(), events_before);
}
