//! RecordBatch v2 headers: parsing, validation and the few in-place rewrites the broker makes.
//!
//! Layout (all big-endian): baseOffset i64 @0, batchLength i32 @8, partitionLeaderEpoch i32 @12,
//! magic i8 @16, crc u32 @17, attributes i16 @21, lastOffsetDelta i32 @23, baseTimestamp i64 @27,
//! maxTimestamp i64 @35, producerId i64 @43, producerEpoch i16 @51, baseSequence i32 @53,
//! recordCount i32 @57, records @61. The CRC32C covers everything from attributes to the end, so the
//! broker may rewrite the base offset and the leader epoch without recomputing it.

use std::ops::Range;

/// Bytes in a v2 batch header, up to the first record.
pub const HEADER_LEN: usize = 61;
/// Bytes before `batchLength` counts: the base offset and the length field itself.
pub const LOG_OVERHEAD: usize = 12;
const CRC_START: usize = 21;
const TIMESTAMP_TYPE_BIT: i16 = 0x08;

/// The fixed-size header of one record batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchHeader {
    pub base_offset: i64,
    pub batch_length: i32,
    pub magic: i8,
    pub crc: u32,
    pub attributes: i16,
    pub last_offset_delta: i32,
    pub base_timestamp: i64,
    pub max_timestamp: i64,
    pub producer_id: i64,
    pub producer_epoch: i16,
    pub base_sequence: i32,
    pub record_count: i32,
}

/// Why a batch was refused. Each maps to the Kafka error code a client expects.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BatchError {
    #[error("record batch is truncated: {0} bytes left, header needs {HEADER_LEN}")]
    Truncated(usize),
    #[error("record batch length {length} does not fit the {available} bytes sent")]
    BadLength { length: i64, available: usize },
    #[error("record batch magic {0} is not supported; only v2 (magic 2) is")]
    BadMagic(i8),
    #[error("record batch CRC mismatch: header says {expected:#010x}, content is {actual:#010x}")]
    BadCrc { expected: u32, actual: u32 },
    #[error("record batch claims {count} records but its last offset delta is {delta}")]
    BadRecordCount { count: i32, delta: i32 },
}

impl BatchHeader {
    /// Parses a header from the first [`HEADER_LEN`] bytes of `buf`.
    pub fn parse(buf: &[u8]) -> Result<Self, BatchError> {
        if buf.len() < HEADER_LEN {
            return Err(BatchError::Truncated(buf.len()));
        }
        Ok(Self {
            base_offset: be_i64(buf, 0),
            batch_length: be_i32(buf, 8),
            magic: buf[16] as i8,
            crc: u32::from_be_bytes([buf[17], buf[18], buf[19], buf[20]]),
            attributes: i16::from_be_bytes([buf[21], buf[22]]),
            last_offset_delta: be_i32(buf, 23),
            base_timestamp: be_i64(buf, 27),
            max_timestamp: be_i64(buf, 35),
            producer_id: be_i64(buf, 43),
            producer_epoch: i16::from_be_bytes([buf[51], buf[52]]),
            base_sequence: be_i32(buf, 53),
            record_count: be_i32(buf, 57),
        })
    }

    /// Size of the whole batch on the wire and on disk.
    pub fn total_len(&self) -> usize {
        LOG_OVERHEAD + self.batch_length.max(0) as usize
    }

    pub fn last_offset(&self) -> i64 {
        self.base_offset + i64::from(self.last_offset_delta)
    }

    pub fn next_offset(&self) -> i64 {
        self.last_offset() + 1
    }

    /// Compression codec id: 0 none, 1 gzip, 2 snappy, 3 lz4, 4 zstd.
    pub fn compression(&self) -> i16 {
        self.attributes & 0x07
    }

    pub fn is_log_append_time(&self) -> bool {
        self.attributes & TIMESTAMP_TYPE_BIT != 0
    }

    pub fn is_transactional(&self) -> bool {
        self.attributes & 0x10 != 0
    }

    pub fn is_control(&self) -> bool {
        self.attributes & 0x20 != 0
    }
}

/// Checks the framing of the batch at the start of `buf` (length and magic) and returns its
/// header. Does not look at the CRC.
pub fn parse_framed(buf: &[u8]) -> Result<BatchHeader, BatchError> {
    let header = BatchHeader::parse(buf)?;
    let length = i64::from(header.batch_length) + LOG_OVERHEAD as i64;
    if length < HEADER_LEN as i64 || length > buf.len() as i64 {
        return Err(BatchError::BadLength {
            length,
            available: buf.len(),
        });
    }
    if header.magic != 2 {
        return Err(BatchError::BadMagic(header.magic));
    }
    Ok(header)
}

/// CRC32C of the part of a batch the checksum covers.
pub fn compute_crc(batch: &[u8]) -> u32 {
    crc32c::crc32c(&batch[CRC_START..])
}

