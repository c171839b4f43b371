//! Schema JSON -> model, following Java `Schema.parse` (Avro 1.11) closely so
//! that what Confluent accepts, we accept, and the same attributes survive.

use std::collections::{HashMap, HashSet};

use serde_json::{Map, Value};

use crate::error::SchemaError;
use crate::model::{AvroSchema, Field, Kind, Name, Named, Node, NodeId, Order, Props};
use crate::validate;

/// Schema nesting limit; deeper input is refused rather than risking the stack.
pub(crate) const MAX_DEPTH: usize = 200;

/// Attributes with a meaning of their own; everything else is a custom property.
const SCHEMA_RESERVED: &[&str] = &[
    "doc",
    "fields",
    "items",
    "name",
    "namespace",
    "size",
    "symbols",
    "values",
    "type",
    "aliases",
];
const FIELD_RESERVED: &[&str] = &["default", "doc", "name", "order", "type", "aliases"];

impl AvroSchema {
    /// Parses schema JSON text. `references` are already-parsed schemas whose
    /// named types this one may use by name; `strict` adds the validation that
    /// Confluent applies to new schemas (names, defaults, duplicates).
    pub fn parse(
        text: &str,
        references: &[AvroSchema],
        strict: bool,
    ) -> Result<AvroSchema, SchemaError> {
        let json: Value = serde_json::from_str(text).map_err(|e| {
            if e.to_string().contains("recursion limit") {
                SchemaError::TooDeep
            } else {
                SchemaError::InvalidJson(e.to_string())
            }
        })?;
        let mut parser = Parser {
            nodes: Vec::new(),
            names: HashMap::new(),
            space: None,
            strict,
        };
        for reference in references {
            parser.import(reference);
        }
        let root = parser.parse(&json, 0)?;
        Ok(AvroSchema {
            nodes: parser.nodes,
            root,
        })
    }
}

struct Parser {
    nodes: Vec<Node>,
    /// Full name -> defining node.
    names: HashMap<String, NodeId>,
    /// The enclosing namespace (Java `Names.space`).
    space: Option<String>,
    strict: bool,
}

impl Parser {
    /// Copies a referenced schema's arena so its named types resolve here.
    fn import(&mut self, reference: &AvroSchema) {
        let offset = self.nodes.len();
        for (index, node) in reference.nodes.iter().enumerate() {
            let mut copy = node.shifted(offset);
            if let Node::Record { named, .. }
            | Node::Enum { named, .. }
            | Node::Fixed { named, .. } = &mut copy
            {
                named.from_reference = true;
                // The same type reached through two references is one type.
                self.names
                    .entry(named.name.full())
                    .or_insert(offset + index);
            }
            self.nodes.push(copy);
        }
    }

    fn push(&mut self, node: Node) -> NodeId {
        self.nodes.push(node);
        self.nodes.len() - 1
    }

    fn parse(&mut self, json: &Value, depth: usize) -> Result<NodeId, SchemaError> {
        if depth > MAX_DEPTH {
            return Err(SchemaError::TooDeep);
        }
        match json {
            Value::String(name) => self
                .resolve(name)
                .ok_or_else(|| SchemaError::UnknownType(name.clone())),
            Value::Array(branches) => self.parse_union(branches, depth),
            Value::Object(object) => self.parse_object(object, depth),
            other => Err(SchemaError::Malformed(format!(
                "Schema not yet supported: {other}"
            ))),
        }
    }

    /// A type used by name: primitives first, then the current namespace, then
    /// the null namespace (Java `Names.get`).
    fn resolve(&mut self, name: &str) -> Option<NodeId> {
        if let Some(kind) = Kind::primitive(name) {
            return Some(self.push(Node::Primitive {
                kind,
                props: Props::new(),
            }));
        }
        let in_space = Name::new(name, self.space.as_deref()).full();
        self.names
            .get(&in_space)
            .or_else(|| self.names.get(name))
            .copied()
    }

