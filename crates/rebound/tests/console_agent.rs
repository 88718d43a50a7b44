//! The agent view and the dashboard in a real browser (headless Chromium through chromedriver)
//! against a real `rebound serve` with its real engine: an agent signs in, goes ready, receives an
//! offer live (the page follows the agent's event stream; it does not reload), accepts it, records
//! an outcome and sees only their own callbacks; a supervisor opens the dashboard and the chart
//! shows the bars the fixture calls for.
//!
//! Needs `chromium` and `chromium-driver` (`.ci/run` installs them); fails, never skips, without them.

mod common;

use std::path::Path;
use std::time::Duration;

use common::ServeProcess;
use common::browser::{browser, screenshot, sign_in, start_chromedriver};
use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};
use thirtyfour::prelude::*;

const TOKEN: &str = "browser-agent-test-bootstrap-token-0123456789";
const PASSWORD: &str = "browser-agent-test-password-0123";
/// How long a live change may take to reach the page (the engine and the stream are immediate;
/// this only bounds a slow machine).
const LIVE: Duration = Duration::from_secs(20);

struct Api {
    http: reqwest::Client,
    base: String,
}

impl Api {
    async fn send(&self, method: reqwest::Method, path: &str, body: Value) -> Value {
        let request = self.http.request(method, format!("{}/api/v1{path}", self.base)).bearer_auth(TOKEN).json(&body);
        let response = request.send().await.unwrap();
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        assert!(status.is_success(), "{path}: {status} {body}");
        body
    }

    async fn post(&self, path: &str, body: Value) -> Value {
        self.send(reqwest::Method::POST, path, body).await
    }

    async fn get(&self, path: &str) -> Value {
        let request = self.http.get(format!("{}/api/v1{path}", self.base)).bearer_auth(TOKEN);
        request.send().await.unwrap().json().await.unwrap()
    }
}

/// A fixed-offset zone in which it is now about noon, so "today" has hours on either side of now
/// whenever the test runs (`Etc/GMT-3` is UTC+3).
fn noon_zone(now: Timestamp) -> String {
    let utc_hour = i32::from(now.to_zoned(jiff::tz::TimeZone::UTC).hour());
    let offset = 12 - utc_hour; // -11 ..= 12
    match offset {
        0 => "UTC".to_string(),
        o if o > 0 => format!("Etc/GMT-{o}"),
        o => format!("Etc/GMT+{}", -o),
    }
}

struct Fixture {
    amy: i64,
    /// Amy's scheduled callback (in her list from the start).
    amy_later: String,
    /// Bob's callback: never on Amy's page.
    bobs: String,
    dash_queue: i64,
    /// The dashboard's expected bar: local slot start and its due count.
    dash_slot: String,
    campaign: i64,
}

