//! `rebound serve` (and `rebound demo`): startup in a fixed order, the HTTP server, graceful shutdown.
//!
//! Order matters: signal handlers are installed before anything is printed, so a supervisor (or a
//! test) that sends SIGTERM as soon as it sees output gets a clean shutdown rather than the default
//! "killed by signal". Then the store is opened (running migrations), access is bootstrapped (the
//! first admin token and the first admin user), demo
//! data loaded if asked, the socket bound, the dispatch engine started (after migrations, so it
//! reads the current schema; it picks up whatever was due or held when the process last stopped),
//! and only then is the address printed: the "listening on" line on stdout is the signal that the
//! server is ready.
//!
//! Shutdown: stop accepting connections, end the live event streams, let in-flight requests finish
//! (up to [`SHUTDOWN_GRACE`]), then stop the engine after its current pass (it then gives up the
//! leader lease, if it held it). Nothing the engine does lives only in memory, so a hard kill is safe
//! too: a restart finds due callbacks and expired offers in the store.
//!
//! Several nodes on one PostgreSQL database: each serves the API and console and routes; the node
//! holding the store's leader lease also promotes, rescues expired holds and runs retention (see
//! `rebound_engine::leader`). A node that dies loses nothing: another takes the lease over once it
//! expires, and the holds of the dead node expire and go back to the queue.

use std::io::Write as _;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use rebound_domain::clock::{Clock, SystemClock};
use rebound_server::{AppState, router};

use crate::config::Config;
use crate::token::{self, Bootstrap};
use crate::{backend, demo, user};

/// How long in-flight requests (and open keep-alive or streaming connections) get to finish after a
/// shutdown signal before the process stops anyway.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// Runs the server until SIGTERM or Ctrl-C.
pub async fn run(config: Config, load_demo: bool) -> anyhow::Result<()> {
    let shutdown = ShutdownSignal::install()?;
    tracing::info!(database = %config.database, node = %config.node_name, "opening the store");
    let store = backend::open_store(&config).await?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);

    let bootstrap = token::bootstrap(store.as_ref(), config.bootstrap_token.as_ref()).await?;
    let first_user = user::bootstrap(store.clone(), config.bootstrap_password.as_ref()).await?;

    if load_demo {
        let options =
            demo::DemoOptions { now: clock.now(), retention_days: config.retention_days, ..Default::default() };
        match demo::load_if_empty(store.as_ref(), &options).await? {
            Some(summary) => println!("{summary}"),
            None => println!("Demo data not loaded: the store already has campaigns."),
        }
    }

    let state = AppState::new(store, clock, config.app_config());

    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    let local = listener.local_addr().context("cannot read the listening address")?;
    let base_url = format!("http://{}", display_addr(local));
    let engine = state.engine().start();

    match &bootstrap {
        Bootstrap::Generated(created) => print_banner(&base_url, created.secret.expose()),
        Bootstrap::FromConfig { id } => {
            println!("Created the admin token 'bootstrap' (id {id}) from REBOUND_BOOTSTRAP_TOKEN.");
        }
        Bootstrap::AlreadyConfigured => {}
    }
    match &first_user {
        user::Bootstrap::Generated(password) => print_user_banner(&base_url, password.expose()),
        user::Bootstrap::FromConfig => println!(
            "Created the console user '{}' (admin) with the password from REBOUND_BOOTSTRAP_PASSWORD.",
            user::BOOTSTRAP_USERNAME
        ),
        user::Bootstrap::AlreadyConfigured => {}
    }
    println!("Rebound {} listening on {base_url}", env!("CARGO_PKG_VERSION"));
    // Flush so whoever waits for the line above sees it now, not at exit.
    std::io::stdout().flush().ok();
    tracing::info!(listen = %local, "serving");

    // Retention: removes callbacks (and their history and reports) past their retention date, in
    // small batches so it never holds the writer for long; on the leader only.
    let retention = spawn_retention(state.clone());
    let app = router(state.clone());

    let (stop_tx, mut stop_rx) = tokio::sync::watch::channel(false);
    // With each connection's address: the sign-in rate limit counts attempts per client address.
    let app = app.into_make_service_with_connect_info::<SocketAddr>();
    let server = axum::serve(rebound_server::without_nagle(listener), app).with_graceful_shutdown(async move {
        // Resolves once `true` is sent (or the sender is gone, which also means "stop").
        let _ = stop_rx.wait_for(|stop| *stop).await;
    });

    let mut server = std::pin::pin!(server.into_future());
    let served = tokio::select! {
        result = &mut server => result.context("the HTTP server failed"),
        signal = shutdown.recv() => {
            tracing::info!(signal, "shutting down: no new connections; finishing in-flight requests");
            let _ = stop_tx.send(true);
            // Open SSE streams would otherwise hold the server for the whole grace period.
            state.close_streams();
            match tokio::time::timeout(SHUTDOWN_GRACE, &mut server).await {
                Ok(result) => result.context("the HTTP server failed while shutting down"),
                Err(_) => {
                    tracing::warn!(
                        grace_secs = SHUTDOWN_GRACE.as_secs(),
                        "connections still open after the grace period; stopping anyway"
                    );
                    Ok(())
                }
            }
        }
    };
    retention.abort();
    // No request can reach the engine any more: let it finish its pass and stop.
    engine.shutdown().await;
    tracing::info!("stopped");
    served
}

