//! Running tasks: the source pipeline (poll → convert → produce → commit offsets in order) and
//! the sink pipeline (consume → convert → put → commit what the task says is safe).

pub mod offsets;
pub mod sink;
pub mod source;

use std::time::Duration;

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::error::KafkaError;
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::ClientConfig;
use sluice_connect_api::ConnectError;

pub use offsets::OffsetStore;
pub use sink::{SinkRunner, SinkSettings};
pub use source::{SourceRunner, SourceSettings};

#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    #[error("kafka: {0}")]
    Kafka(#[from] KafkaError),
    #[error(transparent)]
    Connect(#[from] ConnectError),
    #[error("timed out {0}")]
    Timeout(String),
}

/// Creates a compacted internal topic if it does not exist yet.
pub async fn ensure_compacted_topic(
    client: &ClientConfig,
    name: &str,
    partitions: i32,
) -> Result<(), WorkerError> {
    let admin: AdminClient<DefaultClientContext> = client.create()?;
    let topic = NewTopic::new(name, partitions, TopicReplication::Fixed(-1))
        .set("cleanup.policy", "compact");
    let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)));
    for result in admin.create_topics([&topic], &options).await? {
        match result {
            Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((_, code)) => return Err(KafkaError::AdminOp(code).into()),
        }
    }
    Ok(())
}
