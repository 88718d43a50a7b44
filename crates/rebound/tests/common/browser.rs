//! Headless Chromium through chromedriver (TESTING.md) for the console's browser tests, and signing
//! in through the real login form.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use thirtyfour::prelude::*;

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// A child process killed when the test ends, however it ends.
pub struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// chromedriver on a free loopback port; answers its URL once it is ready.
pub async fn start_chromedriver() -> (Killed, String) {
    for tool in [CHROMIUM, CHROMEDRIVER] {
        assert!(
            Path::new(tool).exists(),
            "{tool} is missing: browser tests need `apt-get install -y chromium chromium-driver` (.ci/run does it)"
        );
    }
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let child = Command::new(CHROMEDRIVER)
        .args([format!("--port={port}"), "--allowed-ips=127.0.0.1".to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver starts");
    let url = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(30);
    while reqwest::get(format!("{url}/status")).await.is_err() {
        assert!(Instant::now() < deadline, "chromedriver did not answer within 30 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    (Killed(child), url)
}

/// Headless Chromium with the flags TESTING.md lists (no background traffic on the closed network).
pub async fn browser(driver_url: &str, profile: &Path) -> WebDriver {
    let mut caps = DesiredCapabilities::chrome();
    caps.set_binary(CHROMIUM).unwrap();
    for arg in [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        "--window-size=1280,800",
    ] {
        caps.add_arg(arg).unwrap();
    }
    caps.add_arg(&format!("--user-data-dir={}", profile.display())).unwrap();
    WebDriver::new(driver_url, caps).await.expect("a Chromium session")
}

/// Keeps a screenshot of the page when an assertion is about to fail, to see what the browser saw.
pub async fn screenshot(driver: &WebDriver, dir: &Path, name: &str) -> PathBuf {
    let path = dir.join(format!("{name}.png"));
    let _ = driver.screenshot(&path).await;
    path
}

/// Signs in through the login form as `username` and waits for the signed-in header.
pub async fn sign_in(driver: &WebDriver, base: &str, username: &str, password: &str) -> WebDriverResult<()> {
    driver.goto(format!("{base}/login")).await?;
    driver.find(By::Id("username")).await?.send_keys(username).await?;
    driver.find(By::Id("password")).await?.send_keys(password).await?;
    driver.find(By::Id("sign-in")).await?.click().await?;
    driver.query(By::Id("whoami")).first().await?;
    Ok(())
}
