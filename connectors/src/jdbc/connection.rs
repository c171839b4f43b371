//! Connecting to the database, the same way for the source and the sink: one connection per
//! task, whose session reads and writes times in UTC (`db.timezone` is UTC only), and database
//! errors sorted into those worth retrying and those about the data.

use std::future::Future;
use std::time::Duration;

use sqlx::any::AnyPoolOptions;
use sqlx::{AnyPool, Executor};

use sluice_connect_api::{ConfigDef, ConfigType, ConnectError, Importance, Result, Validator};

use super::dialect::Dialect;
use super::url::Database;

/// The keys both JDBC connectors take: where to connect, and how SQL is written.
pub fn config_def() -> ConfigDef {
    let only = |value: &str| Validator::OneOf(vec![value.to_string()]);
    ConfigDef::new()
        .define("connection.url", ConfigType::String, None, Importance::High, "JDBC connection URL (jdbc:postgresql://host:5432/db, jdbc:mysql://..., jdbc:sqlite:/path) or an sqlx URL.")
        .validator(Validator::NonEmptyString)
        .define("connection.user", ConfigType::String, Some(""), Importance::High, "JDBC connection user.")
        .define("connection.password", ConfigType::Password, Some(""), Importance::High, "JDBC connection password.")
        .define("connection.attempts", ConfigType::Int, Some("3"), Importance::Low, "Maximum number of attempts to retrieve a valid JDBC connection.")
        .validator(Validator::AtLeast(1.0))
        .define("connection.backoff.ms", ConfigType::Long, Some("10000"), Importance::Low, "Backoff time in milliseconds between connection attempts.")
        .validator(Validator::AtLeast(0.0))
        .define("dialect.name", ConfigType::String, Some(""), Importance::Low, "The dialect; by default taken from connection.url.")
        .define("db.timezone", ConfigType::String, Some("UTC"), Importance::Medium, "Only UTC is supported: timestamps without a time zone are read and written as UTC.")
        .validator(only("UTC"))
        .define("quote.sql.identifiers", ConfigType::String, Some("ALWAYS"), Importance::Medium, "Identifiers are always quoted.")
        .validator(only("ALWAYS"))
}

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
