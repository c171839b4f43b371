//! The JDBC sink against real databases: SQLite files (always), and a PostgreSQL server started
//! by the test in a temporary directory (`#[ignore]`d here; `.ci/run` installs PostgreSQL and
//! runs them with `--ignored`).

use std::collections::BTreeMap;
use std::sync::Arc;

use sluice_connect_api::{
    ConnectError, Decimal, Headers, Schema, SchemaBuilder, SchemaRef, SinkRecord, SinkTask, Struct,
    TimestampType, Value,
};
use sluice_connectors::jdbc::JdbcSinkTask;
use sqlx::any::AnyPoolOptions;
use sqlx::Row;

#[path = "support/mariadb.rs"]
mod mariadb;
#[path = "support/postgres.rs"]
mod postgres;

fn order_schema(with_note: bool) -> SchemaRef {
    let mut b = SchemaBuilder::struct_()
        .name("com.example.Order")
        .field("id", Schema::int64())
        .and_then(|b| b.field("customer", Schema::optional_string()))
        .and_then(|b| b.field("amount", SchemaBuilder::decimal(2).build()))
        .and_then(|b| b.field("qty", Schema::int16()))
        .and_then(|b| b.field("at", SchemaBuilder::timestamp().build()))
        .expect("schema");
    if with_note {
        b = b.field("note", Schema::optional_string()).expect("note");
    }
    b.build()
}

fn order(
    schema: &SchemaRef,
    id: i64,
    customer: Option<&str>,
    cents: i128,
    offset: i64,
) -> SinkRecord {
    let mut values = vec![
        Value::Int64(id),
        customer.map_or(Value::Null, |c| Value::String(c.into())),
        Value::Decimal(Decimal {
            unscaled: cents,
            scale: 2,
        }),
        Value::Int16(3),
        Value::Timestamp(1_714_564_800_123),
    ];
    if schema.fields.len() > 5 {
        values.push(Value::String("rush".into()));
    }
    SinkRecord {
        topic: "orders".into(),
        kafka_partition: 0,
        kafka_offset: offset,
        key_schema: Some(Schema::int64()),
        key: Value::Int64(id),
        value_schema: Some(Arc::clone(schema)),
        value: Value::Struct(Struct::from_values(Arc::clone(schema), values).expect("struct")),
        timestamp: None,
        timestamp_type: TimestampType::CreateTime,
        headers: Headers::new(),
    }
}

fn tombstone(id: i64, offset: i64) -> SinkRecord {
    SinkRecord {
        topic: "orders".into(),
        kafka_partition: 0,
        kafka_offset: offset,
        key_schema: Some(Schema::int64()),
        key: Value::Int64(id),
        value_schema: None,
        value: Value::Null,
        timestamp: None,
        timestamp_type: TimestampType::CreateTime,
        headers: Headers::new(),
    }
}

fn task(url: &str, pairs: &[(&str, &str)]) -> JdbcSinkTask {
    let mut props: BTreeMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    props.insert("connection.url".into(), url.into());
    let mut task = JdbcSinkTask::default();
    task.start(&props).expect("start");
    task
}

/// `id|customer|amount|qty|at` per row, ordered by id, as text.
async fn rows(sqlx_url: &str, table: &str, extra: &str) -> Vec<String> {
    sqlx::any::install_default_drivers();
    let pool = AnyPoolOptions::new()
        .max_connections(1)
        .connect(sqlx_url)
        .await
        .expect("connect");
    let sql = format!(
        "SELECT CAST(id AS TEXT) AS id, CAST(customer AS TEXT) AS customer, CAST(amount AS TEXT) AS amount, CAST(qty AS TEXT) AS qty, CAST(at AS TEXT) AS at{extra} FROM \"{table}\" ORDER BY id"
    );
    // MySQL casts to CHAR and quotes with backticks.
    let sql = if sqlx_url.starts_with("mysql") {
        sql.replace("AS TEXT)", "AS CHAR)").replace('"', "`")
    } else {
        sql
    };
    let out = sqlx::query(&sql)
        .fetch_all(&pool)
        .await
        .expect("select")
        .iter()
        .map(|r| {
            (0..r.len())
                .map(|i| {
                    // MySQL sends long text as a blob.
                    r.try_get::<Option<String>, _>(i)
                        .or_else(|_| {
                            r.try_get::<Option<Vec<u8>>, _>(i)
                                .map(|b| b.map(|b| String::from_utf8_lossy(&b).into_owned()))
                        })
                        .ok()
                        .flatten()
                        .unwrap_or_else(|| "NULL".into())
                })
                .collect::<Vec<_>>()
                .join("|")
        })
        .collect();
    pool.close().await;
    out
}

