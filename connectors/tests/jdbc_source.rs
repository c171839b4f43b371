//! The JDBC source against real databases: SQLite files (always), and PostgreSQL and MariaDB
//! servers started by the test in temporary directories (`#[ignore]`d here; `.ci/run` installs
//! them and runs these with `--ignored`). Rows are inserted and updated while the task runs,
//! and a task restarted from the offsets it stored must neither skip nor repeat a row.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::json;
use sluice_connect_api::{
    ConnectError, Connector, ConnectorContext, Decimal, OffsetReader, SourceMap, SourceRecord,
    SourceTask, Value,
};
use sluice_connectors::jdbc::{JdbcSourceConnector, JdbcSourceTask};
use sqlx::any::AnyPoolOptions;
use sqlx::AnyPool;

#[path = "support/mariadb.rs"]
mod mariadb;
#[path = "support/postgres.rs"]
mod postgres;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Sqlite,
    Postgres,
    MariaDb,
}

struct Db {
    kind: Kind,
    /// What users put in `connection.url`.
    jdbc: String,
    pool: AnyPool,
    /// How the database names a table in source partitions.
    qualifier: &'static str,
}

impl Db {
    async fn new(kind: Kind, jdbc: String, sqlx_url: &str, qualifier: &'static str) -> Self {
        sqlx::any::install_default_drivers();
        let pool = AnyPoolOptions::new()
            .max_connections(3)
            .connect(sqlx_url)
            .await
            .expect("connect");
        Self {
            kind,
            jdbc,
            pool,
            qualifier,
        }
    }

    async fn exec(&self, sql: &str) {
        sqlx::raw_sql(sql)
            .execute(&self.pool)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }

    fn auto_id(&self) -> &'static str {
        match self.kind {
            Kind::Sqlite => "id INTEGER PRIMARY KEY",
            Kind::Postgres => "id SERIAL PRIMARY KEY",
            Kind::MariaDb => "id INT AUTO_INCREMENT PRIMARY KEY",
        }
    }

    fn bytes(&self, hex: &str) -> String {
        match self.kind {
            Kind::Postgres => format!("decode('{hex}', 'hex')"),
            _ => format!("X'{hex}'"),
        }
    }

    async fn create_orders(&self) {
        let (timestamp, time, bytes) = match self.kind {
            Kind::Sqlite => ("DATETIME", "TIME", "BLOB"),
            Kind::Postgres => ("TIMESTAMP", "TIME", "BYTEA"),
            Kind::MariaDb => ("DATETIME(6)", "TIME(3)", "BLOB"),
        };
        self.exec(&format!(
            "CREATE TABLE orders ({}, customer VARCHAR(40), amount NUMERIC(10,2) NOT NULL, placed DATE, due {time}, updated {timestamp} NOT NULL, paid BOOLEAN, data {bytes})",
            self.auto_id()
        ))
        .await;
    }

    async fn insert_order(&self, customer: Option<&str>, cents: i64, updated: &str) {
        let customer = customer.map_or("NULL".to_string(), |c| format!("'{c}'"));
        self.exec(&format!(
            "INSERT INTO orders (customer, amount, placed, due, updated, paid, data) VALUES ({customer}, {}.{:02}, '2024-05-01', '12:30:00.250', '{updated}', true, {})",
            cents / 100,
            cents % 100,
            self.bytes("00ff")
        ))
        .await;
    }

    fn qualified(&self, table: &str) -> String {
        format!("{}{table}", self.qualifier)
    }
}

/// The offsets a worker would have stored: the last acknowledged offset per partition.
#[derive(Default, Clone)]
struct Offsets(Arc<Mutex<BTreeMap<String, SourceMap>>>);

impl Offsets {
    fn store(&self, records: &[SourceRecord]) {
        if let Ok(mut map) = self.0.lock() {
            for r in records {
                let key = serde_json::to_string(&*r.source_partition).expect("json");
                map.insert(key, r.source_offset.to_map());
            }
        }
    }
}

impl OffsetReader for Offsets {
    fn offset(&self, partition: &SourceMap) -> Option<SourceMap> {
        let key = serde_json::to_string(partition).ok()?;
        self.0.lock().ok()?.get(&key).cloned()
    }
}

