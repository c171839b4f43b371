//! The keys of `io.confluent.connect.jdbc.JdbcSourceConnector`, and the checks that need no
//! database: which mode needs which column, and which keys exclude each other.

use std::time::Duration;

use sluice_connect_api::{
    ConfigDef, ConfigType, ConnectError, Importance, Props, Result, Validator,
};

use super::super::columns::NumericMapping;
use super::super::url::Database;

pub fn config_def() -> ConfigDef {
    let one_of = |values: &[&str]| Validator::OneOf(values.iter().map(|v| v.to_string()).collect());
    let own = ConfigDef::new()
        .define("mode", ConfigType::String, Some(""), Importance::High, "The mode for updating a table each time it is polled: bulk, incrementing, timestamp or timestamp+incrementing.")
        .validator(one_of(&["", "bulk", "incrementing", "timestamp", "timestamp+incrementing"]))
        .define("incrementing.column.name", ConfigType::String, Some(""), Importance::Medium, "The name of the strictly incrementing column to use to detect new rows. An empty value auto-detects an auto-incrementing column.")
        .define("timestamp.column.name", ConfigType::List, Some(""), Importance::Medium, "Comma-separated list of one or more timestamp columns to detect new or modified rows using the COALESCE SQL function.")
        .define("timestamp.initial", ConfigType::Long, None, Importance::Low, "The epoch timestamp (ms) used for initial queries that use timestamp criteria. -1 uses the current time. If not specified, all data is retrieved.")
        .nullable()
        .define("timestamp.delay.interval.ms", ConfigType::Long, Some("0"), Importance::High, "How long to wait after a row with a certain timestamp appears before including it in the result.")
        .validator(Validator::AtLeast(0.0))
        .define("validate.non.null", ConfigType::Boolean, Some("true"), Importance::Low, "Whether the incrementing and timestamp columns must be NOT NULL.")
        .define("table.whitelist", ConfigType::List, Some(""), Importance::Medium, "List of tables to include in copying. Use either table.whitelist or table.blacklist.")
        .define("table.blacklist", ConfigType::List, Some(""), Importance::Medium, "List of tables to exclude from copying.")
        .define("table.include.list", ConfigType::List, Some(""), Importance::Medium, "Regular expressions matching the fully qualified names of the tables to copy.")
        .define("table.exclude.list", ConfigType::List, Some(""), Importance::Medium, "Regular expressions matching the fully qualified names of the tables not to copy.")
        .define("table.types", ConfigType::List, Some("TABLE"), Importance::Low, "The types of table to copy: TABLE, VIEW.")
        .define("schema.pattern", ConfigType::String, Some(""), Importance::Medium, "Schema pattern (SQL LIKE) to fetch table metadata from the database.")
        .define("catalog.pattern", ConfigType::String, Some(""), Importance::Medium, "Catalog pattern; the catalog is the database connected to.")
        .define("table.poll.interval.ms", ConfigType::Long, Some("60000"), Importance::Low, "Frequency in ms to poll for new or removed tables, which may result in updated task configurations.")
        .validator(Validator::AtLeast(100.0))
        .define("query", ConfigType::String, Some(""), Importance::Medium, "If specified, the query to perform to select new or updated rows instead of copying whole tables.")
        .define("poll.interval.ms", ConfigType::Int, Some("5000"), Importance::High, "Frequency in ms to poll for new data in each table.")
        .validator(Validator::AtLeast(1.0))
        .define("batch.max.rows", ConfigType::Int, Some("1000"), Importance::Low, "Maximum number of rows to include in a single batch when polling for new data.")
        .validator(Validator::AtLeast(1.0))
        .define("topic.prefix", ConfigType::String, None, Importance::High, "Prefix to prepend to table names to generate the name of the topic to publish data to, or in query mode the full topic name.")
        .define("numeric.mapping", ConfigType::String, Some("none"), Importance::Low, "Map NUMERIC values by precision and optionally scale to integral or decimal types: none, precision_only, best_fit, best_fit_eager_double.")
        .validator(one_of(&NumericMapping::NAMES))
        .define("numeric.precision.mapping", ConfigType::Boolean, Some("false"), Importance::Low, "Deprecated: numeric.mapping=precision_only.");
    super::super::connection::config_def().merge(&own)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Bulk,
    Incrementing,
    Timestamp,
    TimestampIncrementing,
}

impl Mode {
    pub fn uses_timestamp(self) -> bool {
        matches!(self, Mode::Timestamp | Mode::TimestampIncrementing)
    }

    pub fn uses_incrementing(self) -> bool {
        matches!(self, Mode::Incrementing | Mode::TimestampIncrementing)
    }
}

#[derive(Debug, Clone)]
pub struct SourceConfig {
    pub database: Database,
    pub mode: Mode,
    /// Empty: the table's auto-increment column.
    pub incrementing_column: String,
    pub timestamp_columns: Vec<String>,
    pub timestamp_initial: Option<i64>,
    pub timestamp_delay: Duration,
    pub validate_non_null: bool,
    pub whitelist: Vec<String>,
    pub blacklist: Vec<String>,
    pub include: Vec<regex::Regex>,
    pub exclude: Vec<regex::Regex>,
    pub table_types: Vec<String>,
    pub schema_pattern: String,
    pub table_poll_interval: Duration,
    pub query: Option<String>,
    pub poll_interval: Duration,
    pub batch_max_rows: usize,
    pub topic_prefix: String,
    pub numeric_mapping: NumericMapping,
    pub connection_attempts: u32,
    pub connection_backoff: Duration,
}

