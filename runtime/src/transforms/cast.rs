//! `org.apache.kafka.connect.transforms.Cast$Key` / `$Value`: casts fields, or the whole key or
//! value, to another primitive type with Java's conversion rules: integer narrowing keeps the low
//! bits, floats truncate toward zero, text is parsed as `Integer.parseInt` and
//! `Double.parseDouble` parse it, bytes become base64 text.

use std::collections::BTreeMap;

use sluice_connect_api::base64;
use sluice_connect_api::calendar::format_for_instant;
use sluice_connect_api::{
    ConfigDef, ConfigType, ConnectError, ConnectRecord, Importance, Props, Result, SchemaBuilder,
    SchemaRef, SchemaType, Struct, Transformation, Value, Verdict,
};

use super::java_numbers::{java_float, java_integer, Number};
use super::support::{
    config_error, into_field_values, map_get, map_put, require_map, require_struct,
    with_replace_null_with_default, Operand, SchemaCache, Settings, REPLACE_NULL_WITH_DEFAULT,
};

const PURPOSE: &str = "cast types";

/// What can be cast to, in Kafka's order (its messages list them so).
const OUTPUT_TYPES: [SchemaType; 8] = [
    SchemaType::Int8,
    SchemaType::Int16,
    SchemaType::Int32,
    SchemaType::Int64,
    SchemaType::Float32,
    SchemaType::Float64,
    SchemaType::Boolean,
    SchemaType::String,
];

pub struct Cast {
    operand: Operand,
    /// Field casts by field name.
    casts: BTreeMap<String, SchemaType>,
    /// The one cast of a whole key or value.
    whole: Option<SchemaType>,
    replace_null_with_default: bool,
    /// Per input schema: the cast schema, and each field's target (None to copy it).
    schemas: SchemaCache<Vec<Option<SchemaType>>>,
}

impl Cast {
    pub fn new(operand: Operand) -> Self {
        Self {
            operand,
            casts: BTreeMap::new(),
            whole: None,
            replace_null_with_default: true,
            schemas: SchemaCache::default(),
        }
    }

    fn definition() -> ConfigDef {
        with_replace_null_with_default(ConfigDef::new().define(
            "spec",
            ConfigType::List,
            None,
            Importance::High,
            "List of fields and the type to cast them to of the form field1:type,field2:type to cast fields of Maps or Structs. A single type to cast the entire value. Valid types are int8, int16, int32, int64, float32, float64, boolean, and string. Note that binary fields can only be cast to string.",
        ))
    }
}

/// The schema a cast gives values of `schema`.
fn cast_schema(
    casts: &BTreeMap<String, SchemaType>,
    whole: Option<SchemaType>,
    schema: &SchemaRef,
) -> Result<SchemaRef> {
    let mut builder = match whole {
        // Kafka keeps the source's name even when it names a logical type, and the value
        // then fails in the converter; the cast value is plain, so its schema is too.
        Some(target) if schema.logical().is_some() => {
            let mut b = SchemaBuilder::new(target);
            if let Some(doc) = &schema.doc {
                b = b.doc(doc);
            }
            b
        }
        Some(target) => SchemaBuilder::new(target).with_basics_of(schema),
        None => {
            if schema.schema_type != SchemaType::Struct {
                return Err(ConnectError::data("Cannot list fields on non-struct type"));
            }
            let mut builder = SchemaBuilder::struct_().with_basics_of(schema);
            for field in &schema.fields {
                let field_schema = match casts.get(&field.name) {
                    None => field.schema.clone(),
                    Some(&target) => {
                        let mut b = SchemaBuilder::new(target);
                        if field.schema.optional {
                            b = b.optional();
                        }
                        if let Some(default) = &field.schema.default {
                            b =
                                b.default_value(cast_value(Some(&field.schema), default, target)?)?;
                        }
                        b.build()
                    }
                };
                builder = builder.field(&field.name, field_schema)?;
            }
            builder
        }
    };
    if schema.optional {
        builder = builder.optional();
    }
    if let Some(default) = &schema.default {
        let target = whole.unwrap_or(SchemaType::Struct);
        builder = builder.default_value(cast_value(Some(schema), default, target)?)?;
    }
    Ok(builder.build())
}

impl<R: ConnectRecord> Transformation<R> for Cast {
    fn config_def(&self) -> ConfigDef {
        Self::definition()
    }

