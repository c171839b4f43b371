//! The herder: owns the connectors of this worker. It keeps connector configs, target states and
//! task configs in the config topic (Kafka's records, so a restarted worker resumes every
//! connector in the state it was left in), starts connectors and their tasks, records their
//! states in the status topic, and carries out what the REST API asks.

mod lifecycle;
mod offsets;
pub mod plugins;
pub mod status;
pub mod validation;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use serde_json::{json, Value as Json};
use sluice_connect_api::{ConnectError, PluginDesc, Props};
use tokio::sync::mpsc;

use crate::config::WorkerConfig;
use crate::storage::{reader, records, ConfigState, TargetState};
use crate::worker::{ensure_compacted_topics, OffsetStore, WorkerError};
use lifecycle::Running;
use plugins::Plugins;
use status::{State, Status, StatusStore};

/// How long startup may spend reading an internal topic.
const LOAD_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a write to an internal topic may take.
const WRITE_TIMEOUT: Duration = Duration::from_secs(30);

/// A request the herder refuses, classified the way the REST API answers it.
#[derive(Debug, thiserror::Error)]
pub enum HerderError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    Internal(String),
}

impl From<WorkerError> for HerderError {
    fn from(e: WorkerError) -> Self {
        HerderError::Internal(crate::worker::trace(&e))
    }
}

pub type Result<T> = std::result::Result<T, HerderError>;

/// What a running connector asks of the herder, from its own threads.
enum Event {
    Reconfigure(String),
    Failed(String, ConnectError),
    /// A task failed and may be restarted on its own (`errors.task.restart.max`).
    RestartFailedTask(String, usize),
}

/// The target state a connector is created in (`initial_state`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InitialState {
    Running,
    Paused,
    Stopped,
}

impl InitialState {
    pub fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_uppercase().as_str() {
            "RUNNING" => Some(Self::Running),
            "PAUSED" => Some(Self::Paused),
            "STOPPED" => Some(Self::Stopped),
            _ => None,
        }
    }
}

/// Everything shared with running tasks and the event loop.
struct Shared {
    config: WorkerConfig,
    plugins: Plugins,
    offsets: Arc<OffsetStore>,
    statuses: StatusStore,
    /// Writes the internal topics, in order.
    store: FutureProducer,
    /// Topics each connector used (topic tracking).
    topics: Mutex<BTreeMap<String, BTreeSet<String>>>,
    events: mpsc::UnboundedSender<Event>,
    cluster_id: String,
}

struct Inner {
    configs: ConfigState,
    running: HashMap<String, Running>,
}

pub struct Herder {
    shared: Arc<Shared>,
    inner: tokio::sync::Mutex<Inner>,
}

impl Herder {
    /// Connects to Kafka, creates the internal topics if needed, reads them, and starts every
    /// stored connector in its stored state.
    pub async fn start(config: WorkerConfig, connectors: Vec<PluginDesc>) -> Result<Arc<Self>> {
        let client = config.base_client();
        // The readers connect while the topics are being made, and read once they are.
        let (created_tx, created) = std::sync::mpsc::channel();
        let loading = {
            let client = client.clone();
            let config = config.clone();
            tokio::task::spawn_blocking(move || load(&client, &config, created))
        };
        let ensured = ensure_compacted_topics(
            &client,
            &[
                (&config.config_topic, 1),
                (&config.offsets_topic, config.offsets_partitions),
                (&config.status_topic, config.status_partitions),
            ],
        )
        .await;
        for _ in 0..3 {
            // One signal per reader; a reader that already failed has dropped its end.
            let _ = created_tx.send(ensured.is_ok());
        }
        ensured?;
        let (configs, offsets, topics) = loading
            .await
            .map_err(|e| HerderError::Internal(e.to_string()))??;
        let store: FutureProducer = client
            .clone()
            .set("acks", "all")
            .set("enable.idempotence", "true")
            .set("linger.ms", "0")
            .create()
            .map_err(WorkerError::from)?;
        let cluster_id = {
            let producer = store.clone();
            tokio::task::spawn_blocking(move || {
                producer.client().fetch_cluster_id(Duration::from_secs(10))
            })
            .await
            .ok()
            .flatten()
            .unwrap_or_default()
        };
        let (events, receiver) = mpsc::unbounded_channel();
        let statuses = StatusStore::new(
            store.clone(),
            config.status_topic.clone(),
            config.worker_id.clone(),
        );
        let herder = Arc::new(Self {
            shared: Arc::new(Shared {
                plugins: Plugins::new(connectors),
                offsets: Arc::new(offsets),
                statuses,
                store,
                topics: Mutex::new(topics),
                events,
                cluster_id,
                config,
            }),
            inner: tokio::sync::Mutex::new(Inner {
                configs,
                running: HashMap::new(),
            }),
        });
        tokio::spawn(event_loop(Arc::downgrade(&herder), receiver));
        {
            let mut inner = herder.inner.lock().await;
            let names: Vec<String> = inner.configs.connectors.keys().cloned().collect();
            for name in names {
                herder.start_connector(&mut inner, &name).await;
            }
        }
        Ok(herder)
    }