/// How often the retention pass runs, and how many callbacks one store call removes at most.
const RETENTION_EVERY: std::time::Duration = std::time::Duration::from_secs(60);
const RETENTION_BATCH: u32 = 1_000;

/// How often a node that does not lead looks whether it does now (to run retention).
const RETENTION_LEADER_CHECK: std::time::Duration = std::time::Duration::from_secs(5);

/// The retention loop: a pass as soon as this node leads, then one every [`RETENTION_EVERY`] while
/// it does (nodes sharing a database would otherwise all delete the same rows). Runs until aborted;
/// a failing pass is logged and tried again next time.
fn spawn_retention(state: rebound_server::AppState) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            if !state.engine().leads() {
                tokio::time::sleep(RETENTION_LEADER_CHECK).await;
                continue;
            }
            match rebound_server::retention::run_once(&state, RETENTION_BATCH).await {
                Ok(removed) if removed != rebound_store::PurgeOutcome::default() => tracing::info!(
                    retention.callbacks = removed.callbacks,
                    retention.events = removed.events,
                    retention.reports = removed.reports,
                    "retention removed expired records"
                ),
                Ok(_) => tracing::debug!("retention found nothing to remove"),
                Err(e) => tracing::error!(error.cause = %e, "a retention pass failed; it runs again later"),
            }
            tokio::time::sleep(RETENTION_EVERY).await;
        }
    })
}

/// The shutdown signals, registered eagerly (a `tokio::signal::ctrl_c()` future only registers its
/// handler when first polled, which would leave a window where SIGINT kills the process outright).
struct ShutdownSignal {
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
}

impl ShutdownSignal {
    fn install() -> anyhow::Result<Self> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Ok(ShutdownSignal {
                terminate: signal(SignalKind::terminate()).context("cannot install the SIGTERM handler")?,
                interrupt: signal(SignalKind::interrupt()).context("cannot install the SIGINT handler")?,
            })
        }
        #[cfg(not(unix))]
        {
            Ok(ShutdownSignal {})
        }
    }

    /// Waits for the first signal and names it.
    async fn recv(mut self) -> &'static str {
        #[cfg(unix)]
        {
            tokio::select! {
                _ = self.terminate.recv() => "SIGTERM",
                _ = self.interrupt.recv() => "SIGINT",
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
            "Ctrl-C"
        }
    }
}

/// The address as a client should type it: a wildcard listen address is reached via loopback.
fn display_addr(addr: SocketAddr) -> SocketAddr {
    match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), addr.port()),
        IpAddr::V6(ip) if ip.is_unspecified() => SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), addr.port()),
        _ => addr,
    }
}

/// The one time a generated admin secret is shown. It goes to stdout, not the log, so log shipping
/// never carries it.
fn print_banner(base_url: &str, secret: &str) {
    let rule = "=".repeat(78);
    println!("{rule}");
    println!("  Rebound created an admin API token for this new installation.");
    println!("  It is shown ONLY THIS ONCE (only its hash is stored). Keep it safe.");
    println!();
    println!("  token: {secret}");
    println!();
    println!("  Try it:");
    println!("    curl -H \"Authorization: Bearer {secret}\" {base_url}/api/v1/campaigns");
    println!();
    println!("  API docs:  {base_url}/api/docs");
    println!("  More tokens: rebound token create --role admin|supervisor|monitor|agent");
    println!("{rule}");
}

/// The one time a generated password for the first console user is shown (stdout, never the log).
fn print_user_banner(base_url: &str, password: &str) {
    let rule = "=".repeat(78);
    println!("{rule}");
    println!("  Rebound created the console user '{}' (role admin).", user::BOOTSTRAP_USERNAME);
    println!("  Its password is shown ONLY THIS ONCE (only an Argon2 hash is stored):");
    println!();
    println!("  password: {password}");
    println!();
    println!("  Sign in: POST {base_url}/api/v1/session {{\"username\": \"admin\", \"password\": \"…\"}}");
    println!("  Change it: rebound user passwd admin    More users: rebound user add --username … --role …");
    println!("{rule}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcard_addresses_are_shown_as_loopback() {
        assert_eq!(display_addr("0.0.0.0:8080".parse().unwrap()), "127.0.0.1:8080".parse().unwrap());
        assert_eq!(display_addr("[::]:8080".parse().unwrap()), "[::1]:8080".parse().unwrap());
        assert_eq!(display_addr("10.1.2.3:80".parse().unwrap()), "10.1.2.3:80".parse().unwrap());
    }
}