fn source_task(
    db: &Db,
    pairs: &[(&str, &str)],
    tables: &[&str],
    offsets: &Offsets,
) -> JdbcSourceTask {
    let mut props: BTreeMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    props.insert("connection.url".into(), db.jdbc.clone());
    props
        .entry("topic.prefix".into())
        .or_insert_with(|| "db-".into());
    props
        .entry("poll.interval.ms".into())
        .or_insert_with(|| "50".into());
    if !tables.is_empty() {
        let ids: Vec<serde_json::Value> = tables
            .iter()
            .map(|t| {
                // [catalog, schema, name], the parts a database lacks as null.
                let mut names: Vec<Option<String>> = db
                    .qualified(t)
                    .split('.')
                    .map(|p| Some(p.to_string()))
                    .collect();
                while names.len() < 3 {
                    let at = if db.kind == Kind::MariaDb { 1 } else { 0 };
                    names.insert(at, None);
                }
                json!(names)
            })
            .collect();
        props.insert("tables".into(), serde_json::to_string(&ids).expect("json"));
    }
    let mut task = JdbcSourceTask::default();
    task.start(&props, Arc::new(offsets.clone()))
        .expect("start");
    task
}

/// Polls until `want` records came (or 20 s passed), then a little longer to catch any extra;
/// stores their offsets as the worker would once Kafka acknowledged them.
async fn poll_records(
    task: &mut JdbcSourceTask,
    want: usize,
    offsets: &Offsets,
) -> Vec<SourceRecord> {
    let mut got = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while got.len() < want && Instant::now() < deadline {
        got.extend(task.poll().await.expect("poll"));
    }
    let settle = Instant::now() + Duration::from_millis(400);
    while Instant::now() < settle {
        got.extend(task.poll().await.expect("poll"));
    }
    offsets.store(&got);
    got
}

fn field<'a>(record: &'a SourceRecord, name: &str) -> &'a Value {
    match &record.value {
        Value::Struct(s) => s.get(name).expect("field"),
        other => panic!("not a struct: {other:?}"),
    }
}

fn ids(records: &[SourceRecord]) -> Vec<i64> {
    records
        .iter()
        .map(|r| match field(r, "id") {
            Value::Int32(n) => i64::from(*n),
            Value::Int64(n) => *n,
            other => panic!("id {other:?}"),
        })
        .collect()
}

fn text(record: &SourceRecord, name: &str) -> Option<String> {
    match field(record, name) {
        Value::String(s) => Some(s.clone()),
        _ => None,
    }
}

