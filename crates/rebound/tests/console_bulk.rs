//! Bulk actions in a real browser: headless Chromium through chromedriver against a real
//! `rebound serve`. A supervisor selects rows and cancels them in the confirmation dialog; then
//! cancels all in a time range holding a callback an agent is handling (PROCESSING, made through
//! the agent protocol), sees it excluded, confirms, and downloads the Cancellation Summary Report;
//! then exports the view as CSV. Downloads land in a directory set through the DevTools protocol,
//! and the files are read from disk as the user would open them.
//!
//! Needs `chromium` and `chromium-driver` (`.ci/run` installs them); without them the test fails.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::ServeProcess;
use common::browser::{browser, screenshot, sign_in, start_chromedriver};
use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};
use thirtyfour::prelude::*;

const TOKEN: &str = "browser-bulk-bootstrap-token-0123456789";
const PASSWORD: &str = "browser-bulk-password-0123";

/// The API as the bootstrap admin token.
struct Api {
    http: reqwest::Client,
    base: String,
}

impl Api {
    async fn send(&self, method: reqwest::Method, path: &str, body: Value) -> Value {
        let response = self
            .http
            .request(method, format!("{}/api/v1{path}", self.base))
            .bearer_auth(TOKEN)
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        assert!(status.is_success(), "{path}: {status} {text}");
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }

    async fn post(&self, path: &str, body: Value) -> Value {
        self.send(reqwest::Method::POST, path, body).await
    }

    async fn state(&self, id: &str) -> String {
        let response =
            self.http.get(format!("{}/api/v1/callbacks/{id}", self.base)).bearer_auth(TOKEN).send().await.unwrap();
        let body: Value = response.json().await.unwrap();
        body["state"].as_str().unwrap_or_default().to_string()
    }
}

/// What the supervisor will act on.
struct Fixture {
    /// Four callbacks desired later today or tomorrow, still SCHEDULED.
    scheduled: Vec<String>,
    /// One an agent accepted: PROCESSING.
    processing: String,
}

/// A campaign open all day, a queue, the supervisor, and an agent who takes one callback.
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
    let queue = api
        .post(
            "/queues",
            json!({"name": "Retail callbacks", "campaign_id": campaign["id"], "slot_minutes": 15,
                                "slot_capacity": 100}),
        )
        .await;
    api.post("/users", json!({"username": "sam", "role": "supervisor", "password": PASSWORD})).await;

    let now = Timestamp::now();
    let mut scheduled = Vec::new();
    for (i, phone) in ["020 7946 0201", "020 7946 0202", "020 7946 0203", "020 7946 0204"].into_iter().enumerate() {
        let desired = now + SignedDuration::from_mins(90 + 30 * i as i64);
        let callback = api
            .post(
                "/callbacks",
                json!({"type": "queue", "campaign_id": campaign["id"], "queue_id": queue["id"], "phone": phone,
                       "desired_time": desired.to_string()}),
            )
            .await;
        scheduled.push(callback["id"].as_str().unwrap().to_string());
    }

    // PROCESSING through the agent protocol: ready → offered an immediate callback → accept.
    let agent = api
        .post(
            "/agents",
            json!({"name": "Ann", "username": "ann", "timezone": "Europe/London",
                                "campaigns": [campaign["id"]], "queues": [queue["id"]]}),
        )
        .await;
    let agent_id = agent["id"].as_i64().unwrap();
    api.send(reqwest::Method::PUT, &format!("/agents/{agent_id}/presence"), json!({"presence": "ready"})).await;
    let immediate = api
        .post(
            "/callbacks",
            json!({"type": "queue", "campaign_id": campaign["id"], "queue_id": queue["id"],
                                   "phone": "020 7946 0299"}),
        )
        .await;
    let processing = immediate["id"].as_str().unwrap().to_string();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let offer = api
            .http
            .get(format!("{}/api/v1/agents/{agent_id}/offer", api.base))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap();
        if offer.status().as_u16() == 200 {
            let offered: Value = offer.json().await.unwrap();
            assert_eq!(offered["id"].as_str(), Some(processing.as_str()), "the only due callback is offered");
            break;
        }
        assert!(Instant::now() < deadline, "the engine offered nothing within 30 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    api.post(&format!("/callbacks/{processing}/accept"), json!({"agent_id": agent_id})).await;
    assert_eq!(api.state(&processing).await, "PROCESSING");
    Fixture { scheduled, processing }
}

/// Lets the browser download files into `dir` without asking, through chromedriver's DevTools
/// endpoint (`Browser.setDownloadBehavior`; thirtyfour's `cdp` feature is not needed for one call).
async fn allow_downloads(driver_url: &str, driver: &WebDriver, dir: &Path) {
    let session = driver.handle().session_id().to_string();
    let response = reqwest::Client::new()
        .post(format!("{driver_url}/session/{session}/goog/cdp/execute"))
        .json(&json!({"cmd": "Browser.setDownloadBehavior",
                      "params": {"behavior": "allow", "downloadPath": dir.to_str().unwrap()}}))
        .send()
        .await
        .unwrap();
    let status = response.status();
    assert!(status.is_success(), "chromedriver refused the download directory: {}", response.text().await.unwrap());
}

