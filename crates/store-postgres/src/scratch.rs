//! Throwaway databases on a PostgreSQL server, for tests and `rebound bench`: each gets a database of
//! its own (so they run in parallel), dropped when done.

use rebound_store::{StoreError, StoreResult};

use crate::error::backend;

/// A database made for one test or bench run; dropped (with any connection still open) when the value
/// goes.
pub struct ScratchDatabase {
    admin_url: String,
    /// The database's name: `<prefix>_<uuid>`.
    pub name: String,
    /// Its URL, for [`crate::PgStore::connect`] or `rebound serve --database-url`.
    pub url: String,
}

impl ScratchDatabase {
    /// Creates `<prefix>_<uuid>` on the server `admin_url` names (a role that may create databases).
    pub async fn create(admin_url: &str, prefix: &str) -> StoreResult<ScratchDatabase> {
        let name = format!("{prefix}_{}", uuid::Uuid::now_v7().simple());
        let (client, connection) = tokio_postgres::connect(admin_url, tokio_postgres::NoTls).await.map_err(backend)?;
        tokio::spawn(connection);
        client.batch_execute(&format!("create database {name}")).await.map_err(backend)?;
        let mut config: tokio_postgres::Config =
            admin_url.parse().map_err(|e| StoreError::Backend(format!("invalid database URL: {e}")))?;
        config.dbname(&name);
        Ok(ScratchDatabase { admin_url: admin_url.to_string(), url: database_url(&config), name })
    }
}

impl Drop for ScratchDatabase {
    fn drop(&mut self) {
        let (admin_url, name) = (self.admin_url.clone(), self.name.clone());
        // Drop may run inside an async runtime: do the async cleanup on a thread of its own.
        let _ = std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread().enable_all().build() else { return };
            runtime.block_on(async {
                if let Ok((client, connection)) = tokio_postgres::connect(&admin_url, tokio_postgres::NoTls).await {
                    tokio::spawn(connection);
                    let _ = client.batch_execute(&format!("drop database if exists {name} with (force)")).await;
                }
            });
        })
        .join();
    }
}

/// `config` as a URL again (tokio-postgres parses URLs but does not print them).
fn database_url(config: &tokio_postgres::Config) -> String {
    let host = match config.get_hosts().first() {
        Some(tokio_postgres::config::Host::Tcp(host)) => host.clone(),
        _ => "127.0.0.1".to_string(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let user = config.get_user().unwrap_or("postgres");
    let password = config.get_password().map(|p| format!(":{}", String::from_utf8_lossy(p))).unwrap_or_default();
    format!("postgres://{user}{password}@{host}:{port}/{}", config.get_dbname().unwrap_or("postgres"))
}
