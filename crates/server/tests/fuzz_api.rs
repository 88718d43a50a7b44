//! Fuzz and property tests of the whole HTTP API, driven by its own OpenAPI document: every
//! documented operation gets random and malformed bodies (random JSON, truncated JSON, wrong types,
//! huge strings, deep nesting, bytes that are not UTF-8), random path parameters and query strings,
//! and odd headers (wrong content types, bad credentials, junk idempotency keys), all as an admin.
//!
//! The properties, checked on every answer:
//! - never a 5xx (a panic would be a caught 500), and the server keeps answering;
//! - every refusal has the contract's error body, and every answer the security headers;
//! - a refused request writes nothing: the store's contents (configuration, leads, callbacks, the
//!   event log, tokens, users) are the same before and after it;
//! - a documented operation without valid credentials is a 401.
//!
//! The cases are bounded so both tests run in well under a minute.

mod common;

use std::collections::HashMap;

use common::TestApp;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use rebound_domain::access::Role;
use rebound_domain::model::CallbackId;
use rebound_store::{CallbackFilter, NewToken, PageRequest, Sort, SortField};
use reqwest::Method;
use reqwest::header::{HeaderName, HeaderValue};
use serde_json::{Value, json};

/// A documented operation.
#[derive(Debug, Clone)]
struct Operation {
    method: Method,
    /// The documented path, e.g. `/api/v1/campaigns/{id}`.
    path: String,
    has_body: bool,
    /// Answers a never-ending event stream.
    streams: bool,
    /// Needs no credentials (`security: [{}]`).
    public: bool,
}

/// Every operation of the served OpenAPI document.
async fn operations(app: &TestApp) -> Vec<Operation> {
    let doc: Value = app.client.get(app.url("/api/openapi.json")).send().await.unwrap().json().await.unwrap();
    let mut ops = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("operations") {
            let Ok(method) = method.to_uppercase().parse::<Method>() else { continue };
            let streams = op["responses"]["200"]["content"].as_object().is_some_and(|c| {
                c.keys().any(|t| t == "text/event-stream" || t.starts_with("application/openmetrics"))
            });
            let public = op["security"]
                .as_array()
                .is_some_and(|s| s.iter().any(|r| r.as_object().is_some_and(|o| o.is_empty())));
            ops.push(Operation {
                method,
                path: path.clone(),
                has_body: op["requestBody"].is_object(),
                streams,
                public,
            });
        }
    }
    assert!(ops.len() >= 60, "the document lists {} operations", ops.len());
    ops
}

/// Objects the fuzzer may name in paths: ids by the collection a path parameter follows. Random
/// requests delete and change them, so [`Fixtures::restore`] makes new ones where they are gone.
struct Fixtures {
    ids: HashMap<&'static str, String>,
    /// A console session of an admin user.
    session: common::ConsoleSession,
    campaign: i64,
    queue: i64,
    list: i64,
    agent: i64,
    /// Numbers used so far (each new fixture callback gets a fresh one).
    made: u32,
}

impl Fixtures {
    async fn new(app: &TestApp) -> Fixtures {
        let bulk = app.post("/callbacks/bulk-cancel", json!({"ids": ["0190a0e4-0000-7000-8000-000000000000"]})).await;
        let report = bulk.expect(200)["report_id"].as_str().unwrap().to_string();
        // A token and a user of their own, so a DELETE or a revoke never hits the admin's credentials.
        let secret = rebound_server::auth::hash_token_secret("spare");
        let spare = app.store.create_token(NewToken::new("spare", Role::Monitor, secret, None)).await.unwrap();
        let user = app
            .post(
                "/users",
                json!({"username": "spare", "display_name": "Spare", "timezone": "Europe/London",
                       "role": "monitor", "password": "a long enough password 1"}),
            )
            .await;
        let ids = HashMap::from([
            ("cancellations", format!("{report}.csv")),
            ("tokens", spare.id.to_string()),
            ("users", user.expect(201)["id"].to_string()),
        ]);
        app.create_user("fuzzadmin", Role::Admin, json!({})).await;
        let session = app.session("fuzzadmin").await;
        let mut fixtures = Fixtures { ids, session, campaign: 0, queue: 0, list: 0, agent: 0, made: 0 };
        fixtures.restore(app).await;
        fixtures
    }

