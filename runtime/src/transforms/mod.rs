//! Single message transforms: the `transforms` alias list of a connector config, each alias's
//! `transforms.<alias>.type` and settings, and the `predicates` that decide when a transform
//! runs (`transforms.<alias>.predicate`, `.negate`). A transform runs when it has no predicate,
//! or when `negate` XOR the predicate's test holds.
//!
//! Transforms and predicates are found in the [`catalogue`], by Kafka's class name or the short
//! alias Kafka Connect accepts.

mod cast;
pub mod catalogue;
mod drop_headers;
mod extract_field;
mod field_path;
mod filter;
mod flatten;
mod header_from;
mod hoist_field;
mod insert_field;
mod insert_header;
mod java_numbers;
mod mask_field;
mod predicates;
mod regex_router;
mod replace_field;
mod set_schema_metadata;
mod support;
#[cfg(test)]
mod test_support;
mod timestamp_converter;
mod timestamp_router;
mod value_to_key;

use sluice_connect_api::config::{class_not_found, split_list, with_prefix};
use sluice_connect_api::{
    find_named, ConfigDef, ConfigType, ConnectError, ConnectRecord, Importance, Predicate,
    PredicateDesc, Props, Result, SinkRecord, SourceRecord, TransformDesc, Transformation, Verdict,
    Width,
};

use catalogue::{PREDICATES, TRANSFORMS};

/// Records a chain runs on: each picks its own constructor from a catalogue entry.
pub trait ChainRecord: ConnectRecord + 'static {
    fn new_transform(desc: &TransformDesc) -> Box<dyn Transformation<Self>>;
    fn new_predicate(desc: &PredicateDesc) -> Box<dyn Predicate<Self>>;
}

impl ChainRecord for SourceRecord {
    fn new_transform(desc: &TransformDesc) -> Box<dyn Transformation<Self>> {
        (desc.source)()
    }
    fn new_predicate(desc: &PredicateDesc) -> Box<dyn Predicate<Self>> {
        (desc.source)()
    }
}

impl ChainRecord for SinkRecord {
    fn new_transform(desc: &TransformDesc) -> Box<dyn Transformation<Self>> {
        (desc.sink)()
    }
    fn new_predicate(desc: &PredicateDesc) -> Box<dyn Predicate<Self>> {
        (desc.sink)()
    }
}

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

/// The keys every transform alias has besides its transform's own.
const PREDICATE: &str = "predicate";
const NEGATE: &str = "negate";

