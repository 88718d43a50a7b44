//! The backend conformance suite on SQLite: a fresh database file in a fresh temp dir per test.

use std::sync::Arc;

use rebound_store::Store;
use rebound_store_sqlite::SqliteStore;

rebound_store::conformance_tests!(|| async {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = SqliteStore::open_in_dir(dir.path()).expect("open store");
    (Arc::new(store) as Arc<dyn Store>, dir)
});
