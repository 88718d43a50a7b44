//! `rebound bench`: Rebound's own benchmark. It starts a real server (the production router over a
//! fresh SQLite store in a temporary directory) on a loopback port and drives it over HTTP the way
//! integrations do, then prints each figure next to the machine's ceiling: raw group-committed
//! SQLite inserts of the same rows, measured in the same run, so figures from different machines
//! can be compared as ratios.
//!
//! Cells (select with `--only`):
//! - `ceiling`: raw inserts of callback rows in large transactions, `synchronous=FULL` (rows/s).
//! - `creates`: durable single creates, `--connections` concurrent keep-alive connections, every
//!   rule on (phone normalisation, earliest time, duplicate check, slot capacity, audit event).
//! - `bulk`: `POST /callbacks/import` in batches until `--bulk` callbacks are stored (rows/s).
//! - `search`: quick search by a national-format number once `--stored` callbacks exist (p50/p99).
//! - `list`: a 250-row filtered page (one-day range, sorted by desired time) at `--stored` (p50/p99).
//! - `console`: the console's callbacks list page (`GET /callbacks`, 250 rows of a one-day range,
//!   rendered to HTML on the server) for a signed-in supervisor at `--stored` (p50/p99).
//! - `cancel`: one bulk cancel of a two-day range (~100,000 callbacks at 3M stored), rows/s, while
//!   single creates keep arriving (their worst latency shows whether the API stalled).
//! - `export`: `GET /callbacks.csv` of everything stored, rows/s, and the growth of the process's
//!   anonymous memory while it streams (flat memory = it does not grow with the rows).
//!
//! Every throughput (rows or requests per second) is printed with its ratio to the ceiling; latency
//! percentiles are not, since a ratio of a latency to an insert rate means nothing.
//!
//! `--database-url postgres://…` runs the same cells on a fresh PostgreSQL database (no ceiling then),
//! and `--nodes N` starts N servers on it, each with its own engine: the creates cell spreads its
//! connections over all of them.
//!
//! Timings live here and only here: tests assert behaviour, this measures it.

mod dispatch;
mod http;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use jiff::{SignedDuration, Timestamp};
use rebound_domain::access::Role;
use rebound_domain::clock::SystemClock;
use rebound_domain::model::User;
use rebound_server::{AppConfig, AppState, auth};
use rebound_store::{NewToken, Store};
use rebound_store_postgres::scratch::ScratchDatabase;
use rebound_store_sqlite::SqliteStore;
use serde_json::{Value, json};

use crate::http::HttpConn;

/// Options of `rebound bench`.
#[derive(Debug, Clone, clap::Args)]
pub struct BenchArgs {
    /// Durable single creates to send.
    #[arg(long, default_value_t = 100_000)]
    pub creates: usize,
    /// Concurrent HTTP connections for the create cell.
    #[arg(long, default_value_t = 64)]
    pub connections: usize,
    /// Callbacks to create through the bulk import endpoint (timed).
    #[arg(long, default_value_t = 1_000_000)]
    pub bulk: usize,
    /// Callbacks stored before the search and list cells run (filled up by bulk import).
    #[arg(long, default_value_t = 3_000_000)]
    pub stored: usize,
    /// Queries per read cell.
    #[arg(long, default_value_t = 2_000)]
    pub queries: usize,
    /// Rows for the raw-insert ceiling.
    #[arg(long, default_value_t = 500_000)]
    pub ceiling_rows: usize,
    /// Comma-separated cells to run: ceiling,creates,bulk,lateness,burst,lifecycle,idle,search,list,
    /// console,cancel,export (default: all).
    #[arg(long, value_delimiter = ',')]
    pub only: Vec<String>,
    /// How desired times follow creation order: `ordered` (each callback a little later than the
    /// one created before it, as in a live centre where most callbacks are for the near future) or
    /// `random` (consecutive callbacks land in slots all over the 60 days: the worst case for index
    /// locality).
    #[arg(long, value_enum, default_value_t = Spread::Ordered)]
    pub spread: Spread,
    /// Callbacks due over 5 s in the lateness cell.
    #[arg(long, default_value_t = 10_000)]
    pub due: usize,
    /// Future callbacks (due from tomorrow) stored before the dispatch cells run.
    #[arg(long, default_value_t = 1_000_000)]
    pub future: usize,
    /// Callbacks due at one instant in the burst cell.
    #[arg(long, default_value_t = 50_000)]
    pub burst: usize,
    /// Callbacks taken through the whole lifecycle by the no-op dialler.
    #[arg(long, default_value_t = 200_000)]
    pub lifecycle: usize,
    /// Where the temporary database goes (default: the system temp dir).
    #[arg(long)]
    pub data_dir: Option<std::path::PathBuf>,
    /// Run on PostgreSQL instead of SQLite: a server URL with a role that may create databases
    /// (`postgres://postgres@127.0.0.1:5432/postgres`). The bench makes a fresh database there and
    /// drops it at the end. The SQLite ceiling is not measured then (no ratios).
    #[arg(long)]
    pub database_url: Option<String>,
    /// Rebound nodes sharing the PostgreSQL database (each a whole server with its own engine, in this
    /// process); the creates cell spreads its connections over all of them.
    #[arg(long, default_value_t = 1)]
    pub nodes: usize,
}

