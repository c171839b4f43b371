//! `org.apache.kafka.connect.transforms.TimestampConverter$Key` / `$Value`: converts a
//! timestamp, the whole key or value or one field of it, between a formatted string, a unix
//! number (`unix.precision`), and the Date, Time and Timestamp logical types. Every conversion
//! goes through milliseconds since the epoch, in UTC.

use sluice_connect_api::schema::logical;
use sluice_connect_api::time::SimpleDateFormat;
use sluice_connect_api::{
    ConfigDef, ConfigType, ConnectError, ConnectRecord, Importance, Props, Result, Schema,
    SchemaBuilder, SchemaRef, SchemaType, Struct, Transformation, Validator, Value, Verdict,
};

use super::support::{
    config_error, describe_schema, into_field_values, map_put, require_map, require_struct,
    with_replace_null_with_default, Operand, SchemaCache, Settings, REPLACE_NULL_WITH_DEFAULT,
};

const PURPOSE: &str = "converting timestamp formats";
const MS_PER_DAY: i64 = 86_400_000;

/// The representations a timestamp can take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    String,
    Unix,
    Date,
    Time,
    Timestamp,
}

impl Kind {
    fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "string" => Kind::String,
            "unix" => Kind::Unix,
            "Date" => Kind::Date,
            "Time" => Kind::Time,
            "Timestamp" => Kind::Timestamp,
            _ => return None,
        })
    }

    /// The schema values of this kind take.
    fn schema(self, optional: bool) -> SchemaRef {
        let builder = match self {
            Kind::String => SchemaBuilder::new(SchemaType::String),
            Kind::Unix => SchemaBuilder::new(SchemaType::Int64),
            Kind::Date => SchemaBuilder::date(),
            Kind::Time => SchemaBuilder::time(),
            Kind::Timestamp => SchemaBuilder::timestamp(),
        };
        if optional {
            builder.optional().build()
        } else {
            builder.build()
        }
    }

    /// The kind a schema says its values are.
    fn of_schema(schema: &Schema) -> Result<Self> {
        match (schema.name.as_deref(), schema.schema_type) {
            (Some(logical::TIMESTAMP), _) => Ok(Kind::Timestamp),
            (Some(logical::DATE), _) => Ok(Kind::Date),
            (Some(logical::TIME), _) => Ok(Kind::Time),
            (_, SchemaType::String) => Ok(Kind::String),
            (_, SchemaType::Int64) => Ok(Kind::Unix),
            _ => Err(ConnectError::data(format!(
                "Schema {} does not correspond to a known timestamp type format",
                describe_schema(schema)
            ))),
        }
    }

    /// The kind a schemaless value is, from its type.
    fn of_value(value: &Value) -> Result<Self> {
        match value {
            Value::Date(_) | Value::Time(_) | Value::Timestamp(_) => Ok(Kind::Timestamp),
            Value::Int64(_) => Ok(Kind::Unix),
            Value::String(_) => Ok(Kind::String),
            other => Err(ConnectError::data(format!(
                "TimestampConverter does not support class {} objects as timestamps",
                other.type_name()
            ))),
        }
    }
}

/// The unit of unix numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Precision {
    Seconds,
    Milliseconds,
    Microseconds,
    Nanoseconds,
}

impl Precision {
    fn to_millis(self, n: i64) -> i64 {
        match self {
            Precision::Seconds => n.saturating_mul(1000),
            Precision::Milliseconds => n,
            // Integer division truncates toward zero, as Java's does.
            Precision::Microseconds => n / 1000,
            Precision::Nanoseconds => n / 1_000_000,
        }
    }

    fn of_millis(self, ms: i64) -> i64 {
        match self {
            Precision::Seconds => ms / 1000,
            Precision::Milliseconds => ms,
            Precision::Microseconds => ms.saturating_mul(1000),
            Precision::Nanoseconds => ms.saturating_mul(1_000_000),
        }
    }
}

pub struct TimestampConverter {
    operand: Operand,
    /// The field holding the timestamp; empty for the whole key or value.
    field: String,
    target: Kind,
    format: Option<SimpleDateFormat>,
    precision: Precision,
    replace_null_with_default: bool,
    /// Per input schema: the position of the converted field and, when its schema has one, its
    /// kind.
    schemas: SchemaCache<Option<(usize, Option<Kind>)>>,
}

