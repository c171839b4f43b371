//! Avro container files: the writer's schema as a Connect schema, and each datum as a Connect
//! value, as Confluent's `AvroData` maps them. Records become structs (named by their full name),
//! `["null", T]` unions optional T, other unions a struct `io.confluent.connect.avro.Union` with
//! one optional field per branch (named by the branch's type, or by a record's, enum's or
//! fixed's simple name), enums strings with their symbols as parameters, fixed bytes, and the
//! logical types Decimal, Date, Time and Timestamp (millis).

use std::collections::HashMap;

use apache_avro::schema::{Name, Schema as AvroSchema};
use apache_avro::types::Value as AvroValue;
use sluice_connect_api::{Decimal, Schema, SchemaBuilder, SchemaRef, Struct, Value};

/// Converts from one file's writer schema.
pub struct AvroData {
    schema: AvroSchema,
    names: HashMap<String, AvroSchema>,
    connect: SchemaRef,
}

const MAX_DEPTH: usize = 64;

/// The Connect schema name of an Avro union that is not `["null", T]`.
pub const UNION: &str = "io.confluent.connect.avro.Union";
/// The parameter naming an enum, and the prefix of those listing its symbols.
pub const ENUM: &str = "io.confluent.connect.avro.Enum";

fn collect_names(
    schema: &AvroSchema,
    enclosing: &Option<String>,
    out: &mut HashMap<String, AvroSchema>,
) {
    match schema {
        AvroSchema::Record(r) => {
            out.insert(r.name.fullname(enclosing.clone()), schema.clone());
            let namespace = r.name.namespace.clone().or_else(|| enclosing.clone());
            for f in &r.fields {
                collect_names(&f.schema, &namespace, out);
            }
        }
        AvroSchema::Enum(e) => {
            out.insert(e.name.fullname(enclosing.clone()), schema.clone());
        }
        AvroSchema::Fixed(f) => {
            out.insert(f.name.fullname(enclosing.clone()), schema.clone());
        }
        AvroSchema::Array(a) => collect_names(&a.items, enclosing, out),
        AvroSchema::Map(m) => collect_names(&m.types, enclosing, out),
        AvroSchema::Union(u) => {
            for v in u.variants() {
                collect_names(v, enclosing, out);
            }
        }
        _ => {}
    }
}

impl AvroData {
    pub fn new(schema: &AvroSchema) -> Result<Self, String> {
        let mut names = HashMap::new();
        collect_names(schema, &None, &mut names);
        let mut data = Self {
            schema: schema.clone(),
            names,
            connect: Schema::optional_bytes(),
        };
        data.connect = data.to_connect(schema, false, 0)?;
        Ok(data)
    }

    pub fn schema(&self) -> &SchemaRef {
        &self.connect
    }

