//! `io.confluent.connect.jdbc.JdbcSinkConnector`: struct values written as rows, by insert,
//! upsert or update, keyed as `pk.mode` says, with tables created and widened on demand and
//! tombstones deleting rows. Each `batch.size` records go in one transaction, and `put` returns
//! only once it committed: the worker commits offsets after `put`, so a crash never loses a row,
//! and in upsert mode a redelivered record rewrites the same row.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use sqlx::any::AnyArguments;
use sqlx::{AnyPool, Arguments};

use sluice_connect_api::schema::logical;
use sluice_connect_api::{
    calendar, BoxFuture, ConfigDef, ConfigType, ConnectError, Connector, ConnectorContext,
    Importance, Props, Result, Schema, SchemaRef, SchemaType, SinkConnector, SinkRecord, SinkTask,
    Validator, Value,
};

use super::connection::{connect, db_error};
use super::dialect::Dialect;
use super::url::Database;

pub fn config_def() -> ConfigDef {
    let one_of = |values: &[&str]| Validator::OneOf(values.iter().map(|v| v.to_string()).collect());
    let own = ConfigDef::new()
        .define("insert.mode", ConfigType::String, Some("insert"), Importance::High, "The insertion mode to use: insert, upsert or update.")
        .validator(one_of(&["insert", "upsert", "update"]))
        .define("pk.mode", ConfigType::String, Some("none"), Importance::High, "The primary key mode: none, kafka, record_key or record_value.")
        .validator(one_of(&["none", "kafka", "record_key", "record_value"]))
        .define("pk.fields", ConfigType::List, Some(""), Importance::Medium, "List of comma-separated primary key field names; their meaning depends on pk.mode.")
        .define("fields.whitelist", ConfigType::List, Some(""), Importance::Medium, "List of comma-separated record value field names. If empty, all fields from the record value are utilized.")
        .define("table.name.format", ConfigType::String, Some("${topic}"), Importance::Medium, "A format string for the destination table name, which may contain '${topic}'.")
        .define("auto.create", ConfigType::Boolean, Some("false"), Importance::Medium, "Whether to automatically create the destination table based on record schema.")
        .define("auto.evolve", ConfigType::Boolean, Some("false"), Importance::Medium, "Whether to automatically add columns in the table schema when found to be missing relative to the record schema.")
        .define("delete.enabled", ConfigType::Boolean, Some("false"), Importance::Medium, "Whether to treat null record values as deletes. Requires pk.mode to be record_key.")
        .define("batch.size", ConfigType::Int, Some("3000"), Importance::Medium, "Specifies how many records to attempt to batch together for insertion into the destination table.")
        .validator(Validator::AtLeast(1.0))
        .define("max.retries", ConfigType::Int, Some("10"), Importance::Medium, "The maximum number of times to retry on errors before failing the task.")
        .validator(Validator::AtLeast(0.0))
        .define("retry.backoff.ms", ConfigType::Int, Some("3000"), Importance::Medium, "The time in milliseconds to wait following an error before a retry attempt is made.")
        .validator(Validator::AtLeast(0.0))
        .define("replace.null.with.default", ConfigType::Boolean, Some("true"), Importance::Low, "Whether a null field with a default value is written as that default.");
    super::connection::config_def().merge(&own)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum InsertMode {
    Insert,
    Upsert,
    Update,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PkMode {
    None,
    Kafka,
    RecordKey,
    RecordValue,
}

#[derive(Debug, Clone)]
struct SinkConfig {
    database: Database,
    insert_mode: InsertMode,
    pk_mode: PkMode,
    pk_fields: Vec<String>,
    fields_whitelist: Vec<String>,
    table_format: String,
    auto_create: bool,
    auto_evolve: bool,
    delete_enabled: bool,
    batch_size: usize,
    max_retries: u32,
    retry_backoff: Duration,
    replace_null_with_default: bool,
}

impl SinkConfig {
    fn parse(props: &Props) -> Result<Self> {
        let values = config_def().parse_values(props)?;
        let text = |k: &str| values.text(k);
        let list = |k: &str| values.list(k);
        let number = |k: &str| values.int(k).unwrap_or(0);
        let flag = |k: &str| values.flag(k);
        let database = Database::parse(
            &text("connection.url"),
            Some(&text("connection.user")),
            Some(&text("connection.password")),
        )?;
        let insert_mode = match text("insert.mode").to_ascii_lowercase().as_str() {
            "upsert" => InsertMode::Upsert,
            "update" => InsertMode::Update,
            _ => InsertMode::Insert,
        };
        let pk_mode = match text("pk.mode").to_ascii_lowercase().as_str() {
            "kafka" => PkMode::Kafka,
            "record_key" => PkMode::RecordKey,
            "record_value" => PkMode::RecordValue,
            _ => PkMode::None,
        };
        let pk_fields = list("pk.fields");
        if pk_mode == PkMode::None && insert_mode != InsertMode::Insert {
            return Err(ConnectError::config(
                "pk.mode",
                format!(
                    "insert.mode={} needs a primary key: set pk.mode",
                    text("insert.mode")
                ),
            ));
        }
        if pk_mode == PkMode::Kafka && !pk_fields.is_empty() && pk_fields.len() != 3 {
            return Err(ConnectError::config("pk.fields", "PK mode for table is kafka; pk.fields must be empty or name exactly three columns (topic, partition, offset)"));
        }
        let delete_enabled = flag("delete.enabled");
        if delete_enabled && pk_mode != PkMode::RecordKey {
            return Err(ConnectError::config(
                "delete.enabled",
                "Deletes are only supported for pk.mode record_key",
            ));
        }
        Ok(Self {
            database,
            insert_mode,
            pk_mode,
            pk_fields,
            fields_whitelist: list("fields.whitelist"),
            table_format: text("table.name.format"),
            auto_create: flag("auto.create"),
            auto_evolve: flag("auto.evolve"),
            delete_enabled,
            batch_size: number("batch.size").max(1) as usize,
            max_retries: number("max.retries").clamp(0, 1000) as u32,
            retry_backoff: Duration::from_millis(number("retry.backoff.ms").max(0) as u64),
            replace_null_with_default: flag("replace.null.with.default"),
        })
    }
}

#[derive(Debug, Default)]
pub struct JdbcSinkConnector {
    props: Props,
}

impl Connector for JdbcSinkConnector {
    fn version(&self) -> String {
        crate::file::VERSION.to_string()
    }

    fn config_def(&self) -> ConfigDef {
        config_def()
    }

    fn start(&mut self, props: &Props, _context: Arc<dyn ConnectorContext>) -> Result<()> {
        SinkConfig::parse(props)?;
        self.props = props.clone();
        Ok(())
    }

    fn task_configs(&self, max_tasks: usize) -> Result<Vec<Props>> {
        Ok(vec![self.props.clone(); max_tasks.max(1)])
    }

    fn stop(&mut self) -> Result<()> {
        Ok(())
    }
}

impl SinkConnector for JdbcSinkConnector {
    fn new_task(&self) -> Box<dyn SinkTask> {
        Box::new(JdbcSinkTask::default())
    }
}

#[derive(Default)]
pub struct JdbcSinkTask {
    state: Option<Writer>,
}

impl SinkTask for JdbcSinkTask {
    /// It writes keys and values only.
    fn reads_headers(&self) -> bool {
        false
    }

    fn start(&mut self, props: &Props) -> Result<()> {
        let config = SinkConfig::parse(props)?;
        self.state = Some(Writer {
            config,
            pool: None,
            columns: HashMap::new(),
        });
        Ok(())
    }

    fn put(&mut self, records: Vec<SinkRecord>) -> BoxFuture<'_, Result<()>> {
        Box::pin(async move {
            let writer = self
                .state
                .as_mut()
                .ok_or_else(|| ConnectError::Fatal("task used before start".into()))?;
            writer.put(&records).await
        })
    }

    fn stop(&mut self) -> Result<()> {
        self.state = None;
        Ok(())
    }
}

/// A value as it is bound to a statement.
#[derive(Debug, Clone, PartialEq)]
enum SqlValue {
    Null(SqlKind),
    Bool(bool),
    Int(i64),
    Float(f64),
    Text(String),
    Bytes(Vec<u8>),
}

/// The bound type of a value, so a null carries the column's type (PostgreSQL refuses a
/// bigint-typed null for a text column).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SqlKind {
    Bool,
    Int,
    Float,
    Text,
    Bytes,
}

