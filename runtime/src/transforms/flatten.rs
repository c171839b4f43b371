//! `org.apache.kafka.connect.transforms.Flatten$Key` / `$Value`: nested structs (or maps) become
//! one level of fields named by joining the path with `delimiter`. As in Kafka, arrays pass
//! through unflattened, and with a schema a MAP field is refused; a field inside an optional
//! parent becomes optional, and takes a default from its parent's default when it has none.

use sluice_connect_api::{
    ConfigDef, ConfigType, ConnectError, ConnectRecord, Importance, Props, Result, Schema,
    SchemaBuilder, SchemaRef, SchemaType, Struct, Transformation, Value, Verdict,
};

use super::support::{
    field_value, map_put, require_map, require_struct, Operand, SchemaCache, Settings,
};

const PURPOSE: &str = "flattening";

pub struct Flatten {
    operand: Operand,
    delimiter: String,
    schemas: SchemaCache,
}

impl Flatten {
    pub fn new(operand: Operand) -> Self {
        Self {
            operand,
            delimiter: ".".into(),
            schemas: SchemaCache::default(),
        }
    }

    fn definition() -> ConfigDef {
        ConfigDef::new().define(
            "delimiter",
            ConfigType::String,
            Some("."),
            Importance::Medium,
            "Delimiter to insert between field names from the input record when generating field names for the output record",
        )
    }

    fn name(&self, prefix: &str, field: &str) -> String {
        if prefix.is_empty() {
            field.to_string()
        } else {
            format!("{prefix}{}{field}", self.delimiter)
        }
    }

    fn flatten_map(
        &self,
        entries: Vec<(Value, Value)>,
        prefix: &str,
        out: &mut Vec<(Value, Value)>,
    ) -> Result<()> {
        for (key, value) in entries {
            let key = key.to_java_string().unwrap_or_else(|| "null".into());
            let name = self.name(prefix, &key);
            match value {
                Value::Map(inner) => self.flatten_map(inner, &name, out)?,
                Value::Struct(_) => {
                    return Err(ConnectError::data(format!(
                        "Flatten transformation does not support class org.apache.kafka.connect.data.Struct for record without schemas (for field {name})."
                    )))
                }
                v @ (Value::Decimal(_) | Value::Date(_) | Value::Time(_) | Value::Timestamp(_)) => {
                    return Err(ConnectError::data(format!(
                        "Flatten transformation was passed a value of type class {} which is not supported by Connect's data API",
                        v.type_name()
                    )))
                }
                // Nulls, primitives, bytes and arrays are kept as they are.
                other => map_put(out, &name, other),
            }
        }
        Ok(())
    }

    fn flatten_schema(
        &self,
        schema: &Schema,
        prefix: &str,
        mut builder: SchemaBuilder,
        optional: bool,
        parent_default: Option<&Struct>,
    ) -> Result<SchemaBuilder> {
        for field in &schema.fields {
            let name = self.name(prefix, &field.name);
            let field_optional = optional || field.schema.optional;
            let field_default = field.schema.default.clone().or_else(|| {
                parent_default
                    .map(|d| field_value(d, field.index, true).clone())
                    .filter(|v| !v.is_null())
            });
            match field.schema.schema_type {
                SchemaType::Struct => {
                    let nested_default = match &field_default {
                        Some(Value::Struct(s)) => Some(s),
                        _ => None,
                    };
                    builder =
                        self.flatten_schema(&field.schema, &name, builder, field_optional, nested_default)?;
                }
                SchemaType::Map => {
                    return Err(ConnectError::data(format!(
                        "Flatten transformation does not support MAP for record with schemas (for field {name})."
                    )))
                }
                _ => {
                    let mut b = SchemaBuilder::like(&field.schema);
                    if field_optional {
                        b = b.optional();
                    }
                    if let Some(default) = field_default {
                        b = b.default_value(default)?;
                    }
                    builder = builder.field(&name, b.build())?;
                }
            }
        }
        Ok(builder)
    }

    fn flatten_struct(&self, value: &Struct, prefix: &str, out: &mut Struct) -> Result<()> {
        for field in &value.schema().fields {
            let name = self.name(prefix, &field.name);
            match field.schema.schema_type {
                SchemaType::Struct => {
                    // A null nested struct leaves its fields unset.
                    if let Value::Struct(inner) = value.value_at(field.index) {
                        self.flatten_struct(inner, &name, out)?;
                    }
                }
                SchemaType::Map => {
                    return Err(ConnectError::data(format!(
                        "Flatten transformation does not support MAP for record with schemas (for field {name})."
                    )))
                }
                _ => {
                    let index = out
                        .schema()
                        .field(&name)
                        .map(|f| f.index)
                        .ok_or_else(|| ConnectError::data(format!("{name} is not a valid field name")))?;
                    out.set(index, field_value(value, field.index, true).clone())?;
                }
            }
        }
        Ok(())
    }
}

impl<R: ConnectRecord> Transformation<R> for Flatten {
    fn config_def(&self) -> ConfigDef {
        Self::definition()
    }

    fn configure(&mut self, props: &Props) -> Result<()> {
        let settings = Settings::parse(&Self::definition(), props)?;
        self.delimiter = settings.string("delimiter");
        self.schemas = SchemaCache::default();
        Ok(())
    }