    fn resolve<'a>(&'a self, name: &Name) -> Result<&'a AvroSchema, String> {
        self.names
            .get(&name.fullname(None))
            .ok_or_else(|| format!("unknown Avro type {}", name.fullname(None)))
    }

    /// The non-null branch of a `["null", T]` union.
    fn optional_branch(union: &[AvroSchema]) -> Option<&AvroSchema> {
        match union {
            [AvroSchema::Null, t] | [t, AvroSchema::Null] => Some(t),
            _ => None,
        }
    }

    fn to_connect(
        &self,
        schema: &AvroSchema,
        optional: bool,
        depth: usize,
    ) -> Result<SchemaRef, String> {
        if depth > MAX_DEPTH {
            return Err("Avro schemas that refer to themselves are not supported".into());
        }
        let builder = match schema {
            AvroSchema::Boolean => SchemaBuilder::new(sluice_connect_api::SchemaType::Boolean),
            AvroSchema::Int => SchemaBuilder::new(sluice_connect_api::SchemaType::Int32),
            AvroSchema::Long
            | AvroSchema::TimeMicros
            | AvroSchema::TimestampMicros
            | AvroSchema::TimestampNanos
            | AvroSchema::LocalTimestampMillis
            | AvroSchema::LocalTimestampMicros
            | AvroSchema::LocalTimestampNanos => {
                SchemaBuilder::new(sluice_connect_api::SchemaType::Int64)
            }
            AvroSchema::Float => SchemaBuilder::new(sluice_connect_api::SchemaType::Float32),
            AvroSchema::Double => SchemaBuilder::new(sluice_connect_api::SchemaType::Float64),
            AvroSchema::Bytes | AvroSchema::Duration => {
                SchemaBuilder::new(sluice_connect_api::SchemaType::Bytes)
            }
            AvroSchema::Fixed(f) => SchemaBuilder::new(sluice_connect_api::SchemaType::Bytes)
                .name(&f.name.fullname(None))
                .parameter("connect.fixed.size", &f.size.to_string()),
            AvroSchema::String | AvroSchema::Uuid => {
                SchemaBuilder::new(sluice_connect_api::SchemaType::String)
            }
            AvroSchema::Enum(e) => e.symbols.iter().fold(
                SchemaBuilder::new(sluice_connect_api::SchemaType::String)
                    .name(&e.name.fullname(None))
                    .parameter(ENUM, &e.name.fullname(None)),
                |b, symbol| b.parameter(&format!("{ENUM}.{symbol}"), symbol),
            ),
            AvroSchema::Date => SchemaBuilder::date(),
            AvroSchema::TimeMillis => SchemaBuilder::time(),
            AvroSchema::TimestampMillis => SchemaBuilder::timestamp(),
            AvroSchema::Decimal(d) => SchemaBuilder::decimal(d.scale as i32)
                .parameter("connect.decimal.precision", &d.precision.to_string()),
            AvroSchema::Array(a) => {
                SchemaBuilder::array(self.to_connect(&a.items, false, depth + 1)?)
            }
            AvroSchema::Map(m) => SchemaBuilder::map(
                Schema::string(),
                self.to_connect(&m.types, false, depth + 1)?,
            ),
            AvroSchema::Record(r) => {
                let mut b = SchemaBuilder::struct_().name(&r.name.fullname(None));
                if let Some(doc) = &r.doc {
                    b = b.doc(doc);
                }
                for f in &r.fields {
                    let field = self.to_connect(&f.schema, false, depth + 1)?;
                    b = b.field(&f.name, field).map_err(|e| e.to_string())?;
                }
                b
            }
            AvroSchema::Union(u) => {
                if let Some(inner) = Self::optional_branch(u.variants()) {
                    return self.to_connect(inner, true, depth + 1);
                }
                let mut b = SchemaBuilder::struct_().name(UNION);
                for branch in u.variants() {
                    if matches!(branch, AvroSchema::Null) {
                        b = b.optional();
                        continue;
                    }
                    let field = self.to_connect(branch, true, depth + 1)?;
                    b = b.field(&self.branch_name(branch)?, field).map_err(|_| {
                        "Multiple union schemas map to the Connect union field name".to_string()
                    })?;
                }
                b
            }
            AvroSchema::Ref { name } => {
                return self.to_connect(self.resolve(name)?, optional, depth + 1)
            }
            AvroSchema::Null => return Err("a field of Avro type null is not supported".into()),
            AvroSchema::BigDecimal => return Err("Avro big-decimal is not supported".into()),
        };
        Ok(if optional {
            builder.optional()
        } else {
            builder
        }
        .build())
    }

    /// The Connect field of a union branch: a named type's simple name, else the Avro type.
    fn branch_name(&self, branch: &AvroSchema) -> Result<String, String> {
        Ok(match branch {
            AvroSchema::Ref { name } => return self.branch_name(self.resolve(name)?),
            AvroSchema::Record(r) => r.name.name.clone(),
            AvroSchema::Enum(e) => e.name.name.clone(),
            AvroSchema::Fixed(f) => f.name.name.clone(),
            AvroSchema::Decimal(d) => return self.branch_name(&d.inner),
            AvroSchema::Boolean => "boolean".into(),
            AvroSchema::Int | AvroSchema::Date | AvroSchema::TimeMillis => "int".into(),
            AvroSchema::Long
            | AvroSchema::TimeMicros
            | AvroSchema::TimestampMillis
            | AvroSchema::TimestampMicros
            | AvroSchema::TimestampNanos
            | AvroSchema::LocalTimestampMillis
            | AvroSchema::LocalTimestampMicros
            | AvroSchema::LocalTimestampNanos => "long".into(),
            AvroSchema::Float => "float".into(),
            AvroSchema::Double => "double".into(),
            AvroSchema::Bytes | AvroSchema::BigDecimal => "bytes".into(),
            AvroSchema::String | AvroSchema::Uuid => "string".into(),
            AvroSchema::Array(_) => "array".into(),
            AvroSchema::Map(_) => "map".into(),
            AvroSchema::Duration => "fixed".into(),
            AvroSchema::Null | AvroSchema::Union(_) => {
                return Err("a union branch that is null or a union".into())
            }
        })
    }

    /// One datum of the file as a Connect value.
    pub fn value(&self, datum: &AvroValue) -> Result<Value, String> {
        self.convert(&self.schema, &self.connect, datum, 0)
    }

    fn convert(
        &self,
        avro: &AvroSchema,
        connect: &SchemaRef,
        value: &AvroValue,
        depth: usize,
    ) -> Result<Value, String> {
        if depth > MAX_DEPTH {
            return Err("Avro data nested too deeply".into());
        }
        let avro = match avro {
            AvroSchema::Ref { name } => self.resolve(name)?,
            AvroSchema::Union(u) => {
                let (index, inner) = match value {
                    AvroValue::Union(index, boxed) => (Some(*index as usize), &**boxed),
                    other => (None, other),
                };
                if matches!(inner, AvroValue::Null) {
                    return Ok(Value::Null);
                }
                if let Some(branch) = Self::optional_branch(u.variants()) {
                    return self.convert(branch, connect, inner, depth + 1);
                }
                let branch = index
                    .and_then(|i| u.variants().get(i))
                    .ok_or_else(|| format!("Avro value {value:?} names no branch of its union"))?;
                let name = self.branch_name(branch)?;
                let field = connect
                    .field(&name)
                    .ok_or_else(|| format!("no union field {name}"))?;
                let converted = self.convert(branch, &field.schema, inner, depth + 1)?;
                let union = Struct::new(connect.clone())
                    .and_then(|s| s.put(&name, converted))
                    .map_err(|e| e.to_string())?;
                return Ok(Value::Struct(union));
            }
            other => other,
        };
        let mismatch = || format!("Avro value {value:?} does not match its schema");
        Ok(match value {
            AvroValue::Null => Value::Null,
            AvroValue::Boolean(b) => Value::Boolean(*b),
            AvroValue::Int(n) => Value::Int32(*n),
            AvroValue::Long(n)
            | AvroValue::TimeMicros(n)
            | AvroValue::TimestampMicros(n)
            | AvroValue::TimestampNanos(n)
            | AvroValue::LocalTimestampMillis(n)
            | AvroValue::LocalTimestampMicros(n)
            | AvroValue::LocalTimestampNanos(n) => Value::Int64(*n),
            AvroValue::Float(f) => Value::Float32(*f),
            AvroValue::Double(f) => Value::Float64(*f),
            AvroValue::Bytes(b) | AvroValue::Fixed(_, b) => Value::Bytes(b.clone()),
            AvroValue::String(s) | AvroValue::Enum(_, s) => Value::String(s.clone()),
            AvroValue::Uuid(u) => Value::String(u.to_string()),
            AvroValue::Date(d) => Value::Date(*d),
            AvroValue::TimeMillis(t) => Value::Time(*t),
            AvroValue::TimestampMillis(t) => Value::Timestamp(*t),
            AvroValue::Decimal(d) => {
                let AvroSchema::Decimal(schema) = avro else {
                    return Err(mismatch());
                };
                let bytes: Vec<u8> = Vec::try_from(d).map_err(|e| e.to_string())?;
                Value::Decimal(
                    Decimal::from_bytes(&bytes, schema.scale as i32).map_err(|e| e.to_string())?,
                )
            }
            AvroValue::Array(items) => {
                let (AvroSchema::Array(a), Some(item_schema)) =
                    (avro, connect.value_schema.as_ref())
                else {
                    return Err(mismatch());
                };
                Value::Array(
                    items
                        .iter()
                        .map(|i| self.convert(&a.items, item_schema, i, depth + 1))
                        .collect::<Result<_, _>>()?,
                )
            }
            AvroValue::Map(entries) => {
                let (AvroSchema::Map(m), Some(value_schema)) =
                    (avro, connect.value_schema.as_ref())
                else {
                    return Err(mismatch());
                };
                let mut sorted: Vec<(&String, &AvroValue)> = entries.iter().collect();
                sorted.sort_by(|a, b| a.0.cmp(b.0));
                Value::Map(
                    sorted
                        .into_iter()
                        .map(|(k, v)| {
                            Ok((
                                Value::String(k.clone()),
                                self.convert(&m.types, value_schema, v, depth + 1)?,
                            ))
                        })
                        .collect::<Result<_, String>>()?,
                )
            }
            AvroValue::Record(fields) => {
                let AvroSchema::Record(r) = avro else {
                    return Err(mismatch());
                };
                let mut out = Struct::new(connect.clone()).map_err(|e| e.to_string())?;
                for ((name, v), f) in fields.iter().zip(&r.fields) {
                    let field_schema = &connect.field(name).ok_or_else(mismatch)?.schema;
                    let converted = self.convert(&f.schema, field_schema, v, depth + 1)?;
                    out = out.put(name, converted).map_err(|e| e.to_string())?;
                }
                Value::Struct(out)
            }
            AvroValue::Union(_, inner) => self.convert(avro, connect, inner, depth + 1)?,
            _ => return Err(format!("Avro value {value:?} is not supported")),
        })
    }
}
