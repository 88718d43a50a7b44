//! The agent view (`/agent`) and the dashboard (`/dashboard`) through the real router: an agent's
//! presence, offer, accept, reject and outcome through the page's forms, their own list only (and
//! only with the permission), other users refused; the dashboard's due-per-slot bars, capacity,
//! ready agents, overdue count and dispatch lag checked against fixtures made through the API.

mod common;

use common::TestApp;
use common::console::{Page, get, post_form, sign_in, sign_in_landing};
use jiff::SignedDuration;
use rebound_domain::access::Role;
use serde_json::{Value, json};

fn id_of(value: &Value) -> i64 {
    value["id"].as_i64().expect("an id")
}

/// An agent callback for `agent_id` in the fixture's campaign, due now.
fn agent_callback(app: &TestApp, agent_id: i64, phone: &str, notes: &str) -> Value {
    json!({"type": "agent", "campaign_id": app.campaign_id(), "agent_id": agent_id, "phone": phone, "notes": notes})
}

/// A user of role agent linked to a new agent of the fixture's queue; (agent id, session cookie).
async fn agent_user(app: &TestApp, username: &str, can_view_list: bool) -> (i64, String) {
    let agent = app.create_agent(username, json!({"can_view_callback_list": can_view_list})).await;
    app.create_user(username, Role::Agent, json!({"agent_id": agent["id"], "timezone": "Europe/London"})).await;
    let (cookie, landing) = sign_in_landing(app, username).await;
    assert_eq!(landing, "/agent", "an agent lands on their own view");
    (id_of(&agent), cookie)
}

