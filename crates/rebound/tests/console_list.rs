//! The callbacks list in a real browser (headless Chromium through chromedriver) against a real
//! `rebound serve`, doing what a supervisor does all day: sign in, filter by preset and by the
//! advanced search, quick-search a national-format number, page through 600 callbacks, narrow the
//! rows by typing in a column filter (no page load), sort, open a row's details, change the display
//! options (12-hour clock, UTC) and see the times change, and watch a state change made elsewhere
//! arrive live.
//!
//! Needs `chromium` and `chromium-driver` (`.ci/run` installs them); fails, never skips, without.

mod common;

use std::time::{Duration, Instant};

use common::ServeProcess;
use common::browser::{browser, screenshot, sign_in, start_chromedriver};
use jiff::civil::DateTime;
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};
use serde_json::{Value, json};
use thirtyfour::prelude::*;

const TOKEN: &str = "browser-list-bootstrap-token-0123456789";
const PASSWORD: &str = "browser-list-password-0123";
const ZONE: &str = "America/New_York";
/// How long a page may take to show what a step waits for.
const PATIENCE: Duration = Duration::from_secs(20);

/// The API as the bootstrap token.
struct Api {
    http: reqwest::Client,
    base: String,
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
}

/// What the test looks for.
struct Seeded {
    /// The first of the 600 London callbacks (tomorrow 10:00 in New York), and its desired time.
    first: (String, Timestamp),
    /// The three Paris callbacks (the day after tomorrow).
    paris: Vec<String>,
}

/// The admin works in New York; 600 London callbacks tomorrow (10:00, a minute apart, New York
/// time), three Paris ones the day after, all made through the API (600 in one bulk import).
async fn seed(api: &Api) -> Seeded {
    let users = api.send(reqwest::Method::GET, "/users", None).await;
    let admin = users["items"].as_array().unwrap().iter().find(|u| u["username"] == "admin").expect("the admin user");
    api.send(reqwest::Method::PATCH, &format!("/users/{}", admin["id"]), Some(json!({"timezone": ZONE}))).await;

    let all_day = json!([["00:00", "24:00"]]);
    let days = json!({"mon": all_day, "tue": all_day, "wed": all_day, "thu": all_day, "fri": all_day,
                      "sat": all_day, "sun": all_day});
    let campaign = |name: &str, tz: &str, region: &str| {
        json!({"name": name, "direction": "outbound", "timezone": tz, "region": region, "running": true,
               "dialling_hours": days, "lead_calling_hours": ["00:00", "24:00"]})
    };
    let london = api.post("/campaigns", campaign("London retail", "Europe/London", "GB")).await;
    let paris = api.post("/campaigns", campaign("Paris", "Europe/Paris", "FR")).await;
    let queue = |campaign: &Value, name: &str| {
        json!({"name": name, "campaign_id": campaign["id"], "slot_minutes": 15, "slot_capacity": 1000,
               "duplicate_policy": "off"})
    };
    let london_queue = api.post("/queues", queue(&london, "Retail callbacks")).await;
    let paris_queue = api.post("/queues", queue(&paris, "Paris desk")).await;

    let today = Timestamp::now().to_zoned(TimeZone::get(ZONE).unwrap()).date();
    let at = |days: i32, minutes: i64| -> String {
        let local: DateTime = today.checked_add(days.days()).unwrap().at(10, 0, 0, 0);
        local.checked_add(minutes.minutes()).unwrap().to_string()
    };
    let items: Vec<Value> = (0..600)
        .map(|i| {
            json!({"type": "queue", "campaign_id": london["id"], "queue_id": london_queue["id"],
                   "phone": format!("+4420794{i:05}"), "desired_time": at(1, i), "timezone": ZONE})
        })
        .collect();
    let imported = api.post("/callbacks/import", json!({"items": items})).await;
    assert_eq!(imported["created"], 600, "{imported}");
    let mut paris_ids = Vec::new();
    for (i, phone) in ["+33142685300", "+33142685301", "+33142685302"].into_iter().enumerate() {
        let created = api
            .post(
                "/callbacks",
                json!({"type": "queue", "campaign_id": paris["id"], "queue_id": paris_queue["id"], "phone": phone,
                       "desired_time": at(2, 5 * i as i64), "timezone": ZONE}),
            )
            .await;
        paris_ids.push(created["id"].as_str().unwrap().to_string());
    }
    // The first London callback, as the API lists it.
    let listed = api.send(reqwest::Method::GET, "/callbacks?phone=%2B442079400000", None).await;
    let first = &listed["items"][0];
    let id = first["id"].as_str().unwrap().to_string();
    let desired: Timestamp = first["desired_time"].as_str().unwrap().parse().unwrap();
    Seeded { first: (id, desired), paris: paris_ids }
}