async fn seed(api: &Api) -> Fixture {
    let all_day = json!([["00:00", "24:00"]]);
    let days = json!({"mon": all_day, "tue": all_day, "wed": all_day, "thu": all_day, "fri": all_day,
                      "sat": all_day, "sun": all_day});
    let campaign = api
        .post(
            "/campaigns",
            json!({"name": "Retail", "direction": "outbound", "timezone": "Europe/London", "region": "GB",
                   "running": true, "dialling_hours": days, "lead_calling_hours": ["00:00", "24:00"]}),
        )
        .await;
    let queue = api.post("/queues", json!({"name": "Retail callbacks", "campaign_id": campaign["id"]})).await;
    // A queue no agent serves: its callbacks stay due in their slot for the dashboard.
    let dash = api
        .post(
            "/queues",
            json!({"name": "Planning", "campaign_id": campaign["id"], "slot_minutes": 15, "slot_capacity": 5}),
        )
        .await;
    let agent = |name: &str, can_view: bool| {
        json!({"name": name, "username": name, "timezone": "Europe/London", "campaigns": [campaign["id"]],
               "queues": [queue["id"]], "can_view_callback_list": can_view})
    };
    let amy = api.post("/agents", agent("amy", true)).await["id"].as_i64().unwrap();
    let bob = api.post("/agents", agent("bob", true)).await["id"].as_i64().unwrap();
    api.post(
        "/users",
        json!({"username": "amy", "role": "agent", "agent_id": amy, "password": PASSWORD,
                              "display_name": "Amy Agent", "timezone": "Europe/London"}),
    )
    .await;

    let tomorrow = (Timestamp::now() + SignedDuration::from_hours(26)).to_string();
    let amy_later = api
        .post(
            "/callbacks",
            json!({"type": "agent", "campaign_id": campaign["id"], "agent_id": amy,
                                   "phone": "020 7946 0801", "desired_time": tomorrow}),
        )
        .await;
    let bobs = api
        .post(
            "/callbacks",
            json!({"type": "agent", "campaign_id": campaign["id"], "agent_id": bob,
                                   "phone": "020 7946 0802", "desired_time": tomorrow}),
        )
        .await;

    // Three callbacks in the dashboard queue's slot starting an hour after now's slot.
    let now = Timestamp::now();
    let zone_name = noon_zone(now);
    let zone = jiff::tz::TimeZone::get(&zone_name).unwrap();
    // Whole-hour offsets everywhere involved: a 15-minute boundary in UTC is one in every zone here.
    let this_slot = Timestamp::from_second(now.as_second() - now.as_second().rem_euclid(900)).unwrap();
    let slot = this_slot + SignedDuration::from_hours(1);
    for (i, phone) in ["020 7946 0811", "020 7946 0812", "020 7946 0813"].into_iter().enumerate() {
        let at = slot + SignedDuration::from_mins(i as i64 * 4);
        api.post(
            "/callbacks",
            json!({"type": "queue", "campaign_id": campaign["id"], "queue_id": dash["id"],
                                      "phone": phone, "desired_time": at.to_string()}),
        )
        .await;
    }
    api.post(
        "/users",
        json!({"username": "sam", "role": "supervisor", "password": PASSWORD,
                              "display_name": "Sam Supervisor", "timezone": zone_name.clone()}),
    )
    .await;
    Fixture {
        amy,
        amy_later: amy_later["id"].as_str().unwrap().to_string(),
        bobs: bobs["id"].as_str().unwrap().to_string(),
        dash_queue: dash["id"].as_i64().unwrap(),
        dash_slot: slot.to_zoned(zone).strftime("%H:%M").to_string(),
        campaign: campaign["id"].as_i64().unwrap(),
    }
}

/// Whether the page is wider than the window (a horizontal scrollbar on the page itself).
async fn overflows(driver: &WebDriver) -> WebDriverResult<bool> {
    let ret = driver
        .execute("return document.documentElement.scrollWidth > document.documentElement.clientWidth;", Vec::new())
        .await?;
    Ok(ret.json().as_bool().unwrap_or(true))
}

#[derive(Debug)]
struct AgentSaw {
    offer_phone: String,
    same_document: bool,
    state_after_accept: String,
    outcome_labelled: bool,
    after_outcome_no_offer: bool,
    rows: Vec<String>,
    overflow: bool,
}

