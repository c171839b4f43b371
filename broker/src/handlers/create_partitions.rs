//! CreatePartitions: grow a topic's partition count.

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::create_partitions_response::CreatePartitionsTopicResult;
use kafka_protocol::messages::{CreatePartitionsRequest, CreatePartitionsResponse};

use super::str_bytes;
use crate::server::Broker;

pub fn handle(
    broker: &Broker,
    req: CreatePartitionsRequest,
    _version: i16,
) -> CreatePartitionsResponse {
    let node = broker.config.node_id;
    let mut response = CreatePartitionsResponse::default();
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
