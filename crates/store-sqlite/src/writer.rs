//! The one writer. SQLite admits a single writer at a time, so instead of letting many tasks fight
//! over a lock (and pay one fsync each), a dedicated thread owns the only read-write connection and
//! **group-commits**: it blocks for the first job, drains whatever else is already queued (up to
//! `max_batch`), runs them all inside one `BEGIN IMMEDIATE … COMMIT`, and answers each caller only
//! after that COMMIT has returned — i.e. after the WAL is fsynced (`synchronous=FULL`). One fsync
//! then acknowledges a whole batch, which is what lets one node take tens of thousands of durable
//! writes per second while every acknowledged write survives power loss.
//!
//! A job that fails (duplicate, full slot, illegal transition, constraint) must leave no trace while
//! the rest of the batch commits. Two kinds of job guarantee that:
//! - **guarded** ([`Writer::write`]): the job runs inside its own `SAVEPOINT`, rolled back if it
//!   fails. Any job may be guarded; configuration writes are.
//! - **check-first** ([`Writer::write_checked`]): the hot paths (create, transition) make every check
//!   before their first write, and each write is one statement (atomic on its own), so a refusal has
//!   written nothing and needs no savepoint. This matters: SQLite copies every page a savepoint
//!   touches into a sub-journal, and with a dozen index pages per callback that copying, not the
//!   inserts, dominated the writer (measured: ~3–5x fewer creates per second at 50k+ rows). The
//!   writer still verifies the promise with `total_changes()`: a check-first job that fails after
//!   writing (a "can't happen" constraint failure) aborts the whole batch, and every job in it is
//!   answered with a `Backend` error — never a half-applied write.
//!
//! If the COMMIT itself fails, nothing in the batch happened and every job is told so.
//!
//! After every COMMIT that changed anything, and before any of its callers is answered, the writer
//! bumps a [`watch`] counter (the store's commit signal): the live event stream waits on it instead
//! of polling, and a caller that saw its write acknowledged can rely on the counter having moved.

use std::panic::AssertUnwindSafe;

use rebound_store::{StoreError, StoreResult};
use rusqlite::Connection;
use tokio::sync::{mpsc, oneshot, watch};

use crate::error::backend;

/// Called once the batch's fate is known: `Ok(())` after a durable COMMIT, `Err` if it failed.
type Reply = Box<dyn FnOnce(Result<(), StoreError>) + Send>;
/// A unit of work run on the writer connection. Returns whether it succeeded, and the reply to send
/// after the commit.
type Work = Box<dyn FnOnce(&Connection) -> (bool, Reply) + Send>;

struct Job {
    /// Run inside a savepoint (else: check-first, see the module doc).
    guarded: bool,
    work: Work,
}

/// The async side: queues jobs for the writer thread and awaits their committed results.
pub(crate) struct Writer {
    tx: Option<mpsc::Sender<Job>>,
    thread: Option<std::thread::JoinHandle<()>>,
    /// Kept here too, so subscribing works even after the thread stopped.
    commits: watch::Receiver<u64>,
}

impl Writer {
    /// Starts the writer thread on `conn` (already configured and migrated).
    pub(crate) fn start(conn: Connection, max_batch: usize) -> StoreResult<Writer> {
        let max_batch = max_batch.max(1);
        // Bounded so a flood of writers waits in `send` (backpressure) instead of growing memory.
        let (tx, rx) = mpsc::channel::<Job>(max_batch * 4);
        let (signal, commits) = watch::channel(0u64);
        let thread = std::thread::Builder::new()
            .name("rebound-sqlite-writer".into())
            .spawn(move || run(conn, rx, max_batch, signal))
            .map_err(backend)?;
        Ok(Writer { tx: Some(tx), thread: Some(thread), commits })
    }

    /// The commit counter: changes after every commit that wrote something.
    pub(crate) fn commits(&self) -> watch::Receiver<u64> {
        let mut rx = self.commits.clone();
        rx.mark_unchanged();
        rx
    }

    /// Runs `f` on the writer connection in its own savepoint and returns its result once the batch
    /// it ran in is durably committed. An `Err` from `f` rolls back only `f`'s changes.
    pub(crate) async fn write<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    {
        self.submit(true, f).await
    }