async fn agent_flow(driver: &WebDriver, base: &str, api: &Api, f: &Fixture) -> WebDriverResult<(AgentSaw, String)> {
    // Signing in lands on the callbacks list, which is not an agent's: go to the agent view.
    driver.goto(format!("{base}/login")).await?;
    driver.find(By::Id("username")).await?.send_keys("amy").await?;
    driver.find(By::Id("password")).await?.send_keys(PASSWORD).await?;
    driver.find(By::Id("sign-in")).await?.click().await?;
    driver.query(By::Css("body")).first().await?;
    driver.goto(format!("{base}/agent")).await?;
    driver.query(By::Id("whoami")).first().await?;
    driver.find(By::Id("presence-ready")).await?.click().await?;
    driver
        .query(By::Css(r#"#presence-current[data-presence="ready"]"#))
        .wait(LIVE, Duration::from_millis(100))
        .first()
        .await?;
    // The stream is open before the offer is made (the panel's status says so).
    driver.query(By::Id("live-status")).with_text("· live").wait(LIVE, Duration::from_millis(100)).first().await?;

    // A marker on this document: if the offer arrived by a reload, it would be gone.
    driver.execute("window.reboundMarker = 'still here';", Vec::new()).await?;
    let created = api
        .post(
            "/callbacks",
            json!({"type": "agent", "campaign_id": f.campaign,
                                   "agent_id": f.amy, "phone": "020 7946 0899", "notes": "Prefers mornings"}),
        )
        .await;
    let id = created["id"].as_str().unwrap().to_string();
    let accept = driver.query(By::Id("accept")).wait(LIVE, Duration::from_millis(100)).first().await?;
    let same_document =
        driver.execute("return window.reboundMarker || null;", Vec::new()).await?.json() == &json!("still here");
    let offer_phone = driver.find(By::Id("offer-phone")).await?.text().await?;
    screenshot(driver, Path::new(&std::env::temp_dir()), "rebound-agent-offer").await;

    accept.click().await?;
    let form = driver.query(By::Id("outcome-form")).wait(LIVE, Duration::from_millis(100)).first().await?;
    let state_after_accept = driver.find(By::Id("offer")).await?.attr("data-offer-state").await?.unwrap_or_default();
    let outcome_labelled = driver.find(By::Css(r#"label[for="outcome"]"#)).await.is_ok();
    form.find(By::Css(r#"#outcome option[value="connected"]"#)).await?.click().await?;
    form.find(By::Id("outcome-notes")).await?.send_keys("Booked a visit").await?;
    form.find(By::Id("record-outcome")).await?.click().await?;
    driver.query(By::Id("no-offer")).wait(LIVE, Duration::from_millis(100)).first().await?;
    let after_outcome_no_offer = true;

    let mut rows = Vec::new();
    for row in driver.find_all(By::Css("table#my-callbacks tr[data-id]")).await? {
        rows.push(row.attr("data-id").await?.unwrap_or_default());
    }
    let overflow = overflows(driver).await?;
    screenshot(driver, Path::new(&std::env::temp_dir()), "rebound-agent-view").await;
    driver.find(By::Css("form#logout button")).await?.click().await?;
    driver.query(By::Id("login")).first().await?;
    Ok((
        AgentSaw {
            offer_phone,
            same_document,
            state_after_accept,
            outcome_labelled,
            after_outcome_no_offer,
            rows,
            overflow,
        },
        id,
    ))
}

#[derive(Debug)]
struct SupervisorSaw {
    bars: usize,
    slot_due: Option<String>,
    slot_tooltip: String,
    chart_label: String,
    queue_selected: bool,
    overflow: bool,
}

async fn supervisor_flow(driver: &WebDriver, base: &str, f: &Fixture) -> WebDriverResult<SupervisorSaw> {
    sign_in(driver, base, "sam", PASSWORD).await?;
    driver.goto(format!("{base}/dashboard")).await?;
    // Pick the queue with the selector, as a supervisor does.
    driver.find(By::Css(format!(r#"#dashboard-queue option[value="{}"]"#, f.dash_queue))).await?.click().await?;
    driver.find(By::Css("#dashboard-filter button[type=submit]")).await?.click().await?;
    // The all-queues page has a chart too: wait for the queue's own.
    let chart = driver
        .query(By::Css(r#"svg#due-per-slot[aria-label*="queue Planning"]"#))
        .wait(LIVE, Duration::from_millis(100))
        .first()
        .await?;
    let chart_label = chart.attr("aria-label").await?.unwrap_or_default();
    let queue_selected = driver
        .find(By::Css(format!(r#"#dashboard-queue option[value="{}"]"#, f.dash_queue)))
        .await?
        .prop("selected")
        .await?
        .as_deref()
        == Some("true");
    let bars = driver.find_all(By::Css("svg#due-per-slot rect.due")).await?.len();
    let slot = driver.find(By::Css(format!(r#"svg#due-per-slot rect.due[data-start="{}"]"#, f.dash_slot))).await?;
    let slot_due = slot.attr("data-due").await?;
    let slot_tooltip = slot.find(By::Css("title")).await?.prop("textContent").await?.unwrap_or_default();
    let overflow = overflows(driver).await?;
    screenshot(driver, Path::new(&std::env::temp_dir()), "rebound-dashboard").await;
    chart.scroll_into_view().await?;
    screenshot(driver, Path::new(&std::env::temp_dir()), "rebound-dashboard-chart").await;
    Ok(SupervisorSaw { bars, slot_due, slot_tooltip, chart_label, queue_selected, overflow })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_takes_a_live_offer_and_a_supervisor_sees_the_days_load() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServeProcess::start(
        &dir.path().join("data"),
        &[
            ("REBOUND_BOOTSTRAP_TOKEN", TOKEN),
            ("REBOUND_BOOTSTRAP_PASSWORD", PASSWORD),
            ("REBOUND_OFFER_TIMEOUT_SECS", "120"),
        ],
    );
    let api = Api { http: reqwest::Client::new(), base: server.base.clone() };
    let fixture = seed(&api).await;
    let (_chromedriver, driver_url) = start_chromedriver().await;
    let driver = browser(&driver_url, &dir.path().join("profile")).await;

    let outcome = async {
        let agent = agent_flow(&driver, &server.base, &api, &fixture).await?;
        let supervisor = supervisor_flow(&driver, &server.base, &fixture).await?;
        WebDriverResult::Ok((agent, supervisor))
    }
    .await;
    let shot = screenshot(&driver, dir.path(), "last-page").await;
    let kept = std::env::temp_dir().join("rebound-browser-agent-last-page.png");
    let _ = std::fs::copy(&shot, &kept);
    driver.quit().await.ok();
    let ((agent, offered_id), supervisor) =
        outcome.unwrap_or_else(|e| panic!("browser step failed: {e}; last page: {}", kept.display()));

    // The agent: the offer arrived on the open page, was accepted, and its outcome recorded.
    assert_eq!(agent.offer_phone, "+442079460899");
    assert!(agent.same_document, "the offer arrived without reloading the page");
    assert_eq!(agent.state_after_accept, "PROCESSING");
    assert!(agent.outcome_labelled && agent.after_outcome_no_offer);
    let handled = api.get(&format!("/callbacks/{offered_id}")).await;
    assert_eq!((handled["state"].as_str(), handled["result"].as_str()), (Some("COMPLETED"), Some("AGENT")));
    assert_eq!(handled["notes"], "Booked a visit");
    let mut rows = agent.rows.clone();
    rows.sort();
    let mut own = vec![offered_id.clone(), fixture.amy_later.clone()];
    own.sort();
    assert_eq!(rows, own, "Amy's list is exactly her own callbacks");
    assert!(!agent.rows.contains(&fixture.bobs));
    assert!(!agent.overflow, "the agent view fits 1280 px");

    // The supervisor: one bar per 15-minute slot of the day, three due in the fixture's slot.
    assert_eq!(supervisor.bars, 96, "a day of all-day hours in 15-minute slots");
    assert_eq!(supervisor.slot_due.as_deref(), Some("3"));
    assert!(supervisor.slot_tooltip.contains("3 due, capacity 5"), "{}", supervisor.slot_tooltip);
    assert!(supervisor.chart_label.contains("queue Planning"), "{}", supervisor.chart_label);
    assert!(supervisor.queue_selected);
    assert!(!supervisor.overflow, "the dashboard fits 1280 px");
}
