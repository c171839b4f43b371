//! `org.apache.kafka.connect.transforms.MaskField$Key` / `$Value`: replaces fields with their
//! type's empty value (0, false, "", the epoch, an empty list or map), or with `replacement`
//! converted to the field's type.

use std::collections::BTreeSet;

use sluice_connect_api::{
    ConfigDef, ConfigType, ConnectError, ConnectRecord, Decimal, Importance, Props, Result, Schema,
    Struct, Transformation, Validator, Value, Verdict,
};

use super::java_numbers::{java_big_decimal, Number};
use super::support::{
    into_field_values, invalid, map_get, map_put, require_map, require_struct,
    with_replace_null_with_default, Operand, Settings, REPLACE_NULL_WITH_DEFAULT,
};

const PURPOSE: &str = "mask fields";

pub struct MaskField {
    operand: Operand,
    fields: Vec<String>,
    masked: BTreeSet<String>,
    replacement: Option<String>,
    replace_null_with_default: bool,
}

impl MaskField {
    pub fn new(operand: Operand) -> Self {
        Self {
            operand,
            fields: Vec::new(),
            masked: BTreeSet::new(),
            replacement: None,
            replace_null_with_default: true,
        }
    }

    fn definition() -> ConfigDef {
        with_replace_null_with_default(
            ConfigDef::new()
                .define("fields", ConfigType::List, None, Importance::High, "Names of fields to mask.")
                .validator(Validator::NonEmptyList)
                .define("replacement", ConfigType::String, None, Importance::Low, "Custom value replacement, that will be applied to all 'fields' values (numeric or non-empty string values only).")
                .nullable()
                .validator(Validator::NonEmptyString),
        )
    }

    /// The masked form of a value; `schema` is the field's, when there is one.
    fn mask(&self, value: &Value, schema: Option<&Schema>) -> Result<Value> {
        if value.is_null() {
            return Ok(Value::Null);
        }
        match &self.replacement {
            None => empty_of(value, schema),
            Some(r) => replaced(value, r, schema),
        }
    }
}

/// The empty value of a value's type.
fn empty_of(value: &Value, schema: Option<&Schema>) -> Result<Value> {
    Ok(match value {
        Value::Boolean(_) => Value::Boolean(false),
        Value::Int8(_) => Value::Int8(0),
        Value::Int16(_) => Value::Int16(0),
        Value::Int32(_) => Value::Int32(0),
        Value::Int64(_) => Value::Int64(0),
        Value::Float32(_) => Value::Float32(0.0),
        Value::Float64(_) => Value::Float64(0.0),
        Value::String(_) => Value::String(String::new()),
        // Zero at the field's own scale: the same number Kafka writes, in a value that fits.
        Value::Decimal(d) => Value::Decimal(Decimal {
            unscaled: 0,
            scale: schema
                .and_then(|s| s.decimal_scale().ok())
                .unwrap_or(d.scale),
        }),
        Value::Date(_) => Value::Date(0),
        Value::Time(_) => Value::Time(0),
        Value::Timestamp(_) => Value::Timestamp(0),
        Value::Array(_) => Value::Array(Vec::new()),
        Value::Map(_) => Value::Map(Vec::new()),
        other => {
            return Err(ConnectError::data(format!(
                "Cannot mask value of type: class {}",
                other.type_name()
            )))
        }
    })
}