    /// Stops every connector and task cleanly (offsets committed).
    pub async fn shutdown(&self) {
        let mut inner = self.inner.lock().await;
        let names: Vec<String> = inner.running.keys().cloned().collect();
        for name in names {
            self.stop_connector(&mut inner, &name).await;
        }
    }

    pub fn worker_id(&self) -> &str {
        &self.shared.config.worker_id
    }

    pub fn cluster_id(&self) -> &str {
        &self.shared.cluster_id
    }

    pub fn plugins(&self) -> &Plugins {
        &self.shared.plugins
    }

    pub fn config(&self) -> &WorkerConfig {
        &self.shared.config
    }

    /// Writes one record to an internal topic and waits for the acknowledgement.
    async fn send_internal(
        &self,
        topic: &str,
        key: &[u8],
        value: Option<&[u8]>,
    ) -> std::result::Result<(), rdkafka::error::KafkaError> {
        let mut record: FutureRecord<'_, [u8], [u8]> = FutureRecord::to(topic).key(key);
        if let Some(v) = value {
            record = record.payload(v);
        }
        self.shared
            .store
            .send(record, WRITE_TIMEOUT)
            .await
            .map(|_| ())
            .map_err(|(e, _)| e)
    }

    /// Writes one record to the config topic and applies it to the herder's view.
    async fn write_config(&self, inner: &mut Inner, (key, value): records::Entry) -> Result<()> {
        let topic = self.shared.config.config_topic.clone();
        self.send_internal(&topic, &key, value.as_deref())
            .await
            .map_err(|e| {
                HerderError::Internal(format!("could not write to the config topic: {e}"))
            })?;
        inner.configs.apply(&key, value.as_deref());
        Ok(())
    }

    // ----- reads -----------------------------------------------------------------------------

    pub async fn connectors(&self) -> Vec<String> {
        self.inner
            .lock()
            .await
            .configs
            .connectors
            .keys()
            .cloned()
            .collect()
    }

    pub async fn info(&self, name: &str) -> Result<Json> {
        let inner = self.inner.lock().await;
        self.info_of(&inner, name)
            .ok_or_else(|| HerderError::NotFound(format!("Connector {name} not found")))
    }

    fn info_of(&self, inner: &Inner, name: &str) -> Option<Json> {
        let props = inner.configs.connectors.get(name)?;
        let task_count = inner.configs.tasks.get(name).map_or(0, Vec::len);
        let tasks: Vec<Json> = (0..task_count)
            .map(|t| json!({"connector": name, "task": t}))
            .collect();
        Some(json!({
            "name": name,
            "config": self.hide_passwords(props),
            "tasks": tasks,
            "type": self.connector_type(props),
        }))
    }

