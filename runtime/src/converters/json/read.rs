//! JSON payloads to Connect values, with JsonConverter's messages. Payloads whose schema holds a
//! Decimal are read from their raw text, so a number like `1.23456789123456789` keeps every digit
//! instead of passing through a double.

use std::marker::PhantomData;
use std::sync::Arc;

use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::Value as Json;
use sluice_connect_api::schema::logical;
use sluice_connect_api::{
    base64, ConnectError, Decimal, Result, Schema, SchemaRef, SchemaType, Struct, Value,
};

const MS_PER_DAY: i64 = 86_400_000;

/// Reads payloads of a schema.
#[derive(Debug, Clone, Copy)]
pub struct Reader {
    /// A null with a default becomes the default (else it stays null).
    pub replace_null_with_default: bool,
}

impl Reader {
    /// What schema defaults are read with.
    pub const CANONICAL: Reader = Reader {
        replace_null_with_default: true,
    };

    /// A null for `schema`: its default, or null when optional.
    fn null_for(&self, schema: &Schema) -> Result<Value> {
        match &schema.default {
            Some(d) if self.replace_null_with_default => Ok(d.clone()),
            _ if schema.optional => Ok(Value::Null),
            _ => Err(ConnectError::data(format!(
                "Invalid null value for required {} field",
                schema.schema_type
            ))),
        }
    }

    /// Converts a JSON payload to a value of `schema`.
    pub fn value(&self, schema: &SchemaRef, json: &Json) -> Result<Value> {
        if json.is_null() {
            return self.null_for(schema);
        }
        let mismatch = || {
            ConnectError::data(format!(
                "Invalid JSON for {} schema: {json}",
                schema.logical().unwrap_or(schema.schema_type.name())
            ))
        };
        let int = || json.as_i64().ok_or_else(mismatch);
        Ok(match (schema.logical(), schema.schema_type) {
            (Some(logical::DECIMAL), _) => {
                let scale = schema.decimal_scale()?;
                match json {
                    Json::String(s) => Value::Decimal(decimal_from_base64(s, scale)?),
                    Json::Number(n) => Value::Decimal(decimal_from_text(&n.to_string(), scale)?),
                    other => return Err(decimal_type_error(other)),
                }
            }
            (Some(logical::DATE), _) => Value::Date(
                json.as_i64()
                    .and_then(|n| i32::try_from(n).ok())
                    .ok_or_else(|| logical_type_error("Date", "integer", json))?,
            ),
            (Some(logical::TIME), _) => {
                let ms = json
                    .as_i64()
                    .and_then(|n| i32::try_from(n).ok())
                    .ok_or_else(|| logical_type_error("Time", "integer", json))?;
                if !(0..MS_PER_DAY as i32).contains(&ms) {
                    return Err(ConnectError::data(
                        "Time values must use number of milliseconds greater than 0 and less than 86400000",
                    ));
                }
                Value::Time(ms)
            }
            (Some(logical::TIMESTAMP), _) => Value::Timestamp(
                json.as_i64()
                    .ok_or_else(|| logical_type_error("Timestamp", "integral", json))?,
            ),
            (_, SchemaType::Int8) => Value::Int8(i8::try_from(int()?).map_err(|_| mismatch())?),
            (_, SchemaType::Int16) => Value::Int16(i16::try_from(int()?).map_err(|_| mismatch())?),
            (_, SchemaType::Int32) => Value::Int32(i32::try_from(int()?).map_err(|_| mismatch())?),
            (_, SchemaType::Int64) => Value::Int64(int()?),
            (_, SchemaType::Float32) => Value::Float32(json.as_f64().ok_or_else(mismatch)? as f32),
            (_, SchemaType::Float64) => Value::Float64(json.as_f64().ok_or_else(mismatch)?),
            (_, SchemaType::Boolean) => Value::Boolean(json.as_bool().ok_or_else(mismatch)?),
            (_, SchemaType::String) => {
                Value::String(json.as_str().ok_or_else(mismatch)?.to_string())
            }
            (_, SchemaType::Bytes) => Value::Bytes(
                json.as_str()
                    .and_then(base64::decode)
                    .ok_or_else(|| ConnectError::data("Invalid bytes field"))?,
            ),
            (_, SchemaType::Array) => {
                let items = schema.value_schema.as_ref().ok_or_else(mismatch)?;
                let array = json.as_array().ok_or_else(mismatch)?;
                Value::Array(
                    array
                        .iter()
                        .map(|j| self.value(items, j))
                        .collect::<Result<_>>()?,
                )
            }
            (_, SchemaType::Map) => {
                let (keys, values) = map_schemas(schema)?;
                if keys.schema_type == SchemaType::String {
                    let Json::Object(object) = json else {
                        return Err(string_map_error(json));
                    };
                    Value::Map(
                        object
                            .iter()
                            .map(|(k, v)| Ok((Value::String(k.clone()), self.value(values, v)?)))
                            .collect::<Result<_>>()?,
                    )
                } else {
                    let Json::Array(pairs) = json else {
                        return Err(tuple_map_error(json));
                    };
                    let mut entries = Vec::with_capacity(pairs.len());
                    for pair in pairs {
                        let Json::Array(kv) = pair else {
                            return Err(map_entry_error(pair));
                        };
                        let [k, v] = kv.as_slice() else {
                            return Err(map_entry_length_error(kv.len()));
                        };
                        entries.push((self.value(keys, k)?, self.value(values, v)?));
                    }
                    Value::Map(entries)
                }
            }
            (_, SchemaType::Struct) => {
                let Json::Object(object) = json else {
                    return Err(struct_error(json));
                };
                let mut s = Struct::new(Arc::clone(schema))?;
                for (i, field) in schema.fields.iter().enumerate() {
                    let v = object.get(&field.name).unwrap_or(&Json::Null);
                    s.set(i, self.value(&field.schema, v)?)?;
                }
                Value::Struct(s)
            }
        })
    }

