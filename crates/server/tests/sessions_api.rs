//! Console sessions: signing in and out, the cookie's flags, CSRF on every change made with the
//! cookie, idle and absolute expiry (moved with the manual clock), lockout after repeated failures,
//! the per-client sign-in limit, and one answer for every refused sign-in (no user enumeration).

mod common;

use common::{PASSWORD, TestApp, set_cookie};
use jiff::SignedDuration;
use rebound_domain::access::Role;
use rebound_server::AppConfig;
use reqwest::Method;
use serde_json::json;

fn phone(n: u32) -> String {
    format!("+44207946{n:04}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signing_in_sets_a_strict_http_only_cookie_and_answers_the_user_and_its_csrf_token() {
    let app = TestApp::spawn().await;
    app.create_user("alice", Role::Supervisor, json!({"display_name": "Alice A."})).await;
    let reply = app.sign_in("Alice", PASSWORD).await;
    let cookie_header = reply.headers["set-cookie"].to_str().unwrap().to_string();
    let body = reply.expect(200);
    for flag in ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=43200"] {
        assert!(cookie_header.contains(flag), "{flag} missing: {cookie_header}");
    }
    assert!(!cookie_header.contains("Secure"), "plain HTTP by default: {cookie_header}");
    assert_eq!((body["user"]["username"].as_str(), body["role"].as_str()), (Some("alice"), Some("supervisor")));
    assert_eq!(body["actor"], "user:alice");
    assert!(!body.to_string().contains(PASSWORD) && body["user"].get("password").is_none());

    let session = app.session("alice").await;
    let me = app.send_as(&session, false, Method::GET, "/session", None).await.expect(200);
    assert_eq!(
        (me["user"]["display_name"].as_str(), me["csrf_token"].as_str()),
        (Some("Alice A."), Some(&*session.csrf))
    );
    // A bearer token has no session: who-am-i says so.
    let token_view = app.get("/session").await.expect(200);
    assert_eq!((token_view["user"].clone(), token_view["csrf_token"].clone()), (json!(null), json!(null)));
    assert_eq!(token_view["actor"], app.admin_actor.as_str());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cookie_is_secure_when_the_server_is_configured_for_tls() {
    let app = TestApp::spawn_with(AppConfig { secure_cookies: true, ..AppConfig::default() }).await;
    app.create_user("alice", Role::Monitor, json!({})).await;
    let reply = app.sign_in("alice", PASSWORD).await;
    assert!(reply.headers["set-cookie"].to_str().unwrap().contains("; Secure"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_made_with_the_cookie_are_refused_without_the_csrf_token_and_accepted_with_it() {
    let app = TestApp::spawn().await;
    app.create_user("alice", Role::Supervisor, json!({})).await;
    let session = app.session("alice").await;
    let body = app.queue_callback(&phone(1), json!({}));

    app.send_as(&session, false, Method::POST, "/callbacks", Some(&body)).await.expect_error(403, "csrf");
    let forged = common::ConsoleSession { csrf: "0".repeat(64), ..session.clone() };
    app.send_as(&forged, true, Method::POST, "/callbacks", Some(&body)).await.expect_error(403, "csrf");
    assert_eq!(app.get("/callbacks").await.expect(200)["total"], 0, "nothing was written");

    // Reads need no token; a change with it goes through and names the user.
    app.send_as(&session, false, Method::GET, "/callbacks", None).await.expect(200);
    let created = app.send_as(&session, true, Method::POST, "/callbacks", Some(&body)).await.expect(201);
    assert_eq!(created["created_by"], "user:alice");
    let events = app.events(created["id"].as_str().unwrap()).await;
    assert_eq!(events[0]["actor"], "user:alice");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signing_out_ends_the_session_and_clears_the_cookie() {
    let app = TestApp::spawn().await;
    app.create_user("alice", Role::Monitor, json!({})).await;
    let session = app.session("alice").await;
    app.send_as(&session, false, Method::DELETE, "/session", None).await.expect_error(403, "csrf");
    let out = app.send_as(&session, true, Method::DELETE, "/session", None).await;
    let cleared = out.headers["set-cookie"].to_str().unwrap().to_string();
    out.expect(204);
    assert!(cleared.starts_with("rebound_session=;") && cleared.contains("Max-Age=0"), "{cleared}");
    app.send_as(&session, false, Method::GET, "/session", None).await.expect_error(401, "unauthorized");
    app.send_as(&session, false, Method::GET, "/callbacks", None).await.expect_error(401, "unauthorized");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_session_ends_after_thirty_minutes_and_activity_keeps_it_alive() {
    let app = TestApp::spawn().await;
    app.create_user("alice", Role::Monitor, json!({})).await;
    let session = app.session("alice").await;
    for _ in 0..3 {
        app.advance(SignedDuration::from_mins(29));
        app.send_as(&session, false, Method::GET, "/session", None).await.expect(200);
    }
    app.advance(SignedDuration::from_mins(30));
    app.send_as(&session, false, Method::GET, "/session", None).await.expect_error(401, "unauthorized");
    // The ended session was removed: it stays ended.
    app.send_as(&session, false, Method::GET, "/callbacks", None).await.expect_error(401, "unauthorized");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_ends_twelve_hours_after_sign_in_however_active() {
    let app = TestApp::spawn().await;
    app.create_user("alice", Role::Monitor, json!({})).await;
    let session = app.session("alice").await;
    for _ in 0..(12 * 60 / 20 - 1) {
        app.advance(SignedDuration::from_mins(20));
        app.send_as(&session, false, Method::GET, "/session", None).await.expect(200);
    }
    app.advance(SignedDuration::from_mins(20));
    app.send_as(&session, false, Method::GET, "/session", None).await.expect_error(401, "unauthorized");
    // Signing in again starts a new session.
    let again = app.session("alice").await;
    app.send_as(&again, false, Method::GET, "/session", None).await.expect(200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_wrong_passwords_lock_the_account_for_fifteen_minutes_and_locked_looks_like_wrong() {
    let app = TestApp::spawn().await;
    app.create_user("alice", Role::Monitor, json!({})).await;
    let wrong = app.sign_in("alice", "not the password").await.expect_error(401, "unauthorized");
    for _ in 0..4 {
        assert_eq!(app.sign_in("alice", "not the password").await.expect_error(401, "unauthorized"), wrong);
    }
    // Locked: the right password gets the very same answer.
    assert_eq!(app.sign_in("alice", PASSWORD).await.expect_error(401, "unauthorized"), wrong);
    app.advance(SignedDuration::from_mins(14));
    assert_eq!(app.sign_in("alice", PASSWORD).await.expect_error(401, "unauthorized"), wrong);
    app.advance(SignedDuration::from_mins(1));
    app.sign_in("alice", PASSWORD).await.expect(200);
    // A success clears the count: four more failures do not lock.
    for _ in 0..4 {
        app.sign_in("alice", "not the password").await.expect_error(401, "unauthorized");
    }
    app.sign_in("alice", PASSWORD).await.expect(200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_users_wrong_passwords_and_disabled_users_get_one_answer() {
    let app = TestApp::spawn().await;
    let user = app.create_user("alice", Role::Monitor, json!({})).await;
    app.create_user("bob", Role::Monitor, json!({})).await;
    app.patch(&format!("/users/{}", user["id"]), json!({"disabled": true})).await.expect(200);

    let unknown = app.sign_in("nobody", PASSWORD).await;
    assert!(set_cookie(&unknown).is_none());
    let unknown = unknown.expect_error(401, "unauthorized");
    let wrong = app.sign_in("bob", "not the password").await.expect_error(401, "unauthorized");
    let disabled = app.sign_in("alice", PASSWORD).await.expect_error(401, "unauthorized");
    assert_eq!(unknown, wrong);
    assert_eq!(unknown, disabled);
    // Unreadable requests are 400s, not a way to tell users apart.
    app.send(Method::POST, "/session", None, Some(&json!({"username": "bob"})))
        .await
        .expect_error(400, "invalid_request");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_attempts_are_limited_per_client_address() {
    let app = TestApp::spawn().await;
    app.create_user("alice", Role::Monitor, json!({})).await;
    for n in 0..20 {
        app.sign_in(&format!("guess{n}"), PASSWORD).await.expect_error(401, "unauthorized");
    }
    let limited = app.sign_in("alice", PASSWORD).await;
    let retry_after: u64 = limited.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    limited.expect_error(429, "rate_limited");
    app.advance(SignedDuration::from_secs(60));
    app.sign_in("alice", PASSWORD).await.expect(200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_credentials_the_api_answers_401_and_a_garbage_cookie_too() {
    let app = TestApp::spawn().await;
    app.send(Method::GET, "/campaigns", None, None).await.expect_error(401, "unauthorized");
    let garbage = common::ConsoleSession { cookie: "not-a-session".into(), csrf: "x".into() };
    app.send_as(&garbage, true, Method::GET, "/campaigns", None).await.expect_error(401, "unauthorized");
}
