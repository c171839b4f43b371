//! `org.apache.kafka.connect.transforms.ValueToKey`: the key becomes a struct (or map) of some of
//! the value's fields; usually followed by `ExtractField$Key` for a single one.

use sluice_connect_api::{
    ConfigDef, ConfigType, ConnectError, ConnectRecord, Importance, Props, Result, SchemaBuilder,
    Struct, Transformation, Validator, Value, Verdict,
};

use super::support::{
    field_value, map_get, require_map_ref, require_struct_ref, with_replace_null_with_default,
    SchemaCache, Settings, REPLACE_NULL_WITH_DEFAULT,
};

const PURPOSE: &str = "copying fields from value to key";

pub struct ValueToKey {
    fields: Vec<String>,
    replace_null_with_default: bool,
    schemas: SchemaCache,
}

impl Default for ValueToKey {
    fn default() -> Self {
        Self {
            fields: Vec::new(),
            replace_null_with_default: true,
            schemas: SchemaCache::default(),
        }
    }
}

impl ValueToKey {
    fn definition() -> ConfigDef {
        with_replace_null_with_default(
            ConfigDef::new()
                .define(
                    "fields",
                    ConfigType::List,
                    None,
                    Importance::High,
                    "Field names on the record value to extract as the record key.",
                )
                .validator(Validator::NonEmptyList),
        )
    }
}

impl<R: ConnectRecord> Transformation<R> for ValueToKey {
    fn config_def(&self) -> ConfigDef {
        Self::definition()
    }

    fn configure(&mut self, props: &Props) -> Result<()> {
        let settings = Settings::parse(&Self::definition(), props)?;
        self.fields = settings.list("fields");
        self.replace_null_with_default = settings.flag(REPLACE_NULL_WITH_DEFAULT);
        self.schemas = SchemaCache::default();
        Ok(())
    }

    fn apply(&mut self, record: &mut R) -> Result<Verdict> {
        let (schema, key) = match record.value_schema() {
            None => {
                let entries = require_map_ref(record.value(), PURPOSE)?;
                let key = self
                    .fields
                    .iter()
                    .map(|f| {
                        let v = map_get(entries, f).cloned().unwrap_or(Value::Null);
                        (Value::String(f.clone()), v)
                    })
                    .collect();
                (None, Value::Map(key))
            }
            Some(_) => {
                let value = require_struct_ref(record.value(), PURPOSE)?;
                let fields = &self.fields;
                let key_schema = self.schemas.get_or_build(value.schema(), |s| {
                    let mut b = SchemaBuilder::struct_();
                    for name in fields {
                        let f = s.field(name).ok_or_else(|| {
                            ConnectError::data(format!("Field does not exist: {name}"))
                        })?;
                        b = b.field(name, f.schema.clone())?;
                    }
                    Ok(b.build())
                })?;
                let mut key = Struct::new(key_schema.clone())?;
                for (i, name) in self.fields.iter().enumerate() {
                    let index = value.schema().field(name).map(|f| f.index).ok_or_else(|| {
                        ConnectError::data(format!("Field does not exist: {name}"))
                    })?;
                    key.set(
                        i,
                        field_value(value, index, self.replace_null_with_default).clone(),
                    )?;
                }
                (Some(key_schema), Value::Struct(key))
            }
        };
        record.set_key(schema, key);
        Ok(Verdict::Keep)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transforms::test_support::Applied;
    use sluice_connect_api::{props_of, Schema, SchemaRef, SchemaType, SourceMap, SourceRecord};

    fn to_key(
        pairs: &[(&str, &str)],
        schema: Option<SchemaRef>,
        value: Value,
    ) -> Result<SourceRecord> {
        let mut t = ValueToKey::default();
        Transformation::<SourceRecord>::configure(&mut t, &props_of(pairs))?;
        let record = SourceRecord::new(SourceMap::new(), SourceMap::new(), "t", schema, value);
        Ok(t.applied(record)?.expect("kept"))
    }

    #[test]
    fn schemaless_and_struct_values_give_their_fields_to_the_key() {
        let value = Value::Map(
            ["a", "b", "c"]
                .iter()
                .zip(1..)
                .map(|(k, v)| (Value::String((*k).into()), Value::Int32(v)))
                .collect(),
        );
        let out = to_key(&[("fields", "a,b")], None, value).expect("schemaless");
        assert_eq!(
            out.key,
            Value::Map(vec![
                (Value::String("a".into()), Value::Int32(1)),
                (Value::String("b".into()), Value::Int32(2))
            ])
        );
        let schema = SchemaBuilder::struct_()
            .field("a", Schema::int32())
            .and_then(|b| b.field("b", Schema::int32()))
            .and_then(|b| b.field("c", Schema::int32()))
            .expect("schema")
            .build();
        let value = Struct::new(schema.clone())
            .and_then(|s| s.put("a", Value::Int32(1)))
            .and_then(|s| s.put("b", Value::Int32(2)))
            .and_then(|s| s.put("c", Value::Int32(3)))
            .expect("value");
        let out = to_key(
            &[("fields", "a,b")],
            Some(schema.clone()),
            Value::Struct(value.clone()),
        )
        .expect("struct");
        let key_schema = out.key_schema.expect("key schema");
        assert_eq!(key_schema.fields.len(), 2);
        let Value::Struct(key) = out.key else {
            panic!("not a struct")
        };
        assert_eq!(key.get("b").expect("b"), &Value::Int32(2));
        assert_eq!(
            to_key(
                &[("fields", "not_exist")],
                Some(schema),
                Value::Struct(value)
            )
            .expect_err("missing")
            .message(),
            "Field does not exist: not_exist"
        );
        assert_eq!(
            to_key(&[("fields", "a")], None, Value::Null).expect_err("tombstone").message(),
            "Only Map objects supported in absence of schema for [copying fields from value to key], found: null"
        );
    }

    #[test]
    fn replace_null_with_default_decides_the_keys_field() {
        let field = SchemaBuilder::new(SchemaType::Int32)
            .optional()
            .default_value(Value::Int32(42))
            .expect("d")
            .build();
        let schema = SchemaBuilder::struct_()
            .field("optional_with_default", field)
            .expect("s")
            .build();
        for (replace, expected) in [("true", Value::Int32(42)), ("false", Value::Null)] {
            let value = Struct::new(schema.clone()).expect("value");
            let out = to_key(
                &[
                    ("fields", "optional_with_default"),
                    ("replace.null.with.default", replace),
                ],
                Some(schema.clone()),
                Value::Struct(value),
            )
            .expect("key");
            let Value::Struct(key) = out.key else {
                panic!("not a struct")
            };
            assert_eq!(
                key.get_without_default("optional_with_default").expect("f"),
                &expected
            );
        }
    }
}