/// Waits until `script` (a JS expression) is true in the page.
async fn until(driver: &WebDriver, what: &str, script: &str) -> WebDriverResult<()> {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let value = driver.execute(&format!("return Boolean({script});"), Vec::new()).await?;
        if value.json().as_bool() == Some(true) {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(WebDriverError::Timeout(format!("waiting for {what}: {script}")));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn row_count(driver: &WebDriver) -> WebDriverResult<usize> {
    Ok(driver.find_all(By::Css("table#callbacks tbody tr[data-id]")).await?.len())
}

async fn text_of(driver: &WebDriver, css: &str) -> WebDriverResult<String> {
    driver.find(By::Css(css)).await?.text().await
}

/// Marks the current document: the mark survives in-place updates, not a page load.
async fn mark_document(driver: &WebDriver) -> WebDriverResult<()> {
    driver.execute("window.__sameDocument = true;", Vec::new()).await?;
    Ok(())
}

async fn same_document(driver: &WebDriver) -> WebDriverResult<bool> {
    Ok(driver.execute("return window.__sameDocument === true;", Vec::new()).await?.json().as_bool() == Some(true))
}

/// What the steps saw, checked after the browser is closed.
#[derive(Debug, Default)]
struct Seen {
    pages: Vec<(usize, String)>,
    tomorrow: String,
    next_week: String,
    paris_rows: Vec<String>,
    quick_search: Vec<String>,
    typed: (usize, bool, String, String, String),
    sorted: (String, Option<String>, String, Option<String>),
    details: (Option<String>, String),
    times: (String, String),
    live: (bool, String, String),
    search: usize,
}

async fn steps(driver: &WebDriver, base: &str, seeded: &Seeded, api: &Api) -> WebDriverResult<Seen> {
    let mut seen = Seen::default();
    sign_in(driver, base, "admin", PASSWORD).await?;

    // Paging: 603 callbacks, 250 a page.
    driver.goto(format!("{base}/callbacks")).await?;
    for _ in 0..3 {
        seen.pages.push((row_count(driver).await?, text_of(driver, "#total").await?));
        if let Ok(next) = driver.find(By::Id("next-page")).await {
            next.click().await?;
            driver.query(By::Css("table#callbacks")).first().await?;
        }
    }
    seen.pages.push((usize::from(driver.find(By::Id("prev-page")).await.is_ok()), String::new()));

    // Presets: tomorrow has the 600 London callbacks; the next 7 days all 603.
    driver.goto(format!("{base}/callbacks")).await?;
    driver.find(By::Id("preset-tomorrow")).await?.click().await?;
    until(driver, "tomorrow's list", "document.querySelector('#preset-tomorrow[aria-current=true]')").await?;
    seen.tomorrow = text_of(driver, "#total").await?;
    driver.find(By::Id("preset-next-7-days")).await?.click().await?;
    until(driver, "the week's list", "document.querySelector('#preset-next-7-days[aria-current=true]')").await?;
    seen.next_week = text_of(driver, "#total").await?;

    // Advanced search: the Paris campaign.
    driver.goto(format!("{base}/callbacks")).await?;
    driver.find(By::Css("#advanced-search summary")).await?.click().await?;
    driver.find(By::Css("#adv-campaigns option:nth-child(2)")).await?.click().await?;
    screenshot(driver, &std::env::temp_dir(), "rebound-list-advanced-search").await;
    let chosen = driver.find(By::Css("#adv-campaigns option:checked")).await?.text().await?;
    assert_eq!(chosen, "Paris", "campaigns are listed by name");
    driver.find(By::Id("advanced-apply")).await?.click().await?;
    until(driver, "the Paris list", "document.querySelector('#advanced-search[open]') && document.querySelectorAll('table#callbacks tbody tr[data-id]').length === 3").await?;
    for row in driver.find_all(By::Css("table#callbacks tbody tr[data-id]")).await? {
        seen.paris_rows.push(row.attr("data-id").await?.unwrap_or_default());
    }

    // Quick search with a national-format number.
    driver.goto(format!("{base}/callbacks")).await?;
    driver.find(By::Id("phone")).await?.send_keys("020 7940 0042" + Key::Enter).await?;
    until(driver, "the quick search", "new URL(location.href).searchParams.get('phone') === '020 7940 0042'").await?;
    for row in driver.find_all(By::Css("table#callbacks tbody tr[data-id]")).await? {
        seen.quick_search.push(row.text().await?);
    }

    // A column filter narrows the rows as the user types, without loading a page.
    driver.goto(format!("{base}/callbacks")).await?;
    mark_document(driver).await?;
    let filter = driver.find(By::Id("filter-campaign")).await?;
    filter.send_keys("pari").await?;
    until(driver, "the typed filter", "document.querySelectorAll('table#callbacks tbody tr[data-id]').length === 3")
        .await?;
    seen.typed = (
        row_count(driver).await?,
        same_document(driver).await?,
        driver
            .execute("return document.activeElement.id;", Vec::new())
            .await?
            .json()
            .as_str()
            .unwrap_or("")
            .to_string(),
        driver.current_url().await?.to_string(),
        text_of(driver, "#total").await?,
    );
    screenshot(driver, &std::env::temp_dir(), "rebound-list-typed").await;

    // Sorting by phone, then the other way.
    driver.goto(format!("{base}/callbacks")).await?;
    driver.find(By::Id("sort-phone")).await?.click().await?;
    until(driver, "sorted by phone", "document.querySelector('th[data-column=phone][aria-sort]')").await?;
    let first_row = text_of(driver, "table#callbacks tbody tr[data-id]").await?;
    let aria = driver.find(By::Css("th[data-column=phone]")).await?.attr("aria-sort").await?;
    driver.find(By::Id("sort-phone")).await?.click().await?;
    until(
        driver,
        "sorted by phone, descending",
        "document.querySelector('th[data-column=phone][aria-sort=descending]')",
    )
    .await?;
    let first_desc = text_of(driver, "table#callbacks tbody tr[data-id]").await?;
    let aria_desc = driver.find(By::Css("th[data-column=phone]")).await?.attr("aria-sort").await?;
    seen.sorted = (first_row, aria, first_desc, aria_desc);

    // A row's details open under it (whatever the details page answers, it is shown there).
    driver.goto(format!("{base}/callbacks")).await?;
    let expand = driver.find(By::Css("table#callbacks tbody tr[data-id] button.expand")).await?;
    expand.click().await?;
    until(driver, "the details row", "document.querySelector('table#callbacks tr.details td') && !/Loading/.test(document.querySelector('table#callbacks tr.details td').textContent)").await?;
    seen.details = (expand.attr("aria-expanded").await?, text_of(driver, "table#callbacks tr.details td").await?);
    screenshot(driver, &std::env::temp_dir(), "rebound-list-details").await;

    // Options: 12-hour clock and UTC change how the first callback's time reads.
    let row = format!("table#callbacks tr[data-id='{}']", seeded.first.0);
    let before = text_of(driver, &row).await?;
    driver.goto(format!("{base}/options")).await?;
    screenshot(driver, &std::env::temp_dir(), "rebound-options").await;
    driver.find(By::Id("clock-24h")).await?.click().await?;
    driver.find(By::Id("times-utc")).await?.click().await?;
    driver.find(By::Id("save-options")).await?.click().await?;
    driver.query(By::Id("options-saved")).first().await?;
    driver.goto(format!("{base}/callbacks")).await?;
    seen.times = (before, text_of(driver, &row).await?);
    screenshot(driver, &std::env::temp_dir(), "rebound-list-options").await;

    // Tools › Callback search: a national number, across all dates.
    driver.goto(format!("{base}/search")).await?;
    driver.find(By::Id("search-q")).await?.send_keys("020 7940 0599" + Key::Enter).await?;
    driver.query(By::Css("table#search-results")).first().await?;
    seen.search = driver.find_all(By::Css("table#search-results tbody tr[data-id]")).await?.len();
    screenshot(driver, &std::env::temp_dir(), "rebound-search").await;

    // Live: a Paris callback cancelled through the API while the page shows it.
    driver.goto(format!("{base}/callbacks?q.campaign=paris")).await?;
    until(driver, "the live stream", "document.querySelector('#live-status[data-kind=live]')").await?;
    mark_document(driver).await?;
    let cancelled = &seeded.paris[1];
    api.post(&format!("/callbacks/{cancelled}/cancel"), json!({})).await;
    let live_row = format!("table#callbacks tr[data-id='{cancelled}']");
    until(driver, "the live state", &format!("document.querySelector(\"{live_row}\").dataset.state === 'COMPLETED'"))
        .await?;
    until(
        driver,
        "the live result",
        &format!("/CANCELLED_BY_ADMIN/.test(document.querySelector(\"{live_row}\").textContent)"),
    )
    .await?;
    seen.live = (
        same_document(driver).await?,
        text_of(driver, &format!("{live_row} td.col-state")).await?,
        text_of(driver, &format!("table#callbacks tr[data-id='{}'] td.col-state", seeded.paris[0])).await?,
    );
    Ok(seen)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_supervisor_filters_searches_pages_sorts_and_sees_live_states() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServeProcess::start(
        &dir.path().join("data"),
        &[("REBOUND_BOOTSTRAP_TOKEN", TOKEN), ("REBOUND_BOOTSTRAP_PASSWORD", PASSWORD)],
    );
    let base = server.base.clone();
    let api = Api { http: reqwest::Client::new(), base: base.clone() };
    let seeded = seed(&api).await;
    let (_chromedriver, driver_url) = start_chromedriver().await;
    let driver = browser(&driver_url, &dir.path().join("profile")).await;

    let outcome = steps(&driver, &base, &seeded, &api).await;
    let shot = screenshot(&driver, dir.path(), "last-page").await;
    let kept = std::env::temp_dir().join("rebound-browser-list-last-page.png");
    let _ = std::fs::copy(&shot, &kept);
    driver.quit().await.ok();
    let seen = outcome.unwrap_or_else(|e| panic!("browser step failed: {e}; last page: {}", kept.display()));

    // 603 callbacks in pages of 250, 250 and 103, with a way back from the last.
    let totals: Vec<&str> = seen.pages[..3].iter().map(|(_, t)| t.as_str()).collect();
    let counts: Vec<usize> = seen.pages[..3].iter().map(|(n, _)| *n).collect();
    assert_eq!((counts, totals), (vec![250, 250, 103], vec!["603", "603", "603"]));
    assert_eq!(seen.pages[3].0, 1, "the last page links back");
    assert_eq!((seen.tomorrow.as_str(), seen.next_week.as_str()), ("600", "603"));
    let mut paris = seen.paris_rows.clone();
    paris.sort();
    let mut expected = seeded.paris.clone();
    expected.sort();
    assert_eq!(paris, expected, "the advanced search's campaign");
    assert_eq!(seen.quick_search.len(), 1, "{:?}", seen.quick_search);
    assert!(seen.quick_search[0].contains("+442079400042"), "{:?}", seen.quick_search);

    let (typed_rows, same_doc, focused, url, total) = &seen.typed;
    assert_eq!(*typed_rows, 3);
    assert!(same_doc, "typing in a column filter must not load a page");
    assert_eq!(focused, "filter-campaign", "focus stays in the filter");
    assert!(url.contains("q.campaign=pari"), "the address follows: {url}");
    assert_eq!(total, "3");

    let (asc, aria, desc, aria_desc) = &seen.sorted;
    assert!(asc.contains("+33142685300"), "phone ascending starts with Paris: {asc}");
    assert_eq!(aria.as_deref(), Some("ascending"));
    assert!(desc.contains("+442079400599"), "phone descending starts with the highest: {desc}");
    assert_eq!(aria_desc.as_deref(), Some("descending"));

    let (expanded, details) = &seen.details;
    assert_eq!(expanded.as_deref(), Some("true"));
    assert!(!details.trim().is_empty(), "the details row shows the page or why it is not available");

    let (before, after) = &seen.times;
    let local = seeded.first.1.to_zoned(TimeZone::get(ZONE).unwrap()).strftime("%Y-%m-%d %H:%M").to_string();
    let utc_12h = seeded.first.1.to_zoned(TimeZone::UTC).strftime("%Y-%m-%d %-I:%M %p").to_string();
    assert!(before.contains(&local), "before: New York, 24-hour ({local}): {before}");
    assert!(after.contains(&utc_12h), "after: UTC, 12-hour ({utc_12h}): {after}");
    assert!(!after.contains(&local), "{after}");

    assert_eq!(seen.search, 1, "callback search finds the national number");

    let (same_doc, cancelled_state, other_state) = &seen.live;
    assert!(same_doc, "the state changed without a page load");
    assert!(
        cancelled_state.contains("COMPLETED") && cancelled_state.contains("CANCELLED_BY_ADMIN"),
        "{cancelled_state}"
    );
    assert!(other_state.starts_with("SCHEDULED"), "the others are untouched: {other_state}");
    drop(server);
}