/// Validates one whole batch: framing, CRC and that the record count agrees with the offsets.
pub fn validate(batch: &[u8]) -> Result<BatchHeader, BatchError> {
    let header = parse_framed(batch)?;
    let actual = compute_crc(&batch[..header.total_len()]);
    if actual != header.crc {
        return Err(BatchError::BadCrc {
            expected: header.crc,
            actual,
        });
    }
    if header.record_count < 1 || header.last_offset_delta != header.record_count - 1 {
        return Err(BatchError::BadRecordCount {
            count: header.record_count,
            delta: header.last_offset_delta,
        });
    }
    Ok(header)
}

/// Splits a produce request's records field into validated batches.
pub fn validate_all(records: &[u8]) -> Result<Vec<(BatchHeader, Range<usize>)>, BatchError> {
    let mut batches = Vec::new();
    let mut pos = 0;
    while pos < records.len() {
        let header = validate(&records[pos..])?;
        let end = pos + header.total_len();
        batches.push((header, pos..end));
        pos = end;
    }
    if batches.is_empty() {
        return Err(BatchError::Truncated(0));
    }
    Ok(batches)
}

/// Rewrites a batch so that its timestamps are the broker's append time, as
/// `message.timestamp.type=LogAppendTime` asks. This changes covered bytes, so the CRC is redone.
pub fn stamp_log_append_time(batch: &mut [u8], now_ms: i64) {
    let attributes = i16::from_be_bytes([batch[21], batch[22]]) | TIMESTAMP_TYPE_BIT;
    batch[21..23].copy_from_slice(&attributes.to_be_bytes());
    batch[35..43].copy_from_slice(&now_ms.to_be_bytes());
    let crc = compute_crc(batch);
    batch[17..21].copy_from_slice(&crc.to_be_bytes());
}

/// Bytes the broker rewrites at the start of a batch: base offset, length (unchanged) and leader
/// epoch. None of them is covered by the CRC.
pub const PREFIX_LEN: usize = 16;

/// The first [`PREFIX_LEN`] bytes of a stored batch: the assigned base offset, the length as
/// sent, and leader epoch 0, the only epoch a single node has.
pub fn stored_prefix(base_offset: i64, batch: &[u8]) -> [u8; PREFIX_LEN] {
    let mut prefix = [0u8; PREFIX_LEN];
    prefix[..8].copy_from_slice(&base_offset.to_be_bytes());
    prefix[8..12].copy_from_slice(&batch[8..12]);
    prefix
}

/// Encodes keyed records (a `None` value is a tombstone) as one v2 batch with offsets 0.., the
/// log assigning the real ones. Used for the broker's own writes and for tests and benches.
pub fn encode_keyed(
    records: &[(Option<bytes::Bytes>, Option<bytes::Bytes>)],
    timestamp: i64,
    compression: kafka_protocol::records::Compression,
) -> std::io::Result<bytes::Bytes> {
    use kafka_protocol::records::{Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType};
    let records: Vec<Record> = records
        .iter()
        .enumerate()
        .map(|(i, (key, value))| Record {
            transactional: false,
            control: false,
            delete_horizon: false,
            partition_leader_epoch: 0,
            producer_id: -1,
            producer_epoch: -1,
            timestamp_type: TimestampType::Creation,
            offset: i as i64,
            // The encoder starts a new batch whenever offset - sequence changes.
            sequence: i as i32 - 1,
            timestamp,
            key: key.clone(),
            value: value.clone(),
            headers: Default::default(),
        })
        .collect();
    let mut buf = bytes::BytesMut::new();
    let options = RecordEncodeOptions {
        version: 2,
        compression,
    };
    RecordBatchEncoder::encode(&mut buf, records.iter(), &options)
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    Ok(buf.freeze())
}

fn be_i64(buf: &[u8], at: usize) -> i64 {
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&buf[at..at + 8]);
    i64::from_be_bytes(bytes)
}

fn be_i32(buf: &[u8], at: usize) -> i32 {
    i32::from_be_bytes([buf[at], buf[at + 1], buf[at + 2], buf[at + 3]])
}

