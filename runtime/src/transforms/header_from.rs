//! `org.apache.kafka.connect.transforms.HeaderFrom$Key` / `$Value`: copies or moves fields into
//! headers, each header taking its field's schema. Headers are appended, never replaced.

use sluice_connect_api::{
    ConfigDef, ConfigType, ConnectError, ConnectRecord, Importance, Props, Result, SchemaBuilder,
    Struct, Transformation, Validator, Value, Verdict,
};

use super::support::{
    config_error, describe_schema, field_value, map_get, require_map, require_struct,
    with_replace_null_with_default, Operand, SchemaCache, Settings, REPLACE_NULL_WITH_DEFAULT,
};

pub struct HeaderFrom {
    operand: Operand,
    fields: Vec<String>,
    headers: Vec<String>,
    moving: bool,
    replace_null_with_default: bool,
    schemas: SchemaCache,
}

impl HeaderFrom {
    pub fn new(operand: Operand) -> Self {
        Self {
            operand,
            fields: Vec::new(),
            headers: Vec::new(),
            moving: false,
            replace_null_with_default: true,
            schemas: SchemaCache::default(),
        }
    }

    fn definition() -> ConfigDef {
        with_replace_null_with_default(
            ConfigDef::new()
                .define("fields", ConfigType::List, None, Importance::High, "Field names in the record whose values are to be copied or moved to headers.")
                .validator(Validator::NonEmptyList)
                .define("headers", ConfigType::List, None, Importance::High, "Header names, in the same order as the field names listed in the fields configuration property.")
                .validator(Validator::NonEmptyList)
                .define("operation", ConfigType::String, None, Importance::High, "Either move if the fields are to be moved to the headers (removed from the key/value), or copy if the fields are to be copied to the headers (retained in the key/value).")
                .validator(Validator::In(vec!["move".into(), "copy".into()])),
        )
    }

    fn purpose(&self) -> &'static str {
        if self.moving {
            "header move"
        } else {
            "header copy"
        }
    }
}

impl<R: ConnectRecord> Transformation<R> for HeaderFrom {
    fn config_def(&self) -> ConfigDef {
        Self::definition()
    }

    fn configure(&mut self, props: &Props) -> Result<()> {
        let settings = Settings::parse(&Self::definition(), props)?;
        self.fields = settings.list("fields");
        self.headers = settings.list("headers");
        if self.fields.len() != self.headers.len() {
            return Err(config_error(
                "headers",
                "'fields' config must have the same number of elements as 'headers' config.",
            ));
        }
        self.moving = settings.string("operation") == "move";
        self.replace_null_with_default = settings.flag(REPLACE_NULL_WITH_DEFAULT);
        self.schemas = SchemaCache::default();
        Ok(())
    }

