//! Topic creation for source connectors (KIP-158): when a connector sets
//! `topic.creation.default.replication.factor` and `.partitions`, each topic it writes to is
//! created before the first record, with the settings of the first group whose `include`
//! matches (and whose `exclude` does not), else the `default` group's.

use regex::Regex;
use sluice_connect_api::config::split_list;
use sluice_connect_api::{ConnectError, Props, Result};

const PREFIX: &str = "topic.creation.";

#[derive(Debug, Clone)]
struct Group {
    include: Vec<Regex>,
    exclude: Vec<Regex>,
    partitions: i32,
    replication_factor: i32,
    /// Topic-level configs (`cleanup.policy`, `compression.type`, ...).
    configs: Vec<(String, String)>,
}

/// What to create topics with; see the module docs.
#[derive(Debug, Clone)]
pub struct TopicCreation {
    groups: Vec<Group>,
    default: Group,
}

/// The partitions, replication factor and configs for one new topic.
pub struct TopicSpec<'a> {
    pub partitions: i32,
    pub replication_factor: i32,
    pub configs: &'a [(String, String)],
}

impl TopicCreation {
    /// The connector's settings, or `None` when it does not ask for topic creation.
    pub fn from_config(props: &Props) -> Result<Option<Self>> {
        let default_rf = props.get("topic.creation.default.replication.factor");
        let default_partitions = props.get("topic.creation.default.partitions");
        if default_rf.is_none() && default_partitions.is_none() {
            return Ok(None);
        }
        let default = group(props, "default", None)?;
        let mut groups = Vec::new();
        for name in list(props.get("topic.creation.groups").map(String::as_str)) {
            if name != "default" {
                groups.push(group(props, &name, Some(&default))?);
            }
        }
        Ok(Some(Self { groups, default }))
    }

    pub fn spec(&self, topic: &str) -> TopicSpec<'_> {
        let group = self
            .groups
            .iter()
            .find(|g| {
                g.include.iter().any(|r| r.is_match(topic))
                    && !g.exclude.iter().any(|r| r.is_match(topic))
            })
            .unwrap_or(&self.default);
        TopicSpec {
            partitions: group.partitions,
            replication_factor: group.replication_factor,
            configs: &group.configs,
        }
    }
}

fn list(value: Option<&str>) -> Vec<String> {
    split_list(value.unwrap_or_default())
}

fn group(props: &Props, name: &str, default: Option<&Group>) -> Result<Group> {
    let prefix = format!("{PREFIX}{name}.");
    let number = |key: &str, fallback: Option<i32>| -> Result<i32> {
        let full = format!("{prefix}{key}");
        match props.get(&full) {
            Some(v) => match v.trim().parse::<i32>() {
                Ok(n) if n == -1 || n >= 1 => Ok(n),
                _ => Err(ConnectError::Config {
                    key: full.clone(),
                    message: format!(
                        "Invalid value {v} for configuration {full}: must be -1 (the broker's default) or at least 1"
                    ),
                }),
            },
            None => fallback.ok_or_else(|| ConnectError::Config {
                key: full.clone(),
                message: format!("Missing required configuration \"{full}\" which has no default value."),
            }),
        }
    };
    let patterns = |key: &str| -> Result<Vec<Regex>> {
        let full = format!("{prefix}{key}");
        list(props.get(&full).map(String::as_str))
            .iter()
            .map(|p| {
                Regex::new(&format!("^(?:{p})$")).map_err(|e| ConnectError::Config {
                    key: full.clone(),
                    message: format!("Invalid value {p} for configuration {full}: {e}"),
                })
            })
            .collect()
    };
    let own_keys = ["include", "exclude", "partitions", "replication.factor"];
    let configs = props
        .iter()
        .filter_map(|(k, v)| {
            let key = k.strip_prefix(&prefix)?;
            (!own_keys.contains(&key)).then(|| (key.to_string(), v.clone()))
        })
        .collect();
    Ok(Group {
        include: patterns("include")?,
        exclude: patterns("exclude")?,
        partitions: number("partitions", default.map(|d| d.partitions))?,
        replication_factor: number("replication.factor", default.map(|d| d.replication_factor))?,
        configs,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_connect_api::props_of;

    #[test]
    fn the_first_matching_group_wins_and_exclude_beats_include() {
        let creation = TopicCreation::from_config(&props_of(&[
            ("topic.creation.default.replication.factor", "-1"),
            ("topic.creation.default.partitions", "3"),
            ("topic.creation.groups", "compacted"),
            ("topic.creation.compacted.include", "users.*,accounts"),
            ("topic.creation.compacted.exclude", "users-tmp"),
            ("topic.creation.compacted.partitions", "1"),
            ("topic.creation.compacted.cleanup.policy", "compact"),
        ]))
        .expect("valid")
        .expect("enabled");
        let users = creation.spec("users-eu");
        assert_eq!(users.partitions, 1);
        assert_eq!(users.replication_factor, -1, "inherited from default");
        assert_eq!(
            users.configs,
            [("cleanup.policy".to_string(), "compact".to_string())]
        );
        assert_eq!(creation.spec("users-tmp").partitions, 3);
        assert_eq!(
            creation.spec("accounts-x").partitions,
            3,
            "include is a full match"
        );
    }

    #[test]
    fn off_without_default_settings_and_errors_name_the_key() {
        assert!(TopicCreation::from_config(&props_of(&[]))
            .expect("valid")
            .is_none());
        let err =
            TopicCreation::from_config(&props_of(&[("topic.creation.default.partitions", "0")]))
                .expect_err("invalid");
        assert!(
            err.to_string()
                .contains("topic.creation.default.partitions"),
            "{err}"
        );
    }
}
