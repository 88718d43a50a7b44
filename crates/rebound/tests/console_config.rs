//! The configuration pages in a real browser (headless Chromium through chromedriver, against a
//! real `rebound serve`): an admin edits a campaign's weekly hours with an overnight shift, adds a
//! date exception, changes a queue's slot capacity, gives an agent the callback-list permission,
//! adds a wrap code with Add-to-Queue, creates a user and an API token, each through the pages'
//! forms and dialogs; every change is then read back through the API.
//!
//! Needs `chromium` and `chromium-driver` (`.ci/run` installs them); without them the test fails
//! and says so.

mod common;

use std::path::Path;

use common::ServeProcess;
use common::browser::{browser, screenshot, sign_in, start_chromedriver};
use serde_json::{Value, json};
use thirtyfour::components::SelectElement;
use thirtyfour::prelude::*;
use thirtyfour::stringmatch::StringMatch;

const TOKEN: &str = "browser-test-bootstrap-token-0123456789";
const PASSWORD: &str = "browser-test-password-0123";

/// The API as the bootstrap admin token.
struct Api {
    base: String,
    http: reqwest::Client,
}

impl Api {
    async fn send(&self, method: reqwest::Method, path: &str, token: &str, body: Option<Value>) -> (u16, Value) {
        let mut request = self.http.request(method, format!("{}/api/v1{path}", self.base));
        if !token.is_empty() {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    async fn get(&self, path: &str) -> Value {
        let (status, body) = self.send(reqwest::Method::GET, path, TOKEN, None).await;
        assert_eq!(status, 200, "GET {path}: {body}");
        body
    }

    async fn post(&self, path: &str, body: Value) -> Value {
        let (status, body) = self.send(reqwest::Method::POST, path, TOKEN, Some(body)).await;
        assert!((200..300).contains(&status), "POST {path}: {body}");
        body
    }
}

/// What the admin starts from: a campaign with weekday hours, one of its queues, an agent.
struct Seed {
    campaign: i64,
    queue: i64,
    agent: i64,
}

async fn seed(api: &Api) -> Seed {
    let day = json!([["08:30", "19:00"]]);
    let campaign = api
        .post(
            "/campaigns",
            json!({"name": "Canberra Energy", "timezone": "Australia/Sydney", "region": "AU",
                   "dialling_hours": {"mon": day, "tue": day, "wed": day, "thu": day, "fri": day}}),
        )
        .await;
    let queue =
        api.post("/queues", json!({"name": "Energy Billing", "campaign_id": campaign["id"], "slot_capacity": 6})).await;
    let agent = api
        .post(
            "/agents",
            json!({"name": "Jack O'Brien", "username": "jobrien", "timezone": "Australia/Sydney",
                   "campaigns": [campaign["id"]], "queues": [queue["id"]]}),
        )
        .await;
    let id = |v: &Value| v["id"].as_i64().unwrap();
    Seed { campaign: id(&campaign), queue: id(&queue), agent: id(&agent) }
}

/// Clicks `by` and waits for the page it leads to (the old page's body goes stale).
async fn click_and_wait(driver: &WebDriver, by: By) -> WebDriverResult<()> {
    let body = driver.find(By::Tag("body")).await?;
    driver.find(by).await?.click().await?;
    body.wait_until().stale().await
}

async fn type_into(driver: &WebDriver, id: &str, text: &str) -> WebDriverResult<()> {
    let input = driver.query(By::Id(id)).and_displayed().first().await?;
    input.clear().await?;
    input.send_keys(text).await
}

async fn choose(driver: &WebDriver, id: &str, value: &str) -> WebDriverResult<()> {
    let select = driver.query(By::Id(id)).and_displayed().first().await?;
    SelectElement::new(&select).await?.select_by_value(value).await
}

/// Opens a dialog from `link` and waits for `field` inside it.
async fn open_dialog(driver: &WebDriver, link: &str, field: &str) -> WebDriverResult<()> {
    driver.find(By::Id(link)).await?.click().await?;
    driver.query(By::Css(format!("dialog#console-dialog[open] #{field}"))).and_displayed().first().await?;
    Ok(())
}

/// Whether the page is wider than the window (a horizontal scrollbar at 1280×800).
async fn overflows(driver: &WebDriver) -> WebDriverResult<bool> {
    let ret = driver.execute("return document.documentElement.scrollWidth > window.innerWidth;", Vec::new()).await?;
    ret.convert::<bool>()
}

/// What the browser did, to be checked against the API afterwards.
#[derive(Debug, Default)]
struct Seen {
    overnight_mark_shown: bool,
    wide_pages: Vec<String>,
    secret: String,
    secret_on_list: bool,
}

async fn note_width(driver: &WebDriver, seen: &mut Seen) -> WebDriverResult<()> {
    if overflows(driver).await? {
        seen.wide_pages.push(driver.current_url().await?.to_string());
    }
    Ok(())
}

async fn admin_session(driver: &WebDriver, base: &str, seed: &Seed, shots: &Path) -> WebDriverResult<Seen> {
    let mut seen = Seen::default();
    sign_in(driver, base, "admin", PASSWORD).await?;
    click_and_wait(driver, By::Css(r#"header nav a[href="/config"]"#)).await?;
    note_width(driver, &mut seen).await?;
    click_and_wait(driver, By::Css(r#"nav.config-nav a[href="/config/campaigns"]"#)).await?;
    note_width(driver, &mut seen).await?;
    click_and_wait(driver, By::Css(format!(r#"tr[data-id="{}"] a[href$="/hours"]"#, seed.campaign))).await?;

    // Thursday gets the late shift in its blank second row; the mark appears as it is typed.
    type_into(driver, "hours-thu-2-start", "22:00").await?;
    type_into(driver, "hours-thu-2-end", "02:00").await?;
    let mark = driver.find(By::Css(r#"tr[data-day="thu"] .range:nth-child(2) .overnight"#)).await?;
    seen.overnight_mark_shown = mark.is_displayed().await?;
    // Saturday: two intervals, the second in a row the script adds.
    type_into(driver, "hours-sat-1-start", "09:00").await?;
    type_into(driver, "hours-sat-1-end", "12:00").await?;
    driver.find(By::Css(r#"button[data-add-range="hours-sat"]"#)).await?.click().await?;
    type_into(driver, "hours-sat-2-start", "13:00").await?;
    type_into(driver, "hours-sat-2-end", "16:00").await?;
    note_width(driver, &mut seen).await?;
    screenshot(driver, shots, "config-hours").await;
    click_and_wait(driver, By::Id("hours-save")).await?;
    driver.query(By::Css(r#"rect.open.tail"#)).first().await?;

    // A date closed all day.
    click_and_wait(driver, By::Css(r#"nav.tabs a[href$="/exceptions"]"#)).await?;
    let date = driver.find(By::Id("exception-date")).await?;
    date.send_keys("12252030").await?;
    click_and_wait(driver, By::Id("exception-add")).await?;
    driver.query(By::Id("remove-exception-2030-12-25")).first().await?;
    note_width(driver, &mut seen).await?;

    // The queue's capacity, in its dialog.
    click_and_wait(driver, By::Css(r#"nav.config-nav a[href="/config/queues"]"#)).await?;
    open_dialog(driver, &format!("edit-queue-{}", seed.queue), "queue-slot-capacity").await?;
    type_into(driver, "queue-slot-capacity", "14").await?;
    screenshot(driver, shots, "config-queue-dialog").await;
    click_and_wait(driver, By::Id("queue-save")).await?;
    driver
        .query(By::Css(format!(r#"tr[data-id="{}"] td.capacity .value"#, seed.queue)))
        .with_text("14")
        .first()
        .await?;
    note_width(driver, &mut seen).await?;

    // The agent may open the callback list.
    click_and_wait(driver, By::Css(r#"nav.config-nav a[href="/config/agents"]"#)).await?;
    open_dialog(driver, &format!("edit-agent-{}", seed.agent), "agent-can-view-callback-list").await?;
    driver.find(By::Id("agent-can-view-callback-list")).await?.click().await?;
    click_and_wait(driver, By::Id("agent-save")).await?;
    driver.query(By::Css(format!(r#"tr[data-id="{}"] td.can-view"#, seed.agent))).with_text("Allowed").first().await?;
    note_width(driver, &mut seen).await?;

    // A wrap code whose Add-to-Queue makes a queue callback an hour later.
    click_and_wait(driver, By::Css(r#"nav.config-nav a[href="/config/wrap-codes"]"#)).await?;
    open_dialog(driver, "new-wrap-code", "wrap-code").await?;
    let (campaign, queue) = (seed.campaign.to_string(), seed.queue.to_string());
    choose(driver, "wrap-campaign-id", &campaign).await?;
    type_into(driver, "wrap-code", "CB1H").await?;
    type_into(driver, "wrap-label", "Call back in 1 hour").await?;
    driver.find(By::Id("wrap-add-to-queue")).await?.click().await?;
    choose(driver, "wrap-add-to-queue-campaign-id", &campaign).await?;
    choose(driver, "wrap-add-to-queue-type", "queue").await?;
    choose(driver, "wrap-add-to-queue-queue-id", &queue).await?;
    type_into(driver, "wrap-add-to-queue-delay-minutes", "60").await?;
    screenshot(driver, shots, "config-wrap-dialog").await;
    click_and_wait(driver, By::Id("wrap-save")).await?;
    driver
        .query(By::Css(r#"tr[data-code="CB1H"] td.atq"#))
        .with_text(StringMatch::new("after 60 min").partial())
        .first()
        .await?;

    // A supervisor user.
    click_and_wait(driver, By::Css(r#"nav.config-nav a[href="/config/users"]"#)).await?;
    open_dialog(driver, "new-user", "user-username").await?;
    type_into(driver, "user-username", "sam").await?;
    type_into(driver, "user-display-name", "Sam Supervisor").await?;
    type_into(driver, "user-timezone", "Australia/Sydney").await?;
    choose(driver, "user-role", "supervisor").await?;
    type_into(driver, "user-password", "sam-the-supervisor-2030").await?;
    click_and_wait(driver, By::Id("user-save")).await?;
    driver.query(By::Css(r#"tr[data-username="sam"]"#)).first().await?;
    note_width(driver, &mut seen).await?;

    // A monitor token: its secret in the dialog, once.
    click_and_wait(driver, By::Css(r#"nav.config-nav a[href="/config/tokens"]"#)).await?;
    open_dialog(driver, "new-token", "token-name").await?;
    type_into(driver, "token-name", "wallboard").await?;
    choose(driver, "token-role", "monitor").await?;
    driver.find(By::Id("token-save")).await?.click().await?;
    let secret = driver.query(By::Css("dialog#console-dialog[open] #token-secret")).and_displayed().first().await?;
    seen.secret = secret.value().await?.unwrap_or_default();
    screenshot(driver, shots, "config-token-secret").await;
    click_and_wait(driver, By::Id("token-done")).await?;
    driver.query(By::Id("tokens-table")).first().await?;
    seen.secret_on_list = driver.source().await?.contains(&seen.secret);
    note_width(driver, &mut seen).await?;
    Ok(seen)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_configures_hours_exceptions_capacity_agents_wrap_codes_users_and_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServeProcess::start(
        &dir.path().join("data"),
        &[("REBOUND_BOOTSTRAP_TOKEN", TOKEN), ("REBOUND_BOOTSTRAP_PASSWORD", PASSWORD)],
    );
    let api = Api { base: server.base.clone(), http: reqwest::Client::new() };
    let seed = seed(&api).await;
    let (_chromedriver, driver_url) = start_chromedriver().await;
    let driver = browser(&driver_url, &dir.path().join("profile")).await;

    let outcome = admin_session(&driver, &server.base, &seed, dir.path()).await;
    let shot = screenshot(&driver, dir.path(), "last-page").await;
    let kept = std::env::temp_dir().join("rebound-browser-config-last-page.png");
    let _ = std::fs::copy(&shot, &kept);
    driver.quit().await.ok();
    let seen = outcome.unwrap_or_else(|e| panic!("browser step failed: {e}; last page: {}", kept.display()));

    assert!(seen.overnight_mark_shown, "the overnight mark shows as the interval is typed");
    assert!(seen.wide_pages.is_empty(), "pages wider than 1280 px: {:?}", seen.wide_pages);
    let campaign = api.get(&format!("/campaigns/{}", seed.campaign)).await;
    assert_eq!(campaign["dialling_hours"]["thu"], json!([["08:30", "19:00"], ["22:00", "02:00"]]));
    assert_eq!(campaign["dialling_hours"]["sat"], json!([["09:00", "12:00"], ["13:00", "16:00"]]));
    assert_eq!(campaign["dialling_hours"]["fri"], json!([["08:30", "19:00"]]), "other days unchanged");
    assert_eq!(campaign["exceptions"], json!([{"date": "2030-12-25", "hours": []}]));
    assert_eq!(api.get(&format!("/queues/{}", seed.queue)).await["slot_capacity"], 14);
    assert_eq!(api.get(&format!("/agents/{}", seed.agent)).await["can_view_callback_list"], true);
    let wrap = api.get("/wrap-codes").await["items"][0].clone();
    assert_eq!((wrap["code"].as_str(), wrap["campaign_id"].as_i64()), (Some("CB1H"), Some(seed.campaign)));
    assert_eq!(
        wrap["add_to_queue"],
        json!({"campaign_id": seed.campaign, "queue_id": seed.queue, "type": "queue", "delay_minutes": 60})
    );
    let users = api.get("/users").await;
    let sam = users["items"].as_array().unwrap().iter().find(|u| u["username"] == "sam").cloned().expect("sam");
    assert_eq!((sam["role"].as_str(), sam["timezone"].as_str()), (Some("supervisor"), Some("Australia/Sydney")));
    let (status, _) = api
        .send(
            reqwest::Method::POST,
            "/session",
            "",
            Some(json!({"username": "sam", "password": "sam-the-supervisor-2030"})),
        )
        .await;
    assert_eq!(status, 200, "the new user signs in");
    // The token reads with its monitor role and may not write.
    assert!(!seen.secret.is_empty() && !seen.secret_on_list, "the secret is shown once: {seen:?}");
    assert_eq!(api.send(reqwest::Method::GET, "/campaigns", &seen.secret, None).await.0, 200);
    let (status, _) = api.send(reqwest::Method::POST, "/lists", &seen.secret, Some(json!({"name": "x"}))).await;
    assert_eq!(status, 403);
}