    /// Like [`Writer::write`] without the savepoint, for jobs that make every check before their
    /// first write and write with single statements: an `Err` must mean nothing was written.
    pub(crate) async fn write_checked<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    {
        self.submit(false, f).await
    }

    async fn submit<T, F>(&self, guarded: bool, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    {
        let (reply_tx, reply_rx) = oneshot::channel::<StoreResult<T>>();
        let work: Work = Box::new(move |conn| {
            let result = f(conn);
            let keep = result.is_ok();
            let reply: Reply = Box::new(move |committed| {
                // The caller may have gone away (request cancelled); the write still happened.
                let _ = reply_tx.send(committed.and(result));
            });
            (keep, reply)
        });
        let job = Job { guarded, work };
        let tx = self.tx.as_ref().ok_or_else(|| StoreError::Backend("the store is closed".into()))?;
        tx.send(job).await.map_err(|_| StoreError::Backend("the writer thread has stopped".into()))?;
        // A dropped reply means the job panicked inside the writer; its savepoint was rolled back.
        reply_rx.await.map_err(|_| StoreError::Backend("the write failed unexpectedly".into()))?
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        // Closing the channel lets the thread finish what is queued and close the connection
        // (checkpointing the WAL) before the file is reopened or removed.
        drop(self.tx.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn run(conn: Connection, mut rx: mpsc::Receiver<Job>, max_batch: usize, signal: watch::Sender<u64>) {
    let mut jobs: Vec<Job> = Vec::with_capacity(max_batch);
    let mut replies: Vec<Reply> = Vec::with_capacity(max_batch);
    while let Some(first) = rx.blocking_recv() {
        jobs.push(first);
        while jobs.len() < max_batch {
            match rx.try_recv() {
                Ok(job) => jobs.push(job),
                Err(_) => break,
            }
        }
        let changes_before = conn.total_changes();
        let outcome = run_batch(&conn, &mut jobs, &mut replies);
        match &outcome {
            // Never blocks: watch keeps only the latest value.
            Ok(()) if conn.total_changes() != changes_before => signal.send_modify(|n| *n = n.wrapping_add(1)),
            Ok(()) => {}
            Err(e) => tracing::error!(error = %e, batch = replies.len(), "sqlite write batch failed"),
        }
        for reply in replies.drain(..) {
            reply(outcome.clone());
        }
    }
    tracing::debug!("sqlite writer stopped");
}

/// One transaction for the whole batch. Collects each job's reply into `replies`; the caller sends
/// them with the returned commit outcome. Jobs not yet run when the batch aborts are dropped with
/// it, which their callers see as a failed write.
fn run_batch(conn: &Connection, jobs: &mut Vec<Job>, replies: &mut Vec<Reply>) -> Result<(), StoreError> {
    exec(conn, "begin immediate")?;
    for job in jobs.drain(..) {
        if let Err(e) = run_job(conn, job, replies) {
            rollback(conn);
            return Err(e);
        }
    }
    if let Err(e) = exec(conn, "commit") {
        rollback(conn);
        return Err(e);
    }
    Ok(())
}

/// Runs one job inside the open transaction. An `Err` means the transaction can no longer be
/// trusted and the whole batch must be rolled back.
fn run_job(conn: &Connection, job: Job, replies: &mut Vec<Reply>) -> Result<(), StoreError> {
    if job.guarded {
        exec(conn, "savepoint job")?;
    }
    let before = conn.total_changes();
    let work = job.work;
    let ok = match std::panic::catch_unwind(AssertUnwindSafe(|| work(conn))) {
        Ok((ok, reply)) => {
            replies.push(reply);
            ok
        }
        // The reply was dropped with the job: its caller sees a failed write.
        Err(_) => {
            tracing::error!("a sqlite write job panicked");
            false
        }
    };
    if job.guarded {
        if !ok {
            exec(conn, "rollback to job")?;
        }
        exec(conn, "release job")
    } else if !ok && conn.total_changes() != before {
        Err(StoreError::Backend("a write failed after it had begun; its batch was rolled back".into()))
    } else {
        Ok(())
    }
}

fn exec(conn: &Connection, sql: &str) -> Result<(), StoreError> {
    conn.prepare_cached(sql).and_then(|mut s| s.execute([])).map(|_| ()).map_err(backend)
}

fn rollback(conn: &Connection) {
    if !conn.is_autocommit()
        && let Err(e) = conn.execute_batch("rollback")
    {
        tracing::error!(error = %e, "sqlite rollback failed");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    type Log = Arc<Mutex<Vec<Result<(), StoreError>>>>;

    fn job(guarded: bool, sql: &'static str, fail_after: bool, log: &Log) -> Job {
        let log = log.clone();
        Job {
            guarded,
            work: Box::new(move |conn| {
                let ok = conn.execute_batch(sql).is_ok() && !fail_after;
                (ok, Box::new(move |r| log.lock().unwrap().push(r)))
            }),
        }
    }

    fn rows(conn: &Connection) -> i64 {
        conn.query_row("select count(*) from t", [], |r| r.get(0)).unwrap()
    }

    fn conn() -> Connection {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch("create table t (x integer primary key)").unwrap();
        conn
    }

    #[test]
    fn a_failed_guarded_job_is_rolled_back_alone() {
        let (conn, log) = (conn(), Log::default());
        let mut jobs = vec![
            job(true, "insert into t values (1)", false, &log),
            job(true, "insert into t values (2)", true, &log),
            job(false, "insert into t values (3)", false, &log),
        ];
        let mut replies = Vec::new();
        assert!(run_batch(&conn, &mut jobs, &mut replies).is_ok());
        assert_eq!(replies.len(), 3);
        let x: Vec<i64> =
            conn.prepare("select x from t").unwrap().query_map([], |r| r.get(0)).unwrap().map(Result::unwrap).collect();
        assert_eq!(x, vec![1, 3]);
    }

    #[test]
    fn a_check_first_job_that_fails_after_writing_aborts_the_batch() {
        let (conn, log) = (conn(), Log::default());
        let mut jobs = vec![
            job(false, "insert into t values (1)", false, &log),
            job(false, "insert into t values (2)", true, &log),
            job(false, "insert into t values (3)", false, &log),
        ];
        let mut replies = Vec::new();
        assert!(matches!(run_batch(&conn, &mut jobs, &mut replies), Err(StoreError::Backend(_))));
        assert_eq!(rows(&conn), 0, "nothing of the batch is kept");
        assert!(conn.is_autocommit());
    }

    #[test]
    fn a_check_first_job_refused_before_writing_leaves_the_batch_intact() {
        let (conn, log) = (conn(), Log::default());
        let mut jobs = vec![
            job(false, "insert into t values (1)", false, &log),
            // A duplicate key: the statement fails on its own and writes nothing.
            job(false, "insert into t values (1)", false, &log),
        ];
        let mut replies = Vec::new();
        assert!(run_batch(&conn, &mut jobs, &mut replies).is_ok());
        assert_eq!(rows(&conn), 1);
    }

    #[tokio::test]
    async fn callers_are_answered_after_commit_with_their_own_result() {
        let writer = Writer::start(conn(), 8).unwrap();
        let ok = writer.write(|c| c.execute("insert into t values (1)", []).map_err(backend)).await;
        assert_eq!(ok.unwrap(), 1);
        let refused = writer.write_checked(|c| c.execute("insert into t values (1)", []).map_err(backend)).await;
        assert!(matches!(refused, Err(StoreError::Backend(_))));
        let n =
            writer.write(|c| c.query_row("select count(*) from t", [], |r| r.get::<_, i64>(0)).map_err(backend)).await;
        assert_eq!(n.unwrap(), 1);
    }

    #[tokio::test]
    async fn the_commit_signal_moves_before_the_writer_answers_and_only_when_something_was_written() {
        let writer = Writer::start(conn(), 8).unwrap();
        let mut commits = writer.commits();
        writer
            .write(|c| c.query_row("select count(*) from t", [], |r| r.get::<_, i64>(0)).map_err(backend))
            .await
            .unwrap();
        assert!(!commits.has_changed().unwrap(), "a read-only batch is no commit worth waking for");
        writer.write(|c| c.execute("insert into t values (1)", []).map_err(backend)).await.unwrap();
        assert!(commits.has_changed().unwrap(), "the signal moved before the caller was answered");
        assert_eq!(*commits.borrow_and_update(), 1);
    }
}
