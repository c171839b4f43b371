//! Fetch: return stored batches as they are, from the batch holding the fetch offset, and
//! long-poll until `min_bytes` have arrived or `max_wait_ms` has passed.

use std::time::Duration;

use bytes::{BufMut, BytesMut};
use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::fetch_request::FetchTopic;
use kafka_protocol::messages::{FetchRequest, TopicName};
use tokio::time::Instant;
use uuid::Uuid;

use crate::log::{ReadError, Region};
use crate::protocol::dispatch::Ctx;
use crate::protocol::outgoing::{Outgoing, Part};
use crate::server::Broker;

/// Fetch v13 and later name topics by id.
const TOPIC_IDS_FROM: i16 = 13;

/// One partition of a fetch answer: its record batches are a region of a segment file.
pub struct PartitionOut {
    index: i32,
    error_code: i16,
    high_watermark: i64,
    last_stable_offset: i64,
    log_start_offset: i64,
    records: RecordsOut,
}

/// A partition's records field: null (on an error), empty, or batches from a file.
pub enum RecordsOut {
    Null,
    Empty,
    File(Region),
}

pub struct TopicOut {
    name: TopicName,
    id: Uuid,
    partitions: Vec<PartitionOut>,
}

/// A fetch answer, before it is written out (see [`encode`]).
#[derive(Default)]
pub struct Fetched {
    topics: Vec<TopicOut>,
}

