//! The test-app builder: a real router on a real TCP listener, a real store, a [`ManualClock`], an
//! admin token, and a London campaign fixture with real hours.
//!
//! The store is SQLite in a temp dir, or with `REBOUND_TEST_BACKEND=postgres` a fresh PostgreSQL
//! database per app on the server `REBOUND_TEST_DATABASE_URL` names (a role that may create
//! databases, e.g. `postgres://postgres@127.0.0.1:5432/postgres`), dropped when the app goes.
#![allow(dead_code)] // each test binary uses a different part of the helper.

pub mod console;

use std::sync::Arc;

use jiff::{SignedDuration, Timestamp};
use rebound_domain::access::Role;
use rebound_domain::clock::{Clock, ManualClock};
use rebound_domain::model::CallbackId;
use rebound_domain::state::Action;
use rebound_server::{AppConfig, AppState, auth, router};
use rebound_store::{NewToken, Store, TransitionRequest};
use rebound_store_postgres::scratch::ScratchDatabase;
use rebound_store_postgres::{PgOptions, PgStore};
use rebound_store_sqlite::SqliteStore;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// Monday 2 March 2026, 10:00 in London (GMT): inside the fixture's hours, 27 days before the
/// spring-forward gap of 29 March.
pub const START: &str = "2026-03-02T10:00:00Z";

pub struct TestApp {
    /// `http://127.0.0.1:port`
    pub addr: String,
    pub client: reqwest::Client,
    pub admin: String,
    /// The actor name audit events give the admin token.
    pub admin_actor: String,
    pub clock: Arc<ManualClock>,
    pub store: Arc<dyn Store>,
    /// The state the router serves (for background tasks such as retention).
    pub state: AppState,
    /// The London campaign (`Europe/London`, GB, Mon–Fri 09:00–17:00, Sat 10:00–14:00).
    pub campaign: Value,
    /// A queue of that campaign (15-minute slots, capacity 10, duplicate policy `one`).
    pub queue: Value,
    server: tokio::task::JoinHandle<()>,
    _dir: tempfile::TempDir,
    /// Declared after everything holding a connection: the database is dropped last.
    _database: Option<ScratchDatabase>,
}

/// A response: status, headers and JSON body (`Value::Null` when empty or not JSON).
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Reply {
    /// The `error.code` of an error body.
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("<no error code>")
    }

    #[track_caller]
    pub fn expect(self, status: u16) -> Value {
        assert_eq!(self.status.as_u16(), status, "unexpected status; body: {}", self.body);
        assert!(self.status.as_u16() < 500, "server fault: {}", self.body);
        self.body
    }

    /// Asserts an error status and code, and that the body has the contract's shape.
    #[track_caller]
    pub fn expect_error(self, status: u16, code: &str) -> Value {
        assert_eq!(self.status.as_u16(), status, "unexpected status; body: {}", self.body);
        assert_eq!(self.code(), code, "unexpected code; body: {}", self.body);
        assert!(self.body["error"]["message"].is_string(), "error message missing: {}", self.body);
        assert!(self.body["error"]["details"].is_object(), "error details missing: {}", self.body);
        self.body
    }
}

pub fn ts(s: &str) -> Timestamp {
    s.parse().expect("test timestamp")
}

pub fn weekday_hours() -> Value {
    let day = json!([["09:00", "17:00"]]);
    json!({"mon": day, "tue": day, "wed": day, "thu": day, "fri": day, "sat": [["10:00", "14:00"]], "sun": []})
}

/// The backend the tests run on: `REBOUND_TEST_BACKEND` = `sqlite` (the default) or `postgres`.
pub fn backend_is_postgres() -> bool {
    match std::env::var("REBOUND_TEST_BACKEND").unwrap_or_default().as_str() {
        "" | "sqlite" => false,
        "postgres" => true,
        other => panic!("REBOUND_TEST_BACKEND is '{other}': use sqlite or postgres"),
    }
}

