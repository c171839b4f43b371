//! Connect values and structs, and their validation against a schema
//! (`ConnectSchema.validateValue`).

use crate::error::{ConnectError, Result};
use crate::schema::{logical, Schema, SchemaRef, SchemaType};

/// A decimal: `unscaled × 10^-scale`. The unscaled value fits 128 bits (38 digits).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
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
            return write!(f, "{}{zeros}", self.unscaled);
        }
        let digits = self.unscaled.unsigned_abs().to_string();
        let scale = self.scale as usize;
        let padded = format!("{digits:0>width$}", width = scale + 1);
        let (int, frac) = padded.split_at(padded.len() - scale);
        let sign = if self.unscaled < 0 { "-" } else { "" };
        write!(f, "{sign}{int}.{frac}")
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

impl Value {
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// The string form of a value, as Java's `toString` would give it; `None` for null.
    pub fn to_java_string(&self) -> Option<String> {
        Some(match self {
            Value::Null => return None,
            Value::Int8(n) => n.to_string(),
            Value::Int16(n) => n.to_string(),
            Value::Int32(n) | Value::Date(n) | Value::Time(n) => n.to_string(),
            Value::Int64(n) | Value::Timestamp(n) => n.to_string(),
            Value::Float32(n) => n.to_string(),
            Value::Float64(n) => n.to_string(),
            Value::Boolean(b) => b.to_string(),
            Value::String(s) => s.clone(),
            Value::Bytes(b) => String::from_utf8_lossy(b).into_owned(),
            Value::Decimal(d) => d.to_string(),
            Value::Array(items) => format!(
                "[{}]",
                items
                    .iter()
                    .map(|v| v.to_java_string().unwrap_or_else(|| "null".into()))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Value::Map(entries) => format!(
                "{{{}}}",
                entries
                    .iter()
                    .map(|(k, v)| format!(
                        "{}={}",
                        k.to_java_string().unwrap_or_else(|| "null".into()),
                        v.to_java_string().unwrap_or_else(|| "null".into())
                    ))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Value::Struct(s) => format!(
                "Struct{{{}}}",
                s.fields()
                    .filter(|(_, v)| !v.is_null())
                    .map(|(k, v)| format!("{k}={}", v.to_java_string().unwrap_or_default()))
                    .collect::<Vec<_>>()
                    .join(",")
            ),
        })
    }

    /// The Java class name Connect would report for this value, for error messages.
    fn type_name(&self) -> &'static str {
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
        let values = vec![Value::Null; schema.fields.len()];
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
        } else {
            Err(at("Invalid value: null used for required field".to_string()))
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
