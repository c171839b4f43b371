//! One segment: `<20-digit base offset>.log` holding record batches as clients sent them, with its
//! sparse indexes beside it.

use std::fs::{self, File, OpenOptions};
use std::io::{self, IoSlice, Read, Seek, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::batch::{self, BatchHeader, HEADER_LEN};
use super::index::{self, ActiveIndex, SealedIndex};

#[derive(Debug)]
enum Index {
    Active(ActiveIndex),
    Sealed(SealedIndex),
}

/// What a recovery scan found at the end of a segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Recovered {
    /// Bytes cut off the end because they did not form whole, valid batches.
    pub truncated_bytes: u64,
}

#[derive(Debug)]
pub struct Segment {
    pub base_offset: i64,
    /// One past the last offset stored here.
    pub next_offset: i64,
    /// Bytes of whole batches in the file.
    pub size: u64,
    /// Largest batch timestamp stored, or -1.
    pub max_timestamp: i64,
    /// Wall-clock time `segment.ms` counts from: when the segment was created or reopened. (Kafka
    /// counts from the first batch's own timestamp, which rolls on every append for old data.)
    pub roll_base_ms: i64,
    file: Arc<File>,
    path: PathBuf,
    index: Index,
}

pub fn log_path(dir: &Path, base_offset: i64) -> PathBuf {
    dir.join(format!("{base_offset:020}.log"))
}

impl Segment {
    /// Creates a new, empty active segment.
    pub fn create(dir: &Path, base_offset: i64, now_ms: i64) -> io::Result<Self> {
        let path = log_path(dir, base_offset);
        let file = OpenOptions::new()
            .create(true)
            .read(true)
            .append(true)
            .open(&path)?;
        // A file left by a crash before this segment was recorded holds nothing we acknowledged.
        file.set_len(0)?;
        Ok(Self {
            base_offset,
            next_offset: base_offset,
            size: 0,
            max_timestamp: -1,
            roll_base_ms: now_ms,
            file: Arc::new(file),
            path,
            index: Index::Active(ActiveIndex::default()),
        })
    }

    /// Opens a segment that is not the last one. Its next offset is the following segment's base.
    /// If its index files are missing or partial they are rebuilt from the log.
    pub fn open_sealed(dir: &Path, base_offset: i64, next_offset: i64) -> io::Result<Self> {
        let path = log_path(dir, base_offset);
        match SealedIndex::open(&path) {
            Ok(sealed) => {
                let file = File::open(&path)?;
                let size = file.metadata()?.len();
                Ok(Self {
                    base_offset,
                    next_offset,
                    size,
                    max_timestamp: sealed.max_timestamp()?,
                    roll_base_ms: -1,
                    file: Arc::new(file),
                    path,
                    index: Index::Sealed(sealed),
                })
            }
            Err(e) => {
                tracing::warn!(segment = %path.display(), error = %e, "rebuilding segment index");
                let (mut segment, _) = Self::recover(dir, base_offset, 4096, u64::MAX)?;
                segment.seal()?;
                Ok(segment)
            }
        }
    }

