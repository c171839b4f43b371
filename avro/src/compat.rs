//! Reader/writer compatibility, a port of Java `org.apache.avro.SchemaCompatibility`:
//! it collects every incompatibility with its location in the reader schema, and
//! memoises (reader node, writer node) pairs so recursive types terminate.

use std::collections::{BTreeSet, HashMap, HashSet};

use crate::model::{AvroSchema, Field, Kind, Node, NodeId};

/// Java `SchemaCompatibility.SchemaIncompatibilityType`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IncompatibilityType {
    ReaderFieldMissingDefaultValue,
    TypeMismatch,
    NameMismatch,
    MissingEnumSymbols,
    MissingUnionBranch,
    FixedSizeMismatch,
}

impl IncompatibilityType {
    pub fn as_str(self) -> &'static str {
        match self {
            IncompatibilityType::ReaderFieldMissingDefaultValue => {
                "READER_FIELD_MISSING_DEFAULT_VALUE"
            }
            IncompatibilityType::TypeMismatch => "TYPE_MISMATCH",
            IncompatibilityType::NameMismatch => "NAME_MISMATCH",
            IncompatibilityType::MissingEnumSymbols => "MISSING_ENUM_SYMBOLS",
            IncompatibilityType::MissingUnionBranch => "MISSING_UNION_BRANCH",
            IncompatibilityType::FixedSizeMismatch => "FIXED_SIZE_MISMATCH",
        }
    }
}

/// One reason the reader cannot read the writer's data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Incompatibility {
    pub kind: IncompatibilityType,
    /// JSON-pointer-like path in the reader schema, e.g. `/fields/1/type`.
    pub location: String,
    /// Java's message (Confluent's `additionalInfo`).
    pub message: String,
}

impl Incompatibility {
    /// The verbose line Confluent returns. `reader_is_new`: true for a backward
    /// check (reader = new schema), false for a forward check.
    pub fn render(&self, reader_is_new: bool) -> String {
        let (reader, writer) = if reader_is_new {
            ("new", "old")
        } else {
            ("old", "new")
        };
        let path = &self.location;
        let info = &self.message;
        let description = match self.kind {
            IncompatibilityType::FixedSizeMismatch => format!(
                "The size of FIXED type field at path '{path}' in the {reader} schema does not match with the {writer} schema"
            ),
            IncompatibilityType::TypeMismatch => format!(
                "The type (path '{path}') of a field in the {reader} schema does not match with the {writer} schema"
            ),
            IncompatibilityType::NameMismatch => {
                format!("The name of the schema has changed (path '{path}')")
            }
            IncompatibilityType::MissingEnumSymbols => format!(
                "The {reader} schema is missing enum symbols '{info}' at path '{path}' in the {writer} schema"
            ),
            IncompatibilityType::MissingUnionBranch => format!(
                "The {reader} schema is missing a type inside a union field at path '{path}' in the {writer} schema"
            ),
            IncompatibilityType::ReaderFieldMissingDefaultValue => format!(
                "The field '{info}' at path '{path}' in the {reader} schema has no default value and is missing in the {writer} schema"
            ),
        };
        format!(
            "{{errorType:'{}', description:'{description}', additionalInfo:'{info}'}}",
            self.kind.as_str()
        )
    }
}

/// Every incompatibility found when `reader` reads data written with `writer`;
/// empty means compatible.
pub fn check(reader: &AvroSchema, writer: &AvroSchema) -> Vec<Incompatibility> {
    check_counting(reader, writer).0
}

/// [`check`], and how many (reader, writer) type pairs it compared: the measure of its work.
pub fn check_counting(reader: &AvroSchema, writer: &AvroSchema) -> (Vec<Incompatibility>, usize) {
    let mut checker = Checker {
        reader,
        writer,
        memo: HashMap::new(),
        location: Vec::new(),
        depth: 0,
        steps: 0,
        unions: HashMap::new(),
    };
    let found = checker.compatibility(None, reader.root, writer.root);
    (found, checker.steps)
}

