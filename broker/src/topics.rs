//! The topics this broker holds: creation, deletion, partitions and configs, persisted under
//! `<log.dirs>/.topics/<name>.json` beside the partition directories `<name>-<partition>`.

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use kafka_protocol::error::ResponseError;
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;
use uuid::Uuid;

use crate::config::{self, BrokerConfig, TopicSettings};
use crate::log::PartitionLog;
use crate::partition::{FlushQueue, Partition};

/// Why a topic operation failed; each maps to the Kafka error code clients understand.
#[derive(Debug, thiserror::Error)]
pub enum TopicError {
    #[error("Topic '{0}' already exists.")]
    AlreadyExists(String),
    #[error("This server does not host this topic: {0}")]
    Unknown(String),
    #[error("{0}")]
    InvalidName(String),
    #[error("{0}")]
    InvalidPartitions(String),
    #[error("Replication factor: {0} larger than available brokers: 1.")]
    InvalidReplicationFactor(i16),
    #[error("{0}")]
    InvalidConfig(#[from] config::ConfigError),
    #[error("Topic deletion is disabled.")]
    DeletionDisabled,
    #[error("{0}")]
    PolicyViolation(String),
    #[error("storage error: {0}")]
    Io(#[from] io::Error),
}

impl TopicError {
    pub fn code(&self) -> i16 {
        match self {
            Self::AlreadyExists(_) => ResponseError::TopicAlreadyExists,
            Self::Unknown(_) => ResponseError::UnknownTopicOrPartition,
            Self::InvalidName(_) => ResponseError::InvalidTopicException,
            Self::InvalidPartitions(_) => ResponseError::InvalidPartitions,
            Self::InvalidReplicationFactor(_) => ResponseError::InvalidReplicationFactor,
            Self::InvalidConfig(_) => ResponseError::InvalidConfig,
            Self::DeletionDisabled => ResponseError::TopicDeletionDisabled,
            Self::PolicyViolation(_) => ResponseError::PolicyViolation,
            Self::Io(_) => ResponseError::KafkaStorageError,
        }
        .code()
    }
}

/// The persisted description of a topic.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct TopicRecord {
    name: String,
    id: Uuid,
    partitions: i32,
    configs: BTreeMap<String, String>,
}

#[derive(Debug)]
pub struct Topic {
    pub name: String,
    pub id: Uuid,
    partitions: RwLock<Vec<Arc<Partition>>>,
    overrides: RwLock<BTreeMap<String, String>>,
    settings: RwLock<Arc<TopicSettings>>,
}

impl Topic {
    pub fn partition(&self, index: i32) -> Option<Arc<Partition>> {
        let partitions = self.partitions.read().unwrap_or_else(|p| p.into_inner());
        usize::try_from(index)
            .ok()
            .and_then(|i| partitions.get(i).cloned())
    }

    pub fn partitions(&self) -> Vec<Arc<Partition>> {
        self.partitions
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    pub fn partition_count(&self) -> i32 {
        self.partitions
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .len() as i32
    }

    pub fn settings(&self) -> Arc<TopicSettings> {
        Arc::clone(&self.settings.read().unwrap_or_else(|p| p.into_inner()))
    }

    pub fn overrides(&self) -> BTreeMap<String, String> {
        self.overrides
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    pub fn is_internal(&self) -> bool {
        self.name == "__consumer_offsets" || self.name == "__transaction_state"
    }

    fn record(&self) -> TopicRecord {
        TopicRecord {
            name: self.name.clone(),
            id: self.id,
            partitions: self.partition_count(),
            configs: self.overrides(),
        }
    }
}

#[derive(Debug)]
pub struct Topics {
    config: Arc<BrokerConfig>,
    meta_dir: PathBuf,
    topics: RwLock<HashMap<String, Arc<Topic>>>,
    /// Serialises create, delete and alter, so the metadata files follow one order.
    admin: Mutex<()>,
    pub flush_queue: FlushQueue,
    /// Woken on every append, for fetches waiting on `min_bytes`.
    pub appended: Notify,
}

impl Topics {
    /// Loads every topic in the log directory, recovering each partition's log.
    pub fn open(
        config: Arc<BrokerConfig>,
        clean_shutdown: bool,
        flush_queue: FlushQueue,
    ) -> Result<Self, TopicError> {
        let meta_dir = config.log_dir.join(".topics");
        fs::create_dir_all(&meta_dir)?;
        remove_deleted_dirs(&config.log_dir)?;
        let mut topics = HashMap::new();
        for entry in fs::read_dir(&meta_dir)? {
            let path = entry?.path();
            if path.extension().and_then(|e| e.to_str()) != Some("json") {
                continue;
            }
            let record: TopicRecord = serde_json::from_slice(&fs::read(&path)?).map_err(|e| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("{}: {e}", path.display()),
                )
            })?;
            let existing = if clean_shutdown {
                Existing::Clean
            } else {
                Existing::Unclean
            };
            let topic = open_topic(&config, &record, existing)?;
            topics.insert(record.name.clone(), Arc::new(topic));
        }
        Ok(Self {
            config,
            meta_dir,
            topics: RwLock::new(topics),
            admin: Mutex::new(()),
            flush_queue,
            appended: Notify::new(),
        })
    }

