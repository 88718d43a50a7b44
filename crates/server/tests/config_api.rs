//! Configuration CRUD through the real router: campaigns, lists, leads, queues, agents, wrap codes
//! and tokens, with PATCH merge, 404, 409 and the validation rules.

mod common;

use common::{Reply, TestApp, weekday_hours};
use jiff::SignedDuration;
use rebound_domain::access::Role;
use reqwest::Method;
use serde_json::{Value, json};

/// GET list, GET one, PATCH one field (others unchanged), DELETE, then 404 for all three.
async fn crud_round_trip(app: &TestApp, collection: &str, created: &Value, patch: Value) {
    let id = created["id"].as_i64().expect("numeric id");
    let item = format!("{collection}/{id}");
    let list = app.get(collection).await.expect(200);
    assert!(list["total"].as_u64().unwrap() >= 1);
    assert_eq!((list["page"].as_u64(), list["page_size"].as_u64()), (Some(1), Some(250)));
    assert!(list["items"].as_array().unwrap().iter().any(|i| i["id"] == created["id"]));
    assert_eq!(app.get(&item).await.expect(200), *created);

    let patched = app.patch(&item, patch.clone()).await.expect(200);
    for (field, value) in patch.as_object().unwrap() {
        assert_eq!(patched[field], *value, "{collection}: patched field {field}");
    }
    for (field, value) in created.as_object().unwrap() {
        if !patch.as_object().unwrap().contains_key(field) && field != "updated_at" {
            assert_eq!(patched[field], *value, "{collection}: untouched field {field} changed");
        }
    }
    assert_eq!(app.get(&item).await.expect(200), patched);

    app.delete(&item).await.expect(204);
    app.get(&item).await.expect_error(404, "not_found");
    app.patch(&item, patch).await.expect_error(404, "not_found");
    app.delete(&item).await.expect_error(404, "not_found");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn campaigns_are_created_with_contract_defaults_and_patched_by_merge() {
    let app = TestApp::spawn().await;
    let created = app
        .post("/campaigns", json!({"name": "Sydney", "timezone": "Australia/Sydney", "region": "au", "dialling_hours": weekday_hours()}))
        .await
        .expect(201);
    assert_eq!(created["direction"], "outbound");
    assert_eq!(created["region"], "AU");
    assert_eq!(created["running"], true);
    assert_eq!(created["window_secs"], 120);
    assert_eq!(created["max_attempts"], 3);
    assert_eq!(created["horizon_days"], 90);
    assert_eq!(created["retry_delays_secs"], json!({"no_answer": 1800, "busy": 600, "voicemail": 3600, "failed": 900}));
    assert_eq!(created["lead_calling_hours"], json!(["08:00", "21:00"]));
    assert_eq!(created["dialling_hours"]["mon"], json!([["09:00", "17:00"]]));
    crud_round_trip(&app, "/campaigns", &created, json!({"name": "Sydney North", "window_secs": 300})).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn campaign_values_are_validated_with_the_domain_rules() {
    let app = TestApp::spawn().await;
    let base = json!({"name": "X", "timezone": "Europe/London", "region": "GB", "dialling_hours": weekday_hours()});
    let with = |k: &str, v: Value| {
        let mut b = base.clone();
        b[k] = v;
        b
    };
    app.post("/campaigns", with("timezone", json!("Mars/Olympus"))).await.expect_error(422, "invalid_timezone");
    app.post("/campaigns", with("region", json!("XX"))).await.expect_error(422, "invalid_region");
    app.post("/campaigns", with("dialling_hours", json!({"mon": [["25:00", "26:00"]]})))
        .await
        .expect_error(422, "invalid_hours");
    app.post("/campaigns", with("dialling_hours", json!({"mon": [["09:00", "12:00"], ["11:00", "13:00"]]})))
        .await
        .expect_error(422, "invalid_hours");
    app.post("/campaigns", with("lists", json!([999]))).await.expect_error(422, "unknown_reference");
    app.post("/campaigns", with("name", json!("  "))).await.expect_error(422, "validation_failed");
    let mut missing = base.clone();
    missing.as_object_mut().unwrap().remove("region");
    app.post("/campaigns", missing).await.expect_error(400, "invalid_request");
    app.post("/campaigns", with("colour", json!("red"))).await.expect_error(400, "unknown_field");
    // A PATCH cannot store what a POST would refuse.
    let id = app.campaign_id();
    app.patch(&format!("/campaigns/{id}"), json!({"timezone": "Nowhere/Land"}))
        .await
        .expect_error(422, "invalid_timezone");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_campaign_in_use_cannot_be_deleted() {
    let app = TestApp::spawn().await;
    let id = app.campaign_id();
    app.delete(&format!("/campaigns/{id}")).await.expect_error(409, "conflict");
    app.get(&format!("/campaigns/{id}")).await.expect(200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_declare_fields_and_round_trip() {
    let app = TestApp::spawn().await;
    let created =
        app.post("/lists", json!({"name": "Customers", "fields": ["account_no", "postcode"]})).await.expect(201);
    assert_eq!(created["fields"], json!(["account_no", "postcode"]));
    app.post("/lists", json!({"name": "Dup", "fields": ["a", "a"]})).await.expect_error(422, "validation_failed");
    crud_round_trip(&app, "/lists", &created, json!({"name": "Clients"})).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lead_phones_are_normalised_with_the_region_of_a_campaign_dialling_the_list() {
    let app = TestApp::spawn().await;
    let list = app.post("/lists", json!({"name": "UK", "fields": ["account_no"]})).await.expect(201);
    let list_id = list["id"].as_i64().unwrap();
    // No campaign dials the list yet: only E.164 is understood.
    app.post("/leads", json!({"list_id": list_id, "phones": ["02073794334"]})).await.expect_error(422, "invalid_phone");
    let e164 = app.post("/leads", json!({"list_id": list_id, "phones": ["+442073794334"]})).await.expect(201);
    assert_eq!(e164["phones"], json!(["+442073794334"]));

    app.patch(&format!("/campaigns/{}", app.campaign_id()), json!({"lists": [list_id]})).await.expect(200);
    let lead = app
        .post(
            "/leads",
            json!({"list_id": list_id, "phones": ["020 7379 4334", "+65 6836 4100"], "name": "Ada",
                   "timezone": "Europe/London", "data": {"account_no": "A-1"}}),
        )
        .await
        .expect(201);
    assert_eq!(lead["phones"], json!(["+442073794334", "+6568364100"]));
    app.post("/leads", json!({"list_id": list_id, "phones": ["+442073794334"], "data": {"colour": "red"}}))
        .await
        .expect_error(422, "validation_failed");
    app.post("/leads", json!({"list_id": list_id, "phones": ["09098790000"]}))
        .await
        .expect_error(422, "premium_rate_number");
    app.post("/leads", json!({"list_id": 9999, "phones": ["+442073794334"]}))
        .await
        .expect_error(422, "unknown_reference");
    app.post("/leads", json!({"list_id": list_id, "phones": []})).await.expect_error(422, "validation_failed");

    let filtered = app.get(&format!("/leads?list_id={list_id}&page_size=1")).await.expect(200);
    assert_eq!((filtered["total"].as_u64(), filtered["items"].as_array().unwrap().len()), (Some(2), 1));
    assert_eq!(app.get("/leads?list_id=424242").await.expect(200)["total"], 0);

    crud_round_trip(&app, "/leads", &lead, json!({"name": "Ada L."})).await;
    // The `null` of a PATCH clears an optional field.
    let patched = app.patch(&format!("/leads/{}", e164["id"]), json!({"timezone": null})).await.expect(200);
    assert_eq!(patched["timezone"], Value::Null);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queues_belong_to_outbound_campaigns_and_default_their_slots() {
    let app = TestApp::spawn().await;
    assert_eq!(app.queue["slot_minutes"], 15);
    assert_eq!(app.queue["slot_capacity"], 10);
    assert_eq!(app.queue["duplicate_policy"], "one");
    assert_eq!(app.queue["paused"], false);
    let inbound = app
        .post("/campaigns", json!({"name": "In", "direction": "inbound", "timezone": "Europe/London", "region": "GB", "dialling_hours": weekday_hours()}))
        .await
        .expect(201);
    app.post("/queues", json!({"name": "Q", "campaign_id": inbound["id"]}))
        .await
        .expect_error(422, "campaign_not_outbound");
    app.post("/queues", json!({"name": "Q", "campaign_id": 9999})).await.expect_error(422, "unknown_reference");
    app.post("/queues", json!({"name": "Q", "campaign_id": app.campaign_id(), "slot_minutes": 7}))
        .await
        .expect_error(422, "validation_failed");
    app.post("/queues", json!({"name": "Q", "campaign_id": app.campaign_id(), "duplicate_policy": "three"}))
        .await
        .expect_error(400, "invalid_request");
    let queue = app.create_queue(app.campaign_id(), json!({"name": "Sales", "slot_minutes": 30})).await;
    crud_round_trip(&app, "/queues", &queue, json!({"slot_capacity": 4, "duplicate_policy": "two"})).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agents_refer_to_existing_campaigns_and_queues() {
    let app = TestApp::spawn().await;
    let agent = app
        .post(
            "/agents",
            json!({"name": "Ann", "username": "ann", "timezone": "Europe/London",
                   "campaigns": [app.campaign_id()], "queues": [app.queue_id()]}),
        )
        .await
        .expect(201);
    assert_eq!(agent["presence"], "offline");
    assert_eq!(agent["can_view_callback_list"], false);
    app.post("/agents", json!({"name": "B", "username": "b", "timezone": "Europe/London", "campaigns": [999]}))
        .await
        .expect_error(422, "unknown_reference");
    app.post("/agents", json!({"name": "B", "username": "b", "timezone": "Europe/London", "queues": [999]}))
        .await
        .expect_error(422, "unknown_reference");
    app.post("/agents", json!({"name": "B", "username": "b", "timezone": "Moon/Base"}))
        .await
        .expect_error(422, "invalid_timezone");
    crud_round_trip(&app, "/agents", &agent, json!({"can_view_callback_list": true})).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrap_codes_check_their_add_to_queue_target() {
    let app = TestApp::spawn().await;
    let other = app.create_campaign("Other", "Europe/London", "GB").await;
    let other_queue = app.create_queue(other["id"].as_i64().unwrap(), json!({})).await;
    let code = app
        .post(
            "/wrap-codes",
            json!({"campaign_id": app.campaign_id(), "code": "CB1H", "label": "Call back in 1h",
                   "add_to_queue": {"campaign_id": app.campaign_id(), "queue_id": app.queue_id(), "type": "queue", "delay_minutes": 60}}),
        )
        .await
        .expect(201);
    assert_eq!(code["add_to_queue"]["type"], "queue");
    let plain = app.post("/wrap-codes", json!({"campaign_id": app.campaign_id(), "code": "DONE"})).await.expect(201);
    assert_eq!(plain["label"], "DONE");
    app.post(
        "/wrap-codes",
        json!({"campaign_id": app.campaign_id(), "code": "X",
               "add_to_queue": {"campaign_id": app.campaign_id(), "queue_id": other_queue["id"], "type": "queue", "delay_minutes": 5}}),
    )
    .await
    .expect_error(422, "queue_not_in_campaign");
    app.post(
        "/wrap-codes",
        json!({"campaign_id": app.campaign_id(), "code": "X",
               "add_to_queue": {"campaign_id": app.campaign_id(), "type": "queue", "delay_minutes": 5}}),
    )
    .await
    .expect_error(422, "validation_failed");
    crud_round_trip(&app, "/wrap-codes", &code, json!({"label": "Callback in an hour", "add_to_queue": null})).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admins_mint_tokens_that_authenticate_with_their_role() {
    let app = TestApp::spawn().await;
    let created = app.post("/tokens", json!({"name": "wallboard", "role": "monitor"})).await.expect(201);
    let secret = created["token"].as_str().unwrap().to_string();
    assert!(secret.starts_with("rbd_"));
    assert_eq!((created["role"].as_str(), created["scope"].clone()), (Some("monitor"), Value::Null));
    assert!(created["id"].is_i64());

    app.send(Method::GET, "/callbacks", Some(&secret), None).await.expect(200);
    app.send(Method::POST, "/callbacks", Some(&secret), Some(&app.queue_callback("+442073794334", json!({}))))
        .await
        .expect_error(403, "forbidden");

    let supervisor = app.token(Role::Supervisor).await;
    app.send(Method::POST, "/tokens", Some(&supervisor), Some(&json!({"name": "x", "role": "admin"})))
        .await
        .expect_error(403, "forbidden");
    app.send(Method::GET, "/tokens", Some(&supervisor), None).await.expect_error(403, "forbidden");
    let listed = app.get("/tokens").await.expect(200);
    let names: Vec<&str> = listed["items"].as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert!(names.contains(&"wallboard") && names.len() as u64 == listed["total"].as_u64().unwrap(), "{listed}");
    assert!(
        listed["items"].as_array().unwrap().iter().all(|t| t.get("token").is_none() && t.get("secret_hash").is_none())
    );
    app.post("/tokens", json!({"name": "x", "role": "root"})).await.expect_error(400, "invalid_request");
    app.post("/tokens", json!({"name": "x", "role": "admin", "expires_at": "2020-01-01T00:00:00Z"}))
        .await
        .expect_error(422, "time_in_past");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_token_is_refused_even_while_cached() {
    let app = TestApp::spawn().await;
    let created = app
        .post("/tokens", json!({"name": "short", "role": "monitor", "expires_at": "2026-03-02T11:00:00Z"}))
        .await
        .expect(201);
    let secret = created["token"].as_str().unwrap();
    app.send(Method::GET, "/campaigns", Some(secret), None).await.expect(200);
    app.advance(SignedDuration::from_hours(2));
    let reply: Reply = app.send(Method::GET, "/campaigns", Some(secret), None).await;
    assert_eq!(reply.headers.get("www-authenticate").map(|v| v.to_str().unwrap()), Some("Bearer"));
    reply.expect_error(401, "unauthorized");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agents_and_monitors_read_configuration_but_never_write_it() {
    let app = TestApp::spawn().await;
    for role in [Role::Agent, Role::Monitor, Role::Supervisor] {
        let token = app.token(role).await;
        app.send(Method::GET, "/queues", Some(&token), None).await.expect(200);
        app.send(Method::POST, "/lists", Some(&token), Some(&json!({"name": "L"})))
            .await
            .expect_error(403, "forbidden");
        app.send(Method::DELETE, &format!("/queues/{}", app.queue_id()), Some(&token), None)
            .await
            .expect_error(403, "forbidden");
    }
    let agent = app.token(Role::Agent).await;
    app.send(Method::GET, "/callbacks", Some(&agent), None).await.expect_error(403, "forbidden");
}
