//! Connect schemas to Avro schemas and back, as Confluent's `AvroData` maps them: INT8/INT16 as
//! `int` with `connect.type`, optional schemas as `["null", T]` unions, unnamed structs as
//! `io.confluent.connect.avro.ConnectDefault`, maps with non-string keys as arrays of `MapEntry`
//! records, the logical types as Avro's, and the `connect.*` properties that carry what Avro
//! cannot say (name, doc, version, parameters, default).

use std::collections::HashMap;

use serde_json::{json, Map, Value as Json};
use sluice_avro::model::{Kind, Node, NodeId};
use sluice_avro::AvroSchema;
use sluice_connect_api::schema::logical;
use sluice_connect_api::{
    ConnectError, Decimal, Result, Schema, SchemaBuilder, SchemaRef, SchemaType, Value,
};

pub const NAMESPACE: &str = "io.confluent.connect.avro";
pub const DEFAULT_NAME: &str = "ConnectDefault";
pub const DEFAULT_FULL_NAME: &str = "io.confluent.connect.avro.ConnectDefault";
pub const MAP_ENTRY: &str = "MapEntry";
/// The Connect struct an Avro union (other than `["null", T]`) becomes.
pub const UNION: &str = "io.confluent.connect.avro.Union";
/// The parameter naming the Avro enum a Connect string came from.
pub const ENUM: &str = "io.confluent.connect.avro.Enum";
const CONNECT_NAME: &str = "connect.name";
const CONNECT_DOC: &str = "connect.doc";
const CONNECT_RECORD_DOC: &str = "connect.record.doc";
const CONNECT_ENUM_DOC: &str = "connect.enum.doc";
const CONNECT_VERSION: &str = "connect.version";
const CONNECT_DEFAULT: &str = "connect.default";
const CONNECT_PARAMETERS: &str = "connect.parameters";
const CONNECT_TYPE: &str = "connect.type";
const DECIMAL_PRECISION: &str = "connect.decimal.precision";
const DEFAULT_PRECISION: u32 = 38;

/// `connect.meta.data` and `enhanced.avro.schema.support`.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    pub connect_meta_data: bool,
    pub enhanced: bool,
}

/// The Avro schema (as JSON) for a Connect schema.
pub fn to_avro(schema: &Schema, options: Options) -> Result<Json> {
    ToAvro {
        options,
        defined: HashMap::new(),
        anonymous: 0,
    }
    .schema(schema, false)
}

struct ToAvro {
    options: Options,
    /// Named types already written, by full name, with their definitions: a later use of the
    /// same definition is written by name, as Avro requires.
    defined: HashMap<String, Json>,
    /// Unnamed structs seen: the second is `ConnectDefault2`, as Confluent numbers them.
    anonymous: usize,
}

