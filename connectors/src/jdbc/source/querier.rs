//! One table (or the query) a source task copies: the SELECT its mode needs, where it got to,
//! and the records of the rows it reads next.
//!
//! Where it got to is Confluent's offset, `{"incrementing", "timestamp", "timestamp_nanos"}`,
//! under Confluent's partition (`{"protocol":"1","table":"db.schema.table"}` or
//! `{"query":"query"}`), so offsets stored by either connector resume in the other.
//!
//! Rows that commit late: in the timestamp modes a row is read only once its timestamp is
//! older than the database's clock less `timestamp.delay.interval.ms`, and on PostgreSQL also
//! older than the start of the oldest transaction still open, since such a transaction may yet
//! commit rows stamped from its start. A row stamped by its writer is never skipped so long
//! as it commits before the delay has passed, or (PostgreSQL) was stamped inside its
//! transaction.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value as Json;
use sqlx::any::{AnyArguments, AnyRow};
use sqlx::{AnyPool, Arguments, Row};

use sluice_connect_api::calendar;
use sluice_connect_api::{
    ConnectError, OffsetReader, Result, SchemaBuilder, SchemaRef, SourceMap, SourceRecord, Struct,
    Value,
};

use super::super::catalog::{query_columns, table_columns, ColumnDef, TableId};
use super::super::columns::{timestamp_micros, ColumnKind};
use super::super::connection::db_error;
use super::super::dialect::Dialect;
use super::config::{Mode, SourceConfig};

/// What a querier reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Table(TableId),
    Query(String),
}

impl Target {
    /// Confluent's source partition.
    pub fn partition(&self) -> SourceMap {
        let mut map = SourceMap::new();
        match self {
            Target::Table(table) => {
                map.insert("protocol".into(), Json::from("1"));
                map.insert("table".into(), Json::from(table.qualified()));
            }
            Target::Query(_) => {
                map.insert("query".into(), Json::from("query"));
            }
        }
        map
    }

    /// The partition Confluent's connector used before protocol 1, read when no newer offset
    /// is stored.
    fn legacy_partition(&self) -> Option<SourceMap> {
        match self {
            Target::Table(table) => {
                let mut map = SourceMap::new();
                map.insert("table".into(), Json::from(table.name.clone()));
                Some(map)
            }
            Target::Query(_) => None,
        }
    }

    fn describe(&self) -> String {
        match self {
            Target::Table(t) => format!("table {}", t.qualified()),
            Target::Query(_) => "the query".into(),
        }
    }
}

/// Where a querier got to: the last incrementing value and timestamp (microseconds) read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Position {
    pub incrementing: Option<i64>,
    pub timestamp: Option<i64>,
}

impl Position {
    pub fn from_offset(offset: &SourceMap) -> Self {
        let number = |k: &str| offset.get(k).and_then(Json::as_i64);
        let timestamp = number("timestamp").map(|ms| match number("timestamp_nanos") {
            Some(nanos) => ms.div_euclid(1000) * 1_000_000 + nanos / 1000,
            None => ms * 1000,
        });
        Self {
            incrementing: number("incrementing"),
            timestamp,
        }
    }

    /// Confluent's offset map for this position, in `mode`.
    pub fn to_offset(self, mode: Mode) -> SourceMap {
        let mut map = SourceMap::new();
        if mode.uses_incrementing() {
            if let Some(n) = self.incrementing {
                map.insert("incrementing".into(), Json::from(n));
            }
        }
        if mode.uses_timestamp() {
            if let Some(micros) = self.timestamp {
                map.insert("timestamp".into(), Json::from(micros.div_euclid(1000)));
                map.insert(
                    "timestamp_nanos".into(),
                    Json::from(micros.rem_euclid(1_000_000) * 1000),
                );
            }
        }
        map
    }
}

/// The statements for one target, built once from its columns.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The columns it was built from: a change (a column added or dropped) rebuilds it.
    columns: Vec<ColumnDef>,
    kinds: Vec<ColumnKind>,
    schema: SchemaRef,
    /// The next rows after the position.
    sql: String,
    /// Timestamp mode: every row at one timestamp (when a batch ends amid them).
    tie_sql: Option<String>,
}

impl Target {
    /// The columns the target has now.
    pub async fn columns(&self, pool: &AnyPool, dialect: Dialect) -> Result<Vec<ColumnDef>> {
        match self {
            Target::Table(table) => table_columns(pool, dialect, table).await,
            Target::Query(query) => query_columns(pool, dialect, query).await,
        }
    }
}

