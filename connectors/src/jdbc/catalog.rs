//! What the database says about itself: its tables, and the columns of a table or of a query's
//! result, with their declared types. Catalog columns are cast to text or integers so the Any
//! driver reads them the same way on every database.

use sqlx::{AnyPool, Row};

use sluice_connect_api::Result;

use super::columns::read_text;
use super::connection::db_error;
use super::dialect::{sql_string, Dialect};

/// A table, as Confluent's connector names it: `catalog.schema.table`, the parts a database
/// has (PostgreSQL: database and schema; MySQL: database; SQLite: neither).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TableId {
    pub catalog: Option<String>,
    pub schema: Option<String>,
    pub name: String,
}

impl TableId {
    /// The fully qualified name, unquoted: what source partitions and include lists use.
    pub fn qualified(&self) -> String {
        [&self.catalog, &self.schema]
            .into_iter()
            .flatten()
            .chain(std::iter::once(&self.name))
            .cloned()
            .collect::<Vec<_>>()
            .join(".")
    }

    /// The name to use in SQL: schema and table, quoted (the catalog is the database connected
    /// to).
    pub fn sql(&self, dialect: Dialect) -> String {
        match &self.schema {
            Some(schema) => format!("{}.{}", dialect.quote(schema), dialect.quote(&self.name)),
            None => dialect.quote(&self.name),
        }
    }
}

/// A column's declared type, lowercase, with the parts that decide its Connect schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnDef {
    pub name: String,
    /// The type's name (`integer`, `numeric`, `timestamp with time zone`, `datetime`...).
    pub type_name: String,
    /// The full declared type where it says more than the name (MySQL's `tinyint(1)`).
    pub declared: String,
    pub precision: Option<i64>,
    pub scale: Option<i64>,
    pub nullable: bool,
    pub auto_increment: bool,
}

/// The tables of the connected database of the given types (`TABLE`, `VIEW`), optionally only
/// those in schemas named `schema_pattern` (an SQL LIKE pattern).
pub async fn list_tables(
    pool: &AnyPool,
    dialect: Dialect,
    table_types: &[String],
    schema_pattern: Option<&str>,
) -> Result<Vec<TableId>> {
    let wants = |kind: &str| table_types.iter().any(|t| t.eq_ignore_ascii_case(kind));
    let mut types = Vec::new();
    if wants("TABLE") {
        types.push(if dialect == Dialect::Sqlite {
            "'table'"
        } else {
            "'BASE TABLE'"
        });
    }
    if wants("VIEW") {
        types.push(if dialect == Dialect::Sqlite {
            "'view'"
        } else {
            "'VIEW'"
        });
    }
    if types.is_empty() {
        return Ok(Vec::new());
    }
    let types = types.join(",");
    let schema_filter = schema_pattern
        .filter(|p| !p.is_empty())
        .map(|p| format!(" AND table_schema LIKE {}", sql_string(p)))
        .unwrap_or_default();
    let sql = match dialect {
        Dialect::Sqlite => format!(
            "SELECT name FROM sqlite_master WHERE type IN ({types}) AND name NOT LIKE 'sqlite_%' ORDER BY name"
        ),
        Dialect::Postgres => format!(
            "SELECT CAST(table_catalog AS TEXT), CAST(table_schema AS TEXT), CAST(table_name AS TEXT) FROM information_schema.tables \
             WHERE table_type IN ({types}) AND table_schema NOT IN ('pg_catalog', 'information_schema'){schema_filter} ORDER BY 2, 3"
        ),
        Dialect::MySql => format!(
            "SELECT CAST(table_schema AS CHAR), CAST(table_name AS CHAR) FROM information_schema.tables \
             WHERE table_type IN ({types}) AND table_schema = DATABASE() ORDER BY 2"
        ),
    };
    let rows = sqlx::query(&sql)
        .fetch_all(pool)
        .await
        .map_err(|e| db_error("listing tables", e))?;
    rows.iter()
        .map(|row| {
            let text = |i: usize| text_or_bytes(row, i);
            Ok(match dialect {
                Dialect::Sqlite => TableId {
                    catalog: None,
                    schema: None,
                    name: text(0)?,
                },
                Dialect::Postgres => TableId {
                    catalog: Some(text(0)?),
                    schema: Some(text(1)?),
                    name: text(2)?,
                },
                Dialect::MySql => TableId {
                    catalog: Some(text(0)?),
                    schema: None,
                    name: text(1)?,
                },
            })
        })
        .collect::<std::result::Result<Vec<_>, sqlx::Error>>()
        .map_err(|e| db_error("listing tables", e))
}

