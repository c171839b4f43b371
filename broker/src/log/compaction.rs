//! Log compaction: keep the latest record of every key in the sealed segments of a compacted
//! topic, keeping offsets (gaps are normal) and dropping tombstones once `delete.retention.ms`
//! has passed. The active segment is never touched.
//!
//! Each cleaned segment is written beside the original as `<base>.log.cleaned`, fsynced, and then
//! renamed over it, so a crash leaves either the old segment or the new one, never both.

use std::collections::HashMap;
use std::fs::{self, File};
use std::io::{self, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use kafka_protocol::records::{
    Compression, Record, RecordBatchDecoder, RecordBatchEncoder, RecordEncodeOptions,
};

use super::batch::{self, BatchHeader};
use super::index;
use super::partition::PartitionLog;
use super::segment::{self, Segment};

/// The topic configs compaction follows.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CompactionPolicy {
    pub min_cleanable_dirty_ratio: f64,
    pub min_compaction_lag_ms: i64,
    /// Dirty data older than this is cleaned whatever the dirty ratio.
    pub max_compaction_lag_ms: i64,
    pub delete_retention_ms: i64,
}

/// A sealed segment as the cleaner sees it, captured under the partition lock.
#[derive(Debug, Clone)]
pub struct SegmentView {
    base_offset: i64,
    size: u64,
    file: Arc<File>,
    path: PathBuf,
}

/// The sealed segments worth cleaning now, oldest first.
#[derive(Debug)]
pub struct CleanPlan {
    segments: Vec<SegmentView>,
    /// The end of the cleaned range: the first offset compaction will not look at.
    pub clean_to: i64,
}

/// A segment rewritten, waiting to replace its original.
#[derive(Debug)]
pub struct Cleaned {
    base_offset: i64,
    original_size: u64,
    cleaned_path: PathBuf,
    pub bytes_before: u64,
    pub bytes_after: u64,
}

impl PartitionLog {
    /// The segments to clean, if the dirty part of the log is large enough or has waited longer
    /// than `max.compaction.lag.ms`. Segments newer than `min.compaction.lag.ms` (and everything
    /// after them) are left alone.
    pub fn clean_plan(&self, policy: &CompactionPolicy, now_ms: i64) -> Option<CleanPlan> {
        let sealed = self.sealed_segments();
        let cleanable: Vec<&Segment> = sealed
            .iter()
            .take_while(|s| {
                s.max_timestamp < 0 || s.max_timestamp <= now_ms - policy.min_compaction_lag_ms
            })
            .copied()
            .collect();
        let total: u64 = cleanable.iter().map(|s| s.size).sum();
        let dirty: u64 = cleanable
            .iter()
            .filter(|s| s.base_offset >= self.cleaned_to)
            .map(|s| s.size)
            .sum();
        let overdue = cleanable.iter().any(|s| {
            s.base_offset >= self.cleaned_to
                && s.max_timestamp >= 0
                && s.max_timestamp < now_ms.saturating_sub(policy.max_compaction_lag_ms)
        });
        let dirty_enough =
            (dirty as f64) / (total.max(1) as f64) >= policy.min_cleanable_dirty_ratio;
        if total == 0 || dirty == 0 || !(dirty_enough || overdue) {
            return None;
        }
        let clean_to = cleanable.last().map(|s| s.next_offset)?;
        Some(CleanPlan {
            segments: cleanable
                .iter()
                .map(|s| SegmentView {
                    base_offset: s.base_offset,
                    size: s.size,
                    file: s.file(),
                    path: s.path().to_path_buf(),
                })
                .collect(),
            clean_to,
        })
    }

    /// Swaps cleaned segments in for their originals. A segment that changed meanwhile (deleted
    /// by retention) keeps its original and the cleaned copy is dropped.
    pub fn install_cleaned(&mut self, cleaned: Vec<Cleaned>, clean_to: i64) -> io::Result<()> {
        for c in cleaned {
            let Some(i) = self.position_of(c.base_offset, c.original_size) else {
                let _ = fs::remove_file(&c.cleaned_path);
                continue;
            };
            let next_offset = self.segment_next_offset(i);
            let log_path = segment::log_path(self.dir(), c.base_offset);
            // Indexes of the old content go first: a crash after this point rebuilds them.
            for path in [
                index::offset_index_path(&log_path),
                index::time_index_path(&log_path),
            ] {
                match fs::remove_file(&path) {
                    Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
                    _ => {}
                }
            }
            fs::rename(&c.cleaned_path, &log_path)?;
            File::open(self.dir())?.sync_all()?;
            let (mut segment, _) = Segment::recover(self.dir(), c.base_offset, 4096, u64::MAX)?;
            segment.next_offset = next_offset;
            segment.seal()?;
            self.replace_segment(i, segment);
        }
        self.cleaned_to = self.cleaned_to.max(clean_to);
        save_checkpoint(self.dir(), self.cleaned_to)
    }
}