fn kind_of(schema: &Schema) -> SqlKind {
    if schema.logical().is_some() && schema.logical() != Some(logical::DECIMAL) {
        return SqlKind::Text;
    }
    match schema.schema_type {
        SchemaType::Boolean => SqlKind::Bool,
        SchemaType::Int8 | SchemaType::Int16 | SchemaType::Int32 | SchemaType::Int64 => {
            SqlKind::Int
        }
        SchemaType::Float32 | SchemaType::Float64 => SqlKind::Float,
        SchemaType::Bytes if schema.logical() != Some(logical::DECIMAL) => SqlKind::Bytes,
        _ => SqlKind::Text,
    }
}

/// `Decimal` as plain text (no exponent), which every database reads.
fn plain_decimal(d: &sluice_connect_api::Decimal) -> String {
    let negative = d.unscaled < 0;
    let digits = d.unscaled.unsigned_abs().to_string();
    let sign = if negative { "-" } else { "" };
    if d.scale <= 0 {
        return format!(
            "{sign}{digits}{}",
            "0".repeat(d.scale.unsigned_abs() as usize)
        );
    }
    let scale = d.scale as usize;
    let padded = if digits.len() <= scale {
        format!("{}{digits}", "0".repeat(scale + 1 - digits.len()))
    } else {
        digits
    };
    let (whole, fraction) = padded.split_at(padded.len() - scale);
    format!("{sign}{whole}.{fraction}")
}

