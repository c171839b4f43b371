//! A column's declared type turned into a Connect schema (`numeric.mapping` deciding what a
//! NUMERIC becomes), the SELECT expression that reads it, and the Connect value of what that
//! expression returns. Each expression returns a 64-bit integer, a double or text, the types
//! the Any driver reads on every database: dates come as days, times as milliseconds and
//! timestamps as microseconds since the epoch, bytes as hex, and decimals as text so no digit
//! is lost.

use sqlx::any::AnyRow;
use sqlx::Row;

use sluice_connect_api::{ConnectError, Decimal, Result, SchemaBuilder, SchemaRef, Value};

use super::catalog::ColumnDef;
use super::dialect::Dialect;

/// `numeric.mapping`: what NUMERIC and DECIMAL columns become.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NumericMapping {
    /// Always Connect's Decimal.
    None,
    /// Integers when the scale is 0 and the precision fits.
    PrecisionOnly,
    /// As `PrecisionOnly`, and FLOAT64 for fractions of up to 18 digits.
    BestFit,
    /// As `BestFit`, and FLOAT64 for every fraction.
    BestFitEagerDouble,
}

impl NumericMapping {
    pub const NAMES: [&'static str; 4] = [
        "none",
        "precision_only",
        "best_fit",
        "best_fit_eager_double",
    ];

    pub fn parse(text: &str) -> Self {
        match text.to_ascii_lowercase().as_str() {
            "precision_only" => Self::PrecisionOnly,
            "best_fit" => Self::BestFit,
            "best_fit_eager_double" => Self::BestFitEagerDouble,
            _ => Self::None,
        }
    }
}

/// The Connect type a column is read as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnKind {
    Boolean,
    Int8,
    Int16,
    Int32,
    Int64,
    Float32,
    Float64,
    Decimal(i32),
    String,
    Bytes,
    Date,
    Time,
    Timestamp,
}

/// The integer kind for a NUMERIC of `precision` digits and no fraction.
fn integer_for_precision(precision: i64) -> ColumnKind {
    match precision {
        p if p > 9 => ColumnKind::Int64,
        p if p > 4 => ColumnKind::Int32,
        p if p > 2 => ColumnKind::Int16,
        _ => ColumnKind::Int8,
    }
}

fn numeric_kind(
    column: &ColumnDef,
    mapping: NumericMapping,
) -> std::result::Result<ColumnKind, String> {
    let bounded = column.precision.filter(|p| *p > 0);
    let scale = column.scale;
    match (mapping, bounded, scale) {
        (NumericMapping::None, _, Some(s)) if bounded.is_some() => Ok(decimal(s)?),
        (_, Some(p), Some(0)) if p < 19 && mapping != NumericMapping::None => {
            Ok(integer_for_precision(p))
        }
        (NumericMapping::BestFit, Some(p), Some(s)) if s > 0 && p < 19 => Ok(ColumnKind::Float64),
        (NumericMapping::BestFitEagerDouble, _, Some(s)) if s > 0 => Ok(ColumnKind::Float64),
        (NumericMapping::BestFit | NumericMapping::BestFitEagerDouble, None, _) => {
            Ok(ColumnKind::Float64)
        }
        (_, Some(_), Some(s)) => Ok(decimal(s)?),
        _ => Err(format!(
            "{} has no declared precision and scale, so its values have no one Decimal scale: declare it NUMERIC(p,s) or set numeric.mapping=best_fit",
            column.declared
        )),
    }
}

fn decimal(scale: i64) -> std::result::Result<ColumnKind, String> {
    i32::try_from(scale)
        .map(ColumnKind::Decimal)
        .map_err(|_| format!("a scale of {scale} is out of range"))
}