impl ToAvro {
    fn schema(&mut self, schema: &Schema, ignore_optional: bool) -> Result<Json> {
        let mut connect_type = None;
        let mut base = match schema.schema_type {
            SchemaType::Int8 => {
                connect_type = Some("int8");
                primitive("int")
            }
            SchemaType::Int16 => {
                connect_type = Some("int16");
                primitive("int")
            }
            SchemaType::Int32 => primitive("int"),
            SchemaType::Int64 => primitive("long"),
            SchemaType::Float32 => primitive("float"),
            SchemaType::Float64 => primitive("double"),
            SchemaType::Boolean => primitive("boolean"),
            SchemaType::String => match schema.parameters.get(ENUM) {
                Some(name) if self.options.enhanced => self.enum_schema(schema, name),
                _ => primitive("string"),
            },
            SchemaType::Bytes => {
                let mut base = primitive("bytes");
                if schema.name.as_deref() == Some(logical::DECIMAL) {
                    let scale = schema.decimal_scale()?;
                    let precision = match schema.parameters.get(DECIMAL_PRECISION) {
                        Some(p) => p.parse::<u32>().map_err(|_| {
                            ConnectError::data(format!("Invalid {DECIMAL_PRECISION}: {p}"))
                        })?,
                        None => DEFAULT_PRECISION,
                    };
                    base.insert("scale".into(), json!(scale));
                    base.insert("precision".into(), json!(precision));
                }
                base
            }
            SchemaType::Array => {
                let items = self.schema(child(schema.value_schema.as_ref(), "array")?, false)?;
                object([("type", json!("array")), ("items", items)])
            }
            SchemaType::Map => {
                let keys = child(schema.key_schema.as_ref(), "map keys")?;
                let values = child(schema.value_schema.as_ref(), "map values")?;
                if keys.schema_type == SchemaType::String && !keys.optional {
                    let values = self.schema(values, false)?;
                    object([("type", json!("map")), ("values", values)])
                } else {
                    let fields = vec![self.field("key", keys)?, self.field("value", values)?];
                    let entry = self.named(
                        MAP_ENTRY,
                        NAMESPACE,
                        object([
                            ("type", json!("record")),
                            ("name", json!(MAP_ENTRY)),
                            ("namespace", json!(NAMESPACE)),
                            ("fields", Json::Array(fields)),
                        ]),
                    )?;
                    object([("type", json!("array")), ("items", entry)])
                }
            }
            SchemaType::Struct if schema.name.as_deref() == Some(UNION) => {
                let mut branches = Vec::new();
                if schema.optional {
                    branches.push(json!("null"));
                }
                for field in &schema.fields {
                    let mut member = (*field.schema).clone();
                    member.optional = false;
                    branches.push(self.schema(&member, true)?);
                }
                return Ok(Json::Array(branches));
            }
            SchemaType::Struct if schema.optional && !ignore_optional => {
                let mut required = schema.clone();
                required.optional = false;
                let inner = self.schema(&required, false)?;
                return Ok(match schema.default {
                    Some(_) => json!([inner, "null"]),
                    None => json!(["null", inner]),
                });
            }
            SchemaType::Struct => {
                let (namespace, name) = match schema.name.as_deref() {
                    Some(full) => split_name(full),
                    None => {
                        self.anonymous += 1;
                        (Some(NAMESPACE), DEFAULT_NAME)
                    }
                };
                let name = match (schema.name.is_none(), self.anonymous) {
                    (true, n) if n > 1 => format!("{DEFAULT_NAME}{n}"),
                    _ => name.to_string(),
                };
                let mut record = object([("type", json!("record")), ("name", json!(name))]);
                if let Some(ns) = namespace {
                    record.insert("namespace".into(), json!(ns));
                }
                if let Some(doc) = schema.parameters.get(CONNECT_RECORD_DOC) {
                    record.insert("doc".into(), json!(doc));
                }
                let fields = schema
                    .fields
                    .iter()
                    .map(|f| self.field(&f.name, &f.schema))
                    .collect::<Result<Vec<_>>>()?;
                record.insert("fields".into(), Json::Array(fields));
                record
            }
        };
        if self.options.connect_meta_data {
            if let Some(doc) = &schema.doc {
                base.insert(CONNECT_DOC.into(), json!(doc));
            }
            if let Some(version) = schema.version {
                base.insert(CONNECT_VERSION.into(), json!(version));
            }
            if !schema.parameters.is_empty() {
                base.insert(CONNECT_PARAMETERS.into(), json!(schema.parameters));
            }
            if let Some(default) = &schema.default {
                base.insert(CONNECT_DEFAULT.into(), default_to_avro(schema, default)?);
            }
            if let Some(name) = &schema.name {
                base.insert(CONNECT_NAME.into(), json!(name));
            }
            if let Some(t) = connect_type {
                base.insert(CONNECT_TYPE.into(), json!(t));
            }
        }
        let logical_type = match schema.name.as_deref() {
            Some(logical::DECIMAL) => Some("decimal"),
            Some(logical::TIME) => Some("time-millis"),
            Some(logical::TIMESTAMP) => Some("timestamp-millis"),
            Some(logical::DATE) => Some("date"),
            _ => None,
        };
        if let Some(t) = logical_type {
            base.insert("logicalType".into(), json!(t));
        }
        for (key, value) in &schema.parameters {
            if key.starts_with("avro") {
                base.insert(key.clone(), json!(value));
            }
        }
        let base = match base.get("type").and_then(Json::as_str) {
            // A named type is written once, then by name.
            Some("record" | "enum") => {
                let full = full_name(&base);
                self.named_full(&full, Json::Object(base))?
            }
            _ if base.len() == 1 => base.remove("type").unwrap_or(Json::Null),
            _ => Json::Object(base),
        };
        Ok(if schema.optional && !ignore_optional {
            match schema.default {
                Some(_) => json!([base, "null"]),
                None => json!(["null", base]),
            }
        } else {
            base
        })
    }