fn sql_value(schema: &Schema, value: &Value) -> Result<SqlValue> {
    Ok(match value {
        Value::Null => SqlValue::Null(kind_of(schema)),
        Value::Boolean(b) => SqlValue::Bool(*b),
        Value::Int8(v) => SqlValue::Int(i64::from(*v)),
        Value::Int16(v) => SqlValue::Int(i64::from(*v)),
        Value::Int32(v) => SqlValue::Int(i64::from(*v)),
        Value::Int64(v) => SqlValue::Int(*v),
        Value::Float32(v) => SqlValue::Float(f64::from(*v)),
        Value::Float64(v) => SqlValue::Float(*v),
        Value::String(s) => SqlValue::Text(s.clone()),
        Value::Bytes(b) => SqlValue::Bytes(b.clone()),
        Value::Decimal(d) => SqlValue::Text(plain_decimal(d)),
        Value::Date(days) => SqlValue::Text(calendar::iso_date(i64::from(*days))),
        Value::Time(ms) => SqlValue::Text(calendar::iso_time(i64::from(*ms)).trim_end_matches('Z').to_string()),
        Value::Timestamp(ms) => SqlValue::Text(
            calendar::iso_timestamp(*ms)
                .trim_end_matches('Z')
                .replacen('T', " ", 1),
        ),
        Value::Array(_) | Value::Map(_) | Value::Struct(_) => {
            return Err(ConnectError::data(format!(
                "Unsupported source data type: {} (the JDBC sink writes primitive and logical fields only)",
                schema.schema_type
            )))
        }
    })
}

/// One row to write: its table, its columns (key columns first) and what to do.
/// Bind parameters one statement may hold: under SQLite's limit of 32766, and PostgreSQL's and
/// MySQL's of 65535.
const MAX_PARAMETERS: usize = 30_000;
/// Rows one multi-row `INSERT` may hold.
const MAX_ROWS_PER_STATEMENT: usize = 1000;

struct Row {
    table: String,
    keys: Vec<(String, SchemaRef, SqlValue)>,
    others: Vec<(String, SchemaRef, SqlValue)>,
    delete: bool,
}

struct Writer {
    config: SinkConfig,
    pool: Option<AnyPool>,
    /// Known columns per table (absent: not looked up yet).
    columns: HashMap<String, HashSet<String>>,
}

impl Writer {
    fn dialect(&self) -> Dialect {
        self.config.database.dialect
    }

    async fn pool(&mut self) -> Result<AnyPool> {
        if let Some(pool) = &self.pool {
            return Ok(pool.clone());
        }
        let pool = connect(&self.config.database).await?;
        self.pool = Some(pool.clone());
        Ok(pool)
    }

