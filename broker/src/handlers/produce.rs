//! Produce: validate each batch, append it with the next offsets, and answer per `acks`.
//! acks=0 gets no reply, acks=1 a reply once written, acks=all (-1) once fsynced.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::produce_response::{PartitionProduceResponse, TopicProduceResponse};
use kafka_protocol::messages::{ProduceRequest, ProduceResponse};

use super::str_bytes;
use crate::log::batch::{self, BatchError};
use crate::log::producers::SequenceError;
use crate::log::segment::now_ms;
use crate::log::validate;
use crate::log::AppendError;
use crate::partition::Partition;
use crate::protocol::dispatch::{Ctx, DispatchError, Reply};
use crate::server::Broker;

/// A partition's append, still to be made durable for acks=all.
struct Durable {
    partition: Arc<Partition>,
    end: i64,
    topic: usize,
    index: usize,
}

pub fn handle(broker: &Arc<Broker>, req: ProduceRequest, ctx: Ctx) -> Result<Reply, DispatchError> {
    let acks = req.acks;
    let mut response = ProduceResponse::default();
    let mut waits = Vec::new();
    let now = now_ms();
    for (t, topic_data) in req.topic_data.into_iter().enumerate() {
        let name = topic_data.name.0.to_string();
        let topic = broker.topics.get(&name);
        let mut topic_response = TopicProduceResponse::default();
        topic_response.name = topic_data.name;
        for (i, data) in topic_data.partition_data.into_iter().enumerate() {
            let mut result = PartitionProduceResponse::default();
            result.index = data.index;
            let partition = topic.as_ref().and_then(|t| t.partition(data.index));
            let outcome = match (&topic, partition) {
                _ if !matches!(acks, -1..=1) => Err(fail(
                    ResponseError::InvalidRequiredAcks,
                    "acks must be -1, 0 or 1",
                )),
                (Some(topic), Some(partition)) => {
                    let settings = topic.settings();
                    let appended = append(
                        broker,
                        &partition,
                        data.records.unwrap_or_default(),
                        &settings,
                        now,
                    );
                    if let (Ok(appended), -1) = (&appended, acks) {
                        waits.push(Durable {
                            partition,
                            end: appended.end,
                            topic: t,
                            index: i,
                        });
                    }
                    appended
                }
                _ => Err(fail(ResponseError::UnknownTopicOrPartition, "")),
            };
            match outcome {
                Ok(appended) => {
                    result.base_offset = appended.base_offset;
                    if ctx.version >= 5 {
                        result.log_start_offset = appended.log_start;
                    }
                    result.log_append_time_ms = appended.log_append_time;
                }
                Err((code, message)) => {
                    result.error_code = code;
                    result.base_offset = -1;
                    if ctx.version >= 8 {
                        result.error_message = message.map(str_bytes);
                    }
                }
            }
            topic_response.partition_responses.push(result);
        }
        response.responses.push(topic_response);
    }
    broker.topics.appended.notify_waiters();
    if acks == 0 {
        return Ok(Reply::Nothing);
    }
    if waits.is_empty() {
        return Ok(Reply::Now(ctx.encode(&response)?));
    }
    // The timeout is meant for replication; without replicas a client's 0 must not fail every fsync.
    let timeout_ms = if req.timeout_ms > 0 {
        req.timeout_ms as u64
    } else {
        30_000
    };
    let timeout = Duration::from_millis(timeout_ms);
    // Every partition is queued now, so their fsyncs run side by side; waiting for each in turn
    // would queue the next only after the previous one's fsync.
    for wait in &waits {
        wait.partition.request_flush(&broker.topics.flush_queue);
    }
    Ok(Reply::Later(Box::pin(async move {
        for wait in waits {
            let durable =
                tokio::time::timeout(timeout, wait.partition.wait_durable(wait.end)).await;
            let error = match durable {
                Ok(Ok(())) => continue,
                Ok(Err(e)) => (ResponseError::KafkaStorageError, e.to_string()),
                Err(_) => (
                    ResponseError::RequestTimedOut,
                    "timed out waiting for fsync".to_string(),
                ),
            };
            let result = &mut response.responses[wait.topic].partition_responses[wait.index];
            result.error_code = error.0.code();
            if ctx.version >= 8 {
                result.error_message = Some(str_bytes(error.1));
            }
            result.base_offset = -1;
        }
        ctx.encode(&response).ok()
    })))
}

