//! librdkafka reports some conditions as client errors, which rdkafka would log at ERROR level,
//! although the worker expects them and waits them out. This context logs those for what
//! they are and leaves every other error at ERROR.

use rdkafka::consumer::ConsumerContext;
use rdkafka::error::KafkaError;
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::ClientContext;

/// The context of the worker's consumers.
pub struct ExpectedErrors;

/// What an error reported by librdkafka means to the worker.
#[derive(Debug, PartialEq, Eq)]
enum Meaning {
    /// The end of a partition: what the internal-topic reader waits for.
    PartitionEnd,
    /// A subscribed topic does not exist yet: a sink waits for it to be created, as a Java
    /// sink does, and picks it up at the next metadata refresh.
    TopicNotYetCreated,
    Failure,
}

fn meaning(error: &KafkaError) -> Meaning {
    match error {
        KafkaError::PartitionEOF(_) | KafkaError::Global(RDKafkaErrorCode::PartitionEOF) => {
            Meaning::PartitionEnd
        }
        KafkaError::Global(
            RDKafkaErrorCode::UnknownTopicOrPartition | RDKafkaErrorCode::UnknownTopic,
        ) => Meaning::TopicNotYetCreated,
        _ => Meaning::Failure,
    }
}

/// Logs a client error librdkafka reported, at the level its meaning to the worker calls for.
pub fn report(error: KafkaError, reason: &str) {
    match meaning(&error) {
        Meaning::PartitionEnd => {}
        Meaning::TopicNotYetCreated => {
            tracing::info!("waiting for a topic to be created: {reason}")
        }
        Meaning::Failure => tracing::error!(error = %error, "{reason}"),
    }
}

impl ClientContext for ExpectedErrors {
    fn error(&self, error: KafkaError, reason: &str) {
        report(error, reason);
    }
}

impl ConsumerContext for ExpectedErrors {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_waited_for_conditions_are_kept_from_error_level() {
        assert_eq!(meaning(&KafkaError::PartitionEOF(0)), Meaning::PartitionEnd);
        assert_eq!(
            meaning(&KafkaError::Global(
                RDKafkaErrorCode::UnknownTopicOrPartition
            )),
            Meaning::TopicNotYetCreated
        );
        assert_eq!(
            meaning(&KafkaError::Global(
                RDKafkaErrorCode::BrokerTransportFailure
            )),
            Meaning::Failure
        );
        assert_eq!(
            meaning(&KafkaError::Global(
                RDKafkaErrorCode::TopicAuthorizationFailed
            )),
            Meaning::Failure
        );
    }
}