/// See [`BenchArgs::spread`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Spread {
    Ordered,
    Random,
}

impl BenchArgs {
    fn wants(&self, cell: &str) -> bool {
        self.only.is_empty() || self.only.iter().any(|c| c == cell)
    }
}

/// Rows of the import body per request.
const IMPORT_BATCH: usize = 5_000;
/// Concurrent import requests.
const IMPORT_CONCURRENCY: usize = 2;
/// Scheduled callbacks spread over this many 5-minute slots (60 days).
const SLOT_SPREAD: usize = 60 * 24 * 12;
/// The span the desired times cover.
const SPREAD_SECS: i64 = 60 * 24 * 3600;

/// Runs the selected cells and prints a report; returns it as Markdown too.
pub async fn run(args: BenchArgs) -> anyhow::Result<String> {
    let base = args.data_dir.clone().unwrap_or_else(std::env::temp_dir);
    std::fs::create_dir_all(&base).with_context(|| format!("creating {}", base.display()))?;
    let dir = tempfile::Builder::new().prefix("rebound-bench-").tempdir_in(&base)?;
    let mut report = Report::default();
    report.line(format!(
        "rebound bench — {} cores, {}, data in {}",
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        Timestamp::now().strftime("%Y-%m-%d %H:%M UTC"),
        dir.path().display()
    ));

    let planned = args.stored.max(args.creates + args.bulk).max(1);
    // Whole hours from tomorrow, so every desired time is in the future and on the slot grid.
    let start = Timestamp::from_second((Timestamp::now().as_second() / 3600 + 24) * 3600)?;
    let spreader = Spreader { start, spread: args.spread, planned };

    let postgres = match &args.database_url {
        Some(url) => Some(ScratchDatabase::create(url, "rebound_bench").await?),
        None => None,
    };
    if let Some(db) = &postgres {
        report.line(format!("on PostgreSQL (fresh database {}), {} node(s)", db.name, args.nodes.max(1)));
    }

    let ceiling = if args.wants("ceiling") && postgres.is_none() {
        let path = dir.path().join("ceiling.db");
        let rate =
            rebound_store_sqlite::ceiling::raw_insert_rate(&path, args.ceiling_rows, &|i| spreader.desired_time(i))?;
        // Delete it now: otherwise the kernel is still writing its pages back while the next cells
        // run, and their fsyncs queue behind that (measured: creates ~20% slower).
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
        }
        report.cell("ceiling: raw group-committed inserts", format!("{rate:.0} rows/s"), None);
        Some(rate)
    } else {
        None
    };

    let server =
        BenchServer::start(dir.path(), postgres.as_ref().map(|db| db.url.as_str()), args.nodes, spreader).await?;
    let mut stored = 0usize;

    if args.wants("creates") && args.creates > 0 {
        let (rate, lat) = creates_cell(&server, args.creates, args.connections).await?;
        stored += args.creates;
        report.cell(
            &format!("creates: durable single creates, {} connections", args.connections),
            format!("{rate:.0}/s, p50 {} p99 {}", ms(lat.p50), ms(lat.p99)),
            ceiling.map(|c| rate / c),
        );
    }

    if args.wants("bulk") && args.bulk > 0 {
        let started = Instant::now();
        import(&server, stored, args.bulk).await?;
        let rate = args.bulk as f64 / started.elapsed().as_secs_f64();
        stored += args.bulk;
        report.cell("bulk: import endpoint", format!("{rate:.0} rows/s"), ceiling.map(|c| rate / c));
    }

    let wants_dispatch = ["lateness", "burst", "lifecycle", "idle"].iter().any(|c| args.wants(c));
    if wants_dispatch && stored < args.future {
        let started = Instant::now();
        import(&server, stored, args.future - stored).await?;
        report.line(format!(
            "(filled to {} future callbacks in {:.1} s)",
            args.future,
            started.elapsed().as_secs_f64()
        ));
        stored = args.future;
    }
    // Numbers of the dispatch cells' callbacks: a block of their own.
    let dispatch_phones = 20_000_000;

    if args.wants("lateness") && args.due > 0 {
        let late = dispatch::lateness_cell(&server, args.due, dispatch_phones).await?;
        report.cell(
            &format!("lateness: {} due over 5 s, {stored} future", args.due),
            format!(
                "p50 {} p99 {} max {} (earliest {:+.2} ms; promotion → client p50 {})",
                ms(late.latency.p50),
                ms(late.latency.p99),
                ms(late.max),
                late.earliest_ms,
                ms(late.delivery_p50)
            ),
            None,
        );
        let shares = dispatch::engine_lag_shares(&server, &["0.001", "0.005", "0.01", "0.05"]).await?;
        report.line(format!(
            "  (engine side, earliest time → commit: {:.0}% within 1 ms, {:.0}% within 5 ms, {:.0}% within 10 ms, {:.1}% within 50 ms)",
            shares[0] * 100.0,
            shares[1] * 100.0,
            shares[2] * 100.0,
            shares[3] * 100.0
        ));
    }

    if args.wants("burst") && args.burst > 0 {
        let last = dispatch::burst_cell(&server, args.burst, dispatch_phones).await?;
        report.cell(
            &format!("burst: {} due at one instant", args.burst),
            format!("all QUEUED within {}", ms(last)),
            None,
        );
    }

    if args.wants("lifecycle") && args.lifecycle > 0 {
        let life = dispatch::lifecycle_cell(&server, args.lifecycle, dispatch_phones).await?;
        report.cell(
            &format!("lifecycle: import → promote → claim → outcome, {}", args.lifecycle),
            format!("{:.0} callbacks/s ({} claims)", life.rate, life.claims),
            ceiling.map(|c| life.rate / c),
        );
    }

    if args.wants("idle") {
        let cpu = dispatch::idle_cpu_cell(Duration::from_secs(20)).await?;
        report.cell(&format!("idle: CPU over 20 s, {stored} future callbacks"), format!("{cpu:.2} % of a core"), None);
    }

    let wants_reads = ["search", "list", "console", "cancel", "export"].iter().any(|c| args.wants(c));
    if wants_reads && stored < args.stored {
        let started = Instant::now();
        import(&server, stored, args.stored - stored).await?;
        report.line(format!(
            "(filled to {} stored callbacks in {:.1} s)",
            args.stored,
            started.elapsed().as_secs_f64()
        ));
        stored = args.stored;
    }

    if args.wants("search") && stored > 0 {
        let lat = search_cell(&server, stored, args.queries).await?;
        report.cell(
            &format!("search: phone, national format, {stored} stored"),
            format!("p50 {} p99 {}", ms(lat.p50), ms(lat.p99)),
            None,
        );
    }

    if args.wants("list") && stored > 0 {
        let lat = list_cell(&server, stored, args.queries).await?;
        report.cell(
            &format!("list: 250-row page, one-day range, {stored} stored"),
            format!("p50 {} p99 {}", ms(lat.p50), ms(lat.p99)),
            None,
        );
    }

    if args.wants("console") && stored > 0 {
        let lat = console_cell(&server, stored, args.queries).await?;
        report.cell(
            &format!("console: callbacks list page, 250 rows as HTML, {stored} stored"),
            format!("p50 {} p99 {}", ms(lat.p50), ms(lat.p99)),
            None,
        );
    }

    if args.wants("export") && stored > 0 {
        let (rows, rate, growth) = export_cell(&server).await?;
        let memory = growth.map(|kb| format!(", anonymous memory +{:.1} MiB", kb as f64 / 1024.0)).unwrap_or_default();
        report.cell(
            &format!("export: callbacks.csv, {stored} stored"),
            format!("{rows} rows, {rate:.0} rows/s{memory}"),
            ceiling.map(|c| rate / c),
        );
    }

    if args.wants("cancel") && stored > 0 {
        // The throughput on its own, then a second range while single creates keep arriving: how
        // long do other API calls wait while a bulk cancel runs?
        let alone = cancel_cell(&server, stored, 30, false).await?;
        report.cell(
            &format!("cancel: bulk cancel of a range, {stored} stored"),
            format!("{} cancelled, {:.0} rows/s", alone.cancelled, alone.rate),
            ceiling.map(|c| alone.rate / c),
        );
        let busy = cancel_cell(&server, stored, 34, true).await?;
        report.cell(
            "cancel: the same while single creates keep arriving",
            format!(
                "{} cancelled, {:.0} rows/s; creates meanwhile: {} done, p99 {}, max {}",
                busy.cancelled,
                busy.rate,
                busy.creates,
                ms(busy.creates_latency.p99),
                ms(busy.creates_max)
            ),
            ceiling.map(|c| busy.rate / c),
        );
    }

    drop(server);
    drop(postgres); // drops the database
    Ok(report.text)
}