impl Plan {
    /// Checks `target`'s columns against the mode and builds its statements; errors name the
    /// key at fault.
    pub fn build(
        config: &SourceConfig,
        target: &Target,
        columns: Vec<ColumnDef>,
        batch_rows: usize,
    ) -> Result<Self> {
        let dialect = config.database.dialect;
        if columns.is_empty() {
            return Err(ConnectError::config(
                config.tables_key(),
                format!("{} does not exist or has no columns", target.describe()),
            ));
        }
        let mut kinds = Vec::with_capacity(columns.len());
        let mut builder = SchemaBuilder::struct_();
        if let Target::Table(table) = target {
            builder = builder.name(&table.name);
        }
        for column in &columns {
            let kind = ColumnKind::of(dialect, column, config.numeric_mapping).map_err(|why| {
                ConnectError::config(
                    config.tables_key(),
                    format!(
                        "{}: {why}; leave the table out, or copy it in query mode with the column cast to a type Sluice maps",
                        target.describe()
                    ),
                )
            })?;
            builder = builder.field(&column.name, kind.schema(column.nullable))?;
            kinds.push(kind);
        }
        let find = |name: &str, key: &str| {
            columns.iter().find(|c| c.name == name).ok_or_else(|| {
                ConnectError::config(
                    key,
                    format!("{} has no column named {name}", target.describe()),
                )
            })
        };
        let non_null = |column: &ColumnDef, key: &str| {
            if config.validate_non_null && column.nullable {
                return Err(ConnectError::config(
                    key,
                    format!(
                        "Cannot make incremental queries using column {} on {} because this column is nullable",
                        column.name,
                        target.describe()
                    ),
                ));
            }
            Ok(())
        };
        let mode = config.mode;
        let incrementing = if mode.uses_incrementing() {
            let key = "incrementing.column.name";
            let column = if config.incrementing_column.is_empty() {
                columns.iter().find(|c| c.auto_increment).ok_or_else(|| {
                    ConnectError::config(
                        key,
                        format!(
                            "{} has no auto-incrementing column: set incrementing.column.name",
                            target.describe()
                        ),
                    )
                })?
            } else {
                find(&config.incrementing_column, key)?
            };
            if matches!(target, Target::Table(_)) {
                non_null(column, key)?;
            }
            let kind = ColumnKind::of(dialect, column, config.numeric_mapping).ok();
            if !matches!(
                kind,
                Some(
                    ColumnKind::Int8
                        | ColumnKind::Int16
                        | ColumnKind::Int32
                        | ColumnKind::Int64
                        | ColumnKind::Decimal(0)
                )
            ) {
                return Err(ConnectError::config(
                    key,
                    format!(
                        "column {} of {} is {}, not an integer",
                        column.name,
                        target.describe(),
                        column.declared
                    ),
                ));
            }
            Some(dialect.quote(&column.name))
        } else {
            None
        };
        let timestamp = if mode.uses_timestamp() {
            let key = "timestamp.column.name";
            let mut quoted = Vec::new();
            for name in &config.timestamp_columns {
                let column = find(name, key)?;
                if ColumnKind::of(dialect, column, config.numeric_mapping)
                    != Ok(ColumnKind::Timestamp)
                {
                    return Err(ConnectError::config(
                        key,
                        format!(
                            "column {name} of {} is {}, not a timestamp",
                            target.describe(),
                            column.declared
                        ),
                    ));
                }
                if config.timestamp_columns.len() == 1 && matches!(target, Target::Table(_)) {
                    non_null(column, key)?;
                }
                quoted.push(dialect.quote(name));
            }
            Some(if quoted.len() == 1 {
                quoted.remove(0)
            } else {
                format!("COALESCE({})", quoted.join(", "))
            })
        } else {
            None
        };
        let mut select: Vec<String> = columns
            .iter()
            .zip(&kinds)
            .map(|(c, k)| k.select(dialect, &dialect.quote(&c.name)))
            .collect();
        if let Some(ts) = &timestamp {
            select.push(timestamp_micros(dialect, ts));
        }
        if let Some(inc) = &incrementing {
            select.push(ColumnKind::Int64.select(dialect, inc));
        }
        let from = match target {
            Target::Table(table) => table.sql(dialect),
            Target::Query(query) => format!("({query}) sluice_q"),
        };
        let head = format!("SELECT {} FROM {from}", select.join(", "));
        // SQLite keeps timestamps as text: compare and order by their microseconds there, and
        // by the column itself elsewhere, where an index on it serves.
        let (ts, param): (Option<String>, fn(Dialect, usize) -> String) = match dialect {
            Dialect::Sqlite => (
                timestamp.as_ref().map(|t| timestamp_micros(dialect, t)),
                |d, n| d.placeholder(n),
            ),
            Dialect::Postgres => (timestamp.clone(), |d, n| {
                format!("CAST({} AS TIMESTAMP)", d.placeholder(n))
            }),
            Dialect::MySql => (timestamp.clone(), |d, n| {
                format!("CAST({} AS DATETIME(6))", d.placeholder(n))
            }),
        };
        let p = |n| dialect.placeholder(n);
        let t = |n| param(dialect, n);
        let (sql, tie_sql) = match (mode, &ts, &incrementing) {
            (Mode::Bulk, _, _) => (head.clone(), None),
            (Mode::Incrementing, _, Some(inc)) => (
                format!("{head} WHERE {inc} > {} ORDER BY {inc} ASC LIMIT {batch_rows}", p(1)),
                None,
            ),
            (Mode::Timestamp, Some(ts), _) => (
                format!(
                    "{head} WHERE {ts} > {} AND {ts} < {} ORDER BY {ts} ASC LIMIT {batch_rows}",
                    t(1),
                    t(2)
                ),
                Some(format!("{head} WHERE {ts} = {}", t(1))),
            ),
            (Mode::TimestampIncrementing, Some(ts), Some(inc)) => (
                format!(
                    "{head} WHERE {ts} < {} AND (({ts} = {} AND {inc} > {}) OR {ts} > {}) ORDER BY {ts} ASC, {inc} ASC LIMIT {batch_rows}",
                    t(1),
                    t(2),
                    p(3),
                    t(4)
                ),
                None,
            ),
            _ => return Err(ConnectError::Fatal("no column for the mode".into())),
        };
        Ok(Self {
            columns,
            kinds,
            schema: builder.build(),
            sql,
            tie_sql,
        })
    }
}

