//! What the broker checks inside a batch before it stores it, as Kafka's `LogValidator` and
//! `DefaultRecord.readFrom` do: every record's framing (length, varints, key, value and header
//! sizes), that there are exactly as many records as the header says and no bytes after them,
//! that each record's offset delta is its position (the broker stores batches as sent, so a
//! consumer would otherwise read wrong offsets), and that a compacted topic gets no null keys.
//! A compressed batch is decompressed, within a bound, to be checked the same way.
//!
//! The walk allocates nothing for an uncompressed batch, which is what keeps the produce path
//! cheap; a compressed one costs one buffer for its decompressed records.

use std::io::Read;

use super::batch::{BatchHeader, HEADER_LEN};

/// The most a compressed batch may decompress to. A batch is at most `max.message.bytes`; past
/// this ratio it is a decompression bomb, not data.
pub const MAX_DECOMPRESSED_BYTES: usize = 128 * 1024 * 1024;

/// Why a batch's records were refused. Every one maps to Kafka's INVALID_RECORD.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    #[error("Found invalid record structure in record {index}: {reason}")]
    Structure { index: i32, reason: &'static str },
    #[error("Invalid record size: expected to read {expected} bytes in record {index} payload, but instead read {read}")]
    Size {
        index: i32,
        expected: usize,
        read: usize,
    },
    #[error("Incorrect declared batch size: the header says {declared} records but the batch holds {found}")]
    Count { declared: i32, found: i32 },
    #[error("Incorrect declared batch size, records still remaining after the {declared} declared ({left} bytes)")]
    Trailing { declared: i32, left: usize },
    #[error("Record {index} has offset delta {delta}; the offset deltas of a batch must be 0, 1, 2, ...")]
    OffsetDelta { index: i32, delta: i32 },
    #[error("Record {index} has a timestamp that overflows: base {base} + delta {delta}")]
    Timestamp { index: i32, base: i64, delta: i64 },
    #[error("Compacted topic cannot accept message without key in topic partition {0}.")]
    NullKeyOnCompacted(String),
    #[error("The batch's records do not decompress ({codec}): {reason}")]
    Decompress { codec: &'static str, reason: String },
    #[error("The batch decompresses to more than {MAX_DECOMPRESSED_BYTES} bytes")]
    TooLarge,
    #[error("Unknown compression codec {0}")]
    Codec(i16),
}

/// Checks every record of `batch` (whose header is `header`). `compacted_partition` names the
/// partition when its topic is compacted: then every record needs a key.
pub fn validate_records(
    header: &BatchHeader,
    batch: &[u8],
    compacted_partition: Option<&str>,
) -> Result<(), RecordError> {
    let records = &batch[HEADER_LEN.min(batch.len())..header.total_len().min(batch.len())];
    let decompressed;
    let records = match header.compression() {
        0 => records,
        codec => {
            decompressed = decompress(codec, records)?;
            decompressed.as_slice()
        }
    };
    walk(header, records, compacted_partition)
}

fn walk(
    header: &BatchHeader,
    mut rest: &[u8],
    compacted_partition: Option<&str>,
) -> Result<(), RecordError> {
    let declared = header.record_count;
    let mut index = 0i32;
    while index < declared {
        if rest.is_empty() {
            return Err(RecordError::Count {
                declared,
                found: index,
            });
        }
        let structure = |reason| RecordError::Structure { index, reason };
        let length = read_varint(&mut rest).ok_or(structure("its length is not a varint"))?;
        let length = usize::try_from(length).map_err(|_| structure("its length is negative"))?;
        if length > rest.len() {
            return Err(RecordError::Size {
                index,
                expected: length,
                read: rest.len(),
            });
        }
        let (mut record, after) = rest.split_at(length);
        rest = after;
        let take = |record: &mut &[u8], n: usize| -> Option<()> {
            *record = record.get(n..)?;
            Some(())
        };
        take(&mut record, 1).ok_or(structure("it ends before its attributes"))?;
        let timestamp_delta =
            read_varlong(&mut record).ok_or(structure("its timestamp delta is not a varlong"))?;
        if header.base_timestamp.checked_add(timestamp_delta).is_none() {
            return Err(RecordError::Timestamp {
                index,
                base: header.base_timestamp,
                delta: timestamp_delta,
            });
        }
        let offset_delta =
            read_varint(&mut record).ok_or(structure("its offset delta is not a varint"))?;
        if offset_delta != index {
            return Err(RecordError::OffsetDelta {
                index,
                delta: offset_delta,
            });
        }
        let key = read_bytes(&mut record).ok_or(structure("its key length is invalid"))?;
        if key.is_none() {
            if let Some(partition) = compacted_partition {
                return Err(RecordError::NullKeyOnCompacted(partition.to_string()));
            }
        }
        read_bytes(&mut record).ok_or(structure("its value length is invalid"))?;
        let headers = read_varint(&mut record).ok_or(structure("its header count is invalid"))?;
        if headers < 0 || headers as usize > record.len() {
            return Err(structure("its header count is invalid"));
        }
        for _ in 0..headers {
            match read_bytes(&mut record) {
                Some(Some(_)) => {}
                _ => return Err(structure("a header key length is invalid")),
            }
            read_bytes(&mut record).ok_or(structure("a header value length is invalid"))?;
        }
        if !record.is_empty() {
            return Err(RecordError::Size {
                index,
                expected: length,
                read: length - record.len(),
            });
        }
        index += 1;
    }
    if !rest.is_empty() {
        return Err(RecordError::Trailing {
            declared,
            left: rest.len(),
        });
    }
    Ok(())
}

/// A zig-zag varint of at most 5 bytes, as Kafka writes record fields.
fn read_varint(buf: &mut &[u8]) -> Option<i32> {
    let raw = read_unsigned(buf, 5)?;
    let raw = u32::try_from(raw).ok()?;
    Some(((raw >> 1) as i32) ^ -((raw & 1) as i32))
}

/// A zig-zag varint of at most 10 bytes.
fn read_varlong(buf: &mut &[u8]) -> Option<i64> {
    let raw = read_unsigned(buf, 10)?;
    Some(((raw >> 1) as i64) ^ -((raw & 1) as i64))
}

fn read_unsigned(buf: &mut &[u8], max_bytes: usize) -> Option<u64> {
    let mut value = 0u64;
    for i in 0..max_bytes {
        let (&byte, rest) = buf.split_first()?;
        *buf = rest;
        value |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Some(value);
        }
    }
    None
}

