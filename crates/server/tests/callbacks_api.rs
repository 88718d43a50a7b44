//! Creating callbacks through the real router: the create rules, phones, times, agents,
//! duplicates, idempotency, slot capacity, history and availability.

mod common;

use common::{START, TestApp, ts};
use jiff::SignedDuration;
use serde_json::{Value, json};

/// Distinct valid London numbers (Ofcom's drama range).
fn london(n: u32) -> String {
    format!("+44207946{n:04}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_immediate_queue_callback_is_scheduled_now_with_every_contract_field() {
    let app = TestApp::spawn().await;
    let cb =
        app.post("/callbacks", app.queue_callback("02073794334", json!({"notes": "asked twice"}))).await.expect(201);
    assert_eq!(cb["type"], "queue");
    assert_eq!(cb["origin"], "immediate");
    assert_eq!(cb["state"], "SCHEDULED");
    assert_eq!(cb["result"], Value::Null);
    assert_eq!(cb["phone"], "+442073794334");
    assert_eq!(cb["phone_raw"], "02073794334");
    assert_eq!(cb["campaign_id"], app.campaign_id());
    assert_eq!(cb["queue_id"], app.queue_id());
    assert_eq!(cb["desired_time"], START);
    assert_eq!(cb["earliest_time"], START);
    assert_eq!(cb["lead_timezone"], "Europe/London");
    assert_eq!(cb["window_secs"], 120);
    assert_eq!(cb["slot_start"], Value::Null, "immediate callbacks book no slot");
    assert_eq!(cb["overdue"], false);
    assert_eq!(cb["attempts"], 0);
    assert_eq!(cb["expires_at"], "2026-03-16T10:00:00Z");
    assert_eq!(cb["recreated_from"], Value::Null);
    let created_by = cb["created_by"].as_str().unwrap();
    assert!(created_by.starts_with("token:") && created_by.ends_with(":admin"), "{created_by}");
    let id = cb["id"].as_str().unwrap();
    assert_eq!(app.get(&format!("/callbacks/{id}")).await.expect(200), cb);

    // Past its earliest time plus the 2-minute window it is overdue.
    app.advance(SignedDuration::from_mins(10));
    assert_eq!(app.get(&format!("/callbacks/{id}")).await.expect(200)["overdue"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scheduled_callback_books_the_slot_of_its_earliest_dialable_time() {
    let app = TestApp::spawn().await;
    let local = app
        .post(
            "/callbacks",
            app.queue_callback(&london(1), json!({"desired_time": "2026-03-03T10:07:00", "timezone": "Europe/London"})),
        )
        .await
        .expect(201);
    assert_eq!(local["origin"], "scheduled");
    assert_eq!(local["desired_time"], "2026-03-03T10:07:00Z");
    assert_eq!(local["timezone"], "Europe/London");
    assert_eq!(local["earliest_time"], "2026-03-03T10:07:00Z");
    assert_eq!(local["slot_start"], "2026-03-03T10:00:00Z");

    // After hours: dialable next morning, booked there.
    let late = app
        .post("/callbacks", app.queue_callback(&london(2), json!({"desired_time": "2026-03-03T19:30:00+01:00"})))
        .await
        .expect(201);
    assert_eq!(late["desired_time"], "2026-03-03T18:30:00Z");
    assert_eq!(late["earliest_time"], "2026-03-04T09:00:00Z");
    assert_eq!(late["slot_start"], "2026-03-04T09:00:00Z");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn national_numbers_are_read_with_the_campaigns_region() {
    let app = TestApp::spawn().await;
    let cases = [
        ("London too", "Europe/London", "GB", "02073794334", "+442073794334"),
        ("Singapore", "Asia/Singapore", "SG", "68364100", "+6568364100"),
        ("Canberra", "Australia/Sydney", "AU", "0262160100", "+61262160100"),
    ];
    for (name, tz, region, national, e164) in cases {
        let campaign = app.create_campaign(name, tz, region).await;
        let campaign_id = campaign["id"].as_i64().unwrap();
        let queue = app.create_queue(campaign_id, json!({"duplicate_policy": "off"})).await;
        for given in [national, e164] {
            let cb = app
                .post(
                    "/callbacks",
                    json!({"type": "queue", "campaign_id": campaign_id, "queue_id": queue["id"], "phone": given}),
                )
                .await
                .expect(201);
            assert_eq!(cb["phone"], e164, "{name}: {given}");
            assert_eq!(cb["phone_raw"], given);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_phones_times_and_timezones_are_unprocessable_with_specific_codes() {
    let app = TestApp::spawn().await;
    let cases = [
        (json!({"phone": "12"}), "invalid_phone"),
        (json!({"phone": "call me maybe"}), "invalid_phone"),
        (json!({"phone": "09098790000"}), "premium_rate_number"),
        (json!({"desired_time": "2026-03-03T10:00:00", "timezone": "Mars/Olympus"}), "invalid_timezone"),
        (json!({"desired_time": "tomorrow at ten"}), "invalid_time"),
        (json!({"desired_time": "2026-03-03T10:00:00"}), "invalid_time"),
        (json!({"desired_time": "2026-03-29T01:30:00", "timezone": "Europe/London"}), "nonexistent_local_time"),
        (json!({"desired_time": "2026-03-01T10:00:00Z"}), "time_in_past"),
        (json!({"desired_time": "2026-07-01T10:00:00Z"}), "beyond_horizon"),
    ];
    for (extra, code) in cases {
        let mut body = app.queue_callback(&london(1), json!({}));
        body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        app.post("/callbacks", body).await.expect_error(422, code);
    }
    // Nothing was stored by any of them.
    assert_eq!(app.get("/callbacks").await.expect(200)["total"], 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dst_gaps_and_folds_are_refused_unless_disambiguated() {
    let app = TestApp::spawn().await;
    app.patch(&format!("/campaigns/{}", app.campaign_id()), json!({"horizon_days": 365})).await.expect(200);
    let gap = json!({"desired_time": "2026-03-29T01:30:00", "timezone": "Europe/London"});
    app.post("/callbacks", app.queue_callback(&london(1), gap.clone()))
        .await
        .expect_error(422, "nonexistent_local_time");
    let mut resolved = gap.clone();
    resolved["disambiguation"] = json!("later");
    let cb = app.post("/callbacks", app.queue_callback(&london(1), resolved)).await.expect(201);
    assert_eq!(cb["desired_time"], "2026-03-29T01:30:00Z");

    let fold = json!({"desired_time": "2026-10-25T01:30:00", "timezone": "Europe/London"});
    app.post("/callbacks", app.queue_callback(&london(2), fold.clone()))
        .await
        .expect_error(422, "ambiguous_local_time");
    for (n, (choice, instant)) in
        [("earlier", "2026-10-25T00:30:00Z"), ("later", "2026-10-25T01:30:00Z")].into_iter().enumerate()
    {
        let mut body = fold.clone();
        body["disambiguation"] = json!(choice);
        let cb = app.post("/callbacks", app.queue_callback(&london(3 + n as u32), body)).await.expect(201);
        assert_eq!(cb["desired_time"], instant, "{choice}");
    }
    let mut bad = fold;
    bad["disambiguation"] = json!("middle");
    app.post("/callbacks", app.queue_callback(&london(9), bad)).await.expect_error(400, "invalid_request");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn references_must_exist_and_fit_the_campaign() {
    let app = TestApp::spawn().await;
    let campaign_id = app.campaign_id();
    let inbound = app
        .post("/campaigns", json!({"name": "In", "direction": "inbound", "timezone": "Europe/London", "region": "GB", "dialling_hours": common::weekday_hours()}))
        .await
        .expect(201);
    let other = app.create_campaign("Other", "Europe/London", "GB").await;
    let other_queue = app.create_queue(other["id"].as_i64().unwrap(), json!({})).await;
    let phone = london(1);
    let cases = [
        (
            json!({"type": "queue", "campaign_id": inbound["id"], "queue_id": app.queue_id(), "phone": phone}),
            "campaign_not_outbound",
        ),
        (
            json!({"type": "queue", "campaign_id": 9999, "queue_id": app.queue_id(), "phone": phone}),
            "unknown_reference",
        ),
        (json!({"type": "queue", "campaign_id": campaign_id, "phone": phone}), "validation_failed"),
        (
            json!({"type": "queue", "campaign_id": campaign_id, "queue_id": other_queue["id"], "phone": phone}),
            "queue_not_in_campaign",
        ),
        (json!({"type": "agent", "campaign_id": campaign_id, "phone": phone}), "validation_failed"),
        (json!({"type": "agent", "campaign_id": campaign_id, "agent_id": 9999, "phone": phone}), "unknown_reference"),
        (
            json!({"type": "queue", "campaign_id": campaign_id, "queue_id": app.queue_id(), "lead_id": 9999, "phone": phone}),
            "unknown_reference",
        ),
    ];
    for (body, code) in cases {
        app.post("/callbacks", body).await.expect_error(422, code);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_callbacks_need_an_agent_of_the_campaign_unless_the_campaign_allows_others() {
    let app = TestApp::spawn().await;
    let campaign_id = app.campaign_id();
    let member = app
        .post(
            "/agents",
            json!({"name": "In", "username": "in", "timezone": "Europe/London", "campaigns": [campaign_id]}),
        )
        .await
        .expect(201);
    let outsider =
        app.post("/agents", json!({"name": "Out", "username": "out", "timezone": "Europe/London"})).await.expect(201);
    let body = |agent: &Value, n: u32| json!({"type": "agent", "campaign_id": campaign_id, "agent_id": agent["id"], "phone": london(n)});

    let cb = app.post("/callbacks", body(&member, 1)).await.expect(201);
    assert_eq!((cb["type"].as_str(), cb["agent_id"].clone()), (Some("agent"), member["id"].clone()));
    app.post("/callbacks", body(&outsider, 2)).await.expect_error(422, "agent_not_in_campaign");

    app.patch(&format!("/campaigns/{campaign_id}"), json!({"allow_unassigned_agent_callbacks": true}))
        .await
        .expect(200);
    app.post("/callbacks", body(&outsider, 2)).await.expect(201);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicates_follow_the_queue_policy_and_name_the_existing_callback() {
    let app = TestApp::spawn().await;
    let first = app.post("/callbacks", app.queue_callback("+442073794334", json!({}))).await.expect(201);
    // The same number in another format is the same number.
    let dup = app
        .post("/callbacks", app.queue_callback("020 7379 4334", json!({})))
        .await
        .expect_error(409, "duplicate_callback");
    assert_eq!(dup["error"]["details"]["existing_id"], first["id"]);

    let off = app.create_queue(app.campaign_id(), json!({"duplicate_policy": "off"})).await;
    let two = app.create_queue(app.campaign_id(), json!({"duplicate_policy": "two"})).await;
    let in_queue = |queue: &Value| json!({"type": "queue", "campaign_id": app.campaign_id(), "queue_id": queue["id"], "phone": "+442073794334"});
    for _ in 0..3 {
        app.post("/callbacks", in_queue(&off)).await.expect(201);
    }
    app.post("/callbacks", in_queue(&two)).await.expect(201);
    app.post("/callbacks", in_queue(&two)).await.expect(201);
    app.post("/callbacks", in_queue(&two)).await.expect_error(409, "duplicate_callback");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retried_request_with_the_same_idempotency_key_answers_the_first_result() {
    let app = TestApp::spawn().await;
    let body = app.queue_callback(&london(1), json!({"notes": "retry me"}));
    let first = app.post_idempotent("/callbacks", "order-42", &body).await;
    assert!(first.headers.get("idempotent-replayed").is_none());
    let first = first.expect(201);
    let again = app.post_idempotent("/callbacks", "order-42", &body).await;
    assert_eq!(again.headers.get("idempotent-replayed").map(|v| v.to_str().unwrap()), Some("true"));
    let again = again.expect(201);
    assert_eq!(again["id"], first["id"]);
    assert_eq!(app.get("/callbacks").await.expect(200)["total"], 1, "only one stored");

    let other = app.queue_callback(&london(2), json!({}));
    app.post_idempotent("/callbacks", "order-42", &other).await.expect_error(409, "idempotency_key_reused");
    app.post_idempotent("/callbacks", "bad key with spaces", &other).await.expect_error(400, "invalid_request");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_after_the_desired_time_has_passed_still_answers_the_first_result() {
    let app = TestApp::spawn().await;
    let body = app.queue_callback(&london(3), json!({"desired_time": "2026-03-02T10:30:00Z"}));
    let first = app.post_idempotent("/callbacks", "late-retry", &body).await.expect(201);
    app.advance(SignedDuration::from_hours(2));
    // Without the key the same body is now refused: its time is in the past.
    app.post("/callbacks", body.clone()).await.expect_error(422, "time_in_past");
    let again = app.post_idempotent("/callbacks", "late-retry", &body).await;
    assert_eq!(again.headers.get("idempotent-replayed").map(|v| v.to_str().unwrap()), Some("true"));
    assert_eq!(again.expect(201)["id"], first["id"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_slot_is_refused_with_free_slots_inside_hours_proposed() {
    let app = TestApp::spawn().await;
    let queue = app.create_queue(app.campaign_id(), json!({"slot_capacity": 2, "duplicate_policy": "off"})).await;
    let queue_id = queue["id"].as_i64().unwrap();
    let at = |n: u32| {
        json!({"type": "queue", "campaign_id": app.campaign_id(), "queue_id": queue_id, "phone": london(n),
               "desired_time": "2026-03-03T10:05:00Z"})
    };
    app.post("/callbacks", at(1)).await.expect(201);
    app.post("/callbacks", at(2)).await.expect(201);
    let full = app.post("/callbacks", at(3)).await.expect_error(409, "slot_full");
    let proposed = full["error"]["details"]["proposed_slots"].as_array().expect("proposed_slots").clone();
    assert!(!proposed.is_empty() && proposed.len() <= 5, "{proposed:?}");

    let availability = app
        .get(&format!("/queues/{queue_id}/availability?from=2026-03-02&to=2026-03-07&timezone=Europe/London"))
        .await
        .expect(200);
    let slots = availability["slots"].as_array().unwrap();
    let full_slot = slots.iter().find(|s| s["start"] == "2026-03-03T10:00:00Z").expect("the full slot");
    assert_eq!((full_slot["booked"].as_u64(), full_slot["capacity"].as_u64()), (Some(2), Some(2)));
    for p in &proposed {
        assert_ne!(p["start"], "2026-03-03T10:00:00Z");
        assert!(p["booked"].as_u64() < p["capacity"].as_u64(), "{p}");
        assert!(ts(p["start"].as_str().unwrap()) >= ts(START), "{p}");
        // Every proposal is a real slot inside the campaign's hours.
        let listed =
            slots.iter().find(|s| s["start"] == p["start"]).unwrap_or_else(|| panic!("{p} is not an open slot"));
        assert!(listed["booked"].as_u64() < listed["capacity"].as_u64());
        let local = p["local_start"].as_str().unwrap();
        let hour: u32 = local[11..13].parse().unwrap();
        assert!((9..17).contains(&hour), "{local}");
    }
    // The nearest free slots neighbour the full one.
    assert!(proposed.iter().any(|p| p["start"] == "2026-03-03T10:15:00Z" || p["start"] == "2026-03-03T09:45:00Z"));
    // Booking a proposed slot works.
    let mut retry = at(3);
    retry["desired_time"] = proposed[0]["start"].clone();
    app.post("/callbacks", retry).await.expect(201);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn availability_counts_bookings_and_shows_local_times_in_the_requested_timezone() {
    let app = TestApp::spawn().await;
    let queue_id = app.queue_id();
    app.post("/callbacks", app.queue_callback(&london(1), json!({"desired_time": "2026-03-03T10:00:00Z"})))
        .await
        .expect(201);
    let day = app.get(&format!("/queues/{queue_id}/availability?from=2026-03-03&to=2026-03-04")).await.expect(200);
    assert_eq!(day["slot_minutes"], 15);
    assert_eq!(day["timezone"], "Europe/London");
    let slots = day["slots"].as_array().unwrap();
    assert_eq!(slots.len(), 32, "09:00–17:00 in 15-minute slots");
    assert_eq!(slots[0]["start"], "2026-03-03T09:00:00Z");
    assert_eq!(slots[0]["local_start"], "2026-03-03T09:00:00+00:00");
    let ten = slots.iter().find(|s| s["start"] == "2026-03-03T10:00:00Z").unwrap();
    assert_eq!((ten["booked"].as_u64(), ten["capacity"].as_u64()), (Some(1), Some(10)));
    assert!(slots.iter().filter(|s| s["booked"] == 1).count() == 1);

    let singapore = app
        .get(&format!(
            "/queues/{queue_id}/availability?from=2026-03-03T09:00:00Z&to=2026-03-03T10:00:00Z&timezone=Asia/Singapore"
        ))
        .await
        .expect(200);
    assert_eq!(singapore["slots"][0]["local_start"], "2026-03-03T17:00:00+08:00");

    app.get(&format!("/queues/{queue_id}/availability?from=2026-03-03&to=2026-05-03"))
        .await
        .expect_error(422, "validation_failed");
    app.get(&format!("/queues/{queue_id}/availability?timezone=Nowhere/Land"))
        .await
        .expect_error(422, "invalid_timezone");
    app.get("/queues/9999/availability").await.expect_error(404, "not_found");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_history_starts_with_a_created_event_naming_the_actor() {
    let app = TestApp::spawn().await;
    let cb = app.post("/callbacks", app.queue_callback(&london(1), json!({}))).await.expect(201);
    let events = app.get(&format!("/callbacks/{}/events", cb["id"].as_str().unwrap())).await.expect(200);
    let events = events.as_array().expect("an array of events");
    assert_eq!(events[0]["action"], "created");
    assert_eq!(events[0]["actor"], cb["created_by"]);
    assert_eq!(events[0]["to_state"], "SCHEDULED");
    assert_eq!(events[0]["at"], START);
    app.get("/callbacks/0190a0e4-0000-7000-8000-000000000000/events").await.expect_error(404, "not_found");
}