/// A server on a loopback port with an admin token and a campaign/queue fixture.
struct BenchServer {
    addr: SocketAddr,
    /// Every node's address (the first is `addr`); more than one only on PostgreSQL.
    nodes: Vec<SocketAddr>,
    store: Arc<dyn Store>,
    token: String,
    campaign_id: i64,
    queue_id: i64,
    spreader: Spreader,
}

impl BenchServer {
    async fn start(
        dir: &std::path::Path,
        postgres: Option<&str>,
        nodes: usize,
        spreader: Spreader,
    ) -> anyhow::Result<BenchServer> {
        let store = open_store(dir, postgres).await?;
        let token = auth::generate_token_secret();
        store.create_token(NewToken::new("bench", Role::Admin, auth::hash_token_secret(&token), None)).await?;
        let addr = serve_node(store.clone()).await?;
        let mut addrs = vec![addr];
        if let Some(url) = postgres {
            for _ in 1..nodes.max(1) {
                addrs.push(serve_node(open_store(dir, Some(url)).await?).await?);
            }
        }
        let mut conn = HttpConn::connect(addr, &token).await?;

        let all_day = json!([["00:00", "24:00"]]);
        let campaign = post(
            &mut conn,
            "/api/v1/campaigns",
            &json!({
                "name": "Bench London", "direction": "outbound", "timezone": "Europe/London",
                "region": "GB", "running": true,
                "dialling_hours": {"mon": all_day, "tue": all_day, "wed": all_day, "thu": all_day,
                                   "fri": all_day, "sat": all_day, "sun": all_day},
                "lead_calling_hours": ["00:00", "24:00"],
            }),
        )
        .await?;
        let campaign_id = campaign["id"].as_i64().context("campaign id")?;
        let queue = post(
            &mut conn,
            "/api/v1/queues",
            &json!({"name": "Bench queue", "campaign_id": campaign_id, "slot_minutes": 5,
                    "slot_capacity": 1000, "duplicate_policy": "one"}),
        )
        .await?;
        let queue_id = queue["id"].as_i64().context("queue id")?;
        Ok(BenchServer { addr, nodes: addrs, store, token, campaign_id, queue_id, spreader })
    }

