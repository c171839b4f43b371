//! `org.apache.kafka.connect.transforms.RegexRouter`: when the whole topic matches `regex`, the
//! topic becomes `replacement` with `$1`-style group references filled in (Java's
//! `Matcher.matches()` then `replaceFirst`); otherwise the record passes unchanged.

use regex::Regex;
use sluice_connect_api::java_regex::{self, JavaReplacement};
use sluice_connect_api::{
    ConfigDef, ConfigType, ConnectRecord, Importance, Props, Result, Transformation, Verdict,
};

use super::support::{invalid, Settings};

#[derive(Default)]
pub struct RegexRouter {
    /// The pattern anchored at both ends, for the whole-topic test.
    whole: Option<Regex>,
    /// The pattern as given, for `replaceFirst`'s search.
    first: Option<Regex>,
    replacement: Option<JavaReplacement>,
    /// Recent topics and where they went: records of a source share a few topics, and the
    /// answer for one never changes.
    routes: Vec<(String, String)>,
}

/// How many topics' routes are remembered.
const ROUTES_KEPT: usize = 64;

impl<R: ConnectRecord> Transformation<R> for RegexRouter {
    fn config_def(&self) -> ConfigDef {
        ConfigDef::new()
            .define(
                "regex",
                ConfigType::String,
                None,
                Importance::High,
                "Regular expression to use for matching.",
            )
            .define(
                "replacement",
                ConfigType::String,
                None,
                Importance::High,
                "Replacement string.",
            )
    }

    fn configure(&mut self, props: &Props) -> Result<()> {
        let settings = Settings::parse(&Transformation::<R>::config_def(self), props)?;
        let pattern = settings.string("regex");
        let whole =
            java_regex::compile_whole(&pattern).map_err(|e| invalid("regex", &pattern, &e))?;
        let first = java_regex::compile(&pattern).map_err(|e| invalid("regex", &pattern, &e))?;
        let replacement = settings.string("replacement");
        let parsed = JavaReplacement::parse(&replacement, &first)
            .map_err(|e| invalid("replacement", &replacement, &e))?;
        self.whole = Some(whole);
        self.first = Some(first);
        self.replacement = Some(parsed);
        self.routes.clear();
        Ok(())
    }

    fn apply(&mut self, record: &mut R) -> Result<Verdict> {
        if let Some((_, to)) = self.routes.iter().find(|(from, _)| from == record.topic()) {
            if to != record.topic() {
                let to = to.clone();
                record.set_topic(to);
            }
            return Ok(Verdict::Keep);
        }
        let (Some(whole), Some(first), Some(replacement)) =
            (&self.whole, &self.first, &self.replacement)
        else {
            return Ok(Verdict::Keep);
        };
        let from = record.topic().to_string();
        let to = if whole.is_match(&from) {
            replacement.replace_first(first, &from)
        } else {
            from.clone()
        };
        if self.routes.len() == ROUTES_KEPT {
            self.routes.remove(0);
        }
        self.routes.push((from, to.clone()));
        record.set_topic(to);
        Ok(Verdict::Keep)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transforms::test_support::Applied;
    use sluice_connect_api::{props_of, SourceMap, SourceRecord, Value};

    fn route(regex: &str, replacement: &str, topic: &str) -> String {
        let mut t = RegexRouter::default();
        Transformation::<SourceRecord>::configure(
            &mut t,
            &props_of(&[("regex", regex), ("replacement", replacement)]),
        )
        .expect("configured");
        let r = SourceRecord::new(SourceMap::new(), SourceMap::new(), topic, None, Value::Null);
        t.applied(r).expect("routed").expect("kept").topic
    }

    #[test]
    fn whole_topics_are_matched_and_groups_replaced() {
        assert_eq!(route("foo", "bar", "foo"), "bar");
        assert_eq!(route("foo", "bar", "orig"), "orig");
        assert_eq!(
            route("foo", "bar", "foobar"),
            "foobar",
            "a partial match is no match"
        );
        assert_eq!(route("(.*)", "prefix-$1", "orig"), "prefix-orig");
        assert_eq!(route("(.*)", "$1-suffix", "orig"), "orig-suffix");
        assert_eq!(
            route(r"(.*)-(\d\d\d\d\d\d\d\d)", "$1", "index-20160117"),
            "index"
        );
        assert_eq!(
            route("a|ab", "X", "ab"),
            "Xb",
            "replaceFirst finds the first match as Java does"
        );
        assert_eq!(
            route("(?<name>[a-z]+)-(\\d+)", "${name}_$2", "orders-7"),
            "orders_7"
        );
        let e = Transformation::<SourceRecord>::configure(
            &mut RegexRouter::default(),
            &props_of(&[("regex", "(?=x)"), ("replacement", "y")]),
        )
        .expect_err("look-ahead");
        assert!(
            e.message()
                .starts_with("Invalid value (?=x) for configuration regex:"),
            "{}",
            e.message()
        );
    }
}
