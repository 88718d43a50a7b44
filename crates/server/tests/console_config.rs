//! The configuration pages through the real router: every page renders for an admin (labelled
//! inputs, no inline script or style) and is refused to supervisors and monitors; each form's
//! change is checked through the API afterwards (campaign settings, the weekly hours with an
//! overnight interval, exceptions, lists, queues with capacity, agents with the callback-list
//! permission, wrap codes with Add-to-Queue, users, tokens whose secret is shown once); refusals
//! keep what was typed; posts without the session's CSRF token change nothing.

mod common;

use common::console::{Page, get, get_fragment, post_form, post_fragment, sign_in};
use common::{PASSWORD, TestApp};
use rebound_domain::access::Role;
use reqwest::Method;
use serde_json::{Value, json};

/// A signed-in console user: the session cookie and the CSRF token its forms carry.
struct Session {
    cookie: String,
    csrf: String,
}

async fn session(app: &TestApp, username: &str, role: Role) -> Session {
    app.create_user(username, role, json!({"display_name": format!("{username} (test)")})).await;
    let cookie = sign_in(app, username).await;
    let csrf = get(app, "/callbacks", Some(&cookie)).await.csrf();
    Session { cookie, csrf }
}

async fn admin(app: &TestApp) -> Session {
    session(app, "ada", Role::Admin).await
}

/// Posts `fields` with the session's CSRF token, as the page's form does.
async fn submit(app: &TestApp, who: &Session, path: &str, fields: &[(&str, &str)]) -> Page {
    let mut all = vec![("csrf_token", who.csrf.as_str())];
    all.extend_from_slice(fields);
    post_form(app, path, Some(&who.cookie), &all).await
}

/// The same post from a dialog.
async fn submit_dialog(app: &TestApp, who: &Session, path: &str, fields: &[(&str, &str)]) -> Page {
    let mut all = vec![("csrf_token", who.csrf.as_str())];
    all.extend_from_slice(fields);
    post_fragment(app, path, &who.cookie, &all).await
}

#[track_caller]
fn assert_redirect(page: &Page, to: &str) {
    assert_eq!((page.status.as_u16(), page.location()), (303, to), "{}", page.html);
}

/// The `id`s of the inputs, selects and textareas of a page (hidden inputs aside).
fn control_ids(html: &str) -> Vec<String> {
    let mut ids = Vec::new();
    for tag in ["<input ", "<select ", "<textarea "] {
        for (at, _) in html.match_indices(tag) {
            let element = &html[at..at + html[at..].find('>').unwrap()];
            if element.contains(r#"type="hidden""#) {
                continue;
            }
            let id = element.split(" id=\"").nth(1).map(|rest| rest.split('"').next().unwrap().to_string());
            ids.push(id.unwrap_or_else(|| panic!("a control without an id: {element}")));
        }
    }
    ids
}