/// Every mode against one database, given its JDBC URL and the sqlx URL to read it back.
async fn exercise(url: &str, sqlx_url: &str, timestamp_text: &str) {
    let v1 = order_schema(false);
    // insert, auto.create, pk.mode=none
    let mut plain = task(
        url,
        &[
            ("auto.create", "true"),
            ("table.name.format", "plain_${topic}"),
        ],
    );
    plain
        .put(vec![
            order(&v1, 1, Some("Ada"), 1050, 0),
            order(&v1, 2, None, -5, 1),
        ])
        .await
        .expect("insert");
    assert_eq!(
        rows(sqlx_url, "plain_orders", "").await,
        [
            format!("1|Ada|10.50|3|{timestamp_text}"),
            format!("2|NULL|-0.05|3|{timestamp_text}")
        ]
    );

    // upsert keyed by the record key: a redelivered batch rewrites the same rows.
    let mut upsert = task(
        url,
        &[
            ("auto.create", "true"),
            ("insert.mode", "upsert"),
            ("pk.mode", "record_key"),
            ("pk.fields", "id"),
        ],
    );
    let batch = || {
        vec![
            order(&v1, 1, Some("Ada"), 1050, 0),
            order(&v1, 2, Some("Lee"), 99, 1),
        ]
    };
    upsert.put(batch()).await.expect("upsert");
    upsert.put(batch()).await.expect("the same batch again");
    // Two versions of one key in a batch: the later wins (one multi-row statement could not
    // hold both on PostgreSQL).
    upsert
        .put(vec![
            order(&v1, 2, Some("Lee"), 150, 2),
            order(&v1, 2, Some("Lee"), 199, 3),
        ])
        .await
        .expect("an update");
    let got = rows(sqlx_url, "orders", "").await;
    assert_eq!(got.len(), 2, "{got:?}");
    assert!(got[1].starts_with("2|Lee|1.99|"), "{got:?}");

    // auto.evolve adds the new optional column; without it the missing column is an error.
    let v2 = order_schema(true);
    let err = upsert
        .put(vec![order(&v2, 3, Some("Kim"), 100, 3)])
        .await
        .expect_err("no auto.evolve");
    assert!(
        err.to_string().contains("note") && err.to_string().contains("auto-evolution is disabled"),
        "{err}"
    );
    let mut evolving = task(
        url,
        &[
            ("auto.evolve", "true"),
            ("insert.mode", "upsert"),
            ("pk.mode", "record_key"),
            ("pk.fields", "id"),
        ],
    );
    evolving
        .put(vec![order(&v2, 3, Some("Kim"), 100, 3)])
        .await
        .expect("evolved");
    let got = rows(sqlx_url, "orders", ", CAST(note AS TEXT) AS note").await;
    assert_eq!(got.len(), 3);
    assert!(
        got[0].ends_with("|NULL") && got[2].ends_with("|rush"),
        "{got:?}"
    );

    // update touches existing rows only; a tombstone deletes with delete.enabled.
    let mut update = task(
        url,
        &[
            ("insert.mode", "update"),
            ("pk.mode", "record_key"),
            ("pk.fields", "id"),
            ("delete.enabled", "true"),
        ],
    );
    update
        .put(vec![
            order(&v1, 1, Some("Ada Lovelace"), 1050, 4),
            order(&v1, 9, Some("nobody"), 1, 5),
            tombstone(2, 6),
        ])
        .await
        .expect("update and delete");
    let got = rows(sqlx_url, "orders", "").await;
    let ids: Vec<&str> = got
        .iter()
        .map(|r| r.split('|').next().unwrap_or_default())
        .collect();
    assert_eq!(ids, ["1", "3"], "{got:?}");
    assert!(got[0].starts_with("1|Ada Lovelace|"), "{got:?}");

    // Tables are not created unless asked, and a type with no column is refused by name.
    let err = task(url, &[("table.name.format", "absent")])
        .put(vec![order(&v1, 1, None, 1, 0)])
        .await
        .expect_err("no table");
    assert!(
        err.to_string().contains("absent") && err.to_string().contains("auto-creation is disabled"),
        "{err}"
    );
    let nested = SchemaBuilder::struct_()
        .field("id", Schema::int64())
        .and_then(|b| b.field("tags", SchemaBuilder::array(Schema::string()).build()))
        .expect("schema")
        .build();
    let mut record = order(&v1, 1, None, 1, 0);
    record.value_schema = Some(Arc::clone(&nested));
    record.value = Value::Struct(
        Struct::from_values(nested, vec![Value::Int64(1), Value::Array(vec![])]).expect("struct"),
    );
    let err = task(
        url,
        &[("auto.create", "true"), ("table.name.format", "nested")],
    )
    .put(vec![record])
    .await
    .expect_err("array column");
    assert!(
        matches!(&err, ConnectError::Data(m) if m.contains("ARRAY")),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_insert_upsert_update_delete_create_and_evolve() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("shop.db");
    let url = format!("jdbc:sqlite:{}", file.display());
    let sqlx_url = format!("sqlite://{}", file.display());
    exercise(&url, &sqlx_url, "2024-05-01 12:00:00.123").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL's server binaries: .ci/run installs them and runs this with --ignored"]
async fn postgresql_insert_upsert_update_delete_create_and_evolve() {
    let server = postgres::Postgres::start();
    let url = format!("jdbc:postgresql://127.0.0.1:{}/postgres", server.port);
    let sqlx_url = format!("postgres://postgres@127.0.0.1:{}/postgres", server.port);
    exercise(
        &format!("{url}?user=postgres"),
        &sqlx_url,
        "2024-05-01 12:00:00.123",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs MariaDB's server: .ci/run installs it and runs this with --ignored"]
async fn mariadb_insert_upsert_update_delete_create_and_evolve() {
    let server = mariadb::MariaDb::start();
    let url = format!("jdbc:mariadb://127.0.0.1:{}/test?user=root", server.port);
    exercise(&url, &server.sqlx_url(), "2024-05-01 12:00:00.123").await;
}
