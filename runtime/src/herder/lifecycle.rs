//! Starting and stopping connectors and tasks (reference §2.5): a connector is started, asked for
//! `task_configs(tasks.max)`, the task configs are committed to the config topic, and the tasks
//! run. A failed task is not retried: it stays FAILED until restarted through the REST API.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use rdkafka::producer::FutureRecord;
use serde_json::json;
use sluice_connect_api::{
    ConnectError, Connector, ConnectorContext, PluginKind, Props, SinkConnector, SourceConnector,
};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::status::{State, Status};
use super::{Event, Herder, Inner, Shared};
use crate::converters;
use crate::storage::{records, TargetState};
use crate::transforms::TransformChain;
use crate::worker::errors::{ErrorHandler, ErrorSettings};
use crate::worker::sink::SinkTopics;
use crate::worker::topic_writer::TopicReporter;
use crate::worker::{
    trace, ConverterClasses, Converters, SinkRunner, SinkSettings, SourceRunner, SourceSettings,
    TopicCreation, TopicObserver,
};

/// A started connector object and its running tasks.
pub(super) struct Running {
    connector: Instance,
    tasks: BTreeMap<usize, TaskHandle>,
}

enum Instance {
    Source(Box<dyn SourceConnector>),
    Sink(Box<dyn SinkConnector>),
}

impl Instance {
    fn connector(&mut self) -> &mut dyn Connector {
        match self {
            Instance::Source(c) => c.as_mut(),
            Instance::Sink(c) => c.as_mut(),
        }
    }
}

struct TaskHandle {
    stop: CancellationToken,
    join: JoinHandle<()>,
}

/// What a connector can ask of the worker.
struct Context {
    name: String,
    events: tokio::sync::mpsc::UnboundedSender<Event>,
}

impl ConnectorContext for Context {
    fn request_task_reconfiguration(&self) {
        let _ = self.events.send(Event::Reconfigure(self.name.clone()));
    }

    fn raise_error(&self, error: ConnectError) {
        let _ = self.events.send(Event::Failed(self.name.clone(), error));
    }
}

fn tasks_max(props: &Props) -> usize {
    props
        .get("tasks.max")
        .and_then(|v| v.trim().parse::<usize>().ok())
        .unwrap_or(1)
        .max(1)
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default()
}

impl Herder {
    /// Brings a connector to its target state from nothing running.
    pub(super) async fn start_connector(&self, inner: &mut Inner, name: &str) {
        let statuses = &self.shared.statuses;
        let Some(props) = inner.configs.connectors.get(name).cloned() else {
            return;
        };
        let target = inner
            .configs
            .target_states
            .get(name)
            .copied()
            .unwrap_or(TargetState::Started);
        if target == TargetState::Stopped {
            if inner.configs.tasks.get(name).is_some_and(|t| !t.is_empty()) {
                self.commit_task_configs(inner, name, Vec::new()).await;
            }
            statuses.remove_tasks_from(name, 0);
            statuses.set_connector(name, Status::new(State::Stopped));
            return;
        }
        let definition = props
            .get("connector.class")
            .and_then(|c| self.shared.plugins.connector(c))
            .map(super::validation::definition);
        statuses.know_config(name, &props, definition);
        let instance = match self.start_instance(name, &props) {
            Ok(instance) => instance,
            Err(trace) => {
                let trace = statuses.redact(name, &trace);
                tracing::error!(connector = name, error = %trace, "connector failed to start");
                statuses.set_connector(name, Status::failed(trace));
                return;
            }
        };
        inner.running.insert(
            name.to_string(),
            Running {
                connector: instance,
                tasks: BTreeMap::new(),
            },
        );
        if !self.refresh_task_configs(inner, name).await {
            return;
        }
        match target {
            TargetState::Paused => {
                statuses.set_connector(name, Status::new(State::Paused));
                let count = inner.configs.tasks.get(name).map_or(0, Vec::len);
                for id in 0..count {
                    statuses.set_task(name, id, Status::new(State::Paused));
                }
                statuses.remove_tasks_from(name, count);
            }
            _ => {
                statuses.set_connector(name, Status::new(State::Running));
                self.start_tasks(inner, name);
            }
        }
        tracing::info!(connector = name, state = ?target, "connector started");
    }

