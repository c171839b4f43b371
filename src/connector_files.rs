//! Connector configs given on the command line, as connect-standalone takes them: `.properties`
//! files (a flat map with `name`) or JSON files, either a flat map with `name` or
//! `{"name", "config", "initial_state"}`. A dry run takes the same files without a name.

use std::path::Path;

use anyhow::{bail, Context, Result};
use serde_json::Value as Json;
use sluice_connect_api::Props;
use sluice_runtime::herder::InitialState;

pub struct ConnectorFile {
    pub name: String,
    pub config: Props,
    pub initial_state: InitialState,
}

pub fn load(path: &Path) -> Result<ConnectorFile> {
    read(path).and_then(|parsed| {
        let Some(name) = parsed.name else {
            bail!(
                "in connector config {}: the config has no 'name'",
                path.display()
            );
        };
        Ok(ConnectorFile {
            name,
            config: parsed.config,
            initial_state: parsed.initial_state,
        })
    })
}

/// A connector config whose `name` does not matter (a dry run of its transforms).
pub fn load_config(path: &Path) -> Result<Props> {
    read(path).map(|parsed| parsed.config)
}

/// A config file as read, its name still optional.
struct Parsed {
    name: Option<String>,
    config: Props,
    initial_state: InitialState,
}

fn read(path: &Path) -> Result<Parsed> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let is_json = path.extension().is_some_and(|e| e == "json");
    let parsed = if is_json {
        from_json(&text)
    } else {
        crate::properties::parse(&text).map(|props| flat(props, InitialState::Running))
    };
    parsed.with_context(|| format!("in connector config {}", path.display()))
}

fn flat(config: Props, initial_state: InitialState) -> Parsed {
    Parsed {
        name: config.get("name").map(|n| n.trim().to_string()),
        config,
        initial_state,
    }
}

fn strings(map: &serde_json::Map<String, Json>) -> Result<Props> {
    map.iter()
        .map(|(k, v)| {
            let text = match v {
                Json::String(s) => s.clone(),
                Json::Number(_) | Json::Bool(_) => v.to_string(),
                _ => bail!("the value of '{k}' must be a string, number or boolean"),
            };
            Ok((k.clone(), text))
        })
        .collect()
}

fn from_json(text: &str) -> Result<Parsed> {
    let json: Json = serde_json::from_str(text).context("malformed JSON")?;
    let Json::Object(object) = json else {
        bail!("expected a JSON object");
    };
    let Some(Json::Object(config)) = object.get("config") else {
        return Ok(flat(strings(&object)?, InitialState::Running));
    };
    let mut config = strings(config)?;
    let name = match object.get("name") {
        Some(Json::String(n)) => Some(n.trim().to_string()),
        _ => None,
    };
    if let Some(name) = &name {
        config.insert("name".into(), name.clone());
    }
    let initial_state = match object.get("initial_state") {
        None | Some(Json::Null) => InitialState::Running,
        Some(Json::String(s)) => InitialState::parse(s)
            .with_context(|| format!("initial_state '{s}' is not RUNNING, PAUSED or STOPPED"))?,
        Some(other) => bail!("initial_state {other} is not a string"),
    };
    Ok(flat(config, initial_state))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_json_shapes_and_properties_are_read() {
        let nested = from_json(
            r#"{"name":"a","config":{"connector.class":"FileStreamSource","tasks.max":1},"initial_state":"paused"}"#,
        )
        .expect("nested");
        assert_eq!(nested.name.as_deref(), Some("a"));
        assert_eq!(nested.config["tasks.max"], "1");
        assert_eq!(nested.config["name"], "a");
        assert_eq!(nested.initial_state, InitialState::Paused);
        let flat_json =
            from_json(r#"{"name":"b","connector.class":"FileStreamSink"}"#).expect("flat");
        assert_eq!(flat_json.name.as_deref(), Some("b"));
        assert_eq!(
            from_json(r#"{"connector.class":"x"}"#)
                .expect("nameless")
                .name,
            None
        );
        assert!(from_json("{").is_err());
    }
}