    fn connector_type(&self, props: &Props) -> &'static str {
        props
            .get("connector.class")
            .and_then(|c| self.shared.plugins.connector(c))
            .map_or("unknown", |p| Plugins::connector_type(p).name())
    }

    /// PASSWORD-typed values shown as `[hidden]`, everywhere the API returns a config.
    fn hide_passwords(&self, props: &Props) -> Json {
        let def = props
            .get("connector.class")
            .and_then(|c| self.shared.plugins.connector(c))
            .map(validation::definition);
        json!(crate::secrets::shown(props, def.as_ref()))
    }

    pub async fn connector_config(&self, name: &str) -> Result<Json> {
        let inner = self.inner.lock().await;
        let props = inner
            .configs
            .connectors
            .get(name)
            .ok_or_else(|| HerderError::NotFound(format!("Connector {name} not found")))?;
        Ok(self.hide_passwords(props))
    }

    pub async fn status(&self, name: &str) -> Result<Json> {
        let inner = self.inner.lock().await;
        self.status_of(&inner, name)
            .ok_or_else(|| HerderError::NotFound(format!("No status found for connector {name}")))
    }

    fn status_of(&self, inner: &Inner, name: &str) -> Option<Json> {
        let props = inner.configs.connectors.get(name)?;
        let statuses = &self.shared.statuses;
        let connector = statuses
            .connector(name)
            .unwrap_or(Status::new(State::Unassigned));
        let tasks: Vec<Json> = statuses
            .tasks(name)
            .iter()
            .map(|(id, s)| {
                let mut t = statuses.task_json(name, *id, s);
                t["id"] = json!(id);
                reorder_id_first(t)
            })
            .collect();
        Some(json!({
            "name": name,
            "connector": statuses.json(&connector),
            "tasks": tasks,
            "type": self.connector_type(props),
        }))
    }

    pub async fn task_status(&self, name: &str, task: usize) -> Result<Json> {
        let not_found = || HerderError::NotFound(format!("No status found for task {name}-{task}"));
        let inner = self.inner.lock().await;
        if !inner.configs.connectors.contains_key(name) {
            return Err(not_found());
        }
        let status = self
            .shared
            .statuses
            .task(name, task)
            .ok_or_else(not_found)?;
        let mut out = self.shared.statuses.task_json(name, task, &status);
        out["id"] = json!(task);
        Ok(reorder_id_first(out))
    }

    pub async fn tasks(&self, name: &str) -> Result<Json> {
        let inner = self.inner.lock().await;
        if !inner.configs.connectors.contains_key(name) {
            return Err(HerderError::NotFound(format!("Connector {name} not found")));
        }
        let tasks = inner.configs.tasks.get(name).cloned().unwrap_or_default();
        Ok(Json::Array(
            tasks
                .iter()
                .enumerate()
                .map(|(i, props)| {
                    json!({"id": {"connector": name, "task": i}, "config": self.hide_passwords(props)})
                })
                .collect(),
        ))
    }

    pub async fn tasks_config(&self, name: &str) -> Result<Json> {
        let inner = self.inner.lock().await;
        if !inner.configs.connectors.contains_key(name) {
            return Err(HerderError::NotFound(format!("Connector {name} not found")));
        }
        let mut out = serde_json::Map::new();
        for (i, props) in inner
            .configs
            .tasks
            .get(name)
            .into_iter()
            .flatten()
            .enumerate()
        {
            out.insert(format!("{name}-{i}"), self.hide_passwords(props));
        }
        Ok(Json::Object(out))
    }

    /// `GET /connectors?expand=...`: each connector's status and/or info.
    pub async fn expanded(&self, status: bool, info: bool) -> Json {
        let inner = self.inner.lock().await;
        let mut out = serde_json::Map::new();
        for name in inner.configs.connectors.keys() {
            let mut entry = serde_json::Map::new();
            if status {
                if let Some(s) = self.status_of(&inner, name) {
                    entry.insert("status".into(), s);
                }
            }
            if info {
                if let Some(i) = self.info_of(&inner, name) {
                    entry.insert("info".into(), i);
                }
            }
            out.insert(name.clone(), Json::Object(entry));
        }
        Json::Object(out)
    }

    // ----- validation ------------------------------------------------------------------------

    /// `PUT /connector-plugins/{plugin}/config/validate`.
    pub fn validate_for_plugin(&self, plugin_name: &str, props: &Props) -> Result<Json> {
        let class = props.get("connector.class").ok_or_else(|| {
            HerderError::BadRequest(format!(
                "Connector config {} contains no connector type",
                props_text(props)
            ))
        })?;
        let requested = self.shared.plugins.connector(plugin_name);
        let given = self.shared.plugins.connector(class);
        match (requested, given) {
            (Some(r), Some(g)) if r.class == g.class => {
                Ok(validation::validate(g, class, props, &self.shared.config).to_json())
            }
            (Some(_), _) | (None, Some(_)) => Err(HerderError::BadRequest(format!(
                "Included connector type {class} does not match request type {plugin_name}"
            ))),
            (None, None) => Err(self.unknown_class(class)),
        }
    }

    fn unknown_class(&self, class: &str) -> HerderError {
        let classes = self.shared.plugins.connector_classes();
        let simple = class.rsplit('.').next().unwrap_or(class);
        // Aliases are candidates too: the simple name, and that name without `Connector`.
        let aliases: Vec<&str> = classes
            .iter()
            .filter_map(|c| c.rsplit('.').next())
            .flat_map(|s| [s, s.strip_suffix("Connector").unwrap_or(s)])
            .collect();
        let hint = sluice_connect_api::config::did_you_mean(simple, aliases.iter().copied());
        HerderError::BadRequest(format!(
            "Failed to find any class that implements Connector and which name matches {class}, available connectors are: {}.{hint}",
            classes.join(", ")
        ))
    }

    /// Checks a config for create/update: 400 with every error, as Kafka words it.
    fn check_config(&self, props: &Props) -> Result<()> {
        let class = props.get("connector.class").ok_or_else(|| {
            HerderError::BadRequest(format!(
                "Connector config {} contains no connector type",
                props_text(props)
            ))
        })?;
        let plugin = self
            .shared
            .plugins
            .connector(class)
            .ok_or_else(|| self.unknown_class(class))?;
        let result = validation::validate(plugin, class, props, &self.shared.config);
        for warning in result.unknown_keys() {
            tracing::warn!(
                connector = props.get("name").map(String::as_str).unwrap_or_default(),
                "{warning}"
            );
        }
        let errors = result.blocking_errors();
        if errors.is_empty() {
            return Ok(());
        }
        Err(HerderError::BadRequest(format!(
            "Connector configuration is invalid and contains the following {} error(s):\n{}\nYou can also find the above list of errors at the endpoint `/connector-plugins/{{connectorType}}/config/validate`",
            errors.len(),
            errors.join("\n")
        )))
    }

    // ----- writes ----------------------------------------------------------------------------

    /// `POST /connectors`.
    pub async fn create(
        &self,
        name: &str,
        mut props: Props,
        initial: InitialState,
    ) -> Result<Json> {
        props.insert("name".into(), name.to_string());
        self.check_config(&props)?;
        let mut inner = self.inner.lock().await;
        if inner.configs.connectors.contains_key(name) {
            return Err(HerderError::Conflict(format!(
                "Connector {name} already exists"
            )));
        }
        let target = match initial {
            InitialState::Running => None,
            InitialState::Paused => Some(TargetState::Paused),
            InitialState::Stopped => Some(TargetState::Stopped),
        };
        if let Some(target) = target {
            self.write_config(&mut inner, records::target_state(name, target))
                .await?;
        }
        self.write_config(&mut inner, records::connector_config(name, &props))
            .await?;
        self.start_connector(&mut inner, name).await;
        self.info_of(&inner, name)
            .ok_or_else(|| HerderError::Internal(format!("Connector {name} vanished")))
    }

    /// `PUT /connectors/{name}/config`: creates or replaces; true when created.
    pub async fn put_config(&self, name: &str, mut props: Props) -> Result<(bool, Json)> {
        if let Some(given) = props.get("name") {
            if given != name {
                return Err(HerderError::BadRequest(format!(
                    "Connector name configuration ({given}) doesn't match connector name in the URL ({name})"
                )));
            }
        }
        props.insert("name".into(), name.to_string());
        self.check_config(&props)?;
        let mut inner = self.inner.lock().await;
        let created = !inner.configs.connectors.contains_key(name);
        if !created {
            self.stop_connector(&mut inner, name).await;
        }
        self.write_config(&mut inner, records::connector_config(name, &props))
            .await?;
        self.start_connector(&mut inner, name).await;
        let info = self
            .info_of(&inner, name)
            .ok_or_else(|| HerderError::Internal(format!("Connector {name} vanished")))?;
        Ok((created, info))
    }

    /// `PATCH /connectors/{name}/config`: `None` values remove keys.
    pub async fn patch_config(
        &self,
        name: &str,
        patch: BTreeMap<String, Option<String>>,
    ) -> Result<Json> {
        let current = {
            let inner = self.inner.lock().await;
            inner
                .configs
                .connectors
                .get(name)
                .cloned()
                .ok_or_else(|| HerderError::NotFound(format!("Connector {name} not found")))?
        };
        let mut merged = current;
        for (k, v) in patch {
            match v {
                Some(v) => merged.insert(k, v),
                None => merged.remove(&k),
            };
        }
        Ok(self.put_config(name, merged).await?.1)
    }

    /// `DELETE /connectors/{name}`. Offsets and the sink's group are kept, as in Kafka.
    pub async fn delete(&self, name: &str) -> Result<()> {
        let mut inner = self.inner.lock().await;
        if !inner.configs.connectors.contains_key(name) {
            return Err(HerderError::NotFound(format!("Connector {name} not found")));
        }
        self.stop_connector(&mut inner, name).await;
        self.write_config(&mut inner, records::connector_deleted(name))
            .await?;
        self.write_config(
            &mut inner,
            (format!("target-state-{name}").into_bytes(), None),
        )
        .await?;
        self.shared.statuses.remove_connector(name);
        Ok(())
    }

    fn require(&self, inner: &Inner, name: &str, message: String) -> Result<()> {
        if inner.configs.connectors.contains_key(name) {
            Ok(())
        } else {
            Err(HerderError::NotFound(message))
        }
    }

    /// `PUT /connectors/{name}/pause`.
    pub async fn pause(&self, name: &str) -> Result<()> {
        let mut inner = self.inner.lock().await;
        self.require(&inner, name, format!("Unknown connector {name}"))?;
        self.write_config(&mut inner, records::target_state(name, TargetState::Paused))
            .await?;
        self.apply_target_state(&mut inner, name).await;
        Ok(())
    }

    /// `PUT /connectors/{name}/resume`; also resumes a STOPPED connector.
    pub async fn resume(&self, name: &str) -> Result<()> {
        let mut inner = self.inner.lock().await;
        self.require(&inner, name, format!("Unknown connector {name}"))?;
        self.write_config(
            &mut inner,
            records::target_state(name, TargetState::Started),
        )
        .await?;
        self.apply_target_state(&mut inner, name).await;
        Ok(())
    }

    /// `PUT /connectors/{name}/stop`: tasks shut down and an empty task list is written.
    pub async fn stop(&self, name: &str) -> Result<()> {
        let mut inner = self.inner.lock().await;
        self.require(&inner, name, format!("Connector {name} not found"))?;
        self.write_config(
            &mut inner,
            records::target_state(name, TargetState::Stopped),
        )
        .await?;
        self.apply_target_state(&mut inner, name).await;
        Ok(())
    }

    /// `POST /connectors/{name}/restart`. Returns the status to answer with when tasks or
    /// only-failed were asked for (202), `None` for a plain connector restart (204).
    pub async fn restart(
        &self,
        name: &str,
        include_tasks: bool,
        only_failed: bool,
    ) -> Result<Option<Json>> {
        let mut inner = self.inner.lock().await;
        self.require(&inner, name, format!("Unknown connector: {name}"))?;
        let statuses = &self.shared.statuses;
        let failed = |s: Option<Status>| s.is_some_and(|s| s.state == State::Failed);
        let restart_connector = !only_failed || failed(statuses.connector(name));
        let tasks: Vec<usize> = if include_tasks {
            statuses
                .tasks(name)
                .into_iter()
                .filter(|(_, s)| !only_failed || s.state == State::Failed)
                .map(|(id, _)| id)
                .collect()
        } else {
            Vec::new()
        };
        if !include_tasks && !only_failed {
            self.restart_connector(&mut inner, name).await;
            return Ok(None);
        }
        // The answer shows what is about to restart, as Kafka's does.
        let mut plan = self.status_of(&inner, name).unwrap_or(Json::Null);
        if restart_connector {
            plan["connector"]["state"] = json!(State::Restarting.name());
            if let Some(c) = plan["connector"].as_object_mut() {
                c.remove("trace");
            }
        }
        for task in plan["tasks"].as_array_mut().into_iter().flatten() {
            let id = task["id"].as_u64().unwrap_or(u64::MAX) as usize;
            if tasks.contains(&id) {
                task["state"] = json!(State::Restarting.name());
                if let Some(t) = task.as_object_mut() {
                    t.remove("trace");
                }
            }
        }
        if restart_connector {
            self.restart_connector(&mut inner, name).await;
        }
        for id in tasks {
            self.restart_task_locked(&mut inner, name, id).await;
        }
        Ok(Some(plan))
    }

    /// `POST /connectors/{name}/tasks/{task}/restart`.
    pub async fn restart_task(&self, name: &str, task: usize) -> Result<()> {
        let mut inner = self.inner.lock().await;
        let exists = inner
            .configs
            .tasks
            .get(name)
            .is_some_and(|t| task < t.len());
        if !exists {
            return Err(HerderError::NotFound(format!(
                "Unknown task: {name}-{task}"
            )));
        }
        self.restart_task_locked(&mut inner, name, task).await;
        Ok(())
    }

    // ----- topic tracking --------------------------------------------------------------------

    /// `GET /connectors/{name}/topics`.
    pub async fn active_topics(&self, name: &str) -> Result<Json> {
        if !self.shared.config.topic_tracking_enable {
            return Err(HerderError::Forbidden("Topic tracking is disabled.".into()));
        }
        let inner = self.inner.lock().await;
        self.require(&inner, name, format!("Connector {name} not found"))?;
        let topics = self.shared.topics.lock().unwrap_or_else(|p| p.into_inner());
        let list: Vec<&String> = topics.get(name).into_iter().flatten().collect();
        Ok(json!({ name: { "topics": list } }))
    }

    /// `PUT /connectors/{name}/topics/reset`.
    pub async fn reset_topics(&self, name: &str) -> Result<()> {
        if !self.shared.config.topic_tracking_enable {
            return Err(HerderError::Forbidden("Topic tracking is disabled.".into()));
        }
        if !self.shared.config.topic_tracking_allow_reset {
            return Err(HerderError::Forbidden(
                "Topic tracking reset is disabled.".into(),
            ));
        }
        let inner = self.inner.lock().await;
        self.require(&inner, name, format!("Connector {name} not found"))?;
        let removed = self
            .shared
            .topics
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(name)
            .unwrap_or_default();
        for topic in removed {
            let key = format!("status-topic-{topic}:connector-{name}");
            let record: FutureRecord<'_, str, [u8]> =
                FutureRecord::to(&self.shared.config.status_topic).key(&key);
            if let Err((e, _)) = self.shared.store.send_result(record) {
                tracing::warn!(error = %e, "could not record a topic reset");
            }
        }
        Ok(())
    }
}

