//! The transform framework: the `transforms` alias list of a connector config, each alias's
//! `transforms.<alias>.type` and settings, and the `predicates` that decide when a transform
//! runs (`transforms.<alias>.predicate`, `.negate`). A transform runs when it has no predicate,
//! or when `negate` XOR the predicate's test holds.
//!
//! The catalogue here is the framework's own: `Filter` and the three predicates. Connectors and
//! later transforms plug in through [`Catalogue`].

use regex::Regex;
use sluice_connect_api::config::{class_not_found, split_list, with_prefix};
use sluice_connect_api::{
    ConfigDef, ConfigType, ConnectError, ConnectRecord, Importance, Predicate, Props, Result,
    Transformation,
};

const TRANSFORMS_PACKAGE: &str = "org.apache.kafka.connect.transforms.";
const PREDICATES_PACKAGE: &str = "org.apache.kafka.connect.transforms.predicates.";

/// Transformation classes this build offers, by Java name.
pub const TRANSFORM_CLASSES: &[&str] = &["org.apache.kafka.connect.transforms.Filter"];

/// Predicate classes this build offers, by Java name.
pub const PREDICATE_CLASSES: &[&str] = &[
    "org.apache.kafka.connect.transforms.predicates.TopicNameMatches",
    "org.apache.kafka.connect.transforms.predicates.HasHeaderKey",
    "org.apache.kafka.connect.transforms.predicates.RecordIsTombstone",
];

struct Step<R> {
    alias: String,
    transform: Box<dyn Transformation<R>>,
    predicate: Option<Box<dyn Predicate<R>>>,
    negate: bool,
}

/// The configured transforms of one connector, applied in order.
pub struct TransformChain<R> {
    steps: Vec<Step<R>>,
}

/// A transform that failed on a record: which alias, and why.
#[derive(Debug, thiserror::Error)]
#[error("transform '{alias}' failed: {source}")]
pub struct TransformError {
    pub alias: String,
    pub source: ConnectError,
}

impl<R: ConnectRecord + 'static> TransformChain<R> {
    /// Builds the chain from a connector config; every problem names its key.
    pub fn from_config(props: &Props) -> Result<Self> {
        let predicate_aliases = list(props, "predicates");
        let mut steps = Vec::new();
        for alias in list(props, "transforms") {
            let prefix = format!("transforms.{alias}.");
            let class = required(props, &format!("{prefix}type"))?;
            let mut transform = create_transform::<R>(&class).ok_or_else(|| {
                class_not_found(&format!("{prefix}type"), &class, TRANSFORM_CLASSES)
            })?;
            transform.configure(&with_prefix(props, &prefix))?;
            let predicate = match props.get(&format!("{prefix}predicate")) {
                None => None,
                Some(p) if p.trim().is_empty() => None,
                Some(p) => {
                    let p = p.trim();
                    if !predicate_aliases.iter().any(|a| a == p) {
                        return Err(ConnectError::Config {
                            key: format!("{prefix}predicate"),
                            message: format!(
                                "Invalid value {p} for configuration {prefix}predicate: the predicate is not listed in 'predicates'"
                            ),
                        });
                    }
                    let predicate_prefix = format!("predicates.{p}.");
                    let class = required(props, &format!("{predicate_prefix}type"))?;
                    let mut predicate = create_predicate::<R>(&class).ok_or_else(|| {
                        class_not_found(
                            &format!("{predicate_prefix}type"),
                            &class,
                            PREDICATE_CLASSES,
                        )
                    })?;
                    predicate.configure(&with_prefix(props, &predicate_prefix))?;
                    Some(predicate)
                }
            };
            let negate = match props.get(&format!("{prefix}negate")).map(|s| s.trim()) {
                None | Some("") => false,
                Some(v) if v.eq_ignore_ascii_case("true") => true,
                Some(v) if v.eq_ignore_ascii_case("false") => false,
                Some(v) => {
                    return Err(ConnectError::Config {
                        key: format!("{prefix}negate"),
                        message: format!("Invalid value {v} for configuration {prefix}negate: Expected value to be either true or false"),
                    })
                }
            };
            steps.push(Step {
                alias,
                transform,
                predicate,
                negate,
            });
        }
        Ok(Self { steps })
    }

    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    /// Runs the record through every transform; `None` when one of them dropped it.
    pub fn apply(&mut self, mut record: R) -> std::result::Result<Option<R>, TransformError> {
        for step in &mut self.steps {
            let applies = match &step.predicate {
                None => true,
                Some(p) => step.negate ^ p.test(&record),
            };
            if !applies {
                continue;
            }
            match step.transform.apply(record) {
                Ok(Some(r)) => record = r,
                Ok(None) => return Ok(None),
                Err(source) => {
                    return Err(TransformError {
                        alias: step.alias.clone(),
                        source,
                    })
                }
            }
        }
        Ok(Some(record))
    }
}

