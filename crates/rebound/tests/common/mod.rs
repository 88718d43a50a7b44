//! A real `rebound serve` process for the end-to-end tests (crash, browser): started on a fresh data
//! directory and a loopback port, with the developer's own `REBOUND_*` configuration kept out, and
//! killed (SIGKILL) when dropped, however the test ends.
#![allow(dead_code)] // each test binary uses a different part of the helper.

pub mod browser;
pub mod load;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_rebound");

pub struct ServeProcess {
    child: Child,
    /// `http://127.0.0.1:port`
    pub base: String,
}

impl ServeProcess {
    /// Starts `rebound serve` with `env` on top of a clean environment and waits for its
    /// "listening on" line.
    pub fn start(data_dir: &Path, env: &[(&str, &str)]) -> ServeProcess {
        ServeProcess::start_with(data_dir, &[], env)
    }

    /// [`ServeProcess::start`] with more `serve` flags (e.g. `--demo`).
    pub fn start_with(data_dir: &Path, flags: &[&str], env: &[(&str, &str)]) -> ServeProcess {
        let mut command = Command::new(BIN);
        command
            .args(["serve", "--data-dir", data_dir.to_str().unwrap(), "--listen", "127.0.0.1:0"])
            .args(flags)
            .env_remove("REBOUND_CONFIG")
            .env_remove("REBOUND_DATABASE_URL")
            .env("REBOUND_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        for (name, value) in env {
            command.env(name, value);
        }
        let mut child = command.spawn().expect("the rebound binary starts");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some((_, url)) = line.split_once(" listening on ") {
                    let _ = tx.send(url.trim().to_string());
                }
            }
        });
        let base = rx.recv_timeout(Duration::from_secs(60)).expect("the server says where it listens");
        ServeProcess { child, base }
    }

    /// SIGKILL: no shutdown code runs, exactly like a power cut of the process.
    pub fn kill(mut self) {
        self.child.kill().expect("SIGKILL");
        self.child.wait().expect("reaped");
    }
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
