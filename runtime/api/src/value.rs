//! Connect values and structs, and their validation against a schema
//! (`ConnectSchema.validateValue`).

use std::sync::Arc;

use crate::error::{ConnectError, Result};
use crate::java_text;
use crate::schema::{logical, Schema, SchemaRef, SchemaType};

/// A decimal: `unscaled × 10^-scale`. The unscaled value fits 128 bits (38 digits).
///
/// Aligned to 8 bytes, not the 16 of `i128`: that alone made every [`Value`] 48 bytes with
/// padding instead of 32, and values are moved and stored by the million. Read `unscaled` by
/// value (`{ d.unscaled }` in a format string); a reference to it would be unaligned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(C, packed(8))]
pub struct Decimal {
    pub unscaled: i128,
    pub scale: i32,
}

impl Decimal {
    /// Big-endian two's-complement bytes of the unscaled value, as short as they can be (the
    /// encoding of Java's `BigInteger.toByteArray`).
    pub fn to_bytes(&self) -> Vec<u8> {
        let full = self.unscaled.to_be_bytes();
        let mut start = 0;
        while start < full.len() - 1 {
            let (b, next) = (full[start], full[start + 1]);
            let redundant = (b == 0x00 && next & 0x80 == 0) || (b == 0xff && next & 0x80 != 0);
            if !redundant {
                break;
            }
            start += 1;
        }
        full[start..].to_vec()
    }

    /// Reads the unscaled value from big-endian two's-complement bytes.
    pub fn from_bytes(bytes: &[u8], scale: i32) -> Result<Self> {
        if bytes.is_empty() || bytes.len() > 16 {
            return Err(ConnectError::data(format!(
                "Decimal of {} bytes is outside the supported 1 to 16",
                bytes.len()
            )));
        }
        let fill = if bytes[0] & 0x80 != 0 { 0xff } else { 0x00 };
        let mut full = [fill; 16];
        full[16 - bytes.len()..].copy_from_slice(bytes);
        Ok(Self {
            unscaled: i128::from_be_bytes(full),
            scale,
        })
    }
}

impl std::fmt::Display for Decimal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.scale <= 0 {
            let zeros = "0".repeat((-self.scale) as usize);
            let unscaled = self.unscaled;
            return write!(f, "{unscaled}{zeros}");
        }
        let digits = self.unscaled.unsigned_abs().to_string();
        let scale = self.scale as usize;
        let padded = format!("{digits:0>width$}", width = scale + 1);
        let (int, frac) = padded.split_at(padded.len() - scale);
        let sign = if self.unscaled < 0 { "-" } else { "" };
        write!(f, "{sign}{int}.{frac}")
    }
}

impl Decimal {
    /// Parses decimal text as Java's `new BigDecimal(String)` does: an optional sign, digits with
    /// an optional point, an optional exponent; the scale is the digits after the point less the
    /// exponent (`1.50` has scale 2, `1.5E2` scale -1). `None` for anything else, or beyond 38
    /// digits.
    pub fn parse(text: &str) -> Option<Decimal> {
        let (negative, body) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text.strip_prefix('+').unwrap_or(text)),
        };
        let (mantissa, exponent) = match body.find(['e', 'E']) {
            Some(i) => (&body[..i], Some(&body[i + 1..])),
            None => (body, None),
        };
        let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
        let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if !all_digits(int) || !all_digits(frac) || (int.is_empty() && frac.is_empty()) {
            return None;
        }
        let exponent: i64 = match exponent {
            None => 0,
            Some(e) => {
                let digits = e.strip_prefix(['+', '-']).unwrap_or(e);
                if digits.is_empty() || !all_digits(digits) {
                    return None;
                }
                e.parse().ok()?
            }
        };
        let unscaled: i128 = format!("{int}{frac}").parse().ok()?;
        let scale = i32::try_from(frac.len() as i64 - exponent).ok()?;
        Some(Decimal {
            unscaled: if negative { -unscaled } else { unscaled },
            scale,
        })
    }

    /// The same number at `scale`, when that loses no digit.
    pub fn rescale(self, scale: i32) -> Option<Decimal> {
        let diff = i64::from(scale) - i64::from(self.scale);
        let factor = 10i128.checked_pow(u32::try_from(diff.unsigned_abs()).ok()?)?;
        let unscaled = if diff >= 0 {
            self.unscaled.checked_mul(factor)?
        } else if self.unscaled % factor == 0 {
            self.unscaled / factor
        } else {
            return None;
        };
        Some(Decimal { unscaled, scale })
    }
}