impl TimestampConverter {
    pub fn new(operand: Operand) -> Self {
        Self {
            operand,
            field: String::new(),
            target: Kind::Timestamp,
            format: None,
            precision: Precision::Milliseconds,
            replace_null_with_default: true,
            schemas: SchemaCache::default(),
        }
    }

    fn definition() -> ConfigDef {
        let def = ConfigDef::new()
            .define("field", ConfigType::String, Some(""), Importance::High, "The field containing the timestamp, or empty if the entire value is a timestamp")
            .define("target.type", ConfigType::String, None, Importance::High, "The desired timestamp representation: string, unix, Date, Time, or Timestamp")
            .validator(Validator::In(vec!["string".into(), "unix".into(), "Date".into(), "Time".into(), "Timestamp".into()]))
            .define("format", ConfigType::String, Some(""), Importance::Medium, "A SimpleDateFormat-compatible format for the timestamp. Used to generate the output when type=string or used to parse the input if the input is a string.")
            .define("unix.precision", ConfigType::String, Some("milliseconds"), Importance::Low, "The desired Unix precision for the timestamp: seconds, milliseconds, microseconds, or nanoseconds. Used to generate the output when type=unix or used to parse the input if the input is a Long. Note: This SMT will cause precision loss during conversions from, and to, values with sub-millisecond components.")
            .validator(Validator::In(vec!["nanoseconds".into(), "microseconds".into(), "milliseconds".into(), "seconds".into()]));
        with_replace_null_with_default(def)
    }

    /// Milliseconds since the epoch from a value of `kind`.
    fn to_millis(&self, kind: Kind, value: &Value) -> Result<i64> {
        let expected = |what: &str| {
            ConnectError::data(format!(
                "Expected {what}, but found class {}",
                value.type_name()
            ))
        };
        match kind {
            Kind::String => {
                let Value::String(text) = value else {
                    return Err(expected("string timestamp to be a String"));
                };
                let Some(format) = &self.format else {
                    return Err(ConnectError::data(
                        "TimestampConverter requires format option to be specified when using string timestamps",
                    ));
                };
                format.parse_lenient(text, 0).ok_or_else(|| {
                    ConnectError::data(format!(
                        "Could not parse timestamp: value ({text}) does not match pattern ({})",
                        format.pattern()
                    ))
                })
            }
            Kind::Unix => match value {
                Value::Int64(n) => Ok(self.precision.to_millis(*n)),
                _ => Err(expected("Unix timestamp to be a Long")),
            },
            Kind::Date | Kind::Time | Kind::Timestamp => {
                let name = match kind {
                    Kind::Date => "Date",
                    Kind::Time => "Time",
                    _ => "Timestamp",
                };
                date_millis(value)
                    .ok_or_else(|| expected(&format!("{name} to be a java.util.Date")))
            }
        }
    }

    /// A value of the target kind from milliseconds since the epoch.
    fn target_of(&self, ms: i64) -> Result<Value> {
        Ok(match self.target {
            Kind::String => Value::String(
                self.format
                    .as_ref()
                    .map(|f| f.format(ms, 0))
                    .unwrap_or_default(),
            ),
            Kind::Unix => Value::Int64(self.precision.of_millis(ms)),
            Kind::Date => Value::Date(i32::try_from(ms.div_euclid(MS_PER_DAY)).map_err(|_| {
                ConnectError::data(format!("Timestamp {ms} is beyond the range of a Date"))
            })?),
            // Within a day, so it fits.
            Kind::Time => Value::Time(ms.rem_euclid(MS_PER_DAY) as i32),
            Kind::Timestamp => Value::Timestamp(ms),
        })
    }

    fn convert(&self, value: &Value, kind: Kind) -> Result<Value> {
        if value.is_null() {
            return Ok(Value::Null);
        }
        self.target_of(self.to_millis(kind, value)?)
    }

    fn apply_schemaless(&self, value: Value) -> Result<Value> {
        if value.is_null() || self.field.is_empty() {
            if value.is_null() {
                return Ok(Value::Null);
            }
            return self.convert(&value, Kind::of_value(&value)?);
        }
        let mut entries = require_map(value, PURPOSE)?;
        let current = super::support::map_get(&entries, &self.field)
            .cloned()
            .unwrap_or(Value::Null);
        let converted = if current.is_null() {
            Value::Null
        } else {
            self.convert(&current, Kind::of_value(&current)?)?
        };
        map_put(&mut entries, &self.field, converted);
        Ok(Value::Map(entries))
    }