/// Every mode against one database.
async fn exercise(db: &Db) {
    db.create_orders().await;
    db.insert_order(Some("Ada"), 1050, "2024-05-01 10:00:00.000001")
        .await;
    db.insert_order(None, 5, "2024-05-01 10:00:01").await;
    db.insert_order(Some("Cy"), 700, "2024-05-01 10:00:02")
        .await;

    // incrementing, on the auto-increment column found by itself, two rows a batch.
    let offsets = Offsets::default();
    let settings = [("mode", "incrementing"), ("batch.max.rows", "2")];
    let mut task = source_task(db, &settings, &["orders"], &offsets);
    let got = poll_records(&mut task, 3, &offsets).await;
    assert_eq!(ids(&got), [1, 2, 3]);
    let first = &got[0];
    assert_eq!(first.topic, "db-orders");
    assert_eq!(
        serde_json::to_value(&*first.source_partition).expect("json"),
        json!({"protocol": "1", "table": db.qualified("orders")})
    );
    assert_eq!(
        serde_json::to_value(got[2].source_offset.to_map()).expect("json"),
        json!({"incrementing": 3})
    );
    assert_eq!(text(first, "customer").as_deref(), Some("Ada"));
    assert_eq!(field(&got[1], "customer"), &Value::Null);
    assert_eq!(
        field(first, "amount"),
        &Value::Decimal(Decimal {
            unscaled: 1050,
            scale: 2
        })
    );
    assert_eq!(field(first, "placed"), &Value::Date(19844));
    assert_eq!(field(first, "due"), &Value::Time(45_000_250));
    assert_eq!(
        field(first, "updated"),
        &Value::Timestamp(1_714_557_600_000)
    );
    assert_eq!(field(first, "paid"), &Value::Boolean(true));
    assert_eq!(field(first, "data"), &Value::Bytes(vec![0, 255]));

    // A row inserted while the task runs comes next; a restarted task resumes after the last
    // stored offset: nothing again, nothing skipped.
    db.insert_order(Some("Dee"), 100, "2024-05-01 10:00:03")
        .await;
    assert_eq!(ids(&poll_records(&mut task, 1, &offsets).await), [4]);
    task.stop().expect("stop");
    let mut task = source_task(db, &settings, &["orders"], &offsets);
    assert!(poll_records(&mut task, 0, &offsets).await.is_empty());
    db.insert_order(Some("Eve"), 200, "2024-05-01 10:00:04")
        .await;
    assert_eq!(ids(&poll_records(&mut task, 1, &offsets).await), [5]);
    task.stop().expect("stop");

    // timestamp+incrementing sees updates too, and resumes to the microsecond.
    let offsets = Offsets::default();
    let settings = [
        ("mode", "timestamp+incrementing"),
        ("timestamp.column.name", "updated"),
        ("incrementing.column.name", "id"),
        ("batch.max.rows", "2"),
    ];
    let mut task = source_task(db, &settings, &["orders"], &offsets);
    assert_eq!(
        ids(&poll_records(&mut task, 5, &offsets).await),
        [1, 2, 3, 4, 5]
    );
    assert_eq!(
        serde_json::to_value(
            offsets
                .offset(&first.source_partition.as_ref().clone())
                .expect("stored")
        )
        .expect("json"),
        json!({"incrementing": 5, "timestamp": 1_714_557_604_000i64, "timestamp_nanos": 0})
    );
    db.exec("UPDATE orders SET customer = 'Bo', updated = '2024-05-01 11:00:00' WHERE id = 2")
        .await;
    let got = poll_records(&mut task, 1, &offsets).await;
    assert_eq!(ids(&got), [2]);
    assert_eq!(text(&got[0], "customer").as_deref(), Some("Bo"));
    task.stop().expect("stop");
    let mut task = source_task(db, &settings, &["orders"], &offsets);
    assert!(poll_records(&mut task, 0, &offsets).await.is_empty());
    task.stop().expect("stop");

    // timestamp mode never ends a batch amid rows of one timestamp: seven rows share one, and
    // batches hold three; every row comes once.
    db.exec(&format!(
        "CREATE TABLE ticks ({}, at {} NOT NULL)",
        db.auto_id(),
        if db.kind == Kind::MariaDb {
            "DATETIME(6)"
        } else {
            "TIMESTAMP"
        }
    ))
    .await;
    for at in ["2024-01-01 00:00:00", "2024-01-01 00:00:01"] {
        for _ in 0..(if at.ends_with('0') { 7 } else { 2 }) {
            db.exec(&format!("INSERT INTO ticks (at) VALUES ('{at}')"))
                .await;
        }
    }
    let offsets = Offsets::default();
    let mut task = source_task(
        db,
        &[
            ("mode", "timestamp"),
            ("timestamp.column.name", "at"),
            ("batch.max.rows", "3"),
        ],
        &["ticks"],
        &offsets,
    );
    let mut got = ids(&poll_records(&mut task, 9, &offsets).await);
    got.sort_unstable();
    assert_eq!(got, (1..=9).collect::<Vec<i64>>());
    task.stop().expect("stop");

    // bulk copies the whole table every poll.
    let mut task = source_task(
        db,
        &[("mode", "bulk"), ("poll.interval.ms", "200")],
        &["ticks"],
        &Offsets::default(),
    );
    let got = poll_records(&mut task, 18, &Offsets::default()).await;
    assert!(got.len() >= 18 && got.len() % 9 == 0, "{}", got.len());
    task.stop().expect("stop");

    // query mode: the topic is the prefix itself, the partition Confluent's.
    let offsets = Offsets::default();
    let mut task = source_task(
        db,
        &[
            ("mode", "incrementing"),
            ("incrementing.column.name", "id"),
            (
                "query",
                "SELECT id, customer, amount FROM orders WHERE amount > 1.5",
            ),
            ("topic.prefix", "big-orders"),
        ],
        &[],
        &offsets,
    );
    let got = poll_records(&mut task, 3, &offsets).await;
    assert_eq!(ids(&got), [1, 3, 5]);
    assert_eq!(got[0].topic, "big-orders");
    assert_eq!(
        serde_json::to_value(&*got[0].source_partition).expect("json"),
        json!({"query": "query"})
    );
    task.stop().expect("stop");

    // A column with no Connect type stops the task with an error naming it.
    let odd = match db.kind {
        Kind::Sqlite => "GEOMETRY",
        Kind::Postgres => "INTERVAL",
        Kind::MariaDb => "POINT",
    };
    db.exec(&format!("CREATE TABLE odd ({}, shape {odd})", db.auto_id()))
        .await;
    let mut task = source_task(
        db,
        &[("mode", "incrementing")],
        &["odd"],
        &Offsets::default(),
    );
    let err = task.poll().await.expect_err("unmappable");
    assert!(
        matches!(&err, ConnectError::Config { message, .. } if message.contains("shape") && message.to_lowercase().contains(&odd.to_lowercase())),
        "{err}"
    );
    task.stop().expect("stop");

    // validate names the key at fault, checked against the database.
    let connector = JdbcSourceConnector::default();
    let props = |pairs: &[(&str, &str)]| {
        let mut p: BTreeMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        p.insert("connection.url".into(), db.jdbc.clone());
        p.insert("topic.prefix".into(), "db-".into());
        p
    };
    let errors = connector.validate_config(&props(&[
        ("mode", "incrementing"),
        ("table.whitelist", "orders,nosuch"),
    ]));
    assert!(
        errors
            .iter()
            .any(|(k, m)| k == "table.whitelist" && m.contains("nosuch")),
        "{errors:?}"
    );
    let errors = connector.validate_config(&props(&[
        ("mode", "incrementing"),
        ("table.whitelist", "orders"),
        ("incrementing.column.name", "idd"),
    ]));
    assert!(
        errors
            .iter()
            .any(|(k, m)| k == "incrementing.column.name" && m.contains("idd")),
        "{errors:?}"
    );
    let errors = connector.validate_config(&props(&[
        ("mode", "timestamp"),
        ("table.whitelist", "orders"),
        ("timestamp.column.name", "customer"),
    ]));
    assert!(
        errors
            .iter()
            .any(|(k, m)| k == "timestamp.column.name" && m.contains("not a timestamp")),
        "{errors:?}"
    );
    assert!(connector
        .validate_config(&props(&[
            ("mode", "incrementing"),
            ("table.whitelist", "orders")
        ]))
        .is_empty());

    // A column added while the task runs comes with the rows after it, in a new schema.
    let offsets = Offsets::default();
    let mut task = source_task(db, &[("mode", "incrementing")], &["orders"], &offsets);
    assert_eq!(poll_records(&mut task, 5, &offsets).await.len(), 5);
    db.exec("ALTER TABLE orders ADD COLUMN note VARCHAR(20)")
        .await;
    db.exec(&format!(
        "INSERT INTO orders (customer, amount, placed, due, updated, paid, data, note) VALUES ('Fay', 3.00, '2024-05-01', '12:30:00', '2024-05-01 10:00:05', true, {}, 'rush')",
        db.bytes("01")
    ))
    .await;
    let got = poll_records(&mut task, 1, &offsets).await;
    assert_eq!(ids(&got), [6]);
    assert_eq!(text(&got[0], "note").as_deref(), Some("rush"));
    assert!(got[0]
        .value_schema
        .as_ref()
        .is_some_and(|s| s.field("note").is_some()));
    task.stop().expect("stop");
}

