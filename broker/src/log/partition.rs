//! The log of one partition: an ordered run of segments, the last of which takes appends.

use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;

use super::batch::{self, BatchHeader};
use super::producers::{Producers, SequenceError, Verdict};
use super::recovery_point::RecoveryPoint;
use super::segment::{self, Segment};

/// The topic settings the log acts on, resolved from topic and broker configs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogPolicy {
    pub segment_bytes: u64,
    pub segment_ms: i64,
    pub index_interval_bytes: u64,
    /// -1 keeps data forever.
    pub retention_ms: i64,
    /// -1 means no size limit.
    pub retention_bytes: i64,
    /// `cleanup.policy` includes `delete`.
    pub delete_old_segments: bool,
}

impl Default for LogPolicy {
    fn default() -> Self {
        Self {
            segment_bytes: 1 << 30,
            segment_ms: 7 * 24 * 3600 * 1000,
            index_interval_bytes: 4096,
            retention_ms: 7 * 24 * 3600 * 1000,
            retention_bytes: -1,
            delete_old_segments: true,
        }
    }
}

/// Where a read starts, captured under the partition lock and carried out without it. The bytes
/// below `end` never change, so the read needs no lock.
#[derive(Debug, Clone)]
pub struct ReadStart {
    file: Arc<File>,
    scan_from: u64,
    end: u64,
    fetch_offset: i64,
}

/// The requested offset is outside `[log_start, log_end]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("offset {offset} is outside the log's range [{log_start}, {log_end}]")]
pub struct OutOfRange {
    pub offset: i64,
    pub log_start: i64,
    pub log_end: i64,
}

#[derive(Debug)]
pub struct PartitionLog {
    dir: PathBuf,
    /// Never empty; the last segment is the active one.
    segments: Vec<Segment>,
    producers: Producers,
    /// Offsets below this were compacted by this process (the rest of the log is "dirty").
    pub(super) cleaned_to: i64,
}

/// Why an append was refused.
#[derive(Debug, thiserror::Error)]
pub enum AppendError {
    #[error(transparent)]
    Io(#[from] io::Error),
    #[error(transparent)]
    Sequence(#[from] SequenceError),
}

/// The active segment's file as of now, with how far its fsync will reach.
#[derive(Debug)]
pub struct SyncTarget {
    pub file: Arc<File>,
    /// Every offset below this is in the file.
    pub end: i64,
    pub point: RecoveryPoint,
}

/// What opening a log found.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OpenReport {
    pub truncated_bytes: u64,
}

impl PartitionLog {
    /// Opens (or creates) the log in `dir`. After an unclean shutdown the active segment is read
    /// through with CRC checks from its recovery point on and a torn tail is cut off; sealed
    /// segments, and what an fsync covered, are trusted.
    pub fn open(
        dir: &Path,
        clean_shutdown: bool,
        policy: &LogPolicy,
    ) -> io::Result<(Self, OpenReport)> {
        fs::create_dir_all(dir)?;
        let mut bases = Vec::new();
        for entry in fs::read_dir(dir)? {
            let name = entry?.file_name();
            let Some(name) = name.to_str() else { continue };
            if name.ends_with(".tmp") || name.ends_with(".cleaned") {
                fs::remove_file(dir.join(name))?;
            } else if let Some(base) = name
                .strip_suffix(".log")
                .and_then(|b| b.parse::<i64>().ok())
            {
                bases.push(base);
            }
        }
        bases.sort_unstable();
        let mut report = OpenReport::default();
        let recovery_point = RecoveryPoint::load(dir);
        let mut segments = Vec::with_capacity(bases.len().max(1));
        for (i, &base) in bases.iter().enumerate() {
            let segment = match bases.get(i + 1) {
                Some(&next) => Segment::open_sealed(dir, base, next)?,
                None => {
                    let clean = if clean_shutdown {
                        Segment::open_active_clean(dir, base)
                            .map_err(|e| tracing::warn!(dir = %dir.display(), error = %e, "clean reopen failed, recovering"))
                            .ok()
                    } else {
                        None
                    };
                    match clean {
                        Some(segment) => segment,
                        None => {
                            let trusted = RecoveryPoint::trusted_bytes(recovery_point, base);
                            let (segment, recovered) =
                                Segment::recover(dir, base, policy.index_interval_bytes, trusted)?;
                            report.truncated_bytes = recovered.truncated_bytes;
                            // What was checked is made durable and marked so: a second crash
                            // before the next fsync does not check it all again, and a point
                            // beyond what survived never stays behind.
                            let point = RecoveryPoint::end_of(&segment);
                            if recovery_point != Some(point) {
                                segment.file().sync_data()?;
                                point.save(dir)?;
                            }
                            segment
                        }
                    }
                }
            };
            segments.push(segment);
        }
        if segments.is_empty() {
            segments.push(Segment::create(dir, 0, segment::now_ms())?);
            sync_dir(dir)?;
        }
        let mut log = Self {
            dir: dir.to_path_buf(),
            segments,
            producers: Producers::default(),
            cleaned_to: 0,
        };
        log.rebuild_producers()?;
        let checkpoint = super::compaction::load_checkpoint(dir);
        log.cleaned_to = checkpoint.clamp(log.log_start_offset(), log.log_end_offset());
        Ok((log, report))
    }