/// The first file in `dir` whose name starts with `prefix` once fully written.
async fn downloaded(dir: &Path, prefix: &str) -> PathBuf {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let found = std::fs::read_dir(dir).into_iter().flatten().flatten().map(|e| e.path()).find(|p| {
            let name = p.file_name().unwrap().to_string_lossy();
            name.starts_with(prefix) && name.ends_with(".csv")
        });
        if let Some(path) = found {
            return path;
        }
        assert!(Instant::now() < deadline, "no {prefix}*.csv downloaded into {}", dir.display());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A downloaded CSV's rows (no cell here holds a comma or a quote: ids, E.164 numbers, states).
fn csv_rows(path: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines().map(|l| l.split(',').map(str::to_string).collect::<Vec<_>>());
    let header = lines.next().expect("a header");
    (header, lines.collect())
}

/// Column `name` of CSV `rows`.
fn column(header: &[String], rows: &[Vec<String>], name: &str) -> Vec<String> {
    let at = header.iter().position(|h| h == name).unwrap_or_else(|| panic!("no column {name}"));
    rows.iter().map(|r| r[at].clone()).collect()
}

async fn row_state(driver: &WebDriver, id: &str) -> WebDriverResult<String> {
    Ok(driver.find(By::Css(format!("tr[data-id='{id}']"))).await?.attr("data-state").await?.unwrap_or_default())
}

/// The data-ids of the callbacks list's rows.
async fn list_ids(driver: &WebDriver) -> WebDriverResult<Vec<String>> {
    let mut ids = Vec::new();
    for row in driver.find_all(By::Css("table#callbacks tbody tr[data-id]")).await? {
        ids.push(row.attr("data-id").await?.unwrap_or_default());
    }
    Ok(ids)
}

/// Closes the dialog with its Close button and waits for the list to reload (a fresh table).
async fn close_and_reload(driver: &WebDriver) -> WebDriverResult<()> {
    let table = driver.find(By::Id("callbacks")).await?;
    driver.find(By::Css("#console-dialog [data-close]")).await?.click().await?;
    table.wait_until().stale().await?;
    driver.query(By::Id("callbacks")).first().await?;
    Ok(())
}

/// What the test saw, checked after the browser is gone.
#[derive(Debug, Default)]
struct Seen {
    selected_count: String,
    preview_included: Vec<String>,
    selection_result: String,
    states_after_selection: Vec<String>,
    range_excluded: Vec<String>,
    range_will_cancel: String,
    range_result: (String, String),
    report: PathBuf,
    list_in_range: Vec<String>,
    export: PathBuf,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_supervisor_bulk_cancels_a_selection_and_a_range_downloads_the_report_and_exports() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServeProcess::start(
        &dir.path().join("data"),
        &[("REBOUND_BOOTSTRAP_TOKEN", TOKEN), ("REBOUND_BOOTSTRAP_PASSWORD", PASSWORD)],
    );
    let base = server.base.clone();
    let api = Api { http: reqwest::Client::new(), base: base.clone() };
    let fixture = seed(&api).await;
    let downloads = dir.path().join("downloads");
    std::fs::create_dir_all(&downloads).unwrap();
    let (_chromedriver, driver_url) = start_chromedriver().await;
    let driver = browser(&driver_url, &dir.path().join("profile")).await;
    let (first, second) = (&fixture.scheduled[0], &fixture.scheduled[1]);

    let outcome = async {
        allow_downloads(&driver_url, &driver, &downloads).await;
        sign_in(&driver, &base, "sam", PASSWORD).await?;
        let mut seen = Seen::default();

        // 1. Select two rows and cancel them.
        for id in [first, second] {
            driver.find(By::Css(format!("input.select-row[value='{id}']"))).await?.click().await?;
        }
        seen.selected_count = driver.find(By::Id("selected-count")).await?.text().await?;
        driver.find(By::Id("bulk-cancel")).await?.click().await?;
        driver.query(By::Css("#console-dialog #bulk-included")).first().await?;
        for row in driver.find_all(By::Css("#console-dialog #bulk-included tr[data-id]")).await? {
            seen.preview_included.push(row.attr("data-id").await?.unwrap_or_default());
        }
        driver.find(By::Id("bulk-reason")).await?.send_keys("customer moved").await?;
        driver.find(By::Id("confirm-bulk-cancel")).await?.click().await?;
        seen.selection_result = driver.query(By::Id("cancelled-count")).first().await?.text().await?;
        close_and_reload(&driver).await?;
        for id in [first, second] {
            seen.states_after_selection.push(row_state(&driver, id).await?);
        }

        // 2. All in the time range "Next 7 days": the PROCESSING one is excluded.
        driver.find(By::Id("preset-next-7-days")).await?.click().await?;
        driver.query(By::Css("#preset-next-7-days[aria-current='true']")).first().await?;
        seen.list_in_range = list_ids(&driver).await?;
        driver.find(By::Id("bulk-cancel-range")).await?.click().await?;
        driver.query(By::Css("#console-dialog #bulk-counts")).first().await?;
        for row in driver.find_all(By::Css("#console-dialog #bulk-excluded tr[data-id]")).await? {
            seen.range_excluded.push(row.attr("data-id").await?.unwrap_or_default());
        }
        seen.range_will_cancel = driver.find(By::Id("will-cancel")).await?.text().await?;
        let _ = screenshot(&driver, dir.path(), "bulk-cancel-range").await;
        driver.find(By::Id("confirm-bulk-cancel")).await?.click().await?;
        let cancelled = driver.query(By::Id("cancelled-count")).first().await?.text().await?;
        let skipped = driver.find(By::Id("skipped-count")).await?.text().await?;
        seen.range_result = (cancelled, skipped);
        let _ = screenshot(&driver, dir.path(), "bulk-result").await;
        driver.find(By::Id("download-report")).await?.click().await?;
        seen.report = downloaded(&downloads, "cancellations-").await;
        close_and_reload(&driver).await?;

        // 3. Export the view.
        driver.find(By::Id("export-csv")).await?.click().await?;
        seen.export = downloaded(&downloads, "callbacks").await;
        WebDriverResult::Ok(seen)
    }
    .await;

    if let Ok(keep) = std::env::var("REBOUND_KEEP_SCREENSHOTS") {
        for name in ["bulk-cancel-range", "bulk-result"] {
            let _ = std::fs::copy(dir.path().join(format!("{name}.png")), Path::new(&keep).join(format!("{name}.png")));
        }
    }
    let shot = screenshot(&driver, dir.path(), "last-page").await;
    let kept = std::env::temp_dir().join("rebound-browser-bulk-last-page.png");
    let _ = std::fs::copy(&shot, &kept);
    driver.quit().await.ok();
    let seen = outcome.unwrap_or_else(|e| panic!("browser step failed: {e}; last page: {}", kept.display()));

    assert_eq!(seen.selected_count, "2 selected");
    assert_eq!(seen.preview_included, [first.clone(), second.clone()]);
    assert_eq!(seen.selection_result, "2");
    assert_eq!(seen.states_after_selection, ["COMPLETED", "COMPLETED"], "the list reloaded with them cancelled");

    assert_eq!(seen.list_in_range.len(), 5, "{:?}", seen.list_in_range);
    assert!(seen.list_in_range.contains(&fixture.processing));
    assert_eq!(seen.range_excluded, std::slice::from_ref(&fixture.processing));
    assert_eq!(seen.range_will_cancel, "2", "the two still scheduled");
    // Skipped: the PROCESSING one and the two cancelled before.
    assert_eq!(seen.range_result, ("2".to_string(), "3".to_string()));
    for id in &fixture.scheduled {
        assert_eq!(api.state(id).await, "COMPLETED", "{id}");
    }
    assert_eq!(api.state(&fixture.processing).await, "PROCESSING");

    // The report, as downloaded: every callback of the range with what happened to it.
    let (header, rows) = csv_rows(&seen.report);
    let ids = column(&header, &rows, "id");
    let outcomes = column(&header, &rows, "outcome");
    let states = column(&header, &rows, "state_before");
    let line = |id: &str| ids.iter().position(|i| i == id).unwrap_or_else(|| panic!("{id} not in the report"));
    assert_eq!(rows.len(), 5, "{rows:?}");
    let p = line(&fixture.processing);
    assert_eq!((outcomes[p].as_str(), states[p].as_str()), ("skipped", "PROCESSING"));
    for id in &fixture.scheduled[2..] {
        assert_eq!((outcomes[line(id)].as_str(), states[line(id)].as_str()), ("cancelled", "SCHEDULED"));
    }
    for id in [first, second] {
        assert_eq!((outcomes[line(id)].as_str(), states[line(id)].as_str()), ("skipped", "COMPLETED"));
    }

    // The export holds exactly the rows of the view.
    let (header, rows) = csv_rows(&seen.export);
    let mut exported = column(&header, &rows, "id");
    let mut expected = seen.list_in_range.clone();
    exported.sort();
    expected.sort();
    assert_eq!(exported, expected);
    let exported_states = column(&header, &rows, "state");
    assert_eq!(exported_states.iter().filter(|s| *s == "COMPLETED").count(), 4, "{exported_states:?}");
    drop(server);
}