    /// A new connector object of the configured class, started; the failure's trace otherwise.
    fn start_instance(&self, name: &str, props: &Props) -> Result<Instance, String> {
        let class = props.get("connector.class").cloned().unwrap_or_default();
        let plugin = self.shared.plugins.connector(&class).ok_or_else(|| {
            format!(
                "Failed to find any class that implements Connector and which name matches {class}"
            )
        })?;
        let mut instance = match plugin.kind {
            PluginKind::Source(new) => Instance::Source(new()),
            PluginKind::Sink(new) => Instance::Sink(new()),
        };
        let context = Arc::new(Context {
            name: name.to_string(),
            events: self.shared.events.clone(),
        });
        instance
            .connector()
            .start(props, context)
            .map_err(|e| trace(&e))?;
        Ok(instance)
    }

    /// Starts every task that is neither running nor FAILED (a failed task waits for a restart).
    fn start_missing_tasks(&self, inner: &mut Inner, name: &str) {
        let count = inner.configs.tasks.get(name).map_or(0, Vec::len);
        for id in 0..count {
            let running = inner
                .running
                .get(name)
                .is_some_and(|r| r.tasks.contains_key(&id));
            let failed = self
                .shared
                .statuses
                .task(name, id)
                .is_some_and(|s| s.state == State::Failed);
            if !running && !failed {
                self.start_task(inner, name, id);
            }
        }
    }

