//! The console in a real browser: headless Chromium driven through chromedriver (TESTING.md) against
//! a real `rebound serve` process. What a supervisor does first: sign in, see the callbacks list
//! with their own data (safely escaped), sign out.
//!
//! Needs `chromium` and `chromium-driver` (`apt-get install -y chromium chromium-driver`); `.ci/run`
//! installs them. Without them the test fails and says so: a browser test that silently skips would
//! prove nothing.

mod common;

use common::ServeProcess;
use common::browser::{browser, screenshot, start_chromedriver};
use serde_json::{Value, json};
use thirtyfour::prelude::*;

const TOKEN: &str = "browser-test-bootstrap-token-0123456789";
const PASSWORD: &str = "browser-test-password-0123";

/// The fixture the supervisor will look at, made through the API.
async fn seed(base: &str) -> Vec<String> {
    let http = reqwest::Client::new();
    let post = |path: &str, body: Value| {
        let request = http.post(format!("{base}/api/v1{path}")).bearer_auth(TOKEN).json(&body);
        async move {
            let response = request.send().await.unwrap();
            let status = response.status();
            let body: Value = response.json().await.unwrap();
            assert!(status.is_success(), "{body}");
            body
        }
    };
    let all_day = json!([["00:00", "24:00"]]);
    let days = json!({"mon": all_day, "tue": all_day, "wed": all_day, "thu": all_day, "fri": all_day,
                      "sat": all_day, "sun": all_day});
    let campaign = post(
        "/campaigns",
        json!({"name": "Retail <b>London</b>", "direction": "outbound", "timezone": "Europe/London", "region": "GB",
               "running": true, "dialling_hours": days, "lead_calling_hours": ["00:00", "24:00"]}),
    )
    .await;
    let queue = post(
        "/queues",
        json!({"name": "Retail callbacks", "campaign_id": campaign["id"], "slot_minutes": 15, "slot_capacity": 100}),
    )
    .await;
    let mut ids = Vec::new();
    for (i, phone) in ["020 7946 0101", "020 7946 0102", "020 7946 0103"].into_iter().enumerate() {
        let callback = post(
            "/callbacks",
            json!({"type": "queue", "campaign_id": campaign["id"], "queue_id": queue["id"], "phone": phone,
                   "desired_time": (jiff::Timestamp::now() + jiff::SignedDuration::from_hours(24 + i as i64)).to_string(),
                   "notes": "<script>alert('x')</script>"}),
        )
        .await;
        ids.push(callback["id"].as_str().unwrap().to_string());
    }
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_supervisor_signs_in_sees_the_callbacks_and_signs_out() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServeProcess::start(
        &dir.path().join("data"),
        &[("REBOUND_BOOTSTRAP_TOKEN", TOKEN), ("REBOUND_BOOTSTRAP_PASSWORD", PASSWORD)],
    );
    let base = server.base.clone();
    let ids = seed(&base).await;
    let (_chromedriver, driver_url) = start_chromedriver().await;
    let driver = browser(&driver_url, &dir.path().join("profile")).await;

    let outcome = async {
        driver.goto(format!("{base}/login")).await?;
        driver.find(By::Id("username")).await?.send_keys("admin").await?;
        driver.find(By::Id("password")).await?.send_keys(PASSWORD).await?;
        driver.find(By::Id("sign-in")).await?.click().await?;

        // The list, signed in as the bootstrap admin, with the three callbacks.
        let whoami = driver.query(By::Id("whoami")).first().await?.text().await?;
        let role = driver.find(By::Id("role")).await?.text().await?;
        let rows = driver.find_all(By::Css("table#callbacks tr[data-id]")).await?;
        let mut shown = Vec::new();
        for row in &rows {
            shown.push(row.attr("data-id").await?.unwrap_or_default());
        }
        // The notes and the campaign name are shown as text, never run or rendered as markup.
        let alert = driver.get_alert_text().await.ok();
        let campaign_markup = driver.find_all(By::Css("table#callbacks b")).await?.len();

        driver.find(By::Css("form#logout button, form#logout input[type=submit]")).await?.click().await?;
        driver.query(By::Id("login")).first().await?;
        let after_logout = driver.current_url().await?;
        WebDriverResult::Ok(((whoami, role), shown, alert, campaign_markup, after_logout))
    }
    .await;

    let shot = screenshot(&driver, dir.path(), "last-page").await;
    let kept = std::env::temp_dir().join("rebound-browser-last-page.png");
    let _ = std::fs::copy(&shot, &kept);
    driver.quit().await.ok();
    let ((whoami, role), mut shown, alert, campaign_markup, after_logout) =
        outcome.unwrap_or_else(|e| panic!("browser step failed: {e}; last page: {}", kept.display()));

    // The bootstrap user `admin` is shown by its display name.
    assert_eq!((whoami.as_str(), role.as_str()), ("Administrator", "admin"));
    shown.sort();
    let mut expected = ids.clone();
    expected.sort();
    assert_eq!(shown, expected, "the list shows exactly the three callbacks");
    assert_eq!(alert, None, "a note's script ran");
    assert_eq!(campaign_markup, 0, "a campaign name's markup was rendered");
    assert!(after_logout.path().ends_with("/login"), "after sign-out: {after_logout}");
}