#[track_caller]
fn assert_labelled_and_policy_clean(path: &str, page: &Page) {
    assert_eq!(page.status.as_u16(), 200, "{path}: {}", page.html);
    for id in control_ids(&page.html) {
        // `for=` is written only on labels.
        assert!(page.html.contains(&format!(r#" for="{id}""#)), "{path}: #{id} has no label");
    }
    assert_eq!(page.count("<script"), page.count("<script type=\"module\" src="), "{path}: inline script");
    assert_eq!((page.count("<style"), page.count(" style=")), (0, 0), "{path}: inline style");
    assert_eq!(page.count(" onclick="), 0, "{path}");
}

/// The value attribute of the element with `id`.
fn value_of(page: &Page, id: &str) -> String {
    let at = page.html.find(&format!(r#"id="{id}""#)).unwrap_or_else(|| panic!("no #{id} in {}", page.html));
    let element = &page.html[at..at + page.html[at..].find('>').unwrap()];
    element.split(" value=\"").nth(1).map(|v| v.split('"').next().unwrap().to_string()).unwrap_or_default()
}

fn id_of(value: &Value) -> String {
    value["id"].to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_configuration_page_renders_for_an_admin_with_labelled_inputs() {
    let app = TestApp::spawn().await;
    let list = app.post("/lists", json!({"name": "Leads", "fields": ["account"]})).await.expect(201);
    let agent = app.create_agent("ahart", json!({"campaigns": [app.campaign_id()]})).await;
    let wrap = app.post("/wrap-codes", json!({"campaign_id": app.campaign_id(), "code": "SALE"})).await.expect(201);
    let token = app.post("/tokens", json!({"name": "ivr", "role": "supervisor"})).await.expect(201);
    let who = admin(&app).await;
    let user = app.get("/users").await.expect(200)["items"][0]["id"].to_string();
    let (c, q) = (app.campaign_id(), app.queue_id());
    let paths = [
        "/config".to_string(),
        "/config/campaigns".into(),
        "/config/campaigns/new".into(),
        format!("/config/campaigns/{c}"),
        format!("/config/campaigns/{c}/hours"),
        format!("/config/campaigns/{c}/exceptions"),
        format!("/config/campaigns/{c}/delete"),
        "/config/lists".into(),
        format!("/config/lists?campaign_id={c}"),
        "/config/lists/new".into(),
        format!("/config/lists/{}", id_of(&list)),
        format!("/config/lists/{}/delete", id_of(&list)),
        "/config/queues".into(),
        "/config/queues/new".into(),
        format!("/config/queues/{q}"),
        format!("/config/queues/{q}/delete"),
        "/config/agents".into(),
        "/config/agents/new".into(),
        format!("/config/agents/{}", id_of(&agent)),
        format!("/config/agents/{}/delete", id_of(&agent)),
        "/config/wrap-codes".into(),
        "/config/wrap-codes/new".into(),
        format!("/config/wrap-codes/{}", id_of(&wrap)),
        format!("/config/wrap-codes/{}/delete", id_of(&wrap)),
        "/config/users".into(),
        "/config/users/new".into(),
        format!("/config/users/{user}"),
        format!("/config/users/{user}/password"),
        "/config/tokens".into(),
        "/config/tokens/new".into(),
        format!("/config/tokens/{}/revoke", id_of(&token)),
    ];
    for path in &paths {
        let page = get(&app, path, Some(&who.cookie)).await;
        assert_labelled_and_policy_clean(path, &page);
        // The whole page: the header, the sections, "Configuration" current in the main navigation.
        assert!(page.html.contains(r#"<a href="/config" aria-current="page">Configuration</a>"#), "{path}");
        assert!(page.html.contains(r#"<nav class="config-nav""#), "{path}");
        // As a dialog: the content only.
        let fragment = get_fragment(&app, path, &who.cookie).await;
        assert_eq!(fragment.status.as_u16(), 200, "{path}");
        assert!(
            !fragment.html.contains("id=\"whoami\"") && fragment.html.starts_with("<div class=\"dialog-content\">")
        );
    }
    // What the tables show.
    let campaigns = get(&app, "/config/campaigns", Some(&who.cookie)).await;
    assert!(campaigns.html.contains(&format!(r#"<tr data-id="{c}">"#)) && campaigns.html.contains("Running"));
    let agents = get(&app, "/config/agents", Some(&who.cookie)).await;
    assert!(agents.html.contains(r#"<span class="presence presence-offline">Offline</span>"#), "{}", agents.html);
    let index = get(&app, "/config", Some(&who.cookie)).await;
    for section in ["/config/campaigns", "/config/queues", "/config/wrap-codes", "/config/users", "/config/tokens"] {
        assert!(index.html.contains(&format!(r#"<a href="{section}">"#)), "{section}");
    }
    let css = get(&app, "/assets/config.css", None).await;
    assert!(css.html.contains(".config-nav"));
    let js = get(&app, "/assets/config.js", None).await;
    assert!(js.html.contains("data-add-range"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn supervisors_and_monitors_may_neither_open_nor_post_the_configuration() {
    let app = TestApp::spawn().await;
    let q = app.queue_id();
    let admin_page = get(&app, "/callbacks", Some(&admin(&app).await.cookie)).await;
    assert!(admin_page.html.contains(r#"<a href="/config">Configuration</a>"#), "admins see the section");
    for (name, role) in [("sam", Role::Supervisor), ("molly", Role::Monitor)] {
        let who = session(&app, name, role).await;
        let list = get(&app, "/callbacks", Some(&who.cookie)).await;
        assert!(!list.html.contains(r#"href="/config""#), "{role}: no Configuration in the navigation");
        for path in [
            "/config".to_string(),
            "/config/campaigns".into(),
            format!("/config/campaigns/{}/hours", app.campaign_id()),
            "/config/queues".into(),
            format!("/config/queues/{q}"),
            "/config/agents".into(),
            "/config/wrap-codes/new".into(),
            "/config/users".into(),
            "/config/tokens".into(),
        ] {
            let page = get(&app, &path, Some(&who.cookie)).await;
            assert_eq!(page.status.as_u16(), 403, "{role} GET {path}");
            assert!(page.html.contains(r#"id="page-error""#));
        }
        // Posts with a valid CSRF token are refused too, and change nothing.
        let fields = [("name", "Hijacked"), ("campaign_id", "1"), ("slot_minutes", "15"), ("slot_capacity", "1")];
        assert_eq!(submit(&app, &who, &format!("/config/queues/{q}"), &fields).await.status.as_u16(), 403);
        let new_token = submit(&app, &who, "/config/tokens/new", &[("name", "mine"), ("role", "admin")]).await;
        assert_eq!(new_token.status.as_u16(), 403);
        let new_user = submit(&app, &who, "/config/users/new", &[("username", "x"), ("role", "admin")]).await;
        assert_eq!(new_user.status.as_u16(), 403);
        let stop_path = format!("/config/campaigns/{}/running", app.campaign_id());
        assert_eq!(submit(&app, &who, &stop_path, &[("running", "false")]).await.status.as_u16(), 403);
    }
    assert_eq!(app.get(&format!("/queues/{q}")).await.expect(200)["slot_capacity"], 10);
    assert_eq!(app.get(&format!("/campaigns/{}", app.campaign_id())).await.expect(200)["running"], true);
    assert_eq!(app.get("/tokens").await.expect(200)["total"], 1, "only the fixture's admin token");
    // Without a session, the login.
    assert_eq!(get(&app, "/config/queues", None).await.location(), "/login");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_campaign_is_created_edited_started_stopped_and_deleted_through_its_forms() {
    let app = TestApp::spawn().await;
    let who = admin(&app).await;
    let list = app.post("/lists", json!({"name": "Sydney leads"})).await.expect(201);
    let list_id = id_of(&list);
    let created = submit(
        &app,
        &who,
        "/config/campaigns/new",
        &[
            ("name", "Canberra Energy"),
            ("direction", "outbound"),
            ("timezone", "Australia/Sydney"),
            ("region", "au"),
            ("running", "on"),
            ("lists", &list_id),
            ("lead_calling_hours.start", "09:00"),
            ("lead_calling_hours.end", "20:00"),
            ("agent_grace_minutes", "45"),
            ("window_secs", "300"),
            ("max_attempts", "5"),
            ("horizon_days", "30"),
            ("retry_delays_secs.no_answer", "600"),
            ("retry_delays_secs.busy", "120"),
            ("retry_delays_secs.voicemail", "1800"),
            ("retry_delays_secs.failed", "60"),
        ],
    )
    .await;
    let campaigns = app.get("/campaigns").await.expect(200);
    let stored =
        campaigns["items"].as_array().unwrap().iter().find(|c| c["name"] == "Canberra Energy").unwrap().clone();
    let id = stored["id"].as_i64().unwrap();
    // On to the new campaign's hours: it starts closed all week.
    assert_redirect(&created, &format!("/config/campaigns/{id}/hours"));
    assert_eq!(stored["region"], "AU");
    assert_eq!(stored["timezone"], "Australia/Sydney");
    assert_eq!(stored["lists"], json!([list["id"]]));
    assert_eq!(stored["lead_calling_hours"], json!(["09:00", "20:00"]));
    assert_eq!(
        (&stored["agent_grace_minutes"], &stored["window_secs"], &stored["max_attempts"], &stored["horizon_days"]),
        (&json!(45), &json!(300), &json!(5), &json!(30))
    );
    assert_eq!(stored["retry_delays_secs"], json!({"no_answer": 600, "busy": 120, "voicemail": 1800, "failed": 60}));
    assert_eq!(stored["dialling_hours"]["mon"], json!([]));
    assert_eq!(stored["running"], true);

    // The settings page shows the stored values; a change goes through PATCH's rules.
    let edit = get(&app, &format!("/config/campaigns/{id}"), Some(&who.cookie)).await;
    assert_eq!(value_of(&edit, "campaign-agent-grace-minutes"), "45");
    assert!(
        edit.html.contains(&format!(
            r#"id="campaign-lists-{list_id}" name="lists" type="checkbox" value="{list_id}" checked"#
        ))
    );
    let saved = submit(
        &app,
        &who,
        &format!("/config/campaigns/{id}"),
        &[
            ("name", "Canberra Energy 2"),
            ("direction", "outbound"),
            ("timezone", "Australia/Perth"),
            ("region", "AU"),
            ("allow_unassigned_agent_callbacks", "on"),
            ("agent_grace_minutes", "10"),
            ("retry_delays_secs.no_answer", "900"),
            ("retry_delays_secs.busy", "900"),
            ("retry_delays_secs.voicemail", "900"),
            ("retry_delays_secs.failed", "900"),
        ],
    )
    .await;
    assert_redirect(&saved, "/config/campaigns");
    let stored = app.get(&format!("/campaigns/{id}")).await.expect(200);
    assert_eq!(
        (stored["name"].as_str(), stored["timezone"].as_str()),
        (Some("Canberra Energy 2"), Some("Australia/Perth"))
    );
    assert_eq!(
        (&stored["allow_unassigned_agent_callbacks"], &stored["agent_grace_minutes"]),
        (&json!(true), &json!(10))
    );
    assert_eq!(stored["running"], false, "the Running box was not ticked");
    assert_eq!(stored["lists"], json!([]), "no list ticked");
    assert_eq!(stored["max_attempts"], 5, "a blank number keeps its value");
    assert_eq!(stored["retry_delays_secs"]["busy"], 900);

    // Start from the list's button, then stop again.
    let start = submit(&app, &who, &format!("/config/campaigns/{id}/running"), &[("running", "true")]).await;
    assert_redirect(&start, "/config/campaigns");
    assert_eq!(app.get(&format!("/campaigns/{id}")).await.expect(200)["running"], true);
    let listing = get(&app, "/config/campaigns", Some(&who.cookie)).await;
    assert!(listing.html.contains(&format!(r#"id="running-{id}" type="submit">Stop</button>"#)), "{}", listing.html);
    submit(&app, &who, &format!("/config/campaigns/{id}/running"), &[("running", "false")]).await;
    assert_eq!(app.get(&format!("/campaigns/{id}")).await.expect(200)["running"], false);

    // A campaign still referred to is not deleted; the refusal is shown on the confirmation.
    let refused = submit(&app, &who, &format!("/config/campaigns/{}/delete", app.campaign_id()), &[]).await;
    assert_eq!(refused.status.as_u16(), 409, "{}", refused.html);
    assert!(refused.html.contains(r#"class="form-error" role="alert""#));
    let deleted = submit(&app, &who, &format!("/config/campaigns/{id}/delete"), &[]).await;
    assert_redirect(&deleted, "/config/campaigns");
    app.get(&format!("/campaigns/{id}")).await.expect_error(404, "not_found");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_hours_editor_stores_an_overnight_shift_and_keeps_a_refused_week() {
    let app = TestApp::spawn().await;
    let who = admin(&app).await;
    let c = app.campaign_id();
    let path = format!("/config/campaigns/{c}/hours");
    let page = get(&app, &path, Some(&who.cookie)).await;
    // The fixture's Monday 09:00–17:00 and a blank row to add another.
    assert_eq!(value_of(&page, "hours-mon-1-start"), "09:00");
    assert_eq!(value_of(&page, "hours-mon-2-start"), "");
    assert!(
        page.html.contains(r#"<label class="visually-hidden" for="hours-thu-1-end">Thursday, interval 1, to</label>"#)
    );

    let week = [
        ("mon.start", "09:00"),
        ("mon.end", "17:00"),
        ("mon.start", ""),
        ("mon.end", ""),
        ("thu.start", "08:30"),
        ("thu.end", "19:00"),
        ("thu.start", "22:00"),
        ("thu.end", "02:00"),
        ("fri.start", "08:30"),
        ("fri.end", "19:00"),
        ("sun.start", "00:00"),
        ("sun.end", "24:00"),
    ];
    assert_redirect(&submit(&app, &who, &path, &week).await, &path);
    let stored = app.get(&format!("/campaigns/{c}")).await.expect(200)["dialling_hours"].clone();
    assert_eq!(
        stored,
        json!({"mon": [["09:00", "17:00"]], "tue": [], "wed": [], "thu": [["08:30", "19:00"], ["22:00", "02:00"]],
               "fri": [["08:30", "19:00"]], "sat": [], "sun": [["00:00", "24:00"]]})
    );
    // The overnight interval is marked, and the chart draws its tail on Friday.
    let page = get(&app, &path, Some(&who.cookie)).await;
    assert_eq!(value_of(&page, "hours-thu-2-end"), "02:00");
    assert_eq!(page.count(r#"<span class="overnight">→ next day</span>"#), 1, "{}", page.html);
    assert_eq!(page.count(r#"<rect class="open tail""#), 1);

    // Overlapping intervals: the domain refuses, the page keeps what was typed and stores nothing.
    let overlapping = [("thu.start", "08:30"), ("thu.end", "19:00"), ("thu.start", "18:00"), ("thu.end", "02:00")];
    let refused = submit(&app, &who, &path, &overlapping).await;
    assert_eq!(refused.status.as_u16(), 422, "{}", refused.html);
    assert!(refused.html.contains(r#"<p class="form-error" role="alert">"#));
    assert!(
        refused.html.find("form-error").unwrap() < refused.html.find(r#"id="hours-form""#).unwrap(),
        "above the form"
    );
    assert_eq!(value_of(&refused, "hours-thu-2-start"), "18:00");
    // Half an interval is refused by the page itself.
    let half = submit(&app, &who, &path, &[("fri.start", "09:00"), ("fri.end", "")]).await;
    assert_eq!(half.status.as_u16(), 422);
    assert!(half.html.contains("Friday: an interval needs both a start and an end"), "{}", half.html);
    assert_eq!(app.get(&format!("/campaigns/{c}")).await.expect(200)["dialling_hours"], stored);
}

async fn exceptions(app: &TestApp, campaign_id: i64) -> Value {
    app.get(&format!("/campaigns/{campaign_id}")).await.expect(200)["exceptions"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exceptions_are_added_replaced_and_removed() {
    let app = TestApp::spawn().await;
    let who = admin(&app).await;
    let c = app.campaign_id();
    let path = format!("/config/campaigns/{c}/exceptions");
    let closed = submit(&app, &who, &path, &[("date", "2026-12-25"), ("hours.start", ""), ("hours.end", "")]).await;
    assert_redirect(&closed, &path);
    let special = [("date", "2026-12-24"), ("hours.start", "09:00"), ("hours.end", "13:00")];
    assert_redirect(&submit(&app, &who, &path, &special).await, &path);
    assert_eq!(
        exceptions(&app, c).await,
        json!([{"date": "2026-12-24", "hours": [["09:00", "13:00"]]}, {"date": "2026-12-25", "hours": []}])
    );
    let page = get(&app, &path, Some(&who.cookie)).await;
    assert!(page.html.contains("Closed all day") && page.html.contains("09:00–13:00"), "{}", page.html);
    assert!(page.html.contains(r#"id="remove-exception-2026-12-25""#));

    // The same date again replaces its hours (an overnight interval shown as such).
    let replaced = [("date", "2026-12-24"), ("hours.start", "18:00"), ("hours.end", "01:00")];
    assert_redirect(&submit(&app, &who, &path, &replaced).await, &path);
    assert_eq!(exceptions(&app, c).await[0], json!({"date": "2026-12-24", "hours": [["18:00", "01:00"]]}));
    assert!(get(&app, &path, Some(&who.cookie)).await.html.contains("18:00–01:00 (next day)"));

    // A date that is not one: refused with what was typed kept, nothing stored.
    let refused =
        submit(&app, &who, &path, &[("date", "2026-02-30"), ("hours.start", "10:00"), ("hours.end", "12:00")]).await;
    assert_eq!(refused.status.as_u16(), 422, "{}", refused.html);
    assert!(refused.html.contains(r#"role="alert""#));
    assert_eq!(value_of(&refused, "exception-date"), "2026-02-30");
    assert_eq!(value_of(&refused, "exception-hours-1-start"), "10:00");
    assert_eq!(exceptions(&app, c).await.as_array().unwrap().len(), 2);

    let removed = submit(&app, &who, &format!("{path}/remove"), &[("date", "2026-12-25")]).await;
    assert_redirect(&removed, &path);
    assert_eq!(exceptions(&app, c).await, json!([{"date": "2026-12-24", "hours": [["18:00", "01:00"]]}]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_and_queues_round_trip_through_their_dialogs() {
    let app = TestApp::spawn().await;
    let who = admin(&app).await;
    // A list, from its dialog: 204 and where to go.
    let made =
        submit_dialog(&app, &who, "/config/lists/new", &[("name", "Renewals"), ("fields", "account, plan")]).await;
    assert_eq!((made.status.as_u16(), made.headers["x-rebound-location"].to_str().unwrap()), (204, "/config/lists"));
    let list = app.get("/lists").await.expect(200)["items"][0].clone();
    assert_eq!((list["name"].as_str(), &list["fields"]), (Some("Renewals"), &json!(["account", "plan"])));
    let renamed = submit(
        &app,
        &who,
        &format!("/config/lists/{}", list["id"]),
        &[("name", "Renewals 2026"), ("fields", "account")],
    )
    .await;
    assert_redirect(&renamed, "/config/lists");
    assert_eq!(app.get(&format!("/lists/{}", list["id"])).await.expect(200)["fields"], json!(["account"]));
    // Per campaign: the list shows under the campaign that dials it, not under another.
    app.patch(&format!("/campaigns/{}", app.campaign_id()), json!({"lists": [list["id"]]})).await.expect(200);
    let other = app.create_campaign("Singapore", "Asia/Singapore", "SG").await;
    let dialled = get(&app, &format!("/config/lists?campaign_id={}", app.campaign_id()), Some(&who.cookie)).await;
    assert_eq!(dialled.count("<tr data-id="), 1);
    let not = get(&app, &format!("/config/lists?campaign_id={}", other["id"]), Some(&who.cookie)).await;
    assert_eq!(not.count("<tr data-id="), 0);

    // A queue with capacity and a busier Thursday night slot.
    let c = app.campaign_id().to_string();
    let made = submit(
        &app,
        &who,
        "/config/queues/new",
        &[
            ("name", "Night desk"),
            ("campaign_id", &c),
            ("slot_minutes", "30"),
            ("slot_capacity", "7"),
            ("capacity_grid", "thu 22:00 12\nfri 01:30 3"),
            ("duplicate_policy", "two"),
        ],
    )
    .await;
    assert_redirect(&made, "/config/queues");
    let queues = app.get("/queues").await.expect(200);
    let queue = queues["items"].as_array().unwrap().iter().find(|q| q["name"] == "Night desk").unwrap().clone();
    assert_eq!(
        (&queue["slot_minutes"], &queue["slot_capacity"], &queue["paused"]),
        (&json!(30), &json!(7), &json!(false))
    );
    assert_eq!(queue["capacity_grid"]["thu"], json!({"22:00": 12}));
    assert_eq!(queue["duplicate_policy"], "two");
    let qpath = format!("/config/queues/{}", queue["id"]);
    let form = get(&app, &qpath, Some(&who.cookie)).await;
    assert_eq!(value_of(&form, "queue-slot-capacity"), "7");
    assert!(form.html.contains("thu 22:00 12\nfri 01:30 3"), "{}", form.html);
    // Capacity changed, the grid cleared, paused.
    let changed = [
        ("name", "Night desk"),
        ("campaign_id", c.as_str()),
        ("slot_minutes", "30"),
        ("slot_capacity", "25"),
        ("capacity_grid", ""),
        ("duplicate_policy", "one"),
        ("paused", "on"),
    ];
    assert_redirect(&submit(&app, &who, &qpath, &changed).await, "/config/queues");
    let stored = app.get(&format!("/queues/{}", queue["id"])).await.expect(200);
    assert_eq!(
        (&stored["slot_capacity"], &stored["capacity_grid"], &stored["paused"]),
        (&json!(25), &Value::Null, &json!(true))
    );
    assert_redirect(&submit(&app, &who, &format!("{qpath}/paused"), &[("paused", "false")]).await, "/config/queues");
    assert_eq!(app.get(&format!("/queues/{}", queue["id"])).await.expect(200)["paused"], false);

    // Refusals keep what was typed: a capacity that is not a number, a slot off the grid.
    let bad = [("name", "Night desk"), ("campaign_id", c.as_str()), ("slot_minutes", "30"), ("slot_capacity", "lots")];
    let refused = submit(&app, &who, &qpath, &bad).await;
    assert_eq!(refused.status.as_u16(), 422);
    assert_eq!(value_of(&refused, "queue-slot-capacity"), "lots");
    assert!(refused.html.contains(r#"id="queue-slot-capacity" name="slot_capacity" type="number" value="lots" min="0" max="100000" aria-invalid="true""#), "{}", refused.html);
    let off_grid = [
        ("name", "Night desk"),
        ("campaign_id", c.as_str()),
        ("slot_minutes", "30"),
        ("slot_capacity", "4"),
        ("capacity_grid", "thu 22:10 3"),
    ];
    let refused = submit_dialog(&app, &who, &qpath, &off_grid).await;
    assert_eq!(refused.status.as_u16(), 422, "{}", refused.html);
    assert!(refused.html.starts_with("<div class=\"dialog-content\">") && refused.html.contains(r#"role="alert""#));
    assert!(refused.html.contains("thu 22:10 3"));
    assert_eq!(app.get(&format!("/queues/{}", queue["id"])).await.expect(200)["slot_capacity"], 25);

    // Delete from the confirmation dialog.
    let deleted = submit_dialog(&app, &who, &format!("{qpath}/delete"), &[]).await;
    assert_eq!(deleted.status.as_u16(), 204);
    app.get(&format!("/queues/{}", queue["id"])).await.expect_error(404, "not_found");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agents_and_wrap_codes_round_trip_with_the_callback_list_permission_and_add_to_queue() {
    let app = TestApp::spawn().await;
    let who = admin(&app).await;
    let (c, q) = (app.campaign_id().to_string(), app.queue_id().to_string());
    let made = submit(
        &app,
        &who,
        "/config/agents/new",
        &[
            ("name", "Amelia Hart"),
            ("username", "ahart"),
            ("timezone", "Europe/London"),
            ("campaigns", &c),
            ("queues", &q),
            ("can_view_callback_list", "on"),
        ],
    )
    .await;
    assert_redirect(&made, "/config/agents");
    let agent = app.get("/agents").await.expect(200)["items"][0].clone();
    assert_eq!((&agent["can_view_callback_list"], &agent["queues"]), (&json!(true), &json!([app.queue_id()])));
    let apath = format!("/config/agents/{}", agent["id"]);
    let form = get(&app, &apath, Some(&who.cookie)).await;
    assert!(form.html.contains(
        r#"id="agent-can-view-callback-list" name="can_view_callback_list" type="checkbox" value="on" checked"#
    ));
    // Unticked: the permission goes; the queues box unticked too.
    let saved = submit(
        &app,
        &who,
        &apath,
        &[("name", "Amelia Hart"), ("username", "ahart"), ("timezone", "Europe/London"), ("campaigns", &c)],
    )
    .await;
    assert_redirect(&saved, "/config/agents");
    let stored = app.get(&format!("/agents/{}", agent["id"])).await.expect(200);
    assert_eq!((&stored["can_view_callback_list"], &stored["queues"]), (&json!(false), &json!([])));
    let refused =
        submit(&app, &who, &apath, &[("name", "Amelia Hart"), ("username", "ahart"), ("timezone", "Mars/Olympus")])
            .await;
    assert_eq!(refused.status.as_u16(), 422);
    assert_eq!(value_of(&refused, "agent-timezone"), "Mars/Olympus");

    // A wrap code whose Add-to-Queue makes a queue callback an hour later.
    let made = submit(
        &app,
        &who,
        "/config/wrap-codes/new",
        &[
            ("campaign_id", &c),
            ("code", "CB1H"),
            ("label", "Call back in 1 hour"),
            ("add_to_queue", "on"),
            ("add_to_queue.campaign_id", &c),
            ("add_to_queue.type", "queue"),
            ("add_to_queue.queue_id", &q),
            ("add_to_queue.delay_minutes", "60"),
        ],
    )
    .await;
    assert_redirect(&made, "/config/wrap-codes");
    let wrap = app.get("/wrap-codes").await.expect(200)["items"][0].clone();
    assert_eq!((wrap["code"].as_str(), wrap["label"].as_str()), (Some("CB1H"), Some("Call back in 1 hour")));
    assert_eq!(
        wrap["add_to_queue"],
        json!({"campaign_id": app.campaign_id(), "queue_id": app.queue_id(), "type": "queue", "delay_minutes": 60})
    );
    let listing = get(&app, "/config/wrap-codes", Some(&who.cookie)).await;
    assert!(listing.html.contains("after 60 min"), "{}", listing.html);
    // A queue callback without a queue: the service's refusal, the fields kept.
    let wpath = format!("/config/wrap-codes/{}", wrap["id"]);
    let refused = submit(
        &app,
        &who,
        &wpath,
        &[
            ("campaign_id", &c),
            ("code", "CB1H"),
            ("label", "Call back"),
            ("add_to_queue", "on"),
            ("add_to_queue.campaign_id", &c),
            ("add_to_queue.type", "queue"),
            ("add_to_queue.delay_minutes", "90"),
        ],
    )
    .await;
    assert_eq!(refused.status.as_u16(), 422, "{}", refused.html);
    assert!(
        refused.html.contains(r#"id="wrap-add-to-queue-queue-id" name="add_to_queue.queue_id" aria-invalid="true""#),
        "{}",
        refused.html
    );
    assert_eq!(value_of(&refused, "wrap-add-to-queue-delay-minutes"), "90");
    // Add-to-Queue unticked: none.
    assert_redirect(
        &submit(&app, &who, &wpath, &[("campaign_id", &c), ("code", "CB1H"), ("label", "Later")]).await,
        "/config/wrap-codes",
    );
    let stored = app.get(&format!("/wrap-codes/{}", wrap["id"])).await.expect(200);
    assert_eq!((stored["label"].as_str(), &stored["add_to_queue"]), (Some("Later"), &Value::Null));
    assert_redirect(&submit(&app, &who, &format!("{wpath}/delete"), &[]).await, "/config/wrap-codes");
    app.get(&format!("/wrap-codes/{}", wrap["id"])).await.expect_error(404, "not_found");
    assert_redirect(
        &submit(&app, &who, &format!("/config/agents/{}/delete", agent["id"]), &[]).await,
        "/config/agents",
    );
    app.get(&format!("/agents/{}", agent["id"])).await.expect_error(404, "not_found");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_are_created_changed_given_passwords_and_disabled() {
    let app = TestApp::spawn().await;
    let who = admin(&app).await;
    let agent = app.create_agent("jobrien", json!({})).await;
    let c = app.campaign_id().to_string();
    let short =
        submit(&app, &who, "/config/users/new", &[("username", "sam"), ("role", "supervisor"), ("password", "short")])
            .await;
    assert_eq!(short.status.as_u16(), 422);
    assert_eq!(value_of(&short, "user-username"), "sam");
    assert_eq!(value_of(&short, "user-password"), "", "a password is never sent back");
    let made = submit(
        &app,
        &who,
        "/config/users/new",
        &[
            ("username", "sam"),
            ("display_name", "Sam Supervisor"),
            ("timezone", "Asia/Singapore"),
            ("role", "supervisor"),
            ("scope.campaigns", &c),
            ("password", PASSWORD),
        ],
    )
    .await;
    assert_redirect(&made, "/config/users");
    let users = app.get("/users").await.expect(200);
    let sam = users["items"].as_array().unwrap().iter().find(|u| u["username"] == "sam").unwrap().clone();
    assert_eq!((sam["role"].as_str(), sam["timezone"].as_str()), (Some("supervisor"), Some("Asia/Singapore")));
    assert_eq!(sam["scope"], json!({"campaigns": [app.campaign_id()], "queues": []}));
    sign_in(&app, "sam").await;

    // An agent user must name their agent: refused without, stored with.
    let upath = format!("/config/users/{}", sam["id"]);
    let refused = submit(&app, &who, &upath, &[("display_name", "Sam"), ("timezone", "UTC"), ("role", "agent")]).await;
    assert_eq!(refused.status.as_u16(), 422);
    assert!(refused.html.contains(r#"id="user-agent-id" name="agent_id" aria-invalid="true""#), "{}", refused.html);
    let agent_id = agent["id"].to_string();
    let saved = submit(
        &app,
        &who,
        &upath,
        &[("display_name", "Sam"), ("timezone", "UTC"), ("role", "agent"), ("agent_id", &agent_id)],
    )
    .await;
    assert_redirect(&saved, "/config/users");
    let stored = app.get(&format!("/users/{}", sam["id"])).await.expect(200);
    assert_eq!(
        (stored["role"].as_str(), &stored["agent_id"], &stored["scope"]),
        (Some("agent"), &agent["id"], &Value::Null)
    );

    // A new password: the old one stops working.
    let new_password = "another horse battery staple";
    let set = submit(&app, &who, &format!("{upath}/password"), &[("password", new_password)]).await;
    assert_redirect(&set, "/config/users");
    assert_eq!(app.sign_in("sam", PASSWORD).await.status.as_u16(), 401);
    assert_eq!(app.sign_in("sam", new_password).await.status.as_u16(), 200);
    // Disabled: no more signing in.
    let disable = [
        ("display_name", "Sam"),
        ("timezone", "UTC"),
        ("role", "agent"),
        ("agent_id", agent_id.as_str()),
        ("disabled", "on"),
    ];
    assert_redirect(&submit(&app, &who, &upath, &disable).await, "/config/users");
    assert_eq!(app.get(&format!("/users/{}", sam["id"])).await.expect(200)["disabled"], true);
    assert_eq!(app.sign_in("sam", new_password).await.status.as_u16(), 401);
    assert!(get(&app, "/config/users", Some(&who.cookie)).await.html.contains(r#"<tr class="disabled" data-id="#));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tokens_secret_is_shown_once_and_revoking_ends_it() {
    let app = TestApp::spawn().await;
    let who = admin(&app).await;
    let c = app.campaign_id().to_string();
    let answer = submit(
        &app,
        &who,
        "/config/tokens/new",
        &[("name", "ivr-main"), ("role", "supervisor"), ("scope.campaigns", &c), ("expires_at", "2027-01-01")],
    )
    .await;
    assert_eq!(answer.status.as_u16(), 200, "{}", answer.html);
    let secret = value_of(&answer, "token-secret");
    assert!(secret.len() >= 32, "{secret}");
    // The secret works with its role and scope.
    let reply = app.send(Method::GET, "/callbacks", Some(&secret), None).await;
    assert_eq!(reply.status.as_u16(), 200);
    let tokens = app.get("/tokens").await.expect(200);
    let token = tokens["items"].as_array().unwrap().iter().find(|t| t["name"] == "ivr-main").unwrap().clone();
    assert_eq!(
        (token["role"].as_str(), &token["scope"]["campaigns"]),
        (Some("supervisor"), &json!([app.campaign_id()]))
    );
    // Midnight starting 1 January 2027 in the admin's timezone (UTC by default).
    assert_eq!(token["expires_at"], "2027-01-01T00:00:00Z");
    // Never again: not on the list, not on the revoke dialog.
    let listing = get(&app, "/config/tokens", Some(&who.cookie)).await;
    assert!(listing.html.contains("ivr-main") && !listing.html.contains(&secret));
    let revoke_path = format!("/config/tokens/{}/revoke", token["id"]);
    assert!(!get(&app, &revoke_path, Some(&who.cookie)).await.html.contains(&secret));
    // A refused token form keeps its fields.
    let refused =
        submit(&app, &who, "/config/tokens/new", &[("name", "x:y"), ("role", "monitor"), ("expires_at", "2020-01-01")])
            .await;
    assert_eq!(refused.status.as_u16(), 422);
    assert_eq!(value_of(&refused, "token-name"), "x:y");
    assert!(!refused.html.contains("token-secret"));

    assert_redirect(&submit(&app, &who, &revoke_path, &[]).await, "/config/tokens");
    assert_eq!(app.send(Method::GET, "/callbacks", Some(&secret), None).await.status.as_u16(), 401);
    assert!(get(&app, "/config/tokens", Some(&who.cookie)).await.html.contains("Revoked"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn posts_without_the_sessions_csrf_token_change_nothing() {
    let app = TestApp::spawn().await;
    let who = admin(&app).await;
    let (c, q) = (app.campaign_id(), app.queue_id());
    let forged = "0".repeat(64);
    let attempts: [(String, Vec<(&str, &str)>); 6] = [
        (
            format!("/config/queues/{q}"),
            vec![("name", "X"), ("campaign_id", "1"), ("slot_minutes", "15"), ("slot_capacity", "1")],
        ),
        (format!("/config/campaigns/{c}/running"), vec![("running", "false")]),
        (format!("/config/campaigns/{c}/hours"), vec![("mon.start", "01:00"), ("mon.end", "02:00")]),
        (format!("/config/campaigns/{c}/exceptions"), vec![("date", "2026-12-25")]),
        ("/config/tokens/new".to_string(), vec![("name", "stolen"), ("role", "admin")]),
        ("/config/users/new".to_string(), vec![("username", "eve"), ("role", "admin"), ("password", PASSWORD)]),
    ];
    for (path, fields) in &attempts {
        let without = post_form(&app, path, Some(&who.cookie), fields).await;
        let mut with_forged = vec![("csrf_token", forged.as_str())];
        with_forged.extend_from_slice(fields);
        let wrong = post_form(&app, path, Some(&who.cookie), &with_forged).await;
        for refused in [without, wrong] {
            assert_eq!(refused.status.as_u16(), 403, "{path}");
            assert!(refused.html.contains("CSRF"), "{path}: {}", refused.html);
        }
    }
    let campaign = app.get(&format!("/campaigns/{c}")).await.expect(200);
    assert_eq!((&campaign["running"], &campaign["exceptions"]), (&json!(true), &json!([])));
    assert_eq!(campaign["dialling_hours"]["mon"], json!([["09:00", "17:00"]]));
    assert_eq!(app.get(&format!("/queues/{q}")).await.expect(200)["slot_capacity"], 10);
    assert_eq!(app.get("/tokens").await.expect(200)["total"], 1);
    assert_eq!(app.get("/users").await.expect(200)["total"], 1, "only ada");
}
