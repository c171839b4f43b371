//! Why a text is not an acceptable Avro schema.

/// A schema that cannot be parsed (or, in strict mode, fails validation).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SchemaError {
    #[error("Invalid JSON: {0}")]
    InvalidJson(String),
    #[error("Schema nested too deeply")]
    TooDeep,
    #[error("Unknown type: {0}")]
    UnknownType(String),
    /// Java's wording for the three ways a name can be illegal.
    #[error("{0}")]
    IllegalName(String),
    #[error("Can't redefine: {0}")]
    Redefined(String),
    #[error("Schemas may not be named after primitives: {0}")]
    NamedAfterPrimitive(String),
    #[error("Invalid default for field {field}: expected {expected}, got {got}")]
    InvalidDefault {
        field: String,
        expected: String,
        got: String,
    },
    #[error("Enum default not in symbols: {0}")]
    EnumDefaultNotInSymbols(String),
    #[error("Duplicate field {field} in record {record}")]
    DuplicateField { record: String, field: String },
    #[error("Duplicate enum symbol: {0}")]
    DuplicateSymbol(String),
    #[error("Duplicate in union: {0}")]
    DuplicateInUnion(String),
    #[error("Nested union: {0}")]
    NestedUnion(String),
    /// JSON that is not shaped like a schema (missing or ill-typed attributes).
    #[error("{0}")]
    Malformed(String),
}
