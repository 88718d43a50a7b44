//! One callback's dialogs in a real browser: headless Chromium through chromedriver against a real
//! `rebound serve` process. A supervisor works from the options menu of the list's rows: opens the
//! details with the keyboard and the advanced metrics (the history), the lead's details, creates a
//! scheduled callback in an available slot, edits one with a timezone change, reschedules one into
//! a slot, cancels one and recreates it. Every change is checked through the API.
//!
//! Needs `chromium` and `chromium-driver` (`.ci/run` installs them); without them the test fails
//! and says so.

mod common;

use std::time::{Duration, Instant};

use common::ServeProcess;
use common::browser::{browser, screenshot, sign_in, start_chromedriver};
use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{Timestamp, Zoned};
use serde_json::{Value, json};
use thirtyfour::components::SelectElement;
use thirtyfour::prelude::*;

const TOKEN: &str = "browser-dialogs-bootstrap-token-0123456789";
const PASSWORD: &str = "browser-dialogs-password-0123";
const LONDON: &str = "Europe/London";

/// The API as the bootstrap admin token.
struct Api {
    base: String,
    http: reqwest::Client,
}

impl Api {
    async fn send(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut request = self.http.request(method, format!("{}/api/v1{path}", self.base)).bearer_auth(TOKEN);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        assert!(status.is_success(), "{path}: {status} {body}");
        body
    }

    async fn post(&self, path: &str, body: Value) -> Value {
        self.send(reqwest::Method::POST, path, Some(body)).await
    }

    async fn get(&self, path: &str) -> Value {
        self.send(reqwest::Method::GET, path, None).await
    }

