//! Sparse per-segment indexes: offset → file position, and timestamp → offset.
//!
//! The active segment keeps its entries in memory; they are written to `.index` and `.timeindex`
//! when the segment is sealed (rolled) or the broker shuts down cleanly. Sealed segments answer
//! lookups with a binary search over their files, so the broker's memory does not grow with the
//! amount of data stored.
//!
//! A time entry `(ts, rel)` promises that every record before relative offset `rel` has a timestamp
//! at most `ts`. A lookup for `T` may therefore start at the last entry whose `ts < T`.

use std::fs::{self, File};
use std::io::{self, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

const OFFSET_ENTRY: u64 = 8;
const TIME_ENTRY: u64 = 12;

/// Index entries of the segment being written.
#[derive(Debug, Default)]
pub struct ActiveIndex {
    offsets: Vec<(u32, u32)>,
    times: Vec<(i64, u32)>,
    bytes_since_entry: u64,
}

impl ActiveIndex {
    /// Called before a batch is written at `position`; adds entries every `interval` bytes.
    pub fn before_append(
        &mut self,
        rel_offset: u32,
        position: u32,
        max_ts_so_far: i64,
        interval: u64,
    ) {
        if position != 0 && self.bytes_since_entry < interval {
            return;
        }
        self.offsets.push((rel_offset, position));
        self.push_time(max_ts_so_far, rel_offset);
        self.bytes_since_entry = 0;
    }

    pub fn after_append(&mut self, len: u64) {
        self.bytes_since_entry += len;
    }

    fn push_time(&mut self, ts: i64, rel_offset: u32) {
        if ts >= 0 && self.times.last().is_none_or(|&(last, _)| ts > last) {
            self.times.push((ts, rel_offset));
        }
    }

    /// Records the segment's final maximum timestamp, so a sealed segment knows it.
    pub fn finish(&mut self, max_ts: i64, next_rel_offset: u32) {
        self.push_time(max_ts, next_rel_offset);
    }

    pub fn position_for(&self, rel_offset: u32) -> u64 {
        let i = self.offsets.partition_point(|&(rel, _)| rel <= rel_offset);
        if i == 0 {
            0
        } else {
            u64::from(self.offsets[i - 1].1)
        }
    }

    pub fn start_for_timestamp(&self, ts: i64) -> u32 {
        let i = self.times.partition_point(|&(t, _)| t < ts);
        if i == 0 {
            0
        } else {
            self.times[i - 1].1
        }
    }

    pub fn last_position(&self) -> u64 {
        self.offsets.last().map_or(0, |&(_, pos)| u64::from(pos))
    }

    pub fn max_timestamp(&self) -> i64 {
        self.times.last().map_or(-1, |&(ts, _)| ts)
    }

    /// Writes both index files atomically (temp file, fsync, rename).
    pub fn write_files(&self, log_path: &Path) -> io::Result<()> {
        let mut offsets = Vec::with_capacity(self.offsets.len() * OFFSET_ENTRY as usize);
        for &(rel, pos) in &self.offsets {
            offsets.extend_from_slice(&rel.to_be_bytes());
            offsets.extend_from_slice(&pos.to_be_bytes());
        }
        let mut times = Vec::with_capacity(self.times.len() * TIME_ENTRY as usize);
        for &(ts, rel) in &self.times {
            times.extend_from_slice(&ts.to_be_bytes());
            times.extend_from_slice(&rel.to_be_bytes());
        }
        write_atomically(&offset_index_path(log_path), &offsets)?;
        write_atomically(&time_index_path(log_path), &times)
    }

    /// Reads index files back into memory (the active segment after a clean shutdown).
    pub fn read_files(log_path: &Path) -> io::Result<Self> {
        let sealed = SealedIndex::open(log_path)?;
        let mut index = Self::default();
        for i in 0..sealed.offset_count {
            index.offsets.push(sealed.offset_entry(i)?);
        }
        for i in 0..sealed.time_count {
            index.times.push(sealed.time_entry(i)?);
        }
        Ok(index)
    }
}

/// Index files of a sealed segment, searched in place.
#[derive(Debug)]
pub struct SealedIndex {
    offsets: File,
    offset_count: u64,
    times: File,
    time_count: u64,
}

impl SealedIndex {
    /// Opens both files; fails if either is missing or not a whole number of entries.
    pub fn open(log_path: &Path) -> io::Result<Self> {
        let offsets = File::open(offset_index_path(log_path))?;
        let times = File::open(time_index_path(log_path))?;
        let offset_len = offsets.metadata()?.len();
        let time_len = times.metadata()?.len();
        if offset_len % OFFSET_ENTRY != 0 || time_len % TIME_ENTRY != 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("index files of {} are partial", log_path.display()),
            ));
        }
        Ok(Self {
            offsets,
            offset_count: offset_len / OFFSET_ENTRY,
            times,
            time_count: time_len / TIME_ENTRY,
        })
    }

    fn offset_entry(&self, i: u64) -> io::Result<(u32, u32)> {
        let mut buf = [0u8; OFFSET_ENTRY as usize];
        self.offsets.read_exact_at(&mut buf, i * OFFSET_ENTRY)?;
        Ok((
            u32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]),
            u32::from_be_bytes([buf[4], buf[5], buf[6], buf[7]]),
        ))
    }

    fn time_entry(&self, i: u64) -> io::Result<(i64, u32)> {
        let mut buf = [0u8; TIME_ENTRY as usize];
        self.times.read_exact_at(&mut buf, i * TIME_ENTRY)?;
        let mut ts = [0u8; 8];
        ts.copy_from_slice(&buf[..8]);
        Ok((
            i64::from_be_bytes(ts),
            u32::from_be_bytes([buf[8], buf[9], buf[10], buf[11]]),
        ))
    }

    pub fn position_for(&self, rel_offset: u32) -> io::Result<u64> {
        let found = last_matching(
            self.offset_count,
            |i| self.offset_entry(i),
            |e| e.0 <= rel_offset,
        )?;
        Ok(found.map_or(0, |(_, pos)| u64::from(pos)))
    }

    pub fn start_for_timestamp(&self, ts: i64) -> io::Result<u32> {
        let found = last_matching(self.time_count, |i| self.time_entry(i), |e| e.0 < ts)?;
        Ok(found.map_or(0, |(_, rel)| rel))
    }

    pub fn max_timestamp(&self) -> io::Result<i64> {
        if self.time_count == 0 {
            return Ok(-1);
        }
        Ok(self.time_entry(self.time_count - 1)?.0)
    }
}