/// `{"id": .., "state": .., "worker_id": .., "trace": ..}` in Kafka's field order.
fn reorder_id_first(status: Json) -> Json {
    let Json::Object(map) = status else {
        return status;
    };
    let mut out = serde_json::Map::new();
    for key in ["id", "state", "worker_id", "trace", "errors", "restarts"] {
        if let Some(v) = map.get(key) {
            out.insert(key.into(), v.clone());
        }
    }
    Json::Object(out)
}

/// A config map as Java's `Map.toString` prints it, for error messages.
fn props_text(props: &Props) -> String {
    let entries: Vec<String> = props.iter().map(|(k, v)| format!("{k}={v}")).collect();
    format!("{{{}}}", entries.join(", "))
}

/// Reads the config topic, the offsets topic and the topic-tracking records of the status topic,
/// the three at once, each reader connecting first and reading once `created` says the topics
/// exist (a client's start costs a round of client timers, paid while the topics are made).
#[allow(clippy::type_complexity)]
fn load(
    client: &rdkafka::ClientConfig,
    config: &WorkerConfig,
    created: std::sync::mpsc::Receiver<bool>,
) -> std::result::Result<(ConfigState, OffsetStore, BTreeMap<String, BTreeSet<String>>), WorkerError>
{
    let created = std::sync::Mutex::new(created);
    // Connects a reader, then waits for the topics.
    let reader = || -> std::result::Result<reader::Reader, WorkerError> {
        let reader = reader::Reader::connect(client, LOAD_TIMEOUT)?;
        let made = created
            .lock()
            .map_err(|_| WorkerError::Timeout("waiting for the internal topics".into()))?
            .recv_timeout(LOAD_TIMEOUT);
        match made {
            Ok(true) => Ok(reader),
            _ => Err(WorkerError::Timeout(
                "the internal topics were not created".into(),
            )),
        }
    };
    std::thread::scope(|scope| {
        let configs = scope.spawn(|| {
            let mut configs = ConfigState::default();
            reader()?
                .read(&config.config_topic, |k, v| configs.apply(k, v))
                .map(|()| configs)
        });
        let offsets = scope.spawn(|| OffsetStore::load_with(reader()?, &config.offsets_topic));
        let topics = scope.spawn(|| {
            let mut topics: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
            reader()?.read(&config.status_topic, |k, v| {
                let Some(rest) = std::str::from_utf8(k)
                    .ok()
                    .and_then(|k| k.strip_prefix("status-topic-"))
                else {
                    return;
                };
                let Some((topic, connector)) = rest.split_once(":connector-") else {
                    return;
                };
                let set = topics.entry(connector.to_string()).or_default();
                if v.is_some() {
                    set.insert(topic.to_string());
                } else {
                    set.remove(topic);
                }
            })?;
            topics.retain(|_, set| !set.is_empty());
            Ok::<_, WorkerError>(topics)
        });
        let joined = |what: &str| WorkerError::Timeout(format!("reading {what} panicked"));
        Ok((
            configs.join().map_err(|_| joined("the config topic"))??,
            offsets.join().map_err(|_| joined("the offsets topic"))??,
            topics.join().map_err(|_| joined("the status topic"))??,
        ))
    })
}

async fn event_loop(herder: Weak<Herder>, mut events: mpsc::UnboundedReceiver<Event>) {
    while let Some(event) = events.recv().await {
        let Some(herder) = herder.upgrade() else {
            return;
        };
        match event {
            Event::Reconfigure(name) => herder.reconfigure(&name).await,
            Event::RestartFailedTask(name, id) => {
                let mut inner = herder.inner.lock().await;
                // Only if it is still the failed task: not restarted, stopped or deleted since.
                let failed =
                    herder.shared.statuses.task(&name, id).map(|s| s.state) == Some(State::Failed);
                if failed && inner.running.contains_key(&name) {
                    tracing::info!(connector = %name, task = id, "restarting a failed task (errors.task.restart.max)");
                    herder.restart_task_locked(&mut inner, &name, id).await;
                }
            }
            Event::Failed(name, error) => {
                let statuses = &herder.shared.statuses;
                let trace = statuses.redact(&name, &crate::worker::trace(&error));
                tracing::error!(connector = %name, error = %trace, "connector failed");
                statuses.set_connector(&name, Status::failed(trace));
            }
        }
    }
}
