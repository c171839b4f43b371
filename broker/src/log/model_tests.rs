//! Model-based test of the partition log: random appends, rolls, retention, reopens (clean and
//! after a crash) and torn tails, checked against a plain in-memory list of records.

use std::fs::OpenOptions;
use std::io::Write;

use bytes::Bytes;
use kafka_protocol::records::RecordBatchDecoder;
use proptest::prelude::*;

use super::batch::test_support::batch;
use super::batch::BatchHeader;
use super::recovery_point::RecoveryPoint;
use super::{LogPolicy, PartitionLog};

#[derive(Debug, Clone)]
enum Op {
    Append {
        records: i32,
        value_len: usize,
    },
    Roll,
    Retain {
        bytes: i64,
    },
    Reopen {
        clean: bool,
    },
    /// A crash in the middle of writing a batch: its start reaches the disk, its end does not.
    TornAppend {
        records: i32,
        keep: usize,
    },
    /// A crash after garbage reached the end of the file.
    Garbage {
        len: usize,
    },
    /// An fsync whose reach is written down as the recovery point, as the broker does.
    Checkpoint,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (1..20i32, 0..300usize).prop_map(|(records, value_len)| Op::Append { records, value_len }),
        1 => Just(Op::Roll),
        1 => (0..4000i64).prop_map(|bytes| Op::Retain { bytes }),
        1 => any::<bool>().prop_map(|clean| Op::Reopen { clean }),
        1 => (1..10i32, 1..200usize).prop_map(|(records, keep)| Op::TornAppend { records, keep }),
        1 => (1..100usize).prop_map(|len| Op::Garbage { len }),
        2 => Just(Op::Checkpoint),
    ]
}

/// Every record in the log, read the way a consumer would: fetch from the start, decode, repeat.
fn read_all(log: &PartitionLog) -> Vec<(i64, Bytes)> {
    let mut out = Vec::new();
    let mut offset = log.log_start_offset();
    while offset < log.log_end_offset() {
        let bytes = log
            .read_start(offset)
            .expect("in range")
            .read(1000)
            .expect("read");
        assert!(!bytes.is_empty(), "no progress at offset {offset}");
        let mut buf = bytes;
        while !buf.is_empty() {
            let set = RecordBatchDecoder::decode(&mut buf).expect("decodes");
            for r in set.records {
                if r.offset >= offset {
                    out.push((r.offset, r.value.unwrap_or_default()));
                }
            }
        }
        offset = out.last().map_or(offset, |(o, _)| o + 1);
    }
    out
}

/// Fsyncs the active segment and writes down how far that reached.
fn checkpoint(log: &PartitionLog) {
    let target = log.sync_target();
    target.file.sync_data().expect("fsync");
    target.point.save(log.dir()).expect("save recovery point");
}

fn append_batches(log: &mut PartitionLog, policy: &LogPolicy, count: i64) {
    for i in 0..count {
        let b = batch(2, b"value", i);
        log.append(&BatchHeader::parse(&b).expect("header"), &b, policy, 0)
            .expect("append");
    }
}

/// Bytes that reached the end of the active segment without the log knowing: a crash's leftovers.
fn append_raw(dir: &std::path::Path, bytes: &[u8]) {
    let mut file = OpenOptions::new()
        .append(true)
        .open(active_log_file(dir))
        .expect("open file");
    file.write_all(bytes).expect("write");
}

