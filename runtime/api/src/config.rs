//! Plugin configuration definitions (`ConfigDef`): each key's type, default, validator,
//! importance, documentation and layout, and the validation that produces the
//! `PUT /connector-plugins/{type}/config/validate` JSON (ConfigInfos).

use std::collections::BTreeMap;

use crate::config_infos::{ConfigInfo, ConfigInfos, ConfigProblem, ProblemKind};

/// The value type of a config key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigType {
    Boolean,
    String,
    Int,
    Short,
    Long,
    Double,
    List,
    Class,
    Password,
}

impl ConfigType {
    pub fn name(self) -> &'static str {
        match self {
            ConfigType::Boolean => "BOOLEAN",
            ConfigType::String => "STRING",
            ConfigType::Int => "INT",
            ConfigType::Short => "SHORT",
            ConfigType::Long => "LONG",
            ConfigType::Double => "DOUBLE",
            ConfigType::List => "LIST",
            ConfigType::Class => "CLASS",
            ConfigType::Password => "PASSWORD",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Importance {
    High,
    Medium,
    Low,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Width {
    None,
    Short,
    Medium,
    Long,
}

/// Extra checks on a parsed value.
#[derive(Debug, Clone, PartialEq)]
pub enum Validator {
    /// A number at least this large.
    AtLeast(f64),
    /// A number in this range, inclusive.
    Between(f64, f64),
    /// One of these strings (compared case-insensitively, as Kafka's `CaseInsensitiveValidString`).
    OneOf(Vec<String>),
    /// Exactly one of these strings (Kafka's `ValidString`, case-sensitive).
    In(Vec<String>),
    /// A list with at least one item (Kafka's `NonEmptyListValidator`).
    NonEmptyList,
    /// A non-empty string.
    NonEmptyString,
}

/// A parsed config value.
#[derive(Debug, Clone, PartialEq)]
pub enum ConfigValue {
    Boolean(bool),
    String(String),
    Int(i64),
    Double(f64),
    List(Vec<String>),
    Password(String),
}

/// Parsed values, read by type: what a plugin builds its own config struct from. A key of
/// another type, or without a value, reads as empty, 0 (`None`) or false.
#[derive(Debug, Clone, Default)]
pub struct ConfigValues(pub BTreeMap<String, ConfigValue>);

impl ConfigValues {
    /// A string or password.
    pub fn text(&self, key: &str) -> String {
        match self.0.get(key) {
            Some(ConfigValue::String(s) | ConfigValue::Password(s)) => s.clone(),
            _ => String::new(),
        }
    }

    pub fn list(&self, key: &str) -> Vec<String> {
        match self.0.get(key) {
            Some(ConfigValue::List(l)) => l.clone(),
            _ => Vec::new(),
        }
    }

    /// An int or long.
    pub fn int(&self, key: &str) -> Option<i64> {
        match self.0.get(key) {
            Some(ConfigValue::Int(n)) => Some(*n),
            _ => None,
        }
    }

    pub fn flag(&self, key: &str) -> bool {
        matches!(self.0.get(key), Some(ConfigValue::Boolean(true)))
    }
}

impl ConfigValue {
    /// The value as the REST API shows it: strings, lists joined with commas, passwords hidden.
    pub fn display(&self) -> String {
        match self {
            ConfigValue::Boolean(b) => b.to_string(),
            ConfigValue::String(s) => s.clone(),
            ConfigValue::Int(n) => n.to_string(),
            ConfigValue::Double(d) => d.to_string(),
            ConfigValue::List(items) => items.join(","),
            ConfigValue::Password(_) => HIDDEN.to_string(),
        }
    }
}

/// How PASSWORD values are shown.
pub const HIDDEN: &str = "[hidden]";

/// One key of a [`ConfigDef`].
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigKey {
    pub name: String,
    pub config_type: ConfigType,
    /// `None` makes the key required, unless it is [`nullable`](ConfigDef::nullable).
    pub default: Option<String>,
    /// Without a default, the key may still be left out: Kafka's default of `null`.
    pub nullable: bool,
    pub validator: Option<Validator>,
    pub importance: Importance,
    pub documentation: String,
    pub group: Option<String>,
    pub order: i32,
    pub width: Width,
    pub display_name: String,
    pub dependents: Vec<String>,
}

/// The configuration a plugin accepts.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ConfigDef {
    keys: Vec<ConfigKey>,
    /// Prefixes of keys other components check (see [`ConfigDef::foreign`]).
    foreign: Vec<String>,
}

impl ConfigDef {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a key; the display name is the key itself and it has no group.
    pub fn define(
        mut self,
        name: &str,
        config_type: ConfigType,
        default: Option<&str>,
        importance: Importance,
        documentation: &str,
    ) -> Self {
        self.keys.push(ConfigKey {
            name: name.to_string(),
            config_type,
            default: default.map(str::to_string),
            validator: None,
            importance,
            documentation: documentation.to_string(),
            group: None,
            order: -1,
            width: Width::None,
            display_name: name.to_string(),
            dependents: Vec::new(),
            nullable: false,
        });
        self
    }

    /// Lets the key defined last be left out although it has no default (Kafka's `null`
    /// default): then it has no value at all.
    pub fn nullable(mut self) -> Self {
        if let Some(key) = self.keys.last_mut() {
            key.nullable = true;
        }
        self
    }

    /// Sets the validator of the key defined last.
    pub fn validator(mut self, validator: Validator) -> Self {
        if let Some(key) = self.keys.last_mut() {
            key.validator = Some(validator);
        }
        self
    }

    /// Sets the group, order, width and display name of the key defined last.
    pub fn layout(mut self, group: &str, order: i32, width: Width, display_name: &str) -> Self {
        if let Some(key) = self.keys.last_mut() {
            key.group = Some(group.to_string());
            key.order = order;
            key.width = width;
            key.display_name = display_name.to_string();
        }
        self
    }

    /// Merges another definition's keys (the framework's common keys, a converter's keys).
    pub fn merge(mut self, other: &ConfigDef) -> Self {
        for key in &other.keys {
            if self.key(&key.name).is_none() {
                self.keys.push(key.clone());
            }
        }
        for prefix in &other.foreign {
            self = self.foreign(prefix);
        }
        self
    }

    pub fn keys(&self) -> &[ConfigKey] {
        &self.keys
    }

    pub fn key(&self, name: &str) -> Option<&ConfigKey> {
        self.keys.iter().find(|k| k.name == name)
    }

    /// Parses every defined key from `props`, applying defaults. Returns the values, or every
    /// error as `(key, message)`.
    pub fn parse(
        &self,
        props: &BTreeMap<String, String>,
    ) -> Result<BTreeMap<String, ConfigValue>, Vec<(String, String)>> {
        let mut values = BTreeMap::new();
        let mut errors = Vec::new();
        for key in &self.keys {
            match parse_key(key, props.get(&key.name).map(String::as_str)) {
                Ok(Some(v)) => {
                    values.insert(key.name.clone(), v);
                }
                Ok(None) => {}
                Err(message) => errors.push((key.name.clone(), message)),
            }
        }
        if errors.is_empty() {
            Ok(values)
        } else {
            Err(errors)
        }
    }

    /// Like [`parse_or_error`](Self::parse_or_error), with typed reads of the values.
    pub fn parse_values(&self, props: &BTreeMap<String, String>) -> crate::Result<ConfigValues> {
        self.parse_or_error(props).map(ConfigValues)
    }

    /// Like [`parse`](Self::parse), but the first error becomes a [`ConnectError::Config`].
    pub fn parse_or_error(
        &self,
        props: &BTreeMap<String, String>,
    ) -> crate::Result<BTreeMap<String, ConfigValue>> {
        self.parse(props).map_err(|errors| {
            let (key, message) = errors.into_iter().next().unwrap_or_default();
            crate::ConnectError::Config { key, message }
        })
    }

    /// Validates `props` against every key. Keys in `props` that no definition knows are
    /// reported as [`ProblemKind::Unknown`], with the nearest known key when it is a likely typo,
    /// unless they fall under one of the [`foreign`](Self::foreign) prefixes.
    pub fn validate(&self, connector_class: &str, props: &BTreeMap<String, String>) -> ConfigInfos {
        let mut groups: Vec<String> = Vec::new();
        let mut configs = Vec::new();
        for key in &self.keys {
            if let Some(group) = &key.group {
                if !groups.contains(group) {
                    groups.push(group.clone());
                }
            }
            let raw = props.get(&key.name).map(String::as_str);
            let problems = match parse_key(key, raw) {
                Ok(_) => Vec::new(),
                Err(message) => vec![ConfigProblem {
                    kind: ProblemKind::Invalid,
                    message,
                }],
            };
            let shown = raw.map(str::to_string).or_else(|| key.default.clone());
            let shown = match (key.config_type, shown) {
                (ConfigType::Password, Some(_)) => Some(HIDDEN.to_string()),
                (_, shown) => shown,
            };
            configs.push(ConfigInfo {
                definition: Some(key.clone()),
                name: key.name.clone(),
                value: shown,
                problems,
            });
        }
        for name in props.keys().filter(|n| {
            self.key(n).is_none() && !self.foreign.iter().any(|p| n.starts_with(p.as_str()))
        }) {
            let near = closest(name, self.keys.iter().map(|k| k.name.as_str()));
            let message = match near {
                Some(near) => format!("Unknown configuration '{name}'. Did you mean '{near}'?"),
                None => format!("Unknown configuration '{name}'."),
            };
            configs.push(ConfigInfo {
                definition: None,
                name: name.clone(),
                value: Some(props[name].clone()),
                problems: vec![ConfigProblem {
                    kind: ProblemKind::Unknown,
                    message,
                }],
            });
        }
        ConfigInfos {
            name: connector_class.to_string(),
            groups,
            configs,
        }
    }

    /// Declares that keys starting with `prefix` belong to another component (a converter's,
    /// a client's), which checks them: validation does not report them as unknown.
    pub fn foreign(mut self, prefix: &str) -> Self {
        if !self.foreign.iter().any(|p| p == prefix) {
            self.foreign.push(prefix.to_string());
        }
        self
    }

    /// This definition's keys under `prefix` and in `group`, ordered as defined: how a
    /// component configured through a prefix (`transforms.x.`) shows in its connector's
    /// definition.
    pub fn prefixed(&self, prefix: &str, group: &str) -> ConfigDef {
        let keys = self
            .keys
            .iter()
            .enumerate()
            .map(|(i, key)| ConfigKey {
                name: format!("{prefix}{}", key.name),
                group: Some(group.to_string()),
                order: i as i32 + 1,
                ..key.clone()
            })
            .collect();
        ConfigDef {
            keys,
            foreign: Vec::new(),
        }
    }
}

fn parse_key(key: &ConfigKey, raw: Option<&str>) -> Result<Option<ConfigValue>, String> {
    let Some(raw) = raw.or(key.default.as_deref()) else {
        if key.nullable {
            return Ok(None);
        }
        return Err(format!(
            "Missing required configuration \"{}\" which has no default value.",
            key.name
        ));
    };
    // A password's value is never repeated back, even when it is wrong.
    let shown = if key.config_type == ConfigType::Password {
        HIDDEN
    } else {
        // Kafka checks, and names, the value as parsed: trimmed.
        raw.trim()
    };
    let invalid = |reason: &str| {
        format!(
            "Invalid value {shown} for configuration {}: {reason}",
            key.name
        )
    };
    let trimmed = raw.trim();
    let value = match key.config_type {
        ConfigType::Boolean => match trimmed.to_ascii_lowercase().as_str() {
            "true" => ConfigValue::Boolean(true),
            "false" => ConfigValue::Boolean(false),
            _ => return Err(invalid("Expected value to be either true or false")),
        },
        ConfigType::Int | ConfigType::Short | ConfigType::Long => {
            let not_a_number =
                || invalid(&format!("Not a number of type {}", key.config_type.name()));
            let n: i64 = trimmed.parse().map_err(|_| not_a_number())?;
            let fits = match key.config_type {
                ConfigType::Short => i16::try_from(n).is_ok(),
                ConfigType::Int => i32::try_from(n).is_ok(),
                _ => true,
            };
            if !fits {
                return Err(not_a_number());
            }
            ConfigValue::Int(n)
        }
        ConfigType::Double => ConfigValue::Double(
            trimmed
                .parse()
                .map_err(|_| invalid("Not a number of type DOUBLE"))?,
        ),
        ConfigType::List => ConfigValue::List(split_list(trimmed)),
        ConfigType::Password => ConfigValue::Password(raw.to_string()),
        ConfigType::String | ConfigType::Class => ConfigValue::String(trimmed.to_string()),
    };
    if let Some(validator) = &key.validator {
        check(validator, &value).map_err(|reason| match &value {
            // Kafka shows a parsed list as Java prints one.
            ConfigValue::List(items) => format!(
                "Invalid value [{}] for configuration {}: {reason}",
                items.join(", "),
                key.name
            ),
            _ => invalid(&reason),
        })?;
    }
    Ok(Some(value))
}

fn check(validator: &Validator, value: &ConfigValue) -> Result<(), String> {
    let number = match value {
        ConfigValue::Int(n) => Some(*n as f64),
        ConfigValue::Double(d) => Some(*d),
        _ => None,
    };
    match (validator, number, value) {
        (Validator::AtLeast(min), Some(n), _) if n < *min => {
            Err(format!("Value must be at least {min}"))
        }
        (Validator::Between(lo, hi), Some(n), _) if n < *lo || n > *hi => Err(format!(
            "Value must be no less than {lo} and no more than {hi}"
        )),
        (Validator::OneOf(choices), _, ConfigValue::String(s))
            if !choices.iter().any(|c| c.eq_ignore_ascii_case(s)) =>
        {
            Err(format!(
                "String must be one of (case insensitive): {}",
                choices.join(", ")
            ))
        }
        (Validator::In(choices), _, ConfigValue::String(s)) if !choices.contains(s) => {
            Err(format!("String must be one of: {}", choices.join(", ")))
        }
        (Validator::NonEmptyString, _, ConfigValue::String(s)) if s.is_empty() => {
            Err("String must be non-empty".into())
        }
        (Validator::NonEmptyList, _, ConfigValue::List(items)) if items.is_empty() => {
            Err("Empty list".into())
        }
        _ => Ok(()),
    }
}

/// `" Did you mean 'x'?"` when `name` is a likely typo of a candidate, else empty: the tail of
/// an error message.
pub fn did_you_mean<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> String {
    closest(name, candidates)
        .map(|n| format!(" Did you mean '{n}'?"))
        .unwrap_or_default()
}

/// "Class X could not be found." for the config `key`, suggesting the nearest of `known` (fully
/// qualified class names) by the name after the package: that short name when Kafka takes it
/// as an alias, the whole class name for a nested class (`Cast$Value`), which has no alias.
pub fn class_not_found(key: &str, class: &str, known: &[&str]) -> crate::ConnectError {
    fn short(c: &str) -> &str {
        c.rsplit('.').next().unwrap_or(c)
    }
    let hint = closest(short(class), known.iter().map(|c| short(c)))
        .and_then(|near| known.iter().find(|c| short(c) == near))
        .map(|c| {
            let name = if short(c).contains('$') { c } else { short(c) };
            format!(" Did you mean '{name}'?")
        })
        .unwrap_or_default();
    crate::ConnectError::Config {
        key: key.to_string(),
        message: format!("Class {class} could not be found.{hint}"),
    }
}

/// The keys under `prefix` (`value.converter.`, `transforms.x.`), with the prefix taken off:
/// what a component configured through a prefix is given.
pub fn with_prefix(props: &BTreeMap<String, String>, prefix: &str) -> BTreeMap<String, String> {
    props
        .iter()
        .filter_map(|(k, v)| k.strip_prefix(prefix).map(|k| (k.to_string(), v.clone())))
        .collect()
}

/// A LIST value's items: comma-separated, trimmed, empty ones left out.
pub fn split_list(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// The candidate nearest to `key` by edit distance, when near enough to be a likely typo.
pub fn closest<'a>(key: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<String> {
    candidates
        .into_iter()
        .map(|c| (edit_distance(key, c), c))
        .filter(|&(d, c)| d <= (c.len() / 3).max(2))
        .min_by_key(|&(d, _)| d)
        .map(|(_, c)| c.to_string())
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = if ca == cb {
                prev
            } else {
                1 + prev.min(row[j]).min(cur)
            };
            prev = cur;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn def() -> ConfigDef {
        ConfigDef::new()
            .define(
                "file",
                ConfigType::String,
                None,
                Importance::High,
                "The file to read.",
            )
            .layout("File", 1, Width::Long, "File")
            .define(
                "batch.size",
                ConfigType::Int,
                Some("2000"),
                Importance::Low,
                "Lines per poll.",
            )
            .validator(Validator::AtLeast(1.0))
            .define(
                "secret",
                ConfigType::Password,
                Some(""),
                Importance::Low,
                "A password.",
            )
            .define(
                "mode",
                ConfigType::String,
                Some("a"),
                Importance::Low,
                "Mode.",
            )
            .validator(Validator::OneOf(vec!["a".into(), "b".into()]))
    }

    fn props(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn parsing_applies_defaults_and_reports_every_error() {
        let parsed = def().parse(&props(&[("file", "/tmp/x")])).expect("valid");
        assert_eq!(parsed["batch.size"], ConfigValue::Int(2000));
        let errors = def()
            .parse(&props(&[("batch.size", "0"), ("mode", "c")]))
            .expect_err("invalid");
        let keys: Vec<&str> = errors.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["file", "batch.size", "mode"]);
        assert!(errors[0]
            .1
            .contains("Missing required configuration \"file\""));
        assert_eq!(
            errors[1].1,
            "Invalid value 0 for configuration batch.size: Value must be at least 1"
        );
    }

    #[test]
    fn validate_matches_the_rest_shape_hides_passwords_and_names_typos() {
        let infos = def().validate(
            "FileStreamSource",
            &props(&[("file", "x"), ("secret", "s3cr3t"), ("batch.sise", "5")]),
        );
        assert_eq!(infos.error_count(), 1);
        assert!(
            infos.blocking_errors().is_empty(),
            "an unknown key blocks nothing"
        );
        assert_eq!(
            infos.unknown_keys(),
            ["Unknown configuration 'batch.sise'. Did you mean 'batch.size'?"]
        );
        let out = infos.to_json();
        assert_eq!(out["name"], "FileStreamSource");
        assert_eq!(out["error_count"], 1);
        assert_eq!(out["groups"], serde_json::json!(["File"]));
        let configs = out["configs"].as_array().expect("configs");
        let find = |name: &str| {
            configs
                .iter()
                .find(|c| c["value"]["name"] == name)
                .cloned()
                .expect("entry")
        };
        let secret = find("secret");
        assert_eq!(secret["value"]["value"], "[hidden]");
        assert_eq!(secret["definition"]["type"], "PASSWORD");
        let file = find("file");
        assert_eq!(file["definition"]["required"], true);
        assert_eq!(file["definition"]["default_value"], serde_json::Value::Null);
        assert_eq!(file["definition"]["width"], "LONG");
        let typo = find("batch.sise");
        assert_eq!(typo["definition"], serde_json::Value::Null);
        assert_eq!(
            typo["value"]["errors"][0],
            "Unknown configuration 'batch.sise'. Did you mean 'batch.size'?"
        );
        let converter = def().foreign("value.converter.").validate(
            "X",
            &props(&[("file", "x"), ("value.converter.schemas.enable", "false")]),
        );
        assert_eq!(
            converter.error_count(),
            0,
            "converter keys belong to the converter"
        );
    }

    #[test]
    fn invalid_values_block_and_replace_an_unknown_note() {
        let mut infos = def().validate("X", &props(&[("transforms.a.spec", "x")]));
        assert_eq!(
            infos.blocking_errors(),
            ["Missing required configuration \"file\" which has no default value."]
        );
        infos.add_invalid("transforms.a.spec", "Invalid type found in casting spec: x");
        assert!(infos.unknown_keys().is_empty());
        assert_eq!(infos.error_count(), 2);
        assert!(infos.is_invalid("transforms.a.spec"));
        assert_eq!(
            infos.blocking_errors()[1],
            "transforms.a.spec: Invalid type found in casting spec: x"
        );
    }

    #[test]
    fn prefixed_definitions_keep_types_and_take_the_group() {
        let prefixed = def().prefixed("transforms.a.", "Transforms: a");
        let key = prefixed
            .key("transforms.a.batch.size")
            .expect("prefixed key");
        assert_eq!(key.config_type, ConfigType::Int);
        assert_eq!(key.group.as_deref(), Some("Transforms: a"));
        let errors = prefixed
            .parse(&props(&[
                ("transforms.a.file", "f"),
                ("transforms.a.batch.size", "0"),
            ]))
            .expect_err("invalid");
        assert_eq!(
            errors,
            [(
                "transforms.a.batch.size".to_string(),
                "Invalid value 0 for configuration transforms.a.batch.size: Value must be at least 1"
                    .to_string()
            )]
        );
    }
}