/// `replacement` converted to a value's type: numbers through `BigDecimal` (truncated and
/// narrowed as Java narrows), strings as they are.
fn replaced(value: &Value, replacement: &str, schema: Option<&Schema>) -> Result<Value> {
    let number = || {
        java_big_decimal(replacement)
            .map(Number::Decimal)
            .ok_or_else(|| {
                ConnectError::data(format!(
                    "Unable to convert {replacement} (class java.lang.String) to a number"
                ))
            })
    };
    Ok(match value {
        Value::Int8(_) => Value::Int8(number()?.long() as i8),
        Value::Int16(_) => Value::Int16(number()?.long() as i16),
        Value::Int32(_) => Value::Int32(number()?.long() as i32),
        Value::Int64(_) => Value::Int64(number()?.long()),
        Value::Float32(_) => Value::Float32(number()?.double() as f32),
        Value::Float64(_) => Value::Float64(number()?.double()),
        Value::String(_) => Value::String(replacement.to_string()),
        Value::Decimal(d) => {
            let parsed = java_big_decimal(replacement).ok_or_else(|| {
                ConnectError::data(format!(
                    "Unable to convert {replacement} (class java.lang.String) to number"
                ))
            })?;
            let scale = schema
                .and_then(|s| s.decimal_scale().ok())
                .unwrap_or(d.scale);
            Value::Decimal(parsed.rescale(scale).ok_or_else(|| {
                ConnectError::data(format!(
                    "Unable to convert {replacement} (class java.lang.String) to number with scale {scale}"
                ))
            })?)
        }
        other => {
            return Err(ConnectError::data(format!(
                "Cannot mask value of type class {} with custom replacement.",
                other.type_name()
            )))
        }
    })
}

impl<R: ConnectRecord> Transformation<R> for MaskField {
    fn config_def(&self) -> ConfigDef {
        Self::definition()
    }

    fn configure(&mut self, props: &Props) -> Result<()> {
        let settings = Settings::parse(&Self::definition(), props)?;
        self.fields = settings.list("fields");
        self.masked = self.fields.iter().cloned().collect();
        self.replacement = props
            .contains_key("replacement")
            .then(|| settings.string("replacement"));
        if self.replacement.as_deref() == Some("") {
            return Err(invalid("replacement", "", "String must be non-empty"));
        }
        self.replace_null_with_default = settings.flag(REPLACE_NULL_WITH_DEFAULT);
        Ok(())
    }

