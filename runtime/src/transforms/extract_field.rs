//! `org.apache.kafka.connect.transforms.ExtractField$Key` / `$Value`: replaces the key or value
//! with one of its fields (a nested one with `field.syntax.version=V2`), with the field's schema.

use sluice_connect_api::{
    ConfigDef, ConfigType, ConnectError, ConnectRecord, Importance, Props, Result, Transformation,
    Value, Verdict,
};

use super::field_path::{with_syntax_version, FieldPath, SYNTAX_VERSION};
use super::support::{
    require_map_ref, require_struct_ref, with_replace_null_with_default, Operand, Settings,
    REPLACE_NULL_WITH_DEFAULT,
};

const PURPOSE: &str = "field extraction";

pub struct ExtractField {
    operand: Operand,
    /// The path as configured, for messages.
    original: String,
    path: FieldPath,
    replace_null_with_default: bool,
}

impl ExtractField {
    pub fn new(operand: Operand) -> Self {
        Self {
            operand,
            original: String::new(),
            path: FieldPath::top_level(""),
            replace_null_with_default: true,
        }
    }

    fn definition() -> ConfigDef {
        with_syntax_version(with_replace_null_with_default(ConfigDef::new().define(
            "field",
            ConfigType::String,
            None,
            Importance::Medium,
            "Field name to extract.",
        )))
    }
}

impl<R: ConnectRecord> Transformation<R> for ExtractField {
    fn config_def(&self) -> ConfigDef {
        Self::definition()
    }

    fn configure(&mut self, props: &Props) -> Result<()> {
        let settings = Settings::parse(&Self::definition(), props)?;
        self.original = settings.string("field");
        self.path = FieldPath::parse(&self.original, &settings.string(SYNTAX_VERSION))?;
        self.replace_null_with_default = settings.flag(REPLACE_NULL_WITH_DEFAULT);
        Ok(())
    }

