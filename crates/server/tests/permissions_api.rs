//! The permission matrix: every documented operation × every role × a target inside and outside the
//! caller's campaign scope, from ONE table ([`TABLE`]) that must list exactly the operations of
//! `/api/openapi.json` — a new endpoint without a row fails the test.
//!
//! The callers: an unscoped admin token, and users (console sessions, CSRF token sent) of role
//! supervisor, monitor and agent, each limited to campaign A (the agent user acts as agent A).
//! Targets are made fresh per case where an allowed call would change them. What a row expects:
//! - a role the table's permission does not allow: 403;
//! - an allowed role on a target in scope (or any target for the unscoped admin): neither 401, 403
//!   nor 404 (the call got past access control; it may still be a 409 for its own reasons);
//! - an allowed role on a target outside its scope: the row's [`Scoped`] rule — 404 where existence
//!   must not leak, 403 `out_of_scope` for writes into another campaign, lists without the object.
//!
//! Further tests below check what the matrix cannot: events streams and mixed scopes (campaigns and
//! queues) with exact paging, export and bulk cancel.

mod common;

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU32, Ordering};

use common::{ConsoleSession, PASSWORD, TestApp};
use rebound_domain::access::{Permission, Role};
use reqwest::Method;
use serde_json::{Value, json};

/// What a route needs of the caller's role.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Need {
    /// No credentials at all (probes, metrics, signing in).
    Public,
    /// Any signed-in caller.
    Signed,
    May(Permission),
    /// `AgentActions`, but not as an agent user: dialler leases are for integrations.
    Dialler,
}

/// What an allowed caller gets for a target outside its scope.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Scoped {
    /// The route has no target a scope applies to.
    Global,
    /// 404: the object does not exist for this caller.
    Hidden,
    /// 403: writing into a campaign or queue outside the scope (or acting as another agent).
    Refused,
    /// 200 without the object in the list.
    Filtered,
    /// Another agent: 403 for an agent user, 404 (outside the scope) for the others.
    OwnAgent,
    /// 200 with the item refused as `out_of_scope`.
    ItemRefused,
    /// 200 with the item answered as `not_found`.
    ItemHidden,
    /// 200 with nothing cancelled.
    Skipped,
}

use Need::*;
use Permission::*;
use Scoped::*;

