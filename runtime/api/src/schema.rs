//! Connect schemas (`org.apache.kafka.connect.data.Schema`): primitive, array, map and struct
//! types with optionality, defaults, names, versions, docs and parameters. Logical types are
//! schemas with a well-known name.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use crate::error::{ConnectError, Result};
use crate::value::Value;

/// The physical type of a schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SchemaType {
    Int8,
    Int16,
    Int32,
    Int64,
    Float32,
    Float64,
    Boolean,
    String,
    Bytes,
    Array,
    Map,
    Struct,
}

impl SchemaType {
    /// Kafka's name, as in `Schema.Type` (upper case).
    pub fn name(self) -> &'static str {
        match self {
            SchemaType::Int8 => "INT8",
            SchemaType::Int16 => "INT16",
            SchemaType::Int32 => "INT32",
            SchemaType::Int64 => "INT64",
            SchemaType::Float32 => "FLOAT32",
            SchemaType::Float64 => "FLOAT64",
            SchemaType::Boolean => "BOOLEAN",
            SchemaType::String => "STRING",
            SchemaType::Bytes => "BYTES",
            SchemaType::Array => "ARRAY",
            SchemaType::Map => "MAP",
            SchemaType::Struct => "STRUCT",
        }
    }

    pub fn is_primitive(self) -> bool {
        !matches!(
            self,
            SchemaType::Array | SchemaType::Map | SchemaType::Struct
        )
    }
}

impl fmt::Display for SchemaType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Names of the logical types.
pub mod logical {
    pub const DECIMAL: &str = "org.apache.kafka.connect.data.Decimal";
    pub const DATE: &str = "org.apache.kafka.connect.data.Date";
    pub const TIME: &str = "org.apache.kafka.connect.data.Time";
    pub const TIMESTAMP: &str = "org.apache.kafka.connect.data.Timestamp";
    /// The `Decimal` parameter that holds the scale.
    pub const SCALE: &str = "scale";
}

/// A field of a struct schema.
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    pub name: String,
    pub index: usize,
    pub schema: SchemaRef,
}

/// One shared instance per primitive schema: converters hand one out per record, and an `Arc`
/// clone costs less than building a schema.
macro_rules! shared {
    ($schema_type:expr, $optional:expr) => {{
        shared!({
            let builder = SchemaBuilder::new($schema_type);
            if $optional {
                builder.optional().build()
            } else {
                builder.build()
            }
        })
    }};
    ($build:expr) => {{
        static SCHEMA: std::sync::LazyLock<SchemaRef> = std::sync::LazyLock::new(|| $build);
        Arc::clone(&SCHEMA)
    }};
}

/// A schema. Shared through [`SchemaRef`]; build one with [`SchemaBuilder`].
#[derive(Debug, Clone, PartialEq)]
pub struct Schema {
    pub schema_type: SchemaType,
    pub optional: bool,
    pub default: Option<Value>,
    pub name: Option<String>,
    pub version: Option<i32>,
    pub doc: Option<String>,
    pub parameters: BTreeMap<String, String>,
    /// ARRAY elements and MAP values.
    pub value_schema: Option<SchemaRef>,
    /// MAP keys.
    pub key_schema: Option<SchemaRef>,
    /// STRUCT fields, in order.
    pub fields: Vec<Field>,
}

pub type SchemaRef = Arc<Schema>;

impl Schema {
    pub fn field(&self, name: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.name == name)
    }

    /// The logical type name, if this schema is one Connect knows.
    pub fn logical(&self) -> Option<&str> {
        match self.name.as_deref() {
            Some(n @ (logical::DECIMAL | logical::DATE | logical::TIME | logical::TIMESTAMP)) => {
                Some(n)
            }
            _ => None,
        }
    }

    /// The scale of a Decimal schema.
    pub fn decimal_scale(&self) -> Result<i32> {
        self.parameters
            .get(logical::SCALE)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| ConnectError::data("Invalid Decimal schema: scale parameter not found."))
    }

    pub fn int8() -> SchemaRef {
        shared!(SchemaType::Int8, false)
    }
    pub fn int16() -> SchemaRef {
        shared!(SchemaType::Int16, false)
    }
    pub fn int32() -> SchemaRef {
        shared!(SchemaType::Int32, false)
    }
    pub fn int64() -> SchemaRef {
        shared!(SchemaType::Int64, false)
    }
    pub fn float32() -> SchemaRef {
        shared!(SchemaType::Float32, false)
    }
    pub fn float64() -> SchemaRef {
        shared!(SchemaType::Float64, false)
    }
    pub fn boolean() -> SchemaRef {
        shared!(SchemaType::Boolean, false)
    }
    pub fn string() -> SchemaRef {
        shared!(SchemaType::String, false)
    }
    pub fn bytes() -> SchemaRef {
        shared!(SchemaType::Bytes, false)
    }
    pub fn optional_string() -> SchemaRef {
        shared!(SchemaType::String, true)
    }
    pub fn optional_bytes() -> SchemaRef {
        shared!(SchemaType::Bytes, true)
    }
    /// The required `Date` logical schema, as [`SchemaBuilder::date`] builds it.
    pub fn date() -> SchemaRef {
        shared!(SchemaBuilder::date().build())
    }
    /// The required `Time` logical schema, as [`SchemaBuilder::time`] builds it.
    pub fn time() -> SchemaRef {
        shared!(SchemaBuilder::time().build())
    }
    /// The required `Timestamp` logical schema, as [`SchemaBuilder::timestamp`] builds it.
    pub fn timestamp() -> SchemaRef {
        shared!(SchemaBuilder::timestamp().build())
    }
}