impl ColumnKind {
    /// The kind for `column`, or why it has none.
    pub fn of(
        dialect: Dialect,
        column: &ColumnDef,
        mapping: NumericMapping,
    ) -> std::result::Result<Self, String> {
        let t = column.type_name.as_str();
        let kind = match dialect {
            Dialect::Postgres => match t {
                "smallint" => Self::Int16,
                "integer" => Self::Int32,
                "bigint" => Self::Int64,
                "real" => Self::Float32,
                "double precision" => Self::Float64,
                "numeric" => numeric_kind(column, mapping)?,
                "boolean" => Self::Boolean,
                "character varying" | "character" | "text" | "uuid" | "json" | "jsonb" | "xml"
                | "inet" | "cidr" | "macaddr" | "macaddr8" | "name" | "\"char\"" => Self::String,
                "user-defined" if !column.declared.is_empty() => Self::String,
                "bytea" => Self::Bytes,
                "date" => Self::Date,
                "time without time zone" | "time with time zone" => Self::Time,
                "timestamp without time zone" | "timestamp with time zone" => Self::Timestamp,
                _ => return Err(unsupported(column)),
            },
            Dialect::MySql => {
                let unsigned = column.declared.contains("unsigned");
                match t {
                    "tinyint" if column.declared.starts_with("tinyint(1)") => Self::Boolean,
                    "bit" if column.precision.unwrap_or(1) == 1 => Self::Boolean,
                    "tinyint" if unsigned => Self::Int16,
                    "tinyint" => Self::Int8,
                    "smallint" if unsigned => Self::Int32,
                    "smallint" => Self::Int16,
                    "mediumint" | "year" => Self::Int32,
                    "int" | "integer" if unsigned => Self::Int64,
                    "int" | "integer" => Self::Int32,
                    "bigint" if unsigned => Self::Decimal(0),
                    "bigint" => Self::Int64,
                    "float" => Self::Float32,
                    "double" | "real" => Self::Float64,
                    "decimal" | "numeric" => numeric_kind(column, mapping)?,
                    "char" | "varchar" | "tinytext" | "text" | "mediumtext" | "longtext"
                    | "enum" | "set" | "json" => Self::String,
                    "binary" | "varbinary" | "tinyblob" | "blob" | "mediumblob" | "longblob" => {
                        Self::Bytes
                    }
                    "date" => Self::Date,
                    "time" => Self::Time,
                    "datetime" | "timestamp" => Self::Timestamp,
                    _ => return Err(unsupported(column)),
                }
            }
            // SQLite's declared types are free text: read them by SQLite's own affinity rules,
            // with the date and time names tools write.
            Dialect::Sqlite => match t {
                "date" => Self::Date,
                "time" => Self::Time,
                "datetime" | "timestamp" => Self::Timestamp,
                "boolean" | "bool" => Self::Boolean,
                "numeric" | "decimal" => numeric_kind(column, mapping)?,
                t if t.contains("int") => Self::Int64,
                t if t.contains("char") || t.contains("clob") || t.contains("text") => Self::String,
                t if t.contains("real") || t.contains("floa") || t.contains("doub") => {
                    Self::Float64
                }
                "blob" => Self::Bytes,
                "" => Self::String,
                _ => return Err(unsupported(column)),
            },
        };
        Ok(kind)
    }

    /// The Connect schema of a column of this kind.
    pub fn schema(self, optional: bool) -> SchemaRef {
        use sluice_connect_api::SchemaType as T;
        let builder = match self {
            Self::Boolean => SchemaBuilder::new(T::Boolean),
            Self::Int8 => SchemaBuilder::new(T::Int8),
            Self::Int16 => SchemaBuilder::new(T::Int16),
            Self::Int32 => SchemaBuilder::new(T::Int32),
            Self::Int64 => SchemaBuilder::new(T::Int64),
            Self::Float32 => SchemaBuilder::new(T::Float32),
            Self::Float64 => SchemaBuilder::new(T::Float64),
            Self::Decimal(scale) => SchemaBuilder::decimal(scale),
            Self::String => SchemaBuilder::new(T::String),
            Self::Bytes => SchemaBuilder::new(T::Bytes),
            Self::Date => SchemaBuilder::date(),
            Self::Time => SchemaBuilder::time(),
            Self::Timestamp => SchemaBuilder::timestamp(),
        };
        if optional {
            builder.optional().build()
        } else {
            builder.build()
        }
    }

