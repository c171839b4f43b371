//! `org.apache.kafka.connect.transforms.InsertField$Key` / `$Value`: adds the record's topic,
//! partition, offset (sink records only), timestamp and a static value as fields. A field name
//! ending in `!` makes its field required, `?` (the default) optional.

use sluice_connect_api::{
    ConfigDef, ConfigType, ConnectError, ConnectRecord, Importance, Props, Result, SchemaBuilder,
    SchemaRef, SchemaType, Struct, Transformation, Value, Verdict,
};

use super::support::{
    into_field_values, map_put, require_map, require_sink_record, require_struct,
    with_replace_null_with_default, Operand, SchemaCache, Settings, REPLACE_NULL_WITH_DEFAULT,
};

const PURPOSE: &str = "field insertion";

/// One field to insert: its name and whether its schema is optional.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Spec {
    name: String,
    optional: bool,
}

impl Spec {
    fn parse(text: &str) -> Option<Self> {
        if text.is_empty() {
            return None;
        }
        Some(if let Some(name) = text.strip_suffix('?') {
            Spec {
                name: name.into(),
                optional: true,
            }
        } else if let Some(name) = text.strip_suffix('!') {
            Spec {
                name: name.into(),
                optional: false,
            }
        } else {
            Spec {
                name: text.into(),
                optional: true,
            }
        })
    }
}

pub struct InsertField {
    operand: Operand,
    topic: Option<Spec>,
    partition: Option<Spec>,
    offset: Option<Spec>,
    timestamp: Option<Spec>,
    static_field: Option<Spec>,
    static_value: String,
    replace_null_with_default: bool,
    schemas: SchemaCache,
}

impl InsertField {
    pub fn new(operand: Operand) -> Self {
        Self {
            operand,
            topic: None,
            partition: None,
            offset: None,
            timestamp: None,
            static_field: None,
            static_value: String::new(),
            replace_null_with_default: true,
            schemas: SchemaCache::default(),
        }
    }

    fn definition() -> ConfigDef {
        const SUFFIX: &str =
            "Suffix with ! to make this a required field, or ? to keep it optional (the default).";
        let def = ConfigDef::new()
            .define(
                "topic.field",
                ConfigType::String,
                None,
                Importance::Medium,
                &format!("Field name for Kafka topic. {SUFFIX}"),
            )
            .nullable()
            .define(
                "partition.field",
                ConfigType::String,
                None,
                Importance::Medium,
                &format!("Field name for Kafka partition. {SUFFIX}"),
            )
            .nullable()
            .define(
                "offset.field",
                ConfigType::String,
                None,
                Importance::Medium,
                &format!(
                    "Field name for Kafka offset - only applicable to sink connectors. {SUFFIX}"
                ),
            )
            .nullable()
            .define(
                "timestamp.field",
                ConfigType::String,
                None,
                Importance::Medium,
                &format!("Field name for record timestamp. {SUFFIX}"),
            )
            .nullable()
            .define(
                "static.field",
                ConfigType::String,
                None,
                Importance::Medium,
                &format!("Field name for static data field. {SUFFIX}"),
            )
            .nullable()
            .define(
                "static.value",
                ConfigType::String,
                None,
                Importance::Medium,
                "Static field value, if field name configured.",
            )
            .nullable();
        with_replace_null_with_default(def)
    }

    /// The fields to append to a struct schema, in Kafka's fixed order.
    fn inserted_schemas(&self) -> Vec<(String, SchemaRef)> {
        fn primitive(spec: &Spec, t: SchemaType) -> (String, SchemaRef) {
            let b = SchemaBuilder::new(t);
            (
                spec.name.clone(),
                if spec.optional {
                    b.optional().build()
                } else {
                    b.build()
                },
            )
        }
        let mut out = Vec::new();
        if let Some(s) = &self.topic {
            out.push(primitive(s, SchemaType::String));
        }
        if let Some(s) = &self.partition {
            out.push(primitive(s, SchemaType::Int32));
        }
        if let Some(s) = &self.offset {
            out.push(primitive(s, SchemaType::Int64));
        }
        if let Some(s) = &self.timestamp {
            let b = SchemaBuilder::timestamp();
            out.push((
                s.name.clone(),
                if s.optional {
                    b.optional().build()
                } else {
                    b.build()
                },
            ));
        }
        if let Some(s) = &self.static_field {
            out.push(primitive(s, SchemaType::String));
        }
        out
    }

