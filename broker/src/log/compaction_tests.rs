//! Property and crash tests of compaction: whatever the writes, rolls, restarts and cleanings,
//! reading the topic from the start yields the latest value of every live key, in offset order.

use std::collections::BTreeMap;

use kafka_protocol::records::RecordBatchDecoder;
use proptest::prelude::*;

use super::batch::test_support::keyed_batch;
use super::batch::BatchHeader;
use super::compaction::{self, CompactionPolicy};
use super::{LogPolicy, PartitionLog};

type Key = Vec<u8>;
type Value = Option<Vec<u8>>;

#[derive(Debug, Clone)]
enum Op {
    Write(Vec<(u8, Option<u8>)>),
    Roll,
    Compact { drop_tombstones: bool },
    Reopen { clean: bool },
}

fn op() -> impl Strategy<Value = Op> {
    let record = (0..6u8, proptest::option::weighted(0.8, any::<u8>()));
    prop_oneof![
        6 => proptest::collection::vec(record, 1..6).prop_map(Op::Write),
        2 => Just(Op::Roll),
        2 => any::<bool>().prop_map(|drop_tombstones| Op::Compact { drop_tombstones }),
        1 => any::<bool>().prop_map(|clean| Op::Reopen { clean }),
    ]
}

/// (offset, key, value) of every record, read from the start as a consumer would.
fn read_all(log: &PartitionLog) -> Vec<(i64, Key, Value)> {
    let mut out = Vec::new();
    log.for_each_record(log.log_start_offset(), |r| {
        out.push((
            r.offset,
            r.key.map(|k| k.to_vec()).unwrap_or_default(),
            r.value.map(|v| v.to_vec()),
        ));
    })
    .expect("read");
    out
}

fn compact(log: &mut PartitionLog, drop_tombstones: bool) {
    let policy = CompactionPolicy {
        min_cleanable_dirty_ratio: 0.0,
        min_compaction_lag_ms: 0,
        max_compaction_lag_ms: i64::MAX,
        delete_retention_ms: if drop_tombstones { 0 } else { i64::MAX / 4 },
    };
    let now = 1_000_000_000;
    if let Some(plan) = log.clean_plan(&policy, now) {
        let cleaned = compaction::clean(&plan, &policy, now).expect("clean");
        log.install_cleaned(cleaned, plan.clean_to)
            .expect("install");
    }
}

fn write(log: &mut PartitionLog, records: &[(Key, Value)], policy: &LogPolicy, ts: i64) -> i64 {
    let b = keyed_batch(records, ts);
    log.append(&BatchHeader::parse(&b).expect("header"), &b, policy, 0)
        .expect("append")
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn compaction_keeps_the_latest_value_of_every_live_key(ops in proptest::collection::vec(op(), 1..40)) {
        let dir = tempfile::tempdir().expect("tempdir");
        let policy = LogPolicy { segment_bytes: 300, index_interval_bytes: 64, ..LogPolicy::default() };
        let (mut log, _) = PartitionLog::open(dir.path(), false, &policy).expect("open");
        let mut written: BTreeMap<i64, (Key, Value)> = BTreeMap::new();
        for (n, op) in ops.into_iter().enumerate() {
            match op {
                Op::Write(records) => {
                    let records: Vec<(Key, Value)> = records
                        .into_iter()
                        .map(|(k, v)| (vec![b'k', k], v.map(|v| vec![v; 1 + usize::from(v % 7)])))
                        .collect();
                    let base = write(&mut log, &records, &policy, 1000 + n as i64);
                    for (i, r) in records.into_iter().enumerate() {
                        written.insert(base + i as i64, r);
                    }
                }
                Op::Roll => log.roll(0).expect("roll"),
                Op::Compact { drop_tombstones } => compact(&mut log, drop_tombstones),
                Op::Reopen { clean } => {
                    if clean {
                        log.close().expect("close");
                    }
                    drop(log);
                    log = PartitionLog::open(dir.path(), clean, &policy).expect("reopen").0;
                }
            }
            let read = read_all(&log);
            // Offsets only grow, and every record read is one that was written at that offset.
            prop_assert!(read.windows(2).all(|w| w[0].0 < w[1].0));
            for (offset, key, value) in &read {
                prop_assert_eq!(written.get(offset), Some(&(key.clone(), value.clone())));
            }
            // Folding what a consumer reads gives the latest value of every live key.
            let mut seen: BTreeMap<Key, Value> = BTreeMap::new();
            for (_, k, v) in read {
                seen.insert(k, v);
            }
            let mut latest: BTreeMap<Key, Value> = BTreeMap::new();
            for (k, v) in written.values() {
                latest.insert(k.clone(), v.clone());
            }
            let live = |m: &BTreeMap<Key, Value>| -> BTreeMap<Key, Vec<u8>> {
                m.iter().filter_map(|(k, v)| v.clone().map(|v| (k.clone(), v))).collect()
            };
            prop_assert_eq!(live(&seen), live(&latest));
            prop_assert_eq!(log.log_end_offset(), written.keys().next_back().map_or(0, |o| o + 1));
        }
    }
}

