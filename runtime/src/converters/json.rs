//! `org.apache.kafka.connect.json.JsonConverter`: the `{"schema":...,"payload":...}` envelope
//! when `schemas.enable=true` (the default), plain JSON otherwise; `decimal.format` BASE64 or
//! NUMERIC; `replace.null.with.default`.

use std::sync::Arc;

use serde_json::{json, Map, Number, Value as Json};
use sluice_connect_api::schema::logical;
use sluice_connect_api::{
    ConfigDef, ConfigType, ConnectError, Converter, Decimal, Importance, Props, Result, Schema,
    SchemaBuilder, SchemaRef, SchemaType, Struct, Validator, Value,
};

use sluice_connect_api::base64;

const ENVELOPE_ERROR: &str = "JsonConverter with schemas.enable requires \"schema\" and \"payload\" fields and may not contain additional fields. If you are trying to deserialize plain JSON data, set schemas.enable=false in your converter configuration.";

#[derive(Debug)]
pub struct JsonConverter {
    schemas_enable: bool,
    numeric_decimals: bool,
    replace_null_with_default: bool,
    /// The last schema written and its JSON: records of one source share a schema, and
    /// serializing it once instead of per record is most of the envelope's cost.
    last_schema: std::sync::Mutex<Option<(SchemaRef, Vec<u8>)>>,
}

