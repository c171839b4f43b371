//! CreateTopics.

use std::collections::BTreeMap;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::create_topics_response::{
    CreatableTopicConfigs, CreatableTopicResult,
};
use kafka_protocol::messages::{CreateTopicsRequest, CreateTopicsResponse};

use super::configs::topic_entries;
use super::str_bytes;
use crate::server::Broker;

/// Kafka's controller refuses a request that would create more partitions than this, whole.
pub const MAX_PARTITIONS_PER_REQUEST: i64 = 10_000;

/// Kafka's words for a request over [`MAX_PARTITIONS_PER_REQUEST`].
pub const TOO_MANY_PARTITIONS: &str = "Excessively large number of partitions per request.";

pub fn handle(broker: &Broker, req: CreateTopicsRequest, version: i16) -> CreateTopicsResponse {
    let mut response = CreateTopicsResponse::default();
    let asked: i64 = req
        .topics
        .iter()
        .map(|t| match (t.assignments.len(), t.num_partitions) {
            (0, -1) => i64::from(broker.config.num_partitions),
            (0, n) => i64::from(n.max(0)),
            (assigned, _) => assigned as i64,
        })
        .sum();
    if asked > MAX_PARTITIONS_PER_REQUEST {
        for wanted in req.topics {
            let mut result = CreatableTopicResult::default();
            result.name = wanted.name;
            fail(
                &mut result,
                ResponseError::PolicyViolation,
                TOO_MANY_PARTITIONS,
            );
            response.topics.push(result);
        }
        return response;
    }
    for wanted in req.topics {
        let name = wanted.name.0.to_string();
        let mut result = CreatableTopicResult::default();
        result.name = wanted.name.clone();
        let node = broker.config.node_id;
        let mut partitions = wanted.num_partitions;
        let mut replication = wanted.replication_factor;
        if !wanted.assignments.is_empty() {
            if wanted.num_partitions != -1 || wanted.replication_factor != -1 {
                fail(&mut result, ResponseError::InvalidRequest, "Both numPartitions or replicationFactor and replicasAssignments were set. Both cannot be used at the same time.");
                response.topics.push(result);
                continue;
            }
            if let Some(bad) = wanted
                .assignments
                .iter()
                .find(|a| a.broker_ids.iter().any(|b| b.0 != node))
            {
                let message = format!("Partition {} is assigned to a broker that does not exist; the only broker is {node}.", bad.partition_index);
                fail(
                    &mut result,
                    ResponseError::InvalidReplicaAssignment,
                    &message,
                );
                response.topics.push(result);
                continue;
            }
            partitions = wanted.assignments.len() as i32;
            replication = wanted
                .assignments
                .first()
                .map_or(1, |a| a.broker_ids.len() as i16);
        }
        let configs: BTreeMap<String, Option<String>> = wanted
            .configs
            .iter()
            .map(|c| (c.name.to_string(), c.value.as_ref().map(|v| v.to_string())))
            .collect();
        match broker
            .topics
            .create(&name, partitions, replication, &configs, req.validate_only)
        {
            Ok(topic) => {
                if version >= 7 && !req.validate_only {
                    result.topic_id = topic.id;
                }
                if version >= 5 {
                    result.num_partitions = topic.partition_count().max(partitions);
                    result.replication_factor = 1;
                    let overrides = topic.overrides();
                    result.configs = Some(
                        topic_entries(broker, &overrides)
                            .map(|(def, value, source)| {
                                let mut c = CreatableTopicConfigs::default();
                                c.name = str_bytes(def.name);
                                c.value = Some(str_bytes(value));
                                c.config_source = source as i8;
                                c
                            })
                            .collect(),
                    );
                }
            }
            Err(e) => {
                if matches!(e, crate::topics::TopicError::Io(_)) {
                    tracing::error!(topic = %name, error = %e, "topic creation failed");
                }
                result.error_code = e.code();
                result.error_message = Some(str_bytes(e.to_string()));
                result.num_partitions = -1;
                result.replication_factor = -1;
            }
        }
        response.topics.push(result);
    }
    response
}

fn fail(result: &mut CreatableTopicResult, error: ResponseError, message: &str) {
    result.error_code = error.code();
    result.error_message = Some(str_bytes(message));
    result.num_partitions = -1;
    result.replication_factor = -1;
}