    async fn put(&mut self, records: &[SinkRecord]) -> Result<()> {
        if records.is_empty() {
            return Ok(());
        }
        let rows = records
            .iter()
            .map(|r| self.row(r))
            .collect::<Result<Vec<_>>>()?;
        for chunk in rows.chunks(self.config.batch_size) {
            let mut attempt = 0;
            loop {
                match self.write(chunk).await {
                    Ok(()) => break,
                    Err(e) if e.is_retriable() && attempt < self.config.max_retries => {
                        attempt += 1;
                        // A new connection next time: the old one may be what failed.
                        self.pool = None;
                        tokio::time::sleep(self.config.retry_backoff).await;
                    }
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(())
    }

    /// The row a record becomes.
    fn row(&self, record: &SinkRecord) -> Result<Row> {
        let table = self.config.table_format.replace("${topic}", &record.topic);
        let coordinates = || {
            format!(
                "topic={} partition={} offset={}",
                record.topic, record.kafka_partition, record.kafka_offset
            )
        };
        let mut keys = Vec::new();
        match self.config.pk_mode {
            PkMode::None => {}
            PkMode::Kafka => {
                let names = if self.config.pk_fields.len() == 3 {
                    self.config.pk_fields.clone()
                } else {
                    vec![
                        "__connect_topic".into(),
                        "__connect_partition".into(),
                        "__connect_offset".into(),
                    ]
                };
                keys.push((
                    names[0].clone(),
                    Schema::string(),
                    SqlValue::Text(record.topic.clone()),
                ));
                keys.push((
                    names[1].clone(),
                    Schema::int32(),
                    SqlValue::Int(i64::from(record.kafka_partition)),
                ));
                keys.push((
                    names[2].clone(),
                    Schema::int64(),
                    SqlValue::Int(record.kafka_offset),
                ));
            }
            PkMode::RecordKey => {
                let schema = record.key_schema.as_ref().ok_or_else(|| {
                    ConnectError::data(format!(
                        "pk.mode=record_key needs a key with a schema ({})",
                        coordinates()
                    ))
                })?;
                if schema.schema_type == SchemaType::Struct {
                    let Value::Struct(key) = &record.key else {
                        return Err(ConnectError::data(format!(
                            "a null key for pk.mode=record_key ({})",
                            coordinates()
                        )));
                    };
                    for field in &schema.fields {
                        if self.config.pk_fields.is_empty()
                            || self.config.pk_fields.contains(&field.name)
                        {
                            keys.push((
                                field.name.clone(),
                                Arc::clone(&field.schema),
                                sql_value(&field.schema, key.value_at(field.index))?,
                            ));
                        }
                    }
                } else {
                    let name = match self.config.pk_fields.as_slice() {
                        [one] => one.clone(),
                        [] => "__connect_key".to_string(),
                        _ => {
                            return Err(ConnectError::config(
                                "pk.fields",
                                "a primitive key names exactly one pk.fields column",
                            ))
                        }
                    };
                    if record.key.is_null() {
                        return Err(ConnectError::data(format!(
                            "a null key for pk.mode=record_key ({})",
                            coordinates()
                        )));
                    }
                    keys.push((name, Arc::clone(schema), sql_value(schema, &record.key)?));
                }
            }
            PkMode::RecordValue => {}
        }
        if record.value.is_null() {
            if self.config.delete_enabled {
                return Ok(Row {
                    table,
                    keys,
                    others: Vec::new(),
                    delete: true,
                });
            }
            return Err(ConnectError::data(format!(
                "Sink connector is configured with 'delete.enabled=false' and 'pk.mode={}' and therefore requires records with a non-null Struct value and non-null Struct schema, but found record at ({}) with a null value",
                pk_mode_name(self.config.pk_mode),
                coordinates()
            )));
        }
        let (Some(schema), Value::Struct(value)) = (&record.value_schema, &record.value) else {
            return Err(ConnectError::data(format!(
                "the JDBC sink needs struct values with a schema; found {} at ({})",
                record.value.type_name(),
                coordinates()
            )));
        };
        let mut others = Vec::new();
        for field in &schema.fields {
            let value = match (value.value_at(field.index), &field.schema.default) {
                (Value::Null, Some(default)) if self.config.replace_null_with_default => default,
                (v, _) => v,
            };
            let column = (
                field.name.clone(),
                Arc::clone(&field.schema),
                sql_value(&field.schema, value)?,
            );
            let is_key = match self.config.pk_mode {
                PkMode::RecordValue => {
                    self.config.pk_fields.is_empty() || self.config.pk_fields.contains(&field.name)
                }
                _ => false,
            };
            if is_key {
                keys.push(column);
            } else if keys.iter().all(|(k, _, _)| *k != field.name)
                && (self.config.fields_whitelist.is_empty()
                    || self.config.fields_whitelist.contains(&field.name))
            {
                others.push(column);
            }
        }
        Ok(Row {
            table,
            keys,
            others,
            delete: false,
        })
    }

    /// Writes a chunk in one transaction, after creating or widening its tables.
    async fn write(&mut self, rows: &[Row]) -> Result<()> {
        let pool = self.pool().await?;
        for row in rows.iter().filter(|r| !r.delete) {
            self.ensure_table(&pool, row).await?;
        }
        let mut tx = pool
            .begin()
            .await
            .map_err(|e| db_error("starting a transaction", e))?;
        let mut rest = rows;
        while let Some(first) = rest.first() {
            let taken = self.statement_group(rest);
            let (sql, values) = if taken == 1 {
                self.statement(first)
            } else {
                self.insert_statement(&rest[..taken])
            };
            let mut args = AnyArguments::default();
            for value in values {
                bind(&mut args, value)?;
            }
            sqlx::query_with(&sql, args)
                .execute(&mut *tx)
                .await
                .map_err(|e| db_error(&format!("writing to {}", first.table), e))?;
            rest = &rest[taken..];
        }
        tx.commit().await.map_err(|e| db_error("committing", e))
    }

    /// How many rows from the start of `rows` one statement writes: consecutive inserts (or
    /// upserts) into the same table with the same columns share a multi-row `INSERT`, as many
    /// as the parameter limits allow. An upsert group ends before a key it already holds, as
    /// PostgreSQL refuses to change one row twice in a statement.
    fn statement_group(&self, rows: &[Row]) -> usize {
        let Some(first) = rows.first() else {
            return 0;
        };
        if first.delete || self.config.insert_mode == InsertMode::Update {
            return 1;
        }
        let per_row = (first.keys.len() + first.others.len()).max(1);
        let most = (MAX_PARAMETERS / per_row).clamp(1, MAX_ROWS_PER_STATEMENT);
        // Compared without copying: the same column names with the same logical types (which
        // decide each parameter's cast).
        fn columns(r: &Row) -> impl Iterator<Item = (&str, Option<&str>)> + '_ {
            r.keys
                .iter()
                .chain(&r.others)
                .map(|(name, schema, _)| (name.as_str(), schema.logical()))
        }
        let same_shape = |row: &Row| {
            !row.delete
                && row.table == first.table
                && row.keys.len() == first.keys.len()
                && row.others.len() == first.others.len()
                && columns(row).eq(columns(first))
        };
        let upsert = self.config.insert_mode == InsertMode::Upsert;
        let key_of = |row: &Row| {
            format!(
                "{:?}",
                row.keys.iter().map(|(_, _, v)| v).collect::<Vec<_>>()
            )
        };
        let mut keys = HashSet::new();
        let mut taken = 0;
        for row in rows.iter().take(most) {
            if taken > 0 && !same_shape(row) {
                break;
            }
            if upsert && !keys.insert(key_of(row)) {
                break;
            }
            taken += 1;
        }
        taken.max(1)
    }

    /// The statement for a row and its parameters in order.
    fn statement<'a>(&self, row: &'a Row) -> (String, Vec<&'a SqlValue>) {
        let d = self.dialect();
        let table = d.quote(&row.table);
        let where_keys = |first: usize| -> String {
            row.keys
                .iter()
                .enumerate()
                .map(|(i, (name, schema, _))| {
                    format!("{}={}", d.quote(name), d.parameter(first + i, schema))
                })
                .collect::<Vec<_>>()
                .join(" AND ")
        };
        if row.delete {
            let values = row.keys.iter().map(|(_, _, v)| v).collect();
            return (
                format!("DELETE FROM {table} WHERE {}", where_keys(1)),
                values,
            );
        }
        if self.config.insert_mode == InsertMode::Update {
            let set: Vec<String> = row
                .others
                .iter()
                .enumerate()
                .map(|(i, (name, schema, _))| {
                    format!("{}={}", d.quote(name), d.parameter(i + 1, schema))
                })
                .collect();
            let values = row
                .others
                .iter()
                .chain(&row.keys)
                .map(|(_, _, v)| v)
                .collect();
            return (
                format!(
                    "UPDATE {table} SET {} WHERE {}",
                    set.join(","),
                    where_keys(row.others.len() + 1)
                ),
                values,
            );
        }
        self.insert_statement(std::slice::from_ref(row))
    }

    /// One `INSERT` (or upsert) of `rows`, which share the first row's table and columns.
    fn insert_statement<'a>(&self, rows: &'a [Row]) -> (String, Vec<&'a SqlValue>) {
        let d = self.dialect();
        let Some(first) = rows.first() else {
            return (String::new(), Vec::new());
        };
        let columns: Vec<&(String, SchemaRef, SqlValue)> =
            first.keys.iter().chain(&first.others).collect();
        let names: Vec<String> = columns.iter().map(|(n, _, _)| d.quote(n)).collect();
        let mut tuples = Vec::with_capacity(rows.len());
        let mut values = Vec::with_capacity(rows.len() * columns.len());
        for row in rows {
            let params: Vec<String> = columns
                .iter()
                .enumerate()
                .map(|(i, (_, schema, _))| d.parameter(values.len() + i + 1, schema))
                .collect();
            tuples.push(format!("({})", params.join(",")));
            values.extend(row.keys.iter().chain(&row.others).map(|(_, _, v)| v));
        }
        let mut sql = format!(
            "INSERT INTO {} ({}) VALUES {}",
            d.quote(&first.table),
            names.join(","),
            tuples.join(",")
        );
        if self.config.insert_mode == InsertMode::Upsert {
            let keys: Vec<String> = first.keys.iter().map(|(n, _, _)| n.clone()).collect();
            let others: Vec<String> = first.others.iter().map(|(n, _, _)| n.clone()).collect();
            sql.push_str(&d.upsert_suffix(&keys, &others));
        }
        (sql, values)
    }