    fn apply_with_schema(
        &mut self,
        schema: &SchemaRef,
        value: Value,
    ) -> Result<(SchemaRef, Value)> {
        if self.field.is_empty() {
            let kind = Kind::of_schema(schema)?;
            let converted = self.convert(&value, kind)?;
            return Ok((self.target.schema(schema.optional), converted));
        }
        let value = match value {
            Value::Null => None,
            other => Some(require_struct(other, PURPOSE)?),
        };
        let (field, target) = (&self.field, self.target);
        let (updated, planned) = self.schemas.get_or_plan(schema, |schema| {
            let mut builder = SchemaBuilder::struct_().with_basics_of(schema);
            for f in &schema.fields {
                let field_schema = if f.name == *field {
                    target.schema(f.schema.optional)
                } else {
                    f.schema.clone()
                };
                builder = builder.field(&f.name, field_schema)?;
            }
            if schema.optional {
                builder = builder.optional();
            }
            // The field's kind, when its schema has one, is found once per schema.
            let planned = schema
                .field(field)
                .map(|f| (f.index, Kind::of_schema(&f.schema).ok()));
            Ok((builder.build(), planned))
        })?;
        let planned = *planned;
        let position = planned.map(|(i, _)| i);
        let Some(value) = value else {
            return Ok((updated, Value::Null));
        };
        let (schema, mut values) = into_field_values(value, self.replace_null_with_default);
        if let Some((i, kind)) = planned {
            let kind = match kind {
                Some(kind) => kind,
                // A field of no timestamp type is refused record by record, with Kafka's message.
                None => Kind::of_schema(&schema.fields[i].schema)?,
            };
            values[i] = self.convert(&values[i], kind)?;
        }
        // Every other value was checked against the same field schema in the input struct.
        let out = Struct::from_checked_values(updated.clone(), values, |i| {
            if Some(i) == position {
                None
            } else {
                schema.fields.get(i).map(|f| &f.schema)
            }
        })?;
        Ok((updated, Value::Struct(out)))
    }
}

/// Milliseconds since the epoch of a date-like value (Kafka's `java.util.Date`).
fn date_millis(value: &Value) -> Option<i64> {
    match value {
        Value::Date(days) => Some(i64::from(*days) * MS_PER_DAY),
        Value::Time(ms) => Some(i64::from(*ms)),
        Value::Timestamp(ms) => Some(*ms),
        _ => None,
    }
}

impl<R: ConnectRecord> Transformation<R> for TimestampConverter {
    fn config_def(&self) -> ConfigDef {
        Self::definition()
    }

    fn configure(&mut self, props: &Props) -> Result<()> {
        let settings = Settings::parse(&Self::definition(), props)?;
        self.field = settings.string("field");
        let target = settings.string("target.type");
        self.target = Kind::parse(&target).ok_or_else(|| {
            config_error(
                "target.type",
                format!("Unknown timestamp type in TimestampConverter: {target}"),
            )
        })?;
        self.precision = match settings.string("unix.precision").as_str() {
            "seconds" => Precision::Seconds,
            "microseconds" => Precision::Microseconds,
            "nanoseconds" => Precision::Nanoseconds,
            _ => Precision::Milliseconds,
        };
        let pattern = settings.string("format");
        if self.target == Kind::String && pattern.trim().is_empty() {
            return Err(config_error(
                "format",
                "TimestampConverter requires format option to be specified when using string timestamps",
            ));
        }
        self.format = if pattern.trim().is_empty() {
            None
        } else {
            Some(SimpleDateFormat::new(&pattern).map_err(|e| {
                config_error(
                    "format",
                    format!("TimestampConverter requires a SimpleDateFormat-compatible pattern for string timestamps: {pattern} ({e})"),
                )
            })?)
        };
        self.replace_null_with_default = settings.flag(REPLACE_NULL_WITH_DEFAULT);
        self.schemas = SchemaCache::default();
        Ok(())
    }

