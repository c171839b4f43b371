//! The current connectors, task configs and target states, folded from `connect-configs` records
//! in order, as Kafka's `KafkaConfigBackingStore` does: task configs take effect only when their
//! `commit-<name>` record arrives, and a tombstone on `connector-<name>` deletes the connector.

use std::collections::BTreeMap;

use serde_json::Value as Json;
use sluice_connect_api::Props;

use super::records;

/// What a connector should be doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetState {
    Started,
    Paused,
    Stopped,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct ConfigState {
    pub connectors: BTreeMap<String, Props>,
    pub target_states: BTreeMap<String, TargetState>,
    /// Committed task configs per connector.
    pub tasks: BTreeMap<String, Vec<Props>>,
    /// Task configs written but not yet committed.
    pending: BTreeMap<String, BTreeMap<usize, Props>>,
}

impl ConfigState {
    /// Applies one record of the config topic.
    pub fn apply(&mut self, key: &[u8], value: Option<&[u8]>) {
        let Ok(key) = std::str::from_utf8(key) else {
            return;
        };
        if let Some(name) = key.strip_prefix("connector-") {
            match value.and_then(records::parse_properties) {
                Some(props) => {
                    self.connectors.insert(name.to_string(), props);
                    self.target_states
                        .entry(name.to_string())
                        .or_insert(TargetState::Started);
                }
                None => {
                    self.connectors.remove(name);
                    self.target_states.remove(name);
                    self.tasks.remove(name);
                    self.pending.remove(name);
                }
            }
        } else if let Some(rest) = key.strip_prefix("task-") {
            let Some((name, index)) = rest.rsplit_once('-') else {
                return;
            };
            let (Ok(index), Some(props)) = (
                index.parse::<usize>(),
                value.and_then(records::parse_properties),
            ) else {
                return;
            };
            self.pending
                .entry(name.to_string())
                .or_default()
                .insert(index, props);
        } else if let Some(name) = key.strip_prefix("commit-") {
            let count = value
                .and_then(records::parse_object)
                .and_then(|o| o.get("tasks").and_then(Json::as_u64))
                .unwrap_or(0) as usize;
            let mut pending = self.pending.remove(name).unwrap_or_default();
            let tasks: Option<Vec<Props>> = (0..count).map(|i| pending.remove(&i)).collect();
            // An incomplete set is ignored, as Kafka does, until a full one is committed.
            if let Some(tasks) = tasks {
                self.tasks.insert(name.to_string(), tasks);
            }
        } else if let Some(name) = key.strip_prefix("target-state-") {
            let Some(object) = value.and_then(records::parse_object) else {
                self.target_states.remove(name);
                return;
            };
            let state = object
                .get("state.v2")
                .or_else(|| object.get("state"))
                .and_then(Json::as_str);
            let state = match state {
                Some("PAUSED") => TargetState::Paused,
                Some("STOPPED") => TargetState::Stopped,
                _ => TargetState::Started,
            };
            self.target_states.insert(name.to_string(), state);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::records;
    use sluice_connect_api::props_of;

    fn apply(state: &mut ConfigState, entry: records::Entry) {
        state.apply(&entry.0, entry.1.as_deref());
    }

    #[test]
    fn task_configs_take_effect_on_commit_and_deletes_clear_everything() {
        let mut state = ConfigState::default();
        apply(
            &mut state,
            records::connector_config("a", &props_of(&[("tasks.max", "2")])),
        );
        assert_eq!(state.target_states["a"], TargetState::Started);
        apply(
            &mut state,
            records::task_config("a", 0, &props_of(&[("t", "0")])),
        );
        apply(
            &mut state,
            records::task_config("a", 1, &props_of(&[("t", "1")])),
        );
        assert!(!state.tasks.contains_key("a"), "not committed yet");
        apply(&mut state, records::commit_tasks("a", 2));
        assert_eq!(state.tasks["a"].len(), 2);
        apply(&mut state, records::target_state("a", TargetState::Stopped));
        assert_eq!(state.target_states["a"], TargetState::Stopped);
        apply(
            &mut state,
            records::task_config("a", 0, &props_of(&[("t", "new")])),
        );
        apply(&mut state, records::commit_tasks("a", 2));
        assert_eq!(
            state.tasks["a"][1]["t"], "1",
            "an incomplete set is not applied"
        );
        apply(&mut state, records::connector_deleted("a"));
        assert_eq!(state, ConfigState::default());
    }

    #[test]
    fn connector_names_with_dashes_keep_their_task_numbers() {
        let mut state = ConfigState::default();
        apply(
            &mut state,
            records::connector_config("file-src-1", &props_of(&[])),
        );
        apply(
            &mut state,
            records::task_config("file-src-1", 0, &props_of(&[("k", "v")])),
        );
        apply(&mut state, records::commit_tasks("file-src-1", 1));
        assert_eq!(state.tasks["file-src-1"][0]["k"], "v");
    }
}