struct Appended {
    base_offset: i64,
    end: i64,
    log_start: i64,
    log_append_time: i64,
}

type Failure = (i16, Option<String>);

fn fail(error: ResponseError, message: &str) -> Failure {
    (
        error.code(),
        (!message.is_empty()).then(|| message.to_string()),
    )
}

fn append(
    broker: &Broker,
    partition: &Arc<Partition>,
    records: Bytes,
    settings: &crate::config::TopicSettings,
    now: i64,
) -> Result<Appended, Failure> {
    let batches = batch::validate_all(&records).map_err(|e| {
        let code = match e {
            BatchError::BadRecordCount { .. } => ResponseError::InvalidRecord,
            _ => ResponseError::CorruptMessage,
        };
        tracing::debug!(topic = %partition.topic, partition = partition.index, error = %e, "refused batch");
        (code.code(), Some(e.to_string()))
    })?;
    for (header, _) in &batches {
        if header.total_len() > settings.max_message_bytes {
            return Err(fail(
                ResponseError::MessageTooLarge,
                &format!(
                    "batch of {} bytes exceeds max.message.bytes {}",
                    header.total_len(),
                    settings.max_message_bytes
                ),
            ));
        }
        if header.is_transactional() || header.is_control() {
            return Err(fail(
                ResponseError::InvalidRecord,
                "transactional batches are not supported",
            ));
        }
    }
    // Every record, as Kafka's LogValidator checks them: before the log's lock is taken.
    let compacted = settings
        .compact
        .then(|| format!("{}-{}", partition.topic, partition.index));
    for (header, range) in &batches {
        validate::validate_records(header, &records[range.clone()], compacted.as_deref())
            .map_err(|e| {
                tracing::debug!(topic = %partition.topic, partition = partition.index, error = %e, "refused batch");
                fail(ResponseError::InvalidRecord, &e.to_string())
            })?;
    }
    let mut log = partition.log();
    let mut first_offset = None;
    let mut messages = 0u64;
    for (header, range) in batches {
        let bytes = &records[range];
        let written = if settings.log_append_time {
            let mut stamped = bytes.to_vec();
            batch::stamp_log_append_time(&mut stamped, now);
            log.append(&header, &stamped, &settings.policy, now)
        } else {
            log.append(&header, bytes, &settings.policy, now)
        };
        let base = written.map_err(|e| {
            let code = match &e {
                AppendError::Sequence(SequenceError::OutOfOrder { .. }) => ResponseError::OutOfOrderSequenceNumber,
                AppendError::Sequence(SequenceError::StaleEpoch { .. }) => ResponseError::InvalidProducerEpoch,
                AppendError::Io(_) => {
                    tracing::error!(topic = %partition.topic, partition = partition.index, error = %e, "append failed");
                    ResponseError::KafkaStorageError
                }
            };
            (code.code(), Some(e.to_string()))
        })?;
        first_offset.get_or_insert(base);
        messages += header.record_count.max(0) as u64;
    }
    let appended = Appended {
        base_offset: first_offset.unwrap_or(-1),
        end: log.log_end_offset(),
        log_start: log.log_start_offset(),
        log_append_time: if settings.log_append_time { now } else { -1 },
    };
    drop(log);
    if partition.note_appended(messages) >= settings.flush_messages {
        partition.request_flush(&broker.topics.flush_queue);
    }
    Ok(appended)
}