/// Every documented operation: method, OpenAPI path, what it needs, what scope does to it.
const TABLE: &[(&str, &str, Need, Scoped)] = &[
    ("GET", "/healthz", Public, Global),
    ("GET", "/readyz", Public, Global),
    ("GET", "/metrics", Public, Global),
    ("POST", "/api/v1/session", Public, Global),
    ("GET", "/api/v1/session", Signed, Global),
    // configuration
    ("GET", "/api/v1/campaigns", May(ReadConfig), Filtered),
    ("POST", "/api/v1/campaigns", May(WriteConfig), Global),
    ("GET", "/api/v1/campaigns/{id}", May(ReadConfig), Hidden),
    ("PATCH", "/api/v1/campaigns/{id}", May(WriteConfig), Global),
    ("DELETE", "/api/v1/campaigns/{id}", May(WriteConfig), Global),
    ("GET", "/api/v1/lists", May(ReadConfig), Filtered),
    ("POST", "/api/v1/lists", May(WriteConfig), Global),
    ("GET", "/api/v1/lists/{id}", May(ReadConfig), Hidden),
    ("PATCH", "/api/v1/lists/{id}", May(WriteConfig), Global),
    ("DELETE", "/api/v1/lists/{id}", May(WriteConfig), Global),
    ("GET", "/api/v1/leads", May(ReadConfig), Filtered),
    ("POST", "/api/v1/leads", May(WriteConfig), Global),
    ("GET", "/api/v1/leads/{id}", May(ReadConfig), Hidden),
    ("PATCH", "/api/v1/leads/{id}", May(WriteConfig), Global),
    ("DELETE", "/api/v1/leads/{id}", May(WriteConfig), Global),
    ("GET", "/api/v1/queues", May(ReadConfig), Filtered),
    ("POST", "/api/v1/queues", May(WriteConfig), Global),
    ("GET", "/api/v1/queues/{id}", May(ReadConfig), Hidden),
    ("PATCH", "/api/v1/queues/{id}", May(WriteConfig), Global),
    ("DELETE", "/api/v1/queues/{id}", May(WriteConfig), Global),
    ("GET", "/api/v1/queues/{id}/availability", May(ReadCallbacks), Hidden),
    ("GET", "/api/v1/agents", May(ReadConfig), Filtered),
    ("POST", "/api/v1/agents", May(WriteConfig), Global),
    ("GET", "/api/v1/agents/{id}", May(ReadConfig), Hidden),
    ("PATCH", "/api/v1/agents/{id}", May(WriteConfig), Global),
    ("DELETE", "/api/v1/agents/{id}", May(WriteConfig), Global),
    ("GET", "/api/v1/wrap-codes", May(ReadConfig), Filtered),
    ("POST", "/api/v1/wrap-codes", May(WriteConfig), Global),
    ("GET", "/api/v1/wrap-codes/{id}", May(ReadConfig), Hidden),
    ("PATCH", "/api/v1/wrap-codes/{id}", May(WriteConfig), Global),
    ("DELETE", "/api/v1/wrap-codes/{id}", May(WriteConfig), Global),
    // callbacks
    ("GET", "/api/v1/callbacks", May(ReadCallbacks), Filtered),
    ("POST", "/api/v1/callbacks", May(WriteCallbacks), Refused),
    ("POST", "/api/v1/callbacks/import", May(WriteCallbacks), ItemRefused),
    ("GET", "/api/v1/callbacks/{id}", May(ReadCallbacks), Hidden),
    ("PATCH", "/api/v1/callbacks/{id}", May(WriteCallbacks), Hidden),
    ("DELETE", "/api/v1/callbacks/{id}", May(DeleteCallbacks), Hidden),
    ("GET", "/api/v1/callbacks/{id}/events", May(ReadCallbacks), Hidden),
    ("POST", "/api/v1/callbacks/{id}/reschedule", May(WriteCallbacks), Hidden),
    ("POST", "/api/v1/callbacks/{id}/cancel", May(WriteCallbacks), Hidden),
    ("POST", "/api/v1/callbacks/{id}/recreate", May(WriteCallbacks), Hidden),
    ("POST", "/api/v1/callbacks/bulk-cancel", May(BulkCancel), Skipped),
    ("GET", "/api/v1/callbacks.csv", May(Export), Filtered),
    ("GET", "/api/v1/reports/cancellations/{report}", May(BulkCancel), Hidden),
    ("GET", "/api/v1/search", May(ReadCallbacks), Filtered),
    ("GET", "/api/v1/events", May(ReadCallbacks), Global),
    ("POST", "/api/v1/campaigns/{id}/auto-callbacks", May(WriteCallbacks), Refused),
    // agents and diallers
    ("PUT", "/api/v1/agents/{id}/presence", May(AgentActions), OwnAgent),
    ("GET", "/api/v1/agents/{id}/offer", May(AgentActions), OwnAgent),
    ("GET", "/api/v1/agents/{id}/events", May(AgentActions), OwnAgent),
    ("GET", "/api/v1/agents/{id}/callbacks", May(AgentActions), OwnAgent),
    ("POST", "/api/v1/callbacks/{id}/accept", May(AgentActions), Hidden),
    ("POST", "/api/v1/callbacks/{id}/reject", May(AgentActions), Hidden),
    ("POST", "/api/v1/callbacks/{id}/outcome", May(AgentActions), Hidden),
    ("POST", "/api/v1/wraps", May(AgentActions), Refused),
    ("POST", "/api/v1/dialer/claim", Dialler, Refused),
    ("POST", "/api/v1/dialer/outcomes", Dialler, ItemHidden),
    // access
    ("GET", "/api/v1/tokens", May(ManageAccess), Global),
    ("POST", "/api/v1/tokens", May(ManageAccess), Global),
    ("DELETE", "/api/v1/tokens/{id}", May(ManageAccess), Global),
    ("GET", "/api/v1/users", May(ManageAccess), Global),
    ("POST", "/api/v1/users", May(ManageAccess), Global),
    ("GET", "/api/v1/users/{id}", May(ManageAccess), Global),
    ("PATCH", "/api/v1/users/{id}", May(ManageAccess), Global),
    // Last: it ends the caller's session (the runner signs in again).
    ("DELETE", "/api/v1/session", Signed, Global),
];

static NEXT: AtomicU32 = AtomicU32::new(100);

