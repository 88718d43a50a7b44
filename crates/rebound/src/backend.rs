//! Opening the store the configuration names. The one place that knows which backend crates exist;
//! everything after this speaks only `rebound_store::Store`.

use std::sync::Arc;

use anyhow::Context as _;
use rebound_store::Store;
use rebound_store_postgres::{PgOptions, PgStore};
use rebound_store_sqlite::{SqliteOptions, SqliteStore};

use crate::config::{Config, Database};

/// Opens (creating when needed) the store and runs its migrations: the embedded SQLite file, or a
/// PostgreSQL database (which must exist; its tables are created here).
pub async fn open_store(config: &Config) -> anyhow::Result<Arc<dyn Store>> {
    let database = &config.database;
    match database {
        Database::Sqlite { file } => {
            let file = file.clone();
            // Opening creates files, runs migrations and starts the writer thread: blocking work.
            let store = tokio::task::spawn_blocking(move || {
                if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir)
                        .with_context(|| format!("cannot create the directory {}", dir.display()))?;
                }
                SqliteStore::open(&file, SqliteOptions::default())
                    .with_context(|| format!("cannot open the SQLite database {}", file.display()))
            })
            .await
            .context("the store-opening task failed")??;
            Ok(Arc::new(store))
        }
        // Connecting applies pending migrations under an advisory lock, so nodes may start together.
        Database::Postgres { url } => {
            let options = PgOptions { max_connections: config.database_pool_size as usize, ..PgOptions::default() };
            let store =
                PgStore::connect(url.expose(), options).await.with_context(|| format!("cannot open the {database}"))?;
            Ok(Arc::new(store))
        }
    }
}