    fn enum_schema(&self, schema: &Schema, name: &str) -> Map<String, Json> {
        let symbols: Vec<&String> = schema
            .parameters
            .iter()
            .filter(|(k, _)| k.starts_with(ENUM) && k.len() > ENUM.len() + 1)
            .map(|(_, v)| v)
            .collect();
        let (namespace, simple) = split_name(name);
        let mut out = object([("type", json!("enum")), ("name", json!(simple))]);
        if let Some(ns) = namespace {
            out.insert("namespace".into(), json!(ns));
        }
        if let Some(doc) = schema.parameters.get(CONNECT_ENUM_DOC) {
            out.insert("doc".into(), json!(doc));
        }
        out.insert("symbols".into(), json!(symbols));
        out
    }

    fn field(&mut self, name: &str, schema: &Schema) -> Result<Json> {
        let mut field = object([("name", json!(name)), ("type", self.schema(schema, false)?)]);
        if let Some(doc) = &schema.doc {
            field.insert("doc".into(), json!(doc));
        }
        match &schema.default {
            Some(default) => {
                field.insert("default".into(), default_to_avro(schema, default)?);
            }
            None if schema.optional => {
                field.insert("default".into(), Json::Null);
            }
            None => {}
        }
        Ok(Json::Object(field))
    }

    fn named(
        &mut self,
        name: &str,
        namespace: &str,
        definition: Map<String, Json>,
    ) -> Result<Json> {
        self.named_full(&format!("{namespace}.{name}"), Json::Object(definition))
    }

    fn named_full(&mut self, full: &str, definition: Json) -> Result<Json> {
        match self.defined.get(full) {
            None => {
                self.defined.insert(full.to_string(), definition.clone());
                Ok(definition)
            }
            Some(known) if *known == definition => Ok(json!(full)),
            Some(_) => Err(ConnectError::data(format!("Can't redefine: {full}"))),
        }
    }
}

fn primitive(name: &str) -> Map<String, Json> {
    object([("type", json!(name))])
}

fn object<const N: usize>(entries: [(&str, Json); N]) -> Map<String, Json> {
    entries
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
}

fn child<'a>(schema: Option<&'a SchemaRef>, what: &str) -> Result<&'a Schema> {
    schema
        .map(|s| s.as_ref())
        .ok_or_else(|| ConnectError::data(format!("A Connect {what} schema is missing")))
}

fn split_name(full: &str) -> (Option<&str>, &str) {
    match full.rfind('.') {
        Some(dot) => (Some(&full[..dot]), &full[dot + 1..]),
        None => (None, full),
    }
}

fn full_name(definition: &Map<String, Json>) -> String {
    let name = definition
        .get("name")
        .and_then(Json::as_str)
        .unwrap_or_default();
    match definition.get("namespace").and_then(Json::as_str) {
        Some(ns) if !ns.is_empty() => format!("{ns}.{name}"),
        _ => name.to_string(),
    }
}