    /// The real id for the parameter after `previous` in `path` (an auto-callback needs the inbound
    /// campaign).
    fn real(&self, path: &str, previous: &str) -> String {
        let collection = if path.ends_with("/auto-callbacks") { "inbound" } else { previous };
        self.ids.get(collection).cloned().unwrap_or_else(|| "1".into())
    }

    fn id(&self, collection: &str) -> Option<i64> {
        self.ids.get(collection).and_then(|id| id.parse().ok())
    }

    /// Makes each fixture that no longer exists anew (through the API, as a client would).
    async fn restore(&mut self, app: &TestApp) {
        let store = &app.store;
        self.made += 1;
        let n = self.made;
        let campaign = match self.id("campaigns") {
            Some(id) if store.get_campaign(id).await.unwrap().is_some() => id,
            _ => app.create_campaign(&format!("Fuzz {n}"), "Europe/London", "GB").await["id"].as_i64().unwrap(),
        };
        let queue = match self.id("queues") {
            Some(id) if store.get_queue(id).await.unwrap().is_some_and(|q| q.campaign_id == campaign) => id,
            _ => app.create_queue(campaign, json!({})).await["id"].as_i64().unwrap(),
        };
        let list = match self.id("lists") {
            Some(id) if store.get_list(id).await.unwrap().is_some() => id,
            _ => {
                let list = app.post("/lists", json!({"name": format!("Fuzz {n}"), "fields": ["account"]})).await;
                list.expect(201)["id"].as_i64().unwrap()
            }
        };
        let lead = match self.id("leads") {
            Some(id) if store.get_lead(id).await.unwrap().is_some() => id,
            _ => {
                let lead = app.post("/leads", json!({"list_id": list, "phones": [format!("+4420794{n:05}")]})).await;
                lead.expect(201)["id"].as_i64().unwrap()
            }
        };
        let agent = match self.id("agents") {
            Some(id) if store.get_agent(id).await.unwrap().is_some_and(|a| a.campaigns.contains(&campaign)) => id,
            _ => {
                let body = json!({"name": format!("Fuzz {n}"), "username": format!("fuzz{n}"),
                                  "timezone": "Europe/London", "campaigns": [campaign], "queues": [queue]});
                app.post("/agents", body).await.expect(201)["id"].as_i64().unwrap()
            }
        };
        let wrap_code = match self.id("wrap-codes") {
            Some(id) if store.get_wrap_code(id).await.unwrap().is_some_and(|w| w.campaign_id == campaign) => id,
            _ => {
                let body = json!({"campaign_id": campaign, "code": "FZ"});
                app.post("/wrap-codes", body).await.expect(201)["id"].as_i64().unwrap()
            }
        };
        // An inbound campaign whose auto-callbacks the fixture campaign dials.
        let auto_list = match self.id("auto-list") {
            Some(id) if store.get_list(id).await.unwrap().is_some() => id,
            _ => {
                app.post("/lists", json!({"name": format!("Fuzz auto {n}")})).await.expect(201)["id"].as_i64().unwrap()
            }
        };
        let inbound = match self.id("inbound") {
            Some(id)
                if store
                    .get_campaign(id)
                    .await
                    .unwrap()
                    .is_some_and(|c| c.auto_callback_list_id == Some(auto_list)) =>
            {
                id
            }
            _ => {
                let body = json!({"name": format!("Fuzz inbound {n}"), "direction": "inbound", "timezone": "Europe/London",
                                  "region": "GB", "dialling_hours": common::weekday_hours(),
                                  "auto_callback_list_id": auto_list});
                app.post("/campaigns", body).await.expect(201)["id"].as_i64().unwrap()
            }
        };
        let dialled = store.get_campaign(campaign).await.unwrap().expect("the fixture campaign");
        if !dialled.lists.contains(&auto_list) || !dialled.running {
            let mut lists = dialled.lists.clone();
            lists.push(auto_list);
            let patch = json!({"lists": lists, "running": true});
            app.patch(&format!("/campaigns/{campaign}"), patch).await.expect(200);
        }
        self.ids.insert("auto-list", auto_list.to_string());
        self.ids.insert("inbound", inbound.to_string());

        let callback_alive = match self.ids.get("callbacks") {
            Some(id) => store.get_callback(CallbackId::parse(id).unwrap()).await.unwrap().is_some(),
            None => false,
        };
        if !callback_alive {
            let body = json!({"type": "queue", "campaign_id": campaign, "queue_id": queue,
                              "phone": format!("+4420794{:05}", 50_000 + n)});
            let callback = app.post("/callbacks", body).await.expect(201);
            self.ids.insert("callbacks", callback["id"].as_str().unwrap().to_string());
        }
        for (collection, id) in
            [("campaigns", campaign), ("queues", queue), ("lists", list), ("leads", lead), ("agents", agent)]
        {
            self.ids.insert(collection, id.to_string());
        }
        self.ids.insert("wrap-codes", wrap_code.to_string());
        (self.campaign, self.queue, self.list, self.agent) = (campaign, queue, list, agent);
    }
}