    /// Converts a payload from its raw text, exactly: used when the schema holds a Decimal,
    /// whose digits a double would lose.
    pub fn value_exact(&self, schema: &SchemaRef, raw: &RawValue) -> Result<Value> {
        if !has_decimal(schema) {
            return self.value(schema, &parse(raw)?);
        }
        let text = raw.get().trim();
        if text == "null" {
            return self.null_for(schema);
        }
        match (schema.logical(), schema.schema_type) {
            (Some(logical::DECIMAL), _) => {
                let scale = schema.decimal_scale()?;
                if text.starts_with(['-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9']) {
                    return Ok(Value::Decimal(decimal_from_text(text, scale)?));
                }
                self.value(schema, &parse(raw)?)
            }
            (_, SchemaType::Array) => {
                let items = schema.value_schema.as_ref().ok_or_else(|| {
                    ConnectError::data("Array schema did not specify the element type")
                })?;
                let Ok(elements) = serde_json::from_str::<Vec<&RawValue>>(text) else {
                    return self.value(schema, &parse(raw)?);
                };
                Ok(Value::Array(
                    elements
                        .into_iter()
                        .map(|e| self.value_exact(items, e))
                        .collect::<Result<_>>()?,
                ))
            }
            (_, SchemaType::Map) => {
                let (keys, values) = map_schemas(schema)?;
                if keys.schema_type == SchemaType::String {
                    let Ok(RawEntries(entries)) = serde_json::from_str::<RawEntries<'_>>(text)
                    else {
                        return self.value(schema, &parse(raw)?);
                    };
                    return Ok(Value::Map(
                        entries
                            .into_iter()
                            .map(|(k, v)| Ok((Value::String(k), self.value_exact(values, v)?)))
                            .collect::<Result<_>>()?,
                    ));
                }
                let Ok(pairs) = serde_json::from_str::<Vec<Vec<&RawValue>>>(text) else {
                    return self.value(schema, &parse(raw)?);
                };
                let mut entries = Vec::with_capacity(pairs.len());
                for pair in pairs {
                    let [k, v] = pair.as_slice() else {
                        return Err(map_entry_length_error(pair.len()));
                    };
                    entries.push((self.value_exact(keys, k)?, self.value_exact(values, v)?));
                }
                Ok(Value::Map(entries))
            }
            (_, SchemaType::Struct) => {
                let Ok(RawEntries(entries)) = serde_json::from_str::<RawEntries<'_>>(text) else {
                    return self.value(schema, &parse(raw)?);
                };
                let mut s = Struct::new(Arc::clone(schema))?;
                for (i, field) in schema.fields.iter().enumerate() {
                    let v = match entries.iter().rev().find(|(k, _)| *k == field.name) {
                        Some((_, raw)) => self.value_exact(&field.schema, raw)?,
                        None => self.null_for(&field.schema)?,
                    };
                    s.set(i, v)?;
                }
                Ok(Value::Struct(s))
            }
            _ => self.value(schema, &parse(raw)?),
        }
    }
}

