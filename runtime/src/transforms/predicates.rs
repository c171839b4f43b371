//! The predicates (`org.apache.kafka.connect.transforms.predicates.*`): whether a record's topic
//! matches a pattern, whether it has a header, whether it is a tombstone.

use regex::Regex;
use sluice_connect_api::java_regex;
use sluice_connect_api::{
    ConfigDef, ConfigType, ConnectRecord, Importance, Predicate, Props, Result, Validator,
};

use super::support::{invalid, Settings};

/// True when the topic matches the whole `pattern` (Java's `Matcher.matches()`).
#[derive(Default)]
pub struct TopicNameMatches {
    pattern: Option<Regex>,
}

impl<R: ConnectRecord> Predicate<R> for TopicNameMatches {
    fn config_def(&self) -> ConfigDef {
        ConfigDef::new()
            .define(
                "pattern",
                ConfigType::String,
                None,
                Importance::Medium,
                "A Java regular expression for matching against the name of a record's topic.",
            )
            .validator(Validator::NonEmptyString)
    }

    fn configure(&mut self, props: &Props) -> Result<()> {
        let pattern = Settings::parse(&Predicate::<R>::config_def(self), props)?.string("pattern");
        let compiled =
            java_regex::compile_whole(&pattern).map_err(|e| invalid("pattern", &pattern, &e))?;
        self.pattern = Some(compiled);
        Ok(())
    }

    fn test(&self, record: &R) -> bool {
        self.pattern
            .as_ref()
            .is_some_and(|p| p.is_match(record.topic()))
    }
}

/// True when some header has the key `name`.
#[derive(Default)]
pub struct HasHeaderKey {
    name: String,
}

impl<R: ConnectRecord> Predicate<R> for HasHeaderKey {
    fn config_def(&self) -> ConfigDef {
        ConfigDef::new()
            .define(
                "name",
                ConfigType::String,
                None,
                Importance::Medium,
                "The header name.",
            )
            .validator(Validator::NonEmptyString)
    }

    fn configure(&mut self, props: &Props) -> Result<()> {
        self.name = Settings::parse(&Predicate::<R>::config_def(self), props)?.string("name");
        Ok(())
    }

    fn test(&self, record: &R) -> bool {
        record.headers().all_with_name(&self.name).next().is_some()
    }
}

/// True for records whose value is null.
#[derive(Default)]
pub struct RecordIsTombstone;

impl<R: ConnectRecord> Predicate<R> for RecordIsTombstone {
    fn config_def(&self) -> ConfigDef {
        ConfigDef::new()
    }

    fn configure(&mut self, _props: &Props) -> Result<()> {
        Ok(())
    }

    fn test(&self, record: &R) -> bool {
        record.value().is_null()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_connect_api::{props_of, Schema, SourceMap, SourceRecord, Value};

    fn record(topic: &str) -> SourceRecord {
        SourceRecord::new(
            SourceMap::new(),
            SourceMap::new(),
            topic,
            None,
            Value::Int32(1),
        )
    }

    fn configure<P: Predicate<SourceRecord>>(mut p: P, pairs: &[(&str, &str)]) -> Result<P> {
        p.configure(&props_of(pairs))?;
        Ok(p)
    }

    #[test]
    fn topic_names_must_match_whole() {
        let p = configure(TopicNameMatches::default(), &[("pattern", "my-prefix-.*")])
            .expect("pattern");
        for (topic, expected) in [
            ("my-prefix-", true),
            ("my-prefix-foo", true),
            ("x-my-prefix-", false),
            ("x-my-prefix-foo", false),
            ("your-prefix-foo", false),
        ] {
            assert_eq!(p.test(&record(topic)), expected, "{topic}");
        }
        let message = |pairs: &[(&str, &str)]| {
            configure(TopicNameMatches::default(), pairs)
                .err()
                .map(|e| e.message().to_string())
                .unwrap_or_default()
        };
        assert_eq!(
            message(&[]),
            "Missing required configuration \"pattern\" which has no default value."
        );
        assert_eq!(
            message(&[("pattern", "")]),
            "Invalid value  for configuration pattern: String must be non-empty"
        );
        assert!(
            message(&[("pattern", "[")]).contains("Invalid regex"),
            "{}",
            message(&[("pattern", "[")])
        );
    }

    #[test]
    fn header_keys_and_tombstones() {
        let p = configure(HasHeaderKey::default(), &[("name", "foo")]).expect("name");
        let mut r = record("t");
        assert!(!p.test(&r), "no headers");
        r.headers.add("bar", None, Value::Null);
        assert!(!p.test(&r));
        r.headers
            .add("foo", Some(Schema::optional_string()), Value::Null);
        assert!(p.test(&r), "a null value still counts");
        assert_eq!(
            configure(HasHeaderKey::default(), &[("name", "")])
                .err()
                .map(|e| e.message().to_string()),
            Some("Invalid value  for configuration name: String must be non-empty".into())
        );
        let tomb = configure(RecordIsTombstone, &[]).expect("tombstone");
        assert!(!tomb.test(&r));
        r.value_schema = Some(Schema::optional_string());
        r.value = Value::Null;
        assert!(tomb.test(&r), "a null value with a schema is a tombstone");
    }
}