/// Everything a request could change, read straight from the store. Token use times are left out:
/// recording them is what a request is for.
async fn store_contents(app: &TestApp) -> Value {
    let store = &app.store;
    let callbacks = store
        .list_callbacks(
            &CallbackFilter::default(),
            Sort { field: SortField::UpdatedAt, descending: true },
            PageRequest { page: 1, page_size: 1000 },
        )
        .await
        .unwrap();
    let leads = store.list_leads(None, PageRequest { page: 1, page_size: 1000 }).await.unwrap();
    let tokens: Vec<String> = store
        .list_tokens()
        .await
        .unwrap()
        .into_iter()
        .map(|t| format!("{} {} {:?} {:?} {:?} {}", t.id, t.name, t.role, t.scope, t.expires_at, t.revoked))
        .collect();
    let users = store.list_users().await.unwrap();
    json!({
        "campaigns": store.list_campaigns().await.unwrap(),
        "lists": store.list_lists().await.unwrap(),
        "queues": store.list_queues().await.unwrap(),
        "agents": store.list_agents().await.unwrap(),
        "wrap_codes": store.list_wrap_codes().await.unwrap(),
        "leads": leads.items, "lead_total": leads.total,
        "callbacks": callbacks.items, "callback_total": callbacks.total,
        "last_event": store.last_event_id().await.unwrap(),
        "tokens": tokens,
        "users": users,
    })
}

/// What changed between two [`store_contents`]: per part, the entries only before and only after.
fn changes(before: &Value, after: &Value) -> String {
    let mut out = Vec::new();
    for (part, old) in before.as_object().expect("an object") {
        let new = &after[part];
        if old == new {
            continue;
        }
        match (old.as_array(), new.as_array()) {
            (Some(old), Some(new)) => {
                let gone: Vec<&Value> = old.iter().filter(|v| !new.contains(v)).collect();
                let came: Vec<&Value> = new.iter().filter(|v| !old.contains(v)).collect();
                out.push(format!("{part}: before {gone:?}, after {came:?}"));
            }
            _ => out.push(format!("{part}: {old} → {new}")),
        }
    }
    out.join("; ")
}

/// An answer, with its body read unless it is a stream.
struct Answer {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: Option<Value>,
}

/// The checks every answer must pass; `Err` describes the failure.
fn check_answer(method: &Method, answer: &Answer) -> Result<(), String> {
    if answer.status >= 500 {
        return Err(format!("server fault {}: {:?}", answer.status, answer.body));
    }
    if answer.headers.get("x-content-type-options").is_none_or(|v| v != "nosniff") {
        return Err("no X-Content-Type-Options: nosniff".into());
    }
    if answer.headers.get("content-security-policy").is_none() {
        return Err("no Content-Security-Policy".into());
    }
    if answer.status >= 400 && *method != Method::HEAD {
        let body = answer.body.as_ref().ok_or("an error without a JSON body")?;
        let error = &body["error"];
        if !(error["code"].is_string() && error["message"].is_string() && error["details"].is_object()) {
            return Err(format!("not the contract's error body: {body}"));
        }
    }
    Ok(())
}

async fn send(request: reqwest::RequestBuilder) -> Answer {
    let response = request.send().await.expect("the server answers");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let is_stream = headers.get("content-type").is_some_and(|v| v.as_bytes().starts_with(b"text/event-stream"));
    let body = if is_stream {
        None // never ends; the head is what is checked
    } else {
        let bytes = response.bytes().await.expect("a body");
        serde_json::from_slice(&bytes).ok()
    };
    Answer { status, headers, body }
}

// ---- the deterministic sweep -------------------------------------------------------------------

