//! What a sink task has put, per partition, and what its group last committed. Shared by the
//! runner, the task's thread (which records a put the moment it returns) and the consumer's
//! rebalance callback (which commits a partition's share before the group takes it away, as
//! Kafka Connect does in `onPartitionsRevoked`).

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard};

use sluice_connect_api::TopicPartition;

#[derive(Default)]
pub struct SinkProgress {
    offsets: Mutex<Offsets>,
}

#[derive(Default)]
struct Offsets {
    /// Next offset to read, per partition, for everything put so far.
    put: BTreeMap<TopicPartition, i64>,
    /// The offsets the last commit sent: a periodic commit that would send them again is
    /// skipped, as Kafka Connect skips it.
    committed: BTreeMap<TopicPartition, i64>,
}

impl SinkProgress {
    fn offsets(&self) -> MutexGuard<'_, Offsets> {
        self.offsets.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records that everything before these offsets has been put.
    pub fn record_put(&self, offsets: &[(TopicPartition, i64)]) {
        let mut all = self.offsets();
        for (partition, next) in offsets {
            all.put.insert(partition.clone(), *next);
        }
    }

    /// Everything put so far, for a commit.
    pub fn put(&self) -> BTreeMap<TopicPartition, i64> {
        self.offsets().put.clone()
    }

    /// What was put of `partitions` since their last commit.
    pub fn uncommitted(&self, partitions: &[TopicPartition]) -> BTreeMap<TopicPartition, i64> {
        let all = self.offsets();
        partitions
            .iter()
            .filter_map(|partition| {
                let next = *all.put.get(partition)?;
                (all.committed.get(partition) != Some(&next)).then(|| (partition.clone(), next))
            })
            .collect()
    }

    pub fn is_committed(&self, offsets: &BTreeMap<TopicPartition, i64>) -> bool {
        self.offsets().committed == *offsets
    }

    pub fn note_committed(&self, offsets: BTreeMap<TopicPartition, i64>) {
        self.offsets().committed = offsets;
    }

    /// Forgets partitions the group took away: committing what this task last put of them
    /// would rewind their new owner's progress.
    pub fn forget(&self, partitions: &[TopicPartition]) {
        let mut all = self.offsets();
        for partition in partitions {
            all.put.remove(partition);
            all.committed.remove(partition);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tp(partition: i32) -> TopicPartition {
        ("t".to_string(), partition)
    }

    #[test]
    fn only_what_was_put_since_the_last_commit_is_uncommitted() {
        let progress = SinkProgress::default();
        progress.record_put(&[(tp(0), 10), (tp(1), 20)]);
        progress.note_committed(progress.put());
        progress.record_put(&[(tp(1), 25)]);
        assert_eq!(
            progress.uncommitted(&[tp(0), tp(1), tp(2)]),
            BTreeMap::from([(tp(1), 25)])
        );
        progress.forget(&[tp(1)]);
        assert_eq!(progress.put(), BTreeMap::from([(tp(0), 10)]));
        assert!(progress.uncommitted(&[tp(1)]).is_empty());
    }
}