    fn configure(&mut self, props: &Props) -> Result<()> {
        let settings = Settings::parse(&Self::definition(), props)?;
        let spec = settings.list("spec");
        if spec.is_empty() {
            return Err(config_error(
                "spec",
                "Must specify at least one field to cast.",
            ));
        }
        let (casts, whole) = parse_spec(&spec)?;
        self.casts = casts;
        self.whole = whole;
        self.replace_null_with_default = settings.flag(REPLACE_NULL_WITH_DEFAULT);
        self.schemas = SchemaCache::default();
        Ok(())
    }

    fn apply(&mut self, record: &mut R) -> Result<Verdict> {
        if self.operand.value(record).is_null() {
            return Ok(Verdict::Keep);
        }
        let (schema, value) = self.operand.take(record);
        let (schema, value) = match schema {
            None => (None, self.cast_schemaless(value)?),
            Some(schema) => {
                let (casts, whole) = (&self.casts, self.whole);
                let (updated, targets) = self.schemas.get_or_plan(&schema, |s| {
                    let targets = s
                        .fields
                        .iter()
                        .map(|f| casts.get(&f.name).copied())
                        .collect();
                    Ok((cast_schema(casts, whole, s)?, targets))
                })?;
                let value = match whole {
                    Some(target) => cast_value(Some(&schema), &value, target)?,
                    None => cast_struct(value, &updated, targets, self.replace_null_with_default)?,
                };
                (Some(updated), value)
            }
        };
        self.operand.set(record, schema, value);
        Ok(Verdict::Keep)
    }
}

impl Cast {
    fn cast_schemaless(&self, value: Value) -> Result<Value> {
        if let Some(target) = self.whole {
            return cast_value(None, &value, target);
        }
        let mut entries = require_map(value, PURPOSE)?;
        for (field, &target) in &self.casts {
            let cast = match map_get(&entries, field) {
                Some(v) => cast_value(None, v, target)?,
                None => Value::Null,
            };
            map_put(&mut entries, field, cast);
        }
        Ok(Value::Map(entries))
    }
}

/// Casts the fields of a struct, each to its target in `targets` (by field position).
fn cast_struct(
    value: Value,
    updated: &SchemaRef,
    targets: &[Option<SchemaType>],
    replace_null_with_default: bool,
) -> Result<Value> {
    let value = require_struct(value, PURPOSE)?;
    let (schema, mut values) = into_field_values(value, replace_null_with_default);
    for ((field, v), target) in schema.fields.iter().zip(values.iter_mut()).zip(targets) {
        if let Some(target) = *target {
            *v = cast_value(Some(&field.schema), v, target)?;
        }
    }
    // A value not cast keeps its field schema, against which the input struct checked it.
    let uncast = |i: usize| match targets.get(i) {
        Some(None) => schema.fields.get(i).map(|f| &f.schema),
        _ => None,
    };
    Ok(Value::Struct(Struct::from_checked_values(
        updated.clone(),
        values,
        uncast,
    )?))
}

/// Reads the `spec` list: `field:type` pairs, or one `type` for the whole value.
fn parse_spec(spec: &[String]) -> Result<(BTreeMap<String, SchemaType>, Option<SchemaType>)> {
    let mut casts = BTreeMap::new();
    let mut whole = None;
    for mapping in spec {
        // Java's String.split drops trailing empty parts.
        let mut parts: Vec<&str> = mapping.split(':').collect();
        while parts.last() == Some(&"") {
            parts.pop();
        }
        match parts.as_slice() {
            [target] => whole = Some(output_type(target)?),
            [field, target] => {
                casts.insert(field.trim().to_string(), output_type(target)?);
            }
            [] => {
                return Err(config_error(
                    "spec",
                    format!("Invalid type found in casting spec: {mapping}"),
                ))
            }
            _ => {
                return Err(config_error(
                    "spec",
                    format!(
                        "Invalid value [{}] for configuration renames: Invalid rename mapping: {mapping}",
                        spec.join(", ")
                    ),
                ))
            }
        }
    }
    if whole.is_some() && spec.len() > 1 {
        return Err(config_error(
            "spec",
            "Cast transformations that specify a type to cast the entire value to may only specify a single cast in their spec",
        ));
    }
    Ok((casts, whole))
}