/// A phone number no other case uses.
fn fresh_phone() -> String {
    format!("+44207946{:04}", NEXT.fetch_add(1, Ordering::Relaxed))
}

fn fresh_name(what: &str) -> String {
    format!("{what}-{}", NEXT.fetch_add(1, Ordering::Relaxed))
}

fn id(v: &Value) -> Value {
    v["id"].clone()
}

/// One campaign's worth of fixtures.
#[derive(Debug, Clone)]
struct Place {
    campaign: i64,
    queue: i64,
    list: i64,
    lead: i64,
    agent: i64,
    wrap: i64,
    wrap_code: String,
    inbound: i64,
    callback: String,
    callback_phone: String,
    report: String,
}

struct Fixture {
    app: TestApp,
    /// In the scoped callers' scope.
    a: Place,
    /// Outside it.
    b: Place,
    login_user: i64,
}

/// Who calls.
#[derive(Debug, Clone)]
enum Who {
    Token(String),
    User { username: String, session: ConsoleSession },
}

impl Fixture {
    async fn place(app: &TestApp, campaign: i64, queue: i64, tag: &str) -> Place {
        let list = app.post("/lists", json!({"name": format!("list {tag}")})).await.expect(201);
        app.patch(&format!("/campaigns/{campaign}"), json!({"lists": [id(&list)]})).await.expect(200);
        let lead = app.post("/leads", json!({"list_id": id(&list), "phones": [fresh_phone()]})).await.expect(201);
        let agent = app
            .create_agent(
                &format!("agent-{tag}"),
                json!({"campaigns": [campaign], "queues": [queue], "can_view_callback_list": true}),
            )
            .await;
        let wrap_code = format!("ATQ{tag}");
        let wrap = app
            .post(
                "/wrap-codes",
                json!({"campaign_id": campaign, "code": wrap_code, "add_to_queue":
                       {"campaign_id": campaign, "queue_id": queue, "type": "queue", "delay_minutes": 0}}),
            )
            .await
            .expect(201);
        let inbound = app
            .post(
                "/campaigns",
                json!({"name": format!("inbound {tag}"), "direction": "inbound", "timezone": "Europe/London",
                       "region": "GB", "dialling_hours": common::weekday_hours(), "auto_callback_list_id": id(&list)}),
            )
            .await
            .expect(201);
        let callback_phone = fresh_phone();
        let body = json!({"type": "queue", "campaign_id": campaign, "queue_id": queue, "phone": callback_phone});
        let callback = app.post("/callbacks", body).await.expect(201);
        let doomed = fresh_callback(app, campaign, queue).await;
        let report = app.post("/callbacks/bulk-cancel", json!({"ids": [doomed]})).await.expect(200);
        Place {
            campaign,
            queue,
            list: id(&list).as_i64().unwrap(),
            lead: id(&lead).as_i64().unwrap(),
            agent: id(&agent).as_i64().unwrap(),
            wrap: id(&wrap).as_i64().unwrap(),
            wrap_code,
            inbound: id(&inbound).as_i64().unwrap(),
            callback: callback["id"].as_str().unwrap().to_string(),
            callback_phone,
            report: report["report_id"].as_str().unwrap().to_string(),
        }
    }

    async fn new() -> Fixture {
        let app = TestApp::spawn().await;
        let a = Self::place(&app, app.campaign_id(), app.queue_id(), "A").await;
        let b_campaign = app.create_campaign("Bristol", "Europe/London", "GB").await;
        let b_queue = app.create_queue(b_campaign["id"].as_i64().unwrap(), json!({})).await;
        let b = Self::place(&app, b_campaign["id"].as_i64().unwrap(), b_queue["id"].as_i64().unwrap(), "B").await;
        let login = app.create_user("login", Role::Monitor, json!({})).await;
        Fixture { app, a, b, login_user: login["id"].as_i64().unwrap() }
    }

    fn side(&self, inside: bool) -> &Place {
        if inside { &self.a } else { &self.b }
    }

    /// The caller of `role`: the admin token, or a user limited to campaign A.
    async fn caller(&self, role: Role) -> Who {
        if role == Role::Admin {
            return Who::Token(self.app.admin.clone());
        }
        let username = format!("{role}-user");
        let mut extra = json!({"scope": {"campaigns": [self.a.campaign]}});
        if role == Role::Agent {
            extra["agent_id"] = json!(self.a.agent);
        }
        self.app.create_user(&username, role, extra).await;
        let session = self.app.session(&username).await;
        Who::User { username, session }
    }
}

