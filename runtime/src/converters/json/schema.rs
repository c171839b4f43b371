//! Connect schemas in JsonConverter's JSON form: `type` (`float` and `double` for the floating
//! types), `optional` (always written), `name`, `version`, `doc`, `parameters`, `default`;
//! `items` of an array, `keys` and `values` of a map, `fields` of a struct, each with `field`.

use serde_json::{json, Map, Value as Json};
use sluice_connect_api::{ConnectError, Result, Schema, SchemaBuilder, SchemaRef, SchemaType};

use super::read::Reader;
use super::write::Writer;

/// The JSON form of a schema, as JsonConverter writes it.
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
        // A default is written as a value of its own schema, decimals in base64.
        let mut bytes = Vec::new();
        let written = Writer::CANONICAL.write(&mut bytes, Some(schema), default);
        if let Ok(d) = written.and_then(|()| {
            serde_json::from_slice(&bytes).map_err(|e| ConnectError::data(e.to_string()))
        }) {
            out.insert("default".into(), d);
        }
    }
    Json::Object(out)
}

/// Reads a schema from its JSON form, with Kafka's messages for what is wrong.
pub fn schema_from_json(json: &Json) -> Result<SchemaRef> {
    let bad = |m: &str| ConnectError::data(m.to_string());
    let object = json
        .as_object()
        .ok_or_else(|| bad("Schema must contain 'type' field"))?;
    let type_name = object
        .get("type")
        .and_then(Json::as_str)
        .ok_or_else(|| bad("Schema must contain 'type' field"))?;
    let present = |key: &str| object.get(key).filter(|v| !v.is_null());
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
            present("items").ok_or_else(|| bad("Array schema did not specify the element type"))?,
        )?),
        "map" => SchemaBuilder::map(
            schema_from_json(
                present("keys").ok_or_else(|| bad("Map schema did not specify the key type"))?,
            )?,
            schema_from_json(
                present("values")
                    .ok_or_else(|| bad("Map schema did not specify the value type"))?,
            )?,
        ),
        "struct" => {
            let mut b = SchemaBuilder::struct_();
            let fields = object
                .get("fields")
                .and_then(Json::as_array)
                .ok_or_else(|| bad("Struct schema's \"fields\" argument is not an array."))?;
            for field in fields {
                let name = field
                    .get("field")
                    .and_then(Json::as_str)
                    .ok_or_else(|| bad("Struct schema's field name not specified properly"))?;
                b = b.field(name, schema_from_json(field)?)?;
            }
            b
        }
        other => return Err(bad(&format!("Unknown schema type: {other}"))),
    };
    if object.get("optional").and_then(Json::as_bool) == Some(true) {
        builder = builder.optional();
    }
    if let Some(name) = object.get("name").and_then(Json::as_str) {
        builder = builder.name(name);
    }
    if let Some(version) = object.get("version").and_then(Json::as_i64) {
        let version = i32::try_from(version).map_err(|_| bad("Schema version out of range"))?;
        builder = builder.version(version);
    }
    if let Some(doc) = object.get("doc").and_then(Json::as_str) {
        builder = builder.doc(doc);
    }
    if let Some(Json::Object(params)) = object.get("parameters") {
        for (k, v) in params {
            let v = v
                .as_str()
                .ok_or_else(|| bad("Schema parameters must have string values."))?;
            builder = builder.parameter(k, v);
        }
    }
    if let Some(default) = present("default") {
        let partial = builder.clone().build();
        builder = builder.default_value(Reader::CANONICAL.value(&partial, default)?)?;
    }
    Ok(builder.build())
}
