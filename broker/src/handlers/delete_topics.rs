//! DeleteTopics, by name (v1-v5) or by name or id (v6).

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::delete_topics_response::DeletableTopicResult;
use kafka_protocol::messages::{DeleteTopicsRequest, DeleteTopicsResponse, TopicName};

use super::str_bytes;
use crate::server::Broker;

pub fn handle(broker: &Broker, req: DeleteTopicsRequest, version: i16) -> DeleteTopicsResponse {
    let mut wanted: Vec<(Option<String>, uuid::Uuid)> = req
        .topic_names
        .iter()
        .map(|n| (Some(n.0.to_string()), uuid::Uuid::nil()))
        .collect();
    wanted.extend(
        req.topics
            .iter()
            .map(|t| (t.name.as_ref().map(|n| n.0.to_string()), t.topic_id)),
    );
    let mut response = DeleteTopicsResponse::default();
    for (name, id) in wanted {
        let mut result = DeletableTopicResult::default();
        result.topic_id = id;
        let name = name.or_else(|| broker.topics.get_by_id(id).map(|t| t.name.clone()));
        match name {
            None => result.error_code = ResponseError::UnknownTopicId.code(),
            Some(name) => {
                result.name = Some(TopicName(str_bytes(name.clone())));
                match broker.topics.delete(&name) {
                    Ok(topic) if version >= 6 => result.topic_id = topic.id,
                    Ok(_) => {}
                    Err(e) => {
                        result.error_code = e.code();
                        if version >= 5 {
                            result.error_message = Some(str_bytes(e.to_string()));
                        }
                    }
                }
            }
        }
        response.responses.push(result);
    }
    response
}