fn bind_int(args: &mut AnyArguments<'_>, n: i64) -> Result<()> {
    args.add(n)
        .map_err(|e| ConnectError::data(format!("binding a value: {e}")))
}

/// The timestamp (microseconds) a row was read at, from the hidden column after its values.
fn micros_of(row: &AnyRow, index: usize) -> Result<i64> {
    row.try_get::<Option<i64>, _>(index)
        .map_err(|e| db_error("reading a row's timestamp", e))?
        .ok_or_else(|| ConnectError::data("a row's timestamp is null"))
}

/// A bound timestamp: text for the databases that compare timestamps, microseconds for SQLite.
fn bind_timestamp(args: &mut AnyArguments<'_>, dialect: Dialect, micros: i64) -> Result<()> {
    let added = match dialect {
        Dialect::Sqlite => args.add(micros),
        _ => args.add(timestamp_text(micros)),
    };
    added.map_err(|e| ConnectError::data(format!("binding a timestamp: {e}")))
}

/// `YYYY-MM-DD HH:MM:SS.ffffff`, UTC.
fn timestamp_text(micros: i64) -> String {
    let seconds = micros.div_euclid(1_000_000);
    let (year, month, day) = calendar::civil_from_days(seconds.div_euclid(86_400));
    let second_of_day = seconds.rem_euclid(86_400);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}.{:06}",
        second_of_day / 3600,
        second_of_day % 3600 / 60,
        second_of_day % 60,
        micros.rem_euclid(1_000_000)
    )
}