impl<R: ChainRecord> TransformChain<R> {
    /// Builds the chain from a connector config; every problem names its key in full
    /// (`transforms.<alias>.<key>`).
    pub fn from_config(props: &Props) -> Result<Self> {
        let predicate_aliases = aliases(props, "predicates")?;
        let mut steps = Vec::new();
        for alias in aliases(props, "transforms")? {
            let prefix = format!("transforms.{alias}.");
            check_negate_has_predicate(props, &prefix)?;
            let desc = transform_desc(props, &prefix)?;
            let mut transform = R::new_transform(desc);
            let mut own = with_prefix(props, &prefix);
            own.remove(PREDICATE);
            own.remove(NEGATE);
            configure_under(&prefix, &transform.config_def(), &own, |p| {
                transform.configure(p)
            })?;
            let predicate = match props.get(&format!("{prefix}{PREDICATE}")).map(|p| p.trim()) {
                None | Some("") => None,
                Some(p) => {
                    if !predicate_aliases.iter().any(|a| a == p) {
                        return Err(ConnectError::Config {
                            key: format!("{prefix}{PREDICATE}"),
                            message: format!(
                                "Invalid value {p} for configuration {prefix}{PREDICATE}: the predicate is not listed in 'predicates'"
                            ),
                        });
                    }
                    let predicate_prefix = format!("predicates.{p}.");
                    let desc = predicate_desc(props, &predicate_prefix)?;
                    let mut predicate = R::new_predicate(desc);
                    configure_under(
                        &predicate_prefix,
                        &predicate.config_def(),
                        &with_prefix(props, &predicate_prefix),
                        |p| predicate.configure(p),
                    )?;
                    Some(predicate)
                }
            };
            let negate = match props.get(&format!("{prefix}{NEGATE}")).map(|s| s.trim()) {
                None | Some("") => false,
                Some(v) if v.eq_ignore_ascii_case("true") => true,
                Some(v) if v.eq_ignore_ascii_case("false") => false,
                Some(v) => {
                    return Err(ConnectError::Config {
                        key: format!("{prefix}{NEGATE}"),
                        message: format!("Invalid value {v} for configuration {prefix}{NEGATE}: Expected value to be either true or false"),
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
            match step.transform.apply(&mut record) {
                Ok(Verdict::Keep) => {}
                Ok(Verdict::Discard) => return Ok(None),
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

/// The keys a connector's transforms and predicates add to its definition, as Kafka's
/// `ConnectorConfig.enrich` adds them: for each alias its `type` (and for a transform its
/// `predicate` and `negate`) in a group `Transforms: <alias>`, then the keys of the class it
/// names. Keys of an alias whose class is unknown are left to the error on its `type`.
pub fn definition(props: &Props) -> ConfigDef {
    let mut def = ConfigDef::new();
    for alias in list(props, "transforms") {
        let prefix = format!("transforms.{alias}.");
        let group = format!("Transforms: {alias}");
        def = with_type_key(def, &prefix, &group, &alias, "Transformation");
        let Ok(desc) = transform_desc(props, &prefix) else {
            def = def.foreign(&prefix);
            continue;
        };
        let implicit = ConfigDef::new()
            .define(
                PREDICATE,
                ConfigType::String,
                Some(""),
                Importance::Medium,
                "The alias of a predicate used to determine whether to apply this transformation.",
            )
            .define(
                NEGATE,
                ConfigType::Boolean,
                Some("false"),
                Importance::Medium,
                "Whether the configured predicate should be negated.",
            );
        let own = SourceRecord::new_transform(desc).config_def();
        def = def.merge(&implicit.merge(&own).prefixed(&prefix, &group));
    }
    for alias in list(props, "predicates") {
        let prefix = format!("predicates.{alias}.");
        let group = format!("Predicates: {alias}");
        def = with_type_key(def, &prefix, &group, &alias, "Predicate");
        match predicate_desc(props, &prefix) {
            Ok(desc) => {
                let own = SourceRecord::new_predicate(desc).config_def();
                def = def.merge(&own.prefixed(&prefix, &group));
            }
            Err(_) => def = def.foreign(&prefix),
        }
    }
    def
}

/// Adds an alias's `type` key, as Kafka's `ConnectorConfig.enrich` defines it; `kind` is
/// `Transformation` or `Predicate`.
fn with_type_key(def: ConfigDef, prefix: &str, group: &str, alias: &str, kind: &str) -> ConfigDef {
    let lower = kind.to_ascii_lowercase();
    def.define(
        &format!("{prefix}type"),
        ConfigType::Class,
        None,
        Importance::High,
        &format!("Class for the '{alias}' {lower}."),
    )
    .layout(group, 0, Width::Long, &format!("{kind} type for {alias}"))
}

fn transform_desc(props: &Props, prefix: &str) -> Result<&'static TransformDesc> {
    let key = format!("{prefix}type");
    let class = required(props, &key)?;
    find_named(TRANSFORMS, &class).ok_or_else(|| {
        let known: Vec<&str> = TRANSFORMS.iter().map(|d| d.class).collect();
        class_not_found(&key, &class, &known)
    })
}

fn predicate_desc(props: &Props, prefix: &str) -> Result<&'static PredicateDesc> {
    let key = format!("{prefix}type");
    let class = required(props, &key)?;
    find_named(PREDICATES, &class).ok_or_else(|| {
        let known: Vec<&str> = PREDICATES.iter().map(|d| d.class).collect();
        class_not_found(&key, &class, &known)
    })
}

/// Checks `own` (the keys under `prefix`, prefix removed) against `def` with every message
/// naming the full key, then configures the plugin with them.
fn configure_under(
    prefix: &str,
    def: &ConfigDef,
    own: &Props,
    configure: impl FnOnce(&Props) -> Result<()>,
) -> Result<()> {
    let full: Props = own
        .iter()
        .map(|(k, v)| (format!("{prefix}{k}"), v.clone()))
        .collect();
    def.prefixed(prefix, "").parse_or_error(&full)?;
    configure(own).map_err(|e| match e {
        ConnectError::Config { key, message } if !key.starts_with(prefix) => ConnectError::Config {
            key: format!("{prefix}{key}"),
            message,
        },
        other => other,
    })
}

/// Kafka refuses a `negate` with nothing to negate.
fn check_negate_has_predicate(props: &Props, prefix: &str) -> Result<()> {
    let negate = format!("{prefix}{NEGATE}");
    let predicate = format!("{prefix}{PREDICATE}");
    if props.contains_key(&negate) && !props.contains_key(&predicate) {
        return Err(ConnectError::Config {
            key: negate.clone(),
            message: format!("Config '{negate}' was provided but there is no config '{predicate}' defining a predicate to be negated."),
        });
    }
    Ok(())
}

fn list(props: &Props, key: &str) -> Vec<String> {
    props.get(key).map(|v| split_list(v)).unwrap_or_default()
}

/// The alias list under `key`, refused when an alias repeats (Kafka's alias validator).
fn aliases(props: &Props, key: &str) -> Result<Vec<String>> {
    let aliases = list(props, key);
    for (i, alias) in aliases.iter().enumerate() {
        if aliases[..i].contains(alias) {
            return Err(ConnectError::Config {
                key: key.to_string(),
                message: format!(
                    "Invalid value [{}] for configuration {key}: Duplicate alias provided.",
                    aliases.join(", ")
                ),
            });
        }
    }
    Ok(aliases)
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

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_connect_api::props_of;
    use sluice_connect_api::{Schema, SourceMap, Value};

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

    fn config_error(pairs: &[(&str, &str)]) -> (String, String) {
        match TransformChain::<SourceRecord>::from_config(&props_of(pairs)) {
            Err(ConnectError::Config { key, message }) => (key, message),
            Err(other) => panic!("not a config error: {other}"),
            Ok(_) => panic!("configured: {pairs:?}"),
        }
    }

    #[test]
    fn configuration_errors_name_their_key() {
        assert_eq!(
            config_error(&[
                ("transforms", "f"),
                (
                    "transforms.f.type",
                    "org.apache.kafka.connect.transforms.Filtr"
                ),
            ]),
            (
                "transforms.f.type".into(),
                "Class org.apache.kafka.connect.transforms.Filtr could not be found. Did you mean 'Filter'?".into()
            )
        );
        assert_eq!(config_error(&[("transforms", "f")]).0, "transforms.f.type");
        assert_eq!(
            config_error(&[
                ("transforms", "f"),
                ("transforms.f.type", "Filter"),
                ("transforms.f.predicate", "nope"),
            ])
            .0,
            "transforms.f.predicate"
        );
        assert_eq!(
            config_error(&[
                ("transforms", "c"),
                (
                    "transforms.c.type",
                    "org.apache.kafka.connect.transforms.Cast$Value"
                ),
            ]),
            (
                "transforms.c.spec".into(),
                "Missing required configuration \"transforms.c.spec\" which has no default value."
                    .into()
            )
        );
        assert_eq!(
            config_error(&[("transforms", "f,f"), ("transforms.f.type", "Filter"),]),
            (
                "transforms".into(),
                "Invalid value [f, f] for configuration transforms: Duplicate alias provided."
                    .into()
            )
        );
        assert_eq!(
            config_error(&[
                ("transforms", "f"),
                ("transforms.f.type", "Filter"),
                ("transforms.f.negate", "true"),
            ]),
            (
                "transforms.f.negate".into(),
                "Config 'transforms.f.negate' was provided but there is no config 'transforms.f.predicate' defining a predicate to be negated."
                    .into()
            )
        );
    }

    #[test]
    fn nested_classes_have_no_short_alias_as_in_kafka() {
        let (key, message) = config_error(&[("transforms", "c"), ("transforms.c.type", "Value")]);
        assert_eq!(key, "transforms.c.type");
        assert!(
            message.starts_with("Class Value could not be found."),
            "{message}"
        );
        assert!(TransformChain::<SourceRecord>::from_config(&props_of(&[
            ("transforms", "r"),
            ("transforms.r.type", "RegexRouter"),
            ("transforms.r.regex", "a"),
            ("transforms.r.replacement", "b"),
        ]))
        .is_ok());
    }

    #[test]
    fn the_definition_holds_every_alias_key_in_its_group() {
        let def = definition(&props_of(&[
            ("transforms", "c,bad"),
            (
                "transforms.c.type",
                "org.apache.kafka.connect.transforms.Cast$Value",
            ),
            ("transforms.bad.type", "Nope"),
            ("predicates", "p"),
            ("predicates.p.type", "TopicNameMatches"),
        ]));
        let spec = def
            .key("transforms.c.spec")
            .expect("the transform's own key");
        assert_eq!(spec.group.as_deref(), Some("Transforms: c"));
        assert!(def.key("transforms.c.negate").is_some());
        assert!(def.key("transforms.bad.type").is_some());
        assert!(def.key("predicates.p.pattern").is_some());
        let infos = def.validate(
            "X",
            &props_of(&[
                ("transforms.c.type", "Cast$Value"),
                ("transforms.c.spek", "int8"),
                ("transforms.bad.type", "Nope"),
                ("transforms.bad.whatever", "x"),
                ("predicates.p.type", "TopicNameMatches"),
                ("predicates.p.pattern", "x"),
            ]),
        );
        assert_eq!(
            infos.unknown_keys(),
            ["Unknown configuration 'transforms.c.spek'. Did you mean 'transforms.c.spec'?"],
            "keys of an unknown class are left to the error on its type"
        );
    }
}