/// A new immediate queue callback: its id.
async fn fresh_callback(app: &TestApp, campaign: i64, queue: i64) -> String {
    let body = json!({"type": "queue", "campaign_id": campaign, "queue_id": queue, "phone": fresh_phone()});
    app.post("/callbacks", body).await.expect(201)["id"].as_str().unwrap().to_string()
}

/// One concrete request for a row and side, and (for lists) the id that must (not) be in it.
struct Case {
    path: String,
    body: Option<Value>,
    marker: Option<Value>,
}

fn case(path: impl Into<String>, body: Option<Value>) -> Case {
    Case { path: path.into(), body, marker: None }
}

fn listed(path: impl Into<String>, marker: Value) -> Case {
    Case { path: path.into(), body: None, marker: Some(marker) }
}

/// Builds the request of one row for a target inside (`inside`) or outside the scope, making fresh
/// objects as the admin where the call would change them.
async fn make_case(fx: &Fixture, method: &str, route: &str, inside: bool) -> Case {
    let app = &fx.app;
    let p = fx.side(inside);
    let route = route.strip_prefix("/api/v1").unwrap_or(route);
    match (method, route) {
        ("GET", "/healthz" | "/readyz" | "/metrics") => case(route, None),
        ("POST", "/session") => case("/session", Some(json!({"username": "login", "password": PASSWORD}))),
        ("GET" | "DELETE", "/session") => case("/session", None),

        ("GET", "/campaigns") => listed("/campaigns", json!(p.campaign)),
        ("POST", "/campaigns") => case(
            "/campaigns",
            Some(json!({"name": fresh_name("c"), "timezone": "Europe/London", "region": "GB",
                        "dialling_hours": common::weekday_hours()})),
        ),
        ("GET", "/campaigns/{id}") => case(format!("/campaigns/{}", p.campaign), None),
        ("PATCH", "/campaigns/{id}") => case(format!("/campaigns/{}", p.campaign), Some(json!({"max_attempts": 3}))),
        ("DELETE", "/campaigns/{id}") => {
            let c = app.create_campaign(&fresh_name("c"), "Europe/London", "GB").await;
            case(format!("/campaigns/{}", c["id"]), None)
        }
        ("GET", "/lists") => listed("/lists", json!(p.list)),
        ("POST", "/lists") => case("/lists", Some(json!({"name": fresh_name("l")}))),
        ("GET", "/lists/{id}") => case(format!("/lists/{}", p.list), None),
        ("PATCH", "/lists/{id}") => case(format!("/lists/{}", p.list), Some(json!({"fields": []}))),
        ("DELETE", "/lists/{id}") => {
            let l = app.post("/lists", json!({"name": fresh_name("l")})).await.expect(201);
            case(format!("/lists/{}", l["id"]), None)
        }
        ("GET", "/leads") => listed(format!("/leads?list_id={}", p.list), json!(p.lead)),
        ("POST", "/leads") => case("/leads", Some(json!({"list_id": p.list, "phones": [fresh_phone()]}))),
        ("GET", "/leads/{id}") => case(format!("/leads/{}", p.lead), None),
        ("PATCH", "/leads/{id}") => case(format!("/leads/{}", p.lead), Some(json!({"name": "Pat"}))),
        ("DELETE", "/leads/{id}") => {
            let l = app.post("/leads", json!({"list_id": p.list, "phones": [fresh_phone()]})).await.expect(201);
            case(format!("/leads/{}", l["id"]), None)
        }
        ("GET", "/queues") => listed("/queues", json!(p.queue)),
        ("POST", "/queues") => case("/queues", Some(json!({"name": fresh_name("q"), "campaign_id": p.campaign}))),
        ("GET", "/queues/{id}") => case(format!("/queues/{}", p.queue), None),
        ("PATCH", "/queues/{id}") => case(format!("/queues/{}", p.queue), Some(json!({"paused": false}))),
        ("DELETE", "/queues/{id}") => {
            let q = app.create_queue(p.campaign, json!({})).await;
            case(format!("/queues/{}", q["id"]), None)
        }
        ("GET", "/queues/{id}/availability") => case(format!("/queues/{}/availability", p.queue), None),
        ("GET", "/agents") => listed("/agents", json!(p.agent)),
        ("POST", "/agents") => {
            let name = fresh_name("agent");
            case("/agents", Some(json!({"name": name, "username": name, "timezone": "UTC", "campaigns": [p.campaign]})))
        }
        ("GET", "/agents/{id}") => case(format!("/agents/{}", p.agent), None),
        ("PATCH", "/agents/{id}") => {
            case(format!("/agents/{}", p.agent), Some(json!({"can_view_callback_list": true})))
        }
        ("DELETE", "/agents/{id}") => {
            let a = app.create_agent(&fresh_name("agent"), json!({"campaigns": [p.campaign], "queues": []})).await;
            case(format!("/agents/{}", a["id"]), None)
        }
        ("GET", "/wrap-codes") => listed("/wrap-codes", json!(p.wrap)),
        ("POST", "/wrap-codes") => {
            case("/wrap-codes", Some(json!({"campaign_id": p.campaign, "code": fresh_name("W")})))
        }
        ("GET", "/wrap-codes/{id}") => case(format!("/wrap-codes/{}", p.wrap), None),
        ("PATCH", "/wrap-codes/{id}") => case(format!("/wrap-codes/{}", p.wrap), Some(json!({"label": "Call back"}))),
        ("DELETE", "/wrap-codes/{id}") => {
            let w =
                app.post("/wrap-codes", json!({"campaign_id": p.campaign, "code": fresh_name("W")})).await.expect(201);
            case(format!("/wrap-codes/{}", w["id"]), None)
        }

        ("GET", "/callbacks") => listed(format!("/callbacks?phone={}", p.callback_phone), json!(p.callback)),
        ("POST", "/callbacks") => case(
            "/callbacks",
            Some(json!({"type": "queue", "campaign_id": p.campaign, "queue_id": p.queue, "phone": fresh_phone()})),
        ),
        ("POST", "/callbacks/import") => case(
            "/callbacks/import",
            Some(
                json!({"items": [{"type": "queue", "campaign_id": p.campaign, "queue_id": p.queue, "phone": fresh_phone()}]}),
            ),
        ),
        ("GET", "/callbacks/{id}") => case(format!("/callbacks/{}", p.callback), None),
        ("GET", "/callbacks/{id}/events") => case(format!("/callbacks/{}/events", p.callback), None),
        ("PATCH", "/callbacks/{id}") => {
            let cb = fresh_callback(app, p.campaign, p.queue).await;
            case(format!("/callbacks/{cb}"), Some(json!({"notes": "call after lunch"})))
        }
        ("DELETE", "/callbacks/{id}") => {
            case(format!("/callbacks/{}", fresh_callback(app, p.campaign, p.queue).await), None)
        }
        ("POST", "/callbacks/{id}/reschedule") => {
            let cb = fresh_callback(app, p.campaign, p.queue).await;
            case(format!("/callbacks/{cb}/reschedule"), Some(json!({"desired_time": "2026-03-03T11:00:00Z"})))
        }
        ("POST", "/callbacks/{id}/cancel") => {
            let cb = fresh_callback(app, p.campaign, p.queue).await;
            case(format!("/callbacks/{cb}/cancel"), Some(json!({})))
        }
        ("POST", "/callbacks/{id}/recreate") => {
            let cb = fresh_callback(app, p.campaign, p.queue).await;
            app.post(&format!("/callbacks/{cb}/cancel"), json!({})).await.expect(200);
            case(format!("/callbacks/{cb}/recreate"), Some(json!({})))
        }
        ("POST", "/callbacks/bulk-cancel") => {
            let cb = fresh_callback(app, p.campaign, p.queue).await;
            case("/callbacks/bulk-cancel", Some(json!({"ids": [cb]})))
        }
        ("GET", "/callbacks.csv") => listed(format!("/callbacks.csv?phone={}", p.callback_phone), json!(p.callback)),
        ("GET", "/reports/cancellations/{report}") => case(format!("/reports/cancellations/{}.csv", p.report), None),
        ("GET", "/search") => listed(format!("/search?q={}", p.callback_phone), json!(p.callback)),
        ("GET", "/events") => case("/events", None),
        ("POST", "/campaigns/{id}/auto-callbacks") => {
            case(format!("/campaigns/{}/auto-callbacks", p.inbound), Some(json!({"phone": fresh_phone()})))
        }

        ("PUT", "/agents/{id}/presence") => {
            case(format!("/agents/{}/presence", p.agent), Some(json!({"presence": "not_ready"})))
        }
        ("GET", "/agents/{id}/offer") => case(format!("/agents/{}/offer", p.agent), None),
        ("GET", "/agents/{id}/events") => case(format!("/agents/{}/events", p.agent), None),
        ("GET", "/agents/{id}/callbacks") => case(format!("/agents/{}/callbacks", p.agent), None),
        ("POST", "/callbacks/{id}/accept") => case(format!("/callbacks/{}/accept", p.callback), Some(json!({}))),
        ("POST", "/callbacks/{id}/reject") => case(format!("/callbacks/{}/reject", p.callback), Some(json!({}))),
        ("POST", "/callbacks/{id}/outcome") => {
            case(format!("/callbacks/{}/outcome", p.callback), Some(json!({"outcome": "no_answer"})))
        }
        ("POST", "/wraps") => case(
            "/wraps",
            Some(
                json!({"agent_id": p.agent, "campaign_id": p.campaign, "wrap_code": p.wrap_code, "phone": fresh_phone()}),
            ),
        ),
        ("POST", "/dialer/claim") => {
            case("/dialer/claim", Some(json!({"campaign_id": p.campaign, "max": 1, "lease_secs": 60})))
        }
        ("POST", "/dialer/outcomes") => case(
            "/dialer/outcomes",
            Some(json!({"items": [{"id": p.callback, "outcome": "no_answer", "lease_id": "no-such-lease"}]})),
        ),

        ("GET", "/tokens") => case("/tokens", None),
        ("POST", "/tokens") => case("/tokens", Some(json!({"name": fresh_name("t"), "role": "monitor"}))),
        ("DELETE", "/tokens/{id}") => {
            let t = app.post("/tokens", json!({"name": fresh_name("t"), "role": "monitor"})).await.expect(201);
            case(format!("/tokens/{}", t["id"]), None)
        }
        ("GET", "/users") => case("/users", None),
        ("POST", "/users") => {
            case("/users", Some(json!({"username": fresh_name("u"), "role": "monitor", "password": PASSWORD})))
        }
        ("GET", "/users/{id}") => case(format!("/users/{}", fx.login_user), None),
        ("PATCH", "/users/{id}") => case(format!("/users/{}", fx.login_user), Some(json!({"display_name": "Login"}))),
        (method, route) => panic!("the matrix has no case for {method} {route}"),
    }
}