/// Bodies no operation may accept, and the status range each must get.
fn malformed_bodies(max_body: usize) -> Vec<(&'static str, Vec<u8>)> {
    let mut wrong_types = serde_json::Map::new();
    for (field, value) in [
        ("name", json!(5)),
        ("phone", json!([])),
        ("phones", json!("+442079460000")),
        ("campaign_id", json!("one")),
        ("items", json!({})),
        ("ids", json!(7)),
        ("type", json!(true)),
        ("presence", json!(1.5)),
        ("outcome", json!({"x": 1})),
        ("desired_time", json!(20260303)),
        ("max", json!(-1)),
        ("role", json!(null)),
        ("username", json!(["a"])),
    ] {
        wrong_types.insert(field.to_string(), value);
    }
    vec![
        ("truncated object", b"{\"name\": \"x\", \"phone\": ".to_vec()),
        ("truncated array", b"[1, 2".to_vec()),
        ("not JSON", b"name=x&phone=1".to_vec()),
        ("a bare number", b"1".to_vec()),
        ("a bare string", b"\"x\"".to_vec()),
        ("null", b"null".to_vec()),
        ("an array", b"[]".to_vec()),
        ("invalid UTF-8", b"{\"name\": \"\xff\xfe\"}".to_vec()),
        ("deep nesting", format!("{}{}", "[".repeat(100_000), "]".repeat(100_000)).into_bytes()),
        ("deep objects", format!("{}1{}", "{\"a\":".repeat(5_000), "}".repeat(5_000)).into_bytes()),
        ("wrong types", Value::Object(wrong_types).to_string().into_bytes()),
        ("over the body limit", json!({"notes": "x".repeat(max_body + 1)}).to_string().into_bytes()),
    ]
}

/// Fills every `{param}` of a documented path with a real id of its collection.
fn concrete(path: &str, fixtures: &Fixtures) -> String {
    let mut out = Vec::new();
    let mut previous = "";
    for segment in path.split('/') {
        if segment.starts_with('{') {
            out.push(fixtures.real(path, previous));
        } else {
            out.push(segment.to_string());
        }
        previous = segment;
    }
    out.join("/")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_operation_refuses_malformed_bodies_without_writing_anything() {
    let app = TestApp::spawn().await;
    let fixtures = Fixtures::new(&app).await;
    let ops = operations(&app).await;
    let config = app.state.config().clone();
    let mut checked = 0;
    for op in ops.iter().filter(|op| op.has_body) {
        let url = app.url(&concrete(&op.path, &fixtures));
        // The import and bulk cancel take the larger import limit.
        let large = op.path.ends_with("/import") || op.path.ends_with("/bulk-cancel");
        let max_body = if large { config.max_import_body_bytes } else { config.max_body_bytes };
        for (what, body) in malformed_bodies(max_body) {
            let before = store_contents(&app).await;
            let request = app
                .client
                .request(op.method.clone(), &url)
                .bearer_auth(&app.admin)
                .header("content-type", "application/json")
                .body(body);
            let answer = send(request).await;
            let context = format!("{} {} with {what}", op.method, op.path);
            check_answer(&op.method, &answer).unwrap_or_else(|e| panic!("{context}: {e}"));
            assert!((400..500).contains(&answer.status), "{context}: {} {:?}", answer.status, answer.body);
            if what == "over the body limit" {
                assert_eq!(answer.status, 413, "{context}");
            }
            let after = store_contents(&app).await;
            assert!(after == before, "{context} wrote something: {}", changes(&before, &after));
            checked += 1;
        }
        // The right bytes with the wrong content type are refused too.
        let before = store_contents(&app).await;
        let request = app
            .client
            .request(op.method.clone(), &url)
            .bearer_auth(&app.admin)
            .header("content-type", "text/plain")
            .body("{}");
        let answer = send(request).await;
        check_answer(&op.method, &answer).unwrap();
        let after = store_contents(&app).await;
        assert!(after == before, "{} {} with text/plain wrote: {}", op.method, op.path, changes(&before, &after));
    }
    assert!(checked >= 20 * 12, "{checked} requests");
}

// ---- the random walk ---------------------------------------------------------------------------

/// Field names the API uses (so random objects often hit real fields), and a few it does not.
const FIELDS: &[&str] = &[
    "name",
    "type",
    "campaign_id",
    "queue_id",
    "agent_id",
    "phone",
    "phones",
    "lead_id",
    "list_id",
    "desired_time",
    "timezone",
    "disambiguation",
    "priority",
    "notes",
    "data",
    "items",
    "ids",
    "all_in_range",
    "reason",
    "by_customer",
    "presence",
    "outcome",
    "wrap_code",
    "lease_id",
    "max",
    "lease_secs",
    "code",
    "label",
    "add_to_queue",
    "direction",
    "region",
    "running",
    "dialling_hours",
    "exceptions",
    "lists",
    "fields",
    "username",
    "password",
    "display_name",
    "role",
    "scope",
    "expires_at",
    "from",
    "to",
    "state",
    "q",
    "q_field",
    "sort",
    "page",
    "page_size",
    "limit",
    "after",
    "callback_id",
    "overdue",
    "timezone_source",
    "callback_time",
    "slot_minutes",
    "slot_capacity",
    "capacity_grid",
    "duplicate_policy",
    "paused",
    "campaigns",
    "queues",
    "can_view_callback_list",
    "window_secs",
    "max_attempts",
    "retry_delays_secs",
    "horizon_days",
    "agent_id",
    "zz_unknown",
    "__proto__",
    "",
];

fn field_name() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::sample::select(FIELDS).prop_map(str::to_string),
        1 => "[a-z_]{1,12}",
        1 => "\\PC{0,8}",
    ]
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => "[ -~]{0,24}",
        1 => "\\PC{0,16}",
        2 => prop::sample::select(vec![
            "+442079460000", "020 7946 0000", "0900 123 4567", "2026-03-03T10:00:00Z", "2026-03-03T01:30:00",
            "2026-03-29T01:30:00", "9999-12-31T23:59:59Z", "Europe/London", "Mars/Olympus", "queue", "agent",
            "SCHEDULED", "COMPLETED", "ready", "connected", "no_answer", "admin", "monitor", "0190a0e4-0000-7000-8000-000000000000",
            "=HYPERLINK(\"x\")", "-1", "", " ", "\u{0}", "\u{202e}", "null", "1e309",
        ]).prop_map(str::to_string),
        1 => (1usize..6).prop_map(|n| "x".repeat(n * 1_500)),
    ]
}

