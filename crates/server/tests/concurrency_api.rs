//! Races over HTTP: single cancels, reschedules, notes edits and a bulk cancel running at the same
//! time as the engine's lifecycle steps (promote → reserve → accept, straight on the store). Whatever
//! the interleaving, every callback's history is a walk the transition table allows, its stored
//! state is where that walk ends, nothing is cancelled twice or while PROCESSING, and every
//! operation that answered success left its audit event.

mod common;

use std::collections::HashMap;
use std::sync::Arc;

use common::TestApp;
use jiff::SignedDuration;
use rebound_domain::access::Role;
use rebound_domain::state::{Action, CallbackState, Status, transition};
use reqwest::Method;
use serde_json::{Value, json};

const N: usize = 80;

fn state(v: &Value) -> Option<CallbackState> {
    v.as_str().and_then(CallbackState::parse)
}

/// Whether one history line is a move the lifecycle allows.
fn legal(action: &str, from: CallbackState, to: CallbackState) -> bool {
    let status = Status { state: from, result: None };
    let step = |a: Action| transition(status, a).map(|s| s.state) == Ok(to);
    match action {
        "promote" => step(Action::Promote),
        "reserve" => step(Action::Reserve),
        "accept" => step(Action::Accept),
        "cancelled" => step(Action::Cancel { by_customer: false }),
        "rescheduled" => step(Action::Reschedule),
        // Notes-only edits keep the state, and never touch a completed callback.
        "edited" => from == to && from != CallbackState::Completed,
        _ => false,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancels_reschedules_and_a_bulk_cancel_racing_with_the_engine_stay_legal_and_audited() {
    let app = Arc::new(TestApp::spawn().await);
    let queue = app.create_queue(app.campaign_id(), json!({"slot_capacity": 1000})).await;
    let queue_id = queue["id"].as_i64().unwrap();
    let mut ids = Vec::with_capacity(N);
    for i in 0..N {
        let desired = common::ts("2026-03-03T09:00:00Z").checked_add(SignedDuration::from_mins(i as i64)).unwrap();
        let cb = app
            .post(
                "/callbacks",
                json!({"type": "queue", "campaign_id": app.campaign_id(), "queue_id": queue_id,
                       "phone": format!("+44207946{i:04}"), "desired_time": desired.to_string()}),
            )
            .await
            .expect(201);
        ids.push(cb["id"].as_str().unwrap().to_string());
    }
    let ids = Arc::new(ids);
    let (canceller, canceller_actor) = app.token_and_actor(Role::Supervisor).await;
    let (rescheduler, rescheduler_actor) = app.token_and_actor(Role::Supervisor).await;
    let (editor, editor_actor) = app.token_and_actor(Role::Supervisor).await;

    // Per callback, the engine's steps and the HTTP operations start together, so they contend
    // for the same record; the bulk cancel runs across all of them meanwhile.
    let bulk = {
        let (app, ids) = (app.clone(), ids.clone());
        tokio::spawn(async move {
            let every_fourth: Vec<&String> = ids.iter().step_by(4).collect();
            app.post("/callbacks/bulk-cancel", json!({"ids": every_fourth, "reason": "bulk race"})).await.expect(200)
        })
    };
    let mut engine_tasks = Vec::new();
    let mut http_tasks = Vec::new();
    for i in 0..N {
        let (app_, ids_) = (app.clone(), ids.clone());
        engine_tasks.push(tokio::spawn(async move {
            let mut done: Vec<(usize, &'static str)> = Vec::new();
            // The engine's direct store calls beat any HTTP request to a callback, so it leaves a
            // quarter alone: there reschedules race only with edits and cancels, and can succeed.
            if i % 4 == 2 {
                return done;
            }
            for (action, name) in
                [(Action::Promote, "promote"), (Action::Reserve, "reserve"), (Action::Accept, "accept")]
            {
                if app_.step(&ids_[i], action).await.is_err() {
                    break;
                }
                done.push((i, name));
            }
            done
        }));
        let ops: [(&str, &String, bool); 3] = [
            ("cancel", &canceller, i % 3 == 0),
            ("reschedule", &rescheduler, i % 2 == 0),
            ("edit", &editor, i % 5 == 0),
        ];
        for (op, token, wanted) in ops {
            if !wanted {
                continue;
            }
            let (app, ids, token) = (app.clone(), ids.clone(), token.clone());
            http_tasks.push(tokio::spawn(async move {
                let (method, path, body) = match op {
                    "cancel" => (Method::POST, format!("/callbacks/{}/cancel", ids[i]), json!({"reason": "race"})),
                    "reschedule" => (
                        Method::POST,
                        format!("/callbacks/{}/reschedule", ids[i]),
                        json!({"desired_time": format!("2026-03-04T10:{:02}:00Z", i % 60)}),
                    ),
                    _ => (Method::PATCH, format!("/callbacks/{}", ids[i]), json!({"notes": format!("note {i}")})),
                };
                let reply = app.send(method, &path, Some(&token), Some(&body)).await;
                // Only success or a state conflict are acceptable answers.
                match reply.status.as_u16() {
                    200 => (op, i, true),
                    409 => {
                        assert!(["illegal_transition", "conflict"].contains(&reply.code()), "{op} {i}: {}", reply.body);
                        (op, i, false)
                    }
                    other => panic!("{op} {i} answered {other}: {}", reply.body),
                }
            }));
        }
    }
    let mut engine = Vec::new();
    for task in engine_tasks {
        engine.extend(task.await.unwrap());
    }
    let (mut cancels, mut reschedules, mut edits) = (Vec::new(), Vec::new(), Vec::new());
    for task in http_tasks {
        match task.await.unwrap() {
            ("cancel", i, true) => cancels.push(i),
            ("reschedule", i, true) => reschedules.push(i),
            ("edit", i, true) => edits.push(i),
            _ => {}
        }
    }
    let bulk = bulk.await.unwrap();

    let mut cancelled_by_bulk = 0;
    let mut engine_steps: HashMap<(usize, &str), usize> = HashMap::new();
    for (i, id) in ids.iter().enumerate() {
        let events = app.events(id).await;
        assert_eq!(events[0]["action"], "created");
        assert_eq!(
            (events[0]["from_state"].clone(), state(&events[0]["to_state"])),
            (Value::Null, Some(CallbackState::Scheduled))
        );
        for pair in events.windows(2) {
            let (before, event) = (&pair[0], &pair[1]);
            let action = event["action"].as_str().unwrap();
            let (from, to) = (state(&event["from_state"]).unwrap(), state(&event["to_state"]).unwrap());
            assert_eq!(state(&before["to_state"]), Some(from), "callback {i}: history is not a chain: {events:#?}");
            assert!(legal(action, from, to), "callback {i}: {action} {from} -> {to} is not allowed: {events:#?}");
        }
        let stored = app.get(&format!("/callbacks/{id}")).await.expect(200);
        let last = events.last().unwrap();
        assert_eq!(state(&stored["state"]), state(&last["to_state"]), "callback {i}");

        let by =
            |action: &str, actor: &str| events.iter().filter(|e| e["action"] == action && e["actor"] == actor).count();
        let cancelled: Vec<&Value> = events.iter().filter(|e| e["action"] == "cancelled").collect();
        assert!(cancelled.len() <= 1, "callback {i} cancelled twice");
        if cancelled.is_empty() {
            assert_ne!(stored["result"], "CANCELLED_BY_ADMIN");
        } else {
            assert_eq!(stored["result"], "CANCELLED_BY_ADMIN");
        }
        assert_eq!(by("cancelled", &canceller_actor), usize::from(cancels.contains(&i)), "callback {i}");
        assert_eq!(by("rescheduled", &rescheduler_actor), usize::from(reschedules.contains(&i)), "callback {i}");
        assert_eq!(by("edited", &editor_actor), usize::from(edits.contains(&i)), "callback {i}");
        cancelled_by_bulk += by("cancelled", &app.admin_actor);
        for name in ["promote", "reserve", "accept"] {
            engine_steps.insert((i, name), by(name, "engine"));
        }
    }
    assert_eq!(bulk["cancelled"].as_u64(), Some(cancelled_by_bulk as u64), "{bulk}");
    for skipped in bulk["skipped"].as_array().unwrap() {
        assert!(["PROCESSING", "COMPLETED"].contains(&skipped["state"].as_str().unwrap()), "{skipped}");
    }
    for (i, name) in &engine {
        assert_eq!(engine_steps[&(*i, *name)], 1, "engine step {name} of callback {i}");
    }
    assert_eq!(engine_steps.values().sum::<usize>(), engine.len());
    // Something of each kind happened, so the race was a race.
    assert!(!engine.is_empty() && !cancels.is_empty() && !reschedules.is_empty() && !edits.is_empty());
}
