//! ListOffsets: earliest, latest, max-timestamp, and the first offset at or after a timestamp.

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::list_offsets_response::{
    ListOffsetsPartitionResponse, ListOffsetsTopicResponse,
};
use kafka_protocol::messages::{ListOffsetsRequest, ListOffsetsResponse};

use crate::server::Broker;

const LATEST: i64 = -1;
const EARLIEST: i64 = -2;
const MAX_TIMESTAMP: i64 = -3;
const EARLIEST_LOCAL: i64 = -4;
const LATEST_TIERED: i64 = -5;

pub fn handle(broker: &Broker, req: ListOffsetsRequest, version: i16) -> ListOffsetsResponse {
    let mut response = ListOffsetsResponse::default();
    for wanted in req.topics {
        let topic = broker.topics.get(wanted.name.0.as_str());
        let mut topic_response = ListOffsetsTopicResponse::default();
        topic_response.name = wanted.name;
        for p in wanted.partitions {
            let mut result = ListOffsetsPartitionResponse::default();
            result.partition_index = p.partition_index;
            result.timestamp = -1;
            result.offset = -1;
            match topic.as_ref().and_then(|t| t.partition(p.partition_index)) {
                None => result.error_code = ResponseError::UnknownTopicOrPartition.code(),
                Some(partition) => {
                    let log = partition.log();
                    let found = match p.timestamp {
                        LATEST | LATEST_TIERED => Ok(Some((log.log_end_offset(), -1))),
                        EARLIEST | EARLIEST_LOCAL => Ok(Some((log.log_start_offset(), -1))),
                        MAX_TIMESTAMP => log.max_timestamp_offset(),
                        ts => log.offset_for_timestamp(ts),
                    };
                    match found {
                        Ok(Some((offset, timestamp))) => {
                            result.offset = offset;
                            result.timestamp = timestamp;
                            if version >= 4 {
                                result.leader_epoch = 0;
                            }
                        }
                        Ok(None) => {}
                        Err(error) => {
                            tracing::error!(topic = %partition.topic, partition = p.partition_index, %error, "offset lookup failed");
                            result.error_code = ResponseError::KafkaStorageError.code();
                        }
                    }
                }
            }
            topic_response.partitions.push(result);
        }
        response.topics.push(topic_response);
    }
    response
}
