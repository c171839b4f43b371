//! Connect values to JSON text, written straight into a buffer (no tree of maps per record), as
//! JsonConverter writes them: bytes and BASE64 decimals as base64, NUMERIC decimals as Java
//! prints a `BigDecimal`, maps with string keys as objects and others as `[key, value]` pairs.

use sluice_connect_api::schema::logical;
use sluice_connect_api::{base64, ConnectError, Result, Schema, SchemaType, Value};

/// How values are written.
#[derive(Debug, Clone, Copy)]
pub struct Writer {
    pub numeric_decimals: bool,
    pub replace_null_with_default: bool,
}

/// Appends `value`'s JSON text.
fn write_text<T: serde::Serialize + ?Sized>(out: &mut Vec<u8>, value: &T) -> Result<()> {
    serde_json::to_writer(out, value).map_err(|e| ConnectError::data(e.to_string()))
}

impl Writer {
    /// Decimals in base64, nulls kept: how schema defaults are written.
    pub const CANONICAL: Writer = Writer {
        numeric_decimals: false,
        replace_null_with_default: false,
    };

    /// Writes `value` of `schema` into `out`. The value was checked against its schema before.
    pub fn write(&self, out: &mut Vec<u8>, schema: Option<&Schema>, value: &Value) -> Result<()> {
        let value = match (value, schema) {
            (Value::Null, Some(s)) => match &s.default {
                Some(default) if self.replace_null_with_default => default,
                _ if s.optional => value,
                _ => {
                    return Err(ConnectError::data(
                        "Conversion error: null value for field that is required and has no default value",
                    ))
                }
            },
            _ => value,
        };
        match value {
            Value::Null => out.extend_from_slice(b"null"),
            Value::Int8(n) => write_text(out, n)?,
            Value::Int16(n) => write_text(out, n)?,
            Value::Int32(n) | Value::Date(n) | Value::Time(n) => write_text(out, n)?,
            Value::Int64(n) | Value::Timestamp(n) => write_text(out, n)?,
            Value::Float32(n) => write_text(out, n)?,
            Value::Float64(n) => write_text(out, n)?,
            Value::Boolean(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
            Value::String(s) => write_text(out, s.as_str())?,
            Value::Bytes(b) => {
                out.push(b'"');
                out.extend_from_slice(base64::encode(b).as_bytes());
                out.push(b'"');
            }
            // Exact, as Java prints a BigDecimal: trailing zeros kept, `1E+2` for scale -2.
            Value::Decimal(d) if self.numeric_decimals => {
                out.extend_from_slice(d.to_java_string().as_bytes())
            }
            Value::Decimal(d) => {
                if let Some(scale) = schema
                    .filter(|s| s.logical() == Some(logical::DECIMAL))
                    .and_then(|s| s.decimal_scale().ok())
                    .filter(|scale| *scale != d.scale)
                {
                    return Err(ConnectError::data(format!(
                        "Decimal value has mismatching scale for given Decimal schema. Schema has scale {scale}, value has scale {}.",
                        d.scale
                    )));
                }
                out.push(b'"');
                out.extend_from_slice(base64::encode(&d.to_bytes()).as_bytes());
                out.push(b'"');
            }
            Value::Array(items) => {
                let items_schema = schema.and_then(|s| s.value_schema.as_deref());
                out.push(b'[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    self.write(out, items_schema, item)?;
                }
                out.push(b']');
            }
            Value::Map(entries) => {
                let keys = schema.and_then(|s| s.key_schema.as_deref());
                let values = schema.and_then(|s| s.value_schema.as_deref());
                let string_keys = match keys {
                    Some(k) => k.schema_type == SchemaType::String,
                    None => entries.iter().all(|(k, _)| matches!(k, Value::String(_))),
                };
                if string_keys {
                    out.push(b'{');
                    let mut first = true;
                    for (k, v) in entries {
                        let Value::String(k) = k else { continue };
                        if !first {
                            out.push(b',');
                        }
                        first = false;
                        write_text(out, k.as_str())?;
                        out.push(b':');
                        self.write(out, values, v)?;
                    }
                    out.push(b'}');
                } else {
                    out.push(b'[');
                    for (i, (k, v)) in entries.iter().enumerate() {
                        if i > 0 {
                            out.push(b',');
                        }
                        out.push(b'[');
                        self.write(out, keys, k)?;
                        out.push(b',');
                        self.write(out, values, v)?;
                        out.push(b']');
                    }
                    out.push(b']');
                }
            }
            Value::Struct(s) => {
                out.push(b'{');
                for (i, field) in s.schema().fields.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    write_text(out, field.name.as_str())?;
                    out.push(b':');
                    // A null takes the field's default only with replace.null.with.default.
                    self.write(out, Some(&field.schema), s.value_at(field.index))?;
                }
                out.push(b'}');
            }
        }
        Ok(())
    }
}