/// The store of one test app (and the database to drop afterwards, on PostgreSQL).
async fn open_store(dir: &std::path::Path) -> (Arc<dyn Store>, Option<ScratchDatabase>) {
    if !backend_is_postgres() {
        return (Arc::new(SqliteStore::open_in_dir(dir).expect("open sqlite store")), None);
    }
    let admin_url = std::env::var("REBOUND_TEST_DATABASE_URL").expect(
        "REBOUND_TEST_BACKEND=postgres needs REBOUND_TEST_DATABASE_URL (a server where tests may create databases)",
    );
    let database = ScratchDatabase::create(&admin_url, "rebound_http").await.expect("a fresh test database");
    // Few connections: the tests of a binary run in parallel, each with its own app.
    let store = PgStore::connect(&database.url, PgOptions { max_connections: 4, ..Default::default() })
        .await
        .expect("the store connects");
    (Arc::new(store), Some(database))
}

impl TestApp {
    pub async fn spawn() -> TestApp {
        Self::spawn_with(AppConfig::default()).await
    }

    pub async fn spawn_with(config: AppConfig) -> TestApp {
        let dir = tempfile::tempdir().expect("temp dir");
        let (store, database) = open_store(dir.path()).await;
        let clock = Arc::new(ManualClock::new(ts(START)));
        let admin = auth::generate_token_secret();
        let admin_token = store
            .create_token(NewToken::new("admin", Role::Admin, auth::hash_token_secret(&admin), None))
            .await
            .expect("admin token");
        let admin_actor = format!("token:{}:{}", admin_token.id, admin_token.name);
        let state = AppState::new(store.clone(), clock.clone(), config);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = format!("http://{}", listener.local_addr().expect("local addr"));
        let app_router = router(state.clone());
        let server = tokio::spawn(async move {
            // With the client's address, as the binary serves (the sign-in rate limit is per address).
            let app = app_router.into_make_service_with_connect_info::<std::net::SocketAddr>();
            axum::serve(listener, app).await.expect("serve");
        });
        let mut app = TestApp {
            addr,
            client: reqwest::Client::new(),
            admin,
            admin_actor,
            clock,
            store,
            state,
            campaign: Value::Null,
            queue: Value::Null,
            server,
            _dir: dir,
            _database: database,
        };
        app.campaign = app.create_campaign("London", "Europe/London", "GB").await;
        app.queue = app.create_queue(app.campaign_id(), json!({})).await;
        app
    }

    /// An inbound campaign whose auto-callbacks go to a new list (not yet dialled by any
    /// campaign); answers the list's id and the campaign's `/auto-callbacks` path.
    pub async fn inbound_with_auto_callback_list(&self) -> (i64, String) {
        let list_id = self.post("/lists", json!({"name": "Auto"})).await.expect(201)["id"].as_i64().unwrap();
        let inbound = self
            .post(
                "/campaigns",
                json!({"name": "Inbound", "direction": "inbound", "timezone": "Europe/London", "region": "GB",
                       "dialling_hours": weekday_hours(), "auto_callback_list_id": list_id}),
            )
            .await
            .expect(201);
        (list_id, format!("/campaigns/{}/auto-callbacks", inbound["id"]))
    }

    pub fn campaign_id(&self) -> i64 {
        self.campaign["id"].as_i64().expect("campaign id")
    }

    pub fn queue_id(&self) -> i64 {
        self.queue["id"].as_i64().expect("queue id")
    }

    pub fn url(&self, path: &str) -> String {
        if path.starts_with("/api/") || ["/healthz", "/readyz", "/metrics"].iter().any(|p| path.starts_with(p)) {
            format!("{}{path}", self.addr)
        } else {
            format!("{}/api/v1{path}", self.addr)
        }
    }

