//! Java `Schema.toString(referencedSchemas, false)`: the text Confluent stores,
//! returns and hashes. Attribute order and namespace elision follow Java exactly.

use std::collections::HashSet;

use crate::json_text::{write_string, write_value};
use crate::model::{AvroSchema, Field, Named, Node, NodeId, Order, Props};

impl AvroSchema {
    /// Canonical text; named types from references are printed by name.
    pub fn canonical(&self) -> String {
        let known = self
            .nodes
            .iter()
            .filter_map(Node::named)
            .filter(|n| n.from_reference)
            .map(|n| n.name.full())
            .collect();
        let mut writer = Writer {
            schema: self,
            known,
            space: None,
            out: String::new(),
        };
        writer.node(self.root);
        writer.out
    }
}

struct Writer<'a> {
    schema: &'a AvroSchema,
    /// Named types already printed (or referenced): later uses print the name.
    known: HashSet<String>,
    /// Namespace of the innermost enclosing record (Java `Names.space`).
    space: Option<String>,
    out: String,
}

impl Writer<'_> {
    fn node(&mut self, id: NodeId) {
        let schema = self.schema;
        let node = schema.node(id);
        if let Some(named) = node.named() {
            let full = named.name.full();
            if self.known.contains(&full) {
                let reference = named.name.qualified(self.space.as_deref());
                write_string(&mut self.out, &reference);
                return;
            }
            self.known.insert(full);
        }
        match node {
            Node::Primitive { kind, props } => {
                if props.is_empty() {
                    write_string(&mut self.out, kind.avro_name());
                } else {
                    self.out.push_str("{\"type\":");
                    write_string(&mut self.out, kind.avro_name());
                    self.props(props);
                    self.out.push('}');
                }
            }
            Node::Array { items, props } => {
                self.out.push_str("{\"type\":\"array\",\"items\":");
                self.node(*items);
                self.props(props);
                self.out.push('}');
            }
            Node::Map { values, props } => {
                self.out.push_str("{\"type\":\"map\",\"values\":");
                self.node(*values);
                self.props(props);
                self.out.push('}');
            }
            Node::Union { branches } => {
                self.out.push('[');
                for (i, branch) in branches.iter().enumerate() {
                    if i > 0 {
                        self.out.push(',');
                    }
                    self.node(*branch);
                }
                self.out.push(']');
            }
            Node::Record {
                named,
                is_error,
                fields,
                props,
            } => {
                let kind = if *is_error { "error" } else { "record" };
                self.out.push_str(&format!("{{\"type\":\"{kind}\""));
                self.name_and_doc(named);
                let saved = std::mem::replace(&mut self.space, named.name.namespace.clone());
                self.out.push_str(",\"fields\":[");
                for (i, field) in fields.iter().enumerate() {
                    if i > 0 {
                        self.out.push(',');
                    }
                    self.field(field);
                }
                self.out.push(']');
                self.props(props);
                self.aliases(named);
                self.out.push('}');
                self.space = saved;
            }
            Node::Enum {
                named,
                symbols,
                default,
                props,
            } => {
                self.out.push_str("{\"type\":\"enum\"");
                self.name_and_doc(named);
                self.out.push_str(",\"symbols\":[");
                for (i, symbol) in symbols.iter().enumerate() {
                    if i > 0 {
                        self.out.push(',');
                    }
                    write_string(&mut self.out, symbol);
                }
                self.out.push(']');
                if let Some(default) = default {
                    self.out.push_str(",\"default\":");
                    write_string(&mut self.out, default);
                }
                self.props(props);
                self.aliases(named);
                self.out.push('}');
            }
            Node::Fixed { named, size, props } => {
                self.out.push_str("{\"type\":\"fixed\"");
                self.name_and_doc(named);
                self.out.push_str(&format!(",\"size\":{size}"));
                self.props(props);
                self.aliases(named);
                self.out.push('}');
            }
        }
    }

    /// Namespace only when it differs from the enclosing one; `""` when the
    /// type has none but the enclosing one does (Java `Name.writeName`).
    fn name_and_doc(&mut self, named: &Named) {
        self.out.push_str(",\"name\":");
        write_string(&mut self.out, &named.name.name);
        match (&named.name.namespace, &self.space) {
            (Some(ns), current) if Some(ns) != current.as_ref() => {
                self.out.push_str(",\"namespace\":");
                write_string(&mut self.out, ns);
            }
            (None, Some(_)) => self.out.push_str(",\"namespace\":\"\""),
            _ => {}
        }
        if let Some(doc) = &named.doc {
            self.out.push_str(",\"doc\":");
            write_string(&mut self.out, doc);
        }
    }

    fn field(&mut self, field: &Field) {
        self.out.push_str("{\"name\":");
        write_string(&mut self.out, &field.name);
        self.out.push_str(",\"type\":");
        self.node(field.ty);
        if let Some(doc) = &field.doc {
            self.out.push_str(",\"doc\":");
            write_string(&mut self.out, doc);
        }
        if let Some(default) = &field.default {
            self.out.push_str(",\"default\":");
            write_value(&mut self.out, default);
        }
        match field.order {
            Order::Ascending => {}
            Order::Descending => self.out.push_str(",\"order\":\"descending\""),
            Order::Ignore => self.out.push_str(",\"order\":\"ignore\""),
        }
        if !field.aliases.is_empty() {
            self.out.push_str(",\"aliases\":[");
            for (i, alias) in field.aliases.iter().enumerate() {
                if i > 0 {
                    self.out.push(',');
                }
                write_string(&mut self.out, alias);
            }
            self.out.push(']');
        }
        self.props(&field.props);
        self.out.push('}');
    }

    fn props(&mut self, props: &Props) {
        for (key, value) in props {
            self.out.push(',');
            write_string(&mut self.out, key);
            self.out.push(':');
            write_value(&mut self.out, value);
        }
    }

    /// Aliases are written relative to the type's own namespace.
    fn aliases(&mut self, named: &Named) {
        if named.aliases.is_empty() {
            return;
        }
        self.out.push_str(",\"aliases\":[");
        for (i, alias) in named.aliases.iter().enumerate() {
            if i > 0 {
                self.out.push(',');
            }
            write_string(
                &mut self.out,
                &alias.qualified(named.name.namespace.as_deref()),
            );
        }
        self.out.push(']');
    }
}