const CHECKPOINT: &str = "cleaner.checkpoint";

/// Persists how far the log has been cleaned, so a restart does not re-clean it all.
fn save_checkpoint(dir: &Path, cleaned_to: i64) -> io::Result<()> {
    super::replace_file(dir, CHECKPOINT, cleaned_to.to_string().as_bytes())
}

/// How far a previous run cleaned this log (0 if unknown or unreadable).
pub fn load_checkpoint(dir: &Path) -> i64 {
    fs::read_to_string(dir.join(CHECKPOINT))
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0)
}

/// Rewrites every planned segment, keeping the latest record of each key. Runs without the
/// partition lock: sealed segments do not change underneath it.
pub fn clean(plan: &CleanPlan, policy: &CompactionPolicy, now_ms: i64) -> io::Result<Vec<Cleaned>> {
    let mut latest: HashMap<Bytes, i64> = HashMap::new();
    for segment in &plan.segments {
        for_each_batch(segment, |_, records| {
            for r in records {
                if let Some(key) = &r.key {
                    latest.insert(key.clone(), r.offset);
                }
            }
        })?;
    }
    let mut out = Vec::new();
    for segment in &plan.segments {
        let cleaned_path = cleaned_path(&segment.path);
        let mut file = File::create(&cleaned_path)?;
        let mut written = 0u64;
        let mut failure = None;
        for_each_batch(segment, |raw, records| {
            if failure.is_some() {
                return;
            }
            let keep: Vec<&Record> = records
                .iter()
                .filter(|r| {
                    let newest = r
                        .key
                        .as_ref()
                        .is_none_or(|k| latest.get(k) == Some(&r.offset));
                    let live_tombstone =
                        r.value.is_some() || r.timestamp > now_ms - policy.delete_retention_ms;
                    newest && live_tombstone
                })
                .collect();
            let bytes = if keep.len() == records.len() {
                Ok(raw.clone())
            } else if keep.is_empty() {
                return;
            } else {
                reencode(raw, &keep)
            };
            match bytes.and_then(|b| file.write_all(&b).map(|()| b.len())) {
                Ok(n) => written += n as u64,
                Err(e) => failure = Some(e),
            }
        })?;
        if let Some(e) = failure {
            let _ = fs::remove_file(&cleaned_path);
            return Err(e);
        }
        file.sync_all()?;
        out.push(Cleaned {
            base_offset: segment.base_offset,
            original_size: segment.size,
            cleaned_path,
            bytes_before: segment.size,
            bytes_after: written,
        });
    }
    Ok(out)
}

fn cleaned_path(log_path: &Path) -> PathBuf {
    log_path.with_extension("log.cleaned")
}

/// Calls `f` with each batch of a segment, raw and decoded.
fn for_each_batch(segment: &SegmentView, mut f: impl FnMut(&Bytes, &[Record])) -> io::Result<()> {
    let mut pos = 0u64;
    while pos < segment.size {
        let header = segment::header_at(&segment.file, pos)?;
        let mut raw = vec![0u8; header.total_len()];
        segment.file.read_exact_at(&mut raw, pos)?;
        let raw = Bytes::from(raw);
        let set = RecordBatchDecoder::decode(&mut raw.clone())
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
        f(&raw, &set.records);
        pos += header.total_len() as u64;
    }
    Ok(())
}

/// A batch holding only `keep`, with their original offsets, timestamps and producer fields,
/// compressed as the original was.
fn reencode(raw: &Bytes, keep: &[&Record]) -> io::Result<Bytes> {
    let header =
        BatchHeader::parse(raw).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
    let compression = match header.compression() {
        1 => Compression::Gzip,
        2 => Compression::Snappy,
        3 => Compression::Lz4,
        4 => Compression::Zstd,
        _ => Compression::None,
    };
    let first = keep[0].offset;
    let records: Vec<Record> = keep
        .iter()
        .map(|r| {
            let mut r = (*r).clone();
            // The encoder groups records whose offset - sequence is constant into one batch.
            if r.producer_id < 0 {
                r.sequence = (r.offset - first) as i32 - 1;
            }
            r
        })
        .collect();
    let mut buf = BytesMut::new();
    let options = RecordEncodeOptions {
        version: 2,
        compression,
    };
    RecordBatchEncoder::encode(&mut buf, records.iter(), &options)
        .map_err(|e| io::Error::other(e.to_string()))?;
    let mut bytes = buf.to_vec();
    // The leader epoch field is not covered by the CRC; keep the stored value.
    let prefix = batch::stored_prefix(first, &bytes);
    bytes[..batch::PREFIX_LEN].copy_from_slice(&prefix);
    Ok(Bytes::from(bytes))
}