/// A Connect default value as an Avro default (bytes as ISO-8859-1 text, as the spec says).
fn default_to_avro(schema: &Schema, value: &Value) -> Result<Json> {
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
        Value::Bytes(v) => json!(latin1(v)),
        Value::Decimal(d) => json!(latin1(&d.to_bytes())),
        Value::Array(items) => {
            let items_schema = child(schema.value_schema.as_ref(), "array")?;
            Json::Array(
                items
                    .iter()
                    .map(|v| default_to_avro(items_schema, v))
                    .collect::<Result<_>>()?,
            )
        }
        Value::Map(entries) => {
            let keys = child(schema.key_schema.as_ref(), "map keys")?;
            let values = child(schema.value_schema.as_ref(), "map values")?;
            if keys.schema_type == SchemaType::String && !keys.optional {
                let mut out = Map::new();
                for (k, v) in entries {
                    let Value::String(k) = k else {
                        return Err(ConnectError::data("A map default has a non-string key"));
                    };
                    out.insert(k.clone(), default_to_avro(values, v)?);
                }
                Json::Object(out)
            } else {
                Json::Array(
                    entries
                        .iter()
                        .map(|(k, v)| {
                            Ok(json!({"key": default_to_avro(keys, k)?, "value": default_to_avro(values, v)?}))
                        })
                        .collect::<Result<_>>()?,
                )
            }
        }
        Value::Struct(s) => {
            let mut out = Map::new();
            for field in &schema.fields {
                out.insert(
                    field.name.clone(),
                    default_to_avro(&field.schema, s.value_at(field.index))?,
                );
            }
            Json::Object(out)
        }
    })
}

fn latin1(bytes: &[u8]) -> String {
    bytes.iter().map(|&b| char::from(b)).collect()
}

/// The Connect schema for an Avro schema; `version` (the subject version the registry gave the
/// schema) becomes the schema's version when the schema carries none of its own.
pub fn to_connect(avro: &AvroSchema, options: Options, version: Option<i32>) -> Result<SchemaRef> {
    let mut walk = ToConnect {
        avro,
        options,
        visiting: Vec::new(),
    };
    walk.schema(avro.root, false, None, None, version)
}

struct ToConnect<'a> {
    avro: &'a AvroSchema,
    options: Options,
    /// Records being converted, to refuse recursive schemas (Connect schemas cannot loop).
    visiting: Vec<NodeId>,
}

