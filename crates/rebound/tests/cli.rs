//! The built `rebound` binary, end to end: first start prints a bootstrap admin token that works over
//! HTTP, SIGTERM stops it cleanly, a restart keeps the data and prints no new token,
//! `REBOUND_BOOTSTRAP_TOKEN` seeds the first token, `token create` makes role-limited tokens, and bad
//! configuration fails with a clear message instead of a panic.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_rebound");
const STARTUP: Duration = Duration::from_secs(60);
const STOP: Duration = Duration::from_secs(15);

/// Every variable the binary reads, removed so the developer's own environment cannot leak in.
const REBOUND_VARS: &[&str] = &[
    "REBOUND_DATA_DIR",
    "REBOUND_LISTEN",
    "REBOUND_DATABASE_URL",
    "REBOUND_RETENTION_DAYS",
    "REBOUND_LOG",
    "REBOUND_BOOTSTRAP_TOKEN",
    "REBOUND_BOOTSTRAP_PASSWORD",
    "REBOUND_SECURE_COOKIES",
    "REBOUND_USER_PASSWORD",
    "REBOUND_MAX_BODY_BYTES",
    "REBOUND_MAX_IMPORT_BODY_BYTES",
    "REBOUND_CONFIG",
    "REBOUND_NODE_NAME",
];

fn rebound(args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.args(args);
    for var in REBOUND_VARS {
        cmd.env_remove(var);
    }
    cmd.env("REBOUND_LOG", "warn");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd
}

/// A running `rebound serve` with its stdout lines up to the "listening on" line.
struct Server {
    child: Child,
    base_url: String,
    startup_output: Vec<String>,
    stderr_log: std::path::PathBuf,
}

impl Server {
    fn start(data_dir: &Path, env: &[(&str, &str)]) -> Server {
        let stderr_log = data_dir.with_extension(format!("stderr-{}.log", std::process::id()));
        let mut child = rebound(&["serve", "--data-dir", data_dir.to_str().unwrap(), "--listen", "127.0.0.1:0"], env)
            .stdout(Stdio::piped())
            .stderr(Stdio::from(File::create(&stderr_log).unwrap()))
            .spawn()
            .expect("the rebound binary starts");

        // Read stdout on a thread so a silent server cannot hang the test.
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });

        let deadline = Instant::now() + STARTUP;
        let mut startup_output = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) => {
                    let listening = line.split_once(" listening on ").map(|(_, url)| url.trim().to_string());
                    startup_output.push(line);
                    if let Some(base_url) = listening {
                        return Server { child, base_url, startup_output, stderr_log };
                    }
                }
                Err(_) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!(
                        "no 'listening on' line within {STARTUP:?}; stdout so far: {startup_output:#?}; stderr: {}",
                        std::fs::read_to_string(&stderr_log).unwrap_or_default()
                    );
                }
            }
        }
    }

    /// The first user's password from its banner, if one was printed.
    fn bootstrap_password(&self) -> Option<String> {
        self.startup_output.iter().find_map(|l| l.trim().strip_prefix("password: ").map(|t| t.trim().to_string()))
    }

    /// The secret from the bootstrap banner, if one was printed.
    fn bootstrap_token(&self) -> Option<String> {
        self.startup_output.iter().find_map(|l| l.trim().strip_prefix("token: ").map(|t| t.trim().to_string()))
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// Sends SIGTERM and waits for the exit status.
    fn terminate(mut self) -> ExitStatus {
        let status = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status().unwrap();
        assert!(status.success(), "kill -TERM failed");
        let deadline = Instant::now() + STOP;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!("the server did not stop within {STOP:?} of SIGTERM; stderr: {}", self.stderr());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr_log).unwrap_or_default()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // Only reached with the child still running when a test failed half-way.
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

async fn get(url: &str, token: Option<&str>) -> reqwest::StatusCode {
    let mut request = reqwest::Client::new().get(url);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.expect("the server answers").status()
}

fn run(args: &[&str], env: &[(&str, &str)]) -> Output {
    rebound(args, env).output().expect("the rebound binary runs")
}

#[tokio::test]
async fn first_start_prints_a_working_admin_token_and_sigterm_stops_cleanly() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");

    let server = Server::start(&data, &[]);
    let token = server.bootstrap_token().expect("a fresh store prints a bootstrap token");
    let banner = server.startup_output.join("\n");
    assert!(
        banner.contains(&format!("curl -H \"Authorization: Bearer {token}\" {}/api/v1/campaigns", server.base_url)),
        "{banner}"
    );
    assert_eq!(get(&server.url("/api/v1/campaigns"), Some(&token)).await, 200);
    assert_eq!(get(&server.url("/api/v1/campaigns"), None).await, 401);
    assert_eq!(get(&server.url("/api/v1/campaigns"), Some("not-a-real-token")).await, 401);
    let status = server.terminate();
    assert!(status.success(), "exit status after SIGTERM: {status:?}");

    // Second start on the same data: no new token, and the first one still works.
    let server = Server::start(&data, &[]);
    assert_eq!(server.bootstrap_token(), None, "{:#?}", server.startup_output);
    assert_eq!(get(&server.url("/api/v1/campaigns"), Some(&token)).await, 200);
    assert!(server.terminate().success());
}

