//! Where a sink's consumer starts on each partition it is assigned. Left to itself, librdkafka
//! looks the group's committed offsets up after the assignment and, for a partition with none,
//! waits a fixed 100 ms before asking where `auto.offset.reset` points: every new sink connector
//! paid that before its first record. The sink's consumer context looks the committed offsets up
//! itself and assigns each partition its exact start. Before partitions are taken away it has the
//! runner commit what the task put of them, and it tells the runner which partitions went.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext, RebalanceProtocol};
use rdkafka::error::KafkaError;
use rdkafka::types::RDKafkaRespErr;
use rdkafka::{ClientContext, Offset, TopicPartitionList};
use sluice_connect_api::TopicPartition;

use crate::blocking::off_runtime;
use crate::client_errors;

/// How long an assignment waits for the committed offsets before leaving the lookup to
/// librdkafka (which then does it itself).
const COMMITTED_TIMEOUT: Duration = Duration::from_secs(10);

/// The context of a sink's consumer: errors as `ExpectedErrors` reports them, and assignments
/// that start each partition where the group left it or where `auto.offset.reset` points.
pub struct SinkConsumerContext {
    /// Where a partition the group never committed starts; `None` leaves it to librdkafka
    /// (`auto.offset.reset=none`: a consumer error, as in Kafka).
    reset: Option<Offset>,
    /// Partitions taken from this consumer since the runner last looked: the runner forgets
    /// what it read of them, so that it never commits over their new owner's progress.
    revoked: Mutex<Vec<TopicPartition>>,
    any_revoked: AtomicBool,
    /// Asked, before partitions are revoked, for the offsets to commit for them.
    before_revoke: Mutex<Option<RevokeHook>>,
}

/// Flushes the task for partitions about to be revoked and answers the offsets to commit for
/// them (none when there is nothing new, or the task did not answer in time).
pub type RevokeHook = Box<dyn Fn(&[TopicPartition]) -> BTreeMap<TopicPartition, i64> + Send + Sync>;

impl SinkConsumerContext {
    /// For a consumer configured with this `auto.offset.reset` value.
    pub fn new(auto_offset_reset: &str) -> Self {
        Self {
            reset: reset_offset(auto_offset_reset),
            revoked: Mutex::new(Vec::new()),
            any_revoked: AtomicBool::new(false),
            before_revoke: Mutex::new(None),
        }
    }

    /// From now on, partitions about to be revoked are committed as `hook` answers.
    pub fn commit_before_revoke(&self, hook: RevokeHook) {
        *self.before_revoke.lock().unwrap_or_else(|p| p.into_inner()) = Some(hook);
    }

    /// Once the task is stopped there is nothing more to flush: closing the consumer revokes
    /// without asking it.
    pub fn stop_committing_before_revoke(&self) {
        *self.before_revoke.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }

    /// Commits what the hook answers for the partitions in `tpl`, while this member's
    /// generation still owns them. A failure is logged: their next owner reads those records
    /// again, as it would have without this commit.
    fn commit_revoked(&self, consumer: &BaseConsumer<Self>, tpl: &TopicPartitionList) {
        let hook = self.before_revoke.lock().unwrap_or_else(|p| p.into_inner());
        let Some(hook) = hook.as_ref() else {
            return;
        };
        let offsets = hook(&partitions_of(tpl));
        if offsets.is_empty() {
            return;
        }
        let committed =
            offset_list(&offsets).and_then(|list| consumer.commit(&list, CommitMode::Sync));
        if let Err(e) = committed {
            tracing::warn!(error = %e, "committing partitions before they were revoked failed; their next owner reads again what was put since the last commit");
        }
    }

    /// The partitions revoked since the last call. Asked after every poll: the common answer,
    /// none, costs one atomic load.
    pub fn take_revoked(&self) -> Vec<TopicPartition> {
        if !self.any_revoked.load(Ordering::Relaxed)
            || !self.any_revoked.swap(false, Ordering::Acquire)
        {
            return Vec::new();
        }
        std::mem::take(&mut *self.revoked.lock().unwrap_or_else(|p| p.into_inner()))
    }

    fn note_revoked(&self, tpl: &TopicPartitionList) {
        self.revoked
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend(partitions_of(tpl));
        self.any_revoked.store(true, Ordering::Release);
    }
}

/// Offsets to commit, as librdkafka takes them.
pub fn offset_list(
    offsets: &BTreeMap<TopicPartition, i64>,
) -> Result<TopicPartitionList, KafkaError> {
    let mut list = TopicPartitionList::new();
    for ((topic, partition), offset) in offsets {
        list.add_partition_offset(topic, *partition, Offset::Offset(*offset))?;
    }
    Ok(list)
}

fn partitions_of(tpl: &TopicPartitionList) -> Vec<TopicPartition> {
    tpl.elements()
        .iter()
        .map(|e| (e.topic().to_string(), e.partition()))
        .collect()
}

/// The start an `auto.offset.reset` value names, in Kafka's words or librdkafka's.
fn reset_offset(setting: &str) -> Option<Offset> {
    match setting.trim().to_ascii_lowercase().as_str() {
        "earliest" | "smallest" | "beginning" => Some(Offset::Beginning),
        "latest" | "largest" | "end" => Some(Offset::End),
        _ => None,
    }
}