impl ToConnect<'_> {
    fn schema(
        &mut self,
        id: NodeId,
        force_optional: bool,
        field_default: Option<&Json>,
        field_doc: Option<&str>,
        version: Option<i32>,
    ) -> Result<SchemaRef> {
        let avro = self.avro;
        let node = avro.node(id);
        let props = props_of(node);
        let prop_str = |key: &str| props.and_then(|p| p.get(key)).and_then(Json::as_str);
        let logical_type = prop_str("logicalType");
        let mut builder = match node {
            Node::Primitive { kind, .. } => match kind {
                Kind::Boolean => SchemaBuilder::new(SchemaType::Boolean),
                Kind::Int => match (logical_type, prop_str(CONNECT_TYPE)) {
                    (Some("date"), _) => SchemaBuilder::date(),
                    (Some("time-millis"), _) => SchemaBuilder::time(),
                    (Some(_), _) | (None, None) => SchemaBuilder::new(SchemaType::Int32),
                    (None, Some("int8")) => SchemaBuilder::new(SchemaType::Int8),
                    (None, Some("int16")) => SchemaBuilder::new(SchemaType::Int16),
                    (None, Some(other)) => {
                        return Err(ConnectError::data(format!(
                            "Connect type annotation for Avro int field is not supported: {other}"
                        )))
                    }
                },
                Kind::Long if logical_type == Some("timestamp-millis") => {
                    SchemaBuilder::timestamp()
                }
                Kind::Long => SchemaBuilder::new(SchemaType::Int64),
                Kind::Float => SchemaBuilder::new(SchemaType::Float32),
                Kind::Double => SchemaBuilder::new(SchemaType::Float64),
                Kind::String => SchemaBuilder::new(SchemaType::String),
                Kind::Bytes => bytes_or_decimal(props, logical_type)?,
                Kind::Null => {
                    return Err(ConnectError::data(
                        "Standalone null schemas are not supported by this converter",
                    ))
                }
                other => {
                    return Err(ConnectError::data(format!(
                        "Couldn't translate unsupported schema type {}.",
                        other.avro_name()
                    )))
                }
            },
            Node::Fixed { .. } => bytes_or_decimal(props, logical_type)?,
            Node::Array { items, .. } => match self.map_entry(*items) {
                Some((key, value)) => {
                    let key = self.schema(key, false, None, None, None)?;
                    let value = self.schema(value, false, None, None, None)?;
                    SchemaBuilder::map(key, value)
                }
                None => SchemaBuilder::array(self.schema(*items, false, None, None, None)?),
            },
            Node::Map { values, .. } => SchemaBuilder::map(
                Schema::string(),
                self.schema(*values, false, None, None, None)?,
            ),
            Node::Record { fields, .. } => {
                if self.visiting.contains(&id) {
                    return Err(ConnectError::data(format!(
                        "Recursive Avro schemas cannot be represented in Connect: {}",
                        node.named().map(|n| n.name.full()).unwrap_or_default()
                    )));
                }
                self.visiting.push(id);
                let mut builder = SchemaBuilder::struct_();
                for field in fields {
                    let schema = self.schema(
                        field.ty,
                        false,
                        field.default.as_ref(),
                        field.doc.as_deref(),
                        None,
                    )?;
                    builder = builder.field(&field.name, schema)?;
                }
                self.visiting.pop();
                builder
            }
            Node::Enum { named, symbols, .. } => {
                let mut builder = SchemaBuilder::new(SchemaType::String);
                if let Some(doc) = &named.doc {
                    builder = builder.parameter(CONNECT_ENUM_DOC, doc);
                }
                builder = builder.parameter(ENUM, &named.name.full());
                for symbol in symbols {
                    builder = builder.parameter(&format!("{ENUM}.{symbol}"), symbol);
                }
                builder
            }
            Node::Union { branches } => {
                let non_null: Vec<NodeId> = branches
                    .iter()
                    .copied()
                    .filter(|b| avro.node(*b).kind() != Kind::Null)
                    .collect();
                if branches.len() == 2 && non_null.len() == 1 {
                    return self.schema(non_null[0], true, field_default, field_doc, version);
                }
                let mut builder = SchemaBuilder::struct_().name(UNION);
                if non_null.len() < branches.len() {
                    builder = builder.optional();
                }
                for branch in non_null {
                    let name = self.branch_name(branch);
                    let schema = self.schema(branch, true, None, None, None)?;
                    builder = builder.field(&name, schema).map_err(|_| {
                        ConnectError::data(
                            "Multiple union schemas map to the Connect union field name",
                        )
                    })?;
                }
                builder
            }
        };
        let named = node.named();
        let doc = field_doc
            .map(str::to_string)
            .or_else(|| named.and_then(|n| n.doc.clone()))
            .or_else(|| prop_str(CONNECT_DOC).map(str::to_string));
        if let Some(doc) = doc {
            builder = builder.doc(&doc);
        }
        if let (Node::Record { .. }, Some(doc)) = (node, named.and_then(|n| n.doc.as_deref())) {
            builder = builder.parameter(CONNECT_RECORD_DOC, doc);
        }
        match props.and_then(|p| p.get(CONNECT_VERSION)) {
            Some(v) => {
                let v = v
                    .as_i64()
                    .and_then(|v| i32::try_from(v).ok())
                    .ok_or_else(|| {
                        ConnectError::data(format!("Invalid Connect version found: {v}"))
                    })?;
                builder = builder.version(v);
            }
            None => {
                if let Some(v) = version {
                    builder = builder.version(v);
                }
            }
        }
        if let Some(parameters) = props.and_then(|p| p.get(CONNECT_PARAMETERS)) {
            let Json::Object(parameters) = parameters else {
                return Err(ConnectError::data(format!(
                    "Expected JSON object for schema parameters but found: {parameters}"
                )));
            };
            for (key, value) in parameters {
                let Json::String(value) = value else {
                    return Err(ConnectError::data(format!(
                        "Expected schema parameter values to be strings but found: {value}"
                    )));
                };
                builder = builder.parameter(key, value);
            }
        }
        for (key, value) in props.into_iter().flatten() {
            if let (true, Json::String(value)) = (key.starts_with("avro"), value) {
                builder = builder.parameter(key, value);
            }
        }
        let name = match prop_str(CONNECT_NAME) {
            Some(name) => Some(name.to_string()),
            None if matches!(node, Node::Record { .. } | Node::Enum { .. }) => {
                named.map(|n| n.name.full())
            }
            None => None,
        };
        if let Some(name) =
            name.filter(|n| n != DEFAULT_FULL_NAME && !n.starts_with(DEFAULT_FULL_NAME))
        {
            builder = builder.name(&name);
        }
        if force_optional {
            builder = builder.optional();
        }
        let default = field_default.or_else(|| props.and_then(|p| p.get(CONNECT_DEFAULT)));
        if let Some(default) = default {
            let partial = builder.build();
            let value = default_from_avro(avro, id, &partial, default)?;
            builder = SchemaBuilder::from_schema(&partial);
            if !value.is_null() {
                builder = builder.default_value(value)?;
            }
        }
        Ok(builder.build())
    }

    /// The key and value types when `items` is Confluent's `MapEntry` record.
    fn map_entry(&self, items: NodeId) -> Option<(NodeId, NodeId)> {
        let Node::Record { named, fields, .. } = self.avro.node(items) else {
            return None;
        };
        if named.name.name != MAP_ENTRY || named.name.namespace.as_deref() != Some(NAMESPACE) {
            return None;
        }
        let ty = |name: &str| fields.iter().find(|f| f.name == name).map(|f| f.ty);
        match (fields.len(), ty("key"), ty("value")) {
            (2, Some(k), Some(v)) => Some((k, v)),
            _ => None,
        }
    }

    /// The field a union branch becomes in the Connect union struct.
    fn branch_name(&self, branch: NodeId) -> String {
        let node = self.avro.node(branch);
        match (node, node.named()) {
            (Node::Record { .. } | Node::Enum { .. }, Some(named)) => {
                if self.options.enhanced {
                    named.name.full()
                } else {
                    named.name.name.clone()
                }
            }
            _ => node.kind().avro_name().to_string(),
        }
    }
}

