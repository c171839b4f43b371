//! What the transforms share: the operand a `$Key`/`$Value` variant works on, Kafka's
//! `Requirements` checks with their messages, the per-schema cache, parsed settings, and field
//! access that honours `replace.null.with.default`.

use std::collections::BTreeMap;

use sluice_connect_api::{
    ConfigDef, ConfigType, ConfigValue, ConnectError, ConnectRecord, Importance, Props, Result,
    SchemaRef, Struct, Value,
};

/// The part of a record a `$Key` or `$Value` transform works on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operand {
    Key,
    Value,
}

impl Operand {
    pub fn schema<R: ConnectRecord>(self, record: &R) -> Option<&SchemaRef> {
        match self {
            Operand::Key => record.key_schema(),
            Operand::Value => record.value_schema(),
        }
    }

    pub fn value<R: ConnectRecord>(self, record: &R) -> &Value {
        match self {
            Operand::Key => record.key(),
            Operand::Value => record.value(),
        }
    }

    /// The schema and value, leaving null in their place.
    pub fn take<R: ConnectRecord>(self, record: &mut R) -> (Option<SchemaRef>, Value) {
        match self {
            Operand::Key => record.take_key(),
            Operand::Value => record.take_value(),
        }
    }

    pub fn set<R: ConnectRecord>(self, record: &mut R, schema: Option<SchemaRef>, value: Value) {
        match self {
            Operand::Key => record.set_key(schema, value),
            Operand::Value => record.set_value(schema, value),
        }
    }
}

/// Kafka's `Requirements.requireMap`: a schemaless operand must be a map.
pub fn require_map(value: Value, purpose: &str) -> Result<Vec<(Value, Value)>> {
    match value {
        Value::Map(entries) => Ok(entries),
        other => Err(ConnectError::data(format!(
            "Only Map objects supported in absence of schema for [{purpose}], found: {}",
            other.type_name()
        ))),
    }
}

/// [`require_map`] on a borrowed value.
pub fn require_map_ref<'a>(value: &'a Value, purpose: &str) -> Result<&'a [(Value, Value)]> {
    match value {
        Value::Map(entries) => Ok(entries),
        other => Err(ConnectError::data(format!(
            "Only Map objects supported in absence of schema for [{purpose}], found: {}",
            other.type_name()
        ))),
    }
}

/// Kafka's `Requirements.requireStruct`: an operand with a schema must be a struct.
pub fn require_struct(value: Value, purpose: &str) -> Result<Struct> {
    match value {
        Value::Struct(s) => Ok(s),
        other => Err(not_a_struct(&other, purpose)),
    }
}

/// [`require_struct`] on a borrowed value.
pub fn require_struct_ref<'a>(value: &'a Value, purpose: &str) -> Result<&'a Struct> {
    match value {
        Value::Struct(s) => Ok(s),
        other => Err(not_a_struct(other, purpose)),
    }
}

fn not_a_struct(value: &Value, purpose: &str) -> ConnectError {
    ConnectError::data(format!(
        "Only Struct objects supported for [{purpose}], found: {}",
        value.type_name()
    ))
}

/// Kafka's `Requirements.requireSchema`.
pub fn require_schema<'a>(schema: Option<&'a SchemaRef>, purpose: &str) -> Result<&'a SchemaRef> {
    schema.ok_or_else(|| ConnectError::data(format!("Schema required for [{purpose}]")))
}

/// Kafka's `Requirements.requireSinkRecord`: only sink records have an offset.
pub fn require_sink_record<R: ConnectRecord>(record: &R, purpose: &str) -> Result<i64> {
    record.kafka_offset().ok_or_else(|| {
        ConnectError::data(format!(
            "Only SinkRecord supported for [{purpose}], found: org.apache.kafka.connect.source.SourceRecord"
        ))
    })
}

/// The value under a string key of a schemaless map.
pub fn map_get<'a>(entries: &'a [(Value, Value)], key: &str) -> Option<&'a Value> {
    entries
        .iter()
        .find(|(k, _)| matches!(k, Value::String(s) if s == key))
        .map(|(_, v)| v)
}

/// Puts `value` under `key`, replacing an entry with that key (a Java `HashMap.put`).
pub fn map_put(entries: &mut Vec<(Value, Value)>, key: &str, value: Value) {
    match entries
        .iter_mut()
        .find(|(k, _)| matches!(k, Value::String(s) if s == key))
    {
        Some(entry) => entry.1 = value,
        None => entries.push((Value::String(key.to_string()), value)),
    }
}

/// A struct field's value: with `replace_null_with_default`, a null becomes the field's default
/// (Kafka's `Struct.get`), else it stays null (`getWithoutDefault`).
pub fn field_value(value: &Struct, index: usize, replace_null_with_default: bool) -> &Value {
    let stored = value.value_at(index);
    if stored.is_null() && replace_null_with_default {
        if let Some(default) = value
            .schema()
            .fields
            .get(index)
            .and_then(|f| f.schema.default.as_ref())
        {
            return default;
        }
    }
    stored
}