    /// Asks the connector for task configs and commits them when they changed. False when the
    /// connector failed doing so.
    async fn refresh_task_configs(&self, inner: &mut Inner, name: &str) -> bool {
        let statuses = &self.shared.statuses;
        let Some(props) = inner.configs.connectors.get(name).cloned() else {
            return false;
        };
        let Some(running) = inner.running.get_mut(name) else {
            return false;
        };
        let max = tasks_max(&props);
        let configs = match running.connector.connector().task_configs(max) {
            Ok(c) => c,
            Err(e) => {
                statuses.set_connector(name, Status::failed(trace(&e)));
                return false;
            }
        };
        let enforce = !props
            .get("tasks.max.enforce")
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("false"));
        if enforce && configs.len() > max {
            statuses.set_connector(
                name,
                Status::failed(format!(
                    "The connector {name} has generated {} tasks, which is greater than {max}, the maximum number of tasks it is configured to create.",
                    configs.len()
                )),
            );
            return false;
        }
        let task_class = props
            .get("connector.class")
            .and_then(|c| self.shared.plugins.connector(c))
            .map(|p| {
                p.class
                    .strip_suffix("Connector")
                    .map(|base| format!("{base}Task"))
                    .unwrap_or_else(|| p.class.to_string())
            })
            .unwrap_or_default();
        let configs: Vec<Props> = configs
            .into_iter()
            .map(|mut c| {
                c.insert("task.class".into(), task_class.clone());
                c
            })
            .collect();
        if inner.configs.tasks.get(name) != Some(&configs) {
            self.commit_task_configs(inner, name, configs).await;
        }
        true
    }

    /// Writes `task-<name>-<n>` for each config, then `commit-<name>`.
    async fn commit_task_configs(&self, inner: &mut Inner, name: &str, configs: Vec<Props>) {
        let mut entries: Vec<records::Entry> = configs
            .iter()
            .enumerate()
            .map(|(i, c)| records::task_config(name, i, c))
            .collect();
        entries.push(records::commit_tasks(name, configs.len()));
        for entry in entries {
            if let Err(e) = self.write_config(inner, entry).await {
                tracing::error!(connector = name, error = %e, "could not store task configs");
                self.shared
                    .statuses
                    .set_connector(name, Status::failed(e.to_string()));
                return;
            }
        }
        self.shared.statuses.remove_tasks_from(name, configs.len());
    }

    fn start_tasks(&self, inner: &mut Inner, name: &str) {
        let count = inner.configs.tasks.get(name).map_or(0, Vec::len);
        for id in 0..count {
            self.start_task(inner, name, id);
        }
    }

    /// Starts one task; a task that cannot be built is FAILED with the reason.
    fn start_task(&self, inner: &mut Inner, name: &str, id: usize) {
        let statuses = &self.shared.statuses;
        let (Some(props), Some(task_props)) = (
            inner.configs.connectors.get(name).cloned(),
            inner
                .configs
                .tasks
                .get(name)
                .and_then(|t| t.get(id))
                .cloned(),
        ) else {
            return;
        };
        let Some(running) = inner.running.get_mut(name) else {
            return;
        };
        let stop = CancellationToken::new();
        let built = build_task(
            &self.shared,
            name,
            id,
            &props,
            &task_props,
            &running.connector,
            stop.clone(),
        );
        match built {
            Ok(join) => {
                statuses.set_task(name, id, Status::new(State::Running));
                running.tasks.insert(id, TaskHandle { stop, join });
            }
            Err(e) => {
                let trace = statuses.redact(name, &trace(&e));
                tracing::error!(connector = name, task = id, error = %trace, "task failed to start");
                statuses.set_task(name, id, Status::failed(trace));
            }
        }
    }

    /// Stops the tasks, waiting up to `task.shutdown.graceful.timeout.ms` for each to commit.
    async fn stop_tasks(&self, inner: &mut Inner, name: &str, only: Option<usize>) {
        let Some(running) = inner.running.get_mut(name) else {
            return;
        };
        let ids: Vec<usize> = match only {
            Some(id) => vec![id],
            None => running.tasks.keys().copied().collect(),
        };
        let handles: Vec<(usize, TaskHandle)> = ids
            .into_iter()
            .filter_map(|id| running.tasks.remove(&id).map(|h| (id, h)))
            .collect();
        stop_and_await(&self.shared, name, handles).await;
    }

    /// Stops the tasks and the connector object.
    pub(super) async fn stop_connector(&self, inner: &mut Inner, name: &str) {
        self.stop_tasks(inner, name, None).await;
        if let Some(mut running) = inner.running.remove(name) {
            if let Err(e) = running.connector.connector().stop() {
                tracing::warn!(connector = name, error = %e, "connector failed to stop cleanly");
            }
        }
    }

    /// Moves a connector to the target state just written.
    pub(super) async fn apply_target_state(&self, inner: &mut Inner, name: &str) {
        let target = inner
            .configs
            .target_states
            .get(name)
            .copied()
            .unwrap_or(TargetState::Started);
        let statuses = &self.shared.statuses;
        match target {
            TargetState::Stopped => {
                self.stop_connector(inner, name).await;
                self.start_connector(inner, name).await;
            }
            TargetState::Paused => {
                if !inner.running.contains_key(name) {
                    self.start_connector(inner, name).await;
                    return;
                }
                self.stop_tasks(inner, name, None).await;
                statuses.set_connector(name, Status::new(State::Paused));
                let count = inner.configs.tasks.get(name).map_or(0, Vec::len);
                for id in 0..count {
                    statuses.set_task(name, id, Status::new(State::Paused));
                }
            }
            TargetState::Started => {
                if !inner.running.contains_key(name) {
                    self.start_connector(inner, name).await;
                    return;
                }
                statuses.set_connector(name, Status::new(State::Running));
                let count = inner.configs.tasks.get(name).map_or(0, Vec::len);
                for id in 0..count {
                    let running = inner
                        .running
                        .get(name)
                        .is_some_and(|r| r.tasks.contains_key(&id));
                    if !running {
                        self.start_task(inner, name, id);
                    }
                }
            }
        }
    }

    /// Restarts the connector object; tasks restart only if their configs changed.
    pub(super) async fn restart_connector(&self, inner: &mut Inner, name: &str) {
        let before = inner.configs.tasks.get(name).cloned();
        let tasks: BTreeMap<usize, TaskHandle> = inner
            .running
            .get_mut(name)
            .map(|r| std::mem::take(&mut r.tasks))
            .unwrap_or_default();
        if let Some(mut running) = inner.running.remove(name) {
            if let Err(e) = running.connector.connector().stop() {
                tracing::warn!(connector = name, error = %e, "connector failed to stop cleanly");
            }
        }
        self.shared
            .statuses
            .set_connector(name, Status::new(State::Restarting));
        self.start_connector_keeping(inner, name, tasks, before)
            .await;
    }

    /// Starts the connector again; running tasks are kept when the task configs are unchanged.
    async fn start_connector_keeping(
        &self,
        inner: &mut Inner,
        name: &str,
        tasks: BTreeMap<usize, TaskHandle>,
        before: Option<Vec<Props>>,
    ) {
        // Tasks go back under the connector before it restarts, so a start that changes the
        // task configs stops them like any others.
        let Some(props) = inner.configs.connectors.get(name).cloned() else {
            return;
        };
        let target = inner.configs.target_states.get(name).copied();
        if target == Some(TargetState::Started) || target.is_none() {
            // Start the connector object alone.
            match self.start_instance(name, &props) {
                Ok(instance) => {
                    inner.running.insert(
                        name.to_string(),
                        Running {
                            connector: instance,
                            tasks,
                        },
                    );
                    if self.refresh_task_configs(inner, name).await {
                        self.shared
                            .statuses
                            .set_connector(name, Status::new(State::Running));
                        if inner.configs.tasks.get(name) != before.as_ref() {
                            self.stop_tasks(inner, name, None).await;
                        }
                        self.start_missing_tasks(inner, name);
                    }
                    return;
                }
                Err(trace) => self
                    .shared
                    .statuses
                    .set_connector(name, Status::failed(trace)),
            }
        }
        // Not running (paused, stopped, failed): stop what was kept and start from scratch.
        stop_and_await(&self.shared, name, tasks.into_iter().collect()).await;
        self.start_connector(inner, name).await;
    }

    /// Stops and starts one task with its current config.
    pub(super) async fn restart_task_locked(&self, inner: &mut Inner, name: &str, id: usize) {
        self.stop_tasks(inner, name, Some(id)).await;
        let paused = inner.configs.target_states.get(name) == Some(&TargetState::Paused);
        if paused {
            self.shared
                .statuses
                .set_task(name, id, Status::new(State::Paused));
        } else if inner.running.contains_key(name) {
            self.start_task(inner, name, id);
        }
    }

    /// The connector asked for new task configs.
    pub(super) async fn reconfigure(&self, name: &str) {
        let mut inner = self.inner.lock().await;
        if !inner.running.contains_key(name) {
            return;
        }
        let before = inner.configs.tasks.get(name).cloned();
        if !self.refresh_task_configs(&mut inner, name).await {
            return;
        }
        if inner.configs.tasks.get(name) == before.as_ref() {
            return;
        }
        tracing::info!(connector = name, "task configs changed; restarting tasks");
        self.stop_tasks(&mut inner, name, None).await;
        if inner.configs.target_states.get(name) != Some(&TargetState::Paused) {
            self.start_tasks(&mut inner, name);
        }
    }
}