fn number() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<i64>().prop_map(Value::from),
        (-5i64..2_000).prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        Just(json!(u64::MAX)),
        Just(serde_json::from_str::<Value>("1e308").unwrap()),
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf =
        prop_oneof![Just(Value::Null), any::<bool>().prop_map(Value::Bool), number(), text().prop_map(Value::String),];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((field_name(), inner), 0..6)
                .prop_map(|members| Value::Object(members.into_iter().collect())),
        ]
    })
}

#[derive(Debug, Clone)]
enum PathValue {
    /// A real id of the parameter's collection.
    Real,
    Number(i64),
    Text(String),
}

#[derive(Debug, Clone)]
enum BodyKind {
    None,
    /// The operation's valid example as it is.
    Example,
    /// A random JSON document.
    Random(Value),
    /// The operation's valid example with fields set (`Some`) or removed (`None`).
    Mutated(Vec<(FieldPick, Option<Value>)>),
    /// The operation's valid example cut short at a position (a fraction of its length).
    Truncated(prop::sample::Index),
    Bytes(Vec<u8>),
    /// Arrays (or objects) nested this deep.
    Deep(usize, bool),
}

/// Which field of an example a mutation changes.
#[derive(Debug, Clone)]
enum FieldPick {
    /// One the example has (so the request gets past the unknown-field check).
    Existing(prop::sample::Index),
    Named(String),
}

#[derive(Debug, Clone)]
enum Credentials {
    /// The admin's bearer token.
    Admin,
    /// The admin user's console session cookie, with or without its CSRF token.
    Session {
        csrf: bool,
    },
    None,
    Bad(String),
}