/// The newest timestamp (microseconds) safe to read: the database's clock less the delay, and
/// on PostgreSQL no later than the start of the oldest open transaction.
pub async fn safe_upper_bound(pool: &AnyPool, dialect: Dialect, delay: Duration) -> Result<i64> {
    let now = match dialect {
        Dialect::Sqlite => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_micros() as i64)
            .unwrap_or(0),
        Dialect::Postgres => {
            let row = sqlx::query(
                "SELECT CAST(FLOOR(EXTRACT(EPOCH FROM clock_timestamp()) * 1000000) AS BIGINT), \
                 (SELECT CAST(FLOOR(EXTRACT(EPOCH FROM MIN(xact_start)) * 1000000) AS BIGINT) FROM pg_stat_activity \
                  WHERE xact_start IS NOT NULL AND pid <> pg_backend_pid() AND datname = current_database() AND backend_type = 'client backend')",
            )
            .fetch_one(pool)
            .await
            .map_err(|e| db_error("reading the database's clock", e))?;
            let now: i64 = row.try_get(0).map_err(|e| db_error("reading the database's clock", e))?;
            let oldest: Option<i64> =
                row.try_get(1).map_err(|e| db_error("reading the database's clock", e))?;
            oldest.map_or(now, |o| o.min(now))
        }
        Dialect::MySql => sqlx::query_scalar::<_, i64>(
            "SELECT CAST(TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', UTC_TIMESTAMP(6)) AS SIGNED)",
        )
        .fetch_one(pool)
        .await
        .map_err(|e| db_error("reading the database's clock", e))?,
    };
    Ok(now - delay.as_micros() as i64)
}

/// One target of a task, with its position and when it is next due.
pub struct Querier {
    pub target: Target,
    partition: Arc<SourceMap>,
    topic: String,
    plan: Option<Plan>,
    position: Position,
    /// Whether the position came from the configs alone (no stored offset): the initial
    /// timestamp is then read from the database at the first query.
    fresh: bool,
    /// When the columns were last read.
    columns_checked: Option<Instant>,
    pub due: Instant,
}

impl Querier {
    pub fn new(target: Target, config: &SourceConfig, offsets: &dyn OffsetReader) -> Self {
        let partition = target.partition();
        let stored = offsets.offset(&partition).or_else(|| {
            target
                .legacy_partition()
                .and_then(|legacy| offsets.offset(&legacy))
        });
        let topic = match &target {
            Target::Table(table) => format!("{}{}", config.topic_prefix, table.name),
            Target::Query(_) => config.topic_prefix.clone(),
        };
        Self {
            target,
            partition: Arc::new(partition),
            topic,
            plan: None,
            columns_checked: None,
            fresh: stored.is_none(),
            position: stored
                .as_ref()
                .map(Position::from_offset)
                .unwrap_or_default(),
            due: Instant::now(),
        }
    }