    /// The expression reading `column` (an SQL expression, quoted) as this kind.
    pub fn select(self, dialect: Dialect, column: &str) -> String {
        use Dialect::*;
        match (self, dialect) {
            // PostgreSQL casts a boolean to INT only.
            (Self::Boolean, Postgres) => format!("CAST({column} AS INT)"),
            (Self::Int8 | Self::Int16 | Self::Int32 | Self::Int64, Postgres) => {
                format!("CAST({column} AS BIGINT)")
            }
            (Self::Boolean | Self::Int8 | Self::Int16 | Self::Int32 | Self::Int64, MySql) => {
                format!("CAST({column} AS SIGNED)")
            }
            (Self::Boolean | Self::Int8 | Self::Int16 | Self::Int32 | Self::Int64, Sqlite) => {
                format!("CAST({column} AS INTEGER)")
            }
            (Self::Float32 | Self::Float64, Postgres) => {
                format!("CAST({column} AS DOUBLE PRECISION)")
            }
            (Self::Float32 | Self::Float64, MySql) => format!("({column} + 0E0)"),
            (Self::Float32 | Self::Float64, Sqlite) => format!("CAST({column} AS REAL)"),
            (Self::Decimal(_) | Self::String, MySql) => format!("CAST({column} AS CHAR)"),
            (Self::Decimal(_) | Self::String, _) => format!("CAST({column} AS TEXT)"),
            (Self::Bytes, Postgres) => format!("encode({column}, 'hex')"),
            (Self::Bytes, MySql) => format!("HEX({column})"),
            (Self::Bytes, Sqlite) => format!("CASE WHEN {column} IS NULL THEN NULL ELSE hex({column}) END"),
            (Self::Date, Postgres) => format!("CAST({column} - DATE '1970-01-01' AS BIGINT)"),
            (Self::Date, MySql) => format!("CAST(DATEDIFF({column}, '1970-01-01') AS SIGNED)"),
            (Self::Date, Sqlite) => {
                format!("CAST(julianday({column}) - 2440587.5 AS INTEGER)")
            }
            (Self::Time, Postgres) => {
                format!("CAST(FLOOR(EXTRACT(EPOCH FROM CAST({column} AS TIME)) * 1000) AS BIGINT)")
            }
            (Self::Time, MySql) => format!(
                "CAST(FLOOR(TIME_TO_SEC({column})) * 1000 + FLOOR(MICROSECOND({column}) / 1000) AS SIGNED)"
            ),
            (Self::Time, Sqlite) => format!(
                "CAST(ROUND((julianday('2000-01-01 ' || {column}) - julianday('2000-01-01')) * 86400000) AS INTEGER)"
            ),
            (Self::Timestamp, _) => timestamp_micros(dialect, column),
        }
    }

    /// The Connect value of what [`select`](Self::select) read at `index`.
    pub fn read(self, row: &AnyRow, index: usize) -> Result<Value> {
        let bad = |e: sqlx::Error| ConnectError::data(format!("reading column {index}: {e}"));
        let integer = || row.try_get::<Option<i64>, _>(index).map_err(bad);
        let narrow = |n: i64, kind: &str| {
            ConnectError::data(format!("{n} in column {index} does not fit an {kind}"))
        };
        let value = match self {
            Self::Float32 | Self::Float64 => {
                match row.try_get::<Option<f64>, _>(index).map_err(bad)? {
                    None => Value::Null,
                    Some(f) if self == Self::Float32 => Value::Float32(f as f32),
                    Some(f) => Value::Float64(f),
                }
            }
            Self::Decimal(_) | Self::String | Self::Bytes => {
                let Some(text) = read_text(row, index).map_err(bad)? else {
                    return Ok(Value::Null);
                };
                match self {
                    Self::Decimal(scale) => Value::Decimal(
                        Decimal::parse(text.trim())
                            .and_then(|d| d.rescale(scale))
                            .ok_or_else(|| {
                                ConnectError::data(format!(
                                    "{text} in column {index} is not a decimal of scale {scale}"
                                ))
                            })?,
                    ),
                    Self::Bytes => Value::Bytes(from_hex(&text).ok_or_else(|| {
                        ConnectError::data(format!("column {index}: bad hex from the database"))
                    })?),
                    _ => Value::String(text),
                }
            }
            _ => {
                let Some(n) = integer()? else {
                    return Ok(Value::Null);
                };
                match self {
                    Self::Boolean => Value::Boolean(n != 0),
                    Self::Int8 => Value::Int8(i8::try_from(n).map_err(|_| narrow(n, "INT8"))?),
                    Self::Int16 => Value::Int16(i16::try_from(n).map_err(|_| narrow(n, "INT16"))?),
                    Self::Int32 => Value::Int32(i32::try_from(n).map_err(|_| narrow(n, "INT32"))?),
                    Self::Date => Value::Date(i32::try_from(n).map_err(|_| narrow(n, "INT32"))?),
                    Self::Time => Value::Time(i32::try_from(n).map_err(|_| narrow(n, "INT32"))?),
                    Self::Timestamp => Value::Timestamp(n.div_euclid(1000)),
                    _ => Value::Int64(n),
                }
            }
        };
        Ok(value)
    }
}

