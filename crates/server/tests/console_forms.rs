//! One callback's console pages and dialogs through the real router (console/callback_forms):
//! details with the queue position and history, create (with available slots), edit (override,
//! timezone choice), reschedule, cancel, recreate, delete and lead details. Each change is checked
//! through the API, as an integration would see it; refusals are checked to change nothing.

mod common;

use common::TestApp;
use common::console::{Page, get, get_fragment, post_form, post_fragment, sign_in};
use jiff::SignedDuration;
use rebound_domain::access::Role;
use rebound_domain::state::Action;
use serde_json::{Value, json};

/// A signed-in console user: the cookie and the CSRF token of the session.
struct Console {
    cookie: String,
    csrf: String,
}

async fn console(app: &TestApp, username: &str, role: Role, timezone: &str) -> Console {
    app.create_user(username, role, json!({"timezone": timezone})).await;
    let cookie = sign_in(app, username).await;
    let csrf = get(app, "/callbacks", Some(&cookie)).await.csrf();
    Console { cookie, csrf }
}

/// A scheduled queue callback in the fixture's queue (Tuesday 3 March, 14:00 London).
async fn scheduled(app: &TestApp, phone: &str) -> String {
    let body = app.queue_callback(phone, json!({"desired_time": "2026-03-03T14:00:00Z"}));
    app.post("/callbacks", body).await.expect(201)["id"].as_str().unwrap().to_string()
}

async fn callback(app: &TestApp, id: &str) -> Value {
    app.get(&format!("/callbacks/{id}")).await.expect(200)
}

/// `fields` with the session's CSRF token added.
fn with_csrf<'a>(console: &'a Console, fields: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut all = vec![("csrf_token", console.csrf.as_str())];
    all.extend_from_slice(fields);
    all
}

/// The text of the element with `id` (up to its first closing tag).
fn text_of<'a>(page: &'a Page, id: &str) -> &'a str {
    let start = page.html.find(&format!("id=\"{id}\"")).unwrap_or_else(|| panic!("no #{id} in {}", page.html));
    let after = &page.html[start..];
    let open = after.find('>').unwrap() + 1;
    &after[open..open + after[open..].find("</").unwrap()]
}

