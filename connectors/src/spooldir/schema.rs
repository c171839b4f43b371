//! Schemas in the connect-utils JSON format (`{"name":..,"type":"STRUCT","isOptional":false,
//! "fieldSchemas":{..}}`), and turning text fields (CSV) and JSON values into typed Connect
//! values of a schema.

use serde_json::Value as Json;
use sluice_connect_api::base64;
use sluice_connect_api::schema::logical;
use sluice_connect_api::{Decimal, Schema, SchemaBuilder, SchemaRef, SchemaType, Struct, Value};

use super::dates::{days_from_civil, DateFormats};

/// Parses a schema in the connect-utils JSON form.
pub fn parse_schema(text: &str) -> Result<SchemaRef, String> {
    let json: Json = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    schema_from_json(&json, "")
}

fn schema_from_json(json: &Json, path: &str) -> Result<SchemaRef, String> {
    let at = |message: String| {
        if path.is_empty() {
            message
        } else {
            format!("{path}: {message}")
        }
    };
    let object = json
        .as_object()
        .ok_or_else(|| at("a schema must be a JSON object".into()))?;
    let type_name = object
        .get("type")
        .and_then(Json::as_str)
        .ok_or_else(|| at("'type' is missing".into()))?;
    let schema_type = match type_name.to_ascii_uppercase().as_str() {
        "INT8" => SchemaType::Int8,
        "INT16" => SchemaType::Int16,
        "INT32" => SchemaType::Int32,
        "INT64" => SchemaType::Int64,
        "FLOAT32" => SchemaType::Float32,
        "FLOAT64" => SchemaType::Float64,
        "BOOLEAN" => SchemaType::Boolean,
        "STRING" => SchemaType::String,
        "BYTES" => SchemaType::Bytes,
        "ARRAY" => SchemaType::Array,
        "MAP" => SchemaType::Map,
        "STRUCT" => SchemaType::Struct,
        other => return Err(at(format!("unknown type '{other}'"))),
    };
    let name = object.get("name").and_then(Json::as_str);
    let parameters: Vec<(String, String)> = object
        .get("parameters")
        .and_then(Json::as_object)
        .map(|p| {
            p.iter()
                .map(|(k, v)| {
                    (
                        k.clone(),
                        v.as_str().map_or_else(|| v.to_string(), str::to_string),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let mut builder = match name {
        Some(logical::DECIMAL) => {
            let scale = parameters
                .iter()
                .find(|(k, _)| k == logical::SCALE)
                .and_then(|(_, v)| v.parse::<i32>().ok())
                .ok_or_else(|| at("a Decimal needs the parameter 'scale'".into()))?;
            SchemaBuilder::decimal(scale)
        }
        Some(logical::DATE) => SchemaBuilder::date(),
        Some(logical::TIME) => SchemaBuilder::time(),
        Some(logical::TIMESTAMP) => SchemaBuilder::timestamp(),
        _ => match schema_type {
            SchemaType::Array => {
                let items = object
                    .get("valueSchema")
                    .ok_or_else(|| at("an ARRAY needs 'valueSchema'".into()))?;
                SchemaBuilder::array(schema_from_json(items, &format!("{path}[]"))?)
            }
            SchemaType::Map => {
                let keys = object
                    .get("keySchema")
                    .ok_or_else(|| at("a MAP needs 'keySchema'".into()))?;
                let values = object
                    .get("valueSchema")
                    .ok_or_else(|| at("a MAP needs 'valueSchema'".into()))?;
                SchemaBuilder::map(
                    schema_from_json(keys, &format!("{path}<key>"))?,
                    schema_from_json(values, &format!("{path}<value>"))?,
                )
            }
            _ => {
                let mut b = SchemaBuilder::new(schema_type);
                if let Some(n) = name {
                    b = b.name(n);
                }
                b
            }
        },
    };
    for (k, v) in &parameters {
        builder = builder.parameter(k, v);
    }
    if let Some(doc) = object.get("doc").and_then(Json::as_str) {
        builder = builder.doc(doc);
    }
    if let Some(version) = object.get("version").and_then(Json::as_i64) {
        builder = builder.version(version as i32);
    }
    if object.get("isOptional").and_then(Json::as_bool) == Some(true) {
        builder = builder.optional();
    }
    if schema_type == SchemaType::Struct {
        if let Some(fields) = object.get("fieldSchemas") {
            let fields = fields
                .as_object()
                .ok_or_else(|| at("'fieldSchemas' must be an object".into()))?;
            for (field, schema) in fields {
                let field_path = if path.is_empty() {
                    field.clone()
                } else {
                    format!("{path}.{field}")
                };
                let schema = schema_from_json(schema, &field_path)?;
                builder = builder
                    .field(field, schema)
                    .map_err(|e| at(e.to_string()))?;
            }
        }
    }
    Ok(builder.build())
}

/// A schema of optional STRING fields with these names (`schema.generation.enabled`).
pub fn generated(name: &str, fields: &[String]) -> Result<SchemaRef, String> {
    let mut builder = SchemaBuilder::struct_().name(name);
    for field in fields {
        builder = builder
            .field(field, Schema::optional_string())
            .map_err(|e| e.to_string())?;
    }
    Ok(builder.build())
}

/// Parses a decimal string into a Decimal with `scale` digits after the point.
fn decimal(text: &str, scale: i32) -> Result<Decimal, String> {
    let text = text.trim();
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    let valid = !(int.is_empty() && frac.is_empty())
        && int.bytes().all(|b| b.is_ascii_digit())
        && frac.bytes().all(|b| b.is_ascii_digit());
    if !valid {
        return Err(format!("'{text}' is not a decimal number"));
    }
    let scale =
        usize::try_from(scale).map_err(|_| "negative scales are not supported".to_string())?;
    if frac.len() > scale && frac[scale..].bytes().any(|b| b != b'0') {
        return Err(format!(
            "'{text}' has more than {scale} digits after the point"
        ));
    }
    let mut all = String::from(int);
    let kept = &frac[..frac.len().min(scale)];
    all.push_str(kept);
    all.extend(std::iter::repeat_n('0', scale - kept.len()));
    let unscaled: i128 = if all.is_empty() {
        0
    } else {
        all.parse()
            .map_err(|_| format!("'{text}' is too large for a decimal"))?
    };
    Ok(Decimal {
        unscaled: if negative { -unscaled } else { unscaled },
        scale: scale as i32,
    })
}

/// A text field as a value of `schema`; `None` text is null.
pub fn parse_text(
    schema: &Schema,
    text: Option<&str>,
    dates: &DateFormats,
) -> Result<Value, String> {
    let text = match text {
        None => None,
        // An empty field of a non-string type has no value.
        Some("") if schema.schema_type != SchemaType::String => None,
        Some(t) => Some(t),
    };
    let Some(text) = text else {
        return if schema.optional {
            Ok(Value::Null)
        } else if let Some(default) = &schema.default {
            Ok(default.clone())
        } else {
            Err("a value is required".into())
        };
    };
    let trimmed = text.trim();
    let number = |kind: &str| format!("'{text}' is not a valid {kind}");
    match schema.logical() {
        Some(logical::DECIMAL) => {
            let scale = schema.decimal_scale().map_err(|e| e.to_string())?;
            return decimal(trimmed, scale).map(Value::Decimal);
        }
        Some(logical::TIMESTAMP) => return dates.timestamp(trimmed).map(Value::Timestamp),
        Some(logical::DATE) => {
            let ms = date_or_timestamp(trimmed, dates)?;
            return Ok(Value::Date(ms.div_euclid(86_400_000) as i32));
        }
        Some(logical::TIME) => {
            let ms = time_of_day(trimmed)
                .map(Ok)
                .unwrap_or_else(|| dates.timestamp(trimmed).map(|ms| ms.rem_euclid(86_400_000)))?;
            return Ok(Value::Time(ms as i32));
        }
        _ => {}
    }
    Ok(match schema.schema_type {
        SchemaType::Int8 => Value::Int8(trimmed.parse().map_err(|_| number("INT8"))?),
        SchemaType::Int16 => Value::Int16(trimmed.parse().map_err(|_| number("INT16"))?),
        SchemaType::Int32 => Value::Int32(trimmed.parse().map_err(|_| number("INT32"))?),
        SchemaType::Int64 => Value::Int64(trimmed.parse().map_err(|_| number("INT64"))?),
        SchemaType::Float32 => Value::Float32(trimmed.parse().map_err(|_| number("FLOAT32"))?),
        SchemaType::Float64 => Value::Float64(trimmed.parse().map_err(|_| number("FLOAT64"))?),
        SchemaType::Boolean => match trimmed.to_ascii_lowercase().as_str() {
            "true" => Value::Boolean(true),
            "false" => Value::Boolean(false),
            _ => return Err(number("BOOLEAN")),
        },
        SchemaType::String => Value::String(text.to_string()),
        SchemaType::Bytes => {
            Value::Bytes(base64::decode(trimmed).ok_or_else(|| format!("'{text}' is not base64"))?)
        }
        other => return Err(format!("a {other} field cannot be read from text")),
    })
}

/// A `yyyy-MM-dd` date, else anything the timestamp formats accept.
fn date_or_timestamp(text: &str, dates: &DateFormats) -> Result<i64, String> {
    let parts: Vec<&str> = text.split('-').collect();
    if let [y, m, d] = parts.as_slice() {
        if let (Ok(y), Ok(m), Ok(d)) = (y.parse(), m.parse(), d.parse()) {
            if (1..=12).contains(&m) && (1..=31).contains(&d) && y > 0 {
                return Ok(days_from_civil(y, m, d) * 86_400_000);
            }
        }
    }
    dates.timestamp(text)
}

/// `HH:mm:ss` or `HH:mm:ss.SSS` as milliseconds since midnight.
fn time_of_day(text: &str) -> Option<i64> {
    let (hms, millis) = text.split_once('.').unwrap_or((text, "0"));
    let parts: Vec<i64> = hms
        .split(':')
        .map(|p| p.parse().ok())
        .collect::<Option<_>>()?;
    let [h, m, s] = parts.as_slice() else {
        return None;
    };
    let millis: i64 = millis.parse().ok()?;
    (*h < 24 && *m < 60 && *s < 61).then_some(((h * 60 + m) * 60 + s) * 1000 + millis)
}

/// A JSON value as a value of `schema` (the JSON connector).
pub fn from_json(schema: &SchemaRef, json: &Json, dates: &DateFormats) -> Result<Value, String> {
    if json.is_null() {
        return parse_text(schema, None, dates);
    }
    let mismatch = || format!("{json} does not fit a {} field", schema.schema_type);
    if schema.logical().is_some() {
        return match json {
            Json::String(s) => parse_text(schema, Some(s), dates),
            Json::Number(n) => match schema.logical() {
                Some(logical::TIMESTAMP) => n.as_i64().map(Value::Timestamp).ok_or_else(mismatch),
                Some(logical::DATE) => n
                    .as_i64()
                    .and_then(|d| i32::try_from(d).ok())
                    .map(Value::Date)
                    .ok_or_else(mismatch),
                Some(logical::TIME) => n
                    .as_i64()
                    .and_then(|d| i32::try_from(d).ok())
                    .map(Value::Time)
                    .ok_or_else(mismatch),
                _ => parse_text(schema, Some(&n.to_string()), dates),
            },
            _ => Err(mismatch()),
        };
    }
    Ok(match (schema.schema_type, json) {
        (SchemaType::Struct, Json::Object(object)) => {
            let mut value = Struct::new(schema.clone()).map_err(|e| e.to_string())?;
            for field in &schema.fields {
                let v = from_json(
                    &field.schema,
                    object.get(&field.name).unwrap_or(&Json::Null),
                    dates,
                )
                .map_err(|e| format!("field '{}': {e}", field.name))?;
                value = value.put(&field.name, v).map_err(|e| e.to_string())?;
            }
            Value::Struct(value)
        }
        (SchemaType::Array, Json::Array(items)) => {
            let item_schema = schema.value_schema.as_ref().ok_or_else(mismatch)?;
            Value::Array(
                items
                    .iter()
                    .map(|i| from_json(item_schema, i, dates))
                    .collect::<Result<_, _>>()?,
            )
        }
        (SchemaType::Map, Json::Object(object)) => {
            let (Some(k), Some(v)) = (&schema.key_schema, &schema.value_schema) else {
                return Err(mismatch());
            };
            Value::Map(
                object
                    .iter()
                    .map(|(key, value)| {
                        Ok((
                            parse_text(k, Some(key), dates)?,
                            from_json(v, value, dates)?,
                        ))
                    })
                    .collect::<Result<_, String>>()?,
            )
        }
        (SchemaType::String, Json::String(s)) => Value::String(s.clone()),
        (SchemaType::String, other) => Value::String(other.to_string()),
        (SchemaType::Boolean, Json::Bool(b)) => Value::Boolean(*b),
        (SchemaType::Bytes, Json::String(s)) => {
            Value::Bytes(base64::decode(s).ok_or_else(|| format!("'{s}' is not base64"))?)
        }
        (
            SchemaType::Int8 | SchemaType::Int16 | SchemaType::Int32 | SchemaType::Int64,
            Json::Number(n),
        ) => {
            let n = n.as_i64().ok_or_else(mismatch)?;
            match schema.schema_type {
                SchemaType::Int8 => Value::Int8(i8::try_from(n).map_err(|_| mismatch())?),
                SchemaType::Int16 => Value::Int16(i16::try_from(n).map_err(|_| mismatch())?),
                SchemaType::Int32 => Value::Int32(i32::try_from(n).map_err(|_| mismatch())?),
                _ => Value::Int64(n),
            }
        }
        (SchemaType::Float32, Json::Number(n)) => {
            Value::Float32(n.as_f64().ok_or_else(mismatch)? as f32)
        }
        (SchemaType::Float64, Json::Number(n)) => Value::Float64(n.as_f64().ok_or_else(mismatch)?),
        (_, Json::String(s)) => parse_text(schema, Some(s), dates)?,
        _ => return Err(mismatch()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc() -> DateFormats {
        DateFormats::parse(&["yyyy-MM-dd'T'HH:mm:ss".into()], "UTC").expect("formats")
    }

    #[test]
    fn connect_utils_schemas_parse_with_logical_types_and_field_order() {
        let schema = parse_schema(
            r#"{"name":"com.example.Row","type":"STRUCT","isOptional":false,"fieldSchemas":{
                "id":{"type":"INT64","isOptional":false},
                "price":{"name":"org.apache.kafka.connect.data.Decimal","type":"BYTES","isOptional":true,"parameters":{"scale":"2"}},
                "at":{"name":"org.apache.kafka.connect.data.Timestamp","type":"INT64","isOptional":true},
                "tags":{"type":"ARRAY","isOptional":true,"valueSchema":{"type":"STRING","isOptional":false}}}}"#,
        )
        .expect("schema");
        let names: Vec<&str> = schema.fields.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["id", "price", "at", "tags"]);
        assert_eq!(schema.name.as_deref(), Some("com.example.Row"));
        assert_eq!(schema.fields[1].schema.decimal_scale().ok(), Some(2));
        assert!(parse_schema(r#"{"type":"STRUCTURE"}"#).is_err());
        assert!(
            parse_schema(r#"{"type":"BYTES","name":"org.apache.kafka.connect.data.Decimal"}"#)
                .is_err()
        );
    }

    #[test]
    fn text_fields_parse_to_their_types() {
        let dates = utc();
        let price = SchemaBuilder::decimal(2).build();
        assert_eq!(
            parse_text(&price, Some("10.5"), &dates),
            Ok(Value::Decimal(Decimal {
                unscaled: 1050,
                scale: 2
            }))
        );
        assert!(parse_text(&price, Some("1.234"), &dates).is_err());
        assert_eq!(
            parse_text(&Schema::int32(), Some(" 42 "), &dates),
            Ok(Value::Int32(42))
        );
        assert!(parse_text(&Schema::int8(), Some("300"), &dates).is_err());
        assert_eq!(
            parse_text(&Schema::boolean(), Some("TRUE"), &dates),
            Ok(Value::Boolean(true))
        );
        assert!(
            parse_text(&Schema::int64(), Some(""), &dates).is_err(),
            "required"
        );
        let optional = SchemaBuilder::new(SchemaType::Int64).optional().build();
        assert_eq!(parse_text(&optional, Some(""), &dates), Ok(Value::Null));
        let ts = SchemaBuilder::timestamp().build();
        assert_eq!(
            parse_text(&ts, Some("2023-11-14T22:13:20"), &dates),
            Ok(Value::Timestamp(1_700_000_000_000))
        );
        let date = SchemaBuilder::date().build();
        assert_eq!(
            parse_text(&date, Some("2022-01-08"), &dates),
            Ok(Value::Date(19_000))
        );
        let time = SchemaBuilder::time().build();
        assert_eq!(
            parse_text(&time, Some("01:00:00.5"), &dates),
            Ok(Value::Time(3_600_005))
        );
    }
}