    fn parse_union(&mut self, items: &[Value], depth: usize) -> Result<NodeId, SchemaError> {
        let mut branches = Vec::with_capacity(items.len());
        let mut seen = HashSet::new();
        for item in items {
            let id = self.parse(item, depth + 1)?;
            let node = &self.nodes[id];
            if node.kind() == Kind::Union {
                return Err(SchemaError::NestedUnion(
                    Value::Array(items.to_vec()).to_string(),
                ));
            }
            // Branches are told apart by full name, or by type for unnamed ones.
            let key = match node.named() {
                Some(named) => named.name.full(),
                None => node.kind().avro_name().to_string(),
            };
            if !seen.insert(key.clone()) {
                return Err(SchemaError::DuplicateInUnion(key));
            }
            branches.push(id);
        }
        Ok(self.push(Node::Union { branches }))
    }

    fn parse_object(
        &mut self,
        object: &Map<String, Value>,
        depth: usize,
    ) -> Result<NodeId, SchemaError> {
        let Some(type_name) = object.get("type").and_then(Value::as_str) else {
            return Err(malformed("No type", object));
        };
        match type_name {
            "record" | "error" | "enum" | "fixed" => {
                let saved_space = self.space.clone();
                let result = self.parse_named(type_name, object, depth);
                self.space = saved_space;
                result
            }
            "array" => {
                let items = object
                    .get("items")
                    .ok_or_else(|| malformed("Array has no items type", object))?;
                let items = self.parse(items, depth + 1)?;
                let props = custom_props(object, SCHEMA_RESERVED);
                Ok(self.push(Node::Array { items, props }))
            }
            "map" => {
                let values = object
                    .get("values")
                    .ok_or_else(|| malformed("Map has no values type", object))?;
                let values = self.parse(values, depth + 1)?;
                let props = custom_props(object, SCHEMA_RESERVED);
                Ok(self.push(Node::Map { values, props }))
            }
            other => {
                if let Some(kind) = Kind::primitive(other) {
                    let props = custom_props(object, SCHEMA_RESERVED);
                    return Ok(self.push(Node::Primitive { kind, props }));
                }
                // `{"type": "SomeNamedType"}`: Java looks only in the current namespace.
                let full = Name::new(other, self.space.as_deref()).full();
                self.names
                    .get(&full)
                    .copied()
                    .ok_or_else(|| SchemaError::UnknownType(other.to_string()))
            }
        }
    }

    fn parse_named(
        &mut self,
        type_name: &str,
        object: &Map<String, Value>,
        depth: usize,
    ) -> Result<NodeId, SchemaError> {
        let raw_name = object
            .get("name")
            .and_then(Value::as_str)
            .ok_or_else(|| malformed("No name in schema", object))?;
        let namespace = match object.get("namespace").and_then(Value::as_str) {
            Some(ns) => Some(ns.to_string()),
            None => self.space.clone(),
        };
        let name = Name::new(raw_name, namespace.as_deref());
        if self.strict {
            validate::check_simple_name(&name.name)?;
            if let Some(ns) = &name.namespace {
                validate::check_dotted_name(ns)?;
            }
        }
        let full = name.full();
        if Kind::primitive(&full).is_some() {
            return Err(SchemaError::NamedAfterPrimitive(full));
        }
        let aliases = self.parse_type_aliases(object, &name)?;
        let named = Named {
            name: name.clone(),
            doc: text(object, "doc"),
            aliases,
            from_reference: false,
        };
        // Nested definitions inherit this type's namespace.
        self.space = name.namespace.clone();
        // An enum's `default` is its own attribute, not a custom property.
        let props = if type_name == "enum" {
            custom_props(object, SCHEMA_RESERVED)
                .into_iter()
                .filter(|(k, _)| k != "default")
                .collect()
        } else {
            custom_props(object, SCHEMA_RESERVED)
        };
        match type_name {
            "record" | "error" => {
                // Registered before its fields so they can refer to it.
                let id = self.push(Node::Record {
                    named,
                    is_error: type_name == "error",
                    fields: Vec::new(),
                    props,
                });
                self.register(full.clone(), id)?;
                let fields = self.parse_fields(object, &full, depth)?;
                if let Node::Record { fields: slot, .. } = &mut self.nodes[id] {
                    *slot = fields;
                }
                Ok(id)
            }
            "enum" => {
                let (symbols, default) = self.parse_symbols(object)?;
                let id = self.push(Node::Enum {
                    named,
                    symbols,
                    default,
                    props,
                });
                self.register(full, id)?;
                Ok(id)
            }
            _ => {
                let size = object
                    .get("size")
                    .and_then(Value::as_i64)
                    .and_then(|n| i32::try_from(n).ok())
                    .and_then(|n| u32::try_from(n).ok())
                    .ok_or_else(|| malformed("Invalid or no size", object))?;
                let id = self.push(Node::Fixed { named, size, props });
                self.register(full, id)?;
                Ok(id)
            }
        }
    }

