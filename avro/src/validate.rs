//! Strict-mode checks applied to newly registered schemas: legal names and
//! default values that match their field type (Java `isValidDefault`).

use serde_json::Value;

use crate::error::SchemaError;
use crate::model::{Kind, Node, NodeId};

/// Defaults nest no deeper than their JSON, except a record default that omits a
/// field falls back to that field's own default, which can loop; cap it.
const MAX_DEFAULT_DEPTH: usize = 200;

/// One name segment, Java `validateName`: a letter or `_`, then letters, digits or `_`.
pub(crate) fn check_simple_name(name: &str) -> Result<(), SchemaError> {
    let mut chars = name.chars();
    let Some(first) = chars.next() else {
        return Err(SchemaError::IllegalName("Empty name".into()));
    };
    if !(first.is_alphabetic() || first == '_') {
        return Err(SchemaError::IllegalName(format!(
            "Illegal initial character: {name}"
        )));
    }
    if chars.any(|c| !(c.is_alphanumeric() || c == '_')) {
        return Err(SchemaError::IllegalName(format!(
            "Illegal character in: {name}"
        )));
    }
    Ok(())
}

/// A possibly dotted name: every segment must be a legal simple name.
pub(crate) fn check_dotted_name(name: &str) -> Result<(), SchemaError> {
    name.split('.')
        .try_for_each(check_simple_name)
        .map_err(|_| SchemaError::IllegalName(format!("Illegal character in: {name}")))
}

/// Whether `value` is an acceptable default for the type `id` (unions: first branch).
pub(crate) fn is_valid_default(nodes: &[Node], id: NodeId, value: &Value) -> bool {
    valid_at(nodes, id, value, 0)
}

fn valid_at(nodes: &[Node], id: NodeId, value: &Value, depth: usize) -> bool {
    if depth > MAX_DEFAULT_DEPTH {
        return false;
    }
    let Some(node) = nodes.get(id) else {
        return false;
    };
    match node {
        Node::Primitive { kind, .. } => match kind {
            Kind::Null => value.is_null(),
            Kind::Boolean => value.is_boolean(),
            Kind::Int => value.as_i64().is_some_and(|n| i32::try_from(n).is_ok()),
            Kind::Long => value.is_i64(),
            Kind::Float | Kind::Double => value.is_number(),
            Kind::Bytes | Kind::String => value.is_string(),
            _ => false,
        },
        Node::Enum { .. } | Node::Fixed { .. } => value.is_string(),
        Node::Array { items, .. } => value.as_array().is_some_and(|elements| {
            elements
                .iter()
                .all(|e| valid_at(nodes, *items, e, depth + 1))
        }),
        Node::Map { values, .. } => value.as_object().is_some_and(|entries| {
            entries
                .values()
                .all(|v| valid_at(nodes, *values, v, depth + 1))
        }),
        Node::Union { branches } => branches
            .first()
            .is_some_and(|first| valid_at(nodes, *first, value, depth + 1)),
        Node::Record { fields, .. } => value.as_object().is_some_and(|object| {
            fields.iter().all(
                |field| match object.get(&field.name).or(field.default.as_ref()) {
                    Some(v) => valid_at(nodes, field.ty, v, depth + 1),
                    None => false,
                },
            )
        }),
    }
}

/// The type a default was checked against, for the error message.
pub(crate) fn expected_description(nodes: &[Node], id: NodeId) -> String {
    match nodes.get(id) {
        Some(Node::Union { branches }) => match branches.first() {
            Some(first) => format!(
                "{} (first union branch)",
                expected_description(nodes, *first)
            ),
            None => "nothing (empty union)".into(),
        },
        Some(node) => match node.named() {
            Some(named) => format!("{} {}", node.kind().avro_name(), named.name.full()),
            None => node.kind().avro_name().to_string(),
        },
        None => "unknown".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn simple_names() {
        assert!(check_simple_name("_a1").is_ok());
        assert!(check_simple_name("Été").is_ok());
        assert_eq!(
            check_simple_name("a-b").unwrap_err().to_string(),
            "Illegal character in: a-b"
        );
        assert_eq!(
            check_simple_name("1a").unwrap_err().to_string(),
            "Illegal initial character: 1a"
        );
        assert_eq!(check_simple_name("").unwrap_err().to_string(), "Empty name");
    }

    #[test]
    fn dotted_names() {
        assert!(check_dotted_name("com.example.Foo").is_ok());
        assert!(check_dotted_name("com..Foo").is_err());
        assert!(check_dotted_name("com.1x.Foo").is_err());
    }
}