/// Whether a Decimal appears anywhere in `schema`.
pub fn has_decimal(schema: &Schema) -> bool {
    schema.logical() == Some(logical::DECIMAL)
        || schema.key_schema.as_deref().is_some_and(has_decimal)
        || schema.value_schema.as_deref().is_some_and(has_decimal)
        || schema.fields.iter().any(|f| has_decimal(&f.schema))
}

fn parse(raw: &RawValue) -> Result<Json> {
    serde_json::from_str(raw.get()).map_err(|e| ConnectError::data(e.to_string()))
}

fn map_schemas(schema: &Schema) -> Result<(&SchemaRef, &SchemaRef)> {
    let keys = schema
        .key_schema
        .as_ref()
        .ok_or_else(|| ConnectError::data("Map schema did not specify the key type"))?;
    let values = schema
        .value_schema
        .as_ref()
        .ok_or_else(|| ConnectError::data("Map schema did not specify the value type"))?;
    Ok((keys, values))
}

/// A decimal from its text, at the schema's scale: `1.5` reads as `1.50` for scale 2.
fn decimal_from_text(text: &str, scale: i32) -> Result<Decimal> {
    let parsed = Decimal::parse(text)
        .ok_or_else(|| ConnectError::data(format!("Invalid decimal number: {text}")))?;
    parsed.rescale(scale).ok_or_else(|| {
        ConnectError::data(format!(
            "Decimal value has mismatching scale for given Decimal schema. Schema has scale {scale}, value has scale {}.",
            parsed.scale
        ))
    })
}

fn decimal_from_base64(text: &str, scale: i32) -> Result<Decimal> {
    let bytes = base64::decode(text)
        .ok_or_else(|| ConnectError::data("Invalid bytes for Decimal field"))?;
    Decimal::from_bytes(&bytes, scale)
}

/// Jackson's name for a node's type, as Kafka's messages show it.
fn node_type(json: &Json) -> &'static str {
    match json {
        Json::Null => "NULL",
        Json::Bool(_) => "BOOLEAN",
        Json::Number(_) => "NUMBER",
        Json::String(_) => "STRING",
        Json::Array(_) => "ARRAY",
        Json::Object(_) => "OBJECT",
    }
}

fn decimal_type_error(json: &Json) -> ConnectError {
    ConnectError::data(format!(
        "Invalid type for Decimal, underlying representation should be numeric or bytes but was {}",
        node_type(json)
    ))
}

fn logical_type_error(name: &str, representation: &str, json: &Json) -> ConnectError {
    ConnectError::data(format!(
        "Invalid type for {name}, underlying representation should be {representation} but was {}",
        node_type(json)
    ))
}