#[cfg(test)]
pub(crate) mod test_support {
    /// Builds an uncompressed v2 batch with `count` records whose values are `value`.
    pub fn batch(count: i32, value: &[u8], timestamp: i64) -> Vec<u8> {
        let mut records = Vec::new();
        for i in 0..count {
            let mut body = Vec::new();
            body.push(0u8); // attributes
            put_varint(&mut body, 0); // timestamp delta
            put_varint(&mut body, i64::from(i)); // offset delta
            put_varint(&mut body, -1); // null key
            put_varint(&mut body, value.len() as i64);
            body.extend_from_slice(value);
            put_varint(&mut body, 0); // headers
            put_varint(&mut records, body.len() as i64);
            records.extend_from_slice(&body);
        }
        let mut out = Vec::with_capacity(super::HEADER_LEN + records.len());
        out.extend_from_slice(&0i64.to_be_bytes());
        let length = (super::HEADER_LEN - super::LOG_OVERHEAD + records.len()) as i32;
        out.extend_from_slice(&length.to_be_bytes());
        out.extend_from_slice(&(-1i32).to_be_bytes());
        out.push(2);
        out.extend_from_slice(&0u32.to_be_bytes());
        out.extend_from_slice(&0i16.to_be_bytes());
        out.extend_from_slice(&(count - 1).to_be_bytes());
        out.extend_from_slice(&timestamp.to_be_bytes());
        out.extend_from_slice(&timestamp.to_be_bytes());
        out.extend_from_slice(&(-1i64).to_be_bytes());
        out.extend_from_slice(&(-1i16).to_be_bytes());
        out.extend_from_slice(&(-1i32).to_be_bytes());
        out.extend_from_slice(&count.to_be_bytes());
        out.extend_from_slice(&records);
        let crc = super::compute_crc(&out);
        out[17..21].copy_from_slice(&crc.to_be_bytes());
        out
    }

    /// An uncompressed v2 batch of keyed records; a `None` value is a tombstone.
    pub fn keyed_batch(records: &[(Vec<u8>, Option<Vec<u8>>)], timestamp: i64) -> Vec<u8> {
        let mut body_all = Vec::new();
        for (i, (key, value)) in records.iter().enumerate() {
            let mut body = Vec::new();
            body.push(0u8);
            put_varint(&mut body, 0);
            put_varint(&mut body, i as i64);
            put_varint(&mut body, key.len() as i64);
            body.extend_from_slice(key);
            match value {
                Some(v) => {
                    put_varint(&mut body, v.len() as i64);
                    body.extend_from_slice(v);
                }
                None => put_varint(&mut body, -1),
            }
            put_varint(&mut body, 0);
            put_varint(&mut body_all, body.len() as i64);
            body_all.extend_from_slice(&body);
        }
        let count = records.len() as i32;
        let mut out = batch(count, b"", timestamp);
        out.truncate(super::HEADER_LEN);
        out.extend_from_slice(&body_all);
        let length = (out.len() - super::LOG_OVERHEAD) as i32;
        out[8..12].copy_from_slice(&length.to_be_bytes());
        let crc = super::compute_crc(&out);
        out[17..21].copy_from_slice(&crc.to_be_bytes());
        out
    }

    fn put_varint(buf: &mut Vec<u8>, value: i64) {
        let mut v = ((value << 1) ^ (value >> 63)) as u64;
        while v >= 0x80 {
            buf.push((v as u8) | 0x80);
            v >>= 7;
        }
        buf.push(v as u8);
    }
}

#[cfg(test)]
mod tests {
    use super::test_support::batch;
    use super::*;

    #[test]
    fn a_well_formed_batch_validates() {
        let b = batch(3, b"hello", 1000);
        let header = validate(&b).expect("valid");
        assert_eq!(header.record_count, 3);
        assert_eq!(header.total_len(), b.len());
        assert_eq!(header.max_timestamp, 1000);
    }

    #[test]
    fn a_flipped_bit_is_a_crc_error() {
        let mut b = batch(2, b"hello", 1000);
        let last = b.len() - 2;
        b[last] ^= 0x40;
        assert!(matches!(validate(&b), Err(BatchError::BadCrc { .. })));
    }

    #[test]
    fn the_offset_prefix_does_not_disturb_the_crc() {
        let b = batch(2, b"x", 5);
        let mut rewritten = stored_prefix(42, &b).to_vec();
        rewritten.extend_from_slice(&b[PREFIX_LEN..]);
        let header = validate(&rewritten).expect("still valid");
        assert_eq!(header.base_offset, 42);
    }

    #[test]
    fn absurd_lengths_and_old_magic_are_refused() {
        let mut b = batch(1, b"x", 5);
        b[8..12].copy_from_slice(&i32::MAX.to_be_bytes());
        assert!(matches!(validate(&b), Err(BatchError::BadLength { .. })));
        let mut b = batch(1, b"x", 5);
        b[16] = 1;
        assert_eq!(validate(&b), Err(BatchError::BadMagic(1)));
        assert!(matches!(validate(&b[..30]), Err(BatchError::Truncated(30))));
        assert!(validate_all(&[]).is_err());
    }

    #[test]
    fn log_append_time_restamps_and_keeps_the_crc_valid() {
        let mut b = batch(1, b"x", 5);
        stamp_log_append_time(&mut b, 777);
        let header = validate(&b).expect("valid");
        assert!(header.is_log_append_time());
        assert_eq!(header.max_timestamp, 777);
    }
}
