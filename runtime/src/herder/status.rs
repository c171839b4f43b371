//! Connector and task states, kept in memory for the REST API and written to `connect-status`
//! (`status-connector-<name>`, `status-task-<name>-<n>`) in Kafka's format.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use rdkafka::producer::{FutureProducer, FutureRecord};
use serde_json::{json, Value as Json};

use crate::storage::records;
use crate::worker::errors::ErrorCounters;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Unassigned,
    Running,
    Paused,
    Stopped,
    Failed,
    Restarting,
}

impl State {
    pub fn name(self) -> &'static str {
        match self {
            State::Unassigned => "UNASSIGNED",
            State::Running => "RUNNING",
            State::Paused => "PAUSED",
            State::Stopped => "STOPPED",
            State::Failed => "FAILED",
            State::Restarting => "RESTARTING",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Status {
    pub state: State,
    pub trace: Option<String>,
}

impl Status {
    pub fn new(state: State) -> Self {
        Self { state, trace: None }
    }

    pub fn failed(trace: String) -> Self {
        Self {
            state: State::Failed,
            trace: Some(trace),
        }
    }
}

#[derive(Debug, Clone, Default)]
struct ConnectorStatuses {
    connector: Option<Status>,
    tasks: BTreeMap<usize, Status>,
}

/// Every status, and the producer that records changes in the status topic.
pub struct StatusStore {
    statuses: Mutex<BTreeMap<String, ConnectorStatuses>>,
    /// Each connector's config and definition, so that no trace stored or logged for it repeats
    /// one of its secrets (see `crate::secrets`).
    secrets: Mutex<
        BTreeMap<
            String,
            (
                sluice_connect_api::Props,
                Option<sluice_connect_api::ConfigDef>,
            ),
        >,
    >,
    /// Each task's error counters, shown in its status while it runs.
    errors: Mutex<BTreeMap<(String, usize), Arc<ErrorCounters>>>,
    /// How often each task was restarted on its own (`errors.task.restart.max`).
    restarts: Mutex<BTreeMap<(String, usize), u32>>,
    producer: FutureProducer,
    topic: String,
    worker_id: String,
}

impl StatusStore {
    pub fn new(producer: FutureProducer, topic: String, worker_id: String) -> Self {
        Self {
            statuses: Mutex::new(BTreeMap::new()),
            secrets: Mutex::new(BTreeMap::new()),
            errors: Mutex::new(BTreeMap::new()),
            restarts: Mutex::new(BTreeMap::new()),
            producer,
            topic,
            worker_id,
        }
    }

    pub fn worker_id(&self) -> &str {
        &self.worker_id
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, ConnectorStatuses>> {
        self.statuses.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Remembers a connector's config, to keep its secrets out of its traces.
    pub fn know_config(
        &self,
        name: &str,
        props: &sluice_connect_api::Props,
        definition: Option<sluice_connect_api::ConfigDef>,
    ) {
        self.secrets
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(name.to_string(), (props.clone(), definition));
    }

    /// `text` with the secrets of `name`'s config cut out: for traces and logs.
    pub fn redact(&self, name: &str, text: &str) -> String {
        let secrets = self.secrets.lock().unwrap_or_else(|p| p.into_inner());
        match secrets.get(name) {
            Some((props, definition)) => crate::secrets::redact(text, props, definition.as_ref()),
            None => crate::secrets::redact(text, &Default::default(), None),
        }
    }

    fn redacted(&self, name: &str, mut status: Status) -> Status {
        if let Some(trace) = status.trace.take() {
            status.trace = Some(self.redact(name, &trace));
        }
        status
    }

    pub fn set_connector(&self, name: &str, status: Status) {
        let status = self.redacted(name, status);
        self.write(&format!("status-connector-{name}"), Some(&status));
        self.lock().entry(name.to_string()).or_default().connector = Some(status);
    }

    pub fn set_task(&self, name: &str, task: usize, status: Status) {
        let status = self.redacted(name, status);
        self.write(&format!("status-task-{name}-{task}"), Some(&status));
        self.lock()
            .entry(name.to_string())
            .or_default()
            .tasks
            .insert(task, status);
    }

    /// Forgets the tasks of a connector (stopped, deleted, or fewer tasks now).
    pub fn remove_tasks_from(&self, name: &str, first: usize) {
        let removed: Vec<usize> = {
            let mut statuses = self.lock();
            let Some(entry) = statuses.get_mut(name) else {
                return;
            };
            let removed = entry.tasks.range(first..).map(|(id, _)| *id).collect();
            entry.tasks.retain(|id, _| *id < first);
            removed
        };
        for id in removed {
            self.write(&format!("status-task-{name}-{id}"), None);
        }
    }

    pub fn remove_connector(&self, name: &str) {
        self.remove_tasks_from(name, 0);
        self.errors
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|(connector, _), _| connector != name);
        self.restarts
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|(connector, _), _| connector != name);
        self.lock().remove(name);
        self.write(&format!("status-connector-{name}"), None);
    }

    pub fn connector(&self, name: &str) -> Option<Status> {
        self.lock().get(name).and_then(|c| c.connector.clone())
    }

    pub fn task(&self, name: &str, task: usize) -> Option<Status> {
        self.lock()
            .get(name)
            .and_then(|c| c.tasks.get(&task).cloned())
    }

    pub fn tasks(&self, name: &str) -> BTreeMap<usize, Status> {
        self.lock()
            .get(name)
            .map(|c| c.tasks.clone())
            .unwrap_or_default()
    }

    /// The error counters of a task, kept across its restarts until its connector goes away.
    pub fn error_counters(&self, name: &str, task: usize) -> Arc<ErrorCounters> {
        let mut errors = self.errors.lock().unwrap_or_else(|p| p.into_inner());
        Arc::clone(errors.entry((name.to_string(), task)).or_default())
    }

    /// A task's status as the REST API shows it: its state, and (Sluice's) what its error
    /// handling did, while it runs too.
    pub fn task_json(&self, name: &str, task: usize, status: &Status) -> Json {
        let mut out = self.json(status);
        let errors = self.errors.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(counters) = errors.get(&(name.to_string(), task)).and_then(|c| c.json()) {
            out["errors"] = counters;
        }
        let restarts = self.restarts.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = restarts.get(&(name.to_string(), task)).filter(|n| **n > 0) {
            out["restarts"] = json!(n);
        }
        out
    }

    /// Counts an automatic restart of a failed task: the restart's number, or `None` once
    /// `max` restarts were made.
    pub fn note_restart(&self, name: &str, task: usize, max: u32) -> Option<u32> {
        if max == 0 {
            return None;
        }
        let mut restarts = self.restarts.lock().unwrap_or_else(|p| p.into_inner());
        let count = restarts.entry((name.to_string(), task)).or_default();
        (*count < max).then(|| {
            *count += 1;
            *count
        })
    }

    /// `{"state","worker_id"}` plus `trace` when there is one, as the REST API shows a state.
    pub fn json(&self, status: &Status) -> Json {
        let mut out = json!({"state": status.state.name(), "worker_id": self.worker_id});
        if let Some(trace) = status.trace.as_deref().filter(|t| !t.is_empty()) {
            out["trace"] = json!(trace);
        }
        out
    }

    /// Records a change in the status topic. Statuses are informational: a failed write is
    /// logged, never fatal, and the REST API answers from memory.
    fn write(&self, key: &str, status: Option<&Status>) {
        let (key, value) = match status {
            Some(s) => records::status(key, s.state.name(), s.trace.as_deref(), &self.worker_id, 0),
            None => (key.as_bytes().to_vec(), None),
        };
        let mut record: FutureRecord<'_, [u8], [u8]> = FutureRecord::to(&self.topic).key(&key);
        if let Some(v) = value.as_deref() {
            record = record.payload(v);
        }
        if let Err((e, _)) = self.producer.send_result(record) {
            tracing::warn!(error = %e, "could not record a status change");
        }
    }
}