    /// Hands `insert` the values to insert for `record`, one per configured field in Kafka's
    /// order: the timestamp as a Timestamp value with a schema, as epoch milliseconds without
    /// one; `None` for what the record lacks (a partition, a timestamp). Handed over one by one,
    /// as a list per record cost more than the insertion.
    fn inserted_values<R: ConnectRecord>(
        &self,
        record: &R,
        with_schema: bool,
        mut insert: impl FnMut(&str, Option<Value>),
    ) -> Result<()> {
        if let Some(s) = &self.topic {
            insert(&s.name, Some(Value::String(record.topic().to_string())));
        }
        if let Some(s) = &self.partition {
            insert(&s.name, record.kafka_partition().map(Value::Int32));
        }
        if let Some(s) = &self.offset {
            insert(
                &s.name,
                Some(Value::Int64(require_sink_record(record, PURPOSE)?)),
            );
        }
        if let Some(s) = &self.timestamp {
            let t = record.timestamp();
            let v = t.map(|t| {
                if with_schema {
                    Value::Timestamp(t)
                } else {
                    Value::Int64(t)
                }
            });
            insert(&s.name, v);
        }
        if let Some(s) = &self.static_field {
            insert(&s.name, Some(Value::String(self.static_value.clone())));
        }
        Ok(())
    }

    /// How many fields each record gets.
    fn inserted_count(&self) -> usize {
        [
            &self.topic,
            &self.partition,
            &self.offset,
            &self.timestamp,
            &self.static_field,
        ]
        .iter()
        .filter(|s| s.is_some())
        .count()
    }
}

impl<R: ConnectRecord> Transformation<R> for InsertField {
    fn config_def(&self) -> ConfigDef {
        Self::definition()
    }

    fn configure(&mut self, props: &Props) -> Result<()> {
        let settings = Settings::parse(&Self::definition(), props)?;
        let spec = |key: &str| Spec::parse(&settings.string(key));
        self.topic = spec("topic.field");
        self.partition = spec("partition.field");
        self.offset = spec("offset.field");
        self.timestamp = spec("timestamp.field");
        self.static_field = spec("static.field");
        if let Some(field) = &self.static_field {
            if !props.contains_key("static.value") {
                return Err(ConnectError::Config {
                    key: "static.value".into(),
                    message: format!(
                        "Invalid value null for configuration static.value: No value specified for static field: {}",
                        field.name
                    ),
                });
            }
        }
        self.static_value = settings.string("static.value");
        if self.inserted_count() == 0 {
            return Err(ConnectError::Config {
                key: "topic.field".into(),
                message: "No field insertion configured".into(),
            });
        }
        self.replace_null_with_default = settings.flag(REPLACE_NULL_WITH_DEFAULT);
        self.schemas = SchemaCache::default();
        Ok(())
    }

    fn apply(&mut self, record: &mut R) -> Result<Verdict> {
        if self.operand.value(record).is_null() {
            return Ok(Verdict::Keep);
        }
        let with_schema = self.operand.schema(record).is_some();
        // The cache is set apart while the settings build into it.
        let mut cache = std::mem::take(&mut self.schemas);
        let applied = self.insert(record, with_schema, &mut cache);
        self.schemas = cache;
        applied?;
        Ok(Verdict::Keep)
    }
}