/// Sets each assigned partition's start: its committed offset, else `reset`. A partition the
/// lookup did not answer for keeps what it had, for librdkafka to resolve. In place: the list
/// librdkafka hands a rebalance belongs to librdkafka.
fn set_starts(
    assigned: &mut TopicPartitionList,
    committed: &TopicPartitionList,
    reset: Option<Offset>,
) {
    let starts: Vec<(String, i32, Offset)> = assigned
        .elements()
        .iter()
        .filter_map(|element| {
            let (topic, partition) = (element.topic(), element.partition());
            let found = committed.find_partition(topic, partition)?;
            found.error().ok()?;
            let start = match found.offset() {
                Offset::Offset(offset) if offset >= 0 => Offset::Offset(offset),
                _ => reset?,
            };
            Some((topic.to_string(), partition, start))
        })
        .collect();
    for (topic, partition, start) in starts {
        // Only fails for a partition not in the list, which it is.
        let _ = assigned.set_partition_offset(&topic, partition, start);
    }
}

impl ClientContext for SinkConsumerContext {
    fn error(&self, error: KafkaError, reason: &str) {
        client_errors::report(error, reason);
    }
}

impl ConsumerContext for SinkConsumerContext {
    fn rebalance(
        &self,
        consumer: &BaseConsumer<Self>,
        err: RDKafkaRespErr,
        tpl: &mut TopicPartitionList,
    ) {
        // The callback runs in the consumer's poll, on a thread of the worker's runtime, and
        // waits: up to COMMITTED_TIMEOUT for committed offsets, up to the task's flush before a
        // revocation. Meanwhile the runtime's other tasks move to another thread.
        off_runtime(|| self.apply_rebalance(consumer, err, tpl))
    }
}

impl SinkConsumerContext {
    fn apply_rebalance(
        &self,
        consumer: &BaseConsumer<Self>,
        err: RDKafkaRespErr,
        tpl: &mut TopicPartitionList,
    ) {
        let cooperative = matches!(
            consumer.rebalance_protocol(),
            RebalanceProtocol::Cooperative
        );
        let applied = match err {
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS => {
                match consumer.committed_offsets(tpl.clone(), COMMITTED_TIMEOUT) {
                    Ok(committed) => set_starts(tpl, &committed, self.reset),
                    Err(e) => {
                        tracing::info!(error = %e, "looking up committed offsets for an assignment failed; the consumer looks them up itself")
                    }
                }
                if cooperative {
                    consumer.incremental_assign(tpl)
                } else {
                    consumer.assign(tpl)
                }
            }
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS => {
                self.commit_revoked(consumer, tpl);
                self.note_revoked(tpl);
                if cooperative {
                    consumer.incremental_unassign(tpl)
                } else {
                    consumer.unassign()
                }
            }
            other => {
                // As rdkafka's default: a failed rebalance leaves the consumer unassigned.
                tracing::error!(error = ?other, "a sink's consumer group rebalance failed");
                consumer.unassign()
            }
        };
        if let Err(e) = applied {
            tracing::error!(error = %e, "applying a sink's partition assignment failed");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(entries: &[(&str, i32, Offset)]) -> TopicPartitionList {
        let mut tpl = TopicPartitionList::new();
        for (topic, partition, offset) in entries {
            tpl.add_partition_offset(topic, *partition, *offset)
                .expect("offset");
        }
        tpl
    }

    fn starting_offsets(
        assigned: &TopicPartitionList,
        committed: &TopicPartitionList,
        reset: Option<Offset>,
    ) -> TopicPartitionList {
        let mut starts = assigned.clone();
        set_starts(&mut starts, committed, reset);
        starts
    }

    fn starts(tpl: &TopicPartitionList) -> Vec<(String, i32, Offset)> {
        tpl.elements()
            .iter()
            .map(|e| (e.topic().to_string(), e.partition(), e.offset()))
            .collect()
    }

    #[test]
    fn committed_partitions_resume_and_the_others_start_where_the_reset_points() {
        let assigned = list(&[
            ("a", 0, Offset::Invalid),
            ("a", 1, Offset::Invalid),
            ("b", 0, Offset::Invalid),
        ]);
        let committed = list(&[
            ("a", 0, Offset::Offset(42)),
            ("a", 1, Offset::Invalid),
            ("b", 0, Offset::Invalid),
        ]);
        assert_eq!(
            starts(&starting_offsets(
                &assigned,
                &committed,
                reset_offset("earliest")
            )),
            vec![
                ("a".to_string(), 0, Offset::Offset(42)),
                ("a".to_string(), 1, Offset::Beginning),
                ("b".to_string(), 0, Offset::Beginning),
            ]
        );
        assert_eq!(
            starts(&starting_offsets(
                &assigned,
                &committed,
                reset_offset("latest")
            ))[1],
            ("a".to_string(), 1, Offset::End)
        );
    }

    #[test]
    fn without_a_reset_or_an_answer_librdkafka_decides() {
        let assigned = list(&[("a", 0, Offset::Invalid), ("a", 1, Offset::Invalid)]);
        let committed = list(&[("a", 0, Offset::Invalid)]);
        assert_eq!(reset_offset("none"), None);
        assert_eq!(
            starts(&starting_offsets(&assigned, &committed, None)),
            starts(&assigned),
            "auto.offset.reset=none: no start is made up"
        );
        // A partition the lookup did not answer for is left alone.
        let started = starts(&starting_offsets(
            &assigned,
            &committed,
            reset_offset("earliest"),
        ));
        assert_eq!(started[0], ("a".to_string(), 0, Offset::Beginning));
        assert_eq!(started[1], ("a".to_string(), 1, Offset::Invalid));
    }

    #[test]
    fn reset_names_are_read_in_kafka_and_librdkafka_words() {
        for (name, offset) in [
            ("earliest", Some(Offset::Beginning)),
            ("smallest", Some(Offset::Beginning)),
            (" Latest ", Some(Offset::End)),
            ("largest", Some(Offset::End)),
            ("none", None),
            ("error", None),
        ] {
            assert_eq!(reset_offset(name), offset, "{name}");
        }
    }
}