impl Decimal {
    /// The text Java's `BigDecimal.toString` gives: plain unless the exponent is large or the
    /// number very small, then scientific (`1E+3`, `1.5E-9`).
    pub fn to_java_string(&self) -> String {
        let digits = self.unscaled.unsigned_abs().to_string();
        let adjusted =
            i64::from(self.scale).checked_neg().unwrap_or(i64::MAX) + digits.len() as i64 - 1;
        if self.scale >= 0 && adjusted >= -6 {
            return self.to_string();
        }
        let sign = if self.unscaled < 0 { "-" } else { "" };
        let (first, rest) = digits.split_at(1);
        let point = if rest.is_empty() {
            String::new()
        } else {
            format!(".{rest}")
        };
        let exp_sign = if adjusted >= 0 { "+" } else { "-" };
        format!("{sign}{first}{point}E{exp_sign}{}", adjusted.unsigned_abs())
    }
}

/// A value in the Connect data model.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Int8(i8),
    Int16(i16),
    Int32(i32),
    Int64(i64),
    Float32(f32),
    Float64(f64),
    Boolean(bool),
    String(String),
    Bytes(Vec<u8>),
    Array(Vec<Value>),
    /// Entries in order; keys need not be strings.
    Map(Vec<(Value, Value)>),
    Struct(Struct),
    /// The `Decimal` logical type.
    Decimal(Decimal),
    /// The `Date` logical type: days since the epoch.
    Date(i32),
    /// The `Time` logical type: milliseconds since midnight.
    Time(i32),
    /// The `Timestamp` logical type: milliseconds since the epoch.
    Timestamp(i64),
}

// Every struct field, list item and converter result is a `Value`; keep it four words.
#[cfg(target_pointer_width = "64")]
const _: () = assert!(std::mem::size_of::<Value>() == 32);

impl Value {
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// `n` nulls: the values a struct starts with. Filled without cloning a null for each, which
    /// `vec![Value::Null; n]` does (a call per field, for every record read).
    pub fn nulls(n: usize) -> Vec<Value> {
        let mut values = Vec::with_capacity(n);
        values.resize_with(n, || Value::Null);
        values
    }

    /// The string form of a value, as Java's `toString` would give it; `None` for null.
    pub fn to_java_string(&self) -> Option<String> {
        (!self.is_null()).then(|| {
            let mut text = String::new();
            self.write_java_text(&mut text);
            text
        })
    }

    /// Appends the text of [`Value::to_java_string`] to `out` (`null` for null): a line of
    /// many values built in one buffer.
    pub fn write_java_text(&self, out: &mut String) {
        java_text::write(out, self);
    }

    /// The Java class name Connect would report for this value, for error messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Int8(_) => "java.lang.Byte",
            Value::Int16(_) => "java.lang.Short",
            Value::Int32(_) => "java.lang.Integer",
            Value::Int64(_) => "java.lang.Long",
            Value::Float32(_) => "java.lang.Float",
            Value::Float64(_) => "java.lang.Double",
            Value::Boolean(_) => "java.lang.Boolean",
            Value::String(_) => "java.lang.String",
            Value::Bytes(_) => "[B",
            Value::Array(_) => "java.util.ArrayList",
            Value::Map(_) => "java.util.HashMap",
            Value::Struct(_) => "org.apache.kafka.connect.data.Struct",
            Value::Decimal(_) => "java.math.BigDecimal",
            Value::Date(_) | Value::Time(_) | Value::Timestamp(_) => "java.util.Date",
        }
    }
}

/// A struct value: its schema and one value per field (`Value::Null` when unset).
#[derive(Debug, Clone, PartialEq)]
pub struct Struct {
    schema: SchemaRef,
    values: Vec<Value>,
}

impl Struct {
    pub fn new(schema: SchemaRef) -> Result<Self> {
        if schema.schema_type != SchemaType::Struct {
            return Err(ConnectError::data(
                "Not a struct schema: ".to_string() + schema.schema_type.name(),
            ));
        }
        let values = Value::nulls(schema.fields.len());
        Ok(Self { schema, values })
    }

