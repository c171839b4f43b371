//! What differs between the databases: quoting, placeholders, the column types `auto.create`
//! picks for Connect schemas, upserts, and how a table's columns are listed.

use sluice_connect_api::schema::logical;
use sluice_connect_api::{Schema, SchemaType};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
    MySql,
}

impl Dialect {
    /// Confluent's dialect names, for messages.
    pub fn name(self) -> &'static str {
        match self {
            Dialect::Sqlite => "SqliteDatabaseDialect",
            Dialect::Postgres => "PostgreSqlDatabaseDialect",
            Dialect::MySql => "MySqlDatabaseDialect",
        }
    }

    /// An identifier, quoted (`quote.sql.identifiers=ALWAYS`).
    pub fn quote(self, identifier: &str) -> String {
        match self {
            Dialect::MySql => format!("`{}`", identifier.replace('`', "``")),
            _ => format!("\"{}\"", identifier.replace('"', "\"\"")),
        }
    }

    /// The `n`th (from 1) bind parameter.
    pub fn placeholder(self, n: usize) -> String {
        match self {
            Dialect::Postgres => format!("${n}"),
            _ => "?".to_string(),
        }
    }

    /// A parameter as the column's type: text for dates, times, timestamps and decimals is cast
    /// where the database will not convert it on its own.
    pub fn parameter(self, n: usize, schema: &Schema) -> String {
        let p = self.placeholder(n);
        match (self, schema.logical()) {
            (Dialect::Postgres, Some(logical::TIMESTAMP)) => format!("CAST({p} AS TIMESTAMP)"),
            (Dialect::Postgres, Some(logical::DATE)) => format!("CAST({p} AS DATE)"),
            (Dialect::Postgres, Some(logical::TIME)) => format!("CAST({p} AS TIME)"),
            (Dialect::Postgres, Some(logical::DECIMAL)) => format!("CAST({p} AS DECIMAL)"),
            _ => p,
        }
    }

    /// The column type `auto.create` and `auto.evolve` give a Connect schema; `key` columns
    /// need a bounded type on MySQL.
    pub fn column_type(self, schema: &Schema, key: bool) -> Option<String> {
        let logical = schema.logical();
        Some(match self {
            Dialect::Postgres => match (schema.schema_type, logical) {
                (_, Some(logical::DECIMAL)) => "DECIMAL".into(),
                (_, Some(logical::DATE)) => "DATE".into(),
                (_, Some(logical::TIME)) => "TIME".into(),
                (_, Some(logical::TIMESTAMP)) => "TIMESTAMP".into(),
                (SchemaType::Int8 | SchemaType::Int16, _) => "SMALLINT".into(),
                (SchemaType::Int32, _) => "INT".into(),
                (SchemaType::Int64, _) => "BIGINT".into(),
                (SchemaType::Float32, _) => "REAL".into(),
                (SchemaType::Float64, _) => "DOUBLE PRECISION".into(),
                (SchemaType::Boolean, _) => "BOOLEAN".into(),
                (SchemaType::String, _) => "TEXT".into(),
                (SchemaType::Bytes, _) => "BYTEA".into(),
                _ => return None,
            },
            Dialect::MySql => match (schema.schema_type, logical) {
                (_, Some(logical::DECIMAL)) => {
                    format!(
                        "DECIMAL(65,{})",
                        schema.decimal_scale().unwrap_or(0).clamp(0, 30)
                    )
                }
                (_, Some(logical::DATE)) => "DATE".into(),
                (_, Some(logical::TIME)) => "TIME(3)".into(),
                (_, Some(logical::TIMESTAMP)) => "DATETIME(3)".into(),
                (SchemaType::Int8, _) => "TINYINT".into(),
                (SchemaType::Int16, _) => "SMALLINT".into(),
                (SchemaType::Int32, _) => "INT".into(),
                (SchemaType::Int64, _) => "BIGINT".into(),
                (SchemaType::Float32, _) => "FLOAT".into(),
                (SchemaType::Float64, _) => "DOUBLE".into(),
                (SchemaType::Boolean, _) => "TINYINT".into(),
                (SchemaType::String, _) if key => "VARCHAR(256)".into(),
                (SchemaType::String, _) => "TEXT".into(),
                (SchemaType::Bytes, _) if key => "VARBINARY(767)".into(),
                (SchemaType::Bytes, _) => "BLOB".into(),
                _ => return None,
            },
            Dialect::Sqlite => match (schema.schema_type, logical) {
                // Text keeps a decimal exact (SQLite's NUMERIC would round it through a double),
                // and ISO dates and times are what SQLite's date functions read.
                (
                    _,
                    Some(logical::DECIMAL | logical::DATE | logical::TIME | logical::TIMESTAMP),
                ) => "TEXT".into(),
                (
                    SchemaType::Int8
                    | SchemaType::Int16
                    | SchemaType::Int32
                    | SchemaType::Int64
                    | SchemaType::Boolean,
                    _,
                ) => "INTEGER".into(),
                (SchemaType::Float32 | SchemaType::Float64, _) => "REAL".into(),
                (SchemaType::String, _) => "TEXT".into(),
                (SchemaType::Bytes, _) => "BLOB".into(),
                _ => return None,
            },
        })
    }

    /// `INSERT ... ` turned into an upsert on `keys`, updating `others`.
    pub fn upsert_suffix(self, keys: &[String], others: &[String]) -> String {
        match self {
            Dialect::MySql => {
                let columns = if others.is_empty() { keys } else { others };
                let set: Vec<String> = columns
                    .iter()
                    .map(|c| format!("{0}=VALUES({0})", self.quote(c)))
                    .collect();
                format!(" ON DUPLICATE KEY UPDATE {}", set.join(","))
            }
            _ => {
                let conflict: Vec<String> = keys.iter().map(|k| self.quote(k)).collect();
                if others.is_empty() {
                    return format!(" ON CONFLICT ({}) DO NOTHING", conflict.join(","));
                }
                let set: Vec<String> = others
                    .iter()
                    .map(|c| format!("{0}=EXCLUDED.{0}", self.quote(c)))
                    .collect();
                format!(
                    " ON CONFLICT ({}) DO UPDATE SET {}",
                    conflict.join(","),
                    set.join(",")
                )
            }
        }
    }

    /// A query listing the columns of `table` (one text column per row); `?`/`$1` is the table.
    pub fn columns_query(self, table: &str) -> String {
        match self {
            Dialect::Sqlite => format!("SELECT name FROM pragma_table_info({})", sql_string(table)),
            Dialect::Postgres => format!(
                "SELECT CAST(column_name AS TEXT) FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = {}",
                sql_string(table)
            ),
            Dialect::MySql => format!(
                "SELECT CAST(column_name AS CHAR) FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name = {}",
                sql_string(table)
            ),
        }
    }
}

/// A SQL string literal.
pub fn sql_string(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}
