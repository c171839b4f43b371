//! The recovery point: how much of a partition's active segment an fsync has put on disk. After a
//! crash the batches before it are walked by their headers alone and only those after it are read
//! and CRC-checked, so a restart costs what was unflushed rather than the whole active segment
//! (Kafka's `recovery-point-offset-checkpoint`, kept per partition and by byte position).

use std::io;
use std::path::Path;

use super::segment::Segment;

const FILE: &str = "recovery-point.checkpoint";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecoveryPoint {
    /// Base offset of the segment the point lies in.
    pub segment_base: i64,
    /// Bytes from the start of that segment that were fsynced.
    pub position: u64,
}

impl RecoveryPoint {
    /// Writes the point to `<dir>/recovery-point.checkpoint` (temp file, fsync, rename).
    pub fn save(&self, dir: &Path) -> io::Result<()> {
        super::replace_file(
            dir,
            FILE,
            format!("{} {}\n", self.segment_base, self.position).as_bytes(),
        )
    }

    /// The saved point, if there is a readable one; anything else means "trust nothing".
    pub fn load(dir: &Path) -> Option<Self> {
        let text = std::fs::read_to_string(dir.join(FILE)).ok()?;
        let (base, position) = text.trim().split_once(' ')?;
        Some(Self {
            segment_base: base.parse().ok()?,
            position: position.parse().ok()?,
        })
    }

    /// The whole of `segment` as it stands.
    pub fn end_of(segment: &Segment) -> Self {
        Self {
            segment_base: segment.base_offset,
            position: segment.size,
        }
    }

    /// How many bytes at the start of the segment based at `segment_base` the point covers.
    pub fn trusted_bytes(point: Option<Self>, segment_base: i64) -> u64 {
        point
            .filter(|p| p.segment_base == segment_base)
            .map_or(0, |p| p.position)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_saved_point_loads_back_and_a_damaged_file_trusts_nothing() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert_eq!(RecoveryPoint::load(dir.path()), None);
        let point = RecoveryPoint {
            segment_base: 42,
            position: 4096,
        };
        point.save(dir.path()).expect("save");
        assert_eq!(RecoveryPoint::load(dir.path()), Some(point));
        assert_eq!(RecoveryPoint::trusted_bytes(Some(point), 42), 4096);
        assert_eq!(RecoveryPoint::trusted_bytes(Some(point), 100), 0);
        for damaged in ["", "42", "42 x", "x 4096", "42 -1"] {
            std::fs::write(dir.path().join(FILE), damaged).expect("write");
            assert_eq!(RecoveryPoint::load(dir.path()), None, "{damaged:?}");
        }
    }
}
