//! `org.apache.kafka.connect.json.JsonConverter`: the `{"schema":...,"payload":...}` envelope
//! when `schemas.enable=true` (the default), plain JSON otherwise; `decimal.format` BASE64 or
//! NUMERIC; `replace.null.with.default`.

mod read;
mod schema;
mod write;

use std::sync::{Arc, Mutex};

use serde_json::value::RawValue;
use serde_json::Value as Json;
use sluice_connect_api::{
    ConfigDef, ConfigType, ConnectError, Converter, Importance, Props, Result, SchemaRef,
    Validator, Value,
};

pub use schema::{schema_from_json, schema_to_json};

use read::Reader;
use write::Writer;

const ENVELOPE_ERROR: &str = "JsonConverter with schemas.enable requires \"schema\" and \"payload\" fields and may not contain additional fields. If you are trying to deserialize plain JSON data, set schemas.enable=false in your converter configuration.";

#[derive(Debug)]
pub struct JsonConverter {
    schemas_enable: bool,
    reader: Reader,
    writer: Writer,
    /// The last schema written and its JSON: records of one source share a schema, and
    /// serializing it once instead of per record is most of the envelope's cost.
    last_written: Mutex<Option<(SchemaRef, Vec<u8>)>>,
    /// The last schema read, by its JSON, and whether it holds a Decimal: records of a topic
    /// mostly carry the same schema, parsed once.
    last_read: Mutex<Option<(Json, SchemaRef, bool)>>,
}

impl Default for JsonConverter {
    fn default() -> Self {
        Self {
            schemas_enable: true,
            reader: Reader {
                replace_null_with_default: true,
            },
            writer: Writer {
                numeric_decimals: false,
                replace_null_with_default: true,
            },
            last_written: Mutex::new(None),
            last_read: Mutex::new(None),
        }
    }
}

impl Converter for JsonConverter {
    fn config_def(&self) -> ConfigDef {
        ConfigDef::new()
            .define("schemas.enable", ConfigType::Boolean, Some("true"), Importance::High, "Include schemas within each of the serialized values and keys.")
            .define("schemas.cache.size", ConfigType::Int, Some("1000"), Importance::High, "The maximum number of schemas that can be cached in this converter instance.")
            .define("decimal.format", ConfigType::String, Some("BASE64"), Importance::Low, "Controls which format this converter will serialize decimals in: BASE64 or NUMERIC.")
            .validator(Validator::OneOf(vec!["BASE64".into(), "NUMERIC".into()]))
            .define("replace.null.with.default", ConfigType::Boolean, Some("true"), Importance::Low, "Whether to replace fields that have a default value and that are null to the default value.")
    }

    fn configure(&mut self, props: &Props, _is_key: bool) -> Result<()> {
        let parsed = self.config_def().parse_or_error(props)?;
        let flag = |k: &str| {
            matches!(
                parsed.get(k),
                Some(sluice_connect_api::ConfigValue::Boolean(true))
            )
        };
        self.schemas_enable = flag("schemas.enable");
        let replace = flag("replace.null.with.default");
        self.reader.replace_null_with_default = replace;
        self.writer.replace_null_with_default = replace;
        self.writer.numeric_decimals = matches!(parsed.get("decimal.format"), Some(sluice_connect_api::ConfigValue::String(s)) if s.eq_ignore_ascii_case("NUMERIC"));
        Ok(())
    }