fn string_map_error(json: &Json) -> ConnectError {
    ConnectError::data(format!(
        "Maps with string fields should be encoded as JSON objects, but found {}",
        node_type(json)
    ))
}

fn tuple_map_error(json: &Json) -> ConnectError {
    ConnectError::data(format!(
        "Maps with non-string fields should be encoded as JSON array of tuples, but found {}",
        node_type(json)
    ))
}

fn map_entry_error(json: &Json) -> ConnectError {
    ConnectError::data(format!(
        "Found invalid map entry instead of array tuple: {}",
        node_type(json)
    ))
}

fn map_entry_length_error(len: usize) -> ConnectError {
    ConnectError::data(format!(
        "Found invalid map entry, expected length 2 but found :{len}"
    ))
}

fn struct_error(json: &Json) -> ConnectError {
    ConnectError::data(format!(
        "Structs should be encoded as JSON objects, but found {}",
        node_type(json)
    ))
}

/// Plain JSON without a schema: numbers become INT64 or FLOAT64, objects maps, arrays arrays.
pub fn schemaless(json: &Json) -> Value {
    match json {
        Json::Null => Value::Null,
        Json::Bool(b) => Value::Boolean(*b),
        Json::Number(n) => match n.as_i64() {
            Some(i) => Value::Int64(i),
            None => Value::Float64(n.as_f64().unwrap_or(f64::NAN)),
        },
        Json::String(s) => Value::String(s.clone()),
        Json::Array(items) => Value::Array(items.iter().map(schemaless).collect()),
        Json::Object(object) => Value::Map(
            object
                .iter()
                .map(|(k, v)| (Value::String(k.clone()), schemaless(v)))
                .collect(),
        ),
    }
}

/// An object's entries with their raw values, in order.
struct RawEntries<'a>(Vec<(String, &'a RawValue)>);

impl<'de: 'a, 'a> Deserialize<'de> for RawEntries<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        struct Entries<'a>(PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for Entries<'a> {
            type Value = RawEntries<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(
                self,
                mut map: A,
            ) -> std::result::Result<Self::Value, A::Error> {
                let mut out = Vec::new();
                while let Some((k, v)) = map.next_entry::<String, &'a RawValue>()? {
                    out.push((k, v));
                }
                Ok(RawEntries(out))
            }
        }
        deserializer.deserialize_map(Entries(PhantomData))
    }
}

/// JSON text with the leading zeros of its numbers dropped (`0012` is `12`), as Kafka's parser
/// allows them and strict JSON does not; `None` when there were none.
pub fn without_leading_zeros(bytes: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut in_string = false;
    let mut escaped = false;
    let mut changed = false;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if in_string {
            out.push(b);
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            i += 1;
            continue;
        }
        if b == b'"' {
            in_string = true;
            out.push(b);
            i += 1;
            continue;
        }
        // A number starts after a structural character or whitespace, never inside a token.
        let starts_number = b.is_ascii_digit()
            && !out
                .last()
                .is_some_and(|p: &u8| p.is_ascii_alphanumeric() || *p == b'.' || *p == b'_');
        if starts_number {
            while i + 1 < bytes.len() && bytes[i] == b'0' && bytes[i + 1].is_ascii_digit() {
                i += 1;
                changed = true;
            }
            while i < bytes.len() && bytes[i].is_ascii_digit() {
                out.push(bytes[i]);
                i += 1;
            }
            continue;
        }
        out.push(b);
        i += 1;
    }
    changed.then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leading_zeros_are_dropped_outside_strings_only() {
        let fixed = without_leading_zeros(br#"{"a":0012,"b":"0012","c":[-007,0.5,00.25,0]}"#)
            .expect("changed");
        assert_eq!(
            String::from_utf8(fixed).expect("utf-8"),
            r#"{"a":12,"b":"0012","c":[-7,0.5,0.25,0]}"#
        );
        assert_eq!(without_leading_zeros(br#"{"a":10,"b":0.01}"#), None);
    }
}
