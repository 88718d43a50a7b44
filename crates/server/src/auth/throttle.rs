//! The per-client sign-in rate limit: at most [`LOGIN_ATTEMPTS_PER_WINDOW`] sign-in attempts per
//! client address per [`LOGIN_WINDOW`], counted in memory (fixed windows; per process). It slows
//! password guessing across many usernames, which the per-user lockout does not.
//!
//! Time comes from the server's clock, so tests move it instead of waiting.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

use jiff::{SignedDuration, Timestamp};

/// Sign-in attempts one client address may make per window.
pub const LOGIN_ATTEMPTS_PER_WINDOW: u32 = 20;
/// The window.
pub const LOGIN_WINDOW: SignedDuration = SignedDuration::from_secs(60);
/// Past this many tracked addresses, finished windows are dropped (memory stays bounded).
const MAX_TRACKED: usize = 10_000;

/// Attempts per client address in the current window.
#[derive(Debug, Default)]
pub struct LoginThrottle {
    windows: Mutex<HashMap<Option<IpAddr>, Window>>,
}

#[derive(Debug, Clone, Copy)]
struct Window {
    started: Timestamp,
    attempts: u32,
}

impl LoginThrottle {
    /// Counts one attempt from `client` (`None`: the address is unknown, all such share one
    /// budget). `Err(seconds)` when the budget is spent: retry after that many seconds.
    pub fn attempt(&self, client: Option<IpAddr>, now: Timestamp) -> Result<(), u64> {
        let mut windows = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        if windows.len() >= MAX_TRACKED {
            windows.retain(|_, w| now.duration_since(w.started) < LOGIN_WINDOW);
            if windows.len() >= MAX_TRACKED {
                windows.clear();
            }
        }
        let window = windows.entry(client).or_insert(Window { started: now, attempts: 0 });
        if now.duration_since(window.started) >= LOGIN_WINDOW {
            *window = Window { started: now, attempts: 0 };
        }
        if window.attempts >= LOGIN_ATTEMPTS_PER_WINDOW {
            let left = LOGIN_WINDOW - now.duration_since(window.started);
            return Err(u64::try_from(left.as_secs()).unwrap_or(0).max(1));
        }
        window.attempts += 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_client_gets_its_own_budget_per_window() {
        let throttle = LoginThrottle::default();
        let t0: Timestamp = "2026-03-02T10:00:00Z".parse().unwrap();
        let a = Some("10.0.0.1".parse().unwrap());
        let b = Some("10.0.0.2".parse().unwrap());
        for _ in 0..LOGIN_ATTEMPTS_PER_WINDOW {
            throttle.attempt(a, t0).unwrap();
        }
        assert_eq!(throttle.attempt(a, t0 + SignedDuration::from_secs(15)), Err(45));
        assert_eq!(throttle.attempt(b, t0), Ok(()), "another client is not slowed");
        assert_eq!(throttle.attempt(a, t0 + LOGIN_WINDOW), Ok(()), "a new window");
    }
}
