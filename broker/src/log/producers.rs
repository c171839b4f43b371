//! Idempotent producers: per partition, the last five batches of each producer id, so a retried
//! batch is answered as a duplicate and a gap in sequence numbers is refused. The state is
//! rebuilt from batch headers, starting from a snapshot written at roll and at clean shutdown.

use std::collections::{HashMap, VecDeque};
use std::fs;
use std::io;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::batch::BatchHeader;

/// Batches remembered per producer, as in Kafka.
const REMEMBERED: usize = 5;
const SNAPSHOT: &str = "producers.snapshot";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
struct Remembered {
    first_seq: i32,
    last_seq: i32,
    base_offset: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct Producer {
    epoch: i16,
    batches: VecDeque<Remembered>,
}

/// What the producer table says about a batch before it is appended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Append it.
    Append,
    /// Already in the log at this base offset: answer without appending again.
    Duplicate(i64),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SequenceError {
    #[error("producer {producer_id}: expected sequence {expected}, got {got}")]
    OutOfOrder {
        producer_id: i64,
        expected: i32,
        got: i32,
    },
    #[error("producer {producer_id}: epoch {got} is older than the current epoch {current}")]
    StaleEpoch {
        producer_id: i64,
        got: i16,
        current: i16,
    },
}

#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Producers {
    producers: HashMap<i64, Producer>,
    /// The log offset up to which this state is complete.
    pub covered_to: i64,
}

fn last_seq(header: &BatchHeader) -> i32 {
    header.base_sequence.wrapping_add(header.last_offset_delta) & i32::MAX
}

impl Producers {
    /// Checks a batch against its producer's history.
    pub fn check(&self, header: &BatchHeader) -> Result<Verdict, SequenceError> {
        if header.producer_id < 0 {
            return Ok(Verdict::Append);
        }
        let Some(producer) = self.producers.get(&header.producer_id) else {
            return Ok(Verdict::Append);
        };
        let (pid, epoch, seq) = (
            header.producer_id,
            header.producer_epoch,
            header.base_sequence,
        );
        if epoch < producer.epoch {
            return Err(SequenceError::StaleEpoch {
                producer_id: pid,
                got: epoch,
                current: producer.epoch,
            });
        }
        if epoch > producer.epoch {
            return if seq == 0 {
                Ok(Verdict::Append)
            } else {
                Err(SequenceError::OutOfOrder {
                    producer_id: pid,
                    expected: 0,
                    got: seq,
                })
            };
        }
        if let Some(b) = producer
            .batches
            .iter()
            .find(|b| b.first_seq == seq && b.last_seq == last_seq(header))
        {
            return Ok(Verdict::Duplicate(b.base_offset));
        }
        let expected = producer
            .batches
            .back()
            .map_or(seq, |b| b.last_seq.wrapping_add(1) & i32::MAX);
        if seq != expected {
            return Err(SequenceError::OutOfOrder {
                producer_id: pid,
                expected,
                got: seq,
            });
        }
        Ok(Verdict::Append)
    }

    /// Records a batch that is now in the log (stored header, with its real base offset).
    pub fn record(&mut self, header: &BatchHeader) {
        self.covered_to = self.covered_to.max(header.next_offset());
        if header.producer_id < 0 || header.base_sequence < 0 {
            return;
        }
        let producer = self.producers.entry(header.producer_id).or_default();
        if header.producer_epoch != producer.epoch {
            producer.batches.clear();
            producer.epoch = header.producer_epoch;
        }
        producer.batches.push_back(Remembered {
            first_seq: header.base_sequence,
            last_seq: last_seq(header),
            base_offset: header.base_offset,
        });
        while producer.batches.len() > REMEMBERED {
            producer.batches.pop_front();
        }
    }

    /// Writes the table to `<dir>/producers.snapshot` (temp file, fsync, rename).
    pub fn save(&self, dir: &Path) -> io::Result<()> {
        let json = serde_json::to_vec(self).map_err(io::Error::other)?;
        super::replace_file(dir, SNAPSHOT, &json)
    }

    /// Reads the snapshot, if there is a usable one.
    pub fn load(dir: &Path) -> Option<Self> {
        let bytes = fs::read(dir.join(SNAPSHOT)).ok()?;
        serde_json::from_slice(&bytes)
            .map_err(|e| tracing::warn!(dir = %dir.display(), error = %e, "ignoring unreadable producer snapshot"))
            .ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(pid: i64, epoch: i16, seq: i32, count: i32, base: i64) -> BatchHeader {
        BatchHeader {
            base_offset: base,
            batch_length: 100,
            magic: 2,
            crc: 0,
            attributes: 0,
            last_offset_delta: count - 1,
            base_timestamp: 0,
            max_timestamp: 0,
            producer_id: pid,
            producer_epoch: epoch,
            base_sequence: seq,
            record_count: count,
        }
    }

    #[test]
    fn retries_are_duplicates_and_gaps_are_refused() {
        let mut p = Producers::default();
        let first = header(7, 0, 0, 3, 10);
        assert_eq!(p.check(&first), Ok(Verdict::Append));
        p.record(&first);
        assert_eq!(p.check(&header(7, 0, 0, 3, 0)), Ok(Verdict::Duplicate(10)));
        assert!(matches!(
            p.check(&header(7, 0, 5, 1, 0)),
            Err(SequenceError::OutOfOrder { expected: 3, .. })
        ));
        assert_eq!(p.check(&header(7, 0, 3, 2, 0)), Ok(Verdict::Append));
        p.record(&header(7, 1, 0, 1, 13));
        assert!(matches!(
            p.check(&header(7, 0, 3, 1, 0)),
            Err(SequenceError::StaleEpoch { .. })
        ));
        assert!(matches!(
            p.check(&header(7, 2, 4, 1, 0)),
            Err(SequenceError::OutOfOrder { .. })
        ));
        assert_eq!(
            p.check(&header(8, 0, 99, 1, 0)),
            Ok(Verdict::Append),
            "an unknown producer starts anywhere"
        );
        assert_eq!(p.check(&header(-1, -1, -1, 1, 0)), Ok(Verdict::Append));
    }

    #[test]
    fn only_the_last_five_batches_are_remembered() {
        let mut p = Producers::default();
        for i in 0..7 {
            p.record(&header(1, 0, i, 1, i64::from(i)));
        }
        assert_eq!(p.check(&header(1, 0, 6, 1, 0)), Ok(Verdict::Duplicate(6)));
        assert_eq!(p.check(&header(1, 0, 2, 1, 0)), Ok(Verdict::Duplicate(2)));
        assert!(p.check(&header(1, 0, 1, 1, 0)).is_err());
    }

    #[test]
    fn snapshots_round_trip() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut p = Producers::default();
        p.record(&header(3, 2, 0, 4, 100));
        p.save(dir.path()).expect("save");
        assert_eq!(Producers::load(dir.path()), Some(p));
    }
}
