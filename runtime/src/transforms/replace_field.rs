//! `org.apache.kafka.connect.transforms.ReplaceField$Key` / `$Value`: keeps, drops and renames
//! fields. `exclude` wins over `include`; renames apply to the fields kept. The names Kafka
//! deprecated and then removed, `whitelist` and `blacklist`, still work here as aliases of
//! `include` and `exclude`, so older configs keep their meaning.

use std::collections::{BTreeMap, BTreeSet};

use sluice_connect_api::{
    ConfigDef, ConfigType, ConnectRecord, Importance, Props, Result, SchemaBuilder, Struct,
    Transformation, Value, Verdict,
};

use super::support::{
    config_error, into_field_values, map_put, require_map, require_struct,
    with_replace_null_with_default, Operand, SchemaCache, Settings, REPLACE_NULL_WITH_DEFAULT,
};

const PURPOSE: &str = "field replacement";

pub struct ReplaceField {
    operand: Operand,
    exclude: BTreeSet<String>,
    include: BTreeSet<String>,
    renames: BTreeMap<String, String>,
    replace_null_with_default: bool,
    /// Per struct schema: the new schema, and the positions of the fields it keeps.
    schemas: SchemaCache<Vec<usize>>,
}

impl ReplaceField {
    pub fn new(operand: Operand) -> Self {
        Self {
            operand,
            exclude: BTreeSet::new(),
            include: BTreeSet::new(),
            renames: BTreeMap::new(),
            replace_null_with_default: true,
            schemas: SchemaCache::default(),
        }
    }

    fn definition() -> ConfigDef {
        with_replace_null_with_default(
            ConfigDef::new()
                .define(
                    "exclude",
                    ConfigType::List,
                    Some(""),
                    Importance::Medium,
                    "Fields to exclude. This takes precedence over the fields to include.",
                )
                .define(
                    "blacklist",
                    ConfigType::List,
                    None,
                    Importance::Low,
                    "Deprecated. Use exclude instead.",
                )
                .nullable()
                .define(
                    "include",
                    ConfigType::List,
                    Some(""),
                    Importance::Medium,
                    "Fields to include. If specified, only these fields will be used.",
                )
                .define(
                    "whitelist",
                    ConfigType::List,
                    None,
                    Importance::Low,
                    "Deprecated. Use include instead.",
                )
                .nullable()
                .define(
                    "renames",
                    ConfigType::List,
                    Some(""),
                    Importance::Medium,
                    "Field rename mappings.",
                ),
        )
    }

    /// Whether a field (by its original name) is kept.
    fn keeps(&self, name: &str) -> bool {
        !self.exclude.contains(name) && (self.include.is_empty() || self.include.contains(name))
    }

    fn renamed<'a>(&'a self, name: &'a str) -> &'a str {
        self.renames.get(name).map_or(name, String::as_str)
    }
}

/// `old:new` pairs; Java's `split(":")` drops trailing empty parts, so `a:b:` is `a:b`.
fn parse_renames(items: &[String]) -> Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for item in items {
        let mut parts: Vec<&str> = item.split(':').collect();
        while parts.last() == Some(&"") {
            parts.pop();
        }
        let [from, to] = parts.as_slice() else {
            return Err(config_error(
                "renames",
                format!(
                    "Invalid value [{}] for configuration renames: Invalid rename mapping: {item}",
                    items.join(", ")
                ),
            ));
        };
        out.insert(from.to_string(), to.to_string());
    }
    Ok(out)
}

impl<R: ConnectRecord> Transformation<R> for ReplaceField {
    fn config_def(&self) -> ConfigDef {
        Self::definition()
    }

    fn configure(&mut self, props: &Props) -> Result<()> {
        let settings = Settings::parse(&Self::definition(), props)?;
        // The deprecated name counts only when the current one is not set.
        let list = |current: &str, deprecated: &str| {
            let key = if !props.contains_key(current) && props.contains_key(deprecated) {
                tracing::warn!("Configuration key {deprecated} is deprecated and may be removed in the future.  Please update your configuration to use {current} instead.");
                deprecated
            } else {
                current
            };
            settings.list(key).into_iter().collect::<BTreeSet<_>>()
        };
        self.exclude = list("exclude", "blacklist");
        self.include = list("include", "whitelist");
        self.renames = parse_renames(&settings.list("renames"))?;
        self.replace_null_with_default = settings.flag(REPLACE_NULL_WITH_DEFAULT);
        self.schemas = SchemaCache::default();
        Ok(())
    }