#[derive(Default)]
struct Reconfigurations(AtomicUsize);

impl ConnectorContext for Reconfigurations {
    fn request_task_reconfiguration(&self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
    fn raise_error(&self, error: ConnectError) {
        panic!("connector failed: {error}");
    }
}

/// New tables are found every `table.poll.interval.ms`, and the tasks get them.
async fn discovers_tables(db: &Db) {
    db.exec("CREATE TABLE alpha (id INT NOT NULL)").await;
    db.exec("CREATE TABLE beta (id INT NOT NULL)").await;
    let mut connector = JdbcSourceConnector::default();
    let context = Arc::new(Reconfigurations::default());
    let mut props: BTreeMap<String, String> = BTreeMap::new();
    for (k, v) in [
        ("mode", "bulk"),
        ("topic.prefix", "db-"),
        ("table.include.list", ".*(alpha|beta|gamma)"),
        ("table.poll.interval.ms", "200"),
    ] {
        props.insert(k.into(), v.into());
    }
    props.insert("connection.url".into(), db.jdbc.clone());
    connector.start(&props, context.clone()).expect("start");
    let tables = |configs: Vec<BTreeMap<String, String>>| -> Vec<String> {
        configs
            .iter()
            .map(|c| c.get("tables").cloned().unwrap_or_default())
            .collect()
    };
    let first = tables(connector.task_configs(4).expect("configs"));
    assert_eq!(first.len(), 2, "{first:?}");
    assert!(
        first[0].contains("alpha") && first[1].contains("beta"),
        "{first:?}"
    );
    db.exec("CREATE TABLE gamma (id INT NOT NULL)").await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while context.0.load(Ordering::SeqCst) == 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        context.0.load(Ordering::SeqCst) >= 1,
        "no reconfiguration asked for"
    );
    let after = tables(connector.task_configs(2).expect("configs"));
    assert_eq!(after.len(), 2);
    assert!(after.concat().contains("gamma"), "{after:?}");
    connector.stop().expect("stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_source_modes_types_offsets_and_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("shop.db");
    let db = Db::new(
        Kind::Sqlite,
        format!("jdbc:sqlite:{}", file.display()),
        &format!("sqlite://{}?mode=rwc", file.display()),
        "",
    )
    .await;
    exercise(&db).await;
    discovers_tables(&db).await;
}

async fn postgres_db(server: &postgres::Postgres) -> Db {
    Db::new(
        Kind::Postgres,
        format!(
            "jdbc:postgresql://127.0.0.1:{}/postgres?user=postgres",
            server.port
        ),
        &format!("postgres://postgres@127.0.0.1:{}/postgres", server.port),
        "postgres.public.",
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL's server binaries: .ci/run installs them and runs this with --ignored"]
async fn postgresql_source_modes_types_offsets_and_errors() {
    let server = postgres::Postgres::start();
    let db = postgres_db(&server).await;
    exercise(&db).await;
    discovers_tables(&db).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs MariaDB's server: .ci/run installs it and runs this with --ignored"]
async fn mariadb_source_modes_types_offsets_and_errors() {
    let server = mariadb::MariaDb::start();
    let db = Db::new(
        Kind::MariaDb,
        format!("jdbc:mariadb://127.0.0.1:{}/test?user=root", server.port),
        &server.sqlx_url(),
        "test.",
    )
    .await;
    exercise(&db).await;
    discovers_tables(&db).await;
}

/// A row stamped early but committed late (its transaction still open when later rows were
/// read) is not lost: on PostgreSQL reading stops short of the oldest open transaction.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL's server binaries: .ci/run installs them and runs this with --ignored"]
async fn postgresql_rows_committed_late_are_not_skipped() {
    let server = postgres::Postgres::start();
    let db = postgres_db(&server).await;
    db.exec("CREATE TABLE events (id SERIAL PRIMARY KEY, note TEXT, at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp())")
        .await;
    let offsets = Offsets::default();
    let mut task = source_task(
        &db,
        &[
            ("mode", "timestamp+incrementing"),
            ("timestamp.column.name", "at"),
            ("incrementing.column.name", "id"),
        ],
        &["events"],
        &offsets,
    );
    let mut slow = db.pool.begin().await.expect("begin");
    sqlx::raw_sql("INSERT INTO events (note) VALUES ('slow')")
        .execute(&mut *slow)
        .await
        .expect("insert slow");
    tokio::time::sleep(Duration::from_millis(20)).await;
    db.exec("INSERT INTO events (note) VALUES ('fast')").await;
    // The later row is held back while the earlier one's transaction is open...
    assert!(poll_records(&mut task, 1, &offsets).await.is_empty());
    slow.commit().await.expect("commit");
    // ...and both come, in timestamp order, once it committed.
    let got = poll_records(&mut task, 2, &offsets).await;
    let notes: Vec<Option<String>> = got.iter().map(|r| text(r, "note")).collect();
    assert_eq!(notes, [Some("slow".into()), Some("fast".into())]);
    task.stop().expect("stop");
}