/// The columns of `table`, in order; empty when there is no such table.
pub async fn table_columns(
    pool: &AnyPool,
    dialect: Dialect,
    table: &TableId,
) -> Result<Vec<ColumnDef>> {
    let name = sql_string(&table.name);
    let sql = match dialect {
        Dialect::Sqlite => format!(
            "SELECT name, type, \"notnull\", pk, (SELECT COUNT(*) FROM pragma_table_info({name}) WHERE pk > 0) FROM pragma_table_info({name}) ORDER BY cid"
        ),
        Dialect::Postgres => {
            let schema = table
                .schema
                .as_deref()
                .map(sql_string)
                .unwrap_or_else(|| "current_schema()".into());
            format!(
                "SELECT CAST(column_name AS TEXT), CAST(data_type AS TEXT), CAST(udt_name AS TEXT), CAST(is_nullable AS TEXT), \
                 CAST(numeric_precision AS BIGINT), CAST(numeric_scale AS BIGINT), \
                 CAST(CASE WHEN is_identity = 'YES' OR column_default LIKE 'nextval(%' THEN 1 ELSE 0 END AS BIGINT) \
                 FROM information_schema.columns WHERE table_schema = {schema} AND table_name = {name} ORDER BY ordinal_position"
            )
        }
        Dialect::MySql => format!(
            "SELECT CAST(column_name AS CHAR), CAST(data_type AS CHAR), CAST(column_type AS CHAR), CAST(is_nullable AS CHAR), \
             CAST(numeric_precision AS SIGNED), CAST(numeric_scale AS SIGNED), \
             CAST(CASE WHEN extra LIKE '%auto_increment%' THEN 1 ELSE 0 END AS SIGNED) \
             FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name = {name} ORDER BY ordinal_position"
        ),
    };
    let rows = sqlx::query(&sql)
        .fetch_all(pool)
        .await
        .map_err(|e| db_error(&format!("reading the columns of {}", table.qualified()), e))?;
    let read = |row: &sqlx::any::AnyRow| -> std::result::Result<ColumnDef, sqlx::Error> {
        Ok(match dialect {
            Dialect::Sqlite => sqlite_column(
                text_or_bytes(row, 0)?,
                text_or_bytes(row, 1)?,
                row.try_get::<i64, _>(2)? != 0,
                row.try_get::<i64, _>(3)? > 0 && row.try_get::<i64, _>(4)? == 1,
            ),
            _ => {
                let type_name = text_or_bytes(row, 1)?;
                let declared = text_or_bytes(row, 2)?;
                ColumnDef {
                    name: text_or_bytes(row, 0)?,
                    type_name: type_name.to_ascii_lowercase(),
                    declared: declared.to_ascii_lowercase(),
                    nullable: text_or_bytes(row, 3)?.eq_ignore_ascii_case("YES"),
                    precision: row.try_get(4)?,
                    scale: row.try_get(5)?,
                    auto_increment: row.try_get::<i64, _>(6)? != 0,
                }
            }
        })
    };
    rows.iter()
        .map(read)
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| db_error(&format!("reading the columns of {}", table.qualified()), e))
}