/// What came back: status, content type and body text (streams are not read).
struct Answer {
    status: u16,
    text: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or(Value::Null)
    }

    /// Whether the marker id appears in the answer's items (or, for CSV, its text).
    fn lists(&self, marker: &Value) -> bool {
        match self.json()["items"].as_array() {
            Some(items) => items.iter().any(|item| &item["id"] == marker),
            None => self.text.contains(marker.as_str().unwrap_or("<no marker>")),
        }
    }
}

async fn send(app: &TestApp, who: &Who, method: &str, case: &Case) -> Answer {
    let method = Method::from_bytes(method.as_bytes()).unwrap();
    let mut request = app.client.request(method, app.url(&case.path));
    request = match who {
        Who::Token(token) => request.bearer_auth(token),
        Who::User { session, .. } => request
            .header("cookie", format!("rebound_session={}", session.cookie))
            .header("x-csrf-token", &session.csrf),
    };
    if let Some(body) = &case.body {
        request = request.json(body);
    }
    let response = request.send().await.expect("request");
    let status = response.status().as_u16();
    let streaming =
        response.headers().get("content-type").is_some_and(|v| v.as_bytes().starts_with(b"text/event-stream"));
    let text = if streaming { String::new() } else { response.text().await.unwrap_or_default() };
    Answer { status, text }
}

