//! Changing callbacks through the real router: edit (type, agent, transfer, move, notes, data),
//! reschedule in any of the four timezones, cancel, delete, recreate, roles, and the audit history
//! each leaves.

mod common;

use common::{TestApp, ts, weekday_hours};
use jiff::SignedDuration;
use rebound_domain::access::Role;
use rebound_domain::state::Action;
use reqwest::Method;
use serde_json::{Value, json};

/// Distinct valid London numbers (Ofcom's drama range).
fn london(n: u32) -> String {
    format!("+44207946{n:04}")
}

fn id_of(v: &Value) -> i64 {
    v["id"].as_i64().expect("numeric id")
}

fn cb_id(v: &Value) -> String {
    v["id"].as_str().expect("callback id").to_string()
}

/// A scheduled queue callback in the fixture queue at `desired` (RFC 3339).
async fn scheduled(app: &TestApp, n: u32, desired: &str) -> Value {
    app.post("/callbacks", app.queue_callback(&london(n), json!({"desired_time": desired}))).await.expect(201)
}

async fn create_list(app: &TestApp, name: &str, fields: &[&str]) -> i64 {
    id_of(&app.post("/lists", json!({"name": name, "fields": fields})).await.expect(201))
}

async fn create_agent(app: &TestApp, username: &str, timezone: &str, campaigns: &[i64]) -> i64 {
    id_of(
        &app.post(
            "/agents",
            json!({"name": username, "username": username, "timezone": timezone, "campaigns": campaigns}),
        )
        .await
        .expect(201),
    )
}

