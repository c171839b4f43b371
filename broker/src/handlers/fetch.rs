//! Fetch: return stored batches as they are, from the batch holding the fetch offset, and
//! long-poll until `min_bytes` have arrived or `max_wait_ms` has passed.

use std::time::Duration;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::fetch_request::FetchTopic;
use kafka_protocol::messages::fetch_response::{FetchableTopicResponse, PartitionData};
use kafka_protocol::messages::{FetchRequest, FetchResponse};
use tokio::time::Instant;

use crate::log::ReadError;
use crate::server::Broker;

/// Fetch v13 and later name topics by id.
const TOPIC_IDS_FROM: i16 = 13;

pub async fn handle(broker: &Broker, req: FetchRequest, version: i16) -> FetchResponse {
    let deadline = Instant::now() + Duration::from_millis(req.max_wait_ms.max(0) as u64);
    let min_bytes = req.min_bytes.max(0) as usize;
    loop {
        let appended = broker.topics.appended.notified();
        tokio::pin!(appended);
        appended.as_mut().enable();
        let (response, bytes, errors) = read_all(broker, &req, version);
        if bytes >= min_bytes || errors || Instant::now() >= deadline {
            return response;
        }
        tokio::select! {
            _ = appended => {}
            _ = tokio::time::sleep_until(deadline) => {}
        }
    }
}

/// One pass over every requested partition: the response, its record bytes, and whether any
/// partition had an error (which ends the long poll at once, as in Kafka).
fn read_all(broker: &Broker, req: &FetchRequest, version: i16) -> (FetchResponse, usize, bool) {
    let mut response = FetchResponse::default();
    let mut total = 0usize;
    let mut errors = false;
    let max_bytes = if req.max_bytes <= 0 {
        usize::MAX
    } else {
        req.max_bytes as usize
    };
    for wanted in &req.topics {
        let topic = find_topic(broker, wanted, version);
        let mut topic_response = FetchableTopicResponse::default();
        topic_response.topic = wanted.topic.clone();
        topic_response.topic_id = wanted.topic_id;
        for p in &wanted.partitions {
            let mut data = PartitionData::default();
            data.partition_index = p.partition;
            let partition = topic.as_ref().and_then(|t| t.partition(p.partition));
            let Some(partition) = partition else {
                data.error_code = if topic.is_none() && version >= TOPIC_IDS_FROM {
                    ResponseError::UnknownTopicId.code()
                } else {
                    ResponseError::UnknownTopicOrPartition.code()
                };
                data.high_watermark = -1;
                errors = true;
                topic_response.partitions.push(data);
                continue;
            };
            let (start, log_end, log_start) = {
                let log = partition.log();
                (
                    log.read_start(p.fetch_offset),
                    log.log_end_offset(),
                    log.log_start_offset(),
                )
            };
            data.high_watermark = log_end;
            data.last_stable_offset = log_end;
            if version >= 5 {
                data.log_start_offset = log_start;
            }
            // The response's max_bytes is a soft limit: the first batch always goes out whole.
            let budget = max_bytes.saturating_sub(total);
            let limit = (p.partition_max_bytes.max(0) as usize).min(budget);
            let read = match start {
                Ok(start) if limit > 0 || total == 0 => start.read(limit).map_err(ReadError::Io),
                Ok(_) => Ok(bytes::Bytes::new()),
                Err(e) => Err(e),
            };
            match read {
                Ok(records) => {
                    total += records.len();
                    data.records = Some(records);
                }
                Err(ReadError::OutOfRange(_)) => {
                    data.error_code = ResponseError::OffsetOutOfRange.code();
                    errors = true;
                }
                Err(ReadError::Io(error)) => {
                    tracing::error!(topic = %partition.topic, partition = p.partition, %error, "read failed");
                    data.error_code = ResponseError::KafkaStorageError.code();
                    errors = true;
                }
            }
            topic_response.partitions.push(data);
        }
        response.responses.push(topic_response);
    }
    (response, total, errors)
}

fn find_topic(
    broker: &Broker,
    wanted: &FetchTopic,
    version: i16,
) -> Option<std::sync::Arc<crate::topics::Topic>> {
    if version >= TOPIC_IDS_FROM {
        broker.topics.get_by_id(wanted.topic_id)
    } else {
        broker.topics.get(wanted.topic.0.as_str())
    }
}
