//! A tour of the console's main screens on the demo data, in headless Chromium at 1280×800: every
//! screen shows what it is for and none is wider than the window (no layout breakage); a monitor
//! sees no write action anywhere on the list; an agent lands on their own view.
//!
//! Each screen is also saved as a PNG: into `$REBOUND_SCREENSHOT_DIR` when it is set (that is how
//! `docs/screenshots/` is made: `REBOUND_SCREENSHOT_DIR=$PWD/docs/screenshots cargo test -p rebound
//! --test console_tour`), else into the test's temporary directory.

mod common;

use std::path::{Path, PathBuf};

use common::ServeProcess;
use common::browser::{browser, screenshot, sign_in, start_chromedriver};
use serde_json::{Value, json};
use thirtyfour::prelude::*;

const TOKEN: &str = "tour-test-bootstrap-token-0123456789";
const PASSWORD: &str = "tour-test-password-0123";

async fn api(base: &str, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
    let mut request = reqwest::Client::new().request(method, format!("{base}/api/v1{path}")).bearer_auth(TOKEN);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let value: Value = response.json().await.unwrap_or(Value::Null);
    assert!(status.is_success(), "{path}: {status} {value}");
    value
}

async fn js(driver: &WebDriver, script: &str) -> WebDriverResult<Value> {
    Ok(driver.execute(script, Vec::<Value>::new()).await?.json().clone())
}

/// The form controls of the page (and of an open dialog) that have no accessible name: no
/// `<label for>`, no wrapping `<label>`, no `aria-label` or `aria-labelledby`.
const UNLABELLED: &str = r#"
    return [...document.querySelectorAll("input, select, textarea")]
      .filter((el) => el.type !== "hidden" && el.type !== "submit" && el.type !== "button")
      .filter((el) => !(el.labels && el.labels.length) && !el.getAttribute("aria-label") && !el.getAttribute("aria-labelledby"))
      .map((el) => el.outerHTML.slice(0, 120));
"#;

/// Saves the screen as `name.png`; notes in `faults` when the page is wider than the window or a
/// form control has no label.
async fn keep(driver: &WebDriver, dir: &Path, name: &str, faults: &mut Vec<String>) -> WebDriverResult<()> {
    let overflow = js(driver, "return document.documentElement.scrollWidth - window.innerWidth;").await?;
    if overflow.as_i64().unwrap_or(0) > 0 {
        faults.push(format!("{name}: {overflow} px wider than the window"));
    }
    if let Value::Array(unlabelled) = js(driver, UNLABELLED).await? {
        faults.extend(unlabelled.iter().map(|control| format!("{name}: no label for {control}")));
    }
    screenshot(driver, dir, name).await;
    Ok(())
}