    fn body_maker(&self) -> BodyMaker {
        BodyMaker { campaign_id: self.campaign_id, queue_id: self.queue_id, spreader: self.spreader }
    }
}

/// The store of one node: SQLite in `dir`, or a connection to the PostgreSQL database `postgres`.
async fn open_store(dir: &std::path::Path, postgres: Option<&str>) -> anyhow::Result<Arc<dyn Store>> {
    Ok(match postgres {
        Some(url) => Arc::new(rebound_store_postgres::PgStore::connect(url, Default::default()).await?),
        None => Arc::new(SqliteStore::open_in_dir(dir)?),
    })
}

/// One node: the production router and engine over `store` on a loopback port.
async fn serve_node(store: Arc<dyn Store>) -> anyhow::Result<SocketAddr> {
    let state = AppState::new(store, Arc::new(SystemClock), AppConfig::default());
    // The engine runs for the whole bench: the dispatch cells measure it, and the others show
    // that it costs nothing while nothing is due.
    let _running = state.engine().start(); // dropping the handle does not stop the engine
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let listener = rebound_server::without_nagle(listener);
    tokio::spawn(async move { axum::serve(listener, rebound_server::router(state)).await });
    Ok(addr)
}

/// A distinct, valid London number for each index (020 7xxx xxxx, then 020 8xxx xxxx, …).
fn e164(i: usize) -> String {
    let block = ["7", "8", "3"][i / 10_000_000 % 3];
    format!("+4420{block}{:07}", i % 10_000_000)
}