fn log_with_history(dir: &std::path::Path) -> (PartitionLog, LogPolicy) {
    let policy = LogPolicy {
        segment_bytes: 200,
        ..LogPolicy::default()
    };
    let (mut log, _) = PartitionLog::open(dir, false, &policy).expect("open");
    for round in 0..10u8 {
        for key in 0..3u8 {
            write(
                &mut log,
                &[(vec![key], Some(vec![round; 20]))],
                &policy,
                1000,
            );
        }
    }
    (log, policy)
}

#[test]
fn a_crash_before_the_swap_keeps_the_original_and_no_leftovers() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (log, policy) = log_with_history(dir.path());
    let before = read_all(&log);
    let policy_now = CompactionPolicy {
        min_cleanable_dirty_ratio: 0.0,
        min_compaction_lag_ms: 0,
        max_compaction_lag_ms: i64::MAX,
        delete_retention_ms: 0,
    };
    let plan = log.clean_plan(&policy_now, 1_000_000).expect("a plan");
    let cleaned = compaction::clean(&plan, &policy_now, 1_000_000).expect("clean");
    assert!(!cleaned.is_empty());
    drop(log); // the crash: cleaned files exist, nothing was swapped
    let (log, _) = PartitionLog::open(dir.path(), false, &policy).expect("reopen");
    assert_eq!(read_all(&log), before);
    let leftovers = std::fs::read_dir(dir.path())
        .expect("dir")
        .filter(|e| {
            e.as_ref()
                .is_ok_and(|e| e.file_name().to_string_lossy().ends_with(".cleaned"))
        })
        .count();
    assert_eq!(leftovers, 0);
}

#[test]
fn a_crash_after_the_swap_rebuilds_indexes_and_keeps_the_compacted_log() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut log, policy) = log_with_history(dir.path());
    compact(&mut log, true);
    let compacted = read_all(&log);
    assert!(
        compacted.len() < 30,
        "compaction removed superseded records"
    );
    drop(log);
    // As if the crash came between the rename and the new indexes.
    for entry in std::fs::read_dir(dir.path()).expect("dir") {
        let path = entry.expect("entry").path();
        if path
            .extension()
            .is_some_and(|e| e == "index" || e == "timeindex")
        {
            std::fs::remove_file(path).expect("remove");
        }
    }
    let (log, _) = PartitionLog::open(dir.path(), false, &policy).expect("reopen");
    assert_eq!(read_all(&log), compacted);
    let keys: Vec<_> = compacted.iter().map(|(_, k, _)| k.clone()).collect();
    for key in 0..3u8 {
        assert!(keys.contains(&vec![key]), "key {key} lost");
    }
}

#[test]
fn compressed_batches_survive_partial_cleaning() {
    use kafka_protocol::records::Compression;
    let dir = tempfile::tempdir().expect("tempdir");
    let policy = LogPolicy {
        segment_bytes: 200,
        ..LogPolicy::default()
    };
    let (mut log, _) = PartitionLog::open(dir.path(), false, &policy).expect("open");
    let records: Vec<_> = (0..4u8)
        .map(|i| {
            (
                Some(bytes::Bytes::from(vec![i % 2])),
                Some(bytes::Bytes::from(vec![i; 50])),
            )
        })
        .collect();
    let buf = super::batch::encode_keyed(&records, 5, Compression::Gzip).expect("encode");
    let b = buf.to_vec();
    log.append(&BatchHeader::parse(&b).expect("header"), &b, &policy, 0)
        .expect("append");
    write(&mut log, &[(vec![9], Some(vec![9]))], &policy, 5);
    log.roll(0).expect("roll");
    compact(&mut log, false);
    let read = read_all(&log);
    let offsets: Vec<i64> = read.iter().map(|r| r.0).collect();
    assert_eq!(
        offsets,
        [2, 3, 4],
        "offsets 2 and 3 are the latest of keys 0 and 1"
    );
    // The kept records are still gzip-compressed on disk.
    let bytes = log
        .read_start(2)
        .expect("start")
        .read(1 << 20)
        .expect("read");
    let header = BatchHeader::parse(&bytes).expect("header");
    assert_eq!(header.compression(), 1);
    assert!(RecordBatchDecoder::decode(&mut bytes.clone()).is_ok());
}

#[test]
fn overdue_dirty_data_is_cleaned_below_the_ratio_and_progress_survives_a_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut log, policy) = log_with_history(dir.path());
    let strict = CompactionPolicy {
        min_cleanable_dirty_ratio: 1.1, // never reached
        min_compaction_lag_ms: 0,
        max_compaction_lag_ms: i64::MAX,
        delete_retention_ms: 0,
    };
    assert!(
        log.clean_plan(&strict, 1_000_000).is_none(),
        "not dirty enough, not overdue"
    );
    let overdue = CompactionPolicy {
        max_compaction_lag_ms: 10,
        ..strict
    };
    let plan = log
        .clean_plan(&overdue, 1_000_000)
        .expect("overdue data is cleaned");
    let cleaned = compaction::clean(&plan, &overdue, 1_000_000).expect("clean");
    log.install_cleaned(cleaned, plan.clean_to)
        .expect("install");
    assert!(
        log.clean_plan(&overdue, 1_000_000).is_none(),
        "nothing dirty left"
    );
    log.close().expect("close");
    drop(log);
    let (log, _) = PartitionLog::open(dir.path(), true, &policy).expect("reopen");
    assert!(
        log.clean_plan(&overdue, 1_000_000).is_none(),
        "the checkpoint survived the restart"
    );
}
