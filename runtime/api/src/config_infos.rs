//! The result of validating a config (Kafka's `ConfigInfos`): every key with its definition,
//! value and problems. Problems are typed, so callers decide what blocks a config by kind, never
//! by the wording of a message; the JSON shape of `PUT .../config/validate` is made only at the
//! edge, by [`ConfigInfos::to_json`].

use serde_json::{json, Value as Json};

use crate::config::{ConfigKey, Importance, Width};

/// What is wrong with a config value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProblemKind {
    /// The value is missing, malformed or refused by a check: the config cannot run.
    Invalid,
    /// No definition knows the key. Reported, but it does not block a config: existing configs
    /// carry keys for other tools.
    Unknown,
}

/// One problem with one key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigProblem {
    pub kind: ProblemKind,
    pub message: String,
}

/// One key as validated: its definition when one exists, the value shown and its problems.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigInfo {
    pub definition: Option<ConfigKey>,
    pub name: String,
    pub value: Option<String>,
    pub problems: Vec<ConfigProblem>,
}

/// Every key of a validated config.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ConfigInfos {
    /// The connector class as given.
    pub name: String,
    pub groups: Vec<String>,
    pub configs: Vec<ConfigInfo>,
}

impl ConfigInfos {
    pub fn error_count(&self) -> usize {
        self.configs.iter().map(|c| c.problems.len()).sum()
    }

    /// Adds an [`ProblemKind::Invalid`] problem to `key`, creating the entry when no definition
    /// has it. An unknown-key note for that key is dropped: the key turned out to be known to a
    /// component checked later.
    pub fn add_invalid(&mut self, key: &str, message: &str) {
        let problem = ConfigProblem {
            kind: ProblemKind::Invalid,
            message: message.to_string(),
        };
        match self.configs.iter_mut().find(|c| c.name == key) {
            Some(entry) => {
                entry.problems.retain(|p| p.kind != ProblemKind::Unknown);
                if !entry.problems.contains(&problem) {
                    entry.problems.push(problem);
                }
            }
            None => self.configs.push(ConfigInfo {
                definition: None,
                name: key.to_string(),
                value: None,
                problems: vec![problem],
            }),
        }
    }

    /// Whether `key` already has an invalid-value problem.
    pub fn is_invalid(&self, key: &str) -> bool {
        self.configs
            .iter()
            .any(|c| c.name == key && c.problems.iter().any(|p| p.kind == ProblemKind::Invalid))
    }

    /// The problems that stop a create or update, each naming its key.
    pub fn blocking_errors(&self) -> Vec<String> {
        self.problems(ProblemKind::Invalid)
            .map(|(name, message)| {
                // Kafka's messages mostly name the key already.
                if message.contains(name) {
                    message.to_string()
                } else {
                    format!("{name}: {message}")
                }
            })
            .collect()
    }

    /// The unknown-key notes, for the log.
    pub fn unknown_keys(&self) -> Vec<String> {
        self.problems(ProblemKind::Unknown)
            .map(|(_, message)| message.to_string())
            .collect()
    }

    fn problems(&self, kind: ProblemKind) -> impl Iterator<Item = (&str, &str)> {
        self.configs.iter().flat_map(move |c| {
            c.problems
                .iter()
                .filter(move |p| p.kind == kind)
                .map(move |p| (c.name.as_str(), p.message.as_str()))
        })
    }

    /// The ConfigInfos JSON of the REST API.
    pub fn to_json(&self) -> Json {
        let configs: Vec<Json> = self
            .configs
            .iter()
            .map(|c| {
                let errors: Vec<&str> = c.problems.iter().map(|p| p.message.as_str()).collect();
                json!({
                    "definition": c.definition.as_ref().map(ConfigKey::to_json),
                    "value": {"name": c.name, "value": c.value, "recommended_values": [], "errors": errors, "visible": true},
                })
            })
            .collect();
        json!({"name": self.name, "error_count": self.error_count(), "groups": self.groups, "configs": configs})
    }
}

impl ConfigKey {
    /// The key's `definition` object, as `GET /connector-plugins/{plugin}/config` shows it.
    pub fn to_json(&self) -> Json {
        json!({
            "name": self.name,
            "type": self.config_type.name(),
            "required": self.default.is_none() && !self.nullable,
            "default_value": self.default,
            "importance": match self.importance { Importance::High => "HIGH", Importance::Medium => "MEDIUM", Importance::Low => "LOW" },
            "documentation": self.documentation,
            "group": self.group,
            "width": match self.width { Width::None => "NONE", Width::Short => "SHORT", Width::Medium => "MEDIUM", Width::Long => "LONG" },
            "display_name": self.display_name,
            "dependents": self.dependents,
            "order": self.order,
        })
    }
}