fn props_of(node: &Node) -> Option<&Map<String, Json>> {
    match node {
        Node::Primitive { props, .. }
        | Node::Record { props, .. }
        | Node::Enum { props, .. }
        | Node::Fixed { props, .. }
        | Node::Array { props, .. }
        | Node::Map { props, .. } => Some(props),
        Node::Union { .. } => None,
    }
}

fn bytes_or_decimal(
    props: Option<&Map<String, Json>>,
    logical_type: Option<&str>,
) -> Result<SchemaBuilder> {
    if !logical_type.is_some_and(|t| t.eq_ignore_ascii_case("decimal")) {
        return Ok(SchemaBuilder::new(SchemaType::Bytes));
    }
    let number = |key: &str| props.and_then(|p| p.get(key)).map(|v| v.as_i64());
    let scale = match number("scale") {
        Some(Some(scale)) => i32::try_from(scale)
            .map_err(|_| ConnectError::data("scale must be specified and must be a number."))?,
        // Avro's default scale.
        None => 0,
        Some(None) => {
            return Err(ConnectError::data(
                "scale must be specified and must be a number.",
            ))
        }
    };
    let precision = match number("precision") {
        Some(Some(p)) => p,
        Some(None) => {
            return Err(ConnectError::data(
                "precision property must be a JSON Integer. https://avro.apache.org/docs/1.10.2/spec.html#Decimal",
            ))
        }
        None => i64::from(DEFAULT_PRECISION),
    };
    Ok(SchemaBuilder::decimal(scale).parameter(DECIMAL_PRECISION, &precision.to_string()))
}