/// Why the answer breaks the row's rule, if it does.
fn judge(need: Need, scoped: Scoped, role: Role, inside: bool, case: &Case, answer: &Answer) -> Option<String> {
    let status = answer.status;
    if status >= 500 {
        return Some(format!("server fault {status}"));
    }
    let allowed = match need {
        Public | Signed => true,
        May(permission) => role.may(permission),
        Dialler => role.may(AgentActions) && role != Role::Agent,
    };
    if !allowed {
        return (status != 403).then(|| format!("{status}, expected 403 for the role"));
    }
    let body = answer.json();
    let item_code = body["items"][0]["error"]["code"].as_str().map(str::to_string);
    let unscoped = inside || role == Role::Admin || scoped == Global;
    if unscoped {
        if matches!(status, 401 | 403 | 404) {
            return Some(format!("{status} for an allowed caller: {}", answer.text));
        }
        return match scoped {
            Filtered if !case.marker.as_ref().is_some_and(|m| answer.lists(m)) => {
                Some(format!("the object in scope is missing from the list: {}", answer.text))
            }
            ItemRefused | ItemHidden
                if item_code.as_deref().is_some_and(|c| c == "out_of_scope" || c == "not_found") =>
            {
                Some(format!("the item in scope was refused: {}", answer.text))
            }
            Skipped if body["cancelled"] != 1 => Some(format!("nothing cancelled in scope: {}", answer.text)),
            _ => None,
        };
    }
    let expected_status = match scoped {
        Hidden => 404,
        Refused => 403,
        OwnAgent if role == Role::Agent => 403,
        OwnAgent => 404,
        Filtered | ItemRefused | ItemHidden | Skipped => 200,
        Global => unreachable!(),
    };
    if status != expected_status {
        return Some(format!("{status}, expected {expected_status} outside the scope: {}", answer.text));
    }
    match scoped {
        Filtered if case.marker.as_ref().is_some_and(|m| answer.lists(m)) => {
            Some(format!("an object outside the scope is listed: {}", answer.text))
        }
        ItemRefused if item_code.as_deref() != Some("out_of_scope") => {
            Some(format!("item not refused: {}", answer.text))
        }
        ItemHidden if item_code.as_deref() != Some("not_found") => Some(format!("item not hidden: {}", answer.text)),
        Skipped if body["cancelled"] != 0 => Some(format!("cancelled outside the scope: {}", answer.text)),
        _ => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_operation_answers_every_role_inside_and_outside_its_scope_as_the_table_says() {
    let fx = Fixture::new().await;
    let app = &fx.app;

    // The table lists exactly the documented operations.
    let doc = app.send(Method::GET, "/api/openapi.json", None, None).await.expect(200);
    let documented: BTreeSet<(String, String)> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .unwrap()
                .keys()
                .filter(|m| ["get", "post", "put", "patch", "delete"].contains(&m.as_str()))
                .map(move |m| (m.to_uppercase(), path.clone()))
        })
        .collect();
    let tabled: BTreeSet<(String, String)> = TABLE.iter().map(|(m, p, _, _)| (m.to_string(), p.to_string())).collect();
    assert_eq!(tabled.len(), TABLE.len(), "a row is listed twice");
    assert_eq!(tabled, documented, "the permission table must list exactly the documented operations");

    let mut callers = Vec::new();
    for role in Role::ALL {
        callers.push((role, fx.caller(role).await));
    }
    let mut failures = Vec::new();
    let mut checked = 0;
    for &(method, route, need, scoped) in TABLE {
        for (role, who) in callers.iter_mut() {
            for inside in [true, false] {
                let case = make_case(&fx, method, route, inside).await;
                let answer = send(app, who, method, &case).await;
                checked += 1;
                if let Some(why) = judge(need, scoped, *role, inside, &case, &answer) {
                    let side = if inside { "in scope" } else { "out of scope" };
                    failures.push(format!("{method} {} as {role} ({side}): {why}", case.path));
                }
                if (method, route) == ("DELETE", "/api/v1/session")
                    && let Who::User { username, session } = who
                {
                    *session = app.session(username).await;
                }
            }
        }
    }
    assert_eq!(checked, TABLE.len() * 8);
    assert!(failures.is_empty(), "{} of {checked} cases broke the table:\n{}", failures.len(), failures.join("\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_event_stream_of_a_scoped_caller_carries_only_its_callbacks() {
    let app = TestApp::spawn().await;
    let other = app.create_campaign("Bristol", "Europe/London", "GB").await;
    let other_queue = app.create_queue(other["id"].as_i64().unwrap(), json!({})).await;
    let token = app.scoped_token(Role::Monitor, json!({"campaigns": [app.campaign_id()]})).await;
    let mut stream = app.open_stream("/events", Some(&token), &[]).await;
    assert_eq!(stream.status().as_u16(), 200);

    let hidden =
        json!({"type": "queue", "campaign_id": other["id"], "queue_id": other_queue["id"], "phone": fresh_phone()});
    let hidden = app.post("/callbacks", hidden).await.expect(201);
    let shown = app.post("/callbacks", app.queue_callback(&fresh_phone(), json!({}))).await.expect(201);
    let first = stream.next_event(std::time::Duration::from_secs(10)).await.expect("an event");
    assert_eq!(first.json()["callback_id"], shown["id"], "the other campaign's event was skipped");
    assert_ne!(first.json()["callback_id"], hidden["id"]);
}

/// Callbacks in campaign A (3), in queue B1 of campaign B (2) and in queue B2 of campaign B (2),
/// desired at distinct times; the caller sees A and B1.
async fn mixed_scope() -> (TestApp, String, Vec<String>, Vec<String>) {
    let app = TestApp::spawn().await;
    let b = app.create_campaign("Bristol", "Europe/London", "GB").await["id"].as_i64().unwrap();
    let b1 = app.create_queue(b, json!({})).await["id"].as_i64().unwrap();
    let b2 = app.create_queue(b, json!({})).await["id"].as_i64().unwrap();
    let places = [
        (app.campaign_id(), app.queue_id()),
        (b, b1),
        (app.campaign_id(), app.queue_id()),
        (b, b2),
        (b, b1),
        (app.campaign_id(), app.queue_id()),
        (b, b2),
    ];
    let (mut seen, mut unseen) = (Vec::new(), Vec::new());
    for (n, (campaign, queue)) in places.into_iter().enumerate() {
        let desired = format!("2026-03-03T1{n}:00:00Z");
        let body = json!({"type": "queue", "campaign_id": campaign, "queue_id": queue, "phone": fresh_phone(), "desired_time": desired});
        let cb = app.post("/callbacks", body).await.expect(201)["id"].as_str().unwrap().to_string();
        if queue == b2 { unseen.push(cb) } else { seen.push(cb) }
    }
    let token = app.scoped_token(Role::Supervisor, json!({"campaigns": [app.campaign_id()], "queues": [b1]})).await;
    (app, token, seen, unseen)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scope_of_campaigns_and_queues_lists_exactly_its_callbacks_with_exact_paging() {
    let (app, token, seen, _) = mixed_scope().await;
    let mut paged = Vec::new();
    for page in 1..=3 {
        let reply = app
            .send(Method::GET, &format!("/callbacks?sort=desired_time&page_size=2&page={page}"), Some(&token), None)
            .await;
        let body = reply.expect(200);
        assert_eq!(body["total"], 5);
        paged.extend(body["items"].as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap().to_string()));
    }
    assert_eq!(paged, seen, "in desired-time order, each exactly once");
    let newest =
        app.send(Method::GET, "/callbacks?sort=-desired_time&page_size=1", Some(&token), None).await.expect(200);
    assert_eq!(newest["items"][0]["id"].as_str(), seen.last().map(String::as_str));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mixed_scope_exports_and_bulk_cancels_exactly_its_callbacks() {
    let (app, token, seen, unseen) = mixed_scope().await;
    let (status, _, text) = app.get_csv("/callbacks.csv", &token).await;
    assert_eq!(status.as_u16(), 200);
    let (_, rows) = common::parse_csv(&text);
    let exported: Vec<String> = rows.iter().map(|r| r[0].clone()).collect();
    assert_eq!(exported, seen, "merged in desired-time order");

    let range = json!({"all_in_range": {"from": "2026-03-03T00:00:00Z", "to": "2026-03-04T00:00:00Z"}});
    let done = app.send(Method::POST, "/callbacks/bulk-cancel", Some(&token), Some(&range)).await.expect(200);
    assert_eq!(done["cancelled"], 5);
    for id in &unseen {
        assert_eq!(
            app.get(&format!("/callbacks/{id}")).await.expect(200)["state"],
            "SCHEDULED",
            "outside the scope: untouched"
        );
    }
    // Named ids outside the scope are answered as unknown ones.
    let named = json!({"ids": [unseen[0]]});
    let refused = app.send(Method::POST, "/callbacks/bulk-cancel", Some(&token), Some(&named)).await.expect(200);
    assert_eq!((refused["cancelled"].clone(), refused["skipped"][0]["state"].clone()), (json!(0), json!(null)));
}
