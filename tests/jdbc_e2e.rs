//! The JDBC connectors in `sluice standalone`. Killed with SIGKILL in the middle of its batches
//! and started again, an upsert sink ends with every row exactly once, on SQLite, PostgreSQL and
//! MariaDB (the servers' tests are `#[ignore]`d here; `.ci/run` installs the servers and runs
//! them with `--ignored`); a source stopped and started while rows are being inserted and
//! updated copies every row in its last version, and no version twice.

use std::time::Duration;

use rdkafka::producer::FutureRecord;
use reqwest::blocking::Client;
use reqwest::StatusCode;
use serde_json::json;

mod common;
use common::{consume_if_exists, eventually, producer, Standalone, WAIT};

#[path = "../connectors/tests/support/mariadb.rs"]
mod mariadb;
#[path = "../connectors/tests/support/postgres.rs"]
mod postgres;

const ROWS: usize = 20_000;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

/// The database a sink writes to: its `connection.url`, the sqlx URL the test reads it with,
/// and how it quotes the table `rows`.
struct SinkDb {
    jdbc: String,
    sqlx: String,
    table: &'static str,
}

/// The rows written so far (0 while the table does not exist).
fn count(db: &SinkDb) -> usize {
    runtime().block_on(async {
        sqlx::any::install_default_drivers();
        let Ok(pool) = sqlx::any::AnyPoolOptions::new()
            .max_connections(1)
            .connect(&db.sqlx)
            .await
        else {
            return 0;
        };
        let n: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {}", db.table))
            .fetch_one(&pool)
            .await
            .unwrap_or(0);
        pool.close().await;
        n as usize
    })
}

fn connector(db: &SinkDb) -> serde_json::Value {
    // Small batches, so the kill lands between many transactions.
    json!({"name": "rows-sink", "config": {
        "connector.class": "io.confluent.connect.jdbc.JdbcSinkConnector",
        "topics": "rows", "connection.url": db.jdbc,
        "insert.mode": "upsert", "pk.mode": "record_value", "pk.fields": "id",
        "auto.create": "true", "batch.size": "100",
        "consumer.override.max.poll.records": "100",
        "value.converter": "org.apache.kafka.connect.json.JsonConverter",
    }})
}

#[test]
fn an_upsert_sink_killed_mid_batch_ends_with_every_row_once_in_sqlite() {
    let root = tempfile::tempdir().expect("tempdir");
    let file = root.path().join("rows.db");
    killed_mid_batch(
        root.path(),
        &SinkDb {
            jdbc: format!("jdbc:sqlite:{}", file.display()),
            sqlx: format!("sqlite://{}?mode=ro", file.display()),
            table: "\"rows\"",
        },
    );
}

#[test]
#[ignore = "needs PostgreSQL's server binaries: .ci/run installs them and runs this with --ignored"]
fn an_upsert_sink_killed_mid_batch_ends_with_every_row_once_in_postgresql() {
    let root = tempfile::tempdir().expect("tempdir");
    let server = postgres::Postgres::start();
    killed_mid_batch(
        root.path(),
        &SinkDb {
            jdbc: format!(
                "jdbc:postgresql://127.0.0.1:{}/postgres?user=postgres",
                server.port
            ),
            sqlx: format!("postgres://postgres@127.0.0.1:{}/postgres", server.port),
            table: "\"rows\"",
        },
    );
}

#[test]
#[ignore = "needs MariaDB's server: .ci/run installs it and runs this with --ignored"]
fn an_upsert_sink_killed_mid_batch_ends_with_every_row_once_in_mariadb() {
    let root = tempfile::tempdir().expect("tempdir");
    let server = mariadb::MariaDb::start();
    killed_mid_batch(
        root.path(),
        &SinkDb {
            jdbc: format!("jdbc:mariadb://127.0.0.1:{}/test?user=root", server.port),
            sqlx: server.sqlx_url(),
            table: "`rows`",
        },
    );
}

/// 20,000 records in a topic; the upsert sink is killed once some rows are in, before all
/// are, and started again: every row is there once and the task runs (an insert of a row
/// already written would have failed it).
fn killed_mid_batch(root: &std::path::Path, db: &SinkDb) {
    let sluice = Standalone::spawn(root);
    let producer = producer(&sluice.bootstrap, &[]);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let mut pending = Vec::new();
        for i in 0..ROWS {
            let value =
                json!({"schema": {"type": "struct", "name": "row", "optional": false, "fields": [
                {"field": "id", "type": "int64", "optional": false},
                {"field": "name", "type": "string", "optional": false}]},
                "payload": {"id": i, "name": format!("name-{i}")}})
                .to_string();
            pending.push(
                producer
                    .send_result(FutureRecord::<(), String>::to("rows").payload(&value))
                    .expect("queued"),
            );
        }
        for delivery in pending {
            delivery.await.expect("delivered").expect("stored");
        }
    });
    let http = Client::new();
    let response = http
        .post(sluice.url("/connectors"))
        .json(&connector(db))
        .send()
        .expect("POST");
    assert_eq!(response.status(), StatusCode::CREATED);
    // Kill it once some rows are in, before all are.
    let written = eventually("some rows written", || {
        Some(count(db)).filter(|n| *n >= 1000)
    });
    sluice.kill();
    assert!(written < ROWS, "killed before the end ({written} rows)");

    let sluice = Standalone::spawn(root);
    let total = eventually("every row", || Some(count(db)).filter(|n| *n >= ROWS));
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        count(db),
        ROWS,
        "every row exactly once after the restart ({total})"
    );
    let status: serde_json::Value = http
        .get(sluice.url("/connectors/rows-sink/status"))
        .timeout(WAIT)
        .send()
        .and_then(|r| r.json())
        .expect("status");
    assert_eq!(status["tasks"][0]["state"], "RUNNING", "{status}");
    sluice.stop();
}