    fn apply(&mut self, record: &mut R) -> Result<Verdict> {
        let (schema, value) = match self.operand.schema(record) {
            None => {
                let value = match self.operand.value(record) {
                    Value::Null => Value::Null,
                    v => self.path.value_from_map(require_map_ref(v, PURPOSE)?)?,
                };
                (None, value)
            }
            Some(schema) => {
                let value = match self.operand.value(record) {
                    Value::Null => None,
                    v => Some(require_struct_ref(v, PURPOSE)?),
                };
                let field = self.path.field_from(schema)?.ok_or_else(|| {
                    ConnectError::data(format!("Unknown field: {}", self.original))
                })?;
                let extracted = match value {
                    None => Value::Null,
                    Some(s) => self
                        .path
                        .value_from_struct(s, self.replace_null_with_default)?,
                };
                (Some(field.schema.clone()), extracted)
            }
        };
        self.operand.set(record, schema, value);
        Ok(Verdict::Keep)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transforms::test_support::map;
    use crate::transforms::test_support::Applied;
    use sluice_connect_api::{
        props_of, Headers, Schema, SchemaBuilder, SchemaRef, SchemaType, SinkRecord, Struct,
        TimestampType,
    };

    fn record(key_schema: Option<SchemaRef>, key: Value) -> SinkRecord {
        SinkRecord {
            topic: "t".into(),
            kafka_partition: 0,
            kafka_offset: 0,
            key_schema,
            key,
            value_schema: None,
            value: Value::Null,
            timestamp: None,
            timestamp_type: TimestampType::NoTimestampType,
            headers: Headers::new(),
        }
    }

    fn extract(
        pairs: &[(&str, &str)],
        schema: Option<SchemaRef>,
        key: Value,
    ) -> Result<(Option<SchemaRef>, Value)> {
        let mut t = ExtractField::new(Operand::Key);
        Transformation::<SinkRecord>::configure(&mut t, &props_of(pairs))?;
        let out = t.applied(record(schema, key))?.expect("kept");
        Ok((out.key_schema, out.key))
    }

    #[test]
    fn schemaless_fields_and_nested_paths() {
        let magic = || map(vec![("magic", Value::Int32(42))]);
        assert_eq!(
            extract(&[("field", "magic")], None, magic()).expect("v1"),
            (None, Value::Int32(42))
        );
        assert_eq!(
            extract(&[("field", "nonexistent")], None, magic()).expect("missing"),
            (None, Value::Null)
        );
        assert_eq!(
            extract(&[("field", "magic")], None, Value::Null).expect("null"),
            (None, Value::Null)
        );
        let nested = map(vec![("magic", map(vec![("foo", Value::Int32(42))]))]);
        let v2 = |path: &str| {
            extract(
                &[("field", path), ("field.syntax.version", "V2")],
                None,
                nested.clone(),
            )
        };
        assert_eq!(v2("magic.foo").expect("nested"), (None, Value::Int32(42)));
        assert_eq!(
            v2("magic.nonexistent").expect("missing"),
            (None, Value::Null)
        );
        assert_eq!(
            extract(&[("field", "magic")], None, Value::Int32(1)).expect_err("not a map").message(),
            "Only Map objects supported in absence of schema for [field extraction], found: java.lang.Integer"
        );
    }

    #[test]
    fn with_a_schema_the_field_and_its_schema_are_extracted() {
        let inner = SchemaBuilder::struct_()
            .field("foo", Schema::int32())
            .expect("inner")
            .build();
        let schema = SchemaBuilder::struct_()
            .field("magic", inner.clone())
            .expect("outer")
            .build();
        let value = Struct::new(schema.clone())
            .and_then(|s| {
                s.put(
                    "magic",
                    Value::Struct(Struct::new(inner.clone())?.put("foo", Value::Int32(42))?),
                )
            })
            .expect("value");
        let (s, v) = extract(
            &[("field", "magic.foo"), ("field.syntax.version", "v2")],
            Some(schema.clone()),
            Value::Struct(value.clone()),
        )
        .expect("nested");
        assert_eq!(s.map(|s| s.schema_type), Some(SchemaType::Int32));
        assert_eq!(v, Value::Int32(42));
        assert_eq!(
            extract(
                &[
                    ("field", "magic.nonexistent"),
                    ("field.syntax.version", "V2")
                ],
                Some(schema.clone()),
                Value::Struct(value)
            )
            .expect_err("unknown")
            .message(),
            "Unknown field: magic.nonexistent"
        );
        let optional = SchemaBuilder::struct_()
            .field("magic", Schema::int32())
            .expect("s")
            .optional()
            .build();
        let (s, v) =
            extract(&[("field", "magic")], Some(optional), Value::Null).expect("null struct");
        assert_eq!(
            (s.map(|s| s.schema_type), v),
            (Some(SchemaType::Int32), Value::Null)
        );
    }

    #[test]
    fn replace_null_with_default_decides_a_null_fields_value() {
        let field = SchemaBuilder::new(SchemaType::Int32)
            .optional()
            .default_value(Value::Int32(42))
            .expect("default")
            .build();
        let schema = SchemaBuilder::struct_()
            .field("magic", field)
            .expect("schema")
            .build();
        for (replace, expected) in [("true", Value::Int32(42)), ("false", Value::Null)] {
            let value = Struct::new(schema.clone()).expect("struct");
            let (_, v) = extract(
                &[("field", "magic"), ("replace.null.with.default", replace)],
                Some(schema.clone()),
                Value::Struct(value),
            )
            .expect("extract");
            assert_eq!(v, expected, "{replace}");
        }
    }

    #[test]
    fn a_bad_syntax_version_is_refused() {
        let e = extract(
            &[("field", "a"), ("field.syntax.version", "v3")],
            None,
            Value::Null,
        )
        .expect_err("v3");
        assert_eq!(e.message(), "Invalid value v3 for configuration field.syntax.version: String must be one of (case insensitive): V1, V2");
    }
}
