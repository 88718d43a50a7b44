//! The web console's pages through the real router: signing in and out with forms, the signed-in
//! header, the callbacks list (rows from the API, HTML-escaped, paging), redirects without a
//! session, CSRF on sign-out, the assets and the security headers they all carry.

mod common;

use common::console::{Page, browser, get, post_form, sign_in, sign_in_landing};
use common::{PASSWORD, TestApp};
use rebound_domain::access::Role;
use reqwest::StatusCode;
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_login_page_has_its_form_labels_and_assets_under_the_strict_policy() {
    let app = TestApp::spawn().await;
    let login = get(&app, "/login", None).await;
    assert_eq!(login.status.as_u16(), 200);
    assert!(login.headers["content-type"].to_str().unwrap().starts_with("text/html"));
    for needle in [
        r#"<form id="login" method="post" action="/login">"#,
        r#"<label for="username">"#,
        r#"id="username" name="username""#,
        r#"<label for="password">"#,
        r#"id="password" name="password" type="password""#,
        r#"<button id="sign-in" type="submit">"#,
        r#"href="/assets/console.css""#,
        r#"src="/assets/console.js""#,
    ] {
        assert!(login.html.contains(needle), "missing {needle} in {}", login.html);
    }
    // No inline script or style: the page obeys the same-origin policy it is served with.
    assert!(login.headers["content-security-policy"].to_str().unwrap().contains("script-src 'self'"));
    assert_eq!(login.count("<script"), login.count("<script type=\"module\" src="));
    assert_eq!((login.count("<style"), login.count("style=")), (0, 0));

    let css = get(&app, "/assets/console.css", None).await;
    assert_eq!(css.headers["content-type"], "text/css; charset=utf-8");
    assert_eq!(css.headers["cache-control"], "no-cache");
    assert!(css.html.contains("table#callbacks"));
    let js = get(&app, "/assets/console.js", None).await;
    assert_eq!(js.headers["content-type"], "text/javascript; charset=utf-8");
    assert!(js.html.contains("csrf-token"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_password_re_renders_the_form_and_the_right_one_signs_in() {
    let app = TestApp::spawn().await;
    app.create_user("alice", Role::Supervisor, json!({"display_name": "Alice A."})).await;

    let wrong = post_form(&app, "/login", None, &[("username", "alice"), ("password", "nope")]).await;
    let unknown = post_form(&app, "/login", None, &[("username", "nobody"), ("password", PASSWORD)]).await;
    for refused in [&wrong, &unknown] {
        assert_eq!(refused.status.as_u16(), 401);
        assert!(
            refused.html.contains(r#"<p id="login-error""#) && refused.html.contains(r#"role="alert""#),
            "{}",
            refused.html
        );
        assert!(refused.cookie().is_none());
    }
    // One message for every refusal: the page does not tell which usernames exist.
    let message =
        |p: &Page| p.html.split("id=\"login-error\"").nth(1).unwrap().split("</p>").next().unwrap().to_string();
    assert_eq!(message(&wrong), message(&unknown));
    assert!(wrong.html.contains(r#"value="alice""#), "the username is kept");

    let cookie = sign_in(&app, "alice").await;
    // The same session the API accepts.
    let me = app
        .client
        .get(app.url("/session"))
        .header("cookie", format!("rebound_session={cookie}"))
        .send()
        .await
        .expect("request");
    assert_eq!(me.status().as_u16(), 200);
    assert_eq!(get(&app, "/", Some(&cookie)).await.location(), "/callbacks");
    assert_eq!(get(&app, "/login", Some(&cookie)).await.location(), "/callbacks");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_without_a_session_redirect_to_the_login() {
    let app = TestApp::spawn().await;
    for path in ["/", "/callbacks", "/callbacks?state=QUEUED"] {
        let reply = get(&app, path, None).await;
        assert_eq!((reply.status.as_u16(), reply.location()), (303, "/login"), "{path}");
    }
    let ended = get(&app, "/callbacks", Some(&"0".repeat(64))).await;
    assert_eq!((ended.status.as_u16(), ended.location()), (303, "/login"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_list_shows_the_user_and_the_callbacks_escaped() {
    let app = TestApp::spawn().await;
    app.create_user(
        "alice",
        Role::Supervisor,
        json!({"display_name": "Alice <b>A</b>", "timezone": "America/New_York"}),
    )
    .await;
    let evil = app.create_campaign("<script>alert(1)</script>", "Europe/London", "GB").await;
    let evil_queue = app.create_queue(evil["id"].as_i64().unwrap(), json!({})).await;
    let body = json!({"type": "queue", "campaign_id": evil["id"], "queue_id": evil_queue["id"],
                      "phone": "+442079460001", "notes": "<script>alert(2)</script>",
                      "desired_time": "2026-03-03T15:30:00Z"});
    let created = app.post("/callbacks", body).await.expect(201);
    let plain = app.post("/callbacks", app.queue_callback("+442079460002", json!({}))).await.expect(201);

    let (cookie, landing) = sign_in_landing(&app, "alice").await;
    assert_eq!(landing, "/callbacks", "a supervisor lands on the callbacks");
    let list = get(&app, "/callbacks", Some(&cookie)).await;
    assert_eq!(list.status.as_u16(), 200, "{}", list.html);
    assert!(list.html.contains(r#"<span id="whoami">Alice &lt;b&gt;A&lt;/b&gt;</span>"#), "{}", list.html);
    assert!(list.html.contains(r#"<span id="role">supervisor</span>"#));
    assert!(list.html.contains(r#"<form id="logout" method="post" action="/logout">"#));
    let csrf = list.csrf();
    assert_eq!(csrf.len(), 64);
    assert!(list.html.contains(&format!(r#"<meta name="csrf-token" content="{csrf}">"#)));
    assert!(list.html.contains(r#"<table id="callbacks">"#));
    for id in [&created["id"], &plain["id"]] {
        assert!(list.html.contains(&format!(r#"<tr data-id="{}""#, id.as_str().unwrap())));
    }
    assert!(list.html.contains(r#"<span id="total">2</span>"#));
    assert!(!list.html.contains("<script>alert"), "nothing a client wrote runs");
    assert!(list.html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    // 15:30 UTC in New York (UTC-5), 24-hour clock.
    assert!(list.html.contains("2026-03-03 10:30"), "{}", list.html);
    // The presets start at the user's midnight: 2 March 00:00 in New York is 05:00 UTC.
    assert!(list.html.contains("from=2026-03-02T05%3A00%3A00Z&amp;to=2026-03-03T05%3A00%3A00Z"), "{}", list.html);

    // The query goes to the list service: a filter narrows, a bad one is refused on the page.
    let queued = get(&app, "/callbacks?state=SCHEDULED&phone=020+7946+0001", Some(&cookie)).await;
    assert_eq!(queued.count("<tr data-id="), 1, "{}", queued.html);
    assert!(queued.html.contains(r#"value="020 7946 0001""#));
    let refused = get(&app, "/callbacks?state=LOST", Some(&cookie)).await;
    assert_eq!(refused.status.as_u16(), 422);
    assert!(refused.html.contains(r#"id="page-error""#) && refused.html.contains(r#"id="whoami""#));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signing_out_needs_the_forms_csrf_token_and_ends_the_session() {
    let app = TestApp::spawn().await;
    app.create_user("alice", Role::Supervisor, json!({})).await;
    let cookie = sign_in(&app, "alice").await;
    let csrf = get(&app, "/callbacks", Some(&cookie)).await.csrf();

    let missing = post_form(&app, "/logout", Some(&cookie), &[]).await;
    let forged = post_form(&app, "/logout", Some(&cookie), &[("csrf_token", &"0".repeat(64))]).await;
    for refused in [&missing, &forged] {
        assert_eq!(refused.status.as_u16(), 403);
        assert!(refused.html.contains(r#"id="page-error""#));
    }
    assert_eq!(get(&app, "/callbacks", Some(&cookie)).await.status.as_u16(), 200, "still signed in");

    let out = post_form(&app, "/logout", Some(&cookie), &[("csrf_token", &csrf)]).await;
    assert_eq!((out.status.as_u16(), out.location()), (303, "/login"));
    let cleared = out.headers["set-cookie"].to_str().unwrap();
    assert!(cleared.starts_with("rebound_session=;") && cleared.contains("Max-Age=0"), "{cleared}");
    assert_eq!(get(&app, "/callbacks", Some(&cookie)).await.location(), "/login");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_monitor_sees_no_write_actions() {
    let app = TestApp::spawn().await;
    app.create_user("molly", Role::Monitor, json!({})).await;
    app.post("/callbacks", app.queue_callback("+442079460003", json!({}))).await.expect(201);
    let cookie = sign_in(&app, "molly").await;
    let list = get(&app, "/callbacks", Some(&cookie)).await;
    assert_eq!(list.count("<tr data-id="), 1);
    assert!(list.html.contains(r#"<span id="role">monitor</span>"#), "{}", list.html);
    let forms: Vec<&str> = list.html.match_indices("<form ").map(|(at, _)| &list.html[at..at + 30]).collect();
    assert_eq!(forms.len(), 2, "{forms:?}");
    assert!(forms.iter().all(|f| f.starts_with(r#"<form id="logout""#) || f.starts_with(r#"<form id="quick-search""#)));
    assert_eq!(list.count(r#"method="post""#), 1, "only signing out posts");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn six_hundred_callbacks_page_by_250() {
    let app = TestApp::spawn().await;
    let items: Vec<Value> = (0..600u32).map(|i| app.queue_callback(&format!("+4420794{i:05}"), json!({}))).collect();
    assert_eq!(app.post("/callbacks/import", json!({"items": items})).await.expect(200)["created"], 600);
    app.create_user("alice", Role::Supervisor, json!({})).await;
    let cookie = sign_in(&app, "alice").await;

    let first = get(&app, "/callbacks", Some(&cookie)).await;
    assert_eq!(first.count("<tr data-id="), 250);
    assert!(first.html.contains(r#"<span id="total">600</span>"#));
    assert!(first.html.contains(r#"id="next-page""#) && !first.html.contains(r#"id="prev-page""#));
    let next = first.html.split(r#"id="next-page" rel="next" href=""#).nth(1).unwrap().split('"').next().unwrap();
    let next = next.replace("&amp;", "&");
    assert_eq!(next, "/callbacks?page=2");

    let last = get(&app, "/callbacks?state=SCHEDULED&state=QUEUED&page=3", Some(&cookie)).await;
    assert_eq!(last.count("<tr data-id="), 100);
    assert!(last.html.contains(r#"id="prev-page""#) && !last.html.contains(r#"id="next-page""#));
    assert!(last.html.contains("/callbacks?state=SCHEDULED&amp;state=QUEUED&amp;page=2"), "filters kept");
}

#[tokio::test]
async fn a_wrong_method_on_a_console_page_gets_the_contracts_error_body() {
    let app = TestApp::spawn().await;
    for path in ["/", "/login", "/callbacks"] {
        let response = browser().delete(format!("{}{path}", app.addr)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED, "DELETE {path}");
        let body: Value = response.json().await.unwrap_or(Value::Null);
        assert_eq!(body["error"]["code"], "method_not_allowed", "DELETE {path}: {body}");
    }
    // A refused sign-in is still the page, not a JSON error.
    let refused = post_form(&app, "/login", None, &[("username", "admin"), ("password", "wrong password!")]).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    assert_eq!(refused.count("id=\"login-error\""), 1, "{}", refused.html);
}
