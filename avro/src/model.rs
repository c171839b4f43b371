//! Owned schema model. Nodes live in one arena per schema; a named type is a
//! single node that every by-name use points at, so recursive schemas are plain
//! index cycles and "same node" means the same thing as Java's object identity.

use serde_json::{Map, Value};

pub type NodeId = usize;

/// Custom properties in the order they were written (Java keeps insertion order).
pub type Props = Map<String, Value>;

/// The Avro type kinds, with Java's upper-case enum names for messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    Null,
    Boolean,
    Int,
    Long,
    Float,
    Double,
    Bytes,
    String,
    Record,
    Enum,
    Array,
    Map,
    Union,
    Fixed,
}

impl Kind {
    pub fn primitive(name: &str) -> Option<Kind> {
        Some(match name {
            "null" => Kind::Null,
            "boolean" => Kind::Boolean,
            "int" => Kind::Int,
            "long" => Kind::Long,
            "float" => Kind::Float,
            "double" => Kind::Double,
            "bytes" => Kind::Bytes,
            "string" => Kind::String,
            _ => return None,
        })
    }

    /// Java `Schema.Type.toString()`.
    pub fn java_name(self) -> &'static str {
        match self {
            Kind::Null => "NULL",
            Kind::Boolean => "BOOLEAN",
            Kind::Int => "INT",
            Kind::Long => "LONG",
            Kind::Float => "FLOAT",
            Kind::Double => "DOUBLE",
            Kind::Bytes => "BYTES",
            Kind::String => "STRING",
            Kind::Record => "RECORD",
            Kind::Enum => "ENUM",
            Kind::Array => "ARRAY",
            Kind::Map => "MAP",
            Kind::Union => "UNION",
            Kind::Fixed => "FIXED",
        }
    }

    /// The JSON spelling (`Schema.Type.getName()`).
    pub fn avro_name(self) -> &'static str {
        match self {
            Kind::Null => "null",
            Kind::Boolean => "boolean",
            Kind::Int => "int",
            Kind::Long => "long",
            Kind::Float => "float",
            Kind::Double => "double",
            Kind::Bytes => "bytes",
            Kind::String => "string",
            Kind::Record => "record",
            Kind::Enum => "enum",
            Kind::Array => "array",
            Kind::Map => "map",
            Kind::Union => "union",
            Kind::Fixed => "fixed",
        }
    }

    /// Every type keyword; a name equal to one of these must always be written
    /// fully qualified, or a reader would take it for the type keyword.
    pub fn is_type_keyword(name: &str) -> bool {
        Kind::primitive(name).is_some()
            || matches!(
                name,
                "record" | "enum" | "array" | "map" | "union" | "fixed"
            )
    }
}

/// A possibly namespaced name; `namespace` is never `Some("")`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Name {
    pub name: String,
    pub namespace: Option<String>,
}

impl Name {
    /// Java `Schema.Name(name, space)`: a dotted name carries its own namespace.
    pub fn new(raw: &str, enclosing: Option<&str>) -> Name {
        let (namespace, name) = match raw.rfind('.') {
            Some(dot) => (Some(&raw[..dot]), &raw[dot + 1..]),
            None => (enclosing, raw),
        };
        Name {
            name: name.to_string(),
            namespace: namespace.filter(|ns| !ns.is_empty()).map(str::to_string),
        }
    }

    pub fn full(&self) -> String {
        match &self.namespace {
            Some(ns) => format!("{ns}.{}", self.name),
            None => self.name.clone(),
        }
    }

    /// Java `Name.getQualified`: short only when the namespace is the current one.
    pub fn qualified(&self, current: Option<&str>) -> String {
        let same_space = self.namespace.is_some() && self.namespace.as_deref() == current;
        if same_space && !Kind::is_type_keyword(&self.name) {
            self.name.clone()
        } else {
            self.full()
        }
    }
}

/// What every named type (record, enum, fixed) has.
#[derive(Clone, Debug)]
pub struct Named {
    pub name: Name,
    pub doc: Option<String>,
    /// Resolved against the type's own namespace, as Java does.
    pub aliases: Vec<Name>,
    /// Defined by a referenced schema: printed by name, not listed as defined here.
    pub from_reference: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Order {
    Ascending,
    Descending,
    Ignore,
}

#[derive(Clone, Debug)]
pub struct Field {
    pub name: String,
    pub doc: Option<String>,
    pub ty: NodeId,
    pub default: Option<Value>,
    pub order: Order,
    pub aliases: Vec<String>,
    pub props: Props,
}

#[derive(Clone, Debug)]
pub enum Node {
    Primitive {
        kind: Kind,
        props: Props,
    },
    Record {
        named: Named,
        is_error: bool,
        fields: Vec<Field>,
        props: Props,
    },
    Enum {
        named: Named,
        symbols: Vec<String>,
        default: Option<String>,
        props: Props,
    },
    Fixed {
        named: Named,
        size: u32,
        props: Props,
    },
    Array {
        items: NodeId,
        props: Props,
    },
    Map {
        values: NodeId,
        props: Props,
    },
    Union {
        branches: Vec<NodeId>,
    },
}

impl Node {
    pub fn kind(&self) -> Kind {
        match self {
            Node::Primitive { kind, .. } => *kind,
            Node::Record { .. } => Kind::Record,
            Node::Enum { .. } => Kind::Enum,
            Node::Fixed { .. } => Kind::Fixed,
            Node::Array { .. } => Kind::Array,
            Node::Map { .. } => Kind::Map,
            Node::Union { .. } => Kind::Union,
        }
    }

    pub fn named(&self) -> Option<&Named> {
        match self {
            Node::Record { named, .. } | Node::Enum { named, .. } | Node::Fixed { named, .. } => {
                Some(named)
            }
            _ => None,
        }
    }

    /// Shifts every node reference, used when copying a referenced schema's arena.
    pub fn shifted(&self, offset: usize) -> Node {
        let mut node = self.clone();
        match &mut node {
            Node::Record { fields, .. } => fields.iter_mut().for_each(|f| f.ty += offset),
            Node::Array { items, .. } => *items += offset,
            Node::Map { values, .. } => *values += offset,
            Node::Union { branches } => branches.iter_mut().for_each(|b| *b += offset),
            Node::Primitive { .. } | Node::Enum { .. } | Node::Fixed { .. } => {}
        }
        node
    }
}

/// A parsed Avro schema: the node arena, its root, and the named types it defines.
#[derive(Clone, Debug)]
pub struct AvroSchema {
    pub nodes: Vec<Node>,
    pub root: NodeId,
}

impl AvroSchema {
    /// Node lookup; ids only ever come from this arena, so they are in range.
    pub fn node(&self, id: NodeId) -> &Node {
        &self.nodes[id]
    }

    /// Full names of the named types this schema defines (not referenced ones),
    /// in definition order.
    pub fn defined_names(&self) -> Vec<String> {
        self.nodes
            .iter()
            .filter_map(Node::named)
            .filter(|n| !n.from_reference)
            .map(|n| n.name.full())
            .collect()
    }
}