pub async fn handle(broker: &Broker, req: FetchRequest, version: i16) -> Fetched {
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
fn read_all(broker: &Broker, req: &FetchRequest, version: i16) -> (Fetched, usize, bool) {
    let mut response = Fetched::default();
    let mut total = 0usize;
    let mut errors = false;
    // The request's max_bytes, within the broker's fetch.max.bytes.
    let max_bytes = if req.max_bytes <= 0 {
        broker.config.fetch_max_bytes
    } else {
        (req.max_bytes as usize).min(broker.config.fetch_max_bytes)
    };
    for wanted in &req.topics {
        let topic = find_topic(broker, wanted, version);
        let mut topic_response = TopicOut {
            name: wanted.topic.clone(),
            id: wanted.topic_id,
            partitions: Vec::with_capacity(wanted.partitions.len()),
        };
        for p in &wanted.partitions {
            let mut data = PartitionOut {
                index: p.partition,
                error_code: 0,
                high_watermark: -1,
                last_stable_offset: -1,
                log_start_offset: -1,
                records: RecordsOut::Null,
            };
            let partition = topic.as_ref().and_then(|t| t.partition(p.partition));
            let Some(partition) = partition else {
                data.error_code = if topic.is_none() && version >= TOPIC_IDS_FROM {
                    ResponseError::UnknownTopicId.code()
                } else {
                    ResponseError::UnknownTopicOrPartition.code()
                };
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
            data.log_start_offset = log_start;
            // The response's max_bytes is a soft limit: the first batch always goes out whole.
            let budget = max_bytes.saturating_sub(total);
            let limit = (p.partition_max_bytes.max(0) as usize).min(budget);
            let read = match start {
                Ok(start) if limit > 0 || total == 0 => start.region(limit).map_err(ReadError::Io),
                Ok(_) => Ok(None),
                Err(e) => Err(e),
            };
            match read {
                Ok(Some(region)) => {
                    total += region.len;
                    data.records = RecordsOut::File(region);
                }
                Ok(None) => data.records = RecordsOut::Empty,
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
        response.topics.push(topic_response);
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

/// Fetch v12 and later use the flexible (compact, tagged) encoding.
const FLEXIBLE_FROM: i16 = 12;

/// Writes a fetch answer as Kafka encodes a FetchResponse of `ctx.version`, with each
/// partition's batches left in their file: the response is a few small buffers and file regions,
/// whatever its size.
pub fn encode(ctx: &Ctx, fetched: &Fetched) -> Outgoing {
    let version = ctx.version;
    let flexible = version >= FLEXIBLE_FROM;
    let mut parts = Vec::new();
    let mut out = BytesMut::with_capacity(256);
    out.put_i32(0); // the frame's length, set at the end
    out.put_i32(ctx.correlation_id);
    if flexible {
        put_uvarint(&mut out, 0); // response header tagged fields
    }
    out.put_i32(0); // throttle_time_ms
    if version >= 7 {
        out.put_i16(0); // error_code
        out.put_i32(0); // session_id
    }
    put_len(&mut out, fetched.topics.len(), flexible);
    for topic in &fetched.topics {
        if version >= TOPIC_IDS_FROM {
            out.put_slice(topic.id.as_bytes());
        } else {
            let name = topic.name.0.as_bytes();
            if flexible {
                put_uvarint(&mut out, name.len() as u64 + 1);
            } else {
                out.put_i16(name.len() as i16);
            }
            out.put_slice(name);
        }
        put_len(&mut out, topic.partitions.len(), flexible);
        for p in &topic.partitions {
            out.put_i32(p.index);
            out.put_i16(p.error_code);
            out.put_i64(p.high_watermark);
            out.put_i64(p.last_stable_offset);
            if version >= 5 {
                out.put_i64(p.log_start_offset);
            }
            // aborted_transactions: none (there are no transactions here).
            put_len(&mut out, 0, flexible);
            if version >= 11 {
                out.put_i32(-1); // preferred_read_replica
            }
            let records_len = match &p.records {
                RecordsOut::Null => None,
                RecordsOut::Empty => Some(0),
                RecordsOut::File(region) => Some(region.len),
            };
            match (records_len, flexible) {
                (None, true) => put_uvarint(&mut out, 0),
                (None, false) => out.put_i32(-1),
                (Some(n), true) => put_uvarint(&mut out, n as u64 + 1),
                (Some(n), false) => out.put_i32(n as i32),
            }
            if let RecordsOut::File(region) = &p.records {
                if region.len > 0 {
                    parts.push(Part::Bytes(std::mem::take(&mut out).freeze()));
                    parts.push(Part::File(region.clone()));
                }
            }
            if flexible {
                put_uvarint(&mut out, 0); // partition tagged fields
            }
        }
        if flexible {
            put_uvarint(&mut out, 0); // topic tagged fields
        }
    }
    if flexible {
        put_uvarint(&mut out, 0); // response tagged fields
    }
    parts.push(Part::Bytes(out.freeze()));
    let total: usize = parts
        .iter()
        .map(|p| match p {
            Part::Bytes(b) => b.len(),
            Part::File(r) => r.len,
        })
        .sum();
    // The first part starts with the length placeholder.
    if let Some(Part::Bytes(first)) = parts.first_mut() {
        let mut patched = BytesMut::from(&first[..]);
        patched[..4].copy_from_slice(&((total - 4) as i32).to_be_bytes());
        *first = patched.freeze();
    }
    Outgoing { parts }
}

fn put_uvarint(out: &mut BytesMut, mut n: u64) {
    while n >= 0x80 {
        out.put_u8((n as u8) | 0x80);
        n >>= 7;
    }
    out.put_u8(n as u8);
}

fn put_len(out: &mut BytesMut, n: usize, flexible: bool) {
    if flexible {
        put_uvarint(out, n as u64 + 1);
    } else {
        out.put_i32(n as i32);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::messages::fetch_response::{FetchableTopicResponse, PartitionData};
    use kafka_protocol::messages::{ApiKey, FetchResponse, ResponseHeader};
    use kafka_protocol::protocol::Encodable;
    use std::os::unix::fs::FileExt;
    use std::sync::Arc;

    /// The file-backed encoding is byte for byte what kafka-protocol writes for the same answer
    /// with the records in memory, at every version the broker serves.
    #[test]
    fn the_streamed_encoding_matches_kafkas_at_every_version() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("segment");
        let stored: Vec<u8> = (0..5000u32).map(|i| (i % 251) as u8).collect();
        std::fs::write(&path, &stored).expect("write");
        let file = Arc::new(std::fs::File::open(&path).expect("open"));
        let region = Region {
            file: Arc::clone(&file),
            offset: 100,
            len: 3000,
        };
        let fetched = Fetched {
            topics: vec![TopicOut {
                name: TopicName(kafka_protocol::protocol::StrBytes::from_static_str(
                    "orders",
                )),
                id: Uuid::from_u128(0x0123_4567_89ab_cdef_0123_4567_89ab_cdef),
                partitions: vec![
                    PartitionOut {
                        index: 0,
                        error_code: 0,
                        high_watermark: 42,
                        last_stable_offset: 42,
                        log_start_offset: 3,
                        records: RecordsOut::File(region.clone()),
                    },
                    PartitionOut {
                        index: 1,
                        error_code: 0,
                        high_watermark: 7,
                        last_stable_offset: 7,
                        log_start_offset: 0,
                        records: RecordsOut::Empty,
                    },
                    PartitionOut {
                        index: 9,
                        error_code: ResponseError::UnknownTopicOrPartition.code(),
                        high_watermark: -1,
                        last_stable_offset: -1,
                        log_start_offset: -1,
                        records: RecordsOut::Null,
                    },
                ],
            }],
        };
        for version in 4..=16 {
            let ctx = Ctx {
                api: ApiKey::Fetch,
                version,
                correlation_id: 77,
                endpoint: 0,
            };
            let streamed = encode(&ctx, &fetched);
            let mut ours = Vec::new();
            for part in &streamed.parts {
                match part {
                    Part::Bytes(b) => ours.extend_from_slice(b),
                    Part::File(r) => {
                        let mut buf = vec![0u8; r.len];
                        r.file.read_exact_at(&mut buf, r.offset).expect("read");
                        ours.extend_from_slice(&buf);
                    }
                }
            }
            let mut response = FetchResponse::default();
            let mut topic = FetchableTopicResponse::default();
            topic.topic = fetched.topics[0].name.clone();
            topic.topic_id = fetched.topics[0].id;
            for p in &fetched.topics[0].partitions {
                let mut data = PartitionData::default();
                data.partition_index = p.index;
                data.error_code = p.error_code;
                data.high_watermark = p.high_watermark;
                data.last_stable_offset = p.last_stable_offset;
                data.log_start_offset = p.log_start_offset;
                data.records = match &p.records {
                    RecordsOut::Null => None,
                    RecordsOut::Empty => Some(bytes::Bytes::new()),
                    RecordsOut::File(r) => Some(bytes::Bytes::copy_from_slice(
                        &stored[r.offset as usize..r.offset as usize + r.len],
                    )),
                };
                topic.partitions.push(data);
            }
            response.responses.push(topic);
            let mut theirs = BytesMut::new();
            theirs.put_i32(0);
            let mut header = ResponseHeader::default();
            header.correlation_id = 77;
            header
                .encode(&mut theirs, ApiKey::Fetch.response_header_version(version))
                .expect("header");
            response.encode(&mut theirs, version).expect("encode");
            let size = (theirs.len() - 4) as i32;
            theirs[..4].copy_from_slice(&size.to_be_bytes());
            let first_difference = ours.iter().zip(theirs.iter()).position(|(a, b)| a != b);
            assert!(
                ours == theirs.to_vec(),
                "fetch v{version}: {} bytes against {}, first difference at {first_difference:?}",
                ours.len(),
                theirs.len()
            );
        }
    }
}