    /// Creates the table (`auto.create`) or adds missing columns (`auto.evolve`); without them
    /// a missing table or column is an error naming it.
    async fn ensure_table(&mut self, pool: &AnyPool, row: &Row) -> Result<()> {
        let d = self.dialect();
        if !self.columns.contains_key(&row.table) {
            let found: Vec<String> = sqlx::query_scalar(&d.columns_query(&row.table))
                .fetch_all(pool)
                .await
                .map_err(|e| db_error(&format!("reading the columns of {}", row.table), e))?;
            if found.is_empty() {
                if !self.config.auto_create {
                    return Err(ConnectError::data(format!(
                        "Table {} is missing and auto-creation is disabled",
                        d.quote(&row.table)
                    )));
                }
                let mut columns = Vec::new();
                for (name, schema, _) in &row.keys {
                    columns.push(format!(
                        "{} {} NOT NULL",
                        d.quote(name),
                        self.column_type(schema, true)?
                    ));
                }
                for (name, schema, _) in &row.others {
                    let null = if schema.optional || schema.default.is_some() {
                        "NULL"
                    } else {
                        "NOT NULL"
                    };
                    columns.push(format!(
                        "{} {} {null}",
                        d.quote(name),
                        self.column_type(schema, false)?
                    ));
                }
                if !row.keys.is_empty() {
                    let keys: Vec<String> = row.keys.iter().map(|(n, _, _)| d.quote(n)).collect();
                    columns.push(format!("PRIMARY KEY({})", keys.join(",")));
                }
                let sql = format!(
                    "CREATE TABLE {} (\n{})",
                    d.quote(&row.table),
                    columns.join(",\n")
                );
                sqlx::raw_sql(&sql)
                    .execute(pool)
                    .await
                    .map_err(|e| db_error(&format!("creating {}", row.table), e))?;
                let names = row
                    .keys
                    .iter()
                    .chain(&row.others)
                    .map(|(n, _, _)| n.clone())
                    .collect();
                self.columns.insert(row.table.clone(), names);
                return Ok(());
            }
            self.columns
                .insert(row.table.clone(), found.into_iter().collect());
        }
        let known = self.columns.get(&row.table).cloned().unwrap_or_default();
        let missing: Vec<&(String, SchemaRef, SqlValue)> = row
            .keys
            .iter()
            .chain(&row.others)
            .filter(|(name, _, _)| !known.contains(name))
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        if !self.config.auto_evolve {
            let names: Vec<&str> = missing.iter().map(|(n, _, _)| n.as_str()).collect();
            return Err(ConnectError::data(format!(
                "Table {} is missing fields ({}) and auto-evolution is disabled",
                d.quote(&row.table),
                names.join(", ")
            )));
        }
        for (name, schema, _) in missing {
            if !schema.optional && schema.default.is_none() {
                return Err(ConnectError::data(format!(
                    "Cannot ALTER TABLE {} to add missing field {name}, as the field is not optional and does not have a default value",
                    d.quote(&row.table)
                )));
            }
            let sql = format!(
                "ALTER TABLE {} ADD {} {} NULL",
                d.quote(&row.table),
                d.quote(name),
                self.column_type(schema, false)?
            );
            sqlx::raw_sql(&sql)
                .execute(pool)
                .await
                .map_err(|e| db_error(&format!("adding {name} to {}", row.table), e))?;
            if let Some(columns) = self.columns.get_mut(&row.table) {
                columns.insert(name.clone());
            }
        }
        Ok(())
    }