    fn from_connect_data(
        &self,
        _topic: &str,
        schema: Option<&SchemaRef>,
        value: &Value,
    ) -> Result<Option<Vec<u8>>> {
        if schema.is_none() && value.is_null() {
            return Ok(None);
        }
        if let Some(s) = schema {
            // Once for the whole value: the writer below does not check again.
            if !value.is_null() {
                sluice_connect_api::value::validate(s, value)?;
            }
        }
        if !self.schemas_enable {
            let mut out = Vec::with_capacity(64);
            self.writer
                .write(&mut out, schema.map(|s| s.as_ref()), value)?;
            return Ok(Some(out));
        }
        let Some(schema) = schema else {
            let mut out = Vec::with_capacity(64);
            out.extend_from_slice(br#"{"schema":null,"payload":"#);
            self.writer.write(&mut out, None, value)?;
            out.push(b'}');
            return Ok(Some(out));
        };
        let mut cache = self.last_written.lock().unwrap_or_else(|p| p.into_inner());
        let cached = matches!(&*cache, Some((s, _)) if Arc::ptr_eq(s, schema));
        if !cached {
            let json = serde_json::to_vec(&schema_to_json(schema))
                .map_err(|e| ConnectError::data(e.to_string()))?;
            *cache = Some((schema.clone(), json));
        }
        let schema_json = cache
            .as_ref()
            .map(|(_, bytes)| bytes.as_slice())
            .unwrap_or_default();
        // The same bytes as serializing {"schema": .., "payload": ..}, without redoing the schema.
        let mut out = Vec::with_capacity(schema_json.len() + 64);
        out.extend_from_slice(br#"{"schema":"#);
        out.extend_from_slice(schema_json);
        out.extend_from_slice(br#","payload":"#);
        self.writer.write(&mut out, Some(schema), value)?;
        out.push(b'}');
        Ok(Some(out))
    }

    fn to_connect_data(
        &self,
        _topic: &str,
        bytes: Option<&[u8]>,
    ) -> Result<(Option<SchemaRef>, Value)> {
        let Some(bytes) = bytes else {
            return Ok((None, Value::Null));
        };
        // Empty bytes are no JSON document: nothing, without schemas; no envelope, with them.
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return if self.schemas_enable {
                Err(ConnectError::data(ENVELOPE_ERROR))
            } else {
                Ok((None, Value::Null))
            };
        }
        let repaired;
        let (bytes, json) = match serde_json::from_slice::<Json>(bytes) {
            Ok(json) => (bytes, json),
            Err(e) => match read::without_leading_zeros(bytes) {
                // Kafka's parser takes `0012`; strict JSON does not.
                Some(fixed) => {
                    repaired = fixed;
                    match serde_json::from_slice::<Json>(&repaired) {
                        Ok(json) => (repaired.as_slice(), json),
                        Err(_) => return Err(serialization_error(&e)),
                    }
                }
                None => return Err(serialization_error(&e)),
            },
        };
        if !self.schemas_enable {
            return Ok((None, read::schemaless(&json)));
        }
        let Json::Object(envelope) = &json else {
            return Err(ConnectError::data(ENVELOPE_ERROR));
        };
        if envelope.len() != 2
            || !envelope.contains_key("schema")
            || !envelope.contains_key("payload")
        {
            return Err(ConnectError::data(ENVELOPE_ERROR));
        }
        let schema_json = &envelope["schema"];
        if schema_json.is_null() {
            return Ok((None, read::schemaless(&envelope["payload"])));
        }
        let (schema, exact) = self.read_schema(schema_json)?;
        let value = if exact {
            let raw: Envelope<'_> =
                serde_json::from_slice(bytes).map_err(|e| serialization_error(&e))?;
            self.reader.value_exact(&schema, raw.payload)?
        } else {
            self.reader.value(&schema, &envelope["payload"])?
        };
        Ok((Some(schema), value))
    }
}

/// The payload of an envelope, as written.
#[derive(serde::Deserialize)]
struct Envelope<'a> {
    #[serde(borrow)]
    payload: &'a RawValue,
}

fn serialization_error(e: &serde_json::Error) -> ConnectError {
    ConnectError::data(format!(
        "Converting byte[] to Kafka Connect data failed due to serialization error: {e}"
    ))
}

impl JsonConverter {
    /// The schema of an envelope, parsed once per distinct schema JSON in a row, and whether its
    /// payload must be read exactly (it holds a Decimal).
    fn read_schema(&self, json: &Json) -> Result<(SchemaRef, bool)> {
        let mut last = self.last_read.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((cached_json, schema, exact)) = &*last {
            if cached_json == json {
                return Ok((Arc::clone(schema), *exact));
            }
        }
        let schema = schema_from_json(json)?;
        let exact = read::has_decimal(&schema);
        *last = Some((json.clone(), Arc::clone(&schema), exact));
        Ok((schema, exact))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use sluice_connect_api::{Decimal, Schema, SchemaBuilder, SchemaType};

    fn configured(props: &[(&str, &str)]) -> JsonConverter {
        let mut c = JsonConverter::default();
        let props: BTreeMap<String, String> = props
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        c.configure(&props, false).expect("configure");
        c
    }

    #[test]
    fn the_reference_example_round_trips_byte_for_byte() {
        let text = r#"{"schema":{"type":"struct","fields":[{"type":"int64","optional":false,"field":"id"},{"type":"int32","optional":true,"name":"org.apache.kafka.connect.data.Date","version":1,"field":"d"}],"optional":false,"name":"rec"},"payload":{"id":1,"d":19000}}"#;
        let c = JsonConverter::default();
        let (schema, value) = c.to_connect_data("t", Some(text.as_bytes())).expect("read");
        let Value::Struct(s) = &value else {
            panic!("a struct")
        };
        assert_eq!(s.get("d").expect("d"), &Value::Date(19000));
        let written = c
            .from_connect_data("t", schema.as_ref(), &value)
            .expect("write")
            .expect("bytes");
        assert_eq!(String::from_utf8(written).expect("utf8"), text);
    }

    #[test]
    fn the_envelope_is_required_when_schemas_are_enabled() {
        let c = JsonConverter::default();
        let err = c
            .to_connect_data("t", Some(br#"{"a":1}"#))
            .expect_err("no envelope");
        assert!(
            err.to_string()
                .contains("requires \"schema\" and \"payload\" fields"),
            "{err}"
        );
        let err = c
            .to_connect_data("t", Some(b"{not json"))
            .expect_err("malformed");
        assert!(err.to_string().contains("serialization error"), "{err}");
        assert_eq!(
            c.to_connect_data("t", None).expect("tombstone"),
            (None, Value::Null)
        );
        assert_eq!(
            c.from_connect_data("t", None, &Value::Null)
                .expect("tombstone"),
            None
        );
    }

    #[test]
    fn schemaless_json_infers_types() {
        let c = configured(&[("schemas.enable", "false")]);
        let (schema, value) = c
            .to_connect_data("t", Some(br#"{"n":1,"f":1.5,"l":[true]}"#))
            .expect("read");
        assert!(schema.is_none());
        assert_eq!(
            value,
            Value::Map(vec![
                (Value::String("n".into()), Value::Int64(1)),
                (Value::String("f".into()), Value::Float64(1.5)),
                (
                    Value::String("l".into()),
                    Value::Array(vec![Value::Boolean(true)])
                ),
            ])
        );
        let out = c
            .from_connect_data("t", None, &value)
            .expect("write")
            .expect("bytes");
        assert_eq!(out, br#"{"n":1,"f":1.5,"l":[true]}"#);
    }

    #[test]
    fn decimals_are_base64_or_numeric() {
        let schema = SchemaBuilder::decimal(4).build();
        let value = Value::Decimal(Decimal {
            unscaled: 102_345,
            scale: 4,
        });
        let b64 = JsonConverter::default()
            .from_connect_data("t", Some(&schema), &value)
            .expect("write")
            .expect("bytes");
        assert!(
            String::from_utf8_lossy(&b64).ends_with(r#""payload":"AY/J"}"#),
            "{}",
            String::from_utf8_lossy(&b64)
        );
        let numeric = configured(&[("decimal.format", "NUMERIC")]);
        let out = numeric
            .from_connect_data("t", Some(&schema), &value)
            .expect("write")
            .expect("bytes");
        assert!(String::from_utf8_lossy(&out).ends_with(r#""payload":10.2345}"#));
        // Reading accepts either form.
        for bytes in [b64, out] {
            assert_eq!(
                JsonConverter::default()
                    .to_connect_data("t", Some(&bytes))
                    .expect("read")
                    .1,
                value
            );
        }
    }

    #[test]
    fn maps_with_non_string_keys_are_pairs_and_defaults_replace_nulls() {
        let schema = SchemaBuilder::map(Schema::int32(), Schema::string()).build();
        let value = Value::Map(vec![(Value::Int32(1), Value::String("a".into()))]);
        let c = configured(&[("schemas.enable", "false")]);
        assert_eq!(
            c.from_connect_data("t", Some(&schema), &value)
                .expect("write")
                .expect("bytes"),
            br#"[[1,"a"]]"#
        );
        let with_default = SchemaBuilder::new(SchemaType::Int32)
            .optional()
            .default_value(Value::Int32(5))
            .expect("default")
            .build();
        assert_eq!(
            c.from_connect_data("t", Some(&with_default), &Value::Null)
                .expect("write")
                .expect("bytes"),
            b"5"
        );
        let keep_null = configured(&[
            ("schemas.enable", "false"),
            ("replace.null.with.default", "false"),
        ]);
        assert_eq!(
            keep_null
                .from_connect_data("t", Some(&with_default), &Value::Null)
                .expect("write")
                .expect("bytes"),
            b"null"
        );
    }

    #[test]
    fn bad_config_is_refused() {
        let mut c = JsonConverter::default();
        let props: BTreeMap<String, String> =
            [("decimal.format".to_string(), "HEX".to_string())].into();
        assert!(c.configure(&props, false).is_err());
    }
}