impl InsertField {
    fn insert<R: ConnectRecord>(
        &self,
        record: &mut R,
        with_schema: bool,
        cache: &mut SchemaCache,
    ) -> Result<()> {
        // As Kafka: the value's type is checked before a source record is refused an offset.
        let (schema, value) = self.operand.take(record);
        match schema {
            None => {
                let mut entries = require_map(value, PURPOSE)?;
                self.inserted_values(record, with_schema, |name, v| {
                    if let Some(v) = v {
                        map_put(&mut entries, name, v);
                    }
                })?;
                self.operand.set(record, None, Value::Map(entries));
            }
            Some(_) => {
                let value = require_struct(value, PURPOSE)?;
                let updated = cache.get_or_build(value.schema(), |s| {
                    let mut b = SchemaBuilder::struct_().with_basics_of(s);
                    for f in &s.fields {
                        b = b.field(&f.name, f.schema.clone())?;
                    }
                    for (name, schema) in self.inserted_schemas() {
                        b = b.field(&name, schema)?;
                    }
                    Ok(b.build())
                })?;
                // The inserted fields follow the original ones in the same order; one the
                // record lacks (no partition, no timestamp) stays null.
                let (original, mut values) =
                    into_field_values(value, self.replace_null_with_default);
                values.reserve_exact(self.inserted_count());
                self.inserted_values(record, with_schema, |_, v| {
                    values.push(v.unwrap_or(Value::Null));
                })?;
                // The original fields keep their schemas, against which they were checked.
                let out = Struct::from_checked_values(updated.clone(), values, |i| {
                    original.fields.get(i).map(|f| &f.schema)
                })?;
                self.operand.set(record, Some(updated), Value::Struct(out));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transforms::test_support::Applied;
    use sluice_connect_api::{
        props_of, Headers, SinkRecord, SourceMap, SourceRecord, TimestampType,
    };

    fn configured(pairs: &[(&str, &str)]) -> InsertField {
        let mut t = InsertField::new(Operand::Value);
        Transformation::<SourceRecord>::configure(&mut t, &props_of(pairs)).expect("configured");
        t
    }

    const CONFIG: &[(&str, &str)] = &[
        ("topic.field", "topic_field!"),
        ("partition.field", "partition_field"),
        ("timestamp.field", "timestamp_field?"),
        ("static.field", "instance_id"),
        ("static.value", "my-instance-id"),
    ];

    fn source(schema: Option<SchemaRef>, value: Value) -> SourceRecord {
        let mut r = SourceRecord::new(SourceMap::new(), SourceMap::new(), "test", schema, value);
        r.kafka_partition = Some(0);
        r.timestamp = Some(789);
        r
    }

    #[test]
    fn fields_are_appended_to_a_struct_with_their_schemas() {
        let schema = SchemaBuilder::struct_()
            .name("name")
            .version(1)
            .doc("doc")
            .field(
                "magic",
                SchemaBuilder::new(SchemaType::Int64).optional().build(),
            )
            .expect("schema")
            .build();
        let value = Struct::new(schema.clone())
            .and_then(|s| s.put("magic", Value::Int64(42)))
            .expect("v");
        let mut t = configured(CONFIG);
        let out = t
            .applied(source(Some(schema.clone()), Value::Struct(value.clone())))
            .expect("insert")
            .expect("kept");
        let out_schema = out.value_schema.clone().expect("schema");
        assert_eq!(
            (
                out_schema.name.as_deref(),
                out_schema.version,
                out_schema.doc.as_deref()
            ),
            (Some("name"), Some(1), Some("doc"))
        );
        let names: Vec<&str> = out_schema.fields.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "magic",
                "topic_field",
                "partition_field",
                "timestamp_field",
                "instance_id"
            ]
        );
        assert!(
            !out_schema
                .field("topic_field")
                .expect("topic")
                .schema
                .optional
        );
        assert!(
            out_schema
                .field("partition_field")
                .expect("partition")
                .schema
                .optional
        );
        let Value::Struct(s) = &out.value else {
            panic!("not a struct")
        };
        assert_eq!(
            s.get("topic_field").expect("t"),
            &Value::String("test".into())
        );
        assert_eq!(s.get("partition_field").expect("p"), &Value::Int32(0));
        assert_eq!(
            s.get("timestamp_field").expect("ts"),
            &Value::Timestamp(789)
        );
        assert_eq!(
            s.get("instance_id").expect("static"),
            &Value::String("my-instance-id".into())
        );
        let again = t
            .applied(source(Some(schema), Value::Struct(value)))
            .expect("insert")
            .expect("kept");
        assert!(
            std::sync::Arc::ptr_eq(&again.value_schema.expect("schema"), &out_schema),
            "cached"
        );
    }

    #[test]
    fn schemaless_maps_get_plain_values_and_tombstones_pass() {
        let mut t = configured(CONFIG);
        let out = t
            .applied(source(
                None,
                Value::Map(vec![(Value::String("magic".into()), Value::Int64(42))]),
            ))
            .expect("insert")
            .expect("kept");
        let Value::Map(entries) = out.value else {
            panic!("not a map")
        };
        assert_eq!(entries.len(), 5);
        assert!(entries.contains(&(Value::String("timestamp_field".into()), Value::Int64(789))));
        let tombstone = source(None, Value::Null);
        assert_eq!(
            t.applied(tombstone.clone()).expect("null").expect("kept"),
            tombstone
        );
    }

    #[test]
    fn offsets_only_on_sink_records_and_config_errors() {
        let mut t = configured(&[("offset.field", "off!")]);
        let value = Value::Map(vec![]);
        assert_eq!(
            t.applied(source(None, value.clone())).expect_err("source").message(),
            "Only SinkRecord supported for [field insertion], found: org.apache.kafka.connect.source.SourceRecord"
        );
        // As Kafka: the value's type is checked first.
        assert_eq!(
            t.applied(source(None, Value::String("text".into())))
                .expect_err("not a map")
                .message(),
            "Only Map objects supported in absence of schema for [field insertion], found: java.lang.String"
        );
        let sink = SinkRecord {
            topic: "t".into(),
            kafka_partition: 0,
            kafka_offset: 5,
            key_schema: None,
            key: Value::Null,
            value_schema: None,
            value,
            timestamp: None,
            timestamp_type: TimestampType::NoTimestampType,
            headers: Headers::new(),
        };
        let out = Applied::<SinkRecord>::applied(&mut t, sink)
            .expect("sink")
            .expect("kept");
        assert_eq!(
            out.value,
            Value::Map(vec![(Value::String("off".into()), Value::Int64(5))])
        );
        let message = |pairs: &[(&str, &str)]| {
            let mut t = InsertField::new(Operand::Value);
            Transformation::<SourceRecord>::configure(&mut t, &props_of(pairs))
                .expect_err("refused")
                .message()
                .to_string()
        };
        assert_eq!(
            message(&[("static.value", "x")]),
            "No field insertion configured"
        );
        assert_eq!(
            message(&[("static.field", "x")]),
            "Invalid value null for configuration static.value: No value specified for static field: x"
        );
    }
}