fn active_log_file(dir: &std::path::Path) -> std::path::PathBuf {
    let mut logs: Vec<_> = std::fs::read_dir(dir)
        .expect("dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "log"))
        .collect();
    logs.sort();
    logs.pop().expect("a segment")
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn the_log_behaves_like_a_list(ops in proptest::collection::vec(op(), 1..40)) {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("t-0");
        let policy = LogPolicy { segment_bytes: 2048, index_interval_bytes: 256, ..LogPolicy::default() };
        let (mut log, _) = PartitionLog::open(&path, false, &policy).expect("open");
        let mut model: Vec<(i64, Bytes)> = Vec::new();
        let mut next = 0i64;
        for (n, op) in ops.into_iter().enumerate() {
            match op {
                Op::Append { records, value_len } => {
                    let value = vec![b'a' + (n % 26) as u8; value_len];
                    let b = batch(records, &value, 1000 + n as i64);
                    let header = BatchHeader::parse(&b).expect("header");
                    let base = log.append(&header, &b, &policy, 0).expect("append");
                    prop_assert_eq!(base, next);
                    for i in 0..records {
                        model.push((next + i64::from(i), Bytes::from(value.clone())));
                    }
                    next += i64::from(records);
                }
                Op::Roll => log.roll(0).expect("roll"),
                Op::Retain { bytes } => {
                    let before = log.log_start_offset();
                    let retention = LogPolicy { retention_bytes: bytes, retention_ms: -1, ..policy };
                    log.enforce_retention(&retention, 0).expect("retention");
                    prop_assert!(log.log_start_offset() >= before);
                    // What Kafka promises: dropping the oldest remaining segment would go below the limit.
                    if log.segment_count() > 1 {
                        prop_assert!(((log.size_bytes() - log.first_segment_size()) as i64) < bytes);
                    }
                    let start = log.log_start_offset();
                    model.retain(|(o, _)| *o >= start);
                }
                Op::Reopen { clean } => {
                    if clean {
                        log.close().expect("close");
                    }
                    drop(log);
                    let (reopened, report) = PartitionLog::open(&path, clean, &policy).expect("reopen");
                    prop_assert_eq!(report.truncated_bytes, 0);
                    log = reopened;
                }
                Op::TornAppend { records, keep } => {
                    let b = batch(records, b"torn", 5);
                    let keep = keep.min(b.len() - 1);
                    drop(log);
                    append_raw(&path, &b[..keep]);
                    let (reopened, report) = PartitionLog::open(&path, false, &policy).expect("recover");
                    prop_assert_eq!(report.truncated_bytes, keep as u64);
                    log = reopened;
                }
                Op::Checkpoint => checkpoint(&log),
                Op::Garbage { len } => {
                    drop(log);
                    append_raw(&path, &vec![0xA5; len]);
                    let (reopened, report) = PartitionLog::open(&path, false, &policy).expect("recover");
                    prop_assert_eq!(report.truncated_bytes, len as u64);
                    log = reopened;
                }
            }
            prop_assert_eq!(log.log_end_offset(), next);
            let start = log.log_start_offset();
            prop_assert!(model.first().is_none_or(|(o, _)| *o >= start));
            prop_assert_eq!(read_all(&log), model.clone());
        }
    }
}

#[test]
fn a_corrupt_byte_in_the_last_batch_cuts_it_off_after_a_crash() {
    let dir = tempfile::tempdir().expect("tempdir");
    let policy = LogPolicy::default();
    let (mut log, _) = PartitionLog::open(dir.path(), false, &policy).expect("open");
    append_batches(&mut log, &policy, 3);
    drop(log);
    corrupt_value_byte(dir.path(), 3);
    let (log, report) = PartitionLog::open(dir.path(), false, &policy).expect("recover");
    assert!(report.truncated_bytes > 0);
    assert_eq!(log.log_end_offset(), 4);
    assert_eq!(read_all(&log).len(), 4);
}

/// Flips a byte inside a record's value, `from_end` bytes before the end of the active segment:
/// the batch header stays whole, its CRC no longer matches.
fn corrupt_value_byte(dir: &std::path::Path, from_end: usize) {
    let file = active_log_file(dir);
    let mut bytes = std::fs::read(&file).expect("read");
    let at = bytes.len() - from_end;
    bytes[at] ^= 0xFF;
    std::fs::write(&file, &bytes).expect("write");
}

#[test]
fn after_a_crash_only_what_follows_the_recovery_point_is_crc_checked() {
    let dir = tempfile::tempdir().expect("tempdir");
    let policy = LogPolicy::default();
    let (mut log, _) = PartitionLog::open(dir.path(), false, &policy).expect("open");
    append_batches(&mut log, &policy, 2);
    checkpoint(&log);
    append_batches(&mut log, &policy, 1);
    let batch_len = batch(2, b"value", 0).len();
    drop(log);
    // The second batch is before the recovery point: a flipped byte there is not looked for,
    // as Kafka does not re-check what precedes its recovery point. The third is after it.
    corrupt_value_byte(dir.path(), batch_len + 3);
    corrupt_value_byte(dir.path(), 3);
    let (mut log, report) = PartitionLog::open(dir.path(), false, &policy).expect("recover");
    assert_eq!(
        report.truncated_bytes, batch_len as u64,
        "only the checked one was cut"
    );
    assert_eq!(log.log_end_offset(), 4);
    // What recovery checked is now covered by the point: a second crash re-checks only what
    // was appended after it.
    assert_eq!(
        RecoveryPoint::load(dir.path()),
        Some(RecoveryPoint {
            segment_base: 0,
            position: 2 * batch_len as u64
        })
    );
    append_batches(&mut log, &policy, 1);
    drop(log);
    let (log, report) = PartitionLog::open(dir.path(), false, &policy).expect("recover");
    assert_eq!(report.truncated_bytes, 0);
    assert_eq!(log.log_end_offset(), 6);
}

#[test]
fn a_recovery_point_inside_a_batch_or_another_segment_checks_from_a_batch_start() {
    let dir = tempfile::tempdir().expect("tempdir");
    let policy = LogPolicy::default();
    let (mut log, _) = PartitionLog::open(dir.path(), false, &policy).expect("open");
    append_batches(&mut log, &policy, 2);
    let batch_len = batch(2, b"value", 0).len() as u64;
    // A point halfway into the second batch: that batch is checked, and its corruption found.
    RecoveryPoint {
        segment_base: 0,
        position: batch_len + batch_len / 2,
    }
    .save(dir.path())
    .expect("save");
    drop(log);
    corrupt_value_byte(dir.path(), 3);
    let (mut log, report) = PartitionLog::open(dir.path(), false, &policy).expect("recover");
    assert_eq!(report.truncated_bytes, batch_len);
    assert_eq!(log.log_end_offset(), 2);
    // A point for a segment that is no longer the active one trusts nothing in the new one.
    checkpoint(&log);
    log.roll(0).expect("roll");
    append_batches(&mut log, &policy, 1);
    drop(log);
    corrupt_value_byte(dir.path(), 3);
    let (mut log, report) = PartitionLog::open(dir.path(), false, &policy).expect("recover");
    assert_eq!(report.truncated_bytes, batch_len);
    assert_eq!(log.log_end_offset(), 2);
    // A point past the end of the file (the file shrank underneath it) trusts only whole batches.
    append_batches(&mut log, &policy, 1);
    RecoveryPoint {
        segment_base: 2,
        position: 1 << 20,
    }
    .save(dir.path())
    .expect("save");
    drop(log);
    append_raw(dir.path(), &[0xA5; 100]);
    let (log, report) = PartitionLog::open(dir.path(), false, &policy).expect("recover");
    assert_eq!(report.truncated_bytes, 100);
    assert_eq!(log.log_end_offset(), 4);
    assert_eq!(read_all(&log).len(), 4);
}

#[test]
fn reads_outside_the_log_are_out_of_range() {
    let dir = tempfile::tempdir().expect("tempdir");
    let policy = LogPolicy::default();
    let (mut log, _) = PartitionLog::open(dir.path(), false, &policy).expect("open");
    let b = batch(5, b"v", 1);
    log.append(&BatchHeader::parse(&b).expect("header"), &b, &policy, 0)
        .expect("append");
    assert!(log.read_start(6).is_err());
    assert!(log.read_start(-1).is_err());
    assert!(log
        .read_start(5)
        .expect("end")
        .read(100)
        .expect("read")
        .is_empty());
    // An offset inside a batch returns the whole batch.
    let bytes = log.read_start(3).expect("in range").read(1).expect("read");
    assert_eq!(bytes.len(), b.len());
}

#[test]
fn timestamps_find_the_first_record_at_or_after() {
    let dir = tempfile::tempdir().expect("tempdir");
    let policy = LogPolicy {
        segment_bytes: 300,
        index_interval_bytes: 100,
        ..LogPolicy::default()
    };
    let (mut log, _) = PartitionLog::open(dir.path(), false, &policy).expect("open");
    for ts in [100, 200, 300, 400, 500, 600] {
        let b = batch(2, b"0123456789", ts);
        log.append(&BatchHeader::parse(&b).expect("header"), &b, &policy, 0)
            .expect("append");
    }
    assert!(log.segment_count() > 1);
    assert_eq!(
        log.offset_for_timestamp(50).expect("lookup"),
        Some((0, 100))
    );
    assert_eq!(
        log.offset_for_timestamp(300).expect("lookup"),
        Some((4, 300))
    );
    assert_eq!(
        log.offset_for_timestamp(301).expect("lookup"),
        Some((6, 400))
    );
    assert_eq!(log.offset_for_timestamp(601).expect("lookup"), None);
    assert_eq!(log.max_timestamp_offset().expect("lookup"), Some((10, 600)));
}

#[test]
fn time_retention_deletes_expired_segments_and_rolls_an_expired_active_one() {
    let dir = tempfile::tempdir().expect("tempdir");
    let policy = LogPolicy {
        segment_bytes: 200,
        retention_ms: 1000,
        ..LogPolicy::default()
    };
    let (mut log, _) = PartitionLog::open(dir.path(), false, &policy).expect("open");
    for ts in [1000, 1000, 5000, 5000] {
        let b = batch(1, &[b'x'; 100], ts);
        log.append(&BatchHeader::parse(&b).expect("header"), &b, &policy, 0)
            .expect("append");
    }
    assert_eq!(log.enforce_retention(&policy, 5500).expect("retention"), 2);
    assert_eq!(log.log_start_offset(), 2);
    assert_eq!(
        log.enforce_retention(&policy, 100_000).expect("retention"),
        2
    );
    assert_eq!((log.log_start_offset(), log.log_end_offset()), (4, 4));
}

#[test]
fn producer_state_is_rebuilt_from_the_log_after_a_crash() {
    let dir = tempfile::tempdir().expect("tempdir");
    let policy = LogPolicy::default();
    let idempotent = |seq: i32| {
        let mut b = batch(2, b"v", 1);
        b[43..51].copy_from_slice(&77i64.to_be_bytes()); // producer id
        b[51..53].copy_from_slice(&0i16.to_be_bytes()); // epoch
        b[53..57].copy_from_slice(&seq.to_be_bytes()); // base sequence
        let crc = super::batch::compute_crc(&b);
        b[17..21].copy_from_slice(&crc.to_be_bytes());
        b
    };
    let (mut log, _) = PartitionLog::open(dir.path(), false, &policy).expect("open");
    for seq in [0, 2] {
        let b = idempotent(seq);
        log.append(&BatchHeader::parse(&b).expect("header"), &b, &policy, 0)
            .expect("append");
    }
    // No close, so no snapshot: the state must come from the batches themselves.
    drop(log);
    let (mut log, _) = PartitionLog::open(dir.path(), false, &policy).expect("recover");
    let retry = idempotent(2);
    let base = log
        .append(
            &BatchHeader::parse(&retry).expect("header"),
            &retry,
            &policy,
            0,
        )
        .expect("append");
    assert_eq!(
        (base, log.log_end_offset()),
        (2, 4),
        "the retry is a duplicate of offset 2"
    );
    let gap = idempotent(9);
    assert!(log
        .append(&BatchHeader::parse(&gap).expect("header"), &gap, &policy, 0)
        .is_err());
}