    /// Reads the next rows (up to `batch.max.rows`, or the whole table in bulk mode) as
    /// records, advancing the position past them.
    pub async fn poll(
        &mut self,
        pool: &AnyPool,
        config: &SourceConfig,
    ) -> Result<Vec<SourceRecord>> {
        let dialect = config.database.dialect;
        // The columns are read again once a poll interval, so a column added to the table
        // shows up in the records (with a new schema) as it does with Confluent's connector.
        let stale = self
            .columns_checked
            .is_none_or(|at| at.elapsed() >= config.poll_interval);
        if self.plan.is_none() || stale {
            let columns = self.target.columns(pool, dialect).await?;
            self.columns_checked = Some(Instant::now());
            if self.plan.as_ref().is_none_or(|p| p.columns != columns) {
                let plan = Plan::build(config, &self.target, columns, config.batch_max_rows)?;
                self.plan = Some(plan);
            }
        }
        let Some(plan) = self.plan.clone() else {
            return Ok(Vec::new());
        };
        let mode = config.mode;
        let mut position = self.position;
        if self.fresh {
            if position.incrementing.is_none() {
                position.incrementing = Some(-1);
            }
            if position.timestamp.is_none() {
                position.timestamp = Some(match config.timestamp_initial {
                    Some(-1) => safe_upper_bound(pool, dialect, Duration::ZERO).await?,
                    Some(ms) => ms * 1000,
                    None => 0,
                });
            }
        }
        let upper = if mode.uses_timestamp() {
            Some(safe_upper_bound(pool, dialect, config.timestamp_delay).await?)
        } else {
            None
        };
        let low = position.timestamp.unwrap_or(0);
        let inc = position.incrementing.unwrap_or(-1);
        let mut args = AnyArguments::default();
        match (mode, upper) {
            (Mode::Bulk, _) => {}
            (Mode::Incrementing, _) => bind_int(&mut args, inc)?,
            (Mode::Timestamp, Some(upper)) => {
                if upper <= low {
                    return Ok(self.idle(config));
                }
                bind_timestamp(&mut args, dialect, low)?;
                bind_timestamp(&mut args, dialect, upper)?;
            }
            (Mode::TimestampIncrementing, Some(upper)) => {
                if upper < low {
                    return Ok(self.idle(config));
                }
                bind_timestamp(&mut args, dialect, upper)?;
                bind_timestamp(&mut args, dialect, low)?;
                bind_int(&mut args, inc)?;
                bind_timestamp(&mut args, dialect, low)?;
            }
            _ => {
                return Err(ConnectError::Fatal(
                    "no upper bound in timestamp mode".into(),
                ))
            }
        }
        let context = || format!("querying {}", self.target.describe());
        let mut rows = sqlx::query_with(&plan.sql, args)
            .fetch_all(pool)
            .await
            .map_err(|e| db_error(&context(), e))?;
        let full = mode != Mode::Bulk && rows.len() >= config.batch_max_rows;
        let hidden = plan.kinds.len();
        // Timestamp mode alone cannot tell rows at the same timestamp apart, so a batch never
        // ends amid them: the last timestamp's rows are left for the next query, or, when the
        // batch holds nothing else, read all at once.
        if mode == Mode::Timestamp && full {
            let last = rows
                .last()
                .map(|r| micros_of(r, hidden))
                .transpose()?
                .unwrap_or(low);
            let mut keep = rows.len();
            while keep > 0 && micros_of(&rows[keep - 1], hidden)? == last {
                keep -= 1;
            }
            if keep > 0 {
                rows.truncate(keep);
            } else if let Some(tie) = &plan.tie_sql {
                let mut args = AnyArguments::default();
                bind_timestamp(&mut args, dialect, last)?;
                rows = sqlx::query_with(tie, args)
                    .fetch_all(pool)
                    .await
                    .map_err(|e| db_error(&context(), e))?;
            }
        }
        let mut records = Vec::with_capacity(rows.len());
        for row in &rows {
            let mut values = Vec::with_capacity(plan.kinds.len());
            for (index, kind) in plan.kinds.iter().enumerate() {
                values.push(
                    kind.read(row, index).map_err(|e| {
                        ConnectError::data(format!("{}: {e}", self.target.describe()))
                    })?,
                );
            }
            let value = Struct::from_values(Arc::clone(&plan.schema), values)?;
            let mut extra = hidden;
            if mode.uses_timestamp() {
                position.timestamp = Some(micros_of(row, hidden)?);
                extra += 1;
            }
            if mode.uses_incrementing() {
                // A null id (possible in query mode) leaves the position where it was, rather
                // than sending it back to the start.
                if let Some(id) = row
                    .try_get::<Option<i64>, _>(extra)
                    .map_err(|e| db_error(&context(), e))?
                {
                    position.incrementing = Some(id);
                }
            }
            records.push(SourceRecord::new(
                Arc::clone(&self.partition),
                position.to_offset(mode),
                &self.topic,
                Some(Arc::clone(&plan.schema)),
                Value::Struct(value),
            ));
        }
        self.position = position;
        self.fresh = false;
        self.due = if full {
            Instant::now()
        } else {
            Instant::now() + config.poll_interval
        };
        Ok(records)
    }

    fn idle(&mut self, config: &SourceConfig) -> Vec<SourceRecord> {
        self.due = Instant::now() + config.poll_interval;
        Vec::new()
    }

    /// After a failure: the columns are read anew, and the next try waits.
    pub fn failed(&mut self, backoff: Duration) {
        self.plan = None;
        self.due = Instant::now() + backoff;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_are_confluents_and_resume_to_the_microsecond() {
        let position = Position {
            incrementing: Some(42),
            timestamp: Some(1_700_000_000_123_456),
        };
        let offset = position.to_offset(Mode::TimestampIncrementing);
        assert_eq!(
            serde_json::to_string(&offset).expect("json"),
            r#"{"incrementing":42,"timestamp":1700000000123,"timestamp_nanos":123456000}"#
        );
        assert_eq!(Position::from_offset(&offset), position);
        assert_eq!(
            Position::from_offset(&position.to_offset(Mode::Incrementing)),
            Position {
                incrementing: Some(42),
                timestamp: None
            }
        );
    }

    #[test]
    fn bound_timestamps_are_utc_text_with_microseconds() {
        assert_eq!(timestamp_text(0), "1970-01-01 00:00:00.000000");
        assert_eq!(
            timestamp_text(1_700_000_000_123_456),
            "2023-11-14 22:13:20.123456"
        );
        assert_eq!(timestamp_text(-1), "1969-12-31 23:59:59.999999");
    }
}
