//! Avro container files: the writer's schema as a Connect schema, and each datum as a Connect
//! value. Records become structs (named by their full name), `["null", T]` unions optional T,
//! enums strings, fixed bytes, and the logical types Decimal, Date, Time and Timestamp (millis).

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
            AvroSchema::Bytes | AvroSchema::Fixed(_) | AvroSchema::Duration => {
                SchemaBuilder::new(sluice_connect_api::SchemaType::Bytes)
            }
            AvroSchema::String | AvroSchema::Uuid | AvroSchema::Enum(_) => {
                SchemaBuilder::new(sluice_connect_api::SchemaType::String)
            }
            AvroSchema::Date => SchemaBuilder::date(),
            AvroSchema::TimeMillis => SchemaBuilder::time(),
            AvroSchema::TimestampMillis => SchemaBuilder::timestamp(),
            AvroSchema::Decimal(d) => SchemaBuilder::decimal(d.scale as i32),
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
                let Some(inner) = Self::optional_branch(u.variants()) else {
                    return Err("Avro unions other than [\"null\", T] are not supported".into());
                };
                return self.to_connect(inner, true, depth + 1);
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
                let inner = Self::optional_branch(u.variants()).ok_or("unsupported Avro union")?;
                return match value {
                    AvroValue::Null => Ok(Value::Null),
                    AvroValue::Union(_, boxed) if matches!(**boxed, AvroValue::Null) => {
                        Ok(Value::Null)
                    }
                    AvroValue::Union(_, boxed) => self.convert(inner, connect, boxed, depth + 1),
                    other => self.convert(inner, connect, other, depth + 1),
                };
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