/// Stops `handles` together and waits for them up to `task.shutdown.graceful.timeout.ms` in all.
/// A task still running then (its own code blocked or spinning on its thread) is abandoned and
/// reported FAILED: its thread is left to itself, and nothing else waits for it.
async fn stop_and_await(shared: &Arc<Shared>, name: &str, handles: Vec<(usize, TaskHandle)>) {
    for (_, handle) in &handles {
        handle.stop.cancel();
    }
    let timeout = shared
        .config
        .task_shutdown_timeout
        .max(Duration::from_millis(1));
    let deadline = tokio::time::Instant::now() + timeout;
    for (id, handle) in handles {
        let abort = handle.join.abort_handle();
        if tokio::time::timeout_at(deadline, handle.join)
            .await
            .is_err()
        {
            abort.abort();
            let message = format!(
                "Graceful stop of task {name}-{id} failed: it did not stop within {} ms \
                 (task.shutdown.graceful.timeout.ms) and was abandoned",
                timeout.as_millis()
            );
            tracing::error!(connector = name, task = id, "{message}");
            shared.statuses.set_task(name, id, Status::failed(message));
        }
    }
}

/// Builds a task's pipeline and spawns it. The spawned task records FAILED if it ends in error.
fn build_task(
    shared: &Arc<Shared>,
    name: &str,
    id: usize,
    props: &Props,
    task_props: &Props,
    connector: &Instance,
    stop: CancellationToken,
) -> Result<JoinHandle<()>, crate::worker::WorkerError> {
    let config = &shared.config;
    let converters = task_converters(config, props)?;
    let counters = shared.statuses.error_counters(name, id);
    let errors = Arc::new(ErrorHandler::new(
        ErrorSettings::from_config(props),
        name,
        id,
        props,
        &config.client("producer.", props),
        counters,
    ));
    let observer = topic_observer(shared, name, id);
    let task_name = name.to_string();
    let shared_for_exit = Arc::clone(shared);
    let restart_max = props
        .get("errors.task.restart.max")
        .and_then(|v| v.trim().parse::<u32>().ok())
        .unwrap_or(0);
    let restart_delay_max = ErrorSettings::from_config(props).retry_delay_max;
    let report = move |result: Result<(), crate::worker::WorkerError>| {
        if let Err(e) = result {
            let trace = shared_for_exit.statuses.redact(&task_name, &trace(&e));
            tracing::error!(connector = %task_name, task = id, error = %trace, "task failed");
            let restart = shared_for_exit
                .statuses
                .note_restart(&task_name, id, restart_max);
            let outlook = match restart {
                Some(_) => "It will be restarted (errors.task.restart.max).",
                None => "Task is being killed and will not recover until manually restarted.",
            };
            shared_for_exit.statuses.set_task(
                &task_name,
                id,
                Status::failed(format!("{outlook} {trace}")),
            );
            if let Some(attempt) = restart {
                // 1 s, 2 s, 4 s ... up to errors.retry.delay.max.ms.
                let delay = Duration::from_secs(1)
                    .saturating_mul(1u32 << (attempt - 1).min(16))
                    .min(restart_delay_max.max(Duration::from_millis(1)));
                let events = shared_for_exit.events.clone();
                let name = task_name.clone();
                tokio::spawn(async move {
                    tokio::time::sleep(delay).await;
                    let _ = events.send(Event::RestartFailedTask(name, id));
                });
            }
        }
    };
    match connector {
        Instance::Source(c) => {
            let task = c.new_task();
            let topic_creation = if config.topic_creation_enable {
                TopicCreation::from_config(props)?
            } else {
                None
            };
            let settings = SourceSettings {
                connector: name.to_string(),
                task: id,
                offsets_topic: config.offsets_topic.clone(),
                offset_flush_interval: config.offset_flush_interval,
                idle_backoff: Duration::from_millis(50),
                errors,
                topic_creation,
                topic_observer: observer,
                status_observer: Some(status_note(shared, name, id)),
            };
            let mut client = config.client("producer.", props);
            client.set("client.id", format!("connector-producer-{name}-{id}"));
            let runner = SourceRunner::new(
                settings,
                task,
                task_props.clone(),
                shared.offsets.reader(name),
                converters,
                TransformChain::from_config(props)?,
                &client,
                Arc::clone(&shared.offsets),
            )?;
            Ok(tokio::spawn(async move { report(runner.run(stop).await) }))
        }
        Instance::Sink(c) => {
            let mut task = c.new_task();
            // Its producer is made only if the task reports something.
            task.set_reporter(Arc::new(TopicReporter::new(
                &config.client("producer.", props),
                props,
            )));
            let topics = SinkTopics::from_config(props);
            let settings = SinkSettings {
                connector: name.to_string(),
                task: id,
                topics,
                offset_flush_interval: config.offset_flush_interval,
                // Kafka's max.poll.records, 500 unless the consumer settings say otherwise.
                max_batch: config
                    .client_setting("consumer.", props, "max.poll.records")
                    .and_then(|v| v.parse::<usize>().ok())
                    .filter(|n| *n > 0)
                    .unwrap_or(500),
                connector_class: props.get("connector.class").cloned().unwrap_or_default(),
                errors,
                topic_observer: observer,
            };
            let mut client = config.client("consumer.", props);
            client.set("client.id", format!("connector-consumer-{name}-{id}"));
            let runner = SinkRunner::new(
                settings,
                task,
                task_props.clone(),
                converters,
                TransformChain::from_config(props)?,
                &client,
            )?;
            Ok(tokio::spawn(async move { report(runner.run(stop).await) }))
        }
    }
}