    fn column_type(&self, schema: &Schema, key: bool) -> Result<String> {
        self.dialect().column_type(schema, key).ok_or_else(|| {
            ConnectError::data(format!(
                "{} (Connect type {}) has no column type in {}",
                schema.name.as_deref().unwrap_or("a field"),
                schema.schema_type,
                self.dialect().name()
            ))
        })
    }
}

fn pk_mode_name(mode: PkMode) -> &'static str {
    match mode {
        PkMode::None => "none",
        PkMode::Kafka => "kafka",
        PkMode::RecordKey => "record_key",
        PkMode::RecordValue => "record_value",
    }
}

fn bind(args: &mut AnyArguments<'_>, value: &SqlValue) -> Result<()> {
    let added = match value.clone() {
        SqlValue::Null(SqlKind::Bool) => args.add(None::<bool>),
        SqlValue::Null(SqlKind::Int) => args.add(None::<i64>),
        SqlValue::Null(SqlKind::Float) => args.add(None::<f64>),
        SqlValue::Null(SqlKind::Text) => args.add(None::<String>),
        SqlValue::Null(SqlKind::Bytes) => args.add(None::<Vec<u8>>),
        SqlValue::Bool(b) => args.add(b),
        SqlValue::Int(i) => args.add(i),
        SqlValue::Float(f) => args.add(f),
        SqlValue::Text(s) => args.add(s),
        SqlValue::Bytes(b) => args.add(b),
    };
    added.map_err(|e| ConnectError::data(format!("binding a value: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_are_written_as_plain_text() {
        let d = |unscaled: i128, scale: i32| {
            plain_decimal(&sluice_connect_api::Decimal { unscaled, scale })
        };
        assert_eq!(d(1050, 2), "10.50");
        assert_eq!(d(-5, 3), "-0.005");
        assert_eq!(d(7, 0), "7");
        assert_eq!(d(12, -2), "1200");
    }

    #[test]
    fn upsert_and_update_need_a_key_and_deletes_need_record_keys() {
        let props = |pairs: &[(&str, &str)]| -> Props {
            let mut p: Props = pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            p.insert("connection.url".into(), "jdbc:sqlite::memory:".into());
            p
        };
        let err = SinkConfig::parse(&props(&[("insert.mode", "upsert")])).expect_err("no key");
        assert!(
            matches!(&err, ConnectError::Config { key, .. } if key == "pk.mode"),
            "{err}"
        );
        let err = SinkConfig::parse(&props(&[
            ("delete.enabled", "true"),
            ("pk.mode", "record_value"),
        ]))
        .expect_err("deletes");
        assert!(
            matches!(&err, ConnectError::Config { key, .. } if key == "delete.enabled"),
            "{err}"
        );
        assert!(SinkConfig::parse(&props(&[
            ("insert.mode", "upsert"),
            ("pk.mode", "record_key")
        ]))
        .is_ok());
    }
}