#[derive(Debug, Clone)]
struct FuzzRequest {
    op: prop::sample::Index,
    /// A path of random segments under `/api/v1` instead of the operation's.
    random_path: Option<Vec<String>>,
    path_values: Vec<PathValue>,
    method: Option<&'static str>,
    query: Vec<(String, String)>,
    raw_query: Option<String>,
    body: BodyKind,
    content_type: Option<String>,
    credentials: Credentials,
    extra_headers: Vec<(&'static str, Vec<u8>)>,
}

fn fuzz_request() -> impl Strategy<Value = FuzzRequest> {
    let path_value = prop_oneof![
        4 => Just(PathValue::Real),
        1 => any::<i64>().prop_map(PathValue::Number),
        1 => prop_oneof!["[ -~]{0,12}", "\\PC{1,6}", Just("x".repeat(5_000)), Just("..".to_string())].prop_map(PathValue::Text),
    ];
    let field_pick = prop_oneof![
        4 => any::<prop::sample::Index>().prop_map(FieldPick::Existing),
        1 => field_name().prop_map(FieldPick::Named),
    ];
    let body = prop_oneof![
        1 => Just(BodyKind::None),
        2 => Just(BodyKind::Example),
        3 => json_value().prop_map(BodyKind::Random),
        6 => prop::collection::vec((field_pick, prop::option::weighted(0.8, json_value())), 1..4).prop_map(BodyKind::Mutated),
        1 => any::<prop::sample::Index>().prop_map(BodyKind::Truncated),
        1 => prop::collection::vec(any::<u8>(), 0..64).prop_map(BodyKind::Bytes),
        1 => (1usize..3_000, any::<bool>()).prop_map(|(depth, objects)| BodyKind::Deep(depth, objects)),
    ];
    let content_type = prop_oneof![
        8 => Just(Some("application/json".to_string())),
        1 => Just(None),
        1 => prop::sample::select(vec![
            "text/plain", "application/xml", "application/json; charset=utf-16", "application/x-www-form-urlencoded",
            "application/problem+json", "multipart/form-data; boundary=x", "*/*", "application/jsonx",
        ]).prop_map(|t| Some(t.to_string())),
    ];
    let credentials = prop_oneof![
        10 => Just(Credentials::Admin),
        2 => any::<bool>().prop_map(|csrf| Credentials::Session { csrf }),
        1 => Just(Credentials::None),
        1 => prop::sample::select(vec![
            "Bearer", "Bearer ", "Bearer rbd_00", "bearer x", "Basic YWRtaW46YWRtaW4=", "Bearer rbd_é", "Token x",
        ]).prop_map(|s| Credentials::Bad(s.to_string())),
    ];
    let header_value =
        prop_oneof!["[ -~]{0,40}".prop_map(String::into_bytes), Just(vec![0xff, 0xfe, b'x']), Just(vec![b'k'; 300]),];
    let extra_header = (
        prop::sample::select(vec![
            "idempotency-key",
            "accept",
            "cookie",
            "x-csrf-token",
            "last-event-id",
            "origin",
            "x-forwarded-for",
        ]),
        header_value,
    );
    let query_pair = (field_name(), text());
    let path_segment = prop_oneof![
        4 => "[ -~]{0,10}".prop_map(|s| encode_segment(&s)),
        1 => prop::sample::select(vec!["..", "%2e%2e", "%00", "%zz", "callbacks", "campaigns", "1"]).prop_map(str::to_string),
    ];
    (
        any::<prop::sample::Index>(),
        prop::option::weighted(0.1, prop::collection::vec(path_segment, 1..5)),
        prop::collection::vec(path_value, 1..3),
        prop::option::weighted(
            0.1,
            prop::sample::select(vec!["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]),
        ),
        prop::collection::vec(query_pair, 0..4),
        prop::option::weighted(0.05, "[ -~]{0,30}"),
        body,
        content_type,
        credentials,
        prop::collection::vec(extra_header, 0..3),
    )
        .prop_map(
            |(
                op,
                random_path,
                path_values,
                method,
                query,
                raw_query,
                body,
                content_type,
                credentials,
                extra_headers,
            )| {
                FuzzRequest {
                    op,
                    random_path,
                    path_values,
                    method,
                    query,
                    raw_query,
                    body,
                    content_type,
                    credentials,
                    extra_headers,
                }
            },
        )
}

/// Percent-encodes everything but RFC 3986's unreserved characters.
fn encode_segment(text: &str) -> String {
    let mut out = String::new();
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// A valid body for an operation, which mutations then spoil.
fn example_body(op: &Operation, f: &Fixtures) -> Value {
    let callback = json!({"type": "queue", "campaign_id": f.campaign, "queue_id": f.queue, "phone": "+442079460555"});
    let path = op.path.trim_start_matches("/api/v1");
    match (op.method.as_str(), path) {
        ("POST", "/callbacks") => callback,
        ("POST", "/callbacks/import") => json!({"items": [callback]}),
        ("POST", "/callbacks/bulk-cancel") => json!({"ids": ["0190a0e4-0000-7000-8000-000000000001"], "reason": "r"}),
        ("POST", "/campaigns") => json!({"name": "C", "timezone": "Europe/London", "region": "GB",
                                         "dialling_hours": common::weekday_hours()}),
        ("POST", "/lists") => json!({"name": "L", "fields": ["a"]}),
        ("POST", "/leads") => json!({"list_id": f.list, "phones": ["+442079460444"], "data": {"account": "1"}}),
        ("POST", "/queues") => json!({"name": "Q", "campaign_id": f.campaign}),
        ("POST", "/agents") => json!({"name": "A", "username": "a", "timezone": "Europe/London"}),
        ("POST", "/wrap-codes") => json!({"campaign_id": f.campaign, "code": "W"}),
        ("POST", "/tokens") => json!({"name": "t", "role": "monitor"}),
        ("POST", "/users") => json!({"username": "u", "display_name": "U", "timezone": "Europe/London",
                                     "role": "monitor", "password": "a long enough password 2"}),
        ("POST", "/dialer/claim") => json!({"campaign_id": f.campaign, "max": 1, "lease_secs": 30}),
        ("POST", "/dialer/outcomes") => json!({"items": []}),
        ("POST", "/wraps") => json!({"agent_id": f.agent, "campaign_id": f.campaign, "wrap_code": "FZ",
                                     "phone": "+442079460333"}),
        ("PUT", p) if p.ends_with("/presence") => json!({"presence": "not_ready"}),
        // The number the create example asks for: an auto-callback then meets an active callback.
        ("POST", p) if p.ends_with("/auto-callbacks") => json!({"phone": "020 7946 0555", "name": "Caller"}),
        ("POST", p) if p.ends_with("/reschedule") => json!({"desired_time": "2026-03-04T10:00:00Z"}),
        ("POST", p) if p.ends_with("/outcome") => json!({"outcome": "no_answer"}),
        ("POST", p) if p.ends_with("/cancel") => json!({"reason": "r"}),
        _ => json!({}),
    }
}

fn body_bytes(kind: &BodyKind, example: &Value) -> Option<Vec<u8>> {
    match kind {
        BodyKind::None => None,
        BodyKind::Example => Some(example.to_string().into_bytes()),
        BodyKind::Random(value) => Some(value.to_string().into_bytes()),
        BodyKind::Mutated(changes) => {
            let mut body = example.clone();
            if let Some(object) = body.as_object_mut() {
                for (pick, value) in changes {
                    let field = match pick {
                        FieldPick::Existing(i) if !object.is_empty() => {
                            object.keys().nth(i.index(object.len())).cloned().unwrap_or_default()
                        }
                        FieldPick::Existing(_) => continue,
                        FieldPick::Named(name) => name.clone(),
                    };
                    match value {
                        Some(value) => object.insert(field, value.clone()),
                        None => object.remove(&field),
                    };
                }
            }
            Some(body.to_string().into_bytes())
        }
        BodyKind::Truncated(at) => {
            let text = example.to_string().into_bytes();
            Some(text[..at.index(text.len().max(1)).min(text.len())].to_vec())
        }
        BodyKind::Bytes(bytes) => Some(bytes.clone()),
        BodyKind::Deep(depth, objects) => Some(if *objects {
            format!("{}1{}", "{\"items\":".repeat(*depth), "}".repeat(*depth)).into_bytes()
        } else {
            format!("{}{}", "[".repeat(*depth), "]".repeat(*depth)).into_bytes()
        }),
    }
}

#[test]
fn random_requests_never_fault_never_write_when_refused_and_always_answer_the_contract() {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let app = runtime.block_on(TestApp::spawn());
    let fixtures = tokio::sync::Mutex::new(runtime.block_on(Fixtures::new(&app)));
    let ops = runtime.block_on(operations(&app));
    let config = Config { cases: 1_500, failure_persistence: None, max_shrink_iters: 200, ..Config::default() };
    let mut runner = TestRunner::new(config);
    let seen = std::sync::Mutex::new(std::collections::BTreeMap::<u16, usize>::new());
    let result = runner.run(&fuzz_request(), |request| {
        runtime.block_on(async {
            let mut fixtures = fixtures.lock().await;
            fixtures.restore(&app).await;
            let fixtures = &*fixtures;
            let op = &ops[request.op.index(ops.len())];
            let path = match &request.random_path {
                Some(segments) => format!("/api/v1/{}", segments.join("/")),
                None => {
                    let mut values = request.path_values.iter().cycle();
                    let mut previous = "";
                    let mut out = Vec::new();
                    for segment in op.path.split('/') {
                        if segment.starts_with('{') {
                            out.push(match values.next() {
                                Some(PathValue::Number(n)) => n.to_string(),
                                Some(PathValue::Text(t)) => encode_segment(t),
                                _ => fixtures.real(&op.path, previous),
                            });
                        } else {
                            out.push(segment.to_string());
                        }
                        previous = segment;
                    }
                    out.join("/")
                }
            };
            let mut url = format!("{}{path}", app.addr);
            let query = form_urlencoded::Serializer::new(String::new()).extend_pairs(&request.query).finish();
            match (&request.raw_query, query.is_empty()) {
                (Some(raw), _) => url = format!("{url}?{}", raw.replace('#', "%23")),
                (None, false) => url = format!("{url}?{query}"),
                (None, true) => {}
            }
            let method: Method = request.method.map_or(op.method.clone(), |m| m.parse().unwrap());
            let mut builder = app.client.request(method.clone(), &url);
            builder = match &request.credentials {
                Credentials::Admin => builder.bearer_auth(&app.admin),
                Credentials::Session { csrf } => {
                    let cookie = builder.header("cookie", format!("rebound_session={}", fixtures.session.cookie));
                    if *csrf { cookie.header("x-csrf-token", &fixtures.session.csrf) } else { cookie }
                }
                Credentials::None => builder,
                Credentials::Bad(value) => {
                    builder.header("authorization", HeaderValue::from_bytes(value.as_bytes()).unwrap())
                }
            };
            if let Some(content_type) = &request.content_type {
                builder = builder.header("content-type", content_type.as_str());
            }
            for (name, value) in &request.extra_headers {
                if let Ok(value) = HeaderValue::from_bytes(value) {
                    builder = builder.header(HeaderName::from_static(name), value);
                }
            }
            let body = if op.has_body || request.method.is_some() {
                body_bytes(&request.body, &example_body(op, fixtures))
            } else {
                None
            };
            if let Some(body) = body {
                builder = builder.body(body);
            }

            let before = store_contents(&app).await;
            let answer = send(builder).await;
            let context = format!("{method} {url}");
            check_answer(&method, &answer).map_err(|e| TestCaseError::fail(format!("{context}: {e}")))?;
            *seen.lock().unwrap().entry(answer.status).or_default() += 1;
            if answer.status >= 400 {
                let after = store_contents(&app).await;
                prop_assert!(
                    after == before,
                    "{} was refused ({}: {:?}) but wrote: {}",
                    context,
                    answer.status,
                    answer.body,
                    changes(&before, &after)
                );
            }
            // A documented route with numeric or real ids (a random text may not match the route).
            let documented_route = request.random_path.is_none()
                && request.method.is_none()
                && request.path_values.iter().all(|v| !matches!(v, PathValue::Text(_)));
            match &request.credentials {
                Credentials::None | Credentials::Bad(_) if documented_route && !op.public => {
                    prop_assert_eq!(answer.status, 401, "{} without valid credentials", context);
                }
                // A change with the session cookie but without its CSRF token (the session may have
                // been ended by a random sign-out or password change: then 401).
                Credentials::Session { csrf: false } if documented_route && !op.public && op.method != Method::GET => {
                    let code = answer.body.as_ref().and_then(|b| b["error"]["code"].as_str()).unwrap_or_default();
                    prop_assert!(
                        answer.status == 401 || (answer.status == 403 && code == "csrf"),
                        "{} with a cookie but no CSRF token: {} {}",
                        context,
                        answer.status,
                        code
                    );
                }
                _ => {}
            }
            if op.streams && answer.status == 200 {
                // A stream was opened: it is dropped here, and the server must shrug that off.
            }
            Ok(())
        })
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    // The walk reached past the parsers: successes, and refusals of every kind.
    let seen = seen.into_inner().unwrap();
    println!("answers by status: {seen:?}");
    for status in [200, 400, 401, 404, 422] {
        assert!(seen.contains_key(&status), "no {status} among {seen:?}");
    }
    assert!(seen.keys().any(|s| (201..300).contains(s)), "nothing was ever created: {seen:?}");
    // Still alive and still answering after everything.
    let health = runtime.block_on(async { app.client.get(app.url("/healthz")).send().await.unwrap().status() });
    assert_eq!(health.as_u16(), 200);
}