    /// Reads `path` until `done` holds (the browser's request may still be on its way), at most 15 s.
    async fn until(&self, path: &str, what: &str, done: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let value = self.get(path).await;
            if done(&value) {
                return value;
            }
            assert!(Instant::now() < deadline, "{what}: {path} is still {value}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// What the test works on.
struct Fixture {
    lead_name: &'static str,
    /// Scheduled tomorrow 14:00 London, with a lead: details, lead details, edit.
    a: String,
    /// Scheduled tomorrow 15:00 London: reschedule.
    b: String,
    /// Scheduled tomorrow 16:00 London: cancel, then recreate.
    c: String,
    tomorrow: Date,
}

async fn seed(api: &Api) -> Fixture {
    let all_day = json!([["00:00", "24:00"]]);
    let days = json!({"mon": all_day, "tue": all_day, "wed": all_day, "thu": all_day, "fri": all_day,
                      "sat": all_day, "sun": all_day});
    let list = api.post("/lists", json!({"name": "Walk-ins"})).await;
    let campaign = api
        .post(
            "/campaigns",
            json!({"name": "Retail London", "direction": "outbound", "timezone": LONDON, "region": "GB",
                   "running": true, "dialling_hours": days, "lead_calling_hours": ["00:00", "24:00"],
                   "lists": [list["id"]]}),
        )
        .await;
    let queue = api
        .post(
            "/queues",
            json!({"name": "Retail callbacks", "campaign_id": campaign["id"], "slot_minutes": 15, "slot_capacity": 100}),
        )
        .await;
    let lead_name = "Grace Hopper";
    let lead = api.post("/leads", json!({"list_id": list["id"], "name": lead_name, "phones": ["+442079460201"]})).await;
    api.post(
        "/users",
        json!({"username": "sam", "display_name": "Sam", "role": "supervisor", "password": PASSWORD,
               "timezone": "America/New_York"}),
    )
    .await;
    let tomorrow = Zoned::now().with_time_zone(TimeZone::get(LONDON).unwrap()).date().tomorrow().unwrap();
    let mut ids = Vec::new();
    for (hour, phone, lead_id) in
        [(14, "020 7946 0201", Some(&lead["id"])), (15, "020 7946 0202", None), (16, "020 7946 0203", None)]
    {
        let mut body = json!({"type": "queue", "campaign_id": campaign["id"], "queue_id": queue["id"], "phone": phone,
                              "desired_time": format!("{tomorrow}T{hour}:00:00"), "timezone": LONDON});
        if let Some(lead_id) = lead_id {
            body["lead_id"] = lead_id.clone();
        }
        ids.push(api.post("/callbacks", body).await["id"].as_str().unwrap().to_string());
    }
    let c = ids.pop().unwrap();
    let b = ids.pop().unwrap();
    let a = ids.pop().unwrap();
    Fixture { lead_name, a, b, c, tomorrow }
}

/// `date` at `hour:minute` in London, as the API writes instants.
fn london(date: Date, hour: i8, minute: i8) -> String {
    date.at(hour, minute, 0, 0).to_zoned(TimeZone::get(LONDON).unwrap()).unwrap().timestamp().to_string()
}

async fn js(driver: &WebDriver, script: &str) -> WebDriverResult<Value> {
    Ok(driver.execute(script, Vec::<Value>::new()).await?.json().clone())
}

/// Waits (at most 15 s) until `script` returns true.
async fn until(driver: &WebDriver, script: &str, what: &str) -> WebDriverResult<()> {
    let deadline = Instant::now() + Duration::from_secs(15);
    while js(driver, &format!("return Boolean({script});")).await? != Value::Bool(true) {
        if Instant::now() > deadline {
            return Err(WebDriverError::FatalError(format!("timed out waiting for {what}")));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(())
}

const DIALOG_OPEN: &str = "document.querySelector('dialog#console-dialog[open] .dialog-content')";

/// Opens the options menu of row `id` and follows its `action` link into the dialog.
async fn row_action(driver: &WebDriver, id: &str, action: &str) -> WebDriverResult<()> {
    let row = format!(r#"tr[data-id="{id}"]"#);
    let menu = driver.query(By::Css(format!("{row} details.row-menu"))).first().await?;
    if menu.attr("open").await?.is_none() {
        menu.find(By::Css("summary")).await?.click().await?;
    }
    driver.query(By::Css(format!("{row} a.action-{action}"))).and_displayed().first().await?.click().await?;
    until(driver, DIALOG_OPEN, &format!("the {action} dialog")).await
}

/// Sets an input's value as typing would (the browser's date and time pickers type by locale).
async fn set_value(driver: &WebDriver, id: &str, value: &str) -> WebDriverResult<()> {
    let script = format!(
        "const e = document.getElementById({id:?}); e.value = {value:?}; \
         e.dispatchEvent(new Event('input', {{bubbles: true}})); e.dispatchEvent(new Event('change', {{bubbles: true}}));"
    );
    js(driver, &script).await.map(|_| ())
}

async fn value_of(driver: &WebDriver, id: &str) -> WebDriverResult<String> {
    Ok(js(driver, &format!("return document.getElementById({id:?}).value;")).await?.as_str().unwrap_or("").to_string())
}

/// Clicks the submit button `id` of a dialog's form and waits for the change to go through: the
/// dialog closes and the page it was opened on reloads (a mark set before is gone). A refusal keeps
/// the dialog open; its text is the error.
async fn submit(driver: &WebDriver, id: &str) -> WebDriverResult<()> {
    js(driver, "window.__reboundBefore = true;").await?;
    driver.find(By::Id(id)).await?.click().await?;
    let reloaded = "window.__reboundBefore === undefined && document.readyState === 'complete' \
                    && document.querySelector('table#callbacks') && !document.querySelector('dialog#console-dialog[open]')";
    if let Err(e) = until(driver, reloaded, &format!("{id} to go through")).await {
        let dialog =
            js(driver, "const d = document.getElementById('console-dialog'); return d ? d.innerText : '';").await?;
        return Err(WebDriverError::FatalError(format!("{e}; the dialog says: {dialog}")));
    }
    Ok(())
}

/// What the browser saw, checked after it closes.
#[derive(Debug, Default)]
struct Seen {
    focus_in_dialog: bool,
    history_rows: Vec<String>,
    closed_by_escape: bool,
    focus_back_on_opener: bool,
    focused_after_escape: String,
    lead_name: String,
    slot_sets_time: (String, String),
    overflow: bool,
    fields_disabled_before_override: bool,
    fields_enabled_after_override: bool,
    zone_choice_keeps_instant: (String, String),
    created_slot: String,
    rescheduled_slot: String,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_supervisor_works_callbacks_through_the_row_menu_dialogs() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServeProcess::start(
        &dir.path().join("data"),
        &[("REBOUND_BOOTSTRAP_TOKEN", TOKEN), ("REBOUND_BOOTSTRAP_PASSWORD", PASSWORD)],
    );
    let api = Api { base: server.base.clone(), http: reqwest::Client::new() };
    let fixture = seed(&api).await;
    let (_chromedriver, driver_url) = start_chromedriver().await;
    let driver = browser(&driver_url, &dir.path().join("profile")).await;

    let mut seen = Seen::default();
    let outcome = work(&driver, &api, &fixture, &mut seen).await;
    let shot = screenshot(&driver, dir.path(), "last-page").await;
    let kept = std::env::temp_dir().join("rebound-dialogs-last-page.png");
    let _ = std::fs::copy(&shot, &kept);
    driver.quit().await.ok();
    outcome
        .unwrap_or_else(|e| panic!("browser step failed: {e}; seen so far: {seen:?}; last page: {}", kept.display()));

    // Keyboard: the dialog took focus, Escape closed it and focus went back to the menu link.
    assert!(seen.focus_in_dialog && seen.closed_by_escape && seen.focus_back_on_opener, "{seen:?}");
    assert!(seen.history_rows.first().is_some_and(|r| r.contains("created")), "{:?}", seen.history_rows);
    assert_eq!(seen.lead_name, fixture.lead_name);
    assert!(!seen.overflow, "the page scrolls sideways at 1280×800");
    assert_eq!(seen.slot_sets_time.0, seen.slot_sets_time.1, "choosing a slot sets the time");
    assert!(seen.fields_disabled_before_override && seen.fields_enabled_after_override, "{seen:?}");
    assert_eq!(seen.zone_choice_keeps_instant, ("14:00".to_string(), fixture.tomorrow.to_string()));

    // The changes, as the API sees them.
    let created = api.get("/callbacks?phone=02079460299").await;
    assert_eq!(created["items"][0]["desired_time"].as_str(), Some(seen.created_slot.as_str()));
    assert_eq!(created["items"][0]["created_by"], "user:sam");
    let a = api.get(&format!("/callbacks/{}", fixture.a)).await;
    assert_eq!(a["desired_time"].as_str().unwrap(), london(fixture.tomorrow, 16, 30), "read in the campaign's zone");
    let events = api.get(&format!("/callbacks/{}/events", fixture.a)).await;
    let last = events.as_array().unwrap().last().unwrap().clone();
    assert_eq!(
        (last["action"].as_str(), last["details"]["timezone_source"].as_str()),
        (Some("rescheduled"), Some("campaign"))
    );
    let b = api.get(&format!("/callbacks/{}", fixture.b)).await;
    assert_eq!(b["desired_time"].as_str(), Some(seen.rescheduled_slot.as_str()));
    let c = api.get(&format!("/callbacks/{}", fixture.c)).await;
    assert_eq!((c["state"].as_str(), c["result"].as_str()), (Some("COMPLETED"), Some("CANCELLED_BY_ADMIN")));
    let recreated = api.get(&format!("/callbacks/{}", c["recreated_as"].as_str().expect("recreated"))).await;
    assert_eq!((recreated["origin"].as_str(), recreated["phone"].as_str()), (Some("recreated"), Some("+442079460203")));
    drop(server);
}

async fn work(driver: &WebDriver, api: &Api, f: &Fixture, seen: &mut Seen) -> WebDriverResult<()> {
    sign_in(driver, &api.base, "sam", PASSWORD).await?;
    driver.query(By::Css(format!(r#"tr[data-id="{}"]"#, f.a))).first().await?;

    // Details by keyboard: the menu opens with Enter, its link opens the dialog, which takes focus.
    let summary = driver.find(By::Css(format!(r#"tr[data-id="{}"] details.row-menu > summary"#, f.a))).await?;
    summary.focus().await?;
    summary.send_keys(Key::Enter).await?;
    let details_link =
        driver.query(By::Css(format!(r#"tr[data-id="{}"] a.action-details"#, f.a))).and_displayed().first().await?;
    screenshot(driver, &screens(), "rebound-dialog-row-menu").await;
    details_link.send_keys(Key::Enter).await?;
    until(driver, "document.querySelector('#console-dialog section.callback-details')", "the details").await?;
    seen.focus_in_dialog =
        js(driver, "return document.getElementById('console-dialog').contains(document.activeElement);").await?
            == Value::Bool(true);
    driver.find(By::Css("#advanced-metrics > summary")).await?.click().await?;
    for row in driver.find_all(By::Css("table#history tbody tr")).await? {
        if row.is_displayed().await? {
            seen.history_rows.push(row.text().await?);
        }
    }
    screenshot(driver, &screens(), "rebound-dialog-callback-details").await;
    driver.action_chain().send_keys(Key::Escape).perform().await?;
    until(driver, "!document.querySelector('dialog#console-dialog[open]')", "Escape to close the dialog").await?;
    seen.closed_by_escape = true;
    // The dialog's close event puts the focus back; it runs just after the dialog closes.
    // The menu item's menu closes with its dialog; focus goes back to the menu's button.
    let back = "document.activeElement && document.activeElement.matches('details.row-menu:not([open]) > summary')";
    seen.focus_back_on_opener = until(driver, back, "the focus to return").await.is_ok();
    let focused = js(driver, "return document.activeElement ? document.activeElement.outerHTML : '';").await?;
    seen.focused_after_escape = focused.as_str().unwrap_or("").chars().take(200).collect();

    // Lead details.
    row_action(driver, &f.a, "lead").await?;
    seen.lead_name = driver.query(By::Id("lead-name")).first().await?.text().await?;
    driver.action_chain().send_keys(Key::Escape).perform().await?;
    until(driver, "!document.querySelector('dialog#console-dialog[open]')", "the lead dialog to close").await?;

    create_in_a_slot(driver, f, seen).await?;
    edit_with_a_timezone_change(driver, api, f, seen).await?;
    reschedule_into_a_slot(driver, api, f, seen).await?;

    // Cancel C, then recreate it.
    row_action(driver, &f.c, "cancel").await?;
    driver.find(By::Id("cb-reason")).await?.send_keys("asked by phone").await?;
    submit(driver, "confirm-cancel").await?;
    api.until(&format!("/callbacks/{}", f.c), "cancelled", |c| c["state"] == "COMPLETED").await;
    row_action(driver, &f.c, "recreate").await?;
    submit(driver, "confirm-recreate").await?;
    api.until(&format!("/callbacks/{}", f.c), "recreated", |c| c["recreated_as"].is_string()).await;
    Ok(())
}

/// Where screenshots of the dialogs go: `$REBOUND_SCREENSHOT_DIR` when set (for the docs), else a
/// temporary directory.
fn screens() -> std::path::PathBuf {
    std::env::var_os("REBOUND_SCREENSHOT_DIR").map_or_else(std::env::temp_dir, Into::into)
}

async fn create_in_a_slot(driver: &WebDriver, f: &Fixture, seen: &mut Seen) -> WebDriverResult<()> {
    // The list's own "New callback" button.
    driver.find(By::Css(r#"a#new-callback[href="/callbacks/new"][data-dialog]"#)).await?.click().await?;
    until(driver, "document.querySelector('#console-dialog form#create-callback')", "the create dialog").await?;
    driver.find(By::Id("cb-when-scheduled")).await?.click().await?;
    driver.find(By::Id("cb-phone")).await?.send_keys("020 7946 0299").await?;
    set_value(driver, "cb-date", &f.tomorrow.to_string()).await?;
    SelectElement::new(&driver.find(By::Id("cb-timezone")).await?).await?.select_by_value(LONDON).await?;
    driver.find(By::Id("show-slots")).await?.click().await?;
    let slot = london(f.tomorrow, 10, 0);
    let radio = driver.query(By::Css(format!(r#"#console-dialog input[name="slot"][value="{slot}"]"#))).first().await?;
    radio.click().await?;
    seen.slot_sets_time = (value_of(driver, "cb-time").await?, "10:00".to_string());
    seen.overflow =
        js(driver, "return document.documentElement.scrollWidth > window.innerWidth;").await? == Value::Bool(true);
    screenshot(driver, &screens(), "rebound-dialog-create-callback").await;
    submit(driver, "create-submit").await?;
    seen.created_slot = slot;
    Ok(())
}

async fn edit_with_a_timezone_change(
    driver: &WebDriver,
    api: &Api,
    f: &Fixture,
    seen: &mut Seen,
) -> WebDriverResult<()> {
    row_action(driver, &f.a, "edit").await?;
    let disabled = "document.getElementById('override-fields').disabled";
    seen.fields_disabled_before_override = js(driver, &format!("return {disabled};")).await? == Value::Bool(true);
    driver.find(By::Id("override")).await?.click().await?;
    seen.fields_enabled_after_override = js(driver, &format!("return {disabled};")).await? == Value::Bool(false);
    // The time shown in "mine" (New York) becomes the same instant as the campaign (London) reads it.
    SelectElement::new(&driver.find(By::Id("timezone-choice")).await?).await?.select_by_value("campaign").await?;
    seen.zone_choice_keeps_instant = (value_of(driver, "cb-time").await?, value_of(driver, "cb-date").await?);
    set_value(driver, "cb-time", "16:30").await?;
    screenshot(driver, &screens(), "rebound-dialog-edit-callback").await;
    submit(driver, "edit-submit").await?;
    let expected = london(f.tomorrow, 16, 30);
    api.until(&format!("/callbacks/{}", f.a), "edited", |c| c["desired_time"] == expected.as_str()).await;
    Ok(())
}

async fn reschedule_into_a_slot(driver: &WebDriver, api: &Api, f: &Fixture, seen: &mut Seen) -> WebDriverResult<()> {
    row_action(driver, &f.b, "reschedule").await?;
    let day_after = f.tomorrow.tomorrow().unwrap();
    set_value(driver, "cb-date", &day_after.to_string()).await?;
    driver.find(By::Id("show-slots")).await?.click().await?;
    // The day's slots in "mine" (New York): take the one at 09:00 there.
    let radio = driver
        .query(By::Css(r#"#console-dialog input[name="slot"][data-time="09:00"]:not(:disabled)"#))
        .first()
        .await?;
    let slot = radio.attr("value").await?.unwrap_or_default();
    radio.click().await?;
    screenshot(driver, &screens(), "rebound-dialog-reschedule-callback").await;
    submit(driver, "reschedule-submit").await?;
    api.until(&format!("/callbacks/{}", f.b), "rescheduled", |c| c["desired_time"] == slot.as_str()).await;
    let expected = Zoned::new(slot.parse::<Timestamp>().unwrap(), TimeZone::get("America/New_York").unwrap());
    assert_eq!(expected.strftime("%Y-%m-%d %H:%M").to_string(), format!("{day_after} 09:00"));
    seen.rescheduled_slot = slot;
    Ok(())
}
