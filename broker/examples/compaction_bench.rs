//! Compaction throughput: 1M keyed records of ~100 bytes where only 10% of the keys are live at
//! the end, cleaned in one pass. Reports MB/s next to a baseline measured in the same run: one
//! plain decoding read of the same log, which any cleaner must do at least twice.
//!
//!   cargo run --release -p sluice-broker --example compaction_bench [records]

use std::time::Instant;

use bytes::Bytes;
use kafka_protocol::records::Compression;
use sluice_broker::log::batch::{self, BatchHeader};
use sluice_broker::log::compaction::{self, CompactionPolicy};
use sluice_broker::log::{LogPolicy, PartitionLog};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let total: usize = std::env::args()
        .nth(1)
        .map(|n| n.parse())
        .transpose()?
        .unwrap_or(1_000_000);
    let keys = total / 10;
    let dir = tempfile::tempdir()?;
    let policy = LogPolicy {
        segment_bytes: 64 << 20,
        ..LogPolicy::default()
    };
    let (mut log, _) = PartitionLog::open(dir.path(), false, &policy)?;
    let value = Bytes::from(vec![b'v'; 80]);
    let per_batch = 500;
    for start in (0..total).step_by(per_batch) {
        let records: Vec<_> = (start..(start + per_batch).min(total))
            .map(|n| {
                (
                    Some(Bytes::from(format!("key-{:08}", n % keys))),
                    Some(value.clone()),
                )
            })
            .collect();
        let buf = batch::encode_keyed(&records, 1, Compression::None)?;
        log.append(&BatchHeader::parse(&buf)?, &buf, &policy, 0)?;
    }
    log.roll(0)?;
    let bytes = log.size_bytes();
    let mb = bytes as f64 / 1e6;

    let started = Instant::now();
    let mut read = 0usize;
    log.for_each_record(0, |_| read += 1)?;
    let baseline = started.elapsed().as_secs_f64();

    let compaction = CompactionPolicy {
        min_cleanable_dirty_ratio: 0.0,
        min_compaction_lag_ms: 0,
        max_compaction_lag_ms: i64::MAX,
        delete_retention_ms: 0,
    };
    let started = Instant::now();
    let plan = log.clean_plan(&compaction, 10).ok_or("nothing to clean")?;
    let cleaned = compaction::clean(&plan, &compaction, 10)?;
    let after: u64 = cleaned.iter().map(|c| c.bytes_after).sum();
    log.install_cleaned(cleaned, plan.clean_to)?;
    let took = started.elapsed().as_secs_f64();
    let mut live = 0usize;
    log.for_each_record(0, |_| live += 1)?;

    println!("records: {total} ({keys} keys), log: {mb:.1} MB, after compaction: {:.1} MB, {live} records", after as f64 / 1e6);
    println!(
        "baseline (decode the whole log once): {baseline:.2} s = {:.0} MB/s",
        mb / baseline
    );
    println!(
        "compaction: {took:.2} s = {:.0} MB/s = {:.2}x the baseline rate",
        mb / took,
        baseline / took
    );
    if read != total || live != keys {
        return Err(format!(
            "expected {total} records before and {keys} after, saw {read} and {live}"
        )
        .into());
    }
    Ok(())
}