/// A struct's schema, and its values moved out in schema order, each null replaced by its
/// field's default when `replace_null_with_default` (as [`field_value`] reads them), so a
/// transform rebuilding a struct copies nothing it keeps.
pub fn into_field_values(
    value: Struct,
    replace_null_with_default: bool,
) -> (SchemaRef, Vec<Value>) {
    let (schema, mut values) = value.into_parts();
    if replace_null_with_default {
        // Only a null looks at its field's schema: most values are set.
        for (v, field) in values.iter_mut().zip(&schema.fields) {
            if v.is_null() {
                if let Some(default) = &field.schema.default {
                    *v = default.clone();
                }
            }
        }
    }
    (schema, values)
}

/// Kafka's per-transform `LRUCache<Schema, Schema>` of 16: the schema a transform derives from
/// an input schema, built once, with a plan `P` for the values of that schema (which field to
/// cast, which to keep), so a record costs no lookup by field name. Records of one source share
/// their schema instance, so the lookup is nearly always a pointer comparison with the first
/// entry.
pub struct SchemaCache<P = ()> {
    /// Most recently used first.
    entries: Vec<(SchemaRef, SchemaRef, P)>,
}

impl<P> Default for SchemaCache<P> {
    fn default() -> Self {
        Self {
            entries: Vec::new(),
        }
    }
}

const SCHEMA_CACHE_SIZE: usize = 16;

impl<P> SchemaCache<P> {
    /// The schema and plan derived from `input`, built by `build` the first time.
    pub fn get_or_plan(
        &mut self,
        input: &SchemaRef,
        build: impl FnOnce(&SchemaRef) -> Result<(SchemaRef, P)>,
    ) -> Result<(SchemaRef, &P)> {
        let hit = self
            .entries
            .iter()
            .position(|(k, _, _)| std::sync::Arc::ptr_eq(k, input))
            .or_else(|| self.entries.iter().position(|(k, _, _)| k == input));
        match hit {
            Some(0) => {}
            Some(i) => {
                let entry = self.entries.remove(i);
                self.entries.insert(0, entry);
            }
            None => {
                let (built, plan) = build(input)?;
                self.entries
                    .insert(0, (std::sync::Arc::clone(input), built, plan));
                self.entries.truncate(SCHEMA_CACHE_SIZE);
            }
        }
        let (_, schema, plan) = &self.entries[0];
        Ok((std::sync::Arc::clone(schema), plan))
    }
}

impl SchemaCache<()> {
    /// The schema derived from `input`, built by `build` the first time.
    pub fn get_or_build(
        &mut self,
        input: &SchemaRef,
        build: impl FnOnce(&SchemaRef) -> Result<SchemaRef>,
    ) -> Result<SchemaRef> {
        self.get_or_plan(input, |s| Ok((build(s)?, ())))
            .map(|(schema, ())| schema)
    }
}

/// A transform's settings, parsed against its definition with defaults applied.
pub struct Settings(BTreeMap<String, ConfigValue>);

impl Settings {
    pub fn parse(def: &ConfigDef, props: &Props) -> Result<Self> {
        def.parse_or_error(props).map(Settings)
    }

    /// A STRING setting; empty when unset with no default.
    pub fn string(&self, key: &str) -> String {
        match self.0.get(key) {
            Some(ConfigValue::String(s) | ConfigValue::Password(s)) => s.clone(),
            Some(other) => other.display(),
            None => String::new(),
        }
    }

    pub fn list(&self, key: &str) -> Vec<String> {
        match self.0.get(key) {
            Some(ConfigValue::List(items)) => items.clone(),
            _ => Vec::new(),
        }
    }

    pub fn flag(&self, key: &str) -> bool {
        matches!(self.0.get(key), Some(ConfigValue::Boolean(true)))
    }

    pub fn int(&self, key: &str) -> Option<i64> {
        match self.0.get(key) {
            Some(ConfigValue::Int(n)) => Some(*n),
            _ => None,
        }
    }
}

/// The `replace.null.with.default` key most transforms take.
pub const REPLACE_NULL_WITH_DEFAULT: &str = "replace.null.with.default";

/// Adds `replace.null.with.default` (default true) to a transform's definition.
pub fn with_replace_null_with_default(def: ConfigDef) -> ConfigDef {
    def.define(
        REPLACE_NULL_WITH_DEFAULT,
        ConfigType::Boolean,
        Some("true"),
        Importance::Medium,
        "Whether a null field value is replaced by the field's default when the value is copied.",
    )
}

/// A schema as Kafka's `ConnectSchema.toString` shows it in messages: `Schema{name:TYPE}`.
pub fn describe_schema(schema: &sluice_connect_api::Schema) -> String {
    match &schema.name {
        Some(name) => format!("Schema{{{name}:{}}}", schema.schema_type),
        None => format!("Schema{{{}}}", schema.schema_type),
    }
}

/// A config error on `key`, worded as Kafka's `ConfigException(name, value, message)`.
pub fn invalid(key: &str, value: &str, message: &str) -> ConnectError {
    ConnectError::Config {
        key: key.to_string(),
        message: format!("Invalid value {value} for configuration {key}: {message}"),
    }
}

/// A config error whose message stands alone (Kafka's `ConfigException(message)`).
pub fn config_error(key: &str, message: impl Into<String>) -> ConnectError {
    ConnectError::Config {
        key: key.to_string(),
        message: message.into(),
    }
}
