//! Running tasks: the source pipeline (poll → transforms → convert → produce → commit offsets
//! in order) and the sink pipeline (consume → convert → transforms → put → commit what the task
//! says is safe).

mod deliveries;
pub mod errors;
pub mod offsets;
mod partitioning;
mod producer_id;
mod sending;
pub use sending::source_producer_config;
pub mod sink;
mod sink_assignment;
mod sink_progress;
pub mod source;
pub mod task_thread;
pub mod topic_creation;
pub mod topic_writer;

use std::sync::Arc;
use std::time::Duration;

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::error::KafkaError;
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::ClientConfig;
use sluice_connect_api::{ConnectError, Converter, HeaderConverter};

pub use offsets::OffsetStore;
pub use sink::{SinkRunner, SinkSettings};
pub use source::{SourceRunner, SourceSettings, StatusObserver};
pub use topic_creation::TopicCreation;

/// Where in a pipeline a record failed; the names are Kafka Connect's, as its DLQ headers and
/// logs use them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    TaskPoll,
    Transformation,
    KeyConverter,
    ValueConverter,
    HeaderConverter,
    KafkaProduce,
    KafkaConsume,
    TaskPut,
}

impl Stage {
    pub fn name(self) -> &'static str {
        match self {
            Stage::TaskPoll => "TASK_POLL",
            Stage::Transformation => "TRANSFORMATION",
            Stage::KeyConverter => "KEY_CONVERTER",
            Stage::ValueConverter => "VALUE_CONVERTER",
            Stage::HeaderConverter => "HEADER_CONVERTER",
            Stage::KafkaProduce => "KAFKA_PRODUCE",
            Stage::KafkaConsume => "KAFKA_CONSUME",
            Stage::TaskPut => "TASK_PUT",
        }
    }
}

impl std::fmt::Display for Stage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    #[error("kafka: {0}")]
    Kafka(#[from] KafkaError),
    #[error(transparent)]
    Connect(#[from] ConnectError),
    #[error("timed out {0}")]
    Timeout(String),
    #[error(transparent)]
    TaskThread(#[from] task_thread::TaskThreadError),
    /// A record failed in a stage of the pipeline; `record` says which record.
    #[error("stage {stage} failed on record {record}")]
    Record {
        stage: Stage,
        record: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl WorkerError {
    pub fn record(
        stage: Stage,
        record: String,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        WorkerError::Record {
            stage,
            record,
            source: Box::new(source),
        }
    }
}

/// The whole error chain as readable text: what failed, then each cause on its own line. This is
/// the `trace` of a FAILED connector or task.
pub fn trace(error: &(dyn std::error::Error + 'static)) -> String {
    let mut out = error.to_string();
    let mut cause = error.source();
    while let Some(e) = cause {
        out.push_str("\nCaused by: ");
        out.push_str(&e.to_string());
        cause = e.source();
    }
    out
}

/// The converters of one task.
pub struct Converters {
    pub key: Box<dyn Converter>,
    pub value: Box<dyn Converter>,
    pub header: Box<dyn HeaderConverter>,
    pub classes: ConverterClasses,
}

/// The class names of a task's converters, for error reports.
#[derive(Debug, Clone, Default)]
pub struct ConverterClasses {
    pub key: String,
    pub value: String,
    pub header: String,
}

impl ConverterClasses {
    /// The class that runs in a converter stage.
    pub fn of(&self, stage: Stage) -> &str {
        match stage {
            Stage::KeyConverter => &self.key,
            Stage::HeaderConverter => &self.header,
            _ => &self.value,
        }
    }
}

/// Told of each topic a task reads or writes, for `GET /connectors/{name}/topics`.
pub type TopicObserver = Arc<dyn Fn(&str) + Send + Sync>;

/// Creates a compacted internal topic if it does not exist yet.
pub async fn ensure_compacted_topic(
    client: &ClientConfig,
    name: &str,
    partitions: i32,
) -> Result<(), WorkerError> {
    ensure_compacted_topics(client, &[(name, partitions)]).await
}

/// [`ensure_compacted_topic`] for several topics in one request.
pub async fn ensure_compacted_topics(
    client: &ClientConfig,
    topics: &[(&str, i32)],
) -> Result<(), WorkerError> {
    let topics: Vec<NewTopic<'_>> = topics
        .iter()
        .map(|(name, partitions)| {
            NewTopic::new(name, *partitions, TopicReplication::Fixed(-1))
                .set("cleanup.policy", "compact")
        })
        .collect();
    create_topics(client, &topics).await
}

/// Creates a topic; one that already exists is fine.
pub async fn create_topic(client: &ClientConfig, topic: NewTopic<'_>) -> Result<(), WorkerError> {
    create_topics(client, std::slice::from_ref(&topic)).await
}

/// Creates topics in one request; those that already exist are fine.
async fn create_topics(client: &ClientConfig, topics: &[NewTopic<'_>]) -> Result<(), WorkerError> {
    let admin: AdminClient<DefaultClientContext> = client.create()?;
    let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)));
    for result in admin.create_topics(topics, &options).await? {
        match result {
            Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((_, code)) => return Err(KafkaError::AdminOp(code).into()),
        }
    }
    Ok(())
}