/// An Avro default (JSON) as a Connect value of `schema`.
fn default_from_avro(avro: &AvroSchema, id: NodeId, schema: &Schema, json: &Json) -> Result<Value> {
    let bad = || {
        ConnectError::data(format!(
            "Invalid default value {json} for a {} schema",
            schema.schema_type
        ))
    };
    let node = avro.node(id);
    if json.is_null() {
        return Ok(Value::Null);
    }
    Ok(match node {
        Node::Union { branches } => {
            let Some(first) = branches.first() else {
                return Ok(Value::Null);
            };
            if avro.node(*first).kind() == Kind::Null {
                return Ok(Value::Null);
            }
            if schema.name.as_deref() == Some(UNION) {
                // A default for a general union is rare; Connect cannot hold it without a branch.
                return Ok(Value::Null);
            }
            default_from_avro(avro, *first, schema, json)?
        }
        Node::Record { fields, .. } => {
            let Json::Object(object) = json else {
                return Err(bad());
            };
            let mut values = Vec::with_capacity(schema.fields.len());
            for (field, avro_field) in schema.fields.iter().zip(fields) {
                values.push(match object.get(&avro_field.name) {
                    Some(v) => default_from_avro(avro, avro_field.ty, &field.schema, v)?,
                    None => Value::Null,
                });
            }
            Value::Struct(sluice_connect_api::Struct::from_values(
                std::sync::Arc::new(schema.clone()),
                values,
            )?)
        }
        Node::Array { items, .. } => {
            let Json::Array(list) = json else {
                return Err(bad());
            };
            match (
                schema.schema_type,
                schema.key_schema.as_ref(),
                schema.value_schema.as_ref(),
            ) {
                (SchemaType::Array, _, Some(items_schema)) => Value::Array(
                    list.iter()
                        .map(|v| default_from_avro(avro, *items, items_schema, v))
                        .collect::<Result<_>>()?,
                ),
                _ => return Err(bad()),
            }
        }
        Node::Map { values, .. } => {
            let (Json::Object(object), Some(values_schema)) = (json, schema.value_schema.as_ref())
            else {
                return Err(bad());
            };
            Value::Map(
                object
                    .iter()
                    .map(|(k, v)| {
                        Ok((
                            Value::String(k.clone()),
                            default_from_avro(avro, *values, values_schema, v)?,
                        ))
                    })
                    .collect::<Result<_>>()?,
            )
        }
        _ => match (schema.schema_type, json) {
            (SchemaType::Int8, Json::Number(n)) => Value::Int8(n.as_i64().ok_or_else(bad)? as i8),
            (SchemaType::Int16, Json::Number(n)) => {
                Value::Int16(n.as_i64().ok_or_else(bad)? as i16)
            }
            (SchemaType::Int32, Json::Number(n)) => {
                let v = n
                    .as_i64()
                    .and_then(|v| i32::try_from(v).ok())
                    .ok_or_else(bad)?;
                match schema.logical() {
                    Some(logical::DATE) => Value::Date(v),
                    Some(logical::TIME) => Value::Time(v),
                    _ => Value::Int32(v),
                }
            }
            (SchemaType::Int64, Json::Number(n)) => {
                let v = n.as_i64().ok_or_else(bad)?;
                match schema.logical() {
                    Some(logical::TIMESTAMP) => Value::Timestamp(v),
                    _ => Value::Int64(v),
                }
            }
            (SchemaType::Float32, Json::Number(n)) => {
                Value::Float32(n.as_f64().ok_or_else(bad)? as f32)
            }
            (SchemaType::Float64, Json::Number(n)) => Value::Float64(n.as_f64().ok_or_else(bad)?),
            (SchemaType::Boolean, Json::Bool(b)) => Value::Boolean(*b),
            (SchemaType::String, Json::String(s)) => Value::String(s.clone()),
            (SchemaType::Bytes, Json::String(s)) => {
                let bytes: Vec<u8> = s
                    .chars()
                    .map(|c| u8::try_from(u32::from(c)).unwrap_or(b'?'))
                    .collect();
                match schema.logical() {
                    Some(logical::DECIMAL) => {
                        Value::Decimal(Decimal::from_bytes(&bytes, schema.decimal_scale()?)?)
                    }
                    _ => Value::Bytes(bytes),
                }
            }
            _ => return Err(bad()),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const OPTIONS: Options = Options {
        connect_meta_data: true,
        enhanced: false,
    };

    fn round_trip(schema: &SchemaRef) -> (Json, SchemaRef) {
        let json = to_avro(schema, OPTIONS).expect("to avro");
        let parsed = AvroSchema::parse(&json.to_string(), &[], true).expect("valid avro");
        (
            json,
            to_connect(&parsed, OPTIONS, None).expect("to connect"),
        )
    }

    #[test]
    fn primitives_and_logical_types_are_written_as_confluent_writes_them() {
        let (json, _) = round_trip(&Schema::int8());
        assert_eq!(json, json!({"type": "int", "connect.type": "int8"}));
        let (json, back) = round_trip(&SchemaBuilder::decimal(2).build());
        assert_eq!(
            json.to_string(),
            r#"{"type":"bytes","scale":2,"precision":38,"connect.version":1,"connect.parameters":{"scale":"2"},"connect.name":"org.apache.kafka.connect.data.Decimal","logicalType":"decimal"}"#
        );
        assert_eq!(back.logical(), Some(logical::DECIMAL));
        assert_eq!(back.decimal_scale().ok(), Some(2));
        let (json, back) = round_trip(&SchemaBuilder::timestamp().optional().build());
        assert_eq!(
            json.to_string(),
            r#"["null",{"type":"long","connect.version":1,"connect.name":"org.apache.kafka.connect.data.Timestamp","logicalType":"timestamp-millis"}]"#
        );
        assert!(back.optional);
        assert_eq!(back.logical(), Some(logical::TIMESTAMP));
    }

    #[test]
    fn structs_maps_and_unions_map_both_ways() {
        let inner = SchemaBuilder::struct_()
            .field("a", Schema::int16())
            .expect("field")
            .build();
        let schema = SchemaBuilder::struct_()
            .name("com.acme.Order")
            .field("id", Schema::int64())
            .and_then(|b| b.field("note", Schema::optional_string()))
            .and_then(|b| {
                b.field(
                    "counts",
                    SchemaBuilder::map(Schema::int32(), Schema::string()).build(),
                )
            })
            .and_then(|b| b.field("inner", inner))
            .expect("fields")
            .build();
        let (json, back) = round_trip(&schema);
        assert_eq!(json["name"], "Order");
        assert_eq!(json["namespace"], "com.acme");
        assert_eq!(json["fields"][1]["type"], json!(["null", "string"]));
        assert_eq!(json["fields"][1]["default"], Json::Null);
        assert_eq!(json["fields"][2]["type"]["items"]["name"], "MapEntry");
        assert_eq!(json["fields"][3]["type"]["name"], "ConnectDefault");
        assert_eq!(back.name.as_deref(), Some("com.acme.Order"));
        assert_eq!(back.fields[2].schema.schema_type, SchemaType::Map);
        assert_eq!(
            back.fields[2]
                .schema
                .key_schema
                .as_ref()
                .map(|k| k.schema_type),
            Some(SchemaType::Int32)
        );
        assert_eq!(
            back.fields[3].schema.name, None,
            "ConnectDefault is no name"
        );
        assert_eq!(
            back.fields[3].schema.fields[0].schema.schema_type,
            SchemaType::Int16
        );

        let union = AvroSchema::parse(
            r#"{"type":"record","name":"R","fields":[{"name":"u","type":["null","string","int",{"type":"record","name":"P","fields":[]}]},{"name":"e","type":{"type":"enum","name":"Color","namespace":"x","symbols":["RED","BLUE"]}}]}"#,
            &[],
            true,
        )
        .expect("parse");
        let back = to_connect(&union, OPTIONS, Some(3)).expect("connect");
        assert_eq!(back.version, Some(3));
        let u = &back.fields[0].schema;
        assert_eq!(u.name.as_deref(), Some(UNION));
        assert!(u.optional);
        let names: Vec<&str> = u.fields.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["string", "int", "P"]);
        let e = &back.fields[1].schema;
        assert_eq!(e.schema_type, SchemaType::String);
        assert_eq!(e.parameters.get(ENUM).map(String::as_str), Some("x.Color"));
        assert_eq!(
            e.parameters
                .get("io.confluent.connect.avro.Enum.RED")
                .map(String::as_str),
            Some("RED")
        );
    }

    #[test]
    fn recursive_avro_is_refused_with_a_reason() {
        let recursive = AvroSchema::parse(
            r#"{"type":"record","name":"Node","fields":[{"name":"next","type":["null","Node"]}]}"#,
            &[],
            true,
        )
        .expect("parse");
        let err = to_connect(&recursive, OPTIONS, None).expect_err("recursive");
        assert!(err.to_string().contains("Recursive"), "{err}");
    }
}
