//! The on-disk log: segments of RecordBatch v2 bytes, sparse indexes, recovery and retention.

pub mod batch;
pub mod compaction;
pub mod index;
pub mod partition;
pub mod producers;
pub mod segment;
pub mod validate;

#[cfg(test)]
mod model_tests;

#[cfg(test)]
mod compaction_tests;

pub use partition::{
    AppendError, LogPolicy, OpenReport, OutOfRange, PartitionLog, ReadError, ReadStart, Region,
};