    fn apply(&mut self, record: &mut R) -> Result<Verdict> {
        let purpose = self.purpose();
        let (schema, value) = self.operand.take(record);
        match schema {
            None => {
                let mut entries = require_map(value, purpose)?;
                let mut taken = Vec::with_capacity(self.fields.len());
                for field in &self.fields {
                    taken.push(map_get(&entries, field).cloned().unwrap_or(Value::Null));
                }
                if self.moving {
                    entries
                        .retain(|(k, _)| !matches!(k, Value::String(s) if self.fields.contains(s)));
                }
                let headers = record.headers_mut();
                for (header, value) in self.headers.iter().zip(taken) {
                    headers.add(header.clone(), None, value);
                }
                self.operand.set(record, None, Value::Map(entries));
            }
            Some(schema) => {
                let value = require_struct(value, purpose)?;
                let mut taken = Vec::with_capacity(self.fields.len());
                for field in &self.fields {
                    let f = schema.field(field).ok_or_else(|| {
                        ConnectError::data(format!("Field does not exist: {field}"))
                    })?;
                    let v = match value.schema().field(field) {
                        Some(own) => {
                            field_value(&value, own.index, self.replace_null_with_default).clone()
                        }
                        None => Value::Null,
                    };
                    if v.is_null() && !f.schema.optional {
                        return Err(ConnectError::data(format!(
                            "A null value requires an optional schema but was {}",
                            describe_schema(&f.schema)
                        )));
                    }
                    taken.push((f.schema.clone(), v));
                }
                let (schema, value) = if self.moving {
                    let fields = &self.fields;
                    let updated = self.schemas.get_or_build(&schema, |s| {
                        let mut b = SchemaBuilder::struct_().with_basics_of(s);
                        for f in s.fields.iter().filter(|f| !fields.contains(&f.name)) {
                            b = b.field(&f.name, f.schema.clone())?;
                        }
                        Ok(b.build())
                    })?;
                    let mut out = Struct::new(updated.clone())?;
                    for (i, f) in updated.fields.iter().enumerate() {
                        let index = value.schema().field(&f.name).map(|own| own.index);
                        if let Some(index) = index {
                            out.set(
                                i,
                                field_value(&value, index, self.replace_null_with_default).clone(),
                            )?;
                        }
                    }
                    (updated, Value::Struct(out))
                } else {
                    (schema, Value::Struct(value))
                };
                let headers = record.headers_mut();
                for (header, (field_schema, v)) in self.headers.iter().zip(taken) {
                    headers.add(header.clone(), Some(field_schema), v);
                }
                self.operand.set(record, Some(schema), value);
            }
        }
        Ok(Verdict::Keep)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transforms::test_support::Applied;
    use sluice_connect_api::{props_of, Schema, SchemaRef, SchemaType, SourceMap, SourceRecord};

    fn transform(operation: &str, fields: &str, headers: &str, replace: &str) -> HeaderFrom {
        let mut t = HeaderFrom::new(Operand::Value);
        Transformation::<SourceRecord>::configure(
            &mut t,
            &props_of(&[
                ("fields", fields),
                ("headers", headers),
                ("operation", operation),
                ("replace.null.with.default", replace),
            ]),
        )
        .expect("configured");
        t
    }

    fn record(schema: Option<SchemaRef>, value: Value) -> SourceRecord {
        let mut r = SourceRecord::new(SourceMap::new(), SourceMap::new(), "t", schema, value);
        r.headers.add(
            "header1",
            Some(Schema::string()),
            Value::String("existing-value".into()),
        );
        r
    }

    fn header_values(r: &SourceRecord) -> Vec<(String, Value)> {
        r.headers
            .iter()
            .map(|h| (h.key.to_string(), h.value.clone()))
            .collect()
    }

    #[test]
    fn schemaless_copy_and_move() {
        let value = || {
            Value::Map(vec![
                (
                    Value::String("field1".into()),
                    Value::String("field1-value".into()),
                ),
                (
                    Value::String("field2".into()),
                    Value::String("field2-value".into()),
                ),
            ])
        };
        let mut copy = transform("copy", "field1", "inserted1", "true");
        let out = copy
            .applied(record(None, value()))
            .expect("copy")
            .expect("kept");
        assert_eq!(out.value, value());
        assert_eq!(
            header_values(&out),
            [
                (
                    "header1".to_string(),
                    Value::String("existing-value".into())
                ),
                (
                    "inserted1".to_string(),
                    Value::String("field1-value".into())
                )
            ]
        );
        let mut moving = transform("move", "field1,field2", "inserted1,inserted1", "true");
        let out = moving
            .applied(record(None, value()))
            .expect("move")
            .expect("kept");
        assert_eq!(out.value, Value::Map(vec![]));
        assert_eq!(out.headers.all_with_name("inserted1").count(), 2);
    }

    #[test]
    fn with_a_schema_headers_take_the_field_schema() {
        let optional = SchemaBuilder::new(SchemaType::String)
            .optional()
            .default_value(Value::String("default".into()))
            .expect("default")
            .build();
        let schema = SchemaBuilder::struct_()
            .field("field1", optional.clone())
            .and_then(|b| b.field("field2", optional.clone()))
            .expect("schema")
            .build();
        let value = Struct::new(schema.clone())
            .and_then(|s| s.put("field1", Value::String("field1-value".into())))
            .expect("value");
        for (replace, second) in [
            ("false", Value::Null),
            ("true", Value::String("default".into())),
        ] {
            let mut t = transform("move", "field1,field2", "inserted1,inserted2", replace);
            let out = t
                .applied(record(Some(schema.clone()), Value::Struct(value.clone())))
                .expect("move")
                .expect("kept");
            assert!(out
                .value_schema
                .as_ref()
                .is_some_and(|s| s.fields.is_empty()));
            let inserted2 = out.headers.last_with_name("inserted2").expect("header");
            assert_eq!(inserted2.value, second, "{replace}");
            assert_eq!(inserted2.schema.as_ref(), Some(&optional));
        }
    }

    #[test]
    fn mismatched_lists_and_bad_operations_are_refused() {
        let configure = |pairs: &[(&str, &str)]| {
            let mut t = HeaderFrom::new(Operand::Value);
            Transformation::<SourceRecord>::configure(&mut t, &props_of(pairs))
                .expect_err("refused")
                .message()
                .to_string()
        };
        assert_eq!(
            configure(&[
                ("fields", "foo,bar"),
                ("headers", "foo"),
                ("operation", "copy")
            ]),
            "'fields' config must have the same number of elements as 'headers' config."
        );
        assert_eq!(
            configure(&[("fields", ""), ("headers", ""), ("operation", "copy")]),
            "Invalid value [] for configuration fields: Empty list"
        );
        assert_eq!(
            configure(&[("fields", "a"), ("headers", "b"), ("operation", "Copy")]),
            "Invalid value Copy for configuration operation: String must be one of: move, copy"
        );
    }
}