    pub fn config(&self) -> &BrokerConfig {
        &self.config
    }

    pub fn get(&self, name: &str) -> Option<Arc<Topic>> {
        self.topics
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(name)
            .cloned()
    }

    pub fn get_by_id(&self, id: Uuid) -> Option<Arc<Topic>> {
        let topics = self.topics.read().unwrap_or_else(|p| p.into_inner());
        topics.values().find(|t| t.id == id).cloned()
    }

    /// All topics, sorted by name.
    pub fn list(&self) -> Vec<Arc<Topic>> {
        let mut all: Vec<_> = self
            .topics
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .cloned()
            .collect();
        all.sort_by(|a, b| a.name.cmp(&b.name));
        all
    }

    /// Creates a topic. `partitions` and `replication` of -1 take the broker defaults.
    pub fn create(
        &self,
        name: &str,
        partitions: i32,
        replication: i16,
        configs: &BTreeMap<String, Option<String>>,
        validate_only: bool,
    ) -> Result<Arc<Topic>, TopicError> {
        let _admin = self.admin.lock().unwrap_or_else(|p| p.into_inner());
        validate_topic_name(name)?;
        if self.get(name).is_some() {
            return Err(TopicError::AlreadyExists(name.to_string()));
        }
        if let Some(other) = self
            .list()
            .iter()
            .find(|t| t.name.replace('.', "_") == name.replace('.', "_"))
        {
            return Err(TopicError::InvalidName(format!(
                "Topic '{name}' collides with existing topic: {}",
                other.name
            )));
        }
        let partitions = if partitions == -1 {
            self.config.num_partitions
        } else {
            partitions
        };
        if partitions < 1 {
            return Err(TopicError::InvalidPartitions(
                "Number of partitions was set to an invalid non-positive value.".into(),
            ));
        }
        let replication = if replication == -1 {
            self.config.default_replication_factor
        } else {
            replication
        };
        if replication > 1 {
            return Err(TopicError::InvalidReplicationFactor(replication));
        }
        if replication < 1 {
            return Err(TopicError::InvalidReplicationFactor(replication));
        }
        self.check_room(partitions as usize)?;
        let mut overrides = BTreeMap::new();
        for (key, value) in configs {
            let Some(value) = value else { continue };
            overrides.insert(key.clone(), config::validate_topic_config(key, value)?);
        }
        let record = TopicRecord {
            name: name.to_string(),
            id: Uuid::new_v4(),
            partitions,
            configs: overrides,
        };
        let topic = Arc::new(if validate_only {
            topic_without_logs(&self.config, &record)
        } else {
            let topic = open_topic(&self.config, &record, Existing::New)?;
            self.persist(&record)?;
            topic
        });
        if !validate_only {
            self.topics
                .write()
                .unwrap_or_else(|p| p.into_inner())
                .insert(name.to_string(), Arc::clone(&topic));
            tracing::info!(topic = name, partitions, "created topic");
        }
        Ok(topic)
    }

    /// Every partition this broker holds.
    pub fn partition_total(&self) -> usize {
        self.list()
            .iter()
            .map(|t| t.partition_count() as usize)
            .sum()
    }