/// Builds schemas, as Kafka's `SchemaBuilder` does.
#[derive(Debug, Clone)]
pub struct SchemaBuilder {
    schema: Schema,
}

impl SchemaBuilder {
    pub fn new(schema_type: SchemaType) -> Self {
        Self {
            schema: Schema {
                schema_type,
                optional: false,
                default: None,
                name: None,
                version: None,
                doc: None,
                parameters: BTreeMap::new(),
                value_schema: None,
                key_schema: None,
                fields: Vec::new(),
            },
        }
    }

    pub fn array(items: SchemaRef) -> Self {
        let mut b = Self::new(SchemaType::Array);
        b.schema.value_schema = Some(items);
        b
    }

    pub fn map(keys: SchemaRef, values: SchemaRef) -> Self {
        let mut b = Self::new(SchemaType::Map);
        b.schema.key_schema = Some(keys);
        b.schema.value_schema = Some(values);
        b
    }

    pub fn struct_() -> Self {
        Self::new(SchemaType::Struct)
    }

    /// `Decimal` with the given scale: BYTES holding the big-endian unscaled value.
    pub fn decimal(scale: i32) -> Self {
        Self::new(SchemaType::Bytes)
            .name(logical::DECIMAL)
            .version(1)
            .parameter(logical::SCALE, &scale.to_string())
    }

    /// `Date`: INT32 days since the epoch.
    pub fn date() -> Self {
        Self::new(SchemaType::Int32).name(logical::DATE).version(1)
    }

    /// `Time`: INT32 milliseconds since midnight.
    pub fn time() -> Self {
        Self::new(SchemaType::Int32).name(logical::TIME).version(1)
    }

    /// `Timestamp`: INT64 milliseconds since the epoch.
    pub fn timestamp() -> Self {
        Self::new(SchemaType::Int64)
            .name(logical::TIMESTAMP)
            .version(1)
    }

    /// Copies `source`'s name, version, doc and parameters (Kafka's `SchemaUtil.copySchemaBasics`).
    pub fn with_basics_of(mut self, source: &Schema) -> Self {
        self.schema.name.clone_from(&source.name);
        self.schema.version = source.version;
        self.schema.doc.clone_from(&source.doc);
        self.schema.parameters.clone_from(&source.parameters);
        self
    }

    /// A builder of `source`'s type, with its element, key and value schemas and its name,
    /// version, doc and parameters, but neither its optionality nor its default nor its fields
    /// (Kafka's one-argument `SchemaUtil.copySchemaBasics`).
    pub fn like(source: &Schema) -> Self {
        let mut b = Self::new(source.schema_type).with_basics_of(source);
        b.schema.value_schema.clone_from(&source.value_schema);
        b.schema.key_schema.clone_from(&source.key_schema);
        b
    }

    /// A builder holding everything of `source` (type, fields, optionality, default, metadata).
    pub fn from_schema(source: &Schema) -> Self {
        Self {
            schema: source.clone(),
        }
    }

    pub fn optional(mut self) -> Self {
        self.schema.optional = true;
        self
    }

    pub fn name(mut self, name: &str) -> Self {
        self.schema.name = Some(name.to_string());
        self
    }

    pub fn version(mut self, version: i32) -> Self {
        self.schema.version = Some(version);
        self
    }

    pub fn doc(mut self, doc: &str) -> Self {
        self.schema.doc = Some(doc.to_string());
        self
    }

    pub fn parameter(mut self, key: &str, value: &str) -> Self {
        self.schema
            .parameters
            .insert(key.to_string(), value.to_string());
        self
    }

    /// Adds a struct field. Fails on a non-struct schema or a duplicate name.
    pub fn field(mut self, name: &str, schema: SchemaRef) -> Result<Self> {
        if self.schema.schema_type != SchemaType::Struct {
            return Err(ConnectError::data(format!(
                "Cannot create fields on type {}",
                self.schema.schema_type
            )));
        }
        if self.schema.field(name).is_some() {
            return Err(ConnectError::data(format!(
                "Cannot create field because of field name duplication {name}"
            )));
        }
        let index = self.schema.fields.len();
        self.schema.fields.push(Field {
            name: name.to_string(),
            index,
            schema,
        });
        Ok(self)
    }

    /// Sets the default, which must fit the schema built so far.
    pub fn default_value(mut self, value: Value) -> Result<Self> {
        crate::value::validate(&self.schema, &value)
            .map_err(|e| ConnectError::data(format!("Invalid default value: {e}")))?;
        self.schema.default = Some(value);
        Ok(self)
    }

    pub fn build(self) -> SchemaRef {
        Arc::new(self.schema)
    }
}