/// The most (reader, writer) pairs one check compares. Matching union branches by kind and
/// name keeps real schemas far below it (linear in their size); past it the check stops and
/// says so, instead of taking the registry's time and memory.
const MAX_CHECK_STEPS: usize = 200_000;

/// A reader union's branches by what they can read, so a writer branch is compared only with
/// the reader branches that could read it (as Avro's resolution picks a branch), not with all.
#[derive(Default)]
struct UnionIndex {
    /// Unnamed branches by kind (a union holds at most one of each).
    by_kind: HashMap<Kind, Vec<(usize, NodeId)>>,
    /// Named branches by kind and unqualified name, and by kind and each alias's full name.
    by_name: HashMap<(Kind, String), Vec<(usize, NodeId)>>,
    by_alias: HashMap<(Kind, String), Vec<(usize, NodeId)>>,
}

impl UnionIndex {
    fn new(schema: &AvroSchema, branches: &[NodeId]) -> Self {
        let mut index = UnionIndex::default();
        for (i, &branch) in branches.iter().enumerate() {
            let node = schema.node(branch);
            let kind = node.kind();
            match node.named() {
                Some(named) => {
                    index
                        .by_name
                        .entry((kind, named.name.name.clone()))
                        .or_default()
                        .push((i, branch));
                    for alias in &named.aliases {
                        index
                            .by_alias
                            .entry((kind, alias.full()))
                            .or_default()
                            .push((i, branch));
                    }
                }
                None => index.by_kind.entry(kind).or_default().push((i, branch)),
            }
        }
        index
    }

    /// The branches that could read a writer node, in the union's order.
    fn candidates(&self, writer: &Node) -> Vec<NodeId> {
        let kind = writer.kind();
        let mut found: Vec<(usize, NodeId)> = Vec::new();
        let mut take =
            |list: Option<&Vec<(usize, NodeId)>>| found.extend(list.into_iter().flatten());
        match writer.named() {
            Some(named) => {
                take(self.by_name.get(&(kind, named.name.name.clone())));
                take(self.by_alias.get(&(kind, named.name.full())));
            }
            None => take(self.by_kind.get(&kind)),
        }
        // Readers that promote the writer's type.
        let promoting: &[Kind] = match kind {
            Kind::Int => &[Kind::Long, Kind::Float, Kind::Double],
            Kind::Long => &[Kind::Float, Kind::Double],
            Kind::Float => &[Kind::Double],
            Kind::String => &[Kind::Bytes],
            Kind::Bytes => &[Kind::String],
            _ => &[],
        };
        for reader_kind in promoting {
            take(self.by_kind.get(reader_kind));
        }
        found.sort_unstable();
        found.dedup();
        found.into_iter().map(|(_, id)| id).collect()
    }
}

/// Recursion between distinct (reader, writer) pairs is bounded by the number of
/// pairs, which pathological mutually recursive schemas can make large.
const MAX_CHECK_DEPTH: usize = 200;

/// Memoised results are merged again on every reuse (as in Java); a cap keeps
/// shared sub-schemas from multiplying the list.
const MAX_INCOMPATIBILITIES: usize = 1000;

struct Checker<'a> {
    reader: &'a AvroSchema,
    writer: &'a AvroSchema,
    /// `None` = in progress: a pair met again while being checked is assumed
    /// compatible, which is what makes recursive types terminate.
    memo: HashMap<(NodeId, NodeId), Option<Vec<Incompatibility>>>,
    location: Vec<String>,
    depth: usize,
    /// Pairs compared so far (see `MAX_CHECK_STEPS`).
    steps: usize,
    /// Reader unions met so far, indexed.
    unions: HashMap<NodeId, UnionIndex>,
}

type Found = Vec<Incompatibility>;

fn merge(into: &mut Found, more: Found) {
    let room = MAX_INCOMPATIBILITIES.saturating_sub(into.len());
    into.extend(more.into_iter().take(room));
}

