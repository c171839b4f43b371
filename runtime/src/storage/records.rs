//! Keys and values of `connect-configs`, `connect-offsets` and `connect-status`.

use serde_json::{json, Map, Value as Json};
use sluice_connect_api::{Props, SourceMap};

/// A record of one of the internal topics: key bytes and value bytes (`None` is a tombstone).
pub type Entry = (Vec<u8>, Option<Vec<u8>>);

fn bytes(json: &impl serde::Serialize) -> Vec<u8> {
    // serde_json writes the compact form Jackson does; offset lookups need byte-identical keys.
    serde_json::to_vec(json).unwrap_or_default()
}

fn properties(props: &Props) -> Json {
    json!({ "properties": props })
}

pub fn connector_config(name: &str, props: &Props) -> Entry {
    (
        format!("connector-{name}").into_bytes(),
        Some(bytes(&properties(props))),
    )
}

pub fn connector_deleted(name: &str) -> Entry {
    (format!("connector-{name}").into_bytes(), None)
}

pub fn task_config(name: &str, task: usize, props: &Props) -> Entry {
    (
        format!("task-{name}-{task}").into_bytes(),
        Some(bytes(&properties(props))),
    )
}

/// Applies the task configs written before it, all at once.
pub fn commit_tasks(name: &str, tasks: usize) -> Entry {
    (
        format!("commit-{name}").into_bytes(),
        Some(bytes(&json!({ "tasks": tasks }))),
    )
}

pub fn target_state(name: &str, state: super::TargetState) -> Entry {
    let (old, v2) = match state {
        super::TargetState::Started => ("STARTED", "STARTED"),
        super::TargetState::Paused => ("PAUSED", "PAUSED"),
        // Older workers know no STOPPED; they read PAUSED.
        super::TargetState::Stopped => ("PAUSED", "STOPPED"),
    };
    (
        format!("target-state-{name}").into_bytes(),
        Some(bytes(&json!({ "state": old, "state.v2": v2 }))),
    )
}

pub fn restart_connector(name: &str, include_tasks: bool, only_failed: bool) -> Entry {
    (
        format!("restart-connector-{name}").into_bytes(),
        Some(bytes(
            &json!({ "include-tasks": include_tasks, "only-failed": only_failed }),
        )),
    )
}

/// `["<connector>",{<source partition>}]` → `{<source offset>}`.
pub fn source_offset(connector: &str, partition: &SourceMap, offset: Option<&SourceMap>) -> Entry {
    let key = bytes(&json!([connector, partition]));
    (key, offset.map(bytes))
}

/// Reads an offsets-topic key back into connector name and source partition.
pub fn parse_offset_key(key: &[u8]) -> Option<(String, SourceMap)> {
    let Json::Array(parts) = serde_json::from_slice(key).ok()? else {
        return None;
    };
    match parts.as_slice() {
        [Json::String(name), Json::Object(partition)] => Some((name.clone(), partition.clone())),
        _ => None,
    }
}

/// `status-connector-<name>` or `status-task-<name>-<n>` → `{"state","trace","worker_id","generation"}`.
pub fn status(
    key: &str,
    state: &str,
    trace: Option<&str>,
    worker_id: &str,
    generation: i32,
) -> Entry {
    let value =
        json!({ "state": state, "trace": trace, "worker_id": worker_id, "generation": generation });
    (key.as_bytes().to_vec(), Some(bytes(&value)))
}

/// The `properties` map of a config value, as strings.
pub fn parse_properties(value: &[u8]) -> Option<Props> {
    let Json::Object(object) = serde_json::from_slice(value).ok()? else {
        return None;
    };
    let Some(Json::Object(props)) = object.get("properties") else {
        return None;
    };
    Some(
        props
            .iter()
            .map(|(k, v)| (k.clone(), plain_string(v)))
            .collect(),
    )
}

/// Config values are strings; a number or boolean given in JSON becomes its text.
pub fn plain_string(v: &Json) -> String {
    match v {
        Json::String(s) => s.clone(),
        Json::Null => String::new(),
        other => other.to_string(),
    }
}

pub fn parse_object(value: &[u8]) -> Option<Map<String, Json>> {
    match serde_json::from_slice(value).ok()? {
        Json::Object(o) => Some(o),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offset_keys_are_compact_json_like_jacksons() {
        let mut partition = SourceMap::new();
        partition.insert("filename".into(), json!("a.txt"));
        let mut offset = SourceMap::new();
        offset.insert("position".into(), json!(30));
        let (key, value) = source_offset("file-src", &partition, Some(&offset));
        assert_eq!(key, br#"["file-src",{"filename":"a.txt"}]"#);
        assert_eq!(value.as_deref(), Some(&br#"{"position":30}"#[..]));
        assert_eq!(
            parse_offset_key(&key),
            Some(("file-src".to_string(), partition))
        );
        assert_eq!(parse_offset_key(b"{}"), None);
    }

    #[test]
    fn config_records_use_kafkas_keys_and_shapes() {
        let props: Props = [(
            "connector.class".to_string(),
            "FileStreamSource".to_string(),
        )]
        .into();
        let (key, value) = connector_config("a", &props);
        assert_eq!(key, b"connector-a");
        assert_eq!(
            value.as_deref(),
            Some(&br#"{"properties":{"connector.class":"FileStreamSource"}}"#[..])
        );
        assert_eq!(
            commit_tasks("a", 2).1.as_deref(),
            Some(&br#"{"tasks":2}"#[..])
        );
        let stopped = target_state("a", crate::storage::TargetState::Stopped)
            .1
            .expect("value");
        assert_eq!(stopped, br#"{"state":"PAUSED","state.v2":"STOPPED"}"#);
        let (key, value) = status("status-task-a-0", "RUNNING", None, "h:8083", 1);
        assert_eq!(key, b"status-task-a-0");
        assert_eq!(
            value.as_deref(),
            Some(&br#"{"state":"RUNNING","trace":null,"worker_id":"h:8083","generation":1}"#[..])
        );
        assert_eq!(
            parse_properties(br#"{"properties":{"tasks.max":2,"x":true}}"#),
            Some(
                [
                    ("tasks.max".to_string(), "2".to_string()),
                    ("x".to_string(), "true".to_string())
                ]
                .into()
            )
        );
    }
}
