//! The on-disk log: segments of RecordBatch v2 bytes, sparse indexes, recovery and retention.

pub mod batch;
pub mod compaction;
pub mod index;
pub mod partition;
pub mod producers;
pub mod recovery_point;
pub mod segment;
pub mod validate;

#[cfg(test)]
mod model_tests;

#[cfg(test)]
mod compaction_tests;

pub use partition::{
    AppendError, LogPolicy, OpenReport, OutOfRange, PartitionLog, ReadError, ReadStart, Region,
    SyncTarget,
};

use std::io;
use std::path::Path;

/// Replaces `<dir>/<name>` with `contents` so that a crash leaves either the old file or the new
/// one whole: written beside it, fsynced, then renamed over it.
pub(crate) fn replace_file(dir: &Path, name: &str, contents: &[u8]) -> io::Result<()> {
    let tmp = dir.join(format!("{name}.tmp"));
    std::fs::write(&tmp, contents)?;
    std::fs::File::open(&tmp)?.sync_all()?;
    std::fs::rename(&tmp, dir.join(name))
}