impl Checker<'_> {
    fn compatibility(&mut self, token: Option<String>, r: NodeId, w: NodeId) -> Found {
        let pushed = token.is_some();
        if let Some(token) = token {
            self.location.push(token);
        }
        let found = match self.memo.get(&(r, w)) {
            Some(None) => Vec::new(),
            Some(Some(found)) => found.clone(),
            None => {
                self.memo.insert((r, w), None);
                self.depth += 1;
                self.steps += 1;
                let found = if self.depth > MAX_CHECK_DEPTH {
                    vec![self.incompatible(
                        IncompatibilityType::TypeMismatch,
                        "schemas nested too deeply to check".to_string(),
                    )]
                } else if self.steps > MAX_CHECK_STEPS {
                    vec![self.incompatible(
                        IncompatibilityType::TypeMismatch,
                        format!("the schemas are too large to compare: more than {MAX_CHECK_STEPS} type pairs"),
                    )]
                } else {
                    self.calculate(r, w)
                };
                self.depth -= 1;
                self.memo.insert((r, w), Some(found.clone()));
                found
            }
        };
        if pushed {
            self.location.pop();
        }
        found
    }

    fn location_text(&self) -> String {
        format!("/{}", self.location.join("/"))
    }

    fn incompatible(&self, kind: IncompatibilityType, message: String) -> Incompatibility {
        Incompatibility {
            kind,
            location: self.location_text(),
            message,
        }
    }

    fn at(&mut self, token: &str, kind: IncompatibilityType, message: String) -> Found {
        self.location.push(token.to_string());
        let found = vec![self.incompatible(kind, message)];
        self.location.pop();
        found
    }

    fn type_mismatch(&self, reader: Kind, writer: Kind) -> Found {
        vec![self.incompatible(
            IncompatibilityType::TypeMismatch,
            format!(
                "reader type: {} not compatible with writer type: {}",
                reader.java_name(),
                writer.java_name()
            ),
        )]
    }

    fn calculate(&mut self, r: NodeId, w: NodeId) -> Found {
        let (reader, writer) = (self.reader.node(r), self.writer.node(w));
        let (rk, wk) = (reader.kind(), writer.kind());
        if rk == wk {
            return self.same_kind(r, w);
        }
        if let Node::Union { branches } = writer {
            let mut found = Vec::new();
            for (i, branch) in branches.iter().enumerate() {
                let more = self.compatibility(Some(i.to_string()), r, *branch);
                merge(&mut found, more);
            }
            return found;
        }
        let promotable = match rk {
            Kind::Long => wk == Kind::Int,
            Kind::Float => matches!(wk, Kind::Int | Kind::Long),
            Kind::Double => matches!(wk, Kind::Int | Kind::Long | Kind::Float),
            Kind::Bytes => wk == Kind::String,
            Kind::String => wk == Kind::Bytes,
            _ => false,
        };
        if promotable {
            return Vec::new();
        }
        if let Node::Union { branches } = reader {
            // The first reader branch that can read the writer wins; only branches of a kind
            // and name that could read it are tried.
            let candidates = self
                .unions
                .entry(r)
                .or_insert_with(|| UnionIndex::new(self.reader, branches))
                .candidates(writer);
            for branch in candidates {
                if self.compatibility(None, branch, w).is_empty() {
                    return Vec::new();
                }
            }
            return vec![self.incompatible(
                IncompatibilityType::MissingUnionBranch,
                format!("reader union lacking writer type: {}", wk.java_name()),
            )];
        }
        self.type_mismatch(rk, wk)
    }

    fn same_kind(&mut self, r: NodeId, w: NodeId) -> Found {
        let (reader, writer) = (self.reader.node(r), self.writer.node(w));
        match (reader, writer) {
            (Node::Array { items: ri, .. }, Node::Array { items: wi, .. }) => {
                self.compatibility(Some("items".into()), *ri, *wi)
            }
            (Node::Map { values: rv, .. }, Node::Map { values: wv, .. }) => {
                self.compatibility(Some("values".into()), *rv, *wv)
            }
            (Node::Fixed { size: rs, .. }, Node::Fixed { size: ws, .. }) => {
                let mut found = self.names(reader, writer);
                if rs != ws {
                    let message = format!("expected: {ws}, found: {rs}");
                    merge(
                        &mut found,
                        self.at("size", IncompatibilityType::FixedSizeMismatch, message),
                    );
                }
                found
            }
            (
                Node::Enum {
                    symbols: rs,
                    default,
                    ..
                },
                Node::Enum { symbols: ws, .. },
            ) => {
                let mut found = self.names(reader, writer);
                let readable: HashSet<&String> = rs.iter().collect();
                let missing: BTreeSet<&String> =
                    ws.iter().filter(|s| !readable.contains(s)).collect();
                // A reader enum default absorbs unknown symbols.
                let has_default = default.as_ref().is_some_and(|d| rs.contains(d));
                if !missing.is_empty() && !has_default {
                    let list: Vec<&str> = missing.iter().map(|s| s.as_str()).collect();
                    let message = format!("[{}]", list.join(", "));
                    merge(
                        &mut found,
                        self.at("symbols", IncompatibilityType::MissingEnumSymbols, message),
                    );
                }
                found
            }
            (Node::Record { fields: rf, .. }, Node::Record { fields: wf, .. }) => {
                let mut found = self.names(reader, writer);
                let more = self.fields(rf, wf, w);
                merge(&mut found, more);
                found
            }
            (Node::Union { .. }, Node::Union { branches: wb }) => {
                let mut found = Vec::new();
                for (i, branch) in wb.iter().enumerate() {
                    self.location.push(i.to_string());
                    if !self.compatibility(None, r, *branch).is_empty() {
                        let kind = self.writer.node(*branch).kind();
                        let message =
                            format!("reader union lacking writer type: {}", kind.java_name());
                        let one =
                            self.incompatible(IncompatibilityType::MissingUnionBranch, message);
                        merge(&mut found, vec![one]);
                    }
                    self.location.pop();
                }
                found
            }
            // Primitives of the same kind.
            _ => Vec::new(),
        }
    }

    /// Unqualified names must match, or a reader alias must name the writer's full name.
    fn names(&mut self, reader: &Node, writer: &Node) -> Found {
        let (Some(rn), Some(wn)) = (reader.named(), writer.named()) else {
            return Vec::new();
        };
        let writer_full = wn.name.full();
        if rn.name.name == wn.name.name || rn.aliases.iter().any(|a| a.full() == writer_full) {
            return Vec::new();
        }
        self.at(
            "name",
            IncompatibilityType::NameMismatch,
            format!("expected: {writer_full}"),
        )
    }

    fn fields(&mut self, reader_fields: &[Field], writer_fields: &[Field], w: NodeId) -> Found {
        let mut found = Vec::new();
        // First field of each name wins, should lenient input repeat a name.
        let mut by_name: HashMap<&str, &Field> = HashMap::new();
        for field in writer_fields.iter().rev() {
            by_name.insert(field.name.as_str(), field);
        }
        self.location.push("fields".into());
        for (index, field) in reader_fields.iter().enumerate() {
            self.location.push(index.to_string());
            match writer_field(&by_name, field) {
                Some(wf) => {
                    let more = self.compatibility(Some("type".into()), field.ty, wf.ty);
                    merge(&mut found, more);
                }
                None if field.default.is_some() => {}
                None => {
                    let more = self.missing_field(field, w);
                    merge(&mut found, more);
                }
            }
            self.location.pop();
        }
        self.location.pop();
        found
    }

    /// Java special-cases an enum field whose type has a default: it compares the
    /// enum with the whole writer record (`w`), which reports a type mismatch.
    fn missing_field(&mut self, field: &Field, w: NodeId) -> Found {
        let enum_with_default = matches!(
            self.reader.node(field.ty),
            Node::Enum {
                default: Some(_),
                ..
            }
        );
        if enum_with_default {
            return self.compatibility(Some("type".into()), field.ty, w);
        }
        vec![self.incompatible(
            IncompatibilityType::ReaderFieldMissingDefaultValue,
            field.name.clone(),
        )]
    }
}

/// The writer field a reader field reads: same name, else one of its aliases.
fn writer_field<'w>(by_name: &HashMap<&str, &'w Field>, reader_field: &Field) -> Option<&'w Field> {
    let lookup = |name: &str| by_name.get(name).copied();
    lookup(&reader_field.name).or_else(|| reader_field.aliases.iter().find_map(|a| lookup(a)))
}