    /// Loads the producer snapshot and replays the batch headers written after it.
    fn rebuild_producers(&mut self) -> io::Result<()> {
        let (start, end) = (self.log_start_offset(), self.log_end_offset());
        let mut producers = Producers::load(&self.dir)
            .filter(|p| p.covered_to >= start && p.covered_to <= end)
            .unwrap_or_default();
        let from = producers.covered_to.max(start);
        self.for_each_header(from, |header| producers.record(header))?;
        self.producers = producers;
        Ok(())
    }

    /// Calls `f` with the header of every batch that ends after `from`.
    pub fn for_each_header(&self, from: i64, mut f: impl FnMut(&BatchHeader)) -> io::Result<()> {
        for segment in self.segments.iter().filter(|s| s.next_offset > from) {
            let mut pos = segment.index_position(from)?;
            while pos < segment.size {
                let header = segment.header_at(pos)?;
                if header.next_offset() > from {
                    f(&header);
                }
                pos += header.total_len() as u64;
            }
        }
        Ok(())
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn log_start_offset(&self) -> i64 {
        self.segments[0].base_offset
    }

    pub fn log_end_offset(&self) -> i64 {
        self.active().next_offset
    }

    pub fn size_bytes(&self) -> u64 {
        self.segments.iter().map(|s| s.size).sum()
    }

    pub fn segment_count(&self) -> usize {
        self.segments.len()
    }

    #[cfg(test)]
    pub fn first_segment_size(&self) -> u64 {
        self.segments[0].size
    }

    pub(super) fn sealed_segments(&self) -> Vec<&Segment> {
        self.segments[..self.segments.len() - 1].iter().collect()
    }

    /// The index of the segment at `base_offset`, if it is still there with `size` bytes.
    pub(super) fn position_of(&self, base_offset: i64, size: u64) -> Option<usize> {
        let i = self
            .segments
            .iter()
            .position(|s| s.base_offset == base_offset)?;
        (i + 1 < self.segments.len() && self.segments[i].size == size).then_some(i)
    }

    pub(super) fn segment_next_offset(&self, i: usize) -> i64 {
        self.segments[i].next_offset
    }

    pub(super) fn replace_segment(&mut self, i: usize, segment: Segment) {
        self.segments[i] = segment;
    }

    fn active(&self) -> &Segment {
        &self.segments[self.segments.len() - 1]
    }

    fn active_mut(&mut self) -> &mut Segment {
        let last = self.segments.len() - 1;
        &mut self.segments[last]
    }

    /// Appends one validated batch, assigning it the next offsets, and returns its base offset.
    /// A batch an idempotent producer already sent is not written again: the offset it got the
    /// first time is returned.
    pub fn append(
        &mut self,
        header: &BatchHeader,
        batch: &[u8],
        policy: &LogPolicy,
        now_ms: i64,
    ) -> Result<i64, AppendError> {
        if let Verdict::Duplicate(base) = self.producers.check(header)? {
            return Ok(base);
        }
        let base_offset = self.log_end_offset();
        let next = base_offset + i64::from(header.last_offset_delta) + 1;
        let active = self.active();
        let full = active.size + batch.len() as u64 > policy.segment_bytes;
        let old = now_ms - active.roll_base_ms >= policy.segment_ms;
        if active.size > 0 && (full || old || !active.can_hold_offset(next)) {
            self.roll(now_ms)?;
        }
        let prefix = batch::stored_prefix(base_offset, batch);
        let stored = BatchHeader {
            base_offset,
            ..*header
        };
        let interval = policy.index_interval_bytes;
        self.active_mut()
            .append(&prefix, &batch[batch::PREFIX_LEN..], &stored, interval)?;
        self.producers.record(&stored);
        Ok(base_offset)
    }

    /// Seals the active segment and starts a new one at the log end. An empty active segment
    /// already starts there, so it stays.
    pub fn roll(&mut self, now_ms: i64) -> io::Result<()> {
        if self.active().size == 0 {
            return Ok(());
        }
        let next = self.log_end_offset();
        self.active_mut().seal()?;
        self.segments
            .push(Segment::create(&self.dir, next, now_ms)?);
        sync_dir(&self.dir)?;
        // Restarts replay producer state from here rather than from the start of the log.
        if let Err(error) = self.producers.save(&self.dir) {
            tracing::warn!(dir = %self.dir.display(), %error, "could not write the producer snapshot");
        }
        Ok(())
    }

    /// Finds where a read of `offset` starts. Reading at the log end yields nothing.
    pub fn read_start(&self, offset: i64) -> Result<ReadStart, ReadError> {
        let (log_start, log_end) = (self.log_start_offset(), self.log_end_offset());
        if offset < log_start || offset > log_end {
            return Err(ReadError::OutOfRange(OutOfRange {
                offset,
                log_start,
                log_end,
            }));
        }
        let i = self
            .segments
            .partition_point(|s| s.base_offset <= offset)
            .saturating_sub(1);
        // Compaction can leave a segment with nothing at or after `offset`: look further on.
        for segment in self.segments[i..].iter().filter(|s| s.next_offset > offset) {
            let mut pos = segment.index_position(offset)?;
            while pos < segment.size {
                let header = segment.header_at(pos)?;
                if header.last_offset() >= offset {
                    return Ok(ReadStart {
                        file: segment.file(),
                        scan_from: pos,
                        end: segment.size,
                        fetch_offset: offset,
                    });
                }
                pos += header.total_len() as u64;
            }
        }
        let active = self.active();
        Ok(ReadStart {
            file: active.file(),
            scan_from: active.size,
            end: active.size,
            fetch_offset: offset,
        })
    }

    /// The first record whose timestamp is at least `ts`: `(offset, timestamp)`.
    pub fn offset_for_timestamp(&self, ts: i64) -> io::Result<Option<(i64, i64)>> {
        let Some(segment) = self.segments.iter().find(|s| s.max_timestamp >= ts) else {
            return Ok(None);
        };
        let start = segment.timestamp_start(ts)?;
        let mut pos = segment.index_position(start)?;
        while pos < segment.size {
            let header = segment.header_at(pos)?;
            let len = header.total_len() as u64;
            if header.max_timestamp >= ts && !header.is_control() {
                if header.is_log_append_time() {
                    return Ok(Some((header.base_offset, header.max_timestamp)));
                }
                let mut buf = vec![0u8; len as usize];
                std::os::unix::fs::FileExt::read_exact_at(&*segment.file(), &mut buf, pos)?;
                if let Some(found) = first_record_at_or_after(buf, ts)? {
                    return Ok(Some(found));
                }
            }
            pos += len;
        }
        Ok(None)
    }

    /// Calls `f` with every record from `from` to the log end, decompressing as needed. Used to
    /// replay internal topics at startup.
    pub fn for_each_record(
        &self,
        from: i64,
        mut f: impl FnMut(kafka_protocol::records::Record),
    ) -> io::Result<()> {
        let mut offset = from.max(self.log_start_offset());
        while offset < self.log_end_offset() {
            let mut bytes = match self.read_start(offset) {
                Ok(start) => start.read(1 << 20)?,
                Err(ReadError::Io(e)) => return Err(e),
                Err(ReadError::OutOfRange(_)) => return Ok(()),
            };
            if bytes.is_empty() {
                return Ok(());
            }
            while !bytes.is_empty() {
                let header = BatchHeader::parse(&bytes)
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
                let mut one = bytes.split_to(header.total_len().min(bytes.len()));
                let set = kafka_protocol::records::RecordBatchDecoder::decode(&mut one)
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
                for record in set.records {
                    if record.offset >= offset && !record.control {
                        f(record);
                    }
                }
                offset = offset.max(header.next_offset());
            }
        }
        Ok(())
    }

    /// The record with the largest timestamp (ListOffsets MAX_TIMESTAMP).
    pub fn max_timestamp_offset(&self) -> io::Result<Option<(i64, i64)>> {
        let max = self
            .segments
            .iter()
            .map(|s| s.max_timestamp)
            .max()
            .unwrap_or(-1);
        if max < 0 {
            return Ok(None);
        }
        self.offset_for_timestamp(max)
    }

    /// Deletes whole segments past `retention.ms` or beyond `retention.bytes`. The active segment
    /// is rolled first when it has expired entirely. Returns how many segments went.
    pub fn enforce_retention(&mut self, policy: &LogPolicy, now_ms: i64) -> io::Result<usize> {
        if !policy.delete_old_segments {
            return Ok(0);
        }
        let expired = |s: &Segment| {
            policy.retention_ms >= 0
                && s.size > 0
                && s.max_timestamp >= 0
                && s.max_timestamp < now_ms - policy.retention_ms
        };
        if expired(self.active()) {
            self.roll(now_ms)?;
        }
        let mut deleted = 0;
        let mut total = self.size_bytes() as i64;
        while self.segments.len() > 1 {
            let first = &self.segments[0];
            let over_size =
                policy.retention_bytes >= 0 && total - first.size as i64 >= policy.retention_bytes;
            if !(expired(first) || over_size) {
                break;
            }
            let segment = self.segments.remove(0);
            total -= segment.size as i64;
            tracing::info!(segment = %segment.path().display(), "retention deleted segment");
            segment.delete()?;
            deleted += 1;
        }
        Ok(deleted)
    }

    /// What an fsync of the log's active segment, started now, will make durable.
    pub fn sync_target(&self) -> SyncTarget {
        SyncTarget {
            file: self.active().file(),
            end: self.log_end_offset(),
            point: self.recovery_point(),
        }
    }

    /// The whole of the active segment as it stands, as a recovery point once fsynced.
    fn recovery_point(&self) -> RecoveryPoint {
        RecoveryPoint::end_of(self.active())
    }

    /// Writes the active segment's indexes and flushes its data, for a clean shutdown. The
    /// recovery point then covers the whole log, so a crash of the next run re-reads only what
    /// that run writes.
    pub fn close(&mut self) -> io::Result<()> {
        let active = self.active_mut();
        active.write_index_files()?;
        active.file().sync_all()?;
        self.recovery_point().save(&self.dir)?;
        self.producers.save(&self.dir)
    }

    /// Removes the whole partition directory (topic deletion).
    pub fn delete(self) -> io::Result<()> {
        drop(self.segments);
        fs::remove_dir_all(&self.dir)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error(transparent)]
    OutOfRange(#[from] OutOfRange),
    #[error(transparent)]
    Io(#[from] io::Error),
}

/// A run of whole stored batches in a segment file: sent to a consumer straight from the file,
/// never read into memory as one piece. The open file keeps it readable even if the segment is
/// deleted or compacted meanwhile.
#[derive(Debug, Clone)]
pub struct Region {
    pub file: Arc<File>,
    pub offset: u64,
    pub len: usize,
}

impl ReadStart {
    /// The whole batches from the one containing the fetch offset, up to `max_bytes`; the first
    /// batch is always whole, however large, so a consumer can always make progress. `None` at
    /// the end of the log.
    pub fn region(&self, max_bytes: usize) -> io::Result<Option<Region>> {
        let mut pos = self.scan_from;
        let start = loop {
            if pos >= self.end {
                return Ok(None);
            }
            let header = segment::header_at(&self.file, pos)?;
            if header.last_offset() >= self.fetch_offset {
                break pos;
            }
            pos += header.total_len() as u64;
        };
        let first = segment::header_at(&self.file, start)?;
        let mut end = (start + first.total_len() as u64).min(self.end);
        while end + batch::HEADER_LEN as u64 <= self.end {
            let header = segment::header_at(&self.file, end)?;
            let next = end + header.total_len() as u64;
            if next > self.end || (next - start) as usize > max_bytes {
                break;
            }
            end = next;
        }
        Ok(Some(Region {
            file: Arc::clone(&self.file),
            offset: start,
            len: (end - start) as usize,
        }))
    }

    /// Reads whole batches from the one containing the fetch offset, up to `max_bytes`. The first
    /// batch is always returned whole, however large, so a consumer can always make progress.
    pub fn read(&self, max_bytes: usize) -> io::Result<Bytes> {
        let mut pos = self.scan_from;
        let first = loop {
            if pos >= self.end {
                return Ok(Bytes::new());
            }
            let header = segment::header_at(&self.file, pos)?;
            if header.last_offset() >= self.fetch_offset {
                break header;
            }
            pos += header.total_len() as u64;
        };
        let want = (max_bytes.max(first.total_len()) as u64).min(self.end - pos) as usize;
        let mut buf = vec![0u8; want];
        std::os::unix::fs::FileExt::read_exact_at(&*self.file, &mut buf, pos)?;
        let mut whole = 0;
        while whole + batch::HEADER_LEN <= buf.len() {
            let Ok(header) = BatchHeader::parse(&buf[whole..]) else {
                break;
            };
            if whole + header.total_len() > buf.len() {
                break;
            }
            whole += header.total_len();
        }
        buf.truncate(whole);
        Ok(Bytes::from(buf))
    }
}

/// Decodes one stored batch (decompressing if needed) to find the first record at or after `ts`.
fn first_record_at_or_after(batch: Vec<u8>, ts: i64) -> io::Result<Option<(i64, i64)>> {
    let mut bytes = Bytes::from(batch);
    let set = kafka_protocol::records::RecordBatchDecoder::decode(&mut bytes)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
    Ok(set
        .records
        .iter()
        .find(|r| r.timestamp >= ts)
        .map(|r| (r.offset, r.timestamp)))
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}