    fn apply(&mut self, record: &mut R) -> Result<Verdict> {
        if self.operand.value(record).is_null() {
            return Ok(Verdict::Keep);
        }
        let (schema, value) = self.operand.take(record);
        match schema {
            None => {
                let entries = require_map(value, PURPOSE)?;
                let mut out = Vec::with_capacity(entries.len());
                for (key, v) in entries {
                    match &key {
                        Value::String(name) if !self.keeps(name) => {}
                        Value::String(name) => map_put(&mut out, self.renamed(name), v),
                        _ => out.push((key, v)),
                    }
                }
                self.operand.set(record, None, Value::Map(out));
            }
            Some(_) => {
                let value = require_struct(value, PURPOSE)?;
                // The cache is set apart while the settings build into it.
                let mut cache = std::mem::take(&mut self.schemas);
                let this = &*self;
                let planned = cache.get_or_plan(value.schema(), |s| {
                    let mut b = SchemaBuilder::struct_().with_basics_of(s);
                    for f in s.fields.iter().filter(|f| this.keeps(&f.name)) {
                        b = b.field(this.renamed(&f.name), f.schema.clone())?;
                    }
                    let kept = s
                        .fields
                        .iter()
                        .filter(|f| this.keeps(&f.name))
                        .map(|f| f.index)
                        .collect();
                    Ok((b.build(), kept))
                });
                let out = planned.and_then(|(updated, kept)| {
                    let (original, mut values) =
                        into_field_values(value, self.replace_null_with_default);
                    // Kept positions rise, so each moves forward into place.
                    for (to, from) in kept.iter().enumerate() {
                        values.swap(to, *from);
                    }
                    values.truncate(kept.len());
                    // Kept fields keep their schemas, against which they were checked.
                    let out = Struct::from_checked_values(updated.clone(), values, |i| {
                        let position = kept.get(i)?;
                        original.fields.get(*position).map(|f| &f.schema)
                    })?;
                    Ok((updated, out))
                });
                self.schemas = cache;
                let (updated, out) = out?;
                self.operand.set(record, Some(updated), Value::Struct(out));
            }
        }
        Ok(Verdict::Keep)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transforms::test_support::{map, on_value};
    use sluice_connect_api::{Schema, SchemaRef, SchemaType};

    fn replace(
        pairs: &[(&str, &str)],
        schema: Option<SchemaRef>,
        value: Value,
    ) -> Result<(Option<SchemaRef>, Value)> {
        on_value(ReplaceField::new(Operand::Value), pairs, schema, value)
    }

    fn sample() -> Value {
        map(vec![
            ("dont", Value::String("whatever".into())),
            ("abc", Value::Int32(42)),
            ("foo", Value::Boolean(true)),
            ("etc", Value::String("etc".into())),
        ])
    }

    #[test]
    fn schemaless_fields_are_dropped_and_renamed() {
        let expected = map(vec![
            ("xyz", Value::Int32(42)),
            ("bar", Value::Boolean(true)),
            ("etc", Value::String("etc".into())),
        ]);
        for key in ["exclude", "blacklist"] {
            let (_, out) = replace(
                &[(key, "dont"), ("renames", "abc:xyz,foo:bar")],
                None,
                sample(),
            )
            .expect("replaced");
            assert_eq!(out, expected, "{key}");
        }
        let (_, out) = replace(&[("include", "abc"), ("whitelist", "foo")], None, sample())
            .expect("include wins");
        assert_eq!(out, map(vec![("abc", Value::Int32(42))]));
    }

    #[test]
    fn struct_fields_keep_their_order_and_schemas() {
        let schema = SchemaBuilder::struct_()
            .field("dont", Schema::string())
            .and_then(|b| b.field("abc", Schema::int32()))
            .and_then(|b| b.field("foo", Schema::boolean()))
            .and_then(|b| b.field("etc", Schema::string()))
            .expect("schema")
            .build();
        let value = Struct::new(schema.clone())
            .and_then(|s| s.put("dont", Value::String("whatever".into())))
            .and_then(|s| s.put("abc", Value::Int32(42)))
            .and_then(|s| s.put("foo", Value::Boolean(true)))
            .and_then(|s| s.put("etc", Value::String("etc".into())))
            .expect("value");
        for key in ["include", "whitelist"] {
            let (out_schema, out) = replace(
                &[(key, "abc,foo"), ("renames", "abc:xyz,foo:bar")],
                Some(schema.clone()),
                Value::Struct(value.clone()),
            )
            .expect("replaced");
            let names: Vec<String> = out_schema
                .expect("schema")
                .fields
                .iter()
                .map(|f| f.name.clone())
                .collect();
            assert_eq!(names, ["xyz", "bar"], "{key}");
            let Value::Struct(out) = out else {
                panic!("not a struct")
            };
            assert_eq!(out.get("xyz").expect("xyz"), &Value::Int32(42));
            assert_eq!(out.get("bar").expect("bar"), &Value::Boolean(true));
        }
        let (s, v) =
            replace(&[("include", "abc")], Some(schema.clone()), Value::Null).expect("tombstone");
        assert_eq!((s, v), (Some(schema), Value::Null));
    }

    #[test]
    fn renames_parse_as_kafka_parses_them() {
        let e = replace(&[("renames", "abc:xyz,foo")], None, sample()).expect_err("bad");
        assert_eq!(
            e.message(),
            "Invalid value [abc:xyz, foo] for configuration renames: Invalid rename mapping: foo"
        );
        let (_, out) = replace(
            &[("renames", "abc:xyz:")],
            None,
            map(vec![("abc", Value::Int32(1))]),
        )
        .expect("trailing colon");
        assert_eq!(out, map(vec![("xyz", Value::Int32(1))]));
        let field = SchemaBuilder::new(SchemaType::Int32)
            .optional()
            .default_value(Value::Int32(42))
            .expect("d")
            .build();
        let schema = SchemaBuilder::struct_()
            .field("abc", field)
            .expect("s")
            .build();
        for (replace_null, expected) in [("true", Value::Int32(42)), ("false", Value::Null)] {
            let value = Struct::new(schema.clone()).expect("v");
            let (_, out) = replace(
                &[
                    ("include", "abc"),
                    ("renames", "abc:optional_with_default"),
                    ("replace.null.with.default", replace_null),
                ],
                Some(schema.clone()),
                Value::Struct(value),
            )
            .expect("replaced");
            let Value::Struct(out) = out else {
                panic!("not a struct")
            };
            assert_eq!(
                out.get_without_default("optional_with_default").expect("f"),
                &expected
            );
        }
    }
}
