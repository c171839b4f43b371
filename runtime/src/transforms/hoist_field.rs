//! `org.apache.kafka.connect.transforms.HoistField$Key` / `$Value`: wraps the key or value in a
//! struct (or map) of one field. Nulls are wrapped too.

use sluice_connect_api::{
    ConfigDef, ConfigType, ConnectRecord, Importance, Props, Result, SchemaBuilder, Struct,
    Transformation, Value, Verdict,
};

use super::support::{Operand, SchemaCache, Settings};

pub struct HoistField {
    operand: Operand,
    field: String,
    schemas: SchemaCache,
}

impl HoistField {
    pub fn new(operand: Operand) -> Self {
        Self {
            operand,
            field: String::new(),
            schemas: SchemaCache::default(),
        }
    }

    fn definition() -> ConfigDef {
        ConfigDef::new().define(
            "field",
            ConfigType::String,
            None,
            Importance::Medium,
            "Field name for the single field that will be created in the resulting Struct or Map.",
        )
    }
}

impl<R: ConnectRecord> Transformation<R> for HoistField {
    fn config_def(&self) -> ConfigDef {
        Self::definition()
    }

    fn configure(&mut self, props: &Props) -> Result<()> {
        self.field = Settings::parse(&Self::definition(), props)?.string("field");
        self.schemas = SchemaCache::default();
        Ok(())
    }

    fn apply(&mut self, record: &mut R) -> Result<Verdict> {
        let (schema, value) = self.operand.take(record);
        match schema {
            None => {
                let map = Value::Map(vec![(Value::String(self.field.clone()), value)]);
                self.operand.set(record, None, map);
            }
            Some(schema) => {
                let field = &self.field;
                let updated = self.schemas.get_or_build(&schema, |s| {
                    Ok(SchemaBuilder::struct_().field(field, s.clone())?.build())
                })?;
                let mut wrapped = Struct::new(updated.clone())?;
                wrapped.set(0, value)?;
                self.operand
                    .set(record, Some(updated), Value::Struct(wrapped));
            }
        }
        Ok(Verdict::Keep)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transforms::test_support::Applied;
    use sluice_connect_api::{props_of, Schema, SourceMap, SourceRecord};

    fn hoist(schema: Option<sluice_connect_api::SchemaRef>, key: Value) -> Result<SourceRecord> {
        let mut t = HoistField::new(Operand::Key);
        Transformation::<SourceRecord>::configure(&mut t, &props_of(&[("field", "magic")]))?;
        let mut record =
            SourceRecord::new(SourceMap::new(), SourceMap::new(), "t", None, Value::Null);
        record.key_schema = schema;
        record.key = key;
        Ok(t.applied(record)?.expect("kept"))
    }

    #[test]
    fn values_are_wrapped_with_and_without_a_schema() {
        let out = hoist(None, Value::Int32(42)).expect("schemaless");
        assert_eq!(
            out.key,
            Value::Map(vec![(Value::String("magic".into()), Value::Int32(42))])
        );
        let out = hoist(Some(Schema::int32()), Value::Int32(42)).expect("schema");
        let schema = out.key_schema.expect("schema");
        assert_eq!(
            schema.field("magic").map(|f| f.schema.clone()),
            Some(Schema::int32())
        );
        let Value::Struct(s) = out.key else {
            panic!("not a struct")
        };
        assert_eq!(s.get("magic").expect("magic"), &Value::Int32(42));
        assert_eq!(
            hoist(Some(Schema::int32()), Value::Null)
                .expect_err("required")
                .message(),
            "Invalid value: null used for required field: \"magic\", schema type: INT32"
        );
    }
}