/// The `value`s of the radio buttons named `slot` that can be chosen.
fn slot_values(page: &Page) -> Vec<String> {
    page.html
        .split("<input ")
        .filter(|tag| tag.contains(r#"name="slot""#) && !tag.contains("disabled"))
        .filter_map(|tag| tag.split(r#"value=""#).nth(1)?.split('"').next().map(str::to_string))
        .filter(|value| !value.is_empty())
        .collect()
}

/// [`post_fragment`] of owned values, with the CSRF token.
async fn post_owned(app: &TestApp, console: &Console, path: &str, fields: Vec<(&'static str, String)>) -> Page {
    let pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    post_fragment(app, path, &console.cookie, &with_csrf(console, &pairs)).await
}

fn location(page: &Page) -> &str {
    page.headers.get("x-rebound-location").and_then(|v| v.to_str().ok()).unwrap_or("")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn details_show_names_the_queue_position_and_the_full_history() {
    let app = TestApp::spawn().await;
    let sam = console(&app, "sam", Role::Supervisor, "America/New_York").await;
    let agent = app.create_agent("ada", json!({"name": "Ada Lovelace"})).await;
    app.presence(agent["id"].as_i64().unwrap(), "ready").await;
    let first = app.post("/callbacks", app.queue_callback("+442079460001", json!({}))).await.expect(201);
    let second = app.post("/callbacks", app.queue_callback("+442079460002", json!({}))).await.expect(201);
    app.run_engine().await;
    let second_id = second["id"].as_str().unwrap();
    // The first is offered to the one ready agent; the second waits behind it.
    assert_eq!(callback(&app, second_id).await["state"], "QUEUED");

    let page = get(&app, &format!("/callbacks/{second_id}"), Some(&sam.cookie)).await;
    assert_eq!(page.status.as_u16(), 200, "{}", page.html);
    assert!(page.html.contains(r#"id="whoami""#), "a full page without a dialog's header");
    let api = callback(&app, second_id).await;
    assert_eq!(text_of(&page, "position-in-queue"), api["position_in_queue"].to_string());
    assert!(!text_of(&page, "estimated-wait").is_empty());
    assert!(page.html.contains("London") && page.html.contains(app.queue["name"].as_str().unwrap()), "names, not ids");
    // 10:00 UTC is 05:00 in New York.
    assert!(text_of(&page, "detail-desired").starts_with("2026-03-02 05:00"), "{}", text_of(&page, "detail-desired"));
    let history = page.html.split(r#"<details id="advanced-metrics">"#).nth(1).expect("the advanced metrics toggle");
    assert!(history.starts_with("<summary>Advanced metrics</summary>"));
    assert!(history.contains(r#"<table id="history">"#));
    for action in app.actions(second_id).await {
        assert!(history.contains(&format!(r#"data-action="{action}""#)), "history lacks {action}");
    }
    assert!(history.contains(&app.admin_actor), "who created it");
    assert!(history.contains("SCHEDULED → QUEUED"), "from → to");

    // The first, offered now, is at position 0; as a dialog the page is only its content.
    let fragment = get_fragment(&app, &format!("/callbacks/{}", first["id"].as_str().unwrap()), &sam.cookie).await;
    assert_eq!(fragment.status.as_u16(), 200);
    assert!(!fragment.html.contains("<header") && !fragment.html.contains("<html"));
    assert!(
        fragment
            .html
            .starts_with(r#"<div class="dialog-content"><h2>Callback details</h2><section class="callback-details""#)
    );
    assert_eq!(text_of(&fragment, "position-in-queue"), "being offered now");

    let missing = get(&app, "/callbacks/0190e7a0-0000-7000-8000-000000000000", Some(&sam.cookie)).await;
    assert_eq!(missing.status.as_u16(), 404);
    assert_eq!(get(&app, "/callbacks/not-an-id", Some(&sam.cookie)).await.status.as_u16(), 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_row_menu_offers_what_the_role_and_state_allow() {
    let app = TestApp::spawn().await;
    let list = app.post("/lists", json!({"name": "Leads"})).await.expect(201);
    let lead = app.post("/leads", json!({"list_id": list["id"], "phones": ["+442079460009"]})).await.expect(201);
    let open = scheduled(&app, "+442079460001").await;
    let with_lead =
        app.post("/callbacks", app.queue_callback("+442079460009", json!({"lead_id": lead["id"]}))).await.expect(201);
    let done = scheduled(&app, "+442079460003").await;
    app.post(&format!("/callbacks/{done}/cancel"), json!({})).await.expect(200);

    let menu = |page: &Page, id: &str| {
        let row = page.html.split(&format!(r#"<tr data-id="{id}""#)).nth(1).unwrap().split("</tr>").next().unwrap();
        let mut actions: Vec<String> =
            row.split(r#"class="action-"#).skip(1).map(|s| s.split('"').next().unwrap().to_string()).collect();
        actions.sort();
        actions
    };
    let sam = console(&app, "sam", Role::Supervisor, "Europe/London").await;
    let page = get(&app, "/callbacks", Some(&sam.cookie)).await;
    assert_eq!(menu(&page, &open), ["cancel", "details", "edit", "reschedule"]);
    assert_eq!(menu(&page, &done), ["details", "recreate"]);
    assert_eq!(menu(&page, with_lead["id"].as_str().unwrap()), ["cancel", "details", "edit", "lead", "reschedule"]);
    assert!(
        page.html.contains(&format!(r#"<a class="action-edit" href="/callbacks/{open}/edit" data-dialog>Edit</a>"#))
    );
    assert!(
        page.html.contains(r#"<details class="row-menu"><summary aria-label="Options for callback to +442079460001""#)
    );

    let molly = console(&app, "molly", Role::Monitor, "Europe/London").await;
    let page = get(&app, "/callbacks", Some(&molly.cookie)).await;
    assert_eq!(menu(&page, &open), ["details"]);
    assert_eq!(menu(&page, with_lead["id"].as_str().unwrap()), ["details", "lead"]);

    let ann = console(&app, "ann", Role::Admin, "Europe/London").await;
    let page = get(&app, "/callbacks", Some(&ann.cookie)).await;
    assert_eq!(menu(&page, &done), ["delete", "details", "recreate"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_monitor_reads_details_but_gets_403_for_every_change() {
    let app = TestApp::spawn().await;
    let id = scheduled(&app, "+442079460001").await;
    let molly = console(&app, "molly", Role::Monitor, "Europe/London").await;

    let details = get(&app, &format!("/callbacks/{id}"), Some(&molly.cookie)).await;
    assert_eq!(details.status.as_u16(), 200);
    assert!(!details.html.contains("action-edit") && !details.html.contains("action-cancel"));
    for path in ["/callbacks/new".to_string(), format!("/callbacks/{id}/edit"), format!("/callbacks/{id}/cancel")] {
        let refused = get(&app, &path, Some(&molly.cookie)).await;
        assert_eq!(refused.status.as_u16(), 403, "GET {path}");
        assert!(refused.html.contains(r#"data-status="403""#), "{}", refused.html);
        let posted = post_form(&app, &path, Some(&molly.cookie), &with_csrf(&molly, &[("reason", "no")])).await;
        assert_eq!(posted.status.as_u16(), 403, "POST {path}");
    }
    let as_dialog = get_fragment(&app, &format!("/callbacks/{id}/edit"), &molly.cookie).await;
    assert_eq!(as_dialog.status.as_u16(), 403);
    assert!(as_dialog.html.starts_with(r#"<div class="dialog-content">"#), "refused in the dialog");
    assert_eq!(callback(&app, &id).await["state"], "SCHEDULED");
    assert_eq!(app.actions(&id).await, ["created"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_without_the_sessions_csrf_token_are_refused() {
    let app = TestApp::spawn().await;
    let id = scheduled(&app, "+442079460001").await;
    let sam = console(&app, "sam", Role::Supervisor, "Europe/London").await;
    let forged = "0".repeat(64);
    for (path, fields) in [
        (format!("/callbacks/{id}/cancel"), vec![("reason", "x")]),
        (format!("/callbacks/{id}/reschedule"), vec![("desired_date", "2026-03-04"), ("desired_time", "10:00")]),
        (format!("/callbacks/{id}/edit"), vec![("override", "on"), ("type", "agent")]),
        ("/callbacks/new".to_string(), vec![("phone", "+442079460002"), ("campaign_id", "1")]),
    ] {
        let missing = post_form(&app, &path, Some(&sam.cookie), &fields).await;
        let mut with_forged = fields.clone();
        with_forged.push(("csrf_token", &forged));
        let wrong = post_fragment(&app, &path, &sam.cookie, &with_forged).await;
        for refused in [missing, wrong] {
            assert_eq!(refused.status.as_u16(), 403, "{path}: {}", refused.html);
        }
    }
    assert_eq!(app.actions(&id).await, ["created"], "nothing changed");
    let listed = app.get("/callbacks").await.expect(200);
    assert_eq!(listed["total"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_a_scheduled_callback_in_an_available_slot() {
    let app = TestApp::spawn().await;
    let sam = console(&app, "sam", Role::Supervisor, "America/New_York").await;
    let (campaign, queue) = (app.campaign_id().to_string(), app.queue_id().to_string());
    // One slot already holds a booking.
    app.post("/callbacks", app.queue_callback("+442079460001", json!({"desired_time": "2026-03-03T10:15:00Z"})))
        .await
        .expect(201);

    let form = get_fragment(&app, "/callbacks/new", &sam.cookie).await;
    assert_eq!(form.status.as_u16(), 200, "{}", form.html);
    for needle in [
        r#"<form id="create-callback" method="post" action="/callbacks/new">"#,
        r#"<label for="cb-campaign">"#,
        r#"<label for="cb-queue">"#,
        r#"<label for="cb-agent">"#,
        r#"<label for="cb-phone">"#,
        r#"<label for="cb-lead-name">"#,
        r#"<label for="cb-notes">"#,
        r#"<label for="cb-date">"#,
        r#"<label for="cb-timezone">"#,
        r#"id="cb-when-scheduled""#,
        r#"id="cb-type-agent""#,
        r#"<option value="America/New_York" selected>America/New_York (yours)</option>"#,
    ] {
        assert!(form.html.contains(needle), "missing {needle}");
    }

    let base = [
        ("when", "scheduled"),
        ("type", "queue"),
        ("campaign_id", campaign.as_str()),
        ("queue_id", queue.as_str()),
        ("phone", "020 7946 0002"),
        ("notes", "call about the order"),
        ("desired_date", "2026-03-03"),
        ("timezone", "Europe/London"),
        ("return_to", "/callbacks?state=SCHEDULED"),
    ];
    let mut ask = base.to_vec();
    ask.push(("step", "slots"));
    let slots = post_fragment(&app, "/callbacks/new", &sam.cookie, &with_csrf(&sam, &ask)).await;
    assert_eq!(slots.status.as_u16(), 200, "{}", slots.html);
    let values = slot_values(&slots);
    // Tuesday 09:00–17:00 London in 15-minute slots.
    assert_eq!(values.len(), 32, "{values:?}");
    assert_eq!(values[4], "2026-03-03T10:00:00Z");
    assert!(slots.html.contains("9 of 10 left"), "the booked slot shows what is left");
    assert!(
        slots.html.contains(r#"value="call about the order""#)
            || slots.html.contains(">call about the order</textarea>")
    );
    assert_eq!(app.get("/callbacks").await.expect(200)["total"], 1, "showing slots creates nothing");

    let mut create = base.to_vec();
    create.push(("slot", "2026-03-03T10:00:00Z"));
    let done = post_fragment(&app, "/callbacks/new", &sam.cookie, &with_csrf(&sam, &create)).await;
    assert_eq!(done.status.as_u16(), 204, "{}", done.html);
    assert_eq!(location(&done), "/callbacks?state=SCHEDULED");
    let found = app.get("/callbacks?phone=02079460002").await.expect(200);
    let made = &found["items"][0];
    assert_eq!(made["desired_time"], "2026-03-03T10:00:00Z");
    assert_eq!((made["origin"].as_str(), made["type"].as_str()), (Some("scheduled"), Some("queue")));
    assert_eq!(made["notes"], "call about the order");
    assert_eq!(made["created_by"], "user:sam");
    assert_eq!(made["slot_start"], "2026-03-03T10:00:00Z");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_immediate_and_with_a_named_lead_then_redirect_without_a_dialog() {
    let app = TestApp::spawn().await;
    let sam = console(&app, "sam", Role::Supervisor, "Europe/London").await;
    let list = app.post("/lists", json!({"name": "Walk-ins"})).await.expect(201);
    let (campaign, queue, list_id) =
        (app.campaign_id().to_string(), app.queue_id().to_string(), list["id"].to_string());
    let fields = [
        ("when", "immediate"),
        ("type", "queue"),
        ("campaign_id", campaign.as_str()),
        ("queue_id", queue.as_str()),
        ("phone", "020 7946 0005"),
        ("lead_name", "Grace Hopper"),
        ("list_id", list_id.as_str()),
        // A date typed for an immediate callback is not used.
        ("desired_date", "2026-03-09"),
        ("desired_time", "10:00"),
    ];
    let done = post_form(&app, "/callbacks/new", Some(&sam.cookie), &with_csrf(&sam, &fields)).await;
    assert_eq!((done.status.as_u16(), done.location()), (303, "/callbacks"), "{}", done.html);
    let made = &app.get("/callbacks?phone=02079460005").await.expect(200)["items"][0];
    assert_eq!((made["origin"].as_str(), made["desired_time"].as_str()), (Some("immediate"), Some(common::START)));
    let lead = app.get(&format!("/leads/{}", made["lead_id"])).await.expect(200);
    assert_eq!((lead["name"].as_str(), lead["list_id"].as_i64()), (Some("Grace Hopper"), list["id"].as_i64()));
    assert_eq!(lead["phones"], json!(["+442079460005"]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_create_shows_the_error_and_keeps_what_was_typed() {
    let app = TestApp::spawn().await;
    let sam = console(&app, "sam", Role::Supervisor, "Europe/London").await;
    let (campaign, queue) = (app.campaign_id().to_string(), app.queue_id().to_string());
    let list = app.post("/lists", json!({"name": "Walk-ins"})).await.expect(201)["id"].to_string();
    let bad_phone = [
        ("when", "immediate"),
        ("type", "queue"),
        ("campaign_id", campaign.as_str()),
        ("queue_id", queue.as_str()),
        ("list_id", list.as_str()),
        ("phone", "12"),
        ("lead_name", "Ada <b>L</b>"),
        ("notes", "keep me"),
    ];
    let refused = post_fragment(&app, "/callbacks/new", &sam.cookie, &with_csrf(&sam, &bad_phone)).await;
    assert_eq!(refused.status.as_u16(), 422, "{}", refused.html);
    assert!(
        refused.html.contains(r#"data-status="422""#) && refused.html.contains(r#"data-field="phone""#),
        "{}",
        refused.html
    );
    assert!(refused.html.contains(r#"id="cb-phone" name="phone" type="tel" inputmode="tel" required value="12""#));
    assert!(refused.html.contains(r#"value="Ada &lt;b&gt;L&lt;/b&gt;""#), "kept, escaped");
    assert!(refused.html.contains(">keep me</textarea>"));

    let no_time = [
        ("when", "scheduled"),
        ("type", "queue"),
        ("campaign_id", campaign.as_str()),
        ("queue_id", queue.as_str()),
        ("phone", "020 7946 0006"),
    ];
    let refused = post_fragment(&app, "/callbacks/new", &sam.cookie, &with_csrf(&sam, &no_time)).await;
    assert_eq!(app.get("/leads").await.expect(200)["total"], 0, "a refused create leaves no lead behind");
    assert_eq!(refused.status.as_u16(), 422);
    assert!(refused.html.contains(r#"data-field="desired_time""#), "{}", refused.html);
    assert!(refused.html.contains(r#"id="cb-when-scheduled" type="radio" name="when" value="scheduled" checked"#));

    // A duplicate is the service's 409, naming the callback that exists.
    app.post("/callbacks", app.queue_callback("+442079460007", json!({}))).await.expect(201);
    let duplicate = [
        ("when", "immediate"),
        ("type", "queue"),
        ("campaign_id", campaign.as_str()),
        ("queue_id", queue.as_str()),
        ("phone", "020 7946 0007"),
    ];
    let refused = post_fragment(&app, "/callbacks/new", &sam.cookie, &with_csrf(&sam, &duplicate)).await;
    assert_eq!(refused.status.as_u16(), 409);
    assert!(refused.html.contains(r#"data-code="duplicate_callback""#), "{}", refused.html);
    assert_eq!(app.get("/callbacks").await.expect(200)["total"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_edit_page_shows_the_call_details_in_my_timezone() {
    let app = TestApp::spawn().await;
    let id = app.post("/callbacks", app.queue_callback("+442079460001", json!({}))).await.expect(201)["id"]
        .as_str()
        .unwrap()
        .to_string();
    app.advance(SignedDuration::from_hours(1));
    let sam = console(&app, "sam", Role::Supervisor, "America/New_York").await;

    let page = get_fragment(&app, &format!("/callbacks/{id}/edit"), &sam.cookie).await;
    assert_eq!(page.status.as_u16(), 200, "{}", page.html);
    assert!(text_of(&page, "edit-campaign").contains("Running"), "running indicator");
    assert!(page.html.contains("Outbound"));
    assert!(text_of(&page, "edit-state").contains("SCHEDULED"));
    // London's Monday 09:00–17:00 is 04:00–12:00 in New York.
    assert_eq!(text_of(&page, "dialling-today"), "04:00–12:00");
    assert!(text_of(&page, "lead-info").contains("+442079460001"));
    assert_eq!(text_of(&page, "next-time"), "2026-03-02 05:00");
    assert!(page.html.contains(r#"<p class="alert" id="past-alert" role="alert">"#), "the time is past: {}", page.html);
    assert!(page.html.contains(r#"<input id="override" type="checkbox" name="override" value="on" aria-controls="override-fields" data-override>"#));
    assert!(page.html.contains(r#"<fieldset id="override-fields">"#));
    // Each timezone choice names its zone; the lead's is inferred from the London number.
    let choice = page.html.split(r#"<select id="timezone-choice""#).nth(1).unwrap().split("</select>").next().unwrap();
    for zone in
        ["Lead timezone — Europe/London", "Campaign timezone — Europe/London", "Your timezone — America/New_York"]
    {
        assert!(choice.contains(zone), "{zone} in {choice}");
    }
    assert!(choice.contains(r#"value="agent" disabled"#) && choice.contains("agent callbacks only"));
    assert!(choice.contains(r#"value="mine" selected"#));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edit_without_override_changes_nothing() {
    let app = TestApp::spawn().await;
    let sam = console(&app, "sam", Role::Supervisor, "Europe/London").await;
    let id = scheduled(&app, "+442079460001").await;
    let before = callback(&app, &id).await;
    let fields = [
        ("type", "queue"),
        ("queue_id", ""),
        ("notes", "changed"),
        ("timezone_choice", "campaign"),
        ("desired_date", "2026-03-05"),
        ("desired_time", "11:00"),
    ];
    let page = post_fragment(&app, &format!("/callbacks/{id}/edit"), &sam.cookie, &with_csrf(&sam, &fields)).await;
    assert_eq!(page.status.as_u16(), 200, "{}", page.html);
    assert!(text_of(&page, "form-notice").contains("Override existing details"));
    assert!(page.html.contains(">changed</textarea>"), "what was typed is kept");
    assert_eq!(callback(&app, &id).await, before);
    assert_eq!(app.actions(&id).await, ["created"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edit_reads_the_time_in_the_chosen_timezone() {
    let app = TestApp::spawn().await;
    let sam = console(&app, "sam", Role::Supervisor, "America/New_York").await;
    let agent = app.create_agent("ada", json!({"name": "Ada", "timezone": "Asia/Singapore"})).await;
    let id = scheduled(&app, "+442079460001").await;
    let path = format!("/callbacks/{id}/edit");
    let (campaign, queue, agent_id) =
        (app.campaign_id().to_string(), app.queue_id().to_string(), agent["id"].to_string());
    let edit =
        |choice: &'static str, date: &'static str, time: &'static str, kind: &'static str, notes: &'static str| {
            vec![
                ("override", "on".to_string()),
                ("campaign_id", campaign.clone()),
                ("queue_id", queue.clone()),
                ("type", kind.to_string()),
                ("agent_id", agent_id.clone()),
                ("timezone_choice", choice.to_string()),
                ("desired_date", date.to_string()),
                ("desired_time", time.to_string()),
                ("notes", notes.to_string()),
            ]
        };
    let send = |fields: Vec<(&'static str, String)>| post_owned(&app, &sam, &path, fields);

    // 10:00 in the campaign's zone (London, GMT in March) is 10:00 UTC.
    let done = send(edit("campaign", "2026-03-05", "10:00", "queue", "")).await;
    assert_eq!(done.status.as_u16(), 204, "{}", done.html);
    assert_eq!(callback(&app, &id).await["desired_time"], "2026-03-05T10:00:00Z");
    let rescheduled = app.events(&id).await.pop().unwrap();
    assert_eq!(
        (rescheduled["action"].as_str(), rescheduled["actor"].as_str()),
        (Some("rescheduled"), Some("user:sam"))
    );
    assert_eq!(rescheduled["details"]["timezone_source"], "campaign");

    // 10:00 in mine (New York, UTC-5) is 15:00 UTC.
    let done = send(edit("mine", "2026-03-05", "10:00", "queue", "")).await;
    assert_eq!(done.status.as_u16(), 204, "{}", done.html);
    assert_eq!(callback(&app, &id).await["desired_time"], "2026-03-05T15:00:00Z");

    // The time as "mine" shows it is no change: only the type, agent and notes change.
    let done = send(edit("mine", "2026-03-05", "10:00", "agent", "ask for Ada")).await;
    assert_eq!(done.status.as_u16(), 204, "{}", done.html);
    let edited = callback(&app, &id).await;
    assert_eq!((edited["type"].as_str(), edited["agent_id"].as_i64()), (Some("agent"), agent["id"].as_i64()));
    assert_eq!(
        (edited["notes"].as_str(), edited["desired_time"].as_str()),
        (Some("ask for Ada"), Some("2026-03-05T15:00:00Z"))
    );
    assert_eq!(app.actions(&id).await, ["created", "rescheduled", "rescheduled", "edited"]);

    // Now an agent callback: 18:00 in the agent's zone (Singapore, UTC+8) is 10:00 UTC.
    let done = send(edit("agent", "2026-03-05", "18:00", "agent", "ask for Ada")).await;
    assert_eq!(done.status.as_u16(), 204, "{}", done.html);
    assert_eq!(callback(&app, &id).await["desired_time"], "2026-03-05T10:00:00Z");

    // A time in the past is the service's 422, shown with the field; the values are kept.
    let refused = send(edit("campaign", "2026-03-01", "10:00", "agent", "ask for Ada")).await;
    assert_eq!(refused.status.as_u16(), 422, "{}", refused.html);
    assert!(refused.html.contains(r#"data-field="desired_time""#));
    assert!(refused.html.contains(r#"value="2026-03-01""#) && refused.html.contains(r#"value="campaign" selected"#));
    assert_eq!(callback(&app, &id).await["desired_time"], "2026-03-05T10:00:00Z");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edit_of_a_completed_callback_is_the_services_409() {
    let app = TestApp::spawn().await;
    let sam = console(&app, "sam", Role::Supervisor, "Europe/London").await;
    let id = scheduled(&app, "+442079460001").await;
    app.post(&format!("/callbacks/{id}/cancel"), json!({})).await.expect(200);
    let queue = app.queue_id().to_string();
    let fields = [("override", "on"), ("type", "queue"), ("queue_id", queue.as_str()), ("notes", "too late")];
    let refused = post_fragment(&app, &format!("/callbacks/{id}/edit"), &sam.cookie, &with_csrf(&sam, &fields)).await;
    assert_eq!(refused.status.as_u16(), 409, "{}", refused.html);
    assert!(refused.html.contains(r#"data-code="illegal_transition""#));
    assert!(refused.html.contains(">too late</textarea>"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reschedule_into_a_slot_and_409_when_not_scheduled() {
    let app = TestApp::spawn().await;
    let sam = console(&app, "sam", Role::Supervisor, "Europe/London").await;
    let id = scheduled(&app, "+442079460001").await;
    let path = format!("/callbacks/{id}/reschedule");

    let page = get_fragment(&app, &path, &sam.cookie).await;
    assert_eq!(page.status.as_u16(), 200);
    assert_eq!(text_of(&page, "current-time"), "2026-03-03 14:00");
    assert!(page.html.contains(r#"value="2026-03-03""#) && page.html.contains(r#"value="14:00""#), "prefilled");

    let ask = [("timezone_choice", "mine"), ("desired_date", "2026-03-04"), ("step", "slots")];
    let slots = post_fragment(&app, &path, &sam.cookie, &with_csrf(&sam, &ask)).await;
    let values = slot_values(&slots);
    assert!(values.contains(&"2026-03-04T11:30:00Z".to_string()), "{values:?}");
    let pick = [("timezone_choice", "mine"), ("desired_date", "2026-03-04"), ("slot", "2026-03-04T11:30:00Z")];
    let done = post_fragment(&app, &path, &sam.cookie, &with_csrf(&sam, &pick)).await;
    assert_eq!(done.status.as_u16(), 204, "{}", done.html);
    assert_eq!(location(&done), "/callbacks");
    let moved = callback(&app, &id).await;
    assert_eq!(
        (moved["desired_time"].as_str(), moved["slot_start"].as_str()),
        (Some("2026-03-04T11:30:00Z"), Some("2026-03-04T11:30:00Z"))
    );

    // A queued callback cannot be rescheduled: the page says so, the service answers 409.
    let queued = app.post("/callbacks", app.queue_callback("+442079460002", json!({}))).await.expect(201);
    let queued = queued["id"].as_str().unwrap();
    app.drive(queued, &[Action::Promote]).await;
    let path = format!("/callbacks/{queued}/reschedule");
    assert!(get(&app, &path, Some(&sam.cookie)).await.html.contains("Only a SCHEDULED callback can be rescheduled"));
    let fields = [("timezone_choice", "campaign"), ("desired_date", "2026-03-04"), ("desired_time", "12:00")];
    let refused = post_fragment(&app, &path, &sam.cookie, &with_csrf(&sam, &fields)).await;
    assert_eq!(refused.status.as_u16(), 409, "{}", refused.html);
    assert!(refused.html.contains(r#"data-status="409""#) && refused.html.contains(r#"value="12:00""#));
    assert_eq!(callback(&app, queued).await["state"], "QUEUED");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_recreate_and_delete_confirm_then_return() {
    let app = TestApp::spawn().await;
    let sam = console(&app, "sam", Role::Supervisor, "Europe/London").await;
    let id = scheduled(&app, "+442079460001").await;

    let page = get_fragment(&app, &format!("/callbacks/{id}/cancel"), &sam.cookie).await;
    assert!(page.html.contains(r#"<label for="cb-reason">"#) && page.html.contains(r#"id="confirm-cancel""#));
    let fields = [("reason", "customer called in"), ("return_to", "/callbacks?page=2")];
    let done = post_fragment(&app, &format!("/callbacks/{id}/cancel"), &sam.cookie, &with_csrf(&sam, &fields)).await;
    assert_eq!((done.status.as_u16(), location(&done)), (204, "/callbacks?page=2"), "{}", done.html);
    let cancelled = callback(&app, &id).await;
    assert_eq!(
        (cancelled["state"].as_str(), cancelled["result"].as_str()),
        (Some("COMPLETED"), Some("CANCELLED_BY_ADMIN"))
    );
    let event = app.events(&id).await.pop().unwrap();
    assert_eq!(
        (event["actor"].as_str(), event["details"]["reason"].as_str()),
        (Some("user:sam"), Some("customer called in"))
    );
    // Cancelling it again is the service's 409.
    let again = post_fragment(&app, &format!("/callbacks/{id}/cancel"), &sam.cookie, &with_csrf(&sam, &[])).await;
    assert_eq!(again.status.as_u16(), 409);
    assert!(again.html.contains(r#"data-code="illegal_transition""#));

    // Recreate at a time in the campaign's zone.
    let fields = [
        ("when", "scheduled"),
        ("desired_date", "2026-03-06"),
        ("desired_time", "09:30"),
        ("timezone", "Europe/London"),
    ];
    let done = post_fragment(&app, &format!("/callbacks/{id}/recreate"), &sam.cookie, &with_csrf(&sam, &fields)).await;
    assert_eq!(done.status.as_u16(), 204, "{}", done.html);
    let original = callback(&app, &id).await;
    let new_id = original["recreated_as"].as_str().expect("linked to the new callback");
    let recreated = callback(&app, new_id).await;
    assert_eq!(
        (recreated["desired_time"].as_str(), recreated["origin"].as_str()),
        (Some("2026-03-06T09:30:00Z"), Some("recreated"))
    );
    let twice = post_fragment(&app, &format!("/callbacks/{id}/recreate"), &sam.cookie, &with_csrf(&sam, &[])).await;
    assert_eq!(twice.status.as_u16(), 409);

    // Deleting is for admins.
    let refused = post_fragment(&app, &format!("/callbacks/{new_id}/delete"), &sam.cookie, &with_csrf(&sam, &[])).await;
    assert_eq!(refused.status.as_u16(), 403);
    let ann = console(&app, "ann", Role::Admin, "Europe/London").await;
    let page = get(&app, &format!("/callbacks/{new_id}/delete"), Some(&ann.cookie)).await;
    assert!(page.html.contains(r#"id="confirm-delete""#));
    let done = post_form(&app, &format!("/callbacks/{new_id}/delete"), Some(&ann.cookie), &with_csrf(&ann, &[])).await;
    assert_eq!((done.status.as_u16(), done.location()), (303, "/callbacks"));
    app.get(&format!("/callbacks/{new_id}")).await.expect(404);
    assert_eq!(app.actions(new_id).await.last().map(String::as_str), Some("deleted"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lead_details_show_the_contact_and_its_callbacks() {
    let app = TestApp::spawn().await;
    let sam = console(&app, "sam", Role::Monitor, "Europe/London").await;
    let list = app.post("/lists", json!({"name": "Renewals", "fields": ["account_no"]})).await.expect(201);
    app.patch(&format!("/campaigns/{}", app.campaign_id()), json!({"lists": [list["id"]]})).await.expect(200);
    let lead = app
        .post(
            "/leads",
            json!({"list_id": list["id"], "name": "Grace <i>Hopper</i>", "phones": ["+442079460011", "+442079460012"],
                   "timezone": "Europe/Dublin", "data": {"account_no": "A-17"}}),
        )
        .await
        .expect(201);
    let mine =
        app.post("/callbacks", app.queue_callback("+442079460012", json!({"lead_id": lead["id"]}))).await.expect(201);
    // Same number, no lead: not this lead's callback.
    let other = app.post("/callbacks", app.queue_callback("+442079460011", json!({}))).await.expect(201);

    let page = get_fragment(&app, &format!("/leads/{}", lead["id"]), &sam.cookie).await;
    assert_eq!(page.status.as_u16(), 200, "{}", page.html);
    assert_eq!(text_of(&page, "lead-name"), "Grace &lt;i&gt;Hopper&lt;/i&gt;");
    assert_eq!(text_of(&page, "lead-phone-1"), "+442079460011");
    assert_eq!(text_of(&page, "lead-phone-2"), "+442079460012");
    assert_eq!(text_of(&page, "lead-phone-3"), "—");
    assert_eq!(text_of(&page, "lead-timezone"), "Europe/Dublin");
    assert_eq!(text_of(&page, "lead-list"), "Renewals");
    assert!(page.html.contains("A-17") && page.html.contains("London"));
    assert!(page.html.contains(&format!(r#"<tr data-id="{}""#, mine["id"].as_str().unwrap())));
    assert!(!page.html.contains(other["id"].as_str().unwrap()));
    assert_eq!(get(&app, "/leads/999", Some(&sam.cookie)).await.status.as_u16(), 404);
    // The callback's details link to the lead.
    let details = get(&app, &format!("/callbacks/{}", mine["id"].as_str().unwrap()), Some(&sam.cookie)).await;
    assert!(details.html.contains(&format!(r#"<a href="/leads/{}" data-dialog>"#, lead["id"])));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_slot_is_refused_with_the_nearest_free_ones_to_choose_from() {
    let app = TestApp::spawn().await;
    let sam = console(&app, "sam", Role::Supervisor, "Europe/London").await;
    let small = app.create_queue(app.campaign_id(), json!({"slot_capacity": 1})).await;
    let in_small = |phone: &str, at: &str| json!({"type": "queue", "campaign_id": app.campaign_id(), "queue_id": small["id"], "phone": phone, "desired_time": at});
    app.post("/callbacks", in_small("+442079460001", "2026-03-04T10:00:00Z")).await.expect(201);
    let id = app.post("/callbacks", in_small("+442079460002", "2026-03-03T14:00:00Z")).await.expect(201)["id"]
        .as_str()
        .unwrap()
        .to_string();
    let path = format!("/callbacks/{id}/reschedule");

    let full = [("timezone_choice", "campaign"), ("desired_date", "2026-03-04"), ("desired_time", "10:05")];
    let refused = post_fragment(&app, &path, &sam.cookie, &with_csrf(&sam, &full)).await;
    assert_eq!(refused.status.as_u16(), 409, "{}", refused.html);
    assert!(refused.html.contains(r#"data-code="slot_full""#));
    assert!(refused.html.contains("the nearest free ones (Europe/London)"), "{}", refused.html);
    let proposed = slot_values(&refused);
    assert!(proposed.contains(&"2026-03-04T10:15:00Z".to_string()), "{proposed:?}");
    assert!(!proposed.contains(&"2026-03-04T10:00:00Z".to_string()), "the full one is not proposed");

    let pick = [("timezone_choice", "campaign"), ("slot", "2026-03-04T10:15:00Z")];
    let done = post_fragment(&app, &path, &sam.cookie, &with_csrf(&sam, &pick)).await;
    assert_eq!(done.status.as_u16(), 204, "{}", done.html);
    assert_eq!(callback(&app, &id).await["slot_start"], "2026-03-04T10:15:00Z");
}