fn last(events: &[Value]) -> &Value {
    events.last().expect("at least one event")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn editing_notes_and_data_is_recorded_as_edited_with_before_and_after() {
    let app = TestApp::spawn().await;
    let list = create_list(&app, "Accounts", &["account_no", "postcode"]).await;
    let cb = app
        .post(
            "/callbacks",
            app.queue_callback(&london(1), json!({"list_id": list, "data": {"account_no": "A1"}, "notes": "first"})),
        )
        .await
        .expect(201);
    let id = cb_id(&cb);
    let (supervisor, supervisor_actor) = app.token_and_actor(Role::Supervisor).await;

    let patch = json!({"notes": "call after lunch", "data": {"account_no": "A2", "postcode": "N1"}});
    let edited =
        app.send(Method::PATCH, &format!("/callbacks/{id}"), Some(&supervisor), Some(&patch)).await.expect(200);
    assert_eq!(edited["notes"], "call after lunch");
    assert_eq!(edited["data"], json!({"account_no": "A2", "postcode": "N1"}));
    assert_eq!(edited["state"], "SCHEDULED");
    assert_eq!(app.get(&format!("/callbacks/{id}")).await.expect(200), edited);

    let events = app.events(&id).await;
    let event = last(&events);
    assert_eq!(event["action"], "edited");
    assert_eq!(event["actor"], supervisor_actor.as_str());
    assert_eq!((event["from_state"].as_str(), event["to_state"].as_str()), (Some("SCHEDULED"), Some("SCHEDULED")));
    assert_eq!(event["details"]["changes"]["notes"], json!({"from": "first", "to": "call after lunch"}));
    assert_eq!(
        event["details"]["changes"]["data"],
        json!({"from": {"account_no": "A1"}, "to": {"account_no": "A2", "postcode": "N1"}})
    );
    assert_eq!(event["details"]["changes"].as_object().unwrap().len(), 2, "only what changed: {event}");

    // Notes can be cleared; a data field the list does not declare is refused.
    let cleared = app.patch(&format!("/callbacks/{id}"), json!({"notes": null})).await.expect(200);
    assert_eq!(cleared["notes"], Value::Null);
    let bad = app.patch(&format!("/callbacks/{id}"), json!({"data": {"colour": "red"}})).await;
    assert_eq!(bad.expect_error(422, "validation_failed")["error"]["details"]["field"], "data.colour");
    app.patch(&format!("/callbacks/{id}"), json!({"colour": "red"})).await.expect_error(400, "unknown_field");

    // A patch that changes nothing answers the callback and records nothing.
    let before = app.events(&id).await.len();
    let same = app.patch(&format!("/callbacks/{id}"), json!({"notes": null, "queue_id": app.queue_id()})).await;
    assert_eq!(same.expect(200), cleared);
    assert_eq!(app.events(&id).await.len(), before);
    app.patch("/callbacks/0190a0e4-0000-7000-8000-000000000000", json!({"notes": "x"}))
        .await
        .expect_error(404, "not_found");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_callback_needs_an_agent_of_the_campaign_unless_unassigned_agents_are_allowed() {
    let app = TestApp::spawn().await;
    let member = create_agent(&app, "ann", "Europe/London", &[app.campaign_id()]).await;
    let outsider = create_agent(&app, "bob", "Europe/London", &[]).await;
    let cb = scheduled(&app, 1, "2026-03-03T10:07:00Z").await;
    let id = cb_id(&cb);
    assert_eq!(cb["slot_start"], "2026-03-03T10:00:00Z");
    let path = format!("/callbacks/{id}");

    let missing = app.patch(&path, json!({"type": "agent"})).await.expect_error(422, "validation_failed");
    assert_eq!(missing["error"]["details"]["field"], "agent_id");
    let outside = app.patch(&path, json!({"type": "agent", "agent_id": outsider})).await;
    assert_eq!(outside.expect_error(422, "agent_not_in_campaign")["error"]["details"]["field"], "agent_id");
    app.patch(&path, json!({"type": "agent", "agent_id": 424242})).await.expect_error(422, "unknown_reference");
    app.patch(&path, json!({"agent_id": member})).await.expect_error(422, "validation_failed");

    // To an agent of the campaign: an agent callback books no slot.
    let agent_cb = app.patch(&path, json!({"type": "agent", "agent_id": member})).await.expect(200);
    assert_eq!((agent_cb["type"].as_str(), agent_cb["agent_id"].as_i64()), (Some("agent"), Some(member)));
    assert_eq!(agent_cb["slot_start"], Value::Null);
    let events = app.events(&id).await;
    let changes = &last(&events)["details"]["changes"];
    assert_eq!(last(&events)["action"], "edited");
    assert_eq!(changes["type"], json!({"from": "queue", "to": "agent"}));
    assert_eq!(changes["agent_id"], json!({"from": null, "to": member}));
    assert_eq!(changes["slot_start"], json!({"from": "2026-03-03T10:00:00Z", "to": null}));

    // Once the campaign allows callbacks to unassigned agents, the outsider may have it.
    app.patch(&format!("/campaigns/{}", app.campaign_id()), json!({"allow_unassigned_agent_callbacks": true}))
        .await
        .expect(200);
    let reassigned = app.patch(&path, json!({"agent_id": outsider})).await.expect(200);
    assert_eq!(reassigned["agent_id"], outsider);

    // Back to a queue callback: the agent goes and the scheduled booking comes back.
    let back = app.patch(&path, json!({"type": "queue"})).await.expect(200);
    assert_eq!((back["type"].as_str(), back["agent_id"].as_i64()), (Some("queue"), None));
    assert_eq!(back["slot_start"], "2026-03-03T10:00:00Z");
    app.patch(&path, json!({"agent_id": member})).await.expect_error(422, "validation_failed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transfer_goes_only_to_a_queue_of_the_same_campaign_with_room_and_no_duplicate() {
    let app = TestApp::spawn().await;
    let other_campaign = app.create_campaign("Elsewhere", "Europe/London", "GB").await;
    let foreign = app.create_queue(id_of(&other_campaign), json!({})).await;
    let sibling = app.create_queue(app.campaign_id(), json!({"slot_minutes": 30})).await;
    let tiny = app.create_queue(app.campaign_id(), json!({"slot_capacity": 1})).await;
    let cb = scheduled(&app, 1, "2026-03-03T10:20:00Z").await;
    let id = cb_id(&cb);
    let path = format!("/callbacks/{id}");

    let refused = app.patch(&path, json!({"queue_id": id_of(&foreign)})).await;
    assert_eq!(refused.expect_error(422, "queue_not_in_campaign")["error"]["details"]["field"], "queue_id");
    app.patch(&path, json!({"queue_id": null})).await.expect_error(422, "validation_failed");

    // The slot of the new queue (30-minute slots) is booked.
    let moved = app.patch(&path, json!({"queue_id": id_of(&sibling)})).await.expect(200);
    assert_eq!(moved["queue_id"], id_of(&sibling));
    assert_eq!(moved["slot_start"], "2026-03-03T10:00:00Z");
    let events = app.events(&id).await;
    assert_eq!(last(&events)["action"], "transferred");
    assert_eq!(last(&events)["details"]["changes"]["queue_id"], json!({"from": app.queue_id(), "to": id_of(&sibling)}));

    // A full slot in the target queue: refused with the nearest free slots, nothing changed.
    let blocker = app
        .post(
            "/callbacks",
            json!({"type": "queue", "campaign_id": app.campaign_id(), "queue_id": id_of(&tiny),
                   "phone": london(2), "desired_time": "2026-03-03T10:25:00Z"}),
        )
        .await
        .expect(201);
    assert_eq!(blocker["slot_start"], "2026-03-03T10:15:00Z");
    let full = app.patch(&path, json!({"queue_id": id_of(&tiny)})).await.expect_error(409, "slot_full");
    let proposed = full["error"]["details"]["proposed_slots"].as_array().expect("proposed slots").clone();
    assert!(!proposed.is_empty(), "{full}");
    for slot in &proposed {
        assert_ne!(slot["start"], "2026-03-03T10:15:00Z");
        assert!(slot["booked"].as_u64() < slot["capacity"].as_u64(), "{slot}");
    }
    assert_eq!(app.get(&path).await.expect(200)["queue_id"], id_of(&sibling));

    // The target queue's duplicate policy: the same number is already waiting there.
    let twin = app
        .post(
            "/callbacks",
            json!({"type": "queue", "campaign_id": app.campaign_id(), "queue_id": app.queue_id(),
                   "phone": london(1), "desired_time": "2026-03-03T11:00:00Z"}),
        )
        .await
        .expect(201);
    let duplicate = app.patch(&path, json!({"queue_id": app.queue_id()})).await.expect_error(409, "duplicate_callback");
    assert_eq!(duplicate["error"]["details"]["existing_id"], twin["id"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_move_needs_identical_list_fields_and_takes_the_new_campaigns_hours() {
    let app = TestApp::spawn().await;
    let accounts = create_list(&app, "Accounts", &["account_no", "postcode"]).await;
    let same_fields = create_list(&app, "Accounts again", &["postcode", "account_no"]).await;
    let regions = create_list(&app, "Regions", &["account_no", "region"]).await;
    app.patch(&format!("/campaigns/{}", app.campaign_id()), json!({"lists": [accounts]})).await.expect(200);
    let lunch_hours: Value = {
        let day = json!([["12:00", "13:00"]]);
        json!({"mon": day, "tue": day, "wed": day, "thu": day, "fri": day})
    };
    let lunch = app
        .post(
            "/campaigns",
            json!({"name": "Lunchtime", "timezone": "Europe/London", "region": "GB", "dialling_hours": lunch_hours,
                   "lists": [same_fields], "window_secs": 300}),
        )
        .await
        .expect(201);
    let lunch_queue = app.create_queue(id_of(&lunch), json!({})).await;
    let regional = app
        .post(
            "/campaigns",
            json!({"name": "Regional", "timezone": "Europe/London", "region": "GB", "dialling_hours": weekday_hours(),
                   "lists": [regions]}),
        )
        .await
        .expect(201);
    let regional_queue = app.create_queue(id_of(&regional), json!({})).await;
    let inbound = app
        .post(
            "/campaigns",
            json!({"name": "Inbound", "direction": "inbound", "timezone": "Europe/London", "region": "GB",
                   "dialling_hours": weekday_hours()}),
        )
        .await
        .expect(201);

    let cb = app
        .post(
            "/callbacks",
            app.queue_callback(
                &london(1),
                json!({"list_id": accounts, "data": {"account_no": "A1"}, "desired_time": "2026-03-03T10:07:00Z"}),
            ),
        )
        .await
        .expect(201);
    let id = cb_id(&cb);
    let path = format!("/callbacks/{id}");

    // Different fields: refused, naming the differences; nothing changes.
    let refused = app
        .patch(&path, json!({"campaign_id": id_of(&regional), "queue_id": id_of(&regional_queue)}))
        .await
        .expect_error(409, "incompatible_fields");
    let details = &refused["error"]["details"];
    assert_eq!(details["missing"], json!(["postcode"]));
    assert_eq!(details["extra"], json!(["region"]));
    assert_eq!(details["list_id"], regions);
    assert_eq!(app.get(&path).await.expect(200)["campaign_id"], app.campaign_id());
    let explicit = app
        .patch(&path, json!({"campaign_id": id_of(&regional), "queue_id": id_of(&regional_queue), "list_id": regions}))
        .await
        .expect_error(409, "incompatible_fields");
    assert_eq!(explicit["error"]["details"]["missing"], json!(["postcode"]));

    // Other refusals of a move.
    app.patch(&path, json!({"campaign_id": id_of(&lunch)})).await.expect_error(422, "queue_not_in_campaign");
    app.patch(&path, json!({"campaign_id": id_of(&inbound)})).await.expect_error(422, "campaign_not_outbound");
    app.patch(&path, json!({"campaign_id": 424242})).await.expect_error(422, "unknown_reference");

    // Identical fields (in another order): moved to that list, with the new campaign's hours,
    // window and a booking in the new queue.
    let moved =
        app.patch(&path, json!({"campaign_id": id_of(&lunch), "queue_id": id_of(&lunch_queue)})).await.expect(200);
    assert_eq!(moved["campaign_id"], id_of(&lunch));
    assert_eq!(moved["list_id"], same_fields);
    assert_eq!(moved["queue_id"], id_of(&lunch_queue));
    assert_eq!(moved["desired_time"], "2026-03-03T10:07:00Z");
    assert_eq!(moved["earliest_time"], "2026-03-03T12:00:00Z");
    assert_eq!(moved["window_secs"], 300);
    assert_eq!(moved["slot_start"], "2026-03-03T12:00:00Z");
    assert_eq!(moved["data"], json!({"account_no": "A1"}));
    let events = app.events(&id).await;
    let event = last(&events);
    assert_eq!(event["action"], "moved");
    let changes = &event["details"]["changes"];
    assert_eq!(changes["campaign_id"], json!({"from": app.campaign_id(), "to": id_of(&lunch)}));
    assert_eq!(changes["list_id"], json!({"from": accounts, "to": same_fields}));
    assert_eq!(changes["earliest_time"], json!({"from": "2026-03-03T10:07:00Z", "to": "2026-03-03T12:00:00Z"}));
    assert_eq!(changes["window_secs"], json!({"from": 120, "to": 300}));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_queued_callback_moved_to_a_campaign_closed_now_goes_back_to_scheduled() {
    let app = TestApp::spawn().await;
    let day = json!([["12:00", "13:00"]]);
    let lunch = app
        .post(
            "/campaigns",
            json!({"name": "Lunchtime", "timezone": "Europe/London", "region": "GB",
                   "dialling_hours": {"mon": day, "tue": day, "wed": day, "thu": day, "fri": day}}),
        )
        .await
        .expect(201);
    let lunch_queue = app.create_queue(id_of(&lunch), json!({})).await;
    let cb = app.post("/callbacks", app.queue_callback(&london(1), json!({}))).await.expect(201);
    let id = cb_id(&cb);
    app.drive(&id, &[Action::Promote]).await;

    let moved = app
        .patch(&format!("/callbacks/{id}"), json!({"campaign_id": id_of(&lunch), "queue_id": id_of(&lunch_queue)}))
        .await
        .expect(200);
    assert_eq!(moved["state"], "SCHEDULED");
    assert_eq!(moved["earliest_time"], "2026-03-02T12:00:00Z");
    let events = app.events(&id).await;
    let event = last(&events);
    assert_eq!(event["action"], "moved");
    assert_eq!((event["from_state"].as_str(), event["to_state"].as_str()), (Some("QUEUED"), Some("SCHEDULED")));
    assert_eq!(event["details"]["changes"]["state"], json!({"from": "QUEUED", "to": "SCHEDULED"}));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_notes_change_once_a_callback_is_routing_or_processing_and_nothing_once_completed() {
    let app = TestApp::spawn().await;
    let sibling = app.create_queue(app.campaign_id(), json!({})).await;
    let cb = scheduled(&app, 1, "2026-03-03T10:07:00Z").await;
    let id = cb_id(&cb);
    let path = format!("/callbacks/{id}");

    // QUEUED: still transferable; a due callback's past booking is released.
    app.drive(&id, &[Action::Promote]).await;
    let queued = app.patch(&path, json!({"queue_id": id_of(&sibling)})).await.expect(200);
    assert_eq!((queued["state"].as_str(), queued["queue_id"].as_i64()), (Some("QUEUED"), Some(id_of(&sibling))));
    assert_eq!(queued["slot_start"], Value::Null);

    for (action, state) in [(Action::Reserve, "ROUTING"), (Action::Accept, "PROCESSING")] {
        app.drive(&id, &[action]).await;
        let refused =
            app.patch(&path, json!({"queue_id": app.queue_id()})).await.expect_error(409, "illegal_transition");
        assert_eq!(refused["error"]["details"]["state"], state);
        assert!(refused["error"]["message"].as_str().unwrap().contains("only have its notes edited"), "{refused}");
        let noted = app.patch(&path, json!({"notes": format!("while {state}")})).await.expect(200);
        assert_eq!(
            (noted["state"].as_str(), noted["notes"].as_str()),
            (Some(state), Some(format!("while {state}").as_str()))
        );
    }
    app.drive(&id, &[Action::Finish(rebound_domain::state::CallbackResult::Agent)]).await;
    let completed = app.patch(&path, json!({"notes": "too late"})).await.expect_error(409, "illegal_transition");
    assert_eq!(completed["error"]["details"]["state"], "COMPLETED");
    assert_eq!(app.get(&path).await.expect(200)["notes"], "while PROCESSING");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reschedule_reads_a_local_time_in_the_lead_campaign_agent_or_caller_timezone() {
    let app = TestApp::spawn().await;
    let list = create_list(&app, "Asia", &[]).await;
    let lead = app
        .post("/leads", json!({"list_id": list, "phones": ["+6568364100"], "timezone": "Asia/Singapore"}))
        .await
        .expect(201);
    let agent = create_agent(&app, "nyc", "America/New_York", &[app.campaign_id()]).await;
    let cb = app
        .post(
            "/callbacks",
            json!({"type": "agent", "campaign_id": app.campaign_id(), "agent_id": agent, "phone": "+6568364100",
                   "lead_id": id_of(&lead), "desired_time": "2026-03-04T10:00:00Z"}),
        )
        .await
        .expect(201);
    assert_eq!(cb["lead_timezone"], "Asia/Singapore");
    let path = format!("/callbacks/{}/reschedule", cb_id(&cb));

    // London campaign (GMT in early March), Singapore lead (UTC+8), New York agent (EST, UTC-5),
    // a caller in Sydney (AEDT, UTC+11). Every instant is inside the campaign's 09-17 London hours
    // and the lead's 08-21 Singapore hours, so the earliest time is the desired time.
    let cases = [
        (json!({"timezone_source": "lead"}), "2026-03-03T18:00:00", "2026-03-03T10:00:00Z", "Asia/Singapore"),
        (json!({"timezone_source": "campaign"}), "2026-03-03T11:30:00", "2026-03-03T11:30:00Z", "Europe/London"),
        (json!({"timezone_source": "agent"}), "2026-03-03T07:00:00", "2026-03-03T12:00:00Z", "America/New_York"),
        (
            json!({"timezone_source": "caller", "timezone": "Australia/Sydney"}),
            "2026-03-03T22:15:00",
            "2026-03-03T11:15:00Z",
            "Australia/Sydney",
        ),
        (json!({"timezone": "Australia/Sydney"}), "2026-03-03T23:45:00", "2026-03-03T12:45:00Z", "Australia/Sydney"),
    ];
    for (mut body, local, utc, tz) in cases {
        body["desired_time"] = json!(local);
        let done = app.post(&path, body.clone()).await.expect(200);
        assert_eq!(done["desired_time"], utc, "{body}");
        assert_eq!(done["earliest_time"], utc, "{body}");
        assert_eq!(done["timezone"], tz, "{body}");
        assert_eq!(done["state"], "SCHEDULED");
    }
    // An instant with an offset is taken as it is.
    let offset = app.post(&path, json!({"desired_time": "2026-03-03T14:00:00+01:00"})).await.expect(200);
    assert_eq!(offset["desired_time"], "2026-03-03T13:00:00Z");

    let events = app.events(&cb_id(&cb)).await;
    let rescheduled: Vec<&Value> = events.iter().filter(|e| e["action"] == "rescheduled").collect();
    assert_eq!(rescheduled.len(), 6);
    assert_eq!(rescheduled[0]["actor"], app.admin_actor.as_str());
    assert_eq!(rescheduled[0]["details"]["timezone_source"], "lead");
    assert_eq!(
        rescheduled[0]["details"]["changes"]["desired_time"],
        json!({"from": "2026-03-04T10:00:00Z", "to": "2026-03-03T10:00:00Z"})
    );
    assert_eq!(rescheduled[1]["details"]["changes"]["desired_time"]["from"], "2026-03-03T10:00:00Z");

    // Sources that cannot apply are refused.
    let both = app
        .post(&path, json!({"desired_time": "2026-03-03T11:00:00", "timezone_source": "lead", "timezone": "UTC"}))
        .await
        .expect_error(422, "validation_failed");
    assert_eq!(both["error"]["details"]["field"], "timezone");
    app.post(&path, json!({"desired_time": "2026-03-03T11:00:00", "timezone_source": "caller"}))
        .await
        .expect_error(422, "validation_failed");
    app.post(&path, json!({"desired_time": "2026-03-03T11:00:00", "timezone_source": "moon"}))
        .await
        .expect_error(400, "invalid_request");
    let queue_cb = scheduled(&app, 1, "2026-03-03T10:00:00Z").await;
    let no_agent = app
        .post(
            &format!("/callbacks/{}/reschedule", cb_id(&queue_cb)),
            json!({"desired_time": "2026-03-03T11:00:00", "timezone_source": "agent"}),
        )
        .await
        .expect_error(422, "validation_failed");
    assert_eq!(no_agent["error"]["details"]["field"], "timezone_source");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reschedule_refuses_past_far_and_unreadable_times_and_anything_not_scheduled() {
    let app = TestApp::spawn().await;
    let cb = scheduled(&app, 1, "2026-03-03T10:07:00Z").await;
    let path = format!("/callbacks/{}/reschedule", cb_id(&cb));

    let past = app.post(&path, json!({"desired_time": "2026-03-01T10:00:00Z"})).await.expect_error(422, "time_in_past");
    assert_eq!(past["error"]["details"]["field"], "desired_time");
    assert!(past["error"]["message"].as_str().unwrap().contains("in the past"), "{past}");
    app.post(&path, json!({"desired_time": "2026-06-02T10:00:00Z"})).await.expect_error(422, "beyond_horizon");
    app.post(&path, json!({"desired_time": "2026-03-03T10:00:00"})).await.expect_error(422, "invalid_time");
    app.post(&path, json!({"desired_time": "2026-03-03T10:00:00", "timezone": "Mars/Olympus"}))
        .await
        .expect_error(422, "invalid_timezone");
    // 01:30 on 29 March does not exist in London; the request must say how to read it.
    let gap = json!({"desired_time": "2026-03-29T01:30:00", "timezone": "Europe/London"});
    app.post(&path, gap.clone()).await.expect_error(422, "nonexistent_local_time");
    let mut resolved = gap;
    resolved["disambiguation"] = json!("later");
    assert_eq!(app.post(&path, resolved).await.expect(200)["desired_time"], "2026-03-29T01:30:00Z");
    app.post(&path, json!({})).await.expect_error(400, "invalid_request");

    // Nothing changed by the refusals: one reschedule in the history.
    let actions = app.actions(&cb_id(&cb)).await;
    assert_eq!(actions, ["created", "rescheduled"]);

    app.drive(&cb_id(&cb), &[Action::Promote]).await;
    let queued =
        app.post(&path, json!({"desired_time": "2026-03-03T12:00:00Z"})).await.expect_error(409, "illegal_transition");
    assert_eq!(queued["error"]["details"]["state"], "QUEUED");
    assert!(queued["error"]["message"].as_str().unwrap().contains("only a SCHEDULED callback"), "{queued}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reschedule_into_a_full_slot_is_refused_with_the_nearest_free_slots() {
    let app = TestApp::spawn().await;
    let tiny = app.create_queue(app.campaign_id(), json!({"slot_capacity": 1})).await;
    let in_tiny = |n: u32, desired: &str| {
        json!({"type": "queue", "campaign_id": app.campaign_id(), "queue_id": id_of(&tiny), "phone": london(n),
               "desired_time": desired})
    };
    app.post("/callbacks", in_tiny(1, "2026-03-03T10:05:00Z")).await.expect(201);
    let mover = app.post("/callbacks", in_tiny(2, "2026-03-03T11:00:00Z")).await.expect(201);
    let path = format!("/callbacks/{}/reschedule", cb_id(&mover));

    let full = app.post(&path, json!({"desired_time": "2026-03-03T10:10:00Z"})).await.expect_error(409, "slot_full");
    let proposed = full["error"]["details"]["proposed_slots"].as_array().expect("proposed slots").clone();
    let starts: Vec<&str> = proposed.iter().map(|s| s["start"].as_str().unwrap()).collect();
    // The nearest free ones: either side of 10:00, and the mover's own 11:00 is booked.
    assert_eq!(&starts[..2], ["2026-03-03T09:45:00Z", "2026-03-03T10:15:00Z"], "{full}");
    assert!(!starts.contains(&"2026-03-03T10:00:00Z") && !starts.contains(&"2026-03-03T11:00:00Z"));
    assert_eq!(
        app.get(&format!("/callbacks/{}", cb_id(&mover))).await.expect(200)["desired_time"],
        "2026-03-03T11:00:00Z"
    );

    let moved = app.post(&path, json!({"desired_time": "2026-03-03T10:20:00Z"})).await.expect(200);
    assert_eq!(moved["slot_start"], "2026-03-03T10:15:00Z");
    assert_eq!(moved["earliest_time"], "2026-03-03T10:20:00Z");
    assert_eq!(moved["expires_at"], "2026-03-17T10:20:00Z");
    let events = app.events(&cb_id(&mover)).await;
    let changes = &last(&events)["details"]["changes"];
    assert_eq!(changes["desired_time"], json!({"from": "2026-03-03T11:00:00Z", "to": "2026-03-03T10:20:00Z"}));
    assert_eq!(changes["slot_start"], json!({"from": "2026-03-03T11:00:00Z", "to": "2026-03-03T10:15:00Z"}));
    // The freed 11:00 slot has room again.
    let freed = app.post("/callbacks", in_tiny(3, "2026-03-03T11:05:00Z")).await.expect(201);
    assert_eq!(freed["slot_start"], "2026-03-03T11:00:00Z");

    // An immediate queue callback that is rescheduled books a slot like a scheduled one.
    let immediate = app.post("/callbacks", app.queue_callback(&london(4), json!({}))).await.expect(201);
    assert_eq!(immediate["slot_start"], Value::Null);
    let booked = app
        .post(&format!("/callbacks/{}/reschedule", cb_id(&immediate)), json!({"desired_time": "2026-03-03T15:40:00Z"}))
        .await
        .expect(200);
    assert_eq!(booked["slot_start"], "2026-03-03T15:30:00Z");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_completes_by_admin_or_by_customer_with_the_reason_in_the_history() {
    let app = TestApp::spawn().await;
    let (supervisor, supervisor_actor) = app.token_and_actor(Role::Supervisor).await;
    let a = cb_id(&scheduled(&app, 1, "2026-03-03T10:00:00Z").await);
    let b = cb_id(&scheduled(&app, 2, "2026-03-03T10:00:00Z").await);
    let c = cb_id(&scheduled(&app, 3, "2026-03-03T10:00:00Z").await);

    let body = json!({"reason": "  resolved by email  "});
    let cancelled =
        app.send(Method::POST, &format!("/callbacks/{a}/cancel"), Some(&supervisor), Some(&body)).await.expect(200);
    assert_eq!(
        (cancelled["state"].as_str(), cancelled["result"].as_str()),
        (Some("COMPLETED"), Some("CANCELLED_BY_ADMIN"))
    );
    let events = app.events(&a).await;
    let event = last(&events);
    assert_eq!(event["action"], "cancelled");
    assert_eq!(event["actor"], supervisor_actor.as_str());
    assert_eq!((event["from_state"].as_str(), event["to_state"].as_str()), (Some("SCHEDULED"), Some("COMPLETED")));
    assert_eq!(event["details"], json!({"reason": "resolved by email", "by_customer": false}));

    let by_customer = app.post(&format!("/callbacks/{b}/cancel"), json!({"by_customer": true})).await.expect(200);
    assert_eq!(by_customer["result"], "CANCELLED_BY_CUSTOMER");

    // The body is optional; a QUEUED or ROUTING callback can be cancelled too.
    app.drive(&c, &[Action::Promote, Action::Reserve]).await;
    let response = app.client.post(app.url(&format!("/callbacks/{c}/cancel"))).bearer_auth(&app.admin).send().await;
    let no_body = TestApp::reply(response.unwrap()).await.expect(200);
    assert_eq!(no_body["result"], "CANCELLED_BY_ADMIN");

    let again = app.post(&format!("/callbacks/{a}/cancel"), json!({})).await.expect_error(409, "illegal_transition");
    assert_eq!(again["error"]["details"]["state"], "COMPLETED");
    assert!(again["error"]["message"].as_str().unwrap().contains("already completed"), "{again}");
    app.post(&format!("/callbacks/{a}/cancel"), json!({"reason": "x".repeat(501)}))
        .await
        .expect_error(422, "validation_failed");
    app.post("/callbacks/0190a0e4-0000-7000-8000-000000000000/cancel", json!({})).await.expect_error(404, "not_found");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_processing_callback_cannot_be_cancelled() {
    let app = TestApp::spawn().await;
    let id = cb_id(&scheduled(&app, 1, "2026-03-03T10:00:00Z").await);
    app.drive(&id, &[Action::Promote, Action::Reserve, Action::Accept]).await;
    let refused = app.post(&format!("/callbacks/{id}/cancel"), json!({})).await.expect_error(409, "illegal_transition");
    assert_eq!(refused["error"]["details"]["state"], "PROCESSING");
    let message = refused["error"]["message"].as_str().unwrap();
    assert!(message.contains("PROCESSING") && message.contains("an agent is handling it"), "{message}");
    assert_eq!(app.get(&format!("/callbacks/{id}")).await.expect(200)["state"], "PROCESSING");
    assert!(!app.actions(&id).await.contains(&"cancelled".to_string()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_an_admin_deletes_and_the_history_keeps_a_tombstone() {
    let app = TestApp::spawn().await;
    let supervisor = app.token(Role::Supervisor).await;
    let id = cb_id(&scheduled(&app, 1, "2026-03-03T10:00:00Z").await);
    let path = format!("/callbacks/{id}");

    app.send(Method::DELETE, &path, Some(&supervisor), None).await.expect_error(403, "forbidden");
    let deleted = app.delete(&path).await;
    assert_eq!(deleted.status.as_u16(), 204);
    app.get(&path).await.expect_error(404, "not_found");
    app.delete(&path).await.expect_error(404, "not_found");

    let events = app.events(&id).await;
    assert_eq!(events.iter().map(|e| e["action"].as_str().unwrap()).collect::<Vec<_>>(), ["created", "deleted"]);
    let tombstone = last(&events);
    assert_eq!(tombstone["actor"], app.admin_actor.as_str());
    assert_eq!(tombstone["from_state"], "SCHEDULED");
    assert_eq!(tombstone["at"], common::START);
    // What it was: the record itself.
    assert_eq!(tombstone["details"]["phone"], london(1));
    // The number is free again in the queue.
    scheduled(&app, 1, "2026-03-03T10:00:00Z").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recreate_makes_a_new_scheduled_callback_linked_both_ways() {
    let app = TestApp::spawn().await;
    let list = create_list(&app, "Accounts", &["account_no"]).await;
    let lead = app.post("/leads", json!({"list_id": list, "phones": ["+442079460001"]})).await.expect(201);
    let original = app
        .post(
            "/callbacks",
            app.queue_callback(
                "020 7946 0001",
                json!({"lead_id": id_of(&lead), "data": {"account_no": "A1"}, "notes": "asked twice",
                       "priority": 3, "desired_time": "2026-03-03T10:00:00Z"}),
            ),
        )
        .await
        .expect(201);
    let id = cb_id(&original);
    let path = format!("/callbacks/{id}/recreate");

    app.post(&path, json!({})).await.expect_error(409, "illegal_transition");
    app.post(&format!("/callbacks/{id}/cancel"), json!({})).await.expect(200);
    app.advance(SignedDuration::from_mins(5));

    let (supervisor, supervisor_actor) = app.token_and_actor(Role::Supervisor).await;
    let response = app.client.post(app.url(&path)).bearer_auth(&supervisor).send().await.unwrap();
    let new = TestApp::reply(response).await.expect(201);
    let new_id = cb_id(&new);
    assert_ne!(new_id, id);
    assert_eq!((new["state"].as_str(), new["origin"].as_str()), (Some("SCHEDULED"), Some("recreated")));
    assert_eq!(new["recreated_from"], id.as_str());
    for field in [
        "type",
        "phone",
        "phone_raw",
        "campaign_id",
        "list_id",
        "lead_id",
        "queue_id",
        "agent_id",
        "data",
        "notes",
        "priority",
    ] {
        assert_eq!(new[field], original[field], "{field}");
    }
    // Immediate by default: now, no booking.
    assert_eq!(new["desired_time"], "2026-03-02T10:05:00Z");
    assert_eq!(new["slot_start"], Value::Null);
    assert_eq!(new["created_by"], supervisor_actor.as_str());

    let original_now = app.get(&format!("/callbacks/{id}")).await.expect(200);
    assert_eq!(original_now["recreated_as"], new_id.as_str());
    assert_eq!(app.actions(&id).await, ["created", "cancelled", "recreated"]);
    let new_events = app.events(&new_id).await;
    assert_eq!(new_events.len(), 1);
    assert_eq!(new_events[0]["action"], "created");
    assert_eq!(new_events[0]["details"]["recreated_from"], id.as_str());

    let twice = app.post(&path, json!({})).await.expect_error(409, "already_recreated");
    assert_eq!(twice["error"]["details"]["recreated_as"], new_id.as_str());

    // With a time and new notes: scheduled into a slot.
    let other = cb_id(&scheduled(&app, 2, "2026-03-03T10:00:00Z").await);
    app.post(&format!("/callbacks/{other}/cancel"), json!({})).await.expect(200);
    let later = app
        .post(
            &format!("/callbacks/{other}/recreate"),
            json!({"desired_time": "2026-03-05T14:10:00", "timezone": "Europe/London", "notes": "second try"}),
        )
        .await
        .expect(201);
    assert_eq!(later["desired_time"], "2026-03-05T14:10:00Z");
    assert_eq!(later["slot_start"], "2026-03-05T14:00:00Z");
    assert_eq!(later["notes"], "second try");
    app.post(&format!("/callbacks/{other}/recreate"), json!({"desired_time": "2020-01-01T00:00:00Z"}))
        .await
        .expect_error(409, "already_recreated");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recreate_with_an_idempotency_key_answers_its_first_result_when_retried() {
    let app = TestApp::spawn().await;
    let a = cb_id(&scheduled(&app, 1, "2026-03-03T10:00:00Z").await);
    let b = cb_id(&scheduled(&app, 2, "2026-03-03T10:00:00Z").await);
    for id in [&a, &b] {
        app.post(&format!("/callbacks/{id}/cancel"), json!({})).await.expect(200);
    }
    let first = app.post_idempotent(&format!("/callbacks/{a}/recreate"), "retry-1", &json!({})).await;
    assert!(first.headers.get("idempotent-replayed").is_none());
    let first = first.expect(201);
    let retried = app.post_idempotent(&format!("/callbacks/{a}/recreate"), "retry-1", &json!({})).await;
    assert_eq!(retried.headers.get("idempotent-replayed").map(|v| v.to_str().unwrap()), Some("true"));
    assert_eq!(retried.expect(201)["id"], first["id"]);
    // The same key for another original is a different request.
    app.post_idempotent(&format!("/callbacks/{b}/recreate"), "retry-1", &json!({}))
        .await
        .expect_error(409, "idempotency_key_reused");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn monitors_change_nothing_and_supervisors_do_not_delete() {
    let app = TestApp::spawn().await;
    let monitor = app.token(Role::Monitor).await;
    let agent = app.token(Role::Agent).await;
    let supervisor = app.token(Role::Supervisor).await;
    let id = cb_id(&scheduled(&app, 1, "2026-03-03T10:00:00Z").await);
    let writes: Vec<(Method, String, Option<Value>)> = vec![
        (Method::PATCH, format!("/callbacks/{id}"), Some(json!({"notes": "x"}))),
        (Method::POST, format!("/callbacks/{id}/reschedule"), Some(json!({"desired_time": "2026-03-03T11:00:00Z"}))),
        (Method::POST, format!("/callbacks/{id}/cancel"), Some(json!({}))),
        (Method::POST, format!("/callbacks/{id}/recreate"), Some(json!({}))),
        (Method::DELETE, format!("/callbacks/{id}"), None),
        (Method::POST, "/callbacks/bulk-cancel".into(), Some(json!({"ids": [id]}))),
    ];
    for token in [&monitor, &agent] {
        for (method, path, body) in &writes {
            let reply = app.send(method.clone(), path, Some(token), body.as_ref()).await;
            reply.expect_error(403, "forbidden");
        }
        // Unreadable bodies still get 403 first: the role is checked before the body is read.
        app.send(Method::PATCH, &format!("/callbacks/{id}"), Some(token), Some(&json!({"colour": 1})))
            .await
            .expect_error(403, "forbidden");
    }
    for path in ["/callbacks.csv", "/reports/cancellations/nothing.csv"] {
        let (status, _, _) = app.get_csv(path, &monitor).await;
        assert_eq!(status.as_u16(), 403, "{path}");
    }
    // Monitors still read.
    app.send(Method::GET, &format!("/callbacks/{id}/events"), Some(&monitor), None).await.expect(200);
    assert_eq!(app.actions(&id).await, ["created"]);

    app.send(Method::DELETE, &format!("/callbacks/{id}"), Some(&supervisor), None).await.expect_error(403, "forbidden");
    app.send(Method::PATCH, &format!("/callbacks/{id}"), Some(&supervisor), Some(&json!({"notes": "ok"})))
        .await
        .expect(200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_history_tells_who_did_what_from_creation_to_deletion() {
    let app = TestApp::spawn().await;
    let (supervisor, supervisor_actor) = app.token_and_actor(Role::Supervisor).await;
    let elsewhere = app.create_campaign("Elsewhere", "Europe/London", "GB").await;
    let elsewhere_queue = app.create_queue(id_of(&elsewhere), json!({})).await;
    let sibling = app.create_queue(app.campaign_id(), json!({})).await;
    let as_supervisor = |method: Method, path: String, body: Value| {
        let app = &app;
        let supervisor = supervisor.clone();
        async move { app.send(method, &path, Some(&supervisor), Some(&body)).await }
    };
    let id = cb_id(&scheduled(&app, 1, "2026-03-03T10:00:00Z").await);
    let path = format!("/callbacks/{id}");
    as_supervisor(Method::PATCH, path.clone(), json!({"notes": "vip"})).await.expect(200);
    as_supervisor(Method::PATCH, path.clone(), json!({"queue_id": id_of(&sibling)})).await.expect(200);
    as_supervisor(
        Method::PATCH,
        path.clone(),
        json!({"campaign_id": id_of(&elsewhere), "queue_id": id_of(&elsewhere_queue)}),
    )
    .await
    .expect(200);
    as_supervisor(Method::POST, format!("{path}/reschedule"), json!({"desired_time": "2026-03-04T10:00:00Z"}))
        .await
        .expect(200);
    as_supervisor(Method::POST, format!("{path}/cancel"), json!({"reason": "duplicate request"})).await.expect(200);
    let new = app.post(&format!("{path}/recreate"), json!({})).await.expect(201);
    assert_eq!(app.delete(&path).await.status.as_u16(), 204);

    let events = app.events(&id).await;
    let story: Vec<(&str, &str)> =
        events.iter().map(|e| (e["action"].as_str().unwrap(), e["actor"].as_str().unwrap())).collect();
    let (admin, sup) = (app.admin_actor.as_str(), supervisor_actor.as_str());
    assert_eq!(
        story,
        [
            ("created", admin),
            ("edited", sup),
            ("transferred", sup),
            ("moved", sup),
            ("rescheduled", sup),
            ("cancelled", sup),
            ("recreated", admin),
            ("deleted", admin),
        ]
    );
    // The recreated one lives on and still names its original.
    assert_eq!(app.get(&format!("/callbacks/{}", cb_id(&new))).await.expect(200)["recreated_from"], id.as_str());
    assert!(events.iter().all(|e| e["at"].is_string() && ts(e["at"].as_str().unwrap()) >= ts(common::START)));
}
