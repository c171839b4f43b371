//! Connecting to the database, the same way for the source and the sink: one connection per
//! task, whose session reads and writes times in UTC (`db.timezone` is UTC only), and database
//! errors sorted into those worth retrying and those about the data.

use std::future::Future;
use std::time::Duration;

use sqlx::any::AnyPoolOptions;
use sqlx::{AnyPool, Executor};

use sluice_connect_api::{ConnectError, Result};

use super::dialect::Dialect;
use super::url::Database;

/// A pool of one connection to `database`.
pub async fn connect(database: &Database) -> Result<AnyPool> {
    sqlx::any::install_default_drivers();
    let session = match database.dialect {
        Dialect::Postgres => Some("SET TIME ZONE 'UTC'"),
        Dialect::MySql => Some("SET time_zone = '+00:00'"),
        Dialect::Sqlite => None,
    };
    AnyPoolOptions::new()
        .max_connections(1)
        .acquire_timeout(Duration::from_secs(30))
        .after_connect(move |conn, _meta| {
            Box::pin(async move {
                if let Some(sql) = session {
                    conn.execute(sql).await?;
                }
                Ok(())
            })
        })
        .connect(&database.url)
        .await
        .map_err(|e| ConnectError::Retriable(format!("connecting to the database: {e}")))
}

/// A database error as a task sees it: a connection problem is worth retrying, a statement
/// the database refused is about the data.
pub fn db_error(context: &str, e: sqlx::Error) -> ConnectError {
    match e {
        sqlx::Error::Database(db) => ConnectError::data(format!("{context}: {db}")),
        sqlx::Error::Io(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::Protocol(_)
        | sqlx::Error::Tls(_) => ConnectError::Retriable(format!("{context}: {e}")),
        other => ConnectError::data(format!("{context}: {other}")),
    }
}

/// Runs database work from synchronous code (a connector's `start`, `task_configs` or
/// `validate_config`), on a thread of its own so it never blocks the worker's runtime.
pub fn block_on<T: Send>(work: impl Future<Output = T> + Send) -> Result<T> {
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .map(|runtime| runtime.block_on(work))
                    .map_err(|e| ConnectError::Fatal(format!("starting a runtime: {e}")))
            })
            .join()
            .map_err(|_| ConnectError::Fatal("database work panicked".into()))?
    })
}