/// A SQLite column from its declared type (`NUMERIC(10,2)`, `DATETIME`, `VARCHAR(20)`); an
/// `INTEGER PRIMARY KEY` is the rowid, which only grows.
fn sqlite_column(name: String, declared: String, not_null: bool, sole_key: bool) -> ColumnDef {
    let lower = declared.trim().to_ascii_lowercase();
    let (type_name, args) = match lower.split_once('(') {
        Some((t, rest)) => (t.trim().to_string(), rest.trim_end_matches(')').to_string()),
        None => (lower.clone(), String::new()),
    };
    let mut numbers = args.split(',').map(|n| n.trim().parse::<i64>().ok());
    let precision = numbers.next().flatten();
    let scale = numbers.next().flatten();
    let rowid = sole_key && type_name == "integer";
    ColumnDef {
        name,
        type_name,
        declared: lower,
        precision,
        scale,
        nullable: !not_null && !rowid,
        auto_increment: rowid,
    }
}

/// The columns a query returns, learnt from a temporary view of it (PostgreSQL, SQLite) or an
/// empty temporary table made from it (MySQL, which has no temporary views).
pub async fn query_columns(
    pool: &AnyPool,
    dialect: Dialect,
    query: &str,
) -> Result<Vec<ColumnDef>> {
    // The pool holds one connection, so the statements below all see the temporary object.
    let probe = "sluice_query_probe";
    let create = match dialect {
        Dialect::Postgres => format!("CREATE OR REPLACE TEMPORARY VIEW {probe} AS {query}"),
        Dialect::Sqlite => {
            format!("DROP VIEW IF EXISTS temp.{probe}; CREATE TEMPORARY VIEW {probe} AS {query}")
        }
        Dialect::MySql => format!(
            "DROP TEMPORARY TABLE IF EXISTS {probe}; CREATE TEMPORARY TABLE {probe} AS SELECT * FROM ({query}) sluice_q LIMIT 0"
        ),
    };
    sqlx::raw_sql(&create)
        .execute(pool)
        .await
        .map_err(|e| db_error("reading the columns of query", e))?;
    let probe_table = |schema: Option<String>| TableId {
        catalog: None,
        schema,
        name: probe.into(),
    };
    let mut columns = match dialect {
        Dialect::Postgres => {
            let temp_schema: String = sqlx::query_scalar(
                "SELECT CAST(nspname AS TEXT) FROM pg_namespace WHERE oid = pg_my_temp_schema()",
            )
            .fetch_one(pool)
            .await
            .map_err(|e| db_error("reading the columns of query", e))?;
            table_columns(pool, dialect, &probe_table(Some(temp_schema))).await?
        }
        Dialect::Sqlite => table_columns(pool, dialect, &probe_table(None)).await?,
        Dialect::MySql => {
            let rows = sqlx::query(&format!("SHOW COLUMNS FROM {probe}"))
                .fetch_all(pool)
                .await
                .map_err(|e| db_error("reading the columns of query", e))?;
            rows.iter()
                .map(|row| {
                    let declared = text_or_bytes(row, 1)?.to_ascii_lowercase();
                    Ok(mysql_declared_column(text_or_bytes(row, 0)?, declared))
                })
                .collect::<std::result::Result<Vec<_>, sqlx::Error>>()
                .map_err(|e| db_error("reading the columns of query", e))?
        }
    };
    // A query's columns may be null whatever their source says.
    for column in &mut columns {
        column.nullable = true;
    }
    Ok(columns)
}

/// A text column that is never null here (catalog names and types).
fn text_or_bytes(
    row: &sqlx::any::AnyRow,
    index: usize,
) -> std::result::Result<String, sqlx::Error> {
    read_text(row, index).map(Option::unwrap_or_default)
}

/// A MySQL column from `SHOW COLUMNS`' type (`decimal(10,2)`, `int(11) unsigned`).
fn mysql_declared_column(name: String, declared: String) -> ColumnDef {
    let (type_name, args) = match declared.split_once('(') {
        Some((t, rest)) => (
            t.trim().to_string(),
            rest.split(')').next().unwrap_or("").to_string(),
        ),
        None => (
            declared.split_whitespace().next().unwrap_or("").to_string(),
            String::new(),
        ),
    };
    let mut numbers = args.split(',').map(|n| n.trim().parse::<i64>().ok());
    let precision = numbers.next().flatten();
    let scale = numbers.next().flatten();
    ColumnDef {
        name,
        type_name,
        declared,
        precision,
        scale,
        nullable: true,
        auto_increment: false,
    }
}