    /// Sends a request as `token` (none when `None`) with an optional JSON body.
    pub async fn send(&self, method: Method, path: &str, token: Option<&str>, body: Option<&Value>) -> Reply {
        let mut request = self.client.request(method, self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.expect("request");
        Self::reply(response).await
    }

    pub async fn reply(response: reqwest::Response) -> Reply {
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.bytes().await.expect("body");
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        assert!(status.as_u16() < 500 || status.as_u16() == 501, "server fault {status}: {body}");
        Reply { status, headers, body }
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.send(Method::GET, path, Some(&self.admin), None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Reply {
        self.send(Method::POST, path, Some(&self.admin), Some(&body)).await
    }

    pub async fn patch(&self, path: &str, body: Value) -> Reply {
        self.send(Method::PATCH, path, Some(&self.admin), Some(&body)).await
    }

    pub async fn delete(&self, path: &str) -> Reply {
        self.send(Method::DELETE, path, Some(&self.admin), None).await
    }

    pub async fn put(&self, path: &str, body: Value) -> Reply {
        self.send(Method::PUT, path, Some(&self.admin), Some(&body)).await
    }

    /// One engine pass at the clock's current time (tests move the clock instead of waiting).
    pub async fn run_engine(&self) -> rebound_engine::StepReport {
        self.state.engine().run_once().await.expect("an engine pass")
    }

    /// An agent serving the fixture's queue in the fixture's campaign; `extra` overrides fields.
    pub async fn create_agent(&self, username: &str, extra: Value) -> Value {
        let mut body = json!({"name": username, "username": username, "timezone": "Europe/London",
                              "campaigns": [self.campaign_id()], "queues": [self.queue_id()]});
        body.as_object_mut().unwrap().extend(extra.as_object().cloned().unwrap_or_default());
        self.post("/agents", body).await.expect(201)
    }

    /// Sets an agent's presence through the API.
    pub async fn presence(&self, agent_id: i64, presence: &str) -> Value {
        self.put(&format!("/agents/{agent_id}/presence"), json!({"presence": presence})).await.expect(200)
    }

    /// Opens a server-sent event stream as `token` with extra headers.
    pub async fn open_stream(&self, path: &str, token: Option<&str>, headers: &[(&str, &str)]) -> SseReader {
        let mut request = self.client.get(self.url(path)).header("accept", "text/event-stream");
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request.send().await.expect("request");
        SseReader { response, buffer: String::new() }
    }
    /// POSTs raw text with a content type.
    pub async fn post_raw(&self, path: &str, content_type: &str, body: &str) -> Reply {
        let response = self
            .client
            .post(self.url(path))
            .bearer_auth(&self.admin)
            .header("content-type", content_type)
            .body(body.to_string())
            .send()
            .await
            .expect("request");
        Self::reply(response).await
    }

    /// POSTs a callback with an `Idempotency-Key`.
    pub async fn post_idempotent(&self, path: &str, key: &str, body: &Value) -> Reply {
        let response = self
            .client
            .post(self.url(path))
            .bearer_auth(&self.admin)
            .header("idempotency-key", key)
            .json(body)
            .send()
            .await
            .expect("request");
        Self::reply(response).await
    }

    /// A token of `role`, made directly in the store.
    pub async fn token(&self, role: Role) -> String {
        self.token_and_actor(role).await.0
    }

    /// A token of `role` and the actor name its audit events carry.
    pub async fn token_and_actor(&self, role: Role) -> (String, String) {
        let secret = auth::generate_token_secret();
        let token = self
            .store
            .create_token(NewToken::new(role.as_str(), role, auth::hash_token_secret(&secret), None))
            .await
            .expect("token");
        (secret, format!("token:{}:{}", token.id, token.name))
    }

    /// A token of `role` limited to `scope` (`{"campaigns": [...], "queues": [...]}`), made through the API.
    pub async fn scoped_token(&self, role: Role, scope: Value) -> String {
        let body = json!({"name": format!("{role}-scoped"), "role": role.as_str(), "scope": scope});
        let created = self.post("/tokens", body).await.expect(201);
        created["token"].as_str().expect("a token secret").to_string()
    }

    /// A user made through the API with the password [`PASSWORD`]; `extra` overrides fields.
    pub async fn create_user(&self, username: &str, role: Role, extra: Value) -> Value {
        let mut body = json!({"username": username, "role": role.as_str(), "password": PASSWORD});
        body.as_object_mut().unwrap().extend(extra.as_object().cloned().unwrap_or_default());
        self.post("/users", body).await.expect(201)
    }

    /// Signs in; the reply (status, headers with `Set-Cookie`, body).
    pub async fn sign_in(&self, username: &str, password: &str) -> Reply {
        let body = json!({"username": username, "password": password});
        self.send(Method::POST, "/session", None, Some(&body)).await
    }

    /// Signs in and answers the console session (the cookie and the CSRF token).
    pub async fn session(&self, username: &str) -> ConsoleSession {
        let reply = self.sign_in(username, PASSWORD).await;
        let cookie = set_cookie(&reply).expect("a session cookie");
        let body = reply.expect(200);
        let csrf = body["csrf_token"].as_str().expect("a CSRF token").to_string();
        ConsoleSession { cookie, csrf }
    }

    /// Sends a request with a session cookie, with the session's CSRF token when `with_csrf`.
    pub async fn send_as(
        &self,
        session: &ConsoleSession,
        with_csrf: bool,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Reply {
        let mut request =
            self.client.request(method, self.url(path)).header("cookie", format!("rebound_session={}", session.cookie));
        if with_csrf {
            request = request.header("x-csrf-token", &session.csrf);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        Self::reply(request.send().await.expect("request")).await
    }

    pub async fn create_campaign(&self, name: &str, timezone: &str, region: &str) -> Value {
        self.post(
            "/campaigns",
            json!({"name": name, "timezone": timezone, "region": region, "dialling_hours": weekday_hours()}),
        )
        .await
        .expect(201)
    }

    /// A queue of `campaign_id`; `extra` overrides fields.
    pub async fn create_queue(&self, campaign_id: i64, extra: Value) -> Value {
        static QUEUES: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(1);
        let n = QUEUES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut body = json!({"name": format!("Queue {n} of {campaign_id}"), "campaign_id": campaign_id});
        body.as_object_mut().unwrap().extend(extra.as_object().cloned().unwrap_or_default());
        self.post("/queues", body).await.expect(201)
    }

    /// A queue callback in the fixture's queue; `extra` overrides fields.
    pub fn queue_callback(&self, phone: &str, extra: Value) -> Value {
        let mut body =
            json!({"type": "queue", "campaign_id": self.campaign_id(), "queue_id": self.queue_id(), "phone": phone});
        body.as_object_mut().unwrap().extend(extra.as_object().cloned().unwrap_or_default());
        body
    }

    pub fn advance(&self, by: SignedDuration) {
        self.clock.advance(by);
    }

    /// Takes lifecycle steps directly in the store, as the engine will (actor `engine`), e.g.
    /// `[Promote, Reserve, Accept]` to put a callback in PROCESSING. Panics on a refusal.
    pub async fn drive(&self, id: &str, actions: &[Action]) -> Value {
        let mut last = Value::Null;
        for &action in actions {
            last = serde_json::to_value(self.step(id, action).await.expect("a legal engine step")).unwrap();
        }
        last
    }

    /// One engine step; the store's refusal is returned, not a panic.
    pub async fn step(
        &self,
        id: &str,
        action: Action,
    ) -> Result<rebound_domain::model::Callback, rebound_store::StoreError> {
        self.store
            .transition_callback(TransitionRequest {
                id: CallbackId::parse(id).expect("a callback id"),
                action,
                expect: Vec::new(),
                update: Default::default(),
                holder: None,
                presence: None,
                actor: "engine".into(),
                at: self.clock.now(),
                event_action: format!("{action:?}").to_lowercase(),
                event_details: json!({}),
            })
            .await
    }

    /// The audit history of a callback.
    pub async fn events(&self, id: &str) -> Vec<Value> {
        self.get(&format!("/callbacks/{id}/events")).await.expect(200).as_array().expect("events").clone()
    }

    /// The `action`s of a callback's history, oldest first.
    pub async fn actions(&self, id: &str) -> Vec<String> {
        self.events(id).await.iter().map(|e| e["action"].as_str().unwrap().to_string()).collect()
    }

    /// GETs a CSV file as `token`: status, headers and the body text.
    pub async fn get_csv(&self, path: &str, token: &str) -> (StatusCode, reqwest::header::HeaderMap, String) {
        let response = self.client.get(self.url(path)).bearer_auth(token).send().await.expect("request");
        let status = response.status();
        assert!(status.as_u16() < 500, "server fault {status}");
        let headers = response.headers().clone();
        (status, headers, response.text().await.expect("body"))
    }
}

/// The password [`TestApp::create_user`] gives every user.
pub const PASSWORD: &str = "correct horse battery staple";

/// A signed-in console: the session cookie's value and the CSRF token.
#[derive(Debug, Clone)]
pub struct ConsoleSession {
    pub cookie: String,
    pub csrf: String,
}

/// The value of the `rebound_session` cookie a reply sets (`None` if it sets none).
pub fn set_cookie(reply: &Reply) -> Option<String> {
    let header = reply.headers.get("set-cookie")?.to_str().ok()?;
    let value = header.strip_prefix("rebound_session=")?.split(';').next()?;
    (!value.is_empty()).then(|| value.to_string())
}

/// One server-sent event.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SseEvent {
    pub id: Option<String>,
    pub event: Option<String>,
    pub data: String,
}

impl SseEvent {
    /// The data as JSON (`Value::Null` when it is not JSON).
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.data).unwrap_or(Value::Null)
    }
}

/// Reads an SSE response event by event (a minimal parser of the `text/event-stream` format:
/// `field: value` lines, blank-line separated, `:` comments skipped).
pub struct SseReader {
    pub response: reqwest::Response,
    buffer: String,
}

impl SseReader {
    pub fn status(&self) -> StatusCode {
        self.response.status()
    }

    /// The next event, or `None` when the stream ends or `within` passes first.
    pub async fn next_event(&mut self, within: std::time::Duration) -> Option<SseEvent> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            while let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let mut event = SseEvent::default();
                let mut has_field = false;
                for line in block.lines() {
                    let (field, value) = line.split_once(':').unwrap_or((line, ""));
                    let value = value.strip_prefix(' ').unwrap_or(value);
                    match field {
                        "" => continue, // a comment (keep-alive)
                        "id" => event.id = Some(value.to_string()),
                        "event" => event.event = Some(value.to_string()),
                        "data" => {
                            if !event.data.is_empty() {
                                event.data.push('\n');
                            }
                            event.data.push_str(value);
                        }
                        _ => {}
                    }
                    has_field = true;
                }
                if has_field {
                    return Some(event);
                }
            }
            let chunk = tokio::time::timeout_at(deadline, self.response.chunk()).await.ok()?.ok()??;
            self.buffer.push_str(&String::from_utf8_lossy(&chunk));
        }
    }

    /// Reads events until one satisfies `wanted` (or `within` passes: `None`).
    pub async fn wait_for(
        &mut self,
        within: std::time::Duration,
        wanted: impl Fn(&SseEvent) -> bool,
    ) -> Option<SseEvent> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let event = self.next_event(left).await?;
            if wanted(&event) {
                return Some(event);
            }
        }
    }
}

/// Parses CSV text with the `csv` crate (an independent RFC 4180 reader): the header and the rows.
pub fn parse_csv(text: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let mut reader = csv::ReaderBuilder::new().has_headers(true).from_reader(text.as_bytes());
    let header = reader.headers().expect("a header row").iter().map(str::to_string).collect();
    let rows =
        reader.records().map(|r| r.expect("a well-formed CSV record").iter().map(str::to_string).collect()).collect();
    (header, rows)
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.server.abort();
    }
}
