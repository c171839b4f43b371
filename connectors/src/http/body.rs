//! Request bodies: each record's value as text (its string form) or as JSON (as JsonConverter
//! writes it with `schemas.enable=false`), joined into a batch with the prefix, separator and
//! suffix, or as a JSON array.

use serde_json::{json, Map, Value as Json};
use sluice_connect_api::{base64, ConnectError, Result, Value};

use super::config::{BodyFormat, HttpSinkConfig};

/// One record's part of a request body.
pub fn record_text(config: &HttpSinkConfig, value: &Value) -> Result<String> {
    let mut text = match config.format {
        BodyFormat::String => {
            let mut text = String::new();
            value.write_java_text(&mut text);
            text
        }
        BodyFormat::Json => serde_json::to_string(&plain_json(value)?)
            .map_err(|e| ConnectError::data(format!("writing JSON: {e}")))?,
    };
    for (pattern, replacement) in &config.rewrites {
        text = pattern
            .replace_all(&text, replacement.as_str())
            .into_owned();
    }
    Ok(text)
}

/// The body of a batch of record texts.
pub fn batch_body(config: &HttpSinkConfig, texts: &[String]) -> String {
    if config.format == BodyFormat::Json && config.json_as_array {
        return format!("[{}]", texts.join(","));
    }
    format!(
        "{}{}{}",
        config.batch_prefix,
        texts.join(&config.batch_separator),
        config.batch_suffix
    )
}

/// A Connect value as plain JSON: structs and string-keyed maps as objects, other maps as
/// arrays of `[key, value]`, bytes and decimals as base64 (JsonConverter's defaults), the
/// logical types as their numbers.
pub fn plain_json(value: &Value) -> Result<Json> {
    Ok(match value {
        Value::Null => Json::Null,
        Value::Int8(v) => json!(v),
        Value::Int16(v) => json!(v),
        Value::Int32(v) | Value::Date(v) | Value::Time(v) => json!(v),
        Value::Int64(v) | Value::Timestamp(v) => json!(v),
        Value::Float32(v) => json!(v),
        Value::Float64(v) => json!(v),
        Value::Boolean(v) => json!(v),
        Value::String(v) => json!(v),
        Value::Bytes(v) => json!(base64::encode(v)),
        Value::Decimal(d) => json!(base64::encode(&d.to_bytes())),
        Value::Array(items) => Json::Array(items.iter().map(plain_json).collect::<Result<_>>()?),
        Value::Map(entries) => {
            if entries.iter().all(|(k, _)| matches!(k, Value::String(_))) {
                let mut out = Map::new();
                for (k, v) in entries {
                    if let Value::String(k) = k {
                        out.insert(k.clone(), plain_json(v)?);
                    }
                }
                Json::Object(out)
            } else {
                Json::Array(
                    entries
                        .iter()
                        .map(|(k, v)| Ok(json!([plain_json(k)?, plain_json(v)?])))
                        .collect::<Result<_>>()?,
                )
            }
        }
        Value::Struct(s) => {
            let mut out = Map::new();
            for (name, v) in s.fields() {
                out.insert(name.to_string(), plain_json(v)?);
            }
            Json::Object(out)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_connect_api::{Schema, SchemaBuilder, Struct};

    fn config(pairs: &[(&str, &str)]) -> HttpSinkConfig {
        let mut props: sluice_connect_api::Props = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        props.insert("http.api.url".into(), "http://h".into());
        HttpSinkConfig::parse(&props).expect("config")
    }

    #[test]
    fn structs_become_json_objects_and_batches_arrays_or_joined_text() {
        let schema = SchemaBuilder::struct_()
            .field("id", Schema::int64())
            .and_then(|b| b.field("name", Schema::optional_string()))
            .expect("schema")
            .build();
        let value = Value::Struct(
            Struct::from_values(schema, vec![Value::Int64(7), Value::String("x".into())])
                .expect("struct"),
        );
        let json = config(&[
            ("request.body.format", "json"),
            ("batch.json.as.array", "true"),
        ]);
        let text = record_text(&json, &value).expect("text");
        assert_eq!(text, r#"{"id":7,"name":"x"}"#);
        assert_eq!(
            batch_body(&json, &[text.clone(), text.clone()]),
            format!("[{text},{text}]")
        );
        let plain = config(&[
            ("batch.prefix", "<"),
            ("batch.suffix", ">"),
            ("batch.separator", ";"),
            ("regex.patterns", "a~b"),
            ("regex.replacements", "A~B"),
        ]);
        let texts = vec![
            record_text(&plain, &Value::String("abc".into())).expect("text"),
            record_text(&plain, &Value::Int32(1)).expect("text"),
        ];
        assert_eq!(batch_body(&plain, &texts), "<ABc;1>");
    }
}