    fn apply(&mut self, record: &mut R) -> Result<Verdict> {
        let (schema, value) = self.operand.take(record);
        match schema {
            None => {
                let mut entries = require_map(value, PURPOSE)?;
                for field in &self.fields {
                    let masked = match map_get(&entries, field) {
                        Some(v) => self.mask(v, None)?,
                        None => Value::Null,
                    };
                    map_put(&mut entries, field, masked);
                }
                self.operand.set(record, None, Value::Map(entries));
            }
            Some(schema) => {
                let value = require_struct(value, PURPOSE)?;
                let (struct_schema, values) =
                    into_field_values(value, self.replace_null_with_default);
                let mut out = Struct::new(struct_schema.clone())?;
                for (i, (f, original)) in struct_schema.fields.iter().zip(values).enumerate() {
                    let next = if self.masked.contains(&f.name) {
                        self.mask(&original, Some(&f.schema))?
                    } else {
                        original
                    };
                    out.set(i, next)?;
                }
                self.operand.set(record, Some(schema), Value::Struct(out));
            }
        }
        Ok(Verdict::Keep)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transforms::test_support::{map, on_value};
    use sluice_connect_api::{props_of, SchemaBuilder, SchemaRef, SchemaType, SourceRecord};

    fn mask(pairs: &[(&str, &str)], schema: Option<SchemaRef>, value: Value) -> Result<Value> {
        on_value(MaskField::new(Operand::Value), pairs, schema, value).map(|(_, v)| v)
    }

    #[test]
    fn schemaless_fields_become_their_empty_values() {
        let value = map(vec![
            ("magic", Value::Int32(42)),
            ("bool", Value::Boolean(true)),
            ("byte", Value::Int8(42)),
            ("long", Value::Int64(42)),
            ("double", Value::Float64(42.0)),
            ("string", Value::String("55.121.20.20".into())),
            ("list", Value::Array(vec![Value::Int32(42)])),
            ("map", map(vec![("key", Value::String("value".into()))])),
        ]);
        let out = mask(
            &[("fields", "bool,byte,long,double,string,list,map,absent")],
            None,
            value,
        )
        .expect("masked");
        assert_eq!(
            out,
            map(vec![
                ("magic", Value::Int32(42)),
                ("bool", Value::Boolean(false)),
                ("byte", Value::Int8(0)),
                ("long", Value::Int64(0)),
                ("double", Value::Float64(0.0)),
                ("string", Value::String(String::new())),
                ("list", Value::Array(vec![])),
                ("map", Value::Map(vec![])),
                ("absent", Value::Null),
            ])
        );
    }

    #[test]
    fn replacements_convert_to_the_fields_type() {
        let one = |field: Value, replacement: &str| {
            mask(
                &[("fields", "f"), ("replacement", replacement)],
                None,
                map(vec![("f", field)]),
            )
        };
        assert_eq!(
            one(Value::Int16(1), "123").expect("short"),
            map(vec![("f", Value::Int16(123))])
        );
        assert_eq!(
            one(Value::Int32(1), "12.7").expect("truncated"),
            map(vec![("f", Value::Int32(12))])
        );
        assert_eq!(
            one(Value::Int8(1), "300").expect("wrapped"),
            map(vec![("f", Value::Int8(44))])
        );
        assert_eq!(
            one(Value::Float32(1.0), "123.0").expect("float"),
            map(vec![("f", Value::Float32(123.0))])
        );
        assert_eq!(
            one(Value::Int32(1), "foo")
                .expect_err("not a number")
                .message(),
            "Unable to convert foo (class java.lang.String) to a number"
        );
        assert_eq!(
            one(Value::Boolean(true), "false")
                .expect_err("boolean")
                .message(),
            "Cannot mask value of type class java.lang.Boolean with custom replacement."
        );
    }

    #[test]
    fn structs_keep_their_schema_and_tombstones_are_refused() {
        let schema = SchemaBuilder::struct_()
            .field("decimal", SchemaBuilder::decimal(2).build())
            .and_then(|b| b.field("ts", SchemaBuilder::timestamp().build()))
            .and_then(|b| {
                b.field(
                    "with_default",
                    SchemaBuilder::new(SchemaType::String)
                        .optional()
                        .default_value(Value::String("default".into()))?
                        .build(),
                )
            })
            .expect("schema")
            .build();
        let value = Struct::new(schema.clone())
            .and_then(|s| {
                s.put(
                    "decimal",
                    Value::Decimal(Decimal {
                        unscaled: 4200,
                        scale: 2,
                    }),
                )
            })
            .and_then(|s| s.put("ts", Value::Timestamp(123)))
            .expect("value");
        let out = mask(
            &[
                ("fields", "decimal,ts,with_default"),
                ("replace.null.with.default", "false"),
            ],
            Some(schema.clone()),
            Value::Struct(value),
        )
        .expect("masked");
        let Value::Struct(out) = out else {
            panic!("not a struct")
        };
        assert_eq!(
            out.get("decimal").expect("d"),
            &Value::Decimal(Decimal {
                unscaled: 0,
                scale: 2
            })
        );
        assert_eq!(out.get("ts").expect("ts"), &Value::Timestamp(0));
        assert_eq!(
            out.get_without_default("with_default").expect("w"),
            &Value::Null
        );
        assert_eq!(
            mask(&[("fields", "decimal")], Some(schema), Value::Null)
                .expect_err("tombstone")
                .message(),
            "Only Struct objects supported for [mask fields], found: null"
        );
        let mut t = MaskField::new(Operand::Value);
        let e = Transformation::<SourceRecord>::configure(
            &mut t,
            &props_of(&[("fields", "a"), ("replacement", " ")]),
        )
        .expect_err("empty");
        assert_eq!(
            e.message(),
            "Invalid value  for configuration replacement: String must be non-empty"
        );
    }
}