/// Binary search for the last of `count` entries for which `pred` holds, where `pred` is true
/// for a prefix of the entries and false after it.
fn last_matching<T>(
    count: u64,
    entry: impl Fn(u64) -> io::Result<T>,
    pred: impl Fn(&T) -> bool,
) -> io::Result<Option<T>> {
    let (mut lo, mut hi) = (0u64, count);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if pred(&entry(mid)?) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    if lo == 0 {
        Ok(None)
    } else {
        entry(lo - 1).map(Some)
    }
}

pub fn offset_index_path(log_path: &Path) -> PathBuf {
    log_path.with_extension("index")
}

pub fn time_index_path(log_path: &Path) -> PathBuf {
    log_path.with_extension("timeindex")
}

fn write_atomically(path: &Path, contents: &[u8]) -> io::Result<()> {
    let tmp = path.with_extension(format!(
        "{}.tmp",
        path.extension().and_then(|e| e.to_str()).unwrap_or("")
    ));
    let mut file = File::create(&tmp)?;
    file.write_all(contents)?;
    file.sync_data()?;
    fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookups_agree_in_memory_and_on_disk() {
        let dir = tempfile::tempdir().expect("tempdir");
        let log = dir.path().join("00000000000000000000.log");
        let mut index = ActiveIndex::default();
        // Batches of 10 records, 100 bytes each, index every 250 bytes.
        let mut max_ts = -1;
        for b in 0..20u32 {
            index.before_append(b * 10, b * 100, max_ts, 250);
            index.after_append(100);
            max_ts = max_ts.max(i64::from(b) * 1000);
        }
        index.finish(max_ts, 200);
        index.write_files(&log).expect("write");
        let sealed = SealedIndex::open(&log).expect("open");
        for rel in [0u32, 5, 29, 30, 31, 155, 199, 500] {
            assert_eq!(
                index.position_for(rel),
                sealed.position_for(rel).expect("read"),
                "rel {rel}"
            );
            assert!(index.position_for(rel) <= u64::from(rel / 10) * 100);
        }
        for ts in [-5i64, 0, 999, 1000, 4500, 19_000, 30_000] {
            let start = index.start_for_timestamp(ts);
            assert_eq!(
                start,
                sealed.start_for_timestamp(ts).expect("read"),
                "ts {ts}"
            );
            // Nothing before `start` can hold a timestamp >= ts.
            assert!(
                i64::from(start / 10) * 1000 <= ts.max(0),
                "ts {ts} start {start}"
            );
        }
        assert_eq!(sealed.max_timestamp().expect("read"), 19_000);
        let reread = ActiveIndex::read_files(&log).expect("reread");
        assert_eq!(reread.offsets, index.offsets);
        assert_eq!(reread.times, index.times);
    }

    #[test]
    fn partial_index_files_are_rejected() {
        let dir = tempfile::tempdir().expect("tempdir");
        let log = dir.path().join("00000000000000000000.log");
        fs::write(offset_index_path(&log), [0u8; 7]).expect("write");
        fs::write(time_index_path(&log), [0u8; 12]).expect("write");
        assert!(SealedIndex::open(&log).is_err());
    }
}