/// Whole-match regular expressions from a list key.
fn patterns(key: &str, list: &[String]) -> Result<Vec<regex::Regex>> {
    list.iter()
        .map(|p| {
            regex::Regex::new(&format!("^(?:{p})$")).map_err(|e| {
                ConnectError::config(key, format!("'{p}' is not a regular expression: {e}"))
            })
        })
        .collect()
}

impl SourceConfig {
    pub fn parse(props: &Props) -> Result<Self> {
        let values = config_def().parse_values(props)?;
        let text = |k: &str| values.text(k).trim().to_string();
        let list = |k: &str| values.list(k);
        let number = |k: &str| values.int(k);
        let millis = |k: &str| Duration::from_millis(number(k).unwrap_or(0).max(0) as u64);
        let flag = |k: &str| values.flag(k);
        let database = Database::parse(
            &text("connection.url"),
            Some(&text("connection.user")),
            Some(&text("connection.password")),
        )?;
        let mode = match text("mode").as_str() {
            "bulk" => Mode::Bulk,
            "incrementing" => Mode::Incrementing,
            "timestamp" => Mode::Timestamp,
            "timestamp+incrementing" => Mode::TimestampIncrementing,
            _ => {
                return Err(ConnectError::config(
                    "mode",
                    "mode must be set: bulk, incrementing, timestamp or timestamp+incrementing",
                ))
            }
        };
        let timestamp_columns = list("timestamp.column.name");
        if mode.uses_timestamp() && timestamp_columns.is_empty() {
            return Err(ConnectError::config(
                "timestamp.column.name",
                format!("mode {} needs timestamp.column.name", text("mode")),
            ));
        }
        let query = Some(text("query")).filter(|q| !q.is_empty());
        let (whitelist, blacklist) = (list("table.whitelist"), list("table.blacklist"));
        let (include, exclude) = (list("table.include.list"), list("table.exclude.list"));
        let selects_tables = [&whitelist, &blacklist, &include, &exclude]
            .iter()
            .find(|l| !l.is_empty())
            .is_some();
        if query.is_some() && selects_tables {
            return Err(ConnectError::config(
                "query",
                "query mode copies one query: leave table.whitelist, table.blacklist, table.include.list and table.exclude.list empty",
            ));
        }
        if !whitelist.is_empty() && !blacklist.is_empty() {
            return Err(ConnectError::config(
                "table.blacklist",
                "table.whitelist and table.blacklist cannot both be set",
            ));
        }
        if !include.is_empty() && !exclude.is_empty() {
            return Err(ConnectError::config(
                "table.exclude.list",
                "table.include.list and table.exclude.list cannot both be set",
            ));
        }
        let topic_prefix = text("topic.prefix");
        if topic_prefix.is_empty() && query.is_some() {
            return Err(ConnectError::config(
                "topic.prefix",
                "in query mode topic.prefix is the topic's whole name and cannot be empty",
            ));
        }
        let numeric_mapping = match text("numeric.mapping").as_str() {
            "none" if flag("numeric.precision.mapping") => NumericMapping::PrecisionOnly,
            other => NumericMapping::parse(other),
        };
        Ok(Self {
            database,
            mode,
            incrementing_column: text("incrementing.column.name"),
            timestamp_columns,
            timestamp_initial: number("timestamp.initial"),
            timestamp_delay: millis("timestamp.delay.interval.ms"),
            validate_non_null: flag("validate.non.null"),
            include: patterns("table.include.list", &include)?,
            exclude: patterns("table.exclude.list", &exclude)?,
            whitelist,
            blacklist,
            table_types: list("table.types"),
            schema_pattern: text("schema.pattern"),
            table_poll_interval: millis("table.poll.interval.ms"),
            query,
            poll_interval: millis("poll.interval.ms"),
            batch_max_rows: number("batch.max.rows").unwrap_or(1000).max(1) as usize,
            topic_prefix,
            numeric_mapping,
            connection_attempts: number("connection.attempts").unwrap_or(3).clamp(1, 1000) as u32,
            connection_backoff: millis("connection.backoff.ms"),
        })
    }

    /// The key naming the tables, for errors about one of them.
    pub fn tables_key(&self) -> &'static str {
        if self.query.is_some() {
            "query"
        } else if !self.whitelist.is_empty() {
            "table.whitelist"
        } else if !self.include.is_empty() {
            "table.include.list"
        } else {
            "mode"
        }
    }

    /// Whether a table is one to copy, by the lists (names in the white and black lists may be
    /// bare or fully qualified).
    pub fn selects(&self, table: &super::super::catalog::TableId) -> bool {
        let qualified = table.qualified();
        let named = |list: &[String]| list.iter().any(|n| *n == table.name || *n == qualified);
        let matched = |list: &[regex::Regex]| {
            list.iter()
                .any(|r| r.is_match(&qualified) || r.is_match(&table.name))
        };
        if !self.whitelist.is_empty() {
            return named(&self.whitelist);
        }
        if !self.include.is_empty() {
            return matched(&self.include);
        }
        !named(&self.blacklist) && !matched(&self.exclude)
    }
}