    /// Refuses partitions beyond `max.broker.partitions`: each costs open files, and past the
    /// process's limit every new client connection would fail instead.
    fn check_room(&self, more: usize) -> Result<(), TopicError> {
        let held = self.partition_total();
        let max = self.config.max_broker_partitions;
        if held + more > max {
            return Err(TopicError::PolicyViolation(format!(
                "Creating {more} partitions would take this broker to {} partitions, over its limit of {max} (max.broker.partitions).",
                held + more
            )));
        }
        Ok(())
    }

    /// Deletes a topic and its data.
    pub fn delete(&self, name: &str) -> Result<Arc<Topic>, TopicError> {
        let _admin = self.admin.lock().unwrap_or_else(|p| p.into_inner());
        if !self.config.delete_topic_enable {
            return Err(TopicError::DeletionDisabled);
        }
        let topic = self
            .topics
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(name)
            .ok_or_else(|| TopicError::Unknown(name.to_string()))?;
        // Forget the topic first, so a crash part-way leaves only directories to sweep.
        fs::remove_file(self.meta_path(name))?;
        sync_dir(&self.meta_dir)?;
        for partition in topic.partitions() {
            let dir = partition.log().dir().to_path_buf();
            let doomed = dir.with_file_name(format!(
                "{}.{}-delete",
                dir.file_name()
                    .and_then(|n| n.to_str())
                    .unwrap_or("partition"),
                topic.id.simple()
            ));
            fs::rename(&dir, &doomed)?;
            fs::remove_dir_all(&doomed)?;
        }
        tracing::info!(topic = name, "deleted topic");
        Ok(topic)
    }

    /// Raises a topic's partition count to `count`.
    pub fn create_partitions(
        &self,
        name: &str,
        count: i32,
        validate_only: bool,
    ) -> Result<(), TopicError> {
        let _admin = self.admin.lock().unwrap_or_else(|p| p.into_inner());
        let topic = self
            .get(name)
            .ok_or_else(|| TopicError::Unknown(name.to_string()))?;
        let current = topic.partition_count();
        if count < current {
            return Err(TopicError::InvalidPartitions(format!(
                "Topic currently has {current} partitions, which is higher than the requested {count}."
            )));
        }
        if count == current {
            return Err(TopicError::InvalidPartitions(format!(
                "Topic already has {current} partitions."
            )));
        }
        self.check_room((count - current) as usize)?;
        if validate_only {
            return Ok(());
        }
        let mut added = Vec::new();
        for index in current..count {
            added.push(open_partition(&self.config, name, index, Existing::New)?);
        }
        topic
            .partitions
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .extend(added);
        self.persist(&topic.record())?;
        Ok(())
    }

    /// Replaces a topic's config overrides with `overrides`, after checking every key and value.
    pub fn set_configs(
        &self,
        name: &str,
        overrides: BTreeMap<String, String>,
        validate_only: bool,
    ) -> Result<(), TopicError> {
        let _admin = self.admin.lock().unwrap_or_else(|p| p.into_inner());
        let topic = self
            .get(name)
            .ok_or_else(|| TopicError::Unknown(name.to_string()))?;
        let mut checked = BTreeMap::new();
        for (key, value) in overrides {
            let value = config::validate_topic_config(&key, &value)?;
            checked.insert(key, value);
        }
        if validate_only {
            return Ok(());
        }
        let settings = Arc::new(self.config.topic_settings(&checked));
        *topic.overrides.write().unwrap_or_else(|p| p.into_inner()) = checked;
        *topic.settings.write().unwrap_or_else(|p| p.into_inner()) = settings;
        self.persist(&topic.record())?;
        Ok(())
    }

    /// Flushes and closes every log, for a clean shutdown.
    pub fn close(&self) -> io::Result<()> {
        for topic in self.list() {
            for partition in topic.partitions() {
                partition.log().close()?;
            }
        }
        Ok(())
    }

    fn meta_path(&self, name: &str) -> PathBuf {
        self.meta_dir.join(format!("{name}.json"))
    }

