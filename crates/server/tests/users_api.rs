//! Users and API tokens through the API: creating, listing, reading and changing users (passwords
//! are write-only), what disabling and a new password do to sessions, token scopes, revocation and
//! the recorded last use.

mod common;

use common::{PASSWORD, TestApp};
use jiff::SignedDuration;
use rebound_domain::access::Role;
use reqwest::Method;
use serde_json::{Value, json};

/// Waits (boundedly) until the token's `last_used_at` equals `expected`: it is written off the
/// request path, so it lands a moment after the request.
async fn last_used_at(app: &TestApp, token_id: i64, expected: &Value) -> Value {
    let mut seen = Value::Null;
    for _ in 0..500 {
        let tokens = app.get("/tokens").await.expect(200);
        seen =
            tokens["items"].as_array().unwrap().iter().find(|t| t["id"] == token_id).unwrap()["last_used_at"].clone();
        if &seen == expected {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admins_create_list_read_and_change_users_and_passwords_are_never_answered() {
    let app = TestApp::spawn().await;
    let agent = app.create_agent("ann", json!({})).await;
    let created = app
        .create_user(
            "ann",
            Role::Agent,
            json!({"display_name": "Ann", "timezone": "Europe/London", "agent_id": agent["id"],
                   "scope": {"campaigns": [app.campaign_id()]}}),
        )
        .await;
    assert_eq!(
        (
            created["username"].as_str(),
            created["role"].as_str(),
            created["agent_id"].clone(),
            created["disabled"].clone()
        ),
        (Some("ann"), Some("agent"), agent["id"].clone(), json!(false))
    );
    assert_eq!(created["scope"], json!({"campaigns": [app.campaign_id()], "queues": []}));
    let id = created["id"].as_i64().unwrap();

    let listed = app.get("/users").await.expect(200);
    let got = app.get(&format!("/users/{id}")).await.expect(200);
    for body in [&created, &listed, &got] {
        let text = body.to_string();
        assert!(!text.contains(PASSWORD) && !text.contains("argon2") && !text.contains("password"), "{text}");
    }
    assert_eq!(listed["total"], 1);
    assert_eq!(got, created);

    let changed = app
        .patch(
            &format!("/users/{id}"),
            json!({"display_name": "Ann Lee", "role": "monitor", "agent_id": null, "scope": null}),
        )
        .await
        .expect(200);
    assert_eq!((changed["display_name"].as_str(), changed["role"].as_str()), (Some("Ann Lee"), Some("monitor")));
    assert_eq!((changed["agent_id"].clone(), changed["scope"].clone()), (json!(null), json!(null)));

    // The rules.
    let bad: Vec<(Value, u16, &str)> = vec![
        (json!({"username": "ANN", "role": "monitor", "password": PASSWORD}), 409, "conflict"),
        (json!({"username": "bob", "role": "monitor", "password": "short"}), 422, "validation_failed"),
        (json!({"username": "bob", "role": "agent", "password": PASSWORD}), 422, "validation_failed"),
        (
            json!({"username": "bob", "role": "supervisor", "agent_id": agent["id"], "password": PASSWORD}),
            422,
            "validation_failed",
        ),
        (
            json!({"username": "bob", "role": "admin", "scope": {"campaigns": [app.campaign_id()]}, "password": PASSWORD}),
            422,
            "validation_failed",
        ),
        (
            json!({"username": "bob", "role": "monitor", "scope": {"campaigns": [999]}, "password": PASSWORD}),
            422,
            "unknown_reference",
        ),
        (json!({"username": "bob", "role": "monitor", "scope": {}, "password": PASSWORD}), 422, "validation_failed"),
        (json!({"username": "b o b", "role": "monitor", "password": PASSWORD}), 422, "validation_failed"),
        (
            json!({"username": "bob", "role": "monitor", "timezone": "Mars/Base", "password": PASSWORD}),
            422,
            "invalid_timezone",
        ),
        (
            json!({"username": "bob", "role": "monitor", "password": PASSWORD, "password_hash": "x"}),
            400,
            "unknown_field",
        ),
    ];
    for (body, status, code) in bad {
        app.post("/users", body.clone()).await.expect_error(status, code);
    }
    app.patch(&format!("/users/{id}"), json!({"password": "short"})).await.expect_error(422, "validation_failed");
    app.get("/users/999").await.expect_error(404, "not_found");
    assert_eq!(app.get("/users").await.expect(200)["total"], 1, "nothing refused was stored");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_password_ends_the_users_sessions_and_replaces_the_old_one() {
    let app = TestApp::spawn().await;
    let user = app.create_user("alice", Role::Monitor, json!({})).await;
    let session = app.session("alice").await;
    let new_password = "a different long password";
    app.patch(&format!("/users/{}", user["id"]), json!({"password": new_password})).await.expect(200);
    app.send_as(&session, false, Method::GET, "/session", None).await.expect_error(401, "unauthorized");
    app.sign_in("alice", PASSWORD).await.expect_error(401, "unauthorized");
    app.sign_in("alice", new_password).await.expect(200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disabling_a_user_ends_their_sessions_and_enabling_lets_them_sign_in_again() {
    let app = TestApp::spawn().await;
    let user = app.create_user("alice", Role::Supervisor, json!({})).await;
    let session = app.session("alice").await;
    app.send_as(&session, false, Method::GET, "/callbacks", None).await.expect(200);
    let disabled = app.patch(&format!("/users/{}", user["id"]), json!({"disabled": true})).await.expect(200);
    assert_eq!(disabled["disabled"], true);
    app.send_as(&session, false, Method::GET, "/callbacks", None).await.expect_error(401, "unauthorized");
    app.sign_in("alice", PASSWORD).await.expect_error(401, "unauthorized");
    app.patch(&format!("/users/{}", user["id"]), json!({"disabled": false})).await.expect(200);
    let again = app.session("alice").await;
    app.send_as(&again, false, Method::GET, "/callbacks", None).await.expect(200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_admins_manage_users_and_tokens() {
    let app = TestApp::spawn().await;
    app.create_user("sue", Role::Supervisor, json!({})).await;
    let session = app.session("sue").await;
    let body = json!({"username": "eve", "role": "admin", "password": PASSWORD});
    app.send_as(&session, true, Method::POST, "/users", Some(&body)).await.expect_error(403, "forbidden");
    app.send_as(&session, true, Method::GET, "/users", None).await.expect_error(403, "forbidden");
    let token = json!({"name": "mine", "role": "admin"});
    app.send_as(&session, true, Method::POST, "/tokens", Some(&token)).await.expect_error(403, "forbidden");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_carry_their_scope_and_a_revoked_token_stops_working_at_once() {
    let app = TestApp::spawn().await;
    let scope = json!({"campaigns": [app.campaign_id()], "queues": []});
    let created =
        app.post("/tokens", json!({"name": "wallboard", "role": "monitor", "scope": scope})).await.expect(201);
    assert_eq!(created["scope"], scope);
    let secret = created["token"].as_str().unwrap().to_string();
    let listed = app.get("/tokens").await.expect(200);
    let shown = listed["items"].as_array().unwrap().iter().find(|t| t["id"] == created["id"]).unwrap().clone();
    assert_eq!((shown["scope"].clone(), shown["revoked"].clone()), (scope, json!(false)));
    assert!(!listed.to_string().contains(&secret), "secrets are never listed");
    app.post("/tokens", json!({"name": "root", "role": "admin", "scope": {"queues": [app.queue_id()]}}))
        .await
        .expect_error(422, "validation_failed");

    let me = app.send(Method::GET, "/session", Some(&secret), None).await.expect(200);
    assert_eq!(me["scope"]["campaigns"], json!([app.campaign_id()]));
    let revoked = app.delete(&format!("/tokens/{}", created["id"])).await.expect(200);
    assert_eq!(revoked["revoked"], true);
    app.send(Method::GET, "/callbacks", Some(&secret), None).await.expect_error(401, "unauthorized");
    app.delete("/tokens/999").await.expect_error(404, "not_found");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tokens_last_use_is_recorded_about_once_a_minute() {
    let app = TestApp::spawn().await;
    let created = app.post("/tokens", json!({"name": "ivr", "role": "supervisor"})).await.expect(201);
    let (id, secret) = (created["id"].as_i64().unwrap(), created["token"].as_str().unwrap().to_string());
    assert_eq!(last_used_at(&app, id, &Value::Null).await, Value::Null, "never used yet");

    app.send(Method::GET, "/callbacks", Some(&secret), None).await.expect(200);
    let first = json!(common::START);
    assert_eq!(last_used_at(&app, id, &first).await, first);

    app.advance(SignedDuration::from_secs(61));
    app.send(Method::GET, "/callbacks", Some(&secret), None).await.expect(200);
    let later = json!("2026-03-02T10:01:01Z");
    assert_eq!(last_used_at(&app, id, &later).await, later);
}