    pub fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    /// Sets a field, checking the value against the field's schema.
    pub fn put(mut self, field: &str, value: Value) -> Result<Self> {
        let f = self
            .schema
            .field(field)
            .ok_or_else(|| ConnectError::data(format!("{field} is not a valid field name")))?;
        validate_at(&f.schema, &value, field)?;
        let index = f.index;
        self.values[index] = value;
        Ok(self)
    }

    /// A field's value, falling back to the field's default when unset.
    pub fn get(&self, field: &str) -> Result<&Value> {
        let f = self
            .schema
            .field(field)
            .ok_or_else(|| ConnectError::data(format!("{field} is not a valid field name")))?;
        match (&self.values[f.index], &f.schema.default) {
            (Value::Null, Some(default)) => Ok(default),
            (value, _) => Ok(value),
        }
    }

    /// A struct of `schema` holding `values` in field order, each checked as
    /// [`put`](Self::put) checks it: what a transform rebuilding a struct uses to move its values
    /// in at once.
    pub fn from_values(schema: SchemaRef, values: Vec<Value>) -> Result<Self> {
        Self::from_checked_values(schema, values, |_| None)
    }

    /// [`from_values`](Self::from_values) for a transform rebuilding a struct from another's
    /// values. `checked_against(i)` is the schema value `i` was checked against when it was put
    /// in its struct: a value checked against this very field schema (the same `Arc`) is not
    /// walked again, only a null in it is refused where the field requires a value. Any
    /// other value is checked in full.
    pub fn from_checked_values<'a>(
        schema: SchemaRef,
        values: Vec<Value>,
        checked_against: impl Fn(usize) -> Option<&'a SchemaRef>,
    ) -> Result<Self> {
        if schema.schema_type != SchemaType::Struct {
            return Err(ConnectError::data(
                "Not a struct schema: ".to_string() + schema.schema_type.name(),
            ));
        }
        if values.len() != schema.fields.len() {
            return Err(ConnectError::data(format!(
                "{} values for a struct of {} fields",
                values.len(),
                schema.fields.len()
            )));
        }
        for (i, (field, value)) in schema.fields.iter().zip(&values).enumerate() {
            let checked = checked_against(i).is_some_and(|s| Arc::ptr_eq(s, &field.schema));
            if !checked || value.is_null() {
                validate_at(&field.schema, value, &field.name)?;
            }
        }
        Ok(Self { schema, values })
    }

    /// Sets the field at `index` (schema order), checking the value as [`put`](Self::put) does;
    /// spares the lookup by name when a struct is filled field by field.
    pub fn set(&mut self, index: usize, value: Value) -> Result<()> {
        let f = self
            .schema
            .fields
            .get(index)
            .ok_or_else(|| ConnectError::data(format!("No field at position {index}")))?;
        validate_at(&f.schema, &value, &f.name)?;
        self.values[index] = value;
        Ok(())
    }

    /// The stored values in schema order, taking the struct apart without copying them.
    pub fn into_values(self) -> Vec<Value> {
        self.values
    }

    /// The schema and the stored values in its order: [`into_values`](Self::into_values) for a
    /// caller that still reads the schema, with no second reference counted.
    pub fn into_parts(self) -> (SchemaRef, Vec<Value>) {
        (self.schema, self.values)
    }

    /// A field's value as stored, null when unset even if the field has a default (Kafka's
    /// `getWithoutDefault`).
    pub fn get_without_default(&self, field: &str) -> Result<&Value> {
        let f = self
            .schema
            .field(field)
            .ok_or_else(|| ConnectError::data(format!("{field} is not a valid field name")))?;
        Ok(&self.values[f.index])
    }

    /// The value stored for the field at `index` in the schema (null when out of range).
    pub fn value_at(&self, index: usize) -> &Value {
        self.values.get(index).unwrap_or(&Value::Null)
    }

    /// Every field with its value, in schema order.
    pub fn fields(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.schema
            .fields
            .iter()
            .map(move |f| (f.name.as_str(), &self.values[f.index]))
    }

    /// Checks that every required field is set (or has a default).
    pub fn validate(&self) -> Result<()> {
        for f in &self.schema.fields {
            let value = match (self.value_at(f.index), &f.schema.default) {
                (Value::Null, Some(default)) => default,
                (value, _) => value,
            };
            validate_at(&f.schema, value, &f.name)?;
        }
        Ok(())
    }
}