/// The connector's converters, or the worker's where the connector sets none. Settings come from
/// whichever config named the converter.
fn task_converters(
    config: &crate::config::WorkerConfig,
    props: &Props,
) -> Result<Converters, ConnectError> {
    let pick = |key: &str, worker_class: &str| -> (String, Props) {
        match props.get(key).filter(|c| !c.trim().is_empty()) {
            Some(class) => (class.trim().to_string(), props.clone()),
            None => (worker_class.to_string(), config.props.clone()),
        }
    };
    let (key_class, key_props) = pick("key.converter", &config.key_converter);
    let (value_class, value_props) = pick("value.converter", &config.value_converter);
    let (header_class, header_props) = pick("header.converter", &config.header_converter);
    let classes = ConverterClasses {
        key: key_class.clone(),
        value: value_class.clone(),
        header: header_class.clone(),
    };
    let registry = config.schema_registry_url.as_deref();
    let key_props = converters::with_registry_default(&key_props, "key.converter.", registry);
    let value_props = converters::with_registry_default(&value_props, "value.converter.", registry);
    Ok(Converters {
        key: converters::create(&key_class, &key_props, "key.converter.", true)?,
        value: converters::create(&value_class, &value_props, "value.converter.", false)?,
        header: converters::create_header(&header_class, &header_props, "header.converter.")?,
        classes,
    })
}