fn list(props: &Props, key: &str) -> Vec<String> {
    props.get(key).map(|v| split_list(v)).unwrap_or_default()
}

fn required(props: &Props, key: &str) -> Result<String> {
    match props.get(key).map(|v| v.trim()) {
        Some(v) if !v.is_empty() => Ok(v.to_string()),
        _ => Err(ConnectError::Config {
            key: key.to_string(),
            message: format!(
                "Missing required configuration \"{key}\" which has no default value."
            ),
        }),
    }
}

/// `name` as a class or its simple name, with `package` stripped.
fn simple_name<'a>(name: &'a str, package: &str) -> &'a str {
    name.strip_prefix(package).unwrap_or(name)
}

fn create_transform<R: ConnectRecord + 'static>(class: &str) -> Option<Box<dyn Transformation<R>>> {
    match simple_name(class, TRANSFORMS_PACKAGE) {
        "Filter" => Some(Box::new(Filter)),
        _ => None,
    }
}

fn create_predicate<R: ConnectRecord + 'static>(class: &str) -> Option<Box<dyn Predicate<R>>> {
    match simple_name(class, PREDICATES_PACKAGE) {
        "TopicNameMatches" => Some(Box::new(TopicNameMatches { pattern: None })),
        "HasHeaderKey" => Some(Box::new(HasHeaderKey {
            name: String::new(),
        })),
        "RecordIsTombstone" => Some(Box::new(RecordIsTombstone)),
        _ => None,
    }
}

/// `org.apache.kafka.connect.transforms.Filter`: drops every record it is applied to.
struct Filter;

impl<R: ConnectRecord> Transformation<R> for Filter {
    fn config_def(&self) -> ConfigDef {
        ConfigDef::new()
    }
    fn configure(&mut self, _props: &Props) -> Result<()> {
        Ok(())
    }
    fn apply(&mut self, _record: R) -> Result<Option<R>> {
        Ok(None)
    }
}

/// True when the topic matches the whole `pattern`.
struct TopicNameMatches {
    pattern: Option<Regex>,
}

impl<R: ConnectRecord> Predicate<R> for TopicNameMatches {
    fn config_def(&self) -> ConfigDef {
        ConfigDef::new().define(
            "pattern",
            ConfigType::String,
            None,
            Importance::Medium,
            "A Java regular expression for matching against the name of a record's topic.",
        )
    }
    fn configure(&mut self, props: &Props) -> Result<()> {
        let pattern = required(props, "pattern")?;
        // Java's Matcher.matches(): the whole topic name must match.
        let anchored = format!("^(?:{pattern})$");
        self.pattern = Some(Regex::new(&anchored).map_err(|e| ConnectError::Config {
            key: "pattern".into(),
            message: format!("Invalid value {pattern} for configuration pattern: {e}"),
        })?);
        Ok(())
    }
    fn test(&self, record: &R) -> bool {
        self.pattern
            .as_ref()
            .is_some_and(|p| p.is_match(record.topic()))
    }
}