/// Checks `value` against `schema`, as `ConnectSchema.validateValue` does.
pub fn validate(schema: &Schema, value: &Value) -> Result<()> {
    validate_at(schema, value, "")
}

fn validate_at(schema: &Schema, value: &Value, path: &str) -> Result<()> {
    let at = |what: String| {
        if path.is_empty() {
            ConnectError::data(what)
        } else {
            ConnectError::data(format!("{what} for field: \"{path}\""))
        }
    };
    if value.is_null() {
        return if schema.optional || schema.default.is_some() {
            Ok(())
        } else if path.is_empty() {
            Err(ConnectError::data(format!(
                "Invalid value: null used for required value, schema type: {}",
                schema.schema_type
            )))
        } else {
            Err(ConnectError::data(format!(
                "Invalid value: null used for required field: \"{path}\", schema type: {}",
                schema.schema_type
            )))
        };
    }
    let ok = match (schema.logical(), schema.schema_type, value) {
        (Some(logical::DECIMAL), _, Value::Decimal(d)) => {
            let scale = schema.decimal_scale()?;
            if d.scale != scale {
                return Err(at(format!(
                    "Decimal scale {} does not match the schema's {scale}",
                    d.scale
                )));
            }
            true
        }
        (Some(logical::DATE), _, Value::Date(_)) => true,
        (Some(logical::TIME), _, Value::Time(ms)) => (0..86_400_000).contains(ms),
        (Some(logical::TIMESTAMP), _, Value::Timestamp(_)) => true,
        (Some(_), _, _) => false,
        (None, SchemaType::Int8, Value::Int8(_))
        | (None, SchemaType::Int16, Value::Int16(_))
        | (None, SchemaType::Int32, Value::Int32(_))
        | (None, SchemaType::Int64, Value::Int64(_))
        | (None, SchemaType::Float32, Value::Float32(_))
        | (None, SchemaType::Float64, Value::Float64(_))
        | (None, SchemaType::Boolean, Value::Boolean(_))
        | (None, SchemaType::String, Value::String(_))
        | (None, SchemaType::Bytes, Value::Bytes(_)) => true,
        (None, SchemaType::Array, Value::Array(items)) => {
            let items_schema = schema
                .value_schema
                .as_ref()
                .ok_or_else(|| at("Array schema without items".into()))?;
            for item in items {
                validate_at(items_schema, item, path)?;
            }
            true
        }
        (None, SchemaType::Map, Value::Map(entries)) => {
            let keys = schema
                .key_schema
                .as_ref()
                .ok_or_else(|| at("Map schema without keys".into()))?;
            let values = schema
                .value_schema
                .as_ref()
                .ok_or_else(|| at("Map schema without values".into()))?;
            for (k, v) in entries {
                validate_at(keys, k, path)?;
                validate_at(values, v, path)?;
            }
            true
        }
        (None, SchemaType::Struct, Value::Struct(s)) => {
            // Usually the very same schema: a pointer comparison spares the deep one.
            if !std::ptr::eq(s.schema().as_ref(), schema) && s.schema().as_ref() != schema {
                return Err(at("Struct schemas do not match.".to_string()));
            }
            s.validate()?;
            true
        }
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        let expected = schema.logical().unwrap_or(schema.schema_type.name());
        Err(at(format!(
            "Invalid Java object for schema \"{}\" with type {expected}: class {}",
            schema.name.as_deref().unwrap_or("null"),
            value.type_name()
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::{Schema, SchemaBuilder};

    fn person() -> SchemaRef {
        SchemaBuilder::struct_()
            .name("person")
            .field("id", Schema::int64())
            .and_then(|b| b.field("name", Schema::optional_string()))
            .and_then(|b| b.field("born", SchemaBuilder::date().optional().build()))
            .and_then(|b| {
                b.field(
                    "score",
                    SchemaBuilder::new(SchemaType::Int32)
                        .default_value(Value::Int32(7))?
                        .build(),
                )
            })
            .expect("schema")
            .build()
    }

    #[test]
    fn structs_check_their_fields() {
        let s = Struct::new(person()).expect("struct");
        assert!(s.validate().is_err(), "id is required");
        let s = s.put("id", Value::Int64(1)).expect("put");
        assert!(s.validate().is_ok());
        assert_eq!(s.get("score").expect("default"), &Value::Int32(7));
        let wrong = Struct::new(person())
            .expect("struct")
            .put("id", Value::String("x".into()));
        assert_eq!(
            wrong.expect_err("wrong type").to_string(),
            "data error: Invalid Java object for schema \"null\" with type INT64: class java.lang.String for field: \"id\""
        );
        assert!(Struct::new(person())
            .expect("struct")
            .put("nope", Value::Null)
            .is_err());
    }

    #[test]
    fn rebuilt_structs_check_what_was_not_checked_against_the_same_schema() {
        let schema = person();
        let field_schema = |i: usize| &schema.fields[i].schema;
        let values = || vec![Value::Int64(1), Value::Null, Value::Null, Value::Int32(3)];
        let rebuilt =
            Struct::from_checked_values(Arc::clone(&schema), values(), |i| Some(field_schema(i)))
                .expect("checked values");
        assert_eq!(rebuilt.get("id").expect("id"), &Value::Int64(1));
        // A null is refused where a value is required, even in a value said to be checked.
        let mut missing = values();
        missing[0] = Value::Null;
        assert!(
            Struct::from_checked_values(Arc::clone(&schema), missing, |i| Some(field_schema(i)))
                .is_err()
        );
        // A value checked against another schema (here: int32 for an int64 field) is checked.
        let mut other = values();
        other[0] = Value::Int32(1);
        let int32 = Schema::int32();
        let err = Struct::from_checked_values(Arc::clone(&schema), other, |i| {
            if i == 0 {
                Some(&int32)
            } else {
                Some(field_schema(i))
            }
        })
        .expect_err("an int32 in an int64 field");
        assert!(err.to_string().contains("field: \"id\""), "{err}");
    }

    #[test]
    fn logical_types_need_their_own_values() {
        let date = SchemaBuilder::date().build();
        assert!(validate(&date, &Value::Date(19_000)).is_ok());
        assert!(validate(&date, &Value::Int32(19_000)).is_err());
        let time = SchemaBuilder::time().build();
        assert!(validate(&time, &Value::Time(86_400_000)).is_err());
        let dec = SchemaBuilder::decimal(2).build();
        assert!(validate(
            &dec,
            &Value::Decimal(Decimal {
                unscaled: 1050,
                scale: 2
            })
        )
        .is_ok());
        assert!(validate(
            &dec,
            &Value::Decimal(Decimal {
                unscaled: 1050,
                scale: 3
            })
        )
        .is_err());
    }

    #[test]
    fn containers_check_their_elements() {
        let list = SchemaBuilder::array(Schema::int32()).build();
        assert!(validate(&list, &Value::Array(vec![Value::Int32(1), Value::Int32(2)])).is_ok());
        assert!(validate(&list, &Value::Array(vec![Value::Int32(1), Value::Null])).is_err());
        let map = SchemaBuilder::map(Schema::string(), Schema::optional_string()).build();
        assert!(validate(
            &map,
            &Value::Map(vec![(Value::String("k".into()), Value::Null)])
        )
        .is_ok());
        assert!(validate(&map, &Value::Map(vec![(Value::Int8(1), Value::Null)])).is_err());
        assert!(validate(&Schema::int32(), &Value::Null).is_err());
        assert!(validate(&Schema::optional_string(), &Value::Null).is_ok());
    }

    #[test]
    fn decimals_encode_like_java_big_integers() {
        for (unscaled, bytes) in [
            (0i128, vec![0u8]),
            (127, vec![0x7f]),
            (128, vec![0x00, 0x80]),
            (-1, vec![0xff]),
            (-129, vec![0xff, 0x7f]),
            (102_345, vec![0x01, 0x8f, 0xc9]),
        ] {
            let d = Decimal { unscaled, scale: 4 };
            assert_eq!(d.to_bytes(), bytes, "{unscaled}");
            assert_eq!(Decimal::from_bytes(&bytes, 4).expect("decode"), d);
        }
        assert_eq!(
            Decimal {
                unscaled: 102_345,
                scale: 4
            }
            .to_string(),
            "10.2345"
        );
        assert_eq!(
            Decimal {
                unscaled: -5,
                scale: 2
            }
            .to_string(),
            "-0.05"
        );
        assert_eq!(
            Decimal {
                unscaled: 12,
                scale: -2
            }
            .to_string(),
            "1200"
        );
        assert!(Decimal::from_bytes(&[], 0).is_err());
    }

    #[test]
    fn numbers_print_as_java_prints_them() {
        let text = |v: Value| v.to_java_string().unwrap_or_default();
        for (value, expected) in [
            (Value::Float64(42.0), "42.0"),
            (Value::Float64(0.001), "0.001"),
            (Value::Float64(1234567.0), "1234567.0"),
            (Value::Float64(1e7), "1.0E7"),
            (Value::Float64(1e-4), "1.0E-4"),
            (Value::Float64(-64.5), "-64.5"),
            (Value::Float64(i64::MAX as f64), "9.223372036854776E18"),
            (Value::Float64(-0.0), "-0.0"),
            (Value::Float64(f64::NAN), "NaN"),
            (Value::Float64(f64::NEG_INFINITY), "-Infinity"),
            (Value::Float32(42.125), "42.125"),
            (Value::Float32(0.1), "0.1"),
            (Value::Float32(3.4028235e38), "3.4028235E38"),
            (Value::Float64(100.0), "100.0"),
            (Value::Float64(123.456), "123.456"),
            (Value::Float64(0.00123), "0.00123"),
            (Value::Float64(9_999_999.5), "9999999.5"),
            (Value::Float32(1e10), "1.0E10"),
            (Value::Float64(-2.5e-7), "-2.5E-7"),
            (Value::Int8(-128), "-128"),
            (Value::Int32(0), "0"),
            (Value::Int64(i64::MIN), "-9223372036854775808"),
            (Value::Int64(i64::MAX), "9223372036854775807"),
            (Value::Boolean(false), "false"),
        ] {
            assert_eq!(text(value.clone()), expected, "{value:?}");
        }
        for (unscaled, scale, expected) in [
            (42, 0, "42"),
            (4200, 2, "42.00"),
            (1, -3, "1E+3"),
            (12, -2, "1.2E+3"),
            (15, 10, "1.5E-9"),
            (-5, 2, "-0.05"),
            (1, 7, "1E-7"),
            (1, 6, "0.000001"),
        ] {
            assert_eq!(
                text(Value::Decimal(Decimal { unscaled, scale })),
                expected,
                "{unscaled}e-{scale}"
            );
        }
    }

    #[test]
    fn containers_print_as_java_prints_them_and_the_writer_matches_the_string() {
        let person = Struct::new(person())
            .and_then(|s| s.put("id", Value::Int64(1)))
            .and_then(|s| s.put("born", Value::Date(3)))
            .expect("struct");
        let list = Value::Array(vec![
            Value::Float32(1.5),
            Value::Null,
            Value::String("a b".into()),
        ]);
        let map = Value::Map(vec![
            (Value::String("k".into()), Value::Boolean(true)),
            (Value::Int8(2), Value::Null),
        ]);
        for (value, expected) in [
            // Unset fields are left out, even one with a default, as Kafka's `Struct.toString`.
            (
                Value::Struct(person),
                "Struct{id=1,born=Sun Jan 04 00:00:00 UTC 1970}",
            ),
            (list, "[1.5, null, a b]"),
            (map, "{k=true, 2=null}"),
            (Value::Bytes(b"raw".to_vec()), "raw"),
        ] {
            assert_eq!(value.to_java_string().as_deref(), Some(expected));
            let mut line = "> ".to_string();
            value.write_java_text(&mut line);
            assert_eq!(line, format!("> {expected}"));
        }
        assert_eq!(Value::Null.to_java_string(), None);
        let mut line = String::new();
        Value::Null.write_java_text(&mut line);
        assert_eq!(line, "null");
    }

    #[test]
    fn schema_builders_refuse_nonsense() {
        assert!(SchemaBuilder::new(SchemaType::Int32)
            .field("x", Schema::int32())
            .is_err());
        let twice = SchemaBuilder::struct_()
            .field("a", Schema::int32())
            .and_then(|b| b.field("a", Schema::int32()));
        assert!(twice.is_err());
        assert!(SchemaBuilder::new(SchemaType::Int32)
            .default_value(Value::String("x".into()))
            .is_err());
    }
}