    fn register(&mut self, full: String, id: NodeId) -> Result<(), SchemaError> {
        if self.names.contains_key(&full) {
            return Err(SchemaError::Redefined(full));
        }
        self.names.insert(full, id);
        Ok(())
    }

    fn parse_type_aliases(
        &self,
        object: &Map<String, Value>,
        name: &Name,
    ) -> Result<Vec<Name>, SchemaError> {
        let mut aliases: Vec<Name> = Vec::new();
        let mut seen = HashSet::new();
        for alias in string_list(object, "aliases")? {
            if self.strict {
                validate::check_dotted_name(&alias)?;
            }
            let alias = Name::new(&alias, name.namespace.as_deref());
            if seen.insert(alias.full()) {
                aliases.push(alias);
            }
        }
        Ok(aliases)
    }

    fn parse_symbols(
        &self,
        object: &Map<String, Value>,
    ) -> Result<(Vec<String>, Option<String>), SchemaError> {
        let Some(items) = object.get("symbols").and_then(Value::as_array) else {
            return Err(malformed("Enum has no symbols", object));
        };
        let mut symbols: Vec<String> = Vec::with_capacity(items.len());
        let mut seen = HashSet::new();
        for item in items {
            let symbol = item
                .as_str()
                .ok_or_else(|| malformed("Enum symbol is not a string", object))?;
            if self.strict {
                validate::check_simple_name(symbol)?;
                if !seen.insert(symbol) {
                    return Err(SchemaError::DuplicateSymbol(symbol.to_string()));
                }
            }
            symbols.push(symbol.to_string());
        }
        // Java ignores a non-string enum default.
        let default = text(object, "default");
        if let Some(default) = &default {
            if self.strict && !symbols.contains(default) {
                return Err(SchemaError::EnumDefaultNotInSymbols(default.clone()));
            }
        }
        Ok((symbols, default))
    }

    fn parse_fields(
        &mut self,
        object: &Map<String, Value>,
        record: &str,
        depth: usize,
    ) -> Result<Vec<Field>, SchemaError> {
        let Some(items) = object.get("fields").and_then(Value::as_array) else {
            return Err(malformed("Record has no fields", object));
        };
        let mut fields: Vec<Field> = Vec::with_capacity(items.len());
        let mut seen = HashSet::new();
        for item in items {
            let empty = Map::new();
            let field_json = item.as_object().unwrap_or(&empty);
            let field = self.parse_field(field_json, item, depth)?;
            if self.strict && !seen.insert(field.name.clone()) {
                return Err(SchemaError::DuplicateField {
                    record: record.to_string(),
                    field: field.name,
                });
            }
            fields.push(field);
        }
        Ok(fields)
    }

    fn parse_field(
        &mut self,
        object: &Map<String, Value>,
        raw: &Value,
        depth: usize,
    ) -> Result<Field, SchemaError> {
        let name = object
            .get("name")
            .and_then(Value::as_str)
            .ok_or_else(|| SchemaError::Malformed(format!("No field name: {raw}")))?
            .to_string();
        if self.strict {
            validate::check_simple_name(&name)?;
        }
        let type_json = object
            .get("type")
            .ok_or_else(|| SchemaError::Malformed(format!("No field type: {raw}")))?;
        let ty = self.parse(type_json, depth + 1)?;
        let order = match object.get("order") {
            None => Order::Ascending,
            Some(order) => parse_order(order)?,
        };
        let default = match object.get("default") {
            Some(value) => Some(self.checked_default(&name, ty, value)?),
            None => None,
        };
        let aliases = dedup(string_list(object, "aliases")?);
        Ok(Field {
            name,
            doc: text(object, "doc"),
            ty,
            default,
            order,
            aliases,
            props: custom_props(object, FIELD_RESERVED),
        })
    }

