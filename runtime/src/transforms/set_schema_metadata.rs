//! `org.apache.kafka.connect.transforms.SetSchemaMetadata$Key` / `$Value`: sets the schema's
//! name and/or version, and rebinds a struct value to the renamed schema.

use sluice_connect_api::{
    ConfigDef, ConfigType, ConnectRecord, Importance, Props, Result, SchemaBuilder, Struct,
    Transformation, Value, Verdict,
};

use super::support::{
    config_error, into_field_values, require_schema, with_replace_null_with_default, Operand,
    SchemaCache, Settings, REPLACE_NULL_WITH_DEFAULT,
};

const PURPOSE: &str = "updating schema metadata";

pub struct SetSchemaMetadata {
    operand: Operand,
    name: Option<String>,
    version: Option<i32>,
    replace_null_with_default: bool,
    schemas: SchemaCache,
}

impl SetSchemaMetadata {
    pub fn new(operand: Operand) -> Self {
        Self {
            operand,
            name: None,
            version: None,
            replace_null_with_default: true,
            schemas: SchemaCache::default(),
        }
    }

    fn definition() -> ConfigDef {
        with_replace_null_with_default(
            ConfigDef::new()
                .define(
                    "schema.name",
                    ConfigType::String,
                    None,
                    Importance::High,
                    "Schema name to set.",
                )
                .nullable()
                .define(
                    "schema.version",
                    ConfigType::Int,
                    None,
                    Importance::High,
                    "Schema version to set.",
                )
                .nullable(),
        )
    }
}

impl<R: ConnectRecord> Transformation<R> for SetSchemaMetadata {
    fn config_def(&self) -> ConfigDef {
        Self::definition()
    }

    fn configure(&mut self, props: &Props) -> Result<()> {
        let settings = Settings::parse(&Self::definition(), props)?;
        self.name = props
            .contains_key("schema.name")
            .then(|| settings.string("schema.name"));
        // The definition already refused a version that is no INT.
        self.version = settings
            .int("schema.version")
            .and_then(|v| i32::try_from(v).ok());
        if self.name.is_none() && self.version.is_none() {
            return Err(config_error(
                "schema.name",
                "Neither schema name nor version configured",
            ));
        }
        self.replace_null_with_default = settings.flag(REPLACE_NULL_WITH_DEFAULT);
        self.schemas = SchemaCache::default();
        Ok(())
    }

    fn apply(&mut self, record: &mut R) -> Result<Verdict> {
        if self.operand.schema(record).is_none() && self.operand.value(record).is_null() {
            return Ok(Verdict::Keep);
        }
        let (schema, value) = self.operand.take(record);
        let schema = require_schema(schema.as_ref(), PURPOSE)?;
        let (name, version) = (&self.name, self.version);
        let updated = self.schemas.get_or_build(schema, |s| {
            let mut b = SchemaBuilder::from_schema(s);
            if let Some(name) = name {
                b = b.name(name);
            }
            if let Some(version) = version {
                b = b.version(version);
            }
            Ok(b.build())
        })?;
        let value = match value {
            Value::Struct(original) => {
                let mut rebound = Struct::new(updated.clone())?;
                let (_, values) = into_field_values(original, self.replace_null_with_default);
                for (i, v) in values.into_iter().enumerate() {
                    rebound.set(i, v)?;
                }
                Value::Struct(rebound)
            }
            other => other,
        };
        self.operand.set(record, Some(updated), value);
        Ok(Verdict::Keep)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transforms::test_support::Applied;
    use sluice_connect_api::{props_of, Schema, SchemaRef, SchemaType, SourceMap, SourceRecord};

    fn set(
        pairs: &[(&str, &str)],
        schema: Option<SchemaRef>,
        value: Value,
    ) -> Result<SourceRecord> {
        let mut t = SetSchemaMetadata::new(Operand::Value);
        Transformation::<SourceRecord>::configure(&mut t, &props_of(pairs))?;
        let record = SourceRecord::new(SourceMap::new(), SourceMap::new(), "t", schema, value);
        Ok(t.applied(record)?.expect("kept"))
    }

    #[test]
    fn name_and_version_are_set_and_structs_rebound() {
        let field = SchemaBuilder::new(SchemaType::String)
            .optional()
            .default_value(Value::String("default".into()))
            .expect("d")
            .build();
        let schema = SchemaBuilder::struct_()
            .name("my.orig.SchemaDefn")
            .field("f1", field)
            .and_then(|b| b.field("f2", Schema::int32()))
            .expect("schema")
            .build();
        let value = Struct::new(schema.clone())
            .and_then(|s| s.put("f2", Value::Int32(1)))
            .expect("value");
        for (replace, f1) in [
            ("true", Value::String("default".into())),
            ("false", Value::Null),
        ] {
            let out = set(
                &[
                    ("schema.name", "foo"),
                    ("schema.version", "42"),
                    ("replace.null.with.default", replace),
                ],
                Some(schema.clone()),
                Value::Struct(value.clone()),
            )
            .expect("set");
            let out_schema = out.value_schema.expect("schema");
            assert_eq!(
                (out_schema.name.as_deref(), out_schema.version),
                (Some("foo"), Some(42))
            );
            let Value::Struct(s) = out.value else {
                panic!("not a struct")
            };
            assert!(
                std::sync::Arc::ptr_eq(s.schema(), &out_schema),
                "rebound to the new schema"
            );
            assert_eq!(s.get_without_default("f1").expect("f1"), &f1, "{replace}");
        }
    }

    #[test]
    fn schemas_are_required_but_empty_records_pass() {
        assert_eq!(
            set(&[("schema.name", "foo")], None, Value::Int32(42))
                .expect_err("no schema")
                .message(),
            "Schema required for [updating schema metadata]"
        );
        let out = set(&[("schema.name", "foo")], None, Value::Null).expect("tombstone");
        assert_eq!((out.value_schema, out.value), (None, Value::Null));
        assert_eq!(
            set(&[], None, Value::Null)
                .expect_err("nothing to set")
                .message(),
            "Neither schema name nor version configured"
        );
        assert_eq!(
            set(&[("schema.version", "abc")], None, Value::Null)
                .expect_err("not a number")
                .message(),
            "Invalid value abc for configuration schema.version: Not a number of type INT"
        );
    }
}