/// Shows a running task's note as its status `trace`.
fn status_note(shared: &Arc<Shared>, name: &str, task: usize) -> crate::worker::StatusObserver {
    let shared = Arc::clone(shared);
    let name = name.to_string();
    Arc::new(move |note: String| {
        shared.statuses.set_task(
            &name,
            task,
            Status {
                state: State::Running,
                trace: Some(note),
            },
        );
    })
}

/// Records each new topic a connector uses in memory and in the status topic.
fn topic_observer(shared: &Arc<Shared>, name: &str, task: usize) -> Option<TopicObserver> {
    if !shared.config.topic_tracking_enable {
        return None;
    }
    let shared = Arc::clone(shared);
    let name = name.to_string();
    Some(Arc::new(move |topic: &str| {
        let new = shared
            .topics
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(name.clone())
            .or_default()
            .insert(topic.to_string());
        if !new {
            return;
        }
        let key = format!("status-topic-{topic}:connector-{name}");
        let value = json!({"topic": {"name": topic, "connector": name, "task": task, "discoverTimestamp": now_ms()}});
        let payload = value.to_string();
        let record = FutureRecord::to(&shared.config.status_topic)
            .key(key.as_str())
            .payload(payload.as_str());
        if let Err((e, _)) = shared.store.send_result(record) {
            tracing::warn!(error = %e, "could not record an active topic");
        }
    }))
}