    /// Java turns a string default of a float/double field into a number.
    fn checked_default(
        &self,
        field: &str,
        ty: NodeId,
        value: &Value,
    ) -> Result<Value, SchemaError> {
        let invalid = || SchemaError::InvalidDefault {
            field: field.to_string(),
            expected: validate::expected_description(&self.nodes, ty),
            got: value.to_string(),
        };
        let mut value = value.clone();
        let kind = self.nodes[ty].kind();
        if let (Kind::Float | Kind::Double, Value::String(s)) = (kind, &value) {
            match parse_java_double(s).and_then(serde_json::Number::from_f64) {
                Some(number) => value = Value::Number(number),
                None if self.strict => return Err(invalid()),
                None => {}
            }
        }
        if self.strict && !validate::is_valid_default(&self.nodes, ty, &value) {
            return Err(invalid());
        }
        Ok(value)
    }
}

fn malformed(what: &str, object: &Map<String, Value>) -> SchemaError {
    let mut json = Value::Object(object.clone()).to_string();
    if json.len() > 200 {
        let cut = (0..=200)
            .rev()
            .find(|i| json.is_char_boundary(*i))
            .unwrap_or(0);
        json.truncate(cut);
        json.push_str("...");
    }
    SchemaError::Malformed(format!("{what}: {json}"))
}

fn text(object: &Map<String, Value>, key: &str) -> Option<String> {
    object.get(key).and_then(Value::as_str).map(str::to_string)
}

fn custom_props(object: &Map<String, Value>, reserved: &[&str]) -> Props {
    object
        .iter()
        .filter(|(k, _)| !reserved.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

fn string_list(object: &Map<String, Value>, key: &str) -> Result<Vec<String>, SchemaError> {
    match object.get(key) {
        None => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| {
                item.as_str().map(str::to_string).ok_or_else(|| {
                    SchemaError::Malformed(format!("{key} entry not a string: {item}"))
                })
            })
            .collect(),
        Some(_) => Err(malformed(&format!("{key} not an array"), object)),
    }
}

fn dedup(items: Vec<String>) -> Vec<String> {
    let mut seen = HashSet::new();
    items
        .into_iter()
        .filter(|item| seen.insert(item.clone()))
        .collect()
}

fn parse_order(order: &Value) -> Result<Order, SchemaError> {
    let text = order.as_str().map(str::to_ascii_lowercase);
    match text.as_deref() {
        Some("ascending") => Ok(Order::Ascending),
        Some("descending") => Ok(Order::Descending),
        Some("ignore") => Ok(Order::Ignore),
        _ => Err(SchemaError::Malformed(format!(
            "Invalid field order: {order}"
        ))),
    }
}

/// Java `Double.valueOf` for the common spellings; non-finite values stay text
/// because plain JSON cannot carry them.
fn parse_java_double(text: &str) -> Option<f64> {
    let trimmed = text.trim();
    let body = trimmed
        .strip_suffix(['d', 'D', 'f', 'F'])
        .unwrap_or(trimmed);
    body.parse::<f64>().ok().filter(|v| v.is_finite())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_double_spellings() {
        assert_eq!(parse_java_double(" 1.5 "), Some(1.5));
        assert_eq!(parse_java_double("2f"), Some(2.0));
        assert_eq!(parse_java_double("abc"), None);
        assert_eq!(parse_java_double("NaN"), None);
    }

    #[test]
    fn field_default_on_float_becomes_number() {
        let s = AvroSchema::parse(
            r#"{"type":"record","name":"R","fields":[{"name":"f","type":"float","default":"1.5"}]}"#,
            &[],
            true,
        )
        .unwrap();
        match &s.nodes[s.root] {
            Node::Record { fields, .. } => {
                assert_eq!(fields[0].default, Some(serde_json::json!(1.5)))
            }
            other => panic!("not a record: {other:?}"),
        }
    }
}
