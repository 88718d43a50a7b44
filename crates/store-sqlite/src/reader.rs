//! The read pool: a few read-only connections. In WAL mode readers see the last committed snapshot
//! and never wait for the writer, so reads scale with the connections while the writer thread works.
//! Reads are blocking SQLite calls, so they run on tokio's blocking pool; a semaphore hands out
//! connections and makes surplus readers wait asynchronously instead of parking threads.

use std::sync::{Arc, Mutex};

use rebound_store::{StoreError, StoreResult};
use rusqlite::Connection;
use tokio::sync::Semaphore;

use crate::error::backend;

pub(crate) struct ReadPool {
    inner: Arc<Inner>,
}

struct Inner {
    idle: Mutex<Vec<Connection>>,
    permits: Arc<Semaphore>,
}

impl ReadPool {
    pub(crate) fn new(conns: Vec<Connection>) -> ReadPool {
        let permits = Arc::new(Semaphore::new(conns.len()));
        ReadPool { inner: Arc::new(Inner { idle: Mutex::new(conns), permits }) }
    }

    /// Runs `f` on a read connection from the blocking pool.
    pub(crate) async fn read<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    {
        let permit = self.inner.permits.clone().acquire_owned().await.map_err(backend)?;
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let conn = inner.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
            let Some(conn) = conn else {
                return Err(StoreError::Backend("no read connection available".into()));
            };
            // Catch a panic so the connection always goes back to the pool.
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(&conn)));
            inner.idle.lock().unwrap_or_else(|e| e.into_inner()).push(conn);
            result.unwrap_or_else(|_| Err(StoreError::Backend("a read failed unexpectedly".into())))
        })
        .await
        .map_err(|e| StoreError::Backend(format!("a read failed unexpectedly: {e}")))?
    }
}
