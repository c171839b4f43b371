//! Every transform and predicate Sluice offers: Apache Kafka's built-in catalogue, by class
//! name, with the short aliases Kafka Connect accepts (the simple name of a top-level class; a
//! nested `$Key`/`$Value` class has none).

use sluice_connect_api::{PredicateDesc, TransformDesc};

use super::cast::Cast;
use super::drop_headers::DropHeaders;
use super::extract_field::ExtractField;
use super::filter::Filter;
use super::flatten::Flatten;
use super::header_from::HeaderFrom;
use super::hoist_field::HoistField;
use super::insert_field::InsertField;
use super::insert_header::InsertHeader;
use super::mask_field::MaskField;
use super::predicates::{HasHeaderKey, RecordIsTombstone, TopicNameMatches};
use super::regex_router::RegexRouter;
use super::replace_field::ReplaceField;
use super::set_schema_metadata::SetSchemaMetadata;
use super::support::Operand::{Key, Value};
use super::timestamp_converter::TimestampConverter;
use super::timestamp_router::TimestampRouter;
use super::value_to_key::ValueToKey;

macro_rules! transform {
    ($class:literal, [$($alias:literal),*], $make:expr) => {
        TransformDesc {
            class: concat!("org.apache.kafka.connect.transforms.", $class),
            aliases: &[$($alias),*],
            source: || Box::new($make),
            sink: || Box::new($make),
        }
    };
}

macro_rules! predicate {
    ($class:literal, $make:expr) => {
        PredicateDesc {
            class: concat!("org.apache.kafka.connect.transforms.predicates.", $class),
            aliases: &[$class],
            source: || Box::new($make),
            sink: || Box::new($make),
        }
    };
}

pub static TRANSFORMS: &[TransformDesc] = &[
    transform!("Cast$Key", [], Cast::new(Key)),
    transform!("Cast$Value", [], Cast::new(Value)),
    transform!("DropHeaders", ["DropHeaders"], DropHeaders::default()),
    transform!("ExtractField$Key", [], ExtractField::new(Key)),
    transform!("ExtractField$Value", [], ExtractField::new(Value)),
    transform!("Filter", ["Filter"], Filter),
    transform!("Flatten$Key", [], Flatten::new(Key)),
    transform!("Flatten$Value", [], Flatten::new(Value)),
    transform!("HeaderFrom$Key", [], HeaderFrom::new(Key)),
    transform!("HeaderFrom$Value", [], HeaderFrom::new(Value)),
    transform!("HoistField$Key", [], HoistField::new(Key)),
    transform!("HoistField$Value", [], HoistField::new(Value)),
    transform!("InsertField$Key", [], InsertField::new(Key)),
    transform!("InsertField$Value", [], InsertField::new(Value)),
    transform!("InsertHeader", ["InsertHeader"], InsertHeader::default()),
    transform!("MaskField$Key", [], MaskField::new(Key)),
    transform!("MaskField$Value", [], MaskField::new(Value)),
    transform!("RegexRouter", ["RegexRouter"], RegexRouter::default()),
    transform!("ReplaceField$Key", [], ReplaceField::new(Key)),
    transform!("ReplaceField$Value", [], ReplaceField::new(Value)),
    transform!("SetSchemaMetadata$Key", [], SetSchemaMetadata::new(Key)),
    transform!("SetSchemaMetadata$Value", [], SetSchemaMetadata::new(Value)),
    transform!("TimestampConverter$Key", [], TimestampConverter::new(Key)),
    transform!(
        "TimestampConverter$Value",
        [],
        TimestampConverter::new(Value)
    ),
    transform!(
        "TimestampRouter",
        ["TimestampRouter"],
        TimestampRouter::default()
    ),
    transform!("ValueToKey", ["ValueToKey"], ValueToKey::default()),
];