/// The same number in national format with spaces, as a person would type it.
fn national(i: usize) -> String {
    let e = e164(i);
    format!("0{} {} {}", &e[3..5], &e[5..9], &e[9..])
}

async fn post(conn: &mut HttpConn, path: &str, body: &Value) -> anyhow::Result<Value> {
    let reply = conn.post(path, &serde_json::to_vec(body)?).await?;
    if !(200..300).contains(&reply.status) {
        bail!("POST {path} answered {}: {}", reply.status, reply.text());
    }
    reply.json()
}

async fn creates_cell(server: &BenchServer, n: usize, connections: usize) -> anyhow::Result<(f64, Latency)> {
    let next = Arc::new(AtomicUsize::new(0));
    let mut conns = Vec::with_capacity(connections);
    for i in 0..connections {
        conns.push(HttpConn::connect(server.nodes[i % server.nodes.len()], &server.token).await?);
    }
    let started = Instant::now();
    let mut tasks = Vec::new();
    for mut conn in conns {
        let next = next.clone();
        let maker = server.body_maker();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(n / connections + 1);
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    break;
                }
                let body = maker.body(i);
                let t0 = Instant::now();
                let reply = conn.post("/api/v1/callbacks", &body).await?;
                latencies.push(t0.elapsed());
                if reply.status != 201 {
                    bail!("create {i} answered {}: {}", reply.status, reply.text());
                }
            }
            anyhow::Ok(latencies)
        }));
    }
    let mut all = Vec::with_capacity(n);
    for task in tasks {
        all.extend(task.await??);
    }
    let rate = n as f64 / started.elapsed().as_secs_f64();
    Ok((rate, Latency::of(all)))
}

/// Builds create bodies (a distinct London number, a desired time per [`Spread`] over 60 days)
/// without holding the server, so tasks can copy it.
#[derive(Clone, Copy)]
struct BodyMaker {
    campaign_id: i64,
    queue_id: i64,
    spreader: Spreader,
}

/// Where the i-th callback's desired time falls (see [`Spread`]).
#[derive(Clone, Copy)]
struct Spreader {
    /// Desired times are spread from here over 60 days.
    start: Timestamp,
    spread: Spread,
    /// How many callbacks the whole run creates.
    planned: usize,
}

impl Spreader {
    fn desired_time(&self, i: usize) -> Timestamp {
        match self.spread {
            Spread::Ordered => {
                let at_ms = (i % self.planned) as i64 * SPREAD_SECS * 1000 / self.planned as i64;
                self.start + SignedDuration::from_millis(at_ms)
            }
            Spread::Random => self.start + SignedDuration::from_mins(5 * (i % SLOT_SPREAD) as i64),
        }
    }
}

impl BodyMaker {
    fn body(&self, i: usize) -> Vec<u8> {
        let desired = self.spreader.desired_time(i);
        format!(
            r#"{{"type":"queue","campaign_id":{},"queue_id":{},"phone":"{}","desired_time":"{}"}}"#,
            self.campaign_id,
            self.queue_id,
            e164(i),
            desired
        )
        .into_bytes()
    }
}

/// Stores callbacks `first..first+count` through the import endpoint.
async fn import(server: &BenchServer, first: usize, count: usize) -> anyhow::Result<()> {
    let maker = server.body_maker();
    import_bodies(server, first, count, Arc::new(move |i| maker.body(i))).await
}

/// Makes the create body of the i-th callback.
type MakeBody = Arc<dyn Fn(usize) -> Vec<u8> + Send + Sync>;