/// A length-prefixed byte string: `Some(None)` for the null length -1, `None` when malformed.
fn read_bytes<'a>(buf: &mut &'a [u8]) -> Option<Option<&'a [u8]>> {
    let length = read_varint(buf)?;
    if length == -1 {
        return Some(None);
    }
    let length = usize::try_from(length).ok()?;
    let (bytes, rest) = (buf.get(..length)?, buf.get(length..)?);
    *buf = rest;
    Some(Some(bytes))
}

/// The records of a compressed batch, decompressed within [`MAX_DECOMPRESSED_BYTES`].
fn decompress(codec: i16, compressed: &[u8]) -> Result<Vec<u8>, RecordError> {
    let (name, reader): (&'static str, Box<dyn Read + '_>) = match codec {
        1 => ("gzip", Box::new(flate2::read::GzDecoder::new(compressed))),
        2 => return snappy(compressed),
        3 => (
            "lz4",
            Box::new(
                lz4::Decoder::new(compressed).map_err(|e| RecordError::Decompress {
                    codec: "lz4",
                    reason: e.to_string(),
                })?,
            ),
        ),
        4 => (
            "zstd",
            Box::new(zstd::stream::read::Decoder::new(compressed).map_err(|e| {
                RecordError::Decompress {
                    codec: "zstd",
                    reason: e.to_string(),
                }
            })?),
        ),
        other => return Err(RecordError::Codec(other)),
    };
    bounded(name, reader)
}

fn bounded(codec: &'static str, reader: impl Read) -> Result<Vec<u8>, RecordError> {
    let mut out = Vec::new();
    reader
        .take(MAX_DECOMPRESSED_BYTES as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| RecordError::Decompress {
            codec,
            reason: e.to_string(),
        })?;
    if out.len() > MAX_DECOMPRESSED_BYTES {
        return Err(RecordError::TooLarge);
    }
    Ok(out)
}