#[tokio::test]
async fn bootstrap_token_from_the_environment_becomes_the_admin_token() {
    let tmp = tempfile::tempdir().unwrap();
    let secret = "xyz-operator-chosen-bootstrap-0123456789";
    let server = Server::start(&tmp.path().join("data"), &[("REBOUND_BOOTSTRAP_TOKEN", secret)]);
    assert_eq!(server.bootstrap_token(), None, "a configured token is never printed");
    assert!(!server.startup_output.join("\n").contains(secret));
    assert_eq!(get(&server.url("/api/v1/campaigns"), Some(secret)).await, 200);
    assert!(server.terminate().success());
}

#[tokio::test]
async fn token_create_makes_a_monitor_token_that_reads_but_cannot_write() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let server = Server::start(&data, &[]);

    // Made while the server runs, as an operator would.
    let out = run(
        &["token", "create", "--role", "monitor", "--name", "wallboard", "--data-dir", data.to_str().unwrap()],
        &[],
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8(out.stdout).unwrap();
    let monitor = stdout.trim();
    assert_eq!(stdout.lines().count(), 1, "only the secret goes to stdout: {stdout:?}");
    assert!(!monitor.is_empty());

    assert_eq!(get(&server.url("/api/v1/campaigns"), Some(monitor)).await, 200);
    let campaign = campaign_body();
    let status = reqwest::Client::new()
        .post(server.url("/api/v1/campaigns"))
        .bearer_auth(monitor)
        .header("content-type", "application/json")
        .body(campaign)
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 403);
    assert!(server.terminate().success());
}

/// Signs in over HTTP: the status.
async fn sign_in(server: &Server, username: &str, password: &str) -> reqwest::StatusCode {
    let body = serde_json::json!({"username": username, "password": password});
    reqwest::Client::new().post(server.url("/api/v1/session")).json(&body).send().await.unwrap().status()
}

#[tokio::test]
async fn first_start_prints_the_admin_users_password_once_and_user_commands_manage_people() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let dir = data.to_str().unwrap();
    let server = Server::start(&data, &[]);
    let password = server.bootstrap_password().expect("a fresh store prints the admin user's password");
    assert!(password.len() >= 12);
    assert_eq!(sign_in(&server, "admin", &password).await, 200);

    // Passwords come from the environment (or stdin), never from an argument.
    let out = run(
        &["user", "add", "--username", "sue", "--role", "supervisor", "--data-dir", dir],
        &[("REBOUND_USER_PASSWORD", "sue's long password")],
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(sign_in(&server, "sue", "sue's long password").await, 200);
    let short = run(
        &["user", "add", "--username", "tim", "--role", "monitor", "--data-dir", dir],
        &[("REBOUND_USER_PASSWORD", "short")],
    );
    assert!(!short.status.success());
    assert!(
        String::from_utf8_lossy(&short.stderr).contains("at least 12"),
        "{}",
        String::from_utf8_lossy(&short.stderr)
    );

    let mut passwd = rebound(&["user", "passwd", "sue", "--data-dir", dir], &[]).stdin(Stdio::piped()).spawn().unwrap();
    std::io::Write::write_all(passwd.stdin.as_mut().unwrap(), b"a brand new password\n").unwrap();
    assert!(passwd.wait().unwrap().success());
    assert_eq!(sign_in(&server, "sue", "sue's long password").await, 401);
    assert_eq!(sign_in(&server, "sue", "a brand new password").await, 200);

    let out = run(&["user", "disable", "sue", "--data-dir", dir], &[]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(sign_in(&server, "sue", "a brand new password").await, 401);
    assert!(!run(&["user", "disable", "nobody", "--data-dir", dir], &[]).status.success());
    assert!(server.terminate().success());

    // A restart prints no new password; the configured one is used only on a fresh store.
    let server = Server::start(&data, &[("REBOUND_BOOTSTRAP_PASSWORD", "ignored because users exist")]);
    assert_eq!(server.bootstrap_password(), None);
    assert_eq!(sign_in(&server, "admin", &password).await, 200);
    assert!(server.terminate().success());
    let fresh = tmp.path().join("fresh");
    let server = Server::start(&fresh, &[("REBOUND_BOOTSTRAP_PASSWORD", "operator chosen pw")]);
    assert_eq!(server.bootstrap_password(), None, "a configured password is never printed");
    assert_eq!(sign_in(&server, "admin", "operator chosen pw").await, 200);
    assert!(server.terminate().success());
}

fn campaign_body() -> &'static str {
    r#"{"name": "Monitor may not create this", "direction": "outbound", "timezone": "Europe/London",
        "region": "GB", "running": true, "dialling_hours": {"mon": [["09:00", "17:00"]]}}"#
}

#[test]
fn migrate_creates_the_store_and_exits() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("fresh");
    let out = run(&["migrate", "--data-dir", data.to_str().unwrap()], &[]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(std::fs::read_dir(&data).unwrap().next().is_some(), "the data directory holds the database");
}

#[test]
fn a_postgres_database_that_cannot_be_reached_fails_with_a_clear_message() {
    // Nothing listens on port 1: the connection is refused at once.
    let out = run(&["migrate", "--database-url", "postgres://rebound:pw-not-shown@127.0.0.1:1/rebound"], &[]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("cannot open the PostgreSQL postgres://rebound@127.0.0.1:1/rebound"), "{stderr}");
    assert!(!stderr.contains("pw-not-shown"), "the password is never shown: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");

    let out = run(&["serve"], &[("REBOUND_DATABASE_URL", "postgresql://h")]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("database_url: names no database"));
}

#[test]
fn invalid_configuration_names_the_setting() {
    let out = run(&["serve", "--listen", "not-an-address"], &[]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("listen"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}