/// Microseconds since the epoch of a timestamp expression (`timestamp.column.name` compares
/// and orders by this on SQLite, whose timestamps are text).
pub fn timestamp_micros(dialect: Dialect, column: &str) -> String {
    match dialect {
        Dialect::Postgres => {
            format!("CAST(FLOOR(EXTRACT(EPOCH FROM {column}) * 1000000) AS BIGINT)")
        }
        Dialect::MySql => format!(
            "CAST(TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', {column}) AS SIGNED)"
        ),
        Dialect::Sqlite => format!(
            "(CAST(strftime('%s', {column}) AS INTEGER) * 1000000 + CAST(ROUND(strftime('%f', {column}) * 1000000) AS INTEGER) % 1000000)"
        ),
    }
}

/// Text, which MySQL sends as a blob when it is long.
pub fn read_text(row: &AnyRow, index: usize) -> std::result::Result<Option<String>, sqlx::Error> {
    row.try_get::<Option<String>, _>(index).or_else(|_| {
        row.try_get::<Option<Vec<u8>>, _>(index)
            .map(|bytes| bytes.map(|b| String::from_utf8_lossy(&b).into_owned()))
    })
}

fn unsupported(column: &ColumnDef) -> String {
    format!(
        "column {} has type {}, which Sluice cannot map to a Connect schema",
        column.name, column.declared
    )
}

fn from_hex(text: &str) -> Option<Vec<u8>> {
    let digits = text.as_bytes();
    if !digits.len().is_multiple_of(2) {
        return None;
    }
    digits
        .chunks(2)
        .map(|pair| {
            let high = char::from(pair[0]).to_digit(16)?;
            let low = char::from(pair[1]).to_digit(16)?;
            u8::try_from(high * 16 + low).ok()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn numeric(precision: Option<i64>, scale: Option<i64>) -> ColumnDef {
        ColumnDef {
            name: "amount".into(),
            type_name: "numeric".into(),
            declared: "numeric".into(),
            precision,
            scale,
            nullable: true,
            auto_increment: false,
        }
    }

    #[test]
    fn numeric_mapping_picks_decimal_integers_or_doubles_as_confluent_does() {
        let kind = |p, s, m| ColumnKind::of(Dialect::Postgres, &numeric(p, s), m);
        use NumericMapping as M;
        assert_eq!(kind(Some(10), Some(2), M::None), Ok(ColumnKind::Decimal(2)));
        assert_eq!(kind(Some(10), Some(0), M::None), Ok(ColumnKind::Decimal(0)));
        assert_eq!(
            kind(Some(10), Some(0), M::PrecisionOnly),
            Ok(ColumnKind::Int64)
        );
        assert_eq!(
            kind(Some(4), Some(0), M::PrecisionOnly),
            Ok(ColumnKind::Int16)
        );
        assert_eq!(
            kind(Some(10), Some(2), M::PrecisionOnly),
            Ok(ColumnKind::Decimal(2))
        );
        assert_eq!(kind(Some(10), Some(2), M::BestFit), Ok(ColumnKind::Float64));
        assert_eq!(
            kind(Some(30), Some(2), M::BestFit),
            Ok(ColumnKind::Decimal(2))
        );
        assert_eq!(
            kind(Some(30), Some(2), M::BestFitEagerDouble),
            Ok(ColumnKind::Float64)
        );
        assert_eq!(kind(None, None, M::BestFit), Ok(ColumnKind::Float64));
        let err = kind(None, None, M::None).expect_err("unbounded numeric");
        assert!(err.contains("numeric.mapping=best_fit"), "{err}");
    }

    #[test]
    fn hex_from_the_database_becomes_bytes() {
        assert_eq!(from_hex("00ff10"), Some(vec![0, 255, 16]));
        assert_eq!(from_hex("0"), None);
        assert_eq!(from_hex("zz"), None);
    }
}