/// A cast target from the spec: any Connect type name, case-insensitively, that Cast can write.
fn output_type(name: &str) -> Result<SchemaType> {
    let name = name.trim();
    let upper = name.to_ascii_uppercase();
    let all = OUTPUT_TYPES.iter().copied().chain([
        SchemaType::Bytes,
        SchemaType::Array,
        SchemaType::Map,
        SchemaType::Struct,
    ]);
    let Some(t) = all.clone().find(|t| t.name() == upper) else {
        return Err(config_error(
            "spec",
            format!("Invalid type found in casting spec: {name} (No enum constant org.apache.kafka.connect.data.Schema.Type.{upper})"),
        ));
    };
    if !OUTPUT_TYPES.contains(&t) {
        return Err(config_error(
            "spec",
            format!(
                "Cast transformation does not support casting to {t}; supported types are [INT8, INT16, INT32, INT64, FLOAT32, FLOAT64, BOOLEAN, STRING]"
            ),
        ));
    }
    Ok(t)
}

/// Kafka's `castValueToType`: `schema` is the value's own (null for schemaless data).
fn cast_value(schema: Option<&SchemaRef>, value: &Value, target: SchemaType) -> Result<Value> {
    if value.is_null() {
        return Ok(Value::Null);
    }
    let inferred = match schema {
        Some(s) => Some(s.schema_type),
        None => schemaless_type(value),
    };
    let Some(inferred) = inferred else {
        return Err(ConnectError::data(format!(
            "Cast transformation was passed a value of type class {} which is not supported by Connect's data API",
            value.type_name()
        )));
    };
    if !inferred.is_primitive() {
        return Err(ConnectError::data(format!(
            "Cast transformation does not support casting from {inferred}; supported types are [INT8, INT16, INT32, INT64, FLOAT32, FLOAT64, BOOLEAN, STRING, BYTES]"
        )));
    }
    if target == SchemaType::String {
        return Ok(Value::String(cast_to_string(value)));
    }
    // Logical values cast to numbers as what they encode.
    let number = match value {
        Value::Int8(n) => Some(Number::Int(i64::from(*n))),
        Value::Int16(n) => Some(Number::Int(i64::from(*n))),
        Value::Int32(n) | Value::Date(n) | Value::Time(n) => Some(Number::Int(i64::from(*n))),
        Value::Int64(n) | Value::Timestamp(n) => Some(Number::Int(*n)),
        Value::Float32(f) => Some(Number::Float(f64::from(*f))),
        Value::Float64(f) => Some(Number::Float(*f)),
        Value::Decimal(d) => Some(Number::Decimal(*d)),
        _ => None,
    };
    if let Some(n) = number {
        // Java narrows a float to int first, then to byte or short.
        return Ok(match target {
            SchemaType::Int8 => Value::Int8(n.int() as i8),
            SchemaType::Int16 => Value::Int16(n.int() as i16),
            SchemaType::Int32 => Value::Int32(n.int()),
            SchemaType::Int64 => Value::Int64(n.long()),
            SchemaType::Float32 => Value::Float32(n.float()),
            SchemaType::Float64 => Value::Float64(n.double()),
            _ => Value::Boolean(n.long() != 0),
        });
    }
    match value {
        Value::Boolean(b) => Ok(match target {
            SchemaType::Int8 => Value::Int8(i8::from(*b)),
            SchemaType::Int16 => Value::Int16(i16::from(*b)),
            SchemaType::Int32 => Value::Int32(i32::from(*b)),
            SchemaType::Int64 => Value::Int64(i64::from(*b)),
            SchemaType::Float32 => Value::Float32(f32::from(u8::from(*b))),
            SchemaType::Float64 => Value::Float64(f64::from(u8::from(*b))),
            _ => Value::Boolean(*b),
        }),
        Value::String(s) => parse_text(s, target),
        other => Err(ConnectError::data(format!(
            "Unexpected type in Cast transformation: class {}",
            other.type_name()
        ))),
    }
}

/// The Connect type of a schemaless value (`ConnectSchema.schemaType`): logical values have none.
fn schemaless_type(value: &Value) -> Option<SchemaType> {
    Some(match value {
        Value::Int8(_) => SchemaType::Int8,
        Value::Int16(_) => SchemaType::Int16,
        Value::Int32(_) => SchemaType::Int32,
        Value::Int64(_) => SchemaType::Int64,
        Value::Float32(_) => SchemaType::Float32,
        Value::Float64(_) => SchemaType::Float64,
        Value::Boolean(_) => SchemaType::Boolean,
        Value::String(_) => SchemaType::String,
        Value::Bytes(_) => SchemaType::Bytes,
        Value::Array(_) => SchemaType::Array,
        Value::Map(_) => SchemaType::Map,
        Value::Struct(_) => SchemaType::Struct,
        Value::Null | Value::Decimal(_) | Value::Date(_) | Value::Time(_) | Value::Timestamp(_) => {
            return None
        }
    })
}