    fn apply(&mut self, record: &mut R) -> Result<Verdict> {
        if self.operand.value(record).is_null() {
            return Ok(Verdict::Keep);
        }
        let (schema, value) = self.operand.take(record);
        let (schema, value) = match schema {
            None => {
                let entries = require_map(value, PURPOSE)?;
                let mut out = Vec::with_capacity(entries.len());
                self.flatten_map(entries, "", &mut out)?;
                (None, Value::Map(out))
            }
            Some(schema) => {
                let value = require_struct(value, PURPOSE)?;
                // The cache is set apart while the settings build into it.
                let mut cache = std::mem::take(&mut self.schemas);
                let this = &*self;
                let updated = cache.get_or_build(&schema, |s: &SchemaRef| {
                    let builder = SchemaBuilder::struct_().with_basics_of(s);
                    let default = match &s.default {
                        Some(Value::Struct(d)) => Some(d),
                        _ => None,
                    };
                    Ok(this
                        .flatten_schema(s, "", builder, s.optional, default)?
                        .build())
                });
                self.schemas = cache;
                let updated = updated?;
                let mut out = Struct::new(updated.clone())?;
                self.flatten_struct(&value, "", &mut out)?;
                (Some(updated), Value::Struct(out))
            }
        };
        self.operand.set(record, schema, value);
        Ok(Verdict::Keep)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transforms::test_support::{map, on_value};

    fn flatten(
        pairs: &[(&str, &str)],
        schema: Option<SchemaRef>,
        value: Value,
    ) -> Result<(Option<SchemaRef>, Value)> {
        on_value(Flatten::new(Operand::Value), pairs, schema, value)
    }

    #[test]
    fn nested_maps_join_their_names_and_arrays_stay() {
        let value = map(vec![
            (
                "A",
                map(vec![(
                    "B",
                    map(vec![
                        ("int8", Value::Int8(8)),
                        ("s", Value::String("x".into())),
                    ]),
                )]),
            ),
            (
                "list",
                Value::Array(vec![map(vec![("baz", Value::Int32(1))])]),
            ),
            ("none", Value::Null),
        ]);
        let (schema, out) = flatten(&[("delimiter", "#")], None, value).expect("flat");
        assert_eq!(schema, None);
        assert_eq!(
            out,
            map(vec![
                ("A#B#int8", Value::Int8(8)),
                ("A#B#s", Value::String("x".into())),
                (
                    "list",
                    Value::Array(vec![map(vec![("baz", Value::Int32(1))])])
                ),
                ("none", Value::Null),
            ])
        );
        assert_eq!(
            flatten(&[], None, Value::Int32(42)).expect_err("not a map").message(),
            "Only Map objects supported in absence of schema for [flattening], found: java.lang.Integer"
        );
    }

    #[test]
    fn nested_structs_flatten_and_inherit_optionality_and_defaults() {
        let child = SchemaBuilder::struct_()
            .optional()
            .field("req_field", Schema::string())
            .and_then(|b| {
                b.field(
                    "opt_field",
                    SchemaBuilder::new(SchemaType::String)
                        .optional()
                        .default_value(Value::String("child_default".into()))?
                        .build(),
                )
            })
            .expect("child");
        let child_schema = child.clone().build();
        let default = Struct::new(child_schema.clone())
            .and_then(|s| s.put("req_field", Value::String("req_default".into())))
            .expect("default");
        let child = child
            .default_value(Value::Struct(default))
            .expect("default")
            .build();
        let schema = SchemaBuilder::struct_()
            .field("B", child.clone())
            .expect("schema")
            .build();
        let value = Struct::new(schema.clone()).expect("value");
        let (out_schema, out) = flatten(&[], Some(schema), Value::Struct(value)).expect("flat");
        let out_schema = out_schema.expect("schema");
        let req = out_schema.field("B.req_field").expect("req");
        assert!(req.schema.optional);
        assert_eq!(
            req.schema.default,
            Some(Value::String("req_default".into()))
        );
        let opt = out_schema.field("B.opt_field").expect("opt");
        assert_eq!(
            opt.schema.default,
            Some(Value::String("child_default".into()))
        );
        let Value::Struct(out) = out else {
            panic!("not a struct")
        };
        assert_eq!(
            out.get_without_default("B.req_field").expect("unset"),
            &Value::Null
        );
    }

    #[test]
    fn map_fields_are_refused_with_a_schema_and_tombstones_pass() {
        let inner = SchemaBuilder::struct_()
            .field(
                "m",
                SchemaBuilder::map(Schema::string(), Schema::string()).build(),
            )
            .expect("inner")
            .build();
        let schema = SchemaBuilder::struct_()
            .field("a", inner)
            .expect("schema")
            .build();
        let value = Struct::new(schema.clone()).expect("value");
        assert_eq!(
            flatten(&[], Some(schema.clone()), Value::Struct(value))
                .expect_err("map")
                .message(),
            "Flatten transformation does not support MAP for record with schemas (for field a.m)."
        );
        let (s, v) = flatten(&[], Some(schema.clone()), Value::Null).expect("tombstone");
        assert_eq!((s, v), (Some(schema), Value::Null));
    }
}