/// Stores the callbacks `make(first..first+count)` through the import endpoint.
async fn import_bodies(server: &BenchServer, first: usize, count: usize, make: MakeBody) -> anyhow::Result<()> {
    let next = Arc::new(AtomicUsize::new(0));
    let batches = count.div_ceil(IMPORT_BATCH);
    let mut tasks = Vec::new();
    for _ in 0..IMPORT_CONCURRENCY {
        let next = next.clone();
        let mut conn = HttpConn::connect(server.addr, &server.token).await?;
        let maker = make.clone();
        tasks.push(tokio::spawn(async move {
            loop {
                let b = next.fetch_add(1, Ordering::Relaxed);
                if b >= batches {
                    break;
                }
                let lo = first + b * IMPORT_BATCH;
                let hi = (lo + IMPORT_BATCH).min(first + count);
                let mut body = Vec::with_capacity((hi - lo) * 140 + 16);
                body.extend_from_slice(br#"{"items":["#);
                for i in lo..hi {
                    if i > lo {
                        body.push(b',');
                    }
                    body.extend_from_slice(&maker(i));
                }
                body.extend_from_slice(b"]}");
                let reply = conn.post("/api/v1/callbacks/import", &body).await?;
                let status = reply.status;
                let value = reply.json()?;
                let created = value["created"].as_u64().unwrap_or(0) as usize;
                if status != 200 || created != hi - lo {
                    let first_error = value["items"].as_array().and_then(|items| {
                        items.iter().find(|item| item.get("error").is_some_and(|e| !e.is_null())).cloned()
                    });
                    bail!("import of {lo}..{hi} answered {status}, created {created}; first error: {first_error:?}");
                }
            }
            anyhow::Ok(())
        }));
    }
    for task in tasks {
        task.await??;
    }
    Ok(())
}

async fn search_cell(server: &BenchServer, stored: usize, queries: usize) -> anyhow::Result<Latency> {
    let mut conn = HttpConn::connect(server.addr, &server.token).await?;
    let mut latencies = Vec::with_capacity(queries);
    let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
    for _ in 0..queries {
        let i = (rng.next() as usize) % stored;
        let path = format!("/api/v1/callbacks?{}", query(&[("phone", &national(i))]));
        let t0 = Instant::now();
        let reply = conn.get(&path).await?;
        latencies.push(t0.elapsed());
        let value = reply.json()?;
        if reply.status != 200 || value["total"].as_u64() != Some(1) {
            bail!("search for callback {i} answered {}: {value}", reply.status);
        }
    }
    Ok(Latency::of(latencies))
}

/// A random one-day range of the spread and a random full page of it, as list query pairs.
fn day_page(server: &BenchServer, stored: usize, rng: &mut XorShift) -> (i64, u64, Vec<(&'static str, String)>) {
    // Callbacks go round the slot grid, so every 5-minute slot (288 a day) holds at least this many.
    let per_day_at_least = (stored / SLOT_SPREAD) * 288;
    let full_pages = (per_day_at_least / 250).clamp(1, 20) as u64;
    // A random day of the spread, a random full page among the first 20 (what people page through).
    let day = (rng.next() % 59) as i64;
    let page = 1 + rng.next() % full_pages;
    let from = server.spreader.start + SignedDuration::from_hours(24 * day);
    let to = from + SignedDuration::from_hours(24);
    let pairs = vec![
        ("from", from.to_string()),
        ("to", to.to_string()),
        ("sort", "desired_time".to_string()),
        ("page", page.to_string()),
    ];
    (day, page, pairs)
}

/// The console's list page as a signed-in supervisor sees it: the whole request, from the cookie
/// check to the last byte of the 250-row HTML page.
async fn console_cell(server: &BenchServer, stored: usize, queries: usize) -> anyhow::Result<Latency> {
    let password = "bench-supervisor-password";
    let now = Timestamp::now();
    let user = User {
        id: 0,
        username: "bench-supervisor".into(),
        display_name: "Bench Supervisor".into(),
        timezone: "Europe/London".into(),
        role: Role::Supervisor,
        agent_id: None,
        scope: None,
        disabled: false,
        created_at: now,
        updated_at: now,
    };
    server
        .store
        .create_user(
            user,
            &auth::passwords::hash_password(password.to_string()).await.map_err(|e| anyhow::anyhow!("{e:?}"))?,
        )
        .await?;
    let mut login = HttpConn::connect(server.addr, "").await?;
    let body = serde_json::to_vec(&json!({"username": "bench-supervisor", "password": password}))?;
    let signed_in = login.post("/api/v1/session", &body).await?;
    let secret = signed_in.session_cookie.context("signing in set no session cookie")?;

    let mut conn = HttpConn::connect_with_session(server.addr, &secret).await?;
    let mut latencies = Vec::with_capacity(queries);
    let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
    for _ in 0..queries {
        let (day, page, pairs) = day_page(server, stored, &mut rng);
        let pairs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let path = format!("/callbacks?{}", query(&pairs));
        let t0 = Instant::now();
        let reply = conn.get(&path).await?;
        latencies.push(t0.elapsed());
        let rows = find_all(&reply.body, b"<tr data-id=");
        if reply.status != 200 || rows != 250 {
            let text = reply.text();
            let main = text.find("id=\"total\"").or(text.find("page-error")).map_or(text.as_str(), |at| &text[at..]);
            bail!(
                "console page {page} of day {day} answered {} with {rows} rows: {}",
                reply.status,
                main.chars().take(600).collect::<String>()
            );
        }
    }
    Ok(Latency::of(latencies))
}

/// How many times `needle` occurs in `haystack`.
fn find_all(haystack: &[u8], needle: &[u8]) -> usize {
    haystack.windows(needle.len()).filter(|window| *window == needle).count()
}

async fn list_cell(server: &BenchServer, stored: usize, queries: usize) -> anyhow::Result<Latency> {
    let mut conn = HttpConn::connect(server.addr, &server.token).await?;
    let mut latencies = Vec::with_capacity(queries);
    let mut rng = XorShift(0xD1B5_4A32_D192_ED03);
    for _ in 0..queries {
        let (day, page, mut pairs) = day_page(server, stored, &mut rng);
        pairs.push(("page_size", "250".to_string()));
        let pairs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let path = format!("/api/v1/callbacks?{}", query(&pairs));
        let t0 = Instant::now();
        let reply = conn.get(&path).await?;
        latencies.push(t0.elapsed());
        let value = reply.json()?;
        let rows = value["items"].as_array().map_or(0, Vec::len);
        if reply.status != 200 || rows != 250 {
            bail!("list page {page} of day {day} answered {} with {rows} rows", reply.status);
        }
    }
    Ok(Latency::of(latencies))
}

/// Streams the whole export and counts its rows, sampling the process's anonymous memory.
async fn export_cell(server: &BenchServer) -> anyhow::Result<(usize, f64, Option<u64>)> {
    let mut conn = HttpConn::connect(server.addr, &server.token).await?;
    let baseline = rss_anon_kib();
    let peak = Arc::new(std::sync::atomic::AtomicU64::new(baseline.unwrap_or(0)));
    let sampling = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let sampler = {
        let (peak, sampling) = (peak.clone(), sampling.clone());
        tokio::spawn(async move {
            while sampling.load(Ordering::Relaxed) {
                if let Some(kib) = rss_anon_kib() {
                    peak.fetch_max(kib, Ordering::Relaxed);
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    };
    let mut newlines = 0usize;
    let started = Instant::now();
    let status = conn
        .get_streamed("/api/v1/callbacks.csv", |data| {
            newlines += data.iter().filter(|b| **b == b'\n').count();
            std::ops::ControlFlow::Continue(())
        })
        .await?;
    let elapsed = started.elapsed();
    sampling.store(false, Ordering::Relaxed);
    sampler.await?;
    if status != 200 {
        bail!("export answered {status}");
    }
    let rows = newlines.saturating_sub(1);
    let growth = baseline.map(|base| peak.load(Ordering::Relaxed).saturating_sub(base));
    Ok((rows, rows as f64 / elapsed.as_secs_f64(), growth))
}

/// The process's anonymous resident memory (heap, not file pages), in KiB; Linux only.
fn rss_anon_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("RssAnon:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

struct CancelOutcome {
    cancelled: u64,
    rate: f64,
    creates: usize,
    creates_latency: Latency,
    creates_max: Duration,
}

/// Bulk-cancels the range of days starting `first_day` days into the spread that holds about
/// 100,000 callbacks (two days at 3M stored). With `with_creates`, one connection keeps creating
/// callbacks meanwhile, to show how long other API calls wait during the bulk work.
async fn cancel_cell(
    server: &BenchServer,
    stored: usize,
    first_day: i64,
    with_creates: bool,
) -> anyhow::Result<CancelOutcome> {
    let per_day = (stored / SLOT_SPREAD).max(1) * 288;
    let days = (100_000 / per_day).clamp(1, 30) as i64;
    let from = server.spreader.start + SignedDuration::from_hours(24 * first_day);
    let to = from + SignedDuration::from_hours(24 * days);
    let body = json!({"all_in_range": {"from": from.to_string(), "to": to.to_string()}, "reason": "bench"});

    let done = Arc::new(std::sync::atomic::AtomicBool::new(!with_creates));
    let creator = {
        let done = done.clone();
        let maker = server.body_maker();
        let mut conn = HttpConn::connect(server.addr, &server.token).await?;
        tokio::spawn(async move {
            let mut latencies = Vec::new();
            // Numbers far above anything the other cells used.
            let mut i = 29_000_000;
            while !done.load(Ordering::Relaxed) {
                let t0 = Instant::now();
                let reply = conn.post("/api/v1/callbacks", &maker.body(i)).await?;
                latencies.push(t0.elapsed());
                if reply.status != 201 {
                    bail!("create during bulk cancel answered {}: {}", reply.status, reply.text());
                }
                i += 1;
            }
            anyhow::Ok(latencies)
        })
    };
    let mut conn = HttpConn::connect(server.addr, &server.token).await?;
    let started = Instant::now();
    let reply = conn.post("/api/v1/callbacks/bulk-cancel", &serde_json::to_vec(&body)?).await?;
    let elapsed = started.elapsed();
    done.store(true, Ordering::Relaxed);
    let latencies = creator.await??;
    if reply.status != 200 {
        bail!("bulk cancel answered {}: {}", reply.status, reply.text());
    }
    let value = reply.json()?;
    let cancelled = value["cancelled"].as_u64().context("cancelled count")?;
    let creates_max = latencies.iter().max().copied().unwrap_or_default();
    Ok(CancelOutcome {
        cancelled,
        rate: cancelled as f64 / elapsed.as_secs_f64(),
        creates: latencies.len(),
        creates_latency: Latency::of(latencies),
        creates_max,
    })
}

/// A URL-encoded query string.
fn query(pairs: &[(&str, &str)]) -> String {
    form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs).finish()
}

struct Latency {
    p50: Duration,
    p99: Duration,
}

impl Latency {
    fn of(mut samples: Vec<Duration>) -> Latency {
        samples.sort_unstable();
        let at = |q: f64| samples.get(((samples.len() as f64 * q) as usize).min(samples.len().saturating_sub(1)));
        Latency { p50: at(0.50).copied().unwrap_or_default(), p99: at(0.99).copied().unwrap_or_default() }
    }
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

/// A tiny deterministic generator, so runs query the same numbers.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[derive(Default)]
struct Report {
    text: String,
}

impl Report {
    fn line(&mut self, line: String) {
        println!("{line}");
        self.text.push_str(&line);
        self.text.push('\n');
    }

    fn cell(&mut self, name: &str, figure: String, ratio: Option<f64>) {
        let ratio = ratio.map(|r| format!("  ({:.2} × ceiling)", r)).unwrap_or_default();
        self.line(format!("{name:<55} {figure}{ratio}"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_numbers_are_valid_and_distinct_in_both_formats() {
        for i in [0, 1, 9_999_999, 10_000_000, 25_000_001] {
            let e = rebound_domain::phone::PhoneNumber::parse(&e164(i), None).expect("valid E.164");
            let n = rebound_domain::phone::PhoneNumber::parse(&national(i), Some("GB")).expect("valid national");
            assert_eq!(e, n, "index {i}");
        }
        assert_ne!(e164(0), e164(10_000_000));
    }

    #[test]
    fn percentiles_pick_the_right_samples() {
        let samples: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        let lat = Latency::of(samples);
        assert_eq!(lat.p50, Duration::from_millis(51));
        assert_eq!(lat.p99, Duration::from_millis(100));
    }
}
