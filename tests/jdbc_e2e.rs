//! The JDBC sink in `sluice standalone`, into SQLite: killed with SIGKILL in the middle of its
//! batches and started again, an upsert sink ends with every row exactly once.

use std::time::Duration;

use rdkafka::producer::FutureRecord;
use reqwest::blocking::Client;
use reqwest::StatusCode;
use serde_json::json;

mod common;
use common::{eventually, producer, Standalone, WAIT};

const ROWS: usize = 20_000;

fn count(db: &std::path::Path) -> usize {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        sqlx::any::install_default_drivers();
        let url = format!("sqlite://{}?mode=ro", db.display());
        let Ok(pool) = sqlx::any::AnyPoolOptions::new()
            .max_connections(1)
            .connect(&url)
            .await
        else {
            return 0;
        };
        // One statement, so both counts see the same rows.
        let counts: (i64, i64) =
            sqlx::query_as("SELECT COUNT(*), COUNT(DISTINCT id) FROM \"rows\"")
                .fetch_one(&pool)
                .await
                .unwrap_or((0, 0));
        let (n, distinct) = counts;
        pool.close().await;
        assert_eq!(n, distinct, "a row written twice");
        n as usize
    })
}

fn connector(db: &std::path::Path) -> serde_json::Value {
    json!({"name": "rows-sink", "config": {
        "connector.class": "io.confluent.connect.jdbc.JdbcSinkConnector",
        "topics": "rows", "connection.url": format!("jdbc:sqlite:{}", db.display()),
        "insert.mode": "upsert", "pk.mode": "record_value", "pk.fields": "id",
        "auto.create": "true", "batch.size": "500",
        "value.converter": "org.apache.kafka.connect.json.JsonConverter",
    }})
}

#[test]
fn an_upsert_sink_killed_mid_batch_ends_with_every_row_once() {
    let root = tempfile::tempdir().expect("tempdir");
    let db = root.path().join("rows.db");
    let sluice = Standalone::spawn(root.path());
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
        .json(&connector(&db))
        .send()
        .expect("POST");
    assert_eq!(response.status(), StatusCode::CREATED);
    // Kill it once some rows are in, before all are.
    let written = eventually("some rows written", || {
        Some(count(&db)).filter(|n| *n >= 1000)
    });
    sluice.kill();
    assert!(written < ROWS, "killed before the end ({written} rows)");

    let sluice = Standalone::spawn(root.path());
    let total = eventually("every row", || Some(count(&db)).filter(|n| *n >= ROWS));
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        count(&db),
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
