//! `/admin/loggers`: log levels changed live. Levels use Log4j's names (TRACE, DEBUG, INFO,
//! WARN, ERROR, FATAL, OFF); a logger name is a `tracing` target prefix such as
//! `sluice_runtime::worker` (Java package names are accepted and simply match nothing).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use serde_json::{json, Value as Json};

/// Applies a filter (in `tracing_subscriber::EnvFilter` syntax) to the running process. The
/// binary owns the subscriber and provides this.
pub trait LogControl: Send + Sync {
    fn apply(&self, directives: &str) -> Result<(), String>;
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum LoggerError {
    #[error("invalid log level '{0}'.")]
    InvalidLevel(String),
    #[error("Logger {0} not found.")]
    NotFound(String),
    #[error("{0}")]
    Rejected(String),
}

struct Level {
    level: &'static str,
    last_modified: Option<i64>,
}

pub struct Loggers {
    control: Option<Arc<dyn LogControl>>,
    levels: Mutex<BTreeMap<String, Level>>,
}

pub const ROOT: &str = "root";

fn log4j_level(level: &str) -> Option<&'static str> {
    Some(match level.to_ascii_uppercase().as_str() {
        "TRACE" => "TRACE",
        "DEBUG" => "DEBUG",
        "INFO" => "INFO",
        "WARN" => "WARN",
        "ERROR" => "ERROR",
        "FATAL" => "FATAL",
        "OFF" => "OFF",
        _ => return None,
    })
}

fn tracing_level(level: &str) -> &'static str {
    match level {
        "TRACE" => "trace",
        "DEBUG" => "debug",
        "INFO" => "info",
        "WARN" => "warn",
        "FATAL" | "ERROR" => "error",
        _ => "off",
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default()
}

impl Loggers {
    /// `root_level` is the level the process started with (Log4j name).
    pub fn new(root_level: &str, control: Option<Arc<dyn LogControl>>) -> Self {
        let mut levels = BTreeMap::new();
        levels.insert(
            ROOT.to_string(),
            Level {
                level: log4j_level(root_level).unwrap_or("INFO"),
                last_modified: None,
            },
        );
        Self {
            control,
            levels: Mutex::new(levels),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Level>> {
        self.levels.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// `GET /admin/loggers`.
    pub fn all(&self) -> Json {
        let levels = self.lock();
        let mut out = serde_json::Map::new();
        for (name, l) in levels.iter() {
            out.insert(
                name.clone(),
                json!({"level": l.level, "last_modified": l.last_modified}),
            );
        }
        Json::Object(out)
    }

    /// `GET /admin/loggers/{name}`.
    pub fn get(&self, name: &str) -> Result<Json, LoggerError> {
        let levels = self.lock();
        let l = levels
            .get(name)
            .ok_or_else(|| LoggerError::NotFound(name.to_string()))?;
        Ok(json!({"level": l.level, "last_modified": l.last_modified}))
    }

    /// `PUT /admin/loggers/{name}`: sets the logger and its descendants; returns their names.
    pub fn set(&self, name: &str, level: &str) -> Result<Vec<String>, LoggerError> {
        let level =
            log4j_level(level).ok_or_else(|| LoggerError::InvalidLevel(level.to_string()))?;
        let mut levels = self.lock();
        let now = Some(now_ms());
        let mut changed = vec![name.to_string()];
        for (other, l) in levels.iter_mut() {
            let descendant = name == ROOT
                || other.starts_with(&format!("{name}."))
                || other.starts_with(&format!("{name}::"));
            if descendant && other != name {
                l.level = level;
                l.last_modified = now;
                changed.push(other.clone());
            }
        }
        let previous = levels.insert(
            name.to_string(),
            Level {
                level,
                last_modified: now,
            },
        );
        if let Some(control) = &self.control {
            if let Err(e) = control.apply(&directives(&levels)) {
                // Undo: the filter did not take the change.
                match previous {
                    Some(p) => levels.insert(name.to_string(), p),
                    None => levels.remove(name),
                };
                return Err(LoggerError::Rejected(format!(
                    "Could not set the level of {name}: {e}"
                )));
            }
        }
        changed.sort();
        Ok(changed)
    }
}

/// The filter for the current levels: the root level, then one directive per named logger.
fn directives(levels: &BTreeMap<String, Level>) -> String {
    let root = levels.get(ROOT).map_or("info", |l| tracing_level(l.level));
    let mut out = vec![root.to_string()];
    for (name, l) in levels {
        if name != ROOT {
            out.push(format!("{name}={}", tracing_level(l.level)));
        }
    }
    out.join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Record(Mutex<Vec<String>>);

    impl LogControl for Record {
        fn apply(&self, directives: &str) -> Result<(), String> {
            if directives.contains(' ') {
                return Err("bad name".into());
            }
            self.0.lock().expect("lock").push(directives.to_string());
            Ok(())
        }
    }

    #[test]
    fn levels_apply_to_descendants_and_reach_the_filter() {
        let record = Arc::new(Record(Mutex::new(Vec::new())));
        let loggers = Loggers::new("INFO", Some(record.clone()));
        assert_eq!(
            loggers.get(ROOT).expect("root")["last_modified"],
            Json::Null
        );
        loggers.set("sluice_runtime::worker", "debug").expect("set");
        let changed = loggers.set("sluice_runtime", "TRACE").expect("set");
        assert_eq!(changed, ["sluice_runtime", "sluice_runtime::worker"]);
        assert_eq!(
            loggers.get("sluice_runtime::worker").expect("get")["level"],
            "TRACE"
        );
        assert_eq!(
            record.0.lock().expect("lock").last().map(String::as_str),
            Some("info,sluice_runtime=trace,sluice_runtime::worker=trace")
        );
        assert_eq!(
            loggers.set("x", "LOUD"),
            Err(LoggerError::InvalidLevel("LOUD".into()))
        );
        assert_eq!(
            loggers.get("nope"),
            Err(LoggerError::NotFound("nope".into()))
        );
        assert!(matches!(
            loggers.set("a b", "DEBUG"),
            Err(LoggerError::Rejected(_))
        ));
        assert!(loggers.get("a b").is_err(), "a rejected change is undone");
    }
}