/// Kafka's snappy: the xerial framing Java clients and librdkafka write (a magic header, then
/// blocks each preceded by its length), or a single raw block from other clients.
fn snappy(compressed: &[u8]) -> Result<Vec<u8>, RecordError> {
    const XERIAL: &[u8] = b"\x82SNAPPY\x00";
    let error = |reason: String| RecordError::Decompress {
        codec: "snappy",
        reason,
    };
    let mut decoder = snap::raw::Decoder::new();
    let mut block = |bytes: &[u8], out: &mut Vec<u8>| -> Result<(), RecordError> {
        let size = snap::raw::decompress_len(bytes).map_err(|e| error(e.to_string()))?;
        if out.len() + size > MAX_DECOMPRESSED_BYTES {
            return Err(RecordError::TooLarge);
        }
        let start = out.len();
        out.resize(start + size, 0);
        decoder
            .decompress(bytes, &mut out[start..])
            .map_err(|e| error(e.to_string()))?;
        Ok(())
    };
    let mut out = Vec::new();
    let Some(mut rest) = compressed.strip_prefix(XERIAL) else {
        block(compressed, &mut out)?;
        return Ok(out);
    };
    // Version and compatible version, then the blocks.
    rest = rest
        .get(8..)
        .ok_or_else(|| error("the xerial header is cut short".into()))?;
    while !rest.is_empty() {
        let length = rest
            .get(..4)
            .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize)
            .ok_or_else(|| error("a block length is cut short".into()))?;
        let bytes = rest
            .get(4..4 + length)
            .ok_or_else(|| error("a block is cut short".into()))?;
        block(bytes, &mut out)?;
        rest = &rest[4 + length..];
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::batch::{self, test_support};

    fn check(batch: &[u8], compacted: bool) -> Result<(), RecordError> {
        let header = batch::parse_framed(batch).expect("framed");
        validate_records(&header, batch, compacted.then_some("t-0"))
    }

    /// Sets the header's record count and last offset delta, and fixes the CRC.
    fn claim(batch: &mut [u8], count: i32) {
        batch[57..61].copy_from_slice(&count.to_be_bytes());
        batch[23..27].copy_from_slice(&(count - 1).to_be_bytes());
        let crc = batch::compute_crc(batch);
        batch[17..21].copy_from_slice(&crc.to_be_bytes());
    }

    #[test]
    fn well_formed_batches_pass_in_every_codec() {
        let plain = test_support::batch(5, b"value", 1_700_000_000_000);
        assert_eq!(check(&plain, false), Ok(()));
        let keyed: Vec<_> = (0..100)
            .map(|_| {
                (
                    Some(bytes::Bytes::from_static(b"k")),
                    Some(bytes::Bytes::from_static(b"v")),
                )
            })
            .collect();
        for compression in [
            kafka_protocol::records::Compression::None,
            kafka_protocol::records::Compression::Gzip,
            kafka_protocol::records::Compression::Snappy,
            kafka_protocol::records::Compression::Lz4,
            kafka_protocol::records::Compression::Zstd,
        ] {
            let encoded = batch::encode_keyed(&keyed, 1, compression).expect("encode");
            assert_eq!(check(&encoded, true), Ok(()), "{compression:?}");
        }
    }

    #[test]
    fn a_count_the_records_do_not_back_is_refused() {
        let mut one = test_support::batch(1, b"v", 0);
        claim(&mut one, i32::MAX);
        assert_eq!(
            check(&one, false),
            Err(RecordError::Count {
                declared: i32::MAX,
                found: 1
            })
        );
        let mut three = test_support::batch(3, b"v", 0);
        claim(&mut three, 2);
        assert!(matches!(
            check(&three, false),
            Err(RecordError::Trailing { declared: 2, .. })
        ));
    }

    #[test]
    fn garbage_records_behind_a_valid_crc_are_refused() {
        let mut batch = test_support::batch(2, b"value", 0);
        for byte in &mut batch[HEADER_LEN..] {
            *byte = 0xff;
        }
        let crc = batch::compute_crc(&batch);
        batch[17..21].copy_from_slice(&crc.to_be_bytes());
        assert!(matches!(
            check(&batch, false),
            Err(RecordError::Structure { index: 0, .. })
        ));
    }

    #[test]
    fn null_keys_on_a_compacted_topic_and_bad_offset_deltas_are_refused() {
        let plain = test_support::batch(2, b"v", 0);
        assert_eq!(
            check(&plain, true),
            Err(RecordError::NullKeyOnCompacted("t-0".into()))
        );
        let mut shifted = plain.clone();
        // The second record's offset delta (after its length, attributes and timestamp delta).
        let second = HEADER_LEN + 1 + usize::from(plain[HEADER_LEN]) / 2;
        shifted[second + 3] = 2 * 7;
        let crc = batch::compute_crc(&shifted);
        shifted[17..21].copy_from_slice(&crc.to_be_bytes());
        assert_eq!(
            check(&shifted, false),
            Err(RecordError::OffsetDelta { index: 1, delta: 7 })
        );
    }

    #[test]
    fn decompression_bombs_stop_at_the_bound() {
        let zeros = vec![0u8; MAX_DECOMPRESSED_BYTES + 1024];
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        std::io::Write::write_all(&mut encoder, &zeros).expect("gzip");
        let compressed = encoder.finish().expect("gzip");
        assert_eq!(decompress(1, &compressed), Err(RecordError::TooLarge));
        assert!(matches!(
            decompress(1, b"not gzip"),
            Err(RecordError::Decompress { codec: "gzip", .. })
        ));
        assert_eq!(decompress(7, b""), Err(RecordError::Codec(7)));
    }
}