fn screens_dir(temp: &Path) -> PathBuf {
    let dir = std::env::var_os("REBOUND_SCREENSHOT_DIR").map_or_else(|| temp.join("screens"), PathBuf::from);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Opens the row menu of the first row in `state` and follows `action` into its dialog.
async fn row_action(driver: &WebDriver, state: &str, action: &str) -> WebDriverResult<()> {
    let row = format!(r#"table#callbacks tr[data-state="{state}"]"#);
    driver.query(By::Css(format!("{row} details.row-menu > summary"))).first().await?.click().await?;
    driver.query(By::Css(format!("{row} a.action-{action}"))).and_displayed().first().await?.click().await?;
    driver.query(By::Css("dialog#console-dialog[open] h2")).first().await?;
    Ok(())
}

async fn close_dialog(driver: &WebDriver) -> WebDriverResult<()> {
    driver.find(By::Css("dialog#console-dialog [data-close]")).await?.click().await?;
    driver.query(By::Css("dialog#console-dialog[open]")).not_exists().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_main_screens_fit_a_laptop_and_each_role_sees_its_own() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServeProcess::start_with(
        &dir.path().join("data"),
        &["--demo"],
        &[("REBOUND_BOOTSTRAP_TOKEN", TOKEN), ("REBOUND_BOOTSTRAP_PASSWORD", PASSWORD)],
    );
    let base = server.base.clone();
    let shots = screens_dir(dir.path());

    // A monitor and an agent user for one of the demo's agents (the demo makes agents, not users).
    let agents = api(&base, reqwest::Method::GET, "/agents", None).await;
    let agent = agents["items"].as_array().and_then(|a| a.first()).cloned().unwrap_or_else(|| agents[0].clone());
    let agent_id = agent["id"].as_i64().expect("a demo agent");
    for (username, role, extra) in [("mona", "monitor", json!({})), ("andy", "agent", json!({"agent_id": agent_id}))] {
        let mut body = json!({"username": username, "role": role, "password": PASSWORD, "timezone": "Europe/London"});
        body.as_object_mut().unwrap().extend(extra.as_object().cloned().unwrap());
        api(&base, reqwest::Method::POST, "/users", Some(body)).await;
    }
    let campaigns = api(&base, reqwest::Method::GET, "/campaigns", None).await;
    let campaigns = campaigns["items"].as_array().cloned().unwrap_or_else(|| campaigns.as_array().cloned().unwrap());
    let canberra = campaigns.iter().find(|c| c["name"].as_str().unwrap_or("").contains("Canberra")).expect("Canberra");
    let canberra = canberra["id"].as_i64().unwrap();

    let some = api(&base, reqwest::Method::GET, "/callbacks?page_size=1", None).await;
    let phone = some["items"][0]["phone"].as_str().expect("a demo callback").to_string();

    let (_chromedriver, driver_url) = start_chromedriver().await;
    let driver = browser(&driver_url, &dir.path().join("profile")).await;
    let mut too_wide = Vec::new();
    let outcome = async {
        driver.goto(format!("{base}/login")).await?;
        keep(&driver, &shots, "login", &mut too_wide).await?;

        // The supervisor's day: the list, a row's details with its history, an edit, a bulk cancel.
        sign_in(&driver, &base, "admin", PASSWORD).await?;
        driver.find(By::Id("preset-next-7-days")).await?.click().await?;
        driver.query(By::Css("table#callbacks tr[data-id]")).first().await?;
        keep(&driver, &shots, "callbacks", &mut too_wide).await?;

        row_action(&driver, "COMPLETED", "details").await?;
        driver.find(By::Css("details#advanced-metrics > summary")).await?.click().await?;
        driver.query(By::Css("table#history tbody tr")).and_displayed().first().await?;
        keep(&driver, &shots, "details-history", &mut too_wide).await?;
        close_dialog(&driver).await?;

        row_action(&driver, "SCHEDULED", "edit").await?;
        driver.find(By::Id("override")).await?.click().await?;
        keep(&driver, &shots, "edit", &mut too_wide).await?;
        close_dialog(&driver).await?;

        driver.find(By::Id("preset-today")).await?.click().await?;
        driver.query(By::Id("bulk-cancel-range")).first().await?.click().await?;
        driver.query(By::Id("confirm-bulk-cancel")).first().await?;
        keep(&driver, &shots, "bulk-cancel", &mut too_wide).await?;
        close_dialog(&driver).await?;

        driver.find(By::Id("new-callback")).await?.click().await?;
        driver.query(By::Css("dialog#console-dialog form#create-callback")).first().await?;
        keep(&driver, &shots, "create", &mut too_wide).await?;
        close_dialog(&driver).await?;

        driver.goto(format!("{base}/search")).await?;
        driver.find(By::Id("search-q")).await?.send_keys(&phone).await?;
        driver.find(By::Css("form#callback-search button[type=submit]")).await?.click().await?;
        driver.query(By::Css("table#search-results tr[data-id], table#search-results tbody tr")).first().await?;
        keep(&driver, &shots, "search", &mut too_wide).await?;

        driver.goto(format!("{base}/options")).await?;
        driver.query(By::Id("options")).first().await?;
        keep(&driver, &shots, "options", &mut too_wide).await?;

        driver.goto(format!("{base}/dashboard")).await?;
        driver.query(By::Css("svg#due-per-slot")).first().await?;
        keep(&driver, &shots, "dashboard", &mut too_wide).await?;

        driver.goto(format!("{base}/config/campaigns/{canberra}/hours")).await?;
        driver.query(By::Id("hours-form")).first().await?;
        keep(&driver, &shots, "config-hours", &mut too_wide).await?;

        driver.goto(format!("{base}/config/queues")).await?;
        keep(&driver, &shots, "config-queues", &mut too_wide).await?;

        // A monitor reads everything and changes nothing: no selection, no bulk action, and a row
        // menu with nothing but the details.
        driver.delete_all_cookies().await?;
        sign_in(&driver, &base, "mona", PASSWORD).await?;
        driver.goto(format!("{base}/callbacks")).await?;
        let rows = driver.find_all(By::Css("table#callbacks tr[data-id]")).await?.len();
        let writes = driver
            .find_all(By::Css(
                "input.select-row, #select-all, #bulk-cancel, #bulk-cancel-range, #bulk-delete, \
                 a.action-edit, a.action-reschedule, a.action-cancel, a.action-recreate, a.action-delete, \
                 a[href='/callbacks/new']",
            ))
            .await?
            .len();
        let details = driver.find_all(By::Css("a.action-details")).await?.len();
        keep(&driver, &shots, "monitor", &mut too_wide).await?;

        // An agent lands on their own view.
        driver.delete_all_cookies().await?;
        sign_in(&driver, &base, "andy", PASSWORD).await?;
        let landing = driver.current_url().await?.path().to_string();
        driver.query(By::Id("presence")).first().await?;
        keep(&driver, &shots, "agent", &mut too_wide).await?;

        WebDriverResult::Ok((rows, writes, details, landing))
    }
    .await;
    let last = screenshot(&driver, dir.path(), "tour-last").await;
    let kept = std::env::temp_dir().join("rebound-tour-last.png");
    let _ = std::fs::copy(&last, &kept);
    driver.quit().await.ok();
    let (rows, writes, details, landing) =
        outcome.unwrap_or_else(|e| panic!("browser step failed: {e}; last page: {}", kept.display()));

    assert!(too_wide.is_empty(), "screens broke the 1280×800 layout or left a control unlabelled: {too_wide:#?}");
    assert!(rows > 0, "the monitor sees callbacks");
    assert_eq!(writes, 0, "the monitor was offered a write action");
    assert_eq!(details, rows, "every row offers the monitor its details");
    assert_eq!(landing, "/agent");
}