fn cast_to_string(value: &Value) -> String {
    match value {
        Value::Date(days) => format_for_instant(i64::from(*days) * 86_400_000),
        Value::Time(ms) => format_for_instant(i64::from(*ms)),
        Value::Timestamp(ms) => format_for_instant(*ms),
        Value::Bytes(b) => base64::encode(b),
        other => other.to_java_string().unwrap_or_default(),
    }
}

/// Text parsed as `Byte.parseByte` … `Double.parseDouble`, `Boolean.parseBoolean` parse it.
fn parse_text(text: &str, target: SchemaType) -> Result<Value> {
    let out_of_range = || {
        ConnectError::data(format!(
            "Value ({text}) was out of range for requested data type"
        ))
    };
    let integer = || -> Result<i64> { java_integer(text).ok_or_else(out_of_range) };
    Ok(match target {
        SchemaType::Int8 => Value::Int8(i8::try_from(integer()?).map_err(|_| out_of_range())?),
        SchemaType::Int16 => Value::Int16(i16::try_from(integer()?).map_err(|_| out_of_range())?),
        SchemaType::Int32 => Value::Int32(i32::try_from(integer()?).map_err(|_| out_of_range())?),
        SchemaType::Int64 => Value::Int64(integer()?),
        SchemaType::Float32 => Value::Float32(java_float(text).ok_or_else(out_of_range)? as f32),
        SchemaType::Float64 => Value::Float64(java_float(text).ok_or_else(out_of_range)?),
        _ => Value::Boolean(text.eq_ignore_ascii_case("true")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transforms::test_support::apply_to_value;
    use crate::transforms::test_support::Applied;
    use sluice_connect_api::{props_of, Decimal, Schema, SourceMap, SourceRecord};

    fn cast(operand: Operand, spec: &str) -> Cast {
        let mut t = Cast::new(operand);
        Transformation::<SourceRecord>::configure(&mut t, &props_of(&[("spec", spec)]))
            .expect("configured");
        t
    }

    fn config_message(pairs: &[(&str, &str)]) -> String {
        let mut t = Cast::new(Operand::Value);
        Transformation::<SourceRecord>::configure(&mut t, &props_of(pairs))
            .expect_err("refused")
            .message()
            .to_string()
    }

    fn apply(
        t: &mut Cast,
        schema: Option<SchemaRef>,
        value: Value,
    ) -> Result<(Option<SchemaRef>, Value)> {
        apply_to_value(t, schema, value)
    }

    #[test]
    fn bad_specs_are_refused_as_kafka_refuses_them() {
        assert_eq!(
            config_message(&[("spec", "")]),
            "Must specify at least one field to cast."
        );
        assert!(config_message(&[("spec", "foo:faketype")])
            .starts_with("Invalid type found in casting spec: faketype"));
        for spec in ["foo:array", "array"] {
            assert_eq!(
                config_message(&[("spec", spec)]),
                "Cast transformation does not support casting to ARRAY; supported types are [INT8, INT16, INT32, INT64, FLOAT32, FLOAT64, BOOLEAN, STRING]"
            );
        }
        assert_eq!(
            config_message(&[("spec", "foo:int8:extra")]),
            "Invalid value [foo:int8:extra] for configuration renames: Invalid rename mapping: foo:int8:extra"
        );
        assert_eq!(
            config_message(&[("spec", "foo:int8,int32")]),
            "Cast transformations that specify a type to cast the entire value to may only specify a single cast in their spec"
        );
    }

    #[test]
    fn whole_values_cast_with_and_without_a_schema() {
        for (spec, expected) in [
            ("int8", Value::Int8(42)),
            ("int16", Value::Int16(42)),
            ("int32", Value::Int32(42)),
            ("int64", Value::Int64(42)),
            ("float32", Value::Float32(42.0)),
            ("float64", Value::Float64(42.0)),
            ("boolean", Value::Boolean(true)),
            ("string", Value::String("42".into())),
        ] {
            let mut t = cast(Operand::Value, spec);
            let (schema, value) =
                apply(&mut t, Some(Schema::int32()), Value::Int32(42)).expect("cast");
            assert_eq!(value, expected, "{spec}");
            let expected_type = if spec == "string" {
                "STRING".to_string()
            } else {
                spec.to_ascii_uppercase()
            };
            assert_eq!(schema.expect("schema").schema_type.name(), expected_type);
            let (schema, value) = apply(&mut t, None, Value::Int32(42)).expect("cast");
            assert_eq!((schema, value), (None, expected), "{spec} schemaless");
        }
        let mut t = cast(Operand::Value, "int8");
        assert!(apply(
            &mut t,
            None,
            Value::Array(vec![Value::String("foo".into())])
        )
        .is_err());
        let mut t = cast(Operand::Value, "int32");
        let float = SchemaBuilder::new(SchemaType::Float32)
            .default_value(Value::Float32(-42.125))
            .expect("default")
            .build();
        let (schema, value) = apply(&mut t, Some(float), Value::Float32(42.125)).expect("cast");
        assert_eq!(value, Value::Int32(42));
        assert_eq!(schema.expect("schema").default, Some(Value::Int32(-42)));
    }

    #[test]
    fn java_narrowing_and_parsing_rules_hold() {
        let to = |spec: &str, v: Value| {
            let mut t = cast(Operand::Value, spec);
            apply(&mut t, None, v).map(|(_, v)| v)
        };
        assert_eq!(
            to("int8", Value::Int32(300)).expect("wrap"),
            Value::Int8(44)
        );
        assert_eq!(
            to("int8", Value::Int32(-129)).expect("wrap"),
            Value::Int8(127)
        );
        assert_eq!(
            to("int8", Value::Float64(300.7)).expect("via int"),
            Value::Int8(44)
        );
        assert_eq!(
            to("int32", Value::Float64(1e12)).expect("saturate"),
            Value::Int32(i32::MAX)
        );
        assert_eq!(
            to("boolean", Value::Float64(0.5)).expect("long value"),
            Value::Boolean(false)
        );
        assert_eq!(
            to("boolean", Value::String("yes".into())).expect("parse"),
            Value::Boolean(false)
        );
        assert_eq!(
            to("float64", Value::String(" 1e3 ".into())).expect("parse"),
            Value::Float64(1000.0)
        );
        assert_eq!(
            to("int8", Value::String("300".into()))
                .expect_err("range")
                .message(),
            "Value (300) was out of range for requested data type"
        );
        assert!(
            to("int32", Value::String(" 42".into())).is_err(),
            "no trimming for integers"
        );
        assert_eq!(
            to("string", Value::Float64(1e7)).expect("java text"),
            Value::String("1.0E7".into())
        );
        assert_eq!(
            to("int8", Value::Bytes(vec![1]))
                .expect_err("bytes")
                .message(),
            "Unexpected type in Cast transformation: class [B"
        );
    }

    #[test]
    fn fields_cast_in_a_struct_keep_optionality_and_defaults() {
        let schema = SchemaBuilder::struct_()
            .field("int8", Schema::int8())
            .and_then(|b| {
                b.field(
                    "int32",
                    SchemaBuilder::new(SchemaType::Int32)
                        .default_value(Value::Int32(2))?
                        .build(),
                )
            })
            .and_then(|b| {
                b.field(
                    "optional",
                    SchemaBuilder::new(SchemaType::Float32).optional().build(),
                )
            })
            .and_then(|b| b.field("bytes", Schema::bytes()))
            .and_then(|b| b.field("date", SchemaBuilder::date().build()))
            .and_then(|b| b.field("decimal", SchemaBuilder::decimal(0).build()))
            .and_then(|b| b.field("timestamp", SchemaBuilder::timestamp().build()))
            .expect("schema")
            .build();
        let value = Struct::new(schema.clone())
            .and_then(|s| s.put("int8", Value::Int8(8)))
            .and_then(|s| s.put("int32", Value::Int32(32)))
            .and_then(|s| {
                s.put(
                    "bytes",
                    Value::Bytes(vec![0xFE, 0xDC, 0xBA, 0x98, 0x76, 0x54, 0x32, 0x10]),
                )
            })
            .and_then(|s| s.put("date", Value::Date(1)))
            .and_then(|s| {
                s.put(
                    "decimal",
                    Value::Decimal(Decimal {
                        unscaled: 42,
                        scale: 0,
                    }),
                )
            })
            .and_then(|s| s.put("timestamp", Value::Timestamp(0)))
            .expect("value");
        let mut t = cast(
            Operand::Value,
            "int8:int16,int32:int64,optional:int32,bytes:string,date:string,decimal:string",
        );
        let (out_schema, out) = apply(&mut t, Some(schema), Value::Struct(value)).expect("cast");
        let out_schema = out_schema.expect("schema");
        let Value::Struct(out) = out else {
            panic!("not a struct");
        };
        assert_eq!(out.get("int8").expect("int8"), &Value::Int16(8));
        assert_eq!(out.get("int32").expect("int32"), &Value::Int64(32));
        assert_eq!(
            out_schema
                .field("int32")
                .and_then(|f| f.schema.default.clone()),
            Some(Value::Int64(2))
        );
        assert_eq!(out.get("optional").expect("optional"), &Value::Null);
        assert!(out_schema
            .field("optional")
            .is_some_and(|f| f.schema.optional));
        assert_eq!(
            out.get("bytes").expect("bytes"),
            &Value::String("/ty6mHZUMhA=".into())
        );
        assert_eq!(
            out.get("date").expect("date"),
            &Value::String("1970-01-02".into())
        );
        assert_eq!(
            out.get("decimal").expect("decimal"),
            &Value::String("42".into())
        );
        assert_eq!(out.get("timestamp").expect("kept"), &Value::Timestamp(0));
    }

    #[test]
    fn logical_values_cast_to_what_they_encode() {
        let to = |schema: SchemaRef, v: Value, spec: &str| {
            let mut t = cast(Operand::Value, spec);
            apply(&mut t, Some(schema), v).map(|(_, v)| v)
        };
        assert_eq!(
            to(SchemaBuilder::date().build(), Value::Date(1), "int32").expect("date"),
            Value::Int32(1)
        );
        assert_eq!(
            to(SchemaBuilder::time().build(), Value::Time(1), "int64").expect("time"),
            Value::Int64(1)
        );
        assert_eq!(
            to(
                SchemaBuilder::decimal(0).build(),
                Value::Decimal(Decimal {
                    unscaled: 2_147_483_648,
                    scale: 0
                }),
                "int32"
            )
            .expect("decimal"),
            Value::Int32(i32::MIN)
        );
        assert_eq!(
            to(
                SchemaBuilder::time().build(),
                Value::Time(3_600_000),
                "string"
            )
            .expect("time text"),
            Value::String("01:00:00.000Z".into())
        );
        assert_eq!(
            to(
                SchemaBuilder::timestamp().build(),
                Value::Timestamp(i64::MAX),
                "float64"
            )
            .expect("big"),
            Value::Float64(9.223372036854776e18)
        );
    }

    #[test]
    fn nulls_pass_and_replace_null_with_default_picks_the_default() {
        let mut t = cast(Operand::Key, "foo:int64");
        let record = SourceRecord::new(SourceMap::new(), SourceMap::new(), "t", None, Value::Null);
        assert_eq!(
            t.applied(record.clone()).expect("null").expect("kept"),
            record
        );
        let magic = SchemaBuilder::new(SchemaType::Int32)
            .optional()
            .default_value(Value::Int32(10))
            .expect("default")
            .build();
        let schema = SchemaBuilder::struct_()
            .field("magic", magic)
            .expect("schema")
            .build();
        for (replace, expected) in [("true", Value::String("10".into())), ("false", Value::Null)] {
            let mut t = Cast::new(Operand::Value);
            Transformation::<SourceRecord>::configure(
                &mut t,
                &props_of(&[
                    ("spec", "magic:string"),
                    ("replace.null.with.default", replace),
                ]),
            )
            .expect("configured");
            let value = Struct::new(schema.clone()).expect("struct");
            let (out_schema, out) =
                apply(&mut t, Some(schema.clone()), Value::Struct(value)).expect("cast");
            let Value::Struct(out) = out else {
                panic!("not a struct")
            };
            assert_eq!(
                out.get_without_default("magic").expect("magic"),
                &expected,
                "{replace}"
            );
            assert_eq!(
                out_schema.and_then(|s| s.field("magic").and_then(|f| f.schema.default.clone())),
                Some(Value::String("10".into()))
            );
        }
    }
}