/// The value of `attribute` on the element with `id` (the first `id="…"` occurrence).
fn attr_of(page: &Page, id: &str, attribute: &str) -> Option<String> {
    let at = page.html.find(&format!(r#"id="{id}""#))?;
    let start = page.html[..at].rfind('<')?;
    let tag = &page.html[start..start + page.html[start..].find('>')?];
    let value = tag.split(&format!(r#" {attribute}=""#)).nth(1)?;
    Some(value.split('"').next()?.to_string())
}

/// The text inside the element with `id`: tags removed, whitespace collapsed.
fn text_of(page: &Page, id: &str) -> String {
    let html = &page.html;
    let at = html.find(&format!(r#"id="{id}""#)).unwrap_or_else(|| panic!("no #{id} in {html}"));
    let open_at = html[..at].rfind('<').unwrap();
    let name: String = html[open_at + 1..].chars().take_while(|c| c.is_ascii_alphanumeric()).collect();
    let (open, close) = (format!("<{name}"), format!("</{name}>"));
    let inner = at + html[at..].find('>').unwrap() + 1;
    let (mut depth, mut i) = (1, inner);
    let end = loop {
        let next_close = i + html[i..].find(&close).expect("a closing tag");
        match html[i..].find(&open).map(|o| i + o) {
            Some(o) if o < next_close => {
                depth += 1;
                i = o + open.len();
            }
            _ => {
                depth -= 1;
                if depth == 0 {
                    break next_close;
                }
                i = next_close + close.len();
            }
        }
    };
    let mut text = String::new();
    let mut in_tag = false;
    for ch in html[inner..end].chars() {
        match ch {
            '<' => in_tag = true,
            '>' => in_tag = false,
            _ if !in_tag => text.push(ch),
            _ => {}
        }
    }
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The `data-id`s of `table#my-callbacks`' rows.
fn my_rows(page: &Page) -> Vec<String> {
    let Some(table) = page.html.split(r#"<table id="my-callbacks">"#).nth(1) else { return Vec::new() };
    let table = table.split("</table>").next().unwrap();
    table.split(r#"<tr data-id=""#).skip(1).map(|row| row.split('"').next().unwrap().to_string()).collect()
}

async fn callback(app: &TestApp, id: &str) -> Value {
    app.get(&format!("/callbacks/{id}")).await.expect(200)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_goes_ready_rejects_accepts_and_records_an_outcome_through_the_forms() {
    let app = TestApp::spawn().await;
    let (agent_id, cookie) = agent_user(&app, "amy", true).await;

    let page = get(&app, "/agent", Some(&cookie)).await;
    assert_eq!(page.status.as_u16(), 200, "{}", page.html);
    for needle in [
        r#"<form id="presence" method="post" action="/agent/presence">"#,
        r#"id="no-offer""#,
        r#"<table id="my-callbacks">"#,
        r#"id="refresh-offer" href="/agent""#,
    ] {
        assert!(page.html.contains(needle), "missing {needle}");
    }
    assert_eq!(attr_of(&page, "offer", "data-agent-id"), Some(agent_id.to_string()));
    assert_eq!(attr_of(&page, "presence-current", "data-presence").as_deref(), Some("offline"));
    assert_eq!(page.count("style="), 0);
    let csrf = page.csrf();

    // A form without the session's CSRF token changes nothing.
    let forged = post_form(&app, "/agent/presence", Some(&cookie), &[("presence", "ready")]).await;
    assert_eq!(forged.status.as_u16(), 403);
    assert_eq!(app.get(&format!("/agents/{agent_id}")).await.expect(200)["presence"], "offline");

    let ready =
        post_form(&app, "/agent/presence", Some(&cookie), &[("csrf_token", &csrf), ("presence", "ready")]).await;
    assert_eq!((ready.status.as_u16(), ready.location()), (303, "/agent"));
    assert_eq!(app.get(&format!("/agents/{agent_id}")).await.expect(200)["presence"], "ready");
    let bad = post_form(&app, "/agent/presence", Some(&cookie), &[("csrf_token", &csrf), ("presence", "busy")]).await;
    assert_eq!(bad.status.as_u16(), 422);
    assert!(bad.html.contains(r#"class="form-error" role="alert""#), "{}", bad.html);

    // A callback for Amy, made due and offered by the engine.
    let created =
        app.post("/callbacks", agent_callback(&app, agent_id, "020 7946 0555", "Ask for <b>Bea</b>")).await.expect(201);
    let id = created["id"].as_str().unwrap().to_string();
    app.run_engine().await;
    let offered = get(&app, "/agent", Some(&cookie)).await;
    assert_eq!(attr_of(&offered, "offer", "data-offer-id"), Some(id.clone()), "{}", offered.html);
    assert_eq!(attr_of(&offered, "offer", "data-offer-state").as_deref(), Some("ROUTING"));
    assert_eq!(text_of(&offered, "offer-phone"), "+442079460555");
    assert!(offered.html.contains("Ask for &lt;b&gt;Bea&lt;/b&gt;"), "notes shown as text");
    assert_eq!(attr_of(&offered, "offer-seconds", "data-seconds-left").as_deref(), Some("20"));
    assert!(offered.html.contains(&format!(r#"action="/agent/callbacks/{id}/accept""#)));
    assert!(offered.html.contains(r#"<button id="accept" type="submit">"#));
    assert!(offered.html.contains(r#"id="reject""#));

    // Reject: back to QUEUED, not an attempt; offered again at the next pass.
    let rejected =
        post_form(&app, &format!("/agent/callbacks/{id}/reject"), Some(&cookie), &[("csrf_token", &csrf)]).await;
    assert_eq!((rejected.status.as_u16(), rejected.location()), (303, "/agent"), "{}", rejected.html);
    let after = callback(&app, &id).await;
    assert_eq!((after["state"].as_str(), after["attempts"].as_u64()), (Some("QUEUED"), Some(0)));
    app.run_engine().await;
    assert_eq!(callback(&app, &id).await["state"], "ROUTING");

    let accepted =
        post_form(&app, &format!("/agent/callbacks/{id}/accept"), Some(&cookie), &[("csrf_token", &csrf)]).await;
    assert_eq!((accepted.status.as_u16(), accepted.location()), (303, "/agent"), "{}", accepted.html);
    assert_eq!(callback(&app, &id).await["state"], "PROCESSING");
    let processing = get(&app, "/agent", Some(&cookie)).await;
    assert_eq!(attr_of(&processing, "offer", "data-offer-state").as_deref(), Some("PROCESSING"));
    assert_eq!(attr_of(&processing, "presence-current", "data-presence").as_deref(), Some("busy"));
    assert!(
        processing.html.contains(r#"<label for="outcome">"#)
            && processing.html.contains(r#"<select id="outcome" name="outcome""#)
    );
    for outcome in ["connected", "no_answer", "busy", "voicemail", "invalid_number", "failed"] {
        assert!(processing.html.contains(&format!(r#"<option value="{outcome}">"#)), "{outcome}");
    }
    assert!(
        processing.html.contains(r#"<label for="wrap-code">"#)
            && processing.html.contains(r#"<label for="outcome-notes">"#)
    );
    assert!(!processing.html.contains(r#"id="accept""#), "no accept once accepted");

    // An unknown outcome is refused on the page; the callback stays in progress.
    let path = format!("/agent/callbacks/{id}/outcome");
    let refused = post_form(&app, &path, Some(&cookie), &[("csrf_token", &csrf), ("outcome", "maybe")]).await;
    assert_eq!(refused.status.as_u16(), 422);
    assert_eq!(callback(&app, &id).await["state"], "PROCESSING");

    let fields = [("csrf_token", csrf.as_str()), ("outcome", "connected"), ("wrap_code", "SALE"), ("notes", "Sold")];
    let recorded = post_form(&app, &path, Some(&cookie), &fields).await;
    assert_eq!((recorded.status.as_u16(), recorded.location()), (303, "/agent"), "{}", recorded.html);
    let done = callback(&app, &id).await;
    assert_eq!((done["state"].as_str(), done["result"].as_str()), (Some("COMPLETED"), Some("AGENT")));
    assert_eq!(done["wrap_code"], "SALE");
    let events = app.events(&id).await;
    assert!(events.iter().any(|e| e["actor"] == "user:amy"), "the agent's own actions are audited as theirs");

    let after = get(&app, "/agent", Some(&cookie)).await;
    assert!(after.html.contains(r#"id="no-offer""#));
    assert_eq!(my_rows(&after), vec![id]);
    assert_eq!(attr_of(&after, "presence-current", "data-presence").as_deref(), Some("ready"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_sees_only_their_own_offer_and_list_and_the_list_only_with_the_permission() {
    let app = TestApp::spawn().await;
    let (amy, amy_cookie) = agent_user(&app, "amy", true).await;
    let (bob, bob_cookie) = agent_user(&app, "bob", false).await;
    let future = |phone: &str| json!({"desired_time": "2026-03-03T11:00:00Z", "phone": phone});
    let mut amys = Vec::new();
    for phone in ["+442079460601", "+442079460602"] {
        let mut body = agent_callback(&app, amy, phone, "");
        body.as_object_mut().unwrap().extend(future(phone).as_object().cloned().unwrap());
        amys.push(app.post("/callbacks", body).await.expect(201)["id"].as_str().unwrap().to_string());
    }
    let bobs = app.post("/callbacks", agent_callback(&app, bob, "+442079460603", "Bob's")).await.expect(201);
    let bobs = bobs["id"].as_str().unwrap().to_string();
    let queued = app.post("/callbacks", app.queue_callback("+442079460604", json!({}))).await.expect(201);
    let queued = queued["id"].as_str().unwrap().to_string();

    // Bob is offered his callback; Amy sees neither his offer nor his callback anywhere.
    app.presence(bob, "ready").await;
    app.run_engine().await;
    assert_eq!(callback(&app, &bobs).await["state"], "ROUTING");
    let amys_page = get(&app, "/agent", Some(&amy_cookie)).await;
    let mut rows = my_rows(&amys_page);
    rows.sort();
    let mut expected = amys.clone();
    expected.sort();
    assert_eq!(rows, expected, "Amy's list is exactly her callbacks");
    assert!(!amys_page.html.contains(&bobs) && !amys_page.html.contains(&queued), "no one else's callbacks");
    assert!(amys_page.html.contains(r#"id="no-offer""#));

    // Amy cannot answer Bob's offer, even by posting the form herself.
    let csrf = amys_page.csrf();
    for action in ["accept", "reject"] {
        let path = format!("/agent/callbacks/{bobs}/{action}");
        let refused = post_form(&app, &path, Some(&amy_cookie), &[("csrf_token", &csrf)]).await;
        assert!(refused.status.is_client_error(), "{action}: {}", refused.status);
        assert!(refused.html.contains(r#"role="alert""#), "{}", refused.html);
    }
    let still = callback(&app, &bobs).await;
    assert_eq!((still["state"].as_str(), still["offered_to"].as_i64()), (Some("ROUTING"), Some(bob)));

    // Bob sees his offer, but no list: his agent may not open it.
    let bobs_page = get(&app, "/agent", Some(&bob_cookie)).await;
    assert_eq!(attr_of(&bobs_page, "offer", "data-offer-id"), Some(bobs.clone()));
    assert!(bobs_page.html.contains(r#"id="no-list""#), "{}", bobs_page.html);
    assert!(!bobs_page.html.contains(r#"<table id="my-callbacks">"#));
    assert!(amys.iter().all(|id| !bobs_page.html.contains(id.as_str())));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_agent_view_is_for_agents_and_the_dashboard_is_not() {
    let app = TestApp::spawn().await;
    let (_, agent_cookie) = agent_user(&app, "amy", true).await;
    app.create_user("sam", Role::Supervisor, json!({})).await;
    app.create_user("molly", Role::Monitor, json!({})).await;
    let sam = sign_in(&app, "sam").await;
    let molly = sign_in(&app, "molly").await;

    for cookie in [&sam, &molly] {
        let page = get(&app, "/agent", Some(cookie)).await;
        assert_eq!(page.status.as_u16(), 403);
        assert!(text_of(&page, "page-error").contains("linked to an agent"), "{}", page.html);
        assert_eq!(get(&app, "/dashboard", Some(cookie)).await.status.as_u16(), 200);
    }
    let csrf = get(&app, "/dashboard", Some(&sam)).await.csrf();
    let posted = post_form(&app, "/agent/presence", Some(&sam), &[("csrf_token", &csrf), ("presence", "ready")]).await;
    assert_eq!(posted.status.as_u16(), 403);

    let dashboard = get(&app, "/dashboard", Some(&agent_cookie)).await;
    assert_eq!(dashboard.status.as_u16(), 403);
    assert!(!dashboard.html.contains("due-per-slot"));
    // Without a session both redirect to the sign-in.
    for path in ["/agent", "/dashboard"] {
        assert_eq!(get(&app, path, None).await.location(), "/login");
    }
}

/// A bar of the chart: (local start, due, capacity, drawn as over capacity).
fn bars(page: &Page) -> Vec<(String, u32, u32, bool)> {
    let svg = page.html.split(r#"<svg id="due-per-slot""#).nth(1).expect("the chart").split("</svg>").next().unwrap();
    svg.split("<rect ")
        .skip(1)
        .map(|rect| {
            let tag = rect.split('>').next().unwrap();
            let attr =
                |name: &str| tag.split(&format!(r#"{name}=""#)).nth(1).unwrap().split('"').next().unwrap().to_string();
            (
                attr("data-start"),
                attr("data-due").parse().unwrap(),
                attr("data-capacity").parse().unwrap(),
                attr("class") == "due over",
            )
        })
        .collect()
}

fn bar<'a>(all: &'a [(String, u32, u32, bool)], start: &str) -> &'a (String, u32, u32, bool) {
    all.iter().find(|b| b.0 == start).unwrap_or_else(|| panic!("no bar at {start}: {all:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_shows_due_per_slot_against_capacity_ready_agents_overdue_and_lag() {
    let app = TestApp::spawn().await;
    let q1 = app.queue_id();
    let q2 = id_of(&app.create_queue(app.campaign_id(), json!({"name": "Small", "slot_capacity": 2})).await);
    let scheduled = |queue: i64, phone: &str, at: &str| json!({"type": "queue", "campaign_id": app.campaign_id(), "queue_id": queue, "phone": phone, "desired_time": at});
    // Queue 1: one at 10:05 (overdue once the clock passes 10:07), four in the 11:00 slot, one at 14:30.
    let overdue = app.post("/callbacks", scheduled(q1, "+442079460701", "2026-03-02T10:05:00Z")).await.expect(201);
    for (phone, at) in [
        ("+442079460702", "11:00"),
        ("+442079460703", "11:00"),
        ("+442079460704", "11:05"),
        ("+442079460705", "11:14"),
        ("+442079460706", "14:30"),
    ] {
        app.post("/callbacks", scheduled(q1, phone, &format!("2026-03-02T{at}:00Z"))).await.expect(201);
    }
    // Tomorrow's and a cancelled one are not today's load.
    app.post("/callbacks", scheduled(q1, "+442079460707", "2026-03-03T11:00:00Z")).await.expect(201);
    let cancelled = app.post("/callbacks", scheduled(q1, "+442079460708", "2026-03-02T11:00:00Z")).await.expect(201);
    app.post(&format!("/callbacks/{}/cancel", cancelled["id"].as_str().unwrap()), json!({})).await.expect(200);
    // Queue 2: two booked at 12:00, then its capacity cut to 1 — the slot is over capacity.
    for phone in ["+442079460711", "+442079460712"] {
        app.post("/callbacks", scheduled(q2, phone, "2026-03-02T12:00:00Z")).await.expect(201);
    }
    app.patch(&format!("/queues/{q2}"), json!({"slot_capacity": 1})).await.expect(200);
    app.advance(SignedDuration::from_mins(10)); // 10:10: the 10:05 callback is overdue, not yet promoted.

    app.create_user("sam", Role::Supervisor, json!({"timezone": "Europe/London"})).await;
    let sam = sign_in(&app, "sam").await;
    let page = get(&app, &format!("/dashboard?queue_id={q1}"), Some(&sam)).await;
    assert_eq!(page.status.as_u16(), 200, "{}", page.html);
    assert_eq!(page.count("style="), 0, "no inline styles under the CSP");
    assert!(page.html.contains(r#"role="img" aria-label="Callbacks due today for queue"#), "{}", page.html);
    assert!(page.html.contains(r#"<label for="dashboard-queue">"#));
    assert!(page.html.contains(&format!(r#"<option value="{q1}" selected>"#)), "the queue shown is selected");
    let slots = bars(&page);
    // Mon 09:00–17:00 in 15-minute slots.
    assert_eq!(slots.len(), 32);
    assert_eq!((slots[0].0.as_str(), slots[31].0.as_str()), ("09:00", "16:45"));
    assert_eq!(bar(&slots, "10:00"), &("10:00".into(), 1, 10, false));
    assert_eq!(bar(&slots, "11:00"), &("11:00".into(), 4, 10, false));
    assert_eq!(bar(&slots, "14:30"), &("14:30".into(), 1, 10, false));
    assert_eq!(slots.iter().map(|b| b.1).sum::<u32>(), 6);
    assert!(page.html.contains("<title>11:00–11:15: 4 due, capacity 10</title>"), "a tooltip per bar");
    assert!(page.html.contains(r#"<table id="due-per-slot-table">"#));
    assert_eq!(text_of(&page, "overdue-count"), "1");
    assert_eq!(text_of(&page, "ready-agents"), "0");
    assert_eq!(text_of(&page, "due-today"), "6");
    assert_eq!(text_of(&page, "capacity-today"), "320");
    assert!(text_of(&page, "promotion-lag").starts_with("5 min 0 s behind"), "{}", text_of(&page, "promotion-lag"));
    assert_eq!(text_of(&page, "queued-lag"), "None queued");
    assert!(page.html.contains(r#"class="now""#), "now is marked: 10:10 is inside the day's slots");

    // The engine promotes it: no longer overdue, now waiting in QUEUED (no agent is ready).
    app.run_engine().await;
    assert_eq!(callback(&app, overdue["id"].as_str().unwrap()).await["state"], "QUEUED");
    let page = get(&app, &format!("/dashboard?queue_id={q1}"), Some(&sam)).await;
    assert_eq!(text_of(&page, "overdue-count"), "0");
    assert!(text_of(&page, "promotion-lag").starts_with("On time"));
    assert_eq!(text_of(&page, "queued-lag"), "1 queued; the longest became due 5 min 0 s ago");
    assert_eq!(text_of(&page, "mean-lag"), "300.0 s over 1 promotion", "promoted five minutes late");
    assert_eq!(bar(&bars(&page), "10:00").1, 1, "a queued callback is still its slot's load");

    // Ready agents: of the queue shown, or every one in scope.
    let in_q1 = app.create_agent("ann", json!({})).await;
    let in_q2 = app.create_agent("ben", json!({"queues": [q2]})).await;
    app.create_agent("cat", json!({})).await;
    app.presence(id_of(&in_q1), "ready").await;
    app.presence(id_of(&in_q2), "ready").await;
    let page = get(&app, &format!("/dashboard?queue_id={q1}"), Some(&sam)).await;
    assert_eq!(text_of(&page, "ready-agents"), "1");
    assert!(page.html.contains("<title>1 agents ready now</title>"));

    let small = get(&app, &format!("/dashboard?queue_id={q2}"), Some(&sam)).await;
    assert_eq!(bar(&bars(&small), "12:00"), &("12:00".into(), 2, 1, true), "over capacity is drawn so");

    // All queues: hour by hour, both queues summed; hours with neither capacity nor load left out.
    let all = get(&app, "/dashboard", Some(&sam)).await;
    let hours = bars(&all);
    assert_eq!(hours.first().unwrap().0, "09:00");
    assert_eq!(hours.len(), 8);
    assert_eq!(bar(&hours, "11:00"), &("11:00".into(), 4, 4 * 10 + 4, false));
    assert_eq!(bar(&hours, "12:00"), &("12:00".into(), 2, 44, false));
    assert_eq!(text_of(&all, "ready-agents"), "2");
    assert!(all.html.contains(r#"<option value="" selected>All queues in scope</option>"#));

    // In New York the same slots are labelled five hours earlier.
    app.create_user("nina", Role::Monitor, json!({"timezone": "America/New_York"})).await;
    let nina = sign_in(&app, "nina").await;
    let ny = get(&app, &format!("/dashboard?queue_id={q1}"), Some(&nina)).await;
    assert_eq!(bar(&bars(&ny), "06:00").1, 4, "11:00 in London is 06:00 in New York");
    assert!(ny.html.contains("Time (America/New_York)"));

    // A supervisor scoped to queue 2 sees only it.
    app.create_user("sue", Role::Supervisor, json!({"scope": {"queues": [q2]}})).await;
    let sue = sign_in(&app, "sue").await;
    let scoped = get(&app, "/dashboard", Some(&sue)).await;
    assert!(!scoped.html.contains(&format!(r#"<option value="{q1}""#)));
    assert_eq!(bars(&scoped).iter().map(|b| b.1).sum::<u32>(), 2, "only queue 2's load");
    assert_eq!(text_of(&scoped, "overdue-count"), "0");
    assert_eq!(get(&app, &format!("/dashboard?queue_id={q1}"), Some(&sue)).await.status.as_u16(), 404);
    assert_eq!(get(&app, "/dashboard?queue_id=abc", Some(&sue)).await.status.as_u16(), 422);
}