pub static PREDICATES: &[PredicateDesc] = &[
    predicate!("HasHeaderKey", HasHeaderKey::default()),
    predicate!("RecordIsTombstone", RecordIsTombstone),
    predicate!("TopicNameMatches", TopicNameMatches::default()),
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transforms::test_support::{map, Applied};
    use crate::transforms::ChainRecord;
    use sluice_connect_api::{props_of, Schema, SchemaRef, SinkRecord, Value};

    /// A transform's alias, its config, and an operand (schema and value) it changes.
    type OperandCase = (
        &'static str,
        Vec<(&'static str, &'static str)>,
        Option<SchemaRef>,
        Value,
    );

    /// For each `$Key`/`$Value` pair: a config and an operand it changes.
    fn operand_cases() -> Vec<OperandCase> {
        let nested = || {
            map(vec![
                ("a", Value::Int32(1)),
                ("b", map(vec![("c", Value::Int32(2))])),
            ])
        };
        vec![
            ("Cast", vec![("spec", "a:int64")], None, nested()),
            ("ExtractField", vec![("field", "a")], None, nested()),
            ("Flatten", vec![], None, nested()),
            (
                "HeaderFrom",
                vec![("fields", "a"), ("headers", "h"), ("operation", "move")],
                None,
                nested(),
            ),
            ("HoistField", vec![("field", "f")], None, nested()),
            ("InsertField", vec![("topic.field", "t")], None, nested()),
            ("MaskField", vec![("fields", "a")], None, nested()),
            ("ReplaceField", vec![("exclude", "a")], None, nested()),
            (
                "SetSchemaMetadata",
                vec![("schema.name", "renamed")],
                Some(Schema::int32()),
                Value::Int32(1),
            ),
            (
                "TimestampConverter",
                vec![("target.type", "unix")],
                None,
                Value::Timestamp(5),
            ),
        ]
    }

    fn record(schema: &Option<SchemaRef>, value: &Value) -> SinkRecord {
        SinkRecord {
            topic: "t".into(),
            kafka_partition: 0,
            kafka_offset: 1,
            key_schema: schema.clone(),
            key: value.clone(),
            value_schema: schema.clone(),
            value: value.clone(),
            timestamp: Some(0),
            timestamp_type: sluice_connect_api::TimestampType::CreateTime,
            headers: Default::default(),
        }
    }

    #[test]
    fn key_variants_change_only_the_key_and_value_variants_only_the_value() {
        let cases = operand_cases();
        let paired: Vec<&str> = TRANSFORMS
            .iter()
            .filter_map(|d| d.class.strip_suffix("$Key"))
            .filter_map(|c| c.rsplit('.').next())
            .collect();
        let covered: Vec<&str> = cases.iter().map(|c| c.0).collect();
        assert_eq!(paired, covered, "every $Key/$Value pair has a case");
        for (name, config, schema, operand) in cases {
            for variant in ["Key", "Value"] {
                let class = format!("org.apache.kafka.connect.transforms.{name}${variant}");
                let desc = TRANSFORMS
                    .iter()
                    .find(|d| d.class == class)
                    .expect("listed");
                let mut t = SinkRecord::new_transform(desc);
                t.configure(&props_of(&config)).expect("configured");
                let input = record(&schema, &operand);
                let out = t.applied(input.clone()).expect("applied").expect("kept");
                let (changed, kept) = if variant == "Key" {
                    ((&out.key_schema, &out.key), (&out.value_schema, &out.value))
                } else {
                    ((&out.value_schema, &out.value), (&out.key_schema, &out.key))
                };
                assert_eq!(
                    kept,
                    (&input.value_schema, &input.value),
                    "{class} left the other side"
                );
                assert_ne!(
                    changed,
                    (&input.key_schema, &input.key),
                    "{class} changed its side"
                );
            }
        }
    }

    #[test]
    fn every_class_is_named_once_and_aliases_are_simple_names() {
        let mut names: Vec<&str> = TRANSFORMS
            .iter()
            .map(|d| d.class)
            .chain(PREDICATES.iter().map(|d| d.class))
            .collect();
        let count = names.len();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), count);
        for d in TRANSFORMS {
            for alias in d.aliases {
                assert!(d.class.ends_with(&format!(".{alias}")), "{alias}");
            }
        }
    }
}