    fn apply(&mut self, record: &mut R) -> Result<Verdict> {
        let (schema, value) = self.operand.take(record);
        match schema {
            None => {
                let converted = self.apply_schemaless(value)?;
                self.operand.set(record, None, converted);
            }
            Some(schema) => {
                let (schema, converted) = self.apply_with_schema(&schema, value)?;
                self.operand.set(record, Some(schema), converted);
            }
        }
        Ok(Verdict::Keep)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transforms::test_support::apply_to_value;
    use sluice_connect_api::{props_of, SourceRecord};

    const DATE_PLUS_TIME: i64 = 86_401_234;
    const FORMAT: &str = "yyyy MM dd HH mm ss SSS z";
    const TEXT: &str = "1970 01 02 00 00 01 234 UTC";

    fn converter(pairs: &[(&str, &str)]) -> TimestampConverter {
        let mut t = TimestampConverter::new(Operand::Value);
        Transformation::<SourceRecord>::configure(&mut t, &props_of(pairs)).expect("configured");
        t
    }

    fn apply(
        t: &mut TimestampConverter,
        schema: Option<SchemaRef>,
        value: Value,
    ) -> Result<(Option<SchemaRef>, Value)> {
        apply_to_value(t, schema, value)
    }

    fn config_message(pairs: &[(&str, &str)]) -> String {
        let mut t = TimestampConverter::new(Operand::Value);
        let e = Transformation::<SourceRecord>::configure(&mut t, &props_of(pairs))
            .expect_err("refused");
        e.message().to_string()
    }

    #[test]
    fn configuration_errors_are_kafkas() {
        assert_eq!(
            config_message(&[]),
            "Missing required configuration \"target.type\" which has no default value."
        );
        assert_eq!(
            config_message(&[("target.type", "timestamp")]),
            "Invalid value timestamp for configuration target.type: String must be one of: string, unix, Date, Time, Timestamp"
        );
        assert_eq!(
            config_message(&[("target.type", "unix"), ("unix.precision", "invalid")]),
            "Invalid value invalid for configuration unix.precision: String must be one of: nanoseconds, microseconds, milliseconds, seconds"
        );
        assert_eq!(
            config_message(&[("target.type", "string")]),
            "TimestampConverter requires format option to be specified when using string timestamps"
        );
        assert!(config_message(&[("target.type", "string"), ("format", "bad-format")])
            .starts_with("TimestampConverter requires a SimpleDateFormat-compatible pattern for string timestamps: bad-format"));
    }

    #[test]
    fn schemaless_timestamps_convert_to_every_kind() {
        let ts = || Value::Timestamp(DATE_PLUS_TIME);
        for (target, expected) in [
            ("Timestamp", Value::Timestamp(DATE_PLUS_TIME)),
            ("Date", Value::Date(1)),
            ("Time", Value::Time(1234)),
            ("unix", Value::Int64(DATE_PLUS_TIME)),
            ("string", Value::String(TEXT.into())),
        ] {
            let mut t = converter(&[("target.type", target), ("format", FORMAT)]);
            assert_eq!(
                apply(&mut t, None, ts()).expect("converted"),
                (None, expected),
                "{target}"
            );
        }
        let mut t = converter(&[("target.type", "Timestamp"), ("format", FORMAT)]);
        for input in [
            Value::Int64(DATE_PLUS_TIME),
            Value::String(TEXT.into()),
            Value::Timestamp(DATE_PLUS_TIME),
        ] {
            assert_eq!(
                apply(&mut t, None, input).expect("converted").1,
                Value::Timestamp(DATE_PLUS_TIME)
            );
        }
        assert_eq!(
            apply(&mut t, None, Value::Int32(5))
                .expect_err("int")
                .message(),
            "TimestampConverter does not support class java.lang.Integer objects as timestamps"
        );
    }

    #[test]
    fn with_a_schema_the_schema_says_the_kind() {
        let mut t = converter(&[("target.type", "Date")]);
        let (schema, value) = apply(
            &mut t,
            Some(SchemaBuilder::timestamp().build()),
            Value::Timestamp(DATE_PLUS_TIME),
        )
        .expect("converted");
        assert_eq!(schema.expect("schema").name.as_deref(), Some(logical::DATE));
        assert_eq!(value, Value::Date(1));
        let mut t = converter(&[("target.type", "Timestamp"), ("format", FORMAT)]);
        let (schema, value) =
            apply(&mut t, Some(Schema::string()), Value::String(TEXT.into())).expect("parsed");
        assert_eq!(
            schema.expect("schema").name.as_deref(),
            Some(logical::TIMESTAMP)
        );
        assert_eq!(value, Value::Timestamp(DATE_PLUS_TIME));
        assert_eq!(
            apply(&mut t, Some(Schema::int32()), Value::Int32(1))
                .expect_err("int32")
                .message(),
            "Schema Schema{INT32} does not correspond to a known timestamp type format"
        );
        let (schema, value) = apply(
            &mut t,
            Some(SchemaBuilder::new(SchemaType::Int64).optional().build()),
            Value::Null,
        )
        .expect("null");
        assert!(schema.expect("schema").optional);
        assert_eq!(value, Value::Null);
    }

    #[test]
    fn one_field_converts_and_the_others_are_copied() {
        let schema = SchemaBuilder::struct_()
            .field("ts", Schema::int64())
            .and_then(|b| b.field("other", Schema::string()))
            .expect("schema")
            .build();
        let value = Struct::new(schema.clone())
            .and_then(|s| s.put("ts", Value::Int64(86_401)))
            .and_then(|s| s.put("other", Value::String("test".into())))
            .expect("struct");
        let mut t = converter(&[
            ("target.type", "Timestamp"),
            ("field", "ts"),
            ("unix.precision", "seconds"),
        ]);
        let (out_schema, out) =
            apply(&mut t, Some(schema.clone()), Value::Struct(value.clone())).expect("converted");
        let out_schema = out_schema.expect("schema");
        assert_eq!(
            out_schema
                .field("ts")
                .and_then(|f| f.schema.name.as_deref()),
            Some(logical::TIMESTAMP)
        );
        let Value::Struct(out) = out else {
            panic!("not a struct: {out:?}");
        };
        assert_eq!(out.get("ts").expect("ts"), &Value::Timestamp(86_401_000));
        assert_eq!(
            out.get("other").expect("other"),
            &Value::String("test".into())
        );
        // The second record with this schema finds the derived schema cached.
        let (again, _) = apply(&mut t, Some(schema), Value::Struct(value)).expect("converted");
        assert!(std::sync::Arc::ptr_eq(&again.expect("schema"), &out_schema));
    }

    #[test]
    fn unix_precision_truncates_like_java() {
        let mut t = converter(&[("target.type", "unix"), ("unix.precision", "microseconds")]);
        assert_eq!(
            apply(&mut t, None, Value::Timestamp(DATE_PLUS_TIME))
                .expect("micros")
                .1,
            Value::Int64(86_401_234_000)
        );
        let mut t = converter(&[("target.type", "Time"), ("unix.precision", "microseconds")]);
        assert_eq!(
            apply(&mut t, Some(Schema::int64()), Value::Int64(-1500))
                .expect("time")
                .1,
            Value::Time(86_399_999)
        );
        let mut t = converter(&[("target.type", "unix"), ("unix.precision", "seconds")]);
        assert_eq!(
            apply(&mut t, None, Value::Timestamp(-1))
                .expect("seconds")
                .1,
            Value::Int64(0),
            "toward zero, not down"
        );
    }

    #[test]
    fn strings_parse_leniently_and_schemaless_fields_are_added() {
        let mut t = converter(&[("target.type", "Timestamp"), ("format", "yyyy-MM-dd")]);
        assert_eq!(
            apply(&mut t, None, Value::String("2020-01-05T10:00".into()))
                .expect("prefix")
                .1,
            Value::Timestamp(1_578_182_400_000)
        );
        assert_eq!(
            apply(&mut t, None, Value::String("abc".into()))
                .expect_err("garbage")
                .message(),
            "Could not parse timestamp: value (abc) does not match pattern (yyyy-MM-dd)"
        );
        let mut t = converter(&[("target.type", "Timestamp"), ("field", "ts")]);
        let (_, out) = apply(
            &mut t,
            None,
            Value::Map(vec![(Value::String("other".into()), Value::Int64(1))]),
        )
        .expect("map");
        assert_eq!(
            out,
            Value::Map(vec![
                (Value::String("other".into()), Value::Int64(1)),
                (Value::String("ts".into()), Value::Null)
            ])
        );
        assert_eq!(
            apply(&mut t, None, Value::String("x".into())).expect_err("not a map").message(),
            "Only Map objects supported in absence of schema for [converting timestamp formats], found: java.lang.String"
        );
    }
}