    fn persist(&self, record: &TopicRecord) -> io::Result<()> {
        let path = self.meta_path(&record.name);
        let tmp = path.with_extension("json.tmp");
        let body = serde_json::to_vec_pretty(record).map_err(io::Error::other)?;
        let mut file = fs::File::create(&tmp)?;
        file.write_all(&body)?;
        file.sync_all()?;
        fs::rename(&tmp, &path)?;
        sync_dir(&self.meta_dir)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Existing {
    New,
    Clean,
    Unclean,
}

fn open_topic(
    config: &BrokerConfig,
    record: &TopicRecord,
    existing: Existing,
) -> io::Result<Topic> {
    let topic = topic_without_logs(config, record);
    // Partitions are opened a few at a time: each new one costs directory fsyncs, and a topic
    // of 25 or 50 partitions created one by one keeps clients waiting a tenth of a second.
    let indexes: Vec<i32> = (0..record.partitions).collect();
    let chunk = indexes.len().div_ceil(OPENING_THREADS).max(1);
    let opened: Vec<io::Result<Vec<Arc<Partition>>>> = std::thread::scope(|scope| {
        let handles: Vec<_> = indexes
            .chunks(chunk)
            .map(|some| {
                scope.spawn(move || {
                    some.iter()
                        .map(|index| open_partition(config, &record.name, *index, existing))
                        .collect::<io::Result<Vec<_>>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(io::Error::other("opening a partition panicked")))
            })
            .collect()
    });
    let mut partitions = Vec::with_capacity(indexes.len());
    for some in opened {
        partitions.extend(some?);
    }
    *topic.partitions.write().unwrap_or_else(|p| p.into_inner()) = partitions;
    Ok(topic)
}

/// How many threads open a topic's partitions.
const OPENING_THREADS: usize = 8;

fn topic_without_logs(config: &BrokerConfig, record: &TopicRecord) -> Topic {
    Topic {
        name: record.name.clone(),
        id: record.id,
        partitions: RwLock::new(Vec::new()),
        settings: RwLock::new(Arc::new(config.topic_settings(&record.configs))),
        overrides: RwLock::new(record.configs.clone()),
    }
}

/// Opens a partition's log. A new partition (`existing == false`) starts empty even if a crash
/// left a directory of that name behind.
fn open_partition(
    config: &BrokerConfig,
    topic: &str,
    index: i32,
    existing: Existing,
) -> io::Result<Arc<Partition>> {
    let dir = config.log_dir.join(format!("{topic}-{index}"));
    let clean_shutdown = match existing {
        Existing::New => {
            if dir.exists() {
                fs::remove_dir_all(&dir)?;
            }
            true
        }
        Existing::Clean => true,
        Existing::Unclean => false,
    };
    let policy = config.topic_settings(&BTreeMap::new()).policy;
    let (log, report) = PartitionLog::open(&dir, clean_shutdown, &policy)?;
    if report.truncated_bytes > 0 {
        tracing::warn!(
            topic,
            partition = index,
            truncated_bytes = report.truncated_bytes,
            "recovered log"
        );
    }
    Ok(Arc::new(Partition::new(topic, index, log)))
}

/// Kafka's rules for topic names.
pub fn validate_topic_name(name: &str) -> Result<(), TopicError> {
    let invalid = |m: String| Err(TopicError::InvalidName(m));
    if name.is_empty() {
        return invalid("Topic name is illegal, it can't be empty".into());
    }
    if name == "." || name == ".." {
        return invalid("Topic name cannot be \".\" or \"..\"".into());
    }
    if name.len() > 249 {
        return invalid(format!(
            "Topic name is illegal, it can't be longer than 249 characters, topic name: {name}"
        ));
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-')
    {
        return invalid(format!(
            "Topic name \"{name}\" is illegal, it contains a character other than ASCII alphanumerics, '.', '_' and '-'"
        ));
    }
    Ok(())
}

/// Sweeps partition directories whose deletion a crash interrupted.
fn remove_deleted_dirs(log_dir: &Path) -> io::Result<()> {
    for entry in fs::read_dir(log_dir)? {
        let path = entry?.path();
        if path.is_dir() && path.to_str().is_some_and(|p| p.ends_with("-delete")) {
            fs::remove_dir_all(&path)?;
        }
    }
    Ok(())
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    fs::File::open(dir)?.sync_all()
}