impl Default for JsonConverter {
    fn default() -> Self {
        Self {
            schemas_enable: true,
            numeric_decimals: false,
            replace_null_with_default: true,
            last_schema: std::sync::Mutex::new(None),
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
        self.replace_null_with_default = flag("replace.null.with.default");
        self.numeric_decimals = matches!(parsed.get("decimal.format"), Some(sluice_connect_api::ConfigValue::String(s)) if s.eq_ignore_ascii_case("NUMERIC"));
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
            let checked = match value {
                Value::Null if self.replace_null_with_default => {
                    s.default.as_ref().unwrap_or(value)
                }
                _ => value,
            };
            sluice_connect_api::value::validate(s, checked)?;
        }
        let to_bytes =
            |json: &Json| serde_json::to_vec(json).map_err(|e| ConnectError::data(e.to_string()));
        if !self.schemas_enable {
            let mut out = Vec::with_capacity(64);
            self.write_json(&mut out, schema.map(|s| s.as_ref()), value)?;
            return Ok(Some(out));
        }
        let Some(schema) = schema else {
            let mut out = Vec::with_capacity(64);
            out.extend_from_slice(br#"{"schema":null,"payload":"#);
            self.write_json(&mut out, None, value)?;
            out.push(b'}');
            return Ok(Some(out));
        };
        let mut cache = self.last_schema.lock().unwrap_or_else(|p| p.into_inner());
        let cached = matches!(&*cache, Some((s, _)) if std::sync::Arc::ptr_eq(s, schema));
        if !cached {
            *cache = Some((schema.clone(), to_bytes(&schema_to_json(schema))?));
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
        self.write_json(&mut out, Some(schema), value)?;
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
        let json: Json = serde_json::from_slice(bytes).map_err(|e| {
            ConnectError::data(format!(
                "Converting byte[] to Kafka Connect data failed due to serialization error: {e}"
            ))
        })?;
        if !self.schemas_enable {
            return Ok((None, schemaless_value(&json)));
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
        match &envelope["schema"] {
            Json::Null => Ok((None, schemaless_value(&envelope["payload"]))),
            schema_json => {
                let schema = schema_from_json(schema_json)?;
                let value = json_to_value(&schema, &envelope["payload"])?;
                Ok((Some(schema), value))
            }
        }
    }
}

/// Appends `value`'s JSON text.
fn write_text<T: serde::Serialize + ?Sized>(out: &mut Vec<u8>, value: &T) -> Result<()> {
    serde_json::to_writer(out, value).map_err(|e| ConnectError::data(e.to_string()))
}

impl JsonConverter {
    /// Writes a value's JSON straight into `out`, as `value_to_json` would render it but without
    /// building a tree of maps per record, and without checking it (see `from_connect_data`).
    fn write_json(&self, out: &mut Vec<u8>, schema: Option<&Schema>, value: &Value) -> Result<()> {
        let value = match (value, schema) {
            (Value::Null, Some(s)) if self.replace_null_with_default && s.default.is_some() => {
                s.default.as_ref().unwrap_or(value)
            }
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
            // Exact, as Kafka writes a BigDecimal: the scale's trailing zeros are kept.
            Value::Decimal(d) if self.numeric_decimals => {
                out.extend_from_slice(d.to_string().as_bytes())
            }
            Value::Decimal(d) => {
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
                    self.write_json(out, items_schema, item)?;
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
                        self.write_json(out, values, v)?;
                    }
                    out.push(b'}');
                } else {
                    out.push(b'[');
                    for (i, (k, v)) in entries.iter().enumerate() {
                        if i > 0 {
                            out.push(b',');
                        }
                        out.push(b'[');
                        self.write_json(out, keys, k)?;
                        out.push(b',');
                        self.write_json(out, values, v)?;
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
                    let value = match (s.value_at(field.index), &field.schema.default) {
                        (Value::Null, Some(default)) => default,
                        (value, _) => value,
                    };
                    self.write_json(out, Some(&field.schema), value)?;
                }
                out.push(b'}');
            }
        }
        Ok(())
    }

    fn value_to_json(&self, schema: Option<&Schema>, value: &Value) -> Result<Json> {
        let value = match (value, schema) {
            (Value::Null, Some(s)) if self.replace_null_with_default && s.default.is_some() => {
                s.default.as_ref().unwrap_or(value)
            }
            _ => value,
        };
        if let Some(s) = schema {
            sluice_connect_api::value::validate(s, value)?;
        }
        Ok(match value {
            Value::Null => Json::Null,
            Value::Int8(n) => json!(n),
            Value::Int16(n) => json!(n),
            Value::Int32(n) | Value::Date(n) | Value::Time(n) => json!(n),
            Value::Int64(n) | Value::Timestamp(n) => json!(n),
            Value::Float32(n) => json!(n),
            Value::Float64(n) => json!(n),
            Value::Boolean(b) => json!(b),
            Value::String(s) => json!(s),
            Value::Bytes(b) => json!(base64::encode(b)),
            Value::Decimal(d) if self.numeric_decimals => {
                serde_json::from_str::<Json>(&d.to_string())
                    .map_err(|e| ConnectError::data(e.to_string()))?
            }
            Value::Decimal(d) => json!(base64::encode(&d.to_bytes())),
            Value::Array(items) => {
                let items_schema = schema.and_then(|s| s.value_schema.as_deref());
                Json::Array(
                    items
                        .iter()
                        .map(|i| self.value_to_json(items_schema, i))
                        .collect::<Result<_>>()?,
                )
            }
            Value::Map(entries) => {
                let keys = schema.and_then(|s| s.key_schema.as_deref());
                let values = schema.and_then(|s| s.value_schema.as_deref());
                let string_keys = match keys {
                    Some(k) => k.schema_type == SchemaType::String,
                    None => entries.iter().all(|(k, _)| matches!(k, Value::String(_))),
                };
                if string_keys {
                    let mut object = Map::new();
                    for (k, v) in entries {
                        let Value::String(k) = k else { continue };
                        object.insert(k.clone(), self.value_to_json(values, v)?);
                    }
                    Json::Object(object)
                } else {
                    let pairs = entries
                        .iter()
                        .map(|(k, v)| {
                            Ok(json!([
                                self.value_to_json(keys, k)?,
                                self.value_to_json(values, v)?
                            ]))
                        })
                        .collect::<Result<Vec<_>>>()?;
                    Json::Array(pairs)
                }
            }
            Value::Struct(s) => {
                let mut object = Map::new();
                for field in &s.schema().fields {
                    object.insert(
                        field.name.clone(),
                        self.value_to_json(Some(&field.schema), s.get(&field.name)?)?,
                    );
                }
                Json::Object(object)
            }
        })
    }
}

/// The JSON form of a schema, as JsonConverter writes it (`optional` always present).
pub fn schema_to_json(schema: &Schema) -> Json {
    let type_name = match schema.schema_type {
        SchemaType::Int8 => "int8",
        SchemaType::Int16 => "int16",
        SchemaType::Int32 => "int32",
        SchemaType::Int64 => "int64",
        SchemaType::Float32 => "float",
        SchemaType::Float64 => "double",
        SchemaType::Boolean => "boolean",
        SchemaType::String => "string",
        SchemaType::Bytes => "bytes",
        SchemaType::Array => "array",
        SchemaType::Map => "map",
        SchemaType::Struct => "struct",
    };
    let mut out = Map::new();
    out.insert("type".into(), json!(type_name));
    match schema.schema_type {
        SchemaType::Array => {
            if let Some(items) = &schema.value_schema {
                out.insert("items".into(), schema_to_json(items));
            }
        }
        SchemaType::Map => {
            if let (Some(k), Some(v)) = (&schema.key_schema, &schema.value_schema) {
                out.insert("keys".into(), schema_to_json(k));
                out.insert("values".into(), schema_to_json(v));
            }
        }
        SchemaType::Struct => {
            let fields = schema
                .fields
                .iter()
                .map(|f| {
                    let mut field = schema_to_json(&f.schema);
                    if let Json::Object(m) = &mut field {
                        m.insert("field".into(), json!(f.name));
                    }
                    field
                })
                .collect();
            out.insert("fields".into(), Json::Array(fields));
        }
        _ => {}
    }
    out.insert("optional".into(), json!(schema.optional));
    if let Some(name) = &schema.name {
        out.insert("name".into(), json!(name));
    }
    if let Some(version) = schema.version {
        out.insert("version".into(), json!(version));
    }
    if let Some(doc) = &schema.doc {
        out.insert("doc".into(), json!(doc));
    }
    if !schema.parameters.is_empty() {
        out.insert("parameters".into(), json!(schema.parameters));
    }
    if let Some(default) = &schema.default {
        let converter = JsonConverter::default();
        if let Ok(d) = converter.value_to_json(Some(schema), default) {
            out.insert("default".into(), d);
        }
    }
    Json::Object(out)
}

/// Reads a schema from its JSON form.
pub fn schema_from_json(json: &Json) -> Result<SchemaRef> {
    let bad = |m: &str| ConnectError::data(format!("Invalid schema JSON: {m}"));
    let object = json
        .as_object()
        .ok_or_else(|| bad("a schema must be a JSON object"))?;
    let type_name = object
        .get("type")
        .and_then(Json::as_str)
        .ok_or_else(|| bad("schema must contain 'type' field"))?;
    let mut builder = match type_name {
        "int8" => SchemaBuilder::new(SchemaType::Int8),
        "int16" => SchemaBuilder::new(SchemaType::Int16),
        "int32" => SchemaBuilder::new(SchemaType::Int32),
        "int64" => SchemaBuilder::new(SchemaType::Int64),
        "float" => SchemaBuilder::new(SchemaType::Float32),
        "double" => SchemaBuilder::new(SchemaType::Float64),
        "boolean" => SchemaBuilder::new(SchemaType::Boolean),
        "string" => SchemaBuilder::new(SchemaType::String),
        "bytes" => SchemaBuilder::new(SchemaType::Bytes),
        "array" => SchemaBuilder::array(schema_from_json(
            object
                .get("items")
                .ok_or_else(|| bad("array schema did not specify the items type"))?,
        )?),
        "map" => SchemaBuilder::map(
            schema_from_json(
                object
                    .get("keys")
                    .ok_or_else(|| bad("map schema did not specify the key type"))?,
            )?,
            schema_from_json(
                object
                    .get("values")
                    .ok_or_else(|| bad("map schema did not specify the value type"))?,
            )?,
        ),
        "struct" => {
            let mut b = SchemaBuilder::struct_();
            let fields = object
                .get("fields")
                .and_then(Json::as_array)
                .ok_or_else(|| bad("struct schema's \"fields\" argument is not an array"))?;
            for field in fields {
                let name = field
                    .get("field")
                    .and_then(Json::as_str)
                    .ok_or_else(|| bad("struct schema's field name not specified properly"))?;
                b = b.field(name, schema_from_json(field)?)?;
            }
            b
        }
        other => return Err(bad(&format!("unknown schema type: {other}"))),
    };
    if object
        .get("optional")
        .and_then(Json::as_bool)
        .unwrap_or(false)
    {
        builder = builder.optional();
    }
    if let Some(name) = object.get("name").and_then(Json::as_str) {
        builder = builder.name(name);
    }
    if let Some(version) = object.get("version").and_then(Json::as_i64) {
        builder = builder.version(version as i32);
    }
    if let Some(doc) = object.get("doc").and_then(Json::as_str) {
        builder = builder.doc(doc);
    }
    if let Some(Json::Object(params)) = object.get("parameters") {
        for (k, v) in params {
            builder = builder.parameter(k, v.as_str().unwrap_or_default());
        }
    }
    if let Some(default) = object.get("default").filter(|d| !d.is_null()) {
        let partial = builder.clone().build();
        builder = builder.default_value(json_to_value(&partial, default)?)?;
    }
    Ok(builder.build())
}

/// Converts a JSON payload to a value of `schema`.
pub fn json_to_value(schema: &SchemaRef, json: &Json) -> Result<Value> {
    let mismatch = || {
        ConnectError::data(format!(
            "Invalid JSON for {} schema: {json}",
            schema.logical().unwrap_or(schema.schema_type.name())
        ))
    };
    if json.is_null() {
        return match &schema.default {
            Some(d) => Ok(d.clone()),
            None if schema.optional => Ok(Value::Null),
            None => Err(ConnectError::data("Invalid null value for required field")),
        };
    }
    let int = || json.as_i64().ok_or_else(mismatch);
    Ok(match (schema.logical(), schema.schema_type) {
        (Some(logical::DECIMAL), _) => {
            let scale = schema.decimal_scale()?;
            match json {
                Json::String(s) => Value::Decimal(Decimal::from_bytes(
                    &base64::decode(s).ok_or_else(mismatch)?,
                    scale,
                )?),
                Json::Number(n) => {
                    Value::Decimal(decimal_from_number(n, scale).ok_or_else(mismatch)?)
                }
                _ => return Err(mismatch()),
            }
        }
        (Some(logical::DATE), _) => Value::Date(i32::try_from(int()?).map_err(|_| mismatch())?),
        (Some(logical::TIME), _) => Value::Time(i32::try_from(int()?).map_err(|_| mismatch())?),
        (Some(logical::TIMESTAMP), _) => Value::Timestamp(int()?),
        (_, SchemaType::Int8) => Value::Int8(i8::try_from(int()?).map_err(|_| mismatch())?),
        (_, SchemaType::Int16) => Value::Int16(i16::try_from(int()?).map_err(|_| mismatch())?),
        (_, SchemaType::Int32) => Value::Int32(i32::try_from(int()?).map_err(|_| mismatch())?),
        (_, SchemaType::Int64) => Value::Int64(int()?),
        (_, SchemaType::Float32) => Value::Float32(json.as_f64().ok_or_else(mismatch)? as f32),
        (_, SchemaType::Float64) => Value::Float64(json.as_f64().ok_or_else(mismatch)?),
        (_, SchemaType::Boolean) => Value::Boolean(json.as_bool().ok_or_else(mismatch)?),
        (_, SchemaType::String) => Value::String(json.as_str().ok_or_else(mismatch)?.to_string()),
        (_, SchemaType::Bytes) => {
            Value::Bytes(base64::decode(json.as_str().ok_or_else(mismatch)?).ok_or_else(mismatch)?)
        }
        (_, SchemaType::Array) => {
            let items = schema.value_schema.as_ref().ok_or_else(mismatch)?;
            let array = json.as_array().ok_or_else(mismatch)?;
            Value::Array(
                array
                    .iter()
                    .map(|j| json_to_value(items, j))
                    .collect::<Result<_>>()?,
            )
        }
        (_, SchemaType::Map) => {
            let (keys, values) = (
                schema.key_schema.as_ref().ok_or_else(mismatch)?,
                schema.value_schema.as_ref().ok_or_else(mismatch)?,
            );
            match json {
                Json::Object(object) if keys.schema_type == SchemaType::String => Value::Map(
                    object
                        .iter()
                        .map(|(k, v)| Ok((Value::String(k.clone()), json_to_value(values, v)?)))
                        .collect::<Result<_>>()?,
                ),
                Json::Array(pairs) => Value::Map(
                    pairs
                        .iter()
                        .map(|pair| match pair.as_array().map(Vec::as_slice) {
                            Some([k, v]) => {
                                Ok((json_to_value(keys, k)?, json_to_value(values, v)?))
                            }
                            _ => Err(mismatch()),
                        })
                        .collect::<Result<_>>()?,
                ),
                _ => return Err(mismatch()),
            }
        }
        (_, SchemaType::Struct) => {
            let object = json.as_object().ok_or_else(mismatch)?;
            let mut s = Struct::new(Arc::clone(schema))?;
            for field in &schema.fields {
                let v = object.get(&field.name).unwrap_or(&Json::Null);
                s = s.put(&field.name, json_to_value(&field.schema, v)?)?;
            }
            Value::Struct(s)
        }
    })
}

fn decimal_from_number(n: &Number, scale: i32) -> Option<Decimal> {
    let text = n.to_string();
    let (int, frac) = text.split_once('.').unwrap_or((&text, ""));
    if frac.len() > scale.max(0) as usize {
        return None;
    }
    let digits = format!("{int}{frac:0<width$}", width = scale.max(0) as usize);
    Some(Decimal {
        unscaled: digits.parse().ok()?,
        scale,
    })
}

/// Plain JSON without a schema: numbers become INT64 or FLOAT64, objects maps, arrays arrays.
fn schemaless_value(json: &Json) -> Value {
    match json {
        Json::Null => Value::Null,
        Json::Bool(b) => Value::Boolean(*b),
        Json::Number(n) => match n.as_i64() {
            Some(i) => Value::Int64(i),
            None => Value::Float64(n.as_f64().unwrap_or(f64::NAN)),
        },
        Json::String(s) => Value::String(s.clone()),
        Json::Array(items) => Value::Array(items.iter().map(schemaless_value).collect()),
        Json::Object(object) => Value::Map(
            object
                .iter()
                .map(|(k, v)| (Value::String(k.clone()), schemaless_value(v)))
                .collect(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

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