const SOURCE_ROWS: i64 = 20_000;

/// Inserts `SOURCE_ROWS` rows in batches of 500 while the connector runs, each transaction
/// also updating every tenth row of the batch before (a new version, stamped later).
fn write_rows(db: std::path::PathBuf) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        runtime().block_on(async {
            sqlx::any::install_default_drivers();
            let url = format!("sqlite://{}?mode=rwc", db.display());
            let pool = sqlx::any::AnyPoolOptions::new()
                .max_connections(1)
                .connect(&url)
                .await
                .expect("connect");
            for start in (0..SOURCE_ROWS).step_by(500) {
                let values: Vec<String> = (start..start + 500)
                    .map(|i| format!("({}, 'row-{i}', strftime('%Y-%m-%d %H:%M:%f', 'now'))", i + 1))
                    .collect();
                sqlx::raw_sql(&format!(
                    "BEGIN; INSERT INTO items (id, name, updated) VALUES {}; UPDATE items SET name = name || '-v2', updated = strftime('%Y-%m-%d %H:%M:%f', 'now') WHERE id > {} AND id <= {} AND id % 10 = 0; COMMIT;",
                    values.join(","),
                    start - 500,
                    start
                ))
                .execute(&pool)
                .await
                .expect("insert");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            pool.close().await;
        })
    })
}

#[test]
fn a_source_restarted_while_rows_change_copies_every_row_and_no_version_twice() {
    let root = tempfile::tempdir().expect("tempdir");
    let db = root.path().join("items.db");
    runtime().block_on(async {
        sqlx::any::install_default_drivers();
        let url = format!("sqlite://{}?mode=rwc", db.display());
        let pool = sqlx::any::AnyPoolOptions::new()
            .max_connections(1)
            .connect(&url)
            .await
            .expect("connect");
        sqlx::raw_sql("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL, updated DATETIME NOT NULL)")
            .execute(&pool)
            .await
            .expect("create");
        pool.close().await;
    });
    let sluice = Standalone::spawn(root.path());
    let connector = json!({"name": "items-source", "config": {
        "connector.class": "io.confluent.connect.jdbc.JdbcSourceConnector",
        "connection.url": format!("jdbc:sqlite:{}", db.display()),
        "mode": "timestamp+incrementing", "timestamp.column.name": "updated",
        "incrementing.column.name": "id", "table.whitelist": "items",
        "topic.prefix": "db-", "poll.interval.ms": "50", "batch.max.rows": "300",
        "value.converter": "org.apache.kafka.connect.json.JsonConverter",
        "value.converter.schemas.enable": "false",
    }});
    let response = Client::new()
        .post(sluice.url("/connectors"))
        .json(&connector)
        .send()
        .expect("POST");
    assert_eq!(response.status(), StatusCode::CREATED);
    let writer = write_rows(db.clone());
    // Stop it once some rows are copied, before all are.
    eventually("some rows copied", || {
        Some(consume_if_exists(&sluice.bootstrap, "db-items", 0).len()).filter(|n| *n >= 2000)
    });
    sluice.stop();
    let sluice = Standalone::spawn(root.path());
    writer.join().expect("writer");
    // Every row, in its last version: the updated tenth rows (all but the last batch's) as
    // their second. A version overwritten before a poll saw it is not seen (only a change log
    // has those), but no version is copied twice.
    let last_version = |id: i64| {
        if id % 10 == 0 && id <= SOURCE_ROWS - 500 {
            format!("{id}:\"row-{}-v2\"", id - 1)
        } else {
            format!("{id}:\"row-{}\"", id - 1)
        }
    };
    let versions = || -> Vec<String> {
        consume_if_exists(&sluice.bootstrap, "db-items", 0)
            .iter()
            .map(|m| {
                let row: serde_json::Value =
                    serde_json::from_slice(rdkafka::Message::payload(m).unwrap_or_default())
                        .expect("json");
                format!("{}:{}", row["id"], row["name"])
            })
            .collect()
    };
    let deadline = std::time::Instant::now() + WAIT * 2;
    let missing = loop {
        let copied: std::collections::BTreeSet<String> = versions().into_iter().collect();
        let missing: Vec<String> = (1..=SOURCE_ROWS)
            .map(last_version)
            .filter(|v| !copied.contains(v))
            .collect();
        if missing.is_empty() || std::time::Instant::now() > deadline {
            break missing;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(
        missing.is_empty(),
        "{} rows never copied in their last version, first {:?}",
        missing.len(),
        missing.first()
    );
    std::thread::sleep(Duration::from_millis(500));
    let versions = versions();
    let distinct: std::collections::BTreeSet<&String> = versions.iter().collect();
    assert_eq!(distinct.len(), versions.len(), "a version copied twice");
    sluice.stop();
}