/// True when some header has the key `name`.
struct HasHeaderKey {
    name: String,
}

impl<R: ConnectRecord> Predicate<R> for HasHeaderKey {
    fn config_def(&self) -> ConfigDef {
        ConfigDef::new().define(
            "name",
            ConfigType::String,
            None,
            Importance::Medium,
            "The header name.",
        )
    }
    fn configure(&mut self, props: &Props) -> Result<()> {
        self.name = required(props, "name")?;
        Ok(())
    }
    fn test(&self, record: &R) -> bool {
        record.headers().all_with_name(&self.name).next().is_some()
    }
}

/// True for records whose value is null.
struct RecordIsTombstone;

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
    use sluice_connect_api::props_of;
    use sluice_connect_api::{Schema, SourceMap, SourceRecord, Value};

    fn record(topic: &str, value: Value) -> SourceRecord {
        SourceRecord::new(
            SourceMap::new(),
            SourceMap::new(),
            topic,
            Some(Schema::string()),
            value,
        )
    }

    #[test]
    fn filter_with_a_predicate_drops_only_matching_records() {
        let mut chain = TransformChain::<SourceRecord>::from_config(&props_of(&[
            ("transforms", "dropTomb"),
            (
                "transforms.dropTomb.type",
                "org.apache.kafka.connect.transforms.Filter",
            ),
            ("transforms.dropTomb.predicate", "isTomb"),
            ("predicates", "isTomb"),
            (
                "predicates.isTomb.type",
                "org.apache.kafka.connect.transforms.predicates.RecordIsTombstone",
            ),
        ]))
        .expect("chain");
        assert!(chain
            .apply(record("t", Value::Null))
            .expect("apply")
            .is_none());
        let kept = chain
            .apply(record("t", Value::String("x".into())))
            .expect("apply");
        assert!(kept.is_some());
    }

    #[test]
    fn negate_and_full_topic_matches() {
        let mut chain = TransformChain::<SourceRecord>::from_config(&props_of(&[
            ("transforms", "onlyOrders"),
            ("transforms.onlyOrders.type", "Filter"),
            ("transforms.onlyOrders.predicate", "orders"),
            ("transforms.onlyOrders.negate", "true"),
            ("predicates", "orders"),
            ("predicates.orders.type", "TopicNameMatches"),
            ("predicates.orders.pattern", "orders"),
        ]))
        .expect("chain");
        let v = || Value::String("x".into());
        assert!(chain.apply(record("orders", v())).expect("apply").is_some());
        assert!(
            chain
                .apply(record("orders-eu", v()))
                .expect("apply")
                .is_none(),
            "the pattern must match the whole topic"
        );
    }

    #[test]
    fn configuration_errors_name_their_key() {
        let err = TransformChain::<SourceRecord>::from_config(&props_of(&[
            ("transforms", "f"),
            (
                "transforms.f.type",
                "org.apache.kafka.connect.transforms.Filtr",
            ),
        ]))
        .err()
        .expect("unknown class");
        assert_eq!(
            err,
            ConnectError::Config {
                key: "transforms.f.type".into(),
                message: "Class org.apache.kafka.connect.transforms.Filtr could not be found. Did you mean 'Filter'?".into()
            }
        );
        let err = TransformChain::<SourceRecord>::from_config(&props_of(&[("transforms", "f")]))
            .err()
            .expect("missing type");
        assert!(err.to_string().contains("transforms.f.type"), "{err}");
        let err = TransformChain::<SourceRecord>::from_config(&props_of(&[
            ("transforms", "f"),
            ("transforms.f.type", "Filter"),
            ("transforms.f.predicate", "nope"),
        ]))
        .err()
        .expect("undeclared predicate");
        assert!(err.to_string().contains("transforms.f.predicate"), "{err}");
    }
}