    /// Opens the last segment after a clean shutdown: its index files are trusted and only the
    /// batches after the last index entry are read.
    pub fn open_active_clean(dir: &Path, base_offset: i64) -> io::Result<Self> {
        let path = log_path(dir, base_offset);
        let index = ActiveIndex::read_files(&path)?;
        let file = open_for_append(&path)?;
        let size = file.metadata()?.len();
        let mut segment = Self {
            base_offset,
            next_offset: base_offset,
            size,
            max_timestamp: index.max_timestamp(),
            roll_base_ms: -1,
            file: Arc::new(file),
            path,
            index: Index::Active(index),
        };
        let mut pos = segment.active_index_last_position();
        while pos < size {
            let header = segment.header_at(pos)?;
            if header.total_len() as u64 > size - pos || header.magic != 2 {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("segment {} ends in a partial batch", segment.path.display()),
                ));
            }
            segment.next_offset = header.next_offset();
            segment.max_timestamp = segment.max_timestamp.max(header.max_timestamp);
            pos += header.total_len() as u64;
        }
        segment.roll_base_ms = now_ms();
        // Indexes are written again when this segment is sealed or closed.
        let _ = fs::remove_file(index::offset_index_path(&segment.path));
        let _ = fs::remove_file(index::time_index_path(&segment.path));
        Ok(segment)
    }

    /// Reads a segment from the start and cuts off whatever follows the last whole, valid batch:
    /// the torn tail of a crash. The first `trusted` bytes (what an fsync covered; `u64::MAX` for
    /// a sealed segment) are walked by batch header only; the rest is read and CRC-checked.
    pub fn recover(
        dir: &Path,
        base_offset: i64,
        index_interval: u64,
        trusted: u64,
    ) -> io::Result<(Self, Recovered)> {
        let path = log_path(dir, base_offset);
        let file = open_for_append(&path)?;
        let file_len = file.metadata()?.len();
        let mut segment = Self {
            base_offset,
            next_offset: base_offset,
            size: 0,
            max_timestamp: -1,
            roll_base_ms: -1,
            file: Arc::new(file),
            path,
            index: Index::Active(ActiveIndex::default()),
        };
        let mut pos = 0u64;
        while let Some(header) = segment.trusted_header_at(pos, trusted.min(file_len))? {
            segment.index_before_append(&header, index_interval);
            segment.note_appended(&header);
            pos += header.total_len() as u64;
        }
        let trusted_bytes = pos;
        let mut reader = io::BufReader::with_capacity(1 << 20, File::open(&segment.path)?);
        reader.seek(io::SeekFrom::Start(pos))?;
        let mut buf = Vec::new();
        while let Some(header) = read_batch(&mut reader, &mut buf, file_len - pos)? {
            if !segment.continues_with(&header) || batch::compute_crc(&buf) != header.crc {
                break;
            }
            segment.index_before_append(&header, index_interval);
            segment.note_appended(&header);
            pos += buf.len() as u64;
        }
        tracing::info!(
            segment = %segment.path.display(),
            trusted_bytes,
            checked_bytes = pos - trusted_bytes,
            "segment recovered"
        );
        let truncated_bytes = file_len - pos;
        if truncated_bytes > 0 {
            tracing::warn!(
                segment = %segment.path.display(),
                truncated_bytes,
                valid_bytes = pos,
                "cut off a torn or corrupt tail"
            );
            segment.file.set_len(pos)?;
            segment.file.sync_all()?;
        }
        segment.roll_base_ms = now_ms();
        Ok((segment, Recovered { truncated_bytes }))
    }

    /// The header of the batch at `pos` if the whole batch lies within the first `trusted` bytes
    /// and follows on from what precedes it; `None` where the trusted run ends.
    fn trusted_header_at(&self, pos: u64, trusted: u64) -> io::Result<Option<BatchHeader>> {
        if trusted.saturating_sub(pos) < HEADER_LEN as u64 {
            return Ok(None);
        }
        let header = match header_at(&self.file, pos) {
            Ok(header) => header,
            Err(e) if e.kind() == io::ErrorKind::InvalidData => return Ok(None),
            Err(e) => return Err(e),
        };
        let usable = fits(&header, trusted - pos) && self.continues_with(&header);
        Ok(usable.then_some(header))
    }

    /// Whether `header` can be the next batch of this segment: format v2, offsets moving on.
    fn continues_with(&self, header: &BatchHeader) -> bool {
        header.magic == 2 && header.base_offset >= self.next_offset
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn file(&self) -> Arc<File> {
        Arc::clone(&self.file)
    }

    pub fn is_active(&self) -> bool {
        matches!(self.index, Index::Active(_))
    }

    /// Offset relative to the base, as the indexes store it.
    fn rel(&self, offset: i64) -> u32 {
        u32::try_from(offset - self.base_offset).unwrap_or(u32::MAX)
    }

    /// Whether offsets up to `next_offset` still fit the indexes' 32-bit relative offsets.
    pub fn can_hold_offset(&self, next_offset: i64) -> bool {
        next_offset - self.base_offset < i64::from(i32::MAX)
    }

    fn active_index_last_position(&self) -> u64 {
        match &self.index {
            Index::Active(index) => index.last_position(),
            Index::Sealed(_) => 0,
        }
    }

    fn index_before_append(&mut self, header: &BatchHeader, interval: u64) {
        let rel = self.rel(header.base_offset);
        let position = u32::try_from(self.size).unwrap_or(u32::MAX);
        let max_ts = self.max_timestamp;
        if let Index::Active(index) = &mut self.index {
            index.before_append(rel, position, max_ts, interval);
            index.after_append(header.total_len() as u64);
        }
    }

    fn note_appended(&mut self, header: &BatchHeader) {
        self.size += header.total_len() as u64;
        self.next_offset = header.next_offset();
        self.max_timestamp = self.max_timestamp.max(header.max_timestamp);
    }

    /// Appends one batch whose first 12 bytes are replaced by `prefix` (the assigned base
    /// offset). On a failed write the file is cut back so no partial batch stays behind.
    pub fn append(
        &mut self,
        prefix: &[u8],
        rest: &[u8],
        header: &BatchHeader,
        index_interval: u64,
    ) -> io::Result<()> {
        if let Err(e) = write_all_vectored(&self.file, &[IoSlice::new(prefix), IoSlice::new(rest)])
        {
            // A full disk (or any I/O error) must not leave half a batch in the log.
            self.file.set_len(self.size)?;
            return Err(e);
        }
        self.index_before_append(header, index_interval);
        self.note_appended(header);
        Ok(())
    }

    /// Writes the indexes, flushes the data and switches to file-backed index lookups.
    pub fn seal(&mut self) -> io::Result<()> {
        self.write_index_files()?;
        self.file.sync_all()?;
        self.index = Index::Sealed(SealedIndex::open(&self.path)?);
        Ok(())
    }

    /// Persists the active index (on clean shutdown) without sealing.
    pub fn write_index_files(&mut self) -> io::Result<()> {
        let (max_ts, next_rel) = (self.max_timestamp, self.rel(self.next_offset));
        if let Index::Active(index) = &mut self.index {
            index.finish(max_ts, next_rel);
            index.write_files(&self.path)?;
        }
        Ok(())
    }

    /// The file position of an indexed batch at or before `offset`.
    pub fn index_position(&self, offset: i64) -> io::Result<u64> {
        let rel = self.rel(offset.max(self.base_offset));
        match &self.index {
            Index::Active(index) => Ok(index.position_for(rel)),
            Index::Sealed(index) => index.position_for(rel),
        }
    }

    /// The offset a search for timestamp `ts` may start from.
    pub fn timestamp_start(&self, ts: i64) -> io::Result<i64> {
        let rel = match &self.index {
            Index::Active(index) => index.start_for_timestamp(ts),
            Index::Sealed(index) => index.start_for_timestamp(ts)?,
        };
        Ok(self.base_offset + i64::from(rel))
    }

    pub fn header_at(&self, pos: u64) -> io::Result<BatchHeader> {
        header_at(&self.file, pos)
    }

    /// Removes the segment's files.
    pub fn delete(self) -> io::Result<()> {
        for path in [
            index::offset_index_path(&self.path),
            index::time_index_path(&self.path),
        ] {
            match fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        fs::remove_file(&self.path)
    }
}

/// Reads the batch header at `pos`.
pub fn header_at(file: &File, pos: u64) -> io::Result<BatchHeader> {
    let mut buf = [0u8; HEADER_LEN];
    file.read_exact_at(&mut buf, pos)?;
    BatchHeader::parse(&buf).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

/// Reads the next whole batch into `buf`; `None` at a clean end or where the rest is too short
/// or malformed to be a batch.
fn read_batch(
    reader: &mut impl Read,
    buf: &mut Vec<u8>,
    remaining: u64,
) -> io::Result<Option<BatchHeader>> {
    if remaining < HEADER_LEN as u64 {
        return Ok(None);
    }
    buf.resize(HEADER_LEN, 0);
    reader.read_exact(buf)?;
    let Ok(header) = BatchHeader::parse(buf) else {
        return Ok(None);
    };
    if !fits(&header, remaining) {
        return Ok(None);
    }
    buf.resize(header.total_len(), 0);
    reader.read_exact(&mut buf[HEADER_LEN..])?;
    Ok(Some(header))
}

/// Whether the batch `header` starts is at least a header long and ends within `remaining` bytes.
fn fits(header: &BatchHeader, remaining: u64) -> bool {
    header.batch_length >= (HEADER_LEN - batch::LOG_OVERHEAD) as i32
        && header.total_len() as u64 <= remaining
}

fn open_for_append(path: &Path) -> io::Result<File> {
    OpenOptions::new().read(true).append(true).open(path)
}

fn write_all_vectored(mut file: &File, slices: &[IoSlice<'_>]) -> io::Result<()> {
    let mut owned: Vec<IoSlice<'_>> = slices.to_vec();
    let mut bufs = owned.as_mut_slice();
    while !bufs.is_empty() {
        match file.write_vectored(bufs) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => IoSlice::advance_slices(&mut bufs, n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}
