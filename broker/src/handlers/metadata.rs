//! Metadata: brokers, topics and partitions, creating unknown topics when allowed.

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::metadata_response::{
    MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use kafka_protocol::messages::{MetadataRequest, MetadataResponse, TopicName};
use uuid::Uuid;

use super::str_bytes;
use crate::protocol::dispatch::Ctx;
use crate::server::Broker;
use crate::topics::{Topic, TopicError};

pub fn handle(broker: &Broker, req: MetadataRequest, ctx: Ctx) -> MetadataResponse {
    let version = ctx.version;
    let config = &broker.config;
    let advertised = config.advertised_for(ctx.endpoint);
    let mut response = MetadataResponse::default();
    let mut me = MetadataResponseBroker::default();
    me.node_id = config.node_id.into();
    me.host = str_bytes(advertised.host.clone());
    me.port = i32::from(advertised.port);
    response.brokers = vec![me];
    // Fields a version lacks must keep their defaults, or encoding fails.
    if version >= 2 {
        response.cluster_id = Some(str_bytes(broker.cluster_id.clone()));
    }
    if version >= 1 {
        response.controller_id = config.node_id.into();
    }

    // v0 asks for every topic with an empty list; later versions with null.
    let all = match &req.topics {
        None => true,
        Some(list) => list.is_empty() && version == 0,
    };
    if all {
        response.topics = broker
            .topics
            .list()
            .iter()
            .map(|t| describe(broker, t, version))
            .collect();
        return response;
    }
    let auto_create = req.allow_auto_topic_creation && config.auto_create_topics;
    for requested in req.topics.unwrap_or_default() {
        let entry = match requested.name {
            Some(name) => {
                let name = name.0.to_string();
                match lookup_or_create(broker, &name, auto_create) {
                    Ok(topic) => describe(broker, &topic, version),
                    Err(e) => error_topic(Some(name), Uuid::nil(), e.code()),
                }
            }
            None => match broker.topics.get_by_id(requested.topic_id) {
                Some(topic) => describe(broker, &topic, version),
                None => error_topic(
                    None,
                    requested.topic_id,
                    ResponseError::UnknownTopicId.code(),
                ),
            },
        };
        response.topics.push(entry);
    }
    response
}

fn lookup_or_create(
    broker: &Broker,
    name: &str,
    auto_create: bool,
) -> Result<std::sync::Arc<Topic>, TopicError> {
    if let Some(topic) = broker.topics.get(name) {
        return Ok(topic);
    }
    if !auto_create {
        return Err(TopicError::Unknown(name.to_string()));
    }
    match broker
        .topics
        .create(name, -1, -1, &Default::default(), false)
    {
        Ok(topic) => Ok(topic),
        // Another client created it between our lookup and our create.
        Err(TopicError::AlreadyExists(_)) => broker
            .topics
            .get(name)
            .ok_or_else(|| TopicError::Unknown(name.into())),
        Err(e) => Err(e),
    }
}

fn describe(broker: &Broker, topic: &Topic, version: i16) -> MetadataResponseTopic {
    let node = broker.config.node_id;
    let mut entry = MetadataResponseTopic::default();
    entry.name = Some(TopicName(str_bytes(topic.name.clone())));
    if version >= 10 {
        entry.topic_id = topic.id;
    }
    entry.is_internal = version >= 1 && topic.is_internal();
    entry.partitions = (0..topic.partition_count())
        .map(|index| {
            let mut p = MetadataResponsePartition::default();
            p.partition_index = index;
            p.leader_id = node.into();
            if version >= 7 {
                p.leader_epoch = 0;
            }
            p.replica_nodes = vec![node.into()];
            p.isr_nodes = vec![node.into()];
            p
        })
        .collect();
    entry
}

fn error_topic(name: Option<String>, id: Uuid, code: i16) -> MetadataResponseTopic {
    let mut entry = MetadataResponseTopic::default();
    entry.name = name.map(|n| TopicName(str_bytes(n)));
    entry.topic_id = id;
    entry.error_code = code;
    entry
}
