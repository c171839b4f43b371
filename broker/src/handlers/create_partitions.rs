//! CreatePartitions: grow a topic's partition count.

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::create_partitions_response::CreatePartitionsTopicResult;
use kafka_protocol::messages::{CreatePartitionsRequest, CreatePartitionsResponse};

use super::create_topics::{MAX_PARTITIONS_PER_REQUEST, TOO_MANY_PARTITIONS};
use super::str_bytes;
use crate::server::Broker;

pub fn handle(
    broker: &Broker,
    req: CreatePartitionsRequest,
    _version: i16,
) -> CreatePartitionsResponse {
    let node = broker.config.node_id;
    let mut response = CreatePartitionsResponse::default();
    let added: i64 = req
        .topics
        .iter()
        .map(|t| {
            let current = broker
                .topics
                .get(t.name.0.as_str())
                .map_or(0, |topic| topic.partition_count());
            i64::from((t.count - current).max(0))
        })
        .sum();
    if added > MAX_PARTITIONS_PER_REQUEST {
        for wanted in req.topics {
            let mut result = CreatePartitionsTopicResult::default();
            result.name = wanted.name;
            result.error_code = ResponseError::PolicyViolation.code();
            result.error_message = Some(str_bytes(TOO_MANY_PARTITIONS));
            response.results.push(result);
        }
        return response;
    }
    for wanted in req.topics {
        let mut result = CreatePartitionsTopicResult::default();
        result.name = wanted.name.clone();
        let foreign = wanted
            .assignments
            .iter()
            .flatten()
            .any(|a| a.broker_ids.iter().any(|b| b.0 != node));
        let outcome = if foreign {
            Err((
                ResponseError::InvalidReplicaAssignment.code(),
                format!("The only broker is {node}."),
            ))
        } else {
            broker
                .topics
                .create_partitions(wanted.name.0.as_str(), wanted.count, req.validate_only)
                .map_err(|e| (e.code(), e.to_string()))
        };
        if let Err((code, message)) = outcome {
            result.error_code = code;
            result.error_message = Some(str_bytes(message));
        }
        response.results.push(result);
    }
    response
}
